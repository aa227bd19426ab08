/*
 * NAME
 *	test_rules.c - unit tests of milter/rules.c (encryption flagging rules)
 * DESCRIPTION
 *	Written from the contract in rules.h and SPEC section 4:
 *	- the default subject tag "^\s*\[(encrypt|secure)\]": case-insensitive,
 *	  leading blanks, the offsets to strip. It is anchored at the start, so
 *	  "Re: [encrypt] ..." is NOT tagged (a reply keeps its tag only if the
 *	  client puts it first); pinned here.
 *	- header patterns by name (names case-insensitive, other names ignored,
 *	  folded values unfolded), malformed entries;
 *	- body patterns in one chunk, across 2 and 3 chunks, at and beyond
 *	  body_scan_limit, a partial match that never completes (bounded memory
 *	  and time over 10 MB), \b ^ and lookbehinds at chunk edges, the end of
 *	  body marker, invalid UTF-8 and NUL bytes;
 *	- compile errors naming the list and index; match errors counted as
 *	  matches, and within milliseconds for catastrophic patterns (figures
 *	  printed); several threads sharing one rules object;
 *	- multiline ^ and $ on CRLF bodies, at every cut of the body;
 *	  header values trimmed; attachment names; rules_list().
 */
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rules.h"

#define DEFAULT_TAG "^\\s*\\[(encrypt|secure)\\]"
#define CHUNK (64 * 1024)

static rules *mk(const char *tag, const char *const *hdr, size_t nhdr, const char *const *body,
                 size_t nbody, size_t limit)
{
	rules_config cfg = {.subject_tag = tag,
	                    .header_patterns = hdr,
	                    .nheader_patterns = nhdr,
	                    .body_patterns = body,
	                    .nbody_patterns = nbody,
	                    .body_scan_limit = limit};
	char why[512] = "";
	rules *r = rules_new(&cfg, why, sizeof(why));

	if (r == NULL)
		fail_msg("rules_new: %s", why);
	return r;
}

/* rules_new must fail; returns the why text. */
static const char *mk_err(const char *tag, const char *const *hdr, size_t nhdr,
                          const char *const *body, size_t nbody)
{
	static char why[512];
	rules_config cfg = {.subject_tag = tag,
	                    .header_patterns = hdr,
	                    .nheader_patterns = nhdr,
	                    .body_patterns = body,
	                    .nbody_patterns = nbody,
	                    .body_scan_limit = 1000};
	rules *r;

	why[0] = '\0';
	r = rules_new(&cfg, why, sizeof(why));
	if (r != NULL) {
		rules_free(r);
		fail_msg("rules_new accepted a bad configuration");
	}
	assert_true(why[0] != '\0');
	return why;
}

static rules *mk_body(const char *pattern, size_t limit)
{
	const char *b[] = {pattern};

	return mk(NULL, NULL, 0, b, 1, limit);
}

/* Feed the strings as chunks (NULL-terminated list); end marks the body's end. */
static int feed(const rules *r, int end, const char **which, ...)
{
	rules_scan *s = rules_scan_new(r);
	const char *c, *w = NULL;
	int got = 0;
	va_list ap;

	assert_non_null(s);
	va_start(ap, which);
	while ((c = va_arg(ap, const char *)) != NULL)
		got = rules_scan_body(s, (const unsigned char *)c, strlen(c), &w);
	va_end(ap);
	if (end)
		got = rules_scan_body(s, NULL, 0, &w);
	if (which)
		*which = got ? w : NULL;
	rules_scan_free(s);
	return got;
}

static void test_subject_default(void **state)
{
	rules *r = mk(DEFAULT_TAG, NULL, 0, NULL, 0, 0);
	size_t st, en;
	const char *v;

	(void)state;
	assert_true(rules_want_headers(r));
	assert_false(rules_want_body(r));
	v = "[encrypt] quarterly figures";
	assert_int_equal(rules_subject_tag(r, v, strlen(v), &st, &en), 1);
	assert_int_equal(st, 0);
	assert_int_equal(en, 9);
	v = "[ENCRYPT] x";
	assert_int_equal(rules_subject_tag(r, v, strlen(v), &st, &en), 1);
	v = "  \t[Secure] payroll";
	assert_int_equal(rules_subject_tag(r, v, strlen(v), &st, &en), 1);
	assert_int_equal(st, 0);
	assert_int_equal(en, 11);
	assert_string_equal(v + en, " payroll");
	/* Anchored at ^: a tag after "Re: " or inside the subject does not count. */
	v = "Re: [encrypt] figures";
	assert_int_equal(rules_subject_tag(r, v, strlen(v), &st, &en), 0);
	v = "figures [secure]";
	assert_int_equal(rules_subject_tag(r, v, strlen(v), &st, &en), 0);
	v = "[encrypted] figures";
	assert_int_equal(rules_subject_tag(r, v, strlen(v), &st, &en), 0);
	v = "[encrypt";
	assert_int_equal(rules_subject_tag(r, v, strlen(v), &st, &en), 0);
	assert_int_equal(rules_subject_tag(r, "", 0, &st, &en), 0);
	/* len, not the NUL, bounds the value. */
	v = "[secure]";
	assert_int_equal(rules_subject_tag(r, v, 7, &st, &en), 0);
	rules_free(r);
}

static void test_subject_custom_and_disabled(void **state)
{
	rules *r = mk("\\[(confidential|vertraulich)\\]\\s*", NULL, 0, NULL, 0, 0);
	size_t st, en;
	const char *v = "Re: [Vertraulich]  Gehälter";

	(void)state;
	assert_int_equal(rules_subject_tag(r, v, strlen(v), &st, &en), 1);
	assert_int_equal(st, 4);
	assert_int_equal(en, 19);
	assert_string_equal(v + en, "Gehälter");
	rules_free(r);

	r = mk(NULL, NULL, 0, NULL, 0, 0);
	assert_false(rules_want_headers(r));
	assert_int_equal(rules_subject_tag(r, "[encrypt]", 9, &st, &en), 0);
	rules_free(r);
	r = mk("", NULL, 0, NULL, 0, 0);
	assert_false(rules_want_headers(r));
	assert_int_equal(rules_subject_tag(r, "[encrypt]", 9, &st, &en), 0);
	rules_free(r);
}

