/*
 * NAME
 *	test_core - unit tests for libtlsmaps's decision core (tlsmaps_decide.c)
 * DESCRIPTION
 *	tlsmaps_decide_inbound(): the strictest of address, name and sender
 *	domain decides; encrypt needs TLS and min_bits; verify and secure a
 *	verified certificate; fingerprint a listed digest (colons and case
 *	ignored, no prefix match; no digests from the MTA is a refusal);
 *	exemptions for internal and authenticated clients, on by default and
 *	each switchable; inputs that cannot be parsed are errors whatever the
 *	table says. tlsmaps_decide_recipient(): forced, not forced, error, and
 *	U-labels converted like table keys. tlsmaps_networks_load().
 *
 *	Expected entries are table line numbers (0: no entry).
 * SEE ALSO
 *	tlsmaps.h, SPEC.md section 3, tests/golden/verdicts.*
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit_util.h"

static const char table_text[] = "192.0.2.10 encrypt direction=in\n" /* 1 */
                                 "192.0.2.20 encrypt min_bits=256\n" /* 2 */
                                 "192.0.2.30 verify direction=in\n"  /* 3 */
                                 "192.0.2.40 fingerprint "           /* 4 */
                                 "match=AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89|"
                                 "00112233445566778899aabbccddeeff\n"
                                 "192.0.2.0/24 may\n"                    /* 5 */
                                 "mx.listed.test encrypt direction=in\n" /* 6 */
                                 "forced.test\n"                         /* 7 */
                                 "b\xc3\xbc"
                                 "cher.example\n"                          /* 8 */
                                 "secure.test secure\n"                    /* 9 */
                                 "outonly.test encrypt direction=out\n"    /* 10 */
                                 "2001:db8::/32 dane-only direction=in\n"; /* 11 */

static tlsmaps_table *table;

static int setup(void **state)
{
	(void)state;
	table = build_ok("core.map", table_text);
	return table == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	tlsmaps_table_free(table);
	return 0;
}

/* A clear-text session from an unlisted client; tests change what they need. */
static tlsmaps_session clear(void)
{
	tlsmaps_session s;

	memset(&s, 0, sizeof(s));
	s.client_address = "203.0.113.5";
	s.client_name = "h.any.test";
	s.sender = "a@any.test";
	s.tls_protocol = "";
	s.key_size = "0";
	return s;
}

static tlsmaps_session tls(tlsmaps_session s)
{
	s.tls_protocol = "TLSv1.3";
	s.key_size = "256";
	return s;
}

static void check(const tlsmaps_session *s, const tlsmaps_inbound_options *o, tlsmaps_verdict want,
                  unsigned want_line, const char *want_reason, const char *file, int line)
{
	tlsmaps_inbound_result r;
	tlsmaps_verdict v = tlsmaps_decide_inbound(table, s, o, &r);
	unsigned got_line = r.id == TLSMAPS_NO_ID ? 0 : tlsmaps_entry_line(table, r.id);

	if (v != want || r.verdict != v || (want_line != (unsigned)-1 && got_line != want_line) ||
	    (want_reason != NULL && !contains_ci(r.reason, want_reason))) {
		print_error(
		        "%s:%d: verdict %s entry line %u reason \"%s\"; want %s line %u \"%s\"\n",
		        file, line, tlsmaps_verdict_name(v), got_line, r.reason,
		        tlsmaps_verdict_name(want), want_line, want_reason ? want_reason : "");
		fail();
	}
}

#define ANY_LINE ((unsigned)-1)
#define CHECK(s, o, want, line, reason) check(&(s), o, want, line, reason, __FILE__, __LINE__)
#define PASS TLSMAPS_VERDICT_PASS
#define REFUSE TLSMAPS_VERDICT_REFUSE
#define ERROR TLSMAPS_VERDICT_ERROR

