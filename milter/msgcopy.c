/*
 * NAME
 *	msgcopy.c - relay mode's copy of a message, and the gateway's view of it
 * SUMMARY
 *	msgcopy_new(), msgcopy_free(), msgcopy_rcpt(), msgcopy_header(),
 *	msgcopy_body(), msgcopy_rcpts(), msgcopy_size(), msgcopy_on_disk(),
 *	msgcopy_error(), msgcopy_source()
 * DESCRIPTION
 *	See msgcopy.h. A header is stored in the header spool as a record:
 *	the name's length and the value's length (4 bytes each, host order),
 *	the name, the value. Reading the copy back is a small state machine
 *	(phase below) that the relay pulls pieces from; a value is streamed
 *	from the spool in pieces, never held whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msgcopy.h"
#include "spool.h"

enum phase { P_FIRST, P_REC, P_VALUE, P_EOL, P_ADDED, P_BLANK, P_BODY, P_END };

struct msgcopy {
	spool *hdrs, *body;
	char **rcpts;
	size_t nrcpts, rcptcap;
	int failed;
	char why[600];
	/* reading back (msgcopy_source) */
	const decision *d;
	const char *subject;
	enum phase phase;
	size_t act;                          /* next action to look at (P_FIRST, P_ADDED) */
	uint32_t value_left;                 /* P_VALUE: bytes of the current value still to send */
	unsigned counts[DECIDE_MAX_ACTIONS]; /* occurrences seen, per action's name */
	char *line;                          /* the piece being built */
	size_t linecap;
};

msgcopy *msgcopy_new(const char *spool_dir, size_t threshold)
{
	msgcopy *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	if ((m->hdrs = spool_new(spool_dir, threshold)) == NULL ||
	    (m->body = spool_new(spool_dir, threshold)) == NULL) {
		msgcopy_free(m);
		return NULL;
	}
	return m;
}

void msgcopy_free(msgcopy *m)
{
	if (m == NULL)
		return;
	spool_free(m->hdrs);
	spool_free(m->body);
	for (size_t i = 0; i < m->nrcpts; i++)
		free(m->rcpts[i]);
	free(m->rcpts);
	free(m->line);
	free(m);
}

static int failed(msgcopy *m, const char *why)
{
	if (!m->failed)
		snprintf(m->why, sizeof(m->why), "%s", why);
	m->failed = 1;
	return -1;
}

char *msgcopy_bracketed(const char *addr)
{
	size_t n = strlen(addr);
	char *b;

	if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>')
		return strdup(addr);
	if ((b = malloc(n + 3)) != NULL)
		snprintf(b, n + 3, "<%s>", addr);
	return b;
}

int msgcopy_rcpt(msgcopy *m, const char *rcpt)
{
	if (m->failed)
		return -1;
	if (m->nrcpts == MSGCOPY_RCPTS_MAX)
		return failed(m, "more recipients than relay mode keeps (10000)");
	if (m->nrcpts == m->rcptcap) {
		size_t cap = m->rcptcap ? m->rcptcap * 2 : 8;
		char **r = realloc(m->rcpts, cap * sizeof(*r));

		if (r == NULL)
			return failed(m, "out of memory");
		m->rcpts = r;
		m->rcptcap = cap;
	}
	if ((m->rcpts[m->nrcpts] = msgcopy_bracketed(rcpt)) == NULL)
		return failed(m, "out of memory");
	m->nrcpts++;
	return 0;
}

static int spool_failed(msgcopy *m, const spool *s)
{
	return failed(m, spool_error(s));
}

/*
 * A value whose line ends are all folds: a CR or LF not followed by a
 * blank gets one (the relay makes every line end CRLF, so a bare CR or LF
 * would otherwise start a new header at the gateway: an injected
 * X-Encrypt-Status, say); line ends at the end are dropped. NULL: none
 * needed; *fail on no memory.
 */
static char *folded(const char *v, size_t *len, int *fail)
{
	size_t n = *len, k = 0;
	char *out;

	*fail = 0;
	if (strpbrk(v, "\r\n") == NULL)
		return NULL;
	while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	if ((out = malloc(2 * n + 1)) == NULL) {
		*fail = 1;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		out[k++] = v[i];
		if ((v[i] == '\r' || v[i] == '\n') && v[i + 1] != '\r' && v[i + 1] != '\n' &&
		    v[i + 1] != ' ' && v[i + 1] != '\t')
			out[k++] = ' ';
	}
	out[k] = '\0';
	*len = k;
	return out;
}

