/*
 * NAME
 *	tlsmaps_int.h - libtlsmaps internals shared by its modules
 * DESCRIPTION
 *	The frozen table layout (struct tlsmaps_table), the table-key parser
 *	used by the builder, and small string helpers. Nothing here is public.
 *
 *	Layout of a frozen table, chosen for load speed and bytes per entry:
 *	- one string arena holding every key text and attribute string;
 *	- an entry array, 20 bytes an entry, in load order (an id is an index);
 *	- a name hash (namehash.c) over DOMAIN, PARENT and NEXTHOP key texts;
 *	- per address family a flattened range table (netrange.c) that answers
 *	  the longest-prefix match with one binary search.
 */
#ifndef TLSMAPS_INT_H
#define TLSMAPS_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "tlsmaps.h"
#include "namehash.h"
#include "netrange.h"

#define TM_FLAG_MIN_BITS_SET 1u
#define TM_FLAG_TLSFAIL_SET 2u     /* on_tls_failure= given */
#define TM_FLAG_TLSFAIL_GATEWAY 4u /* ... and it is gateway */

struct tm_entry {
	uint32_t key;   /* arena offset of the canonical key text */
	uint32_t attrs; /* arena offset of the Postfix attributes ("" = 0) */
	uint32_t line;
	uint16_t file; /* index into table->files */
	uint16_t min_bits;
	uint8_t level; /* tlsmaps_level */
	uint8_t kind;  /* tlsmaps_kind */
	uint8_t dir;   /* TLSMAPS_DIR_* */
	uint8_t flags; /* TM_FLAG_* */
};

struct tlsmaps_table {
	char *arena;
	size_t arena_len;
	struct tm_entry *entries;
	size_t nentries;
	char **files;
	size_t nfiles;
	namehash names;
	netrange net4;
	netrange net6;
	size_t nnet_in;                  /* network entries visible inbound */
	size_t nnet_out;                 /* ... and outbound */
	tlsmaps_tls_failure tls_failure; /* the builder's default on_tls_failure */
};

/* A table key, parsed (tlsmaps_key.c). */
typedef struct {
	tlsmaps_kind kind;
	unsigned port;     /* NEXTHOP only, 0 for none */
	tlsmaps_addr addr; /* NETWORK: network address */
	unsigned prefix;   /* NETWORK: prefix length */
	size_t text_len;
	char text[TLSMAPS_KEY_MAX + 1]; /* canonical text */
} tm_tablekey;

int tm_tablekey_parse(const char *s, size_t len, tm_tablekey *k, char *why, size_t whylen);

/*
 * Normalize a domain name: lowercase, one trailing dot dropped, labels
 * checked. Writes at most TLSMAPS_NAME_MAX bytes plus NUL to out.
 */
int tm_name_norm(const char *s, size_t len, char *out, size_t *outlen, char *why, size_t whylen);

/*
 * tlsmaps_idn.c: does s have a byte >= 0x80; and s (UTF-8, len bytes) as an
 * A-label name into out (outlen bytes, *alen its length). 0, or -1 with why.
 */
int tm_has_non_ascii(const char *s, size_t len);
int tm_name_to_alabel(const char *s, size_t len, char *out, size_t outlen, size_t *alen, char *why,
                      size_t whylen);

/* Canonical "[name]", "[192.0.2.7]" or "[ipv6:2001:db8::1]", with ":port" when port. */
size_t tm_literal_text(const tlsmaps_query *q, int with_port, char *buf, size_t len);

/* Print s (len bytes) for a diagnostic: printable ASCII kept, others as \xNN, long input cut. */
const char *tm_quote(const char *s, size_t len, char *buf, size_t buflen);
/* s[0..len) as a decimal of at most 5 digits, no sign, <= max; -1 if not. */
int tm_parse_uint(const char *s, size_t len, unsigned max, unsigned *out);

/* snprintf into why, tolerating why == NULL. */
void tm_why(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Attribute validation (tlsmaps_policy.c). */
typedef struct {
	tlsmaps_level level;
	unsigned dir;
	unsigned min_bits;
	int min_bits_set;
	tlsmaps_tls_failure tls_failure;
	int tls_failure_set;
	size_t attrs_len;
	char attrs[TLSMAPS_POLICY_MAX]; /* Postfix attributes, space separated */
} tm_attrset;

/*
 * Parse the tokens after the key: [LEVEL] [ATTR=VALUE ...]. tokens[i] has
 * length lens[i]. Returns 0, or -1 with the first problem in why.
 */
int tm_attrs_parse(const char *const *tokens, const size_t *lens, size_t ntokens,
                   tlsmaps_level default_level, tm_attrset *as, char *why, size_t whylen);

/*
 * Inbound certificate names (tlsmaps_certname.c, docs/tlsmaps.5 "Inbound
 * certificate names"). The names match= refers to: hostname is the
 * client name, nexthop the name whose lookup found the deciding entry;
 * both normalized (lowercase, no trailing dot), NULL when there is none.
 */
typedef struct {
	const char *hostname;
	const char *nexthop;
} tm_names;

/* 1 when cn matches one of the ':'-separated names of list (listlen bytes). */
int tm_certname_match(const char *cn, const char *list, size_t listlen, const tm_names *n);

/*
 * The name check of entry id for a verified certificate with subject CN
 * cn (NULL or "": none): NULL when it passes (also for levels other than
 * verify and secure), else why, holding the reason.
 */
const char *tm_certname_check(const tlsmaps_table *t, tlsmaps_id id, const char *cn,
                              const tm_names *n, char *why, size_t whylen);

#endif /* TLSMAPS_INT_H */
