/*
 * gateway/gw_deliver.c - deferred delivery: store protected MESSAGEs for
 *	offline users, deliver them oldest first when they come back,
 *	expire and report (design.md section 3 "Deferred delivery", 7)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	Offline: a local user with no live registration seen passing
 *	through (when [store] require_registration is set), or one for whom
 *	the inside next hop answered 404, 408 or 480.  The protected request
 *	as received (ciphertext only: the bytes verbatim, design.md 7) goes
 *	to the storage thread (gw_store.c) with its MIKEY timestamp, and the
 *	sender gets 202 Accepted from the commit's completion, never before.
 *
 *	Online again: a REGISTER with expiry > 0 answered 2xx passing
 *	through, or the next due retry.  Per user one message in flight, the
 *	head of its queue (oldest MIKEY T): unwrapped then (the keys
 *	resolved at that moment), sent inside with a branch fixed by its
 *	row id and its stored Call-ID and CSeq, and deleted, together with
 *	the replay-cache image, only after a 2xx.  The unwrap is held
 *	(imgate_unwrap_hold) until the 2xx, so a message that was not
 *	delivered can be opened again.
 *
 *	Exactly once across kill -9: a crash between the user's 2xx and the
 *	delete leaves the row; after the restart it is sent again with the
 *	same branch, Call-ID and CSeq, which the user agent's transaction
 *	layer takes for a retransmission (RFC 3261 17.2.2) and answers
 *	without showing it twice.  A copy that arrives again from outside
 *	after its delivery is caught by the replay cache, persisted in the
 *	same transaction as the delete.
 *
 *	Failures: the user agent answers 404/480 or nothing (408), or 5xx:
 *	back off (retry_min doubling to retry_max, with up to 25% jitter).
 *	The message cannot be opened (the KMS refuses, the MAC fails): set
 *	aside (quarantined) and the sender told.  A replay at delivery: it
 *	was delivered before a crash, so it is deleted.  Expired (the ticket
 *	ended or max_age passed): removed and the sender told.  The report
 *	is a MESSAGE from the gateway's own identity to the sender, wrapped
 *	like any other when its domain is protected (design.md 3; seed 000).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "common/log.h"
#include "gateway/gw_core.h"
#include "gateway/gw_store.h"

#define RSTATE_NAME	"gateway"
#define EXPIRE_EVERY	5	/* ticks (s) between expiry rounds */

static int64_t
now_s(const struct gw *gw)
{
	return (int64_t)time(NULL) + gw->clock_offset;
}

/* ---------------------------------------------------------------------- */
/* Presence */

int
gw_deliver_offline(struct gw *gw, const char *aor)
{
	int64_t *v;

	if (aor == NULL)
		return 0;
	if ((v = g_hash_table_lookup(gw->presence, aor)) == NULL)
		return gw->conf->require_registration;
	return *v < 0 || *v <= now_s(gw);
}

static void
presence_set(struct gw *gw, const char *aor, int64_t until)
{
	int64_t *v = g_new(int64_t, 1);

	*v = until;
	g_hash_table_replace(gw->presence, g_strdup(aor), v);
}

static void kick(struct gw *gw, const char *aor);
static void kick_now(struct gw *gw, const char *aor);

/* reg_key - "Call-ID LF CSeq number" of a REGISTER or its response */
static char *
reg_key(const struct gw_msg *m)
{
	if (m->sip->call_id == NULL || m->sip->cseq == NULL)
		return NULL;
	return g_strdup_printf("%s@%s\n%s", m->sip->call_id->number ?
	    m->sip->call_id->number : "", m->sip->call_id->host ?
	    m->sip->call_id->host : "", m->sip->cseq->number ?
	    m->sip->cseq->number : "");
}

/* contact_expires - the longest expiry among the Contacts of a 2xx to a
 *	REGISTER; -1 if it lists none (a query) */
