/*
 * NAME
 *	smtpconn.c - the client side of one SMTP connection: bytes, replies, TLS, deadlines
 * SUMMARY
 *	See smtpconn.h.
 * DESCRIPTION
 *	The socket is non-blocking throughout; every step waits with poll()
 *	until its own deadline: step_timeout seconds from the step's start,
 *	cut to the connection's absolute deadline when there is one. An
 *	OpenSSL call that wants to read or write waits the same way.
 *
 *	The read buffer holds one line and its end (SMTPCONN_LINE_MAX + 2);
 *	a reply is parsed line by line as it arrives.
 * DIAGNOSTICS
 *	The "why" texts: "timed out after N s" (the step's limit) or "timed
 *	out: no time left" (the absolute deadline), "connection closed by
 *	server", "read: ...", "write: ...", "poll: ...", "TLS: <OpenSSL>",
 *	"reply line longer than 2048 bytes", "reply longer than 100 lines",
 *	"malformed reply line \"...\"", "reply codes 250 and 220 in one reply".
 * SEE ALSO
 *	smtpconn.h
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "smtpconn.h"

struct smtpconn {
	int fd;
	SSL *ssl;
	unsigned timeout;  /* seconds, per step */
	int64_t absolute;  /* ms on CLOCK_MONOTONIC, 0: none */
	int64_t deadline;  /* of the current step */
	size_t start, end; /* unread bytes of buf */
	char buf[SMTPCONN_LINE_MAX + 2];
};

static void say(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

void smtpconn_printable(char *dst, size_t dstlen, const char *src, size_t n)
{
	size_t i;

	if (dstlen == 0)
		return;
	for (i = 0; i < n && i + 1 < dstlen; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
	}
	dst[i] = '\0';
}

int64_t smtpconn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void step(smtpconn *c)
{
	c->deadline = smtpconn_now_ms() + (int64_t)c->timeout * 1000;
	if (c->absolute != 0 && c->absolute < c->deadline)
		c->deadline = c->absolute;
}

smtpconn *smtpconn_new(unsigned step_timeout, int64_t deadline_ms)
{
	smtpconn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = -1;
	c->timeout = step_timeout;
	c->absolute = deadline_ms;
	step(c);
	return c;
}

void smtpconn_free(smtpconn *c)
{
	if (c == NULL)
		return;
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	ERR_clear_error();
}

void smtpconn_set_fd(smtpconn *c, int fd)
{
	c->fd = fd;
}

SSL *smtpconn_ssl(const smtpconn *c)
{
	return c->ssl;
}

/* Wait for events until the step's deadline. 0, or -1 with why. */
static int wait_fd(smtpconn *c, short events, char *why, size_t len)
{
	for (;;) {
		struct pollfd p = {c->fd, events, 0};
		int64_t left = c->deadline - smtpconn_now_ms();
		int n;

		if (left <= 0) {
			if (c->absolute != 0 && c->deadline == c->absolute)
				say(why, len, "timed out: no time left");
			else
				say(why, len, "timed out after %u s", c->timeout);
			return -1;
		}
		n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			say(why, len, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

static void tls_error(char *why, size_t len, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e == 0) {
		say(why, len, "%s", what);
		return;
	}
	ERR_error_string_n(e, buf, sizeof(buf));
	say(why, len, "%s: %s", what, buf);
	ERR_clear_error();
}

/*
 * Handle a non-positive return of an SSL_* call: wait for the socket when
 * OpenSSL asks to. 0 to retry, -1 with why (EOF included).
 */
static int tls_retry(smtpconn *c, int rc, char *why, size_t len)
{
	int err = SSL_get_error(c->ssl, rc);

	switch (err) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(c, POLLIN, why, len);
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(c, POLLOUT, why, len);
	case SSL_ERROR_ZERO_RETURN:
		say(why, len, "connection closed by server");
		return -1;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() != 0)
			tls_error(why, len, "TLS");
		else if (errno != 0 && rc < 0)
			say(why, len, "%s", strerror(errno));
		else
			say(why, len, "connection closed by server");
		return -1;
	default:
		tls_error(why, len, "TLS");
		return -1;
	}
}

/* Read more bytes into the buffer. >0, or -1 with why (EOF included). */
static int conn_fill(smtpconn *c, char *why, size_t len)
{
	size_t room;

	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	room = sizeof(c->buf) - c->end;
	for (;;) {
		if (c->ssl != NULL) {
			int n;

			ERR_clear_error();
			errno = 0;
			n = SSL_read(c->ssl, c->buf + c->end,
			             room > INT32_MAX ? INT32_MAX : (int)room);
			if (n > 0) {
				c->end += (size_t)n;
				return n;
			}
			if (tls_retry(c, n, why, len) < 0)
				return -1;
		} else {
			ssize_t n = recv(c->fd, c->buf + c->end, room, 0);

			if (n > 0) {
				c->end += (size_t)n;
				return (int)n;
			}
			if (n == 0) {
				say(why, len, "connection closed by server");
				return -1;
			}
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				say(why, len, "read: %s", strerror(errno));
				return -1;
			}
			if (wait_fd(c, POLLIN, why, len) < 0)
				return -1;
		}
	}
}

