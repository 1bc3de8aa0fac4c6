/*
 * gateway/gw_admin.c - the admin port of imgate: GET /metrics in the
 *	Prometheus text format 0.0.4 and GET /health, over evhttp
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	One evhttp server on the gateway's event_base, bound to one numeric
 *	address.  Limits (headers, body, timeout) are set before it is
 *	bound, so no connection is ever served without them (style.md
 *	section 7).  One generic callback answers every request, and every
 *	way through it ends in exactly one evhttp_send_reply: 200 for GET
 *	(or HEAD) /metrics and /health, 405 with Allow for any other method,
 *	404 for any other path.
 *
 *	/metrics is written from struct gw_metrics (gw.h) at the moment of
 *	the request, on the loop thread that alone writes the counters, so
 *	a scrape sees one consistent set.  Every series is written, zeros
 *	included, so that a scraper sees the same lines from the first
 *	scrape on.  The latency histogram keeps one count per bucket;
 *	the buckets are made cumulative here, as Prometheus wants.
 *
 * SECURITY
 *	No authentication: bind it to loopback or a management network
 *	(conf/imgate.conf says so).  It shows counters only, never an
 *	identity, a key or a body.  A request can make it do no more than
 *	format a few kilobytes of text; requests are bounded (headers 8 KB,
 *	body 1 KB, 10 s idle).
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/log.h"
#include "gateway/gw.h"
#include "gateway/gw_admin.h"

#define ADMIN_MAX_HEADERS	8192	/* bytes of a request's headers */
#define ADMIN_MAX_BODY		1024	/* bytes of a request's body */
#define ADMIN_TIMEOUT		10	/* s a connection may stay idle */

struct gw_admin {
	struct evhttp	*http;
	struct evhttp_bound_socket *sock;
	const struct gw_metrics *m;	/* alias */
	int		 port;		/* bound */
};

/* Upper bounds of the latency buckets (gw.h: lat_bucket), in seconds. */
#define NBUCKET	12
static const char *const bucket_le[NBUCKET] = {
	"0.00025", "0.0005", "0.001", "0.002", "0.005", "0.01", "0.025",
	"0.05", "0.1", "0.25", "1", "+Inf"
};
static const char *const transport_names[GW_NPROTO] = { "udp", "tcp",
	"tls" };

_Static_assert(sizeof(((struct gw_metrics *)0)->lat_bucket) /
    sizeof(uint64_t) == NBUCKET, "a bucket bound for every lat_bucket");
_Static_assert(GW_REJ_N <= sizeof(((struct gw_metrics *)0)->rejected) /
    sizeof(uint64_t), "a rejected[] counter for every enum gw_reject");

/* ---------------------------------------------------------------------- */
/* /metrics */