static long
contact_expires(const struct gw_msg *m)
{
	osip_contact_t *c = NULL;
	osip_generic_param_t *p = NULL;
	const char *h;
	long best = -1, e, def = 3600;
	int i;

	if ((h = gw_msg_header(m, "Expires")) != NULL)
		def = strtol(h, NULL, 10);
	for (i = 0; osip_message_get_contact(m->sip, i, &c) >= 0 && c != NULL;
	    i++) {
		if (c->displayname != NULL && strcmp(c->displayname, "*") == 0)
			return 0;
		p = NULL;
		e = osip_contact_param_get_byname(c, "expires", &p) >= 0 &&
		    p != NULL && p->gvalue != NULL ? strtol(p->gvalue, NULL,
		    10) : def;
		if (e > best)
			best = e;
	}
	return best;
}

/*
 * gw_deliver_register_req - a REGISTER relayed: remember the expiry it
 *	asks for, since a registrar's 2xx to a removal lists no Contact at
 *	all (RFC 3261 10.3 step 8)
 */
void
gw_deliver_register_req(struct gw *gw, const struct gw_msg *req)
{
	char *key;
	long e;

	if ((key = reg_key(req)) == NULL)
		return;
	if (g_hash_table_size(gw->reg_asked) > 10000)
		g_hash_table_remove_all(gw->reg_asked);	/* unanswered */
	e = contact_expires(req);
	g_hash_table_replace(gw->reg_asked, key, GINT_TO_POINTER(e == 0 ?
	    1 : 2));
}

void
gw_deliver_register(struct gw *gw, const struct gw_msg *resp)
{
	char *aor, *key;
	gpointer asked = NULL;
	long e;

	if (resp->sip->cseq == NULL || resp->sip->cseq->method == NULL ||
	    strcmp(resp->sip->cseq->method, "REGISTER") != 0 ||
	    gw_msg_status(resp) < 200)
		return;
	if ((key = reg_key(resp)) != NULL) {
		asked = g_hash_table_lookup(gw->reg_asked, key);
		g_hash_table_remove(gw->reg_asked, key);
		g_free(key);
	}
	if (gw_msg_status(resp) / 100 != 2)
		return;
	if ((aor = gw_msg_to_aor(resp)) == NULL)
		return;
	e = contact_expires(resp);
	if (e < 0 && GPOINTER_TO_INT(asked) == 1)
		e = 0;		/* a removal, answered without Contact */
	if (e > 0) {
		if (gw_deliver_offline(gw, aor))
			log_info("registration aor=%s expires=%ld: online",
			    aor, e);
		presence_set(gw, aor, now_s(gw) + e);
		kick_now(gw, aor);
	} else if (e == 0) {
		log_info("registration aor=%s removed: offline", aor);
		presence_set(gw, aor, -1);
	}
	free(aor);
}

/* ---------------------------------------------------------------------- */
/* Storing */

static void
put_done(void *arg, struct gw_job *j)
{
	struct gw_stx *stx = arg;
	struct gw *gw = stx->gw;

	if (j->err == QUEUE_OK) {
		gw->m.stored++;
		log_info("message stored id=%lld rcpt=%s sender=%s bytes=%zu",
		    (long long)j->id, j->rcpt, j->sender, j->len);
		gw_stx_respond(stx, 202, "Accepted", NULL, NULL);
	} else {
		gw->m.store_refused++;
		gw->m.rejected[GW_REJ_KMS]++;
		log_warn("message not stored rcpt=%s: %s", j->rcpt,
		    queue_strerror(j->err));
		gw_stx_respond(stx, 503, NULL, j->err == QUEUE_ERR_FULL ?
		    "store full for this recipient" : "store unavailable",
		    NULL);
	}
	gw_job_free(j);
}

