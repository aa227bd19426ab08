/*
 * NAME
 *	test_key - unit tests for the libtlsmaps key normalizer
 * DESCRIPTION
 *	tlsmaps_query_parse(): every query form of tlsmaps.h (names, parent
 *	names, addresses, literal next hops with and without a port), the
 *	normalization (case, trailing dot), and rejection of malformed keys
 *	(garbage, overlong names and labels, bad ports, embedded NUL and
 *	space). tlsmaps_addr_parse()/tlsmaps_addr_format(): round trips and
 *	rejects.
 * SEE ALSO
 *	tlsmaps.h, SPEC.md section 2, MTA-NOTES.md (Postfix next-hop keys)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit_util.h"

/* Parse a NUL-terminated key; the query is poisoned first. */
static int parse(const char *key, tlsmaps_query *q, char *why, size_t whylen)
{
	memset(q, 0xa5, sizeof(*q));
	memset(why, 0, whylen);
	return tlsmaps_query_parse(key, strlen(key), q, why, whylen);
}

static void expect_name(const char *key, tlsmaps_query_kind kind, const char *name, unsigned port,
                        const char *file, int line)
{
	tlsmaps_query q;
	char why[TLSMAPS_WHY_MAX];

	if (parse(key, &q, why, sizeof(why)) != 0) {
		print_error("query_parse(\"%s\") rejected: %s\n", key, why);
		_fail(file, line);
	}
	if (q.kind != kind || q.port != port || q.name_len != strlen(name) ||
	    memcmp(q.name, name, q.name_len) != 0) {
		print_error("query_parse(\"%s\"): want kind %d name \"%s\" port %u, got kind %d "
		            "name \"%.*s\" (len %zu) port %u\n",
		            key, (int)kind, name, port, (int)q.kind,
		            (int)(q.name_len <= TLSMAPS_NAME_MAX + 1 ? q.name_len : 0), q.name,
		            q.name_len, q.port);
		_fail(file, line);
	}
	/* The name is also a C string (name_len < sizeof(name) leaves room). */
	if (q.name[q.name_len] != 0) {
		print_error("query_parse(\"%s\"): name not NUL-terminated\n", key);
		_fail(file, line);
	}
}

static void expect_addr(const char *key, tlsmaps_query_kind kind, const char *addr, unsigned port,
                        const char *file, int line)
{
	tlsmaps_query q;
	tlsmaps_addr want;
	char why[TLSMAPS_WHY_MAX];
	char buf[TLSMAPS_ADDR_STR_MAX];

	memset(&want, 0, sizeof(want));
	assert_int_equal(tlsmaps_addr_parse(addr, strlen(addr), &want), 0);
	if (parse(key, &q, why, sizeof(why)) != 0) {
		print_error("query_parse(\"%s\") rejected: %s\n", key, why);
		_fail(file, line);
	}
	if (q.kind != kind || q.port != port || q.addr.family != want.family ||
	    memcmp(q.addr.bytes, want.bytes, want.family == 4 ? 4 : 16) != 0) {
		print_error("query_parse(\"%s\"): want kind %d addr %s port %u, got kind %d "
		            "family %u port %u\n",
		            key, (int)kind, addr, port, (int)q.kind, q.addr.family, q.port);
		if (q.addr.family == 4 || q.addr.family == 6)
			print_error("  got addr %s\n",
			            tlsmaps_addr_format(&q.addr, buf, sizeof(buf)));
		_fail(file, line);
	}
}

static void expect_bad_len(const char *key, size_t len, const char *file, int line)
{
	tlsmaps_query q;
	char why[TLSMAPS_WHY_MAX];
	int r;

	memset(why, 0, sizeof(why));
	r = tlsmaps_query_parse(key, len, &q, why, sizeof(why));
	if (r != -1) {
		print_error("query_parse(\"%.*s\", len %zu) returned %d, want -1\n", (int)len, key,
		            len, r);
		_fail(file, line);
	}
	if (why[0] == 0) {
		print_error("query_parse(\"%.*s\") failed without a reason in why\n", (int)len,
		            key);
		_fail(file, line);
	}
	if (memchr(why, 0, sizeof(why)) == NULL) {
		print_error("query_parse(\"%.*s\"): why not NUL-terminated\n", (int)len, key);
		_fail(file, line);
	}
}

