/*
 * gateway/gw_sip.c - a SIP message: libosip2 for the headers, the body
 *	kept as raw octets beside them
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	spec/smime-sip.md 5.2: libosip2 splits multipart bodies, refuses
 *	folded part headers and rewrites delimiters, so it must never see a
 *	body.  gw_msg_parse gives it a copy of the header block whose
 *	Content-Length values read 0 and keeps the body in struct gw_msg;
 *	gw_msg_serialize takes libosip2's text of the body-less message,
 *	whose last header line is "Content-Length: 0" (pinned by
 *	tests/unit/gateway/t_sip.c), puts the real length there and appends
 *	the body as it came.  Forwarding therefore never alters a body
 *	(RFC 3261 16.6).
 *
 *	Before libosip2 sees a header block it is checked here: no NUL, no
 *	bare CR or LF, the first CRLFCRLF at its end, a start line of the
 *	right shape ("SIP/2.0" only, status 100-699).  libosip2 would accept
 *	some of these and read others differently from us (a bare LF ends a
 *	line for it; sscanf reads an overlong status code).  After the parse
 *	the minimum of RFC 3261 8.1.1 / 8.2.2 / 16.3 is required: Via, From,
 *	To, Call-ID, CSeq (number < 2^31, method equal to a request's),
 *	Max-Forwards, when there, a number.
 *
 *	libosip2 silently drops a Route or Record-Route value it cannot parse
 *	(it marks them "ignored when invalid"): we would then route on the
 *	Request-URI where a conforming element uses the Route.  The parse
 *	counts the name-addrs ('<' outside quotes) of those headers itself
 *	and refuses the message when libosip2 kept fewer.
 *
 *	libosip2 caches its text of a message and does not notice direct
 *	changes to the structure (osip_list_add, a Via parameter, and
 *	osip_message_fix_last_via_header itself): every mutator here calls
 *	osip_message_force_update, and gw_msg_serialize does so again.
 *
 * SECURITY
 *	Everything here reads network input.  Lengths are checked before
 *	use, nothing aborts, nothing is logged: libosip2's trace (on stdout
 *	by default in the Debian build, and it quotes header values) goes to
 *	a function that drops it.  Values we insert (reason phrases, tags,
 *	branches, header values) are refused if they hold CR, LF or NUL, so
 *	no caller can split a header.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "gateway/gw.h"
#include "gateway/gw_sip.h"

#define PARSE_MAX	(1024 * 1024)	/* header block, beyond any max_head */
#define NAME_MAX_LEN	64		/* a header name we add */
#define VALUE_MAX_LEN	8192		/* a header value we add */
#define HOST_MAX_LEN	255		/* a host we write (RFC 1035) */
#define TOKEN_MAX_LEN	128		/* a branch, a tag */
#define METHOD_MAX_LEN	32

#define IS_DIGIT(c)	((c) >= '0' && (c) <= '9')

static int inited;

/* ---------------------------------------------------------------------- */
/* Names */

const char *
gw_proto_name(enum gw_proto p)
{
	switch (p) {
	case GW_UDP:
		return "UDP";
	case GW_TCP:
		return "TCP";
	case GW_TLS:
		return "TLS";
	}
	return "?";
}

const char *
gw_reject_name(enum gw_reject r)
{
	/* metric labels (gw_admin.c): lower case, stable */
	static const char *const names[GW_REJ_N] = {
		"malformed", "too_big", "type", "undecipherable", "replay",
		"expired", "not_authorised", "policy", "kms", "loop",
		"internal", "unprotected", "no_route",
	};

	if ((int)r < 0 || r >= GW_REJ_N || names[r] == NULL)
		return "unknown";
	return names[r];
}

/* ---------------------------------------------------------------------- */
/* Small helpers */

/* lc - ASCII lower case */
static char
lc(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* ci_eq - ASCII case-insensitive equality of two strings */
static int
ci_eq(const char *a, const char *b)
{
	for (; *a != '\0' && lc(*a) == lc(*b); a++, b++)
		;
	return *a == '\0' && *b == '\0';
}

/* ci_eqn - p[0..n) equals the string s, ignoring ASCII case */
static int
ci_eqn(const char *p, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\0' || lc(p[i]) != lc(s[i]))
			return 0;
	}
	return s[n] == '\0';
}

/* is_token_char - RFC 3261 25.1 token */
static int
is_token_char(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IS_DIGIT(c))
		return 1;
	return c != '\0' && strchr("-.!%*_+`'~", c) != NULL;
}

/* token_ok - s is 1..max token characters */
static int
token_ok(const char *s, size_t max)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= max || !is_token_char(s[i]))
			return 0;
	}
	return 1;
}

/* text_ok - s has at most max octets and no CR, LF or NUL before its end */
static int
text_ok(const char *s, size_t max)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= max || s[i] == '\r' || s[i] == '\n')
			return 0;
	}
	return 1;
}

/* host_in - s is 1..HOST_MAX_LEN of [A-Za-z0-9.:-] and the chars of extra */
static int
host_in(const char *s, const char *extra)
{
	size_t i;

	if (s == NULL || s[0] == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (i >= HOST_MAX_LEN)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    IS_DIGIT(c) || c == '.' || c == '-' || c == ':' ||
		    strchr(extra, c) != NULL))
			return 0;
	}
	return 1;
}

/* host_ok - a host we may write: a name, IPv4, or an IPv6 reference */
static int
host_ok(const char *s)
{
	return host_in(s, "[]");
}

/* parse_uint - s is 1..maxdig digits; its value */
static int
parse_uint(const char *s, size_t maxdig, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (s == NULL || s[0] == '\0')
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= maxdig || !IS_DIGIT(s[i]))
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* parse_port - a port 1..65535 */
static int
parse_port(const char *s, int *out)
{
	unsigned long v;

	if (parse_uint(s, 5, &v) == -1 || v == 0 || v > 65535)
		return -1;
	*out = (int)v;
	return 0;
}

/* dirty - libosip2 must rebuild its text of the message (spec 5.1) */
static void
dirty(struct gw_msg *m)
{
	osip_message_force_update(m->sip);
}

/* ---------------------------------------------------------------------- */
/* Peers */

/*
 * addr_parse - a numeric host ("192.0.2.1", "2001:db8::1", "[::1]") into
 *	an address with port 0; -1 if it is not one
 */
static int
addr_parse(const char *host, struct sockaddr_storage *ss, socklen_t *len)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	size_t n;
	int bracket = 0;

	if (host == NULL)
		return -1;
	n = strnlen(host, sizeof(tmp) + 2);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
		bracket = 1;
	}
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, host, n);
	tmp[n] = '\0';

	memset(ss, 0, sizeof(*ss));
	sin = (struct sockaddr_in *)ss;
	sin6 = (struct sockaddr_in6 *)ss;
	if (!bracket && inet_pton(AF_INET, tmp, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, tmp, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		*len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/*
 * addr_norm - the address of ss as IPv4 if it is an IPv4-mapped IPv6
 *	address (a dual-stack socket), else as it is; into out (port kept)
 */
static void
addr_norm(const struct sockaddr_storage *ss, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)out;

	*out = *ss;
	if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memset(out, 0, sizeof(*out));
		sin->sin_family = AF_INET;
		sin->sin_port = sin6->sin6_port;
		memcpy(&sin->sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
	}
}

/* addr_eq - same family and address (ports not compared) */
static int
addr_eq(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr,
		    sizeof(struct in_addr)) == 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr,
		    sizeof(struct in6_addr)) == 0;
	return 0;
}

/* addr_port - the port of an AF_INET/AF_INET6 address, host order */
static int
addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return -1;
}

/* addr_str - the numeric address (no brackets), "" if unknown */
static const char *
addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a;

	if (ss->ss_family == AF_INET)
		a = &((const struct sockaddr_in *)ss)->sin_addr;
	else if (ss->ss_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	else
		a = NULL;
	if (a == NULL || inet_ntop(ss->ss_family, a, buf,
	    (socklen_t)len) == NULL) {
		if (len > 0)
			buf[0] = '\0';
		return NULL;
	}
	return buf;
}

int
gw_peer_make(enum gw_proto proto, const char *host, int port,
    struct gw_peer *out)
{
	struct gw_peer p;

