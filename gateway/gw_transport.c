/*
 * gateway/gw_transport.c - SIP over UDP, TCP and TLS on one libevent loop
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	spec/smime-sip.md 5.5.  UDP: one non-blocking socket per listener
 *	with a persistent read event; each wake-up drains at most
 *	UDP_BURST datagrams (recvfrom into one 65,535-byte buffer) so that
 *	one busy socket cannot starve the others.  A datagram is framed by
 *	gw_frame_dgram; one shorter than its Content-Length is still
 *	delivered, flagged short_body, so that the core can answer 400 (RFC
 *	3261 18.3); other unusable datagrams are dropped and counted in
 *	rx_bad, and so are datagrams whose message is over max_message (the
 *	operator's cap applies to every transport).  A datagram of CRLFs
 *	only is a keep-alive and is ignored.  Replies leave from the first
 *	UDP listener of the address family, so that they come from our
 *	listening port.
 *
 *	TCP and TLS: an evconnlistener per listener, a bufferevent per
 *	connection (bufferevent_openssl for TLS) with
 *	BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, the idle time as
 *	read and write timeout and a read high-watermark of max_message.
 *	The read callback frames with gw_frame_stream as often as the input
 *	holds a whole message.  Leading CRLFs (keep-alives, RFC 3261 7.5,
 *	RFC 5626 4.4.1) are drained before framing, so a message starts at
 *	offset 0 and never needs more than max_message buffered: the
 *	watermark can then never stall a connection.  A BAD frame (no
 *	CRLFCRLF within the header cap, no or bad Content-Length, a total
 *	over max_message) closes the connection: the stream cannot be
 *	resynchronised.  A CRLFCRLF ping is answered with a CRLF pong.
 *
 *	Every connection has an id (1, 2, ...; never 0, never reused) and a
 *	peer key (proto, family, address, port).  Two chained hash tables
 *	find a connection by id (a response goes back on its request's
 *	connection, RFC 3261 18.2.2) and by peer (gw_tp_send reuses an
 *	accepted or outgoing connection to that address).  The peer table
 *	is keyed by remote addresses and ports, which a client chooses, so
 *	it is hashed with SipHash-2-4 under a random key (style.md 5).
 *
 *	Closing a connection unlinks it from both tables, frees its
 *	bufferevent (libevent keeps it alive while one of its callbacks
 *	runs, and clears our callbacks) and puts the struct on a dead list
 *	that a zero-delay event frees once the current callback chain has
 *	returned (style.md 7, redis freeClientAsync).  The read callback
 *	checks c->dead after each delivery, so that it stays safe should
 *	the rx callback ever close the connection (today a send never
 *	closes one).  The rx callback must not call gw_tp_free.
 *
 *	Outgoing connections: bufferevent_socket_connect (no DNS: peers
 *	are numeric), the message queued in the output buffer at once.
 *	Messages queued before the connection is up are counted in tx_msgs
 *	when it comes up, or in tx_fail when it fails; a connect (and a TLS
 *	handshake) is bounded by the write timeout, tcp_idle.  conns_total
 *	and conns_open count accepted connections and outgoing ones that
 *	have connected.  Each output buffer is capped at OUT_CAP: a peer
 *	that does not read makes gw_tp_send fail instead of growing our
 *	memory.  XXX The cap is per connection; there is no global one.
 *
 *	TLS: a server SSL_CTX from tls_cert/tls_key (TLS 1.2 or later) and
 *	a client SSL_CTX.  XXX The client checks the peer's chain against
 *	tls_ca when it is set, but checks no name: gw_tp_send only knows
 *	a numeric address, and SIP certificates name domains (RFC 5922);
 *	without tls_ca nothing is verified at all and TLS only protects
 *	against passive listeners.  A certificate is not asked of clients.
 *
 *	This file does not log (the unit test links no common/): failures
 *	show in the counters and in gw_tp_new's and gw_tp_send's results.
 *	The caller must ignore SIGPIPE: libevent writes with writev().
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "gateway/gw.h"
#include "gateway/gw_conf.h"
#include "gateway/gw_sip.h"
#include "gateway/gw_transport.h"

#define UDP_BUF		65535		/* spec 5.5, RFC 3261 18.1.1 */
#define UDP_BURST	64		/* datagrams per wake-up */
#define MAX_HEAD	(16 * 1024)	/* header block cap on streams */
#define DEF_MAX_MSG	65535		/* max_message 0: this */
#define DEF_IDLE	300		/* tcp_idle 0: this (s) */
#define OUT_CAP		(4 * 1024 * 1024)	/* output buffer cap */
#define TAB_MIN		64		/* hash buckets to start with */
#define KEY_LEN		24		/* peer key bytes */

