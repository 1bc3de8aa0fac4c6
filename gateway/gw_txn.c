/*
 * gateway/gw_txn.c - MESSAGE transactions (RFC 3261 17, non-INVITE only)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * The gateway is a UAS toward the sender of a MESSAGE and a UAC toward
 * the next hop (spec/smime-sip.md 5.4): it changes the body, so it
 * originates a new request with its own Via branch, and relays the final
 * answer back.  libosip2's state machines are not used: a MESSAGE needs
 * only the four timers below, driven by libevent.
 *
 *	server (17.2.2)	Trying -> Proceeding (100 sent when a retransmission
 *			arrives while we work) -> Completed (final sent;
 *			retransmissions answered from it) -> freed after
 *			Timer J (64*T1 on UDP, at once on TCP/TLS)
 *	client (17.1.2)	Timer E retransmits over UDP (T1 doubling to T2),
 *			Timer F (64*T1) gives up: 408 to the sender; after
 *			the final answer Timer K (T4 on UDP) absorbs its
 *			retransmissions
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "gateway/gw_core.h"

static void stx_free(struct gw_stx *stx);
static void ctxn_free(struct gw_ctxn *c);

uint64_t
gw_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void
gw_txn_init(struct gw *gw)
{
	gw->stx = g_hash_table_new(g_str_hash, g_str_equal);
	gw->local = g_hash_table_new(g_direct_hash, g_direct_equal);
	gw->ctx = g_hash_table_new(g_str_hash, g_str_equal);
}

void
gw_txn_free_all(struct gw *gw)
{
	GHashTableIter it;
	gpointer k, v;

	if (gw->ctx != NULL) {
		g_hash_table_iter_init(&it, gw->ctx);
		while (g_hash_table_iter_next(&it, &k, &v)) {
			g_hash_table_iter_steal(&it);
			((struct gw_ctxn *)v)->stx = NULL;
			ctxn_free(v);
		}
		g_hash_table_destroy(gw->ctx);
		gw->ctx = NULL;
	}
	if (gw->stx != NULL) {
		g_hash_table_iter_init(&it, gw->stx);
		while (g_hash_table_iter_next(&it, &k, &v)) {
			g_hash_table_iter_steal(&it);
			((struct gw_stx *)v)->client = NULL;
			stx_free(v);
		}
		g_hash_table_destroy(gw->stx);
		gw->stx = NULL;
	}
	if (gw->local != NULL) {
		g_hash_table_iter_init(&it, gw->local);
		while (g_hash_table_iter_next(&it, &k, &v)) {
			g_hash_table_iter_steal(&it);
			((struct gw_stx *)k)->client = NULL;
			stx_free(k);
		}
		g_hash_table_destroy(gw->local);
		gw->local = NULL;
	}
}

/* ---------------------------------------------------------------------- */
/* Server transactions */

/*
 * stx_key - RFC 3261 17.2.3: top Via branch, sent-by, method; for a
 *	branch without the magic cookie (RFC 2543 peers) Call-ID, CSeq and
 *	the From tag stand in.
 */
static char *
stx_key(const struct gw_msg *m)
{
	osip_via_t *v = NULL;
	osip_generic_param_t *tag = NULL;
	const char *br = gw_via_branch(m);

	if (osip_message_get_via(m->sip, 0, &v) < 0 || v == NULL)
		return NULL;
	if (br != NULL && strncmp(br, "z9hG4bK", 7) == 0)
		return g_strdup_printf("%s\n%s:%s\n%s", br,
		    v->host ? v->host : "", v->port ? v->port : "",
		    m->sip->cseq->method);
	if (m->sip->from != NULL)
		osip_from_get_tag(m->sip->from, &tag);
	return g_strdup_printf("2543\n%s@%s\n%s %s\n%s",
	    m->sip->call_id->number ? m->sip->call_id->number : "",
	    m->sip->call_id->host ? m->sip->call_id->host : "",
	    m->sip->cseq->number, m->sip->cseq->method,
	    tag != NULL && tag->gvalue != NULL ? tag->gvalue : "");
}

