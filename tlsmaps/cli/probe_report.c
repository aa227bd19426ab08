/*
 * NAME
 *	probe_report.c - tlsmaps probe: the results, as text or JSON Lines
 * SUMMARY
 *	probe_print_dest()
 * DESCRIPTION
 *	Text: one block per destination, a line "KEY POLICY FILE:LINE:
 *	VERDICT[: reason]" and one indented line per address: host,
 *	[address]:port, MX preference, what the session got (STARTTLS, protocol,
 *	cipher, bits, verification, name match, fingerprint) or why it failed,
 *	and the address's verdict.
 *
 *	--json: one object per address instead (JSON Lines), each carrying the
 *	destination's members too, or one per destination that has no address
 *	to show. stdout is flushed after each destination, so a long run shows
 *	its progress.
 * DIAGNOSTICS
 *	None: write errors are found by the caller's final fflush().
 * SEE ALSO
 *	cmd_probe.c, probe.h, jsonw.h, tlsmaps(1)
 */
#include <stdio.h>

#include <openssl/x509.h>

#include "jsonw.h"
#include "probe.h"

static const char *const verdict_names[] = {"pass", "FAIL", "unreachable", "skipped"};
static const char *const verdict_json[] = {"pass", "fail", "unreachable", "skipped"};

static void print_text_host(const host_report *h)
{
	const smtp_probe_result *r = &h->r;

	fputs("  ", stdout);
	if (h->tg->name[0] != '\0')
		fputs(h->tg->name, stdout);
	if (h->addr[0] != '\0')
		printf("[%s]:%u", h->addr, h->port);
	else
		printf(":%u", h->port);
	if (h->tg->pref >= 0)
		printf(" (MX %d)", h->tg->pref);
	fputs(": ", stdout);
	if (r->stage == SMTP_PROBE_TLS) {
		printf("STARTTLS offered; %s %s %d bits; verify: %s; name match: ", r->protocol,
		       r->cipher, r->bits,
		       r->cert == NULL ? "no certificate"
		                       : X509_verify_cert_error_string(r->verify));
		if (h->name_match)
			printf("yes (%s)", h->matched);
		else
			printf("no (%s)", h->checked);
		if (h->fp_match >= 0)
			printf("; fingerprint %s: %s", h->fingerprint,
			       h->fp_match ? "match" : "no match");
	} else {
		fputs(r->why, stdout);
	}
	printf("; %s", verdict_names[h->v]);
	if (h->reason[0] != '\0')
		printf(": %s", h->reason);
	putchar('\n');
}

static void json_head(const dest_report *d)
{
	putchar('{');
	jsonw_member_str(stdout, 1, "destination", tlsmaps_entry_key(d->t, d->id));
	jsonw_member_str(stdout, 0, "level", tlsmaps_level_name(d->level));
	jsonw_member_str(stdout, 0, "policy", d->policy);
	jsonw_member_uint(stdout, 0, "min_bits", tlsmaps_entry_min_bits(d->t, d->id));
	jsonw_member_str(stdout, 0, "file", tlsmaps_entry_file(d->t, d->id));
	jsonw_member_uint(stdout, 0, "line", tlsmaps_entry_line(d->t, d->id));
	jsonw_member_str(stdout, 0, "destination_result", verdict_json[d->v]);
	if (d->reason[0] != '\0')
		jsonw_member_str(stdout, 0, "destination_reason", d->reason);
}

static void print_json_host(const dest_report *d, const host_report *h)
{
	const smtp_probe_result *r = &h->r;

	json_head(d);
	jsonw_member_str(stdout, 0, "host", h->tg->name);
	if (h->tg->pref >= 0)
		jsonw_member_uint(stdout, 0, "mx_preference", (unsigned long)h->tg->pref);
	jsonw_member_str(stdout, 0, "address", h->addr);
	jsonw_member_uint(stdout, 0, "port", h->port);
	jsonw_member_bool(stdout, 0, "reachable", h->v != VERDICT_UNREACHABLE);
	jsonw_member_bool(stdout, 0, "starttls", r->stage >= SMTP_PROBE_STARTTLS_REFUSED);
	jsonw_member_bool(stdout, 0, "tls", r->stage == SMTP_PROBE_TLS);
	if (r->stage == SMTP_PROBE_TLS) {
		jsonw_member_str(stdout, 0, "protocol", r->protocol);
		jsonw_member_str(stdout, 0, "cipher", r->cipher);
		jsonw_member_uint(stdout, 0, "bits", (unsigned long)(r->bits < 0 ? 0 : r->bits));
		jsonw_member_str(stdout, 0, "verify",
		                 r->cert == NULL ? "no certificate"
		                                 : X509_verify_cert_error_string(r->verify));
		jsonw_member_bool(stdout, 0, "verified", r->cert != NULL && r->verify == X509_V_OK);
		jsonw_member_bool(stdout, 0, "name_match", h->name_match);
		jsonw_member_str(stdout, 0, "names_checked", h->checked);
		if (h->name_match)
			jsonw_member_str(stdout, 0, "name_matched", h->matched);
		if (h->fingerprint[0] != '\0')
			jsonw_member_str(stdout, 0, "cert_sha256", h->fingerprint);
		if (h->fp_match >= 0)
			jsonw_member_bool(stdout, 0, "fingerprint_match", h->fp_match);
	} else {
		jsonw_member_str(stdout, 0, "error", r->why);
	}
	jsonw_member_str(stdout, 0, "result", verdict_json[h->v]);
	if (h->reason[0] != '\0')
		jsonw_member_str(stdout, 0, "reason", h->reason);
	fputs("}\n", stdout);
}

void probe_print_dest(const probe_opts *o, const dest_report *d)
{
	if (o->json) {
		for (size_t i = 0; i < d->nhosts; i++)
			print_json_host(d, &d->hosts[i]);
		if (d->nhosts == 0) {
			json_head(d);
			fputs("}\n", stdout);
		}
	} else {
		printf("%s %s %s:%u: %s", tlsmaps_entry_key(d->t, d->id), d->policy,
		       tlsmaps_entry_file(d->t, d->id), tlsmaps_entry_line(d->t, d->id),
		       verdict_names[d->v]);
		if (d->reason[0] != '\0')
			printf(": %s", d->reason);
		putchar('\n');
		for (size_t i = 0; i < d->nhosts; i++)
			print_text_host(&d->hosts[i]);
	}
	fflush(stdout);
}
