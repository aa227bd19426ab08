/*
 * NAME
 *	decide.c - forcetls-milter's decisions, free of libmilter
 * SUMMARY
 *	decide_message(), decide_header_kind(), decide_encrypted_content(),
 *	msg_note_header(), hdr_spec_parse(), decide_tls_header()
 * DESCRIPTION
 *	See decide.h for the rules. Choices made here and written down in
 *	docs/forcetls-milter.8.scd:
 *	- A trusted Require is one already on mail from an outbound client or
 *	  from the gateway; it is never downgraded to Try. Copies beyond
 *	  MSG_MAX_SEEN (values not kept) count as a trusted Require: the
 *	  strict answer.
 *	- Same-named headers are deleted from the highest index down, so
 *	  that no deletion shifts the index of the next.
 *	- TLS-Required is removed on inbound mail, on mail whose X-TLSLevel
 *	  ends as Require, and on mail routed to the gateway (the gateway hop
 *	  must keep its mandatory TLS).
 *	- Gateway status: every copy counts (msg_status keeps the distinct
 *	  values with counts, not the copies). The verdict is failure when any
 *	  copy is the failure value or any other value, success when every
 *	  copy is the success value. The first unknown value is named in the
 *	  summary, escaped (bytes outside printable ASCII, '"' and '\\' as
 *	  \xNN) and cut to 64 bytes, since the summary is logged as it is. The
 *	  decryption status gets the same verdict, logged only: the SPEC has
 *	  no fallback for a failed decryption (the message is delivered as the
 *	  gateway returned it).
 *	- The inbound check and the forced recipients are not decided here:
 *	  libtlsmaps's decision core answers them for both daemons.
 *	- Backup encryption (the backup header) is decide_backup.c's; its
 *	  copies on a message are deleted here, in every direction, before
 *	  X-TLSLevel is inserted, and its own copy goes right after it.
 *	- tls_header and its two values are checked like the other header
 *	  settings: a field name, values without CR, LF or surrounding space,
 *	  nothing cut to fit, and Require and Try different (they compare
 *	  case-insensitively, so different ignoring case).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decide.h"

/* An RFC 5322 field name: printable ASCII, no colon, fits a buffer of size. */
static int field_name_ok(const char *s, size_t len, size_t size)
{
	if (len == 0 || len >= size)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == ':')
			return 0;
	return 1;
}

int hdr_spec_parse(const char *s, hdr_spec *h)
{
	const char *colon = strchr(s, ':');
	size_t nlen;
	const char *v;

	if (colon == NULL || !field_name_ok(s, (size_t)(colon - s), sizeof(h->name)))
		return -1;
	nlen = (size_t)(colon - s);
	memcpy(h->name, s, nlen);
	h->name[nlen] = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (*v == '\0' || strlen(v) >= sizeof(h->value) || strpbrk(v, "\r\n") != NULL)
		return -1;
	snprintf(h->value, sizeof(h->value), "%s", v);
	return 0;
}

/* A header value setting: not empty, no CR/LF, no surrounding space, fits. */
static int value_ok(const char *v, size_t size)
{
	size_t n = strlen(v);

	return n > 0 && n < size && strpbrk(v, "\r\n") == NULL && v[0] != ' ' && v[0] != '\t' &&
	       v[n - 1] != ' ' && v[n - 1] != '\t';
}

