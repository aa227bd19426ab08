/*
 * NAME
 *	mmetrics.h - forcetls-milter's metrics: what it counts, and the dump
 * DESCRIPTION
 *	The series of forcetls-milter in the registry of common/metrics.h,
 *	registered by mmetrics_start() before the milter thread starts; any
 *	milter thread counts (atomics), the metrics thread
 *	(milter.metrics_listen) and the SIGUSR2 dump read.
 */
#ifndef MILTER_MMETRICS_H
#define MILTER_MMETRICS_H

#include "config.h"
#include "decide.h"
#include "reload.h"

/*
 * Register every series (reloads and table entries from rl), then listen
 * on milter.metrics_listen of c when it is set: 0, or -1 logged with
 * FILE:LINE.
 */
int mmetrics_start(reloader *rl, const cfg *c);
void mmetrics_stop(void);
/* A message decided (d from decide_message() for m). */
void mmetrics_message(const msg_state *m, const decision *d);
/* SIGUSR2: one "metric NAME{LABELS} VALUE" line per series. */
void mmetrics_dump(void);

/*
 * Check milter.metrics_listen of c (every load: --check, start, reloads, which
 * refuse an invalid one although the listener changes only on restart): 0, or
 * -1 logged with FILE:LINE.
 */
int mmetrics_check(const cfg *c);

#endif
