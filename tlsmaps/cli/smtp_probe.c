/*
 * NAME
 *	smtp_probe.c - one SMTP session to one address: banner, EHLO, STARTTLS, TLS
 * SUMMARY
 *	See smtp_probe.h.
 * DESCRIPTION
 *	The dialogue, client side (RFC 5321, RFC 3207):
 *
 *		connect			non-blocking, within the timeout
 *		S: 220 banner		any other code: no session
 *		C: EHLO name
 *		S: 250-... 250 ...	"STARTTLS" as a keyword of any line
 *		C: STARTTLS		only when offered
 *		S: 220 ...		anything else: STARTTLS refused
 *		TLS handshake		SNI when a name is given; the chain is
 *					verified but a failure does not stop the
 *					handshake: the result is recorded
 *		C: QUIT			in TLS when there is TLS; its answer is
 *					read within the timeout and ignored
 *
 *	Replies: lines "DDD-text" continue, "DDD text" or "DDD" ends. Every line
 *	of a reply must carry the same code. CR LF or bare LF ends a line. A
 *	line longer than SMTP_PROBE_LINE_MAX, a reply of more than
 *	SMTP_PROBE_LINES_MAX lines, a malformed code, or a closed connection
 *	is a protocol error. Bytes the server sent after its 220 to STARTTLS
 *	and before the handshake are discarded (never read as TLS-protected,
 *	CVE-2011-0411).
 *
 *	The socket is non-blocking throughout; every step waits with poll()
 *	until its own deadline. Writes to a closed socket need SIGPIPE ignored
 *	by the caller (OpenSSL writes with write(2)).
 * DIAGNOSTICS
 *	The "why" text of the result, e.g. "connect: Connection refused",
 *	"banner: timed out after 10 s", "STARTTLS not offered",
 *	"STARTTLS refused: 454 4.7.0 TLS not available", "TLS handshake: ...".
 * SEE ALSO
 *	cmd_probe.c
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "smtp_probe.h"

typedef struct {
	int fd;
	SSL *ssl;
	unsigned timeout;  /* seconds */
	int64_t deadline;  /* ms on CLOCK_MONOTONIC */
	size_t start, end; /* unread bytes of buf */
	char buf[SMTP_PROBE_LINE_MAX + 2];
} conn;

typedef struct {
	int code;
	int starttls;                  /* some line offers STARTTLS */
	char text[SMTP_PROBE_WHY_MAX]; /* first line, printable */
} reply;

static void say(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
}

/* Copy at most n bytes of untrusted text, non-printable bytes as '?'. */
static void printable(char *dst, size_t dstlen, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i < n && i + 1 < dstlen; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
	}
	dst[i] = '\0';
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void step(conn *c)
{
	c->deadline = now_ms() + (int64_t)c->timeout * 1000;
}

