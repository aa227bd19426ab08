/*
 * NAME
 *	stats.c - forcetls-milter's counters, for the SIGUSR2 dump
 * SUMMARY
 *	stats_add(), stats_get(), stats_name()
 * DESCRIPTION
 *	See stats.h. Relaxed atomics: the counters order nothing.
 */
#include <stdatomic.h>

#include "stats.h"

static atomic_ulong counters[STAT_COUNT];

static const char *const names[STAT_COUNT] = {
        [STAT_MESSAGES] = "messages",         [STAT_FLAGGED] = "flagged",
        [STAT_DECRYPT] = "decrypt",           [STAT_MATCH_ERRORS] = "rule_match_errors",
        [STAT_MIME_LIMITS] = "mime_limits",   [STAT_SCAN_LIMITS] = "scan_limits",
        [STAT_DEFERRED] = "deferred",         [STAT_RELAYED] = "relayed",
        [STAT_RELAY_FAILED] = "relay_failed",
};

void stats_add(stat_id id)
{
	atomic_fetch_add_explicit(&counters[id], 1, memory_order_relaxed);
}

unsigned long stats_get(stat_id id)
{
	return atomic_load_explicit(&counters[id], memory_order_relaxed);
}

const char *stats_name(stat_id id)
{
	return names[id];
}
