/*
 * NAME
 *	tlsmaps.h - the forced-TLS table: parser, lookup engine, key normalizer
 * SUMMARY
 *	#include <tlsmaps.h>
 * DESCRIPTION
 *	This is the one public header of libtlsmaps. It owns the table format of
 *	docs/tlsmaps.5 (SPEC section 2) and the lookup rules of SPEC section 3:
 *
 *	- A table is built from one or more files (or memory buffers) by a
 *	  builder, then frozen. A frozen table is immutable: any number of
 *	  threads may look keys up in it at once without locks. A reload builds a
 *	  new table and the caller swaps the pointer; the old table stays valid
 *	  until the caller frees it.
 *	- Lookups have three outcomes: TLSMAPS_FOUND, TLSMAPS_NOTFOUND and
 *	  TLSMAPS_ERROR. An error (a malformed key) is never read as "no match".
 *	- Domains: an exact entry beats the nearest parent ".domain" entry.
 *	  Addresses: the longest prefix wins. Literal next hops "[host]" or
 *	  "[host]:port" are consulted before both for outbound next hops.
 *	- Entries carry a direction (in, out, both); a lookup names the
 *	  direction it is for and entries of the other direction are invisible.
 *
 *	Entries are named by a tlsmaps_id, their index in load order. Accessor
 *	functions give the key, level, attributes, file and line of an entry.
 * DIAGNOSTICS
 *	The library never logs. The builder reports every problem it finds to
 *	the caller's callback as (file, line, message), sorted by file and line,
 *	and tlsmaps_builder_finish() then returns NULL. Lookup functions fill a
 *	caller-supplied "why" buffer when they return TLSMAPS_ERROR.
 * SEE ALSO
 *	tlsmaps(1), tlsmaps(5), docs/ARCHITECTURE.md
 */
#ifndef TLSMAPS_H
#define TLSMAPS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TLSMAPS_VERSION "0.1.0"

/* Lookup outcome. */
typedef enum {
	TLSMAPS_ERROR = -1, /* malformed key or internal limit: never "no match" */
	TLSMAPS_FOUND = 0,
	TLSMAPS_NOTFOUND = 1,
} tlsmaps_status;

/* Postfix TLS security levels, in table syntax order. */
typedef enum {
	TLSMAPS_LEVEL_NONE = 0,
	TLSMAPS_LEVEL_MAY,
	TLSMAPS_LEVEL_ENCRYPT,
	TLSMAPS_LEVEL_DANE,
	TLSMAPS_LEVEL_DANE_ONLY,
	TLSMAPS_LEVEL_FINGERPRINT,
	TLSMAPS_LEVEL_VERIFY,
	TLSMAPS_LEVEL_SECURE,
	TLSMAPS_LEVEL_COUNT
} tlsmaps_level;

/* Directions; BOTH is IN|OUT. */
#define TLSMAPS_DIR_IN 1u
#define TLSMAPS_DIR_OUT 2u
#define TLSMAPS_DIR_BOTH 3u

/* What a key names. */
typedef enum {
	TLSMAPS_KIND_DOMAIN = 0, /* example.com: that domain */
	TLSMAPS_KIND_PARENT,     /* .example.com, *.example.com: subdomains */
	TLSMAPS_KIND_NETWORK,    /* 192.0.2.7, 192.0.2.0/24, 10.1.*, 2001:db8::/32 */
	TLSMAPS_KIND_NEXTHOP,    /* [host], [host]:port, [192.0.2.7] */
} tlsmaps_kind;

typedef uint32_t tlsmaps_id;
#define TLSMAPS_NO_ID UINT32_MAX

/* Limits. */
#define TLSMAPS_NAME_MAX 253    /* longest domain name, no trailing dot */
#define TLSMAPS_KEY_MAX 300     /* longest key text, "[name]:65535" fits */
#define TLSMAPS_POLICY_MAX 1024 /* longest policy text tlsmaps_policy() writes */
#define TLSMAPS_WHY_MAX 256     /* a "why" buffer of this size is never truncated */
#define TLSMAPS_MIN_BITS_DEFAULT 128
#define TLSMAPS_ADDR_STR_MAX 46 /* INET6_ADDRSTRLEN */

/* An IPv4 or IPv6 address. IPv4 uses bytes[0..3]. */
typedef struct {
	uint8_t family; /* 4 or 6 */
	uint8_t bytes[16];
} tlsmaps_addr;

/* ---------------------------------------------------------------------------
 * Keys: parsing and normalization (tlsmaps_key.c).
 */

