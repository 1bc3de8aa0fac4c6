/*
 * mikey/mikey_initiator.c - the Initiator of MIKEY-TICKET (RFC 6043 4.2.1, 4.2.2)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * Ticket Request: REQUEST_INIT_PSK out, REQUEST_RESP in.  Ticket Transfer:
 * TRANSFER_INIT out and, only when the ticket policy sets F, TRANSFER_RESP
 * in.  imgate's messaging profile asks for F = 0, G = 0, H = 1: the TEK
 * depends on the ticket's TGK and the fresh RANDRi of each TRANSFER_INIT,
 * so one ticket serves many messages without a KMS call each
 * (spec/mikey-ticket.md 4.15, design.md section 3).
 */
#include <string.h>

#include "mikey/mikey-int.h"

static const uint8_t zeros[64];

void
mikey_i_request_cleanup(struct mikey_i_request *st)
{
	if (st != NULL)
		mikey_cleanse(st, sizeof(*st));
}

void
mikey_ticket_cleanup(struct mikey_ticket *t)
{
	if (t != NULL)
		mikey_cleanse(t, sizeof(*t));
}

/* suite_ok - a supported suite (RFC 6043 6.1/6.2: SHA-256 set together) */
static int
suite_ok(const struct mikey_suite *s)
{
	if (s->prf > MIKEY_PRF_HMAC_SHA256 || s->encr > MIKEY_ENCR_AES_CM_256 ||
	    s->mac == MIKEY_MAC_NULL || s->mac > MIKEY_MAC_HMAC_SHA256_256)
		return 0;
	return 1;
}

/*
 * build_tpdata - TP Data for p's policy in the order of RFC 6043 6.10:
 *	[IDRi], [TRs], [TRe], [KEMAC] (desired keys: types and lengths, key
 *	bytes zero; only if with_keys), (IDRr).  kdb holds the key data.
 */
static int
build_tpdata(const struct mikey_request_params *p, int with_keys, uint8_t *kdb,
    size_t kdcap, uint8_t *out, size_t cap, size_t *len_out)
{
	struct mikey_keydata kd[MIKEY_MAX_KEYS];
	struct mikey_chain tp;
	struct mikey_payload *pl;
	size_t i, kdlen;
	int rc;

	tp.n = 0;
	if ((rc = mikey_chain_add_idr(&tp, MIKEY_ROLE_I, &p->idi)) != 0)
		return rc;
	if (p->start && (rc = mikey_chain_add_tr(&tp, MIKEY_TSR_START,
	    p->start)) != 0)
		return rc;
	if (p->end && (rc = mikey_chain_add_tr(&tp, MIKEY_TSR_END,
	    p->end)) != 0)
		return rc;
	if (with_keys && p->nkeys) {
		for (i = 0; i < p->nkeys; i++) {
			if (p->key_len[i] < 16 || p->key_len[i] > MIKEY_MAX_KEY)
				return MIKEY_ERR_INVAL;
			memset(&kd[i], 0, sizeof(kd[i]));
			kd[i].type = p->key_type[i];
			kd[i].kv = MIKEY_KV_SPI;
			kd[i].key.p = zeros;
			kd[i].key.len = p->key_len[i];
			kd[i].spi.p = zeros;
			kd[i].spi.len = 4;
		}
		rc = mikey_keydata_encode(kd, p->nkeys, kdb, kdcap, &kdlen);
		if (rc != 0)
			return rc;
		pl = mikey_chain_add(&tp, MIKEY_PT_KEMAC);
		pl->u.kemac.encr_alg = MIKEY_ENCR_NULL;
		pl->u.kemac.encr_data.p = kdb;
		pl->u.kemac.encr_data.len = kdlen;
		pl->u.kemac.mac_alg = MIKEY_MAC_NULL;
	}
	for (i = 0; i < p->nresp; i++)
		if ((rc = mikey_chain_add_idr(&tp, MIKEY_ROLE_R,
		    &p->resp[i])) != 0)
			return rc;
	return mikey_tpdata_encode(&tp, out, cap, len_out);
}

