/*
 * NAME
 *	tlsmaps_netlist.c - a list of addresses and networks as a small table
 * SUMMARY
 *	tlsmaps_networks_load()
 * DESCRIPTION
 *	internal_networks (both daemons) and gateway_networks (milter) are
 *	lists of addresses and networks. Each becomes a small tlsmaps table,
 *	so that they get the table's syntax, diagnostics and longest-prefix
 *	match. An item that is not an address or a network (a domain, a next
 *	hop) is an error.
 * DIAGNOSTICS
 *	Through opts->report, as (name, item number, message).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsmaps_int.h"

static void report(const tlsmaps_options *o, const char *name, unsigned line, const char *msg)
{
	if (o != NULL && o->report != NULL)
		o->report(o->report_ctx, name, line, msg);
}

tlsmaps_table *tlsmaps_networks_load(const char *const *items, size_t n, const char *name,
                                     const tlsmaps_options *opts, unsigned *nerrors)
{
	size_t len = 1, off = 0;
	char *buf, msg[TLSMAPS_KEY_MAX + 64];
	tlsmaps_builder *b;
	tlsmaps_table *t;

	if (nerrors != NULL)
		*nerrors = 0;
	for (size_t i = 0; i < n; i++)
		len += strlen(items[i]) + 1;
	if ((buf = malloc(len)) == NULL || (b = tlsmaps_builder_new(opts)) == NULL) {
		free(buf);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(items[i]);

		memcpy(buf + off, items[i], l);
		off += l;
		buf[off++] = '\n';
	}
	tlsmaps_builder_add_buffer(b, name, buf, off);
	t = tlsmaps_builder_finish(b, nerrors);
	free(buf);
	if (t == NULL)
		return NULL;
	for (size_t i = 0; i < tlsmaps_table_count(t); i++)
		if (tlsmaps_entry_kind(t, (tlsmaps_id)i) != TLSMAPS_KIND_NETWORK) {
			snprintf(msg, sizeof(msg), "%s: expected an address or a network",
			         tlsmaps_entry_key(t, (tlsmaps_id)i));
			report(opts, name, tlsmaps_entry_line(t, (tlsmaps_id)i), msg);
			if (nerrors != NULL)
				(*nerrors)++;
			tlsmaps_table_free(t);
			return NULL;
		}
	return t;
}
