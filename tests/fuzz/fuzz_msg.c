/*
 * tests/fuzz/fuzz_msg.c - fuzz target: a whole MIKEY message
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * The input is one MIKEY message (RFC 3830 / RFC 6043).  Oracles (abort()
 * on violation, which libFuzzer and the replay driver report as a crash):
 *
 *  1. codec: if mikey_msg_decode() accepts the input, mikey_msg_encode()
 *     reproduces it byte for byte and decoding that succeeds again; every
 *     payload re-encodes to its own bytes; every nested structure that
 *     decodes (TP Data, Ticket Data, Initiator Data, KEMAC key data with
 *     NULL encryption, SP parameters) re-encodes to its own bytes;
 *  2. roles: mikey_r_transfer_parse() and mikey_kms_process() (a tiny
 *     fixed policy, tests/fuzz/world.h) never crash; whenever the KMS
 *     says it answered, the answer fits the buffer, decodes, and is the
 *     response type or an Error message.
 *
 * To get past the MACs the target also replays what the honest parties
 * would do (all keys are the world's):
 *  - a REQUEST_INIT_PSK the KMS grants is taken up by the initiator
 *    (REQUEST_RESP), which sends a TRANSFER_INIT, which a responder
 *    resolves: the whole exchange runs on every valid request seed;
 *  - a TRANSFER_INIT is resolved by the responder it names (RESOLVE_INIT
 *    -> KMS -> RESOLVE_RESP -> verify), or opened locally in modes 2/4;
 *  - a REQUEST_INIT_PSK/RESOLVE_INIT_PSK whose V fails is re-MACed with
 *    the sender's PSK (and its ticket re-MACed with the TPK) and given to
 *    the KMS again, so mutated content reaches the code after the MAC
 *    checks (policy, grant, ticket sealing and opening, key forking).
 *
 * State: only counters for the replay driver's summary (fuzz_summary());
 * clock, RNG and replay cache are made afresh for each input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mikey/mikey.h"
#include "tests/fuzz/world.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
size_t fuzz_summary(char *buf, size_t len);

#define OUTCAP		8192	/* KMS / role output buffers */
#define MAXDEPTH	4	/* TICKET in Ticket Data in ... */

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "fuzz_msg: %s:%d: oracle failed: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

/* Counters for fuzz_summary(); they never steer a run. */
static struct {
	size_t	inputs, decoded, kms_ok, remac_ok, exchange_ok, transfer_ok;
} st;

/* ---- the per-input environment ---- */

struct ctx {
	struct world_rng	 rng;
	struct mikey_env	 env;
};

static void
ctx_init(struct ctx *c, uint64_t seed)
{
	c->rng.state = seed;
	c->env.now = world_clock;
	c->env.now_arg = NULL;
	c->env.rand = world_rand;
	c->env.rand_arg = &c->rng;
	c->env.skew = WORLD_SKEW;
}

/* same_bytes - the oracle of every round trip */
static int
same_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* ---- 1. codec: nested structures ---- */

static void walk_chain(const struct mikey_chain *ch, const uint8_t *base,
    size_t base_len, int depth);

/* walk_keydata - a KEMAC's key data chain (plaintext) */
static void
walk_keydata(struct mikey_bytes b)
{
	struct mikey_keydata kd[MIKEY_MAX_KEYS];
	uint8_t out[MIKEY_MAX_MSG];
	size_t nk, len, i;

	if (mikey_keydata_decode(b.p, b.len, kd, MIKEY_MAX_KEYS, &nk,
	    NULL) != 0)
		return;
	CHECK(mikey_keydata_encode(kd, nk, out, sizeof(out), &len) == 0);
	CHECK(same_bytes(out, len, b.p, b.len));
	for (i = 0; i < nk; i++) {
		struct mikey_keydata one = kd[i];
		size_t l1;

		(void)mikey_key_type_name(kd[i].type);
		(void)mikey_kv_name(kd[i].kv);
		CHECK(mikey_keydata_encode(&one, 1, out, sizeof(out), &l1) ==
		    0);
	}
}

