/*
 * NAME
 *	gentable - generate a forced-TLS table and lookup keys for benchmarks
 * SUMMARY
 *	gentable [-n ENTRIES] [-k KEYS] [-s SEED] -o DIR
 * DESCRIPTION
 *	Writes into DIR (which must exist), deterministically for a given seed:
 *
 *	table.tlsmaps	ENTRIES lines "KEY [LEVEL] [ATTR=VALUE ...]" in random
 *			order: about 45% exact domains, 20% parent ".domain"
 *			entries, 25% IPv4 networks (/8../32, host bits clear)
 *			and 10% IPv6 networks (/32../128). About 80% are bare
 *			keys (default level); the others name may, verify or
 *			secure. About 5% carry min_bits=256, 3% direction=out.
 *			Every key is unique; some exact entries sit under a
 *			parent entry (exceptions), some bases are both "x.com"
 *			and ".x.com".
 *	domkeys.txt	KEYS domain lookup keys, one a line: about 40% names of
 *			exact entries, 30% subdomains of parent entries and 30%
 *			names that match nothing.
 *	addrkeys.txt	KEYS address lookup keys: about 70% addresses inside a
 *			network entry, 30% addresses outside every entry
 *			(IPv4 100.0.0.0/8 and IPv6 3000::/4 are kept free).
 *	domkeys-postfix.txt
 *			the keys Postfix itself asks its smtp_tls_policy_maps
 *			table for each line of domkeys.txt: the name, then
 *			".b.c", ".c" after each NOTFOUND, until one is found.
 *	postfix-domains.txt
 *			"KEY<TAB>encrypt" for each domain entry: the source of
 *			"postmap lmdb:postfix-domains.txt".
 *	postfix.cidr	"NETWORK/LEN<TAB>encrypt" for each network entry, for a
 *			Postfix cidr: table. Postfix answers the first match in
 *			file order, so entries are sorted by prefix length,
 *			longest first: the first match is the longest prefix.
 *
 *	Counts of what was written go to stdout as "name value unit" lines.
 * DIAGNOSTICS
 *	Exit 0 on success, 1 on a write error, 2 on bad usage.
 * SEE ALSO
 *	docs/BENCHMARKS.md, bench/run-table-bench.sh
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------
 * Random numbers: xoshiro256** seeded with splitmix64.
 */

typedef struct {
	uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n), n > 0. The modulo bias is irrelevant here. */
static uint32_t rng_below(rng *r, uint32_t n)
{
	return (uint32_t)((rng_next(r) >> 32) % n);
}

/* Uniform in [0, 1000): for percentages with one decimal. */
static unsigned rng_permille(rng *r)
{
	return rng_below(r, 1000);
}

/* ---------------------------------------------------------------------------
 * Memory and a set of 64-bit hashes (a false "already there" only costs a
 * redraw; the same key always has the same hash, so no duplicate escapes).
 */

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);

	if (q == NULL) {
		fprintf(stderr, "gentable: out of memory\n");
		exit(1);
	}
	return q;
}

typedef struct {
	uint64_t *slots; /* 0 = empty */
	size_t mask;
	size_t count;
} hashset;

static uint64_t hash_bytes(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h == 0 ? 1 : h;
}

static void hashset_init(hashset *hs, size_t expect)
{
	size_t n = 1024;

	while (n < expect * 2)
		n <<= 1;
	hs->slots = xrealloc(NULL, n * sizeof(*hs->slots));
	memset(hs->slots, 0, n * sizeof(*hs->slots));
	hs->mask = n - 1;
	hs->count = 0;
}

static int hashset_has(const hashset *hs, uint64_t h)
{
	for (size_t i = h & hs->mask; hs->slots[i] != 0; i = (i + 1) & hs->mask)
		if (hs->slots[i] == h)
			return 1;
	return 0;
}

/* Add h; 0 if added, -1 if it was there. */
static int hashset_add(hashset *hs, uint64_t h)
{
	size_t i;

	if ((hs->count + 1) * 2 > hs->mask + 1) {
		hashset old = *hs;

		hashset_init(hs, (old.mask + 1));
		for (size_t j = 0; j <= old.mask; j++)
			if (old.slots[j] != 0)
				(void)hashset_add(hs, old.slots[j]);
		free(old.slots);
	}
	for (i = h & hs->mask; hs->slots[i] != 0; i = (i + 1) & hs->mask)
		if (hs->slots[i] == h)
			return -1;
	hs->slots[i] = h;
	hs->count++;
	return 0;
}

