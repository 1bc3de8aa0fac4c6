/*
 * mikey/mikey_responder.c - the Responder of MIKEY-TICKET (RFC 6043 4.2.2, 4.2.3)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * A Responder cannot authenticate a TRANSFER_INIT before it has the MPKi
 * (12.3): mikey_r_transfer_parse() does every check that needs no key, so
 * a bad message is refused before the KMS is asked; the V check comes
 * after resolving (or opening the ticket in modes 2 and 4).  Replay
 * checking is the caller's: it must insert into its (modified) replay
 * cache only after mikey_r_resolve_resp()/mikey_r_transfer_verify()
 * succeeded (design.md section 3, inbound step 3).
 */
#include <string.h>

#include <openssl/crypto.h>

#include "mikey/mikey-int.h"

void
mikey_r_resolve_cleanup(struct mikey_r_resolve *st)
{
	if (st != NULL)
		mikey_cleanse(st, sizeof(*st));
}

void
mikey_resolved_cleanup(struct mikey_resolved *r)
{
	if (r != NULL)
		mikey_cleanse(r, sizeof(*r));
}

/* ntp_secs - NTP-UTC 64 to Unix seconds in the 1968-2104 window */
static int64_t
ntp_secs(uint64_t ntp)
{
	return mikey_ntp_to_unix(ntp);
}

/*
 * check_policy - the early reject on the ticket policy, before any KMS
 *	contact (4.2.2.2): parse, ticket type, flag rules, N/O, validity
 */
static int
check_policy(const struct mikey_env *env, struct mikey_r_transfer *x,
    struct mikey_diag *diag)
{
	int64_t now;
	int rc;

	if ((rc = mikey_policy_parse(x->ticket, &x->pol, diag)) != 0)
		return rc;
	if (x->pol.ticket_type != MIKEY_TICKET_BASE)
		return MIKEY_ERR_TICKET_TYPE;
	if ((rc = mikey_policy_check_flags(x->pol.flags)) != 0)
		return rc;
	if (!(x->pol.flags & MIKEY_TPF_O))
		return MIKEY_ERR_POLICY;	/* needs ticket-type processing */
	now = ntp_secs(mikey_env_now(env));
	if (x->pol.start && ntp_secs(x->pol.start) >
	    now + (int64_t)mikey_env_skew(env))
		return MIKEY_ERR_EXPIRED;	/* not yet valid */
	if (x->pol.end && ntp_secs(x->pol.end) < now)
		return MIKEY_ERR_EXPIRED;
	return 0;
}

