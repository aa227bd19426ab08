/*
 * NAME
 *	rules_int.h - the rules object and the scan state, shared by rules.c
 *	and rules_body.c only
 * DESCRIPTION
 *	Not a public interface: the milter uses rules.h. rules.c compiles the
 *	configuration and matches single values (subject, headers, attachment
 *	names); rules_body.c scans the body window by window. Both see the
 *	structures below and the match helpers rules_match() and rules_classify().
 */
#ifndef MILTER_RULES_INT_H
#define MILTER_RULES_INT_H

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "rules.h"

typedef struct {
	pcre2_code *re;
	pcre2_code *pre;    /* body patterns: + PCRE2_ALT_CIRCUMFLEX, for partial windows */
	char *name;         /* header name (header patterns only) */
	char *source;       /* the entry as configured, for rules_list() */
	char which[48];     /* "body_patterns[3]"; the longest kind and a 20-digit index fit */
	char which_err[64]; /* "body_patterns[3] (match error)" */
} rule;

struct rules {
	pcre2_code *subject;
	char *subject_src;
	rule *hdr;
	size_t nhdr;
	rule *body;
	size_t nbody;
	rule *att;
	size_t natt;
	size_t limit;
	size_t context; /* bytes kept before the earliest carried start */
	pcre2_match_context *mctx;
};

struct rules_scan {
	const rules *r;
	pcre2_match_data *md;
	pcre2_match_context *mctx; /* own copy, once a JIT stack was needed */
	pcre2_jit_stack *jit;
	unsigned char *buf; /* the carry, then the window: buf[cbeg .. clen) */
	size_t cap;
	size_t cbeg;       /* the carry starts here in buf */
	size_t clen;       /* the carry ends here in buf */
	size_t coff;       /* matching resumes at buf[cbeg + coff]; before it: context */
	size_t unmatched;  /* bytes appended since the last match (a long partial pending) */
	size_t bytes;      /* body bytes scanned */
	int done;          /* limit or end of body reached */
	const char *which; /* the body rule that matched */
	char *hbuf;        /* unfolded header value */
	size_t hcap;
};

enum { M_NO, M_YES, M_PARTIAL, M_ERROR };

/* A pcre2_match() return code as M_NO, M_YES, M_PARTIAL or M_ERROR. */
int rules_classify(int rc);

/* Match with the scan's match data and context (a bigger JIT stack on demand). */
int rules_match(rules_scan *s, const pcre2_code *re, const unsigned char *subj, size_t len,
                size_t off, uint32_t opts);

#endif /* MILTER_RULES_INT_H */
