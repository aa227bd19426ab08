/*
 * NAME
 *	mlfi.c - forcetls-milter's libmilter callbacks
 * SUMMARY
 *	mlfi_descriptor()
 *	mlfi_answer_data(on)
 * DESCRIPTION
 *	Thin callbacks: they gather facts from the MTA into a per-connection
 *	context (cctx) and a per-message state (msg_state), and carry out the
 *	actions decide.c returns. Every decision is in decide.c.
 *
 *	Stages (negotiated in mlfi_negotiate, only what the configuration
 *	needs): connect (client address and name, direction, snapshot), MAIL
 *	(authentication, TLS macros, inbound enforcement, listed senders),
 *	RCPT (forced and always-encrypt recipient domains), headers, body
 *	(only when body or decrypt patterns exist; skipped once decided), end
 *	of message (actions, one log line). Headers, EOH, HELO, RCPT and DATA
 *	need no reply; unknown commands are not sent.
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
 *	{cipher_bits}, {cert_subject}, {verify} at MAIL, and the queue ID i at
 *	end of message, so the MTA needs no milter_*_macros settings for them.
 *
 *	Failure paths answer temporary (SMFIS_TEMPFAIL): the MTA keeps the mail.
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
#include "mlfi.h"
#include "snapshot.h"

#define NAME_COUNT_MAX 32

typedef struct {
	msnapshot *snap;
	unsigned long steps; /* negotiated SMFIP_* */
	char client_name[256];
	tlsmaps_addr client_addr;
	int have_addr;
	msg_dir conn_dir; /* by network; auth may make a message outbound */
	/* per message */
	msg_state *m;
	rules_scan *scan;  /* encryption rules (outbound) */
	rules_scan *dscan; /* decrypt rules (inbound) */
	char sender[512];
	char *subject; /* the first Subject, whole (for stripping its tag) */
	int failed;    /* out of memory: defer at end of message */
	struct {
		char name[128];
		unsigned count;
	} names[NAME_COUNT_MAX]; /* occurrences per header name of interest */
	size_t nnames;
} cctx;

static int answer_data; /* DATA with a reply: set once, before smfi_main() */

void mlfi_answer_data(int on)
{
	answer_data = on;
}

