/*
 * NAME
 *	tlsmaps_certname.c - inbound certificate names: CN against match=, and a DN's CN
 * SUMMARY
 *	tlsmaps_dn_cn(), and inside the library tm_certname_match(),
 *	tm_certname_check()
 * DESCRIPTION
 *	Clearswift's "the client certificate CN must match" (docs/tlsmaps.5,
 *	"Inbound certificate names"). A verify or secure entry enforced
 *	inbound checks the subject CN of the client's verified certificate:
 *
 *	- verify or secure with match=: the CN must match one of the names
 *	  of match= (separated by ':'). No CN at all: refused.
 *	- secure without match=: as match=hostname, Clearswift's default
 *	  (the host name of the remote host: the client name as the MTA
 *	  reports it, which Postfix gives only when forward-confirmed).
 *	- verify without match=: any verified certificate, no name check.
 *
 *	The names of match=:
 *	hostname	the client name the MTA reports; none ("", "unknown",
 *			"[...]") matches nothing;
 *	nexthop		the name whose lookup found the deciding entry (the
 *			client name or the sender's domain); an entry found by
 *			an address gives none: matches nothing;
 *	dot-nexthop	any subdomain of that name;
 *	example.com	that name;
 *	.example.com	any subdomain of it (one or more labels).
 *
 *	Matching follows Postfix's own match= rules for server certificates
 *	(tls_client.c, tls_wildcard_matches_multiple_labels = yes), written
 *	here anew: names compare without regard to case; a CN with bytes
 *	outside printable ASCII never matches; one trailing dot of the CN is
 *	ignored. A subdomain pattern matches a CN that ends in "." and the
 *	domain and is longer than that. An exact pattern matches an equal CN,
 *	or a wildcard CN "*.rest" (rest not empty) when the pattern's part
 *	from its first dot on ends in ".rest": "*.example.com" matches
 *	a.example.com and a.b.example.com, but not example.com. A '*' that is
 *	not the whole first label is an ordinary character.
 *
 *	tlsmaps_dn_cn() reads Sendmail's {cert_subject}: X509_NAME_oneline()
 *	output ("/C=DE/O=Bank/CN=mx.bank.example") passed through Sendmail's
 *	xtextify ("+XX" for bytes below '!' or above '~', and '+', '\\', '(',
 *	'<', '>', '"', ')'). The CN is the text after the only "/CN=", up to
 *	the next '/' that starts a "/TYPE=" component, or the end. No CN, two
 *	of them (a value holding "/CN=" could fake one), an empty one, one
 *	that does not fit, a NUL or a bad "+" sequence: no CN. A CN that
 *	itself holds "/X=" is cut there and cannot be told apart; the milter
 *	therefore also compares Sendmail's {cn_subject} when it has one.
 * DIAGNOSTICS
 *	Nothing is logged. tm_certname_check() and tlsmaps_dn_cn() write the
 *	reason into why, printable, untrusted bytes escaped.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "tlsmaps_int.h"

#define CN_QUOTE_MAX 96    /* the CN as a reason shows it */
#define MATCH_QUOTE_MAX 96 /* ... and the match= list */
#define DN_MAX 4096        /* longest decoded DN */

static int word(const char *s, size_t len, const char *w)
{
	return strlen(w) == len && strncasecmp(s, w, len) == 0;
}

/* Does cn (cnlen bytes) match the domain d, itself or (sub) only its subdomains? */
static int match_domain(const char *cn, size_t cnlen, const char *d, size_t dlen, int sub)
{
	const char *parent;
	size_t plen, restlen;

	if (dlen > 0 && d[dlen - 1] == '.')
		dlen--;
	if (dlen == 0)
		return 0;
	if (sub)
		return cnlen > dlen + 1 && cn[cnlen - dlen - 1] == '.' &&
		       strncasecmp(cn + cnlen - dlen, d, dlen) == 0;
	if (cnlen == dlen && strncasecmp(cn, d, dlen) == 0)
		return 1;
	/* A wildcard CN "*.rest" against the pattern's part from its first dot. */
	if (cnlen < 3 || cn[0] != '*' || cn[1] != '.' || (parent = memchr(d, '.', dlen)) == NULL)
		return 0;
	plen = dlen - (size_t)(parent - d);
	restlen = cnlen - 1; /* ".rest" */
	return restlen <= plen && strncasecmp(parent + plen - restlen, cn + 1, restlen) == 0;
}

