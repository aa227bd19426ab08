/*
 * NAME
 *	test_tlsfail.c - unit tests of on_tls_failure= (libtlsmaps)
 * DESCRIPTION
 *	The attribute's values, where it may be given (encrypt and stronger,
 *	outbound, domain keys only), the table-wide default and the entries it
 *	reaches, and that it never reaches Postfix's policy text.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tlsmaps.h"
#include "unit_util.h"

static const char table_text[] = "bank.example encrypt on_tls_failure=gateway\n"             /* 1 */
                                 ".bank.example verify on_tls_failure=gateway\n"             /* 2 */
                                 "ins.example encrypt on_tls_failure=defer\n"                /* 3 */
                                 "plain.example encrypt\n"                                   /* 4 */
                                 "may.example may\n"                                         /* 5 */
                                 "192.0.2.0/24 encrypt\n"                                    /* 6 */
                                 "[mx.lit.example] encrypt\n"                                /* 7 */
                                 "in.example encrypt direction=in\n"                         /* 8 */
                                 "sec.example secure match=nexthop on_tls_failure=gateway\n" /* 9 */
                                 "10.9.0.0/16 encrypt on_tls_failure=defer\n"; /* 10 */

static tlsmaps_tls_failure at(const tlsmaps_table *t, unsigned line)
{
	return tlsmaps_entry_on_tls_failure(t, id_at_line(t, line));
}

static tlsmaps_table *build_with_default(tlsmaps_tls_failure def)
{
	tlsmaps_options o;
	unsigned nerrors = 99;
	tlsmaps_table *t;

	tlsmaps_options_init(&o);
	o.on_tls_failure = def;
	t = build_table("tlsfail.map", table_text, &o, NULL, &nerrors);
	assert_non_null(t);
	assert_int_equal(nerrors, 0);
	return t;
}

static void test_default_defer(void **state)
{
	tlsmaps_table *t = build_with_default(TLSMAPS_TLSFAIL_DEFER);

	(void)state;
	assert_int_equal(at(t, 1), TLSMAPS_TLSFAIL_GATEWAY);
	assert_int_equal(at(t, 2), TLSMAPS_TLSFAIL_GATEWAY);
	assert_int_equal(at(t, 3), TLSMAPS_TLSFAIL_DEFER);
	assert_int_equal(at(t, 4), TLSMAPS_TLSFAIL_DEFER);
	assert_int_equal(at(t, 9), TLSMAPS_TLSFAIL_GATEWAY);
	assert_true(tlsmaps_entry_on_tls_failure_explicit(t, id_at_line(t, 3)));
	assert_false(tlsmaps_entry_on_tls_failure_explicit(t, id_at_line(t, 4)));
	tlsmaps_table_free(t);
}

/* The default reaches outbound domain entries of encrypt or stronger, and no other. */
static void test_default_gateway(void **state)
{
	tlsmaps_table *t = build_with_default(TLSMAPS_TLSFAIL_GATEWAY);

	(void)state;
	assert_int_equal(at(t, 1), TLSMAPS_TLSFAIL_GATEWAY);
	assert_int_equal(at(t, 3), TLSMAPS_TLSFAIL_DEFER); /* explicit defer wins */
	assert_int_equal(at(t, 4), TLSMAPS_TLSFAIL_GATEWAY);
	assert_int_equal(at(t, 5), TLSMAPS_TLSFAIL_DEFER);  /* may */
	assert_int_equal(at(t, 6), TLSMAPS_TLSFAIL_DEFER);  /* network */
	assert_int_equal(at(t, 7), TLSMAPS_TLSFAIL_DEFER);  /* next hop */
	assert_int_equal(at(t, 8), TLSMAPS_TLSFAIL_DEFER);  /* inbound only */
	assert_int_equal(at(t, 10), TLSMAPS_TLSFAIL_DEFER); /* network, explicit defer */
	tlsmaps_table_free(t);
}

