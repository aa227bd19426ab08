/*
 * NAME
 *	fuzz_table - libFuzzer target for the libtlsmaps table parser
 * DESCRIPTION
 *	The input is a table file. It is built with
 *	tlsmaps_builder_add_buffer() and tlsmaps_builder_finish(); then every
 *	entry's accessors and policy text are exercised, every entry is looked
 *	up by its own canonical key, and a few fixed keys are looked up.
 *
 *	Besides the sanitizers, these properties abort the run:
 *	- diagnostics name the buffer, have a message, and come sorted by line,
 *	  with no line past the end of the input;
 *	- finish returns a table iff it reports zero errors;
 *	- tlsmaps_policy() fits in TLSMAPS_POLICY_MAX, starts with the level
 *	  name and never shows min_bits= or direction=;
 *	- an entry's canonical key parses back as a query, and looking that
 *	  query up in the entry's direction finds an entry with the same key
 *	  (a network key finds a network containing it);
 *	- lookups never return anything but FOUND, NOTFOUND or ERROR, and FOUND
 *	  comes with a valid id.
 * SEE ALSO
 *	tests/fuzz/README.md, tlsmaps.h
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tlsmaps.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_table: check failed at %s:%d: %s\n", __FILE__,       \
			        __LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

struct report_state {
	unsigned count;
	unsigned last_line;
	unsigned max_line;
};

static void report(void *ctx, const char *file, unsigned line, const char *message)
{
	struct report_state *r = ctx;

	CHECK(file != NULL && strcmp(file, "fuzz.map") == 0);
	CHECK(message != NULL && message[0] != 0);
	CHECK(strlen(message) < 4096);
	CHECK(line >= r->last_line);
	CHECK(line <= r->max_line);
	r->last_line = line;
	r->count++;
}

static void check_status(const tlsmaps_table *t, tlsmaps_status st, tlsmaps_id id)
{
	CHECK(st == TLSMAPS_FOUND || st == TLSMAPS_NOTFOUND || st == TLSMAPS_ERROR);
	if (st == TLSMAPS_FOUND)
		CHECK(id < tlsmaps_table_count(t));
}

static int addr_in_network(const tlsmaps_addr *a, const tlsmaps_addr *net, unsigned plen)
{
	unsigned i, full = plen / 8, rest = plen % 8;

	if (a->family != net->family)
		return 0;
	for (i = 0; i < full; i++)
		if (a->bytes[i] != net->bytes[i])
			return 0;
	if (rest && ((a->bytes[full] ^ net->bytes[full]) & (0xff << (8 - rest))))
		return 0;
	return 1;
}

/* Does the policy text have a word "min_bits=..." or "direction=..."? */
static int has_own_attr(const char *text)
{
	const char *p = text;

	for (;;) {
		if (strncmp(p, "min_bits=", 9) == 0 || strncmp(p, "direction=", 10) == 0)
			return 1;
		if ((p = strchr(p, ' ')) == NULL)
			return 0;
		p++;
	}
}

