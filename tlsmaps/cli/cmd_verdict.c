/*
 * NAME
 *	cmd_verdict.c - tlsmaps verdict: what both daemons decide for a session
 * SUMMARY
 *	tlsmaps verdict [--default-level LEVEL] TABLE SESSION...|-
 * DESCRIPTION
 *	Asks libtlsmaps's decision core, the one forcetls-policyd and
 *	forcetls-milter share, about SMTP sessions described on the command
 *	line or on stdin (one per line; blank lines and lines starting with
 *	'#' are skipped). A session is space-separated NAME=VALUE words:
 *
 *	case=LABEL	printed first (default: "-")
 *	addr=ADDRESS	client address		name=HOST	client name
 *	sender=ADDRESS	envelope sender		tls=PROTOCOL	"" = clear text
 *	bits=N		key size		verified=yes|no	verified certificate
 *	cn=NAME		the certificate's subject CN, as Postfix reports it
 *	dn=DN		the subject DN as Sendmail gives it ({cert_subject},
 *			xtext): its CN is taken (tlsmaps_dn_cn()); a DN that
 *			yields none gives no CN
 *	(cn= and dn= only name the CN; verified=yes says it was verified)
 *	digest=HEX	a certificate digest the MTA gave (up to 4; "" = no cert)
 *	auth=yes|no	authenticated		internal=yes|no	internal client
 *	exempt_internal=yes|no, exempt_authenticated=yes|no (default yes)
 *	rcpt=ADDRESS	ask the outbound recipient question instead
 *
 *	In a VALUE, %XX stands for the byte XX (a space is %20). A word that
 *	is not given is absent (NULL), as when the MTA does not send it.
 *
 *	Output, one line per session: "LABEL<TAB>VERDICT<TAB>ENTRY<TAB>WHY",
 *	VERDICT PASS, REFUSE or TEMP (inbound) or FORCED, NOT_FORCED or ERROR
 *	(rcpt=), ENTRY "KEY (FILE:LINE)" or "-".
 * DIAGNOSTICS
 *	Exit 0 when every session was understood, 2 on a usage error, a table
 *	error or a word this command does not know.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define WORDS_MAX 32

typedef struct {
	tlsmaps_session s;
	tlsmaps_inbound_options o;
	const char *label, *rcpt, *dn;
	int ndigests;
	char dn_cn[256]; /* the CN of dn= */
} session_words;

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

/* Decode %XX in place. */
static void unescape(char *v)
{
	char *o = v;

	for (; *v != '\0'; v++) {
		if (v[0] == '%' && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
			*o++ = (char)(hexval(v[1]) * 16 + hexval(v[2]));
			v += 2;
		} else {
			*o++ = *v;
		}
	}
	*o = '\0';
}

