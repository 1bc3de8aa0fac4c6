/*
 * gateway/gw_frame.c - find one SIP message in a stream buffer or a
 *	datagram: keep-alive CRLFs, the end of the headers, Content-Length
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	libosip2 must never decide where a message ends (spec/smime-sip.md
 *	5.2), so the gateway frames every message itself: skip CRLFs before
 *	the start line (RFC 3261 7.5), find CRLFCRLF within max_head octets,
 *	then read Content-Length with a tolerant scanner of our own.  The
 *	functions are pure: no allocation, no state, and nothing is read
 *	outside [buf, buf + len).
 *
 *	Content-Length rules (RFC 3261 7.3.1, 20.14):
 *	  the name is case-insensitive, "Content-Length" or the compact "l";
 *	  whitespace may surround the colon and the value may sit on a
 *	  continuation line; the value is 1*DIGIT and nothing else; a value
 *	  that does not fit in size_t is refused.  Several Content-Length
 *	  headers with one value are tolerated, with different values they
 *	  are refused: two readers could otherwise disagree on where the
 *	  next message starts (request smuggling).
 *
 *	gw_msg_parse (gw_sip.c) finds the Content-Length lines with the same
 *	notion of a header line, so the length the framer used and the
 *	headers libosip2 sees describe one message.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "gateway/gw_sip.h"

#define IS_WSP(c)	((c) == ' ' || (c) == '\t')

/* skip_crlf - the number of CR and LF octets at the start of buf */
static size_t
skip_crlf(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len && (buf[i] == '\r' || buf[i] == '\n'); i++)
		;
	return i;
}

/*
 * find_head - the length of the header block at p (through CRLFCRLF) if
 *	it ends within min(len, max_head) octets, else 0
 */
static size_t
find_head(const char *p, size_t len, size_t max_head)
{
	size_t n, i;

	n = len < max_head ? len : max_head;
	if (n < 4)
		return 0;
	for (i = 0; i + 4 <= n; i++) {
		if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' &&
		    p[i + 3] == '\n')
			return i + 4;
	}
	return 0;
}

/* line_end - offset of the CRLF ending the physical line at p[off], or
 *	len if there is none */
static size_t
line_end(const char *p, size_t len, size_t off)
{
	for (; off + 1 < len; off++) {
		if (p[off] == '\r' && p[off + 1] == '\n')
			return off;
	}
	return len;
}

/* is_clen_name - 1 if p[0..n) is "Content-Length" or "l" (any case) */
static int
is_clen_name(const char *p, size_t n)
{
	static const char full[] = "content-length";
	size_t i;

	if (n == 1)
		return p[0] == 'l' || p[0] == 'L';
	if (n != sizeof(full) - 1)
		return 0;
	for (i = 0; i < n; i++) {
		char c = p[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != full[i])
			return 0;
	}
	return 1;
}

/*
 * clen_value - parse the value p[0..n) (the rest of a logical line after
 *	the colon, continuation CRLFs included): LWS, 1*DIGIT, LWS.  0 or -1.
 */
