/*
 * NAME
 *	test_build - unit tests for building libtlsmaps tables
 * DESCRIPTION
 *	Tables from memory buffers (tlsmaps_builder_add_buffer) and files:
 *	every key form of SPEC section 2 and its canonical key, the
 *	PerfectMail-style bare list, comments and blank lines, and every
 *	error kind with its exact FILE:LINE through the report callback
 *	(bad domain, bad address, host bits set with the corrected network
 *	as a hint, unknown level, unknown attribute, malformed attribute
 *	value, min_bits out of 40..256, duplicate keys including equivalent
 *	forms). All errors come in one pass, sorted by line, and
 *	tlsmaps_builder_finish() then returns NULL.
 * SEE ALSO
 *	tlsmaps.h, SPEC.md section 2
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit_util.h"

/* An expected problem: a line, and words its message must contain. */
struct want_err {
	unsigned line;
	const char *words[3];
};

/*
 * Build text as file "name"; expect finish to fail with exactly the errors
 * listed (one per line), each with every word (case-insensitive), and no
 * diagnostic at any other line.
 */
static void expect_errors(const char *name, const char *text, const struct want_err *want,
                          size_t nwant, const char *file, int at)
{
	struct diags d;
	unsigned nerrors = 12345;
	tlsmaps_table *t = build_table(name, text, NULL, &d, &nerrors);
	size_t i, j;
	int bad = 0;

	if (t != NULL) {
		print_error("table %s built, want NULL\n", name);
		tlsmaps_table_free(t);
		bad = 1;
	}
	if (nerrors != nwant) {
		print_error("%s: nerrors %u, want %zu\n", name, nerrors, nwant);
		bad = 1;
	}
	for (i = 0; i < nwant; i++) {
		const struct diag *g = diags_at(&d, name, want[i].line);

		if (g == NULL) {
			print_error("no diagnostic at %s:%u\n", name, want[i].line);
			bad = 1;
			continue;
		}
		for (j = 0; j < 3 && want[i].words[j]; j++) {
			if (!contains_ci(g->msg, want[i].words[j])) {
				print_error("%s:%u: message lacks \"%s\"\n", name, want[i].line,
				            want[i].words[j]);
				bad = 1;
			}
		}
	}
	for (i = 0; i < d.n; i++) {
		for (j = 0; j < nwant; j++)
			if (d.d[i].line == want[j].line && strcmp(d.d[i].file, name) == 0)
				break;
		if (j == nwant) {
			print_error("unexpected diagnostic\n");
			bad = 1;
		}
		if (strcmp(d.d[i].file, name) != 0) {
			print_error("diagnostic names file \"%s\", want \"%s\"\n", d.d[i].file,
			            name);
			bad = 1;
		}
		if (i > 0 && d.d[i].line < d.d[i - 1].line) {
			print_error("diagnostics not sorted by line\n");
			bad = 1;
		}
	}
	if (bad) {
		diags_print(&d);
		_fail(file, at);
	}
}

#define EXPECT_ERRORS(name, text, ...)                                                             \
	do {                                                                                       \
		static const struct want_err w_[] = {__VA_ARGS__};                                 \
		expect_errors(name, text, w_, sizeof(w_) / sizeof(w_[0]), __FILE__, __LINE__);     \
	} while (0)

/* The duplicate at dup_line must name first_line (as "file:N" or "line N"). */
static void expect_dup_names_first(const char *name, const char *text, unsigned dup_line,
                                   const char *first_file, unsigned first_line)
{
	struct diags d;
	unsigned nerrors = 0;
	tlsmaps_table *t = build_table(name, text, NULL, &d, &nerrors);
	const struct diag *g;

	assert_null(t);
	g = diags_at(&d, name, dup_line);
	if (g == NULL || !contains_ci(g->msg, "duplicate") ||
	    !mentions_line(g->msg, first_file, first_line)) {
		print_error("want a duplicate at %s:%u naming %s:%u\n", name, dup_line, first_file,
		            first_line);
		diags_print(&d);
		fail();
	}
}

static void expect_network(const tlsmaps_table *t, unsigned line, const char *addr, unsigned prefix,
                           const char *key)
{
	tlsmaps_id id = id_at_line(t, line);
	tlsmaps_addr a, want;
	unsigned plen = 999;
	char buf[TLSMAPS_ADDR_STR_MAX];
	const char *k;

	if (id == TLSMAPS_NO_ID) {
		print_error("no entry at line %u\n", line);
		fail();
	}
	assert_int_equal(tlsmaps_entry_kind(t, id), TLSMAPS_KIND_NETWORK);
	assert_int_equal(tlsmaps_addr_parse(addr, strlen(addr), &want), 0);
	memset(&a, 0, sizeof(a));
	tlsmaps_entry_network(t, id, &a, &plen);
	if (a.family != want.family || plen != prefix ||
	    memcmp(a.bytes, want.bytes, want.family == 4 ? 4 : 16) != 0) {
		print_error("line %u: network %s/%u, want %s/%u\n", line,
		            (a.family == 4 || a.family == 6)
		                    ? tlsmaps_addr_format(&a, buf, sizeof(buf))
		                    : "?",
		            plen, addr, prefix);
		fail();
	}
	k = tlsmaps_entry_key(t, id);
	assert_non_null(k);
	if (key != NULL) {
		if (strcmp(k, key) != 0) {
			print_error("line %u: key \"%s\", want \"%s\"\n", line, k, key);
			fail();
		}
	} else {
		/* A host: "addr" or "addr/32" (/128) are both canonical enough. */
		char alt[80];

		snprintf(alt, sizeof(alt), "%s/%u", addr, prefix);
		if (strcmp(k, addr) != 0 && strcmp(k, alt) != 0) {
			print_error("line %u: key \"%s\", want \"%s\" or \"%s\"\n", line, k, addr,
			            alt);
			fail();
		}
	}
}

