/*
 * gateway/gw_core.c - routing, the stateless relay, and the wrap and
 *	unwrap paths of MESSAGE (design.md section 3)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * Every request that is not a MESSAGE is relayed statelessly (RFC 3261
 * 16.11): our Via on top with a branch derived from the incoming one
 * (so a CANCEL or non-2xx ACK gets the branch of its INVITE) and the
 * stream connection it came on, Max-Forwards decremented, our Route
 * removed, Record-Route added to dialog-creating requests.  Responses
 * to those drop our Via and go to the next one.
 *
 * A MESSAGE gets a server transaction (gw_txn.c) and one of three
 * treatments, by where it goes and what it carries:
 *	wrap	from a local user to a protected domain, not yet protected:
 *		libimgate acting for the sender (KMS policy act_for)
 *	unwrap	to a local user, protected, the user not end-to-end
 *		capable: libimgate resolving as the gateway; the ticket must
 *		name the To user; delivered plain with P-Asserted-Identity
 *	pass	anything else, body untouched
 * then a client transaction to the next hop.  The KMS is asked through
 * the asynchronous transport (gw_kms.c): a transaction that needs it
 * waits, the loop goes on.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/log.h"
#include "gateway/gw_admin.h"
#include "gateway/gw_core.h"

/* ---------------------------------------------------------------------- */
/* Small helpers */

/* uri_host - the host of a URI (not copied), "" if none */
static const char *
uri_host(const osip_uri_t *u)
{
	return u != NULL && u->host != NULL ? u->host : "";
}

/* aor_host - the host part of "sip:user@host" (not copied) */
static const char *
aor_host(const char *aor)
{
	const char *at;

	if (aor == NULL)
		return "";
	if ((at = strrchr(aor, '@')) != NULL)
		return at + 1;
	if ((at = strchr(aor, ':')) != NULL)
		return at + 1;
	return aor;
}

/* memcasemem - case-insensitive search of an ASCII needle in bytes */
static int
memcasemem(const uint8_t *h, size_t hl, const char *n)
{
	size_t nl = strlen(n), i, j;

	if (nl == 0 || hl < nl)
		return 0;
	for (i = 0; i + nl <= hl; i++) {
		for (j = 0; j < nl; j++) {
			uint8_t a = h[i + j], b = (uint8_t)n[j];

			if (a >= 'A' && a <= 'Z')
				a = (uint8_t)(a + 32);
			if (b >= 'A' && b <= 'Z')
				b = (uint8_t)(b + 32);
			if (a != b)
				break;
		}
		if (j == nl)
			return 1;
	}
	return 0;
}

/* is_protected - a multipart/mixed body with an application/mikey part */
static int
is_protected(const struct gw_msg *m)
{
	osip_content_type_t *ct = m->sip->content_type;

	if (ct == NULL || ct->type == NULL || ct->subtype == NULL ||
	    m->body_len == 0)
		return 0;
	if (g_ascii_strcasecmp(ct->type, "multipart") != 0 ||
	    g_ascii_strcasecmp(ct->subtype, "mixed") != 0)
		return 0;
	return memcasemem(m->body, m->body_len, "application/mikey");
}

/* is_us - 1 if host:port is one of our listening addresses */
static int
route_is_us(struct gw *gw, const struct gw_msg *m)
{
	static const int fam[2] = { AF_INET, AF_INET6 };
	const char *host;
	int p, f, port;

	for (p = 0; p < GW_NPROTO; p++)
		for (f = 0; f < 2; f++) {
			if (gw_tp_local(gw->tp, (enum gw_proto)p, fam[f],
			    &host, &port) != 0)
				continue;
			if (gw_route_top_is(m, host, port))
				return 1;
			if (gw->conf->via_host != NULL &&
			    gw_route_top_is(m, gw->conf->via_host, port))
				return 1;
		}
	return 0;
}

/*
 * pick_next - where a request goes: its Route, else a local domain's
 *	inside hop, else a numeric Request-URI host, else the outside hop.
 *	-1 with *why if nowhere.
 */
static int
pick_next(struct gw *gw, struct gw_msg *m, struct gw_peer *out,
    const char **why)
{
	const struct gw_conf *c = gw->conf;
	const char *host;

	while (gw_route_count(m) > 0 && route_is_us(gw, m))
		gw_route_pop(m);
	if (gw_route_count(m) > 0) {
		if (gw_route_next_hop(m, out) == 0)
			return 0;
		*why = "Route is not a numeric address";
		return -1;
	}
	host = uri_host(m->sip->req_uri);
	if (gw_domain_in(c->local_domains, c->nlocal, host)) {
		if (c->inside.set) {
			*out = c->inside.peer;
			return 0;
		}
		*why = "no inside next hop configured";
		return -1;
	}
	if (gw_uri_peer(m, out) == 0)
		return 0;
	if (c->outside.set) {
		*out = c->outside.peer;
		return 0;
	}
	*why = "no outside next hop configured";
	return -1;
}

/* ---------------------------------------------------------------------- */
/* Stateless relay */

/*
 * relay_branch - our branch for a relayed request: a keyed hash of the
 *	incoming top Via's branch and sent-by (the same for an INVITE, its
 *	CANCEL and its non-2xx ACK) and the connection it came on
 */
static void
relay_branch(struct gw *gw, const struct gw_msg *m, char *out, size_t len)
{
	osip_via_t *v = NULL;
	const char *br = gw_via_branch(m);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdl = 0;
	EVP_MD_CTX *h = EVP_MD_CTX_new();

	osip_message_get_via(m->sip, 0, &v);
	if (h != NULL && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1) {
		EVP_DigestUpdate(h, gw->secret, sizeof(gw->secret));
		if (br != NULL)
			EVP_DigestUpdate(h, br, strlen(br));
		if (v != NULL && v->host != NULL)
			EVP_DigestUpdate(h, v->host, strlen(v->host));
		if (v != NULL && v->port != NULL)
			EVP_DigestUpdate(h, v->port, strlen(v->port));
		EVP_DigestFinal_ex(h, md, &mdl);
	}
	EVP_MD_CTX_free(h);
	if (mdl < 8)
		memset(md, 0, 8);
	snprintf(out, len, GW_BRANCH_RELAY "%02x%02x%02x%02x%02x%02x%02x%02x"
	    "-%llx", md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7],
	    (unsigned long long)m->conn);
}

