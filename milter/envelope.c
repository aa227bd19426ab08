/*
 * NAME
 *	envelope.c - forcetls-milter's envelope stage: connect, MAIL FROM, RCPT TO
 * SUMMARY
 *	mlfi_connect(), mlfi_envfrom(), mlfi_envrcpt()
 * DESCRIPTION
 *	Translates what the MTA sends into questions for libtlsmaps's decision
 *	core, and carries out the answers; nothing is decided here.
 *
 *	Connect: the client address and name (kept whole), the direction by
 *	internal_networks and gateway_networks, and which MTA this is: the v
 *	macro (asked for at connect) is "Postfix 3.7.11" on Postfix and
 *	"8.17.1.9" on Sendmail. What the MTA says wins over milter.mta; with
 *	neither, the MTA is unknown and treated like Sendmail (decide.h).
 *
 *	MAIL: the snapshot current now (snapshot_refresh: a reload applies
 *	from the next message of an open session), then the inbound check,
 *	tlsmaps_decide_inbound(), the rule forcetls-policyd follows too.
 *	The session: the client address and
 *	name, the sender (whole, however long), {tls_version}, {cipher_bits},
 *	a verified certificate ({verify} = OK on Sendmail, else a non-empty
 *	{cert_subject}, which Postfix sends only for a verified one; a DN,
 *	Sendmail's, without {verify} is never verified: Sendmail sends it
 *	for any certificate, and its default HELO macros lack {verify}) and its
 *	subject CN for verify and secure entries (docs/tlsmaps.5, "Inbound
 *	certificate names"): Postfix's {cert_subject} is the CN, Sendmail's
 *	the DN, whose only CN is taken, and which must agree with Sendmail's
 *	{cn_subject} when that is sent; a DN that yields no CN gives none, so
 *	entries that check names refuse. The
 *	digests {cert_md5} and {cert_fp} (Sendmail; Postfix's milter protocol
 *	has none, so fingerprint entries are refused here on Postfix: leave
 *	them to forcetls-policyd), {auth_authen}, internal_networks. Not for
 *	the gateway's connections. PASS continues; REFUSE answers
 *	inbound_reply; ERROR (an input that cannot be parsed) answers
 *	"451 4.3.0" whatever the table says.
 *
 *	RCPT: tlsmaps_decide_recipient() on each recipient of outbound and
 *	gateway mail: FORCED, and ERROR (a domain that cannot be parsed, such
 *	as a bad U-label), both make the message's X-TLSLevel Require; the
 *	error is logged. A forced recipient whose entry says
 *	on_tls_failure=gateway is counted for backup encryption
 *	(decide_backup.c). encrypt_table is asked the same way. Relay mode keeps
 *	every recipient in the message's copy (msgcopy.h).
 * DIAGNOSTICS
 *	"QUEUEID: reject: client=NAME[ADDR] sender=S reason=... level=...
 *	entry=KEY (FILE:LINE) reply=CODE XCODE", "QUEUEID: defer: ...
 *	reply=451 4.3.0", "QUEUEID: recipient R: reason; X-TLSLevel: Require",
 *	"QUEUEID: client certificate: no CN: REASON: VALUE" (Sendmail).
 *	Client names, senders and recipients are escaped (log_safe).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "log.h"
#include "mlfi_int.h"

static int in_table(const tlsmaps_table *t, const tlsmaps_addr *a)
{
	tlsmaps_id id;

	return t != NULL && tlsmaps_lookup_addr(t, a, TLSMAPS_DIR_IN, &id) == TLSMAPS_FOUND;
}

/* The v macro: Postfix says "Postfix 3.7.11", Sendmail "8.17.1.9". */
static mta_kind which_mta(const char *v, mta_kind declared)
{
	if (strncasecmp(v, "postfix", 7) == 0)
		return MTA_POSTFIX;
	if (*v >= '0' && *v <= '9' && strchr(v, '.') != NULL)
		return MTA_SENDMAIL;
	return declared;
}

/* The session's direction and MTA, by the client address and the snapshot's networks. */
static void classify(cctx *c)
{
	c->conn_dir = DIR_INBOUND;
	if (c->have_addr && in_table(c->snap->gateway, &c->client_addr))
		c->conn_dir = DIR_GATEWAY;
	else if (c->have_addr && in_table(c->snap->internal, &c->client_addr))
		c->conn_dir = DIR_OUTBOUND;
	c->internal = c->have_addr && in_table(c->snap->internal, &c->client_addr);
	c->mta = c->v_mta != MTA_UNKNOWN ? c->v_mta : c->snap->mta;
}

