/*
 * NAME
 *	guardstate.c - read and write the shrink guard's state file
 * SUMMARY
 *	guardstate_read(), guardstate_write()
 * DESCRIPTION
 *	See guardstate.h for the format. Reading is strict: exactly the two
 *	lines, in order, each ending in a newline, an entry count of decimal
 *	digits only, nothing after; anything else is "cannot parse". The file
 *	is at most 8 KiB (a longer one is refused, never read to its end).
 *	Writing creates FILE.XXXXXX in FILE's directory (mkstemp(3), mode
 *	0600), writes, fsyncs, renames it over FILE and fsyncs the directory;
 *	on any error the temporary file is removed.
 * DIAGNOSTICS
 *	None: errors are returned in why ("FILE: open: Permission denied",
 *	"FILE: cannot parse line 2").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guardstate.h"

#define STATE_MAX 8192

/* The whole file into buf (NUL-terminated): its length, or -1 with errno. */
static ssize_t read_all(const char *file, char *buf, size_t len)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	size_t got = 0;
	ssize_t n = 0;

	if (fd < 0)
		return -1;
	while (got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	if (n < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

static int parse(const char *buf, size_t blen, char *table, size_t tlen, size_t *entries, int *line)
{
	const char *p = buf, *nl;
	unsigned long long v = 0;

	*line = 1;
	if (strlen(buf) != blen || strncmp(p, "table ", 6) != 0 ||
	    (nl = strchr(p + 6, '\n')) == NULL || nl == p + 6 || (size_t)(nl - p - 6) >= tlen)
		return -1;
	memcpy(table, p + 6, (size_t)(nl - p - 6));
	table[nl - p - 6] = '\0';
	p = nl + 1;
	*line = 2;
	if (strncmp(p, "entries ", 8) != 0 || p[8] < '0' || p[8] > '9')
		return -1;
	for (p += 8; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > ((unsigned long long)SIZE_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (p[0] != '\n' || p[1] != '\0') {
		*line = p[0] == '\n' ? 3 : 2;
		return -1;
	}
	*entries = (size_t)v;
	return 0;
}

int guardstate_read(const char *file, char *table, size_t tlen, size_t *entries, char *why,
                    size_t wlen)
{
	char buf[STATE_MAX + 2]; /* one byte more than allowed, to see a longer file */
	ssize_t n = read_all(file, buf, sizeof(buf));
	int line;

	if (n < 0 && errno == ENOENT)
		return 0;
	if (n < 0) {
		snprintf(why, wlen, "%s: cannot read: %s", file, strerror(errno));
		return -1;
	}
	if ((size_t)n > STATE_MAX) {
		snprintf(why, wlen, "%s: cannot parse: longer than %d bytes", file, STATE_MAX);
		return -1;
	}
	if (parse(buf, (size_t)n, table, tlen, entries, &line) < 0) {
		snprintf(why, wlen, "%s: cannot parse line %d", file, line);
		return -1;
	}
	return 1;
}

/* fsync the directory of file, so that the rename survives a crash. */
static void sync_dir(const char *file)
{
	const char *slash = strrchr(file, '/');
	char dir[PATH_MAX];
	int fd;

	snprintf(dir, sizeof(dir), "%.*s",
	         slash == NULL   ? 1
	         : slash == file ? 1
	                         : (int)(slash - file),
	         slash == NULL ? "." : file);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int guardstate_write(const char *file, const char *table, size_t entries, char *why, size_t wlen)
{
	char tmp[PATH_MAX], buf[STATE_MAX + 64];
	int fd, len;
	const char *what = "write";

	if (strchr(table, '\n') != NULL) {
		snprintf(why, wlen, "%s: the table path has a newline in it", file);
		return -1;
	}
	len = snprintf(buf, sizeof(buf), "table %s\nentries %zu\n", table, entries);
	if (len < 0 || (size_t)len > STATE_MAX ||
	    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", file) >= (int)sizeof(tmp)) {
		snprintf(why, wlen, "%s: path or table path too long", file);
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		snprintf(why, wlen, "%s: cannot create a temporary file next to it: %s", file,
		         strerror(errno));
		return -1;
	}
	errno = 0;
	if (write(fd, buf, (size_t)len) != len || (what = "fsync", fsync(fd) < 0)) {
		int e = errno == 0 ? EIO : errno;

		close(fd);
		(void)unlink(tmp);
		snprintf(why, wlen, "%s: %s: %s", tmp, what, strerror(e));
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, file) < 0) {
		int e = errno;

		(void)unlink(tmp);
		snprintf(why, wlen, "%s: rename from %s: %s", file, tmp, strerror(e));
		return -1;
	}
	sync_dir(file);
	return 0;
}