static void
relay_request(struct gw *gw, struct gw_msg *m)
{
	const char *method = gw_msg_method(m), *why = NULL, *host;
	struct gw_peer next;
	char branch[64], ps[80], *out = NULL;
	size_t len;
	int port, ack = strcmp(method, "ACK") == 0;

	if (gw_maxfwd(m) < 0) {
		if (!ack)
			gw_send_stateless(gw, m, 483, "Max-Forwards reached 0");
		return;
	}
	if (pick_next(gw, m, &next, &why) != 0) {
		log_info("relay %s: no route: %s", method, why);
		if (!ack)
			gw_send_stateless(gw, m, 502, why);
		return;
	}
	/* dialog-creating requests: stay on the path (loose routing) */
	if ((strcmp(method, "INVITE") == 0 || strcmp(method, "SUBSCRIBE") ==
	    0 || strcmp(method, "REFER") == 0) &&
	    gw_tp_local(gw->tp, m->src.proto, m->src.ss.ss_family, &host,
	    &port) == 0)
		gw_rr_push(m, m->src.proto, gw->conf->via_host != NULL ?
		    gw->conf->via_host : host, port);
	if (strcmp(method, "REGISTER") == 0)
		gw_deliver_register_req(gw, m);
	relay_branch(gw, m, branch, sizeof(branch));
	if (gw_tp_local(gw->tp, next.proto, next.ss.ss_family, &host,
	    &port) != 0) {
		log_info("relay %s: no %s listener for %s", method,
		    gw_proto_name(next.proto), gw_peer_str(&next, ps,
		    sizeof(ps)));
		if (!ack)
			gw_send_stateless(gw, m, 502, "no transport to the "
			    "next hop");
		return;
	}
	if (gw_via_push(m, next.proto, gw->conf->via_host != NULL ?
	    gw->conf->via_host : host, port, branch) != 0 ||
	    gw_msg_serialize(m, &out, &len) != 0) {
		log_warn("relay %s: cannot build the request", method);
		return;
	}
	if (!gw_wire_reads_back(out, len)) {
		gw->m.rx_bad++;
		log_info("relay %s: its headers do not survive libosip2's "
		    "writer: refused", method);
		if (!ack)
			gw_send_stateless(gw, m, 400, "malformed headers");
		free(out);
		return;
	}
	if (gw_tp_send(gw->tp, &next, 0, out, len) != 0) {
		log_info("relay %s to %s failed", method,
		    gw_peer_str(&next, ps, sizeof(ps)));
		if (!ack)
			gw_send_stateless(gw, m, 503, "next hop unreachable");
	} else {
		gw->m.relayed_req++;
		log_debug("relay %s to %s", method, gw_peer_str(&next, ps,
		    sizeof(ps)));
	}
	free(out);
}

static void
relay_response(struct gw *gw, struct gw_msg *m)
{
	const char *br = gw_via_branch(m), *dash;
	struct gw_peer next;
	unsigned long long conn = 0;
	char ps[80], *out = NULL;
	size_t len;

	gw_deliver_register(gw, m);	/* a REGISTER's 2xx: online */
	if ((dash = strrchr(br, '-')) != NULL)
		conn = strtoull(dash + 1, NULL, 16);
	if (gw_via_pop(m) != 0 || gw_via_count(m) == 0 ||
	    gw_via_next_hop(m, &next) != 0) {
		log_info("relayed response %d: no Via to send it to: dropped",
		    gw_msg_status(m));
		return;
	}
	if (gw_msg_serialize(m, &out, &len) != 0)
		return;
	if (!gw_wire_reads_back(out, len)) {
		gw->m.rx_bad++;
		log_info("relayed response %d does not survive libosip2's "
		    "writer: dropped", gw_msg_status(m));
		free(out);
		return;
	}
	if (gw_tp_send(gw->tp, &next, (uint64_t)conn, out, len) != 0)
		log_info("relay response %d to %s failed", gw_msg_status(m),
		    gw_peer_str(&next, ps, sizeof(ps)));
	else
		gw->m.relayed_resp++;
	free(out);
}

/* ---------------------------------------------------------------------- */
/* MESSAGE */

static enum gw_reject
reject_of(int err)
{
	switch (err) {
	case IMGATE_ERR_MALFORMED:
	case IMGATE_ERR_TIMESTAMP:
		return GW_REJ_MALFORMED;
	case IMGATE_ERR_TOO_BIG:
		return GW_REJ_TOO_BIG;
	case IMGATE_ERR_CONTENT_TYPE:
		return GW_REJ_TYPE;
	case IMGATE_ERR_UNDECIPHERABLE:
		return GW_REJ_UNDECIPHERABLE;
	case IMGATE_ERR_REPLAY:
	case IMGATE_ERR_TOO_OLD:
		return GW_REJ_REPLAY;
	case IMGATE_ERR_EXPIRED:
		return GW_REJ_EXPIRED;
	case IMGATE_ERR_NOT_AUTHORISED:
		return GW_REJ_NOT_AUTHORISED;
	case IMGATE_ERR_POLICY:
	case IMGATE_ERR_IDENTITY:
	case IMGATE_ERR_SIGNATURE:
		return GW_REJ_POLICY;
	case IMGATE_ERR_KMS_UNAVAILABLE:
		return GW_REJ_KMS;
	default:
		return GW_REJ_INTERNAL;
	}
}

static const char *
op_name(enum gw_op op)
{
	switch (op) {
	case GW_OP_WRAP:
		return "wrap";
	case GW_OP_UNWRAP:
		return "unwrap";
	case GW_OP_LIST:
		return "list";
	case GW_OP_REWRAP:
		return "rewrap";
	case GW_OP_PASS:
		break;
	}
	return "pass";
}

