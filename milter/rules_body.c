/*
 * NAME
 *	rules_body.c - the streaming body scan of the encryption (and decrypt)
 *	rules
 * SUMMARY
 *	rules_scan_body(), rules_scan_body_bytes()
 * DESCRIPTION
 *	See rules.h for the contract, rules.c for how patterns are compiled.
 *
 *	Body scanning. The body arrives in chunks. Each chunk is matched as a
 *	"window": the bytes carried from earlier chunks followed by the chunk.
 *	Every body pattern is matched with PCRE2_PARTIAL_HARD; a complete
 *	match ends the scan. A partial match (a match that could complete with
 *	more data) keeps the window from its start to the end: the carry. The
 *	carry starts at the earliest partial start over all patterns, preceded
 *	by a few bytes of context so that lookbehinds, \b, \B, ^ and $ see what
 *	a match over the whole body would see (the next window is matched from
 *	a start offset, never from its first byte). Without a partial match
 *	only the context is carried. The carry never exceeds RULES_CARRY_MAX
 *	bytes: when it would, only its last RULES_CARRY_MAX bytes are kept,
 *	and a match that would have started in the dropped bytes is not found.
 *	Memory per message is the carry plus one copy of the current chunk
 *	(the first chunk is matched in place), and the PCRE2 match state.
 *	The carry stays where it is in buf; new chunks are appended after it,
 *	and it is moved to the front only when buf is full, so small calls
 *	do not each move it.
 *
 *	Line ends. Body patterns are multiline with newline ANYCRLF (rules.c),
 *	so a CR at the end of a window may be the first half of a CRLF. Before
 *	the end, a window is matched only up to before its final CR, LF or
 *	CRLF (held_tail): the line end waits in the carry (a CR last would
 *	look like a whole line end, and after an LF last PCRE2 takes the
 *	position for the end of the body). Nothing more is held: a window
 *	may end right after an earlier line end, and there a multiline ^
 *	does not match by default ("as in Perl, not after a newline that ends
 *	the subject"), so that "\n^$" would be missed over "x\n" | "\ny".
 *	The windows before the end are therefore matched with a second
 *	compile of each pattern, with PCRE2_ALT_CIRCUMFLEX (^ matches there
 *	too): right, because a held byte always follows in the body. The
 *	end of the body is matched with the pattern as configured. The
 *	carried context always holds at least the last 4 bytes, so ^ after a
 *	CRLF split between chunks, and $ before it, are decided as over the
 *	whole body (tests/milter_unit: test_body_crlf_split cuts every body at
 *	every pair of positions; fuzz_rules compares with a whole-body match).
 *
 *	Non-ASCII. An incomplete UTF-8 sequence at the end of a window (a lead
 *	byte and fewer continuation bytes than it announces, at most 3 bytes)
 *	is held instead, so a character split between chunks is seen whole.
 *	So at most 3 bytes are ever held, and, without a pending partial
 *	match, the carry is the lookbehind context and those bytes: a call
 *	costs in proportion to its bytes, however many calls came before
 *	(attack8 findings 2 and 3: a held run of line ends or non-ASCII text
 *	grew to 64 KB, was copied and re-scanned by every call, and pushed a
 *	keyword out of the carry).
 *
 *	Invalid UTF-8 (attacker input: the MIME walker passes invalid bytes
 *	through) can still end a window, and PCRE2 10.42's JIT reads past the
 *	end of a partial-mode subject that ends in invalid UTF-8 (seen with
 *	\b and \B, e.g. /\bx/ on "a\xa0"; PCRE2 pull request 238, fixed in
 *	10.43). Its interpreter is no way out: it reads past the end of
 *	"\xff\x03" for a multiline "^start" even in complete mode. So such a
 *	window is matched in buf, where the held bytes and SCAN_PAD bytes
 *	0xff follow it (an invalid byte either way, never a continuation
 *	byte): a read past the end stays in the buffer and sees invalid
 *	UTF-8 there too (fuzz_rules lays the window out the same way before
 *	an inaccessible page). A first chunk that ends so is copied there
 *	rather than matched in place.
 *
 *	The end of the body. Because of PCRE2_PARTIAL_HARD, a window that ends
 *	in a match needing to know what follows ("SSN" at the end for
 *	"\bSSN\b", or "foo|o" ending in "fo") is reported as partial. Two
 *	events make the scanned bytes final; they are then matched once more
 *	without partial matching, as a complete body:
 *	- the chunk that reaches body_scan_limit (it is truncated there: the
 *	  body is scanned as if it ended at the limit, so a match that
 *	  straddles the limit is not found);
 *	- rules_scan_body(s, NULL, 0, &which), which marks the end of the body
 *	  (the milter calls it at end of message). An empty chunk with a
 *	  non-NULL pointer is a no-op.
 *	With the end marked, and when no bytes were dropped from a carry, the
 *	result is exactly that of one pcre2_match() over the whole body (or
 *	its first body_scan_limit bytes).
 *
 *	Small calls while a long partial match is pending. Every window is
 *	matched from the earliest pending partial start, so a partial match
 *	kept pending (e.g. "A[^B]*B" after an "A") would cost its whole length
 *	per call: 3 s per MB in 2-byte calls. When more than SCAN_DEFER_MIN
 *	bytes are to be matched and less than a quarter of them are new, the
 *	chunk is only appended; the window is matched once a quarter is new,
 *	and at the end. So the bytes matched are at most 4 times the bytes
 *	fed, and a match that completes meanwhile is reported up to that many
 *	bytes later (the end marker reports every match as before).
 *
 *	A match whose start is more than RULES_CARRY_MAX bytes back when
 *	the window is cut (a long pending partial match) can be missed.
 * DIAGNOSTICS
 *	A match that cannot be completed (PCRE2 match, depth or heap limit,
 *	JIT stack exhausted, out of memory) counts as a match: *which is
 *	"body_patterns[N] (match error)", or "body_patterns (out of memory)"
 *	when the window could not be kept.
 * SEE ALSO
 *	rules.h, rules.c, pcre2partial(3)
 */
