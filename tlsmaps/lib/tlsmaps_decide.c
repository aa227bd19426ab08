/*
 * NAME
 *	tlsmaps_decide.c - the one decision core of forcetls-policyd and forcetls-milter
 * SUMMARY
 *	tlsmaps_decide_inbound(), tlsmaps_decide_recipient(),
 *	tlsmaps_inbound_options_init(), tlsmaps_verdict_name()
 * DESCRIPTION
 *	SPEC section 3. The inbound check, "must this client use TLS, and
 *	does it?", and the outbound per-recipient check, "is mail to this
 *	recipient forced?", are written here once; policyd/inbound.c and the
 *	milter's envelope stage only translate what their MTA sends.
 *
 *	Inbound, in this order:
 *	1. An internal client (exempt_internal) or an authenticated one
 *	   (exempt_authenticated) passes: it sends outbound mail. Both are on
 *	   by default; either can be turned off.
 *	2. Every input is parsed: the client address (NULL, "" or "unknown"
 *	   is none), the client name (NULL, "", "unknown" and "[...]" are no
 *	   name; anything else must be a domain name), the sender's domain
 *	   (after the last '@', U-labels converted; an address without '@' or
 *	   "<>" has none; a domain literal "[192.0.2.7]" is an address) and the
 *	   key size (a decimal number; NULL or "" is 0). Any that does not
 *	   parse gives ERROR, whatever the table says.
 *	3. The strictest inbound entry among address, name and sender domain
 *	   (tlsmaps_level_rank; on a tie the first of them) is the one a
 *	   PASS names. Below encrypt: PASS.
 *	4. Every entry found, the strictest first, must be satisfied: the
 *	   client picks its name and the sender, so no entry may stand in for
 *	   another (a client name's secure entry for a sender domain's
 *	   match=). The first that refuses is the verdict.
 *	5. What an entry asks: below encrypt (none, may, dane), nothing;
 *	   else TLS, key size >= min_bits; verify and secure a verified
 *	   certificate; fingerprint a digest listed in match= (compared
 *	   without colons, ignoring case).
 *	   verify and secure with match=, and secure without it, also check
 *	   the certificate's CN (tlsmaps_certname.c): match=hostname is the
 *	   client name, nexthop the name whose lookup found that entry
 *	   (the client name or the sender's domain; none for an entry
 *	   found by an address).
 *	   dane and dane-only ask for TLS only: a client has no TLSA records.
 *
 *	The recipient check looks the recipient's domain up among outbound
 *	entries; FORCED means encrypt or stronger. A domain named before it, in
 *	a source route or a routed local part ("@d:u@local", "u%d@local",
 *	"d!u@local", "\"u@d\"@local", "u%d"), forces it too: the MTA may
 *	deliver there (percent hack, bang paths, source routes), and the
 *	milter cannot tell whether it will. Of several forced ones, one whose
 *	on_tls_failure defers decides (backup encryption needs them all).
 * DIAGNOSTICS
 *	Nothing is logged: the reason goes into the result for the caller's
 *	log line. Untrusted bytes in a reason are escaped.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "tlsmaps_int.h"

void tlsmaps_inbound_options_init(tlsmaps_inbound_options *o)
{
	o->exempt_internal = 1;
	o->exempt_authenticated = 1;
}

const char *tlsmaps_verdict_name(tlsmaps_verdict v)
{
	return v == TLSMAPS_VERDICT_PASS ? "PASS" : v == TLSMAPS_VERDICT_REFUSE ? "REFUSE" : "TEMP";
}

static int empty(const char *s)
{
	return s == NULL || *s == '\0';
}

/* Drop the angle brackets around an envelope address ('>' may be missing). */
static void unbracket(const char **addr, size_t *len)
{
	if (*len > 0 && (*addr)[0] == '<') {
		(*addr)++;
		(*len)--;
		if (*len > 0 && (*addr)[*len - 1] == '>')
			(*len)--;
	}
}

/*
 * The domain of an envelope address, parsed into q. Returns 1 with q
 * filled, 0 when the address has no domain, -1 with a reason.
 */
