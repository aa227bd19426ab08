/*
 * NAME
 *	decide.c - forcetls-milter's decisions, free of libmilter
 * SUMMARY
 *	decide_message(), decide_inbound(), decide_header_kind(),
 *	decide_encrypted_content(), msg_note_header(), hdr_spec_parse()
 * DESCRIPTION
 *	See decide.h for the rules. Choices made here and written down in
 *	docs/forcetls-milter.8.scd:
 *	- A trusted Require is one already on mail from an outbound client or
 *	  from the gateway; it is never downgraded to Try.
 *	- Same-named headers are deleted from the highest index down, so
 *	  that no deletion shifts the index of the next.
 *	- TLS-Required is removed on inbound mail, on mail whose X-TLSLevel
 *	  ends as Require, and on mail routed to the gateway (the gateway hop
 *	  must keep its mandatory TLS).
 *	- Inbound, fingerprint entries need a verified certificate like
 *	  verify: a milter gets no certificate digest from Postfix.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decide.h"

int hdr_spec_parse(const char *s, hdr_spec *h)
{
	const char *colon = strchr(s, ':');
	size_t nlen;
	const char *v;

	if (colon == NULL || colon == s)
		return -1;
	nlen = (size_t)(colon - s);
	if (nlen >= sizeof(h->name))
		return -1;
	for (size_t i = 0; i < nlen; i++) /* RFC 5322 field name: printable, no colon */
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return -1;
	memcpy(h->name, s, nlen);
	h->name[nlen] = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (*v == '\0' || strlen(v) >= sizeof(h->value) || strpbrk(v, "\r\n") != NULL)
		return -1;
	snprintf(h->value, sizeof(h->value), "%s", v);
	return 0;
}

hdr_kind decide_header_kind(const decide_config *c, const char *name)
{
	if (strcasecmp(name, c->tls_header) == 0)
		return H_TLSLEVEL;
	if (strcasecmp(name, c->encrypt.name) == 0)
		return H_ENCRYPT;
	if (strcasecmp(name, c->encrypt_success.name) == 0 ||
	    strcasecmp(name, c->encrypt_failure.name) == 0)
		return H_ENCRYPT_STATUS;
	if (strcasecmp(name, c->decrypt.name) == 0)
		return H_DECRYPT;
	if (strcasecmp(name, c->decrypt_success.name) == 0 ||
	    strcasecmp(name, c->decrypt_failure.name) == 0)
		return H_DECRYPT_STATUS;
	if (strcasecmp(name, "TLS-Required") == 0)
		return H_TLS_REQUIRED;
	if (strcasecmp(name, "Subject") == 0)
		return H_SUBJECT;
	if (strcasecmp(name, "Content-Type") == 0)
		return H_CONTENT_TYPE;
	return H_OTHER;
}

void msg_note_header(msg_state *m, hdr_kind kind, const char *name, unsigned index,
                     const char *value)
{
	hdr_seen *h;
	hdr_name *g = NULL;

	if (kind == H_OTHER || kind >= H_KIND_COUNT || index == 0)
		return;
	for (size_t i = 0; i < m->nnames; i++)
		if (strcasecmp(m->names[i].name, name) == 0) {
			g = &m->names[i];
			break;
		}
	if (g == NULL && m->nnames < MSG_MAX_NAMES) {
		g = &m->names[m->nnames++];
		snprintf(g->name, sizeof(g->name), "%s", name);
		g->kind = kind;
	}
	if (g != NULL && index > g->count)
		g->count = index;
	if (m->nseen[kind] >= MSG_MAX_SEEN)
		return;
	h = &m->seen[kind][m->nseen[kind]++];
	snprintf(h->name, sizeof(h->name), "%s", name);
	snprintf(h->value, sizeof(h->value), "%s", value);
	h->index = index;
	if (g != NULL && index > g->seen_max)
		g->seen_max = index;
}

/* Header values compare without surrounding space, case-insensitively. */
static int value_is(const char *have, const char *want)
{
	size_t n;

	while (*have == ' ' || *have == '\t' || *have == '\r' || *have == '\n')
		have++;
	n = strlen(have);
	while (n > 0 && strchr(" \t\r\n", have[n - 1]) != NULL)
		n--;
	return n == strlen(want) && strncasecmp(have, want, n) == 0;
}

/*
 * DECIDE_MAX_ACTIONS is never reached: at most MSG_MAX_SEEN deletions per
 * kind plus one ranged deletion per name, and a few more actions.
 */
