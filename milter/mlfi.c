/*
 * NAME
 *	mlfi.c - forcetls-milter's libmilter callbacks
 * SUMMARY
 *	mlfi_descriptor()
 *	mlfi_answer_data(on)
 * DESCRIPTION
 *	Thin callbacks: they gather facts from the MTA into a per-connection
 *	context (cctx, mlfi_int.h) and a per-message state (msg_state), and
 *	carry out the actions decide.c returns. The envelope stage (connect,
 *	MAIL, RCPT) is envelope.c; its questions (inbound TLS, forced
 *	recipients) are answered by libtlsmaps's decision core, the one
 *	forcetls-policyd uses too. Every other decision is in decide.c.
 *
 *	Stages (negotiated in mlfi_negotiate, only what the configuration
 *	needs): connect (client address and name, direction, snapshot), MAIL
 *	(the snapshot current now, authentication, TLS macros, inbound enforcement, listed senders),
 *	RCPT (forced and always-encrypt recipient domains), headers, body
 *	(only when body or decrypt patterns exist; skipped once decided), end
 *	of message (actions, one log line). Connect, headers, EOH and RCPT
 *	need no reply; HELO and unknown commands are not sent, nor is DATA but
 *	on TCP.
 *
 *	DATA on a TCP socket (mlfi_answer_data(1), set by main.c for inet:
 *	sockets) is asked for and answered, although the filter has nothing to
 *	say there: it carries the TCP ACK. Postfix's smtpd buffers the commands
 *	that need no reply and flushes them when it passes the connection to
 *	cleanup(8); cleanup's first packet then waits (Nagle, on Postfix's
 *	socket, which has no TCP_NODELAY) for the ACK of that one, which our
 *	side delays by about 40 ms because it has nothing to send. One round
 *	trip instead of one stall per message; see bench/milter/RESULTS.md.
 *
 *	Macros are asked for with smfi_setsymlist: {auth_authen}, {tls_version},
 *	{cipher_bits}, {cert_subject}, {verify}, {cert_md5}, {cert_fp} at MAIL,
 *	and the queue ID i at RCPT and end of message, so the MTA needs no milter_*_macros settings
 *for them.
 *
 *	Failure paths answer temporary (SMFIS_TEMPFAIL): the MTA keeps the mail.
 *	At a stage negotiated without a reply the failure is kept instead
 *	(defer_at, mlfi_int.h), and end of message answers it.
 * DIAGNOSTICS
 *	One line per decision, "QUEUEID: direction=... tls=... (why) ...", and
 *	one per inbound rejection naming the table entry.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "decide.h"
#include "log.h"
#include "mmetrics.h"
#include "mlfi.h"
#include "mimehdr.h"
#include "mlfi_int.h"
#include "stats.h"

static int answer_data; /* DATA with a reply: set once, before smfi_main() */

void mlfi_answer_data(int on)
{
	answer_data = on;
}

void mlfi_message_reset(cctx *c)
{
	free(c->m);
	c->m = NULL;
	content_free(c->content);
	c->content = NULL;
	free(c->sender);
	c->sender = NULL;
	c->nnames = 0;
	free(c->subject);
	c->subject = NULL;
	msgcopy_free(c->copy);
	c->copy = NULL;
	c->failed = 0;
}

static unsigned name_index(cctx *c, const char *name)
{
	for (size_t i = 0; i < c->nnames; i++)
		if (strcasecmp(c->names[i].name, name) == 0)
			return ++c->names[i].count;
	if (c->nnames == NAME_COUNT_MAX)
		return 0;
	snprintf(c->names[c->nnames].name, sizeof(c->names[0].name), "%s", name);
	c->names[c->nnames].count = 1;
	c->nnames++;
	return 1;
}

