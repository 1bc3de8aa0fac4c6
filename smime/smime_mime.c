/*
 * smime/smime_mime.c - MIME entities and Content-Type values (GMime)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	GMime parses; it never builds here.  The entities we write are so
 *	small and fixed (a Content-Type line, maybe a
 *	Content-Transfer-Encoding line, CRLF, the body) that they are written
 *	byte by byte in canonical CRLF form (RFC 8551 3.1.1) by smime.c and
 *	smime_cpim.c: GMime's writer would fold long lines (spec/smime-sip.md
 *	4.3) and would have to be told not to transcode text.
 *
 *	GMime is lenient: it falls back to application/octet-stream for a
 *	bad Content-Type, uses the last of two conflicting Content-Type
 *	headers while g_mime_object_get_header() returns the first, and
 *	accepts an entity whose header block never ends.  For security
 *	relevant input that is not good enough, so every warning the parser
 *	reports except unencoded 8-bit header text is an error, and the
 *	Content-Type header must be present.  The header block is bounded
 *	before GMime sees it.
 *
 *	GMime is given the header block only (up to and with the empty
 *	line), so its cost does not grow with the body: it parses and checks
 *	every header and the Content-Type.  Multipart and message/rfc822
 *	entities are then parsed whole once more, so that GMime checks their
 *	structure.  The body handed back is byte-exact: for identity transfer
 *	encodings (none, 7bit, 8bit, binary) and for multipart and message
 *	types it is the octets after the empty line; base64,
 *	quoted-printable and uuencode are decoded by GMime's filters.  (This
 *	halved the cost of smime_unprotect for 1 KB against a whole-entity
 *	parse: GMime scanned and copied the body only for us to take the raw
 *	octets.)
 *
 *	The two header blocks smime_protect writes for its own layers are
 *	recognised byte for byte and not parsed again (known[] below).  A
 *	header block that is one Content-Type line of a narrow shape (type,
 *	subtype, unquoted parameters; no transfer coding, not multipart,
 *	message or pkcs7-mime) is parsed by hand (simple_ct below), where
 *	GMime's parse is the identity; t_smime (test_simple) checks that both
 *	paths give the same result on the shapes taken and on their edge
 *	cases.  The user's entity is usually of that shape, and this halved
 *	smime_unprotect again for 1 KB (tests/bench/bench_smime).
 *
 *	One GMimeParserOptions serves every thread: made once by
 *	smime_init(), read-only after, with a warning callback that counts
 *	into a thread-local counter.  GMime objects are created and unreffed
 *	inside each function.  GMime's buffers are not wiped; plaintext on
 *	the receive path passes through them (spec/smime-sip.md 4.1), keys
 *	never do.
 */

#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "smime/smime-int.h"

static GMimeParserOptions *options;	/* read-only after init_once */
static _Thread_local int nwarn;		/* this thread's parse's warnings */

/* warn_cb - count what the parser complains about (see DESIGN) */
static void
warn_cb(gint64 offset, GMimeParserWarning code, const gchar *item,
    gpointer arg)
{
	(void)offset;
	(void)item;
	(void)arg;
	if (code != GMIME_WARN_UNENCODED_8BIT_HEADER)
		nwarn++;
}

static gpointer
init_once(gpointer arg)
{
	(void)arg;
	g_mime_init();
	/* strict modes for security-relevant headers (spec 4.2) */
	options = g_mime_parser_options_new();
	g_mime_parser_options_set_parameter_compliance_mode(options,
	    GMIME_RFC_COMPLIANCE_STRICT);
	g_mime_parser_options_set_rfc2047_compliance_mode(options,
	    GMIME_RFC_COMPLIANCE_STRICT);
	g_mime_parser_options_set_warning_callback(options, warn_cb, NULL);
	return NULL;
}

void
smime_init(void)
{
	static GOnce once = G_ONCE_INIT;

	g_once(&once, init_once, NULL);
}

/* --------------------------------------------------------------------- */
/* Content-Type syntax (RFC 2045 5.1) */

