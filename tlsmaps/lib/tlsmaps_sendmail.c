/*
 * NAME
 *	tlsmaps_sendmail.c - the table as Sendmail access map entries
 * SUMMARY
 *	tlsmaps_smap_build(), tlsmaps_smap_print(), tlsmaps_smap_free()
 * DESCRIPTION
 *	Builds the access map lines "TAG:KEY<TAB>RHS" that tlsmaps compile
 *	--format sendmail-access writes for makemap(8) and forcetls-policyd
 *	answers over Sendmail's socket map, to be used with
 *	FEATURE(`access_db') and FEATURE(`lookupdotdomain'). The facts
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
 *	Inbound entries (direction in or both), unless TLSMAPS_SMAP_NO_CLT
 *	(forcetls-milter enforces inbound TLS: then no TLS_Clt line at all):
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
 *	joined by "; "; *noted counts the entries reported. NULL when out of
 *	memory.
 * SEE ALSO
 *	tlsmaps_sendmail.h, sendmail_map.c (the lines, address keys, merge,
 *	output and index), tlsmaps/cli/compile_sendmail.c,
 *	docs/COMPILE.md, examples/sendmail/README, makemap(8),
 *	Sendmail cf/README sections STARTTLS and ANTI-SPAM CONFIGURATION CONTROL
 */
#include <stdlib.h>
#include <string.h>

#include "sendmail_map.h"
#include "tlsmaps_sendmail.h"

static const char tag_rcpt[] = "TLS_Rcpt";
static const char tag_srv[] = "TLS_Srv";
static const char tag_clt[] = "TLS_Clt";

