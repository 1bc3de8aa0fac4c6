/*
 * smime/smime_multipart.c - the multipart/mixed SIP body of a protected
 * MESSAGE: build and strict parse (RFC 2046 5.1)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	spec/smime-sip.md 2.3 puts the TRANSFER_INIT next to the envelope
 *	in a multipart/mixed body (6.2 shows the bytes):
 *
 *	  --B CRLF
 *	  Content-Type: application/mikey CRLF
 *	  Content-Transfer-Encoding: binary CRLF
 *	  Content-Disposition: attachment; handling=required CRLF
 *	  CRLF
 *	  <octets> CRLF
 *	  --B CRLF
 *	  Content-Type: application/pkcs7-mime; smime-type=... CRLF
 *	  ... CRLF
 *	  <octets> CRLF
 *	  --B-- CRLF
 *
 *	Both parts are binary, so the codec is a byte scanner, not a text
 *	parser: the delimiter is CRLF "--" B (RFC 2046 5.1.1: the CRLF
 *	before it belongs to the delimiter), found with memmem; the octets
 *	between the part's header block and the next delimiter are the part,
 *	untouched.  GMime is not used: it would copy and may re-encode, and a
 *	protected body must go through verbatim (design.md 7).
 *
 *	The parse is strict where it matters and lenient where RFC 2046 says
 *	so: a preamble is ignored, transport padding (spaces, tabs) after a
 *	boundary is skipped, unknown part headers are ignored, header lines
 *	may be folded.  It refuses a missing close delimiter, anything after
 *	it but one CRLF (an epilogue: bytes nobody checks), bare CR or LF
 *	in a header block, bytes that are not US-ASCII there, a transfer
 *	coding that would change the octets, a part without Content-Type, a
 *	third part, and a second part of either kind.  Every scan is bounded by the
 *	input length, which is bounded (max_len) before anything is read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "smime/smime-int.h"

#define MP_RAND_CHARS	24	/* random characters of a boundary */
#define MP_PREFIX	"imgate-"

/* mem_find - the first needle (m bytes) in hay (n bytes), or NULL
 *	(memmem is a GNU extension) */
static const uint8_t *
mem_find(const void *hay, size_t n, const void *needle, size_t m)
{
	const uint8_t *h = hay, *e, *p;
	const uint8_t *nd = needle;

	if (m == 0 || n < m)
		return m == 0 ? h : NULL;
	e = h + n - m + 1;
	for (p = h; p < e; p++) {
		p = memchr(p, nd[0], (size_t)(e - p));
		if (p == NULL)
			return NULL;
		if (memcmp(p, nd, m) == 0)
			return p;
	}
	return NULL;
}

/* max_len_of - the default limit of a whole multipart body */
static size_t
max_len_of(size_t max_len)
{
	return max_len != 0 ? max_len : SMIME_DEFAULT_MAX_BODY +
	    SMIME_OVERHEAD;
}

/* is_bchar - RFC 2046 bcharsnospace, minus the space we never write */
static int
is_bchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("'()+_,-./:=?", c) != NULL;
}

/* is_tchar - RFC 2045 token character */
static int
is_tchar(int c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* header_value_ok - printable ASCII (and space), no CR/LF */
static int
header_value_ok(const char *v)
{
	if (v == NULL || *v == '\0' || strlen(v) > SMIME_MAX_CTYPE)
		return 0;
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || (unsigned char)*v > 0x7e)
			return 0;
	return 1;
}

/* boundary_ok - 1..70 bchars */
static int
boundary_ok(const char *b)
{
	size_t n = strlen(b), i;

	if (n == 0 || n > SMIME_MP_MAX_BOUNDARY)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_bchar((unsigned char)b[i]))
			return 0;
	return 1;
}

/* dash_boundary_in - "--" B occurs in p[0..n) */
static int
dash_boundary_in(const uint8_t *p, size_t n, const char *b, size_t bl)
{
	const uint8_t *q = p, *end = p + n;

	while ((size_t)(end - q) >= bl + 2) {
		q = mem_find(q, (size_t)(end - q), "--", 2);
		if (q == NULL)
			return 0;
		if ((size_t)(end - q) >= bl + 2 && memcmp(q + 2, b, bl) == 0)
			return 1;
		q++;
	}
	return 0;
}

