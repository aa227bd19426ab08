/*
 * NAME
 *	relay_dns.c - relay mode: the addresses of one gateway, through c-ares
 * SUMMARY
 *	relay_dns_targets() (relay_int.h)
 * DESCRIPTION
 *	A literal gateway is its own single address (no name to verify but the
 *	address). A name is looked up with c-ares (the system resolver's
 *	configuration, names absolute):
 *	- with mx_lookup: its MX records, in preference order, equal
 *	  preferences in answer order; each MX host's A then AAAA records, in
 *	  answer order; the name checked on the certificate is the MX host's.
 *	  No MX records (NODATA): the name's own A and AAAA records. A null MX
 *	  (RFC 7505) is a failure. A host whose addresses cannot be found is
 *	  skipped; when no host gives an address the gateway fails;
 *	- without: the name's A then AAAA records.
 *	c-ares asks the next server on SERVFAIL and REFUSED and reports
 *	ARES_ECONNREFUSED when none is left ("SERVFAIL, REFUSED or no server
 *	reachable"). That, a timeout, a malformed answer and NXDOMAIN of the
 *	MX query, or of the address queries of a name, fail the gateway:
 *	never "no gateway", never a fallback to something else.
 *
 *	Timeouts: c-ares tries each server DNS_TRIES times, the first try
 *	waiting a sixth of the time left (at most 3 s), the second twice that:
 *	an unanswered gateway costs at most half of what is left, so the next
 *	gateway still gets its turn. The caller's deadline bounds it all.
 *
 *	Every call has a channel of its own (ares_init_options()), driven with
 *	poll() until the caller's deadline, then destroyed: relay_send() runs
 *	in many threads at once.
 * DIAGNOSTICS
 *	"MX lookup: SERVFAIL", "address lookup: gw.example: timeout",
 *	"address lookup: gw.example: no A or AAAA record", "null MX",
 *	"DNS: no time left".
 * SEE ALSO
 *	relay_int.h, policyd/resolver_ares.c; c-ares ares_query(3),
 *	ares_getsock(3), ares_process_fd(3)
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay_int.h"

#define ADDRS_MAX RELAY_TARGETS_MAX
#define DNS_TRIES 2     /* per server */
#define DNS_TRY_MS 3000 /* the first try's timeout at most; c-ares doubles it for the next */
#define DNS_SHARE 6     /* and at most a sixth of the time left */

typedef struct {
	int pending; /* queries not yet called back */
} loop;

typedef struct {
	loop *lp;
	int v6; /* an AAAA query, else A */
	int status;
	size_t n;
	struct ares_addrttl a4[ADDRS_MAX];
	struct ares_addr6ttl a6[ADDRS_MAX];
} addr_query;

typedef struct {
	char host[RELAY_HOST_MAX];
	unsigned short pref;
} mx_entry;

typedef struct {
	loop *lp;
	int status;
	size_t n;
	mx_entry mx[ADDRS_MAX];
} mx_query;

static const char *status_text(int status)
{
	switch (status) {
	case ARES_ESERVFAIL:
		return "SERVFAIL";
	case ARES_EREFUSED:
		return "REFUSED";
	case ARES_ETIMEOUT:
		return "timeout";
	case ARES_ECONNREFUSED: /* c-ares: every server answered SERVFAIL or REFUSED */
		return "SERVFAIL, REFUSED or no server reachable";
	case ARES_ENOTFOUND:
		return "NXDOMAIN";
	case ARES_ENODATA:
		return "NODATA";
	case ARES_EBADRESP:
		return "malformed answer";
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		return "no time left";
	default:
		return ares_strerror(status);
	}
}

static void on_addr(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	addr_query *q = arg;
	int n = ADDRS_MAX;

	(void)timeouts;
	q->lp->pending--;
	if (status == ARES_SUCCESS)
		status = q->v6 ? ares_parse_aaaa_reply(abuf, alen, NULL, q->a6, &n)
		               : ares_parse_a_reply(abuf, alen, NULL, q->a4, &n);
	q->status = status;
	q->n = status == ARES_SUCCESS && n > 0 ? (size_t)n : 0;
}

static void on_mx(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	mx_query *q = arg;
	struct ares_mx_reply *list = NULL, *r;

	(void)timeouts;
	q->lp->pending--;
	if (status == ARES_SUCCESS)
		status = ares_parse_mx_reply(abuf, alen, &list);
	q->status = status;
	for (r = list; status == ARES_SUCCESS && r != NULL && q->n < ADDRS_MAX; r = r->next) {
		snprintf(q->mx[q->n].host, sizeof(q->mx[q->n].host), "%s", r->host);
		q->mx[q->n++].pref = r->priority;
	}
	if (list != NULL)
		ares_free_data(list);
}

