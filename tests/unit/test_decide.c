/*
 * NAME
 *	test_decide.c - unit tests of forcetls-milter's decisions (milter/decide.c)
 * DESCRIPTION
 *	decide_message() on message states as mlfi.c fills them: X-TLSLevel
 *	(exactly one, first, never downgraded, none inbound), spoofed trigger
 *	and status headers removed, the trigger added after X-TLSLevel, the
 *	gateway return path (success kept, failure: tls, hold, reject, pass),
 *	TLS-Required removal, subject tag stripping. Also decide_inbound() and
 *	decide_encrypted_content().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "decide.h"

static decide_config conf(void)
{
	decide_config c;

	memset(&c, 0, sizeof(c));
	strcpy(c.tls_header, "X-TLSLevel");
	strcpy(c.tls_require, "Require");
	strcpy(c.tls_try, "Try");
	c.opportunistic = 1;
	hdr_spec_parse("X-Encrypt: yes", &c.encrypt);
	hdr_spec_parse("X-Encrypt-Status: success", &c.encrypt_success);
	hdr_spec_parse("X-Encrypt-Status: failure", &c.encrypt_failure);
	hdr_spec_parse("X-Decrypt: yes", &c.decrypt);
	hdr_spec_parse("X-Decrypt-Status: success", &c.decrypt_success);
	hdr_spec_parse("X-Decrypt-Status: failure", &c.decrypt_failure);
	c.on_encrypt_failure = ON_FAIL_TLS;
	c.remove_tls_required = 1;
	return c;
}

static void note(const decide_config *c, msg_state *m, const char *name, unsigned idx,
                 const char *value)
{
	msg_note_header(m, decide_header_kind(c, name), name, idx, value);
}

/* "D:name:idx", "I:name:value", "A:name:value", "C:name:idx:value", "Q", "R" */
static void expect(const decision *d, const char *const *want, size_t n)
{
	char got[DECIDE_MAX_ACTIONS][700];

	for (size_t i = 0; i < d->n; i++) {
		const action *a = &d->a[i];

		switch (a->kind) {
		case ACT_DELETE:
			snprintf(got[i], sizeof(got[i]), "D:%s:%u", a->name, a->index);
			break;
		case ACT_INSERT_FIRST:
			snprintf(got[i], sizeof(got[i]), "I:%s:%s", a->name, a->value);
			break;
		case ACT_ADD:
			snprintf(got[i], sizeof(got[i]), "A:%s:%s", a->name, a->value);
			break;
		case ACT_CHANGE:
			snprintf(got[i], sizeof(got[i]), "C:%s:%u:%s", a->name, a->index, a->value);
			break;
		case ACT_QUARANTINE:
			snprintf(got[i], sizeof(got[i]), "Q");
			break;
		case ACT_REJECT:
			snprintf(got[i], sizeof(got[i]), "R");
			break;
		}
	}
	for (size_t i = 0; i < n && i < d->n; i++)
		if (strcmp(got[i], want[i]) != 0)
			fail_msg("action %zu: got %s, want %s (summary: %s)", i, got[i], want[i],
			         d->summary);
	if (d->n != n)
		fail_msg("%zu actions, want %zu (summary: %s)", d->n, n, d->summary);
}

static void test_outbound_forced_one_require_first(void **state)
{
	decide_config c = conf();
	msg_state m;
	decision d;
	const char *want[] = {"D:X-TLSLevel:2", "D:x-tlslevel:1", "I:X-TLSLevel:Require"};

	(void)state;
	memset(&m, 0, sizeof(m));
	m.dir = DIR_OUTBOUND;
	m.forced = 1;
	strcpy(m.forced_by, "rcpt bank.test");
	note(&c, &m, "x-tlslevel", 1, "Try");
	note(&c, &m, "X-TLSLevel", 2, "Try");
	decide_message(&c, &m, &d);
	expect(&d, want, 3);
	assert_non_null(strstr(d.summary, "tls=Require (rcpt bank.test)"));
}

static void test_outbound_try_and_no_downgrade(void **state)
{
	decide_config c = conf();
	msg_state m;
	decision d;
	const char *try[] = {"I:X-TLSLevel:Try"};
	const char *kept[] = {"D:X-TLSLevel:1", "I:X-TLSLevel:Require"};

	(void)state;
	memset(&m, 0, sizeof(m));
	m.dir = DIR_OUTBOUND;
	decide_message(&c, &m, &d);
	expect(&d, try, 1);
	note(&c, &m, "X-TLSLevel", 1, " require ");
	decide_message(&c, &m, &d);
	expect(&d, kept, 2);
	c.opportunistic = 0;
	memset(&m, 0, sizeof(m));
	m.dir = DIR_OUTBOUND;
	decide_message(&c, &m, &d);
	expect(&d, NULL, 0);
}

