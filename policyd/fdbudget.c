/*
 * NAME
 *	fdbudget.c - the file descriptors the listeners' connections may use
 * SUMMARY
 *	fdbudget_add(), fdbudget_remove(), fdbudget_cap(), fdbudget_limit()
 * DESCRIPTION
 *	The connections of every listener share the process's RLIMIT_NOFILE:
 *	1024 under systemd's default soft limit, while max_connections
 *	defaults to 1024 per listener. Without a budget, a flood of idle
 *	connections on the socketmap socket used every descriptor: accept(2)
 *	failed with EMFILE on the policy socket too, and so did DNS sockets
 *	and table reads.
 *
 *	fdbudget_add() raises the soft limit toward the sum of the listeners'
 *	max_connections plus FD_RESERVE (DNS sockets, table and config reads,
 *	the log), up to the hard limit. When that is not enough, each listener
 *	may hold its share of the limit less FD_RESERVE, in proportion to its
 *	max_connections (fdbudget_cap), so that every listener keeps room.
 * DIAGNOSTICS
 *	None here: server.c logs a refused connection with the lowered cap.
 */
#include <sys/resource.h>

#include "fdbudget.h"

#define FD_RESERVE 64 /* descriptors kept for all but connections */

static unsigned long wanted; /* the sum of the live listeners' max_connections */
static unsigned long limit;  /* RLIMIT_NOFILE's soft limit, once raised; 0: unknown */

static void update(void)
{
	struct rlimit r;
	rlim_t want = (rlim_t)(wanted + FD_RESERVE);

	if (getrlimit(RLIMIT_NOFILE, &r) < 0) {
		limit = 0;
		return;
	}
	if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < want) {
		r.rlim_cur = r.rlim_max == RLIM_INFINITY || r.rlim_max > want ? want : r.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &r); /* on failure, getrlimit tells */
		if (getrlimit(RLIMIT_NOFILE, &r) < 0) {
			limit = 0;
			return;
		}
	}
	limit = r.rlim_cur == RLIM_INFINITY ? ~0UL : (unsigned long)r.rlim_cur;
}

void fdbudget_add(unsigned max_connections)
{
	wanted += max_connections;
	update();
}

void fdbudget_remove(unsigned max_connections)
{
	wanted -= wanted >= max_connections ? max_connections : wanted;
}

unsigned fdbudget_cap(unsigned max_connections)
{
	unsigned long avail, share;

	if (limit == 0 || wanted == 0 || limit >= wanted + FD_RESERVE)
		return max_connections;
	avail = limit > 2 * FD_RESERVE ? limit - FD_RESERVE : limit / 2;
	share = avail * max_connections / wanted;
	return share == 0 ? 1 : share < max_connections ? (unsigned)share : max_connections;
}

unsigned long fdbudget_limit(void)
{
	return limit;
}
