/*
 * NAME
 *	bench_table - load time, memory and lookup rate of libtlsmaps
 * SUMMARY
 *	bench_table [-p PASSES] [-r RUNS] TABLE DOMKEYS ADDRKEYS
 * DESCRIPTION
 *	Reads both key files into memory first (one key a line), then:
 *
 *	- loads TABLE with tlsmaps_load() and reports the wall time, the
 *	  growth of VmRSS (/proc/self/status) across the load, per entry, and
 *	  the peak VmHWM reached during the load (the peak is reset first
 *	  through /proc/self/clear_refs when the kernel allows it);
 *	- loads it RUNS-1 more times (each freed again) and reports the best
 *	  and the first load time;
 *	- for each key file: PASSES passes over every key, each key going
 *	  through tlsmaps_query_parse() and tlsmaps_lookup_query() with
 *	  TLSMAPS_DIR_OUT, as policyd does for a next hop. That is one run;
 *	  the best of RUNS runs is reported. Single thread.
 *
 *	Output: one "name value unit" line per figure on stdout.
 * DIAGNOSTICS
 *	Table diagnostics go to stderr (the first 20). Exit 0, or 1 when the
 *	table does not load or a file cannot be read, 2 on bad usage.
 * SEE ALSO
 *	bench/gentable.c, bench/run-table-bench.sh, docs/BENCHMARKS.md
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tlsmaps.h"

typedef struct {
	char *buf;
	const char **key;
	size_t *len;
	size_t n;
} keyset;

typedef struct {
	unsigned shown;
} report_ctx;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmRSS or VmHWM in kB from /proc/self/status, -1 if unknown. */
static long status_kb(const char *field)
{
	char line[256];
	size_t flen = strlen(field);
	long kb = -1;
	FILE *fp = fopen("/proc/self/status", "r");

	if (fp == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, field, flen) == 0 && line[flen] == ':') {
			kb = strtol(line + flen + 1, NULL, 10);
			break;
		}
	fclose(fp);
	return kb;
}

/* Reset VmHWM to the current RSS (Linux >= 4.0). 0 or -1. */
static int reset_hwm(void)
{
	FILE *fp = fopen("/proc/self/clear_refs", "w");
	int ok;

	if (fp == NULL)
		return -1;
	ok = fputs("5", fp) >= 0;
	return fclose(fp) == 0 && ok ? 0 : -1;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL) {
		fprintf(stderr, "bench_table: out of memory\n");
		exit(1);
	}
	return p;
}

