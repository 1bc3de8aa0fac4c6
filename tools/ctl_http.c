/*
 * tools/ctl_http.c - imgatectl: one blocking HTTP(S) POST with libevent
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	The ticket commands ask imgate-kms one thing each (kms/FORMATS.md
 *	section 1), so the client is as plain as it can be: a private
 *	event_base, one evhttp connection (no retries), one POST, and
 *	event_base_dispatch() until the request's done callback or the
 *	deadline timer breaks the loop.  Blocking is right here: nothing
 *	else runs in this process.  The host name is resolved once with
 *	getaddrinfo() first, only to say "cannot resolve" clearly; evhttp
 *	resolves it again (no evdns base: its blocking resolver is fine).
 *
 *	libevent reports a failed exchange as a done callback with req NULL
 *	or response code 0 (sample/https-client.c); the error callback,
 *	when it runs, says which failure (timeout, EOF, too long).  A
 *	connection that cannot be made (refused, unreachable) is the one
 *	failure that reaches the done callback without the error callback:
 *	evhttp 2.1 takes its retry path (evhttp_connection_cb_cleanup),
 *	whose shutdown() has overwritten errno by then.
 *
 *	Every size is bounded before it is used: headers (16 KiB) and body
 *	(CTL_HTTP_MAX_BODY) by evhttp itself, which stops reading beyond
 *	them.  timeout bounds connecting and each read and write (evhttp),
 *	and the whole exchange (the deadline timer): a server that drips
 *	one byte at a time cannot hold us longer.
 *
 * SECURITY
 *	https:// verifies the server's chain against --ca-file (or the
 *	system's CAs) and its name against the URL's host: a DNS name with
 *	SSL_set1_host() (also sent as SNI), an IP address with
 *	X509_VERIFY_PARAM_set1_ip_asc().  TLS 1.2 is the minimum.  Nothing
 *	here sees key material: the bodies are MIKEY messages whose keys are
 *	encrypted and MACed under the PSK.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tools/ctl.h"

#define HTTP_MAX_HEADERS	(16 * 1024)

/* One exchange. */
struct post {
	const char		*cmd;
	const char		*url;
	struct event_base	*base;
	struct ctl_http_resp	*r;
	SSL			*ssl;		/* https: owned by the bev */
	struct bufferevent	*bev;		/* https: owned by the conn */
	int			 done;		/* the done callback ran */
	int			 got;		/* and brought a response */
	int			 too_big;	/* the body was too large */
	int			 timed_out;	/* the deadline fired first */
	int			 no_connect;	/* could not connect */
	int			 has_error;	/* the error callback ran */
	enum evhttp_request_error error;
	int			 sock_err;	/* errno at the failure */
	unsigned long		 ssl_err;	/* OpenSSL's first error */
	long			 verify;	/* certificate verify result */
};

void
ctl_http_resp_cleanup(struct ctl_http_resp *r)
{
	if (r == NULL)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* copy_header - header name of req into out, "" when absent */
static void
copy_header(struct evhttp_request *req, const char *name, char *out,
    size_t cap)
{
	const char *v;

	v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
	snprintf(out, cap, "%s", v != NULL ? v : "");
}

/* ssl_state - what TLS left behind when a request failed */
static void
ssl_state(struct post *st)
{
	unsigned long e;

	if (st->bev == NULL)
		return;
	while ((e = bufferevent_get_openssl_error(st->bev)) != 0)
		if (st->ssl_err == 0)
			st->ssl_err = e;
	if (st->ssl != NULL)
		st->verify = SSL_get_verify_result(st->ssl);
}

/* error_cb - evhttp says why the request failed (before done_cb) */
static void
error_cb(enum evhttp_request_error error, void *arg)
{
	struct post *st = arg;

	st->has_error = 1;
	st->error = error;
	if (st->sock_err == 0)
		st->sock_err = EVUTIL_SOCKET_ERROR();
	ssl_state(st);
}

/* done_cb - the request finished: keep the response, stop the loop */
static void
done_cb(struct evhttp_request *req, void *arg)
{
	struct post *st = arg;
	struct evbuffer *in;
	size_t len;

	st->done = 1;
	if (req == NULL || evhttp_request_get_response_code(req) == 0) {
		if (req != NULL && !st->has_error)
			st->no_connect = 1;
		if (st->sock_err == 0)
			st->sock_err = EVUTIL_SOCKET_ERROR();
		ssl_state(st);
		event_base_loopbreak(st->base);
		return;
	}
	st->r->status = evhttp_request_get_response_code(req);
	snprintf(st->r->reason, sizeof(st->r->reason), "%s",
	    evhttp_request_get_response_code_line(req) != NULL ?
	    evhttp_request_get_response_code_line(req) : "");
	copy_header(req, "Content-Type", st->r->content_type,
	    sizeof(st->r->content_type));
	copy_header(req, "X-Imgate-Outcome", st->r->outcome,
	    sizeof(st->r->outcome));
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	if (len > CTL_HTTP_MAX_BODY) {
		st->too_big = 1;
	} else if ((st->r->body = malloc(len + 1)) != NULL) {
		if (len > 0 && evbuffer_remove(in, st->r->body, len) !=
		    (int)len) {
			free(st->r->body);
			st->r->body = NULL;
		} else {
			st->r->body[len] = '\0';
			st->r->body_len = len;
			st->got = 1;
		}
	}
	event_base_loopbreak(st->base);
}

/* deadline_cb - the whole exchange took longer than the timeout */
static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct post *st = arg;

	(void)fd;
	(void)what;
	st->timed_out = 1;
	event_base_loopbreak(st->base);
}

