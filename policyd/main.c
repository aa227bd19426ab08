/*
 * NAME
 *	main.c - forcetls-policyd: Postfix TLS policy daemon
 * SUMMARY
 *	forcetls-policyd [--config FILE] [--table FILE] [--socketmap-listen ADDR]
 *		[--policy-listen ADDR] [--foreground] [--check] [--version]
 * DESCRIPTION
 *	Answers smtp_tls_policy_maps and transport_maps over the socketmap protocol
 *	(socketmap.c, outbound.c, transport.c) and SMTP access policy delegation
 *	(delegation.c, inbound.c) from the forced-TLS table, in one libevent loop.
 *
 *	Start: read the configuration (built-in defaults without a file), bind
 *	the listeners (or take them from systemd socket activation, names
 *	"socketmap" and "policy"), drop to the unprivileged user, load the
 *	table. A table with errors stops the start with every FILE:LINE.
 *
 *	SIGUSR1 (the reload signal of both daemons), SIGHUP, and a new table
 *	renamed into place (the watch) reload configuration and table into a
 *	new snapshot, built off the event loop by common/reload.c's thread;
 *	one with errors, or one the shrink guard refuses, is not installed and
 *	the old one stays. The reload thread hands a new snapshot to the loop
 *	through a pipe, and the loop swaps its pointer: a reload never stalls
 *	a reply. Listen addresses, the user and DNS settings take effect on restart.
 *	SIGUSR2 logs the counters; SIGTERM and SIGINT stop the daemon. SIGHUP, SIGUSR1
 *	and SIGUSR2 are blocked from main()'s first line until the loop takes them.
 * DIAGNOSTICS
 *	--check prints configuration and table errors and exits 1, or exits 0.
 *	Exit 1 on any start-up error.
 * SEE ALSO
 *	forcetls-policyd(8), tlsmaps(5), examples/forcetls.conf.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "delegation.h"
#include "listen.h"
#include "log.h"
#include "notify.h"
#include "privs.h"
#include "reload.h"
#include "pmetrics.h"
#include "policyd.h"
#include "server.h"
#include "socketmap.h"

#define DEFAULT_CONFIG "/etc/forcetls/forcetls.conf"

static const char *const tls_failure_choices[] = {"defer", "gateway", NULL};
static const char *const level_choices[] = {
        "none", "may", "encrypt", "dane", "dane-only", "fingerprint", "verify", "secure", NULL,
};
static const char *const dns_failure_choices[] = {"tempfail", "notfound", NULL};

/* Every setting of forcetls-policyd: the defaults live here and nowhere else. */
static const cfg_def settings[] = {
        {"tables.forced_tls", CFG_STRING, "/etc/forcetls/forced-tls.table", 0, 0, 0, NULL},
        {"tables.default_level", CFG_STRING, "encrypt", 0, 0, 0, level_choices},
        {"tables.on_tls_failure", CFG_STRING, "defer", 0, 0, 0, tls_failure_choices},
        {"policyd.socketmap_listen", CFG_STRING, "inet:127.0.0.1:10028", 0, 0, 0, NULL},
        {"policyd.policy_listen", CFG_STRING, "inet:127.0.0.1:10029", 0, 0, 0, NULL},
        {"policyd.map_name", CFG_STRING, "forcetls", 0, 0, 0, NULL},
        {"policyd.require_map_name", CFG_STRING, "forcetls-require", 0, 0, 0, NULL},
        {"policyd.sendmail_map_name", CFG_STRING, "", 0, 0, 0, NULL}, /* off: memory */
        {"policyd.sendmail_inbound", CFG_BOOL, NULL, 0, 0, 0, NULL},
        {"policyd.user", CFG_STRING, "forcetls", 0, 0, 0, NULL},
        {"policyd.socket_owner", CFG_STRING, "", 0, 0, 0, NULL},
        {"policyd.socket_group", CFG_STRING, "", 0, 0, 0, NULL},
        {"policyd.socket_mode", CFG_STRING, "0660", 0, 0, 0, NULL},
        {"policyd.dns_failure", CFG_STRING, "tempfail", 0, 0, 0, dns_failure_choices},
        {"policyd.dns_servers", CFG_STRING, "", 0, 0, 0, NULL},
        {"policyd.dns_timeout", CFG_INT, NULL, 2000, 100, 60000, NULL},
        {"policyd.dns_tries", CFG_INT, NULL, 2, 1, 10, NULL},
        {"policyd.dns_cache_size", CFG_INT, NULL, 100000, 0, 10000000, NULL},
        {"policyd.dns_cache_max_ttl", CFG_INT, NULL, 3600, 1, 86400, NULL},
        {"policyd.dns_negative_ttl", CFG_INT, NULL, 300, 0, 86400, NULL},
        {"policyd.inbound_reply", CFG_STRING, "450 4.7.0 TLS is required for this session", 0, 0, 0,
         NULL},
        {"policyd.max_connections", CFG_INT, NULL, 1024, 1, 100000, NULL},
        {"policyd.idle_timeout", CFG_INT, NULL, 300, 0, 86400, NULL},
        {"policyd.watch_table", CFG_BOOL, NULL, 1, 0, 0, NULL},      /* and tables.watch_table */
        {"policyd.watch_interval", CFG_INT, NULL, 5, 1, 3600, NULL}, /* obsolete, ignored */
        {"policyd.log_lookups", CFG_BOOL, NULL, 0, 0, 0, NULL},
        /* The shrink guard across restarts (reload.h, reload_ops.state_file); "": off. */
        {"policyd.state_file", CFG_STRING, "/var/lib/forcetls/policyd.state", 0, 0, 0, NULL},
        /* Inbound: the one rule of both daemons (inbound.c, tlsmaps_decide_inbound). */
        {"tables.inbound_exempt_internal", CFG_BOOL, NULL, 1, 0, 0, NULL},
        {"tables.inbound_exempt_authenticated", CFG_BOOL, NULL, 1, 0, 0, NULL},
        {"policyd.internal_networks", CFG_LIST, "127.0.0.0/8, ::1", 0, 0, 0, NULL},
        /* Connection limits (server.h, listener_options). */
        {"policyd.request_timeout", CFG_INT, NULL, 10, 1, 3600, NULL},
        {"policyd.write_timeout", CFG_INT, NULL, 10, 1, 3600, NULL},
        {"policyd.drain_timeout", CFG_INT, NULL, 2, 1, 60, NULL},
        {"policyd.drain_max", CFG_INT, NULL, 1048576, 0, 16777216, NULL},
        {"policyd.connection_log_interval", CFG_INT, NULL, 10, 1, 3600, NULL},
        RELOAD_CFG_ROWS,
        TRANSPORT_CFG_ROWS,
        {"policyd.metrics_listen", CFG_STRING, "", 0, 0, 0, NULL}, /* pmetrics.c */
};
static const char *const own_sections[] = {"policyd", "tables", NULL};
static const char *const other_sections[] = {"milter", "tlsmaps", NULL};