/* reject - answer a MESSAGE with status, count and log it once */
static void
reject(struct gw_stx *stx, int status, enum gw_reject why, const char *text,
    const char *detail)
{
	struct gw *gw = stx->gw;
	const struct gw_msg *m = stx->req;
	char ps[80];

	stx->refused_here = 1;
	if (stx->refuse_err == 0)
		stx->refuse_err = IMGATE_ERR_POLICY;
	gw->m.rejected[why]++;
	log_info("message rejected status=%d reason=%s call_id=%s src=%s "
	    "op=%s detail=\"%s\"", status, gw_reject_name(why),
	    m->sip->call_id && m->sip->call_id->number ?
	    m->sip->call_id->number : "-",
	    gw_peer_str(&m->src, ps, sizeof(ps)),
	    op_name(stx->op), detail != NULL ? detail : text);
	gw_stx_respond(stx, status, NULL, text, NULL);
}

void
gw_stx_fail(struct gw_stx *stx, int err)
{
	stx->refuse_err = err;
	reject(stx, imgate_sip_status(err), reject_of(err),
	    imgate_strerror(err), imgate_last_detail(stx->gw->ic));
}

static void
kms_counts(struct gw *gw)
{
	imgate_ctx_kms_calls(gw->ic, &gw->m.kms_requests,
	    &gw->m.kms_resolves);
}

/* wait_kms - park stx until the KMS exchange the library started ends */
static void
wait_kms(struct gw_stx *stx)
{
	struct gw *gw = stx->gw;
	uint64_t id = imgate_pending_id(gw->ic);
	GPtrArray *w;

	kms_counts(gw);
	if ((w = g_hash_table_lookup(gw->waiting, &id)) == NULL) {
		uint64_t *k = g_new(uint64_t, 1);

		*k = id;
		w = g_ptr_array_new();
		g_hash_table_insert(gw->waiting, k, w);
	}
	g_ptr_array_add(w, stx);
	stx->pending = id;
	gw->m.kms_waiting++;
}

/* send_on - the downstream request with this body; the client txn */
static void
send_on(struct gw_stx *stx, const char *ctype, const uint8_t *body,
    size_t len)
{
	struct gw_msg *down = stx->down;
	char ps[80];
	int rc;

	stx->down = NULL;
	if (gw_msg_set_body(down, ctype, body, len) != 0) {
		gw_msg_free(down);
		reject(stx, 500, GW_REJ_INTERNAL, "internal error",
		    "cannot set the body");
		return;
	}
	if ((rc = gw_ctxn_start(stx, down)) != 0) {
		gw_msg_free(down);
		if (rc == -2)
			reject(stx, 400, GW_REJ_MALFORMED, "malformed headers",
			    "they do not survive libosip2's writer");
		else
			reject(stx, 503, GW_REJ_NO_ROUTE, "next hop "
			    "unreachable", gw_peer_str(&stx->next, ps,
			    sizeof(ps)));
		return;
	}
	gw_msg_free(down);
}

static void
do_wrap(struct gw_stx *stx)
{
	struct gw *gw = stx->gw;
	const struct gw_msg *m = stx->req;
	char *from = gw_msg_from_aor(m), *to = gw_msg_to_aor(m);
	char *ctype = gw_msg_ctype(m), *oct = NULL;
	const char *rcpt[1];
	uint8_t *ob = NULL;
	size_t ol = 0;
	int rc;

	rcpt[0] = to;
	if (from == NULL || to == NULL) {
		reject(stx, 400, GW_REJ_MALFORMED, "bad From or To", NULL);
		goto out;
	}
	rc = imgate_wrap(gw->ic, from, rcpt, 1, ctype != NULL ? ctype :
	    "text/plain", m->body, m->body_len, &ob, &ol, &oct);
	if (rc == IMGATE_ERR_PENDING) {
		wait_kms(stx);
		goto out;
	}
	kms_counts(gw);
	if (rc != 0) {
		gw_stx_fail(stx, rc);
		goto out;
	}
	gw->m.wrapped++;
	log_debug("message wrapped from=%s to=%s bytes=%zu", from, to, ol);
	send_on(stx, oct, ob, ol);
out:
	free(ob);
	free(oct);
	free(ctype);
	free(from);
	free(to);
}

/* set_display - From display name = the verified sender, quoted */
static void
set_display(struct gw_msg *m, const char *who)
{
	char *q;

	if (m->sip->from == NULL)
		return;
	if ((q = osip_malloc(strlen(who) + 3)) == NULL)
		return;
	snprintf(q, strlen(who) + 3, "\"%s\"", who);
	osip_free(m->sip->from->displayname);
	m->sip->from->displayname = q;
	osip_message_force_update(m->sip);
}

/* is_inner_entity - a user entity that is itself a protected message's
 *	entity (message/cpim, or signed-data): a list's re-encryption */
static int
is_inner_entity(const char *ct)
{
	return ct != NULL && (g_ascii_strncasecmp(ct, "message/cpim", 12) ==
	    0 || (g_ascii_strncasecmp(ct, "application/pkcs7-mime", 22) == 0 &&
	    strstr(ct, "signed-data") != NULL));
}

