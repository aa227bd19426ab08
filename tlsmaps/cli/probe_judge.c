/*
 * NAME
 *	probe_judge.c - tlsmaps probe: one SMTP session against the entry's level
 * SUMMARY
 *	probe_judge(), probe_append()
 * DESCRIPTION
 *	Each host is judged against the entry's level as Postfix would enforce
 *	it (tlsmaps_level_mandatory()): a mandatory level fails without
 *	STARTTLS or with a failed handshake, or when the cipher has fewer bits
 *	than min_bits. verify and secure also fail when the chain does not
 *	verify (system CA store or --CAfile) or when no name matches:
 *	X509_check_host() against match= (hostname, nexthop, dot-nexthop or
 *	literal names, ':'-separated), by default the MX host name for verify
 *	and nexthop:dot-nexthop for secure. fingerprint fails unless a match=
 *	digest ('|'-separated; sha256, sha1 or md5 by length) equals the
 *	certificate's or its public key's digest. none, may and dane never
 *	fail; dane-only is checked like encrypt (no TLSA lookup is done).
 *
 *	A session that did not get as far as the banner is "unreachable",
 *	whatever the level.
 * DIAGNOSTICS
 *	The verdict and its reason are written into the host_report.
 * SEE ALSO
 *	cmd_probe.c, probe.h, smtp_probe.c, Postfix TLS_README
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "probe.h"

void probe_append(char *buf, size_t len, const char *fmt, const char *s)
{
	size_t used = strlen(buf);

	if (used < len)
		snprintf(buf + used, len - used, fmt, s);
}

static void hex_digest(const unsigned char *md, unsigned n, char *out, size_t len, int colons)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (unsigned i = 0; i < n && o + 3 < len; i++) {
		if (colons && i > 0)
			out[o++] = ':';
		out[o++] = hex[md[i] >> 4];
		out[o++] = hex[md[i] & 15];
	}
	out[o] = '\0';
}

/* Does one match= digest (hex, colons allowed) equal the certificate's or its key's? */
static int fingerprint_matches(X509 *cert, const char *want, size_t wlen)
{
	char norm[2 * EVP_MAX_MD_SIZE + 1], got[2 * EVP_MAX_MD_SIZE + 1];
	unsigned char md[EVP_MAX_MD_SIZE];
	const EVP_MD *type;
	unsigned mdlen;
	size_t n = 0;

	for (size_t i = 0; i < wlen; i++) {
		if (want[i] == ':')
			continue;
		if (n + 1 >= sizeof(norm))
			return 0;
		norm[n++] = (char)(want[i] >= 'a' && want[i] <= 'f' ? want[i] - 32 : want[i]);
	}
	norm[n] = '\0';
	type = n == 64 ? EVP_sha256() : n == 40 ? EVP_sha1() : n == 32 ? EVP_md5() : NULL;
	if (type == NULL)
		return 0;
	if (X509_digest(cert, type, md, &mdlen) == 1) {
		hex_digest(md, mdlen, got, sizeof(got), 0);
		if (strcmp(got, norm) == 0)
			return 1;
	}
	if (X509_pubkey_digest(cert, type, md, &mdlen) == 1) {
		hex_digest(md, mdlen, got, sizeof(got), 0);
		if (strcmp(got, norm) == 0)
			return 1;
	}
	return 0;
}

