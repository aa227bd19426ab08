/*
 * NAME
 *	decide.h - forcetls-milter's decisions, free of libmilter
 * DESCRIPTION
 *	Everything the milter decides is decided here, by plain functions that
 *	unit tests call directly (mlfi.c only gathers facts from libmilter and
 *	carries out the actions).
 *
 *	Direction (SPEC 4): outbound when the client is in internal_networks or
 *	authenticated; gateway when it is in gateway_networks; else inbound.
 *
 *	At end of message, decide_message() turns what was seen (recipients,
 *	sender, the headers that matter, rule hits) into actions:
 *	- delete every X-TLSLevel copy, then insert exactly one at index 0
 *	  (outbound and gateway mail), or delete them all (inbound);
 *	- delete trigger, success and failure headers from anyone but the
 *	  gateway, and the trigger headers from the gateway too (its mail must
 *	  never route back to it);
 *	- add the encryption trigger (outbound mail flagged by a rule) or the
 *	  decrypt trigger (inbound PGP/MIME, S/MIME, or a decrypt pattern),
 *	  after the X-TLSLevel header, so that Postfix's milter_header_checks
 *	  sees the trigger last and routes to the gateway (the last FILTER wins);
 *	- delete every copy of the backup header (X-TLS-Backup), whatever the
 *	  direction, and insert one right after X-TLSLevel (index 1) when
 *	  decide_backup() says so (decide_backup.c): outbound Postfix mail
 *	  whose every forced recipient backs up to the gateway;
 *	- delete TLS-Required (RFC 8689) headers on forced mail and on mail
 *	  from untrusted clients;
 *	- on the gateway's failure header: on_encrypt_failure (tls, hold,
 *	  reject, pass). Every copy of the status header counts, a failure
 *	  anywhere beats a success, and a value that is neither the success nor
 *	  the failure value is a failure too (the summary names it:
 *	  gateway=failure (unknown status "pending")). Values compare without
 *	  surrounding blanks, ignoring case. The decryption status is judged
 *	  the same way and logged (decrypt_gateway=...); no setting acts on it.
 *
 *	What the MTA cannot do (SPEC 4: nothing flagged may leave because the
 *	MTA ignored a header):
 *	- header routing on an MTA that is not Postfix (Sendmail, or one that
 *	  did not say): a message to route to the gateway (encryption or
 *	  decryption trigger) gets ACT_TEMPFAIL alone; relay mode is the way;
 *	- on Sendmail, X-TLSLevel: Require is only enforced per recipient, by
 *	  the access map's TLS_Rcpt: entries for the table's forced domains.
 *	  A Require that comes from a header alone (the gateway's failure with
 *	  on_encrypt_failure = tls, or a trusted Require kept) while not every
 *	  recipient is forced by the table is enforced by quarantine instead
 *	  (ACT_QUARANTINE): the message stays in Sendmail's queue, held. An
 *	  MTA that did not say what it is is treated the same way.
 */
#ifndef MILTER_DECIDE_H
#define MILTER_DECIDE_H

#include <stddef.h>

#include "tlsmaps.h"

typedef enum {
	DIR_INBOUND = 0,
	DIR_OUTBOUND,
	DIR_GATEWAY,
} msg_dir;

typedef enum {
	ON_FAIL_TLS = 0, /* X-TLSLevel: Require: mandatory TLS as the backup */
	ON_FAIL_HOLD,    /* quarantine */
	ON_FAIL_REJECT,
	ON_FAIL_PASS,
} on_failure;

/* The MTA on the other end, from the v macro at connect (mlfi.c). */
typedef enum {
	MTA_UNKNOWN = 0, /* no v macro, or one of neither: treated like Sendmail */
	MTA_POSTFIX,     /* "Postfix 3.7.11": routes on headers (milter_header_checks) */
	MTA_SENDMAIL,    /* "8.17.1.9": cannot route on a header */
} mta_kind;

/* A header as configured: "Name: value". */
typedef struct {
	char name[128];
	char value[256];
} hdr_spec;

/* Parse "Name: value" (a field name, a colon, a value). 0 or -1. */
int hdr_spec_parse(const char *s, hdr_spec *h);

/* What the configuration says; owned by the snapshot. */
typedef struct {
	char tls_header[128]; /* X-TLSLevel */
	char tls_require[64]; /* Require */
	char tls_try[64];     /* Try */
	int opportunistic;
	hdr_spec encrypt, encrypt_success, encrypt_failure;
	hdr_spec decrypt, decrypt_success, decrypt_failure;
	on_failure on_encrypt_failure;
	int strip_subject_tag;
	int remove_tls_required; /* always 1; a setting for the record */
	int relay;               /* routing = "relay": the milter hands flagged mail over */
	hdr_spec backup;         /* X-TLS-Backup: gateway (decide_backup.c) */
} decide_config;

/* Which header a name is, for the message state. */
typedef enum {
	H_OTHER = 0,
	H_TLSLEVEL,
	H_ENCRYPT,        /* trigger */
	H_ENCRYPT_STATUS, /* success/failure share a name, or have their own */
	H_DECRYPT,
	H_DECRYPT_STATUS,
	H_TLS_REQUIRED,
	H_SUBJECT,
	H_CONTENT_TYPE,
	H_BACKUP, /* the backup header: only the milter's own counts */
	H_KIND_COUNT
} hdr_kind;

#define MSG_MAX_SEEN 64  /* headers of interest kept per kind; the rest are counted */
#define MSG_MAX_NAMES 16 /* distinct names of interest (at most 12 with any config) */