int
mikey_r_transfer_parse(const struct mikey_env *env, const uint8_t *msg,
    size_t len, struct mikey_r_transfer *x, struct mikey_diag *diag)
{
	const struct mikey_payload *ts, *ri, *idi, *idr, *v;
	int64_t now;
	int rc;

	memset(x, 0, sizeof(*x));
	if ((rc = mikey_msg_decode(msg, len, &x->msg, diag)) != 0)
		return rc;
	if (x->msg.hdr.data_type != MIKEY_DT_TRANSFER_INIT)
		return MIKEY_ERR_DATA_TYPE;
	if (x->msg.hdr.map_type == MIKEY_MAP_SRTP)
		return MIKEY_ERR_VALUE;		/* 4.2.2.1: SHALL NOT */
	ts = mikey_chain_find(&x->msg.body, MIKEY_PT_T, -1, 0);
	ri = mikey_chain_find(&x->msg.body, MIKEY_PT_RANDR, MIKEY_RAND_I, 0);
	x->ticket = mikey_chain_find(&x->msg.body, MIKEY_PT_TICKET, -1, 0);
	idi = mikey_chain_find(&x->msg.body, MIKEY_PT_IDR, MIKEY_ROLE_I, 0);
	idr = mikey_chain_find(&x->msg.body, MIKEY_PT_IDR, MIKEY_ROLE_R, 0);
	v = mikey_v_last(&x->msg);
	if (ts == NULL || ri == NULL || x->ticket == NULL || v == NULL ||
	    mikey_chain_find(&x->msg.body, MIKEY_PT_TICKET, -1, 1) != NULL ||
	    mikey_chain_find(&x->msg.body, MIKEY_PT_RANDR, MIKEY_RAND_I, 1))
		return MIKEY_ERR_STRUCTURE;
	if (v->u.v.alg == MIKEY_MAC_NULL)
		return MIKEY_ERR_ALG;
	if (ts->u.ts.ts_type == MIKEY_TS_COUNTER)
		return MIKEY_ERR_TS;	/* ordering needs a real time */
	x->t = mikey_ts64(&ts->u.ts);
	x->randri = ri->u.rand.rand;
	if (idi != NULL) {
		x->idi.type = idi->u.id.type;
		x->idi.data = idi->u.id.data;
	}
	if (idr != NULL) {
		x->idr.type = idr->u.id.type;
		x->idr.data = idr->u.id.data;
	}
	if ((rc = check_policy(env, x, diag)) != 0)
		return rc;
	if (!(x->pol.flags & MIKEY_TPF_L) &&
	    mikey_chain_find(&x->msg.body, MIKEY_PT_KEMAC, -1, 0) != NULL)
		return MIKEY_ERR_POLICY;	/* L = 0: no initiator keys */
	/* the sender named in the message must be the one in the ticket */
	if (idi != NULL && x->pol.has_idi && !mikey_id_equal(&x->idi,
	    &x->pol.idi))
		return MIKEY_ERR_MISMATCH;
	now = ntp_secs(mikey_env_now(env));
	/* a TRANSFER_INIT from beyond the allowed skew in the future */
	if (ntp_secs(x->t) > now + (int64_t)mikey_env_skew(env))
		return MIKEY_ERR_TS;
	return 0;
}

int
mikey_r_resolve_init(const struct mikey_env *env,
    const struct mikey_r_transfer *x, const struct mikey_cred *me,
    struct mikey_r_resolve *st, uint8_t *out, size_t cap, size_t *len_out)
{
	struct mikey_msg m;
	struct mikey_payload *pl;
	struct mikey_msgkeys k;
	struct mikey_bytes rb, app[2];
	uint8_t csb[4], rnd[255];
	size_t len;
	int rc;

	memset(&k, 0, sizeof(k));
	memset(st, 0, sizeof(*st));
	if (me->psk == NULL || me->psk_len < 16 ||
	    me->psk_len > MIKEY_MAX_KEY || me->suite.mac == MIKEY_MAC_NULL ||
	    mikey_mac_len(me->suite.mac) < 0 ||
	    me->suite.prf > MIKEY_PRF_HMAC_SHA256 || x->ticket == NULL)
		return MIKEY_ERR_INVAL;
	if ((rc = mikey_env_rand(env, csb, sizeof(csb))) != 0)
		return rc;
	rb.p = rnd;
	rb.len = mikey_rand_len(me->suite.prf, me->psk_len);
	if ((rc = mikey_env_rand(env, rnd, rb.len)) != 0)
		return rc;
	mikey_msg_start(&m, MIKEY_DT_RESOLVE_INIT_PSK, 1, me->suite.prf,
	    ld32(csb), mikey_env_now(env));
	pl = mikey_chain_add(&m.body, MIKEY_PT_RANDR);
	pl->u.rand.role = MIKEY_RAND_R;
	pl->u.rand.rand = rb;
	if ((rc = mikey_chain_add_idr(&m.body, MIKEY_ROLE_R, &me->id)) != 0 ||
	    (rc = mikey_chain_add_idr(&m.body, MIKEY_ROLE_KMS, &me->idkms)) != 0)
		return rc;
	/* the TICKET as received, Initiator Data included (4.2.3.1) */
	pl = mikey_chain_add(&m.body, MIKEY_PT_TICKET);
	pl->u = x->ticket->u;
	if ((rc = mikey_chain_add_idr(&m.body, MIKEY_ROLE_PSK, &me->idpsk)) != 0 ||
	    (rc = mikey_chain_add_v(&m.body, me->suite.mac)) != 0)
		return rc;
	if ((rc = mikey_msg_encode(&m, out, cap, &len)) != 0)
		return rc;
	if (len > sizeof(st->init))
		return MIKEY_ERR_TOO_BIG;
	/* K1 from PSK(R, KMS) with RANDRr only; || IDr || IDkms */
	rc = mikey_msgkeys_derive(me->suite.prf, me->psk, me->psk_len,
	    m.hdr.csb_id, MIKEY_LBL_INIT, NULL, &rb, MIKEY_ENCR_NULL,
	    me->suite.mac, &k);
	if (rc != 0)
		goto done;
	app[0] = me->id.data;
	app[1] = me->idkms.data;
	rc = mikey_v_finish(out, len, me->suite.mac, k.auth, k.auth_len, 0, 0,
	    app, 2);
	if (rc != 0)
		goto done;
	memcpy(st->init, out, len);
	st->init_len = len;
	memcpy(st->psk, me->psk, me->psk_len);
	st->psk_len = me->psk_len;
	st->suite = me->suite;
	*len_out = len;
done:
	mikey_msgkeys_cleanup(&k);
	mikey_cleanse(rnd, sizeof(rnd));
	return rc;
}

