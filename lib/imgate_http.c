/*
 * lib/imgate_http.c - the built-in KMS transport: one blocking HTTP/1.1
 * POST over TCP or TLS
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	kms/FORMATS.md section 1: POST <path> with Content-Type
 *	application/mikey, the answer is application/mikey.  One connection
 *	per exchange ("Connection: close"; keep-alive is not needed at one
 *	request per ticket), getaddrinfo, a non-blocking connect per address
 *	with poll, then send and receive with poll against one deadline of
 *	opts.timeout seconds for the whole exchange.  The answer is framed
 *	by Content-Length (or the end of the connection), its header bounded
 *	by IMGATE_HTTP_MAX_HEAD and its body by IMGATE_HTTP_MAX_BODY;
 *	chunked answers are refused (imgate-kms never sends them).
 *
 *	https: OpenSSL with the system's CA store or opts.ca_file, TLS 1.2 or
 *	later, the certificate's name checked against the URL's host
 *	(SSL_set1_host, or the IP address for a literal), SNI for names.
 *
 *	SIGPIPE: a write on a connection the KMS closed must not kill the
 *	caller.  Plain sockets use MSG_NOSIGNAL; OpenSSL writes with
 *	write(2), so around a TLS exchange SIGPIPE is blocked in this thread
 *	and a SIGPIPE raised meanwhile is consumed (curl's sigpipe ignore).
 *
 *	Blocking is the point: the library is synchronous.  A caller with
 *	an event loop runs it on a worker thread or sets its own transport.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lib/imgate-int.h"

/* A connection: a socket and, for https, its TLS session. */
struct conn {
	int		 fd;
	SSL		*ssl;
	int64_t		 deadline;	/* CLOCK_MONOTONIC, ms */
	struct imgate_ctx *ctx;
};

/* mono_ms - CLOCK_MONOTONIC in milliseconds */
static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
imgate_url_parse(const char *url, int *tls, char *host, size_t hcap,
    char *port, char *path, size_t pcap)
{
	const char *p, *h, *he, *pe;
	size_t n;
	long v;
	char *end;

	if (strncasecmp(url, "http://", 7) == 0) {
		*tls = 0;
		p = url + 7;
	} else if (strncasecmp(url, "https://", 8) == 0) {
		*tls = 1;
		p = url + 8;
	} else
		return -1;
	if (*p == '[') {		/* [IPv6] */
		h = p + 1;
		if ((he = strchr(h, ']')) == NULL)
			return -1;
		p = he + 1;
	} else {
		h = p;
		for (he = p; *he != '\0' && *he != ':' && *he != '/'; he++)
			if (!isalnum((unsigned char)*he) && *he != '.' &&
			    *he != '-' && *he != '_')
				return -1;
		p = he;
	}
	n = (size_t)(he - h);
	if (n == 0 || n >= hcap)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	if (*p == ':') {
		p++;
		for (pe = p; isdigit((unsigned char)*pe); pe++)
			;
		if (pe == p || pe - p > 5)
			return -1;
		v = strtol(p, &end, 10);
		if (v < 1 || v > 65535)
			return -1;
		snprintf(port, 6, "%ld", v);
		p = pe;
	} else
		snprintf(port, 6, "%s", *tls ? "443" : "80");
	if (*p == '\0')
		p = IMGATE_DEFAULT_PATH;
	if (*p != '/' || strlen(p) >= pcap)
		return -1;
	for (pe = p; *pe != '\0'; pe++)
		if ((unsigned char)*pe <= 0x20 || (unsigned char)*pe >= 0x7f)
			return -1;
	snprintf(path, pcap, "%s", p);
	return 0;
}

void
imgate_http_cleanup(struct imgate_ctx *ctx)
{
	SSL_CTX_free(ctx->ssl);
	ctx->ssl = NULL;
}

/* wait_fd - poll fd for events until the deadline; -1 on timeout */
static int
wait_fd(struct conn *c, short events)
{
	struct pollfd pfd;
	int64_t left;
	int n;

	for (;;) {
		left = c->deadline - mono_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = c->fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* tcp_connect - the first address of host:port that accepts, or -1 */
static int
tcp_connect(struct conn *c, const char *host, const char *port)
{
	struct addrinfo hints, *res = NULL, *ai;
	socklen_t sl;
	int fd = -1, rc, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		imgate_set_detail(c->ctx, "kms: cannot resolve %s: %s", host,
		    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		c->fd = fd;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS && wait_fd(c, POLLOUT) == 0) {
			sl = sizeof(err);
			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
			    &sl) == 0 && err == 0)
				break;
		} else
			err = errno;
		close(fd);
		c->fd = fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		imgate_set_detail(c->ctx, "kms: connect to %s port %s: %s",
		    host, port, strerror(err != 0 ? err : ETIMEDOUT));
	return fd < 0 ? -1 : 0;
}

