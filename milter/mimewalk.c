/*
 * NAME
 *	mimewalk.c - a streaming MIME walker: the body, part by part, decoded
 * SUMMARY
 *	mimewalk_new(), mimewalk_free(), mimewalk_header(), mimewalk_feed(),
 *	mimewalk_end(), mimewalk_raw_bytes(), mimewalk_text_bytes()
 * DESCRIPTION
 *	See mimewalk.h. Push-driven: the bytes are cut into lines in a buffer
 *	of MIMEWALK_LINE_MAX bytes; a longer line is handled in pieces of that
 *	size (a piece is never taken for a boundary line, it is decoded or
 *	added to the header being read). Each line is, by the mode:
 *	- M_HDR: a part header (unfolded, at most HDR_MAX bytes kept; only
 *	  Content-Type, Content-Disposition and Content-Transfer-Encoding are
 *	  kept), up to the empty line that starts the body;
 *	- M_TEXT: text, given to the mimedec decoder. The line end is held
 *	  back until the next line is known not to be a boundary (RFC 2046:
 *	  the CRLF before a boundary belongs to it);
 *	- M_SKIP (an attachment, a preamble, an epilogue): nothing.
 *	In every mode a line "--B" or "--B--" (B any boundary on the stack,
 *	innermost first, trailing blanks allowed) ends the current part; an
 *	outer boundary closes the inner multiparts too. A boundary line over
 *	MIMEWALK_LINE_MAX (transport padding) is recognised by its first piece
 *	and then read byte by byte (padding()): blanks to its end, else
 *	MIMEWALK_LIMIT. The stack holds one entry per open multipart (at most
 *	max_depth, a boundary at most BOUNDARY_MAX bytes: a longer one is
 *	MIMEWALK_LIMIT; a multipart without one is read as text, so its
 *	content is scanned rather than lost).
 *
 *	Memory per walker: the struct (two 8 KB buffers), three kept header
 *	values (8 KB each at most), one mimedec (8 KB plus iconv's state)
 *	and BOUNDARY_MAX + 16 bytes per open multipart: under 64 KB at
 *	max_depth 32, whatever the body size.
 * DIAGNOSTICS
 *	The return codes only (mimewalk.h); nothing is logged.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mimedec.h"
#include "mimehdr.h"
#include "mimewalk.h"

#define HDR_MAX MIMEWALK_LINE_MAX
#define BOUNDARY_MAX 200

enum mode { M_TOP, M_HDR, M_TEXT, M_SKIP };

struct level {
	char *boundary;
	size_t blen;
	unsigned depth; /* of the multipart part */
	int digest;
};

struct mimewalk {
	mimewalk_ops ops;
	mimewalk_limits lim;
	enum mode mode;
	mimewalk_rc rc;
	unsigned char line[MIMEWALK_LINE_MAX];
	size_t llen;
	int cont; /* the line in the buffer continues an over-long line */
	char h[HDR_MAX + 1];
	size_t hlen;
	int hbad;                   /* the header in h was cut at HDR_MAX */
	int pad, pad_close, pad_cr; /* in a boundary line over MIMEWALK_LINE_MAX: padding() */
	unsigned pad_k;             /* its level */
	char *ctype, *disp, *cte;   /* the current part's headers */
	unsigned depth, nparts;
	int in_digest;
	mimedec *dec; /* active in M_TEXT */
	char eol[2];
	size_t neol;
	size_t raw, text;
	struct level *st;
	unsigned nst, cap;
};

mimewalk *mimewalk_new(const mimewalk_ops *ops, const mimewalk_limits *lim)
{
	mimewalk *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->ops = *ops;
	w->lim = *lim;
	return w;
}

static void hdrs_free(mimewalk *w)
{
	free(w->ctype);
	free(w->disp);
	free(w->cte);
	w->ctype = w->disp = w->cte = NULL;
	w->hlen = 0;
	w->hbad = 0;
}

