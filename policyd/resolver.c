/*
 * NAME
 *	resolver.c - asynchronous MX and address resolution with a TTL cache
 * SUMMARY
 *	resolver_options_init(), resolver_new(), resolver_resolve(),
 *	resolver_get_stats(), resolver_free()
 * DESCRIPTION
 *	c-ares inside the caller's libevent loop. ARES_OPT_SOCK_STATE_CB tells
 *	us which sockets c-ares wants watched: each gets one persistent
 *	libevent event, recreated when the read/write interest changes and
 *	freed when c-ares closes the socket. Readiness calls ares_process_fd();
 *	one timer, re-armed from ares_timeout() after every query sent and
 *	every round of processing, drives retries and timeouts.
 *
 *	A lookup is one name in one mode. RESOLVER_HOST asks A and AAAA of the
 *	name, in parallel. RESOLVER_MX asks MX first; the exchanges, sorted by
 *	preference (stable: equal preferences keep answer order, duplicates
 *	dropped, at most RESOLVER_MAX_ADDRS of them), then each get an A and
 *	an AAAA query, all in parallel. The answer lists, per host in MX
 *	order, the A then the AAAA addresses, at most RESOLVER_MAX_ADDRS.
 *	NODATA for MX means the implicit MX: A and AAAA of the domain itself.
 *	A null MX (RFC 7505: an exchange of ".") is NOTFOUND; a "." among
 *	real exchanges is ignored.
 *
 *	Outcome of a lookup, once every query it sent has answered:
 *	- TEMP when any query failed other than by NXDOMAIN or NODATA
 *	  (SERVFAIL, REFUSED, timeout, connection refused, a malformed
 *	  answer, out of memory, shutdown). A host whose name is NXDOMAIN or
 *	  has no address records is skipped.
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
 *	OK and NOTFOUND are cached for that TTL (0: not cached); TEMP never.
 *
 *	The cache is a hash table of (mode, name) with a FIFO: when it holds
 *	cache_size answers, the oldest inserted is dropped. Expired answers
 *	are dropped when met. Lookups in flight are in a second hash table:
 *	a request for a (mode, name) already in flight waits for it, so one
 *	set of queries answers them all, in request order.
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
 *	example.com"). resolver_new() fails with a reason for bad servers or
 *	when c-ares cannot start.
 * SEE ALSO
 *	resolver.h, the contract; outbound.c, the caller; c-ares ares_query(3),
 *	ares_parse_mx_reply(3), ares_parse_a_reply(3); ns_initparse(3);
 *	RFC 2308 (negative caching), RFC 7505 (null MX).
 */
#include <arpa/nameser.h>
#include <resolv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ares.h>
#include <event2/event.h>

#include "resolver.h"

#define WHY_MAX 300
#define NAME_MAX_LEN 253

/* ---------------------------------------------------------------------------
 * An intrusive hash table of (mode, name) nodes; the node comes first in
 * the structures that live in one.
 */

typedef struct hnode {
	struct hnode *hnext;
	uint32_t hash;
	resolver_mode mode;
	size_t len;
	char *name;
} hnode;

typedef struct {
	hnode **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
} htable;

static uint32_t hash_key(resolver_mode mode, const char *name, size_t len)
{
	uint32_t h = 2166136261u ^ (uint32_t)mode;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 16777619u;
	}
	return h;
}

static int htable_init(htable *t)
{
	t->nbuckets = 64;
	t->count = 0;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	return t->buckets == NULL ? -1 : 0;
}

static hnode *htable_find(const htable *t, resolver_mode mode, const char *name, size_t len)
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

/* n->mode, n->name and n->len set; the key is not in t yet. */
static void htable_insert(htable *t, hnode *n)
{
	if (t->count >= t->nbuckets)
		htable_grow(t);
	n->hash = hash_key(n->mode, n->name, n->len);
	n->hnext = t->buckets[n->hash & (t->nbuckets - 1)];
	t->buckets[n->hash & (t->nbuckets - 1)] = n;
	t->count++;
}

