/*
 * NAME
 *	compile.h - tlsmaps compile backends: the table as native MTA maps
 * SUMMARY
 *	#include "compile.h"
 * DESCRIPTION
 *	Each backend writes the map source for one format to out, and lists
 *	every entry the format cannot express (or expresses only in part) on
 *	err, one line each, as "FILE:LINE: KEY: reason". No entry is dropped
 *	silently. The mapping rules are documented at the top of
 *	compile_postfix.c and compile_sendmail.c, and in docs/COMPILE.md.
 * DIAGNOSTICS
 *	Each function returns the number of entries it reported on err, or -1
 *	on a write error (on out or err).
 * SEE ALSO
 *	cmd_compile.c, docs/COMPILE.md
 */
#ifndef COMPILE_H
#define COMPILE_H

#include <stdio.h>

#include "tlsmaps.h"

/* smtp_tls_policy_maps source for postmap (lmdb:, hash:, cdb:). */
int compile_postfix_policy(const tlsmaps_table *t, FILE *out, FILE *err);

/*
 * transport_maps source for postmap: the domains whose entry says
 * on_tls_failure=gateway get backup ("forcetls-backup:"), as
 * forcetls-policyd's policyd.transport_map_name answers.
 */
int compile_postfix_transport(const tlsmaps_table *t, const char *backup, FILE *out, FILE *err);

/* A cidr: table for check_client_access (inbound address entries). */
int compile_postfix_client_cidr(const tlsmaps_table *t, FILE *out, FILE *err);

/* Sendmail access map entries (TLS_Rcpt:, TLS_Srv:, TLS_Clt:) for makemap. */
int compile_sendmail_access(const tlsmaps_table *t, FILE *out, FILE *err);
/* ... no_clt: without the TLS_Clt lines (forcetls-milter enforces inbound). */
int compile_sendmail_access_opts(const tlsmaps_table *t, int no_clt, FILE *out, FILE *err);

#endif