/* ssl_ctx - the context's SSL_CTX, made on first use */
static SSL_CTX *
ssl_ctx(struct imgate_ctx *ctx)
{
	SSL_CTX *s;

	if (ctx->ssl != NULL)
		return ctx->ssl;
	if ((s = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION);
	SSL_CTX_set_verify(s, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_options(s, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if ((ctx->ca_file != NULL ? SSL_CTX_load_verify_locations(s,
	    ctx->ca_file, NULL) : SSL_CTX_set_default_verify_paths(s)) != 1) {
		SSL_CTX_free(s);
		return NULL;
	}
	ctx->ssl = s;
	return s;
}

/* tls_wait - after an SSL_* call returned rc: wait and retry (0), or -1 */
static int
tls_wait(struct conn *c, int rc)
{
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(c, POLLIN);
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(c, POLLOUT);
	default:
		return -1;
	}
}

/* tls_start - the TLS handshake with host checks */
static int
tls_start(struct conn *c, const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;
	SSL_CTX *sc;
	int rc, is_ip;
	long vr;

	if ((sc = ssl_ctx(c->ctx)) == NULL) {
		imgate_set_detail(c->ctx, "kms: cannot set up TLS (CA file "
		    "%s)", c->ctx->ca_file != NULL ? c->ctx->ca_file :
		    "default");
		return -1;
	}
	if ((c->ssl = SSL_new(sc)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return -1;
	is_ip = inet_pton(AF_INET, host, &a4) == 1 ||
	    inet_pton(AF_INET6, host, &a6) == 1;
	if (is_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
		    host) != 1)
			return -1;
	} else if (SSL_set1_host(c->ssl, host) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, host) != 1)
		return -1;
	while ((rc = SSL_connect(c->ssl)) != 1)
		if (tls_wait(c, rc) != 0) {
			vr = SSL_get_verify_result(c->ssl);
			imgate_set_detail(c->ctx, "kms: TLS handshake with %s "
			    "failed%s%s", host, vr != X509_V_OK ? ": " : "",
			    vr != X509_V_OK ?
			    X509_verify_cert_error_string(vr) : "");
			return -1;
		}
	return 0;
}

/* conn_write - all of p; -1 on error or timeout */
static int
conn_write(struct conn *c, const uint8_t *p, size_t n)
{
	ssize_t w;
	int rc;

	while (n > 0) {
		if (c->ssl != NULL) {
			rc = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX :
			    (int)n);
			if (rc <= 0) {
				if (tls_wait(c, rc) != 0)
					return -1;
				continue;
			}
			w = rc;
		} else {
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if ((errno != EAGAIN && errno != EWOULDBLOCK) ||
				    wait_fd(c, POLLOUT) != 0)
					return -1;
				continue;
			}
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* conn_read - up to n bytes; the count, 0 at the end, -1 on error */
static ssize_t
conn_read(struct conn *c, uint8_t *p, size_t n)
{
	ssize_t r;
	int rc;

	for (;;) {
		if (c->ssl != NULL) {
			rc = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX :
			    (int)n);
			if (rc > 0)
				return rc;
			if (SSL_get_error(c->ssl, rc) == SSL_ERROR_ZERO_RETURN)
				return 0;
			if (tls_wait(c, rc) != 0)
				return -1;
			continue;
		}
		r = recv(c->fd, p, n, 0);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if ((errno != EAGAIN && errno != EWOULDBLOCK) ||
		    wait_fd(c, POLLIN) != 0)
			return -1;
	}
}

/* find_crlf2 - the first CRLF CRLF in p[0..n), or NULL */
static char *
find_crlf2(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 4 <= n; i++)
		if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' &&
		    p[i + 3] == '\n')
			return (char *)p + i;
	return NULL;
}

/* header_value - the value of header name in the block h (NUL-ended), or
 *	NULL; copied (trimmed) into out */