static int conn_write(smtpconn *c, const char *data, size_t n, char *why, size_t len)
{
	while (n > 0) {
		if (c->ssl != NULL) {
			int w;

			ERR_clear_error();
			errno = 0;
			w = SSL_write(c->ssl, data, n > INT32_MAX ? INT32_MAX : (int)n);
			if (w > 0) {
				data += w;
				n -= (size_t)w;
			} else if (tls_retry(c, w, why, len) < 0) {
				return -1;
			}
		} else {
			ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);

			if (w > 0) {
				data += w;
				n -= (size_t)w;
			} else if (w < 0 && errno == EINTR) {
				continue;
			} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				if (wait_fd(c, POLLOUT, why, len) < 0)
					return -1;
			} else {
				say(why, len, "write: %s", strerror(errno));
				return -1;
			}
		}
	}
	return 0;
}

int smtpconn_write(smtpconn *c, const char *data, size_t n, char *why, size_t len)
{
	step(c);
	return conn_write(c, data, n, why, len);
}

/* The EHLO keyword at the start of a line's text, as an SMTPCONN_EXT_* bit. */
static unsigned ehlo_keyword(const char *s, size_t n)
{
	static const struct {
		const char *word;
		unsigned bit;
	} words[] = {
	        {"STARTTLS", SMTPCONN_EXT_STARTTLS},
	        {"8BITMIME", SMTPCONN_EXT_8BITMIME},
	        {"SMTPUTF8", SMTPCONN_EXT_SMTPUTF8},
	};
	size_t i, w;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		w = strlen(words[i].word);
		if (n >= w && strncasecmp(s, words[i].word, w) == 0 && (n == w || s[w] == ' '))
			return words[i].bit;
	}
	if (n > 5 && strncasecmp(s, "AUTH", 4) == 0 && (s[4] == ' ' || s[4] == '=')) {
		/* "AUTH LOGIN PLAIN": look for the mechanism as a whole word */
		for (i = 4; i + 5 <= n; i++)
			if ((s[i - 1] == ' ' || s[i - 1] == '=') &&
			    strncasecmp(s + i, "PLAIN", 5) == 0 && (i + 5 == n || s[i + 5] == ' '))
				return SMTPCONN_EXT_AUTH_PLAIN;
	}
	return 0;
}

