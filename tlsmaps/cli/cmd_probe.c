/*
 * NAME
 *	cmd_probe.c - tlsmaps probe: would the table's levels hold at each destination?
 * SUMMARY
 *	tlsmaps probe [--timeout SECONDS] [--CAfile FILE] [--port N] [--helo NAME]
 *		      [--json] [--default-level LEVEL] TABLE...
 * DESCRIPTION
 *	For every entry visible outbound, in table order:
 *
 *	- DOMAIN "example.com": its MX hosts in preference order (at most
 *	  PROBE_MX_MAX, probe_dns.c), or the domain itself when it has no MX
 *	  records (the implicit MX). A null MX (RFC 7505) means no host.
 *	- NEXTHOP "[host]" or "[host]:port": that host, no MX lookup, the port
 *	  of the key or 25. "[192.0.2.7]": that address.
 *	- PARENT and NETWORK entries name no host: listed as skipped.
 *
 *	Every address of every host (at most PROBE_ADDR_MAX per host, from
 *	getaddrinfo()) gets one SMTP session (smtp_probe.c): connect to port 25
 *	(--port N for destinations without a port of their own), banner, EHLO,
 *	STARTTLS when offered, TLS handshake with SNI = the host name (or
 *	servername=), QUIT. Each session is judged against the entry's level
 *	(probe_judge.c).
 *
 *	A host that cannot be reached (DNS, connect, banner, timeout) is
 *	"unreachable". A destination fails when any reachable host fails, or
 *	when its level is mandatory and no host was reachable (DNS errors,
 *	NXDOMAIN and null MX included).
 *
 *	Output, one block per destination: a line "KEY POLICY FILE:LINE:
 *	VERDICT[: reason]" and one indented line per address. --json writes one
 *	object per address instead (JSON Lines), or one per destination that
 *	has no address to show (probe_report.c).
 *
 *	This file owns the command line, the walk over the table, the hosts
 *	and addresses of each destination, and the destination's verdict.
 * DIAGNOSTICS
 *	Exit 0 when no destination would fail, 1 when one would, 2 on usage
 *	or table errors (printed as FILE:LINE: message).
 * SEE ALSO
 *	probe.h, probe_dns.c, probe_judge.c, probe_report.c, smtp_probe.c,
 *	tlsmaps(1), tlsmaps(5), Postfix TLS_README
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "probe.h"

/* ---------------------------------------------------------------------------
 * Probing a destination.
 */

static host_report *new_host(dest_report *d, const target *tg)
{
	host_report *h;

	if (d->nhosts == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 4;
		host_report *nh = realloc(d->hosts, cap * sizeof(*nh));

		if (nh == NULL)
			return NULL;
		d->hosts = nh;
		d->cap = cap;
	}
	h = &d->hosts[d->nhosts++];
	memset(h, 0, sizeof(*h));
	h->tg = tg;
	h->fp_match = -1;
	return h;
}

static void probe_addr(const probe_opts *o, dest_report *d, const target *tg,
                       const struct sockaddr *sa, socklen_t salen, unsigned port)
{
	smtp_probe_opts so = {o->timeout, o->helo, o->ctx};
	const char *sn = tlsmaps_entry_attr(d->t, d->id, "servername", NULL);
	char sni[PROBE_HOST_MAX] = "";
	host_report *h = new_host(d, tg);
	size_t snlen = 0;

	if (h == NULL) {
		fputs("tlsmaps: out of memory\n", stderr);
		exit(EXIT_USAGE);
	}
	h->port = port;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, h->addr,
		          sizeof(h->addr));
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, h->addr,
		          sizeof(h->addr));
	if (sn != NULL)
		tlsmaps_entry_attr(d->t, d->id, "servername", &snlen);
	if (sn != NULL && !(snlen == 8 && strncasecmp(sn, "hostname", 8) == 0) &&
	    snlen < sizeof(sni))
		snprintf(sni, sizeof(sni), "%.*s", (int)snlen, sn);
	else
		snprintf(sni, sizeof(sni), "%s", tg->name);
	smtp_probe(&so, sa, salen, sni[0] != '\0' ? sni : NULL, &h->r);
	probe_judge(d, h);
}

