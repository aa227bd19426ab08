/*
 * NAME
 *	outbound.c - the TLS policy for a Postfix next hop (smtp_tls_policy_maps)
 * SUMMARY
 *	outbound_decide()
 * DESCRIPTION
 *	SPEC section 3, outbound:
 *	1. the key is parsed and normalized (case, trailing dot, brackets, the
 *	   port of an unbracketed name dropped: Postfix never retries without);
 *	2. the static rules of tlsmaps_lookup_nexthop(): a literal [host]:port
 *	   or [host] entry, domain entries on the name, network entries for a
 *	   literal address. A match answers at once, DNS is never asked: a
 *	   destination a domain entry decides never defers for DNS;
 *	3. only when nothing matched, the key is a name, and the table has
 *	   outbound network entries: the MX hosts (or [host]'s addresses) are
 *	   resolved and every address is matched; the strictest entry wins
 *	   (tlsmaps_level_rank), the first in MX order among equals.
 *	A ".parent" key (Postfix asks for it after NOTFOUND) never asks DNS:
 *	the full name was resolved already.
 *
 *	Replies (socketmap_table(5)): "OK <policy>", "NOTFOUND ", "TEMP <why>".
 *	For the require map (per-message mandatory TLS, X-TLSLevel: Require)
 *	a found level below encrypt, or no entry, answers "OK encrypt";
 *	TEMP stays TEMP.
 *	A DNS failure answers TEMP (Postfix defers: nothing leaves in clear)
 *	unless dns_failure = notfound. An answer beyond a resolver cap (more
 *	MX hosts or addresses than it keeps) answers TEMP whatever
 *	dns_failure says: the address that forces TLS could be among those
 *	not kept. A malformed key answers TEMP too: we
 *	cannot tell whether it is forced, and Postfix defers on any error.
 * DIAGNOSTICS
 *	DNS failures are logged with the destination; lookups when
 *	log_lookups is on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pmetrics.h"
#include "policyd.h"

typedef struct {
	policyd *d;
	snapshot *snap;
	outbound_cb cb;
	void *ctx;
	int require;
	char key[TLSMAPS_KEY_MAX * 4 + 8]; /* log_safe() form */
} pending;

static void answer(policyd *d, const snapshot *s, tlsmaps_id id, const char *key, int require,
                   outbound_cb cb, void *ctx, const char *via)
{
	char reply[TLSMAPS_POLICY_MAX + 8];
	tlsmaps_level level = tlsmaps_entry_level(s->table, id);
	int n;

	memcpy(reply, "OK ", 3);
	n = tlsmaps_policy(s->table, id, reply + 3, sizeof(reply) - 3);
	if (n < 0) { /* cannot happen: TLSMAPS_POLICY_MAX */
		d->stats.temp++;
		cb(ctx, "TEMP policy too long", 20);
		return;
	}
	if (require && !tlsmaps_level_mandatory(level)) {
		d->stats.by_level[TLSMAPS_LEVEL_ENCRYPT]++;
		pmetrics_decision(TLSMAPS_LEVEL_ENCRYPT, (int)tlsmaps_entry_kind(s->table, id));
		if (s->log_lookups)
			log_info("lookup %s (%s): encrypt, the table says %s (%s:%u %s%s)", key,
			         s->require_map_name, reply + 3, tlsmaps_entry_file(s->table, id),
			         tlsmaps_entry_line(s->table, id), tlsmaps_entry_key(s->table, id),
			         via);
		cb(ctx, "OK encrypt", 10);
		return;
	}
	d->stats.by_level[level]++;
	pmetrics_decision(level, (int)tlsmaps_entry_kind(s->table, id));
	if (s->log_lookups)
		log_info("lookup %s (%s): %s (%s:%u %s%s)", key,
		         require ? s->require_map_name : s->map_name, reply + 3,
		         tlsmaps_entry_file(s->table, id), tlsmaps_entry_line(s->table, id),
		         tlsmaps_entry_key(s->table, id), via);
	cb(ctx, reply, (size_t)n + 3);
}

static void notfound(policyd *d, const snapshot *s, const char *key, int require, outbound_cb cb,
                     void *ctx)
{
	if (require) {
		d->stats.by_level[TLSMAPS_LEVEL_ENCRYPT]++;
		pmetrics_decision(TLSMAPS_LEVEL_ENCRYPT, -1);
		if (s->log_lookups)
			log_info("lookup %s (%s): encrypt, no entry", key, s->require_map_name);
		cb(ctx, "OK encrypt", 10);
		return;
	}
	d->stats.notfound++;
	pmetrics_decision(TLSMAPS_LEVEL_COUNT, -1);
	if (s->log_lookups)
		log_info("lookup %s (%s): not found", key, s->map_name);
	cb(ctx, "NOTFOUND ", 9);
}