static void test_header_patterns(void **state)
{
	const char *h[] = {"X-Classification: ^(secret|confidential)$", "  subject :  budget",
	                   "X-Note: top secret", "X-Flag:^"};
	rules *r = mk(NULL, h, 4, NULL, 0, 0);
	rules_scan *s = rules_scan_new(r);
	const char *w = NULL;

	(void)state;
	assert_non_null(s);
	assert_true(rules_want_headers(r));
	assert_int_equal(rules_scan_header(s, "X-Classification", "SECRET", &w), 1);
	assert_string_equal(w, "header_patterns[0]");
	assert_int_equal(rules_scan_header(s, "x-classification", "Confidential", &w), 1);
	assert_int_equal(rules_scan_header(s, "X-Classification", "public", &w), 0);
	assert_int_equal(rules_scan_header(s, "X-Classification", "not secret", &w), 0);
	/* Other names are ignored, whatever the value. */
	assert_int_equal(rules_scan_header(s, "X-Classified", "secret", &w), 0);
	assert_int_equal(rules_scan_header(s, "Comments", "secret", &w), 0);
	/* Name trimmed, pattern after the blanks. */
	assert_int_equal(rules_scan_header(s, "SUBJECT", "Q3 Budget review", &w), 1);
	assert_string_equal(w, "header_patterns[1]");
	/* Folded values are unfolded before matching. */
	assert_int_equal(rules_scan_header(s, "X-Note", "this is top\r\n secret", &w), 1);
	assert_string_equal(w, "header_patterns[2]");
	assert_int_equal(rules_scan_header(s, "X-Note", "this is top\n secret", &w), 1);
	/* Unfolding keeps the blank: a tab is not a space. */
	assert_int_equal(rules_scan_header(s, "X-Note", "this is top\r\n\tsecret", &w), 0);
	/* "^" matches any value of that header, also an empty one. */
	assert_int_equal(rules_scan_header(s, "x-flag", "", &w), 1);
	assert_string_equal(w, "header_patterns[3]");
	/* Not sticky: each header on its own. */
	assert_int_equal(rules_scan_header(s, "X-Classification", "public", &w), 0);
	rules_scan_free(s);
	rules_free(r);
}

static void test_header_malformed(void **state)
{
	const char *nocolon[] = {"X-A: a", "X-Classification secret"};
	const char *noname[] = {": secret"};
	const char *badname[] = {"X Class: secret"};
	const char *empty[] = {"X-A: a", "X-B: b", "X-C:   "};
	const char *nul[] = {NULL};
	const char *bad[] = {"X-A: a", "X-B: (unclosed"};
	const char *why;

	(void)state;
	why = mk_err(NULL, nocolon, 2, NULL, 0);
	assert_non_null(strstr(why, "header_patterns[1]: \"X-Classification secret\""));
	why = mk_err(NULL, noname, 1, NULL, 0);
	assert_non_null(strstr(why, "header_patterns[0]"));
	why = mk_err(NULL, badname, 1, NULL, 0);
	assert_non_null(strstr(why, "header_patterns[0]"));
	why = mk_err(NULL, empty, 3, NULL, 0);
	assert_non_null(strstr(why, "header_patterns[2]: empty pattern"));
	why = mk_err(NULL, nul, 1, NULL, 0);
	assert_non_null(strstr(why, "header_patterns[0]"));
	why = mk_err(NULL, bad, 2, NULL, 0);
	assert_non_null(strstr(why, "header_patterns[1]: (unclosed: "));
	assert_non_null(strstr(why, "at offset 9"));
}

static void test_compile_errors(void **state)
{
	const char *body[] = {"CONFIDENTIAL", "foo(", "ok"};
	const char *body2[] = {"a", "b", "[z-a]"};
	const char *body3[] = {""};
	const char *why;

	(void)state;
	why = mk_err(NULL, NULL, 0, body, 3);
	assert_string_equal(why, "body_patterns[1]: foo(: missing closing parenthesis at offset 4");
	why = mk_err(NULL, NULL, 0, body2, 3);
	assert_non_null(strstr(why, "body_patterns[2]: [z-a]: "));
	assert_non_null(strstr(why, " at offset "));
	why = mk_err(NULL, NULL, 0, body3, 1);
	assert_non_null(strstr(why, "body_patterns[0]: empty pattern"));
	why = mk_err("[encrypt", NULL, 0, NULL, 0);
	assert_non_null(strstr(why, "subject_tag: [encrypt: "));
	assert_non_null(strstr(why, " at offset 8"));
	/* With body scanning off, body patterns are still checked. */
	{
		rules_config cfg = {.body_patterns = body, .nbody_patterns = 3};
		char w[256];

		assert_null(rules_new(&cfg, w, sizeof(w)));
		assert_non_null(strstr(w, "body_patterns[1]"));
	}
}

static void test_want(void **state)
{
	const char *b[] = {"x"};
	rules *r;

	(void)state;
	r = mk(NULL, NULL, 0, b, 1, 0); /* limit 0 disables body scanning */
	assert_false(rules_want_body(r));
	assert_false(rules_want_headers(r));
	assert_int_equal(feed(r, 1, NULL, "x", NULL), 0);
	rules_free(r);
	r = mk(NULL, NULL, 0, b, 1, 10);
	assert_true(rules_want_body(r));
	rules_free(r);
	r = mk(NULL, NULL, 0, NULL, 0, 10);
	assert_false(rules_want_body(r));
	rules_free(r);
}

static void test_body_one_chunk(void **state)
{
	const char *b[] = {"\\bSSN\\b", "CONFIDENTIAL"};
	rules *r = mk(NULL, NULL, 0, b, 2, 1 << 20);
	const char *w;

	(void)state;
	assert_int_equal(feed(r, 0, &w, "Hello,\r\nthis is confidential.\r\n", NULL), 1);
	assert_string_equal(w, "body_patterns[1]");
	assert_int_equal(feed(r, 0, &w, "my ssn: 1\r\n", NULL), 1);
	assert_string_equal(w, "body_patterns[0]");
	assert_int_equal(feed(r, 1, &w, "Hello,\r\nnothing here, SSNs.\r\n", NULL), 0);
	/* Sticky: once matched, every later call says so. */
	{
		rules_scan *s = rules_scan_new(r);

		assert_int_equal(rules_scan_body(s, (const unsigned char *)"CONFIDENTIAL", 12, &w),
		                 1);
		w = NULL;
		assert_int_equal(rules_scan_body(s, (const unsigned char *)"x", 1, &w), 1);
		assert_string_equal(w, "body_patterns[1]");
		assert_int_equal(rules_scan_body(s, NULL, 0, &w), 1);
		rules_scan_free(s);
	}
	rules_free(r);
}