/*
 * A lookup key as a caller has it (a Postfix next hop, a client name, a
 * sender domain, an address), normalized: lowercased, trailing dot removed,
 * ":port" split off, brackets and an "ipv6:" prefix recognised.
 */
typedef enum {
	TLSMAPS_QUERY_NAME = 0,     /* example.com, example.com:25 */
	TLSMAPS_QUERY_PARENT,       /* .example.com (as Postfix sends after NOTFOUND) */
	TLSMAPS_QUERY_ADDR,         /* 192.0.2.7, 2001:db8::1 */
	TLSMAPS_QUERY_LITERAL_NAME, /* [mx.example.com], [mx.example.com]:587 */
	TLSMAPS_QUERY_LITERAL_ADDR, /* [192.0.2.7], [ipv6:2001:db8::1]:25 */
} tlsmaps_query_kind;

typedef struct {
	tlsmaps_query_kind kind;
	unsigned port;     /* 0 when none was given */
	tlsmaps_addr addr; /* for the _ADDR kinds */
	size_t name_len;
	char name[TLSMAPS_NAME_MAX + 2]; /* for the NAME kinds: ".b.c" keeps its dot */
} tlsmaps_query;

/*
 * Parse and normalize a lookup key of len bytes (not necessarily
 * NUL-terminated). Returns 0, or -1 with a reason in why.
 */
int tlsmaps_query_parse(const char *key, size_t len, tlsmaps_query *q, char *why, size_t whylen);

/* Parse a bare IPv4 or IPv6 address (no brackets, no port). 0 or -1. */
int tlsmaps_addr_parse(const char *s, size_t len, tlsmaps_addr *a);

/* Format an address; buf should hold TLSMAPS_ADDR_STR_MAX bytes. */
const char *tlsmaps_addr_format(const tlsmaps_addr *a, char *buf, size_t len);

/* ---------------------------------------------------------------------------
 * Levels and attributes (tlsmaps_policy.c).
 */

/* "encrypt" for TLSMAPS_LEVEL_ENCRYPT; NULL for an invalid level. */
const char *tlsmaps_level_name(tlsmaps_level level);

/* Parse a level name (case-insensitive). 0 or -1. */
int tlsmaps_level_parse(const char *s, size_t len, tlsmaps_level *level);

/*
 * Strictness rank for "the strictest match wins": none < may < dane <
 * encrypt < dane-only < verify < fingerprint = secure. Opportunistic DANE
 * ranks below encrypt because without TLSA records it falls back to may.
 */
int tlsmaps_level_rank(tlsmaps_level level);

/* True for encrypt and every level stronger than it (TLS is mandatory). */
int tlsmaps_level_mandatory(tlsmaps_level level);

/* True for levels that need a verified peer certificate when enforced inbound. */
int tlsmaps_level_needs_cert(tlsmaps_level level);

/* ---------------------------------------------------------------------------
 * Building a table (tlsmaps_build.c).
 */

typedef struct tlsmaps_builder tlsmaps_builder;
typedef struct tlsmaps_table tlsmaps_table;

/* Receives each diagnostic: file name, line number (0: none) and message. */
typedef void (*tlsmaps_report_fn)(void *ctx, const char *file, unsigned line, const char *message);

/*
 * What happens when mandatory TLS to a destination fails (on_tls_failure=,
 * SPEC section 2): Postfix defers the message, or hands it to the
 * encryption gateway through the backup transport (Forcepoint's "backup
 * encryption"). Only outbound domain entries (example.com, .example.com)
 * of encrypt or stronger can ask for the gateway: Postfix picks a
 * transport by recipient domain, never by MX address or literal next hop.
 */
typedef enum {
	TLSMAPS_TLSFAIL_DEFER = 0,   /* the message stays queued (the default) */
	TLSMAPS_TLSFAIL_GATEWAY = 1, /* the backup transport: TLS to the gateway */
} tlsmaps_tls_failure;

typedef struct {
	tlsmaps_level default_level; /* level of entries that name none: encrypt */
	/*
	 * on_tls_failure of entries that name none (tables.on_tls_failure):
	 * DEFER. GATEWAY applies only to the entries that can take it (above);
	 * every other entry defers.
	 */
	tlsmaps_tls_failure on_tls_failure;
	tlsmaps_report_fn report; /* may be NULL: diagnostics are then dropped */
	void *report_ctx;
} tlsmaps_options;

/* Fill *opts with the defaults. */
void tlsmaps_options_init(tlsmaps_options *opts);

/* NULL only when out of memory. opts may be NULL for defaults. */
tlsmaps_builder *tlsmaps_builder_new(const tlsmaps_options *opts);