#define EXPECT_NAME(key, kind, name, port) expect_name(key, kind, name, port, __FILE__, __LINE__)
#define EXPECT_ADDR(key, kind, addr, port) expect_addr(key, kind, addr, port, __FILE__, __LINE__)
#define EXPECT_BAD(key) expect_bad_len(key, strlen(key), __FILE__, __LINE__)
#define EXPECT_BAD_LEN(key, len) expect_bad_len(key, len, __FILE__, __LINE__)

/* A name of n characters made of 63-character labels: "aaa...a.bbb...b...". */
static void make_name(char *buf, size_t n)
{
	size_t i;
	char c = 'a';

	for (i = 0; i < n; i++) {
		if (i % 64 == 63) {
			buf[i] = '.';
			c = (char)(c == 'z' ? 'a' : c + 1);
		} else {
			buf[i] = c;
		}
	}
	if (n > 0 && buf[n - 1] == '.')
		buf[n - 1] = 'x';
	buf[n] = 0;
}

static void test_plain_names(void **state)
{
	(void)state;
	EXPECT_NAME("example.com", TLSMAPS_QUERY_NAME, "example.com", 0);
	EXPECT_NAME("mx1.mail.example.co.uk", TLSMAPS_QUERY_NAME, "mx1.mail.example.co.uk", 0);
	EXPECT_NAME("localhost", TLSMAPS_QUERY_NAME, "localhost", 0);
	EXPECT_NAME("xn--bcher-kva.example", TLSMAPS_QUERY_NAME, "xn--bcher-kva.example", 0);
	EXPECT_NAME("a-b.c-d.example", TLSMAPS_QUERY_NAME, "a-b.c-d.example", 0);
	EXPECT_NAME("1und1.de", TLSMAPS_QUERY_NAME, "1und1.de", 0);
}

static void test_case_and_trailing_dot(void **state)
{
	(void)state;
	EXPECT_NAME("Example.COM", TLSMAPS_QUERY_NAME, "example.com", 0);
	EXPECT_NAME("example.com.", TLSMAPS_QUERY_NAME, "example.com", 0);
	EXPECT_NAME("MX.Example.Com.", TLSMAPS_QUERY_NAME, "mx.example.com", 0);
	EXPECT_NAME("EXAMPLE.COM.:25", TLSMAPS_QUERY_NAME, "example.com", 25);
	EXPECT_NAME(".B.C", TLSMAPS_QUERY_PARENT, ".b.c", 0);
	EXPECT_NAME("[MX.EXAMPLE.COM]:587", TLSMAPS_QUERY_LITERAL_NAME, "mx.example.com", 587);
}

static void test_ports(void **state)
{
	(void)state;
	EXPECT_NAME("example.com:25", TLSMAPS_QUERY_NAME, "example.com", 25);
	EXPECT_NAME("example.com:2525", TLSMAPS_QUERY_NAME, "example.com", 2525);
	EXPECT_NAME("example.com:1", TLSMAPS_QUERY_NAME, "example.com", 1);
	EXPECT_NAME("example.com:65535", TLSMAPS_QUERY_NAME, "example.com", 65535);
	EXPECT_NAME("[mx.example.com]:587", TLSMAPS_QUERY_LITERAL_NAME, "mx.example.com", 587);
}

static void test_parent_names(void **state)
{
	(void)state;
	/* What Postfix asks after NOTFOUND for a.b.c: ".b.c", then ".c". */
	EXPECT_NAME(".b.c", TLSMAPS_QUERY_PARENT, ".b.c", 0);
	EXPECT_NAME(".c", TLSMAPS_QUERY_PARENT, ".c", 0);
	EXPECT_NAME(".example.com", TLSMAPS_QUERY_PARENT, ".example.com", 0);
}

