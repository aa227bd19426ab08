/*
 * NAME
 *	mimehdr.c - MIME header fields as a person reads them (RFC 2045, 2047, 2231)
 * SUMMARY
 *	mimehdr_init(), mimehdr_decode(), mimehdr_encode(),
 *	mimehdr_content_type(), mimehdr_ctype_free(), mimehdr_filename(),
 *	mimehdr_transfer_encoding(), mimehdr_encrypted()
 * DESCRIPTION
 *	See mimehdr.h. GMime 3 parses Content-Type and Content-Disposition
 *	(comments, quoted strings, RFC 2231 continuations and charsets) and
 *	encodes RFC 2047 words. It does NOT decode them here: GMime 3.2.13
 *	(Debian 12) merges adjacent base64 words of one charset before
 *	decoding and drops everything after the first padded one
 *	("=?UTF-8?B?SGVsbG8=?= =?UTF-8?B?IHdvcmxk?=" gives "Hello"; GMime
 *	issue 133), which is how Thunderbird and Outlook split long subjects.
 *	So the words are decoded here, each on its own (base64 with mimedec's
 *	decoder, a fresh state per word), and the bytes of adjacent words in
 *	one charset are joined before the charset conversion (a character
 *	split across two words comes out whole). Encoded words are found
 *	anywhere, also inside a word ("x=?utf-8?q?a?=y" is "xay"), as GMime's
 *	loose mode does: more decoding means more matches, never fewer.
 *	For parameter values GMime's own RFC 2047 decoding is avoided by
 *	hiding "=?" and "?=" from it and decoding the value here afterwards.
 *
 *	Threads: GMime is started once by mimehdr_init(); the private parser
 *	options are only read after that; iconv descriptors are per call.
 * DIAGNOSTICS
 *	None: hostile input is decoded as far as it goes, never reported.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "mimedec.h"
#include "mimehdr.h"

static GMimeParserOptions *popts;

int mimehdr_init(void)
{
	if (popts != NULL)
		return 0;
	g_mime_init();
	popts = g_mime_parser_options_new();
	return popts ? 0 : -1;
}

struct buf {
	char *p;
	size_t len, cap;
	int oom;
};

static void put(struct buf *b, const void *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2 + 64;
		char *p = realloc(b->p, cap);

		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p, b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* An encoded word at s (end e): its charset span, its decoded bytes. Its length, or 0. */
