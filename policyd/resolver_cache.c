/*
 * NAME
 *	resolver_cache.c - the resolver's (mode, name) hash tables and TTL cache
 * SUMMARY
 *	htable_init(), htable_find(), htable_insert(), htable_remove(),
 *	cache_store(), cache_answer(), cache_clear(), resolver_now_ms(),
 *	ttl_note(), ttl_note_positive(), ttl_negative(), ttl_answer()
 * DESCRIPTION
 *	An intrusive hash table keyed by (mode, name), FNV-1a hashed, chained,
 *	doubling when it holds as many nodes as buckets. The resolver keeps two:
 *	the lookups in flight (resolver.c) and the cache of answers.
 *
 *	The cache holds OK and NOTFOUND answers until their TTL (computed by
 *	resolver.c) expires; TEMP is never stored, nor an answer of TTL 0. It
 *	is bounded by cache_size answers, with a FIFO of insertion: when full,
 *	the oldest inserted answer is dropped first. An expired answer is
 *	dropped when a lookup meets it. A cache_size of 0 disables it.
 *
 *	How long an answer lives (the rules are in resolver.c): ttl_note()
 *	keeps a lookup's smallest TTL, ttl_note_positive() caps one by
 *	cache_max_ttl, ttl_negative() reads the SOA of a negative answer
 *	(RFC 2308) and ttl_answer() the smallest TTL of an answer section,
 *	both from the raw reply with libresolv's ns_parserr().
 * DIAGNOSTICS
 *	None: an answer that cannot be stored for lack of memory is not
 *	cached, and the next lookup asks DNS again.
 * SEE ALSO
 *	resolver_int.h, resolver.c.
 */
#include <arpa/nameser.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resolver_int.h"

int64_t resolver_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t hash_key(resolver_mode mode, const char *name, size_t len)
{
	uint32_t h = 2166136261u ^ (uint32_t)mode;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 16777619u;
	}
	return h;
}

int htable_init(htable *t)
{
	t->nbuckets = 64;
	t->count = 0;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	return t->buckets == NULL ? -1 : 0;
}

hnode *htable_find(const htable *t, resolver_mode mode, const char *name, size_t len)
{
	uint32_t h = hash_key(mode, name, len);

	for (hnode *n = t->buckets[h & (t->nbuckets - 1)]; n != NULL; n = n->hnext)
		if (n->hash == h && n->mode == mode && n->len == len &&
		    memcmp(n->name, name, len) == 0)
			return n;
	return NULL;
}