static void htable_remove(htable *t, hnode *n)
{
	hnode **pp = &t->buckets[n->hash & (t->nbuckets - 1)];

	for (; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == n) {
			*pp = n->hnext;
			t->count--;
			return;
		}
}

/* ---------------------------------------------------------------------------
 * Data structures.
 */

typedef struct centry { /* a cached answer */
	hnode node;
	struct centry *older, *newer; /* FIFO of insertion */
	int64_t expires_ms;           /* monotonic */
	resolver_status status;
	char why[WHY_MAX];
	size_t naddrs;
	tlsmaps_addr *addrs;
} centry;

typedef struct waiter {
	struct waiter *next;
	resolver_cb cb;
	void *ctx;
} waiter;

struct lookup;

typedef struct { /* the argument of one ares_query() */
	struct lookup *l;
	size_t slot; /* host index, for A and AAAA */
	int type;    /* ns_t_mx, ns_t_a, ns_t_aaaa */
} qctx;

typedef struct { /* one host whose A and AAAA are asked */
	char *name;
	qctx q[2]; /* A, AAAA */
	tlsmaps_addr *addrs[2];
	size_t naddrs[2];
} hslot;

typedef struct lookup { /* a (mode, name) in flight */
	hnode node;
	resolver *r;
	waiter *waiters, **wtail;
	unsigned pending; /* queries outstanding, +1 while starting */
	int temp;         /* a query failed temporarily */
	int nullmx;
	char why[WHY_MAX]; /* the first failure, or the negative answer */
	int have_ttl;
	unsigned ttl; /* smallest TTL seen (capped) */
	qctx mxq;
	size_t nslots;
	hslot *slots;
} lookup;

typedef struct sockev { /* a socket c-ares asked us to watch */
	struct sockev *next;
	ares_socket_t fd;
	struct event *ev;
} sockev;

struct resolver {
	struct event_base *base;
	ares_channel channel;
	int channel_ok;
	struct event *timer;
	sockev *socks;
	resolver_options opts;
	htable cache;
	centry *oldest, *newest;
	htable inflight;
	int closing;
	int one_server; /* ARES_FLAG_NOCHECKRESP is set */
	resolver_stats st;
};

/* ---------------------------------------------------------------------------
 * Helpers.
 */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