	if (out == NULL || (int)proto < 0 || proto >= GW_NPROTO ||
	    port <= 0 || port > 65535)
		return -1;
	memset(&p, 0, sizeof(p));
	if (addr_parse(host, &p.ss, &p.len) == -1)
		return -1;
	p.proto = proto;
	if (p.ss.ss_family == AF_INET)
		((struct sockaddr_in *)&p.ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&p.ss)->sin6_port =
		    htons((uint16_t)port);
	*out = p;
	return 0;
}

int
gw_peer_eq(const struct gw_peer *a, const struct gw_peer *b)
{
	const struct sockaddr_in6 *a6, *b6;

	if (a == NULL || b == NULL || a->proto != b->proto ||
	    a->ss.ss_family != b->ss.ss_family)
		return 0;
	if (!addr_eq(&a->ss, &b->ss) || addr_port(&a->ss) != addr_port(&b->ss))
		return 0;
	if (a->ss.ss_family == AF_INET6) {
		a6 = (const struct sockaddr_in6 *)&a->ss;
		b6 = (const struct sockaddr_in6 *)&b->ss;
		if (a6->sin6_scope_id != b6->sin6_scope_id)
			return 0;
	}
	return a->ss.ss_family == AF_INET || a->ss.ss_family == AF_INET6;
}

const char *
gw_peer_str(const struct gw_peer *p, char *buf, size_t len)
{
	static const char *const pn[GW_NPROTO] = { "udp", "tcp", "tls" };
	char a[INET6_ADDRSTRLEN];
	const char *proto;

	if (buf == NULL || len == 0)
		return "";
	if (p == NULL) {
		snprintf(buf, len, "?");
		return buf;
	}
	proto = (int)p->proto >= 0 && p->proto < GW_NPROTO ? pn[p->proto] :
	    "?";
	if (addr_str(&p->ss, a, sizeof(a)) == NULL)
		snprintf(buf, len, "%s:?", proto);
	else if (p->ss.ss_family == AF_INET6)
		snprintf(buf, len, "%s:[%s]:%d", proto, a, addr_port(&p->ss));
	else
		snprintf(buf, len, "%s:%s:%d", proto, a, addr_port(&p->ss));
	return buf;
}

/* ---------------------------------------------------------------------- */
/* Initialisation */

/* trace_quiet - libosip2's trace goes nowhere (it would quote input) */
static void
trace_quiet(const char *fi, int li, osip_trace_level_t level,
    const char *chfr, va_list ap)
{
}

void
gw_sip_init(void)
{
	int i;

	if (inited)
		return;
	/*
	 * Without a trace function libosip2 (re)initialises its trace to
	 * stdout at WARNING on the first trace call, whatever levels were
	 * disabled before: install ours, then switch every level off.
	 */
	osip_trace_initialize_func(TRACE_LEVEL0, trace_quiet);
	for (i = TRACE_LEVEL0; i < END_TRACE_LEVEL; i++)
		osip_trace_disable_level((osip_trace_level_t)i);
	parser_init();
	inited = 1;
}

/* ---------------------------------------------------------------------- */
/* Parsing */

/* A logical header line in a block (continuation lines included). */
struct hline {
	size_t	 off;		/* start of the line */
	size_t	 nend;		/* end of the name (trailing WSP dropped);
				 * off if there is no colon */
	size_t	 colon;		/* the colon, or end if none */
	size_t	 end;		/* the CRLF ending the logical line */
};

/* crlf_at - offset of the first CRLF at or after off, or len */
static size_t
crlf_at(const char *p, size_t len, size_t off)
{
	for (; off + 1 < len; off++) {
		if (p[off] == '\r' && p[off + 1] == '\n')
			return off;
	}
	return len;
}

/*
 * next_hline - the header line starting at *off (after the start line);
 *	0 and *off moved past it, or -1 at the empty line ending the block.
 *	The same notion of a line as gw_frame.c's Content-Length scanner.
 */
static int
next_hline(const char *p, size_t len, size_t *off, struct hline *h)
{
	size_t end, firstend;

	if (*off >= len)
		return -1;
	firstend = crlf_at(p, len, *off);
	if (firstend == *off)
		return -1;
	end = firstend;
	while (end + 2 < len && (p[end + 2] == ' ' || p[end + 2] == '\t'))
		end = crlf_at(p, len, end + 2);
	h->off = *off;
	h->end = end;
	for (h->colon = h->off; h->colon < firstend && p[h->colon] != ':';
	    h->colon++)
		;
	if (h->colon == firstend || p[h->off] == ' ' || p[h->off] == '\t') {
		h->colon = end;
		h->nend = h->off;
	} else {
		h->nend = h->colon;
		while (h->nend > h->off && (p[h->nend - 1] == ' ' ||
		    p[h->nend - 1] == '\t'))
			h->nend--;
	}
	*off = end + 2;
	return 0;
}

/*
 * check_octets - the block p[0..len) has no NUL, every CR and LF in a
 *	CRLF, and its first CRLFCRLF at its end
 */
static int
check_octets(const char *p, size_t len)
{
	size_t i;

	if (len < 4 || memcmp(p + len - 4, "\r\n\r\n", 4) != 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (p[i] == '\0')
			return -1;
		if (p[i] == '\r' && (i + 1 >= len || p[i + 1] != '\n'))
			return -1;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return -1;
		if (p[i] == '\r' && i + 4 < len && p[i + 2] == '\r')
			return -1;	/* CRLFCRLF before the end */
	}
	return 0;
}

/* check_version - "SIP/2.0" (any case), else "version" or "syntax" */
static int
check_version(const char *p, size_t n, const char **why)
{
	if (ci_eqn(p, n, "SIP/2.0"))
		return 0;
	*why = n > 4 && ci_eqn(p, 4, "SIP/") ? "version" : "syntax";
	return -1;
}

/*
 * check_start - the start line: Method SP Request-URI SP SIP/2.0, or
 *	SIP/2.0 SP 3DIGIT (100-699) SP Reason-Phrase (RFC 3261 7.1, 7.2)
 */
static int
check_start(const char *p, size_t len, const char **why)
{
	size_t eol, i, j;
	int status;

	*why = "syntax";
	eol = crlf_at(p, len, 0);
	if (eol == 0 || eol >= len)
		return -1;
	/* a continuation of the start line: libosip2 would merge it */
	if (eol + 2 < len && (p[eol + 2] == ' ' || p[eol + 2] == '\t'))
		return -1;
	if (eol >= 4 && memcmp(p, "SIP/", 4) == 0) {
		/* libosip2 takes a line starting "SIP/" for a response */
		for (i = 0; i < eol && p[i] != ' '; i++)
			;
		if (check_version(p, i, why) == -1)
			return -1;
		*why = "syntax";
		if (i + 5 > eol || !IS_DIGIT(p[i + 1]) ||
		    !IS_DIGIT(p[i + 2]) || !IS_DIGIT(p[i + 3]) ||
		    p[i + 4] != ' ')
			return -1;
		status = (p[i + 1] - '0') * 100 + (p[i + 2] - '0') * 10 +
		    (p[i + 3] - '0');
		if (status < 100 || status > 699)
			return -1;
		return 0;
	}
	for (i = 0; i < eol && is_token_char(p[i]); i++)
		;
	if (i == 0 || i > METHOD_MAX_LEN || i >= eol || p[i] != ' ')
		return -1;
	for (j = i + 1; j < eol && p[j] != ' '; j++)
		;
	if (j == i + 1 || j >= eol)
		return -1;
	return check_version(p + j + 1, eol - j - 1, why);
}

/*
 * count_naddr - the name-addrs in a Route / Record-Route value: '<'
 *	outside quoted strings
 */
static int
count_naddr(const char *p, size_t n)
{
	size_t i;
	int q = 0, c = 0;

	for (i = 0; i < n; i++) {
		if (q && p[i] == '\\' && i + 1 < n)
			i++;
		else if (p[i] == '"')
			q = !q;
		else if (!q && p[i] == '<')
			c++;
	}
	return c;
}

/*
 * rewrite_head - copy the block p[0..len) to out (2 * len + 1 octets)
 *	with every Content-Length value replaced by 0; count Route and
 *	Record-Route name-addrs (-1 if a line has none: RFC 3261 20.30,
 *	20.34 allow only name-addrs there).  The length written.
 */
