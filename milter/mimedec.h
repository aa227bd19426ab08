/*
 * NAME
 *	mimedec.h - streaming content decoder: base64 or quoted-printable,
 *	then charset to UTF-8
 * DESCRIPTION
 *	One mimedec per text part. Bytes go in as they come (any piece size);
 *	decoded UTF-8 comes out through the emit callback in pieces of at most
 *	MIMEDEC_OUT bytes. Base64 ignores whitespace and junk, and goes on
 *	after a padding "=" (two encoded blocks one after the other: GMime
 *	3.2.13's decoder stops there, its issue 133). Quoted-printable is
 *	GMime's g_mime_encoding_step(): it joins soft line breaks even when a
 *	piece ends inside one. The charset stage is iconv(3): an
 *	incomplete multibyte sequence at the end of a piece is carried to the
 *	next one; an invalid byte is passed through as it is; an unknown
 *	charset (or UTF-8, US-ASCII) passes everything through. Memory: the
 *	struct itself (about 3 * MIMEDEC_OUT) plus iconv's state.
 *
 *	mimedec_utf8() converts a whole buffer the same way (header words).
 */
#ifndef MILTER_MIMEDEC_H
#define MILTER_MIMEDEC_H

#include <iconv.h>
#include <stddef.h>

#include <gmime/gmime.h>

#include "mimehdr.h"

#define MIMEDEC_OUT 4096

/* Non-zero: stop; mimedec_step() and mimedec_flush() then return it. */
typedef int (*mimedec_emit)(void *arg, const unsigned char *buf, size_t len);

/* Base64, streaming; padding ends a quantum, and decoding goes on after it. */
typedef struct {
	unsigned acc;
	int n;
} mimedec_b64;

/* At most len bytes to out. */
size_t mimedec_b64_step(mimedec_b64 *s, const unsigned char *in, size_t len, unsigned char *out);
/* At most 2 bytes to out: what a quantum cut short still holds. */
size_t mimedec_b64_flush(mimedec_b64 *s, unsigned char *out);

typedef struct {
	GMimeEncoding enc; /* quoted-printable */
	mimedec_b64 b64;
	mimehdr_cte cte;
	iconv_t cd;              /* (iconv_t)-1: pass through */
	unsigned char carry[16]; /* an incomplete multibyte sequence */
	size_t ncarry;
	unsigned char dec[MIMEDEC_OUT]; /* transfer-decoded bytes */
	unsigned char out[MIMEDEC_OUT]; /* UTF-8 to emit */
} mimedec;

/* iconv to UTF-8 from charset, or (iconv_t)-1 (unknown, or UTF-8 itself). */
iconv_t mimedec_iconv_open(const char *charset);

/* 1 when iconv can convert from charset (or it is UTF-8 or US-ASCII), else 0. */
int mimedec_known(const char *charset);

void mimedec_init(mimedec *d, mimehdr_cte cte, const char *charset);
void mimedec_fini(mimedec *d);
int mimedec_step(mimedec *d, const unsigned char *in, size_t len, mimedec_emit emit, void *arg);
/* The end of the part: the decoder's last bytes and any carried bytes. */
int mimedec_flush(mimedec *d, mimedec_emit emit, void *arg);

/*
 * in converted from charset to UTF-8 into a malloc()ed buffer (*out, *outlen,
 * NUL terminated), invalid bytes passed through. 0; 1 when the charset is
 * unknown (nothing allocated); -1 when out of memory.
 */
int mimedec_utf8(const char *charset, const unsigned char *in, size_t len, char **out,
                 size_t *outlen);

#endif /* MILTER_MIMEDEC_H */