/* put - append formatted text to b */
static void put(struct evbuffer *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
put(struct evbuffer *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(b, fmt, ap);
	va_end(ap);
}

/* head - the HELP and TYPE lines of one metric */
static void
head(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* one - a metric of one series, without labels */
static void
one(struct evbuffer *b, const char *name, const char *type, const char *help,
    uint64_t v)
{
	head(b, name, type, help);
	put(b, "%s %" PRIu64 "\n", name, v);
}

/* metrics_format - the whole exposition of m into b */
static void
metrics_format(struct evbuffer *b, const struct gw_metrics *m)
{
	static const char *const action[] = { "wrapped", "unwrapped",
		"passed" };
	const uint64_t actv[] = { m->wrapped, m->unwrapped, m->passed };
	const char *name;
	uint64_t cum;
	size_t i;

	head(b, "imgate_gw_rx_messages_total", "counter",
	    "SIP messages received, by transport.");
	for (i = 0; i < GW_NPROTO; i++)
		put(b, "imgate_gw_rx_messages_total{transport=\"%s\"} %"
		    PRIu64 "\n", transport_names[i], m->rx_msgs[i]);
	head(b, "imgate_gw_tx_messages_total", "counter",
	    "SIP messages sent, by transport.");
	for (i = 0; i < GW_NPROTO; i++)
		put(b, "imgate_gw_tx_messages_total{transport=\"%s\"} %"
		    PRIu64 "\n", transport_names[i], m->tx_msgs[i]);
	one(b, "imgate_gw_rx_bad_total", "counter", "SIP messages that could "
	    "not be parsed (answered 400 or dropped).", m->rx_bad);
	one(b, "imgate_gw_tx_failures_total", "counter", "Sends that failed.",
	    m->tx_fail);

	one(b, "imgate_gw_connections", "gauge", "TCP and TLS connections "
	    "open now.", m->conns_open);
	one(b, "imgate_gw_connections_total", "counter", "TCP and TLS "
	    "connections accepted or made.", m->conns_total);

	head(b, "imgate_gw_relayed_total", "counter", "Requests other than "
	    "MESSAGE relayed untouched, and their responses.");
	put(b, "imgate_gw_relayed_total{kind=\"request\"} %" PRIu64 "\n"
	    "imgate_gw_relayed_total{kind=\"response\"} %" PRIu64 "\n",
	    m->relayed_req, m->relayed_resp);

	one(b, "imgate_gw_messages_total", "counter", "MESSAGE transactions "
	    "started.", m->msg_in);
	one(b, "imgate_gw_message_retransmissions_total", "counter",
	    "Retransmitted MESSAGE requests absorbed by the transaction "
	    "table.", m->msg_retrans);
	head(b, "imgate_gw_messages_forwarded_total", "counter", "MESSAGEs "
	    "sent on: protected (wrapped), opened (unwrapped) or as they "
	    "were (passed).");
	for (i = 0; i < sizeof(action) / sizeof(action[0]); i++)
		put(b, "imgate_gw_messages_forwarded_total{action=\"%s\"} %"
		    PRIu64 "\n", action[i], actv[i]);
	head(b, "imgate_gw_message_final_total", "counter", "Final answers "
	    "to MESSAGE senders, by class.");
	for (i = 2; i <= 6; i++)
		put(b, "imgate_gw_message_final_total{class=\"%zuxx\"} %"
		    PRIu64 "\n", i, m->final[i]);
	head(b, "imgate_gw_rejected_total", "counter", "MESSAGEs refused, "
	    "by reason.");
	for (i = 0; i < GW_REJ_N; i++) {
		name = gw_reject_name((enum gw_reject)i);
		put(b, "imgate_gw_rejected_total{reason=\"%s\"} %" PRIu64 "\n",
		    name != NULL ? name : "unknown", m->rejected[i]);
	}

	head(b, "imgate_gw_message_seconds", "histogram", "Time from a "
	    "MESSAGE's arrival to its final answer.");
	cum = 0;
	for (i = 0; i < NBUCKET; i++) {
		cum += m->lat_bucket[i];
		put(b, "imgate_gw_message_seconds_bucket{le=\"%s\"} %" PRIu64
		    "\n", bucket_le[i], cum);
	}
	put(b, "imgate_gw_message_seconds_sum %.9g\n"
	    "imgate_gw_message_seconds_count %" PRIu64 "\n",
	    (double)m->lat_sum_us / 1e6, cum);

	head(b, "imgate_gw_kms_exchanges_total", "counter", "KMS exchanges "
	    "started, by kind.");
	put(b, "imgate_gw_kms_exchanges_total{exchange=\"request\"} %" PRIu64
	    "\n" "imgate_gw_kms_exchanges_total{exchange=\"resolve\"} %"
	    PRIu64 "\n", m->kms_requests, m->kms_resolves);
	one(b, "imgate_gw_kms_failures_total", "counter", "KMS exchanges "
	    "that failed in transport or with a 5xx.", m->kms_failures);
	one(b, "imgate_gw_kms_waiting", "gauge", "Transactions waiting for "
	    "the KMS now.", m->kms_waiting);

	head(b, "imgate_gw_transactions", "gauge", "MESSAGE transactions "
	    "now, server and client.");
	put(b, "imgate_gw_transactions{kind=\"server\"} %" PRIu64 "\n"
	    "imgate_gw_transactions{kind=\"client\"} %" PRIu64 "\n",
	    m->txn_server, m->txn_client);
	one(b, "imgate_gw_transaction_timeouts_total", "counter", "Client "
	    "transactions that timed out (408 to the sender).",
	    m->txn_timeouts);

	one(b, "imgate_gw_reloads_total", "counter", "Configuration "
	    "reloads.", m->reloads);
	one(b, "imgate_gw_reload_failures_total", "counter", "Configuration "
	    "reloads that failed (the old configuration stayed).",
	    m->reload_failures);
	one(b, "imgate_gw_stored_total", "counter", "Protected MESSAGEs "
	    "stored for offline users (each answered 202 after its "
	    "commit).", m->stored);
	one(b, "imgate_gw_store_commits_total", "counter", "Grouped commits "
	    "of the store that held them (about each second).",
	    m->store_commits);
	one(b, "imgate_gw_store_refused_total", "counter", "MESSAGEs the "
	    "store could not take (quota, failure): 503.", m->store_refused);
	one(b, "imgate_gw_delivered_stored_total", "counter", "Stored "
	    "MESSAGEs delivered (2xx from inside).", m->delivered_stored);
	one(b, "imgate_gw_deferred_total", "counter", "Delivery attempts "
	    "put off (back-off).", m->deferred);
	one(b, "imgate_gw_quarantined_total", "counter", "Stored MESSAGEs "
	    "set aside (could not be opened or were refused).",
	    m->quarantined);
	one(b, "imgate_gw_expired_total", "counter", "Stored MESSAGEs "
	    "removed unread at the end of their validity.", m->expired);
	one(b, "imgate_gw_reports_total", "counter", "Report MESSAGEs sent "
	    "to senders.", m->reports);
}

/* ---------------------------------------------------------------------- */
/* Requests */

/* reason - the reason phrase of the statuses we send */
static const char *
reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	default:
		return "Internal Server Error";
	}
}

