/*
 * NAME
 *	cli.h - the tlsmaps(1) subcommands and what they share
 * DESCRIPTION
 *	main.c parses nothing but the subcommand name; each cmd_*.c parses its
 *	own options with getopt_long and returns the exit status.
 *
 *	Exit statuses (tlsmaps(1)): check and compile: 0 valid, 1 table errors,
 *	2 usage or I/O error. lookup: 0 every key matched, 1 some key did not,
 *	2 on any error (table, malformed key, usage).
 */
#ifndef CLI_H
#define CLI_H

#include <stdio.h>

#include "tlsmaps.h"

#define EXIT_USAGE 2

int cmd_check(int argc, char **argv);
int cmd_lookup(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_verdict(int argc, char **argv);

/* Load tables, printing every diagnostic as "FILE:LINE: message" on stderr. */
tlsmaps_table *cli_load(char *const *paths, size_t npaths, tlsmaps_level default_level);
/* ... with the table's on_tls_failure default (tables.on_tls_failure, --on-tls-failure). */
tlsmaps_table *cli_load_tlsfail(char *const *paths, size_t npaths, tlsmaps_level default_level,
                                tlsmaps_tls_failure on_tls_failure);

/* Parse --default-level; prints the error. 0 or -1. */
int cli_level_arg(const char *arg, tlsmaps_level *level);

#endif
