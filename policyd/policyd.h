/*
 * NAME
 *	policyd.h - forcetls-policyd: the daemon's shared state
 * DESCRIPTION
 *	One event loop, one resolver, one current snapshot. A snapshot is the
 *	configuration and table that decisions use; it is refcounted, so a
 *	request waiting for DNS keeps the snapshot it started with while a
 *	reload installs a new one (SPEC section 5: lookups in flight never see
 *	half a table). Requests run in the loop's thread; a reload is built in
 *	common/reload.c's thread and handed to the loop, which swaps d->snap.
 *	Reference counts are atomic (reload.h), so either thread may drop one.
 */
#ifndef POLICYD_H
#define POLICYD_H

#include <event2/event.h>

#include "config.h"
#include "policy_request.h"
#include "ratelog.h"
#include "reload.h"
#include "resolver.h"
#include "tlsmaps.h"
#include "tlsmaps_sendmail.h"

typedef struct snapshot {
	rsnap rs; /* first: refcount, table path, entry count, guard (reload.h) */
	cfg *cfg;
	tlsmaps_table *table;
	/* Settings read from cfg once per load. */
	int dns_tempfail;             /* dns_failure = tempfail */
	const char *map_name;         /* socketmap map name we answer */
	const char *require_map_name; /* ... and the one answering at least encrypt */
	const char *inbound_reply;    /* "450 4.7.0 ..." */
	int log_lookups;
	/* Inbound (inbound.c): the exemptions and policyd.internal_networks. */
	tlsmaps_inbound_options inbound;
	tlsmaps_table *internal;
	/* Sendmail (sendmail.c): the access map answered as policyd.sendmail_map_name. */
	const char *sendmail_map_name; /* "": not served */
	tlsmaps_smap *smap;
	/* transport_maps (transport.c): policyd.transport_map_name, policyd.backup_transport. */
	const char *transport_map_name, *backup_transport;
} snapshot;

typedef struct {
	unsigned long by_level[TLSMAPS_LEVEL_COUNT]; /* OK answers */
	unsigned long notfound;
	unsigned long temp;
	unsigned long perm;
	unsigned long dns_temp;
	unsigned long malformed; /* bad socketmap or policy requests */
	unsigned long policy_requests;
	unsigned long policy_dunno;
	unsigned long policy_reject;
	unsigned long reloads;
	unsigned long reload_failures;
	unsigned long sendmail_ok, sendmail_notfound; /* policyd.sendmail_map_name */
} policyd_stats;

/*
 * The lines about bad requests that a client can cause at will, one per
 * request on a connection it keeps, one ratelog each (ratelog.h, per
 * policyd.connection_log_interval): the counters still count every one.
 */
enum {
	BAD_SM_TOOLONG,      /* socketmap.c: request longer than the limit */
	BAD_SM_FRAMING,      /* socketmap.c: not a netstring */
	BAD_SM_NOT_NAME_KEY, /* socketmap.c: not "NAME KEY" */
	BAD_SM_MAP_NAME,     /* socketmap.c: a map name not served */
	BAD_KEY,             /* outbound.c: a malformed key */
	BAD_TRANSPORT_KEY,   /* transport.c: a malformed key */
	BAD_POLICY_TOOLONG,  /* delegation.c: request longer than the limit */
	BAD_POLICY,          /* delegation.c: a malformed request */
	BAD_KINDS
};

typedef struct policyd {
	struct event_base *base;
	resolver *resolver;
	snapshot *snap;
	policyd_stats stats;
	ratelog bad[BAD_KINDS];
} policyd;

snapshot *snapshot_hold(snapshot *s);
void snapshot_release(snapshot *s);

/* outbound.c: the socketmap answer for a next hop; cb may run before return. */
typedef void (*outbound_cb)(void *ctx, const char *reply, size_t len);
/*
 * require: the answer of policyd.require_map_name, for mail that must leave
 * over TLS whatever the table says: the table's answer when it is mandatory
 * already (so verify, secure... keep their strength), else "encrypt".
 */
void outbound_decide(policyd *d, const char *key, size_t len, int require, outbound_cb cb,
                     void *ctx);

/* inbound.c: the policy delegation decision for one parsed request. */

/* Writes the "action=..." value (no "action=", no newline) into action. */
void inbound_decide(policyd *d, const policy_request *r, char *action, size_t len);

/* The strict answer for a session that cannot be checked (an input that does not parse). */
#define INBOUND_TEMP_REPLY "451 4.3.0 Cannot check the TLS policy for this session"

/* The inbound settings of a snapshot (s->cfg read): 0, or -1 with errors logged. */
int inbound_snapshot_load(snapshot *s);
void inbound_snapshot_free(snapshot *s);

/* sendmail.c: Sendmail's access map (policyd.sendmail_map_name), built with the table. */
int sendmail_snapshot_load(snapshot *s); /* after s->table: 0, or -1 logged */
void sendmail_snapshot_free(snapshot *s);
/* The socketmap reply for one key ("OK ENCR:128", "NOTFOUND ", "TEMP ..."); its length. */
size_t sendmail_answer(policyd *d, const char *key, size_t len, char *reply, size_t rlen);

/* transport.c: transport_maps (policyd.transport_map_name), the backup route. */
#define TRANSPORT_CFG_ROWS                                                                         \
	{"policyd.transport_map_name", CFG_STRING, "forcetls-transport", 0, 0, 0, NULL},           \
	{                                                                                          \
		"policyd.backup_transport", CFG_STRING, "forcetls-backup:", 0, 0, 0, NULL          \
	}
int transport_snapshot_load(snapshot *s); /* after the other map names: 0, or -1 logged */
/* The socketmap reply for one key ("OK forcetls-backup:", "NOTFOUND ", "TEMP ..."); its length. */
size_t transport_answer(policyd *d, const char *key, size_t len, char *reply, size_t rlen);

#endif