sfsistat mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	cctx *c = get(ctx);

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	free(c->client_name);
	/* client_name stays NULL: MAIL defers (the direction is unknown) */
	if ((c->client_name = strdup(hostname != NULL ? hostname : "unknown")) == NULL)
		return defer_at(c, SMFIP_NR_CONN);
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
	c->v_mta = which_mta(macro(ctx, "v"), MTA_UNKNOWN);
	classify(c);
	return go_on(c, SMFIP_NR_CONN);
}

/*
 * The snapshot current now, for this message: a reload applies to the next
 * message of an open session, not only to new sessions, so a newly forced
 * domain is never decided with the table of before. A reload that changes
 * the stages the filter negotiated (body, relay mode, inbound_enforce)
 * cannot apply to a session that negotiated the old ones: its message is
 * deferred (-1), and the client's next try opens a new session.
 */
static int snapshot_refresh(SMFICTX *ctx, cctx *c)
{
	msnapshot *now = msnapshot_current();

	if (now == NULL || now == c->snap) {
		msnapshot_release(now);
		return 0;
	}
	if (mlfi_steps(now) != mlfi_steps(c->snap)) {
		log_info("%s: defer: the configuration reloaded since this session began changes "
		         "what the filter asks the MTA for; the next session uses it",
		         queue_id(ctx));
		msnapshot_release(now);
		c->failed = FAILED_STALE;
		(void)smfi_setreply(ctx, "451", "4.3.0", STALE_REPLY);
		return -1;
	}
	msnapshot_release(c->snap);
	c->snap = now;
	classify(c);
	return 0;
}

/* Is the sender an encrypt_senders address or in one of its @domains? */
static int sender_listed(const cctx *c)
{
	const char *a = c->sender, *at;
	size_t len = strlen(a);

	if (len > 0 && a[0] == '<') {
		a++;
		len--;
	}
	if (len > 0 && a[len - 1] == '>')
		len--;
	for (at = a + len; at > a && at[-1] != '@'; at--)
		;
	for (size_t i = 0; i < c->snap->nsenders; i++) {
		const char *s = c->snap->senders[i];
		size_t slen = strlen(s);

		if (slen == len && strncasecmp(s, a, len) == 0)
			return 1;
		if (s[0] == '@' && at > a && slen - 1 == len - (size_t)(at - a) &&
		    strncasecmp(s + 1, at, slen - 1) == 0)
			return 1;
	}
	return 0;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	                              : -1;
}

/* Sendmail's xtext ("+XX") decoded into out; 0, or -1 (bad "+", a NUL, too long). */
static int xtext_decode(const char *s, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *s != '\0'; s++) {
		char ch = *s;

		if (ch == '+') {
			if (hexval(s[1]) < 0 || hexval(s[2]) < 0)
				return -1;
			ch = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		}
		if (ch == '\0' || o + 1 >= outlen)
			return -1;
		out[o++] = ch;
	}
	out[o] = '\0';
	return 0;
}

/* A reason why a Sendmail certificate gives no CN, logged: the table may need one. */
static void log_no_cn(SMFICTX *ctx, const char *what, const char *why)
{
	const char *q = queue_id(ctx);
	char qid[64], safe[300];

	log_safe(q, strlen(q), qid, sizeof(qid));
	log_safe(what, strlen(what), safe, sizeof(safe));
	log_info("%s: client certificate: no CN: %s: %s", qid, why, safe);
}

/*
 * The client certificate's subject CN into buf, or NULL for none. Postfix's
 * {cert_subject} is the CN; Sendmail's the xtext-encoded DN (an unknown
 * MTA: a DN when it starts with '/'), whose one CN is taken
 * (tlsmaps_dn_cn()). A CN holding "/X=" reads the same as one cut there,
 * so Sendmail's {cn_subject}, the CN itself, must then agree when it is
 * sent ("BadCertificate..." means the certificate has no usable CN).
 */
static const char *cert_cn_of(SMFICTX *ctx, const cctx *c, char *buf, size_t len)
{
	const char *subj = macro(ctx, "{cert_subject}");
	const char *cn_subject = smfi_getsymval(ctx, "{cn_subject}");
	char why[TLSMAPS_WHY_MAX], cn2[256];

	if (*subj == '\0')
		return NULL;
	if (c->mta == MTA_POSTFIX || (c->mta == MTA_UNKNOWN && subj[0] != '/'))
		return subj;
	if (tlsmaps_dn_cn(subj, strlen(subj), buf, len, why, sizeof(why)) < 0) {
		log_no_cn(ctx, subj, why);
		return NULL;
	}
	if (cn_subject == NULL)
		return buf;
	if (strncmp(cn_subject, "BadCertificate", 14) == 0 ||
	    xtext_decode(cn_subject, cn2, sizeof(cn2)) < 0 || strcmp(cn2, buf) != 0) {
		log_no_cn(ctx, cn_subject, "{cn_subject} is not the CN of {cert_subject}");
		return NULL;
	}
	return buf;
}

