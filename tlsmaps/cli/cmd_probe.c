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
 *	  PROBE_MX_MAX), or the domain itself when it has no MX records (the
 *	  implicit MX). A null MX (RFC 7505) means no host.
 *	- NEXTHOP "[host]" or "[host]:port": that host, no MX lookup, the port
 *	  of the key or 25. "[192.0.2.7]": that address.
 *	- PARENT and NETWORK entries name no host: listed as skipped.
 *
 *	Every address of every host (at most PROBE_ADDR_MAX per host) gets one
 *	SMTP session (smtp_probe.c): connect to port 25 (--port N for
 *	destinations without a port of their own), banner, EHLO, STARTTLS when
 *	offered, TLS handshake with SNI = the host name (or servername=), QUIT.
 *
 *	Each host is judged against the entry's level as Postfix would enforce
 *	it (tlsmaps_level_mandatory()): a mandatory level fails without
 *	STARTTLS or with a failed handshake, or when the cipher has fewer bits
 *	than min_bits. verify and secure also fail when the chain does not
 *	verify (system CA store or --CAfile) or when no name matches:
 *	X509_check_host() against match= (hostname, nexthop, dot-nexthop or
 *	literal names, ':'-separated), by default the MX host name for verify
 *	and nexthop:dot-nexthop for secure. fingerprint fails unless a match=
 *	digest ('|'-separated; sha256, sha1 or md5 by length) equals the
 *	certificate's or its public key's digest. none, may and dane never
 *	fail; dane-only is checked like encrypt (no TLSA lookup is done).
 *
 *	A host that cannot be reached (DNS, connect, banner, timeout) is
 *	"unreachable". A destination fails when any reachable host fails, or
 *	when its level is mandatory and no host was reachable (DNS errors,
 *	NXDOMAIN and null MX included).
 *
 *	Output, one block per destination: a line "KEY POLICY FILE:LINE:
 *	VERDICT[: reason]" and one indented line per address. --json writes one
 *	object per address instead (JSON Lines), or one per destination that
 *	has no address to show.
 *
 *	DNS: res_query() for MX (libresolv, /etc/resolv.conf), getaddrinfo()
 *	for addresses.
 * DIAGNOSTICS
 *	Exit 0 when no destination would fail, 1 when one would, 2 on usage
 *	or table errors (printed as FILE:LINE: message).
 * SEE ALSO
 *	smtp_probe.c, tlsmaps(1), tlsmaps(5), Postfix TLS_README
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "cli.h"
#include "jsonw.h"
#include "smtp_probe.h"

#define PROBE_MX_MAX 16    /* MX hosts probed per domain */
#define PROBE_ADDR_MAX 8   /* addresses probed per host */
#define PROBE_NAMES_MAX 16 /* names checked against a certificate */
#define PROBE_HOST_MAX (TLSMAPS_NAME_MAX + 2)
#define PROBE_NAME_BUF (PROBE_HOST_MAX + 1) /* ".nexthop" */
#define PROBE_CHECKED_MAX 384
#define PROBE_REASON_MAX 512
#define PROBE_TIMEOUT_DEFAULT 10

typedef struct {
	unsigned timeout;
	unsigned port; /* for destinations without a port: 25 or --port */
	int json;
	const char *helo;
	SSL_CTX *ctx;
} probe_opts;

typedef enum { VERDICT_PASS = 0, VERDICT_FAIL, VERDICT_UNREACHABLE, VERDICT_SKIPPED } verdict;

static const char *const verdict_names[] = {"pass", "FAIL", "unreachable", "skipped"};
static const char *const verdict_json[] = {"pass", "fail", "unreachable", "skipped"};

/* One host of a destination, as the MX lookup or the key names it. */
typedef struct {
	int pref;                  /* MX preference, -1 when not from an MX record */
	char name[PROBE_HOST_MAX]; /* "" for an address next hop */
} target;

/* One probed address (or a host without addresses). */
typedef struct {
	const target *tg;
	char addr[INET6_ADDRSTRLEN]; /* "" when the host has no address */
	unsigned port;
	smtp_probe_result r; /* meaningful when addr is set */
	int name_match;
	char matched[PROBE_NAME_BUF];          /* the name that matched */
	char checked[PROBE_CHECKED_MAX];       /* names checked, ", "-separated */
	int fp_match;                          /* -1: not a fingerprint level */
	char fingerprint[3 * EVP_MAX_MD_SIZE]; /* certificate sha256, "AA:BB:..." */
	verdict v;
	char reason[PROBE_REASON_MAX];
} host_report;