static void test_encrypt_and_min_bits(void **state)
{
	tlsmaps_session s = clear();

	(void)state;
	s.client_address = "192.0.2.10";
	CHECK(s, NULL, REFUSE, 1, "no TLS");
	s.tls_protocol = NULL; /* not sent at all: clear text too */
	CHECK(s, NULL, REFUSE, 1, "no TLS");
	s = tls(s);
	CHECK(s, NULL, PASS, 1, NULL);
	s.key_size = "112";
	CHECK(s, NULL, REFUSE, 1, "key size 112 below 128");
	s.client_address = "192.0.2.20";
	s.key_size = "128";
	CHECK(s, NULL, REFUSE, 2, "key size 128 below 256");
	s.key_size = "256";
	CHECK(s, NULL, PASS, 2, NULL);
	/* A may network around them asks nothing; dane-only asks for TLS only. */
	s = clear();
	s.client_address = "192.0.2.99";
	CHECK(s, NULL, PASS, 5, NULL);
	s.client_address = "2001:db8::7";
	CHECK(s, NULL, REFUSE, 11, "no TLS");
	s = tls(s);
	CHECK(s, NULL, PASS, 11, NULL);
	/* A parsed address wins over the text. */
	{
		tlsmaps_addr a;

		assert_int_equal(tlsmaps_addr_parse("192.0.2.10", 10, &a), 0);
		s = clear();
		s.client_addr = &a;
		s.client_address = "not even an address";
		CHECK(s, NULL, REFUSE, 1, "no TLS");
	}
}

static void test_certificates(void **state)
{
	tlsmaps_session s = tls(clear());

	(void)state;
	s.client_address = "192.0.2.30";
	CHECK(s, NULL, REFUSE, 3, "no verified client certificate");
	s.cert_verified = 1;
	CHECK(s, NULL, PASS, 3, NULL);

	s.client_address = "192.0.2.40";
	CHECK(s, NULL, REFUSE, 4,
	      "the MTA gave no certificate digest"); /* verified is not enough */
	s.digests[0] = "";
	s.digests[1] = "";
	CHECK(s, NULL, REFUSE, 4, "no client certificate");
	s.digests[1] = "ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89";
	CHECK(s, NULL, PASS, 4, NULL);
	s.digests[1] = "ABCDEF0123456789ABCDEF0123456789";
	CHECK(s, NULL, PASS, 4, NULL);
	s.digests[1] = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
	CHECK(s, NULL, PASS, 4, NULL);
	/* Whole digests only: a listed one with more, or with less, is not listed. */
	s.digests[1] = "ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:00";
	CHECK(s, NULL, REFUSE, 4, "not listed");
	s.digests[1] = "ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67";
	CHECK(s, NULL, REFUSE, 4, "not listed");
	s.digests[1] = "0011";
	CHECK(s, NULL, REFUSE, 4, "not listed");
	/* Any of the slots may carry it (Sendmail's {cert_fp} in slot 3). */
	s.digests[1] = NULL;
	s.digests[3] = "00112233445566778899AABBCCDDEEFF";
	CHECK(s, NULL, PASS, 4, NULL);
}

static void test_strictest_wins(void **state)
{
	tlsmaps_session s = tls(clear());

	(void)state;
	s.client_address = "192.0.2.10"; /* encrypt */
	s.sender = "a@secure.test";      /* secure */
	CHECK(s, NULL, REFUSE, 9, "no verified client certificate");
	s.sender = "a@any.test";
	s.client_name = "MX.Listed.Test."; /* encrypt, after the address: the address stays */
	CHECK(s, NULL, PASS, 1, NULL);
	s.client_address = "192.0.2.99"; /* may, below the name's encrypt */
	s.tls_protocol = "";
	CHECK(s, NULL, REFUSE, 6, "no TLS");
	/* direction=out entries are not inbound ones. */
	s = clear();
	s.sender = "x@outonly.test";
	CHECK(s, NULL, PASS, 0, NULL);
}

static void test_exemptions(void **state)
{
	tlsmaps_session s = clear();
	tlsmaps_inbound_options o;

	(void)state;
	s.sender = "a@forced.test";
	s.internal = 1;
	CHECK(s, NULL, PASS, 0, "exempt: internal");
	tlsmaps_inbound_options_init(&o);
	assert_true(o.exempt_internal && o.exempt_authenticated);
	o.exempt_internal = 0;
	CHECK(s, &o, REFUSE, 7, "no TLS");
	s.internal = 0;
	s.authenticated = 1;
	CHECK(s, &o, PASS, 0, "exempt: authenticated");
	o.exempt_authenticated = 0;
	CHECK(s, &o, REFUSE, 7, "no TLS");
	/* An exempt client is not parsed: it sends outbound mail. */
	o.exempt_authenticated = 1;
	s.key_size = "garbage";
	CHECK(s, &o, PASS, 0, "exempt");
}

