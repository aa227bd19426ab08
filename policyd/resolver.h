/*
 * NAME
 *	resolver.h - asynchronous MX and address resolution with a TTL cache
 * DESCRIPTION
 *	forcetls-policyd asks this module for the addresses behind an outbound
 *	destination when the table has outbound network entries (SPEC section
 *	3, step 3). It runs c-ares inside the daemon's libevent loop: no thread,
 *	no blocking call.
 *
 *	RESOLVER_MX, for an unbracketed domain: the MX hosts in preference
 *	order (equal preferences in answer order), then the A and AAAA
 *	addresses of each host, concatenated in that order. No MX record (NODATA)
 *	means the implicit MX: the A and AAAA addresses of the domain itself.
 *	A null MX ("." RFC 7505) is RESOLVER_NOTFOUND.
 *	RESOLVER_HOST, for a bracketed [host]: its A and AAAA addresses.
 *
 *	Outcomes:
 *	- RESOLVER_OK: at least one address.
 *	- RESOLVER_NOTFOUND: NXDOMAIN, NODATA for every name asked, or null MX.
 *	- RESOLVER_TEMP: SERVFAIL, REFUSED, timeout, a malformed answer, or
 *	  any MX host whose address lookup failed temporarily (then the strict
 *	  answer is unknown: the caller defers). An MX host whose own name is
 *	  NXDOMAIN is skipped. Also, with limit set, an answer beyond a cap
 *	  below (more MX hosts or addresses than we keep).
 *
 *	Answers are cached by name and mode, for the smallest TTL of the
 *	records used (capped by cache_max_ttl), NOTFOUND for the SOA minimum
 *	capped by negative_ttl. TEMP is never cached. The cache holds at most
 *	cache_size answers; the oldest is dropped first. Concurrent requests for
 *	the same name while one is in flight share that query.
 * SEE ALSO
 *	decide.c, the caller; c-ares ares_query(3), ares_getaddrinfo(3).
 */
#ifndef RESOLVER_H
#define RESOLVER_H

#include <stddef.h>

#include <event2/event.h>

#include "tlsmaps.h"

typedef struct resolver resolver;

typedef enum {
	RESOLVER_MX = 0,
	RESOLVER_HOST,
} resolver_mode;

typedef enum {
	RESOLVER_OK = 0,
	RESOLVER_NOTFOUND,
	RESOLVER_TEMP,
} resolver_status;

/*
 * Caps. A lookup that would exceed one answers RESOLVER_TEMP with limit set
 * ("too many addresses for HOST: N > CAP"), never a part of its answer:
 * the address that forces TLS could be the one dropped.
 */
#define RESOLVER_MAX_ADDRS 1024 /* addresses of one lookup, all its hosts together */
#define RESOLVER_MAX_HOSTS 100  /* MX hosts of one domain (duplicates counted once) */

typedef struct {
	resolver_status status;
	size_t naddrs;
	const tlsmaps_addr *addrs; /* valid only during the callback */
	const char *why;           /* "SERVFAIL for example.com MX", "" when OK */
	int cached;                /* 1 when answered from the cache */
	int limit;                 /* RESOLVER_TEMP because a cap was reached */
} resolver_result;

typedef void (*resolver_cb)(void *ctx, const resolver_result *r);

typedef struct {
	const char *servers;    /* NULL: /etc/resolv.conf; else "127.0.0.1:53,[::1]:53" */
	unsigned timeout_ms;    /* per try, default 2000 */
	unsigned tries;         /* default 2 */
	size_t cache_size;      /* default 100000 answers; 0 disables the cache */
	unsigned cache_max_ttl; /* seconds, default 3600 */
	unsigned negative_ttl;  /* seconds, default 300 */
	/* NULL, or called with "MX", "A" or "AAAA" and the seconds each query took. */
	void (*observe)(const char *type, double seconds);
} resolver_options;

typedef struct {
	unsigned long queries; /* DNS queries sent */
	unsigned long cache_hits;
	unsigned long cache_misses;
	unsigned long temp_failures;
	size_t cache_entries;
} resolver_stats;

void resolver_options_init(resolver_options *opts);

/* NULL with a reason in why when c-ares cannot start (bad servers, ...). */
resolver *resolver_new(struct event_base *base, const resolver_options *opts, char *why,
                       size_t whylen);

/*
 * Resolve name (normalized, no trailing dot) in mode. cb is called exactly
 * once, possibly before resolver_resolve() returns (cache hit, bad name).
 * Returns 0, or -1 when out of memory (cb is then not called).
 */
int resolver_resolve(resolver *r, const char *name, resolver_mode mode, resolver_cb cb, void *ctx);

void resolver_get_stats(const resolver *r, resolver_stats *st);

/* Cancels nothing: pending callbacks are called with RESOLVER_TEMP first. */
void resolver_free(resolver *r);

#endif /* RESOLVER_H */