/* ---------------------------------------------------------------------------
 * Names.
 */

#define NAME_MAX_GEN 128

typedef struct {
	char *buf; /* NUL-separated names */
	size_t len, cap;
	size_t *off;
	size_t n, ncap;
} namelist;

static void namelist_add(namelist *l, const char *s)
{
	size_t len = strlen(s) + 1;

	if (l->len + len > l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1 << 20;
		l->buf = xrealloc(l->buf, l->cap);
	}
	if (l->n == l->ncap) {
		l->ncap = l->ncap ? l->ncap * 2 : 1024;
		l->off = xrealloc(l->off, l->ncap * sizeof(*l->off));
	}
	memcpy(l->buf + l->len, s, len);
	l->off[l->n++] = l->len;
	l->len += len;
}

static const char *namelist_get(const namelist *l, size_t i)
{
	return l->buf + l->off[i];
}

static const char *const tlds[] = {
        "com", "com", "com", "com", "net", "org",    "de", "de", "co.uk", "fr", "nl", "ch",
        "at",  "it",  "es",  "se",  "jp",  "com.au", "ca", "io", "info",  "eu", "be", "pl",
};

static const char *const hosts[] = {
        "mail", "mx", "mx1", "mx2", "smtp", "relay", "gw", "mailgw", "in", "out",
};

/* A random DNS label of 3..14 letters and digits, sometimes with a hyphen. */
static size_t gen_label(rng *r, char *out)
{
	static const char alnum[] =
	        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789";
	size_t len = 3 + rng_below(r, 12);

	for (size_t i = 0; i < len; i++)
		out[i] = alnum[rng_below(r, sizeof(alnum) - 1)];
	if (len >= 6 && rng_below(r, 8) == 0)
		out[1 + rng_below(r, (uint32_t)len - 2)] = '-';
	out[len] = '\0';
	return len;
}

/* A random organisational domain: "label.tld". */
static void gen_base(rng *r, char *out)
{
	size_t n = gen_label(r, out);

	out[n] = '.';
	strcpy(out + n + 1, tlds[rng_below(r, sizeof(tlds) / sizeof(tlds[0]))]);
}

/* "host.parent": a well-known host name or a random label in front of parent. */
static void gen_sub(rng *r, const char *parent, char *out)
{
	char label[16];

	if (rng_below(r, 3) == 0)
		snprintf(out, NAME_MAX_GEN, "%s.%s", hosts[rng_below(r, 10)], parent);
	else {
		gen_label(r, label);
		snprintf(out, NAME_MAX_GEN, "%s.%s", label, parent);
	}
}

/* ---------------------------------------------------------------------------
 * Networks.
 */

typedef struct {
	uint8_t family; /* 4 or 6 */
	uint8_t prefix;
	uint8_t bytes[16];
} network;

typedef struct {
	network *v;
	size_t n, cap;
} netlist;

static void netlist_add(netlist *l, const network *n)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = *n;
}

static void clear_host_bits(uint8_t *bytes, unsigned nbytes, unsigned prefix)
{
	for (unsigned i = 0; i < nbytes; i++) {
		unsigned bit = i * 8;

		if (bit >= prefix)
			bytes[i] = 0;
		else if (bit + 8 > prefix)
			bytes[i] &= (uint8_t)(0xff << (8 - (prefix - bit)));
	}
}

static void random_bytes(rng *r, uint8_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)rng_next(r);
}

/* First IPv4 octet of a network entry: 1..223 except 100 (misses) and 127. */
static uint8_t v4_first_octet(rng *r)
{
	for (;;) {
		uint8_t o = (uint8_t)(1 + rng_below(r, 223));

		if (o != 100 && o != 127)
			return o;
	}
}

static unsigned v4_prefix(rng *r)
{
	unsigned p = rng_permille(r);

	if (p < 400)
		return 32;
	if (p < 700)
		return 24;
	if (p < 780)
		return 25 + rng_below(r, 7);
	if (p < 940)
		return 16 + rng_below(r, 8);
	if (p < 990)
		return 9 + rng_below(r, 7);
	return 8;
}