enum { T_ID = 0, T_PEER = 1 };

/* A listener: conf->listen[index], bound. */
struct lsn {
	struct gw_tp	*tp;
	int		 index;
	enum gw_proto	 proto;
	int		 family;
	char		 host[64];
	int		 port;		/* the bound port (port 0: chosen) */
	evutil_socket_t	 fd;		/* UDP; -1 otherwise */
	struct event	*ev;		/* UDP read event */
	struct evconnlistener *el;	/* TCP and TLS */
	struct event	*retry;		/* re-enable el after accept errors */
};

/* A TCP or TLS connection. */
struct conn {
	struct gw_tp	*tp;
	struct bufferevent *bev;	/* NULL once closed */
	uint64_t	 id;
	enum gw_proto	 proto;
	struct gw_peer	 peer;
	uint8_t		 key[KEY_LEN];	/* peer_key(peer) */
	int		 listener;	/* accepted on; -1: outgoing */
	int		 connecting;	/* outgoing, not up yet */
	int		 counted;	/* in conns_open */
	int		 dead;		/* closed, waiting to be freed */
	uint64_t	 pending;	/* messages queued while connecting */
	uint64_t	 hash[2];	/* T_ID, T_PEER */
	struct conn	*next[2];	/* hash chains */
	struct conn	*dead_next;
};

/* A chained hash table of connections; nb is a power of two. */
struct ctab {
	struct conn	**b;
	size_t		 nb;
	size_t		 n;
};

struct gw_tp {
	struct event_base *base;
	struct gw_metrics *m;
	struct gw_metrics own_m;	/* when the caller gives none */
	gw_rx_cb	 cb;
	void		*arg;
	struct lsn	 lsn[GW_MAX_LISTEN];
	size_t		 nlsn;
	int		 udp4, udp6;	/* first UDP listener, -1: none */
	SSL_CTX		*srv_ctx;	/* NULL: no TLS listener */
	SSL_CTX		*cli_ctx;
	size_t		 max_msg;
	size_t		 max_head;
	struct timeval	 idle;
	uint64_t	 next_id;
	struct ctab	 tab[2];	/* T_ID, T_PEER */
	uint8_t		 hkey[16];	/* SipHash key of T_PEER */
	struct conn	*dead;		/* closed, to free */
	struct event	*reaper;
	uint8_t		*ubuf;		/* UDP_BUF bytes */
	gw_fail_cb	 fail_cb;	/* an outgoing connection failed */
	void		*fail_arg;
};

/* ---------------------------------------------------------------------- */
/* Helpers */

static const char *const proto_lc[GW_NPROTO] = { "udp", "tcp", "tls" };

/* hostport - "host:port" or "[v6]:port" for messages */
static void
hostport(const char *host, int port, char *buf, size_t len)
{
	if (strchr(host, ':') != NULL)
		snprintf(buf, len, "[%s]:%d", host, port);
	else
		snprintf(buf, len, "%s:%d", host, port);
}

