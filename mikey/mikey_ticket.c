/*
 * mikey/mikey_ticket.c - ticket policy and Ticket Type 1 (MIKEY base ticket)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	A base ticket (RFC 6043 Appendix A) is its policy (readable by all)
 *	followed by Ticket Data = THDR, T, RAND, KEMAC, [IDRpsk], V.  The
 *	KEMAC holds MPK || session keys encrypted with keys derived from the
 *	Ticket Protection Key (K6 with the ticket RAND); V is a MAC over the
 *	whole TICKET payload except its NP byte, the Initiator Data length,
 *	the Initiator Data and the MAC itself (A.1), so the policy cannot be
 *	changed without the TPK and the initiator can still append Initiator
 *	Data.  The KMS keeps no per-ticket state: everything needed to
 *	resolve is sealed inside.
 *
 *	THDR Data names the KMS master key: "IMGK" || version(32).  Version 0
 *	means an unversioned TPK and an empty THDR (the TPK is known by other
 *	means, as in spec/mikey-ticket.md 11.3); a TPK named by IDRpsk is used
 *	by initiators that make tickets themselves (modes 3 and 4).
 */
#include <string.h>

#include "mikey/mikey-int.h"

#define THDR_MAGIC	"IMGK"

/* --------------------------------------------------------------------- */
/* Ticket policy */

int
mikey_policy_check_flags(uint32_t f)
{
	if (f & ~MIKEY_TPF_ALL)
		return MIKEY_ERR_POLICY;
	if (!(f & MIKEY_TPF_D) && !(f & MIKEY_TPF_L))
		return MIKEY_ERR_POLICY;	/* NOT D => L */
	if ((f & MIKEY_TPF_G) && !(f & MIKEY_TPF_F))
		return MIKEY_ERR_POLICY;	/* G => F */
	if (!(f & MIKEY_TPF_G) && !(f & MIKEY_TPF_H))
		return MIKEY_ERR_POLICY;	/* NOT G => H, NOT H => G */
	if ((f & MIKEY_TPF_I) && !(f & MIKEY_TPF_E))
		return MIKEY_ERR_POLICY;	/* I => E */
	if ((f & MIKEY_TPF_K) && !(f & MIKEY_TPF_D))
		return MIKEY_ERR_POLICY;	/* K => D */
	if ((f & MIKEY_TPF_M) && !(f & MIKEY_TPF_F))
		return MIKEY_ERR_POLICY;	/* M => F */
	return 0;
}

/* tr_ntp - a TR payload's time as NTP-UTC 64 */
static uint64_t
tr_ntp(const struct mikey_pl_ts *ts)
{
	return mikey_ts64(ts);
}

int
mikey_policy_parse(const struct mikey_payload *tp, struct mikey_policy *pol,
    struct mikey_diag *diag)
{
	struct mikey_chain ch;
	size_t i;
	int rc;

	memset(pol, 0, sizeof(*pol));
	if (tp->type != MIKEY_PT_TP && tp->type != MIKEY_PT_TICKET)
		return MIKEY_ERR_INVAL;
	pol->ticket_type = tp->u.ticket.ticket_type;
	pol->subtype = tp->u.ticket.subtype;
	pol->version = tp->u.ticket.version;
	pol->prf = tp->u.ticket.prf_func;
	pol->flags = tp->u.ticket.flags;
	if ((rc = mikey_tpdata_decode(tp->u.ticket.tp_data, &ch, diag)) != 0)
		return rc;
	for (i = 0; i < ch.n; i++) {
		const struct mikey_payload *p = &ch.pl[i];
		struct mikey_id id;

		switch (p->type) {
		case MIKEY_PT_IDR:
			if (p->u.id.data.len > MIKEY_MAX_ID)
				return MIKEY_ERR_TOO_BIG;
			id.type = p->u.id.type;
			id.data = p->u.id.data;
			switch (p->u.id.role) {
			case MIKEY_ROLE_KMS:
				pol->has_idkms = 1;
				pol->idkms = id;
				break;
			case MIKEY_ROLE_I:
				pol->has_idi = 1;
				pol->idi = id;
				break;
			case MIKEY_ROLE_R:
				if (pol->nresp == MIKEY_MAX_RESPONDERS)
					return MIKEY_ERR_TOO_MANY;
				pol->resp[pol->nresp++] = id;
				break;
			case MIKEY_ROLE_APP:
				if (pol->napp == 4)
					return MIKEY_ERR_TOO_MANY;
				pol->app[pol->napp++] = id;
				break;
			}
			break;
		case MIKEY_PT_TR:
			switch (p->u.ts.role) {
			case MIKEY_TSR_START:
				pol->start = tr_ntp(&p->u.ts);
				break;
			case MIKEY_TSR_END:
				pol->end = tr_ntp(&p->u.ts);
				break;
			case MIKEY_TSR_REKEY:
				/* RFC 6043 6.10: NTP-UTC-32, whole seconds */
				if (p->u.ts.ts_type != MIKEY_TS_NTP_UTC_32)
					return MIKEY_ERR_VALUE;
				pol->rekey = p->u.ts.value;
				break;
			}
			break;
		case MIKEY_PT_KEMAC:
			/* only in a desired policy; NULL/NULL (6.10) */
			if (tp->type != MIKEY_PT_TP ||
			    p->u.kemac.encr_alg != MIKEY_ENCR_NULL ||
			    p->u.kemac.mac_alg != MIKEY_MAC_NULL)
				return MIKEY_ERR_POLICY;
			pol->kemac = p->u.kemac.encr_data;
			break;
		default:
			break;	/* unexpected payloads SHOULD be ignored */
		}
	}
	return 0;
}

