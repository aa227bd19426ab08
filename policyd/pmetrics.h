/*
 * NAME
 *	pmetrics.h - forcetls-policyd's metrics: what it counts, and the dump
 * DESCRIPTION
 *	The series of forcetls-policyd in the registry of common/metrics.h,
 *	registered by pmetrics_init() before the loop runs; the request
 *	handlers count through the functions below, from the loop's thread,
 *	and the metrics thread (policyd.metrics_listen) reads them.
 */
#ifndef POLICYD_PMETRICS_H
#define POLICYD_PMETRICS_H

#include "config.h"
#include "policyd.h"
#include "reload.h"
#include "server.h"
#include "tlsmaps.h"

typedef enum {
	PM_SOCKETMAP = 0, /* policyd.map_name, require_map_name, and bad requests */
	PM_SENDMAIL,      /* policyd.sendmail_map_name */
	PM_TRANSPORT,     /* policyd.transport_map_name */
	PM_NPROTO
} pm_proto;

/* Register every series (reloads and table entries from rl). */
void pmetrics_init(reloader *rl);
/* A socketmap reply sent: its result is its first word. */
void pmetrics_reply(pm_proto proto, const char *reply, size_t len);
/* A policy delegation answer: "dunno", "reject", "temp", "malformed". */
void pmetrics_policy(const char *result);
/*
 * An outbound answer at level (TLSMAPS_LEVEL_COUNT: NOTFOUND, Postfix's
 * default) from an entry of kind (a tlsmaps_kind; -1: no entry).
 */
void pmetrics_decision(tlsmaps_level level, int kind);
/* resolver_options.observe. */
void pmetrics_dns(const char *type, double seconds);
/* policyd.metrics_listen from c: 0 (also when ""), or -1 logged with FILE:LINE. */
int pmetrics_start(const cfg *c);
void pmetrics_stop(void);
/* SIGUSR2: the "stats:" line, then one "metric NAME{LABELS} VALUE" line per series. */
void pmetrics_dump(policyd *d, reloader *rl, const listener *sm, const listener *pol);

/*
 * Check policyd.metrics_listen of c (every load: --check, start, reloads, which
 * refuse an invalid one although the listener changes only on restart): 0, or
 * -1 logged with FILE:LINE.
 */
int pmetrics_check(const cfg *c);

#endif