/* upstream - where responses to req go */
static void
upstream(const struct gw_msg *req, struct gw_peer *dst)
{
	if (gw_via_next_hop(req, dst) != 0)
		*dst = req->src;	/* no usable Via: where it came from */
}

static void
send_to(struct gw *gw, const struct gw_peer *dst, uint64_t conn,
    const char *buf, size_t len)
{
	char ps[80];

	if (gw_tp_send(gw->tp, dst, conn, buf, len) != 0)
		log_info("send response to %s failed",
		    gw_peer_str(dst, ps, sizeof(ps)));
}

/* send_to_upstream - a response (wire form) to the sender of req */
static void
send_to_upstream(struct gw *gw, const struct gw_msg *req, const char *buf,
    size_t len)
{
	struct gw_peer dst;

	upstream(req, &dst);
	send_to(gw, &dst, req->conn, buf, len);
}

static void
stx_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	gw_stx_dispose(arg);
}

static void
stx_free(struct gw_stx *stx)
{
	if (stx == NULL)
		return;
	if (stx->client != NULL)
		stx->client->stx = NULL;
	if (stx->timer != NULL)
		event_free(stx->timer);
	gw_msg_free(stx->req);
	gw_msg_free(stx->down);
	free(stx->resp);
	g_free(stx->key);
	free(stx->raw);
	imgate_result_free(stx->hold);
	free(stx->q_rcpt);
	free(stx->q_sender);
	free(stx->member);
	free(stx->ent_type);
	if (stx->ent != NULL)
		OPENSSL_cleanse(stx->ent, stx->ent_len);
	free(stx->ent);
	if (stx->failed != NULL)
		g_string_free(stx->failed, TRUE);
	if (stx->gw->m.txn_server > 0)
		stx->gw->m.txn_server--;
	free(stx);
}

/*
 * gw_stx_new_local - a transaction for a request we deliver or originate
 *	ourselves (from the store, a report): no sender to answer, not in
 *	the table; gw_deliver_intercept() ends it
 */
struct gw_stx *
gw_stx_new_local(struct gw *gw, struct gw_msg *req)
{
	struct gw_stx *stx;

	if ((stx = calloc(1, sizeof(*stx))) == NULL ||
	    (stx->timer = evtimer_new(gw->base, stx_timer_cb, stx)) == NULL) {
		free(stx);
		return NULL;
	}
	stx->gw = gw;
	stx->req = req;
	stx->state = GW_STX_TRYING;
	stx->t0_us = gw_now_us();
	snprintf(stx->tag, sizeof(stx->tag), "ig%llx",
	    (unsigned long long)++gw->seq ^ gw->tagmask);
	gw->m.txn_server++;
	g_hash_table_add(gw->local, stx);
	return stx;
}

/* gw_stx_dispose - free a transaction now (a local one, or at its end) */
void
gw_stx_dispose(struct gw_stx *stx)
{
	if (stx->key != NULL)
		g_hash_table_remove(stx->gw->stx, stx->key);
	else
		g_hash_table_remove(stx->gw->local, stx);
	stx_free(stx);
}

