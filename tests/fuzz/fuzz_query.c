/*
 * NAME
 *	fuzz_query - libFuzzer target for the libtlsmaps key normalizer
 * DESCRIPTION
 *	The input is one lookup key, as Postfix or a client would send it. It
 *	goes through tlsmaps_query_parse() and, when accepted, through
 *	tlsmaps_lookup_query() (both directions) and tlsmaps_lookup_nexthop()
 *	on a small fixed table with every key form. The input is also given
 *	to tlsmaps_addr_parse() and tlsmaps_level_parse().
 *
 *	Besides the sanitizers, these properties abort the run:
 *	- a rejected key leaves a non-empty, NUL-terminated reason in why and
 *	  writes nothing past whylen;
 *	- an accepted key is normalized: lowercase, no trailing dot, no empty
 *	  label, name_len == strlen(name) <= TLSMAPS_NAME_MAX (+1 for ".b.c"),
 *	  port <= 65535, family 4 or 6 for the address kinds;
 *	- normalizing is idempotent: the query written back as text parses to
 *	  the same query;
 *	- a parsed query never makes a lookup return TLSMAPS_ERROR, and FOUND
 *	  comes with a valid id;
 *	- tlsmaps_addr_parse() + tlsmaps_addr_format() round-trip;
 *	- tlsmaps_level_parse() accepts only the level names.
 * SEE ALSO
 *	tests/fuzz/README.md, tlsmaps.h
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <tlsmaps.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_query: check failed at %s:%d: %s\n", __FILE__,       \
			        __LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static const char table_text[] = "example.com encrypt\n"
                                 ".example.com verify match=hostname:nexthop\n"
                                 "legacy.example.com may\n"
                                 "*.example.org secure min_bits=256\n"
                                 "in.example.net encrypt direction=in\n"
                                 "out.example.net dane direction=out\n"
                                 "[mx.example.com]:587 secure\n"
                                 "[mx.example.com] verify\n"
                                 "[192.0.2.7] encrypt\n"
                                 "[192.0.2.8]:25 may\n"
                                 "192.0.2.0/24 encrypt\n"
                                 "192.0.2.128/25 none\n"
                                 "10.1.2.*\n"
                                 "10.1.* may\n"
                                 "0.0.0.0/0 may direction=in\n"
                                 "2001:db8::/32 encrypt\n"
                                 "2001:db8:1::/48 may direction=out\n"
                                 "2001:db8::1 secure\n";

static tlsmaps_table *table;

static const tlsmaps_table *get_table(void)
{
	unsigned nerrors = 0;
	tlsmaps_builder *b;

	if (table)
		return table;
	b = tlsmaps_builder_new(NULL);
	CHECK(b != NULL);
	CHECK(tlsmaps_builder_add_buffer(b, "fixed.map", table_text, strlen(table_text)) == 0);
	table = tlsmaps_builder_finish(b, &nerrors);
	if (table == NULL) {
		fprintf(stderr, "fuzz_query: the fixed table does not build (%u errors)\n",
		        nerrors);
		abort();
	}
	return table;
}

static void check_lookup(const tlsmaps_table *t, tlsmaps_status st, tlsmaps_id id)
{
	CHECK(st == TLSMAPS_FOUND || st == TLSMAPS_NOTFOUND);
	if (st == TLSMAPS_FOUND)
		CHECK(id < tlsmaps_table_count(t));
}

static void check_normalized(const tlsmaps_query *q)
{
	size_t i;
	size_t max = TLSMAPS_NAME_MAX + (q->kind == TLSMAPS_QUERY_PARENT);

	CHECK(q->name_len >= 1 && q->name_len <= max);
	CHECK(q->name[q->name_len] == 0 && strlen(q->name) == q->name_len);
	CHECK(q->name[q->name_len - 1] != '.');
	CHECK((q->name[0] == '.') == (q->kind == TLSMAPS_QUERY_PARENT));
	for (i = 0; i < q->name_len; i++) {
		unsigned char c = (unsigned char)q->name[i];

		CHECK(!(c >= 'A' && c <= 'Z'));
		CHECK(c > ' ' && c < 0x7f);
		CHECK(c != '[' && c != ']' && c != ':');
		if (c == '.')
			CHECK(i == 0 ? q->kind == TLSMAPS_QUERY_PARENT : q->name[i - 1] != '.');
	}
}

/* Write q back as key text. */
static size_t unparse(const tlsmaps_query *q, char *buf, size_t len)
{
	char a[TLSMAPS_ADDR_STR_MAX];
	char port[16] = "";
	int n = 0;

	if (q->port)
		snprintf(port, sizeof(port), ":%u", q->port);
	switch (q->kind) {
	case TLSMAPS_QUERY_NAME:
	case TLSMAPS_QUERY_PARENT:
		n = snprintf(buf, len, "%s%s", q->name, port);
		break;
	case TLSMAPS_QUERY_ADDR:
		CHECK(tlsmaps_addr_format(&q->addr, a, sizeof(a)) != NULL);
		n = snprintf(buf, len, "%s%s", a, q->addr.family == 4 ? port : "");
		break;
	case TLSMAPS_QUERY_LITERAL_NAME:
		n = snprintf(buf, len, "[%s]%s", q->name, port);
		break;
	case TLSMAPS_QUERY_LITERAL_ADDR:
		CHECK(tlsmaps_addr_format(&q->addr, a, sizeof(a)) != NULL);
		n = snprintf(buf, len, "[%s%s]%s", q->addr.family == 6 ? "ipv6:" : "", a, port);
		break;
	}
	CHECK(n > 0 && (size_t)n < len);
	return (size_t)n;
}

