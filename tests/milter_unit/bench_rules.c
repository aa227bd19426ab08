/*
 * NAME
 *	bench_rules - body-scan throughput of milter/rules_body.c with 10 patterns
 * SUMMARY
 *	bench_rules [megabytes]
 * DESCRIPTION
 *	Scans a synthetic plain-text body (business mail prose with numbers,
 *	dates, phone numbers and addresses, CRLF line ends; default 10 MB) in
 *	64 KB chunks, as libmilter hands it over, against 10 realistic body
 *	patterns, none of which matches: the whole body is scanned. Prints
 *	the best of 3 runs in MB/s (1 MB = 2^20 bytes) and whether the
 *	patterns were JIT-compiled.
 *
 *	Then the shapes an attacker sends (issue 8, attack8 finding 2), each
 *	1 MB, once, with the seconds it took: "\r\n" in 2-byte calls (the
 *	walker hands over every line end by itself) and in 64 KB calls; "ä"
 *	in 64 KB calls and as "ä\r\n" lines, one call per line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rules.h"

#define CHUNK (64 * 1024)

static const char *const patterns[] = {
        "CONFIDENTIAL",
        "\\b(?:4\\d{3}|5[1-5]\\d{2}|3[47]\\d{2}|6011)[ -]?\\d{4}[ -]?\\d{4}[ -]?\\d{1,4}\\b",
        "\\b[A-Z]{2}\\d{2} ?(?:[A-Z0-9]{4} ?){3,7}[A-Z0-9]{1,4}\\b",
        "\\bSSN\\b",
        "\\b\\d{3}-\\d{2}-\\d{4}\\b",
        "\\baccount\\s*(?:no|number|#)\\.?\\s*:?\\s*\\d{6,}",
        "\\bprivate\\s+and\\s+confidential\\b",
        "vertraulich|streng geheim",
        "-----BEGIN (?:RSA |EC )?PRIVATE KEY-----",
        "\\bpassword\\s*[:=]\\s*\\S+",
};
#define NPAT (sizeof(patterns) / sizeof(patterns[0]))

static const char *const lines[] = {
        "Hello Maria, thanks for the update on the Q3 forecast.\r\n",
        "Order 12345 shipped on 2024-03-01 to 221B Baker Street, London NW1 6XE.\r\n",
        "Please call me at +44 20 7946 0958 or on my mobile after 5 pm.\r\n",
        "The meeting moved to room 4.12; bring the printed slides (version 7).\r\n",
        "Invoice 2024/0815 totals EUR 1,234.56 including 19% VAT.\r\n",
        "Regards,\r\nJohn Smith\r\nHead of Procurement, Example GmbH\r\n",
        "> On Tue, 5 Mar 2024 at 10:42, Anna wrote:\r\n> Can we confirm the delivery date?\r\n",
        "We expect 250 units per week from calendar week 14 onwards.\r\n",
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Scan size bytes of the unit u repeated, in calls of step bytes: seconds. */
static double shape(rules *r, const char *u, size_t step, size_t size)
{
	size_t ul = strlen(u), n = 0;
	unsigned char *body = malloc(size);
	rules_scan *s = rules_scan_new(r);
	const char *which = NULL;
	double t0, secs;
	int got = 0;

	if (body == NULL || s == NULL)
		exit(1);
	for (; n + ul <= size; n += ul)
		memcpy(body + n, u, ul);
	t0 = now();
	for (size_t off = 0; off < n && !got; off += step)
		got = rules_scan_body(s, body + off, n - off < step ? n - off : step, &which);
	if (!got)
		got = rules_scan_body(s, NULL, 0, &which);
	secs = now() - t0;
	if (got) {
		fprintf(stderr, "bench_rules: unexpected match: %s\n", which);
		exit(1);
	}
	rules_scan_free(s);
	free(body);
	return secs;
}

static void shapes(rules *r)
{
	static const struct {
		const char *name, *unit;
		size_t step;
	} sh[] = {
	        {"\\r\\n, 2-byte calls", "\r\n", 2},
	        {"\\r\\n, 64 KB calls", "\r\n", CHUNK},
	        {"\"\xc3\xa4\", 64 KB calls", "\xc3\xa4", CHUNK},
	        {"\"\xc3\xa4\\r\\n\" lines", "\xc3\xa4\r\n", 4},
	};

	for (size_t i = 0; i < sizeof(sh) / sizeof(sh[0]); i++)
		printf("bench_rules: 1 MB of %s: %.3f s\n", sh[i].name,
		       shape(r, sh[i].unit, sh[i].step, 1 << 20));
}

int main(int argc, char **argv)
{
	size_t mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 10, size = mb << 20, n = 0, k = 0;
	rules_config cfg = {
	        .body_patterns = patterns, .nbody_patterns = NPAT, .body_scan_limit = (size_t)-1};
	char why[256];
	rules *r = rules_new(&cfg, why, sizeof(why));
	char *body = malloc(size);
	double best = 0;
	uint32_t jit = 0;

	if (r == NULL || body == NULL || mb == 0) {
		fprintf(stderr, "bench_rules: %s\n", r == NULL ? why : "bad size or out of memory");
		return 1;
	}
	while (n < size) {
		const char *l = lines[k++ % (sizeof(lines) / sizeof(lines[0]))];
		size_t len = strlen(l);

		if (len > size - n)
			len = size - n;
		memcpy(body + n, l, len);
		n += len;
	}
	for (int run = 0; run < 3; run++) {
		rules_scan *s = rules_scan_new(r);
		const char *which = NULL;
		double t0 = now(), secs, rate;
		int got = 0;

		for (size_t off = 0; off < size && !got; off += CHUNK)
			got = rules_scan_body(s, (const unsigned char *)body + off,
			                      size - off < CHUNK ? size - off : CHUNK, &which);
		if (!got)
			got = rules_scan_body(s, NULL, 0, &which);
		secs = now() - t0;
		if (got || rules_scan_body_bytes(s) != size) {
			fprintf(stderr, "bench_rules: unexpected match: %s\n", which);
			return 1;
		}
		rules_scan_free(s);
		rate = (double)mb / secs;
		if (rate > best)
			best = rate;
	}
	pcre2_config(PCRE2_CONFIG_JIT, &jit);
	printf("bench_rules: %zu body patterns, %zu MB in %d KB chunks: %.1f MB/s (best of 3, "
	       "JIT %s)\n",
	       NPAT, mb, CHUNK / 1024, best, jit ? "available" : "not available");
	shapes(r);
	rules_free(r);
	free(body);
	return 0;
}
