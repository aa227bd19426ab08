/*
 * NAME
 *	resolver.c - asynchronous MX and address resolution: the MX logic
 * SUMMARY
 *	resolver_options_init(), resolver_new(), resolver_resolve(),
 *	resolver_get_stats(), resolver_free()
 * DESCRIPTION
 *	A lookup is one name in one mode. RESOLVER_HOST asks A and AAAA of the
 *	name, in parallel. RESOLVER_MX asks MX first; the exchanges, sorted by
 *	preference (stable: equal preferences keep answer order, duplicates
 *	dropped), then each get an A and an AAAA query, all in parallel. The
 *	answer lists, per host in MX order, the A then the AAAA addresses.
 *
 *	Caps (resolver.h): more than RESOLVER_MAX_HOSTS exchanges, more than
 *	RESOLVER_MAX_ADDRS address records in one answer, or more than
 *	RESOLVER_MAX_ADDRS addresses in all make the lookup TEMP with limit
 *	set; nothing is cut silently. The records of an answer are counted
 *	(ns_parserr) before c-ares parses them into an array of that size.
 *	CNAME chains are followed by the recursive server, and within one
 *	answer by c-ares; a truncated UDP answer is asked again over TCP
 *	(resolver_ares.c), so an answer is never used in part.
 *	NODATA for MX means the implicit MX: A and AAAA of the domain itself.
 *	A null MX (RFC 7505: an exchange of ".") is NOTFOUND; a "." among
 *	real exchanges is ignored.
 *
 *	Outcome of a lookup, once every query it sent has answered:
 *	- TEMP when any query failed other than by NXDOMAIN or NODATA
 *	  (SERVFAIL, REFUSED, timeout, connection refused, a malformed
 *	  answer, out of memory, shutdown), or a cap was reached. A host
 *	  whose name is NXDOMAIN or has no address records is skipped.
 *	- else OK when at least one address was found,
 *	- else NOTFOUND.
 *
 *	TTLs. The TTL of a positive answer is the smallest TTL of the answer
 *	records used (MX and A/AAAA, CNAMEs included; MX TTLs are read from the
 *	raw reply with libresolv's ns_parserr(), as c-ares does not report
 *	them), capped by cache_max_ttl. A negative answer (NXDOMAIN, NODATA)
 *	lives min(SOA TTL, SOA MINIMUM) of the authority section (RFC 2308),
 *	or negative_ttl when there is no SOA, capped by negative_ttl; a null MX
 *	lives its MX TTL capped by negative_ttl. A lookup that used negative
 *	answers too (no AAAA for a host, say) lives the smallest of all.
 *	OK and NOTFOUND are cached for that TTL (0: not cached); TEMP never
 *	(resolver_cache.c).
 *
 *	Lookups in flight are in a hash table: a request for a (mode, name)
 *	already in flight waits for it, so one set of queries answers them
 *	all, in request order.
 *
 *	Callbacks may call resolver_resolve(), but not resolver_free().
 *	resolver_free() ends every query: the lookups in flight answer TEMP
 *	("resolver shut down ..."), then the cache is freed.
 *
 *	Statistics: queries counts DNS queries handed to c-ares (retries not
 *	counted), cache_hits and cache_misses count resolver_resolve() calls,
 *	a call that joins a lookup in flight being a miss, temp_failures
 *	counts TEMP answers delivered.
 * DIAGNOSTICS
 *	Never logs. A TEMP result says why in resolver_result.why, e.g.
 *	"SERVFAIL looking up MX of example.com", "timeout looking up A of
 *	mx1.example.com", "malformed answer looking up AAAA of ...". A
 *	NOTFOUND result says which answer it came from ("NXDOMAIN looking up
 *	MX of example.com", "null MX for example.com", "no address for
 *	example.com"). A cap: "too many addresses for mx.example.com: 1100
 *	> 1024", "too many MX hosts for example.com: 101 > 100" (the count of
 *	MX records in the answer). resolver_new() fails with a reason for bad servers or
 *	when c-ares cannot start.
 * SEE ALSO
 *	resolver.h, the contract; resolver_int.h, resolver_cache.c,
 *	resolver_ares.c; outbound.c, the caller; c-ares ares_query(3),
 *	ares_parse_mx_reply(3), ares_parse_a_reply(3); ns_initparse(3);
 *	RFC 2308 (negative caching), RFC 7505 (null MX).
 */