static void
do_unwrap(struct gw_stx *stx)
{
	struct gw *gw = stx->gw;
	const struct gw_msg *m = stx->req;
	struct imgate_result *r = NULL, *in = NULL;
	char *from = gw_msg_from_aor(m), *to = gw_msg_to_aor(m);
	char *ctype = gw_msg_ctype(m), pai[2 * IMGATE_MAX_URI + 16];
	size_t i;
	int rc, named;

	if (to == NULL || ctype == NULL) {
		reject(stx, 400, GW_REJ_MALFORMED, "bad To or Content-Type",
		    NULL);
		goto out;
	}
	/* held until the next hop's 2xx: gw_deliver_intercept() */
	rc = imgate_unwrap_hold(gw->ic, to, from, ctype, m->body,
	    m->body_len, &r);
	if (rc == IMGATE_ERR_PENDING) {
		wait_kms(stx);
		goto out;
	}
	kms_counts(gw);
	if (rc != 0) {
		gw_stx_fail(stx, rc);
		goto out;
	}
	if ((stx->hold = calloc(1, sizeof(*stx->hold))) == NULL) {
		if (imgate_unwrap_release(gw->ic, r, 0) != 0)
			log_warn("replay cache: release failed");
		reject(stx, 500, GW_REJ_INTERNAL, "internal error", "hold");
		goto out;
	}
	stx->hold->hold_id = r->hold_id;	/* the plaintext goes below */
	/* the KMS let us resolve because we act for the domain: the ticket
	 * must also name this recipient */
	if (r->addressed_to != NULL) {
		const struct gw_group *g;

		named = g_ascii_strcasecmp(r->addressed_to, to) == 0;
		/* a ticket for a group: To must be one of its members */
		if (!named && (g = gw_group_find(gw->conf,
		    r->addressed_to)) != NULL)
			named = gw_uri_in(g->members, g->nmembers, to);
	} else {
		for (named = 0, i = 0; i < r->nto && !named; i++)
			named = g_ascii_strcasecmp(r->to[i], to) == 0;
		for (i = 0; i < r->ncc && !named; i++)
			named = g_ascii_strcasecmp(r->cc[i], to) == 0;
	}
	if (!named) {
		reject(stx, 403, GW_REJ_NOT_AUTHORISED,
		    "not addressed to this recipient",
		    "the TRANSFER_INIT names another responder than To");
		goto out;
	}
	if (!gw_type_allowed(gw->conf->allow_types, gw->conf->nallow,
	    r->content_type)) {
		reject(stx, 415, GW_REJ_TYPE, "inner content type not "
		    "allowed", r->content_type);
		goto out;
	}
	gw_msg_del_header(stx->down, "P-Asserted-Identity");
	snprintf(pai, sizeof(pai), "<%s>", r->sender);
	gw_msg_add_header(stx->down, "P-Asserted-Identity", pai);
	if (is_inner_entity(r->content_type)) {
		/* a list re-encrypted it: the list is the verified sender
		 * (the S/MIME identity), the author's entity is inside */
		if ((rc = imgate_open_inner(gw->ic, r->content_type, r->body,
		    r->body_len, &in)) != 0) {
			gw_stx_fail(stx, rc);
			goto out;
		}
		snprintf(pai, sizeof(pai), "%s (via %s)", in->sender,
		    r->sender);
		set_display(stx->down, pai);
		log_info("message from list %s, author %s%s", r->sender,
		    in->sender, in->signer != NULL ? " (signed)" : "");
		gw->m.unwrapped++;
		send_on(stx, in->content_type, in->body, in->body_len);
		goto out;
	}
	if (r->differs_from_sip_from) {
		set_display(stx->down, r->sender);
		log_info("message identity differs: SIP From %s, verified "
		    "sender %s (shown)", from != NULL ? from : "-", r->sender);
	}
	gw->m.unwrapped++;
	log_debug("message unwrapped sender=%s to=%s kms=%d", r->sender, to,
	    r->kms_called);
	send_on(stx, r->content_type, r->body, r->body_len);
out:
	imgate_result_free(in);
	imgate_result_free(r);
	free(ctype);
	free(from);
	free(to);
}

static void do_list(struct gw_stx *);
static void do_rewrap(struct gw_stx *);

void
gw_stx_work(struct gw_stx *stx)
{
	char *ctype;

	switch (stx->op) {
	case GW_OP_WRAP:
		do_wrap(stx);
		break;
	case GW_OP_UNWRAP:
		do_unwrap(stx);
		break;
	case GW_OP_LIST:
		do_list(stx);
		break;
	case GW_OP_REWRAP:
		do_rewrap(stx);
		break;
	case GW_OP_PASS:
		stx->gw->m.passed++;
		ctype = gw_msg_ctype(stx->req);
		send_on(stx, ctype, stx->req->body, stx->req->body_len);
		free(ctype);
		break;
	}
}

/* msg_clone - a copy of m's headers (the body is set later) */
static int
msg_clone(const struct gw_msg *m, struct gw_msg **out)
{
	struct gw_msg *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return -1;
	if (osip_message_clone(m->sip, &d->sip) != 0) {
		free(d);
		return -1;
	}
	d->src = m->src;
	d->conn = m->conn;
	d->listener = m->listener;
	*out = d;
	return 0;
}

/* strip_vias - a request to originate from a received one: no Via */
static void
strip_vias(struct gw_msg *m)
{
	while (gw_via_count(m) > 0)
		if (gw_via_pop(m) != 0)
			break;
}

static void
on_message(struct gw *gw, struct gw_msg *m, const struct gw_rx *rx)
{
	struct gw_stx *stx;
	int is_new;

	if ((stx = gw_stx_find_or_new(gw, m, &is_new)) == NULL) {
		gw_send_stateless(gw, m, 503, "too many transactions");
		gw_msg_free(m);
		return;
	}
	if (!is_new) {
		gw_msg_free(m);		/* a retransmission, answered */
		return;
	}
	/* the bytes as received, in case they must be stored verbatim */
	if (gw->store != NULL && is_protected(m) &&
	    (stx->raw = malloc(rx->head_len + rx->body_len)) != NULL) {
		memcpy(stx->raw, rx->head, rx->head_len);
		memcpy(stx->raw + rx->head_len, rx->body, rx->body_len);
		stx->raw_len = rx->head_len + rx->body_len;
	}
	gw_stx_start(stx);
}

/*
 * member_copy - a local transaction for the copy of stx's request for one
 *	member of a list: R-URI and To the member, SIP From kept, the body
 *	(ctype, body) given; NULL on failure
 */