typedef struct {
	const char *config; /* NULL: built-in defaults */
	const char *table;  /* --table, overrides tables.forced_tls */
	const char *socketmap_listen;
	const char *policy_listen;
	int foreground;
	int check;
} options;

#define NSIGNALS 5

typedef struct {
	policyd d;
	options opt;
	listener *socketmap, *policy;
	struct event *sig[NSIGNALS], *wake;
	reloader *rl;
	int wake_pipe[2]; /* reload thread -> loop: a new snapshot is current */
	int to_stderr;
} daemon_state;

/* Caught by the loop; the first three are blocked until it does. */
static const int caught[NSIGNALS] = {SIGHUP, SIGUSR1, SIGUSR2, SIGTERM, SIGINT};

snapshot *snapshot_hold(snapshot *s)
{
	rsnap_hold(&s->rs);
	return s;
}

static void snapshot_free(rsnap *r)
{
	snapshot *s = (snapshot *)r;

	sendmail_snapshot_free(s);
	tlsmaps_table_free(s->table);
	inbound_snapshot_free(s);
	cfg_free(s->cfg);
	free(s);
}

void snapshot_release(snapshot *s)
{
	if (s != NULL)
		rsnap_release(&s->rs);
}

static cfg *load_config(const options *o)
{
	char errors[8192];
	cfg *c = cfg_load(o->config, settings, sizeof(settings) / sizeof(settings[0]), own_sections,
	                  other_sections, errors, sizeof(errors));

	if (c == NULL)
		log_errx_lines(errors);
	return c;
}

