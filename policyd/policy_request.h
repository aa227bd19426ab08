/*
 * NAME
 *	policy_request.h - one Postfix policy delegation request, parsed
 */
#ifndef POLICYD_POLICY_REQUEST_H
#define POLICYD_POLICY_REQUEST_H

#include <stddef.h>

typedef struct {
	const char *request, *protocol_state, *queue_id;
	const char *client_address, *client_name, *sender;
	const char *encryption_protocol, *encryption_keysize;
	const char *ccert_subject, *ccert_fingerprint, *ccert_pubkey_fingerprint;
	const char *sasl_username; /* authenticated clients (inbound exemption) */
} policy_request;

/*
 * Frame and parse one request from buf: 1 with r filled (pointers into
 * copy, which needs the request's length + 1 bytes), 0 when incomplete,
 * -1 when malformed. *used is the request's length when 1 or -1.
 */
int delegation_parse(const char *buf, size_t len, char *copy, size_t copylen, policy_request *r,
                     size_t *used);

#endif