static const char *
header_value(const char *h, const char *name, char *out, size_t cap)
{
	const char *l, *e, *v;
	size_t nl = strlen(name), n;

	for (l = strstr(h, "\r\n"); l != NULL; l = strstr(e, "\r\n")) {
		l += 2;
		if ((e = strstr(l, "\r\n")) == NULL)
			return NULL;
		if ((size_t)(e - l) > nl && strncasecmp(l, name, nl) == 0 &&
		    l[nl] == ':') {
			for (v = l + nl + 1; *v == ' ' || *v == '\t'; v++)
				;
			n = (size_t)(e - v);
			while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (n >= cap)
				n = cap - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return out;
		}
	}
	return NULL;
}

/*
 * exchange - send the request, read and check the answer.  0 and the
 *	body when it is a MIKEY answer (2xx, or 4xx application/mikey).
 */
static int
exchange(struct conn *c, const char *host, const char *port,
    const char *path, int tls, const uint8_t *req, size_t req_len,
    uint8_t **resp, size_t *resp_len)
{
	char head[512], *hend, ctype[96], clen[32], te[32], *endp, hostport[300];
	uint8_t *buf = NULL, *body;
	size_t cap = IMGATE_HTTP_MAX_HEAD + IMGATE_HTTP_MAX_BODY + 1, have = 0,
	    hlen, blen, want = 0;
	unsigned long long cl;
	ssize_t r;
	int n, status, has_cl = 0, rc = -1, is_mikey;
	int dport = strcmp(port, tls ? "443" : "80") == 0;

	/* Host: header: IPv6 literals in brackets, the port unless default */
	if (strchr(host, ':') != NULL)
		snprintf(hostport, sizeof(hostport), "[%s]%s%s", host,
		    dport ? "" : ":", dport ? "" : port);
	else
		snprintf(hostport, sizeof(hostport), "%s%s%s", host,
		    dport ? "" : ":", dport ? "" : port);
	n = snprintf(head, sizeof(head), "POST %s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "User-Agent: libimgate\r\n"
	    "Content-Type: application/mikey\r\n"
	    "Accept: application/mikey\r\n"
	    "Content-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", path, hostport, req_len);
	if (n < 0 || (size_t)n >= sizeof(head)) {
		imgate_set_detail(c->ctx, "kms: URL too long");
		return -1;
	}
	if (conn_write(c, (const uint8_t *)head, (size_t)n) != 0 ||
	    conn_write(c, req, req_len) != 0) {
		imgate_set_detail(c->ctx, "kms: sending to %s: %s", host,
		    errno == ETIMEDOUT ? "timeout" : "connection lost");
		return -1;
	}
	if ((buf = malloc(cap + 1)) == NULL) {
		imgate_set_detail(c->ctx, "kms: out of memory");
		return -1;
	}
	/* the header block */
	for (;;) {
		if ((hend = find_crlf2(buf, have)) != NULL)
			break;
		if (have >= IMGATE_HTTP_MAX_HEAD) {
			imgate_set_detail(c->ctx, "kms: answer header over %d "
			    "bytes", IMGATE_HTTP_MAX_HEAD);
			goto out;
		}
		r = conn_read(c, buf + have, IMGATE_HTTP_MAX_HEAD - have);
		if (r <= 0) {
			imgate_set_detail(c->ctx, "kms: %s from %s",
			    r == 0 ? "connection closed without an answer" :
			    errno == ETIMEDOUT ? "timeout waiting for an answer" :
			    "error reading the answer", host);
			goto out;
		}
		have += (size_t)r;
	}
	hlen = (size_t)(hend - (char *)buf) + 4;
	/* the body may hold NULs (binary MIKEY), the header may not */
	if (memchr(buf, '\0', hlen) != NULL) {
		imgate_set_detail(c->ctx, "kms: not an HTTP answer");
		goto out;
	}
	hend[2] = '\0';			/* header_value needs CRLF ends */
	if (sscanf((char *)buf, "HTTP/1.%*1[01] %3d", &status) != 1 ||
	    status < 100 || status > 599) {
		imgate_set_detail(c->ctx, "kms: not an HTTP/1.x answer");
		goto out;
	}
	if (header_value((char *)buf, "Transfer-Encoding", te,
	    sizeof(te)) != NULL) {
		imgate_set_detail(c->ctx, "kms: Transfer-Encoding %s not "
		    "supported", te);
		goto out;
	}
	if (header_value((char *)buf, "Content-Length", clen,
	    sizeof(clen)) != NULL) {
		errno = 0;
		cl = strtoull(clen, &endp, 10);
		if (!isdigit((unsigned char)clen[0]) || *endp != '\0' ||
		    errno != 0 || cl > IMGATE_HTTP_MAX_BODY) {
			imgate_set_detail(c->ctx, "kms: answer of %s bytes "
			    "(limit %d)", clen, IMGATE_HTTP_MAX_BODY);
			goto out;
		}
		want = (size_t)cl;
		has_cl = 1;
	}
	if (header_value((char *)buf, "Content-Type", ctype,
	    sizeof(ctype)) == NULL)
		ctype[0] = '\0';
	is_mikey = strncasecmp(ctype, "application/mikey", 17) == 0 &&
	    (ctype[17] == '\0' || ctype[17] == ';' || ctype[17] == ' ');

	/* the body: what came with the header, then the rest */
	body = buf + hlen;
	blen = have - hlen;
	while (has_cl ? blen < want : 1) {
		if (blen >= IMGATE_HTTP_MAX_BODY) {
			imgate_set_detail(c->ctx, "kms: answer over %d bytes",
			    IMGATE_HTTP_MAX_BODY);
			goto out;
		}
		r = conn_read(c, body + blen, IMGATE_HTTP_MAX_BODY - blen);
		if (r < 0) {
			imgate_set_detail(c->ctx, "kms: %s reading the "
			    "answer from %s", errno == ETIMEDOUT ? "timeout" :
			    "error", host);
			goto out;
		}
		if (r == 0) {
			if (has_cl) {
				imgate_set_detail(c->ctx, "kms: answer cut "
				    "short (%zu of %zu bytes)", blen, want);
				goto out;
			}
			break;
		}
		blen += (size_t)r;
	}
	if (has_cl && blen > want)
		blen = want;		/* Connection: close; ignore extra */
	if (!is_mikey || status >= 500 || (status >= 300 && status < 400) ||
	    status < 200) {
		imgate_set_detail(c->ctx, "kms: HTTP %d%s%s", status,
		    ctype[0] != '\0' ? " " : "", ctype);
		goto out;
	}
	if ((*resp = malloc(blen > 0 ? blen : 1)) == NULL) {
		imgate_set_detail(c->ctx, "kms: out of memory");
		goto out;
	}
	memcpy(*resp, body, blen);
	*resp_len = blen;
	rc = 0;
out:
	free(buf);
	return rc;
}

