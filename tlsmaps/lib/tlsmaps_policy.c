/*
 * NAME
 *	tlsmaps_policy.c - TLS levels, entry attributes, Postfix policy text
 * SUMMARY
 *	tlsmaps_policy(), and inside the library tm_attrs_parse(). The levels
 *	themselves are tlsmaps_level.c's.
 * DESCRIPTION
 *	The part of an entry after its key is "[LEVEL] [ATTR=VALUE ...]".
 *	Postfix attributes (smtp_tls_policy_maps, Postfix 3.7) are checked and
 *	passed through in the order written:
 *
 *	ciphers=export|low|medium|high|null
 *	protocols=P[:P...]    P is [!]SSLv2..TLSv1.3, or >=P / <=P
 *	exclude=CIPHER[:CIPHER...]
 *	match=...             fingerprint: digests separated by '|';
 *	                      verify, secure: names separated by ':', each
 *	                      hostname, nexthop, dot-nexthop or a domain
 *	servername=hostname|NAME
 *	tafile=/PATH
 *	connection_reuse=yes|no
 *
 *	forcetls's own attributes are min_bits=40..256 (default 128),
 *	direction=in|out|both (default both) and on_tls_failure=defer|gateway
 *	(encrypt and stronger only; gateway not with direction=in, and the
 *	builder refuses it on keys other than domains). They never reach Postfix: the
 *	policy text drops direction= and turns min_bits above 128 into
 *	ciphers=high on a TLS level (not on none, may or dane, which do not
 *	take a mandatory cipher grade). min_bits above 128 with a ciphers=
 *	other than high is a contradiction and an error.
 *
 *	A fingerprint entry needs match=; match= on a level that ignores it
 *	is an error, since Postfix would silently ignore it.
 *
 *	Each attribute is one row of attr_table: its name, its parser,
 *	whether it is passed to Postfix, the levels that take it, the levels
 *	that need it, and a check run after the last token (for what depends
 *	on the level or on another attribute). Adding an attribute is adding
 *	a row and its parser.
 * DIAGNOSTICS
 *	tm_attrs_parse() writes its reason into why and returns -1.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tlsmaps_int.h"

/* ---------------------------------------------------------------------------
 * Attribute values.
 */

static int eq(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* Split s at any of seps; call check on each field; empty fields fail. */
static int each_field(const char *s, size_t len, const char *seps,
                      int (*check)(const char *, size_t))
{
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || strchr(seps, s[i]) != NULL) {
			if (i == start || !check(s + start, i - start))
				return 0;
			start = i + 1;
		}
	}
	return 1;
}

static int check_ciphers(const char *s, size_t len)
{
	return eq(s, len, "export") || eq(s, len, "low") || eq(s, len, "medium") ||
	       eq(s, len, "high") || eq(s, len, "null");
}

static int check_protocol(const char *s, size_t len)
{
	static const char *const protos[] = {"SSLv2",   "SSLv3",   "TLSv1",
	                                     "TLSv1.1", "TLSv1.2", "TLSv1.3"};

	if (len > 0 && s[0] == '!')
		s++, len--;
	else if (len > 1 && (s[0] == '>' || s[0] == '<') && s[1] == '=')
		s += 2, len -= 2;
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (eq(s, len, protos[i]))
			return 1;
	return 0;
}

static int check_cipher_name(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("-_+.!@=", s[i]) == NULL)
			return 0;
	return 1;
}

static int check_hex_digest(const char *s, size_t len)
{
	size_t hex = 0;

	for (size_t i = 0; i < len; i++) {
		if (isxdigit((unsigned char)s[i]))
			hex++;
		else if (s[i] != ':')
			return 0;
	}
	return hex >= 32 && hex % 2 == 0;
}

static int check_name_or_word(const char *s, size_t len)
{
	char out[TLSMAPS_NAME_MAX + 1];
	size_t n;

	if (eq(s, len, "hostname") || eq(s, len, "nexthop") || eq(s, len, "dot-nexthop"))
		return 1;
	if (len > 0 && s[0] == '.')
		s++, len--;
	return tm_name_norm(s, len, out, &n, NULL, 0) == 0;
}

static int check_servername(const char *s, size_t len)
{
	char out[TLSMAPS_NAME_MAX + 1];
	size_t n;

	return eq(s, len, "hostname") || tm_name_norm(s, len, out, &n, NULL, 0) == 0;
}

