/*
 * NAME
 *	sigtaken.h - which signal libmilter's own signal thread took
 * DESCRIPTION
 *	libmilter's signal thread sigwait()s for SIGHUP, SIGTERM and SIGINT
 *	and stops the filter on each, without saying which one it took.
 *	sigtaken.c defines sigwait() in the program, so that libmilter.so's
 *	call resolves to it (the executable's definition comes first in the
 *	symbol lookup), and remembers the signal any thread other than the
 *	main thread took. A SIGTERM that reached libmilter's thread instead of
 *	ours is then still a stop that was asked for.
 */
#ifndef MILTER_SIGTAKEN_H
#define MILTER_SIGTAKEN_H

#include <pthread.h>

/* The thread whose sigwait() calls are not recorded (the signal loop's). */
void sigtaken_main(pthread_t self);
/* The last signal another thread's sigwait() returned, or 0. */
int sigtaken_other(void);

#endif /* MILTER_SIGTAKEN_H */