/* One destination: a table entry and everything probed for it. */
typedef struct {
	const tlsmaps_table *t;
	tlsmaps_id id;
	tlsmaps_level level;
	char policy[TLSMAPS_POLICY_MAX];
	char nexthop[PROBE_HOST_MAX]; /* name for "nexthop" in match=: domain or [host] */
	target *targets;
	size_t ntargets;
	host_report *hosts;
	size_t nhosts, cap;
	verdict v;
	char reason[PROBE_REASON_MAX];
} dest_report;

/* ---------------------------------------------------------------------------
 * DNS.
 */

static int target_cmp(const void *a, const void *b)
{
	const target *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

/*
 * The MX hosts of domain, sorted by preference (equal preferences keep DNS
 * order). 1 with *n hosts (0 for a null MX), 0 when the domain has no MX
 * records, -1 with why on NXDOMAIN or a DNS failure.
 */
static int mx_lookup(const char *domain, target **out, size_t *n, char *why, size_t len)
{
	unsigned char *ans = malloc(NS_MAXMSG);
	target *list = NULL;
	size_t count = 0;
	int nullmx = 0, alen;
	ns_msg msg;

	*out = NULL;
	*n = 0;
	if (ans == NULL) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	alen = res_query(domain, ns_c_in, ns_t_mx, ans, NS_MAXMSG);
	if (alen < 0) {
		int herr = h_errno;

		free(ans);
		switch (herr) {
		case NO_DATA:
			return 0;
		case HOST_NOT_FOUND:
			snprintf(why, len, "MX lookup: %s: domain does not exist (NXDOMAIN)",
			         domain);
			return -1;
		case TRY_AGAIN:
			snprintf(why, len, "MX lookup: %s: temporary DNS failure", domain);
			return -1;
		default:
			snprintf(why, len, "MX lookup: %s: %s", domain, hstrerror(herr));
			return -1;
		}
	}
	if (alen > NS_MAXMSG)
		alen = NS_MAXMSG;
	if (ns_initparse(ans, alen, &msg) < 0)
		goto malformed;
	list = calloc(PROBE_MX_MAX, sizeof(*list));
	if (list == NULL) {
		free(ans);
		snprintf(why, len, "out of memory");
		return -1;
	}
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		char name[NS_MAXDNAME];
		size_t nlen;
		ns_rr rr;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			goto malformed;
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_class(rr) != ns_c_in)
			continue;
		if (ns_rr_rdlen(rr) < 3 ||
		    ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr) + 2, name,
		                       sizeof(name)) < 0)
			goto malformed;
		nlen = strlen(name);
		while (nlen > 0 && name[nlen - 1] == '.')
			name[--nlen] = '\0';
		if (nlen == 0) {
			nullmx = 1;
			continue;
		}
		if (nlen > TLSMAPS_NAME_MAX || count == PROBE_MX_MAX)
			continue;
		list[count].pref = ns_get16(ns_rr_rdata(rr));
		memcpy(list[count].name, name, nlen + 1);
		count++;
	}
	free(ans);
	if (count == 0 && !nullmx) {
		free(list);
		return 0;
	}
	if (count == 0) {
		free(list);
		snprintf(why, len, "null MX: %s accepts no mail", domain);
		return 1;
	}
	/* qsort is not stable: equal preferences are few, insertion keeps order */
	for (size_t i = 1; i < count; i++) {
		target tmp = list[i];
		size_t j = i;

		while (j > 0 && target_cmp(&list[j - 1], &tmp) > 0) {
			list[j] = list[j - 1];
			j--;
		}
		list[j] = tmp;
	}
	*out = list;
	*n = count;
	return 1;

malformed:
	free(ans);
	free(list);
	snprintf(why, len, "MX lookup: %s: malformed DNS answer", domain);
	return -1;
}

/* ---------------------------------------------------------------------------
 * Judging one session against the entry.
 */

static void append(char *buf, size_t len, const char *fmt, const char *s)
{
	size_t used = strlen(buf);

	if (used < len)
		snprintf(buf + used, len - used, fmt, s);
}

