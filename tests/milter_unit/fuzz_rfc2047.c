/*
 * NAME
 *	fuzz_rfc2047 - libFuzzer target for the header decoders of milter/mimehdr.c
 * DESCRIPTION
 *	The input (NUL bytes cut it, as in a C string) goes to
 *	mimehdr_decode(), mimehdr_content_type() (then mimehdr_encrypted()),
 *	mimehdr_filename() and mimehdr_transfer_encoding(); and, when it is
 *	valid UTF-8, its decoded value too.
 *	Properties, besides the sanitizers:
 *	- mimehdr_decode() never fails (no NULL: not out of memory here);
 *	- for valid UTF-8 x: mimehdr_encode(x) holds no CR or LF, is x itself
 *	  when x is printable ASCII without blanks at its ends and without
 *	  "=?", and mimehdr_decode(mimehdr_encode(x)) == x;
 *	- the Content-Type fields are lower case where the contract says so,
 *	  type and subtype never empty.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "mimehdr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_rfc2047: %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static int is_lower(const char *s)
{
	for (; s && *s; s++)
		if (isupper((unsigned char)*s))
			return 0;
	return 1;
}

static int plain(const char *s)
{
	size_t n = strlen(s);

	if (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < ' ' || s[i] > '~')
			return 0;
	return strstr(s, "=?") == NULL;
}

static void roundtrip(const char *x)
{
	char *e, *back;
	size_t len;

	e = mimehdr_encode(x);
	CHECK(e != NULL);
	CHECK(strpbrk(e, "\r\n") == NULL);
	if (plain(x))
		CHECK(strcmp(e, x) == 0);
	back = mimehdr_decode(e, &len);
	CHECK(back != NULL);
	if (len != strlen(x) || memcmp(back, x, len) != 0) {
		fprintf(stderr, "fuzz_rfc2047: [%s] -> [%s] -> [%s]\n", x, e, back);
		abort();
	}
	free(back);
	free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	char *s, *d, *name;
	size_t len;
	mimehdr_ctype ct;

	if (!init)
		init = mimehdr_init() == 0 ? 1 : (abort(), 0);
	if ((s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	d = mimehdr_decode(s, &len);
	CHECK(d != NULL);
	CHECK(d[len] == '\0');
	CHECK(mimehdr_content_type(s, &ct) == 0);
	CHECK(ct.type[0] && ct.subtype[0] && is_lower(ct.type) && is_lower(ct.subtype));
	CHECK(is_lower(ct.protocol) && is_lower(ct.smime_type));
	(void)mimehdr_encrypted(&ct);
	mimehdr_ctype_free(&ct);
	CHECK(mimehdr_filename(s, &name) == 0);
	free(name);
	(void)mimehdr_transfer_encoding(s);
	if (g_utf8_validate(s, -1, NULL))
		roundtrip(s);
	if (strlen(d) == len && g_utf8_validate(d, -1, NULL))
		roundtrip(d);
	free(d);
	free(s);
	return 0;
}