static void expect_entry(const tlsmaps_table *t, unsigned line, tlsmaps_kind kind, const char *key,
                         unsigned port)
{
	tlsmaps_id id = id_at_line(t, line);

	if (id == TLSMAPS_NO_ID) {
		print_error("no entry at line %u\n", line);
		fail();
	}
	if (tlsmaps_entry_kind(t, id) != kind || strcmp(tlsmaps_entry_key(t, id), key) != 0) {
		print_error("line %u: kind %d key \"%s\", want kind %d key \"%s\"\n", line,
		            (int)tlsmaps_entry_kind(t, id), tlsmaps_entry_key(t, id), (int)kind,
		            key);
		fail();
	}
	if (kind == TLSMAPS_KIND_NEXTHOP)
		assert_int_equal(tlsmaps_entry_port(t, id), port);
}

static void test_key_forms(void **state)
{
	static const char text[] = "# every key form of SPEC section 2\n" /* 1 */
	                           "example.com\n"                        /* 2 */
	                           ".example.org\n"                       /* 3 */
	                           "*.example.net\n"                      /* 4 */
	                           "Example.INFO.\n"                      /* 5 */
	                           "192.0.2.7\n"                          /* 6 */
	                           "192.0.2.128/25\n"                     /* 7 */
	                           "2001:db8::1\n"                        /* 8 */
	                           "2001:db8::/32\n"                      /* 9 */
	                           "10.1.2.*\n"                           /* 10 */
	                           "10.2.*\n"                             /* 11 */
	                           "[mx.example.com]\n"                   /* 12 */
	                           "[mx.example.com]:587\n"               /* 13 */
	                           "[192.0.2.7]\n"                        /* 14 */
	                           "[MX.EXAMPLE.NET]:25\n"                /* 15 */
	                           "*.Example.COM.\n"                     /* 16 */
	                           "2001:DB8:1::/48\n"                    /* 17 */
	                           "0.0.0.0/0\n"                          /* 18 */
	                           "::/0\n"                               /* 19 */
	                           "[192.0.2.8]:2525\n"                   /* 20 */
	                           "MAIL.Example.COM\n";                  /* 21 */
	tlsmaps_table *t = build_ok("forms.map", text);

	(void)state;
	assert_int_equal(tlsmaps_table_count(t), 20);
	expect_entry(t, 2, TLSMAPS_KIND_DOMAIN, "example.com", 0);
	expect_entry(t, 3, TLSMAPS_KIND_PARENT, ".example.org", 0);
	expect_entry(t, 4, TLSMAPS_KIND_PARENT, ".example.net", 0);
	expect_entry(t, 5, TLSMAPS_KIND_DOMAIN, "example.info", 0);
	expect_network(t, 6, "192.0.2.7", 32, NULL);
	expect_network(t, 7, "192.0.2.128", 25, "192.0.2.128/25");
	expect_network(t, 8, "2001:db8::1", 128, NULL);
	expect_network(t, 9, "2001:db8::", 32, "2001:db8::/32");
	expect_network(t, 10, "10.1.2.0", 24, "10.1.2.0/24");
	expect_network(t, 11, "10.2.0.0", 16, "10.2.0.0/16");
	expect_entry(t, 12, TLSMAPS_KIND_NEXTHOP, "[mx.example.com]", 0);
	expect_entry(t, 13, TLSMAPS_KIND_NEXTHOP, "[mx.example.com]:587", 587);
	expect_entry(t, 14, TLSMAPS_KIND_NEXTHOP, "[192.0.2.7]", 0);
	expect_entry(t, 15, TLSMAPS_KIND_NEXTHOP, "[mx.example.net]:25", 25);
	expect_entry(t, 16, TLSMAPS_KIND_PARENT, ".example.com", 0);
	expect_network(t, 17, "2001:db8:1::", 48, "2001:db8:1::/48");
	expect_network(t, 18, "0.0.0.0", 0, "0.0.0.0/0");
	expect_network(t, 19, "::", 0, "::/0");
	expect_entry(t, 20, TLSMAPS_KIND_NEXTHOP, "[192.0.2.8]:2525", 2525);
	expect_entry(t, 21, TLSMAPS_KIND_DOMAIN, "mail.example.com", 0);
	tlsmaps_table_free(t);
}

