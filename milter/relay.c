/*
 * NAME
 *	relay.c - relay mode's SMTP client: the options, the gateways in order, the result
 * SUMMARY
 *	relay_client_new(), relay_client_free(), relay_send() (relay.h)
 * DESCRIPTION
 *	Gateways: "host", "host:port", "[addr]", "[addr]:port", or a bare IPv4
 *	address (with or without ":port"); the port is 1..65535, 25 when
 *	absent. An IPv6 address needs its brackets. A name is at most 255
 *	bytes of letters, digits, '-', '.' and '_'.
 *
 *	The AUTH password file holds one line: the password, its newline
 *	dropped (a CR before it too). Empty, unreadable, longer than
 *	RELAY_PASSWORD_MAX - 1 bytes, or with a second line: an error.
 *
 *	The client context: TLS 1.2 or newer, the CA file (or OpenSSL's
 *	default store when ca_file is NULL or ""); verification is set per
 *	session (relay_smtp.c).
 *
 *	relay_send() checks the envelope first: every address in angle
 *	brackets ("<>" for the null sender), at most RELAY_ADDRESS_MAX - 1
 *	bytes, no control bytes; else it fails before any session. It then
 *	tries each gateway's addresses (relay_dns.c) with one session each
 *	(relay_smtp.c), rewinding the message before every session but the
 *	first, until one answers 250 to the end of data or the time is up.
 *
 *	Thread safety: a relay_client is only read after relay_client_new();
 *	every relay_send() has its own DNS channel, sockets and buffers.
 * DIAGNOSTICS
 *	relay_client_new(): "relay_gateways: ...", "relay_timeout: ...",
 *	"relay_auth_password_file: PATH: ...", "relay_ca_file: ...".
 *	relay_send(): res->why is "GATEWAY: why; ..." with GATEWAY
 *	"name[addr]:port" for a session, "name:port" for a DNS failure.
 * SEE ALSO
 *	relay.h, relay_int.h, relay_dns.c, relay_smtp.c
 */
#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "relay_int.h"