void mimewalk_free(mimewalk *w)
{
	if (w == NULL)
		return;
	hdrs_free(w);
	if (w->dec) {
		mimedec_fini(w->dec);
		free(w->dec);
	}
	for (unsigned i = 0; i < w->nst; i++)
		free(w->st[i].boundary);
	free(w->st);
	free(w);
}

static const char *lead(const char *v)
{
	return v + strspn(v, " \t\r\n");
}

/*
 * A header of ours kept. A second one that differs: 1 (clients differ in
 * which counts, GMime takes the last: MIMEWALK_LIMIT); -1: out of memory.
 */
static int keep(char **slot, const char *v)
{
	if (*slot != NULL)
		return strcmp(lead(*slot), lead(v)) != 0;
	*slot = strdup(v);
	return *slot ? 0 : -1;
}

static int header(mimewalk *w, const char *name, size_t nlen, const char *value)
{
	if (nlen == 12 && strncasecmp(name, "Content-Type", 12) == 0)
		return keep(&w->ctype, value);
	if (nlen == 19 && strncasecmp(name, "Content-Disposition", 19) == 0)
		return keep(&w->disp, value);
	if (nlen == 25 && strncasecmp(name, "Content-Transfer-Encoding", 25) == 0)
		return keep(&w->cte, value);
	return 0;
}

mimewalk_rc mimewalk_header(mimewalk *w, const char *name, const char *value)
{
	int rc;

	if (w->rc == MIMEWALK_MORE && w->mode == M_TOP &&
	    (rc = header(w, name, strlen(name), value ? value : "")) != 0)
		w->rc = rc > 0 ? MIMEWALK_LIMIT : MIMEWALK_NOMEM;
	return w->rc;
}

static int ours(const char *name, size_t nlen)
{
	return (nlen == 12 && strncasecmp(name, "Content-Type", 12) == 0) ||
	       (nlen == 19 && strncasecmp(name, "Content-Disposition", 19) == 0) ||
	       (nlen == 25 && strncasecmp(name, "Content-Transfer-Encoding", 25) == 0);
}

/*
 * The header in w->h, if any, kept when it is one of ours; one of ours cut
 * at HDR_MAX (its boundary or type may be in what was cut) or holding a NUL
 * (a C string would end there): MIMEWALK_LIMIT. -1 when out of memory.
 */
