/*
 * kms/kms_http.c - the HTTP(S) front of imgate-kms (evhttp)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	Two evhttp servers on the one event_base: one for the `listen`
 *	addresses and one for `tls_listen`, whose connections get a
 *	bufferevent_openssl from evhttp_set_bevcb (TLS 1.2 and later only).
 *	Limits (body, headers, timeout) are set before anything is bound, so
 *	no connection is ever served without them (style.md section 7).
 *
 *	One generic callback routes by path (FORMATS.md section 1).  Every
 *	way through it ends in exactly one call of reply(), which calls
 *	evhttp_send_reply once.  evhttp_send_error is not used: it adds
 *	"Connection: close" and would end keep-alive connections on a 404.
 *
 *	A MIKEY request is answered synchronously: mikey_kms_process with
 *	the body (already bounded by max_body), the answer in ctx->out (one
 *	buffer, reused), the counters, one log line, then the reply.  The
 *	latency measured ("ms", the histogram) is that of the KMS's own work,
 *	from the complete request to the reply handed to evhttp.  Nothing is
 *	allocated per request here beyond what evhttp itself allocates.
 *
 *	libevent 2.1 answers some requests without calling us: 413 for a
 *	body over max_body and 400 for a malformed request line or headers
 *	(2.2's evhttp_set_errorcb is not available).  To count the 413s for
 *	the metrics, an evbuffer callback on each connection's output looks
 *	at the status line of every response that starts an empty buffer.
 *	The 400s from libevent are not counted.
 *
 * SECURITY
 *	Everything that arrives here is untrusted: the body is handed to
 *	libmikey's decoder, which bounds every length; identities that reach
 *	the log go through log_vis.  The answer is either a MIKEY message
 *	(keys only inside the KEMAC, encrypted under the requester's PSK) or
 *	one line of text; nothing secret is logged.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "kms/kms.h"

#define METRICS_CAP	(64 * 1024)

struct bound {
	struct evhttp_bound_socket *sock;
	int		 tls;
};

struct kms_http {
	struct kms_ctx	*ctx;
	struct evhttp	*plain;
	struct evhttp	*tls;
	SSL_CTX		*ssl;
	struct bound	 bound[2 * KMS_MAX_LISTEN];
	size_t		 nbound;
	char		 mbuf[METRICS_CAP];	/* /metrics text */
};

/* ---------------------------------------------------------------------- */
/* Helpers */

/* now_mono - seconds on the monotonic clock */
static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* reason - the reason phrase of the statuses we send */
static const char *
reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	default:
		return "Internal Server Error";
	}
}

/* method_name - for the log */
static const char *
method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "?";
}

/* peer - "address:port" of the client, for the log */
static void
peer(struct evhttp_request *req, char *buf, size_t len)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *addr = NULL, vis[128];
	ev_uint16_t port = 0;

	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &addr, &port);
	if (addr == NULL)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%s:%u", log_vis(vis, sizeof(vis), addr,
		    strlen(addr)), port);
}

/*
 * reply - the one way out of the request callback: headers, body, and
 *	exactly one evhttp_send_reply.  extra_name/extra_value: one more
 *	header (Allow, Accept, X-Imgate-Outcome) or NULL.
 */
static void
reply(struct kms_http *h, struct evhttp_request *req, int code,
    const char *ctype, const char *extra_name, const char *extra_value,
    const void *body, size_t len)
{
	struct evkeyvalq *hd = evhttp_request_get_output_headers(req);

	if (ctype != NULL)
		evhttp_add_header(hd, "Content-Type", ctype);
	evhttp_add_header(hd, "Cache-Control", "no-store");
	if (extra_name != NULL)
		evhttp_add_header(hd, extra_name, extra_value);
	if (h->ctx->draining)
		evhttp_add_header(hd, "Connection", "close");
	if (len > 0)
		evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	evhttp_send_reply(req, code, reason(code), NULL);
}

/* reply_text - a text/plain answer that carries no MIKEY message */
static void
reply_text(struct kms_http *h, struct evhttp_request *req, int code,
    const char *extra_name, const char *extra_value, const char *text)
{
	if (code >= 400 && code != 413)	/* 413s: count_413() */
		kms_metrics_http_error(&h->ctx->metrics, code);
	reply(h, req, code, "text/plain; charset=utf-8", extra_name,
	    extra_value, text, strlen(text));
}

