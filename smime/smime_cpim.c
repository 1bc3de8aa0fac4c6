/*
 * smime/smime_cpim.c - message/cpim (RFC 3862): build, strict parse,
 * RFC 3339 time, identity URI comparison
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	The entity we write (spec/smime-sip.md 6.2):
 *
 *	  Content-Type: message/cpim CRLF CRLF
 *	  From: <uri> CRLF  To: <uri> CRLF ...  cc: <uri> CRLF ...
 *	  DateTime: 2026-11-22T09:30:00Z CRLF
 *	  CRLF
 *	  Content-Type: <user type> CRLF CRLF <user body>
 *
 *	The CPIM header block is parsed here, not by GMime (4.2), with the
 *	line rules of RFC 3862 2.2 and 3: CRLF line ends, a name, a colon,
 *	exactly one space, a value with no leading or trailing white space
 *	and no control characters, UTF-8.  Lines, headers and addresses are
 *	bounded.  Exactly one From and one DateTime, at least one To, any cc;
 *	Subject, NS and unknown headers are skipped unless a Require header
 *	names one we do not implement (RFC 3862 4.7).  The encapsulated
 *	entity goes to smime_entity_parse (GMime).
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "smime/smime-int.h"

/* --------------------------------------------------------------------- */
/* URIs */

/* scheme_len - length of "scheme" before ':' (RFC 3986 3.1), 0 if none */
static size_t
scheme_len(const char *u)
{
	size_t i;

	if (!isalpha((unsigned char)u[0]))
		return 0;
	for (i = 1; u[i] != ':'; i++)
		if (!isalnum((unsigned char)u[i]) && u[i] != '+' &&
		    u[i] != '-' && u[i] != '.')
			return 0;
	return i;
}

int
smime_uri_check(const char *u)
{
	size_t len, i;
	int high = 0;

	if (u == NULL || (len = strlen(u)) == 0 || len > SMIME_MAX_URI)
		return SMIME_ERR_INVAL;
	if (scheme_len(u) == 0 || u[scheme_len(u) + 1] == '\0')
		return SMIME_ERR_INVAL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)u[i];

		if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' ||
		    c == '"')
			return SMIME_ERR_INVAL;
		if (c >= 0x80)
			high = 1;
	}
	if (high && !g_utf8_validate(u, (gssize)len, NULL))
		return SMIME_ERR_INVAL;
	return 0;
}

/* sip_split - user part and host[:port] of what follows "sip:" */
static void
sip_split(const char *r, const char **user, size_t *ulen, const char **host,
    size_t *hlen)
{
	const char *at = strchr(r, '@');

	if (at != NULL) {
		*user = r;
		*ulen = (size_t)(at - r);
		r = at + 1;
	} else {
		*user = r;
		*ulen = 0;
	}
	*host = r;
	*hlen = strcspn(r, ";?");
}

int
smime_uri_equal(const char *a, const char *b)
{
	const char *ua, *ub, *ha, *hb;
	size_t sa, sb, ula, ulb, hla, hlb;

	if (a == NULL || b == NULL)
		return 0;
	sa = scheme_len(a);
	sb = scheme_len(b);
	if (sa == 0 || sa != sb || g_ascii_strncasecmp(a, b, sa) != 0)
		return 0;
	if ((sa == 3 && g_ascii_strncasecmp(a, "sip", 3) == 0) ||
	    (sa == 4 && g_ascii_strncasecmp(a, "sips", 4) == 0)) {
		sip_split(a + sa + 1, &ua, &ula, &ha, &hla);
		sip_split(b + sb + 1, &ub, &ulb, &hb, &hlb);
		return ula == ulb && memcmp(ua, ub, ula) == 0 &&
		    hla == hlb && hla > 0 &&
		    g_ascii_strncasecmp(ha, hb, hla) == 0;
	}
	return strcmp(a + sa, b + sb) == 0;
}

/* --------------------------------------------------------------------- */
/* Time (RFC 3339 5.6, the profile of RFC 3862 4.4) */