void
gw_deliver_store(struct gw_stx *stx, int64_t next_attempt)
{
	struct gw *gw = stx->gw;
	struct imgate_info in;
	struct gw_job *j;
	char *ctype = gw_msg_ctype(stx->req);
	int64_t now = now_s(gw), exp;
	int rc;

	rc = ctype == NULL ? IMGATE_ERR_CONTENT_TYPE :
	    imgate_inspect(gw->ic, ctype, stx->req->body, stx->req->body_len,
	    &in);
	free(ctype);
	if (rc != 0) {
		gw_stx_fail(stx, rc);
		return;
	}
	exp = now + (int64_t)gw->conf->max_age;
	if (in.ticket_end != 0 && in.ticket_end < exp)
		exp = in.ticket_end;
	if ((j = gw_job_new(GW_JOB_PUT, put_done, stx)) == NULL ||
	    (j->rcpt = gw_msg_to_aor(stx->req)) == NULL ||
	    (j->sender = gw_msg_from_aor(stx->req)) == NULL ||
	    (j->data = malloc(stx->raw_len)) == NULL) {
		gw_job_free(j);
		gw_stx_respond(stx, 503, NULL, "out of memory", NULL);
		return;
	}
	memcpy(j->data, stx->raw, stx->raw_len);
	j->len = stx->raw_len;
	j->nw.mikey_t = in.mikey_t;
	j->nw.arrived = now;
	j->nw.next_attempt = next_attempt;
	j->nw.expires = exp;
	gw_store_submit(gw->store, j);
}

/* ---------------------------------------------------------------------- */
/* Reports to the sender */

void
gw_deliver_report(struct gw *gw, const char *to, const char *rcpt,
    int64_t arrived, const char *why)
{
	struct gw_msg *m = NULL;
	struct gw_stx *stx;
	char text[600], date[40], *head;
	const char *pw;
	unsigned long long seq;
	time_t t = (time_t)arrived;
	struct tm tm;

	if (!gw->conf->report || to == NULL || to[0] == '\0')
		return;
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", &tm);
	seq = ++gw->seq;
	snprintf(text, sizeof(text), "Your message to %s of %s %s.", rcpt,
	    date, why);
	head = g_strdup_printf("MESSAGE %s SIP/2.0\r\n"
	    "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-igx%llx\r\n"
	    "Max-Forwards: 70\r\n"
	    "From: <%s>;tag=igr%llx\r\n"
	    "To: <%s>\r\n"
	    "Call-ID: igr%llx-%llx@imgate\r\n"
	    "CSeq: 1 MESSAGE\r\n"
	    "Content-Length: %zu\r\n\r\n", to, seq, gw->conf->identity, seq,
	    to, seq, (unsigned long long)gw->tagmask, strlen(text));
	pw = NULL;
	if (gw_msg_parse(head, strlen(head), (const uint8_t *)text,
	    strlen(text), &m, &pw) != 0 || gw_msg_set_body(m,
	    "text/plain;charset=utf-8", (const uint8_t *)text,
	    strlen(text)) != 0) {
		log_warn("report to %s: cannot build it (%s)", to,
		    pw != NULL ? pw : "body");
		gw_msg_free(m);
		g_free(head);
		return;
	}
	g_free(head);
	if ((stx = gw_stx_new_local(gw, m)) == NULL) {
		gw_msg_free(m);
		return;
	}
	stx->origin = 1;
	gw->m.reports++;
	log_info("report to=%s rcpt=%s: %s", to, rcpt, why);
	gw_stx_start(stx);
}

/* ---------------------------------------------------------------------- */
/* Delivering */

static void job(struct gw *gw, enum gw_job_kind kind, int64_t id,
    int64_t when, const char *reason, void *arg, gw_job_done done);

static void
unbusy(struct gw *gw, const char *aor)
{
	g_hash_table_remove(gw->busy, aor);
}

/* after_done - the job that ended a delivery: the user's next message */
static void
after_done(void *arg, struct gw_job *j)
{
	struct gw *gw = arg;
	char *aor = j->reason;	/* the recipient rides in reason */

	if (j->err != QUEUE_OK)
		log_warn("store: %s of message %lld failed: %s",
		    j->kind == GW_JOB_DELETE ? "delete" : j->kind ==
		    GW_JOB_DEFER ? "defer" : "quarantine", (long long)j->id,
		    queue_strerror(j->err));
	if (aor != NULL) {
		unbusy(gw, aor);
		if (j->kind != GW_JOB_DEFER)
			kick(gw, aor);
	}
	gw_job_free(j);
}

