/*
 * NAME
 *	mimehdr.c - MIME header fields as a person reads them (RFC 2045, 2047, 2231)
 * SUMMARY
 *	mimehdr_init(), mimehdr_decode(), mimehdr_encode(),
 *	mimehdr_transfer_encoding()
 * DESCRIPTION
 *	See mimehdr.h; the parameters of Content-Type and Content-Disposition
 *	are mimeparam.c's. GMime 3 encodes RFC 2047 words. It does NOT decode
 *	them here: GMime 3.2.13
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
 *
 *	Threads: GMime is started once by mimehdr_init(); iconv descriptors
 *	are per call.
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
#include "mimeparam.h"

int mimehdr_init(void)
{
	static int done;

	if (done)
		return 0;
	g_mime_init();
	if (mimeparam_init() != 0)
		return -1;
	done = 1;
	return 0;
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
