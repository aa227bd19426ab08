/*
 * NAME
 *	metrics.c - Prometheus counters, gauges and histograms, and their
 *	loopback HTTP listener
 * SUMMARY
 *	metrics_family(), metrics_series(), metrics_series_fn(), metric_inc(),
 *	metric_add(), metric_set(), metric_observe(), metrics_format(),
 *	metrics_each(), metrics_listen_check(), metrics_start(), metrics_stop()
 * DESCRIPTION
 *	See metrics.h. Relaxed atomics: the values order nothing. A histogram
 *	keeps one count per bucket (cumulated when formatted) and its sum in
 *	microseconds, so that every value is an integer atomic.
 *
 *	The listener answers HTTP/1.0 and 1.1 with "Connection: close": one
 *	request per connection, which is what Prometheus does anyway. Its
 *	thread blocks every signal, so it never takes one meant for the
 *	daemon's signal handling.
 * DIAGNOSTICS
 *	None logged: see metrics.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "listen.h"
#include "metrics.h"

typedef struct {
	const char *name, *help;
	metric_type type;
} family;

struct metric {
	int fam;
	char labels[128];
	double (*fn)(void *arg);
	void *arg;
	atomic_ulong value; /* counters; gauges as a long */
	atomic_ulong bucket[METRICS_NBUCKETS], count;
	atomic_ullong sum_us;
};

static family families[METRICS_MAX_FAMILIES];
static int nfamilies;
static metric series[METRICS_MAX_SERIES];
static int nseries;
static const double bounds[METRICS_NBUCKETS] = METRICS_BUCKETS;

int metrics_family(const char *name, metric_type type, const char *help)
{
	if (nfamilies == METRICS_MAX_FAMILIES)
		return -1;
	families[nfamilies].name = name;
	families[nfamilies].type = type;
	families[nfamilies].help = help;
	return nfamilies++;
}

metric *metrics_series_fn(int fam, const char *labels, double (*fn)(void *arg), void *arg)
{
	metric *m;

	if (fam < 0 || fam >= nfamilies || nseries == METRICS_MAX_SERIES ||
	    strlen(labels) >= sizeof(m->labels))
		return NULL;
	m = &series[nseries++];
	m->fam = fam;
	snprintf(m->labels, sizeof(m->labels), "%s", labels);
	m->fn = fn;
	m->arg = arg;
	return m;
}

metric *metrics_series(int fam, const char *labels)
{
	return metrics_series_fn(fam, labels, NULL, NULL);
}

void metric_add(metric *m, unsigned long n)
{
	if (m != NULL)
		atomic_fetch_add_explicit(&m->value, n, memory_order_relaxed);
}

void metric_inc(metric *m)
{
	metric_add(m, 1);
}

void metric_set(metric *m, long v)
{
	if (m != NULL)
		atomic_store_explicit(&m->value, (unsigned long)v, memory_order_relaxed);
}

void metric_observe(metric *m, double seconds)
{
	int i;

	if (m == NULL)
		return;
	if (seconds < 0)
		seconds = 0;
	for (i = 0; i < METRICS_NBUCKETS && seconds > bounds[i]; i++)
		;
	if (i < METRICS_NBUCKETS)
		atomic_fetch_add_explicit(&m->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->sum_us, (unsigned long long)(seconds * 1e6 + 0.5),
	                          memory_order_relaxed);
	atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
}

/* ---------------------------------------------------------------------------
 * The exposition format.
 */

typedef struct {
	char *buf;
	size_t len, used; /* used may pass len: the length needed */
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->used < o->len ? o->buf + o->used : NULL,
	              o->used < o->len ? o->len - o->used : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->used += (size_t)n;
}

