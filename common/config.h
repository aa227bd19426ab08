/*
 * NAME
 *	config.h - the forcetls.conf file (libconfig), one table of settings
 * DESCRIPTION
 *	Each program describes its settings in one table of {path, type,
 *	default, bounds}; the defaults live there and nowhere else. A file is
 *	optional: without one every setting has its default. With one, a
 *	setting that is unknown in a section the program owns, or of the wrong
 *	type, or out of bounds, is an error "FILE:LINE: path: reason"; sections
 *	that belong to other programs (listed by the caller) are skipped whole.
 * DIAGNOSTICS
 *	cfg_load() returns NULL and writes every problem, one per line, into
 *	the caller's buffer.
 */
#ifndef FORCETLS_CONFIG_H
#define FORCETLS_CONFIG_H

#include <stddef.h>

typedef enum {
	CFG_STRING,
	CFG_INT,
	CFG_BOOL,
	CFG_LIST, /* a list or array of strings; a single string is a one-item list */
} cfg_type;

typedef struct {
	const char *path; /* "policyd.dns_timeout" */
	cfg_type type;
	const char *def_str;        /* CFG_STRING default; CFG_LIST: comma-separated default */
	long def_int;               /* CFG_INT and CFG_BOOL default */
	long min, max;              /* CFG_INT bounds */
	const char *const *choices; /* CFG_STRING: allowed values (NULL-terminated), or NULL */
} cfg_def;

typedef struct cfg cfg;

/*
 * Load file (NULL for defaults only). own: section names this program
 * checks strictly; other: section names it skips. Any other top-level
 * name is an error.
 */
cfg *cfg_load(const char *file, const cfg_def *defs, size_t ndefs, const char *const *own,
              const char *const *other, char *errors, size_t errlen);
void cfg_free(cfg *c);

/* Values by path; the path must be in the table (else abort: a programming error). */
const char *cfg_str(const cfg *c, const char *path);
long cfg_int(const cfg *c, const char *path);
int cfg_bool(const cfg *c, const char *path);
/* CFG_LIST: number of items and the items. */
size_t cfg_list(const cfg *c, const char *path, const char *const **items);
/*
 * Where a setting comes from, for an error about its value: "FILE:LINE",
 * "FILE" (its default, with a file), or "(built-in defaults)". Returns buf.
 */
const char *cfg_where(const cfg *c, const char *path, char *buf, size_t len);
/* The line of the file that sets path; 0 for its default. */
int cfg_line(const cfg *c, const char *path);
/*
 * path made absolute against the current directory (malloc'd; NULL for
 * NULL or out of memory). For --config and --table: a daemon that goes to
 * the background changes to /, and every reload and the watch would then
 * look for a relative path there.
 */
char *cfg_absolute(const char *path);

#endif