#include <arpa/nameser.h>
#include <resolv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver_int.h"

static const char *type_name(int type)
{
	switch (type) {
	case ns_t_mx:
		return "MX";
	case ns_t_a:
		return "A";
	case ns_t_aaaa:
		return "AAAA";
	default:
		return "?";
	}
}

/* Only names DNS could hold as host names: LDH and underscore labels. */
static int valid_name(const char *name, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > NAME_MAX_LEN)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

/* ---------------------------------------------------------------------------
 * Lookups.
 */

static void lookup_release(lookup *l);
static void on_addr(void *arg, int status, int timeouts, unsigned char *abuf, int alen);
static void on_mx(void *arg, int status, int timeouts, unsigned char *abuf, int alen);

static void send_query(lookup *l, qctx *q, const char *name)
{
	clock_gettime(CLOCK_MONOTONIC, &q->sent);
	l->pending++;
	ares_glue_query(l->r, name, q->type, q->type == ns_t_mx ? on_mx : on_addr, q);
}

/* resolver_options.observe: how long q took. */
static void observe(const resolver *r, const qctx *q)
{
	struct timespec t;

	if (r->opts.observe != NULL && clock_gettime(CLOCK_MONOTONIC, &t) == 0)
		r->opts.observe(type_name(q->type),
		                (double)(t.tv_sec - q->sent.tv_sec) +
		                        (double)(t.tv_nsec - q->sent.tv_nsec) / 1e9);
}

/* The failure of one query: the lookup answers TEMP. */
static void query_failed(lookup *l, int status, int type, const char *name)
{
	const char *text = ares_glue_status_text(status);

	/*
	 * With several servers c-ares tries the next one on SERVFAIL or
	 * REFUSED, and when none is left 1.18 reports ECONNREFUSED.
	 */
	if (status == ARES_ECONNREFUSED && !l->r->one_server)
		text = "SERVFAIL, REFUSED or connection refused from every server";
	if (!l->temp)
		snprintf(l->why, sizeof(l->why), "%s looking up %s of %s", text, type_name(type),
		         name);
	l->temp = 1;
}

/* A negative answer; the first is remembered in why unless a failure is. */
static void query_negative(lookup *l, int status, int type, const char *name,
                           const unsigned char *abuf, int alen)
{
	ttl_note(l, ttl_negative(l->r, abuf, alen));
	if (!l->temp && l->why[0] == '\0')
		snprintf(l->why, sizeof(l->why), "%s looking up %s of %s",
		         ares_glue_status_text(status), type_name(type), name);
}

/* An internal cap is reached: the lookup answers TEMP, never a part of the answer. */
static void limit_reached(lookup *l, const char *what, const char *name, size_t n, size_t cap)
{
	if (!l->temp)
		snprintf(l->why, sizeof(l->why), "too many %s for %s: %zu > %zu", what, name, n,
		         cap);
	l->temp = 1;
	l->limit = 1;
}

/* Records of type in the answer section, -1 when it cannot be parsed. */
static int count_answers(const unsigned char *abuf, int alen, int type)
{
	ns_msg msg;
	ns_rr rr;
	int n = 0;

	if (ns_initparse(abuf, alen, &msg) < 0)
		return -1;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			return -1;
		n += (int)ns_rr_type(rr) == type;
	}
	return n;
}