/* media_is - 1 if the Content-Type value names the media type want */
static int
media_is(const char *v, const char *want)
{
	size_t wl = strlen(want);

	if (v == NULL)
		return 0;
	while (*v == ' ' || *v == '\t')
		v++;
	if (strncasecmp(v, want, wl) != 0)
		return 0;
	v += wl;
	while (*v == ' ' || *v == '\t')
		v++;
	return *v == '\0' || *v == ';';
}

/* ---------------------------------------------------------------------- */
/* MIKEY */

/* err_name - the symbolic name of a MIKEY_ERR_* code, for the log */
static const char *
err_name(int err)
{
	static const char *const names[] = {
		"MIKEY_ERR_NOMEM", "MIKEY_ERR_TRUNCATED", "MIKEY_ERR_TRAILING",
		"MIKEY_ERR_VERSION", "MIKEY_ERR_DATA_TYPE",
		"MIKEY_ERR_PAYLOAD_TYPE", "MIKEY_ERR_VALUE",
		"MIKEY_ERR_LENGTH", "MIKEY_ERR_TOO_MANY",
		"MIKEY_ERR_STRUCTURE", "MIKEY_ERR_TOO_BIG", "MIKEY_ERR_INVAL",
		"MIKEY_ERR_CRYPTO", "MIKEY_ERR_AUTH", "MIKEY_ERR_TS",
		"MIKEY_ERR_REPLAY", "MIKEY_ERR_TOO_OLD", "MIKEY_ERR_PRF",
		"MIKEY_ERR_ALG", "MIKEY_ERR_POLICY", "MIKEY_ERR_TICKET_TYPE",
		"MIKEY_ERR_EXPIRED", "MIKEY_ERR_NOT_AUTHORISED",
		"MIKEY_ERR_UNKNOWN_ID", "MIKEY_ERR_KEY_VERSION",
		"MIKEY_ERR_PEER", "MIKEY_ERR_MISMATCH"
	};
	_Static_assert(sizeof(names) / sizeof(names[0]) ==
	    MIKEY_ERR_LAST - MIKEY_ERR_BASE, "a name for every MIKEY_ERR_*");

	if (err == 0)
		return "-";
	if (err >= MIKEY_ERR_BASE && err < MIKEY_ERR_LAST)
		return names[err - MIKEY_ERR_BASE];
	return "MIKEY_ERR_?";
}

/* outcome_of - the outcome (FORMATS.md section 1) of a processed request */
static int
outcome_of(const struct mikey_kms_result *res, const struct kms_call *call)
{
	switch (res->err) {
	case MIKEY_OK:
		return KMS_OC_OK;
	case MIKEY_ERR_AUTH:
		return call->unknown ? KMS_OC_UNKNOWN_ID : KMS_OC_AUTH;
	case MIKEY_ERR_UNKNOWN_ID:
		return KMS_OC_UNKNOWN_ID;
	case MIKEY_ERR_TS:
		return KMS_OC_TIMESTAMP;
	case MIKEY_ERR_REPLAY:
	case MIKEY_ERR_TOO_OLD:
		return KMS_OC_REPLAY;
	case MIKEY_ERR_NOT_AUTHORISED:
	case MIKEY_ERR_MISMATCH:	/* IDRkms names another KMS */
		return KMS_OC_NOT_AUTHORISED;
	case MIKEY_ERR_EXPIRED:
		return KMS_OC_EXPIRED;
	case MIKEY_ERR_KEY_VERSION:
		return KMS_OC_KEY_VERSION;
	case MIKEY_ERR_POLICY:
		return KMS_OC_POLICY;
	case MIKEY_ERR_PRF:
	case MIKEY_ERR_ALG:
	case MIKEY_ERR_TICKET_TYPE:
		return KMS_OC_UNSUPPORTED;
	case MIKEY_ERR_DATA_TYPE:
		return res->errno_ == MIKEY_EN_MSGTYPE ? KMS_OC_UNSUPPORTED :
		    KMS_OC_BAD_MESSAGE;
	case MIKEY_ERR_TRUNCATED:
	case MIKEY_ERR_TRAILING:
	case MIKEY_ERR_VERSION:
	case MIKEY_ERR_PAYLOAD_TYPE:
	case MIKEY_ERR_VALUE:
	case MIKEY_ERR_LENGTH:
	case MIKEY_ERR_TOO_MANY:
	case MIKEY_ERR_STRUCTURE:
	case MIKEY_ERR_TOO_BIG:
	case MIKEY_ERR_PEER:
		return KMS_OC_BAD_MESSAGE;
	}
	return KMS_OC_INTERNAL;	/* NOMEM, CRYPTO, INVAL */
}

