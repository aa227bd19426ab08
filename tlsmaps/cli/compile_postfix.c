/*
 * NAME
 *	compile_postfix.c - tlsmaps compile for Postfix: policy map and client cidr
 * SUMMARY
 *	tlsmaps compile --format postfix-policy TABLE...
 *	tlsmaps compile --format postfix-client-cidr TABLE...
 *	tlsmaps compile --format postfix-transport [--on-tls-failure defer|gateway]
 *		[--backup-transport VALUE] TABLE...
 * DESCRIPTION
 *	postfix-policy is the source of a static smtp_tls_policy_maps table,
 *	for "postmap lmdb:FILE" or "postmap hash:FILE". Every entry visible
 *	outbound (direction=out or both) of kind domain, parent or next hop
 *	gives one line "KEY<TAB>POLICY", in table order:
 *
 *	- KEY is the canonical key text: "example.com", ".example.com" (Postfix
 *	  itself asks for ".b.c", then ".c", after a NOTFOUND for "a.b.c"),
 *	  "[mx.example.com]", "[mx.example.com]:587", "[192.0.2.7]".
 *	- POLICY is what forcetls-policyd answers after "OK" (tlsmaps_policy()):
 *	  the level and the Postfix attributes; direction= is dropped and
 *	  min_bits above 128 becomes ciphers=high.
 *
 *	So "postmap -q KEY lmdb:FILE" answers what "tlsmaps lookup TABLE KEY"
 *	answers for every such key. Not compiled, and listed on err:
 *
 *	- outbound network entries: they match the MX hosts of a destination,
 *	  which takes DNS at delivery time (forcetls-policyd over socketmap);
 *	- inbound-only entries (direction=in): they belong to
 *	  postfix-client-cidr or to forcetls-policyd's policy delegation.
 *
 *	postfix-client-cidr is a cidr: table for "check_client_access
 *	cidr:/etc/postfix/forcetls-clients.cidr". Its lines are the network
 *	entries visible inbound (direction=in or both), IPv4 and IPv6,
 *	written "ADDRESS/PREFIX<TAB>VALUE":
 *
 *	- A Postfix cidr: table answers the FIRST match in file order; ours
 *	  answers the longest prefix. Lines are therefore sorted by prefix
 *	  length, longest first, ties in table order: the first match is then
 *	  the longest prefix.
 *	- VALUE is the restriction class "forcetls_require_tls" for a mandatory
 *	  level (encrypt and stronger), and "DUNNO" for none, may and dane
 *	  (no inbound requirement). DUNNO stops the cidr scan, so a longer
 *	  exception beats the broader rule around it. The class is defined in
 *	  main.cf as "forcetls_require_tls = reject_plaintext_session"
 *	  (examples/postfix/main.cf.client-cidr).
 *
 *	postfix-transport is the static form of forcetls-policyd's
 *	policyd.transport_map_name (policyd/transport.c), for "transport_maps =
 *	lmdb:/etc/postfix/forcetls-transport". Postfix asks transport_maps for
 *	user@domain, then domain, then each ".parent" form; the map holds, for
 *	every outbound domain or parent entry, in table order:
 *
 *	- "KEY<TAB>BACKUP" when its on_tls_failure is gateway (set on the
 *	  entry, or the table default --on-tls-failure, as tables.on_tls_failure);
 *	  BACKUP is --backup-transport, "forcetls-backup:" by default;
 *	- "KEY<TAB>:" when it defers but a parent entry Postfix would reach
 *	  after it asks for the gateway: ":" keeps Postfix's default transport
 *	  (transport(5)), so the entry defers as it says;
 *	- nothing otherwise. Address and next-hop entries can never take the
 *	  gateway (a load error), so nothing is listed on err.
 *
 *	Listed on err: entries needing a verified client certificate
 *	(fingerprint, verify, secure) and entries with an explicit
 *	min_bits above 128: both are compiled as forcetls_require_tls, which
 *	only requires TLS; and inbound domain and parent entries (client
 *	hostname, sender domain), which are not compiled. Entries that apply
 *	to outbound mail only are not part of this map; the output header
 *	says how many there are.
 * DIAGNOSTICS
 *	err lines are "FILE:LINE: KEY: reason". Both functions return the
 *	number of entries listed on err, or -1 on a write error.
 * SEE ALSO
 *	compile.h, docs/COMPILE.md, postmap(1), cidr_table(5),
 *	postconf(5) smtp_tls_policy_maps, reject_plaintext_session
 */