static void test_client_names(void **state)
{
	static const char *const none[] = {NULL, "", "unknown", "[203.0.113.5]",
	                                   "[ipv6:2001:db8::1]"};
	static const char *const bad[] = {"bad!name.test", "a..b.test",  "host.test:25",
	                                  "192.0.2.10",    "x\xff.test", ".dot.test"};
	tlsmaps_session s = clear();

	(void)state;
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		s.client_name = none[i];
		CHECK(s, NULL, PASS, 0, "no inbound entry");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s.client_name = bad[i];
		CHECK(s, NULL, ERROR, 0, "client name");
	}
}

static void test_senders(void **state)
{
	static const char *const none[] = {NULL, "", "<>", "postmaster", "<postmaster>"};
	static const char *const bad[] = {"a@",        "<a@>",    "a@bad..test", "a@b\xff.test",
	                                  "a@host:25", "a@.test", "a@1.2.3.4"};
	tlsmaps_session s = clear();
	char longsender[2100];

	(void)state;
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		s.sender = none[i];
		CHECK(s, NULL, PASS, 0, "no inbound entry");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s.sender = bad[i];
		CHECK(s, NULL, ERROR, 0, "sender domain");
	}
	s.sender = "<someone@Forced.Test>";
	CHECK(s, NULL, REFUSE, 7, "no TLS");
	s.sender = "\"odd@local\"@forced.test";
	CHECK(s, NULL, REFUSE, 7, "no TLS");
	s.sender = "u@B\xc3\x9c"
	           "CHER.example";
	CHECK(s, NULL, REFUSE, 8, "no TLS");
	s.sender = "u@xn--bcher-kva.example";
	CHECK(s, NULL, REFUSE, 8, "no TLS");
	s.sender = "u@[192.0.2.10]"; /* an address literal is an address */
	CHECK(s, NULL, REFUSE, 1, "no TLS");
	/* However long the local part, the domain counts. */
	memset(longsender, 'a', 2000);
	snprintf(longsender + 2000, sizeof(longsender) - 2000, "@forced.test");
	s.sender = longsender;
	CHECK(s, NULL, REFUSE, 7, "no TLS");
}

static void test_bad_inputs(void **state)
{
	static const char *const bad_bits[] = {"12x", "-1", " 256", "999999", "0x80"};
	tlsmaps_session s = tls(clear());

	(void)state;
	for (size_t i = 0; i < sizeof(bad_bits) / sizeof(bad_bits[0]); i++) {
		s.key_size = bad_bits[i];
		CHECK(s, NULL, ERROR, 0, "key size");
	}
	s.key_size = NULL;
	CHECK(s, NULL, PASS, 0, NULL);
	s.key_size = "";
	CHECK(s, NULL, PASS, 0, NULL);
	s = clear();
	s.client_address = "300.1.2.3";
	CHECK(s, NULL, ERROR, 0, "client address");
	s.client_address = "unknown";
	CHECK(s, NULL, PASS, 0, NULL);
	assert_string_equal(tlsmaps_verdict_name(ERROR), "TEMP");
}

static void check_rcpt(const char *rcpt, tlsmaps_rcpt_status want, unsigned want_line,
                       const char *want_domain, const char *file, int line)
{
	tlsmaps_rcpt_result r;
	tlsmaps_rcpt_status st = tlsmaps_decide_recipient(table, rcpt, strlen(rcpt), &r);
	unsigned got = r.id == TLSMAPS_NO_ID ? 0 : tlsmaps_entry_line(table, r.id);

	if (st != want || got != want_line ||
	    (want_domain != NULL && strcmp(r.domain, want_domain) != 0) ||
	    (st == TLSMAPS_RCPT_ERROR && r.reason[0] == '\0')) {
		print_error("%s:%d: %s: status %d line %u domain \"%s\" reason \"%s\"\n", file,
		            line, rcpt, st, got, r.domain, r.reason);
		fail();
	}
}

#define CHECK_RCPT(r, want, line, dom) check_rcpt(r, want, line, dom, __FILE__, __LINE__)