static struct gw_stx *
member_copy(struct gw_stx *stx, const char *member, const char *ctype,
    const uint8_t *body, size_t len)
{
	struct gw *gw = stx->gw;
	struct gw_stx *kid;
	struct gw_msg *cm;
	osip_uri_t *u = NULL, *t = NULL;
	char *wire = NULL;
	size_t wl;

	if (msg_clone(stx->req, &cm) != 0)
		return NULL;
	if (gw_msg_set_body(cm, ctype, body, len) != 0 ||
	    osip_uri_init(&u) != 0 || osip_uri_parse(u, member) != 0 ||
	    (cm->sip->to != NULL && (osip_uri_init(&t) != 0 ||
	    osip_uri_parse(t, member) != 0))) {
		osip_uri_free(u);
		osip_uri_free(t);
		gw_msg_free(cm);
		return NULL;
	}
	osip_uri_free(cm->sip->req_uri);
	cm->sip->req_uri = u;
	if (cm->sip->to != NULL) {
		osip_uri_free(cm->sip->to->url);
		cm->sip->to->url = t;
	}
	/* a Call-ID of its own: the copies are new requests (spec/smime-
	 * sip.md 5.4), and elements that match by Call-ID (sipp) must not
	 * take one member's copy for another's */
	if (cm->sip->call_id != NULL && cm->sip->call_id->number != NULL) {
		char *n = osip_malloc(strlen(cm->sip->call_id->number) + 24);

		if (n != NULL) {
			sprintf(n, "%s-m%llx", cm->sip->call_id->number,
			    (unsigned long long)++gw->seq);
			osip_free(cm->sip->call_id->number);
			cm->sip->call_id->number = n;
		}
	}
	osip_message_force_update(cm->sip);
	if ((kid = gw_stx_new_local(gw, cm)) == NULL) {
		gw_msg_free(cm);
		return NULL;
	}
	kid->parent = stx;
	if ((kid->member = strdup(member)) == NULL) {
		gw_stx_dispose(kid);
		return NULL;
	}
	/* its bytes, should the member be offline (stored as they are) */
	if (gw->store != NULL && is_protected(cm) &&
	    gw_msg_serialize(cm, &wire, &wl) == 0) {
		kid->raw = (uint8_t *)wire;
		kid->raw_len = wl;
	}
	return kid;
}

/* start_kids - start the n copies of stx (nchild set first: a copy may
 *	end at once); on a failure to make them, dispose and refuse */
static void
start_kids(struct gw_stx *stx, struct gw_stx **kids, size_t n, int ok)
{
	size_t i;

	if (!ok) {
		for (i = 0; i < n; i++)
			gw_stx_dispose(kids[i]);
		reject(stx, 500, GW_REJ_INTERNAL, "internal error",
		    "list copy");
		return;
	}
	stx->nchild = n;
	for (i = 0; i < n; i++)
		gw_stx_start(kids[i]);
}

/*
 * fan_out - a MESSAGE for a list served here (mode fanout): one copy per
 *	member, the body unchanged (a group ticket every member resolves as
 *	itself; the KMS checks membership).  Each copy goes its own way (a
 *	local member: unwrapped or stored here; another domain: passed on,
 *	protected); child_done() (gw_deliver.c) answers the sender when all
 *	have ended.
 */
static void
fan_out(struct gw_stx *stx, const struct gw_group *g)
{
	struct gw_stx *kids[GW_MAX_LIST];
	char *ct = gw_msg_ctype(stx->req);
	size_t i, n = 0;
	int ok = 1;

	log_info("list %s: fan-out to %zu members", g->uri, g->nmembers);
	for (i = 0; i < g->nmembers && ok; i++)
		if ((kids[n] = member_copy(stx, g->members[i], ct,
		    stx->req->body, stx->req->body_len)) != NULL)
			n++;
		else
			ok = 0;
	free(ct);
	start_kids(stx, kids, n, ok);
}

/*
 * do_list - a MESSAGE for a list served here (mode reencrypt): opened as
 *	the list (its exploder at the KMS), then the sender's entity,
 *	unchanged, re-encrypted for each member inside the list's own CPIM
 *	(From the list, To the member, cc the others) by do_rewrap().
 */
static void
do_list(struct gw_stx *stx)
{
	struct gw *gw = stx->gw;
	const struct gw_group *g = stx->list;
	const struct gw_msg *m = stx->req;
	struct imgate_result *r = NULL;
	struct gw_stx *kids[GW_MAX_LIST];
	char *from = gw_msg_from_aor(m), *ctype = gw_msg_ctype(m);
	size_t i, n = 0;
	int rc, ok = 1;

	if (ctype == NULL || !is_protected(m)) {
		reject(stx, 488, GW_REJ_UNPROTECTED, "the list takes protected "
		    "messages only", g->uri);
		goto out;
	}
	/* held: into the replay cache only if a member accepts it, so the
	 * sender may try again when none did (gw_deliver_intercept) */
	rc = imgate_unwrap_hold(gw->ic, g->uri, from, ctype, m->body,
	    m->body_len, &r);
	if (rc == IMGATE_ERR_PENDING) {
		wait_kms(stx);
		goto out;
	}
	kms_counts(gw);
	if (rc != 0) {
		gw_stx_fail(stx, rc);
		goto out;
	}
	if ((stx->hold = calloc(1, sizeof(*stx->hold))) == NULL) {
		if (imgate_unwrap_release(gw->ic, r, 0) != 0)
			log_warn("replay cache: release failed");
		reject(stx, 500, GW_REJ_INTERNAL, "internal error", "hold");
		goto out;
	}
	stx->hold->hold_id = r->hold_id;
	if (r->addressed_to == NULL || gw_group_find(gw->conf,
	    r->addressed_to) != g || r->entity == NULL) {
		reject(stx, 403, GW_REJ_NOT_AUTHORISED, "not a ticket for this "
		    "list", r->addressed_to != NULL ? r->addressed_to : "-");
		goto out;
	}
	log_info("list %s: re-encrypting for %zu members, author %s",
	    g->uri, g->nmembers, r->sender);
	for (i = 0; i < g->nmembers && ok; i++) {
		if ((kids[n] = member_copy(stx, g->members[i], NULL, NULL,
		    0)) == NULL) {
			ok = 0;
			break;
		}
		kids[n]->op = GW_OP_REWRAP;
		kids[n]->list = g;
		kids[n]->ent_len = r->entity_len;
		if ((kids[n]->ent_type = strdup(r->entity_type)) == NULL ||
		    (kids[n]->ent = malloc(r->entity_len)) == NULL)
			ok = 0;
		else
			memcpy(kids[n]->ent, r->entity, r->entity_len);
		n++;
	}
	start_kids(stx, kids, n, ok);
out:
	imgate_result_free(r);
	free(ctype);
	free(from);
}