static void test_inbound_spoofs_removed(void **state)
{
	decide_config c = conf();
	msg_state m;
	decision d;
	const char *want[] = {"D:X-TLSLevel:1",       "D:X-Encrypt:1",        "D:X-Decrypt:1",
	                      "D:X-Encrypt-Status:1", "D:X-Decrypt-Status:1", "D:TLS-Required:1"};

	(void)state;
	memset(&m, 0, sizeof(m));
	m.dir = DIR_INBOUND;
	note(&c, &m, "X-TLSLevel", 1, "Require");
	note(&c, &m, "X-Encrypt", 1, "yes");
	note(&c, &m, "X-Encrypt-Status", 1, "success");
	note(&c, &m, "X-Decrypt", 1, "yes");
	note(&c, &m, "X-Decrypt-Status", 1, "success");
	note(&c, &m, "TLS-Required", 1, "No");
	note(&c, &m, "Subject", 1, "[encrypt] hello");
	decide_message(&c, &m, &d);
	expect(&d, want, 6);
}

static void test_flagged_trigger_after_tlslevel(void **state)
{
	decide_config c = conf();
	msg_state m;
	decision d;
	const char *want[] = {"I:X-TLSLevel:Try", "D:X-Encrypt:1", "D:TLS-Required:1",
	                      "A:X-Encrypt:yes"};

	(void)state;
	memset(&m, 0, sizeof(m));
	m.dir = DIR_OUTBOUND;
	m.flagged = 1;
	strcpy(m.flagged_by, "subject_tag");
	note(&c, &m, "X-Encrypt", 1, "no");
	note(&c, &m, "TLS-Required", 1, "No");
	decide_message(&c, &m, &d);
	expect(&d, want, 4);
	assert_non_null(strstr(d.summary, "encrypt=yes (subject_tag)"));
}

static void test_subject_strip(void **state)
{
	decide_config c = conf();
	msg_state m;
	decision d;
	const char *want[] = {"I:X-TLSLevel:Try", "C:Subject:1:Quarterly report",
	                      "A:X-Encrypt:yes"};

	(void)state;
	c.strip_subject_tag = 1;
	memset(&m, 0, sizeof(m));
	m.dir = DIR_OUTBOUND;
	m.flagged = m.subject_tagged = 1;
	note(&c, &m, "Subject", 1, " [ENCRYPT] Quarterly report");
	m.subject_tag_start = 0;
	m.subject_tag_end = 10;
	decide_message(&c, &m, &d);
	expect(&d, want, 3);
}

static void test_gateway_return(void **state)
{
	decide_config c = conf();
	msg_state m;
	decision d;
	const char *success[] = {"I:X-TLSLevel:Try", "D:X-Encrypt:1"};
	const char *fail_tls[] = {"I:X-TLSLevel:Require", "D:X-Encrypt:1"};
	const char *fail_hold[] = {"I:X-TLSLevel:Require", "D:X-Encrypt:1", "Q"};
	const char *fail_reject[] = {"I:X-TLSLevel:Try", "D:X-Encrypt:1", "R"};

	(void)state;
	memset(&m, 0, sizeof(m));
	m.dir = DIR_GATEWAY;
	note(&c, &m, "X-Encrypt", 1, "yes"); /* never routed back: no loop */
	note(&c, &m, "X-Encrypt-Status", 1, "success");
	decide_message(&c, &m, &d);
	expect(&d, success, 2);
	assert_non_null(strstr(d.summary, "gateway=success"));

	memset(&m, 0, sizeof(m));
	m.dir = DIR_GATEWAY;
	m.flagged = 1; /* a rule hit on gateway mail flags nothing */
	note(&c, &m, "X-Encrypt", 1, "yes");
	note(&c, &m, "X-Encrypt-Status", 1, "Failure");
	decide_message(&c, &m, &d);
	expect(&d, fail_tls, 2);
	c.on_encrypt_failure = ON_FAIL_HOLD;
	decide_message(&c, &m, &d);
	expect(&d, fail_hold, 3);
	c.on_encrypt_failure = ON_FAIL_REJECT;
	decide_message(&c, &m, &d);
	expect(&d, fail_reject, 3);
	c.on_encrypt_failure = ON_FAIL_PASS;
	decide_message(&c, &m, &d);
	expect(&d, success, 2);
}

