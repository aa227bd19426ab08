/*
 * NAME
 *	signals.h - forcetls-milter's signals, the way libmilter expects them
 * DESCRIPTION
 *	signals_block() is the first line of main(): every signal the milter
 *	handles is blocked before anything else runs, so no early moment and
 *	no thread created later (libmilter's included: they inherit the mask)
 *	ever applies a default action. signals_loop() then runs in the main
 *	thread while smfi_main() runs in a thread of its own; see signals.c.
 */
#ifndef MILTER_SIGNALS_H
#define MILTER_SIGNALS_H

void signals_block(void);

/*
 * Run smfi_main() in a thread and handle signals in the calling (main)
 * thread until the filter stops. listen_fd: libmilter's listening socket
 * (-1 if unknown), woken on a stop; listen: its address, for the "ready on
 * LISTEN" line, logged once the main thread is about to wait for signals
 * and before libmilter starts. Returns the exit status: 0 for a stop
 * we chose (SIGTERM or SIGINT taken by us), 1 for any other.
 */
int signals_loop(int listen_fd, const char *listen);

#endif