static action *push(decision *d, act_kind kind, const char *name, unsigned index, const char *value)
{
	action *a;

	if (d->n >= DECIDE_MAX_ACTIONS)
		return NULL;
	a = &d->a[d->n++];
	a->kind = kind;
	a->index = index;
	a->span = 1;
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->value, sizeof(a->value), "%s", value != NULL ? value : "");
	return a;
}

static void say(decision *d, const char *fmt, const char *a, const char *b)
{
	size_t used = strlen(d->summary);

	if (used + 1 >= sizeof(d->summary))
		return;
	snprintf(d->summary + used, sizeof(d->summary) - used, fmt, a, b);
}

/*
 * Delete every header of a kind, highest index first per name: first the
 * copies past those kept in seen[] (one ranged action per name), then the
 * kept ones in reverse order.
 */
static void delete_all(decision *d, const msg_state *m, hdr_kind kind, const char *label)
{
	char count[16];
	unsigned total = 0;

	for (size_t i = 0; i < m->nnames; i++) {
		const hdr_name *g = &m->names[i];

		if (g->kind != kind)
			continue;
		total += g->count;
		if (g->count > g->seen_max) {
			action *a = push(d, ACT_DELETE, g->name, g->count, NULL);

			if (a != NULL)
				a->span = g->count - g->seen_max;
		}
	}
	if (total == 0 && m->nseen[kind] == 0)
		return;
	for (size_t i = m->nseen[kind]; i-- > 0;)
		push(d, ACT_DELETE, m->seen[kind][i].name, m->seen[kind][i].index, NULL);
	if (m->nnames == 0) /* a state filled without names (older callers) */
		total = (unsigned)m->nseen[kind];
	snprintf(count, sizeof(count), "%u", total);
	say(d, " removed=%s*%s", label, count);
}

static int seen_value(const msg_state *m, hdr_kind kind, const hdr_spec *spec)
{
	for (size_t i = 0; i < m->nseen[kind]; i++)
		if (strcasecmp(m->seen[kind][i].name, spec->name) == 0 &&
		    value_is(m->seen[kind][i].value, spec->value))
			return 1;
	return 0;
}

static const char *dir_name(msg_dir dir)
{
	return dir == DIR_OUTBOUND ? "outbound" : dir == DIR_GATEWAY ? "gateway" : "inbound";
}