static void test_literals(void **state)
{
	(void)state;
	EXPECT_NAME("[mx.example.com]", TLSMAPS_QUERY_LITERAL_NAME, "mx.example.com", 0);
	EXPECT_NAME("[mx.example.com]:25", TLSMAPS_QUERY_LITERAL_NAME, "mx.example.com", 25);
	EXPECT_ADDR("[192.0.2.7]", TLSMAPS_QUERY_LITERAL_ADDR, "192.0.2.7", 0);
	EXPECT_ADDR("[192.0.2.7]:25", TLSMAPS_QUERY_LITERAL_ADDR, "192.0.2.7", 25);
	EXPECT_ADDR("[ipv6:2001:db8::1]", TLSMAPS_QUERY_LITERAL_ADDR, "2001:db8::1", 0);
	EXPECT_ADDR("[ipv6:2001:db8::1]:25", TLSMAPS_QUERY_LITERAL_ADDR, "2001:db8::1", 25);
	/* Postfix relayhost syntax for IPv6 has no "ipv6:" prefix. */
	EXPECT_ADDR("[2001:db8::1]:587", TLSMAPS_QUERY_LITERAL_ADDR, "2001:db8::1", 587);
	EXPECT_ADDR("[IPv6:2001:DB8::1]", TLSMAPS_QUERY_LITERAL_ADDR, "2001:db8::1", 0);
}

static void test_addresses(void **state)
{
	(void)state;
	EXPECT_ADDR("192.0.2.7", TLSMAPS_QUERY_ADDR, "192.0.2.7", 0);
	EXPECT_ADDR("0.0.0.0", TLSMAPS_QUERY_ADDR, "0.0.0.0", 0);
	EXPECT_ADDR("255.255.255.255", TLSMAPS_QUERY_ADDR, "255.255.255.255", 0);
	EXPECT_ADDR("2001:db8::1", TLSMAPS_QUERY_ADDR, "2001:db8::1", 0);
	EXPECT_ADDR("2001:DB8::A", TLSMAPS_QUERY_ADDR, "2001:db8::a", 0);
	EXPECT_ADDR("::1", TLSMAPS_QUERY_ADDR, "::1", 0);
}

static void test_length_not_nul(void **state)
{
	tlsmaps_query q;
	char why[TLSMAPS_WHY_MAX];
	const char buf[] = "example.comXYZ";
	const char addr[] = "192.0.2.77";

	(void)state;
	/* The key is len bytes, not a C string. */
	assert_int_equal(tlsmaps_query_parse(buf, 11, &q, why, sizeof(why)), 0);
	assert_int_equal(q.kind, TLSMAPS_QUERY_NAME);
	assert_int_equal(q.name_len, 11);
	assert_memory_equal(q.name, "example.com", 11);
	assert_int_equal(tlsmaps_query_parse(addr, 9, &q, why, sizeof(why)), 0);
	assert_int_equal(q.kind, TLSMAPS_QUERY_ADDR);
	assert_int_equal(q.addr.family, 4);
	assert_memory_equal(q.addr.bytes, "\xc0\x00\x02\x07", 4);
}