static void test_star_equals_dot(void **state)
{
	tlsmaps_table *a = build_ok("dot.map", ".example.com verify match=nexthop\n");
	tlsmaps_table *b = build_ok("star.map", "*.example.com verify match=nexthop\n");
	char pa[TLSMAPS_POLICY_MAX], pb[TLSMAPS_POLICY_MAX];

	(void)state;
	assert_int_equal(tlsmaps_entry_kind(a, 0), TLSMAPS_KIND_PARENT);
	assert_int_equal(tlsmaps_entry_kind(b, 0), TLSMAPS_KIND_PARENT);
	assert_string_equal(tlsmaps_entry_key(a, 0), tlsmaps_entry_key(b, 0));
	assert_true(tlsmaps_policy(a, 0, pa, sizeof(pa)) > 0);
	assert_true(tlsmaps_policy(b, 0, pb, sizeof(pb)) > 0);
	assert_string_equal(pa, pb);
	/* Subdomains, not the domain itself, for both spellings. */
	CHECK_NAME(a, "mx.example.com", TLSMAPS_DIR_OUT, 1);
	CHECK_NAME(b, "mx.example.com", TLSMAPS_DIR_OUT, 1);
	CHECK_NAME(a, "example.com", TLSMAPS_DIR_OUT, 0);
	CHECK_NAME(b, "example.com", TLSMAPS_DIR_OUT, 0);
	tlsmaps_table_free(a);
	tlsmaps_table_free(b);
}

static void test_octet_wildcards(void **state)
{
	tlsmaps_table *t = build_ok("wild.map", "10.1.2.*\n"     /* 1: /24 */
	                                        "172.16.*\n"     /* 2: /16 */
	                                        "10.1.* may\n"); /* 3: /16 */

	(void)state;
	expect_network(t, 1, "10.1.2.0", 24, "10.1.2.0/24");
	expect_network(t, 2, "172.16.0.0", 16, "172.16.0.0/16");
	expect_network(t, 3, "10.1.0.0", 16, "10.1.0.0/16");
	CHECK_ADDR(t, "10.1.2.255", TLSMAPS_DIR_OUT, 1);
	CHECK_ADDR(t, "10.1.3.0", TLSMAPS_DIR_OUT, 3);
	CHECK_ADDR(t, "172.16.255.1", TLSMAPS_DIR_IN, 2);
	CHECK_ADDR(t, "172.17.0.1", TLSMAPS_DIR_IN, 0);
	tlsmaps_table_free(t);
}

static void test_perfectmail_list(void **state)
{
	static const char text[] = "# PerfectMail Force Encrypt export\n"
	                           "partner.example\n"
	                           ".partner.example\n"
	                           "bank.example\n"
	                           "\n"
	                           "192.0.2.0/24\n"
	                           "198.51.100.7\n"
	                           "2001:db8:5::/48\n";
	tlsmaps_table *t = build_ok("perfectmail.txt", text);
	size_t i;
	char buf[TLSMAPS_POLICY_MAX];
	tlsmaps_id id;

	(void)state;
	assert_int_equal(tlsmaps_table_count(t), 6);
	for (i = 0; i < 6; i++) {
		id = (tlsmaps_id)i;
		assert_int_equal(tlsmaps_entry_level(t, id), TLSMAPS_LEVEL_ENCRYPT);
		assert_int_equal(tlsmaps_entry_direction(t, id), TLSMAPS_DIR_BOTH);
		assert_int_equal(tlsmaps_entry_min_bits(t, id), TLSMAPS_MIN_BITS_DEFAULT);
		assert_false(tlsmaps_entry_min_bits_explicit(t, id));
		assert_string_equal(tlsmaps_entry_attrs(t, id), "");
		assert_string_equal(tlsmaps_entry_file(t, id), "perfectmail.txt");
		assert_int_equal(tlsmaps_policy(t, id, buf, sizeof(buf)), 7);
		assert_string_equal(buf, "encrypt");
	}
	/* ids run in load order; lines count comments and blank lines. */
	assert_int_equal(tlsmaps_entry_line(t, 0), 2);
	assert_int_equal(tlsmaps_entry_line(t, 1), 3);
	assert_int_equal(tlsmaps_entry_line(t, 2), 4);
	assert_int_equal(tlsmaps_entry_line(t, 3), 6);
	assert_int_equal(tlsmaps_entry_line(t, 4), 7);
	assert_int_equal(tlsmaps_entry_line(t, 5), 8);
	assert_string_equal(tlsmaps_entry_key(t, 0), "partner.example");
	assert_string_equal(tlsmaps_entry_key(t, 1), ".partner.example");
	assert_int_equal(tlsmaps_table_network_count(t, TLSMAPS_DIR_OUT), 3);
	assert_int_equal(tlsmaps_table_network_count(t, TLSMAPS_DIR_IN), 3);
	tlsmaps_table_free(t);
}

