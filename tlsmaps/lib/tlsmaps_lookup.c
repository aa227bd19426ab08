/*
 * NAME
 *	tlsmaps_lookup.c - decisions on a frozen table, and entry accessors
 * SUMMARY
 *	tlsmaps_lookup_name(), tlsmaps_lookup_addr(), tlsmaps_lookup_nexthop(),
 *	tlsmaps_lookup_query(), tlsmaps_entry_*(), tlsmaps_table_*().
 * DESCRIPTION
 *	Names: one backward pass computes the hash of every suffix; the full
 *	name is probed first (unless it starts with a dot), then the suffix at
 *	each dot from left to right, so the nearest parent wins.
 *
 *	Addresses: netrange_find(), the longest prefix. An IPv4-mapped IPv6
 *	address (::ffff:198.51.100.7, as a dual-stack socket or a text form
 *	shows an IPv4 peer) is the IPv4 address it carries, both ways: an
 *	address not found in its own family's entries is looked up in the
 *	other form (198.51.100.7 also matches ::ffff:198.51.100.0/120).
 *
 *	Next hops (outbound, SPEC section 3): "[host]:port" entry, "[host]"
 *	entry, then domain entries on host (or network entries for a literal
 *	address). An unbracketed "name:port" drops the port, as Postfix does
 *	not retry without it.
 *
 *	Nothing here writes to the table, so any number of threads may look
 *	up at once.
 */
#include <string.h>

#include "tlsmaps_int.h"

static tlsmaps_id probe(const tlsmaps_table *t, uint32_t h, const char *s, size_t len, unsigned dir)
{
	const namehash *nh = &t->names;
	const namehash_slot *slots = nh->slots;

	if (slots == NULL)
		return TLSMAPS_NO_ID;
	for (uint32_t i = h & nh->mask; slots[i].id1 != 0; i = (i + 1) & nh->mask) {
		const namehash_slot *sl = &slots[i];

		if (sl->hash == h && (sl->dir & dir) && memcmp(t->arena + sl->key, s, len) == 0 &&
		    t->arena[sl->key + len] == '\0')
			return sl->id1 - 1;
	}
	return TLSMAPS_NO_ID;
}

/* Bytes of a normalized name: lowercase letters, digits, '-', '_' (and '.'). */
static int name_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

tlsmaps_status tlsmaps_lookup_name(const tlsmaps_table *t, const char *name, size_t len,
                                   unsigned dir, tlsmaps_id *id)
{
	uint32_t hashes[TLSMAPS_NAME_MAX + 2];
	uint32_t h = NAMEHASH_BASIS;
	size_t label = 0;
	tlsmaps_id found;

	if (len == 0 || len > TLSMAPS_NAME_MAX + 1)
		return TLSMAPS_ERROR;
	hashes[0] = 0; /* len > 0: always overwritten; quiets -Wmaybe-uninitialized */
	/* One backward pass: every suffix hash, and the name checked as normalized. */
	for (size_t i = len; i-- > 0;) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0)
				return TLSMAPS_ERROR; /* empty label or trailing dot */
			label = 0;
		} else if (!name_byte(c) || ++label > 63) {
			return TLSMAPS_ERROR;
		}
		h = namehash_step(h, c);
		hashes[i] = h;
	}
	if (t->names.slots == NULL)
		return TLSMAPS_NOTFOUND;
	/* Start every probe's cache miss at once; they are independent. */
	for (size_t i = 0; i < len; i++)
		if (i == 0 || name[i] == '.')
			__builtin_prefetch(
			        &t->names.slots[namehash_final(hashes[i]) & t->names.mask]);
	if (name[0] != '.') {
		found = probe(t, namehash_final(hashes[0]), name, len, dir);
		if (found != TLSMAPS_NO_ID) {
			*id = found;
			return TLSMAPS_FOUND;
		}
	}
	for (size_t i = 0; i < len; i++) {
		if (name[i] != '.')
			continue;
		found = probe(t, namehash_final(hashes[i]), name + i, len - i, dir);
		if (found != TLSMAPS_NO_ID) {
			*id = found;
			return TLSMAPS_FOUND;
		}
	}
	return TLSMAPS_NOTFOUND;
}

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* The longest prefix for a in its own family's networks. */
static tlsmaps_status lookup_family(const tlsmaps_table *t, const tlsmaps_addr *a, unsigned dir,
                                    tlsmaps_id *id)
{
	const netrange *nr;
	nr_u128 v = 0;
	uint32_t found;

	if (a->family == 4)
		nr = &t->net4;
	else if (a->family == 6)
		nr = &t->net6;
	else
		return TLSMAPS_ERROR;
	for (unsigned i = 0; i < (a->family == 4 ? 4u : 16u); i++)
		v = (v << 8) | a->bytes[i];
	found = netrange_find(nr, v, dir == TLSMAPS_DIR_IN ? TLSMAPS_DIR_IN : TLSMAPS_DIR_OUT);
	if (found == NETRANGE_NONE)
		return TLSMAPS_NOTFOUND;
	*id = found;
	return TLSMAPS_FOUND;
}