/* walk_sp - an SP payload's parameter list */
static void
walk_sp(const struct mikey_pl_sp *sp)
{
	struct mikey_sp_param p[MIKEY_MAX_SPPARAMS];
	uint8_t out[MIKEY_MAX_MSG];
	size_t np, len, i;

	if (mikey_sp_params_decode(sp->params, p, MIKEY_MAX_SPPARAMS, &np,
	    NULL) != 0)
		return;
	CHECK(mikey_sp_params_encode(p, np, out, sizeof(out), &len) == 0);
	CHECK(same_bytes(out, len, sp->params.p, sp->params.len));
	for (i = 0; i < np; i++)
		(void)mikey_sp_param_name(sp->prot_type, p[i].type);
}

/* walk_tpdata - TP Data or Initiator Data: first byte + chain */
static void
walk_tpdata(struct mikey_bytes b, int depth)
{
	struct mikey_chain ch;
	uint8_t out[MIKEY_MAX_MSG];
	size_t len;

	if (mikey_tpdata_decode(b, &ch, NULL) != 0)
		return;
	CHECK(mikey_tpdata_encode(&ch, out, sizeof(out), &len) == 0);
	CHECK(same_bytes(out, len, b.p, b.len));
	walk_chain(&ch, b.p + 1, b.len - 1, depth + 1);
}

/* walk_ticket - a TP or TICKET payload: policy, TP/Ticket/Initiator Data */
static void
walk_ticket(const struct mikey_payload *p, int depth)
{
	const struct mikey_pl_ticket *t = &p->u.ticket;
	struct mikey_policy pol;
	struct mikey_chain ch;
	struct mikey_bytes thdr;
	uint8_t out[MIKEY_MAX_MSG];
	size_t len;

	(void)mikey_ticket_type_name(t->ticket_type);
	if (mikey_policy_parse(p, &pol, NULL) == 0) {
		struct mikey_id me = world_uri(WORLD_BOB);

		world_ignore(mikey_policy_check_flags(pol.flags));
		(void)mikey_policy_names(&pol, &me);
	}
	walk_tpdata(t->tp_data, depth);
	if (p->type != MIKEY_PT_TICKET)
		return;
	if (mikey_ticketdata_decode(t->ticket_data, &thdr, &ch, NULL) == 0) {
		CHECK(mikey_ticketdata_encode(thdr, &ch, out, sizeof(out),
		    &len) == 0);
		CHECK(same_bytes(out, len, t->ticket_data.p,
		    t->ticket_data.len));
		/* the chain starts right after the THDR data */
		walk_chain(&ch, thdr.p + thdr.len, (size_t)(t->ticket_data.p +
		    t->ticket_data.len - (thdr.p + thdr.len)), depth + 1);
	}
	if (t->init_data.len > 0)
		walk_tpdata(t->init_data, depth);
}

/*
 * walk_chain - every payload of a decoded chain re-encodes to its own
 *	bytes (base: the buffer the chain's offsets are relative to), and
 *	its nested structures are walked.
 */