int
mikey_i_request_init(const struct mikey_env *env,
    const struct mikey_request_params *p, struct mikey_i_request *st,
    uint8_t *out, size_t cap, size_t *len_out)
{
	struct mikey_msg m;
	struct mikey_payload *pl;
	struct mikey_msgkeys k;
	struct mikey_bytes rb, app[2];
	uint8_t rnd[255], csb[4], tpd[4096], kdb[MIKEY_MAX_KEYS * 80];
	size_t tplen, len;
	uint64_t now;
	int rc;

	memset(&k, 0, sizeof(k));
	memset(st, 0, sizeof(*st));
	if (p->psk == NULL || p->psk_len < 16 || p->psk_len > MIKEY_MAX_KEY ||
	    !suite_ok(&p->suite) || p->nresp == 0 ||
	    p->nresp > MIKEY_MAX_RESPONDERS || p->nkeys > MIKEY_MAX_KEYS ||
	    p->ticket_prf > MIKEY_PRF_HMAC_SHA256)
		return MIKEY_ERR_INVAL;
	if ((rc = mikey_policy_check_flags(p->flags)) != 0)
		return rc;
	now = mikey_env_now(env);
	if ((rc = mikey_env_rand(env, csb, sizeof(csb))) != 0)
		return rc;
	rb.len = mikey_rand_len(p->suite.prf, p->psk_len);
	rb.p = rnd;
	if ((rc = mikey_env_rand(env, rnd, rb.len)) != 0)
		return rc;

	/* the desired policy, with the keys wanted (6.10) */
	rc = build_tpdata(p, 1, kdb, sizeof(kdb), tpd, sizeof(tpd), &tplen);
	if (rc != 0)
		return rc;

	mikey_msg_start(&m, MIKEY_DT_REQUEST_INIT_PSK, 1, p->suite.prf,
	    ld32(csb), now);
	pl = mikey_chain_add(&m.body, MIKEY_PT_RANDR);
	pl->u.rand.role = MIKEY_RAND_I;
	pl->u.rand.rand = rb;
	if ((rc = mikey_chain_add_idr(&m.body, MIKEY_ROLE_I, &p->idi)) != 0 ||
	    (rc = mikey_chain_add_idr(&m.body, MIKEY_ROLE_KMS, &p->idkms)) != 0)
		return rc;
	pl = mikey_chain_add(&m.body, MIKEY_PT_TP);
	pl->u.ticket.ticket_type = MIKEY_TICKET_BASE;
	pl->u.ticket.subtype = 1;
	pl->u.ticket.version = 1;
	pl->u.ticket.prf_func = p->ticket_prf;
	pl->u.ticket.flags = p->flags;
	pl->u.ticket.tp_data.p = tpd;
	pl->u.ticket.tp_data.len = tplen;
	if ((rc = mikey_chain_add_idr(&m.body, MIKEY_ROLE_PSK, &p->idpsk)) != 0 ||
	    (rc = mikey_chain_add_v(&m.body, p->suite.mac)) != 0)
		return rc;
	if ((rc = mikey_msg_encode(&m, out, cap, &len)) != 0)
		return rc;
	if (len > sizeof(st->init))
		return MIKEY_ERR_TOO_BIG;

	/* K1 from PSK(I, KMS); MAC over message || IDi || IDkms (5.5) */
	rc = mikey_msgkeys_derive(p->suite.prf, p->psk, p->psk_len,
	    m.hdr.csb_id, MIKEY_LBL_INIT, &rb, NULL, MIKEY_ENCR_NULL,
	    p->suite.mac, &k);
	if (rc != 0)
		goto done;
	app[0] = p->idi.data;
	app[1] = p->idkms.data;
	rc = mikey_v_finish(out, len, p->suite.mac, k.auth, k.auth_len, 0, 0,
	    app, 2);
	if (rc != 0)
		goto done;
	memcpy(st->init, out, len);
	st->init_len = len;
	memcpy(st->psk, p->psk, p->psk_len);
	st->psk_len = p->psk_len;
	st->suite = p->suite;
	*len_out = len;
done:
	mikey_msgkeys_cleanup(&k);
	mikey_cleanse(rnd, sizeof(rnd));
	return rc;
}