static int64_t
backoff(struct gw *gw, uint32_t attempts)
{
	uint64_t d = gw->conf->retry_min;
	uint32_t r = 0;

	while (attempts-- > 0 && d < gw->conf->retry_max)
		d *= 2;
	if (d > gw->conf->retry_max)
		d = gw->conf->retry_max;
	if (RAND_bytes((uint8_t *)&r, sizeof(r)) == 1)
		d += (d * (r % 256)) / 1024;	/* up to 25% jitter */
	return now_s(gw) + (int64_t)d;
}

/* delivery_outcome - the outcome of a delivery from the store */
static void
delivery_outcome(struct gw_stx *stx, int status)
{
	struct gw *gw = stx->gw;
	const char *aor = stx->q_rcpt;
	char why[200];

	if (status / 100 == 2) {
		uint8_t *img = NULL;
		size_t len = 0;
		struct gw_job *j;

		gw->m.delivered_stored++;
		log_info("message delivered id=%lld rcpt=%s attempts=%u",
		    (long long)stx->q_id, aor, stx->q_attempts);
		if ((j = gw_job_new(GW_JOB_DELETE, after_done, gw)) == NULL)
			return;
		j->id = stx->q_id;
		j->reason = strdup(aor);
		if (imgate_ctx_save_replay(gw->ic, &img, &len) == 0) {
			j->img = img;
			j->img_len = len;
		}
		gw_store_submit(gw->store, j);
		return;
	}
	if (stx->refused_here) {
		switch (stx->refuse_err) {
		case IMGATE_ERR_REPLAY:
		case IMGATE_ERR_TOO_OLD:
			log_info("message id=%lld rcpt=%s was delivered before "
			    "(replay cache): removed", (long long)stx->q_id,
			    aor);
			job(gw, GW_JOB_DELETE, stx->q_id, 0, aor, gw,
			    after_done);
			return;
		case IMGATE_ERR_KMS_UNAVAILABLE:
		case IMGATE_ERR_NOMEM:
		case IMGATE_ERR_INTERNAL:
			gw->m.deferred++;
			job(gw, GW_JOB_DEFER, stx->q_id, backoff(gw,
			    stx->q_attempts), aor, gw, after_done);
			return;
		case IMGATE_ERR_EXPIRED:
			gw->m.expired++;
			gw_deliver_report(gw, stx->q_sender, aor, stx->q_arrived,
			    "was NOT delivered: its key expired before it "
			    "could be delivered");
			job(gw, GW_JOB_DELETE, stx->q_id, 0, aor, gw,
			    after_done);
			return;
		default:
			gw->m.quarantined++;
			snprintf(why, sizeof(why), "was NOT delivered: it "
			    "could not be opened (%s)",
			    imgate_strerror(stx->refuse_err));
			gw_deliver_report(gw, stx->q_sender, aor, stx->q_arrived, why);
			/* the store runs jobs in order: the QUARANTINE before
			 * the NEXT that kick() asks for */
			job(gw, GW_JOB_QUARANTINE, stx->q_id, 0, why, NULL,
			    NULL);
			unbusy(gw, aor);
			kick(gw, aor);
			return;
		}
	}
	if (status == 404 || status == 408 || status == 480 ||
	    status / 100 == 5) {
		gw->m.deferred++;
		if (status != 408 && status / 100 != 5 &&
		    gw->conf->require_registration)
			presence_set(gw, aor, -1);
		log_info("message id=%lld rcpt=%s: %d from inside, retry "
		    "later", (long long)stx->q_id, aor, status);
		job(gw, GW_JOB_DEFER, stx->q_id, backoff(gw, stx->q_attempts),
		    aor, gw, after_done);
		return;
	}
	/* 6xx: delivered but refused (RFC 3428 7); other 4xx: refused */
	gw->m.quarantined++;
	snprintf(why, sizeof(why), "was NOT delivered: the recipient's "
	    "user agent refused it (%d)", status);
	gw_deliver_report(gw, stx->q_sender, aor, stx->q_arrived, why);
	job(gw, GW_JOB_QUARANTINE, stx->q_id, 0, why, NULL, NULL);
	unbusy(gw, aor);
	kick(gw, aor);
}