static int envelope_domain(const char *addr, size_t len, tlsmaps_query *q, char *why, size_t whylen)
{
	const char *at;
	char w[TLSMAPS_WHY_MAX];

	unbracket(&addr, &len);
	for (at = addr + len; at > addr && at[-1] != '@'; at--)
		;
	if (at == addr)
		return 0;
	len -= (size_t)(at - addr);
	if (tlsmaps_query_parse(at, len, q, w, sizeof(w)) < 0) {
		tm_why(why, whylen, "%s", w);
		return -1;
	}
	if (q->port != 0 ||
	    (q->kind != TLSMAPS_QUERY_NAME && q->kind != TLSMAPS_QUERY_LITERAL_ADDR)) {
		tm_why(why, whylen, "not a domain or an address literal");
		return -1;
	}
	return 1;
}

/* Every entry found (address, client name, sender domain), the strictest, the names. */
typedef struct {
	const tlsmaps_table *t;
	tlsmaps_id best;
	int rank;
	struct {
		tlsmaps_id id;
		const char *name; /* the name whose lookup found it; NULL: an address */
	} found[3];
	int nfound;
	char host[TLSMAPS_NAME_MAX + 2];   /* the client name, normalized; "" when none */
	char domain[TLSMAPS_NAME_MAX + 2]; /* the sender's domain, normalized */
} strictest;

/*
 * st and id: a lookup's result (two statements: argument order is
 * unspecified); name: what was looked up (m->host, m->domain), or NULL for
 * an address.
 */
static void consider(strictest *m, tlsmaps_status st, tlsmaps_id id, const char *name)
{
	int rank;

	if (st != TLSMAPS_FOUND || m->nfound >= 3)
		return;
	m->found[m->nfound].id = id;
	m->found[m->nfound++].name = name;
	rank = tlsmaps_level_rank(tlsmaps_entry_level(m->t, id));
	if (rank > m->rank) {
		m->best = id;
		m->rank = rank;
	}
}

static tlsmaps_verdict verdict(tlsmaps_inbound_result *r, tlsmaps_verdict v, const char *what,
                               const char *why)
{
	r->verdict = v;
	tm_why(r->reason, sizeof(r->reason), "%s%s%s", what, *why ? ": " : "", why);
	return v;
}

static int lookup_address(const tlsmaps_session *s, strictest *m, char *why, size_t whylen)
{
	tlsmaps_addr a;
	tlsmaps_id id = TLSMAPS_NO_ID;
	tlsmaps_status st;
	const char *text = s->client_address;
	char q[64];

	if (s->client_addr != NULL) {
		a = *s->client_addr;
	} else if (empty(text) || strcmp(text, "unknown") == 0) {
		return 0;
	} else if (tlsmaps_addr_parse(text, strlen(text), &a) < 0) {
		tm_why(why, whylen, "%s: not an address",
		       tm_quote(text, strlen(text), q, sizeof(q)));
		return -1;
	}
	st = tlsmaps_lookup_addr(m->t, &a, TLSMAPS_DIR_IN, &id);
	consider(m, st, id, NULL);
	return 0;
}

static int lookup_client_name(const char *name, strictest *m, char *why, size_t whylen)
{
	tlsmaps_query q;
	tlsmaps_id id = TLSMAPS_NO_ID;
	tlsmaps_status st;
	char w[TLSMAPS_WHY_MAX], e[64];

	if (empty(name) || strcmp(name, "unknown") == 0 || name[0] == '[')
		return 0;
	if (tlsmaps_query_parse(name, strlen(name), &q, w, sizeof(w)) < 0) {
		tm_why(why, whylen, "%s: %s", tm_quote(name, strlen(name), e, sizeof(e)), w);
		return -1;
	}
	if (q.kind != TLSMAPS_QUERY_NAME || q.port != 0) {
		tm_why(why, whylen, "%s: not a host name",
		       tm_quote(name, strlen(name), e, sizeof(e)));
		return -1;
	}
	snprintf(m->host, sizeof(m->host), "%s", q.name);
	st = tlsmaps_lookup_name(m->t, q.name, q.name_len, TLSMAPS_DIR_IN, &id);
	consider(m, st, id, m->host);
	return 0;
}

