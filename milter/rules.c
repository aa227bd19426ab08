/*
 * NAME
 *	rules.c - encryption flagging rules: compiling them, the subject tag,
 *	header patterns, attachment names, and the listing of the rules
 * SUMMARY
 *	rules_new(), rules_free(), rules_want_body(), rules_want_headers(),
 *	rules_want_attachments(), rules_subject_tag(), rules_scan_new(),
 *	rules_scan_free(), rules_scan_header(), rules_scan_attachment(),
 *	rules_list(), rules_which_is_error(); rules_match(), rules_classify()
 *	for rules_body.c
 * DESCRIPTION
 *	See rules.h for the contract; the streaming body scan is rules_body.c.
 *	Every pattern is compiled once by rules_new() with PCRE2_UTF |
 *	PCRE2_MATCH_INVALID_UTF | PCRE2_CASELESS, newline ANYCRLF (CR, LF or
 *	CRLF end a line), and PCRE2_MULTILINE for body patterns (a pattern
 *	may turn it off with (?-m)); when the library has a JIT, it is
 *	JIT-compiled for complete matching (a failed JIT compile silently
 *	leaves the interpreter). A body pattern is compiled a second time
 *	with PCRE2_ALT_CIRCUMFLEX and JIT-compiled for hard-partial matching:
 *	rules_body.c matches the windows before the end of the body with it. A rules object
 *	is never written after rules_new(), so threads share it; all match
 *	state (pcre2_match_data, the body window, a JIT stack) lives in the
 *	per-message rules_scan, or per call for rules_subject_tag().
 *
 *	Cost bounds. Every match runs with a match limit (RULES_MATCH_LIMIT),
 *	a depth limit (RULES_DEPTH_LIMIT, interpreter only) and a heap limit
 *	(RULES_HEAP_LIMIT). The JIT counts the match limit over the whole
 *	call, the interpreter per start position; either way a catastrophic
 *	pattern ends within milliseconds (figures in rules.h).
 *
 *	Configuration syntax:
 *	- header_patterns entries are "Name: PATTERN", split at the first ':'.
 *	  Spaces and tabs around the name and before PATTERN are removed;
 *	  trailing ones are kept (they may be part of PATTERN, as in "a\ ").
 *	  The name must be a non-empty RFC 5322 field name. Empty patterns are
 *	  refused everywhere (use "^" to match any value or any body).
 *	- Header values are unfolded here (every CR and LF removed) and then
 *	  trimmed of leading and trailing spaces and tabs before they are
 *	  matched, so callers may pass them folded as the MTA sent them.
 * DIAGNOSTICS
 *	rules_new() returns NULL and writes one line into why:
 *	"body_patterns[N]: PATTERN: <PCRE2 error text> at offset K" (and the
 *	same with header_patterns[N], attachment_patterns[N] or subject_tag),
 *	"header_patterns[N]: \"ENTRY\": expected \"Name: PATTERN\"",
 *	"...: empty pattern", or "out of memory".
 *
 *	A match that cannot be completed (PCRE2 match, depth or heap limit,
 *	JIT stack exhausted, out of memory) is never read as "no match": the
 *	rule counts as matched, so the message is encrypted rather than sent
 *	in clear, and *which says so: "header_patterns[N] (match error)";
 *	rules_which_is_error() tells such a which from a real match. The
 *	subject tag then matches with *start == *end (nothing to strip).
 * SEE ALSO
 *	rules.h, rules_body.c, SPEC.md section 4, pcre2api(3) (limits),
 *	pcre2jit(3), pcre2unicode(3) (PCRE2_MATCH_INVALID_UTF)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rules_int.h"

#define RULES_COMPILE_OPTS (PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_CASELESS)
#define RULES_CONTEXT_MAX 1024 /* bytes of lookbehind context kept before a carry */
#define RULES_HEAP_LIMIT 8192  /* KiB of interpreter backtracking memory per match */
#define RULES_JIT_STACK_MIN (32 * 1024)
#define RULES_JIT_STACK_MAX (1024 * 1024)

static const char err_suffix[] = " (match error)";

/* What each list compiles to. */
typedef struct {
	const char *what; /* "body_patterns" */
	uint32_t opts;    /* besides RULES_COMPILE_OPTS */
	uint32_t jitopts;
} kind_spec;

static const kind_spec k_header = {"header_patterns", 0, PCRE2_JIT_COMPLETE};
static const kind_spec k_body = {"body_patterns", PCRE2_MULTILINE, PCRE2_JIT_COMPLETE};
static const kind_spec k_attach = {"attachment_patterns", 0, PCRE2_JIT_COMPLETE};

