/*
 * gateway/gw_kms.c - the asynchronous KMS client of the gateway
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * libimgate asks for KMS exchanges through imgate_ctx_set_async(): we
 * POST the MIKEY message with evhttp (kms/FORMATS.md section 1) and give
 * the answer back with imgate_kms_done(); the library coalesces the
 * transactions that need the same ticket behind one exchange, and they
 * all continue (or fail with the same answer) when it ends.  The loop
 * never waits for the KMS.
 *
 * http:  a few persistent keep-alive connections, used in turn.
 * https: one connection per exchange (evhttp cannot reconnect a TLS
 *	bufferevent); exchanges are rare, tickets and keys being cached.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "gateway/gw_core.h"

#define KMS_CONNS	4
#define KMS_MAX_ANSWER	(64 * 1024)

struct gw_kms {
	struct gw	*gw;
	char		 host[256];
	int		 port;
	char		*path;
	int		 https;
	SSL_CTX		*ssl;
	struct evhttp_connection *conn[KMS_CONNS];
	unsigned	 next;
};

struct kreq {
	struct gw_kms	*k;
	uint64_t	 id;
	struct evhttp_connection *own;	/* https: freed after the answer */
};

/* wake - the transactions waiting for exchange id: go on, or fail */
static void
wake(struct gw *gw, uint64_t id, int rc)
{
	GPtrArray *w;
	gpointer key = NULL, val = NULL;
	guint i;

	if (!g_hash_table_steal_extended(gw->waiting, &id, &key, &val))
		return;
	w = val;
	for (i = 0; i < w->len; i++) {
		struct gw_stx *stx = g_ptr_array_index(w, i);

		stx->pending = 0;
		if (gw->m.kms_waiting > 0)
			gw->m.kms_waiting--;
		if (rc == 0)
			gw_stx_work(stx);
		else
			gw_stx_fail(stx, rc);
	}
	g_ptr_array_free(w, TRUE);
	g_free(key);
}

static void
free_conn_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evhttp_connection_free(arg);
}

static void
done_cb(struct evhttp_request *r, void *arg)
{
	struct kreq *q = arg;
	struct gw *gw = q->k->gw;
	struct evbuffer *in;
	const char *ct = NULL;
	uint8_t *body = NULL;
	size_t len = 0;
	uint64_t id;
	int status = 0, ok = 0, rc;

	if (r != NULL) {
		status = evhttp_request_get_response_code(r);
		ct = evhttp_find_header(evhttp_request_get_input_headers(r),
		    "Content-Type");
		in = evhttp_request_get_input_buffer(r);
		len = evbuffer_get_length(in);
		if ((status / 100 == 2 || status / 100 == 4) && ct != NULL &&
		    g_ascii_strncasecmp(ct, "application/mikey", 17) == 0 &&
		    len > 0 && len <= KMS_MAX_ANSWER) {
			body = evbuffer_pullup(in, (ev_ssize_t)len);
			ok = body != NULL;
		}
	}
	if (!ok) {
		gw->m.kms_failures++;
		log_warn("kms: exchange %llu failed: %s%d",
		    (unsigned long long)q->id, status == 0 ?
		    "no answer (connection or timeout), status " :
		    "HTTP status ", status);
	}
	rc = imgate_kms_done(gw->ic, q->id, ok, body, len);
	if (rc != 0 && rc != IMGATE_ERR_INVAL)
		log_info("kms: exchange %llu: %s (%s)",
		    (unsigned long long)q->id, imgate_strerror(rc),
		    imgate_last_detail(gw->ic));
	if (q->own != NULL)
		event_base_once(gw->base, -1, EV_TIMEOUT, free_conn_cb,
		    q->own, NULL);
	id = q->id;
	free(q);
	wake(gw, id, rc);
}

/* new_conn - a connection to the KMS (TLS: with its own SSL object) */
static struct evhttp_connection *
new_conn(struct gw_kms *k)
{
	struct gw *gw = k->gw;
	struct evhttp_connection *c;
	struct bufferevent *bev = NULL;
	SSL *ssl;

	if (k->https) {
		if ((ssl = SSL_new(k->ssl)) == NULL)
			return NULL;
		SSL_set_tlsext_host_name(ssl, k->host);
		if (SSL_set1_host(ssl, k->host) != 1) {
			SSL_free(ssl);
			return NULL;
		}
		if ((bev = bufferevent_openssl_socket_new(gw->base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
		    BEV_OPT_DEFER_CALLBACKS)) == NULL) {
			SSL_free(ssl);
			return NULL;
		}
	}
	c = evhttp_connection_base_bufferevent_new(gw->base, NULL, bev,
	    k->host, (unsigned short)k->port);
	if (c == NULL) {
		if (bev != NULL)
			bufferevent_free(bev);
		return NULL;
	}
	evhttp_connection_set_timeout(c, (int)gw->conf->kms_timeout);
	evhttp_connection_set_retries(c, 0);
	evhttp_connection_set_max_body_size(c, KMS_MAX_ANSWER);
	return c;
}