/* The requirement of entry id in direction dir; reasons are noted when noisy. */
static sm_req entry_req(sm_ctx *c, tlsmaps_id id, unsigned dir, int noisy)
{
	tlsmaps_level level = tlsmaps_entry_level(c->t, id);
	sm_req r = {0, 0, tlsmaps_entry_min_bits(c->t, id)};

	if (!tlsmaps_level_mandatory(level)) {
		if (noisy && level == TLSMAPS_LEVEL_DANE && dir == TLSMAPS_DIR_OUT)
			sm_note(c,
			        "dane: the access map cannot require DANE (Sendmail's DANE option "
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
		sm_note(c, "dane-only: compiled as VERIFY (a CA-verified certificate, or a "
		           "DANE-verified one with Sendmail's DANE option)");
		break;
	case TLSMAPS_LEVEL_FINGERPRINT:
		sm_note(c, "fingerprint: certificate digests cannot be expressed; compiled as "
		           "VERIFY (any CA-verified certificate)");
		break;
	case TLSMAPS_LEVEL_VERIFY:
	case TLSMAPS_LEVEL_SECURE:
		sm_note(c, "certificate name matching is not expressed: VERIFY checks the "
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
	sm_note(c, buf);
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
	if (sm_req_equal(&sub, own))
		return;
	if (dir == TLSMAPS_DIR_IN && !sub.mandatory) {
		/* OK under TLS_Clt would hide address entries: keep the wider rule. */
		snprintf(buf, sizeof(buf),
		         "%s:%s also matches client names under %s, which the table leaves at "
		         "%s: stricter than the table",
		         tag, key, key, sm_rhs_text(&sub, a, sizeof(a)));
		sm_note(c, buf);
		return;
	}
	if ((rec = sm_add(c, tag, dot, &sub, 0)) != NULL) {
		rec->synthetic = 1;
		rec->from = p;
	}
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
		sm_note(c, "exception on a literal next hop: not compiled (TLS_Srv:HOST OK would "
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
		sm_note(c, "TLS_Srv has no port: the requirement applies to every port");
	if (tlsmaps_addr_parse(host, hlen, &a) == 0) {
		unsigned prefix = a.family == 4 ? 32 : 128;

		if (tlsmaps_lookup_addr(t, &a, TLSMAPS_DIR_OUT, &n) == TLSMAPS_FOUND) {
			sm_req net = entry_req(c, n, TLSMAPS_DIR_OUT, 0);

			if (sm_req_stricter(&net, &r)) {
				sm_req_union(&r, &net);
				snprintf(buf, sizeof(buf),
				         "raised to %s: the address is inside %s (%s:%u), and "
				         "TLS_Srv keys name servers, not next hops",
				         sm_rhs_text(&r, x, sizeof(x)), tlsmaps_entry_key(t, n),
				         tlsmaps_entry_file(t, n), tlsmaps_entry_line(t, n));
				sm_note(c, buf);
			}
		}
		snprintf(buf, sizeof(buf),
		         "widened: TLS_Srv:%s applies to every connection to this address, not "
		         "only to the next hop %s (stricter than the table)",
		         host, key);
		sm_note(c, buf);
		(void)sm_address_keys(c, tag_srv, &a, prefix, &r);
		return;
	}
	snprintf(buf, sizeof(buf),
	         "widened: TLS_Srv:%s applies to every connection to %s and to servers under "
	         "it, not only to the next hop %s (stricter than the table)",
	         host, host, key);
	sm_note(c, buf);
	if (sm_req_stricter(&c->net_union[0], &r))
		sm_note(c, "a TLS_Srv name entry hides the TLS_Srv address entries of the same "
		           "server, and the table has stricter outbound address entries");
	sm_add(c, tag_srv, host, &r, 0);
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
		sm_add(c, tag_rcpt, tlsmaps_entry_key(t, id), &r, 0);
		subdomains(c, tag_rcpt, TLSMAPS_DIR_OUT, &r);
		break;
	case TLSMAPS_KIND_PARENT:
		r = entry_req(c, id, TLSMAPS_DIR_OUT, 1);
		note_attrs(c, id);
		sm_add(c, tag_rcpt, tlsmaps_entry_key(t, id), &r, 0);
		break;
	case TLSMAPS_KIND_NEXTHOP:
		outbound_nexthop(c);
		break;
	case TLSMAPS_KIND_NETWORK:
		r = entry_req(c, id, TLSMAPS_DIR_OUT, 1);
		note_attrs(c, id);
		tlsmaps_entry_network(t, id, &a, &prefix);
		if (sm_address_keys(c, tag_srv, &a, prefix, &r) && r.mandatory)
			sm_note(c,
			        "TLS_Srv checks each server connection, not a destination's MX "
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
		(void)sm_address_keys(c, tag_clt, &a, prefix, &r);
		return;
	}
	if (kind != TLSMAPS_KIND_DOMAIN && kind != TLSMAPS_KIND_PARENT)
		return; /* next hops are outbound only */
	if (!r.mandatory) {
		sm_note(c, "inbound exception by name: not compiled (a TLS_Clt name entry hides "
		           "the client's address entries; the sender domain has no access-map "
		           "check)");
		return;
	}
	sm_note(c, "inbound: TLS_Clt matches the client hostname only; the sender domain needs "
	           "forcetls-milter");
	if (sm_req_stricter(&c->net_union[1], &r))
		sm_note(c, "a TLS_Clt name entry hides the TLS_Clt address entries of the same "
		           "client, and the table has stricter inbound address entries");
	sm_add(c, tag_clt, tlsmaps_entry_key(t, id), &r, 0);
	if (kind == TLSMAPS_KIND_DOMAIN)
		subdomains(c, tag_clt, TLSMAPS_DIR_IN, &r);
}

/* Every mandatory network requirement, outbound [0] and inbound [1]. */
static void network_unions(sm_ctx *c)
{
	size_t count = tlsmaps_table_count(c->t);

	for (tlsmaps_id id = 0; id < count; id++) {
		unsigned dir = tlsmaps_entry_direction(c->t, id);

		if (tlsmaps_entry_kind(c->t, id) != TLSMAPS_KIND_NETWORK)
			continue;
		if (dir & TLSMAPS_DIR_OUT) {
			sm_req r = entry_req(c, id, TLSMAPS_DIR_OUT, 0);

			sm_req_union(&c->net_union[0], &r);
		}
		if (dir & TLSMAPS_DIR_IN) {
			sm_req r = entry_req(c, id, TLSMAPS_DIR_IN, 0);

			sm_req_union(&c->net_union[1], &r);
		}
	}
}

void tlsmaps_smap_free(tlsmaps_smap *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->c.nrecs; i++)
		free(m->c.recs[i].key);
	free(m->c.recs);
	free(m->c.flagged);
	free(m->index);
	free(m);
}

tlsmaps_smap *tlsmaps_smap_build(const tlsmaps_table *t, unsigned flags, FILE *err, int *noted)
{
	size_t count = tlsmaps_table_count(t);
	tlsmaps_smap *m = calloc(1, sizeof(*m));
	sm_ctx *c;

	if (m == NULL)
		return NULL;
	c = &m->c;
	c->t = t;
	c->err = err;
	c->flags = flags;
	if ((c->flagged = calloc(count ? count : 1, 1)) == NULL) {
		tlsmaps_smap_free(m);
		return NULL;
	}
	network_unions(c);
	for (tlsmaps_id id = 0; id < count && !c->oom; id++) {
		unsigned dir = tlsmaps_entry_direction(t, id);

		c->cur = id;
		if (dir & TLSMAPS_DIR_OUT)
			outbound(c);
		if ((dir & TLSMAPS_DIR_IN) && !(flags & TLSMAPS_SMAP_NO_CLT))
			inbound(c);
		sm_flush(c);
	}
	if (!c->oom)
		sm_merge(c);
	if (c->oom || sm_index(m) < 0) {
		tlsmaps_smap_free(m);
		return NULL;
	}
	if (noted != NULL)
		*noted = c->nflagged;
	return m;
}

int tlsmaps_smap_print(const tlsmaps_smap *m, FILE *out)
{
	sm_print(&m->c, out);
	return fflush(out) != 0 || ferror(out) ? -1 : 0;
}
