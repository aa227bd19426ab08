/*
 * NAME
 *	relay_smtp.c - relay mode: one SMTP session to one address of a gateway
 * SUMMARY
 *	relay_session(), relay_transaction() (relay_int.h)
 * DESCRIPTION
 *	The dialogue, client side (RFC 5321, RFC 3207, RFC 4954, RFC 6531):
 *
 *		connect, S: 220		any other banner: failure
 *		C: EHLO helo		250, and STARTTLS offered, or failure
 *		C: STARTTLS		220, or failure
 *		TLS handshake		TLS 1.2 or newer; with verify the chain
 *					(ca_file) and the name: X509_VERIFY_PARAM
 *					set1_host for a name, set1_ip_asc for a
 *					literal; a failure ends the handshake
 *		C: EHLO helo		250, or failure; its keywords count
 *		C: AUTH PLAIN b64	with auth_user: PLAIN offered, then 235
 *		C: MAIL FROM:<s> [BODY=8BITMIME] [SMTPUTF8]	250
 *		C: RCPT TO:<r>		each 250 or 251; else RSET, failure
 *		C: DATA			354
 *		the message		line ends (CR, LF, CR LF) made CR LF, a
 *					line starting with "." gets another, a
 *					final CR LF when missing
 *		C: .			250 is success, anything else failure
 *		C: QUIT			after success and after every failure
 *					but a broken connection or DATA
 *
 *	The AUTH PLAIN response is base64("" NUL user NUL password), sent as
 *	the initial response; the password never reaches a why text.
 * DIAGNOSTICS
 *	Why texts: "banner: 554 ...", "EHLO: timed out after 30 s",
 *	"STARTTLS not offered", "STARTTLS refused: 454 ...", "TLS handshake:
 *	certificate verification failed: hostname mismatch", "AUTH PLAIN not
 *	offered", "AUTH refused: 535 ...", "MAIL refused: ...", "RCPT <a@b>
 *	refused: 550 ...", "DATA refused: ...", "end of data: 451 ...",
 *	"SMTPUTF8 not offered (non-ASCII address)", "message: cannot read".
 * SEE ALSO
 *	relay.h, relay_int.h, common/smtpconn.h
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "relay_int.h"

#define BODY_BUF 8192

static int say(char *why, size_t len, int rc, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* Format why and return rc. */
static int say(char *why, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return rc;
}

/*
 * Send cmd (NULL: only read a reply) and expect a reply of code (or of
 * code2 when not 0). 0; -1 with "WHAT refused: reply"; -2 with "WHAT: why"
 * when the connection failed.
 */
static int expect(smtpconn *conn, const char *cmd, int code, int code2, const char *what,
                  smtpconn_reply *r, char *why, size_t len)
{
	char sub[SMTPCONN_TEXT_MAX];
	int rc = cmd == NULL ? smtpconn_read_reply(conn, r, sub, sizeof(sub))
	                     : smtpconn_command(conn, cmd, r, sub, sizeof(sub));

	if (rc < 0)
		return say(why, len, -2, "%s: %s", what, sub);
	if (r->code != code && (code2 == 0 || r->code != code2))
		return say(why, len, -1, "%s refused: %s", what, r->text);
	return 0;
}

static int ehlo(smtpconn *conn, const relay_client *c, unsigned *ext, char *why, size_t len)
{
	char cmd[RELAY_HOST_MAX + 8];
	smtpconn_reply r;
	int rc;

	snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", c->helo);
	if ((rc = expect(conn, cmd, 250, 0, "EHLO", &r, why, len)) < 0)
		return rc;
	*ext = r.ext;
	return 0;
}

/* ".domain": any name under domain (OpenSSL's leading-dot form). */
static int add_dot_host(X509_VERIFY_PARAM *vp, const char *domain)
{
	char dot[RELAY_HOST_MAX + 1];

	snprintf(dot, sizeof(dot), ".%s", domain);
	return X509_VERIFY_PARAM_add1_host(vp, dot, 0);
}

