/*
 * NAME
 *	signals.c - forcetls-milter's signals: reload on SIGUSR1, leave SIGHUP to libmilter
 * SUMMARY
 *	signals_block(), signals_loop()
 * DESCRIPTION
 *	What libmilter does (sendmail 8.17, libmilter/signal.c, as Debian 12
 *	ships it): smfi_main() calls mi_control_startup(), which blocks SIGHUP,
 *	SIGTERM and SIGINT in the calling thread and starts a signal thread
 *	that sigwait()s for those three. SIGHUP and SIGTERM stop the filter
 *	(MILTER_STOP), SIGINT aborts it (MILTER_ABRT); the thread then ends.
 *	smfi_main() returns MI_SUCCESS after such a stop. It never waits for
 *	SIGUSR1 or SIGUSR2.
 *
 *	So: SIGHUP is libmilter's and stops the filter. Reloads come on
 *	SIGUSR1, which only we wait for. signals_block(), the first line of
 *	main(), blocks SIGHUP, SIGTERM, SIGINT, SIGUSR1 and SIGUSR2 (and
 *	ignores SIGPIPE) before anything else runs: a signal sent during start,
 *	while the first table loads, waits until a thread takes it instead of
 *	killing the process. Every thread created later inherits the mask.
 *
 *	signals_loop() starts smfi_main() in a thread, then the main thread
 *	sigwait()s for SIGUSR1, SIGUSR2, SIGTERM and SIGINT:
 *	    SIGUSR1   ask the reload thread (common/reload.c) for a reload and
 *	              wait again at once: a reload never runs here, so back-
 *	              to-back signals are coalesced, never lost, and never
 *	              leave the main thread busy;
 *	    SIGUSR2   log the snapshot in use, the reload counts, the counters
 *	              (stats.h), every compiled rule and the content limits,
 *	              from a thread of its own (the main thread waits again
 *	              at once: see dumper());
 *	    SIGTERM, SIGINT
 *	              a chosen stop: smfi_stop(), exit 0.
 *	Linux gives a signal sent to the process to the main thread first
 *	when that thread is waiting for it, and the main thread is always
 *	waiting (it does no work of its own), so SIGTERM and SIGINT come to us.
 *	Should libmilter's thread take one anyway (seen under load), libmilter
 *	stops the filter; sigtaken.c saw which signal its sigwait() returned,
 *	so a SIGTERM or SIGINT is still a chosen stop (exit 0), and only
 *	SIGHUP gives exit 1.
 *
 *	When smfi_main() returns without our asking (libmilter took SIGHUP,
 *	or failed), the milter thread wakes the main thread (SIGUSR2 to it,
 *	with a flag) and the milter exits 1 with a line that says why.
 *	libmilter's stop is not immediate: its listener notices it at the end
 *	of its poll, up to 5 s (MI_CHK_TIME) later. A SIGTERM we take in that
 *	time counts as a stop we chose (exit 0).
 * DIAGNOSTICS
 *	"stopping on SIGTERM" (exit 0); "libmilter stopped the filter: ...
 *	SIGHUP stops forcetls-milter, SIGUSR1 reloads it" (exit 1);
 *	"libmilter failed (smfi_main), or was stopped during start; ..." (exit
 *	1: a SIGHUP taken before libmilter's listener runs makes it close the
 *	socket, and its listener then fails to open it again).
 * SEE ALSO
 *	main.c, snapshot.c, common/reload.c
 */
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "log.h"
#include "mmetrics.h"
#include "notify.h"
#include "signals.h"
#include "sigtaken.h"
#include "snapshot.h"
#include "stats.h"

static atomic_int milter_done;
static pthread_t main_tid;
static int milter_rc = MI_FAILURE;

static void handled(sigset_t *set, int with_hup)
{
	sigemptyset(set);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	if (with_hup)
		sigaddset(set, SIGHUP);
}

