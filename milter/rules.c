/*
 * NAME
 *	rules.c - encryption flagging rules: subject tag, header and body patterns
 * SUMMARY
 *	rules_new(), rules_free(), rules_want_body(), rules_want_headers(),
 *	rules_subject_tag(), rules_scan_new(), rules_scan_free(),
 *	rules_scan_header(), rules_scan_body(), rules_scan_body_bytes()
 * DESCRIPTION
 *	See rules.h for the contract. Every pattern is compiled once by
 *	rules_new() with PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_CASELESS
 *	and, when the library has a JIT, JIT-compiled for complete and
 *	hard-partial matching (a failed JIT compile silently leaves the
 *	interpreter). A rules object is never written after rules_new(), so
 *	threads share it; all match state (pcre2_match_data, the body window,
 *	a JIT stack) lives in the per-message rules_scan, or per call for
 *	rules_subject_tag().
 *
 *	Configuration syntax:
 *	- header_patterns entries are "Name: PATTERN", split at the first ':'.
 *	  Spaces and tabs around the name and before PATTERN are removed;
 *	  trailing ones are kept (they may be part of PATTERN, as in "a\ ").
 *	  The name must be a non-empty RFC 5322 field name. Empty patterns are
 *	  refused everywhere (use "^" to match any value or any body).
 *	- Header values are unfolded here (every CR and LF removed) before they
 *	  are matched, so callers may pass them folded as the MTA sent them.
 *
 *	Body scanning. The body arrives in chunks. Each chunk is matched as a
 *	"window": the bytes carried from earlier chunks followed by the chunk.
 *	Every body pattern is matched with PCRE2_PARTIAL_HARD; a complete
 *	match ends the scan. A partial match (a match that could complete with
 *	more data) keeps the window from its start to the end: the carry. The
 *	carry starts at the earliest partial start over all patterns, preceded
 *	by a few bytes of context so that lookbehinds, \b, \B and ^ see what a
 *	match over the whole body would see (the next window is matched from
 *	a start offset, never from its first byte). Without a partial match
 *	only the context is carried. The carry never exceeds RULES_CARRY_MAX
 *	bytes: when it would, only its last RULES_CARRY_MAX bytes are kept,
 *	and a match that would have started in the dropped bytes is not found.
 *	Memory per message is the carry plus one copy of the current chunk
 *	(the first chunk is matched in place), and the PCRE2 match state.
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
 *	Before the end, a window is matched only up to its last ASCII byte:
 *	a trailing run of non-ASCII bytes waits in the carry for the next
 *	chunk. So a UTF-8 character split between chunks is seen whole, and
 *	PCRE2 never sees a partial-mode subject that ends in invalid UTF-8
 *	(10.42's JIT reads past the end of such subjects; see nonascii_tail).
 *	A match inside a run of more than RULES_CARRY_MAX non-ASCII bytes
 *	can be missed.
 *
 *	Matching never fails on the input: invalid UTF-8 and NUL bytes are
 *	data (PCRE2_MATCH_INVALID_UTF; invalid sequences match nothing and
 *	act as boundaries for lookbehinds).
 * DIAGNOSTICS
 *	rules_new() returns NULL and writes one line into why:
 *	"body_patterns[N]: PATTERN: <PCRE2 error text> at offset K" (and the
 *	same with header_patterns[N] or subject_tag), "header_patterns[N]:
 *	\"ENTRY\": expected \"Name: PATTERN\"", "...: empty pattern", or
 *	"out of memory".
 *
 *	A match that cannot be completed (PCRE2 match, depth or heap limit,
 *	JIT stack exhausted, out of memory) is never read as "no match": the
 *	rule counts as matched, so the message is encrypted rather than sent
 *	in clear, and *which says so: "body_patterns[N] (match error)". The
 *	subject tag then matches with *start == *end (nothing to strip).
 * SEE ALSO
 *	rules.h, SPEC.md section 4, pcre2partial(3), pcre2jit(3),
 *	pcre2unicode(3) (PCRE2_MATCH_INVALID_UTF)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rules.h"

#define RULES_COMPILE_OPTS (PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_CASELESS)
#define RULES_CONTEXT_MAX 1024 /* bytes of lookbehind context kept before a carry */
#define RULES_HEAP_LIMIT 8192  /* KiB of interpreter backtracking memory per match */
#define RULES_JIT_STACK_MIN (32 * 1024)
#define RULES_JIT_STACK_MAX (1024 * 1024)

