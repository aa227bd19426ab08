/*
 * NAME
 *	sendmail.c - Sendmail's access map, answered live over the socket map
 * SUMMARY
 *	sendmail_snapshot_load(), sendmail_snapshot_free(), sendmail_answer()
 * DESCRIPTION
 *	Sendmail 8.17's socket map class speaks Postfix's socketmap protocol
 *	(map.c, socket_map_lookup): it sends "NAME KEY", NAME being the map's
 *	name in its K line, KEY folded to lower case unless the K line has -f,
 *	and takes "OK value", "NOTFOUND ", "TEMP"/"TIMEOUT" (a temporary
 *	failure) and "PERM" (unavailable). Requests for policyd.sendmail_map_name
 *	(off by default: the map costs memory and load time; docs/COMPILE.md
 *	uses "access.forcetls") are answered here, from the access map that tlsmaps compile --format
 *	sendmail-access would write for the same table (libtlsmaps
 *	tlsmaps_smap_build(), the one mapping): "OK ENCR:128", "OK VERIFY:256",
 *	"OK OK", or "NOTFOUND ". Keys are whole access map keys
 *	("TLS_Rcpt:example.com", "TLS_Srv:192.0.2", ".example.com" forms
 *	included); Sendmail's rulesets do the walk over them, as they do over
 *	the hash map.
 *
 *	The map is built once per snapshot (in the reload thread, with the
 *	table), so a reload swaps it with the table, and a table that does
 *	not load leaves the old map answering.
 *
 *	TLS_Clt keys are answered only when policyd.sendmail_inbound is on;
 *	by default forcetls-milter enforces inbound TLS on Sendmail, and the
 *	map holds no TLS_Clt lines (NOTFOUND, so the admin's own entries
 *	still apply).
 *
 *	Failures answer TEMP, never NOTFOUND or PERM: chained as Sendmail
 *	must chain it (a switch map with -T<TMPF>, docs/COMPILE.md), TEMP is
 *	a temporary failure of the recipient, while PERM would read as "not
 *	found" there and let mail go out in clear.
 * DIAGNOSTICS
 *	With policyd.log_lookups, one line per lookup: "sendmail KEY (NAME):
 *	RHS" or "... not found". A bad setting is logged by
 *	sendmail_snapshot_load(), which then returns -1.
 * SEE ALSO
 *	socketmap.c, tlsmaps_sendmail.h, docs/COMPILE.md, forcetls-policyd(8)
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "policyd.h"
#include "tlsmaps_sendmail.h"

int sendmail_snapshot_load(snapshot *s)
{
	const char *name = cfg_str(s->cfg, "policyd.sendmail_map_name");
	char where[512];

	s->sendmail_map_name = name;
	if (*name == '\0')
		return 0; /* off */
	if (strchr(name, ' ') != NULL || strcmp(name, s->map_name) == 0 ||
	    strcmp(name, s->require_map_name) == 0) {
		log_errx("%s: policyd.sendmail_map_name: expected one word, not the name of "
		         "another map",
		         cfg_where(s->cfg, "policyd.sendmail_map_name", where, sizeof(where)));
		return -1;
	}
	s->smap = tlsmaps_smap_build(
	        s->table, cfg_bool(s->cfg, "policyd.sendmail_inbound") ? 0 : TLSMAPS_SMAP_NO_CLT,
	        NULL, NULL);
	if (s->smap == NULL) {
		log_errx("policyd.sendmail_map_name: out of memory building the access map");
		return -1;
	}
	return 0;
}

void sendmail_snapshot_free(snapshot *s)
{
	tlsmaps_smap_free(s->smap);
	s->smap = NULL;
}

/* The reply for one key of policyd.sendmail_map_name, into reply (at least 64 bytes). */
size_t sendmail_answer(policyd *d, const char *key, size_t len, char *reply, size_t rlen)
{
	const snapshot *s = d->snap;
	char rhs[TLSMAPS_SMAP_RHS_MAX], safe[TLSMAPS_KEY_MAX + 64];

	if (s == NULL || s->smap == NULL) { /* cannot happen: the name is not served then */
		d->stats.temp++;
		return (size_t)snprintf(reply, rlen, "TEMP no access map loaded");
	}
	if (tlsmaps_smap_lookup(s->smap, key, len, rhs, sizeof(rhs)) == NULL) {
		d->stats.sendmail_notfound++;
		if (s->log_lookups)
			log_info("sendmail %s (%s): not found",
			         log_safe(key, len, safe, sizeof(safe)), s->sendmail_map_name);
		return (size_t)snprintf(reply, rlen, "NOTFOUND ");
	}
	d->stats.sendmail_ok++;
	if (s->log_lookups)
		log_info("sendmail %s (%s): %s", log_safe(key, len, safe, sizeof(safe)),
		         s->sendmail_map_name, rhs);
	return (size_t)snprintf(reply, rlen, "OK %s", rhs);
}