/* status_of - the HTTP status that carries a MIKEY answer */
static int
status_of(int oc, int err)
{
	switch (oc) {
	case KMS_OC_OK:
		return 200;
	case KMS_OC_BAD_MESSAGE:
		return 400;
	case KMS_OC_UNSUPPORTED:
		/* ERR 14 (ticket type) is a refusal of the ticket */
		return err == MIKEY_ERR_TICKET_TYPE ? 403 : 400;
	case KMS_OC_INTERNAL:
		return 500;
	}
	return 403;
}

/* log_request - the one info line of a MIKEY request */
static void
log_request(struct kms_http *h, struct evhttp_request *req, int ex, int oc,
    const struct mikey_kms_result *res, double secs)
{
	const struct kms_call *call = &h->ctx->pol.call;
	char who[4 * KMS_URI_MAX + 4], owner[8 + KMS_URI_MAX + 12];
	char ver[16], from[160], why[64];

	if (log_getlevel() > LOG_LEVEL_INFO)
		return;
	if (res->requester.data.len > 0)
		log_vis(who, sizeof(who), res->requester.data.p,
		    res->requester.data.len);
	else
		snprintf(who, sizeof(who), "-");
	owner[0] = '\0';
	if (call->principal != NULL &&
	    strcmp(call->principal->id, who) != 0)
		snprintf(owner, sizeof(owner), " psk_owner=%s",
		    call->principal->id);
	if (res->key_version != 0)
		snprintf(ver, sizeof(ver), "%u", res->key_version);
	else if (call->has_version)
		snprintf(ver, sizeof(ver), "%u", call->version);
	else
		snprintf(ver, sizeof(ver), "-");
	why[0] = '\0';
	if (oc != KMS_OC_OK && call->why != NULL)
		snprintf(why, sizeof(why), " reason=%s", call->why);
	peer(req, from, sizeof(from));
	if (oc == KMS_OC_OK)
		log_info("kms request exchange=%s outcome=ok requester=%s%s "
		    "key_version=%s ms=%.3f peer=%s", kms_exchange_name(ex),
		    who, owner, ver, secs * 1e3, from);
	else
		log_info("kms request exchange=%s outcome=%s requester=%s%s "
		    "key_version=%s err=%s mikey_errno=%d%s ms=%.3f peer=%s",
		    kms_exchange_name(ex), kms_outcome_name(oc), who, owner,
		    ver, err_name(res->err), res->errno_, why, secs * 1e3,
		    from);
}

/* exchange_of - request, resolve or other, by MIKEY data type */
static int
exchange_of(uint8_t dt)
{
	if (dt == MIKEY_DT_REQUEST_INIT_PSK || dt == MIKEY_DT_REQUEST_INIT_PK)
		return KMS_EX_REQUEST;
	if (dt == MIKEY_DT_RESOLVE_INIT_PSK || dt == MIKEY_DT_RESOLVE_INIT_PK)
		return KMS_EX_RESOLVE;
	return KMS_EX_OTHER;
}