static void probe_target(const probe_opts *o, dest_report *d, const target *tg, unsigned port)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_storage seen[PROBE_ADDR_MAX];
	size_t nseen = 0;
	host_report *h;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(tg->name, NULL, &hints, &res);
	if (rc == 0) {
		for (ai = res; ai != NULL && nseen < PROBE_ADDR_MAX; ai = ai->ai_next) {
			struct sockaddr_storage ss;
			int dup = 0;

			if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
			    ai->ai_addrlen > sizeof(ss))
				continue;
			memset(&ss, 0, sizeof(ss));
			memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
			if (ss.ss_family == AF_INET)
				((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
			else
				((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
			for (size_t i = 0; i < nseen && !dup; i++)
				dup = memcmp(&seen[i], &ss, sizeof(ss)) == 0;
			if (dup)
				continue;
			seen[nseen++] = ss;
			probe_addr(o, d, tg, (struct sockaddr *)&ss, ai->ai_addrlen, port);
		}
		freeaddrinfo(res);
		if (nseen > 0)
			return;
	}
	if ((h = new_host(d, tg)) == NULL) {
		fputs("tlsmaps: out of memory\n", stderr);
		exit(EXIT_USAGE);
	}
	h->port = port;
	h->v = VERDICT_UNREACHABLE;
	snprintf(h->r.why, sizeof(h->r.why), "address lookup: %s",
	         rc == 0            ? "no IPv4 or IPv6 address"
	         : rc == EAI_AGAIN  ? "temporary DNS failure"
	         : rc == EAI_SYSTEM ? strerror(errno)
	                            : gai_strerror(rc));
}

static void probe_literal_addr(const probe_opts *o, dest_report *d, const tlsmaps_addr *a,
                               unsigned port)
{
	static const target none = {-1, ""};
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	if (a->family == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, a->bytes, 4);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, a->bytes, 16);
		len = sizeof(*sin6);
	}
	tlsmaps_addr_format(a, d->nexthop, sizeof(d->nexthop));
	probe_addr(o, d, &none, (struct sockaddr *)&ss, len, port);
}

/* Probe the hosts of one entry; fills d->hosts, or d->v and d->reason. */
static void probe_entry(const probe_opts *o, dest_report *d)
{
	const tlsmaps_table *t = d->t;
	const char *key = tlsmaps_entry_key(t, d->id);
	char why[TLSMAPS_WHY_MAX];
	tlsmaps_query q;
	unsigned port = o->port;
	int rc;

	switch (tlsmaps_entry_kind(t, d->id)) {
	case TLSMAPS_KIND_PARENT:
		d->v = VERDICT_SKIPPED;
		snprintf(d->reason, sizeof(d->reason), "parent entry, no host to probe");
		return;
	case TLSMAPS_KIND_NETWORK:
		d->v = VERDICT_SKIPPED;
		snprintf(d->reason, sizeof(d->reason), "network entry, no host to probe");
		return;
	case TLSMAPS_KIND_DOMAIN:
		snprintf(d->nexthop, sizeof(d->nexthop), "%s", key);
		rc = probe_mx_lookup(key, &d->targets, &d->ntargets, d->reason, sizeof(d->reason));
		if (rc < 0)
			return;
		if (rc == 0) {
			d->targets = calloc(1, sizeof(*d->targets));
			if (d->targets == NULL) {
				snprintf(d->reason, sizeof(d->reason), "out of memory");
				return;
			}
			d->targets[0].pref = -1;
			snprintf(d->targets[0].name, sizeof(d->targets[0].name), "%s", key);
			d->ntargets = 1;
		}
		break;
	case TLSMAPS_KIND_NEXTHOP:
		if (tlsmaps_query_parse(key, strlen(key), &q, why, sizeof(why)) < 0) {
			snprintf(d->reason, sizeof(d->reason), "%s", why);
			return;
		}
		if (q.port != 0)
			port = q.port;
		if (q.kind == TLSMAPS_QUERY_LITERAL_ADDR) {
			probe_literal_addr(o, d, &q.addr, port);
			return;
		}
		d->targets = calloc(1, sizeof(*d->targets));
		if (d->targets == NULL) {
			snprintf(d->reason, sizeof(d->reason), "out of memory");
			return;
		}
		d->targets[0].pref = -1;
		snprintf(d->targets[0].name, sizeof(d->targets[0].name), "%s", q.name);
		snprintf(d->nexthop, sizeof(d->nexthop), "%s", q.name);
		d->ntargets = 1;
		break;
	}
	for (size_t i = 0; i < d->ntargets; i++)
		probe_target(o, d, &d->targets[i], port);
}

