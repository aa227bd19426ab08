/*
 * NAME
 *	loadgen - load generator for Postfix socketmap and policy delegation servers
 * SUMMARY
 *	loadgen -P socketmap|policy -a HOST:PORT -f FILE [-c CONNS] [-t THREADS]
 *		[-d SECONDS] [-w SECONDS] [-n REQUESTS] [-m MAPNAME] [-l LABEL]
 *		[-x] [-D SECONDS]
 * DESCRIPTION
 *	Opens CONNS TCP connections to HOST:PORT and keeps exactly one request
 *	outstanding on each, as Postfix does (its socketmap client and smtpd's
 *	policy client both wait for the reply before the next request). The
 *	connections are spread over THREADS threads (default 1), each driving
 *	its share from one epoll loop.
 *
 *	FILE holds one request a line, cycled in order (each thread starts at
 *	its own offset), optionally followed by a TAB and the reply expected
 *	for it:
 *
 *	    socketmap  KEY[<TAB>REPLY]      sent as the netstring "MAPNAME KEY";
 *	                                    REPLY is the netstring's payload,
 *	                                    e.g. "OK encrypt" or "NOTFOUND "
 *	    policy     NAME=VALUE ...[<TAB>ACTION]
 *	                                    attributes separated by single
 *	                                    spaces, sent as "NAME=VALUE\n" lines
 *	                                    and an empty line; ACTION is the
 *	                                    value of the "action=" reply line
 *
 *	Every reply is checked. A line with an expected reply must get exactly
 *	that (unless -x); any other line, a well-formed answer: "OK ..." or
 *	"NOTFOUND " for socketmap (TEMP, TIMEOUT and PERM are errors), one
 *	"action=VALUE" line and an empty line for policy. A bad reply, a
 *	closed connection or a failed connect is an error; the connection is
 *	then reopened so that the load goes on.
 *
 *	Timing: -w SECONDS of warm-up (default 1), then -d SECONDS measured
 *	(default 5), or until -n REQUESTS replies were measured. Only replies
 *	that arrive in the measured window are counted; their latencies (send
 *	to complete reply, CLOCK_MONOTONIC) are kept in a growing array, sorted
 *	at the end, and give exact percentiles. After the window no new request
 *	is sent; outstanding replies are awaited for -D SECONDS (default 5) and
 *	still checked.
 * DIAGNOSTICS
 *	One result line on stdout, "key=value" separated by spaces:
 *
 *	    loadgen label=L proto=P conns=C threads=T seconds=S requests=N
 *	        rps=R p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=..
 *	        errors=E mismatches=M replies=A over10ms=O
 *
 *	(mismatches: replies of the right form but not the expected value;
 *	they are counted in errors too; replies: every good reply, warm-up
 *	and drain included, to divide the server's CPU time by; over10ms: measured
 *	replies that took more than 10 ms). The first errors are described on
 *	stderr. Exit 0 when errors=0 and at least one request was measured,
 *	1 otherwise, 2 on bad usage or setup failure.
 * SEE ALSO
 *	bench/policyd/run-policyd-bench.sh, bench/policyd/reload-under-load.sh,
 *	socketmap_table(5), SMTPD_POLICY_README.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF_SIZE 8192 /* a reply larger than this is an error */
#define MAX_ERRORS_SHOWN 10

enum proto { PROTO_SOCKETMAP, PROTO_POLICY };

/* One request of the input file, already in wire form. */
typedef struct {
	const char *wire; /* bytes to send */
	size_t wire_len;
	const char *expect; /* expected payload/action, or NULL */
	size_t expect_len;
	const char *text; /* the line as read, for diagnostics */
} request;

typedef struct {
	int fd;
	int busy;        /* a request is outstanding */
	size_t req;      /* index of the outstanding request */
	size_t sent;     /* bytes of it sent */
	uint64_t t_send; /* ns */
	size_t rlen;
	char rbuf[RBUF_SIZE];
} conn;

typedef struct {
	int id;
	pthread_t th;
	int epfd;
	conn *conns;
	size_t nconns;
	size_t next;   /* next request index (cycled) */
	uint32_t *lat; /* measured latencies, ns (saturated at 2^32-1) */
	uint64_t last; /* time of the last measured reply */
	size_t nlat, caplat;
	unsigned long replies; /* good replies, warm-up and drain included */
	unsigned long errors, mismatches;
} worker;

