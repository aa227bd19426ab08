/*
 * NAME
 *	notify.c - tell the service manager (systemd) where the daemon is
 * SUMMARY
 *	notify_ready(), notify_reloading(), notify_reloaded(), notify_stopping()
 * DESCRIPTION
 *	See notify.h. libsystemd's sd_notify(3) does the sending: it reads
 *	NOTIFY_SOCKET on every call and returns 0 at once when it is unset.
 *	We never unset it (unset_environment 0): reloads notify long after the
 *	start. One atomic state (starting, serving, stopping) gates the reload
 *	pair.
 *
 *	systemd 252 (Debian 12) puts a running Type=notify service into
 *	"reloading" on RELOADING=1 and back to "running" on READY=1; systemd
 *	253's Type=notify-reload also wants MONOTONIC_USEC= (CLOCK_MONOTONIC,
 *	in microseconds) with RELOADING=1, which 252 ignores.
 * DIAGNOSTICS
 *	None. A message that cannot be sent is dropped: systemd then times the
 *	start out (TimeoutStartSec=) and says so; the daemon serves all the same.
 */
#include <stdatomic.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "notify.h"

enum { STARTING, SERVING, STOPPING };

static atomic_int state = STARTING;

void notify_ready(void)
{
	int was = STARTING;

	if (atomic_compare_exchange_strong(&state, &was, SERVING))
		(void)sd_notify(0, "READY=1\nSTATUS=ready");
}

void notify_reloading(void)
{
	struct timespec ts;

	if (atomic_load(&state) != SERVING)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	(void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	                 (unsigned long long)ts.tv_sec * 1000000ULL +
	                         (unsigned long long)ts.tv_nsec / 1000ULL);
}

void notify_reloaded(void)
{
	if (atomic_load(&state) == SERVING)
		(void)sd_notify(0, "READY=1");
}

void notify_stopping(void)
{
	if (atomic_exchange(&state, STOPPING) != STOPPING)
		(void)sd_notify(0, "STOPPING=1");
}