struct gw_stx *
gw_stx_find_or_new(struct gw *gw, struct gw_msg *req, int *is_new)
{
	struct gw_stx *stx;
	char *key;

	*is_new = 0;
	if ((key = stx_key(req)) == NULL)
		return NULL;
	if ((stx = g_hash_table_lookup(gw->stx, key)) != NULL) {
		g_free(key);
		gw->m.msg_retrans++;
		switch (stx->state) {
		case GW_STX_TRYING:
			/* we are still working (the KMS): say so */
			gw_stx_respond(stx, 100, NULL, NULL, NULL);
			break;
		case GW_STX_PROCEEDING:
			if (stx->resp != NULL)
				send_to_upstream(gw, stx->req, stx->resp,
				    stx->resp_len);
			break;
		case GW_STX_COMPLETED:
			/* the request is gone: where it came from is kept */
			if (stx->resp != NULL)
				send_to(gw, &stx->up, stx->up_conn, stx->resp,
				    stx->resp_len);
			break;
		}
		return stx;
	}
	if (g_hash_table_size(gw->stx) >= gw->conf->max_txn) {
		g_free(key);
		return NULL;
	}
	if ((stx = calloc(1, sizeof(*stx))) == NULL ||
	    (stx->timer = evtimer_new(gw->base, stx_timer_cb, stx)) == NULL) {
		free(stx);
		g_free(key);
		return NULL;
	}
	stx->gw = gw;
	stx->key = key;
	stx->req = req;
	stx->state = GW_STX_TRYING;
	stx->t0_us = gw_now_us();
	snprintf(stx->tag, sizeof(stx->tag), "ig%llx",
	    (unsigned long long)++gw->seq ^ gw->tagmask);
	g_hash_table_insert(gw->stx, key, stx);
	gw->m.txn_server++;
	gw->m.msg_in++;
	*is_new = 1;
	return stx;
}

static void
latency(struct gw *gw, uint64_t us)
{
	static const uint64_t lim[11] = { 250, 500, 1000, 2000, 5000, 10000,
	    25000, 50000, 100000, 250000, 1000000 };
	size_t i;

	for (i = 0; i < 11 && us > lim[i]; i++)
		;
	gw->m.lat_bucket[i]++;
	gw->m.lat_sum_us += us;
}

/* to_tag_of - the To tag of a response, or NULL */
static const char *
to_tag_of(const struct gw_msg *m)
{
	osip_generic_param_t *tag = NULL;

	if (m == NULL || m->sip->to == NULL ||
	    osip_to_get_tag(m->sip->to, &tag) != 0 || tag == NULL)
		return NULL;
	return tag->gvalue;
}

void
gw_stx_respond(struct gw_stx *stx, int status, const char *reason,
    const char *warning, const struct gw_msg *from_resp)
{
	struct gw_resp_info ri;

	memset(&ri, 0, sizeof(ri));
	if (from_resp != NULL) {
		ri.set = 1;
		ri.to_tag = to_tag_of(from_resp);
		ri.warning = gw_msg_header(from_resp, "Warning");
		ri.retry_after = gw_msg_header(from_resp, "Retry-After");
	}
	gw_stx_respond_info(stx, status, reason, warning, &ri);
}