static cctx *get(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

/* CONTINUE, or NOREPLY when the MTA agreed not to wait for this stage's reply. */
static sfsistat go_on(const cctx *c, unsigned long nr_flag)
{
	return c != NULL && (c->steps & nr_flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static const char *macro(SMFICTX *ctx, const char *name)
{
	const char *v = smfi_getsymval(ctx, (char *)name);

	return v != NULL ? v : "";
}

static const char *queue_id(SMFICTX *ctx)
{
	const char *q = smfi_getsymval(ctx, "i");

	return q != NULL && *q != '\0' ? q : "NOQUEUE";
}

static void message_reset(cctx *c)
{
	free(c->m);
	c->m = NULL;
	rules_scan_free(c->scan);
	rules_scan_free(c->dscan);
	c->scan = c->dscan = NULL;
	c->sender[0] = '\0';
	c->nnames = 0;
	free(c->subject);
	c->subject = NULL;
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

static int in_table(const tlsmaps_table *t, const tlsmaps_addr *a)
{
	tlsmaps_id id;

	return t != NULL && tlsmaps_lookup_addr(t, a, TLSMAPS_DIR_IN, &id) == TLSMAPS_FOUND;
}

/* The domain of an envelope address "<user@domain>", normalized; 0 or -1. */
static int addr_domain(const char *addr, tlsmaps_query *q)
{
	const char *at = strrchr(addr, '@');
	size_t len;

	if (at == NULL)
		return -1;
	at++;
	len = strcspn(at, ">");
	return tlsmaps_query_parse(at, len, q, NULL, 0) == 0 && q->kind == TLSMAPS_QUERY_NAME ? 0
	                                                                                      : -1;
}

static sfsistat mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	cctx *c = get(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	snprintf(c->client_name, sizeof(c->client_name), "%s", hostname ? hostname : "unknown");
	if (sa != NULL && sa->sa_family == AF_INET) {
		c->client_addr.family = 4;
		memcpy(c->client_addr.bytes, &((struct sockaddr_in *)sa)->sin_addr, 4);
		c->have_addr = 1;
	} else if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			c->client_addr.family = 4;
			memcpy(c->client_addr.bytes, a6->s6_addr + 12, 4);
		} else {
			c->client_addr.family = 6;
			memcpy(c->client_addr.bytes, a6->s6_addr, 16);
		}
		c->have_addr = 1;
	}
	c->conn_dir = DIR_INBOUND;
	if (c->have_addr && in_table(c->snap->gateway, &c->client_addr))
		c->conn_dir = DIR_GATEWAY;
	else if (c->have_addr && in_table(c->snap->internal, &c->client_addr))
		c->conn_dir = DIR_OUTBOUND;
	return go_on(c, SMFIP_NR_CONN);
}

/* Strictest inbound entry for the client address, client name and sender domain. */
static int inbound_entry(const cctx *c, tlsmaps_id *best)
{
	const tlsmaps_table *t = c->snap->forced;
	int rank = -1;
	tlsmaps_id id;
	tlsmaps_query q;

	if (c->have_addr &&
	    tlsmaps_lookup_addr(t, &c->client_addr, TLSMAPS_DIR_IN, &id) == TLSMAPS_FOUND) {
		*best = id;
		rank = tlsmaps_level_rank(tlsmaps_entry_level(t, id));
	}
	if (strcmp(c->client_name, "unknown") != 0 && c->client_name[0] != '[' &&
	    tlsmaps_query_parse(c->client_name, strlen(c->client_name), &q, NULL, 0) == 0 &&
	    q.kind == TLSMAPS_QUERY_NAME &&
	    tlsmaps_lookup_name(t, q.name, q.name_len, TLSMAPS_DIR_IN, &id) == TLSMAPS_FOUND &&
	    tlsmaps_level_rank(tlsmaps_entry_level(t, id)) > rank) {
		*best = id;
		rank = tlsmaps_level_rank(tlsmaps_entry_level(t, id));
	}
	if (addr_domain(c->sender, &q) == 0 &&
	    tlsmaps_lookup_name(t, q.name, q.name_len, TLSMAPS_DIR_IN, &id) == TLSMAPS_FOUND &&
	    tlsmaps_level_rank(tlsmaps_entry_level(t, id)) > rank) {
		*best = id;
		rank = tlsmaps_level_rank(tlsmaps_entry_level(t, id));
	}
	return rank >= 0;
}

static int sender_listed(const cctx *c)
{
	const char *at = strrchr(c->sender, '@');
	char addr[512];
	size_t len;

	snprintf(addr, sizeof(addr), "%s", c->sender[0] == '<' ? c->sender + 1 : c->sender);
	len = strcspn(addr, ">");
	addr[len] = '\0';
	for (size_t i = 0; i < c->snap->nsenders; i++) {
		const char *s = c->snap->senders[i];

		if (strcasecmp(s, addr) == 0)
			return 1;
		if (s[0] == '@' && at != NULL && strncasecmp(s + 1, at + 1, strlen(s + 1)) == 0 &&
		    (at[1 + strlen(s + 1)] == '>' || at[1 + strlen(s + 1)] == '\0'))
			return 1;
	}
	return 0;
}

static sfsistat mlfi_envfrom(SMFICTX *ctx, char **argv)
{
	cctx *c = get(ctx);
	tlsmaps_id id;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	message_reset(c);
	if ((c->m = calloc(1, sizeof(*c->m))) == NULL)
		return SMFIS_TEMPFAIL; /* and end of message defers: no state */
	snprintf(c->sender, sizeof(c->sender), "%s", argv[0] != NULL ? argv[0] : "");
	c->m->dir = c->conn_dir;
	if (c->m->dir == DIR_INBOUND && *macro(ctx, "{auth_authen}") != '\0')
		c->m->dir = DIR_OUTBOUND;

	if (c->m->dir == DIR_INBOUND && c->snap->inbound_enforce && inbound_entry(c, &id)) {
		const tlsmaps_table *t = c->snap->forced;
		const char *verify = smfi_getsymval(ctx, "{verify}");
		const char *reason = decide_inbound(t, id, macro(ctx, "{tls_version}"),
		                                    macro(ctx, "{cipher_bits}"),
		                                    macro(ctx, "{cert_subject}"), verify);

		if (reason != NULL) {
			char addr[TLSMAPS_ADDR_STR_MAX] = "", safe[600];

			if (c->have_addr)
				tlsmaps_addr_format(&c->client_addr, addr, sizeof(addr));
			log_info("%s: reject: client=%s[%s] sender=%s reason=%s level=%s entry=%s "
			         "(%s:%u) reply=%s %s",
			         queue_id(ctx), c->client_name, addr,
			         log_safe(c->sender, strlen(c->sender), safe, sizeof(safe)), reason,
			         tlsmaps_level_name(tlsmaps_entry_level(t, id)),
			         tlsmaps_entry_key(t, id), tlsmaps_entry_file(t, id),
			         tlsmaps_entry_line(t, id), c->snap->inbound_code,
			         c->snap->inbound_xcode);
			smfi_setreply(ctx, c->snap->inbound_code, c->snap->inbound_xcode,
			              c->snap->inbound_text);
			message_reset(c);
			return c->snap->inbound_code[0] == '5' ? SMFIS_REJECT : SMFIS_TEMPFAIL;
		}
	}
	if (c->m->dir == DIR_OUTBOUND) {
		if ((c->scan = rules_scan_new(c->snap->rules)) == NULL) {
			c->failed = 1;
			return SMFIS_TEMPFAIL;
		}
		if (sender_listed(c)) {
			c->m->flagged = 1;
			snprintf(c->m->flagged_by, sizeof(c->m->flagged_by), "encrypt_senders");
		}
	} else if (c->m->dir == DIR_INBOUND && c->snap->decrypt_rules != NULL) {
		if ((c->dscan = rules_scan_new(c->snap->decrypt_rules)) == NULL) {
			c->failed = 1;
			return SMFIS_TEMPFAIL;
		}
	}
	return go_on(c, SMFIP_NR_MAIL);
}

static sfsistat mlfi_envrcpt(SMFICTX *ctx, char **argv)
{
	cctx *c = get(ctx);
	tlsmaps_query q;
	tlsmaps_id id;

	if (c == NULL || c->m == NULL)
		return SMFIS_TEMPFAIL;
	if (c->m->dir == DIR_INBOUND || argv[0] == NULL || addr_domain(argv[0], &q) < 0)
		return go_on(c, SMFIP_NR_RCPT);
	if (!c->m->forced &&
	    tlsmaps_lookup_name(c->snap->forced, q.name, q.name_len, TLSMAPS_DIR_OUT, &id) ==
	            TLSMAPS_FOUND &&
	    tlsmaps_level_mandatory(tlsmaps_entry_level(c->snap->forced, id))) {
		c->m->forced = 1;
		snprintf(c->m->forced_by, sizeof(c->m->forced_by), "rcpt %s: %s %s:%u", q.name,
		         tlsmaps_entry_key(c->snap->forced, id),
		         tlsmaps_entry_file(c->snap->forced, id),
		         tlsmaps_entry_line(c->snap->forced, id));
	}
	if (c->m->dir == DIR_OUTBOUND && !c->m->flagged && c->snap->encrypt_table != NULL &&
	    tlsmaps_lookup_name(c->snap->encrypt_table, q.name, q.name_len, TLSMAPS_DIR_OUT, &id) ==
	            TLSMAPS_FOUND &&
	    tlsmaps_level_mandatory(tlsmaps_entry_level(c->snap->encrypt_table, id))) {
		c->m->flagged = 1;
		snprintf(c->m->flagged_by, sizeof(c->m->flagged_by), "encrypt_table %s:%u",
		         tlsmaps_entry_file(c->snap->encrypt_table, id),
		         tlsmaps_entry_line(c->snap->encrypt_table, id));
	}
	return go_on(c, SMFIP_NR_RCPT);
}

static sfsistat mlfi_header(SMFICTX *ctx, char *name, char *value)
{
	cctx *c = get(ctx);
	hdr_kind kind;
	const char *which;

	if (c == NULL || c->m == NULL)
		return SMFIS_TEMPFAIL;
	kind = decide_header_kind(&c->snap->dc, name);
	if (kind != H_OTHER)
		msg_note_header(c->m, kind, name, name_index(c, name), value);
	if (c->m->dir == DIR_OUTBOUND && !c->m->flagged) {
		size_t start, end;

		if (kind == H_SUBJECT && c->m->nseen[H_SUBJECT] == 1 && c->subject == NULL &&
		    (c->subject = strdup(value)) == NULL)
			c->failed = 1;
		if (kind == H_SUBJECT && c->m->nseen[H_SUBJECT] == 1 &&
		    rules_subject_tag(c->snap->rules, value, strlen(value), &start, &end)) {
			c->m->flagged = c->m->subject_tagged = 1;
			c->m->subject_tag_start = start;
			c->m->subject_tag_end = end;
			snprintf(c->m->flagged_by, sizeof(c->m->flagged_by), "subject_tag");
		} else if (c->scan != NULL && rules_scan_header(c->scan, name, value, &which)) {
			c->m->flagged = 1;
			snprintf(c->m->flagged_by, sizeof(c->m->flagged_by), "%s", which);
		}
	}
	if (c->m->dir == DIR_INBOUND && !c->m->decrypt && kind == H_CONTENT_TYPE &&
	    decide_encrypted_content(value)) {
		c->m->decrypt = 1;
		snprintf(c->m->decrypt_by, sizeof(c->m->decrypt_by), "Content-Type");
	}
	return go_on(c, SMFIP_NR_HDR);
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
	const char *which;

	if (c == NULL || c->m == NULL)
		return SMFIS_TEMPFAIL;
	if (c->m->dir == DIR_OUTBOUND && !c->m->flagged && c->scan != NULL &&
	    rules_want_body(c->snap->rules)) {
		if (rules_scan_body(c->scan, chunk, len, &which)) {
			c->m->flagged = 1;
			snprintf(c->m->flagged_by, sizeof(c->m->flagged_by), "%s", which);
		}
		return c->m->flagged ? SMFIS_SKIP : SMFIS_CONTINUE;
	}
	if (c->m->dir == DIR_INBOUND && !c->m->decrypt && c->dscan != NULL) {
		if (rules_scan_body(c->dscan, chunk, len, &which)) {
			c->m->decrypt = 1;
			snprintf(c->m->decrypt_by, sizeof(c->m->decrypt_by), "decrypt_%s", which);
		}
		return c->m->decrypt ? SMFIS_SKIP : SMFIS_CONTINUE;
	}
	return SMFIS_SKIP;
}

/* The body has ended: a body pattern that needed to see its end may match now. */
static void body_end(cctx *c)
{
	const char *which;

	if (c->m->dir == DIR_OUTBOUND && !c->m->flagged && c->scan != NULL &&
	    rules_want_body(c->snap->rules) && rules_scan_body(c->scan, NULL, 0, &which)) {
		c->m->flagged = 1;
		snprintf(c->m->flagged_by, sizeof(c->m->flagged_by), "%s", which);
	}
	if (c->m->dir == DIR_INBOUND && !c->m->decrypt && c->dscan != NULL &&
	    rules_scan_body(c->dscan, NULL, 0, &which)) {
		c->m->decrypt = 1;
		snprintf(c->m->decrypt_by, sizeof(c->m->decrypt_by), "decrypt_%s", which);
	}
}

/*
 * The Subject without its tag, from the whole value (the state keeps a
 * truncated copy); NULL when out of memory.
 */
static char *subject_stripped(const cctx *c)
{
	const char *s = c->subject, *tail;
	size_t len = strlen(s), head = c->m->subject_tag_start;
	char *v;

	if (c->m->subject_tag_end > len || head > c->m->subject_tag_end)
		return strdup(s);
	for (tail = s + c->m->subject_tag_end; *tail == ' ' || *tail == '\t'; tail++)
		;
	if ((v = malloc(head + strlen(tail) + 1)) == NULL)
		return NULL;
	memcpy(v, s, head);
	strcpy(v + head, tail);
	return v;
}

static sfsistat mlfi_eom(SMFICTX *ctx)
{
	cctx *c = get(ctx);
	decision *d;
	sfsistat rc = SMFIS_ACCEPT;
	const char *qid = queue_id(ctx);

	if (c == NULL || c->m == NULL || c->failed) {
		log_warnx("%s: out of memory earlier in this message; deferring", qid);
		if (c != NULL)
			message_reset(c);
		return SMFIS_TEMPFAIL;
	}
	body_end(c);
	if ((d = malloc(sizeof(*d))) == NULL) {
		log_warnx("%s: out of memory; deferring", qid);
		message_reset(c);
		return SMFIS_TEMPFAIL;
	}
	decide_message(&c->snap->dc, c->m, d);
	for (size_t i = 0; i < d->n && rc == SMFIS_ACCEPT; i++) {
		action *a = &d->a[i];
		int r = MI_SUCCESS;
		char *v = NULL;

		switch (a->kind) {
		case ACT_DELETE:
			for (unsigned k = 0;
			     k < (a->span > 1 ? a->span : 1) && r == MI_SUCCESS && a->index > k;
			     k++)
				r = smfi_chgheader(ctx, a->name, (int)(a->index - k), NULL);
			break;
		case ACT_INSERT_FIRST:
			r = smfi_insheader(ctx, 0, a->name, a->value);
			break;
		case ACT_ADD:
			r = smfi_addheader(ctx, a->name, a->value);
			break;
		case ACT_CHANGE:
			if (c->subject != NULL && strcasecmp(a->name, "Subject") == 0 &&
			    (v = subject_stripped(c)) == NULL)
				r = MI_FAILURE;
			else
				r = smfi_chgheader(ctx, a->name, (int)a->index, v ? v : a->value);
			free(v);
			break;
		case ACT_QUARANTINE:
			r = smfi_quarantine(ctx, a->value);
			break;
		case ACT_REJECT:
			smfi_setreply(ctx, "550", "5.7.1", a->value);
			rc = SMFIS_REJECT;
			break;
		}
		if (r != MI_SUCCESS) {
			static const char *const what[] = {
			        [ACT_DELETE] = "delete",
			        [ACT_INSERT_FIRST] = "insert",
			        [ACT_ADD] = "add",
			        [ACT_CHANGE] = "change",
			        [ACT_QUARANTINE] = "quarantine",
			        [ACT_REJECT] = "reject",
			};

			log_warnx("%s: cannot change the message (%s %s); deferring", qid,
			          what[a->kind], a->name);
			rc = SMFIS_TEMPFAIL;
		}
	}
	if (c->snap->log_decisions || rc == SMFIS_TEMPFAIL)
		log_info("%s: %s%s", qid, d->summary, rc == SMFIS_TEMPFAIL ? " result=defer" : "");
	free(d);
	message_reset(c);
	return rc;
}

static sfsistat mlfi_abort(SMFICTX *ctx)
{
	cctx *c = get(ctx);

	if (c != NULL)
		message_reset(c);
	return SMFIS_CONTINUE;
}

static sfsistat mlfi_close(SMFICTX *ctx)
{
	cctx *c = get(ctx);

	if (c != NULL) {
		message_reset(c);
		msnapshot_release(c->snap);
		free(c);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

static sfsistat mlfi_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
                               unsigned long f3, unsigned long *pf0, unsigned long *pf1,
                               unsigned long *pf2, unsigned long *pf3)
{
	msnapshot *s = msnapshot_current();
	cctx *c;
	unsigned long want = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_SETSYMLIST;
	unsigned long steps = SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NOHELO | SMFIP_NOEOH |
	                      SMFIP_NR_HDR | SMFIP_NR_RCPT | SMFIP_NR_CONN | SMFIP_SKIP;
	int body;

	(void)f2;
	(void)f3;
	if (s == NULL || (c = calloc(1, sizeof(*c))) == NULL) {
		msnapshot_release(s);
		return SMFIS_TEMPFAIL;
	}
	c->snap = s; /* held until close: the connection keeps this snapshot */
	smfi_setpriv(ctx, c);
	body = rules_want_body(s->rules) || s->decrypt_rules != NULL;
	if (!body)
		steps |= SMFIP_NOBODY;
	if (answer_data)
		steps &= ~(unsigned long)SMFIP_NODATA;
	if (!s->inbound_enforce) /* MAIL never answers anything but continue */
		steps |= SMFIP_NR_MAIL;
	if (s->dc.on_encrypt_failure == ON_FAIL_HOLD)
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
		smfi_setsymlist(
		        ctx, SMFIM_ENVFROM,
		        "{auth_authen} {tls_version} {cipher_bits} {cert_subject} {verify} i");
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
	        .xxfi_body = mlfi_body,
	        .xxfi_eom = mlfi_eom,
	        .xxfi_abort = mlfi_abort,
	        .xxfi_close = mlfi_close,
	        .xxfi_negotiate = mlfi_negotiate,
	};

	return &desc;
}