/* ssl_error - the last OpenSSL error as text; clears the queue */
static const char *
ssl_error(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

/* sa_port - the port of an AF_INET or AF_INET6 address */
static int
sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

/*
 * peer_key - proto, family, port and address as KEY_LEN bytes (zero
 *	padded); -1 if the family is neither AF_INET nor AF_INET6.  The
 *	IPv6 scope id is not part of it.
 */
static int
peer_key(const struct gw_peer *p, uint8_t k[KEY_LEN])
{
	const struct sockaddr_in *s4;
	const struct sockaddr_in6 *s6;

	memset(k, 0, KEY_LEN);
	k[0] = (uint8_t)p->proto;
	switch (p->ss.ss_family) {
	case AF_INET:
		if (p->len < (socklen_t)sizeof(*s4))
			return -1;
		s4 = (const struct sockaddr_in *)&p->ss;
		k[1] = 4;
		memcpy(k + 2, &s4->sin_port, 2);
		memcpy(k + 4, &s4->sin_addr, 4);
		return 0;
	case AF_INET6:
		if (p->len < (socklen_t)sizeof(*s6))
			return -1;
		s6 = (const struct sockaddr_in6 *)&p->ss;
		k[1] = 6;
		memcpy(k + 2, &s6->sin6_port, 2);
		memcpy(k + 4, &s6->sin6_addr, 16);
		return 0;
	}
	return -1;
}

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

/* le64 - 8 little-endian bytes */
static uint64_t
le64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* siphash24 - SipHash-2-4 (Aumasson and Bernstein) of in under k */
static uint64_t
siphash24(const uint8_t k[16], const uint8_t *in, size_t len)
{
	uint64_t k0 = le64(k), k1 = le64(k + 8), m, b;
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	size_t i, left = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(in + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	b = (uint64_t)len << 56;
	while (left > 0) {
		left--;
		b |= (uint64_t)in[i + left] << (8 * left);
	}
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* id_hash - ids are sequential; a multiplicative mix spreads them anyway */
static uint64_t
id_hash(uint64_t id)
{
	return id * 0x9e3779b97f4a7c15ULL;
}

/* ---------------------------------------------------------------------- */
/* Connection tables */

/* ctab_init - nb buckets; -1 on OOM */
static int
ctab_init(struct ctab *t, size_t nb)
{
	if ((t->b = calloc(nb, sizeof(*t->b))) == NULL)
		return -1;
	t->nb = nb;
	t->n = 0;
	return 0;
}

/* ctab_grow - double the buckets of table w; on OOM keep the old ones
 *	(longer chains, still correct) */
static void
ctab_grow(struct ctab *t, int w)
{
	struct conn **nb, *c, *next;
	size_t i, n = t->nb * 2, h;

	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return;
	for (i = 0; i < t->nb; i++)
		for (c = t->b[i]; c != NULL; c = next) {
			next = c->next[w];
			h = (size_t)(c->hash[w] & (n - 1));
			c->next[w] = nb[h];
			nb[h] = c;
		}
	free(t->b);
	t->b = nb;
	t->nb = n;
}

/* ctab_add - link c (hash[w] set) into table w */
static void
ctab_add(struct ctab *t, int w, struct conn *c)
{
	size_t h;

	if (t->n >= t->nb)
		ctab_grow(t, w);
	h = (size_t)(c->hash[w] & (t->nb - 1));
	c->next[w] = t->b[h];
	t->b[h] = c;
	t->n++;
}

/* ctab_del - unlink c from table w (no-op if it is not there) */
static void
ctab_del(struct ctab *t, int w, struct conn *c)
{
	struct conn **pp;

	for (pp = &t->b[c->hash[w] & (t->nb - 1)]; *pp != NULL;
	    pp = &(*pp)->next[w])
		if (*pp == c) {
			*pp = c->next[w];
			c->next[w] = NULL;
			t->n--;
			return;
		}
}

/* conn_by_id - the open connection id, or NULL */
static struct conn *
conn_by_id(struct gw_tp *tp, uint64_t id)
{
	struct ctab *t = &tp->tab[T_ID];
	struct conn *c;

	for (c = t->b[id_hash(id) & (t->nb - 1)]; c != NULL;
	    c = c->next[T_ID])
		if (c->id == id)
			return c;
	return NULL;
}

/* conn_by_peer - an open connection to p (one that is up first), or NULL */
static struct conn *
conn_by_peer(struct gw_tp *tp, const struct gw_peer *p)
{
	struct ctab *t = &tp->tab[T_PEER];
	struct conn *c, *found = NULL;
	uint8_t k[KEY_LEN];
	uint64_t h;

	if (peer_key(p, k) != 0)
		return NULL;
	h = siphash24(tp->hkey, k, sizeof(k));
	for (c = t->b[h & (t->nb - 1)]; c != NULL; c = c->next[T_PEER])
		/* a peer address, not a secret: plain memcmp */
		if (c->hash[T_PEER] == h && memcmp(c->key, k, sizeof(k)) == 0) {
			if (!c->connecting)
				return c;
			if (found == NULL)
				found = c;
		}
	return found;
}

/* ---------------------------------------------------------------------- */
/* Connections */

/* reap_cb - free the connections closed since the last turn */
static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_tp *tp = arg;
	struct conn *c;

	while ((c = tp->dead) != NULL) {
		tp->dead = c->dead_next;
		free(c);
	}
}

/*
 * conn_close - unlink c, free its bufferevent (which closes the socket),
 *	and leave the struct to reap_cb: a caller up the stack may still
 *	hold c.  Messages still queued while connecting count as failed.
 */
static void
conn_close(struct conn *c)
{
	struct gw_tp *tp = c->tp;

	if (c->dead)
		return;
	c->dead = 1;
	ctab_del(&tp->tab[T_ID], T_ID, c);
	ctab_del(&tp->tab[T_PEER], T_PEER, c);
	if (c->connecting) {
		tp->m->tx_fail += c->pending;
		if (c->pending > 0 && tp->fail_cb != NULL)
			tp->fail_cb(tp->fail_arg, &c->peer, c->proto == GW_TLS ?
			    "TCP connect or TLS handshake failed" :
			    "TCP connect failed");
	}
	c->pending = 0;
	if (c->counted)
		tp->m->conns_open--;
	c->counted = 0;
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	c->bev = NULL;
	c->dead_next = tp->dead;
	tp->dead = c;
	if (tp->reaper != NULL)
		event_active(tp->reaper, EV_TIMEOUT, 0);
}

/* conn_up - count c as open */
static void
conn_up(struct conn *c)
{
	c->tp->m->conns_open++;
	c->tp->m->conns_total++;
	c->counted = 1;
}

/* crlf_run - the number of leading CR and LF bytes of p; *ping set if
 *	they hold a CRLFCRLF ping (RFC 5626 4.4.1) */
static size_t
crlf_run(const char *p, size_t len, int *ping)
{
	size_t n;

	*ping = 0;
	for (n = 0; n < len && (p[n] == '\r' || p[n] == '\n'); n++)
		if (n >= 3 && p[n - 3] == '\r' && p[n - 2] == '\n' &&
		    p[n - 1] == '\r' && p[n] == '\n')
			*ping = 1;
	return n;
}

/* conn_read_cb - frame and deliver every whole message in the input */
static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct gw_tp *tp = c->tp;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct gw_frame f;
	struct gw_rx rx;
	const char *p, *why = NULL;
	size_t len, total, n;
	int rc, ping;

	while (!c->dead && (len = evbuffer_get_length(in)) > 0) {
		/* the input is at most about max_msg (the watermark), and
		 * after the first pullup the rest stays contiguous */
		if ((p = (const char *)evbuffer_pullup(in, -1)) == NULL) {
			conn_close(c);	/* out of memory */
			return;
		}
		if ((n = crlf_run(p, len, &ping)) > 0) {
			/* keep-alives; a message then starts at 0 */
			evbuffer_drain(in, n);
			if (ping)
				(void)bufferevent_write(bev, "\r\n", 2);
			continue;
		}
		memset(&f, 0, sizeof(f));
		rc = gw_frame_stream(p, len, tp->max_head, tp->max_msg, &f,
		    &why);
		if (rc == GW_FRAME_MORE) {
			/* A message starting at 0 is at most max_msg bytes
			 * (else BAD): with the watermark at max_msg, a full
			 * buffer that is still MORE would stall for good. */
			if (len < tp->max_msg)
				return;
			rc = GW_FRAME_BAD;
		}
		total = f.skip + f.head_len + f.body_len;
		if (rc != GW_FRAME_OK || f.head_len == 0 || total > len) {
			tp->m->rx_bad++;
			conn_close(c);
			return;
		}
		memset(&rx, 0, sizeof(rx));
		rx.head = p + f.skip;
		rx.head_len = f.head_len;
		rx.body = (const uint8_t *)p + f.skip + f.head_len;
		rx.body_len = f.body_len;
		rx.src = c->peer;
		rx.conn = c->id;
		rx.listener = c->listener;
		tp->m->rx_msgs[c->proto]++;
		tp->cb(tp->arg, &rx);
		if (c->dead)
			return;
		evbuffer_drain(in, total);
	}
}

/* conn_event_cb - connected, EOF, error or timeout */
static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	struct gw_tp *tp = c->tp;

	if (what & BEV_EVENT_CONNECTED) {
		/* TLS: after the handshake, also for accepted ones */
		if (c->connecting) {
			c->connecting = 0;
			tp->m->tx_msgs[c->proto] += c->pending;
			c->pending = 0;
			conn_up(c);
		}
		return;
	}
	/* EOF, error, timeout: the peer is gone or silent; nothing that
	 * is still queued can reach it.  OpenSSL's queue is per thread:
	 * leave nothing in it for the next connection to trip over. */
	ERR_clear_error();
	conn_close(c);
}