/* The counters a content verdict feeds besides flagged/decrypt. */
static void count_which(const char *which)
{
	if (rules_which_is_error(which))
		stats_add(STAT_MATCH_ERRORS);
	else if (strcmp(which, "mime limit") == 0)
		stats_add(STAT_MIME_LIMITS);
	else if (strcmp(which, "body_scan_limit") == 0 || strcmp(which, "body_read_limit") == 0)
		stats_add(STAT_SCAN_LIMITS);
}

/* What the content rules found so far goes into the message state (once). */
static void note_content(cctx *c)
{
	const char *which;

	if (c->content == NULL)
		return;
	if (!c->m->flagged && (which = content_flagged(c->content)) != NULL) {
		c->m->flagged = 1;
		snprintf(c->m->flagged_by, sizeof(c->m->flagged_by), "%s", which);
		stats_add(STAT_FLAGGED);
		count_which(which);
	}
	if (!c->m->decrypt && (which = content_decrypt(c->content)) != NULL) {
		c->m->decrypt = 1;
		snprintf(c->m->decrypt_by, sizeof(c->m->decrypt_by), "%s%s",
		         strcmp(which, "mime limit") == 0 ? "" : "decrypt_", which);
		stats_add(STAT_DECRYPT);
		count_which(which);
	}
}

/* The first Subject of outbound mail, decoded: the tag is matched and stripped there. */
static void subject_tag(cctx *c, const char *decoded, size_t len, size_t raw_len)
{
	size_t start, end;

	if (c->subject == NULL && (c->subject = strdup(decoded)) == NULL)
		c->failed = FAILED_NOMEM;
	if (raw_len >= CONTENT_HEADER_CUT && rules_want_subject(c->snap->rules)) {
		c->m->flagged = 1; /* the tag may be in what the MTA cut off (content.h) */
		snprintf(c->m->flagged_by, sizeof(c->m->flagged_by),
		         "subject_tag (match error: the MTA may have cut the header)");
		stats_add(STAT_FLAGGED);
		stats_add(STAT_MATCH_ERRORS);
		return;
	}
	if (rules_subject_tag(c->snap->rules, decoded, len, &start, &end)) {
		c->m->flagged = c->m->subject_tagged = 1;
		c->m->subject_tag_start = start;
		c->m->subject_tag_end = end;
		snprintf(c->m->flagged_by, sizeof(c->m->flagged_by), "subject_tag");
		stats_add(STAT_FLAGGED);
		if (start == end)
			stats_add(STAT_MATCH_ERRORS);
	}
}

/* Inbound: does the message's Content-Type announce encrypted content? */
static void content_type_decrypt(cctx *c, const char *value)
{
	mimehdr_ctype ct;

	if (mimehdr_content_type(value, &ct) < 0) {
		c->failed = FAILED_NOMEM;
		return;
	}
	if (mimehdr_encrypted(&ct)) {
		c->m->decrypt = 1;
		snprintf(c->m->decrypt_by, sizeof(c->m->decrypt_by), "Content-Type");
	}
	mimehdr_ctype_free(&ct);
}

static sfsistat mlfi_header(SMFICTX *ctx, char *name, char *value)
{
	cctx *c = get(ctx);
	hdr_kind kind;
	char *decoded = NULL;
	size_t len = 0;

	if (c == NULL || c->m == NULL)
		return defer_at(c, SMFIP_NR_HDR);
	if (c->copy != NULL)
		(void)msgcopy_header(c->copy, name, value); /* a failed copy defers if needed */
	kind = decide_header_kind(&c->snap->dc, name);
	if (kind != H_OTHER)
		msg_note_header(c->m, kind, name, name_index(c, name), value);
	if (c->m->dir == DIR_OUTBOUND && !c->m->flagged && rules_want_headers(c->snap->rules)) {
		if ((decoded = mimehdr_decode(value, &len)) == NULL)
			c->failed = FAILED_NOMEM;
		else if (kind == H_SUBJECT && c->m->nseen[H_SUBJECT] == 1)
			subject_tag(c, decoded, len, strlen(value));
	}
	if (c->content != NULL && !c->failed &&
	    content_header(c->content, name, value, decoded) == CONTENT_NOMEM)
		c->failed = FAILED_NOMEM;
	free(decoded);
	note_content(c);
	if (c->m->dir == DIR_INBOUND && !c->m->decrypt && kind == H_CONTENT_TYPE &&
	    c->m->nseen[H_CONTENT_TYPE] == 1)
		content_type_decrypt(c, value);
	return go_on(c, SMFIP_NR_HDR);
}

