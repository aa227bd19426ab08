/*
 * NAME
 *	spool.c - a byte store of bounded memory: RAM up to a threshold, then a private file
 * SUMMARY
 *	spool_new(), spool_free(), spool_write(), spool_rewind(), spool_read(),
 *	spool_size(), spool_on_disk(), spool_error()
 * DESCRIPTION
 *	See spool.h. The memory part grows by doubling up to the threshold.
 *	Writes to the file go through a 64 KiB buffer; reads from it use a
 *	buffer of the same size (pread at the read offset, so a rewind is a
 *	seek of our own).
 */
/* O_TMPFILE needs _GNU_SOURCE, which the build defines */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "spool.h"

#define IOBUF 65536

struct spool {
	char *dir;
	size_t threshold;
	char *mem; /* the first bytes, up to threshold */
	size_t memlen, memcap;
	int fd; /* -1 until the memory part is full */
	char *wbuf;
	size_t wlen;
	uint64_t filelen; /* bytes in the file, the write buffer included */
	uint64_t pos;     /* read offset over the whole spool */
	char *rbuf;
	int failed;
	char why[512];
};

spool *spool_new(const char *dir, size_t threshold)
{
	spool *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	if ((s->dir = strdup(dir)) == NULL) {
		free(s);
		return NULL;
	}
	s->threshold = threshold;
	s->fd = -1;
	return s;
}

void spool_free(spool *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s->mem);
	free(s->wbuf);
	free(s->rbuf);
	free(s->dir);
	free(s);
}

static int fail(spool *s, const char *what, int err)
{
	if (!s->failed)
		snprintf(s->why, sizeof(s->why), "%s: %s%s%s", s->dir, what, err ? ": " : "",
		         err ? strerror(err) : "");
	s->failed = 1;
	return -1;
}

/* An unnamed file in dir, mode 0600; enough free space first. */
static int open_file(spool *s)
{
	struct statvfs v;
	char path[4096];
	int fd;

	if (statvfs(s->dir, &v) < 0)
		return fail(s, "cannot check free space", errno);
	if ((uint64_t)v.f_bavail * v.f_frsize < (uint64_t)s->threshold * SPOOL_RESERVE_FACTOR)
		return fail(s,
		            "file system nearly full (free space below 4 x relay_spool_threshold)",
		            0);
	fd = open(s->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		if ((size_t)snprintf(path, sizeof(path), "%s/ftls.XXXXXX", s->dir) >= sizeof(path))
			return fail(s, "directory name too long", 0);
		if ((fd = mkostemp(path, O_CLOEXEC)) >= 0 && unlink(path) < 0) {
			int e = errno;

			close(fd);
			return fail(s, "cannot unlink the spool file", e);
		}
	}
	if (fd < 0)
		return fail(s, "cannot create a spool file", errno);
	if ((s->wbuf = malloc(IOBUF)) == NULL) {
		close(fd);
		return fail(s, "out of memory", 0);
	}
	s->fd = fd;
	return 0;
}

static int flush_wbuf(spool *s)
{
	size_t done = 0;

	while (done < s->wlen) {
		ssize_t w = pwrite(s->fd, s->wbuf + done, s->wlen - done,
		                   (off_t)(s->filelen - s->wlen + done));

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return fail(s, "cannot write the spool file", w < 0 ? errno : ENOSPC);
		done += (size_t)w;
	}
	s->wlen = 0;
	return 0;
}

static int mem_append(spool *s, const char *p, size_t n)
{
	if (s->memlen + n > s->memcap) {
		size_t cap = s->memcap ? s->memcap : 4096;
		char *m;

		while (cap < s->memlen + n)
			cap *= 2;
		if (cap > s->threshold)
			cap = s->threshold;
		if ((m = realloc(s->mem, cap)) == NULL)
			return fail(s, "out of memory", 0);
		s->mem = m;
		s->memcap = cap;
	}
	memcpy(s->mem + s->memlen, p, n);
	s->memlen += n;
	return 0;
}

int spool_write(spool *s, const void *data, size_t n)
{
	const char *p = data;
	size_t room;

	if (s->failed)
		return -1;
	if (s->fd < 0 && s->memlen < s->threshold) {
		room = s->threshold - s->memlen;
		if (mem_append(s, p, n < room ? n : room) < 0)
			return -1;
		if (n <= room)
			return 0;
		p += room;
		n -= room;
	}
	if (s->fd < 0 && open_file(s) < 0)
		return -1;
	while (n > 0) {
		size_t k = IOBUF - s->wlen < n ? IOBUF - s->wlen : n;

		memcpy(s->wbuf + s->wlen, p, k);
		s->wlen += k;
		s->filelen += k;
		p += k;
		n -= k;
		if (s->wlen == IOBUF && flush_wbuf(s) < 0)
			return -1;
	}
	return 0;
}

int spool_rewind(spool *s)
{
	if (s->failed)
		return -1;
	if (s->wlen > 0 && flush_wbuf(s) < 0)
		return -1;
	s->pos = 0;
	return 0;
}

long spool_read(spool *s, const char **data, size_t max)
{
	uint64_t fpos;
	ssize_t r;

	if (s->failed)
		return -1;
	if (s->pos < s->memlen) {
		size_t k = s->memlen - (size_t)s->pos;

		k = k < max ? k : max;
		*data = s->mem + s->pos;
		s->pos += k;
		return (long)k;
	}
	fpos = s->pos - s->memlen;
	if (s->fd < 0 || fpos >= s->filelen)
		return 0;
	if (s->wlen > 0 && flush_wbuf(s) < 0)
		return -1;
	if (s->rbuf == NULL && (s->rbuf = malloc(IOBUF)) == NULL)
		return fail(s, "out of memory", 0);
	max = max < IOBUF ? max : IOBUF;
	if (s->filelen - fpos < max)
		max = (size_t)(s->filelen - fpos);
	do
		r = pread(s->fd, s->rbuf, max, (off_t)fpos);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return fail(s, "cannot read the spool file", r < 0 ? errno : EIO);
	*data = s->rbuf;
	s->pos += (uint64_t)r;
	return (long)r;
}

uint64_t spool_size(const spool *s)
{
	return s->memlen + s->filelen;
}

int spool_on_disk(const spool *s)
{
	return s->fd >= 0;
}

const char *spool_error(const spool *s)
{
	return s->failed ? s->why : "";
}
