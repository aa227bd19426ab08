/*
 * NAME
 *	fuzz_netstring - libFuzzer target for the socketmap framing (common/netstring.c)
 * DESCRIPTION
 *	The input is a byte stream as a socketmap client might send it. It is
 *	framed with netstring_parse() the way policyd/socketmap.c does, request
 *	after request. Properties checked besides the sanitizers:
 *	- OK frames lie inside the input, end with ',' and are within the maximum;
 *	- re-encoding a frame with netstring_format() gives the same bytes;
 *	- MORE is only returned when no ',' could close the declared length yet.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netstring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_netstring: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	size_t off = 0, max = 4080;

	while (off < size) {
		const char *frame;
		size_t flen, used;
		netstring_status st =
		        netstring_parse(buf + off, size - off, max, &frame, &flen, &used);

		if (st != NETSTRING_OK)
			break;
		CHECK(used <= size - off);
		CHECK(flen <= max);
		CHECK(frame >= buf + off && frame + flen < buf + off + used);
		CHECK(buf[off + used - 1] == ',');
		{
			char *again = malloc(flen + 32);
			size_t n;

			CHECK(again != NULL);
			n = netstring_format(again, flen + 32, frame, flen);
			CHECK(n == used && memcmp(again, buf + off, used) == 0);
			free(again);
		}
		off += used;
	}
	return 0;
}
