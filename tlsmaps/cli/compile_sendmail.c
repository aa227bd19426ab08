/*
 * NAME
 *	compile_sendmail.c - tlsmaps compile for Sendmail: access map entries
 * SUMMARY
 *	tlsmaps compile --format sendmail-access [--no-tls-clt] TABLE...
 * DESCRIPTION
 *	Writes access map lines "TAG:KEY<TAB>RHS" for makemap(8). The mapping
 *	is libtlsmaps' (tlsmaps_sendmail.c, whose head comment has the rules),
 *	the same one forcetls-policyd answers Sendmail's socket map from; this
 *	file only prints it. With no_clt (--no-tls-clt) the TLS_Clt lines are
 *	left out, for sites where forcetls-milter enforces inbound TLS.
 * DIAGNOSTICS
 *	Entries not (fully) expressible are listed on err, one line each.
 *	Returns their number, or -1 on a write error or when out of memory.
 * SEE ALSO
 *	compile.h, tlsmaps_sendmail.h, docs/COMPILE.md
 */
#include "compile.h"
#include "tlsmaps_sendmail.h"

int compile_sendmail_access_opts(const tlsmaps_table *t, int no_clt, FILE *out, FILE *err)
{
	int noted = 0, rc;
	tlsmaps_smap *m = tlsmaps_smap_build(t, no_clt ? TLSMAPS_SMAP_NO_CLT : 0, err, &noted);

	if (m == NULL)
		return -1;
	rc = tlsmaps_smap_print(m, out);
	tlsmaps_smap_free(m);
	if (rc < 0 || fflush(err) != 0 || ferror(err))
		return -1;
	return noted;
}

int compile_sendmail_access(const tlsmaps_table *t, FILE *out, FILE *err)
{
	return compile_sendmail_access_opts(t, 0, out, err);
}