/* is_tchar - a token character of RFC 2045 */
static int
is_tchar(int c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* skip_ows - skip spaces and tabs */
static const char *
skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* token - skip a token; NULL if there is none */
static const char *
token(const char *p)
{
	const char *s = p;

	while (is_tchar((unsigned char)*p))
		p++;
	return p == s ? NULL : p;
}

int
smime_ctype_check(const char *ct)
{
	const char *p;
	size_t len;

	if (ct == NULL || (len = strlen(ct)) == 0 || len > SMIME_MAX_CTYPE)
		return SMIME_ERR_INVAL;
	p = skip_ows(ct);
	if ((p = token(p)) == NULL || *p++ != '/' || (p = token(p)) == NULL)
		return SMIME_ERR_INVAL;
	for (;;) {
		p = skip_ows(p);
		if (*p == '\0')
			return 0;
		if (*p++ != ';')
			return SMIME_ERR_INVAL;
		p = skip_ows(p);
		if (*p == '\0')
			return 0;		/* a trailing ';' is common */
		if ((p = token(p)) == NULL || *p++ != '=')
			return SMIME_ERR_INVAL;
		if (*p == '"') {
			for (p++; *p != '"'; p++) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				if ((unsigned char)*p < 0x20 ||
				    (unsigned char)*p >= 0x7f)
					return SMIME_ERR_INVAL;
			}
			p++;
		} else if ((p = token(p)) == NULL)
			return SMIME_ERR_INVAL;
	}
}

/* classify - the class of a parsed Content-Type */
static enum smime_ctype
classify(GMimeContentType *ct)
{
	const char *type, *sub, *st;

	type = g_mime_content_type_get_media_type(ct);
	sub = g_mime_content_type_get_media_subtype(ct);
	if (type == NULL || sub == NULL)
		return SMIME_CTYPE_OTHER;
	if (g_ascii_strcasecmp(type, "message") == 0 &&
	    g_ascii_strcasecmp(sub, "cpim") == 0)
		return SMIME_CTYPE_CPIM;
	if (g_ascii_strcasecmp(type, "application") != 0 ||
	    (g_ascii_strcasecmp(sub, "pkcs7-mime") != 0 &&
	    g_ascii_strcasecmp(sub, "x-pkcs7-mime") != 0))
		return SMIME_CTYPE_OTHER;
	st = g_mime_content_type_get_parameter(ct, "smime-type");
	/* RFC 8551 3.2.2 registers authEnveloped-data; RFC 8591 4.2 writes
	 * auth-enveloped-data, and its 10.4 labels one enveloped-data
	 * (spec/smime-sip.md 1.3) */
	if (st == NULL || g_ascii_strcasecmp(st, "enveloped-data") == 0)
		return SMIME_CTYPE_PKCS7;
	if (g_ascii_strcasecmp(st, "authEnveloped-data") == 0 ||
	    g_ascii_strcasecmp(st, "auth-enveloped-data") == 0)
		return SMIME_CTYPE_AUTH_ENVELOPED;
	if (g_ascii_strcasecmp(st, "signed-data") == 0)
		return SMIME_CTYPE_SIGNED;
	return SMIME_CTYPE_PKCS7_OTHER;
}

int
smime_content_type_class(const char *ct, enum smime_ctype *class_out)
{
	GMimeContentType *t;
	int bad;

	if (ct == NULL || class_out == NULL)
		return SMIME_ERR_INVAL;
	if (smime_ctype_check(ct) != 0)
		return SMIME_ERR_CONTENT_TYPE;
	smime_init();
	nwarn = 0;
	if ((t = g_mime_content_type_parse(options, ct)) == NULL)
		return SMIME_ERR_CONTENT_TYPE;
	bad = nwarn != 0;
	if (!bad)
		*class_out = classify(t);
	g_object_unref(t);
	return bad ? SMIME_ERR_CONTENT_TYPE : 0;
}

/* --------------------------------------------------------------------- */
/* Entities */

/* header_end - offset of the body: after the first empty line; 0 if none */
static size_t
header_end(const uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* unfold - a header value as one line: CR and LF dropped, TAB to SP */
static char *
unfold(const char *v)
{
	char *s, *d;

	if ((s = d = malloc(strlen(v) + 1)) == NULL)
		return NULL;
	for (; *v != '\0'; v++) {
		if (*v == '\r' || *v == '\n')
			continue;
		*d++ = *v == '\t' ? ' ' : *v;
	}
	*d = '\0';
	return s;
}

/* decode - remove a transfer coding from raw into body (GMime filters) */
static int
decode(const uint8_t *raw, size_t len, GMimeContentEncoding enc,
    struct sbuf *body)
{
	GMimeDataWrapper *w;
	GMimeStream *in, *out;
	GByteArray *ba;
	int err;

	/* decoding never grows the data: the array is never reallocated,
	 * so the one block to wipe is this one */
	if ((ba = g_byte_array_sized_new((guint)len + 1)) == NULL)
		return SMIME_ERR_NOMEM;
	in = g_mime_stream_mem_new_with_buffer((const char *)raw, len);
	w = g_mime_data_wrapper_new_with_stream(in, enc);
	out = g_mime_stream_mem_new_with_byte_array(ba);
	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(out), FALSE);
	if (g_mime_data_wrapper_write_to_stream(w, out) < 0)
		err = SMIME_ERR_MIME;
	else {
		sbuf_add(body, ba->data, ba->len);
		err = body->err;
	}
	g_object_unref(out);
	g_object_unref(w);
	g_object_unref(in);
	smime_clear_free(g_byte_array_free(ba, FALSE), len + 1);
	return err;
}

