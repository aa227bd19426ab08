/*
 * NAME
 *	tlsmaps_policy.c - TLS levels, entry attributes, Postfix policy text
 * SUMMARY
 *	tlsmaps_level_name(), tlsmaps_level_parse(), tlsmaps_level_rank(),
 *	tlsmaps_level_mandatory(), tlsmaps_level_needs_cert(), tlsmaps_policy(),
 *	and inside the library tm_attrs_parse().
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
 *	forcetls's own attributes are min_bits=40..256 (default 128) and
 *	direction=in|out|both (default both). They never reach Postfix: the
 *	policy text drops direction= and turns min_bits above 128 into
 *	ciphers=high on a TLS level (not on none, may or dane, which do not
 *	take a mandatory cipher grade). min_bits above 128 with a ciphers=
 *	other than high is a contradiction and an error.
 *
 *	A fingerprint entry needs match=; match= on a level that ignores it
 *	is an error, since Postfix would silently ignore it.
 * DIAGNOSTICS
 *	tm_attrs_parse() writes its reason into why and returns -1.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tlsmaps_int.h"

static const char *const level_names[TLSMAPS_LEVEL_COUNT] = {
        "none", "may", "encrypt", "dane", "dane-only", "fingerprint", "verify", "secure",
};

/* none < may < dane < encrypt < dane-only < verify < fingerprint = secure */
static const int level_ranks[TLSMAPS_LEVEL_COUNT] = {0, 1, 3, 2, 4, 6, 5, 6};

const char *tlsmaps_level_name(tlsmaps_level level)
{
	return (unsigned)level < TLSMAPS_LEVEL_COUNT ? level_names[level] : NULL;
}

int tlsmaps_level_parse(const char *s, size_t len, tlsmaps_level *level)
{
	for (unsigned i = 0; i < TLSMAPS_LEVEL_COUNT; i++) {
		if (strlen(level_names[i]) == len && strncasecmp(s, level_names[i], len) == 0) {
			*level = (tlsmaps_level)i;
			return 0;
		}
	}
	return -1;
}

int tlsmaps_level_rank(tlsmaps_level level)
{
	return (unsigned)level < TLSMAPS_LEVEL_COUNT ? level_ranks[level] : -1;
}

int tlsmaps_level_mandatory(tlsmaps_level level)
{
	/* Opportunistic DANE falls back to may without TLSA records. */
	return level != TLSMAPS_LEVEL_NONE && level != TLSMAPS_LEVEL_MAY &&
	       level != TLSMAPS_LEVEL_DANE && (unsigned)level < TLSMAPS_LEVEL_COUNT;
}

int tlsmaps_level_needs_cert(tlsmaps_level level)
{
	return level == TLSMAPS_LEVEL_FINGERPRINT || level == TLSMAPS_LEVEL_VERIFY ||
	       level == TLSMAPS_LEVEL_SECURE;
}

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

typedef struct {
	const char *name;
	const char *seps; /* field separators of a list value, "" for one value */
	int (*check)(const char *, size_t);
	const char *expect; /* for the diagnostic */
} attr_def;

static const attr_def postfix_attrs[] = {
        {"ciphers", "", check_ciphers, "export, low, medium, high or null"},
        {"protocols", ":,", check_protocol, "a list like !SSLv3:!TLSv1 or >=TLSv1.2"},
        {"exclude", ":,", check_cipher_name, "a list of OpenSSL cipher names"},
        {"match", "", NULL, "see tlsmaps(5)"},
        {"servername", "", check_servername, "hostname or a domain name"},
        {"tafile", ",", check_path, "absolute file names"},
        {"connection_reuse", "", check_yes_no, "yes or no"},
};

#define KNOWN_ATTRS                                                                                \
	"ciphers protocols exclude match servername tafile connection_reuse min_bits direction"