static int yes(const char *v, int *out)
{
	if (strcmp(v, "yes") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

static int one_word(session_words *w, const char *k, const char *v)
{
	tlsmaps_session *s = &w->s;
	const char **strs[] = {&w->label,       &w->rcpt,    &s->client_address,
	                       &s->client_name, &s->sender,  &s->tls_protocol,
	                       &s->key_size,    &s->cert_cn, &w->dn};
	static const char *const strnames[] = {"case", "rcpt", "addr", "name", "sender",
	                                       "tls",  "bits", "cn",   "dn"};
	int *flags[] = {&s->cert_verified, &s->authenticated, &s->internal, &w->o.exempt_internal,
	                &w->o.exempt_authenticated};
	static const char *const flagnames[] = {"verified", "auth", "internal", "exempt_internal",
	                                        "exempt_authenticated"};

	for (size_t i = 0; i < sizeof(strnames) / sizeof(strnames[0]); i++)
		if (strcmp(k, strnames[i]) == 0) {
			*strs[i] = v;
			return 0;
		}
	for (size_t i = 0; i < sizeof(flagnames) / sizeof(flagnames[0]); i++)
		if (strcmp(k, flagnames[i]) == 0)
			return yes(v, flags[i]);
	if (strcmp(k, "digest") == 0 && w->ndigests < TLSMAPS_DIGESTS_MAX) {
		s->digests[w->ndigests++] = v;
		return 0;
	}
	return -1;
}

static void print_entry(const tlsmaps_table *t, tlsmaps_id id)
{
	if (id == TLSMAPS_NO_ID)
		fputs("-", stdout);
	else
		printf("%s (%s:%u)", tlsmaps_entry_key(t, id), tlsmaps_entry_file(t, id),
		       tlsmaps_entry_line(t, id));
}

/* One session line (modified in place). 0, or -1 for a word not understood. */
static int one_session(const tlsmaps_table *t, char *line)
{
	session_words w;
	char *save = NULL;

	memset(&w, 0, sizeof(w));
	tlsmaps_inbound_options_init(&w.o);
	w.label = "-";
	for (char *tok = strtok_r(line, " \t", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '=');

		if (eq == NULL || (*eq = '\0', unescape(eq + 1), one_word(&w, tok, eq + 1)) < 0) {
			fprintf(stderr, "tlsmaps: verdict: %s: unknown word or value\n", tok);
			return -1;
		}
	}
	if (w.dn != NULL) {
		char why[TLSMAPS_WHY_MAX];

		w.s.cert_cn = tlsmaps_dn_cn(w.dn, strlen(w.dn), w.dn_cn, sizeof(w.dn_cn), why,
		                            sizeof(why)) == 0
		                      ? w.dn_cn
		                      : NULL;
	}
	if (w.rcpt != NULL) {
		tlsmaps_rcpt_result r;
		tlsmaps_rcpt_status st = tlsmaps_decide_recipient(t, w.rcpt, strlen(w.rcpt), &r);

		printf("%s\t%s\t", w.label,
		       st == TLSMAPS_RCPT_FORCED       ? "FORCED"
		       : st == TLSMAPS_RCPT_NOT_FORCED ? "NOT_FORCED"
		                                       : "ERROR");
		print_entry(t, r.id);
		printf("\t%s\n", st == TLSMAPS_RCPT_ERROR ? r.reason : r.domain);
	} else {
		tlsmaps_inbound_result r;

		tlsmaps_decide_inbound(t, &w.s, &w.o, &r);
		printf("%s\t%s\t", w.label, tlsmaps_verdict_name(r.verdict));
		print_entry(t, r.id);
		printf("\t%s\n", r.reason);
	}
	return 0;
}

static int sessions_from_stdin(const tlsmaps_table *t)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	while ((n = getline(&line, &cap, stdin)) >= 0) {
		size_t len = (size_t)n;

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (one_session(t, line) < 0)
			rc = -1;
	}
	free(line);
	if (ferror(stdin)) {
		perror("tlsmaps: stdin");
		return -1;
	}
	return rc;
}

int cmd_verdict(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"default-level", required_argument, NULL, 'l'},
	        {NULL, 0, NULL, 0},
	};
	tlsmaps_level level = TLSMAPS_LEVEL_ENCRYPT;
	tlsmaps_table *t;
	int opt, rc = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "l:", longopts, NULL)) != -1) {
		if (opt != 'l' || cli_level_arg(optarg, &level) < 0)
			return EXIT_USAGE;
	}
	if (argc - optind < 2) {
		fputs("usage: tlsmaps verdict [--default-level LEVEL] TABLE SESSION...|-\n",
		      stderr);
		return EXIT_USAGE;
	}
	if ((t = cli_load(argv + optind, 1, level)) == NULL)
		return EXIT_USAGE;
	for (int i = optind + 1; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0) {
			if (sessions_from_stdin(t) < 0)
				rc = EXIT_USAGE;
		} else {
			char *copy = strdup(argv[i]);

			if (copy == NULL || one_session(t, copy) < 0)
				rc = EXIT_USAGE;
			free(copy);
		}
	}
	if (fflush(stdout) != 0) {
		perror("tlsmaps: stdout");
		rc = EXIT_USAGE;
	}
	tlsmaps_table_free(t);
	return rc;
}