/*
 * parse_gmime - GMime's parse of buf (a header block, or a whole entity):
 *	the object, or NULL if GMime refused it or warned.
 */
static GMimeObject *
parse_gmime(const uint8_t *buf, size_t len)
{
	GMimeParser *parser;
	GMimeStream *stream;
	GMimeObject *obj;

	stream = g_mime_stream_mem_new_with_buffer((const char *)buf, len);
	parser = g_mime_parser_new_with_stream(stream);
	nwarn = 0;
	obj = g_mime_parser_construct_part(parser, options);
	g_object_unref(parser);
	g_object_unref(stream);
	if (obj != NULL && nwarn != 0) {
		g_object_unref(obj);
		obj = NULL;
	}
	return obj;
}

/*
 * The header blocks smime_protect writes for its own layers, with what
 * GMime's parse of exactly these octets yields (t_smime checks that it
 * does).  A constant input has a constant parse: these are looked up, not
 * parsed, which saves one GMime parse per layer; any other octets, the
 * user's entity always among them, go to GMime.
 */
static const struct known {
	const char	*block;
	const char	*ct;
	enum smime_ctype cls;
} known[] = {
	{ "Content-Type: " SMIME_CT_CPIM "\r\n\r\n", SMIME_CT_CPIM,
	    SMIME_CTYPE_CPIM },
	{ "Content-Type: " SMIME_CT_SIGNED "\r\n"
	    "Content-Transfer-Encoding: binary\r\n\r\n", SMIME_CT_SIGNED,
	    SMIME_CTYPE_SIGNED },
};

int smime_known_off;		/* t_smime: parse known[] with GMime too */

/* lookup_known - the known[] entry buf[0..hend) is, or NULL */
static const struct known *
lookup_known(const uint8_t *buf, size_t hend)
{
	size_t i;

	if (smime_known_off)
		return NULL;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i].block) == hend &&
		    memcmp(known[i].block, buf, hend) == 0)
			return &known[i];
	return NULL;
}

/*
 * simple_ct - the value of a header block that is exactly
 *	"Content-Type: " V CRLF CRLF, with V in a narrow subset of RFC 2045
 *	5.1 where GMime's parse is the identity (t_smime checks that it is,
 *	test_simple): type "/" subtype, then any number of ";" [SP] name "="
 *	value, all of [A-Za-z0-9.+_-] (no quoting, no RFC 2231 "*", no
 *	RFC 2047 "=?"), parameter names distinct, nothing after; type not
 *	multipart or message, and not application/(x-)pkcs7-mime, so the
 *	class is SMIME_CTYPE_OTHER and the transfer coding is identity.
 *	Returns V's length, or 0 when the block is anything else (GMime then
 *	parses it).
 */
#define SIMPLE_MAX_PARAMS 8

static int
simple_ch(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '_' ||
	    c == '-';
}

/* simple_tok - length of a run of simple_ch at p, bounded by end */
static size_t
simple_tok(const uint8_t *p, const uint8_t *end)
{
	const uint8_t *s = p;

	while (p < end && simple_ch(*p))
		p++;
	return (size_t)(p - s);
}