int decide_tls_header(decide_config *c, const char *name, const char *require, const char *try,
                      char *why, size_t whylen)
{
	if (!field_name_ok(name, strlen(name), sizeof(c->tls_header))) {
		snprintf(why, whylen,
		         "milter.tls_header: expected a header field name (printable, no space or "
		         "colon, at most %zu characters)",
		         sizeof(c->tls_header) - 1);
		return -1;
	}
	if (!value_ok(require, sizeof(c->tls_require)) || !value_ok(try, sizeof(c->tls_try))) {
		snprintf(why, whylen,
		         "milter.tls_require_value, milter.tls_try_value: expected a value of 1 to "
		         "%zu characters, without CR, LF or surrounding space",
		         sizeof(c->tls_require) - 1);
		return -1;
	}
	if (strcasecmp(require, try) == 0) {
		snprintf(
		        why, whylen,
		        "milter.tls_require_value, milter.tls_try_value: must differ (they compare "
		        "ignoring case)");
		return -1;
	}
	snprintf(c->tls_header, sizeof(c->tls_header), "%s", name);
	snprintf(c->tls_require, sizeof(c->tls_require), "%s", require);
	snprintf(c->tls_try, sizeof(c->tls_try), "%s", try);
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
	if (c->backup.name[0] != '\0' && strcasecmp(name, c->backup.name) == 0)
		return H_BACKUP;
	return H_OTHER;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* value without surrounding blanks: *len bytes from the result. */
static const char *trimmed(const char *value, size_t *len)
{
	size_t n;

	while (is_blank(*value))
		value++;
	n = strlen(value);
	while (n > 0 && is_blank(value[n - 1]))
		n--;
	*len = n;
	return value;
}

static void note_status(msg_status *st, const char *name, const char *value)
{
	size_t len;
	const char *v = trimmed(value != NULL ? value : "", &len);
	int cut = len >= sizeof(st->v[0].value);
	status_value *sv;

	st->copies++;
	if (cut)
		len = sizeof(st->v[0].value) - 1;
	for (size_t i = 0; i < st->n; i++) {
		sv = &st->v[i];
		if (sv->cut == cut && strcasecmp(sv->name, name) == 0 && strlen(sv->value) == len &&
		    strncasecmp(sv->value, v, len) == 0) {
			sv->count++;
			return;
		}
	}
	if (st->n == MSG_MAX_STATUS) {
		st->overflow++;
		return;
	}
	sv = &st->v[st->n++];
	snprintf(sv->name, sizeof(sv->name), "%s", name);
	memcpy(sv->value, v, len);
	sv->value[len] = '\0';
	sv->cut = cut;
	sv->count = 1;
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
	if (kind == H_ENCRYPT_STATUS || kind == H_DECRYPT_STATUS)
		note_status(&m->status[kind == H_DECRYPT_STATUS], name, value);
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

static int status_is(const status_value *sv, const hdr_spec *spec)
{
	return !sv->cut && strcasecmp(sv->name, spec->name) == 0 &&
	       strcasecmp(sv->value, spec->value) == 0;
}

/* s as "...", escaped and cut to 64 bytes, into out (at least 300 bytes). */
static void quoted(const char *s, int cut, char *out, size_t outlen)
{
	size_t o = 0;

	out[o++] = '"';
	for (size_t i = 0; s[i] != '\0' && i < 64 && o + 6 < outlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	snprintf(out + o, outlen - o, "%s\"", cut || strlen(s) > 64 ? "..." : "");
}

/*
 * The verdict of every copy: 1 failure (a failure value, or any value that
 * is neither), 0 success (every copy the success value), -1 no copy.
 */
static int status_verdict(const msg_status *st, const hdr_spec *ok, const hdr_spec *fail,
                          decision *d, const char *label)
{
	const status_value *other = NULL;
	int failed = 0;
	char q[300];

	if (st->copies == 0)
		return -1;
	for (size_t i = 0; i < st->n; i++) {
		if (status_is(&st->v[i], fail))
			failed = 1;
		else if (!status_is(&st->v[i], ok) && other == NULL)
			other = &st->v[i];
	}
	if (!failed && other == NULL) {
		say(d, " %s=%s", label, "success");
		return 0;
	}
	say(d, " %s=%s", label, "failure");
	if (other != NULL) {
		quoted(other->value, other->cut, q, sizeof(q));
		say(d, " (unknown status %s)%s", q, "");
	}
	return 1;
}

static const char *dir_name(msg_dir dir)
{
	return dir == DIR_OUTBOUND ? "outbound" : dir == DIR_GATEWAY ? "gateway" : "inbound";
}

/* Is there a Require from a trusted header (the client's or the gateway's own)? */
static int trusted_require(const decide_config *c, const msg_state *m)
{
	for (size_t i = 0; i < m->nseen[H_TLSLEVEL]; i++)
		if (value_is(m->seen[H_TLSLEVEL][i].value, c->tls_require))
			return 1;
	/* Copies beyond MSG_MAX_SEEN: their values are not kept, any may be Require. */
	for (size_t i = 0; i < m->nnames; i++)
		if (m->names[i].kind == H_TLSLEVEL && m->names[i].count > m->names[i].seen_max)
			return 1;
	return 0;
}

/* The one X-TLSLevel value (NULL: none) and why; failed: the gateway failed. */
static const char *tls_level(const decide_config *c, const msg_state *m, int failed,
                             const char **why)
{
	*why = "";
	if (m->dir == DIR_INBOUND)
		return NULL;
	if (m->forced) {
		*why = m->forced_by;
		return c->tls_require;
	}
	if (failed &&
	    (c->on_encrypt_failure == ON_FAIL_TLS || c->on_encrypt_failure == ON_FAIL_HOLD)) {
		/* hold too: a held message, once released, leaves only over TLS. */
		*why = c->on_encrypt_failure == ON_FAIL_HOLD ? "on_encrypt_failure=hold"
		                                             : "on_encrypt_failure=tls";
		return c->tls_require;
	}
	if (trusted_require(c, m)) {
		*why = "kept trusted Require";
		return c->tls_require;
	}
	if (c->opportunistic) {
		*why = "opportunistic";
		return c->tls_try;
	}
	return NULL;
}

/*
 * Sendmail enforces Require only per recipient (TLS_Rcpt: for the table's
 * forced domains). A Require that a header alone asks for, on a message
 * with a recipient the table does not force, is held instead. An MTA that
 * did not say what it is gets the same.
 */
static void sendmail_require(const decide_config *c, const msg_state *m, int failed, decision *d)
{
	int by_header = (failed && c->on_encrypt_failure == ON_FAIL_TLS) || trusted_require(c, m);

	if (m->mta == MTA_POSTFIX || !by_header || (m->nrcpt > 0 && m->nforced == m->nrcpt))
		return;
	/* Relay mode hands mail for the gateway over itself: the MTA never delivers it. */
	if (c->relay &&
	    ((m->dir == DIR_OUTBOUND && m->flagged) || (m->dir == DIR_INBOUND && m->decrypt)))
		return;
	push(d, ACT_QUARANTINE, "", 0,
	     "forcetls: X-TLSLevel: Require, which Sendmail cannot enforce for every recipient");
	say(d, " action=hold (%s)%s", "Sendmail: Require for recipients the table does not force",
	    "");
}

/* Header routing needs Postfix: elsewhere a message for the gateway is deferred. */
static int unroutable(const decide_config *c, const msg_state *m, decision *d)
{
	if (c->relay || m->mta == MTA_POSTFIX ||
	    !((m->dir == DIR_OUTBOUND && m->flagged) || (m->dir == DIR_INBOUND && m->decrypt)))
		return 0;
	push(d, ACT_TEMPFAIL, "", 0,
	     "forcetls: this MTA cannot route mail to the encryption gateway; try again later");
	say(d, " %s=yes (%s)", m->dir == DIR_OUTBOUND ? "encrypt" : "decrypt",
	    m->dir == DIR_OUTBOUND ? m->flagged_by : m->decrypt_by);
	say(d,
	    " routing=header (needs Postfix; the MTA is %s: set routing = "
	    "\"relay\")%s",
	    m->mta == MTA_SENDMAIL ? "Sendmail" : "unknown", "");
	return 1;
}

/* Outbound mail a rule flagged: the tag stripped (if asked), the trigger added. */
static void flagged_actions(const decide_config *c, const msg_state *m, decision *d)
{
	if (c->strip_subject_tag && m->subject_tagged && m->nseen[H_SUBJECT] > 0) {
		const hdr_seen *s = &m->seen[H_SUBJECT][0];
		char v[sizeof(s->value)];
		size_t len = strlen(s->value);

		if (m->subject_tag_end <= len && m->subject_tag_start <= m->subject_tag_end) {
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

static void failure_actions(const decide_config *c, decision *d)
{
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

void decide_message(const decide_config *c, const msg_state *m, decision *d)
{
	const char *level, *why;
	int failed = 0;

	d->n = 0;
	d->summary[0] = '\0';
	d->tlslevel = 0;
	d->gateway = -1;
	say(d, "direction=%s%s", dir_name(m->dir), "");
	if (unroutable(c, m, d))
		return;

	/* The gateway's verdict, trusted only from the gateway. */
	if (m->dir == DIR_GATEWAY) {
		d->gateway = status_verdict(&m->status[0], &c->encrypt_success, &c->encrypt_failure,
		                            d, "gateway");
		failed = d->gateway == 1;
		(void)status_verdict(&m->status[1], &c->decrypt_success, &c->decrypt_failure, d,
		                     "decrypt_gateway");
	}

	/* X-TLSLevel: exactly one, first; never downgraded; none inbound. */
	level = tls_level(c, m, failed, &why);
	delete_all(d, m, H_TLSLEVEL, c->tls_header);
	delete_all(d, m, H_BACKUP, c->backup.name); /* only the milter's own counts */
	if (level != NULL) {
		push(d, ACT_INSERT_FIRST, c->tls_header, 0, level);
		say(d, " tls=%s (%s)", level, why);
		d->tlslevel = strcmp(level, c->tls_require) == 0 ? 2 : 1;
	}
	if (decide_backup(c, m, trusted_require(c, m), &why)) /* right after X-TLSLevel */
		push(d, ACT_INSERT_FIRST, c->backup.name, 1, c->backup.value);
	if (why != NULL)
		say(d, " backup=%s%s", why, "");

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

	if (m->dir == DIR_OUTBOUND && m->flagged)
		flagged_actions(c, m, d);
	if (m->dir == DIR_INBOUND && m->decrypt) {
		push(d, ACT_ADD, c->decrypt.name, 0, c->decrypt.value);
		say(d, " decrypt=yes (%s)%s", m->decrypt_by, "");
	}
	if (failed)
		failure_actions(c, d);
	if (level != NULL && strcmp(level, c->tls_require) == 0 &&
	    !(failed &&
	      (c->on_encrypt_failure == ON_FAIL_HOLD || c->on_encrypt_failure == ON_FAIL_REJECT)))
		sendmail_require(c, m, failed, d);
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