typedef struct {
	pcre2_code *re;
	char *name;         /* header name (header patterns only) */
	char which[40];     /* "body_patterns[3]" */
	char which_err[56]; /* "body_patterns[3] (match error)" */
} rule;

struct rules {
	pcre2_code *subject;
	rule *hdr;
	size_t nhdr;
	rule *body;
	size_t nbody;
	size_t limit;
	size_t context; /* bytes kept before the earliest carried start */
	pcre2_match_context *mctx;
};

struct rules_scan {
	const rules *r;
	pcre2_match_data *md;
	pcre2_match_context *mctx; /* own copy, once a JIT stack was needed */
	pcre2_jit_stack *jit;
	unsigned char *buf; /* the carry, then the window */
	size_t cap;
	size_t clen;       /* carried bytes at the start of buf */
	size_t coff;       /* matching resumes here; before it: context */
	size_t bytes;      /* body bytes scanned */
	int done;          /* limit or end of body reached */
	const char *which; /* the body rule that matched */
	char *hbuf;        /* unfolded header value */
	size_t hcap;
};

static const char oom_which[] = "body_patterns (out of memory)";

enum { M_NO, M_YES, M_PARTIAL, M_ERROR };

static pcre2_code *compile(const char *what, size_t idx, const char *pattern, uint32_t jitopts,
                           char *why, size_t whylen)
{
	int err;
	PCRE2_SIZE erroff;
	pcre2_code *re;
	char label[64];

	if (idx == SIZE_MAX)
		snprintf(label, sizeof(label), "%s", what);
	else
		snprintf(label, sizeof(label), "%s[%zu]", what, idx);
	if (*pattern == '\0') {
		snprintf(why, whylen, "%s: empty pattern (use ^ to match anything)", label);
		return NULL;
	}
	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, RULES_COMPILE_OPTS, &err,
	                   &erroff, NULL);
	if (re == NULL) {
		PCRE2_UCHAR msg[256];

		if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "PCRE2 error %d", err);
		snprintf(why, whylen, "%s: %s: %s at offset %zu", label, pattern, (char *)msg,
		         (size_t)erroff);
		return NULL;
	}
	(void)pcre2_jit_compile(re, jitopts); /* else the interpreter */
	return re;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* "Name: PATTERN" -> name (allocated) and pattern (inside entry). */
static int split_header_entry(const char *entry, char **name, const char **pattern)
{
	const char *colon = strchr(entry, ':');
	const char *b = entry, *e;

	if (colon == NULL)
		return -1;
	while (b < colon && is_space(*b))
		b++;
	e = colon;
	while (e > b && is_space(e[-1]))
		e--;
	if (e == b)
		return -1;
	for (const char *p = b; p < e; p++) /* RFC 5322 ftext */
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return -1;
	if ((*name = strndup(b, (size_t)(e - b))) == NULL)
		return -2;
	*pattern = colon + 1;
	while (is_space(**pattern))
		(*pattern)++;
	return 0;
}

static void set_which(rule *ru, const char *what, size_t idx)
{
	snprintf(ru->which, sizeof(ru->which), "%s[%zu]", what, idx);
	snprintf(ru->which_err, sizeof(ru->which_err), "%s[%zu] (match error)", what, idx);
}

