/*
 * tests/unit/gateway/t_transport.c - gateway/gw_transport.c: UDP (v4, v6),
 *	TCP and TLS between two transports on one event_base, framing,
 *	connection reuse, limits and failures (TAP)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * Everything runs on loopback with ports chosen by the kernel.  Every
 * wait runs the loop in 1 ms slices (event_base_loopexit) up to a
 * deadline, so a broken transport fails the test instead of hanging it.
 * The TLS certificates are throwaway self-signed P-256 ones made here
 * and written to a temporary directory that is removed at the end.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "gateway/gw.h"
#include "gateway/gw_conf.h"
#include "gateway/gw_sip.h"
#include "gateway/gw_transport.h"
#include "tests/tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define MAXMSG		8192	/* max_message of the transports */
#define WAIT_MS		5000	/* a deadline no healthy run comes near */
#define BURST		1000
#define NCONN		1000

/* listener indexes of every test transport (conf_new) */
enum { L_UDP4 = 0, L_TCP4, L_TLS4, L_UDP6, L_TCP6, L_N };

static struct event_base *base;
static char tmpdir[64], cert_pem[128], key_pem[128], other_pem[128],
    other_key[128];

/* A received message, copied. */
struct got {
	char		*head;
	size_t		 head_len;
	uint8_t		*body;
	size_t		 body_len;
	int		 short_body;
	struct gw_peer	 src;
	uint64_t	 conn;
	int		 listener;
};

/* One transport under test with what it received. */
struct side {
	struct gw_conf	*conf;
	struct gw_tp	*tp;
	struct gw_metrics m;
	struct got	*v;
	size_t		 n, cap;
};

static struct side A, B;

/* ---------------------------------------------------------------------- */
/* Helpers */

/* now_ms - the monotonic clock in milliseconds */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* turn - run the loop for about a millisecond */
static void
turn(void)
{
	struct timeval tick = { 0, 1000 };

	event_base_loopexit(base, &tick);
	event_base_dispatch(base);
}

/* WAIT - run the loop until cond holds or ms have passed */
#define WAIT(cond, ms) do {						\
	int64_t until_ = now_ms() + (ms);				\
	while (!(cond) && now_ms() < until_)				\
		turn();							\
} while (0)

/* run_ms - run the loop for ms (to see that nothing happens) */
static void
run_ms(int ms)
{
	int64_t until = now_ms() + ms;

	while (now_ms() < until)
		turn();
}

/* rx_cb - copy what arrived */
static void
rx_cb(void *arg, const struct gw_rx *rx)
{
	struct side *s = arg;
	struct got *g;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct got *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL)
			abort();
		s->v = v;
		s->cap = cap;
	}
	g = &s->v[s->n++];
	memset(g, 0, sizeof(*g));
	g->head = malloc(rx->head_len + 1);
	g->body = malloc(rx->body_len + 1);
	if (g->head == NULL || g->body == NULL)
		abort();
	memcpy(g->head, rx->head, rx->head_len);
	g->head[rx->head_len] = '\0';
	g->head_len = rx->head_len;
	if (rx->body_len > 0)
		memcpy(g->body, rx->body, rx->body_len);
	g->body_len = rx->body_len;
	g->short_body = rx->short_body;
	g->src = rx->src;
	g->conn = rx->conn;
	g->listener = rx->listener;
}

/* clear - forget what s received */
static void
clear(struct side *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->v[i].head);
		free(s->v[i].body);
	}
	s->n = 0;
}

/* fill - the body of message seq: binary, with NULs */
static void
fill(uint8_t *b, size_t len, unsigned seq)
{
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = i % 13 == 0 ? 0 : (uint8_t)(seq * 31 + i * 7);
}

/*
 * mkmsg - a MESSAGE with body (len bytes); clen < 0: Content-Length is
 *	len, else that value.  Returns the total length, *head_len the
 *	header block's.
 */
static size_t
mkmsg(char *out, size_t cap, const char *tag, unsigned seq,
    const uint8_t *body, size_t len, long clen, size_t *head_len)
{
	int n;

	n = snprintf(out, cap, "MESSAGE sip:bob@corp.example SIP/2.0\r\n"
	    "Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK-%s-%u\r\n"
	    "From: <sip:alice@corp.example>;tag=%u\r\n"
	    "To: <sip:bob@corp.example>\r\n"
	    "Call-ID: %s-%u@192.0.2.1\r\n"
	    "CSeq: %u MESSAGE\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Length: %ld\r\n\r\n", tag, seq, seq, tag, seq, seq + 1,
	    clen < 0 ? (long)len : clen);
	if (n < 0 || (size_t)n + len > cap)
		abort();
	if (head_len != NULL)
		*head_len = (size_t)n;
	if (len > 0)
		memcpy(out + n, body, len);
	return (size_t)n + len;
}

/* msg_ok - 1 if g is exactly message seq with a body of blen bytes */
static int
msg_ok(const struct got *g, const char *tag, unsigned seq, size_t blen)
{
	static char want[MAXMSG];
	static uint8_t body[MAXMSG];
	size_t hl;

	fill(body, blen, seq);
	mkmsg(want, sizeof(want), tag, seq, body, blen, -1, &hl);
	return g->head_len == hl && memcmp(g->head, want, hl) == 0 &&
	    g->body_len == blen && memcmp(g->body, body, blen) == 0;
}