static enum proto proto = PROTO_SOCKETMAP;
static struct sockaddr_in target;
static request *reqs;
static size_t nreqs;
static int no_expect;
static uint64_t t_start, t_measure, t_end, drain_ns;
static unsigned long limit_requests; /* 0: none */
static volatile int stop_sending;    /* set by any thread when -n is reached */
static unsigned long measured_total; /* atomic add */
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned errors_shown;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL) {
		fprintf(stderr, "loadgen: out of memory\n");
		exit(2);
	}
	return p;
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen -P socketmap|policy -a HOST:PORT -f FILE [-c CONNS] "
	                "[-t THREADS] [-d SECONDS] [-w SECONDS] [-n REQUESTS] [-m MAPNAME] "
	                "[-l LABEL] [-x] [-D SECONDS]\n");
	exit(2);
}

/* ---------------------------------------------------------------------------
 * The request file.
 */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL) {
		fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	do {
		if (n + 65536 > cap) {
			cap = cap ? cap * 2 : 1 << 20;
			if ((buf = realloc(buf, cap + 1)) == NULL) {
				fprintf(stderr, "loadgen: out of memory\n");
				exit(2);
			}
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	if (ferror(f)) {
		fprintf(stderr, "loadgen: %s: read error\n", path);
		exit(2);
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static char *build_wire(const char *line, size_t len, const char *map, size_t *out_len)
{
	char *w;

	if (proto == PROTO_SOCKETMAP) {
		size_t payload = strlen(map) + 1 + len;

		w = xmalloc(payload + 32);
		*out_len = (size_t)sprintf(w, "%zu:%s %.*s,", payload, map, (int)len, line);
		return w;
	}
	/* policy: spaces become newlines, then the empty line */
	w = xmalloc(len + 2);
	for (size_t i = 0; i < len; i++)
		w[i] = line[i] == ' ' ? '\n' : line[i];
	w[len] = '\n';
	w[len + 1] = '\n';
	*out_len = len + 2;
	return w;
}

static void load_requests(const char *path, const char *map)
{
	size_t len, cap = 1024;
	char *buf = read_file(path, &len), *p = buf, *end = buf + len;

	reqs = xmalloc(cap * sizeof(*reqs));
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *tab;
		size_t ll;

		if (nl == NULL)
			nl = end;
		*nl = '\0';
		ll = (size_t)(nl - p);
		if (ll > 0 && p[ll - 1] == '\r')
			p[--ll] = '\0';
		if (ll == 0 || p[0] == '#') {
			p = nl + 1;
			continue;
		}
		if (nreqs == cap) {
			cap *= 2;
			if ((reqs = realloc(reqs, cap * sizeof(*reqs))) == NULL) {
				fprintf(stderr, "loadgen: out of memory\n");
				exit(2);
			}
		}
		request *r = &reqs[nreqs++];

		r->text = p;
		r->expect = NULL;
		r->expect_len = 0;
		tab = memchr(p, '\t', ll);
		if (tab != NULL) {
			*tab = '\0';
			r->expect = tab + 1;
			r->expect_len = (size_t)(nl - tab - 1);
			ll = (size_t)(tab - p);
		}
		if (ll == 0) {
			fprintf(stderr, "loadgen: %s: empty request\n", path);
			exit(2);
		}
		r->wire = build_wire(p, ll, map, &r->wire_len);
		p = nl + 1;
	}
	if (nreqs == 0) {
		fprintf(stderr, "loadgen: %s: no requests\n", path);
		exit(2);
	}
}

/* ---------------------------------------------------------------------------
 * Replies.
 */

enum { REPLY_MORE, REPLY_OK, REPLY_BAD, REPLY_MISMATCH };

static void report_error(const worker *w, const char *what, const request *r, const char *got,
                         size_t got_len)
{
	pthread_mutex_lock(&err_lock);
	if (errors_shown < MAX_ERRORS_SHOWN) {
		char safe[201];
		size_t n = 0;

		for (size_t i = 0; got != NULL && i < got_len && n < sizeof(safe) - 1; i++)
			safe[n++] = got[i] >= 32 && got[i] < 127 ? got[i] : '?';
		safe[n] = '\0';
		fprintf(stderr, "loadgen: thread %d: %s (request \"%s\"%s%.*s%s): \"%s\"\n", w->id,
		        what, r ? r->text : "-", r && r->expect ? ", expected \"" : "",
		        r && r->expect ? (int)r->expect_len : 0, r && r->expect ? r->expect : "",
		        r && r->expect ? "\"" : "", safe);
		if (++errors_shown == MAX_ERRORS_SHOWN)
			fprintf(stderr, "loadgen: further errors are only counted\n");
	}
	pthread_mutex_unlock(&err_lock);
}

/*
 * Is a complete reply in c->rbuf? Sets *used to its length, *val and *val_len
 * to the payload (socketmap) or the action value (policy).
 */
static int reply_parse(const conn *c, size_t *used, const char **val, size_t *val_len)
{
	const char *b = c->rbuf;
	size_t n = c->rlen;

	if (proto == PROTO_SOCKETMAP) {
		size_t len = 0, i = 0;

		while (i < n && b[i] >= '0' && b[i] <= '9') {
			if (len > 1000000)
				return REPLY_BAD;
			len = len * 10 + (size_t)(b[i] - '0');
			i++;
		}
		if (i == n)
			return i > 7 ? REPLY_BAD : REPLY_MORE;
		if (i == 0 || b[i] != ':' || (i > 1 && b[0] == '0'))
			return REPLY_BAD;
		if (i + 1 + len + 1 > RBUF_SIZE)
			return REPLY_BAD;
		if (n < i + 1 + len + 1)
			return REPLY_MORE;
		if (b[i + 1 + len] != ',')
			return REPLY_BAD;
		*val = b + i + 1;
		*val_len = len;
		*used = i + 1 + len + 1;
		return REPLY_OK;
	}
	/* policy: "action=VALUE\n\n" */
	const char *e = memmem(b, n, "\n\n", 2);

	if (e == NULL)
		return n >= RBUF_SIZE ? REPLY_BAD : REPLY_MORE;
	*used = (size_t)(e - b) + 2;
	if (n < 8 || memcmp(b, "action=", 7) != 0 || memchr(b, '\n', (size_t)(e - b)) != NULL ||
	    e == b + 7)
		return REPLY_BAD;
	*val = b + 7;
	*val_len = (size_t)(e - b) - 7;
	return REPLY_OK;
}

static int reply_check(const request *r, const char *val, size_t len)
{
	if (r->expect != NULL && !no_expect)
		return len == r->expect_len && memcmp(val, r->expect, len) == 0 ? REPLY_OK
		                                                                : REPLY_MISMATCH;
	if (proto == PROTO_SOCKETMAP)
		return (len >= 3 && memcmp(val, "OK ", 3) == 0) ||
		                       (len == 9 && memcmp(val, "NOTFOUND ", 9) == 0)
		               ? REPLY_OK
		               : REPLY_BAD;
	return REPLY_OK;
}

/* ---------------------------------------------------------------------------
 * Connections.
 */

static int conn_open(worker *w, conn *c)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct epoll_event ev;

	c->fd = -1;
	c->busy = 0;
	c->rlen = 0;
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&target, sizeof(target)) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	return 0;
}

static void conn_close(conn *c)
{
	if (c->fd >= 0)
		close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
	c->busy = 0;
}

static void conn_send_next(worker *w, conn *c);

/* Count the error, reconnect and go on with the next request. */
static void conn_error(worker *w, conn *c, const char *what, const char *got, size_t len)
{
	w->errors++;
	report_error(w, what, c->busy ? &reqs[c->req] : NULL, got, len);
	conn_close(c);
	if (stop_sending)
		return;
	if (conn_open(w, c) < 0) {
		w->errors++;
		report_error(w, "reconnect failed", NULL, strerror(errno), strlen(strerror(errno)));
		return;
	}
	conn_send_next(w, c);
}

static void set_writable_interest(worker *w, conn *c, int want)
{
	struct epoll_event ev;

	ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
	ev.data.ptr = c;
	epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Send (the rest of) the outstanding request. */
static void conn_write(worker *w, conn *c)
{
	const request *r = &reqs[c->req];

	while (c->sent < r->wire_len) {
		ssize_t n = send(c->fd, r->wire + c->sent, r->wire_len - c->sent, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				set_writable_interest(w, c, 1);
				return;
			}
			conn_error(w, c, "send failed", strerror(errno), strlen(strerror(errno)));
			return;
		}
		if (c->sent == 0 && (size_t)n < r->wire_len)
			set_writable_interest(w, c, 1);
		c->sent += (size_t)n;
	}
}

static void conn_send_next(worker *w, conn *c)
{
	if (c->fd < 0 || stop_sending)
		return;
	c->req = w->next;
	if (++w->next == nreqs)
		w->next = 0;
	c->busy = 1;
	c->sent = 0;
	c->t_send = now_ns();
	conn_write(w, c);
}

static void record(worker *w, uint64_t ns)
{
	if (w->nlat == w->caplat) {
		w->caplat = w->caplat ? w->caplat * 2 : 1 << 20;
		if ((w->lat = realloc(w->lat, w->caplat * sizeof(*w->lat))) == NULL) {
			fprintf(stderr, "loadgen: out of memory\n");
			exit(2);
		}
	}
	w->lat[w->nlat++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static void conn_read(worker *w, conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, RBUF_SIZE - c->rlen, 0);
		size_t used = 0, vlen = 0;
		const char *val = NULL;
		int st;

		if (n == 0) {
			conn_error(w, c, "connection closed by the server", NULL, 0);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_error(w, c, "recv failed", strerror(errno),
				           strlen(strerror(errno)));
			return;
		}
		c->rlen += (size_t)n;
		st = reply_parse(c, &used, &val, &vlen);
		if (st == REPLY_MORE) {
			if (c->rlen == RBUF_SIZE) {
				conn_error(w, c, "reply too long", c->rbuf, 80);
				return;
			}
			continue; /* read until EAGAIN or complete */
		}
		if (st == REPLY_BAD || !c->busy || used != c->rlen) {
			conn_error(w, c,
			           st == REPLY_BAD ? "malformed reply"
			           : !c->busy      ? "reply without a request"
			                           : "more than one reply",
			           c->rbuf, c->rlen);
			return;
		}
		st = reply_check(&reqs[c->req], val, vlen);
		if (st != REPLY_OK) {
			if (st == REPLY_MISMATCH)
				w->mismatches++;
			conn_error(w, c,
			           st == REPLY_MISMATCH ? "unexpected answer" : "error answer", val,
			           vlen);
			return;
		}
		uint64_t t = now_ns();

		w->replies++;
		if (c->t_send >= t_measure && t <= t_end) {
			record(w, t - c->t_send);
			w->last = t;
			if (limit_requests &&
			    __atomic_add_fetch(&measured_total, 1, __ATOMIC_RELAXED) >=
			            limit_requests)
				stop_sending = 1;
		}
		c->busy = 0;
		c->rlen = 0;
		if (t >= t_end)
			stop_sending = 1;
		conn_send_next(w, c);
		return;
	}
}

static size_t busy_count(const worker *w)
{
	size_t n = 0;

	for (size_t i = 0; i < w->nconns; i++)
		n += w->conns[i].fd >= 0 && w->conns[i].busy;
	return n;
}

static void *worker_run(void *arg)
{
	worker *w = arg;
	struct epoll_event evs[256];
	uint64_t deadline = 0;

	while (now_ns() < t_start)
		; /* all threads start together (sub-ms spin) */
	for (size_t i = 0; i < w->nconns; i++)
		conn_send_next(w, &w->conns[i]);
	for (;;) {
		int n = epoll_wait(w->epfd, evs, 256, 50);

		for (int i = 0; i < n; i++) {
			conn *c = evs[i].data.ptr;

			if (c->fd < 0)
				continue;
			if (evs[i].events & EPOLLOUT) {
				conn_write(w, c);
				if (c->fd >= 0 && c->sent == reqs[c->req].wire_len)
					set_writable_interest(w, c, 0);
			}
			if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				conn_read(w, c);
		}
		if (!stop_sending && now_ns() >= t_end)
			stop_sending = 1;
		if (stop_sending) {
			if (deadline == 0)
				deadline = now_ns() + drain_ns;
			if (busy_count(w) == 0)
				break;
			if (now_ns() >= deadline) {
				size_t left = busy_count(w);

				w->errors += left;
				report_error(w, "no reply before the end of the drain time", NULL,
				             NULL, 0);
				break;
			}
		}
	}
	for (size_t i = 0; i < w->nconns; i++)
		conn_close(&w->conns[i]);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint32_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)n); /* nearest rank, 0-based */
	if (i >= n)
		i = n - 1;
	return v[i] / 1000.0;
}