/* Drive the channel until no query is pending. 0, or -1 at the deadline. */
static int run(ares_channel ch, loop *lp, int64_t deadline)
{
	while (lp->pending > 0) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		struct pollfd p[ARES_GETSOCK_MAXNUM];
		struct timeval tv, maxtv, *tvp;
		int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM), n = 0, rc;
		int64_t left = deadline - smtpconn_now_ms();

		if (left <= 0)
			return -1;
		/* (ARES_GETSOCK_WRITABLE shifts a signed 1 into the sign bit: not used) */
		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			unsigned b = (unsigned)bits;
			short ev = (b & 1u << i ? POLLIN : 0) |
			           (b & 1u << (i + ARES_GETSOCK_MAXNUM) ? POLLOUT : 0);

			if (ev != 0)
				p[n++] = (struct pollfd){socks[i], ev, 0};
		}
		maxtv.tv_sec = left / 1000;
		maxtv.tv_usec = (left % 1000) * 1000;
		tvp = ares_timeout(ch, &maxtv, &tv);
		rc = poll(p, (nfds_t)n, (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000));
		if (rc < 0 && errno != EINTR)
			return -1;
		if (rc <= 0) {
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (int i = 0; i < n; i++)
			if (p[i].revents != 0)
				ares_process_fd(ch,
				                p[i].revents & (POLLIN | POLLERR | POLLHUP)
				                        ? p[i].fd
				                        : ARES_SOCKET_BAD,
				                p[i].revents & POLLOUT ? p[i].fd : ARES_SOCKET_BAD);
	}
	return 0;
}

static void add_target(relay_target *t, size_t max, size_t *n, const char *name, int family,
                       const void *addr, unsigned port)
{
	relay_target *x;

	if (*n >= max)
		return;
	x = &t[(*n)++];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", name);
	inet_ntop(family, addr, x->addr, sizeof(x->addr));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&x->sa;

		s->sin_family = AF_INET;
		s->sin_port = htons((uint16_t)port);
		memcpy(&s->sin_addr, addr, sizeof(s->sin_addr));
		x->salen = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&x->sa;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons((uint16_t)port);
		memcpy(&s->sin6_addr, addr, sizeof(s->sin6_addr));
		x->salen = sizeof(*s);
	}
}

/* A and AAAA of name, appended to t. 0 (maybe none found), or -1 with why. */
static int host_addrs(ares_channel ch, const char *name, unsigned port, int64_t deadline,
                      relay_target *t, size_t max, size_t *n, char *why, size_t len)
{
	loop lp = {2};
	addr_query *q = calloc(2, sizeof(*q));
	int rc = -1, bad;

	if (q == NULL)
		return snprintf(why, len, "out of memory"), -1;
	q[0].lp = q[1].lp = &lp;
	q[1].v6 = 1;
	ares_query(ch, name, ns_c_in, ns_t_a, on_addr, &q[0]);
	ares_query(ch, name, ns_c_in, ns_t_aaaa, on_addr, &q[1]);
	if (run(ch, &lp, deadline) < 0) {
		snprintf(why, len, "address lookup: %s: no time left", name);
		ares_cancel(ch);
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		bad = q[i].status != ARES_SUCCESS && q[i].status != ARES_ENODATA;
		if (bad) {
			snprintf(why, len, "address lookup: %s: %s", name,
			         status_text(q[i].status));
			goto out;
		}
	}
	for (size_t i = 0; i < q[0].n; i++)
		add_target(t, max, n, name, AF_INET, &q[0].a4[i].ipaddr, port);
	for (size_t i = 0; i < q[1].n; i++)
		add_target(t, max, n, name, AF_INET6, &q[1].a6[i].ip6addr, port);
	rc = 0;
out:
	free(q);
	return rc;
}

