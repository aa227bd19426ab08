/*
 * NAME
 *	test_attack8.c - regression tests for the attack8 review of issue 8
 * DESCRIPTION
 *	Each test FAILS on the code as reviewed; the comment above it says
 *	what should happen and why. Module level, where the miltertest script
 *	tests/milter/t-attack8.lua cannot be exact:
 *	- t_walk_uaf: mimewalk.c boundary() uses a pointer into the boundary
 *	  stack after headers_end() has realloc()ed it (found by fuzz_mime).
 *	  Fails under ASan (build-asan, FORCETLS_SANITIZE=ON); a plain build
 *	  may not notice, see t-attack8.lua case 9 for one that does.
 *	- t_decode_linear: mimehdr_decode() is quadratic on "=?a?b?AAAA"
 *	  repeated, although mimehdr.h promises "Linear in the length".
 *	- t_held_tail: rules_body.c drops a keyword whose "\b" match is held
 *	  back by a long run of line ends (or non-ASCII bytes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mimehdr.h"
#include "mimewalk.h"
#include "rules.h"

static int on_part(void *arg, const mimewalk_part *p)
{
	(void)arg;
	(void)p;
	return 0;
}

static int on_text(void *arg, const unsigned char *buf, size_t len)
{
	(void)arg;
	(void)buf;
	(void)len;
	return 0;
}

/*
 * Four nested multiparts fill the boundary stack (capacity 4); the next
 * part's headers, a multipart Content-Type, end at the closing boundary
 * line of the fourth, without an empty line. boundary() took
 * b = &w->st[3], headers_end() pushes a fifth level (realloc to 8), then
 * b->depth is read and b->boundary freed through the old array. Should:
 * no access to freed memory (re-take b after headers_end()), the walk ends
 * normally. Any sender can send this (inbound mail is walked for the
 * default decrypt pattern).
 */
static void t_walk_uaf(void **st)
{
	static const char body[] = "--a\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
	                           "--b\r\nContent-Type: multipart/mixed; boundary=\"c\"\r\n\r\n"
	                           "--c\r\nContent-Type: multipart/mixed; boundary=\"d\"\r\n\r\n"
	                           "--d\r\nContent-Type: multipart/mixed; boundary=\"e\"\r\n"
	                           "--d--\r\n--c--\r\n--b--\r\n--a--\r\n";
	mimewalk_ops ops = {on_part, on_text, NULL};
	mimewalk_limits lim = {1 << 20, 16, 200};
	mimewalk *w = mimewalk_new(&ops, &lim);
	mimewalk_rc rc;

	(void)st;
	assert_non_null(w);
	assert_int_equal(mimewalk_header(w, "Content-Type", "multipart/mixed; boundary=\"a\""),
	                 MIMEWALK_MORE);
	rc = mimewalk_feed(w, (const unsigned char *)body, sizeof(body) - 1);
	if (rc == MIMEWALK_MORE)
		rc = mimewalk_end(w);
	assert_true(rc == MIMEWALK_MORE || rc == MIMEWALK_DONE);
	mimewalk_free(w);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/*
 * 64 KB (the most libmilter takes in one header) of "=?a?b?AAAA": every
 * "=?" starts a candidate word whose scan for "?=" runs to the end of the
 * value (mimehdr.c word()), so the cost is quadratic: about 0.25 s per
 * header here, 0.6 s at 100 KB, and every header of outbound mail is
 * decoded. A linear decoder takes about 1 ms. Should: under 50 ms (also
 * under ASan).
 */
static void t_decode_linear(void **st)
{
	static const char unit[] = "=?a?b?AAAA";
	size_t n = 65536 / (sizeof(unit) - 1) * (sizeof(unit) - 1), len;
	char *v = malloc(n + 1), *o;
	double t0, dt;

	(void)st;
	assert_non_null(v);
	for (size_t i = 0; i < n; i += sizeof(unit) - 1)
		memcpy(v + i, unit, sizeof(unit) - 1);
	v[n] = '\0';
	t0 = now();
	o = mimehdr_decode(v, &len);
	dt = now() - t0;
	assert_non_null(o);
	free(o);
	free(v);
	if (dt > 0.05)
		fail_msg("mimehdr_decode of 64 KB took %.3f s (quadratic)", dt);
}

/*
 * "\bCONFIDENTIAL\b", fed as the walker feeds text: the line, then each
 * line end on its own (here 40,000 empty lines, 80 KB). The trailing
 * CR/LF run is held back from every window (held_tail), so the match
 * stays partial; the carry passes RULES_CARRY_MAX and is cut from the
 * front, dropping the keyword. One pcre2_match() over the whole text
 * matches. Should: a match (bound the held run, or match the held bytes
 * once it grows past the context; the same for a run of non-ASCII text).
 */
static void t_held_tail(void **st)
{
	const char *pats[] = {"\\bCONFIDENTIAL\\b"};
	rules_config cfg = {.body_patterns = pats, .nbody_patterns = 1, .body_scan_limit = 1 << 20};
	char why[256];
	rules *r = rules_new(&cfg, why, sizeof(why));
	rules_scan *s;
	const char *which = NULL;
	int got = 0;

	(void)st;
	assert_non_null(r);
	s = rules_scan_new(r);
	assert_non_null(s);
	got = rules_scan_body(s, (const unsigned char *)"hello CONFIDENTIAL", 18, &which);
	for (int i = 0; i < 40000 && !got; i++)
		got = rules_scan_body(s, (const unsigned char *)"\r\n", 2, &which);
	if (!got)
		got = rules_scan_body(s, (const unsigned char *)"bye\r\n", 5, &which);
	if (!got)
		got = rules_scan_body(s, NULL, 0, &which);
	rules_scan_free(s);
	rules_free(r);
	assert_int_equal(got, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(t_walk_uaf),
	        cmocka_unit_test(t_decode_linear),
	        cmocka_unit_test(t_held_tail),
	};

	if (mimehdr_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
