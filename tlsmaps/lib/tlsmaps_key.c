/*
 * NAME
 *	tlsmaps_key.c - keys: domain names, addresses, networks, next hops
 * SUMMARY
 *	tlsmaps_query_parse(), tlsmaps_addr_parse(), tlsmaps_addr_format(),
 *	and, inside the library, tm_tablekey_parse() and tm_name_norm().
 * DESCRIPTION
 *	Two grammars live here, because they share every piece:
 *
 *	Table keys (docs/tlsmaps.5): example.com, .example.com, *.example.com,
 *	192.0.2.7, 2001:db8::1, 192.0.2.0/24, 2001:db8::/32, 10.1.2.* and
 *	10.1.* (octet wildcards, as /24 and /16), [host], [host]:port,
 *	[192.0.2.7], [ipv6:2001:db8::1]. Each parses to a canonical text:
 *	lowercase, no trailing dot, "*." written ".", wildcards and single
 *	addresses written as the network they are, IPv6 in RFC 5952 form.
 *
 *	Lookup keys, as an MTA has them: example.com, example.com:2526,
 *	.example.com (Postfix asks for parents itself), [host], [host]:587,
 *	[192.0.2.7]:25, [ipv6:2001:db8::1], 192.0.2.7, 2001:db8::1. Postfix
 *	does not lowercase; this does.
 *
 *	Domain names: labels of 1 to 63 letters, digits, '-' or '_' ('-' not at
 *	either end), at most 253 bytes in all. An internationalized name may be
 *	written with U-labels (UTF-8, "bücher.example"): it is converted to its
 *	A-label form ("xn--bcher-kva.example") by libidn2 (IDNA2008, UTS #46
 *	non-transitional; tlsmaps_idn.c) in tm_name_norm(), the one place where
 *	forcetls converts names, so that a table key, a policyd key and a
 *	milter recipient agree. A U-label that does not convert is an error, and
 *	so is one that converts to digits and dots only ("１９８．５１．１００．７",
 *	fullwidth, is not the address 198.51.100.7 and no name either). A name
 *	made of digits and dots only is taken for an address, never for a name.
 * DIAGNOSTICS
 *	Every parser returns -1 and writes a one-line reason into the caller's
 *	why buffer; untrusted bytes in it are escaped (tm_quote).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "tlsmaps_int.h"

void tm_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

const char *tm_quote(const char *s, size_t len, char *buf, size_t buflen)
{
	size_t o = 0;
	static const char hex[] = "0123456789abcdef";

	if (buflen == 0)
		return "";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (o + 8 >= buflen) { /* room for "\xNN...\0" */
			if (o + 4 <= buflen) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = '\0';
	return buf;
}

static int is_label_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static int digits_and_dots(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]) && s[i] != '.')
			return 0;
	return 1;
}

int tm_name_norm(const char *s, size_t len, char *out, size_t *outlen, char *why, size_t whylen)
{
	size_t label = 0;
	char alabel[TLSMAPS_NAME_MAX * 2 + 2];

	if (tm_has_non_ascii(s, len)) {
		if (tm_name_to_alabel(s, len, alabel, sizeof(alabel), &len, why, whylen) < 0)
			return -1;
		s = alabel;
		/* Fullwidth digits and dots convert to an address written as a name. */
		if (digits_and_dots(s, len)) {
			tm_why(why, whylen,
			       "international name converts to the address-like %s: "
			       "write an address in ASCII digits",
			       alabel);
			return -1;
		}
	}

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0) {
		tm_why(why, whylen, "empty domain name");
		return -1;
	}
	if (s[len - 1] == '.') {
		tm_why(why, whylen, "empty label in domain name");
		return -1;
	}
	if (len > TLSMAPS_NAME_MAX) {
		tm_why(why, whylen, "domain name longer than %d characters", TLSMAPS_NAME_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)tolower((unsigned char)s[i]);

		if (c == '.') {
			if (label == 0) {
				tm_why(why, whylen, "empty label in domain name");
				return -1;
			}
			if (out[i - 1] == '-') {
				tm_why(why, whylen, "label ends with '-'");
				return -1;
			}
			label = 0;
		} else if (is_label_char(c)) {
			if (label == 0 && c == '-') {
				tm_why(why, whylen, "label starts with '-'");
				return -1;
			}
			if (++label > 63) {
				tm_why(why, whylen, "label longer than 63 characters");
				return -1;
			}
		} else {
			char q[16];

			tm_why(why, whylen, "invalid character '%s' in domain name",
			       tm_quote((const char *)&c, 1, q, sizeof(q)));
			return -1;
		}
		out[i] = (char)c;
	}
	if (out[len - 1] == '-') {
		tm_why(why, whylen, "label ends with '-'");
		return -1;
	}
	out[len] = '\0';
	*outlen = len;
	return 0;
}