#include <stdlib.h>
#include <string.h>

#include "rules_int.h"

#define SCAN_BUF_MIN 4096   /* the window buffer grows from this */
#define SCAN_PAD 8          /* 0xff bytes after a window in buf (see "Invalid UTF-8") */
#define SCAN_DEFER_MIN 4096 /* a pending partial match this long defers small calls */

static const char oom_which[] = "body_patterns (out of memory)";

static void scan_release_body(rules_scan *s)
{
	free(s->buf);
	s->buf = NULL;
	s->cap = s->cbeg = s->clen = s->coff = 0;
}

/* The length of the UTF-8 sequence that lead byte c starts; 0: not a lead byte. */
static size_t utf8_need(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0)
		return 2;
	if (c < 0xf0)
		return 3;
	return c < 0xf5 ? 4 : 0;
}

/* Where the last UTF-8 sequence of w[0..n) starts (n > 0): at most 3 continuation bytes back. */
static size_t last_lead(const unsigned char *w, size_t n)
{
	size_t i = n - 1;

	while (i > 0 && n - i < 4 && (w[i] & 0xc0) == 0x80)
		i--;
	return i;
}

/*
 * The bytes at the end of w that wait for the next chunk: an incomplete
 * final UTF-8 sequence (a lead byte and fewer continuation bytes than it
 * announces), else a final CR, LF or CRLF. Never more than 3 bytes.
 */
static size_t held_tail(const unsigned char *w, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	i = last_lead(w, n);
	if (utf8_need(w[i]) > n - i)
		return n - i;
	if (w[n - 1] == '\n')
		return n >= 2 && w[n - 2] == '\r' ? 2 : 1;
	return w[n - 1] == '\r';
}

/*
 * Does w[0..n) end in a whole, valid UTF-8 character (or n == 0)? Overlong
 * forms and surrogates are invalid, as for PCRE2.
 */
static int utf8_end_ok(const unsigned char *w, size_t n)
{
	size_t i, need;
	unsigned char c, d;

	if (n == 0 || w[n - 1] < 0x80)
		return 1;
	i = last_lead(w, n);
	need = utf8_need(w[i]);
	if (need < 2 || need != n - i)
		return 0;
	c = w[i];
	d = w[i + 1];
	return !((c == 0xe0 && d < 0xa0) || (c == 0xed && d > 0x9f) || (c == 0xf0 && d < 0x90) ||
	         (c == 0xf4 && d > 0x8f));
}

static int scan_reserve(rules_scan *s, size_t need)
{
	unsigned char *nb;
	size_t want = 2 * s->cap;

	if (need <= s->cap)
		return 0;
	if (want < SCAN_BUF_MIN)
		want = SCAN_BUF_MIN;
	if (want > 2 * (size_t)RULES_CARRY_MAX)
		want = 2 * (size_t)RULES_CARRY_MAX;
	if (want < need)
		want = need;
	if ((nb = realloc(s->buf, want)) == NULL)
		return -1;
	s->buf = nb;
	s->cap = want;
	return 0;
}

/*
 * Append len bytes after the carry (moving the carry to the front of buf
 * when full), followed by SCAN_PAD bytes 0xff that are not part of it.
 */
static int scan_append(rules_scan *s, const unsigned char *chunk, size_t len)
{
	if (s->clen + len + SCAN_PAD > s->cap && s->cbeg > 0) {
		memmove(s->buf, s->buf + s->cbeg, s->clen - s->cbeg);
		s->clen -= s->cbeg;
		s->cbeg = 0;
	}
	if (scan_reserve(s, s->clen + len + SCAN_PAD) < 0)
		return -1;
	if (len > 0)
		memcpy(s->buf + s->clen, chunk, len);
	s->clen += len;
	memset(s->buf + s->clen, 0xff, SCAN_PAD);
	return 0;
}