/*
 * conn_new - a connection on fd (accepted; -1 for an outgoing one, which
 *	the caller connects), in both tables; NULL on failure, and an
 *	accepted fd is then closed.
 */
static struct conn *
conn_new(struct gw_tp *tp, const struct gw_peer *peer, int listener,
    evutil_socket_t fd)
{
	struct conn *c;
	SSL *ssl;
	int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto fail;
	c->tp = tp;
	c->proto = peer->proto;
	c->peer = *peer;
	c->listener = listener;
	if (peer_key(peer, c->key) != 0)
		goto fail;
	if (peer->proto == GW_TLS) {
		if ((ssl = SSL_new(fd >= 0 ? tp->srv_ctx : tp->cli_ctx)) ==
		    NULL)
			goto fail;
		/* with BEV_OPT_CLOSE_ON_FREE libevent frees ssl on
		 * failure */
		c->bev = bufferevent_openssl_socket_new(tp->base, fd, ssl,
		    fd >= 0 ? BUFFEREVENT_SSL_ACCEPTING :
		    BUFFEREVENT_SSL_CONNECTING, opts);
		if (c->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev,
			    1);
	} else
		c->bev = bufferevent_socket_new(tp->base, fd, opts);
	if (c->bev == NULL)
		goto fail;
	bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, tp->max_msg);
	bufferevent_set_timeouts(c->bev, &tp->idle, &tp->idle);
	c->id = tp->next_id++;
	c->hash[T_ID] = id_hash(c->id);
	c->hash[T_PEER] = siphash24(tp->hkey, c->key, sizeof(c->key));
	ctab_add(&tp->tab[T_ID], T_ID, c);
	ctab_add(&tp->tab[T_PEER], T_PEER, c);
	return c;
