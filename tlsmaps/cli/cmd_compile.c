/*
 * NAME
 *	cmd_compile.c - tlsmaps compile: the table as a native MTA map
 * SUMMARY
 *	tlsmaps compile --format FORMAT [--strict] [--default-level LEVEL]
 *		[--no-tls-clt] TABLE...
 * DESCRIPTION
 *	Writes the map source to stdout; entries the format cannot express
 *	are listed on stderr (never dropped silently). FORMAT is one of
 *	postfix-policy (smtp_tls_policy_maps, for postmap), postfix-client-cidr
 *	(a cidr: table for check_client_access) and sendmail-access (access
 *	map entries TLS_Rcpt:, TLS_Srv:, TLS_Clt:, for makemap). The mapping
 *	rules are in compile_postfix.c, tlsmaps_sendmail.c and docs/COMPILE.md.
 *	--no-tls-clt (sendmail-access only) leaves the TLS_Clt lines out.
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
};

int cmd_compile(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"format", required_argument, NULL, 'f'},
	        {"strict", no_argument, NULL, 's'},
	        {"default-level", required_argument, NULL, 'l'},
	        {"no-tls-clt", no_argument, NULL, 'C'},
	        {NULL, 0, NULL, 0},
	};
	tlsmaps_level level = TLSMAPS_LEVEL_ENCRYPT;
	const char *format = NULL;
	size_t f, nformats = sizeof(formats) / sizeof(formats[0]);
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
		      "sendmail-access [--strict] [--no-tls-clt] TABLE...\n",
		      stderr);
		return EXIT_USAGE;
	}
	for (f = 0; f < nformats; f++)
		if (strcmp(format, formats[f].name) == 0)
			break;
	if (f == nformats) {
		fprintf(stderr, "tlsmaps: unknown format \"%s\"\n", format);
		return EXIT_USAGE;
	}
	if (no_clt && formats[f].fn != compile_sendmail_access) {
		fputs("tlsmaps: --no-tls-clt is for --format sendmail-access\n", stderr);
		return EXIT_USAGE;
	}
	if ((t = cli_load(argv + optind, (size_t)(argc - optind), level)) == NULL)
		return 1;
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
