/*
 * NAME
 *	main.c - forcetls-milter: x-TLSLevel, encryption x-headers, gateway routing
 * SUMMARY
 *	forcetls-milter [--config FILE] [--table FILE] [--listen SPEC] [--foreground]
 *		[--check] [--version]
 * DESCRIPTION
 *	Loads the snapshot (configuration and tables; defaults without a file),
 *	opens the libmilter socket (SPEC in libmilter form, inet:PORT@HOST or
 *	unix:PATH), drops to milter.user, and runs smfi_main() in a thread of
 *	its own.
 *
 *	Signals: libmilter's own signal thread stops the filter on SIGHUP. To
 *	give SIGHUP its usual meaning (reload), the main thread, which is the
 *	one the kernel picks first for a process-directed signal, waits for
 *	SIGHUP, SIGUSR1, SIGTERM and SIGINT itself with sigwait(), so libmilter
 *	never sees them: SIGHUP builds a new snapshot and installs it (a bad one
 *	is refused and the old stays), SIGUSR1 logs the snapshot in use,
 *	SIGTERM and SIGINT call smfi_stop().
 * DIAGNOSTICS
 *	--check: exit 0 when configuration and tables are valid, else 1 with
 *	every error. Start-up errors exit 1.
 * SEE ALSO
 *	forcetls-milter(8), mlfi.c, decide.c, snapshot.c
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "listen.h"
#include "log.h"
#include "privs.h"
#include "mlfi.h"
#include "snapshot.h"

#define DEFAULT_CONFIG "/etc/forcetls/forcetls.conf"

typedef struct {
	msnapshot_options so;
	int foreground;
	int check;
} options;

static void usage(FILE *f)
{
	fputs("usage: forcetls-milter [--config FILE] [--table FILE] [--listen SPEC] "
	      "[--foreground] [--check] [--version]\n"
	      "SPEC is inet:PORT@HOST or unix:PATH (libmilter form).\n",
	      f);
}

static int parse_options(int argc, char **argv, options *o)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'}, {"table", required_argument, NULL, 't'},
	        {"listen", required_argument, NULL, 'l'}, {"foreground", no_argument, NULL, 'f'},
	        {"check", no_argument, NULL, 'n'},        {"version", no_argument, NULL, 'V'},
	        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "c:t:l:fnVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->so.config = optarg;
			break;
		case 't':
			o->so.table = optarg;
			break;
		case 'l':
			o->so.listen = optarg;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 'n':
			o->check = 1;
			break;
		case 'V':
			printf("forcetls-milter %s\n", TLSMAPS_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	if (o->so.config == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
		o->so.config = DEFAULT_CONFIG;
	return 0;
}

static int drop_privileges(const char *user)
{
	char why[256];

	if (privs_drop(user, why, sizeof(why)) < 0) {
		log_errx("milter.user: %s (create the user, or set milter.user)", why);
		return -1;
	}
	return 0;
}

/*
 * A UNIX socket gets milter.socket_owner (default: milter.user when started
 * as root), milter.socket_group and milter.socket_mode, as forcetls-policyd's
 * do: libmilter creates it as root, where Postfix could not connect.
 */
static int socket_perms(const cfg *c, const char *listen)
{
	listen_perms perms = {cfg_str(c, "milter.socket_owner"), cfg_str(c, "milter.socket_group"),
	                      0, 0};
	char why[512];
	const char *path;

	if (strncmp(listen, "unix:", 5) == 0)
		path = listen + 5;
	else if (strncmp(listen, "local:", 6) == 0)
		path = listen + 6;
	else
		return 0;
	if (listen_parse_mode(cfg_str(c, "milter.socket_mode"), &perms.mode) < 0) {
		log_errx("milter.socket_mode: \"%s\": expected an octal mode such as 0660",
		         cfg_str(c, "milter.socket_mode"));
		return -1;
	}
	if (*perms.owner == '\0' && getuid() == 0)
		perms.owner = cfg_str(c, "milter.user");
	if (listen_unix_perms(path, &perms, why, sizeof(why)) < 0) {
		log_errx("%s", why);
		return -1;
	}
	return 0;
}

static int listen_fd = -1; /* libmilter's listening socket, found by find_listener() */

/* The process's only listening socket right after smfi_opensocket(), or -1. */
static int find_listener(void)
{
	for (int fd = 0; fd < 1024; fd++) {
		int on = 0;
		socklen_t olen = sizeof(on);

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &olen) == 0 && on)
			return fd;
	}
	return -1;
}