/* The handshake, with the name or address to verify. 0, or -2 with why. */
static int tls_start(smtpconn *conn, const relay_client *c, const relay_target *t, char *why,
                     size_t len)
{
	SSL *ssl = smtpconn_tls_new(conn, c->ctx, t->name, why, len);
	X509_VERIFY_PARAM *vp;
	long v;

	if (ssl == NULL)
		return -2;
	if (c->verify) {
		vp = SSL_get0_param(ssl);
		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		/*
		 * With mx_lookup, the gateway's own name or a name under it (Postfix's
		 * "secure" nexthop, dot-nexthop), not the MX host DNS named: an
		 * attacker's DNS answer must not choose the name that is checked.
		 */
		if (t->domain[0] != '\0' ? X509_VERIFY_PARAM_set1_host(vp, t->domain, 0) != 1 ||
		                                   add_dot_host(vp, t->domain) != 1
		    : t->name[0] != '\0' ? X509_VERIFY_PARAM_set1_host(vp, t->name, 0) != 1
		                         : X509_VERIFY_PARAM_set1_ip_asc(vp, t->addr) != 1)
			return say(why, len, -2, "TLS: cannot set the name to verify");
		SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	}
	if (smtpconn_handshake(conn, why, len) == 0)
		return 0;
	if (c->verify && (v = SSL_get_verify_result(ssl)) != X509_V_OK)
		return say(why, len, -2, "TLS handshake: certificate verification failed: %s",
		           X509_verify_cert_error_string(v));
	return -2;
}

/* Banner, EHLO, STARTTLS, TLS, EHLO. 0 with the keywords; -1 or -2 with why. */
static int open_tls(smtpconn *conn, const relay_client *c, const relay_target *t, unsigned *ext,
                    char *why, size_t len)
{
	smtpconn_reply r;
	int rc;

	if ((rc = expect(conn, NULL, 220, 0, "banner", &r, why, len)) < 0)
		return rc;
	if ((rc = ehlo(conn, c, ext, why, len)) < 0)
		return rc;
	if (!(*ext & SMTPCONN_EXT_STARTTLS))
		return say(why, len, -1, "STARTTLS not offered");
	if ((rc = expect(conn, "STARTTLS\r\n", 220, 0, "STARTTLS", &r, why, len)) < 0)
		return rc;
	if ((rc = tls_start(conn, c, t, why, len)) < 0)
		return rc;
	return ehlo(conn, c, ext, why, len);
}

int relay_session(const relay_client *c, const relay_target *t, const relay_msg *m,
                  int64_t deadline, int *connected, char *reply, size_t replylen, char *why,
                  size_t len)
{
	smtpconn *conn = smtpconn_new(c->timeout, deadline);
	unsigned ext = 0;
	int rc;

	*connected = 0;
	if (conn == NULL)
		return say(why, len, -1, "out of memory");
	if (smtpconn_connect(conn, (const struct sockaddr *)&t->sa, t->salen, why, len) < 0) {
		smtpconn_free(conn);
		return -1;
	}
	*connected = 1;
	rc = open_tls(conn, c, t, &ext, why, len);
	if (rc == 0)
		rc = relay_transaction(conn, c, ext, m, reply, replylen, why, len);
	if (rc != -2)
		smtpconn_quit(conn);
	smtpconn_free(conn);
	return rc == 0 ? 0 : -1;
}

static int auth_plain(smtpconn *conn, const relay_client *c, unsigned ext, char *why, size_t len)
{
	unsigned char raw[2 * RELAY_HOST_MAX + RELAY_PASSWORD_MAX];
	char cmd[sizeof(raw) * 4 / 3 + 32];
	size_t ul = strlen(c->auth_user), pl = strlen(c->auth_password);
	smtpconn_reply r;
	int rc;

	if (smtpconn_ssl(conn) == NULL)
		return say(why, len, -1, "AUTH refused without TLS");
	if (!(ext & SMTPCONN_EXT_AUTH_PLAIN))
		return say(why, len, -1, "AUTH PLAIN not offered");
	raw[0] = '\0';
	memcpy(raw + 1, c->auth_user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, c->auth_password, pl);
	memcpy(cmd, "AUTH PLAIN ", 11);
	rc = EVP_EncodeBlock((unsigned char *)cmd + 11, raw, (int)(2 + ul + pl));
	memcpy(cmd + 11 + rc, "\r\n", 3);
	rc = expect(conn, cmd, 235, 0, "AUTH", &r, why, len);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(cmd, sizeof(cmd));
	return rc;
}

