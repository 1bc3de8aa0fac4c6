/*
 * mikey/mikey_kms.c - the KMS side of MIKEY-TICKET (RFC 6043 4.2.1.4, 4.2.3.4)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	mikey_kms_process() takes one initial message and gives one answer:
 *	the response, or an Error message.  The order of checks follows
 *	spec/mikey-ticket.md 6.1: parse, timestamp window, credential, V,
 *	replay cache (only authenticated messages enter it), then policy.
 *	Error messages are not authenticated (RFC 3830 5.1.2: signed error
 *	replies feed denial of service; unauthenticated ones are hints), and
 *	an authentication failure says only "Authentication failure", never
 *	whether the identity exists.
 *
 *	Policy is the caller's (struct mikey_kms_ops): who has which PSK, who
 *	may get tickets for whom, who may resolve what, which master key
 *	seals.  The KMS keeps no per-ticket state: a ticket carries its keys
 *	sealed under a versioned master key (mikey_ticket.c).
 */
#include <string.h>

#include "mikey/mikey-int.h"

/* answer_error - an Error message for hdr with errno_ */
static int
answer_error(const struct mikey_env *env, const struct mikey_hdr *hdr,
    int err, uint8_t *out, size_t cap, size_t *len_out,
    struct mikey_kms_result *res)
{
	uint8_t en = mikey_err_to_errno(err);

	res->err = err;
	res->errno_ = en;
	return mikey_error_msg(env, hdr, en, out, cap, len_out);
}

/*
 * authenticate - the steps every initial message shares: T window,
 *	credential lookup, V over msg || Identity_x || Identity_kms, then the
 *	replay cache.  role is the IDR role of the requester; rand the RANDR
 *	that enters K1 (initiator's for REQUEST, responder's for RESOLVE).
 */
static int
authenticate(const struct mikey_env *env, const struct mikey_kms_conf *conf,
    const struct mikey_msg *m, uint8_t role, uint8_t rand_role,
    struct mikey_id *requester, uint8_t *psk, size_t *psk_len,
    struct mikey_kms_result *res)
{
	const struct mikey_payload *ida, *idk, *idp, *rr, *v;
	struct mikey_id idpsk, idkms;
	struct mikey_msgkeys k;
	struct mikey_bytes app[2];
	uint8_t dg[MIKEY_RC_DIGEST];
	int rc;