static void on_resolved(void *arg, const resolver_result *r)
{
	pending *p = arg;
	policyd *d = p->d;
	snapshot *s = p->snap;
	tlsmaps_id best = TLSMAPS_NO_ID, id;
	int best_rank = -1;
	char via[TLSMAPS_ADDR_STR_MAX + 16] = "";

	if (r->status == RESOLVER_TEMP) {
		d->stats.dns_temp++;
		if (r->limit) { /* not a DNS failure: dns_failure does not apply */
			char why[600];

			log_warnx("lookup %s: TEMP: %s", p->key,
			          log_safe(r->why, strlen(r->why), why, sizeof(why)));
			d->stats.temp++;
			p->cb(p->ctx, "TEMP resolver limit reached", 27);
		} else if (s->dns_tempfail) {
			char reply[300];
			int n = snprintf(reply, sizeof(reply), "TEMP DNS lookup failed for %s",
			                 p->key);

			log_warnx("lookup %s: TEMP: %s", p->key, r->why);
			d->stats.temp++;
			p->cb(p->ctx, reply,
			      (size_t)n < sizeof(reply) ? (size_t)n : sizeof(reply) - 1);
		} else {
			log_warnx("lookup %s: DNS failed (%s); answering NOTFOUND "
			          "(dns_failure = notfound)",
			          p->key, r->why);
			notfound(d, s, p->key, p->require, p->cb, p->ctx);
		}
		goto done;
	}
	for (size_t i = 0; r->status == RESOLVER_OK && i < r->naddrs; i++) {
		if (tlsmaps_lookup_addr(s->table, &r->addrs[i], TLSMAPS_DIR_OUT, &id) !=
		    TLSMAPS_FOUND)
			continue;
		int rank = tlsmaps_level_rank(tlsmaps_entry_level(s->table, id));

		if (rank > best_rank) {
			char a[TLSMAPS_ADDR_STR_MAX];

			best = id;
			best_rank = rank;
			snprintf(via, sizeof(via), " via %s",
			         tlsmaps_addr_format(&r->addrs[i], a, sizeof(a)));
		}
	}
	if (best != TLSMAPS_NO_ID)
		answer(d, s, best, p->key, p->require, p->cb, p->ctx, via);
	else
		notfound(d, s, p->key, p->require, p->cb, p->ctx);
done:
	snapshot_release(s);
	free(p);
}

void outbound_decide(policyd *d, const char *key, size_t len, int require, outbound_cb cb,
                     void *ctx)
{
	snapshot *s = d->snap;
	char why[TLSMAPS_WHY_MAX], safe[TLSMAPS_KEY_MAX * 4 + 8];
	tlsmaps_query q;
	tlsmaps_id id;
	tlsmaps_status st;
	pending *p;

	log_safe(key, len, safe, sizeof(safe));
	if (tlsmaps_query_parse(key, len, &q, why, sizeof(why)) < 0) {
		char reply[TLSMAPS_WHY_MAX + 32];
		int n = snprintf(reply, sizeof(reply), "TEMP malformed key: %s", why);

		ratelog_warnx(&d->bad[BAD_KEY], "lookup %s: malformed key: %s", safe, why);
		d->stats.malformed++;
		d->stats.temp++;
		cb(ctx, reply, (size_t)n < sizeof(reply) ? (size_t)n : sizeof(reply) - 1);
		return;
	}
	st = tlsmaps_lookup_nexthop(s->table, &q, &id);
	if (st == TLSMAPS_FOUND) {
		answer(d, s, id, safe, require, cb, ctx, "");
		return;
	}
	if (st == TLSMAPS_ERROR) {
		log_warnx("lookup %s: lookup error", safe);
		d->stats.temp++;
		cb(ctx, "TEMP lookup error", 17);
		return;
	}
	if ((q.kind != TLSMAPS_QUERY_NAME && q.kind != TLSMAPS_QUERY_LITERAL_NAME) ||
	    tlsmaps_table_network_count(s->table, TLSMAPS_DIR_OUT) == 0) {
		notfound(d, s, safe, require, cb, ctx);
		return;
	}
	if (d->resolver == NULL) { /* could not start: an address entry might match */
		d->stats.temp++;
		cb(ctx, "TEMP resolver unavailable", 25);
		return;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		d->stats.temp++;
		cb(ctx, "TEMP out of memory", 18);
		return;
	}
	p->d = d;
	p->snap = snapshot_hold(s);
	p->cb = cb;
	p->ctx = ctx;
	p->require = require;
	memcpy(p->key, safe, sizeof(p->key));
	if (resolver_resolve(d->resolver, q.name,
	                     q.kind == TLSMAPS_QUERY_NAME ? RESOLVER_MX : RESOLVER_HOST,
	                     on_resolved, p) < 0) {
		snapshot_release(p->snap);
		free(p);
		d->stats.temp++;
		cb(ctx, "TEMP out of memory", 18);
	}
}