void decide_message(const decide_config *c, const msg_state *m, decision *d)
{
	const char *level = NULL, *why = "";
	int trusted_require = 0, failed = 0;

	d->n = 0;
	d->summary[0] = '\0';
	say(d, "direction=%s%s", dir_name(m->dir), "");

	/* The gateway's verdict, trusted only from the gateway. */
	if (m->dir == DIR_GATEWAY) {
		failed = seen_value(m, H_ENCRYPT_STATUS, &c->encrypt_failure);
		if (failed)
			say(d, " gateway=%s%s", "failure", "");
		else if (seen_value(m, H_ENCRYPT_STATUS, &c->encrypt_success))
			say(d, " gateway=%s%s", "success", "");
	}

	/* X-TLSLevel: exactly one, first; never downgraded; none inbound. */
	if (m->dir != DIR_INBOUND) {
		for (size_t i = 0; i < m->nseen[H_TLSLEVEL]; i++)
			if (value_is(m->seen[H_TLSLEVEL][i].value, c->tls_require))
				trusted_require = 1;
		if (m->forced) {
			level = c->tls_require;
			why = m->forced_by;
		} else if (failed && (c->on_encrypt_failure == ON_FAIL_TLS ||
		                      c->on_encrypt_failure == ON_FAIL_HOLD)) {
			/* hold too: a held message, once released, leaves only over TLS. */
			level = c->tls_require;
			why = c->on_encrypt_failure == ON_FAIL_HOLD ? "on_encrypt_failure=hold"
			                                            : "on_encrypt_failure=tls";
		} else if (trusted_require) {
			level = c->tls_require;
			why = "kept trusted Require";
		} else if (c->opportunistic) {
			level = c->tls_try;
			why = "opportunistic";
		}
	}
	delete_all(d, m, H_TLSLEVEL, c->tls_header);
	if (level != NULL) {
		push(d, ACT_INSERT_FIRST, c->tls_header, 0, level);
		say(d, " tls=%s (%s)", level, why);
	}

	/* Trigger headers never survive: spoofed, or the gateway's own (a loop). */
	delete_all(d, m, H_ENCRYPT, c->encrypt.name);
	delete_all(d, m, H_DECRYPT, c->decrypt.name);
	if (m->dir != DIR_GATEWAY) {
		delete_all(d, m, H_ENCRYPT_STATUS, c->encrypt_success.name);
		delete_all(d, m, H_DECRYPT_STATUS, c->decrypt_success.name);
	}

	/* RFC 8689 TLS-Required: no must not lower forced or gateway-bound mail. */
	if (m->dir == DIR_INBOUND || (level != NULL && strcmp(level, c->tls_require) == 0) ||
	    (m->dir == DIR_OUTBOUND && m->flagged) || (m->dir == DIR_INBOUND && m->decrypt))
		delete_all(d, m, H_TLS_REQUIRED, "TLS-Required");

	if (m->dir == DIR_OUTBOUND && m->flagged) {
		if (c->strip_subject_tag && m->subject_tagged && m->nseen[H_SUBJECT] > 0) {
			const hdr_seen *s = &m->seen[H_SUBJECT][0];
			char v[sizeof(s->value)];
			size_t len = strlen(s->value);

			if (m->subject_tag_end <= len &&
			    m->subject_tag_start <= m->subject_tag_end) {
				size_t head = m->subject_tag_start;
				const char *tail = s->value + m->subject_tag_end;

				while (*tail == ' ' || *tail == '\t')
					tail++;
				snprintf(v, sizeof(v), "%.*s%s", (int)head, s->value, tail);
				push(d, ACT_CHANGE, s->name, s->index, v);
				say(d, " subject=%s%s", "tag stripped", "");
			}
		}
		push(d, ACT_ADD, c->encrypt.name, 0, c->encrypt.value);
		say(d, " encrypt=yes (%s)%s", m->flagged_by, "");
	}
	if (m->dir == DIR_INBOUND && m->decrypt) {
		push(d, ACT_ADD, c->decrypt.name, 0, c->decrypt.value);
		say(d, " decrypt=yes (%s)%s", m->decrypt_by, "");
	}
	if (failed) {
		switch (c->on_encrypt_failure) {
		case ON_FAIL_HOLD:
			push(d, ACT_QUARANTINE, "", 0, "forcetls: the encryption gateway failed");
			say(d, " action=%s%s", "hold", "");
			break;
		case ON_FAIL_REJECT:
			push(d, ACT_REJECT, "", 0, "Encryption failed");
			say(d, " action=%s%s", "reject", "");
			break;
		case ON_FAIL_TLS:
		case ON_FAIL_PASS:
			break;
		}
	}
}

int decide_encrypted_content(const char *ct)
{
	char lower[512];
	size_t i;

	for (i = 0; ct[i] != '\0' && i + 1 < sizeof(lower); i++)
		lower[i] = (char)tolower((unsigned char)ct[i]);
	lower[i] = '\0';
	for (ct = lower; *ct == ' ' || *ct == '\t'; ct++)
		;
	if (strncmp(ct, "multipart/encrypted", 19) == 0)
		return 1;
	if (strncmp(ct, "application/pkcs7-mime", 22) == 0 ||
	    strncmp(ct, "application/x-pkcs7-mime", 24) == 0) {
		const char *st = strstr(ct, "smime-type");

		if (st == NULL)
			return 1; /* no smime-type: enveloped-data is the usual case */
		st += 10;
		while (*st == ' ' || *st == '=' || *st == '"')
			st++;
		return strncmp(st, "enveloped-data", 14) == 0 ||
		       strncmp(st, "authenveloped-data", 18) == 0;
	}
	return 0;
}

const char *decide_inbound(const tlsmaps_table *t, tlsmaps_id id, const char *tls_version,
                           const char *cipher_bits, const char *cert_subject, const char *verify)
{
	tlsmaps_level level = tlsmaps_entry_level(t, id);
	unsigned long bits;

	if (!tlsmaps_level_mandatory(level))
		return NULL;
	if (tls_version == NULL || *tls_version == '\0')
		return "no TLS";
	bits = cipher_bits != NULL ? strtoul(cipher_bits, NULL, 10) : 0;
	if (bits < tlsmaps_entry_min_bits(t, id))
		return "key size below min_bits";
	if (tlsmaps_level_needs_cert(level)) {
		int verified = verify != NULL && *verify != '\0'
		                       ? strcmp(verify, "OK") == 0
		                       : cert_subject != NULL && *cert_subject != '\0';

		if (!verified)
			return "no verified client certificate";
	}
	return NULL;
}