void
gw_stx_respond_info(struct gw_stx *stx, int status, const char *reason,
    const char *warning, const struct gw_resp_info *ri)
{
	struct gw *gw = stx->gw;
	const char *tag = ri->to_tag;
	uint64_t j;

	if (stx->state == GW_STX_COMPLETED)
		return;
	if (status >= 200 && gw_deliver_intercept(stx, status))
		return;		/* stored, or a local transaction ended */
	{
		const char *extra[4];
		char wbuf[320], rbuf[64];
		size_t n = 0;

		if (warning != NULL) {
			snprintf(wbuf, sizeof(wbuf), "Warning: 399 %s \"%s\"",
			    gw->conf->via_host != NULL ? gw->conf->via_host :
			    "imgate", warning);
			extra[n++] = wbuf;
		} else if (ri->warning != NULL) {
			snprintf(wbuf, sizeof(wbuf), "Warning: %s",
			    ri->warning);
			extra[n++] = wbuf;
		}
		if (status == 503) {
			if (ri->retry_after != NULL)
				snprintf(rbuf, sizeof(rbuf), "Retry-After: %s",
				    ri->retry_after);
			else
				snprintf(rbuf, sizeof(rbuf), "Retry-After: %u",
				    gw->conf->retry_after);
			extra[n++] = rbuf;
		}
		if (status == 415 && !ri->set)
			extra[n++] = "Accept: multipart/mixed, "
			    "application/pkcs7-mime, application/mikey";
		extra[n] = NULL;
		free(stx->resp);
		stx->resp = NULL;
		if (gw_response_text(stx->req, status, reason, status > 100 ?
		    (tag != NULL ? tag : stx->tag) : NULL, extra, &stx->resp,
		    &stx->resp_len) != 0) {
			log_warn("cannot build a %d response", status);
			return;
		}
	}
	send_to_upstream(gw, stx->req, stx->resp, stx->resp_len);
	if (status < 200) {
		stx->state = GW_STX_PROCEEDING;
		return;
	}
	stx->state = GW_STX_COMPLETED;
	if (status / 100 < 7)
		gw->m.final[status / 100]++;
	latency(gw, gw_now_us() - stx->t0_us);
	/* Completed keeps only what retransmissions need (the key, the
	 * response, its destination): memory for Timer J stays small */
	upstream(stx->req, &stx->up);
	stx->up_conn = stx->req->conn;
	j = stx->req->src.proto == GW_UDP ? 64u * gw->conf->t1_ms : 0;
	gw_msg_free(stx->req);
	stx->req = NULL;
	gw_msg_free(stx->down);
	stx->down = NULL;
	free(stx->raw);
	stx->raw = NULL;
	stx->raw_len = 0;
	/* Timer J: absorb retransmissions on UDP; none on streams */
	{
		struct timeval tv = { (time_t)(j / 1000),
		    (suseconds_t)(j % 1000) * 1000 };
		evtimer_add(stx->timer, &tv);
	}
}

/* ---------------------------------------------------------------------- */
/* Client transactions */

static void
ctxn_free(struct gw_ctxn *c)
{
	if (c == NULL)
		return;
	if (c->stx != NULL)
		c->stx->client = NULL;
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->timer_f != NULL)
		event_free(c->timer_f);
	free(c->wire);
	if (c->gw->m.txn_client > 0)
		c->gw->m.txn_client--;
	free(c);
}