/* ssl_errstr - text for an OpenSSL error code (never NULL) */
static const char *
ssl_errstr(unsigned long e, char *buf, size_t len)
{
	const char *r;

	if (e == 0)
		return "no details";
	if ((r = ERR_reason_error_string(e)) != NULL)
		return r;
	ERR_error_string_n(e, buf, len);
	return buf;
}

/* is_ip - 1 if host is an IPv4 or IPv6 address literal */
static int
is_ip(const char *host)
{
	struct addrinfo hints, *res = NULL;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return 0;
	freeaddrinfo(res);
	return 1;
}

/* tls_setup - an SSL client for host, verifying against ca_file */
static int
tls_setup(struct post *st, const char *host, const char *ca_file,
    SSL_CTX **ctx_out, SSL **ssl_out)
{
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	FILE *fp;
	char eb[256];
	int ok;

	if (ca_file != NULL) {
		/* OpenSSL's own words for a missing file are poor */
		if ((fp = fopen(ca_file, "r")) == NULL) {
			ctl_errx("%s: cannot open the CA file %s: %s; give a "
			    "PEM file with --ca-file", st->cmd, ca_file,
			    strerror(errno));
			return -1;
		}
		fclose(fp);
	}
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
		ctl_errx("%s: cannot set up TLS: %s", st->cmd,
		    ssl_errstr(ERR_get_error(), eb, sizeof(eb)));
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file != NULL)
		ok = SSL_CTX_load_verify_locations(ctx, ca_file, NULL);
	else
		ok = SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		ctl_errx("%s: cannot load the CA certificates%s%s: %s; give a "
		    "PEM file with --ca-file", st->cmd, ca_file ? " from " : "",
		    ca_file ? ca_file : "",
		    ssl_errstr(ERR_get_error(), eb, sizeof(eb)));
		goto fail;
	}
	if ((ssl = SSL_new(ctx)) == NULL)
		goto nomem;
	if (is_ip(host)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    host) != 1)
			goto nomem;
	} else if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
	    SSL_set1_host(ssl, host) != 1)
		goto nomem;
	*ctx_out = ctx;
	*ssl_out = ssl;
	return 0;
nomem:
	ctl_errx("%s: cannot set up TLS for %s", st->cmd, host);
fail:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return -1;
}