typedef struct {
	char name[128];  /* as the message spelled it (for deletion by name) */
	char value[512]; /* truncated copy */
	unsigned index;  /* 1-based among headers of this exact name (case-insensitive) */
} hdr_seen;

/*
 * Every name of interest, however many copies it has: the copies past the
 * MSG_MAX_SEEN kept per kind are deleted too (their values are not kept in
 * seen[]; copies of X-TLSLevel past them count as a trusted Require; the
 * gateway status copies all count, through msg_status below).
 */
typedef struct {
	char name[128]; /* as the message first spelled it */
	hdr_kind kind;
	unsigned count;    /* highest index noted */
	unsigned seen_max; /* highest index kept in seen[] */
} hdr_name;

#define MSG_MAX_STATUS 4 /* distinct status values kept per status kind */

/* One distinct gateway status (name and value, compared ignoring case). */
typedef struct {
	char name[128];
	char value[256]; /* without surrounding blanks; cut: longer than this */
	int cut;
	unsigned count; /* copies with this name and value */
} status_value;

/*
 * Every copy of a status header (encryption or decryption), as noted: the
 * first MSG_MAX_STATUS distinct name/value pairs with their counts, and the
 * copies of any further pair. The verdict needs no more: a configured
 * success and failure are two pairs, so with more than MSG_MAX_STATUS
 * distinct pairs at least one kept pair is neither (a failure).
 */
typedef struct {
	status_value v[MSG_MAX_STATUS];
	size_t n;
	unsigned copies;   /* every copy */
	unsigned overflow; /* copies of pairs past the first MSG_MAX_STATUS */
} msg_status;

/* What one message showed. Filled by mlfi.c, read by decide_message(). */
typedef struct {
	msg_dir dir;
	hdr_seen seen[H_KIND_COUNT][MSG_MAX_SEEN];
	size_t nseen[H_KIND_COUNT];
	hdr_name names[MSG_MAX_NAMES];
	size_t nnames;
	msg_status status[2]; /* [0] H_ENCRYPT_STATUS, [1] H_DECRYPT_STATUS: every copy */
	int flagged;          /* an encryption rule matched */
	char flagged_by[128]; /* which: "subject_tag", "header_patterns[1]", ... */
	int decrypt;          /* an inbound message to decrypt */
	char decrypt_by[128];
	int forced;          /* a recipient's domain is forced (encrypt or stronger) */
	char forced_by[300]; /* "bank.test (table:3)" */
	size_t subject_tag_start, subject_tag_end; /* when the tag matched */
	int subject_tagged;
	mta_kind mta;
	unsigned nrcpt;   /* recipients seen (outbound and gateway mail) */
	unsigned nforced; /* of them, forced by the table (or not parseable) */
	unsigned nbackup; /* of the forced, those whose entry says on_tls_failure=gateway */
} msg_state;

/* An action for mlfi.c to carry out, in this order. */
typedef enum {
	ACT_DELETE,       /* smfi_chgheader(name, index, NULL) */
	ACT_INSERT_FIRST, /* smfi_insheader(index, name, value): 0 first, 1 right after */
	ACT_ADD,          /* smfi_addheader(name, value) (after every other) */
	ACT_CHANGE,       /* smfi_chgheader(name, index, value) */
	ACT_QUARANTINE,   /* smfi_quarantine(value) */
	ACT_REJECT,       /* reply 550 5.7.1 value */
	ACT_TEMPFAIL,     /* reply 451 4.7.0 value: the message cannot be handled here */
} act_kind;

typedef struct {
	act_kind kind;
	char name[128];
	char value[512];
	unsigned index;
	unsigned span; /* ACT_DELETE: copies index, index-1, ... (0 means 1) */
} action;

#define DECIDE_MAX_ACTIONS (H_KIND_COUNT * MSG_MAX_SEEN + 8)

typedef struct {
	action a[DECIDE_MAX_ACTIONS];
	size_t n;
	char summary[768]; /* the decision, for the one log line */
	int tlslevel;      /* X-TLSLevel inserted: 0 none, 1 Try, 2 Require (metrics) */
	int gateway;       /* the gateway's status: -1 none, 0 success, 1 failure (metrics) */
} decision;

/* Classify a header name against the configuration. */
hdr_kind decide_header_kind(const decide_config *c, const char *name);

/*
 * Record a header of interest in the state. index counts same-named headers
 * (names compared case-insensitively), from 1. Status headers are also
 * counted in m->status, however many copies come.
 */
void msg_note_header(msg_state *m, hdr_kind kind, const char *name, unsigned index,
                     const char *value);

/* The actions for a message; d->summary says what was decided and why. */
void decide_message(const decide_config *c, const msg_state *m, decision *d);

/* Does a Content-Type value announce PGP/MIME or S/MIME enveloped data? */
int decide_encrypted_content(const char *content_type);

/*
 * Check and set tls_header, tls_require and tls_try: a field name, two
 * values that are not empty, have no CR, LF or surrounding space, fit
 * without being cut, and differ (ignoring case). 0, or -1 with why.
 */
int decide_tls_header(decide_config *c, const char *name, const char *require, const char *try,
                      char *why, size_t whylen);

/*
 * Backup encryption (decide_backup.c): does this message get the backup
 * header (milter.backup_header) right after X-TLSLevel? 1 yes, 0 no; *why
 * says why for the summary, or is NULL when no forced recipient asked for
 * it. trusted: a trusted Require header was on the message.
 */
int decide_backup(const decide_config *c, const msg_state *m, int trusted, const char **why);

/* The backup header's name must differ from every other header setting. 0, or -1 with why. */
int decide_backup_check(const decide_config *c, char *why, size_t whylen);

#endif /* MILTER_DECIDE_H */