/*
 * do_rewrap - a member's copy: the entity in the list's CPIM, wrapped for
 *	the member as the list (MIKEY initiator: the list URI, which this
 *	gateway may act for).  A member of another domain gets it as it is;
 *	a member here gets it through the same inbound path as any protected
 *	message (unwrapped now, or stored while offline).
 */
static void
do_rewrap(struct gw_stx *stx)
{
	struct gw *gw = stx->gw;
	const struct gw_group *g = stx->list;
	const char *cc[IMGATE_MAX_ADDRS], *rcpt[1];
	struct gw_stx *gc;
	struct gw_msg *cm = NULL;
	uint8_t *ob = NULL;
	char *oct = NULL, *wire = NULL;
	size_t i, ncc = 0, ol = 0, wl;
	int rc;

	for (i = 0; i < g->nmembers && ncc < IMGATE_MAX_ADDRS; i++)
		if (strcmp(g->members[i], stx->member) != 0)
			cc[ncc++] = g->members[i];
	rcpt[0] = stx->member;
	rc = imgate_wrap_cc(gw->ic, g->uri, rcpt, 1, cc, ncc, stx->ent_type,
	    stx->ent, stx->ent_len, &ob, &ol, &oct);
	if (rc == IMGATE_ERR_PENDING) {
		wait_kms(stx);
		return;
	}
	kms_counts(gw);
	if (rc != 0) {
		gw_stx_fail(stx, rc);
		return;
	}
	gw->m.wrapped++;
	if (!gw_domain_in(gw->conf->local_domains, gw->conf->nlocal,
	    aor_host(stx->member))) {
		send_on(stx, oct, ob, ol);
		goto out;
	}
	/* a member here: a grandchild through the inbound path */
	if (msg_clone(stx->req, &cm) != 0 || gw_msg_set_body(cm, oct, ob,
	    ol) != 0 || (gc = gw_stx_new_local(gw, cm)) == NULL) {
		gw_msg_free(cm);
		reject(stx, 500, GW_REJ_INTERNAL, "internal error", "rewrap");
		goto out;
	}
	gc->parent = stx;
	if ((gc->member = strdup(stx->member)) == NULL) {
		gw_stx_dispose(gc);
		reject(stx, 500, GW_REJ_INTERNAL, "internal error", "rewrap");
		goto out;
	}
	if (gw->store != NULL && gw_msg_serialize(cm, &wire, &wl) == 0) {
		gc->raw = (uint8_t *)wire;
		gc->raw_len = wl;
	}
	stx->nchild = 1;
	gw_stx_start(gc);
out:
	free(ob);
	free(oct);
}

/*
 * gw_stx_start - decide what to do with the MESSAGE of stx and do it:
 *	the request to send on, its next hop, wrap / unwrap / pass, or store
 *	it for an offline user
 */
void
gw_stx_start(struct gw_stx *stx)
{
	struct gw *gw = stx->gw;
	const struct gw_conf *c = gw->conf;
	struct gw_msg *m = stx->req;
	struct gw_msg *down = NULL;
	const char *why = NULL, *rhost, *fhost;
	char *from = NULL, *to = NULL;
	int prot;

	/* the request we will send on: the same headers, no Via */
	if (msg_clone(m, &down) != 0) {
		reject(stx, 500, GW_REJ_INTERNAL, "internal error", "clone");
		return;
	}
	stx->down = down;
	strip_vias(down);
	if (gw_maxfwd(down) < 0) {
		reject(stx, 483, GW_REJ_LOOP, "Max-Forwards reached 0", NULL);
		return;
	}
	if (pick_next(gw, down, &stx->next, &why) != 0) {
		reject(stx, 404, GW_REJ_NO_ROUTE, "no route", why);
		return;
	}
	from = gw_msg_from_aor(m);
	to = gw_msg_to_aor(m);
	rhost = uri_host(m->sip->req_uri);
	fhost = aor_host(from);
	prot = is_protected(m);
	if (stx->parent == NULL && gw_domain_in(c->local_domains, c->nlocal,
	    rhost)) {
		char *ruri = gw_msg_ruri_aor(m);
		const struct gw_group *g = gw_group_find(c, ruri);

		free(ruri);
		if (g != NULL && g->list && g->reencrypt) {
			stx->op = GW_OP_LIST;
			stx->list = g;
			gw_stx_work(stx);
			goto out;
		}
		if (g != NULL && g->list) {
			fan_out(stx, g);
			goto out;
		}
	}
	if (stx->op == GW_OP_REWRAP) {	/* a list's copy: decided already */
		gw_stx_work(stx);
		goto out;
	}
	if (gw_domain_in(c->local_domains, c->nlocal, rhost)) {
		if (prot && stx->q_id == 0 && stx->raw != NULL &&
		    gw_deliver_offline(gw, to)) {
			stx->op = GW_OP_UNWRAP;
			gw_deliver_store(stx, 0);	/* 202 after commit */
			goto out;
		}
		if (prot)
			stx->op = gw_uri_in(c->e2e_users, c->ne2e, to) ?
			    GW_OP_PASS : GW_OP_UNWRAP;
		else if (c->require_protection &&
		    !gw_domain_in(c->local_domains, c->nlocal, fhost)) {
			reject(stx, 488, GW_REJ_UNPROTECTED,
			    "protection required", NULL);
			goto out;
		} else
			stx->op = GW_OP_PASS;
	} else if (!prot && m->body_len > 0 &&
	    gw_domain_in(c->local_domains, c->nlocal, fhost) &&
	    gw_domain_in(c->protect, c->nprotect, aor_host(to)))
		stx->op = GW_OP_WRAP;
	else
		stx->op = GW_OP_PASS;
	gw_stx_work(stx);
out:
	free(from);
	free(to);
}

