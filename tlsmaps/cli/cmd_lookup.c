/*
 * NAME
 *	cmd_lookup.c - tlsmaps lookup: static lookups, as policyd would answer
 * SUMMARY
 *	tlsmaps lookup [--json] [--inbound] [--default-level LEVEL] TABLE KEY...
 *	tlsmaps lookup [options] TABLE -	(keys from stdin, one per line)
 * DESCRIPTION
 *	Each key gives one line "KEY<TAB>POLICY<TAB>FILE:LINE": POLICY is what
 *	forcetls-policyd answers after "OK" (outbound), or "-" and FILE:LINE
 *	"-" when no entry matches. With --inbound the key is a client address,
 *	client hostname or sender domain, and POLICY is "LEVEL min_bits=N".
 *	An outbound entry that hands the message to the encryption gateway when
 *	TLS fails (on_tls_failure=gateway, tlsmaps(5)) gets a fourth column,
 *	"on_tls_failure=gateway": forcetls's own, never sent to Postfix.
 *	No DNS is used: a domain that only address entries would catch (through
 *	its MX hosts) prints "-".
 *
 *	--json prints one JSON object per key and line instead (JSON Lines):
 *	{"key","found","policy","level","entry","direction","min_bits","file",
 *	"line"}, outbound also "on_tls_failure" ("defer" or "gateway"), or
 *	{"key","error"} for a malformed key.
 *
 *	Blank lines on stdin are skipped. A malformed key is reported on
 *	stderr as "tlsmaps: KEY: reason", and the others are still looked up.
 * DIAGNOSTICS
 *	Exit 0 when every key matched, 1 when one did not, 2 on any error.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonw.h"

typedef struct {
	const tlsmaps_table *t;
	unsigned dir;
	int json;
	int missed;
	int errors;
} lookup_ctx;

static const char *dir_name(unsigned dir)
{
	return dir == TLSMAPS_DIR_IN ? "in" : dir == TLSMAPS_DIR_OUT ? "out" : "both";
}

static void print_error(lookup_ctx *c, const char *key, const char *why)
{
	c->errors++;
	fprintf(stderr, "tlsmaps: %s: %s\n", key, why);
	if (c->json) {
		putchar('{');
		jsonw_member_str(stdout, 1, "key", key);
		jsonw_member_str(stdout, 0, "error", why);
		fputs("}\n", stdout);
	}
}

static void one_key(lookup_ctx *c, const char *key, size_t len)
{
	char why[TLSMAPS_WHY_MAX], policy[TLSMAPS_POLICY_MAX];
	tlsmaps_query q;
	tlsmaps_id id;
	tlsmaps_status st;
	tlsmaps_tls_failure backup;

	if (tlsmaps_query_parse(key, len, &q, why, sizeof(why)) < 0) {
		print_error(c, key, why);
		return;
	}
	st = tlsmaps_lookup_query(c->t, &q, c->dir, &id);
	if (st == TLSMAPS_ERROR) {
		print_error(c, key, "lookup error");
		return;
	}
	if (st == TLSMAPS_NOTFOUND) {
		c->missed++;
		if (c->json) {
			putchar('{');
			jsonw_member_str(stdout, 1, "key", key);
			jsonw_member_bool(stdout, 0, "found", 0);
			fputs("}\n", stdout);
		} else {
			printf("%s\t-\t-\n", key);
		}
		return;
	}
	if (c->dir == TLSMAPS_DIR_OUT)
		tlsmaps_policy(c->t, id, policy, sizeof(policy));
	else
		snprintf(policy, sizeof(policy), "%s min_bits=%u",
		         tlsmaps_level_name(tlsmaps_entry_level(c->t, id)),
		         tlsmaps_entry_min_bits(c->t, id));
	backup = c->dir == TLSMAPS_DIR_OUT ? tlsmaps_entry_on_tls_failure(c->t, id)
	                                   : TLSMAPS_TLSFAIL_DEFER;
	if (!c->json) {
		printf("%s\t%s\t%s:%u%s\n", key, policy, tlsmaps_entry_file(c->t, id),
		       tlsmaps_entry_line(c->t, id),
		       backup == TLSMAPS_TLSFAIL_GATEWAY ? "\ton_tls_failure=gateway" : "");
		return;
	}
	putchar('{');
	jsonw_member_str(stdout, 1, "key", key);
	jsonw_member_bool(stdout, 0, "found", 1);
	jsonw_member_str(stdout, 0, "policy", policy);
	jsonw_member_str(stdout, 0, "level", tlsmaps_level_name(tlsmaps_entry_level(c->t, id)));
	jsonw_member_str(stdout, 0, "entry", tlsmaps_entry_key(c->t, id));
	jsonw_member_str(stdout, 0, "direction", dir_name(tlsmaps_entry_direction(c->t, id)));
	jsonw_member_uint(stdout, 0, "min_bits", tlsmaps_entry_min_bits(c->t, id));
	jsonw_member_str(stdout, 0, "file", tlsmaps_entry_file(c->t, id));
	jsonw_member_uint(stdout, 0, "line", tlsmaps_entry_line(c->t, id));
	if (c->dir == TLSMAPS_DIR_OUT)
		jsonw_member_str(stdout, 0, "on_tls_failure", tlsmaps_tls_failure_name(backup));
	fputs("}\n", stdout);
}

static int keys_from_stdin(lookup_ctx *c)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) >= 0) {
		size_t len = (size_t)n;

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		one_key(c, line, len);
	}
	free(line);
	if (ferror(stdin)) {
		perror("tlsmaps: stdin");
		return -1;
	}
	return 0;
}

int cmd_lookup(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"inbound", no_argument, NULL, 'i'},
	        {"default-level", required_argument, NULL, 'l'},
	        {NULL, 0, NULL, 0},
	};
	lookup_ctx c = {NULL, TLSMAPS_DIR_OUT, 0, 0, 0};
	tlsmaps_level level = TLSMAPS_LEVEL_ENCRYPT;
	tlsmaps_table *t;
	int opt, rc = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "jil:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			c.json = 1;
			break;
		case 'i':
			c.dir = TLSMAPS_DIR_IN;
			break;
		case 'l':
			if (cli_level_arg(optarg, &level) < 0)
				return EXIT_USAGE;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind < 2) {
		fputs("usage: tlsmaps lookup [--json] [--inbound] [--default-level LEVEL] "
		      "TABLE KEY...|-\n",
		      stderr);
		return EXIT_USAGE;
	}
	if ((t = cli_load(argv + optind, 1, level)) == NULL)
		return EXIT_USAGE;
	c.t = t;
	for (int i = optind + 1; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0) {
			if (keys_from_stdin(&c) < 0)
				rc = EXIT_USAGE;
		} else {
			one_key(&c, argv[i], strlen(argv[i]));
		}
	}
	if (fflush(stdout) != 0) {
		perror("tlsmaps: stdout");
		rc = EXIT_USAGE;
	}
	tlsmaps_table_free(t);
	if (rc != 0 || c.errors > 0)
		return EXIT_USAGE;
	return c.missed > 0 ? 1 : 0;
}
