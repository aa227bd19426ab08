/*
 * NAME
 *	mimeparam.h - internals shared by mimehdr.c and mimeparam.c
 * DESCRIPTION
 *	Not a contract of its own: mimehdr.h is the module's. A growing
 *	buffer (put() never fails: oom is set and later puts do nothing; the
 *	text is kept NUL terminated) and the start of mimeparam.c.
 */
#ifndef MILTER_MIMEPARAM_H
#define MILTER_MIMEPARAM_H

#include <stdlib.h>
#include <string.h>

struct buf {
	char *p;
	size_t len, cap;
	int oom;
};

static inline void put(struct buf *b, const void *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2 + 64;
		char *p = realloc(b->p, cap);

		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p, b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* GMime's parser options, after g_mime_init(). 0, or -1. */
int mimeparam_init(void);

#endif /* MILTER_MIMEPARAM_H */
