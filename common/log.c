/*
 * NAME
 *	log.c - daemon logging to syslog (facility mail) or stderr
 * SUMMARY
 *	See log.h. Modeled on OpenSMTPD's log.c: log_warn with errno,
 *	log_warnx without, fatal/fatalx exit. On stderr that is systemd's
 *	journal (JOURNAL_STREAM set) a line carries its priority as the
 *	sd-daemon(3) "<N>" prefix and no timestamp; on any other stderr,
 *	"TIMESTAMP IDENT: message".
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"

static int log_stderr = 1;
static int log_journal; /* stderr is systemd's journal: "<PRI>" prefixes, no timestamp */
static int log_debug_on;
static const char *log_ident = "forcetls";

/*
 * systemd.exec(5): JOURNAL_STREAM is "DEVICE:INODE" of the journal stream
 * it gave the service. A child whose stderr was redirected inherits the
 * variable, so the numbers must be those of our stderr.
 */
static int stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (v == NULL || sscanf(v, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *ident, int to_stderr, int debug)
{
	log_ident = ident;
	log_stderr = to_stderr;
	log_journal = to_stderr && stderr_is_journal();
	log_debug_on = debug;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

static void vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char msg[4096];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_journal) {
		fprintf(stderr, "<%d>%s%s%s\n", pri, msg, suffix ? ": " : "", suffix ? suffix : "");
	} else if (log_stderr) {
		char ts[32];
		time_t now = time(NULL);
		struct tm tm;

		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", localtime_r(&now, &tm));
		fprintf(stderr, "%s %s: %s%s%s\n", ts, log_ident, msg, suffix ? ": " : "",
		        suffix ? suffix : "");
	} else {
		syslog(pri, "%s%s%s", msg, suffix ? ": " : "", suffix ? suffix : "");
	}
}

#define LOGFN(name, pri, check)                                                                    \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		va_list ap;                                                                        \
		if (!(check))                                                                      \
			return;                                                                    \
		va_start(ap, fmt);                                                                 \
		vlog(pri, fmt, ap, NULL);                                                          \
		va_end(ap);                                                                        \
	}

LOGFN(log_debug, LOG_DEBUG, log_debug_on)
LOGFN(log_info, LOG_INFO, 1)
LOGFN(log_warnx, LOG_WARNING, 1)
LOGFN(log_errx, LOG_ERR, 1)

void log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, err);
	va_end(ap);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

void fatal(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, err);
	va_end(ap);
	exit(1);
}

const char *log_safe(const char *s, size_t len, char *buf, size_t buflen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (buflen == 0)
		return "";
	for (size_t i = 0; i < len && o + 5 < buflen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = '\0';
	return buf;
}

void log_report(void *ctx, const char *file, unsigned line, const char *msg)
{
	(void)ctx;
	if (line > 0)
		log_errx("%s:%u: %s", file, line, msg);
	else
		log_errx("%s: %s", file, msg);
}

void log_errx_lines(const char *text)
{
	char copy[8192], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", text);
	for (char *l = strtok_r(copy, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save))
		log_errx("%s", l);
}
