/*
 * NAME
 *	delegation.c - the Postfix SMTP access policy delegation protocol, server side
 * SUMMARY
 *	delegation_protocol()
 * DESCRIPTION
 *	SMTPD_POLICY_README: Postfix smtpd(8) sends "name=value" lines ending
 *	with an empty line, and reads back "action=..." and an empty line. The
 *	connection stays open for the next request.
 *
 *	Attributes used (Postfix 3.7): request (must be smtpd_access_policy),
 *	protocol_state, queue_id, client_address, client_name, sender,
 *	encryption_protocol, encryption_keysize, ccert_subject,
 *	ccert_fingerprint, ccert_pubkey_fingerprint, sasl_username. Others
 *	are ignored, as the protocol asks.
 *
 *	A request without request=smtpd_access_policy or client_address, with
 *	one of the attributes used given twice, or with a line that is not
 *	name=value, is malformed: it gets "action=451 4.3.5 Server
 *	configuration problem" (what Postfix itself does when a policy server
 *	fails), so the client retries and nothing is lost. A request longer
 *	than DELEGATION_MAX_REQUEST gets the same answer and the connection is
 *	closed. A NUL byte anywhere is treated like a malformed line. Their
 *	warnings are rate-limited (policyd.h, d->bad).
 *
 *	Lines may end with CRLF (policy_request.c); the reply is always
 *	Postfix's "action=...\n\n".
 *
 *	protocol_state: the inbound check needs the sender and the session's
 *	TLS, so it runs at MAIL (smtpd_delay_reject = no), RCPT, DATA,
 *	END-OF-MESSAGE, and for any other or missing state (VRFY, ETRN, a
 *	future one: the strict choice). A request before MAIL (CONNECT, EHLO,
 *	HELO, STARTTLS: check_policy_service in smtpd_client_restrictions or
 *	smtpd_helo_restrictions with smtpd_delay_reject = no) answers DUNNO:
 *	there, before STARTTLS, every listed client would be refused for good.
 *	Each such state is logged once per process, with where the check
 *	belongs.
 * SEE ALSO
 *	inbound.c, the decision.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "delegation.h"
#include "log.h"
#include "pmetrics.h"

#define MALFORMED "action=451 4.3.5 Server configuration problem\n\n"
#define DUNNO "action=DUNNO\n\n"

/* The states before MAIL, and whether each was logged already. */
static const char *const early_states[] = {"CONNECT", "EHLO", "HELO", "STARTTLS"};
static int early_warned[sizeof(early_states) / sizeof(early_states[0])];

/* 1 when protocol_state is before MAIL (warned about once per state), else 0. */
static int before_mail(const char *state)
{
	if (state == NULL)
		return 0; /* as RCPT: strict */
	for (size_t i = 0; i < sizeof(early_states) / sizeof(early_states[0]); i++) {
		if (strcasecmp(state, early_states[i]) != 0)
			continue;
		if (!early_warned[i]) {
			early_warned[i] = 1;
			log_warnx("policy: a request at protocol_state=%s, before MAIL, answered "
			          "DUNNO: the inbound TLS check cannot decide before STARTTLS and "
			          "MAIL; put check_policy_service in smtpd_recipient_restrictions "
			          "(logged once)",
			          early_states[i]);
		}
		return 1;
	}
	return 0;
}

static ssize_t request(conn *c, const char *buf, size_t len, int too_long, size_t *used)
{
	policyd *d = conn_ctx(c);
	char copy[DELEGATION_MAX_REQUEST + 1], action[512], reply[600];
	policy_request r;
	int n;

	switch (delegation_parse(buf, len, copy, sizeof(copy), &r, used)) {
	case 0:
		if (!too_long)
			return SERVER_MORE;
		d->stats.malformed++;
		pmetrics_policy("malformed");
		ratelog_warnx(&d->bad[BAD_POLICY_TOOLONG],
		              "policy: request longer than %d bytes; closing",
		              DELEGATION_MAX_REQUEST);
		conn_reply(c, MALFORMED, sizeof(MALFORMED) - 1);
		return SERVER_CLOSE;
	case -1: {
		char safe[80];

		d->stats.malformed++;
		pmetrics_policy("malformed");
		ratelog_warnx(&d->bad[BAD_POLICY], "policy: malformed request \"%s\"",
		              log_safe(buf, *used < 60 ? *used : 60, safe, sizeof(safe)));
		conn_reply(c, MALFORMED, sizeof(MALFORMED) - 1);
		return (ssize_t)*used;
	}
	default:
		break;
	}
	d->stats.policy_requests++;
	if (before_mail(r.protocol_state)) {
		d->stats.policy_dunno++;
		pmetrics_policy("dunno");
		conn_reply(c, DUNNO, sizeof(DUNNO) - 1);
		return (ssize_t)*used;
	}
	inbound_decide(d, &r, action, sizeof(action));
	n = snprintf(reply, sizeof(reply), "action=%s\n\n", action);
	conn_reply(c, reply, (size_t)n < sizeof(reply) ? (size_t)n : sizeof(reply) - 1);
	return (ssize_t)*used;
}

server_protocol delegation_protocol(policyd *d)
{
	/* Answered at once: no request waits, so none needs a timeout reply. */
	server_protocol p = {"policy", DELEGATION_MAX_REQUEST, request, d, NULL, 0};

	return p;
}
