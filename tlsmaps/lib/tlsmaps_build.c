/*
 * NAME
 *	tlsmaps_build.c - turn table files into a frozen table
 * SUMMARY
 *	tlsmaps_builder_new(), _add_file(), _add_buffer(), _finish(), _free(),
 *	tlsmaps_load(), tlsmaps_table_free().
 * DESCRIPTION
 *	Lines are "KEY [LEVEL] [ATTR=VALUE ...]". Tokens are separated by
 *	spaces or tabs; a token that starts with '#' starts a comment that
 *	runs to the end of the line; blank lines and comment lines are
 *	skipped; CR before LF is ignored. Leading whitespace is NOT a Postfix
 *	continuation line: every line stands alone.
 *
 *	Every line is checked even after an error, so that one run reports
 *	every problem. Names and next hops go into the name hash as they come
 *	(duplicates found there name the first line); networks are collected
 *	and checked for duplicates when the table is frozen. Diagnostics are
 *	then sorted by file and line and handed to the caller's callback.
 *
 *	Two entries may share a key when their directions do not overlap
 *	(one "direction=in", one "direction=out"). Next-hop entries apply to
 *	outbound mail only; "direction=in" on one is an error.
 * DIAGNOSTICS
 *	"FILE:LINE: message" through tlsmaps_options.report; line 0 for a file
 *	that cannot be read, and "FILE:0: changed while being read" for one
 *	that was truncated, grown or replaced during the read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsmaps_int.h"

#define MAX_TOKENS 32
#define MAX_FILES 65535

typedef struct {
	uint16_t file;
	uint32_t line;
	uint32_t seq; /* keeps equal (file, line) in the order found */
	char *msg;
} diag;

struct tlsmaps_builder {
	tlsmaps_options opts;
	tlsmaps_table *t; /* being filled */
	size_t arena_cap, entries_cap, files_cap;
	netrange_item *nets[2]; /* [0] IPv4, [1] IPv6 */
	size_t nnets[2], nets_cap[2];
	diag *diags;
	size_t ndiags, diags_cap;
	unsigned nerrors;
	int oom;
};