static int envelope(smtpconn *conn, unsigned ext, const relay_msg *m, char *why, size_t len)
{
	char cmd[RELAY_ADDRESS_MAX + 64], what[RELAY_ADDRESS_MAX + 16];
	smtpconn_reply r;
	size_t i;
	int rc;

	if (m->utf8 && !(ext & SMTPCONN_EXT_SMTPUTF8))
		return say(why, len, -1, "SMTPUTF8 not offered (non-ASCII address)");
	snprintf(cmd, sizeof(cmd), "MAIL FROM:%s%s%s\r\n", m->sender,
	         ext & SMTPCONN_EXT_8BITMIME ? " BODY=8BITMIME" : "", m->utf8 ? " SMTPUTF8" : "");
	if ((rc = expect(conn, cmd, 250, 0, "MAIL", &r, why, len)) < 0)
		return rc;
	for (i = 0; i < m->nrcpts; i++) {
		snprintf(cmd, sizeof(cmd), "RCPT TO:%s\r\n", m->rcpts[i]);
		snprintf(what, sizeof(what), "RCPT %s", m->rcpts[i]);
		if ((rc = expect(conn, cmd, 250, 251, what, &r, why, len)) < 0) {
			char sub[SMTPCONN_TEXT_MAX];

			if (rc == -1 &&
			    smtpconn_command(conn, "RSET\r\n", &r, sub, sizeof(sub)) < 0)
				rc = -2;
			return rc;
		}
	}
	return 0;
}

typedef struct {
	char buf[BODY_BUF];
	size_t n;
	int bol, cr; /* at the start of a line; the last byte was a CR */
} body;

static int body_flush(smtpconn *conn, body *b, char *why, size_t len)
{
	char sub[SMTPCONN_TEXT_MAX];

	if (b->n > 0 && smtpconn_write(conn, b->buf, b->n, sub, sizeof(sub)) < 0)
		return say(why, len, -2, "message: %s", sub);
	b->n = 0;
	return 0;
}

/* Add one piece of the message: CR LF line ends, dot-stuffed. */
static int body_put(smtpconn *conn, body *b, const char *p, size_t n, char *why, size_t len)
{
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];

		if (b->n + 3 > sizeof(b->buf) && body_flush(conn, b, why, len) < 0)
			return -2;
		if (b->cr) {
			b->cr = 0;
			if (ch == '\n')
				continue; /* CR LF: the CR gave the line end */
		}
		if (ch == '\r' || ch == '\n') {
			b->buf[b->n++] = '\r';
			b->buf[b->n++] = '\n';
			b->bol = 1;
			b->cr = ch == '\r';
			continue;
		}
		if (b->bol && ch == '.')
			b->buf[b->n++] = '.';
		b->buf[b->n++] = ch;
		b->bol = 0;
	}
	return 0;
}

/* DATA, the message, the end of data. */
static int data(smtpconn *conn, const relay_msg *m, smtpconn_reply *r, char *why, size_t len)
{
	body *b = NULL;
	const char *p;
	size_t n;
	int rc;

	if ((rc = expect(conn, "DATA\r\n", 354, 0, "DATA", r, why, len)) < 0)
		return rc;
	/* A reply before the message was sent is not the answer to its end: never a 250. */
	if (smtpconn_pending(conn))
		return say(why, len, -2, "the gateway answered before the end of data");
	/* The buffer is on the heap: libmilter threads have small stacks. */
	if ((b = OPENSSL_malloc(sizeof(*b))) == NULL)
		return say(why, len, -2, "out of memory");
	memset(b, 0, sizeof(*b));
	b->bol = 1;
	for (;;) {
		if (m->src->next(m->src->arg, &p, &n) < 0) {
			rc = say(why, len, -2, "message: cannot read");
			goto out;
		}
		if (n == 0)
			break;
		if ((rc = body_put(conn, b, p, n, why, len)) < 0)
			goto out;
	}
	if (b->n + 2 > sizeof(b->buf) && (rc = body_flush(conn, b, why, len)) < 0)
		goto out;
	if (!b->bol) {
		memcpy(b->buf + b->n, "\r\n", 2);
		b->n += 2;
	}
	if ((rc = body_flush(conn, b, why, len)) < 0)
		goto out;
	/* Anything the gateway said during the message came too early to be its answer. */
	if (smtpconn_pending(conn)) {
		rc = say(why, len, -2, "the gateway answered before the end of data");
		goto out;
	}
	rc = expect(conn, ".\r\n", 250, 0, "end of data", r, why, len);
out:
	OPENSSL_free(b);
	return rc;
}

int relay_transaction(smtpconn *conn, const relay_client *c, unsigned ext, const relay_msg *m,
                      char *reply, size_t replylen, char *why, size_t len)
{
	smtpconn_reply r;
	int rc;

	if (c->auth_user[0] != '\0' && (rc = auth_plain(conn, c, ext, why, len)) < 0)
		return rc;
	if ((rc = envelope(conn, ext, m, why, len)) < 0)
		return rc;
	if ((rc = data(conn, m, &r, why, len)) < 0)
		return rc;
	snprintf(reply, replylen, "%s", r.text);
	return 0;
}