static unsigned v6_prefix(rng *r)
{
	unsigned p = rng_permille(r);

	if (p < 100)
		return 32;
	if (p < 450)
		return 48;
	if (p < 550)
		return 56;
	if (p < 800)
		return 64;
	if (p < 900)
		return 128;
	return 33 + rng_below(r, 95);
}

static void gen_network(rng *r, int v6, network *n)
{
	memset(n, 0, sizeof(*n));
	if (!v6) {
		n->family = 4;
		n->prefix = (uint8_t)v4_prefix(r);
		random_bytes(r, n->bytes, 4);
		n->bytes[0] = v4_first_octet(r);
		clear_host_bits(n->bytes, 4, n->prefix);
	} else {
		uint16_t first = (uint16_t)(0x2000 + rng_below(r, 0x1000)); /* 2000::/4 */

		n->family = 6;
		n->prefix = (uint8_t)v6_prefix(r);
		random_bytes(r, n->bytes, 16);
		n->bytes[0] = (uint8_t)(first >> 8);
		n->bytes[1] = (uint8_t)first;
		clear_host_bits(n->bytes, 16, n->prefix);
	}
}

static void format_addr(int family, const uint8_t *bytes, char *out)
{
	if (inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes, out, INET6_ADDRSTRLEN) == NULL)
		strcpy(out, "?");
}

/* A random address inside network n. */
static void addr_inside(rng *r, const network *n, uint8_t *out)
{
	unsigned nbytes = n->family == 4 ? 4 : 16;

	random_bytes(r, out, nbytes);
	for (unsigned i = 0; i < nbytes; i++) {
		unsigned bit = i * 8;

		if (bit + 8 <= n->prefix)
			out[i] = n->bytes[i];
		else if (bit < n->prefix) {
			uint8_t mask = (uint8_t)(0xff << (8 - (n->prefix - bit)));

			out[i] = (uint8_t)((n->bytes[i] & mask) | (out[i] & ~mask));
		}
	}
}

static int cmp_prefix_desc(const void *a, const void *b)
{
	const network *x = a, *y = b;

	if (x->family != y->family)
		return x->family - y->family; /* IPv4 first */
	if (x->prefix != y->prefix)
		return y->prefix - x->prefix;
	return memcmp(x->bytes, y->bytes, sizeof(x->bytes));
}

/* ---------------------------------------------------------------------------
 * Output.
 */

typedef struct {
	const char *path;
	FILE *fp;
} outfile;

static void out_open(outfile *o, const char *dir, const char *name, char *pathbuf, size_t len)
{
	snprintf(pathbuf, len, "%s/%s", dir, name);
	o->path = pathbuf;
	o->fp = fopen(pathbuf, "w");
	if (o->fp == NULL) {
		fprintf(stderr, "gentable: %s: %s\n", pathbuf, strerror(errno));
		exit(1);
	}
	setvbuf(o->fp, NULL, _IOFBF, 1 << 20);
}

static void out_close(outfile *o)
{
	if (ferror(o->fp) || fclose(o->fp) != 0) {
		fprintf(stderr, "gentable: %s: write error\n", o->path);
		exit(1);
	}
}

/* " may", " verify min_bits=256 direction=out", ... or "". */
static void gen_suffix(rng *r, char *out, size_t len)
{
	unsigned p = rng_permille(r);
	const char *level = p < 800 ? "" : p < 870 ? " may" : p < 950 ? " verify" : " secure";
	int min_bits = rng_permille(r) < 50;
	int dir_out = rng_permille(r) < 30;

	snprintf(out, len, "%s%s%s", level, min_bits ? " min_bits=256" : "",
	         dir_out ? " direction=out" : "");
}

/*
 * The keys Postfix's smtp_tls_policy_maps lookup asks for a next hop "name":
 * the name, then ".b.c", ".c" after each NOTFOUND, until one is found.
 * Returns the number of probes written.
 */
static unsigned write_probes(FILE *fp, const hashset *keys, const char *name)
{
	unsigned n = 1;

	fprintf(fp, "%s\n", name);
	if (hashset_has(keys, hash_bytes(name, strlen(name))))
		return n;
	for (const char *p = strchr(name, '.'); p != NULL; p = strchr(p + 1, '.')) {
		fprintf(fp, "%s\n", p);
		n++;
		if (hashset_has(keys, hash_bytes(p, strlen(p))))
			break;
	}
	return n;
}