rules *rules_new(const rules_config *cfg, char *why, size_t whylen)
{
	rules *r = calloc(1, sizeof(*r));
	uint32_t lb, maxlb = 1;

	if (r == NULL)
		goto oom;
	r->limit = cfg->body_scan_limit;
	if ((r->mctx = pcre2_match_context_create(NULL)) == NULL)
		goto oom;
	pcre2_set_heap_limit(r->mctx, RULES_HEAP_LIMIT);

	if (cfg->subject_tag != NULL && *cfg->subject_tag != '\0') {
		r->subject = compile("subject_tag", SIZE_MAX, cfg->subject_tag, PCRE2_JIT_COMPLETE,
		                     why, whylen);
		if (r->subject == NULL)
			goto fail;
	}

	if (cfg->nheader_patterns > 0) {
		if ((r->hdr = calloc(cfg->nheader_patterns, sizeof(*r->hdr))) == NULL)
			goto oom;
	}
	for (size_t i = 0; i < cfg->nheader_patterns; i++) {
		const char *entry = cfg->header_patterns[i], *pattern;
		rule *ru = &r->hdr[r->nhdr];
		int rc = entry == NULL ? -1 : split_header_entry(entry, &ru->name, &pattern);

		if (rc == -2)
			goto oom;
		if (rc < 0) {
			snprintf(why, whylen,
			         "header_patterns[%zu]: \"%s\": expected \"Name: PATTERN\"", i,
			         entry == NULL ? "(null)" : entry);
			goto fail;
		}
		r->nhdr++; /* ru->name is now freed by rules_free */
		ru->re = compile("header_patterns", i, pattern, PCRE2_JIT_COMPLETE, why, whylen);
		if (ru->re == NULL)
			goto fail;
		set_which(ru, "header_patterns", i);
	}

	if (cfg->body_scan_limit > 0 && cfg->nbody_patterns > 0) {
		if ((r->body = calloc(cfg->nbody_patterns, sizeof(*r->body))) == NULL)
			goto oom;
	}
	for (size_t i = 0; i < cfg->nbody_patterns; i++) {
		const char *pattern = cfg->body_patterns[i];
		pcre2_code *re;

		if (pattern == NULL) {
			snprintf(why, whylen, "body_patterns[%zu]: empty pattern", i);
			goto fail;
		}
		re = compile("body_patterns", i, pattern,
		             PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_HARD, why, whylen);
		if (re == NULL)
			goto fail;
		if (r->body == NULL) { /* body scanning disabled: syntax check only */
			pcre2_code_free(re);
			continue;
		}
		r->body[r->nbody].re = re;
		set_which(&r->body[r->nbody], "body_patterns", i);
		r->nbody++;
		if (pcre2_pattern_info(re, PCRE2_INFO_MAXLOOKBEHIND, &lb) == 0 && lb > maxlb)
			maxlb = lb;
	}
	/* Up to 4 bytes per UTF-8 character of lookbehind. */
	r->context = maxlb > RULES_CONTEXT_MAX / 4 ? RULES_CONTEXT_MAX : 4 * (size_t)maxlb;
	return r;

oom:
	snprintf(why, whylen, "out of memory");
fail:
	rules_free(r);
	return NULL;
}

void rules_free(rules *r)
{
	if (r == NULL)
		return;
	pcre2_code_free(r->subject);
	for (size_t i = 0; i < r->nhdr; i++) {
		pcre2_code_free(r->hdr[i].re);
		free(r->hdr[i].name);
	}
	free(r->hdr);
	for (size_t i = 0; i < r->nbody; i++)
		pcre2_code_free(r->body[i].re);
	free(r->body);
	pcre2_match_context_free(r->mctx);
	free(r);
}

int rules_want_body(const rules *r)
{
	return r->nbody > 0 && r->limit > 0;
}

int rules_want_headers(const rules *r)
{
	return r->nhdr > 0 || r->subject != NULL;
}

static int classify(int rc)
{
	if (rc >= 0)
		return M_YES;
	if (rc == PCRE2_ERROR_NOMATCH)
		return M_NO;
	if (rc == PCRE2_ERROR_PARTIAL)
		return M_PARTIAL;
	return M_ERROR;
}

int rules_subject_tag(const rules *r, const char *value, size_t len, size_t *start, size_t *end)
{
	pcre2_match_data *md;
	int m;

	if (r->subject == NULL)
		return 0;
	*start = *end = 0;
	if ((md = pcre2_match_data_create(1, NULL)) == NULL)
		return 1; /* see DIAGNOSTICS */
	m = classify(
	        pcre2_match(r->subject, (PCRE2_SPTR)(value ? value : ""), len, 0, 0, md, r->mctx));
	if (m == M_YES) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

		if (ov[0] <= ov[1] && ov[1] <= len) { /* \K can reverse them */
			*start = ov[0];
			*end = ov[1];
		}
	}
	pcre2_match_data_free(md);
	return m != M_NO;
}

