/*
 * NAME
 *	sendmail_map.c - the lines of the Sendmail access map, and their index
 * SUMMARY
 *	sm_note(), sm_flush(), sm_rhs_text(), sm_req_equal(), sm_req_union(),
 *	sm_req_stricter(), sm_add(), sm_address_keys(), sm_merge(), sm_print(),
 *	sm_index(), tlsmaps_smap_lookup(), tlsmaps_smap_count()
 * DESCRIPTION
 *	tlsmaps_sendmail.c decides what each table entry means to Sendmail;
 *	this file owns the map it produces: the requirements (the RHS "OK",
 *	"ENCR:bits", "VERIFY:bits" and how two of them combine), the lines
 *	(TAG:KEY, with the entry they come from), the expansion of a network
 *	into octet-prefix or IPv6 address keys, the merge of lines that share
 *	a key (the longest source prefix wins, equal prefixes carry the union
 *	of their requirements), the printed map source, and the index by
 *	which forcetls-policyd answers a key as the makemap'd map would. The
 *	rules are written at the top of tlsmaps_sendmail.c.
 *
 *	The index folds ASCII case, as makemap(8) and Sendmail's map lookups
 *	do without -f. Two lines whose keys differ only in case would be one
 *	key to makemap, which keeps the first and reports the second: so
 *	does the index (the table's keys are lower case, so this does not
 *	arise from a table).
 * DIAGNOSTICS
 *	Reasons are collected per entry and printed on err as one line
 *	"FILE:LINE: KEY: reason; reason" by sm_flush() (only counted when
 *	c->err is NULL). Running out of memory sets c->oom.
 * SEE ALSO
 *	tlsmaps_sendmail.c, sendmail_map.h, docs/COMPILE.md
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "sendmail_map.h"

#define EXPAND_MAX 256 /* most keys one IPv4 network may expand into */

/* Collect a reason for entry c->cur; sm_flush() prints them as one line. */
void sm_note(sm_ctx *c, const char *reason)
{
	size_t len = strlen(reason);

	if (c->whylen > 0 && c->whylen + 2 < sizeof(c->why)) {
		memcpy(c->why + c->whylen, "; ", 2);
		c->whylen += 2;
	}
	if (c->whylen + len >= sizeof(c->why))
		len = sizeof(c->why) - c->whylen - 1;
	memcpy(c->why + c->whylen, reason, len);
	c->whylen += len;
	c->why[c->whylen] = '\0';
}

void sm_flush(sm_ctx *c)
{
	if (c->whylen == 0)
		return;
	if (c->err != NULL)
		fprintf(c->err, "%s:%u: %s: %s\n", tlsmaps_entry_file(c->t, c->cur),
		        tlsmaps_entry_line(c->t, c->cur), tlsmaps_entry_key(c->t, c->cur), c->why);
	if (!c->flagged[c->cur]) {
		c->flagged[c->cur] = 1;
		c->nflagged++;
	}
	c->whylen = 0;
	c->why[0] = '\0';
}

const char *sm_rhs_text(const sm_req *r, char *buf, size_t len)
{
	if (!r->mandatory)
		snprintf(buf, len, "OK");
	else
		snprintf(buf, len, "%s:%u", r->verify ? "VERIFY" : "ENCR", r->bits);
	return buf;
}

int sm_req_equal(const sm_req *a, const sm_req *b)
{
	return a->mandatory == b->mandatory &&
	       (!a->mandatory || (a->verify == b->verify && a->bits == b->bits));
}

/* The union of two requirements: what satisfies it satisfies both. */
void sm_req_union(sm_req *a, const sm_req *b)
{
	if (!b->mandatory)
		return;
	if (!a->mandatory) {
		*a = *b;
		return;
	}
	a->verify |= b->verify;
	if (b->bits > a->bits)
		a->bits = b->bits;
}

/* True when b asks for something a does not. */
int sm_req_stricter(const sm_req *b, const sm_req *a)
{
	if (!b->mandatory)
		return 0;
	return !a->mandatory || (b->verify && !a->verify) || b->bits > a->bits;
}

sm_rec *sm_add(sm_ctx *c, const char *tag, const char *key, const sm_req *r, unsigned prio)
{
	sm_rec *rec;

	if (c->nrecs == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		sm_rec *p = realloc(c->recs, cap * sizeof(*p));

		if (p == NULL) {
			c->oom = 1;
			return NULL;
		}
		c->recs = p;
		c->cap = cap;
	}
	rec = &c->recs[c->nrecs];
	memset(rec, 0, sizeof(*rec));
	if ((rec->key = strdup(key)) == NULL) {
		c->oom = 1;
		return NULL;
	}
	rec->tag = tag;
	rec->req = *r;
	rec->id = c->cur;
	rec->from = TLSMAPS_NO_ID;
	rec->prio = prio;
	rec->seq = c->nrecs++;
	return rec;
}

