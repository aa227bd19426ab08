/*
 * NAME
 *	test_decide.c - unit tests of forcetls-milter's decisions (milter/decide.c)
 * DESCRIPTION
 *	decide_message() on message states as mlfi.c fills them: X-TLSLevel
 *	(exactly one, first, never downgraded, none inbound), spoofed trigger
 *	and status headers removed, the trigger added after X-TLSLevel, the
 *	gateway return path (success kept, failure: tls, hold, reject, pass;
 *	every status copy counts, unknown values fail),
 *	TLS-Required removal, subject tag stripping. Also the tls_header
 *	settings and decide_encrypted_content(). Backup encryption
 *	(decide_backup.c): the backup header's place and every case without
 *	it. (The inbound check is
 *	libtlsmaps's: tests/unit/test_core.c.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
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

/* "D:name:idx", "I:name:value", "A:name:value", "C:name:idx:value", "Q", "R", "T" */
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
		case ACT_TEMPFAIL:
			snprintf(got[i], sizeof(got[i]), "T");
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
	m.mta = MTA_POSTFIX;
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
	m.mta = MTA_POSTFIX;
	m.dir = DIR_OUTBOUND;
	decide_message(&c, &m, &d);
	expect(&d, try, 1);
	note(&c, &m, "X-TLSLevel", 1, " require ");
	decide_message(&c, &m, &d);
	expect(&d, kept, 2);
	c.opportunistic = 0;
	memset(&m, 0, sizeof(m));
	m.mta = MTA_POSTFIX;
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
	m.mta = MTA_POSTFIX;
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
	m.mta = MTA_POSTFIX;
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
	m.mta = MTA_POSTFIX;
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
	m.mta = MTA_POSTFIX;
	m.dir = DIR_GATEWAY;
	note(&c, &m, "X-Encrypt", 1, "yes"); /* never routed back: no loop */
	note(&c, &m, "X-Encrypt-Status", 1, "success");
	decide_message(&c, &m, &d);
	expect(&d, success, 2);
	assert_non_null(strstr(d.summary, "gateway=success"));

	memset(&m, 0, sizeof(m));
	m.mta = MTA_POSTFIX;
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

/* Every status copy counts: a failure at copy 1,001 beats 1,000 successes. */
static void test_gateway_status_flood(void **state)
{
	decide_config c = conf();
	msg_state *m = calloc(1, sizeof(*m));
	decision d;
	unsigned i;

	(void)state;
	assert_non_null(m);
	m->dir = DIR_GATEWAY;
	for (i = 1; i <= 1000; i++)
		note(&c, m, "X-Encrypt-Status", i, "success");
	decide_message(&c, m, &d);
	assert_non_null(strstr(d.summary, "gateway=success"));
	assert_null(strstr(d.summary, "failure"));
	note(&c, m, "x-encrypt-status", i, " FAILURE\t");
	decide_message(&c, m, &d);
	assert_non_null(strstr(d.summary, "gateway=failure"));
	assert_non_null(strstr(d.summary, "tls=Require (on_encrypt_failure=tls)"));
	c.on_encrypt_failure = ON_FAIL_REJECT;
	decide_message(&c, m, &d);
	assert_int_equal(d.a[d.n - 1].kind, ACT_REJECT);

	/* The same with the failure first and successes after it. */
	memset(m, 0, sizeof(*m));
	m->dir = DIR_GATEWAY;
	note(&c, m, "X-Encrypt-Status", 1, "failure");
	for (i = 2; i <= 1000; i++)
		note(&c, m, "X-Encrypt-Status", i, "success");
	decide_message(&c, m, &d);
	assert_non_null(strstr(d.summary, "gateway=failure"));
	free(m);
}