static int valid_reply(const char *r)
{
	if (strchr(r, '\n') != NULL || strchr(r, '\r') != NULL)
		return 0;
	if ((r[0] == '4' || r[0] == '5') && r[1] >= '0' && r[1] <= '9' && r[2] >= '0' &&
	    r[2] <= '9' && (r[3] == ' ' || r[3] == '\0'))
		return 1;
	return strncmp(r, "DEFER", 5) == 0 || strncmp(r, "REJECT", 6) == 0;
}

static const char *table_path(const options *o, const cfg *c)
{
	return o->table != NULL ? o->table : cfg_str(c, "tables.forced_tls");
}

/* Configuration and table as one snapshot, or NULL with every error logged. */
static snapshot *snapshot_load(const options *o)
{
	tlsmaps_options topt;
	snapshot *s;
	const char *path;
	char where[PATH_MAX + 16];
	unsigned nerrors = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_errx("out of memory");
		return NULL;
	}
	if ((s->cfg = load_config(o)) == NULL) {
		free(s);
		return NULL;
	}
	rsnap_init(&s->rs, snapshot_free, s->cfg);
	s->rs.watch = s->rs.watch && cfg_bool(s->cfg, "policyd.watch_table");
	s->dns_tempfail = strcmp(cfg_str(s->cfg, "policyd.dns_failure"), "tempfail") == 0;
	s->map_name = cfg_str(s->cfg, "policyd.map_name");
	s->require_map_name = cfg_str(s->cfg, "policyd.require_map_name");
	s->inbound_reply = cfg_str(s->cfg, "policyd.inbound_reply");
	s->log_lookups = cfg_bool(s->cfg, "policyd.log_lookups");
	if (!valid_reply(s->inbound_reply)) {
		log_errx("%s: policyd.inbound_reply: expected a 4xx or 5xx reply, DEFER or REJECT",
		         cfg_where(s->cfg, "policyd.inbound_reply", where, sizeof(where)));
		goto fail;
	}
	if (*s->map_name == '\0' || strchr(s->map_name, ' ') != NULL ||
	    *s->require_map_name == '\0' || strchr(s->require_map_name, ' ') != NULL ||
	    strcmp(s->map_name, s->require_map_name) == 0) {
		log_errx("%s: policyd.map_name, policyd.require_map_name: expected two different "
		         "words",
		         cfg_where(s->cfg, "policyd.map_name", where, sizeof(where)));
		goto fail;
	}
	if (transport_snapshot_load(s) < 0 || inbound_snapshot_load(s) < 0 ||
	    pmetrics_check(s->cfg) < 0)
		goto fail;
	tlsmaps_options_init(&topt);
	tlsmaps_level_parse(cfg_str(s->cfg, "tables.default_level"),
	                    strlen(cfg_str(s->cfg, "tables.default_level")), &topt.default_level);
	if (strcmp(cfg_str(s->cfg, "tables.on_tls_failure"), "gateway") == 0)
		topt.on_tls_failure = TLSMAPS_TLSFAIL_GATEWAY;
	topt.report = log_report;
	path = table_path(o, s->cfg);
	rsnap_table_seen(&s->rs, path);
	if ((s->table = tlsmaps_load(&path, 1, &topt, &nerrors)) == NULL) {
		log_errx("%s: %u error%s; table not loaded", path, nerrors,
		         nerrors == 1 ? "" : "s");
		goto fail;
	}
	s->rs.table = path;
	s->rs.entries = tlsmaps_table_count(s->table);
	if (sendmail_snapshot_load(s) < 0)
		goto fail;
	return s;
fail:
	snapshot_release(s);
	return NULL;
}

static rsnap *build(void *arg)
{
	snapshot *s = snapshot_load(&((daemon_state *)arg)->opt);

	return s != NULL ? &s->rs : NULL;
}

