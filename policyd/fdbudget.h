/*
 * NAME
 *	fdbudget.h - the file descriptors the listeners' connections may use
 * DESCRIPTION
 *	See fdbudget.c.
 */
#ifndef POLICYD_FDBUDGET_H
#define POLICYD_FDBUDGET_H

/* A listener with this max_connections starts (raises RLIMIT_NOFILE) or ends. */
void fdbudget_add(unsigned max_connections);
void fdbudget_remove(unsigned max_connections);
/* How many connections a listener with this max_connections may hold now. */
unsigned fdbudget_cap(unsigned max_connections);
/* RLIMIT_NOFILE's soft limit as last seen (0: unknown). */
unsigned long fdbudget_limit(void);

#endif
