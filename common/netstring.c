/*
 * NAME
 *	netstring.c - netstring framing
 * SUMMARY
 *	See netstring.h.
 * DESCRIPTION
 *	The length is parsed overflow-safe against the caller's maximum, so a
 *	hostile "99999999999999999999:" is TOOLONG, never a wrap-around. At most
 *	one digit beyond what max needs is read before deciding.
 */
#include <string.h>

#include "netstring.h"

netstring_status netstring_parse(const char *buf, size_t len, size_t max, const char **data,
                                 size_t *dlen, size_t *used)
{
	size_t n = 0, i = 0;

	for (; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == ':')
			break;
		if (c < '0' || c > '9')
			return NETSTRING_BAD;
		if (i == 1 && buf[0] == '0')
			return NETSTRING_BAD; /* leading zero */
		if (n > max / 10 || (n *= 10) > max - (size_t)(c - '0'))
			return NETSTRING_TOOLONG;
		n += (size_t)(c - '0');
	}
	if (i == len)
		return NETSTRING_MORE;
	if (i == 0)
		return NETSTRING_BAD; /* ":" with no length */
	if (len - i - 1 < n + 1)
		return NETSTRING_MORE;
	if (buf[i + 1 + n] != ',')
		return NETSTRING_BAD;
	*data = buf + i + 1;
	*dlen = n;
	*used = i + 1 + n + 1;
	return NETSTRING_OK;
}

size_t netstring_format(char *out, size_t outlen, const char *data, size_t dlen)
{
	char digits[24];
	size_t nd = 0, v = dlen, total;

	do {
		digits[nd++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	total = nd + 1 + dlen + 1;
	if (total > outlen)
		return 0;
	for (size_t i = 0; i < nd; i++)
		out[i] = digits[nd - 1 - i];
	out[nd] = ':';
	memcpy(out + nd + 1, data, dlen);
	out[nd + 1 + dlen] = ',';
	return total;
}
