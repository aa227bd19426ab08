/*
 * NAME
 *	server.c - connections on listening sockets, in one libevent loop
 * SUMMARY
 *	See server.h.
 * DESCRIPTION
 *	Each connection has a fixed input buffer of max_request bytes and a
 *	growing output buffer. Reads fill the input; complete requests are
 *	handed to the protocol one at a time; replies are written at once and,
 *	when the socket would block, on the next EV_WRITE. Input is not read
 *	while output is backed up beyond 64 KiB, so a client that never reads
 *	cannot make the daemon buffer without bound.
 *
 *	Lifetime: refs counts the event loop's own reference (dropped on close)
 *	and one per pending asynchronous reply; the memory goes with the last.
 * DIAGNOSTICS
 *	accept(2) failures other than EAGAIN are logged (EMFILE pauses accepting
 *	for a second). Peer resets are normal and not logged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "server.h"

#define OUT_HIGH_WATER (64 * 1024)
#define DRAIN_TIME 2 /* seconds a closing connection may keep sending */

struct listener {
	struct event_base *base;
	struct event *ev;
	struct event *pause;
	int fd;
	server_protocol proto;
	unsigned max_connections;
	struct timeval idle;
	size_t nconns;
	conn *conns; /* open connections, for listener_free() */
};

struct conn {
	listener *l;
	conn *prev, *next; /* in l->conns while open */
	int fd;
	struct event *rev, *wev;
	char *in;
	size_t inlen;
	char *out;
	size_t outlen, outcap, outoff;
	int refs;
	int waiting;  /* an ASYNC reply is pending */
	int closing;  /* close once the output is flushed */
	int dead;     /* fd closed; only pending replies keep it */
	int reading;  /* rev is added */
	int replied;  /* conn_reply() ran during the current request */
	int draining; /* replied and shut down: discard input until EOF */
};

static void conn_process(conn *c);
static void conn_flush(conn *c);

/* Read only when no reply is pending and the output is not backed up. */
static void conn_update_read(conn *c)
{
	int want = !c->dead && !c->waiting && (!c->closing || c->draining) &&
	           c->outlen - c->outoff <= OUT_HIGH_WATER;

	if (want && !c->reading)
		event_add(c->rev, c->l->idle.tv_sec > 0 ? &c->l->idle : NULL);
	else if (!want && c->reading)
		event_del(c->rev);
	c->reading = want;
}

static void conn_free(conn *c)
{
	free(c->in);
	free(c->out);
	free(c);
}

void conn_hold(conn *c)
{
	c->refs++;
}

void conn_release(conn *c)
{
	if (--c->refs == 0)
		conn_free(c);
}

static void conn_close(conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->l->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	event_free(c->rev);
	event_free(c->wev);
	close(c->fd);
	c->l->nconns--;
	conn_release(c);
}

void *conn_ctx(const conn *c)
{
	return c->l->proto.ctx;
}

void conn_reply(conn *c, const char *data, size_t len)
{
	int resume = c->waiting;

	c->waiting = 0;
	c->replied = 1;
	if (c->dead)
		return;
	if (c->outlen + len > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 512;
		char *p;

		while (cap < c->outlen + len)
			cap *= 2;
		if ((p = realloc(c->out, cap)) == NULL) {
			log_warnx("%s: out of memory for a reply; closing", c->l->proto.name);
			conn_close(c);
			return;
		}
		c->out = p;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, data, len);
	c->outlen += len;
	if (resume) {
		conn_flush(c);
		if (!c->dead)
			conn_process(c);
	}
}

static void conn_flush(conn *c)
{
	while (!c->dead && c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				event_add(c->wev, NULL);
				return;
			}
			conn_close(c);
			return;
		}
		c->outoff += (size_t)n;
	}
	if (c->dead)
		return;
	c->outoff = c->outlen = 0;
	if (c->closing && !c->draining) {
		/*
		 * Closing with unread input would reset the connection and could
		 * destroy the last reply in flight: shut down our side, then
		 * discard what the peer still sends until it closes (or DRAIN_TIME).
		 */
		struct timeval drain = {DRAIN_TIME, 0};

		c->draining = 1;
		shutdown(c->fd, SHUT_WR);
		if (c->reading)
			event_del(c->rev);
		event_add(c->rev, &drain);
		c->reading = 1;
		return;
	}
	if (!c->closing)
		conn_update_read(c);
}

