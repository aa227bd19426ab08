/*
 * NAME
 *	metrics.h - Prometheus counters, gauges and histograms, and their
 *	loopback HTTP listener
 * SUMMARY
 *	#include "metrics.h"
 * DESCRIPTION
 *	One registry per process. A daemon registers its families and every
 *	series (one label set each) at start, before metrics_start() and
 *	before any thread counts; after that the registry does not change, so
 *	reading it needs no lock. Values are atomics: any thread adds or
 *	observes, the listener's thread and the SIGUSR2 dump read. A series
 *	may instead take its value from a function at each read (a count the
 *	daemon keeps elsewhere: the reloads, the table's entries), called
 *	from the reading thread.
 *
 *	Histograms share one set of bucket bounds, in seconds (METRICS_BUCKETS).
 *
 *	The listener (metrics_start()) is one thread with its own poll(2)
 *	loop, at most METRICS_MAX_CLIENTS clients at once. A request is
 *	"GET /metrics" (a query string is ignored), at most
 *	METRICS_MAX_REQUEST bytes up to the blank line, all within
 *	METRICS_TIMEOUT_MS of the connection: the answer is the text
 *	exposition format 0.0.4; another path is 404, another method 405,
 *	anything unparsable or too long 400; a client too slow is closed. A
 *	new connection when every slot is taken closes the oldest. Nothing the
 *	listener does waits on the daemon's mail threads or loop.
 * DIAGNOSTICS
 *	Functions return -1 with a reason in why; this module never logs.
 */
#ifndef FORCETLS_METRICS_H
#define FORCETLS_METRICS_H

#include <stddef.h>

#define METRICS_MAX_FAMILIES 24
#define METRICS_MAX_SERIES 256   /* all families together */
#define METRICS_MAX_CLIENTS 8    /* connections served at once */
#define METRICS_MAX_REQUEST 2048 /* bytes of request line and headers */
#define METRICS_TIMEOUT_MS 2000  /* to read the request and write the answer */
#define METRICS_NBUCKETS 11
#define METRICS_BUCKETS                                                                            \
	{                                                                                          \
		0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5                         \
	}

typedef enum {
	METRIC_COUNTER = 0,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
} metric_type;

typedef struct metric metric;

/*
 * A family: name as Prometheus spells it (counters end in _total), one
 * line of help. Its index, or -1 when the registry is full.
 */
int metrics_family(const char *name, metric_type type, const char *help);

/*
 * One series of family fam with labels, "" or already formatted
 * ("protocol=\"socketmap\",result=\"ok\""). NULL when the registry is full;
 * every function below takes NULL as a series that counts nothing.
 */
metric *metrics_series(int fam, const char *labels);
/* A counter or gauge series whose value is fn(arg) at each read. */
metric *metrics_series_fn(int fam, const char *labels, double (*fn)(void *arg), void *arg);

void metric_inc(metric *m);
void metric_add(metric *m, unsigned long n);
void metric_set(metric *m, long v); /* gauges */
void metric_observe(metric *m, double seconds);

/* The exposition text into buf (always terminated); the length it needs. */
size_t metrics_format(char *buf, size_t len);
/* emit(line) once per sample line of metrics_format(), no comments, no newline. */
void metrics_each(void (*emit)(const char *line));

/*
 * addr as a metrics listen address: "inet:IP:PORT" with IP a loopback
 * address (127.0.0.0/8, or [::1]). 0, or -1 with why.
 */
int metrics_listen_check(const char *addr, char *why, size_t whylen);
/* Listen on addr (metrics_listen_check()ed) and start the thread: 0, or -1 with why. */
int metrics_start(const char *addr, char *why, size_t whylen);
/* Stop the thread and close the listener; nothing when not started. */
void metrics_stop(void);

#endif
