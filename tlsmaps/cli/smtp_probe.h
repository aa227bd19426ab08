/*
 * NAME
 *	smtp_probe.h - one SMTP session to one address: banner, EHLO, STARTTLS, TLS
 * SUMMARY
 *	#include "smtp_probe.h"
 * DESCRIPTION
 *	smtp_probe() connects to one address, reads the banner, sends EHLO,
 *	sends STARTTLS when the server offers it, does the TLS handshake with
 *	OpenSSL, and ends with QUIT. It records how far it got, what the TLS
 *	session is, and the peer certificate. It judges nothing: whether the
 *	result satisfies a table's level is the caller's business.
 *
 *	Every step (connect, each reply, the handshake) has its own deadline of
 *	timeout seconds, so a silent or trickling server costs at most a few
 *	timeouts. Reply lines longer than SMTPCONN_LINE_MAX bytes and replies
 *	of more than SMTPCONN_LINES_MAX lines are protocol errors (the
 *	connection is common/smtpconn.h).
 *
 *	The caller ignores SIGPIPE: OpenSSL writes to a socket the server may
 *	have closed.
 * DIAGNOSTICS
 *	Failures are recorded in the result's "why" text; server text in it is
 *	made printable. Nothing is printed.
 * SEE ALSO
 *	cmd_probe.c, common/smtpconn.h, RFC 5321, RFC 3207
 */
#ifndef SMTP_PROBE_H
#define SMTP_PROBE_H

#include <stddef.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#define SMTP_PROBE_WHY_MAX 320

/* How far a session got. */
typedef enum {
	SMTP_PROBE_NO_SESSION = 0,   /* connect, banner or protocol failure */
	SMTP_PROBE_NO_STARTTLS,      /* EHLO answered without STARTTLS, or refused */
	SMTP_PROBE_STARTTLS_REFUSED, /* STARTTLS answered with other than 220 */
	SMTP_PROBE_TLS_FAILED,       /* the handshake failed */
	SMTP_PROBE_TLS,              /* the handshake succeeded */
} smtp_probe_stage;

typedef struct {
	unsigned timeout; /* seconds, per step */
	const char *helo; /* EHLO argument */
	SSL_CTX *ctx;     /* from smtp_probe_ctx_new() */
} smtp_probe_opts;

typedef struct {
	smtp_probe_stage stage;
	char why[SMTP_PROBE_WHY_MAX]; /* the failure, "" when stage is SMTP_PROBE_TLS */
	char protocol[32];            /* "TLSv1.3" */
	char cipher[64];              /* "TLS_AES_256_GCM_SHA384" */
	int bits;                     /* symmetric key bits */
	long verify;                  /* X509_V_OK or an X509_V_ERR_* code */
	X509 *cert;                   /* the peer certificate, or NULL */
} smtp_probe_result;

/*
 * A client context that verifies against cafile, or the system CA store
 * when cafile is NULL. NULL with a reason in why on error.
 */
SSL_CTX *smtp_probe_ctx_new(const char *cafile, char *why, size_t whylen);

/*
 * Probe one address. sni (may be NULL) is sent as the TLS server name.
 * Always fills *res; free it with smtp_probe_result_free().
 */
void smtp_probe(const smtp_probe_opts *opts, const struct sockaddr *sa, socklen_t salen,
                const char *sni, smtp_probe_result *res);

void smtp_probe_result_free(smtp_probe_result *res);

#endif
