/*
 * NAME
 *	fuzz_rules - libFuzzer target for the chunked body scan of milter/rules_body.c
 * DESCRIPTION
 *	Input: byte 0 gives the number of chunk boundaries (0 to 15) and, in
 *	its high bit, a small body_scan_limit (48 bytes) instead of a large
 *	one; then two bytes per boundary (its offset, modulo the body length
 *	+ 1); the rest is the body. Each fixed pattern below has its own
 *	rules object, and the body is fed chunk by chunk, then the end marker
 *	(rules_scan_body(s, NULL, 0, ...)).
 *
 *	The reference is compiled as rules.c compiles body patterns
 *	(multiline, newline ANYCRLF).
 *
 *	Properties, for every pattern, besides the sanitizers:
 *	- the result equals one pcre2_match() of the pattern over the whole
 *	  body, cut at the limit (inputs stay below RULES_CARRY_MAX, so no
 *	  carry is ever cut);
 *	- before the end marker, a match is only ever reported when the whole
 *	  body matches too (no false positive from a chunk edge);
 *	- rules_scan_body_bytes() is min(body length, limit), or less when a
 *	  match ended the scan early.
 *	PCRE2's JIT code is not seen by ASan, so the body is copied to end
 *	right before an inaccessible page: a read past the end of the whole
 *	body (the reference match, a single chunk) faults at once. The
 *	partial-mode subjects that rules_body.c hands PCRE2 (a prefix of the
 *	body without an incomplete final UTF-8 sequence, else without a final
 *	CR, LF or CRLF) are matched there too, as rules_body.c matches them
 *	(PCRE2_ALT_CIRCUMFLEX; the interpreter when the prefix ends in
 *	invalid UTF-8): PCRE2 10.42's JIT reads past the end of a
 *	partial-mode subject that ends in invalid UTF-8, which is why
 *	rules_body.c never hands one to the JIT.
 *	A reference match that hits a PCRE2 resource limit is not compared.
 *	The reference is JIT-compiled like the rules: PCRE2 10.42's
 *	interpreter and JIT disagree on \z and $ before invalid UTF-8 (the
 *	interpreter takes the end of a valid stretch for the end of the
 *	subject, the JIT does not), and this target tests the chunking, not
 *	PCRE2's two engines.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, i)                                                                             \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_rules: %s:%d: %s (pattern %s)\n", __FILE__,          \
			        __LINE__, #cond, patterns[i]);                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static const char *const patterns[] = {
        "CONFIDENTIAL",
        "\\bSSN\\b",
        "A[^B]*B|C",
        "foo|o",
        "(?<=ab)cd",
        "^start",
        "(?m)^line$",
        "\\d{4}[ -]?\\d{4}",
        "stra(\xc3\x9f|ss)e",
        "\\x{e4}\\x{f6}+\\x{20ac}",
        "x\\Ky",
        "(?<![a-z])zz(?![a-z])",
        "\\Bq\\B",
        "end\\z",
        "a.{3,10}b",
        "^SECRET-LINE$",
        "^$",
        "a$",
        "(?-m)^x",
        "\\r\\n^b",
        "\\n^$",
        "\\r\\n^\\r\\n",
        "\\x{e4}\\r\\n^\\x{e4}",
};
#define NPAT (sizeof(patterns) / sizeof(patterns[0]))
#define LIMIT_SMALL 48
#define LIMIT_LARGE (1 << 20)

static rules *r_small[NPAT], *r_large[NPAT];
static pcre2_code *ref[NPAT], *ref_partial[NPAT];
static pcre2_code *any_char; /* "." in UTF mode, without MATCH_INVALID_UTF */
static pcre2_match_data *md;
static unsigned char *guard_end; /* an inaccessible page starts here */

#define GUARD_SPAN (2 * RULES_CARRY_MAX)

static void init(void)
{
	char why[256];
	pcre2_compile_context *cc;

	md = pcre2_match_data_create(1, NULL);
	cc = pcre2_compile_context_create(NULL);
	pcre2_set_newline(cc, PCRE2_NEWLINE_ANYCRLF);
	{
		int err;
		PCRE2_SIZE off;

		any_char = pcre2_compile((PCRE2_SPTR) "\\A.", PCRE2_ZERO_TERMINATED,
		                         PCRE2_UTF | PCRE2_DOTALL, &err, &off, NULL);
		if (any_char == NULL)
			abort();
	}
	{
		unsigned char *m = mmap(NULL, GUARD_SPAN + 65536, PROT_READ | PROT_WRITE,
		                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED || mprotect(m + GUARD_SPAN, 65536, PROT_NONE) != 0)
			abort();
		guard_end = m + GUARD_SPAN;
	}
	for (size_t i = 0; i < NPAT; i++) {
		rules_config cfg = {.body_patterns = &patterns[i],
		                    .nbody_patterns = 1,
		                    .body_scan_limit = LIMIT_SMALL};
		int err;
		PCRE2_SIZE off;

		r_small[i] = rules_new(&cfg, why, sizeof(why));
		cfg.body_scan_limit = LIMIT_LARGE;
		r_large[i] = rules_new(&cfg, why, sizeof(why));
		ref[i] = pcre2_compile((PCRE2_SPTR)patterns[i], PCRE2_ZERO_TERMINATED,
		                       PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_CASELESS |
		                               PCRE2_MULTILINE,
		                       &err, &off, cc);
		ref_partial[i] =
		        pcre2_compile((PCRE2_SPTR)patterns[i], PCRE2_ZERO_TERMINATED,
		                      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_CASELESS |
		                              PCRE2_MULTILINE | PCRE2_ALT_CIRCUMFLEX,
		                      &err, &off, cc);
		if (ref[i] != NULL)
			(void)pcre2_jit_compile(ref[i], PCRE2_JIT_COMPLETE);
		if (ref_partial[i] != NULL)
			(void)pcre2_jit_compile(ref_partial[i], PCRE2_JIT_PARTIAL_HARD);
		if (r_small[i] == NULL || r_large[i] == NULL || ref[i] == NULL ||
		    ref_partial[i] == NULL) {
			fprintf(stderr, "fuzz_rules: pattern %zu: %s\n", i, why);
			abort();
		}
	}
	pcre2_compile_context_free(cc);
}