static int lookup_sender(const char *sender, strictest *m, char *why, size_t whylen)
{
	tlsmaps_query q;
	tlsmaps_id id = TLSMAPS_NO_ID;
	tlsmaps_status st;
	int rc;

	if (empty(sender))
		return 0;
	if ((rc = envelope_domain(sender, strlen(sender), &q, why, whylen)) <= 0)
		return rc;
	if (q.kind == TLSMAPS_QUERY_LITERAL_ADDR) {
		st = tlsmaps_lookup_addr(m->t, &q.addr, TLSMAPS_DIR_IN, &id);
		consider(m, st, id, NULL);
		return 0;
	}
	snprintf(m->domain, sizeof(m->domain), "%s", q.name);
	st = tlsmaps_lookup_name(m->t, q.name, q.name_len, TLSMAPS_DIR_IN, &id);
	consider(m, st, id, m->domain);
	return 0;
}

/* Digests compare without colons, case-insensitively, whole: no prefix match. */
static int digest_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < alen && a[i] == ':')
			i++;
		while (j < blen && b[j] == ':')
			j++;
		if (i == alen || j == blen)
			return i == alen && j == blen;
		if (toupper((unsigned char)a[i]) != toupper((unsigned char)b[j]))
			return 0;
		i++;
		j++;
	}
}

/* NULL when a given digest is listed in the entry's match=, else the reason. */
static const char *fingerprint_check(const tlsmaps_table *t, tlsmaps_id id,
                                     const tlsmaps_session *s)
{
	size_t len = 0;
	const char *match = tlsmaps_entry_attr(t, id, "match", &len);
	int given = 0, presented = 0;

	for (int h = 0; h < TLSMAPS_DIGESTS_MAX; h++) {
		const char *d = s->digests[h];
		size_t start = 0;

		given |= d != NULL;
		if (empty(d))
			continue;
		presented = 1;
		for (size_t i = 0; match != NULL && i <= len; i++)
			if (i == len || match[i] == '|') {
				if (i > start &&
				    digest_equal(match + start, i - start, d, strlen(d)))
					return NULL;
				start = i + 1;
			}
	}
	if (!given)
		return "fingerprint: the MTA gave no certificate digest";
	if (!presented)
		return "fingerprint: no client certificate";
	return "client certificate fingerprint not listed";
}

/* Step 4: what entry id, found by the name name (NULL: an address), asks of the session. */
static tlsmaps_verdict enforce(const strictest *m, tlsmaps_id id, const char *name,
                               const tlsmaps_session *s, unsigned bits, tlsmaps_inbound_result *r)
{
	const tlsmaps_table *t = m->t;
	tlsmaps_level level = tlsmaps_entry_level(t, id);
	tm_names names = {m->host[0] != '\0' ? m->host : NULL, name};
	char w[TLSMAPS_WHY_MAX];
	const char *why = NULL;

	if (!tlsmaps_level_mandatory(level))
		return verdict(r, TLSMAPS_VERDICT_PASS, "entry below encrypt", "");
	if (empty(s->tls_protocol)) {
		why = "no TLS";
	} else if (bits < tlsmaps_entry_min_bits(t, id)) {
		tm_why(r->reason, sizeof(r->reason), "key size %u below %u", bits,
		       tlsmaps_entry_min_bits(t, id));
		r->verdict = TLSMAPS_VERDICT_REFUSE;
		return r->verdict;
	} else if ((level == TLSMAPS_LEVEL_VERIFY || level == TLSMAPS_LEVEL_SECURE) &&
	           !s->cert_verified) {
		why = "no verified client certificate";
	} else if (level == TLSMAPS_LEVEL_VERIFY || level == TLSMAPS_LEVEL_SECURE) {
		why = tm_certname_check(t, id, s->cert_cn, &names, w, sizeof(w));
	} else if (level == TLSMAPS_LEVEL_FINGERPRINT) {
		why = fingerprint_check(t, id, s);
	}
	if (why != NULL)
		return verdict(r, TLSMAPS_VERDICT_REFUSE, why, "");
	return verdict(r, TLSMAPS_VERDICT_PASS, "TLS as the entry asks", "");
}

