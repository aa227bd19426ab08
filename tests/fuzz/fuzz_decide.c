/*
 * NAME
 *	fuzz_decide - libFuzzer target for the decision core of both daemons
 * DESCRIPTION
 *	The input is a session as an MTA could describe it: up to ten fields
 *	separated by newlines, in this order: client address, client name,
 *	sender, TLS protocol, key size, digest 1, digest 2, flags (a byte:
 *	bit 0 verified certificate, bit 1 authenticated, bit 2 internal, bit 3
 *	exempt_internal, bit 4 exempt_authenticated, bit 5 digest 1 is NULL),
 *	and a recipient address. Each field goes to tlsmaps_decide_inbound(),
 *	the recipient to tlsmaps_decide_recipient(), on a small fixed table with
 *	every inbound level and routed forms.
 *
 *	Besides the sanitizers, these properties abort the run:
 *	- the verdict is one of the three, and its name is not NULL;
 *	- PASS with an entry, or REFUSE, names a valid entry; REFUSE and ERROR
 *	  come with a non-empty, printable reason (it is logged as it is);
 *	- a recipient status is one of the three; FORCED names a valid entry of
 *	  encrypt or stronger; ERROR has a non-empty printable reason;
 *	- the decisions are deterministic: asked twice, the same answer.
 * SEE ALSO
 *	tests/fuzz/README.md, tlsmaps.h (tlsmaps_decide_inbound)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tlsmaps.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_decide: check failed at %s:%d: %s\n", __FILE__,      \
			        __LINE__, #cond);                                                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static const char table_text[] =
        "bank.test\n"
        ".bank.test verify\n"
        "legacy.bank.test may\n"
        "xn--bcher-kva.test encrypt min_bits=256\n"
        "partner.test fingerprint match=01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF|"
        "0123456789abcdef0123456789abcdef\n"
        "secure.test secure direction=in\n"
        "198.51.100.0/24 encrypt direction=in\n"
        "2001:db8::/32 verify direction=in\n"
        "203.0.113.* dane direction=in\n"
        "[relay.test]:2525 encrypt\n"
        "[192.0.2.7] encrypt\n"
        "out.test encrypt direction=out\n";

static const tlsmaps_table *table(void)
{
	static tlsmaps_table *t;

	if (t == NULL) {
		tlsmaps_builder *b = tlsmaps_builder_new(NULL);

		CHECK(b != NULL);
		tlsmaps_builder_add_buffer(b, "fuzz.table", table_text, sizeof(table_text) - 1);
		t = tlsmaps_builder_finish(b, NULL);
		CHECK(t != NULL);
	}
	return t;
}

static int printable(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return 0;
	return 1;
}

static void check_inbound(const tlsmaps_table *t, const tlsmaps_session *s,
                          const tlsmaps_inbound_options *o)
{
	tlsmaps_inbound_result r, again;
	tlsmaps_verdict v = tlsmaps_decide_inbound(t, s, o, &r);

	CHECK(v == TLSMAPS_VERDICT_PASS || v == TLSMAPS_VERDICT_REFUSE ||
	      v == TLSMAPS_VERDICT_ERROR);
	CHECK(r.verdict == v);
	CHECK(tlsmaps_verdict_name(v) != NULL);
	if (v == TLSMAPS_VERDICT_REFUSE)
		CHECK(r.id != TLSMAPS_NO_ID);
	if (r.id != TLSMAPS_NO_ID)
		CHECK(r.id < tlsmaps_table_count(t));
	if (v != TLSMAPS_VERDICT_PASS)
		CHECK(printable(r.reason));
	CHECK(tlsmaps_decide_inbound(t, s, o, &again) == v && again.id == r.id);
}

static void check_recipient(const tlsmaps_table *t, const char *rcpt, size_t len)
{
	tlsmaps_rcpt_result r, again;
	tlsmaps_rcpt_status st = tlsmaps_decide_recipient(t, rcpt, len, &r);

	CHECK(st == TLSMAPS_RCPT_FORCED || st == TLSMAPS_RCPT_NOT_FORCED ||
	      st == TLSMAPS_RCPT_ERROR);
	if (st == TLSMAPS_RCPT_FORCED) {
		CHECK(r.id < tlsmaps_table_count(t));
		CHECK(tlsmaps_level_mandatory(tlsmaps_entry_level(t, r.id)));
	}
	if (st == TLSMAPS_RCPT_ERROR)
		CHECK(printable(r.reason));
	CHECK(tlsmaps_decide_recipient(t, rcpt, len, &again) == st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const tlsmaps_table *t = table();
	char *copy = malloc(size + 1), *field[10] = {0}, *p;
	size_t nfields = 0, rlen;
	tlsmaps_session s;
	tlsmaps_inbound_options o;
	unsigned flags;

	CHECK(copy != NULL);
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (p = copy; nfields < 10; nfields++) {
		field[nfields] = p;
		if ((p = strchr(p, '\n')) == NULL) {
			nfields++;
			break;
		}
		*p++ = '\0';
	}
	memset(&s, 0, sizeof(s));
	s.client_address = field[0];
	s.client_name = field[1];
	s.sender = field[2];
	s.tls_protocol = field[3];
	s.key_size = field[4];
	flags = field[7] != NULL ? (unsigned char)field[7][0] : 0;
	s.digests[0] = flags & 32 ? NULL : field[5];
	s.digests[1] = field[6];
	s.cert_verified = flags & 1;
	s.authenticated = (flags >> 1) & 1;
	s.internal = (flags >> 2) & 1;
	tlsmaps_inbound_options_init(&o);
	o.exempt_internal = (flags >> 3) & 1;
	o.exempt_authenticated = (flags >> 4) & 1;
	check_inbound(t, &s, &o);
	check_inbound(t, &s, NULL);
	/* The recipient: the 9th field, or the whole input (NULs included). */
	if (field[8] != NULL) {
		rlen = strlen(field[8]);
		check_recipient(t, field[8], rlen);
	}
	check_recipient(t, (const char *)data, size);
	free(copy);
	return 0;
}