void signals_block(void)
{
	sigset_t set;

	handled(&set, 1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * libmilter's listener holds its lock while it polls for up to 5 s
 * (MI_CHK_TIME), and smfi_stop() waits for that lock. A connection to the
 * socket ends the poll at once, so waker() connects a few times, from a
 * thread of its own, while the main thread waits in smfi_stop(). Each
 * wake-up session ends at EOF before it starts.
 */
static void wake_listener(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int s;

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET &&
	    ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY))
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr))
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	if ((s = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	(void)connect(s, (struct sockaddr *)&ss, len);
	close(s);
}

static void *waker(void *arg)
{
	const struct timespec pause = {0, 50 * 1000 * 1000};

	for (int i = 0; i < 20 && !atomic_load(&milter_done); i++) {
		nanosleep(&pause, NULL);
		wake_listener(*(int *)arg);
	}
	return NULL;
}

/*
 * smfi_main() starts libmilter's signal thread, which waits for SIGTERM
 * too. Until the main thread waits, a SIGTERM goes to whichever thread
 * waits first: the milter thread starts libmilter only once the main
 * thread is about to wait (go), and "ready" is logged then, so a SIGTERM
 * sent on "ready" finds the main thread waiting.
 */
static pthread_mutex_t go_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cond = PTHREAD_COND_INITIALIZER;
static int go;

static void *milter_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&go_lock);
	while (!go)
		pthread_cond_wait(&go_cond, &go_lock);
	pthread_mutex_unlock(&go_lock);
	milter_rc = smfi_main();
	atomic_store(&milter_done, 1);
	pthread_kill(main_tid, SIGUSR2); /* wake the signal loop */
	return NULL;
}

/* One line per compiled rule of the snapshot in use: a reload shows here. */
static void log_rule(void *arg, const char *which, const char *source)
{
	char safe[1024];
	size_t n = 0;

	/* As configured, backslashes and all; only control bytes are escaped (\xNN). */
	for (const unsigned char *p = (const unsigned char *)source; *p && n + 5 < sizeof(safe);
	     p++)
		n += (size_t)snprintf(safe + n, sizeof(safe) - n,
		                      *p < 0x20 || *p == 0x7f ? "\\x%02x" : "%c", *p);
	log_info("rule %s%s: %s%s", (const char *)arg, which, safe,
	         n + 5 >= sizeof(safe) ? "..." : "");
}

static void log_counters(void)
{
	char line[512];
	size_t n = 0;

	for (int i = 0; i < STAT_COUNT && n < sizeof(line); i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s=%lu", i ? " " : "",
		                      stats_name((stat_id)i), stats_get((stat_id)i));
	log_info("counters: %s", line);
}

static void log_running(void)
{
	msnapshot *cur = msnapshot_current();
	unsigned long ok = 0, refused = 0;

	if (cur == NULL) /* stopping */
		return;
	msnapshot_counts(&ok, &refused);
	log_info("running: table %s, %zu entries; reloads ok=%lu refused=%lu", cur->table_path,
	         cur->rs.entries, ok, refused);
	log_counters();
	mmetrics_dump();
	rules_list(cur->rules, log_rule, "");
	if (cur->decrypt_rules != NULL)
		rules_list(cur->decrypt_rules, log_rule, "decrypt_");
	log_info("content: mime_decode=%s body_scan_limit=%zu body_read_limit=%zu "
	         "mime_max_depth=%u mime_max_parts=%u",
	         cur->content.decode ? "true" : "false", cur->content.scan_limit,
	         cur->content.read_limit, cur->content.max_depth, cur->content.max_parts);
	msnapshot_release(cur);
}

/*
 * The SIGUSR2 dump runs in a thread of its own: the main thread goes back
 * to sigwait() at once. While it is away, a SIGTERM may go to libmilter's
 * signal thread instead, which stops the filter with exit 1 (see the top
 * of this file); the dump's dozens of log lines made that window wide
 * enough to be hit.
 */