/* Sorted latencies (ns) above limit. */
static size_t count_over(const uint32_t *all, size_t n, uint32_t limit)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (all[mid] > limit)
			hi = mid;
		else
			lo = mid + 1;
	}
	return n - lo;
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *file = NULL, *map = "forcetls", *label = "-";
	unsigned long conns = 1, threads = 1;
	double dur = 5, warm = 1, drain = 5;
	int opt;
	worker *ws;
	uint32_t *all;
	size_t total = 0;
	uint64_t last = 0;
	unsigned long errors = 0, mismatches = 0, replies = 0;

	while ((opt = getopt(argc, argv, "P:a:f:c:t:d:w:n:m:l:xD:")) != -1) {
		switch (opt) {
		case 'P':
			if (strcmp(optarg, "socketmap") == 0)
				proto = PROTO_SOCKETMAP;
			else if (strcmp(optarg, "policy") == 0)
				proto = PROTO_POLICY;
			else
				usage();
			break;
		case 'a':
			addr = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'c':
			conns = strtoul(optarg, NULL, 10);
			break;
		case 't':
			threads = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			dur = strtod(optarg, NULL);
			break;
		case 'w':
			warm = strtod(optarg, NULL);
			break;
		case 'n':
			limit_requests = strtoul(optarg, NULL, 10);
			break;
		case 'm':
			map = optarg;
			break;
		case 'l':
			label = optarg;
			break;
		case 'x':
			no_expect = 1;
			break;
		case 'D':
			drain = strtod(optarg, NULL);
			break;
		default:
			usage();
		}
	}
	if (addr == NULL || file == NULL || conns == 0 || threads == 0 || threads > conns ||
	    dur <= 0 || warm < 0 || drain < 0 || optind != argc)
		usage();
	{
		char host[64];
		const char *colon = strrchr(addr, ':');

		if (colon == NULL || (size_t)(colon - addr) >= sizeof(host))
			usage();
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
		memset(&target, 0, sizeof(target));
		target.sin_family = AF_INET;
		target.sin_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET, host, &target.sin_addr) != 1) {
			fprintf(stderr, "loadgen: %s: not an IPv4 address\n", host);
			exit(2);
		}
	}
	load_requests(file, map);

	ws = xmalloc(threads * sizeof(*ws));
	memset(ws, 0, threads * sizeof(*ws));
	for (unsigned long t = 0; t < threads; t++) {
		worker *w = &ws[t];

		w->id = (int)t;
		w->nconns = conns / threads + (t < conns % threads);
		w->conns = xmalloc(w->nconns * sizeof(*w->conns));
		w->next = (size_t)((double)nreqs * (double)t / (double)threads);
		if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
			perror("loadgen: epoll_create1");
			exit(2);
		}
		for (size_t i = 0; i < w->nconns; i++) {
			if (conn_open(w, &w->conns[i]) < 0) {
				fprintf(stderr, "loadgen: connect %s: %s\n", addr, strerror(errno));
				exit(2);
			}
		}
	}
	t_start = now_ns() + 20000000ULL; /* 20 ms: threads get going */
	t_measure = t_start + (uint64_t)(warm * 1e9);
	t_end = t_measure + (uint64_t)(dur * 1e9);
	drain_ns = (uint64_t)(drain * 1e9);
	for (unsigned long t = 0; t < threads; t++)
		if (pthread_create(&ws[t].th, NULL, worker_run, &ws[t]) != 0) {
			fprintf(stderr, "loadgen: pthread_create failed\n");
			exit(2);
		}
	for (unsigned long t = 0; t < threads; t++) {
		pthread_join(ws[t].th, NULL);
		total += ws[t].nlat;
		errors += ws[t].errors;
		replies += ws[t].replies;
		mismatches += ws[t].mismatches;
		if (ws[t].last > last)
			last = ws[t].last;
	}

	all = xmalloc((total ? total : 1) * sizeof(*all));
	total = 0;
	for (unsigned long t = 0; t < threads; t++) {
		memcpy(all + total, ws[t].lat, ws[t].nlat * sizeof(*all));
		total += ws[t].nlat;
	}
	qsort(all, total, sizeof(*all), cmp_u32);
	{
		/* With -n the window ends at the last measured reply. */
		double secs = dur;

		if (limit_requests && total >= limit_requests && last > t_measure)
			secs = (double)(last - t_measure) / 1e9;
		printf("loadgen label=%s proto=%s conns=%lu threads=%lu seconds=%.3f requests=%zu "
		       "rps=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
		       "errors=%lu mismatches=%lu replies=%lu over10ms=%zu\n",
		       label, proto == PROTO_SOCKETMAP ? "socketmap" : "policy", conns, threads,
		       secs, total, (double)total / secs, pct(all, total, 0.50),
		       pct(all, total, 0.90), pct(all, total, 0.99), pct(all, total, 0.999),
		       total ? all[total - 1] / 1000.0 : 0.0, errors, mismatches, replies,
		       count_over(all, total, 10000000));
	}
	fflush(stdout);
	return errors == 0 && total > 0 ? 0 : 1;
}
