/*
 * NAME
 *	test_lookup - unit tests for the libtlsmaps lookup engine
 * DESCRIPTION
 *	SPEC section 3: exact beats parent, the nearest parent wins, a ".b.c"
 *	query matches parent entries only, the longest prefix wins (IPv4 and
 *	IPv6, nested exceptions, independent of file order), direction
 *	filtering (an entry of the other direction is invisible and the next
 *	broader entry answers), next hops ("[h]:587" beats "[h]" beats domain
 *	entries; "[192.0.2.7]" then network entries), malformed keys give
 *	TLSMAPS_ERROR, and concurrent lookups from several threads on one
 *	table.
 *
 *	Expected results are table line numbers (0: NOTFOUND, -1: ERROR).
 * SEE ALSO
 *	tlsmaps.h, SPEC.md section 3
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <cmocka.h>

#include "unit_util.h"

#define OUT TLSMAPS_DIR_OUT
#define IN TLSMAPS_DIR_IN

static void test_domains(void **state)
{
	/* Parents come after the exact entries they lose to: file order must not matter. */
	static const char text[] = "example.com encrypt\n"      /* 1 */
	                           "legacy.example.com may\n"   /* 2 */
	                           "x.deep.example.com none\n"  /* 3 */
	                           ".deep.example.com secure\n" /* 4 */
	                           ".example.com verify\n"      /* 5 */
	                           ".com may\n"                 /* 6 */
	                           "other.org\n";               /* 7 */
	tlsmaps_table *t = build_ok("dom.map", text);

	(void)state;
	/* Exact beats parent. */
	CHECK_NAME(t, "example.com", OUT, 1);
	CHECK_NAME(t, "legacy.example.com", OUT, 2);
	CHECK_NAME(t, "x.deep.example.com", IN, 3);
	/* The nearest parent wins. */
	CHECK_NAME(t, "mx.example.com", OUT, 5);
	CHECK_NAME(t, "a.b.c.example.com", OUT, 5);
	CHECK_NAME(t, "y.deep.example.com", OUT, 4);
	CHECK_NAME(t, "a.x.deep.example.com", OUT, 4);
	CHECK_NAME(t, "sub.legacy.example.com", OUT, 5);
	/* A parent entry does not match the domain itself. */
	CHECK_NAME(t, "deep.example.com", OUT, 5);
	CHECK_NAME(t, "foo.com", OUT, 6);
	CHECK_NAME(t, "com", OUT, 0);
	/* Labels, not string suffixes. */
	CHECK_NAME(t, "notexample.com", OUT, 6);
	CHECK_NAME(t, "other.org", OUT, 7);
	CHECK_NAME(t, "www.other.org", OUT, 0);
	CHECK_NAME(t, "ther.org", OUT, 0);
	CHECK_NAME(t, "org", OUT, 0);
	CHECK_NAME(t, "example.net", OUT, 0);
	tlsmaps_table_free(t);
}

static void test_parent_query(void **state)
{
	static const char text[] = "example.com encrypt\n"      /* 1 */
	                           "legacy.example.com may\n"   /* 2 */
	                           ".deep.example.com secure\n" /* 3 */
	                           ".example.com verify\n"      /* 4 */
	                           "solo.org\n";                /* 5 */
	tlsmaps_table *t = build_ok("parent.map", text);

	(void)state;
	/* ".b.c" is what Postfix asks after NOTFOUND: parents only. */
	CHECK_NAME(t, ".deep.example.com", OUT, 3);
	CHECK_NAME(t, ".example.com", OUT, 4);
	/* Never the exact domain entry of the same name. */
	CHECK_NAME(t, ".solo.org", OUT, 0);
	CHECK_NAME(t, ".org", OUT, 0);
	/* ".legacy.example.com" is asked for x.legacy.example.com: the domain entry is no answer.
	 */
	CHECK_NAME(t, ".legacy.example.com", OUT, 4);
	CHECK_NAME(t, ".com", OUT, 0);

	/* Through the key normalizer and lookup_query. */
	CHECK_QUERY(t, ".Deep.Example.Com", OUT, 3);
	CHECK_QUERY(t, ".solo.org", IN, 0);
	CHECK_QUERY(t, ".example.com", IN, 4);
	tlsmaps_table_free(t);
}

