/*
 * NAME
 *	pmetrics.c - forcetls-policyd's metrics: what it counts, and the dump
 * SUMMARY
 *	pmetrics_init(), pmetrics_reply(), pmetrics_policy(),
 *	pmetrics_decision(), pmetrics_dns(), pmetrics_start(), pmetrics_stop(),
 *	pmetrics_dump()
 * DESCRIPTION
 *	See pmetrics.h; the metrics are listed in forcetls-policyd(8). Every
 *	label set is registered at start, so every series is there from the
 *	first scrape, at 0.
 *
 *	Choices: requests_total counts replies sent (a request that times out
 *	gets server.c's TEMP, not counted here); a socketmap reply's result is
 *	its first word in lower case (ok, notfound, temp, timeout, perm).
 *	decisions_total counts outbound answers of the two TLS policy maps:
 *	level is the level answered ("default" for NOTFOUND), source the kind
 *	of entry that decided it: literal ([host] entries), domain (domain and
 *	parent-domain entries), network (address entries, for an address
 *	literal or the addresses DNS gave), none.
 *
 *	The metrics listener is a thread of common/metrics.c, not the event
 *	loop: a scrape never takes a turn of the loop, and the loop never
 *	waits on a scraper.
 * DIAGNOSTICS
 *	pmetrics_start(): "FILE:LINE: policyd.metrics_listen: ...".
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "metrics.h"
#include "pmetrics.h"

static const char *const protos[PM_NPROTO] = {"socketmap", "sendmail", "transport"};
static const char *const sm_results[] = {"ok", "notfound", "temp", "timeout", "perm"};
#define NSM (sizeof(sm_results) / sizeof(sm_results[0]))
static const char *const pol_results[] = {"dunno", "reject", "temp", "malformed"};
#define NPOL (sizeof(pol_results) / sizeof(pol_results[0]))
static const char *const sources[] = {"literal", "domain", "network", "none"};
static const char *const dns_types[] = {"mx", "a", "aaaa"};

static metric *req[PM_NPROTO][NSM], *pol[NPOL], *dns[3];
static metric *dec[TLSMAPS_LEVEL_COUNT + 1][4]; /* [level or default][source] */

static void init_requests(void)
{
	char l[96];
	int f = metrics_family("forcetls_policyd_requests_total", METRIC_COUNTER,
	                       "Replies sent, by protocol (socketmap, sendmail, transport, policy) "
	                       "and result.");

	for (int p = 0; p < PM_NPROTO; p++)
		for (size_t r = 0; r < NSM; r++) {
			snprintf(l, sizeof(l), "protocol=\"%s\",result=\"%s\"", protos[p],
			         sm_results[r]);
			req[p][r] = metrics_series(f, l);
		}
	for (size_t r = 0; r < NPOL; r++) {
		snprintf(l, sizeof(l), "protocol=\"policy\",result=\"%s\"", pol_results[r]);
		pol[r] = metrics_series(f, l);
	}
}

static void init_decisions(void)
{
	char l[96];
	int f = metrics_family("forcetls_policyd_decisions_total", METRIC_COUNTER,
	                       "Outbound TLS policy answers, by level answered (default: "
	                       "NOTFOUND) and the kind of entry that decided it.");

	for (int lv = 0; lv <= TLSMAPS_LEVEL_COUNT; lv++)
		for (int s = 0; s < 4; s++) {
			/* an entry gives a level, no entry "default" or the require map's encrypt
			 */
			if ((lv == TLSMAPS_LEVEL_COUNT) != (s == 3) &&
			    !(lv == TLSMAPS_LEVEL_ENCRYPT && s == 3))
				continue;
			snprintf(l, sizeof(l), "level=\"%s\",source=\"%s\"",
			         lv == TLSMAPS_LEVEL_COUNT ? "default"
			                                   : tlsmaps_level_name((tlsmaps_level)lv),
			         sources[s]);
			dec[lv][s] = metrics_series(f, l);
		}
}

void pmetrics_init(reloader *rl)
{
	char l[32];
	int f;

	init_requests();
	init_decisions();
	f = metrics_family("forcetls_policyd_dns_seconds", METRIC_HISTOGRAM,
	                   "Time each DNS query took, by record type (answers from the cache "
	                   "are not queries).");
	for (int i = 0; i < 3; i++) {
		snprintf(l, sizeof(l), "type=\"%s\"", dns_types[i]);
		dns[i] = metrics_series(f, l);
	}
	reloader_metrics(rl);
}