int
mikey_policy_names(const struct mikey_policy *pol, const struct mikey_id *id)
{
	size_t i;

	for (i = 0; i < pol->nresp; i++)
		if (pol->resp[i].data.len == id->data.len &&
		    memcmp(pol->resp[i].data.p, id->data.p, id->data.len) == 0)
			return 1;
	return 0;
}

/* --------------------------------------------------------------------- */
/* Derivations on ticket keys */

int
mikey_mpk_derive(uint8_t prf, const struct mikey_key *mpk,
    struct mikey_bytes rand, uint32_t c, struct mikey_key *out)
{
	uint8_t lab[80];
	size_t ll;
	uint32_t spi;
	int rc;

	ll = mikey_label_fixed(c, MIKEY_LBL_MPK, &rand, lab, sizeof(lab));
	if (ll == 0 || mpk->key_len == 0)
		return MIKEY_ERR_INVAL;
	memset(out, 0, sizeof(*out));
	rc = mikey_prf(prf, mpk->key, mpk->key_len, lab, ll, out->key,
	    mpk->key_len);
	if (rc != 0)
		return rc;
	out->type = MIKEY_KEY_MPK;
	out->key_len = mpk->key_len;
	spi = c == MIKEY_C_MPKI ? MIKEY_SPI_MPKI : MIKEY_SPI_MPKR;
	st32(out->spi, spi);
	out->spi_len = 4;
	return 0;
}

int
mikey_fork_derive(uint8_t prf, uint32_t c, const struct mikey_key *in,
    struct mikey_bytes id, struct mikey_bytes randrkms, struct mikey_key *out)
{
	uint8_t lab[MIKEY_MAX_ID + 300];
	size_t ll;
	int rc;

	ll = mikey_label_fork(c, id, randrkms, lab, sizeof(lab));
	if (ll == 0)
		return MIKEY_ERR_INVAL;
	*out = *in;
	rc = mikey_prf(prf, in->key, in->key_len, lab, ll, out->key,
	    in->key_len);
	if (rc != 0)
		mikey_key_cleanup(out);
	return rc;
}

int
mikey_tek_derive(uint8_t prf, const struct mikey_key *tgk, uint8_t cs_id,
    const struct mikey_bytes *randri, const struct mikey_bytes *randrr,
    uint32_t c, uint8_t *out, size_t len)
{
	uint8_t lab[600];
	size_t ll;

	ll = mikey_label_tgk(c, cs_id, randri, randrr, lab, sizeof(lab));
	if (ll == 0)
		return MIKEY_ERR_INVAL;
	return mikey_prf(prf, tgk->key, tgk->key_len, lab, ll, out, len);
}

void
mikey_ticket_keys_cleanup(struct mikey_ticket_keys *tk)
{
	if (tk != NULL)
		mikey_cleanse(tk, sizeof(*tk));
}

/* --------------------------------------------------------------------- */
/* Seal and open */