int
mikey_i_request_resp(const struct mikey_env *env,
    const struct mikey_i_request *st, const uint8_t *msg, size_t len,
    struct mikey_ticket *t, int *peer_errno, struct mikey_diag *diag)
{
	struct mikey_msg m;
	const struct mikey_payload *tk;
	struct mikey_policy pol;
	struct mikey_msgkeys k;
	int rc;

	memset(t, 0, sizeof(*t));
	rc = mikey_resp_verify(env, MIKEY_DT_REQUEST_RESP, st->init,
	    st->init_len, st->psk, st->psk_len, MIKEY_RAND_I, msg, len, &m, &k,
	    peer_errno, diag);
	if (rc != 0)
		return rc;
	if ((tk = mikey_chain_find(&m.body, MIKEY_PT_TICKET, -1, 0)) == NULL) {
		rc = MIKEY_ERR_STRUCTURE;
		goto done;
	}
	/* the granted policy must be one we can use (4.2.1.6) */
	if ((rc = mikey_policy_parse(tk, &pol, NULL)) != 0)
		goto done;
	if (pol.ticket_type != MIKEY_TICKET_BASE) {
		rc = MIKEY_ERR_TICKET_TYPE;
		goto done;
	}
	if ((rc = mikey_policy_check_flags(pol.flags)) != 0)
		goto done;
	/* MPKi || [MPKr] (forking) || {TEK|TGK|GTGK} (4.2.1.5) */
	rc = mikey_resp_keys(&m, &k, (pol.flags & MIKEY_TPF_I) != 0, &t->mpki,
	    &t->mpkr, t->keys, &t->nkeys);
	if (rc != 0)
		goto done;
	t->has_mpkr = (pol.flags & MIKEY_TPF_I) != 0;
	if (tk->len > sizeof(t->payload)) {
		rc = MIKEY_ERR_TOO_BIG;
		goto done;
	}
	memcpy(t->payload, msg + tk->off, tk->len);
	t->payload[0] = MIKEY_PT_LAST;
	t->payload_len = tk->len;
done:
	if (rc != 0)
		mikey_ticket_cleanup(t);
	mikey_msgkeys_cleanup(&k);
	return rc;
}

/*
 * initiator_data - Vi || Vr for key forking (RFC 6043 6.10): Vi copies
 *	the TRANSFER_INIT V (NP 9 so Vr follows: spec 4.15 Reading), Vr is a
 *	MAC over the Initiator Data with K5 from the un-forked MPKr.
 */
static int
initiator_data(const struct mikey_ticket *t, uint8_t tprf, uint8_t alg,
    const uint8_t *vmac, uint8_t *out, size_t cap, size_t *len_out)
{
	struct mikey_chain ch;
	struct mikey_payload *p;
	struct mikey_bytes part;
	uint8_t lab[16], key[32];
	size_t ll, len;
	int ml = mikey_mac_len(alg), rc;

	if (!t->has_mpkr || ml <= 0)
		return MIKEY_ERR_POLICY;
	ch.n = 0;
	p = mikey_chain_add(&ch, MIKEY_PT_V);
	p->u.v.alg = alg;
	p->u.v.mac.p = vmac;
	p->u.v.mac.len = (size_t)ml;
	if ((rc = mikey_chain_add_v(&ch, alg)) != 0)
		return rc;
	if ((rc = mikey_tpdata_encode(&ch, out, cap, &len)) != 0)
		return rc;
	ll = mikey_label_fixed(MIKEY_C_AUTH, MIKEY_LBL_VR, NULL, lab,
	    sizeof(lab));
	rc = mikey_prf(tprf, t->mpkr.key, t->mpkr.key_len, lab, ll, key,
	    (size_t)ml);
	if (rc == 0) {
		part.p = out;
		part.len = len - (size_t)ml;
		rc = mikey_mac(alg, key, (size_t)ml, &part, 1,
		    out + len - ml);
	}
	mikey_cleanse(key, sizeof(key));
	if (rc == 0)
		*len_out = len;
	return rc;
}