static void test_ipv4_longest_prefix(void **state)
{
	/* Broad rules last: the answer is the longest prefix, not the first line. */
	static const char text[] = "10.1.2.3 none\n"         /* 1 */
	                           "10.1.2.0/24 verify\n"    /* 2 */
	                           "10.1.0.0/16 may\n"       /* 3 */
	                           "10.0.0.0/8 encrypt\n"    /* 4 */
	                           "192.0.2.128/25 secure\n" /* 5 */
	                           "192.0.2.0/24 encrypt\n"  /* 6 */
	                           "198.51.100.*\n"          /* 7 */
	                           "203.0.113.4/31 may\n";   /* 8 */
	tlsmaps_table *t = build_ok("v4.map", text);

	(void)state;
	CHECK_ADDR(t, "10.1.2.3", OUT, 1);
	CHECK_ADDR(t, "10.1.2.4", OUT, 2);
	CHECK_ADDR(t, "10.1.2.255", OUT, 2);
	CHECK_ADDR(t, "10.1.3.1", OUT, 3);
	CHECK_ADDR(t, "10.1.255.255", OUT, 3);
	CHECK_ADDR(t, "10.2.0.1", OUT, 4);
	CHECK_ADDR(t, "10.0.0.0", OUT, 4);
	CHECK_ADDR(t, "10.255.255.255", OUT, 4);
	CHECK_ADDR(t, "11.0.0.0", OUT, 0);
	CHECK_ADDR(t, "9.255.255.255", OUT, 0);
	CHECK_ADDR(t, "192.0.2.127", IN, 6);
	CHECK_ADDR(t, "192.0.2.128", IN, 5);
	CHECK_ADDR(t, "192.0.2.255", IN, 5);
	CHECK_ADDR(t, "192.0.3.0", IN, 0);
	CHECK_ADDR(t, "198.51.100.200", IN, 7);
	CHECK_ADDR(t, "198.51.101.1", IN, 0);
	CHECK_ADDR(t, "203.0.113.3", IN, 0);
	CHECK_ADDR(t, "203.0.113.4", IN, 8);
	CHECK_ADDR(t, "203.0.113.5", IN, 8);
	CHECK_ADDR(t, "203.0.113.6", IN, 0);
	/* An IPv6 address does not match IPv4 entries. */
	CHECK_ADDR(t, "::a01:203", OUT, 0);
	CHECK_ADDR(t, "2001:db8::1", OUT, 0);
	tlsmaps_table_free(t);
}

static void test_nested_exception(void **state)
{
	tlsmaps_table *t = build_ok("nest.map", "10.0.0.0/8 encrypt\n10.1.0.0/16 may\n");
	tlsmaps_id id = TLSMAPS_NO_ID;
	tlsmaps_addr a;

	(void)state;
	CHECK_ADDR(t, "10.1.0.1", OUT, 2);
	CHECK_ADDR(t, "10.2.0.1", OUT, 1);
	assert_int_equal(tlsmaps_addr_parse("10.1.9.9", 8, &a), 0);
	assert_int_equal(tlsmaps_lookup_addr(t, &a, IN, &id), TLSMAPS_FOUND);
	assert_int_equal(tlsmaps_entry_level(t, id), TLSMAPS_LEVEL_MAY);
	tlsmaps_table_free(t);
}

static void test_ipv6_longest_prefix(void **state)
{
	static const char text[] = "2001:db8:1:2::5 none\n"      /* 1 */
	                           "2001:db8:1:2::/64 secure\n"  /* 2 */
	                           "2001:db8:1::/48 may\n"       /* 3 */
	                           "2001:db8::/32 encrypt\n"     /* 4 */
	                           "2001:db8:8000::/33 verify\n" /* 5 */
	                           "fe80::/10 may\n";            /* 6 */
	tlsmaps_table *t = build_ok("v6.map", text);

	(void)state;
	CHECK_ADDR(t, "2001:db8:1:2::5", OUT, 1);
	CHECK_ADDR(t, "2001:db8:1:2::6", OUT, 2);
	CHECK_ADDR(t, "2001:db8:1:2:ffff:ffff:ffff:ffff", OUT, 2);
	CHECK_ADDR(t, "2001:db8:1:3::1", OUT, 3);
	CHECK_ADDR(t, "2001:db8:2::1", OUT, 4);
	CHECK_ADDR(t, "2001:db8:7fff:ffff::1", IN, 4);
	CHECK_ADDR(t, "2001:db8:8000::1", IN, 5);
	CHECK_ADDR(t, "2001:db8:ffff::1", IN, 5);
	CHECK_ADDR(t, "2001:db9::1", IN, 0);
	CHECK_ADDR(t, "2001:db7:ffff::1", IN, 0);
	CHECK_ADDR(t, "febf:ffff::1", IN, 6);
	CHECK_ADDR(t, "fec0::1", IN, 0);
	CHECK_ADDR(t, "::1", IN, 0);
	/* An IPv4 address does not match IPv6 entries. */
	CHECK_ADDR(t, "32.1.13.184", OUT, 0);
	tlsmaps_table_free(t);
}