/* random_boundary - MP_PREFIX and MP_RAND_CHARS alphanumerics into b */
static int
random_boundary(char *b, size_t cap)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	uint8_t r[MP_RAND_CHARS];
	size_t i, k;

	if (cap < sizeof(MP_PREFIX) + MP_RAND_CHARS)
		return SMIME_ERR_INVAL;
	if (RAND_bytes(r, sizeof(r)) != 1)
		return SMIME_ERR_CRYPTO;
	k = strlen(MP_PREFIX);
	memcpy(b, MP_PREFIX, k);
	/* 62 symbols, 248 = 4 * 62: the first 248 values are unbiased */
	for (i = 0; i < sizeof(r); i++)
		b[k++] = al[(r[i] < 248 ? r[i] : r[i] - 248) % 62];
	b[k] = '\0';
	return 0;
}

int
smime_multipart_build(const struct smime_mp_in *parts, size_t n,
    const char *boundary, size_t max_len, uint8_t **out, size_t *out_len,
    char **ct_out)
{
	char b[SMIME_MP_MAX_BOUNDARY + 1], *ct = NULL;
	struct sbuf sb;
	size_t i, bl, ctl, try;
	uint8_t *p;
	int err, clash;

	if (parts == NULL || n == 0 || n > SMIME_MP_MAX_PARTS ||
	    out == NULL || out_len == NULL || ct_out == NULL)
		return SMIME_ERR_INVAL;
	for (i = 0; i < n; i++)
		if (!header_value_ok(parts[i].content_type) ||
		    (parts[i].disposition != NULL &&
		    !header_value_ok(parts[i].disposition)) ||
		    (parts[i].body == NULL && parts[i].len != 0))
			return SMIME_ERR_INVAL;
	if (boundary != NULL && !boundary_ok(boundary))
		return SMIME_ERR_INVAL;

	/* a boundary that no part contains (RFC 2046 5.1.1) */
	for (try = 0;; try++) {
		if (boundary != NULL)
			snprintf(b, sizeof(b), "%s", boundary);
		else if ((err = random_boundary(b, sizeof(b))) != 0)
			return err;
		bl = strlen(b);
		for (i = 0, clash = 0; i < n && !clash; i++)
			clash = dash_boundary_in(parts[i].body, parts[i].len,
			    b, bl);
		if (!clash)
			break;
		if (boundary != NULL || try == 3)
			return SMIME_ERR_INVAL;
	}

	sbuf_init(&sb, max_len_of(max_len));
	for (i = 0; i < n; i++) {
		sbuf_adds(&sb, "--");
		sbuf_adds(&sb, b);
		sbuf_adds(&sb, "\r\nContent-Type: ");
		sbuf_adds(&sb, parts[i].content_type);
		sbuf_adds(&sb, "\r\nContent-Transfer-Encoding: binary\r\n");
		if (parts[i].disposition != NULL) {
			sbuf_adds(&sb, "Content-Disposition: ");
			sbuf_adds(&sb, parts[i].disposition);
			sbuf_adds(&sb, "\r\n");
		}
		sbuf_adds(&sb, "\r\n");
		sbuf_add(&sb, parts[i].body, parts[i].len);
		sbuf_adds(&sb, "\r\n");
	}
	sbuf_adds(&sb, "--");
	sbuf_adds(&sb, b);
	sbuf_adds(&sb, "--\r\n");
	if ((err = sb.err) != 0) {
		sbuf_wipe(&sb);
		return err;
	}
	ctl = strlen("multipart/mixed; boundary=\"\"") + bl + 1;
	if ((ct = malloc(ctl)) == NULL) {
		sbuf_wipe(&sb);
		return SMIME_ERR_NOMEM;
	}
	snprintf(ct, ctl, "multipart/mixed; boundary=\"%s\"", b);
	if ((p = sbuf_take(&sb, out_len)) == NULL) {
		free(ct);
		sbuf_wipe(&sb);
		return SMIME_ERR_NOMEM;
	}
	*out = p;
	*ct_out = ct;
	return 0;
}

/* --------------------------------------------------------------------- */
/* Content-Type values (RFC 2045 5.1) */

/* skip_ws - past spaces and tabs */
static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* token_end - past a token */
static const char *
token_end(const char *p, const char *end)
{
	while (p < end && is_tchar((unsigned char)*p))
		p++;
	return p;
}

/*
 * media_type - "type/subtype" at the start of v (n bytes): 0 and the
 *	offsets of its two halves, -1 if v does not start with one; *rest
 *	gets where the parameters start.
 */
static int
media_type(const char *v, size_t n, const char **t, size_t *tl,
    const char **s, size_t *sl, const char **rest)
{
	const char *end = v + n, *p;

	p = skip_ws(v, end);
	*t = p;
	p = token_end(p, end);
	*tl = (size_t)(p - *t);
	if (*tl == 0 || p >= end || *p != '/')
		return -1;
	*s = ++p;
	p = token_end(p, end);
	*sl = (size_t)(p - *s);
	if (*sl == 0)
		return -1;
	*rest = skip_ws(p, end);
	return 0;
}