/*
 * On a TCP socket, libmilter writes each reply with its own writev(2): at end
 * of message one packet per header change, then the final reply, which
 * Nagle's rule holds until Postfix ACKs the first (Postfix delays that ACK
 * by about 40 ms: it has nothing to send yet). libmilter keeps its listening
 * socket to itself, so find it (the only listening socket of this process
 * at this point) and set TCP_NODELAY there: Linux copies it to every socket
 * accept(2) returns. Also have DATA answered, see mlfi.c. Figures:
 * bench/milter/RESULTS.md.
 */
static void tcp_tune(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int on = 1;

	if (fd < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) < 0)
		log_warn("TCP_NODELAY on the milter socket (slower, still correct)");
	mlfi_answer_data(1);
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

	for (int i = 0; i < 20; i++) {
		nanosleep(&pause, NULL);
		wake_listener(*(int *)arg);
	}
	return NULL;
}

static void *milter_thread(void *arg)
{
	int *rc = arg;

	*rc = smfi_main();
	kill(getpid(), SIGTERM); /* wake the main thread if libmilter stopped by itself */
	return NULL;
}

int main(int argc, char **argv)
{
	options o;
	msnapshot *s;
	cfg *boot;
	static char *listen; /* static: reachable until exit */
	sigset_t set;
	pthread_t tid;
	int milter_rc = MI_FAILURE, sig;

	if (parse_options(argc, argv, &o) < 0)
		return 2;
	log_init("forcetls-milter", o.foreground || o.check, 0);
	if (o.check) {
		if ((s = msnapshot_load(&o.so)) == NULL)
			return 1;
		printf("forcetls-milter: configuration %s and table %s are valid\n",
		       o.so.config ? o.so.config : "(built-in defaults)", s->table_path);
		msnapshot_release(s);
		return 0;
	}
	if ((boot = msnapshot_config(&o.so)) == NULL)
		return 1;
	/* A copy: the boot configuration is freed before the "ready" line. */
	listen = strdup(o.so.listen != NULL ? o.so.listen : cfg_str(boot, "milter.listen"));
	if (listen == NULL) {
		log_errx("out of memory");
		cfg_free(boot);
		return 1;
	}

	if (smfi_register(*mlfi_descriptor()) == MI_FAILURE ||
	    smfi_setconn((char *)listen) == MI_FAILURE) {
		log_errx("libmilter: cannot register on %s", listen);
		cfg_free(boot);
		return 1;
	}
	/* Stale UNIX sockets are removed; socket_perms() sets owner, group, mode. */
	umask(007);
	if (smfi_opensocket(1) == MI_FAILURE) {
		log_errx("%s: cannot open the milter socket", listen);
		cfg_free(boot);
		return 1;
	}
	listen_fd = find_listener();
	tcp_tune(listen_fd);
	if (socket_perms(boot, listen) < 0 || drop_privileges(cfg_str(boot, "milter.user")) < 0) {
		cfg_free(boot);
		return 1;
	}
	cfg_free(boot);
	if ((s = msnapshot_load(&o.so)) == NULL)
		return 1;
	msnapshot_install(s);
	if (!o.foreground && daemon(0, 0) < 0) {
		log_warn("daemon");
		return 1;
	}

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by libmilter's threads */
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&tid, NULL, milter_thread, &milter_rc) != 0) {
		log_errx("cannot start the milter thread");
		return 1;
	}
	log_info("ready on %s", listen);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			msnapshot *n = msnapshot_load(&o.so);

			if (n == NULL) {
				log_errx("reload (SIGHUP) failed; keeping the configuration and "
				         "tables loaded before");
				continue;
			}
			msnapshot_install(n);
			log_info("reloaded (SIGHUP): %s", n->table_path);
		} else if (sig == SIGUSR1) {
			msnapshot *cur = msnapshot_current();

			log_info("running: table %s, %zu entries", cur->table_path,
			         tlsmaps_table_count(cur->forced));
			msnapshot_release(cur);
		} else {
			pthread_t w;

			log_info("stopping on signal %d", sig);
			if (listen_fd >= 0 && pthread_create(&w, NULL, waker, &listen_fd) == 0)
				pthread_detach(w);
			smfi_stop();
			break;
		}
	}
	pthread_join(tid, NULL);
	msnapshot_install(NULL);
	return milter_rc == MI_SUCCESS ? 0 : 1;
}