static void test_body_split(void **state)
{
	rules *r = mk_body("CONFIDENTIAL", 1 << 20);
	const char *w;

	(void)state;
	assert_int_equal(feed(r, 0, &w, "this is CONFI", "DENTIAL, really", NULL), 1);
	assert_string_equal(w, "body_patterns[0]");
	assert_int_equal(feed(r, 0, &w, "xx CONFI", "DENT", "IAL yy", NULL), 1);
	assert_int_equal(
	        feed(r, 0, &w, "C", "O", "N", "F", "I", "D", "E", "N", "T", "I", "A", "L", NULL),
	        1);
	assert_int_equal(feed(r, 0, &w, "xx confi", "dent", "ial", NULL), 1);
	assert_int_equal(feed(r, 1, &w, "xx CONFI", "DENT", "ALL", NULL), 0);
	assert_int_equal(feed(r, 1, &w, "xx CONFI", "", "DENT", NULL), 0);
	assert_int_equal(feed(r, 0, &w, "xx CONFI", "", "DENTIAL", NULL), 1);
	rules_free(r);
}

/* A big first chunk, then the rest of the word in the next. */
static void test_body_split_large(void **state)
{
	rules *r = mk_body("CONFIDENTIAL", 1 << 24);
	size_t n = 3 * CHUNK;
	char *big = malloc(n + 1);
	const char *w;

	(void)state;
	memset(big, 'x', n);
	memcpy(big + n - 5, "CONFI", 5);
	big[n] = '\0';
	assert_int_equal(feed(r, 0, &w, big, "DENTIAL", NULL), 1);
	assert_int_equal(feed(r, 0, &w, "y", big, "DENTIAL", NULL), 1);
	free(big);
	rules_free(r);
}