int msgcopy_header(msgcopy *m, const char *name, const char *value)
{
	uint32_t len[2];
	size_t nl = strlen(name), vl = strlen(value);
	char *fold;
	int fail, rc = 0;

	if (m->failed)
		return -1;
	if (nl > MSGCOPY_NAME_MAX || vl > UINT32_MAX)
		return failed(m, "a header too long for relay mode's copy");
	if ((fold = folded(value, &vl, &fail)) == NULL && fail)
		return failed(m, "out of memory");
	len[0] = (uint32_t)nl;
	len[1] = (uint32_t)vl;
	if (spool_write(m->hdrs, len, sizeof(len)) < 0 || spool_write(m->hdrs, name, nl) < 0 ||
	    spool_write(m->hdrs, fold != NULL ? fold : value, vl) < 0)
		rc = spool_failed(m, m->hdrs);
	free(fold);
	return rc;
}

int msgcopy_body(msgcopy *m, const void *data, size_t n)
{
	if (m->failed)
		return -1;
	if (spool_write(m->body, data, n) < 0)
		return spool_failed(m, m->body);
	return 0;
}

const char *const *msgcopy_rcpts(const msgcopy *m, size_t *n)
{
	*n = m->nrcpts;
	return (const char *const *)m->rcpts;
}

uint64_t msgcopy_size(const msgcopy *m)
{
	return spool_size(m->hdrs) + spool_size(m->body);
}

int msgcopy_on_disk(const msgcopy *m)
{
	return spool_on_disk(m->hdrs) || spool_on_disk(m->body);
}

const char *msgcopy_error(const msgcopy *m)
{
	return m->failed ? m->why : "";
}

/* --- reading back ------------------------------------------------------------------ */

/* Exactly n bytes from the header spool into dst (NULL: skipped). 0, or -1 (the copy fails). */
static int read_exact(msgcopy *m, void *dst, size_t n)
{
	char *p = dst;

	while (n > 0) {
		const char *data;
		long r = spool_read(m->hdrs, &data, n);

		if (r <= 0)
			return r < 0 ? spool_failed(m, m->hdrs)
			             : failed(m, "header copy cut short");
		if (p != NULL) {
			memcpy(p, data, (size_t)r);
			p += r;
		}
		n -= (size_t)r;
	}
	return 0;
}

/* "Name: value\r\n" (value may be NULL: "Name: " only) into m->line. */
static int make_line(msgcopy *m, const char *name, size_t nl, const char *value)
{
	size_t vl = value ? strlen(value) : 0, need = nl + vl + 5;

	if (need > m->linecap) {
		char *l = realloc(m->line, need);

		if (l == NULL)
			return failed(m, "out of memory");
		m->line = l;
		m->linecap = need;
	}
	memcpy(m->line, name, nl);
	memcpy(m->line + nl, ": ", 2);
	if (value != NULL) {
		memcpy(m->line + nl + 2, value, vl);
		memcpy(m->line + nl + 2 + vl, "\r\n", 2);
		return (int)(nl + vl + 4);
	}
	return (int)(nl + 2);
}

/*
 * What the actions do to this occurrence of a header: 0 keep, 1 delete,
 * 2 change (*value set). Every action naming it counts the occurrence once.
 */
static int fate(msgcopy *m, const char *name, const char **value)
{
	const decision *d = m->d;
	int verdict = 0, counted = 0;
	unsigned index = 0;

	for (size_t i = 0; i < d->n; i++) {
		const action *a = &d->a[i];
		unsigned span = a->span > 1 ? a->span : 1;

		if ((a->kind != ACT_DELETE && a->kind != ACT_CHANGE) || strcasecmp(a->name, name))
			continue;
		if (!counted) {
			/* one counter per distinct name: the first action with this name holds it
			 */
			size_t k;

			for (k = 0; k < i && strcasecmp(d->a[k].name, name); k++)
				;
			index = ++m->counts[k];
			counted = 1;
		}
		if (a->kind == ACT_DELETE && index <= a->index && index + span > a->index)
			verdict = 1;
		if (a->kind == ACT_CHANGE && index == a->index && verdict == 0) {
			*value = m->subject != NULL && strcasecmp(name, "Subject") == 0 ? m->subject
			                                                                : a->value;
			verdict = 2;
		}
	}
	return verdict;
}

