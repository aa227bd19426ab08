/*
 * NAME
 *	test_readfile - a table file that changes while libtlsmaps reads it is refused
 * DESCRIPTION
 *	tlsmaps_builder_add_file() reads with read(2). This program is linked
 *	with -Wl,--wrap=read, so the library's read() comes here first: after
 *	the first chunk, the file is changed by name, as another process
 *	would change it at that moment: truncated, grown, rewritten with the
 *	same size and a new mtime. Each must give exactly one diagnostic,
 *	"FILE:0: changed while being read", and no table. A read error gives
 *	"cannot read: ...", EINTR is retried, and a file renamed over the path
 *	during the read loads whole (the descriptor still reads the old,
 *	complete file). On today's main the file is mapped: truncation there
 *	raises SIGBUS, and the same-size rewrite goes unnoticed.
 * SEE ALSO
 *	tlsmaps/lib/tlsmaps_build.c
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit_util.h"

enum change { NONE, TRUNCATE, GROW, SAME_SIZE, REPLACE, FAIL_EIO, FAIL_EINTR };

static enum change armed;
static char path[64], other[64];

ssize_t __real_read(int fd, void *buf, size_t n);
ssize_t __wrap_read(int fd, void *buf, size_t n);

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* The change happens after the first chunk of at most 1000 bytes. */
ssize_t __wrap_read(int fd, void *buf, size_t n)
{
	enum change c = armed;
	struct timespec later[2] = {{0, UTIME_OMIT}, {12345, 0}};
	ssize_t got;
	int wfd;

	armed = NONE;
	if (c == FAIL_EIO || c == FAIL_EINTR) {
		errno = c == FAIL_EIO ? EIO : EINTR;
		return -1;
	}
	got = __real_read(fd, buf, c == NONE ? n : (n < 1000 ? n : 1000));
	switch (c) {
	case TRUNCATE:
		assert_int_equal(truncate(path, 1500), 0);
		break;
	case GROW:
		wfd = open(path, O_WRONLY | O_APPEND);
		assert_true(wfd >= 0);
		assert_int_equal(write(wfd, "late.test\n", 10), 10);
		close(wfd);
		break;
	case SAME_SIZE:
		wfd = open(path, O_WRONLY);
		assert_true(wfd >= 0);
		assert_int_equal(pwrite(wfd, "Z", 1, 2000), 1);
		assert_int_equal(futimens(wfd, later), 0);
		close(wfd);
		break;
	case REPLACE:
		write_file(other, "other.test\n");
		assert_int_equal(rename(other, path), 0);
		break;
	default:
		break;
	}
	return got;
}

/* A table of 400 lines (about 6 KB) at path, then a load with the change armed. */
static tlsmaps_table *load(enum change c, struct diags *d, unsigned *nerrors)
{
	char text[400 * 20] = "";
	const char *p = path;
	tlsmaps_options opts;
	tlsmaps_table *t;

	for (int i = 0; i < 400; i++)
		snprintf(text + strlen(text), sizeof(text) - strlen(text), "d%03d.test\n", i);
	write_file(path, text);
	memset(d, 0, sizeof(*d));
	tlsmaps_options_init(&opts);
	opts.report = diags_report;
	opts.report_ctx = d;
	armed = c;
	t = tlsmaps_load(&p, 1, &opts, nerrors);
	armed = NONE;
	return t;
}

static void expect_refused(enum change c, const char *words)
{
	struct diags d;
	unsigned nerrors = 0;
	tlsmaps_table *t = load(c, &d, &nerrors);
	const struct diag *g = diags_at(&d, path, 0);

	if (t != NULL || nerrors != 1 || d.n != 1 || g == NULL || !contains_ci(g->msg, words)) {
		diags_print(&d);
		fail_msg("change %d: want no table and one \"%s\" at line 0 (table %p, %u errors)",
		         (int)c, words, (void *)t, nerrors);
	}
}

static void test_unchanged_loads(void **state)
{
	struct diags d;
	unsigned nerrors = 9;
	tlsmaps_table *t;

	(void)state;
	t = load(NONE, &d, &nerrors);
	assert_non_null(t);
	assert_int_equal(nerrors, 0);
	assert_int_equal(tlsmaps_table_count(t), 400);
	tlsmaps_table_free(t);
}

static void test_truncated_during_read(void **state)
{
	(void)state;
	expect_refused(TRUNCATE, "changed while being read");
}

static void test_grown_during_read(void **state)
{
	(void)state;
	expect_refused(GROW, "changed while being read");
}

static void test_same_size_rewrite(void **state)
{
	(void)state;
	expect_refused(SAME_SIZE, "changed while being read");
}

static void test_read_error(void **state)
{
	(void)state;
	expect_refused(FAIL_EIO, "cannot read: Input/output error");
}

static void test_eintr_is_retried(void **state)
{
	struct diags d;
	unsigned nerrors = 9;
	tlsmaps_table *t;

	(void)state;
	t = load(FAIL_EINTR, &d, &nerrors);
	assert_non_null(t);
	assert_int_equal(tlsmaps_table_count(t), 400);
	tlsmaps_table_free(t);
}

static void test_renamed_over_loads_old_whole(void **state)
{
	struct diags d;
	unsigned nerrors = 9;
	tlsmaps_table *t;

	(void)state;
	t = load(REPLACE, &d, &nerrors);
	assert_non_null(t);
	assert_int_equal(nerrors, 0);
	assert_int_equal(tlsmaps_table_count(t), 400);
	tlsmaps_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_unchanged_loads),
	        cmocka_unit_test(test_truncated_during_read),
	        cmocka_unit_test(test_grown_during_read),
	        cmocka_unit_test(test_same_size_rewrite),
	        cmocka_unit_test(test_read_error),
	        cmocka_unit_test(test_eintr_is_retried),
	        cmocka_unit_test(test_renamed_over_loads_old_whole),
	};
	char dir[] = "/tmp/ftls-readfile.XXXXXX";
	int rc;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.table", dir);
	snprintf(other, sizeof(other), "%s/other.table", dir);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(path);
	unlink(other);
	rmdir(dir);
	return rc;
}