void tlsmaps_options_init(tlsmaps_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->default_level = TLSMAPS_LEVEL_ENCRYPT;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if ((q = realloc(*p, n * size)) == NULL)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

static void add_diag(tlsmaps_builder *b, uint16_t file, uint32_t line, const char *msg)
{
	char *copy;

	b->nerrors++;
	if (grow((void **)&b->diags, &b->diags_cap, b->ndiags + 1, sizeof(*b->diags)) < 0 ||
	    (copy = strdup(msg)) == NULL) {
		b->oom = 1;
		return;
	}
	b->diags[b->ndiags].file = file;
	b->diags[b->ndiags].line = line;
	b->diags[b->ndiags].seq = (uint32_t)b->ndiags;
	b->diags[b->ndiags].msg = copy;
	b->ndiags++;
}

static void add_diagf(tlsmaps_builder *b, uint16_t file, uint32_t line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void add_diagf(tlsmaps_builder *b, uint16_t file, uint32_t line, const char *fmt, ...)
{
	char msg[TLSMAPS_WHY_MAX * 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	add_diag(b, file, line, msg);
}

tlsmaps_builder *tlsmaps_builder_new(const tlsmaps_options *opts)
{
	tlsmaps_builder *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	if ((b->t = calloc(1, sizeof(*b->t))) == NULL) {
		free(b);
		return NULL;
	}
	if (opts != NULL)
		b->opts = *opts;
	else
		tlsmaps_options_init(&b->opts);
	b->t->tls_failure = b->opts.on_tls_failure == TLSMAPS_TLSFAIL_GATEWAY
	                            ? TLSMAPS_TLSFAIL_GATEWAY
	                            : TLSMAPS_TLSFAIL_DEFER;
	namehash_init(&b->t->names);
	netrange_init(&b->t->net4, 4);
	netrange_init(&b->t->net6, 6);
	/* Arena offset 0 is the empty string, used for "no attributes". */
	if (grow((void **)&b->t->arena, &b->arena_cap, 1 << 16, 1) < 0)
		b->oom = 1;
	else
		b->t->arena[b->t->arena_len++] = '\0';
	return b;
}

static uint32_t arena_add(tlsmaps_builder *b, const char *s, size_t len)
{
	tlsmaps_table *t = b->t;
	uint32_t off;

	if (len == 0)
		return 0;
	if (t->arena_len + len + 1 > UINT32_MAX ||
	    grow((void **)&t->arena, &b->arena_cap, t->arena_len + len + 1, 1) < 0) {
		b->oom = 1;
		return 0;
	}
	off = (uint32_t)t->arena_len;
	memcpy(t->arena + off, s, len);
	t->arena[off + len] = '\0';
	t->arena_len += len + 1;
	return off;
}

static int add_file_name(tlsmaps_builder *b, const char *name, uint16_t *idx)
{
	tlsmaps_table *t = b->t;
	char *copy;

	if (t->nfiles >= MAX_FILES)
		return -1;
	if (grow((void **)&t->files, &b->files_cap, t->nfiles + 1, sizeof(*t->files)) < 0 ||
	    (copy = strdup(name)) == NULL) {
		b->oom = 1;
		return -1;
	}
	t->files[t->nfiles] = copy;
	*idx = (uint16_t)t->nfiles++;
	return 0;
}

/* A name-hash entry with this exact text whose direction overlaps dir, or TLSMAPS_NO_ID. */
static tlsmaps_id find_name(const tlsmaps_table *t, uint32_t h, const char *s, size_t len,
                            unsigned dir)
{
	const namehash *nh = &t->names;

	if (nh->slots == NULL)
		return TLSMAPS_NO_ID;
	for (uint32_t i = h & nh->mask; nh->slots[i].id1 != 0; i = (i + 1) & nh->mask) {
		const namehash_slot *sl = &nh->slots[i];

		if (sl->hash == h && (sl->dir & dir) && memcmp(t->arena + sl->key, s, len) == 0 &&
		    t->arena[sl->key + len] == '\0')
			return sl->id1 - 1;
	}
	return TLSMAPS_NO_ID;
}

static void add_network(tlsmaps_builder *b, const tm_tablekey *k, tlsmaps_id id, unsigned dir)
{
	int f = k->addr.family == 4 ? 0 : 1;
	netrange_item *it;
	nr_u128 v = 0;

	if (grow((void **)&b->nets[f], &b->nets_cap[f], b->nnets[f] + 1, sizeof(netrange_item)) <
	    0) {
		b->oom = 1;
		return;
	}
	for (unsigned i = 0; i < (f == 0 ? 4u : 16u); i++)
		v = (v << 8) | k->addr.bytes[i];
	it = &b->nets[f][b->nnets[f]++];
	it->start = v;
	it->id = id;
	it->prefix = (uint8_t)k->prefix;
	it->dir = (uint8_t)dir;
}

/* Split a line into tokens; n = 0 for a blank or comment line. -1 when too many. */
static int split_line(const char *s, size_t len, const char **tok, size_t *tlen, size_t *n)
{
	size_t i = 0;

	*n = 0;
	while (i < len) {
		size_t start;

		while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
			i++;
		if (i == len || s[i] == '#')
			break;
		start = i;
		while (i < len && s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			i++;
		if (*n == MAX_TOKENS)
			return -1;
		tok[*n] = s + start;
		tlen[(*n)++] = i - start;
	}
	return 0;
}

/* The key text in the arena, and in the name hash or the network list. -1: not added. */
static int add_key(tlsmaps_builder *b, uint16_t file, uint32_t line, const tm_tablekey *key,
                   tlsmaps_id id, unsigned dir, uint32_t *key_off)
{
	tlsmaps_table *t = b->t;

	if (key->kind != TLSMAPS_KIND_NETWORK) {
		uint32_t h = namehash_of(key->text, key->text_len);
		tlsmaps_id first = find_name(t, h, key->text, key->text_len, dir);

		if (first != TLSMAPS_NO_ID) {
			add_diagf(b, file, line, "duplicate key %s (first defined at %s:%u)",
			          key->text, t->files[t->entries[first].file],
			          t->entries[first].line);
			return -1;
		}
		*key_off = arena_add(b, key->text, key->text_len);
		if (b->oom || namehash_insert(&t->names, h, id, *key_off, dir) < 0) {
			b->oom = 1;
			return -1;
		}
	} else {
		*key_off = arena_add(b, key->text, key->text_len);
		add_network(b, key, id, dir);
	}
	return 0;
}

/* Append the entry for a parsed line. */
static void add_entry(tlsmaps_builder *b, uint16_t file, uint32_t line, const tm_tablekey *key,
                      const tm_attrset *as)
{
	tlsmaps_table *t = b->t;
	tlsmaps_id id;
	struct tm_entry *e;
	uint32_t key_off;

	if (t->nentries >= UINT32_MAX - 1) {
		add_diagf(b, file, line, "too many entries");
		return;
	}
	id = (tlsmaps_id)t->nentries;
	if (add_key(b, file, line, key, id, as->dir, &key_off) < 0)
		return;
	if (grow((void **)&t->entries, &b->entries_cap, t->nentries + 1, sizeof(*t->entries)) < 0) {
		b->oom = 1;
		return;
	}
	e = &t->entries[t->nentries++];
	e->key = key_off;
	e->attrs = arena_add(b, as->attrs, as->attrs_len);
	e->line = line;
	e->file = file;
	e->min_bits = (uint16_t)as->min_bits;
	e->level = (uint8_t)as->level;
	e->kind = (uint8_t)key->kind;
	e->dir = (uint8_t)as->dir;
	e->flags = (uint8_t)((as->min_bits_set ? TM_FLAG_MIN_BITS_SET : 0) |
	                     (as->tls_failure_set ? TM_FLAG_TLSFAIL_SET : 0) |
	                     (as->tls_failure == TLSMAPS_TLSFAIL_GATEWAY ? TM_FLAG_TLSFAIL_GATEWAY
	                                                                 : 0));
	if (key->kind == TLSMAPS_KIND_NETWORK) {
		if (as->dir & TLSMAPS_DIR_IN)
			t->nnet_in++;
		if (as->dir & TLSMAPS_DIR_OUT)
			t->nnet_out++;
	}
}

static void parse_line(tlsmaps_builder *b, uint16_t file, uint32_t line, const char *s, size_t len)
{
	const char *tok[MAX_TOKENS];
	size_t tlen[MAX_TOKENS], n;
	char why[TLSMAPS_WHY_MAX * 2];
	tm_tablekey key;
	tm_attrset as;

	if (split_line(s, len, tok, tlen, &n) < 0) {
		add_diagf(b, file, line, "too many fields (at most %d)", MAX_TOKENS);
		return;
	}
	if (n == 0)
		return;
	if (tm_tablekey_parse(tok[0], tlen[0], &key, why, sizeof(why)) < 0) {
		add_diag(b, file, line, why);
		return;
	}
	if (tm_attrs_parse(tok + 1, tlen + 1, n - 1, b->opts.default_level, &as, why, sizeof(why)) <
	    0) {
		add_diagf(b, file, line, "%s: %s", key.text, why);
		return;
	}
	if (key.kind == TLSMAPS_KIND_NEXTHOP) {
		if (as.dir == TLSMAPS_DIR_IN) {
			add_diagf(b, file, line,
			          "%s: a next-hop entry applies to outbound mail only; "
			          "direction=in is not allowed",
			          key.text);
			return;
		}
		as.dir = TLSMAPS_DIR_OUT;
	}
	if (as.tls_failure == TLSMAPS_TLSFAIL_GATEWAY && key.kind != TLSMAPS_KIND_DOMAIN &&
	    key.kind != TLSMAPS_KIND_PARENT) {
		add_diagf(b, file, line,
		          "%s: on_tls_failure=gateway needs a domain key (example.com or "
		          ".example.com): Postfix picks the backup transport by recipient domain, "
		          "not by %s",
		          key.text, key.kind == TLSMAPS_KIND_NETWORK ? "address" : "next hop");
		return;
	}
	add_entry(b, file, line, &key, &as);
}

static void parse_buffer(tlsmaps_builder *b, uint16_t file, const char *buf, size_t len)
{
	uint32_t line = 0;
	size_t pos = 0;

	while (pos < len && !b->oom) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - buf) : len;

		if (line < UINT32_MAX)
			line++;
		parse_line(b, file, line, buf + pos, end - pos);
		pos = end + 1;
	}
}

int tlsmaps_builder_add_buffer(tlsmaps_builder *b, const char *name, const char *buf, size_t len)
{
	uint16_t file;

	if (add_file_name(b, name, &file) < 0) {
		b->oom = 1;
		return -1;
	}
	parse_buffer(b, file, buf, len);
	return 0;
}

/* The whole of fd into a malloc'd buffer; st is the fstat before. 0, or -1 with *why. */
static int read_all(int fd, const struct stat *st, char **out, size_t *outlen, const char **why)
{
	size_t len = (size_t)st->st_size, got = 0;
	char *buf;
	char extra;
	struct stat after;

	*out = NULL;
	if ((buf = malloc(len + 1)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	/* Shorter, longer, or replaced while we read: not one consistent file. */
	if (got != len || read(fd, &extra, 1) != 0 || fstat(fd, &after) < 0 ||
	    after.st_size != st->st_size || after.st_ino != st->st_ino ||
	    after.st_mtim.tv_sec != st->st_mtim.tv_sec ||
	    after.st_mtim.tv_nsec != st->st_mtim.tv_nsec) {
		free(buf);
		*why = "changed while being read";
		return -1;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/*
 * Read with read(2), never mmap(2): a file truncated under a mapping
 * raises SIGBUS, a file truncated under read(2) gives a short read. A file
 * whose size, inode or mtime differs between the fstat(2) before and the
 * one after the read, or that reads short or long, is an error
 * ("FILE:0: changed while being read"), so a table being rewritten in
 * place is refused, never half loaded. The open(2) does not block: a FIFO
 * or a device at the table's path is "not a regular file", not a reload
 * thread waiting forever for a writer.
 */
int tlsmaps_builder_add_file(tlsmaps_builder *b, const char *path)
{
	struct stat st;
	uint16_t file;
	const char *why = NULL;
	char *buf;
	size_t len;
	int fd;

	if (add_file_name(b, path, &file) < 0) {
		b->oom = 1;
		return -1;
	}
	/* O_NONBLOCK: opening a FIFO must not wait for a writer (a stuck reload thread). */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) < 0 ||
	    fstat(fd, &st) < 0) {
		add_diagf(b, file, 0, "cannot open: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		add_diagf(b, file, 0, "not a regular file");
		close(fd);
		return -1;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if ((uint64_t)st.st_size >= SIZE_MAX / 2) {
		add_diagf(b, file, 0, "too large");
		close(fd);
		return -1;
	}
	errno = 0;
	if (read_all(fd, &st, &buf, &len, &why) < 0) {
		if (errno != 0 && errno != ENOMEM)
			add_diagf(b, file, 0, "cannot read: %s", strerror(errno));
		else
			add_diagf(b, file, 0, "%s", why);
		close(fd);
		return -1;
	}
	close(fd);
	parse_buffer(b, file, buf, len);
	free(buf);
	return 0;
}

static void dup_network(void *ctx, uint32_t first, uint32_t dup)
{
	tlsmaps_builder *b = ctx;
	const tlsmaps_table *t = b->t;
	const struct tm_entry *e = &t->entries[first], *d = &t->entries[dup];

	add_diagf(b, d->file, d->line, "duplicate key %s (first defined at %s:%u)",
	          t->arena + d->key, t->files[e->file], e->line);
}

static int diag_cmp(const void *a, const void *b)
{
	const diag *x = a, *y = b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static void shrink(void **p, size_t n, size_t size)
{
	void *q;

	if (n > 0 && (q = realloc(*p, n * size)) != NULL)
		*p = q;
}

void tlsmaps_builder_free(tlsmaps_builder *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->ndiags; i++)
		free(b->diags[i].msg);
	free(b->diags);
	free(b->nets[0]);
	free(b->nets[1]);
	tlsmaps_table_free(b->t);
	free(b);
}

tlsmaps_table *tlsmaps_builder_finish(tlsmaps_builder *b, unsigned *nerrors)
{
	tlsmaps_table *t;

	if (b == NULL) {
		if (nerrors != NULL)
			*nerrors = 1;
		return NULL;
	}
	t = b->t;
	if (!b->oom && (netrange_build(&t->net4, b->nets[0], b->nnets[0], dup_network, b) < 0 ||
	                netrange_build(&t->net6, b->nets[1], b->nnets[1], dup_network, b) < 0 ||
	                namehash_fit(&t->names) < 0))
		b->oom = 1;
	if (b->oom)
		add_diagf(b, 0, 0, "out of memory");
	if (b->ndiags > 0)
		qsort(b->diags, b->ndiags, sizeof(*b->diags), diag_cmp);
	if (b->opts.report != NULL)
		for (size_t i = 0; i < b->ndiags; i++) {
			const diag *d = &b->diags[i];

			b->opts.report(b->opts.report_ctx,
			               t->nfiles > d->file ? t->files[d->file] : "-", d->line,
			               d->msg);
		}
	if (nerrors != NULL)
		*nerrors = b->nerrors;
	if (b->nerrors > 0) {
		tlsmaps_builder_free(b);
		return NULL;
	}
	shrink((void **)&t->arena, t->arena_len, 1);
	shrink((void **)&t->entries, t->nentries, sizeof(*t->entries));
	b->t = NULL;
	tlsmaps_builder_free(b);
	return t;
}

tlsmaps_table *tlsmaps_load(const char *const *paths, size_t npaths, const tlsmaps_options *opts,
                            unsigned *nerrors)
{
	tlsmaps_builder *b = tlsmaps_builder_new(opts);

	if (b == NULL) {
		if (nerrors != NULL)
			*nerrors = 1;
		return NULL;
	}
	for (size_t i = 0; i < npaths; i++)
		(void)tlsmaps_builder_add_file(b, paths[i]);
	return tlsmaps_builder_finish(b, nerrors);
}

void tlsmaps_table_free(tlsmaps_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nfiles; i++)
		free(t->files[i]);
	free(t->files);
	free(t->arena);
	free(t->entries);
	namehash_free(&t->names);
	netrange_free(&t->net4);
	netrange_free(&t->net6);
	free(t);
}