static int cert_has_name(X509 *cert, const char *name)
{
	tlsmaps_addr a;

	if (tlsmaps_addr_parse(name, strlen(name), &a) == 0)
		return X509_check_ip_asc(cert, name, 0) == 1;
	return X509_check_host(cert, name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
}

/*
 * The names a certificate must carry at this level, Postfix's way:
 * match= for verify and secure, else hostname (verify) or
 * nexthop:dot-nexthop (secure); hostname for every other level, for the
 * report only.
 */
static size_t cert_names(const dest_report *d, const char *host, char names[][PROBE_NAME_BUF])
{
	const char *def = d->level == TLSMAPS_LEVEL_SECURE ? "nexthop:dot-nexthop" : "hostname";
	const char *m = NULL, *end;
	size_t mlen = 0, n = 0;

	if (d->level == TLSMAPS_LEVEL_VERIFY || d->level == TLSMAPS_LEVEL_SECURE)
		m = tlsmaps_entry_attr(d->t, d->id, "match", &mlen);
	if (m == NULL) {
		m = def;
		mlen = strlen(def);
	}
	for (end = m + mlen; m < end && n < PROBE_NAMES_MAX;) {
		const char *colon = memchr(m, ':', (size_t)(end - m));
		size_t len = colon != NULL ? (size_t)(colon - m) : (size_t)(end - m);

		if (len == 8 && strncasecmp(m, "hostname", 8) == 0)
			snprintf(names[n++], PROBE_NAME_BUF, "%s", host);
		else if (len == 7 && strncasecmp(m, "nexthop", 7) == 0)
			snprintf(names[n++], PROBE_NAME_BUF, "%s", d->nexthop);
		else if (len == 11 && strncasecmp(m, "dot-nexthop", 11) == 0)
			snprintf(names[n++], PROBE_NAME_BUF, ".%s", d->nexthop);
		else if (len > 0 && len < PROBE_HOST_MAX)
			snprintf(names[n++], PROBE_NAME_BUF, "%.*s", (int)len, m);
		m += len + (colon != NULL);
	}
	return n;
}

/* A session without TLS: judged here, 1. 0 when there is a TLS session to judge. */
static int judge_no_tls(host_report *h, const char *lvl, int mandatory)
{
	const smtp_probe_result *r = &h->r;

	switch (r->stage) {
	case SMTP_PROBE_NO_SESSION:
		h->v = VERDICT_UNREACHABLE;
		return 1;
	case SMTP_PROBE_NO_STARTTLS:
	case SMTP_PROBE_STARTTLS_REFUSED:
	case SMTP_PROBE_TLS_FAILED:
		if (mandatory) {
			h->v = VERDICT_FAIL;
			snprintf(h->reason, sizeof(h->reason), "%s requires %s", lvl,
			         r->stage == SMTP_PROBE_TLS_FAILED ? "a TLS session" : "STARTTLS");
		} else {
			snprintf(h->reason, sizeof(h->reason), "%s: delivery in clear text", lvl);
		}
		return 1;
	case SMTP_PROBE_TLS:
		break;
	}
	return 0;
}

/* The certificate's sha256, the names checked, and the first one it has. */
static void judge_names(const dest_report *d, host_report *h)
{
	const smtp_probe_result *r = &h->r;
	char names[PROBE_NAMES_MAX][PROBE_NAME_BUF];
	size_t nnames;

	if (r->cert != NULL) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen;

		if (X509_digest(r->cert, EVP_sha256(), md, &mdlen) == 1)
			hex_digest(md, mdlen, h->fingerprint, sizeof(h->fingerprint), 1);
	}
	nnames = cert_names(d, h->tg->name[0] != '\0' ? h->tg->name : h->addr, names);
	for (size_t i = 0; i < nnames; i++) {
		probe_append(h->checked, sizeof(h->checked), i > 0 ? ", %s" : "%s", names[i]);
		if (!h->name_match && r->cert != NULL && cert_has_name(r->cert, names[i])) {
			h->name_match = 1;
			snprintf(h->matched, sizeof(h->matched), "%s", names[i]);
		}
	}
}

/* fingerprint: 1 in fp_match when a match= digest is the certificate's. */
static void judge_fingerprint(const dest_report *d, host_report *h)
{
	const smtp_probe_result *r = &h->r;
	size_t mlen = 0;
	const char *m = tlsmaps_entry_attr(d->t, d->id, "match", &mlen), *end;

	h->fp_match = 0;
	for (end = m != NULL ? m + mlen : NULL; m != NULL && m < end && r->cert != NULL;) {
		const char *bar = memchr(m, '|', (size_t)(end - m));
		size_t len = bar != NULL ? (size_t)(bar - m) : (size_t)(end - m);

		if (fingerprint_matches(r->cert, m, len)) {
			h->fp_match = 1;
			break;
		}
		m += len + (bar != NULL);
	}
}

/* A mandatory level over TLS: the first requirement the session misses. */
static void judge_mandatory(const dest_report *d, host_report *h, const char *lvl)
{
	unsigned min_bits = tlsmaps_entry_min_bits(d->t, d->id);
	const smtp_probe_result *r = &h->r;

	if ((unsigned)(r->bits < 0 ? 0 : r->bits) < min_bits) {
		h->v = VERDICT_FAIL;
		snprintf(h->reason, sizeof(h->reason), "%d bits below min_bits=%u", r->bits,
		         min_bits);
	} else if (r->cert == NULL && d->level >= TLSMAPS_LEVEL_FINGERPRINT) {
		h->v = VERDICT_FAIL;
		snprintf(h->reason, sizeof(h->reason), "%s requires a server certificate", lvl);
	} else if ((d->level == TLSMAPS_LEVEL_VERIFY || d->level == TLSMAPS_LEVEL_SECURE) &&
	           r->verify != X509_V_OK) {
		h->v = VERDICT_FAIL;
		snprintf(h->reason, sizeof(h->reason), "%s: certificate not verified", lvl);
	} else if ((d->level == TLSMAPS_LEVEL_VERIFY || d->level == TLSMAPS_LEVEL_SECURE) &&
	           !h->name_match) {
		h->v = VERDICT_FAIL;
		snprintf(h->reason, sizeof(h->reason),
		         "%s: name mismatch: certificate has none of %s", lvl, h->checked);
	} else if (d->level == TLSMAPS_LEVEL_FINGERPRINT && h->fp_match != 1) {
		h->v = VERDICT_FAIL;
		snprintf(h->reason, sizeof(h->reason),
		         "fingerprint: no match= digest matches the certificate");
	} else if (d->level == TLSMAPS_LEVEL_DANE_ONLY) {
		snprintf(h->reason, sizeof(h->reason), "dane-only: TLSA records not checked");
	}
}

void probe_judge(const dest_report *d, host_report *h)
{
	const char *lvl = tlsmaps_level_name(d->level);
	int mandatory = tlsmaps_level_mandatory(d->level);

	h->fp_match = -1;
	h->v = VERDICT_PASS;
	if (judge_no_tls(h, lvl, mandatory))
		return;
	judge_names(d, h);
	if (d->level == TLSMAPS_LEVEL_FINGERPRINT)
		judge_fingerprint(d, h);
	if (mandatory)
		judge_mandatory(d, h, lvl);
}
