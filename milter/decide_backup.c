/*
 * NAME
 *	decide_backup.c - backup encryption: when the milter adds X-TLS-Backup
 * SUMMARY
 *	decide_backup(), decide_backup_check()
 * DESCRIPTION
 *	Forcepoint's "backup encryption" (issue 12): a table entry with
 *	on_tls_failure=gateway asks for the encryption gateway as the backup
 *	when mandatory TLS to the destination fails. On Postfix, X-TLSLevel:
 *	Require makes milter_header_checks FILTER the whole message to
 *	forcetls-require, past transport_maps; the backup header (default
 *	"X-TLS-Backup: gateway"), inserted right after X-TLSLevel and before
 *	the trigger, makes it FILTER to forcetls-backup instead (mandatory
 *	TLS, smtp_fallback_relay to the gateway's backup port). The last
 *	FILTER wins, so a flagged message still goes to the gateway.
 *
 *	The header is added only when all of this holds:
 *	- outbound mail (an internal or authenticated client): never inbound,
 *	  never the gateway's own mail (its backup port would get it back);
 *	- Postfix: Sendmail (or an MTA that did not say) cannot route on a
 *	  header, and has no per-destination fallback;
 *	- not relay mode's flagged mail: the milter hands it to the gateway;
 *	- X-TLSLevel: Require comes from the table alone: at least one
 *	  recipient forced, and no trusted Require header on the message (the
 *	  client asked for Require itself: it keeps the plain Require);
 *	- every forced recipient's entry says on_tls_failure=gateway. One that
 *	  defers, or a recipient whose domain cannot be parsed (counted as
 *	  forced, never as backup), and the message defers as before.
 *	Recipients the table does not force follow the message: mandatory TLS,
 *	backup to the gateway (Postfix routes the message, not the recipient).
 *
 *	Every copy of the backup header already on a message is deleted,
 *	whatever the direction (decide.c): only the milter's own decision
 *	counts.
 * DIAGNOSTICS
 *	None here: decide.c puts *why in the decision's summary.
 */
#include <stdio.h>
#include <strings.h>

#include "decide.h"

int decide_backup(const decide_config *c, const msg_state *m, int trusted, const char **why)
{
	*why = NULL;
	/* nbackup > 0: a recipient is forced, so X-TLSLevel is Require from the table */
	if (c->backup.name[0] == '\0' || m->dir != DIR_OUTBOUND || m->nbackup == 0)
		return 0;
	if (m->mta != MTA_POSTFIX)
		*why = "no (the MTA cannot route on a header)";
	else if (c->relay && m->flagged)
		*why = "no (relay mode hands the message to the gateway)";
	else if (trusted)
		*why = "no (a trusted Require header: it defers as asked)";
	else if (m->nbackup != m->nforced)
		*why = "no (a forced recipient defers)";
	else {
		*why = "gateway (every forced recipient: on_tls_failure=gateway)";
		return 1;
	}
	return 0;
}

int decide_backup_check(const decide_config *c, char *why, size_t whylen)
{
	const char *const others[] = {
	        c->tls_header,           c->encrypt.name, c->encrypt_success.name,
	        c->encrypt_failure.name, c->decrypt.name, c->decrypt_success.name,
	        c->decrypt_failure.name, "TLS-Required",  "Subject",
	        "Content-Type",
	};

	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (strcasecmp(c->backup.name, others[i]) == 0) {
			snprintf(why, whylen,
			         "milter.backup_header: the name %s is taken by another header "
			         "the milter reads or writes",
			         c->backup.name);
			return -1;
		}
	return 0;
}