static void test_body_limit(void **state)
{
	rules *r = mk_body("CONFIDENTIAL", 100);
	char body[300];
	rules_scan *s;
	const char *w;

	(void)state;
	/* Beyond the limit. */
	memset(body, 'x', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	memcpy(body + 150, "CONFIDENTIAL", 12);
	s = rules_scan_new(r);
	assert_int_equal(rules_scan_body(s, (const unsigned char *)body, 60, &w), 0);
	assert_int_equal(rules_scan_body(s, (const unsigned char *)body + 60, 60, &w), 0);
	assert_int_equal(rules_scan_body_bytes(s), 100);
	assert_int_equal(rules_scan_body(s, (const unsigned char *)body + 120, 179, &w), 0);
	assert_int_equal(rules_scan_body_bytes(s), 100);
	assert_int_equal(rules_scan_body(s, NULL, 0, &w), 0);
	rules_scan_free(s);

	/* Straddling the limit: bytes 95..106. */
	memset(body, 'x', sizeof(body) - 1);
	memcpy(body + 95, "CONFIDENTIAL", 12);
	assert_int_equal(feed(r, 1, &w, body, NULL), 0);
	/* Ending exactly at the limit: found (scanned as if the body ended there). */
	memset(body, 'x', sizeof(body) - 1);
	memcpy(body + 88, "CONFIDENTIAL", 12);
	assert_int_equal(feed(r, 0, &w, body, NULL), 1);
	rules_free(r);

	/* Straddling, split across chunks before the limit. */
	r = mk_body("CONFIDENTIAL", 10);
	assert_int_equal(feed(r, 1, &w, "xxxxCON", "FIDENTIAL", NULL), 0);
	s = rules_scan_new(r);
	assert_int_equal(rules_scan_body(s, (const unsigned char *)"0123456789abc", 13, &w), 0);
	assert_int_equal(rules_scan_body_bytes(s), 10);
	rules_scan_free(s);
	rules_free(r);
}

/* Partial matches at the chunk's end that only the next chunk, or the end, decides. */
static void test_body_edges(void **state)
{
	rules *r;
	const char *w;

	(void)state;
	r = mk_body("\\bSSN\\b", 1 << 20);
	assert_int_equal(feed(r, 1, &w, "my SSN", "X", NULL), 0);
	assert_int_equal(feed(r, 0, &w, "my SSN", " is", NULL), 1);
	assert_int_equal(feed(r, 0, &w, "my SSN", NULL), 0); /* undecided */
	assert_int_equal(feed(r, 1, &w, "my SSN", NULL), 1); /* body ends there */
	assert_int_equal(feed(r, 1, &w, "myS", "SN is", NULL), 0);
	assert_int_equal(feed(r, 1, &w, "my ", "SSN is", NULL), 1);
	assert_int_equal(feed(r, 1, &w, "myX", "SSN is", NULL), 0);
	rules_free(r);

	/* ^ is the start of the body, not of a chunk. */
	r = mk_body("^foo", 1 << 20);
	assert_int_equal(feed(r, 1, &w, "xx", "foo", NULL), 0);
	assert_int_equal(feed(r, 1, &w, "fo", "o", NULL), 1);
	rules_free(r);
	r = mk_body("(?m)^foo$", 1 << 20);
	assert_int_equal(feed(r, 1, &w, "x\n", "foo\nbar", NULL), 1);
	assert_int_equal(feed(r, 1, &w, "x", "foo\nbar", NULL), 0);
	assert_int_equal(feed(r, 1, &w, "x\nfo", "ox", NULL), 0);
	rules_free(r);

	/* Lookbehind across the boundary. */
	r = mk_body("(?<=secret )code", 1 << 20);
	assert_int_equal(feed(r, 1, &w, "the secret ", "code", NULL), 1);
	assert_int_equal(feed(r, 1, &w, "the secret", " code", NULL), 1);
	assert_int_equal(feed(r, 1, &w, "the public ", "code", NULL), 0);
	rules_free(r);

	/* A complete match hidden behind an earlier partial one. */
	r = mk_body("A[^B]*B|C", 1 << 20);
	assert_int_equal(feed(r, 1, &w, "xxA yy C zz", NULL), 1);
	assert_int_equal(feed(r, 1, &w, "xxA yy", " C zz", NULL), 1);
	assert_int_equal(feed(r, 1, &w, "xxA yy", " zz", NULL), 0);
	rules_free(r);
	r = mk_body("foo|o", 1 << 20);
	assert_int_equal(feed(r, 1, &w, "xfo", NULL), 1);
	rules_free(r);
}

static void test_body_utf8_and_nul(void **state)
{
	const char *b[] = {"CONFIDENTIAL", "stra(ß|ss)e", "Ärztlich"};
	rules *r = mk(NULL, NULL, 0, b, 3, 1 << 20);
	rules_scan *s;
	const char *w;
	static const unsigned char c1[] = "\xff\xfe\x00\xc3 CONFI";
	static const unsigned char c2[] = "DENTIAL\x00\xc3";

	(void)state;
	s = rules_scan_new(r);
	assert_int_equal(rules_scan_body(s, c1, sizeof(c1) - 1, &w), 0);
	assert_int_equal(rules_scan_body(s, c2, sizeof(c2) - 1, &w), 1);
	assert_string_equal(w, "body_patterns[0]");
	rules_scan_free(s);
	/* NUL and invalid bytes inside the word break it. */
	s = rules_scan_new(r);
	assert_int_equal(rules_scan_body(s, (const unsigned char *)"CONFI\0DENTIAL", 13, &w), 0);
	assert_int_equal(rules_scan_body(s,
	                                 (const unsigned char *)"CONFI\xff"
	                                                        "DENTIAL",
	                                 13, &w),
	                 0);
	assert_int_equal(rules_scan_body(s, NULL, 0, &w), 0);
	rules_scan_free(s);
	/* A UTF-8 character split between chunks; caseless beyond ASCII. */
	assert_int_equal(feed(r, 1, &w, "\xff Stra\xc3",
	                      "\x9f"
	                      "e 1",
	                      NULL),
	                 1);
	assert_string_equal(w, "body_patterns[1]");
	assert_int_equal(feed(r, 1, &w, "x \xc3", "\xa4RZTLICH", NULL), 1);
	assert_string_equal(w, "body_patterns[2]");
	assert_int_equal(feed(r, 1, &w, "x \xc3", "\xc3\xa4RZTLICH", NULL), 1);
	assert_int_equal(feed(r, 1, &w, "\xc3\xa4", "\xa4RZTLICH", NULL), 0);
	rules_free(r);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Feed n bytes of fill in CHUNK pieces; report peak heap growth and time. */
static int feed_big(const rules *r, char fill, size_t n, const char *tail, size_t *peak,
                    double *secs, size_t *scanned)
{
	rules_scan *s = rules_scan_new(r);
	unsigned char *chunk = malloc(CHUNK);
	size_t base, done = 0;
	const char *w;
	int got = 0;
	double t0 = now();

	assert_non_null(s);
	memset(chunk, fill, CHUNK);
	base = mallinfo2().uordblks;
	*peak = 0;
	while (done < n && !got) {
		size_t used;

		got = rules_scan_body(s, chunk, CHUNK, &w);
		done += CHUNK;
		used = mallinfo2().uordblks;
		if (used > base && used - base > *peak)
			*peak = used - base;
	}
	if (!got && tail)
		got = rules_scan_body(s, (const unsigned char *)tail, strlen(tail), &w);
	if (!got)
		got = rules_scan_body(s, NULL, 0, &w);
	*secs = now() - t0;
	*scanned = rules_scan_body_bytes(s);
	rules_scan_free(s);
	free(chunk);
	return got;
}

static void test_body_carry_bounded(void **state)
{
	rules *r = mk_body("A[^B]*B", 1 << 30);
	size_t peak, scanned;
	double secs;

	(void)state;
	/* 10 MB that stays a partial match from its first byte: never completes. */
	assert_int_equal(feed_big(r, 'A', 10 << 20, NULL, &peak, &secs, &scanned), 0);
	assert_int_equal(scanned, 10 << 20);
	print_message("    10 MB of a partial match: %.3f s, heap growth %zu bytes\n", secs, peak);
	assert_true(secs < 10.0);
	/* Carry + one chunk copy (+ allocator slack). */
	assert_true(peak <= RULES_CARRY_MAX + CHUNK + 8192);
	/* Completing it at the end: the match starts in the kept bytes. */
	assert_int_equal(feed_big(r, 'A', 2 << 20, "zzB", &peak, &secs, &scanned), 1);
	assert_int_equal(scanned, (2 << 20) + 3);
	/* One 'A' then 10 MB of 'x': the A is dropped once it is RULES_CARRY_MAX back. */
	{
		rules_scan *s = rules_scan_new(r);
		unsigned char *chunk = malloc(CHUNK);
		const char *w;

		memset(chunk, 'x', CHUNK);
		chunk[0] = 'A';
		assert_int_equal(rules_scan_body(s, chunk, CHUNK, &w), 0);
		chunk[0] = 'x';
		for (int i = 1; i < 160; i++)
			assert_int_equal(rules_scan_body(s, chunk, CHUNK, &w), 0);
		assert_int_equal(rules_scan_body(s, (const unsigned char *)"B", 1, &w), 0);
		rules_scan_free(s);
		free(chunk);
	}
	rules_free(r);
}

static void test_match_error_counts(void **state)
{
	rules *r = mk_body("(a+)+$", 1 << 20);
	const char *w;

	(void)state;
	/* Catastrophic backtracking: PCRE2's match limit ends it, and that flags. */
	assert_int_equal(
	        feed(r, 1, &w, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", NULL), 1);
	assert_string_equal(w, "body_patterns[0] (match error)");
	rules_free(r);
}

/* Feed body split at every position (and, when pairs, at every pair); all must give want. */
static void split_everywhere(const rules *r, const char *body, int want, int pairs)
{
	size_t n = strlen(body);

	for (size_t i = 0; i <= n; i++)
		for (size_t j = pairs ? i : n; j <= n; j++) {
			rules_scan *s = rules_scan_new(r);
			const unsigned char *b = (const unsigned char *)body;
			const char *w;
			int got;

			assert_non_null(s);
			rules_scan_body(s, b, i, &w);
			rules_scan_body(s, b + i, j - i, &w);
			rules_scan_body(s, b + j, n - j, &w);
			got = rules_scan_body(s, NULL, 0, &w);
			rules_scan_free(s);
			if (got != want)
				fail_msg("\"%s\" cut at %zu and %zu: got %d, want %d", body, i, j,
				         got, want);
		}
}

/* Body patterns are multiline, newline ANYCRLF: ^ and $ per CRLF line. */
static void test_body_crlf_lines(void **state)
{
	const char *b[] = {"^SECRET-LINE$"};
	const char *bm[] = {"(?m)^SECRET-LINE$"};
	rules *r = mk(NULL, NULL, 0, b, 1, 1 << 20);
	rules *rm = mk(NULL, NULL, 0, bm, 1, 1 << 20);
	const char *w;

	(void)state;
	assert_int_equal(feed(r, 1, &w, "Hello,\r\nSECRET-LINE\r\nbye\r\n", NULL), 1);
	assert_string_equal(w, "body_patterns[0]");
	assert_int_equal(feed(rm, 1, &w, "Hello,\r\nSECRET-LINE\r\nbye\r\n", NULL), 1);
	assert_int_equal(feed(rm, 1, &w, "SECRET-LINE\r\n", NULL), 1);
	assert_int_equal(feed(r, 1, &w, "Hello,\nSECRET-LINE\nbye\n", NULL), 1);
	assert_int_equal(feed(r, 1, &w, "Hello,\rSECRET-LINE\rbye", NULL), 1);
	assert_int_equal(feed(r, 1, &w, "x SECRET-LINE\r\n", NULL), 0);
	assert_int_equal(feed(r, 1, &w, "SECRET-LINE x\r\n", NULL), 0);
	assert_int_equal(feed(r, 1, &w, "SECRET-LINEx\r\n", NULL), 0);
	/* A CRLF split between chunks, before and after the line. */
	assert_int_equal(feed(r, 1, &w, "Hello,\r", "\nSECRET-LINE\r", "\nbye", NULL), 1);
	assert_int_equal(feed(r, 0, &w, "Hello,\r", "\nSECRET-LINE\r", "\nbye", NULL), 1);
	assert_int_equal(feed(r, 1, &w, "Hello,\r\nSECRET-", "LINE\r", "\n", NULL), 1);
	assert_int_equal(feed(r, 1, &w, "Hello,\r", "\nSECRET-LINE x\r", "\n", NULL), 0);
	rules_free(r);
	rules_free(rm);
	/* (?-m) turns it off; \A and \z stay the whole text. */
	r = mk_body("(?-m)^SECRET-LINE$", 1 << 20);
	assert_int_equal(feed(r, 1, &w, "Hello,\r\nSECRET-LINE\r\nbye\r\n", NULL), 0);
	rules_free(r);
	r = mk_body("\\ASECRET", 1 << 20);
	assert_int_equal(feed(r, 1, &w, "x\r\nSECRET\r\n", NULL), 0);
	rules_free(r);
}

/*
 * Every cut of a CRLF body gives the whole-body answer. Not pinned: PCRE2
 * takes a position between CR and LF as a line start and end too, and
 * 10.42 answers "^\n" there differently in partial and complete mode, so a
 * pattern that matches an LF right after ^ may be missed across chunks.
 */
static void test_body_crlf_split(void **state)
{
	static const struct {
		const char *pattern, *body;
		int want;
	} cases[] = {
	        {"^SECRET-LINE$", "Hi\r\nSECRET-LINE\r\nbye\r\n", 1},
	        {"^SECRET-LINE$", "Hi\r\nSECRET-LINE", 1},
	        {"^SECRET-LINE$", "Hi\r\nxSECRET-LINE\r\nbye\r\n", 0},
	        {"^SECRET-LINE$", "Hi\r\nSECRET-LINEx\r\n", 0},
	        {"^$", "a\r\nb", 0},     /* no empty line: CRLF is one line end */
	        {"^$", "a\r\n\r\nb", 1}, /* an empty line */
	        {"a$\\r\\n^b", "a\r\nb", 1},
	        {"a$", "xa\r\nb", 1},
	        {"^b", "a\r\nb", 1},
	        {"a$", "xa\r\n", 1},
	        {"^line$", "x\rline\r\r\n", 1},
	        /* ^ right after a window's last line end (PCRE2_ALT_CIRCUMFLEX) */
	        {"\\n^$", "x\n\ny", 1},
	        {"\\n^$", "x\r\n\r\ny", 1},
	        {"\\r\\n^\\r\\n", "x\r\n\r\n\r\ny", 1},
	        {"\\n^$", "x\ny\n", 0},
	        {"\\n^\\x{e4}", "x\n\xc3\xa4", 1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rules *r = mk_body(cases[i].pattern, 1 << 20);

		split_everywhere(r, cases[i].body, cases[i].want, 1);
		rules_free(r);
	}
}

/* Feed count copies of unit in calls of step bytes, after head; then tail and the end. */
static int feed_rep(const rules *r, const char *head, const char *unit, size_t count, size_t step,
                    const char *tail)
{
	size_t ul = strlen(unit), n = ul * count;
	unsigned char *b = malloc(n);
	rules_scan *s = rules_scan_new(r);
	const char *w;
	int got;

	assert_non_null(b);
	assert_non_null(s);
	for (size_t i = 0; i < count; i++)
		memcpy(b + i * ul, unit, ul);
	got = rules_scan_body(s, (const unsigned char *)head, strlen(head), &w);
	for (size_t off = 0; off < n && !got; off += step)
		got = rules_scan_body(s, b + off, n - off < step ? n - off : step, &w);
	if (!got)
		got = rules_scan_body(s, (const unsigned char *)tail, strlen(tail), &w);
	if (!got)
		got = rules_scan_body(s, NULL, 0, &w);
	rules_scan_free(s);
	free(b);
	return got;
}

/*
 * A keyword followed by more than RULES_CARRY_MAX of line ends, or of
 * non-ASCII text, is found (attack8 findings 2 and 3): only a final line
 * end or an incomplete UTF-8 sequence is held back. Line by line (as the
 * MIME walker calls) and in 64 KB chunks (raw mode); a UTF-8 character
 * split in every call (3-byte characters in 2-byte calls); and after
 * invalid UTF-8 at every window end.
 */
static void test_body_held_bounded(void **state)
{
	const char *b[] = {"\\bCONFIDENTIAL\\b", "\xe6\xa9\x9f\xe5\xaf\x86" /* 機密 */};
	rules *r = mk(NULL, NULL, 0, b, 2, 1 << 24);
	static const char kanji[] = "\xe6\xbc\xa2\xe5\xad\x97"; /* 漢字 */

	(void)state;
	assert_int_equal(feed_rep(r, "hello CONFIDENTIAL", "\r\n", 40000, 2, "bye\r\n"), 1);
	assert_int_equal(feed_rep(r, "hello CONFIDENTIAL", "\r\n", 80000, CHUNK, "bye\r\n"), 1);
	assert_int_equal(feed_rep(r, "hello CONFIDENTIAL", "\n", 80000, 1, "bye\r\n"), 1);
	assert_int_equal(feed_rep(r, "hello CONFIDENTIAL", "\r", 80000, 1, ""), 1);
	assert_int_equal(feed_rep(r, "hello CONFIDENTIALx", "\r\n", 40000, 2, "bye\r\n"), 0);
	assert_int_equal(feed_rep(r, "\xe6\xa9\x9f\xe5\xaf\x86", kanji, 12000, 6, "\r\n"), 1);
	assert_int_equal(feed_rep(r, "\xe6\xa9\x9f\xe5\xaf\x86", kanji, 12000, CHUNK, "\r\n"), 1);
	assert_int_equal(feed_rep(r, "\xe6\xa9\x9f\xe5\xaf\x86", kanji, 12000, 2, "\r\n"), 1);
	assert_int_equal(feed_rep(r, "\xe6\xa9\x9f", kanji, 12000, 2, "\r\n"), 0);
	/* The keyword split by calls, then invalid bytes (not held: no carry growth). */
	assert_int_equal(feed_rep(r, "hello CONFIDENTIAL", "\xff", 100000, 1, ""), 1);
	assert_int_equal(feed_rep(r, "hello CONFIDENTIAL", "\xa4\r\n", 30000, 3, ""), 1);
	assert_int_equal(feed_rep(r, "hello CONFIDENTIAL", "\xe6\xbc\r\n", 30000, 4, ""), 1);
	assert_int_equal(feed_rep(r, "hello CONFIDENTIALS", "\xff", 100000, 1, ""), 0);
	/* Without PCRE2_UCP "ä" is no word character: \b before it. */
	assert_int_equal(feed(r, 1, NULL, "x CONFI", "DENTIAL\xc3", "\xa4 y", NULL), 1);
	assert_int_equal(feed(r, 1, NULL, "x CONFI", "DENTIAL\xc3", "\xa4", "y", NULL), 1);
	assert_int_equal(feed(r, 1, NULL, "x CONFI", "DENTIALa\xc3", "\xa4 y", NULL), 0);
	assert_int_equal(feed(r, 1, NULL, "x CONFI", "DENTIAL\xc3", "\xff y", NULL), 1);
	assert_int_equal(feed(r, 1, NULL, "\xe6\xa9", "\x9f\xe5", "\xaf", "\x86", NULL), 1);
	rules_free(r);
}

/* Seconds to scan count copies of unit in calls of its own length. */
static double time_calls(const rules *r, const char *unit, size_t count)
{
	double t0 = now();

	assert_int_equal(feed_rep(r, "", unit, count, strlen(unit), ""), 0);
	return now() - t0;
}

/*
 * The cost of a call does not depend on what came before it when no
 * partial match is pending (attack8 finding 2: every line end copied and
 * re-scanned a 64 KB carry of held line ends; 1 MB of empty lines cost
 * 37 s). With the same number of calls and the same 10 patterns, line
 * ends and non-ASCII lines cost about what ASCII words cost (measured
 * ratio about 1; 140 to 230 before the fix), so the check is generous.
 */
static void test_body_small_calls_linear(void **state)
{
	const char *b[] = {"CONFIDENTIAL",
	                   "\\bSSN\\b",
	                   "^-----BEGIN PGP MESSAGE-----",
	                   "\\d{3}-\\d{2}-\\d{4}",
	                   "vertraulich|streng geheim",
	                   "(?<=ab)cd",
	                   "^SECRET-LINE$",
	                   "\\bpassword\\s*[:=]\\s*\\S+",
	                   "\xe6\xa9\x9f\xe5\xaf\x86",
	                   "a.{3,10}b"};
	rules *r = mk(NULL, NULL, 0, b, 10, 1 << 24);
	double ascii, crlf, uml, ascii4;

	(void)state;
	time_calls(r, "xy", 4096); /* warm up */
	ascii = time_calls(r, "xy", 131072);
	crlf = time_calls(r, "\r\n", 131072);
	ascii4 = time_calls(r, "xy\r\n", 65536);
	uml = time_calls(r, "\xc3\xa4\r\n", 65536);
	print_message("    256 KB in 2-byte calls: \"xy\" %.3f s, \"\\r\\n\" %.3f s; in 4-byte "
	              "lines: \"xy\\r\\n\" %.3f s, \"\xc3\xa4\\r\\n\" %.3f s\n",
	              ascii, crlf, ascii4, uml);
	assert_true(crlf < 10 * ascii + 0.05);
	assert_true(uml < 10 * ascii4 + 0.05);
	rules_free(r);
}

/*
 * A partial match kept pending ("A[^B]*B" after an "A") does not make
 * every small call re-scan it: 2-byte calls cost about what they cost
 * without the "A" (measured ratio about 2; about 150 before: 3 s per MB).
 * A match that completes meanwhile is found, at the latest at the end.
 */
static void test_body_pending_small_calls(void **state)
{
	rules *r = mk_body("A[^B]*B", 1 << 24);
	double t0, plain, pending;

	(void)state;
	t0 = now();
	assert_int_equal(feed_rep(r, "", "xx", 131072, 2, ""), 0);
	plain = now() - t0;
	t0 = now();
	assert_int_equal(feed_rep(r, "A", "xx", 131072, 2, ""), 0);
	pending = now() - t0;
	print_message("    256 KB in 2-byte calls: %.3f s, with a partial match pending %.3f s\n",
	              plain, pending);
	assert_true(pending < 10 * plain + 0.05);
	assert_int_equal(feed_rep(r, "A", "xx", 16384, 2, "B"), 1);
	assert_int_equal(feed_rep(r, "A", "x", 30000, 1, "B"), 1);
	assert_int_equal(feed_rep(r, "xA", "\xc3\xa4\r\n", 8000, 4, "B"), 1);
	assert_int_equal(feed_rep(r, "xA", "\xc3\xa4\r\n", 8000, 4, ""), 0);
	{
		rules_scan *s = rules_scan_new(r);
		const char *w;
		int got = rules_scan_body(s, (const unsigned char *)"A", 1, &w), calls = 0;

		for (int i = 0; i < 8192; i++)
			got = rules_scan_body(s, (const unsigned char *)"x", 1, &w);
		assert_int_equal(got, 0);
		got = rules_scan_body(s, (const unsigned char *)"B", 1, &w);
		while (!got && calls++ < 4096) /* reported within a quarter of the carry */
			got = rules_scan_body(s, (const unsigned char *)"y", 1, &w);
		assert_int_equal(got, 1);
		rules_scan_free(s);
	}
	rules_free(r);
}

/* A folded header keeps no leading blank; trailing blanks go too. */
static void test_header_trimmed(void **state)
{
	const char *h[] = {"Subject: ^secret$", "X-A: ^a b$"};
	rules *r = mk(NULL, h, 2, NULL, 0, 0);
	rules_scan *s = rules_scan_new(r);
	const char *w;

	(void)state;
	assert_int_equal(rules_scan_header(s, "Subject", "\r\n secret", &w), 1);
	assert_int_equal(rules_scan_header(s, "Subject", " secret", &w), 1);
	assert_int_equal(rules_scan_header(s, "Subject", "\t secret \t", &w), 1);
	assert_int_equal(rules_scan_header(s, "Subject", "secret\r\n ", &w), 1);
	assert_int_equal(rules_scan_header(s, "Subject", "secret x", &w), 0);
	assert_int_equal(rules_scan_header(s, "X-A", "  a b  ", &w), 1);
	assert_int_equal(rules_scan_header(s, "X-A", "a\r\n b", &w), 1);
	rules_scan_free(s);
	rules_free(r);
}

/* The default tag after 90,000 blanks (the milter's case in the issue). */
static void test_subject_long_blanks(void **state)
{
	rules *r = mk(DEFAULT_TAG, NULL, 0, NULL, 0, 0);
	size_t n = 90000, st, en;
	char *v = malloc(n + 16);

	(void)state;
	memset(v, ' ', n);
	strcpy(v + n, "[encrypt] x");
	assert_int_equal(rules_subject_tag(r, v, strlen(v), &st, &en), 1);
	assert_int_equal(en, n + 9);
	free(v);
	rules_free(r);
}

/*
 * Catastrophic patterns end with a match error (a match), in milliseconds,
 * on a 64 KiB body window and on a 100 KB header value (form feeds, as
 * header values lose their leading spaces). ("(\s*)*x" on a few blanks fails at once, PCRE2 looking
 * for the required "x" first; on 64 KiB PCRE2 skips that search, and the match limit ends it.)
 */
static void test_match_limits_fast(void **state)
{
	static const struct {
		const char *pattern;
		char fill;
		const char *tail;
		int want; /* 1: a match error; 2: only the time counts */
	} cases[] = {{"(a+)+$", 'a', "b", 1},
	             {"(\\s*)*x", ' ', "!", 2},
	             {"(a|aa)+$", 'a', "b", 1},
	             {"^(\\w+\\s?)*$", 'a', "!", 1},
	             {"(x+x+)+y", 'x', "!y", 1}};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *hp[1];
		char hbuf[64];
		rules *r = mk_body(cases[i].pattern, 1 << 20), *rh;
		rules_scan *s;
		const char *w;
		double t0, body_ms, hdr_ms;
		int got, hgot;
		char *v = malloc(100000 + 1);
		size_t tl = strlen(cases[i].tail);

		memset(v, cases[i].fill, 100000);
		memcpy(v + 64 * 1024 - tl, cases[i].tail, tl);
		v[64 * 1024] = '\0';
		t0 = now();
		got = feed(r, 1, &w, v, NULL);
		body_ms = (now() - t0) * 1e3;
		assert_true(cases[i].want == 2 || (got == 1 && rules_which_is_error(w)));
		memset(v, cases[i].fill, 100000);
		memcpy(v + 100000 - tl, cases[i].tail, tl + 1);
		snprintf(hbuf, sizeof(hbuf), "X-Big: %s", cases[i].pattern);
		hp[0] = hbuf;
		rh = mk(NULL, hp, 1, NULL, 0, 0);
		s = rules_scan_new(rh);
		t0 = now();
		hgot = rules_scan_header(s, "X-Big", v, &w);
		hdr_ms = (now() - t0) * 1e3;
		assert_true(cases[i].want == 2 || (hgot == 1 && rules_which_is_error(w)));
		print_message("    %-14s 64 KiB body %.2f ms (%d), 100 KB header %.2f ms (%d)\n",
		              cases[i].pattern, body_ms, got, hdr_ms, hgot);
		/*
		 * Order of magnitude only (timings belong in bench_rules): without
		 * the limits these run for years; with them a few ms (figures
		 * above, rules.h). 2 s is far above any loaded or ASan machine.
		 */
		assert_true(body_ms < 2000.0);
		assert_true(hdr_ms < 2000.0);
		rules_scan_free(s);
		rules_free(rh);
		rules_free(r);
		free(v);
	}
}

static void test_attachments(void **state)
{
	const char *a[] = {"\\.(exe|scr)$", "^gehaltsübersicht", "(a+)+$"};
	rules_config cfg = {.attachment_patterns = a, .nattachment_patterns = 3};
	char why[256];
	rules *r = rules_new(&cfg, why, sizeof(why)), *none;
	rules_scan *s;
	const char *w = NULL, *n;
	char big[4096];

	(void)state;
	assert_non_null(r);
	assert_true(rules_want_attachments(r));
	assert_false(rules_want_headers(r));
	assert_false(rules_want_body(r));
	s = rules_scan_new(r);
	n = "invoice.PDF.EXE";
	assert_int_equal(rules_scan_attachment(s, n, strlen(n), &w), 1);
	assert_string_equal(w, "attachment_patterns[0]");
	n = "GEHALTSÜBERSICHT 2026.xlsx"; /* caseless beyond ASCII */
	assert_int_equal(rules_scan_attachment(s, n, strlen(n), &w), 1);
	assert_string_equal(w, "attachment_patterns[1]");
	n = "report.pdf";
	assert_int_equal(rules_scan_attachment(s, n, strlen(n), &w), 0);
	/* len bounds the name. */
	n = "x.exe";
	assert_int_equal(rules_scan_attachment(s, n, 4, &w), 0);
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = 'b';
	assert_int_equal(rules_scan_attachment(s, big, sizeof(big), &w), 1);
	assert_string_equal(w, "attachment_patterns[2] (match error)");
	assert_true(rules_which_is_error(w));
	rules_scan_free(s);
	rules_free(r);
	none = mk(DEFAULT_TAG, NULL, 0, NULL, 0, 0);
	assert_false(rules_want_attachments(none));
	s = rules_scan_new(none);
	assert_int_equal(rules_scan_attachment(s, "x.exe", 5, &w), 0);
	rules_scan_free(s);
	rules_free(none);
	{
		const char *bad[] = {"ok", "(x"};
		rules_config c2 = {.attachment_patterns = bad, .nattachment_patterns = 2};

		assert_null(rules_new(&c2, why, sizeof(why)));
		assert_non_null(strstr(why, "attachment_patterns[1]: (x: "));
	}
}

static void collect(void *arg, const char *which, const char *source)
{
	char *out = arg;
	size_t used = strlen(out);

	snprintf(out + used, 1024 - used, "%s=%s;", which, source);
}

static void test_list(void **state)
{
	const char *h[] = {"X-Class: ^secret$", " Subject :  budget"};
	const char *b[] = {"CONFIDENTIAL", "\\bSSN\\b", "^SECRET$"};
	const char *a[] = {"\\.exe$", "\\.scr$"};
	rules_config cfg = {DEFAULT_TAG, h, 2, b, 3, 1000, a, 2};
	char why[256], out[1024] = "";
	rules *r = rules_new(&cfg, why, sizeof(why));

	(void)state;
	assert_non_null(r);
	rules_list(r, collect, out);
	assert_string_equal(out, "subject_tag=" DEFAULT_TAG ";"
	                         "header_patterns[0]=X-Class: ^secret$;"
	                         "header_patterns[1]= Subject :  budget;"
	                         "body_patterns[0]=CONFIDENTIAL;body_patterns[1]=\\bSSN\\b;"
	                         "body_patterns[2]=^SECRET$;"
	                         "attachment_patterns[0]=\\.exe$;attachment_patterns[1]=\\.scr$;");
	rules_free(r);
	/* Body scanning off: the body patterns are not in effect, not listed. */
	cfg.body_scan_limit = 0;
	cfg.subject_tag = NULL;
	r = rules_new(&cfg, why, sizeof(why));
	out[0] = '\0';
	rules_list(r, collect, out);
	assert_string_equal(out, "header_patterns[0]=X-Class: ^secret$;"
	                         "header_patterns[1]= Subject :  budget;"
	                         "attachment_patterns[0]=\\.exe$;attachment_patterns[1]=\\.scr$;");
	rules_free(r);
}

static void test_which_is_error(void **state)
{
	(void)state;
	assert_true(rules_which_is_error("body_patterns[0] (match error)"));
	assert_true(rules_which_is_error("header_patterns[12] (match error)"));
	assert_true(rules_which_is_error("body_patterns (out of memory)"));
	assert_false(rules_which_is_error("body_patterns[0]"));
	assert_false(rules_which_is_error("subject_tag"));
	assert_false(rules_which_is_error(""));
	assert_false(rules_which_is_error(NULL));
}

struct worker {
	const rules *r;
	unsigned seed;
	int errors;
};

static void *worker_run(void *arg)
{
	struct worker *wk = arg;
	static const char *bodies[] = {
	        "Dear all,\r\nplease find the CONFIDENTIAL report attached.\r\n",
	        "Dear all,\r\nnothing to see here, move along please.\r\n",
	        "Card: 4111 1111 1111 1111\r\n",
	        "IBAN DE89 3704 0044 0532 0130 00 thanks\r\n",
	};
	static const int want[] = {1, 0, 1, 1};

	for (int i = 0; i < 2000; i++) {
		int k = (int)(rand_r(&wk->seed) % 4);
		const char *b = bodies[k];
		size_t n = strlen(b), pos = 0;
		rules_scan *s = rules_scan_new(wk->r);
		const char *w;
		int got = 0;

		while (pos < n) {
			size_t step = 1 + rand_r(&wk->seed) % 9;

			if (step > n - pos)
				step = n - pos;
			got = rules_scan_body(s, (const unsigned char *)b + pos, step, &w);
			pos += step;
		}
		got = rules_scan_body(s, NULL, 0, &w);
		if (got != want[k])
			wk->errors++;
		rules_scan_free(s);
	}
	return NULL;
}

static void test_threads(void **state)
{
	const char *b[] = {"CONFIDENTIAL", "\\b(?:\\d[ -]?){13,16}\\b",
	                   "\\b[A-Z]{2}\\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\\b"};
	rules *r = mk(DEFAULT_TAG, NULL, 0, b, 3, 1 << 20);
	pthread_t t[4];
	struct worker wk[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		wk[i] = (struct worker){r, (unsigned)i * 7919u + 1, 0};
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &wk[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(wk[i].errors, 0);
	}
	rules_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_subject_default),
	        cmocka_unit_test(test_subject_custom_and_disabled),
	        cmocka_unit_test(test_header_patterns),
	        cmocka_unit_test(test_header_malformed),
	        cmocka_unit_test(test_compile_errors),
	        cmocka_unit_test(test_want),
	        cmocka_unit_test(test_body_one_chunk),
	        cmocka_unit_test(test_body_split),
	        cmocka_unit_test(test_body_split_large),
	        cmocka_unit_test(test_body_limit),
	        cmocka_unit_test(test_body_edges),
	        cmocka_unit_test(test_body_utf8_and_nul),
	        cmocka_unit_test(test_body_carry_bounded),
	        cmocka_unit_test(test_match_error_counts),
	        cmocka_unit_test(test_threads),
	        cmocka_unit_test(test_body_crlf_lines),
	        cmocka_unit_test(test_body_crlf_split),
	        cmocka_unit_test(test_body_held_bounded),
	        cmocka_unit_test(test_body_small_calls_linear),
	        cmocka_unit_test(test_body_pending_small_calls),
	        cmocka_unit_test(test_header_trimmed),
	        cmocka_unit_test(test_subject_long_blanks),
	        cmocka_unit_test(test_match_limits_fast),
	        cmocka_unit_test(test_attachments),
	        cmocka_unit_test(test_list),
	        cmocka_unit_test(test_which_is_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