/* check_vi - with forking, V's MAC must equal Vi's MAC (4.2.3.6) */
static int
check_vi(const struct mikey_r_transfer *x)
{
	const struct mikey_pl_ticket *t = &x->ticket->u.ticket;
	const struct mikey_payload *v = mikey_v_last(&x->msg);
	struct mikey_payload vi;
	struct mikey_bytes id = t->init_data;
	int ml = mikey_mac_len(v->u.v.alg);

	/* Initiator Data = first byte (9), Vi (NP, alg, MAC), Vr */
	if (id.len < 3 + (size_t)ml || id.p[0] != MIKEY_PT_V)
		return MIKEY_ERR_STRUCTURE;
	if (mikey_payload_decode(MIKEY_PT_V, id.p + 1, 2 + (size_t)ml, &vi,
	    NULL) != 0 || vi.u.v.alg != v->u.v.alg)
		return MIKEY_ERR_STRUCTURE;
	if (CRYPTO_memcmp(vi.u.v.mac.p, v->u.v.mac.p, (size_t)ml) != 0)
		return MIKEY_ERR_AUTH;
	return 0;
}

int
mikey_r_ticket_parse(const struct mikey_env *env, const uint8_t *ticket,
    size_t len, struct mikey_r_transfer *x, struct mikey_diag *diag)
{
	struct mikey_payload *pl;
	int rc;

	memset(x, 0, sizeof(*x));
	pl = &x->msg.body.pl[0];
	if ((rc = mikey_payload_decode(MIKEY_PT_TICKET, ticket, len, pl,
	    diag)) != 0)
		return rc;
	x->msg.body.n = 1;
	x->msg.raw.p = ticket;
	x->msg.raw.len = len;
	x->ticket = pl;
	return check_policy(env, x, diag);
}

int
mikey_r_transfer_verify(const struct mikey_r_transfer *x,
    const struct mikey_resolved *keys)
{
	const struct mikey_payload *v = mikey_v_last(&x->msg);
	const struct mikey_pl_ticket *t;
	struct mikey_msgkeys k;
	struct mikey_bytes app[2];
	size_t cut;
	int rc;

	if (v == NULL || x->ticket == NULL || keys->mpki.key_len == 0)
		return MIKEY_ERR_INVAL;
	t = &x->ticket->u.ticket;
	memset(&k, 0, sizeof(k));
	rc = mikey_msgkeys_derive(x->msg.hdr.prf_func, keys->mpki.key,
	    keys->mpki.key_len, x->msg.hdr.csb_id, MIKEY_LBL_INIT, &x->randri,
	    NULL, MIKEY_ENCR_NULL, v->u.v.alg, &k);
	if (rc != 0)
		return rc;
	/* MAC over the message less Initiator Data length and Initiator
	 * Data (5.5) || Identity_i || Identity_r */
	cut = x->ticket->off + x->ticket->len - 2 - t->init_data.len;
	app[0] = x->idi.data;
	app[1] = x->idr.data;
	rc = mikey_v_verify(&x->msg, k.auth, k.auth_len, cut,
	    2 + t->init_data.len, app, 2);
	mikey_msgkeys_cleanup(&k);
	if (rc == 0 && (x->pol.flags & MIKEY_TPF_I))
		rc = check_vi(x);
	return rc;
}

