/*
 * NAME
 *	test_certname.c - unit tests of inbound certificate names (libtlsmaps)
 * DESCRIPTION
 *	docs/tlsmaps.5, "Inbound certificate names": the name matcher
 *	(tm_certname_match: exact names, .domain, hostname, nexthop,
 *	dot-nexthop, wildcard CNs of one and several labels, '*' elsewhere,
 *	case, trailing dots, bytes outside printable ASCII), what the table
 *	parser lets into match=, the decisions of verify and secure entries
 *	through tlsmaps_decide_inbound() (with and without match=, nexthop by
 *	client name, sender domain and address, no CN, the refusal's reason;
 *	every entry found must hold, not only the strictest),
 *	and tlsmaps_dn_cn() on Sendmail's DNs (xtext, no CN, two CNs, a long
 *	CN, components after the CN).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "tlsmaps_int.h"
#include "unit_util.h"

static int m(const char *cn, const char *list)
{
	tm_names n = {"mx.client.example", "bank.example"};

	return tm_certname_match(cn, list, strlen(list), &n);
}

static void test_exact(void **state)
{
	(void)state;
	assert_true(m("a.example", "a.example"));
	assert_true(m("A.Example", "a.EXAMPLE"));
	assert_true(m("a.example.", "a.example")); /* the CN's trailing dot */
	assert_true(m("a.example", "a.example.")); /* ... and the pattern's */
	assert_false(m("a.example..", "a.example"));
	assert_false(m("b.a.example", "a.example"));
	assert_false(m("a.example", "b.a.example"));
	assert_false(m("xa.example", "a.example"));
	assert_false(m("", "a.example"));
	assert_false(m(".", "a.example"));
	assert_true(m("z.example", "a.example:z.example"));
	assert_false(m("z.example", "a.example::y.example"));
}

static void test_subdomain(void **state)
{
	(void)state;
	assert_true(m("mx.b.example", ".b.example"));
	assert_true(m("a.mx.b.example", ".b.example")); /* several labels */
	assert_true(m("MX.B.Example.", ".b.EXAMPLE"));
	assert_false(m("b.example", ".b.example")); /* the domain itself is not a subdomain */
	assert_false(m(".b.example", ".b.example"));
	assert_false(m("xb.example", ".b.example"));
	assert_false(m("mx.b.example.org", ".b.example"));
}

static void test_wildcard_cn(void **state)
{
	(void)state;
	/* One label and several (tls_wildcard_matches_multiple_labels = yes). */
	assert_true(m("*.b.example", "mx.b.example"));
	assert_true(m("*.b.example", "a.mx.b.example"));
	assert_true(m("*.B.EXAMPLE", "mx.b.example"));
	assert_false(m("*.b.example", "b.example"));
	assert_false(m("*.b.example", "mx.xb.example"));
	assert_false(m("*.b.example", "mx.b.example.org"));
	/* "*." alone, "*" and a '*' inside a label are no wildcards. */
	assert_false(m("*.", "mx.b.example"));
	assert_false(m("*", "mx.b.example"));
	assert_false(m("*.", "b"));
	assert_false(m("mx*.b.example", "mx1.b.example"));
	assert_false(m("m*.b.example", "mx.b.example"));
	assert_false(m("mx.*.example", "mx.b.example"));
	assert_false(m("**.b.example", "mx.b.example"));
	/* A wildcard CN against a pattern without a dot: nothing to match. */
	assert_false(m("*.example", "example"));
	/* Against a .domain pattern the CN is compared as it is, as Postfix does. */
	assert_true(m("*.mx.b.example", ".b.example"));
	assert_false(m("*.b.example", ".mx.b.example"));
}

