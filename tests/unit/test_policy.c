/*
 * NAME
 *	test_policy - unit tests for libtlsmaps levels and policy text
 * DESCRIPTION
 *	tlsmaps_level_name/parse/rank/mandatory/needs_cert for every level,
 *	and tlsmaps_policy(): the text Postfix gets after "OK" (forcetls's own
 *	attributes dropped, min_bits above 128 mapped to ciphers=high, Postfix
 *	attributes passed through), plus the entry accessors for attributes.
 * SEE ALSO
 *	tlsmaps.h, SPEC.md sections 2 and 3
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit_util.h"

static const struct {
	tlsmaps_level level;
	const char *name;
} levels[] = {
        {TLSMAPS_LEVEL_NONE, "none"},           {TLSMAPS_LEVEL_MAY, "may"},
        {TLSMAPS_LEVEL_ENCRYPT, "encrypt"},     {TLSMAPS_LEVEL_DANE, "dane"},
        {TLSMAPS_LEVEL_DANE_ONLY, "dane-only"}, {TLSMAPS_LEVEL_FINGERPRINT, "fingerprint"},
        {TLSMAPS_LEVEL_VERIFY, "verify"},       {TLSMAPS_LEVEL_SECURE, "secure"},
};
#define NLEVELS (sizeof(levels) / sizeof(levels[0]))

static void test_level_name(void **state)
{
	size_t i;

	(void)state;
	assert_int_equal(NLEVELS, TLSMAPS_LEVEL_COUNT);
	for (i = 0; i < NLEVELS; i++) {
		assert_non_null(tlsmaps_level_name(levels[i].level));
		assert_string_equal(tlsmaps_level_name(levels[i].level), levels[i].name);
	}
	assert_null(tlsmaps_level_name(TLSMAPS_LEVEL_COUNT));
	assert_null(tlsmaps_level_name((tlsmaps_level)99));
	assert_null(tlsmaps_level_name((tlsmaps_level)-1));
}

static void test_level_parse(void **state)
{
	static const char *const bad[] = {
	        "",     "encrypted", "encryp", "dane_only", "daneonly",    "dane-",
	        "mayx", " may",      "may ",   "none=1",    "ok",          "verify\n",
	        "-",    "secure!",   "tls",    "require",   "dane-only-x",
	};
	tlsmaps_level l;
	size_t i;

	(void)state;
	for (i = 0; i < NLEVELS; i++) {
		l = (tlsmaps_level)99;
		assert_int_equal(tlsmaps_level_parse(levels[i].name, strlen(levels[i].name), &l),
		                 0);
		assert_int_equal(l, levels[i].level);
	}
	/* Case-insensitive. */
	assert_int_equal(tlsmaps_level_parse("ENCRYPT", 7, &l), 0);
	assert_int_equal(l, TLSMAPS_LEVEL_ENCRYPT);
	assert_int_equal(tlsmaps_level_parse("Dane-Only", 9, &l), 0);
	assert_int_equal(l, TLSMAPS_LEVEL_DANE_ONLY);
	assert_int_equal(tlsmaps_level_parse("SeCuRe", 6, &l), 0);
	assert_int_equal(l, TLSMAPS_LEVEL_SECURE);
	/* Only len bytes count. */
	assert_int_equal(tlsmaps_level_parse("mayday", 3, &l), 0);
	assert_int_equal(l, TLSMAPS_LEVEL_MAY);
	assert_int_equal(tlsmaps_level_parse("dane-only", 4, &l), 0);
	assert_int_equal(l, TLSMAPS_LEVEL_DANE);
	assert_int_equal(tlsmaps_level_parse("encrypt", 3, &l), -1);
	assert_int_equal(tlsmaps_level_parse("may\0", 4, &l), -1);
	assert_int_equal(tlsmaps_level_parse("none", 0, &l), -1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tlsmaps_level_parse(bad[i], strlen(bad[i]), &l) != -1) {
			print_error("level_parse(\"%s\") accepted\n", bad[i]);
			fail();
		}
	}
}