static void test_comments_blank_lines(void **state)
{
	static const char text[] = "# header comment\n"                        /* 1 */
	                           "\n"                                        /* 2 */
	                           "   # indented comment\n"                   /* 3 */
	                           "\t\n"                                      /* 4 */
	                           "   \n"                                     /* 5 */
	                           "  spaced.example   may  \n"                /* 6 */
	                           "\ttabbed.example\tverify\tmatch=nexthop\n" /* 7 */
	                           "#commented.example\n"                      /* 8 */
	                           "last.example secure";                      /* 9: no newline */
	tlsmaps_table *t = build_ok("comments.map", text);

	(void)state;
	assert_int_equal(tlsmaps_table_count(t), 3);
	expect_entry(t, 6, TLSMAPS_KIND_DOMAIN, "spaced.example", 0);
	expect_entry(t, 7, TLSMAPS_KIND_DOMAIN, "tabbed.example", 0);
	expect_entry(t, 9, TLSMAPS_KIND_DOMAIN, "last.example", 0);
	assert_int_equal(tlsmaps_entry_level(t, id_at_line(t, 6)), TLSMAPS_LEVEL_MAY);
	assert_int_equal(tlsmaps_entry_level(t, id_at_line(t, 7)), TLSMAPS_LEVEL_VERIFY);
	assert_int_equal(tlsmaps_entry_level(t, id_at_line(t, 9)), TLSMAPS_LEVEL_SECURE);
	CHECK_NAME(t, "commented.example", TLSMAPS_DIR_OUT, 0);
	tlsmaps_table_free(t);
}

static void test_empty_tables(void **state)
{
	tlsmaps_table *t;
	tlsmaps_builder *b;
	unsigned nerr = 99;

	(void)state;
	t = build_ok("empty.map", "");
	assert_int_equal(tlsmaps_table_count(t), 0);
	CHECK_NAME(t, "example.com", TLSMAPS_DIR_OUT, 0);
	CHECK_ADDR(t, "192.0.2.1", TLSMAPS_DIR_IN, 0);
	CHECK_NEXTHOP(t, "[mx.example.com]:25", 0);
	tlsmaps_table_free(t);
	t = build_ok("comments-only.map", "# nothing\n\n  # at all\n");
	assert_int_equal(tlsmaps_table_count(t), 0);
	assert_int_equal(tlsmaps_table_network_count(t, TLSMAPS_DIR_OUT), 0);
	tlsmaps_table_free(t);
	/* Default options, nothing added. */
	b = tlsmaps_builder_new(NULL);
	assert_non_null(b);
	t = tlsmaps_builder_finish(b, &nerr);
	assert_non_null(t);
	assert_int_equal(nerr, 0);
	assert_int_equal(tlsmaps_table_count(t), 0);
	tlsmaps_table_free(t);
	/* A builder discarded without building. */
	b = tlsmaps_builder_new(NULL);
	assert_non_null(b);
	assert_int_equal(tlsmaps_builder_add_buffer(b, "x", "a.example\n", 10), 0);
	tlsmaps_builder_free(b);
}

static void test_attributes_and_bounds(void **state)
{
	static const char text[] = "a.example encrypt min_bits=40\n"                /* 1 */
	                           "b.example encrypt min_bits=256\n"               /* 2 */
	                           "c.example direction=in\n"                       /* 3 */
	                           "d.example may direction=out\n"                  /* 4 */
	                           "e.example verify direction=both min_bits=192\n" /* 5 */
	                           "f.example min_bits=128 direction=out\n";        /* 6 */
	tlsmaps_table *t = build_ok("attrs.map", text);

	(void)state;
	assert_int_equal(tlsmaps_entry_min_bits(t, id_at_line(t, 1)), 40);
	assert_int_equal(tlsmaps_entry_min_bits(t, id_at_line(t, 2)), 256);
	assert_int_equal(tlsmaps_entry_min_bits(t, id_at_line(t, 5)), 192);
	assert_true(tlsmaps_entry_min_bits_explicit(t, id_at_line(t, 6)));
	assert_false(tlsmaps_entry_min_bits_explicit(t, id_at_line(t, 3)));
	assert_int_equal(tlsmaps_entry_direction(t, id_at_line(t, 3)), TLSMAPS_DIR_IN);
	assert_int_equal(tlsmaps_entry_level(t, id_at_line(t, 3)), TLSMAPS_LEVEL_ENCRYPT);
	assert_int_equal(tlsmaps_entry_direction(t, id_at_line(t, 4)), TLSMAPS_DIR_OUT);
	assert_int_equal(tlsmaps_entry_direction(t, id_at_line(t, 5)), TLSMAPS_DIR_BOTH);
	assert_int_equal(tlsmaps_entry_direction(t, id_at_line(t, 6)), TLSMAPS_DIR_OUT);
	assert_int_equal(tlsmaps_entry_level(t, id_at_line(t, 6)), TLSMAPS_LEVEL_ENCRYPT);
	tlsmaps_table_free(t);
}

static void test_network_count(void **state)
{
	static const char text[] = "192.0.2.0/24 direction=in\n"
	                           "10.0.0.0/8\n"
	                           "[192.0.2.7]\n"
	                           "2001:db8::/32 direction=out\n"
	                           "198.51.100.*\n"
	                           "example.com\n"
	                           "203.0.113.9 may direction=out\n";
	tlsmaps_table *t = build_ok("count.map", text);

	(void)state;
	assert_int_equal(tlsmaps_table_count(t), 7);
	assert_int_equal(tlsmaps_table_network_count(t, TLSMAPS_DIR_IN), 3);
	assert_int_equal(tlsmaps_table_network_count(t, TLSMAPS_DIR_OUT), 4);
	tlsmaps_table_free(t);
}

