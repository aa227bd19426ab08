/*
 * NAME
 *	compile_sendmail.c - tlsmaps compile for Sendmail: access map entries
 * SUMMARY
 *	tlsmaps compile --format sendmail-access TABLE...
 * DESCRIPTION
 *	Writes access map lines "TAG:KEY<TAB>RHS" for makemap(8), to be used
 *	with FEATURE(`access_db') and FEATURE(`lookupdotdomain'). The facts
 *	behind the mapping are those of Sendmail 8.17 cf/README (STARTTLS,
 *	access_db, lookupdotdomain) and cf/m4/proto.m4 (tls_rcpt, tls_server,
 *	tls_client, TLS_connection, LookUpDomain, LookUpAddress):
 *
 *	- tls_rcpt looks up TLS_Rcpt:user@domain, TLS_Rcpt:user@,
 *	  TLS_Rcpt:domain, TLS_Rcpt: before each RCPT. The domain lookup is
 *	  LookUpDomain: "a.b.c", then ".b.c" (lookupdotdomain), then "b.c",
 *	  ".c", "c". A plain key "b.c" thus also matches every name under b.c.
 *	- tls_server (we are the client) looks up TLS_Srv:${server_name} with
 *	  LookUpDomain, and only when that finds nothing TLS_Srv:${server_addr}
 *	  with LookUpAddress: "192.0.2.7", "192.0.2", "192.0", "192"; IPv6 as
 *	  "IPv6:" plus the address. tls_client does the same with TLS_Clt:,
 *	  ${client_name} and ${client_addr}.
 *	- RHS: "ENCR:bits" (${cipher_bits} >= bits), "VERIFY:bits" (certificate
 *	  verified and bits). Any other value ends the search and accepts: "OK"
 *	  is the exception, "no requirement" (proto.m4: "some other value in
 *	  access map: accept"). Failures are temporary (403 4.7.0) unless the
 *	  .cf was built with TLS_PERM_ERR.
 *
 *	Outbound entries (direction out or both):
 *
 *	- domain "d": TLS_Rcpt:d. Because Sendmail's "d" also matches names
 *	  under d, and ours does not, a line TLS_Rcpt:.d carrying what the
 *	  table answers for names under d (the nearest parent entry, or OK
 *	  when none) is added when that answer differs and the table has no
 *	  ".d" entry. The result is exact, with lookupdotdomain.
 *	- parent ".d": TLS_Rcpt:.d (needs lookupdotdomain).
 *	- next hop "[host]", "[host]:port": TLS_Srv:host; "[192.0.2.7]":
 *	  TLS_Srv:192.0.2.7, raised to the requirement of an outbound network
 *	  entry holding that address when that one is stricter. Reported as
 *	  widened: TLS_Srv applies to every connection to that server (and, for
 *	  a name, to servers under it), and has no port. Next-hop exceptions
 *	  (none, may, dane) are not compiled and are reported: TLS_Srv:host OK
 *	  would also lift address requirements for that server.
 *	- network: TLS_Srv: address keys (below). Reported: tls_server checks
 *	  each server connection, while the table constrains a destination by
 *	  all its MX hosts; a domain with an MX host outside the range is not
 *	  forced by these lines.
 *
 *	Inbound entries (direction in or both):
 *
 *	- network: TLS_Clt: address keys.
 *	- domain and parent: TLS_Clt:d, TLS_Clt:.d (the client hostname;
 *	  reported: the sender's domain has no access-map TLS check). Names
 *	  under a domain d get a TLS_Clt:.d line when the table has a stricter
 *	  parent answer for them; else the widening is reported. Inbound name
 *	  exceptions are not compiled (a TLS_Clt name entry hides the client's
 *	  address entries) and are reported.
 *
 *	Address keys: an IPv4 network whose prefix is a multiple of 8 is one
 *	octet-prefix key ("10", "10.1", "10.1.2", "10.1.2.3"); another prefix
 *	is expanded into the octet prefixes of the next multiple of 8 (at most
 *	128 keys; /0 becomes the 256 "/8" keys). Keys that collide keep the
 *	longer source prefix, so LookUpAddress still finds the longest prefix
 *	of the table. IPv6: single addresses only, written both uncompressed
 *	("IPv6:2001:db8:0:0:0:0:0:1", Sendmail's default) and compressed
 *	("IPv6:2001:db8::1", with UseCompressedIPv6Addresses); IPv6 networks
 *	are reported and not compiled.
 *
 *	RHS: none, may, dane: OK. encrypt: ENCR:min_bits. Outbound verify,
 *	secure, fingerprint, dane-only: VERIFY:min_bits; inbound fingerprint,
 *	verify, secure: VERIFY:min_bits, other mandatory levels ENCR:min_bits.
 *	Reported: dane (compiled as OK), dane-only and fingerprint (compiled
 *	as VERIFY), verify and secure (VERIFY checks the chain, not the name),
 *	and any Postfix attribute (ciphers=, protocols=, match=, ...).
 *	When two entries give the same key with the same source prefix (a
 *	next hop "[192.0.2.7]" and a network "192.0.2.7"), the line carries
 *	the union of both requirements, and the weaker entry is reported.
 * DIAGNOSTICS
 *	err lines are "FILE:LINE: KEY: reason", several reasons of one entry
 *	joined by "; ". Returns the number of entries reported, or -1 on a
 *	write error or when out of memory.
 * SEE ALSO
 *	compile.h, docs/COMPILE.md, examples/sendmail/README, makemap(8),
 *	Sendmail cf/README sections STARTTLS and ANTI-SPAM CONFIGURATION CONTROL
 */