/* One name of match= (p, plen bytes) against the CN. */
static int match_one(const char *cn, size_t cnlen, const char *p, size_t plen, const tm_names *n)
{
	const char *name = NULL;
	int sub = 0;

	if (word(p, plen, "hostname"))
		name = n->hostname;
	else if (word(p, plen, "nexthop"))
		name = n->nexthop;
	else if (word(p, plen, "dot-nexthop"))
		name = n->nexthop, sub = 1;
	else if (plen > 1 && p[0] == '.')
		return match_domain(cn, cnlen, p + 1, plen - 1, 1);
	else
		return match_domain(cn, cnlen, p, plen, 0);
	return name != NULL && match_domain(cn, cnlen, name, strlen(name), sub);
}

int tm_certname_match(const char *cn, const char *list, size_t listlen, const tm_names *n)
{
	size_t cnlen, start = 0;

	if (cn == NULL || (cnlen = strlen(cn)) == 0)
		return 0;
	for (size_t i = 0; i < cnlen; i++)
		if ((unsigned char)cn[i] < 0x20 || (unsigned char)cn[i] > 0x7e)
			return 0;
	if (cn[cnlen - 1] == '.')
		cnlen--;
	if (cnlen == 0)
		return 0;
	for (size_t i = 0; i <= listlen; i++)
		if (i == listlen || list[i] == ':') {
			if (i > start && match_one(cn, cnlen, list + start, i - start, n))
				return 1;
			start = i + 1;
		}
	return 0;
}

const char *tm_certname_check(const tlsmaps_table *t, tlsmaps_id id, const char *cn,
                              const tm_names *n, char *why, size_t whylen)
{
	tlsmaps_level level = tlsmaps_entry_level(t, id);
	size_t len = 0;
	const char *match = tlsmaps_entry_attr(t, id, "match", &len);
	char qcn[CN_QUOTE_MAX], qmatch[MATCH_QUOTE_MAX];

	if (level != TLSMAPS_LEVEL_VERIFY && level != TLSMAPS_LEVEL_SECURE)
		return NULL;
	if (match == NULL) {
		if (level == TLSMAPS_LEVEL_VERIFY)
			return NULL; /* any verified certificate */
		match = "hostname";
		len = strlen(match);
	}
	if (cn == NULL || *cn == '\0') {
		tm_why(why, whylen, "client certificate has no CN");
		return why;
	}
	if (tm_certname_match(cn, match, len, n))
		return NULL;
	tm_why(why, whylen, "client certificate CN \"%s\" not in match=%s%s",
	       tm_quote(cn, strlen(cn), qcn, sizeof(qcn)),
	       tm_quote(match, len, qmatch, sizeof(qmatch)),
	       tlsmaps_entry_attr(t, id, "match", &len) == NULL ? " (secure without match=)" : "");
	return why;
}

static int hexdigit(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	                              : -1;
}

/* xtext (RFC 3461 "+XX") decoded into out; its length, or -1 (bad "+", NUL, too long). */
static long xtext_decode(const char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '+') {
			if (i + 2 >= len || hexdigit(s[i + 1]) < 0 || hexdigit(s[i + 2]) < 0)
				return -1;
			c = (char)(hexdigit(s[i + 1]) * 16 + hexdigit(s[i + 2]));
			i += 2;
		}
		if (c == '\0' || o + 1 >= outlen)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (long)o;
}

/* Does s (at a '/') start a "/TYPE=" component? TYPE: letters, digits, '.', '-'. */
static int component_start(const char *s, const char *end)
{
	const char *p = s + 1;

	while (p < end && (isalnum((unsigned char)*p) || *p == '.' || *p == '-'))
		p++;
	return p > s + 1 && p < end && *p == '=';
}

int tlsmaps_dn_cn(const char *dn, size_t len, char *cn, size_t cnlen, char *why, size_t whylen)
{
	char dec[DN_MAX];
	const char *start = NULL, *end, *p;
	long n;

	if (cnlen > 0)
		cn[0] = '\0';
	if ((n = xtext_decode(dn, len, dec, sizeof(dec))) < 0) {
		tm_why(why, whylen, "DN: bad xtext encoding, a NUL, or longer than %d bytes",
		       DN_MAX - 1);
		return -1;
	}
	end = dec + n;
	for (p = dec; (p = strstr(p, "/CN=")) != NULL; p += 4) {
		if (start != NULL) {
			tm_why(why, whylen, "DN: more than one CN");
			return -1;
		}
		start = p + 4;
	}
	if (start == NULL) {
		tm_why(why, whylen, "DN: no CN");
		return -1;
	}
	for (p = start; p < end && !(*p == '/' && component_start(p, end)); p++)
		;
	if (p == start) {
		tm_why(why, whylen, "DN: empty CN");
		return -1;
	}
	if ((size_t)(p - start) >= cnlen) {
		tm_why(why, whylen, "DN: CN longer than %zu bytes", cnlen > 0 ? cnlen - 1 : 0);
		return -1;
	}
	memcpy(cn, start, (size_t)(p - start));
	cn[p - start] = '\0';
	return 0;
}