/* Address keys for a network; prio is the source prefix length. 0: none written. */
int sm_address_keys(sm_ctx *c, const char *tag, const tlsmaps_addr *a, unsigned prefix,
                    const sm_req *r)
{
	char key[TLSMAPS_ADDR_STR_MAX + 8], buf[128];

	if (a->family == 6) {
		if (prefix != 128) {
			snprintf(buf, sizeof(buf),
			         "IPv6 networks are not expressible (%s: keys are full IPv6 "
			         "addresses only); not compiled",
			         tag);
			sm_note(c, buf);
			return 0;
		}
		int n = snprintf(key, sizeof(key), "IPv6:");

		for (int g = 0; g < 8; g++)
			n += snprintf(key + n, sizeof(key) - (size_t)n, "%s%x", g ? ":" : "",
			              (unsigned)a->bytes[2 * g] << 8 | a->bytes[2 * g + 1]);
		sm_add(c, tag, key, r, prefix);
		memcpy(key, "IPv6:", 5);
		tlsmaps_addr_format(a, key + 5, sizeof(key) - 5);
		sm_add(c, tag, key, r, prefix);
		return 1;
	}
	unsigned q = prefix == 0 ? 8 : (prefix + 7) / 8 * 8;
	unsigned long count = 1ul << (q - prefix);
	uint32_t base = (uint32_t)a->bytes[0] << 24 | (uint32_t)a->bytes[1] << 16 |
	                (uint32_t)a->bytes[2] << 8 | a->bytes[3];

	if (count > EXPAND_MAX) {
		snprintf(buf, sizeof(buf), "needs %lu octet-prefix keys (at most %d); not compiled",
		         count, EXPAND_MAX);
		sm_note(c, buf);
		return 0;
	}
	for (unsigned long i = 0; i < count; i++) {
		uint32_t v = base + (uint32_t)(i << (32 - q));
		int n = 0;

		for (unsigned o = 0; o < q / 8; o++)
			n += snprintf(key + n, sizeof(key) - (size_t)n, "%s%u", o ? "." : "",
			              (unsigned)(v >> (24 - 8 * o)) & 0xff);
		sm_add(c, tag, key, r, prefix);
	}
	return 1;
}