static void test_two_buffers(void **state)
{
	struct diags d;
	tlsmaps_options o;
	tlsmaps_builder *b;
	tlsmaps_table *t;
	unsigned nerr = 99;
	static const char a[] = "one.example\n# c\ntwo.example may\n";
	static const char c[] = "\nthree.example verify\n";

	(void)state;
	memset(&d, 0, sizeof(d));
	tlsmaps_options_init(&o);
	o.report = diags_report;
	o.report_ctx = &d;
	b = tlsmaps_builder_new(&o);
	assert_non_null(b);
	assert_int_equal(tlsmaps_builder_add_buffer(b, "a.map", a, strlen(a)), 0);
	assert_int_equal(tlsmaps_builder_add_buffer(b, "b.map", c, strlen(c)), 0);
	t = tlsmaps_builder_finish(b, &nerr);
	assert_non_null(t);
	assert_int_equal(nerr, 0);
	assert_int_equal(tlsmaps_table_count(t), 3);
	assert_string_equal(tlsmaps_entry_key(t, 0), "one.example");
	assert_string_equal(tlsmaps_entry_file(t, 0), "a.map");
	assert_int_equal(tlsmaps_entry_line(t, 0), 1);
	assert_string_equal(tlsmaps_entry_key(t, 1), "two.example");
	assert_int_equal(tlsmaps_entry_line(t, 1), 3);
	assert_string_equal(tlsmaps_entry_key(t, 2), "three.example");
	assert_string_equal(tlsmaps_entry_file(t, 2), "b.map");
	assert_int_equal(tlsmaps_entry_line(t, 2), 2);
	tlsmaps_table_free(t);
}

static void test_files(void **state)
{
	char p1[] = "/tmp/test_build_aXXXXXX";
	char p2[] = "/tmp/test_build_bXXXXXX";
	const char *paths[2];
	static const char a[] = "file.example verify\n[mx.file.example]:587\n";
	static const char c[] = "# second\n10.0.0.0/8 may\n";
	int fd;
	tlsmaps_table *t;
	tlsmaps_builder *b;
	tlsmaps_options o;
	struct diags d;
	unsigned nerr = 99;
	const struct diag *g;

	(void)state;
	fd = mkstemp(p1);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, a, strlen(a)), (ssize_t)strlen(a));
	close(fd);
	fd = mkstemp(p2);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, c, strlen(c)), (ssize_t)strlen(c));
	close(fd);

	paths[0] = p1;
	paths[1] = p2;
	t = tlsmaps_load(paths, 2, NULL, &nerr);
	assert_non_null(t);
	assert_int_equal(nerr, 0);
	assert_int_equal(tlsmaps_table_count(t), 3);
	assert_string_equal(tlsmaps_entry_file(t, 0), p1);
	assert_string_equal(tlsmaps_entry_file(t, 2), p2);
	assert_int_equal(tlsmaps_entry_line(t, 2), 2);
	CHECK_NEXTHOP(t, "[mx.file.example]:587", 2);
	tlsmaps_table_free(t);

	/* A missing file: -1, a diagnostic with line 0, and no table. */
	memset(&d, 0, sizeof(d));
	tlsmaps_options_init(&o);
	o.report = diags_report;
	o.report_ctx = &d;
	b = tlsmaps_builder_new(&o);
	assert_non_null(b);
	assert_int_equal(tlsmaps_builder_add_file(b, p1), 0);
	assert_int_equal(tlsmaps_builder_add_file(b, "/nonexistent/forcetls/tls.map"), -1);
	t = tlsmaps_builder_finish(b, &nerr);
	assert_null(t);
	assert_true(nerr >= 1);
	g = diags_at(&d, "/nonexistent/forcetls/tls.map", 0);
	if (g == NULL) {
		diags_print(&d);
		fail();
	}
	assert_true(g->msg[0] != 0);

	/* tlsmaps_load with a missing file. */
	paths[1] = "/nonexistent/forcetls/tls.map";
	nerr = 0;
	assert_null(tlsmaps_load(paths, 2, NULL, &nerr));
	assert_true(nerr >= 1);
	unlink(p1);
	unlink(p2);
}

static void test_err_bad_domain(void **state)
{
	char text[2048];
	char label[70];

	(void)state;
	EXPECT_ERRORS("dom.map", "ok.example\n\nbad..example encrypt\n", {3, {NULL}});
	EXPECT_ERRORS("dom.map",
	              "good.example\n"         /* 1 */
	              "foo@bar.example\n"      /* 2 */
	              "exa$mple.com may\n"     /* 3 */
	              "*example.com\n"         /* 4 */
	              "a.*.example.com\n"      /* 5 */
	              "..example.com\n"        /* 6 */
	              "*.\n"                   /* 7 */
	              "good2.example\n"        /* 8 */
	              "exa_mple..com verify\n" /* 9 */
	              "[mx..example]\n"        /* 10 */
	              "[mx.example.com\n"      /* 11 */
	              "[mx.example.com]x\n"    /* 12 */
	              "\xff"
	              "xample.com\n" /* 13: not UTF-8 */
	              ".\n",         /* 14 */
	              {2, {NULL}}, {3, {NULL}}, {4, {NULL}}, {5, {NULL}}, {6, {NULL}}, {7, {NULL}},
	              {9, {NULL}}, {10, {NULL}}, {11, {NULL}}, {12, {NULL}}, {13, {NULL}},
	              {14, {NULL}});
	/* Label of 64 characters; name of 254 characters. */
	memset(label, 'l', 64);
	label[64] = 0;
	snprintf(text, sizeof(text), "ok.example\n%s.example.com\n", label);
	EXPECT_ERRORS("long.map", text, {2, {NULL}});
	label[63] = 0;
	snprintf(text, sizeof(text), "%s.%s.%s.%.62s\n", label, label, label, label);
	assert_int_equal(strlen(text), 254 + 1);
	EXPECT_ERRORS("long.map", text, {1, {NULL}});
	/* 253 characters is fine. */
	snprintf(text, sizeof(text), "%s.%s.%s.%.61s\n", label, label, label, label);
	assert_int_equal(strlen(text), 253 + 1);
	tlsmaps_table_free(build_ok("long.map", text));
}