static void
walk_chain(const struct mikey_chain *ch, const uint8_t *base, size_t base_len,
    int depth)
{
	uint8_t out[MIKEY_MAX_MSG];
	size_t i, len;

	if (depth > MAXDEPTH)
		return;
	for (i = 0; i < ch->n; i++) {
		const struct mikey_payload *p = &ch->pl[i];
		uint8_t np = i + 1 < ch->n ? ch->pl[i + 1].type :
		    MIKEY_PT_LAST;

		(void)mikey_payload_name(p->type);
		CHECK(p->off <= base_len && p->len <= base_len - p->off);
		CHECK(mikey_payload_encode(p, np, out, sizeof(out), &len) ==
		    0);
		CHECK(same_bytes(out, len, base + p->off, p->len));
		switch (p->type) {
		case MIKEY_PT_TP:
		case MIKEY_PT_TICKET:
			walk_ticket(p, depth);
			break;
		case MIKEY_PT_KEMAC:
			(void)mikey_encr_name(p->u.kemac.encr_alg);
			if (p->u.kemac.encr_alg == MIKEY_ENCR_NULL)
				walk_keydata(p->u.kemac.encr_data);
			break;
		case MIKEY_PT_SP:
			walk_sp(&p->u.sp);
			break;
		case MIKEY_PT_T:
		case MIKEY_PT_TR:
			(void)mikey_ts_type_name(p->u.ts.ts_type);
			(void)mikey_ntp_to_unix(mikey_ts64(&p->u.ts));
			break;
		case MIKEY_PT_ERR:
			(void)mikey_errno_name(p->u.err.errno_);
			break;
		default:
			break;
		}
	}
}

/* check_codec - oracle 1 on the whole message; 1 if it decoded */
static int
check_codec(const uint8_t *d, size_t n, struct mikey_msg *m)
{
	struct mikey_diag diag;
	struct mikey_msg m2;
	uint8_t out[MIKEY_MAX_MSG];
	char text[160];
	size_t len;

	memset(&diag, 0, sizeof(diag));
	if (mikey_msg_decode(d, n, m, &diag) != 0) {
		CHECK(diag.err != 0 && diag.offset <= n);
		mikey_diag_format(&diag, text, sizeof(text));
		CHECK(strlen(text) < sizeof(text));
		return 0;
	}
	st.decoded++;
	CHECK(mikey_msg_encode(m, out, sizeof(out), &len) == 0);
	CHECK(same_bytes(out, len, d, n));
	CHECK(mikey_msg_decode(out, len, &m2, NULL) == 0);
	CHECK(m2.hdr.data_type == m->hdr.data_type && m2.body.n == m->body.n);
	(void)mikey_data_type_name(m->hdr.data_type);
	(void)mikey_prf_name(m->hdr.prf_func);
	(void)mikey_map_type_name(m->hdr.map_type);
	walk_chain(&m->body, d, n, 0);
	return 1;
}

/* ---- 2. roles ---- */

/* kms - run the KMS on one message and check its answer (oracle 2) */
static int
kms(struct ctx *c, const uint8_t *in, size_t len, uint8_t *out,
    size_t *olen, struct mikey_kms_result *res)
{
	struct mikey_kms_conf conf;
	struct mikey_msg am;
	uint8_t want;
	int rc;

	memset(&conf, 0, sizeof(conf));
	conf.id = world_uri(WORLD_KMS);
	conf.lifetime = 86400;
	conf.ops = &world_ops;
	conf.rc = mikey_rcache_new(16, WORLD_SKEW, world_clock, NULL);
	*olen = 0;
	rc = mikey_kms_process(&c->env, &conf, in, len, out, OUTCAP, olen,
	    res);
	mikey_rcache_free(conf.rc);
	if (rc != 0)
		return rc;
	CHECK(*olen > 0 && *olen <= OUTCAP);
	CHECK(mikey_msg_decode(out, *olen, &am, NULL) == 0);
	want = res->data_type == MIKEY_DT_REQUEST_INIT_PSK ?
	    MIKEY_DT_REQUEST_RESP : MIKEY_DT_RESOLVE_RESP;
	if (res->err == 0)
		CHECK(am.hdr.data_type == want);
	else
		CHECK(am.hdr.data_type == MIKEY_DT_ERROR);
	return 0;
}

/* cred_for - a responder credential: the named one if known, else bob */
static void
cred_for(const struct mikey_id *idr, struct mikey_cred *me, uint8_t prf)
{
	const uint8_t *psk = world_psk_of(idr);

	memset(me, 0, sizeof(*me));
	me->id = psk != NULL ? *idr : world_uri(WORLD_BOB);
	me->idkms = world_uri(WORLD_KMS);
	me->psk = psk != NULL ? psk : world_psk_bob;
	me->psk_len = 16;
	me->suite = prf == MIKEY_PRF_HMAC_SHA256 ? mikey_suite_256 :
	    mikey_suite_128;
}