static void htable_grow(htable *t)
{
	size_t nb = t->nbuckets * 2;
	hnode **b = calloc(nb, sizeof(*b));

	if (b == NULL) /* keep the longer chains */
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		hnode *n = t->buckets[i], *next;

		for (; n != NULL; n = next) {
			next = n->hnext;
			n->hnext = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

void htable_insert(htable *t, hnode *n)
{
	if (t->count >= t->nbuckets)
		htable_grow(t);
	n->hash = hash_key(n->mode, n->name, n->len);
	n->hnext = t->buckets[n->hash & (t->nbuckets - 1)];
	t->buckets[n->hash & (t->nbuckets - 1)] = n;
	t->count++;
}

void htable_remove(htable *t, hnode *n)
{
	hnode **pp = &t->buckets[n->hash & (t->nbuckets - 1)];

	for (; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == n) {
			*pp = n->hnext;
			t->count--;
			return;
		}
}

static void cache_unlink(resolver *r, centry *e)
{
	htable_remove(&r->cache, &e->node);
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		r->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		r->newest = e->older;
	free(e->addrs);
	free(e);
}

void cache_store(resolver *r, const lookup *l, resolver_status status, const tlsmaps_addr *addrs,
                 size_t naddrs)
{
	centry *e;

	if (r->opts.cache_size == 0 || status == RESOLVER_TEMP || !l->have_ttl || l->ttl == 0)
		return;
	if (htable_find(&r->cache, l->node.mode, l->node.name, l->node.len) != NULL)
		return; /* cannot happen: found entries end lookups */
	if ((e = calloc(1, sizeof(*e) + l->node.len + 1)) == NULL)
		return;
	if (naddrs > 0 && (e->addrs = malloc(naddrs * sizeof(*addrs))) == NULL) {
		free(e);
		return;
	}
	while (r->cache.count >= r->opts.cache_size && r->oldest != NULL)
		cache_unlink(r, r->oldest);
	e->node.mode = l->node.mode;
	e->node.len = l->node.len;
	e->node.name = (char *)(e + 1);
	memcpy(e->node.name, l->node.name, l->node.len + 1);
	e->expires_ms = resolver_now_ms() + (int64_t)l->ttl * 1000;
	e->status = status;
	snprintf(e->why, sizeof(e->why), "%s", status == RESOLVER_OK ? "" : l->why);
	if (naddrs > 0)
		memcpy(e->addrs, addrs, naddrs * sizeof(*addrs));
	e->naddrs = naddrs;
	htable_insert(&r->cache, &e->node);
	e->older = r->newest;
	if (r->newest != NULL)
		r->newest->newer = e;
	else
		r->oldest = e;
	r->newest = e;
}

int cache_answer(resolver *r, resolver_mode mode, const char *name, size_t len, resolver_cb cb,
                 void *ctx)
{
	hnode *n = htable_find(&r->cache, mode, name, len);
	centry *e = (centry *)n;
	tlsmaps_addr addrs[RESOLVER_MAX_ADDRS];
	char why[WHY_MAX];
	resolver_result res;

	if (n == NULL)
		return 0;
	if (e->expires_ms <= resolver_now_ms()) {
		cache_unlink(r, e);
		return 0;
	}
	/* Copies: the callback may evict the entry. */
	if (e->naddrs > 0)
		memcpy(addrs, e->addrs, e->naddrs * sizeof(*addrs));
	snprintf(why, sizeof(why), "%s", e->why);
	memset(&res, 0, sizeof(res));
	res.status = e->status;
	res.naddrs = e->naddrs;
	res.addrs = e->naddrs > 0 ? addrs : NULL;
	res.why = why;
	res.cached = 1;
	r->st.cache_hits++;
	cb(ctx, &res);
	return 1;
}

void cache_clear(resolver *r)
{
	while (r->oldest != NULL)
		cache_unlink(r, r->oldest);
	free(r->cache.buckets);
	r->cache.buckets = NULL;
}

/* ---------------------------------------------------------------------------
 * TTLs.
 */

void ttl_note(lookup *l, unsigned ttl)
{
	if (!l->have_ttl || ttl < l->ttl) {
		l->ttl = ttl;
		l->have_ttl = 1;
	}
}

void ttl_note_positive(lookup *l, unsigned ttl)
{
	ttl_note(l, ttl < l->r->opts.cache_max_ttl ? ttl : l->r->opts.cache_max_ttl);
}

/*
 * The TTL of a negative answer: min(SOA TTL, SOA MINIMUM) from the
 * authority section (RFC 2308 section 5), else negative_ttl; capped by
 * negative_ttl.
 */
unsigned ttl_negative(const resolver *r, const unsigned char *abuf, int alen)
{
	unsigned ttl = r->opts.negative_ttl;
	ns_msg msg;
	ns_rr rr;

	if (abuf == NULL || alen <= 0 || ns_initparse(abuf, alen, &msg) < 0)
		return ttl;
	for (int i = 0; i < ns_msg_count(msg, ns_s_ns); i++) {
		const unsigned char *rd, *end;
		int n;
		uint32_t minimum;

		if (ns_parserr(&msg, ns_s_ns, i, &rr) < 0)
			break;
		if (ns_rr_type(rr) != ns_t_soa)
			continue;
		rd = ns_rr_rdata(rr);
		end = rd + ns_rr_rdlen(rr);
		/* MNAME and RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM. */
		for (int k = 0; k < 2; k++) {
			if ((n = dn_skipname(rd, end)) < 0)
				return ttl;
			rd += n;
		}
		if (end - rd < 20)
			return ttl;
		rd += 16;
		NS_GET32(minimum, rd);
		if (ns_rr_ttl(rr) < minimum)
			minimum = ns_rr_ttl(rr);
		return minimum < ttl ? (unsigned)minimum : ttl;
	}
	return ttl;
}

/* Smallest TTL of the answer section, -1 when it cannot be parsed. */
long ttl_answer(const unsigned char *abuf, int alen)
{
	ns_msg msg;
	ns_rr rr;
	long ttl = -1;

	if (ns_initparse(abuf, alen, &msg) < 0)
		return -1;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			return -1;
		if (ttl < 0 || (long)ns_rr_ttl(rr) < ttl)
			ttl = (long)ns_rr_ttl(rr);
	}
	return ttl;
}