int
mikey_ticket_seal(const struct mikey_env *env, const struct mikey_payload *tp,
    const struct mikey_tpk *tpk, const struct mikey_ticket_keys *keys,
    uint8_t *out, size_t cap, size_t *len_out)
{
	struct mikey_key all[MIKEY_MAX_KEYS + 1];
	struct mikey_msgkeys k;
	struct mikey_chain ch;
	struct mikey_payload *p, tk;
	struct mikey_bytes rb;
	uint8_t rnd[255], thdr[8], kem[MIKEY_MAX_KEYS * 128], td[2048];
	uint8_t zero[32] = { 0 };
	uint8_t encr, mac, prf = tp->u.ticket.prf_func;
	uint64_t now;
	size_t rlen, klen, tdlen, len, i, longest;
	int rc, ml;

	memset(&k, 0, sizeof(k));
	if (keys->nkeys > MIKEY_MAX_KEYS || tpk->key_len < 16 ||
	    keys->mpk.key_len < 16 || tp->u.ticket.ticket_type !=
	    MIKEY_TICKET_BASE)
		return MIKEY_ERR_INVAL;
	encr = mikey_encr_for_prf(prf);
	mac = mikey_mac_for_prf(prf);
	ml = mikey_mac_len(mac);
	now = mikey_env_now(env);
	longest = tpk->key_len > keys->mpk.key_len ? tpk->key_len :
	    keys->mpk.key_len;
	rlen = mikey_rand_len(prf, longest);
	if ((rc = mikey_env_rand(env, rnd, rlen)) != 0)
		goto done;
	rb.p = rnd;
	rb.len = rlen;
	/* K6: keys protecting the ticket, from the TPK and the ticket RAND */
	rc = mikey_msgkeys_derive(prf, tpk->key, tpk->key_len, 0xffffffffu,
	    MIKEY_LBL_TPK, &rb, NULL, encr, mac, &k);
	if (rc != 0)
		goto done;
	all[0] = keys->mpk;
	for (i = 0; i < keys->nkeys; i++)
		all[i + 1] = keys->keys[i];
	/* A.1: the IV uses the Ticket Data T and CSB ID 0xFFFFFFFF */
	rc = mikey_kemac_seal(encr, &k, 0xffffffffu, now, all,
	    keys->nkeys + 1, kem, sizeof(kem), &klen);
	if (rc != 0)
		goto done;

	ch.n = 0;
	p = mikey_chain_add(&ch, MIKEY_PT_T);
	p->u.ts.ts_type = MIKEY_TS_NTP_UTC;
	p->u.ts.value = now;
	p = mikey_chain_add(&ch, MIKEY_PT_RAND);
	p->u.rand.rand = rb;
	p = mikey_chain_add(&ch, MIKEY_PT_KEMAC);
	p->u.kemac.encr_alg = encr;
	p->u.kemac.encr_data.p = kem;
	p->u.kemac.encr_data.len = klen;
	p->u.kemac.mac_alg = MIKEY_MAC_NULL;
	if (tpk->idpsk.data.len) {
		p = mikey_chain_add(&ch, MIKEY_PT_IDR);
		p->u.id.role = MIKEY_ROLE_PSK;
		p->u.id.type = tpk->idpsk.type;
		p->u.id.data = tpk->idpsk.data;
	}
	p = mikey_chain_add(&ch, MIKEY_PT_V);
	p->u.v.alg = mac;
	p->u.v.mac.p = zero;
	p->u.v.mac.len = (size_t)ml;
	rb.p = thdr;
	rb.len = 0;
	if (tpk->version != 0 && tpk->idpsk.data.len == 0) {
		memcpy(thdr, THDR_MAGIC, 4);
		st32(thdr + 4, tpk->version);
		rb.len = 8;
	}
	rc = mikey_ticketdata_encode(rb, &ch, td, sizeof(td), &tdlen);
	if (rc != 0)
		goto done;

	tk = *tp;
	tk.type = MIKEY_PT_TICKET;
	tk.u.ticket.ticket_data.p = td;
	tk.u.ticket.ticket_data.len = tdlen;
	tk.u.ticket.init_data.p = NULL;
	tk.u.ticket.init_data.len = 0;
	rc = mikey_payload_encode(&tk, MIKEY_PT_LAST, out, cap, &len);
	if (rc != 0)
		goto done;
	/* MAC over Ticket Type .. Ticket Data up to the MAC (A.1); the
	 * payload ends with MAC(ml) || Initiator Data length(2) */
	{
		struct mikey_bytes part;

		part.p = out + 1;
		part.len = len - 1 - 2 - (size_t)ml;
		rc = mikey_mac(mac, k.auth, k.auth_len, &part, 1,
		    out + len - 2 - ml);
	}
	if (rc == 0)
		*len_out = len;
done:
	mikey_cleanse(all, sizeof(all));
	mikey_cleanse(kem, sizeof(kem));
	mikey_cleanse(td, sizeof(td));
	mikey_msgkeys_cleanup(&k);
	return rc;
}