/* The destination's verdict from its hosts. */
static void conclude(dest_report *d)
{
	int mandatory = tlsmaps_level_mandatory(d->level);
	size_t failed = 0, reached = 0;

	if (d->v == VERDICT_SKIPPED)
		return;
	for (size_t i = 0; i < d->nhosts; i++) {
		failed += d->hosts[i].v == VERDICT_FAIL;
		reached += d->hosts[i].v != VERDICT_UNREACHABLE;
	}
	if (failed > 0) {
		d->v = VERDICT_FAIL;
		snprintf(d->reason, sizeof(d->reason), "%zu of %zu host%s would fail", failed,
		         d->nhosts, d->nhosts == 1 ? "" : "s");
	} else if (reached == 0) {
		d->v = mandatory ? VERDICT_FAIL : VERDICT_PASS;
		if (d->reason[0] == '\0')
			snprintf(d->reason, sizeof(d->reason), "no reachable host");
		if (!mandatory)
			probe_append(d->reason, sizeof(d->reason), " (%s: no failure)",
			             tlsmaps_level_name(d->level));
	} else {
		d->v = VERDICT_PASS;
	}
}

static void dest_free(dest_report *d)
{
	for (size_t i = 0; i < d->nhosts; i++)
		smtp_probe_result_free(&d->hosts[i].r);
	free(d->hosts);
	free(d->targets);
}

/* ---------------------------------------------------------------------------
 * The command.
 */

static int number_arg(const char *opt, const char *arg, unsigned min, unsigned max, unsigned *out)
{
	unsigned long v = 0;

	if (*arg == '\0')
		goto bad;
	for (const char *p = arg; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || v > max)
			goto bad;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < min || v > max)
		goto bad;
	*out = (unsigned)v;
	return 0;
bad:
	fprintf(stderr, "tlsmaps: %s: \"%s\" is not a number from %u to %u\n", opt, arg, min, max);
	return -1;
}

static int helo_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr(".-_:[]", *s) != NULL))
			return 0;
	return 1;
}

static void usage(void)
{
	fputs("usage: tlsmaps probe [--timeout SECONDS] [--CAfile FILE] [--port N] [--helo NAME]\n"
	      "                     [--json] [--default-level LEVEL] TABLE...\n",
	      stderr);
}

