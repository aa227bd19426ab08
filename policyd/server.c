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
 *	Time limits (server.h). The idle timeout is the read event's own
 *	timeout: it restarts on every read, and holds only while no request is
 *	pending; conn_no_idle_timeout() turns it off for one connection. A request's deadline is one
 *timer per connection (tev), armed at the end of the read that brought a request's first byte and
 *left it unanswered (partial, or waiting for an asynchronous reply), disarmed when its reply is
 *queued, re-armed for a pipelined request behind it. A request read and answered in one go never
 *touches the timer. The write deadline is the EV_WRITE event's timeout, counted from the first send
 *that would block (write_since) and not extended by progress. The drain after a last reply reuses
 *tev, with a byte count.
 *
 *	File descriptors: a listener holds at most fdbudget_cap() connections,
 *	max_connections or its share of RLIMIT_NOFILE (fdbudget.c), so that a
 *	flood on one socket cannot take the descriptors of the other or of DNS.
 *
 *	Lifetime: refs counts the event loop's own reference (dropped on close)
 *	and one per pending asynchronous reply; the memory goes with the last.
 * DIAGNOSTICS
 *	Refused connections (max_connections reached; accept(2) failures other
 *	than EAGAIN, EMFILE pausing accepting for a second) and connections
 *	closed by a limit ("request not complete within 10 s", "request not
 *	answered ...", "client not reading its replies for 10 s", "still
 *	sending after its last reply for 2 s", "more than 65536 bytes after
 *	its last reply") are logged, each kind at most once per log_interval
 *	(ratelog.c: a line at the end of the interval adds ": N more times in
 *	the last S s"). Peer resets and idle closes are normal and not logged.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fdbudget.h"
#include "log.h"
#include "ratelog.h"
#include "server.h"

#define OUT_HIGH_WATER (64 * 1024)

/* The kinds of rate-limited lines, one ratelog each. */
enum {
	RL_FULL,
	RL_ACCEPT,
	RL_PARTIAL,
	RL_UNANSWERED,
	RL_WRITE,
	RL_DRAIN_TIME,
	RL_DRAIN_BYTES,
	RL_COUNT
};

struct listener {
	struct event_base *base;
	struct event *ev;
	struct event *pause;
	int fd;
	server_protocol proto;
	listener_options opt;
	struct timeval idle, request, drain;
	ratelog rl[RL_COUNT];
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
	int waiting;            /* an ASYNC reply is pending */
	int closing;            /* close once the output is flushed */
	int dead;               /* fd closed; only pending replies keep it */
	int reading;            /* rev is added */
	int replied;            /* conn_reply() ran during the current request */
	int draining;           /* replied and shut down: discard input until EOF */
	int expired;            /* the deadline answered for a pending reply: drop it */
	struct event *tev;      /* the request deadline, or the drain's */
	int tev_armed;          /* for a request, or draining */
	unsigned long replies;  /* conn_reply() calls */
	unsigned long armed_at; /* replies when tev was armed for a request */
	int64_t write_since;    /* ms: the first send that would block; 0: none */
	size_t drained;         /* bytes discarded while draining */
	int no_idle;            /* conn_no_idle_timeout(): the idle timeout is off */
};

static void conn_process(conn *c);
static void conn_flush(conn *c);
static void on_read(evutil_socket_t fd, short what, void *arg);

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------------------
 * Connections.
 */

static const struct timeval *idle_of(const conn *c)
{
	return c->no_idle || c->l->idle.tv_sec == 0 ? NULL : &c->l->idle;
}

/* Read only when no reply is pending and the output is not backed up. */
static void conn_update_read(conn *c)
{
	int want = !c->dead && !c->waiting && (!c->closing || c->draining) &&
	           c->outlen - c->outoff <= OUT_HIGH_WATER;

	if (want && !c->reading)
		event_add(c->rev, idle_of(c));
	else if (!want && c->reading)
		event_del(c->rev);
	c->reading = want;
}

/*
 * The request deadline: armed while a request is unanswered (partial, or
 * waiting), for the request that was first when it was armed.
 */
static void conn_update_deadline(conn *c)
{
	int busy = !c->dead && !c->closing && (c->waiting || c->inlen > 0);

	if (c->draining)
		return; /* tev is the drain's */
	if (c->tev_armed && (!busy || c->replies != c->armed_at)) {
		evtimer_del(c->tev);
		c->tev_armed = 0;
	}
	if (busy && !c->tev_armed) {
		evtimer_add(c->tev, &c->l->request);
		c->tev_armed = 1;
		c->armed_at = c->replies;
	}
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
	event_free(c->tev);
	close(c->fd);
	c->l->nconns--;
	conn_release(c);
}

/* A new read event: libevent re-arms a persistent event's old timeout after add(NULL). */
void conn_no_idle_timeout(conn *c)
{
	struct event *ev;

	if (c->no_idle || c->dead)
		return;
	if ((ev = event_new(c->l->base, c->fd, EV_READ | EV_PERSIST, on_read, c)) == NULL)
		return; /* the idle timeout stays: a later lookup may fail, safely */
	c->no_idle = 1;
	event_free(c->rev); /* safe in its own callback */
	c->rev = ev;
	c->reading = c->reading && event_add(c->rev, NULL) == 0;
}

void *conn_ctx(const conn *c)
{
	return c->l->proto.ctx;
}

/* Append to the output; -1 (and closed) when out of memory. */
static int conn_queue(conn *c, const char *data, size_t len)
{
	if (c->outlen + len > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 512;
		char *p;

		while (cap < c->outlen + len)
			cap *= 2;
		if ((p = realloc(c->out, cap)) == NULL) {
			log_warnx("%s: out of memory for a reply; closing", c->l->proto.name);
			conn_close(c);
			return -1;
		}
		c->out = p;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, data, len);
	c->outlen += len;
	return 0;
}

void conn_reply(conn *c, const char *data, size_t len)
{
	int resume = c->waiting;

	c->waiting = 0;
	c->replied = 1;
	c->replies++;
	if (c->dead || c->expired)
		return;
	if (conn_queue(c, data, len) < 0)
		return;
	if (resume) {
		conn_flush(c);
		if (!c->dead)
			conn_process(c);
	}
}

/* Output that would block: wait for EV_WRITE, within write_timeout of the first block. */
static void conn_wait_writable(conn *c)
{
	int64_t now, left;
	struct timeval tv;

	if (event_pending(c->wev, EV_WRITE, NULL))
		return;
	now = now_ms();
	if (c->write_since == 0)
		c->write_since = now;
	left = c->write_since + (int64_t)c->l->opt.write_timeout * 1000 - now;
	if (left < 1)
		left = 1;
	tv.tv_sec = left / 1000;
	tv.tv_usec = left % 1000 * 1000;
	event_add(c->wev, &tv);
}

/*
 * Closing with unread input would reset the connection and could destroy
 * the last reply in flight: shut down our side, then discard what the peer
 * still sends until it closes, for at most drain_timeout and drain_max.
 */
static void conn_start_drain(conn *c)
{
	c->draining = 1;
	shutdown(c->fd, SHUT_WR);
	if (c->reading)
		event_del(c->rev);
	event_add(c->rev, NULL);
	c->reading = 1;
	if (c->tev_armed)
		evtimer_del(c->tev);
	evtimer_add(c->tev, &c->l->drain);
	c->tev_armed = 1;
}

static void conn_flush(conn *c)
{
	while (!c->dead && c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				conn_wait_writable(c);
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
	c->write_since = 0;
	if (c->closing && !c->draining) {
		conn_start_drain(c);
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
		conn_update_deadline(c);
		conn_flush(c);
	}
}

/* The request deadline, or the drain's, has passed. */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	conn *c = arg;
	listener *l = c->l;

	(void)fd;
	(void)what;
	c->tev_armed = 0;
	if (c->draining) {
		ratelog_warnx(&l->rl[RL_DRAIN_TIME],
		              "%s: closing a connection: still sending after its last reply "
		              "for %u s (drain_timeout)",
		              l->proto.name, l->opt.drain_timeout);
		conn_close(c);
		return;
	}
	ratelog_warnx(&l->rl[c->waiting ? RL_UNANSWERED : RL_PARTIAL],
	              "%s: closing a connection: request %s within %u s (%s)", l->proto.name,
	              c->waiting ? "not answered" : "not complete", l->opt.request_timeout,
	              "request_timeout");
	if (!c->waiting || l->proto.timeout_reply == NULL) {
		conn_close(c); /* a partial request: nothing the protocol allows */
		return;
	}
	conn_hold(c);
	if (conn_queue(c, l->proto.timeout_reply, l->proto.timeout_reply_len) == 0) {
		c->expired = 1; /* the late reply is dropped */
		c->closing = 1;
		conn_flush(c);
	}
	conn_release(c);
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
		if (n == 0 ||
		    (n < 0 && errno != EAGAIN && errno != EINTR && errno != EWOULDBLOCK)) {
			conn_close(c);
		} else if (n > 0 && (c->drained += (size_t)n) > c->l->opt.drain_max) {
			ratelog_warnx(&c->l->rl[RL_DRAIN_BYTES],
			              "%s: closing a connection: more than %zu bytes after its "
			              "last reply (drain_max)",
			              c->l->proto.name, c->l->opt.drain_max);
			conn_close(c);
		}
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
	if (what & EV_TIMEOUT) {
		ratelog_warnx(&c->l->rl[RL_WRITE],
		              "%s: closing a connection: client not reading its replies for "
		              "%u s (write_timeout)",
		              c->l->proto.name, c->l->opt.write_timeout);
		conn_close(c);
		return;
	}
	conn_hold(c);
	conn_flush(c);
	conn_release(c);
}

/* ---------------------------------------------------------------------------
 * Listeners.
 */

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	listener *l = arg;

	(void)fd;
	(void)what;
	event_add(l->ev, NULL);
}

/* accept4() failed with errno. */
static void accept_failed(listener *l)
{
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
		struct timeval one = {1, 0};

		ratelog_warnx(&l->rl[RL_ACCEPT], "%s: accept: %s; pausing for 1 s", l->proto.name,
		              strerror(errno));
		event_del(l->ev);
		event_add(l->pause, &one);
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
	           errno != ECONNABORTED) {
		ratelog_warnx(&l->rl[RL_ACCEPT], "%s: accept: %s", l->proto.name, strerror(errno));
	}
}