/*
 * LIBRARY BUG (reported): a key with two trailing dots is accepted, its
 * canonical key keeping one dot ("crlf.." -> "crlf."): the entry can
 * never be found, since every query is normalized without the dot. The
 * key normalizer (tm_name_norm) strips one trailing dot and never checks
 * that the last label is non-empty. Found by fuzz_table.
 */
static void test_regress_double_trailing_dot(void **state)
{
	(void)state;
	EXPECT_ERRORS("dots.map",
	              "x.example..\n"
	              "ok.example\n"
	              ".y.example..\n"
	              "*.z.example..\n"
	              "[mx.example..]\n",
	              {1, {NULL}}, {3, {NULL}}, {4, {NULL}}, {5, {NULL}});
}

/*
 * LIBRARY BUG (reported): SPEC 2 makes ".X" and "*.X" the same key, but
 * "*.10" and "*.192.0.2." are accepted as parents ".10" and ".192.0.2"
 * while ".10" and ".192.0.2" are refused as bad IPv4 addresses (and the
 * query normalizer refuses ".192.0.2" too). Both spellings must agree;
 * given the rest of the library, both should be errors. Found by fuzz_table.
 */
static void test_regress_star_numeric_parent(void **state)
{
	static const char *const keys[] = {"10",
	                                   "192.0.2",
	                                   "192.0.2.",
	                                   "1.2.3.4",
	                                   "example.com",
	                                   "mx.example.com",
	                                   "xn--bcher-kva.example"};
	char dot[64], star[64];
	size_t i;
	unsigned ed, es;
	tlsmaps_table *t;
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(dot, sizeof(dot), ".%s\n", keys[i]);
		snprintf(star, sizeof(star), "*.%s\n", keys[i]);
		ed = es = 0;
		t = build_table("d.map", dot, NULL, NULL, &ed);
		tlsmaps_table_free(t);
		t = build_table("s.map", star, NULL, NULL, &es);
		tlsmaps_table_free(t);
		if (!ed != !es) {
			print_error("\".%s\": %u errors, \"*.%s\": %u errors\n", keys[i], ed,
			            keys[i], es);
			failed = 1;
		}
	}
	assert_false(failed);
}

static void test_err_bad_address(void **state)
{
	(void)state;
	EXPECT_ERRORS("addr.map",
	              "192.0.2.256\n"          /* 1 */
	              "192.0.2.0/33\n"         /* 2 */
	              "192.0.2.0/\n"           /* 3 */
	              "192.0.2.0/-1\n"         /* 4 */
	              "192.0.2.0/x\n"          /* 5 */
	              "2001:db8::/129\n"       /* 6 */
	              "2001:db8:::1\n"         /* 7 */
	              "10.1.2.3/24/8\n"        /* 8 */
	              "192.0.2.0/4294967320\n" /* 9: 2^32 + 24 must not wrap */
	              "10.*.2.*\n"             /* 10 */
	              "10.1.2.3.*\n"           /* 11 */
	              "10.1.2.*/24\n"          /* 12 */
	              "256.*\n"                /* 13 */
	              "ok.example\n"           /* 14 */
	              "2001:db8::/\n",         /* 15 */
	              {1, {NULL}}, {2, {NULL}}, {3, {NULL}}, {4, {NULL}}, {5, {NULL}}, {6, {NULL}},
	              {7, {NULL}}, {8, {NULL}}, {9, {NULL}}, {10, {NULL}}, {11, {NULL}},
	              {12, {NULL}}, {13, {NULL}}, {15, {NULL}});
}

static void test_err_host_bits(void **state)
{
	(void)state;
	EXPECT_ERRORS("hb.map",
	              "# host bits\n"
	              "192.0.2.1/24 encrypt\n"
	              "ok.example\n"
	              "2001:db8::1/32 verify\n"
	              "10.1.2.3/8\n"
	              "192.0.2.129/25\n",
	              {2, {"host bits", "192.0.2.0/24"}}, {4, {"host bits", "2001:db8::/32"}},
	              {5, {"host bits", "10.0.0.0/8"}}, {6, {"host bits", "192.0.2.128/25"}});
}

static void test_err_unknown_level(void **state)
{
	(void)state;
	EXPECT_ERRORS("lvl.map",
	              "a.example encrpt\n"
	              "b.example encrypt\n"
	              "c.example mandatory match=nexthop\n"
	              "d.example dane_only\n",
	              {1, {"encrpt"}}, {3, {"mandatory"}}, {4, {"dane_only"}});
}