static void test_default_routes(void **state)
{
	tlsmaps_table *t = build_ok("zero.map", "0.0.0.0/0 may\n"
	                                        "::/0 may\n"
	                                        "192.0.2.0/24\n"
	                                        "2001:db8::/32\n");

	(void)state;
	CHECK_ADDR(t, "203.0.113.1", OUT, 1);
	CHECK_ADDR(t, "255.255.255.255", OUT, 1);
	CHECK_ADDR(t, "0.0.0.0", OUT, 1);
	CHECK_ADDR(t, "192.0.2.1", OUT, 3);
	CHECK_ADDR(t, "2001:db9::1", IN, 2);
	CHECK_ADDR(t, "ffff::1", IN, 2);
	CHECK_ADDR(t, "2001:db8::1", IN, 4);
	tlsmaps_table_free(t);
}

static void test_direction(void **state)
{
	static const char text[] = ".corp.example encrypt\n"                 /* 1 */
	                           "mail.corp.example verify direction=in\n" /* 2 */
	                           "out.corp.example none direction=out\n"   /* 3 */
	                           ".in.corp.example secure direction=in\n"  /* 4 */
	                           "10.0.0.0/8 encrypt\n"                    /* 5 */
	                           "10.1.0.0/16 verify direction=in\n"       /* 6 */
	                           "10.1.2.0/24 may direction=out\n"         /* 7 */
	                           "2001:db8::/32 direction=in\n"            /* 8 */
	                           "inonly.example direction=in\n"           /* 9 */
	                           "relay.corp.example may direction=out\n"  /* 10 */
	                           "both.example direction=both\n";          /* 11 */
	tlsmaps_table *t = build_ok("dir.map", text);

	(void)state;
	/* An "in" entry is invisible outbound; the next broader entry answers. */
	CHECK_NAME(t, "mail.corp.example", IN, 2);
	CHECK_NAME(t, "mail.corp.example", OUT, 1);
	CHECK_NAME(t, "out.corp.example", OUT, 3);
	CHECK_NAME(t, "out.corp.example", IN, 1);
	CHECK_NAME(t, "a.in.corp.example", IN, 4);
	CHECK_NAME(t, "a.in.corp.example", OUT, 1);
	CHECK_NAME(t, "inonly.example", IN, 9);
	CHECK_NAME(t, "inonly.example", OUT, 0);
	CHECK_NAME(t, "both.example", IN, 11);
	CHECK_NAME(t, "both.example", OUT, 11);
	CHECK_ADDR(t, "10.1.5.5", IN, 6);
	CHECK_ADDR(t, "10.1.5.5", OUT, 5);
	CHECK_ADDR(t, "10.1.2.5", OUT, 7);
	CHECK_ADDR(t, "10.1.2.5", IN, 6);
	CHECK_ADDR(t, "10.9.9.9", IN, 5);
	CHECK_ADDR(t, "2001:db8::25", IN, 8);
	CHECK_ADDR(t, "2001:db8::25", OUT, 0);
	/* Through lookup_query. */
	CHECK_QUERY(t, "mail.corp.example", IN, 2);
	CHECK_QUERY(t, "mail.corp.example", OUT, 1);
	CHECK_QUERY(t, "10.1.2.5", IN, 6);
	CHECK_QUERY(t, "2001:db8::25", OUT, 0);
	/* Next hops are outbound: inbound-only entries never answer them. */
	CHECK_NEXTHOP(t, "[mail.corp.example]", 1);
	CHECK_NEXTHOP(t, "[relay.corp.example]:25", 10);
	CHECK_NEXTHOP(t, "[inonly.example]", 0);
	CHECK_QUERY(t, "[mail.corp.example]:25", OUT, 1);
	CHECK_QUERY(t, "[relay.corp.example]:25", IN, 1);
	tlsmaps_table_free(t);
}

