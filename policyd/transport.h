/*
 * NAME
 *	transport.h - forcetls-policyd: Postfix transport_maps, the backup route
 * SUMMARY
 *	#include "transport.h"
 * DESCRIPTION
 *	The answers for policyd.transport_map_name (transport.c): the table's
 *	on_tls_failure=gateway destinations go to policyd.backup_transport.
 */
#ifndef TRANSPORT_H
#define TRANSPORT_H

#include "policyd.h"

/* The settings of transport.c, for the settings table of main.c. */
#define TRANSPORT_CFG_ROWS                                                                         \
	{"policyd.transport_map_name", CFG_STRING, "forcetls-transport", 0, 0, 0, NULL},           \
	{                                                                                          \
		"policyd.backup_transport", CFG_STRING, "forcetls-backup:", 0, 0, 0, NULL          \
	}

/* After the other map names are read: 0, or -1 with the bad setting logged. */
int transport_snapshot_load(snapshot *s);

/* The socketmap reply for one transport_maps key ("OK forcetls-backup:", "NOTFOUND "...). */
size_t transport_answer(policyd *d, const char *key, size_t len, char *reply, size_t rlen);

#endif