/* A sample line: NAME[SUFFIX]{LABELS[,EXTRA]} VALUE. */
static void sample(out *o, const metric *m, const char *suffix, const char *extra,
                   const char *value)
{
	const char *name = families[m->fam].name;
	int lab = m->labels[0] != '\0', ext = extra != NULL;

	if (!lab && !ext)
		put(o, "%s%s %s\n", name, suffix, value);
	else
		put(o, "%s%s{%s%s%s} %s\n", name, suffix, m->labels, lab && ext ? "," : "",
		    ext ? extra : "", value);
}

static void histogram(out *o, const metric *m)
{
	unsigned long cum = 0;
	char v[48], le[48];

	for (int i = 0; i < METRICS_NBUCKETS; i++) {
		cum += atomic_load_explicit(&m->bucket[i], memory_order_relaxed);
		snprintf(le, sizeof(le), "le=\"%g\"", bounds[i]);
		snprintf(v, sizeof(v), "%lu", cum);
		sample(o, m, "_bucket", le, v);
	}
	/* count last: +Inf is never below a bucket read before it */
	snprintf(v, sizeof(v), "%lu", atomic_load_explicit(&m->count, memory_order_relaxed));
	sample(o, m, "_bucket", "le=\"+Inf\"", v);
	snprintf(le, sizeof(le), "%.6f",
	         (double)atomic_load_explicit(&m->sum_us, memory_order_relaxed) / 1e6);
	sample(o, m, "_sum", NULL, le);
	sample(o, m, "_count", NULL, v);
}

static void value_text(const metric *m, char *v, size_t len)
{
	unsigned long u = atomic_load_explicit(&m->value, memory_order_relaxed);

	if (m->fn != NULL)
		snprintf(v, len, "%.17g", m->fn(m->arg));
	else if (families[m->fam].type == METRIC_GAUGE)
		snprintf(v, len, "%ld", (long)u);
	else
		snprintf(v, len, "%lu", u);
}

static void format_into(out *o, int comments)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};
	char v[48];

	for (int f = 0; f < nfamilies; f++) {
		if (comments)
			put(o, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help,
			    families[f].name, types[families[f].type]);
		for (int i = 0; i < nseries; i++) {
			if (series[i].fam != f)
				continue;
			if (families[f].type == METRIC_HISTOGRAM) {
				histogram(o, &series[i]);
				continue;
			}
			value_text(&series[i], v, sizeof(v));
			sample(o, &series[i], "", NULL, v);
		}
	}
}

size_t metrics_format(char *buf, size_t len)
{
	out o = {buf, len, 0};

	if (len > 0)
		buf[0] = '\0';
	format_into(&o, 1);
	if (len > 0 && o.used >= len)
		buf[len - 1] = '\0';
	return o.used;
}

void metrics_each(void (*emit)(const char *line))
{
	size_t need = 0;
	char *text = NULL;

	for (int tries = 0; tries < 3; tries++) { /* a value may grow between two reads */
		out o = {text, need, 0};

		format_into(&o, 0);
		if (text != NULL && o.used < need)
			break;
		free(text);
		need = o.used + 1024;
		if ((text = malloc(need)) == NULL)
			return;
	}
	for (char *line = text, *nl; line != NULL && *line != '\0'; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			break;
		*nl = '\0';
		emit(line);
	}
	free(text);
}

/* ---------------------------------------------------------------------------
 * The listener.
 */

int metrics_listen_check(const char *addr, char *why, size_t whylen)
{
	const char *hp = addr + 5, *colon = strrchr(addr, ':');
	char host[64], *end;
	unsigned char a[16];
	size_t hlen;
	long port;

	if (strncmp(addr, "inet:", 5) != 0 || colon == NULL || colon < hp)
		goto bad;
	hlen = (size_t)(colon - hp);
	if (hlen >= sizeof(host))
		goto bad;
	memcpy(host, hp, hlen);
	host[hlen] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
		goto bad;
	if (inet_pton(AF_INET, host, a) == 1 && a[0] == 127)
		return 0;
	if (hlen > 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, a) == 1 &&
		    IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a))
			return 0;
	}