int
mikey_i_transfer_init(const struct mikey_env *env, const struct mikey_ticket *t,
    const struct mikey_transfer_params *p, struct mikey_i_transfer *st,
    uint8_t *out, size_t cap, size_t *len_out)
{
	struct mikey_payload tk, *pl;
	struct mikey_policy pol;
	struct mikey_msg m;
	struct mikey_msgkeys k;
	struct mikey_bytes rb, app[2];
	const struct mikey_key *tgk;
	uint8_t csb[4], idata[80];
	size_t len, i, longest, ilen, cut;
	int rc, ml;

	memset(&k, 0, sizeof(k));
	/* st holds no secret and its buffers are used up to their lengths:
	 * clearing the lengths is enough (the 9 KB memset was 7% of a
	 * TRANSFER_INIT build + verify, tests/bench/bench_mikey) */
	st->init_len = 0;
	st->randri_len = 0;
	st->randrr_len = 0;
	st->fork_id_len = 0;
	st->randrkms_len = 0;
	if (!suite_ok(&p->suite) || p->ncs > MIKEY_MAX_CS || p->nsp > 4 ||
	    t->mpki.key_len == 0)
		return MIKEY_ERR_INVAL;
	rc = mikey_payload_decode(MIKEY_PT_TICKET, t->payload, t->payload_len,
	    &tk, NULL);
	if (rc != 0)
		return rc;
	if ((rc = mikey_policy_parse(&tk, &pol, NULL)) != 0)
		return rc;
	longest = t->mpki.key_len;
	if ((tgk = mikey_keys_first_tgk(t->keys, t->nkeys)) != NULL &&
	    tgk->key_len > longest)
		longest = tgk->key_len;
	if ((rc = mikey_env_rand(env, csb, sizeof(csb))) != 0)
		return rc;
	st->randri_len = mikey_rand_len(p->suite.prf, longest);
	if ((rc = mikey_env_rand(env, st->randri, st->randri_len)) != 0)
		return rc;
	rb.p = st->randri;
	rb.len = st->randri_len;
	st->csb_id = ld32(csb);
	st->prf = p->suite.prf;
	st->tprf = pol.prf;
	st->flags = pol.flags;

	/* HDR V = F (4.2.2.1); GENERIC-ID map, SRTP-ID SHALL NOT be used */
	mikey_msg_start(&m, MIKEY_DT_TRANSFER_INIT,
	    (pol.flags & MIKEY_TPF_F) ? 1 : 0, p->suite.prf, st->csb_id,
	    mikey_env_now(env));
	m.hdr.map_type = MIKEY_MAP_GENERIC;
	m.hdr.ncs = p->ncs;
	for (i = 0; i < p->ncs; i++)
		m.hdr.cs[i] = p->cs[i];
	pl = mikey_chain_add(&m.body, MIKEY_PT_RANDR);
	pl->u.rand.role = MIKEY_RAND_I;
	pl->u.rand.rand = rb;
	if ((rc = mikey_chain_add_idr(&m.body, MIKEY_ROLE_I, &p->idi)) != 0 ||
	    (rc = mikey_chain_add_idr(&m.body, MIKEY_ROLE_R, &p->idr)) != 0)
		return rc;
	for (i = 0; i < p->nsp; i++) {
		pl = mikey_chain_add(&m.body, MIKEY_PT_SP);
		pl->u.sp = p->sp[i];
	}
	pl = mikey_chain_add(&m.body, MIKEY_PT_TICKET);
	pl->u = tk.u;
	pl->u.ticket.init_data.len = 0;
	if ((rc = mikey_chain_add_v(&m.body, p->suite.mac)) != 0)
		return rc;
	if ((rc = mikey_msg_encode(&m, out, cap, &len)) != 0)
		return rc;
	ml = mikey_mac_len(p->suite.mac);

	/* K1 from MPKi with RANDRi; MAC over the message without the
	 * Initiator Data length and data || IDi || IDr (5.5, Table 5.2) */
	rc = mikey_msgkeys_derive(p->suite.prf, t->mpki.key, t->mpki.key_len,
	    st->csb_id, MIKEY_LBL_INIT, &rb, NULL, MIKEY_ENCR_NULL,
	    p->suite.mac, &k);
	if (rc != 0)
		goto done;
	app[0] = p->idi.data;
	app[1] = p->idr.data;
	cut = len - (2 + (size_t)ml) - 2;	/* TICKET then V */
	rc = mikey_v_finish(out, len, p->suite.mac, k.auth, k.auth_len, cut, 2,
	    app, 2);
	if (rc != 0)
		goto done;
	if (pol.flags & MIKEY_TPF_I) {
		/* key forking: append Initiator Data after V is computed */
		uint8_t vmac[32];

		memcpy(vmac, out + len - ml, (size_t)ml);
		rc = initiator_data(t, pol.prf, p->suite.mac, vmac, idata,
		    sizeof(idata), &ilen);
		if (rc != 0)
			goto done;
		pl = &m.body.pl[m.body.n - 2];
		pl->u.ticket.init_data.p = idata;
		pl->u.ticket.init_data.len = ilen;
		m.body.pl[m.body.n - 1].u.v.mac.p = vmac;
		if ((rc = mikey_msg_encode(&m, out, cap, &len)) != 0)
			goto done;
	}
	if (len > sizeof(st->init)) {
		rc = MIKEY_ERR_TOO_BIG;
		goto done;
	}
	memcpy(st->init, out, len);
	st->init_len = len;
	*len_out = len;
done:
	mikey_msgkeys_cleanup(&k);
	return rc;
}