#include <stdlib.h>
#include <string.h>

#include "compile.h"

#define CLIENT_CLASS "forcetls_require_tls"

static void report(FILE *err, const tlsmaps_table *t, tlsmaps_id id, const char *reason)
{
	fprintf(err, "%s:%u: %s: %s\n", tlsmaps_entry_file(t, id), tlsmaps_entry_line(t, id),
	        tlsmaps_entry_key(t, id), reason);
}

static int finish(FILE *out, FILE *err, int n)
{
	if (fflush(out) != 0 || ferror(out) || fflush(err) != 0 || ferror(err))
		return -1;
	return n;
}

/*
 * "KEY<TAB>VALUE", and for a domain key with A-labels the same line for its
 * U-label form: with smtputf8_enable = yes Postfix looks up the domain of a
 * UTF-8 address ("bücher.example") as it is, and the A-label line alone
 * would not match it. 1 when the key does not convert (reported), else 0.
 */
static int put_line(const tlsmaps_table *t, tlsmaps_id id, const char *value, FILE *out, FILE *err)
{
	const char *key = tlsmaps_entry_key(t, id);
	tlsmaps_kind kind = tlsmaps_entry_kind(t, id);
	char ulabel[TLSMAPS_KEY_MAX * 4 + 1];
	int rc = 0;

	fprintf(out, "%s\t%s\n", key, value);
	if (kind == TLSMAPS_KIND_DOMAIN || kind == TLSMAPS_KIND_PARENT)
		rc = tlsmaps_name_ulabel(key, ulabel, sizeof(ulabel));
	if (rc > 0)
		fprintf(out, "%s\t%s\n", ulabel, value);
	if (rc < 0)
		report(err, t, id, "no U-label form; UTF-8 addresses will not match it");
	return rc < 0;
}

int compile_postfix_policy(const tlsmaps_table *t, FILE *out, FILE *err)
{
	size_t count = tlsmaps_table_count(t);
	char policy[TLSMAPS_POLICY_MAX];
	int n = 0;

	fputs("# smtp_tls_policy_maps source, generated by tlsmaps compile --format "
	      "postfix-policy.\n"
	      "# Do not edit: edit the forced-TLS table, recompile, then postmap lmdb:FILE.\n",
	      out);
	for (tlsmaps_id id = 0; id < count; id++) {
		tlsmaps_kind kind = tlsmaps_entry_kind(t, id);

		if (!(tlsmaps_entry_direction(t, id) & TLSMAPS_DIR_OUT)) {
			report(err, t, id, "inbound-only entry; see --format postfix-client-cidr");
			n++;
			continue;
		}
		if (kind == TLSMAPS_KIND_NETWORK) {
			report(err, t, id,
			       "address entries need forcetls-policyd (socketmap); not compiled");
			n++;
			continue;
		}
		if (tlsmaps_policy(t, id, policy, sizeof(policy)) < 0) {
			report(err, t, id, "policy text too long; not compiled");
			n++;
			continue;
		}
		n += put_line(t, id, policy, out, err);
	}
	return finish(out, err, n);
}

static int gateway(const tlsmaps_table *t, tlsmaps_id id)
{
	return tlsmaps_entry_on_tls_failure(t, id) == TLSMAPS_TLSFAIL_GATEWAY;
}

