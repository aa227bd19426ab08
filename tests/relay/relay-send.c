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
 * DIAGNOSTICS
 *	Exit 0 when relay_send() succeeded, 1 when it failed, 2 on a usage or
 *	relay_client_new() error (its reason on stderr).
 */
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

static void usage(void)
{
	fprintf(stderr, "usage: relay-send [-m] [-n] [-c CAFILE] [-u USER -p PWFILE] [-t S] "
	                "[-H HELO] [-k CHUNK] [-R] -f SENDER -r RCPT... -g GATEWAY... MESSAGE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *gws[RELAY_GATEWAYS_MAX + 1], *rcpts[64], *sender = NULL;
	relay_options o = {.verify = 1, .timeout = 30, .helo = "relay.e2e.test"};
	static source s = {.chunk = 4096};
	relay_source src = {src_next, src_rewind, &s};
	relay_client *c;
	relay_result res;
	size_t nrcpts = 0;
	char why[512];
	int64_t t0;
	int opt, rc;

	while ((opt = getopt(argc, argv, "mnc:u:p:t:H:k:Rf:r:g:")) != -1) {
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
			s.chunk = (size_t)atoi(optarg);
			break;
		case 'R':
			s.norewind = 1;
			break;
		case 'f':
			sender = optarg;
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
	if (optind + 1 != argc || sender == NULL || s.chunk == 0 || s.chunk > sizeof(s.buf))
		usage();
	o.gateways = gws;
	if ((s.f = fopen(argv[optind], "rb")) == NULL) {
		perror(argv[optind]);
		return 2;
	}
	if ((c = relay_client_new(&o, why, sizeof(why))) == NULL) {
		fprintf(stderr, "relay-send: %s\n", why);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	t0 = smtpconn_now_ms();
	rc = relay_send(c, sender, rcpts, nrcpts, &src, &res);
	printf("result=%s\ngateway=%s\nreply=%s\nwhy=%s\nattempts=%u\nelapsed_ms=%lld\n",
	       rc == 0 ? "ok" : "fail", res.gateway, res.reply, res.why, res.attempts,
	       (long long)(smtpconn_now_ms() - t0));
	relay_client_free(c);
	fclose(s.f);
	return rc == 0 ? 0 : 1;
}
