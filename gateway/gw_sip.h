/*
 * gateway/gw_sip.h - SIP messages: libosip2 parses the headers, the body
 *	stays raw bytes (spec/smime-sip.md 5.2: libosip2 must never see or
 *	re-serialise a body)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 */
#ifndef GW_SIP_H
#define GW_SIP_H

#include <stddef.h>
#include <stdint.h>

#include <osipparser2/osip_parser.h>

#include "gateway/gw.h"

/* ---------------------------------------------------------------------- */
/* Framing (gw_frame.c) */

struct gw_frame {
	size_t		 skip;		/* leading CRLF keep-alives */
	size_t		 head_len;	/* start line + headers + CRLFCRLF */
	size_t		 body_len;	/* Content-Length */
	int		 has_clen;	/* a Content-Length was present */
};

enum gw_frame_rc {
	GW_FRAME_OK = 0,	/* one message at buf + skip, head_len +
				 * body_len bytes */
	GW_FRAME_MORE = 1,	/* incomplete: read more (stream) */
	GW_FRAME_BAD = -1	/* unusable: *why says why */
};

/*
 * gw_frame_stream - find the first message in a stream buffer: skip CRLFs,
 *	find CRLFCRLF within max_head bytes, read Content-Length (also
 *	compact "l"; missing on a stream is BAD), refuse a total over
 *	max_msg before the body arrives.  Never reads past buf + len.
 *	f->skip is set whatever the result: on MORE those octets are
 *	keep-alives the caller may drop.
 */
int gw_frame_stream(const char *buf, size_t len, size_t max_head,
    size_t max_msg, struct gw_frame *f, const char **why);

/*
 * gw_frame_dgram - the same for a UDP datagram: a missing Content-Length
 *	means the rest of the datagram; octets beyond Content-Length are
 *	ignored (f->body_len says how many count); a datagram shorter than
 *	its Content-Length is BAD with *why "short" and f->head_len set so
 *	the caller can still parse the headers and answer 400 (RFC 3261
 *	18.3); f->body_len is then the octets present.
 */
int gw_frame_dgram(const char *buf, size_t len, size_t max_head,
    struct gw_frame *f, const char **why);

/*
 * gw_resp_peek - read a response's status line, top Via branch, To tag,
 *	Warning and Retry-After straight from its header block (head_len
 *	bytes ending in CRLFCRLF), without libosip2: for the responses to
 *	our own transactions, where nothing else is used.  Pointers into
 *	head.  -1 (use gw_msg_parse) for anything unusual: not a response, a
 *	folded line, a second Via value before the branch, a field too
 *	long.  Bounded, never reads past head + head_len.
 */
struct gw_resp_peek {
	int		 status;
	const char	*reason, *branch, *to_tag, *warning, *retry_after;
	size_t		 reason_len, branch_len, to_tag_len, warning_len,
			 retry_after_len;
};
int gw_resp_peek(const char *head, size_t head_len, struct gw_resp_peek *out);
/* gw_peek_str - a peeked field into buf (NUL-terminated): 0 if absent or
 *	too long */
int gw_peek_str(const char *p, size_t len, char *buf, size_t cap);

/* ---------------------------------------------------------------------- */
/* Messages (gw_sip.c) */

struct gw_msg {
	osip_message_t	*sip;		/* headers; its Content-Length is 0 */
	uint8_t		*body;		/* raw, malloc'd, may be NULL */
	size_t		 body_len;
	struct gw_peer	 src;		/* where it came from (received) */
	uint64_t	 conn;		/* stream connection id, 0: UDP */
	int		 listener;	/* index in gw_conf.listen, -1 none */
};

/*
 * gw_msg_parse - parse a framed message (head: head_len bytes ending in
 *	CRLFCRLF; body: body_len bytes, copied).  The Content-Length given
 *	to libosip2 is rewritten to 0.  Checks the minimum of RFC 3261 8.2.2
 *	/ 16.3 for requests: Via, From, To, Call-ID, CSeq with a method
 *	equal to the request's, Max-Forwards may be absent.  Returns 0 or -1
 *	with *why a short stable reason ("syntax", "no Via", "CSeq method").
 *	libosip2's own stderr trace is silenced (gw_sip_init).
 */
int gw_msg_parse(const char *head, size_t head_len, const uint8_t *body,
    size_t body_len, struct gw_msg **out, const char **why);
void gw_msg_free(struct gw_msg *m);

/*
 * gw_msg_roundtrip_ok - 1 if libosip2's text of m parses back (its parser
 *	and writer are not inverses: gw_sip.c, reparse_ok).
 */
int gw_msg_roundtrip_ok(struct gw_msg *m);

/*
 * gw_wire_reads_back - 1 if the header block of wire (a message as
 *	gw_msg_serialize wrote it) parses: checked on everything the gateway
 *	forwards, since libosip2 can write what it cannot read
 */
int gw_wire_reads_back(const char *wire, size_t len);

/* gw_sip_init - parser_init() and trace routing; once, in main */
void gw_sip_init(void);

/*
 * gw_msg_serialize - the wire form: libosip2's header block (the message
 *	must be body-less to it) with the real Content-Length, then the raw
 *	body.  *out malloc'd (free()).
 */
int gw_msg_serialize(const struct gw_msg *m, char **out, size_t *out_len);

/* gw_msg_set_body - replace the body (copied) and Content-Type (NULL:
 *	remove the header) */
int gw_msg_set_body(struct gw_msg *m, const char *ctype, const uint8_t *b,
    size_t len);

/* gw_msg_is_request, gw_msg_method ("MESSAGE"), gw_msg_status (0 for a
 * request) */
