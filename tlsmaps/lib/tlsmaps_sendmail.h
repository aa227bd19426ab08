/*
 * NAME
 *	tlsmaps_sendmail.h - the table as Sendmail access map entries, one mapping
 * SUMMARY
 *	#include "tlsmaps_sendmail.h"
 * DESCRIPTION
 *	The one mapping from a table to Sendmail access map lines (TLS_Rcpt:,
 *	TLS_Srv:, TLS_Clt:). tlsmaps compile --format sendmail-access prints
 *	it for makemap; forcetls-policyd answers Sendmail's socket map from
 *	it. Both use this code, so the live answers are the static ones.
 *
 *	tlsmaps_smap_build() compiles a table (the rules are at the top of
 *	tlsmaps_sendmail.c). tlsmaps_smap_print() writes the makemap source.
 *	tlsmaps_smap_lookup() answers one key as a hash map built by makemap
 *	would: keys are compared without regard to ASCII case (makemap and
 *	Sendmail both fold keys to lower case unless -f is given), and only
 *	whole keys match (the walk over "a.b.c", ".b.c", ... is Sendmail's).
 * DIAGNOSTICS
 *	tlsmaps_smap_build() returns NULL when out of memory. Entries that the
 *	access map cannot express, or expresses only in part, are written to
 *	err as "FILE:LINE: KEY: reason" (err NULL: not written) and counted in
 *	*noted. tlsmaps_smap_print() returns -1 on a write error.
 * SEE ALSO
 *	tlsmaps_sendmail.c, sendmail_map.c, docs/COMPILE.md
 */
#ifndef TLSMAPS_SENDMAIL_H
#define TLSMAPS_SENDMAIL_H

#include <stddef.h>
#include <stdio.h>

#include "tlsmaps.h"

typedef struct tlsmaps_smap tlsmaps_smap;

/* Flags of tlsmaps_smap_build(). */
#define TLSMAPS_SMAP_NO_CLT 1u /* leave the TLS_Clt lines out (the milter enforces inbound) */

/* The access map of table t (which must outlive it). NULL: out of memory. */
tlsmaps_smap *tlsmaps_smap_build(const tlsmaps_table *t, unsigned flags, FILE *err, int *noted);
void tlsmaps_smap_free(tlsmaps_smap *m);

/* The makemap source: comments naming each entry, then "TAG:KEY<TAB>RHS" lines. */
int tlsmaps_smap_print(const tlsmaps_smap *m, FILE *out);

/* Number of lines (keys) in the map. */
size_t tlsmaps_smap_count(const tlsmaps_smap *m);

/*
 * The RHS ("OK", "ENCR:128", "VERIFY:256") of key "TAG:KEY", in any case,
 * written into rhs (TLSMAPS_SMAP_RHS_MAX bytes will do); NULL: no such key.
 */
#define TLSMAPS_SMAP_RHS_MAX 32
const char *tlsmaps_smap_lookup(const tlsmaps_smap *m, const char *key, size_t len, char *rhs,
                                size_t rhslen);

#endif