/* The next stored header's first piece: > 0 a piece in m->line, 0 none left, -1 error. */
static int next_record(msgcopy *m)
{
	uint32_t len[2];
	char name[MSGCOPY_NAME_MAX + 1];
	const char *change = NULL;
	const char *data;
	long r;

	for (;;) {
		/* One byte first: the end of the records is the only place a read may end. */
		if ((r = spool_read(m->hdrs, &data, 1)) <= 0)
			return r < 0 ? spool_failed(m, m->hdrs) : 0;
		memcpy(len, data, 1);
		if (read_exact(m, (char *)len + 1, sizeof(len) - 1) < 0 ||
		    len[0] > MSGCOPY_NAME_MAX || read_exact(m, name, len[0]) < 0)
			return failed(m, "bad header copy");
		name[len[0]] = '\0';
		switch (fate(m, name, &change)) {
		case 1:
			if (read_exact(m, NULL, len[1]) < 0)
				return -1;
			continue;
		case 2:
			if (read_exact(m, NULL, len[1]) < 0)
				return -1;
			return make_line(m, name, len[0], change);
		default:
			m->value_left = len[1];
			m->phase = P_VALUE;
			return make_line(m, name, len[0], NULL);
		}
	}
}

/* The next action of kind k from m->act on, as a line; 0 when none is left. */
static int next_action(msgcopy *m, act_kind k)
{
	while (m->act < m->d->n) {
		const action *a = &m->d->a[m->act++];

		if (a->kind == k)
			return make_line(m, a->name, strlen(a->name), a->value);
	}
	return 0;
}

static int source_next(void *arg, const char **data, size_t *len)
{
	msgcopy *m = arg;
	long r;
	int n;

	*len = 0;
	while (!m->failed) {
		switch (m->phase) {
		case P_FIRST:
			if ((n = next_action(m, ACT_INSERT_FIRST)) > 0)
				goto line;
			m->phase = P_REC;
			break;
		case P_REC:
			if ((n = next_record(m)) > 0)
				goto line;
			if (n < 0)
				return -1;
			m->phase = P_ADDED;
			m->act = 0;
			break;
		case P_VALUE:
			if (m->value_left == 0) {
				m->phase = P_EOL;
				break;
			}
			if ((r = spool_read(m->hdrs, data, m->value_left)) <= 0)
				return r < 0 ? spool_failed(m, m->hdrs)
				             : failed(m, "header copy cut short");
			m->value_left -= (uint32_t)r;
			*len = (size_t)r;
			return 0;
		case P_EOL:
			m->phase = P_REC;
			*data = "\r\n";
			*len = 2;
			return 0;
		case P_ADDED:
			if ((n = next_action(m, ACT_ADD)) > 0)
				goto line;
			m->phase = P_BLANK;
			break;
		case P_BLANK:
			m->phase = P_BODY;
			*data = "\r\n";
			*len = 2;
			return 0;
		case P_BODY:
			if ((r = spool_read(m->body, data, 65536)) < 0)
				return spool_failed(m, m->body);
			if (r == 0) {
				m->phase = P_END;
				break;
			}
			*len = (size_t)r;
			return 0;
		case P_END:
			return 0;
		}
	}
	return -1;
line:
	*data = m->line;
	*len = (size_t)n;
	return 0;
}

static int source_rewind(void *arg)
{
	msgcopy *m = arg;

	if (m->failed || spool_rewind(m->hdrs) < 0 || spool_rewind(m->body) < 0)
		return m->failed ? -1
		                 : failed(m, spool_error(m->hdrs)[0] ? spool_error(m->hdrs)
		                                                     : spool_error(m->body));
	m->phase = P_FIRST;
	m->act = 0;
	m->value_left = 0;
	memset(m->counts, 0, sizeof(m->counts));
	return 0;
}

int msgcopy_source(msgcopy *m, const decision *d, const char *subject, relay_source *out)
{
	m->d = d;
	m->subject = subject;
	out->next = source_next;
	out->rewind = source_rewind;
	out->arg = m;
	return source_rewind(m);
}