/* Hand complete requests to the protocol until it needs more input or waits. */
static void conn_process(conn *c)
{
	while (!c->dead && !c->waiting && !c->closing && c->inlen > 0) {
		size_t used = 0;
		int full = c->inlen == c->l->proto.max_request;
		ssize_t r;

		c->replied = 0;
		r = c->l->proto.request(c, c->in, c->inlen, full, &used);

		if (r == SERVER_MORE) {
			if (full) /* the protocol did not handle it: close */
				c->closing = 1;
			break;
		}
		if (r == SERVER_CLOSE) {
			c->closing = 1;
			break;
		}
		if (r == SERVER_ASYNC) {
			c->waiting = !c->replied; /* answered already: go on */
			r = (ssize_t)used;
		}
		if (c->dead)
			break;
		memmove(c->in, c->in + r, c->inlen - (size_t)r);
		c->inlen -= (size_t)r;
	}
	if (!c->dead) {
		conn_update_read(c);
		conn_flush(c);
	}
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	conn *c = arg;
	ssize_t n;

	if (what & EV_TIMEOUT) { /* idle: rev is not added while a reply is pending */
		conn_close(c);
		return;
	}
	if (c->draining) {
		char scratch[4096];

		n = recv(fd, scratch, sizeof(scratch), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR && errno != EWOULDBLOCK))
			conn_close(c);
		return;
	}
	n = recv(fd, c->in + c->inlen, c->l->proto.max_request - c->inlen, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR && errno != EWOULDBLOCK)) {
		conn_close(c);
		return;
	}
	if (n < 0)
		return;
	c->inlen += (size_t)n;
	conn_hold(c);
	conn_process(c);
	conn_release(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	conn *c = arg;

	(void)fd;
	(void)what;
	conn_hold(c);
	conn_flush(c);
	conn_release(c);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	listener *l = arg;

	(void)fd;
	(void)what;
	event_add(l->ev, NULL);
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	listener *l = arg;

	(void)what;
	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		conn *c;

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				struct timeval one = {1, 0};

				log_warn("%s: accept", l->proto.name);
				event_del(l->ev);
				event_add(l->pause, &one);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			           errno != ECONNABORTED) {
				log_warn("%s: accept", l->proto.name);
			}
			return;
		}
		if (l->nconns >= l->max_connections) {
			log_warnx("%s: %u connections already; closing a new one", l->proto.name,
			          l->max_connections);
			close(fd);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->in = malloc(l->proto.max_request)) == NULL) {
			log_warnx("%s: out of memory for a connection", l->proto.name);
			if (c != NULL)
				free(c);
			close(fd);
			continue;
		}
		c->l = l;
		c->fd = fd;
		c->refs = 1;
		c->rev = event_new(l->base, fd, EV_READ | EV_PERSIST, on_read, c);
		c->wev = event_new(l->base, fd, EV_WRITE, on_write, c);
		if (c->rev == NULL || c->wev == NULL ||
		    event_add(c->rev, l->idle.tv_sec > 0 ? &l->idle : NULL) < 0) {
			if (c->rev != NULL)
				event_free(c->rev);
			if (c->wev != NULL)
				event_free(c->wev);
			close(fd);
			conn_free(c);
			continue;
		}
		c->reading = 1;
		c->next = l->conns;
		if (l->conns != NULL)
			l->conns->prev = c;
		l->conns = c;
		l->nconns++;
	}
}

listener *listener_new(struct event_base *base, int fd, const server_protocol *proto,
                       unsigned max_connections, unsigned idle_timeout)
{
	listener *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->base = base;
	l->fd = fd;
	l->proto = *proto;
	l->max_connections = max_connections;
	l->idle.tv_sec = idle_timeout;
	l->ev = event_new(base, fd, EV_READ | EV_PERSIST, on_accept, l);
	l->pause = evtimer_new(base, on_resume, l);
	if (l->ev == NULL || l->pause == NULL || event_add(l->ev, NULL) < 0) {
		listener_free(l);
		return NULL;
	}
	return l;
}

void listener_free(listener *l)
{
	if (l == NULL)
		return;
	while (l->conns != NULL)
		conn_close(l->conns); /* one with a pending reply lives until it */
	if (l->ev != NULL)
		event_free(l->ev);
	if (l->pause != NULL)
		event_free(l->pause);
	free(l);
}

size_t listener_connections(const listener *l)
{
	return l->nconns;
}