int
mikey_i_transfer_resp(const struct mikey_env *env, const struct mikey_ticket *t,
    struct mikey_i_transfer *st, const uint8_t *msg, size_t len,
    struct mikey_diag *diag)
{
	struct mikey_msg m;
	const struct mikey_payload *rr, *idr, *rk, *v;
	struct mikey_key mpkr;
	const struct mikey_key *key = &t->mpki;
	struct mikey_msgkeys k;
	struct mikey_bytes ri, app;
	int rc, perr;

	memset(&k, 0, sizeof(k));
	memset(&mpkr, 0, sizeof(mpkr));
	if (!(st->flags & MIKEY_TPF_F))
		return MIKEY_ERR_POLICY;	/* F = 0: no response due */
	if ((rc = mikey_msg_decode(msg, len, &m, diag)) != 0)
		return rc;
	if ((rc = mikey_msg_peer_error(&m, &perr)) != 0)
		return rc;
	if (m.hdr.data_type != MIKEY_DT_TRANSFER_RESP)
		return MIKEY_ERR_DATA_TYPE;
	if (m.hdr.csb_id != st->csb_id)
		return MIKEY_ERR_MISMATCH;
	if ((v = mikey_v_last(&m)) == NULL)
		return MIKEY_ERR_STRUCTURE;
	rr = mikey_chain_find(&m.body, MIKEY_PT_RANDR, MIKEY_RAND_R, 0);
	idr = mikey_chain_find(&m.body, MIKEY_PT_IDR, MIKEY_ROLE_R, 0);
	rk = mikey_chain_find(&m.body, MIKEY_PT_RANDR, MIKEY_RAND_KMS, 0);
	/* RANDRr present iff G (4.2.2.3) */
	if (((st->flags & MIKEY_TPF_G) != 0) != (rr != NULL))
		return MIKEY_ERR_STRUCTURE;
	if (st->flags & MIKEY_TPF_I) {
		/* forking: MPKr' from the modifier (IDRr, RANDRkms) */
		if (idr == NULL || rk == NULL || !t->has_mpkr)
			return MIKEY_ERR_STRUCTURE;
		if (idr->u.id.data.len > sizeof(st->fork_id))
			return MIKEY_ERR_TOO_BIG;
		rc = mikey_fork_derive(st->tprf, MIKEY_C_MPKR_FORK, &t->mpkr,
		    idr->u.id.data, rk->u.rand.rand, &mpkr);
		if (rc != 0)
			return rc;
		key = &mpkr;
	}
	ri.p = st->randri;
	ri.len = st->randri_len;
	rc = mikey_msgkeys_derive(m.hdr.prf_func, key->key, key->key_len,
	    st->csb_id, MIKEY_LBL_RESP, &ri, rr ? &rr->u.rand.rand : NULL,
	    MIKEY_ENCR_NULL, v->u.v.alg, &k);
	if (rc != 0)
		goto done;
	app.p = st->init;
	app.len = st->init_len;
	if ((rc = mikey_v_verify(&m, k.auth, k.auth_len, 0, 0, &app, 1)) != 0)
		goto done;
	if ((rc = mikey_msg_check_ts(env, &m)) != 0)
		goto done;
	if (rr != NULL) {
		memcpy(st->randrr, rr->u.rand.rand.p, rr->u.rand.rand.len);
		st->randrr_len = rr->u.rand.rand.len;
	}
	if (st->flags & MIKEY_TPF_I) {
		memcpy(st->fork_id, idr->u.id.data.p, idr->u.id.data.len);
		st->fork_id_len = idr->u.id.data.len;
		memcpy(st->randrkms, rk->u.rand.rand.p, rk->u.rand.rand.len);
		st->randrkms_len = rk->u.rand.rand.len;
	}
done:
	mikey_key_cleanup(&mpkr);
	mikey_msgkeys_cleanup(&k);
	return rc;
}

