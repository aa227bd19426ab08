/*
 * NAME
 *	namehash.c - open-addressing hash of key texts to entry ids
 * SUMMARY
 *	See namehash.h.
 * DESCRIPTION
 *	Linear probing, power-of-two capacity, load kept at or below one half
 *	while building. Slots carry the hash, so growing never touches the
 *	key texts.
 * SEE ALSO
 *	tlsmaps_lookup.c, the probe loops.
 */
#include <stdlib.h>

#include "namehash.h"

uint32_t namehash_of(const char *s, size_t len)
{
	uint32_t h = NAMEHASH_BASIS;

	while (len > 0)
		h = namehash_step(h, (unsigned char)s[--len]);
	return namehash_final(h);
}

void namehash_init(namehash *nh)
{
	nh->slots = NULL;
	nh->mask = 0;
	nh->used = 0;
}

void namehash_free(namehash *nh)
{
	free(nh->slots);
	namehash_init(nh);
}

static void place(namehash_slot *slots, uint32_t mask, const namehash_slot *from)
{
	uint32_t i = from->hash & mask;

	while (slots[i].id1 != 0)
		i = (i + 1) & mask;
	slots[i] = *from;
}

static int resize(namehash *nh, size_t capacity)
{
	namehash_slot *slots = calloc(capacity, sizeof(*slots));
	uint32_t mask = (uint32_t)(capacity - 1);

	if (slots == NULL)
		return -1;
	if (nh->slots != NULL) {
		for (size_t i = 0; i <= nh->mask; i++)
			if (nh->slots[i].id1 != 0)
				place(slots, mask, &nh->slots[i]);
		free(nh->slots);
	}
	nh->slots = slots;
	nh->mask = mask;
	return 0;
}

static size_t capacity_for(size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	return cap;
}

int namehash_insert(namehash *nh, uint32_t hash, uint32_t id, uint32_t key, unsigned dir)
{
	namehash_slot s = {hash, id + 1, key, dir};

	if (nh->slots == NULL || 2 * (nh->used + 1) > (size_t)nh->mask + 1)
		if (resize(nh, capacity_for(nh->used + 1) * 2) < 0)
			return -1;
	place(nh->slots, nh->mask, &s);
	nh->used++;
	return 0;
}

int namehash_fit(namehash *nh)
{
	size_t cap = capacity_for(nh->used);

	if (nh->slots != NULL && cap == (size_t)nh->mask + 1)
		return 0;
	return resize(nh, cap);
}