/*
 * End of headers, asked for without a reply although the filter has nothing
 * to do there: Sendmail sends a message with no header line (its first line
 * starts with a space) as DATA then body, and libmilter goes from DATA to the
 * body only through headers or EOH; without EOH it ignored the rest of the
 * message and Sendmail waited for its timeout (tests/e2e/t-spoof-sendmail.sh).
 */
static sfsistat mlfi_eoh(SMFICTX *ctx)
{
	return go_on(get(ctx), SMFIP_NR_EOH);
}

/* Only negotiated on TCP (see the top of this file): the reply is the point. */
static sfsistat mlfi_data(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat mlfi_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	cctx *c = get(ctx);
	content_rc rc = CONTENT_DONE;
	int keep = 0; /* relay mode: the whole body goes into the copy */

	if (c == NULL || c->m == NULL) { /* a failure at MAIL: the first answered stage */
		if (c != NULL && c->failed == FAILED_STALE)
			(void)smfi_setreply(ctx, "451", "4.3.0", STALE_REPLY);
		return SMFIS_TEMPFAIL;
	}
	if (c->copy != NULL)
		keep = msgcopy_body(c->copy, chunk, len) == 0;
	if (c->failed || c->content == NULL || !content_wants_body(c->content) ||
	    (c->m->dir == DIR_OUTBOUND ? c->m->flagged : c->m->decrypt))
		return keep ? SMFIS_CONTINUE : SMFIS_SKIP;
	rc = content_body(c->content, chunk, len);
	note_content(c);
	if (rc == CONTENT_NOMEM)
		c->failed = FAILED_NOMEM; /* end of message defers */
	return rc == CONTENT_MORE || keep ? SMFIS_CONTINUE : SMFIS_SKIP;
}

/* The body has ended: a body pattern that needed to see its end may match now. */
static void body_end(cctx *c)
{
	if (c->content != NULL && content_end(c->content) == CONTENT_NOMEM)
		c->failed = FAILED_NOMEM;
	note_content(c);
}

/*
 * The Subject without its tag, from the whole value (the state keeps a
 * truncated copy); NULL when out of memory.
 */
char *mlfi_subject_stripped(const cctx *c)
{
	const char *s = c->subject, *tail;
	size_t len = strlen(s), head = c->m->subject_tag_start;
	char *v, *enc;

	if (c->m->subject_tag_end > len || head > c->m->subject_tag_end)
		return mimehdr_encode(s);
	for (tail = s + c->m->subject_tag_end; *tail == ' ' || *tail == '\t'; tail++)
		;
	if ((v = malloc(head + strlen(tail) + 1)) == NULL)
		return NULL;
	memcpy(v, s, head);
	strcpy(v + head, tail);
	enc = mimehdr_encode(v); /* the decoded text, written back valid */
	free(v);
	return enc;
}

