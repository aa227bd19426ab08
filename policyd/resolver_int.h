/*
 * NAME
 *	resolver_int.h - the resolver's insides, shared by its three files
 * DESCRIPTION
 *	Not for policyd: resolver.h is the interface. The resolver is three
 *	files along its seams:
 *
 *	resolver.c        the MX logic: lookups, their queries, their outcome
 *	                  and TTL, and the public functions;
 *	resolver_cache.c  the (mode, name) hash tables, the TTL cache, and
 *	                  the TTLs read from answers;
 *	resolver_ares.c   c-ares inside the libevent loop: the channel, its
 *	                  sockets and timer, sending a query.
 *
 *	Everything runs in the event loop's thread.
 */
#ifndef RESOLVER_INT_H
#define RESOLVER_INT_H

#include <stdint.h>
#include <time.h>

#include <ares.h>
#include <event2/event.h>

#include "resolver.h"

#define WHY_MAX 300
#define NAME_MAX_LEN 253

/* An intrusive hash table of (mode, name) nodes; the node comes first in its container. */
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
	size_t slot;          /* host index, for A and AAAA */
	int type;             /* ns_t_mx, ns_t_a, ns_t_aaaa */
	struct timespec sent; /* for resolver_options.observe */
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
	int limit;        /* ... or a cap was reached (temp is set too) */
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

/* resolver_cache.c */
int64_t resolver_now_ms(void);
int htable_init(htable *t);
hnode *htable_find(const htable *t, resolver_mode mode, const char *name, size_t len);
void htable_insert(htable *t, hnode *n); /* n's mode, name, len set; not in t yet */
void htable_remove(htable *t, hnode *n);
/* Store the outcome of l (TEMP and TTL 0 are not stored). */
void cache_store(resolver *r, const lookup *l, resolver_status status, const tlsmaps_addr *addrs,
                 size_t naddrs);
/* A fresh cached answer to (mode, name) given to cb: 1; else 0 (-1: out of memory). */
int cache_answer(resolver *r, resolver_mode mode, const char *name, size_t len, resolver_cb cb,
                 void *ctx);
void cache_clear(resolver *r);
void ttl_note(lookup *l, unsigned ttl);          /* the smallest TTL of a lookup */
void ttl_note_positive(lookup *l, unsigned ttl); /* ... capped by cache_max_ttl */
/* The TTL of a negative answer (SOA, RFC 2308 section 5), capped by negative_ttl. */
unsigned ttl_negative(const resolver *r, const unsigned char *abuf, int alen);
long ttl_answer(const unsigned char *abuf, int alen); /* smallest in the answer, or -1 */

/* resolver_ares.c */
/* Start c-ares on r (opts set): 0, or -1 with a reason in why. */
int ares_glue_start(resolver *r, const char *servers, char *why, size_t whylen);
void ares_glue_stop(resolver *r); /* every pending query is called back first */
void ares_glue_query(resolver *r, const char *name, int type, ares_callback cb, void *arg);
void ares_glue_rearm(resolver *r); /* after queries are sent outside a callback */
const char *ares_glue_status_text(int status);

#endif /* RESOLVER_INT_H */