#include <stdlib.h>
#include <string.h>

#include "compile.h"

#define EXPAND_MAX 256 /* most keys one IPv4 network may expand into */

static const char tag_rcpt[] = "TLS_Rcpt";
static const char tag_srv[] = "TLS_Srv";
static const char tag_clt[] = "TLS_Clt";

/* A requirement, as the RHS of an access map entry says it. */
typedef struct {
	unsigned mandatory; /* 0: OK */
	unsigned verify;    /* VERIFY rather than ENCR */
	unsigned bits;
} sm_req;

/* One output line. */
typedef struct {
	const char *tag;
	char key[TLSMAPS_KEY_MAX + 8];
	sm_req req;
	tlsmaps_id id;   /* the entry it comes from */
	tlsmaps_id from; /* synthetic ".d" line: the parent entry, or TLSMAPS_NO_ID */
	unsigned prio;   /* address keys: the source prefix length */
	int synthetic;
	int dropped;
	size_t seq;
} sm_rec;

typedef struct {
	const tlsmaps_table *t;
	FILE *err;
	sm_rec *recs;
	size_t nrecs, cap;
	unsigned char *flagged; /* entries reported on err */
	int nflagged;
	int oom;
	sm_req net_union[2]; /* all mandatory network requirements, out [0] and in [1] */
	tlsmaps_id cur;      /* entry whose reasons are collected */
	char why[2048];
	size_t whylen;
} sm_ctx;

/* Collect a reason for entry c->cur; flush() prints them as one line. */
static void note(sm_ctx *c, const char *reason)
{
	size_t len = strlen(reason);

	if (c->whylen > 0 && c->whylen + 2 < sizeof(c->why)) {
		memcpy(c->why + c->whylen, "; ", 2);
		c->whylen += 2;
	}
	if (c->whylen + len >= sizeof(c->why))
		len = sizeof(c->why) - c->whylen - 1;
	memcpy(c->why + c->whylen, reason, len);
	c->whylen += len;
	c->why[c->whylen] = '\0';
}