/* The session for the decision core, from the MAIL-stage macros; cn: room for the CN. */
static void session_of(SMFICTX *ctx, const cctx *c, tlsmaps_session *s, char *cn, size_t cnlen)
{
	const char *verify = smfi_getsymval(ctx, "{verify}");
	const char *subj = macro(ctx, "{cert_subject}");
	/* Sendmail's DN comes for any certificate shown; Postfix's CN only for a trusted one. */
	int dn = c->mta == MTA_SENDMAIL || (c->mta == MTA_UNKNOWN && subj[0] == '/');

	memset(s, 0, sizeof(*s));
	s->client_addr = c->have_addr ? &c->client_addr : NULL;
	s->client_name = c->client_name;
	s->sender = c->sender;
	s->tls_protocol = macro(ctx, "{tls_version}");
	s->key_size = macro(ctx, "{cipher_bits}");
	/* {verify} decides when present; without it a DN is never verified. */
	s->cert_verified = verify != NULL && *verify != '\0' ? strcmp(verify, "OK") == 0
	                                                     : !dn && *subj != '\0';
	s->cert_cn = s->cert_verified ? cert_cn_of(ctx, c, cn, cnlen) : NULL;
	s->digests[0] = smfi_getsymval(ctx, "{cert_md5}"); /* Sendmail only */
	s->digests[1] = smfi_getsymval(ctx, "{cert_fp}");
	s->authenticated = *macro(ctx, "{auth_authen}") != '\0';
	s->internal = c->internal;
}

/* Inbound enforcement at MAIL FROM: CONTINUE, or the reply already set. */
static sfsistat inbound_check(SMFICTX *ctx, cctx *c)
{
	msnapshot *snap = c->snap;
	const tlsmaps_table *t = snap->forced;
	tlsmaps_session s;
	tlsmaps_inbound_result v;
	char addr[TLSMAPS_ADDR_STR_MAX] = "", name[300], from[600], certcn[256];
	const char *why = v.reason; /* escaped by libtlsmaps already (tlsmaps.h) */
	const char *cn = c->client_name != NULL ? c->client_name : "unknown";

	session_of(ctx, c, &s, certcn, sizeof(certcn));
	if (tlsmaps_decide_inbound(t, &s, &snap->inbound, &v) == TLSMAPS_VERDICT_PASS)
		return SMFIS_CONTINUE;
	if (c->have_addr)
		tlsmaps_addr_format(&c->client_addr, addr, sizeof(addr));
	log_safe(cn, strlen(cn), name, sizeof(name));
	log_safe(c->sender, strlen(c->sender), from, sizeof(from));
	if (v.verdict == TLSMAPS_VERDICT_ERROR) {
		log_info("%s: defer: client=%s[%s] sender=%s reason=%s reply=451 4.3.0",
		         queue_id(ctx), name, addr, from, why);
		smfi_setreply(ctx, "451", "4.3.0", "Cannot check the TLS policy for this session");
		return SMFIS_TEMPFAIL;
	}
	log_info("%s: reject: client=%s[%s] sender=%s reason=%s level=%s entry=%s (%s:%u) "
	         "reply=%s %s",
	         queue_id(ctx), name, addr, from, why,
	         tlsmaps_level_name(tlsmaps_entry_level(t, v.id)), tlsmaps_entry_key(t, v.id),
	         tlsmaps_entry_file(t, v.id), tlsmaps_entry_line(t, v.id), snap->inbound_code,
	         snap->inbound_xcode);
	smfi_setreply(ctx, snap->inbound_code, snap->inbound_xcode, snap->inbound_text);
	return snap->inbound_code[0] == '5' ? SMFIS_REJECT : SMFIS_TEMPFAIL;
}

