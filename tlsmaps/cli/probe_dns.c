/*
 * NAME
 *	probe_dns.c - tlsmaps probe: the MX hosts of a domain
 * SUMMARY
 *	probe_mx_lookup()
 * DESCRIPTION
 *	res_query() for MX records (libresolv, /etc/resolv.conf). The hosts
 *	come back in preference order, equal preferences in DNS order, at most
 *	PROBE_MX_MAX of them; names longer than TLSMAPS_NAME_MAX are skipped. A
 *	null MX (RFC 7505, the root as exchange) means no host. NODATA (no MX
 *	records) is not an error: the caller probes the implicit MX.
 * DIAGNOSTICS
 *	-1 with a reason in why on NXDOMAIN, a temporary or other DNS failure,
 *	a malformed answer, or when out of memory. "null MX: ..." with 1 and
 *	no hosts.
 * SEE ALSO
 *	cmd_probe.c, RFC 5321 section 5.1, RFC 7505
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"

static int target_cmp(const void *a, const void *b)
{
	const target *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

/* qsort is not stable: equal preferences are few, insertion keeps order. */
static void sort_by_pref(target *list, size_t count)
{
	for (size_t i = 1; i < count; i++) {
		target tmp = list[i];
		size_t j = i;

		while (j > 0 && target_cmp(&list[j - 1], &tmp) > 0) {
			list[j] = list[j - 1];
			j--;
		}
		list[j] = tmp;
	}
}

/* 1 with the answer's length in *alen, 0 for NODATA, -1 with why on any other failure. */
static int mx_query(const char *domain, unsigned char *ans, int *alen, char *why, size_t len)
{
	int herr;

	*alen = res_query(domain, ns_c_in, ns_t_mx, ans, NS_MAXMSG);
	herr = h_errno;
	if (*alen >= 0) {
		if (*alen > NS_MAXMSG)
			*alen = NS_MAXMSG;
		return 1;
	}
	switch (herr) {
	case NO_DATA:
		return 0;
	case HOST_NOT_FOUND:
		snprintf(why, len, "MX lookup: %s: domain does not exist (NXDOMAIN)", domain);
		return -1;
	case TRY_AGAIN:
		snprintf(why, len, "MX lookup: %s: temporary DNS failure", domain);
		return -1;
	default:
		snprintf(why, len, "MX lookup: %s: %s", domain, hstrerror(herr));
		return -1;
	}
}

/* The MX records of an answer into list (PROBE_MX_MAX slots). -1: malformed. */
static int mx_parse(const unsigned char *ans, int alen, target *list, size_t *count, int *nullmx)
{
	ns_msg msg;

	if (ns_initparse(ans, alen, &msg) < 0)
		return -1;
	for (int i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		char name[NS_MAXDNAME];
		size_t nlen;
		ns_rr rr;

		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
			return -1;
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_class(rr) != ns_c_in)
			continue;
		if (ns_rr_rdlen(rr) < 3 ||
		    ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr) + 2, name,
		                       sizeof(name)) < 0)
			return -1;
		nlen = strlen(name);
		while (nlen > 0 && name[nlen - 1] == '.')
			name[--nlen] = '\0';
		if (nlen == 0) {
			*nullmx = 1;
			continue;
		}
		if (nlen > TLSMAPS_NAME_MAX || *count == PROBE_MX_MAX)
			continue;
		list[*count].pref = ns_get16(ns_rr_rdata(rr));
		memcpy(list[*count].name, name, nlen + 1);
		(*count)++;
	}
	return 0;
}

int probe_mx_lookup(const char *domain, target **out, size_t *n, char *why, size_t len)
{
	unsigned char *ans = malloc(NS_MAXMSG);
	target *list = NULL;
	size_t count = 0;
	int nullmx = 0, alen, rc;

	*out = NULL;
	*n = 0;
	if (ans == NULL) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	if ((rc = mx_query(domain, ans, &alen, why, len)) <= 0) {
		free(ans);
		return rc;
	}
	if ((list = calloc(PROBE_MX_MAX, sizeof(*list))) == NULL) {
		free(ans);
		snprintf(why, len, "out of memory");
		return -1;
	}
	if (mx_parse(ans, alen, list, &count, &nullmx) < 0) {
		free(ans);
		free(list);
		snprintf(why, len, "MX lookup: %s: malformed DNS answer", domain);
		return -1;
	}
	free(ans);
	if (count == 0) {
		free(list);
		if (nullmx)
			snprintf(why, len, "null MX: %s accepts no mail", domain);
		return nullmx;
	}
	sort_by_pref(list, count);
	*out = list;
	*n = count;
	return 1;
}