/* Read a whole file of keys, one a line; blank lines skipped. */
static void keyset_read(keyset *ks, const char *path)
{
	FILE *fp = fopen(path, "rb");
	size_t cap = 1 << 20, len = 0, n = 0, nlines = 0;
	char *p;

	if (fp == NULL) {
		fprintf(stderr, "bench_table: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	ks->buf = xmalloc(cap + 1);
	while ((n = fread(ks->buf + len, 1, cap - len, fp)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			ks->buf = realloc(ks->buf, cap + 1);
			if (ks->buf == NULL) {
				fprintf(stderr, "bench_table: out of memory\n");
				exit(1);
			}
		}
	}
	if (ferror(fp)) {
		fprintf(stderr, "bench_table: %s: read error\n", path);
		exit(1);
	}
	fclose(fp);
	ks->buf[len] = '\n';
	for (size_t i = 0; i <= len; i++)
		nlines += ks->buf[i] == '\n';
	ks->key = xmalloc(nlines * sizeof(*ks->key));
	ks->len = xmalloc(nlines * sizeof(*ks->len));
	ks->n = 0;
	for (p = ks->buf; p < ks->buf + len;) {
		char *nl = memchr(p, '\n', (size_t)(ks->buf + len + 1 - p));
		size_t klen = (size_t)(nl - p);

		if (klen > 0 && p[klen - 1] == '\r')
			klen--;
		if (klen > 0) {
			ks->key[ks->n] = p;
			ks->len[ks->n] = klen;
			ks->n++;
		}
		*nl = '\0';
		p = nl + 1;
	}
}

static void keyset_free(keyset *ks)
{
	free(ks->buf);
	free(ks->key);
	free(ks->len);
}

static void report(void *ctx, const char *file, unsigned line, const char *message)
{
	report_ctx *rc = ctx;

	if (rc->shown++ < 20)
		fprintf(stderr, "%s:%u: %s\n", file, line, message);
}

static tlsmaps_table *load(const char *path, double *secs)
{
	tlsmaps_options opts;
	report_ctx rc = {0};
	unsigned nerrors = 0;
	tlsmaps_table *t;
	double t0;

	tlsmaps_options_init(&opts);
	opts.report = report;
	opts.report_ctx = &rc;
	t0 = now();
	t = tlsmaps_load(&path, 1, &opts, &nerrors);
	*secs = now() - t0;
	if (t == NULL) {
		fprintf(stderr, "bench_table: %s: %u errors\n", path, nerrors);
		exit(1);
	}
	return t;
}

typedef struct {
	size_t found, notfound, errors;
	uint64_t idsum; /* keeps the compiler from dropping lookups */
} counts;

static void one_pass(const tlsmaps_table *t, const keyset *ks, counts *c)
{
	char why[TLSMAPS_WHY_MAX];
	tlsmaps_query q;
	tlsmaps_id id;

	for (size_t i = 0; i < ks->n; i++) {
		if (tlsmaps_query_parse(ks->key[i], ks->len[i], &q, why, sizeof(why)) < 0) {
			c->errors++;
			continue;
		}
		switch (tlsmaps_lookup_query(t, &q, TLSMAPS_DIR_OUT, &id)) {
		case TLSMAPS_FOUND:
			c->found++;
			c->idsum += id;
			break;
		case TLSMAPS_NOTFOUND:
			c->notfound++;
			break;
		default:
			c->errors++;
		}
	}
}

/* Parsing alone, to split the cost of a lookup. Returns the number of good keys. */
static size_t parse_pass(const keyset *ks)
{
	char why[TLSMAPS_WHY_MAX];
	tlsmaps_query q;
	size_t good = 0;

	for (size_t i = 0; i < ks->n; i++)
		good += tlsmaps_query_parse(ks->key[i], ks->len[i], &q, why, sizeof(why)) == 0 &&
		        q.name_len < sizeof(q.name);
	return good;
}

static void bench_keys(const char *name, const tlsmaps_table *t, const keyset *ks, unsigned passes,
                       unsigned runs)
{
	double best = 0, best_parse = 0;
	counts first = {0};
	size_t good = 0;

	if (ks->n == 0)
		return;
	for (unsigned r = 0; r < runs; r++) {
		counts c = {0};
		double t0 = now(), dt, rate;

		for (unsigned p = 0; p < passes; p++)
			one_pass(t, ks, &c);
		dt = now() - t0;
		rate = (double)ks->n * passes / dt;
		if (rate > best)
			best = rate;
		if (r == 0)
			first = c;
		else if (c.found != first.found || c.idsum != first.idsum)
			fprintf(stderr, "bench_table: %s: results differ between runs\n", name);
	}
	for (unsigned r = 0; r < runs; r++) {
		double t0 = now(), rate;

		for (unsigned p = 0; p < passes; p++)
			good += parse_pass(ks);
		rate = (double)ks->n * passes / (now() - t0);
		if (rate > best_parse)
			best_parse = rate;
	}
	printf("%s_keys %zu keys\n", name, ks->n);
	printf("%s_found %zu keys\n", name, first.found / passes);
	printf("%s_notfound %zu keys\n", name, first.notfound / passes);
	printf("%s_errors %zu keys\n", name, first.errors / passes);
	printf("%s_lookups_per_s %.0f lookups/s\n", name, best);
	printf("%s_ns_per_lookup %.1f ns\n", name, 1e9 / best);
	printf("%s_parse_only_per_s %.0f keys/s\n", name, best_parse);
	printf("%s_parse_ns %.1f ns\n", name, 1e9 / best_parse);
	printf("%s_lookup_ns %.1f ns\n", name, 1e9 / best - 1e9 / best_parse);
	if (good != (ks->n - first.errors / passes) * passes * runs)
		fprintf(stderr, "bench_table: %s: parse-only pass disagrees\n", name);
	if (first.errors > 0)
		fprintf(stderr, "bench_table: %s: %zu keys did not parse\n", name,
		        first.errors / passes);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_table [-p PASSES] [-r RUNS] TABLE DOMKEYS ADDRKEYS\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned passes = 3, runs = 3;
	keyset dom, addr;
	tlsmaps_table *t;
	long rss0, rss1, hwm0, hwm1;
	double secs, first, best, worst;
	size_t n;
	int c, hwm_reset;

	while ((c = getopt(argc, argv, "p:r:")) != -1) {
		switch (c) {
		case 'p':
			passes = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 3 || passes == 0 || runs == 0)
		usage();

	keyset_read(&dom, argv[optind + 1]);
	keyset_read(&addr, argv[optind + 2]);

	hwm_reset = reset_hwm() == 0;
	rss0 = status_kb("VmRSS");
	hwm0 = status_kb("VmHWM");
	t = load(argv[optind], &first);
	rss1 = status_kb("VmRSS");
	hwm1 = status_kb("VmHWM");
	n = tlsmaps_table_count(t);
	best = worst = first;
	for (unsigned r = 1; r < runs; r++) {
		tlsmaps_table *t2 = load(argv[optind], &secs);

		if (secs < best)
			best = secs;
		if (secs > worst)
			worst = secs;
		tlsmaps_table_free(t2);
	}

	printf("entries %zu entries\n", n);
	printf("network_entries_out %zu entries\n",
	       tlsmaps_table_network_count(t, TLSMAPS_DIR_OUT));
	printf("load_s %.3f s\n", best);
	printf("load_first_s %.3f s\n", first);
	printf("load_worst_s %.3f s\n", worst);
	printf("load_entries_per_s %.0f entries/s\n", (double)n / best);
	printf("rss_before_kb %ld kB\n", rss0);
	printf("rss_after_kb %ld kB\n", rss1);
	printf("rss_table_kb %ld kB\n", rss1 - rss0);
	printf("rss_bytes_per_entry %.1f bytes\n",
	       n ? (double)(rss1 - rss0) * 1024 / (double)n : 0);
	printf("hwm_peak_kb %ld kB\n", hwm1);
	if (hwm_reset) {
		printf("hwm_load_growth_kb %ld kB\n", hwm1 - hwm0);
		printf("hwm_load_bytes_per_entry %.1f bytes\n",
		       n ? (double)(hwm1 - hwm0) * 1024 / (double)n : 0);
	}
	printf("passes %u passes\n", passes);
	printf("runs %u runs\n", runs);
	fflush(stdout);

	bench_keys("domain", t, &dom, passes, runs);
	bench_keys("addr", t, &addr, passes, runs);

	tlsmaps_table_free(t);
	keyset_free(&dom);
	keyset_free(&addr);
	return 0;
}