static void test_level_rank(void **state)
{
	(void)state;
	/* none < may < dane < encrypt < dane-only < verify < fingerprint = secure */
	assert_true(tlsmaps_level_rank(TLSMAPS_LEVEL_NONE) < tlsmaps_level_rank(TLSMAPS_LEVEL_MAY));
	assert_true(tlsmaps_level_rank(TLSMAPS_LEVEL_MAY) < tlsmaps_level_rank(TLSMAPS_LEVEL_DANE));
	assert_true(tlsmaps_level_rank(TLSMAPS_LEVEL_DANE) <
	            tlsmaps_level_rank(TLSMAPS_LEVEL_ENCRYPT));
	assert_true(tlsmaps_level_rank(TLSMAPS_LEVEL_ENCRYPT) <
	            tlsmaps_level_rank(TLSMAPS_LEVEL_DANE_ONLY));
	assert_true(tlsmaps_level_rank(TLSMAPS_LEVEL_DANE_ONLY) <
	            tlsmaps_level_rank(TLSMAPS_LEVEL_VERIFY));
	assert_true(tlsmaps_level_rank(TLSMAPS_LEVEL_VERIFY) <
	            tlsmaps_level_rank(TLSMAPS_LEVEL_FINGERPRINT));
	assert_int_equal(tlsmaps_level_rank(TLSMAPS_LEVEL_FINGERPRINT),
	                 tlsmaps_level_rank(TLSMAPS_LEVEL_SECURE));
}

static void test_level_mandatory(void **state)
{
	(void)state;
	assert_false(tlsmaps_level_mandatory(TLSMAPS_LEVEL_NONE));
	assert_false(tlsmaps_level_mandatory(TLSMAPS_LEVEL_MAY));
	assert_false(tlsmaps_level_mandatory(TLSMAPS_LEVEL_COUNT));
	assert_true(tlsmaps_level_mandatory(TLSMAPS_LEVEL_ENCRYPT));
	assert_true(tlsmaps_level_mandatory(TLSMAPS_LEVEL_DANE_ONLY));
	assert_true(tlsmaps_level_mandatory(TLSMAPS_LEVEL_FINGERPRINT));
	assert_true(tlsmaps_level_mandatory(TLSMAPS_LEVEL_VERIFY));
	assert_true(tlsmaps_level_mandatory(TLSMAPS_LEVEL_SECURE));
}

/*
 * LIBRARY BUG (reported): tlsmaps_level_mandatory(TLSMAPS_LEVEL_DANE) is
 * true. tlsmaps.h: mandatory is "encrypt and every level stronger than it",
 * and dane ranks below encrypt because without TLSA records it falls back
 * to may. (SPEC 4: X-TLSLevel: Require only for encrypt-or-stronger.)
 */
static void test_regress_dane_not_mandatory(void **state)
{
	(void)state;
	assert_false(tlsmaps_level_mandatory(TLSMAPS_LEVEL_DANE));
	/* Consistent with the rank: mandatory iff rank >= rank(encrypt). */
	assert_true(tlsmaps_level_rank(TLSMAPS_LEVEL_DANE) <
	            tlsmaps_level_rank(TLSMAPS_LEVEL_ENCRYPT));
}

static void test_level_needs_cert(void **state)
{
	(void)state;
	/* SPEC 3: verify/secure/fingerprint also require a verified client certificate. */
	assert_false(tlsmaps_level_needs_cert(TLSMAPS_LEVEL_NONE));
	assert_false(tlsmaps_level_needs_cert(TLSMAPS_LEVEL_MAY));
	assert_false(tlsmaps_level_needs_cert(TLSMAPS_LEVEL_DANE));
	assert_false(tlsmaps_level_needs_cert(TLSMAPS_LEVEL_ENCRYPT));
	assert_true(tlsmaps_level_needs_cert(TLSMAPS_LEVEL_FINGERPRINT));
	assert_true(tlsmaps_level_needs_cert(TLSMAPS_LEVEL_VERIFY));
	assert_true(tlsmaps_level_needs_cert(TLSMAPS_LEVEL_SECURE));
}

static const char policy_table[] =
        "# policy text tests\n"
        "plain.example\n"                                            /* 2 */
        "enc.example encrypt\n"                                      /* 3 */
        "ver.example verify match=hostname:nexthop\n"                /* 4 */
        "dirin.example encrypt direction=in\n"                       /* 5 */
        "dirout.example verify direction=out match=nexthop\n"        /* 6 */
        "high.example encrypt min_bits=256\n"                        /* 7 */
        "b128.example encrypt min_bits=128\n"                        /* 8 */
        "b40.example encrypt min_bits=40\n"                          /* 9 */
        "b129.example secure min_bits=129\n"                         /* 10 */
        "nolevel.example min_bits=256\n"                             /* 11 */
        "may.example may\n"                                          /* 12 */
        "proto.example encrypt protocols=>=TLSv1.2 ciphers=medium\n" /* 13 */
        "fp.example fingerprint "
        "match=3D:95:34:51:24:66:33:B9:D2:40:99:C0:C1:17:0B:D1\n" /* 14 */
        "srv.example verify servername=hostname tafile=/etc/ta.pem "
        "exclude=3DES\n"                                                    /* 15 */
        "spaces.example   encrypt   \t ciphers=high\t  protocols=TLSv1.3\n" /* 16 */
        "all.example dane direction=both min_bits=256\n"                    /* 17 */
        "[mx.relay.example]:587 secure match=nexthop\n"                     /* 18 */
        "192.0.2.0/24 dane-only direction=out\n";                           /* 19 */