static int header_done(mimewalk *w)
{
	char *colon, *e;
	int bad = w->hbad, rc;

	w->hbad = 0;
	if (w->hlen == 0)
		return 0;
	if (memchr(w->h, '\0', w->hlen) != NULL) {
		w->rc = MIMEWALK_LIMIT; /* never in a real header, and "Content-Type\0" hides */
		return 0;
	}
	w->h[w->hlen] = '\0';
	w->hlen = 0;
	if ((colon = strchr(w->h, ':')) == NULL)
		return 0;
	for (e = colon; e > w->h && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	if (bad && ours(w->h, e - w->h)) {
		w->rc = MIMEWALK_LIMIT;
		return 0;
	}
	if ((rc = header(w, w->h, e - w->h, colon + 1)) > 0)
		w->rc = MIMEWALK_LIMIT;
	return rc < 0 ? -1 : 0;
}

static int text_emit(void *arg, const unsigned char *buf, size_t len)
{
	mimewalk *w = arg;
	size_t room = w->lim.max_text - w->text;
	int stop = 0;

	if (len >= room) {
		len = room;
		stop = 1;
	}
	if (len > 0 && w->ops.text && w->ops.text(w->ops.arg, buf, len) != 0) {
		w->rc = MIMEWALK_STOP;
		return 1;
	}
	w->text += len;
	if (stop)
		w->rc = MIMEWALK_DONE;
	return stop;
}

/* The end of the current part: a text part's decoder flushed, then "\r\n". */
static void part_end(mimewalk *w)
{
	if (w->mode == M_TEXT) {
		if (mimedec_flush(w->dec, text_emit, w) == 0)
			text_emit(w, (const unsigned char *)"\r\n", 2);
		mimedec_fini(w->dec);
	}
	w->mode = M_SKIP;
	w->neol = 0;
}

static int push(mimewalk *w, const char *b, int digest)
{
	struct level *l;

	if (w->nst == w->cap) {
		unsigned cap = w->cap ? w->cap * 2 : 4;

		if ((l = realloc(w->st, cap * sizeof(*l))) == NULL)
			return -1;
		w->st = l, w->cap = cap;
	}
	l = &w->st[w->nst];
	if ((l->boundary = strdup(b)) == NULL)
		return -1;
	l->blen = strlen(b);
	l->depth = w->depth;
	l->digest = digest;
	w->nst++;
	return 0;
}

/* What the part is, now that its headers are read: tell the caller, set the mode. */
static void part_begin(mimewalk *w, const mimehdr_ctype *ct, const char *const *names,
                       size_t nnames)
{
	mimewalk_part p = {ct->type, ct->subtype, nnames ? names[0] : NULL, w->depth, w->nparts, 0,
	                   names,    nnames};
	mimehdr_cte cte = mimehdr_transfer_encoding(w->cte);
	int multi = strcmp(ct->type, "multipart") == 0 && ct->boundary && *ct->boundary;
	int msg = strcmp(ct->type, "message") == 0 &&
	          (strcmp(ct->subtype, "rfc822") == 0 || strcmp(ct->subtype, "global") == 0);

	p.text =
	        !multi && !msg && (strcmp(ct->type, "text") == 0 || !strcmp(ct->type, "multipart"));
	if (++w->nparts > w->lim.max_parts) {
		w->rc = MIMEWALK_LIMIT;
		return;
	}
	if (w->ops.part && w->ops.part(w->ops.arg, &p) != 0) {
		w->rc = MIMEWALK_STOP;
		return;
	}
	/*
	 * What the walker cannot read as a client may: a boundary over
	 * BOUNDARY_MAX; a multipart or message/rfc822 in base64 or QP (RFC 2046
	 * forbids it, clients decode it); a text part in an unknown encoding.
	 */
	if ((multi && strlen(ct->boundary) > BOUNDARY_MAX) ||
	    ((multi || msg) && cte != MIMEHDR_CTE_IDENTITY) ||
	    (p.text && cte == MIMEHDR_CTE_UNKNOWN) ||
	    ((multi || msg) && w->depth + 1 > w->lim.max_depth)) {
		w->rc = MIMEWALK_LIMIT;
	} else if (multi) {
		if (push(w, ct->boundary, strcmp(ct->subtype, "digest") == 0) != 0)
			w->rc = MIMEWALK_NOMEM;
		w->mode = M_SKIP; /* the preamble */
	} else if (msg) {
		w->depth++;
		w->in_digest = 0;
		w->mode = M_HDR;
	} else if (p.text) {
		if (w->dec == NULL && (w->dec = malloc(sizeof(*w->dec))) == NULL) {
			w->rc = MIMEWALK_NOMEM;
			return;
		}
		mimedec_init(w->dec, cte, ct->charset);
		w->mode = M_TEXT;
		w->neol = 0;
	} else {
		w->mode = M_SKIP;
	}
}

/* name added to v (n of them) unless it is there; -1 past MIMEWALK_NAMES_MAX. */
static int name_add(const char **v, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(v[i], name) == 0)
			return 0;
	if (*n == MIMEWALK_NAMES_MAX)
		return -1;
	v[(*n)++] = name;
	v[*n] = NULL;
	return 0;
}