static int check_path(const char *s, size_t len)
{
	return len > 1 && s[0] == '/';
}

static int check_yes_no(const char *s, size_t len)
{
	return eq(s, len, "yes") || eq(s, len, "no");
}

int tm_parse_uint(const char *s, size_t len, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static int append_attr(tm_attrset *as, const char *tok, size_t len)
{
	if (as->attrs_len + len + 2 > sizeof(as->attrs))
		return -1;
	if (as->attrs_len > 0)
		as->attrs[as->attrs_len++] = ' ';
	memcpy(as->attrs + as->attrs_len, tok, len);
	as->attrs_len += len;
	as->attrs[as->attrs_len] = '\0';
	return 0;
}

/* ---------------------------------------------------------------------------
 * The attribute table: one parser per attribute.
 */

/* One ATTR=VALUE token. */
typedef struct {
	const char *tok; /* the whole token */
	size_t len;
	const char *v; /* its value */
	size_t vlen;
} attr_tok;

struct attr_def;

/* What the parsers of one entry share. */
typedef struct {
	tm_attrset *as;
	const struct attr_def *def; /* the row being parsed or checked */
	unsigned seen;              /* bit per attr_table[] row */
	attr_tok given[32];         /* by attr_table[] row, when seen */
	char *why;
	size_t whylen;
	char q[TLSMAPS_KEY_MAX * 4 + 8]; /* for tm_quote */
} attr_ctx;

/*
 * A row of the attribute table. parse checks and stores one value and
 * returns 0, or -1 with why. After the last token, a given attribute is
 * checked against levels (the levels that take it) and then by finish; a
 * missing one is an error on the levels in needed_by.
 */
typedef struct attr_def {
	const char *name;
	int (*parse)(attr_ctx *c, const attr_tok *t);
	int postfix;                        /* passed to Postfix in the policy text */
	unsigned levels;                    /* LEVELS_ALL, or the levels that take it */
	unsigned needed_by;                 /* levels that need it */
	const char *needed_value;           /* for "level L needs NAME=VALUE" */
	int (*finish)(attr_ctx *c);         /* checks that need the level or other attributes */
	const char *seps;                   /* parse_list: field separators, "" for one value */
	int (*check)(const char *, size_t); /* parse_list: one field */
	const char *expect;                 /* parse_list: for the diagnostic */
} attr_def;

#define LEVEL_BIT(l) (1u << (l))
#define LEVELS_ALL ((1u << TLSMAPS_LEVEL_COUNT) - 1)
#define LEVELS_MANDATORY                                                                           \
	(LEVELS_ALL & ~(LEVEL_BIT(TLSMAPS_LEVEL_NONE) | LEVEL_BIT(TLSMAPS_LEVEL_MAY) |             \
	                LEVEL_BIT(TLSMAPS_LEVEL_DANE)))
#define LEVELS_CERT                                                                                \
	(LEVEL_BIT(TLSMAPS_LEVEL_FINGERPRINT) | LEVEL_BIT(TLSMAPS_LEVEL_VERIFY) |                  \
	 LEVEL_BIT(TLSMAPS_LEVEL_SECURE))

static const char *quote(attr_ctx *c, const char *s, size_t len)
{
	return tm_quote(s, len, c->q, sizeof(c->q));
}

/* The value of an attribute given in this entry, or NULL. */
static const attr_tok *given_attr(const attr_ctx *c, const char *name);

/* A Postfix list or single value, each field checked by the row's check. */
static int parse_list(attr_ctx *c, const attr_tok *t)
{
	const attr_def *d = c->def;

	if (each_field(t->v, t->vlen, d->seps, d->check))
		return 0;
	tm_why(c->why, c->whylen, "%s: bad value (expected %s)", quote(c, t->tok, t->len),
	       d->expect);
	return -1;
}

/* match= is checked after the last token, when the level is known. */
static int parse_later(attr_ctx *c, const attr_tok *t)
{
	(void)c;
	(void)t;
	return 0;
}

static int parse_min_bits(attr_ctx *c, const attr_tok *t)
{
	tm_attrset *as = c->as;

	if (tm_parse_uint(t->v, t->vlen, 65535, &as->min_bits) < 0 || as->min_bits < 40 ||
	    as->min_bits > 256) {
		tm_why(c->why, c->whylen, "min_bits=%s: expected a number from 40 to 256",
		       quote(c, t->v, t->vlen));
		return -1;
	}
	as->min_bits_set = 1;
	return 0;
}

static int parse_direction(attr_ctx *c, const attr_tok *t)
{
	if (eq(t->v, t->vlen, "in"))
		c->as->dir = TLSMAPS_DIR_IN;
	else if (eq(t->v, t->vlen, "out"))
		c->as->dir = TLSMAPS_DIR_OUT;
	else if (eq(t->v, t->vlen, "both"))
		c->as->dir = TLSMAPS_DIR_BOTH;
	else {
		tm_why(c->why, c->whylen, "direction=%s: expected in, out or both",
		       quote(c, t->v, t->vlen));
		return -1;
	}
	return 0;
}

static int parse_tls_failure(attr_ctx *c, const attr_tok *t)
{
	if (eq(t->v, t->vlen, "defer"))
		c->as->tls_failure = TLSMAPS_TLSFAIL_DEFER;
	else if (eq(t->v, t->vlen, "gateway"))
		c->as->tls_failure = TLSMAPS_TLSFAIL_GATEWAY;
	else {
		tm_why(c->why, c->whylen, "on_tls_failure=%s: expected defer or gateway",
		       quote(c, t->v, t->vlen));
		return -1;
	}
	c->as->tls_failure_set = 1;
	return 0;
}

/* The backup transport carries outbound mail: an inbound-only entry has none. */
static int finish_tls_failure(attr_ctx *c)
{
	if (c->as->tls_failure != TLSMAPS_TLSFAIL_GATEWAY || c->as->dir != TLSMAPS_DIR_IN)
		return 0;
	tm_why(c->why, c->whylen,
	       "on_tls_failure=gateway applies to outbound mail, not with direction=in");
	return -1;
}

/*
 * A U-label in match= never matches: certificates carry A-labels, and
 * Postfix compares bytes. Say which A-label to write instead.
 */
static int match_non_ascii(attr_ctx *c, const attr_tok *t)
{
	char alabel[TLSMAPS_NAME_MAX + 1], e[TLSMAPS_WHY_MAX];
	size_t start = 0, alen;

	if (!tm_has_non_ascii(t->v, t->vlen))
		return 0;
	for (size_t i = 0; i <= t->vlen; i++) {
		if (i < t->vlen && t->v[i] != ':')
			continue;
		if (tm_has_non_ascii(t->v + start, i - start)) {
			size_t skip = t->v[start] == '.';

			if (tm_name_to_alabel(t->v + start + skip, i - start - skip, alabel,
			                      sizeof(alabel), &alen, e, sizeof(e)) == 0)
				tm_why(c->why, c->whylen,
				       "match=%s: write the A-label %s%s (certificates carry "
				       "A-labels)",
				       quote(c, t->v, t->vlen), skip ? "." : "", alabel);
			else
				tm_why(c->why, c->whylen, "match=%s: not a domain name: %s",
				       quote(c, t->v, t->vlen), e);
			return -1;
		}
		start = i + 1;
	}
	return 0;
}

static int finish_match(attr_ctx *c)
{
	const attr_tok *t = given_attr(c, "match");
	int fp = c->as->level == TLSMAPS_LEVEL_FINGERPRINT;

	if (!fp && match_non_ascii(c, t) < 0)
		return -1;

	if (fp ? each_field(t->v, t->vlen, "|", check_hex_digest)
	       : each_field(t->v, t->vlen, ":", check_name_or_word))
		return 0;
	tm_why(c->why, c->whylen, "match=%s: bad value (expected %s)", quote(c, t->v, t->vlen),
	       fp ? "hex digests separated by '|'"
	          : "hostname, nexthop, dot-nexthop or domains separated by ':'");
	return -1;
}

/* min_bits above 128 becomes ciphers=high: another ciphers= contradicts it. */
static int finish_min_bits(attr_ctx *c)
{
	const attr_tok *t = given_attr(c, "ciphers");

	if (c->as->min_bits <= 128 || t == NULL || eq(t->v, t->vlen, "high"))
		return 0;
	tm_why(c->why, c->whylen, "min_bits=%u needs ciphers=high, not ciphers=%s", c->as->min_bits,
	       quote(c, t->v, t->vlen));
	return -1;
}

/*
 * One row per attribute, in this order in the "known:" list of the
 * diagnostic. An attribute is added with one row (and its parser).
 */
/* clang-format off */
#define LIST(s, f, e) .parse = parse_list, .seps = (s), .check = (f), .expect = (e)
static const attr_def attr_table[] = {
	{.name = "ciphers", .postfix = 1, .levels = LEVELS_ALL,
	 LIST("", check_ciphers, "export, low, medium, high or null")},
	{.name = "protocols", .postfix = 1, .levels = LEVELS_ALL,
	 LIST(":,", check_protocol, "a list like !SSLv3:!TLSv1 or >=TLSv1.2")},
	{.name = "exclude", .postfix = 1, .levels = LEVELS_ALL,
	 LIST(":,", check_cipher_name, "a list of OpenSSL cipher names")},
	{.name = "match", .postfix = 1, .levels = LEVELS_CERT, .parse = parse_later,
	 .finish = finish_match, .needed_by = LEVEL_BIT(TLSMAPS_LEVEL_FINGERPRINT),
	 .needed_value = "DIGEST"},
	{.name = "servername", .postfix = 1, .levels = LEVELS_ALL,
	 LIST("", check_servername, "hostname or a domain name")},
	{.name = "tafile", .postfix = 1, .levels = LEVELS_ALL,
	 LIST(",", check_path, "absolute file names")},
	{.name = "connection_reuse", .postfix = 1, .levels = LEVELS_ALL,
	 LIST("", check_yes_no, "yes or no")},
	{.name = "min_bits", .levels = LEVELS_ALL, .parse = parse_min_bits,
	 .finish = finish_min_bits},
	{.name = "direction", .levels = LEVELS_ALL, .parse = parse_direction},
	{.name = "on_tls_failure", .levels = LEVELS_MANDATORY, .parse = parse_tls_failure,
	 .finish = finish_tls_failure},
};
#undef LIST
/* clang-format on */

#define NATTRS (sizeof(attr_table) / sizeof(attr_table[0]))

_Static_assert(NATTRS <= sizeof(((attr_ctx *)0)->given) / sizeof(attr_tok),
               "attr_ctx.given has a slot per attribute");

static const attr_tok *given_attr(const attr_ctx *c, const char *name)
{
	for (size_t a = 0; a < NATTRS; a++)
		if ((c->seen & (1u << a)) && strcmp(attr_table[a].name, name) == 0)
			return &c->given[a];
	return NULL;
}

static const attr_def *find_attr(const char *s, size_t len)
{
	for (size_t a = 0; a < NATTRS; a++)
		if (eq(s, len, attr_table[a].name))
			return &attr_table[a];
	return NULL;
}

/* "ciphers protocols ...": every name of the table. */
static const char *known_attrs(char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t a = 0; a < NATTRS && o < len; a++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", a ? " " : "", attr_table[a].name);
	return buf;
}

/* "fingerprint, verify and secure": the levels in mask, in level order. */
static const char *level_list(unsigned mask, char *buf, size_t len)
{
	size_t o = 0, n = 0, left = 0;

	buf[0] = '\0';
	for (unsigned l = 0; l < TLSMAPS_LEVEL_COUNT; l++)
		left += (mask & LEVEL_BIT(l)) != 0;
	for (unsigned l = 0; l < TLSMAPS_LEVEL_COUNT && o < len; l++) {
		if (!(mask & LEVEL_BIT(l)))
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%s",
		                      n == 0          ? ""
		                      : n + 1 == left ? " and "
		                                      : ", ",
		                      tlsmaps_level_name((tlsmaps_level)l));
		n++;
	}
	return buf;
}