/* Same tag and key together; the longest source prefix, then the strictest, first. */
static int merge_cmp(const void *x, const void *y)
{
	const sm_rec *a = x, *b = y;
	int d = strcmp(a->tag, b->tag);

	if (d == 0)
		d = strcmp(a->key, b->key);
	if (d != 0)
		return d;
	if (a->prio != b->prio)
		return a->prio > b->prio ? -1 : 1;
	if (sm_req_stricter(&a->req, &b->req) != sm_req_stricter(&b->req, &a->req))
		return sm_req_stricter(&a->req, &b->req) ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int output_cmp(const void *x, const void *y)
{
	const sm_rec *a = x, *b = y;

	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* One line per key: a longer source prefix shadows, equal ones are united. */
void sm_merge(sm_ctx *c)
{
	char buf[TLSMAPS_KEY_MAX * 2 + 200], x[32];

	if (c->nrecs == 0)
		return; /* recs is NULL: no qsort() */
	qsort(c->recs, c->nrecs, sizeof(*c->recs), merge_cmp);
	for (size_t i = 0; i < c->nrecs;) {
		sm_rec *w = &c->recs[i];
		sm_req orig = w->req;
		size_t j = i + 1;

		for (; j < c->nrecs && w->tag == c->recs[j].tag &&
		       strcmp(w->key, c->recs[j].key) == 0;
		     j++) {
			sm_rec *l = &c->recs[j];

			l->dropped = 1;
			if (l->prio != w->prio || l->id == w->id)
				continue; /* longest prefix: as the table */
			sm_req_union(&w->req, &l->req);
			if (sm_req_equal(&w->req, &l->req))
				continue;
			c->cur = l->id;
			snprintf(buf, sizeof(buf),
			         "%s:%s is also given by %s (%s:%u); the line carries both "
			         "requirements: %s",
			         l->tag, l->key, tlsmaps_entry_key(c->t, w->id),
			         tlsmaps_entry_file(c->t, w->id), tlsmaps_entry_line(c->t, w->id),
			         sm_rhs_text(&w->req, x, sizeof(x)));
			sm_note(c, buf);
			sm_flush(c);
		}
		if (!sm_req_equal(&orig, &w->req)) {
			c->cur = w->id;
			snprintf(buf, sizeof(buf),
			         "%s:%s is also given by other entries; the line carries all their "
			         "requirements: %s",
			         w->tag, w->key, sm_rhs_text(&w->req, x, sizeof(x)));
			sm_note(c, buf);
			sm_flush(c);
		}
		i = j;
	}
	qsort(c->recs, c->nrecs, sizeof(*c->recs), output_cmp);
}

void sm_print(const sm_ctx *c, FILE *out)
{
	const tlsmaps_table *t = c->t;
	tlsmaps_id last = TLSMAPS_NO_ID;
	char x[32];

	fputs("# Sendmail access map entries, generated by tlsmaps compile --format "
	      "sendmail-access.\n"
	      "# Needs FEATURE(`access_db') and FEATURE(`lookupdotdomain'): without it the\n"
	      "# \".domain\" keys below are never looked up and subdomain rules are lost.\n"
	      "# Add to /etc/mail/access, then: makemap hash /etc/mail/access < "
	      "/etc/mail/access\n",
	      out);
	if (c->flags & TLSMAPS_SMAP_NO_CLT)
		fputs("# Inbound entries (TLS_Clt:) are left out: forcetls-milter enforces them.\n",
		      out);
	for (size_t i = 0; i < c->nrecs; i++) {
		const sm_rec *r = &c->recs[i];

		if (r->dropped)
			continue;
		if (r->id != last)
			fprintf(out, "# %s:%u %s %s\n", tlsmaps_entry_file(t, r->id),
			        tlsmaps_entry_line(t, r->id), tlsmaps_entry_key(t, r->id),
			        tlsmaps_level_name(tlsmaps_entry_level(t, r->id)));
		last = r->id;
		if (r->synthetic && r->from != TLSMAPS_NO_ID)
			fprintf(out, "# names under %s, as %s (%s:%u) answers them\n",
			        tlsmaps_entry_key(t, r->id), tlsmaps_entry_key(t, r->from),
			        tlsmaps_entry_file(t, r->from), tlsmaps_entry_line(t, r->from));
		else if (r->synthetic)
			fprintf(out, "# names under %s: no entry in the table\n",
			        tlsmaps_entry_key(t, r->id));
		fprintf(out, "%s:%s\t%s\n", r->tag, r->key, sm_rhs_text(&r->req, x, sizeof(x)));
	}
}

/* Compare line r's "TAG:KEY" with q (folded, length qlen) as makemap's folded keys. */
static int folded_cmp(const sm_rec *r, const char *q, size_t qlen)
{
	const char *parts[3] = {r->tag, ":", r->key};
	size_t i = 0;

	for (int p = 0; p < 3; p++)
		for (const char *s = parts[p]; *s != '\0'; s++, i++) {
			int a = tolower((unsigned char)*s), b;

			if (i == qlen)
				return 1;
			b = (unsigned char)q[i];
			if (a != b)
				return a < b ? -1 : 1;
		}
	return i == qlen ? 0 : -1;
}

static int fold_strcmp(const char *a, const char *b)
{
	int x, y;

	do {
		x = tolower((unsigned char)*a++);
		y = tolower((unsigned char)*b++);
	} while (x == y && x != '\0');
	return x < y ? -1 : x > y;
}

/*
 * The folded "TAG:KEY" of a and b, as folded_cmp() orders them: by tag,
 * then key, since no tag is the start of another.
 */
static int key_cmp(const sm_rec *a, const sm_rec *b)
{
	int d = fold_strcmp(a->tag, b->tag);

	return d != 0 ? d : fold_strcmp(a->key, b->key);
}

static int index_cmp(const void *x, const void *y)
{
	const sm_rec *a = *(const sm_rec *const *)x, *b = *(const sm_rec *const *)y;
	int d = key_cmp(a, b);

	if (d != 0)
		return d;
	return a < b ? -1 : a > b; /* the first line in output order first */
}

int sm_index(tlsmaps_smap *m)
{
	sm_ctx *c = &m->c;
	size_t n = 0;

	if ((m->index = malloc((c->nrecs ? c->nrecs : 1) * sizeof(*m->index))) == NULL)
		return -1;
	for (size_t i = 0; i < c->nrecs; i++)
		if (!c->recs[i].dropped)
			m->index[n++] = &c->recs[i];
	qsort(m->index, n, sizeof(*m->index), index_cmp);
	m->nindex = 0;
	for (size_t i = 0; i < n; i++) /* makemap keeps the first line of a duplicate key */
		if (m->nindex == 0 || key_cmp(m->index[m->nindex - 1], m->index[i]) != 0)
			m->index[m->nindex++] = m->index[i];
	return 0;
}

size_t tlsmaps_smap_count(const tlsmaps_smap *m)
{
	return m->nindex;
}

const char *tlsmaps_smap_lookup(const tlsmaps_smap *m, const char *key, size_t len, char *rhs,
                                size_t rhslen)
{
	char q[TLSMAPS_KEY_MAX + 16];
	size_t lo = 0, hi = m->nindex;

	if (len >= sizeof(q))
		return NULL; /* longer than any line */
	for (size_t i = 0; i < len; i++)
		q[i] = (char)tolower((unsigned char)key[i]);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = folded_cmp(m->index[mid], q, len);

		if (d == 0)
			return sm_rhs_text(&m->index[mid]->req, rhs, rhslen);
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
