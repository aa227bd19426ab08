/*
 * NAME
 *	test_mime.c - unit tests of milter/mimehdr.c, mimewalk.c, mimedec.c
 * DESCRIPTION
 *	Written from the contracts in mimehdr.h and mimewalk.h:
 *	- mimehdr_decode(): unfolding and trimming, B and Q words in UTF-8,
 *	  ISO-8859-1, windows-1252, several words (padded base64 words in a
 *	  row, as Thunderbird splits a subject: GMime 3.2.13 loses them),
 *	  undecodable words as they stand, 100 KB of blanks and 10,000 words;
 *	- mimehdr_encode(): plain ASCII as is, decode(encode(x)) == x;
 *	- mimehdr_content_type(), mimehdr_encrypted(), mimehdr_filename(),
 *	  mimehdr_transfer_encoding(): smime-type inside another parameter,
 *	  folding after the colon, comments, RFC 2231;
 *	- mimewalk: messages as clients write them, fed in one chunk, byte by
 *	  byte and in random chunks (the output must not change), a keyword
 *	  in base64 across a 64 KB chunk edge, QP soft breaks, charsets, the
 *	  limits, lines over MIMEWALK_LINE_MAX, a missing closing boundary,
 *	  bounded memory over 20 MB; several threads at once.
 */
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mimehdr.h"
#include "mimewalk.h"

static void dec_is(const char *in, const char *want)
{
	size_t len;
	char *got = mimehdr_decode(in, &len);

	if (got == NULL) /* (assert_non_null is not noreturn to the compiler) */
		fail_msg("decode [%s]: NULL, want [%s]", in, want);
	else if (strlen(want) != len || memcmp(got, want, len) != 0)
		fail_msg("decode [%s]: got [%s], want [%s]", in, got, want);
	free(got);
}

static void t_decode(void **st)
{
	(void)st;
	dec_is("=?UTF-8?B?W2VuY3J5cHRdIHNlY3JldA==?=", "[encrypt] secret");
	dec_is("=?utf-8?Q?=5Bencrypt=5D_secret?=", "[encrypt] secret");
	dec_is("\r\n secret", "secret");
	dec_is("  a\r\n\tb  ", "a\tb");
	dec_is("=?UTF-8?B?W2VuY3J5cHRdIEdlaGFsdHPDvA==?=\r\n =?UTF-8?B?YmVyc2ljaHQ=?=",
	       "[encrypt] Gehaltsübersicht");
	dec_is("=?UTF-8?B?SGVsbG8=?= =?UTF-8?B?IHdvcmxk?=", "Hello world");
	dec_is("=?UTF-8?B?SGVsbG8=IHdvcmxk?=", "Hello world");
	dec_is("=?UTF-8?B?w6Q?=", "ä");
	dec_is("=?iso-8859-1?Q?Geh=E4lts=FCbersicht?=", "Gehältsübersicht");
	dec_is("[encrypt] =?windows-1252?Q?=80_100?=", "[encrypt] € 100");
	dec_is("=?ISO-8859-15?B?pA==?=", "€");
	/* a character split across two words comes out whole */
	dec_is("=?UTF-8?Q?=C3?= =?UTF-8?Q?=A4?=", "ä");
	dec_is("a =?utf-8?q?x?= b", "a x b");
	dec_is("=?utf-8?q?a?= =?iso-8859-1?q?=E4?=", "aä");
	dec_is("x=?utf-8?q?a?=y", "xay");
	dec_is("=?utf-8*de?q?ab?=", "ab");
	/* undecodable: as they stand */
	dec_is("=?UTF-8?X?abc?= x", "=?UTF-8?X?abc?= x");
	dec_is("=?UTF-8?B?!!!?= x", "=?UTF-8?B?!!!?= x");
	dec_is("=?x-nonesuch?B?/w==?=", "=?x-nonesuch?B?/w==?=");
	dec_is("=?x-nonesuch?B?W2VuY3J5cHRd?=", "[encrypt]"); /* unknown, but ASCII */
	dec_is("=??B?YQ==?=", "=??B?YQ==?=");
	dec_is("=?utf-8?q?a b?=", "=?utf-8?q?a b?=");
	/* 8-bit bytes outside words stay as they are, invalid UTF-8 too */
	dec_is("\xff\xfe x", "\xff\xfe x");
	dec_is("=?UTF-8?Q?=FFa?=", "\xff"
	                           "a");
	dec_is("", "");
	dec_is(NULL, "");

	/* big values cost little */
	char *big = malloc(100001);
	clock_t c = clock();
	size_t len;
	char *r;

	memset(big, ' ', 100000);
	big[100000] = '\0';
	r = mimehdr_decode(big, &len);
	assert_int_equal(len, 0);
	free(r);
	free(big);
	big = malloc(10000 * 17 + 1);
	for (int i = 0; i < 10000; i++)
		memcpy(big + i * 17, "=?UTF-8?B?w6Q=?= ", 17);
	big[10000 * 17] = '\0';
	r = mimehdr_decode(big, &len);
	assert_int_equal(len, 20000);
	free(r);
	free(big);
	assert_true(clock() - c < CLOCKS_PER_SEC);
}

/* NUL bytes from a word are dropped: callers use strlen() (attack8 finding 10) */
static void t_decode_nul(void **st)
{
	(void)st;
	dec_is("=?utf-8?q?=00?= confidential", " confidential");
	dec_is("=?utf-8?b?AHNlY3JldA==?=", "secret");
	dec_is("a=?utf-16be?b?AAAAYQ==?=b", "aab");
}

static double mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static double time_decode(const char *unit, size_t total, size_t *len)
{
	size_t u = strlen(unit), n = total / u * u;
	char *v = malloc(n + 1), *r;
	double t0, dt;

	assert_non_null(v);
	for (size_t i = 0; i < n; i += u)
		memcpy(v + i, unit, u);
	v[n] = '\0';
	t0 = mono();
	r = mimehdr_decode(v, len);
	dt = mono() - t0;
	assert_non_null(r);
	free(r);
	free(v);
	return dt;
}

/*
 * Linear (attack8 finding 11): 100 KB of "=?a?b?AAAA" (every "=?" a
 * candidate word without its "?=") costs about what 100 KB of well-formed
 * words costs in the same run (a ratio: these machines are noisy). The
 * quadratic scan took about 0.6 s, 300 times the well-formed value.
 */