static int check_match(tlsmaps_level level, const char *v, size_t len)
{
	if (level == TLSMAPS_LEVEL_FINGERPRINT)
		return each_field(v, len, "|", check_hex_digest);
	return each_field(v, len, ":", check_name_or_word);
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

int tm_attrs_parse(const char *const *tokens, const size_t *lens, size_t ntokens,
                   tlsmaps_level default_level, tm_attrset *as, char *why, size_t whylen)
{
	size_t i = 0;
	unsigned seen = 0; /* bit per postfix_attrs index, then min_bits, direction */
	const char *ciphers = NULL, *match = NULL;
	size_t ciphers_len = 0, match_len = 0;
	char q[TLSMAPS_KEY_MAX * 4 + 8];

	as->level = default_level;
	as->dir = TLSMAPS_DIR_BOTH;
	as->min_bits = TLSMAPS_MIN_BITS_DEFAULT;
	as->min_bits_set = 0;
	as->attrs_len = 0;
	as->attrs[0] = '\0';

	if (ntokens > 0 && memchr(tokens[0], '=', lens[0]) == NULL) {
		if (tlsmaps_level_parse(tokens[0], lens[0], &as->level) < 0) {
			tm_why(why, whylen,
			       "unknown level \"%s\" (levels: none may encrypt dane dane-only "
			       "fingerprint verify secure)",
			       tm_quote(tokens[0], lens[0], q, sizeof(q)));
			return -1;
		}
		i = 1;
	}
	for (; i < ntokens; i++) {
		const char *tok = tokens[i], *eqs = memchr(tok, '=', lens[i]);
		size_t nlen, vlen, a;
		const char *v;
		unsigned bit;

		if (eqs == NULL) {
			tm_why(why, whylen, "expected ATTR=VALUE, got \"%s\"%s",
			       tm_quote(tok, lens[i], q, sizeof(q)),
			       i == 1 ? " (only one level per entry)" : "");
			return -1;
		}
		nlen = (size_t)(eqs - tok);
		v = eqs + 1;
		vlen = lens[i] - nlen - 1;
		for (a = 0; a < sizeof(postfix_attrs) / sizeof(postfix_attrs[0]); a++)
			if (eq(tok, nlen, postfix_attrs[a].name))
				break;
		if (a < sizeof(postfix_attrs) / sizeof(postfix_attrs[0]))
			bit = 1u << a;
		else if (eq(tok, nlen, "min_bits"))
			bit = 1u << 14;
		else if (eq(tok, nlen, "direction"))
			bit = 1u << 15;
		else {
			tm_why(why, whylen, "unknown attribute \"%s\" (known: " KNOWN_ATTRS ")",
			       tm_quote(tok, nlen, q, sizeof(q)));
			return -1;
		}
		if (seen & bit) {
			tm_why(why, whylen, "attribute %s= given twice",
			       tm_quote(tok, nlen, q, sizeof(q)));
			return -1;
		}
		seen |= bit;
		if (vlen == 0) {
			tm_why(why, whylen, "attribute %s= has an empty value",
			       tm_quote(tok, nlen, q, sizeof(q)));
			return -1;
		}
		if (bit == 1u << 14) {
			if (tm_parse_uint(v, vlen, 65535, &as->min_bits) < 0 || as->min_bits < 40 ||
			    as->min_bits > 256) {
				tm_why(why, whylen, "min_bits=%s: expected a number from 40 to 256",
				       tm_quote(v, vlen, q, sizeof(q)));
				return -1;
			}
			as->min_bits_set = 1;
			continue;
		}
		if (bit == 1u << 15) {
			if (eq(v, vlen, "in"))
				as->dir = TLSMAPS_DIR_IN;
			else if (eq(v, vlen, "out"))
				as->dir = TLSMAPS_DIR_OUT;
			else if (eq(v, vlen, "both"))
				as->dir = TLSMAPS_DIR_BOTH;
			else {
				tm_why(why, whylen, "direction=%s: expected in, out or both",
				       tm_quote(v, vlen, q, sizeof(q)));
				return -1;
			}
			continue;
		}
		if (postfix_attrs[a].check == NULL) { /* match=: checked with the level */
			match = v;
			match_len = vlen;
		} else if (!each_field(v, vlen, postfix_attrs[a].seps, postfix_attrs[a].check)) {
			tm_why(why, whylen, "%s: bad value (expected %s)",
			       tm_quote(tok, lens[i], q, sizeof(q)), postfix_attrs[a].expect);
			return -1;
		}
		if (strcmp(postfix_attrs[a].name, "ciphers") == 0) {
			ciphers = v;
			ciphers_len = vlen;
		}
		if (append_attr(as, tok, lens[i]) < 0) {
			tm_why(why, whylen, "attributes longer than %d characters",
			       TLSMAPS_POLICY_MAX - 64);
			return -1;
		}
	}
	if (match != NULL) {
		if (!tlsmaps_level_needs_cert(as->level)) {
			tm_why(why, whylen,
			       "match= applies to fingerprint, verify and secure only");
			return -1;
		}
		if (!check_match(as->level, match, match_len)) {
			tm_why(why, whylen, "match=%s: bad value (expected %s)",
			       tm_quote(match, match_len, q, sizeof(q)),
			       as->level == TLSMAPS_LEVEL_FINGERPRINT
			               ? "hex digests separated by '|'"
			               : "hostname, nexthop, dot-nexthop or domains separated by "
			                 "':'");
			return -1;
		}
	} else if (as->level == TLSMAPS_LEVEL_FINGERPRINT) {
		tm_why(why, whylen, "level fingerprint needs match=DIGEST");
		return -1;
	}
	if (as->min_bits > 128 && ciphers != NULL && !eq(ciphers, ciphers_len, "high")) {
		tm_why(why, whylen, "min_bits=%u needs ciphers=high, not ciphers=%s", as->min_bits,
		       tm_quote(ciphers, ciphers_len, q, sizeof(q)));
		return -1;
	}
	return 0;
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
	int n = snprintf(buf, len, "%s%s%s%s", level_names[level], *attrs ? " " : "", attrs,
	                 high ? " ciphers=high" : "");

	return n < 0 || (size_t)n >= len ? -1 : n;
}