/* Reload thread: a new snapshot is current; wake the loop. */
static void installed(void *arg)
{
	daemon_state *ds = arg;

	if (write(ds->wake_pipe[1], "", 1) < 0 && errno != EAGAIN)
		log_warn("reload: cannot wake the event loop");
}

/* Loop: take the new snapshot; the old one is dropped in the reload thread. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	daemon_state *ds = arg;
	char buf[64];
	snapshot *old = ds->d.snap;

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	ds->d.snap = (snapshot *)reloader_current(ds->rl);
	reloader_retire(ds->rl, old != NULL ? &old->rs : NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	daemon_state *ds = arg;

	(void)what;
	if (sig == SIGHUP || sig == SIGUSR1) {
		reloader_request(ds->rl, sig == SIGHUP ? "SIGHUP" : "SIGUSR1");
	} else if (sig == SIGUSR2) {
		pmetrics_dump(&ds->d, ds->rl, ds->socketmap, ds->policy);
	} else {
		log_info("stopping on signal %d", (int)sig);
		notify_stopping(); /* STOPPING=1 to systemd */
		event_base_loopbreak(ds->d.base);
	}
}

static int open_listener(daemon_state *ds, const char *name, const char *addr, const cfg *c)
{
	listen_perms perms;
	char why[512];
	int fd = listen_systemd(name);

	if (fd >= 0) {
		log_info("%s: using the socket passed by systemd", name);
		return fd;
	}
	if (*addr == '\0')
		return -2; /* disabled */
	perms.owner = cfg_str(c, "policyd.socket_owner");
	perms.group = cfg_str(c, "policyd.socket_group");
	if (listen_parse_mode(cfg_str(c, "policyd.socket_mode"), &perms.mode) < 0) {
		log_errx("policyd.socket_mode: \"%s\": expected an octal mode such as 0660",
		         cfg_str(c, "policyd.socket_mode"));
		return -1;
	}
	perms.backlog = 1024;
	if (*perms.owner == '\0' && getuid() == 0)
		perms.owner = cfg_str(c, "policyd.user");
	if ((fd = listen_open(addr, &perms, why, sizeof(why))) < 0)
		log_errx("%s: cannot listen: %s", name, why);
	(void)ds;
	return fd;
}

