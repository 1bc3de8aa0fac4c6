/*
 * common/log.c - one-line event logging for the imgate daemons
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * See common/log.h for the format and the severity ladder.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define TRACE_MAX	16
#define TRACE_NAME	32

static const char *log_name = "imgate";
static int log_level = LOG_LEVEL_INFO;
static int log_stderr = 1;
static long log_pid;		/* cached: getpid() is a syscall */
static int trace_all;
static size_t trace_n;
static char trace_names[TRACE_MAX][TRACE_NAME];

/* Tags written after the name (stderr) and the syslog priorities. */
enum kind { K_DEBUG, K_INFO, K_NOTICE, K_WARN, K_FATAL, K_TRACE };

void
log_init(const char *name, int level, int to_stderr)
{
	if (name != NULL)
		log_name = name;
	log_pid = (long)getpid();	/* call log_init again after fork */
	log_level = level;
	if (!to_stderr && log_stderr)
		openlog(log_name, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (to_stderr && !log_stderr)
		closelog();
	log_stderr = to_stderr;
}

void
log_setlevel(int level)
{
	log_level = level;
}

int
log_getlevel(void)
{
	return log_level;
}

int
log_level_parse(const char *s, int *level_out)
{
	if (s == NULL)
		return -1;
	if (strcasecmp(s, "debug") == 0)
		*level_out = LOG_LEVEL_DEBUG;
	else if (strcasecmp(s, "info") == 0)
		*level_out = LOG_LEVEL_INFO;
	else if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0)
		*level_out = LOG_LEVEL_WARN;
	else
		return -1;
	return 0;
}

const char *
log_level_name(int level)
{
	switch (level) {
	case LOG_LEVEL_DEBUG:
		return "debug";
	case LOG_LEVEL_INFO:
		return "info";
	default:
		return "warn";
	}
}

int
log_trace_enable(const char *list)
{
	char names[TRACE_MAX][TRACE_NAME];
	const char *p, *e;
	size_t n = 0, len;
	int all = 0;

	for (p = list; p != NULL && *p != '\0'; p = *e ? e + 1 : e) {
		while (*p == ' ')
			p++;
		e = p + strcspn(p, ",");
		len = (size_t)(e - p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len == 0)
			continue;
		if (len >= TRACE_NAME || n == TRACE_MAX)
			return -1;
		if (len == 3 && strncmp(p, "all", 3) == 0)
			all = 1;
		memcpy(names[n], p, len);
		names[n][len] = '\0';
		n++;
	}
	memcpy(trace_names, names, sizeof(names));
	trace_n = n;
	trace_all = all;
	return 0;
}

int
log_trace_on(const char *category)
{
	size_t i;

	if (trace_all)
		return 1;
	for (i = 0; i < trace_n; i++)
		if (strcmp(trace_names[i], category) == 0)
			return 1;
	return 0;
}

/* vis_plain - a byte log_vis copies as it is */
static int
vis_plain(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

/* vappend - vsnprintf at *off, keeping *off < cap (truncation is fine) */
static void
vappend(char *line, size_t cap, size_t *off, const char *fmt, va_list ap)
{
	int n;

	if (*off + 1 >= cap)
		return;
	n = vsnprintf(line + *off, cap - *off, fmt, ap);
	if (n > 0)
		*off += (size_t)n < cap - *off ? (size_t)n : cap - *off - 1;
}

/* append - vappend with arguments */
static void append(char *line, size_t cap, size_t *off, const char *fmt, ...)
    LOG_PRINTF(4, 5);
static void
append(char *line, size_t cap, size_t *off, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(line, cap, off, fmt, ap);
	va_end(ap);
}

/* vlog - format one line and write it with a single write(2) or syslog */
static void
vlog(enum kind k, const char *category, const char *fmt, va_list ap,
    int errnum)
{
	static const char *const tag[] = { "debug: ", "", "",
	    "warning: ", "fatal: ", "trace " };
	static const int pri[] = { LOG_DEBUG, LOG_INFO, LOG_NOTICE,
	    LOG_WARNING, LOG_CRIT, LOG_DEBUG };
	char line[LOG_LINE_MAX], tbuf[32];
	struct timespec ts;
	struct tm tm;
	size_t off = 0, cap = sizeof(line) - 1, i, start;

	if (log_stderr) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		if (strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
			tbuf[0] = '\0';
		append(line, cap, &off, "%s.%03ldZ %s[%ld]: ", tbuf,
		    ts.tv_nsec / 1000000L, log_name,
		    log_pid != 0 ? log_pid : (long)getpid());
	}
	start = off;
	append(line, cap, &off, "%s", tag[k]);
	if (k == K_TRACE)
		append(line, cap, &off, "%s: ", category);
	vappend(line, cap, &off, fmt, ap);
	if (errnum != 0)
		append(line, cap, &off, ": %s", strerror(errnum));
	if (off + 1 >= cap)
		memcpy(line + cap - 4, "...", 3);
	/* one event, one line: nothing may smuggle in a line break */
	for (i = start; i < off; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	if (log_stderr) {
		line[off++] = '\n';
		/* one write: lines of concurrent writers stay whole */
		if (write(STDERR_FILENO, line, off) < 0)
			return;
	} else {
		line[off] = '\0';
		syslog(pri[k], "%s", line + start);
	}
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (log_level > LOG_LEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	vlog(K_DEBUG, NULL, fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_level > LOG_LEVEL_INFO)
		return;
	va_start(ap, fmt);
	vlog(K_INFO, NULL, fmt, ap, 0);
	va_end(ap);
}

void
log_notice(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(K_NOTICE, NULL, fmt, ap, 0);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vlog(K_WARN, NULL, fmt, ap, saved);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(K_WARN, NULL, fmt, ap, 0);
	va_end(ap);
}

void
log_trace(const char *category, const char *fmt, ...)
{
	va_list ap;

	if ((trace_n == 0 && !trace_all) || !log_trace_on(category))
		return;
	va_start(ap, fmt);
	vlog(K_TRACE, category, fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vlog(K_FATAL, NULL, fmt, ap, saved);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(K_FATAL, NULL, fmt, ap, 0);
	va_end(ap);
	exit(1);
}

const char *
log_vis(char *dst, size_t dstlen, const void *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = src;
	size_t i, o = 0, need = 0, room;
	unsigned char c;

	if (dstlen == 0)
		return dst;
	for (i = 0; i < len; i++)
		need += vis_plain(s[i]) ? 1 : 4;
	/* when it does not all fit, stop at a whole token and add "..." */
	room = need < dstlen ? need : (dstlen >= 4 ? dstlen - 4 : 0);
	for (i = 0; i < len; i++) {
		c = s[i];
		if (vis_plain(c)) {
			if (o + 1 > room)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 > room)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	if (i < len && dstlen >= 4) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}
