/*
 * NAME
 *	mimewalk.h - a streaming MIME walker: the body, part by part, decoded
 * DESCRIPTION
 *	The body arrives from the MTA in chunks (CRLF line ends, any chunk
 *	size, a line may be split anywhere). The walker follows the MIME
 *	structure (RFC 2045, 2046) as the chunks come, with memory bounded
 *	by one line (MIMEWALK_LINE_MAX; a longer line is processed in pieces)
 *	plus the decoder state: it never holds the body. In figures: under
 *	64 KB per walker with max_depth 32, whatever the body (two 8 KB
 *	buffers, three part headers of at most 8 KB each, an 8 KB decoder and
 *	iconv's state, about 216 bytes per open multipart); test_mime measures
 *	a 61 KB peak over 17 MB of decoded text, 30 levels deep.
 *
 *	For each part it reads the part's headers (unfolded) and tells the
 *	caller (part callback) what the part is: its Content-Type, every
 *	attachment name (Content-Disposition filename* and filename, then
 *	Content-Type name* and name, decoded to UTF-8, distinct), its depth.
 *	The top-level part's headers are the message's: the caller passes
 *	them with mimewalk_header() before the body.
 *
 *	Text parts (type text, any subtype; a part without Content-Type in a
 *	multipart/digest is message/rfc822, elsewhere text/plain) are decoded
 *	from base64 or quoted-printable (soft line breaks joined), converted
 *	from their charset to UTF-8 with iconv(3) (unknown charset or invalid
 *	bytes: passed through as they are), and given to the text callback in
 *	pieces; a part ends with a text callback of "\r\n" so that parts never
 *	run together (the line end before a boundary belongs to the boundary,
 *	RFC 2046, and is not given). A multipart without a boundary parameter
 *	is read as text (text set in its mimewalk_part). message/rfc822 (and
 *	message/global) parts are walked into: their headers, then their body.
 *	Other parts (attachments, images) are skipped: not decoded, only their
 *	names are given.
 *
 *	What the walker cannot read as a client may gives MIMEWALK_LIMIT,
 *	never a silent skip (the caller counts it as a match): a boundary
 *	longer than 200 bytes; a multipart or message/rfc822 with a transfer
 *	encoding other than 7bit, 8bit or binary; a text part in an encoding
 *	other than those and base64 and quoted-printable (x-uuencode, x-token);
 *	a Content-Type, Content-Disposition or Content-Transfer-Encoding part
 *	header cut at MIMEWALK_LINE_MAX, or two of one of them that differ (in a
 *	part or the message); a NUL byte in a part header; more than
 *	MIMEWALK_NAMES_MAX distinct names in a part; a boundary line longer
 *	than MIMEWALK_LINE_MAX (transport padding) that is not blanks to its
 *	end (one that is, is the boundary).
 *
 *	Limits: the decoded text given to the text callback stops at
 *	max_text bytes (then MIMEWALK_DONE); at most max_depth nested
 *	multiparts and message/rfc822 and at most max_parts parts (past either:
 *	MIMEWALK_LIMIT, nothing more is walked).
 */
#ifndef MILTER_MIMEWALK_H
#define MILTER_MIMEWALK_H

#include <stddef.h>

#define MIMEWALK_LINE_MAX 8192

typedef struct mimewalk mimewalk;

/* Distinct attachment names of one part; past it: MIMEWALK_LIMIT. */
#define MIMEWALK_NAMES_MAX 16

typedef struct {
	const char *type;     /* lower case, "text" */
	const char *subtype;  /* lower case, "plain" */
	const char *filename; /* names[0], or NULL when nnames is 0 */
	unsigned depth;       /* 0: the message itself */
	unsigned index;       /* 0, 1, 2... in walking order */
	int text;             /* its content goes to the text callback */
	/*
	 * Every distinct attachment name of the part, UTF-8, no NUL bytes in
	 * them: Content-Disposition filename* (RFC 2231) then filename, then
	 * Content-Type name* then name, each in header order. Clients differ
	 * in which they show, so a caller that matches names must match each.
	 * NULL after the last; valid during the part callback only.
	 */
	const char *const *names;
	size_t nnames;
} mimewalk_part;

typedef struct {
	/* Each part, once its headers are read. Non-zero: stop (MIMEWALK_STOP). */
	int (*part)(void *arg, const mimewalk_part *p);
	/* Decoded UTF-8 text of the current text part. Non-zero: stop. */
	int (*text)(void *arg, const unsigned char *buf, size_t len);
	void *arg;
} mimewalk_ops;

typedef struct {
	size_t max_text;    /* decoded text bytes given to text() in all */
	unsigned max_depth; /* nesting */
	unsigned max_parts; /* parts, the message itself included */
} mimewalk_limits;

typedef enum {
	MIMEWALK_MORE = 0, /* give me more body */
	MIMEWALK_DONE,     /* max_text reached: nothing more is needed */
	MIMEWALK_STOP,     /* a callback said stop */
	MIMEWALK_LIMIT,    /* a limit passed, or MIME it cannot judge: the rest is not walked */
	MIMEWALK_NOMEM,
} mimewalk_rc;

/* NULL when out of memory. ops and limits are copied. */
mimewalk *mimewalk_new(const mimewalk_ops *ops, const mimewalk_limits *lim);
void mimewalk_free(mimewalk *w);

/* One header of the message itself, before any body (name without colon). */
mimewalk_rc mimewalk_header(mimewalk *w, const char *name, const char *value);

/* Body bytes; after anything but MIMEWALK_MORE, further calls return the same. */
mimewalk_rc mimewalk_feed(mimewalk *w, const unsigned char *buf, size_t len);

/* The body has ended: flush the decoders (a last line without CRLF). */
mimewalk_rc mimewalk_end(mimewalk *w);

/* Body bytes taken in, decoded text bytes given out (logs, stats, tests). */
size_t mimewalk_raw_bytes(const mimewalk *w);
size_t mimewalk_text_bytes(const mimewalk *w);

#endif /* MILTER_MIMEWALK_H */