static void hex_digest(const unsigned char *md, unsigned n, char *out, size_t len, int colons)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (unsigned i = 0; i < n && o + 3 < len; i++) {
		if (colons && i > 0)
			out[o++] = ':';
		out[o++] = hex[md[i] >> 4];
		out[o++] = hex[md[i] & 15];
	}
	out[o] = '\0';
}

/* Does one match= digest (hex, colons allowed) equal the certificate's or its key's? */
static int fingerprint_matches(X509 *cert, const char *want, size_t wlen)
{
	char norm[2 * EVP_MAX_MD_SIZE + 1], got[2 * EVP_MAX_MD_SIZE + 1];
	unsigned char md[EVP_MAX_MD_SIZE];
	const EVP_MD *type;
	unsigned mdlen;
	size_t n = 0;

	for (size_t i = 0; i < wlen; i++) {
		if (want[i] == ':')
			continue;
		if (n + 1 >= sizeof(norm))
			return 0;
		norm[n++] = (char)(want[i] >= 'a' && want[i] <= 'f' ? want[i] - 32 : want[i]);
	}
	norm[n] = '\0';
	type = n == 64 ? EVP_sha256() : n == 40 ? EVP_sha1() : n == 32 ? EVP_md5() : NULL;
	if (type == NULL)
		return 0;
	if (X509_digest(cert, type, md, &mdlen) == 1) {
		hex_digest(md, mdlen, got, sizeof(got), 0);
		if (strcmp(got, norm) == 0)
			return 1;
	}
	if (X509_pubkey_digest(cert, type, md, &mdlen) == 1) {
		hex_digest(md, mdlen, got, sizeof(got), 0);
		if (strcmp(got, norm) == 0)
			return 1;
	}
	return 0;
}