/* Wait for events until the step's deadline. 0, or -1 with why. */
static int wait_fd(conn *c, short events, char *why, size_t len)
{
	for (;;) {
		struct pollfd p = {c->fd, events, 0};
		int64_t left = c->deadline - now_ms();
		int n;

		if (left <= 0) {
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
static int tls_retry(conn *c, int rc, char *why, size_t len)
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
static int conn_fill(conn *c, char *why, size_t len)
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

static int conn_write(conn *c, const char *data, size_t n, char *why, size_t len)
{
	while (n > 0) {
		if (c->ssl != NULL) {
			int w;

			ERR_clear_error();
			errno = 0;
			w = SSL_write(c->ssl, data, (int)n);
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

/* Does the text of an EHLO line start with the keyword STARTTLS? */
static int is_starttls(const char *s, size_t n)
{
	return n >= 8 && strncasecmp(s, "STARTTLS", 8) == 0 && (n == 8 || s[8] == ' ');
}

/* Read one (multi-line) reply within one step. 0, or -1 with why. */
static int read_reply(conn *c, reply *r, char *why, size_t len)
{
	unsigned lines = 0;

	memset(r, 0, sizeof(*r));
	step(c);
	for (;;) {
		char *line = c->buf + c->start, *nl;
		size_t n;
		int code;

		nl = memchr(line, '\n', c->end - c->start);
		if (nl == NULL) {
			if (c->end - c->start >= SMTP_PROBE_LINE_MAX + 1) {
				say(why, len, "reply line longer than %d bytes",
				    SMTP_PROBE_LINE_MAX);
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
		if (n > SMTP_PROBE_LINE_MAX) {
			say(why, len, "reply line longer than %d bytes", SMTP_PROBE_LINE_MAX);
			return -1;
		}
		if (++lines > SMTP_PROBE_LINES_MAX) {
			say(why, len, "reply longer than %d lines", SMTP_PROBE_LINES_MAX);
			return -1;
		}
		if (n < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '9' ||
		    line[2] < '0' || line[2] > '9' || (n > 3 && line[3] != ' ' && line[3] != '-')) {
			char text[80];

			printable(text, sizeof(text), line, n);
			say(why, len, "malformed reply line \"%s\"", text);
			return -1;
		}
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		if (lines == 1) {
			r->code = code;
			printable(r->text, sizeof(r->text), line, n);
		} else if (code != r->code) {
			say(why, len, "reply codes %d and %d in one reply", r->code, code);
			return -1;
		}
		if (n > 4 && is_starttls(line + 4, n - 4))
			r->starttls = 1;
		if (n == 3 || line[3] == ' ')
			return 0;
	}
}

/* Send a command, read its reply, both in one step. 0, or -1 with why. */
static int command(conn *c, const char *cmd, reply *r, char *why, size_t len)
{
	step(c);
	if (conn_write(c, cmd, strlen(cmd), why, len) < 0)
		return -1;
	return read_reply(c, r, why, len);
}

static void quit(conn *c)
{
	char why[SMTP_PROBE_WHY_MAX];
	reply r;

	(void)command(c, "QUIT\r\n", &r, why, sizeof(why));
	if (c->ssl != NULL) {
		ERR_clear_error();
		(void)SSL_shutdown(c->ssl);
	}
}

static int do_connect(conn *c, const struct sockaddr *sa, socklen_t salen, char *why, size_t len)
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

static int handshake(conn *c, SSL_CTX *ctx, const char *sni, char *why, size_t len)
{
	char sub[SMTP_PROBE_WHY_MAX - 20];
	int rc;

	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		tls_error(why, len, "TLS handshake: SSL_new");
		return -1;
	}
	if (sni != NULL && *sni != '\0' && SSL_set_tlsext_host_name(c->ssl, sni) != 1) {
		tls_error(why, len, "TLS handshake: server name");
		return -1;
	}
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

SSL_CTX *smtp_probe_ctx_new(const char *cafile, char *why, size_t whylen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		tls_error(why, whylen, "SSL_CTX_new");
		return NULL;
	}
	if (cafile != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
			char what[300];

			snprintf(what, sizeof(what), "%s: cannot load CA certificates", cafile);
			tls_error(why, whylen, what);
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		tls_error(why, whylen, "cannot load the system CA store");
		SSL_CTX_free(ctx);
		return NULL;
	}
	/* Verify, record the result, never abort the handshake for it. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

void smtp_probe(const smtp_probe_opts *opts, const struct sockaddr *sa, socklen_t salen,
                const char *sni, smtp_probe_result *res)
{
	char why[SMTP_PROBE_WHY_MAX - 40];
	const SSL_CIPHER *cipher;
	conn *c;
	reply r;
	char ehlo[300];

	memset(res, 0, sizeof(*res));
	res->stage = SMTP_PROBE_NO_SESSION;
	res->verify = X509_V_OK;
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		say(res->why, sizeof(res->why), "out of memory");
		return;
	}
	c->fd = -1;
	c->timeout = opts->timeout;

	if (do_connect(c, sa, salen, res->why, sizeof(res->why)) < 0)
		goto done;
	if (read_reply(c, &r, why, sizeof(why)) < 0) {
		say(res->why, sizeof(res->why), "banner: %s", why);
		goto done;
	}
	if (r.code != 220) {
		say(res->why, sizeof(res->why), "banner: %s", r.text);
		quit(c);
		goto done;
	}
	snprintf(ehlo, sizeof(ehlo), "EHLO %s\r\n", opts->helo);
	if (command(c, ehlo, &r, why, sizeof(why)) < 0) {
		say(res->why, sizeof(res->why), "EHLO: %s", why);
		goto done;
	}
	if (r.code != 250) {
		res->stage = SMTP_PROBE_NO_STARTTLS;
		say(res->why, sizeof(res->why), "EHLO refused: %s", r.text);
		quit(c);
		goto done;
	}
	if (!r.starttls) {
		res->stage = SMTP_PROBE_NO_STARTTLS;
		say(res->why, sizeof(res->why), "STARTTLS not offered");
		quit(c);
		goto done;
	}
	res->stage = SMTP_PROBE_STARTTLS_REFUSED;
	if (command(c, "STARTTLS\r\n", &r, why, sizeof(why)) < 0) {
		say(res->why, sizeof(res->why), "STARTTLS: %s", why);
		goto done;
	}
	if (r.code != 220) {
		say(res->why, sizeof(res->why), "STARTTLS refused: %s", r.text);
		quit(c);
		goto done;
	}
	c->start = c->end = 0; /* nothing sent before the handshake counts */
	res->stage = SMTP_PROBE_TLS_FAILED;
	if (handshake(c, opts->ctx, sni, res->why, sizeof(res->why)) < 0)
		goto done;
	res->stage = SMTP_PROBE_TLS;
	snprintf(res->protocol, sizeof(res->protocol), "%s", SSL_get_version(c->ssl));
	cipher = SSL_get_current_cipher(c->ssl);
	if (cipher != NULL) {
		snprintf(res->cipher, sizeof(res->cipher), "%s", SSL_CIPHER_get_name(cipher));
		res->bits = SSL_CIPHER_get_bits(cipher, NULL);
	}
	res->cert = SSL_get1_peer_certificate(c->ssl);
	res->verify = SSL_get_verify_result(c->ssl);
	quit(c);
done:
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	ERR_clear_error();
}

void smtp_probe_result_free(smtp_probe_result *res)
{
	X509_free(res->cert);
	res->cert = NULL;
}