/* A value that is neither success nor failure is a failure, and named. */
static void test_gateway_status_unknown(void **state)
{
	decide_config c = conf();
	msg_state m;
	decision d;
	const char *fail_tls[] = {"I:X-TLSLevel:Require"};

	(void)state;
	memset(&m, 0, sizeof(m));
	m.mta = MTA_POSTFIX;
	m.dir = DIR_GATEWAY;
	note(&c, &m, "X-Encrypt-Status", 1, "success");
	note(&c, &m, "X-Encrypt-Status", 2, " pending ");
	decide_message(&c, &m, &d);
	expect(&d, fail_tls, 1);
	assert_non_null(strstr(d.summary, "gateway=failure (unknown status \"pending\")"));

	/* Hostile bytes are escaped in the summary; many distinct values still fail. */
	memset(&m, 0, sizeof(m));
	m.mta = MTA_POSTFIX;
	m.dir = DIR_GATEWAY;
	for (unsigned i = 1; i <= 20; i++)
		note(&c, &m, "X-Encrypt-Status", i, i == 1 ? "a\"b\\\x01" : "success");
	for (unsigned i = 21; i <= 40; i++) {
		char v[16];

		snprintf(v, sizeof(v), "v%u", i);
		note(&c, &m, "X-Encrypt-Status", i, v);
	}
	decide_message(&c, &m, &d);
	assert_non_null(
	        strstr(d.summary, "gateway=failure (unknown status \"a\\x22b\\x5c\\x01\")"));

	/* All success: success; the decryption status is judged alike (logged). */
	memset(&m, 0, sizeof(m));
	m.mta = MTA_POSTFIX;
	m.dir = DIR_GATEWAY;
	note(&c, &m, "X-Encrypt-Status", 1, "Success");
	note(&c, &m, "X-Encrypt-Status", 2, "success ");
	note(&c, &m, "X-Decrypt-Status", 1, "success");
	note(&c, &m, "X-Decrypt-Status", 2, "half-done");
	decide_message(&c, &m, &d);
	assert_non_null(strstr(d.summary, "gateway=success"));
	assert_non_null(
	        strstr(d.summary, "decrypt_gateway=failure (unknown status \"half-done\")"));
	assert_null(strstr(d.summary, "tls=Require"));

	/* From anyone but the gateway: not judged, every copy deleted (past 64 too). */
	memset(&m, 0, sizeof(m));
	m.mta = MTA_POSTFIX;
	m.dir = DIR_OUTBOUND;
	for (unsigned i = 1; i <= 100; i++)
		note(&c, &m, "X-Encrypt-Status", i, "failure");
	decide_message(&c, &m, &d);
	assert_null(strstr(d.summary, "gateway="));
	assert_non_null(strstr(d.summary, "removed=X-Encrypt-Status*100"));
}