static size_t
rewrite_head(const char *p, size_t len, char *out, int *nroute, int *nrr)
{
	struct hline h;
	size_t off, o;
	int c, *cnt;

	*nroute = *nrr = 0;
	off = crlf_at(p, len, 0) + 2;
	memcpy(out, p, off);
	o = off;
	while (next_hline(p, len, &off, &h) == 0) {
		if (h.nend > h.off && (ci_eqn(p + h.off, h.nend - h.off,
		    "content-length") || ci_eqn(p + h.off, h.nend - h.off,
		    "l"))) {
			/* "name:" then " 0": at most 2 octets longer */
			memcpy(out + o, p + h.off, h.colon + 1 - h.off);
			o += h.colon + 1 - h.off;
			memcpy(out + o, " 0\r\n", 4);
			o += 4;
			continue;
		}
		cnt = NULL;
		if (h.nend > h.off && ci_eqn(p + h.off, h.nend - h.off,
		    "route"))
			cnt = nroute;
		else if (h.nend > h.off && ci_eqn(p + h.off, h.nend - h.off,
		    "record-route"))
			cnt = nrr;
		if (cnt != NULL && *cnt >= 0) {
			c = count_naddr(p + h.colon, h.end - h.colon);
			*cnt = c > 0 ? *cnt + c : -1;
		}
		memcpy(out + o, p + h.off, h.end + 2 - h.off);
		o += h.end + 2 - h.off;
	}
	memcpy(out + o, "\r\n", 2);
	return o + 2;
}

/* generic_first - the first untyped header named name, or NULL */
static osip_header_t *
generic_first(const osip_message_t *sip, const char *name, int *count)
{
	osip_list_iterator_t it;
	osip_header_t *h, *first = NULL;

	if (count != NULL)
		*count = 0;
	for (h = osip_list_get_first(&sip->headers, &it); h != NULL;
	    h = osip_list_get_next(&it)) {
		if (h->hname == NULL || !ci_eq(h->hname, name))
			continue;
		if (first == NULL)
			first = h;
		if (count == NULL)
			break;
		(*count)++;
	}
	return first;
}

/*
 * simple_ok - libosip2 can write every single-instance header of sip.
 *	osip_message_to_str loses the error of these (it is overwritten by
 *	the next table entry's) and leaves "Name: " glued to the following
 *	header line: a Content-Type with a valueless parameter
 *	("boundary=") came out as "Content-Type: Max-forwards: 69".
 */
static int
simple_ok(const osip_message_t *sip)
{
	char *s;
	int bad = 0;

#define TRY(f, h) do {							\
	if (!bad && (h) != NULL) {					\
		s = NULL;						\
		bad = f((h), &s) != 0 || s == NULL;			\
		if (s != NULL)						\
			osip_free(s);					\
	}								\
} while (0)
	TRY(osip_from_to_str, sip->from);
	TRY(osip_to_to_str, sip->to);
	TRY(osip_call_id_to_str, sip->call_id);
	TRY(osip_cseq_to_str, sip->cseq);
	TRY(osip_content_type_to_str, sip->content_type);
	TRY(osip_mime_version_to_str, sip->mime_version);
#undef TRY
	return !bad;
}

/*
 * The checks below refuse what libosip2 parses leniently and then writes
 * out as something else (found by the mutation test in t_sip.c): a URI
 * "<sip:a@\t>" with an empty host, written "<sip:a@>"; a Via whose
 * version a stray quote swallowed, written "SIP/TLS ..."; a Route
 * "oute: <sip:a;lr>" taken as a URI of scheme "oute".  A forwarded
 * message must say what the received one said.
 */

/* host_chars_ok - a host as libosip2 keeps it: name (with '_'), IPv4,
 *	IPv6 (no brackets) */
static int
host_chars_ok(const char *h)
{
	return host_in(h, "_");
}

/* is_sip_scheme - "sip" or "sips" (any case) */
static int
is_sip_scheme(const char *s)
{
	return s != NULL && (ci_eq(s, "sip") || ci_eq(s, "sips"));
}

/* uri_ok - a SIP URI with a host and a valid port, or another scheme's
 *	URI with some text (tel:) */
static int
uri_ok(const osip_uri_t *u, int sip_only)
{
	int port;

	if (u == NULL || u->scheme == NULL)
		return 0;
	if (!is_sip_scheme(u->scheme))
		return !sip_only && u->host == NULL && u->string != NULL &&
		    u->string[0] != '\0';
	if (!host_chars_ok(u->host))
		return 0;
	return u->port == NULL || parse_port(u->port, &port) == 0;
}

/* gen_value_ok - a generic parameter value: token or host characters,
 *	or a quoted string */
static int
gen_value_ok(const char *v)
{
	size_t i, n;

	if (v == NULL)
		return 1;
	n = strlen(v);
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		for (i = 1; i + 1 < n; i++) {
			if (v[i] == '\\' && i + 2 < n)
				i++;
			else if (v[i] == '"')
				return 0;
		}
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (!is_token_char(v[i]) && v[i] != ':' && v[i] != '[' &&
		    v[i] != ']')
			return 0;
	}
	return n > 0;
}

/* via_ok - SIP/2.0/TRANSPORT host[:port] with token parameters */
static int
via_ok(const osip_via_t *v)
{
	osip_list_iterator_t it;
	osip_generic_param_t *p;
	int port;

	if (v->version == NULL || strcmp(v->version, "2.0") != 0 ||
	    !token_ok(v->protocol, TOKEN_MAX_LEN) || !host_chars_ok(v->host) ||
	    (v->port != NULL && parse_port(v->port, &port) == -1))
		return 0;
	for (p = osip_list_get_first(&v->via_params, &it); p != NULL;
	    p = osip_list_get_next(&it)) {
		if (!token_ok(p->gname, TOKEN_MAX_LEN) ||
		    !gen_value_ok(p->gvalue))
			return 0;
	}
	return 1;
}

/* vias_ok - every Via value is one */
static int
vias_ok(const osip_list_t *l)
{
	osip_list_iterator_t it;
	osip_via_t *v;

	for (v = osip_list_get_first(l, &it); v != NULL;
	    v = osip_list_get_next(&it)) {
		if (!via_ok(v))
			return 0;
	}
	return 1;
}

/*
 * routes_ok - the list holds n values (libosip2 drops those it cannot
 *	parse), each a sip: or sips: URI (RFC 3261 20.30, 20.34)
 */
static int
routes_ok(const osip_list_t *l, int n)
{
	osip_list_iterator_t it;
	osip_route_t *r;

	if (osip_list_size(l) != n)
		return 0;
	for (r = osip_list_get_first(l, &it); r != NULL;
	    r = osip_list_get_next(&it)) {
		if (!uri_ok(r->url, 1))
			return 0;
	}
	return 1;
}

/* check_required - RFC 3261 8.1.1 / 8.2.2 minimum; 0 or -1 with *why */
static int
check_required(osip_message_t *sip, int nroute, int nrr, int writes,
    const char **why)
{
	osip_via_t *via;
	osip_header_t *mf;
	unsigned long v;
	int n;

	via = osip_list_get(&sip->vias, 0);
	if (via == NULL) {
		*why = "no Via";
		return -1;
	}
	if (!vias_ok(&sip->vias)) {
		*why = "bad Via";
		return -1;
	}
	if (sip->from == NULL) {
		*why = "no From";
		return -1;
	}
	if (!uri_ok(sip->from->url, 0)) {
		*why = "bad From";
		return -1;
	}
	if (sip->to == NULL) {
		*why = "no To";
		return -1;
	}
	if (!uri_ok(sip->to->url, 0)) {
		*why = "bad To";
		return -1;
	}
	if (MSG_IS_REQUEST(sip) && !uri_ok(sip->req_uri, 0)) {
		*why = "syntax";
		return -1;
	}
	if (sip->call_id == NULL || sip->call_id->number == NULL) {
		*why = "no Call-ID";
		return -1;
	}
	if (sip->cseq == NULL || sip->cseq->number == NULL ||
	    sip->cseq->method == NULL) {
		*why = "no CSeq";
		return -1;
	}
	/* RFC 3261 8.1.1.5: less than 2^31 */
	if (parse_uint(sip->cseq->number, 10, &v) == -1 || v > 0x7fffffffUL) {
		*why = "bad CSeq";
		return -1;
	}
	if (MSG_IS_REQUEST(sip) && strcmp(sip->cseq->method,
	    sip->sip_method) != 0) {
		*why = "CSeq method";
		return -1;
	}
	mf = generic_first(sip, "max-forwards", &n);
	if (mf != NULL && (n != 1 || parse_uint(mf->hvalue, 9, &v) == -1)) {
		*why = "bad Max-Forwards";
		return -1;
	}
	if (!routes_ok(&sip->routes, nroute)) {
		*why = "bad Route";
		return -1;
	}
	if (!routes_ok(&sip->record_routes, nrr)) {
		*why = "bad Record-Route";
		return -1;
	}
	if (writes && !simple_ok(sip)) {
		*why = "syntax";
		return -1;
	}
	return 0;
}