/*
 * Keep what the next window needs: the bytes from keep (the earliest
 * position a match may still start at) to the end, after r->context bytes
 * of lookbehind, at most RULES_CARRY_MAX in all. A window in buf stays
 * where it is (only cbeg moves); a chunk matched in place is copied.
 */
static int scan_carry(rules_scan *s, const unsigned char *w, size_t wlen, size_t keep)
{
	size_t ctx = s->r->context;
	size_t from = keep > ctx ? keep - ctx : 0, n;

	if (wlen - from > RULES_CARRY_MAX) {
		from = wlen - RULES_CARRY_MAX;
		if (keep < from + ctx)
			keep = from + ctx;
	}
	n = wlen - from;
	if (s->clen > s->cbeg) { /* w is the window in buf */
		s->cbeg += from;
	} else {
		if (scan_reserve(s, n) < 0)
			return -1;
		memcpy(s->buf, w + from, n);
		s->cbeg = 0;
		s->clen = n;
	}
	s->coff = keep - from;
	if (s->cap > 4 * (size_t)RULES_CARRY_MAX) { /* after an outsized chunk */
		size_t want = n > RULES_CARRY_MAX ? n : RULES_CARRY_MAX;
		unsigned char *nb;

		memmove(s->buf, s->buf + s->cbeg, n);
		s->cbeg = 0;
		s->clen = n;
		if ((nb = realloc(s->buf, want)) != NULL) {
			s->buf = nb;
			s->cap = want;
		}
	}
	return 0;
}

/*
 * Match every pattern on w[0..mlen) from off: 1 with s->which on a match
 * or an error, else 0 with *keep lowered to the earliest partial start.
 */
static int scan_window(rules_scan *s, const unsigned char *w, size_t mlen, size_t off, int final,
                       size_t *keep)
{
	const rules *r = s->r;
	uint32_t opts = final ? 0 : PCRE2_PARTIAL_HARD;
	for (size_t i = 0; mlen >= off && i < r->nbody; i++) {
		const pcre2_code *re = final ? r->body[i].re : r->body[i].pre;
		int m = rules_match(s, re, w, mlen, off, opts);

		if (m == M_YES || m == M_ERROR) {
			s->which = m == M_YES ? r->body[i].which : r->body[i].which_err;
			return 1;
		}
		if (m == M_PARTIAL) {
			size_t st = pcre2_get_ovector_pointer(s->md)[0];

			if (st < off)
				st = off;
			if (st < *keep)
				*keep = st;
		}
	}
	return 0;
}

int rules_scan_body(rules_scan *s, const unsigned char *chunk, size_t len, const char **which)
{
	const rules *r = s->r;
	const unsigned char *w;
	size_t wlen, mlen, off, keep, room;
	int final = chunk == NULL;

	if (s->which != NULL)
		goto matched;
	if (s->done)
		return 0;
	if (r->nbody == 0 || r->limit == 0) {
		s->done = 1;
		return 0;
	}
	if (final)
		len = 0;
	room = r->limit - s->bytes;
	if (len >= room) {
		len = room;
		final = 1;
	}
	if (len == 0 && !final)
		return 0;
	s->bytes += len;

	w = chunk != NULL ? chunk : (const unsigned char *)"";
	wlen = len;
	mlen = final ? wlen : wlen - held_tail(w, wlen);
	off = 0;
	/* The first chunk is matched in place, unless it needs padding. */
	if (s->clen > s->cbeg || (!final && !utf8_end_ok(w, mlen))) {
		if (scan_append(s, chunk, len) < 0) {
			s->which = oom_which;
			goto end;
		}
		w = s->buf + s->cbeg;
		wlen = s->clen - s->cbeg;
		mlen = final ? wlen : wlen - held_tail(w, wlen);
		off = s->coff;
		s->unmatched += len;
		/* A long partial match pending: match again once a quarter of it is new. */
		if (!final && wlen - off > SCAN_DEFER_MIN && s->unmatched < (wlen - off) / 4)
			return 0;
	}
	s->unmatched = 0;
	keep = mlen;
	if (scan_window(s, w, mlen, off, final, &keep))
		goto end;
	if (!final) {
		if (scan_carry(s, w, wlen, keep) < 0) {
			s->which = oom_which;
			goto end;
		}
		return 0;
	}
end:
	s->done = 1;
	scan_release_body(s);
	if (s->which == NULL)
		return 0;
matched:
	if (which)
		*which = s->which;
	return 1;
}

size_t rules_scan_body_bytes(const rules_scan *s)
{
	return s->bytes;
}