static void test_words(void **state)
{
	tm_names none = {NULL, NULL};

	(void)state;
	assert_true(m("mx.client.example", "hostname"));
	assert_true(m("MX.client.example", "HostName"));
	assert_false(m("client.example", "hostname"));
	assert_true(m("*.client.example", "hostname"));
	assert_true(m("bank.example", "nexthop"));
	assert_false(m("mx.bank.example", "nexthop"));
	assert_true(m("*.bank.example", "dot-nexthop")); /* compared as it is */
	assert_true(m("mx.bank.example", "dot-nexthop"));
	assert_false(m("bank.example", "dot-nexthop"));
	assert_true(m("bank.example", "a.example:nexthop"));
	/* No client name, no name found the entry: these words match nothing. */
	assert_false(tm_certname_match("hostname", "hostname", 8, &none));
	assert_false(tm_certname_match("nexthop", "nexthop", 7, &none));
	assert_false(tm_certname_match("x.example", "nexthop:dot-nexthop:hostname", 28, &none));
}

static void test_not_printable(void **state)
{
	(void)state;
	assert_false(m("a.example\n", "a.example"));
	assert_false(m("a.ex\tample", "a.ex\tample"));
	assert_false(m("a.\xc3\xa9xample", "a.\xc3\xa9xample"));
	assert_false(m("\x7f", "\x7f"));
	assert_false(tm_certname_match(NULL, "a.example", 9, &(tm_names){NULL, NULL}));
}

static void expect_error(const char *line, const char *part)
{
	struct diags d;
	unsigned nerrors = 0;
	tlsmaps_table *t = build_table("names.map", line, NULL, &d, &nerrors);

	assert_null(t);
	assert_int_equal(nerrors, 1);
	if (strstr(d.d[0].msg, part) == NULL) {
		diags_print(&d);
		fail_msg("expected \"%s\" for %s", part, line);
	}
}

/* What the parser lets into match=: the matcher sees nothing else. */
static void test_parser(void **state)
{
	tlsmaps_table *t;

	(void)state;
	t = build_ok("names.map", "a.example verify match=HostName:NEXTHOP:dot-nexthop:B.Example.:"
	                          ".c.example direction=in\n");
	tlsmaps_table_free(t);
	/* "*.x" is no pattern: write ".x" (Postfix would compare it as a plain name). */
	expect_error("a.example verify match=*.b.example\n", "match=*.b.example: bad value");
	expect_error("a.example secure match=b*.example\n", "bad value");
	expect_error("a.example verify match=a.example:\n", "bad value");
	expect_error("a.example verify match=.\n", "bad value");
	expect_error("a.example encrypt match=a.example\n", "match");
}

static const char table_text[] =
        "cn.test verify match=mx.cn.test:.partner.test direction=in\n"              /* 1 */
        "any.test verify direction=in\n"                                            /* 2 */
        "sec.test secure direction=in\n"                                            /* 3 */
        "nh.test secure match=nexthop:dot-nexthop direction=in\n"                   /* 4 */
        "192.0.2.50 secure match=nexthop direction=in\n"                            /* 5 */
        "host.test secure match=hostname direction=in\n"                            /* 6 */
        "fp.test fingerprint match=00112233445566778899aabbccddeeff direction=in\n" /* 7 */
        ".nh.test secure match=nexthop direction=in\n"                              /* 8 */
        ".sec.test secure direction=in\n";                                          /* 9 */

static tlsmaps_verdict decide(const tlsmaps_table *t, const char *addr, const char *name,
                              const char *sender, const char *cn, tlsmaps_inbound_result *r)
{
	tlsmaps_session s;

	memset(&s, 0, sizeof(s));
	s.client_address = addr;
	s.client_name = name;
	s.sender = sender;
	s.tls_protocol = "TLSv1.3";
	s.key_size = "256";
	s.cert_verified = 1;
	s.cert_cn = cn;
	return tlsmaps_decide_inbound(t, &s, NULL, r);
}

#define PASS(addr, name, sender, cn)                                                               \
	assert_int_equal(decide(t, addr, name, sender, cn, &r), TLSMAPS_VERDICT_PASS)
#define REFUSE(addr, name, sender, cn, why)                                                        \
	do {                                                                                       \
		assert_int_equal(decide(t, addr, name, sender, cn, &r), TLSMAPS_VERDICT_REFUSE);   \
		assert_string_equal(r.reason, why);                                                \
	} while (0)

