/*
 * NAME
 *	test_guardstate - unit tests for common/guardstate.c and the start check in reload.c
 * DESCRIPTION
 *	The state file: written and read back, missing (0), unreadable or
 *	unparsable (-1, "cannot parse line N", never a count), a directory
 *	that cannot be written (-1, no temporary file left), a table path
 *	with a newline (refused). Then reloader_new() with a fake build: a
 *	state file for the same table with more entries refuses a start on
 *	an empty or much smaller table unless allowed; one for another table,
 *	or an unparsable one, lets it start and is rewritten.
 * SEE ALSO
 *	common/guardstate.h, common/reload.h
 */
#include <dirent.h>
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

#include "guardstate.h"
#include "reload.h"

static char dir[64], file[128];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/ftls-guardstate-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(file, sizeof(file), "%s/policyd.state", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *text, size_t len)
{
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int files_in_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_round_trip(void **state)
{
	char table[256], why[512];
	size_t n = 7;

	(void)state;
	assert_int_equal(guardstate_read(file, table, sizeof(table), &n, why, sizeof(why)), 0);
	assert_int_equal(
	        guardstate_write(file, "/etc/forcetls/forced-tls.table", 1200, why, sizeof(why)),
	        0);
	assert_int_equal(guardstate_read(file, table, sizeof(table), &n, why, sizeof(why)), 1);
	assert_string_equal(table, "/etc/forcetls/forced-tls.table");
	assert_int_equal(n, 1200);
	assert_int_equal(guardstate_write(file, "t", SIZE_MAX, why, sizeof(why)), 0);
	assert_int_equal(guardstate_read(file, table, sizeof(table), &n, why, sizeof(why)), 1);
	assert_int_equal(n, SIZE_MAX);
	assert_int_equal(files_in_dir(), 1); /* the temporary file is gone */
	/* A newline cannot be written in the format: refused, the old file stays. */
	assert_int_equal(guardstate_write(file, "a\nentries 0", 1, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "newline"));
	assert_int_equal(guardstate_read(file, table, sizeof(table), &n, why, sizeof(why)), 1);
	assert_string_equal(table, "t");
}

static void test_bad_content(void **state)
{
	static const char *const bad[] = {
	        "",
	        "garbage\n",
	        "table /t\n",
	        "table /t\nentries\n",
	        "table /t\nentries \n",
	        "table /t\nentries 12x\n",
	        "table /t\nentries -1\n",
	        "table /t\nentries 12",
	        "table /t\nentries 12\nmore\n",
	        "table \nentries 12\n",
	        "entries 12\ntable /t\n",
	        "table /t\r\nentries 12\r\n",
	        "table /t\nentries 99999999999999999999999\n",
	};
	char table[256], why[512];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(bad[i], strlen(bad[i]));
		n = 4242;
		why[0] = '\0';
		assert_int_equal(guardstate_read(file, table, sizeof(table), &n, why, sizeof(why)),
		                 -1);
		assert_non_null(strstr(why, "cannot parse"));
		assert_int_equal(n, 4242);
	}
	put("table /t\0\nentries 1\n", 20); /* a NUL in it */
	assert_int_equal(guardstate_read(file, table, sizeof(table), &n, why, sizeof(why)), -1);
	/* A table path longer than the caller's buffer is an error, never cut. */
	put("table /abcdefgh\nentries 1\n", 26);
	assert_int_equal(guardstate_read(file, table, 8, &n, why, sizeof(why)), -1);
	/* Longer than 8 KiB. */
	{
		static char big[9000];

		memset(big, 'a', sizeof(big));
		put(big, sizeof(big));
		assert_int_equal(guardstate_read(file, table, sizeof(table), &n, why, sizeof(why)),
		                 -1);
		assert_non_null(strstr(why, "longer than 8192 bytes"));
	}
	/* A directory where the file should be: cannot read. */
	assert_int_equal(unlink(file), 0);
	assert_int_equal(mkdir(file, 0700), 0);
	assert_int_equal(guardstate_read(file, table, sizeof(table), &n, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "cannot read"));
	assert_int_equal(rmdir(file), 0);
}

static void test_unwritable(void **state)
{
	char missing[160], why[512];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/no/such/dir/x.state", dir);
	assert_int_equal(guardstate_write(missing, "/t", 1, why, sizeof(why)), -1);
	assert_non_null(strstr(why, missing));
	if (geteuid() != 0) { /* root writes anywhere */
		assert_int_equal(chmod(dir, 0500), 0);
		assert_int_equal(guardstate_write(file, "/t", 1, why, sizeof(why)), -1);
		assert_int_equal(chmod(dir, 0700), 0);
	}
	assert_int_equal(files_in_dir(), 0);
}

/* A reloader on a fake table: path and entries as the test sets them. */
static const char *fake_table;
static size_t fake_entries;
static reload_guard fake_guard;

static void fake_free(rsnap *s)
{
	free(s);
}

static rsnap *fake_build(void *arg)
{
	rsnap *s = calloc(1, sizeof(*s));

	(void)arg;
	assert_non_null(s);
	rsnap_init(s, fake_free, NULL);
	s->table = fake_table;
	s->entries = fake_entries;
	s->guard = fake_guard;
	return s;
}

static int start(const char *table, size_t entries, int allow_empty, int allow_shrink)
{
	reload_ops ops = {fake_build, NULL, NULL, file};
	reloader *r;

	fake_table = table;
	fake_entries = entries;
	fake_guard = (reload_guard){50, allow_empty, allow_shrink};
	if ((r = reloader_new(&ops)) == NULL)
		return -1;
	reloader_free(r);
	return 0;
}

static size_t remembered(const char *table)
{
	char t[256], why[512];
	size_t n;

	assert_int_equal(guardstate_read(file, t, sizeof(t), &n, why, sizeof(why)), 1);
	assert_string_equal(t, table);
	return n;
}

static void test_start_guard(void **state)
{
	(void)state;
	assert_int_equal(start("/a", 0, 0, 0), 0); /* no state file: empty starts */
	assert_int_equal(remembered("/a"), 0);
	assert_int_equal(start("/a", 1200, 0, 0), 0); /* from 0 anything passes */
	assert_int_equal(remembered("/a"), 1200);
	assert_int_equal(start("/a", 0, 0, 0), -1); /* emptied: refused, state kept */
	assert_int_equal(remembered("/a"), 1200);
	assert_int_equal(start("/a", 120, 0, 0), -1); /* cut to 10% */
	assert_int_equal(start("/a", 600, 0, 0), 0);  /* exactly 50% lost */
	assert_int_equal(remembered("/a"), 600);
	assert_int_equal(start("/a", 100, 0, 1), 0); /* allow_shrink */
	assert_int_equal(start("/a", 0, 1, 0), 0);   /* allow_empty */
	assert_int_equal(start("/a", 10, 0, 0), 0);
	assert_int_equal(start("/b", 0, 0, 0), 0); /* another table: as with none */
	assert_int_equal(remembered("/b"), 0);
	assert_int_equal(start("/b", 10, 0, 0), 0);
	put("garbage\n", 8); /* unparsable: as with none, and rewritten */
	assert_int_equal(start("/b", 0, 0, 0), 0);
	assert_int_equal(remembered("/b"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_content, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unwritable, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_start_guard, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