/* is_type - the half (p, n) is name, case-insensitively */
static int
is_type(const char *p, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/*
 * param_get - the value of parameter name in the parameter list at p
 *	(";" attribute "=" (token | quoted-string) ...): 0 and the unquoted
 *	value in out, 1 if absent, -1 if the list is malformed or the value
 *	does not fit cap.  A repeated name is malformed.
 */
static int
param_get(const char *p, const char *end, const char *name, char *out,
    size_t cap)
{
	const char *a;
	size_t al, k;
	int found = 0, want;

	for (;;) {
		p = skip_ws(p, end);
		if (p == end)
			return found ? 0 : 1;
		if (*p++ != ';')
			return -1;
		p = skip_ws(p, end);
		if (p == end)
			return found ? 0 : 1;	/* a trailing ';' is common */
		a = p;
		p = token_end(p, end);
		al = (size_t)(p - a);
		p = skip_ws(p, end);
		if (al == 0 || p == end || *p++ != '=')
			return -1;
		p = skip_ws(p, end);
		want = strlen(name) == al && strncasecmp(a, name, al) == 0;
		if (want && found)
			return -1;
		k = 0;
		if (p < end && *p == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\' && p + 1 < end)
					p++;
				if (want && k + 1 < cap)
					out[k++] = *p;
				else if (want)
					return -1;
			}
			if (p == end)
				return -1;
			p++;
		} else {
			a = p;
			p = token_end(p, end);
			if (p == a)
				return -1;
			for (; want && a < p; a++) {
				if (k + 1 >= cap)
					return -1;
				out[k++] = *a;
			}
		}
		if (want) {
			out[k] = '\0';
			found = 1;
		}
	}
}

/* --------------------------------------------------------------------- */
/* Parse */

/* What one part's header block says. */
struct part_hdr {
	char	ct[SMIME_MAX_CTYPE + 1];
	int	has_ct;
};

/*
 * part_headers - the header block h[0..n) (lines ending CRLF, the empty
 *	line not included): unfolded Content-Type into ph, transfer coding
 *	checked, anything else skipped.
 */
static int
part_headers(const uint8_t *h, size_t n, struct part_hdr *ph)
{
	const uint8_t *p = h, *end = h + n, *eol, *colon;
	char val[SMIME_MAX_CTYPE + 1];
	size_t nl, vl;
	int is_ct, is_cte;

	memset(ph, 0, sizeof(*ph));
	/* RFC 2045/5322 headers are US-ASCII: printable, HT, CRLF */
	for (p = h; p < end; p++)
		if ((*p < 0x20 && *p != '\t' && *p != '\r' && *p != '\n') ||
		    *p > 0x7e || (*p == '\r' && (p + 1 == end ||
		    p[1] != '\n')) || (*p == '\n' && (p == h || p[-1] != '\r')))
			return SMIME_ERR_MIME;
	p = h;
	while (p < end) {
		/* one logical line: up to a CRLF not followed by SP/HT */
		eol = p;
		for (;;) {
			eol = mem_find(eol, (size_t)(end - eol), "\r\n", 2);
			if (eol == NULL)
				return SMIME_ERR_MIME;
			if (eol + 2 < end && (eol[2] == ' ' || eol[2] == '\t'))
				eol += 2;
			else
				break;
		}
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || colon == p)
			return SMIME_ERR_MIME;
		for (nl = 0; p + nl < colon; nl++)
			if (!is_tchar(p[nl]))
				return SMIME_ERR_MIME;
		is_ct = is_type((const char *)p, nl, "Content-Type");
		is_cte = is_type((const char *)p, nl,
		    "Content-Transfer-Encoding");
		if (is_ct || is_cte) {
			/* unfold: CRLF dropped, HT to SP, controls refused */
			vl = 0;
			for (p = colon + 1; p < eol; p++) {
				if (*p == '\r' || *p == '\n')
					continue;
				if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
					return SMIME_ERR_MIME;
				if (vl == SMIME_MAX_CTYPE)
					return SMIME_ERR_MIME;
				val[vl++] = *p == '\t' ? ' ' : (char)*p;
			}
			while (vl > 0 && val[vl - 1] == ' ')
				vl--;
			val[vl] = '\0';
			p = (const uint8_t *)skip_ws(val, val + vl);
			if (is_ct) {
				if (ph->has_ct)
					return SMIME_ERR_MIME;
				snprintf(ph->ct, sizeof(ph->ct), "%s",
				    (const char *)p);
				ph->has_ct = 1;
			} else if (strcasecmp((const char *)p, "binary") != 0 &&
			    strcasecmp((const char *)p, "7bit") != 0 &&
			    strcasecmp((const char *)p, "8bit") != 0)
				return SMIME_ERR_MIME;
		}
		p = eol + 2;
	}
	return ph->has_ct ? 0 : SMIME_ERR_MIME;
}