int tlsmaps_addr_parse(const char *s, size_t len, tlsmaps_addr *a)
{
	char buf[TLSMAPS_ADDR_STR_MAX];

	if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(a, 0, sizeof(*a));
	if (memchr(buf, ':', len) != NULL) {
		if (inet_pton(AF_INET6, buf, a->bytes) != 1)
			return -1;
		a->family = 6;
	} else {
		/* inet_pton accepts exactly a.b.c.d, decimal, no leading zeros issue. */
		if (inet_pton(AF_INET, buf, a->bytes) != 1)
			return -1;
		a->family = 4;
	}
	return 0;
}

const char *tlsmaps_addr_format(const tlsmaps_addr *a, char *buf, size_t len)
{
	if (inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->bytes, buf, (socklen_t)len) == NULL) {
		if (len > 0)
			buf[0] = '\0';
	}
	return buf;
}

static int parse_port(const char *s, size_t len, unsigned *port)
{
	return tm_parse_uint(s, len, 65535, port) < 0 || *port == 0 ? -1 : 0;
}

static int has_space_or_ctl(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c == 0x7f)
			return 1;
	}
	return 0;
}

static int strncaseprefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && strncasecmp(s, prefix, n) == 0;
}

/*
 * The inside of "[...]" and what follows the "]": fills kind, name/addr and
 * port of q.
 */
static int parse_literal(const char *s, size_t len, tlsmaps_query *q, char *why, size_t whylen)
{
	const char *close = memchr(s, ']', len);
	const char *in = s + 1;
	size_t inlen, restlen;

	q->port = 0;
	q->name_len = 0;
	q->name[0] = '\0';
	memset(&q->addr, 0, sizeof(q->addr));
	if (close == NULL) {
		tm_why(why, whylen, "missing ']' in next hop");
		return -1;
	}
	inlen = (size_t)(close - in);
	restlen = len - (size_t)(close - s) - 1;
	if (restlen > 0) {
		if (close[1] != ':' || parse_port(close + 2, restlen - 1, &q->port) < 0) {
			tm_why(why, whylen, "bad port after ']' (expected :1 to :65535)");
			return -1;
		}
	}
	if (strncaseprefix(in, inlen, "ipv6:")) {
		if (tlsmaps_addr_parse(in + 5, inlen - 5, &q->addr) < 0 || q->addr.family != 6) {
			tm_why(why, whylen, "bad IPv6 address in next hop");
			return -1;
		}
		q->kind = TLSMAPS_QUERY_LITERAL_ADDR;
	} else if (memchr(in, ':', inlen) != NULL || digits_and_dots(in, inlen)) {
		if (tlsmaps_addr_parse(in, inlen, &q->addr) < 0) {
			tm_why(why, whylen, "bad address in next hop");
			return -1;
		}
		q->kind = TLSMAPS_QUERY_LITERAL_ADDR;
	} else {
		if (tm_name_norm(in, inlen, q->name, &q->name_len, why, whylen) < 0)
			return -1;
		q->kind = TLSMAPS_QUERY_LITERAL_NAME;
	}
	return 0;
}

