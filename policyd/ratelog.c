/*
 * NAME
 *	ratelog.c - one kind of log line, at most once per interval
 * SUMMARY
 *	ratelog_init(), ratelog_warnx(), ratelog_free()
 * DESCRIPTION
 *	See ratelog.h. A line is logged when none was in the last interval;
 *	otherwise it is counted, kept as the last one, and a timer is armed
 *	for the end of the interval, when "LAST: N more times in the last S s"
 *	is logged. A line that comes when that timer is late logs the count
 *	first.
 * DIAGNOSTICS
 *	Lines are cut at 255 bytes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "ratelog.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void summary(ratelog *r, int64_t now)
{
	if (r->suppressed == 0)
		return;
	log_warnx("%s: %lu more time%s in the last %u s", r->last, r->suppressed,
	          r->suppressed == 1 ? "" : "s", r->interval);
	r->suppressed = 0;
	r->logged_ms = now;
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	summary(arg, now_ms());
}

int ratelog_init(ratelog *r, struct event_base *base, unsigned interval)
{
	memset(r, 0, sizeof(*r));
	r->interval = interval;
	r->flush = evtimer_new(base, on_flush, r);
	return r->flush == NULL ? -1 : 0;
}

void ratelog_warnx(ratelog *r, const char *fmt, ...)
{
	int64_t now = now_ms(), next = r->logged_ms + (int64_t)r->interval * 1000;
	char line[sizeof(r->last)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (r->logged_ms != 0 && now < next) {
		struct timeval tv = {(next - now) / 1000, (next - now) % 1000 * 1000};

		memcpy(r->last, line, sizeof(r->last));
		r->suppressed++;
		if (r->flush != NULL && !evtimer_pending(r->flush, NULL))
			evtimer_add(r->flush, &tv);
		return;
	}
	summary(r, now); /* a flush that did not run yet */
	log_warnx("%s", line);
	memcpy(r->last, line, sizeof(r->last));
	r->logged_ms = now;
}

void ratelog_free(ratelog *r)
{
	if (r->flush == NULL)
		return;
	summary(r, now_ms());
	event_free(r->flush);
	r->flush = NULL;
}
