/*
 * NAME
 *	tlsmaps_idn.c - international domain names to their A-label form
 * SUMMARY
 *	inside the library: tm_name_to_alabel(), tm_has_non_ascii();
 *	tlsmaps_name_ulabel() (tlsmaps.h), the way back for static maps
 * DESCRIPTION
 *	The one place where forcetls converts a name: tm_name_norm() (table
 *	keys, lookup keys, envelope domains) calls it for any name with a byte
 *	>= 0x80. libidn2 (Debian libidn2-dev), IDNA2008 with UTS #46 mapping,
 *	non-transitional (as browsers and Postfix's smtputf8 support do):
 *	"Bücher.example" is "xn--bcher-kva.example", "straße.example" is
 *	"xn--strae-oqa.example". A name that does not convert (not UTF-8, a
 *	disallowed code point) is an error, never a name that matches nothing.
 *	tlsmaps_name_ulabel() turns a normalized key back into its U-label
 *	form, which Postfix looks up for a UTF-8 address (smtputf8_enable).
 * DIAGNOSTICS
 *	The reason goes into why, with libidn2's message; bytes escaped.
 */
#include <stdio.h>
#include <string.h>

#include <idn2.h>

#include "tlsmaps_int.h"

int tm_has_non_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 1;
	return 0;
}

int tm_name_to_alabel(const char *s, size_t len, char *out, size_t outlen, size_t *alen, char *why,
                      size_t whylen)
{
	char in[TLSMAPS_KEY_MAX * 4 + 1], *a = NULL, q[64];
	int rc;

	if (len >= sizeof(in) || memchr(s, '\0', len) != NULL) {
		tm_why(why, whylen, "international domain name too long or with a NUL byte");
		return -1;
	}
	memcpy(in, s, len);
	in[len] = '\0';
	rc = idn2_to_ascii_8z(in, &a, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
	if (rc != IDN2_OK) {
		tm_why(why, whylen, "bad international domain name %s: %s",
		       tm_quote(s, len, q, sizeof(q)), idn2_strerror(rc));
		return -1;
	}
	*alen = strlen(a);
	if (*alen >= outlen) {
		tm_why(why, whylen, "domain name longer than %d characters", TLSMAPS_NAME_MAX);
		idn2_free(a);
		return -1;
	}
	memcpy(out, a, *alen + 1);
	idn2_free(a);
	return 0;
}

int tlsmaps_name_ulabel(const char *key, char *out, size_t outlen)
{
	const char *name = key[0] == '.' ? key + 1 : key;
	char *u = NULL;
	int n;

	if (strstr(key, "xn--") == NULL) /* normalized: lowercase */
		return 0;
	if (idn2_to_unicode_8z8z(name, &u, 0) != IDN2_OK)
		return -1;
	n = snprintf(out, outlen, "%s%s", name == key ? "" : ".", u);
	idn2_free(u);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return strcmp(out, key) != 0;
}