static void flush(sm_ctx *c)
{
	if (c->whylen == 0)
		return;
	fprintf(c->err, "%s:%u: %s: %s\n", tlsmaps_entry_file(c->t, c->cur),
	        tlsmaps_entry_line(c->t, c->cur), tlsmaps_entry_key(c->t, c->cur), c->why);
	if (!c->flagged[c->cur]) {
		c->flagged[c->cur] = 1;
		c->nflagged++;
	}
	c->whylen = 0;
	c->why[0] = '\0';
}

static const char *rhs_text(const sm_req *r, char *buf, size_t len)
{
	if (!r->mandatory)
		snprintf(buf, len, "OK");
	else
		snprintf(buf, len, "%s:%u", r->verify ? "VERIFY" : "ENCR", r->bits);
	return buf;
}

static int req_equal(const sm_req *a, const sm_req *b)
{
	return a->mandatory == b->mandatory &&
	       (!a->mandatory || (a->verify == b->verify && a->bits == b->bits));
}

/* The union of two requirements: what satisfies it satisfies both. */
static void req_union(sm_req *a, const sm_req *b)
{
	if (!b->mandatory)
		return;
	if (!a->mandatory) {
		*a = *b;
		return;
	}
	a->verify |= b->verify;
	if (b->bits > a->bits)
		a->bits = b->bits;
}

/* True when b asks for something a does not. */
static int req_stricter(const sm_req *b, const sm_req *a)
{
	if (!b->mandatory)
		return 0;
	return !a->mandatory || (b->verify && !a->verify) || b->bits > a->bits;
}

/* The requirement of entry id in direction dir; reasons are noted when noisy. */
static sm_req entry_req(sm_ctx *c, tlsmaps_id id, unsigned dir, int noisy)
{
	tlsmaps_level level = tlsmaps_entry_level(c->t, id);
	sm_req r = {0, 0, tlsmaps_entry_min_bits(c->t, id)};

	if (!tlsmaps_level_mandatory(level)) {
		if (noisy && level == TLSMAPS_LEVEL_DANE && dir == TLSMAPS_DIR_OUT)
			note(c, "dane: the access map cannot require DANE (Sendmail's DANE option "
			        "applies it to every server); compiled as no requirement (OK)");
		return r;
	}
	r.mandatory = 1;
	if (dir == TLSMAPS_DIR_IN) {
		r.verify = (unsigned)tlsmaps_level_needs_cert(level);
		return r;
	}
	r.verify = level != TLSMAPS_LEVEL_ENCRYPT;
	if (!noisy)
		return r;
	switch (level) {
	case TLSMAPS_LEVEL_DANE_ONLY:
		note(c, "dane-only: compiled as VERIFY (a CA-verified certificate, or a "
		        "DANE-verified one with Sendmail's DANE option)");
		break;
	case TLSMAPS_LEVEL_FINGERPRINT:
		note(c, "fingerprint: certificate digests cannot be expressed; compiled as "
		        "VERIFY (any CA-verified certificate)");
		break;
	case TLSMAPS_LEVEL_VERIFY:
	case TLSMAPS_LEVEL_SECURE:
		note(c, "certificate name matching is not expressed: VERIFY checks the "
		        "certificate chain only");
		break;
	default:
		break;
	}
	return r;
}

static void note_attrs(sm_ctx *c, tlsmaps_id id)
{
	const char *attrs = tlsmaps_entry_attrs(c->t, id);
	char buf[TLSMAPS_POLICY_MAX + 64];

	if (*attrs == '\0')
		return;
	snprintf(buf, sizeof(buf), "Postfix attributes have no access-map form: %s", attrs);
	note(c, buf);
}

static sm_rec *add(sm_ctx *c, const char *tag, const char *key, const sm_req *r, unsigned prio)
{
	sm_rec *rec;

	if (c->nrecs == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		sm_rec *p = realloc(c->recs, cap * sizeof(*p));

		if (p == NULL) {
			c->oom = 1;
			return NULL;
		}
		c->recs = p;
		c->cap = cap;
	}
	rec = &c->recs[c->nrecs];
	memset(rec, 0, sizeof(*rec));
	rec->tag = tag;
	snprintf(rec->key, sizeof(rec->key), "%s", key);
	rec->req = *r;
	rec->id = c->cur;
	rec->from = TLSMAPS_NO_ID;
	rec->prio = prio;
	rec->seq = c->nrecs++;
	return rec;
}