/*
 * parse_block - the checks and the libosip2 parse of a header block (no
 *	CRLFs before it): 0 with *out, or -1 with *why.  writes: also check
 *	that libosip2 can write its single headers (simple_ok; not needed for
 *	text libosip2 itself just wrote from a message that passed it)
 */
static int
parse_block(const char *head, size_t head_len, int writes,
    osip_message_t **out, const char **why)
{
	osip_message_t *sip = NULL;
	char *copy = NULL;
	size_t n;
	int nroute, nrr, rc = -1;

	*why = "syntax";
	if (check_octets(head, head_len) == -1)
		return -1;
	if (check_start(head, head_len, why) == -1)
		return -1;

	*why = "out of memory";
	if ((copy = malloc(2 * head_len + 1)) == NULL)
		goto out;
	n = rewrite_head(head, head_len, copy, &nroute, &nrr);
	if (osip_message_init(&sip) != 0) {
		sip = NULL;
		goto out;
	}
	*why = "syntax";
	if (osip_message_parse(sip, copy, n) != 0)
		goto out;
	if (check_required(sip, nroute, nrr, writes, why) == -1)
		goto out;
	*out = sip;
	sip = NULL;
	rc = 0;
 out:
	if (sip != NULL)
		osip_message_free(sip);
	free(copy);
	return rc;
}

/*
 * reparse_ok - libosip2's text of sip goes through parse_block again.
 *	Its parser and writer are not inverses: "<sip:@b>" is read as host
 *	b and written "<sip:b>", which it then refuses (a one-character host
 *	in a name-addr); ";\r\n ;tag=1" is written ";;tag=1"; a Record-Route
 *	"sip:h;a<b" is written "<sip:h>;a<b".  A message we could not read
 *	back is refused now rather than forwarded.
 */
static int
reparse_ok(osip_message_t *sip)
{
	osip_message_t *again = NULL;
	const char *why;
	char *s = NULL;
	size_t n = 0;
	int ok;

	osip_message_force_update(sip);
	if (osip_message_to_str(sip, &s, &n) != 0 || s == NULL)
		return 0;
	ok = parse_block(s, n, 0, &again, &why) == 0;
	if (again != NULL)
		osip_message_free(again);
	osip_free(s);
	/* drop the text libosip2 cached (gw_msg_serialize rebuilds it) */
	osip_free(sip->message);
	sip->message = NULL;
	sip->message_length = 0;
	osip_message_force_update(sip);
	return ok;
}

/*
 * gw_msg_parse - reasons: "syntax", "version", "too big", "no Via",
 *	"bad Via", "no From", "bad From", "no To", "bad To", "no Call-ID",
 *	"no CSeq", "bad CSeq", "CSeq method", "bad Max-Forwards",
 *	"bad Route", "bad Record-Route", "out of memory"
 */
int
gw_msg_parse(const char *head, size_t head_len, const uint8_t *body,
    size_t body_len, struct gw_msg **out, const char **why)
{
	struct gw_msg *m = NULL;
	osip_message_t *sip = NULL;
	const char *dummy;
	size_t skip = 0;
	int rc = -1;

	if (why == NULL)
		why = &dummy;
	*why = "syntax";
	if (out == NULL || head == NULL || (body == NULL && body_len > 0))
		return -1;
	if (head_len > PARSE_MAX) {
		*why = "too big";
		return -1;
	}
	if (!inited)
		gw_sip_init();

	/* RFC 3261 7.5: CRLFs before the start line */
	while (skip + 1 < head_len && head[skip] == '\r' &&
	    head[skip + 1] == '\n')
		skip += 2;
	if (parse_block(head + skip, head_len - skip, 1, &sip, why) == -1)
		return -1;
	/* whether libosip2's text of it reads back is checked on what is
	 * sent (gw_wire_reads_back), not here: that text is made anyway */

	*why = "out of memory";
	if ((m = calloc(1, sizeof(*m))) == NULL)
		goto out;
	if (body_len > 0) {
		if ((m->body = malloc(body_len)) == NULL)
			goto out;
		memcpy(m->body, body, body_len);
		m->body_len = body_len;
	}
	m->sip = sip;
	sip = NULL;
	m->listener = -1;
	*out = m;
	m = NULL;
	*why = NULL;
	rc = 0;
 out:
	if (m != NULL) {
		free(m->body);
		free(m);
	}
	if (sip != NULL)
		osip_message_free(sip);
	return rc;
}

int
gw_msg_roundtrip_ok(struct gw_msg *m)
{
	return reparse_ok(m->sip);
}

int
gw_wire_reads_back(const char *wire, size_t len)
{
	osip_message_t *sip = NULL;
	const char *why, *p;
	size_t i;
	int ok;

	for (p = NULL, i = 0; i + 4 <= len; i++)
		if (memcmp(wire + i, "\r\n\r\n", 4) == 0) {
			p = wire + i + 4;
			break;
		}
	if (p == NULL)
		return 0;
	ok = parse_block(wire, (size_t)(p - wire), 0, &sip, &why) == 0;
	if (sip != NULL)
		osip_message_free(sip);
	return ok;
}

void
gw_msg_free(struct gw_msg *m)
{
	if (m == NULL)
		return;
	if (m->sip != NULL)
		osip_message_free(m->sip);
	free(m->body);
	free(m);
}

/* ---------------------------------------------------------------------- */
/* Serialising */

/*
 * clen_line - p[0..n) is "Content-Length:" SP* 1*DIGIT SP*: libosip2
 *	pads the value with spaces when it holds bodies, writes "0" bare
 *	when it holds none
 */
static int
clen_line(const char *p, size_t n)
{
	static const char name[] = "Content-Length:";
	size_t i = sizeof(name) - 1, d = 0;

	if (n < i || !ci_eqn(p, i, name))
		return 0;
	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && IS_DIGIT(p[i]); i++)
		d++;
	while (i < n && p[i] == ' ')
		i++;
	return d > 0 && i == n;
}

int
gw_msg_serialize(const struct gw_msg *m, char **out, size_t *out_len)
{
	char *s = NULL, *buf = NULL, cl[48];
	size_t n = 0, i, need;
	int cll, rc = -1;

	if (m == NULL || m->sip == NULL || out == NULL || out_len == NULL ||
	    (m->body == NULL && m->body_len > 0))
		return -1;
	/* libosip2 must hold no body of its own (spec 5.2) */
	if (!osip_list_eol(&m->sip->bodies, 0) || !simple_ok(m->sip))
		return -1;
	osip_message_force_update(m->sip);
	if (osip_message_to_str(m->sip, &s, &n) != 0 || s == NULL)
		goto out;

	/* the last header line, just before the final CRLFCRLF */
	if (n < 6 || memcmp(s + n - 4, "\r\n\r\n", 4) != 0)
		goto out;
	for (i = n - 4; i >= 2; i--) {
		if (s[i - 2] == '\r' && s[i - 1] == '\n')
			break;
	}
	if (i < 2 || !clen_line(s + i, n - 4 - i))
		goto out;

	cll = snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n\r\n",
	    m->body_len);
	if (cll <= 0 || (size_t)cll >= sizeof(cl))
		goto out;
	need = i + (size_t)cll;
	if (m->body_len > SIZE_MAX - 1 - need)
		goto out;
	if ((buf = malloc(need + m->body_len + 1)) == NULL)
		goto out;
	memcpy(buf, s, i);
	memcpy(buf + i, cl, (size_t)cll);
	if (m->body_len > 0)
		memcpy(buf + need, m->body, m->body_len);
	buf[need + m->body_len] = '\0';
	*out = buf;
	*out_len = need + m->body_len;
	rc = 0;
 out:
	if (s != NULL)
		osip_free(s);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Accessors */