static pthread_mutex_t dump_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dump_cond = PTHREAD_COND_INITIALIZER;
static int dump_wanted, dump_running, dump_stopped;

static void *dumper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&dump_lock);
	for (;;) {
		while (!dump_wanted || dump_stopped)
			pthread_cond_wait(&dump_cond, &dump_lock);
		dump_wanted = 0;
		dump_running = 1;
		pthread_mutex_unlock(&dump_lock);
		log_running();
		pthread_mutex_lock(&dump_lock);
		dump_running = 0;
		pthread_cond_broadcast(&dump_cond);
	}
	return NULL;
}

/* Before the snapshots go away: no dump runs, none starts. */
static void dumps_stop(void)
{
	pthread_mutex_lock(&dump_lock);
	dump_stopped = 1;
	while (dump_running)
		pthread_cond_wait(&dump_cond, &dump_lock);
	pthread_mutex_unlock(&dump_lock);
}

static void request_dump(void)
{
	pthread_mutex_lock(&dump_lock);
	dump_wanted = 1;
	pthread_cond_broadcast(&dump_cond); /* one condition, two kinds of waiter */
	pthread_mutex_unlock(&dump_lock);
}

static void stop(int sig, int *listen_fd)
{
	pthread_t w;

	log_info("stopping on %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	notify_stopping(); /* STOPPING=1 to systemd */
	if (*listen_fd >= 0 && pthread_create(&w, NULL, waker, listen_fd) == 0)
		pthread_detach(w);
	smfi_stop();
}

/* The exit status, once smfi_main() has returned. */
static int verdict(int chosen)
{
	if (milter_rc != MI_SUCCESS) {
		log_errx("libmilter failed (smfi_main), or was stopped during start; SIGHUP stops "
		         "forcetls-milter, SIGUSR1 reloads it");
		return 1;
	}
	if (!chosen && (sigtaken_other() == SIGTERM || sigtaken_other() == SIGINT)) {
		/* asked for all the same: it only reached libmilter's thread first */
		log_info("stopping on %s (taken by libmilter's signal thread)",
		         sigtaken_other() == SIGTERM ? "SIGTERM" : "SIGINT");
		return 0;
	}
	if (!chosen) {
		log_errx("libmilter stopped the filter: its signal thread took SIGHUP; SIGHUP "
		         "stops forcetls-milter, SIGUSR1 reloads it");
		return 1;
	}
	return 0;
}

int signals_loop(int listen_fd, const char *ready)
{
	static int fd; /* read by the waker thread, which may outlive this call */
	sigset_t set;
	pthread_t tid, dump_tid;
	int sig, chosen = 0;

	fd = listen_fd;
	main_tid = pthread_self();
	sigtaken_main(main_tid);
	handled(&set, 0);
	if (pthread_create(&dump_tid, NULL, dumper, NULL) != 0) {
		log_errx("cannot start the SIGUSR2 thread");
		return 1;
	}
	pthread_detach(dump_tid);
	if (pthread_create(&tid, NULL, milter_thread, NULL) != 0) {
		log_errx("cannot start the milter thread");
		return 1;
	}
	log_info("ready on %s", ready);
	notify_ready(); /* READY=1: socket open, tables loaded; libmilter accepts from it */
	pthread_mutex_lock(&go_lock);
	go = 1;
	pthread_cond_signal(&go_cond);
	pthread_mutex_unlock(&go_lock);
	while (!atomic_load(&milter_done)) {
		if (sigwait(&set, &sig) != 0 || atomic_load(&milter_done))
			continue;
		if (sig == SIGUSR1)
			msnapshot_reload("SIGUSR1");
		else if (sig == SIGUSR2)
			request_dump();
		else if (!chosen) {
			chosen = 1;
			stop(sig, &fd);
		}
	}
	notify_stopping(); /* a stop we did not choose too (no-op after stop()) */
	pthread_join(tid, NULL);
	dumps_stop();
	return verdict(chosen);
}