static void
job(struct gw *gw, enum gw_job_kind kind, int64_t id, int64_t when,
    const char *reason, void *arg, gw_job_done done)
{
	struct gw_job *j;

	if ((j = gw_job_new(kind, done, arg)) == NULL)
		return;
	j->id = id;
	j->when = when;
	if (reason != NULL)
		j->reason = strdup(reason);
	gw_store_submit(gw->store, j);
}

/*
 * child_done - a member's copy of a list MESSAGE ended with status; when
 *	the last one has, the sender gets 200 if every member accepted it
 *	(delivered or stored), else 200 and a report naming the members that
 *	failed, or the first failure if none accepted it (issue 7: a
 *	member's failure never blocks the others)
 */
static void
child_done(struct gw_stx *child, int status)
{
	struct gw_stx *p = child->parent;
	struct gw *gw = child->gw;
	char *from, *list;

	p->ndone++;
	if (status / 100 == 2)
		p->nok++;
	else {
		if (p->first_fail == 0)
			p->first_fail = status;
		if (p->failed == NULL)
			p->failed = g_string_new(NULL);
		g_string_append_printf(p->failed, "%s%s (%d)", p->failed->len ?
		    ", " : "", child->member, status);
	}
	if (p->ndone < p->nchild)
		return;
	if (p->parent == NULL)	/* the list's own, not a member's copy */
		log_info("list %s done: %zu of %zu members accepted%s%s",
		    p->op == GW_OP_LIST ? "re-encryption" : "fan-out", p->nok,
		    p->nchild, p->failed ? "; failed: " : "",
		    p->failed ? p->failed->str : "");
	if (p->nok == p->nchild) {
		gw_stx_respond(p, 200, NULL, NULL, NULL);
		return;
	}
	if (p->nok == 0) {
		gw_stx_respond(p, p->first_fail, NULL, "no member of the list "
		    "accepted the message", NULL);
		return;
	}
	from = gw_msg_from_aor(p->req);
	list = gw_msg_to_aor(p->req);
	gw_stx_respond(p, 200, NULL, NULL, NULL);
	if (from != NULL && list != NULL) {
		char why[400];

		snprintf(why, sizeof(why), "was NOT delivered to these "
		    "members of the list (the others have it): %s",
		    p->failed->str);
		gw_deliver_report(gw, from, list, now_s(gw), why);
	}
	free(from);
	free(list);
}

int
gw_deliver_intercept(struct gw_stx *stx, int status)
{
	struct gw *gw = stx->gw;
	char *aor;

	if (stx->hold != NULL) {
		if (imgate_unwrap_release(gw->ic, stx->hold,
		    status / 100 == 2) != 0)
			log_warn("replay cache: release: %s",
			    imgate_last_detail(gw->ic));
		if (status / 100 == 2)
			gw->replay_dirty = 1;
		imgate_result_free(stx->hold);
		stx->hold = NULL;
	}
	if (stx->q_id > 0) {
		delivery_outcome(stx, status);
		gw_stx_dispose(stx);
		return 1;
	}
	if (stx->origin) {
		if (status / 100 != 2)
			log_info("report to %s not delivered: %d",
			    stx->req->sip->to && stx->req->sip->to->url ?
			    stx->req->sip->to->url->host : "-", status);
		gw_stx_dispose(stx);
		return 1;
	}
	if (gw->store != NULL && stx->op == GW_OP_UNWRAP && stx->raw !=
	    NULL && !stx->refused_here && (status == 404 || status == 408 ||
	    status == 480) && stx->state != GW_STX_COMPLETED) {
		if ((aor = gw_msg_to_aor(stx->req)) != NULL) {
			log_info("message for %s: %d from inside, storing it",
			    aor, status);
			if (gw->conf->require_registration)
				presence_set(gw, aor, -1);
			free(aor);
		}
		gw_deliver_store(stx, now_s(gw) + gw->conf->retry_min);
		return 1;
	}
	if (stx->parent != NULL) {
		child_done(stx, status);
		gw_stx_dispose(stx);
		return 1;
	}
	return 0;
}

