/*
 * NAME
 *	sigtaken.c - which signal libmilter's own signal thread took
 * SUMMARY
 *	sigwait(), sigtaken_main(), sigtaken_other()
 * DESCRIPTION
 *	See sigtaken.h. sigwait() is built on sigwaitinfo(2), as glibc's is;
 *	EINTR is retried, as POSIX wants of sigwait(). The main thread's
 *	identity is set before libmilter starts, so every libmilter call is
 *	seen as another thread's.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "sigtaken.h"

static pthread_t main_thread;
static atomic_int have_main, taken;

void sigtaken_main(pthread_t self)
{
	main_thread = self;
	atomic_store(&have_main, 1);
}

int sigtaken_other(void)
{
	return atomic_load(&taken);
}

int sigwait(const sigset_t *set, int *sig)
{
	int s;

	do
		s = sigwaitinfo(set, NULL);
	while (s < 0 && errno == EINTR);
	if (s < 0)
		return errno;
	*sig = s;
	if (!atomic_load(&have_main) || !pthread_equal(pthread_self(), main_thread))
		atomic_store(&taken, s);
	return 0;
}