/* reply - the one way out of request_cb; takes the body from b (or NULL) */
static void
reply(struct evhttp_request *req, int code, const char *ctype,
    const char *allow, struct evbuffer *b)
{
	struct evkeyvalq *hd = evhttp_request_get_output_headers(req);

	evhttp_add_header(hd, "Content-Type", ctype);
	evhttp_add_header(hd, "Cache-Control", "no-store");
	if (allow != NULL)
		evhttp_add_header(hd, "Allow", allow);
	evhttp_send_reply(req, code, reason(code), b);
}

/* reply_text - a short text/plain answer */
static void
reply_text(struct evhttp_request *req, int code, const char *allow,
    const char *text)
{
	evbuffer_add(evhttp_request_get_output_buffer(req), text,
	    strlen(text));
	reply(req, code, "text/plain; charset=utf-8", allow, NULL);
}

/* request_cb - every request */
static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct gw_admin *a = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	struct evbuffer *b;
	char vis[128];

	if (path == NULL || *path == '\0')
		path = "/";
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		log_debug("gw admin status=405 path=%s",
		    log_vis(vis, sizeof(vis), path, strlen(path)));
		reply_text(req, 405, "GET, HEAD", "method not allowed; use "
		    "GET\n");
		return;
	}
	if (strcmp(path, "/health") == 0) {
		reply_text(req, 200, NULL, "ok\n");
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		if ((b = evbuffer_new()) == NULL) {
			log_warnx("gw admin metrics: out of memory");
			reply_text(req, 500, NULL, "out of memory\n");
			return;
		}
		metrics_format(b, a->m);
		reply(req, 200, "text/plain; version=0.0.4; charset=utf-8",
		    NULL, b);
		evbuffer_free(b);
		return;
	}
	log_debug("gw admin status=404 path=%s",
	    log_vis(vis, sizeof(vis), path, strlen(path)));
	reply_text(req, 404, NULL, "not found; try /metrics or /health\n");
}

/* ---------------------------------------------------------------------- */
/* The server */

/* bound_port - the port of a bound socket, or -1 */
static int
bound_port(struct evhttp_bound_socket *bs)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return -1;
}

struct gw_admin *
gw_admin_new(struct event_base *base, const char *host, int port,
    const struct gw_metrics *m, char *err, size_t errlen)
{
	struct gw_admin *a;
	int v6;

	if (host == NULL || host[0] == '\0' || port < 0 || port > 65535 ||
	    base == NULL || m == NULL) {
		snprintf(err, errlen, "admin: bad address %s:%d",
		    host != NULL ? host : "(null)", port);
		return NULL;
	}
	v6 = strchr(host, ':') != NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "admin: out of memory");
		return NULL;
	}
	a->m = m;
	if ((a->http = evhttp_new(base)) == NULL) {
		snprintf(err, errlen, "admin: cannot create the HTTP server");
		goto fail;
	}
	/* limits before bind (style.md section 7) */
	evhttp_set_max_headers_size(a->http, ADMIN_MAX_HEADERS);
	evhttp_set_max_body_size(a->http, ADMIN_MAX_BODY);
	evhttp_set_timeout(a->http, ADMIN_TIMEOUT);
	/* every method reaches us, so that we can answer 405 */
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_gencb(a->http, request_cb, a);
	errno = 0;
	a->sock = evhttp_bind_socket_with_handle(a->http, host,
	    (ev_uint16_t)port);
	if (a->sock == NULL) {
		snprintf(err, errlen, "admin: cannot listen on %s%s%s:%d: %s",
		    v6 ? "[" : "", host, v6 ? "]" : "", port,
		    errno != 0 ? strerror(errno) : "bind failed");
		goto fail;
	}
	if ((a->port = bound_port(a->sock)) < 0) {
		snprintf(err, errlen, "admin: getsockname: %s",
		    strerror(errno));
		goto fail;
	}
	return a;
fail:
	gw_admin_free(a);
	return NULL;
}

void
gw_admin_free(struct gw_admin *a)
{
	if (a == NULL)
		return;
	if (a->http != NULL)
		evhttp_free(a->http);	/* closes the socket and connections */
	free(a);
}

int
gw_admin_port(const struct gw_admin *a)
{
	return a != NULL ? a->port : -1;
}