/*
 * Step 4 for every entry found: the strictest first, then the others in
 * lookup order. Each must be satisfied, or a client could pick which
 * entry's names apply (a client name with a secure entry of its own, a
 * forged sender domain with a CN rule). r->id: the entry that refused,
 * else the strictest.
 */
static tlsmaps_verdict enforce_all(const strictest *m, const tlsmaps_session *s, unsigned bits,
                                   tlsmaps_inbound_result *r)
{
	const char *best_name = NULL;
	tlsmaps_verdict v;

	for (int i = 0; i < m->nfound; i++)
		if (m->found[i].id == m->best) {
			best_name = m->found[i].name;
			break;
		}
	if ((v = enforce(m, m->best, best_name, s, bits, r)) != TLSMAPS_VERDICT_PASS)
		return v;
	for (int i = 0; i < m->nfound; i++) {
		if (m->found[i].id == m->best && m->found[i].name == best_name)
			continue;
		if (tlsmaps_level_mandatory(tlsmaps_entry_level(m->t, m->found[i].id)) &&
		    enforce(m, m->found[i].id, m->found[i].name, s, bits, r) !=
		            TLSMAPS_VERDICT_PASS) {
			r->id = m->found[i].id;
			return r->verdict;
		}
	}
	return enforce(m, m->best, best_name, s, bits, r); /* the strictest's reason */
}

tlsmaps_verdict tlsmaps_decide_inbound(const tlsmaps_table *t, const tlsmaps_session *s,
                                       const tlsmaps_inbound_options *o, tlsmaps_inbound_result *r)
{
	tlsmaps_inbound_options defaults;
	strictest m = {t, TLSMAPS_NO_ID, -1, {{0}}, 0, "", ""};
	char why[TLSMAPS_WHY_MAX] = "", q[64];
	unsigned bits = 0;

	if (o == NULL) {
		tlsmaps_inbound_options_init(&defaults);
		o = &defaults;
	}
	r->id = TLSMAPS_NO_ID;
	r->reason[0] = '\0';
	if (s->internal && o->exempt_internal)
		return verdict(r, TLSMAPS_VERDICT_PASS, "exempt: internal client", "");
	if (s->authenticated && o->exempt_authenticated)
		return verdict(r, TLSMAPS_VERDICT_PASS, "exempt: authenticated client", "");
	if (lookup_address(s, &m, why, sizeof(why)) < 0)
		return verdict(r, TLSMAPS_VERDICT_ERROR, "client address", why);
	if (lookup_client_name(s->client_name, &m, why, sizeof(why)) < 0)
		return verdict(r, TLSMAPS_VERDICT_ERROR, "client name", why);
	if (lookup_sender(s->sender, &m, why, sizeof(why)) < 0)
		return verdict(r, TLSMAPS_VERDICT_ERROR, "sender domain", why);
	if (!empty(s->key_size) &&
	    tm_parse_uint(s->key_size, strlen(s->key_size), 65535, &bits) < 0) {
		tm_why(why, sizeof(why), "%s: not a number",
		       tm_quote(s->key_size, strlen(s->key_size), q, sizeof(q)));
		return verdict(r, TLSMAPS_VERDICT_ERROR, "key size", why);
	}
	r->id = m.best;
	if (m.best == TLSMAPS_NO_ID)
		return verdict(r, TLSMAPS_VERDICT_PASS, "no inbound entry", "");
	return enforce_all(&m, s, bits, r);
}

/* The outbound entry for a recipient domain q: FOUND (r->id, r->domain), NOTFOUND or ERROR. */
static tlsmaps_status rcpt_lookup(const tlsmaps_table *t, const tlsmaps_query *q,
                                  tlsmaps_rcpt_result *r)
{
	if (q->kind == TLSMAPS_QUERY_LITERAL_ADDR) {
		tm_literal_text(q, 0, r->domain, sizeof(r->domain));
		return tlsmaps_lookup_nexthop(t, q, &r->id);
	}
	snprintf(r->domain, sizeof(r->domain), "%s", q->name);
	return tlsmaps_lookup_name(t, q->name, q->name_len, TLSMAPS_DIR_OUT, &r->id);
}