static tlsmaps_table *ptab;

static int setup_table(void **state)
{
	(void)state;
	ptab = build_ok("policy.map", policy_table);
	return ptab ? 0 : -1;
}

static int teardown_table(void **state)
{
	(void)state;
	tlsmaps_table_free(ptab);
	ptab = NULL;
	return 0;
}

static void policy_at(unsigned line, char *buf, size_t len)
{
	tlsmaps_id id = id_at_line(ptab, line);
	int n;

	if (id == TLSMAPS_NO_ID) {
		print_error("no entry at policy.map:%u\n", line);
		fail();
	}
	memset(buf, 'Z', len);
	n = tlsmaps_policy(ptab, id, buf, len);
	if (n < 0) {
		print_error("tlsmaps_policy(policy.map:%u) returned %d\n", line, n);
		fail();
	}
	assert_int_equal((size_t)n, strlen(buf));
}

static void expect_policy(unsigned line, const char *want, const char *file, int at)
{
	char buf[TLSMAPS_POLICY_MAX];

	policy_at(line, buf, sizeof(buf));
	if (strcmp(buf, want) != 0) {
		print_error("policy of line %u: \"%s\", want \"%s\"\n", line, buf, want);
		_fail(file, at);
	}
}

#define EXPECT_POLICY(line, want) expect_policy(line, want, __FILE__, __LINE__)