/* send_seq - gw_tp_send message seq (tag, blen body bytes) */
static int
send_seq(struct side *s, const struct gw_peer *dst, uint64_t conn,
    const char *tag, unsigned seq, size_t blen)
{
	static char buf[MAXMSG + 1024];
	static uint8_t body[MAXMSG + 1024];
	size_t len;

	fill(body, blen, seq);
	len = mkmsg(buf, sizeof(buf), tag, seq, body, blen, -1, NULL);
	return gw_tp_send(s->tp, dst, conn, buf, len);
}

/* local - the peer of s's first listener of proto and family */
static struct gw_peer
local(struct side *s, enum gw_proto p, int family)
{
	struct gw_peer peer;
	const char *host = NULL;
	int port = 0;

	memset(&peer, 0, sizeof(peer));
	if (gw_tp_local(s->tp, p, family, &host, &port) != 0 ||
	    gw_peer_make(p, host, port, &peer) != 0)
		peer.proto = p;		/* family 0: every send fails */
	return peer;
}

/* sa_port - the port of a socket address */
static int
sa_port(const struct gw_peer *p)
{
	if (p->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&p->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&p->ss)->sin_port);
}

/* closed_port - a TCP port of 127.0.0.1 where nothing listens */
static int
closed_port(void)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd, port = 0;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* raw_connect - a plain blocking TCP client socket to dst (connect and
 *	writes time out after 5 s, so that nothing can hang); -1 */
