/*
 * NAME
 *	probe.h - tlsmaps probe internals: destinations, hosts and verdicts
 * SUMMARY
 *	#include "probe.h"
 * DESCRIPTION
 *	The types the parts of tlsmaps probe share: a destination (one table
 *	entry and everything probed for it), its hosts (targets), one report
 *	per probed address, and the verdicts. cmd_probe.c parses the command
 *	line and probes each destination; probe_dns.c finds MX hosts;
 *	probe_judge.c judges one SMTP session against the entry;
 *	probe_report.c prints the results.
 * SEE ALSO
 *	cmd_probe.c, smtp_probe.h
 */
#ifndef PROBE_H
#define PROBE_H

#include <netinet/in.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "smtp_probe.h"
#include "tlsmaps.h"

#define PROBE_MX_MAX 16    /* MX hosts probed per domain */
#define PROBE_ADDR_MAX 8   /* addresses probed per host */
#define PROBE_NAMES_MAX 16 /* names checked against a certificate */
#define PROBE_HOST_MAX (TLSMAPS_NAME_MAX + 2)
#define PROBE_NAME_BUF (PROBE_HOST_MAX + 1) /* ".nexthop" */
#define PROBE_CHECKED_MAX 384
#define PROBE_REASON_MAX 512
#define PROBE_TIMEOUT_DEFAULT 10

typedef struct {
	unsigned timeout;
	unsigned port; /* for destinations without a port: 25 or --port */
	int json;
	const char *helo;
	SSL_CTX *ctx;
} probe_opts;

typedef enum { VERDICT_PASS = 0, VERDICT_FAIL, VERDICT_UNREACHABLE, VERDICT_SKIPPED } verdict;

/* One host of a destination, as the MX lookup or the key names it. */
typedef struct {
	int pref;                  /* MX preference, -1 when not from an MX record */
	char name[PROBE_HOST_MAX]; /* "" for an address next hop */
} target;

/* One probed address (or a host without addresses). */
typedef struct {
	const target *tg;
	char addr[INET6_ADDRSTRLEN]; /* "" when the host has no address */
	unsigned port;
	smtp_probe_result r; /* meaningful when addr is set */
	int name_match;
	char matched[PROBE_NAME_BUF];          /* the name that matched */
	char checked[PROBE_CHECKED_MAX];       /* names checked, ", "-separated */
	int fp_match;                          /* -1: not a fingerprint level */
	char fingerprint[3 * EVP_MAX_MD_SIZE]; /* certificate sha256, "AA:BB:..." */
	verdict v;
	char reason[PROBE_REASON_MAX];
} host_report;

/* One destination: a table entry and everything probed for it. */
typedef struct {
	const tlsmaps_table *t;
	tlsmaps_id id;
	tlsmaps_level level;
	char policy[TLSMAPS_POLICY_MAX];
	char nexthop[PROBE_HOST_MAX]; /* name for "nexthop" in match=: domain or [host] */
	target *targets;
	size_t ntargets;
	host_report *hosts;
	size_t nhosts, cap;
	verdict v;
	char reason[PROBE_REASON_MAX];
} dest_report;

/*
 * The MX hosts of domain, sorted by preference (equal preferences keep DNS
 * order). 1 with *n hosts (0 for a null MX), 0 when the domain has no MX
 * records, -1 with why on NXDOMAIN or a DNS failure (probe_dns.c).
 */
int probe_mx_lookup(const char *domain, target **out, size_t *n, char *why, size_t len);

/* Judge one probed address against the destination's entry (probe_judge.c). */
void probe_judge(const dest_report *d, host_report *h);

/* Append printf(fmt, s) to the string in buf, within len bytes. */
void probe_append(char *buf, size_t len, const char *fmt, const char *s);

/* Print one destination, as text or JSON Lines (probe_report.c). */
void probe_print_dest(const probe_opts *o, const dest_report *d);

#endif