/* Is name (no leading dot) matched by no entry: neither exactly nor as a subdomain? */
static int is_miss(const hashset *keys, const char *name)
{
	if (hashset_has(keys, hash_bytes(name, strlen(name))))
		return 0;
	for (const char *p = strchr(name, '.'); p != NULL; p = strchr(p + 1, '.'))
		if (hashset_has(keys, hash_bytes(p, strlen(p))))
			return 0;
	return 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: gentable [-n ENTRIES] [-k KEYS] [-s SEED] -o DIR\n");
	exit(2);
}

static unsigned long parse_count(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0 || v > 100000000UL)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	unsigned long nentries = 1000000, nkeys = 1000000, seed = 1;
	const char *dir = NULL;
	char path[6][4096], name[NAME_MAX_GEN + 2], sub[NAME_MAX_GEN + 2], suffix[128];
	char abuf[INET6_ADDRSTRLEN];
	outfile table, pfdom, pfcidr, domkeys, probes, addrkeys;
	namelist exact = {0}, parents = {0};
	netlist nets = {0};
	hashset keys, netkeys;
	rng r;
	int c;
	unsigned long nexact = 0, nparent = 0, nv4 = 0, nv6 = 0, nexcept = 0;
	unsigned long kexact = 0, ksub = 0, kmiss = 0, kin = 0, kout = 0, nprobes = 0;

	while ((c = getopt(argc, argv, "n:k:s:o:")) != -1) {
		switch (c) {
		case 'n':
			nentries = parse_count(optarg);
			break;
		case 'k':
			nkeys = parse_count(optarg);
			break;
		case 's':
			seed = strtoul(optarg, NULL, 10);
			break;
		case 'o':
			dir = optarg;
			break;
		default:
			usage();
		}
	}
	if (dir == NULL || optind != argc)
		usage();

	rng_seed(&r, seed);
	hashset_init(&keys, nentries);
	hashset_init(&netkeys, nentries / 2);
	out_open(&table, dir, "table.tlsmaps", path[0], sizeof(path[0]));
	out_open(&pfdom, dir, "postfix-domains.txt", path[1], sizeof(path[1]));
	fprintf(table.fp, "# gentable -n %lu -s %lu: synthetic forced-TLS table\n", nentries, seed);

	for (unsigned long i = 0; i < nentries; i++) {
		unsigned kind = rng_permille(&r);

		gen_suffix(&r, suffix, sizeof(suffix));
		if (kind < 450) {
			/* Exact domain: 10% exceptions under a parent entry. */
			do {
				if (parents.n > 0 && rng_below(&r, 10) == 0) {
					gen_sub(&r,
					        namelist_get(&parents,
					                     rng_below(&r, (uint32_t)parents.n)) +
					                1,
					        name);
					nexcept++;
				} else if (rng_below(&r, 4) == 0) {
					gen_base(&r, sub);
					gen_sub(&r, sub, name);
				} else {
					gen_base(&r, name);
				}
			} while (hashset_add(&keys, hash_bytes(name, strlen(name))) < 0);
			namelist_add(&exact, name);
			nexact++;
		} else if (kind < 650) {
			/* Parent ".domain": 20% over the name of an exact entry. */
			name[0] = '.';
			do {
				if (exact.n > 0 && rng_below(&r, 5) == 0)
					strcpy(name + 1,
					       namelist_get(&exact,
					                    rng_below(&r, (uint32_t)exact.n)));
				else
					gen_base(&r, name + 1);
			} while (hashset_add(&keys, hash_bytes(name, strlen(name))) < 0);
			namelist_add(&parents, name);
			nparent++;
		} else {
			network n;

			do
				gen_network(&r, kind >= 900, &n);
			while (hashset_add(&netkeys, hash_bytes(&n, sizeof(n))) < 0);
			netlist_add(&nets, &n);
			format_addr(n.family, n.bytes, abuf);
			if ((n.family == 4 && n.prefix == 32) ||
			    (n.family == 6 && n.prefix == 128)) {
				if (rng_below(&r, 2) == 0)
					fprintf(table.fp, "%s%s\n", abuf, suffix);
				else
					fprintf(table.fp, "%s/%u%s\n", abuf, n.prefix, suffix);
			} else {
				fprintf(table.fp, "%s/%u%s\n", abuf, n.prefix, suffix);
			}
			if (n.family == 4)
				nv4++;
			else
				nv6++;
			continue;
		}
		fprintf(table.fp, "%s%s\n", name, suffix);
		fprintf(pfdom.fp, "%s\tencrypt\n", name);
	}
	out_close(&table);
	out_close(&pfdom);

	/* Postfix cidr: longest prefix first, so that first match = longest match. */
	out_open(&pfcidr, dir, "postfix.cidr", path[2], sizeof(path[2]));
	{
		network *sorted = xrealloc(NULL, (nets.n ? nets.n : 1) * sizeof(*sorted));

		memcpy(sorted, nets.v, nets.n * sizeof(*sorted));
		qsort(sorted, nets.n, sizeof(*sorted), cmp_prefix_desc);
		for (size_t i = 0; i < nets.n; i++) {
			format_addr(sorted[i].family, sorted[i].bytes, abuf);
			fprintf(pfcidr.fp, "%s/%u\tencrypt\n", abuf, sorted[i].prefix);
		}
		free(sorted);
	}
	out_close(&pfcidr);

	/* Domain keys. */
	out_open(&domkeys, dir, "domkeys.txt", path[3], sizeof(path[3]));
	out_open(&probes, dir, "domkeys-postfix.txt", path[5], sizeof(path[5]));
	for (unsigned long i = 0; i < nkeys; i++) {
		unsigned kind = rng_permille(&r);

		if (kind < 400 && exact.n > 0) {
			strcpy(name, namelist_get(&exact, rng_below(&r, (uint32_t)exact.n)));
			kexact++;
		} else if (kind < 700 && parents.n > 0) {
			gen_sub(&r, namelist_get(&parents, rng_below(&r, (uint32_t)parents.n)) + 1,
			        name);
			ksub++;
		} else {
			do {
				if (rng_below(&r, 2) == 0) {
					gen_base(&r, name);
				} else {
					gen_base(&r, sub);
					gen_sub(&r, sub, name);
				}
			} while (!is_miss(&keys, name));
			kmiss++;
		}
		fprintf(domkeys.fp, "%s\n", name);
		nprobes += write_probes(probes.fp, &keys, name);
	}
	out_close(&domkeys);
	out_close(&probes);

	/* Address keys. */
	out_open(&addrkeys, dir, "addrkeys.txt", path[4], sizeof(path[4]));
	for (unsigned long i = 0; i < nkeys; i++) {
		uint8_t a[16];
		int family;

		if (rng_permille(&r) < 700 && nets.n > 0) {
			const network *n = &nets.v[rng_below(&r, (uint32_t)nets.n)];

			addr_inside(&r, n, a);
			family = n->family;
			kin++;
		} else if (rng_below(&r, 10) < 7) {
			random_bytes(&r, a, 4);
			a[0] = 100; /* 100.0.0.0/8: no IPv4 entry there */
			family = 4;
			kout++;
		} else {
			random_bytes(&r, a, 16);
			a[0] = (uint8_t)(0x30 | (a[0] & 0x0f)); /* 3000::/4: no IPv6 entry */
			family = 6;
			kout++;
		}
		format_addr(family, a, abuf);
		fprintf(addrkeys.fp, "%s\n", abuf);
	}
	out_close(&addrkeys);

	printf("gen_entries %lu entries\n", nentries);
	printf("gen_exact %lu entries\n", nexact);
	printf("gen_exceptions %lu entries\n", nexcept);
	printf("gen_parent %lu entries\n", nparent);
	printf("gen_ipv4 %lu entries\n", nv4);
	printf("gen_ipv6 %lu entries\n", nv6);
	printf("gen_domkeys_exact %lu keys\n", kexact);
	printf("gen_domkeys_sub %lu keys\n", ksub);
	printf("gen_domkeys_miss %lu keys\n", kmiss);
	printf("gen_domkeys_postfix_probes %lu keys\n", nprobes);
	printf("gen_addrkeys_inside %lu keys\n", kin);
	printf("gen_addrkeys_outside %lu keys\n", kout);
	free(exact.buf);
	free(exact.off);
	free(parents.buf);
	free(parents.off);
	free(nets.v);
	free(keys.slots);
	free(netkeys.slots);
	return 0;
}