/*
 * responder - what a responder does with a parsed TRANSFER_INIT: open
 *	the ticket itself (E = 0) or resolve it at the KMS, then derive the
 *	TEK and answer when F = 1.  Returns 0 if the message verified.
 */
static int
responder(struct ctx *c, const struct mikey_r_transfer *x)
{
	struct mikey_cred me;
	struct mikey_r_resolve rs;
	struct mikey_resolved keys;
	struct mikey_kms_result res;
	uint8_t *m, *resp, rr[255], tek[32];
	size_t ml, rl, rrl;
	struct mikey_bytes rrb;
	int rc, perr;

	if (!(x->pol.flags & MIKEY_TPF_E)) {
		if (mikey_r_open_ticket(x, world_ops_lookup, NULL, &keys) ==
		    0) {
			world_ignore(mikey_r_transfer_tek(x, &keys, NULL, 1,
			    tek, 16));
			mikey_resolved_cleanup(&keys);
			return 0;
		}
		return -1;
	}
	cred_for(&x->idr, &me, x->msg.hdr.prf_func);
	m = malloc(OUTCAP);
	resp = malloc(OUTCAP);
	CHECK(m != NULL && resp != NULL);
	rc = mikey_r_resolve_init(&c->env, x, &me, &rs, m, OUTCAP, &ml);
	if (rc == 0)
		rc = kms(c, m, ml, resp, &rl, &res);
	if (rc == 0)
		rc = res.err;
	if (rc == 0)
		rc = mikey_r_resolve_resp(&c->env, &rs, x, resp, rl, &keys,
		    &perr, NULL);
	if (rc == 0) {
		rrb.p = rr;
		rrb.len = 0;
		if (x->pol.flags & MIKEY_TPF_F) {
			if (mikey_r_transfer_resp(&c->env, x, &keys, rr, &rrl,
			    m, OUTCAP, &ml) == 0)
				rrb.len = rrl;
		}
		world_ignore(mikey_r_transfer_tek(x, &keys, &rrb, 1, tek, 16));
		mikey_resolved_cleanup(&keys);
	}
	mikey_r_resolve_cleanup(&rs);
	free(m);
	free(resp);
	return rc;
}

/*
 * initiator - a granted REQUEST_INIT_PSK (req) and its REQUEST_RESP:
 *	the initiator takes the ticket and sends a TRANSFER_INIT to the first
 *	responder of the ticket, who verifies it.
 */