static int
raw_connect(const struct gw_peer *dst)
{
	struct timeval tv = { 5, 0 };
	int fd;

	if ((fd = socket(dst->ss.ss_family, SOCK_STREAM, 0)) < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (const struct sockaddr *)&dst->ss, dst->len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* raw_peer - the peer as the transport sees a raw client socket */
static struct gw_peer
raw_peer(int fd, enum gw_proto p)
{
	struct gw_peer peer;

	memset(&peer, 0, sizeof(peer));
	peer.proto = p;
	peer.len = sizeof(peer.ss);
	getsockname(fd, (struct sockaddr *)&peer.ss, &peer.len);
	return peer;
}

/* raw_write - write all of buf */
static int
raw_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* raw_closed - 1 once the other end has closed fd (data is discarded) */
static int
raw_closed(int fd)
{
	char b[512];
	ssize_t n;

	for (;;) {
		n = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (n == 0)
			return 1;
		if (n < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR;
	}
}

/* ---------------------------------------------------------------------- */
/* Certificates and configuration */

/* write_cert - a self-signed P-256 certificate and key as PEM files */
static int
write_cert(const char *cert_path, const char *key_path, const char *cn)
{
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	FILE *f = NULL;
	int rc = -1;

	if ((pk = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL)
		goto out;
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, pk);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (X509_sign(x, pk, EVP_sha256()) == 0)
		goto out;
	if ((f = fopen(cert_path, "w")) == NULL ||
	    PEM_write_X509(f, x) != 1 || fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	if ((f = fopen(key_path, "w")) == NULL ||
	    PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = NULL;
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}

/* setup_certs - the temporary directory and two certificates */
static int
setup_certs(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/t_transport.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cert_pem, sizeof(cert_pem), "%s/cert.pem", tmpdir);
	snprintf(key_pem, sizeof(key_pem), "%s/key.pem", tmpdir);
	snprintf(other_pem, sizeof(other_pem), "%s/other.pem", tmpdir);
	snprintf(other_key, sizeof(other_key), "%s/other-key.pem", tmpdir);
	if (write_cert(cert_pem, key_pem, "gw.corp.example") != 0 ||
	    write_cert(other_pem, other_key, "someone.else.example") != 0)
		return -1;
	return 0;
}

static void
cleanup_certs(void)
{
	unlink(cert_pem);
	unlink(key_pem);
	unlink(other_pem);
	unlink(other_key);
	rmdir(tmpdir);
}

/* add_listen - one more listener in c */
static void
add_listen(struct gw_conf *c, enum gw_proto p, const char *host, int port)
{
	struct gw_listen *l = &c->listen[c->nlisten++];

	l->proto = p;
	snprintf(l->host, sizeof(l->host), "%s", host);
	l->port = port;
}

/* conf_new - a configuration by hand; full: the L_* listeners on port 0 */
static struct gw_conf *
conf_new(int full, const char *ca)
{
	struct gw_conf *c = calloc(1, sizeof(*c));

	if (c == NULL)
		abort();
	c->max_message = MAXMSG;
	c->tcp_idle = 300;
	c->tls_cert = strdup(cert_pem);
	c->tls_key = strdup(key_pem);
	c->tls_ca = ca != NULL ? strdup(ca) : NULL;
	if (full) {
		add_listen(c, GW_UDP, "127.0.0.1", 0);
		add_listen(c, GW_TCP, "127.0.0.1", 0);
		add_listen(c, GW_TLS, "127.0.0.1", 0);
		add_listen(c, GW_UDP, "::1", 0);
		add_listen(c, GW_TCP, "::1", 0);
	}
	return c;
}

static void
conf_free(struct gw_conf *c)
{
	if (c == NULL)
		return;
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_ca);
	free(c);
}

/* side_new - a transport for s on c; 0 or -1 with err */
static int
side_new(struct side *s, struct gw_conf *c, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->conf = c;
	s->tp = gw_tp_new(base, c, 0, &s->m, rx_cb, s, err, errlen);
	return s->tp != NULL ? 0 : -1;
}

static void
side_free(struct side *s)
{
	gw_tp_free(s->tp);
	s->tp = NULL;
	clear(s);
	free(s->v);
	s->v = NULL;
	s->cap = 0;
	conf_free(s->conf);
	s->conf = NULL;
}

/* ---------------------------------------------------------------------- */
/* Tests */

static void
test_new(void)
{
	static const struct {
		enum gw_proto p;
		int family;
		const char *host;
	} t[] = {
		{ GW_UDP, AF_INET, "127.0.0.1" },
		{ GW_TCP, AF_INET, "127.0.0.1" },
		{ GW_TLS, AF_INET, "127.0.0.1" },
		{ GW_UDP, AF_INET6, "::1" },
		{ GW_TCP, AF_INET6, "::1" },
	};
	char err[256] = "";
	const char *host, *hb;
	int port, pb;
	size_t i;

	ok(side_new(&A, conf_new(1, cert_pem), err, sizeof(err)) == 0,
	    "transport A: %s", err);
	ok(side_new(&B, conf_new(1, cert_pem), err, sizeof(err)) == 0,
	    "transport B: %s", err);
	if (A.tp == NULL || B.tp == NULL)
		exit(done_testing());
	for (i = 0; i < NELEM(t); i++) {
		int ra, rb;

		host = hb = NULL;
		port = pb = 0;
		ra = gw_tp_local(A.tp, t[i].p, t[i].family, &host, &port);
		rb = gw_tp_local(B.tp, t[i].p, t[i].family, &hb, &pb);
		ok(ra == 0 && rb == 0 && strcmp(host, t[i].host) == 0 &&
		    strcmp(hb, t[i].host) == 0 && port > 0 && pb > 0 &&
		    port != pb, "gw_tp_local %d/%d: %s %d and %s %d (port 0 "
		    "gives the bound port)", (int)t[i].p, t[i].family,
		    host ? host : "-", port, hb ? hb : "-", pb);
	}
	is_int(gw_tp_local(A.tp, GW_TLS, AF_INET6, &host, &port), -1,
	    "no TLS listener on IPv6");
}

static void
test_errors(void)
{
	struct side s;
	struct gw_conf *c;
	char err[256], want[256];
	const char *host;
	int port;

	gw_tp_local(A.tp, GW_TCP, AF_INET, &host, &port);
	c = conf_new(0, NULL);
	add_listen(c, GW_UDP, "127.0.0.1", 0);
	add_listen(c, GW_TCP, "127.0.0.1", port);
	err[0] = '\0';
	ok(side_new(&s, c, err, sizeof(err)) == -1, "TCP port in use refused");
	snprintf(want, sizeof(want), "listen tcp 127.0.0.1:%d: %s", port,
	    strerror(EADDRINUSE));
	ok(strcmp(err, want) == 0, "got \"%s\", want \"%s\"", err, want);
	side_free(&s);

	gw_tp_local(A.tp, GW_UDP, AF_INET6, &host, &port);
	c = conf_new(0, NULL);
	add_listen(c, GW_UDP, "::1", port);
	ok(side_new(&s, c, err, sizeof(err)) == -1, "UDP port in use refused");
	snprintf(want, sizeof(want), "listen udp [::1]:%d: %s", port,
	    strerror(EADDRINUSE));
	ok(strcmp(err, want) == 0, "got \"%s\", want \"%s\"", err, want);
	side_free(&s);

	c = conf_new(0, NULL);
	add_listen(c, GW_TCP, "localhost", 5060);
	ok(side_new(&s, c, err, sizeof(err)) == -1 && strcmp(err,
	    "listen tcp localhost:5060: not a numeric address") == 0,
	    "a host name is refused: %s", err);
	side_free(&s);

	c = conf_new(0, NULL);
	free(c->tls_cert);
	c->tls_cert = NULL;
	add_listen(c, GW_TLS, "127.0.0.1", 0);
	ok(side_new(&s, c, err, sizeof(err)) == -1 &&
	    strstr(err, "tls_cert") != NULL, "TLS without a certificate: %s",
	    err);
	side_free(&s);

	c = conf_new(0, NULL);
	free(c->tls_cert);
	c->tls_cert = strdup("/nonexistent/cert.pem");
	add_listen(c, GW_TLS, "127.0.0.1", 0);
	ok(side_new(&s, c, err, sizeof(err)) == -1 &&
	    strncmp(err, "tls_cert /nonexistent/cert.pem: ", 32) == 0,
	    "TLS with a missing certificate: %s", err);
	side_free(&s);

	c = conf_new(0, NULL);
	free(c->tls_key);
	c->tls_key = strdup(other_key);
	add_listen(c, GW_TLS, "127.0.0.1", 0);
	ok(side_new(&s, c, err, sizeof(err)) == -1 &&
	    strncmp(err, "tls_key ", 8) == 0,
	    "TLS with a key of another certificate: %s", err);
	side_free(&s);

	c = conf_new(0, NULL);
	add_listen(c, GW_UDP, "127.0.0.1", 0);
	memset(&s, 0, sizeof(s));
	s.conf = c;
	err[0] = '\0';
	s.tp = gw_tp_new(base, c, 1 << 20, &s.m, rx_cb, &s, err, sizeof(err));
	ok(s.tp != NULL, "UDP with SO_RCVBUF and SO_SNDBUF: %s", err);
	side_free(&s);

	c = conf_new(0, "/nonexistent/ca.pem");
	ok(side_new(&s, c, err, sizeof(err)) == -1 &&
	    strncmp(err, "tls_ca /nonexistent/ca.pem: ", 28) == 0,
	    "a missing tls_ca: %s", err);
	side_free(&s);
}

/* test_udp - A to B and back over UDP of family; binary body */
static void
test_udp(int family, int lidx)
{
	struct gw_peer bdst = local(&B, GW_UDP, family);
	struct gw_peer asrc = local(&A, GW_UDP, family);
	struct gw_metrics ma = A.m, mb = B.m;
	const char *fam = family == AF_INET ? "v4" : "v6";
	struct got *g;

	clear(&A);
	clear(&B);
	is_int(send_seq(&A, &bdst, 0, "udp", 1, 700), 0, "UDP%s send", fam);
	WAIT(B.n >= 1, WAIT_MS);
	is_int(B.n, 1, "UDP%s: one message arrived", fam);
	if (B.n < 1)
		return;
	g = &B.v[0];
	ok(msg_ok(g, "udp", 1, 700), "UDP%s: head and binary body byte-exact",
	    fam);
	ok(gw_peer_eq(&g->src, &asrc), "UDP%s: source is A's listening "
	    "address (port %d, want %d)", fam, sa_port(&g->src),
	    sa_port(&asrc));
	ok(g->conn == 0 && g->listener == lidx && g->short_body == 0,
	    "UDP%s: conn 0, listener %d, not short", fam, g->listener);
	ok(A.m.tx_msgs[GW_UDP] == ma.tx_msgs[GW_UDP] + 1 &&
	    B.m.rx_msgs[GW_UDP] == mb.rx_msgs[GW_UDP] + 1,
	    "UDP%s: tx_msgs and rx_msgs counted", fam);

	/* the answer goes to the source address */
	is_int(send_seq(&B, &g->src, 0, "udp-back", 2, 0), 0,
	    "UDP%s reply send", fam);
	WAIT(A.n >= 1, WAIT_MS);
	ok(A.n == 1 && msg_ok(&A.v[0], "udp-back", 2, 0) &&
	    gw_peer_eq(&A.v[0].src, &bdst), "UDP%s: the reply arrives from "
	    "B's listening port", fam);
}

/* test_udp_edges - short, bad, keep-alive, over-size, trailing datagrams */
static void
test_udp_edges(void)
{
	struct gw_peer bdst = local(&B, GW_UDP, AF_INET);
	struct gw_metrics mb;
	static char buf[MAXMSG + 2048];
	static uint8_t body[MAXMSG + 2048];
	size_t len, hl;

	clear(&B);
	mb = B.m;
	fill(body, 10, 3);
	len = mkmsg(buf, sizeof(buf), "short", 3, body, 10, 100, &hl);
	is_int(gw_tp_send(A.tp, &bdst, 0, buf, len), 0, "short datagram sent");
	WAIT(B.n >= 1, WAIT_MS);
	ok(B.n == 1 && B.v[0].short_body == 1 && B.v[0].head_len == hl &&
	    memcmp(B.v[0].head, buf, hl) == 0 && B.v[0].body_len == 10,
	    "a datagram shorter than its Content-Length arrives with "
	    "short_body (the core answers 400)");
	is_int(B.m.rx_bad, mb.rx_bad, "... and is not counted bad here");

	clear(&B);
	gw_tp_send(A.tp, &bdst, 0, "hello", 5);
	gw_tp_send(A.tp, &bdst, 0, "\r\n\r\n", 4);
	fill(body, MAXMSG, 4);
	len = mkmsg(buf, sizeof(buf), "big", 4, body, MAXMSG, -1, NULL);
	is_int(gw_tp_send(A.tp, &bdst, 0, buf, len), 0,
	    "over-size datagram sent");
	/* trailing octets beyond Content-Length are discarded */
	fill(body, 20, 5);
	len = mkmsg(buf, sizeof(buf), "trail", 5, body, 20, 12, NULL);
	gw_tp_send(A.tp, &bdst, 0, buf, len);
	WAIT(B.n >= 1, WAIT_MS);
	run_ms(20);
	ok(B.n == 1 && strstr(B.v[0].head, "trail-5") != NULL &&
	    B.v[0].body_len == 12 && memcmp(B.v[0].body, body, 12) == 0,
	    "garbage, keep-alive and over-size dropped; trailing octets cut "
	    "(got %zu messages)", B.n);
	is_int(B.m.rx_bad, mb.rx_bad + 2, "garbage and over-size counted in "
	    "rx_bad, the keep-alive not");
}

/*
 * test_stream - A to B over TCP or TLS (family): delivery, the answer on
 *	the request's connection, reuse in both directions
 */
static void
test_stream(enum gw_proto p, int family, int lidx)
{
	struct gw_peer bdst = local(&B, p, family);
	struct gw_metrics ma = A.m, mb = B.m;
	const char *pn = p == GW_TLS ? "TLS" : "TCP";
	struct gw_peer asrc;
	uint64_t bconn, aconn;

	clear(&A);
	clear(&B);
	is_int(send_seq(&A, &bdst, 0, "req", 10, 1500), 0, "%s%d send", pn,
	    family == AF_INET ? 4 : 6);
	WAIT(B.n >= 1 && A.m.conns_total > ma.conns_total, WAIT_MS);
	if (!ok(B.n == 1, "%s: the message arrived", pn))
		return;
	ok(msg_ok(&B.v[0], "req", 10, 1500), "%s: head and binary body "
	    "byte-exact", pn);
	bconn = B.v[0].conn;
	asrc = B.v[0].src;
	ok(bconn != 0 && B.v[0].listener == lidx &&
	    asrc.proto == p && asrc.ss.ss_family == family,
	    "%s: conn %llu, listener %d, source %s", pn,
	    (unsigned long long)bconn, B.v[0].listener,
	    asrc.proto == p ? "right proto" : "wrong proto");
	ok(A.m.conns_total == ma.conns_total + 1 &&
	    A.m.conns_open == ma.conns_open + 1 &&
	    B.m.conns_total == mb.conns_total + 1 &&
	    B.m.conns_open == mb.conns_open + 1,
	    "%s: one connection on each side", pn);
	ok(A.m.tx_msgs[p] == ma.tx_msgs[p] + 1 &&
	    B.m.rx_msgs[p] == mb.rx_msgs[p] + 1, "%s: counted", pn);

	/* the response on the request's connection */
	is_int(send_seq(&B, &asrc, bconn, "resp", 11, 33), 0,
	    "%s: response sent with conn", pn);
	WAIT(A.n >= 1, WAIT_MS);
	if (!ok(A.n == 1 && msg_ok(&A.v[0], "resp", 11, 33), "%s: the "
	    "response arrived", pn))
		return;
	aconn = A.v[0].conn;
	ok(aconn != 0 && A.v[0].listener == -1 &&
	    gw_peer_eq(&A.v[0].src, &bdst), "%s: on A's outgoing connection "
	    "%llu from B's listener", pn, (unsigned long long)aconn);

	/* reuse: A to the same address, B to A's source without conn,
	 * B with a stale conn id */
	is_int(send_seq(&A, &bdst, 0, "req", 12, 0), 0, "%s: second "
	    "request", pn);
	is_int(send_seq(&B, &asrc, 0, "resp", 13, 1), 0, "%s: send to the "
	    "client's address", pn);
	is_int(send_seq(&B, &asrc, 987654321, "resp", 14, 2), 0, "%s: send "
	    "with an unknown conn", pn);
	is_int(send_seq(&A, &bdst, aconn, "req", 15, MAXMSG - 512), 0,
	    "%s: send with A's conn", pn);
	WAIT(B.n >= 3 && A.n >= 3, WAIT_MS);
	ok(B.n == 3 && B.v[1].conn == bconn && B.v[2].conn == bconn &&
	    msg_ok(&B.v[1], "req", 12, 0) &&
	    msg_ok(&B.v[2], "req", 15, MAXMSG - 512),
	    "%s: A's later requests on the same connection", pn);
	ok(A.n == 3 && A.v[1].conn == aconn && A.v[2].conn == aconn &&
	    msg_ok(&A.v[1], "resp", 13, 1) && msg_ok(&A.v[2], "resp", 14, 2),
	    "%s: B's sends reuse the accepted connection", pn);
	ok(A.m.conns_total == ma.conns_total + 1 &&
	    B.m.conns_total == mb.conns_total + 1, "%s: conns_total "
	    "unchanged by reuse", pn);
}

/* test_burst - n messages in one go, in order, byte-exact */
static void
test_burst(enum gw_proto p, unsigned n)
{
	struct gw_peer bdst = local(&B, p, AF_INET);
	struct gw_metrics ma = A.m;
	const char *pn = p == GW_TLS ? "TLS" : "TCP";
	unsigned i, sent = 0, good = 0;
	uint64_t conn = 0;
	int same = 1;

	clear(&B);
	for (i = 0; i < n; i++)
		if (send_seq(&A, &bdst, 0, "burst", i, (i * 37) % 2000) == 0)
			sent++;
	is_int(sent, n, "%s burst: %u messages queued", pn, n);
	WAIT(B.n >= n, WAIT_MS);
	is_int(B.n, n, "%s burst: all arrived", pn);
	for (i = 0; i < B.n && i < n; i++) {
		if (msg_ok(&B.v[i], "burst", i, (i * 37) % 2000))
			good++;
		if (i == 0)
			conn = B.v[i].conn;
		else if (B.v[i].conn != conn)
			same = 0;
	}
	is_int(good, n, "%s burst: in order and byte-exact", pn);
	ok(same && A.m.conns_total == ma.conns_total, "%s burst: on the one "
	    "connection", pn);
	is_int(A.m.tx_msgs[p], ma.tx_msgs[p] + n, "%s burst: tx_msgs", pn);
}

/* test_split - a message trickling in, keep-alives, two in one write */
static void
test_split(void)
{
	struct gw_peer bdst = local(&B, GW_TCP, AF_INET), me;
	static char buf[2 * MAXMSG];
	uint8_t body[300];
	char pong[8];
	size_t len, l2, i, step = 0;
	uint64_t open0 = B.m.conns_open;
	ssize_t n;
	int fd;

	clear(&B);
	if (!ok((fd = raw_connect(&bdst)) >= 0, "raw client connected"))
		return;
	me = raw_peer(fd, GW_TCP);
	fill(body, sizeof(body), 20);
	len = mkmsg(buf, sizeof(buf), "split", 20, body, sizeof(body), -1,
	    NULL);
	raw_write(fd, "\r\n\r\n", 4);
	for (i = 0; i < len; i += step) {
		step = 1 + i % 7;
		if (step > len - i)
			step = len - i;
		raw_write(fd, buf + i, step);
		turn();
		if (i + step < len && B.n > 0)
			break;
	}
	ok(i + step >= len, "nothing delivered before the last byte");
	WAIT(B.n >= 1, WAIT_MS);
	ok(B.n == 1 && msg_ok(&B.v[0], "split", 20, sizeof(body)) &&
	    gw_peer_eq(&B.v[0].src, &me), "a message written in 1..7 byte "
	    "pieces arrives whole, from the client's address");
	n = recv(fd, pong, sizeof(pong), MSG_DONTWAIT);
	ok(n == 2 && memcmp(pong, "\r\n", 2) == 0, "CRLFCRLF ping answered "
	    "with a CRLF pong (RFC 5626)");

	/* two messages and keep-alives in one write */
	clear(&B);
	fill(body, 5, 21);
	len = mkmsg(buf, sizeof(buf), "two", 21, body, 5, -1, NULL);
	memcpy(buf + len, "\r\n", 2);
	fill(body, 77, 22);
	l2 = mkmsg(buf + len + 2, sizeof(buf) - len - 2, "two", 22, body, 77,
	    -1, NULL);
	raw_write(fd, buf, len + 2 + l2);
	WAIT(B.n >= 2, WAIT_MS);
	ok(B.n == 2 && msg_ok(&B.v[0], "two", 21, 5) &&
	    msg_ok(&B.v[1], "two", 22, 77) && B.v[0].conn == B.v[1].conn,
	    "two messages in one read both arrive");
	close(fd);
	WAIT(B.m.conns_open == open0, WAIT_MS);
	is_int(B.m.conns_open, open0, "closed on EOF");
}

/* test_bad - a bad frame or an over-size message closes the connection */
static void
test_bad(void)
{
	static const struct {
		const char *what;
		const char *data;
	} t[] = {
		{ "no Content-Length",
		  "MESSAGE sip:b@x SIP/2.0\r\nVia: x\r\n\r\nhello" },
		{ "bad Content-Length",
		  "MESSAGE sip:b@x SIP/2.0\r\nContent-Length: 1x\r\n\r\n" },
		{ "Content-Length over max_message",
		  "MESSAGE sip:b@x SIP/2.0\r\nl: 100000\r\n\r\n" },
	};
	struct gw_peer bdst = local(&B, GW_TCP, AF_INET);
	static char big[MAXMSG + 100];
	struct gw_metrics mb;
	uint64_t open0 = B.m.conns_open;
	size_t i;
	int fd;

	for (i = 0; i < NELEM(t); i++) {
		clear(&B);
		mb = B.m;
		if ((fd = raw_connect(&bdst)) < 0)
			continue;
		raw_write(fd, t[i].data, strlen(t[i].data));
		WAIT(raw_closed(fd), WAIT_MS);
		ok(raw_closed(fd) && B.n == 0 && B.m.rx_bad == mb.rx_bad + 1,
		    "%s: connection closed, rx_bad counted", t[i].what);
		close(fd);
	}

	/* headers that never end: closed at the header cap */
	clear(&B);
	mb = B.m;
	if ((fd = raw_connect(&bdst)) >= 0) {
		memset(big, 'a', sizeof(big));
		memcpy(big, "MESSAGE sip:b@x SIP/2.0\r\nX: ", 29);
		raw_write(fd, big, sizeof(big));
		WAIT(raw_closed(fd), WAIT_MS);
		ok(raw_closed(fd) && B.n == 0 && B.m.rx_bad == mb.rx_bad + 1,
		    "endless header block: connection closed");
		close(fd);
	}
	WAIT(B.m.conns_open == open0, WAIT_MS);
	is_int(B.m.conns_open, open0, "closed connections are not open any "
	    "more");
}

/* test_too_big - A sends B more than max_message over TCP */
static void
test_too_big(void)
{
	struct gw_peer bdst = local(&B, GW_TCP, AF_INET6);
	struct gw_metrics ma, mb;
	uint64_t aconn;

	/* a connection A -> B (v6) first */
	clear(&A);
	clear(&B);
	send_seq(&A, &bdst, 0, "pre", 30, 10);
	WAIT(B.n >= 1, WAIT_MS);
	if (!ok(B.n == 1, "TCP6 connection up"))
		return;
	send_seq(&B, &B.v[0].src, B.v[0].conn, "pre", 31, 10);
	WAIT(A.n >= 1, WAIT_MS);
	if (!ok(A.n == 1, "TCP6 response"))
		return;
	aconn = A.v[0].conn;
	ma = A.m;
	mb = B.m;
	clear(&B);
	is_int(send_seq(&A, &bdst, 0, "huge", 32, MAXMSG), 0,
	    "over-size message queued by A");
	WAIT(A.m.conns_open < ma.conns_open && B.m.conns_open <
	    mb.conns_open, WAIT_MS);
	ok(B.n == 0 && B.m.rx_bad == mb.rx_bad + 1, "B refuses a message "
	    "over max_message (rx_bad)");
	ok(A.m.conns_open == ma.conns_open - 1 &&
	    B.m.conns_open == mb.conns_open - 1, "... and closes the "
	    "connection; A sees it close");

	/* A's stale conn id: a new connection */
	is_int(send_seq(&A, &bdst, aconn, "after", 33, 1), 0,
	    "send with the closed connection's id");
	WAIT(B.n >= 1, WAIT_MS);
	ok(B.n == 1 && msg_ok(&B.v[0], "after", 33, 1) &&
	    A.m.conns_total == ma.conns_total + 1, "goes on a new connection");
}

/* test_fail - connect failures, TLS verification, no listener, caps */
static void
test_fail(void)
{
	struct gw_peer dst, bdst = local(&B, GW_TLS, AF_INET);
	struct side c;
	struct gw_metrics ma = A.m, mb;
	static char mib[1024 * 1024];
	char err[256] = "";
	int port = closed_port(), i, rc[5], lfd;
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);

	gw_peer_make(GW_TCP, "127.0.0.1", port, &dst);
	is_int(send_seq(&A, &dst, 0, "nobody", 40, 10), 0, "TCP send to a "
	    "closed port is queued");
	WAIT(A.m.tx_fail > ma.tx_fail, WAIT_MS);
	ok(A.m.tx_fail == ma.tx_fail + 1 && A.m.conns_open == ma.conns_open &&
	    A.m.conns_total == ma.conns_total && A.m.tx_msgs[GW_TCP] ==
	    ma.tx_msgs[GW_TCP], "connection refused: tx_fail counted, no "
	    "connection counted");
	gw_peer_make(GW_TLS, "127.0.0.1", port, &dst);
	ma = A.m;
	send_seq(&A, &dst, 0, "nobody", 41, 10);
	send_seq(&A, &dst, 0, "nobody", 42, 10);
	WAIT(A.m.tx_fail >= ma.tx_fail + 2, WAIT_MS);
	is_int(A.m.tx_fail, ma.tx_fail + 2, "TLS: both queued messages "
	    "count as failed");

	/* a TLS client that trusts another CA */
	if (side_new(&c, conf_new(0, other_pem), err, sizeof(err)) == 0) {
		clear(&B);
		mb = B.m;
		is_int(send_seq(&c, &bdst, 0, "untrusted", 43, 10), 0,
		    "TLS to an untrusted server queued");
		WAIT(c.m.tx_fail > 0, WAIT_MS);
		run_ms(20);
		ok(c.m.tx_fail == 1 && c.m.conns_total == 0 && B.n == 0,
		    "untrusted server certificate: tx_fail, nothing "
		    "delivered");
		WAIT(B.m.conns_open == mb.conns_open, WAIT_MS);
		is_int(B.m.conns_open, mb.conns_open, "the server side is "
		    "closed too");

		dst = local(&B, GW_UDP, AF_INET);
		is_int(send_seq(&c, &dst, 0, "no-udp", 44, 1), -1,
		    "UDP without a UDP listener of that family: -1");
		is_int(c.m.tx_fail, 2, "... counted");
		side_free(&c);
	} else
		ok(0, "transport C: %s", err);

	/* without tls_ca nothing is verified */
	if (side_new(&c, conf_new(0, NULL), err, sizeof(err)) == 0) {
		clear(&B);
		send_seq(&c, &bdst, 0, "noverify", 45, 100);
		WAIT(B.n >= 1, WAIT_MS);
		ok(B.n == 1 && msg_ok(&B.v[0], "noverify", 45, 100) &&
		    c.m.conns_total == 1 && c.m.tx_msgs[GW_TLS] == 1,
		    "without tls_ca the peer is not verified");
		side_free(&c);
	} else
		ok(0, "transport D: %s", err);

	/* the output cap: a listener that never accepts nor reads */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, 1) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &sl) != 0) {
		ok(0, "sink listener");
		if (lfd >= 0)
			close(lfd);
		return;
	}
	gw_peer_make(GW_TCP, "127.0.0.1", ntohs(sin.sin_port), &dst);
	memset(mib, 'x', sizeof(mib));
	ma = A.m;
	for (i = 0; i < 5; i++)
		rc[i] = gw_tp_send(A.tp, &dst, 0, mib, sizeof(mib));
	ok(rc[0] == 0 && rc[1] == 0 && rc[2] == 0 && rc[3] == 0 && rc[4] == -1,
	    "4 MiB output cap: the fifth MiB is refused (%d %d %d %d %d)",
	    rc[0], rc[1], rc[2], rc[3], rc[4]);
	is_int(A.m.tx_fail, ma.tx_fail + 1, "... counted in tx_fail");
	WAIT(A.m.conns_total > ma.conns_total, WAIT_MS);
	ok(A.m.conns_total == ma.conns_total + 1 &&
	    A.m.tx_msgs[GW_TCP] == ma.tx_msgs[GW_TCP] + 4,
	    "the four queued ones count once connected");
	/* the kernel takes some; then the cap holds again */
	for (i = 0; i < 64; i++) {
		if ((rc[0] = gw_tp_send(A.tp, &dst, 0, mib, sizeof(mib))) != 0)
			break;
		run_ms(5);
	}
	is_int(rc[0], -1, "refused again while the peer does not read");
	close(lfd);	/* resets the connection */
	WAIT(A.m.conns_open == ma.conns_open, WAIT_MS);
	is_int(A.m.conns_open, ma.conns_open, "closed when the peer goes");
}

