/*
 * NAME
 *	test_common.c - unit tests of common/: netstring framing, the settings table
 * DESCRIPTION
 *	netstring_parse(): complete, incomplete, malformed and oversized input,
 *	the overflow-safe length. cfg_load(): defaults without a file, values
 *	from a file, unknown settings and sections, wrong types, bounds and
 *	choices, all reported with FILE:LINE in one pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "listen.h"
#include "netstring.h"

static netstring_status parse(const char *s, size_t max, const char **d, size_t *dl, size_t *used)
{
	return netstring_parse(s, strlen(s), max, d, dl, used);
}

static void test_netstring_ok(void **state)
{
	const char *d;
	size_t dl, used;

	(void)state;
	assert_int_equal(parse("20:forcetls example.com,rest", 100, &d, &dl, &used), NETSTRING_OK);
	assert_int_equal(dl, 20);
	assert_memory_equal(d, "forcetls example.com", 20);
	assert_int_equal(used, 24);
	assert_int_equal(parse("0:,", 100, &d, &dl, &used), NETSTRING_OK);
	assert_int_equal(dl, 0);
	assert_int_equal(used, 3);
}

static void test_netstring_more(void **state)
{
	const char *d;
	size_t dl, used;

	(void)state;
	assert_int_equal(parse("", 100, &d, &dl, &used), NETSTRING_MORE);
	assert_int_equal(parse("2", 100, &d, &dl, &used), NETSTRING_MORE);
	assert_int_equal(parse("20:forcetls", 100, &d, &dl, &used), NETSTRING_MORE);
	assert_int_equal(parse("3:abc", 100, &d, &dl, &used), NETSTRING_MORE);
}

static void test_netstring_bad(void **state)
{
	const char *d;
	size_t dl, used;

	(void)state;
	assert_int_equal(parse("x", 100, &d, &dl, &used), NETSTRING_BAD);
	assert_int_equal(parse(":abc,", 100, &d, &dl, &used), NETSTRING_BAD);
	assert_int_equal(parse("3:abcd", 100, &d, &dl, &used), NETSTRING_BAD);
	assert_int_equal(parse("03:abc,", 100, &d, &dl, &used), NETSTRING_BAD);
	assert_int_equal(parse("-3:abc,", 100, &d, &dl, &used), NETSTRING_BAD);
	assert_int_equal(parse(" 3:abc,", 100, &d, &dl, &used), NETSTRING_BAD);
}

static void test_netstring_toolong(void **state)
{
	const char *d;
	size_t dl, used;

	(void)state;
	assert_int_equal(parse("101:", 100, &d, &dl, &used), NETSTRING_TOOLONG);
	assert_int_equal(parse("100:", 100, &d, &dl, &used), NETSTRING_MORE);
	assert_int_equal(parse("99999999999999999999999999:", 100, &d, &dl, &used),
	                 NETSTRING_TOOLONG);
	/* Near SIZE_MAX: no wrap-around. */
	assert_int_equal(parse("18446744073709551616:", (size_t)-1, &d, &dl, &used),
	                 NETSTRING_TOOLONG);
}

static void test_netstring_format(void **state)
{
	char out[32];

	(void)state;
	assert_int_equal(netstring_format(out, sizeof(out), "OK encrypt", 10), 14);
	assert_memory_equal(out, "10:OK encrypt,", 14);
	assert_int_equal(netstring_format(out, sizeof(out), "", 0), 3);
	assert_memory_equal(out, "0:,", 3);
	assert_int_equal(netstring_format(out, 5, "abcdef", 6), 0);
}

static const char *const levels[] = {"none", "may", "encrypt", NULL};
static const cfg_def defs[] = {
        {"x.name", CFG_STRING, "dflt", 0, 0, 0, NULL},
        {"x.count", CFG_INT, NULL, 5, 1, 10, NULL},
        {"x.flag", CFG_BOOL, NULL, 1, 0, 0, NULL},
        {"x.nets", CFG_LIST, "127.0.0.1, ::1", 0, 0, 0, NULL},
        {"y.level", CFG_STRING, "encrypt", 0, 0, 0, levels},
};
static const char *const own[] = {"x", "y", NULL};
static const char *const other[] = {"z", NULL};

