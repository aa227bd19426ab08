/*
 * NAME
 *	smtpconn.h - the client side of one SMTP connection: bytes, replies, TLS, deadlines
 * SUMMARY
 *	#include "smtpconn.h"
 * DESCRIPTION
 *	An smtpconn is one non-blocking TCP connection to an SMTP server, in
 *	clear or, after smtpconn_handshake(), in TLS (OpenSSL). It reads
 *	replies, writes commands and data, and knows nothing of what a
 *	session is for: tlsmaps probe (tlsmaps/cli/smtp_probe.c) and the
 *	milter's relay client (milter/relay*.c) drive it.
 *
 *	Deadlines: every step (connect, one command and its reply, one reply,
 *	the handshake, one smtpconn_write()) gets step_timeout seconds from
 *	its start, and never more than the connection's absolute deadline
 *	(ms on CLOCK_MONOTONIC, 0 for none), which bounds the whole session.
 *
 *	Replies: lines "DDD-text" continue, "DDD text" or "DDD" ends. Every
 *	line of a reply must carry the same code, from 200 to 599. CR LF or
 *	bare LF ends a line. A line longer than SMTPCONN_LINE_MAX, a reply of
 *	more than SMTPCONN_LINES_MAX lines, a malformed code, or a closed
 *	connection is a protocol error. The EHLO keywords STARTTLS, 8BITMIME,
 *	SMTPUTF8 and AUTH (with its PLAIN mechanism) are noted when the text
 *	of any line starts with them.
 *
 *	smtpconn_handshake() discards the bytes the server sent after its 220
 *	to STARTTLS and before the handshake (never read as TLS-protected,
 *	CVE-2011-0411).
 *
 *	The caller ignores SIGPIPE: OpenSSL writes with write(2). One
 *	smtpconn belongs to one thread; different ones may run in parallel.
 * DIAGNOSTICS
 *	Functions return 0 or -1 with a reason in the caller's why buffer,
 *	e.g. "connect: Connection refused", "timed out after 10 s",
 *	"connection closed by server", "reply line longer than 2048 bytes".
 *	Server text in a reason or in a reply is made printable (other bytes
 *	become '?'). Nothing is logged.
 * SEE ALSO
 *	RFC 5321, RFC 3207
 */
#ifndef COMMON_SMTPCONN_H
#define COMMON_SMTPCONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#define SMTPCONN_LINE_MAX 2048 /* RFC 5321 says 512; be lenient, but bounded */
#define SMTPCONN_LINES_MAX 100 /* lines in one multi-line reply */
#define SMTPCONN_TEXT_MAX 320

/* EHLO keywords (smtpconn_reply.ext) */
#define SMTPCONN_EXT_STARTTLS 0x01u
#define SMTPCONN_EXT_8BITMIME 0x02u
#define SMTPCONN_EXT_SMTPUTF8 0x04u
#define SMTPCONN_EXT_AUTH_PLAIN 0x08u /* an AUTH line lists PLAIN */

typedef struct {
	int code;                     /* 200..599 */
	unsigned ext;                 /* SMTPCONN_EXT_* seen in any line */
	char text[SMTPCONN_TEXT_MAX]; /* the first line, printable */
} smtpconn_reply;

typedef struct smtpconn smtpconn;

/* Milliseconds on CLOCK_MONOTONIC (for absolute deadlines). */
int64_t smtpconn_now_ms(void);

/* A connection without a socket yet; NULL when out of memory. */
smtpconn *smtpconn_new(unsigned step_timeout, int64_t deadline_ms);

/* Close the socket, free the TLS session and the connection (NULL is fine). */
void smtpconn_free(smtpconn *c);

/* Connect to one address (non-blocking, within one step). */
int smtpconn_connect(smtpconn *c, const struct sockaddr *sa, socklen_t salen, char *why,
                     size_t len);

/* Use an already connected non-blocking socket instead (tests); c owns it. */
void smtpconn_set_fd(smtpconn *c, int fd);

/* Read one (multi-line) reply within one step. */
int smtpconn_read_reply(smtpconn *c, smtpconn_reply *r, char *why, size_t len);

/* Write bytes, in TLS once there is TLS, within one step. */
int smtpconn_write(smtpconn *c, const char *data, size_t n, char *why, size_t len);

/* Send a command ("EHLO x\r\n") and read its reply, both in one step. */
int smtpconn_command(smtpconn *c, const char *cmd, smtpconn_reply *r, char *why, size_t len);

/*
 * The TLS session for the handshake, made from ctx with sni (NULL or ""
 * for none) as server name: the caller may set verification parameters on
 * it (SSL_get0_param()) before smtpconn_handshake(). NULL with why.
 */
SSL *smtpconn_tls_new(smtpconn *c, SSL_CTX *ctx, const char *sni, char *why, size_t len);

/* The handshake after a 220 to STARTTLS (unread bytes dropped), in one step. */
int smtpconn_handshake(smtpconn *c, char *why, size_t len);

/* The TLS session, or NULL. */
SSL *smtpconn_ssl(const smtpconn *c);

/*
 * Has the server sent anything not read yet (buffered, inside TLS, or
 * waiting on the socket)? 1 or 0. Before the client's turn ends, a server
 * that spoke out of turn must not have its early bytes taken as the
 * answer (relay mode's end of data).
 */
int smtpconn_pending(smtpconn *c);

/* QUIT, its reply read and ignored (one step), then the TLS close_notify. */
void smtpconn_quit(smtpconn *c);

/*
 * A client context that verifies against cafile, or the system CA store
 * when cafile is NULL, recording the result (SSL_VERIFY_NONE: the caller
 * decides). NULL with a reason in why.
 */
SSL_CTX *smtpconn_ctx_new(const char *cafile, char *why, size_t len);

/* Copy at most n bytes of untrusted text, non-printable bytes as '?'. */
void smtpconn_printable(char *dst, size_t dstlen, const char *src, size_t n);

#endif