static void t_decode_linear(void **st)
{
	size_t len;
	double good = 0, bad = 0;

	(void)st;
	for (int i = 0; i < 3; i++) {
		good += time_decode("=?UTF-8?B?W2VuY3J5cHRdIHNlY3JldA==?= ", 100000, &len);
		bad += time_decode("=?a?b?AAAA", 100000, &len);
	}
	assert_int_equal(len, 100000);
	if (bad > 5 * good + 0.05 * 3)
		fail_msg("hostile 100 KB: %.4f s, well-formed: %.4f s (3 runs)", bad, good);
}

static void enc_rt(const char *x, const char *want)
{
	char *e = mimehdr_encode(x), *back;
	size_t len;

	assert_non_null(e);
	if (want)
		assert_string_equal(e, want);
	assert_null(strpbrk(e, "\r\n"));
	back = mimehdr_decode(e, &len);
	if (len != strlen(x) || memcmp(back, x, len))
		fail_msg("encode [%s] = [%s] decodes to [%s]", x, e, back);
	free(back);
	free(e);
}

static void t_encode(void **st)
{
	(void)st;
	enc_rt("secret plan", "secret plan");
	enc_rt("", "");
	enc_rt("Gehaltsübersicht", NULL);
	enc_rt(" leading blank", NULL);
	enc_rt("trailing ", NULL);
	enc_rt("a =?utf-8?q?x?= b", NULL);
	enc_rt("line\r\nbreak ü", NULL);
	enc_rt("tab\there", NULL);
	enc_rt("日本語のテキストはとても長い件名になることがあります。日本語のテキストは", NULL);
}

static void t_ctype(void **st)
{
	mimehdr_ctype ct;

	(void)st;
	assert_int_equal(mimehdr_content_type("application/pkcs7-mime; "
	                                      "name=\"smime-type=signed-data.p7m\"; "
	                                      "smime-type=enveloped-data",
	                                      &ct),
	                 0);
	assert_string_equal(ct.smime_type, "enveloped-data");
	assert_string_equal(ct.name, "smime-type=signed-data.p7m");
	assert_true(mimehdr_encrypted(&ct));
	mimehdr_ctype_free(&ct);

	assert_int_equal(mimehdr_content_type("\r\n Multipart/Encrypted (pgp) ;\r\n\tprotocol="
	                                      "\"Application/PGP-Encrypted\" (x);\r\n"
	                                      " boundary=\"=_b1\"",
	                                      &ct),
	                 0);
	assert_string_equal(ct.type, "multipart");
	assert_string_equal(ct.subtype, "encrypted");
	assert_string_equal(ct.boundary, "=_b1");
	assert_true(mimehdr_encrypted(&ct));
	mimehdr_ctype_free(&ct);

	static const struct {
		const char *v;
		int enc;
	} e[] = {
	        {"application/pkcs7-mime; smime-type=signed-data", 0},
	        {"application/pkcs7-mime; smime-type=certs-only", 0},
	        {"application/pkcs7-mime", 1},
	        {"application/x-pkcs7-mime; smime-type=enveloped-data; name=smime.p7m", 1},
	        {"APPLICATION/PKCS7-MIME; SMIME-TYPE=authEnveloped-data", 1},
	        {"application/pkcs7-mime; smime-type=\"enveloped-data\"", 1},
	        {"multipart/encrypted; protocol=\"application/pkcs7-mime\"", 1},
	        {"multipart/encrypted", 1}, /* the gateway judges */
	        {"multipart/signed; protocol=\"application/pgp-signature\"", 0},
	        {"text/plain; name=\"application/pkcs7-mime\"", 0},
	};
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		assert_int_equal(mimehdr_content_type(e[i].v, &ct), 0);
		if (mimehdr_encrypted(&ct) != e[i].enc)
			fail_msg("encrypted(%s) != %d", e[i].v, e[i].enc);
		mimehdr_ctype_free(&ct);
	}

	assert_int_equal(mimehdr_content_type("TEXT/HTML; CHARSET=\"ISO-8859-1\"", &ct), 0);
	assert_string_equal(ct.subtype, "html");
	assert_string_equal(ct.charset, "ISO-8859-1");
	assert_int_equal(ct.parsed, 1);
	mimehdr_ctype_free(&ct);
	assert_int_equal(mimehdr_content_type("garbage", &ct), 0);
	assert_string_equal(ct.type, "text");
	assert_string_equal(ct.subtype, "plain");
	assert_int_equal(ct.parsed, 0);
	mimehdr_ctype_free(&ct);
	assert_int_equal(mimehdr_content_type(NULL, &ct), 0);
	assert_int_equal(ct.parsed, 0);
	assert_int_equal(mimehdr_content_type("application/octet-stream; name=\"=?UTF-8?B?"
	                                      "W2VuY3J5cHRdIEdlaGFsdHPDvA==?= =?UTF-8?B?"
	                                      "YmVyc2ljaHQucGRm?=\"",
	                                      &ct),
	                 0);
	assert_string_equal(ct.name, "[encrypt] Gehaltsübersicht.pdf");
	mimehdr_ctype_free(&ct);
}

static void fn_is(const char *disp, const char *want)
{
	char *n;

	assert_int_equal(mimehdr_filename(disp, &n), 0);
	if (want == NULL)
		assert_null(n);
	else if (n == NULL || strcmp(n, want) != 0)
		fail_msg("filename(%s) = %s, want %s", disp, n ? n : "NULL", want);
	free(n);
}

static void t_filename(void **st)
{
	(void)st;
	fn_is("attachment; filename*0*=UTF-8''Geh%C3%A4lts; filename*1*=%C3%BCbersicht.pdf",
	      "Gehältsübersicht.pdf");
	fn_is("attachment;\r\n filename*=iso-8859-1''%E4.txt", "ä.txt");
	fn_is("attachment; filename=\"=?utf-8?Q?Vertraulich=5F=C3=BC.docx?=\"",
	      "Vertraulich_ü.docx");
	fn_is("inline; filename=\"plain name.txt\" (c)", "plain name.txt");
	fn_is("inline", NULL);
	fn_is(NULL, NULL);
	assert_int_equal(mimehdr_transfer_encoding(" Base64 (x)"), MIMEHDR_CTE_BASE64);
	assert_int_equal(mimehdr_transfer_encoding("\r\n quoted-printable"), MIMEHDR_CTE_QP);
	assert_int_equal(mimehdr_transfer_encoding("8bit"), MIMEHDR_CTE_IDENTITY);
	assert_int_equal(mimehdr_transfer_encoding("x-uuencode"), MIMEHDR_CTE_UNKNOWN);
	assert_int_equal(mimehdr_transfer_encoding("7BIT (c)"), MIMEHDR_CTE_IDENTITY);
	assert_int_equal(mimehdr_transfer_encoding(" binary"), MIMEHDR_CTE_IDENTITY);
	assert_int_equal(mimehdr_transfer_encoding(""), MIMEHDR_CTE_IDENTITY);
	assert_int_equal(mimehdr_transfer_encoding("8bits"), MIMEHDR_CTE_UNKNOWN);
	assert_int_equal(mimehdr_transfer_encoding(NULL), MIMEHDR_CTE_IDENTITY);
}