/* The MX hosts of name in preference order (stable). 0, 1 for none, -1 with why. */
static int mx_hosts(ares_channel ch, const char *name, int64_t deadline, mx_query *q, char *why,
                    size_t len)
{
	loop lp = {1};

	q->lp = &lp;
	ares_query(ch, name, ns_c_in, ns_t_mx, on_mx, q);
	if (run(ch, &lp, deadline) < 0) {
		ares_cancel(ch);
		return snprintf(why, len, "MX lookup: %s: no time left", name), -1;
	}
	if (q->status == ARES_ENODATA)
		return 1;
	if (q->status != ARES_SUCCESS)
		return snprintf(why, len, "MX lookup: %s: %s", name, status_text(q->status)), -1;
	for (size_t i = 1; i < q->n; i++)
		for (size_t j = i; j > 0 && q->mx[j - 1].pref > q->mx[j].pref; j--) {
			mx_entry x = q->mx[j];

			q->mx[j] = q->mx[j - 1];
			q->mx[j - 1] = x;
		}
	if (q->n == 0)
		return 1;
	if (q->n == 1 && (q->mx[0].host[0] == '\0' || strcmp(q->mx[0].host, ".") == 0))
		return snprintf(why, len, "MX lookup: %s: null MX", name), -1;
	return 0;
}

/* The A and AAAA records of one name, at least one. */
static int name_addrs(ares_channel ch, const char *name, unsigned port, int64_t deadline,
                      relay_target *t, size_t max, size_t *n, char *why, size_t len)
{
	if (host_addrs(ch, name, port, deadline, t, max, n, why, len) < 0)
		return -1;
	if (*n == 0)
		return snprintf(why, len, "address lookup: %s: no A or AAAA record", name), -1;
	return 0;
}

/* The addresses of the MX hosts; a host that fails is skipped. */
static int mx_addrs(ares_channel ch, const mx_query *q, const char *name, unsigned port,
                    int64_t deadline, relay_target *t, size_t max, size_t *n, char *why, size_t len)
{
	char first[RELAY_TEXT_MAX] = "";

	for (size_t i = 0; i < q->n && *n < max; i++) {
		if (host_addrs(ch, q->mx[i].host, port, deadline, t, max, n, why, len) == 0)
			continue;
		if (first[0] == '\0')
			snprintf(first, sizeof(first), "%s", why);
		if (smtpconn_now_ms() >= deadline)
			break;
	}
	if (*n > 0)
		return 0;
	if (first[0] != '\0')
		snprintf(why, len, "%s", first);
	else
		snprintf(why, len, "address lookup: %s: no MX host has an address", name);
	return -1;
}

static int lookup(ares_channel ch, const relay_gateway *g, int mx_lookup, int64_t deadline,
                  relay_target *t, size_t max, size_t *n, char *why, size_t len)
{
	mx_query *q;
	int rc;

	if (!mx_lookup)
		return name_addrs(ch, g->host, g->port, deadline, t, max, n, why, len);
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return snprintf(why, len, "out of memory"), -1;
	rc = mx_hosts(ch, g->host, deadline, q, why, len);
	if (rc == 1)
		rc = name_addrs(ch, g->host, g->port, deadline, t, max, n, why, len);
	else if (rc == 0)
		rc = mx_addrs(ch, q, g->host, g->port, deadline, t, max, n, why, len);
	free(q);
	return rc;
}

int relay_dns_targets(const relay_gateway *g, int mx_lookup, int64_t deadline, relay_target *t,
                      size_t max, size_t *n, char *why, size_t len)
{
	struct ares_options ao;
	ares_channel ch;
	unsigned char a[sizeof(struct in6_addr)];
	int status, rc;

	*n = 0;
	why[0] = '\0';
	if (g->literal) {
		int family = inet_pton(AF_INET, g->host, a) == 1 ? AF_INET : AF_INET6;

		if (family == AF_INET6 && inet_pton(AF_INET6, g->host, a) != 1)
			return snprintf(why, len, "not an address"), -1;
		add_target(t, max, n, "", family, a, g->port);
		return 0;
	}
	memset(&ao, 0, sizeof(ao));
	ao.flags = ARES_FLAG_NOSEARCH;
	ao.tries = DNS_TRIES;
	ao.timeout = (int)((deadline - smtpconn_now_ms()) / DNS_SHARE);
	if (ao.timeout > DNS_TRY_MS)
		ao.timeout = DNS_TRY_MS;
	if (ao.timeout < 100)
		ao.timeout = 100;
	status = ares_init_options(&ch, &ao, ARES_OPT_FLAGS | ARES_OPT_TRIES | ARES_OPT_TIMEOUTMS);
	if (status != ARES_SUCCESS)
		return snprintf(why, len, "DNS: cannot start c-ares: %s", ares_strerror(status)),
		       -1;
	rc = lookup(ch, g, mx_lookup, deadline, t, max, n, why, len);
	ares_destroy(ch);
	/* The certificate is checked against the name as configured, never DNS's answer. */
	for (size_t i = 0; mx_lookup && i < *n; i++)
		snprintf(t[i].domain, sizeof(t[i].domain), "%s", g->host);
	return rc;
}