/* One complete line of a reply (CR dropped). 0: more lines, 1: last, -1 with why. */
static int reply_line(smtpconn_reply *r, unsigned lines, const char *line, size_t n, char *why,
                      size_t len)
{
	int code;

	if (n > SMTPCONN_LINE_MAX) {
		say(why, len, "reply line longer than %d bytes", SMTPCONN_LINE_MAX);
		return -1;
	}
	if (lines > SMTPCONN_LINES_MAX) {
		say(why, len, "reply longer than %d lines", SMTPCONN_LINES_MAX);
		return -1;
	}
	if (n < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
	    line[2] < '0' || line[2] > '9' || (n > 3 && line[3] != ' ' && line[3] != '-')) {
		char text[80];

		smtpconn_printable(text, sizeof(text), line, n);
		say(why, len, "malformed reply line \"%s\"", text);
		return -1;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (lines == 1) {
		r->code = code;
		smtpconn_printable(r->text, sizeof(r->text), line, n);
	} else if (code != r->code) {
		say(why, len, "reply codes %d and %d in one reply", r->code, code);
		return -1;
	}
	if (n > 4)
		r->ext |= ehlo_keyword(line + 4, n - 4);
	return n == 3 || line[3] == ' ';
}

static int read_reply(smtpconn *c, smtpconn_reply *r, char *why, size_t len)
{
	unsigned lines = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	for (;;) {
		char *line = c->buf + c->start, *nl;
		size_t n;

		nl = memchr(line, '\n', c->end - c->start);
		if (nl == NULL) {
			if (c->end - c->start >= SMTPCONN_LINE_MAX + 1) {
				say(why, len, "reply line longer than %d bytes", SMTPCONN_LINE_MAX);
				return -1;
			}
			if (conn_fill(c, why, len) < 0)
				return -1;
			continue;
		}
		n = (size_t)(nl - line);
		c->start += n + 1;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if ((rc = reply_line(r, ++lines, line, n, why, len)) != 0)
			return rc < 0 ? -1 : 0;
	}
}

int smtpconn_read_reply(smtpconn *c, smtpconn_reply *r, char *why, size_t len)
{
	step(c);
	return read_reply(c, r, why, len);
}

int smtpconn_command(smtpconn *c, const char *cmd, smtpconn_reply *r, char *why, size_t len)
{
	step(c);
	if (conn_write(c, cmd, strlen(cmd), why, len) < 0)
		return -1;
	return read_reply(c, r, why, len);
}

void smtpconn_quit(smtpconn *c)
{
	char why[SMTPCONN_TEXT_MAX];
	smtpconn_reply r;

	(void)smtpconn_command(c, "QUIT\r\n", &r, why, sizeof(why));
	if (c->ssl != NULL) {
		ERR_clear_error();
		(void)SSL_shutdown(c->ssl);
	}
}

int smtpconn_connect(smtpconn *c, const struct sockaddr *sa, socklen_t salen, char *why, size_t len)
{
	char sub[80];
	int err = 0;
	socklen_t errlen = sizeof(err);

	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		say(why, len, "socket: %s", strerror(errno));
		return -1;
	}
	step(c);
	if (connect(c->fd, sa, salen) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR) {
		say(why, len, "connect: %s", strerror(errno));
		return -1;
	}
	if (wait_fd(c, POLLOUT, sub, sizeof(sub)) < 0) {
		say(why, len, "connect: %s", sub);
		return -1;
	}
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0)
		err = errno;
	if (err != 0) {
		say(why, len, "connect: %s", strerror(err));
		return -1;
	}
	return 0;
}

SSL *smtpconn_tls_new(smtpconn *c, SSL_CTX *ctx, const char *sni, char *why, size_t len)
{
	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		tls_error(why, len, "TLS handshake: SSL_new");
		return NULL;
	}
	if (sni != NULL && *sni != '\0' && SSL_set_tlsext_host_name(c->ssl, sni) != 1) {
		tls_error(why, len, "TLS handshake: server name");
		return NULL;
	}
	return c->ssl;
}

int smtpconn_pending(smtpconn *c)
{
	struct pollfd p = {c->fd, POLLIN, 0};

	if (c->start < c->end || (c->ssl != NULL && SSL_pending(c->ssl) > 0))
		return 1;
	return c->fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

int smtpconn_handshake(smtpconn *c, char *why, size_t len)
{
	char sub[SMTPCONN_TEXT_MAX - 20];
	int rc;

	c->start = c->end = 0; /* nothing sent before the handshake counts */
	step(c);
	for (;;) {
		ERR_clear_error();
		errno = 0;
		rc = SSL_connect(c->ssl);
		if (rc == 1)
			return 0;
		if (tls_retry(c, rc, sub, sizeof(sub)) < 0) {
			say(why, len, "TLS handshake: %s", sub);
			return -1;
		}
	}
}

SSL_CTX *smtpconn_ctx_new(const char *cafile, char *why, size_t len)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		tls_error(why, len, "SSL_CTX_new");
		return NULL;
	}
	if (cafile != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
			char what[300];

			snprintf(what, sizeof(what), "%s: cannot load CA certificates", cafile);
			tls_error(why, len, what);
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		tls_error(why, len, "cannot load the system CA store");
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Verify, record the result, never abort the handshake for it. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}