static const char *status_text(int status)
{
	switch (status) {
	case ARES_ESERVFAIL:
		return "SERVFAIL";
	case ARES_EREFUSED:
		return "REFUSED";
	case ARES_EFORMERR:
		return "FORMERR";
	case ARES_ENOTIMP:
		return "NOTIMP";
	case ARES_ETIMEOUT:
		return "timeout";
	case ARES_ECONNREFUSED:
		return "connection refused";
	case ARES_EBADRESP:
		return "malformed answer";
	case ARES_ENOMEM:
		return "out of memory";
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		return "resolver shut down";
	case ARES_ENOTFOUND:
		return "NXDOMAIN";
	case ARES_ENODATA:
		return "NODATA";
	default:
		return ares_strerror(status);
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

static void note_ttl(lookup *l, unsigned ttl)
{
	if (!l->have_ttl || ttl < l->ttl) {
		l->ttl = ttl;
		l->have_ttl = 1;
	}
}

static void note_positive_ttl(lookup *l, unsigned ttl)
{
	note_ttl(l, ttl < l->r->opts.cache_max_ttl ? ttl : l->r->opts.cache_max_ttl);
}

/*
 * The TTL of a negative answer: min(SOA TTL, SOA MINIMUM) from the
 * authority section (RFC 2308 section 5), else negative_ttl; capped by
 * negative_ttl.
 */
static unsigned negative_ttl(const resolver *r, const unsigned char *abuf, int alen)
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
static long answer_ttl(const unsigned char *abuf, int alen)
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

/* ---------------------------------------------------------------------------
 * The cache.
 */

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

static void cache_store(resolver *r, lookup *l, resolver_status status, const tlsmaps_addr *addrs,
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
	e->expires_ms = now_ms() + (int64_t)l->ttl * 1000;
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

/* ---------------------------------------------------------------------------
 * Sockets and the timer.
 */

static void on_timer(evutil_socket_t fd, short what, void *arg);
static void on_socket(evutil_socket_t fd, short what, void *arg);

static void rearm_timer(resolver *r)
{
	struct timeval tv, *tvp;

	if (r->timer == NULL || !r->channel_ok)
		return;
	if ((tvp = ares_timeout(r->channel, NULL, &tv)) == NULL)
		event_del(r->timer);
	else
		event_add(r->timer, tvp);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	resolver *r = arg;

	(void)fd;
	(void)what;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm_timer(r);
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
	resolver *r = arg;

	/* The event may be freed by sock_state_cb inside: do not touch it. */
	ares_process_fd(r->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	                (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	rearm_timer(r);
}

static void sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	resolver *r = data;
	sockev **pp, *s;

	for (pp = &r->socks; (s = *pp) != NULL; pp = &s->next)
		if (s->fd == fd)
			break;
	if (s != NULL) {
		event_free(s->ev);
		s->ev = NULL;
	}
	if (!readable && !writable) {
		if (s != NULL) {
			*pp = s->next;
			free(s);
		}
		return;
	}
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return; /* the query times out */
		s->fd = fd;
		s->next = r->socks;
		r->socks = s;
	}
	s->ev = event_new(r->base, fd,
	                  EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0),
	                  on_socket, r);
	if (s->ev != NULL)
		event_add(s->ev, NULL);
}

/* ---------------------------------------------------------------------------
 * Lookups.
 */

static void lookup_release(lookup *l);
static void on_addr(void *arg, int status, int timeouts, unsigned char *abuf, int alen);
static void on_mx(void *arg, int status, int timeouts, unsigned char *abuf, int alen);

static void send_query(lookup *l, qctx *q, const char *name)
{
	resolver *r = l->r;

	l->pending++;
	r->st.queries++;
	ares_query(r->channel, name, ns_c_in, q->type, q->type == ns_t_mx ? on_mx : on_addr, q);
}

/* The failure of one query: the lookup answers TEMP. */
static void query_failed(lookup *l, int status, int type, const char *name)
{
	const char *text = status_text(status);

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
	note_ttl(l, negative_ttl(l->r, abuf, alen));
	if (!l->temp && l->why[0] == '\0')
		snprintf(l->why, sizeof(l->why), "%s looking up %s of %s", status_text(status),
		         type_name(type), name);
}

static void on_addr(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	qctx *q = arg;
	lookup *l = q->l;
	hslot *h = &l->slots[q->slot];
	int fam = q->type == ns_t_aaaa;

	(void)timeouts;
	if (status == ARES_SUCCESS) {
		struct ares_addrttl a4[RESOLVER_MAX_ADDRS];
		struct ares_addr6ttl a6[RESOLVER_MAX_ADDRS];
		int n = RESOLVER_MAX_ADDRS;

		if (fam == 0)
			status = ares_parse_a_reply(abuf, alen, NULL, a4, &n);
		else
			status = ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n);
		if (status == ARES_SUCCESS && n > 0) {
			if ((h->addrs[fam] = calloc((size_t)n, sizeof(tlsmaps_addr))) == NULL) {
				status = ARES_ENOMEM;
			} else {
				for (int i = 0; i < n; i++) {
					tlsmaps_addr *t = &h->addrs[fam][i];

					if (fam == 0) {
						t->family = 4;
						memcpy(t->bytes, &a4[i].ipaddr, 4);
						note_positive_ttl(
						        l, a4[i].ttl < 0 ? 0 : (unsigned)a4[i].ttl);
					} else {
						t->family = 6;
						memcpy(t->bytes, &a6[i].ip6addr, 16);
						note_positive_ttl(
						        l, a6[i].ttl < 0 ? 0 : (unsigned)a6[i].ttl);
					}
				}
				h->naddrs[fam] = (size_t)n;
			}
		} else if (status == ARES_SUCCESS) {
			status = ARES_ENODATA;
		}
	}
	if (status == ARES_ENOTFOUND || status == ARES_ENODATA)
		query_negative(l, status, q->type, h->name, abuf, alen);
	else if (status != ARES_SUCCESS)
		query_failed(l, status, q->type, h->name);
	lookup_release(l);
}

static int add_slot(lookup *l, const char *name)
{
	hslot *h;

	for (size_t i = 0; i < l->nslots; i++)
		if (strcasecmp(l->slots[i].name, name) == 0)
			return 0;
	if (l->nslots >= RESOLVER_MAX_ADDRS)
		return 0;
	if (l->slots == NULL && (l->slots = calloc(RESOLVER_MAX_ADDRS, sizeof(*l->slots))) == NULL)
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

static void on_mx(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	qctx *q = arg;
	lookup *l = q->l;
	struct ares_mx_reply *mx = NULL;

	(void)timeouts;
	l->pending++; /* hold the lookup while adding queries */
	if (status == ARES_SUCCESS) {
		long ttl = answer_ttl(abuf, alen);

		status = ares_parse_mx_reply(abuf, alen, &mx);
		if (status == ARES_SUCCESS && ttl < 0)
			status = ARES_EBADRESP;
		if (status == ARES_SUCCESS && mx == NULL)
			status = ARES_ENODATA;
		if (status == ARES_SUCCESS) {
			unsigned short pref = 0;
			int more = 1, nreal = 0;

			note_positive_ttl(l, (unsigned)ttl);
			/* Selection by preference, stable: O(n^2) for n <= a few. */
			for (int first = 1; more && status == ARES_SUCCESS; first = 0) {
				unsigned short next = 0;

				more = 0;
				for (struct ares_mx_reply *m = mx; m != NULL; m = m->next) {
					if (!first && m->priority <= pref)
						continue;
					if (!more || m->priority < next)
						next = m->priority;
					more = 1;
				}
				if (!more)
					break;
				pref = next;
				for (struct ares_mx_reply *m = mx; m != NULL; m = m->next) {
					if (m->priority != pref)
						continue;
					if (m->host == NULL || m->host[0] == '\0' ||
					    strcmp(m->host, ".") == 0)
						continue; /* null MX */
					nreal++;
					if (add_slot(l, m->host) < 0) {
						status = ARES_ENOMEM;
						break;
					}
				}
			}
			if (status == ARES_SUCCESS && nreal == 0) {
				l->nullmx = 1;
				/* A null MX is a negative answer: capped like one. */
				note_ttl(l, l->r->opts.negative_ttl);
				snprintf(l->why, sizeof(l->why), "null MX for %s", l->node.name);
			}
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
	else if (!l->r->closing)
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
		for (int k = 0; k < 2; k++)
			for (size_t j = 0; j < l->slots[i].naddrs[k] && n < RESOLVER_MAX_ADDRS; j++)
				addrs[n++] = l->slots[i].addrs[k][j];
	memset(&res, 0, sizeof(res));
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
static int start_channel(resolver *r, const char *servers, int flags, char *why, size_t whylen)
{
	struct ares_options ao;
	int status, mask;

	memset(&ao, 0, sizeof(ao));
	ao.sock_state_cb = sock_state_cb;
	ao.sock_state_cb_data = r;
	ao.timeout = r->opts.timeout_ms > INT32_MAX ? INT32_MAX : (int)r->opts.timeout_ms;
	ao.tries = r->opts.tries > 100 ? 100 : (int)r->opts.tries;
	ao.flags = ARES_FLAG_NOSEARCH | flags;
	mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
	if ((status = ares_init_options(&r->channel, &ao, mask)) != ARES_SUCCESS) {
		snprintf(why, whylen, "cannot start c-ares: %s", ares_strerror(status));
		return -1;
	}
	if (servers != NULL &&
	    (status = ares_set_servers_ports_csv(r->channel, servers)) != ARES_SUCCESS) {
		snprintf(why, whylen, "bad DNS servers \"%s\": %s", servers, ares_strerror(status));
		ares_destroy(r->channel);
		return -1;
	}
	return 0;
}

static int count_servers(resolver *r)
{
	struct ares_addr_port_node *list = NULL;
	int n = 0;

	if (ares_get_servers_ports(r->channel, &list) != ARES_SUCCESS)
		return -1;
	for (struct ares_addr_port_node *s = list; s != NULL; s = s->next)
		n++;
	ares_free_data(list);
	return n;
}

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
	int status, nservers;

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
	if (htable_init(&r->cache) < 0 || htable_init(&r->inflight) < 0 ||
	    (r->timer = evtimer_new(base, on_timer, r)) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	if ((status = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		snprintf(why, whylen, "cannot initialise c-ares: %s", ares_strerror(status));
		goto fail;
	}
	if (start_channel(r, opts->servers, 0, why, whylen) < 0) {
		ares_library_cleanup();
		goto fail;
	}
	r->channel_ok = 1;
	if ((nservers = count_servers(r)) == 0) {
		snprintf(why, whylen, "no DNS servers");
		resolver_free(r);
		return NULL;
	}
	/* One server: SERVFAIL and REFUSED end the query, and say so. */
	if (nservers == 1) {
		ares_destroy(r->channel);
		r->channel_ok = 0;
		if (start_channel(r, opts->servers, ARES_FLAG_NOCHECKRESP, why, whylen) < 0) {
			ares_library_cleanup();
			goto fail;
		}
		r->channel_ok = 1;
		r->one_server = 1;
	}
	return r;
fail:
	if (r->timer != NULL)
		event_free(r->timer);
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

int resolver_resolve(resolver *r, const char *name, resolver_mode mode, resolver_cb cb, void *ctx)
{
	size_t len = strlen(name);
	hnode *n;
	lookup *l;
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
	if ((n = htable_find(&r->cache, mode, name, len)) != NULL) {
		centry *e = (centry *)n;

		if (e->expires_ms > now_ms()) {
			tlsmaps_addr addrs[RESOLVER_MAX_ADDRS];
			resolver_result res;

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
			return 0;
		}
		cache_unlink(r, e);
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	w->cb = cb;
	w->ctx = ctx;
	if ((n = htable_find(&r->inflight, mode, name, len)) != NULL) {
		l = (lookup *)n;
		*l->wtail = w;
		l->wtail = &w->next;
		r->st.cache_misses++;
		return 0;
	}
	if ((l = calloc(1, sizeof(*l) + len + 1)) == NULL) {
		free(w);
		return -1;
	}
	l->r = r;
	l->node.mode = mode;
	l->node.len = len;
	l->node.name = (char *)(l + 1);
	memcpy(l->node.name, name, len + 1);
	if (mode == RESOLVER_HOST && add_slot(l, name) < 0) {
		lookup_free(l);
		free(w);
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
	rearm_timer(r);
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
	if (r->channel_ok) {
		/* Calls every pending query back with ARES_EDESTRUCTION. */
		ares_destroy(r->channel);
		r->channel_ok = 0;
		ares_library_cleanup();
	}
	while (r->socks != NULL) {
		sockev *s = r->socks;

		r->socks = s->next;
		if (s->ev != NULL)
			event_free(s->ev);
		free(s);
	}
	if (r->timer != NULL)
		event_free(r->timer);
	while (r->oldest != NULL)
		cache_unlink(r, r->oldest);
	/* Lookups still in flight cannot exist here: every query ended. */
	free(r->cache.buckets);
	free(r->inflight.buckets);
	free(r);
}