/* handle_mikey - POST <path>: one MIKEY request, one answer */
static void
handle_mikey(struct kms_http *h, struct evhttp_request *req)
{
	struct kms_ctx *ctx = h->ctx;
	struct mikey_kms_result res;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *ct;
	char text[160], from[160];
	const uint8_t *body;
	size_t len = evbuffer_get_length(in), olen = 0;
	double t0 = now_mono(), secs;
	int rc, oc, ex, status;

	ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	if (!media_is(ct, "application/mikey")) {
		peer(req, from, sizeof(from));
		log_info("kms http status=415 reason=content_type peer=%s",
		    from);
		reply_text(h, req, 415, "Accept", "application/mikey",
		    "want Content-Type: application/mikey\n");
		return;
	}
	if (len > ctx->conf->max_body) {
		/* evhttp enforces max_body before we are called; belt and
		 * braces in case a reload lowered it mid-request */
		snprintf(text, sizeof(text), "body larger than max_body "
		    "(%zu bytes)\n", ctx->conf->max_body);
		reply_text(h, req, 413, NULL, NULL, text);
		return;
	}
	body = len > 0 ? evbuffer_pullup(in, (ev_ssize_t)len) : NULL;
	if (body == NULL) {
		peer(req, from, sizeof(from));
		log_info("kms request exchange=other outcome=bad_message "
		    "reason=empty_body peer=%s", from);
		kms_metrics_request(&ctx->metrics, KMS_EX_OTHER,
		    KMS_OC_BAD_MESSAGE, now_mono() - t0);
		reply_text(h, req, 400, "X-Imgate-Outcome", "bad_message",
		    "not a MIKEY message: empty body\n");
		return;
	}

	kms_policy_begin(&ctx->pol);
	rc = mikey_kms_process(&ctx->env, &ctx->kc, body, len, ctx->out,
	    sizeof(ctx->out), &olen, &res);
	/*
	 * Count and log before replying: evhttp_send_reply frees req (and
	 * the body res aliases) at once if the connection is already gone.
	 */
	if (rc != 0) {
		/* nothing to answer in MIKEY: not even a header, or an
		 * Error message (never answered with an Error) */
		ex = exchange_of(res.data_type);
		secs = now_mono() - t0;
		kms_metrics_request(&ctx->metrics, ex, KMS_OC_BAD_MESSAGE,
		    secs);
		peer(req, from, sizeof(from));
		log_info("kms request exchange=%s outcome=bad_message err=%s "
		    "reason=%s bytes=%zu ms=%.3f peer=%s",
		    kms_exchange_name(ex), err_name(rc),
		    rc == MIKEY_ERR_PEER ? "error_message" : "not_mikey", len,
		    secs * 1e3, from);
		snprintf(text, sizeof(text), "not a MIKEY message: %s\n",
		    rc == MIKEY_ERR_PEER ? "a MIKEY Error message is not a "
		    "request" : mikey_strerror(rc));
		reply_text(h, req, 400, "X-Imgate-Outcome", "bad_message",
		    text);
		return;
	}
	oc = outcome_of(&res, &ctx->pol.call);
	ex = exchange_of(res.data_type);
	status = status_of(oc, res.err);
	secs = now_mono() - t0;
	kms_metrics_request(&ctx->metrics, ex, oc, secs);
	log_request(h, req, ex, oc, &res, secs);
	/* unknown_id looks like auth to the client (FORMATS.md 1) */
	reply(h, req, status, "application/mikey", "X-Imgate-Outcome",
	    kms_outcome_name(oc == KMS_OC_UNKNOWN_ID ? KMS_OC_AUTH : oc),
	    ctx->out, olen);
	/* the answer held keys only encrypted; wipe it anyway */
	memset(ctx->out, 0, olen);
}

/* ---------------------------------------------------------------------- */
/* Routing */

/* handle_metrics - GET /metrics */
static void
handle_metrics(struct kms_http *h, struct evhttp_request *req)
{
	struct kms_ctx *ctx = h->ctx;
	size_t len;

	ctx->metrics.rcache_entries = ctx->rc != NULL ?
	    mikey_rcache_count(ctx->rc) : 0;
	len = kms_metrics_format(&ctx->metrics, h->mbuf, sizeof(h->mbuf));
	if (len >= sizeof(h->mbuf)) {
		log_warnx("kms metrics: text longer than %zu bytes",
		    sizeof(h->mbuf));
		reply_text(h, req, 500, NULL, NULL, "metrics too long\n");
		return;
	}
	reply(h, req, 200, "text/plain; version=0.0.4; charset=utf-8", NULL,
	    NULL, h->mbuf, len);
}

/* request_cb - every request of both servers */
static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct kms_http *h = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	char vis[128], from[160];
	int get = m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;

	if (path == NULL || *path == '\0')
		path = "/";
	if (strcmp(path, h->ctx->conf->path) == 0) {
		if (m == EVHTTP_REQ_POST) {
			handle_mikey(h, req);
			return;
		}
		peer(req, from, sizeof(from));
		log_info("kms http status=405 method=%s path=%s peer=%s",
		    method_name(m), h->ctx->conf->path, from);
		reply_text(h, req, 405, "Allow", "POST",
		    "method not allowed; use POST\n");
		return;
	}
	if (strcmp(path, "/health") == 0 ||
	    (strcmp(path, "/metrics") == 0 && h->ctx->conf->metrics)) {
		if (!get) {
			reply_text(h, req, 405, "Allow", "GET, HEAD",
			    "method not allowed; use GET\n");
			return;
		}
		log_debug("kms http status=200 path=%s", path);
		if (path[1] == 'h')
			reply(h, req, 200, "text/plain; charset=utf-8", NULL,
			    NULL, "ok\n", 3);
		else
			handle_metrics(h, req);
		return;
	}
	peer(req, from, sizeof(from));
	log_info("kms http status=404 method=%s path=%s peer=%s",
	    method_name(m), log_vis(vis, sizeof(vis), path, strlen(path)),
	    from);
	reply_text(h, req, 404, NULL, NULL, "not found\n");
}