int tlsmaps_query_parse(const char *key, size_t len, tlsmaps_query *q, char *why, size_t whylen)
{
	const char *colon;

	q->kind = TLSMAPS_QUERY_NAME;
	q->port = 0;
	q->name_len = 0;
	q->name[0] = '\0';
	memset(&q->addr, 0, sizeof(q->addr));

	if (len == 0) {
		tm_why(why, whylen, "empty key");
		return -1;
	}
	if (len > TLSMAPS_KEY_MAX) {
		tm_why(why, whylen, "key longer than %d characters", TLSMAPS_KEY_MAX);
		return -1;
	}
	if (has_space_or_ctl(key, len)) {
		tm_why(why, whylen, "space or control character in key");
		return -1;
	}
	if (key[0] == '[')
		return parse_literal(key, len, q, why, whylen);

	/* One colon: host:port. More: an IPv6 address, which takes no port unbracketed. */
	colon = memchr(key, ':', len);
	if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon - key) - 1) == NULL) {
		if (parse_port(colon + 1, len - (size_t)(colon - key) - 1, &q->port) < 0) {
			tm_why(why, whylen, "bad port (expected :1 to :65535)");
			return -1;
		}
		len = (size_t)(colon - key);
		colon = NULL;
	}
	if (colon != NULL || (key[0] != '.' && digits_and_dots(key, len))) {
		if (tlsmaps_addr_parse(key, len, &q->addr) < 0) {
			tm_why(why, whylen, "bad address");
			return -1;
		}
		q->kind = TLSMAPS_QUERY_ADDR;
		return 0;
	}
	if (key[0] == '.') {
		q->name[0] = '.';
		if (tm_name_norm(key + 1, len - 1, q->name + 1, &q->name_len, why, whylen) < 0)
			return -1;
		q->name_len++;
		q->kind = TLSMAPS_QUERY_PARENT;
		return 0;
	}
	if (tm_name_norm(key, len, q->name, &q->name_len, why, whylen) < 0)
		return -1;
	q->kind = TLSMAPS_QUERY_NAME;
	return 0;
}

size_t tm_literal_text(const tlsmaps_query *q, int with_port, char *buf, size_t len)
{
	char a[TLSMAPS_ADDR_STR_MAX];
	int n;

	if (q->kind == TLSMAPS_QUERY_LITERAL_ADDR)
		n = snprintf(buf, len, "[%s%s]", q->addr.family == 6 ? "ipv6:" : "",
		             tlsmaps_addr_format(&q->addr, a, sizeof(a)));
	else
		n = snprintf(buf, len, "[%s]", q->name);
	if (n > 0 && with_port && q->port != 0)
		n += snprintf(buf + n, len - (size_t)n, ":%u", q->port);
	return n < 0 ? 0 : (size_t)n;
}

/* ---------------------------------------------------------------------------
 * Table keys.
 */

static void addr_mask(tlsmaps_addr *a, unsigned prefix, tlsmaps_addr *net)
{
	unsigned bytes = a->family == 4 ? 4 : 16;

	*net = *a;
	for (unsigned i = 0; i < bytes; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8 : (prefix > 8 * i ? prefix - 8 * i : 0);

		net->bytes[i] &= (uint8_t)(0xff00u >> keep);
	}
}

static void network_text(tm_tablekey *k)
{
	char a[TLSMAPS_ADDR_STR_MAX];
	unsigned full = k->addr.family == 4 ? 32 : 128;
	int n;

	tlsmaps_addr_format(&k->addr, a, sizeof(a));
	if (k->prefix == full)
		n = snprintf(k->text, sizeof(k->text), "%s", a);
	else
		n = snprintf(k->text, sizeof(k->text), "%s/%u", a, k->prefix);
	k->text_len = n < 0 ? 0 : (size_t)n;
}

