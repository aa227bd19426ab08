/*
 * NAME
 *	socketmap.c - the Postfix socketmap protocol, server side
 * SUMMARY
 *	socketmap_protocol()
 * DESCRIPTION
 *	Postfix's socketmap client (socketmap_table(5), dict_sockmap.c) sends
 *	one netstring per lookup, "NAME KEY", and waits for one netstring
 *	reply before the next; it keeps the connection (closing it after 10 s
 *	idle or 100 s of use). The replies are:
 *
 *	    OK <data>          found
 *	    NOTFOUND <empty>   not found ("NOTFOUND " with its space)
 *	    TEMP <reason>      temporary failure
 *	    TIMEOUT <reason>   timeout
 *	    PERM <reason>      permanent failure
 *
 *	Four map names are served: policyd.map_name (the table's answer, for
 *	smtp_tls_policy_maps), policyd.require_map_name (at least encrypt,
 *	for the transport that X-TLSLevel: Require selects),
 *	policyd.transport_map_name (transport_maps: the backup transport for
 *	on_tls_failure=gateway, transport.c) and
 *	policyd.sendmail_map_name (when set: Sendmail's access map keys, sendmail.c;
 *	Sendmail's socket map class speaks this same protocol).
 *
 *	A reply is at most 100000 bytes. Postfix defers the recipient with
 *	4.7.5 on any failure answer, PERM included. Sendmail does not: a PERM
 *	reply is "unavailable", which its access map rulesets read as "not
 *	found" (mail would leave in clear). So no reply here is PERM: a map
 *	name we do not serve (a configuration error) answers TEMP too.
 *
 *	Bad framing (not a netstring) gets a TEMP reply and the connection is
 *	closed, since the stream cannot be resynchronised; so does a request
 *	longer than max_request. Neither disturbs another connection. The
 *	warnings about bad requests are rate-limited (policyd.h, d->bad): a
 *	client pipelining "0:," must not write a log line per 3 bytes.
 *
 *	Deadlines (server.h): a complete request whose answer is not ready
 *	within policyd.request_timeout (it waits for DNS) gets "TEMP request
 *	timed out" and the connection closes; the late answer is dropped. A
 *	request still incomplete then gets nothing (a reply would answer a
 *	question not asked): the connection closes, and Postfix defers.
 * SEE ALSO
 *	netstring.c, outbound.c; Postfix dict_sockmap.c.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "netstring.h"
#include "pmetrics.h"
#include "policyd.h"
#include "socketmap.h"

#define REPLY_MAX 100000

/* A reply of map proto, counted (pmetrics.h). */
static void send_as(conn *c, pm_proto proto, const char *text, size_t len)
{
	char buf[TLSMAPS_POLICY_MAX + 64];
	size_t n;

	pmetrics_reply(proto, text, len);
	if (len > REPLY_MAX)
		len = REPLY_MAX;
	n = netstring_format(buf, sizeof(buf), text, len);
	if (n == 0) /* cannot happen: replies are short */
		n = netstring_format(buf, sizeof(buf), "TEMP reply too long", 19);
	conn_reply(c, buf, n);
}

static void send_reply(conn *c, const char *text, size_t len)
{
	send_as(c, PM_SOCKETMAP, text, len);
}

static void on_answer(void *ctx, const char *reply, size_t len)
{
	conn *c = ctx;

	send_reply(c, reply, len);
	conn_release(c);
}

static int name_is(const char *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

static ssize_t request(conn *c, const char *buf, size_t len, int too_long, size_t *used)
{
	policyd *d = conn_ctx(c);
	const char *data, *sp;
	size_t dlen, name_len;
	char safe[128];
	int require;

	switch (netstring_parse(buf, len, SOCKETMAP_MAX_REQUEST - 16, &data, &dlen, used)) {
	case NETSTRING_MORE:
		if (!too_long)
			return SERVER_MORE;
		/* FALLTHROUGH */
	case NETSTRING_TOOLONG:
		d->stats.malformed++;
		ratelog_warnx(&d->bad[BAD_SM_TOOLONG],
		              "socketmap: request longer than %d bytes; closing",
		              SOCKETMAP_MAX_REQUEST);
		send_reply(c, "TEMP request too long", 21);
		return SERVER_CLOSE;
	case NETSTRING_BAD:
		d->stats.malformed++;
		ratelog_warnx(&d->bad[BAD_SM_FRAMING],
		              "socketmap: malformed netstring \"%s\"; closing",
		              log_safe(buf, len < 40 ? len : 40, safe, sizeof(safe)));
		send_reply(c, "TEMP malformed request", 22);
		return SERVER_CLOSE;
	case NETSTRING_OK:
		break;
	}
	sp = memchr(data, ' ', dlen);
	if (sp != NULL && sp != data && sp + 1 != data + dlen &&
	    name_is(data, (size_t)(sp - data), d->snap->sendmail_map_name)) {
		char reply[128];
		size_t n = sendmail_answer(d, sp + 1, (size_t)(data + dlen - sp - 1), reply,
		                           sizeof(reply));

		send_as(c, PM_SENDMAIL, reply, n);
		conn_no_idle_timeout(c); /* Sendmail takes an idle close for a failure */
		return (ssize_t)*used;
	}
	if (sp == NULL || sp == data || sp + 1 == data + dlen) {
		d->stats.malformed++;
		ratelog_warnx(&d->bad[BAD_SM_NOT_NAME_KEY],
		              "socketmap: request \"%s\" is not NAME KEY",
		              log_safe(data, dlen, safe, sizeof(safe)));
		send_reply(c, "TEMP malformed request", 22);
		return (ssize_t)*used;
	}
	name_len = (size_t)(sp - data);
	if (name_is(data, name_len, d->snap->transport_map_name)) { /* transport.c */
		char reply[TLSMAPS_KEY_MAX + 64];

		send_as(c, PM_TRANSPORT, reply,
		        transport_answer(d, sp + 1, dlen - name_len - 1, reply, sizeof(reply)));
		return (ssize_t)*used;
	}
	require = name_is(data, name_len, d->snap->require_map_name);
	if (!require && !name_is(data, name_len, d->snap->map_name)) {
		d->stats.perm++;
		ratelog_warnx(&d->bad[BAD_SM_MAP_NAME],
		              "socketmap: unknown map name \"%s\" (this daemon serves \"%s\")",
		              log_safe(data, name_len, safe, sizeof(safe)), d->snap->map_name);
		send_reply(c, "TEMP unknown map name", 21);
		return (ssize_t)*used;
	}
	/* The answer may come at once (no DNS) or from the event loop. */
	conn_hold(c);
	outbound_decide(d, sp + 1, dlen - name_len - 1, require, on_answer, c);
	return SERVER_ASYNC;
}

/* A complete request not answered within policyd.request_timeout (a slow DNS). */
#define TIMEOUT_REPLY "22:TEMP request timed out,"

server_protocol socketmap_protocol(policyd *d)
{
	server_protocol p = {"socketmap", SOCKETMAP_MAX_REQUEST, request,
	                     d,           TIMEOUT_REPLY,         sizeof(TIMEOUT_REPLY) - 1};

	return p;
}
