/*
 * NAME
 *	rules.h - encryption flagging rules: subject tag, header and body patterns
 * DESCRIPTION
 *	SPEC section 4, "Encryption flagging". A rules object is compiled once
 *	per configuration (PCRE2, JIT when available) and is then immutable:
 *	any number of milter threads share it. Each message gets its own scan
 *	state (rules_scan), which holds the bounded body window.
 *
 *	Pattern syntax in the configuration:
 *	- subject_tag: one PCRE2 pattern, matched against the Subject value;
 *	  default "^\s*\[(encrypt|secure)\]", case-insensitive. With
 *	  strip_subject_tag the matched text is removed (rules_subject_strip).
 *	- header_patterns: a list of "Header-Name: PATTERN"; PATTERN is matched
 *	  against the (unfolded) value of every header of that name, names
 *	  compared case-insensitively.
 *	- body_patterns: a list of PATTERNs matched against the raw body (as the
 *	  MTA passes it, CRLF line ends, no MIME decoding), up to body_scan_limit
 *	  bytes. A match that spans two body chunks is found: partial matches
 *	  at a chunk's end are carried into the next (PCRE2_PARTIAL_HARD), with at
 *	  most RULES_CARRY_MAX bytes kept per message.
 *	Patterns are case-insensitive (PCRE2_CASELESS) and UTF-8-safe
 *	(PCRE2_MATCH_INVALID_UTF), so hostile bytes never fail a match.
 */
#ifndef MILTER_RULES_H
#define MILTER_RULES_H

#include <stddef.h>

#define RULES_CARRY_MAX 65536 /* bytes of a partial body match carried across chunks */

typedef struct rules rules;
typedef struct rules_scan rules_scan;

typedef struct {
	const char *subject_tag;            /* NULL or "" disables the tag */
	const char *const *header_patterns; /* "Name: PATTERN" */
	size_t nheader_patterns;
	const char *const *body_patterns;
	size_t nbody_patterns;
	size_t body_scan_limit; /* bytes; 0 disables body scanning */
} rules_config;

/* Compile; NULL with "header_patterns[2]: PATTERN: reason at offset N" in why. */
rules *rules_new(const rules_config *cfg, char *why, size_t whylen);
void rules_free(rules *r);

/* Is there any body pattern (so the milter needs the body at all)? */
int rules_want_body(const rules *r);
/* Is there any header pattern or subject tag (so it needs headers)? */
int rules_want_headers(const rules *r);

/*
 * 1 when the subject tag matches value; *start and *end bound the matched text
 * (for stripping). 0 when not, or when no tag is configured.
 */
int rules_subject_tag(const rules *r, const char *value, size_t len, size_t *start, size_t *end);

/* Per message. NULL when out of memory. */
rules_scan *rules_scan_new(const rules *r);
void rules_scan_free(rules_scan *s);

/*
 * Feed one header. Returns 1 when a header pattern matched (then *which
 * names it, e.g. "header_patterns[1]"), else 0.
 */
int rules_scan_header(rules_scan *s, const char *name, const char *value, const char **which);

/*
 * Feed one body chunk. Returns 1 once any body pattern has matched (and on
 * every later call), with *which naming it ("body_patterns[0]"); else 0.
 * Bytes beyond body_scan_limit are ignored.
 */
int rules_scan_body(rules_scan *s, const unsigned char *chunk, size_t len, const char **which);

/* Bytes of body scanned so far (for logs and tests). */
size_t rules_scan_body_bytes(const rules_scan *s);

#endif /* MILTER_RULES_H */
