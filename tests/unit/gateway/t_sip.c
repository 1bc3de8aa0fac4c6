/*
 * tests/unit/gateway/t_sip.c - gateway framing and SIP messages: the
 *	framer, the libosip2 header parse with a raw body, serialising,
 *	responses, Via, Max-Forwards, Route, headers, peers (TAP)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * Cases:
 *  1. stream framing: whole, keep-alive CRLFs, every split point of a
 *     two-message stream, compact "l", caps, bad and conflicting values;
 *  2. datagram framing: missing, short and over-long Content-Length;
 *  3. the key property (spec/smime-sip.md 5.2): a binary multipart body
 *     with NUL octets and a folded part header survives parse and
 *     serialise byte for byte, and libosip2's "Content-Length: 0" line is
 *     where gw_msg_serialize expects it;
 *  4. responses (RFC 3261 8.2.6), Via received/rport and the response
 *     next hop, Max-Forwards, Route and Record-Route, header edits;
 *  5. what the parse refuses, and why;
 *  6. about twenty malformed inputs and 20,000 + 5,000 seeded mutations
 *     of two valid messages through frame, parse and serialise, each
 *     parsed one read back from its own output (run it under ASan:
 *     build-san).  T_SIP_SEED=n T_SIP_ITERS=n explore further;
 *     T_SIP_DUMP=1 writes a failing input and its output to stderr.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/gw_sip.h"
#include "tests/tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define MAX_HEAD	4096
#define MAX_MSG		65536

#define RQL	"MESSAGE sip:bob@192.0.2.7:5070;transport=tcp SIP/2.0\r\n"
#define V1	"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1;rport\r\n"
#define REST	"Max-Forwards: 70\r\n" \
		"From: \"Alice\" <sip:Alice@A.Example.COM:5070;transport=tcp>" \
		";tag=f1\r\n" \
		"To: <sip:bob@b.example>\r\n" \
		"Call-ID: c1@a.example\r\n" \
		"CSeq: 7 MESSAGE\r\n"
#define SIMPLE	RQL V1 REST "Content-Length: 0\r\n\r\n"

/* ---------------------------------------------------------------------- */
/* Helpers */

/* mk_body - a multipart/mixed body: a binary part, then a part with a
 *	folded Content-Type and binary content with NUL octets */
static size_t
mk_body(uint8_t *b, size_t cap)
{
	static const char p1[] = "--b1\r\n"
	    "Content-Type: application/mikey\r\n"
	    "Content-Transfer-Encoding: binary\r\n\r\n";
	static const char p2[] = "\r\n--b1\r\n"
	    "Content-Type: application/pkcs7-mime;\r\n"
	    " smime-type=authEnveloped-data;\r\n name=smime.p7m\r\n"
	    "Content-Disposition: attachment;\r\n\tfilename=smime.p7m\r\n"
	    "Content-Transfer-Encoding: binary\r\n\r\n";
	static const char trap[] = "\r\n\r\nContent-Length: 1\r\nl: 2\r\n";
	static const char end[] = "\r\n--b1--\r\n";
	size_t n = 0, i;

	if (cap < 1024)
		return 0;
	memcpy(b + n, p1, sizeof(p1) - 1);
	n += sizeof(p1) - 1;
	for (i = 0; i < 64; i++)
		b[n++] = (uint8_t)(i * 37);
	memcpy(b + n, trap, sizeof(trap) - 1);
	n += sizeof(trap) - 1;
	memcpy(b + n, p2, sizeof(p2) - 1);
	n += sizeof(p2) - 1;
	for (i = 0; i < 300; i++)
		b[n++] = (uint8_t)(i % 7 == 0 ? 0 : 255 - i);
	memcpy(b + n, end, sizeof(end) - 1);
	n += sizeof(end) - 1;
	return n;
}

/* mk_msg - a MESSAGE with that body and the Content-Length line pre,
 *	length, post into w; its length */
static size_t
mk_msg(char *w, size_t cap, const uint8_t *body, size_t blen,
    const char *pre, const char *post)
{
	int n;

	n = snprintf(w, cap, RQL V1 REST
	    "Content-Type: multipart/mixed;boundary=b1\r\n"
	    "%s%zu%s\r\n\r\n", pre, blen, post);
	if (n < 0 || (size_t)n + blen > cap)
		return 0;
	memcpy(w + n, body, blen);
	return (size_t)n + blen;
}

/* parse_dgram - frame buf as a datagram and parse it; NULL with *why */
static struct gw_msg *
parse_dgram(const char *buf, size_t len, const char **why)
{
	struct gw_frame f;
	struct gw_msg *m = NULL;
	const char *w = NULL;

	if (gw_frame_dgram(buf, len, MAX_HEAD, &f, &w) != GW_FRAME_OK) {
		*why = w;
		return NULL;
	}
	if (gw_msg_parse(buf + f.skip, f.head_len,
	    (const uint8_t *)buf + f.skip + f.head_len, f.body_len, &m,
	    &w) != 0) {
		*why = w;
		return NULL;
	}
	*why = NULL;
	return m;
}

/* parse_str - parse_dgram of a string */
static struct gw_msg *
parse_str(const char *s, const char **why)
{
	return parse_dgram(s, strlen(s), why);
}

/* ser - serialise m into a NUL-terminated string (free()), NULL on
 *	failure */
static char *
ser(const struct gw_msg *m, size_t *len)
{
	char *s = NULL;
	size_t n = 0;

	if (gw_msg_serialize(m, &s, &n) != 0)
		return NULL;
	if (len != NULL)
		*len = n;
	return s;
}