tlsmaps_status tlsmaps_lookup_addr(const tlsmaps_table *t, const tlsmaps_addr *a, unsigned dir,
                                   tlsmaps_id *id)
{
	tlsmaps_addr other = {0};
	tlsmaps_status st = lookup_family(t, a, dir, id);

	if (st != TLSMAPS_NOTFOUND)
		return st;
	if (a->family == 6 && memcmp(a->bytes, v4_mapped_prefix, 12) == 0) {
		other.family = 4; /* ::ffff:198.51.100.7 is 198.51.100.7 */
		memcpy(other.bytes, a->bytes + 12, 4);
	} else if (a->family == 4) {
		other.family = 6; /* and 198.51.100.7 is in ::ffff:198.51.100.0/120 */
		memcpy(other.bytes, v4_mapped_prefix, 12);
		memcpy(other.bytes + 12, a->bytes, 4);
	} else {
		return st;
	}
	return lookup_family(t, &other, dir, id);
}

tlsmaps_status tlsmaps_lookup_nexthop(const tlsmaps_table *t, const tlsmaps_query *q,
                                      tlsmaps_id *id)
{
	switch (q->kind) {
	case TLSMAPS_QUERY_NAME:
	case TLSMAPS_QUERY_PARENT:
		return tlsmaps_lookup_name(t, q->name, q->name_len, TLSMAPS_DIR_OUT, id);
	case TLSMAPS_QUERY_ADDR:
		return tlsmaps_lookup_addr(t, &q->addr, TLSMAPS_DIR_OUT, id);
	case TLSMAPS_QUERY_LITERAL_NAME:
	case TLSMAPS_QUERY_LITERAL_ADDR: {
		char lit[TLSMAPS_KEY_MAX + 16];
		size_t n;
		tlsmaps_id found;

		for (int with_port = q->port != 0; with_port >= 0; with_port--) {
			n = tm_literal_text(q, with_port, lit, sizeof(lit));
			found = probe(t, namehash_of(lit, n), lit, n, TLSMAPS_DIR_OUT);
			if (found != TLSMAPS_NO_ID) {
				*id = found;
				return TLSMAPS_FOUND;
			}
		}
		if (q->kind == TLSMAPS_QUERY_LITERAL_ADDR)
			return tlsmaps_lookup_addr(t, &q->addr, TLSMAPS_DIR_OUT, id);
		return tlsmaps_lookup_name(t, q->name, q->name_len, TLSMAPS_DIR_OUT, id);
	}
	}
	return TLSMAPS_ERROR;
}

tlsmaps_status tlsmaps_lookup_query(const tlsmaps_table *t, const tlsmaps_query *q, unsigned dir,
                                    tlsmaps_id *id)
{
	if (dir == TLSMAPS_DIR_OUT)
		return tlsmaps_lookup_nexthop(t, q, id);
	if (dir != TLSMAPS_DIR_IN)
		return TLSMAPS_ERROR;
	switch (q->kind) {
	case TLSMAPS_QUERY_NAME:
	case TLSMAPS_QUERY_PARENT:
	case TLSMAPS_QUERY_LITERAL_NAME:
		return tlsmaps_lookup_name(t, q->name, q->name_len, TLSMAPS_DIR_IN, id);
	case TLSMAPS_QUERY_ADDR:
	case TLSMAPS_QUERY_LITERAL_ADDR:
		return tlsmaps_lookup_addr(t, &q->addr, TLSMAPS_DIR_IN, id);
	}
	return TLSMAPS_ERROR;
}

/* ---------------------------------------------------------------------------
 * Table and entry accessors.
 */

size_t tlsmaps_table_count(const tlsmaps_table *t)
{
	return t->nentries;
}

size_t tlsmaps_table_network_count(const tlsmaps_table *t, unsigned dir)
{
	size_t n = 0;

	if (dir & TLSMAPS_DIR_IN)
		n += t->nnet_in;
	if (dir & TLSMAPS_DIR_OUT)
		n += t->nnet_out;
	return n;
}

tlsmaps_kind tlsmaps_entry_kind(const tlsmaps_table *t, tlsmaps_id id)
{
	return (tlsmaps_kind)t->entries[id].kind;
}

tlsmaps_level tlsmaps_entry_level(const tlsmaps_table *t, tlsmaps_id id)
{
	return (tlsmaps_level)t->entries[id].level;
}