static void
initiator(struct ctx *c, const uint8_t *req, size_t reqlen,
    const struct mikey_id *requester, const uint8_t *resp, size_t rl)
{
	struct mikey_i_request rq;
	struct mikey_ticket *t;
	struct mikey_transfer_params tp;
	struct mikey_i_transfer it;
	struct mikey_r_transfer *x;
	struct mikey_payload tk;
	struct mikey_policy pol;
	struct mikey_msg m;
	const struct mikey_payload *v;
	const uint8_t *psk = world_psk_of(requester);
	uint8_t *ti;
	size_t tl;
	int perr;

	if (psk == NULL || reqlen > sizeof(rq.init) ||
	    mikey_msg_decode(req, reqlen, &m, NULL) != 0 ||
	    (v = mikey_chain_find(&m.body, MIKEY_PT_V, -1, 0)) == NULL)
		return;
	memset(&rq, 0, sizeof(rq));
	memcpy(rq.init, req, reqlen);
	rq.init_len = reqlen;
	memcpy(rq.psk, psk, 16);
	rq.psk_len = 16;
	rq.suite.prf = m.hdr.prf_func;
	rq.suite.encr = m.hdr.prf_func == MIKEY_PRF_HMAC_SHA256 ?
	    MIKEY_ENCR_AES_CM_256 : MIKEY_ENCR_AES_CM_128;
	rq.suite.mac = v->u.v.alg;
	t = malloc(sizeof(*t));
	x = malloc(sizeof(*x));
	ti = malloc(OUTCAP);
	CHECK(t != NULL && x != NULL && ti != NULL);
	if (mikey_i_request_resp(&c->env, &rq, resp, rl, t, &perr, NULL) != 0)
		goto done;
	if (mikey_payload_decode(MIKEY_PT_TICKET, t->payload, t->payload_len,
	    &tk, NULL) != 0 || mikey_policy_parse(&tk, &pol, NULL) != 0)
		goto done;
	memset(&tp, 0, sizeof(tp));
	tp.idi = *requester;
	if (pol.nresp > 0)
		tp.idr = pol.resp[0];
	tp.suite = rq.suite;
	tp.ncs = 1;
	tp.cs[0].cs_id = 1;
	tp.cs[0].prot_type = MIKEY_PROT_IMGATE_CMS;
	if (mikey_i_transfer_init(&c->env, t, &tp, &it, ti, OUTCAP, &tl) != 0)
		goto done;
	if (mikey_r_transfer_parse(&c->env, ti, tl, x, NULL) != 0)
		goto done;
	if (responder(c, x) == 0)
		st.exchange_ok++;
done:
	mikey_i_request_cleanup(&rq);
	mikey_ticket_cleanup(t);
	free(t);
	free(x);
	free(ti);
}

/*
 * remac - make buf (a copy of a decoded REQUEST_INIT_PSK or
 *	RESOLVE_INIT_PSK) authentic: re-MAC its TICKET with the world's TPK,
 *	then its V with the sender's PSK as the KMS will check it.
 *	0 if buf was changed and is worth another KMS run.
 */
static int
remac(uint8_t *buf, size_t len)
{
	struct mikey_msg m;
	const struct mikey_payload *ida, *idk, *idp, *rr, *v, *tk;
	struct mikey_msgkeys k;
	struct mikey_bytes parts[3];
	const struct mikey_id *who;
	struct mikey_id a, p;
	const uint8_t *psk;
	uint8_t role, rrole;
	int rc;

	if (mikey_msg_decode(buf, len, &m, NULL) != 0)
		return -1;
	if (m.hdr.data_type == MIKEY_DT_REQUEST_INIT_PSK) {
		role = MIKEY_ROLE_I;
		rrole = MIKEY_RAND_I;
	} else if (m.hdr.data_type == MIKEY_DT_RESOLVE_INIT_PSK) {
		role = MIKEY_ROLE_R;
		rrole = MIKEY_RAND_R;
		tk = mikey_chain_find(&m.body, MIKEY_PT_TICKET, -1, 0);
		if (tk != NULL)
			(void)world_ticket_remac(buf + tk->off, tk->len);
	} else
		return -1;
	ida = mikey_chain_find(&m.body, MIKEY_PT_IDR, role, 0);
	idk = mikey_chain_find(&m.body, MIKEY_PT_IDR, MIKEY_ROLE_KMS, 0);
	idp = mikey_chain_find(&m.body, MIKEY_PT_IDR, MIKEY_ROLE_PSK, 0);
	rr = mikey_chain_find(&m.body, MIKEY_PT_RANDR, rrole, 0);
	v = m.body.n ? &m.body.pl[m.body.n - 1] : NULL;
	if (rr == NULL || v == NULL || v->type != MIKEY_PT_V ||
	    v->u.v.alg == MIKEY_MAC_NULL)
		return -1;
	if (ida != NULL) {
		a.type = ida->u.id.type;
		a.data = ida->u.id.data;
		who = &a;
	} else if (idp != NULL) {
		p.type = idp->u.id.type;
		p.data = idp->u.id.data;
		who = &p;
	} else
		return -1;
	if ((psk = world_psk_of(who)) == NULL)
		return -1;
	rc = mikey_msgkeys_derive(m.hdr.prf_func, psk, 16, m.hdr.csb_id,
	    MIKEY_LBL_INIT, rrole == MIKEY_RAND_I ? &rr->u.rand.rand : NULL,
	    rrole == MIKEY_RAND_R ? &rr->u.rand.rand : NULL, MIKEY_ENCR_NULL,
	    v->u.v.alg, &k);
	if (rc != 0)
		return -1;
	parts[0].p = buf;
	parts[0].len = v->mac_off;
	parts[1] = ida ? ida->u.id.data : (struct mikey_bytes){ NULL, 0 };
	parts[2] = idk ? idk->u.id.data : (struct mikey_bytes){ NULL, 0 };
	rc = mikey_mac(v->u.v.alg, k.auth, k.auth_len, parts, 3,
	    buf + v->mac_off);
	mikey_msgkeys_cleanup(&k);
	return rc;
}

