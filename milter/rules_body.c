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
 *
 *	Line ends. Body patterns are multiline with newline ANYCRLF (rules.c),
 *	so a CR at the end of a window may be the first half of a CRLF. Before
 *	the end, a window is matched only up to its last byte that is not a
 *	CR, an LF or non-ASCII (held_tail): a trailing line end waits in the
 *	carry (a multiline ^ never matches after a newline that ends the
 *	subject, and a CR last would look like a whole line end), and
 *	the carried context always holds at least the last 4 bytes, so ^ after
 *	a CRLF split between chunks, and $ before it, are decided as over the
 *	whole body (tests/milter_unit: test_body_crlf_split cuts every body at
 *	every pair of positions; fuzz_rules compares with a whole-body match).
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
 *	Likewise a trailing run of non-ASCII bytes waits in the carry for
 *	the next chunk. So a UTF-8 character split between chunks is seen whole, and
 *	PCRE2 never sees a partial-mode subject that ends in invalid UTF-8
 *	(10.42's JIT reads past the end of such subjects; see held_tail).
 *	A match inside a run of more than RULES_CARRY_MAX non-ASCII bytes
 *	(or CRs and LFs) can be missed.
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

static const char oom_which[] = "body_patterns (out of memory)";

static void scan_release_body(rules_scan *s)
{
	free(s->buf);
	s->buf = NULL;
	s->cap = s->clen = s->coff = 0;
}

/*
 * The trailing run of non-ASCII bytes, CRs and LFs of w: a partial-match
 * window stops before it, and the run is carried into the next window. A
 * line end held back is decided with what follows it: with a CR last,
 * PCRE2 would take "^$" after it for an empty line (CRLF is one line end),
 * and with an LF last, a multiline ^ never matches after it (as in Perl, ^
 * does not match after a newline that ends the subject). That keeps a
 * UTF-8 character split between chunks whole, and keeps PCRE2 10.42's JIT
 * from ever seeing a subject that ends in invalid UTF-8 in partial mode:
 * it reads past the end of such a subject (seen with \b and \B, e.g.
 * /\bx/ on "a\xa0"), and its interpreter reports partial matches there
 * that the JIT does not (PCRE2 pull request 238, fixed in 10.43).
 */
static int held(unsigned char c)
{
	return c >= 0x80 || c == '\r' || c == '\n';
}

static size_t held_tail(const unsigned char *w, size_t wlen)
{
	size_t n = 0;

	while (n < wlen && held(w[wlen - n - 1]))
		n++;
	return n;
}

static int scan_reserve(rules_scan *s, size_t need)
{
	unsigned char *nb;

	if (need <= s->cap)
		return 0;
	if ((nb = realloc(s->buf, need)) == NULL)
		return -1;
	s->buf = nb;
	s->cap = need;
	return 0;
}

/*
 * Keep what the next window needs: the bytes from keep (the earliest
 * position a match may still start at) to the end, after r->context bytes
 * of lookbehind, at most RULES_CARRY_MAX in all.
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
	if (w != s->buf && scan_reserve(s, n) < 0)
		return -1;
	memmove(s->buf, w + from, n);
	s->clen = n;
	s->coff = keep - from;
	if (s->cap > 2 * (size_t)RULES_CARRY_MAX) { /* after an outsized chunk */
		size_t want = n > RULES_CARRY_MAX ? n : RULES_CARRY_MAX;
		unsigned char *nb = realloc(s->buf, want);

		if (nb != NULL) {
			s->buf = nb;
			s->cap = want;
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

	if (s->clen == 0) { /* the first chunk: match it in place */
		w = chunk != NULL ? chunk : (const unsigned char *)"";
		wlen = len;
		off = 0;
	} else {
		if (scan_reserve(s, s->clen + len) < 0) {
			s->which = oom_which;
			goto end;
		}
		if (len > 0)
			memcpy(s->buf + s->clen, chunk, len);
		w = s->buf;
		wlen = s->clen + len;
		off = s->coff;
	}

	mlen = final ? wlen : wlen - held_tail(w, wlen);
	keep = mlen;
	for (size_t i = 0; mlen >= off && i < r->nbody; i++) {
		int m = rules_match(s, r->body[i].re, w, mlen, off, final ? 0 : PCRE2_PARTIAL_HARD);

		if (m == M_YES || m == M_ERROR) {
			s->which = m == M_YES ? r->body[i].which : r->body[i].which_err;
			goto end;
		}
		if (m == M_PARTIAL) {
			size_t st = pcre2_get_ovector_pointer(s->md)[0];

			if (st < off)
				st = off;
			if (st < keep)
				keep = st;
		}
	}
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
