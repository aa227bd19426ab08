/*
 * NAME
 *	netrange.h - longest-prefix match over a set of networks, flattened
 * DESCRIPTION
 *	A set of networks of one address family is turned into a sorted list
 *	of ranges [start(i), start(i+1)) that do not overlap. Each range knows
 *	the most specific network covering it among the inbound-visible and
 *	among the outbound-visible networks. A lookup is one binary search over
 *	the range starts, whatever the number of prefix lengths in use.
 *
 *	Because networks either nest or are disjoint, one sweep in (start,
 *	prefix length) order with a stack of open networks builds the list.
 */
#ifndef NETRANGE_H
#define NETRANGE_H

#include <stddef.h>
#include <stdint.h>

typedef unsigned __int128 nr_u128;

/* A network while the table is built. start is the address as a number. */
typedef struct {
	nr_u128 start;
	uint32_t id;
	uint8_t prefix;
	uint8_t dir; /* TLSMAPS_DIR_* */
} netrange_item;

typedef struct {
	int family; /* 4 or 6 */
	size_t n;
	void *starts; /* uint32_t[n] for IPv4, nr_u128[n] for IPv6 */
	uint32_t *in; /* entry id per range for inbound, or NETRANGE_NONE */
	uint32_t *out;
} netrange;

#define NETRANGE_NONE UINT32_MAX

/* Called for each pair of equal networks whose directions overlap. */
typedef void (*netrange_dup_fn)(void *ctx, uint32_t first_id, uint32_t dup_id);

void netrange_init(netrange *nr, int family);
/*
 * Sort items (reordering them) and build. Equal networks with overlapping
 * directions are reported to dup and the later one (by id) is ignored.
 * Returns 0, or -1 when out of memory.
 */
int netrange_build(netrange *nr, netrange_item *items, size_t n, netrange_dup_fn dup, void *ctx);
void netrange_free(netrange *nr);

/* The most specific entry covering addr for dir (TLSMAPS_DIR_IN or _OUT), or NETRANGE_NONE. */
uint32_t netrange_find(const netrange *nr, nr_u128 addr, unsigned dir);

#endif /* NETRANGE_H */