rules_scan *rules_scan_new(const rules *r)
{
	rules_scan *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->r = r;
	if ((s->md = pcre2_match_data_create(1, NULL)) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

static void scan_release_body(rules_scan *s)
{
	free(s->buf);
	s->buf = NULL;
	s->cap = s->clen = s->coff = 0;
}

void rules_scan_free(rules_scan *s)
{
	if (s == NULL)
		return;
	scan_release_body(s);
	free(s->hbuf);
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	pcre2_jit_stack_free(s->jit);
	free(s);
}

/* The default JIT stack (32 KiB of machine stack) was too small: get one. */
static int scan_jit_stack(rules_scan *s)
{
	if ((s->mctx = pcre2_match_context_copy(s->r->mctx)) == NULL)
		return -1;
	if ((s->jit = pcre2_jit_stack_create(RULES_JIT_STACK_MIN, RULES_JIT_STACK_MAX, NULL)) ==
	    NULL)
		return -1;
	pcre2_jit_stack_assign(s->mctx, NULL, s->jit);
	return 0;
}

static int scan_match(rules_scan *s, const pcre2_code *re, const unsigned char *subj, size_t len,
                      size_t off, uint32_t opts)
{
	int rc = pcre2_match(re, subj, len, off, opts, s->md, s->mctx ? s->mctx : s->r->mctx);

	if (rc == PCRE2_ERROR_JIT_STACKLIMIT && s->jit == NULL && scan_jit_stack(s) == 0)
		rc = pcre2_match(re, subj, len, off, opts, s->md, s->mctx);
	return classify(rc);
}

/*
 * The trailing run of non-ASCII bytes of w: a partial-match window stops
 * before it, and the run is carried into the next window. That keeps a
 * UTF-8 character split between chunks whole, and keeps PCRE2 10.42's JIT
 * from ever seeing a subject that ends in invalid UTF-8 in partial mode:
 * it reads past the end of such a subject (seen with \b and \B, e.g.
 * /\bx/ on "a\xa0"), and its interpreter reports partial matches there
 * that the JIT does not (PCRE2 pull request 238, fixed in 10.43).
 */
static size_t nonascii_tail(const unsigned char *w, size_t wlen)
{
	size_t n = 0;

	while (n < wlen && w[wlen - n - 1] >= 0x80)
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

int rules_scan_header(rules_scan *s, const char *name, const char *value, const char **which)
{
	const rules *r = s->r;
	const char *subj = value ? value : "";
	size_t len = strlen(subj), first;

	for (first = 0; first < r->nhdr; first++)
		if (strcasecmp(r->hdr[first].name, name) == 0)
			break;
	if (first == r->nhdr)
		return 0;
	if (strpbrk(subj, "\r\n") != NULL) { /* unfold */
		size_t n = 0;

		if (len + 1 > s->hcap) {
			char *nb = realloc(s->hbuf, len + 1);

			if (nb == NULL) { /* see DIAGNOSTICS */
				if (which)
					*which = r->hdr[first].which_err;
				return 1;
			}
			s->hbuf = nb;
			s->hcap = len + 1;
		}
		for (size_t i = 0; i < len; i++)
			if (subj[i] != '\r' && subj[i] != '\n')
				s->hbuf[n++] = subj[i];
		s->hbuf[n] = '\0';
		subj = s->hbuf;
		len = n;
	}
	for (size_t i = first; i < r->nhdr; i++) {
		int m;

		if (strcasecmp(r->hdr[i].name, name) != 0)
			continue;
		m = scan_match(s, r->hdr[i].re, (PCRE2_SPTR)subj, len, 0, 0);
		if (m == M_NO)
			continue;
		if (which)
			*which = m == M_YES ? r->hdr[i].which : r->hdr[i].which_err;
		return 1;
	}
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

	mlen = final ? wlen : wlen - nonascii_tail(w, wlen);
	keep = mlen;
	for (size_t i = 0; mlen >= off && i < r->nbody; i++) {
		int m = scan_match(s, r->body[i].re, w, mlen, off, final ? 0 : PCRE2_PARTIAL_HARD);

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