static const char nexthop_text[] =
        "[mx.partner.example]:587 secure\n"                                               /* 1 */
        "[mx.partner.example] verify\n"                                                   /* 2 */
        ".partner.example encrypt\n"                                                      /* 3 */
        "mx2.partner.example may\n"                                                       /* 4 */
        "[192.0.2.7] fingerprint match=3D:95:34:51:24:66:33:B9:D2:40:99:C0:C1:17:0B:D1\n" /* 5 */
        "192.0.2.0/24 encrypt\n"                                                          /* 6 */
        "198.51.100.0/24 may\n"                                                           /* 7 */
        "mx.partner.example none\n"                                                       /* 8 */
        "[192.0.2.9]:2525 secure\n"                                                       /* 9 */
        "2001:db8::/32 verify\n"                                                          /* 10 */
        "relay.example dane\n"                                                            /* 11 */
        "[relay.example]:25 dane-only\n";                                                 /* 12 */

static void test_nexthop_literal_names(void **state)
{
	tlsmaps_table *t = build_ok("nh.map", nexthop_text);

	(void)state;
	/* [h]:port beats [h] beats domain entries. */
	CHECK_NEXTHOP(t, "[mx.partner.example]:587", 1);
	CHECK_NEXTHOP(t, "[mx.partner.example]:25", 2);
	CHECK_NEXTHOP(t, "[mx.partner.example]", 2);
	CHECK_NEXTHOP(t, "[MX.Partner.Example]:587", 1);
	/* No literal entry: domain entries on the name. */
	CHECK_NEXTHOP(t, "[mx2.partner.example]", 4);
	CHECK_NEXTHOP(t, "[mx2.partner.example]:587", 4);
	CHECK_NEXTHOP(t, "[mx3.partner.example]:587", 3);
	CHECK_NEXTHOP(t, "[partner.example]", 0);
	/* A port-only literal entry does not answer other ports or none. */
	CHECK_NEXTHOP(t, "[relay.example]:25", 12);
	CHECK_NEXTHOP(t, "[relay.example]:587", 11);
	CHECK_NEXTHOP(t, "[relay.example]", 11);
	CHECK_NEXTHOP(t, "relay.example:25", 11);
	/* A plain (MX-resolved) next hop never matches a literal entry. */
	CHECK_NEXTHOP(t, "mx.partner.example", 8);
	CHECK_NEXTHOP(t, "mx.partner.example:587", 8);
	CHECK_NEXTHOP(t, "www.partner.example:2525", 3);
	CHECK_NEXTHOP(t, "partner.example", 0);
	CHECK_NEXTHOP(t, "unknown.example", 0);
	/* lookup_query DIR_OUT is the next-hop rule. */
	CHECK_QUERY(t, "[mx.partner.example]:587", OUT, 1);
	CHECK_QUERY(t, "[mx.partner.example]:25", OUT, 2);
	CHECK_QUERY(t, "mx.partner.example:587", OUT, 8);
	tlsmaps_table_free(t);
}

static void test_nexthop_literal_addrs(void **state)
{
	tlsmaps_table *t = build_ok("nh.map", nexthop_text);

	(void)state;
	/* [192.0.2.7] literal entry, then network entries. */
	CHECK_NEXTHOP(t, "[192.0.2.7]", 5);
	CHECK_NEXTHOP(t, "[192.0.2.7]:25", 5);
	CHECK_NEXTHOP(t, "[192.0.2.8]", 6);
	CHECK_NEXTHOP(t, "[192.0.2.8]:25", 6);
	CHECK_NEXTHOP(t, "[192.0.2.9]:2525", 9);
	CHECK_NEXTHOP(t, "[192.0.2.9]:25", 6);
	CHECK_NEXTHOP(t, "[192.0.2.9]", 6);
	CHECK_NEXTHOP(t, "[198.51.100.1]:25", 7);
	CHECK_NEXTHOP(t, "[203.0.113.1]", 0);
	CHECK_NEXTHOP(t, "[ipv6:2001:db8::1]:25", 10);
	CHECK_NEXTHOP(t, "[2001:db8::1]", 10);
	CHECK_NEXTHOP(t, "[ipv6:2001:db9::1]", 0);
	tlsmaps_table_free(t);
}