/* The A (fam 0) or AAAA (1) records of an answer into h; an ARES_ status. */
static int parse_addrs(lookup *l, hslot *h, int fam, const unsigned char *abuf, int alen)
{
	int max = count_answers(abuf, alen, fam ? ns_t_aaaa : ns_t_a), n = max, status;
	struct ares_addrttl *a4 = NULL;
	struct ares_addr6ttl *a6 = NULL;

	if (max < 0)
		return ARES_EBADRESP;
	if (max == 0)
		return ARES_ENODATA;
	if (max > RESOLVER_MAX_ADDRS) { /* all of them, or none */
		limit_reached(l, "addresses", h->name, (size_t)max, RESOLVER_MAX_ADDRS);
		return ARES_SUCCESS;
	}
	if ((fam == 0 && (a4 = calloc((size_t)max, sizeof(*a4))) == NULL) ||
	    (fam == 1 && (a6 = calloc((size_t)max, sizeof(*a6))) == NULL))
		return ARES_ENOMEM;
	if (fam == 0)
		status = ares_parse_a_reply(abuf, alen, NULL, a4, &n);
	else
		status = ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n);
	if (status == ARES_SUCCESS && n == 0)
		status = ARES_ENODATA;
	if (status == ARES_SUCCESS &&
	    (h->addrs[fam] = calloc((size_t)n, sizeof(tlsmaps_addr))) == NULL)
		status = ARES_ENOMEM;
	for (int i = 0; status == ARES_SUCCESS && i < n; i++) {
		tlsmaps_addr *t = &h->addrs[fam][i];
		int ttl = fam == 0 ? a4[i].ttl : a6[i].ttl;

		t->family = fam == 0 ? 4 : 6;
		if (fam == 0)
			memcpy(t->bytes, &a4[i].ipaddr, 4);
		else
			memcpy(t->bytes, &a6[i].ip6addr, 16);
		ttl_note_positive(l, ttl < 0 ? 0 : (unsigned)ttl);
	}
	if (status == ARES_SUCCESS)
		h->naddrs[fam] = (size_t)n;
	free(a4);
	free(a6);
	return status;
}

static void on_addr(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	qctx *q = arg;
	lookup *l = q->l;
	hslot *h = &l->slots[q->slot];

	(void)timeouts;
	observe(l->r, q);
	if (status == ARES_SUCCESS)
		status = parse_addrs(l, h, q->type == ns_t_aaaa, abuf, alen);
	if (status == ARES_ENOTFOUND || status == ARES_ENODATA)
		query_negative(l, status, q->type, h->name, abuf, alen);
	else if (status != ARES_SUCCESS)
		query_failed(l, status, q->type, h->name);
	lookup_release(l);
}

/* A host to ask A and AAAA of (once): 0, 1 when RESOLVER_MAX_HOSTS are there, -1. */
static int add_slot(lookup *l, const char *name)
{
	hslot *h;

	for (size_t i = 0; i < l->nslots; i++)
		if (strcasecmp(l->slots[i].name, name) == 0)
			return 0;
	if (l->nslots >= RESOLVER_MAX_HOSTS)
		return 1;
	if (l->slots == NULL && (l->slots = calloc(RESOLVER_MAX_HOSTS, sizeof(*l->slots))) == NULL)
		return -1;
	h = &l->slots[l->nslots];
	if ((h->name = strdup(name)) == NULL)
		return -1;
	for (int k = 0; k < 2; k++) {
		h->q[k].l = l;
		h->q[k].slot = l->nslots;
		h->q[k].type = k == 0 ? ns_t_a : ns_t_aaaa;
	}
	l->nslots++;
	return 0;
}

static void send_slot_queries(lookup *l, size_t from)
{
	for (size_t i = from; i < l->nslots; i++)
		for (int k = 0; k < 2; k++)
			send_query(l, &l->slots[i].q[k], l->slots[i].name);
}

/*
 * The exchanges of mx as hosts, by preference (stable); ARES_SUCCESS or
 * ARES_ENOMEM. More than RESOLVER_MAX_HOSTS: l->limit, and no host is asked.
 */
static int add_exchanges(lookup *l, const struct ares_mx_reply *mx)
{
	unsigned short pref = 0;
	int more = 1, nreal = 0, full = 0;

	/* Selection by preference, stable: O(n^2) for n <= a few. */
	for (int first = 1; more; first = 0) {
		unsigned short next = 0;

		more = 0;
		for (const struct ares_mx_reply *m = mx; m != NULL; m = m->next) {
			if (!first && m->priority <= pref)
				continue;
			if (!more || m->priority < next)
				next = m->priority;
			more = 1;
		}
		if (!more)
			break;
		pref = next;
		for (const struct ares_mx_reply *m = mx; m != NULL; m = m->next) {
			if (m->priority != pref)
				continue;
			if (m->host == NULL || m->host[0] == '\0' || strcmp(m->host, ".") == 0)
				continue; /* null MX */
			nreal++;
			if (!full && (full = add_slot(l, m->host)) < 0)
				return ARES_ENOMEM;
		}
	}
	if (full) {
		limit_reached(l, "MX hosts", l->node.name, (size_t)nreal, RESOLVER_MAX_HOSTS);
		return ARES_SUCCESS;
	}
	if (nreal == 0) {
		l->nullmx = 1;
		/* A null MX is a negative answer: capped like one. */
		ttl_note(l, l->r->opts.negative_ttl);
		snprintf(l->why, sizeof(l->why), "null MX for %s", l->node.name);
	}
	return ARES_SUCCESS;
}