/* test_idle - an idle connection is closed after tcp_idle */
static void
test_idle(void)
{
	struct side s;
	struct gw_conf *c = conf_new(0, NULL);
	struct gw_peer dst;
	char err[256] = "";
	int fd;

	c->tcp_idle = 1;
	add_listen(c, GW_TCP, "127.0.0.1", 0);
	if (!ok(side_new(&s, c, err, sizeof(err)) == 0, "idle transport: %s",
	    err)) {
		side_free(&s);
		return;
	}
	dst = local(&s, GW_TCP, AF_INET);
	if ((fd = raw_connect(&dst)) >= 0) {
		WAIT(s.m.conns_open == 1, WAIT_MS);
		is_int(s.m.conns_open, 1, "accepted");
		WAIT(raw_closed(fd), 3000);
		ok(raw_closed(fd) && s.m.conns_open == 0, "closed after "
		    "tcp_idle (1 s) without traffic");
		close(fd);
	}
	side_free(&s);
}

/* test_many - NCONN clients: distinct ids, answers on the right one */
static void
test_many(void)
{
	struct gw_peer bdst = local(&B, GW_TCP, AF_INET);
	static int fd[NCONN];
	static uint64_t ids[NCONN];
	static char buf[1024];
	struct gw_metrics mb = B.m;
	size_t i, j, k, n, len, good = 0, distinct = 1;
	char want[64], got[256];
	ssize_t r;

	clear(&B);
	for (i = 0; i < NCONN; i++)
		fd[i] = -1;
	for (i = 0; i < NCONN; i += 100) {
		for (j = i; j < i + 100 && j < NCONN; j++) {
			fd[j] = raw_connect(&bdst);
			if (fd[j] < 0)
				continue;
			len = mkmsg(buf, sizeof(buf), "many", (unsigned)j,
			    NULL, 0, -1, NULL);
			raw_write(fd[j], buf, len);
		}
		WAIT(B.n >= j, WAIT_MS);
	}
	is_int(B.n, NCONN, "%d clients: every message arrived", NCONN);
	is_int(B.m.conns_open, mb.conns_open + NCONN, "conns_open");
	n = B.n;
	for (i = 0; i < n; i++) {
		unsigned seq = 0;
		const char *p = strstr(B.v[i].head, "CSeq: ");

		if (p == NULL || sscanf(p + 6, "%u", &seq) != 1 ||
		    seq == 0 || seq > NCONN)
			continue;
		ids[seq - 1] = B.v[i].conn;
		snprintf(want, sizeof(want), "SIP/2.0 200 OK\r\nX-Seq: %u\r\n"
		    "Content-Length: 0\r\n\r\n", seq - 1);
		gw_tp_send(B.tp, &B.v[i].src, B.v[i].conn, want, strlen(want));
	}
	/* distinct ids: sort a copy */
	for (i = 1; i < NCONN; i++) {
		uint64_t v = ids[i];

		for (k = i; k > 0 && ids[k - 1] > v; k--)
			ids[k] = ids[k - 1];
		ids[k] = v;
	}
	for (i = 1; i < NCONN; i++)
		if (ids[i] == ids[i - 1] || ids[i] == 0)
			distinct = 0;
	ok(distinct && ids[0] != 0, "%d distinct non-zero connection ids",
	    NCONN);
	run_ms(50);
	for (i = 0; i < NCONN; i++) {
		size_t have = 0;
		int64_t until = now_ms() + WAIT_MS;

		if (fd[i] < 0)
			continue;
		snprintf(want, sizeof(want), "SIP/2.0 200 OK\r\nX-Seq: %zu\r\n"
		    "Content-Length: 0\r\n\r\n", i);
		while (have < strlen(want) && now_ms() < until) {
			r = recv(fd[i], got + have, sizeof(got) - 1 - have,
			    MSG_DONTWAIT);
			if (r > 0)
				have += (size_t)r;
			else if (r == 0)
				break;
			else
				turn();
		}
		if (have == strlen(want) && memcmp(got, want, have) == 0)
			good++;
	}
	is_int(good, NCONN, "each answer went back on its own connection");
	for (i = 0; i < NCONN; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	WAIT(B.m.conns_open == mb.conns_open, WAIT_MS);
	is_int(B.m.conns_open, mb.conns_open, "all closed on EOF");
}

int
main(void)
{
	struct gw_metrics ma, mb;

	signal(SIGPIPE, SIG_IGN);
	if (setup_certs() != 0) {
		ok(0, "throwaway certificates in %s", tmpdir);
		cleanup_certs();
		return done_testing();
	}
	if ((base = event_base_new()) == NULL)
		abort();
	test_new();
	test_errors();
	test_udp(AF_INET, L_UDP4);
	test_udp(AF_INET6, L_UDP6);
	test_udp_edges();
	test_stream(GW_TCP, AF_INET, L_TCP4);
	test_stream(GW_TCP, AF_INET6, L_TCP6);
	test_stream(GW_TLS, AF_INET, L_TLS4);
	test_burst(GW_TCP, BURST);
	test_burst(GW_TLS, BURST / 4);
	test_split();
	test_bad();
	test_too_big();
	test_fail();
	test_idle();
	test_many();

	ma = A.m;
	mb = B.m;
	side_free(&A);
	side_free(&B);
	ok(A.m.conns_open == 0 && B.m.conns_open == 0 && ma.conns_open > 0,
	    "gw_tp_free closes every connection (%llu and %llu were open)",
	    (unsigned long long)ma.conns_open,
	    (unsigned long long)mb.conns_open);
	event_base_free(base);
	cleanup_certs();
	return done_testing();
}