/* Carry out one action; MI_SUCCESS or MI_FAILURE, *rc set by reply actions. */
static int apply(SMFICTX *ctx, cctx *c, const action *a, sfsistat *rc)
{
	int r = MI_SUCCESS;
	char *v = NULL;

	switch (a->kind) {
	case ACT_DELETE:
		for (unsigned k = 0;
		     k < (a->span > 1 ? a->span : 1) && r == MI_SUCCESS && a->index > k; k++)
			r = smfi_chgheader(ctx, (char *)a->name, (int)(a->index - k), NULL);
		break;
	case ACT_INSERT_FIRST:
		r = smfi_insheader(ctx, (int)a->index, (char *)a->name, (char *)a->value);
		break;
	case ACT_ADD:
		r = smfi_addheader(ctx, (char *)a->name, (char *)a->value);
		break;
	case ACT_CHANGE:
		if (c->subject != NULL && strcasecmp(a->name, "Subject") == 0 &&
		    (v = mlfi_subject_stripped(c)) == NULL)
			r = MI_FAILURE;
		else
			r = smfi_chgheader(ctx, (char *)a->name, (int)a->index,
			                   v ? v : (char *)a->value);
		free(v);
		break;
	case ACT_QUARANTINE:
		r = smfi_quarantine(ctx, (char *)a->value);
		break;
	case ACT_REJECT:
		smfi_setreply(ctx, "550", "5.7.1", (char *)a->value);
		*rc = SMFIS_REJECT;
		break;
	case ACT_TEMPFAIL:
		smfi_setreply(ctx, "451", "4.7.0", (char *)a->value);
		*rc = SMFIS_TEMPFAIL;
		break;
	}
	return r;
}

/* Out of memory at or before end of message: 451 4.3.0 (a bare TEMPFAIL if even that fails). */
static sfsistat defer_oom(SMFICTX *ctx)
{
	(void)smfi_setreply(ctx, "451", "4.3.0",
	                    "Out of memory in forcetls-milter; try again later");
	return SMFIS_TEMPFAIL;
}

static sfsistat mlfi_eom(SMFICTX *ctx)
{
	static const char *const what[] = {
	        [ACT_DELETE] = "delete",
	        [ACT_INSERT_FIRST] = "insert",
	        [ACT_ADD] = "add",
	        [ACT_CHANGE] = "change",
	        [ACT_QUARANTINE] = "quarantine",
	        [ACT_REJECT] = "reject",
	        [ACT_TEMPFAIL] = "tempfail",
	};
	cctx *c = get(ctx);
	decision *d;
	sfsistat rc = SMFIS_ACCEPT;
	const char *qid = queue_id(ctx);

	if (c != NULL && c->failed == FAILED_STALE) {
		stats_add(STAT_DEFERRED); /* logged at MAIL */
		mlfi_message_reset(c);
		(void)smfi_setreply(ctx, "451", "4.3.0", STALE_REPLY);
		return SMFIS_TEMPFAIL;
	}
	if (c == NULL || c->m == NULL || c->failed) {
		log_warnx("%s: out of memory earlier in this message; deferring", qid);
		stats_add(STAT_DEFERRED);
		if (c != NULL)
			mlfi_message_reset(c);
		return defer_oom(ctx);
	}
	body_end(c);
	if ((d = malloc(sizeof(*d))) == NULL) {
		log_warnx("%s: out of memory; deferring", qid);
		mlfi_message_reset(c);
		return defer_oom(ctx);
	}
	decide_message(&c->snap->dc, c->m, d);
	mmetrics_message(c->m, d);
	if (handoff_wanted(c) && (d->n == 0 || d->a[0].kind != ACT_TEMPFAIL)) {
		rc = handoff(ctx, c, d); /* relay mode: the gateway gets the message */
		free(d);
		mlfi_message_reset(c);
		return rc;
	}
	for (size_t i = 0; i < d->n && rc == SMFIS_ACCEPT; i++)
		if (apply(ctx, c, &d->a[i], &rc) != MI_SUCCESS) {
			log_warnx("%s: cannot change the message (%s %s); deferring", qid,
			          what[d->a[i].kind], d->a[i].name);
			rc = SMFIS_TEMPFAIL;
		}
	stats_add(STAT_MESSAGES);
	if (rc == SMFIS_TEMPFAIL)
		stats_add(STAT_DEFERRED);
	if (c->snap->log_decisions || rc == SMFIS_TEMPFAIL)
		log_info("%s: %s%s", qid, d->summary, rc == SMFIS_TEMPFAIL ? " result=defer" : "");
	free(d);
	mlfi_message_reset(c);
	return rc;
}

