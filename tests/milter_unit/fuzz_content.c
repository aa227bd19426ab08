/*
 * NAME
 *	fuzz_content - libFuzzer target for one message's content rules and
 *	decryption detection (milter/content.c, with mimehdr.c and mimewalk.c)
 * DESCRIPTION
 *	What forcetls-milter does with a message's content, as mlfi.c calls it:
 *	every header to content_header() (decoded with mimehdr_decode(), or
 *	left for content.c to decode), the first Content-Type to
 *	mimehdr_content_type() and mimehdr_encrypted() (the inbound decryption
 *	trigger), the body in chunks to content_body(), then content_end().
 *	Input: byte 0 chooses the configuration (bit 0: decode off; bit 1:
 *	small limits; bit 2: headers passed undecoded) and seeds the chunk
 *	sizes; then the header section up to the first empty line ("Name:
 *	value" lines, folded lines start with a blank), then the body.
 *	The rules are fixed and bounded in length, so that a match never
 *	needs more carry than rules.c keeps.
 *	Properties, besides the sanitizers:
 *	- whether the message is flagged for encryption, and whether it asks
 *	  for decryption, are the same for the body in one chunk, in chunks of
 *	  pseudo-random sizes and byte by byte;
 *	- raw bytes read never pass body_read_limit, scanned text never passes
 *	  body_scan_limit;
 *	- a body that was cut by either limit is flagged (fail safe);
 *	- content_wants_body() is 0 once content_body() or content_end()
 *	  answered CONTENT_DONE.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "content.h"
#include "mimehdr.h"
#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_content: %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define MAX_HEADERS 64

static const char *const enc_headers[] = {"Subject: confidential", "X-Class: ^secret$"};
static const char *const enc_body[] = {"\\bSSN \\d{3}-\\d{2}-\\d{4}\\b", "^CONFIDENTIAL$"};
static const char *const enc_names[] = {"\\.(docx|xlsx)$"};
static const char *const dec_body[] = {"-----BEGIN PGP MESSAGE-----"};

static rules *enc_rules[2], *dec_rules[2];

static const content_config configs[2] = {
        {.decode = 1,
         .scan_limit = 1 << 20,
         .read_limit = 1 << 22,
         .max_depth = 10,
         .max_parts = 100},
        {.decode = 1, .scan_limit = 300, .read_limit = 2000, .max_depth = 3, .max_parts = 5},
};

static void init(void)
{
	char why[256];

	CHECK(mimehdr_init() == 0);
	for (int i = 0; i < 2; i++) {
		size_t limit = configs[i].scan_limit;
		rules_config e = {.subject_tag = "^\\s*\\[(encrypt|secure)\\]",
		                  .header_patterns = enc_headers,
		                  .nheader_patterns = 2,
		                  .body_patterns = enc_body,
		                  .nbody_patterns = 2,
		                  .body_scan_limit = limit,
		                  .attachment_patterns = enc_names,
		                  .nattachment_patterns = 1};
		rules_config d = {
		        .body_patterns = dec_body, .nbody_patterns = 1, .body_scan_limit = limit};

		enc_rules[i] = rules_new(&e, why, sizeof(why));
		CHECK(enc_rules[i] != NULL);
		dec_rules[i] = rules_new(&d, why, sizeof(why));
		CHECK(dec_rules[i] != NULL);
	}
}

typedef struct {
	char *name[MAX_HEADERS], *value[MAX_HEADERS];
	size_t n;
} headers;

/* Split "Name: value" lines (folded lines joined with their CRLF kept); the body's offset. */
static size_t parse_headers(const uint8_t *p, size_t len, headers *h)
{
	size_t i = 0;

	h->n = 0;
	while (i < len) {
		size_t start = i, colon = 0, end;

		if (p[i] == '\n' || (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n'))
			return i + (p[i] == '\r' ? 2 : 1);
		for (end = i; end < len; end++)
			if (p[end] == '\n' &&
			    (end + 1 >= len || (p[end + 1] != ' ' && p[end + 1] != '\t')))
				break;
		i = end < len ? end + 1 : len;
		while (colon < end - start && p[start + colon] != ':')
			colon++;
		if (colon == end - start || h->n == MAX_HEADERS)
			continue;
		h->name[h->n] = strndup((const char *)p + start, colon);
		h->value[h->n] =
		        strndup((const char *)p + start + colon + 1, end - start - colon - 1);
		CHECK(h->name[h->n] != NULL && h->value[h->n] != NULL);
		h->n++;
	}
	return len;
}

typedef struct {
	int flagged, decrypt, done;
	size_t raw, text;
	const char *flagged_by;
} verdict;

/* One run over the message; chunk 0: the body in one piece, 1: by a PRNG, 2: byte by byte. */
static verdict run(int small, int decode, int undecoded, const headers *h, const uint8_t *body,
                   size_t blen, int chunking, unsigned seed)
{
	content_config cfg = configs[small];
	content *ct;
	verdict v = {0};
	content_rc rc = CONTENT_MORE;
	int ctype_seen = 0;

	cfg.decode = decode;
	ct = content_new(&cfg, enc_rules[small], dec_rules[small]);
	CHECK(ct != NULL);
	for (size_t i = 0; i < h->n && rc != CONTENT_NOMEM; i++) {
		char *decoded = undecoded ? NULL : mimehdr_decode(h->value[i], NULL);

		CHECK(undecoded || decoded != NULL);
		rc = content_header(ct, h->name[i], h->value[i], decoded);
		free(decoded);
		if (!ctype_seen && strcasecmp(h->name[i], "Content-Type") == 0) {
			mimehdr_ctype t;

			ctype_seen = 1;
			CHECK(mimehdr_content_type(h->value[i], &t) == 0);
			v.decrypt |= mimehdr_encrypted(&t);
			mimehdr_ctype_free(&t);
		}
	}
	CHECK(rc != CONTENT_NOMEM);
	rc = CONTENT_MORE;
	for (size_t off = 0; off < blen && rc == CONTENT_MORE && content_wants_body(ct);) {
		size_t n = chunking == 0 ? blen - off : chunking == 2 ? 1 : 1 + (seed % 700);

		seed = seed * 1103515245u + 12345u;
		if (n > blen - off)
			n = blen - off;
		rc = content_body(ct, body + off, n);
		off += n;
	}
	CHECK(rc != CONTENT_NOMEM);
	if (rc == CONTENT_MORE)
		CHECK(content_end(ct) == CONTENT_DONE);
	CHECK(!content_wants_body(ct));
	v.flagged = content_flagged(ct) != NULL;
	v.flagged_by = content_flagged(ct);
	v.decrypt |= content_decrypt(ct) != NULL;
	v.raw = content_raw_bytes(ct);
	v.text = content_text_bytes(ct);
	CHECK(v.raw <= cfg.read_limit);
	CHECK(v.text <= cfg.scan_limit);
	content_free(ct);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	headers h;
	size_t boff;
	int small, decode, undecoded;
	verdict v[3];

	if (!ready) {
		init();
		ready = 1;
	}
	if (size < 1)
		return 0;
	small = (data[0] >> 1) & 1;
	decode = !(data[0] & 1);
	undecoded = (data[0] >> 2) & 1;
	boff = 1 + parse_headers(data + 1, size - 1, &h);
	for (int c = 0; c < 3; c++)
		v[c] = run(small, decode, undecoded, &h, data + boff, size - boff, c, data[0]);
	if (getenv("FUZZ_CONTENT_DEBUG"))
		for (int c = 0; c < 3; c++)
			fprintf(stderr, "chunking %d: flagged=%s decrypt=%d raw=%zu text=%zu\n", c,
			        v[c].flagged_by ? v[c].flagged_by : "-", v[c].decrypt, v[c].raw,
			        v[c].text);
	for (int c = 1; c < 3; c++) {
		CHECK(v[c].flagged == v[0].flagged);
		CHECK(v[c].decrypt == v[0].decrypt);
	}
	for (int c = 0; c < 3; c++)
		if (v[c].raw == configs[small].read_limit && size - boff > v[c].raw)
			CHECK(v[c].flagged); /* cut by body_read_limit: fail safe */
	for (size_t i = 0; i < h.n; i++) {
		free(h.name[i]);
		free(h.value[i]);
	}
	return 0;
}
