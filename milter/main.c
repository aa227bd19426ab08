/*
 * NAME
 *	main.c - forcetls-milter: x-TLSLevel, encryption x-headers, gateway routing
 * SUMMARY
 *	forcetls-milter [--config FILE] [--table FILE] [--listen SPEC] [--foreground]
 *		[--check] [--version]
 * DESCRIPTION
 *	Blocks the signals it handles (signals.c) on its first line, loads
 *	the boot configuration, opens the libmilter socket (SPEC in libmilter
 *	form, inet:PORT@HOST or unix:PATH), drops to milter.user, loads the
 *	first snapshot (configuration and tables; defaults without a file),
 *	starts the reload thread and the watch (common/reload.c), and runs
 *	smfi_main() in a thread of its own while the main thread handles
 *	signals: SIGUSR1 reloads, SIGUSR2 logs the snapshot in use, SIGTERM
 *	and SIGINT stop (exit 0). SIGHUP belongs to libmilter, which stops the
 *	filter on it: forcetls-milter then exits 1 and says so.
 * DIAGNOSTICS
 *	--check: exit 0 when configuration and tables are valid, else 1 with
 *	every error. Start-up errors exit 1, and so does any stop we did not
 *	choose (libmilter stopped on SIGHUP, or failed).
 * SEE ALSO
 *	forcetls-milter(8), mlfi.c, decide.c, snapshot.c, signals.c
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "listen.h"
#include "log.h"
#include "privs.h"
#include "mimehdr.h"
#include "mlfi.h"
#include "signals.h"
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
	/* Absolute: daemon(3) changes to /, and reloads read these paths again. */
	if ((o->so.config != NULL && (o->so.config = cfg_absolute(o->so.config)) == NULL) ||
	    (o->so.table != NULL && (o->so.table = cfg_absolute(o->so.table)) == NULL)) {
		fputs("forcetls-milter: out of memory\n", stderr);
		return -1;
	}
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

/* --check: load everything once, say whether it is valid. */
static int check(const options *o)
{
	msnapshot *s = msnapshot_load(&o->so);

	if (s == NULL)
		return 1;
	printf("forcetls-milter: configuration %s and table %s are valid (%zu entries)\n",
	       o->so.config ? o->so.config : "(built-in defaults)", s->table_path, s->rs.entries);
	msnapshot_release(s);
	return 0;
}

/* Register with libmilter, open its socket, set its owner and mode, drop privileges. */
static int open_milter(const cfg *boot, const char *listen)
{
	/*
	 * libmilter drops a packet over 65,535 bytes and the connection with
	 * it: a Subject of 90,000 blanks and "[encrypt]" (Postfix passes headers
	 * up to header_size_limit, 102,400) never reached the header callback
	 * (Postfix then defers: nothing lost, but nothing delivered either).
	 */
	(void)smfi_setmaxdatasize(1024 * 1024 - 1); /* MILTER_MDS_1M, behind an FFR */
	if (smfi_register(*mlfi_descriptor()) == MI_FAILURE ||
	    smfi_setconn((char *)listen) == MI_FAILURE) {
		log_errx("libmilter: cannot register on %s", listen);
		return -1;
	}
	/* Stale UNIX sockets are removed; socket_perms() sets owner, group, mode. */
	umask(007);
	if (smfi_opensocket(1) == MI_FAILURE) {
		log_errx("%s: cannot open the milter socket", listen);
		return -1;
	}
	listen_fd = find_listener();
	tcp_tune(listen_fd);
	if (socket_perms(boot, listen) < 0 || drop_privileges(cfg_str(boot, "milter.user")) < 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static options o;    /* static: the reload thread reads it until exit */
	static char *listen; /* static: reachable until exit */
	cfg *boot;
	int rc;

	signals_block(); /* first: no signal may take its default action from here on */
	if (parse_options(argc, argv, &o) < 0)
		return 2;
	log_init("forcetls-milter", o.foreground || o.check, 0);
	if (mimehdr_init() < 0) { /* before any thread: GMime's tables */
		log_errx("cannot start GMime (MIME header decoding)");
		return 1;
	}
	if (o.check)
		return check(&o);
	if ((boot = msnapshot_config(&o.so)) == NULL)
		return 1;
	/* A copy: the boot configuration is freed before the "ready" line. */
	listen = strdup(o.so.listen != NULL ? o.so.listen : cfg_str(boot, "milter.listen"));
	o.so.state_file = strdup(cfg_str(boot, "milter.state_file"));
	if (listen == NULL || o.so.state_file == NULL) {
		log_errx("out of memory");
		cfg_free(boot);
		return 1;
	}
	rc = open_milter(boot, listen);
	cfg_free(boot);
	if (rc < 0 || msnapshot_start(&o.so) < 0)
		return 1;
	if (!o.foreground && daemon(0, 0) < 0) {
		log_warn("daemon");
		return 1;
	}
	if (msnapshot_run() < 0) {
		log_errx("cannot start the reload thread");
		return 1;
	}
	if (msnapshot_metrics() < 0) /* after daemon(3): its thread must be in this process */
		return 1;
	rc = signals_loop(listen_fd, listen); /* logs "ready on LISTEN" */
	msnapshot_stop();
	return rc;
}
