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
 *	are ignored, as the protocol asks. A repeated attribute keeps its last value.
 *
 *	A request without request=smtpd_access_policy, or with a line that is
 *	not name=value, is malformed: it gets "action=451 4.3.5 Server
 *	configuration problem" (what Postfix itself does when a policy server
 *	fails), so the client retries and nothing is lost. A request longer
 *	than DELEGATION_MAX_REQUEST gets the same answer and the connection is
 *	closed. A NUL byte anywhere is treated like a malformed line.
 * SEE ALSO
 *	inbound.c, the decision.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "delegation.h"
#include "log.h"

#define MALFORMED "action=451 4.3.5 Server configuration problem\n\n"

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
		log_warnx("policy: request longer than %d bytes; closing", DELEGATION_MAX_REQUEST);
		conn_reply(c, MALFORMED, sizeof(MALFORMED) - 1);
		return SERVER_CLOSE;
	case -1: {
		char safe[80];

		d->stats.malformed++;
		log_warnx("policy: malformed request \"%s\"",
		          log_safe(buf, *used < 60 ? *used : 60, safe, sizeof(safe)));
		conn_reply(c, MALFORMED, sizeof(MALFORMED) - 1);
		return (ssize_t)*used;
	}
	default:
		break;
	}
	d->stats.policy_requests++;
	inbound_decide(d, &r, action, sizeof(action));
	n = snprintf(reply, sizeof(reply), "action=%s\n\n", action);
	conn_reply(c, reply, (size_t)n < sizeof(reply) ? (size_t)n : sizeof(reply) - 1);
	return (ssize_t)*used;
}

server_protocol delegation_protocol(policyd *d)
{
	server_protocol p = {"policy", DELEGATION_MAX_REQUEST, request, d};

	return p;
}