/*
 * Add the lines of a file, or of a memory buffer named "name" in
 * diagnostics. Problems are recorded and reported by _finish. Returns 0, or
 * -1 when the file cannot be read (also recorded as a diagnostic with line 0).
 */
int tlsmaps_builder_add_file(tlsmaps_builder *b, const char *path);
int tlsmaps_builder_add_buffer(tlsmaps_builder *b, const char *name, const char *buf, size_t len);

/*
 * Freeze the table. Reports every diagnostic through the callback, frees the
 * builder, and returns the table, or NULL if there was any error. *nerrors
 * (if not NULL) receives the number of errors.
 */
tlsmaps_table *tlsmaps_builder_finish(tlsmaps_builder *b, unsigned *nerrors);

/* Discard a builder without building. */
void tlsmaps_builder_free(tlsmaps_builder *b);

/* Convenience: build from files in one call. */
tlsmaps_table *tlsmaps_load(const char *const *paths, size_t npaths, const tlsmaps_options *opts,
                            unsigned *nerrors);

void tlsmaps_table_free(tlsmaps_table *t);

/* Number of entries; ids run from 0 to count-1 in load order. */
size_t tlsmaps_table_count(const tlsmaps_table *t);

/* Number of network entries visible in direction dir (policyd: is DNS needed?). */
size_t tlsmaps_table_network_count(const tlsmaps_table *t, unsigned dir);

/* ---------------------------------------------------------------------------
 * Entries.
 */

tlsmaps_kind tlsmaps_entry_kind(const tlsmaps_table *t, tlsmaps_id id);
tlsmaps_level tlsmaps_entry_level(const tlsmaps_table *t, tlsmaps_id id);
unsigned tlsmaps_entry_direction(const tlsmaps_table *t, tlsmaps_id id);
unsigned tlsmaps_entry_min_bits(const tlsmaps_table *t, tlsmaps_id id);
/* 1 when the entry set min_bits= itself, 0 when it has the default. */
int tlsmaps_entry_min_bits_explicit(const tlsmaps_table *t, tlsmaps_id id);
/* Canonical key text: "example.com", ".example.com", "192.0.2.0/24", "[mx.example.com]:587". */
const char *tlsmaps_entry_key(const tlsmaps_table *t, tlsmaps_id id);
/* Postfix attributes as written (normalized spacing), "" when none. */
const char *tlsmaps_entry_attrs(const tlsmaps_table *t, tlsmaps_id id);
/* The value of Postfix attribute "name" (e.g. "match"), or NULL. */
const char *tlsmaps_entry_attr(const tlsmaps_table *t, tlsmaps_id id, const char *name,
                               size_t *len);
const char *tlsmaps_entry_file(const tlsmaps_table *t, tlsmaps_id id);
unsigned tlsmaps_entry_line(const tlsmaps_table *t, tlsmaps_id id);
/* For NETWORK entries: the network address and prefix length. */
void tlsmaps_entry_network(const tlsmaps_table *t, tlsmaps_id id, tlsmaps_addr *addr,
                           unsigned *prefix_len);
/* For NEXTHOP entries: the port, 0 when the key has none. */
unsigned tlsmaps_entry_port(const tlsmaps_table *t, tlsmaps_id id);
/*
 * The entry's on_tls_failure=, or the table's default (tlsmaps_options)
 * when it names none and can take the gateway; DEFER for every entry that
 * cannot (inbound-only, network, next hop, below encrypt).
 */
tlsmaps_tls_failure tlsmaps_entry_on_tls_failure(const tlsmaps_table *t, tlsmaps_id id);
/* 1 when the entry set on_tls_failure= itself. */
int tlsmaps_entry_on_tls_failure_explicit(const tlsmaps_table *t, tlsmaps_id id);
/* "defer" or "gateway". */
const char *tlsmaps_tls_failure_name(tlsmaps_tls_failure f);
/*
 * 1 when a parent form of name (".b.c", then ".c" for "a.b.c" or ".a.b.c";
 * name normalized, len bytes) finds an outbound entry that asks for the
 * gateway. The transport map answers ":" (Postfix's default transport)
 * for a deferring entry under such a parent, so that a static map's later
 * ".parent" lookup cannot send it to the backup.
 */
int tlsmaps_backup_parent(const tlsmaps_table *t, const char *name, size_t len);
/*
 * The U-label (UTF-8) form of a normalized domain key ("xn--bcher-kva.example"
 * or ".xn--bcher-kva.example") into out: 1 when it differs from key (an
 * A-label in it), 0 when key is all ASCII labels, -1 when it does not
 * convert or out is too small. With smtputf8_enable = yes Postfix looks a
 * UTF-8 address's domain up as the address has it, so static maps (tlsmaps
 * compile) hold both forms.
 */
