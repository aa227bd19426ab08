/*
 * NAME
 *	mlfi_int.h - forcetls-milter's callbacks: the per-connection context
 * DESCRIPTION
 *	Shared by mlfi.c (negotiation, headers, body, end of message) and
 *	envelope.c (connect, MAIL, RCPT). Envelope data is kept whole, as
 *	the MTA gave it (strdup), never cut to a fixed size.
 */
#ifndef MILTER_MLFI_INT_H
#define MILTER_MLFI_INT_H

#include <libmilter/mfapi.h>

#include "content.h"
#include "decide.h"
#include "msgcopy.h"
#include "rules.h"
#include "snapshot.h"
#include "tlsmaps.h"

#define NAME_COUNT_MAX 32

/* The reply text for FAILED_STALE, at MAIL or end of message. */
#define STALE_REPLY "forcetls-milter reloaded its configuration; please reconnect"

/* Why a message defers at end of message (cctx.failed). */
enum { FAILED_NOMEM = 1, FAILED_STALE = 2 /* a reload changed the negotiated stages */ };

typedef struct {
	msnapshot *snap;
	unsigned long steps; /* negotiated SMFIP_* */
	char *client_name;   /* as the MTA gave it, whole; NULL: none */
	tlsmaps_addr client_addr;
	int have_addr;
	int internal;     /* client_addr in internal_networks */
	msg_dir conn_dir; /* by network; auth may make a message outbound */
	mta_kind v_mta;   /* from the v macro at connect; MTA_UNKNOWN: none */
	mta_kind mta;     /* v_mta, else the snapshot's milter.mta */
	/* per message */
	msg_state *m;
	content *content; /* content rules: encryption (outbound) or decrypt (inbound) */
	char *sender;     /* MAIL FROM as the MTA gave it, whole; NULL: none */
	char *subject;    /* the first Subject, whole and decoded (for stripping its tag) */
	int failed;       /* FAILED_*: defer at end of message */
	msgcopy *copy;    /* relay mode: the message as it came, for the gateway */
	struct {
		char name[128];
		unsigned count;
	} names[NAME_COUNT_MAX]; /* occurrences per header name of interest */
	size_t nnames;
} cctx;

/* The SMFIP_* steps the filter asks for under snapshot s (mlfi.c). */
unsigned long mlfi_steps(const msnapshot *s);

static inline cctx *get(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

/* CONTINUE, or NOREPLY when the MTA agreed not to wait for this stage's reply. */
static inline sfsistat go_on(const cctx *c, unsigned long nr_flag)
{
	return c != NULL && (c->steps & nr_flag) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/*
 * A failure at a stage: TEMPFAIL where the stage is answered. Where it is
 * not (SMFIP_NR_*), libmilter turns the TEMPFAIL into no reply and ignores
 * the rest of the message, and the MTA waits for its end-of-message reply
 * until its milter timeout: so the failure is kept, and end of message
 * (always answered) defers.
 */
static inline sfsistat defer_at(cctx *c, unsigned long nr_flag)
{
	if (c == NULL || !(c->steps & nr_flag))
		return SMFIS_TEMPFAIL;
	if (!c->failed)
		c->failed = FAILED_NOMEM;
	return SMFIS_NOREPLY;
}

static inline const char *macro(SMFICTX *ctx, const char *name)
{
	const char *v = smfi_getsymval(ctx, (char *)name);

	return v != NULL ? v : "";
}

static inline const char *queue_id(SMFICTX *ctx)
{
	const char *q = smfi_getsymval(ctx, "i");

	return q != NULL && *q != '\0' ? q : "NOQUEUE";
}

/* Forget the message (mlfi.c). */
void mlfi_message_reset(cctx *c);
/* The whole Subject without its tag, encoded for the header; NULL: no memory (mlfi.c). */
char *mlfi_subject_stripped(const cctx *c);

/* Relay mode's hand-off at end of message (handoff.c): DISCARD once a gateway took it. */
sfsistat handoff(SMFICTX *ctx, cctx *c, const decision *d);
/* Does this message go to the gateway by relay? */
int handoff_wanted(const cctx *c);

/* The envelope stage (envelope.c). */
sfsistat mlfi_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa);
sfsistat mlfi_envfrom(SMFICTX *ctx, char **argv);
sfsistat mlfi_envrcpt(SMFICTX *ctx, char **argv);

#endif
