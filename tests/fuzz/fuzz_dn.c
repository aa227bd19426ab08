/*
 * NAME
 *	fuzz_dn - libFuzzer target for inbound certificate names
 * DESCRIPTION
 *	The input is up to four fields separated by newlines: a certificate
 *	subject (a Sendmail DN, or a CN as Postfix reports it), a match= list,
 *	a client name and the name that found the entry (empty: none). The
 *	subject goes to tlsmaps_dn_cn() with a roomy and a tight CN buffer;
 *	the subject, and the CN taken from it, go to the name matcher
 *	(tm_certname_match) against the list.
 *
 *	Besides the sanitizers, these properties abort the run:
 *	- tlsmaps_dn_cn() returns 0 with a non-empty CN shorter than the
 *	  buffer that holds no "/CN=" and no NUL, or -1 with an empty CN and
 *	  a non-empty, printable reason; a tight buffer never gives a CN the
 *	  roomy one does not, and one it gives is the same;
 *	- a DN is one CN exactly: "/CN=" + a text without '/', '+' and NUL
 *	  gives that text back;
 *	- the matcher answers 0 or 1, the same when asked twice, the same for
 *	  the CN in upper case and with a trailing dot added; a CN with a
 *	  byte outside printable ASCII never matches; an empty list or an
 *	  empty CN never matches.
 * SEE ALSO
 *	tests/fuzz/README.md, tlsmaps.h (tlsmaps_dn_cn), tlsmaps_certname.c
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsmaps_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_dn: check failed at %s:%d: %s\n", __FILE__,          \
			        __LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define FIELD_MAX 1024

static int printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

/* Field i (0..3) of the input into out, NUL-terminated; *len counts NUL bytes in it too. */
static void field(const uint8_t *data, size_t size, int i, char *out, size_t *len)
{
	size_t start = 0, n = 0;

	for (int f = 0; f < i && start <= size; f++) {
		const uint8_t *nl = start < size ? memchr(data + start, '\n', size - start) : NULL;

		start = nl != NULL ? (size_t)(nl - data) + 1 : size + 1;
	}
	while (start + n < size && data[start + n] != '\n' && n < FIELD_MAX - 1)
		n++;
	if (start <= size)
		memcpy(out, data + start, n);
	out[n] = '\0';
	*len = n;
}

static void check_match(const char *cn, const char *list, const tm_names *names)
{
	char alt[FIELD_MAX + 2];
	size_t len = strlen(cn), llen = strlen(list);
	int m = tm_certname_match(cn, list, llen, names);

	CHECK(m == 0 || m == 1);
	CHECK(tm_certname_match(cn, list, llen, names) == m);
	if (!printable(cn) || len == 0 || llen == 0)
		CHECK(m == 0);
	for (size_t i = 0; i <= len; i++)
		alt[i] = (char)toupper((unsigned char)cn[i]);
	CHECK(tm_certname_match(alt, list, llen, names) == m);
	if (len > 0 && cn[len - 1] != '.') {
		memcpy(alt, cn, len);
		memcpy(alt + len, ".", 2);
		CHECK(tm_certname_match(alt, list, llen, names) == m);
	}
}

static void check_dn(const char *dn, size_t len)
{
	char cn[256], tight[8], why[TLSMAPS_WHY_MAX];
	int rc, rt;

	memset(why, 0, sizeof(why));
	rc = tlsmaps_dn_cn(dn, len, cn, sizeof(cn), why, sizeof(why));
	CHECK(rc == 0 || rc == -1);
	if (rc == 0) {
		CHECK(cn[0] != '\0' && strlen(cn) < sizeof(cn));
		CHECK(strstr(cn, "/CN=") == NULL);
	} else {
		CHECK(cn[0] == '\0');
		CHECK(why[0] != '\0' && printable(why));
	}
	rt = tlsmaps_dn_cn(dn, len, tight, sizeof(tight), NULL, 0);
	CHECK(rt == 0 || rt == -1);
	if (rt == 0)
		CHECK(rc == 0 && strcmp(tight, cn) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char subj[FIELD_MAX], list[FIELD_MAX], host[FIELD_MAX], nexthop[FIELD_MAX];
	char cn[256], one[FIELD_MAX + 4];
	size_t slen, llen, hlen, nlen;
	tm_names names;

	field(data, size, 0, subj, &slen);
	field(data, size, 1, list, &llen);
	field(data, size, 2, host, &hlen);
	field(data, size, 3, nexthop, &nlen);
	names.hostname = hlen > 0 ? host : NULL;
	names.nexthop = nlen > 0 ? nexthop : NULL;

	check_dn(subj, slen);
	check_match(subj, list, &names);
	if (tlsmaps_dn_cn(subj, slen, cn, sizeof(cn), NULL, 0) == 0)
		check_match(cn, list, &names);

	/* "/CN=" + a plain text is that text. */
	if (slen > 0 && slen == strlen(subj) && slen < sizeof(cn) && strpbrk(subj, "/+") == NULL) {
		memcpy(one, "/CN=", 4);
		memcpy(one + 4, subj, slen + 1);
		CHECK(tlsmaps_dn_cn(one, slen + 4, cn, sizeof(cn), NULL, 0) == 0);
		CHECK(strcmp(cn, subj) == 0);
	}
	return 0;
}