static int parse_cidr(const char *s, size_t len, tm_tablekey *k, char *why, size_t whylen)
{
	const char *slash = memchr(s, '/', len);
	size_t alen = (size_t)(slash - s), plen = len - alen - 1;
	unsigned prefix = 0, full;
	tlsmaps_addr net;
	char q[TLSMAPS_KEY_MAX * 4 + 8];

	if (tlsmaps_addr_parse(s, alen, &k->addr) < 0) {
		tm_why(why, whylen, "%s: bad network address", tm_quote(s, len, q, sizeof(q)));
		return -1;
	}
	full = k->addr.family == 4 ? 32 : 128;
	if (plen == 0 || plen > 3)
		goto bad_prefix;
	for (size_t i = 0; i < plen; i++) {
		if (!isdigit((unsigned char)slash[1 + i]))
			goto bad_prefix;
		prefix = prefix * 10 + (unsigned)(slash[1 + i] - '0');
	}
	if (prefix > full)
		goto bad_prefix;
	addr_mask(&k->addr, prefix, &net);
	k->prefix = prefix;
	if (memcmp(net.bytes, k->addr.bytes, sizeof(net.bytes)) != 0) {
		k->addr = net;
		network_text(k);
		tm_why(why, whylen, "%s: host bits set; did you mean %s?",
		       tm_quote(s, len, q, sizeof(q)), k->text);
		return -1;
	}
	k->kind = TLSMAPS_KIND_NETWORK;
	network_text(k);
	return 0;

bad_prefix:
	tm_why(why, whylen, "%s: bad prefix length (expected /0 to /%u)",
	       tm_quote(s, len, q, sizeof(q)), full);
	return -1;
}

/* 10.*, 10.1.*, 10.1.2.*, also written 10.1.*.*: octets, then only '*'. */
static int parse_wildcard(const char *s, size_t len, tm_tablekey *k, char *why, size_t whylen)
{
	unsigned octets = 0, fields = 0, v = 0, digits = 0, star = 0;
	char q[TLSMAPS_KEY_MAX * 4 + 8];

	memset(&k->addr, 0, sizeof(k->addr));
	k->addr.family = 4;
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '.';

		if (c == '.') {
			if (digits == 0 && !star)
				goto bad;
			if (fields == 4)
				goto bad;
			if (!star) {
				if (octets != fields) /* a number after a '*' */
					goto bad;
				k->addr.bytes[octets++] = (uint8_t)v;
			}
			fields++;
			v = digits = star = 0;
		} else if (c == '*') {
			if (digits > 0 || star)
				goto bad;
			star = 1;
		} else if (isdigit((unsigned char)c)) {
			if (star || ++digits > 3)
				goto bad;
			v = v * 10 + (unsigned)(c - '0');
			if (v > 255)
				goto bad;
		} else {
			goto bad;
		}
	}
	if (octets == 0 || octets == fields)
		goto bad;
	k->prefix = 8 * octets;
	k->kind = TLSMAPS_KIND_NETWORK;
	network_text(k);
	return 0;
bad:
	tm_why(why, whylen,
	       "%s: bad wildcard (expected leading octets then '*', like 10.1.2.* or 10.1.*)",
	       tm_quote(s, len, q, sizeof(q)));
	return -1;
}

static int parse_nexthop(const char *s, size_t len, tm_tablekey *k, char *why, size_t whylen)
{
	tlsmaps_query q;
	char w[TLSMAPS_WHY_MAX], qs[TLSMAPS_KEY_MAX * 4 + 8];

	if (parse_literal(s, len, &q, w, sizeof(w)) < 0) {
		tm_why(why, whylen, "%s: %s", tm_quote(s, len, qs, sizeof(qs)), w);
		return -1;
	}
	k->kind = TLSMAPS_KIND_NEXTHOP;
	k->port = q.port;
	k->addr = q.addr;
	k->text_len = tm_literal_text(&q, 1, k->text, sizeof(k->text));
	return 0;
}