bad:
	snprintf(why, whylen,
	         "\"%s\": expected inet:127.0.0.1:PORT or inet:[::1]:PORT (a loopback address: "
	         "the endpoint has no authentication)",
	         addr);
	return -1;
}

typedef struct {
	int fd;
	long deadline; /* ms, monotonic */
	char req[METRICS_MAX_REQUEST + 1];
	size_t len;
	char *resp; /* NULL while reading */
	size_t resp_len, resp_off;
} client;

static struct {
	int fd, stop_pipe[2], running;
	pthread_t tid;
	client c[METRICS_MAX_CLIENTS];
} srv = {.fd = -1, .stop_pipe = {-1, -1}};

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void client_close(client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->resp);
	c->fd = -1;
	c->resp = NULL;
	c->len = c->resp_len = c->resp_off = 0;
}

/* The whole answer: status line, headers, body. */
static void respond(client *c, const char *status, const char *extra, const char *body, size_t blen)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
	                 "Connection: close\r\n\r\n",
	                 status,
	                 body != NULL ? "text/plain; version=0.0.4; charset=utf-8"
	                              : "text/plain; charset=utf-8",
	                 body != NULL ? blen : strlen(status) + 1, extra);

	if (body == NULL) {
		body = status;
		blen = strlen(status);
	}
	if ((c->resp = malloc((size_t)n + blen + 1)) == NULL) {
		client_close(c);
		return;
	}
	memcpy(c->resp, head, (size_t)n);
	memcpy(c->resp + n, body, blen);
	c->resp_len = (size_t)n + blen;
	if (body == status) /* the plain-text error body ends with a newline */
		c->resp[c->resp_len++] = '\n';
}

static void answer_metrics(client *c)
{
	size_t need = metrics_format(NULL, 0) + 4096;
	char *body = malloc(need);
	size_t n;

	if (body == NULL) {
		client_close(c);
		return;
	}
	n = metrics_format(body, need);
	if (n >= need) {
		respond(c, "500 Internal Server Error", "", NULL, 0);
	} else {
		respond(c, "200 OK", "", body, n);
	}
	free(body);
}

/* A complete request head is in c->req: choose the answer. */
static void handle(client *c)
{
	char *line = c->req, *sp1, *sp2, *eol;
	size_t plen;

	eol = strpbrk(line, "\r\n");
	*eol = '\0';
	sp1 = strchr(line, ' ');
	sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
	if (sp1 == NULL || sp2 == NULL || strchr(sp2 + 1, ' ') != NULL ||
	    (strcmp(sp2 + 1, "HTTP/1.0") != 0 && strcmp(sp2 + 1, "HTTP/1.1") != 0) ||
	    sp1[1] != '/') {
		respond(c, "400 Bad Request", "", NULL, 0);
		return;
	}
	if ((size_t)(sp1 - line) != 3 || memcmp(line, "GET", 3) != 0) {
		respond(c, "405 Method Not Allowed", "Allow: GET\r\n", NULL, 0);
		return;
	}
	plen = strcspn(sp1 + 1, "? ");
	if (plen != 8 || memcmp(sp1 + 1, "/metrics", 8) != 0) {
		respond(c, "404 Not Found", "", NULL, 0);
		return;
	}
	answer_metrics(c);
}

