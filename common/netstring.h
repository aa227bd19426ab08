/*
 * NAME
 *	netstring.h - netstring framing (D. J. Bernstein), as Postfix's socketmap speaks it
 * DESCRIPTION
 *	A netstring is "LEN:DATA," with LEN in decimal, no leading zeros but
 *	"0", no sign or spaces. netstring_parse() frames one from the start of a
 *	buffer without copying; netstring_format() writes one.
 */
#ifndef FORCETLS_NETSTRING_H
#define FORCETLS_NETSTRING_H

#include <stddef.h>

typedef enum {
	NETSTRING_OK = 0,  /* *data, *dlen, *used set */
	NETSTRING_MORE,    /* incomplete: read more */
	NETSTRING_BAD,     /* malformed: the stream cannot be resynchronised */
	NETSTRING_TOOLONG, /* declared length above max */
} netstring_status;

netstring_status netstring_parse(const char *buf, size_t len, size_t max, const char **data,
                                 size_t *dlen, size_t *used);

/* Writes "LEN:DATA," into out; returns its length, or 0 if outlen is too small. */
size_t netstring_format(char *out, size_t outlen, const char *data, size_t dlen);

#endif