/*
 * Names under domain entry "d": Sendmail's key "d" covers them, ours does
 * not. Add "TAG:.d" with the table's answer for them when that differs.
 */
static void subdomains(sm_ctx *c, const char *tag, unsigned dir, const sm_req *own)
{
	const char *key = tlsmaps_entry_key(c->t, c->cur);
	char dot[TLSMAPS_NAME_MAX + 2], a[32], buf[TLSMAPS_NAME_MAX * 2 + 128];
	sm_req sub = {0, 0, 0};
	tlsmaps_id p = TLSMAPS_NO_ID;
	sm_rec *rec;
	size_t len;

	snprintf(dot, sizeof(dot), ".%s", key);
	len = strlen(dot);
	if (tlsmaps_lookup_name(c->t, dot, len, dir, &p) == TLSMAPS_FOUND) {
		if (strcmp(tlsmaps_entry_key(c->t, p), dot) == 0)
			return; /* the table's own ".d" entry is compiled */
		sub = entry_req(c, p, dir, 0);
	} else {
		p = TLSMAPS_NO_ID;
	}
	if (req_equal(&sub, own))
		return;
	if (dir == TLSMAPS_DIR_IN && !sub.mandatory) {
		/* OK under TLS_Clt would hide address entries: keep the wider rule. */
		snprintf(buf, sizeof(buf),
		         "%s:%s also matches client names under %s, which the table leaves at "
		         "%s: stricter than the table",
		         tag, key, key, rhs_text(&sub, a, sizeof(a)));
		note(c, buf);
		return;
	}
	if ((rec = add(c, tag, dot, &sub, 0)) != NULL) {
		rec->synthetic = 1;
		rec->from = p;
	}
}

