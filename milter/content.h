/*
 * NAME
 *	content.h - one message's content rules: headers decoded, the body part by part
 * DESCRIPTION
 *	What the rules see (SPEC 4, "Encryption flagging"; issue 8). A content
 *	object joins, for one message, the MIME walker (mimewalk.h) and the
 *	pattern scans (rules.h): the milter gives it the message's headers and
 *	its body chunks as the MTA sends them, and asks at the end which rule
 *	matched.
 *	- Encryption rules (outbound mail): header_patterns see each header
 *	  of the message decoded (mimehdr_decode); body_patterns see the
 *	  decoded UTF-8 text of every text part, parts one after the other,
 *	  each ended by CRLF; attachment_patterns see each part's decoded file
 *	  name. The subject tag stays with the milter, which strips it.
 *	- Decrypt rules (inbound mail): decrypt_patterns on the same decoded
 *	  text; the Content-Type of the message (mimehdr_encrypted).
 *	- With decode off (milter.mime_decode = false) body patterns see the
 *	  raw body as the MTA sends it, as before issue 8, and attachment
 *	  patterns see nothing.
 *	Bounds: body_scan_limit decoded bytes, body_read_limit raw bytes,
 *	mime_max_depth, mime_max_parts. Reaching any of them counts as a
 *	match of the encryption rules ("mime limit", "body_scan_limit",
 *	"body_read_limit"): what was not scanned may hold anything. For the
 *	decrypt rules a limit is no match (no clear text leaves because of
 *	it), except the depth and part limits, which ask for decryption too.
 */
#ifndef MILTER_CONTENT_H
#define MILTER_CONTENT_H

#include <stddef.h>

#include "rules.h"

/*
 * A header value this long may have been cut by the MTA: Postfix keeps
 * at most 60,000 bytes of a header line when milters are in use (cleanup's
 * KLUDGE_HEADER_LIMIT, for libmilter's 65,535-byte packets) and drops the
 * rest without a word, so a tag behind 90,000 blanks is gone before any
 * milter sees it. A header pattern (or the subject tag) whose header is
 * this long counts as matched: a match error.
 */
#define CONTENT_HEADER_CUT 59000

typedef struct {
	int decode;         /* milter.mime_decode */
	size_t scan_limit;  /* milter.body_scan_limit: decoded bytes */
	size_t read_limit;  /* milter.body_read_limit: raw bytes */
	unsigned max_depth; /* milter.mime_max_depth */
	unsigned max_parts; /* milter.mime_max_parts */
} content_config;

typedef struct content content;

typedef enum {
	CONTENT_MORE = 0, /* send more body */
	CONTENT_DONE,     /* decided, or a limit reached: the rest is not needed */
	CONTENT_NOMEM,
} content_rc;

/*
 * enc: encryption rules (or NULL); dec: decrypt rules (or NULL). Both are
 * held by the caller's snapshot for the message's life. NULL when out of
 * memory.
 */
content *content_new(const content_config *cfg, const rules *enc, const rules *dec);
void content_free(content *ct);

/* Does the message's body need to be read at all? */
int content_wants_body(const content *ct);

/*
 * One header of the message. decoded is its value as mimehdr_decode()
 * gave it (NULL when the caller did not decode it: it is then decoded
 * here when a rule needs it); raw the value as the MTA sent it.
 */
content_rc content_header(content *ct, const char *name, const char *raw, const char *decoded);

content_rc content_body(content *ct, const unsigned char *chunk, size_t len);

/* The body has ended (some patterns need to see its end). */
content_rc content_end(content *ct);

/* Which rule flagged the message for encryption, or NULL. */
const char *content_flagged(const content *ct);
/* Which decrypt rule matched, or NULL. */
const char *content_decrypt(const content *ct);
/* Raw body bytes read and decoded bytes scanned. */
size_t content_raw_bytes(const content *ct);
size_t content_text_bytes(const content *ct);

#endif /* MILTER_CONTENT_H */