	memset(&k, 0, sizeof(k));
	ida = mikey_chain_find(&m->body, MIKEY_PT_IDR, role, 0);
	idk = mikey_chain_find(&m->body, MIKEY_PT_IDR, MIKEY_ROLE_KMS, 0);
	idp = mikey_chain_find(&m->body, MIKEY_PT_IDR, MIKEY_ROLE_PSK, 0);
	rr = mikey_chain_find(&m->body, MIKEY_PT_RANDR, rand_role, 0);
	v = mikey_v_last(m);
	if (rr == NULL || v == NULL || (ida == NULL && idp == NULL) ||
	    mikey_chain_find(&m->body, MIKEY_PT_T, -1, 0) == NULL)
		return MIKEY_ERR_STRUCTURE;
	if (v->u.v.alg == MIKEY_MAC_NULL)
		return MIKEY_ERR_ALG;
	memset(requester, 0, sizeof(*requester));
	if (ida != NULL) {
		requester->type = ida->u.id.type;
		requester->data = ida->u.id.data;
	}
	if (idp != NULL) {
		idpsk.type = idp->u.id.type;
		idpsk.data = idp->u.id.data;
		if (ida == NULL)
			*requester = idpsk;
	}
	res->requester = *requester;
	/* IDRkms, when sent, must name us */
	if (idk != NULL) {
		idkms.type = idk->u.id.type;
		idkms.data = idk->u.id.data;
		if (conf->id.data.len && !mikey_id_equal(&idkms, &conf->id))
			return MIKEY_ERR_MISMATCH;
	}
	if ((rc = mikey_msg_check_ts(env, m)) != 0)
		return rc;
	*psk_len = MIKEY_MAX_KEY;
	if (conf->ops->psk(conf->arg, ida ? requester : NULL,
	    idp ? &idpsk : NULL, psk, psk_len) != 0)
		return MIKEY_ERR_UNKNOWN_ID;
	if (*psk_len < 16 || *psk_len > MIKEY_MAX_KEY)
		return MIKEY_ERR_UNKNOWN_ID;
	rc = mikey_msgkeys_derive(m->hdr.prf_func, psk, *psk_len,
	    m->hdr.csb_id, MIKEY_LBL_INIT,
	    rand_role == MIKEY_RAND_I ? &rr->u.rand.rand : NULL,
	    rand_role == MIKEY_RAND_R ? &rr->u.rand.rand : NULL,
	    MIKEY_ENCR_NULL, v->u.v.alg, &k);
	if (rc != 0)
		return rc;
	app[0] = ida ? ida->u.id.data : (struct mikey_bytes){ NULL, 0 };
	app[1] = idk ? idk->u.id.data : (struct mikey_bytes){ NULL, 0 };
	rc = mikey_v_verify(m, k.auth, k.auth_len, 0, 0, app, 2);
	mikey_msgkeys_cleanup(&k);
	if (rc != 0)
		return rc;
	/* only authenticated messages enter the replay cache (3830 5.4) */
	if (conf->rc != NULL) {
		const struct mikey_payload *t = mikey_chain_find(&m->body,
		    MIKEY_PT_T, -1, 0);

		if ((rc = mikey_rcache_digest(m->raw.p, m->raw.len, dg)) != 0)
			return rc;
		rc = mikey_rcache_insert(conf->rc, dg, mikey_ts64(&t->u.ts));
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* grant_equal - did the policy callback leave the grant as it was? */
static int
grant_equal(const struct mikey_grant *a, const struct mikey_grant *b)
{
	size_t i;

	if (a->flags != b->flags || a->prf != b->prf || a->start != b->start ||
	    a->end != b->end || a->nresp != b->nresp ||
	    !mikey_id_equal(&a->idi, &b->idi))
		return 0;
	for (i = 0; i < a->nresp; i++)
		if (!mikey_id_equal(&a->resp[i], &b->resp[i]))
			return 0;
	return 1;
}

/* build_tp - the granted policy as a TP-shaped payload (no KEMAC) */
static int
build_tp(const struct mikey_kms_conf *conf, const struct mikey_grant *g,
    struct mikey_payload *tp, uint8_t *buf, size_t cap)
{
	struct mikey_chain ch;
	size_t i, len;
	int rc;

	(void)conf;
	ch.n = 0;
	if ((rc = mikey_chain_add_idr(&ch, MIKEY_ROLE_I, &g->idi)) != 0)
		return rc;
	if ((rc = mikey_chain_add_tr(&ch, MIKEY_TSR_START,
	    g->start)) != 0)
		return rc;
	if ((rc = mikey_chain_add_tr(&ch, MIKEY_TSR_END,
	    g->end)) != 0)
		return rc;
	for (i = 0; i < g->nresp; i++)
		if ((rc = mikey_chain_add_idr(&ch, MIKEY_ROLE_R, &g->resp[i])) != 0)
			return rc;
	if ((rc = mikey_tpdata_encode(&ch, buf, cap, &len)) != 0)
		return rc;
	memset(tp, 0, sizeof(*tp));
	tp->type = MIKEY_PT_TP;
	tp->u.ticket.ticket_type = MIKEY_TICKET_BASE;
	tp->u.ticket.subtype = 1;
	tp->u.ticket.version = 1;
	tp->u.ticket.prf_func = g->prf;
	tp->u.ticket.flags = g->flags;
	tp->u.ticket.tp_data.p = buf;
	tp->u.ticket.tp_data.len = len;
	return 0;
}

/* make_keys - the MPK and the session keys asked for (6.10, 4.2.1.5) */
static int
make_keys(const struct mikey_env *env, const struct mikey_policy *pol,
    struct mikey_ticket_keys *tk)
{
	struct mikey_keydata kd[MIKEY_MAX_KEYS];
	size_t n = 0, i, slen;
	int rc;

	memset(tk, 0, sizeof(*tk));
	if (pol->kemac.len) {
		rc = mikey_keydata_decode(pol->kemac.p, pol->kemac.len, kd,
		    MIKEY_MAX_KEYS, &n, NULL);
		if (rc != 0)
			return MIKEY_ERR_POLICY;
	}
	if (n == 0) {
		/* no desired KEMAC: a single TGK is RECOMMENDED */
		memset(&kd[0], 0, sizeof(kd[0]));
		kd[0].type = MIKEY_KEY_TGK;
		kd[0].key.len = pol->prf == MIKEY_PRF_HMAC_SHA256 ? 32 : 16;
		n = 1;
	}
	tk->mpk.type = MIKEY_KEY_MPK;
	tk->mpk.key_len = pol->prf == MIKEY_PRF_HMAC_SHA256 ? 32 : 16;
	if ((rc = mikey_env_rand(env, tk->mpk.key, tk->mpk.key_len)) != 0)
		return rc;
	st32(tk->mpk.spi, MIKEY_SPI_MPK);
	tk->mpk.spi_len = 4;
	for (i = 0; i < n; i++) {
		struct mikey_key *k = &tk->keys[i];

		/* session keys only; all of at least 128 bits (12.1) */
		if (kd[i].type == MIKEY_KEY_MPK || kd[i].key.len < 16 ||
		    kd[i].key.len > MIKEY_MAX_KEY)
			return MIKEY_ERR_POLICY;
		k->type = kd[i].type;
		k->key_len = kd[i].key.len;
		if ((rc = mikey_env_rand(env, k->key, k->key_len)) != 0)
			return rc;
		if (k->type == MIKEY_KEY_TGK_SALT ||
		    k->type == MIKEY_KEY_TEK_SALT ||
		    k->type == MIKEY_KEY_GTGK_SALT) {
			slen = kd[i].salt.len ? kd[i].salt.len : 14;
			if (slen > sizeof(k->salt))
				return MIKEY_ERR_POLICY;
			k->salt_len = slen;
			if ((rc = mikey_env_rand(env, k->salt, slen)) != 0)
				return rc;
		}
		st32(k->spi, (uint32_t)(i + 1));
		k->spi_len = 4;
	}
	tk->nkeys = n;
	return 0;
}

/* ticket_rand - the RAND of a sealed TICKET payload */
static int
ticket_rand(const uint8_t *tkt, size_t len, struct mikey_payload *pl,
    struct mikey_bytes *rand)
{
	struct mikey_chain ch;
	struct mikey_bytes thdr;
	const struct mikey_payload *r;
	int rc;

	if ((rc = mikey_payload_decode(MIKEY_PT_TICKET, tkt, len, pl,
	    NULL)) != 0)
		return rc;
	if ((rc = mikey_ticketdata_decode(pl->u.ticket.ticket_data, &thdr,
	    &ch, NULL)) != 0)
		return rc;
	if ((r = mikey_chain_find(&ch, MIKEY_PT_RAND, -1, 0)) == NULL)
		return MIKEY_ERR_STRUCTURE;
	*rand = r->u.rand.rand;
	return 0;
}

/* respond - HDR copy, T, [IDRkms], extra payloads, KEMAC, V (4.2.x.5) */
static int
respond(const struct mikey_env *env, const struct mikey_kms_conf *conf,
    const struct mikey_msg *req, uint8_t dt, uint64_t now,
    const struct mikey_payload *ticket, const struct mikey_chain *tail,
    const uint8_t *psk, size_t psk_len, const struct mikey_bytes *ri,
    const struct mikey_bytes *rr, const struct mikey_key *keys, size_t nkeys,
    uint8_t *out, size_t cap, size_t *len_out)
{
	struct mikey_msg m;
	struct mikey_payload *p;
	struct mikey_msgkeys k;
	struct mikey_bytes app;
	uint8_t kem[(MIKEY_MAX_KEYS + 2) * 128];
	uint8_t encr = mikey_encr_for_prf(req->hdr.prf_func);
	uint8_t mac = mikey_v_last(req)->u.v.alg;
	size_t klen, len, i;
	int rc;

	memset(&k, 0, sizeof(k));
	rc = mikey_msgkeys_derive(req->hdr.prf_func, psk, psk_len,
	    req->hdr.csb_id, MIKEY_LBL_RESP, ri, rr, encr, mac, &k);
	if (rc != 0)
		goto done;
	/* the KEMAC IV uses this response's T and CSB ID (spec 8.1) */
	rc = mikey_kemac_seal(encr, &k, req->hdr.csb_id, now, keys, nkeys,
	    kem, sizeof(kem), &klen);
	if (rc != 0)
		goto done;
	m.hdr = req->hdr;	/* version, PRF, CSB ID, #CS, map copied */
	m.hdr.data_type = dt;
	m.hdr.v_flag = 0;
	m.body.n = 0;
	p = mikey_chain_add(&m.body, MIKEY_PT_T);
	p->u.ts.ts_type = MIKEY_TS_NTP_UTC;
	p->u.ts.value = now;
	if ((rc = mikey_chain_add_idr(&m.body, MIKEY_ROLE_KMS, &conf->id)) != 0)
		goto done;
	if (ticket != NULL) {
		p = mikey_chain_add(&m.body, MIKEY_PT_TICKET);
		p->u = ticket->u;
	}
	p = mikey_chain_add(&m.body, MIKEY_PT_KEMAC);
	p->u.kemac.encr_alg = encr;
	p->u.kemac.encr_data.p = kem;
	p->u.kemac.encr_data.len = klen;
	p->u.kemac.mac_alg = MIKEY_MAC_NULL;
	for (i = 0; tail != NULL && i < tail->n; i++) {
		if ((p = mikey_chain_add(&m.body, tail->pl[i].type)) == NULL) {
			rc = MIKEY_ERR_TOO_MANY;
			goto done;
		}
		*p = tail->pl[i];
	}
	if ((rc = mikey_chain_add_v(&m.body, mac)) != 0 ||
	    (rc = mikey_msg_encode(&m, out, cap, &len)) != 0)
		goto done;
	app = req->raw;		/* MAC over RESP || INIT (5.5) */
	rc = mikey_v_finish(out, len, mac, k.auth, k.auth_len, 0, 0, &app, 1);
	if (rc == 0)
		*len_out = len;
done:
	mikey_cleanse(kem, sizeof(kem));
	mikey_msgkeys_cleanup(&k);
	return rc;
}

/* ntp_secs - NTP-UTC 64 to Unix seconds */
static int64_t
ntp_secs(uint64_t ntp)
{
	return mikey_ntp_to_unix(ntp);
}

/* process_request - REQUEST_INIT_PSK -> REQUEST_RESP (4.2.1.4, 4.2.1.5) */
static int
process_request(const struct mikey_env *env, const struct mikey_kms_conf *conf,
    const struct mikey_msg *m, uint8_t *out, size_t cap, size_t *len_out,
    struct mikey_kms_result *res)
{
	const struct mikey_payload *tpp, *ri;
	struct mikey_policy pol;
	struct mikey_grant g, g0;
	struct mikey_id requester;
	struct mikey_ticket_keys tk;
	struct mikey_key keys[MIKEY_MAX_KEYS + 2];
	struct mikey_tpk tpk;
	struct mikey_payload tp, tkt;
	struct mikey_bytes rand;
	uint8_t psk[MIKEY_MAX_KEY], tpd[4096], ticket[MIKEY_MAX_TICKET];
	size_t psk_len = 0, tlen, i, nk;
	uint64_t now = mikey_env_now(env);
	uint32_t lifetime, maxlife;
	int rc;

	memset(&tk, 0, sizeof(tk));
	memset(&tpk, 0, sizeof(tpk));
	memset(keys, 0, sizeof(keys));
	tpp = mikey_chain_find(&m->body, MIKEY_PT_TP, -1, 0);
	ri = mikey_chain_find(&m->body, MIKEY_PT_RANDR, MIKEY_RAND_I, 0);
	if (tpp == NULL || ri == NULL) {
		rc = MIKEY_ERR_STRUCTURE;
		goto done;
	}
	rc = authenticate(env, conf, m, MIKEY_ROLE_I, MIKEY_RAND_I,
	    &requester, psk, &psk_len, res);
	if (rc != 0)
		goto done;
	if ((rc = mikey_policy_parse(tpp, &pol, NULL)) != 0) {
		rc = rc == MIKEY_ERR_PRF ? rc : MIKEY_ERR_POLICY;
		goto done;
	}
	if (pol.ticket_type != MIKEY_TICKET_BASE) {
		rc = MIKEY_ERR_TICKET_TYPE;
		goto done;
	}
	if ((rc = mikey_policy_check_flags(pol.flags & ~MIKEY_TPF_K)) != 0)
		goto done;
	if (!(pol.flags & MIKEY_TPF_D) || pol.nresp == 0) {
		rc = MIKEY_ERR_POLICY;	/* a KMS ticket names a responder */
		goto done;
	}

	/* the grant: the desired policy within the KMS limits */
	memset(&g, 0, sizeof(g));
	g.idi = pol.has_idi ? pol.idi : requester;
	g.flags = pol.flags & ~MIKEY_TPF_K;
	g.prf = pol.prf;
	g.nresp = pol.nresp;
	for (i = 0; i < pol.nresp; i++)
		g.resp[i] = pol.resp[i];
	lifetime = conf->lifetime ? conf->lifetime : 30 * 86400;
	maxlife = conf->max_lifetime ? conf->max_lifetime : lifetime;
	g.start = pol.start ? pol.start : (now >> 32) << 32;
	g.end = pol.end ? pol.end : g.start + ((uint64_t)lifetime << 32);
	if (ntp_secs(g.end) <= ntp_secs(g.start)) {
		rc = MIKEY_ERR_POLICY;
		goto done;
	}
	g0 = g;
	if (ntp_secs(g.end) - ntp_secs(g.start) > (int64_t)maxlife)
		g.end = g.start + ((uint64_t)maxlife << 32);
	if (conf->ops->authorise_request(conf->arg, &requester, &g) != 0) {
		rc = MIKEY_ERR_NOT_AUTHORISED;
		goto done;
	}
	if (!grant_equal(&g, &g0))
		g.flags |= MIKEY_TPF_K;	/* the KMS changed the policy */
	if ((rc = mikey_policy_check_flags(g.flags)) != 0)
		goto done;
	if ((rc = make_keys(env, &pol, &tk)) != 0)
		goto done;
	if ((rc = build_tp(conf, &g, &tp, tpd, sizeof(tpd))) != 0)
		goto done;
	if (conf->ops->current_tpk(conf->arg, &tpk) != 0) {
		rc = MIKEY_ERR_KEY_VERSION;
		goto done;
	}
	res->key_version = tpk.version;
	rc = mikey_ticket_seal(env, &tp, &tpk, &tk, ticket, sizeof(ticket),
	    &tlen);
	if (rc != 0)
		goto done;
	if ((rc = ticket_rand(ticket, tlen, &tkt, &rand)) != 0)
		goto done;
	/* MPKi || [MPKr] || session keys (4.2.1.5) */
	if ((rc = mikey_mpk_derive(g.prf, &tk.mpk, rand, MIKEY_C_MPKI,
	    &keys[0])) != 0)
		goto done;
	nk = 1;
	if (g.flags & MIKEY_TPF_I) {
		if ((rc = mikey_mpk_derive(g.prf, &tk.mpk, rand, MIKEY_C_MPKR,
		    &keys[1])) != 0)
			goto done;
		nk = 2;
	}
	for (i = 0; i < tk.nkeys; i++)
		keys[nk++] = tk.keys[i];
	rc = respond(env, conf, m, MIKEY_DT_REQUEST_RESP, now, &tkt, NULL,
	    psk, psk_len, &ri->u.rand.rand, NULL, keys, nk, out, cap, len_out);
done:
	mikey_cleanse(psk, sizeof(psk));
	mikey_cleanse(keys, sizeof(keys));
	mikey_cleanse(&tpk, sizeof(tpk));
	mikey_ticket_keys_cleanup(&tk);
	if (rc != 0)
		return answer_error(env, &m->hdr, rc, out, cap, len_out, res);
	return 0;
}

/* check_vr - the KMS verifies Vr of the Initiator Data (4.2.3.4) */
static int
check_vr(const struct mikey_policy *pol, const struct mikey_pl_ticket *t,
    const struct mikey_key *mpkr)
{
	struct mikey_chain ch;
	const struct mikey_payload *vr;
	struct mikey_bytes part;
	uint8_t lab[16], key[32];
	size_t ll;
	int rc, ml;

	if (t->init_data.len == 0)
		return MIKEY_ERR_AUTH;
	if (mikey_tpdata_decode(t->init_data, &ch, NULL) != 0 || ch.n != 2 ||
	    ch.pl[0].type != MIKEY_PT_V || ch.pl[1].type != MIKEY_PT_V)
		return MIKEY_ERR_AUTH;
	vr = &ch.pl[1];
	if (vr->u.v.alg != ch.pl[0].u.v.alg ||
	    (ml = mikey_mac_len(vr->u.v.alg)) <= 0)
		return MIKEY_ERR_AUTH;
	ll = mikey_label_fixed(MIKEY_C_AUTH, MIKEY_LBL_VR, NULL, lab,
	    sizeof(lab));
	rc = mikey_prf(pol->prf, mpkr->key, mpkr->key_len, lab, ll, key,
	    (size_t)ml);
	if (rc == 0) {
		part.p = t->init_data.p;
		part.len = (size_t)(vr->u.v.mac.p - t->init_data.p);
		rc = mikey_mac_verify(vr->u.v.alg, key, (size_t)ml, &part, 1,
		    vr->u.v.mac.p, vr->u.v.mac.len);
	}
	mikey_cleanse(key, sizeof(key));
	return rc;
}

/* process_resolve - RESOLVE_INIT_PSK -> RESOLVE_RESP (4.2.3.4, 4.2.3.5) */
static int
process_resolve(const struct mikey_env *env, const struct mikey_kms_conf *conf,
    const struct mikey_msg *m, uint8_t *out, size_t cap, size_t *len_out,
    struct mikey_kms_result *res)
{
	const struct mikey_payload *tkt, *rr;
	struct mikey_policy pol;
	struct mikey_id requester;
	struct mikey_ticket_keys tk;
	struct mikey_key keys[MIKEY_MAX_KEYS + 2], mpkr;
	struct mikey_chain tail;
	struct mikey_payload *p;
	struct mikey_bytes rand;
	uint8_t psk[MIKEY_MAX_KEY], rk[255];
	size_t psk_len = 0, i, nk;
	uint64_t now = mikey_env_now(env);
	int64_t nows;
	int rc;

	memset(&tk, 0, sizeof(tk));
	memset(keys, 0, sizeof(keys));
	memset(&mpkr, 0, sizeof(mpkr));
	tail.n = 0;
	tkt = mikey_chain_find(&m->body, MIKEY_PT_TICKET, -1, 0);
	rr = mikey_chain_find(&m->body, MIKEY_PT_RANDR, MIKEY_RAND_R, 0);
	if (tkt == NULL || rr == NULL) {
		rc = MIKEY_ERR_STRUCTURE;
		goto done;
	}
	rc = authenticate(env, conf, m, MIKEY_ROLE_R, MIKEY_RAND_R,
	    &requester, psk, &psk_len, res);
	if (rc != 0)
		goto done;
	if ((rc = mikey_policy_parse(tkt, &pol, NULL)) != 0) {
		rc = rc == MIKEY_ERR_PRF ? rc : MIKEY_ERR_POLICY;
		goto done;
	}
	if (pol.ticket_type != MIKEY_TICKET_BASE) {
		rc = MIKEY_ERR_TICKET_TYPE;
		goto done;
	}
	if ((rc = mikey_policy_check_flags(pol.flags)) != 0)
		goto done;
	if ((rc = mikey_ticket_open(tkt, conf->ops->lookup_tpk, conf->arg,
	    &tk)) != 0)
		goto done;
	res->key_version = tk.version;
	nows = ntp_secs(now);
	if ((pol.start && ntp_secs(pol.start) > nows +
	    (int64_t)mikey_env_skew(env)) || (pol.end &&
	    ntp_secs(pol.end) < nows)) {
		rc = MIKEY_ERR_EXPIRED;
		goto done;
	}
	if (conf->ops->authorise_resolve(conf->arg, &requester, &pol) != 0) {
		rc = MIKEY_ERR_NOT_AUTHORISED;
		goto done;
	}
	rand.p = tk.rand;
	rand.len = tk.rand_len;
	if ((rc = mikey_mpk_derive(pol.prf, &tk.mpk, rand, MIKEY_C_MPKI,
	    &keys[0])) != 0)
		goto done;
	nk = 1;
	if (pol.flags & MIKEY_TPF_I) {
		/* key forking: verify Vr, then bind MPKr and TGKs to the
		 * responder that asked (5.1.1, K4) */
		struct mikey_bytes rkb;

		if ((rc = mikey_mpk_derive(pol.prf, &tk.mpk, rand,
		    MIKEY_C_MPKR, &mpkr)) != 0)
			goto done;
		if ((rc = check_vr(&pol, &tkt->u.ticket, &mpkr)) != 0)
			goto done;
		rkb.p = rk;
		rkb.len = mikey_rand_len(pol.prf, mpkr.key_len);
		if ((rc = mikey_env_rand(env, rk, rkb.len)) != 0)
			goto done;
		if ((rc = mikey_fork_derive(pol.prf, MIKEY_C_MPKR_FORK, &mpkr,
		    requester.data, rkb, &keys[1])) != 0)
			goto done;
		nk = 2;
		for (i = 0; i < tk.nkeys; i++) {
			const struct mikey_key *k = &tk.keys[i];

			if (k->type == MIKEY_KEY_TGK ||
			    k->type == MIKEY_KEY_TGK_SALT)
				rc = mikey_fork_derive(pol.prf,
				    MIKEY_C_TGK_FORK, k, requester.data, rkb,
				    &keys[nk]);
			else
				keys[nk] = *k;
			if (rc != 0)
				goto done;
			nk++;
		}
		if ((rc = mikey_chain_add_idr(&tail, MIKEY_ROLE_R, &requester)) != 0)
			goto done;
		p = mikey_chain_add(&tail, MIKEY_PT_RANDR);
		p->u.rand.role = MIKEY_RAND_KMS;
		p->u.rand.rand = rkb;
	} else
		for (i = 0; i < tk.nkeys; i++)
			keys[nk++] = tk.keys[i];
	rc = respond(env, conf, m, MIKEY_DT_RESOLVE_RESP, now, NULL, &tail,
	    psk, psk_len, NULL, &rr->u.rand.rand, keys, nk, out, cap, len_out);
done:
	mikey_cleanse(psk, sizeof(psk));
	mikey_cleanse(keys, sizeof(keys));
	mikey_key_cleanup(&mpkr);
	mikey_ticket_keys_cleanup(&tk);
	if (rc != 0)
		return answer_error(env, &m->hdr, rc, out, cap, len_out, res);
	return 0;
}

int
mikey_kms_process(const struct mikey_env *env, const struct mikey_kms_conf *conf,
    const uint8_t *in, size_t len, uint8_t *out, size_t cap, size_t *len_out,
    struct mikey_kms_result *res)
{
	struct mikey_msg m;
	struct mikey_hdr h;
	int rc;

	memset(res, 0, sizeof(*res));
	res->errno_ = -1;
	if (conf == NULL || conf->ops == NULL)
		return MIKEY_ERR_INVAL;
	if ((rc = mikey_msg_decode(in, len, &m, NULL)) != 0) {
		/* answer whatever has a MIKEY header; drop the rest */
		if (len < 10 || in[0] != 1)
			return rc;
		memset(&h, 0, sizeof(h));
		h.csb_id = ld32(in + 4);
		h.prf_func = (in[3] & 0x7f) <= MIKEY_PRF_HMAC_SHA256 ?
		    in[3] & 0x7f : 0;
		res->data_type = in[1];
		return answer_error(env, &h, rc == MIKEY_ERR_DATA_TYPE ? rc :
		    MIKEY_ERR_STRUCTURE, out, cap, len_out, res);
	}
	res->data_type = m.hdr.data_type;
	switch (m.hdr.data_type) {
	case MIKEY_DT_REQUEST_INIT_PSK:
		return process_request(env, conf, &m, out, cap, len_out, res);
	case MIKEY_DT_RESOLVE_INIT_PSK:
		return process_resolve(env, conf, &m, out, cap, len_out, res);
	case MIKEY_DT_ERROR:
		/* never answer an Error message with an Error (6043 5.4) */
		res->err = MIKEY_ERR_PEER;
		return MIKEY_ERR_PEER;
	case MIKEY_DT_REQUEST_INIT_PK:
	case MIKEY_DT_RESOLVE_INIT_PK:
		/* PK variants: decoded, not processed (ERR 13) */
		res->err = MIKEY_ERR_DATA_TYPE;
		res->errno_ = MIKEY_EN_MSGTYPE;
		return mikey_error_msg(env, &m.hdr, MIKEY_EN_MSGTYPE, out, cap,
		    len_out);
	}
	return answer_error(env, &m.hdr, MIKEY_ERR_DATA_TYPE, out, cap,
	    len_out, res);
}