static void on_mx(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	qctx *q = arg;
	lookup *l = q->l;
	struct ares_mx_reply *mx = NULL;

	(void)timeouts;
	observe(l->r, q);
	l->pending++; /* hold the lookup while adding queries */
	if (status == ARES_SUCCESS) {
		long ttl = ttl_answer(abuf, alen);

		status = ares_parse_mx_reply(abuf, alen, &mx);
		if (status == ARES_SUCCESS && ttl < 0)
			status = ARES_EBADRESP;
		if (status == ARES_SUCCESS && mx == NULL)
			status = ARES_ENODATA;
		if (status == ARES_SUCCESS) {
			ttl_note_positive(l, (unsigned)ttl);
			status = add_exchanges(l, mx);
		}
		ares_free_data(mx);
	}
	if (status == ARES_ENODATA) { /* the implicit MX */
		query_negative(l, status, ns_t_mx, l->node.name, abuf, alen);
		l->why[0] = '\0';
		if (add_slot(l, l->node.name) < 0)
			status = ARES_ENOMEM;
		else
			status = ARES_SUCCESS;
	}
	if (status == ARES_ENOTFOUND)
		query_negative(l, status, ns_t_mx, l->node.name, abuf, alen);
	else if (status != ARES_SUCCESS)
		query_failed(l, status, ns_t_mx, l->node.name);
	else if (!l->r->closing && !l->limit)
		send_slot_queries(l, 0);
	lookup_release(l); /* the hold */
	lookup_release(l); /* the MX query */
}

static void lookup_free(lookup *l)
{
	waiter *w, *next;

	for (w = l->waiters; w != NULL; w = next) {
		next = w->next;
		free(w);
	}
	for (size_t i = 0; i < l->nslots; i++) {
		free(l->slots[i].name);
		free(l->slots[i].addrs[0]);
		free(l->slots[i].addrs[1]);
	}
	free(l->slots);
	free(l);
}

/* Every query answered: compute the result, cache it, tell the waiters. */
static void lookup_finish(lookup *l)
{
	resolver *r = l->r;
	tlsmaps_addr addrs[RESOLVER_MAX_ADDRS];
	size_t n = 0;
	resolver_result res;
	waiter *w;

	htable_remove(&r->inflight, &l->node);
	for (size_t i = 0; i < l->nslots; i++)
		n += l->slots[i].naddrs[0] + l->slots[i].naddrs[1];
	if (n > RESOLVER_MAX_ADDRS)
		limit_reached(l, "addresses", l->node.name, n, RESOLVER_MAX_ADDRS);
	n = 0;
	for (size_t i = 0; !l->temp && i < l->nslots; i++)
		for (int k = 0; k < 2; k++)
			for (size_t j = 0; j < l->slots[i].naddrs[k]; j++)
				addrs[n++] = l->slots[i].addrs[k][j];
	memset(&res, 0, sizeof(res));
	res.limit = l->limit;
	if (l->temp) {
		res.status = RESOLVER_TEMP;
	} else if (n > 0) {
		res.status = RESOLVER_OK;
		res.addrs = addrs;
		res.naddrs = n;
	} else {
		res.status = RESOLVER_NOTFOUND;
		if (l->why[0] == '\0')
			snprintf(l->why, sizeof(l->why), "no address for %s", l->node.name);
	}
	res.why = res.status == RESOLVER_OK ? "" : l->why;
	cache_store(r, l, res.status, addrs, n);
	for (w = l->waiters; w != NULL; w = w->next) {
		if (res.status == RESOLVER_TEMP)
			r->st.temp_failures++;
		w->cb(w->ctx, &res);
	}
	lookup_free(l);
}

static void lookup_release(lookup *l)
{
	if (--l->pending == 0)
		lookup_finish(l);
}

/* ---------------------------------------------------------------------------
 * The interface.
 */

