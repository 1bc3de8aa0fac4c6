/*
 * gateway/gw_transport.h - SIP over UDP, TCP and TLS on one libevent loop
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 */
#ifndef GW_TRANSPORT_H
#define GW_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "gateway/gw.h"
#include "gateway/gw_conf.h"

struct gw_tp;

/* One framed message as it arrived (valid during the callback only). */
struct gw_rx {
	const char	*head;		/* start line + headers + CRLFCRLF */
	size_t		 head_len;
	const uint8_t	*body;
	size_t		 body_len;
	int		 short_body;	/* UDP datagram shorter than its
					 * Content-Length: answer 400 */
	struct gw_peer	 src;
	uint64_t	 conn;		/* stream connection id, 0 for UDP */
	int		 listener;	/* index in conf->listen */
};

typedef void (*gw_rx_cb)(void *arg, const struct gw_rx *rx);

/*
 * gw_tp_new - bind every listener of c (UDP sockets with SO_RCVBUF and
 *	SO_SNDBUF of sockbuf bytes if non-zero; TCP/TLS evconnlisteners;
 *	TLS with c->tls_cert/tls_key), deliver each framed message to cb.
 *	Counters go to *m.  NULL with err filled on failure (e.g. "listen
 *	udp 127.0.0.1:5060: Address already in use").
 */
struct gw_tp *gw_tp_new(struct event_base *base, const struct gw_conf *c,
    size_t sockbuf, struct gw_metrics *m, gw_rx_cb cb, void *arg, char *err,
    size_t errlen);
void gw_tp_free(struct gw_tp *tp);

/*
 * gw_tp_send - send one whole message to dst.  conn != 0: on that stream
 *	connection if it is still open (a response goes back on the
 *	connection its request came on, RFC 3261 18.2.2), else as if 0.
 *	UDP: sendto from the listener socket of dst's address family.
 *	TCP/TLS: an open connection to dst is reused (outgoing or accepted
 *	from that address), else one is opened (non-blocking connect; the
 *	message is queued in its output buffer).  0, or -1 if it cannot be
 *	sent (no listener of that family/proto, socket error, output buffer
 *	over its cap).  Never blocks.
 */
int gw_tp_send(struct gw_tp *tp, const struct gw_peer *dst, uint64_t conn,
    const char *buf, size_t len);

/*
 * gw_tp_local - the address to put in our Via / Record-Route for proto
 *	and family (AF_INET / AF_INET6): the first listener of that
 *	proto and family; -1 if none
 */
int gw_tp_local(const struct gw_tp *tp, enum gw_proto p, int family,
    const char **host, int *port);

/*
 * gw_fail_cb - an outgoing TCP/TLS connection to peer failed (connect or
 *	TLS handshake) with messages queued on it: they are lost.  Called
 *	from the loop, never from inside gw_tp_send; the callback may send.
 * gw_tp_set_fail_cb - set it (NULL: none)
 */
typedef void (*gw_fail_cb)(void *arg, const struct gw_peer *peer,
    const char *why);
void gw_tp_set_fail_cb(struct gw_tp *tp, gw_fail_cb cb, void *arg);

#endif /* GW_TRANSPORT_H */