/* next_done - the head of a user's queue, to deliver now */
static void
next_done(void *arg, struct gw_job *j)
{
	struct gw *gw = arg;
	struct gw_frame f;
	struct gw_msg *m = NULL;
	struct gw_stx *stx;
	const char *why = NULL;
	int rc;

	if (j->err != QUEUE_OK) {
		unbusy(gw, j->rcpt);
		gw_job_free(j);
		return;
	}
	rc = gw_frame_dgram((const char *)j->msg.data, j->msg.len,
	    j->msg.len, &f, &why);
	if (rc != GW_FRAME_OK || gw_msg_parse((const char *)j->msg.data +
	    f.skip, f.head_len, j->msg.data + f.skip + f.head_len, f.body_len,
	    &m, &why) != 0) {
		gw->m.quarantined++;
		log_warn("message id=%lld rcpt=%s: stored bytes unusable "
		    "(%s): quarantined", (long long)j->msg.id, j->rcpt,
		    why != NULL ? why : "frame");
		job(gw, GW_JOB_QUARANTINE, j->msg.id, 0, "stored bytes do "
		    "not parse", NULL, NULL);
		unbusy(gw, j->rcpt);
		kick(gw, j->rcpt);
		gw_job_free(j);
		return;
	}
	if ((stx = gw_stx_new_local(gw, m)) == NULL) {
		gw_msg_free(m);
		unbusy(gw, j->rcpt);
		gw_job_free(j);
		return;
	}
	stx->q_id = j->msg.id;
	stx->q_attempts = j->msg.attempts;
	stx->q_rcpt = strdup(j->msg.rcpt);
	stx->q_sender = strdup(j->msg.sender);
	stx->q_arrived = j->msg.arrived;
	/* the same for every attempt of this message, and for no other
	 * (ids are never reused; its MIKEY T tells apart two stores) */
	snprintf(stx->branch, sizeof(stx->branch), GW_BRANCH_MSG "q%llx.%llx",
	    (unsigned long long)j->msg.id,
	    (unsigned long long)j->msg.mikey_t);
	gw_job_free(j);
	gw_stx_start(stx);
}

static void kick_flush(struct gw *gw, const char *aor, int flush);

/* kick - start delivering to aor if it has no delivery in flight */
static void
kick(struct gw *gw, const char *aor)
{
	kick_flush(gw, aor, 0);
}

/* kick_now - the same, and forget its back-off: it just registered */
static void
kick_now(struct gw *gw, const char *aor)
{
	kick_flush(gw, aor, 1);
}

static void
kick_flush(struct gw *gw, const char *aor, int flush)
{
	struct gw_job *j;
	int64_t *v;

	if (gw->store == NULL || g_hash_table_contains(gw->busy, aor))
		return;
	if ((v = g_hash_table_lookup(gw->presence, aor)) != NULL ? *v < 0 ||
	    *v <= now_s(gw) : gw->conf->require_registration)
		return;
	if ((j = gw_job_new(GW_JOB_NEXT, next_done, gw)) == NULL ||
	    (j->rcpt = strdup(aor)) == NULL) {
		gw_job_free(j);
		return;
	}
	j->now = now_s(gw);
	j->when = flush;
	g_hash_table_add(gw->busy, g_strdup(aor));
	gw_store_submit(gw->store, j);
}

/* ---------------------------------------------------------------------- */
/* The tick: due users, expiry, the replay-cache image */

static void
due_done(void *arg, struct gw_job *j)
{
	struct gw *gw = arg;
	size_t i;

	for (i = 0; i < j->nrcpts; i++)
		kick(gw, j->rcpts[i]);
	gw_job_free(j);
}

