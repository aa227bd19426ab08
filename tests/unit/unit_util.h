/*
 * NAME
 *	unit_util.h - shared helpers for the libtlsmaps unit tests
 * SUMMARY
 *	#include "unit_util.h"
 * DESCRIPTION
 *	A diagnostics collector for the builder's report callback, table
 *	construction from string literals, and lookups by line number: every
 *	test table is one buffer, so "the entry at line N" names an entry
 *	without depending on load-order ids.
 *
 *	The check_* functions report the caller's file and line on failure
 *	(use the CHECK_* macros).
 * SEE ALSO
 *	tlsmaps.h, SPEC.md sections 2 and 3
 */
#ifndef UNIT_UTIL_H
#define UNIT_UTIL_H

#include <stddef.h>

#include <tlsmaps.h>

#define DIAG_MAX 128

struct diag {
	char file[128];
	unsigned line;
	char msg[512];
};

struct diags {
	size_t n;
	size_t dropped;
	struct diag d[DIAG_MAX];
};

/*
 * Test selection from main()'s arguments: "--regress" runs only the
 * test_regress_* tests (library bugs found and fixed, see their comments),
 * "--no-regress" runs all the others, no argument runs everything.
 */
void unit_select(int argc, char **argv);

/* tlsmaps_report_fn that appends to a struct diags. */
void diags_report(void *ctx, const char *file, unsigned line, const char *message);

/* Print every collected diagnostic (for failure messages). */
void diags_print(const struct diags *d);

/* The first diagnostic at file:line, or NULL. */
const struct diag *diags_at(const struct diags *d, const char *file, unsigned line);

/*
 * Build a table from one buffer named name. d and nerrors may be NULL.
 * opts may be NULL for defaults; its report fields are overridden.
 */
tlsmaps_table *build_table(const char *name, const char *text, const tlsmaps_options *opts,
                           struct diags *d, unsigned *nerrors);

/* As build_table, but fail the test (printing the diagnostics) on any error. */
tlsmaps_table *build_ok(const char *name, const char *text);

/* Case-insensitive substring test. */
int contains_ci(const char *hay, const char *needle);

/* Does msg name line "line" of "file" ("file:line" or "line N")? */
int mentions_line(const char *msg, const char *file, unsigned line);

/* The id of the entry defined at line, or TLSMAPS_NO_ID. */
tlsmaps_id id_at_line(const tlsmaps_table *t, unsigned line);

/* Line of a lookup result: 0 for NOTFOUND, -1 for ERROR. */
long lookup_name_line(const tlsmaps_table *t, const char *name, unsigned dir);
long lookup_addr_line(const tlsmaps_table *t, const char *addr, unsigned dir);
long lookup_key_line(const tlsmaps_table *t, const char *key, unsigned dir, int nexthop);

void check_name(const tlsmaps_table *t, const char *name, unsigned dir, long want, const char *file,
                int line);
void check_addr(const tlsmaps_table *t, const char *addr, unsigned dir, long want, const char *file,
                int line);
void check_nexthop(const tlsmaps_table *t, const char *key, long want, const char *file, int line);
void check_query(const tlsmaps_table *t, const char *key, unsigned dir, long want, const char *file,
                 int line);

/* want: the table line of the expected entry, 0 for NOTFOUND, -1 for ERROR. */
#define CHECK_NAME(t, name, dir, want) check_name(t, name, dir, want, __FILE__, __LINE__)
#define CHECK_ADDR(t, addr, dir, want) check_addr(t, addr, dir, want, __FILE__, __LINE__)
#define CHECK_NEXTHOP(t, key, want) check_nexthop(t, key, want, __FILE__, __LINE__)
#define CHECK_QUERY(t, key, dir, want) check_query(t, key, dir, want, __FILE__, __LINE__)

#endif /* UNIT_UTIL_H */