/* forcetls's own attribute: never in the text Postfix gets. */
static void test_not_in_policy_text(void **state)
{
	tlsmaps_table *t = build_with_default(TLSMAPS_TLSFAIL_DEFER);
	char buf[TLSMAPS_POLICY_MAX];

	(void)state;
	assert_true(tlsmaps_policy(t, id_at_line(t, 1), buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "encrypt");
	assert_true(tlsmaps_policy(t, id_at_line(t, 9), buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "secure match=nexthop");
	assert_string_equal(tlsmaps_entry_attrs(t, id_at_line(t, 2)), "");
	assert_null(tlsmaps_entry_attr(t, id_at_line(t, 2), "on_tls_failure", NULL));
	assert_string_equal(tlsmaps_tls_failure_name(TLSMAPS_TLSFAIL_GATEWAY), "gateway");
	assert_string_equal(tlsmaps_tls_failure_name(TLSMAPS_TLSFAIL_DEFER), "defer");
	tlsmaps_table_free(t);
}

/* A deferring entry under a gateway parent: the transport map must answer ":" for it. */
static void test_backup_parent(void **state)
{
	tlsmaps_table *t = build_table("parent.map",
	                               ".bank.example encrypt on_tls_failure=gateway\n"
	                               "sub.bank.example encrypt\n"
	                               "other.example encrypt\n",
	                               NULL, NULL, NULL);

	(void)state;
	assert_non_null(t);
	assert_true(tlsmaps_backup_parent(t, "sub.bank.example", 16));
	assert_true(tlsmaps_backup_parent(t, "a.sub.bank.example", 18));
	assert_true(tlsmaps_backup_parent(t, ".sub.bank.example", 17));
	assert_false(tlsmaps_backup_parent(t, "bank.example", 12)); /* ".example": nothing */
	assert_false(tlsmaps_backup_parent(t, "other.example", 13));
	assert_false(tlsmaps_backup_parent(t, ".bank.example", 13));
	assert_false(tlsmaps_backup_parent(t, "", 0));
	tlsmaps_table_free(t);
}

/*
 * A routed recipient names several domains; the MTA may deliver to any of
 * them ("u%bank%ins@local": the percent hack turns it into "u%bank@ins").
 * The backup is asked for only when every forced one asks for the gateway:
 * a deferring one decides, wherever it stands in the route.
 */
static void test_routed_defer_wins(void **state)
{
	tlsmaps_table *t = build_table("routed.map",
	                               "bank.example encrypt on_tls_failure=gateway\n"
	                               "ins.example encrypt\n",
	                               NULL, NULL, NULL);
	const char *defer[] = {
	        "<u%bank.example%ins.example@local.example>",
	        "<u%ins.example%bank.example@local.example>",
	        "<@bank.example,@ins.example:u@local.example>",
	        "<ins.example!bank.example!u@local.example>",
	        "<\"u%bank.example@ins.example\"@local.example>",
	};
	tlsmaps_rcpt_result r;

	(void)state;
	assert_non_null(t);
	for (size_t i = 0; i < sizeof(defer) / sizeof(defer[0]); i++) {
		assert_int_equal(tlsmaps_decide_recipient(t, defer[i], strlen(defer[i]), &r),
		                 TLSMAPS_RCPT_FORCED);
		if (tlsmaps_entry_on_tls_failure(t, r.id) != TLSMAPS_TLSFAIL_DEFER) {
			print_error("%s: decided by %s, which asks for the gateway\n", defer[i],
			            tlsmaps_entry_key(t, r.id));
			fail();
		}
	}
	assert_int_equal(tlsmaps_decide_recipient(t, "<u%bank.example@local.example>", 30, &r),
	                 TLSMAPS_RCPT_FORCED);
	assert_int_equal(tlsmaps_entry_on_tls_failure(t, r.id), TLSMAPS_TLSFAIL_GATEWAY);
	assert_string_equal(r.domain, "bank.example");
	tlsmaps_table_free(t);
}

/* The U-label form that tlsmaps compile writes next to an A-label key. */
static void test_name_ulabel(void **state)
{
	char out[TLSMAPS_KEY_MAX * 4 + 1];

	(void)state;
	assert_int_equal(tlsmaps_name_ulabel("xn--bcher-kva.example", out, sizeof(out)), 1);
	assert_string_equal(out, "b\xc3\xbc"
	                         "cher.example");
	assert_int_equal(tlsmaps_name_ulabel(".xn--strae-oqa.example", out, sizeof(out)), 1);
	assert_string_equal(out, ".stra\xc3\x9f"
	                         "e.example");
	assert_int_equal(tlsmaps_name_ulabel("bank.example", out, sizeof(out)), 0);
	assert_int_equal(tlsmaps_name_ulabel("xn--bcher-kva.example", out, 8), -1);
	assert_int_equal(tlsmaps_name_ulabel("xn--zz.example", out, sizeof(out)), -1);
}

static void expect_error(const char *line, const char *word)
{
	struct diags d;
	unsigned nerrors = 0;
	const struct diag *g;
	tlsmaps_table *t = build_table("bad.map", line, NULL, &d, &nerrors);

	if (t != NULL || nerrors != 1 || (g = diags_at(&d, "bad.map", 1)) == NULL ||
	    !contains_ci(g->msg, word)) {
		print_error("%s: want one error with \"%s\", got %u\n", line, word, nerrors);
		diags_print(&d);
		tlsmaps_table_free(t);
		fail();
	}
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("x.example may on_tls_failure=gateway\n", "applies to encrypt");
	expect_error("x.example dane on_tls_failure=defer\n", "applies to encrypt");
	expect_error("x.example none on_tls_failure=gateway\n", "applies to encrypt");
	expect_error("x.example encrypt on_tls_failure=maybe\n", "expected defer or gateway");
	expect_error("x.example encrypt on_tls_failure=\n", "empty value");
	expect_error("x.example encrypt on_tls_failure=gateway on_tls_failure=defer\n", "twice");
	expect_error("x.example encrypt direction=in on_tls_failure=gateway\n", "direction=in");
	expect_error("192.0.2.0/24 encrypt on_tls_failure=gateway\n", "domain key");
	expect_error("10.1.* encrypt on_tls_failure=gateway\n", "domain key");
	expect_error("[mx.example]:25 encrypt on_tls_failure=gateway\n", "domain key");
	expect_error("x.example encrypt On_TLS_Failure=Gateway direction=In\n", "direction=in");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_default_defer),      cmocka_unit_test(test_default_gateway),
	        cmocka_unit_test(test_not_in_policy_text), cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_backup_parent),      cmocka_unit_test(test_routed_defer_wins),
	        cmocka_unit_test(test_name_ulabel),
	};

	unit_select(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