int compile_postfix_transport(const tlsmaps_table *t, const char *backup, FILE *out, FILE *err)
{
	size_t count = tlsmaps_table_count(t);
	int n = 0;

	fputs("# transport_maps source, generated by tlsmaps compile --format "
	      "postfix-transport.\n"
	      "# Destinations with on_tls_failure=gateway go to the backup transport; \":\" "
	      "keeps\n"
	      "# Postfix's default for an entry that defers under such a parent. Do not edit:\n"
	      "# edit the forced-TLS table, recompile, then postmap lmdb:FILE.\n",
	      out);
	for (tlsmaps_id id = 0; id < count; id++) {
		tlsmaps_kind kind = tlsmaps_entry_kind(t, id);
		const char *key = tlsmaps_entry_key(t, id);

		if (!(tlsmaps_entry_direction(t, id) & TLSMAPS_DIR_OUT) ||
		    (kind != TLSMAPS_KIND_DOMAIN && kind != TLSMAPS_KIND_PARENT))
			continue;
		if (gateway(t, id))
			n += put_line(t, id, backup, out, err);
		else if (tlsmaps_backup_parent(t, key, strlen(key)))
			n += put_line(t, id, ":", out, err);
	}
	return finish(out, err, n);
}

/* Inbound network entries, ordered for a first-match cidr: table. */
typedef struct {
	tlsmaps_id id;
	unsigned prefix;
} cidr_line;

static int cidr_cmp(const void *a, const void *b)
{
	const cidr_line *x = a, *y = b;

	if (x->prefix != y->prefix)
		return x->prefix > y->prefix ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

int compile_postfix_client_cidr(const tlsmaps_table *t, FILE *out, FILE *err)
{
	size_t count = tlsmaps_table_count(t), nlines = 0, outbound_only = 0;
	char addr[TLSMAPS_ADDR_STR_MAX];
	cidr_line *lines;
	int n = 0;

	if ((lines = calloc(count ? count : 1, sizeof(*lines))) == NULL)
		return -1;
	for (tlsmaps_id id = 0; id < count; id++) {
		tlsmaps_level level = tlsmaps_entry_level(t, id);
		tlsmaps_addr a;

		if (!(tlsmaps_entry_direction(t, id) & TLSMAPS_DIR_IN)) {
			outbound_only++;
			continue;
		}
		if (tlsmaps_entry_kind(t, id) != TLSMAPS_KIND_NETWORK) {
			report(err, t, id,
			       "client hostname / sender domain entries need forcetls-policyd "
			       "(policy delegation); not compiled");
			n++;
			continue;
		}
		if (tlsmaps_level_mandatory(level) &&
		    (tlsmaps_level_needs_cert(level) || (tlsmaps_entry_min_bits_explicit(t, id) &&
		                                         tlsmaps_entry_min_bits(t, id) > 128))) {
			report(err, t, id,
			       "certificate/key-size requirement needs forcetls-policyd; "
			       "compiled as TLS-required only");
			n++;
		}
		lines[nlines].id = id;
		tlsmaps_entry_network(t, id, &a, &lines[nlines].prefix);
		nlines++;
	}
	qsort(lines, nlines, sizeof(*lines), cidr_cmp);

	fputs("# check_client_access cidr: table, generated by tlsmaps compile --format "
	      "postfix-client-cidr.\n"
	      "# Postfix takes the FIRST matching line: networks are listed longest prefix "
	      "first,\n"
	      "# so the most specific entry wins, as in the table. Do not edit or reorder.\n"
	      "# " CLIENT_CLASS ": smtpd_restriction_classes = " CLIENT_CLASS ",\n"
	      "#     " CLIENT_CLASS " = reject_plaintext_session (main.cf).\n",
	      out);
	if (outbound_only > 0)
		fprintf(out,
		        "# %zu outbound-only entr%s not part of this map (see --format "
		        "postfix-policy).\n",
		        outbound_only, outbound_only == 1 ? "y is" : "ies are");
	for (size_t i = 0; i < nlines; i++) {
		tlsmaps_id id = lines[i].id;
		tlsmaps_addr a;
		unsigned prefix;

		tlsmaps_entry_network(t, id, &a, &prefix);
		tlsmaps_addr_format(&a, addr, sizeof(addr));
		fprintf(out, "# %s:%u %s %s\n%s/%u\t%s\n", tlsmaps_entry_file(t, id),
		        tlsmaps_entry_line(t, id), tlsmaps_entry_key(t, id),
		        tlsmaps_level_name(tlsmaps_entry_level(t, id)), addr, prefix,
		        tlsmaps_level_mandatory(tlsmaps_entry_level(t, id)) ? CLIENT_CLASS
		                                                            : "DUNNO");
	}
	free(lines);
	return finish(out, err, n);
}
