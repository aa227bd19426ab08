/*
 * NAME
 *	test_metrics - unit tests for common/metrics.c: the registry, the
 *	exposition format, the loopback check and the listener
 * DESCRIPTION
 *	Counters, gauges, function series and a histogram are registered and
 *	moved; the text must carry HELP and TYPE once per family, cumulative
 *	buckets ending in +Inf equal to _count, and the values. The loopback
 *	check accepts 127.0.0.0/8 and [::1] only. The listener answers a
 *	scrape, a 404 and a 400, and stops.
 * SEE ALSO
 *	common/metrics.h; tests/e2e/t-metrics.sh for scrapes and abuse in a
 *	mail run.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics.h"

static double forty_two(void *arg)
{
	return *(double *)arg;
}

static double fn_value = 42;
static metric *c_ok, *c_temp, *g, *h;

static void setup_registry(void)
{
	static int done;
	int f;

	if (done++)
		return;
	f = metrics_family("t_requests_total", METRIC_COUNTER, "Requests.");
	c_ok = metrics_series(f, "result=\"ok\"");
	c_temp = metrics_series(f, "result=\"temp\"");
	g = metrics_series(metrics_family("t_gauge", METRIC_GAUGE, "A gauge."), "");
	metrics_series_fn(metrics_family("t_fn", METRIC_GAUGE, "From a function."), "", forty_two,
	                  &fn_value);
	h = metrics_series(metrics_family("t_seconds", METRIC_HISTOGRAM, "Times."), "type=\"mx\"");
}

static void test_format(void **state)
{
	char buf[8192];
	size_t n;

	(void)state;
	setup_registry();
	metric_inc(c_ok);
	metric_add(c_ok, 2);
	metric_set(g, -5);
	metric_observe(h, 0.0005); /* first bucket */
	metric_observe(h, 0.03);   /* le 0.05 */
	metric_observe(h, 100);    /* only +Inf */
	metric_inc(NULL);          /* a series the registry had no room for: nothing */
	n = metrics_format(buf, sizeof(buf));
	assert_true(n < sizeof(buf));
	assert_int_equal(strlen(buf), n);
	assert_non_null(strstr(buf, "# HELP t_requests_total Requests.\n"
	                            "# TYPE t_requests_total counter\n"
	                            "t_requests_total{result=\"ok\"} 3\n"
	                            "t_requests_total{result=\"temp\"} 0\n"));
	assert_non_null(strstr(buf, "# TYPE t_gauge gauge\nt_gauge -5\n"));
	assert_non_null(strstr(buf, "t_fn 42\n"));
	assert_non_null(strstr(buf, "# TYPE t_seconds histogram\n"));
	assert_non_null(strstr(buf, "t_seconds_bucket{type=\"mx\",le=\"0.001\"} 1\n"));
	assert_non_null(strstr(buf, "t_seconds_bucket{type=\"mx\",le=\"0.025\"} 1\n"));
	assert_non_null(strstr(buf, "t_seconds_bucket{type=\"mx\",le=\"0.05\"} 2\n"));
	assert_non_null(strstr(buf, "t_seconds_bucket{type=\"mx\",le=\"5\"} 2\n"));
	assert_non_null(strstr(buf, "t_seconds_bucket{type=\"mx\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(buf, "t_seconds_sum{type=\"mx\"} 100.030500\n"));
	assert_non_null(strstr(buf, "t_seconds_count{type=\"mx\"} 3\n"));
	/* Too small a buffer: terminated, and the length needed returned. */
	assert_int_equal(metrics_format(buf, 10), n);
	assert_int_equal(strlen(buf), 9);
}

static int lines;
static void count_line(const char *line)
{
	assert_null(strchr(line, '\n'));
	assert_true(line[0] != '#');
	lines++;
}

static void test_each(void **state)
{
	(void)state;
	setup_registry();
	lines = 0;
	metrics_each(count_line);
	/* 2 counters, 1 gauge, 1 function, 11 buckets + Inf + sum + count */
	assert_int_equal(lines, 2 + 1 + 1 + METRICS_NBUCKETS + 3);
}

static void test_listen_check(void **state)
{
	static const char *const good[] = {"inet:127.0.0.1:9419", "inet:127.9.8.7:1",
	                                   "inet:[::1]:65535"};
	static const char *const bad[] = {
	        "inet:0.0.0.0:9419",
	        "inet:192.0.2.1:9419",
	        "inet:localhost:9419",
	        "inet:[::]:9419",
	        "inet::9419",
	        "inet:127.0.0.1",
	        "inet:127.0.0.1:0",
	        "inet:127.0.0.1:70000",
	        "inet:127.0.0.1:9x",
	        "unix:/run/x.sock",
	        "127.0.0.1:9419",
	        "inet:[::ffff:127.0.0.1]:1",
	        "",
	};
	char why[300];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(metrics_listen_check(good[i], why, sizeof(why)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(metrics_listen_check(bad[i], why, sizeof(why)), -1);
		assert_non_null(strstr(why, "loopback"));
	}
}

/* One request to 127.0.0.1:port, the whole answer in out. */
static void ask(int port, const char *req, char *out, size_t len)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;
	ssize_t n;

	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (got + 1 < len && (n = read(fd, out + got, len - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
}

static void test_listener(void **state)
{
	char addr[64], why[300], out[16384];
	int port = 20000 + (int)(getpid() % 20000);

	(void)state;
	setup_registry();
	snprintf(addr, sizeof(addr), "inet:127.0.0.1:%d", port);
	assert_int_equal(metrics_start("inet:0.0.0.0:9", why, sizeof(why)), -1);
	if (metrics_start(addr, why, sizeof(why)) < 0)
		skip(); /* the port is taken: nothing to learn here */
	ask(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(out, "Content-Type: text/plain; version=0.0.4"));
	assert_non_null(strstr(out, "\r\n\r\n# HELP t_requests_total"));
	ask(port, "GET / HTTP/1.0\r\n\r\n", out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 404 "));
	ask(port, "\x01\x02\r\n\r\n", out, sizeof(out));
	assert_non_null(strstr(out, "HTTP/1.1 400 "));
	metrics_stop();
	metrics_stop(); /* twice: nothing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_format),
	        cmocka_unit_test(test_each),
	        cmocka_unit_test(test_listen_check),
	        cmocka_unit_test(test_listener),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