int
gw_msg_set_body(struct gw_msg *m, const char *ctype, const uint8_t *b,
    size_t len)
{
	osip_content_type_t *ct = NULL;
	uint8_t *nb = NULL;
	char *s;

	if (m == NULL || m->sip == NULL || (b == NULL && len > 0))
		return -1;
	if (ctype != NULL) {
		if (!text_ok(ctype, VALUE_MAX_LEN))
			return -1;
		if (osip_content_type_init(&ct) != 0)
			return -1;
		s = NULL;
		if (osip_content_type_parse(ct, ctype) != 0 ||
		    ct->type == NULL || ct->subtype == NULL ||
		    osip_content_type_to_str(ct, &s) != 0) {
			osip_free(s);
			osip_content_type_free(ct);
			return -1;
		}
		osip_free(s);	/* it can be written: see simple_ok */
	}
	if (len > 0) {
		if ((nb = malloc(len)) == NULL) {
			if (ct != NULL)
				osip_content_type_free(ct);
			return -1;
		}
		memcpy(nb, b, len);
	}
	if (m->sip->content_type != NULL)
		osip_content_type_free(m->sip->content_type);
	m->sip->content_type = ct;
	free(m->body);
	m->body = nb;
	m->body_len = len;
	dirty(m);
	return 0;
}

int
gw_msg_is_request(const struct gw_msg *m)
{
	return m != NULL && m->sip != NULL && m->sip->sip_method != NULL;
}

const char *
gw_msg_method(const struct gw_msg *m)
{
	return gw_msg_is_request(m) ? m->sip->sip_method : NULL;
}

int
gw_msg_status(const struct gw_msg *m)
{
	if (m == NULL || m->sip == NULL || gw_msg_is_request(m))
		return 0;
	return m->sip->status_code;
}

char *
gw_msg_ctype(const struct gw_msg *m)
{
	char *s = NULL, *r;

	if (m == NULL || m->sip == NULL || m->sip->content_type == NULL)
		return NULL;
	if (osip_content_type_to_str(m->sip->content_type, &s) != 0 ||
	    s == NULL)
		return NULL;
	r = strdup(s);		/* ours is free()d, libosip2's osip_free()d */
	osip_free(s);
	return r;
}

char *
gw_uri_aor(const osip_uri_t *u)
{
	const char *scheme, *user, *host;
	char *r, *p;
	size_t ls, lu, lh, i, need;
	int v6;

	if (u == NULL)
		return NULL;
	scheme = u->scheme != NULL ? u->scheme : "sip";
	ls = strlen(scheme);
	if (u->host == NULL || u->host[0] == '\0') {
		/* not a SIP URI (tel:): what libosip2 kept, params cut */
		if (u->string == NULL)
			return NULL;
		lh = strcspn(u->string, ";?");
		if ((r = malloc(ls + 1 + lh + 1)) == NULL)
			return NULL;
		for (i = 0; i < ls; i++)
			r[i] = lc(scheme[i]);
		r[ls] = ':';
		memcpy(r + ls + 1, u->string, lh);
		r[ls + 1 + lh] = '\0';
		return r;
	}
	user = u->username != NULL && u->username[0] != '\0' ? u->username :
	    NULL;
	lu = user != NULL ? strlen(user) + 1 : 0;
	host = u->host;
	lh = strlen(host);
	/* libosip2 keeps an IPv6 reference without its brackets */
	v6 = strchr(host, ':') != NULL && host[0] != '[';
	need = ls + 1 + lu + lh + (v6 ? 2 : 0) + 1;
	if ((r = malloc(need)) == NULL)
		return NULL;
	p = r;
	for (i = 0; i < ls; i++)
		*p++ = lc(scheme[i]);
	*p++ = ':';
	if (user != NULL) {
		memcpy(p, user, lu - 1);
		p += lu - 1;
		*p++ = '@';
	}
	if (v6)
		*p++ = '[';
	for (i = 0; i < lh; i++)
		*p++ = lc(host[i]);
	if (v6)
		*p++ = ']';
	*p = '\0';
	return r;
}

char *
gw_msg_from_aor(const struct gw_msg *m)
{
	if (m == NULL || m->sip == NULL || m->sip->from == NULL)
		return NULL;
	return gw_uri_aor(m->sip->from->url);
}

char *
gw_msg_to_aor(const struct gw_msg *m)
{
	if (m == NULL || m->sip == NULL || m->sip->to == NULL)
		return NULL;
	return gw_uri_aor(m->sip->to->url);
}

char *
gw_msg_ruri_aor(const struct gw_msg *m)
{
	if (m == NULL || m->sip == NULL)
		return NULL;
	return gw_uri_aor(m->sip->req_uri);
}

/* ---------------------------------------------------------------------- */
/* Responses */

/* reason_phrase - RFC 3261 21 and the extensions used with MESSAGE */
static const char *
reason_phrase(int status)
{
	static const struct {
		int		 code;
		const char	*text;
	} t[] = {
		{ 100, "Trying" }, { 180, "Ringing" },
		{ 181, "Call Is Being Forwarded" }, { 182, "Queued" },
		{ 183, "Session Progress" },
		{ 200, "OK" }, { 202, "Accepted" },
		{ 204, "No Notification" },
		{ 300, "Multiple Choices" }, { 301, "Moved Permanently" },
		{ 302, "Moved Temporarily" }, { 305, "Use Proxy" },
		{ 380, "Alternative Service" },
		{ 400, "Bad Request" }, { 401, "Unauthorized" },
		{ 402, "Payment Required" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 406, "Not Acceptable" },
		{ 407, "Proxy Authentication Required" },
		{ 408, "Request Timeout" }, { 410, "Gone" },
		{ 412, "Conditional Request Failed" },
		{ 413, "Request Entity Too Large" },
		{ 414, "Request-URI Too Long" },
		{ 415, "Unsupported Media Type" },
		{ 416, "Unsupported URI Scheme" }, { 420, "Bad Extension" },
		{ 421, "Extension Required" }, { 423, "Interval Too Brief" },
		{ 428, "Use Identity Header" },
		{ 429, "Provide Referrer Identity" },
		{ 433, "Anonymity Disallowed" },
		{ 436, "Bad Identity-Info" },
		{ 437, "Unsupported Certificate" },
		{ 438, "Invalid Identity Header" },
		{ 470, "Consent Needed" },
		{ 480, "Temporarily Unavailable" },
		{ 481, "Call/Transaction Does Not Exist" },
		{ 482, "Loop Detected" }, { 483, "Too Many Hops" },
		{ 484, "Address Incomplete" }, { 485, "Ambiguous" },
		{ 486, "Busy Here" }, { 487, "Request Terminated" },
		{ 488, "Not Acceptable Here" }, { 489, "Bad Event" },
		{ 491, "Request Pending" }, { 493, "Undecipherable" },
		{ 494, "Security Agreement Required" },
		{ 500, "Server Internal Error" }, { 501, "Not Implemented" },
		{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Server Time-out" }, { 505, "Version Not Supported" },
		{ 513, "Message Too Large" },
		{ 580, "Precondition Failure" },
		{ 600, "Busy Everywhere" }, { 603, "Decline" },
		{ 604, "Does Not Exist Anywhere" },
		{ 606, "Not Acceptable" }, { 607, "Unwanted" },
	};
	static const char *const cls[] = { "Provisional", "Success",
	    "Redirection", "Client Error", "Server Error", "Global Failure" };
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].code == status)
			return t[i].text;
	}
	return cls[status / 100 - 1];
}

/* clone_vias - every Via of src, in order, at the end of dst's */
static int
clone_vias(const osip_message_t *src, osip_message_t *dst)
{
	osip_list_iterator_t it;
	osip_via_t *v, *c;

	for (v = osip_list_get_first(&src->vias, &it); v != NULL;
	    v = osip_list_get_next(&it)) {
		if (osip_via_clone(v, &c) != 0)
			return -1;
		if (osip_list_add(&dst->vias, c, -1) < 0) {
			osip_via_free(c);
			return -1;
		}
	}
	return 0;
}

/*
 * gw_response_text - the response to req as text, without building a
 *	libosip2 message: status line, every Via, From, To (with to_tag when
 *	it has none and status > 100), Call-ID, CSeq, Timestamp for a 100,
 *	the extra header lines given ("Name: value", NULL-terminated list),
 *	Content-Length: 0.  The same content as gw_msg_response() +
 *	gw_msg_serialize(), for the answers the gateway sends most.
 *	*out malloc'd (free()).
 */
