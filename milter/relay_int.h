/*
 * NAME
 *	relay_int.h - the inside of the relay client, shared by relay.c, relay_dns.c and
 *	relay_smtp.c
 * SUMMARY
 *	#include "relay_int.h"
 * DESCRIPTION
 *	relay.c checks the options, walks the gateways and fills the result;
 *	relay_dns.c turns one gateway into the addresses to try (c-ares, with
 *	the call's deadline); relay_smtp.c is one SMTP session to one address.
 * SEE ALSO
 *	relay.h
 */
#ifndef MILTER_RELAY_INT_H
#define MILTER_RELAY_INT_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "relay.h"
#include "smtpconn.h"

#define RELAY_HOST_MAX 256
#define RELAY_TARGETS_MAX 32   /* addresses tried for one gateway */
#define RELAY_PASSWORD_MAX 512 /* bytes of the AUTH password */
#define RELAY_ADDRESS_MAX 512  /* bytes of one envelope address */

typedef struct {
	char host[RELAY_HOST_MAX]; /* a name, or an address for a literal */
	unsigned port;
	int literal; /* "[addr]" or a bare IPv4 address */
} relay_gateway;

struct relay_client {
	relay_gateway gw[RELAY_GATEWAYS_MAX];
	size_t ngw;
	int mx_lookup, verify;
	unsigned timeout;
	SSL_CTX *ctx;
	char helo[RELAY_HOST_MAX];
	char auth_user[RELAY_HOST_MAX];         /* "": no AUTH */
	char auth_password[RELAY_PASSWORD_MAX]; /* never in a why text */
};

/* One address to try, and the name its certificate must carry. */
typedef struct {
	char name[RELAY_HOST_MAX];   /* SNI and the checked name; "" for a literal */
	char domain[RELAY_HOST_MAX]; /* mx_lookup: the gateway as configured; "" otherwise */
	char addr[INET6_ADDRSTRLEN];
	struct sockaddr_storage sa;
	socklen_t salen;
} relay_target;

/* One message and its envelope, as relay_send() got them. */
typedef struct {
	const char *sender;
	const char *const *rcpts;
	size_t nrcpts;
	const relay_source *src;
	int utf8; /* an envelope address has non-ASCII bytes */
} relay_msg;

/*
 * The addresses of gateway g, in the order to try them, at most max,
 * within deadline (ms, smtpconn_now_ms()). 0, or -1 with why (a DNS
 * failure or timeout, no address at all).
 */
int relay_dns_targets(const relay_gateway *g, int mx_lookup, int64_t deadline, relay_target *t,
                      size_t max, size_t *n, char *why, size_t len);

/*
 * One session to t: connect, EHLO, STARTTLS, verification,
 * then relay_transaction(). 0 when the end of data got 250 (its text in
 * reply); -1 with why. *connected is set once the TCP connection stands.
 */
int relay_session(const relay_client *c, const relay_target *t, const relay_msg *m,
                  int64_t deadline, int *connected, char *reply, size_t replylen, char *why,
                  size_t len);

/*
 * On an open session after the (TLS) EHLO whose keywords are ext: AUTH,
 * MAIL, RCPT (RSET when one is refused), DATA, the message, the end of
 * data. 0 on 250 to the end of data; -1 with why, the session still
 * usable for QUIT; -2 with why when it is not (broken off inside DATA, or
 * the connection failed).
 */
int relay_transaction(smtpconn *conn, const relay_client *c, unsigned ext, const relay_msg *m,
                      char *reply, size_t replylen, char *why, size_t len);

#endif /* MILTER_RELAY_INT_H */
