/*
 * NAME
 *	content.c - one message's content rules: headers decoded, the body part by part
 * SUMMARY
 *	content_new(), content_free(), content_wants_body(), content_header(),
 *	content_body(), content_end(), content_flagged(), content_decrypt(),
 *	content_raw_bytes(), content_text_bytes()
 * DESCRIPTION
 *	See content.h for what each rule kind sees. The walker's callbacks
 *	feed the scans: text goes to rules_scan_body() of the encryption scan
 *	(outbound) or the decrypt scan (inbound), file names to
 *	rules_scan_attachment(). A callback that has decided everything this
 *	message can be decided for asks the walker to stop, and the milter
 *	then tells the MTA it needs no more of the body.
 *
 *	Every limit ends the walk with a final rules_scan_body(NULL) call, so
 *	a pattern that needed to see the end of the scanned text ("\bSSN\b"
 *	on the last bytes) still matches.
 * DIAGNOSTICS
 *	None: the milter logs which rule matched; "mime limit" names the
 *	depth or part limit.
 */
#include <stdlib.h>
#include <string.h>

#include "content.h"
#include "mimehdr.h"
#include "mimewalk.h"

static const char mime_limit[] = "mime limit";
static const char scan_limit[] = "body_scan_limit";
static const char read_limit[] = "body_read_limit";

#define CONTENT_BATCH 16384 /* decoded text gathered before a scan */

struct content {
	content_config cfg;
	rules_scan *enc, *dec;
	int want_body, want_names; /* enc or dec has body patterns; enc has names */
	mimewalk *w;               /* NULL: decode off, or nothing to walk for */
	size_t raw;
	const char *flagged, *decrypt;
	int done;
	size_t nbatch; /* the walker gives text a line or less at a time: gathered here */
	unsigned char batch[CONTENT_BATCH];
};

/* Everything this message can be decided for is decided. */
static int decided(const content *ct)
{
	return (ct->enc == NULL || ct->flagged != NULL) && (ct->dec == NULL || ct->decrypt != NULL);
}

static int scan_text(content *ct, const unsigned char *buf, size_t len)
{
	const char *which;

	if (ct->enc != NULL && ct->flagged == NULL && rules_scan_body(ct->enc, buf, len, &which))
		ct->flagged = which;
	if (ct->dec != NULL && ct->decrypt == NULL && rules_scan_body(ct->dec, buf, len, &which))
		ct->decrypt = which;
	return decided(ct);
}

/* Scan what was gathered. */
static int flush(content *ct)
{
	size_t n = ct->nbatch;

	ct->nbatch = 0;
	return n > 0 ? scan_text(ct, ct->batch, n) : decided(ct);
}

static int on_text(void *arg, const unsigned char *buf, size_t len)
{
	content *ct = arg;

	if (ct->nbatch + len > sizeof(ct->batch) && flush(ct))
		return 1;
	if (len > sizeof(ct->batch))
		return scan_text(ct, buf, len);
	memcpy(ct->batch + ct->nbatch, buf, len);
	ct->nbatch += len;
	return 0;
}

/*
 * A byte limit ended the scan before the body did: outbound mail counts
 * as flagged (what was not scanned may hold anything); decryption asks
 * for nothing (no clear text leaves because of it).
 */
static void limit_reached(content *ct, const char *which)
{
	if (ct->enc != NULL && ct->flagged == NULL)
		ct->flagged = which;
}

static int on_part(void *arg, const mimewalk_part *p)
{
	content *ct = arg;
	const char *which;

	/* Every name a client may show: filename*, filename, name*, name. */
	for (size_t i = 0; ct->want_names && ct->flagged == NULL && i < p->nnames; i++)
		if (rules_scan_attachment(ct->enc, p->names[i], strlen(p->names[i]), &which))
			ct->flagged = which;
	return decided(ct);
}

content *content_new(const content_config *cfg, const rules *enc, const rules *dec)
{
	content *ct = calloc(1, sizeof(*ct));
	mimewalk_ops ops = {on_part, on_text, ct};
	mimewalk_limits lim = {cfg->scan_limit, cfg->max_depth, cfg->max_parts};

	if (ct == NULL)
		return NULL;
	ct->cfg = *cfg;
	if ((enc != NULL && (ct->enc = rules_scan_new(enc)) == NULL) ||
	    (dec != NULL && (ct->dec = rules_scan_new(dec)) == NULL))
		goto fail;
	ct->want_body =
	        (enc != NULL && rules_want_body(enc)) || (dec != NULL && rules_want_body(dec));
	ct->want_names = cfg->decode && enc != NULL && rules_want_attachments(enc);
	if (cfg->decode && (ct->want_body || ct->want_names) &&
	    (ct->w = mimewalk_new(&ops, &lim)) == NULL)
		goto fail;
	return ct;
fail:
	content_free(ct);
	return NULL;
}

void content_free(content *ct)
{
	if (ct == NULL)
		return;
	rules_scan_free(ct->enc);
	rules_scan_free(ct->dec);
	mimewalk_free(ct->w);
	free(ct);
}

int content_wants_body(const content *ct)
{
	return !ct->done && !decided(ct) && (ct->want_body || ct->want_names);
}