int
mikey_r_resolve_resp(const struct mikey_env *env,
    const struct mikey_r_resolve *st, const struct mikey_r_transfer *x,
    const uint8_t *msg, size_t len, struct mikey_resolved *out,
    int *peer_errno, struct mikey_diag *diag)
{
	struct mikey_msg m;
	const struct mikey_payload *idr, *rk;
	struct mikey_msgkeys k;
	int rc, forking = (x->pol.flags & MIKEY_TPF_I) != 0;

	memset(out, 0, sizeof(*out));
	rc = mikey_resp_verify(env, MIKEY_DT_RESOLVE_RESP, st->init,
	    st->init_len, st->psk, st->psk_len, MIKEY_RAND_R, msg, len, &m, &k,
	    peer_errno, diag);
	if (rc != 0)
		return rc;
	idr = mikey_chain_find(&m.body, MIKEY_PT_IDR, MIKEY_ROLE_R, 0);
	rk = mikey_chain_find(&m.body, MIKEY_PT_RANDR, MIKEY_RAND_KMS, 0);
	/* MPKi || [MPKr'] || {TEK|TGK'|GTGK} (4.2.3.5); forking also sends
	 * the modifier (IDRr, RANDRkms) */
	if (forking && (idr == NULL || rk == NULL)) {
		rc = MIKEY_ERR_STRUCTURE;
		goto done;
	}
	rc = mikey_resp_keys(&m, &k, forking, &out->mpki, &out->mpkr,
	    out->keys, &out->nkeys);
	if (rc != 0)
		goto done;
	out->has_mpkr = forking;
	if (idr != NULL) {
		if (idr->u.id.data.len > sizeof(out->idr_buf)) {
			rc = MIKEY_ERR_TOO_BIG;
			goto done;
		}
		memcpy(out->idr_buf, idr->u.id.data.p, idr->u.id.data.len);
		out->idr.type = idr->u.id.type;
		out->idr.data.p = out->idr_buf;
		out->idr.data.len = idr->u.id.data.len;
	}
	if (rk != NULL) {
		memcpy(out->randrkms, rk->u.rand.rand.p, rk->u.rand.rand.len);
		out->randrkms_len = rk->u.rand.rand.len;
	}
	/* now the pending TRANSFER_INIT can be verified with MPKi (a bare
	 * ticket from mikey_r_ticket_parse has none) */
	if (x->msg.hdr.data_type == MIKEY_DT_TRANSFER_INIT)
		rc = mikey_r_transfer_verify(x, out);
done:
	if (rc != 0)
		mikey_resolved_cleanup(out);
	mikey_msgkeys_cleanup(&k);
	return rc;
}

int
mikey_r_open_ticket(const struct mikey_r_transfer *x,
    mikey_tpk_lookup_cb lookup, void *arg, struct mikey_resolved *out)
{
	struct mikey_ticket_keys tk;
	struct mikey_bytes rb;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	if (x->pol.flags & MIKEY_TPF_E)
		return MIKEY_ERR_POLICY;	/* resolve via KMS mandatory */
	if ((rc = mikey_ticket_open(x->ticket, lookup, arg, &tk)) != 0)
		return rc;
	rb.p = tk.rand;
	rb.len = tk.rand_len;
	rc = mikey_mpk_derive(x->pol.prf, &tk.mpk, rb, MIKEY_C_MPKI,
	    &out->mpki);
	if (rc != 0)
		goto done;
	out->nkeys = tk.nkeys;
	for (i = 0; i < tk.nkeys; i++)
		out->keys[i] = tk.keys[i];
	rc = mikey_r_transfer_verify(x, out);
done:
	if (rc != 0)
		mikey_resolved_cleanup(out);
	mikey_ticket_keys_cleanup(&tk);
	return rc;
}