static void test_decide(void **state)
{
	tlsmaps_table *t = build_ok("names.map", table_text);
	tlsmaps_inbound_result r;

	(void)state;
	/* verify with match=: the CN must be one of the names. */
	PASS("203.0.113.1", "unknown", "a@cn.test", "mx.cn.test");
	PASS("203.0.113.1", "unknown", "a@cn.test", "smtp.partner.test");
	REFUSE("203.0.113.1", "unknown", "a@cn.test", "x.example",
	       "client certificate CN \"x.example\" not in match=mx.cn.test:.partner.test");
	REFUSE("203.0.113.1", "unknown", "a@cn.test", "x\n\"y",
	       "client certificate CN \"x\\x0a\"y\" not in match=mx.cn.test:.partner.test");
	REFUSE("203.0.113.1", "unknown", "a@cn.test", NULL, "client certificate has no CN");
	REFUSE("203.0.113.1", "unknown", "a@cn.test", "", "client certificate has no CN");
	/* verify without match=: any verified certificate, even without a CN. */
	PASS("203.0.113.1", "unknown", "a@any.test", NULL);
	PASS("203.0.113.1", "unknown", "a@any.test", "whatever.example");
	/* secure without match=: the client name. */
	PASS("203.0.113.1", "MX.Sec.Test.", "a@x.example", "mx.sec.test");
	PASS("203.0.113.1", "mx.sec.test", "a@x.example", "*.sec.test");
	PASS("203.0.113.1", "a.mx.sec.test", "a@x.example", "*.sec.test");
	PASS("203.0.113.1", "sec.test", "a@x.example", "SEC.TEST.");
	REFUSE("203.0.113.1", "sec.test", "a@x.example", "*.sec.test",
	       "client certificate CN \"*.sec.test\" not in match=hostname (secure without "
	       "match=)");
	REFUSE("203.0.113.1", "mx.sec.test", "a@x.example", "other.sec.test",
	       "client certificate CN \"other.sec.test\" not in match=hostname "
	       "(secure without match=)");
	/* ... found by the sender's domain, with no client name: matches nothing. */
	REFUSE("203.0.113.1", "unknown", "a@sec.test", "unknown",
	       "client certificate CN \"unknown\" not in match=hostname (secure without match=)");
	REFUSE("203.0.113.1", "[203.0.113.1]", "a@sec.test", "[203.0.113.1]",
	       "client certificate CN \"[203.0.113.1]\" not in match=hostname "
	       "(secure without match=)");
	PASS("203.0.113.1", "mx.other.example", "a@sec.test", "mx.other.example");
	/* nexthop: the name that found the entry (sender domain or client name). */
	PASS("203.0.113.1", "unknown", "a@NH.test", "nh.test");
	PASS("203.0.113.1", "unknown", "a@nh.test", "mx.nh.test");
	PASS("203.0.113.1", "smtp.nh.test", "a@x.example", "smtp.nh.test"); /* by .nh.test */
	REFUSE("203.0.113.1", "smtp.nh.test", "a@x.example", "nh.test",
	       "client certificate CN \"nh.test\" not in match=nexthop");
	REFUSE("203.0.113.1", "unknown", "a@nh.test", "nh.test.example",
	       "client certificate CN \"nh.test.example\" not in match=nexthop:dot-nexthop");
	/* ... found by the address: no name, nothing matches. */
	REFUSE("192.0.2.50", "unknown", "a@x.example", "192.0.2.50",
	       "client certificate CN \"192.0.2.50\" not in match=nexthop");
	REFUSE("192.0.2.50", "mx.x.example", "a@x.example", "x.example",
	       "client certificate CN \"x.example\" not in match=nexthop");
	/* hostname written out. */
	PASS("203.0.113.1", "Host.Test", "a@x.example", "host.test");
	REFUSE("203.0.113.1", "host.test", "a@x.example", "mx.host.test",
	       "client certificate CN \"mx.host.test\" not in match=hostname");
	REFUSE("203.0.113.1", "unknown", "a@host.test", "host.test",
	       "client certificate CN \"host.test\" not in match=hostname");
	/* An unverified certificate is refused before any name. */
	{
		tlsmaps_session s;

		memset(&s, 0, sizeof(s));
		s.client_address = "203.0.113.1";
		s.sender = "a@cn.test";
		s.tls_protocol = "TLSv1.3";
		s.key_size = "256";
		s.cert_cn = "mx.cn.test";
		assert_int_equal(tlsmaps_decide_inbound(t, &s, NULL, &r), TLSMAPS_VERDICT_REFUSE);
		assert_string_equal(r.reason, "no verified client certificate");
	}
	/* fingerprint entries do not look at the CN. */
	REFUSE("203.0.113.1", "unknown", "a@fp.test", "fp.test",
	       "fingerprint: the MTA gave no certificate digest");
	tlsmaps_table_free(t);
}