static int cert_has_name(X509 *cert, const char *name)
{
	tlsmaps_addr a;

	if (tlsmaps_addr_parse(name, strlen(name), &a) == 0)
		return X509_check_ip_asc(cert, name, 0) == 1;
	return X509_check_host(cert, name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
}

/*
 * The names a certificate must carry at this level, Postfix's way:
 * match= for verify and secure, else hostname (verify) or
 * nexthop:dot-nexthop (secure); hostname for every other level, for the
 * report only.
 */
static size_t cert_names(const dest_report *d, const char *host, char names[][PROBE_NAME_BUF])
{
	const char *def = d->level == TLSMAPS_LEVEL_SECURE ? "nexthop:dot-nexthop" : "hostname";
	const char *m = NULL, *end;
	size_t mlen = 0, n = 0;

	if (d->level == TLSMAPS_LEVEL_VERIFY || d->level == TLSMAPS_LEVEL_SECURE)
		m = tlsmaps_entry_attr(d->t, d->id, "match", &mlen);
	if (m == NULL) {
		m = def;
		mlen = strlen(def);
	}
	for (end = m + mlen; m < end && n < PROBE_NAMES_MAX;) {
		const char *colon = memchr(m, ':', (size_t)(end - m));
		size_t len = colon != NULL ? (size_t)(colon - m) : (size_t)(end - m);

		if (len == 8 && strncasecmp(m, "hostname", 8) == 0)
			snprintf(names[n++], PROBE_NAME_BUF, "%s", host);
		else if (len == 7 && strncasecmp(m, "nexthop", 7) == 0)
			snprintf(names[n++], PROBE_NAME_BUF, "%s", d->nexthop);
		else if (len == 11 && strncasecmp(m, "dot-nexthop", 11) == 0)
			snprintf(names[n++], PROBE_NAME_BUF, ".%s", d->nexthop);
		else if (len > 0 && len < PROBE_HOST_MAX)
			snprintf(names[n++], PROBE_NAME_BUF, "%.*s", (int)len, m);
		m += len + (colon != NULL);
	}
	return n;
}

static void judge(const dest_report *d, host_report *h)
{
	const char *lvl = tlsmaps_level_name(d->level);
	int mandatory = tlsmaps_level_mandatory(d->level);
	unsigned min_bits = tlsmaps_entry_min_bits(d->t, d->id);
	const smtp_probe_result *r = &h->r;
	char names[PROBE_NAMES_MAX][PROBE_NAME_BUF];
	size_t nnames;

	h->fp_match = -1;
	h->v = VERDICT_PASS;
	switch (r->stage) {
	case SMTP_PROBE_NO_SESSION:
		h->v = VERDICT_UNREACHABLE;
		return;
	case SMTP_PROBE_NO_STARTTLS:
	case SMTP_PROBE_STARTTLS_REFUSED:
	case SMTP_PROBE_TLS_FAILED:
		if (mandatory) {
			h->v = VERDICT_FAIL;
			snprintf(h->reason, sizeof(h->reason), "%s requires %s", lvl,
			         r->stage == SMTP_PROBE_TLS_FAILED ? "a TLS session" : "STARTTLS");
		} else {
			snprintf(h->reason, sizeof(h->reason), "%s: delivery in clear text", lvl);
		}
		return;
	case SMTP_PROBE_TLS:
		break;
	}
	if (r->cert != NULL) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen;

		if (X509_digest(r->cert, EVP_sha256(), md, &mdlen) == 1)
			hex_digest(md, mdlen, h->fingerprint, sizeof(h->fingerprint), 1);
	}
	nnames = cert_names(d, h->tg->name[0] != '\0' ? h->tg->name : h->addr, names);
	for (size_t i = 0; i < nnames; i++) {
		append(h->checked, sizeof(h->checked), i > 0 ? ", %s" : "%s", names[i]);
		if (!h->name_match && r->cert != NULL && cert_has_name(r->cert, names[i])) {
			h->name_match = 1;
			snprintf(h->matched, sizeof(h->matched), "%s", names[i]);
		}
	}
	if (d->level == TLSMAPS_LEVEL_FINGERPRINT) {
		size_t mlen = 0;
		const char *m = tlsmaps_entry_attr(d->t, d->id, "match", &mlen), *end;

		h->fp_match = 0;
		for (end = m != NULL ? m + mlen : NULL; m != NULL && m < end && r->cert != NULL;) {
			const char *bar = memchr(m, '|', (size_t)(end - m));
			size_t len = bar != NULL ? (size_t)(bar - m) : (size_t)(end - m);

			if (fingerprint_matches(r->cert, m, len)) {
				h->fp_match = 1;
				break;
			}
			m += len + (bar != NULL);
		}
	}
	if (!mandatory)
		return;
	if ((unsigned)(r->bits < 0 ? 0 : r->bits) < min_bits) {
		h->v = VERDICT_FAIL;
		snprintf(h->reason, sizeof(h->reason), "%d bits below min_bits=%u", r->bits,
		         min_bits);
	} else if (r->cert == NULL && d->level >= TLSMAPS_LEVEL_FINGERPRINT) {
		h->v = VERDICT_FAIL;
		snprintf(h->reason, sizeof(h->reason), "%s requires a server certificate", lvl);
	} else if ((d->level == TLSMAPS_LEVEL_VERIFY || d->level == TLSMAPS_LEVEL_SECURE) &&
	           r->verify != X509_V_OK) {
		h->v = VERDICT_FAIL;
		snprintf(h->reason, sizeof(h->reason), "%s: certificate not verified", lvl);
	} else if ((d->level == TLSMAPS_LEVEL_VERIFY || d->level == TLSMAPS_LEVEL_SECURE) &&
	           !h->name_match) {
		h->v = VERDICT_FAIL;
		snprintf(h->reason, sizeof(h->reason),
		         "%s: name mismatch: certificate has none of %s", lvl, h->checked);
	} else if (d->level == TLSMAPS_LEVEL_FINGERPRINT && h->fp_match != 1) {
		h->v = VERDICT_FAIL;
		snprintf(h->reason, sizeof(h->reason),
		         "fingerprint: no match= digest matches the certificate");
	} else if (d->level == TLSMAPS_LEVEL_DANE_ONLY) {
		snprintf(h->reason, sizeof(h->reason), "dane-only: TLSA records not checked");
	}
}

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
	judge(d, h);
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
		rc = mx_lookup(key, &d->targets, &d->ntargets, d->reason, sizeof(d->reason));
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
			append(d->reason, sizeof(d->reason), " (%s: no failure)",
			       tlsmaps_level_name(d->level));
	} else {
		d->v = VERDICT_PASS;
	}
}

/* ---------------------------------------------------------------------------
 * Reporting.
 */

