/*
 * NAME
 *	mimedec.c - streaming content decoder: base64 or quoted-printable,
 *	then charset to UTF-8
 * SUMMARY
 *	mimedec_iconv_open(), mimedec_init(), mimedec_fini(), mimedec_step(),
 *	mimedec_flush(), mimedec_utf8()
 * DESCRIPTION
 *	See mimedec.h. Quoted-printable is GMime's g_mime_encoding_step() (its
 *	state carries a split "=\r\n" soft line break from one piece to the
 *	next). Base64 is decoded here: GMime 3.2.13's decoder drops all that
 *	follows a padding "=", so "SGVsbG8=IHdvcmxk" would hide "world". Charset names are checked
 *(letters, digits, ".:_+-", at most 40 bytes), a few names of mail clients mapped (ks_c_5601-1987
 *is CP949), and given to iconv_open(3), whose descriptors are private to one decoder, so threads
 *never share one. DIAGNOSTICS None: errors in the input are passed through, never reported.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mimedec.h"

/* Names glibc does not know under the name mail clients use. */
static const char *const aliases[][2] = {
        {"ks_c_5601-1987", "CP949"},    {"x-gbk", "GBK"},
        {"iso-8859-8-i", "ISO-8859-8"}, {"x-sjis", "SHIFT_JIS"},
        {"x-euc-jp", "EUC-JP"},         {"unicode-1-1-utf-7", "UTF-7"},
        {"x-mac-roman", "MACINTOSH"},   {"x-user-defined", "CP1252"},
};

/*
 * charset as a name to give iconv_open(3), in out: only letters, digits
 * and ".:_+-", at most 40 bytes ("UTF-8//IGNORE" or a path is no charset
 * name). -1 when it cannot be one; 1 when it is UTF-8 or US-ASCII.
 */
static int charset_name(const char *charset, char *out, size_t outsz)
{
	size_t n = charset ? strlen(charset) : 0;

	if (n == 0 || n > 40 || n >= outsz ||
	    strspn(charset, "abcdefghijklmnopqrstuvwxyz"
	                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                    "0123456789.:_+-") != n)
		return -1;
	memcpy(out, charset, n + 1);
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcasecmp(out, aliases[i][0]) == 0)
			strcpy(out, aliases[i][1]);
	if (strcasecmp(out, "UTF-8") == 0 || strcasecmp(out, "utf8") == 0 ||
	    strcasecmp(out, "US-ASCII") == 0 || strcasecmp(out, "ASCII") == 0)
		return 1;
	return 0;
}

/*
 * Not GMime's g_mime_charset_iconv_name(): it caches every name it is
 * asked for, forever, so hostile mail with a million charset names would
 * grow the daemon by about 100 MB.
 */
iconv_t mimedec_iconv_open(const char *charset)
{
	char name[48];

	if (charset_name(charset, name, sizeof(name)) != 0)
		return (iconv_t)-1;
	return iconv_open("UTF-8", name);
}

int mimedec_known(const char *charset)
{
	char name[48];
	iconv_t cd;
	int rc = charset_name(charset, name, sizeof(name));

	if (rc != 0)
		return rc == 1;
	if ((cd = iconv_open("UTF-8", name)) == (iconv_t)-1)
		return 0;
	iconv_close(cd);
	return 1;
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

size_t mimedec_b64_flush(mimedec_b64 *s, unsigned char *out)
{
	size_t n = 0;

	if (s->n == 2) {
		out[n++] = s->acc >> 4;
	} else if (s->n == 3) {
		out[n++] = s->acc >> 10;
		out[n++] = s->acc >> 2;
	}
	s->acc = 0, s->n = 0;
	return n;
}

size_t mimedec_b64_step(mimedec_b64 *s, const unsigned char *in, size_t len, unsigned char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		int v = b64val(in[i]);

		if (in[i] == '=') {
			n += mimedec_b64_flush(s, out + n); /* padding ends the quantum */
			continue;
		}
		if (v < 0)
			continue;
		s->acc = (s->acc << 6 | (unsigned)v) & 0xffffff;
		if (++s->n == 4) {
			out[n++] = s->acc >> 16;
			out[n++] = s->acc >> 8;
			out[n++] = s->acc;
			s->acc = 0, s->n = 0;
		}
	}
	return n;
}

