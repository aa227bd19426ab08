/*
 * NAME
 *	privs.h - run as an unprivileged user after binding
 * DESCRIPTION
 *	privs_drop() switches a process started as root to user (its uid,
 *	its primary group, no supplementary groups). It does nothing when the
 *	process is not root or user is "". Both daemons call it once their
 *	sockets exist and before they read the table.
 */
#ifndef FORCETLS_PRIVS_H
#define FORCETLS_PRIVS_H

#include <stddef.h>

/* 0, or -1 with why ("no user \"x\"", "cannot run as x: ..."). */
int privs_drop(const char *user, char *why, size_t whylen);

#endif