int
gw_response_text(const struct gw_msg *req, int status, const char *reason,
    const char *to_tag, const char *const *extra, char **out,
    size_t *out_len)
{
	osip_message_t *q;
	osip_via_t *v;
	osip_generic_param_t *tag = NULL;
	osip_header_t *ts;
	char *s = NULL, *buf = NULL;
	size_t len = 0, cap = 0, i;
	int rc = -1, pos;

#define PUT(str) do {							\
	size_t _n = strlen(str);					\
	if (len + _n + 1 > cap) {					\
		char *_b;						\
		cap = (len + _n + 1) * 2;				\
		if ((_b = realloc(buf, cap)) == NULL)			\
			goto fail;					\
		buf = _b;						\
	}								\
	memcpy(buf + len, (str), _n);					\
	len += _n;							\
	buf[len] = '\0';						\
} while (0)
#define PUTS(f, h) do {							\
	s = NULL;							\
	if (f((h), &s) != 0 || s == NULL)				\
		goto fail;						\
	PUT(s);								\
	osip_free(s);							\
	s = NULL;							\
} while (0)

	if (req == NULL || out == NULL || out_len == NULL ||
	    !gw_msg_is_request(req) || status < 100 || status > 699)
		return -1;
	q = req->sip;
	if (q->from == NULL || q->to == NULL || q->call_id == NULL ||
	    q->cseq == NULL || osip_list_size(&q->vias) < 1)
		return -1;
	if (reason == NULL)
		reason = reason_phrase(status);
	else if (!text_ok(reason, TOKEN_MAX_LEN))
		return -1;
	if (to_tag != NULL && !token_ok(to_tag, TOKEN_MAX_LEN))
		return -1;
	{
		char line[32 + TOKEN_MAX_LEN];

		snprintf(line, sizeof(line), "SIP/2.0 %d ", status);
		PUT(line);
	}
	PUT(reason);
	PUT("\r\n");
	for (pos = 0; (v = osip_list_get(&q->vias, pos)) != NULL; pos++) {
		PUT("Via: ");
		PUTS(osip_via_to_str, v);
		PUT("\r\n");
	}
	PUT("From: ");
	PUTS(osip_from_to_str, q->from);
	PUT("\r\nTo: ");
	PUTS(osip_to_to_str, q->to);
	if (to_tag != NULL && status > 100) {
		osip_generic_param_get_byname(&q->to->gen_params, "tag", &tag);
		if (tag == NULL) {
			PUT(";tag=");
			PUT(to_tag);
		}
	}
	PUT("\r\nCall-ID: ");
	PUTS(osip_call_id_to_str, q->call_id);
	PUT("\r\nCSeq: ");
	PUTS(osip_cseq_to_str, q->cseq);
	PUT("\r\n");
	if (status == 100 && (ts = generic_first(q, "timestamp", NULL)) !=
	    NULL && ts->hvalue != NULL && text_ok(ts->hvalue,
	    TOKEN_MAX_LEN)) {
		PUT("Timestamp: ");
		PUT(ts->hvalue);
		PUT("\r\n");
	}
	for (i = 0; extra != NULL && extra[i] != NULL; i++) {
		PUT(extra[i]);
		PUT("\r\n");
	}
	PUT("Content-Length: 0\r\n\r\n");
	*out = buf;
	*out_len = len;
	buf = NULL;
	rc = 0;
fail:
	osip_free(s);
	free(buf);
	return rc;
#undef PUT
#undef PUTS
}

/* add_param - append name=value to a param list (copies both) */
static int
add_param(osip_list_t *l, const char *name, const char *value)
{
	char *n, *v = NULL;

	if ((n = osip_strdup(name)) == NULL)
		return -1;
	if (value != NULL && (v = osip_strdup(value)) == NULL) {
		osip_free(n);
		return -1;
	}
	/* osip_uri_param_add can only fail before taking n and v */
	if (osip_generic_param_add(l, n, v) != 0) {
		osip_free(n);
		osip_free(v);
		return -1;
	}
	return 0;
}

int
gw_msg_response(const struct gw_msg *req, int status, const char *reason,
    const char *to_tag, struct gw_msg **out)
{
	osip_message_t *q, *r = NULL;
	osip_generic_param_t *tag = NULL;
	osip_header_t *ts;
	struct gw_msg *m = NULL;
	char *s;

	if (req == NULL || out == NULL || !gw_msg_is_request(req) ||
	    status < 100 || status > 699)
		return -1;
	q = req->sip;
	if (q->from == NULL || q->to == NULL || q->call_id == NULL ||
	    q->cseq == NULL || osip_list_size(&q->vias) < 1)
		return -1;
	if (reason == NULL)
		reason = reason_phrase(status);
	else if (!text_ok(reason, TOKEN_MAX_LEN))
		return -1;
	if (to_tag != NULL && !token_ok(to_tag, TOKEN_MAX_LEN))
		return -1;

	if (osip_message_init(&r) != 0)
		return -1;
	osip_message_set_status_code(r, status);
	if ((s = osip_strdup("SIP/2.0")) == NULL)
		goto fail;
	osip_message_set_version(r, s);
	if ((s = osip_strdup(reason)) == NULL)
		goto fail;
	osip_message_set_reason_phrase(r, s);
	if (clone_vias(q, r) == -1 ||
	    osip_from_clone(q->from, &r->from) != 0 ||
	    osip_to_clone(q->to, &r->to) != 0 ||
	    osip_call_id_clone(q->call_id, &r->call_id) != 0 ||
	    osip_cseq_clone(q->cseq, &r->cseq) != 0 ||
	    osip_message_set_content_length(r, "0") != 0)
		goto fail;
	/* RFC 3261 8.2.6.2: a To tag on every response but 100 */
	if (to_tag != NULL && status > 100) {
		osip_generic_param_get_byname(&r->to->gen_params, "tag", &tag);
		if (tag == NULL && add_param(&r->to->gen_params, "tag",
		    to_tag) == -1)
			goto fail;
	}
	/* RFC 3261 8.2.6.1: a 100 copies Timestamp */
	if (status == 100 && (ts = generic_first(q, "timestamp", NULL)) !=
	    NULL && ts->hvalue != NULL &&
	    osip_message_set_header(r, "Timestamp", ts->hvalue) != 0)
		goto fail;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		goto fail;
	m->sip = r;
	/* goes back where the request came from, on its connection */
	m->src = req->src;
	m->conn = req->conn;
	m->listener = req->listener;
	dirty(m);
	*out = m;
	return 0;
 fail:
	osip_message_free(r);
	return -1;
}

/* ---------------------------------------------------------------------- */
/* Headers */

/* Compact forms (RFC 3261 7.3.3 and the extensions registered since). */
static const struct {
	const char	*full;
	const char	*compact;
} compact[] = {
	{ "accept-contact", "a" }, { "referred-by", "b" },
	{ "content-type", "c" }, { "request-disposition", "d" },
	{ "content-encoding", "e" }, { "from", "f" }, { "call-id", "i" },
	{ "reject-contact", "j" }, { "supported", "k" },
	{ "content-length", "l" }, { "contact", "m" }, { "event", "o" },
	{ "refer-to", "r" }, { "subject", "s" }, { "to", "t" },
	{ "allow-events", "u" }, { "via", "v" }, { "session-expires", "x" },
	{ "identity", "y" },
};

/* name_alias - the other spelling of a header name (full/compact), or
 *	NULL */
static const char *
name_alias(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(compact) / sizeof(compact[0]); i++) {
		if (ci_eq(name, compact[i].full))
			return compact[i].compact;
		if (ci_eq(name, compact[i].compact))
			return compact[i].full;
	}
	return NULL;
}

/* name_is - header name h is name or its alias */
static int
name_is(const char *h, const char *name, const char *alias)
{
	return h != NULL && (ci_eq(h, name) || (alias != NULL &&
	    ci_eq(h, alias)));
}

static void
free_from_cb(void *p)
{
	osip_from_free(p);
}

static void
free_via_cb(void *p)
{
	osip_via_free(p);
}

static void
free_ctype_cb(void *p)
{
	osip_content_type_free(p);
}

static void
free_aenc_cb(void *p)
{
	osip_accept_encoding_free(p);
}

static void
free_cinfo_cb(void *p)
{
	osip_call_info_free(p);
}

static void
free_clen_cb(void *p)
{
	osip_content_length_free(p);
}

static void
free_auth_cb(void *p)
{
	osip_authorization_free(p);
}

static void
free_www_cb(void *p)
{
	osip_www_authenticate_free(p);
}

static void
free_ainfo_cb(void *p)
{
	osip_authentication_info_free(p);
}