void
gw_on_rx(void *arg, const struct gw_rx *rx)
{
	struct gw *gw = arg;
	struct gw_msg *m = NULL;
	struct gw_resp_peek pk;
	const char *why = NULL;
	char ps[80];

	/* the answers to our own MESSAGEs: no need for libosip2 */
	if (!rx->short_body && gw_resp_peek(rx->head, rx->head_len,
	    &pk) == 0 && pk.branch_len > strlen(GW_BRANCH_MSG) &&
	    strncmp(pk.branch, GW_BRANCH_MSG, strlen(GW_BRANCH_MSG)) == 0) {
		gw_ctxn_on_response_fast(gw, &pk);
		return;
	}
	if (gw_msg_parse(rx->head, rx->head_len, rx->short_body ? NULL :
	    rx->body, rx->short_body ? 0 : rx->body_len, &m, &why) != 0) {
		gw->m.rx_bad++;
		log_info("drop: unparsable message from %s: %s",
		    gw_peer_str(&rx->src, ps, sizeof(ps)), why);
		return;
	}
	m->src = rx->src;
	m->conn = rx->conn;
	m->listener = rx->listener;
	if (!gw_msg_is_request(m)) {
		const char *br = gw_via_branch(m);

		if (br != NULL && strncmp(br, GW_BRANCH_MSG,
		    strlen(GW_BRANCH_MSG)) == 0)
			gw_ctxn_on_response(gw, m);
		else if (br != NULL && strncmp(br, GW_BRANCH_RELAY,
		    strlen(GW_BRANCH_RELAY)) == 0)
			relay_response(gw, m);
		else
			log_debug("response %d not for us: dropped",
			    gw_msg_status(m));
		gw_msg_free(m);
		return;
	}
	gw_via_received(m);
	if (rx->short_body) {
		gw->m.rx_bad++;
		log_info("drop: %s from %s shorter than its Content-Length",
		    gw_msg_method(m), gw_peer_str(&rx->src, ps, sizeof(ps)));
		if (strcmp(gw_msg_method(m), "ACK") != 0)
			gw_send_stateless(gw, m, 400, "body shorter than "
			    "Content-Length");
		gw_msg_free(m);
		return;
	}
	if (strcmp(gw_msg_method(m), "MESSAGE") == 0) {
		on_message(gw, m, rx);	/* takes m */
		return;
	}
	relay_request(gw, m);
	gw_msg_free(m);
}

/* ---------------------------------------------------------------------- */
/* The replay cache image (state_dir/replay.img) */

void
gw_save_replay(struct gw *gw)
{
	uint8_t *img = NULL;
	size_t len = 0;
	char *tmp;
	int fd;

	if (gw->replay_path == NULL || !gw->replay_dirty)
		return;
	if (imgate_ctx_save_replay(gw->ic, &img, &len) != 0)
		return;
	tmp = g_strdup_printf("%s.tmp", gw->replay_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, img, len) != (ssize_t)len || fsync(fd) != 0 ||
	    close(fd) != 0 || rename(tmp, gw->replay_path) != 0) {
		log_warn("cannot save the replay cache to %s: %s",
		    gw->replay_path, strerror(errno));
		if (fd >= 0)
			close(fd);
	} else
		gw->replay_dirty = 0;
	g_free(tmp);
	free(img);
}

static void
save_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	gw_save_replay(arg);
}

static int
load_replay(struct gw *gw, char *err, size_t errlen)
{
	gchar *buf = NULL;
	gsize len = 0;
	GError *ge = NULL;
	int rc;

	if (gw->conf->state_dir == NULL)
		return 0;
	gw->replay_path = g_strdup_printf("%s/replay.img",
	    gw->conf->state_dir);
	if (!g_file_get_contents(gw->replay_path, &buf, &len, &ge)) {
		if (ge->code != G_FILE_ERROR_NOENT) {
			snprintf(err, errlen, "%s", ge->message);
			g_error_free(ge);
			return -1;
		}
		g_error_free(ge);
		log_info("replay cache: %s not there, starting empty",
		    gw->replay_path);
		return 0;
	}
	rc = imgate_ctx_load_replay(gw->ic, (const uint8_t *)buf, len);
	g_free(buf);
	if (rc != 0) {
		snprintf(err, errlen, "replay cache %s is damaged (%s); move "
		    "it away to start with an empty one (replays of old "
		    "messages would then pass)", gw->replay_path,
		    imgate_strerror(rc));
		return -1;
	}
	log_info("replay cache loaded from %s", gw->replay_path);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The process */

static int64_t
clock_cb(void *arg)
{
	struct gw *gw = arg;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec + gw->clock_offset) * 1000000000 +
	    ts.tv_nsec;
}

