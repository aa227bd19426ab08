/*
 * NAME
 *	cmd_compile.c - tlsmaps compile: the table as a native MTA map
 * SUMMARY
 *	tlsmaps compile --format FORMAT [--strict] [--default-level LEVEL]
 *		[--no-tls-clt] [--on-tls-failure defer|gateway]
 *		[--backup-transport VALUE] TABLE...
 * DESCRIPTION
 *	Writes the map source to stdout; entries the format cannot express
 *	are listed on stderr (never dropped silently). FORMAT is one of
 *	postfix-policy (smtp_tls_policy_maps, for postmap), postfix-client-cidr
 *	(a cidr: table for check_client_access) and sendmail-access (access
 *	map entries TLS_Rcpt:, TLS_Srv:, TLS_Clt:, for makemap) and
 *	postfix-transport (transport_maps: the on_tls_failure=gateway
 *	destinations to the backup transport, for postmap). The mapping
 *	rules are in compile_postfix.c, tlsmaps_sendmail.c and docs/COMPILE.md.
 *	--no-tls-clt (sendmail-access only) leaves the TLS_Clt lines out.
 *	--on-tls-failure is the table's default (tables.on_tls_failure),
 *	--backup-transport (postfix-transport only) the transport(5) value of
 *	the backup route, "forcetls-backup:" by default.
 * DIAGNOSTICS
 *	Exit 0 on success, 1 on table errors (or with --strict when some entry
 *	could not be expressed), 2 on usage or write errors.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "compile.h"

static const struct {
	const char *name;
	int (*fn)(const tlsmaps_table *, FILE *, FILE *);
} formats[] = {
        {"postfix-policy", compile_postfix_policy},
        {"postfix-client-cidr", compile_postfix_client_cidr},
        {"sendmail-access", compile_sendmail_access},
        {"postfix-transport", NULL}, /* takes the backup transport */
};

static int tlsfail_arg(const char *arg, tlsmaps_tls_failure *f)
{
	if (strcmp(arg, "defer") == 0 || strcmp(arg, "gateway") == 0) {
		*f = arg[0] == 'g' ? TLSMAPS_TLSFAIL_GATEWAY : TLSMAPS_TLSFAIL_DEFER;
		return 0;
	}
	fprintf(stderr, "tlsmaps: --on-tls-failure: expected defer or gateway, not \"%s\"\n", arg);
	return -1;
}

/* A transport(5) value TRANSPORT:NEXTHOP, as policyd.backup_transport. */
static int backup_arg(const char *arg)
{
	if (*arg != '\0' && *arg != ':' && strchr(arg, ':') != NULL &&
	    strpbrk(arg, " \t\r\n") == NULL)
		return 0;
	fprintf(stderr, "tlsmaps: --backup-transport: expected TRANSPORT:NEXTHOP, not \"%s\"\n",
	        arg);
	return -1;
}

/* The index of format in formats[], checking the options that belong to one format. */
static int pick_format(const char *format, int no_clt, int backup, size_t *f)
{
	size_t nformats = sizeof(formats) / sizeof(formats[0]);

	for (*f = 0; *f < nformats; (*f)++)
		if (strcmp(format, formats[*f].name) == 0)
			break;
	if (*f == nformats) {
		fprintf(stderr, "tlsmaps: unknown format \"%s\"\n", format);
		return -1;
	}
	if (no_clt && formats[*f].fn != compile_sendmail_access) {
		fputs("tlsmaps: --no-tls-clt is for --format sendmail-access\n", stderr);
		return -1;
	}
	if (backup && formats[*f].fn != NULL) {
		fputs("tlsmaps: --backup-transport is for --format postfix-transport\n", stderr);
		return -1;
	}
	return 0;
}

int cmd_compile(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"format", required_argument, NULL, 'f'},
	        {"strict", no_argument, NULL, 's'},
	        {"default-level", required_argument, NULL, 'l'},
	        {"no-tls-clt", no_argument, NULL, 'C'},
	        {"on-tls-failure", required_argument, NULL, 'F'},
	        {"backup-transport", required_argument, NULL, 'B'},
	        {NULL, 0, NULL, 0},
	};
	tlsmaps_level level = TLSMAPS_LEVEL_ENCRYPT;
	tlsmaps_tls_failure tlsfail = TLSMAPS_TLSFAIL_DEFER;
	const char *format = NULL, *backup = NULL;
	size_t f;
	int strict = 0, no_clt = 0, opt, n;
	tlsmaps_table *t;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:sl:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			format = optarg;
			break;
		case 's':
			strict = 1;
			break;
		case 'C':
			no_clt = 1;
			break;
		case 'F':
			if (tlsfail_arg(optarg, &tlsfail) < 0)
				return EXIT_USAGE;
			break;
		case 'B':
			if (backup_arg(optarg) < 0)
				return EXIT_USAGE;
			backup = optarg;
			break;
		case 'l':
			if (cli_level_arg(optarg, &level) < 0)
				return EXIT_USAGE;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (format == NULL || optind >= argc) {
		fputs("usage: tlsmaps compile --format postfix-policy|postfix-client-cidr|"
		      "postfix-transport|sendmail-access [--strict] [--no-tls-clt]\n"
		      "\t[--on-tls-failure defer|gateway] [--backup-transport VALUE] TABLE...\n",
		      stderr);
		return EXIT_USAGE;
	}
	if (pick_format(format, no_clt, backup != NULL, &f) < 0)
		return EXIT_USAGE;
	if ((t = cli_load_tlsfail(argv + optind, (size_t)(argc - optind), level, tlsfail)) == NULL)
		return 1;
	if (formats[f].fn == NULL)
		n = compile_postfix_transport(t, backup ? backup : "forcetls-backup:", stdout,
		                              stderr);
	else
		n = no_clt ? compile_sendmail_access_opts(t, 1, stdout, stderr)
		           : formats[f].fn(t, stdout, stderr);
	tlsmaps_table_free(t);
	if (n < 0 || fflush(stdout) != 0) {
		perror("tlsmaps: write");
		return EXIT_USAGE;
	}
	if (n > 0)
		fprintf(stderr, "tlsmaps: %d entr%s not (fully) expressible in %s\n", n,
		        n == 1 ? "y" : "ies", format);
	return strict && n > 0 ? 1 : 0;
}