sfsistat mlfi_envfrom(SMFICTX *ctx, char **argv)
{
	cctx *c = get(ctx);
	sfsistat rc;

	if (c == NULL)
		return SMFIS_TEMPFAIL;
	mlfi_message_reset(c);
	if (snapshot_refresh(ctx, c) < 0)
		return defer_at(c, SMFIP_NR_MAIL);
	/* Without c->m every later stage defers, end of message too; client_name is
	 * NULL when the connect stage failed. */
	if (c->client_name == NULL || (c->m = calloc(1, sizeof(*c->m))) == NULL ||
	    (c->sender = strdup(argv[0] != NULL ? argv[0] : "")) == NULL) {
		mlfi_message_reset(c);
		return defer_at(c, SMFIP_NR_MAIL);
	}
	c->m->dir = c->conn_dir;
	c->m->mta = c->mta;
	if (c->m->dir == DIR_INBOUND && *macro(ctx, "{auth_authen}") != '\0')
		c->m->dir = DIR_OUTBOUND;
	/* The core exempts internal and authenticated clients (or not); never the gateway. */
	if (c->conn_dir != DIR_GATEWAY && c->snap->inbound_enforce &&
	    (rc = inbound_check(ctx, c)) != SMFIS_CONTINUE) {
		mlfi_message_reset(c);
		return rc;
	}
	if (c->m->dir == DIR_OUTBOUND || c->m->dir == DIR_INBOUND) {
		const rules *enc = c->m->dir == DIR_OUTBOUND ? c->snap->rules : NULL;
		const rules *dec = c->m->dir == DIR_INBOUND ? c->snap->decrypt_rules : NULL;

		if ((c->content = content_new(&c->snap->content, enc, dec)) == NULL) {
			c->failed = FAILED_NOMEM;
			return defer_at(c, SMFIP_NR_MAIL);
		}
	}
	if (c->snap->relay != NULL && c->m->dir != DIR_GATEWAY &&
	    (c->copy = msgcopy_new(c->snap->spool_dir, c->snap->spool_threshold)) == NULL) {
		c->failed = FAILED_NOMEM;
		return defer_at(c, SMFIP_NR_MAIL);
	}
	if (c->m->dir == DIR_OUTBOUND && sender_listed(c)) {
		c->m->flagged = 1;
		snprintf(c->m->flagged_by, sizeof(c->m->flagged_by), "encrypt_senders");
	}
	return go_on(c, SMFIP_NR_MAIL);
}

/* A recipient domain that cannot be parsed forces TLS: the strict answer, logged. */
static void recipient_forced(SMFICTX *ctx, cctx *c, const char *rcpt)
{
	const tlsmaps_table *t = c->snap->forced;
	tlsmaps_rcpt_result r;
	char safe[600];

	c->m->nrcpt++;
	switch (tlsmaps_decide_recipient(t, rcpt, strlen(rcpt), &r)) {
	case TLSMAPS_RCPT_ERROR:
		c->m->nforced++;
		log_safe(rcpt, strlen(rcpt), safe, sizeof(safe));
		log_warnx("%s: recipient %s: %s; %s: %s", queue_id(ctx), safe, r.reason,
		          c->snap->dc.tls_header, c->snap->dc.tls_require);
		if (!c->m->forced)
			snprintf(c->m->forced_by, sizeof(c->m->forced_by),
			         "rcpt %.200s: cannot parse its domain", safe);
		c->m->forced = 1;
		return;
	case TLSMAPS_RCPT_FORCED:
		c->m->nforced++;
		if (tlsmaps_entry_on_tls_failure(t, r.id) == TLSMAPS_TLSFAIL_GATEWAY)
			c->m->nbackup++; /* backup encryption (decide_backup.c) */
		if (!c->m->forced)
			snprintf(c->m->forced_by, sizeof(c->m->forced_by), "rcpt %s: %s %s:%u",
			         r.domain, tlsmaps_entry_key(t, r.id), tlsmaps_entry_file(t, r.id),
			         tlsmaps_entry_line(t, r.id));
		c->m->forced = 1;
		break;
	case TLSMAPS_RCPT_NOT_FORCED:
		break;
	}
	t = c->snap->encrypt_table;
	if (c->m->dir == DIR_OUTBOUND && !c->m->flagged && t != NULL &&
	    tlsmaps_decide_recipient(t, rcpt, strlen(rcpt), &r) == TLSMAPS_RCPT_FORCED) {
		c->m->flagged = 1;
		snprintf(c->m->flagged_by, sizeof(c->m->flagged_by), "encrypt_table %s:%u",
		         tlsmaps_entry_file(t, r.id), tlsmaps_entry_line(t, r.id));
	}
}

sfsistat mlfi_envrcpt(SMFICTX *ctx, char **argv)
{
	cctx *c = get(ctx);

	if (c == NULL || c->m == NULL)
		return defer_at(c, SMFIP_NR_RCPT);
	if (c->m->dir != DIR_INBOUND && argv[0] != NULL)
		recipient_forced(ctx, c, argv[0]);
	if (c->copy != NULL && argv[0] != NULL)
		(void)msgcopy_rcpt(c->copy, argv[0]); /* a failed copy defers if it is needed */
	return go_on(c, SMFIP_NR_RCPT);
}