static int say(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Format why; returns -1. */
static int say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_port(const char *s, unsigned *port)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

static int valid_name(const char *s, size_t n)
{
	if (n == 0 || n >= RELAY_HOST_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' || s[i] == '_'))
			return 0;
	return 1;
}

/* One gateway of the list. 0, or -1 with why. */
static int parse_gateway(const char *s, relay_gateway *g, char *why, size_t len)
{
	const char *host = s, *end, *colon;
	unsigned char a[sizeof(struct in6_addr)];

	memset(g, 0, sizeof(*g));
	g->port = 25;
	if (*s == '[') {
		host = s + 1;
		if ((end = strchr(host, ']')) == NULL)
			return say(why, len, "relay_gateways: \"%s\": no ']'", s);
		colon = *(end + 1) == ':' ? end + 1 : NULL;
		if (*(end + 1) != '\0' && colon == NULL)
			return say(why, len, "relay_gateways: \"%s\": junk after ']'", s);
		g->literal = 1;
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			return say(why, len, "relay_gateways: \"%s\": IPv6 needs [brackets]", s);
		end = colon != NULL ? colon : s + strlen(s);
	}
	if (colon != NULL && parse_port(colon + 1, &g->port) < 0)
		return say(why, len, "relay_gateways: \"%s\": bad port", s);
	if ((size_t)(end - host) >= sizeof(g->host))
		return say(why, len, "relay_gateways: \"%s\": too long", s);
	memcpy(g->host, host, (size_t)(end - host));
	if (g->literal) {
		if (inet_pton(AF_INET, g->host, a) != 1 && inet_pton(AF_INET6, g->host, a) != 1)
			return say(why, len, "relay_gateways: \"%s\": not an IP address", s);
	} else if (inet_pton(AF_INET, g->host, a) == 1) {
		g->literal = 1;
	} else if (!valid_name(g->host, strlen(g->host))) {
		return say(why, len, "relay_gateways: \"%s\": not a host name", s);
	}
	return 0;
}

static int read_password(const char *path, char *pw, size_t pwlen, char *why, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;
	int extra;

	if (f == NULL)
		return say(why, len, "relay_auth_password_file: %s: %s", path, strerror(errno));
	n = fread(pw, 1, pwlen, f);
	extra = ferror(f);
	fclose(f);
	if (extra)
		return say(why, len, "relay_auth_password_file: %s: read error", path);
	if (n == pwlen)
		return say(why, len, "relay_auth_password_file: %s: longer than %zu bytes", path,
		           pwlen - 1);
	pw[n] = '\0';
	if (n > 0 && pw[n - 1] == '\n')
		pw[--n] = '\0';
	if (n > 0 && pw[n - 1] == '\r')
		pw[--n] = '\0';
	if (n == 0)
		return say(why, len, "relay_auth_password_file: %s: empty", path);
	if (strlen(pw) != n || strchr(pw, '\n') != NULL || strchr(pw, '\r') != NULL)
		return say(why, len, "relay_auth_password_file: %s: not one line", path);
	return 0;
}

/* Everything but the TLS context and the gateways. */
static int check_options(const relay_options *o, relay_client *c, char *why, size_t len)
{
	if (o->timeout < 1 || o->timeout > RELAY_TIMEOUT_MAX)
		return say(why, len, "relay_timeout: %u: not in 1..%d", o->timeout,
		           RELAY_TIMEOUT_MAX);
	c->timeout = o->timeout;
	c->mx_lookup = o->mx_lookup != 0;
	c->verify = o->verify != 0;
	if (o->helo == NULL || !valid_name(o->helo, strlen(o->helo)))
		return say(why, len, "relay: the EHLO name \"%s\" is not a host name",
		           o->helo != NULL ? o->helo : "");
	snprintf(c->helo, sizeof(c->helo), "%s", o->helo);
	if (o->auth_user == NULL || o->auth_user[0] == '\0')
		return 0;
	if (strlen(o->auth_user) >= sizeof(c->auth_user) || strpbrk(o->auth_user, "\r\n") != NULL)
		return say(why, len, "relay_auth_user: too long or not one line");
	snprintf(c->auth_user, sizeof(c->auth_user), "%s", o->auth_user);
	if (o->auth_password_file == NULL || o->auth_password_file[0] == '\0')
		return say(why, len, "relay_auth_password_file: needed with relay_auth_user");
	return read_password(o->auth_password_file, c->auth_password, sizeof(c->auth_password), why,
	                     len);
}

static int make_ctx(const relay_options *o, relay_client *c, char *why, size_t len)
{
	const char *ca = o->ca_file != NULL && o->ca_file[0] != '\0' ? o->ca_file : NULL;
	char sub[300];

	if ((c->ctx = smtpconn_ctx_new(ca, sub, sizeof(sub))) == NULL)
		return say(why, len, "relay_ca_file: %s", sub);
	if (SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) != 1)
		return say(why, len, "relay: cannot require TLS 1.2");
	return 0;
}

relay_client *relay_client_new(const relay_options *o, char *why, size_t whylen)
{
	relay_client *c = calloc(1, sizeof(*c));
	int status;

	if (c == NULL) {
		say(why, whylen, "out of memory");
		return NULL;
	}
	if (o->ngateways == 0 || o->ngateways > RELAY_GATEWAYS_MAX) {
		say(why, whylen, "relay_gateways: %zu gateways: need 1..%d", o->ngateways,
		    RELAY_GATEWAYS_MAX);
		goto fail;
	}
	for (c->ngw = 0; c->ngw < o->ngateways; c->ngw++)
		if (parse_gateway(o->gateways[c->ngw], &c->gw[c->ngw], why, whylen) < 0)
			goto fail;
	if (check_options(o, c, why, whylen) < 0 || make_ctx(o, c, why, whylen) < 0)
		goto fail;
	if ((status = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		say(why, whylen, "relay: cannot initialise c-ares: %s", ares_strerror(status));
		goto fail;
	}
	return c;
fail:
	SSL_CTX_free(c->ctx);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
	return NULL;
}

void relay_client_free(relay_client *c)
{
	if (c == NULL)
		return;
	SSL_CTX_free(c->ctx);
	ares_library_cleanup();
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

/* Append "WHO: text" to res->why, "; " between entries; cut when full. */
static void add_why(relay_result *res, const char *who, const char *text)
{
	size_t n = strlen(res->why);

	if (n + 1 >= sizeof(res->why))
		return;
	(void)say(res->why + n, sizeof(res->why) - n, "%s%s: %s", n > 0 ? "; " : "", who, text);
	/* names from DNS too: nothing unprintable leaves (in place: dst never passes src) */
	smtpconn_printable(res->why + n, sizeof(res->why) - n, res->why + n, strlen(res->why + n));
}

/* An envelope address: "<...>", bounded, no control bytes. Notes non-ASCII. */
static int check_address(const char *a, int *utf8, char *why, size_t len)
{
	size_t n = a != NULL ? strlen(a) : 0;

	if (n < 2 || a[0] != '<' || a[n - 1] != '>')
		return say(why, len, "envelope: an address is not in <angle brackets>");
	if (n >= RELAY_ADDRESS_MAX)
		return say(why, len, "envelope: an address is longer than %d bytes",
		           RELAY_ADDRESS_MAX - 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)a[i];

		if (ch < 0x20 || ch == 0x7f)
			return say(why, len, "envelope: an address has a control byte");
		if (ch >= 0x80)
			*utf8 = 1;
	}
	return 0;
}

static int check_envelope(relay_msg *m, char *why, size_t len)
{
	if (m->nrcpts == 0)
		return say(why, len, "envelope: no recipient");
	if (check_address(m->sender, &m->utf8, why, len) < 0)
		return -1;
	for (size_t i = 0; i < m->nrcpts; i++)
		if (check_address(m->rcpts[i], &m->utf8, why, len) < 0)
			return -1;
	return 0;
}

/*
 * Every address of one gateway. 0 on success; -1 when it failed; -2 when
 * the message cannot be rewound (nothing more can be tried). *sessions
 * counts the sessions begun in this call.
 */
static int try_gateway(const relay_client *c, const relay_gateway *g, const relay_msg *m,
                       int64_t deadline, unsigned *sessions, relay_result *res)
{
	relay_target *t = calloc(RELAY_TARGETS_MAX, sizeof(*t));
	char who[sizeof(res->gateway)], why[RELAY_TEXT_MAX];
	size_t n = 0;
	int rc = -1, connected;

	snprintf(who, sizeof(who), g->literal ? "[%s]:%u" : "%s:%u", g->host, g->port);
	if (t == NULL) {
		add_why(res, who, "out of memory");
		return -1;
	}
	if (relay_dns_targets(g, c->mx_lookup, deadline, t, RELAY_TARGETS_MAX, &n, why,
	                      sizeof(why)) < 0)
		add_why(res, who, why);
	for (size_t i = 0; i < n && rc == -1; i++) {
		snprintf(who, sizeof(who), "%.200s[%s]:%u", t[i].name, t[i].addr, g->port);
		if (smtpconn_now_ms() >= deadline) {
			add_why(res, who, "not tried: no time left");
			break;
		}
		if ((*sessions)++ > 0 && m->src->rewind(m->src->arg) < 0) {
			add_why(res, who, "message: cannot rewind");
			rc = -2;
			break;
		}
		rc = relay_session(c, &t[i], m, deadline, &connected, res->reply,
		                   sizeof(res->reply), why, sizeof(why));
		res->attempts += connected != 0;
		if (rc == 0)
			smtpconn_printable(res->gateway, sizeof(res->gateway), who, strlen(who));
		else
			add_why(res, who, why);
	}
	free(t);
	return rc;
}

int relay_send(const relay_client *c, const char *sender, const char *const *rcpts, size_t nrcpts,
               const relay_source *src, relay_result *res)
{
	int64_t deadline = smtpconn_now_ms() + (int64_t)c->timeout * 1000;
	relay_msg m = {sender, rcpts, nrcpts, src, 0};
	unsigned sessions = 0;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (check_envelope(&m, res->why, sizeof(res->why)) < 0)
		return -1;
	for (size_t i = 0; i < c->ngw && rc == -1; i++) {
		if (smtpconn_now_ms() >= deadline) {
			char who[sizeof(res->gateway)];

			snprintf(who, sizeof(who), c->gw[i].literal ? "[%s]:%u" : "%s:%u",
			         c->gw[i].host, c->gw[i].port);
			add_why(res, who, "not tried: no time left");
			break;
		}
		rc = try_gateway(c, &c->gw[i], &m, deadline, &sessions, res);
	}
	if (rc == 0)
		res->why[0] = '\0';
	return rc == 0 ? 0 : -1;
}