int
mikey_ticket_open(const struct mikey_payload *ticket,
    mikey_tpk_lookup_cb lookup, void *arg, struct mikey_ticket_keys *out)
{
	const struct mikey_pl_ticket *t = &ticket->u.ticket;
	const struct mikey_payload *ts, *rnd, *km, *v, *idp;
	struct mikey_key keys[MIKEY_MAX_KEYS + 1];
	struct mikey_chain ch;
	struct mikey_bytes thdr, part;
	struct mikey_msgkeys k;
	struct mikey_tpk tpk;
	struct mikey_id idpsk;
	size_t n, i;
	int rc, has_version = 0;
	uint32_t version = 0;

	memset(&k, 0, sizeof(k));
	memset(&tpk, 0, sizeof(tpk));
	memset(out, 0, sizeof(*out));
	if (ticket->type != MIKEY_PT_TICKET)
		return MIKEY_ERR_INVAL;
	if (t->ticket_type != MIKEY_TICKET_BASE)
		return MIKEY_ERR_TICKET_TYPE;
	rc = mikey_ticketdata_decode(t->ticket_data, &thdr, &ch, NULL);
	if (rc != 0)
		return rc;
	if (thdr.len == 8 && memcmp(thdr.p, THDR_MAGIC, 4) == 0) {
		has_version = 1;
		version = ld32(thdr.p + 4);
	}
	ts = mikey_chain_find(&ch, MIKEY_PT_T, -1, 0);
	rnd = mikey_chain_find(&ch, MIKEY_PT_RAND, -1, 0);
	km = mikey_chain_find(&ch, MIKEY_PT_KEMAC, -1, 0);
	idp = mikey_chain_find(&ch, MIKEY_PT_IDR, MIKEY_ROLE_PSK, 0);
	v = ch.n ? &ch.pl[ch.n - 1] : NULL;
	if (ts == NULL || rnd == NULL || km == NULL || v == NULL ||
	    v->type != MIKEY_PT_V)
		return MIKEY_ERR_STRUCTURE;
	if (v->u.v.alg == MIKEY_MAC_NULL)
		return MIKEY_ERR_ALG;
	if (idp != NULL) {
		idpsk.type = idp->u.id.type;
		idpsk.data = idp->u.id.data;
	}
	rc = lookup(arg, has_version, version, idp ? &idpsk : NULL, &tpk);
	if (rc != 0) {
		rc = MIKEY_ERR_KEY_VERSION;
		goto done;
	}
	rc = mikey_msgkeys_derive(t->prf_func, tpk.key, tpk.key_len,
	    0xffffffffu, MIKEY_LBL_TPK, &rnd->u.rand.rand, NULL,
	    km->u.kemac.encr_alg, v->u.v.alg, &k);
	if (rc != 0)
		goto done;
	/* the ticket MAC first: nothing is decrypted before it verifies.
	 * t->tp_data.p - 9 is the Ticket Type field of this payload. */
	part.p = t->tp_data.p - 9;
	part.len = (size_t)(v->u.v.mac.p - part.p);
	rc = mikey_mac_verify(v->u.v.alg, k.auth, k.auth_len, &part, 1,
	    v->u.v.mac.p, v->u.v.mac.len);
	if (rc != 0)
		goto done;
	rc = mikey_kemac_open(&km->u.kemac, &k, 0xffffffffu,
	    mikey_ts64(&ts->u.ts), keys, MIKEY_MAX_KEYS + 1, &n);
	if (rc != 0)
		goto done;
	if (n == 0 || keys[0].type != MIKEY_KEY_MPK) {
		rc = MIKEY_ERR_STRUCTURE;
		goto done;
	}
	out->mpk = keys[0];
	out->nkeys = n - 1;
	for (i = 1; i < n; i++)
		out->keys[i - 1] = keys[i];
	out->issued = mikey_ts64(&ts->u.ts);
	memcpy(out->rand, rnd->u.rand.rand.p, rnd->u.rand.rand.len);
	out->rand_len = rnd->u.rand.rand.len;
	out->version = version;
	out->has_version = has_version;
done:
	if (rc != 0)
		mikey_ticket_keys_cleanup(out);
	mikey_cleanse(keys, sizeof(keys));
	mikey_cleanse(&tpk, sizeof(tpk));
	mikey_msgkeys_cleanup(&k);
	return rc;
}
