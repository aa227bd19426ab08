/*
 * NAME
 *	reload_metrics.c - the reloader's counts and table size as metrics
 * SUMMARY
 *	reloader_metrics()
 * DESCRIPTION
 *	forcetls_reloads_total{result="ok|refused|failed"} and
 *	forcetls_table_entries, the same in both daemons. They are read from
 *	the reloader when the metrics are read (reloader_results(), the
 *	current snapshot's entry count), so nothing is counted twice and the
 *	SIGUSR2 dump shows what the reload lines said.
 */
#include "metrics.h"
#include "reload.h"

static double count_of(reloader *r, int which)
{
	unsigned long n[3];

	reloader_results(r, &n[0], &n[1], &n[2]);
	return (double)n[which];
}

static double ok(void *arg)
{
	return count_of(arg, 0);
}

static double refused(void *arg)
{
	return count_of(arg, 1);
}

static double failed(void *arg)
{
	return count_of(arg, 2);
}

static double entries(void *arg)
{
	rsnap *s = reloader_current(arg);
	double n = s != NULL ? (double)s->entries : 0;

	rsnap_release(s);
	return n;
}

void reloader_metrics(reloader *r)
{
	int f = metrics_family("forcetls_reloads_total", METRIC_COUNTER,
	                       "Reloads since the start, by result: ok (installed), refused (by "
	                       "the shrink guard), failed (errors in the configuration or table).");

	metrics_series_fn(f, "result=\"ok\"", ok, r);
	metrics_series_fn(f, "result=\"refused\"", refused, r);
	metrics_series_fn(f, "result=\"failed\"", failed, r);
	f = metrics_family("forcetls_table_entries", METRIC_GAUGE,
	                   "Entries of the forced-TLS table in use.");
	metrics_series_fn(f, "", entries, r);
}
