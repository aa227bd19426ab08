/*
 * NAME
 *	rules.h - encryption flagging rules: subject tag, header, body and
 *	attachment-name patterns
 * DESCRIPTION
 *	SPEC section 4, "Encryption flagging". A rules object is compiled once
 *	per configuration (PCRE2, JIT when available) and is then immutable:
 *	any number of milter threads share it. Each message gets its own scan
 *	state (rules_scan), which holds the bounded body window. The decrypt
 *	patterns are a second rules object with body patterns only.
 *
 *	What each rule kind sees. This module matches what the caller passes;
 *	which text that is (raw or decoded) is the caller's choice, and
 *	mlfi.c's contract with the MIME decoder (mimehdr.h, mimewalk.h):
 *	- subject_tag: one PCRE2 pattern, matched against the Subject value
 *	  exactly as passed (no unfolding, no trimming: the offsets it returns
 *	  are for stripping); default "^\s*\[(encrypt|secure)\]".
 *	  With strip_subject_tag the matched text is removed.
 *	- header_patterns: a list of "Header-Name: PATTERN"; PATTERN is matched
 *	  against the value of every header of that name (names compared
 *	  case-insensitively), unfolded here (every CR and LF removed) and
 *	  trimmed of leading and trailing spaces and tabs, so "^secret$"
 *	  matches "Subject:\r\n secret". The milter passes the value with
 *	  RFC 2047 encoded words decoded to UTF-8.
 *	- body_patterns: a list of PATTERNs matched against the text fed to
 *	  rules_scan_body(), up to body_scan_limit bytes: the milter feeds the
 *	  decoded UTF-8 text of each text part, parts separated by "\r\n".
 *	  Body patterns are multiline (PCRE2_MULTILINE; "(?-m)" turns it off):
 *	  ^ and $ match at every line start and end, and a line ends at CR, LF
 *	  or CRLF (PCRE2_NEWLINE_ANYCRLF, for every kind), so "^SECRET-LINE$"
 *	  matches a line of a CRLF body. \A and \z stay the start and end of
 *	  the whole scanned text. A match that spans two chunks is found:
 *	  partial matches at a chunk's end are carried into the next
 *	  (PCRE2_PARTIAL_HARD), with at most RULES_CARRY_MAX bytes kept per
 *	  message.
 *	- attachment_patterns: a list of PATTERNs matched against an
 *	  attachment's file name as passed to rules_scan_attachment() (the
 *	  milter passes the decoded UTF-8 name, RFC 2231 and 2047 undone).
 *	Patterns are case-insensitive (PCRE2_CASELESS) and UTF-8-safe
 *	(PCRE2_MATCH_INVALID_UTF), so hostile bytes never fail a match.
 *
 *	Cost. Every match runs under RULES_MATCH_LIMIT, RULES_DEPTH_LIMIT and
 *	an 8 MiB heap limit. Measured with the JIT (test_rules prints it:
 *	test_match_limits_fast): "(a+)+$" on 64 KiB of "a" ending in "b"
 *	ends with a match error in about 3 to 6 ms per body window, and on a
 *	100 KB header value likewise; "(a|aa)+$", "^(\w+\s?)*$" and
 *	"(x+x+)+y" alike. A limit hit, or any other match error, counts as a
 *	match: which then ends in " (match error)" (rules_which_is_error()),
 *	and the message is flagged (fail safe). A pattern that is quadratic
 *	on ordinary text (as "\w+@\w+\.com" on one 64 KiB word) can hit the
 *	limit too, and then flags the message.
 */
#ifndef MILTER_RULES_H
#define MILTER_RULES_H

#include <stddef.h>

#define RULES_CARRY_MAX 65536     /* bytes of a partial body match carried across chunks */
#define RULES_MATCH_LIMIT 1000000 /* pcre2_set_match_limit() */
#define RULES_DEPTH_LIMIT 10000   /* pcre2_set_depth_limit() (interpreter only) */

typedef struct rules rules;
typedef struct rules_scan rules_scan;

typedef struct {
	const char *subject_tag;            /* NULL or "" disables the tag */
	const char *const *header_patterns; /* "Name: PATTERN" */
	size_t nheader_patterns;
	const char *const *body_patterns;
	size_t nbody_patterns;
	size_t body_scan_limit; /* bytes; 0 disables body scanning */
	const char *const *attachment_patterns;
	size_t nattachment_patterns;
} rules_config;

/* Compile; NULL with "header_patterns[2]: PATTERN: reason at offset N" in why. */
rules *rules_new(const rules_config *cfg, char *why, size_t whylen);
void rules_free(rules *r);

/* Is there any body pattern (so the milter needs the body at all)? */
int rules_want_body(const rules *r);
/* Is there any header pattern or subject tag (so it needs headers)? */
int rules_want_headers(const rules *r);
/* Is there any attachment pattern (so it needs the attachment names)? */
int rules_want_attachments(const rules *r);

/*
 * 1 when the subject tag matches value; *start and *end bound the matched text
 * (for stripping). 1 with *start == *end on a match error. 0 when not, or
 * when no tag is configured.
 */
int rules_subject_tag(const rules *r, const char *value, size_t len, size_t *start, size_t *end);
/* Is a subject tag configured? */
int rules_want_subject(const rules *r);

/* Per message. NULL when out of memory. */
rules_scan *rules_scan_new(const rules *r);
void rules_scan_free(rules_scan *s);

/*
 * Feed one header. Returns 1 when a header pattern matched or hit a match
 * error (then *which names it, e.g. "header_patterns[1]" or
 * "header_patterns[1] (match error)"), else 0.
 */
int rules_scan_header(rules_scan *s, const char *name, const char *value, const char **which);

/*
 * A header of this name could not be judged (the MTA cut it: content.h):
 * 1 when a header pattern names it, with *which its match error
 * ("header_patterns[1] (match error)"), as for any match that cannot
 * complete; else 0.
 */
int rules_header_unjudged(const rules_scan *s, const char *name, const char **which);

/*
 * Feed one attachment file name of len bytes. Returns 1 on a match or a
 * match error, with *which "attachment_patterns[N]" or
 * "attachment_patterns[N] (match error)"; else 0. Not sticky.
 */
int rules_scan_attachment(rules_scan *s, const char *name, size_t len, const char **which);

/*
 * Feed one body chunk. Returns 1 once any body pattern has matched (and on
 * every later call), with *which naming it ("body_patterns[0]"); else 0.
 * Bytes beyond body_scan_limit are ignored. chunk NULL marks the end. While
 * a partial match over 4 KB is pending, small chunks are collected and a
 * match may be reported some calls late (rules_body.c); the end marker
 * reports every match.
 */
int rules_scan_body(rules_scan *s, const unsigned char *chunk, size_t len, const char **which);

/* Bytes of body scanned so far (for logs and tests). */
size_t rules_scan_body_bytes(const rules_scan *s);

/*
 * The compiled rules, for the stats dump: emit() once per rule in config
 * order (subject_tag, header_patterns, body_patterns, attachment_patterns),
 * which as in the scan results ("body_patterns[2]"), source as configured
 * ("Name: PATTERN" for header entries). Body patterns are listed only when
 * body scanning is on (body_scan_limit > 0).
 */
void rules_list(const rules *r, void (*emit)(void *arg, const char *which, const char *source),
                void *arg);

/* Is which (from any scan) a match error rather than a match? */
int rules_which_is_error(const char *which);

#endif /* MILTER_RULES_H */