static void
ms_timer(struct event *ev, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

/* Timer E: retransmit over UDP */
static void
ctxn_timer_e(evutil_socket_t fd, short what, void *arg)
{
	struct gw_ctxn *c = arg;
	struct gw *gw = c->gw;

	(void)fd;
	(void)what;
	if (c->done)
		return;
	if (gw_tp_send(gw->tp, &c->dst, 0, c->wire, c->wire_len) != 0)
		gw->m.tx_fail++;
	if (c->proceeding)
		c->interval_ms = gw->conf->t2_ms;
	else if (c->interval_ms * 2 < gw->conf->t2_ms)
		c->interval_ms *= 2;
	else
		c->interval_ms = gw->conf->t2_ms;
	ms_timer(c->timer, c->interval_ms);
}

/* Timer F (no final answer: 408 to the sender) or K (linger over) */
static void
ctxn_timer_f(evutil_socket_t fd, short what, void *arg)
{
	struct gw_ctxn *c = arg;
	struct gw *gw = c->gw;
	char ps[80];

	(void)fd;
	(void)what;
	g_hash_table_remove(gw->ctx, c->branch);
	if (!c->done) {
		gw->m.txn_timeouts++;
		log_info("message timeout next_hop=%s: no final answer in "
		    "%u ms, 408 to the sender",
		    gw_peer_str(&c->dst, ps, sizeof(ps)), 64 * gw->conf->t1_ms);
		if (c->stx != NULL) {
			c->stx->client = NULL;
			gw_stx_respond(c->stx, 408, NULL,
			    "no answer from the next hop", NULL);
		}
	}
	c->stx = NULL;
	ctxn_free(c);
}

int
gw_ctxn_start(struct gw_stx *stx, struct gw_msg *req)
{
	struct gw *gw = stx->gw;
	struct gw_ctxn *c;
	const char *host;
	int port;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->gw = gw;
	c->dst = stx->next;
	if (stx->branch[0] != '\0')	/* fixed: a stored message's */
		snprintf(c->branch, sizeof(c->branch), "%s", stx->branch);
	else	/* unique: a counter and this process's random tagmask */
		snprintf(c->branch, sizeof(c->branch),
		    GW_BRANCH_MSG "%llx.%llx", (unsigned long long)++gw->seq,
		    (unsigned long long)gw->tagmask);
	if (g_hash_table_contains(gw->ctx, c->branch)) {
		log_info("a client transaction %s is still open", c->branch);
		free(c);
		return -1;
	}
	if (gw_tp_local(gw->tp, c->dst.proto, c->dst.ss.ss_family, &host,
	    &port) != 0) {
		log_info("no %s listener for the next hop's address family",
		    gw_proto_name(c->dst.proto));
		free(c);
		return -1;
	}
	if (gw->conf->via_host != NULL)
		host = gw->conf->via_host;
	if (gw_via_push(req, c->dst.proto, host, port, c->branch) != 0 ||
	    gw_msg_serialize(req, &c->wire, &c->wire_len) != 0 ||
	    (c->timer = evtimer_new(gw->base, ctxn_timer_e, c)) == NULL ||
	    (c->timer_f = evtimer_new(gw->base, ctxn_timer_f, c)) == NULL) {
		ctxn_free(c);
		return -1;
	}
	if (!gw_wire_reads_back(c->wire, c->wire_len)) {
		ctxn_free(c);
		return -2;	/* libosip2 wrote what it cannot read */
	}
	gw->m.txn_client++;
	if (gw_tp_send(gw->tp, &c->dst, 0, c->wire, c->wire_len) != 0) {
		gw->m.tx_fail++;
		ctxn_free(c);
		return -1;
	}
	c->stx = stx;
	stx->client = c;
	g_hash_table_insert(gw->ctx, c->branch, c);
	if (c->dst.proto == GW_UDP) {
		c->interval_ms = gw->conf->t1_ms;
		ms_timer(c->timer, c->interval_ms);
	}
	ms_timer(c->timer_f, 64u * gw->conf->t1_ms);
	return 0;
}

/*
 * gw_ctxn_on_response_fast - a response to one of our MESSAGE client
 *	transactions, read by gw_resp_peek() without libosip2 (the common
 *	case: half of what the gateway receives)
 */
void
gw_ctxn_on_response_fast(struct gw *gw, const struct gw_resp_peek *pk)
{
	struct gw_resp_info ri;
	struct gw_ctxn *c;
	struct gw_stx *stx;
	char branch[64], reason[128], tag[128], warn[256], ra[32];

	if (!gw_peek_str(pk->branch, pk->branch_len, branch, sizeof(branch)) ||
	    (c = g_hash_table_lookup(gw->ctx, branch)) == NULL) {
		log_debug("response %d for no transaction of ours: dropped",
		    pk->status);
		return;
	}
	if (c->done)
		return;			/* Timer K: absorbed */
	if (pk->status < 200) {
		c->proceeding = 1;
		return;
	}
	c->done = 1;
	evtimer_del(c->timer);
	evtimer_del(c->timer_f);
	memset(&ri, 0, sizeof(ri));
	ri.set = 1;
	if (gw_peek_str(pk->to_tag, pk->to_tag_len, tag, sizeof(tag)))
		ri.to_tag = tag;
	if (gw_peek_str(pk->warning, pk->warning_len, warn, sizeof(warn)))
		ri.warning = warn;
	if (gw_peek_str(pk->retry_after, pk->retry_after_len, ra, sizeof(ra)))
		ri.retry_after = ra;
	if (!gw_peek_str(pk->reason, pk->reason_len, reason, sizeof(reason)))
		reason[0] = '\0';
	if ((stx = c->stx) != NULL) {
		stx->client = NULL;
		c->stx = NULL;
		gw_stx_respond_info(stx, pk->status, reason[0] != '\0' ?
		    reason : NULL, NULL, &ri);
	}
	ms_timer(c->timer_f, c->dst.proto == GW_UDP ? gw->conf->t4_ms : 0);
}

void
gw_ctxn_on_response(struct gw *gw, struct gw_msg *resp)
{
	const char *br = gw_via_branch(resp);
	struct gw_ctxn *c;
	struct gw_stx *stx;
	int status = gw_msg_status(resp);

	if (br == NULL || (c = g_hash_table_lookup(gw->ctx, br)) == NULL) {
		log_debug("response %d for no transaction of ours: dropped",
		    status);
		return;
	}
	if (c->done)
		return;			/* Timer K: absorbed */
	if (status < 200) {
		c->proceeding = 1;
		return;
	}
	c->done = 1;
	evtimer_del(c->timer);
	evtimer_del(c->timer_f);
	if ((stx = c->stx) != NULL) {
		stx->client = NULL;
		c->stx = NULL;
		gw_stx_respond(stx, status, resp->sip->reason_phrase, NULL,
		    resp);
	}
	/* Timer K: T4 on UDP, at once on streams */
	ms_timer(c->timer_f, c->dst.proto == GW_UDP ? gw->conf->t4_ms : 0);
}

/* ---------------------------------------------------------------------- */

void
gw_send_stateless(struct gw *gw, const struct gw_msg *req, int status,
    const char *warning)
{
	struct gw_msg *r = NULL;
	char buf[320], tag[24], *out = NULL;
	size_t len;

	snprintf(tag, sizeof(tag), "ig%llx",
	    (unsigned long long)++gw->seq ^ gw->tagmask);
	if (gw_msg_response(req, status, NULL, tag, &r) != 0)
		return;
	if (warning != NULL) {
		snprintf(buf, sizeof(buf), "399 %s \"%s\"",
		    gw->conf->via_host != NULL ? gw->conf->via_host :
		    "imgate", warning);
		gw_msg_add_header(r, "Warning", buf);
	}
	if (status == 503) {
		snprintf(buf, sizeof(buf), "%u", gw->conf->retry_after);
		gw_msg_add_header(r, "Retry-After", buf);
	}
	if (gw_msg_serialize(r, &out, &len) == 0)
		send_to_upstream(gw, req, out, len);
	if (status >= 200 && status / 100 < 7 &&
	    strcmp(gw_msg_method(req), "MESSAGE") == 0)
		gw->m.final[status / 100]++;
	free(out);
	gw_msg_free(r);
}

/*
 * gw_txn_hop_failed - the transport lost what it queued for peer (a
 *	failed connect or TLS handshake): the MESSAGE client transactions to
 *	it end now with 503 (RFC 3261 8.1.3.1: a transport error counts as a
 *	503), not after Timer F
 */
void
gw_txn_hop_failed(void *arg, const struct gw_peer *peer, const char *why)
{
	struct gw *gw = arg;
	GHashTableIter it;
	gpointer k, v;
	GPtrArray *hit = g_ptr_array_new();
	struct gw_ctxn *c;
	struct gw_stx *stx;
	char ps[80];
	guint i;

	log_info("next hop %s: %s", gw_peer_str(peer, ps, sizeof(ps)), why);
	g_hash_table_iter_init(&it, gw->ctx);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		c = v;
		if (!c->done && gw_peer_eq(&c->dst, peer))
			g_ptr_array_add(hit, c);
	}
	for (i = 0; i < hit->len; i++) {
		c = g_ptr_array_index(hit, i);
		c->done = 1;
		evtimer_del(c->timer);
		if ((stx = c->stx) != NULL) {
			stx->client = NULL;
			c->stx = NULL;
			gw_stx_respond(stx, 503, NULL, why, NULL);
		}
		ms_timer(c->timer_f, 0);	/* freed by its timer */
	}
	g_ptr_array_free(hit, TRUE);
}