/* ---------------------------------------------------------------------- */
/* Connections */

/*
 * count_413 - an output evbuffer callback: when a response starts in an
 *	empty buffer, count it if it is a 413 (see DESIGN).
 */
static void
count_413(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct kms_http *h = arg;
	char line[12];

	if (info->n_added == 0 || info->orig_size != 0)
		return;
	if (evbuffer_copyout(buf, line, sizeof(line)) == (ev_ssize_t)sizeof(
	    line) && memcmp(line, "HTTP/1.", 7) == 0 &&
	    memcmp(line + 8, " 413", 4) == 0) {
		kms_metrics_http_error(&h->ctx->metrics, 413);
		log_info("kms http status=413 reason=body_over_max_body");
	}
}

/* plain_bevcb - the bufferevent of a new HTTP connection */
static struct bufferevent *
plain_bevcb(struct event_base *base, void *arg)
{
	struct bufferevent *bev;

	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL)
		evbuffer_add_cb(bufferevent_get_output(bev), count_413, arg);
	return bev;
}

/* tls_bevcb - the bufferevent_openssl of a new HTTPS connection */
static struct bufferevent *
tls_bevcb(struct event_base *base, void *arg)
{
	struct kms_http *h = arg;
	struct bufferevent *bev;
	SSL *ssl;

	/* XXX if we return NULL, libevent 2.1 makes a plain bufferevent
	 * and the connection gets plain HTTP on the TLS port; only on OOM,
	 * and the client, speaking TLS, then only gets a 400. */
	if ((ssl = SSL_new(h->ssl)) == NULL) {
		log_warnx("kms tls: SSL_new failed");
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_warnx("kms tls: cannot make a TLS bufferevent");
		return NULL;
	}
	evbuffer_add_cb(bufferevent_get_output(bev), count_413, arg);
	return bev;
}

/* ssl_error - the last OpenSSL error as text */
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

