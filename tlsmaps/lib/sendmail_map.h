/*
 * NAME
 *	sendmail_map.h - the Sendmail access map that tlsmaps_smap_build() builds
 * SUMMARY
 *	#include "sendmail_map.h"
 * DESCRIPTION
 *	Internal to tlsmaps_sendmail.c and sendmail_map.c. A requirement
 *	(sm_req) is what the RHS of an access map line says; a record (sm_rec)
 *	is one output line; the context (sm_ctx) holds the records and the
 *	reasons being collected for the current entry. A tlsmaps_smap is the
 *	finished map: the records, and an index of them by folded key.
 * SEE ALSO
 *	tlsmaps_sendmail.h, tlsmaps_sendmail.c, sendmail_map.c
 */
#ifndef SENDMAIL_MAP_H
#define SENDMAIL_MAP_H

#include <stdio.h>

#include "tlsmaps.h"
#include "tlsmaps_sendmail.h"

/* A requirement, as the RHS of an access map entry says it. */
typedef struct {
	unsigned mandatory; /* 0: OK */
	unsigned verify;    /* VERIFY rather than ENCR */
	unsigned bits;
} sm_req;

/* One output line. */
typedef struct {
	const char *tag;
	char *key; /* allocated: tables of 100000 entries and more */
	sm_req req;
	tlsmaps_id id;   /* the entry it comes from */
	tlsmaps_id from; /* synthetic ".d" line: the parent entry, or TLSMAPS_NO_ID */
	unsigned prio;   /* address keys: the source prefix length */
	int synthetic;
	int dropped;
	size_t seq;
} sm_rec;

typedef struct {
	const tlsmaps_table *t;
	FILE *err;      /* NULL: reasons are counted, not written */
	unsigned flags; /* TLSMAPS_SMAP_* */
	sm_rec *recs;
	size_t nrecs, cap;
	unsigned char *flagged; /* entries reported on err */
	int nflagged;
	int oom;
	sm_req net_union[2]; /* all mandatory network requirements, out [0] and in [1] */
	tlsmaps_id cur;      /* entry whose reasons are collected */
	char why[2048];
	size_t whylen;
} sm_ctx;

/* Collect a reason for entry c->cur; sm_flush() prints them as one line. */
void sm_note(sm_ctx *c, const char *reason);
void sm_flush(sm_ctx *c);

/* "OK", "ENCR:bits" or "VERIFY:bits". */
const char *sm_rhs_text(const sm_req *r, char *buf, size_t len);
int sm_req_equal(const sm_req *a, const sm_req *b);
/* The union of two requirements: what satisfies it satisfies both. */
void sm_req_union(sm_req *a, const sm_req *b);
/* True when b asks for something a does not. */
int sm_req_stricter(const sm_req *b, const sm_req *a);

/* A line TAG:KEY for entry c->cur; prio is the source prefix of address keys. */
sm_rec *sm_add(sm_ctx *c, const char *tag, const char *key, const sm_req *r, unsigned prio);
/* Address keys for a network; prio is the source prefix length. 0: none written. */
int sm_address_keys(sm_ctx *c, const char *tag, const tlsmaps_addr *a, unsigned prefix,
                    const sm_req *r);

/* One line per key: a longer source prefix shadows, equal ones are united. */
void sm_merge(sm_ctx *c);
/* The map source, in table order, with a comment naming each entry. */
void sm_print(const sm_ctx *c, FILE *out);

struct tlsmaps_smap {
	sm_ctx c;
	const sm_rec **index; /* the lines, by folded "TAG:KEY"; a duplicate is left out */
	size_t nindex;
};

/* After sm_merge(): the index of m->c's lines. -1: out of memory. */
int sm_index(tlsmaps_smap *m);

#endif