fail:
	ERR_clear_error();
	/* XXX if bufferevent_*_new failed after taking fd, libevent may
	 * have closed it already; it fails only on OOM before that */
	if (fd >= 0)
		evutil_closesocket(fd);
	free(c);
	return NULL;
}

/* nodelay - TCP_NODELAY: a SIP message is written whole */
static void
nodelay(evutil_socket_t fd)
{
	int one = 1;

	if (fd >= 0)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
}

/* accept_cb - a new TCP or TLS connection on listener l */
static void
accept_cb(struct evconnlistener *el, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct lsn *l = arg;
	struct gw_peer peer;
	struct conn *c;

	memset(&peer, 0, sizeof(peer));
	peer.proto = l->proto;
	if (salen <= 0 || (size_t)salen > sizeof(peer.ss)) {
		evutil_closesocket(fd);
		return;
	}
	memcpy(&peer.ss, sa, (size_t)salen);
	peer.len = (socklen_t)salen;
	nodelay(fd);
	if ((c = conn_new(l->tp, &peer, l->index, fd)) == NULL)
		return;
	conn_up(c);
	if (bufferevent_enable(c->bev, EV_READ) != 0)
		conn_close(c);
}

/* retry_cb - accept again after a pause */
static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lsn *l = arg;

	evconnlistener_enable(l->el);
}

/* accept_error_cb - accept failed (EMFILE, ENOBUFS, ...): libevent would
 *	retry at once and spin; pause the listener for a second */
static void
accept_error_cb(struct evconnlistener *el, void *arg)
{
	struct lsn *l = arg;
	struct timeval one = { 1, 0 };

	evconnlistener_disable(el);
	if (evtimer_add(l->retry, &one) != 0)
		evconnlistener_enable(el);
}

/* conn_connect - a new outgoing connection to dst; NULL on failure */
static struct conn *
conn_connect(struct gw_tp *tp, const struct gw_peer *dst)
{
	struct conn *c;

	if ((c = conn_new(tp, dst, -1, -1)) == NULL)
		return NULL;
	c->connecting = 1;
	if (bufferevent_socket_connect(c->bev,
	    (const struct sockaddr *)&dst->ss, (int)dst->len) != 0) {
		conn_close(c);
		return NULL;
	}
	nodelay(bufferevent_getfd(c->bev));
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) != 0) {
		conn_close(c);
		return NULL;
	}
	return c;
}

/* ---------------------------------------------------------------------- */
/* UDP */

/* all_crlf - 1 if buf holds only CR and LF (a keep-alive) */
static int
all_crlf(const uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != '\r' && buf[i] != '\n')
			return 0;
	return 1;
}

/* udp_one - frame and deliver one datagram */
static void
udp_one(struct lsn *l, size_t n, const struct sockaddr_storage *ss,
    socklen_t sl)
{
	struct gw_tp *tp = l->tp;
	const char *buf = (const char *)tp->ubuf, *why = NULL;
	struct gw_frame f;
	struct gw_rx rx;
	int rc;

	if (all_crlf(tp->ubuf, n))
		return;
	memset(&f, 0, sizeof(f));
	rc = gw_frame_dgram(buf, n, tp->max_head, &f, &why);
	memset(&rx, 0, sizeof(rx));
	if (rc == GW_FRAME_BAD && why != NULL && strcmp(why, "short") == 0 &&
	    f.head_len > 0 && f.skip + f.head_len <= n) {
		/* RFC 3261 18.3: the core answers 400 */
		rx.short_body = 1;
		f.body_len = n - f.skip - f.head_len;
	} else if (rc != GW_FRAME_OK || f.head_len == 0 ||
	    f.skip + f.head_len + f.body_len > n ||
	    f.head_len + f.body_len > tp->max_msg) {
		tp->m->rx_bad++;
		return;
	}
	rx.head = buf + f.skip;
	rx.head_len = f.head_len;
	rx.body = tp->ubuf + f.skip + f.head_len;
	rx.body_len = f.body_len;
	rx.src.proto = GW_UDP;
	memcpy(&rx.src.ss, ss, sizeof(*ss));
	rx.src.len = sl;
	rx.conn = 0;
	rx.listener = l->index;
	tp->m->rx_msgs[GW_UDP]++;
	tp->cb(tp->arg, &rx);
}