static void test_inbound_decrypt(void **state)
{
	decide_config c = conf();
	msg_state m;
	decision d;
	const char *want[] = {"A:X-Decrypt:yes"};

	(void)state;
	memset(&m, 0, sizeof(m));
	m.mta = MTA_POSTFIX;
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

/* tls_header and its values: refused at load rather than cut or confused. */
static void test_tls_header_setting(void **state)
{
	decide_config c;
	char why[256], long_name[200];

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(decide_tls_header(&c, "X-TLSLevel", "Require", "Try", why, sizeof(why)),
	                 0);
	assert_string_equal(c.tls_header, "X-TLSLevel");
	assert_string_equal(c.tls_require, "Require");
	assert_string_equal(c.tls_try, "Try");
	assert_int_equal(decide_tls_header(&c, "", "Require", "Try", why, sizeof(why)), -1);
	assert_int_equal(decide_tls_header(&c, "X TLS", "Require", "Try", why, sizeof(why)), -1);
	assert_int_equal(decide_tls_header(&c, "X-TLS:", "Require", "Try", why, sizeof(why)), -1);
	assert_int_equal(decide_tls_header(&c, "X-T\r\nBcc", "Require", "Try", why, sizeof(why)),
	                 -1);
	memset(long_name, 'X', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(decide_tls_header(&c, long_name, "Require", "Try", why, sizeof(why)), -1);
	assert_non_null(strstr(why, "milter.tls_header"));
	assert_int_equal(decide_tls_header(&c, "X-TLSLevel", "", "Try", why, sizeof(why)), -1);
	assert_int_equal(decide_tls_header(&c, "X-TLSLevel", "Re\nquire", "Try", why, sizeof(why)),
	                 -1);
	assert_int_equal(decide_tls_header(&c, "X-TLSLevel", "Require ", "Try", why, sizeof(why)),
	                 -1);
	assert_int_equal(
	        decide_tls_header(&c, "X-TLSLevel", "Require", "Require", why, sizeof(why)), -1);
	assert_int_equal(
	        decide_tls_header(&c, "X-TLSLevel", "Require", "require", why, sizeof(why)), -1);
	assert_non_null(strstr(why, "differ"));
	memset(long_name, 'r', 80);
	long_name[80] = '\0';
	assert_int_equal(decide_tls_header(&c, "X-TLSLevel", long_name, "Try", why, sizeof(why)),
	                 -1);
	/* Nothing was changed by the refusals. */
	assert_string_equal(c.tls_require, "Require");
}

/* Header routing needs Postfix: Sendmail, or an MTA that did not say, defers. */
static void test_header_routing_needs_postfix(void **state)
{
	decide_config c = conf();
	msg_state m;
	decision d;
	const char *defer[] = {"T"};
	const char *routed[] = {"I:X-TLSLevel:Try", "A:X-Encrypt:yes"};

	(void)state;
	for (int mta = MTA_UNKNOWN; mta <= MTA_SENDMAIL; mta++) {
		memset(&m, 0, sizeof(m));
		m.mta = (mta_kind)mta;
		m.dir = DIR_OUTBOUND;
		m.flagged = 1;
		strcpy(m.flagged_by, "subject_tag");
		c.relay = 0;
		decide_message(&c, &m, &d);
		if (mta == MTA_POSTFIX) {
			expect(&d, routed, 2);
		} else {
			expect(&d, defer, 1);
			assert_non_null(strstr(d.summary, "routing=header (needs Postfix"));
		}
		c.relay = 1; /* relay mode: the milter routes, on any MTA */
		decide_message(&c, &m, &d);
		expect(&d, routed, 2);
		/* Inbound mail to decrypt is routed the same way. */
		memset(&m, 0, sizeof(m));
		m.mta = (mta_kind)mta;
		m.dir = DIR_INBOUND;
		m.decrypt = 1;
		c.relay = 0;
		decide_message(&c, &m, &d);
		assert_int_equal(d.n > 0 && d.a[0].kind == ACT_TEMPFAIL, mta != MTA_POSTFIX);
	}
}

/* Sendmail: a Require from a header alone is held unless the table forces every recipient. */
static void test_sendmail_require_held(void **state)
{
	decide_config c = conf();
	msg_state m;
	decision d;
	int held;

	(void)state;
	for (int mta = MTA_UNKNOWN; mta <= MTA_SENDMAIL; mta++)
		for (unsigned nforced = 0; nforced <= 2; nforced++) {
			/* The gateway's failure, on_encrypt_failure = tls. */
			memset(&m, 0, sizeof(m));
			m.mta = (mta_kind)mta;
			m.dir = DIR_GATEWAY;
			m.nrcpt = 2;
			m.nforced = nforced;
			m.forced = nforced > 0;
			note(&c, &m, "X-Encrypt-Status", 1, "failure");
			decide_message(&c, &m, &d);
			held = d.n > 0 && d.a[d.n - 1].kind == ACT_QUARANTINE;
			if (held != (mta != MTA_POSTFIX && nforced < 2))
				fail_msg("mta %d, %u of 2 forced: held=%d (%s)", mta, nforced, held,
				         d.summary);
			/* A trusted Require kept from an internal client. */
			memset(&m, 0, sizeof(m));
			m.mta = (mta_kind)mta;
			m.dir = DIR_OUTBOUND;
			m.nrcpt = 2;
			m.nforced = nforced;
			m.forced = nforced > 0;
			note(&c, &m, "X-TLSLevel", 1, "Require");
			decide_message(&c, &m, &d);
			held = d.n > 0 && d.a[d.n - 1].kind == ACT_QUARANTINE;
			assert_int_equal(held, mta != MTA_POSTFIX && nforced < 2);
			/* Flagged too, in relay mode: the gateway gets it, nothing to hold. */
			m.flagged = 1;
			c.relay = 1;
			decide_message(&c, &m, &d);
			c.relay = 0;
			assert_false(d.n > 0 && d.a[d.n - 1].kind == ACT_QUARANTINE);
			/* Require from the table alone: enforced per recipient, never held. */
			memset(&m, 0, sizeof(m));
			m.mta = (mta_kind)mta;
			m.dir = DIR_OUTBOUND;
			m.nrcpt = 2;
			m.nforced = nforced;
			m.forced = nforced > 0;
			decide_message(&c, &m, &d);
			assert_false(d.n > 0 && d.a[d.n - 1].kind == ACT_QUARANTINE);
		}
}

/* A backup-eligible outbound message: every forced recipient backs up to the gateway. */
static msg_state backup_state(void)
{
	msg_state m;

	memset(&m, 0, sizeof(m));
	m.mta = MTA_POSTFIX;
	m.dir = DIR_OUTBOUND;
	m.forced = 1;
	m.nrcpt = 3;
	m.nforced = m.nbackup = 2;
	strcpy(m.forced_by, "rcpt bank.test");
	return m;
}

/*
 * Backup encryption (decide_backup.c): the order Postfix's milter_header_checks
 * need (copies deleted first, X-TLSLevel, the backup header at index 1, the
 * trigger last), and every case that gives no header.
 */
static void test_backup_header(void **state)
{
	decide_config c = conf();
	msg_state m = backup_state();
	decision d;
	const char *want[] = {"D:X-TLS-Backup:2", "D:x-tls-backup:1", "I:X-TLSLevel:Require",
	                      "I:X-TLS-Backup:gateway", "A:X-Encrypt:yes"};
	const char *plain[] = {"I:X-TLSLevel:Require"};

	(void)state;
	hdr_spec_parse("X-TLS-Backup: gateway", &c.backup);
	note(&c, &m, "x-tls-backup", 1, "gateway");
	note(&c, &m, "X-TLS-Backup", 2, "=?utf-8?q?gateway?=");
	m.flagged = 1;
	strcpy(m.flagged_by, "subject_tag");
	decide_message(&c, &m, &d);
	expect(&d, want, 5);
	assert_int_equal(d.a[3].index, 1);
	assert_int_equal(d.a[2].index, 0);
	assert_non_null(strstr(d.summary, "backup=gateway"));

	/* One forced recipient defers (or could not be parsed): no header. */
	m = backup_state();
	m.nbackup = 1;
	decide_message(&c, &m, &d);
	expect(&d, plain, 1);
	assert_non_null(strstr(d.summary, "backup=no (a forced recipient defers)"));
	/* Sendmail, and an MTA that did not say. */
	m = backup_state();
	m.mta = MTA_SENDMAIL;
	decide_message(&c, &m, &d);
	expect(&d, plain, 1);
	m.mta = MTA_UNKNOWN;
	decide_message(&c, &m, &d);
	expect(&d, plain, 1);
	/* Relay mode: flagged mail is handed over (no header), other mail gets it. */
	m = backup_state();
	c.relay = 1;
	decide_message(&c, &m, &d);
	assert_int_equal(d.n, 2);
	m.flagged = 1;
	decide_message(&c, &m, &d);
	assert_true(d.n == 2 && d.a[1].kind == ACT_ADD); /* X-TLSLevel, the trigger */
	assert_non_null(strstr(d.summary, "backup=no (relay mode"));
	c.relay = 0;
	/* A trusted Require header, the gateway's mail, inbound mail. */
	m = backup_state();
	note(&c, &m, "X-TLSLevel", 1, "Require");
	decide_message(&c, &m, &d);
	assert_int_equal(d.n, 2); /* the old copy deleted, Require inserted */
	m = backup_state();
	m.dir = DIR_GATEWAY;
	decide_message(&c, &m, &d);
	expect(&d, plain, 1);
	m.dir = DIR_INBOUND;
	decide_message(&c, &m, &d);
	assert_int_equal(d.n, 0);
	/* No backup_header configured (an older caller): never. */
	memset(&c.backup, 0, sizeof(c.backup));
	m = backup_state();
	decide_message(&c, &m, &d);
	expect(&d, plain, 1);
}

/* backup_header's name must not be one the milter already reads or writes. */
static void test_backup_check(void **state)
{
	decide_config c = conf();
	char why[256];

	(void)state;
	hdr_spec_parse("X-TLS-Backup: gateway", &c.backup);
	assert_int_equal(decide_backup_check(&c, why, sizeof(why)), 0);
	hdr_spec_parse("x-tlslevel: gateway", &c.backup);
	assert_int_equal(decide_backup_check(&c, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "milter.backup_header"));
	hdr_spec_parse("X-Encrypt-Status: gateway", &c.backup);
	assert_int_equal(decide_backup_check(&c, why, sizeof(why)), -1);
	hdr_spec_parse("subject: gateway", &c.backup);
	assert_int_equal(decide_backup_check(&c, why, sizeof(why)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_header_routing_needs_postfix),
	        cmocka_unit_test(test_sendmail_require_held),
	        cmocka_unit_test(test_outbound_forced_one_require_first),
	        cmocka_unit_test(test_outbound_try_and_no_downgrade),
	        cmocka_unit_test(test_inbound_spoofs_removed),
	        cmocka_unit_test(test_flagged_trigger_after_tlslevel),
	        cmocka_unit_test(test_subject_strip),
	        cmocka_unit_test(test_gateway_return),
	        cmocka_unit_test(test_gateway_status_flood),
	        cmocka_unit_test(test_gateway_status_unknown),
	        cmocka_unit_test(test_inbound_decrypt),
	        cmocka_unit_test(test_hdr_spec),
	        cmocka_unit_test(test_tls_header_setting),
	        cmocka_unit_test(test_backup_header),
	        cmocka_unit_test(test_backup_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