static void conn_new(listener *l, int fd)
{
	conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL || (c->in = malloc(l->proto.max_request)) == NULL) {
		ratelog_warnx(&l->rl[RL_ACCEPT], "%s: out of memory for a connection; closing it",
		              l->proto.name);
		free(c);
		close(fd);
		return;
	}
	c->l = l;
	c->fd = fd;
	c->refs = 1;
	c->rev = event_new(l->base, fd, EV_READ | EV_PERSIST, on_read, c);
	c->wev = event_new(l->base, fd, EV_WRITE, on_write, c);
	c->tev = evtimer_new(l->base, on_deadline, c);
	if (c->rev == NULL || c->wev == NULL || c->tev == NULL ||
	    event_add(c->rev, idle_of(c)) < 0) {
		if (c->rev != NULL)
			event_free(c->rev);
		if (c->wev != NULL)
			event_free(c->wev);
		if (c->tev != NULL)
			event_free(c->tev);
		close(fd);
		conn_free(c);
		return;
	}
	c->reading = 1;
	c->next = l->conns;
	if (l->conns != NULL)
		l->conns->prev = c;
	l->conns = c;
	l->nconns++;
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
	listener *l = arg;
	unsigned cap = fdbudget_cap(l->opt.max_connections);

	(void)what;
	for (int i = 0; i < 64; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			accept_failed(l);
			return;
		}
		if (l->nconns >= cap) {
			if (cap == l->opt.max_connections)
				ratelog_warnx(&l->rl[RL_FULL],
				              "%s: %u connections already (max_connections); "
				              "closing a new one",
				              l->proto.name, cap);
			else
				ratelog_warnx(&l->rl[RL_FULL],
				              "%s: %u connections already (max_connections %u, "
				              "lowered: RLIMIT_NOFILE is %lu; raise LimitNOFILE); "
				              "closing a new one",
				              l->proto.name, cap, l->opt.max_connections,
				              fdbudget_limit());
			close(fd);
			continue;
		}
		conn_new(l, fd);
	}
}

listener *listener_new(struct event_base *base, int fd, const server_protocol *proto,
                       const listener_options *o)
{
	listener *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->base = base;
	l->fd = fd;
	l->proto = *proto;
	l->opt = *o;
	fdbudget_add(o->max_connections);
	l->idle.tv_sec = o->idle_timeout;
	l->request.tv_sec = o->request_timeout;
	l->drain.tv_sec = o->drain_timeout;
	for (int k = 0; k < RL_COUNT; k++) {
		if (ratelog_init(&l->rl[k], base, o->log_interval) < 0) {
			listener_free(l);
			return NULL;
		}
	}
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
	fdbudget_remove(l->opt.max_connections);
	while (l->conns != NULL)
		conn_close(l->conns); /* one with a pending reply lives until it */
	if (l->ev != NULL)
		event_free(l->ev);
	if (l->pause != NULL)
		event_free(l->pause);
	for (int k = 0; k < RL_COUNT; k++)
		ratelog_free(&l->rl[k]);
	free(l);
}

size_t listener_connections(const listener *l)
{
	return l->nconns;
}
