/*
 * NAME
 *	log.h - daemon logging to syslog (facility mail) or stderr
 * DESCRIPTION
 *	The daemons log; the libraries never do. A line about a message starts
 *	with its queue ID ("4BqX2x1Zz: ..."), supplied by the caller. Untrusted
 *	strings must go through log_safe() first (control bytes escaped, cut).
 *	In the foreground (or when log_init(..., 1)) lines go to stderr with a
 *	timestamp; otherwise to syslog(3) with LOG_PID, facility LOG_MAIL.
 */
#ifndef FORCETLS_LOG_H
#define FORCETLS_LOG_H

#include <stddef.h>

void log_init(const char *ident, int to_stderr, int debug);
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends ": strerror(errno)". */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log and exit(1). */
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Copy s (len bytes) into buf, printable ASCII kept, others as \xNN, cut to fit. */
const char *log_safe(const char *s, size_t len, char *buf, size_t buflen);

/* log_errx each line of text (several diagnostics, one per line). */
void log_errx_lines(const char *text);
/* A tlsmaps_report_fn: each diagnostic logged as an error, "FILE:LINE: msg"
 * (or "FILE: msg" when line is 0). */
void log_report(void *ctx, const char *file, unsigned line, const char *msg);

#endif