/* The first token, when it has no '=': the level. */
static int parse_level(attr_ctx *c, const char *s, size_t len)
{
	if (tlsmaps_level_parse(s, len, &c->as->level) == 0)
		return 0;
	tm_why(c->why, c->whylen,
	       "unknown level \"%s\" (levels: none may encrypt dane dane-only fingerprint verify "
	       "secure)",
	       quote(c, s, len));
	return -1;
}

/* One ATTR=VALUE token; i is its index among the tokens after the key. */
static int parse_attr(attr_ctx *c, const char *tok, size_t len, size_t i)
{
	const char *eqs = memchr(tok, '=', len);
	attr_tok t = {tok, len, NULL, 0};
	char known[256];
	size_t a;

	if (eqs == NULL) {
		tm_why(c->why, c->whylen, "expected ATTR=VALUE, got \"%s\"%s", quote(c, tok, len),
		       i == 1 ? " (only one level per entry)" : "");
		return -1;
	}
	t.v = eqs + 1;
	t.vlen = len - (size_t)(eqs - tok) - 1;
	if ((c->def = find_attr(tok, (size_t)(eqs - tok))) == NULL) {
		tm_why(c->why, c->whylen, "unknown attribute \"%s\" (known: %s)",
		       quote(c, tok, (size_t)(eqs - tok)), known_attrs(known, sizeof(known)));
		return -1;
	}
	a = (size_t)(c->def - attr_table);
	if (c->seen & (1u << a)) {
		tm_why(c->why, c->whylen, "attribute %s= given twice",
		       quote(c, tok, (size_t)(eqs - tok)));
		return -1;
	}
	c->seen |= 1u << a;
	c->given[a] = t;
	if (t.vlen == 0) {
		tm_why(c->why, c->whylen, "attribute %s= has an empty value",
		       quote(c, tok, (size_t)(eqs - tok)));
		return -1;
	}
	if (c->def->parse(c, &t) < 0)
		return -1;
	if (c->def->postfix && append_attr(c->as, tok, len) < 0) {
		tm_why(c->why, c->whylen, "attributes longer than %d characters",
		       TLSMAPS_POLICY_MAX - 64);
		return -1;
	}
	return 0;
}

