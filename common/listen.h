/*
 * NAME
 *	listen.h - listening sockets from Postfix-style addresses or systemd
 * DESCRIPTION
 *	ADDR is "inet:HOST:PORT" (HOST a name, an IPv4 address or a bracketed
 *	IPv6 address) or "unix:PATH", as in Postfix's main.cf. A UNIX socket
 *	gets the owner, group and mode asked for; a stale socket file at PATH
 *	is replaced, any other file is an error.
 *
 *	With systemd socket activation (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES),
 *	listen_systemd() hands out the inherited socket named NAME (the
 *	FileDescriptorName= of the .socket unit), so a restart of the daemon
 *	drops no connection: the kernel keeps queueing them.
 */
#ifndef FORCETLS_LISTEN_H
#define FORCETLS_LISTEN_H

#include <stddef.h>

typedef struct {
	const char *owner; /* user name or "" */
	const char *group; /* group name or "" */
	unsigned mode;     /* e.g. 0660 */
	int backlog;
} listen_perms;

/* A non-blocking, close-on-exec listening socket, or -1 with why. */
int listen_open(const char *addr, const listen_perms *perms, char *why, size_t whylen);

/*
 * Give an existing UNIX socket (one libmilter made, say) the owner, group
 * and mode of perms (backlog unused). 0, or -1 with why.
 */
int listen_unix_perms(const char *path, const listen_perms *perms, char *why, size_t whylen);

/* An octal mode such as "0660" into *mode: 0, or -1 when malformed. */
int listen_parse_mode(const char *s, unsigned *mode);

/*
 * The socket systemd passed under name, non-blocking; -1 when there is
 * none (no activation, or no socket of that name).
 */
int listen_systemd(const char *name);

#endif
