/*
 * NAME
 *	test_reload - unit tests for common/reload.c: the shrink guard and the reload thread
 * DESCRIPTION
 *	The guard arithmetic (0 entries, exactly the limit, one entry past
 *	it, growth, from an empty table, the allow switches, huge counts
 *	without overflow) and its reasons; then a reloader with a fake build
 *	callback: requests made during a slow build coalesce into exactly one
 *	more build (never lost, never two at once), a refused build keeps
 *	the snapshot in use, and a held snapshot outlives the swap.
 * SEE ALSO
 *	common/reload.h
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "reload.h"

static int check(unsigned max, int empty, int shrink, size_t old, size_t new, char *why)
{
	reload_guard g = {max, empty, shrink};

	why[0] = '\0';
	return reload_guard_check(&g, old, new, why, 320);
}

static void test_guard_arithmetic(void **state)
{
	char why[320];

	(void)state;
	assert_int_equal(check(50, 0, 0, 10, 10, why), 0);
	assert_int_equal(check(50, 0, 0, 10, 11, why), 0);
	assert_int_equal(check(50, 0, 0, 10, 5, why), 0); /* exactly 50% lost */
	assert_int_equal(check(50, 0, 0, 10, 4, why), -1);
	assert_non_null(strstr(why, "4 entries, 60% fewer"));
	assert_non_null(strstr(why, "tables.reload_max_shrink = 50%"));
	assert_int_equal(check(50, 0, 0, 1000000, 500000, why), 0);
	assert_int_equal(check(50, 0, 0, 1000000, 499999, why), -1);
	assert_int_equal(check(0, 0, 0, 10, 9, why), -1); /* no loss allowed */
	assert_int_equal(check(100, 0, 0, 10, 1, why), 0);
	assert_int_equal(check(50, 0, 0, 0, 0, why), 0); /* empty to empty */
	assert_int_equal(check(50, 0, 0, 0, 7, why), 0);
	/* Huge counts: no overflow in (old - new) * 100. */
	assert_int_equal(check(50, 0, 0, SIZE_MAX / 2, SIZE_MAX / 4, why), -1);
	assert_int_equal(check(99, 0, 0, SIZE_MAX / 2, SIZE_MAX / 4, why), 0);
}

static void test_guard_empty_and_switches(void **state)
{
	char why[320];

	(void)state;
	assert_int_equal(check(100, 0, 0, 10, 0, why), -1); /* 0 is refused even at 100% */
	assert_non_null(strstr(why, "the new table has 0 entries"));
	assert_non_null(strstr(why, "tables.reload_allow_empty = true"));
	assert_int_equal(check(50, 1, 0, 10, 0, why), 0);
	assert_int_equal(check(50, 0, 1, 10, 0, why), -1); /* allow_shrink is not allow_empty */
	assert_int_equal(check(50, 0, 1, 10, 1, why), 0);
	assert_int_equal(check(50, 1, 0, 10, 1, why), -1);
	assert_non_null(strstr(why, "tables.reload_allow_shrink = true"));
}

/* A fake daemon snapshot: a number of entries and the build that made it. */
typedef struct {
	rsnap rs;
	int build_no;
} fake;

static struct {
	pthread_mutex_t lock;
	int builds, running, max_running, freed;
	size_t next_entries;
	int fail_next;
	unsigned sleep_ms;
} F = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 10, 0, 0};

static void fake_free(rsnap *r)
{
	pthread_mutex_lock(&F.lock);
	F.freed++;
	pthread_mutex_unlock(&F.lock);
	free(r);
}

static rsnap *fake_build(void *arg)
{
	struct timespec ts;
	fake *f;
	int fail;

	(void)arg;
	pthread_mutex_lock(&F.lock);
	F.builds++;
	if (++F.running > F.max_running)
		F.max_running = F.running;
	ts.tv_sec = F.sleep_ms / 1000;
	ts.tv_nsec = (long)(F.sleep_ms % 1000) * 1000000;
	fail = F.fail_next;
	pthread_mutex_unlock(&F.lock);
	nanosleep(&ts, NULL);
	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	rsnap_init(&f->rs, fake_free, NULL);
	f->rs.table = "fake.table";
	f->rs.guard.max_shrink = 50;
	pthread_mutex_lock(&F.lock);
	f->rs.entries = F.next_entries;
	f->build_no = F.builds;
	F.running--;
	pthread_mutex_unlock(&F.lock);
	if (fail) {
		free(f);
		return NULL;
	}
	return &f->rs;
}

static int builds(void)
{
	int n;

	pthread_mutex_lock(&F.lock);
	n = F.builds;
	pthread_mutex_unlock(&F.lock);
	return n;
}

/* Wait until ok + refused reach n (10 s at most). */
static void wait_done(reloader *r, unsigned long n)
{
	for (int i = 0; i < 1000; i++) {
		unsigned long ok, refused;

		reloader_counts(r, &ok, &refused);
		if (ok + refused >= n)
			return;
		usleep(10000);
	}
	fail_msg("reloads never reached %lu", n);
}

static void test_coalesce(void **state)
{
	reload_ops ops = {fake_build, NULL, NULL, NULL};
	reloader *r;
	rsnap *held;
	unsigned long ok, refused;

	(void)state;
	log_init("test_reload", 1, 0);
	r = reloader_new(&ops);
	assert_non_null(r);
	assert_int_equal(builds(), 1);
	held = reloader_current(r);
	assert_int_equal(((fake *)held)->build_no, 1);
	assert_int_equal(reloader_run(r), 0);

	/* 100 requests while the first build sleeps: one more build after it. */
	F.sleep_ms = 300;
	reloader_request(r, "test");
	usleep(50000);
	for (int i = 0; i < 100; i++)
		reloader_request(r, "test");
	wait_done(r, 2);
	assert_int_equal(builds(), 3);
	assert_int_equal(F.max_running, 1);
	usleep(400000); /* no stray third reload */
	assert_int_equal(builds(), 3);
	/* The snapshot held before the swaps is still whole. */
	assert_int_equal(((fake *)held)->build_no, 1);
	rsnap_release(held);
	held = reloader_current(r);
	assert_int_equal(((fake *)held)->build_no, 3);
	rsnap_release(held);

	/* A failed build and a guarded one keep the snapshot in use. */
	F.sleep_ms = 0;
	F.fail_next = 1;
	reloader_request(r, "test");
	wait_done(r, 3);
	F.fail_next = 0;
	F.next_entries = 4; /* 10 -> 4: 60% fewer */
	reloader_request(r, "test");
	wait_done(r, 4);
	reloader_counts(r, &ok, &refused);
	assert_int_equal(ok, 2);
	assert_int_equal(refused, 2);
	{ /* refused split: the guard's, and the failed build's */
		unsigned long o, g, f;

		reloader_results(r, &o, &g, &f);
		assert_int_equal(o, 2);
		assert_int_equal(g, 1);
		assert_int_equal(f, 1);
	}
	held = reloader_current(r);
	assert_int_equal(((fake *)held)->build_no, 3);
	assert_int_equal(held->entries, 10);
	rsnap_release(held);
	reloader_free(r);
	assert_int_equal(F.freed, 4); /* builds 1, 2, 3 and the guarded 5 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_guard_arithmetic),
	        cmocka_unit_test(test_guard_empty_and_switches),
	        cmocka_unit_test(test_coalesce),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
