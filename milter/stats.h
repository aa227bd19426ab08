/*
 * NAME
 *	stats.h - forcetls-milter's counters, for the SIGUSR2 dump
 * DESCRIPTION
 *	Process-wide event counters, atomic: any milter thread adds, the
 *	signal thread reads. They count since the start, across reloads.
 */
#ifndef MILTER_STATS_H
#define MILTER_STATS_H

typedef enum {
	STAT_MESSAGES = 0, /* end of message reached */
	STAT_FLAGGED,      /* flagged for encryption by a content rule */
	STAT_DECRYPT,      /* flagged for decryption */
	STAT_MATCH_ERRORS, /* a pattern could not complete: counted as a match */
	STAT_MIME_LIMITS,  /* mime_max_depth or mime_max_parts passed: counted as a match */
	STAT_SCAN_LIMITS,  /* body_scan_limit or body_read_limit reached: counted as a match */
	STAT_DEFERRED,     /* answered with a temporary failure at end of message */
	STAT_RELAYED,      /* relay mode: a gateway took the message (the MTA's copy dropped) */
	STAT_RELAY_FAILED, /* relay mode: no gateway took it (deferred) */
	STAT_COUNT
} stat_id;

void stats_add(stat_id id);
unsigned long stats_get(stat_id id);
/* "messages", "flagged", ... */
const char *stats_name(stat_id id);

#endif /* MILTER_STATS_H */
