/*
 * NAME
 *	test_resolver - policyd/resolver.c against a real dnsmasq
 * SUMMARY
 *	test_resolver DNSMASQ CASE
 * DESCRIPTION
 *	Starts dnsmasq on a free loopback port with the zone below, plus, in
 *	this process's event loop, small UDP responders: one that answers
 *	every query SERVFAIL, one REFUSED, one with a malformed answer, and a
 *	socket that never answers (timeouts). dnsmasq forwards fail.test to
 *	the SERVFAIL responder. Then runs one CASE (see the table at the end)
 *	and exits 0 (pass), 1 (fail) or 77 (dnsmasq missing: skipped).
 *
 *	The zone (dnsmasq options):
 *	multi.test	MX 20 mx1.multi.test, MX 10 mx2.multi.test,
 *			MX 20 mx3.multi.test
 *	mx1.multi.test	A 192.0.2.1
 *	mx2.multi.test	A 192.0.2.2, AAAA 2001:db8::2
 *	mx3.multi.test	AAAA 2001:db8::3
 *	implicit.test	A 192.0.2.10, AAAA 2001:db8::10 (no MX)
 *	nullmx.test	MX 0 . (RFC 7505)
 *	skip.test	MX 10 gone.test (NXDOMAIN), MX 20 mx1.multi.test
 *	dead.test	MX 10 gone.test
 *	halffail.test	MX 10 mx1.multi.test, MX 20 mx.fail.test (SERVFAIL)
 *	short.test	A 192.0.2.20 with TTL 1
 *	alias.test	CNAME mx2.multi.test
 *	a.test b.test c.test	A 192.0.2.31/32/33
 *	many70.test	70 A records, 198.18.0.1 ... 198.18.0.70 (an
 *			addn-hosts file written at start)
 *	mxmany.test	MX 10 many70.test
 *	many1100.test	1100 A records (more than RESOLVER_MAX_ADDRS)
 *	mxtotal.test	MX 10 many600a.test, MX 20 many600b.test, each
 *			with 600 A records (1200 in all)
 *	mxs.test	101 MX records h1.mxs.test ... h101.mxs.test, all
 *			A 192.0.2.50 (more than RESOLVER_MAX_HOSTS)
 *	everything else in .test: NXDOMAIN
 * DIAGNOSTICS
 *	One line per failed check: FILE:LINE: the check.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "resolver.h"

#define SKIP 77

static int failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s (why: %s)\n", __FILE__, __LINE__, \
			        #cond, c_why());                                                   \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static struct event_base *base;
static const char *c_why(void);
static const char *last_why = "";
static pid_t dnsmasq_pid = -1;
static unsigned short dns_port, servfail_port, refused_port, malformed_port, soa_port,
        blackhole_port, closed_port;
static char servers[64];

/* ---------------------------------------------------------------------------
 * Results.
 */

typedef struct {
	int called;
	resolver_status status;
	size_t naddrs;
	char addrs[RESOLVER_MAX_ADDRS][INET6_ADDRSTRLEN];
	char why[300];
	int cached;
	int limit;
	int64_t at_ms;
} rec;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_result(void *ctx, const resolver_result *r)
{
	rec *c = ctx;

	c->called++;
	c->status = r->status;
	c->naddrs = r->naddrs;
	c->cached = r->cached;
	c->limit = r->limit;
	c->at_ms = now_ms();
	snprintf(c->why, sizeof(c->why), "%s", r->why != NULL ? r->why : "(null)");
	last_why = c->why;
	for (size_t i = 0; i < r->naddrs && i < RESOLVER_MAX_ADDRS; i++)
		inet_ntop(r->addrs[i].family == 4 ? AF_INET : AF_INET6, r->addrs[i].bytes,
		          c->addrs[i], sizeof(c->addrs[i]));
}