static void print_text_host(const host_report *h)
{
	const smtp_probe_result *r = &h->r;

	fputs("  ", stdout);
	if (h->tg->name[0] != '\0')
		fputs(h->tg->name, stdout);
	if (h->addr[0] != '\0')
		printf("[%s]:%u", h->addr, h->port);
	else
		printf(":%u", h->port);
	if (h->tg->pref >= 0)
		printf(" (MX %d)", h->tg->pref);
	fputs(": ", stdout);
	if (r->stage == SMTP_PROBE_TLS) {
		printf("STARTTLS offered; %s %s %d bits; verify: %s; name match: ", r->protocol,
		       r->cipher, r->bits,
		       r->cert == NULL ? "no certificate"
		                       : X509_verify_cert_error_string(r->verify));
		if (h->name_match)
			printf("yes (%s)", h->matched);
		else
			printf("no (%s)", h->checked);
		if (h->fp_match >= 0)
			printf("; fingerprint %s: %s", h->fingerprint,
			       h->fp_match ? "match" : "no match");
	} else {
		fputs(r->why, stdout);
	}
	printf("; %s", verdict_names[h->v]);
	if (h->reason[0] != '\0')
		printf(": %s", h->reason);
	putchar('\n');
}

static void json_head(const dest_report *d)
{
	putchar('{');
	jsonw_member_str(stdout, 1, "destination", tlsmaps_entry_key(d->t, d->id));
	jsonw_member_str(stdout, 0, "level", tlsmaps_level_name(d->level));
	jsonw_member_str(stdout, 0, "policy", d->policy);
	jsonw_member_uint(stdout, 0, "min_bits", tlsmaps_entry_min_bits(d->t, d->id));
	jsonw_member_str(stdout, 0, "file", tlsmaps_entry_file(d->t, d->id));
	jsonw_member_uint(stdout, 0, "line", tlsmaps_entry_line(d->t, d->id));
	jsonw_member_str(stdout, 0, "destination_result", verdict_json[d->v]);
	if (d->reason[0] != '\0')
		jsonw_member_str(stdout, 0, "destination_reason", d->reason);
}

static void print_json_host(const dest_report *d, const host_report *h)
{
	const smtp_probe_result *r = &h->r;

	json_head(d);
	jsonw_member_str(stdout, 0, "host", h->tg->name);
	if (h->tg->pref >= 0)
		jsonw_member_uint(stdout, 0, "mx_preference", (unsigned long)h->tg->pref);
	jsonw_member_str(stdout, 0, "address", h->addr);
	jsonw_member_uint(stdout, 0, "port", h->port);
	jsonw_member_bool(stdout, 0, "reachable", h->v != VERDICT_UNREACHABLE);
	jsonw_member_bool(stdout, 0, "starttls", r->stage >= SMTP_PROBE_STARTTLS_REFUSED);
	jsonw_member_bool(stdout, 0, "tls", r->stage == SMTP_PROBE_TLS);
	if (r->stage == SMTP_PROBE_TLS) {
		jsonw_member_str(stdout, 0, "protocol", r->protocol);
		jsonw_member_str(stdout, 0, "cipher", r->cipher);
		jsonw_member_uint(stdout, 0, "bits", (unsigned long)(r->bits < 0 ? 0 : r->bits));
		jsonw_member_str(stdout, 0, "verify",
		                 r->cert == NULL ? "no certificate"
		                                 : X509_verify_cert_error_string(r->verify));
		jsonw_member_bool(stdout, 0, "verified", r->cert != NULL && r->verify == X509_V_OK);
		jsonw_member_bool(stdout, 0, "name_match", h->name_match);
		jsonw_member_str(stdout, 0, "names_checked", h->checked);
		if (h->name_match)
			jsonw_member_str(stdout, 0, "name_matched", h->matched);
		if (h->fingerprint[0] != '\0')
			jsonw_member_str(stdout, 0, "cert_sha256", h->fingerprint);
		if (h->fp_match >= 0)
			jsonw_member_bool(stdout, 0, "fingerprint_match", h->fp_match);
	} else {
		jsonw_member_str(stdout, 0, "error", r->why);
	}
	jsonw_member_str(stdout, 0, "result", verdict_json[h->v]);
	if (h->reason[0] != '\0')
		jsonw_member_str(stdout, 0, "reason", h->reason);
	fputs("}\n", stdout);
}

