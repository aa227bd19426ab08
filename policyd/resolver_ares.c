/*
 * NAME
 *	resolver_ares.c - c-ares inside the caller's libevent loop
 * SUMMARY
 *	ares_glue_start(), ares_glue_stop(), ares_glue_query(),
 *	ares_glue_rearm(), ares_glue_status_text()
 * DESCRIPTION
 *	ARES_OPT_SOCK_STATE_CB tells us which sockets c-ares wants watched:
 *	each gets one persistent libevent event, recreated when the read/write
 *	interest changes and freed when c-ares closes the socket. Readiness
 *	calls ares_process_fd(); one timer, re-armed from ares_timeout() after
 *	every query sent and every round of processing, drives retries and
 *	timeouts.
 *
 *	With one server, the channel is restarted with ARES_FLAG_NOCHECKRESP so
 *	that SERVFAIL and REFUSED end the query and are reported as such; with
 *	several, c-ares tries the next server on them (resolver.c words the
 *	failure accordingly, from one_server).
 *
 *	Queries are sent with ARES_FLAG_NOSEARCH (names are absolute). A
 *	truncated UDP answer is asked again over TCP by c-ares.
 * DIAGNOSTICS
 *	Never logs. ares_glue_start() fails with a reason: c-ares cannot
 *	start, bad servers, no DNS servers.
 * SEE ALSO
 *	resolver_int.h; c-ares ares_init_options(3), ares_process_fd(3),
 *	ares_timeout(3).
 */
#include <arpa/nameser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver_int.h"

const char *ares_glue_status_text(int status)
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

void ares_glue_rearm(resolver *r)
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
	ares_glue_rearm(r);
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
	resolver *r = arg;

	/* The event may be freed by sock_state_cb inside: do not touch it. */
	ares_process_fd(r->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	                (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	ares_glue_rearm(r);
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

void ares_glue_query(resolver *r, const char *name, int type, ares_callback cb, void *arg)
{
	r->st.queries++;
	ares_query(r->channel, name, ns_c_in, type, cb, arg);
}

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

int ares_glue_start(resolver *r, const char *servers, char *why, size_t whylen)
{
	int status, nservers;

	if ((r->timer = evtimer_new(r->base, on_timer, r)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if ((status = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		snprintf(why, whylen, "cannot initialise c-ares: %s", ares_strerror(status));
		goto fail;
	}
	if (start_channel(r, servers, 0, why, whylen) < 0)
		goto fail_library;
	r->channel_ok = 1;
	if ((nservers = count_servers(r)) == 0) {
		snprintf(why, whylen, "no DNS servers");
		ares_glue_stop(r);
		return -1;
	}
	/* One server: SERVFAIL and REFUSED end the query, and say so. */
	if (nservers == 1) {
		ares_destroy(r->channel);
		r->channel_ok = 0;
		if (start_channel(r, servers, ARES_FLAG_NOCHECKRESP, why, whylen) < 0)
			goto fail_library;
		r->channel_ok = 1;
		r->one_server = 1;
	}
	return 0;
fail_library:
	ares_library_cleanup();
fail:
	event_free(r->timer);
	r->timer = NULL;
	return -1;
}

void ares_glue_stop(resolver *r)
{
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
	r->timer = NULL;
}