static void headers_end(mimewalk *w)
{
	mimehdr_ctype ct;
	char **fn = NULL;
	size_t nfn = 0, nnames = 0, i;
	const char *names[MIMEWALK_NAMES_MAX + 1] = {NULL};
	int over = 0;

	if (header_done(w) != 0 || mimehdr_content_type(w->ctype, &ct) != 0) {
		w->rc = MIMEWALK_NOMEM;
		return;
	}
	if (w->ctype == NULL && w->in_digest) {
		strcpy(ct.type, "message");
		strcpy(ct.subtype, "rfc822");
	}
	if (mimehdr_filenames(w->disp, &fn, &nfn) != 0) {
		w->rc = MIMEWALK_NOMEM;
	} else {
		for (i = 0; i < nfn + ct.nnames && !over; i++)
			over = name_add(names, &nnames, i < nfn ? fn[i] : ct.names[i - nfn]) != 0;
		if (w->rc == MIMEWALK_MORE)
			part_begin(w, &ct, names, nnames);
		if (over && (w->rc == MIMEWALK_MORE || w->rc == MIMEWALK_DONE))
			w->rc = MIMEWALK_LIMIT; /* names past MIMEWALK_NAMES_MAX: not all matched */
	}
	mimehdr_names_free(fn, nfn);
	mimehdr_ctype_free(&ct);
	hdrs_free(w);
}

/* The level whose boundary line l is ("--B" or "--B--", blanks after), innermost first; or -1. */
static int match(const mimewalk *w, const unsigned char *l, size_t n, int *close)
{
	for (unsigned k = w->nst; k-- > 0;) {
		const struct level *b = &w->st[k];
		size_t i = 2 + b->blen;

		*close = 0;
		if (n < i || l[0] != '-' || l[1] != '-' || memcmp(l + 2, b->boundary, b->blen))
			continue;
		if (n >= i + 2 && l[i] == '-' && l[i + 1] == '-')
			*close = 1, i += 2;
		while (i < n && (l[i] == ' ' || l[i] == '\t'))
			i++;
		if (i == n)
			return (int)k;
	}
	return -1;
}

/* The boundary line of level k: ends the part, moves on the stack. */
static void boundary_at(mimewalk *w, unsigned k, int close)
{
	struct level *b;

	if (w->mode == M_HDR)
		headers_end(w); /* a part that is all headers is still a part */
	if (w->rc != MIMEWALK_MORE)
		return;
	b = &w->st[k]; /* headers_end() may have pushed, and moved the stack */
	part_end(w);
	for (unsigned j = k + 1; j < w->nst; j++)
		free(w->st[j].boundary);
	w->nst = k + 1;
	if (close) {
		free(b->boundary);
		w->nst = k; /* the epilogue: skipped */
	} else {
		hdrs_free(w);
		w->depth = b->depth + 1;
		w->in_digest = b->digest;
		w->mode = M_HDR;
	}
}

/* A boundary line (l without its line end): ends the part, moves on the stack. 1 if it was. */
static int boundary(mimewalk *w, const unsigned char *l, size_t n)
{
	int close, k = match(w, l, n, &close);

	if (k < 0)
		return 0;
	boundary_at(w, k, close);
	return 1;
}

/*
 * A full line buffer that is not a line yet: the first piece of a boundary
 * line with over-long transport padding ("--B" and blanks, a CR at the
 * end maybe)? Then the rest of the line is read by padding().
 */
static int pad_start(mimewalk *w)
{
	size_t n = w->llen;
	int cr = n > 0 && w->line[n - 1] == '\r', k;

	if (w->cont || (k = match(w, w->line, n - cr, &w->pad_close)) < 0)
		return 0;
	w->pad = 1;
	w->pad_k = k;
	w->pad_cr = cr;
	return 1;
}

/*
 * The rest of a boundary line after its first MIMEWALK_LINE_MAX bytes:
 * blanks up to the line end make it the boundary; anything else, it is
 * a line the walker cannot judge (RFC 2046 has only blanks there):
 * MIMEWALK_LIMIT. The bytes of buf used.
 */
static size_t padding(mimewalk *w, const unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			w->pad = 0;
			boundary_at(w, w->pad_k, w->pad_close);
			return i + 1;
		}
		if (w->pad_cr || (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\r')) {
			w->rc = MIMEWALK_LIMIT;
			return len;
		}
		w->pad_cr = buf[i] == '\r';
	}
	return len;
}