void pmetrics_reply(pm_proto proto, const char *reply, size_t len)
{
	static const char *const words[NSM] = {"OK", "NOTFOUND", "TEMP", "TIMEOUT", "PERM"};
	size_t w = strcspn(reply, " ");

	if (w > len)
		w = len;
	for (size_t r = 0; r < NSM; r++)
		if (w == strlen(words[r]) && memcmp(reply, words[r], w) == 0) {
			metric_inc(req[proto][r]);
			return;
		}
	metric_inc(req[proto][2]); /* cannot happen: every reply starts with one */
}

void pmetrics_policy(const char *result)
{
	for (size_t r = 0; r < NPOL; r++)
		if (strcmp(result, pol_results[r]) == 0)
			metric_inc(pol[r]);
}

void pmetrics_decision(tlsmaps_level level, int kind)
{
	int s = kind == TLSMAPS_KIND_NEXTHOP                                 ? 0
	        : kind == TLSMAPS_KIND_DOMAIN || kind == TLSMAPS_KIND_PARENT ? 1
	        : kind == TLSMAPS_KIND_NETWORK                               ? 2
	                                                                     : 3;

	if ((int)level >= 0 && level <= TLSMAPS_LEVEL_COUNT)
		metric_inc(dec[level][s]);
}

void pmetrics_dns(const char *type, double seconds)
{
	for (int i = 0; i < 3; i++)
		if (strcasecmp(type, dns_types[i]) == 0)
			metric_observe(dns[i], seconds);
}

int pmetrics_check(const cfg *c)
{
	const char *addr = cfg_str(c, "policyd.metrics_listen");
	char why[300], where[300];

	if (*addr == '\0' || metrics_listen_check(addr, why, sizeof(why)) == 0)
		return 0;
	log_errx("%s: policyd.metrics_listen: %s",
	         cfg_where(c, "policyd.metrics_listen", where, sizeof(where)), why);
	return -1;
}

int pmetrics_start(const cfg *c)
{
	const char *addr = cfg_str(c, "policyd.metrics_listen");
	char why[300], where[300];

	if (*addr == '\0')
		return 0;
	if (metrics_start(addr, why, sizeof(why)) < 0) {
		log_errx("%s: policyd.metrics_listen: %s",
		         cfg_where(c, "policyd.metrics_listen", where, sizeof(where)), why);
		return -1;
	}
	log_info("metrics on %s", addr);
	return 0;
}

void pmetrics_stop(void)
{
	metrics_stop();
}

static void emit(const char *line)
{
	log_info("metric %s", line);
}

void pmetrics_dump(policyd *d, reloader *rl, const listener *sm, const listener *pl)
{
	policyd_stats *st = &d->stats;
	resolver_stats rs;

	memset(&rs, 0, sizeof(rs));
	reloader_counts(rl, &st->reloads, &st->reload_failures);
	if (d->resolver != NULL)
		resolver_get_stats(d->resolver, &rs);
	log_info("stats: ok_none=%lu ok_may=%lu ok_encrypt=%lu ok_dane=%lu ok_dane_only=%lu "
	         "ok_fingerprint=%lu ok_verify=%lu ok_secure=%lu notfound=%lu temp=%lu perm=%lu "
	         "dns_temp=%lu dns_queries=%lu dns_cache_hits=%lu dns_cache_misses=%lu "
	         "dns_cache_entries=%zu malformed=%lu policy_requests=%lu policy_dunno=%lu "
	         "policy_reject=%lu reloads=%lu reload_failures=%lu socketmap_connections=%zu "
	         "policy_connections=%zu sendmail_ok=%lu sendmail_notfound=%lu",
	         st->by_level[0], st->by_level[1], st->by_level[2], st->by_level[3],
	         st->by_level[4], st->by_level[5], st->by_level[6], st->by_level[7], st->notfound,
	         st->temp, st->perm, st->dns_temp, rs.queries, rs.cache_hits, rs.cache_misses,
	         rs.cache_entries, st->malformed, st->policy_requests, st->policy_dunno,
	         st->policy_reject, st->reloads, st->reload_failures,
	         sm ? listener_connections(sm) : 0, pl ? listener_connections(pl) : 0,
	         st->sendmail_ok, st->sendmail_notfound);
	metrics_each(emit);
}