/* report - say why no response came back */
static void
report(const struct post *st, int timeout)
{
	const char *cmd = st->cmd, *url = st->url;
	char eb[256];

	if (st->timed_out || (st->has_error &&
	    st->error == EVREQ_HTTP_TIMEOUT)) {
		ctl_errx("%s: %s: no answer within %d s (timeout); check that "
		    "imgate-kms runs and is reachable, or raise --timeout",
		    cmd, url, timeout);
		return;
	}
	if (st->too_big || (st->has_error &&
	    st->error == EVREQ_HTTP_DATA_TOO_LONG)) {
		ctl_errx("%s: %s: the answer is larger than %d bytes, refused; "
		    "is this URL an imgate-kms?", cmd, url, CTL_HTTP_MAX_BODY);
		return;
	}
	/* before TLS: a refused TCP connection leaves OpenSSL errors too */
	if (st->no_connect || st->sock_err == ECONNREFUSED) {
		ctl_errx("%s: %s: cannot connect (connection refused); check "
		    "that imgate-kms runs and listens on this address and "
		    "port", cmd, url);
		return;
	}
	if (st->verify != X509_V_OK) {
		ctl_errx("%s: %s: the server's certificate does not verify: "
		    "%s; give the CA that signed it with --ca-file, and use "
		    "the name the certificate is for", cmd, url,
		    X509_verify_cert_error_string(st->verify));
		return;
	}
	if (st->ssl_err != 0) {
		ctl_errx("%s: %s: TLS failed: %s; is this an https listener "
		    "(tls_listen) of imgate-kms?", cmd, url,
		    ssl_errstr(st->ssl_err, eb, sizeof(eb)));
		return;
	}
	if (st->sock_err == ETIMEDOUT) {
		ctl_errx("%s: %s: connecting timed out; check the address and "
		    "any firewall", cmd, url);
		return;
	}
	if (st->sock_err == EHOSTUNREACH || st->sock_err == ENETUNREACH) {
		ctl_errx("%s: %s: %s; check the address", cmd, url,
		    strerror(st->sock_err));
		return;
	}
	if (st->has_error && st->error == EVREQ_HTTP_INVALID_HEADER) {
		ctl_errx("%s: %s: the answer is not valid HTTP; is this URL an "
		    "imgate-kms (http:// vs https://)?", cmd, url);
		return;
	}
	ctl_errx("%s: %s: the connection closed without an answer; check "
	    "the URL (http:// vs https://) and the imgate-kms log", cmd,
	    url);
}