static void test_inbound_query(void **state)
{
	tlsmaps_table *t = build_ok("nh.map", nexthop_text);

	(void)state;
	/* DIR_IN: names and addresses, brackets and ports ignored. */
	CHECK_QUERY(t, "mx2.partner.example", IN, 4);
	CHECK_QUERY(t, "[mx2.partner.example]:25", IN, 4);
	CHECK_QUERY(t, "host.partner.example", IN, 3);
	CHECK_QUERY(t, "198.51.100.9", IN, 7);
	CHECK_QUERY(t, "[198.51.100.9]", IN, 7);
	CHECK_QUERY(t, "[198.51.100.9]:25", IN, 7);
	CHECK_QUERY(t, "2001:db8::99", IN, 10);
	CHECK_QUERY(t, "[ipv6:2001:db8::99]", IN, 10);
	CHECK_QUERY(t, "203.0.113.1", IN, 0);
	CHECK_QUERY(t, "nowhere.example", IN, 0);
	tlsmaps_table_free(t);
}

static void test_malformed_is_error(void **state)
{
	tlsmaps_table *t = build_ok("err.map", "example.com\n.example.com\n10.0.0.0/8\n");
	tlsmaps_id id = TLSMAPS_NO_ID;
	tlsmaps_addr a;
	char longname[400];

	(void)state;
	/* Malformed keys are errors, never "no match". */
	CHECK_NAME(t, "", OUT, -1);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	memcpy(longname + sizeof(longname) - 13, ".example.com", 12);
	CHECK_NAME(t, longname, OUT, -1);
	/* An address of no family. */
	memset(&a, 0, sizeof(a));
	a.family = 5;
	assert_int_equal(tlsmaps_lookup_addr(t, &a, OUT, &id), TLSMAPS_ERROR);
	a.family = 0;
	assert_int_equal(tlsmaps_lookup_addr(t, &a, IN, &id), TLSMAPS_ERROR);
	/* A query with no valid kind. */
	{
		tlsmaps_query q;

		memset(&q, 0, sizeof(q));
		q.kind = (tlsmaps_query_kind)42;
		assert_int_equal(tlsmaps_lookup_query(t, &q, OUT, &id), TLSMAPS_ERROR);
		assert_int_equal(tlsmaps_lookup_nexthop(t, &q, &id), TLSMAPS_ERROR);
	}
	tlsmaps_table_free(t);
}

/*
 * LIBRARY BUG (reported): tlsmaps_lookup_name() does not validate its
 * name. A malformed name is answered FOUND through a parent entry, or
 * NOTFOUND, where tlsmaps.h says a malformed key is TLSMAPS_ERROR and
 * never "no match". (The header also says callers should normalize with
 * tlsmaps_query_parse() first; this pins the defensive behaviour.)
 */
static void test_regress_lookup_name_unvalidated(void **state)
{
	tlsmaps_table *t = build_ok("err.map", "example.com\n.example.com\n10.0.0.0/8\n");
	tlsmaps_id id = TLSMAPS_NO_ID;
	char longname[80];
	static const char *const bad[] = {
	        "a..example.com",   "x y.example.com",  "..example.com",    ".",
	        "[mx.example.com]", "mx.example.com\n", "x.example.com:25", "mx.example.com.",
	};
	size_t i;
	int failed = 0;
	long got;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		got = lookup_name_line(t, bad[i], OUT);
		if (got != -1) {
			print_error("lookup_name(\"%s\") = %ld, want ERROR\n", bad[i], got);
			failed = 1;
		}
	}
	if (tlsmaps_lookup_name(t, "mx\0.example.com", 15, OUT, &id) != TLSMAPS_ERROR) {
		print_error("lookup_name(\"mx\\0.example.com\") is not ERROR\n");
		failed = 1;
	}
	/* A label over 63 characters under a matching parent. */
	memset(longname, 'l', 64);
	strcpy(longname + 64, ".example.com");
	got = lookup_name_line(t, longname, OUT);
	if (got != -1) {
		print_error("lookup_name(64-char label.example.com) = %ld, want ERROR\n", got);
		failed = 1;
	}
	tlsmaps_table_free(t);
	assert_false(failed);
}

static void test_found_id_and_accessors(void **state)
{
	tlsmaps_table *t = build_ok("acc.map", "# c\n.example.com verify match=nexthop\n");
	tlsmaps_id id = TLSMAPS_NO_ID;
	char buf[TLSMAPS_POLICY_MAX];

	(void)state;
	assert_int_equal(tlsmaps_lookup_name(t, "mx.example.com", 14, OUT, &id), TLSMAPS_FOUND);
	assert_int_equal(id, 0);
	assert_int_equal(tlsmaps_entry_line(t, id), 2);
	assert_string_equal(tlsmaps_entry_file(t, id), "acc.map");
	assert_string_equal(tlsmaps_entry_key(t, id), ".example.com");
	assert_int_equal(tlsmaps_policy(t, id, buf, sizeof(buf)), 20);
	assert_string_equal(buf, "verify match=nexthop");
	/* Only len bytes of the name count. */
	assert_int_equal(tlsmaps_lookup_name(t, "mx.example.comXX", 14, OUT, &id), TLSMAPS_FOUND);
	tlsmaps_table_free(t);
}