/* One line (complete: with its line end, if any) or a piece of an over-long one. */
static void line(mimewalk *w, const unsigned char *l, size_t n, int complete)
{
	int first = !w->cont;
	size_t m = n;

	if (complete && m > 0 && l[m - 1] == '\n')
		m--;
	if (complete && m > 0 && l[m - 1] == '\r')
		m--;
	if (first && complete && m >= 2 && l[0] == '-' && l[1] == '-' && boundary(w, l, m))
		return;
	if (w->mode == M_HDR) {
		if (first && m == 0 && complete) {
			headers_end(w);
			return;
		}
		if (first && l[0] != ' ' && l[0] != '\t' && header_done(w) != 0) {
			w->rc = MIMEWALK_NOMEM;
			return;
		}
		if (m > HDR_MAX - w->hlen) {
			m = HDR_MAX - w->hlen; /* the rest of a huge header is dropped */
			w->hbad = 1;
		}
		memcpy(w->h + w->hlen, l, m);
		w->hlen += m;
	} else if (w->mode == M_TEXT) {
		if (w->neol &&
		    mimedec_step(w->dec, (const unsigned char *)w->eol, w->neol, text_emit, w) != 0)
			return;
		w->neol = complete ? n - m : 0;
		memcpy(w->eol, l + m, w->neol);
		/* RFC 2045 6.7: blanks at the end of a QP line are padding ("= \r\n" too) */
		while (complete && w->dec->cte == MIMEHDR_CTE_QP && m > 0 &&
		       (l[m - 1] == ' ' || l[m - 1] == '\t'))
			m--;
		mimedec_step(w->dec, l, complete ? m : n, text_emit, w);
	}
}

mimewalk_rc mimewalk_feed(mimewalk *w, const unsigned char *buf, size_t len)
{
	if (w->rc != MIMEWALK_MORE)
		return w->rc;
	w->raw += len;
	if (w->mode == M_TOP) {
		headers_end(w);
		if (w->rc != MIMEWALK_MORE)
			return w->rc;
	}
	while (len > 0 && w->rc == MIMEWALK_MORE) {
		const unsigned char *nl = memchr(buf, '\n', len);
		size_t take = nl ? (size_t)(nl - buf) + 1 : len, room = sizeof(w->line) - w->llen;

		if (w->pad) {
			take = padding(w, buf, len);
			buf += take, len -= take;
			continue;
		}
		if (take > room)
			take = room;
		memcpy(w->line + w->llen, buf, take);
		w->llen += take;
		buf += take, len -= take;
		if (w->line[w->llen - 1] == '\n' || w->llen == sizeof(w->line)) {
			int complete = w->line[w->llen - 1] == '\n';

			if (complete || !pad_start(w))
				line(w, w->line, w->llen, complete);
			w->cont = !complete && !w->pad;
			w->llen = 0;
		}
	}
	return w->rc;
}

mimewalk_rc mimewalk_end(mimewalk *w)
{
	if (w->rc != MIMEWALK_MORE)
		return w->rc;
	if (w->mode == M_TOP)
		headers_end(w);
	if (w->rc == MIMEWALK_MORE && w->pad) {
		w->pad = 0; /* a padded boundary line is the last, without a line end */
		boundary_at(w, w->pad_k, w->pad_close);
	}
	if (w->rc == MIMEWALK_MORE && w->llen > 0)
		line(w, w->line, w->llen, 1);
	w->llen = 0;
	if (w->rc == MIMEWALK_MORE && w->mode == M_HDR)
		headers_end(w);
	if (w->rc == MIMEWALK_MORE)
		part_end(w);
	return w->rc;
}

size_t mimewalk_raw_bytes(const mimewalk *w)
{
	return w->raw;
}

size_t mimewalk_text_bytes(const mimewalk *w)
{
	return w->text;
}