/* head_end - offset of the body in a serialised message, or 0 */
static size_t
head_end(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 4 <= n; i++) {
		if (memcmp(s + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	}
	return 0;
}

/* count_str - occurrences of needle in the first n octets of s */
static int
count_str(const char *s, size_t n, const char *needle)
{
	size_t l = strlen(needle), i;
	int c = 0;

	for (i = 0; i + l <= n; i++) {
		if (memcmp(s + i, needle, l) == 0)
			c++;
	}
	return c;
}

/* peer_is - p formats as want */
static int
peer_is(const struct gw_peer *p, const char *want)
{
	char buf[80];

	gw_peer_str(p, buf, sizeof(buf));
	if (strcmp(buf, want) != 0) {
		printf("#   got %s, want %s\n", buf, want);
		return 0;
	}
	return 1;
}

/* set_src - m came from host:port (numeric) */
static void
set_src(struct gw_msg *m, enum gw_proto p, const char *host, int port)
{
	struct gw_peer peer;

	memset(&peer, 0, sizeof(peer));
	if (gw_peer_make(p, host, port, &peer) == 0)
		m->src = peer;
}

/* rng - xorshift64*, seeded: the mutation loop is reproducible */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

/* ---------------------------------------------------------------------- */
/* 1. Stream framing */

static void
test_frame_stream_basic(void)
{
	static const char two_cl[] = RQL V1 REST
	    "Content-Length: 3\r\nl  :   3  \r\n\r\nabc";
	static const struct {
		const char	*msg;
		int		 rc;
		size_t		 body_len;
		const char	*why;
	} t[] = {
		{ RQL V1 REST "l: 3\r\n\r\nabc", GW_FRAME_OK, 3, NULL },
		{ RQL V1 REST "content-LENGTH \t:  3 \r\n\r\nabc",
		    GW_FRAME_OK, 3, NULL },
		{ RQL V1 REST "Content-Length:\r\n 3\r\n\r\nabc",
		    GW_FRAME_OK, 3, NULL },
		{ RQL V1 REST "L:0003\r\n\r\nabc", GW_FRAME_OK, 3, NULL },
		{ RQL V1 REST "Content-Length: 3\r\n\r\nab", GW_FRAME_MORE,
		    3, NULL },
		{ RQL V1 REST "\r\n", GW_FRAME_BAD, 0,
		    "no Content-Length" },
		{ RQL V1 REST "X-Content-Length: 3\r\n\r\nabc",
		    GW_FRAME_BAD, 0, "no Content-Length" },
		{ RQL V1 REST "Content-Lengthy: 3\r\n\r\nabc",
		    GW_FRAME_BAD, 0, "no Content-Length" },
		{ "MESSAGE sip:l:3@x SIP/2.0\r\n" V1 "\r\n", GW_FRAME_BAD, 0,
		    "no Content-Length" },
		{ RQL V1 REST "Content-Length: abc\r\n\r\n", GW_FRAME_BAD,
		    0, "bad Content-Length" },
		{ RQL V1 REST "Content-Length: 3a\r\n\r\nabc",
		    GW_FRAME_BAD, 0, "bad Content-Length" },
		{ RQL V1 REST "Content-Length: -1\r\n\r\n", GW_FRAME_BAD,
		    0, "bad Content-Length" },
		{ RQL V1 REST "Content-Length:\r\n\r\n", GW_FRAME_BAD, 0,
		    "bad Content-Length" },
		{ RQL V1 REST "Content-Length: 3, 3\r\n\r\nabc",
		    GW_FRAME_BAD, 0, "bad Content-Length" },
		{ RQL V1 REST "Content-Length: 3 3\r\n\r\nabc",
		    GW_FRAME_BAD, 0, "bad Content-Length" },
		{ RQL V1 REST "Content-Length: "
		    "99999999999999999999999999\r\n\r\n", GW_FRAME_BAD, 0,
		    "bad Content-Length" },
		{ RQL V1 REST "Content-Length: 3\r\nl: 4\r\n\r\nabcd",
		    GW_FRAME_BAD, 0, "Content-Length conflict" },
		{ RQL V1 REST "Content-Length: 70000\r\n\r\n", GW_FRAME_BAD,
		    0, "too big" },
	};
	struct gw_frame f;
	const char *why;
	size_t i;
	int rc;

	for (i = 0; i < NELEM(t); i++) {
		why = NULL;
		rc = gw_frame_stream(t[i].msg, strlen(t[i].msg), MAX_HEAD,
		    MAX_MSG, &f, &why);
		ok(rc == t[i].rc && (rc == GW_FRAME_BAD ||
		    f.body_len == t[i].body_len) && (t[i].why == NULL ||
		    (why != NULL && strcmp(why, t[i].why) == 0)),
		    "stream %zu: got rc %d body %zu why %s, want %d %zu %s", i,
		    rc, f.body_len, why ? why : "-", t[i].rc, t[i].body_len,
		    t[i].why ? t[i].why : "-");
	}

	rc = gw_frame_stream(two_cl, strlen(two_cl), MAX_HEAD, MAX_MSG, &f,
	    &why);
	ok(rc == GW_FRAME_OK && f.body_len == 3 && f.has_clen &&
	    f.head_len + 3 == strlen(two_cl),
	    "two Content-Length headers with one value are tolerated");

	/* keep-alives (RFC 3261 7.5) */
	{
		char buf[512];
		int n = snprintf(buf, sizeof(buf), "\r\n\r\n\r\n%s", SIMPLE);

		rc = gw_frame_stream(buf, (size_t)n, MAX_HEAD, MAX_MSG, &f,
		    &why);
		ok(rc == GW_FRAME_OK && f.skip == 6 &&
		    f.head_len == strlen(SIMPLE) && f.body_len == 0,
		    "leading CRLFs skipped: skip %zu", f.skip);
		rc = gw_frame_stream("\r\n\r\n", 4, MAX_HEAD, MAX_MSG, &f,
		    &why);
		ok(rc == GW_FRAME_MORE && f.skip == 4,
		    "a bare keep-alive: MORE, skip 4");
		rc = gw_frame_stream("\r\n\r", 3, MAX_HEAD, MAX_MSG, &f,
		    &why);
		ok(rc == GW_FRAME_MORE && f.skip == 3,
		    "half a keep-alive: MORE, skip 3");
		rc = gw_frame_stream(NULL, 0, MAX_HEAD, MAX_MSG, &f, NULL);
		ok(rc == GW_FRAME_MORE, "empty buffer: MORE");
	}
}

static void
test_frame_stream_caps(void)
{
	char *big;
	struct gw_frame f;
	const char *why;
	size_t hl = strlen(SIMPLE), i;
	int rc;

	/* the header cap, exactly */
	rc = gw_frame_stream(SIMPLE, hl, hl, MAX_MSG, &f, &why);
	ok(rc == GW_FRAME_OK && f.head_len == hl,
	    "header block of exactly max_head");
	rc = gw_frame_stream(SIMPLE, hl, hl - 1, MAX_MSG, &f, &why);
	ok(rc == GW_FRAME_BAD && why && strcmp(why, "header too big") == 0,
	    "one octet over max_head: BAD %s", why ? why : "-");
	rc = gw_frame_stream(SIMPLE, hl - 1, hl, MAX_MSG, &f, &why);
	ok(rc == GW_FRAME_MORE, "incomplete header under the cap: MORE");

	/* a header line that never ends */
	big = malloc(3 * MAX_HEAD);
	memcpy(big, RQL, strlen(RQL));
	for (i = strlen(RQL); i < 3 * MAX_HEAD; i++)
		big[i] = 'x';
	rc = gw_frame_stream(big, MAX_HEAD - 1, MAX_HEAD, MAX_MSG, &f, &why);
	ok(rc == GW_FRAME_MORE, "long header under the cap: MORE");
	rc = gw_frame_stream(big, 3 * MAX_HEAD, MAX_HEAD, MAX_MSG, &f, &why);
	ok(rc == GW_FRAME_BAD && why && strcmp(why, "header too big") == 0,
	    "header block over the cap: BAD before CRLFCRLF");
	free(big);

	/* the message cap, before the body arrives */
	{
		char buf[512];
		int n;

		n = snprintf(buf, sizeof(buf), RQL V1 REST
		    "Content-Length: %zu\r\n\r\n", (size_t)1000);
		rc = gw_frame_stream(buf, (size_t)n, MAX_HEAD,
		    (size_t)n + 999, &f, &why);
		ok(rc == GW_FRAME_BAD && why && strcmp(why, "too big") == 0,
		    "Content-Length over the cap: BAD with no body yet");
		rc = gw_frame_stream(buf, (size_t)n, MAX_HEAD,
		    (size_t)n + 1000, &f, &why);
		ok(rc == GW_FRAME_MORE && f.body_len == 1000,
		    "Content-Length at the cap: MORE");
		rc = gw_frame_stream(buf, (size_t)n, MAX_HEAD, 10, &f, &why);
		ok(rc == GW_FRAME_BAD && why && strcmp(why, "too big") == 0,
		    "header block alone over max_msg: BAD");
		n = snprintf(buf, sizeof(buf), RQL V1 REST
		    "Content-Length: %zu\r\n\r\n", (size_t)-1);
		rc = gw_frame_stream(buf, (size_t)n, MAX_HEAD, MAX_MSG, &f,
		    &why);
		ok(rc == GW_FRAME_BAD && why && strcmp(why, "too big") == 0,
		    "Content-Length SIZE_MAX: BAD, no overflow");
	}

	/* garbage */
	{
		char g[MAX_HEAD + 10];

		for (i = 0; i < sizeof(g); i++)
			g[i] = (char)(rng() % 200 + 20);
		rc = gw_frame_stream(g, 100, MAX_HEAD, MAX_MSG, &f, &why);
		ok(rc == GW_FRAME_MORE, "100 octets of garbage: MORE");
		rc = gw_frame_stream(g, sizeof(g), MAX_HEAD, MAX_MSG, &f,
		    &why);
		ok(rc == GW_FRAME_BAD, "garbage over max_head: BAD");
		memcpy(g + 50, "\r\n\r\n", 4);
		rc = gw_frame_stream(g, sizeof(g), MAX_HEAD, MAX_MSG, &f,
		    &why);
		ok(rc == GW_FRAME_BAD && why &&
		    strcmp(why, "no Content-Length") == 0,
		    "garbage with CRLFCRLF: BAD %s", why ? why : "-");
	}
}

/* frame_exact - gw_frame_stream on an exact-size heap copy, so that
 *	ASan sees any read past the end */
static int
frame_exact(const char *buf, size_t len, struct gw_frame *f)
{
	const char *why;
	char *copy;
	int rc;

	if ((copy = malloc(len > 0 ? len : 1)) == NULL)
		return GW_FRAME_BAD;
	memcpy(copy, buf, len);
	rc = gw_frame_stream(copy, len, MAX_HEAD, MAX_MSG, f, &why);
	free(copy);
	return rc;
}

/* drain - frame and remove every whole message in acc; append them to
 *	got (stream order); -1 on BAD */
static int
drain(char *acc, size_t *acc_len, char *got, size_t *got_len)
{
	struct gw_frame f;
	size_t n;
	int rc;

	for (;;) {
		rc = frame_exact(acc, *acc_len, &f);
		if (rc == GW_FRAME_BAD)
			return -1;
		if (rc == GW_FRAME_MORE) {
			/* keep-alives may go at once */
			if (f.skip == *acc_len)
				*acc_len = 0;
			return 0;
		}
		n = f.skip + f.head_len + f.body_len;
		memcpy(got + *got_len, acc + f.skip, n - f.skip);
		*got_len += n - f.skip;
		memmove(acc, acc + n, *acc_len - n);
		*acc_len -= n;
	}
}

static void
test_frame_stream_split(void)
{
	uint8_t body[2048];
	char m1[4096], stream[8192], acc[8192], got[8192], want[8192];
	static const char m2[] = "MESSAGE sip:x@192.0.2.1 SIP/2.0\r\n" V1
	    "From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: 2\r\n"
	    "CSeq: 1 MESSAGE\r\nl: 3\r\n\r\nxyz";
	size_t bl, l1, total, k, acc_len, got_len, bad = 0;

	bl = mk_body(body, sizeof(body));
	l1 = mk_msg(m1, sizeof(m1), body, bl, "Content-Length: ", "");
	/* m1, a keep-alive, m2 */
	memcpy(stream, m1, l1);
	memcpy(stream + l1, "\r\n", 2);
	memcpy(stream + l1 + 2, m2, sizeof(m2) - 1);
	total = l1 + 2 + sizeof(m2) - 1;
	memcpy(want, m1, l1);
	memcpy(want + l1, m2, sizeof(m2) - 1);

	for (k = 0; k <= total; k++) {
		acc_len = got_len = 0;
		memcpy(acc, stream, k);
		acc_len = k;
		if (drain(acc, &acc_len, got, &got_len) == -1) {
			bad++;
			continue;
		}
		/* nothing may come out before it is whole */
		if ((k < l1 && got_len != 0) ||
		    (k >= l1 && k < total && got_len != l1)) {
			bad++;
			continue;
		}
		memcpy(acc + acc_len, stream + k, total - k);
		acc_len += total - k;
		if (drain(acc, &acc_len, got, &got_len) == -1 ||
		    acc_len != 0 || got_len != l1 + sizeof(m2) - 1 ||
		    memcmp(got, want, got_len) != 0)
			bad++;
	}
	ok(bad == 0, "every split point of a %zu-octet two-message stream "
	    "(binary body, keep-alive between): %zu bad", total, bad);
}

/* ---------------------------------------------------------------------- */
/* 2. Datagram framing */

static void
test_frame_dgram(void)
{
	struct gw_frame f;
	const char *why;
	char buf[512];
	size_t hl;
	int rc, n;

	rc = gw_frame_dgram(SIMPLE, strlen(SIMPLE), MAX_HEAD, &f, &why);
	ok(rc == GW_FRAME_OK && f.head_len == strlen(SIMPLE) &&
	    f.body_len == 0 && f.has_clen, "datagram, Content-Length 0");

	n = snprintf(buf, sizeof(buf), "%s", RQL V1 REST "\r\nhello");
	rc = gw_frame_dgram(buf, (size_t)n, MAX_HEAD, &f, &why);
	ok(rc == GW_FRAME_OK && f.body_len == 5 && !f.has_clen,
	    "no Content-Length: the rest of the datagram (18.3)");

	n = snprintf(buf, sizeof(buf), "%s", RQL V1 REST
	    "Content-Length: 5\r\n\r\nhello, world");
	rc = gw_frame_dgram(buf, (size_t)n, MAX_HEAD, &f, &why);
	ok(rc == GW_FRAME_OK && f.body_len == 5 &&
	    f.head_len + 5 + 7 == (size_t)n,
	    "trailing octets beyond Content-Length are not counted");

	n = snprintf(buf, sizeof(buf), "%s", RQL V1 REST
	    "Content-Length: 50\r\n\r\nhello");
	hl = strlen(RQL V1 REST "Content-Length: 50\r\n\r\n");
	rc = gw_frame_dgram(buf, (size_t)n, MAX_HEAD, &f, &why);
	ok(rc == GW_FRAME_BAD && why && strcmp(why, "short") == 0 &&
	    f.head_len == hl && f.body_len == 5,
	    "short datagram: BAD \"short\", head_len %zu set, body_len %zu",
	    f.head_len, f.body_len);
	{
		struct gw_msg *m = NULL;

		ok(gw_msg_parse(buf, f.head_len, NULL, 0, &m, &why) == 0 &&
		    m != NULL, "... and its headers still parse (for the 400)");
		gw_msg_free(m);
	}

	rc = gw_frame_dgram("\r\n\r\n", 4, MAX_HEAD, &f, &why);
	ok(rc == GW_FRAME_BAD && why && strcmp(why, "empty") == 0,
	    "a CRLF datagram: BAD empty");
	rc = gw_frame_dgram(RQL V1, strlen(RQL V1), MAX_HEAD, &f, &why);
	ok(rc == GW_FRAME_BAD && why &&
	    strcmp(why, "no end of headers") == 0,
	    "no CRLFCRLF: BAD %s", why ? why : "-");
	rc = gw_frame_dgram(SIMPLE, strlen(SIMPLE), 20, &f, &why);
	ok(rc == GW_FRAME_BAD && why && strcmp(why, "header too big") == 0,
	    "datagram header over max_head: BAD");
	n = snprintf(buf, sizeof(buf), "%s", RQL V1 REST
	    "l: 1\r\nContent-Length: 2\r\n\r\nab");
	rc = gw_frame_dgram(buf, (size_t)n, MAX_HEAD, &f, &why);
	ok(rc == GW_FRAME_BAD && why &&
	    strcmp(why, "Content-Length conflict") == 0 && f.head_len > 0,
	    "datagram with conflicting lengths: BAD, head_len set");
}

/* ---------------------------------------------------------------------- */
/* 3. Parse and serialise: the body survives */

static void
test_body_roundtrip(void)
{
	uint8_t body[2048];
	char wire[4096], *out, *out2, *ct;
	struct gw_msg *m = NULL, *m2 = NULL;
	struct gw_frame f;
	const char *why;
	size_t bl, wl, ol, ol2, he;
	char want_cl[64];
	static const char *const cls[][2] = {
		{ "Content-Length: ", "" }, { "l: ", "" },
		{ "content-length :   ", "  " },
	};
	size_t i;

	bl = mk_body(body, sizeof(body));
	ok(memchr(body, 0, bl) != NULL, "the body holds NUL octets (%zu "
	    "octets)", bl);

	for (i = 0; i < NELEM(cls); i++) {
		wl = mk_msg(wire, sizeof(wire), body, bl, cls[i][0],
		    cls[i][1]);
		ok(gw_frame_stream(wire, wl, MAX_HEAD, MAX_MSG, &f, &why) ==
		    GW_FRAME_OK && f.body_len == bl && f.head_len + bl == wl,
		    "framed (\"%sN%s\")", cls[i][0], cls[i][1]);
		m = NULL;
		ok(gw_msg_parse(wire, f.head_len, (const uint8_t *)wire +
		    f.head_len, f.body_len, &m, &why) == 0,
		    "parsed: %s", why ? why : "ok");
		if (m == NULL)
			continue;
		is_mem(m->body, m->body_len, body, bl, "body kept raw");
		ok(m->sip->content_length != NULL &&
		    strcmp(m->sip->content_length->value, "0") == 0 &&
		    osip_list_size(&m->sip->bodies) == 0,
		    "libosip2 saw Content-Length 0 and holds no body");
		ct = gw_msg_ctype(m);
		ok(ct != NULL && strstr(ct, "multipart/mixed") == ct &&
		    strstr(ct, "boundary=b1") != NULL,
		    "Content-Type kept: %s", ct ? ct : "(null)");
		free(ct);

		out = ser(m, &ol);
		ok(out != NULL, "serialised");
		if (out == NULL) {
			gw_msg_free(m);
			continue;
		}
		he = head_end(out, ol);
		snprintf(want_cl, sizeof(want_cl),
		    "\r\nContent-Length: %zu\r\n\r\n", bl);
		ok(he > 0 && he >= strlen(want_cl) &&
		    memcmp(out + he - strlen(want_cl), want_cl,
		    strlen(want_cl)) == 0,
		    "Content-Length %zu is the last header line", bl);
		ok(count_str(out, he, "Content-Length") == 1 &&
		    count_str(out, he, "\r\nl:") == 0,
		    "exactly one Content-Length line");
		is_mem(out + he, ol - he, body, bl,
		    "body byte-exact after serialise");

		/* and once more through the whole path */
		m2 = parse_dgram(out, ol, &why);
		ok(m2 != NULL, "the output parses again");
		if (m2 != NULL) {
			is_mem(m2->body, m2->body_len, body, bl,
			    "body byte-exact after a second round");
			out2 = ser(m2, &ol2);
			ok(out2 != NULL && ol2 == ol &&
			    memcmp(out2, out, ol) == 0,
			    "the second serialisation is identical");
			free(out2);
			gw_msg_free(m2);
		}
		free(out);
		gw_msg_free(m);
	}
}

static void
test_serialize(void)
{
	struct gw_msg *m;
	const char *why;
	char *out;
	size_t ol, he;
	static const uint8_t b[] = { 0x30, 0x82, 0x00, 0x00, '\r', '\n',
	    '\r', '\n', 0xff };

	m = parse_str(SIMPLE, &why);
	ok(m != NULL, "simple MESSAGE parses");
	if (m == NULL)
		return;
	ok(m->body == NULL && m->body_len == 0 && m->listener == -1 &&
	    m->conn == 0, "no body, listener -1, conn 0");
	out = ser(m, &ol);
	/* pin libosip2's output: the header block ends with this line */
	ok(out != NULL && ol > 23 &&
	    strcmp(out + ol - 23, "\r\nContent-Length: 0\r\n\r\n") == 0,
	    "libosip2 writes \"Content-Length: 0\" last (spec 5.2)");
	ok(out != NULL && strlen(out) == ol, "NUL-terminated output");
	free(out);

	ok(gw_msg_set_body(m, "application/pkcs7-mime; "
	    "smime-type=enveloped-data", b, sizeof(b)) == 0, "set_body");
	out = ser(m, &ol);
	he = out != NULL ? head_end(out, ol) : 0;
	ok(he > 0 && strstr(out, "\r\nContent-Length: 9\r\n\r\n") != NULL &&
	    strstr(out, "Content-Type: application/pkcs7-mime; "
	    "smime-type=enveloped-data\r\n") != NULL,
	    "new Content-Type and Content-Length 9");
	/* the body holds CRLFCRLF itself: take it from the end */
	ok(out != NULL && ol >= sizeof(b) &&
	    memcmp(out + ol - sizeof(b), b, sizeof(b)) == 0 &&
	    he + sizeof(b) == ol, "raw body appended");
	free(out);

	ok(gw_msg_set_body(m, NULL, NULL, 0) == 0, "set_body NULL");
	out = ser(m, &ol);
	ok(out != NULL && strstr(out, "Content-Type") == NULL &&
	    strstr(out, "\r\nContent-Length: 0\r\n\r\n") != NULL &&
	    m->body == NULL, "Content-Type removed, length 0");
	free(out);
	ok(gw_msg_set_body(m, "text/plain\r\nX: y", b, 1) == -1 &&
	    gw_msg_set_body(m, "", b, 1) == -1 &&
	    gw_msg_set_body(m, "multipart/mixed; boundary=", b, 1) == -1 &&
	    gw_msg_set_body(m, "text/plain", NULL, 3) == -1,
	    "set_body refuses a split header, no type, no bytes");
	gw_msg_free(m);
	ok(gw_msg_serialize(NULL, &out, &ol) == -1, "serialise NULL: -1");
}

/* ---------------------------------------------------------------------- */
/* 4. Responses, Via, Max-Forwards, Route, headers */

static void
test_response(void)
{
	static const char req[] = RQL
	    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a, "
	    "SIP/2.0/TCP 10.0.0.2:5070;branch=z9hG4bK-b\r\n"
	    "v: SIP/2.0/TLS [2001:db8::3];branch=z9hG4bK-c\r\n"
	    REST "Timestamp: 54\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 2\r\n\r\nhi";
	static const struct {
		int		 code;
		const char	*phrase;
	} ph[] = {
		{ 100, "Trying" }, { 180, "Ringing" }, { 200, "OK" },
		{ 202, "Accepted" }, { 400, "Bad Request" },
		{ 403, "Forbidden" }, { 404, "Not Found" },
		{ 408, "Request Timeout" },
		{ 413, "Request Entity Too Large" },
		{ 415, "Unsupported Media Type" },
		{ 480, "Temporarily Unavailable" },
		{ 482, "Loop Detected" }, { 483, "Too Many Hops" },
		{ 486, "Busy Here" }, { 488, "Not Acceptable Here" },
		{ 493, "Undecipherable" }, { 500, "Server Internal Error" },
		{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Server Time-out" }, { 599, "Server Error" },
	};
	struct gw_msg *q, *r = NULL, *r2;
	osip_via_t *v;
	osip_generic_param_t *tag;
	const char *why;
	char *out, *s;
	size_t ol, i;
	int bad;

	q = parse_str(req, &why);
	ok(q != NULL && gw_via_count(q) == 3, "request with 3 Via values "
	    "on 2 lines: %d", q ? gw_via_count(q) : -1);
	if (q == NULL)
		return;
	q->conn = 42;
	q->listener = 1;
	ok(gw_msg_response(q, 200, NULL, "t0", &r) == 0 && r != NULL,
	    "200 built");
	if (r == NULL) {
		gw_msg_free(q);
		return;
	}
	ok(!gw_msg_is_request(r) && gw_msg_status(r) == 200 &&
	    strcmp(r->sip->reason_phrase, "OK") == 0 &&
	    gw_msg_method(r) == NULL, "status 200 OK");
	bad = gw_via_count(r) != 3;
	for (i = 0; i < 3 && !bad; i++) {
		static const char *const br[] = { "z9hG4bK-a", "z9hG4bK-b",
		    "z9hG4bK-c" };
		osip_generic_param_t *p = NULL;

		v = osip_list_get(&r->sip->vias, (int)i);
		osip_via_param_get_byname(v, "branch", &p);
		bad = p == NULL || strcmp(p->gvalue, br[i]) != 0;
	}
	ok(!bad, "every Via copied, in order");
	tag = NULL;
	osip_to_get_tag(r->sip->to, &tag);
	ok(tag != NULL && strcmp(tag->gvalue, "t0") == 0, "To tag added");
	tag = NULL;
	osip_from_get_tag(r->sip->from, &tag);
	ok(tag != NULL && strcmp(tag->gvalue, "f1") == 0, "From with its tag");
	ok(strcmp(r->sip->call_id->number, "c1") == 0 &&
	    strcmp(r->sip->call_id->host, "a.example") == 0,
	    "Call-ID copied");
	ok(strcmp(r->sip->cseq->number, "7") == 0 &&
	    strcmp(r->sip->cseq->method, "MESSAGE") == 0, "CSeq copied");
	ok(r->conn == 42 && r->listener == 1 && r->body == NULL,
	    "goes back on the request's connection, no body");
	out = ser(r, &ol);
	ok(out != NULL && strncmp(out, "SIP/2.0 200 OK\r\n", 16) == 0 &&
	    strcmp(out + ol - 23, "\r\nContent-Length: 0\r\n\r\n") == 0 &&
	    strstr(out, "Content-Type") == NULL &&
	    strstr(out, "Timestamp") == NULL,
	    "serialised: status line, Content-Length 0, no Content-Type");
	r2 = out != NULL ? parse_str(out, &why) : NULL;
	ok(r2 != NULL && gw_msg_status(r2) == 200,
	    "the response parses (%s)", why ? why : "ok");
	gw_msg_free(r2);
	free(out);
	gw_msg_free(r);

	r = NULL;
	ok(gw_msg_response(q, 100, NULL, "t0", &r) == 0, "100 built");
	tag = NULL;
	if (r != NULL)
		osip_to_get_tag(r->sip->to, &tag);
	ok(r != NULL && tag == NULL, "no To tag on a 100");
	out = r != NULL ? ser(r, &ol) : NULL;
	ok(out != NULL && strstr(out, "\r\nTimestamp: 54\r\n") != NULL,
	    "a 100 copies Timestamp (8.2.6.1)");
	free(out);
	gw_msg_free(r);

	r = NULL;
	ok(gw_msg_response(q, 403, "Forbidden Fruit", NULL, &r) == 0 &&
	    strcmp(r->sip->reason_phrase, "Forbidden Fruit") == 0,
	    "own reason phrase");
	tag = NULL;
	if (r != NULL)
		osip_to_get_tag(r->sip->to, &tag);
	ok(tag == NULL, "to_tag NULL: none added");
	/* a response to the response is refused; a To with a tag keeps it */
	r2 = NULL;
	ok(r != NULL && gw_msg_response(r, 200, NULL, "x", &r2) == -1 &&
	    r2 == NULL, "no response to a response");
	gw_msg_free(r);

	bad = 0;
	for (i = 0; i < NELEM(ph); i++) {
		r = NULL;
		if (gw_msg_response(q, ph[i].code, NULL, "t", &r) != 0 ||
		    strcmp(r->sip->reason_phrase, ph[i].phrase) != 0) {
			printf("#   %d: got %s, want %s\n", ph[i].code,
			    r ? r->sip->reason_phrase : "(fail)",
			    ph[i].phrase);
			bad++;
		}
		gw_msg_free(r);
	}
	ok(bad == 0, "standard reason phrases (%zu codes)", NELEM(ph));

	r = NULL;
	ok(gw_msg_response(q, 99, NULL, NULL, &r) == -1 &&
	    gw_msg_response(q, 700, NULL, NULL, &r) == -1 &&
	    gw_msg_response(q, 400, "Bad\r\nX: y", NULL, &r) == -1 &&
	    gw_msg_response(q, 200, NULL, "a;b", &r) == -1 && r == NULL,
	    "status 99, 700, a split reason, a bad tag: refused");

	/* the To already has a tag (in-dialog request) */
	gw_msg_free(q);
	q = parse_str(RQL V1 "From: <sip:a@b>;tag=1\r\n"
	    "To: <sip:c@d>;tag=old\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n"
	    "Content-Length: 0\r\n\r\n", &why);
	r = NULL;
	ok(q != NULL && gw_msg_response(q, 200, NULL, "new", &r) == 0,
	    "200 to an in-dialog request");
	out = r != NULL ? ser(r, &ol) : NULL;
	ok(out != NULL && (s = strstr(out, "\r\nTo: ")) != NULL &&
	    strstr(s, "tag=old") != NULL && strstr(out, "new") == NULL,
	    "the existing To tag kept");
	free(out);
	gw_msg_free(r);
	gw_msg_free(q);
}

static void
test_via(void)
{
	static const struct {
		const char	*via;
		const char	*src;
		int		 sport;
		const char	*received;	/* NULL: none */
		const char	*rport;		/* NULL: not asked */
		const char	*hop;
	} t[] = {
		{ "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport",
		    "192.0.2.10", 5062, "192.0.2.10", "5062",
		    "udp:192.0.2.10:5062" },
		{ "SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1",
		    "10.0.0.1", 6000, NULL, NULL, "udp:10.0.0.1:5070" },
		{ "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1",
		    "192.0.2.10", 6000, "192.0.2.10", NULL,
		    "udp:192.0.2.10:5060" },
		/* RFC 3581 4: rport asks for received even when equal */
		{ "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport",
		    "10.0.0.1", 40000, "10.0.0.1", "40000",
		    "udp:10.0.0.1:40000" },
		/* on TCP rport is filled, the response port is sent-by's */
		{ "SIP/2.0/TCP 10.0.0.1:5070;branch=z9hG4bK1;rport",
		    "192.0.2.10", 40001, "192.0.2.10", "40001",
		    "tcp:192.0.2.10:5070" },
		{ "SIP/2.0/TLS 10.0.0.1;branch=z9hG4bK1",
		    "10.0.0.1", 40001, NULL, NULL, "tls:10.0.0.1:5061" },
		{ "SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bK1",
		    "2001:db8::2", 5999, "2001:db8::2", NULL,
		    "udp:[2001:db8::2]:5070" },
		{ "SIP/2.0/UDP [2001:DB8:0::1]:5070;branch=z9hG4bK1",
		    "2001:db8::1", 5999, NULL, NULL,
		    "udp:[2001:db8::1]:5070" },
		{ "SIP/2.0/UDP [2001:db8::1];branch=z9hG4bK1;rport",
		    "2001:db8::1", 5999, "2001:db8::1", "5999",
		    "udp:[2001:db8::1]:5999" },
		{ "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1",
		    "::ffff:10.0.0.1", 5060, NULL, NULL, "udp:10.0.0.1:5060" },
		{ "SIP/2.0/UDP client.example:5060;branch=z9hG4bK1",
		    "192.0.2.10", 5060, "192.0.2.10", NULL,
		    "udp:192.0.2.10:5060" },
		/* a received= the client wrote itself is replaced */
		{ "SIP/2.0/UDP 10.0.0.1;received=6.6.6.6;branch=z9hG4bK1",
		    "192.0.2.10", 5060, "192.0.2.10", NULL,
		    "udp:192.0.2.10:5060" },
	};
	struct gw_msg *m;
	struct gw_peer hop;
	osip_via_t *v;
	osip_generic_param_t *p;
	const char *why;
	char buf[1024], *out;
	size_t i;
	int n, good;

	for (i = 0; i < NELEM(t); i++) {
		snprintf(buf, sizeof(buf), RQL "Via: %s\r\n" REST
		    "Content-Length: 0\r\n\r\n", t[i].via);
		m = parse_str(buf, &why);
		if (m == NULL) {
			ok(0, "via %zu parses: %s", i, why);
			continue;
		}
		set_src(m, GW_UDP, t[i].src, t[i].sport);
		good = gw_via_received(m) == 0;
		v = osip_list_get(&m->sip->vias, 0);
		p = NULL;
		osip_via_param_get_byname(v, "received", &p);
		n = 0;
		{
			osip_list_iterator_t it;
			osip_generic_param_t *q;

			for (q = osip_list_get_first(&v->via_params, &it);
			    q != NULL; q = osip_list_get_next(&it))
				n += strcmp(q->gname, "received") == 0;
		}
		if (t[i].received == NULL)
			good = good && p == NULL;
		else
			good = good && p != NULL && n == 1 &&
			    strcmp(p->gvalue, t[i].received) == 0;
		p = NULL;
		osip_via_param_get_byname(v, "rport", &p);
		if (t[i].rport != NULL)
			good = good && p != NULL && p->gvalue != NULL &&
			    strcmp(p->gvalue, t[i].rport) == 0;
		ok(good, "via %zu received %s rport %s", i,
		    t[i].received ? t[i].received : "-",
		    t[i].rport ? t[i].rport : "-");
		/* the change must reach the wire (force_update, spec 5.1) */
		out = ser(m, NULL);
		ok(out != NULL && (t[i].received == NULL ||
		    strstr(out, t[i].received) != NULL) &&
		    (t[i].rport == NULL || strstr(out, t[i].rport) != NULL),
		    "via %zu serialised with its parameters", i);
		ok(gw_via_next_hop(m, &hop) == 0 && peer_is(&hop, t[i].hop),
		    "via %zu next hop %s", i, t[i].hop);
		gw_msg_free(m);
		/* and read back from the wire, as the response will be */
		m = out != NULL ? parse_str(out, &why) : NULL;
		ok(m != NULL && gw_via_next_hop(m, &hop) == 0 &&
		    peer_is(&hop, t[i].hop), "via %zu next hop after a round "
		    "trip", i);
		gw_msg_free(m);
		free(out);
	}

	/* a host name and no received: no DNS, no next hop */
	m = parse_str(RQL "Via: SIP/2.0/UDP client.example;branch=z9hG4bK1"
	    "\r\n" REST "Content-Length: 0\r\n\r\n", &why);
	ok(m != NULL && gw_via_next_hop(m, &hop) == -1,
	    "next hop of a host name: -1");
	gw_msg_free(m);
	m = parse_str(RQL "Via: SIP/2.0/SCTP 10.0.0.1;branch=z9hG4bK1"
	    "\r\n" REST "Content-Length: 0\r\n\r\n", &why);
	ok(m != NULL && gw_via_next_hop(m, &hop) == -1,
	    "next hop over SCTP: -1");
	gw_msg_free(m);

	/* push, branch, pop */
	m = parse_str(SIMPLE, &why);
	if (m == NULL)
		return;
	ok(gw_via_count(m) == 1 && strcmp(gw_via_branch(m), "z9hG4bK-1") == 0,
	    "one Via, its branch");
	ok(gw_via_push(m, GW_UDP, "192.0.2.1", 5060, "z9hG4bKgw1") == 0 &&
	    gw_via_count(m) == 2 && strcmp(gw_via_branch(m), "z9hG4bKgw1") == 0,
	    "via_push: at the top");
	ok(gw_via_push(m, GW_TLS, "2001:db8::5", 5061, "z9hG4bKgw2") == 0 &&
	    gw_via_count(m) == 3, "via_push IPv6");
	out = ser(m, NULL);
	ok(out != NULL && strstr(out, "\r\nVia: SIP/2.0/TLS [2001:db8::5]:5061"
	    ";branch=z9hG4bKgw2\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;"
	    "branch=z9hG4bKgw1;rport\r\nVia: SIP/2.0/UDP 10.0.0.1") != NULL,
	    "serialised in order, IPv6 bracketed, rport on UDP");
	free(out);
	ok(gw_via_pop(m) == 0 && gw_via_pop(m) == 0 && gw_via_count(m) == 1 &&
	    strcmp(gw_via_branch(m), "z9hG4bK-1") == 0, "via_pop twice");
	out = ser(m, NULL);
	ok(out != NULL && strstr(out, "gw1") == NULL &&
	    strstr(out, "gw2") == NULL, "popped Vias gone from the wire");
	free(out);
	ok(gw_via_push(m, GW_UDP, "192.0.2.1", 5060, "z9;x") == -1 &&
	    gw_via_push(m, GW_UDP, "192.0.2.1 x", 5060, "z9hG4bK") == -1 &&
	    gw_via_push(m, GW_UDP, "h\r\nX: y", 5060, "z9hG4bK") == -1 &&
	    gw_via_push(m, GW_UDP, "192.0.2.1", 70000, "z9hG4bK") == -1 &&
	    gw_via_count(m) == 1, "via_push refuses bad branch, host, port");
	ok(gw_via_pop(m) == 0 && gw_via_pop(m) == -1 &&
	    gw_via_branch(m) == NULL && gw_via_next_hop(m, &hop) == -1,
	    "no Via left: pop -1, branch NULL, next hop -1");
	gw_msg_free(m);
}

static void
test_maxfwd(void)
{
	struct gw_msg *m;
	const char *why;

	m = parse_str(SIMPLE, &why);
	ok(m != NULL && gw_maxfwd(m) == 0 &&
	    strcmp(gw_msg_header(m, "Max-Forwards"), "69") == 0,
	    "Max-Forwards 70 -> 69");
	gw_msg_free(m);

	m = parse_str(RQL V1 "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
	    "Call-ID: x\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n", &why);
	ok(m != NULL && gw_msg_header(m, "max-forwards") == NULL,
	    "absent Max-Forwards accepted");
	ok(m != NULL && gw_maxfwd(m) == 0 &&
	    strcmp(gw_msg_header(m, "max-forwards"), "69") == 0,
	    "absent: set to 69");
	gw_msg_free(m);

	m = parse_str(RQL V1 "Max-Forwards: 1\r\nFrom: <sip:a@b>;tag=1\r\n"
	    "To: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n"
	    "Content-Length: 0\r\n\r\n", &why);
	ok(m != NULL && gw_maxfwd(m) == 0 &&
	    strcmp(gw_msg_header(m, "max-forwards"), "0") == 0,
	    "1 -> 0");
	ok(m != NULL && gw_maxfwd(m) == -1 &&
	    strcmp(gw_msg_header(m, "max-forwards"), "0") == 0,
	    "0: -1 (483), unchanged");
	{
		char *out = m != NULL ? ser(m, NULL) : NULL;

		ok(out != NULL && strstr(out, "Max-forwards: 0\r\n") != NULL,
		    "the new value on the wire");
		free(out);
	}
	gw_msg_free(m);
}

static void
test_route(void)
{
	struct gw_msg *m;
	struct gw_peer hop;
	const char *why;
	char *out;

	m = parse_str(RQL V1 "Route: <sip:10.0.0.5;lr>, "
	    "<sip:[2001:db8::9]:5080;transport=tcp;lr>\r\n"
	    "Route: \"gw, b\" <sips:192.0.2.99;lr>\r\n"
	    "Record-Route: <sip:10.9.9.9;lr>\r\n"
	    REST "Content-Length: 0\r\n\r\n", &why);
	ok(m != NULL && gw_route_count(m) == 3, "three Route values: %d",
	    m ? gw_route_count(m) : -1);
	if (m == NULL)
		return;
	ok(gw_route_top_is(m, "10.0.0.5", 5060) == 1 &&
	    gw_route_top_is(m, "10.0.0.5", 0) == 1,
	    "top Route is us (port absent = 5060)");
	ok(gw_route_top_is(m, "10.0.0.5", 5070) == 0 &&
	    gw_route_top_is(m, "10.0.0.6", 5060) == 0 &&
	    gw_route_top_is(m, NULL, 5060) == 0, "... and not others");
	ok(gw_route_next_hop(m, &hop) == 0 && peer_is(&hop,
	    "udp:10.0.0.5:5060"), "next hop of the top Route");
	ok(gw_route_pop(m) == 0 && gw_route_count(m) == 2, "route_pop");
	ok(gw_route_top_is(m, "[2001:db8::9]", 5080) == 1 &&
	    gw_route_top_is(m, "2001:db8:0::9", 5080) == 1,
	    "IPv6 Route compared as an address");
	ok(gw_route_next_hop(m, &hop) == 0 && peer_is(&hop,
	    "tcp:[2001:db8::9]:5080"), "transport=tcp, IPv6");
	ok(gw_route_pop(m) == 0 && gw_route_next_hop(m, &hop) == 0 &&
	    peer_is(&hop, "tls:192.0.2.99:5061"), "sips: TLS on 5061");
	ok(gw_rr_push(m, GW_UDP, "192.0.2.1", 5060) == 0 &&
	    gw_rr_push(m, GW_TCP, "2001:db8::1", 5070) == 0,
	    "rr_push twice");
	out = ser(m, NULL);
	ok(out != NULL && strstr(out, "\r\nRecord-Route: "
	    "<sip:[2001:db8::1]:5070;transport=tcp;lr>\r\n"
	    "Record-Route: <sip:192.0.2.1:5060;transport=udp;lr>\r\n"
	    "Record-Route: <sip:10.9.9.9;lr>\r\n") != NULL,
	    "Record-Route pushed at the top, in order");
	ok(out != NULL && strstr(out, "sips:192.0.2.99") != NULL &&
	    strstr(out, "10.0.0.5") == NULL, "popped Route gone");
	free(out);
	ok(gw_rr_push(m, GW_UDP, "a b", 5060) == -1, "rr_push bad host: -1");
	ok(gw_route_pop(m) == 0 && gw_route_pop(m) == -1 &&
	    gw_route_count(m) == 0 && gw_route_next_hop(m, &hop) == -1 &&
	    gw_route_top_is(m, "192.0.2.99", 5061) == 0,
	    "no Route left");
	ok(gw_uri_peer(m, &hop) == 0 && peer_is(&hop, "tcp:192.0.2.7:5070"),
	    "Request-URI peer");
	gw_msg_free(m);

	m = parse_str("MESSAGE sip:bob@b.example SIP/2.0\r\n" V1
	    "Route: <sip:proxy.example;lr>\r\n" REST
	    "Content-Length: 0\r\n\r\n", &why);
	ok(m != NULL && gw_route_next_hop(m, &hop) == -1 &&
	    gw_uri_peer(m, &hop) == -1, "host names: no peer (no DNS)");
	ok(m != NULL && gw_route_top_is(m, "PROXY.example", 5060) == 1,
	    "host name compared without case");
	gw_msg_free(m);
	m = parse_str("MESSAGE tel:+12345 SIP/2.0\r\n" V1 REST
	    "Content-Length: 0\r\n\r\n", &why);
	ok(m != NULL && gw_uri_peer(m, &hop) == -1, "tel: URI: no peer");
	gw_msg_free(m);
}

static void
test_headers(void)
{
	struct gw_msg *m;
	const char *why, *v;
	char *out;

	m = parse_str(RQL V1 REST
	    "P-Asserted-Identity: \"Doe, J\" <sip:alice@a.example>, "
	    "<tel:+4912345>\r\n"
	    "Subject: hello\r\n"
	    "X-Thing: 1\r\nx-thing: 2\r\n"
	    "Contact: <sip:alice@10.0.0.1>\r\n"
	    "Content-Length: 0\r\n\r\n", &why);
	ok(m != NULL, "parsed with PAI, Subject, X-Thing, Contact: %s",
	    why ? why : "ok");
	if (m == NULL)
		return;
	v = gw_msg_header(m, "p-asserted-identity");
	ok(v != NULL && strcmp(v, "\"Doe, J\" <sip:alice@a.example>") == 0,
	    "first PAI value: %s", v ? v : "(null)");
	ok(gw_msg_header(m, "s") != NULL &&
	    strcmp(gw_msg_header(m, "s"), "hello") == 0,
	    "compact name finds Subject");
	ok(strcmp(gw_msg_header(m, "X-THING"), "1") == 0, "first X-Thing");
	ok(gw_msg_header(m, "X-None") == NULL, "absent header: NULL");

	gw_msg_del_header(m, "P-Asserted-Identity");
	ok(gw_msg_header(m, "P-Asserted-Identity") == NULL, "PAI deleted");
	gw_msg_del_header(m, "x-thing");
	ok(gw_msg_header(m, "X-Thing") == NULL, "both X-Thing deleted");
	gw_msg_del_header(m, "m");
	ok(osip_list_size(&m->sip->contacts) == 0, "Contact deleted by "
	    "its compact name");
	out = ser(m, NULL);
	ok(out != NULL && strstr(out, "sserted") == NULL &&
	    strstr(out, "hing") == NULL && strstr(out, "Contact") == NULL &&
	    strstr(out, "Subject: hello") != NULL,
	    "deleted headers gone from the wire, others kept");
	free(out);

	ok(gw_msg_add_header(m, "P-Asserted-Identity",
	    "<sip:gw@corp.example>") == 0 &&
	    strcmp(gw_msg_header(m, "p-asserted-identity"),
	    "<sip:gw@corp.example>") == 0, "PAI added");
	ok(gw_msg_add_header(m, "Warning", "399 gw \"a, b\"") == 0,
	    "Warning added");
	ok(gw_msg_add_header(m, "Via", "SIP/2.0/TCP 10.1.1.1;branch=z9hG4bKv")
	    == 0 && gw_via_count(m) == 2 &&
	    strcmp(gw_via_branch(m), "z9hG4bK-1") == 0,
	    "a typed header (Via) added at the bottom");
	out = ser(m, NULL);
	ok(out != NULL &&
	    strstr(out, "\r\nP-Asserted-Identity: <sip:gw@corp.example>\r\n")
	    != NULL && strstr(out, "\r\nWarning: 399 gw \"a, b\"\r\n") != NULL,
	    "added headers on the wire");
	free(out);
	ok(gw_msg_add_header(m, "X-Evil", "a\r\nVia: x") == -1 &&
	    gw_msg_add_header(m, "X Evil", "a") == -1 &&
	    gw_msg_add_header(m, "", "a") == -1 &&
	    gw_msg_add_header(m, "X-Evil", NULL) == -1,
	    "add refuses CRLF in a value and a bad name");
	ok(gw_msg_add_header(m, "Content-Length", "5") == -1 &&
	    gw_msg_add_header(m, "l", "5") == -1 &&
	    gw_msg_add_header(m, "Content-Type", "text/plain") == -1 &&
	    gw_msg_add_header(m, "From", "<sip:x@y>") == -1 &&
	    gw_msg_add_header(m, "Route", "garbage<<") == -1,
	    "add refuses Content-Length, Content-Type, a second From, "
	    "a Route libosip2 would drop");
	gw_msg_del_header(m, "From");
	ok(m->sip->from != NULL, "From is never deleted");
	gw_msg_del_header(m, "Content-Type");
	gw_msg_del_header(m, "Via");
	ok(gw_via_count(m) == 0, "Via deleted (typed list)");
	gw_msg_free(m);
}

/* ---------------------------------------------------------------------- */
/* 5. What the parse refuses */

static void
test_refused(void)
{
	static const struct {
		const char	*msg;
		const char	*why;
	} t[] = {
		{ RQL REST "Content-Length: 0\r\n\r\n", "no Via" },
		{ RQL V1 "To: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n"
		    "\r\n", "no From" },
		{ RQL V1 "From: <sip:a@b>;tag=1\r\nCall-ID: x\r\n"
		    "CSeq: 1 MESSAGE\r\n\r\n", "no To" },
		{ RQL V1 "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
		    "CSeq: 1 MESSAGE\r\n\r\n", "no Call-ID" },
		{ RQL V1 "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
		    "Call-ID: x\r\n\r\n", "no CSeq" },
		{ RQL V1 "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
		    "Call-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", "CSeq method" },
		{ RQL V1 "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
		    "Call-ID: x\r\nCSeq: 1 message\r\n\r\n", "CSeq method" },
		{ RQL V1 "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
		    "Call-ID: x\r\nCSeq: 2147483648 MESSAGE\r\n\r\n",
		    "bad CSeq" },
		{ RQL V1 "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
		    "Call-ID: x\r\nCSeq: 1x MESSAGE\r\n\r\n", "bad CSeq" },
		{ RQL V1 REST "Max-Forwards: 3\r\n\r\n",
		    "bad Max-Forwards" },
		{ RQL V1 "Max-Forwards: ten\r\nFrom: <sip:a@b>;tag=1\r\n"
		    "To: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n\r\n",
		    "bad Max-Forwards" },
		{ RQL V1 "Route: <sip:10.0.0.1;lr>, junk<<\r\n" REST "\r\n",
		    "bad Route" },
		{ RQL V1 "Route: sip:10.0.0.1\r\n" REST "\r\n",
		    "bad Route" },
		{ RQL V1 "Route: <sip:10.0.0.5;lr>,oute: <sip:10.0.0.5;lr>\r\n"
		    REST "\r\n", "bad Route" },
		{ RQL V1 "Route: <tel:+123>\r\n" REST "\r\n", "bad Route" },
		{ RQL V1 "Record-Route: <<>>\r\n" REST "\r\n",
		    "bad Record-Route" },
		{ "MESSAGE sip:bob@b SIP/3.0\r\n" V1 REST "\r\n", "version" },
		{ "SIP/2.1 200 OK\r\n" V1 REST "\r\n", "version" },
		{ "SIP/2.0 099 Low\r\n" V1 REST "\r\n", "syntax" },
		{ "SIP/2.0 99999999999 Big\r\n" V1 REST "\r\n", "syntax" },
		{ "SIP/2.0 200\r\n" V1 REST "\r\n", "syntax" },
		{ "MESSAGE  sip:bob@b SIP/2.0\r\n" V1 REST "\r\n", "syntax" },
		{ "MESSAGE sip:bob@b\r\n" V1 REST "\r\n", "syntax" },
		{ RQL V1 "From: <sip:a@b>;tag=1\nTo: <sip:c@d>\r\n"
		    "Call-ID: x\r\nCSeq: 1 MESSAGE\r\n\r\n", "syntax" },
		{ RQL V1 REST "Content-Type: ;;\r\n\r\n", "syntax" },
		/* libosip2 would write it as "Content-Type: " glued to the
		 * next header line */
		{ RQL V1 REST "Content-Type: multipart/mixed; "
		    "boundary=\r\n\r\n", "syntax" },
		{ RQL " folded start\r\n" V1 REST "\r\n", "syntax" },
	};
	struct gw_msg *m;
	const char *why;
	char nul[] = RQL V1 REST "X: a\0b\r\n\r\n";
	size_t i;

	for (i = 0; i < NELEM(t); i++) {
		m = parse_str(t[i].msg, &why);
		ok(m == NULL && why != NULL && strcmp(why, t[i].why) == 0,
		    "refused %zu: got %s, want %s", i, why ? why : "(ok)",
		    t[i].why);
		gw_msg_free(m);
	}
	m = NULL;
	ok(gw_msg_parse(nul, sizeof(nul) - 1, NULL, 0, &m, &why) == -1 &&
	    m == NULL && strcmp(why, "syntax") == 0, "NUL in the headers");
	ok(gw_msg_parse(SIMPLE, strlen(SIMPLE) - 2, NULL, 0, &m, &why) == -1,
	    "header block without its final CRLF");
	ok(gw_msg_parse(SIMPLE "X: y\r\n\r\n", strlen(SIMPLE) + 8, NULL, 0,
	    &m, &why) == -1, "a blank line inside the block");
	ok(gw_msg_parse(SIMPLE, strlen(SIMPLE), NULL, 5, &m, &why) == -1,
	    "body length without a body");

	/* a response parses, and the accessors */
	m = parse_str("SIP/2.0 202 Accepted\r\n" V1 REST
	    "Content-Length: 0\r\n\r\n", &why);
	ok(m != NULL && gw_msg_status(m) == 202 && !gw_msg_is_request(m) &&
	    gw_msg_method(m) == NULL, "202 response parsed");
	gw_msg_free(m);
	m = parse_str("\r\n\r\n" SIMPLE, &why);
	ok(m != NULL && gw_msg_is_request(m) &&
	    strcmp(gw_msg_method(m), "MESSAGE") == 0 && gw_msg_status(m) == 0,
	    "request after CRLFs parsed");
	gw_msg_free(m);
}

/* RFC 4475 3.1.1.1 "wsinv": valid, with every kind of odd whitespace */
static const char wsinv[] =
    "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n"
    "TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n"
    "from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n"
    "  ;\r\n  tag = 98asjd8\r\n"
    "MaX-fOrWaRdS: 0068\r\n"
    "Call-ID: wsinv.ndaksdj@192.0.2.1\r\n"
    "Content-Length   : 150\r\n"
    "cseq: 0009\r\n  INVITE\r\n"
    "Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw\r\n"
    "s :\r\n"
    "NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n"
    "UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n"
    "Content-Type: application/sdp\r\n"
    "Route:\r\n <sip:services.example.com;lr;unknownwith=value;"
    "unknown-no-value>\r\n"
    "v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n"
    "  branch  =   z9hG4bK9ikj8  ,\r\n"
    " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n"
    " z9hG4bK30239\r\n"
    "m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n"
    "      newvalue ;\r\n"
    "  secondparam ; q = 0.33\r\n"
    "\r\n"
    "v=0\r\n"
    "o=mhandley 29739 7272939 IN IP4 192.0.2.3\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.4\r\n"
    "t=0 0\r\n"
    "m=audio 49217 RTP/AVP 0 12\r\n"
    "m=video 3227 RTP/AVP 31\r\n"
    "a=rtpmap:31 LPC\r\n";

static void
test_accepted(void)
{
	static const char rfc3428[] = "MESSAGE sip:user2@domain.com SIP/2.0\r\n"
	    "Via: SIP/2.0/TCP user1pc.domain.com;branch=z9hG4bK776sgdkse\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: sip:user1@domain.com;tag=49583\r\n"
	    "To: sip:user2@domain.com\r\n"
	    "Call-ID: asd88asd77a@1.2.3.4\r\n"
	    "CSeq: 1 MESSAGE\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: 18\r\n"
	    "\r\n"
	    "Watson, come here.";
	struct gw_msg *m, *m2;
	struct gw_frame f;
	const char *why;
	char *out;
	size_t ol;

	m = parse_str(rfc3428, &why);
	ok(m != NULL && m->body_len == 18 &&
	    memcmp(m->body, "Watson, come here.", 18) == 0,
	    "RFC 3428 example MESSAGE: %s", why ? why : "ok");
	gw_msg_free(m);

	ok(gw_frame_stream(wsinv, sizeof(wsinv) - 1, MAX_HEAD, MAX_MSG, &f,
	    &why) == GW_FRAME_OK && f.body_len == 150 &&
	    f.head_len + 150 == sizeof(wsinv) - 1,
	    "RFC 4475 wsinv framed: \"Content-Length   : 150\"");
	m = parse_str(wsinv, &why);
	ok(m != NULL, "RFC 4475 wsinv parses: %s", why ? why : "ok");
	if (m == NULL)
		return;
	ok(gw_via_count(m) == 3 && strcmp(gw_via_branch(m), "390skdjuw") == 0,
	    "three Via values, folded and spaced");
	ok(gw_route_count(m) == 1 && gw_maxfwd(m) == 0 &&
	    strcmp(gw_msg_header(m, "max-forwards"), "67") == 0,
	    "one Route; Max-Forwards 0068 -> 67");
	out = ser(m, &ol);
	m2 = out != NULL ? parse_dgram(out, ol, &why) : NULL;
	ok(m2 != NULL && m2->body_len == 150 &&
	    memcmp(m2->body, wsinv + f.head_len, 150) == 0 &&
	    gw_via_count(m2) == 3, "wsinv written and read back, body kept");
	gw_msg_free(m2);
	free(out);
	gw_msg_free(m);
}

static void
test_aor(void)
{
	struct gw_msg *m;
	const char *why;
	char *s;
	int good;

	m = parse_str("MESSAGE sips:Bob@[2001:DB8::1]:5061;transport=tls "
	    "SIP/2.0\r\n" V1 REST "Content-Length: 0\r\n\r\n", &why);
	ok(m != NULL, "parsed");
	if (m == NULL)
		return;
	s = gw_msg_from_aor(m);
	ok(s != NULL && strcmp(s, "sip:Alice@a.example.com") == 0,
	    "From AOR: %s", s ? s : "(null)");
	free(s);
	s = gw_msg_to_aor(m);
	ok(s != NULL && strcmp(s, "sip:bob@b.example") == 0, "To AOR: %s",
	    s ? s : "(null)");
	free(s);
	s = gw_msg_ruri_aor(m);
	ok(s != NULL && strcmp(s, "sips:Bob@[2001:db8::1]") == 0,
	    "Request-URI AOR: %s", s ? s : "(null)");
	free(s);
	gw_msg_free(m);
	m = parse_str("MESSAGE tel:+12345;phone-context=x SIP/2.0\r\n" V1
	    "From: <SIP:a.example>;tag=1\r\nTo: <sip:c@d>\r\n"
	    "Call-ID: x\r\nCSeq: 1 MESSAGE\r\n\r\n", &why);
	s = m != NULL ? gw_msg_ruri_aor(m) : NULL;
	good = s != NULL && strcmp(s, "tel:+12345") == 0;
	free(s);
	s = m != NULL ? gw_msg_from_aor(m) : NULL;
	ok(good && s != NULL && strcmp(s, "sip:a.example") == 0,
	    "tel: AOR, and a URI without user: %s", s ? s : "(null)");
	free(s);
	gw_msg_free(m);
	ok(gw_uri_aor(NULL) == NULL && gw_msg_from_aor(NULL) == NULL,
	    "NULL in, NULL out");
}

static void
test_peer(void)
{
	struct gw_peer a, b;
	char buf[64], tiny[6];

	ok(gw_peer_make(GW_UDP, "127.0.0.1", 5060, &a) == 0 &&
	    peer_is(&a, "udp:127.0.0.1:5060"), "IPv4 peer");
	ok(gw_peer_make(GW_TCP, "::1", 5070, &b) == 0 &&
	    peer_is(&b, "tcp:[::1]:5070") && b.len ==
	    sizeof(struct sockaddr_in6), "IPv6 peer");
	ok(gw_peer_make(GW_TLS, "[2001:db8::1]", 5061, &b) == 0 &&
	    peer_is(&b, "tls:[2001:db8::1]:5061"), "bracketed IPv6");
	ok(gw_peer_make(GW_UDP, "host.example", 5060, &b) == -1 &&
	    gw_peer_make(GW_UDP, "[127.0.0.1]", 5060, &b) == -1 &&
	    gw_peer_make(GW_UDP, "127.0.0.1", 0, &b) == -1 &&
	    gw_peer_make(GW_UDP, "127.0.0.1", 65536, &b) == -1 &&
	    gw_peer_make(GW_UDP, NULL, 5060, &b) == -1 &&
	    gw_peer_make((enum gw_proto)7, "127.0.0.1", 5060, &b) == -1 &&
	    gw_peer_make(GW_UDP, "", 5060, &b) == -1,
	    "no names, no bad ports, no bad protocols");
	gw_peer_make(GW_UDP, "127.0.0.1", 5060, &b);
	ok(gw_peer_eq(&a, &b), "equal peers");
	gw_peer_make(GW_TCP, "127.0.0.1", 5060, &b);
	ok(!gw_peer_eq(&a, &b), "protocol differs");
	gw_peer_make(GW_UDP, "127.0.0.1", 5061, &b);
	ok(!gw_peer_eq(&a, &b), "port differs");
	gw_peer_make(GW_UDP, "::ffff:127.0.0.1", 5060, &b);
	ok(!gw_peer_eq(&a, &b), "family differs");
	gw_peer_make(GW_UDP, "2001:db8::1", 5060, &a);
	gw_peer_make(GW_UDP, "2001:DB8:0:0::1", 5060, &b);
	ok(gw_peer_eq(&a, &b), "IPv6 spellings of one address");
	ok(strcmp(gw_peer_str(&a, tiny, sizeof(tiny)), "udp:[") == 0,
	    "peer_str truncates");
	memset(&b, 0, sizeof(b));
	ok(strcmp(gw_peer_str(&b, buf, sizeof(buf)), "udp:?") == 0,
	    "peer_str of an empty peer");

	ok(strcmp(gw_proto_name(GW_UDP), "UDP") == 0 &&
	    strcmp(gw_proto_name(GW_TCP), "TCP") == 0 &&
	    strcmp(gw_proto_name(GW_TLS), "TLS") == 0 &&
	    strcmp(gw_proto_name((enum gw_proto)9), "?") == 0,
	    "gw_proto_name");
	{
		int i, good = 1;

		for (i = 0; i < GW_REJ_N; i++) {
			const char *n = gw_reject_name((enum gw_reject)i);

			good = good && n != NULL && strcmp(n, "unknown") != 0;
		}
		ok(good && strcmp(gw_reject_name(GW_REJ_LOOP), "loop") == 0 &&
		    strcmp(gw_reject_name(GW_REJ_N), "unknown") == 0 &&
		    strcmp(gw_reject_name((enum gw_reject)-1), "unknown") == 0,
		    "gw_reject_name");
	}
}

/* ---------------------------------------------------------------------- */
/* 6. Hostile input */

/* quiet_parse - a parse libosip2 complains about */
static void
quiet_parse(void)
{
	static const char bad[] = "MESSAGE sip:a@b SIP/2.0\r\n"
	    "CSeq: abc\r\nFrom: <<<\r\n\r\n";
	struct gw_msg *m = NULL;
	const char *why;

	gw_msg_parse(bad, sizeof(bad) - 1, NULL, 0, &m, &why);
	gw_msg_free(m);
}

static void
test_trace_silent(void)
{
	char buf[256];
	int p[2], s1, s2, fl;
	ssize_t n;

	fflush(stdout);
	fflush(stderr);
	if (pipe(p) != 0) {
		ok(0, "pipe");
		return;
	}
	s1 = dup(1);
	s2 = dup(2);
	dup2(p[1], 1);
	dup2(p[1], 2);
	close(p[1]);
	quiet_parse();
	fflush(stdout);
	fflush(stderr);
	dup2(s1, 1);
	dup2(s2, 2);
	close(s1);
	close(s2);
	fl = fcntl(p[0], F_GETFL);
	fcntl(p[0], F_SETFL, fl | O_NONBLOCK);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	if (n > 0)
		buf[n] = '\0';
	ok(n <= 0, "libosip2 writes nothing on stdout or stderr%s%s",
	    n > 0 ? ": " : "", n > 0 ? buf : "");
}

/* run_one_exact - run_one's work */
static int
run_one_exact(const char *buf, size_t len, int *parsed)
{
	struct gw_frame f;
	struct gw_msg *m = NULL, *m2 = NULL;
	const char *why;
	char *out;
	size_t ol;
	int rc, ret = 0;

	(void)gw_frame_stream(buf, len, MAX_HEAD, MAX_MSG, &f, &why);
	rc = gw_frame_dgram(buf, len, MAX_HEAD, &f, &why);
	if (rc != GW_FRAME_OK && !(rc == GW_FRAME_BAD && f.head_len > 0))
		return 0;
	if (rc != GW_FRAME_OK)
		f.body_len = 0;
	if (gw_msg_parse(buf + f.skip, f.head_len, (const uint8_t *)buf +
	    f.skip + f.head_len, f.body_len, &m, &why) != 0)
		return 0;
	(*parsed)++;
	/* exercise the editors on whatever survived */
	set_src(m, GW_UDP, "192.0.2.1", 5060);
	gw_via_received(m);
	gw_maxfwd(m);
	if (gw_msg_serialize(m, &out, &ol) == 0) {
		m2 = parse_dgram(out, ol, &why);
		if (m2 == NULL || m2->body_len != m->body_len ||
		    (m->body_len > 0 && memcmp(m2->body, m->body,
		    m->body_len) != 0)) {
			printf("#   round trip failed: %s\n",
			    why ? why : "body");
			if (getenv("T_SIP_DUMP") != NULL) {
				fwrite(buf, 1, len, stderr);
				fputs("\n=====OUT\n", stderr);
				fwrite(out, 1, ol, stderr);
			}
			ret = -1;
		}
		gw_msg_free(m2);
		free(out);
	} else {
		printf("#   a parsed message did not serialise\n");
		ret = -1;
	}
	if (gw_msg_is_request(m)) {
		struct gw_msg *r = NULL;

		if (gw_msg_response(m, 400, NULL, "t", &r) == 0 &&
		    gw_msg_serialize(r, &out, &ol) == 0)
			free(out);
		else {
			printf("#   no 400 for a parsed request\n");
			ret = -1;
		}
		gw_msg_free(r);
	}
	gw_msg_free(m);
	return ret;
}

/* run_one - frame (datagram and stream), parse, serialise and parse
 *	again, all on an exact-size heap copy of the input; -1 if a parsed
 *	message did not survive its round trip */
static int
run_one(const char *in, size_t len, int *parsed)
{
	char *buf;
	int ret;

	if ((buf = malloc(len > 0 ? len : 1)) == NULL)
		return -1;
	memcpy(buf, in, len);
	ret = run_one_exact(buf, len, parsed);
	free(buf);
	return ret;
}

static void
test_corpus(void)
{
	static const char *const t[] = {
		"",
		"\r\n",
		"MESSAGE",
		"MESSAGE sip:a@b",
		"MESSAGE sip:a@b SIP/2.0",
		"MESSAGE sip:a@b SIP/2.0\r\n",
		"MESSAGE sip:a@b SIP/2.0\r\n\r\n",
		"SIP/2.0\r\n\r\n",
		"SIP/2.0 \r\n\r\n",
		"SIP/2.0 2000 OK\r\n\r\n",
		" MESSAGE sip:a@b SIP/2.0\r\n\r\n",
		"MESSAGE <sip:a@b> SIP/2.0\r\n" V1 REST "\r\n",
		"MESSAGE sip:a@b SIP/2.0\r\n:\r\n\r\n",
		"MESSAGE sip:a@b SIP/2.0\r\nVia:\r\nFrom:\r\nTo:\r\n"
		    "Call-ID:\r\nCSeq:\r\n\r\n",
		RQL "Via: SIP/2.0/UDP\r\n" REST "\r\n",
		RQL "Via: SIP/2.0/UDP [::1;branch=x\r\n" REST "\r\n",
		RQL V1 "From: \"unterminated <sip:a@b>\r\n"
		    "To: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\n\r\n",
		RQL V1 REST "CSeq: 2 MESSAGE\r\n\r\n",
		RQL V1 "From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
		    "Call-ID: x\r\nCSeq: MESSAGE 1\r\n\r\n",
		RQL V1 REST "Content-Type: multipart/mixed; boundary=\r\n"
		    "Content-Length: 4\r\n\r\n--\r\n",
		RQL V1 REST "Content-Type: multipart/mixed; boundary=\"\r\n"
		    "l: 3\r\n\r\n---",
		RQL V1 REST "Via: SIP/2.0/UDP 1.2.3.4;rport=99999999\r\n\r\n",
	};
	char *huge;
	size_t i, n;
	int parsed = 0, bad = 0;

	for (i = 0; i < NELEM(t); i++)
		bad += run_one(t[i], strlen(t[i]), &parsed) != 0;
	/* a huge header line, a huge start line, random octets */
	n = 200000;
	huge = malloc(n + 256);
	n = strlen(RQL V1 REST "X-Huge: ");
	memcpy(huge, RQL V1 REST "X-Huge: ", n);
	memset(huge + n, 'a', 100000);
	n += 100000;
	memcpy(huge + n, "\r\n\r\n", 4);
	n += 4;
	bad += run_one(huge, n, &parsed) != 0;
	{
		struct gw_msg *m = NULL;
		const char *why;

		ok(gw_msg_parse(huge, n, NULL, 0, &m, &why) == 0 &&
		    strlen(gw_msg_header(m, "x-huge")) == 100000,
		    "a 100,000-octet header line parses when given");
		gw_msg_free(m);
	}
	memcpy(huge, "MESSAGE sip:", 12);
	memset(huge + 12, 'b', 150000);
	memcpy(huge + 150012, " SIP/2.0\r\n\r\n", 12);
	bad += run_one(huge, 150024, &parsed) != 0;
	{
		struct gw_msg *m = NULL;
		const char *why;

		gw_msg_parse(huge, 150024, NULL, 0, &m, &why);
		gw_msg_free(m);
	}
	for (i = 0; i < 200; i++) {
		size_t k, l = rng() % 2000;

		for (k = 0; k < l; k++)
			huge[k] = (char)rng();
		bad += run_one(huge, l, &parsed) != 0;
	}
	free(huge);
	ok(bad == 0, "%zu malformed inputs and 200 random buffers: no crash, "
	    "%d parsed, each serialised, answered and read back exactly",
	    NELEM(t) + 2, parsed);
}

/* mutate - one to four seeded edits of buf[0..*len) (capacity cap) */
static void
mutate(char *buf, size_t *len, size_t cap)
{
	static const char special[] = ":\r\n \t\0,<>\";=@[]0123456789l";
	size_t k, muts, pos, a, b;

	muts = 1 + rng() % 4;
	for (k = 0; k < muts; k++) {
		pos = *len > 0 ? rng() % *len : 0;
		switch (rng() % 6) {
		case 0:		/* flip a bit */
			if (*len > 0)
				buf[pos] ^= (char)(1u << (rng() % 8));
			break;
		case 1:		/* a special octet */
			if (*len > 0)
				buf[pos] = special[rng() %
				    (sizeof(special) - 1)];
			break;
		case 2:		/* truncate */
			*len = pos;
			break;
		case 3:		/* duplicate a slice */
			a = rng() % 64;
			if (pos + a <= *len && *len + a < cap) {
				memmove(buf + pos + a, buf + pos, *len - pos);
				*len += a;
			}
			break;
		case 4:		/* cut a slice */
			a = rng() % 64;
			if (pos + a <= *len) {
				memmove(buf + pos, buf + pos + a,
				    *len - pos - a);
				*len -= a;
			}
			break;
		default:	/* insert a CRLF or a folding */
			b = 2 + rng() % 2;
			if (*len + b < cap) {
				memmove(buf + pos + b, buf + pos, *len - pos);
				memcpy(buf + pos, "\r\n ", b);
				*len += b;
			}
			break;
		}
	}
}

static void
test_mutations(void)
{
	static const char rich[] = "\r\nMESSAGE sips:bob@[2001:db8::7] "
	    "SIP/2.0\r\n"
	    "v: SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bK-r;rport, "
	    "SIP/2.0/UDP 10.0.0.1;received=10.0.0.9;branch=z9hG4bK-s\r\n"
	    "Route: <sip:10.0.0.5;lr>, \"a, b\" <sip:[::1]:5080;lr>\r\n"
	    "Record-Route: <sip:10.0.0.6;transport=tcp;lr>\r\n"
	    "f: \"A\\\"B\" <sip:a@b>;tag=x\r\nt: <tel:+123>\r\n"
	    "i: abc@def\r\nCSeq: 2147483647 MESSAGE\r\n"
	    "P-Asserted-Identity: <sip:a@b>, <tel:+1>\r\n"
	    "Subject: a,\r\n\tfolded\r\n"
	    "c: text/plain;charset=utf-8\r\nl: 5\r\n\r\nhello";
	uint8_t body[2048];
	char base[4096], buf[8192];
	size_t bl, len, n, i, iters;
	int parsed = 0, parsed2 = 0, bad = 0;

	bl = mk_body(body, sizeof(body));
	n = mk_msg(base, sizeof(base), body, bl, "Content-Length: ", "");
	/* T_SIP_SEED, T_SIP_ITERS: explore beyond the fixed run */
	rng_state = getenv("T_SIP_SEED") != NULL ?
	    strtoull(getenv("T_SIP_SEED"), NULL, 10) : 20260101;
	iters = getenv("T_SIP_ITERS") != NULL ?
	    strtoul(getenv("T_SIP_ITERS"), NULL, 10) : 20000;
	for (i = 0; i < iters; i++) {
		memcpy(buf, base, n);
		len = n;
		mutate(buf, &len, sizeof(buf));
		bad += run_one(buf, len, &parsed) != 0;
	}
	ok(bad == 0, "%zu seeded mutations: no crash, %d parsed, %d not "
	    "serialised, answered and read back exactly", iters, parsed, bad);
	ok(parsed > 1000, "the mutations reach the parser's success path "
	    "(%d)", parsed);

	bad = 0;
	ok(run_one(rich, sizeof(rich) - 1, &parsed2) == 0 && parsed2 == 1,
	    "a message rich in compact forms, lists and quoting parses");
	for (i = 0; i < iters / 4; i++) {
		memcpy(buf, rich, sizeof(rich) - 1);
		len = sizeof(rich) - 1;
		mutate(buf, &len, sizeof(buf));
		bad += run_one(buf, len, &parsed2) != 0;
	}
	ok(bad == 0 && parsed2 > 200, "%zu mutations of it: no crash, %d "
	    "parsed, round trips exact", iters / 4, parsed2);
}

/* ---- gw_resp_peek: responses read without libosip2 */

static int
peek_eq(const char *p, size_t n, const char *want)
{
	return p != NULL && n == strlen(want) && memcmp(p, want, n) == 0;
}

static void
test_resp_peek(void)
{
	static const char r1[] =
	    "SIP/2.0 503 Service Unavailable\r\n"
	    "v: SIP/2.0/UDP 127.0.0.1:5060;rport=5060;branch=z9hG4bK-igm1.ab, "
	    "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKother\r\n"
	    "From: <sip:alice@a.example>;tag=1\r\n"
	    "t: \"Bob\" <sip:bob@b.example;transport=udp>;tag=xyz\r\n"
	    "Call-ID: c1\r\n"
	    "CSeq: 1 MESSAGE\r\n"
	    "Warning: 399 kms \"down\"\r\n"
	    "RETRY-AFTER : 30\r\n"
	    "Content-Length: 0\r\n\r\n";
	static const char r2[] =
	    "SIP/2.0 200 OK\r\n"
	    "Via: SIP/2.0/TCP 127.0.0.1:5060\r\n ;branch=z9hG4bK-igm2\r\n"
	    "To: <sip:bob@b.example>\r\n\r\n";
	static const char r3[] =
	    "MESSAGE sip:bob@b.example SIP/2.0\r\nVia: SIP/2.0/UDP x;"
	    "branch=z9hG4bK-igm3\r\nTo: <sip:bob@b.example>\r\n\r\n";
	struct gw_resp_peek pk;
	char buf[64], *m;
	size_t i, k;
	uint64_t seed = 7;

	ok(gw_resp_peek(r1, sizeof(r1) - 1, &pk) == 0 && pk.status == 503 &&
	    peek_eq(pk.reason, pk.reason_len, "Service Unavailable") &&
	    peek_eq(pk.branch, pk.branch_len, "z9hG4bK-igm1.ab") &&
	    peek_eq(pk.to_tag, pk.to_tag_len, "xyz") &&
	    peek_eq(pk.warning, pk.warning_len, "399 kms \"down\"") &&
	    peek_eq(pk.retry_after, pk.retry_after_len, "30"),
	    "peek: compact Via with two values, To tag after a URI param, "
	    "Warning, Retry-After in any case");
	ok(gw_resp_peek(r2, sizeof(r2) - 1, &pk) == -1,
	    "peek: a folded line goes to libosip2");
	ok(gw_resp_peek(r3, sizeof(r3) - 1, &pk) == -1,
	    "peek: a request is not a response");
	ok(gw_peek_str("ab\x01", 3, buf, sizeof(buf)) == 0 &&
	    gw_peek_str("abc", 3, buf, 3) == 0 &&
	    gw_peek_str("abc", 3, buf, 4) == 1 && strcmp(buf, "abc") == 0,
	    "peek: fields with control bytes or too long are refused");
	/* every truncation and 20,000 byte flips on exact-size copies */
	for (i = 0; i < sizeof(r1) - 1; i++) {
		m = malloc(i + 1);
		memcpy(m, r1, i);
		(void)gw_resp_peek(m, i, &pk);
		free(m);
	}
	for (k = 0; k < 20000; k++) {
		m = malloc(sizeof(r1) - 1);
		memcpy(m, r1, sizeof(r1) - 1);
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		m[(seed >> 33) % (sizeof(r1) - 1)] = (char)(seed >> 17);
		if (gw_resp_peek(m, sizeof(r1) - 1, &pk) == 0 &&
		    (pk.branch == NULL || pk.branch < m ||
		    pk.branch + pk.branch_len > m + sizeof(r1) - 1)) {
			free(m);
			break;
		}
		free(m);
	}
	ok(k == 20000, "peek: 20,000 mutations, every field inside the input");
}

/* ---- gw_response_text: the same response without a libosip2 message */

static void
test_response_text(void)
{
	static const char req[] = RQL
	    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-a, "
	    "SIP/2.0/TCP 10.0.0.2:5070;branch=z9hG4bK-b\r\n"
	    "v: SIP/2.0/TLS [2001:db8::3];branch=z9hG4bK-c\r\n"
	    REST "Timestamp: 54\r\nContent-Type: text/plain\r\n"
	    "Content-Length: 2\r\n\r\nhi";
	static const int codes[] = { 100, 200, 202, 403, 493, 503 };
	static const char *const extra[] = { "Warning: 399 imgate \"x\"",
	    "Retry-After: 30", NULL };
	struct gw_msg *q = NULL, *r = NULL;
	struct gw_frame f;
	const char *why;
	char *a = NULL, *b = NULL;
	size_t al, bl, i, same = 0;

	if (gw_frame_stream(req, sizeof(req) - 1, 16384, 65536, &f,
	    &why) != GW_FRAME_OK || gw_msg_parse(req + f.skip, f.head_len,
	    (const uint8_t *)req + f.skip + f.head_len, f.body_len, &q,
	    &why) != 0) {
		ok(0, "response text: parse the request");
		return;
	}
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		a = b = NULL;
		r = NULL;
		if (gw_response_text(q, codes[i], NULL, "t1", extra, &a,
		    &al) == 0 && gw_msg_response(q, codes[i], NULL, "t1",
		    &r) == 0 && gw_msg_add_header(r, "Warning",
		    "399 imgate \"x\"") == 0 && gw_msg_add_header(r,
		    "Retry-After", "30") == 0 && gw_msg_serialize(r, &b,
		    &bl) == 0 && al == bl && memcmp(a, b, al) == 0)
			same++;
		else if (a != NULL && b != NULL)
			diag(__FILE__, __LINE__, "text:\n%s\nlibosip2:\n%s", a,
			    b);
		free(a);
		free(b);
		gw_msg_free(r);
	}
	ok(same == sizeof(codes) / sizeof(codes[0]), "response text: byte for "
	    "byte what gw_msg_response + gw_msg_serialize write (%zu of %zu)",
	    same, sizeof(codes) / sizeof(codes[0]));
	a = NULL;
	ok(gw_response_text(q, 200, "bad\r\nX: y", NULL, NULL, &a,
	    &al) == -1 && a == NULL, "response text: a reason with CRLF is "
	    "refused");
	gw_msg_free(q);
}

int
main(void)
{
	gw_sip_init();
	gw_sip_init();		/* idempotent */
	test_frame_stream_basic();
	test_frame_stream_caps();
	test_frame_stream_split();
	test_frame_dgram();
	test_body_roundtrip();
	test_serialize();
	test_response();
	test_via();
	test_maxfwd();
	test_route();
	test_headers();
	test_refused();
	test_accepted();
	test_aor();
	test_peer();
	test_trace_silent();
	test_corpus();
	test_mutations();
	test_resp_peek();
	test_response_text();
	return done_testing();
}
