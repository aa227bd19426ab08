/*
 * NAME
 *	ratelog.h - one kind of log line, at most once per interval
 * DESCRIPTION
 *	For lines a client can cause at will (refused connections, timeouts):
 *	the first is logged, the others within interval seconds are counted,
 *	and the count is logged with the last of them when the interval ends
 *	("LINE: 999 more times in the last 10 s"). At most two lines per
 *	interval, and no count is lost. Lines go to log_warnx().
 */
#ifndef POLICYD_RATELOG_H
#define POLICYD_RATELOG_H

#include <stdint.h>

#include <event2/event.h>

typedef struct {
	unsigned interval;        /* seconds */
	int64_t logged_ms;        /* the last line logged, monotonic; 0: never */
	unsigned long suppressed; /* lines not logged since */
	char last[256];           /* the last of them */
	struct event *flush;      /* logs the count at the end of the interval */
} ratelog;

/* 0, or -1 when out of memory. */
int ratelog_init(ratelog *r, struct event_base *base, unsigned interval);
void ratelog_warnx(ratelog *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs a pending count; r may be zeroed (never initialised). */
void ratelog_free(ratelog *r);

#endif