static void client_read(client *c)
{
	ssize_t n = recv(c->fd, c->req + c->len, METRICS_MAX_REQUEST - c->len, 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->len += (size_t)n;
	c->req[c->len] = '\0';
	if (memchr(c->req, '\0', c->len) != NULL) {
		respond(c, "400 Bad Request", "", NULL, 0);
		return;
	}
	if (strstr(c->req, "\r\n\r\n") != NULL || strstr(c->req, "\n\n") != NULL)
		handle(c);
	else if (c->len == METRICS_MAX_REQUEST)
		respond(c, "400 Bad Request", "", NULL, 0);
}

static void client_write(client *c)
{
	ssize_t n = send(c->fd, c->resp + c->resp_off, c->resp_len - c->resp_off, MSG_NOSIGNAL);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->resp_off += (size_t)n;
	if (c->resp_off == c->resp_len) {
		shutdown(c->fd, SHUT_WR);
		client_close(c);
	}
}

static void accept_one(void)
{
	int fd = accept4(srv.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	client *slot = NULL;

	if (fd < 0)
		return;
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++) {
		client *c = &srv.c[i];

		if (c->fd < 0) {
			slot = c;
			break;
		}
		if (slot == NULL || c->deadline < slot->deadline)
			slot = c; /* the oldest goes */
	}
	client_close(slot);
	slot->fd = fd;
	slot->deadline = now_ms() + METRICS_TIMEOUT_MS;
}

/* poll(2)'s set: [0] the stop pipe, [1] the listener, then the clients; its timeout. */
static int poll_set(struct pollfd *p, int *timeout)
{
	long now = now_ms(), first = -1;
	int n = 2;

	p[0] = (struct pollfd){srv.stop_pipe[0], POLLIN, 0};
	p[1] = (struct pollfd){srv.fd, POLLIN, 0};
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++) {
		client *c = &srv.c[i];

		if (c->fd >= 0 && c->deadline <= now)
			client_close(c); /* too slow: no answer */
		if (c->fd < 0)
			continue;
		p[n++] = (struct pollfd){c->fd, c->resp != NULL ? POLLOUT : POLLIN, 0};
		if (first < 0 || c->deadline < first)
			first = c->deadline;
	}
	*timeout = first < 0 ? -1 : (int)(first - now);
	return n;
}

static client *client_of(int fd)
{
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
		if (srv.c[i].fd == fd)
			return &srv.c[i];
	return NULL;
}

static void *serve(void *arg)
{
	struct pollfd p[METRICS_MAX_CLIENTS + 2];
	int timeout, n;

	(void)arg;
	for (;;) {
		n = poll_set(p, &timeout);
		if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR)
			break;
		if (p[0].revents != 0)
			break;
		for (int i = 2; i < n; i++) {
			client *c = client_of(p[i].fd);

			if (c == NULL || p[i].revents == 0)
				continue;
			if (c->resp == NULL)
				client_read(c);
			if (c->fd >= 0 && c->resp != NULL)
				client_write(c);
		}
		if (p[1].revents & POLLIN)
			accept_one();
	}
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
		client_close(&srv.c[i]);
	return NULL;
}

int metrics_start(const char *addr, char *why, size_t whylen)
{
	listen_perms perms = {"", "", 0, 64};
	sigset_t all, old;
	int rc;

	if (metrics_listen_check(addr, why, whylen) < 0)
		return -1;
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
		srv.c[i].fd = -1;
	if ((srv.fd = listen_open(addr, &perms, why, whylen)) < 0)
		return -1;
	if (pipe2(srv.stop_pipe, O_CLOEXEC) < 0) {
		snprintf(why, whylen, "%s: pipe: %s", addr, strerror(errno));
		metrics_stop();
		return -1;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* the thread starts with every signal blocked */
	rc = pthread_create(&srv.tid, NULL, serve, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(why, whylen, "%s: cannot start the thread: %s", addr, strerror(rc));
		metrics_stop();
		return -1;
	}
	srv.running = 1;
	return 0;
}

void metrics_stop(void)
{
	if (srv.running && write(srv.stop_pipe[1], "", 1) == 1)
		pthread_join(srv.tid, NULL);
	srv.running = 0;
	for (int i = 0; i < 2; i++) {
		if (srv.stop_pipe[i] >= 0)
			close(srv.stop_pipe[i]);
		srv.stop_pipe[i] = -1;
	}
	if (srv.fd >= 0)
		close(srv.fd);
	srv.fd = -1;
}