static void test_err_unknown_attribute(void **state)
{
	(void)state;
	EXPECT_ERRORS("attr.map",
	              "a.example encrypt foo=bar\n"
	              "b.example verify match=nexthop\n"
	              "c.example minbits=256\n"
	              "d.example verify match=nexthop tls_level=high\n",
	              {1, {"foo"}}, {3, {"minbits"}}, {4, {"tls_level"}});
}

static void test_err_attribute_value(void **state)
{
	(void)state;
	EXPECT_ERRORS("val.map",
	              "a.example encrypt direction=sideways\n" /* 1 */
	              "b.example direction=\n"                 /* 2 */
	              "c.example min_bits=abc\n"               /* 3 */
	              "d.example min_bits=\n"                  /* 4 */
	              "e.example min_bits=12x\n"               /* 5 */
	              "f.example encrypt direction=in\n"       /* 6 */
	              "g.example min_bits=-128\n"              /* 7 */
	              "h.example direction=inout\n",           /* 8 */
	              {1, {"direction"}}, {2, {"direction"}}, {3, {"min_bits"}}, {4, {"min_bits"}},
	              {5, {"min_bits"}}, {7, {"min_bits"}}, {8, {"direction"}});
}

static void test_err_min_bits_range(void **state)
{
	(void)state;
	EXPECT_ERRORS("bits.map",
	              "a.example encrypt min_bits=39\n"                       /* 1 */
	              "b.example encrypt min_bits=40\n"                       /* 2 */
	              "c.example encrypt min_bits=256\n"                      /* 3 */
	              "d.example encrypt min_bits=257\n"                      /* 4 */
	              "e.example encrypt min_bits=0\n"                        /* 5 */
	              "f.example encrypt min_bits=4294967424\n"               /* 6: 2^32 + 128 */
	              "g.example encrypt min_bits=99999999999999999999999\n", /* 7 */
	              {1, {"min_bits"}}, {4, {"min_bits"}}, {5, {"min_bits"}}, {6, {"min_bits"}},
	              {7, {"min_bits"}});
}

static void test_err_syntax(void **state)
{
	(void)state;
	/* A second level, a bare word, an attribute without a name. */
	EXPECT_ERRORS("syn.map",
	              "a.example encrypt may\n"
	              "b.example encrypt match\n"
	              "c.example encrypt =x\n"
	              "d.example\n",
	              {1, {NULL}}, {2, {NULL}}, {3, {NULL}});
}

static void test_err_duplicates(void **state)
{
	static const char text[] = "x.example encrypt\n"          /* 1 */
	                           ".x.example may\n"             /* 2 */
	                           "*.x.example verify\n"         /* 3: dup of 2 */
	                           "10.1.2.*\n"                   /* 4 */
	                           "10.1.2.0/24 may\n"            /* 5: dup of 4 */
	                           "X.Example.\n"                 /* 6: dup of 1 */
	                           "192.0.2.7\n"                  /* 7 */
	                           "192.0.2.7/32\n"               /* 8: dup of 7 */
	                           "2001:db8::1\n"                /* 9 */
	                           "2001:DB8:0::1\n"              /* 10: dup of 9 */
	                           "[mx.x.example]\n"             /* 11 */
	                           "[MX.X.EXAMPLE]\n"             /* 12: dup of 11 */
	                           "[mx.x.example]:587\n"         /* 13 */
	                           "10.1.0.0/16\n"                /* 14 */
	                           "10.1.*\n"                     /* 15: dup of 14 */
	                           "[192.0.2.7]\n"                /* 16 */
	                           "[mx.x.example]:587 secure\n"; /* 17: dup of 13 */

	(void)state;
	EXPECT_ERRORS("dup.map", text, {3, {"duplicate"}}, {5, {"duplicate"}}, {6, {"duplicate"}},
	              {8, {"duplicate"}}, {10, {"duplicate"}}, {12, {"duplicate"}},
	              {15, {"duplicate"}}, {17, {"duplicate"}});
	expect_dup_names_first("dup.map", text, 3, "dup.map", 2);
	expect_dup_names_first("dup.map", text, 5, "dup.map", 4);
	expect_dup_names_first("dup.map", text, 6, "dup.map", 1);
	expect_dup_names_first("dup.map", text, 8, "dup.map", 7);
	expect_dup_names_first("dup.map", text, 10, "dup.map", 9);
	expect_dup_names_first("dup.map", text, 12, "dup.map", 11);
	expect_dup_names_first("dup.map", text, 15, "dup.map", 14);
	expect_dup_names_first("dup.map", text, 17, "dup.map", 13);
}