static size_t
simple_ct(const uint8_t *buf, size_t hend)
{
	static const char pre[] = "Content-Type: ";
	const uint8_t *v, *p, *end, *pn[SIMPLE_MAX_PARAMS];
	size_t tl, sl, nl, vl, pl[SIMPLE_MAX_PARAMS], np = 0, i;

	if (smime_known_off || hend < sizeof(pre) - 1 + 4 ||
	    hend - (sizeof(pre) - 1) - 4 > SMIME_MAX_CTYPE ||
	    memcmp(buf, pre, sizeof(pre) - 1) != 0 ||
	    memcmp(buf + hend - 4, "\r\n\r\n", 4) != 0)
		return 0;
	v = buf + sizeof(pre) - 1;
	end = buf + hend - 4;
	if ((tl = simple_tok(v, end)) == 0 || v + tl == end || v[tl] != '/')
		return 0;
	p = v + tl + 1;
	if ((sl = simple_tok(p, end)) == 0)
		return 0;
	if ((tl == 9 && g_ascii_strncasecmp((const char *)v, "multipart",
	    9) == 0) ||
	    (tl == 7 && g_ascii_strncasecmp((const char *)v, "message",
	    7) == 0))
		return 0;
	if (tl == 11 && g_ascii_strncasecmp((const char *)v, "application",
	    11) == 0 &&
	    ((sl == 10 && g_ascii_strncasecmp((const char *)p, "pkcs7-mime",
	    10) == 0) ||
	    (sl == 12 && g_ascii_strncasecmp((const char *)p, "x-pkcs7-mime",
	    12) == 0)))
		return 0;
	p += sl;
	while (p < end) {
		if (*p++ != ';' || np == SIMPLE_MAX_PARAMS)
			return 0;
		if (p < end && *p == ' ')
			p++;
		if ((nl = simple_tok(p, end)) == 0 || p + nl == end ||
		    p[nl] != '=')
			return 0;
		for (i = 0; i < np; i++)
			if (pl[i] == nl && g_ascii_strncasecmp(
			    (const char *)pn[i], (const char *)p, nl) == 0)
				return 0;
		pn[np] = p;
		pl[np++] = nl;
		p += nl + 1;
		if ((vl = simple_tok(p, end)) == 0)
			return 0;
		p += vl;
	}
	return (size_t)(end - v);
}

int
smime_entity_parse(const uint8_t *buf, size_t len, size_t max_body,
    char **ct_out, enum smime_ctype *class_out, struct sbuf *body)
{
	const struct known *k;
	GMimeContentEncoding enc = GMIME_CONTENT_ENCODING_DEFAULT;
	GMimeObject *obj = NULL, *whole;
	enum smime_ctype cls = SMIME_CTYPE_OTHER;
	const char *v;
	char *ct = NULL;
	size_t hend, vlen;
	int err;

	if (len > smime_max_body(max_body) + SMIME_OVERHEAD)
		return SMIME_ERR_TOO_BIG;
	/* a header block, bounded, that ends in an empty line */
	hend = header_end(buf, len < SMIME_MIME_MAX_HEADERS ? len :
	    SMIME_MIME_MAX_HEADERS);
	if (hend == 0)
		return SMIME_ERR_MIME;
	smime_init();

	if ((k = lookup_known(buf, hend)) != NULL) {
		err = SMIME_ERR_NOMEM;
		if ((ct = smime_strndup(k->ct, strlen(k->ct))) == NULL)
			goto out;
		cls = k->cls;
		sbuf_add(body, buf + hend, len - hend);
		err = body->err;
		goto out;
	}
	if ((vlen = simple_ct(buf, hend)) != 0) {
		err = SMIME_ERR_NOMEM;
		if ((ct = smime_strndup(buf + sizeof("Content-Type: ") - 1,
		    vlen)) == NULL)
			goto out;
		sbuf_add(body, buf + hend, len - hend);
		err = body->err;
		goto out;
	}
	err = SMIME_ERR_MIME;
	if ((obj = parse_gmime(buf, hend)) == NULL)
		goto out;
	if ((v = g_mime_object_get_header(obj, "Content-Type")) == NULL ||
	    smime_ctype_check(v) != 0)
		goto out;
	cls = classify(g_mime_object_get_content_type(obj));
	if (GMIME_IS_PART(obj))
		enc = g_mime_part_get_content_encoding(GMIME_PART(obj));
	else {
		/* multipart, message/rfc822: GMime checks the structure */
		if ((whole = parse_gmime(buf, len)) == NULL)
			goto out;
		g_object_unref(whole);
	}
	err = SMIME_ERR_NOMEM;
	if ((ct = unfold(v)) == NULL)
		goto out;

	if (enc == GMIME_CONTENT_ENCODING_BASE64 ||
	    enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    enc == GMIME_CONTENT_ENCODING_UUENCODE)
		err = decode(buf + hend, len - hend, enc, body);
	else {
		sbuf_add(body, buf + hend, len - hend);
		err = body->err;	/* TOO_BIG beyond the sbuf's maximum */
	}
out:
	if (err == 0) {
		*ct_out = ct;
		if (class_out != NULL)
			*class_out = cls;
	} else {
		free(ct);
		sbuf_wipe(body);
	}
	if (obj != NULL)
		g_object_unref(obj);
	return err;
}