int
ctl_http_post(const char *cmd, const char *url, const char *default_path,
    const char *ctype, const uint8_t *body, size_t len, int timeout,
    const char *ca_file, struct ctl_http_resp *r)
{
	struct evhttp_uri *uri = NULL;
	struct evhttp_connection *conn = NULL;
	struct evhttp_request *req;
	struct evkeyvalq *h;
	struct addrinfo hints, *ai = NULL;
	struct event *deadline = NULL;
	struct timeval tv;
	struct post st;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	const char *scheme, *rhost, *path, *query;
	char host[256], hosthdr[300], target[2048], portstr[16];
	size_t hl;
	int port, https, gai, n, rc = -1;

	memset(&st, 0, sizeof(st));
	memset(r, 0, sizeof(*r));
	st.cmd = cmd;
	st.url = url;
	st.r = r;
	st.verify = X509_V_OK;

	if ((uri = evhttp_uri_parse(url)) == NULL ||
	    (scheme = evhttp_uri_get_scheme(uri)) == NULL ||
	    (rhost = evhttp_uri_get_host(uri)) == NULL || rhost[0] == '\0') {
		ctl_errx("%s: '%s' is not a URL; give it as http://HOST:PORT"
		    "/PATH, e.g. http://127.0.0.1:8470/mikey", cmd, url);
		goto out;
	}
	if (strcasecmp(scheme, "http") == 0)
		https = 0;
	else if (strcasecmp(scheme, "https") == 0)
		https = 1;
	else {
		ctl_errx("%s: %s: scheme '%s' not supported; use http:// or "
		    "https://", cmd, url, scheme);
		goto out;
	}
	if (evhttp_uri_get_userinfo(uri) != NULL) {
		ctl_errx("%s: %s: user information in the URL is not "
		    "supported; remove the 'user@' part", cmd, url);
		goto out;
	}
	/* an IPv6 literal comes with its brackets: keep them for Host only */
	hl = strlen(rhost);
	if (rhost[0] == '[' && hl > 2 && rhost[hl - 1] == ']')
		n = snprintf(host, sizeof(host), "%.*s", (int)(hl - 2),
		    rhost + 1);
	else
		n = snprintf(host, sizeof(host), "%s", rhost);
	if (n < 0 || (size_t)n >= sizeof(host)) {
		ctl_errx("%s: %s: host name too long", cmd, url);
		goto out;
	}
	port = evhttp_uri_get_port(uri);
	if (port <= 0)
		port = https ? 443 : 80;
	path = evhttp_uri_get_path(uri);
	if (path == NULL || path[0] == '\0')
		path = default_path;
	query = evhttp_uri_get_query(uri);
	n = snprintf(target, sizeof(target), "%s%s%s", path,
	    query != NULL ? "?" : "", query != NULL ? query : "");
	if (n < 0 || (size_t)n >= sizeof(target)) {
		ctl_errx("%s: %s: URL too long", cmd, url);
		goto out;
	}
	if ((https && port == 443) || (!https && port == 80))
		snprintf(hosthdr, sizeof(hosthdr), "%s", rhost);
	else
		snprintf(hosthdr, sizeof(hosthdr), "%s:%d", rhost, port);

	/* resolve once here only to report a bad name clearly */
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	if ((gai = getaddrinfo(host, portstr, &hints, &ai)) != 0) {
		ctl_errx("%s: %s: cannot resolve '%s': %s; check the host name",
		    cmd, url, host, gai_strerror(gai));
		goto out;
	}
	freeaddrinfo(ai);

	if ((st.base = event_base_new()) == NULL) {
		ctl_errx("%s: cannot create an event base", cmd);
		goto out;
	}
	if (https) {
		if (tls_setup(&st, host, ca_file, &ctx, &ssl) != 0)
			goto out;
		st.bev = bufferevent_openssl_socket_new(st.base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (st.bev == NULL) {
			SSL_free(ssl);
			ctl_errx("%s: cannot set up TLS", cmd);
			goto out;
		}
		st.ssl = ssl;	/* the bufferevent owns it now */
		bufferevent_openssl_set_allow_dirty_shutdown(st.bev, 1);
		conn = evhttp_connection_base_bufferevent_new(st.base, NULL,
		    st.bev, host, (unsigned short)port);
		if (conn == NULL)
			bufferevent_free(st.bev);
	} else
		conn = evhttp_connection_base_new(st.base, NULL, host,
		    (unsigned short)port);
	if (conn == NULL) {
		ctl_errx("%s: cannot create an HTTP connection to %s", cmd,
		    url);
		goto out;
	}
	evhttp_connection_set_retries(conn, 0);
	evhttp_connection_set_timeout(conn, timeout);
	evhttp_connection_set_max_body_size(conn, CTL_HTTP_MAX_BODY);
	evhttp_connection_set_max_headers_size(conn, HTTP_MAX_HEADERS);

	if ((req = evhttp_request_new(done_cb, &st)) == NULL) {
		ctl_errx("%s: out of memory", cmd);
		goto out;
	}
	evhttp_request_set_error_cb(req, error_cb);
	h = evhttp_request_get_output_headers(req);
	if (evhttp_add_header(h, "Host", hosthdr) != 0 ||
	    evhttp_add_header(h, "Content-Type", ctype) != 0 ||
	    evhttp_add_header(h, "Accept", ctype) != 0 ||
	    evhttp_add_header(h, "User-Agent", "imgatectl/"
	    PACKAGE_VERSION) != 0 ||
	    evhttp_add_header(h, "Connection", "close") != 0 ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), body,
	    len) != 0) {
		evhttp_request_free(req);
		ctl_errx("%s: out of memory", cmd);
		goto out;
	}
	/* evhttp owns req from here, also when this fails */
	if (evhttp_make_request(conn, req, EVHTTP_REQ_POST, target) != 0) {
		ctl_errx("%s: %s: cannot send the request", cmd, url);
		goto out;
	}
	if ((deadline = evtimer_new(st.base, deadline_cb, &st)) == NULL) {
		ctl_errx("%s: out of memory", cmd);
		goto out;
	}
	tv.tv_sec = timeout;
	tv.tv_usec = 0;
	evtimer_add(deadline, &tv);
	event_base_dispatch(st.base);
	if (!st.got) {
		report(&st, timeout);
		ctl_http_resp_cleanup(r);
		goto out;
	}
	rc = 0;
out:
	if (deadline != NULL)
		event_free(deadline);
	/* frees a request still pending and the (TLS) bufferevent */
	if (conn != NULL)
		evhttp_connection_free(conn);
	if (st.base != NULL)
		event_base_free(st.base);
	SSL_CTX_free(ctx);
	if (uri != NULL)
		evhttp_uri_free(uri);
	return rc;
}