static void
expire_done(void *arg, struct gw_job *j)
{
	struct gw *gw = arg;
	size_t i;

	for (i = 0; i < j->nexpired; i++) {
		gw->m.expired++;
		log_info("message expired id=%lld rcpt=%s sender=%s "
		    "arrived=%lld: removed", (long long)j->expired[i].id,
		    j->expired[i].rcpt, j->expired[i].sender,
		    (long long)j->expired[i].arrived);
		gw_deliver_report(gw, j->expired[i].sender, j->expired[i].rcpt,
		    j->expired[i].arrived, "was NOT delivered: it "
		    "expired before the recipient came online");
	}
	gw_job_free(j);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw *gw = arg;
	struct gw_job *j;
	uint8_t *img = NULL;
	size_t len = 0;

	(void)fd;
	(void)what;
	gw->ticks++;
	{
		uint64_t stored;

		gw_store_counts(gw->store, &gw->m.store_commits, &stored);
	}
	if (gw->ticks % EXPIRE_EVERY == 0 &&
	    (j = gw_job_new(GW_JOB_EXPIRE, expire_done, gw)) != NULL) {
		j->now = now_s(gw);
		gw_store_submit(gw->store, j);
	}
	if ((j = gw_job_new(GW_JOB_DUE, due_done, gw)) != NULL) {
		j->now = now_s(gw);
		gw_store_submit(gw->store, j);
	}
	if (gw->replay_dirty && imgate_ctx_save_replay(gw->ic, &img,
	    &len) == 0 && (j = gw_job_new(GW_JOB_RSTATE, NULL, NULL)) !=
	    NULL) {
		j->img = img;
		j->img_len = len;
		img = NULL;
		gw->replay_dirty = 0;
		gw_store_submit(gw->store, j);
	}
	free(img);
}

int
gw_deliver_init(struct gw *gw, char *err, size_t errlen)
{
	const struct gw_conf *c = gw->conf;
	struct queue_limits lim;
	struct timeval one = { 1, 0 };
	uint8_t *img = NULL;
	size_t len = 0;
	int rc;

	gw->presence = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	    g_free);
	gw->busy = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	    NULL);
	gw->reg_asked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	    NULL);
	if (!c->store)
		return 0;
	memset(&lim, 0, sizeof(lim));
	lim.max_per_rcpt = c->max_per_rcpt;
	lim.max_bytes_per_rcpt = c->max_bytes_per_rcpt;
	lim.max_total = c->max_total;
	lim.max_message_bytes = c->max_message;
	if ((gw->store = gw_store_new(gw->base, c->store_db, &lim,
	    RSTATE_NAME, &img, &len, err, errlen)) == NULL)
		return -1;
	if (img != NULL) {
		rc = imgate_ctx_load_replay(gw->ic, img, len);
		free(img);
		if (rc != 0) {
			snprintf(err, errlen, "%s: the replay-cache state is "
			    "damaged (%s); imgatectl queue can show the store",
			    c->store_db, imgate_strerror(rc));
			return -1;
		}
		log_info("replay cache loaded from %s", c->store_db);
	}
	if ((gw->tick_ev = event_new(gw->base, -1, EV_PERSIST, tick_cb,
	    gw)) == NULL || event_add(gw->tick_ev, &one) != 0) {
		snprintf(err, errlen, "cannot arm the delivery timer");
		return -1;
	}
	log_info("store %s: deferred delivery on (require_registration=%s)",
	    c->store_db, c->require_registration ? "true" : "false");
	return 0;
}

void
gw_deliver_free(struct gw *gw)
{
	uint8_t *img = NULL;
	size_t len = 0;
	struct gw_job *j;

	if (gw->tick_ev != NULL)
		event_free(gw->tick_ev);
	gw->tick_ev = NULL;
	if (gw->store != NULL && gw->replay_dirty &&
	    imgate_ctx_save_replay(gw->ic, &img, &len) == 0 &&
	    (j = gw_job_new(GW_JOB_RSTATE, NULL, NULL)) != NULL) {
		j->img = img;
		j->img_len = len;
		img = NULL;
		gw_store_submit(gw->store, j);	/* done before the thread
						 * stops */
		gw->replay_dirty = 0;
	}
	free(img);
	gw_store_free(gw->store);
	gw->store = NULL;
	if (gw->presence != NULL)
		g_hash_table_destroy(gw->presence);
	if (gw->busy != NULL)
		g_hash_table_destroy(gw->busy);
	if (gw->reg_asked != NULL)
		g_hash_table_destroy(gw->reg_asked);
	gw->presence = gw->busy = gw->reg_asked = NULL;
}