/* part_kind - 1 application/mikey, 2 pkcs7-mime, 0 other, -1 malformed */
static int
part_kind(const char *ct)
{
	const char *t, *s, *rest;
	size_t tl, sl;
	char dummy[2];

	if (media_type(ct, strlen(ct), &t, &tl, &s, &sl, &rest) != 0 ||
	    param_get(rest, ct + strlen(ct), "", dummy, sizeof(dummy)) < 0)
		return -1;
	if (!is_type(t, tl, "application"))
		return 0;
	if (is_type(s, sl, "mikey"))
		return 1;
	if (is_type(s, sl, "pkcs7-mime") || is_type(s, sl, "x-pkcs7-mime"))
		return 2;
	return 0;
}

int
smime_multipart_parse(const char *content_type, const uint8_t *body,
    size_t len, size_t max_len, struct smime_mp_body *out)
{
	struct smime_mp_body r;
	struct smime_mp_part *dst;
	struct part_hdr ph;
	char b[SMIME_MP_MAX_BOUNDARY + 1], delim[SMIME_MP_MAX_BOUNDARY + 5];
	const char *t, *s, *rest;
	const uint8_t *p, *end, *q, *hend;
	size_t tl, sl, bl, dl, nparts = 0;
	int kind, rc;

	if (content_type == NULL || body == NULL || out == NULL)
		return SMIME_ERR_INVAL;
	if (len > max_len_of(max_len))
		return SMIME_ERR_TOO_BIG;
	if (strlen(content_type) > SMIME_MAX_CTYPE ||
	    media_type(content_type, strlen(content_type), &t, &tl, &s, &sl,
	    &rest) != 0)
		return SMIME_ERR_CONTENT_TYPE;
	if (!is_type(t, tl, "multipart") || !is_type(s, sl, "mixed"))
		return SMIME_ERR_CONTENT_TYPE;
	rc = param_get(rest, content_type + strlen(content_type), "boundary",
	    b, sizeof(b));
	if (rc != 0 || !boundary_ok(b))
		return SMIME_ERR_MIME;
	bl = strlen(b);
	/* delim = CRLF "--" B; the first may start the body without CRLF */
	dl = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", b);

	memset(&r, 0, sizeof(r));
	end = body + len;
	if (len >= bl + 2 && memcmp(body, delim + 2, bl + 2) == 0)
		p = body + bl + 2;
	else if ((q = mem_find(body, len, delim, dl)) != NULL)
		p = q + dl;
	else
		return SMIME_ERR_MIME;
	for (;;) {
		/* just after "--B": "--" closes, else padding and CRLF */
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			break;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			return SMIME_ERR_MIME;
		p += 2;
		if (++nparts > 2)
			return SMIME_ERR_CONTENT_TYPE;	/* nothing else */
		/* the part runs to the next delimiter */
		if ((q = mem_find(p, (size_t)(end - p), delim, dl)) == NULL)
			return SMIME_ERR_MIME;	/* no close delimiter */
		/* its header block ends in an empty line (none: no type) */
		if (q - p >= 2 && p[0] == '\r' && p[1] == '\n')
			return SMIME_ERR_MIME;
		hend = mem_find(p, (size_t)(q - p), "\r\n\r\n", 4);
		if (hend == NULL || hend - p > SMIME_MIME_MAX_HEADERS)
			return SMIME_ERR_MIME;
		if ((rc = part_headers(p, (size_t)(hend - p) + 2, &ph)) != 0)
			return rc;
		if ((kind = part_kind(ph.ct)) < 0)
			return SMIME_ERR_MIME;
		if (kind == 0)
			return SMIME_ERR_CONTENT_TYPE;
		dst = kind == 1 ? &r.mikey : &r.cms;
		if (dst->body != NULL)
			return SMIME_ERR_CONTENT_TYPE;	/* two of a kind */
		memcpy(dst->content_type, ph.ct, sizeof(dst->content_type));
		dst->body = hend + 4;
		dst->len = (size_t)(q - (hend + 4));
		p = q + dl;
	}
	/* the close delimiter, then optional padding and CRLF, nothing
	 * else: our body has no epilogue, and bytes that nothing checks
	 * are bytes an attacker may change unnoticed */
	p += 2;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end && (end - p != 2 || p[0] != '\r' || p[1] != '\n'))
		return SMIME_ERR_MIME;
	if (r.mikey.body == NULL || r.cms.body == NULL)
		return SMIME_ERR_CONTENT_TYPE;
	*out = r;
	return 0;
}