/* tls_ctx_new - a server SSL_CTX: TLS 1.2+, AEAD ciphers, the cert/key */
static SSL_CTX *
tls_ctx_new(const struct kms_conf *c, char *err, size_t errlen)
{
	SSL_CTX *ssl;
	char e[256];

	if ((ssl = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errlen, "TLS: %s", ssl_error(e, sizeof(e)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
	SSL_CTX_set_options(ssl, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	if (SSL_CTX_set_cipher_list(ssl, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
		snprintf(err, errlen, "TLS cipher list: %s",
		    ssl_error(e, sizeof(e)));
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ssl, c->tls_cert) != 1) {
		snprintf(err, errlen, "tls_cert %s: %s", c->tls_cert,
		    ssl_error(e, sizeof(e)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ssl, c->tls_key, SSL_FILETYPE_PEM) !=
	    1) {
		snprintf(err, errlen, "tls_key %s: %s", c->tls_key,
		    ssl_error(e, sizeof(e)));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ssl) != 1) {
		snprintf(err, errlen, "tls_key %s does not match tls_cert %s",
		    c->tls_key, c->tls_cert);
		goto fail;
	}
	return ssl;
fail:
	SSL_CTX_free(ssl);
	return NULL;
}

/* limits - the limits of c on one server */
static void
limits(struct evhttp *http, const struct kms_conf *c)
{
	evhttp_set_max_body_size(http, (ev_ssize_t)c->max_body);
	evhttp_set_max_headers_size(http, (ev_ssize_t)c->max_headers);
	evhttp_set_timeout(http, c->timeout);
}

/* server_new - an evhttp with limits and our callback, nothing bound */
static struct evhttp *
server_new(struct kms_http *h, const struct kms_conf *c, int tls)
{
	struct evhttp *http;

	if ((http = evhttp_new(h->ctx->base)) == NULL)
		return NULL;
	limits(http, c);
	/* every method reaches us, so that we can answer 405 */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_gencb(http, request_cb, h);
	evhttp_set_bevcb(http, tls ? tls_bevcb : plain_bevcb, h);
	return http;
}

/* bind_all - bind every address of sv on http */
static int
bind_all(struct kms_http *h, struct evhttp *http, const struct kms_strv *sv,
    int tls, char *err, size_t errlen)
{
	struct evhttp_bound_socket *b;
	char host[256];
	uint16_t port;
	size_t i;

	for (i = 0; i < sv->n; i++) {
		if (kms_hostport_split(sv->v[i], host, sizeof(host),
		    &port) != 0) {
			snprintf(err, errlen, "bad address %s", sv->v[i]);
			return -1;
		}
		b = evhttp_bind_socket_with_handle(http, host, port);
		if (b == NULL) {
			snprintf(err, errlen, "cannot listen on %s%s: %s",
			    sv->v[i], tls ? " (tls_listen)" : "",
			    strerror(errno));
			return -1;
		}
		h->bound[h->nbound].sock = b;
		h->bound[h->nbound].tls = tls;
		h->nbound++;
	}
	return 0;
}

struct kms_http *
kms_http_new(struct kms_ctx *ctx, char *err, size_t errlen)
{
	struct kms_http *h;
	const struct kms_conf *c = ctx->conf;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->ctx = ctx;
	if (c->tls_listen.n > 0 &&
	    (h->ssl = tls_ctx_new(c, err, errlen)) == NULL)
		goto fail;
	/* limits before bind (style.md section 7) */
	if (c->listen.n > 0 && (h->plain = server_new(h, c, 0)) == NULL)
		goto nomem;
	if (c->tls_listen.n > 0 && (h->tls = server_new(h, c, 1)) == NULL)
		goto nomem;
	if ((h->plain != NULL && bind_all(h, h->plain, &c->listen, 0, err,
	    errlen) != 0) || (h->tls != NULL && bind_all(h, h->tls,
	    &c->tls_listen, 1, err, errlen) != 0))
		goto fail;
	return h;
nomem:
	snprintf(err, errlen, "cannot create the HTTP server");
fail:
	kms_http_free(h);
	return NULL;
}

int
kms_http_apply(struct kms_http *h, const struct kms_conf *c, char *err,
    size_t errlen)
{
	SSL_CTX *ssl;

	if (h->tls != NULL) {
		/* a new certificate for new connections; SSL objects in use
		 * hold a reference to the old SSL_CTX */
		if ((ssl = tls_ctx_new(c, err, errlen)) == NULL)
			return -1;
		SSL_CTX_free(h->ssl);
		h->ssl = ssl;
		limits(h->tls, c);
	}
	if (h->plain != NULL)
		limits(h->plain, c);
	return 0;
}

/* sockname - "host:port" of a bound socket */
static void
sockname(struct evhttp_bound_socket *b, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	evutil_socket_t fd = evhttp_bound_socket_get_fd(b);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1) {
		snprintf(buf, len, "?");
		return;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	}
}

void
kms_http_describe(const struct kms_http *h, char *buf, size_t len)
{
	char one[80], plain[1400] = "", tls[1400] = "";
	size_t i;

	for (i = 0; i < h->nbound; i++) {
		char *dst = h->bound[i].tls ? tls : plain;
		size_t dl = strlen(dst);

		sockname(h->bound[i].sock, one, sizeof(one));
		snprintf(dst + dl, sizeof(plain) - dl, "%s%s", dl ? "," : "",
		    one);
	}
	snprintf(buf, len, "listen=%s tls_listen=%s", plain[0] ? plain : "-",
	    tls[0] ? tls : "-");
}

void
kms_http_stop_accepting(struct kms_http *h)
{
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < h->nbound; i++)
		evhttp_del_accept_socket(h->bound[i].tls ? h->tls : h->plain,
		    h->bound[i].sock);
	h->nbound = 0;
}

void
kms_http_free(struct kms_http *h)
{
	if (h == NULL)
		return;
	if (h->plain != NULL)
		evhttp_free(h->plain);
	if (h->tls != NULL)
		evhttp_free(h->tls);
	SSL_CTX_free(h->ssl);
	free(h);
}
