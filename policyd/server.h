/*
 * NAME
 *	server.h - connections on listening sockets, in one libevent loop
 * DESCRIPTION
 *	A listener accepts connections and feeds their bytes to a protocol
 *	(socketmap.c, delegation.c). No thread per connection: every socket is
 *	non-blocking and served by the one event loop.
 *
 *	A protocol frames requests out of the input and answers each with
 *	conn_reply(). A request may be answered later (a DNS lookup): the
 *	protocol returns SERVER_ASYNC, and the connection reads no further
 *	request until conn_reply() comes, so answers stay in request order. A
 *	connection whose peer goes away while a reply is pending lives on until
 *	that reply, which is then dropped.
 *
 *	Limits (listener_options; forcetls-policyd(8) has the settings):
 *	- max_request bytes of unanswered input: beyond it the protocol is
 *	  asked to reply and the connection closes;
 *	- max_connections per listener: a connection beyond it is closed at
 *	  once (Postfix then defers, nothing is lost);
 *	- idle_timeout: no request started for that long closes the
 *	  connection (0: none);
 *	- request_timeout: a deadline for each request, from its first byte
 *	  to its reply queued, never extended by the bytes that trickle in.
 *	  When it passes, a complete request waiting for its reply gets the
 *	  protocol's timeout_reply (when it has one), a partial one nothing,
 *	  and the connection closes;
 *	- write_timeout: output that cannot be flushed for that long (the
 *	  client does not read) closes the connection; progress does not
 *	  extend it, only a flushed output buffer ends it;
 *	- drain_timeout and drain_max: after a last reply (a framing error,
 *	  a request too long) the input is read and discarded until the
 *	  client closes, for at most that long and that many bytes;
 *	- log_interval: refused connections (max_connections reached, accept
 *	  errors) and connections closed by a timeout are logged at most once
 *	  per log_interval seconds per kind, then once more with the count of
 *	  those not logged.
 */
#ifndef POLICYD_SERVER_H
#define POLICYD_SERVER_H

#include <stddef.h>
#include <sys/types.h>

#include <event2/event.h>

typedef struct conn conn;
typedef struct listener listener;

#define SERVER_MORE 0     /* need more input */
#define SERVER_CLOSE (-1) /* close after flushing what is queued */
#define SERVER_ASYNC (-2) /* request consumed; its reply comes later */

typedef struct {
	const char *name;
	size_t max_request;
	/*
	 * One request from buf: return the bytes consumed (> 0) after queueing
	 * the reply, SERVER_ASYNC after consuming *used bytes, SERVER_MORE, or
	 * SERVER_CLOSE. too_long is set when the buffer is full: the protocol
	 * should queue a last reply and return SERVER_CLOSE.
	 */
	ssize_t (*request)(conn *c, const char *buf, size_t len, int too_long, size_t *used);
	void *ctx;
	/* Queued when request_timeout passes for a complete request; NULL: none. */
	const char *timeout_reply;
	size_t timeout_reply_len;
} server_protocol;

typedef struct {
	unsigned max_connections;
	unsigned idle_timeout;    /* seconds; 0: none */
	unsigned request_timeout; /* seconds, > 0 */
	unsigned write_timeout;   /* seconds, > 0 */
	unsigned drain_timeout;   /* seconds, > 0 */
	size_t drain_max;         /* bytes */
	unsigned log_interval;    /* seconds, > 0 */
} listener_options;

/* o: every field set (the defaults are policyd/main.c's settings). */
listener *listener_new(struct event_base *base, int fd, const server_protocol *proto,
                       const listener_options *o);
void listener_free(listener *l);
size_t listener_connections(const listener *l);

/* Queue reply bytes; ends an ASYNC wait. Safe on a connection whose peer left. */
void conn_reply(conn *c, const char *data, size_t len);
/*
 * No idle timeout for this connection from now on (Sendmail's socket map
 * client does not reconnect after an idle close: its next lookup fails).
 */
void conn_no_idle_timeout(conn *c);
/* The listener's protocol context. */
void *conn_ctx(const conn *c);
/* Hold and release a connection across an asynchronous reply. */
void conn_hold(conn *c);
void conn_release(conn *c);

#endif