/* ---------------------------------------------------------------------------
 * Concurrency: one table, several threads, every answer checked.
 */

#define NDOMAINS 500
#define NTHREADS 4
#define NROUNDS 40

struct worker {
	const tlsmaps_table *t;
	unsigned seed;
	unsigned errors;
	unsigned lookups;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[80];
	unsigned r, i, k;
	long got, want;

	for (r = 0; r < NROUNDS; r++) {
		for (i = 0; i < NDOMAINS; i++) {
			k = (i * 7919u + w->seed + r) % NDOMAINS;
			/* Domain k is on line 3k+1, parent .dK on 3k+2, network on 3k+3. */
			snprintf(name, sizeof(name), "d%u.example", k);
			got = lookup_name_line(w->t, name,
			                       k % 2 ? TLSMAPS_DIR_OUT : TLSMAPS_DIR_IN);
			want = 3 * k + 1;
			w->errors += got != want;
			snprintf(name, sizeof(name), "mx.d%u.example", k);
			got = lookup_name_line(w->t, name, TLSMAPS_DIR_OUT);
			want = 3 * k + 2;
			w->errors += got != want;
			snprintf(name, sizeof(name), "10.%u.%u.9", k / 256, k % 256);
			got = lookup_addr_line(w->t, name, TLSMAPS_DIR_IN);
			want = 3 * k + 3;
			w->errors += got != want;
			snprintf(name, sizeof(name), "[mx.d%u.example]:25", k);
			got = lookup_key_line(w->t, name, TLSMAPS_DIR_OUT, 1);
			want = 3 * k + 2;
			w->errors += got != want;
			snprintf(name, sizeof(name), "nothing%u.example", k);
			got = lookup_name_line(w->t, name, TLSMAPS_DIR_OUT);
			w->errors += got != 0;
			w->lookups += 5;
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	char *text;
	size_t cap = (size_t)NDOMAINS * 100, len = 0;
	unsigned k, total = 0;
	pthread_t th[NTHREADS];
	struct worker w[NTHREADS];
	tlsmaps_table *t;
	int i;

	(void)state;
	text = malloc(cap);
	assert_non_null(text);
	for (k = 0; k < NDOMAINS; k++)
		len += (size_t)snprintf(text + len, cap - len,
		                        "d%u.example verify\n.d%u.example encrypt\n10.%u.%u.0/24\n",
		                        k, k, k / 256, k % 256);
	t = build_ok("threads.map", text);
	free(text);
	assert_int_equal(tlsmaps_table_count(t), 3 * NDOMAINS);
	/* The checker itself must see the right answers single-threaded. */
	CHECK_NAME(t, "d7.example", OUT, 22);
	CHECK_ADDR(t, "10.1.4.1", IN, 3 * 260 + 3);

	for (i = 0; i < NTHREADS; i++) {
		w[i].t = t;
		w[i].seed = (unsigned)i * 101u;
		w[i].errors = 0;
		w[i].lookups = 0;
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		total += w[i].errors;
		assert_int_equal(w[i].lookups, 5u * NDOMAINS * NROUNDS);
	}
	assert_int_equal(total, 0);
	tlsmaps_table_free(t);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_domains),
	        cmocka_unit_test(test_parent_query),
	        cmocka_unit_test(test_ipv4_longest_prefix),
	        cmocka_unit_test(test_nested_exception),
	        cmocka_unit_test(test_ipv6_longest_prefix),
	        cmocka_unit_test(test_default_routes),
	        cmocka_unit_test(test_direction),
	        cmocka_unit_test(test_nexthop_literal_names),
	        cmocka_unit_test(test_nexthop_literal_addrs),
	        cmocka_unit_test(test_inbound_query),
	        cmocka_unit_test(test_malformed_is_error),
	        cmocka_unit_test(test_regress_lookup_name_unvalidated),
	        cmocka_unit_test(test_found_id_and_accessors),
	        cmocka_unit_test(test_threads),
	};

	unit_select(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