static size_t word(const char *s, const char *e, const char **cs, size_t *cslen, struct buf *out)
{
	const char *p = s + 2, *enc, *txt, *t;

	if (e - s < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	for (*cs = p; p < e && *p != '?' && (unsigned char)*p > ' ' && p - *cs < 64; p++)
		;
	if (p == *cs || p + 3 >= e || *p != '?')
		return 0;
	*cslen = p - *cs;
	enc = p + 1;
	if (enc[1] != '?' || !strchr("BbQq", enc[0]))
		return 0;
	txt = enc + 2;
	/* the text holds no '?' and no blank (RFC 2047 5): the first '?' ends it, so linear */
	for (t = txt; t < e && *t != '?' && *t != ' ' && *t != '\t'; t++)
		;
	if (t + 1 >= e || t[0] != '?' || t[1] != '=')
		return 0;
	out->len = 0;
	if ((enc[0] | 0x20) == 'b') {
		mimedec_b64 b64 = {0, 0};
		unsigned char tmp[64];

		for (p = txt; p < t; p++)
			if (!isalnum((unsigned char)*p) && *p != '+' && *p != '/' && *p != '=')
				return 0; /* bad base64: the word stays as it stands */
		for (p = txt; p < t; p += 48) {
			size_t n = t - p < 48 ? (size_t)(t - p) : 48;

			n = mimedec_b64_step(&b64, (const unsigned char *)p, n, tmp);
			put(out, tmp, n);
		}
		put(out, tmp, mimedec_b64_flush(&b64, tmp));
	} else {
		for (p = txt; p < t; p++) {
			int hi, lo;

			if (*p == '_') {
				put(out, " ", 1);
			} else if (*p == '=' && t - p >= 3 && (hi = hexval(p[1])) >= 0 &&
			           (lo = hexval(p[2])) >= 0) {
				unsigned char c = hi << 4 | lo;

				put(out, &c, 1);
				p += 2;
			} else {
				put(out, p, 1);
			}
		}
	}
	put(out, "", 0);
	return t + 2 - s;
}

/* The bytes of a run of words in one charset, converted; raw s..e when unknown. */
static void flush_run(struct buf *b, const char *cs, size_t cslen, struct buf *bytes, const char *s,
                      const char *e)
{
	char name[72], *u;
	size_t ulen;
	int rc;

	if (cslen == 0)
		return;
	memcpy(name, cs, cslen);
	name[cslen] = '\0';
	if ((u = strchr(name, '*')) != NULL)
		*u = '\0'; /* RFC 2231 language */
	rc = mimedec_utf8(name, (const unsigned char *)bytes->p, bytes->len, &u, &ulen);
	if (rc == 0) {
		put(b, u, ulen);
		free(u);
	} else if (rc == 1 && g_utf8_validate(bytes->p, bytes->len, NULL)) {
		put(b, bytes->p, bytes->len); /* unknown charset, but UTF-8 bytes (ASCII) */
	} else if (rc == 1) {
		put(b, s, e - s);
	} else {
		b->oom = 1;
	}
	bytes->len = 0;
}

/* RFC 2047 words in s..e decoded into b. */
static void decode_words(struct buf *b, const char *s, const char *e)
{
	struct buf bytes = {0}, one = {0};
	const char *cs = NULL, *ncs, *run = NULL, *runend = NULL, *p = s, *text = s;
	size_t cslen = 0, ncslen, n;

	while (p < e && !b->oom) {
		const char *q = memchr(p, '=', e - p);

		if (q == NULL)
			break;
		if ((n = word(q, e, &ncs, &ncslen, &one)) == 0) {
			p = q + 1;
			continue;
		}
		int adjacent = run != NULL && strspn(runend, " \t") >= (size_t)(q - runend);

		if (!adjacent || ncslen != cslen || strncasecmp(ncs, cs, cslen) != 0) {
			flush_run(b, cs, cslen, &bytes, run, runend);
			if (!adjacent)
				put(b, text, q - text);
			run = q, cs = ncs, cslen = ncslen;
		}
		put(&bytes, one.p, one.len);
		if (one.oom || bytes.oom)
			b->oom = 1;
		p = text = runend = q + n;
	}
	flush_run(b, cs, cslen, &bytes, run, runend);
	put(b, text, e - text);
	free(bytes.p);
	free(one.p);
}

/* NUL bytes (from a word) out: callers see the whole text with strlen(). */
static void drop_nul(struct buf *b)
{
	size_t j = 0;

	for (size_t i = 0; i < b->len; i++)
		if (b->p[i] != '\0')
			b->p[j++] = b->p[i];
	b->len = j;
	b->p[j] = '\0';
}

char *mimehdr_decode(const char *value, size_t *len)
{
	struct buf u = {0}, b = {0};
	const char *s, *e;

	if (value == NULL)
		value = "";
	for (s = value; *s; s++)
		if (*s != '\r' && *s != '\n')
			put(&u, s, 1);
	put(&u, "", 0);
	if (u.oom) {
		free(u.p);
		return NULL;
	}
	for (s = u.p, e = u.p + u.len; s < e && (*s == ' ' || *s == '\t'); s++)
		;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	put(&b, "", 0);
	decode_words(&b, s, e);
	free(u.p);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	drop_nul(&b);
	if (len)
		*len = b.len;
	return b.p;
}

static int plain_ascii(const char *s)
{
	size_t n = strlen(s);

	if (n > 0 && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		return 0;
	if (strstr(s, "=?") != NULL)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s > '~')
			return 0;
	return 1;
}

/* utf8 as base64 words of at most 45 bytes, never splitting a character. */
static char *encode_b(const char *utf8)
{
	static const char pre[] = "=?UTF-8?B?";
	struct buf b = {0};
	size_t n = strlen(utf8);

	put(&b, "", 0);
	while (n > 0) {
		size_t take = n < 45 ? n : 45;
		gchar *enc;

		while (take < n && take > 1 && ((unsigned char)utf8[take] & 0xc0) == 0x80)
			take--;
		if ((enc = g_base64_encode((const guchar *)utf8, take)) == NULL) {
			b.oom = 1;
			break;
		}
		if (b.len)
			put(&b, " ", 1);
		put(&b, pre, sizeof(pre) - 1);
		put(&b, enc, strlen(enc));
		put(&b, "?=", 2);
		g_free(enc);
		utf8 += take, n -= take;
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

char *mimehdr_encode(const char *utf8)
{
	char *enc, *r, *back;
	size_t blen;
	int same;

	if (utf8 == NULL)
		utf8 = "";
	if (plain_ascii(utf8))
		return strdup(utf8);
	/* GMime's words read better (ASCII words stay plain); keep them when they round-trip */
	enc = g_mime_utils_header_encode_text(NULL, utf8, "UTF-8");
	if (enc != NULL && strpbrk(enc, "\r\n") == NULL) {
		if ((back = mimehdr_decode(enc, &blen)) == NULL) {
			g_free(enc);
			return NULL;
		}
		same = blen == strlen(utf8) && memcmp(back, utf8, blen) == 0;
		free(back);
		if (same) {
			r = strdup(enc);
			g_free(enc);
			return r;
		}
	}
	g_free(enc);
	return encode_b(utf8);
}

/*
 * After "*=" (an RFC 2231 value): its charset, kept when iconv knows it,
 * else replaced by "x-unknown" (GMime then reads the bytes as UTF-8 or
 * Latin-1), put into b after the "*=". GMime caches every charset name it
 * sees, forever: hostile names would grow the daemon without bound. The
 * bytes of s used, or 0 (nothing put) when s holds no charset.
 */
static size_t rfc2231_charset(struct buf *b, const char *s)
{
	size_t q = *s == '"', n = strcspn(s + q, "'\";, \t");
	char cs[48];

	if (s[q + n] != '\'' || n == 0)
		return 0;
	put(b, "*=", 2);
	put(b, s, q);
	if (n < sizeof(cs)) {
		memcpy(cs, s + q, n);
		cs[n] = '\0';
	}
	if (n < sizeof(cs) && mimedec_known(cs))
		put(b, cs, n);
	else
		put(b, "x-unknown", 9);
	return q + n;
}

/*
 * In an RFC 2231 value (ext: 1 a token, 2 a quoted string): the end of it
 * seen (ext 0 after), or a "%00" dropped (GMime's C string would end
 * there, "%00secret.pdf" would be ""). 1 when *s was dealt with.
 */
static int ext_value(struct buf *b, const char **s, int *ext)
{
	const char *p = *s;

	if (*ext == 1 && (*p == ';' || *p == ' ' || *p == '\t'))
		*ext = 0;
	else if (*ext == 2 && *p == '"')
		*ext = 0;
	else if (p[0] == '%' && p[1] == '0' && p[2] == '0')
		return *s += 2, 1;
	else if (*ext == 2 && p[0] == '\\' && p[1])
		return put(b, p, 2), *s += 1, 1;
	return 0;
}

/*
 * s with CR and LF removed; "=?" and "?=" hidden from GMime (hid set)
 * when s allows; RFC 2231 charsets checked, "%00" dropped from RFC 2231 values.
 */
static char *prepare(const char *s, int *hid)
{
	struct buf b = {0};
	size_t n;
	int ext = 0;

	*hid = strchr(s, '\x1a') == NULL && strchr(s, '\x1b') == NULL &&
	       (strstr(s, "=?") || strstr(s, "?="));
	put(&b, "", 0);
	for (; *s; s++) {
		if (*s == '\r' || *s == '\n' || (ext && ext_value(&b, &s, &ext)))
			continue;
		if (*hid && s[0] == '=' && s[1] == '?')
			put(&b, "\x1a\x1b", 2), s++;
		else if (*hid && s[0] == '?' && s[1] == '=')
			put(&b, "\x1b\x1a", 2), s++;
		else if (s[0] == '*' && s[1] == '=' && !ext) {
			ext = s[2] == '"' ? 2 : 1;
			if ((n = rfc2231_charset(&b, s + 2)) > 0)
				s += 1 + n; /* "*=", the quote and the charset are put */
			else
				put(&b, s, 2 + (ext == 2)), s += 1 + (ext == 2);
		} else
			put(&b, s, 1);
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* A parameter value from GMime, its "=?" "?=" put back and RFC 2047 decoded. */
static int param(const char *v, int hid, char **out)
{
	struct buf b = {0};
	const char *s;

	*out = NULL;
	if (v == NULL)
		return 0;
	put(&b, "", 0);
	for (s = v; *s; s++) {
		if (hid && s[0] == '\x1a' && s[1] == '\x1b')
			put(&b, "=?", 2), s++;
		else if (hid && s[0] == '\x1b' && s[1] == '\x1a')
			put(&b, "?=", 2), s++;
		else
			put(&b, s, 1);
	}
	if (!b.oom)
		*out = mimehdr_decode(b.p, NULL);
	free(b.p);
	return *out ? 0 : -1;
}

/*
 * Every parameter called pname in l, RFC 2231 ones (with a charset) first,
 * each in header order, decoded, appended to *v (*n of them, NULL after).
 */
static int names_add(GMimeParamList *l, const char *pname, int hid, char ***v, size_t *n)
{
	int count = l ? g_mime_param_list_length(l) : 0;

	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < count; i++) {
			GMimeParam *p = g_mime_param_list_get_parameter_at(l, i);
			const char *name = p ? g_mime_param_get_name(p) : NULL;
			char *d, **nv;

			if (name == NULL || strcasecmp(name, pname) != 0 ||
			    (g_mime_param_get_charset(p) == NULL) != pass)
				continue;
			if (param(g_mime_param_get_value(p), hid, &d) != 0)
				return -1;
			if (d == NULL)
				continue;
			if ((nv = realloc(*v, (*n + 2) * sizeof(*nv))) == NULL) {
				free(d);
				return -1;
			}
			*v = nv;
			nv[(*n)++] = d;
			nv[*n] = NULL;
		}
	}
	return 0;
}

void mimehdr_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = tolower((unsigned char)*s);
}

static int ctype_params(GMimeContentType *g, int hid, mimehdr_ctype *ct)
{
	if (param(g_mime_content_type_get_parameter(g, "boundary"), hid, &ct->boundary) ||
	    param(g_mime_content_type_get_parameter(g, "charset"), hid, &ct->charset) ||
	    param(g_mime_content_type_get_parameter(g, "protocol"), hid, &ct->protocol) ||
	    param(g_mime_content_type_get_parameter(g, "smime-type"), hid, &ct->smime_type) ||
	    names_add(g_mime_content_type_get_parameters(g), "name", hid, &ct->names, &ct->nnames))
		return -1;
	ct->name = ct->nnames ? ct->names[0] : NULL;
	if (ct->protocol)
		lower(ct->protocol);
	if (ct->smime_type)
		lower(ct->smime_type);
	return 0;
}

int mimehdr_content_type(const char *value, mimehdr_ctype *ct)
{
	GMimeContentType *g;
	const char *t, *st;
	char *v;
	int hid, rc = 0;

	memset(ct, 0, sizeof(*ct));
	strcpy(ct->type, "text");
	strcpy(ct->subtype, "plain");
	if (value == NULL)
		return 0;
	if ((v = prepare(value, &hid)) == NULL)
		return -1;
	g = g_mime_content_type_parse(popts, v);
	t = g ? g_mime_content_type_get_media_type(g) : NULL;
	st = g ? g_mime_content_type_get_media_subtype(g) : NULL;
	/* GMime answers application/octet-stream for what it cannot parse */
	if (t && st && *t && *st && strlen(t) < sizeof(ct->type) &&
	    strlen(st) < sizeof(ct->subtype) &&
	    (strcasecmp(t, "application") || strcasecmp(st, "octet-stream") ||
	     strcasestr(v, "octet-stream"))) {
		strcpy(ct->type, t);
		strcpy(ct->subtype, st);
		lower(ct->type);
		lower(ct->subtype);
		ct->parsed = 1;
		if ((rc = ctype_params(g, hid, ct)) != 0) {
			mimehdr_ctype_free(ct);
			memset(ct, 0, sizeof(*ct));
		}
	}
	if (g)
		g_object_unref(g);
	free(v);
	return rc;
}

void mimehdr_ctype_free(mimehdr_ctype *ct)
{
	free(ct->boundary);
	free(ct->charset);
	free(ct->protocol);
	free(ct->smime_type);
	mimehdr_names_free(ct->names, ct->nnames);
	ct->boundary = ct->charset = ct->protocol = ct->smime_type = ct->name = NULL;
	ct->names = NULL;
	ct->nnames = 0;
}

int mimehdr_filenames(const char *disposition, char ***names, size_t *n)
{
	GMimeContentDisposition *g;
	char *v;
	int hid, rc;

	*names = NULL;
	*n = 0;
	if (disposition == NULL)
		return 0;
	if ((v = prepare(disposition, &hid)) == NULL)
		return -1;
	g = g_mime_content_disposition_parse(popts, v);
	rc = g ? names_add(g_mime_content_disposition_get_parameters(g), "filename", hid, names, n)
	       : 0;
	if (g)
		g_object_unref(g);
	free(v);
	if (rc != 0) {
		mimehdr_names_free(*names, *n);
		*names = NULL;
		*n = 0;
	}
	return rc;
}

int mimehdr_filename(const char *disposition, char **name)
{
	char **v;
	size_t n;

	*name = NULL;
	if (mimehdr_filenames(disposition, &v, &n) != 0)
		return -1;
	if (n > 0) {
		*name = v[0];
		v[0] = v[n - 1]; /* v[0] is given away: free the others */
		n--;
	}
	mimehdr_names_free(v, n);
	return 0;
}

/* Skip blanks, CR, LF and (nested) comments. */
static const char *cfws(const char *s)
{
	for (;;) {
		int depth = 0;

		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (*s != '(')
			return s;
		for (; *s; s++) {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '(')
				depth++;
			else if (*s == ')' && --depth == 0) {
				s++;
				break;
			}
		}
	}
}

mimehdr_cte mimehdr_transfer_encoding(const char *value)
{
	const char *s, *e;
	size_t n;

	if (value == NULL)
		return MIMEHDR_CTE_IDENTITY;
	s = cfws(value);
	for (e = s;
	     *e && *e != ' ' && *e != '\t' && *e != '\r' && *e != '\n' && *e != '(' && *e != ';';
	     e++)
		;
	n = e - s;
	if (n == 6 && strncasecmp(s, "base64", 6) == 0)
		return MIMEHDR_CTE_BASE64;
	if (n == 16 && strncasecmp(s, "quoted-printable", 16) == 0)
		return MIMEHDR_CTE_QP;
	if (n == 0 || (n == 4 && strncasecmp(s, "7bit", 4) == 0) ||
	    (n == 4 && strncasecmp(s, "8bit", 4) == 0) ||
	    (n == 6 && strncasecmp(s, "binary", 6) == 0))
		return MIMEHDR_CTE_IDENTITY;
	return MIMEHDR_CTE_UNKNOWN;
}

int mimehdr_encrypted(const mimehdr_ctype *ct)
{
	/* Any protocol, or none: the gateway knows better than a missing parameter. */
	if (strcmp(ct->type, "multipart") == 0 && strcmp(ct->subtype, "encrypted") == 0)
		return 1;
	if (strcmp(ct->type, "application") != 0 ||
	    (strcmp(ct->subtype, "pkcs7-mime") && strcmp(ct->subtype, "x-pkcs7-mime")))
		return 0;
	return ct->smime_type == NULL || strcmp(ct->smime_type, "enveloped-data") == 0 ||
	       strcmp(ct->smime_type, "authenveloped-data") == 0;
}
