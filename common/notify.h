/*
 * NAME
 *	notify.h - tell the service manager (systemd) where the daemon is
 * DESCRIPTION
 *	The sd_notify(3) messages of a Type=notify service, for both daemons:
 *	notify_ready() once the daemon serves (its sockets are bound or taken,
 *	its table is loaded), notify_reloading() and notify_reloaded() around
 *	every reload, done or refused (common/reload.c), notify_stopping()
 *	when it begins to stop. Each is a no-op when NOTIFY_SOCKET is unset.
 *
 *	The reload pair says nothing before notify_ready() or after
 *	notify_stopping(): a reload thread that runs during start must not
 *	tell systemd the start is over, nor one that runs during a stop that
 *	the daemon serves again. Any thread may call any of these.

 */
#ifndef FORCETLS_NOTIFY_H
#define FORCETLS_NOTIFY_H

/* READY=1 and STATUS=ready, once: later calls do nothing (see notify_reloaded()). */
void notify_ready(void);
/* RELOADING=1 with MONOTONIC_USEC= (systemd 253 wants it; 252 ignores it). */
void notify_reloading(void);
/* READY=1 after a reload, installed or refused. */
void notify_reloaded(void);
/* STOPPING=1. */
void notify_stopping(void);

#endif