static void check_entry(const tlsmaps_table *t, tlsmaps_id id)
{
	char buf[TLSMAPS_POLICY_MAX];
	const char *key, *name, *attrs;
	tlsmaps_level level = tlsmaps_entry_level(t, id);
	tlsmaps_kind kind = tlsmaps_entry_kind(t, id);
	unsigned dir = tlsmaps_entry_direction(t, id);
	unsigned bits = tlsmaps_entry_min_bits(t, id);
	tlsmaps_query q;
	tlsmaps_id found = TLSMAPS_NO_ID;
	tlsmaps_status st;
	char why[TLSMAPS_WHY_MAX];
	int n;

	CHECK((unsigned)level < TLSMAPS_LEVEL_COUNT);
	CHECK(dir == TLSMAPS_DIR_IN || dir == TLSMAPS_DIR_OUT || dir == TLSMAPS_DIR_BOTH);
	CHECK(bits >= 40 && bits <= 256);
	if (!tlsmaps_entry_min_bits_explicit(t, id))
		CHECK(bits == TLSMAPS_MIN_BITS_DEFAULT);
	CHECK(strcmp(tlsmaps_entry_file(t, id), "fuzz.map") == 0);
	CHECK(tlsmaps_entry_line(t, id) >= 1);
	attrs = tlsmaps_entry_attrs(t, id);
	CHECK(attrs != NULL);

	n = tlsmaps_policy(t, id, buf, sizeof(buf));
	CHECK(n >= 0 && (size_t)n == strlen(buf));
	name = tlsmaps_level_name(level);
	CHECK(name != NULL && strncmp(buf, name, strlen(name)) == 0);
	CHECK(buf[strlen(name)] == 0 || buf[strlen(name)] == ' ');
	CHECK(!has_own_attr(buf));
	/* One byte short never overflows and is refused. */
	CHECK(tlsmaps_policy(t, id, buf, (size_t)n) == -1);

	key = tlsmaps_entry_key(t, id);
	CHECK(key != NULL && key[0] != 0 && strlen(key) <= TLSMAPS_KEY_MAX);
	/* Names and next hops: the canonical key is also a valid lookup key. */
	if (kind != TLSMAPS_KIND_NETWORK &&
	    tlsmaps_query_parse(key, strlen(key), &q, why, sizeof(why)) != 0) {
		fprintf(stderr, "fuzz_table: canonical key \"%s\" does not parse: %s\n", key, why);
		abort();
	}
	switch (kind) {
	case TLSMAPS_KIND_DOMAIN:
	case TLSMAPS_KIND_PARENT:
		CHECK(q.kind ==
		      (kind == TLSMAPS_KIND_DOMAIN ? TLSMAPS_QUERY_NAME : TLSMAPS_QUERY_PARENT));
		st = tlsmaps_lookup_name(t, q.name, q.name_len,
		                         dir & TLSMAPS_DIR_OUT ? TLSMAPS_DIR_OUT : TLSMAPS_DIR_IN,
		                         &found);
		CHECK(st == TLSMAPS_FOUND && found < tlsmaps_table_count(t));
		CHECK(strcmp(tlsmaps_entry_key(t, found), key) == 0);
		break;
	case TLSMAPS_KIND_NETWORK: {
		tlsmaps_addr net;
		unsigned plen = 999;

		tlsmaps_entry_network(t, id, &net, &plen);
		CHECK(net.family == 4 || net.family == 6);
		CHECK(plen <= (net.family == 4 ? 32u : 128u));
		st = tlsmaps_lookup_addr(
		        t, &net, dir & TLSMAPS_DIR_OUT ? TLSMAPS_DIR_OUT : TLSMAPS_DIR_IN, &found);
		CHECK(st == TLSMAPS_FOUND && found < tlsmaps_table_count(t));
		CHECK(tlsmaps_entry_kind(t, found) == TLSMAPS_KIND_NETWORK);
		{
			tlsmaps_addr fnet;
			unsigned fplen = 999;

			/* The answer contains the address and is at least as specific. */
			tlsmaps_entry_network(t, found, &fnet, &fplen);
			CHECK(addr_in_network(&net, &fnet, fplen));
			CHECK(fplen >= plen);
		}
		break;
	}
	case TLSMAPS_KIND_NEXTHOP:
		CHECK(q.kind == TLSMAPS_QUERY_LITERAL_NAME || q.kind == TLSMAPS_QUERY_LITERAL_ADDR);
		CHECK(q.port == tlsmaps_entry_port(t, id));
		if (dir & TLSMAPS_DIR_OUT) {
			st = tlsmaps_lookup_nexthop(t, &q, &found);
			CHECK(st == TLSMAPS_FOUND && found < tlsmaps_table_count(t));
			CHECK(strcmp(tlsmaps_entry_key(t, found), key) == 0);
		}
		break;
	default:
		CHECK(!"entry of no kind");
	}
}

static const char *const probes[] = {
        "example.com",
        ".example.com",
        "mx.example.com:25",
        "[mx.example.com]",
        "[mx.example.com]:587",
        "192.0.2.7",
        "[192.0.2.7]:25",
        "2001:db8::1",
        "[ipv6:2001:db8::1]",
        "a.b.c.d.e.f.example.org",
        ".org",
        "10.1.2.3",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_state rs;
	tlsmaps_options o;
	tlsmaps_builder *b;
	tlsmaps_table *t;
	unsigned nerrors = 12345, dirs[2] = {TLSMAPS_DIR_IN, TLSMAPS_DIR_OUT};
	size_t i, j, n;
	tlsmaps_query q;
	tlsmaps_id id;
	char why[TLSMAPS_WHY_MAX];

	memset(&rs, 0, sizeof(rs));
	rs.max_line = 1;
	for (i = 0; i < size; i++)
		rs.max_line += data[i] == '\n';
	tlsmaps_options_init(&o);
	o.report = report;
	o.report_ctx = &rs;
	/* Vary the default level with the input length: all code paths, deterministic. */
	o.default_level = (tlsmaps_level)(size % TLSMAPS_LEVEL_COUNT);
	b = tlsmaps_builder_new(&o);
	CHECK(b != NULL);
	CHECK(tlsmaps_builder_add_buffer(b, "fuzz.map", (const char *)data, size) == 0);
	t = tlsmaps_builder_finish(b, &nerrors);
	if (t == NULL) {
		CHECK(nerrors > 0);
		CHECK(rs.count >= nerrors);
		return 0;
	}
	CHECK(nerrors == 0);
	n = tlsmaps_table_count(t);
	for (i = 0; i < n; i++)
		check_entry(t, (tlsmaps_id)i);
	CHECK(tlsmaps_table_network_count(t, TLSMAPS_DIR_IN) <= n);
	CHECK(tlsmaps_table_network_count(t, TLSMAPS_DIR_OUT) <= n);
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		CHECK(tlsmaps_query_parse(probes[i], strlen(probes[i]), &q, why, sizeof(why)) == 0);
		for (j = 0; j < 2; j++) {
			id = TLSMAPS_NO_ID;
			check_status(t, tlsmaps_lookup_query(t, &q, dirs[j], &id), id);
		}
		id = TLSMAPS_NO_ID;
		check_status(t, tlsmaps_lookup_nexthop(t, &q, &id), id);
	}
	tlsmaps_table_free(t);
	return 0;
}