int
mikey_i_transfer_tek(const struct mikey_ticket *t,
    const struct mikey_i_transfer *st, uint8_t cs_id, uint8_t *tek,
    size_t len)
{
	const struct mikey_key *tgk = mikey_keys_first_tgk(t->keys, t->nkeys);
	struct mikey_bytes ri, rr, id, rk;
	struct mikey_key forked;
	int rc;

	if (tgk == NULL)
		return MIKEY_ERR_STRUCTURE;
	memset(&forked, 0, sizeof(forked));
	if ((st->flags & MIKEY_TPF_I) && (tgk->type == MIKEY_KEY_TGK ||
	    tgk->type == MIKEY_KEY_TGK_SALT)) {
		/* TGK' = K4(TGK, modifier): known after TRANSFER_RESP only */
		if (st->randrkms_len == 0)
			return MIKEY_ERR_STRUCTURE;
		id.p = st->fork_id;
		id.len = st->fork_id_len;
		rk.p = st->randrkms;
		rk.len = st->randrkms_len;
		rc = mikey_fork_derive(st->tprf, MIKEY_C_TGK_FORK, tgk, id, rk,
		    &forked);
		if (rc != 0)
			return rc;
		tgk = &forked;
	}
	ri.p = st->randri;
	ri.len = st->randri_len;
	rr.p = st->randrr;
	rr.len = st->randrr_len;
	if ((st->flags & MIKEY_TPF_G) && rr.len == 0)
		rc = MIKEY_ERR_STRUCTURE;	/* TRANSFER_RESP not seen */
	else
		rc = mikey_tek_derive(st->prf, tgk, cs_id,
		    (st->flags & MIKEY_TPF_H) ? &ri : NULL,
		    (st->flags & MIKEY_TPF_G) ? &rr : NULL, MIKEY_C_TEK, tek,
		    len);
	mikey_key_cleanup(&forked);
	return rc;
}

int
mikey_i_ticket_make(const struct mikey_env *env,
    const struct mikey_request_params *p, const struct mikey_tpk *tpk,
    struct mikey_ticket *t)
{
	struct mikey_ticket_keys tk;
	struct mikey_payload tp, tkt;
	struct mikey_chain ch;
	struct mikey_bytes thdr, rand;
	const struct mikey_payload *r;
	uint8_t tpd[4096];
	size_t i, len;
	int rc;