void mimedec_init(mimedec *d, mimehdr_cte cte, const char *charset)
{
	d->cte = cte;
	d->b64.acc = 0, d->b64.n = 0;
	if (cte == MIMEHDR_CTE_QP)
		g_mime_encoding_init_decode(&d->enc, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	d->cd = mimedec_iconv_open(charset);
	d->ncarry = 0;
}

void mimedec_fini(mimedec *d)
{
	if (d->cd != (iconv_t)-1)
		iconv_close(d->cd);
	d->cd = (iconv_t)-1;
}

/* Bytes in charset to UTF-8, emitted; at the end (last) a carry is passed through. */
static int conv(mimedec *d, const unsigned char *in, size_t len, int last, mimedec_emit emit,
                void *arg)
{
	unsigned char tmp[sizeof(d->carry) + 64];
	int rc;

	if (d->cd == (iconv_t)-1)
		return len ? emit(arg, in, len) : 0;
	/* Complete a carried sequence with the first bytes of this piece. */
	while (d->ncarry > 0 && (len > 0 || last)) {
		size_t take = len < 64 ? len : 64, n = d->ncarry + take;
		char *ip = (char *)tmp, *op = (char *)d->out;
		size_t il = n, ol = sizeof(d->out), used;

		memcpy(tmp, d->carry, d->ncarry);
		memcpy(tmp + d->ncarry, in, take);
		if (iconv(d->cd, &ip, &il, &op, &ol) == (size_t)-1 && errno == EINVAL && !last &&
		    il < sizeof(d->carry) && take == len) {
			memcpy(d->carry, ip, il); /* still incomplete: wait for more */
			d->ncarry = il;
			rc = (char *)d->out < op ? emit(arg, d->out, op - (char *)d->out) : 0;
			return rc;
		}
		if ((rc = (char *)d->out < op ? emit(arg, d->out, op - (char *)d->out) : 0) != 0)
			return rc;
		used = ip - (char *)tmp;
		if (used >= d->ncarry) {
			/* the carried bytes are used up: go on in the piece */
			in += used - d->ncarry, len -= used - d->ncarry;
			d->ncarry = 0;
			break;
		}
		if (used == 0) {
			/* invalid: pass one carried byte through */
			if ((rc = emit(arg, d->carry, 1)) != 0)
				return rc;
			used = 1;
		}
		memmove(d->carry, d->carry + used, d->ncarry - used);
		d->ncarry -= used;
	}
	while (len > 0) {
		char *ip = (char *)in, *op = (char *)d->out;
		size_t il = len, ol = sizeof(d->out), r;
		int err;

		r = iconv(d->cd, &ip, &il, &op, &ol);
		err = r == (size_t)-1 ? errno : 0;
		if ((char *)d->out < op && (rc = emit(arg, d->out, op - (char *)d->out)) != 0)
			return rc;
		in = (const unsigned char *)ip, len = il;
		if (err == EILSEQ || (err == EINVAL && (last || len >= sizeof(d->carry)))) {
			if ((rc = emit(arg, in, 1)) != 0) /* invalid: as it is */
				return rc;
			in++, len--;
		} else if (err == EINVAL) {
			memcpy(d->carry, in, len);
			d->ncarry = len;
			return 0;
		} else if (err != 0 && err != E2BIG) {
			return emit(arg, in, len);
		}
	}
	return 0;
}

int mimedec_step(mimedec *d, const unsigned char *in, size_t len, mimedec_emit emit, void *arg)
{
	int rc;

	if (d->cte == MIMEHDR_CTE_IDENTITY)
		return conv(d, in, len, 0, emit, arg);
	while (len > 0) {
		/* outlen() is at most inlen + 3 for both decoders */
		size_t take = len < sizeof(d->dec) - 8 ? len : sizeof(d->dec) - 8;
		size_t n = d->cte == MIMEHDR_CTE_BASE64
		                   ? mimedec_b64_step(&d->b64, in, take, d->dec)
		                   : g_mime_encoding_step(&d->enc, (const char *)in, take,
		                                          (char *)d->dec);

		if ((rc = conv(d, d->dec, n, 0, emit, arg)) != 0)
			return rc;
		in += take, len -= take;
	}
	return 0;
}

int mimedec_flush(mimedec *d, mimedec_emit emit, void *arg)
{
	size_t n = 0;

	if (d->cte == MIMEHDR_CTE_BASE64)
		n = mimedec_b64_flush(&d->b64, d->dec);
	else if (d->cte == MIMEHDR_CTE_QP)
		n = g_mime_encoding_flush(&d->enc, "", 0, (char *)d->dec);
	return conv(d, d->dec, n, 1, emit, arg);
}

struct growbuf {
	char *p;
	size_t len, cap;
};

static int grow_emit(void *arg, const unsigned char *buf, size_t len)
{
	struct growbuf *g = arg;

	if (g->len + len + 1 > g->cap) {
		size_t cap = (g->len + len + 1) * 2;
		char *p = realloc(g->p, cap);

		if (p == NULL)
			return -1;
		g->p = p, g->cap = cap;
	}
	memcpy(g->p + g->len, buf, len);
	g->len += len;
	g->p[g->len] = '\0';
	return 0;
}

int mimedec_utf8(const char *charset, const unsigned char *in, size_t len, char **out,
                 size_t *outlen)
{
	struct growbuf g = {NULL, 0, 0};
	mimedec *d;
	int rc;

	if ((d = malloc(sizeof(*d))) == NULL)
		return -1;
	mimedec_init(d, MIMEHDR_CTE_IDENTITY, charset);
	if (d->cd == (iconv_t)-1 && charset_name(charset, (char *)d->out, 48) != 1) {
		free(d);
		return 1;
	}
	rc = grow_emit(&g, (const unsigned char *)"", 0);
	if (rc == 0)
		rc = conv(d, in, len, 0, grow_emit, &g);
	if (rc == 0)
		rc = conv(d, (const unsigned char *)"", 0, 1, grow_emit, &g);
	mimedec_fini(d);
	free(d);
	if (rc != 0) {
		free(g.p);
		return -1;
	}
	*out = g.p;
	*outlen = g.len;
	return 0;
}
