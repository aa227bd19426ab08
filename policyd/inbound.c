/*
 * NAME
 *	inbound.c - TLS enforcement for listed clients (policy delegation)
 * SUMMARY
 *	inbound_decide()
 * DESCRIPTION
 *	SPEC section 3, inbound. The client address, the client hostname
 *	(unless "unknown") and the sender's domain are looked up among the
 *	entries of direction in/both; the strictest match wins. When it is
 *	encrypt or stronger, the session must have:
 *	- TLS: encryption_protocol not empty (Postfix 3.7 sends it empty, and
 *	  encryption_keysize 0, in clear text);
 *	- encryption_keysize >= the entry's min_bits;
 *	- for verify and secure, a verified client certificate: Postfix sends
 *	  ccert_subject only for a trusted certificate;
 *	- for fingerprint, a presented certificate whose ccert_fingerprint or
 *	  ccert_pubkey_fingerprint is in the entry's match= list (compared
 *	  without colons, case-insensitively).
 *	A violation answers the configured inbound_reply (default a temporary
 *	"450 4.7.0", so the sender keeps the message). The reply says nothing
 *	about the table; the log names the entry. Everything else is DUNNO.
 * DIAGNOSTICS
 *	One line per rejection: "QUEUEID: reject: client=ADDR[NAME]
 *	sender=<S> reason=... entry=KEY (FILE:LINE)". Untrusted text escaped.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policyd.h"

static void consider(const tlsmaps_table *t, tlsmaps_status st, tlsmaps_id id, tlsmaps_id *best,
                     int *best_rank)
{
	int rank;

	if (st != TLSMAPS_FOUND) /* ERROR cannot be: keys were parsed first */
		return;
	rank = tlsmaps_level_rank(tlsmaps_entry_level(t, id));
	if (rank > *best_rank) {
		*best = id;
		*best_rank = rank;
	}
}

static void lookup_name(const tlsmaps_table *t, const char *name, tlsmaps_id *best, int *rank)
{
	tlsmaps_query q;
	tlsmaps_id id = TLSMAPS_NO_ID;
	tlsmaps_status st;

	if (name == NULL || *name == '\0' || strcmp(name, "unknown") == 0)
		return;
	if (tlsmaps_query_parse(name, strlen(name), &q, NULL, 0) < 0 ||
	    (q.kind != TLSMAPS_QUERY_NAME && q.kind != TLSMAPS_QUERY_LITERAL_NAME))
		return;
	st = tlsmaps_lookup_name(t, q.name, q.name_len, TLSMAPS_DIR_IN, &id);
	consider(t, st, id, best, rank);
}

/* Strip colons, uppercase: "ab:cd" and "ABCD" compare equal. */
static size_t digest_norm(const char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < outlen; i++)
		if (s[i] != ':')
			out[o++] = (char)toupper((unsigned char)s[i]);
	out[o] = '\0';
	return o;
}

static int fingerprint_listed(const tlsmaps_table *t, tlsmaps_id id, const policy_request *r)
{
	size_t len;
	const char *match = tlsmaps_entry_attr(t, id, "match", &len);
	const char *have[2] = {r->ccert_fingerprint, r->ccert_pubkey_fingerprint};

	if (match == NULL)
		return 0;
	for (int h = 0; h < 2; h++) {
		char want[256], got[256];
		size_t start = 0;

		if (have[h] == NULL || *have[h] == '\0')
			continue;
		digest_norm(have[h], strlen(have[h]), got, sizeof(got));
		for (size_t i = 0; i <= len; i++) {
			if (i == len || match[i] == '|') {
				digest_norm(match + start, i - start, want, sizeof(want));
				if (strcmp(want, got) == 0)
					return 1;
				start = i + 1;
			}
		}
	}
	return 0;
}

void inbound_decide(policyd *d, const policy_request *r, char *action, size_t len)
{
	const snapshot *s = d->snap;
	const tlsmaps_table *t = s->table;
	tlsmaps_id best = TLSMAPS_NO_ID, id = TLSMAPS_NO_ID;
	int rank = -1;
	const char *reason = NULL;
	char why[64];
	tlsmaps_level level;
	unsigned long bits = 0;

	if (r->client_address != NULL) {
		tlsmaps_addr a;

		if (tlsmaps_addr_parse(r->client_address, strlen(r->client_address), &a) == 0) {
			tlsmaps_status st = tlsmaps_lookup_addr(t, &a, TLSMAPS_DIR_IN, &id);

			consider(t, st, id, &best, &rank);
		}
	}
	lookup_name(t, r->client_name, &best, &rank);
	if (r->sender != NULL && strchr(r->sender, '@') != NULL)
		lookup_name(t, strrchr(r->sender, '@') + 1, &best, &rank);

	if (best == TLSMAPS_NO_ID || !tlsmaps_level_mandatory(tlsmaps_entry_level(t, best))) {
		d->stats.policy_dunno++;
		snprintf(action, len, "DUNNO");
		return;
	}
	level = tlsmaps_entry_level(t, best);
	if (r->encryption_keysize != NULL)
		bits = strtoul(r->encryption_keysize, NULL, 10);
	if (r->encryption_protocol == NULL || *r->encryption_protocol == '\0') {
		reason = "no TLS";
	} else if (bits < tlsmaps_entry_min_bits(t, best)) {
		snprintf(why, sizeof(why), "key size %lu below %u", bits,
		         tlsmaps_entry_min_bits(t, best));
		reason = why;
	} else if ((level == TLSMAPS_LEVEL_VERIFY || level == TLSMAPS_LEVEL_SECURE) &&
	           (r->ccert_subject == NULL || *r->ccert_subject == '\0')) {
		reason = "no verified client certificate";
	} else if (level == TLSMAPS_LEVEL_FINGERPRINT && !fingerprint_listed(t, best, r)) {
		reason = "client certificate fingerprint not listed";
	}
	if (reason == NULL) {
		d->stats.policy_dunno++;
		snprintf(action, len, "DUNNO");
		return;
	}
	{
		char qid[64], addr[80], name[300], sender[600];
		const char *q = r->queue_id != NULL && *r->queue_id ? r->queue_id : "NOQUEUE";

		log_info(
		        "%s: reject: client=%s[%s] sender=<%s> reason=%s level=%s entry=%s (%s:%u)",
		        log_safe(q, strlen(q), qid, sizeof(qid)),
		        r->client_name ? log_safe(r->client_name, strlen(r->client_name), name,
		                                  sizeof(name))
		                       : "unknown",
		        r->client_address ? log_safe(r->client_address, strlen(r->client_address),
		                                     addr, sizeof(addr))
		                          : "",
		        r->sender ? log_safe(r->sender, strlen(r->sender), sender, sizeof(sender))
		                  : "",
		        reason, tlsmaps_level_name(level), tlsmaps_entry_key(t, best),
		        tlsmaps_entry_file(t, best), tlsmaps_entry_line(t, best));
	}
	d->stats.policy_reject++;
	snprintf(action, len, "%s", s->inbound_reply);
}
