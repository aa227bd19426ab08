/*
 * NAME
 *	inbound.c - TLS enforcement for listed clients (policy delegation)
 * SUMMARY
 *	inbound_decide(), inbound_snapshot_load(), inbound_snapshot_free()
 * DESCRIPTION
 *	SPEC section 3, inbound. The decision is libtlsmaps's
 *	tlsmaps_decide_inbound(), the same one forcetls-milter uses; this file
 *	only translates a policy delegation request into its session:
 *	- client_address, client_name, sender as Postfix sends them;
 *	- encryption_protocol (Postfix 3.7 sends it empty, and
 *	  encryption_keysize 0, in clear text) and encryption_keysize;
 *	- a verified certificate: Postfix sends ccert_subject only for a
 *	  trusted client certificate; it is the certificate's subject CN,
 *	  which verify and secure entries check (docs/tlsmaps.5, "Inbound
 *	  certificate names"); a trusted certificate without a CN arrives
 *	  as none at all;
 *	- digests: ccert_fingerprint and ccert_pubkey_fingerprint (an absent
 *	  attribute is "not given", an empty one "no certificate");
 *	- authenticated: sasl_username not empty;
 *	- internal: client_address in policyd.internal_networks.
 *	PASS answers DUNNO; REFUSE the configured inbound_reply (default a
 *	temporary "450 4.7.0", so the sender keeps the message; the reply says
 *	nothing about the table, the log names the entry); ERROR (an input
 *	that cannot be parsed) the strict INBOUND_TEMP_REPLY, never DUNNO.
 * DIAGNOSTICS
 *	One line per refusal: "QUEUEID: reject: client=NAME[ADDR] sender=<S>
 *	reason=... level=... entry=KEY (FILE:LINE)", and one per error:
 *	"QUEUEID: defer: client=NAME[ADDR] sender=<S> reason=... reply=451
 *	4.3.0". Untrusted text escaped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pmetrics.h"
#include "policyd.h"

int inbound_snapshot_load(snapshot *s)
{
	const char *const *items;
	size_t n = cfg_list(s->cfg, "policyd.internal_networks", &items);
	tlsmaps_options topt;
	unsigned nerrors = 0;

	tlsmaps_inbound_options_init(&s->inbound);
	s->inbound.exempt_internal = cfg_bool(s->cfg, "tables.inbound_exempt_internal");
	s->inbound.exempt_authenticated = cfg_bool(s->cfg, "tables.inbound_exempt_authenticated");
	tlsmaps_options_init(&topt);
	topt.report = log_report;
	s->internal = tlsmaps_networks_load(items, n, "policyd.internal_networks", &topt, &nerrors);
	if (s->internal == NULL) {
		log_errx("policyd.internal_networks: %u error%s", nerrors, nerrors == 1 ? "" : "s");
		return -1;
	}
	return 0;
}

void inbound_snapshot_free(snapshot *s)
{
	tlsmaps_table_free(s->internal);
	s->internal = NULL;
}

static int is_internal(const snapshot *s, const char *address)
{
	tlsmaps_addr a;
	tlsmaps_id id;

	return address != NULL && s->internal != NULL &&
	       tlsmaps_addr_parse(address, strlen(address), &a) == 0 &&
	       tlsmaps_lookup_addr(s->internal, &a, TLSMAPS_DIR_IN, &id) == TLSMAPS_FOUND;
}

static void session_of(const snapshot *snap, const policy_request *r, tlsmaps_session *s)
{
	memset(s, 0, sizeof(*s));
	s->client_address = r->client_address;
	s->client_name = r->client_name;
	s->sender = r->sender;
	s->tls_protocol = r->encryption_protocol;
	s->key_size = r->encryption_keysize;
	s->cert_verified = r->ccert_subject != NULL && *r->ccert_subject != '\0';
	/* Postfix's ccert_subject is the CN, sent only for a trusted certificate. */
	s->cert_cn = r->ccert_subject;
	s->digests[0] = r->ccert_fingerprint;
	s->digests[1] = r->ccert_pubkey_fingerprint;
	s->authenticated = r->sasl_username != NULL && *r->sasl_username != '\0';
	s->internal = is_internal(snap, r->client_address);
}

static const char *safe_or(const char *s, const char *none, char *buf, size_t len)
{
	return s != NULL ? log_safe(s, strlen(s), buf, len) : none;
}

static void log_verdict(const snapshot *snap, const policy_request *r,
                        const tlsmaps_inbound_result *v)
{
	const tlsmaps_table *t = snap->table;
	char qid[64], addrbuf[80], namebuf[300], senderbuf[600];
	const char *why = v->reason; /* escaped by libtlsmaps already (tlsmaps.h) */
	const char *q = r->queue_id != NULL && *r->queue_id ? r->queue_id : "NOQUEUE";
	/* An absent attribute is logged as its default, never as the buffer's old bytes. */
	const char *name = safe_or(r->client_name, "unknown", namebuf, sizeof(namebuf));
	const char *addr = safe_or(r->client_address, "", addrbuf, sizeof(addrbuf));
	const char *sender = safe_or(r->sender, "", senderbuf, sizeof(senderbuf));

	log_safe(q, strlen(q), qid, sizeof(qid));
	if (v->verdict == TLSMAPS_VERDICT_ERROR)
		log_info("%s: defer: client=%s[%s] sender=<%s> reason=%s reply=%s", qid, name, addr,
		         sender, why, INBOUND_TEMP_REPLY);
	else
		log_info(
		        "%s: reject: client=%s[%s] sender=<%s> reason=%s level=%s entry=%s (%s:%u)",
		        qid, name, addr, sender, why,
		        tlsmaps_level_name(tlsmaps_entry_level(t, v->id)),
		        tlsmaps_entry_key(t, v->id), tlsmaps_entry_file(t, v->id),
		        tlsmaps_entry_line(t, v->id));
}

void inbound_decide(policyd *d, const policy_request *r, char *action, size_t len)
{
	const snapshot *snap = d->snap;
	tlsmaps_session s;
	tlsmaps_inbound_result v;

	session_of(snap, r, &s);
	switch (tlsmaps_decide_inbound(snap->table, &s, &snap->inbound, &v)) {
	case TLSMAPS_VERDICT_PASS:
		d->stats.policy_dunno++;
		pmetrics_policy("dunno");
		snprintf(action, len, "DUNNO");
		return;
	case TLSMAPS_VERDICT_REFUSE:
		log_verdict(snap, r, &v);
		d->stats.policy_reject++;
		pmetrics_policy("reject");
		snprintf(action, len, "%s", snap->inbound_reply);
		return;
	case TLSMAPS_VERDICT_ERROR:
		break;
	}
	log_verdict(snap, r, &v);
	d->stats.temp++;
	pmetrics_policy("temp");
	snprintf(action, len, "%s", INBOUND_TEMP_REPLY);
}