int
imgate_http_post(void *arg, const char *url, const uint8_t *req,
    size_t req_len, uint8_t **resp, size_t *resp_len)
{
	struct imgate_ctx *ctx = arg;
	struct conn c;
	char host[256], port[8], path[IMGATE_MAX_URL];
	sigset_t pipe_set, old_set, pending;
	struct timespec zero = { 0, 0 };
	int tls, rc = -1, was_pending = 0, masked = 0;

	if (imgate_url_parse(url, &tls, host, sizeof(host), port, path,
	    sizeof(path)) != 0) {
		imgate_set_detail(ctx, "kms: bad URL");
		return -1;
	}
	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.ctx = ctx;
	c.deadline = mono_ms() + (int64_t)ctx->o.timeout * 1000;
	if (tls) {
		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		sigpending(&pending);
		was_pending = sigismember(&pending, SIGPIPE);
		masked = pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set) == 0;
	}
	if (tcp_connect(&c, host, port) != 0)
		goto out;
	if (tls && tls_start(&c, host) != 0) {
		if (ctx->detail[0] == '\0')
			imgate_set_detail(ctx, "kms: TLS with %s failed",
			    host);
		goto out;
	}
	rc = exchange(&c, host, port, path, tls, req, req_len, resp,
	    resp_len);
out:
	if (c.ssl != NULL) {
		if (rc == 0)
			(void)SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	if (c.fd >= 0)
		close(c.fd);
	if (masked) {
		sigpending(&pending);
		if (!was_pending && sigismember(&pending, SIGPIPE))
			(void)sigtimedwait(&pipe_set, NULL, &zero);
		pthread_sigmask(SIG_SETMASK, &old_set, NULL);
	}
	ERR_clear_error();
	return rc;
}