static void test_err_duplicate_across_files(void **state)
{
	struct diags d;
	tlsmaps_options o;
	tlsmaps_builder *b;
	unsigned nerr = 0;
	static const char a[] = "# a\n\n.dup.example\n";
	static const char c[] = "other.example\n*.DUP.example may\n";
	const struct diag *g;

	(void)state;
	memset(&d, 0, sizeof(d));
	tlsmaps_options_init(&o);
	o.report = diags_report;
	o.report_ctx = &d;
	b = tlsmaps_builder_new(&o);
	assert_non_null(b);
	assert_int_equal(tlsmaps_builder_add_buffer(b, "a.map", a, strlen(a)), 0);
	assert_int_equal(tlsmaps_builder_add_buffer(b, "b.map", c, strlen(c)), 0);
	assert_null(tlsmaps_builder_finish(b, &nerr));
	assert_int_equal(nerr, 1);
	g = diags_at(&d, "b.map", 2);
	if (g == NULL || !contains_ci(g->msg, "duplicate") || !mentions_line(g->msg, "a.map", 3) ||
	    strstr(g->msg, "a.map") == NULL) {
		diags_print(&d);
		fail();
	}
}

static void test_all_errors_sorted(void **state)
{
	/*
	 * One pass reports every error. Duplicates are naturally found late
	 * (after parsing) but must still come out in line order.
	 */
	static const char text[] = "dup.example\n"             /* 1 */
	                           "ok1.example may\n"         /* 2 */
	                           "dup.example verify\n"      /* 3: duplicate */
	                           "ok2.example\n"             /* 4 */
	                           "192.0.2.1/24\n"            /* 5: host bits */
	                           "bad..example\n"            /* 6: bad domain */
	                           "ok3.example\n"             /* 7 */
	                           "x.example encrpt\n"        /* 8: level */
	                           "y.example encrypt foo=1\n" /* 9: attribute */
	                           "z.example min_bits=300\n"  /* 10: range */
	                           "10.1.2.*\n"                /* 11 */
	                           "w.example direction=up\n"  /* 12: value */
	                           "10.1.2.0/24\n"             /* 13: duplicate */
	                           "300.1.2.3\n";              /* 14: address */
	struct diags d;
	unsigned nerr = 0;
	tlsmaps_table *t;
	size_t i;

	(void)state;
	EXPECT_ERRORS("all.map", text, {3, {"duplicate"}}, {5, {"host bits", "192.0.2.0/24"}},
	              {6, {NULL}}, {8, {"encrpt"}}, {9, {"foo"}}, {10, {"min_bits"}},
	              {12, {"direction"}}, {13, {"duplicate"}}, {14, {NULL}});
	/* Without a report callback: same count, still no table. */
	nerr = 0;
	{
		tlsmaps_options o;
		tlsmaps_builder *b;

		tlsmaps_options_init(&o);
		b = tlsmaps_builder_new(&o);
		assert_non_null(b);
		assert_int_equal(tlsmaps_builder_add_buffer(b, "all.map", text, strlen(text)), 0);
		t = tlsmaps_builder_finish(b, &nerr);
		assert_null(t);
		assert_int_equal(nerr, 9);
	}
	/* Strictly in line order, one each. */
	t = build_table("all.map", text, NULL, &d, &nerr);
	assert_null(t);
	for (i = 1; i < d.n; i++)
		assert_true(d.d[i - 1].line < d.d[i].line);
}

static void test_policy_text_limit(void **state)
{
	char text[4096];
	char buf[TLSMAPS_POLICY_MAX];
	char val[1500];
	tlsmaps_table *t;
	struct diags d;
	unsigned nerr = 0;

	(void)state;
	/*
	 * "TLSMAPS_POLICY_MAX always suffices": an entry whose policy text
	 * would not fit must be refused by the builder, or else fit.
	 */
	memset(val, 'A', sizeof(val) - 1);
	val[sizeof(val) - 1] = 0;
	snprintf(text, sizeof(text), "big.example fingerprint match=%s\n", val);
	t = build_table("big.map", text, NULL, &d, &nerr);
	if (t == NULL) {
		assert_non_null(diags_at(&d, "big.map", 1));
		return;
	}
	assert_true(tlsmaps_policy(t, 0, buf, sizeof(buf)) > 0);
	tlsmaps_table_free(t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_key_forms),
	        cmocka_unit_test(test_star_equals_dot),
	        cmocka_unit_test(test_octet_wildcards),
	        cmocka_unit_test(test_perfectmail_list),
	        cmocka_unit_test(test_comments_blank_lines),
	        cmocka_unit_test(test_empty_tables),
	        cmocka_unit_test(test_attributes_and_bounds),
	        cmocka_unit_test(test_network_count),
	        cmocka_unit_test(test_two_buffers),
	        cmocka_unit_test(test_files),
	        cmocka_unit_test(test_err_bad_domain),
	        cmocka_unit_test(test_regress_double_trailing_dot),
	        cmocka_unit_test(test_regress_star_numeric_parent),
	        cmocka_unit_test(test_err_bad_address),
	        cmocka_unit_test(test_err_host_bits),
	        cmocka_unit_test(test_err_unknown_level),
	        cmocka_unit_test(test_err_unknown_attribute),
	        cmocka_unit_test(test_err_attribute_value),
	        cmocka_unit_test(test_err_min_bits_range),
	        cmocka_unit_test(test_err_syntax),
	        cmocka_unit_test(test_err_duplicates),
	        cmocka_unit_test(test_err_duplicate_across_files),
	        cmocka_unit_test(test_all_errors_sorted),
	        cmocka_unit_test(test_policy_text_limit),
	};

	unit_select(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
