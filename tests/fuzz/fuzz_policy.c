/*
 * NAME
 *	fuzz_policy - libFuzzer target for policy delegation requests (policyd/policy_request.c)
 * DESCRIPTION
 *	The input is a byte stream as a policy client might send it; requests
 *	are framed and parsed one after another with delegation_parse(), as
 *	policyd/delegation.c does. Properties checked besides the sanitizers:
 *	- a parsed request names request=smtpd_access_policy;
 *	- every attribute pointer it fills points into the copy buffer;
 *	- *used never passes the input, and progress is always made.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_policy: %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void in_copy(const char *p, const char *copy, size_t len)
{
	if (p != NULL)
		CHECK(p >= copy && p < copy + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char copy[16385];
	const char *buf = (const char *)data;
	size_t off = 0;

	while (off < size) {
		policy_request r;
		size_t used = 0;
		int rc = delegation_parse(buf + off, size - off, copy, sizeof(copy), &r, &used);

		if (rc == 0)
			break;
		CHECK(used > 0 && used <= size - off);
		if (rc == 1) {
			CHECK(r.request != NULL && strcmp(r.request, "smtpd_access_policy") == 0);
			in_copy(r.client_address, copy, sizeof(copy));
			in_copy(r.client_name, copy, sizeof(copy));
			in_copy(r.sender, copy, sizeof(copy));
			in_copy(r.queue_id, copy, sizeof(copy));
			in_copy(r.encryption_protocol, copy, sizeof(copy));
			in_copy(r.encryption_keysize, copy, sizeof(copy));
			in_copy(r.ccert_subject, copy, sizeof(copy));
			in_copy(r.ccert_fingerprint, copy, sizeof(copy));
		}
		off += used;
	}
	return 0;
}