static int drop_privileges(const char *user)
{
	char why[256];

	if (privs_drop(user, why, sizeof(why)) < 0) {
		log_errx("policyd.user: %s (create the user, or set policyd.user)", why);
		return -1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fputs("usage: forcetls-policyd [--config FILE] [--table FILE] [--socketmap-listen ADDR]\n"
	      "                        [--policy-listen ADDR] [--foreground] [--check] "
	      "[--version]\n"
	      "ADDR is inet:HOST:PORT or unix:PATH; \"\" disables the policy listener.\n",
	      f);
}

static int parse_options(int argc, char **argv, options *o)
{
	static const struct option longopts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"table", required_argument, NULL, 't'},
	        {"socketmap-listen", required_argument, NULL, 's'},
	        {"policy-listen", required_argument, NULL, 'p'},
	        {"foreground", no_argument, NULL, 'f'},
	        {"check", no_argument, NULL, 'n'},
	        {"version", no_argument, NULL, 'V'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "c:t:s:p:fnVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 't':
			o->table = optarg;
			break;
		case 's':
			o->socketmap_listen = optarg;
			break;
		case 'p':
			o->policy_listen = optarg;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 'n':
			o->check = 1;
			break;
		case 'V':
			printf("forcetls-policyd %s\n", TLSMAPS_VERSION);
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
	/* No --config: the default file if it exists, else built-in defaults. */
	if (o->config == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
		o->config = DEFAULT_CONFIG;
	/* Absolute: daemon(3) changes to /, and reloads read these paths again. */
	if ((o->config != NULL && (o->config = cfg_absolute(o->config)) == NULL) ||
	    (o->table != NULL && (o->table = cfg_absolute(o->table)) == NULL)) {
		fputs("forcetls-policyd: out of memory\n", stderr);
		return -1;
	}
	return 0;
}

static int start_resolver(daemon_state *ds, const cfg *c)
{
	resolver_options ro;
	char why[256];

	resolver_options_init(&ro);
	if (*cfg_str(c, "policyd.dns_servers") != '\0')
		ro.servers = cfg_str(c, "policyd.dns_servers");
	ro.timeout_ms = (unsigned)cfg_int(c, "policyd.dns_timeout");
	ro.tries = (unsigned)cfg_int(c, "policyd.dns_tries");
	ro.cache_size = (size_t)cfg_int(c, "policyd.dns_cache_size");
	ro.cache_max_ttl = (unsigned)cfg_int(c, "policyd.dns_cache_max_ttl");
	ro.negative_ttl = (unsigned)cfg_int(c, "policyd.dns_negative_ttl");
	ro.observe = pmetrics_dns;
	if ((ds->d.resolver = resolver_new(ds->d.base, &ro, why, sizeof(why))) == NULL) {
		/* Not fatal: lookups that need DNS answer TEMP, the others work. */
		log_errx("DNS resolver: %s; destinations that need DNS will be deferred", why);
	}
	return 0;
}

/* --check: load everything once, say whether it is valid. */
static int check(const options *o)
{
	snapshot *s = snapshot_load(o);

	if (s == NULL)
		return 1;
	printf("forcetls-policyd: configuration %s and table %s are valid (%zu entries)\n",
	       o->config ? o->config : "(built-in defaults)", s->rs.table, s->rs.entries);
	snapshot_release(s);
	return 0;
}

/* Both listening sockets (-2: disabled); -1 when start must stop. */
static int open_listeners(daemon_state *ds, const cfg *boot, int *sm_fd, int *pol_fd)
{
	const options *o = &ds->opt;

	*sm_fd = open_listener(ds, "socketmap",
	                       o->socketmap_listen ? o->socketmap_listen
	                                           : cfg_str(boot, "policyd.socketmap_listen"),
	                       boot);
	*pol_fd = open_listener(
	        ds, "policy",
	        o->policy_listen ? o->policy_listen : cfg_str(boot, "policyd.policy_listen"), boot);
	if (*sm_fd == -1 || *pol_fd == -1)
		return -1;
	if (*sm_fd < 0 && *pol_fd < 0) {
		log_errx("both listeners are disabled: nothing to do");
		return -1;
	}
	return 0;
}

static int start_listeners(daemon_state *ds, const cfg *c, int sm_fd, int pol_fd)
{
	server_protocol sm = socketmap_protocol(&ds->d), pol = delegation_protocol(&ds->d);
	listener_options lo;

	lo.max_connections = (unsigned)cfg_int(c, "policyd.max_connections");
	lo.idle_timeout = (unsigned)cfg_int(c, "policyd.idle_timeout");
	lo.request_timeout = (unsigned)cfg_int(c, "policyd.request_timeout");
	lo.write_timeout = (unsigned)cfg_int(c, "policyd.write_timeout");
	lo.drain_timeout = (unsigned)cfg_int(c, "policyd.drain_timeout");
	lo.drain_max = (size_t)cfg_int(c, "policyd.drain_max");
	lo.log_interval = (unsigned)cfg_int(c, "policyd.connection_log_interval");
	for (int k = 0; k < BAD_KINDS; k++)
		if (ratelog_init(&ds->d.bad[k], ds->d.base, lo.log_interval) < 0) {
			log_errx("cannot set up the listeners");
			return -1;
		}
	if ((sm_fd >= 0 && (ds->socketmap = listener_new(ds->d.base, sm_fd, &sm, &lo)) == NULL) ||
	    (pol_fd >= 0 && (ds->policy = listener_new(ds->d.base, pol_fd, &pol, &lo)) == NULL)) {
		log_errx("cannot set up the listeners");
		return -1;
	}
	pmetrics_init(ds->rl);
	return pmetrics_start(c); /* after daemon(3): its thread must be in this process */
}

/* Signal events, the wake pipe, the reload thread; then unblock the signals. */
static int start_reloads(daemon_state *ds, const sigset_t *blocked)
{
	for (int i = 0; i < NSIGNALS; i++)
		if ((ds->sig[i] = evsignal_new(ds->d.base, caught[i], on_signal, ds)) == NULL ||
		    event_add(ds->sig[i], NULL) < 0) {
			log_errx("cannot set up signal handling");
			return -1;
		}
	if (pipe2(ds->wake_pipe, O_NONBLOCK | O_CLOEXEC) < 0 ||
	    (ds->wake = event_new(ds->d.base, ds->wake_pipe[0], EV_READ | EV_PERSIST, on_wake,
	                          ds)) == NULL ||
	    event_add(ds->wake, NULL) < 0) {
		log_errx("cannot set up the reload pipe");
		return -1;
	}
	/* The reload and watch threads keep the signals blocked: the loop takes them. */
	if (reloader_run(ds->rl) < 0) {
		log_errx("cannot start the reload thread");
		return -1;
	}
	pthread_sigmask(SIG_UNBLOCK, blocked, NULL);
	return 0;
}

static void cleanup(daemon_state *ds)
{
	pmetrics_stop();       /* first: its thread reads the reloader */
	reloader_free(ds->rl); /* its thread may still write to the pipe */
	for (int i = 0; i < NSIGNALS; i++)
		if (ds->sig[i] != NULL)
			event_free(ds->sig[i]);
	if (ds->wake != NULL)
		event_free(ds->wake);
	for (int i = 0; i < 2; i++)
		if (ds->wake_pipe[i] >= 0)
			close(ds->wake_pipe[i]);
	listener_free(ds->socketmap);
	listener_free(ds->policy);
	if (ds->d.resolver != NULL)
		resolver_free(ds->d.resolver);
	snapshot_release(ds->d.snap);
	for (int k = 0; k < BAD_KINDS; k++)
		ratelog_free(&ds->d.bad[k]); /* logs a pending count */
	if (ds->d.base != NULL)
		event_base_free(ds->d.base);
}

int main(int argc, char **argv)
{
	static daemon_state ds; /* static: the reload thread reads ds.opt until exit */
	reload_ops ops = {build, installed, &ds, NULL};
	sigset_t blocked;
	cfg *boot;
	int sm_fd, pol_fd, rc = 1;

	/* First: a reload or stats request during start waits for the loop. */
	sigemptyset(&blocked);
	for (int i = 0; i < 3; i++)
		sigaddset(&blocked, caught[i]);
	pthread_sigmask(SIG_BLOCK, &blocked, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (parse_options(argc, argv, &ds.opt) < 0)
		return 2;
	ds.to_stderr = ds.opt.foreground || ds.opt.check;
	log_init("forcetls-policyd", ds.to_stderr, 0);
	if (ds.opt.check)
		return check(&ds.opt);
	if ((boot = load_config(&ds.opt)) == NULL)
		return 1;
	ds.wake_pipe[0] = ds.wake_pipe[1] = -1;
	ops.state_file = cfg_str(boot, "policyd.state_file"); /* boot lives until exit */
	if (open_listeners(&ds, boot, &sm_fd, &pol_fd) < 0 ||
	    drop_privileges(cfg_str(boot, "policyd.user")) < 0 ||
	    (ds.rl = reloader_new(&ops)) == NULL)
		goto out;
	ds.d.snap = (snapshot *)reloader_current(ds.rl);
	if (!ds.opt.foreground && daemon(0, 0) < 0) {
		log_warn("daemon");
		goto out;
	}
	if ((ds.d.base = event_base_new()) == NULL) {
		log_errx("cannot create the event loop");
		goto out;
	}
	start_resolver(&ds, boot);
	if (start_listeners(&ds, boot, sm_fd, pol_fd) < 0 || start_reloads(&ds, &blocked) < 0)
		goto out;
	log_info("ready: %s, %zu entries; socketmap %s, policy %s", ds.d.snap->rs.table,
	         ds.d.snap->rs.entries, sm_fd >= 0 ? "on" : "off", pol_fd >= 0 ? "on" : "off");
	notify_ready(); /* READY=1 to systemd: listening, table loaded, signals taken */
	event_base_dispatch(ds.d.base);
	rc = 0;
out:
	cleanup(&ds);
	cfg_free(boot);
	return rc;
}