/* Options into o, level and cafile: 0 to go on, -1 to exit with *status. */
static int parse_args(int argc, char **argv, probe_opts *o, tlsmaps_level *level,
                      const char **cafile, int *status)
{
	static const struct option longopts[] = {
	        {"timeout", required_argument, NULL, 't'},
	        {"CAfile", required_argument, NULL, 'C'},
	        {"cafile", required_argument, NULL, 'C'},
	        {"port", required_argument, NULL, 'p'},
	        {"json", no_argument, NULL, 'j'},
	        {"helo", required_argument, NULL, 'H'},
	        {"default-level", required_argument, NULL, 'l'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	int opt;

	*status = EXIT_USAGE;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "t:C:p:jH:l:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (number_arg("--timeout", optarg, 1, 3600, &o->timeout) < 0)
				return -1;
			break;
		case 'C':
			*cafile = optarg;
			break;
		case 'p':
			if (number_arg("--port", optarg, 1, 65535, &o->port) < 0)
				return -1;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'H':
			if (!helo_ok(optarg)) {
				fprintf(stderr, "tlsmaps: --helo: \"%s\" is not a host name\n",
				        optarg);
				return -1;
			}
			o->helo = optarg;
			break;
		case 'l':
			if (cli_level_arg(optarg, level) < 0)
				return -1;
			break;
		case 'h':
			usage();
			*status = 0;
			return -1;
		default:
			usage();
			return -1;
		}
	}
	if (optind >= argc) {
		usage();
		return -1;
	}
	return 0;
}

/* The HELO name when --helo is not given: this host's name, if it is a FQDN. */
static const char *default_helo(char *host, size_t len)
{
	if (gethostname(host, len) == 0) {
		host[len - 1] = '\0';
		if (strchr(host, '.') != NULL && helo_ok(host))
			return host;
	}
	return "localhost";
}

/* Probe, judge and print the destination of entry id; 1 when it would fail. */
static int probe_dest(const probe_opts *o, const tlsmaps_table *t, tlsmaps_id id)
{
	dest_report d;
	unsigned mb;
	int failed;

	memset(&d, 0, sizeof(d));
	d.t = t;
	d.id = id;
	d.level = tlsmaps_entry_level(t, id);
	mb = tlsmaps_entry_min_bits(t, id);
	snprintf(d.policy, sizeof(d.policy), "%s", tlsmaps_level_name(d.level));
	probe_append(d.policy, sizeof(d.policy), *tlsmaps_entry_attrs(t, id) ? " %s" : "%s",
	             tlsmaps_entry_attrs(t, id));
	if (tlsmaps_entry_min_bits_explicit(t, id)) {
		char mbs[24];

		snprintf(mbs, sizeof(mbs), "%u", mb);
		probe_append(d.policy, sizeof(d.policy), " min_bits=%s", mbs);
	}
	probe_entry(o, &d);
	conclude(&d);
	probe_print_dest(o, &d);
	failed = d.v == VERDICT_FAIL;
	dest_free(&d);
	return failed;
}

int cmd_probe(int argc, char **argv)
{
	probe_opts o = {PROBE_TIMEOUT_DEFAULT, 25, 0, NULL, NULL};
	tlsmaps_level level = TLSMAPS_LEVEL_ENCRYPT;
	const char *cafile = NULL;
	char host[256], why[SMTP_PROBE_WHY_MAX];
	tlsmaps_table *t;
	size_t count;
	int failed = 0, status;

	if (parse_args(argc, argv, &o, &level, &cafile, &status) < 0)
		return status;
	if (o.helo == NULL)
		o.helo = default_helo(host, sizeof(host));
	if ((t = cli_load(argv + optind, (size_t)(argc - optind), level)) == NULL)
		return EXIT_USAGE;
	if ((o.ctx = smtp_probe_ctx_new(cafile, why, sizeof(why))) == NULL) {
		fprintf(stderr, "tlsmaps: %s\n", why);
		tlsmaps_table_free(t);
		return EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	count = tlsmaps_table_count(t);
	for (tlsmaps_id id = 0; id < count; id++)
		if (tlsmaps_entry_direction(t, id) & TLSMAPS_DIR_OUT)
			failed += probe_dest(&o, t, id);
	SSL_CTX_free(o.ctx);
	tlsmaps_table_free(t);
	if (fflush(stdout) != 0) {
		perror("tlsmaps: stdout");
		return EXIT_USAGE;
	}
	return failed > 0 ? 1 : 0;
}