/* The headers libosip2 keeps in typed lists instead of m->headers. */
static const struct typed {
	const char	*name;
	size_t		 off;		/* of the osip_list_t */
	void		(*fr)(void *);
} typed[] = {
	{ "via", offsetof(osip_message_t, vias), free_via_cb },
	{ "route", offsetof(osip_message_t, routes), free_from_cb },
	{ "record-route", offsetof(osip_message_t, record_routes),
	    free_from_cb },
	{ "contact", offsetof(osip_message_t, contacts), free_from_cb },
	{ "accept", offsetof(osip_message_t, accepts), free_ctype_cb },
	{ "accept-encoding", offsetof(osip_message_t, accept_encodings),
	    free_aenc_cb },
	{ "accept-language", offsetof(osip_message_t, accept_languages),
	    free_aenc_cb },
	{ "alert-info", offsetof(osip_message_t, alert_infos),
	    free_cinfo_cb },
	{ "call-info", offsetof(osip_message_t, call_infos), free_cinfo_cb },
	{ "error-info", offsetof(osip_message_t, error_infos),
	    free_cinfo_cb },
	{ "allow", offsetof(osip_message_t, allows), free_clen_cb },
	{ "content-encoding", offsetof(osip_message_t, content_encodings),
	    free_clen_cb },
	{ "authorization", offsetof(osip_message_t, authorizations),
	    free_auth_cb },
	{ "proxy-authorization", offsetof(osip_message_t,
	    proxy_authorizations), free_auth_cb },
	{ "www-authenticate", offsetof(osip_message_t, www_authenticates),
	    free_www_cb },
	{ "proxy-authenticate", offsetof(osip_message_t,
	    proxy_authenticates), free_www_cb },
	{ "authentication-info", offsetof(osip_message_t,
	    authentication_infos), free_ainfo_cb },
	{ "proxy-authentication-info", offsetof(osip_message_t,
	    proxy_authentication_infos), free_ainfo_cb },
};

/* typed_find - the typed list entry for a header name, or NULL */
static const struct typed *
typed_find(const char *name, const char *alias)
{
	size_t i;

	for (i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
		if (name_is(typed[i].name, name, alias))
			return &typed[i];
	}
	return NULL;
}

/* typed_list - that list in message sip */
static osip_list_t *
typed_list(osip_message_t *sip, const struct typed *t)
{
	return (osip_list_t *)(void *)((char *)sip + t->off);
}

/* single_field - From, To, Call-ID, CSeq, Content-Length, Content-Type,
 *	Mime-Version: one typed pointer each */
static int
single_field(const char *name, const char *alias)
{
	static const char *const names[] = { "from", "to", "call-id", "cseq",
	    "content-length", "content-type", "mime-version" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (name_is(names[i], name, alias))
			return 1;
	}
	return 0;
}

int
gw_msg_add_header(struct gw_msg *m, const char *name, const char *value)
{
	const struct typed *t;
	const char *alias;
	char *n = NULL, *v = NULL;
	size_t i;
	int before, rc = -1;

	if (m == NULL || m->sip == NULL || !token_ok(name, NAME_MAX_LEN) ||
	    !text_ok(value, VALUE_MAX_LEN))
		return -1;
	alias = name_alias(name);
	/* Content-Length is ours (serialise); Content-Type goes with the
	 * body (gw_msg_set_body); the rest of these exist once */
	if (single_field(name, alias))
		return -1;
	if ((t = typed_find(name, alias)) == NULL) {
		if (osip_message_set_header(m->sip, name, value) != 0)
			return -1;
		dirty(m);
		return 0;
	}
	/* a typed header: parsed as if it had arrived */
	if ((n = strdup(t->name)) == NULL || (v = strdup(value)) == NULL)
		goto out;
	for (i = 0; n[i] != '\0'; i++)
		n[i] = lc(n[i]);
	before = osip_list_size(typed_list(m->sip, t));
	/* libosip2 reports success for a value it ignored as invalid */
	if (osip_message_set_multiple_header(m->sip, n, v) == 0 &&
	    osip_list_size(typed_list(m->sip, t)) > before)
		rc = 0;
	dirty(m);
 out:
	free(n);
	free(v);
	return rc;
}

void
gw_msg_del_header(struct gw_msg *m, const char *name)
{
	const struct typed *t;
	const char *alias;
	osip_list_iterator_t it;
	osip_header_t *h;

	if (m == NULL || m->sip == NULL || name == NULL)
		return;
	alias = name_alias(name);
	if ((t = typed_find(name, alias)) != NULL)
		osip_list_special_free(typed_list(m->sip, t), t->fr);
	else if (name_is("content-type", name, alias) &&
	    m->sip->content_type != NULL) {
		osip_content_type_free(m->sip->content_type);
		m->sip->content_type = NULL;
	} else if (name_is("mime-version", name, alias) &&
	    m->sip->mime_version != NULL) {
		osip_mime_version_free(m->sip->mime_version);
		m->sip->mime_version = NULL;
	}
	/* From, To, Call-ID, CSeq and Content-Length stay: a message
	 * without them cannot be sent */

	h = osip_list_get_first(&m->sip->headers, &it);
	while (h != NULL) {
		if (name_is(h->hname, name, alias)) {
			osip_header_t *gone = h;

			h = osip_list_iterator_remove(&it);
			osip_header_free(gone);
		} else
			h = osip_list_get_next(&it);
	}
	dirty(m);
}