/* udp_read_cb - drain up to UDP_BURST datagrams */
static void
udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lsn *l = arg;
	struct sockaddr_storage ss;
	socklen_t sl;
	ssize_t n;
	int i;

	for (i = 0; i < UDP_BURST; i++) {
		sl = sizeof(ss);
		n = recvfrom(fd, l->tp->ubuf, UDP_BUF, 0,
		    (struct sockaddr *)&ss, &sl);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN: drained; anything else (a queued ICMP
			 * error) is not ours to act on */
			return;
		}
		udp_one(l, (size_t)n, &ss, sl);
	}
}

/* udp_send - sendto from the first UDP listener of dst's family */
static int
udp_send(struct gw_tp *tp, const struct gw_peer *dst, const char *buf,
    size_t len)
{
	int i = dst->ss.ss_family == AF_INET6 ? tp->udp6 :
	    dst->ss.ss_family == AF_INET ? tp->udp4 : -1;
	ssize_t n;

	if (i < 0)
		return -1;
	do
		n = sendto(tp->lsn[i].fd, buf, len, 0,
		    (const struct sockaddr *)&dst->ss, dst->len);
	while (n < 0 && errno == EINTR);
	if (n < 0 || (size_t)n != len)
		return -1;	/* EAGAIN: the socket buffer is full */
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Setup */

/* tls_ctx_common - TLS 1.2 or later, AEAD ciphers (as kms/kms_http.c) */
static int
tls_ctx_common(SSL_CTX *ctx)
{
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION);
	/* many idle connections: no read/write buffers while idle */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") ==
	    1 ? 0 : -1;
}

/* tls_load_cert - tls_cert (chain) and tls_key into ctx */
static int
tls_load_cert(SSL_CTX *ctx, const struct gw_conf *c, char *err,
    size_t errlen)
{
	char e[256];

	if (SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1) {
		snprintf(err, errlen, "tls_cert %s: %s", c->tls_cert,
		    ssl_error(e, sizeof(e)));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) !=
	    1) {
		snprintf(err, errlen, "tls_key %s: %s", c->tls_key,
		    ssl_error(e, sizeof(e)));
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "tls_key %s does not match tls_cert %s",
		    c->tls_key, c->tls_cert);
		return -1;
	}
	return 0;
}

/* tls_setup - the server SSL_CTX (if a TLS listener is configured) and the
 *	client one */