static char *write_conf(const char *text)
{
	static char path[64];
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "/tmp/ftls-test-conf-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_config_defaults(void **state)
{
	char errors[1024];
	const char *const *items;
	cfg *c = cfg_load(NULL, defs, 5, own, other, errors, sizeof(errors));

	(void)state;
	assert_non_null(c);
	assert_string_equal(cfg_str(c, "x.name"), "dflt");
	assert_int_equal(cfg_int(c, "x.count"), 5);
	assert_true(cfg_bool(c, "x.flag"));
	assert_int_equal(cfg_list(c, "x.nets", &items), 2);
	assert_string_equal(items[0], "127.0.0.1");
	assert_string_equal(items[1], "::1");
	cfg_free(c);
}

static void test_config_values(void **state)
{
	char errors[1024];
	const char *const *items;
	char *path = write_conf("x = { name = \"n\"; count = 7; flag = false;\n"
	                        "  nets = [\"10.0.0.0/8\", \"x{2,3} a b\", \"2001:db8::/32\"]; };\n"
	                        "y = { level = \"may\"; };\nz = { anything = 1; };\n");
	cfg *c = cfg_load(path, defs, 5, own, other, errors, sizeof(errors));

	(void)state;
	unlink(path);
	assert_non_null(c);
	assert_string_equal(cfg_str(c, "x.name"), "n");
	assert_int_equal(cfg_int(c, "x.count"), 7);
	assert_false(cfg_bool(c, "x.flag"));
	/* Items are kept whole: patterns hold commas and spaces. */
	assert_int_equal(cfg_list(c, "x.nets", &items), 3);
	assert_string_equal(items[1], "x{2,3} a b");
	assert_string_equal(items[2], "2001:db8::/32");
	assert_string_equal(cfg_str(c, "y.level"), "may");
	cfg_free(c);

	/* A single string is a one-item list, not split either. */
	path = write_conf("x = { nets = \"X-Class: ^secret, top$\"; };\n");
	c = cfg_load(path, defs, 5, own, other, errors, sizeof(errors));
	unlink(path);
	assert_non_null(c);
	assert_int_equal(cfg_list(c, "x.nets", &items), 1);
	assert_string_equal(items[0], "X-Class: ^secret, top$");
	cfg_free(c);
}

static void test_config_errors(void **state)
{
	char errors[2048];
	char *path = write_conf("x = {\n  nme = \"typo\";\n  count = 11;\n  flag = \"yes\";\n};\n"
	                        "y = { level = \"bogus\"; };\nw = { };\n");
	cfg *c = cfg_load(path, defs, 5, own, other, errors, sizeof(errors));
	char expect[256];

	(void)state;
	assert_null(c);
	snprintf(expect, sizeof(expect), "%s:2: unknown setting x.nme", path);
	assert_non_null(strstr(errors, expect));
	snprintf(expect, sizeof(expect), "%s:3: x.count: expected an integer from 1 to 10", path);
	assert_non_null(strstr(errors, expect));
	snprintf(expect, sizeof(expect), "%s:4: x.flag: expected true or false", path);
	assert_non_null(strstr(errors, expect));
	snprintf(expect, sizeof(expect),
	         "%s:6: y.level: \"bogus\" is not one of none, may, encrypt", path);
	assert_non_null(strstr(errors, expect));
	snprintf(expect, sizeof(expect), "%s:7: unknown section w", path);
	assert_non_null(strstr(errors, expect));
	unlink(path);
}

static void test_config_syntax(void **state)
{
	char errors[1024];
	char *path = write_conf("x = {\n name = ;\n};\n");
	cfg *c = cfg_load(path, defs, 5, own, other, errors, sizeof(errors));
	char expect[128];

	(void)state;
	unlink(path);
	assert_null(c);
	snprintf(expect, sizeof(expect), "%s:2: ", path);
	assert_non_null(strstr(errors, expect));
	assert_null(cfg_load("/nonexistent/forcetls.conf", defs, 5, own, other, errors,
	                     sizeof(errors)));
	assert_non_null(strstr(errors, "cannot read"));
}

static void test_listen_mode(void **state)
{
	unsigned mode = 1;

	(void)state;
	assert_int_equal(listen_parse_mode("0660", &mode), 0);
	assert_int_equal(mode, 0660);
	assert_int_equal(listen_parse_mode("600", &mode), 0);
	assert_int_equal(mode, 0600);
	mode = 1;
	assert_int_equal(listen_parse_mode("", &mode), -1);
	assert_int_equal(listen_parse_mode("0689", &mode), -1);
	assert_int_equal(listen_parse_mode("rw-rw----", &mode), -1);
	assert_int_equal(listen_parse_mode("017777", &mode), -1);
	assert_int_equal(mode, 1);
}

static void test_listen_unix_perms(void **state)
{
	char dir[] = "/tmp/ftls-test-listen-XXXXXX", path[64], addr[80], why[256];
	listen_perms open_p = {"", "", 0600, 1};
	listen_perms p = {"", "", 0640, 0};
	listen_perms bad = {"no-such-user-ftls", "", 0640, 0};
	struct stat st;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s", dir);
	snprintf(addr, sizeof(addr), "unix:%s", path);
	fd = listen_open(addr, &open_p, why, sizeof(why));
	assert_true(fd >= 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(listen_unix_perms(path, &p, why, sizeof(why)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(listen_unix_perms(path, &bad, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "unknown user no-such-user-ftls"));
	close(fd);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_netstring_ok),      cmocka_unit_test(test_netstring_more),
	        cmocka_unit_test(test_netstring_bad),     cmocka_unit_test(test_netstring_toolong),
	        cmocka_unit_test(test_netstring_format),  cmocka_unit_test(test_config_defaults),
	        cmocka_unit_test(test_config_values),     cmocka_unit_test(test_config_errors),
	        cmocka_unit_test(test_config_syntax),     cmocka_unit_test(test_listen_mode),
	        cmocka_unit_test(test_listen_unix_perms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