/*
 * As rules_body.c: the matched length of a window w[0..n) before the end
 * of the body, and whether it ends in invalid UTF-8 (by PCRE2's own check).
 */
static size_t matched_len(const uint8_t *w, size_t n, int *ends_invalid)
{
	size_t i, need;
	int rc;

	*ends_invalid = 0;
	if (n == 0)
		return 0;
	i = n - 1;
	while (i > 0 && n - i < 4 && (w[i] & 0xc0) == 0x80)
		i--;
	need = w[i] < 0x80   ? 1
	       : w[i] < 0xc2 ? 0
	       : w[i] < 0xe0 ? 2
	       : w[i] < 0xf0 ? 3
	       : w[i] < 0xf5 ? 4
	                     : 0;
	if (need > n - i)
		n = i;
	else if (w[n - 1] == '\n')
		n -= n >= 2 && w[n - 2] == '\r' ? 2 : 1;
	else if (w[n - 1] == '\r')
		n--;
	if (n == 0 || w[n - 1] < 0x80)
		return n;
	i = n - 1;
	while (i > 0 && n - i < 4 && (w[i] & 0xc0) == 0x80)
		i--;
	rc = pcre2_match(any_char, w + i, n - i, 0, 0, md, NULL); /* no MATCH_INVALID_UTF */
	*ends_invalid = rc < 0 || pcre2_get_ovector_pointer(md)[1] != n - i;
	return n;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cuts[17], ncut, blen, limit, want_bytes;
	const uint8_t *body, *src;
	int small;

	if (md == NULL)
		init();
	if (size < 1)
		return 0;
	ncut = data[0] & 0x0f;
	small = (data[0] & 0x80) != 0;
	if (size < 1 + 2 * ncut)
		return 0;
	blen = size - 1 - 2 * ncut;
	if (blen >= RULES_CARRY_MAX)
		return 0;
	src = data + 1 + 2 * ncut;
	body = memcpy(guard_end - blen, src, blen);
	for (size_t i = 0; i < ncut; i++)
		cuts[i] = ((size_t)data[1 + 2 * i] << 8 | data[2 + 2 * i]) % (blen + 1);
	cuts[ncut++] = blen;
	qsort(cuts, ncut, sizeof(cuts[0]), cmp_size);
	limit = small ? LIMIT_SMALL : LIMIT_LARGE;
	want_bytes = blen < limit ? blen : limit;

	for (size_t c = 0; c < ncut; c++) {
		int bad;
		size_t m = matched_len(body, cuts[c], &bad);

		/*
		 * As rules_body.c lays the window out: in place (the subject
		 * ends at the guard), or, when it ends in invalid UTF-8, in its
		 * buffer with the held bytes and SCAN_PAD (8) bytes 0xff after.
		 */
		size_t after = bad ? cuts[c] - m + 8 : 0;
		unsigned char *subj = guard_end - after - m;

		memmove(subj, body, bad ? cuts[c] : m);
		if (bad)
			memset(subj + cuts[c], 0xff, 8);
		for (size_t i = 0; i < NPAT; i++)
			(void)pcre2_match(ref_partial[i], subj, m, 0, PCRE2_PARTIAL_HARD, md, NULL);
		body = memcpy(guard_end - blen, src, blen); /* back in place */
	}

	for (size_t i = 0; i < NPAT; i++) {
		rules_scan *s = rules_scan_new(small ? r_small[i] : r_large[i]);
		int rc = pcre2_match(ref[i], guard_end - blen, want_bytes, 0, 0, md, NULL);
		int whole, got = 0, early;
		size_t pos = 0;
		const char *w;

		if (s == NULL)
			abort();
		for (size_t c = 0; c < ncut; c++) {
			got = rules_scan_body(s, body + pos, cuts[c] - pos, &w);
			pos = cuts[c];
		}
		early = got;
		got = rules_scan_body(s, NULL, 0, &w);
		CHECK(rules_scan_body_bytes(s) == want_bytes ||
		              (got && rules_scan_body_bytes(s) < want_bytes),
		      i);
		rules_scan_free(s);
		if (rc != PCRE2_ERROR_NOMATCH && rc < 0)
			continue;
		whole = rc >= 0;
		CHECK(got == whole, i);
		CHECK(!early || whole, i);
	}
	return 0;
}