static void test_inbound_decrypt(void **state)
{
	decide_config c = conf();
	msg_state m;
	decision d;
	const char *want[] = {"A:X-Decrypt:yes"};

	(void)state;
	memset(&m, 0, sizeof(m));
	m.dir = DIR_INBOUND;
	m.decrypt = 1;
	strcpy(m.decrypt_by, "Content-Type");
	decide_message(&c, &m, &d);
	expect(&d, want, 1);
	assert_true(decide_encrypted_content(
	        "multipart/encrypted; protocol=\"application/pgp-encrypted\""));
	assert_true(decide_encrypted_content(" Application/PKCS7-MIME; smime-type=enveloped-data"));
	assert_true(decide_encrypted_content("application/x-pkcs7-mime; name=smime.p7m"));
	assert_false(decide_encrypted_content("application/pkcs7-mime; smime-type=signed-data"));
	assert_false(decide_encrypted_content(
	        "multipart/signed; protocol=\"application/pgp-signature\""));
	assert_false(decide_encrypted_content("text/plain"));
}

static void test_hdr_spec(void **state)
{
	hdr_spec h;

	(void)state;
	assert_int_equal(hdr_spec_parse("X-Encrypt:  yes", &h), 0);
	assert_string_equal(h.name, "X-Encrypt");
	assert_string_equal(h.value, "yes");
	assert_int_equal(hdr_spec_parse("no colon", &h), -1);
	assert_int_equal(hdr_spec_parse(": value", &h), -1);
	assert_int_equal(hdr_spec_parse("X-A:", &h), -1);
	assert_int_equal(hdr_spec_parse("X A: b", &h), -1);
	assert_int_equal(hdr_spec_parse("X-A: b\r\nX-B: c", &h), -1);
}

static void test_inbound_enforcement(void **state)
{
	static const char table[] = "10.0.0.0/8 encrypt\n192.0.2.0/24 verify\n"
	                            "198.51.100.0/24 encrypt min_bits=256\n203.0.113.0/24 may\n";
	tlsmaps_builder *b = tlsmaps_builder_new(NULL);
	tlsmaps_table *t;
	tlsmaps_addr a;
	tlsmaps_id id;

	(void)state;
	tlsmaps_builder_add_buffer(b, "t", table, sizeof(table) - 1);
	t = tlsmaps_builder_finish(b, NULL);
	assert_non_null(t);
#define AT(s)                                                                                      \
	(tlsmaps_addr_parse(s, strlen(s), &a), tlsmaps_lookup_addr(t, &a, TLSMAPS_DIR_IN, &id), id)
	assert_string_equal(decide_inbound(t, AT("10.1.1.1"), "", "0", NULL, NULL), "no TLS");
	assert_null(decide_inbound(t, AT("10.1.1.1"), "TLSv1.3", "256", NULL, NULL));
	assert_string_equal(decide_inbound(t, AT("10.1.1.1"), "TLSv1.2", "56", NULL, NULL),
	                    "key size below min_bits");
	assert_string_equal(decide_inbound(t, AT("198.51.100.1"), "TLSv1.3", "128", NULL, NULL),
	                    "key size below min_bits");
	assert_string_equal(decide_inbound(t, AT("192.0.2.1"), "TLSv1.3", "256", "", NULL),
	                    "no verified client certificate");
	assert_null(decide_inbound(t, AT("192.0.2.1"), "TLSv1.3", "256", "mx.example", NULL));
	/* Sendmail: {verify} decides when present, whatever the subject says. */
	assert_string_equal(decide_inbound(t, AT("192.0.2.1"), "TLSv1.3", "256", "CN=x", "FAIL"),
	                    "no verified client certificate");
	assert_null(decide_inbound(t, AT("192.0.2.1"), "TLSv1.3", "256", "CN=x", "OK"));
	assert_null(decide_inbound(t, AT("203.0.113.9"), "", "0", NULL, NULL));
#undef AT
	tlsmaps_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_outbound_forced_one_require_first),
	        cmocka_unit_test(test_outbound_try_and_no_downgrade),
	        cmocka_unit_test(test_inbound_spoofs_removed),
	        cmocka_unit_test(test_flagged_trigger_after_tlslevel),
	        cmocka_unit_test(test_subject_strip),
	        cmocka_unit_test(test_gateway_return),
	        cmocka_unit_test(test_inbound_decrypt),
	        cmocka_unit_test(test_hdr_spec),
	        cmocka_unit_test(test_inbound_enforcement),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
