/*
 * NAME
 *	transport.c - Postfix transport_maps: the backup route for on_tls_failure=gateway
 * SUMMARY
 *	transport_snapshot_load(), transport_answer() (declared in policyd.h)
 * DESCRIPTION
 *	Forcepoint's "backup encryption" (issue 12, tlsmaps(5) on_tls_failure=):
 *	mail to a destination whose entry says on_tls_failure=gateway goes
 *	through policyd.backup_transport ("forcetls-backup:", the transport of
 *	examples/postfix/master.cf.forcetls: mandatory TLS to the MX, else the
 *	smtp_fallback_relay, the gateway's backup port). Postfix asks for it
 *	with "transport_maps = socketmap:...:NAME", NAME being
 *	policyd.transport_map_name.
 *
 *	The keys: Postfix's socketmap client is a pattern table
 *	(dict_sockmap.c sets DICT_FLAG_PATTERN: "Don't look up parent domains
 *	or network superblocks"), so of transport(5)'s search order
 *	(user+ext@domain, user@domain, domain, ".parent" forms, "*")
 *	trivial-rewrite sends it only the full addresses and "*" (seen in
 *	Postfix 3.7, tests/e2e/t-backup.sh). The answers:
 *
 *	- "user@domain": the domain after the last '@' decided
 *	  (tlsmaps_lookup_name, outbound: the exact entry, else the nearest
 *	  parent) by an entry of encrypt or stronger whose
 *	  tlsmaps_entry_on_tls_failure() is GATEWAY: "OK " backup_transport;
 *	  else NOTFOUND, so the admin's own transport maps and defaults still
 *	  apply. An address literal domain ("user@[192.0.2.7]"): NOTFOUND
 *	  (only domain entries can take the gateway);
 *	- "*": NOTFOUND;
 *	- a bare "domain" or ".parent" key (postmap -q, or a map that does
 *	  send them) answers as the static map of tlsmaps compile --format
 *	  postfix-transport holds it: the backup transport for a key decided
 *	  by a gateway entry (a ".parent" key matches parent entries only);
 *	  "OK :" (transport(5): keep the default transport and next hop) for a
 *	  key decided by another entry when a later ".parent" key would answer
 *	  the gateway, so "sub.bank.example" under ".bank.example
 *	  on_tls_failure=gateway" defers as its own entry says; else NOTFOUND;
 *	- a key that does not parse, an empty domain, or a name with a port:
 *	  TEMP. trivial-rewrite then cannot resolve the address: smtpd answers
 *	  451 4.3.0 and queued mail is deferred (fail closed).
 * DIAGNOSTICS
 *	With policyd.log_lookups, one line per lookup, as outbound.c's:
 *	"lookup KEY (NAME): VALUE (FILE:LINE ENTRY)" or "... not found".
 *	A malformed key is logged always. A bad setting is logged by
 *	transport_snapshot_load(), which then returns -1.
 * SEE ALSO
 *	socketmap.c, outbound.c, forcetls-policyd(8), transport(5)
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "policyd.h"

static int one_word(const char *s)
{
	return *s != '\0' && strpbrk(s, " \t\r\n") == NULL;
}

int transport_snapshot_load(snapshot *s)
{
	const char *name = cfg_str(s->cfg, "policyd.transport_map_name");
	const char *value = cfg_str(s->cfg, "policyd.backup_transport");
	char where[512];

	s->transport_map_name = name;
	s->backup_transport = value;
	if (!one_word(name) || strcmp(name, s->map_name) == 0 ||
	    strcmp(name, s->require_map_name) == 0 ||
	    strcmp(name, cfg_str(s->cfg, "policyd.sendmail_map_name")) == 0) {
		log_errx("%s: policyd.transport_map_name: expected one word, not the name of "
		         "another map",
		         cfg_where(s->cfg, "policyd.transport_map_name", where, sizeof(where)));
		return -1;
	}
	if (!one_word(value) || value[0] == ':' || strchr(value, ':') == NULL ||
	    strlen(value) > TLSMAPS_KEY_MAX) {
		log_errx("%s: policyd.backup_transport: expected a transport(5) value "
		         "TRANSPORT:NEXTHOP, such as \"forcetls-backup:\"",
		         cfg_where(s->cfg, "policyd.backup_transport", where, sizeof(where)));
		return -1;
	}
	return 0;
}

static int gateway(const tlsmaps_table *t, tlsmaps_id id)
{
	return tlsmaps_entry_on_tls_failure(t, id) == TLSMAPS_TLSFAIL_GATEWAY;
}

static size_t reply_temp(policyd *d, const char *safe, const char *why, char *reply, size_t rlen)
{
	int n;

	ratelog_warnx(&d->bad[BAD_TRANSPORT_KEY], "lookup %s (%s): malformed key: %s", safe,
	              d->snap->transport_map_name, why);
	d->stats.malformed++;
	d->stats.temp++;
	n = snprintf(reply, rlen, "TEMP malformed key: %s", why);
	return (size_t)n < rlen ? (size_t)n : rlen - 1;
}

size_t transport_answer(policyd *d, const char *key, size_t len, char *reply, size_t rlen)
{
	const snapshot *s = d->snap;
	const tlsmaps_table *t = s->table;
	char safe[TLSMAPS_KEY_MAX * 4 + 8], why[TLSMAPS_WHY_MAX];
	const char *dom = key;
	size_t dlen = len;
	int address = 0;
	tlsmaps_query q;
	tlsmaps_id id;
	tlsmaps_status st;
	int n;

	log_safe(key, len, safe, sizeof(safe));
	if (len == 1 && key[0] == '*')
		goto notfound;
	for (size_t i = len; i > 0; i--)
		if (key[i - 1] == '@') { /* an address: its domain */
			address = 1;
			dom = key + i;
			dlen = len - i;
			break;
		}
	if (dlen == 0 || tlsmaps_query_parse(dom, dlen, &q, why, sizeof(why)) < 0)
		return reply_temp(d, safe, dlen == 0 ? "empty domain" : why, reply, rlen);
	if (q.port != 0 || (address && q.kind == TLSMAPS_QUERY_PARENT))
		return reply_temp(d, safe, "not a domain", reply, rlen);
	if (q.kind != TLSMAPS_QUERY_NAME && q.kind != TLSMAPS_QUERY_PARENT)
		goto notfound;
	st = tlsmaps_lookup_name(t, q.name, q.name_len, TLSMAPS_DIR_OUT, &id);
	if (st == TLSMAPS_ERROR) {
		log_warnx("lookup %s (%s): lookup error", safe, s->transport_map_name);
		d->stats.temp++;
		return (size_t)snprintf(reply, rlen, "TEMP lookup error");
	}
	if (st != TLSMAPS_FOUND)
		goto notfound;
	if (gateway(t, id) || (!address && tlsmaps_backup_parent(t, q.name, q.name_len))) {
		const char *value = gateway(t, id) ? s->backup_transport : ":";

		if (s->log_lookups)
			log_info("lookup %s (%s): %s (%s:%u %s on_tls_failure=%s)%s", safe,
			         s->transport_map_name, value, tlsmaps_entry_file(t, id),
			         tlsmaps_entry_line(t, id), tlsmaps_entry_key(t, id),
			         tlsmaps_tls_failure_name(tlsmaps_entry_on_tls_failure(t, id)),
			         *value == ':' ? ", the default transport: a parent entry asks for "
			                         "the gateway"
			                       : "");
		n = snprintf(reply, rlen, "OK %s", value);
		return (size_t)n < rlen ? (size_t)n : rlen - 1;
	}
	d->stats.notfound++;
	if (s->log_lookups)
		log_info("lookup %s (%s): not found, on_tls_failure=defer (%s:%u %s)", safe,
		         s->transport_map_name, tlsmaps_entry_file(t, id),
		         tlsmaps_entry_line(t, id), tlsmaps_entry_key(t, id));
	return (size_t)snprintf(reply, rlen, "NOTFOUND ");
notfound:
	d->stats.notfound++;
	if (s->log_lookups)
		log_info("lookup %s (%s): not found", safe, s->transport_map_name);
	return (size_t)snprintf(reply, rlen, "NOTFOUND ");
}
