/*
 * NAME
 *	guardstate.h - the shrink guard's memory across restarts: a small state file
 * SUMMARY
 *	#include "guardstate.h"
 * DESCRIPTION
 *	The reloader writes, after each snapshot it installs, the path of the
 *	table and its entry count to a state file; at start it reads them back
 *	and applies the shrink guard between the remembered count and the new
 *	table's (reload.c). The file is two lines of text:
 *	    table PATH
 *	    entries N
 *	and is replaced atomically: a temporary file in the same directory,
 *	fsync(2), rename(2).
 * DIAGNOSTICS
 *	None here: both functions return the reason in why, the caller logs.
 */
#ifndef FORCETLS_GUARDSTATE_H
#define FORCETLS_GUARDSTATE_H

#include <stddef.h>

/*
 * Read file: 1 with the table path (NUL-terminated, truncation is an
 * error) and the entry count; 0 when the file does not exist; -1 with the
 * reason in why when it cannot be read or parsed.
 */
int guardstate_read(const char *file, char *table, size_t tlen, size_t *entries, char *why,
                    size_t wlen);

/* Replace file atomically with table and entries: 0, or -1 with the reason in why. */
int guardstate_write(const char *file, const char *table, size_t entries, char *why, size_t wlen);

#endif
