/*
 * tests/unit/common/t_log.c - common/log: levels, trace names, log_vis and
 *	the one-event-one-line rule (TAP)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static void
test_vis(void)
{
	static const struct {
		const char *in;
		size_t len, cap;
		const char *want;
	} t[] = {
		{ "sip:alice@corp.example", 22, 64, "sip:alice@corp.example" },
		{ "a b", 3, 64, "a\\x20b" },
		{ "x=\"y\"\\", 6, 64, "x\\x3d\\x22y\\x22\\x5c" },
		{ "line\nforged", 11, 64, "line\\x0aforged" },
		{ "\0\xff", 2, 64, "\\x00\\xff" },
		{ "abcdefghij", 10, 8, "abcd..." },
		{ "abcdefghij", 10, 11, "abcdefghij" },
		{ "\n\n\n", 3, 9, "\\x0a..." },
		{ "", 0, 4, "" },
	};
	char out[64];
	size_t i;

	for (i = 0; i < NELEM(t); i++) {
		memset(out, 'Z', sizeof(out));
		log_vis(out, t[i].cap, t[i].in, t[i].len);
		ok(strcmp(out, t[i].want) == 0 && strlen(out) < t[i].cap,
		    "log_vis %zu: got \"%s\", want \"%s\"", i, out, t[i].want);
	}
}

static void
test_levels(void)
{
	int l = -1;

	ok(log_level_parse("debug", &l) == 0 && l == LOG_LEVEL_DEBUG, "debug");
	ok(log_level_parse("INFO", &l) == 0 && l == LOG_LEVEL_INFO, "INFO");
	ok(log_level_parse("warning", &l) == 0 && l == LOG_LEVEL_WARN,
	    "warning");
	l = 42;
	ok(log_level_parse("loud", &l) == -1 && l == 42, "loud refused");
	ok(log_level_parse(NULL, &l) == -1, "NULL refused");
	ok(strcmp(log_level_name(LOG_LEVEL_WARN), "warn") == 0, "name");

	is_int(log_trace_enable("http, policy"), 0, "trace list");
	ok(log_trace_on("http") && log_trace_on("policy") &&
	    !log_trace_on("reload"), "trace categories on and off");
	is_int(log_trace_enable("all"), 0, "trace all");
	ok(log_trace_on("anything"), "all switches every category on");
	is_int(log_trace_enable("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q"), -1,
	    "17 names refused");
	ok(log_trace_on("anything"), "... and nothing changed");
	is_int(log_trace_enable(""), 0, "empty list");
	ok(!log_trace_on("http"), "all off");
}

/* capture - run f with stderr going to a pipe; the text into buf */
static size_t
capture(void (*f)(void), char *buf, size_t cap)
{
	int p[2], saved;
	ssize_t n;
	size_t len = 0;

	if (pipe(p) != 0)
		return 0;
	saved = dup(2);
	dup2(p[1], 2);
	close(p[1]);
	f();
	dup2(saved, 2);
	close(saved);
	while (len + 1 < cap && (n = read(p[0], buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(p[0]);
	return len;
}

static void
emit(void)
{
	log_init("t_log", LOG_LEVEL_INFO, 1);
	log_debug("not shown");
	log_info("kms event one=1 two=%s", "two\nthree");
	errno = ENOENT;
	log_warn("kms warn file=%s", "x");
	log_notice("kms notice");
	log_trace("http", "not shown");
	log_setlevel(LOG_LEVEL_WARN);
	log_info("not shown either");
	log_notice("kms notice at warn");
	log_setlevel(LOG_LEVEL_INFO);
}

static void
test_output(void)
{
	char buf[4096], *line[8], *p;
	size_t n = 0;

	capture(emit, buf, sizeof(buf));
	for (p = strtok(buf, "\n"); p != NULL && n < NELEM(line);
	    p = strtok(NULL, "\n"))
		line[n++] = p;
	is_int(n, 4, "four lines (debug, trace and a filtered info are not "
	    "written; an embedded newline does not make a line)");
	if (n != 4)
		return;
	ok(strstr(line[0], " t_log[") != NULL &&
	    strstr(line[0], "]: kms event one=1 two=two?three") != NULL,
	    "info line, control characters replaced: %s", line[0]);
	ok(strstr(line[1], "]: warning: kms warn file=x: ") != NULL &&
	    strstr(line[1], strerror(ENOENT)) != NULL,
	    "log_warn appends strerror: %s", line[1]);
	ok(strstr(line[2], "]: kms notice") != NULL, "notice: %s", line[2]);
	ok(strstr(line[3], "]: kms notice at warn") != NULL,
	    "notice shows at level warn: %s", line[3]);
	ok(line[0][4] == '-' && line[0][10] == 'T' && line[0][23] == 'Z',
	    "ISO 8601 UTC timestamp: %.24s", line[0]);
}

int
main(void)
{
	test_vis();
	test_levels();
	test_output();
	return done_testing();
}
