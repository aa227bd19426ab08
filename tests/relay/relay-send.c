/*
 * NAME
 *	relay-send - test driver: one relay_send() of a message file
 * SUMMARY
 *	relay-send [-m] [-n] [-c CAFILE] [-u USER -p PWFILE] [-t SECONDS] [-H HELO]
 *	    [-k CHUNK] [-R] -f SENDER -r RCPT... -g GATEWAY... MESSAGE
 * DESCRIPTION
 *	Builds a relay_client from the options (-m: relay_mx_lookup, -n:
 *	relay_verify off), hands MESSAGE to relay_send() in pieces of CHUNK
 *	bytes (default 4096) and prints the relay_result as key=value lines:
 *	result (ok or fail), gateway, reply, why, attempts, elapsed_ms.
 *	-R: the message source fails to rewind (the second session fails).
 *	-P N: N threads call relay_send() at once on the same client, each
 *	with its own source; the result printed is the first failure (or the
 *	last success), and parallel_ok=K says how many succeeded.
 * DIAGNOSTICS
 *	Exit 0 when relay_send() succeeded, 1 when it failed, 2 on a usage or
 *	relay_client_new() error (its reason on stderr).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay.h"
#include "smtpconn.h"

typedef struct {
	FILE *f;
	size_t chunk;
	int norewind;
	char buf[65536];
} source;

static int src_next(void *arg, const char **data, size_t *len)
{
	source *s = arg;
	size_t n = fread(s->buf, 1, s->chunk, s->f);

	if (n == 0 && ferror(s->f))
		return -1;
	*data = s->buf;
	*len = n;
	return 0;
}

static int src_rewind(void *arg)
{
	source *s = arg;

	if (s->norewind)
		return -1;
	return fseek(s->f, 0, SEEK_SET) == 0 ? 0 : -1;
}

typedef struct {
	const relay_client *c;
	const char *sender, *const *rcpts, *path;
	size_t nrcpts, chunk;
	int norewind, rc;
	relay_result res;
} job;

static void *run(void *arg)
{
	job *j = arg;
	source *s = calloc(1, sizeof(*s));
	relay_source src = {src_next, src_rewind, s};

	j->rc = -1;
	if (s == NULL || (s->f = fopen(j->path, "rb")) == NULL) {
		snprintf(j->res.why, sizeof(j->res.why), "cannot open %s", j->path);
		free(s);
		return NULL;
	}
	s->chunk = j->chunk;
	s->norewind = j->norewind;
	j->rc = relay_send(j->c, j->sender, j->rcpts, j->nrcpts, &src, &j->res);
	fclose(s->f);
	free(s);
	return NULL;
}

/* n jobs at once; the index of the one to print. */
static size_t run_all(job *jobs, size_t n, unsigned *ok)
{
	pthread_t tid[64];
	size_t pick = n - 1;
	int failed = 0;

	for (size_t i = 0; i < n; i++)
		if (pthread_create(&tid[i], NULL, run, &jobs[i]) != 0)
			abort();
	*ok = 0;
	for (size_t i = 0; i < n; i++) {
		pthread_join(tid[i], NULL);
		if (jobs[i].rc == 0) {
			(*ok)++;
		} else if (!failed) {
			pick = i;
			failed = 1;
		}
	}
	return pick;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: relay-send [-m] [-n] [-c CAFILE] [-u USER -p PWFILE] [-t S] "
	        "[-H HELO] [-k CHUNK] [-R] [-P N] -f SENDER -r RCPT... -g GATEWAY... MESSAGE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const char *gws[RELAY_GATEWAYS_MAX + 1], *rcpts[64];
	static job jobs[64];
	relay_options o = {.verify = 1, .timeout = 30, .helo = "relay.e2e.test"};
	job j = {.chunk = 4096};
	size_t nrcpts = 0, n = 1, pick;
	relay_client *c;
	unsigned ok;
	char why[512];
	int64_t t0;
	int opt;

	while ((opt = getopt(argc, argv, "mnc:u:p:t:H:k:RP:f:r:g:")) != -1) {
		switch (opt) {
		case 'm':
			o.mx_lookup = 1;
			break;
		case 'n':
			o.verify = 0;
			break;
		case 'c':
			o.ca_file = optarg;
			break;
		case 'u':
			o.auth_user = optarg;
			break;
		case 'p':
			o.auth_password_file = optarg;
			break;
		case 't':
			o.timeout = (unsigned)atoi(optarg);
			break;
		case 'H':
			o.helo = optarg;
			break;
		case 'k':
			j.chunk = (size_t)atoi(optarg);
			break;
		case 'R':
			j.norewind = 1;
			break;
		case 'P':
			n = (size_t)atoi(optarg);
			break;
		case 'f':
			j.sender = optarg;
			break;
		case 'r':
			if (nrcpts < 64)
				rcpts[nrcpts++] = optarg;
			break;
		case 'g':
			if (o.ngateways <= RELAY_GATEWAYS_MAX)
				gws[o.ngateways++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || j.sender == NULL || j.chunk == 0 ||
	    j.chunk > sizeof(((source *)0)->buf) || n < 1 || n > 64)
		usage();
	o.gateways = gws;
	if ((c = relay_client_new(&o, why, sizeof(why))) == NULL) {
		fprintf(stderr, "relay-send: %s\n", why);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	j.c = c;
	j.rcpts = rcpts;
	j.nrcpts = nrcpts;
	j.path = argv[optind];
	for (size_t i = 0; i < n; i++)
		jobs[i] = j;
	t0 = smtpconn_now_ms();
	pick = run_all(jobs, n, &ok);
	printf("result=%s\ngateway=%s\nreply=%s\nwhy=%s\nattempts=%u\nelapsed_ms=%lld\n"
	       "parallel_ok=%u\n",
	       ok == n ? "ok" : "fail", jobs[pick].res.gateway, jobs[pick].res.reply,
	       jobs[pick].res.why, jobs[pick].res.attempts, (long long)(smtpconn_now_ms() - t0),
	       ok);
	relay_client_free(c);
	return ok == n ? 0 : 1;
}