static pcre2_code *compile(const char *label, const char *pattern, uint32_t opts, uint32_t jitopts,
                           char *why, size_t whylen)
{
	int err;
	PCRE2_SIZE erroff;
	pcre2_code *re;
	pcre2_compile_context *cc;

	if (*pattern == '\0') {
		snprintf(why, whylen, "%s: empty pattern (use ^ to match anything)", label);
		return NULL;
	}
	if ((cc = pcre2_compile_context_create(NULL)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	pcre2_set_newline(cc, PCRE2_NEWLINE_ANYCRLF);
	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, RULES_COMPILE_OPTS | opts,
	                   &err, &erroff, cc);
	pcre2_compile_context_free(cc);
	if (re == NULL) {
		PCRE2_UCHAR msg[256];

		if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "PCRE2 error %d", err);
		snprintf(why, whylen, "%s: %s: %s at offset %zu", label, pattern, (char *)msg,
		         (size_t)erroff);
		return NULL;
	}
	(void)pcre2_jit_compile(re, jitopts); /* else the interpreter */
	return re;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* "Name: PATTERN" -> name (allocated) and pattern (inside entry). */
static int split_header_entry(const char *entry, char **name, const char **pattern)
{
	const char *colon = strchr(entry, ':');
	const char *b = entry, *e;

	if (colon == NULL)
		return -1;
	while (b < colon && is_space(*b))
		b++;
	e = colon;
	while (e > b && is_space(e[-1]))
		e--;
	if (e == b)
		return -1;
	for (const char *p = b; p < e; p++) /* RFC 5322 ftext */
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return -1;
	if ((*name = strndup(b, (size_t)(e - b))) == NULL)
		return -2;
	*pattern = colon + 1;
	while (is_space(**pattern))
		(*pattern)++;
	return 0;
}

/*
 * Compile entry idx of a list into ru (which, source, re; name for header
 * entries). 0, or -1 with why.
 */
static int compile_rule(rule *ru, const kind_spec *k, size_t idx, const char *entry, char *why,
                        size_t whylen)
{
	const char *pattern = entry;

	snprintf(ru->which, sizeof(ru->which), "%s[%zu]", k->what, idx);
	snprintf(ru->which_err, sizeof(ru->which_err), "%s%s", ru->which, err_suffix);
	if (entry == NULL) {
		snprintf(why, whylen, "%s: empty pattern", ru->which);
		return -1;
	}
	if (k == &k_header) {
		int rc = split_header_entry(entry, &ru->name, &pattern);

		if (rc == -2)
			goto oom;
		if (rc < 0) {
			snprintf(why, whylen, "%s: \"%s\": expected \"Name: PATTERN\"", ru->which,
			         entry);
			return -1;
		}
	}
	if ((ru->source = strdup(entry)) == NULL)
		goto oom;
	ru->re = compile(ru->which, pattern, k->opts, k->jitopts, why, whylen);
	if (ru->re != NULL && k == &k_body) /* see rules_body.c, "Line ends" */
		ru->pre = compile(ru->which, pattern, k->opts | PCRE2_ALT_CIRCUMFLEX,
		                  PCRE2_JIT_PARTIAL_HARD, why, whylen);
	return ru->re == NULL || (k == &k_body && ru->pre == NULL) ? -1 : 0;
oom:
	snprintf(why, whylen, "out of memory");
	return -1;
}

/* Compile a whole list; with keep 0 only check it (body scanning off). */
static int compile_list(rule **out, size_t *nout, const kind_spec *k, const char *const *list,
                        size_t n, int keep, char *why, size_t whylen)
{
	if (n > 0 && (*out = calloc(n, sizeof(**out))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		rule *ru = &(*out)[*nout];

		(*nout)++; /* what compile_rule allocated is freed by rules_free() */
		if (compile_rule(ru, k, i, list[i], why, whylen) < 0)
			return -1;
	}
	if (!keep) {
		for (size_t i = 0; i < *nout; i++) {
			pcre2_code_free((*out)[i].re);
			pcre2_code_free((*out)[i].pre);
			free((*out)[i].name);
			free((*out)[i].source);
		}
		free(*out);
		*out = NULL;
		*nout = 0;
	}
	return 0;
}

rules *rules_new(const rules_config *cfg, char *why, size_t whylen)
{
	rules *r = calloc(1, sizeof(*r));
	uint32_t lb, maxlb = 1;

	if (r == NULL || (r->mctx = pcre2_match_context_create(NULL)) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	r->limit = cfg->body_scan_limit;
	pcre2_set_heap_limit(r->mctx, RULES_HEAP_LIMIT);
	pcre2_set_match_limit(r->mctx, RULES_MATCH_LIMIT);
	pcre2_set_depth_limit(r->mctx, RULES_DEPTH_LIMIT);

	if (cfg->subject_tag != NULL && *cfg->subject_tag != '\0') {
		r->subject = compile("subject_tag", cfg->subject_tag, 0, PCRE2_JIT_COMPLETE, why,
		                     whylen);
		if (r->subject == NULL)
			goto fail;
		if ((r->subject_src = strdup(cfg->subject_tag)) == NULL) {
			snprintf(why, whylen, "out of memory");
			goto fail;
		}
	}
	if (compile_list(&r->hdr, &r->nhdr, &k_header, cfg->header_patterns, cfg->nheader_patterns,
	                 1, why, whylen) < 0 ||
	    compile_list(&r->body, &r->nbody, &k_body, cfg->body_patterns, cfg->nbody_patterns,
	                 cfg->body_scan_limit > 0, why, whylen) < 0 ||
	    compile_list(&r->att, &r->natt, &k_attach, cfg->attachment_patterns,
	                 cfg->nattachment_patterns, 1, why, whylen) < 0)
		goto fail;
	for (size_t i = 0; i < r->nbody; i++)
		if (pcre2_pattern_info(r->body[i].re, PCRE2_INFO_MAXLOOKBEHIND, &lb) == 0 &&
		    lb > maxlb)
			maxlb = lb;
	/* Up to 4 bytes per UTF-8 character of lookbehind. */
	r->context = maxlb > RULES_CONTEXT_MAX / 4 ? RULES_CONTEXT_MAX : 4 * (size_t)maxlb;
	return r;
fail:
	rules_free(r);
	return NULL;
}

static void free_list(rule *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pcre2_code_free(list[i].re);
		pcre2_code_free(list[i].pre);
		free(list[i].name);
		free(list[i].source);
	}
	free(list);
}

void rules_free(rules *r)
{
	if (r == NULL)
		return;
	pcre2_code_free(r->subject);
	free(r->subject_src);
	free_list(r->hdr, r->nhdr);
	free_list(r->body, r->nbody);
	free_list(r->att, r->natt);
	pcre2_match_context_free(r->mctx);
	free(r);
}

int rules_want_body(const rules *r)
{
	return r->nbody > 0 && r->limit > 0;
}

int rules_want_headers(const rules *r)
{
	return r->nhdr > 0 || r->subject != NULL;
}

int rules_want_attachments(const rules *r)
{
	return r->natt > 0;
}

int rules_classify(int rc)
{
	if (rc >= 0)
		return M_YES;
	if (rc == PCRE2_ERROR_NOMATCH)
		return M_NO;
	if (rc == PCRE2_ERROR_PARTIAL)
		return M_PARTIAL;
	return M_ERROR;
}

int rules_subject_tag(const rules *r, const char *value, size_t len, size_t *start, size_t *end)
{
	pcre2_match_data *md;
	int m;

	if (r->subject == NULL)
		return 0;
	*start = *end = 0;
	if ((md = pcre2_match_data_create(1, NULL)) == NULL)
		return 1; /* see DIAGNOSTICS */
	m = rules_classify(
	        pcre2_match(r->subject, (PCRE2_SPTR)(value ? value : ""), len, 0, 0, md, r->mctx));
	if (m == M_YES) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

		if (ov[0] <= ov[1] && ov[1] <= len) { /* \K can reverse them */
			*start = ov[0];
			*end = ov[1];
		}
	}
	pcre2_match_data_free(md);
	return m != M_NO;
}

rules_scan *rules_scan_new(const rules *r)
{
	rules_scan *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->r = r;
	if ((s->md = pcre2_match_data_create(1, NULL)) == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void rules_scan_free(rules_scan *s)
{
	if (s == NULL)
		return;
	free(s->buf);
	free(s->hbuf);
	pcre2_match_data_free(s->md);
	pcre2_match_context_free(s->mctx);
	pcre2_jit_stack_free(s->jit);
	free(s);
}

/* The default JIT stack (32 KiB of machine stack) was too small: get one. */
static int scan_jit_stack(rules_scan *s)
{
	if ((s->mctx = pcre2_match_context_copy(s->r->mctx)) == NULL)
		return -1;
	if ((s->jit = pcre2_jit_stack_create(RULES_JIT_STACK_MIN, RULES_JIT_STACK_MAX, NULL)) ==
	    NULL)
		return -1;
	pcre2_jit_stack_assign(s->mctx, NULL, s->jit);
	return 0;
}

int rules_match(rules_scan *s, const pcre2_code *re, const unsigned char *subj, size_t len,
                size_t off, uint32_t opts)
{
	int rc = pcre2_match(re, subj, len, off, opts, s->md, s->mctx ? s->mctx : s->r->mctx);

	if (rc == PCRE2_ERROR_JIT_STACKLIMIT && s->jit == NULL && scan_jit_stack(s) == 0)
		rc = pcre2_match(re, subj, len, off, opts, s->md, s->mctx);
	return rules_classify(rc);
}

/* Value unfolded (CR and LF removed) and trimmed of blanks, in s->hbuf. */
static const char *header_value(rules_scan *s, const char *value, size_t *len)
{
	size_t n = 0, vlen = strlen(value);

	if (vlen + 1 > s->hcap) {
		char *nb = realloc(s->hbuf, vlen + 1);

		if (nb == NULL)
			return NULL;
		s->hbuf = nb;
		s->hcap = vlen + 1;
	}
	for (size_t i = 0; i < vlen; i++)
		if (value[i] != '\r' && value[i] != '\n' && (n > 0 || !is_space(value[i])))
			s->hbuf[n++] = value[i];
	while (n > 0 && is_space(s->hbuf[n - 1]))
		n--;
	s->hbuf[n] = '\0';
	*len = n;
	return s->hbuf;
}

int rules_want_subject(const rules *r)
{
	return r->subject != NULL;
}

int rules_header_unjudged(const rules_scan *s, const char *name, const char **which)
{
	for (size_t i = 0; i < s->r->nhdr; i++)
		if (strcasecmp(s->r->hdr[i].name, name) == 0) {
			if (which)
				*which = s->r->hdr[i].which_err;
			return 1;
		}
	return 0;
}

int rules_scan_header(rules_scan *s, const char *name, const char *value, const char **which)
{
	const rules *r = s->r;
	const char *subj;
	size_t len, first;

	for (first = 0; first < r->nhdr; first++)
		if (strcasecmp(r->hdr[first].name, name) == 0)
			break;
	if (first == r->nhdr)
		return 0;
	if ((subj = header_value(s, value ? value : "", &len)) == NULL) { /* see DIAGNOSTICS */
		if (which)
			*which = r->hdr[first].which_err;
		return 1;
	}
	for (size_t i = first; i < r->nhdr; i++) {
		int m;

		if (strcasecmp(r->hdr[i].name, name) != 0)
			continue;
		m = rules_match(s, r->hdr[i].re, (PCRE2_SPTR)subj, len, 0, 0);
		if (m == M_NO)
			continue;
		if (which)
			*which = m == M_YES ? r->hdr[i].which : r->hdr[i].which_err;
		return 1;
	}
	return 0;
}

int rules_scan_attachment(rules_scan *s, const char *name, size_t len, const char **which)
{
	const rules *r = s->r;

	for (size_t i = 0; i < r->natt; i++) {
		int m = rules_match(s, r->att[i].re, (PCRE2_SPTR)(name ? name : ""), name ? len : 0,
		                    0, 0);

		if (m == M_NO)
			continue;
		if (which)
			*which = m == M_YES ? r->att[i].which : r->att[i].which_err;
		return 1;
	}
	return 0;
}

void rules_list(const rules *r, void (*emit)(void *arg, const char *which, const char *source),
                void *arg)
{
	if (r->subject != NULL)
		emit(arg, "subject_tag", r->subject_src);
	for (size_t i = 0; i < r->nhdr; i++)
		emit(arg, r->hdr[i].which, r->hdr[i].source);
	for (size_t i = 0; i < r->nbody; i++)
		emit(arg, r->body[i].which, r->body[i].source);
	for (size_t i = 0; i < r->natt; i++)
		emit(arg, r->att[i].which, r->att[i].source);
}

int rules_which_is_error(const char *which)
{
	size_t n = which != NULL ? strlen(which) : 0, k = sizeof(err_suffix) - 1;

	static const char oom[] = " (out of memory)";

	if (n >= k && strcmp(which + n - k, err_suffix) == 0)
		return 1;
	k = sizeof(oom) - 1;
	return n >= k && strcmp(which + n - k, oom) == 0;
}
