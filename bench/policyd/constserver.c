/*
 * NAME
 *	constserver - a bare epoll server that answers every request with a constant
 * SUMMARY
 *	constserver [-s HOST:PORT] [-p HOST:PORT]
 * DESCRIPTION
 *	The upper bound for a socketmap or policy delegation server on this
 *	machine: one thread, one epoll loop, no lookup. It speaks both
 *	protocols, on the addresses given:
 *
 *	-s  socketmap: each netstring "NAME KEY" gets the netstring
 *	    "OK encrypt";
 *	-p  policy delegation: each request ("name=value" lines up to an
 *	    empty line) gets "action=DUNNO" and an empty line.
 *
 *	Requests are framed properly, not answered per read: a request split
 *	over several reads gets one reply, and several requests in one read
 *	get one reply each, in order. Replies are written with one send(2) per
 *	batch of requests read; output that would block waits for EPOLLOUT
 *	and input is not read meanwhile. A malformed netstring, or a request
 *	longer than the 64 KiB input buffer, closes the connection.
 * DIAGNOSTICS
 *	Runs until killed. Exit 2 on bad usage or when a socket cannot be set
 *	up.
 * SEE ALSO
 *	bench/policyd/loadgen.c, bench/policyd/run-policyd-bench.sh
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN_SIZE 65536
#define OUT_SIZE 65536

static const char SOCKETMAP_REPLY[] = "10:OK encrypt,";
static const char POLICY_REPLY[] = "action=DUNNO\n\n";

enum kind { LISTEN_SOCKETMAP, LISTEN_POLICY, CONN_SOCKETMAP, CONN_POLICY };

typedef struct {
	enum kind kind;
	int fd;
	size_t inlen;
	size_t outlen, outoff;
	char in[IN_SIZE];
	char out[OUT_SIZE];
} conn;

typedef struct {
	enum kind kind;
	int fd;
} listener;

static int epfd;

static void die(const char *what)
{
	fprintf(stderr, "constserver: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int listen_on(const char *addr)
{
	struct sockaddr_in sin;
	char host[64];
	const char *colon = strrchr(addr, ':');
	int fd, one = 1;

	if (colon == NULL || (size_t)(colon - addr) >= sizeof(host)) {
		fprintf(stderr, "constserver: %s: expected HOST:PORT\n", addr);
		exit(2);
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		fprintf(stderr, "constserver: %s: not an IPv4 address\n", host);
		exit(2);
	}
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die(addr);
	if (listen(fd, 1024) < 0)
		die("listen");
	return fd;
}

static void add_listener(const char *addr, enum kind kind)
{
	listener *l = malloc(sizeof(*l));
	struct epoll_event ev;

	if (l == NULL)
		die("malloc");
	l->kind = kind;
	l->fd = listen_on(addr);
	ev.events = EPOLLIN;
	ev.data.ptr = l;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, l->fd, &ev) < 0)
		die("epoll_ctl");
}

static void conn_close(conn *c)
{
	close(c->fd);
	free(c);
}

static void set_events(conn *c, unsigned events)
{
	struct epoll_event ev;

	ev.events = events;
	ev.data.ptr = c;
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Length of the first complete request in c->in: 0 if incomplete, -1 if malformed. */
static ssize_t frame(const conn *c, const char *p, size_t n)
{
	if (c->kind == CONN_SOCKETMAP) {
		size_t len = 0, i = 0;

		while (i < n && p[i] >= '0' && p[i] <= '9') {
			if (len > IN_SIZE)
				return -1;
			len = len * 10 + (size_t)(p[i] - '0');
			i++;
		}
		if (i == n)
			return i > 6 ? -1 : 0;
		if (i == 0 || p[i] != ':' || (i > 1 && p[0] == '0'))
			return -1;
		if (i + len + 2 > IN_SIZE)
			return -1;
		if (n < i + len + 2)
			return 0;
		if (p[i + 1 + len] != ',')
			return -1;
		return (ssize_t)(i + len + 2);
	}
	/* policy: up to and including the first empty line */
	if (n > 0 && p[0] == '\n')
		return 1;
	const char *e = memmem(p, n, "\n\n", 2);

	return e == NULL ? 0 : (ssize_t)(e - p) + 2;
}

/* Returns -1 when the connection was closed, 1 when output is still pending. */
static int conn_flush(conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				set_events(c, EPOLLOUT); /* and stop reading */
				return 1;
			}
			conn_close(c);
			return -1;
		}
		c->outoff += (size_t)n;
	}
	c->outoff = c->outlen = 0;
	return 0;
}

/* Answer every complete request in the input (as far as the output has room), then send. */
static int conn_process(conn *c)
{
	const char *reply = c->kind == CONN_SOCKETMAP ? SOCKETMAP_REPLY : POLICY_REPLY;
	size_t rlen =
	        c->kind == CONN_SOCKETMAP ? sizeof(SOCKETMAP_REPLY) - 1 : sizeof(POLICY_REPLY) - 1;
	size_t off = 0;

	for (;;) {
		ssize_t r = frame(c, c->in + off, c->inlen - off);

		if (r < 0) {
			conn_close(c);
			return -1;
		}
		if (r == 0 || c->outlen + rlen > OUT_SIZE)
			break; /* incomplete, or the rest after the output drains */
		memcpy(c->out + c->outlen, reply, rlen);
		c->outlen += rlen;
		off += (size_t)r;
	}
	if (off > 0) {
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
	} else if (c->inlen == IN_SIZE) {
		conn_close(c); /* a request larger than the buffer */
		return -1;
	}
	return conn_flush(c);
}

static void conn_read(conn *c)
{
	ssize_t n = recv(c->fd, c->in + c->inlen, IN_SIZE - c->inlen, 0);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		conn_close(c);
		return;
	}
	if (n < 0)
		return;
	c->inlen += (size_t)n;
	conn_process(c);
}

static void on_writable(conn *c)
{
	int r = conn_flush(c);

	if (r != 0)
		return;
	set_events(c, EPOLLIN);
	conn_process(c); /* requests held back while the output was full */
}

static void on_accept(listener *l)
{
	for (;;) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		struct epoll_event ev;
		conn *c;

		if (fd < 0)
			return;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if ((c = malloc(sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->kind = l->kind == LISTEN_SOCKETMAP ? CONN_SOCKETMAP : CONN_POLICY;
		c->fd = fd;
		c->inlen = c->outlen = c->outoff = 0;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			conn_close(c);
	}
}

int main(int argc, char **argv)
{
	struct epoll_event evs[256];
	int opt, any = 0;

	signal(SIGPIPE, SIG_IGN);
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	while ((opt = getopt(argc, argv, "s:p:")) != -1) {
		switch (opt) {
		case 's':
			add_listener(optarg, LISTEN_SOCKETMAP);
			any = 1;
			break;
		case 'p':
			add_listener(optarg, LISTEN_POLICY);
			any = 1;
			break;
		default:
			any = 0;
			optind = argc + 1;
			break;
		}
	}
	if (!any || optind != argc) {
		fprintf(stderr, "usage: constserver [-s HOST:PORT] [-p HOST:PORT]\n");
		return 2;
	}
	for (;;) {
		int n = epoll_wait(epfd, evs, 256, -1);

		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			enum kind k = *(enum kind *)evs[i].data.ptr;

			if (k == LISTEN_SOCKETMAP || k == LISTEN_POLICY)
				on_accept(evs[i].data.ptr);
			else if (evs[i].events & EPOLLOUT)
				on_writable(evs[i].data.ptr);
			else
				conn_read(evs[i].data.ptr);
		}
	}
}