static sfsistat mlfi_abort(SMFICTX *ctx)
{
	cctx *c = get(ctx);

	if (c != NULL)
		mlfi_message_reset(c);
	return SMFIS_CONTINUE;
}

static sfsistat mlfi_close(SMFICTX *ctx)
{
	cctx *c = get(ctx);

	if (c != NULL) {
		mlfi_message_reset(c);
		msnapshot_release(c->snap);
		free(c->client_name);
		free(c);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

unsigned long mlfi_steps(const msnapshot *s)
{
	unsigned long steps = SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOHELO | SMFIP_NR_EOH |
	                      SMFIP_NR_HDR | SMFIP_NR_RCPT | SMFIP_NR_CONN | SMFIP_SKIP;
	int body = rules_want_body(s->rules) || rules_want_attachments(s->rules) ||
	           (s->decrypt_rules != NULL && rules_want_body(s->decrypt_rules));

	if (!body && s->relay == NULL) /* relay mode copies every body */
		steps |= SMFIP_NOBODY;
	if (answer_data)
		steps &= ~(unsigned long)SMFIP_NODATA;
	if (!s->inbound_enforce) /* MAIL never answers anything but continue */
		steps |= SMFIP_NR_MAIL;
	return steps;
}

static sfsistat mlfi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                               unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                               unsigned long *pf2, unsigned long *pf3)
{
	msnapshot *s = msnapshot_current();
	cctx *c;
	unsigned long want = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_SETSYMLIST;
	unsigned long steps;

	(void)f2;
	(void)f3;
	if (s == NULL || (c = calloc(1, sizeof(*c))) == NULL) {
		msnapshot_release(s);
		return SMFIS_TEMPFAIL;
	}
	c->snap = s; /* until close, or a reload between messages (envelope.c) */
	smfi_setpriv(ctx, c);
	steps = mlfi_steps(s);
	/* hold, and Sendmail's stand-in for a Require it cannot enforce (decide.h) */
	want |= SMFIF_QUARANTINE;
	if ((f0 & want) != want) {
		/* An MTA without header changes or macro lists: do without the lists. */
		want &= f0;
		if ((want & (SMFIF_ADDHDRS | SMFIF_CHGHDRS)) != (SMFIF_ADDHDRS | SMFIF_CHGHDRS)) {
			log_errx("the MTA does not allow header changes; refusing");
			return SMFIS_REJECT;
		}
	}
	*pf0 = want;
	*pf1 = c->steps = steps & f1;
	*pf2 = 0;
	*pf3 = 0;
	if (want & SMFIF_SETSYMLIST) {
		smfi_setsymlist(ctx, SMFIM_CONNECT, "v j {daemon_name}");
		smfi_setsymlist(ctx, SMFIM_ENVFROM,
		                "{auth_authen} {tls_version} {cipher_bits} {cert_subject} {verify} "
		                "{cert_md5} {cert_fp} {cn_subject} i");
		smfi_setsymlist(ctx, SMFIM_ENVRCPT, "i");
		smfi_setsymlist(ctx, SMFIM_EOM, "i");
	}
	return SMFIS_CONTINUE;
}

struct smfiDesc *mlfi_descriptor(void)
{
	static struct smfiDesc desc = {
	        .xxfi_name = "forcetls-milter",
	        .xxfi_version = SMFI_VERSION,
	        .xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST,
	        .xxfi_connect = mlfi_connect,
	        .xxfi_envfrom = mlfi_envfrom,
	        .xxfi_envrcpt = mlfi_envrcpt,
	        .xxfi_header = mlfi_header,
	        .xxfi_data = mlfi_data,
	        .xxfi_eoh = mlfi_eoh,
	        .xxfi_body = mlfi_body,
	        .xxfi_eom = mlfi_eom,
	        .xxfi_abort = mlfi_abort,
	        .xxfi_close = mlfi_close,
	        .xxfi_negotiate = mlfi_negotiate,
	};

	return &desc;
}
