/*
 * NAME
 *	namehash.h - open-addressing hash of key texts to entry ids
 * DESCRIPTION
 *	A slot holds the 32-bit hash of a key text, an entry id + 1 (0 marks
 *	an empty slot), the arena offset of the key text and the entry's
 *	direction: a probe compares hash, direction and text without touching
 *	the entry array, one cache miss fewer per lookup (docs/BENCHMARKS.md).
 *	The key texts live in the table's arena; the caller compares them. Several slots may hold
 *the same key text (an "in" and an "out" entry for one key): lookups walk the whole probe chain.
 *
 *	The hash runs over the text from its last byte to its first, so one
 *	backward pass over a name yields the hash of every suffix: a lookup of
 *	"a.b.example.com" gets the hashes of ".b.example.com", ".example.com"
 *	and ".com" for free.
 */
#ifndef NAMEHASH_H
#define NAMEHASH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint32_t hash;
	uint32_t id1; /* entry id + 1; 0 = empty */
	uint32_t key; /* arena offset of the key text */
	uint32_t dir; /* TLSMAPS_DIR_* of the entry */
} namehash_slot;

typedef struct {
	namehash_slot *slots;
	uint32_t mask; /* capacity - 1; capacity is a power of two */
	size_t used;
} namehash;

#define NAMEHASH_BASIS 2166136261u
#define NAMEHASH_PRIME 16777619u

/* One backward step: the hash of s[i..] from the hash of s[i+1..]. */
static inline uint32_t namehash_step(uint32_t h, unsigned char c)
{
	return (h ^ c) * NAMEHASH_PRIME;
}

/* Final mix, applied to a stepped value before it is stored or probed. */
static inline uint32_t namehash_final(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

uint32_t namehash_of(const char *s, size_t len);

void namehash_init(namehash *nh);
void namehash_free(namehash *nh);
/* Insert; -1 when out of memory. */
int namehash_insert(namehash *nh, uint32_t hash, uint32_t id, uint32_t key, unsigned dir);
/* Shrink or grow to a load of at most one half; -1 when out of memory. */
int namehash_fit(namehash *nh);

#endif /* NAMEHASH_H */
