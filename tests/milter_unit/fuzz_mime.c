/*
 * NAME
 *	fuzz_mime - libFuzzer target for the streaming MIME walker (milter/mimewalk.c)
 * DESCRIPTION
 *	Input: byte 0 chooses the limits (bit 0: small ones) and seeds the
 *	chunk sizes; the first line after it (up to LF, at most 300 bytes) is
 *	the message's Content-Type; the rest is the body. The body is walked
 *	in one chunk, then in chunks of pseudo-random sizes (1 to 300 bytes,
 *	or up to 20,000), then byte by byte.
 *	Properties, besides the sanitizers:
 *	- the output (part records and text, in order) and the return codes
 *	  are the same for every chunking;
 *	- the text given never passes max_text, and equals
 *	  mimewalk_text_bytes(); a part index never reaches max_parts, a
 *	  depth never passes max_depth.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mimehdr.h"
#include "mimewalk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_mime: %s:%d: %s\n", __FILE__, __LINE__, #cond);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

struct out {
	unsigned char *p;
	size_t len, cap, text;
	const mimewalk_limits *lim;
};

static void put(struct out *o, const void *s, size_t n)
{
	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2 + 256;
		o->p = realloc(o->p, o->cap);
		CHECK(o->p != NULL);
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static int on_part(void *arg, const mimewalk_part *p)
{
	struct out *o = arg;
	char b[256];
	int n;

	CHECK(p->index < o->lim->max_parts);
	CHECK(p->depth <= o->lim->max_depth);
	CHECK(p->type && p->subtype);
	n = snprintf(b, sizeof(b), "{%u %u %s/%s %d ", p->index, p->depth, p->type, p->subtype,
	             p->text);
	put(o, b, n);
	CHECK(p->nnames <= MIMEWALK_NAMES_MAX);
	CHECK(p->nnames ? p->filename == p->names[0] : p->filename == NULL);
	for (size_t i = 0; i < p->nnames; i++) {
		CHECK(p->names[i] != NULL);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(p->names[i], p->names[j]) != 0);
		put(o, "|", 1);
		put(o, p->names[i], strlen(p->names[i]));
	}
	put(o, "}", 1);
	return 0;
}

static int on_text(void *arg, const unsigned char *buf, size_t len)
{
	struct out *o = arg;

	CHECK(len > 0);
	o->text += len;
	put(o, buf, len);
	return 0;
}

static mimewalk_rc walk(const char *ctype, const uint8_t *body, size_t len, int mode, unsigned seed,
                        const mimewalk_limits *lim, struct out *o)
{
	mimewalk_ops ops = {on_part, on_text, o};
	mimewalk *w = mimewalk_new(&ops, lim);
	mimewalk_rc rc;
	size_t off = 0;

	CHECK(w != NULL);
	o->lim = lim;
	rc = mimewalk_header(w, "Content-Type", ctype);
	while (off < len && rc == MIMEWALK_MORE) {
		size_t n;

		seed = seed * 1103515245 + 12345;
		n = mode == 0   ? len
		    : mode == 1 ? 1 + (seed >> 16) % 300
		    : mode == 2 ? 1 + (seed >> 8) % 20000
		                : 1;
		if (n > len - off)
			n = len - off;
		rc = mimewalk_feed(w, body + off, n);
		off += n;
	}
	if (rc == MIMEWALK_MORE)
		rc = mimewalk_end(w);
	CHECK(mimewalk_text_bytes(w) == o->text);
	CHECK(o->text <= lim->max_text);
	mimewalk_free(w);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const mimewalk_limits big = {1 << 20, 16, 1000}, small = {300, 3, 8};
	static int init;
	char ctype[301];
	const uint8_t *nl;
	const mimewalk_limits *lim;
	struct out ref = {0}, o;
	mimewalk_rc rc0, rc;
	unsigned seed;
	size_t n;

	if (!init)
		init = mimehdr_init() == 0 ? 1 : (abort(), 0);
	if (size < 1)
		return 0;
	lim = data[0] & 1 ? &small : &big;
	seed = data[0];
	data++, size--;
	nl = memchr(data, '\n', size < 301 ? size : 301);
	n = nl ? (size_t)(nl - data) : 0;
	memcpy(ctype, data, n);
	ctype[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (ctype[i] == '\0')
			ctype[i] = ' ';
	if (nl)
		data += n + 1, size -= n + 1;
	rc0 = walk(ctype, data, size, 0, 0, lim, &ref);
	for (int mode = 1; mode <= 3; mode++) {
		if (mode == 3 && size > 4096)
			break;
		memset(&o, 0, sizeof(o));
		rc = walk(ctype, data, size, mode, seed ^ (unsigned)size, lim, &o);
		if (rc != rc0 || o.len != ref.len || (o.len && memcmp(o.p, ref.p, o.len))) {
			fprintf(stderr, "fuzz_mime: mode %d: rc %d/%d, len %zu/%zu\n", mode, rc,
			        rc0, o.len, ref.len);
			abort();
		}
		free(o.p);
	}
	free(ref.p);
	return 0;
}