int64_t
smime_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	/* H. Hinnant's days_from_civil, proleptic Gregorian */
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * ((int64_t)m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
smime_rfc3339_format(int64_t t, char *buf, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;
	int n;

	if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL ||
	    tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
		return SMIME_ERR_INVAL;
	n = snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	return n > 0 && (size_t)n < len ? 0 : SMIME_ERR_INVAL;
}

/* digits - n decimal digits at s into *v; 0 on success */
static int
digits(const char *s, int n, int *v)
{
	int i;

	for (*v = 0, i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
smime_rfc3339_parse(const char *s, size_t len, int64_t *t_out)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };
	const char *p = s, *end = s + len;
	int y, mo, d, h, mi, sec, oh, om, leap, sign;
	int64_t t;

	/* full-date "T" partial-time: 19 octets at least */
	if (len < 20 || digits(p, 4, &y) || p[4] != '-' ||
	    digits(p + 5, 2, &mo) || p[7] != '-' || digits(p + 8, 2, &d) ||
	    (p[10] != 'T' && p[10] != 't') || digits(p + 11, 2, &h) ||
	    p[13] != ':' || digits(p + 14, 2, &mi) || p[16] != ':' ||
	    digits(p + 17, 2, &sec))
		return SMIME_ERR_CPIM;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 60)
		return SMIME_ERR_CPIM;
	p += 19;
	if (*p == '.') {			/* time-secfrac: ignored */
		if (++p >= end || *p < '0' || *p > '9')
			return SMIME_ERR_CPIM;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p >= end)
		return SMIME_ERR_CPIM;
	oh = om = 0;
	sign = 0;
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (end - p < 6 || digits(p + 1, 2, &oh) || p[3] != ':' ||
		    digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return SMIME_ERR_CPIM;
		p += 6;
	} else
		return SMIME_ERR_CPIM;
	if (p != end)
		return SMIME_ERR_CPIM;
	if (sec == 60)			/* a leap second */
		sec = 59;
	t = smime_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + sec;
	t -= sign * (oh * 3600 + om * 60);
	*t_out = t;
	return 0;
}

/* --------------------------------------------------------------------- */
/* Build */

/* add_addr - "Name: <uri>" CRLF */
static void
add_addr(struct sbuf *out, const char *name, const char *uri)
{
	sbuf_adds(out, name);
	sbuf_adds(out, ": <");
	sbuf_adds(out, uri);
	sbuf_adds(out, ">\r\n");
}

int
smime_cpim_build(const struct smime_protect_args *a, int64_t t,
    struct sbuf *out)
{
	char dt[32];
	size_t i;
	int err;

	if ((err = smime_rfc3339_format(t, dt, sizeof(dt))) != 0)
		return err;
	sbuf_adds(out, "Content-Type: " SMIME_CT_CPIM "\r\n\r\n");
	add_addr(out, "From", a->from);
	for (i = 0; i < a->nto; i++)
		add_addr(out, "To", a->to[i]);
	for (i = 0; i < a->ncc; i++)
		add_addr(out, "cc", a->cc[i]);
	sbuf_adds(out, "DateTime: ");
	sbuf_adds(out, dt);
	sbuf_adds(out, "\r\n\r\n");
	/* the encapsulated MIME entity (RFC 3862 2.4) */
	sbuf_adds(out, "Content-Type: ");
	sbuf_adds(out, a->content_type);
	sbuf_adds(out, "\r\n\r\n");
	sbuf_add(out, a->body, a->body_len);
	return out->err;
}

/* --------------------------------------------------------------------- */
/* Parse */

/*
 * parse_addr - [ Formal-name ] "<" URI ">" (RFC 3862 3.2); *name_out may
 *	be NULL.  Both strings are malloc'd.
 */
static int
parse_addr(const char *v, size_t len, char **name_out, char **uri_out)
{
	char *uri = NULL, *name = NULL, *d;
	size_t lt, nlen, i;

	if (len < 3 || v[len - 1] != '>')
		return SMIME_ERR_CPIM;
	/* the URI cannot hold '<': the last one opens it */
	for (lt = len - 2; lt > 0 && v[lt] != '<'; lt--)
		;
	if (v[lt] != '<' || lt + 2 == len)
		return SMIME_ERR_CPIM;
	if ((uri = smime_strndup(v + lt + 1, len - lt - 2)) == NULL)
		return SMIME_ERR_NOMEM;
	if (smime_uri_check(uri) != 0)
		goto bad;
	nlen = lt;
	if (nlen > 0) {
		if (v[0] == '"') {
			/* String: quoted, "\" escapes, optional SP after */
			if (nlen >= 1 && v[nlen - 1] == ' ')
				nlen--;
			if (nlen < 2 || v[nlen - 1] != '"')
				goto bad;
			if ((name = malloc(nlen)) == NULL) {
				free(uri);
				return SMIME_ERR_NOMEM;
			}
			for (d = name, i = 1; i < nlen - 1; i++) {
				if (v[i] == '"')
					goto bad;
				if (v[i] == '\\' && ++i >= nlen - 1)
					goto bad;
				*d++ = v[i];
			}
			*d = '\0';
		} else {
			/* 1*( Token SP ): the name ends in one space */
			if (nlen < 2 || v[nlen - 1] != ' ' ||
			    v[nlen - 2] == ' ')
				goto bad;
			if ((name = smime_strndup(v, nlen - 1)) == NULL) {
				free(uri);
				return SMIME_ERR_NOMEM;
			}
		}
	}
	*uri_out = uri;
	if (name_out != NULL)
		*name_out = name;
	else
		free(name);
	return 0;
bad:
	free(name);
	free(uri);
	return SMIME_ERR_CPIM;
}