unsigned tlsmaps_entry_direction(const tlsmaps_table *t, tlsmaps_id id)
{
	return t->entries[id].dir;
}

unsigned tlsmaps_entry_min_bits(const tlsmaps_table *t, tlsmaps_id id)
{
	return t->entries[id].min_bits;
}

int tlsmaps_entry_min_bits_explicit(const tlsmaps_table *t, tlsmaps_id id)
{
	return (t->entries[id].flags & TM_FLAG_MIN_BITS_SET) != 0;
}

tlsmaps_tls_failure tlsmaps_entry_on_tls_failure(const tlsmaps_table *t, tlsmaps_id id)
{
	const struct tm_entry *e = &t->entries[id];

	if (e->flags & TM_FLAG_TLSFAIL_SET)
		return (e->flags & TM_FLAG_TLSFAIL_GATEWAY) ? TLSMAPS_TLSFAIL_GATEWAY
		                                            : TLSMAPS_TLSFAIL_DEFER;
	/* The default reaches only the entries that could name the gateway. */
	if ((e->kind == TLSMAPS_KIND_DOMAIN || e->kind == TLSMAPS_KIND_PARENT) &&
	    (e->dir & TLSMAPS_DIR_OUT) && tlsmaps_level_mandatory((tlsmaps_level)e->level))
		return t->tls_failure;
	return TLSMAPS_TLSFAIL_DEFER;
}

int tlsmaps_entry_on_tls_failure_explicit(const tlsmaps_table *t, tlsmaps_id id)
{
	return (t->entries[id].flags & TM_FLAG_TLSFAIL_SET) != 0;
}

const char *tlsmaps_tls_failure_name(tlsmaps_tls_failure f)
{
	return f == TLSMAPS_TLSFAIL_GATEWAY ? "gateway" : "defer";
}

int tlsmaps_backup_parent(const tlsmaps_table *t, const char *name, size_t len)
{
	tlsmaps_id id;

	for (size_t i = len > 0 && name[0] == '.' ? 1 : 0; i + 1 < len; i++)
		if (name[i] == '.' &&
		    tlsmaps_lookup_name(t, name + i, len - i, TLSMAPS_DIR_OUT, &id) ==
		            TLSMAPS_FOUND &&
		    tlsmaps_entry_on_tls_failure(t, id) == TLSMAPS_TLSFAIL_GATEWAY)
			return 1;
	return 0;
}

const char *tlsmaps_entry_key(const tlsmaps_table *t, tlsmaps_id id)
{
	return t->arena + t->entries[id].key;
}

const char *tlsmaps_entry_attrs(const tlsmaps_table *t, tlsmaps_id id)
{
	return t->arena + t->entries[id].attrs;
}

const char *tlsmaps_entry_attr(const tlsmaps_table *t, tlsmaps_id id, const char *name, size_t *len)
{
	const char *p = t->arena + t->entries[id].attrs;
	size_t nlen = strlen(name);

	while (*p != '\0') {
		const char *end = strchr(p, ' ');
		size_t tlen = end != NULL ? (size_t)(end - p) : strlen(p);

		if (tlen > nlen && p[nlen] == '=' && strncmp(p, name, nlen) == 0) {
			if (len != NULL)
				*len = tlen - nlen - 1;
			return p + nlen + 1;
		}
		p += tlen;
		while (*p == ' ')
			p++;
	}
	return NULL;
}

const char *tlsmaps_entry_file(const tlsmaps_table *t, tlsmaps_id id)
{
	return t->files[t->entries[id].file];
}

unsigned tlsmaps_entry_line(const tlsmaps_table *t, tlsmaps_id id)
{
	return t->entries[id].line;
}

void tlsmaps_entry_network(const tlsmaps_table *t, tlsmaps_id id, tlsmaps_addr *addr,
                           unsigned *prefix_len)
{
	tm_tablekey k;
	const char *key = tlsmaps_entry_key(t, id);

	memset(addr, 0, sizeof(*addr));
	*prefix_len = 0;
	if (t->entries[id].kind != TLSMAPS_KIND_NETWORK)
		return;
	if (tm_tablekey_parse(key, strlen(key), &k, NULL, 0) == 0) {
		*addr = k.addr;
		*prefix_len = k.prefix;
	}
}

unsigned tlsmaps_entry_port(const tlsmaps_table *t, tlsmaps_id id)
{
	tm_tablekey k;
	const char *key = tlsmaps_entry_key(t, id);

	if (t->entries[id].kind != TLSMAPS_KIND_NEXTHOP)
		return 0;
	if (tm_tablekey_parse(key, strlen(key), &k, NULL, 0) < 0)
		return 0;
	return k.port;
}
