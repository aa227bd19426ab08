/*
 * NAME
 *	snapshot.h - forcetls-milter's configuration and tables, as one refcounted unit
 * DESCRIPTION
 *	A snapshot is everything a decision reads: settings, the forced-TLS
 *	table, the always-encrypt table, the network lists, compiled rules. It
 *	is immutable once built. Each milter connection holds the snapshot that
 *	was current when it connected (msnapshot_current()), takes the current
 *	one again at each MAIL (envelope.c), and releases it at close.
 *	Reloads (SIGUSR1, the watch) go through common/reload.c: a
 *	reload thread builds the new snapshot completely, the shrink guard
 *	judges it, and the pointer is swapped; the old one is freed when its
 *	last connection leaves. A snapshot with any error is never installed.
 */
#ifndef MILTER_SNAPSHOT_H
#define MILTER_SNAPSHOT_H

#include "config.h"
#include "content.h"
#include "reload.h"
#include "relay.h"
#include "decide.h"
#include "rules.h"
#include "tlsmaps.h"

typedef struct msnapshot {
	rsnap rs; /* first: refcount, table path, entry count, guard (reload.h) */
	cfg *cfg;
	decide_config dc;
	tlsmaps_table *forced;        /* tables.forced_tls */
	tlsmaps_table *encrypt_table; /* milter.encrypt_table, or NULL */
	tlsmaps_table *internal;      /* milter.internal_networks as a table */
	tlsmaps_table *gateway;       /* milter.gateway_networks, or NULL */
	rules *rules;                 /* encryption flagging */
	rules *decrypt_rules;         /* milter.decrypt_patterns, or NULL */
	content_config content;       /* mime_decode and the body limits (content.h) */
	const char *const *senders;   /* milter.encrypt_senders (addresses or @domains) */
	size_t nsenders;
	int inbound_enforce;
	tlsmaps_inbound_options inbound; /* tables.inbound_exempt_* (envelope.c) */
	int log_decisions;
	char inbound_code[4], inbound_xcode[16], inbound_text[256];
	const char *table_path;
	/* routing = "relay" (handoff.c); NULL relay in header mode */
	relay_client *relay;
	const char *spool_dir;
	size_t spool_threshold;
	mta_kind mta; /* milter.mta: MTA_UNKNOWN for "auto" */
} msnapshot;

typedef struct {
	const char *config;     /* NULL: built-in defaults */
	const char *table;      /* --table */
	const char *listen;     /* --listen */
	const char *state_file; /* milter.state_file of the boot configuration, NULL: none */
} msnapshot_options;

/* Build; NULL with every error logged. */
msnapshot *msnapshot_load(const msnapshot_options *o);

/* Load the first snapshot and make it current (o must outlive the milter). -1 on errors. */
int msnapshot_start(const msnapshot_options *o);
/* Start the reload thread and the watch. */
int msnapshot_run(void);
/* Register the metrics and listen on milter.metrics_listen (mmetrics.h): 0, or -1 logged. */
int msnapshot_metrics(void);
/* Ask for a reload (from the signal thread; returns at once). */
void msnapshot_reload(const char *trigger);
/* Reloads done and refused so far. */
void msnapshot_counts(unsigned long *ok, unsigned long *refused);
/* Stop reloading and drop the current snapshot. */
void msnapshot_stop(void);

/* The current snapshot, held for the caller. */
msnapshot *msnapshot_current(void);
void msnapshot_release(msnapshot *s);

/* The settings table, for --check and main.c. */
cfg *msnapshot_config(const msnapshot_options *o);

#endif
