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
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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