/* Address keys for a network; prio is the source prefix length. 0: none written. */
static int address_keys(sm_ctx *c, const char *tag, const tlsmaps_addr *a, unsigned prefix,
                        const sm_req *r)
{
	char key[TLSMAPS_ADDR_STR_MAX + 8], buf[128];

	if (a->family == 6) {
		if (prefix != 128) {
			snprintf(buf, sizeof(buf),
			         "IPv6 networks are not expressible (%s: keys are full IPv6 "
			         "addresses only); not compiled",
			         tag);
			note(c, buf);
			return 0;
		}
		int n = snprintf(key, sizeof(key), "IPv6:");

		for (int g = 0; g < 8; g++)
			n += snprintf(key + n, sizeof(key) - (size_t)n, "%s%x", g ? ":" : "",
			              (unsigned)a->bytes[2 * g] << 8 | a->bytes[2 * g + 1]);
		add(c, tag, key, r, prefix);
		memcpy(key, "IPv6:", 5);
		tlsmaps_addr_format(a, key + 5, sizeof(key) - 5);
		add(c, tag, key, r, prefix);
		return 1;
	}
	unsigned q = prefix == 0 ? 8 : (prefix + 7) / 8 * 8;
	unsigned long count = 1ul << (q - prefix);
	uint32_t base = (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 |
	                (uint32_t)a->bytes[2] << 8 | a->bytes[3];

	if (count > EXPAND_MAX) {
		snprintf(buf, sizeof(buf), "needs %lu octet-prefix keys (at most %d); not compiled",
		         count, EXPAND_MAX);
		note(c, buf);
		return 0;
	}
	for (unsigned long i = 0; i < count; i++) {
		uint32_t v = base + (uint32_t)(i << (32 - q));
		int n = 0;

		for (unsigned o = 0; o < q / 8; o++)
			n += snprintf(key + n, sizeof(key) - (size_t)n, "%s%u", o ? "." : "",
			              (unsigned)(v >> (24 - 8 * o)) & 0xff);
		add(c, tag, key, r, prefix);
	}
	return 1;
}

static void outbound_nexthop(sm_ctx *c)
{
	const tlsmaps_table *t = c->t;
	tlsmaps_id id = c->cur, n;
	const char *key = tlsmaps_entry_key(t, id), *end = strchr(key, ']');
	char host[TLSMAPS_KEY_MAX], buf[TLSMAPS_KEY_MAX * 2 + 200], x[32];
	size_t hlen = end ? (size_t)(end - key - 1) : 0;
	const char *h = key + 1;
	sm_req r;
	tlsmaps_addr a;

	if (!tlsmaps_level_mandatory(tlsmaps_entry_level(t, id))) {
		note(c, "exception on a literal next hop: not compiled (TLS_Srv:HOST OK would "
		        "apply to every connection to that server and lift its address "
		        "entries)");
		return;
	}
	r = entry_req(c, id, TLSMAPS_DIR_OUT, 1);
	note_attrs(c, id);
	if (hlen > 5 && strncmp(h, "ipv6:", 5) == 0) {
		h += 5;
		hlen -= 5;
	}
	snprintf(host, sizeof(host), "%.*s", (int)hlen, h);
	if (tlsmaps_entry_port(t, id) != 0)
		note(c, "TLS_Srv has no port: the requirement applies to every port");
	if (tlsmaps_addr_parse(host, hlen, &a) == 0) {
		unsigned prefix = a.family == 4 ? 32 : 128;

		if (tlsmaps_lookup_addr(t, &a, TLSMAPS_DIR_OUT, &n) == TLSMAPS_FOUND) {
			sm_req net = entry_req(c, n, TLSMAPS_DIR_OUT, 0);

			if (req_stricter(&net, &r)) {
				req_union(&r, &net);
				snprintf(buf, sizeof(buf),
				         "raised to %s: the address is inside %s (%s:%u), and "
				         "TLS_Srv keys name servers, not next hops",
				         rhs_text(&r, x, sizeof(x)), tlsmaps_entry_key(t, n),
				         tlsmaps_entry_file(t, n), tlsmaps_entry_line(t, n));
				note(c, buf);
			}
		}
		snprintf(buf, sizeof(buf),
		         "widened: TLS_Srv:%s applies to every connection to this address, not "
		         "only to the next hop %s (stricter than the table)",
		         host, key);
		note(c, buf);
		(void)address_keys(c, tag_srv, &a, prefix, &r);
		return;
	}
	snprintf(buf, sizeof(buf),
	         "widened: TLS_Srv:%s applies to every connection to %s and to servers under "
	         "it, not only to the next hop %s (stricter than the table)",
	         host, host, key);
	note(c, buf);
	if (req_stricter(&c->net_union[0], &r))
		note(c, "a TLS_Srv name entry hides the TLS_Srv address entries of the same "
		        "server, and the table has stricter outbound address entries");
	add(c, tag_srv, host, &r, 0);
}

static void outbound(sm_ctx *c)
{
	const tlsmaps_table *t = c->t;
	tlsmaps_id id = c->cur;
	tlsmaps_addr a;
	unsigned prefix;
	sm_req r;

	switch (tlsmaps_entry_kind(t, id)) {
	case TLSMAPS_KIND_DOMAIN:
		r = entry_req(c, id, TLSMAPS_DIR_OUT, 1);
		note_attrs(c, id);
		add(c, tag_rcpt, tlsmaps_entry_key(t, id), &r, 0);
		subdomains(c, tag_rcpt, TLSMAPS_DIR_OUT, &r);
		break;
	case TLSMAPS_KIND_PARENT:
		r = entry_req(c, id, TLSMAPS_DIR_OUT, 1);
		note_attrs(c, id);
		add(c, tag_rcpt, tlsmaps_entry_key(t, id), &r, 0);
		break;
	case TLSMAPS_KIND_NEXTHOP:
		outbound_nexthop(c);
		break;
	case TLSMAPS_KIND_NETWORK:
		r = entry_req(c, id, TLSMAPS_DIR_OUT, 1);
		note_attrs(c, id);
		tlsmaps_entry_network(t, id, &a, &prefix);
		if (address_keys(c, tag_srv, &a, prefix, &r) && r.mandatory)
			note(c, "TLS_Srv checks each server connection, not a destination's MX "
			        "set: mail to a domain with an MX host outside this range is not "
			        "forced");
		break;
	}
}

static void inbound(sm_ctx *c)
{
	const tlsmaps_table *t = c->t;
	tlsmaps_id id = c->cur;
	tlsmaps_kind kind = tlsmaps_entry_kind(t, id);
	sm_req r = entry_req(c, id, TLSMAPS_DIR_IN, 0);
	tlsmaps_addr a;
	unsigned prefix;

	if (kind == TLSMAPS_KIND_NETWORK) {
		tlsmaps_entry_network(t, id, &a, &prefix);
		(void)address_keys(c, tag_clt, &a, prefix, &r);
		return;
	}
	if (kind != TLSMAPS_KIND_DOMAIN && kind != TLSMAPS_KIND_PARENT)
		return; /* next hops are outbound only */
	if (!r.mandatory) {
		note(c, "inbound exception by name: not compiled (a TLS_Clt name entry hides "
		        "the client's address entries; the sender domain has no access-map "
		        "check)");
		return;
	}
	note(c, "inbound: TLS_Clt matches the client hostname only; the sender domain needs "
	        "forcetls-milter");
	if (req_stricter(&c->net_union[1], &r))
		note(c, "a TLS_Clt name entry hides the TLS_Clt address entries of the same "
		        "client, and the table has stricter inbound address entries");
	add(c, tag_clt, tlsmaps_entry_key(t, id), &r, 0);
	if (kind == TLSMAPS_KIND_DOMAIN)
		subdomains(c, tag_clt, TLSMAPS_DIR_IN, &r);
}

/* Same tag and key together; the longest source prefix, then the strictest, first. */
static int merge_cmp(const void *x, const void *y)
{
	const sm_rec *a = x, *b = y;
	int d = strcmp(a->tag, b->tag);

	if (d == 0)
		d = strcmp(a->key, b->key);
	if (d != 0)
		return d;
	if (a->prio != b->prio)
		return a->prio > b->prio ? -1 : 1;
	if (req_stricter(&a->req, &b->req) != req_stricter(&b->req, &a->req))
		return req_stricter(&a->req, &b->req) ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int output_cmp(const void *x, const void *y)
{
	const sm_rec *a = x, *b = y;

	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* One line per key: a longer source prefix shadows, equal ones are united. */
static void merge(sm_ctx *c)
{
	char buf[TLSMAPS_KEY_MAX * 2 + 200], x[32];

	qsort(c->recs, c->nrecs, sizeof(*c->recs), merge_cmp);
	for (size_t i = 0; i < c->nrecs;) {
		sm_rec *w = &c->recs[i];
		sm_req orig = w->req;
		size_t j = i + 1;

		for (; j < c->nrecs && w->tag == c->recs[j].tag &&
		       strcmp(w->key, c->recs[j].key) == 0;
		     j++) {
			sm_rec *l = &c->recs[j];

			l->dropped = 1;
			if (l->prio != w->prio || l->id == w->id)
				continue; /* longest prefix: as the table */
			req_union(&w->req, &l->req);
			if (req_equal(&w->req, &l->req))
				continue;
			c->cur = l->id;
			snprintf(buf, sizeof(buf),
			         "%s:%s is also given by %s (%s:%u); the line carries both "
			         "requirements: %s",
			         l->tag, l->key, tlsmaps_entry_key(c->t, w->id),
			         tlsmaps_entry_file(c->t, w->id), tlsmaps_entry_line(c->t, w->id),
			         rhs_text(&w->req, x, sizeof(x)));
			note(c, buf);
			flush(c);
		}
		if (!req_equal(&orig, &w->req)) {
			c->cur = w->id;
			snprintf(buf, sizeof(buf),
			         "%s:%s is also given by other entries; the line carries all their "
			         "requirements: %s",
			         w->tag, w->key, rhs_text(&w->req, x, sizeof(x)));
			note(c, buf);
			flush(c);
		}
		i = j;
	}
	qsort(c->recs, c->nrecs, sizeof(*c->recs), output_cmp);
}

static void print(sm_ctx *c, FILE *out)
{
	const tlsmaps_table *t = c->t;
	tlsmaps_id last = TLSMAPS_NO_ID;
	char x[32];

	fputs("# Sendmail access map entries, generated by tlsmaps compile --format "
	      "sendmail-access.\n"
	      "# Needs FEATURE(`access_db') and FEATURE(`lookupdotdomain'): without it the\n"
	      "# \".domain\" keys below are never looked up and subdomain rules are lost.\n"
	      "# Add to /etc/mail/access, then: makemap hash /etc/mail/access < "
	      "/etc/mail/access\n",
	      out);
	for (size_t i = 0; i < c->nrecs; i++) {
		const sm_rec *r = &c->recs[i];

		if (r->dropped)
			continue;
		if (r->id != last)
			fprintf(out, "# %s:%u %s %s\n", tlsmaps_entry_file(t, r->id),
			        tlsmaps_entry_line(t, r->id), tlsmaps_entry_key(t, r->id),
			        tlsmaps_level_name(tlsmaps_entry_level(t, r->id)));
		last = r->id;
		if (r->synthetic && r->from != TLSMAPS_NO_ID)
			fprintf(out, "# names under %s, as %s (%s:%u) answers them\n",
			        tlsmaps_entry_key(t, r->id), tlsmaps_entry_key(t, r->from),
			        tlsmaps_entry_file(t, r->from), tlsmaps_entry_line(t, r->from));
		else if (r->synthetic)
			fprintf(out, "# names under %s: no entry in the table\n",
			        tlsmaps_entry_key(t, r->id));
		fprintf(out, "%s:%s\t%s\n", r->tag, r->key, rhs_text(&r->req, x, sizeof(x)));
	}
}

int compile_sendmail_access(const tlsmaps_table *t, FILE *out, FILE *err)
{
	size_t count = tlsmaps_table_count(t);
	sm_ctx c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.t = t;
	c.err = err;
	if ((c.flagged = calloc(count ? count : 1, 1)) == NULL)
		return -1;
	for (tlsmaps_id id = 0; id < count; id++) {
		unsigned dir = tlsmaps_entry_direction(t, id);

		if (tlsmaps_entry_kind(t, id) != TLSMAPS_KIND_NETWORK)
			continue;
		if (dir & TLSMAPS_DIR_OUT) {
			sm_req r = entry_req(&c, id, TLSMAPS_DIR_OUT, 0);

			req_union(&c.net_union[0], &r);
		}
		if (dir & TLSMAPS_DIR_IN) {
			sm_req r = entry_req(&c, id, TLSMAPS_DIR_IN, 0);

			req_union(&c.net_union[1], &r);
		}
	}
	for (tlsmaps_id id = 0; id < count && !c.oom; id++) {
		unsigned dir = tlsmaps_entry_direction(t, id);

		c.cur = id;
		if (dir & TLSMAPS_DIR_OUT)
			outbound(&c);
		if (dir & TLSMAPS_DIR_IN)
			inbound(&c);
		flush(&c);
	}
	if (!c.oom) {
		merge(&c);
		print(&c, out);
	}
	rc = c.oom ? -1 : c.nflagged;
	free(c.recs);
	free(c.flagged);
	if (fflush(out) != 0 || ferror(out) || fflush(err) != 0 || ferror(err))
		return -1;
	return rc;
}