/* roles - the role functions on the input (oracle 2 and the replays) */
static void
roles(const uint8_t *d, size_t n)
{
	struct ctx c;
	struct mikey_r_transfer *x;
	struct mikey_kms_result res;
	uint8_t *out, *copy;
	size_t ol;

	out = malloc(OUTCAP);
	x = malloc(sizeof(*x));
	CHECK(out != NULL && x != NULL);

	/* responder: a TRANSFER_INIT as received, then with its ticket
	 * re-MACed so a mutated ticket reaches the KMS's decryption */
	ctx_init(&c, 1);
	if (mikey_r_transfer_parse(&c.env, d, n, x, NULL) == 0) {
		if (responder(&c, x) == 0)
			st.transfer_ok++;
		if ((copy = malloc(n)) != NULL) {
			memcpy(copy, d, n);
			ctx_init(&c, 2);
			if (world_ticket_remac(copy + x->ticket->off,
			    x->ticket->len) == 0 && memcmp(copy, d, n) != 0 &&
			    mikey_r_transfer_parse(&c.env, copy, n, x,
			    NULL) == 0)
				(void)responder(&c, x);
			free(copy);
		}
	}

	/* KMS: the input as it is */
	ctx_init(&c, 3);
	if (kms(&c, d, n, out, &ol, &res) == 0 && res.err == 0) {
		st.kms_ok++;
		if (res.data_type == MIKEY_DT_REQUEST_INIT_PSK)
			initiator(&c, d, n, &res.requester, out, ol);
	} else if (res.err == MIKEY_ERR_AUTH &&
	    (copy = malloc(n)) != NULL) {
		/* and re-MACed, to fuzz what lies behind the V check */
		memcpy(copy, d, n);
		ctx_init(&c, 4);
		if (remac(copy, n) == 0 && kms(&c, copy, n, out, &ol,
		    &res) == 0 && res.err == 0)
			st.remac_ok++;
		free(copy);
	}
	free(x);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct mikey_msg *m;

	st.inputs++;
	if (n > MIKEY_MAX_MSG + 16)
		return 0;
	m = malloc(sizeof(*m));
	CHECK(m != NULL);
	(void)check_codec(d, n, m);
	free(m);
	roles(d, n);
	return 0;
}

/* fuzz_summary - for the replay driver: what the inputs since the last
 *	call reached; returns how many got past a MAC (KMS grant/resolve or
 *	a verified TRANSFER_INIT) */
size_t
fuzz_summary(char *buf, size_t len)
{
	size_t deep;

	snprintf(buf, len, "%zu inputs: %zu decoded, %zu granted/resolved by "
	    "the KMS, %zu more after re-MAC, %zu TRANSFER_INIT verified, %zu "
	    "full exchanges", st.inputs, st.decoded, st.kms_ok, st.remac_ok,
	    st.transfer_ok, st.exchange_ok);
	deep = st.kms_ok + st.transfer_ok;
	memset(&st, 0, sizeof(st));
	return deep;
}
