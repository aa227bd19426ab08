/*
 * NAME
 *	test_msgcopy.c - unit tests of relay mode's message copy (milter/spool.c, milter/msgcopy.c)
 * DESCRIPTION
 *	The spool: bytes come back exactly, pass after pass, from memory and
 *	from the file past the threshold; the file is never visible in the
 *	spool directory and the memory part never grows past the threshold;
 *	a directory that does not exist fails the spool at the threshold, and
 *	it stays failed. The copy: the gateway's view applies the decision's
 *	header edits (first insert, ranged deletes by occurrence, a change,
 *	additions at the end) exactly as the MTA would, with the headers and
 *	the body spilled to files, and the same bytes on a second pass; a bare
 *	CR or LF in a value stays a fold (no injected header at the gateway).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "msgcopy.h"
#include "spool.h"

static char dir[] = "/tmp/ftls-spool-test-XXXXXX";

static int entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Everything a spool gives back, as one string (caller frees). */
static char *drain(spool *s, size_t *len)
{
	char *out = NULL;
	const char *p;
	long r;

	*len = 0;
	assert_int_equal(spool_rewind(s), 0);
	while ((r = spool_read(s, &p, 1000)) > 0) {
		out = realloc(out, *len + (size_t)r + 1);
		memcpy(out + *len, p, (size_t)r);
		*len += (size_t)r;
	}
	assert_int_equal(r, 0);
	if (out == NULL)
		out = calloc(1, 1);
	out[*len] = '\0';
	return out;
}

static void test_spool_memory_then_file(void **state)
{
	spool *s = spool_new(dir, 4096);
	char block[3000], *got;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (char)('a' + i % 26);
	assert_int_equal(spool_write(s, block, sizeof(block)), 0);
	assert_false(spool_on_disk(s));
	for (int i = 0; i < 100; i++) /* 300,000 bytes: past the threshold and the 64 KiB buffer */
		assert_int_equal(spool_write(s, block, sizeof(block)), 0);
	assert_true(spool_on_disk(s));
	assert_int_equal(spool_size(s), 101 * sizeof(block));
	assert_int_equal(entries(dir), 0); /* no name in the directory, ever */
	for (int pass = 0; pass < 2; pass++) {
		got = drain(s, &len);
		assert_int_equal(len, 101 * sizeof(block));
		for (size_t i = 0; i < len; i++)
			if (got[i] != block[i % sizeof(block)])
				fail_msg("byte %zu differs on pass %d", i, pass);
		free(got);
	}
	spool_free(s);
	assert_int_equal(entries(dir), 0);
}

static void test_spool_bad_dir_fails_and_stays_failed(void **state)
{
	spool *s = spool_new("/nonexistent/forcetls-spool", 100);
	char block[150];
	const char *p;

	(void)state;
	memset(block, 'x', sizeof(block));
	assert_int_equal(spool_write(s, block, 50), 0); /* memory: no directory needed */
	assert_int_equal(spool_write(s, block, sizeof(block)), -1);
	assert_non_null(strstr(spool_error(s), "/nonexistent/forcetls-spool"));
	assert_int_equal(spool_write(s, block, 1), -1);
	assert_int_equal(spool_rewind(s), -1);
	assert_int_equal(spool_read(s, &p, 10), -1);
	spool_free(s);
}

static void act(decision *d, act_kind k, const char *name, unsigned index, unsigned span,
                const char *value)
{
	action *a = &d->a[d->n++];

	memset(a, 0, sizeof(*a));
	a->kind = k;
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->index = index;
	a->span = span;
	snprintf(a->value, sizeof(a->value), "%s", value);
}

static char *source_all(const relay_source *src, size_t *len)
{
	char *out = calloc(1, 1);
	const char *p;
	size_t n;

	*len = 0;
	assert_int_equal(src->rewind(src->arg), 0);
	for (;;) {
		assert_int_equal(src->next(src->arg, &p, &n), 0);
		if (n == 0)
			break;
		out = realloc(out, *len + n + 1);
		memcpy(out + *len, p, n);
		*len += n;
	}
	out[*len] = '\0';
	return out;
}