int tlsmaps_name_ulabel(const char *key, char *out, size_t outlen);

/*
 * The outbound policy text Postfix accepts after "OK" in a
 * smtp_tls_policy_maps reply: "LEVEL [ATTR=VALUE ...]". forcetls's own
 * attributes never appear: direction= is dropped and min_bits above 128 on
 * a TLS level becomes "ciphers=high". Returns the length written, or -1 if
 * len is too small (TLSMAPS_POLICY_MAX always suffices).
 */
int tlsmaps_policy(const tlsmaps_table *t, tlsmaps_id id, char *buf, size_t len);

/* ---------------------------------------------------------------------------
 * Lookups (tlsmaps_lookup.c). All are read-only on the table.
 */

/*
 * Domain entries for a name: exact first, then the nearest parent. A name
 * with a leading dot (".b.c") matches parent entries only, as Postfix asks
 * for them after a NOTFOUND. name is normalized (lowercase, no trailing
 * dot): use tlsmaps_query_parse() first when it comes from outside.
 */
tlsmaps_status tlsmaps_lookup_name(const tlsmaps_table *t, const char *name, size_t len,
                                   unsigned dir, tlsmaps_id *id);

/* Network entries: the longest prefix that contains a. */
tlsmaps_status tlsmaps_lookup_addr(const tlsmaps_table *t, const tlsmaps_addr *a, unsigned dir,
                                   tlsmaps_id *id);

/*
 * The static part of an outbound decision for a parsed next hop (SPEC 3,
 * steps 1 and 2, and step 3 for a literal address): a literal next-hop
 * entry with the port, then without it, then domain entries on the name,
 * or network entries for a literal address. A NAME or LITERAL_NAME query
 * that finds nothing here may still match network entries through DNS;
 * that is the caller's business (tlsmaps_table_network_count()).
 */
tlsmaps_status tlsmaps_lookup_nexthop(const tlsmaps_table *t, const tlsmaps_query *q,
                                      tlsmaps_id *id);

/*
 * Any parsed query in direction dir: nexthop rules for DIR_OUT, names and
 * addresses (brackets and ports ignored) for DIR_IN. This is what
 * "tlsmaps lookup" does.
 */
tlsmaps_status tlsmaps_lookup_query(const tlsmaps_table *t, const tlsmaps_query *q, unsigned dir,
                                    tlsmaps_id *id);

/* ---------------------------------------------------------------------------
 * Decisions shared by forcetls-policyd and forcetls-milter (tlsmaps_decide.c).
 *
 * Both daemons translate what their MTA sends into these plain structs and
 * ask the same two questions here; neither decides anything on its own.
 * Each answer has three outcomes, and the third (an input that cannot be
 * parsed) is always answered strictly by the caller: TEMP to Postfix,
 * X-TLSLevel: Require, a 4xx reply. It is never read as "no match".
 */

typedef enum {
	TLSMAPS_VERDICT_ERROR = -1, /* cannot decide: answer strictly (a 4xx) */
	TLSMAPS_VERDICT_PASS = 0,   /* the session may go on */
	TLSMAPS_VERDICT_REFUSE = 1, /* a listed client without the TLS its entry asks */
} tlsmaps_verdict;

#define TLSMAPS_DIGESTS_MAX 4

/*
 * One SMTP session at MAIL FROM, as the MTA describes it. Every string may
 * be NULL. Text is as the MTA sends it; the core parses it.
 */
typedef struct {
	const tlsmaps_addr *client_addr; /* parsed, or NULL: then client_address */
	const char *client_address;      /* "192.0.2.7"; NULL, "" or "unknown": none */
	const char *client_name;         /* NULL, "", "unknown" or "[...]": no name */
	const char *sender;              /* "u@d" or "<u@d>"; no '@' (or "<>"): no domain */
	const char *tls_protocol;        /* "TLSv1.3"; NULL or "": clear text */
	const char *key_size;            /* decimal bits; NULL or "": 0; else a number */
	int cert_verified;               /* a client certificate the MTA verified */
	/*
	 * The verified certificate's subject CN (Postfix: ccert_subject and the
	 * milter's {cert_subject}; Sendmail: the CN of its {cert_subject} DN,
	 * tlsmaps_dn_cn()). NULL or "": none, and then an entry that checks
	 * names (verify or secure with match=, secure without) refuses.
	 */
	const char *cert_cn;
	/*
	 * Certificate digests, as the MTA gives them (Postfix policy: ccert_
	 * fingerprint, ccert_pubkey_fingerprint; Sendmail: {cert_md5},
	 * {cert_fp}). NULL: the MTA did not send this one; "": no certificate.
	 */
	const char *digests[TLSMAPS_DIGESTS_MAX];
	int authenticated; /* SASL (Postfix sasl_username, milter {auth_authen}) */
	int internal;      /* the client address is in the daemon's internal networks */
} tlsmaps_session;

