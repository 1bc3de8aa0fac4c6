/*
 * tests/tap.h - a tiny TAP producer for the unit tests
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * Each test program calls ok()/is_int()/is_mem() any number of times and
 * returns done_testing() from main().  Failures print "got X, want Y".
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3), unused)) static int
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		tap_failed++;
	fflush(stdout);
	return cond;
}

__attribute__((format(printf, 3, 4), unused)) static void
diag(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("# %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

#define is_int(got, want, ...) do {					\
	long long g_ = (long long)(got), w_ = (long long)(want);	\
	if (!ok(g_ == w_, __VA_ARGS__))					\
		diag(__FILE__, __LINE__, "got %lld (0x%llx), want %lld (0x%llx)", \
		    g_, (unsigned long long)g_, w_, (unsigned long long)w_); \
} while (0)

__attribute__((unused)) static void
tap_hex(const char *what, const uint8_t *p, size_t n)
{
	size_t i;

	printf("#   %s (%zu): ", what, n);
	for (i = 0; i < n && i < 96; i++)
		printf("%02x", p[i]);
	printf("%s\n", n > 96 ? "..." : "");
}

#define is_mem(got, glen, want, wlen, ...) do {				\
	const uint8_t *g_ = (const uint8_t *)(got), *w_ = (const uint8_t *)(want); \
	size_t gl_ = (glen), wl_ = (wlen);				\
	if (!ok(gl_ == wl_ && (gl_ == 0 || memcmp(g_, w_, gl_) == 0), __VA_ARGS__)) { \
		diag(__FILE__, __LINE__, "bytes differ");		\
		tap_hex("got ", g_, gl_);				\
		tap_hex("want", w_, wl_);				\
	}								\
} while (0)

/* hex2bin - decode hex (whitespace ignored) into out; returns length */
__attribute__((unused)) static size_t
hex2bin(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1, v;

	for (; *hex; hex++) {
		char c = *hex;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			continue;
		if (hi < 0)
			hi = v;
		else {
			if (n < cap)
				out[n] = (uint8_t)(hi << 4 | v);
			n++;
			hi = -1;
		}
	}
	return n;
}

static int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	if (tap_failed)
		printf("# %d of %d failed\n", tap_failed, tap_n);
	return tap_failed ? 1 : 0;
}

#endif /* TAP_H */