int gw_msg_is_request(const struct gw_msg *m);
const char *gw_msg_method(const struct gw_msg *m);
int gw_msg_status(const struct gw_msg *m);

/* gw_msg_ctype - the Content-Type value as text ("multipart/mixed;
 *	boundary=x"), malloc'd, NULL if none */
char *gw_msg_ctype(const struct gw_msg *m);

/* gw_uri_aor - "sip:user@host" (scheme kept, no port, no params, host
 *	lower-cased) of a URI, malloc'd; NULL if u is NULL */
char *gw_uri_aor(const osip_uri_t *u);
/* gw_msg_from_aor, gw_msg_to_aor, gw_msg_ruri_aor - the same for From, To
 *	and the Request-URI */
char *gw_msg_from_aor(const struct gw_msg *m);
char *gw_msg_to_aor(const struct gw_msg *m);
char *gw_msg_ruri_aor(const struct gw_msg *m);

/*
 * gw_msg_response - a response to request req (RFC 3261 8.2.6): every Via
 *	in order, From, To (with to_tag added if it has none and status >
 *	100; to_tag NULL: none added), Call-ID, CSeq; Content-Length 0.
 *	reason NULL: the standard phrase.
 */
int gw_msg_response(const struct gw_msg *req, int status, const char *reason,
    const char *to_tag, struct gw_msg **out);

/*
 * gw_response_text - the same response as text directly (no libosip2
 *	message built); extra: NULL-terminated "Name: value" lines to add
 */
int gw_response_text(const struct gw_msg *req, int status, const char *reason,
    const char *to_tag, const char *const *extra, char **out,
    size_t *out_len);

/* gw_msg_add_header - append a header (name, value copied); -1 for a
 *	value with CR or LF, for Content-Length, Content-Type (see
 *	gw_msg_set_body), From, To, Call-ID, CSeq, and for a typed header
 *	(Via, Route, Accept...) libosip2 cannot parse */
int gw_msg_add_header(struct gw_msg *m, const char *name, const char *value);
/* gw_msg_del_header - remove every header of that name (generic headers:
 *	case-insensitive; also P-Asserted-Identity) */
void gw_msg_del_header(struct gw_msg *m, const char *name);
/* gw_msg_header - the value of the first header of that name (or its
 *	compact form), or NULL (not copied); untyped headers only: those
 *	libosip2 keeps parsed (Via, Route, Contact, Accept, Allow, From...)
 *	are not found here */
const char *gw_msg_header(const struct gw_msg *m, const char *name);

/*
 * Via (spec/smime-sip.md 5.3)
 * gw_via_received - on the top Via of a received request: received= when
 *	the source address differs from sent-by, rport=PORT when rport was
 *	asked for (RFC 3581; its section 4 then wants received= even when
 *	the address is the same)
 * gw_via_push - insert our Via at the top: "SIP/2.0/PROTO host:port;
 *	branch=BRANCH" (IPv6 hosts bracketed); rport added for UDP
 * gw_via_pop - remove the top Via
 * gw_via_branch - the top Via's branch, or NULL
 * gw_via_count - the number of Via headers (values, not lines)
 * gw_via_next_hop - where a response goes (RFC 3261 18.2.2 with RFC 3581):
 *	the top Via's transport, received (else sent-by host), rport (UDP
 *	only; else sent-by port, else 5060/5061); the host must be numeric
 *	(no DNS): -1 otherwise
 */
int gw_via_received(struct gw_msg *m);
int gw_via_push(struct gw_msg *m, enum gw_proto p, const char *host, int port,
    const char *branch);
int gw_via_pop(struct gw_msg *m);
const char *gw_via_branch(const struct gw_msg *m);
int gw_via_count(const struct gw_msg *m);
int gw_via_next_hop(const struct gw_msg *m, struct gw_peer *out);

/* gw_maxfwd - decrement Max-Forwards (absent: set 70 - 1 = 69); -1 if it
 *	was already 0 (answer 483) */
int gw_maxfwd(struct gw_msg *m);

/*
 * Route (RFC 3261 16.4, 16.12 loose routing)
 * gw_route_top_is - 1 if the top Route's URI has host and port equal to
 *	host/port (port 0 in the URI counts as 5060/5061 by transport)
 * gw_route_pop - remove the top Route
 * gw_route_next_hop - the top Route's URI as a numeric peer (transport
 *	parameter, default UDP; -1 if the host is not numeric)
 * gw_uri_peer - the same for the Request-URI (maddr ignored)
 * gw_rr_push - insert "Record-Route: <sip:host:port;transport=x;lr>" at
 *	the top
 */
int gw_route_top_is(const struct gw_msg *m, const char *host, int port);
int gw_route_pop(struct gw_msg *m);
int gw_route_count(const struct gw_msg *m);
int gw_route_next_hop(const struct gw_msg *m, struct gw_peer *out);
int gw_uri_peer(const struct gw_msg *m, struct gw_peer *out);
int gw_rr_push(struct gw_msg *m, enum gw_proto p, const char *host, int port);

/* gw_peer_str - "udp:127.0.0.1:5060" / "tcp:[::1]:5070" into buf */
const char *gw_peer_str(const struct gw_peer *p, char *buf, size_t len);
/* gw_peer_make - host (numeric, IPv6 with or without brackets) + port
 *	(1-65535) + proto into a peer; -1 if the host is not a numeric
 *	address */
int gw_peer_make(enum gw_proto proto, const char *host, int port,
    struct gw_peer *out);
/* gw_peer_eq - same proto, address and port */
int gw_peer_eq(const struct gw_peer *a, const struct gw_peer *b);

#endif /* GW_SIP_H */
