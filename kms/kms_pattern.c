/*
 * kms/kms_pattern.c - identities and patterns of imgate-kms: URI
 *	normalisation, pattern checking, matching and overlap, host:port
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	An identity is a URI: scheme ":" [user "@"] host (FORMATS.md
 *	section 2).  For lookups it is normalised (scheme and host
 *	lower-cased, the user part as is).  A pattern is an identity with
 *	'*' in the user part or the host; '*' never crosses '@'.
 *
 *	Patterns are matched by pure functions (kms_pattern_match,
 *	kms_pattern_overlap) with no allocation, so that the policy
 *	callbacks (kms_policy.c) allocate nothing per request.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kms/kms.h"

/* ---------------------------------------------------------------------- */
/* URIs and patterns */

struct uri_parts {
	const char	*scheme;
	size_t		 scheme_len;
	int		 has_user;
	const char	*user;
	size_t		 user_len;
	const char	*host;
	size_t		 host_len;
};

/* uri_split - scheme ":" [user "@"] host; -1 without a scheme */
static int
uri_split(const char *s, size_t len, struct uri_parts *u)
{
	const char *colon, *at, *rest;
	size_t rlen;

	memset(u, 0, sizeof(*u));
	if ((colon = memchr(s, ':', len)) == NULL || colon == s)
		return -1;
	u->scheme = s;
	u->scheme_len = (size_t)(colon - s);
	rest = colon + 1;
	rlen = len - u->scheme_len - 1;
	if ((at = memchr(rest, '@', rlen)) != NULL) {
		u->has_user = 1;
		u->user = rest;
		u->user_len = (size_t)(at - rest);
		u->host = at + 1;
		u->host_len = rlen - u->user_len - 1;
	} else {
		u->host = rest;
		u->host_len = rlen;
	}
	return 0;
}

int
kms_uri_norm(const char *in, size_t len, char *out, size_t cap)
{
	struct uri_parts u;
	size_t i;

	if (len + 1 > cap || len == 0)
		return -1;
	for (i = 0; i < len; i++)
		if ((unsigned char)in[i] <= 0x20 ||
		    (unsigned char)in[i] >= 0x7f)
			return -1;	/* also NUL: no truncated lookups */
	memcpy(out, in, len);
	out[len] = '\0';
	if (uri_split(out, len, &u) != 0)
		return (int)len;	/* not a URI: compared as bytes */
	for (i = 0; i < u.scheme_len; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	for (i = 0; i < u.host_len; i++)
		out[(size_t)(u.host - out) + i] =
		    (char)tolower((unsigned char)u.host[i]);
	return (int)len;
}

int
kms_pattern_check(const char *pat, int wild, char *err, size_t errlen)
{
	struct uri_parts u;
	size_t len = strlen(pat), i;

	if (len == 0) {
		snprintf(err, errlen, "empty identity");
		return -1;
	}
	if (len > KMS_URI_MAX) {
		snprintf(err, errlen, "longer than %d bytes", KMS_URI_MAX);
		return -1;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)pat[i] <= 0x20 ||
		    (unsigned char)pat[i] >= 0x7f) {
			snprintf(err, errlen, "\"%s\": spaces and control or "
			    "non-ASCII characters are not allowed", pat);
			return -1;
		}
	if (uri_split(pat, len, &u) != 0) {
		snprintf(err, errlen, "\"%s\" is not a URI (want scheme:user@"
		    "host, e.g. sip:alice@corp.example)", pat);
		return -1;
	}
	if (!isalpha((unsigned char)u.scheme[0])) {
		snprintf(err, errlen, "\"%s\": the scheme must start with a "
		    "letter", pat);
		return -1;
	}
	for (i = 1; i < u.scheme_len; i++)
		if (!isalnum((unsigned char)u.scheme[i]) &&
		    u.scheme[i] != '+' && u.scheme[i] != '-' &&
		    u.scheme[i] != '.') {
			snprintf(err, errlen, "\"%s\": '%c' is not allowed in "
			    "the scheme", pat, u.scheme[i]);
			return -1;
		}
	if ((u.has_user && u.user_len == 0) || u.host_len == 0) {
		snprintf(err, errlen, "\"%s\": empty %s", pat,
		    u.host_len == 0 ? "host" : "user part");
		return -1;
	}
	if (memchr(u.host, '@', u.host_len) != NULL) {
		snprintf(err, errlen, "\"%s\": more than one '@'", pat);
		return -1;
	}
	if (!wild && strchr(pat, '*') != NULL) {
		snprintf(err, errlen, "\"%s\": no '*' allowed here", pat);
		return -1;
	}
	return 0;
}

/* ceq - one character of a part equal (ignoring case for hosts) */
static int
ceq(char a, char b, int icase)
{
	if (icase)
		return tolower((unsigned char)a) == tolower((unsigned char)b);
	return a == b;
}