static int same_query(const tlsmaps_query *a, const tlsmaps_query *b)
{
	if (a->kind != b->kind || a->port != b->port)
		return 0;
	if (a->kind == TLSMAPS_QUERY_ADDR || a->kind == TLSMAPS_QUERY_LITERAL_ADDR)
		return a->addr.family == b->addr.family &&
		       memcmp(a->addr.bytes, b->addr.bytes, a->addr.family == 4 ? 4 : 16) == 0;
	return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

static void fuzz_query(const tlsmaps_table *t, const char *key, size_t size)
{
	tlsmaps_query q, q2;
	char why[TLSMAPS_WHY_MAX + 8];
	char text[TLSMAPS_KEY_MAX + 64];
	tlsmaps_id id;
	size_t n;
	int r;

	memset(why, 'W', sizeof(why));
	r = tlsmaps_query_parse(key, size, &q, why, TLSMAPS_WHY_MAX);
	CHECK(r == 0 || r == -1);
	CHECK(memcmp(why + TLSMAPS_WHY_MAX, "WWWWWWWW", 8) == 0);
	if (r != 0) {
		CHECK(memchr(why, 0, TLSMAPS_WHY_MAX) != NULL && why[0] != 0);
		return;
	}
	CHECK(q.port <= 65535);
	switch (q.kind) {
	case TLSMAPS_QUERY_NAME:
	case TLSMAPS_QUERY_PARENT:
	case TLSMAPS_QUERY_LITERAL_NAME:
		check_normalized(&q);
		break;
	case TLSMAPS_QUERY_ADDR:
	case TLSMAPS_QUERY_LITERAL_ADDR:
		CHECK(q.addr.family == 4 || q.addr.family == 6);
		break;
	default:
		CHECK(!"query of no kind");
	}

	/* Idempotent: the normalized text parses to the same query. */
	n = unparse(&q, text, sizeof(text));
	if (tlsmaps_query_parse(text, n, &q2, why, TLSMAPS_WHY_MAX) != 0) {
		fprintf(stderr, "fuzz_query: normalized \"%s\" does not parse: %s\n", text, why);
		abort();
	}
	CHECK(same_query(&q, &q2));

	id = TLSMAPS_NO_ID;
	check_lookup(t, tlsmaps_lookup_query(t, &q, TLSMAPS_DIR_IN, &id), id);
	id = TLSMAPS_NO_ID;
	check_lookup(t, tlsmaps_lookup_query(t, &q, TLSMAPS_DIR_OUT, &id), id);
	id = TLSMAPS_NO_ID;
	check_lookup(t, tlsmaps_lookup_nexthop(t, &q, &id), id);
	if (q.kind == TLSMAPS_QUERY_ADDR || q.kind == TLSMAPS_QUERY_LITERAL_ADDR) {
		id = TLSMAPS_NO_ID;
		check_lookup(t, tlsmaps_lookup_addr(t, &q.addr, TLSMAPS_DIR_OUT, &id), id);
	} else {
		id = TLSMAPS_NO_ID;
		check_lookup(t, tlsmaps_lookup_name(t, q.name, q.name_len, TLSMAPS_DIR_IN, &id),
		             id);
	}
}

static void fuzz_addr(const char *s, size_t size)
{
	tlsmaps_addr a, b;
	char buf[TLSMAPS_ADDR_STR_MAX];
	const char *f;

	if (tlsmaps_addr_parse(s, size, &a) != 0)
		return;
	CHECK(a.family == 4 || a.family == 6);
	f = tlsmaps_addr_format(&a, buf, sizeof(buf));
	CHECK(f != NULL && strlen(f) < sizeof(buf));
	CHECK(tlsmaps_addr_parse(f, strlen(f), &b) == 0);
	CHECK(a.family == b.family && memcmp(a.bytes, b.bytes, a.family == 4 ? 4 : 16) == 0);
}

static void fuzz_level(const char *s, size_t size)
{
	tlsmaps_level l;
	const char *name;

	if (tlsmaps_level_parse(s, size, &l) != 0)
		return;
	CHECK((unsigned)l < TLSMAPS_LEVEL_COUNT);
	name = tlsmaps_level_name(l);
	CHECK(name != NULL && strlen(name) == size && strncasecmp(name, s, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const tlsmaps_table *t = get_table();
	char *copy;

	/* An exact-size heap copy, so ASan sees any read past len. */
	copy = malloc(size ? size : 1);
	CHECK(copy != NULL);
	if (size)
		memcpy(copy, data, size);
	fuzz_query(t, copy, size);
	fuzz_addr(copy, size);
	fuzz_level(copy, size);
	free(copy);
	return 0;
}