/* What separates the domains of a source route or a routed local part. */
static int route_sep(char c)
{
	return c == '@' || c == '%' || c == '!' || c == ':' || c == ',' || c == '"' || c == '\\';
}

/*
 * The part before the domain, "user%d", "d!user", "\"user@d\"" or
 * "@d1,@d2:user": an MTA may deliver to any domain named there (percent
 * hack, bang paths, dequoted local parts, source routes). 1 when one of
 * them is forced (r filled); tokens that are not domains route nowhere.
 * Among forced ones, the first whose on_tls_failure defers is r (else the
 * first): the backup may be asked for only when every one asks for it.
 */
static int routed_forced(const tlsmaps_table *t, const char *s, size_t len, tlsmaps_rcpt_result *r)
{
	tlsmaps_rcpt_result found;
	tlsmaps_query q;
	char w[TLSMAPS_WHY_MAX];
	int forced = 0;

	if (!memchr(s, '@', len) && !memchr(s, '%', len) && !memchr(s, '!', len))
		return 0;
	for (size_t i = 0, j; i < len; i = j) {
		const char *close = s[i] == '[' ? memchr(s + i, ']', len - i) : NULL;

		if (route_sep(s[i])) {
			j = i + 1;
			continue;
		}
		for (j = close != NULL ? (size_t)(close - s) + 1 : i; j < len && !route_sep(s[j]);
		     j++)
			;
		if (tlsmaps_query_parse(s + i, j - i, &q, w, sizeof(w)) < 0 || q.port != 0 ||
		    (q.kind != TLSMAPS_QUERY_NAME && q.kind != TLSMAPS_QUERY_LITERAL_ADDR))
			continue;
		if (rcpt_lookup(t, &q, &found) != TLSMAPS_FOUND ||
		    !tlsmaps_level_mandatory(tlsmaps_entry_level(t, found.id)))
			continue;
		if (!forced++ ||
		    tlsmaps_entry_on_tls_failure(t, found.id) == TLSMAPS_TLSFAIL_DEFER) {
			r->id = found.id;
			memcpy(r->domain, found.domain, sizeof(r->domain));
		}
		if (tlsmaps_entry_on_tls_failure(t, r->id) == TLSMAPS_TLSFAIL_DEFER)
			return 1;
	}
	return forced > 0;
}

tlsmaps_rcpt_status tlsmaps_decide_recipient(const tlsmaps_table *t, const char *rcpt, size_t len,
                                             tlsmaps_rcpt_result *r)
{
	const char *a = rcpt;
	size_t before = len;
	tlsmaps_query q;
	tlsmaps_status st;
	int rc;

	r->id = TLSMAPS_NO_ID;
	r->domain[0] = r->reason[0] = '\0';
	rc = envelope_domain(rcpt, len, &q, r->reason, sizeof(r->reason));
	if (rc < 0)
		return TLSMAPS_RCPT_ERROR;
	unbracket(&a, &before);
	if (rc > 0) { /* a domain: the part before its '@' may route elsewhere */
		st = rcpt_lookup(t, &q, r);
		if (st == TLSMAPS_ERROR) {
			tm_why(r->reason, sizeof(r->reason), "lookup failed");
			return TLSMAPS_RCPT_ERROR;
		}
		if (st != TLSMAPS_FOUND)
			r->id = TLSMAPS_NO_ID;
		else if (tlsmaps_level_mandatory(tlsmaps_entry_level(t, r->id)))
			return TLSMAPS_RCPT_FORCED;
		while (before > 0 && a[--before] != '@')
			;
	}
	if (routed_forced(t, a, before, r))
		return TLSMAPS_RCPT_FORCED;
	return TLSMAPS_RCPT_NOT_FORCED; /* r->id: the entry below encrypt, if any */
}
