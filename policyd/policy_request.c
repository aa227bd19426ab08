/*
 * NAME
 *	policy_request.c - parse one Postfix policy delegation request
 * SUMMARY
 *	delegation_parse()
 * DESCRIPTION
 *	A request is "name=value" lines ending with an empty line
 *	(SMTPD_POLICY_README). Lines end with LF, as Postfix sends them, or
 *	CRLF (a client written by hand, a test tool): "name=value\r\n" lines
 *	and a "\r\n" empty line end a request too, and the CR is not part of
 *	the value. The attributes forcetls uses are picked out
 *	into a policy_request; the others are ignored, as the protocol asks.
 *	A line without "=", an empty name, a NUL byte, a request that is not
 *	request=smtpd_access_policy, one without client_address (Postfix's
 *	smtpd always sends it), or one of the attributes used given twice
 *	(two client_address lines: no copy can be trusted) makes the request
 *	malformed.
 *
 *	Pure and allocation-free, so that tests/fuzz/fuzz_policy.c can drive it.
 */
#include <stddef.h>
#include <string.h>

#include "policy_request.h"

typedef struct {
	const char *name;
	size_t len;
	size_t offset;
} attr_slot;

/* Lengths first: most of Postfix's ~30 attributes are not ours (bench/policyd). */
/* clang-format off */
#define SLOT(f) {#f, sizeof(#f) - 1, offsetof(policy_request, f)}
static const attr_slot slots[] = {
	SLOT(request),		   SLOT(protocol_state),	SLOT(queue_id),
	SLOT(client_address),	   SLOT(client_name),		SLOT(sender),
	SLOT(encryption_protocol), SLOT(encryption_keysize),	SLOT(ccert_subject),
	SLOT(ccert_fingerprint),   SLOT(ccert_pubkey_fingerprint),
	SLOT(sasl_username),
};
/* clang-format on */

/* An empty line at line start p: "\n" or "\r\n" before end. */
static int empty_line(const char *p, const char *end)
{
	return (p < end && p[0] == '\n') || (end - p >= 2 && p[0] == '\r' && p[1] == '\n');
}

/* The LF of the empty line that ends the request, or NULL. */
static const char *request_end(const char *buf, size_t len)
{
	const char *end = buf + len;

	for (const char *p = buf;; p++) { /* p: the start of a line */
		if (empty_line(p, end))
			return p[0] == '\n' ? p : p + 1;
		if ((p = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return NULL;
	}
}

int delegation_parse(const char *buf, size_t len, char *copy, size_t copylen, policy_request *r,
                     size_t *used)
{
	const char *end = request_end(buf, len);
	size_t rlen;
	char *line, *next;

	if (end == NULL)
		return 0;
	rlen = (size_t)(end - buf) + 1;
	*used = rlen;
	memset(r, 0, sizeof(*r));
	if (rlen + 1 > copylen || memchr(buf, '\0', rlen) != NULL)
		return -1;
	memcpy(copy, buf, rlen);
	copy[rlen] = '\0';
	/* One memchr for the end of each line and one for its '=': no strlen-style scans. */
	for (line = copy; !empty_line(line, copy + rlen); line = next) {
		char *nl = memchr(line, '\n', (size_t)(copy + rlen - line)), *eq;
		size_t n;

		next = nl + 1; /* found: the request ends with an empty line */
		*nl = '\0';
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		if ((eq = memchr(line, '=', (size_t)(nl - line))) == NULL || eq == line)
			return -1;
		*eq = '\0';
		n = (size_t)(eq - line);
		for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
			if (slots[i].len == n && memcmp(line, slots[i].name, n) == 0) {
				const char **v = (const char **)((char *)r + slots[i].offset);

				if (*v != NULL) /* which copy would Postfix mean? */
					return -1;
				*v = eq + 1;
				break;
			}
	}
	if (r->request == NULL || strcmp(r->request, "smtpd_access_policy") != 0 ||
	    r->client_address == NULL)
		return -1;
	return 1;
}