static void test_copy_applies_the_edits(void **state)
{
	msgcopy *m = msgcopy_new(dir, 64 * 1024); /* at least one spill below */
	static decision d;
	relay_source src;
	const char *const *r;
	char *got, longval[70000];
	size_t len, n;
	const char *want_head = "X-TLSLevel: Require\r\n"
	                        "Received: from a\r\n"
	                        "Subject: hello\r\n"
	                        "x-encrypt: keep me\r\n"
	                        "X-TLSLEVEL: Try?\r\n";

	(void)state;
	memset(longval, 'v', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	assert_int_equal(msgcopy_rcpt(m, "<a@bank.test>"), 0);
	assert_int_equal(msgcopy_rcpt(m, "<b@bank.test>"), 0);
	assert_int_equal(msgcopy_header(m, "Received", "from a"), 0);
	assert_int_equal(msgcopy_header(m, "X-Encrypt", "spoof 1"), 0);
	assert_int_equal(msgcopy_header(m, "Subject", "[encrypt] hello"), 0);
	assert_int_equal(msgcopy_header(m, "x-encrypt", "keep me"), 0);
	assert_int_equal(msgcopy_header(m, "X-ENCRYPT", "spoof 3"), 0);
	assert_int_equal(msgcopy_header(m, "X-TLSLevel", "Try"), 0);
	assert_int_equal(msgcopy_header(m, "X-TLSLEVEL", "Try?"), 0);
	assert_int_equal(msgcopy_header(m, "X-Long", longval), 0); /* spills the header spool */
	for (int i = 0; i < 3000; i++)
		assert_int_equal(msgcopy_body(m, "line of the body\r\n..dot\r\n", 25), 0);
	assert_true(msgcopy_on_disk(m));
	r = msgcopy_rcpts(m, &n);
	assert_int_equal(n, 2);
	assert_string_equal(r[1], "<b@bank.test>");

	d.n = 0;
	act(&d, ACT_DELETE, "X-TLSLevel", 1, 1, "");
	act(&d, ACT_INSERT_FIRST, "X-TLSLevel", 0, 0, "Require");
	act(&d, ACT_DELETE, "X-Encrypt", 3, 1, "");
	act(&d, ACT_DELETE, "X-Encrypt", 1, 1, "");
	act(&d, ACT_CHANGE, "Subject", 1, 0, "truncated");
	act(&d, ACT_ADD, "X-Encrypt", 0, 0, "yes");
	assert_int_equal(msgcopy_source(m, &d, "hello", &src), 0);
	for (int pass = 0; pass < 2; pass++) {
		char *body;

		got = source_all(&src, &len);
		assert_memory_equal(got, want_head, strlen(want_head));
		assert_memory_equal(got + strlen(want_head), "X-Long: vvv", 11);
		body = strstr(got, "\r\nX-Encrypt: yes\r\n\r\n");
		assert_non_null(body);
		body += strlen("\r\nX-Encrypt: yes\r\n\r\n");
		assert_int_equal(len - (size_t)(body - got), 3000 * 25);
		assert_memory_equal(body, "line of the body\r\n..dot\r\n", 25);
		assert_int_equal(
		        strlen(want_head) + 8 + sizeof(longval) - 1 + 2 + 16 + 2 + 3000 * 25, len);
		free(got);
	}
	msgcopy_free(m);
	assert_int_equal(entries(dir), 0);
}

static void test_ranged_delete_and_subject_from_the_decision(void **state)
{
	msgcopy *m = msgcopy_new(dir, 65536);
	static decision d;
	relay_source src;
	char *got;
	size_t len;

	(void)state;
	for (int i = 0; i < 5; i++)
		assert_int_equal(msgcopy_header(m, "X-Encrypt-Status", "success"), 0);
	assert_int_equal(msgcopy_header(m, "Subject", "[secure] x"), 0);
	d.n = 0;
	act(&d, ACT_DELETE, "X-Encrypt-Status", 4, 3, ""); /* 4, 3 and 2 */
	act(&d, ACT_CHANGE, "Subject", 1, 0, "x");
	assert_int_equal(msgcopy_source(m, &d, NULL, &src), 0);
	got = source_all(&src, &len);
	assert_string_equal(got, "X-Encrypt-Status: success\r\n"
	                         "X-Encrypt-Status: success\r\n"
	                         "Subject: x\r\n"
	                         "\r\n");
	free(got);
	msgcopy_free(m);
}

/* A bare CR or LF in a value never starts a header of its own at the gateway. */
static void test_no_header_injection(void **state)
{
	msgcopy *m = msgcopy_new(dir, 65536);
	static decision d;
	relay_source src;
	char *got;
	size_t len;

	(void)state;
	assert_int_equal(msgcopy_header(m, "Subject", "a\rX-Encrypt-Status: success"), 0);
	assert_int_equal(msgcopy_header(m, "X-A", "b\nX-TLSLevel: Try\r\n"), 0);
	assert_int_equal(msgcopy_header(m, "X-B", "folded\n\tline\r\n more"), 0);
	d.n = 0;
	assert_int_equal(msgcopy_source(m, &d, NULL, &src), 0);
	got = source_all(&src, &len);
	assert_string_equal(got, "Subject: a\r X-Encrypt-Status: success\r\n"
	                         "X-A: b\n X-TLSLevel: Try\r\n"
	                         "X-B: folded\n\tline\r\n more\r\n"
	                         "\r\n");
	free(got);
	msgcopy_free(m);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_spool_memory_then_file),
	        cmocka_unit_test(test_spool_bad_dir_fails_and_stays_failed),
	        cmocka_unit_test(test_copy_applies_the_edits),
	        cmocka_unit_test(test_ranged_delete_and_subject_from_the_decision),
	        cmocka_unit_test(test_no_header_injection),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