int
mikey_r_transfer_tek(const struct mikey_r_transfer *x,
    const struct mikey_resolved *keys, const struct mikey_bytes *randrr,
    uint8_t cs_id, uint8_t *tek, size_t len)
{
	const struct mikey_key *tgk = mikey_keys_first_tgk(keys->keys, keys->nkeys);
	uint32_t f = x->pol.flags;

	if (tgk == NULL)
		return MIKEY_ERR_STRUCTURE;
	if ((f & MIKEY_TPF_G) && (randrr == NULL || randrr->len == 0))
		return MIKEY_ERR_INVAL;
	/* TGKs from a forking resolve are TGK' already (4.2.3.5) */
	return mikey_tek_derive(x->msg.hdr.prf_func, tgk, cs_id,
	    (f & MIKEY_TPF_H) ? &x->randri : NULL,
	    (f & MIKEY_TPF_G) ? randrr : NULL, MIKEY_C_TEK, tek, len);
}

int
mikey_r_transfer_resp(const struct mikey_env *env,
    const struct mikey_r_transfer *x, const struct mikey_resolved *keys,
    uint8_t *randrr_out, size_t *randrr_len, uint8_t *out, size_t cap,
    size_t *len_out)
{
	const struct mikey_payload *v = mikey_v_last(&x->msg);
	const struct mikey_key *key;
	struct mikey_msg m;
	struct mikey_payload *pl;
	struct mikey_msgkeys k;
	struct mikey_bytes rr, app;
	size_t len;
	int rc;

	memset(&k, 0, sizeof(k));
	if (!(x->pol.flags & MIKEY_TPF_F))
		return MIKEY_ERR_POLICY;	/* F = 0: SHALL NOT be sent */
	if (v == NULL)
		return MIKEY_ERR_INVAL;
	key = (x->pol.flags & MIKEY_TPF_I) ? &keys->mpkr : &keys->mpki;
	if (key->key_len == 0)
		return MIKEY_ERR_INVAL;
	m.hdr = x->msg.hdr;
	m.body.n = 0;
	m.hdr.data_type = MIKEY_DT_TRANSFER_RESP;
	m.hdr.v_flag = 0;
	pl = mikey_chain_add(&m.body, MIKEY_PT_T);
	pl->u.ts.ts_type = MIKEY_TS_NTP_UTC;
	pl->u.ts.value = mikey_env_now(env);
	rr.p = randrr_out;
	rr.len = 0;
	if (x->pol.flags & MIKEY_TPF_G) {
		rr.len = mikey_rand_len(m.hdr.prf_func, key->key_len);
		if ((rc = mikey_env_rand(env, randrr_out, rr.len)) != 0)
			return rc;
		pl = mikey_chain_add(&m.body, MIKEY_PT_RANDR);
		pl->u.rand.role = MIKEY_RAND_R;
		pl->u.rand.rand = rr;
	}
	/* IDRr: the identity the KMS answered with, else ours (4.2.2.3) */
	if ((rc = mikey_chain_add_idr(&m.body, MIKEY_ROLE_R, keys->idr.data.len ?
	    &keys->idr : &x->idr)) != 0)
		return rc;
	if (keys->randrkms_len) {
		pl = mikey_chain_add(&m.body, MIKEY_PT_RANDR);
		pl->u.rand.role = MIKEY_RAND_KMS;
		pl->u.rand.rand.p = keys->randrkms;
		pl->u.rand.rand.len = keys->randrkms_len;
	}
	if ((rc = mikey_chain_add_v(&m.body, v->u.v.alg)) != 0)
		return rc;
	if ((rc = mikey_msg_encode(&m, out, cap, &len)) != 0)
		return rc;
	rc = mikey_msgkeys_derive(m.hdr.prf_func, key->key, key->key_len,
	    m.hdr.csb_id, MIKEY_LBL_RESP, &x->randri, rr.len ? &rr : NULL,
	    MIKEY_ENCR_NULL, v->u.v.alg, &k);
	if (rc != 0)
		goto done;
	app = x->msg.raw;	/* || TRANSFER_INIT, complete */
	rc = mikey_v_finish(out, len, v->u.v.alg, k.auth, k.auth_len, 0, 0,
	    &app, 1);
	if (rc == 0) {
		*randrr_len = rr.len;
		*len_out = len;
	}
done:
	mikey_msgkeys_cleanup(&k);
	return rc;
}
