/*
 * NAME
 *	relay.h - forcetls-milter's SMTP client: hands a message to the encryption gateway
 * SUMMARY
 *	#include "relay.h"
 * DESCRIPTION
 *	Relay mode (milter.routing = "relay"): at end of message the milter
 *	itself delivers a flagged message to the encryption gateway, and the
 *	MTA's copy is discarded only after a gateway answered 250 to the end of
 *	data (mlfi.c). This module is the delivery: it knows SMTP, TLS and DNS,
 *	and nothing of libmilter or of the decisions.
 *
 *	relay_client_new() checks the options once (at configuration load):
 *	the gateway list, the CA file (loaded into an OpenSSL client context),
 *	the AUTH password file (read whole, one line, the newline dropped).
 *	A relay_client is immutable and shared by every libmilter thread.
 *
 *	relay_send() tries the gateways in order, each host's addresses in
 *	order, until one accepts the message, all within o->timeout seconds
 *	for the whole call (every step gets at most what is left). For each:
 *	- addresses: an address literal as it is; a name through c-ares, with
 *	  mx_lookup its MX hosts in preference order (no MX: the name's own
 *	  A/AAAA), else the name's A/AAAA records; a DNS failure or timeout
 *	  is a failure of that gateway, never "no gateway";
 *	- EHLO, STARTTLS (required: not offered, refused, or a failed
 *	  handshake is a failure), then with verify the certificate chain
 *	  against ca_file and the name: the gateway host as configured (its
 *	  IP address for a literal); with mx_lookup that name or a name under
 *	  it (Postfix's "secure": nexthop, dot-nexthop), never the MX host
 *	  name that DNS gave (DNS must not choose the name checked); SNI is
 *	  the MX host's name;
 *	  EHLO again over TLS;
 *	- AUTH PLAIN when auth_user is set, only over TLS;
 *	- MAIL FROM with the sender as the MTA gave it, RCPT TO for every
 *	  recipient (any reply but 250/251 to any of them is a failure of the
 *	  whole attempt: RSET, next gateway), DATA, the message (line ends
 *	  made CRLF, dot-stuffed, a final CRLF added when missing), and the
 *	  end of data: 250 is success, anything else is a failure.
 *	MAIL carries BODY=8BITMIME whenever the gateway offers 8BITMIME (the
 *	body is not scanned for 8-bit bytes first); an envelope address with
 *	non-ASCII bytes needs the gateway's SMTPUTF8 (sent as MAIL parameter),
 *	otherwise it is a failure.
 *	QUIT ends every session.
 *
 *	Reply lines longer than 2048 bytes or replies of more than 100 lines
 *	are protocol errors (a failure).
 *
 *	The caller ignores SIGPIPE.
 *
 *	Where the above is silent (relay.c, relay_dns.c, relay_smtp.c): every
 *	envelope address must be in angle brackets, without control bytes,
 *	under 512 bytes, else relay_send() fails before any session; a bare
 *	IPv4 address is a literal, an IPv6 one needs its brackets; addresses
 *	are tried A before AAAA; an MX host whose addresses cannot be found
 *	is skipped (the gateway fails when no MX host has one); a DNS query
 *	gets at most a sixth of the time left per try (3 s at most, doubled
 *	for the second try); attempts counts TCP connections made; why is ""
 *	on success; a gateway's reply text in why or reply has every byte
 *	outside 0x20..0x7e replaced by '?'.
 * DIAGNOSTICS
 *	Nothing is logged: relay_result says which gateway took the message
 *	and, on failure, why each gateway failed (server text made printable).
 * SEE ALSO
 *	common/smtpconn.h, RFC 5321, RFC 3207, RFC 4954, RFC 6531
 */
#ifndef MILTER_RELAY_H
#define MILTER_RELAY_H

#include <stddef.h>

#define RELAY_GATEWAYS_MAX 16
#define RELAY_TIMEOUT_MAX 240 /* seconds: under Postfix's and Sendmail's 300 s defaults */

typedef struct {
	const char *const *gateways; /* "host", "host:port", "[addr]", "[addr]:port" (port 25) */
	size_t ngateways;
	int mx_lookup;                  /* a gateway name's MX hosts, else its A/AAAA */
	const char *ca_file;            /* NULL or "": OpenSSL's default store */
	int verify;                     /* chain and name; 0 only accepts any certificate */
	const char *auth_user;          /* NULL or "": no AUTH */
	const char *auth_password_file; /* required with auth_user */
	unsigned timeout;               /* seconds for one relay_send(), 1..RELAY_TIMEOUT_MAX */
	const char *helo;               /* EHLO name */
} relay_options;

typedef struct relay_client relay_client;

/* Check the options and build the client; NULL with the reason in why. */
relay_client *relay_client_new(const relay_options *o, char *why, size_t whylen);
void relay_client_free(relay_client *c);

/*
 * The message, as the bytes after DATA: the header block, the empty line,
 * the body. next() gives the following piece (*len 0 at the end) and
 * returns 0, or -1 when the message cannot be read (a failure: the relay
 * ends the session without the final dot). rewind() goes back to the
 * start for the next gateway (0 or -1).
 */
typedef struct {
	int (*next)(void *arg, const char **data, size_t *len);
	int (*rewind)(void *arg);
	void *arg;
} relay_source;

#define RELAY_TEXT_MAX 1024

typedef struct {
	char gateway[300];          /* who took it: "gw.example[192.0.2.1]:25" */
	char reply[RELAY_TEXT_MAX]; /* its reply to the end of data, printable */
	char why[RELAY_TEXT_MAX];   /* on failure: "GATEWAY: why; GATEWAY: why" */
	unsigned attempts;          /* sessions opened */
} relay_result;

/*
 * Deliver one message. sender and rcpts as the MTA gave them ("<a@b>",
 * "<>"). 0 when a gateway answered 250 to the end of data; -1 otherwise.
 * Always fills *res.
 */
int relay_send(const relay_client *c, const char *sender, const char *const *rcpts, size_t nrcpts,
               const relay_source *src, relay_result *res);

#endif /* MILTER_RELAY_H */