/*
 * Every entry found must hold: the client picks its own name (with a
 * secure entry of its own) and the sender, so the strictest entry, or the
 * first of a tie, must not stand in for the sender domain's match=.
 */
static void test_every_entry(void **state)
{
	tlsmaps_table *t = build_ok(
	        "every.map", "bank.test secure match=mx.bank.test direction=in\n"
	                     "vbank.test verify match=mx.vbank.test direction=in\n"
	                     ".evil.test secure direction=in\n"
	                     "192.0.2.0/24 fingerprint match=00112233445566778899aabbccddeeff "
	                     "direction=in\n"
	                     "192.0.2.128/25 encrypt min_bits=256 direction=in\n"
	                     "ln.test verify direction=in\n");
	tlsmaps_inbound_result r;
	tlsmaps_session s;

	(void)state;
	/* A tie in rank (secure and secure): the client name's entry came first. */
	REFUSE("203.0.113.1", "mail.evil.test", "ceo@bank.test", "mail.evil.test",
	       "client certificate CN \"mail.evil.test\" not in match=mx.bank.test");
	assert_string_equal(tlsmaps_entry_key(t, r.id), "bank.test");
	/* A stricter entry (secure) of the client name against verify match=. */
	REFUSE("203.0.113.1", "mail.evil.test", "ceo@vbank.test", "mail.evil.test",
	       "client certificate CN \"mail.evil.test\" not in match=mx.vbank.test");
	PASS("203.0.113.1", "mx.bank.test", "ceo@bank.test", "mx.bank.test");
	PASS("203.0.113.1", "mail.evil.test", "a@evil.test", "mail.evil.test");
	/* An address's fingerprint entry (as strict as secure) is no CN either. */
	memset(&s, 0, sizeof(s));
	s.client_address = "192.0.2.9";
	s.sender = "ceo@bank.test";
	s.tls_protocol = "TLSv1.3";
	s.key_size = "256";
	s.cert_verified = 1;
	s.cert_cn = "mail.evil.test";
	s.digests[0] = "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff";
	assert_int_equal(tlsmaps_decide_inbound(t, &s, NULL, &r), TLSMAPS_VERDICT_REFUSE);
	assert_string_equal(r.reason,
	                    "client certificate CN \"mail.evil.test\" not in match=mx.bank.test");
	s.cert_cn = "mx.bank.test";
	assert_int_equal(tlsmaps_decide_inbound(t, &s, NULL, &r), TLSMAPS_VERDICT_PASS);
	assert_string_equal(tlsmaps_entry_key(t, r.id), "192.0.2.0/24");
	/* A weaker entry's min_bits still counts. */
	s.client_address = "192.0.2.200";
	s.sender = "a@ln.test";
	s.key_size = "128";
	assert_int_equal(tlsmaps_decide_inbound(t, &s, NULL, &r), TLSMAPS_VERDICT_REFUSE);
	assert_string_equal(r.reason, "key size 128 below 256");
	assert_string_equal(tlsmaps_entry_key(t, r.id), "192.0.2.128/25");
	tlsmaps_table_free(t);
}