static const char *c_why(void)
{
	return last_why;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

/* Run the loop until every record in recs has been called, or ms passed. */
static int wait_for(rec **recs, size_t n, int ms)
{
	int64_t deadline = now_ms() + ms;
	struct timeval tick = {0, 20000};
	struct event *t = event_new(base, -1, EV_PERSIST, on_tick, NULL);
	int done = 0;

	event_add(t, &tick);
	while (!done && now_ms() < deadline) {
		event_base_loop(base, EVLOOP_ONCE);
		done = 1;
		for (size_t i = 0; i < n; i++)
			if (recs[i]->called == 0)
				done = 0;
	}
	event_free(t);
	return done;
}

/* Let the loop run for ms (to let TTLs expire with the loop alive). */
static void run_for(int ms)
{
	int64_t deadline = now_ms() + ms;
	struct timeval tick = {0, 20000};
	struct event *t = event_new(base, -1, EV_PERSIST, on_tick, NULL);

	event_add(t, &tick);
	while (now_ms() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
}

static int resolve_wait(resolver *r, const char *name, resolver_mode mode, rec *c)
{
	rec *one[1] = {c};

	memset(c, 0, sizeof(*c));
	if (resolver_resolve(r, name, mode, on_result, c) < 0)
		return -1;
	return wait_for(one, 1, 10000) ? 0 : -1;
}

static int has_addr(const rec *c, const char *a)
{
	for (size_t i = 0; i < c->naddrs; i++)
		if (strcmp(c->addrs[i], a) == 0)
			return 1;
	return 0;
}

static resolver *new_resolver(const char *srv, unsigned timeout_ms, unsigned tries,
                              size_t cache_size, unsigned negative_ttl)
{
	resolver_options o;
	char why[256];
	resolver *r;

	resolver_options_init(&o);
	o.servers = srv;
	o.timeout_ms = timeout_ms;
	o.tries = tries;
	o.cache_size = cache_size;
	o.negative_ttl = negative_ttl;
	if ((r = resolver_new(base, &o, why, sizeof(why))) == NULL)
		fprintf(stderr, "resolver_new: %s\n", why);
	return r;
}

static resolver *dns_resolver(void)
{
	return new_resolver(servers, 1000, 2, 1000, 300);
}

/* ---------------------------------------------------------------------------
 * UDP responders in this process.
 */

typedef enum { ANSWER_SERVFAIL, ANSWER_REFUSED, ANSWER_MALFORMED, ANSWER_NXDOMAIN_SOA } answer_kind;
#define NRESPONDERS 4

typedef struct {
	answer_kind kind;
	int fd;
	struct event *ev;
} responder;

static responder responders[NRESPONDERS];
static int blackhole_fd = -1;

static int udp_socket(unsigned short *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		perror("udp socket");
		exit(1);
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A port free for both UDP and TCP right now (dnsmasq binds both). */
static unsigned short free_port(void)
{
	for (int i = 0; i < 50; i++) {
		unsigned short port;
		int u = udp_socket(&port), t = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sin;
		int ok;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin.sin_port = htons(port);
		ok = t >= 0 && bind(t, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		close(t);
		close(u);
		if (ok)
			return port;
	}
	fprintf(stderr, "no free port\n");
	exit(1);
}

/*
 * Header bytes 2-3: QR OPCODE AA TC RD | RA Z RCODE. The answers copy the
 * query (ID and question), so c-ares matches them to it.
 */
static void on_query(evutil_socket_t fd, short what, void *arg)
{
	responder *rp = arg;
	unsigned char buf[512];
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	ssize_t n;

	(void)what;
	n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen);
	if (n < 12)
		return;
	buf[2] |= 0x80; /* QR */
	buf[3] = 0x80;  /* RA, RCODE 0 */
	switch (rp->kind) {
	case ANSWER_SERVFAIL:
		buf[3] |= 2;
		break;
	case ANSWER_REFUSED:
		buf[3] |= 5;
		break;
	case ANSWER_MALFORMED: /* one answer announced, three bytes of it sent */
		buf[7] = 1;
		if (n + 3 <= (ssize_t)sizeof(buf)) {
			memcpy(buf + n, "\xc0\x0c\x00", 3);
			n += 3;
		}
		break;
	case ANSWER_NXDOMAIN_SOA: /* SOA . . TTL 600, MINIMUM 1 */
		buf[3] |= 3;
		buf[9] = 1; /* NSCOUNT */
		if (n + 34 <= (ssize_t)sizeof(buf)) {
			memcpy(buf + n,
			       "\xc0\x0c\x00\x06\x00\x01\x00\x00\x02\x58\x00\x16"
			       "\x00\x00"
			       "\x00\x00\x00\x01\x00\x00\x0e\x10\x00\x00\x03\x84"
			       "\x00\x09\x3a\x80\x00\x00\x00\x01",
			       34);
			n += 34;
		}
		break;
	}
	sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fromlen);
}

/*
 * A UDP port nothing listens on, for the whole run. An ephemeral port
 * freed again may be taken by a parallel test's DNS server (CI saw NODATA
 * answers "from" it), so as root take port 9 of 127.0.0.1 when it is free:
 * bind(0) never hands out a port below 1024. Else, an ephemeral one.
 */
static unsigned short closed_udp_port(void)
{
	struct sockaddr_in sin;
	int u = socket(AF_INET, SOCK_DGRAM, 0), ok;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(9);
	ok = u >= 0 && bind(u, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	if (u >= 0)
		close(u);
	return ok ? 9 : free_port();
}

static void start_responders(void)
{
	unsigned short *ports[NRESPONDERS] = {&servfail_port, &refused_port, &malformed_port,
	                                      &soa_port};

	for (int i = 0; i < NRESPONDERS; i++) {
		responders[i].kind = (answer_kind)i;
		responders[i].fd = udp_socket(ports[i]);
		responders[i].ev = event_new(base, responders[i].fd, EV_READ | EV_PERSIST, on_query,
		                             &responders[i]);
		event_add(responders[i].ev, NULL);
	}
	blackhole_fd = udp_socket(&blackhole_port); /* bound, never read */
	closed_port = closed_udp_port();            /* nothing there: ECONNREFUSED */
}

static void stop_responders(void)
{
	for (int i = 0; i < NRESPONDERS; i++) {
		event_free(responders[i].ev);
		close(responders[i].fd);
	}
	close(blackhole_fd);
}

/* ---------------------------------------------------------------------------
 * dnsmasq.
 */

static void stop_dnsmasq(void)
{
	if (dnsmasq_pid > 0) {
		kill(dnsmasq_pid, SIGTERM);
		waitpid(dnsmasq_pid, NULL, 0);
		dnsmasq_pid = -1;
	}
}

static char hosts_path[64] = "", conf_path[64] = "";

static void remove_zone_files(void)
{
	if (hosts_path[0] != '\0')
		unlink(hosts_path);
	if (conf_path[0] != '\0')
		unlink(conf_path);
}

/* The big names: an addn-hosts file and a conf-file of MX records. */
static int write_zone_files(void)
{
	FILE *h, *c;
	int fd;

	snprintf(hosts_path, sizeof(hosts_path), "/tmp/test_resolver.hosts.XXXXXX");
	snprintf(conf_path, sizeof(conf_path), "/tmp/test_resolver.conf.XXXXXX");
	if ((fd = mkstemp(hosts_path)) < 0 || (h = fdopen(fd, "w")) == NULL)
		return -1;
	if ((fd = mkstemp(conf_path)) < 0 || (c = fdopen(fd, "w")) == NULL) {
		fclose(h);
		return -1;
	}
	for (int i = 1; i <= 70; i++)
		fprintf(h, "198.18.0.%d many70.test\n", i);
	for (int i = 0; i < 1100; i++)
		fprintf(h, "10.100.%d.%d many1100.test\n", i / 256, i % 256);
	for (int i = 0; i < 600; i++)
		fprintf(h, "10.101.%d.%d many600a.test\n10.102.%d.%d many600b.test\n", i / 256,
		        i % 256, i / 256, i % 256);
	fprintf(c, "mx-host=mxmany.test,many70.test,10\n");
	fprintf(c,
	        "mx-host=mxtotal.test,many600a.test,10\nmx-host=mxtotal.test,many600b.test,20\n");
	for (int i = 1; i <= 101; i++) {
		fprintf(c, "mx-host=mxs.test,h%d.mxs.test,10\n", i);
		fprintf(h, "192.0.2.50 h%d.mxs.test\n", i);
	}
	fclose(c);
	return fclose(h) == 0 ? 0 : -1;
}

static int start_dnsmasq(const char *path)
{
	char port[32], fwd[64], addn[96], conf[96];
	const char *argv[] = {
	        path,
	        "--keep-in-foreground",
	        "--no-resolv",
	        "--no-hosts",
	        "--bind-interfaces",
	        "--listen-address=127.0.0.1",
	        port,
	        "--user=root",
	        "--pid-file=",
	        "--local-ttl=600",
	        "--local=/test/",
	        fwd,
	        "--mx-host=multi.test,mx1.multi.test,20",
	        "--mx-host=multi.test,mx2.multi.test,10",
	        "--mx-host=multi.test,mx3.multi.test,20",
	        "--host-record=mx1.multi.test,192.0.2.1",
	        "--host-record=mx2.multi.test,192.0.2.2,2001:db8::2",
	        "--host-record=mx3.multi.test,2001:db8::3",
	        "--host-record=implicit.test,192.0.2.10,2001:db8::10",
	        "--dns-rr=nullmx.test,15,0000"
	        "00",
	        "--mx-host=skip.test,gone.test,10",
	        "--mx-host=skip.test,mx1.multi.test,20",
	        "--mx-host=dead.test,gone.test,10",
	        "--mx-host=halffail.test,mx1.multi.test,10",
	        "--mx-host=halffail.test,mx.fail.test,20",
	        "--host-record=short.test,192.0.2.20,1",
	        "--cname=alias.test,mx2.multi.test",
	        "--host-record=a.test,192.0.2.31",
	        "--host-record=b.test,192.0.2.32",
	        "--host-record=c.test,192.0.2.33",
	        addn,
	        conf,
	        NULL,
	};
	int devnull;

	if (write_zone_files() < 0) {
		perror("zone files");
		return -1;
	}
	snprintf(addn, sizeof(addn), "--addn-hosts=%s", hosts_path);
	snprintf(conf, sizeof(conf), "--conf-file=%s", conf_path);
	dns_port = free_port();
	snprintf(port, sizeof(port), "--port=%u", dns_port);
	snprintf(fwd, sizeof(fwd), "--server=/fail.test/127.0.0.1#%u", servfail_port);
	snprintf(servers, sizeof(servers), "127.0.0.1:%u", dns_port);
	if ((dnsmasq_pid = fork()) < 0) {
		perror("fork");
		return -1;
	}
	if (dnsmasq_pid == 0) {
		if (getenv("RESOLVER_TEST_VERBOSE") == NULL &&
		    (devnull = open("/dev/null", O_WRONLY)) >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execv(path, (char *const *)argv);
		_exit(127);
	}
	/* Ready when it answers. */
	for (int i = 0; i < 50; i++) {
		resolver *r = new_resolver(servers, 200, 1, 0, 300);
		rec c;
		int ok, st;

		if (r == NULL)
			return -1;
		ok = resolve_wait(r, "mx1.multi.test", RESOLVER_HOST, &c) == 0 &&
		     c.status == RESOLVER_OK;
		resolver_free(r);
		if (ok)
			return 0;
		if (waitpid(dnsmasq_pid, &st, WNOHANG) == dnsmasq_pid) {
			fprintf(stderr,
			        "dnsmasq exited (status %d); RESOLVER_TEST_VERBOSE=1 "
			        "shows why\n",
			        st);
			dnsmasq_pid = -1;
			return -1;
		}
		usleep(100000);
	}
	fprintf(stderr, "dnsmasq does not answer on %s\n", servers);
	return -1;
}

/* ---------------------------------------------------------------------------
 * The cases.
 */

/* MX hosts in preference order, A then AAAA of each, both families. */
static void test_mx_order(void)
{
	resolver *r = dns_resolver();
	rec c;

	CHECK(resolve_wait(r, "multi.test", RESOLVER_MX, &c) == 0);
	CHECK(c.called == 1);
	CHECK(c.status == RESOLVER_OK);
	CHECK(strcmp(c.why, "") == 0);
	CHECK(c.cached == 0);
	CHECK(c.naddrs == 4);
	/* mx2 (10) first: its A, then its AAAA. */
	CHECK(strcmp(c.addrs[0], "192.0.2.2") == 0);
	CHECK(strcmp(c.addrs[1], "2001:db8::2") == 0);
	/* mx1 and mx3 (20) in answer order, after. */
	CHECK((strcmp(c.addrs[2], "192.0.2.1") == 0 && strcmp(c.addrs[3], "2001:db8::3") == 0) ||
	      (strcmp(c.addrs[2], "2001:db8::3") == 0 && strcmp(c.addrs[3], "192.0.2.1") == 0));
	resolver_free(r);
}

static void test_mx_skip_nxdomain_host(void)
{
	resolver *r = dns_resolver();
	rec c;

	CHECK(resolve_wait(r, "skip.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_OK);
	CHECK(c.naddrs == 1 && strcmp(c.addrs[0], "192.0.2.1") == 0);
	CHECK(resolve_wait(r, "dead.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_NOTFOUND);
	CHECK(c.naddrs == 0);
	resolver_free(r);
}

static void test_implicit_mx(void)
{
	resolver *r = dns_resolver();
	rec c;

	CHECK(resolve_wait(r, "implicit.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_OK);
	CHECK(c.naddrs == 2);
	CHECK(strcmp(c.addrs[0], "192.0.2.10") == 0);
	CHECK(strcmp(c.addrs[1], "2001:db8::10") == 0);
	resolver_free(r);
}

static void test_host(void)
{
	resolver *r = dns_resolver();
	rec c;

	CHECK(resolve_wait(r, "mx2.multi.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.status == RESOLVER_OK);
	CHECK(c.naddrs == 2);
	CHECK(strcmp(c.addrs[0], "192.0.2.2") == 0 && strcmp(c.addrs[1], "2001:db8::2") == 0);
	/* HOST mode never asks MX: multi.test has no address. */
	CHECK(resolve_wait(r, "multi.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.status == RESOLVER_NOTFOUND);
	/* A CNAME is followed. */
	CHECK(resolve_wait(r, "alias.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.status == RESOLVER_OK);
	CHECK(c.naddrs == 2 && has_addr(&c, "192.0.2.2") && has_addr(&c, "2001:db8::2"));
	resolver_free(r);
}

static void test_nxdomain(void)
{
	resolver *r = dns_resolver();
	rec c;

	CHECK(resolve_wait(r, "nosuch.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_NOTFOUND);
	CHECK(c.naddrs == 0);
	CHECK(strstr(c.why, "NXDOMAIN looking up MX of nosuch.test") != NULL);
	CHECK(resolve_wait(r, "nosuch.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.status == RESOLVER_NOTFOUND);
	resolver_free(r);
}

static void test_null_mx(void)
{
	resolver *r = dns_resolver();
	rec c;

	CHECK(resolve_wait(r, "nullmx.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_NOTFOUND);
	CHECK(c.naddrs == 0);
	CHECK(strcmp(c.why, "null MX for nullmx.test") == 0);
	resolver_free(r);
}

static void test_invalid_name(void)
{
	resolver *r = dns_resolver();
	resolver_stats st;
	const char *bad[] = {
	        "",
	        "a..b",
	        ".a",
	        "a b.test",
	        "a\n.test",
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.test"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rec c;

		memset(&c, 0, sizeof(c));
		CHECK(resolver_resolve(r, bad[i], RESOLVER_MX, on_result, &c) == 0);
		CHECK(c.called == 1); /* at once */
		CHECK(c.status == RESOLVER_NOTFOUND);
	}
	resolver_get_stats(r, &st);
	CHECK(st.queries == 0);
	resolver_free(r);
}

/* SERVFAIL and REFUSED answers, direct and forwarded by dnsmasq. */
static void test_servfail(void)
{
	char srv[64];
	resolver *r;
	resolver_stats st;
	rec c;

	snprintf(srv, sizeof(srv), "127.0.0.1:%u", servfail_port);
	r = new_resolver(srv, 1000, 2, 1000, 300);
	CHECK(resolve_wait(r, "example.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP);
	CHECK(strcmp(c.why, "SERVFAIL looking up MX of example.test") == 0);
	CHECK(resolve_wait(r, "mx1.example.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP);
	CHECK(strcmp(c.why, "SERVFAIL looking up A of mx1.example.test") == 0 ||
	      strcmp(c.why, "SERVFAIL looking up AAAA of mx1.example.test") == 0);
	/* TEMP is never cached. */
	CHECK(resolve_wait(r, "example.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP && c.cached == 0);
	resolver_get_stats(r, &st);
	CHECK(st.cache_hits == 0);
	CHECK(st.cache_entries == 0);
	CHECK(st.temp_failures == 3);
	CHECK(st.queries == 4);
	resolver_free(r);

	snprintf(srv, sizeof(srv), "127.0.0.1:%u", refused_port);
	r = new_resolver(srv, 1000, 2, 1000, 300);
	CHECK(resolve_wait(r, "example.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP);
	CHECK(strcmp(c.why, "REFUSED looking up MX of example.test") == 0);
	resolver_free(r);

	/* Several servers: SERVFAIL and REFUSED try the next one. */
	snprintf(srv, sizeof(srv), "127.0.0.1:%u,127.0.0.1:%u,127.0.0.1:%u", refused_port,
	         servfail_port, dns_port);
	r = new_resolver(srv, 1000, 1, 1000, 300);
	CHECK(resolve_wait(r, "multi.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_OK && c.naddrs == 4);
	resolver_free(r);
	snprintf(srv, sizeof(srv), "127.0.0.1:%u,127.0.0.1:%u", refused_port, servfail_port);
	r = new_resolver(srv, 1000, 1, 1000, 300);
	CHECK(resolve_wait(r, "multi.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP);
	CHECK(strcmp(c.why, "SERVFAIL, REFUSED or connection refused from every server "
	                    "looking up MX of multi.test") == 0);
	resolver_free(r);

	/* Through dnsmasq: the MX of a whole domain, then one MX host failing. */
	r = dns_resolver();
	CHECK(resolve_wait(r, "fail.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP);
	CHECK(strstr(c.why, "looking up MX of fail.test") != NULL);
	CHECK(resolve_wait(r, "halffail.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP); /* mx1 answered, mx.fail.test did not */
	CHECK(strstr(c.why, " of mx.fail.test") != NULL);
	resolver_free(r);
}

static void test_malformed(void)
{
	char srv[64];
	resolver *r;
	rec c;

	snprintf(srv, sizeof(srv), "127.0.0.1:%u", malformed_port);
	r = new_resolver(srv, 500, 1, 1000, 300);
	CHECK(resolve_wait(r, "example.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP);
	CHECK(strcmp(c.why, "malformed answer looking up MX of example.test") == 0);
	CHECK(resolve_wait(r, "example.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP);
	CHECK(strstr(c.why, "malformed answer looking up A") == c.why);
	resolver_free(r);
}

/* Nothing answers: TEMP after the retries, on time. */
static void test_timeout(void)
{
	char srv[64];
	resolver *r;
	rec c;
	int64_t t0;

	snprintf(srv, sizeof(srv), "127.0.0.1:%u", blackhole_port);
	r = new_resolver(srv, 300, 1, 1000, 300);
	t0 = now_ms();
	CHECK(resolve_wait(r, "example.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP);
	CHECK(strcmp(c.why, "timeout looking up MX of example.test") == 0);
	CHECK(c.at_ms - t0 >= 290);
	CHECK(c.at_ms - t0 < 300 + 400);
	resolver_free(r);

	/* Two tries: c-ares doubles the timeout per round, 300 + 600 ms. */
	r = new_resolver(srv, 300, 2, 1000, 300);
	t0 = now_ms();
	CHECK(resolve_wait(r, "mx.example.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP);
	CHECK(strcmp(c.why, "timeout looking up A of mx.example.test") == 0 ||
	      strcmp(c.why, "timeout looking up AAAA of mx.example.test") == 0);
	CHECK(c.at_ms - t0 >= 590);
	CHECK(c.at_ms - t0 < 900 + 400);
	resolver_free(r);

	/* A closed port answers at once (ICMP port unreachable). */
	snprintf(srv, sizeof(srv), "127.0.0.1:%u", closed_port);
	r = new_resolver(srv, 2000, 2, 1000, 300);
	t0 = now_ms();
	CHECK(resolve_wait(r, "example.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP);
	CHECK(strcmp(c.why, "connection refused looking up MX of example.test") == 0);
	CHECK(c.at_ms - t0 < 1000);
	resolver_free(r);
}

static void test_cache_hit(void)
{
	resolver *r = dns_resolver();
	resolver_stats st;
	rec c;
	unsigned long q;

	CHECK(resolve_wait(r, "multi.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_OK && c.cached == 0);
	resolver_get_stats(r, &st);
	q = st.queries;
	CHECK(q == 7); /* MX, then A and AAAA of three hosts */
	CHECK(st.cache_misses == 1 && st.cache_hits == 0 && st.cache_entries == 1);

	memset(&c, 0, sizeof(c));
	CHECK(resolver_resolve(r, "multi.test", RESOLVER_MX, on_result, &c) == 0);
	CHECK(c.called == 1); /* before resolver_resolve() returned */
	CHECK(c.status == RESOLVER_OK && c.cached == 1 && c.naddrs == 4);
	CHECK(strcmp(c.addrs[0], "192.0.2.2") == 0);
	resolver_get_stats(r, &st);
	CHECK(st.queries == q);
	CHECK(st.cache_hits == 1);

	/* The mode is part of the key. */
	CHECK(resolve_wait(r, "multi.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.cached == 0 && c.status == RESOLVER_NOTFOUND);
	resolver_get_stats(r, &st);
	CHECK(st.queries == q + 2);
	CHECK(st.cache_entries == 2);
	resolver_free(r);
}

/* short.test has a TTL of 1 s: asked again after 2 s; a 600 s answer is not. */
static void test_ttl_expiry(void)
{
	resolver *r = dns_resolver();
	resolver_stats st;
	rec c;
	unsigned long q;

	CHECK(resolve_wait(r, "short.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.status == RESOLVER_OK && c.naddrs == 1 && strcmp(c.addrs[0], "192.0.2.20") == 0);
	CHECK(resolve_wait(r, "a.test", RESOLVER_HOST, &c) == 0);
	CHECK(resolve_wait(r, "short.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.cached == 1);
	resolver_get_stats(r, &st);
	q = st.queries;
	run_for(2100);
	CHECK(resolve_wait(r, "short.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.status == RESOLVER_OK && c.cached == 0);
	CHECK(resolve_wait(r, "a.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.status == RESOLVER_OK && c.cached == 1);
	resolver_get_stats(r, &st);
	CHECK(st.queries == q + 2);
	resolver_free(r);
}

static void test_negative_cache(void)
{
	resolver *r = new_resolver(servers, 1000, 2, 1000, 1);
	resolver_stats st;
	rec c;
	unsigned long q;
	char srv[64];

	CHECK(resolve_wait(r, "nosuch.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_NOTFOUND && c.cached == 0);
	CHECK(resolve_wait(r, "nullmx.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_NOTFOUND);
	resolver_get_stats(r, &st);
	q = st.queries;
	CHECK(st.cache_entries == 2);
	CHECK(resolve_wait(r, "nosuch.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_NOTFOUND && c.cached == 1);
	CHECK(strstr(c.why, "NXDOMAIN") != NULL);
	CHECK(resolve_wait(r, "nullmx.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_NOTFOUND && c.cached == 1);
	resolver_get_stats(r, &st);
	CHECK(st.queries == q);
	/* negative_ttl = 1 caps them. */
	run_for(1600);
	CHECK(resolve_wait(r, "nosuch.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_NOTFOUND && c.cached == 0);
	resolver_get_stats(r, &st);
	CHECK(st.queries == q + 1);
	resolver_free(r);

	/* An SOA in the authority section: its MINIMUM (1 s) wins over 300. */
	snprintf(srv, sizeof(srv), "127.0.0.1:%u", soa_port);
	r = new_resolver(srv, 1000, 2, 1000, 300);
	CHECK(resolve_wait(r, "nosuch.example", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_NOTFOUND && c.cached == 0);
	CHECK(strcmp(c.why, "NXDOMAIN looking up MX of nosuch.example") == 0);
	CHECK(resolve_wait(r, "nosuch.example", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_NOTFOUND && c.cached == 1);
	run_for(1600);
	CHECK(resolve_wait(r, "nosuch.example", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_NOTFOUND && c.cached == 0);
	resolver_get_stats(r, &st);
	CHECK(st.queries == 2 && st.cache_hits == 1);
	resolver_free(r);

	/* No SOA (dnsmasq sends none) and a long negative_ttl: still cached. */
	r = new_resolver(servers, 1000, 2, 1000, 300);
	CHECK(resolve_wait(r, "nosuch.test", RESOLVER_HOST, &c) == 0);
	run_for(1600);
	CHECK(resolve_wait(r, "nosuch.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.status == RESOLVER_NOTFOUND && c.cached == 1);
	resolver_free(r);
}

/* Requests for a name in flight share its queries. */
static void test_inflight(void)
{
	resolver *r = dns_resolver();
	resolver_stats st;
	rec c1, c2, c3, c4;
	rec *all[] = {&c1, &c2, &c3, &c4};

	memset(&c1, 0, sizeof(c1));
	memset(&c2, 0, sizeof(c2));
	memset(&c3, 0, sizeof(c3));
	memset(&c4, 0, sizeof(c4));
	CHECK(resolver_resolve(r, "mx2.multi.test", RESOLVER_HOST, on_result, &c1) == 0);
	CHECK(resolver_resolve(r, "mx2.multi.test", RESOLVER_HOST, on_result, &c2) == 0);
	CHECK(resolver_resolve(r, "multi.test", RESOLVER_MX, on_result, &c3) == 0);
	CHECK(resolver_resolve(r, "multi.test", RESOLVER_MX, on_result, &c4) == 0);
	CHECK(c1.called == 0 && c2.called == 0);
	resolver_get_stats(r, &st);
	CHECK(st.queries == 3); /* A, AAAA, MX */
	CHECK(wait_for(all, 4, 10000));
	CHECK(c1.called == 1 && c2.called == 1 && c3.called == 1 && c4.called == 1);
	CHECK(c1.status == RESOLVER_OK && c2.status == RESOLVER_OK);
	CHECK(c1.naddrs == 2 && c2.naddrs == 2);
	CHECK(c3.status == RESOLVER_OK && c4.status == RESOLVER_OK);
	CHECK(c3.naddrs == 4 && c4.naddrs == 4);
	CHECK(c1.cached == 0 && c2.cached == 0);
	resolver_get_stats(r, &st);
	CHECK(st.queries == 3 + 6);
	CHECK(st.cache_misses == 4);
	CHECK(st.cache_entries == 2);
	resolver_free(r);
}

static void test_cache_bound(void)
{
	resolver *r = new_resolver(servers, 1000, 2, 2, 300);
	resolver_stats st;
	rec c;
	unsigned long q;

	CHECK(resolve_wait(r, "a.test", RESOLVER_HOST, &c) == 0);
	CHECK(resolve_wait(r, "b.test", RESOLVER_HOST, &c) == 0);
	CHECK(resolve_wait(r, "c.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.status == RESOLVER_OK && strcmp(c.addrs[0], "192.0.2.33") == 0);
	resolver_get_stats(r, &st);
	CHECK(st.cache_entries == 2);
	q = st.queries;
	/* a.test, the oldest, was dropped; c.test is there. */
	CHECK(resolve_wait(r, "c.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.cached == 1);
	CHECK(resolve_wait(r, "a.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.cached == 0 && c.status == RESOLVER_OK);
	resolver_get_stats(r, &st);
	CHECK(st.queries == q + 2);
	CHECK(st.cache_entries == 2);
	/* Now b.test was the oldest. */
	CHECK(resolve_wait(r, "b.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.cached == 0);
	resolver_free(r);

	/* cache_size 0: no cache at all. */
	r = new_resolver(servers, 1000, 2, 0, 300);
	CHECK(resolve_wait(r, "a.test", RESOLVER_HOST, &c) == 0);
	CHECK(resolve_wait(r, "a.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.status == RESOLVER_OK && c.cached == 0);
	resolver_get_stats(r, &st);
	CHECK(st.cache_entries == 0 && st.queries == 4 && st.cache_hits == 0);
	resolver_free(r);
}

typedef struct {
	rec c; /* first: on_result() gets this */
	resolver *r;
} rerec;

static rec reentrant_inner;

static void on_result_reentrant(void *ctx, const resolver_result *res)
{
	rerec *re = ctx;

	on_result(&re->c, res);
	memset(&reentrant_inner, 0, sizeof(reentrant_inner));
	resolver_resolve(re->r, "a.test", RESOLVER_HOST, on_result, &reentrant_inner);
}

/* resolver_free() answers pending requests TEMP; callbacks may resolve again. */
static void test_free_pending(void)
{
	char srv[64];
	resolver *r;
	rec c1, c2;
	rerec re;
	rec *one[1] = {&re.c};

	snprintf(srv, sizeof(srv), "127.0.0.1:%u", blackhole_port);
	r = new_resolver(srv, 5000, 2, 1000, 300);
	memset(&c1, 0, sizeof(c1));
	memset(&c2, 0, sizeof(c2));
	CHECK(resolver_resolve(r, "example.test", RESOLVER_MX, on_result, &c1) == 0);
	CHECK(resolver_resolve(r, "mx.example.test", RESOLVER_HOST, on_result, &c2) == 0);
	run_for(100);
	CHECK(c1.called == 0 && c2.called == 0);
	resolver_free(r);
	CHECK(c1.called == 1 && c1.status == RESOLVER_TEMP);
	CHECK(c2.called == 1 && c2.status == RESOLVER_TEMP);
	CHECK(strstr(c1.why, "shut down") != NULL);

	/* A callback that resolves again, from an answer and from the cache. */
	r = dns_resolver();
	memset(&re, 0, sizeof(re));
	re.r = r;
	CHECK(resolver_resolve(r, "b.test", RESOLVER_HOST, on_result_reentrant, &re) == 0);
	CHECK(wait_for(one, 1, 10000));
	one[0] = &reentrant_inner;
	CHECK(wait_for(one, 1, 10000));
	CHECK(reentrant_inner.status == RESOLVER_OK);
	memset(&re.c, 0, sizeof(re.c));
	CHECK(resolver_resolve(r, "b.test", RESOLVER_HOST, on_result_reentrant, &re) == 0);
	CHECK(re.c.called == 1 && re.c.cached == 1);
	CHECK(reentrant_inner.called == 1 && reentrant_inner.cached == 1);
	resolver_free(r);
}

static void test_bad_servers(void)
{
	resolver_options o;
	char why[256] = "";
	resolver *r;

	resolver_options_init(&o);
	CHECK(o.timeout_ms == 2000 && o.tries == 2 && o.cache_size == 100000 &&
	      o.cache_max_ttl == 3600 && o.negative_ttl == 300 && o.servers == NULL);
	o.servers = "not an address";
	r = resolver_new(base, &o, why, sizeof(why));
	CHECK(r == NULL);
	CHECK(strstr(why, "not an address") != NULL);
	resolver_free(r);
}

/* ---------------------------------------------------------------------------
 * main.
 */

/* 70 addresses for one name: every one, in answer order (the cap was 64). */
static void test_many_addrs(void)
{
	resolver *r = dns_resolver();
	rec c;

	CHECK(resolve_wait(r, "many70.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.status == RESOLVER_OK);
	CHECK(c.naddrs == 70);
	CHECK(has_addr(&c, "198.18.0.1"));
	CHECK(has_addr(&c, "198.18.0.70"));
	/* The same behind an MX. */
	CHECK(resolve_wait(r, "mxmany.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_OK);
	CHECK(c.naddrs == 70);
	CHECK(has_addr(&c, "198.18.0.70"));
	resolver_free(r);
}

/* More addresses than RESOLVER_MAX_ADDRS, for one host or in all: TEMP, not cut. */
static void test_too_many_addrs(void)
{
	resolver *r = dns_resolver();
	char want[128];
	rec c;

	CHECK(resolve_wait(r, "many1100.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP);
	CHECK(c.limit == 1);
	snprintf(want, sizeof(want), "too many addresses for many1100.test: 1100 > %d",
	         RESOLVER_MAX_ADDRS);
	CHECK(strcmp(c.why, want) == 0);
	CHECK(resolve_wait(r, "many1100.test", RESOLVER_HOST, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP && c.cached == 0); /* TEMP is never cached */
	CHECK(resolve_wait(r, "mxtotal.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP);
	CHECK(c.limit == 1);
	snprintf(want, sizeof(want), "too many addresses for mxtotal.test: 1200 > %d",
	         RESOLVER_MAX_ADDRS);
	CHECK(strcmp(c.why, want) == 0);
	/* A DNS failure is not a limit. */
	CHECK(resolve_wait(r, "x.fail.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP && c.limit == 0);
	resolver_free(r);
}

/* More MX hosts than RESOLVER_MAX_HOSTS: TEMP, not the first ones only. */
static void test_too_many_mx(void)
{
	resolver *r = dns_resolver();
	char want[128];
	rec c;

	CHECK(resolve_wait(r, "mxs.test", RESOLVER_MX, &c) == 0);
	CHECK(c.status == RESOLVER_TEMP);
	CHECK(c.limit == 1);
	snprintf(want, sizeof(want), "too many MX hosts for mxs.test: 101 > %d",
	         RESOLVER_MAX_HOSTS);
	CHECK(strcmp(c.why, want) == 0);
	resolver_free(r);
}

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
        {"mx_order", test_mx_order},
        {"mx_skip_nxdomain_host", test_mx_skip_nxdomain_host},
        {"implicit_mx", test_implicit_mx},
        {"host", test_host},
        {"nxdomain", test_nxdomain},
        {"null_mx", test_null_mx},
        {"invalid_name", test_invalid_name},
        {"servfail", test_servfail},
        {"malformed", test_malformed},
        {"timeout", test_timeout},
        {"cache_hit", test_cache_hit},
        {"ttl_expiry", test_ttl_expiry},
        {"negative_cache", test_negative_cache},
        {"inflight", test_inflight},
        {"cache_bound", test_cache_bound},
        {"free_pending", test_free_pending},
        {"bad_servers", test_bad_servers},
        {"many_addrs", test_many_addrs},
        {"too_many_addrs", test_too_many_addrs},
        {"too_many_mx", test_too_many_mx},
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct stat sb;
	int found = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: test_resolver DNSMASQ CASE|all\n");
		return 2;
	}
	if (stat(argv[1], &sb) < 0 || !(sb.st_mode & S_IXUSR)) {
		fprintf(stderr, "%s: not installed: skipped\n", argv[1]);
		return SKIP;
	}
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	start_responders();
	if (start_dnsmasq(argv[1]) < 0) {
		stop_dnsmasq();
		remove_zone_files();
		return 1;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (strcmp(argv[2], "all") != 0 && strcmp(argv[2], cases[i].name) != 0)
			continue;
		found = 1;
		int before = failures;

		cases[i].fn();
		printf("%s %s\n", failures == before ? "PASS" : "FAIL", cases[i].name);
	}
	stop_dnsmasq();
	remove_zone_files();
	stop_responders();
	event_base_free(base);
	if (!found) {
		fprintf(stderr, "no case %s\n", argv[2]);
		return 2;
	}
	return failures == 0 ? 0 : 1;
}
