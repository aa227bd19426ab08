/*
 * NAME
 *	unit_util.c - shared helpers for the libtlsmaps unit tests
 * DESCRIPTION
 *	See unit_util.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "unit_util.h"

void unit_select(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--regress") == 0)
		cmocka_set_test_filter("test_regress_*");
	else if (argc > 1 && strcmp(argv[1], "--no-regress") == 0)
		cmocka_set_skip_filter("test_regress_*");
}

void diags_report(void *ctx, const char *file, unsigned line, const char *message)
{
	struct diags *d = ctx;
	struct diag *e;

	if (d->n >= DIAG_MAX) {
		d->dropped++;
		return;
	}
	e = &d->d[d->n++];
	snprintf(e->file, sizeof(e->file), "%s", file ? file : "(null)");
	e->line = line;
	snprintf(e->msg, sizeof(e->msg), "%s", message ? message : "(null)");
}

void diags_print(const struct diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		print_message("  diag: %s:%u: %s\n", d->d[i].file, d->d[i].line, d->d[i].msg);
}

const struct diag *diags_at(const struct diags *d, const char *file, unsigned line)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (d->d[i].line == line && strcmp(d->d[i].file, file) == 0)
			return &d->d[i];
	return NULL;
}

tlsmaps_table *build_table(const char *name, const char *text, const tlsmaps_options *opts,
                           struct diags *d, unsigned *nerrors)
{
	static struct diags scratch;
	tlsmaps_options o;
	tlsmaps_builder *b;

	if (opts)
		o = *opts;
	else
		tlsmaps_options_init(&o);
	if (!d)
		d = &scratch;
	memset(d, 0, sizeof(*d));
	o.report = diags_report;
	o.report_ctx = d;
	b = tlsmaps_builder_new(&o);
	assert_non_null(b);
	assert_int_equal(tlsmaps_builder_add_buffer(b, name, text, strlen(text)), 0);
	return tlsmaps_builder_finish(b, nerrors);
}

tlsmaps_table *build_ok(const char *name, const char *text)
{
	struct diags d;
	unsigned nerrors = 12345;
	tlsmaps_table *t = build_table(name, text, NULL, &d, &nerrors);

	if (!t || nerrors != 0) {
		print_error("table %s should build cleanly (nerrors %u):\n", name, nerrors);
		diags_print(&d);
	}
	assert_non_null(t);
	assert_int_equal(nerrors, 0);
	return t;
}

int contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return n == 0;
}

/* Does s contain the number n not preceded or followed by another digit? */
static int contains_number_after(const char *s, const char *prefix, unsigned n)
{
	char pat[160];
	const char *p;
	size_t len;

	snprintf(pat, sizeof(pat), "%s%u", prefix, n);
	len = strlen(pat);
	for (p = s; (p = strstr(p, pat)) != NULL; p++)
		if (p[len] < '0' || p[len] > '9')
			return 1;
	return 0;
}

int mentions_line(const char *msg, const char *file, unsigned line)
{
	char prefix[140];
	char lower[512];
	size_t i;

	snprintf(prefix, sizeof(prefix), "%s:", file);
	if (contains_number_after(msg, prefix, line))
		return 1;
	for (i = 0; msg[i] && i < sizeof(lower) - 1; i++)
		lower[i] = (char)((msg[i] >= 'A' && msg[i] <= 'Z') ? msg[i] + 32 : msg[i]);
	lower[i] = 0;
	return contains_number_after(lower, "line ", line);
}

tlsmaps_id id_at_line(const tlsmaps_table *t, unsigned line)
{
	size_t i, n = tlsmaps_table_count(t);

	for (i = 0; i < n; i++)
		if (tlsmaps_entry_line(t, (tlsmaps_id)i) == line)
			return (tlsmaps_id)i;
	return TLSMAPS_NO_ID;
}

static long result_line(const tlsmaps_table *t, tlsmaps_status st, tlsmaps_id id)
{
	switch (st) {
	case TLSMAPS_FOUND:
		if (id >= tlsmaps_table_count(t))
			return -2; /* FOUND with a bogus id */
		return (long)tlsmaps_entry_line(t, id);
	case TLSMAPS_NOTFOUND:
		return 0;
	case TLSMAPS_ERROR:
		return -1;
	}
	return -3; /* not a tlsmaps_status */
}

long lookup_name_line(const tlsmaps_table *t, const char *name, unsigned dir)
{
	tlsmaps_id id = TLSMAPS_NO_ID;

	tlsmaps_status st = tlsmaps_lookup_name(t, name, strlen(name), dir, &id);

	return result_line(t, st, id);
}

long lookup_addr_line(const tlsmaps_table *t, const char *addr, unsigned dir)
{
	tlsmaps_addr a;
	tlsmaps_id id = TLSMAPS_NO_ID;
	tlsmaps_status st;

	memset(&a, 0, sizeof(a));
	if (tlsmaps_addr_parse(addr, strlen(addr), &a) != 0) {
		print_error("tlsmaps_addr_parse(\"%s\") failed\n", addr);
		return -4;
	}
	st = tlsmaps_lookup_addr(t, &a, dir, &id);
	return result_line(t, st, id);
}

long lookup_key_line(const tlsmaps_table *t, const char *key, unsigned dir, int nexthop)
{
	tlsmaps_query q;
	tlsmaps_id id = TLSMAPS_NO_ID;
	tlsmaps_status st;
	char why[TLSMAPS_WHY_MAX];

	memset(&q, 0, sizeof(q));
	why[0] = 0;
	if (tlsmaps_query_parse(key, strlen(key), &q, why, sizeof(why)) != 0) {
		print_error("tlsmaps_query_parse(\"%s\") failed: %s\n", key, why);
		return -4;
	}
	if (nexthop)
		st = tlsmaps_lookup_nexthop(t, &q, &id);
	else
		st = tlsmaps_lookup_query(t, &q, dir, &id);
	return result_line(t, st, id);
}

static void check(const char *what, const char *key, unsigned dir, long want, long got,
                  const char *file, int line)
{
	if (got == want)
		return;
	print_error("%s(\"%s\", dir %u): want %s %ld, got %s %ld\n", what, key, dir,
	            want > 0 ? "line" : (want == 0 ? "NOTFOUND" : "ERROR"), want,
	            got > 0 ? "line" : (got == 0 ? "NOTFOUND" : "ERROR/other"), got);
	_fail(file, line);
}

void check_name(const tlsmaps_table *t, const char *name, unsigned dir, long want, const char *file,
                int line)
{
	check("lookup_name", name, dir, want, lookup_name_line(t, name, dir), file, line);
}

void check_addr(const tlsmaps_table *t, const char *addr, unsigned dir, long want, const char *file,
                int line)
{
	check("lookup_addr", addr, dir, want, lookup_addr_line(t, addr, dir), file, line);
}

void check_nexthop(const tlsmaps_table *t, const char *key, long want, const char *file, int line)
{
	check("lookup_nexthop", key, TLSMAPS_DIR_OUT, want, lookup_key_line(t, key, 0, 1), file,
	      line);
}

void check_query(const tlsmaps_table *t, const char *key, unsigned dir, long want, const char *file,
                 int line)
{
	check("lookup_query", key, dir, want, lookup_key_line(t, key, dir, 0), file, line);
}
