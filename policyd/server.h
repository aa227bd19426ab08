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
 *	Limits: max_request bytes of unanswered input (beyond it the protocol
 *	is asked to reply and the connection closes), max_connections per
 *	listener (a connection beyond it is closed at once: Postfix then
 *	defers, nothing is lost), and an idle timeout.
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
} server_protocol;

listener *listener_new(struct event_base *base, int fd, const server_protocol *proto,
                       unsigned max_connections, unsigned idle_timeout);
void listener_free(listener *l);
size_t listener_connections(const listener *l);

/* Queue reply bytes; ends an ASYNC wait. Safe on a connection whose peer left. */
void conn_reply(conn *c, const char *data, size_t len);
/* The listener's protocol context. */
void *conn_ctx(const conn *c);
/* Hold and release a connection across an asynchronous reply. */
void conn_hold(conn *c);
void conn_release(conn *c);

#endif