static int
tls_setup(struct gw_tp *tp, const struct gw_conf *c, int need_srv, char *err,
    size_t errlen)
{
	char e[256];
	int have_cert = c->tls_cert != NULL && c->tls_key != NULL;

	if (need_srv) {
		if (!have_cert) {
			snprintf(err, errlen, "listen tls: tls_cert and "
			    "tls_key are needed");
			return -1;
		}
		if ((tp->srv_ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
		    tls_ctx_common(tp->srv_ctx) != 0) {
			snprintf(err, errlen, "TLS: %s",
			    ssl_error(e, sizeof(e)));
			return -1;
		}
		SSL_CTX_set_options(tp->srv_ctx,
		    SSL_OP_CIPHER_SERVER_PREFERENCE);
		if (tls_load_cert(tp->srv_ctx, c, err, errlen) != 0)
			return -1;
	}
	if ((tp->cli_ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    tls_ctx_common(tp->cli_ctx) != 0) {
		snprintf(err, errlen, "TLS: %s", ssl_error(e, sizeof(e)));
		return -1;
	}
	/* our certificate, for a server that asks (mutual TLS) */
	if (have_cert && tls_load_cert(tp->cli_ctx, c, err, errlen) != 0)
		return -1;
	if (c->tls_ca != NULL) {
		if (SSL_CTX_load_verify_locations(tp->cli_ctx, c->tls_ca,
		    NULL) != 1) {
			snprintf(err, errlen, "tls_ca %s: %s", c->tls_ca,
			    ssl_error(e, sizeof(e)));
			return -1;
		}
		SSL_CTX_set_verify(tp->cli_ctx, SSL_VERIFY_PEER, NULL);
	} else
		SSL_CTX_set_verify(tp->cli_ctx, SSL_VERIFY_NONE, NULL);
	return 0;
}

/* lsn_open - create and bind the socket of conf->listen[i] */
static int
lsn_open(struct gw_tp *tp, const struct gw_conf *c, size_t i,
    size_t sockbuf, char *err, size_t errlen)
{
	const struct gw_listen *cl = &c->listen[i];
	struct lsn *l = &tp->lsn[i];
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	evutil_socket_t fd = -1;
	char where[96];
	int one = 1, sz, e;

	l->tp = tp;
	l->index = (int)i;
	l->proto = cl->proto;
	l->fd = -1;
	snprintf(l->host, sizeof(l->host), "%s", cl->host);
	hostport(cl->host, cl->port, where, sizeof(where));
	if ((int)cl->proto < 0 || cl->proto >= GW_NPROTO) {
		snprintf(err, errlen, "listen %s: bad protocol", where);
		return -1;
	}
	if (cl->port < 0 || cl->port > 65535) {
		snprintf(err, errlen, "listen %s %s: bad port",
		    proto_lc[cl->proto], where);
		return -1;
	}
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, cl->host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)cl->port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, cl->host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)cl->port);
		sl = sizeof(*s6);
	} else {
		snprintf(err, errlen, "listen %s %s: not a numeric address",
		    proto_lc[cl->proto], where);
		return -1;
	}
	l->family = ss.ss_family;
	fd = socket(l->family, cl->proto == GW_UDP ? SOCK_DGRAM : SOCK_STREAM,
	    0);
	if (fd < 0)
		goto syserr;
	if (evutil_make_socket_nonblocking(fd) != 0 ||
	    evutil_make_socket_closeonexec(fd) != 0)
		goto syserr;
	/* v6 listeners take v6 only: "::" and "0.0.0.0" can both be
	 * configured, and a v4-mapped source would not match a peer key */
	if (l->family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) != 0)
		goto syserr;
	if (cl->proto == GW_UDP) {
		if (sockbuf > 0) {
			sz = sockbuf > (size_t)INT32_MAX ? INT32_MAX :
			    (int)sockbuf;
			if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz,
			    sizeof(sz)) != 0 || setsockopt(fd, SOL_SOCKET,
			    SO_SNDBUF, &sz, sizeof(sz)) != 0)
				goto syserr;
		}
	} else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) != 0)
		goto syserr;
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0)
		goto syserr;
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
		goto syserr;
	l->port = sa_port(&ss);
	if (cl->proto == GW_UDP) {
		l->fd = fd;
		l->ev = event_new(tp->base, fd, EV_READ | EV_PERSIST,
		    udp_read_cb, l);
		if (l->ev == NULL || event_add(l->ev, NULL) != 0) {
			snprintf(err, errlen, "listen %s %s: cannot add "
			    "the event", proto_lc[cl->proto], where);
			return -1;
		}
		return 0;
	}
	if ((l->retry = evtimer_new(tp->base, retry_cb, l)) == NULL) {
		errno = ENOMEM;
		goto syserr;
	}
	/* evconnlistener_new calls listen(); fd is its own from then on */
	l->el = evconnlistener_new(tp->base, accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, SOMAXCONN, fd);
	if (l->el == NULL)
		goto syserr;
	evconnlistener_set_error_cb(l->el, accept_error_cb);
	return 0;
syserr:
	e = errno;
	snprintf(err, errlen, "listen %s %s: %s", proto_lc[cl->proto], where,
	    strerror(e));
	if (fd >= 0)
		evutil_closesocket(fd);
	return -1;
}

/* ---------------------------------------------------------------------- */
/* API */

struct gw_tp *
gw_tp_new(struct event_base *base, const struct gw_conf *c, size_t sockbuf,
    struct gw_metrics *m, gw_rx_cb cb, void *arg, char *err, size_t errlen)
{
	struct gw_tp *tp;
	size_t i;
	int need_srv = 0;
	time_t idle;