/* Whole words of a policy text, in any order: "encrypt ciphers=high" */
static int has_word(const char *text, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = text; (p = strstr(p, word)) != NULL; p++)
		if ((p == text || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
			return 1;
	return 0;
}

static void test_policy_plain(void **state)
{
	(void)state;
	EXPECT_POLICY(2, "encrypt");
	EXPECT_POLICY(3, "encrypt");
	EXPECT_POLICY(4, "verify match=hostname:nexthop");
	EXPECT_POLICY(13, "encrypt protocols=>=TLSv1.2 ciphers=medium");
	EXPECT_POLICY(14, "fingerprint match=3D:95:34:51:24:66:33:B9:D2:40:99:C0:C1:17:0B:D1");
	EXPECT_POLICY(15, "verify servername=hostname tafile=/etc/ta.pem exclude=3DES");
	EXPECT_POLICY(18, "secure match=nexthop");
}

static void test_policy_direction_dropped(void **state)
{
	(void)state;
	EXPECT_POLICY(5, "encrypt");
	EXPECT_POLICY(6, "verify match=nexthop");
	EXPECT_POLICY(19, "dane-only");
}

static void test_policy_min_bits(void **state)
{
	char buf[TLSMAPS_POLICY_MAX];
	static const unsigned high[] = {7, 10, 11};
	size_t i;

	(void)state;
	/* 128 and below: nothing to say to Postfix. */
	EXPECT_POLICY(8, "encrypt");
	EXPECT_POLICY(9, "encrypt");
	/* Above 128 on a TLS level: ciphers=high, and never min_bits itself. */
	EXPECT_POLICY(7, "encrypt ciphers=high");
	EXPECT_POLICY(11, "encrypt ciphers=high");
	for (i = 0; i < sizeof(high) / sizeof(high[0]); i++) {
		policy_at(high[i], buf, sizeof(buf));
		assert_true(has_word(buf, "ciphers=high"));
		assert_null(strstr(buf, "min_bits"));
		assert_null(strstr(buf, "direction"));
	}
	policy_at(10, buf, sizeof(buf));
	assert_true(strncmp(buf, "secure ", 7) == 0);
	policy_at(17, buf, sizeof(buf));
	assert_true(strncmp(buf, "dane ", 5) == 0 || strcmp(buf, "dane") == 0);
	assert_null(strstr(buf, "min_bits"));
	assert_null(strstr(buf, "direction"));
	EXPECT_POLICY(12, "may");
}

static void test_policy_none_min_bits(void **state)
{
	tlsmaps_table *t;
	struct diags d;
	unsigned nerr = 99;
	char buf[TLSMAPS_POLICY_MAX];
	int n;

	(void)state;
	/*
	 * min_bits on "none" is pointless but not an error in SPEC 2; if the
	 * table is accepted, clear text must not be given a cipher grade.
	 */
	t = build_table("none.map", "none.example none min_bits=256\n", NULL, &d, &nerr);
	if (t == NULL) {
		diags_print(&d);
		skip();
	}
	n = tlsmaps_policy(t, 0, buf, sizeof(buf));
	tlsmaps_table_free(t);
	assert_int_equal(n, 4);
	assert_string_equal(buf, "none");
}

static void test_policy_spacing(void **state)
{
	(void)state;
	EXPECT_POLICY(16, "encrypt ciphers=high protocols=TLSv1.3");
	assert_string_equal(tlsmaps_entry_attrs(ptab, id_at_line(ptab, 16)),
	                    "ciphers=high protocols=TLSv1.3");
}

static void test_policy_buffer_size(void **state)
{
	tlsmaps_id id = id_at_line(ptab, 4);
	const char *want = "verify match=hostname:nexthop";
	size_t n = strlen(want);
	char buf[TLSMAPS_POLICY_MAX];

	(void)state;
	assert_int_not_equal(id, TLSMAPS_NO_ID);
	assert_int_equal(tlsmaps_policy(ptab, id, buf, n + 1), (int)n);
	assert_string_equal(buf, want);
	assert_int_equal(tlsmaps_policy(ptab, id, buf, n), -1);
	assert_int_equal(tlsmaps_policy(ptab, id, buf, 3), -1);
	assert_int_equal(tlsmaps_policy(ptab, id, buf, 0), -1);
}

static void test_entry_attrs(void **state)
{
	tlsmaps_id id;
	const char *v;
	size_t len = 0;

	(void)state;
	id = id_at_line(ptab, 4);
	assert_int_not_equal(id, TLSMAPS_NO_ID);
	v = tlsmaps_entry_attr(ptab, id, "match", &len);
	assert_non_null(v);
	assert_int_equal(len, strlen("hostname:nexthop"));
	assert_memory_equal(v, "hostname:nexthop", len);
	assert_null(tlsmaps_entry_attr(ptab, id, "ciphers", &len));
	assert_null(tlsmaps_entry_attr(ptab, id, "matc", &len));
	assert_string_equal(tlsmaps_entry_attrs(ptab, id), "match=hostname:nexthop");

	id = id_at_line(ptab, 3);
	assert_string_equal(tlsmaps_entry_attrs(ptab, id), "");
	assert_null(tlsmaps_entry_attr(ptab, id, "match", &len));

	id = id_at_line(ptab, 15);
	v = tlsmaps_entry_attr(ptab, id, "tafile", &len);
	assert_non_null(v);
	assert_int_equal(len, strlen("/etc/ta.pem"));
	assert_memory_equal(v, "/etc/ta.pem", len);
	v = tlsmaps_entry_attr(ptab, id, "exclude", &len);
	assert_non_null(v);
	assert_memory_equal(v, "3DES", len);

	id = id_at_line(ptab, 16);
	v = tlsmaps_entry_attr(ptab, id, "protocols", &len);
	assert_non_null(v);
	assert_int_equal(len, strlen("TLSv1.3"));
	assert_memory_equal(v, "TLSv1.3", len);
}

static void test_entry_levels_and_bits(void **state)
{
	static const struct {
		unsigned line;
		tlsmaps_level level;
		unsigned dir;
		unsigned bits;
		int explicit_bits;
	} want[] = {
	        {2, TLSMAPS_LEVEL_ENCRYPT, TLSMAPS_DIR_BOTH, 128, 0},
	        {3, TLSMAPS_LEVEL_ENCRYPT, TLSMAPS_DIR_BOTH, 128, 0},
	        {4, TLSMAPS_LEVEL_VERIFY, TLSMAPS_DIR_BOTH, 128, 0},
	        {5, TLSMAPS_LEVEL_ENCRYPT, TLSMAPS_DIR_IN, 128, 0},
	        {6, TLSMAPS_LEVEL_VERIFY, TLSMAPS_DIR_OUT, 128, 0},
	        {7, TLSMAPS_LEVEL_ENCRYPT, TLSMAPS_DIR_BOTH, 256, 1},
	        {8, TLSMAPS_LEVEL_ENCRYPT, TLSMAPS_DIR_BOTH, 128, 1},
	        {9, TLSMAPS_LEVEL_ENCRYPT, TLSMAPS_DIR_BOTH, 40, 1},
	        {10, TLSMAPS_LEVEL_SECURE, TLSMAPS_DIR_BOTH, 129, 1},
	        {11, TLSMAPS_LEVEL_ENCRYPT, TLSMAPS_DIR_BOTH, 256, 1},
	        {12, TLSMAPS_LEVEL_MAY, TLSMAPS_DIR_BOTH, 128, 0},
	        {14, TLSMAPS_LEVEL_FINGERPRINT, TLSMAPS_DIR_BOTH, 128, 0},
	        {17, TLSMAPS_LEVEL_DANE, TLSMAPS_DIR_BOTH, 256, 1},
	        {18, TLSMAPS_LEVEL_SECURE, 0, 128, 0}, /* next hop: see below */
	        {19, TLSMAPS_LEVEL_DANE_ONLY, TLSMAPS_DIR_OUT, 128, 0},
	};
	size_t i;
	tlsmaps_id id;

	(void)state;
	assert_int_equal(tlsmaps_table_count(ptab), 18);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		id = id_at_line(ptab, want[i].line);
		if (id == TLSMAPS_NO_ID) {
			print_error("no entry at line %u\n", want[i].line);
			fail();
		}
		if (tlsmaps_entry_level(ptab, id) != want[i].level ||
		    (want[i].dir && tlsmaps_entry_direction(ptab, id) != want[i].dir) ||
		    tlsmaps_entry_min_bits(ptab, id) != want[i].bits ||
		    !tlsmaps_entry_min_bits_explicit(ptab, id) != !want[i].explicit_bits) {
			print_error("line %u: level %d dir %u bits %u explicit %d\n", want[i].line,
			            (int)tlsmaps_entry_level(ptab, id),
			            tlsmaps_entry_direction(ptab, id),
			            tlsmaps_entry_min_bits(ptab, id),
			            tlsmaps_entry_min_bits_explicit(ptab, id));
			fail();
		}
		assert_string_equal(tlsmaps_entry_file(ptab, id), "policy.map");
	}
	/* A literal next hop is outbound by nature: OUT or BOTH, never IN only. */
	assert_true(tlsmaps_entry_direction(ptab, id_at_line(ptab, 18)) & TLSMAPS_DIR_OUT);
}