	memset(&tk, 0, sizeof(tk));
	memset(t, 0, sizeof(*t));
	if ((p->flags & MIKEY_TPF_D) || !(p->flags & MIKEY_TPF_L) ||
	    p->nresp == 0 || p->nresp > MIKEY_MAX_RESPONDERS ||
	    p->nkeys > MIKEY_MAX_KEYS || p->ticket_prf > MIKEY_PRF_HMAC_SHA256)
		return MIKEY_ERR_POLICY;
	if ((rc = mikey_policy_check_flags(p->flags)) != 0)
		return rc;
	if ((rc = build_tpdata(p, 0, NULL, 0, tpd, sizeof(tpd), &len)) != 0)
		return rc;
	memset(&tp, 0, sizeof(tp));
	tp.type = MIKEY_PT_TP;
	tp.u.ticket.ticket_type = MIKEY_TICKET_BASE;
	tp.u.ticket.subtype = 1;
	tp.u.ticket.version = 1;
	tp.u.ticket.prf_func = p->ticket_prf;
	tp.u.ticket.flags = p->flags;
	tp.u.ticket.tp_data.p = tpd;
	tp.u.ticket.tp_data.len = len;

	/* the MPK and the session keys, as a KMS would make them */
	tk.mpk.type = MIKEY_KEY_MPK;
	tk.mpk.key_len = p->ticket_prf == MIKEY_PRF_HMAC_SHA256 ? 32 : 16;
	st32(tk.mpk.spi, MIKEY_SPI_MPK);
	tk.mpk.spi_len = 4;
	if ((rc = mikey_env_rand(env, tk.mpk.key, tk.mpk.key_len)) != 0)
		goto done;
	tk.nkeys = p->nkeys ? p->nkeys : 1;
	for (i = 0; i < tk.nkeys; i++) {
		struct mikey_key *k = &tk.keys[i];

		k->type = p->nkeys ? p->key_type[i] : MIKEY_KEY_TGK;
		k->key_len = p->nkeys ? p->key_len[i] : tk.mpk.key_len;
		if (k->type == MIKEY_KEY_MPK || k->key_len < 16 ||
		    k->key_len > MIKEY_MAX_KEY) {
			rc = MIKEY_ERR_POLICY;
			goto done;
		}
		if ((rc = mikey_env_rand(env, k->key, k->key_len)) != 0)
			goto done;
		st32(k->spi, (uint32_t)(i + 1));
		k->spi_len = 4;
	}
	rc = mikey_ticket_seal(env, &tp, tpk, &tk, t->payload,
	    sizeof(t->payload), &t->payload_len);
	if (rc != 0)
		goto done;
	if ((rc = mikey_payload_decode(MIKEY_PT_TICKET, t->payload,
	    t->payload_len, &tkt, NULL)) != 0 ||
	    (rc = mikey_ticketdata_decode(tkt.u.ticket.ticket_data, &thdr, &ch,
	    NULL)) != 0)
		goto done;
	if ((r = mikey_chain_find(&ch, MIKEY_PT_RAND, -1, 0)) == NULL) {
		rc = MIKEY_ERR_STRUCTURE;
		goto done;
	}
	rand = r->u.rand.rand;
	if ((rc = mikey_mpk_derive(p->ticket_prf, &tk.mpk, rand, MIKEY_C_MPKI,
	    &t->mpki)) != 0)
		goto done;
	if (p->flags & MIKEY_TPF_I) {
		if ((rc = mikey_mpk_derive(p->ticket_prf, &tk.mpk, rand,
		    MIKEY_C_MPKR, &t->mpkr)) != 0)
			goto done;
		t->has_mpkr = 1;
	}
	t->nkeys = tk.nkeys;
	for (i = 0; i < tk.nkeys; i++)
		t->keys[i] = tk.keys[i];
done:
	if (rc != 0)
		mikey_ticket_cleanup(t);
	mikey_ticket_keys_cleanup(&tk);
	return rc;
}
