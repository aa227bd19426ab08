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
 *	The connection, the replies, the deadlines and TLS are common/smtpconn.c
 *	(replies, limits and the CVE-2011-0411 rule are described there); this
 *	file is only the dialogue. Every step has its own deadline of the
 *	timeout (no deadline for the whole session). Writes to a closed socket
 *	need SIGPIPE ignored by the caller.
 * DIAGNOSTICS
 *	The "why" text of the result, e.g. "connect: Connection refused",
 *	"banner: timed out after 10 s", "STARTTLS not offered",
 *	"STARTTLS refused: 454 4.7.0 TLS not available", "TLS handshake: ...".
 * SEE ALSO
 *	cmd_probe.c, common/smtpconn.h
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "smtp_probe.h"
#include "smtpconn.h"

SSL_CTX *smtp_probe_ctx_new(const char *cafile, char *why, size_t whylen)
{
	return smtpconn_ctx_new(cafile, why, whylen);
}
/* Read a reply or send a command; -1 with res->why "WHAT: why" on failure. */
static int step_reply(smtpconn *c, const char *cmd, smtpconn_reply *r, const char *what,
                      smtp_probe_result *res)
{
	char why[SMTP_PROBE_WHY_MAX - 40];
	int rc = cmd == NULL ? smtpconn_read_reply(c, r, why, sizeof(why))
	                     : smtpconn_command(c, cmd, r, why, sizeof(why));

	if (rc < 0) {
		int n = snprintf(res->why, sizeof(res->why), "%s: %s", what, why);

		(void)n;
	}
	return rc;
}

/* res->why is WHAT and the server's text, cut to fit. */
static void refused(smtp_probe_result *res, const char *what, const char *text)
{
	size_t n = strlen(what);

	snprintf(res->why, sizeof(res->why), "%s", what);
	if (n < sizeof(res->why))
		smtpconn_printable(res->why + n, sizeof(res->why) - n, text, strlen(text));
}

/* Banner, EHLO, STARTTLS: 0 when the server said 220 to STARTTLS. */
static int dialogue(smtpconn *c, const char *helo, smtp_probe_result *res)
{
	smtpconn_reply r;
	char ehlo[300];

	if (step_reply(c, NULL, &r, "banner", res) < 0)
		return -1;
	if (r.code != 220) {
		refused(res, "banner: ", r.text);
		goto quit;
	}
	snprintf(ehlo, sizeof(ehlo), "EHLO %s\r\n", helo);
	if (step_reply(c, ehlo, &r, "EHLO", res) < 0)
		return -1;
	res->stage = SMTP_PROBE_NO_STARTTLS;
	if (r.code != 250) {
		refused(res, "EHLO refused: ", r.text);
		goto quit;
	}
	if (!(r.ext & SMTPCONN_EXT_STARTTLS)) {
		snprintf(res->why, sizeof(res->why), "STARTTLS not offered");
		goto quit;
	}
	res->stage = SMTP_PROBE_STARTTLS_REFUSED;
	if (step_reply(c, "STARTTLS\r\n", &r, "STARTTLS", res) < 0)
		return -1;
	if (r.code != 220) {
		refused(res, "STARTTLS refused: ", r.text);
		goto quit;
	}
	return 0;
quit:
	smtpconn_quit(c);
	return -1;
}

void smtp_probe(const smtp_probe_opts *opts, const struct sockaddr *sa, socklen_t salen,
                const char *sni, smtp_probe_result *res)
{
	const SSL_CIPHER *cipher;
	smtpconn *c;
	SSL *ssl;

	memset(res, 0, sizeof(*res));
	res->stage = SMTP_PROBE_NO_SESSION;
	res->verify = X509_V_OK;
	if ((c = smtpconn_new(opts->timeout, 0)) == NULL) {
		snprintf(res->why, sizeof(res->why), "out of memory");
		return;
	}
	if (smtpconn_connect(c, sa, salen, res->why, sizeof(res->why)) < 0 ||
	    dialogue(c, opts->helo, res) < 0)
		goto done;
	res->stage = SMTP_PROBE_TLS_FAILED;
	if ((ssl = smtpconn_tls_new(c, opts->ctx, sni, res->why, sizeof(res->why))) == NULL ||
	    smtpconn_handshake(c, res->why, sizeof(res->why)) < 0)
		goto done;
	res->stage = SMTP_PROBE_TLS;
	snprintf(res->protocol, sizeof(res->protocol), "%s", SSL_get_version(ssl));
	cipher = SSL_get_current_cipher(ssl);
	if (cipher != NULL) {
		snprintf(res->cipher, sizeof(res->cipher), "%s", SSL_CIPHER_get_name(cipher));
		res->bits = SSL_CIPHER_get_bits(cipher, NULL);
	}
	res->cert = SSL_get1_peer_certificate(ssl);
	res->verify = SSL_get_verify_result(ssl);
	smtpconn_quit(c);
done:
	smtpconn_free(c);
}

void smtp_probe_result_free(smtp_probe_result *res)
{
	X509_free(res->cert);
	res->cert = NULL;
}
