/*
 * NAME
 *	mmetrics.c - forcetls-milter's metrics: what it counts, and the dump
 * SUMMARY
 *	mmetrics_start(), mmetrics_stop(), mmetrics_message(), mmetrics_dump()
 * DESCRIPTION
 *	See mmetrics.h; the metrics are listed in forcetls-milter(8). Every
 *	label set is registered at start, so every series is there from the
 *	first scrape, at 0.
 *
 *	Choices: a message is counted once, when it is decided at end of
 *	message (also when applying the decision fails and it is deferred:
 *	result=defer in the log). tlslevel is the X-TLSLevel value the milter
 *	inserted (none: no header, as on inbound mail). flagged_total counts
 *	flagged outbound messages by the kind of rule that flagged them, the
 *	kind only (never the pattern): subject, header, body, attachment,
 *	sender (milter.encrypt_senders), encrypt_table, mime_limit and
 *	scan_limit (a part not fully scanned), other. gateway_status_total is
 *	the verdict on the gateway's status header of mail from the gateway
 *	(decide.h); mail without one is not counted.
 *
 *	The metrics listener is a thread of common/metrics.c with its own
 *	poll(2) loop: a scrape never holds a libmilter thread.
 * DIAGNOSTICS
 *	mmetrics_start(): "FILE:LINE: milter.metrics_listen: ...".
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "mmetrics.h"

static const char *const dirs[] = {"inbound", "outbound", "gateway"}; /* msg_dir order */
static const char *const levels[] = {"none", "try", "require"};       /* decision.tlslevel */
static const char *const kinds[][2] = {
        /* flagged_by prefix, label */
        {"subject_tag", "subject"},        {"header_patterns", "header"},
        {"body_patterns", "body"},         {"attachment_patterns", "attachment"},
        {"encrypt_senders", "sender"},     {"encrypt_table", "encrypt_table"},
        {"mime limit", "mime_limit"},      {"body_scan_limit", "scan_limit"},
        {"body_read_limit", "scan_limit"},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static metric *messages[3][3], *flagged[NKINDS + 1], *gateway[2];

static void init_series(reloader *rl)
{
	char l[96];
	int f = metrics_family("forcetls_milter_messages_total", METRIC_COUNTER,
	                       "Messages decided, by direction and the X-TLSLevel inserted.");

	for (int d = 0; d < 3; d++)
		for (int t = 0; t < 3; t++) {
			snprintf(l, sizeof(l), "direction=\"%s\",tlslevel=\"%s\"", dirs[d],
			         levels[t]);
			messages[d][t] = metrics_series(f, l);
		}
	f = metrics_family("forcetls_milter_flagged_total", METRIC_COUNTER,
	                   "Outbound messages flagged for the encryption gateway, by rule kind.");
	for (size_t k = 0; k <= NKINDS; k++) {
		const char *label = k < NKINDS ? kinds[k][1] : "other";

		if (k > 0 && k < NKINDS && strcmp(label, kinds[k - 1][1]) == 0) {
			flagged[k] = flagged[k - 1]; /* two prefixes, one kind */
			continue;
		}
		snprintf(l, sizeof(l), "rule=\"%s\"", label);
		flagged[k] = metrics_series(f, l);
	}
	f = metrics_family("forcetls_milter_gateway_status_total", METRIC_COUNTER,
	                   "Messages back from the encryption gateway, by its status header.");
	gateway[0] = metrics_series(f, "status=\"success\"");
	gateway[1] = metrics_series(f, "status=\"failure\"");
	reloader_metrics(rl);
}

int mmetrics_check(const cfg *c)
{
	const char *addr = cfg_str(c, "milter.metrics_listen");
	char why[300], where[300];

	if (*addr == '\0' || metrics_listen_check(addr, why, sizeof(why)) == 0)
		return 0;
	log_errx("%s: milter.metrics_listen: %s",
	         cfg_where(c, "milter.metrics_listen", where, sizeof(where)), why);
	return -1;
}

int mmetrics_start(reloader *rl, const cfg *c)
{
	const char *addr = cfg_str(c, "milter.metrics_listen");
	char why[300], where[300];

	init_series(rl);
	if (*addr == '\0')
		return 0;
	if (metrics_start(addr, why, sizeof(why)) < 0) {
		log_errx("%s: milter.metrics_listen: %s",
		         cfg_where(c, "milter.metrics_listen", where, sizeof(where)), why);
		return -1;
	}
	log_info("metrics on %s", addr);
	return 0;
}

void mmetrics_stop(void)
{
	metrics_stop();
}

static metric *flag_kind(const char *by)
{
	for (size_t k = 0; k < NKINDS; k++)
		if (strncmp(by, kinds[k][0], strlen(kinds[k][0])) == 0)
			return flagged[k];
	return flagged[NKINDS];
}

void mmetrics_message(const msg_state *m, const decision *d)
{
	if ((unsigned)m->dir < 3 && d->tlslevel >= 0 && d->tlslevel < 3)
		metric_inc(messages[m->dir][d->tlslevel]);
	if (m->dir == DIR_OUTBOUND && m->flagged)
		metric_inc(flag_kind(m->flagged_by));
	if (d->gateway == 0 || d->gateway == 1)
		metric_inc(gateway[d->gateway]);
}

static void emit(const char *line)
{
	log_info("metric %s", line);
}

void mmetrics_dump(void)
{
	metrics_each(emit);
}