/* known - a CPIM header this parser implements (for Require) */
static int
known(const char *n, size_t len)
{
	static const char *const names[] = { "From", "To", "cc", "DateTime",
	    "Subject", "NS", "Require" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && memcmp(names[i], n, len) == 0)
			return 1;
	return 0;
}

/* check_require - every header a Require names must be known */
static int
check_require(const char *v, size_t len)
{
	const char *p = v, *end = v + len, *s;

	while (p < end) {
		for (s = p; p < end && *p != ','; p++)
			;
		while (s < p && *s == ' ')
			s++;
		if (!known(s, (size_t)(p - s)))
			return SMIME_ERR_CPIM;
		if (p < end)
			p++;
	}
	return 0;
}

/* header - one CPIM header line (without CRLF) into msg */
static int
header(const char *line, size_t len, struct smime_msg *msg, int *have_dt)
{
	const char *colon, *v;
	size_t nlen, vlen, i;
	char *uri = NULL;
	int err;

	if ((colon = memchr(line, ':', len)) == NULL || colon == line)
		return SMIME_ERR_CPIM;
	nlen = (size_t)(colon - line);
	for (i = 0; i < nlen; i++)
		if ((unsigned char)line[i] <= 0x20 ||
		    (unsigned char)line[i] >= 0x7f)
			return SMIME_ERR_CPIM;
	/* exactly one space, then a value with no white space at its ends */
	if (len < nlen + 3 || colon[1] != ' ')
		return SMIME_ERR_CPIM;
	v = colon + 2;
	vlen = len - nlen - 2;
	if (vlen == 0 || v[0] == ' ' || v[vlen - 1] == ' ')
		return SMIME_ERR_CPIM;
	for (i = 0; i < vlen; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] == 0x7f)
			return SMIME_ERR_CPIM;
	if (!g_utf8_validate(v, (gssize)vlen, NULL))
		return SMIME_ERR_CPIM;

#define IS(n)	(nlen == sizeof(n) - 1 && memcmp(line, n, nlen) == 0)
	if (IS("From")) {
		if (msg->from != NULL)
			return SMIME_ERR_CPIM;
		return parse_addr(v, vlen, &msg->from_name, &msg->from);
	}
	if (IS("To") || IS("cc")) {
		if ((IS("To") ? msg->nto : msg->ncc) == SMIME_MAX_ADDRS)
			return SMIME_ERR_CPIM;
		if ((err = parse_addr(v, vlen, NULL, &uri)) != 0)
			return err;
		if (IS("To"))
			msg->to[msg->nto++] = uri;
		else
			msg->cc[msg->ncc++] = uri;
		return 0;
	}
	if (IS("DateTime")) {
		if (*have_dt)
			return SMIME_ERR_CPIM;
		*have_dt = 1;
		return smime_rfc3339_parse(v, vlen, &msg->datetime);
	}
	if (IS("Require"))
		return check_require(v, vlen);
#undef IS
	return 0;			/* Subject, NS, extensions: skipped */
}

int
smime_cpim_parse(const uint8_t *buf, size_t len, size_t max_body,
    struct smime_msg *msg)
{
	const uint8_t *p = buf, *end = buf + len, *nl;
	struct sbuf body;
	size_t n, llen;
	int err, have_dt = 0, nh = 0;

	for (;;) {
		n = (size_t)(end - p);
		if (n > SMIME_CPIM_MAX_LINE)
			n = SMIME_CPIM_MAX_LINE;
		if ((nl = memchr(p, '\n', n)) == NULL || nl == p ||
		    nl[-1] != '\r')
			return SMIME_ERR_CPIM;	/* long, unended, bare LF */
		llen = (size_t)(nl - 1 - p);
		if (memchr(p, '\r', llen) != NULL)
			return SMIME_ERR_CPIM;	/* bare CR */
		if (llen == 0) {
			p = nl + 1;
			break;
		}
		if (++nh > SMIME_CPIM_MAX_HEADERS)
			return SMIME_ERR_CPIM;
		if ((err = header((const char *)p, llen, msg, &have_dt)) != 0)
			return err;
		p = nl + 1;
	}
	if (msg->from == NULL || msg->nto == 0 || !have_dt)
		return SMIME_ERR_CPIM;

	sbuf_init(&body, smime_max_body(max_body));
	if ((err = smime_entity_parse(p, (size_t)(end - p), max_body,
	    &msg->content_type, NULL, &body)) != 0)
		return err;
	msg->body = sbuf_take(&body, &msg->body_len);
	return msg->body == NULL ? SMIME_ERR_NOMEM : 0;
}