static void print_dest(const probe_opts *o, const dest_report *d)
{
	if (o->json) {
		for (size_t i = 0; i < d->nhosts; i++)
			print_json_host(d, &d->hosts[i]);
		if (d->nhosts == 0) {
			json_head(d);
			fputs("}\n", stdout);
		}
	} else {
		printf("%s %s %s:%u: %s", tlsmaps_entry_key(d->t, d->id), d->policy,
		       tlsmaps_entry_file(d->t, d->id), tlsmaps_entry_line(d->t, d->id),
		       verdict_names[d->v]);
		if (d->reason[0] != '\0')
			printf(": %s", d->reason);
		putchar('\n');
		for (size_t i = 0; i < d->nhosts; i++)
			print_text_host(&d->hosts[i]);
	}
	fflush(stdout);
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

int cmd_probe(int argc, char **argv)
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
	probe_opts o = {PROBE_TIMEOUT_DEFAULT, 25, 0, NULL, NULL};
	tlsmaps_level level = TLSMAPS_LEVEL_ENCRYPT;
	const char *cafile = NULL;
	char host[256], why[SMTP_PROBE_WHY_MAX];
	tlsmaps_table *t;
	size_t count;
	int opt, failed = 0;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "t:C:p:jH:l:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (number_arg("--timeout", optarg, 1, 3600, &o.timeout) < 0)
				return EXIT_USAGE;
			break;
		case 'C':
			cafile = optarg;
			break;
		case 'p':
			if (number_arg("--port", optarg, 1, 65535, &o.port) < 0)
				return EXIT_USAGE;
			break;
		case 'j':
			o.json = 1;
			break;
		case 'H':
			if (!helo_ok(optarg)) {
				fprintf(stderr, "tlsmaps: --helo: \"%s\" is not a host name\n",
				        optarg);
				return EXIT_USAGE;
			}
			o.helo = optarg;
			break;
		case 'l':
			if (cli_level_arg(optarg, &level) < 0)
				return EXIT_USAGE;
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage();
		return EXIT_USAGE;
	}
	if (o.helo == NULL) {
		o.helo = "localhost";
		if (gethostname(host, sizeof(host)) == 0) {
			host[sizeof(host) - 1] = '\0';
			if (strchr(host, '.') != NULL && helo_ok(host))
				o.helo = host;
		}
	}
	if ((t = cli_load(argv + optind, (size_t)(argc - optind), level)) == NULL)
		return EXIT_USAGE;
	if ((o.ctx = smtp_probe_ctx_new(cafile, why, sizeof(why))) == NULL) {
		fprintf(stderr, "tlsmaps: %s\n", why);
		tlsmaps_table_free(t);
		return EXIT_USAGE;
	}
	signal(SIGPIPE, SIG_IGN);
	count = tlsmaps_table_count(t);
	for (tlsmaps_id id = 0; id < count; id++) {
		dest_report d;
		unsigned mb;

		if ((tlsmaps_entry_direction(t, id) & TLSMAPS_DIR_OUT) == 0)
			continue;
		memset(&d, 0, sizeof(d));
		d.t = t;
		d.id = id;
		d.level = tlsmaps_entry_level(t, id);
		mb = tlsmaps_entry_min_bits(t, id);
		snprintf(d.policy, sizeof(d.policy), "%s", tlsmaps_level_name(d.level));
		append(d.policy, sizeof(d.policy), *tlsmaps_entry_attrs(t, id) ? " %s" : "%s",
		       tlsmaps_entry_attrs(t, id));
		if (tlsmaps_entry_min_bits_explicit(t, id)) {
			char mbs[24];

			snprintf(mbs, sizeof(mbs), "%u", mb);
			append(d.policy, sizeof(d.policy), " min_bits=%s", mbs);
		}
		probe_entry(&o, &d);
		conclude(&d);
		print_dest(&o, &d);
		failed += d.v == VERDICT_FAIL;
		dest_free(&d);
	}
	SSL_CTX_free(o.ctx);
	tlsmaps_table_free(t);
	if (fflush(stdout) != 0) {
		perror("tlsmaps: stdout");
		return EXIT_USAGE;
	}
	return failed > 0 ? 1 : 0;
}