/* The longest CN and list still give a reason that fits, cut and printable. */
static void test_reason_fits(void **state)
{
	char text[1400], cn[600];
	tlsmaps_table *t;
	tlsmaps_inbound_result r;

	(void)state;
	memset(cn, 'c', sizeof(cn) - 1);
	cn[sizeof(cn) - 1] = '\0';
	snprintf(text, sizeof(text),
	         "long.test verify match=%.60s.example:%.60s.example:%.60s.example:%.60s.example:"
	         "%.60s.example direction=in\n",
	         cn, cn, cn, cn, cn);
	t = build_ok("names.map", text);
	assert_int_equal(decide(t, "203.0.113.1", "unknown", "a@long.test", cn, &r),
	                 TLSMAPS_VERDICT_REFUSE);
	assert_true(strlen(r.reason) < TLSMAPS_WHY_MAX - 1);
	assert_non_null(strstr(r.reason, "..."));
	assert_non_null(strstr(r.reason, "not in match="));
	tlsmaps_table_free(t);
}

static int dn(const char *s, char *cn, size_t len, char *why)
{
	return tlsmaps_dn_cn(s, strlen(s), cn, len, why, TLSMAPS_WHY_MAX);
}

#define DN_OK(s, want)                                                                             \
	do {                                                                                       \
		assert_int_equal(dn(s, cn, sizeof(cn), why), 0);                                   \
		assert_string_equal(cn, want);                                                     \
	} while (0)
#define DN_BAD(s, part)                                                                            \
	do {                                                                                       \
		assert_int_equal(dn(s, cn, sizeof(cn), why), -1);                                  \
		assert_non_null(strstr(why, part));                                                \
		assert_string_equal(cn, "");                                                       \
	} while (0)

static void test_dn(void **state)
{
	char cn[64], why[TLSMAPS_WHY_MAX], big[200];

	(void)state;
	DN_OK("/C=DE/O=Bank/CN=mx.bank.example", "mx.bank.example");
	DN_OK("/CN=mx.bank.example/emailAddress=pm@bank.example", "mx.bank.example");
	DN_OK("/C=DE/CN=mx.bank.example/1.2.840.113549.1.9.1=x", "mx.bank.example");
	DN_OK("/C=DE/O=Big+20Bank/CN=mx.bank.example", "mx.bank.example");
	DN_OK("/CN=a+2Bb", "a+b");   /* xtext */
	DN_OK("/CN=a+2fb", "a/b");   /* '/' not before "TYPE=" stays */
	DN_OK("/CN=a/b/O=x", "a/b"); /* ... and so does a plain one */
	DN_OK("/CN=*.bank.example", "*.bank.example");
	DN_OK("/CN=a/=b", "a/=b"); /* "/=" starts no component */
	DN_OK("/O=x/OU=y/CN=z", "z");
	DN_BAD("/C=DE/O=Bank", "no CN");
	DN_BAD("", "no CN");
	DN_BAD("mx.bank.example", "no CN"); /* Postfix's form is not a DN */
	DN_BAD("/O=x+2FCN=evil/CN=mx.bank.example", "more than one CN");
	DN_BAD("/O=x/CN=evil/CN=mx.bank.example", "more than one CN");
	DN_BAD("/CN=/O=x", "empty CN");
	DN_BAD("/CN=", "empty CN");
	DN_BAD("/CN=a+2", "bad xtext");
	DN_BAD("/CN=a+", "bad xtext");
	DN_BAD("/CN=a+G0", "bad xtext");
	DN_BAD("/CN=a+00b", "NUL");
	/* The CN fills cn[] exactly, and one byte more does not fit. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "/CN=", 4);
	big[4 + 63] = '\0';
	DN_OK(big, big + 4);
	big[4 + 63] = 'x';
	big[4 + 64] = '\0';
	DN_BAD(big, "longer than 63");
	/* An embedded NUL in len bytes never passes as the end. */
	assert_int_equal(tlsmaps_dn_cn("/CN=a\0/CN=b", 11, cn, sizeof(cn), why, sizeof(why)), -1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_exact),         cmocka_unit_test(test_subdomain),
	        cmocka_unit_test(test_wildcard_cn),   cmocka_unit_test(test_words),
	        cmocka_unit_test(test_not_printable), cmocka_unit_test(test_parser),
	        cmocka_unit_test(test_decide),        cmocka_unit_test(test_every_entry),
	        cmocka_unit_test(test_reason_fits),   cmocka_unit_test(test_dn),
	};

	unit_select(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
