/*
 * NAME
 *	handoff.c - relay mode at end of message: the gateway gets the message, or the MTA keeps it
 * SUMMARY
 *	handoff_wanted(), handoff()
 * DESCRIPTION
 *	With milter.routing = "relay", a message that header mode would route
 *	to the gateway (outbound mail flagged for encryption, inbound mail to
 *	decrypt) is delivered to the gateway by the milter itself, from the
 *	copy kept while the MTA streamed it (msgcopy.h), with the header edits
 *	decide_message() chose (X-TLSLevel first, the trigger, spoofed headers
 *	gone, the stripped subject), through relay_send() (relay.h).
 *
 *	Never lost: the MTA's copy is discarded (SMFIS_DISCARD) only after a
 *	gateway answered 250 to the end of data. Every other outcome answers
 *	a temporary failure (451 4.4.0 with a fixed text; the details go to
 *	the log only), so the MTA, or the client before it, keeps the message:
 *	a copy that could not be kept (no memory, a full spool), DNS, connect,
 *	TLS, verification, AUTH, any 4xx or 5xx reply, the timeout.
 *
 *	A crash, or the MTA's milter timeout, after the gateway said 250 but
 *	before the MTA saw the discard leaves the message with both: the MTA
 *	defers and retries it, and the gateway delivers it too. A duplicate,
 *	never a loss (SMTP's own at-least-once rule, RFC 5321 section 6.1).
 * DIAGNOSTICS
 *	"QUEUEID: DECISION relay=sent gateway=GW size=N spooled=yes|no
 *	reply=TEXT", or "QUEUEID: DECISION relay=failed why=WHY result=defer".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libmilter/mfapi.h>

#include "log.h"
#include "mlfi_int.h"
#include "stats.h"

int handoff_wanted(const cctx *c)
{
	return c->copy != NULL && c->m != NULL &&
	       ((c->m->dir == DIR_OUTBOUND && c->m->flagged) ||
	        (c->m->dir == DIR_INBOUND && c->m->decrypt));
}

/* Does the decision change the Subject (strip the tag)? */
static int strips_subject(const decision *d)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->a[i].kind == ACT_CHANGE && strcasecmp(d->a[i].name, "Subject") == 0)
			return 1;
	return 0;
}

static sfsistat defer(SMFICTX *ctx, const char *qid, const decision *d, const char *why)
{
	char safe[RELAY_TEXT_MAX * 2];

	stats_add(STAT_RELAY_FAILED);
	log_safe(why, strlen(why), safe, sizeof(safe));
	log_warnx("%s: %s relay=failed why=%s result=defer", qid, d->summary, safe);
	stats_add(STAT_MESSAGES);
	stats_add(STAT_DEFERRED);
	smfi_setreply(ctx, "451", "4.4.0",
	              "forcetls: the encryption gateway did not take the message; try again later");
	return SMFIS_TEMPFAIL;
}

/* Send the copy; 0 when a gateway took it, else -1 with why. */
static int send_copy(cctx *c, const decision *d, relay_result *res, const char **why)
{
	const char *const *rcpts;
	relay_source src;
	char *subject = NULL, *sender;
	size_t n;
	int rc = -1;

	*why = msgcopy_error(c->copy);
	rcpts = msgcopy_rcpts(c->copy, &n);
	if (**why != '\0')
		return -1;
	if (n == 0) {
		*why = "no recipients";
		return -1;
	}
	if (c->subject != NULL && strips_subject(d) &&
	    (subject = mlfi_subject_stripped(c)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	if ((sender = msgcopy_bracketed(c->sender)) == NULL) {
		*why = "out of memory";
	} else if (msgcopy_source(c->copy, d, subject, &src) == 0) {
		rc = relay_send(c->snap->relay, sender, rcpts, n, &src, res);
		*why = *msgcopy_error(c->copy) != '\0' ? msgcopy_error(c->copy) : res->why;
	} else
		*why = msgcopy_error(c->copy);
	free(sender);
	free(subject);
	return rc;
}

sfsistat handoff(SMFICTX *ctx, cctx *c, const decision *d)
{
	const char *qid = queue_id(ctx);
	relay_result res;
	const char *why;
	char safe[RELAY_TEXT_MAX * 2];

	for (size_t i = 0; i < d->n; i++)
		if (d->a[i].kind == ACT_QUARANTINE || d->a[i].kind == ACT_REJECT)
			return defer(ctx, qid, d,
			             "a hold or reject decision on mail for the gateway");
	if (send_copy(c, d, &res, &why) < 0)
		return defer(ctx, qid, d, why);
	log_safe(res.reply, strlen(res.reply), safe, sizeof(safe));
	log_info("%s: %s relay=sent gateway=%s size=%" PRIu64 " spooled=%s reply=%s", qid,
	         d->summary, res.gateway, msgcopy_size(c->copy),
	         msgcopy_on_disk(c->copy) ? "yes" : "no", safe);
	stats_add(STAT_MESSAGES);
	stats_add(STAT_RELAYED);
	return SMFIS_DISCARD;
}