const char *
gw_msg_header(const struct gw_msg *m, const char *name)
{
	osip_list_iterator_t it;
	osip_header_t *h;
	const char *alias;

	if (m == NULL || m->sip == NULL || name == NULL)
		return NULL;
	alias = name_alias(name);
	for (h = osip_list_get_first(&m->sip->headers, &it); h != NULL;
	    h = osip_list_get_next(&it)) {
		if (name_is(h->hname, name, alias))
			return h->hvalue != NULL ? h->hvalue : "";
	}
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Via */

/* top_via - the top Via of m, or NULL */
static osip_via_t *
top_via(const struct gw_msg *m)
{
	if (m == NULL || m->sip == NULL)
		return NULL;
	return osip_list_get(&m->sip->vias, 0);
}

/* param_value - the value of the first parameter name in l, or NULL;
 *	*present says whether it was there at all */
static const char *
param_value(osip_list_t *l, char *name, int *present)
{
	osip_generic_param_t *p = NULL;

	osip_generic_param_get_byname(l, name, &p);
	if (present != NULL)
		*present = p != NULL;
	return p != NULL ? p->gvalue : NULL;
}

/* param_del - remove every parameter name from l */
static void
param_del(osip_list_t *l, const char *name)
{
	osip_list_iterator_t it;
	osip_generic_param_t *p;

	p = osip_list_get_first(l, &it);
	while (p != NULL) {
		if (p->gname != NULL && ci_eq(p->gname, name)) {
			osip_generic_param_t *gone = p;

			p = osip_list_iterator_remove(&it);
			osip_generic_param_free(gone);
		} else
			p = osip_list_get_next(&it);
	}
}

int
gw_via_received(struct gw_msg *m)
{
	struct sockaddr_storage src, sent;
	osip_generic_param_t *rport = NULL;
	osip_via_t *via;
	socklen_t sl;
	char ip[INET6_ADDRSTRLEN], port[8], *v;
	int same;

	if ((via = top_via(m)) == NULL || via->host == NULL ||
	    !gw_msg_is_request(m))
		return -1;
	addr_norm(&m->src.ss, &src);
	if (addr_str(&src, ip, sizeof(ip)) == NULL)
		return -1;
	snprintf(port, sizeof(port), "%d", addr_port(&src));

	same = addr_parse(via->host, &sent, &sl) == 0 && addr_eq(&sent, &src);
	osip_via_param_get_byname(via, "rport", &rport);
	/*
	 * RFC 3261 18.2.1: received when sent-by differs from the source;
	 * RFC 3581 4: always when rport was asked for, and rport gets the
	 * source port.  Any received= already there is replaced.
	 */
	if (!same || rport != NULL) {
		param_del(&via->via_params, "received");
		if (add_param(&via->via_params, "received", ip) == -1)
			return -1;
	}
	if (rport != NULL) {
		if ((v = osip_strdup(port)) == NULL)
			return -1;
		osip_free(rport->gvalue);
		rport->gvalue = v;
	}
	dirty(m);
	return 0;
}

int
gw_via_push(struct gw_msg *m, enum gw_proto p, const char *host, int port,
    const char *branch)
{
	char buf[HOST_MAX_LEN + TOKEN_MAX_LEN + 64], ps[8] = "";
	int v6, n;

	if (m == NULL || m->sip == NULL || (int)p < 0 || p >= GW_NPROTO ||
	    !host_ok(host) || port < 0 || port > 65535 ||
	    !token_ok(branch, TOKEN_MAX_LEN))
		return -1;
	v6 = strchr(host, ':') != NULL && host[0] != '[';
	if (port > 0)
		snprintf(ps, sizeof(ps), ":%d", port);
	n = snprintf(buf, sizeof(buf), "SIP/2.0/%s %s%s%s%s;branch=%s%s",
	    gw_proto_name(p), v6 ? "[" : "", host, v6 ? "]" : "", ps, branch,
	    p == GW_UDP ? ";rport" : "");
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	/* spec 5.3: "append" inserts at the top */
	if (osip_message_append_via(m->sip, buf) != 0)
		return -1;
	dirty(m);
	return 0;
}

int
gw_via_pop(struct gw_msg *m)
{
	osip_via_t *via;

	if ((via = top_via(m)) == NULL)
		return -1;
	osip_list_remove(&m->sip->vias, 0);
	osip_via_free(via);
	dirty(m);
	return 0;
}

const char *
gw_via_branch(const struct gw_msg *m)
{
	osip_via_t *via;

	if ((via = top_via(m)) == NULL)
		return NULL;
	return param_value(&via->via_params, "branch", NULL);
}

int
gw_via_count(const struct gw_msg *m)
{
	if (m == NULL || m->sip == NULL)
		return 0;
	return osip_list_size(&m->sip->vias);
}

/* proto_parse - "UDP", "TCP", "TLS" (any case) */
static int
proto_parse(const char *s, enum gw_proto *out)
{
	if (s == NULL)
		return -1;
	if (ci_eq(s, "udp"))
		*out = GW_UDP;
	else if (ci_eq(s, "tcp"))
		*out = GW_TCP;
	else if (ci_eq(s, "tls"))
		*out = GW_TLS;
	else
		return -1;
	return 0;
}

int
gw_via_next_hop(const struct gw_msg *m, struct gw_peer *out)
{
	osip_via_t *via;
	enum gw_proto p;
	const char *host, *rcvd, *rport;
	int port;

	if ((via = top_via(m)) == NULL || via->host == NULL || out == NULL ||
	    proto_parse(via->protocol, &p) == -1)
		return -1;
	/* maddr is not honoured: a request must not aim our responses at
	 * an address of its choosing beyond what the source shows */
	host = via->host;
	rcvd = param_value(&via->via_params, "received", NULL);
	if (rcvd != NULL && rcvd[0] != '\0')
		host = rcvd;
	rport = p == GW_UDP ? param_value(&via->via_params, "rport", NULL) :
	    NULL;
	if (rport != NULL && rport[0] != '\0') {
		if (parse_port(rport, &port) == -1)
			return -1;
	} else if (via->port != NULL && via->port[0] != '\0') {
		if (parse_port(via->port, &port) == -1)
			return -1;
	} else
		port = p == GW_TLS ? 5061 : 5060;
	return gw_peer_make(p, host, port, out);
}

/* ---------------------------------------------------------------------- */
/* Max-Forwards */

int
gw_maxfwd(struct gw_msg *m)
{
	osip_header_t *h;
	unsigned long v;
	char buf[24], *s;

	if (m == NULL || m->sip == NULL)
		return -1;
	if ((h = generic_first(m->sip, "max-forwards", NULL)) == NULL) {
		/* RFC 3261 16.6 step 3: add it with 70, minus our hop */
		if (osip_message_set_header(m->sip, "Max-Forwards", "69") != 0)
			return -1;
		dirty(m);
		return 0;
	}
	if (parse_uint(h->hvalue, 9, &v) == -1 || v == 0)
		return -1;
	snprintf(buf, sizeof(buf), "%lu", v - 1);
	if ((s = osip_strdup(buf)) == NULL)
		return -1;
	osip_free(h->hvalue);
	h->hvalue = s;
	dirty(m);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Route, Record-Route, Request-URI */

/*
 * uri_target - transport and port of a SIP URI: transport= (udp, tcp,
 *	tls; sips: TLS), the port or 5060/5061; -1 for another scheme or
 *	transport, a bad port
 */
static int
uri_target(osip_uri_t *u, enum gw_proto *p, int *port)
{
	const char *tp;
	int sips, present;

	if (u == NULL || u->host == NULL || u->host[0] == '\0')
		return -1;
	if (u->scheme == NULL || ci_eq(u->scheme, "sip"))
		sips = 0;
	else if (ci_eq(u->scheme, "sips"))
		sips = 1;
	else
		return -1;
	tp = param_value(&u->url_params, "transport", &present);
	if (!present)
		*p = sips ? GW_TLS : GW_UDP;
	else if (proto_parse(tp, p) == -1)
		return -1;
	if (sips)
		*p = GW_TLS;	/* RFC 3261 26.2.2 */
	if (u->port != NULL && u->port[0] != '\0') {
		if (parse_port(u->port, port) == -1)
			return -1;
	} else
		*port = *p == GW_TLS ? 5061 : 5060;
	return 0;
}

/* uri_peer - a SIP URI with a numeric host as a peer (maddr ignored) */
static int
uri_peer(osip_uri_t *u, struct gw_peer *out)
{
	enum gw_proto p;
	int port;

	if (out == NULL || uri_target(u, &p, &port) == -1)
		return -1;
	return gw_peer_make(p, u->host, port, out);
}

/* top_route - the top Route's URI, or NULL */
static osip_uri_t *
top_route(const struct gw_msg *m)
{
	osip_route_t *r;

	if (m == NULL || m->sip == NULL)
		return NULL;
	if ((r = osip_list_get(&m->sip->routes, 0)) == NULL)
		return NULL;
	return r->url;
}

int
gw_route_top_is(const struct gw_msg *m, const char *host, int port)
{
	osip_uri_t *u;
	struct sockaddr_storage a, b;
	socklen_t al, bl;
	enum gw_proto p;
	int uport;

	if ((u = top_route(m)) == NULL || host == NULL ||
	    uri_target(u, &p, &uport) == -1)
		return 0;
	if (port <= 0)
		port = p == GW_TLS ? 5061 : 5060;
	if (uport != port)
		return 0;
	if (addr_parse(u->host, &a, &al) == 0 &&
	    addr_parse(host, &b, &bl) == 0)
		return addr_eq(&a, &b);
	return ci_eq(u->host, host);
}

int
gw_route_pop(struct gw_msg *m)
{
	osip_route_t *r;

	if (m == NULL || m->sip == NULL ||
	    (r = osip_list_get(&m->sip->routes, 0)) == NULL)
		return -1;
	osip_list_remove(&m->sip->routes, 0);
	osip_route_free(r);
	dirty(m);
	return 0;
}

int
gw_route_count(const struct gw_msg *m)
{
	if (m == NULL || m->sip == NULL)
		return 0;
	return osip_list_size(&m->sip->routes);
}

int
gw_route_next_hop(const struct gw_msg *m, struct gw_peer *out)
{
	return uri_peer(top_route(m), out);
}

int
gw_uri_peer(const struct gw_msg *m, struct gw_peer *out)
{
	if (m == NULL || m->sip == NULL)
		return -1;
	return uri_peer(m->sip->req_uri, out);
}

int
gw_rr_push(struct gw_msg *m, enum gw_proto p, const char *host, int port)
{
	static const char *const tp[GW_NPROTO] = { "udp", "tcp", "tls" };
	osip_record_route_t *rr = NULL;
	char buf[HOST_MAX_LEN + 64], ps[8] = "";
	int v6, n;

	if (m == NULL || m->sip == NULL || (int)p < 0 || p >= GW_NPROTO ||
	    !host_ok(host) || port < 0 || port > 65535)
		return -1;
	v6 = strchr(host, ':') != NULL && host[0] != '[';
	if (port > 0)
		snprintf(ps, sizeof(ps), ":%d", port);
	n = snprintf(buf, sizeof(buf), "<sip:%s%s%s%s;transport=%s;lr>",
	    v6 ? "[" : "", host, v6 ? "]" : "", ps, tp[p]);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	if (osip_record_route_init(&rr) != 0)
		return -1;
	if (osip_record_route_parse(rr, buf) != 0 ||
	    osip_list_add(&m->sip->record_routes, rr, 0) < 0) {
		osip_record_route_free(rr);
		return -1;
	}
	dirty(m);
	return 0;
}
