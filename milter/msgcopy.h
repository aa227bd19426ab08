/*
 * NAME
 *	msgcopy.h - relay mode's copy of a message, and the gateway's view of it
 * SUMMARY
 *	#include "msgcopy.h"
 * DESCRIPTION
 *	While the MTA streams a message to the milter, relay mode keeps a copy:
 *	the recipients, every header as the MTA gave it (name and value, in
 *	order), and the body. Headers and body each live in a spool (spool.h),
 *	so memory stays bounded by the spool threshold.
 *
 *	At end of message, msgcopy_source() gives the message the gateway must
 *	receive: the same edits the milter asks the MTA to make (a decision's
 *	actions, decide.h) applied to the copy: the header inserted first, the
 *	deleted copies left out (indices are occurrences of a name among the
 *	message's own headers, counted from 1, names compared ignoring case),
 *	changed values, added headers at the end of the header block, then the
 *	empty line and the body. A header is written "Name: value" (the MTA
 *	strips the blank after the colon); line ends are the relay's business.
 *	A value's line ends stay folds: a CR or LF inside a value that no blank
 *	follows gets a space after it, so no bare CR or LF can start a header
 *	of its own at the gateway; line ends at a value's end are dropped.
 *
 *	A copy that failed (no memory, a full spool) stays failed; the caller
 *	answers a temporary failure.
 * DIAGNOSTICS
 *	msgcopy_error() says why; nothing is logged.
 */
#ifndef MILTER_MSGCOPY_H
#define MILTER_MSGCOPY_H

#include <stddef.h>
#include <stdint.h>

#include "decide.h"
#include "relay.h"

#define MSGCOPY_RCPTS_MAX 10000
#define MSGCOPY_NAME_MAX 4096 /* a longer header name fails the copy */

typedef struct msgcopy msgcopy;

/* NULL: no memory. */
msgcopy *msgcopy_new(const char *spool_dir, size_t threshold);
void msgcopy_free(msgcopy *m);

/*
 * An envelope address in angle brackets, as SMTP writes it: Postfix gives
 * a milter "<a@b>" for SMTP mail but a@b for mail submitted with
 * sendmail(1) (pickup), and "" for the null sender. NULL: no memory.
 */
char *msgcopy_bracketed(const char *addr);

/* Each returns 0, or -1 once the copy has failed (recipients kept bracketed). */
int msgcopy_rcpt(msgcopy *m, const char *rcpt);
int msgcopy_header(msgcopy *m, const char *name, const char *value);
int msgcopy_body(msgcopy *m, const void *data, size_t n);

const char *const *msgcopy_rcpts(const msgcopy *m, size_t *n);
uint64_t msgcopy_size(const msgcopy *m);
int msgcopy_on_disk(const msgcopy *m);
const char *msgcopy_error(const msgcopy *m);

/*
 * The gateway's copy, as a relay_source over m (valid while m and d live).
 * subject, when not NULL, replaces the value of a Subject change (the
 * whole stripped subject; d keeps a truncated one). 0 or -1.
 */
int msgcopy_source(msgcopy *m, const decision *d, const char *subject, relay_source *out);

#endif /* MILTER_MSGCOPY_H */