static int
make_ctx(struct gw *gw, char *err, size_t errlen)
{
	const struct gw_conf *c = gw->conf;
	struct imgate_opts o;
	int rc;

	imgate_opts_init(&o);
	o.suite = c->suite256 ? IMGATE_SUITE_256 : IMGATE_SUITE_128;
	o.ticket_lifetime = c->ticket_lifetime;
	if (c->replay_entries != 0)
		o.replay_entries = c->replay_entries;
	o.max_body = c->max_body;
	o.kms_id = c->kms_id;
	o.timeout = (int)c->kms_timeout;
	o.ca_file = c->kms_ca_file;
	if ((rc = imgate_ctx_new(c->identity, c->kms_url, c->psk, c->psk_len,
	    &o, &gw->ic)) != 0) {
		snprintf(err, errlen, "identity %s / kms_url %s: %s",
		    c->identity, c->kms_url, imgate_strerror(rc));
		return -1;
	}
	if (gw->clock_offset != 0)
		imgate_ctx_set_clock(gw->ic, clock_cb, gw);
	if (c->sign_cert != NULL && (rc = imgate_ctx_set_signer(gw->ic,
	    c->sign_cert, c->sign_key, NULL)) != 0) {
		snprintf(err, errlen, "sign_cert %s / sign_key %s: %s",
		    c->sign_cert, c->sign_key, imgate_last_detail(gw->ic));
		return -1;
	}
	if (c->trust_ca != NULL && (rc = imgate_ctx_set_trust(gw->ic,
	    c->trust_ca)) != 0) {
		snprintf(err, errlen, "trust_ca %s: %s", c->trust_ca,
		    imgate_last_detail(gw->ic));
		return -1;
	}
	return 0;
}

static void
waiting_free(gpointer p)
{
	g_ptr_array_free(p, TRUE);
}

int
gw_new(struct event_base *base, struct gw_conf *conf, size_t sockbuf,
    int64_t clock_offset, struct gw **out, char *err, size_t errlen)
{
	struct gw *gw;
	struct timeval one = { 1, 0 };

	if ((gw = calloc(1, sizeof(*gw))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	gw->base = base;
	gw->conf = conf;
	gw->sockbuf = sockbuf;
	gw->clock_offset = clock_offset;
	gw->old_confs = g_ptr_array_new_with_free_func(
	    (GDestroyNotify)gw_conf_free);
	gw->waiting = g_hash_table_new_full(g_int64_hash, g_int64_equal,
	    g_free, waiting_free);
	gw_txn_init(gw);
	if (RAND_bytes(gw->secret, sizeof(gw->secret)) != 1 ||
	    RAND_bytes((uint8_t *)&gw->tagmask, sizeof(gw->tagmask)) != 1) {
		snprintf(err, errlen, "no randomness from OpenSSL");
		goto fail;
	}
	/* the state directory (replay cache image, the store): made here */
	if (conf->state_dir != NULL && mkdir(conf->state_dir, 0700) != 0 &&
	    errno != EEXIST) {
		snprintf(err, errlen, "state_dir %s: %s; create it (mode 0700) "
		    "or set [gateway] state_dir", conf->state_dir,
		    strerror(errno));
		goto fail;
	}
	if (make_ctx(gw, err, errlen) != 0 || gw_deliver_init(gw, err,
	    errlen) != 0 || (gw->store == NULL && load_replay(gw, err,
	    errlen) != 0))
		goto fail;
	if ((gw->kms = gw_kms_new(gw, err, errlen)) == NULL)
		goto fail;
	if ((gw->tp = gw_tp_new(base, conf, sockbuf, &gw->m, gw_on_rx, gw,
	    err, errlen)) == NULL)
		goto fail;
	gw_tp_set_fail_cb(gw->tp, gw_txn_hop_failed, gw);
	if (conf->admin_host[0] != '\0' && (gw->admin = gw_admin_new(base,
	    conf->admin_host, conf->admin_port, &gw->m, err, errlen)) == NULL)
		goto fail;
	if ((gw->save_ev = event_new(base, -1, EV_PERSIST, save_cb, gw)) ==
	    NULL || event_add(gw->save_ev, &one) != 0) {
		snprintf(err, errlen, "cannot arm the save timer");
		goto fail;
	}
	*out = gw;
	return 0;
fail:
	gw->conf = NULL;	/* the caller still owns it */
	gw_free(gw);
	return -1;
}

void
gw_free(struct gw *gw)
{
	if (gw == NULL)
		return;
	if (gw->save_ev != NULL)
		event_free(gw->save_ev);
	gw_txn_free_all(gw);
	gw_deliver_free(gw);
	if (gw->waiting != NULL)
		g_hash_table_destroy(gw->waiting);
	gw_admin_free(gw->admin);
	gw_tp_free(gw->tp);
	gw_kms_free(gw->kms);
	imgate_ctx_free(gw->ic);
	if (gw->old_confs != NULL)
		g_ptr_array_free(gw->old_confs, TRUE);
	g_free(gw->replay_path);
	free(gw);
}

/*
 * gw_reload - take the routing, limits, timers and log level of a new
 *	configuration.  Listeners, the admin port, the KMS credential and
 *	the state directory need a restart: a change there is refused with
 *	err (the running configuration is kept).  The transport keeps
 *	reading max_message and tcp_idle from the configuration it started
 *	with.
 */
int
gw_reload(struct gw *gw, struct gw_conf *nc, char *err, size_t errlen)
{
	struct gw_conf *oc = gw->conf;
	size_t i;

	if (nc->nlisten != oc->nlisten || strcmp(nc->identity,
	    oc->identity) != 0 || strcmp(nc->kms_url, oc->kms_url) != 0 ||
	    nc->psk_len != oc->psk_len || CRYPTO_memcmp(nc->psk, oc->psk,
	    oc->psk_len) != 0 || strcmp(nc->admin_host, oc->admin_host) != 0 ||
	    nc->admin_port != oc->admin_port ||
	    g_strcmp0(nc->state_dir, oc->state_dir) != 0) {
		snprintf(err, errlen, "listeners, admin port, identity, "
		    "kms_url, psk or state_dir changed: restart imgate for "
		    "those");
		return -1;
	}
	for (i = 0; i < nc->nlisten; i++)
		if (nc->listen[i].proto != oc->listen[i].proto ||
		    nc->listen[i].port != oc->listen[i].port ||
		    strcmp(nc->listen[i].host, oc->listen[i].host) != 0) {
			snprintf(err, errlen, "listeners changed: restart "
			    "imgate for those");
			return -1;
		}
	/* the transport keeps a pointer to the configuration: keep the
	 * old one alive until exit */
	g_ptr_array_add(gw->old_confs, oc);
	gw->conf = nc;
	log_setlevel(nc->log_level);
	return 0;
}
