/*
 * NAME
 *	main.c - tlsmaps(1): check, look up and compile forced-TLS tables
 * SUMMARY
 *	tlsmaps check [--default-level LEVEL] TABLE...
 *	tlsmaps lookup [--json] [--inbound] [--default-level LEVEL] TABLE KEY...|-
 *	tlsmaps compile --format FORMAT [--strict] TABLE...
 *	tlsmaps probe [options] TABLE...
 *	tlsmaps verdict [--default-level LEVEL] TABLE SESSION...|-
 *	tlsmaps --version | --help
 * DESCRIPTION
 *	Dispatches to the subcommand; see docs/tlsmaps.1.scd. Diagnostics go
 *	to stderr, results to stdout.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
	fputs("usage: tlsmaps check [--quiet] [--default-level LEVEL] TABLE...\n"
	      "       tlsmaps lookup [--json] [--inbound] [--default-level LEVEL] TABLE KEY...|-\n"
	      "       tlsmaps compile --format postfix-policy|postfix-client-cidr|\n"
	      "                                postfix-transport|sendmail-access\n"
	      "                       [--strict] [--default-level LEVEL] [--no-tls-clt]\n"
	      "                       [--on-tls-failure defer|gateway] [--backup-transport VALUE]\n"
	      "                       TABLE...\n"
	      "       tlsmaps probe [options] TABLE...\n"
	      "       tlsmaps verdict [--default-level LEVEL] TABLE SESSION...|-\n"
	      "       tlsmaps --version\n",
	      f);
}

static void report(void *ctx, const char *file, unsigned line, const char *msg)
{
	(void)ctx;
	if (line > 0)
		fprintf(stderr, "%s:%u: %s\n", file, line, msg);
	else
		fprintf(stderr, "%s: %s\n", file, msg);
}

tlsmaps_table *cli_load(char *const *paths, size_t npaths, tlsmaps_level default_level)
{
	return cli_load_tlsfail(paths, npaths, default_level, TLSMAPS_TLSFAIL_DEFER);
}

tlsmaps_table *cli_load_tlsfail(char *const *paths, size_t npaths, tlsmaps_level default_level,
                                tlsmaps_tls_failure on_tls_failure)
{
	tlsmaps_options opts;
	unsigned nerrors = 0;
	tlsmaps_table *t;

	tlsmaps_options_init(&opts);
	opts.default_level = default_level;
	opts.on_tls_failure = on_tls_failure;
	opts.report = report;
	t = tlsmaps_load((const char *const *)paths, npaths, &opts, &nerrors);
	if (t == NULL)
		fprintf(stderr, "tlsmaps: %u error%s\n", nerrors, nerrors == 1 ? "" : "s");
	return t;
}

int cli_level_arg(const char *arg, tlsmaps_level *level)
{
	if (tlsmaps_level_parse(arg, strlen(arg), level) < 0) {
		fprintf(stderr, "tlsmaps: unknown level \"%s\"\n", arg);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (cmd == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
		printf("tlsmaps %s\n", TLSMAPS_VERSION);
		return 0;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(cmd, "lookup") == 0)
		return cmd_lookup(argc - 1, argv + 1);
	if (strcmp(cmd, "compile") == 0)
		return cmd_compile(argc - 1, argv + 1);
	if (strcmp(cmd, "probe") == 0)
		return cmd_probe(argc - 1, argv + 1);
	if (strcmp(cmd, "verdict") == 0)
		return cmd_verdict(argc - 1, argv + 1);
	fprintf(stderr, "tlsmaps: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