static void test_recipients(void **state)
{
	char longrcpt[1100];

	(void)state;
	CHECK_RCPT("<u@forced.test>", TLSMAPS_RCPT_FORCED, 7, "forced.test");
	CHECK_RCPT("u@FORCED.TEST.", TLSMAPS_RCPT_FORCED, 7, "forced.test");
	CHECK_RCPT("<u@b\xc3\xbc"
	           "cher.example>",
	           TLSMAPS_RCPT_FORCED, 8, "xn--bcher-kva.example");
	CHECK_RCPT("<u@outonly.test>", TLSMAPS_RCPT_FORCED, 10, "outonly.test");
	CHECK_RCPT("<u@secure.test>", TLSMAPS_RCPT_FORCED, 9, "secure.test");
	CHECK_RCPT("<u@mx.listed.test>", TLSMAPS_RCPT_NOT_FORCED, 0, "mx.listed.test");
	CHECK_RCPT("<u@any.test>", TLSMAPS_RCPT_NOT_FORCED, 0, "any.test");
	CHECK_RCPT("<postmaster>", TLSMAPS_RCPT_NOT_FORCED, 0, "");
	CHECK_RCPT("<u@[192.0.2.20]>", TLSMAPS_RCPT_FORCED, 2, "[192.0.2.20]");
	CHECK_RCPT("<u@[192.0.2.99]>", TLSMAPS_RCPT_NOT_FORCED, 5, "[192.0.2.99]"); /* may */
	CHECK_RCPT("<u@bad..test>", TLSMAPS_RCPT_ERROR, 0, NULL);
	CHECK_RCPT("<u@b\xff.test>", TLSMAPS_RCPT_ERROR, 0, NULL);
	CHECK_RCPT("<u@>", TLSMAPS_RCPT_ERROR, 0, NULL);
	CHECK_RCPT("<u@192.0.2.20>", TLSMAPS_RCPT_ERROR, 0, NULL);
	CHECK_RCPT("<u@forced.test:25>", TLSMAPS_RCPT_ERROR, 0, NULL);
	/* Routed forms: the MTA may deliver to the domain inside (percent hack, bang path). */
	CHECK_RCPT("<u%forced.test@any.test>", TLSMAPS_RCPT_FORCED, 7, "forced.test");
	CHECK_RCPT("<forced.test!u@any.test>", TLSMAPS_RCPT_FORCED, 7, "forced.test");
	CHECK_RCPT("<\"u@forced.test\"@any.test>", TLSMAPS_RCPT_FORCED, 7, "forced.test");
	CHECK_RCPT("<@forced.test:u@any.test>", TLSMAPS_RCPT_FORCED, 7, "forced.test");
	CHECK_RCPT("<u%forced.test>", TLSMAPS_RCPT_FORCED, 7, "forced.test");
	CHECK_RCPT("<u%any.test@any.test>", TLSMAPS_RCPT_NOT_FORCED, 0, "any.test");
	memset(longrcpt, 'r', 1000);
	snprintf(longrcpt + 1000, sizeof(longrcpt) - 1000, "@forced.test");
	CHECK_RCPT(longrcpt, TLSMAPS_RCPT_FORCED, 7, "forced.test");
}

static void test_networks_load(void **state)
{
	static const char *const good[] = {"127.0.0.0/8", "::1", "10.1.*"};
	static const char *const bad[] = {"127.0.0.0/8", "example.com"};
	tlsmaps_options o;
	struct diags d;
	unsigned nerrors = 0;
	tlsmaps_table *t;
	tlsmaps_addr a;
	tlsmaps_id id;

	(void)state;
	memset(&d, 0, sizeof(d));
	tlsmaps_options_init(&o);
	o.report = diags_report;
	o.report_ctx = &d;
	t = tlsmaps_networks_load(good, 3, "x.internal_networks", &o, &nerrors);
	assert_non_null(t);
	assert_int_equal(nerrors, 0);
	assert_int_equal(tlsmaps_addr_parse("10.1.9.9", 8, &a), 0);
	assert_int_equal(tlsmaps_lookup_addr(t, &a, TLSMAPS_DIR_IN, &id), TLSMAPS_FOUND);
	tlsmaps_table_free(t);
	t = tlsmaps_networks_load(NULL, 0, "x.empty", &o, &nerrors);
	assert_non_null(t);
	assert_int_equal(tlsmaps_table_count(t), 0);
	tlsmaps_table_free(t);
	assert_null(tlsmaps_networks_load(bad, 2, "x.internal_networks", &o, &nerrors));
	assert_int_equal(nerrors, 1);
	assert_non_null(diags_at(&d, "x.internal_networks", 2));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_encrypt_and_min_bits), cmocka_unit_test(test_certificates),
	        cmocka_unit_test(test_strictest_wins),       cmocka_unit_test(test_exemptions),
	        cmocka_unit_test(test_client_names),         cmocka_unit_test(test_senders),
	        cmocka_unit_test(test_bad_inputs),           cmocka_unit_test(test_recipients),
	        cmocka_unit_test(test_networks_load),
	};

	unit_select(argc, argv);
	return cmocka_run_group_tests(tests, setup, teardown);
}