static void test_garbage(void **state)
{
	(void)state;
	EXPECT_BAD("");
	EXPECT_BAD(".");
	EXPECT_BAD("..");
	EXPECT_BAD("a..b");
	EXPECT_BAD("example..com");
	EXPECT_BAD("..b.c");
	EXPECT_BAD("[");
	EXPECT_BAD("[.]");
	EXPECT_BAD("[a..b]");
	EXPECT_BAD("]");
	EXPECT_BAD("[]");
	EXPECT_BAD("[]:25");
	EXPECT_BAD("[mx.example.com");
	EXPECT_BAD("mx.example.com]");
	EXPECT_BAD("[mx.example.com]x");
	EXPECT_BAD("[[mx.example.com]]");
	EXPECT_BAD("[ipv6:]");
	EXPECT_BAD("[ipv6:192.0.2.7]");
	EXPECT_BAD("[ipv6:mx.example.com]");
	EXPECT_BAD("[ipv6:2001:db8::1::2]");
	EXPECT_BAD("user@example.com");
	EXPECT_BAD("example.com/24");
	EXPECT_BAD("exa$mple.com");
	EXPECT_BAD("exa\"mple.com");
	EXPECT_BAD("\xff"
	           "xample.com"); /* not UTF-8 */
	EXPECT_BAD("a\xe2\x80\x90"
	           "b.example"); /* U+2010, disallowed in IDNA2008 */
	EXPECT_BAD("2001:db8::1::2");
	EXPECT_BAD(":25");
}

/*
 * LIBRARY BUG (reported): "example.com.." is accepted and normalized to
 * "example.com." (an empty last label, still with a trailing dot): not a
 * normalized name, and it no longer matches an "example.com" entry.
 */
static void test_regress_double_trailing_dot(void **state)
{
	(void)state;
	EXPECT_BAD("example.com..");
	EXPECT_BAD("b.c..:25");
	EXPECT_BAD("[mx.example.com..]");
}

static void test_space_and_nul(void **state)
{
	(void)state;
	EXPECT_BAD("exa mple.com");
	EXPECT_BAD(" example.com");
	EXPECT_BAD("example.com ");
	EXPECT_BAD("example.com\t");
	EXPECT_BAD("example.com\n");
	EXPECT_BAD("example.com\r\n");
	EXPECT_BAD("[mx.example.com ]");
	EXPECT_BAD_LEN("example.com\0evil.org", 20);
	EXPECT_BAD_LEN("example.com\0", 12);
	EXPECT_BAD_LEN("\0example.com", 12);
	EXPECT_BAD_LEN("192.0.2.7\0", 10);
	EXPECT_BAD_LEN("[192.0.2.7\0]", 12);
}

static void test_bad_ports(void **state)
{
	(void)state;
	EXPECT_BAD("example.com:");
	EXPECT_BAD("example.com:65536");
	EXPECT_BAD("example.com:99999");
	EXPECT_BAD("example.com:4294967321");           /* 2^32 + 25: must not wrap to 25 */
	EXPECT_BAD("example.com:18446744073709551641"); /* 2^64 + 25 */
	EXPECT_BAD("example.com:-1");
	EXPECT_BAD("example.com:+25");
	EXPECT_BAD("example.com: 25");
	EXPECT_BAD("example.com:25 ");
	EXPECT_BAD("example.com:25:25");
	EXPECT_BAD("[mx.example.com]:");
	EXPECT_BAD("[mx.example.com]:65536");
	EXPECT_BAD("[mx.example.com]:-587");
	EXPECT_BAD("[192.0.2.7]:");
	EXPECT_BAD("[192.0.2.7]:70000");
}

static void test_port_zero(void **state)
{
	(void)state;
	/* Port 0 is "no port" in tlsmaps_query, so ":0" cannot be represented. */
	EXPECT_BAD("example.com:0");
	EXPECT_BAD("[mx.example.com]:0");
}

