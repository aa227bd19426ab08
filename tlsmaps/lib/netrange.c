/*
 * NAME
 *	netrange.c - longest-prefix match over a set of networks, flattened
 * SUMMARY
 *	See netrange.h.
 * DESCRIPTION
 *	Build: sort by (start, prefix length, id); drop equal networks whose
 *	directions overlap (reported as duplicates); sweep with a stack of the
 *	open networks, emitting a range boundary where a network starts and
 *	just past where one ends. Neighbouring ranges with the same answers
 *	merge. At most 2n+1 ranges result.
 *
 *	Lookup: the last range whose start is at or below the address.
 * SEE ALSO
 *	Postfix cidr_match.c, which matches in file order instead; forcetls
 *	answers the longest prefix (docs/tlsmaps.5).
 */
#include <stdlib.h>
#include <string.h>

#include "netrange.h"
#include "tlsmaps.h"

#define STACK_MAX 300 /* 129 nesting levels, two entries each, and slack */

typedef struct {
	nr_u128 end;
	uint32_t in;
	uint32_t out;
} open_net;

typedef struct {
	netrange *nr;
	nr_u128 *starts; /* wide while building, narrowed for IPv4 at the end */
} builder;

void netrange_init(netrange *nr, int family)
{
	memset(nr, 0, sizeof(*nr));
	nr->family = family;
}

void netrange_free(netrange *nr)
{
	free(nr->starts);
	free(nr->in);
	free(nr->out);
	netrange_init(nr, nr->family);
}

static int item_cmp(const void *a, const void *b)
{
	const netrange_item *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	return x->id < y->id ? -1 : (x->id > y->id);
}

static void emit(builder *b, nr_u128 pos, uint32_t in, uint32_t out)
{
	netrange *nr = b->nr;
	size_t n = nr->n;

	if (n > 0 && b->starts[n - 1] == pos) {
		nr->in[n - 1] = in;
		nr->out[n - 1] = out;
		if (n > 1 && nr->in[n - 2] == in && nr->out[n - 2] == out)
			nr->n--;
		return;
	}
	if (n > 0 && nr->in[n - 1] == in && nr->out[n - 1] == out)
		return;
	b->starts[n] = pos;
	nr->in[n] = in;
	nr->out[n] = out;
	nr->n++;
}

static nr_u128 host_mask(int family, unsigned prefix)
{
	unsigned bits = family == 4 ? 32 : 128;

	if (prefix == 0)
		return family == 4 ? (nr_u128)UINT32_MAX : ~(nr_u128)0;
	if (prefix >= bits)
		return 0;
	return ((nr_u128)1 << (bits - prefix)) - 1;
}

static void pop(builder *b, open_net *stack, size_t *sp, nr_u128 max)
{
	open_net e = stack[--*sp];

	if (e.end == max)
		return;
	if (*sp > 0)
		emit(b, e.end + 1, stack[*sp - 1].in, stack[*sp - 1].out);
	else
		emit(b, e.end + 1, NETRANGE_NONE, NETRANGE_NONE);
}

/* Equal networks already kept in this group with a direction overlapping dir. */
static int overlaps(const netrange_item *items, size_t group, size_t i, uint32_t *first)
{
	for (size_t j = group; j < i; j++) {
		if (items[j].dir == 0)
			continue; /* a dropped duplicate */
		if (items[j].dir & items[i].dir) {
			*first = items[j].id;
			return 1;
		}
	}
	return 0;
}

int netrange_build(netrange *nr, netrange_item *items, size_t n, netrange_dup_fn dup, void *ctx)
{
	builder b = {nr, NULL};
	open_net stack[STACK_MAX];
	size_t sp = 0, group = 0;
	nr_u128 max = nr->family == 4 ? (nr_u128)UINT32_MAX : ~(nr_u128)0;
	size_t cap = 2 * n + 1;

	netrange_free(nr);
	if (n > 0)
		qsort(items, n, sizeof(*items), item_cmp);
	b.starts = malloc(cap * sizeof(*b.starts));
	nr->in = malloc(cap * sizeof(*nr->in));
	nr->out = malloc(cap * sizeof(*nr->out));
	if (b.starts == NULL || nr->in == NULL || nr->out == NULL) {
		free(b.starts);
		netrange_free(nr);
		return -1;
	}
	emit(&b, 0, NETRANGE_NONE, NETRANGE_NONE);
	for (size_t i = 0; i < n; i++) {
		netrange_item *it = &items[i];
		uint32_t first, in, out;

		if (i == 0 || it->start != items[i - 1].start || it->prefix != items[i - 1].prefix)
			group = i;
		else if (overlaps(items, group, i, &first)) {
			if (dup != NULL)
				dup(ctx, first, it->id);
			it->dir = 0;
			continue;
		}
		while (sp > 0 && stack[sp - 1].end < it->start)
			pop(&b, stack, &sp, max);
		in = sp > 0 ? stack[sp - 1].in : NETRANGE_NONE;
		out = sp > 0 ? stack[sp - 1].out : NETRANGE_NONE;
		if (it->dir & TLSMAPS_DIR_IN)
			in = it->id;
		if (it->dir & TLSMAPS_DIR_OUT)
			out = it->id;
		if (sp == STACK_MAX) { /* cannot happen with valid prefixes */
			free(b.starts);
			netrange_free(nr);
			return -1;
		}
		stack[sp].end = it->start | host_mask(nr->family, it->prefix);
		stack[sp].in = in;
		stack[sp].out = out;
		sp++;
		emit(&b, it->start, in, out);
	}
	while (sp > 0)
		pop(&b, stack, &sp, max);

	if (nr->family == 4) {
		uint32_t *s4 = malloc(nr->n * sizeof(*s4));

		if (s4 == NULL) {
			free(b.starts);
			netrange_free(nr);
			return -1;
		}
		for (size_t i = 0; i < nr->n; i++)
			s4[i] = (uint32_t)b.starts[i];
		free(b.starts);
		nr->starts = s4;
	} else {
		void *p = realloc(b.starts, nr->n * sizeof(*b.starts));

		nr->starts = p != NULL ? p : b.starts;
	}
	/* Shrinking never fails in a way that loses data: keep the old block then. */
	void *p;
	if ((p = realloc(nr->in, nr->n * sizeof(*nr->in))) != NULL)
		nr->in = p;
	if ((p = realloc(nr->out, nr->n * sizeof(*nr->out))) != NULL)
		nr->out = p;
	return 0;
}

uint32_t netrange_find(const netrange *nr, nr_u128 addr, unsigned dir)
{
	size_t lo = 0, hi = nr->n, i;

	if (nr->n == 0)
		return NETRANGE_NONE;
	/* Invariant: starts[lo] <= addr (starts[0] == 0), and every index >= hi is above it. */
	if (nr->family == 4) {
		const uint32_t *s = nr->starts;
		uint32_t a = (uint32_t)addr;

		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;

			if (s[mid] <= a)
				lo = mid;
			else
				hi = mid;
		}
	} else {
		const nr_u128 *s = nr->starts;

		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;

			if (s[mid] <= addr)
				lo = mid;
			else
				hi = mid;
		}
	}
	i = lo;
	return dir == TLSMAPS_DIR_IN ? nr->in[i] : nr->out[i];
}