/*
 * glob - p (with '*') against s: the classic single-backtrack matcher,
 *	linear in practice; '*' never covers '@'.
 */
static int
glob(const char *p, size_t pl, const char *s, size_t sl, int icase)
{
	size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;

	while (si < sl) {
		if (pi < pl && p[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (pi < pl && ceq(p[pi], s[si], icase)) {
			pi++;
			si++;
		} else if (star != (size_t)-1 && s[mark] != '@') {
			pi = star + 1;
			si = ++mark;
		} else
			return 0;
	}
	while (pi < pl && p[pi] == '*')
		pi++;
	return pi == pl;
}

int
kms_pattern_match(const char *pat, const char *s, size_t len)
{
	struct uri_parts p, u;
	size_t i;

	if (uri_split(pat, strlen(pat), &p) != 0 ||
	    uri_split(s, len, &u) != 0)
		return 0;
	if (p.scheme_len != u.scheme_len || p.has_user != u.has_user)
		return 0;
	for (i = 0; i < p.scheme_len; i++)
		if (!ceq(p.scheme[i], u.scheme[i], 1))
			return 0;
	if (p.has_user && !glob(p.user, p.user_len, u.user, u.user_len, 0))
		return 0;
	return glob(p.host, p.host_len, u.host, u.host_len, 1);
}

#define OV_MAX	(KMS_URI_MAX + 1)

/*
 * glob_overlap - 1 if some string matches both a and b.  The product of
 *	the two patterns' automata: state (i, j) is "a[..i) and b[..j) have
 *	matched the same prefix".  Stars step over themselves (empty run);
 *	a star against a character consumes it (unless '@'); a star against
 *	a star loops.  Every step increases i or j, so one pass in row order
 *	settles the reachable set.  (al+1)*(bl+1) bits on the stack.
 */
static int
glob_overlap(const char *a, size_t al, const char *b, size_t bl, int icase)
{
	uint8_t reach[(OV_MAX * OV_MAX + 7) / 8];
	size_t i, j, w = bl + 1;

#define R_SET(x, y) (reach[((x) * w + (y)) >> 3] |= \
	(uint8_t)(1u << (((x) * w + (y)) & 7)))
#define R_GET(x, y) (reach[((x) * w + (y)) >> 3] >> (((x) * w + (y)) & 7) & 1)
	if (al >= OV_MAX || bl >= OV_MAX)
		return 0;
	memset(reach, 0, ((al + 1) * w + 7) / 8);
	R_SET(0, 0);
	for (i = 0; i <= al; i++)
		for (j = 0; j <= bl; j++) {
			if (!R_GET(i, j))
				continue;
			if (i == al && j == bl)
				return 1;
			if (i < al && a[i] == '*')
				R_SET(i + 1, j);
			if (j < bl && b[j] == '*')
				R_SET(i, j + 1);
			if (i == al || j == bl)
				continue;
			if (a[i] != '*' && b[j] != '*') {
				if (ceq(a[i], b[j], icase))
					R_SET(i + 1, j + 1);
			} else if (a[i] == '*' && b[j] != '*') {
				if (b[j] != '@')
					R_SET(i, j + 1);
			} else if (a[i] != '*' && b[j] == '*') {
				if (a[i] != '@')
					R_SET(i + 1, j);
			}
		}
	return 0;
#undef R_SET
#undef R_GET
}

int
kms_pattern_overlap(const char *a, const char *b)
{
	struct uri_parts p, q;
	size_t i;

	if (uri_split(a, strlen(a), &p) != 0 ||
	    uri_split(b, strlen(b), &q) != 0)
		return 0;
	if (p.scheme_len != q.scheme_len || p.has_user != q.has_user)
		return 0;
	for (i = 0; i < p.scheme_len; i++)
		if (!ceq(p.scheme[i], q.scheme[i], 1))
			return 0;
	if (p.has_user && !glob_overlap(p.user, p.user_len, q.user,
	    q.user_len, 0))
		return 0;
	return glob_overlap(p.host, p.host_len, q.host, q.host_len, 1);
}

int
kms_hostport_split(const char *s, char *host, size_t hostcap, uint16_t *port)
{
	const char *colon, *h, *he;
	char *end;
	unsigned long v;

	if ((colon = strrchr(s, ':')) == NULL || colon[1] == '\0')
		return -1;
	h = s;
	he = colon;
	if (*s == '[') {
		if (colon == s || colon[-1] != ']')
			return -1;
		h = s + 1;
		he = colon - 1;
	} else if (memchr(s, ':', (size_t)(colon - s)) != NULL)
		return -1;	/* an IPv6 address needs [brackets] */
	if (he <= h || (size_t)(he - h) >= hostcap)
		return -1;
	errno = 0;
	if (colon[1] < '0' || colon[1] > '9')
		return -1;
	v = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || v > 65535)
		return -1;
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';
	*port = (uint16_t)v;
	return 0;
}