content_rc content_header(content *ct, const char *name, const char *raw, const char *decoded)
{
	char *own = NULL;
	const char *which;

	if (ct->enc != NULL && ct->flagged == NULL && strlen(raw) >= CONTENT_HEADER_CUT &&
	    rules_header_unjudged(ct->enc, name, &which))
		ct->flagged = which;
	if (ct->enc != NULL && ct->flagged == NULL) {
		if (decoded == NULL && (decoded = own = mimehdr_decode(raw, NULL)) == NULL)
			return CONTENT_NOMEM;
		if (rules_scan_header(ct->enc, name, decoded, &which))
			ct->flagged = which;
		free(own);
	}
	if (ct->w != NULL && !ct->done) {
		switch (mimewalk_header(ct->w, name, raw)) {
		case MIMEWALK_NOMEM:
			return CONTENT_NOMEM;
		case MIMEWALK_LIMIT:
			return CONTENT_DONE; /* content_body() says it, with the verdict */
		default:
			break;
		}
	}
	return CONTENT_MORE;
}

/* The walk or the scan is over: let the scans see the end of their text. */
static content_rc finish(content *ct)
{
	if (ct->done)
		return CONTENT_DONE;
	ct->done = 1;
	if (!flush(ct))
		(void)scan_text(ct, NULL, 0);
	return CONTENT_DONE;
}

static content_rc walked(content *ct, mimewalk_rc rc)
{
	switch (rc) {
	case MIMEWALK_MORE:
		return CONTENT_MORE;
	case MIMEWALK_NOMEM:
		return CONTENT_NOMEM;
	case MIMEWALK_LIMIT: /* the rest may hold anything: fail safe */
		if (ct->enc != NULL && ct->flagged == NULL)
			ct->flagged = mime_limit;
		if (ct->dec != NULL && ct->decrypt == NULL)
			ct->decrypt = mime_limit;
		return finish(ct);
	case MIMEWALK_DONE: /* body_scan_limit: scan what came, then count the limit */
		(void)finish(ct);
		limit_reached(ct, scan_limit);
		return CONTENT_DONE;
	case MIMEWALK_STOP:
		break;
	}
	return finish(ct);
}

/* Raw scanning (decode off): the scans stop by themselves at body_scan_limit. */
static content_rc raw_scan(content *ct, const unsigned char *chunk, size_t len, int last)
{
	int enc_over, dec_over;

	if (scan_text(ct, chunk, len))
		return finish(ct);
	enc_over = ct->enc != NULL && rules_scan_body_bytes(ct->enc) >= ct->cfg.scan_limit;
	dec_over = ct->dec != NULL && rules_scan_body_bytes(ct->dec) >= ct->cfg.scan_limit;
	if ((ct->enc == NULL || ct->flagged != NULL || enc_over) &&
	    (ct->dec == NULL || ct->decrypt != NULL || dec_over)) {
		(void)finish(ct);
		limit_reached(ct, scan_limit);
		return CONTENT_DONE;
	}
	if (enc_over) /* the decrypt scan goes on; the rest may hold anything */
		limit_reached(ct, scan_limit);
	if (last) {
		(void)finish(ct);
		limit_reached(ct, read_limit);
		return CONTENT_DONE;
	}
	return CONTENT_MORE;
}

content_rc content_body(content *ct, const unsigned char *chunk, size_t len)
{
	content_rc rc;
	int last = 0;

	if (ct->done || decided(ct))
		return finish(ct);
	if (!ct->want_body && !ct->want_names)
		return finish(ct);
	if (len >= ct->cfg.read_limit - ct->raw) { /* read_limit >= raw always */
		len = ct->cfg.read_limit - ct->raw;
		last = 1;
	}
	ct->raw += len;
	if (ct->w == NULL)
		return raw_scan(ct, chunk, len, last);
	if ((rc = walked(ct, mimewalk_feed(ct->w, chunk, len))) != CONTENT_MORE)
		return rc;
	if (!last)
		return flush(ct) ? finish(ct) : CONTENT_MORE; /* decide per chunk */
	/* body_read_limit: the body ends here for the walk, and counts as a limit */
	if ((rc = walked(ct, mimewalk_end(ct->w))) == CONTENT_NOMEM)
		return rc;
	(void)finish(ct);
	limit_reached(ct, read_limit);
	return CONTENT_DONE;
}

content_rc content_end(content *ct)
{
	if (ct->done || decided(ct))
		return CONTENT_DONE;
	if (ct->w != NULL && walked(ct, mimewalk_end(ct->w)) == CONTENT_NOMEM)
		return CONTENT_NOMEM;
	return finish(ct);
}

const char *content_flagged(const content *ct)
{
	return ct->flagged;
}

const char *content_decrypt(const content *ct)
{
	return ct->decrypt;
}

size_t content_raw_bytes(const content *ct)
{
	return ct->raw;
}

size_t content_text_bytes(const content *ct)
{
	if (ct->w != NULL)
		return mimewalk_text_bytes(ct->w);
	if (ct->enc != NULL || ct->dec != NULL)
		return rules_scan_body_bytes(ct->enc != NULL ? ct->enc : ct->dec);
	return 0;
}
