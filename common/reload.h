/*
 * NAME
 *	reload.h - refcounted snapshots and safe reloads, shared by both daemons
 * SUMMARY
 *	#include "reload.h"
 * DESCRIPTION
 *	A snapshot is everything a decision reads (configuration, tables,
 *	derived state), immutable once built. Each daemon embeds an rsnap as
 *	the first member of its own snapshot struct and fills its fields in
 *	its build callback; this module never looks further into it, so
 *	common/ calls nothing in policyd/ or milter/.
 *
 *	A reloader owns the current snapshot. reloader_request() asks for a
 *	reload from any thread (a signal thread, an event loop, the watch); one
 *	reload thread of its own builds the new snapshot completely, applies
 *	the shrink guard, swaps the pointer under a mutex held only for the
 *	swap, and logs one line. A request made while a build runs is
 *	coalesced into one more build after it: never lost, never concurrent.
 *	Users hold the snapshot they started with (reloader_current()) and
 *	release it when done; the old one is freed by its last user.
 *
 *	The watch (tables.watch_table) is an inotify(7) watch on the directory
 *	of the table: a file renamed to the table's name (IN_MOVED_TO) or the
 *	table closed after writing (IN_CLOSE_WRITE) requests a reload
 *	("reload (watch)"). It never reads a file that is still being written
 *	through a rename, and the shrink guard catches a table emptied or cut
 *	short in place.
 *
 *	The log lines (one per reload, whatever the trigger):
 *	    reload (TRIGGER): ok TABLE, N entries (was M)
 *	    reload (TRIGGER): refused: WHY; keeping TABLE, M entries
 *	and at start, when the state file (reload_ops.state_file) remembers
 *	more entries for the same table than the guard lets go:
 *	    start refused: TABLE has N entries, the table in use before had M
 *	    (STATE_FILE): WHY; fix the table, or set ..., or remove STATE_FILE
 * DIAGNOSTICS
 *	Errors in a new configuration or table are logged by the build
 *	callback (FILE:LINE: reason); this module logs the verdict line.
 */
#ifndef FORCETLS_RELOAD_H
#define FORCETLS_RELOAD_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/stat.h>

#include "config.h"

/* The shrink guard's settings (tables.reload_*). */
typedef struct {
	unsigned max_shrink; /* percent of the entries a reload may lose, 0..100 */
	int allow_empty;     /* a reload may leave 0 entries */
	int allow_shrink;    /* a reload may lose more than max_shrink */
} reload_guard;

/* The head of a daemon's snapshot: its first member. */
typedef struct rsnap {
	atomic_int refs;
	void (*free)(struct rsnap *s); /* frees the whole snapshot */
	const char *table;             /* path of the main table: log lines, the watch */
	size_t entries;                /* its entry count: the shrink guard */
	reload_guard guard;            /* from this snapshot's configuration */
	int watch;                     /* tables.watch_table */
	struct rsnap *retired;         /* reloader_retire() list */
	struct stat read_st;           /* the table as it was just before it was read */
	int have_read_st;
} rsnap;

/*
 * The rows of the settings table for the shared reload settings, for both
 * daemons' tables: { RELOAD_CFG_ROWS, ... }.
 */
// clang-format off
#define RELOAD_CFG_ROWS \
	{"tables.reload_max_shrink", CFG_INT, NULL, 50, 0, 100, NULL}, \
	{"tables.reload_allow_empty", CFG_BOOL, NULL, 0, 0, 0, NULL}, \
	{"tables.reload_allow_shrink", CFG_BOOL, NULL, 0, 0, 0, NULL}, \
	{"tables.watch_table", CFG_BOOL, NULL, 1, 0, 0, NULL}
// clang-format on

/* refs = 1, free_fn, table, entries; guard and watch from c (RELOAD_CFG_ROWS). */
void rsnap_init(rsnap *s, void (*free_fn)(rsnap *), const cfg *c);
/*
 * Call just before the build reads the table at path: the file's identity
 * and times then. A table changed between the start's read and the watch's
 * first install gives no event; the reloader compares this with the file
 * once the watch is in place, and reloads when they differ.
 */
void rsnap_table_seen(rsnap *s, const char *path);
rsnap *rsnap_hold(rsnap *s);
/* Thread-safe; the last release frees. NULL is fine. */
void rsnap_release(rsnap *s);

/*
 * 0 when a reload from old to new entries passes the guard; else -1 with
 * the reason in why ("the new table has 0 entries ...").
 */
int reload_guard_check(const reload_guard *g, size_t old, size_t new, char *why, size_t len);

typedef struct reloader reloader;

typedef struct {
	/* A new snapshot, or NULL with every error logged. Runs in the reload thread. */
	rsnap *(*build)(void *arg);
	/* Optional: called in the reload thread after each swap (policyd wakes its loop). */
	void (*installed)(void *arg);
	void *arg;
	/*
	 * Optional: the shrink guard's state file (guardstate.h), NULL or ""
	 * for none. Written after each snapshot installed; read at start,
	 * where the guard applies between the count it remembers for the same
	 * table path and the new one. Must outlive the reloader.
	 */
	const char *state_file;
} reload_ops;

/*
 * Build the first snapshot in the caller's thread and make it current. An
 * empty table is allowed here (a new install) but logged as a warning,
 * unless the state file remembers the same table with more entries and
 * the guard refuses the start ("start refused: ..."). NULL when the build
 * fails or the start is refused.
 */
reloader *reloader_new(const reload_ops *ops);
/* Start the reload thread and, when the current snapshot says so, the watch. */
int reloader_run(reloader *r);
/* Ask for a reload; trigger is a static string ("SIGUSR1", "watch"). Any thread. */
void reloader_request(reloader *r, const char *trigger);
/* The current snapshot, held for the caller (rsnap_release() it). */
rsnap *reloader_current(reloader *r);
/* Hand a released-by-the-caller reference to the reload thread, which drops it there. */
void reloader_retire(reloader *r, rsnap *s);
/* Reloads done and refused so far. */
void reloader_counts(reloader *r, unsigned long *ok, unsigned long *refused);
/*
 * The same, refused split in two: refused by the shrink guard, and failed
 * (errors in the configuration or the table). Any thread.
 */
void reloader_results(reloader *r, unsigned long *ok, unsigned long *refused,
                      unsigned long *failed);
/*
 * Register forcetls_reloads_total{result} and forcetls_table_entries in the
 * metrics registry (metrics.h), read from r (reload_metrics.c).
 */
void reloader_metrics(reloader *r);
/* Stop the threads and release the current snapshot. NULL is fine. */
void reloader_free(reloader *r);

#endif
