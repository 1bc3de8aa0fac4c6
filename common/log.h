/*
 * common/log.h - one-line event logging for the imgate daemons
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	The shape of OpenSMTPD's usr.sbin/smtpd/log.h, shared by imgate-kms
 *	and the gateway.  Every call writes exactly one line: a stable event
 *	id first ("kms request", "kms reload"), then key=value pairs, e.g.
 *
 *	    kms request exchange=request outcome=ok requester=sip:a@b ms=0.21
 *
 *	Lines go to stderr (with a UTC timestamp, the program name and pid)
 *	or to syslog (facility daemon).  A line is built in a stack buffer
 *	and written with one write(2), so lines from several threads or
 *	processes sharing a file do not interleave; control characters in
 *	the finished line are replaced by '?' so that a message can never
 *	forge a second line.  Values that come from the network should still
 *	go through log_vis() so that they stay one token.
 *
 *	Severity ladder (style.md section 4): log_debug and log_info are
 *	filtered by the level; log_notice always shows (life-cycle events:
 *	started, ready, reloaded, stopped; and audit records of privileged
 *	acts, e.g. a network function resolving a ticket); log_warn and
 *	log_warnx always show; fatal/fatalx log and exit(1).  log_trace adds
 *	named categories switched on at run time ("http,policy" or "all"),
 *	independent of the level.
 *
 *	libc only; no allocation; never logs on its own.
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __GNUC__
#define LOG_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define LOG_NORETURN		__attribute__((noreturn))
#else
#define LOG_PRINTF(f, a)
#define LOG_NORETURN
#endif

/* Levels, lowest first.  A message shows when its level >= the set one. */
enum log_level {
	LOG_LEVEL_DEBUG = 0,
	LOG_LEVEL_INFO = 1,
	LOG_LEVEL_WARN = 2
};

/* The longest line written; longer ones end in "...". */
#define LOG_LINE_MAX	4096

/*
 * log_init - name each line with name (kept as an alias: pass a string
 *	that lives as long as the program), show messages at level and
 *	above, write to stderr if to_stderr, else to syslog.  May be called
 *	again (e.g. after the configuration gave a level), and must be after
 *	a fork: the pid written on each line is taken here.
 */
void	log_init(const char *name, int level, int to_stderr);

/* log_setlevel - change the level; log_getlevel - the current one */
void	log_setlevel(int level);
int	log_getlevel(void);

/*
 * log_level_parse - "debug", "info" or "warn" (also "warning") to a
 *	LOG_LEVEL_*; 0 on success, -1 for anything else (*level_out
 *	untouched).
 */
int	log_level_parse(const char *s, int *level_out);
/* log_level_name - "debug", "info", "warn" (never NULL) */
const char *log_level_name(int level);

/*
 * log_trace_enable - switch on trace categories: a comma-separated list
 *	of names ("http,policy") or "all"; NULL or "" switches all off.
 *	At most 16 names of up to 31 characters; -1 if the list does not
 *	fit (nothing changed), else 0.
 */
int	log_trace_enable(const char *list);
/* log_trace_on - 1 if category is switched on */
int	log_trace_on(const char *category);

void	log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
/* log_notice - shown at every level: life cycle and audit records */
void	log_notice(const char *fmt, ...) LOG_PRINTF(1, 2);
/* log_warn - appends ": " and strerror(errno) as it was on entry */
void	log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
/* log_trace - only if category is switched on (log_trace_enable) */
void	log_trace(const char *category, const char *fmt, ...)
	    LOG_PRINTF(2, 3);
/* fatal - log with strerror(errno) appended, then exit(1) */
void	fatal(const char *fmt, ...) LOG_PRINTF(1, 2) LOG_NORETURN;
/* fatalx - log, then exit(1) */
void	fatalx(const char *fmt, ...) LOG_PRINTF(1, 2) LOG_NORETURN;

/*
 * log_vis - make untrusted bytes safe as one key=value token: printable
 *	ASCII other than space, '"', '\\' and '=' is copied, everything
 *	else becomes \xNN.  Writes at most dstlen bytes including the NUL
 *	(dstlen > 0); a value that does not fit ends in "...".  Returns dst.
 */
const char *log_vis(char *dst, size_t dstlen, const void *src, size_t len);

#endif /* COMMON_LOG_H */