static void test_overlong(void **state)
{
	char name[600];
	char key[700];
	char label[80];

	(void)state;
	/* 253 characters: the longest name. */
	make_name(name, TLSMAPS_NAME_MAX);
	assert_int_equal(strlen(name), 253);
	EXPECT_NAME(name, TLSMAPS_QUERY_NAME, name, 0);
	/* The same with a trailing dot (254 bytes of key). */
	snprintf(key, sizeof(key), "%s.", name);
	EXPECT_NAME(key, TLSMAPS_QUERY_NAME, name, 0);
	/* In brackets with the longest port: fits TLSMAPS_KEY_MAX. */
	snprintf(key, sizeof(key), "[%s]:65535", name);
	assert_true(strlen(key) <= TLSMAPS_KEY_MAX);
	EXPECT_NAME(key, TLSMAPS_QUERY_LITERAL_NAME, name, 65535);

	/* 254 characters: too long, bare, with a dot, in brackets, as a parent. */
	make_name(name, TLSMAPS_NAME_MAX + 1);
	EXPECT_BAD(name);
	snprintf(key, sizeof(key), "%s.", name);
	EXPECT_BAD(key);
	snprintf(key, sizeof(key), "[%s]", name);
	EXPECT_BAD(key);
	make_name(name, 400);
	EXPECT_BAD(name);
	make_name(name, 590);
	snprintf(key, sizeof(key), "%s:25", name);
	EXPECT_BAD(key);

	/* A 63-character label is fine, 64 is not. */
	memset(label, 'l', 63);
	label[63] = 0;
	snprintf(key, sizeof(key), "%s.example.com", label);
	EXPECT_NAME(key, TLSMAPS_QUERY_NAME, key, 0);
	snprintf(key, sizeof(key), "mx.%s", label);
	EXPECT_NAME(key, TLSMAPS_QUERY_NAME, key, 0);
	memset(label, 'l', 64);
	label[64] = 0;
	snprintf(key, sizeof(key), "%s.example.com", label);
	EXPECT_BAD(key);
	snprintf(key, sizeof(key), "mx.%s", label);
	EXPECT_BAD(key);
	snprintf(key, sizeof(key), ".%s.com", label);
	EXPECT_BAD(key);
	snprintf(key, sizeof(key), "[mx.%s]:25", label);
	EXPECT_BAD(key);
}

static void test_why_small_buffer(void **state)
{
	tlsmaps_query q;
	char why[8];

	(void)state;
	memset(why, 'x', sizeof(why));
	assert_int_equal(tlsmaps_query_parse("a..b", 4, &q, why, 5), -1);
	/* At most whylen bytes written, NUL-terminated, the rest untouched. */
	assert_non_null(memchr(why, 0, 5));
	assert_int_equal(why[5], 'x');
	assert_int_equal(why[7], 'x');
}

/* addr_parse + addr_format give text back in canonical form. */
static void expect_round_trip(const char *in, const char *out, int family, const char *file,
                              int line)
{
	tlsmaps_addr a;
	char buf[TLSMAPS_ADDR_STR_MAX];
	const char *s;

	memset(&a, 0xee, sizeof(a));
	if (tlsmaps_addr_parse(in, strlen(in), &a) != 0) {
		print_error("addr_parse(\"%s\") rejected\n", in);
		_fail(file, line);
	}
	if (a.family != family) {
		print_error("addr_parse(\"%s\"): family %u, want %d\n", in, a.family, family);
		_fail(file, line);
	}
	s = tlsmaps_addr_format(&a, buf, sizeof(buf));
	if (s == NULL || strcmp(s, out) != 0) {
		print_error("addr_format(addr_parse(\"%s\")) = \"%s\", want \"%s\"\n", in,
		            s ? s : "(null)", out);
		_fail(file, line);
	}
}

#define ROUND_TRIP(in, out, fam) expect_round_trip(in, out, fam, __FILE__, __LINE__)