	if ((tp = calloc(1, sizeof(*tp))) == NULL)
		goto nomem;
	tp->base = base;
	tp->m = m != NULL ? m : &tp->own_m;
	tp->cb = cb;
	tp->arg = arg;
	tp->udp4 = tp->udp6 = -1;
	tp->next_id = 1;
	tp->max_msg = c->max_message > 0 ? c->max_message : DEF_MAX_MSG;
	tp->max_head = tp->max_msg < MAX_HEAD ? tp->max_msg : MAX_HEAD;
	idle = c->tcp_idle > 0 ? (time_t)c->tcp_idle : DEF_IDLE;
	tp->idle.tv_sec = idle;
	tp->idle.tv_usec = 0;
	if (RAND_bytes(tp->hkey, sizeof(tp->hkey)) != 1) {
		snprintf(err, errlen, "no random bytes for the connection "
		    "table");
		ERR_clear_error();
		goto fail;
	}
	if ((tp->ubuf = malloc(UDP_BUF)) == NULL ||
	    ctab_init(&tp->tab[T_ID], TAB_MIN) != 0 ||
	    ctab_init(&tp->tab[T_PEER], TAB_MIN) != 0 ||
	    (tp->reaper = event_new(base, -1, 0, reap_cb, tp)) == NULL)
		goto nomem;
	if (c->nlisten > GW_MAX_LISTEN) {
		snprintf(err, errlen, "more than %d listeners", GW_MAX_LISTEN);
		goto fail;
	}
	for (i = 0; i < c->nlisten; i++)
		if (c->listen[i].proto == GW_TLS)
			need_srv = 1;
	if (tls_setup(tp, c, need_srv, err, errlen) != 0)
		goto fail;
	for (i = 0; i < c->nlisten; i++) {
		tp->nlsn = i + 1;
		if (lsn_open(tp, c, i, sockbuf, err, errlen) != 0)
			goto fail;
		if (tp->lsn[i].proto != GW_UDP)
			continue;
		if (tp->lsn[i].family == AF_INET && tp->udp4 < 0)
			tp->udp4 = (int)i;
		if (tp->lsn[i].family == AF_INET6 && tp->udp6 < 0)
			tp->udp6 = (int)i;
	}
	return tp;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	gw_tp_free(tp);
	return NULL;
}

void
gw_tp_free(struct gw_tp *tp)
{
	struct conn *c;
	size_t i;

	if (tp == NULL)
		return;
	tp->fail_cb = NULL;	/* nothing to tell while closing */
	for (i = 0; i < tp->nlsn; i++) {
		struct lsn *l = &tp->lsn[i];

		if (l->ev != NULL)
			event_free(l->ev);
		if (l->fd >= 0)
			evutil_closesocket(l->fd);
		if (l->el != NULL)
			evconnlistener_free(l->el);
		if (l->retry != NULL)
			event_free(l->retry);
	}
	/* every open connection is in the id table */
	if (tp->tab[T_ID].b != NULL)
		for (i = 0; i < tp->tab[T_ID].nb; i++)
			while ((c = tp->tab[T_ID].b[i]) != NULL)
				conn_close(c);
	reap_cb(-1, 0, tp);
	if (tp->reaper != NULL)
		event_free(tp->reaper);
	free(tp->tab[T_ID].b);
	free(tp->tab[T_PEER].b);
	SSL_CTX_free(tp->srv_ctx);
	SSL_CTX_free(tp->cli_ctx);
	free(tp->ubuf);
	free(tp);
}

int
gw_tp_send(struct gw_tp *tp, const struct gw_peer *dst, uint64_t conn,
    const char *buf, size_t len)
{
	struct conn *c = NULL;
	struct evbuffer *out;

	if (len == 0 || len > OUT_CAP || (int)dst->proto < 0 ||
	    dst->proto >= GW_NPROTO)
		goto fail;
	if (dst->proto == GW_UDP) {
		if (udp_send(tp, dst, buf, len) != 0)
			goto fail;
		tp->m->tx_msgs[GW_UDP]++;
		return 0;
	}
	if (conn != 0 && (c = conn_by_id(tp, conn)) != NULL &&
	    c->proto != dst->proto)
		c = NULL;
	if (c == NULL)
		c = conn_by_peer(tp, dst);
	if (c == NULL && (c = conn_connect(tp, dst)) == NULL)
		goto fail;
	out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) > OUT_CAP - len)
		goto fail;	/* the peer does not read: back-pressure */
	if (bufferevent_write(c->bev, buf, len) != 0)
		goto fail;
	if (c->connecting)
		c->pending++;
	else
		tp->m->tx_msgs[c->proto]++;
	return 0;
fail:
	tp->m->tx_fail++;
	return -1;
}

int
gw_tp_local(const struct gw_tp *tp, enum gw_proto p, int family,
    const char **host, int *port)
{
	size_t i;

	for (i = 0; i < tp->nlsn; i++)
		if (tp->lsn[i].proto == p && tp->lsn[i].family == family) {
			*host = tp->lsn[i].host;
			*port = tp->lsn[i].port;
			return 0;
		}
	return -1;
}

void
gw_tp_set_fail_cb(struct gw_tp *tp, gw_fail_cb cb, void *arg)
{
	tp->fail_cb = cb;
	tp->fail_arg = arg;
}