/* Start r->channel; -1 with a reason in why. */
void resolver_options_init(resolver_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->servers = NULL;
	opts->timeout_ms = 2000;
	opts->tries = 2;
	opts->cache_size = 100000;
	opts->cache_max_ttl = 3600;
	opts->negative_ttl = 300;
}

resolver *resolver_new(struct event_base *base, const resolver_options *opts, char *why,
                       size_t whylen)
{
	resolver *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	r->base = base;
	r->opts = *opts;
	r->opts.servers = NULL; /* not kept: the caller owns the string */
	if (r->opts.timeout_ms == 0)
		r->opts.timeout_ms = 2000;
	if (r->opts.tries == 0)
		r->opts.tries = 1;
	if (htable_init(&r->cache) < 0 || htable_init(&r->inflight) < 0) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	if (ares_glue_start(r, opts->servers, why, whylen) < 0)
		goto fail;
	return r;
fail:
	free(r->cache.buckets);
	free(r->inflight.buckets);
	free(r);
	return NULL;
}

static void answer_now(resolver *r, resolver_status status, const char *why, resolver_cb cb,
                       void *ctx)
{
	resolver_result res;

	memset(&res, 0, sizeof(res));
	res.status = status;
	res.why = why;
	if (status == RESOLVER_TEMP)
		r->st.temp_failures++;
	cb(ctx, &res);
}

/* A new lookup for (mode, name), its first waiter w, its queries sent: 0, or -1. */
static int lookup_start(resolver *r, const char *name, size_t len, resolver_mode mode, waiter *w)
{
	lookup *l;

	if ((l = calloc(1, sizeof(*l) + len + 1)) == NULL)
		return -1;
	l->r = r;
	l->node.mode = mode;
	l->node.len = len;
	l->node.name = (char *)(l + 1);
	memcpy(l->node.name, name, len + 1);
	if (mode == RESOLVER_HOST && add_slot(l, name) < 0) {
		lookup_free(l);
		return -1;
	}
	r->st.cache_misses++;
	l->waiters = w;
	l->wtail = &w->next;
	htable_insert(&r->inflight, &l->node);
	l->pending = 1; /* hold: c-ares may answer at once */
	if (mode == RESOLVER_MX) {
		l->mxq.l = l;
		l->mxq.type = ns_t_mx;
		send_query(l, &l->mxq, name);
	} else {
		send_slot_queries(l, 0);
	}
	lookup_release(l);
	ares_glue_rearm(r);
	return 0;
}

int resolver_resolve(resolver *r, const char *name, resolver_mode mode, resolver_cb cb, void *ctx)
{
	size_t len = strlen(name);
	hnode *n;
	waiter *w;
	char why[WHY_MAX];

	if (mode != RESOLVER_MX && mode != RESOLVER_HOST)
		mode = RESOLVER_HOST;
	if (r->closing) {
		r->st.cache_misses++;
		snprintf(why, sizeof(why), "resolver shut down looking up %.*s", NAME_MAX_LEN,
		         name);
		answer_now(r, RESOLVER_TEMP, why, cb, ctx);
		return 0;
	}
	if (!valid_name(name, len)) {
		r->st.cache_misses++;
		snprintf(why, sizeof(why), "invalid domain name");
		answer_now(r, RESOLVER_NOTFOUND, why, cb, ctx);
		return 0;
	}
	if (cache_answer(r, mode, name, len, cb, ctx))
		return 0;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	w->cb = cb;
	w->ctx = ctx;
	if ((n = htable_find(&r->inflight, mode, name, len)) != NULL) {
		lookup *l = (lookup *)n;

		*l->wtail = w;
		l->wtail = &w->next;
		r->st.cache_misses++;
		return 0;
	}
	if (lookup_start(r, name, len, mode, w) < 0) {
		free(w);
		return -1;
	}
	return 0;
}

void resolver_get_stats(const resolver *r, resolver_stats *st)
{
	*st = r->st;
	st->cache_entries = r->cache.count;
}

void resolver_free(resolver *r)
{
	if (r == NULL)
		return;
	r->closing = 1;
	ares_glue_stop(r);
	cache_clear(r);
	/* Lookups still in flight cannot exist here: every query ended. */
	free(r->inflight.buckets);
	free(r);
}