static void test_default_level_option(void **state)
{
	tlsmaps_options o;
	tlsmaps_table *t;
	unsigned nerr = 99;
	char buf[TLSMAPS_POLICY_MAX];

	(void)state;
	tlsmaps_options_init(&o);
	assert_int_equal(o.default_level, TLSMAPS_LEVEL_ENCRYPT);
	assert_null(o.report);
	o.default_level = TLSMAPS_LEVEL_VERIFY;
	t = build_table("d.map", "a.example\nb.example may\n", &o, NULL, &nerr);
	assert_non_null(t);
	assert_int_equal(nerr, 0);
	assert_int_equal(tlsmaps_entry_level(t, id_at_line(t, 1)), TLSMAPS_LEVEL_VERIFY);
	assert_int_equal(tlsmaps_entry_level(t, id_at_line(t, 2)), TLSMAPS_LEVEL_MAY);
	assert_int_equal(tlsmaps_policy(t, id_at_line(t, 1), buf, sizeof(buf)), 6);
	assert_string_equal(buf, "verify");
	tlsmaps_table_free(t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest level_tests[] = {
	        cmocka_unit_test(test_level_name),
	        cmocka_unit_test(test_level_parse),
	        cmocka_unit_test(test_level_rank),
	        cmocka_unit_test(test_level_mandatory),
	        cmocka_unit_test(test_regress_dane_not_mandatory),
	        cmocka_unit_test(test_level_needs_cert),
	        cmocka_unit_test(test_default_level_option),
	};
	const struct CMUnitTest table_tests[] = {
	        cmocka_unit_test(test_policy_plain),
	        cmocka_unit_test(test_policy_direction_dropped),
	        cmocka_unit_test(test_policy_min_bits),
	        cmocka_unit_test(test_policy_none_min_bits),
	        cmocka_unit_test(test_policy_spacing),
	        cmocka_unit_test(test_policy_buffer_size),
	        cmocka_unit_test(test_entry_attrs),
	        cmocka_unit_test(test_entry_levels_and_bits),
	};
	int failed;

	unit_select(argc, argv);
	failed = cmocka_run_group_tests_name("levels", level_tests, NULL, NULL);
	failed += cmocka_run_group_tests_name("policy", table_tests, setup_table, teardown_table);
	return failed;
}