static int
clen_value(const char *p, size_t n, size_t *out)
{
	size_t i = 0, v = 0, digits = 0;

	while (i < n && (IS_WSP(p[i]) || p[i] == '\r' || p[i] == '\n'))
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
		size_t d = (size_t)(p[i] - '0');

		if (v > (SIZE_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (digits == 0)
		return -1;
	while (i < n && (IS_WSP(p[i]) || p[i] == '\r' || p[i] == '\n'))
		i++;
	if (i != n)
		return -1;
	*out = v;
	return 0;
}

/*
 * scan_clen - find Content-Length in the header block p[0..len) (start
 *	line first, CRLFCRLF last).  0 with *has and *clen set, or -1 with
 *	*why.
 */
static int
scan_clen(const char *p, size_t len, int *has, size_t *clen,
    const char **why)
{
	size_t off, end, next, colon, nend, v;

	*has = 0;
	*clen = 0;
	/* the start line is never a header */
	off = line_end(p, len, 0);
	if (off >= len)
		return 0;
	off += 2;
	while (off < len) {
		end = line_end(p, len, off);
		if (end == off)
			break;		/* the empty line: end of headers */
		/* a logical line takes its continuation lines along */
		next = end;
		while (next + 2 < len && IS_WSP(p[next + 2]))
			next = line_end(p, len, next + 2);
		if (IS_WSP(p[off])) {
			/* a continuation without a header: libosip2's
			 * business (it refuses it) */
			off = next + 2;
			continue;
		}
		for (colon = off; colon < end && p[colon] != ':'; colon++)
			;
		if (colon < end) {
			nend = colon;
			while (nend > off && IS_WSP(p[nend - 1]))
				nend--;
			if (is_clen_name(p + off, nend - off)) {
				if (clen_value(p + colon + 1, next - colon - 1,
				    &v) == -1) {
					*why = "bad Content-Length";
					return -1;
				}
				if (*has && v != *clen) {
					*why = "Content-Length conflict";
					return -1;
				}
				*has = 1;
				*clen = v;
			}
		}
		off = next + 2;
	}
	return 0;
}

int
gw_frame_stream(const char *buf, size_t len, size_t max_head,
    size_t max_msg, struct gw_frame *f, const char **why)
{
	const char *dummy, *p;
	size_t avail;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	memset(f, 0, sizeof(*f));
	if (buf == NULL || len == 0)
		return GW_FRAME_MORE;

	/* RFC 3261 7.5: CRLFs before the start line are ignored; the caller
	 * may drop f->skip octets whatever we return */
	f->skip = skip_crlf(buf, len);
	p = buf + f->skip;
	avail = len - f->skip;
	if (avail == 0)
		return GW_FRAME_MORE;

	f->head_len = find_head(p, avail, max_head);
	if (f->head_len == 0) {
		if (avail >= max_head) {
			*why = "header too big";
			return GW_FRAME_BAD;
		}
		return GW_FRAME_MORE;
	}
	if (scan_clen(p, f->head_len, &f->has_clen, &f->body_len, why) == -1)
		return GW_FRAME_BAD;
	/* RFC 3261 18.3: on a stream, Content-Length MUST be present */
	if (!f->has_clen) {
		*why = "no Content-Length";
		return GW_FRAME_BAD;
	}
	/* refuse before waiting for (or buffering) the body */
	if (f->head_len > max_msg || f->body_len > max_msg - f->head_len) {
		*why = "too big";
		return GW_FRAME_BAD;
	}
	if (f->body_len > avail - f->head_len)
		return GW_FRAME_MORE;
	return GW_FRAME_OK;
}

int
gw_frame_dgram(const char *buf, size_t len, size_t max_head,
    struct gw_frame *f, const char **why)
{
	const char *dummy, *p;
	size_t avail, rest;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	memset(f, 0, sizeof(*f));
	if (buf == NULL || len == 0) {
		*why = "empty";
		return GW_FRAME_BAD;
	}

	f->skip = skip_crlf(buf, len);
	p = buf + f->skip;
	avail = len - f->skip;
	if (avail == 0) {
		*why = "empty";
		return GW_FRAME_BAD;
	}

	f->head_len = find_head(p, avail, max_head);
	if (f->head_len == 0) {
		*why = avail >= max_head ? "header too big" :
		    "no end of headers";
		return GW_FRAME_BAD;
	}
	rest = avail - f->head_len;
	if (scan_clen(p, f->head_len, &f->has_clen, &f->body_len, why) == -1) {
		f->body_len = 0;
		return GW_FRAME_BAD;
	}
	if (!f->has_clen) {
		/* RFC 3261 18.3: the body runs to the end of the datagram */
		f->body_len = rest;
		return GW_FRAME_OK;
	}
	if (f->body_len > rest) {
		/* RFC 3261 18.3: shorter than its Content-Length: answer
		 * 400; body_len is cut to what is there */
		f->body_len = rest;
		*why = "short";
		return GW_FRAME_BAD;
	}
	/* octets beyond Content-Length are discarded (18.3) */
	return GW_FRAME_OK;
}

/* ---------------------------------------------------------------------- */
/* Responses to our own transactions (gw_resp_peek) */

/* hname_is - the header line at p (len bytes) is named name (or the
 *	compact form c, 0 for none); *val gets the value's start */
static int
hname_is(const char *p, size_t len, const char *name, char c,
    const char **val)
{
	size_t n = strlen(name), i = 0;

	if (len > n && strncasecmp(p, name, n) == 0)
		i = n;
	else if (c != 0 && len > 1 && (p[0] == c || p[0] == c - 32))
		i = 1;
	else
		return 0;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (i >= len || p[i] != ':')
		return 0;
	i++;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	*val = p + i;
	return 1;
}

/* param - the value of ;name= in v (up to end), stopping at ',' */
static int
param(const char *v, const char *end, const char *name, const char **out,
    size_t *out_len)
{
	size_t n = strlen(name);
	const char *p, *q;

	for (p = v; p < end && *p != ','; p++) {
		if (*p != ';')
			continue;
		q = p + 1;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		if ((size_t)(end - q) > n && strncasecmp(q, name, n) == 0 &&
		    q[n] == '=') {
			q += n + 1;
			*out = q;
			while (q < end && *q != ';' && *q != ',' && *q != ' ' &&
			    *q != '\t' && *q != '>')
				q++;
			*out_len = (size_t)(q - *out);
			return *out_len > 0;
		}
	}
	return 0;
}

int
gw_resp_peek(const char *head, size_t head_len, struct gw_resp_peek *out)
{
	const char *p = head, *end = head + head_len, *eol, *v;
	int have_via = 0, have_to = 0;

	memset(out, 0, sizeof(*out));
	if (head_len < 14 || memcmp(head, "SIP/2.0 ", 8) != 0 ||
	    !isdigit((unsigned char)head[8]) ||
	    !isdigit((unsigned char)head[9]) ||
	    !isdigit((unsigned char)head[10]) || head[11] != ' ')
		return -1;
	out->status = (head[8] - '0') * 100 + (head[9] - '0') * 10 +
	    (head[10] - '0');
	if (out->status < 100 || out->status > 699)
		return -1;
	if ((eol = memchr(head, '\r', head_len)) == NULL || eol + 1 >= end ||
	    eol[1] != '\n')
		return -1;
	out->reason = head + 12;
	out->reason_len = (size_t)(eol - out->reason);
	for (p = eol + 2; p < end; p = eol + 2) {
		if ((eol = memchr(p, '\r', (size_t)(end - p))) == NULL ||
		    eol + 1 >= end || eol[1] != '\n')
			return -1;
		if (eol == p)
			break;			/* the blank line */
		if (*p == ' ' || *p == '\t')
			return -1;		/* folded: let libosip2 do it */
		if (!have_via && hname_is(p, (size_t)(eol - p), "via", 'v',
		    &v)) {
			have_via = 1;
			if (!param(v, eol, "branch", &out->branch,
			    &out->branch_len))
				return -1;
		} else if (!have_to && hname_is(p, (size_t)(eol - p), "to",
		    't', &v)) {
			have_to = 1;
			/* the tag is a header parameter: after the URI */
			{
				const char *gt = memchr(v, '>',
				    (size_t)(eol - v));

				(void)param(gt != NULL ? gt : v, eol, "tag",
				    &out->to_tag, &out->to_tag_len);
			}
		} else if (out->warning == NULL && hname_is(p,
		    (size_t)(eol - p), "warning", 0, &v)) {
			out->warning = v;
			out->warning_len = (size_t)(eol - v);
		} else if (out->retry_after == NULL && hname_is(p,
		    (size_t)(eol - p), "retry-after", 0, &v)) {
			out->retry_after = v;
			out->retry_after_len = (size_t)(eol - v);
		}
	}
	return have_via && have_to ? 0 : -1;
}

int
gw_peek_str(const char *p, size_t len, char *buf, size_t cap)
{
	size_t i;

	if (p == NULL || len == 0 || len >= cap)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return 1;
}