typedef struct {
	int exempt_internal;      /* internal clients are not checked: default 1 */
	int exempt_authenticated; /* authenticated clients are not checked: default 1 */
} tlsmaps_inbound_options;

void tlsmaps_inbound_options_init(tlsmaps_inbound_options *o);

typedef struct {
	tlsmaps_verdict verdict;
	tlsmaps_id id;                /* the entry that decided, or TLSMAPS_NO_ID */
	char reason[TLSMAPS_WHY_MAX]; /* "no TLS", "sender domain: ..."; printable, escaped */
} tlsmaps_inbound_result;

/*
 * Must this client use TLS, and does it? Exempt clients pass first. Then
 * the client address, client name and sender domain are parsed (any that
 * cannot be: ERROR) and looked up among inbound entries; the strictest
 * match decides (tlsmaps_level_rank). Below encrypt: PASS. Encrypt and
 * stronger need TLS and key_size >= min_bits; verify and secure a verified
 * certificate; fingerprint a given digest listed in match= (no digests at
 * all from the MTA: REFUSE). verify and secure with match= also need
 * cert_cn to match one of its names, and secure without match= the client
 * name (match=hostname): docs/tlsmaps.5, "Inbound certificate names".
 * o may be NULL for the defaults.
 */
tlsmaps_verdict tlsmaps_decide_inbound(const tlsmaps_table *t, const tlsmaps_session *s,
                                       const tlsmaps_inbound_options *o, tlsmaps_inbound_result *r);

/*
 * The CN of a certificate subject DN as Sendmail gives it in {cert_subject}:
 * "/C=DE/O=Bank/CN=mx.bank.example", xtext-encoded ("+2F" for '/'), into
 * cn (cnlen bytes). Returns 0, or -1 with a reason in why when the DN has
 * no CN, more than one, a CN that does not fit, or a bad encoding: a DN
 * that could be read two ways never yields a name.
 */
int tlsmaps_dn_cn(const char *dn, size_t len, char *cn, size_t cnlen, char *why, size_t whylen);

/* The verdict as a word: "PASS", "REFUSE", "TEMP". */
const char *tlsmaps_verdict_name(tlsmaps_verdict v);

typedef enum {
	TLSMAPS_RCPT_ERROR = -1,     /* cannot parse: the milter sets Require */
	TLSMAPS_RCPT_FORCED = 0,     /* an outbound entry of encrypt or stronger */
	TLSMAPS_RCPT_NOT_FORCED = 1, /* none, or a weaker one */
} tlsmaps_rcpt_status;

typedef struct {
	tlsmaps_id id;                     /* the matching entry, or TLSMAPS_NO_ID */
	char domain[TLSMAPS_NAME_MAX + 3]; /* A-label domain or "[192.0.2.7]"; "" if none */
	char reason[TLSMAPS_WHY_MAX];      /* for ERROR */
} tlsmaps_rcpt_result;

/*
 * Is mail to this recipient address ("u@d" or "<u@d>", len bytes) forced?
 * The domain after the last '@' is looked up among outbound domain entries
 * (a domain literal "[192.0.2.7]" among next-hop and network entries). An
 * address without '@' is local: NOT_FORCED. Any other domain that cannot
 * be parsed: ERROR. A forced domain named before it, in a source route or
 * a routed local part ("@d:u@h", "u%d@h", "d!u@h", "\"u@d\"@h", "u%d"),
 * makes it FORCED too: the MTA may deliver there.
 */
tlsmaps_rcpt_status tlsmaps_decide_recipient(const tlsmaps_table *t, const char *rcpt, size_t len,
                                             tlsmaps_rcpt_result *r);

/*
 * A list of addresses and networks (internal_networks, gateway_networks)
 * as a small table, named "name" in diagnostics, which go to opts->report.
 * Every item must be an address or a network. NULL on any error (and
 * *nerrors, if not NULL, counts them); an empty list gives an empty table.
 */
tlsmaps_table *tlsmaps_networks_load(const char *const *items, size_t n, const char *name,
                                     const tlsmaps_options *opts, unsigned *nerrors);

#ifdef __cplusplus
}
#endif

#endif /* TLSMAPS_H */