/* After the last token: each attribute against the level, in table order. */
static int finish_attrs(attr_ctx *c)
{
	char buf[128];

	for (size_t a = 0; a < NATTRS; a++) {
		const attr_def *d = c->def = &attr_table[a];

		if (!(c->seen & (1u << a))) {
			if (d->needed_by & LEVEL_BIT(c->as->level)) {
				tm_why(c->why, c->whylen, "level %s needs %s=%s",
				       tlsmaps_level_name(c->as->level), d->name, d->needed_value);
				return -1;
			}
			continue;
		}
		if (!(d->levels & LEVEL_BIT(c->as->level))) {
			tm_why(c->why, c->whylen, "%s= applies to %s only", d->name,
			       level_list(d->levels, buf, sizeof(buf)));
			return -1;
		}
		if (d->finish != NULL && d->finish(c) < 0)
			return -1;
	}
	return 0;
}

int tm_attrs_parse(const char *const *tokens, const size_t *lens, size_t ntokens,
                   tlsmaps_level default_level, tm_attrset *as, char *why, size_t whylen)
{
	attr_ctx c;
	size_t i = 0;

	/* No memset: given[] is read only where seen says, q only after tm_quote(). */
	c.as = as;
	c.def = NULL;
	c.seen = 0;
	c.why = why;
	c.whylen = whylen;
	as->level = default_level;
	as->dir = TLSMAPS_DIR_BOTH;
	as->min_bits = TLSMAPS_MIN_BITS_DEFAULT;
	as->min_bits_set = 0;
	as->tls_failure = TLSMAPS_TLSFAIL_DEFER;
	as->tls_failure_set = 0;
	as->attrs_len = 0;
	as->attrs[0] = '\0';

	if (ntokens > 0 && memchr(tokens[0], '=', lens[0]) == NULL) {
		if (parse_level(&c, tokens[0], lens[0]) < 0)
			return -1;
		i = 1;
	}
	for (; i < ntokens; i++)
		if (parse_attr(&c, tokens[i], lens[i], i) < 0)
			return -1;
	return finish_attrs(&c);
}

/* ---------------------------------------------------------------------------
 * Policy text.
 */

int tlsmaps_policy(const tlsmaps_table *t, tlsmaps_id id, char *buf, size_t len)
{
	const struct tm_entry *e = &t->entries[id];
	const char *attrs = t->arena + e->attrs;
	tlsmaps_level level = (tlsmaps_level)e->level;
	int high = e->min_bits > 128 && level != TLSMAPS_LEVEL_NONE && level != TLSMAPS_LEVEL_MAY &&
	           level != TLSMAPS_LEVEL_DANE &&
	           tlsmaps_entry_attr(t, id, "ciphers", NULL) == NULL;
	int n = snprintf(buf, len, "%s%s%s%s", tlsmaps_level_name(level), *attrs ? " " : "", attrs,
	                 high ? " ciphers=high" : "");

	return n < 0 || (size_t)n >= len ? -1 : n;
}