static void test_addr_round_trip(void **state)
{
	tlsmaps_addr a, b;
	char buf[TLSMAPS_ADDR_STR_MAX];

	(void)state;
	ROUND_TRIP("192.0.2.7", "192.0.2.7", 4);
	ROUND_TRIP("0.0.0.0", "0.0.0.0", 4);
	ROUND_TRIP("255.255.255.255", "255.255.255.255", 4);
	ROUND_TRIP("10.1.2.3", "10.1.2.3", 4);
	ROUND_TRIP("2001:db8::1", "2001:db8::1", 6);
	ROUND_TRIP("2001:DB8:0:0:0:0:0:1", "2001:db8::1", 6);
	ROUND_TRIP("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", 6);
	ROUND_TRIP("::", "::", 6);
	ROUND_TRIP("::1", "::1", 6);
	ROUND_TRIP("fe80::", "fe80::", 6);
	ROUND_TRIP("2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6", 6);
	ROUND_TRIP("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	           "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 6);

	/* Bytes are in network order. */
	assert_int_equal(tlsmaps_addr_parse("192.0.2.7", 9, &a), 0);
	assert_memory_equal(a.bytes, "\xc0\x00\x02\x07", 4);
	assert_int_equal(tlsmaps_addr_parse("2001:db8::1", 11, &b), 0);
	assert_memory_equal(b.bytes, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);

	/* Format of a hand-made address. */
	memset(&a, 0, sizeof(a));
	a.family = 4;
	a.bytes[0] = 198;
	a.bytes[1] = 51;
	a.bytes[2] = 100;
	a.bytes[3] = 42;
	assert_string_equal(tlsmaps_addr_format(&a, buf, sizeof(buf)), "198.51.100.42");

	/* Not NUL-terminated input: only len bytes count. */
	assert_int_equal(tlsmaps_addr_parse("192.0.2.77", 9, &a), 0);
	assert_string_equal(tlsmaps_addr_format(&a, buf, sizeof(buf)), "192.0.2.7");
}

static void test_addr_reject(void **state)
{
	static const char *const bad[] = {
	        "",
	        "1",
	        "1.2.3",
	        "1.2.3.4.5",
	        "256.1.1.1",
	        "1.2.3.256",
	        "1.2.3.-1",
	        "1..2.3",
	        "1.2.3.4/24",
	        "[1.2.3.4]",
	        " 1.2.3.4",
	        "1.2.3.4 ",
	        "1.2.3.4:25",
	        "example.com",
	        "2001:db8::1::2",
	        "2001:db8:::1",
	        "12345::1",
	        "gggg::1",
	        "1:2:3:4:5:6:7:8:9",
	        "2001:db8::/32",
	        "ipv6:2001:db8::1",
	        "10.1.*",
	};
	tlsmaps_addr a;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tlsmaps_addr_parse(bad[i], strlen(bad[i]), &a) != -1) {
			print_error("addr_parse(\"%s\") accepted\n", bad[i]);
			fail();
		}
	}
}

/*
 * LIBRARY BUG (reported): tlsmaps_addr_parse() accepts len bytes that end
 * in NUL ("192.0.2.7\0", len 10) as the address before the NUL: bytes
 * after it are ignored instead of rejected.
 */
static void test_regress_addr_parse_nul(void **state)
{
	tlsmaps_addr a;

	(void)state;
	assert_int_equal(tlsmaps_addr_parse("192.0.2.7\0", 10, &a), -1);
	assert_int_equal(tlsmaps_addr_parse("192.0.2.7\0.1", 12, &a), -1);
	assert_int_equal(tlsmaps_addr_parse("::1\0", 4, &a), -1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_plain_names),
	        cmocka_unit_test(test_case_and_trailing_dot),
	        cmocka_unit_test(test_ports),
	        cmocka_unit_test(test_parent_names),
	        cmocka_unit_test(test_literals),
	        cmocka_unit_test(test_addresses),
	        cmocka_unit_test(test_length_not_nul),
	        cmocka_unit_test(test_garbage),
	        cmocka_unit_test(test_regress_double_trailing_dot),
	        cmocka_unit_test(test_space_and_nul),
	        cmocka_unit_test(test_bad_ports),
	        cmocka_unit_test(test_port_zero),
	        cmocka_unit_test(test_overlong),
	        cmocka_unit_test(test_why_small_buffer),
	        cmocka_unit_test(test_addr_round_trip),
	        cmocka_unit_test(test_addr_reject),
	        cmocka_unit_test(test_regress_addr_parse_nul),
	};

	unit_select(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
