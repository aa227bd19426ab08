/*
 * NAME
 *	cmd_check.c - tlsmaps check: validate tables, report every error
 * SUMMARY
 *	tlsmaps check [--quiet] [--default-level LEVEL] TABLE...
 * DESCRIPTION
 *	All files are loaded as one table, so a key given twice across files
 *	is a duplicate too. Every problem is printed as "FILE:LINE: reason".
 *	On success a one-line summary goes to stdout unless --quiet.
 *	Exit 0 when valid, 1 when not, 2 on usage errors.
 */
#include <getopt.h>

#include "cli.h"

int cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"quiet", no_argument, NULL, 'q'},
	        {"default-level", required_argument, NULL, 'l'},
	        {NULL, 0, NULL, 0},
	};
	tlsmaps_level level = TLSMAPS_LEVEL_ENCRYPT;
	size_t count[4] = {0, 0, 0, 0};
	int quiet = 0, c;
	tlsmaps_table *t;

	optind = 1;
	while ((c = getopt_long(argc, argv, "ql:", longopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quiet = 1;
			break;
		case 'l':
			if (cli_level_arg(optarg, &level) < 0)
				return EXIT_USAGE;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs("usage: tlsmaps check [--quiet] [--default-level LEVEL] TABLE...\n", stderr);
		return EXIT_USAGE;
	}
	if ((t = cli_load(argv + optind, (size_t)(argc - optind), level)) == NULL)
		return 1;
	for (size_t i = 0; i < tlsmaps_table_count(t); i++)
		count[tlsmaps_entry_kind(t, (tlsmaps_id)i)]++;
	if (!quiet)
		printf("%zu entr%s: %zu domain, %zu parent, %zu network, %zu next hop\n",
		       tlsmaps_table_count(t), tlsmaps_table_count(t) == 1 ? "y" : "ies",
		       count[TLSMAPS_KIND_DOMAIN], count[TLSMAPS_KIND_PARENT],
		       count[TLSMAPS_KIND_NETWORK], count[TLSMAPS_KIND_NEXTHOP]);
	tlsmaps_table_free(t);
	return 0;
}