/* A single IPv6 address as a table key (a /128); "name:port" gets a hint. */
static int parse_ipv6_key(const char *s, size_t len, tm_tablekey *k, char *why, size_t whylen)
{
	const char *colon = memchr(s, ':', len);
	char q[TLSMAPS_KEY_MAX * 4 + 8];

	if (memchr(colon + 1, ':', len - (size_t)(colon - s) - 1) == NULL) {
		tm_why(why, whylen,
		       "%s: a port is allowed only on a bracketed next hop, like [%.*s]%.*s",
		       tm_quote(s, len, q, sizeof(q)), (int)(colon - s), s,
		       (int)(len - (size_t)(colon - s)), colon);
		return -1;
	}
	if (tlsmaps_addr_parse(s, len, &k->addr) < 0) {
		tm_why(why, whylen, "%s: bad IPv6 address", tm_quote(s, len, q, sizeof(q)));
		return -1;
	}
	k->kind = TLSMAPS_KIND_NETWORK;
	k->prefix = 128;
	network_text(k);
	return 0;
}

/* A single IPv4 address as a table key (a /32); "10.1.2" gets a hint. */
static int parse_ipv4_key(const char *s, size_t len, tm_tablekey *k, char *why, size_t whylen)
{
	size_t dots = 0;
	char q[TLSMAPS_KEY_MAX * 4 + 8];

	for (size_t i = 0; i < len; i++)
		dots += s[i] == '.';
	if (tlsmaps_addr_parse(s, len, &k->addr) < 0) {
		if (dots > 0 && dots < 3 && s[len - 1] != '.')
			tm_why(why, whylen, "%s: bad IPv4 address (did you mean %.*s.*?)",
			       tm_quote(s, len, q, sizeof(q)), (int)len, s);
		else
			tm_why(why, whylen, "%s: bad IPv4 address", tm_quote(s, len, q, sizeof(q)));
		return -1;
	}
	k->kind = TLSMAPS_KIND_NETWORK;
	k->prefix = 32;
	network_text(k);
	return 0;
}

int tm_tablekey_parse(const char *s, size_t len, tm_tablekey *k, char *why, size_t whylen)
{
	char w[TLSMAPS_WHY_MAX], q[TLSMAPS_KEY_MAX * 4 + 8];
	const char *name = s;
	size_t namelen = len;
	char *out = k->text;

	memset(k, 0, sizeof(*k));
	if (len > TLSMAPS_KEY_MAX) {
		tm_why(why, whylen, "%s: key longer than %d characters",
		       tm_quote(s, 40, q, sizeof(q)), TLSMAPS_KEY_MAX);
		return -1;
	}
	if (s[0] == '[')
		return parse_nexthop(s, len, k, why, whylen);
	if (memchr(s, '/', len) != NULL)
		return parse_cidr(s, len, k, why, whylen);
	if (s[0] != '*' && memchr(s, '*', len) != NULL)
		return parse_wildcard(s, len, k, why, whylen);
	if (memchr(s, ':', len) != NULL)
		return parse_ipv6_key(s, len, k, why, whylen);
	if (s[0] != '.' && digits_and_dots(s, len))
		return parse_ipv4_key(s, len, k, why, whylen);
	k->kind = TLSMAPS_KIND_DOMAIN;
	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		name = s + 2;
		namelen = len - 2;
		k->kind = TLSMAPS_KIND_PARENT;
	} else if (s[0] == '.') {
		name = s + 1;
		namelen = len - 1;
		k->kind = TLSMAPS_KIND_PARENT;
	}
	if (k->kind == TLSMAPS_KIND_PARENT)
		*out++ = '.';
	if (digits_and_dots(name, namelen)) {
		tm_why(why, whylen,
		       "%s: bad domain name: digits and dots only (write a network, like "
		       "10.0.0.0/8)",
		       tm_quote(s, len, q, sizeof(q)));
		return -1;
	}
	if (tm_name_norm(name, namelen, out, &k->text_len, w, sizeof(w)) < 0) {
		tm_why(why, whylen, "%s: bad domain name: %s", tm_quote(s, len, q, sizeof(q)), w);
		return -1;
	}
	if (k->kind == TLSMAPS_KIND_PARENT)
		k->text_len++;
	return 0;
}