/* async_cb - libimgate's imgate_async_cb: start one POST */
static int
async_cb(void *arg, uint64_t id, const char *url, const uint8_t *req,
    size_t len)
{
	struct gw_kms *k = arg;
	struct evhttp_connection *c;
	struct evhttp_request *r;
	struct evkeyvalq *h;
	struct kreq *q;
	char hosthdr[300];

	(void)url;		/* the context's, parsed at start */
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -1;
	q->k = k;
	q->id = id;
	if (k->https) {
		if ((c = q->own = new_conn(k)) == NULL) {
			free(q);
			return -1;
		}
	} else {
		c = k->conn[k->next++ % KMS_CONNS];
	}
	if ((r = evhttp_request_new(done_cb, q)) == NULL)
		goto fail;
	h = evhttp_request_get_output_headers(r);
	snprintf(hosthdr, sizeof(hosthdr), strchr(k->host, ':') != NULL ?
	    "[%s]:%d" : "%s:%d", k->host, k->port);
	evhttp_add_header(h, "Host", hosthdr);
	evhttp_add_header(h, "Content-Type", "application/mikey");
	evhttp_add_header(h, "Accept", "application/mikey");
	if (evbuffer_add(evhttp_request_get_output_buffer(r), req, len) != 0) {
		evhttp_request_free(r);
		goto fail;
	}
	/* on failure evhttp_make_request frees r */
	if (evhttp_make_request(c, r, EVHTTP_REQ_POST, k->path) != 0)
		goto fail;
	return 0;
fail:
	if (q->own != NULL)
		evhttp_connection_free(q->own);
	free(q);
	k->gw->m.kms_failures++;
	return -1;
}

struct gw_kms *
gw_kms_new(struct gw *gw, char *err, size_t errlen)
{
	const struct gw_conf *conf = gw->conf;
	struct evhttp_uri *u;
	struct gw_kms *k;
	const char *scheme, *host, *path;
	int i;

	if ((u = evhttp_uri_parse(conf->kms_url)) == NULL) {
		snprintf(err, errlen, "kms_url %s does not parse",
		    conf->kms_url);
		return NULL;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		evhttp_uri_free(u);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->gw = gw;
	scheme = evhttp_uri_get_scheme(u);
	host = evhttp_uri_get_host(u);
	path = evhttp_uri_get_path(u);
	k->https = scheme != NULL && g_ascii_strcasecmp(scheme, "https") == 0;
	k->port = evhttp_uri_get_port(u);
	if (k->port <= 0)
		k->port = k->https ? 443 : 80;
	snprintf(k->host, sizeof(k->host), "%s", host != NULL ? host : "");
	k->path = g_strdup(path != NULL && *path != '\0' ? path : "/mikey");
	evhttp_uri_free(u);
	if (k->host[0] == '\0') {
		snprintf(err, errlen, "kms_url %s has no host", conf->kms_url);
		goto fail;
	}
	if (k->https) {
		if ((k->ssl = SSL_CTX_new(TLS_client_method())) == NULL ||
		    SSL_CTX_set_min_proto_version(k->ssl,
		    TLS1_2_VERSION) != 1) {
			snprintf(err, errlen, "TLS client context failed");
			goto fail;
		}
		SSL_CTX_set_verify(k->ssl, SSL_VERIFY_PEER, NULL);
		if ((conf->kms_ca_file != NULL ?
		    SSL_CTX_load_verify_locations(k->ssl, conf->kms_ca_file,
		    NULL) : SSL_CTX_set_default_verify_paths(k->ssl)) != 1) {
			snprintf(err, errlen, "kms_ca_file %s: cannot load "
			    "the CA certificates", conf->kms_ca_file ?
			    conf->kms_ca_file : "(system)");
			goto fail;
		}
	} else
		for (i = 0; i < KMS_CONNS; i++)
			if ((k->conn[i] = new_conn(k)) == NULL) {
				snprintf(err, errlen, "cannot make an HTTP "
				    "connection object for the KMS");
				goto fail;
			}
	imgate_ctx_set_async(gw->ic, async_cb, k);
	return k;
fail:
	gw_kms_free(k);
	return NULL;
}

void
gw_kms_free(struct gw_kms *k)
{
	int i;

	if (k == NULL)
		return;
	for (i = 0; i < KMS_CONNS; i++)
		if (k->conn[i] != NULL)
			evhttp_connection_free(k->conn[i]);
	SSL_CTX_free(k->ssl);
	g_free(k->path);
	free(k);
}