struct out {
	char *p;
	size_t len, cap;
	int stop_at_part; /* part index to stop at, or -1 */
};

static void out_put(struct out *o, const void *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		o->p = realloc(o->p, o->cap);
		assert_non_null(o->p);
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static int on_part(void *arg, const mimewalk_part *p)
{
	struct out *o = arg;
	char b[512];

	snprintf(b, sizeof(b), "{%u d%u %s/%s %s%s}", p->index, p->depth, p->type, p->subtype,
	         p->filename ? p->filename : "-", p->text ? " text" : "");
	out_put(o, b, strlen(b));
	return o->stop_at_part == (int)p->index;
}

static int on_text(void *arg, const unsigned char *buf, size_t len)
{
	out_put(arg, buf, len);
	return 0;
}

static const mimewalk_limits biglim = {1 << 30, 16, 1000};

/* chunk: 0 one chunk, 1 byte by byte, 2 random sizes, else that size */
static char *walk(const char *ctype, const char *body, size_t len, int chunk,
                  const mimewalk_limits *lim, mimewalk_rc *rcp)
{
	struct out o = {NULL, 0, 0, -1};
	mimewalk_ops ops = {on_part, on_text, &o};
	mimewalk *w = mimewalk_new(&ops, lim ? lim : &biglim);
	mimewalk_rc rc = MIMEWALK_MORE;
	size_t off = 0;

	assert_non_null(w);
	out_put(&o, "", 0);
	if (ctype)
		mimewalk_header(w, "Content-Type", ctype);
	mimewalk_header(w, "Subject", "x");
	while (off < len && rc == MIMEWALK_MORE) {
		size_t n = chunk == 0   ? len
		           : chunk == 1 ? 1
		           : chunk == 2 ? (size_t)(1 + rand() % 700)
		                        : (size_t)chunk;

		if (n > len - off)
			n = len - off;
		rc = mimewalk_feed(w, (const unsigned char *)body + off, n);
		off += n;
	}
	if (rc == MIMEWALK_MORE)
		rc = mimewalk_end(w);
	if (rcp)
		*rcp = rc;
	assert_int_equal(mimewalk_raw_bytes(w), off);
	mimewalk_free(w);
	return o.p;
}

/* The same output in one chunk, byte by byte, in random chunks; returned. */
static char *walk_all(const char *ctype, const char *body)
{
	size_t len = strlen(body);
	char *one = walk(ctype, body, len, 0, NULL, NULL);

	for (int c = 1; c <= 3; c++) {
		char *other = walk(ctype, body, len, c == 3 ? 7 : c, NULL, NULL);

		if (strcmp(one, other) != 0)
			fail_msg("chunking %d changes the output:\n%s\n---\n%s", c, one, other);
		free(other);
	}
	return one;
}

static const char thunderbird[] = "This is a multi-part message in MIME format.\r\n"
                                  "--------------mixed01\r\n"
                                  "Content-Type: multipart/alternative;\r\n"
                                  " boundary=\"------------alt02\"\r\n"
                                  "\r\n"
                                  "--------------alt02\r\n"
                                  "Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
                                  "Content-Transfer-Encoding: quoted-printable\r\n"
                                  "\r\n"
                                  "Die Geh=C3=A4lter sind CONFI=\r\n"
                                  "DENTIAL.\r\n"
                                  "\r\n"
                                  "--------------alt02\r\n"
                                  "Content-Type: text/html; charset=UTF-8\r\n"
                                  "Content-Transfer-Encoding: base64\r\n"
                                  "\r\n"
                                  "PGh0bWw+PGJvZHk+PHA+U0VDUkVULUxJTkU8L3A+PC9ib2R5PjwvaHRtbD4=\r\n"
                                  "\r\n"
                                  "--------------alt02--\r\n"
                                  "\r\n"
                                  "--------------mixed01\r\n"
                                  "Content-Type: application/pdf;\r\n"
                                  " name=\"=?UTF-8?Q?Geh=c3=a4lts=c3=bcbersicht=2epdf?=\"\r\n"
                                  "Content-Disposition: attachment;\r\n"
                                  " filename*0*=UTF-8''%47%65%68%C3%A4%6C%74%73;\r\n"
                                  " filename*1*=%C3%BC%62%65%72%73%69%63%68%74%2E%70%64%66\r\n"
                                  "Content-Transfer-Encoding: base64\r\n"
                                  "\r\n"
                                  "JVBERi0xLjQKQ09ORklERU5USUFMCg==\r\n"
                                  "--------------mixed01\r\n"
                                  "Content-Type: message/rfc822\r\n"
                                  "\r\n"
                                  "Subject: fwd\r\n"
                                  "Content-Type: text/plain; charset=iso-8859-1\r\n"
                                  "Content-Transfer-Encoding: 8bit\r\n"
                                  "\r\n"
                                  "Gr\xfc\xdf"
                                  "e\r\n"
                                  "--------------mixed01--   \r\n"
                                  "epilogue text\r\n";

static void t_walk_thunderbird(void **st)
{
	char *o;

	(void)st;
	o = walk_all("multipart/mixed; boundary=\"------------mixed01\"", thunderbird);
	assert_string_equal(o, "{0 d0 multipart/mixed -}"
	                       "{1 d1 multipart/alternative -}"
	                       "{2 d2 text/plain - text}Die Gehälter sind CONFIDENTIAL.\r\n\r\n"
	                       "{3 d2 text/html - text}<html><body><p>SECRET-LINE</p></body>"
	                       "</html>\r\n"
	                       "{4 d1 application/pdf Gehältsübersicht.pdf}"
	                       "{5 d1 message/rfc822 -}"
	                       "{6 d2 text/plain - text}Grüße\r\n");
	free(o);
}

static void t_walk_outlook(void **st)
{
	static const char body[] = "--_000_AM0PR01MB_\r\n"
	                           "Content-Type: text/plain; charset=\"Windows-1252\"\r\n"
	                           "Content-Transfer-Encoding: quoted-printable\r\n"
	                           "\r\n"
	                           "Preis: 100 =80, Stra=DFe =\r\n"
	                           "\r\n"
	                           "--_000_AM0PR01MB_\r\n"
	                           "Content-Type: text/html; charset=\"us-ascii\"\r\n"
	                           "\r\n"
	                           "<p>plain</p>\r\n"
	                           "--_000_AM0PR01MB_--\r\n";
	char *o = walk_all("multipart/alternative;\r\n\tboundary=\"_000_AM0PR01MB_\"", body);

	(void)st;
	assert_string_equal(o, "{0 d0 multipart/alternative -}"
	                       "{1 d1 text/plain - text}Preis: 100 €, Straße \r\n"
	                       "{2 d1 text/html - text}<p>plain</p>\r\n");
	free(o);
}

static void t_walk_plain(void **st)
{
	char *o;

	(void)st;
	/* no Content-Type: text/plain; no closing boundary and no final CRLF lose nothing */
	o = walk_all(NULL, "line one\r\nSECRET-LINE");
	assert_string_equal(o, "{0 d0 text/plain - text}line one\r\nSECRET-LINE\r\n");
	free(o);
	o = walk_all("multipart/mixed; boundary=b", "--b\r\n\r\nfirst\r\n--b\r\n"
	                                            "Content-Transfer-Encoding: 8bit\r\n"
	                                            "\r\nraw =41 kept\r\n");
	assert_string_equal(o, "{0 d0 multipart/mixed -}{1 d1 text/plain - text}first\r\n"
	                       "{2 d1 text/plain - text}raw =41 kept\r\n");
	free(o);
	/* multipart without a boundary: read as text; a boundary prefix is not one */
	o = walk_all("multipart/mixed", "--b\r\nx\r\n");
	assert_string_equal(o, "{0 d0 multipart/mixed - text}--b\r\nx\r\n");
	free(o);
	o = walk_all("multipart/mixed; boundary=b", "--b\r\n\r\n--bc\r\n--b --\r\n--b--\r\n");
	assert_string_equal(o, "{0 d0 multipart/mixed -}{1 d1 text/plain - text}--bc\r\n--b --"
	                       "\r\n");
	free(o);
	/* QP: blanks at a line end are padding, also after a soft break's "=" */
	o = walk_all("multipart/mixed; boundary=b",
	             "--b\r\nContent-Transfer-Encoding: quoted-printable"
	             "\r\n\r\nCONFI= \r\nDENTIAL \t\r\nx=20\r\n--b--\r\n");
	assert_string_equal(o, "{0 d0 multipart/mixed -}{1 d1 text/plain - text}CONFIDENTIAL\r\n"
	                       "x \r\n");
	free(o);
	/* base64 that goes on after a padding "=" (two blocks in a row) */
	o = walk_all("multipart/mixed; boundary=b",
	             "--b\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	             "SGVsbG8=\r\nIHdvcmxk\r\nIQ\r\n--b--\r\n");
	assert_string_equal(o, "{0 d0 multipart/mixed -}{1 d1 text/plain - text}Hello world!\r\n");
	free(o);
	/* a multipart that is all headers, 4 levels deep: the stack grows under boundary() */
	o = walk_all("multipart/mixed; boundary=a",
	             "--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
	             "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n"
	             "--c\r\nContent-Type: multipart/mixed; boundary=d\r\n\r\n"
	             "--d\r\nContent-Type: multipart/mixed; boundary=e\r\n"
	             "--d\r\n\r\nafter\r\n--a--\r\n");
	assert_string_equal(o, "{0 d0 multipart/mixed -}{1 d1 multipart/mixed -}"
	                       "{2 d2 multipart/mixed -}{3 d3 multipart/mixed -}"
	                       "{4 d4 multipart/mixed -}{5 d4 text/plain - text}after\r\n");
	free(o);
	/* digest: parts without Content-Type are messages */
	o = walk_all("multipart/digest; boundary=d",
	             "--d\r\n\r\nSubject: a\r\n\r\ninner\r\n--d--\r\n");
	assert_string_equal(o, "{0 d0 multipart/digest -}{1 d1 message/rfc822 -}"
	                       "{2 d2 text/plain - text}inner\r\n");
	free(o);
}

/* The walk ends in rc, the output being want, for every chunking. */
static void walk_rc(const char *ctype, const char *body, size_t len, mimewalk_rc want,
                    const char *want_out)
{
	for (int c = 0; c <= 3; c++) {
		mimewalk_rc rc;
		char *o = walk(ctype, body, len, c == 3 ? 7 : c, NULL, &rc);

		if (rc != want || (want_out && strcmp(o, want_out) != 0))
			fail_msg("chunking %d: rc %d (want %d), output:\n%s", c, rc, want, o);
		free(o);
	}
}

/* What the walker cannot read as a client may is a limit, never skipped (attack8). */
static void t_walk_cannot_judge(void **st)
{
	char *b, *body = malloc(20000);
	const char *p;
	size_t n;

	(void)st;
	assert_non_null(body);
	/* 4: a boundary over BOUNDARY_MAX (200) */
	b = malloc(202);
	memset(b, 'x', 201);
	b[201] = '\0';
	n = snprintf(body, 20000, "multipart/mixed; boundary=\"%s\"", b);
	walk_rc(body, "--x\r\n", 5, MIMEWALK_LIMIT, NULL);
	b[200] = '\0';
	n = snprintf(body, 20000, "multipart/mixed; boundary=\"%s\"", b);
	p = strdup(body);
	n = snprintf(body, 20000, "--%s\r\n\r\nin\r\n--%s--\r\n", b, b);
	walk_rc(p, body, n, MIMEWALK_MORE,
	        "{0 d0 multipart/mixed -}{1 d1 text/plain - text}in\r\n");
	free((void *)p);
	free(b);
	/* 5: message/rfc822 and multipart in base64 or QP; 7bit is fine */
	p = "--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	    "U3ViamVjdDogeA0KDQpDT05GSURFTlRJQUwNCg==\r\n--b--\r\n";
	walk_rc("multipart/mixed; boundary=b", p, strlen(p), MIMEWALK_LIMIT, NULL);
	p = "--b\r\nContent-Type: message/global\r\nContent-Transfer-Encoding: QUOTED-PRINTABLE"
	    "\r\n\r\nSubject: x\r\n\r\nx\r\n--b--\r\n";
	walk_rc("multipart/mixed; boundary=b", p, strlen(p), MIMEWALK_LIMIT, NULL);
	p = "--b\r\nContent-Type: multipart/mixed; boundary=c\r\nContent-Transfer-Encoding: base64"
	    "\r\n\r\n--c--\r\n--b--\r\n";
	walk_rc("multipart/mixed; boundary=b", p, strlen(p), MIMEWALK_LIMIT, NULL);
	p = "--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
	    "Subject: x\r\n\r\nin\r\n--b--\r\n";
	walk_rc("multipart/mixed; boundary=b", p, strlen(p), MIMEWALK_MORE,
	        "{0 d0 multipart/mixed -}{1 d1 message/rfc822 -}{2 d2 text/plain - text}in\r\n");
	/* 8: a text part in x-uuencode or an unknown encoding */
	p = "--b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 a\r\n`\r\nend\r\n"
	    "--b--\r\n";
	walk_rc("multipart/mixed; boundary=b", p, strlen(p), MIMEWALK_LIMIT, NULL);
	p = "x\r\n";
	for (int c = 0; c <= 3; c++) {
		mimewalk_ops ops = {NULL, NULL, NULL};
		mimewalk *w = mimewalk_new(&ops, &biglim);

		assert_non_null(w);
		mimewalk_header(w, "Content-Transfer-Encoding", "x-token");
		assert_int_equal(mimewalk_feed(w, (const unsigned char *)p, 3), MIMEWALK_LIMIT);
		mimewalk_free(w);
	}
	/* an attachment in an unknown encoding is skipped as before */
	p = "--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: x-foo\r\n\r\nzz\r\n"
	    "--b--\r\n";
	walk_rc("multipart/mixed; boundary=b", p, strlen(p), MIMEWALK_MORE, NULL);
	/* 7: a part header of ours cut at 8 KB; a NUL in a part header */
	n = snprintf(body, 20000, "--b\r\nContent-Type: multipart/alternative; x=\"");
	memset(body + n, 'y', 9000);
	n += 9000;
	n += snprintf(body + n, 20000 - n,
	              "\";\r\n boundary=\"c\"\r\n\r\n--c\r\n\r\nhidden\r\n--c--\r\n--b--\r\n");
	walk_rc("multipart/mixed; boundary=b", body, n, MIMEWALK_LIMIT, NULL);
	memcpy(body + 6, "X-Other",
	       7); /* "Content-Type" -> "X-Otherat-Type": not ours, cut is fine */
	walk_rc("multipart/mixed; boundary=b", body, n, MIMEWALK_MORE, NULL);
	p = "--b\r\nContent-Type: text/plain; name=\"a\0b\"\r\n\r\nx\r\n--b--\r\n";
	walk_rc("multipart/mixed; boundary=b", p, 55, MIMEWALK_LIMIT, NULL);
	/* two different Content-Types (GMime reads the last) or encodings: a limit; equal: fine */
	p = "--b\r\nContent-Type: text/plain\r\nContent-Type: multipart/mixed; boundary=c\r\n"
	    "\r\n--c\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD\r\n--c--\r\n--b--\r\n";
	walk_rc("multipart/mixed; boundary=b", p, strlen(p), MIMEWALK_LIMIT, NULL);
	p = "--b\r\nContent-Transfer-Encoding: base64\r\nContent-transfer-encoding: 7bit\r\n"
	    "\r\nQUJD\r\n--b--\r\n";
	walk_rc("multipart/mixed; boundary=b", p, strlen(p), MIMEWALK_LIMIT, NULL);
	p = "--b\r\nContent-Type: text/plain\r\nContent-Type:  text/plain\r\n\r\nx\r\n--b--\r\n";
	walk_rc("multipart/mixed; boundary=b", p, strlen(p), MIMEWALK_MORE, NULL);
	for (int c = 0; c < 2; c++) {
		mimewalk_ops ops = {NULL, NULL, NULL};
		mimewalk *w = mimewalk_new(&ops, &biglim);

		assert_non_null(w);
		assert_int_equal(mimewalk_header(w, "Content-Type", "text/plain"), MIMEWALK_MORE);
		assert_int_equal(
		        mimewalk_header(w, "content-type", c ? " text/plain" : "text/html"),
		        c ? MIMEWALK_MORE : MIMEWALK_LIMIT);
		mimewalk_free(w);
	}
	free(body);
}

/* body: "--b", pad blanks, tail, then rest; its length */
static size_t padded(char *body, size_t pad, const char *tail, const char *rest)
{
	size_t n = snprintf(body, 40000, "--b\r\nContent-Type: image/png\r\n\r\nzz\r\n--b");

	memset(body + n, pad % 2 ? '\t' : ' ', pad);
	n += pad;
	return n + snprintf(body + n, 40000 - n, "%s%s", tail, rest);
}

/* 6: a boundary line with transport padding past MIMEWALK_LINE_MAX (attack8) */
static void t_walk_padding(void **st)
{
	char *body = malloc(40000);
	const char *rest = "Content-Type: text/plain\r\n\r\nthe CONFIDENTIAL figures\r\n--b--\r\n";
	const char *want = "{0 d0 multipart/mixed -}{1 d1 image/png -}"
	                   "{2 d1 text/plain - text}the CONFIDENTIAL figures\r\n";
	const char *mp = "multipart/mixed; boundary=b";
	size_t n;

	(void)st;
	assert_non_null(body);
	n = padded(body, 9000, "\r\n", rest);
	walk_rc(mp, body, n, MIMEWALK_MORE, want);
	n = padded(body, 30001, "\n", rest); /* several pieces, LF only, tabs */
	walk_rc(mp, body, n, MIMEWALK_MORE, want);
	/* the CR is the last byte of the first piece (8192 bytes) */
	n = padded(body, 8192 - 4, "\r\n", rest);
	assert_int_equal(body[36 + 8191], '\r');
	walk_rc(mp, body, n, MIMEWALK_MORE, want);
	n = padded(body, 8192 - 3, "\r\n", rest);
	walk_rc(mp, body, n, MIMEWALK_MORE, want);
	/* the close delimiter padded: the epilogue is skipped */
	n = padded(body, 0, "--", "");
	memset(body + n, ' ', 9000);
	n += 9000;
	n += snprintf(body + n, 40000 - n, "\r\nepilogue\r\n");
	walk_rc(mp, body, n, MIMEWALK_MORE, "{0 d0 multipart/mixed -}{1 d1 image/png -}");
	/* the last line, without a line end */
	n = padded(body, 9000, "", "");
	walk_rc(mp, body, n, MIMEWALK_MORE,
	        "{0 d0 multipart/mixed -}{1 d1 image/png -}{2 d1 text/plain - text}\r\n");
	/* something after the padding: the walker cannot judge */
	n = padded(body, 9000, "x\r\n", rest);
	walk_rc(mp, body, n, MIMEWALK_LIMIT, NULL);
	n = padded(body, 9000, "\r \r\n", rest);
	walk_rc(mp, body, n, MIMEWALK_LIMIT, NULL);
	/* not a boundary in the first 8 KB: a long line of the image, as before */
	n = padded(body, 9000, "\r\n", rest);
	body[36 + 100] = 'x';
	walk_rc(mp, body, n, MIMEWALK_MORE, "{0 d0 multipart/mixed -}{1 d1 image/png -}");
	free(body);
}

static int on_names(void *arg, const mimewalk_part *p)
{
	struct out *o = arg;

	if (p->nnames > 0)
		assert_ptr_equal(p->filename, p->names[0]);
	else
		assert_null(p->filename);
	assert_null(p->names ? p->names[p->nnames] : NULL);
	out_put(o, "{", 1);
	for (size_t i = 0; i < p->nnames; i++) {
		assert_int_equal(strlen(p->names[i]), strlen(p->names[i])); /* a C string */
		out_put(o, i ? "|" : "", i ? 1 : 0);
		out_put(o, p->names[i], strlen(p->names[i]));
	}
	out_put(o, "}", 1);
	return 0;
}

/* The names of the one part under a multipart, given its headers; rc in *rcp. */
static char *names_of(const char *hdrs, mimewalk_rc *rcp)
{
	struct out o = {NULL, 0, 0, -1};
	mimewalk_ops ops = {on_names, NULL, &o};
	mimewalk *w = mimewalk_new(&ops, &biglim);
	char body[4096];
	int n = snprintf(body, sizeof(body), "--b\r\n%s\r\n\r\nx\r\n--b--\r\n", hdrs);

	assert_non_null(w);
	out_put(&o, "", 0);
	mimewalk_header(w, "Content-Type", "multipart/mixed; boundary=b");
	*rcp = mimewalk_feed(w, (const unsigned char *)body, n);
	if (*rcp == MIMEWALK_MORE)
		*rcp = mimewalk_end(w);
	mimewalk_free(w);
	return o.p;
}

static void names_are(const char *hdrs, const char *want)
{
	mimewalk_rc rc;
	char *got = names_of(hdrs, &rc);

	assert_int_equal(rc, MIMEWALK_MORE);
	if (strcmp(got + 2, want) != 0) /* after the multipart's "{}" */
		fail_msg("names of [%s]: got %s, want %s", hdrs, got + 2, want);
	free(got);
}

/* 9: every name a client may show, each given, NUL bytes dropped (attack8) */
static void t_walk_names(void **st)
{
	char hdrs[2048], *got;
	size_t n = 0;
	mimewalk_rc rc;

	(void)st;
	names_are("Content-Disposition: attachment; filename=\"ok.pdf\"; "
	          "filename*=utf-8''secret.pdf",
	          "{secret.pdf|ok.pdf}");
	names_are("Content-Type: application/pdf; name=\"secret.pdf\"\r\n"
	          "Content-Disposition: attachment; filename=\"ok.pdf\"",
	          "{ok.pdf|secret.pdf}");
	names_are("Content-Type: application/pdf; name=\"a.pdf\"; name*=utf-8''b.pdf\r\n"
	          "Content-Disposition: attachment; filename=a.pdf; FILENAME*0*=utf-8''c; "
	          "filename*1*=.pdf",
	          "{c.pdf|a.pdf|b.pdf}");
	names_are("Content-Type: application/pdf; name=x\r\n", "{x}");
	names_are("Content-Type: application/pdf\r\n", "{}");
	/* NUL bytes, by RFC 2231 or RFC 2047, do not cut a name short */
	names_are("Content-Disposition: attachment; filename*=utf-8''%00secret.pdf",
	          "{secret.pdf}");
	names_are("Content-Disposition: attachment; filename*=\"utf-8''%00se%00cret.pdf\"",
	          "{secret.pdf}");
	names_are("Content-Disposition: attachment; filename*0*=utf-8''a; filename*1*=%00b",
	          "{ab}");
	names_are("Content-Disposition: attachment; filename=\"=?utf-8?q?=00secret.pdf?=\"",
	          "{secret.pdf}");
	names_are("Content-Type: application/pdf; name=\"=?utf-8?b?AHNlY3JldC5wZGY=?=\"",
	          "{secret.pdf}");
	/* a "%00" outside an RFC 2231 value is kept; the boundary is not touched */
	names_are("Content-Disposition: attachment; filename=\"100%00.txt\"", "{100%00.txt}");
	/* 16 distinct names are given, a 17th is a limit; duplicates count once */
	n = snprintf(hdrs, sizeof(hdrs), "Content-Disposition: attachment");
	for (int i = 0; i < 16; i++)
		n += snprintf(hdrs + n, sizeof(hdrs) - n, "; filename=n%d; filename=n%d", i, i);
	got = names_of(hdrs, &rc);
	assert_int_equal(rc, MIMEWALK_MORE);
	assert_non_null(strstr(got, "|n15}"));
	free(got);
	snprintf(hdrs + n, sizeof(hdrs) - n, "; filename=n16");
	got = names_of(hdrs, &rc);
	assert_int_equal(rc, MIMEWALK_LIMIT);
	free(got);
}

/* A keyword whose base64 is cut by a 64 KB chunk edge; a line over MIMEWALK_LINE_MAX. */
static void t_walk_chunk_edge(void **st)
{
	const char *kw = "CONFIDENTIAL-KEYWORD";
	size_t n = 200000, i;
	char *plain = malloc(n + 1), *b64, *body, *o;
	mimewalk_rc rc;

	(void)st;
	for (i = 0; i < n; i++)
		plain[i] = 'a' + i % 26;
	memcpy(plain + 47850, kw, strlen(kw)); /* its base64 spans offset 65536 */
	plain[n] = '\0';
	b64 = malloc(n * 2);
	body = malloc(n * 2 + 100);
	static const char tbl[] =
	        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t k = 0;
	for (i = 0; i + 3 <= n; i += 3) {
		unsigned v = (unsigned char)plain[i] << 16 | (unsigned char)plain[i + 1] << 8 |
		             (unsigned char)plain[i + 2];
		b64[k++] = tbl[v >> 18], b64[k++] = tbl[v >> 12 & 63];
		b64[k++] = tbl[v >> 6 & 63], b64[k++] = tbl[v & 63];
		if (i % 57 == 54)
			b64[k++] = '\r', b64[k++] = '\n';
	}
	b64[k] = '\0';
	plain[i] = '\0';
	snprintf(body, n * 2 + 100,
	         "--b\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--b--\r\n", b64);
	/* 42 header bytes, then lines of 76 base64 characters for 57 bytes, and CRLF */
	size_t at = 42 + 47850 / 57 * 78 + 47850 % 57 / 3 * 4;
	assert_true(at < 65536 && at + 28 > 65536);
	assert_memory_equal(body + at, "Q09ORklERU5USUFM", 16); /* "CONFIDENTIAL" */
	o = walk("multipart/mixed; boundary=b", body, strlen(body), 65536, NULL, &rc);
	assert_int_equal(rc, MIMEWALK_MORE);
	assert_non_null(strstr(o, kw));
	assert_non_null(strstr(o, plain));
	free(o);
	/* plain text in one 200 KB line, fed in 64 KB chunks: nothing lost */
	snprintf(body, n * 2 + 100, "%s", plain);
	o = walk(NULL, body, strlen(body), 65536, NULL, &rc);
	assert_int_equal(strlen(o), strlen("{0 d0 text/plain - text}") + strlen(plain) + 2);
	assert_non_null(strstr(o, plain));
	free(o);
	free(plain);
	free(b64);
	free(body);
}

/*
 * Multibyte charsets fed byte by byte, and split across base64 lines (the
 * iconv carry); unknown charsets and invalid bytes.
 */
static void t_walk_charsets(void **st)
{
	static const char body[] = "--b\r\nContent-Type: text/plain; charset=shift_jis\r\n\r\n"
	                           "\x83\x65\x83\x58\x83\x67\r\n"
	                           "--b\r\nContent-Type: text/plain; charset=koi8-r\r\n"
	                           "Content-Transfer-Encoding: base64\r\n\r\n08XL0sXU\r\n"
	                           "--b\r\nContent-Type: text/plain; charset=\"x-nonesuch\"\r\n\r\n"
	                           "a\xff\xfe\r\n"
	                           "--b\r\nContent-Type: text/plain; charset=utf-8\r\n"
	                           "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	                           "ok=FF=C3=\r\n=A4\r\n"
	                           "--b\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n\r\n"
	                           "\x1b$B%F%9%H\x1b(B\r\n"
	                           "--b\r\nContent-Type: text/plain; charset=euc-jp\r\n\r\n"
	                           "\xa5\xc6\xa5\xb9\xa5\xc8\xa4\r\n"
	                           "--b\r\nContent-Type: text/plain; charset=shift_jis\r\n"
	                           "Content-Transfer-Encoding: base64\r\n\r\n"
	                           "g2WD\r\nWINn\r\ngsyV\r\nto6a\r\nl/GC\r\nxYK3\r\n"
	                           "--b\r\nContent-Type: text/plain; charset=utf-16\r\n"
	                           "Content-Transfer-Encoding: base64\r\n\r\n"
	                           "//7G\r\nMLkw\r\nyDBu\r\nMIdl\r\nV1sX\r\nUmcw\r\nWTA=\r\n"
	                           "--b--\r\n";
	char *o = walk_all("multipart/mixed; boundary=b", body);

	(void)st;
	assert_string_equal(o, "{0 d0 multipart/mixed -}"
	                       "{1 d1 text/plain - text}テスト\r\n"
	                       "{2 d1 text/plain - text}секрет\r\n"
	                       "{3 d1 text/plain - text}a\xff\xfe\r\n"
	                       "{4 d1 text/plain - text}ok\xffä\r\n"
	                       "{5 d1 text/plain - text}テスト\r\n"
	                       "{6 d1 text/plain - text}テスト\xa4\r\n"
	                       "{7 d1 text/plain - text}テストの文字列です\r\n"
	                       "{8 d1 text/plain - text}テストの文字列です\r\n");
	free(o);
}

static void t_walk_limits(void **st)
{
	const char *body = "--b\r\n\r\n0123456789\r\n--b\r\n\r\nabcdef\r\n--b--\r\n";
	mimewalk_limits lim = {5, 16, 1000};
	mimewalk_rc rc;
	char *o;
	struct out so = {NULL, 0, 0, 1};
	mimewalk_ops ops = {on_part, on_text, &so};
	mimewalk *w;

	(void)st;
	o = walk("multipart/mixed; boundary=b", body, strlen(body), 1, &lim, &rc);
	assert_int_equal(rc, MIMEWALK_DONE);
	assert_string_equal(o, "{0 d0 multipart/mixed -}{1 d1 text/plain - text}01234");
	free(o);
	lim = (mimewalk_limits){1000, 16, 2};
	o = walk("multipart/mixed; boundary=b", body, strlen(body), 0, &lim, &rc);
	assert_int_equal(rc, MIMEWALK_LIMIT);
	assert_string_equal(o, "{0 d0 multipart/mixed -}{1 d1 text/plain - text}0123456789\r\n");
	free(o);
	/* depth: multipart in multipart in multipart, max_depth 2 */
	const char *deep = "--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
	                   "--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n"
	                   "--c\r\n\r\ndeep\r\n--c--\r\n--b--\r\n--a--\r\n";
	lim = (mimewalk_limits){1000, 2, 100};
	o = walk("multipart/mixed; boundary=a", deep, strlen(deep), 0, &lim, &rc);
	assert_int_equal(rc, MIMEWALK_LIMIT);
	free(o);
	lim.max_depth = 3;
	o = walk("multipart/mixed; boundary=a", deep, strlen(deep), 1, &lim, &rc);
	assert_int_equal(rc, MIMEWALK_MORE);
	assert_non_null(strstr(o, "{3 d3 text/plain - text}deep\r\n"));
	free(o);
	/* a callback stops; further calls give the same */
	w = mimewalk_new(&ops, &biglim);
	mimewalk_header(w, "content-type", "multipart/mixed; boundary=b");
	assert_int_equal(mimewalk_feed(w, (const unsigned char *)body, strlen(body)),
	                 MIMEWALK_STOP);
	assert_int_equal(mimewalk_feed(w, (const unsigned char *)"x", 1), MIMEWALK_STOP);
	assert_int_equal(mimewalk_end(w), MIMEWALK_STOP);
	mimewalk_free(w);
	free(so.p);
}

static int count_text(void *arg, const unsigned char *buf, size_t len)
{
	(void)buf;
	*(size_t *)arg += len;
	return 0;
}

/* 20 MB of base64 text, 2 MB lines without CRLF, 30-deep nesting: the heap stays small. */
static void t_walk_memory(void **st)
{
	size_t total = 0, peak = 0;
	mimewalk_ops ops = {NULL, count_text, &total};
	mimewalk_limits lim = {(size_t)1 << 40, 32, 100000};
	mimewalk *w;
	unsigned char *chunk = malloc(65536);
	struct mallinfo2 before = mallinfo2(), now;
	char hdr[256];

	(void)st;
	w = mimewalk_new(&ops, &lim);
	mimewalk_header(w, "Content-Type", "multipart/mixed; boundary=\"=_0\"");
	for (int d = 1; d < 30; d++) {
		snprintf(hdr, sizeof(hdr),
		         "--=_%d\r\nContent-Type: multipart/mixed; boundary=\"=_%d\"\r\n\r\n",
		         d - 1, d);
		assert_int_equal(mimewalk_feed(w, (const unsigned char *)hdr, strlen(hdr)),
		                 MIMEWALK_MORE);
	}
	snprintf(hdr, sizeof(hdr),
	         "--=_29\r\nContent-Transfer-Encoding: base64\r\n"
	         "Content-Type: text/plain; charset=iso-8859-1\r\n\r\n");
	mimewalk_feed(w, (const unsigned char *)hdr, strlen(hdr));
	for (size_t i = 0; i < 65536; i++)
		chunk[i] = i % 32 == 31 ? '\n' : "QUJD"[i % 4];
	for (int i = 0; i < 320; i++) {
		if (i == 200)
			memset(chunk, 'Q', 65536); /* from here on, one endless line */
		assert_int_equal(mimewalk_feed(w, chunk, 65536), MIMEWALK_MORE);
		now = mallinfo2();
		if (now.uordblks > before.uordblks && now.uordblks - before.uordblks > peak)
			peak = now.uordblks - before.uordblks;
	}
	assert_int_equal(mimewalk_end(w), MIMEWALK_MORE);
	assert_true(total > 14 * 1000 * 1000);
	print_message("peak heap %zu bytes for %zu decoded\n", peak, total);
	assert_true(peak < 128 * 1024);
	mimewalk_free(w);
	free(chunk);
}

/* GMime caches every charset name it is asked for: hostile names must not grow the heap. */
static void t_charset_names(void **st)
{
	struct mallinfo2 before, after;
	char buf[200], *r;
	mimehdr_ctype ct;
	size_t len;

	(void)st;
	/* warm up: caches of the names that are real */
	for (int i = 0; i < 2; i++) {
		r = mimehdr_decode("=?x-cs?Q?a?= =?iso-8859-1?q?a?=", &len);
		free(r);
	}
	before = mallinfo2();
	for (int i = 0; i < 100000; i++) {
		snprintf(buf, sizeof(buf), "=?x-cs%d?Q?abc?=", i);
		free(mimehdr_decode(buf, &len));
		snprintf(buf, sizeof(buf), "text/plain; charset*=x-cs%d''a; name*=x-n%d''%%41", i,
		         i);
		assert_int_equal(mimehdr_content_type(buf, &ct), 0);
		assert_string_equal(ct.name, "A");
		mimehdr_ctype_free(&ct);
		snprintf(buf, sizeof(buf), "attachment; filename*=x-f%d''%%41b", i);
		assert_int_equal(mimehdr_filename(buf, &r), 0);
		assert_string_equal(r, "Ab");
		free(r);
	}
	after = mallinfo2();
	print_message("heap growth %zd bytes over 300,000 charset names\n",
	              (ssize_t)(after.uordblks - before.uordblks));
	assert_true(after.uordblks < before.uordblks + 1024 * 1024);
}

static void *thread_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 300; i++) {
		size_t len;
		char *r = mimehdr_decode("=?iso-8859-1?Q?Geh=E4lts?= =?UTF-8?B?w7xiZXJzaWNodA==?=",
		                         &len);
		mimehdr_ctype ct;
		char *o;

		if (r == NULL || strcmp(r, "Gehältsübersicht") != 0)
			abort();
		free(r);
		if (mimehdr_content_type("text/plain; charset*=utf-8''x", &ct) != 0)
			abort();
		mimehdr_ctype_free(&ct);
		o = walk("multipart/mixed; boundary=\"------------mixed01\"", thunderbird,
		         sizeof(thunderbird) - 1, 0, NULL, NULL);
		if (strstr(o, "Grüße") == NULL || strstr(o, "CONFIDENTIAL") == NULL)
			abort();
		free(o);
	}
	return NULL;
}

static void t_threads(void **st)
{
	pthread_t t[4];

	(void)st;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, thread_main, NULL), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(t_decode),
	        cmocka_unit_test(t_decode_nul),
	        cmocka_unit_test(t_decode_linear),
	        cmocka_unit_test(t_encode),
	        cmocka_unit_test(t_ctype),
	        cmocka_unit_test(t_filename),
	        cmocka_unit_test(t_walk_thunderbird),
	        cmocka_unit_test(t_walk_outlook),
	        cmocka_unit_test(t_walk_plain),
	        cmocka_unit_test(t_walk_cannot_judge),
	        cmocka_unit_test(t_walk_padding),
	        cmocka_unit_test(t_walk_names),
	        cmocka_unit_test(t_walk_chunk_edge),
	        cmocka_unit_test(t_walk_charsets),
	        cmocka_unit_test(t_walk_limits),
	        cmocka_unit_test(t_walk_memory),
	        cmocka_unit_test(t_charset_names),
	        cmocka_unit_test(t_threads),
	};

	srand(1);
	if (mimehdr_init() != 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
