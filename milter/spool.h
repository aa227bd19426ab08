/*
 * NAME
 *	spool.h - a byte store of bounded memory: RAM up to a threshold, then a private file
 * SUMMARY
 *	#include "spool.h"
 * DESCRIPTION
 *	Relay mode keeps a copy of each message until the gateway has it. A
 *	spool holds bytes written in order and reads them back in order, as
 *	often as asked (one pass per gateway tried). The first threshold bytes
 *	stay in memory; past them everything goes to a file in the spool
 *	directory, so memory per message is bounded by the threshold whatever
 *	the message size.
 *
 *	The file has no name: it is opened with O_TMPFILE (mode 0600), or
 *	created with mkstemp() and unlinked at once where the file system
 *	has no O_TMPFILE. It is gone when the spool is freed, and also when
 *	the process dies: no path leaves a file behind.
 *
 *	Free space: before the file is made, the directory's file system must
 *	have at least SPOOL_RESERVE_FACTOR times the threshold free (statvfs,
 *	for unprivileged users), so a nearly full disk is refused before the
 *	MTA's own queue is starved; every short or failed write (ENOSPC,
 *	EDQUOT) fails the spool too. A failed spool stays failed: every later
 *	write and read returns -1, and the caller answers a temporary failure.
 * DIAGNOSTICS
 *	spool_error() says why, as "DIR: reason"; nothing is logged.
 */
#ifndef MILTER_SPOOL_H
#define MILTER_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_RESERVE_FACTOR 4

typedef struct spool spool;

/* A new, empty spool; dir is used only once threshold bytes are exceeded. NULL: no memory. */
spool *spool_new(const char *dir, size_t threshold);
void spool_free(spool *s);

/* Append n bytes. 0, or -1 (the spool has failed: spool_error()). */
int spool_write(spool *s, const void *data, size_t n);

/* Back to the first byte for reading. 0 or -1. */
int spool_rewind(spool *s);

/*
 * The next piece, at most max bytes (max > 0): *data points into the spool
 * (memory) or into its read buffer (file) and stays valid until the next
 * call. Returns the length, 0 at the end, or -1.
 */
long spool_read(spool *s, const char **data, size_t max);

uint64_t spool_size(const spool *s);
int spool_on_disk(const spool *s);
const char *spool_error(const spool *s);

#endif /* MILTER_SPOOL_H */
