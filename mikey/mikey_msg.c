/*
 * mikey/mikey_msg.c - pieces every MIKEY-TICKET role uses: V, KEMAC, errors
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * The V payload MAC covers the message from its first byte up to the MAC
 * field, then data appended per message type (RFC 6043 5.5, Table 5.2;
 * spec/mikey-ticket.md 8.5).  The role files say what to append; this file
 * does the arithmetic once.
 */
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "mikey/mikey-int.h"

const struct mikey_suite mikey_suite_128 = {
	MIKEY_PRF_MIKEY1, MIKEY_ENCR_AES_CM_128, MIKEY_MAC_HMAC_SHA1_160
};
const struct mikey_suite mikey_suite_256 = {
	MIKEY_PRF_HMAC_SHA256, MIKEY_ENCR_AES_CM_256, MIKEY_MAC_HMAC_SHA256_256
};

uint64_t
mikey_env_now(const struct mikey_env *env)
{
	struct timespec ts;

	if (env != NULL && env->now != NULL)
		return env->now(env->now_arg);
	clock_gettime(CLOCK_REALTIME, &ts);
	return mikey_ntp_from_unix(ts.tv_sec, (uint32_t)ts.tv_nsec);
}

int
mikey_env_rand(const struct mikey_env *env, uint8_t *buf, size_t len)
{
	if (env != NULL && env->rand != NULL)
		return env->rand(env->rand_arg, buf, len) ? MIKEY_ERR_CRYPTO :
		    0;
	if (len > 0x7fffffff || RAND_bytes(buf, (int)len) != 1)
		return MIKEY_ERR_CRYPTO;
	return 0;
}

uint32_t
mikey_env_skew(const struct mikey_env *env)
{
	return env != NULL && env->skew != 0 ? env->skew : 300;
}

size_t
mikey_rand_len(uint8_t prf, size_t longest_key)
{
	size_t n = prf == MIKEY_PRF_HMAC_SHA256 ? 32 : 16;

	if (longest_key > n)
		n = longest_key;
	return n > 255 ? 255 : n;
}

uint8_t
mikey_encr_for_prf(uint8_t prf)
{
	return prf == MIKEY_PRF_HMAC_SHA256 ? MIKEY_ENCR_AES_CM_256 :
	    MIKEY_ENCR_AES_CM_128;
}

uint8_t
mikey_mac_for_prf(uint8_t prf)
{
	return prf == MIKEY_PRF_HMAC_SHA256 ? MIKEY_MAC_HMAC_SHA256_256 :
	    MIKEY_MAC_HMAC_SHA1_160;
}

void
mikey_key_cleanup(struct mikey_key *k)
{
	if (k != NULL)
		mikey_cleanse(k, sizeof(*k));
}

/* mac_parts - the MAC input as parts: prefix, after the cut, appended */
static size_t
mac_parts(const uint8_t *buf, size_t mac_off, size_t cut_off, size_t cut_len,
    const struct mikey_bytes *app, size_t n, struct mikey_bytes *parts)
{
	size_t k = 0, i;

	if (cut_len == 0 || cut_off >= mac_off) {
		parts[k].p = buf;
		parts[k++].len = mac_off;
	} else {
		parts[k].p = buf;
		parts[k++].len = cut_off;
		parts[k].p = buf + cut_off + cut_len;
		parts[k++].len = mac_off - cut_off - cut_len;
	}
	for (i = 0; i < n; i++)
		parts[k++] = app[i];
	return k;
}

int
mikey_v_finish(uint8_t *buf, size_t len, uint8_t alg, const uint8_t *key,
    size_t key_len, size_t cut_off, size_t cut_len,
    const struct mikey_bytes *app, size_t n)
{
	struct mikey_bytes parts[8];
	int ml = mikey_mac_len(alg);
	size_t k;

	if (ml <= 0 || (size_t)ml > len || n > 5 ||
	    (cut_len && cut_off + cut_len > len - (size_t)ml))
		return MIKEY_ERR_INVAL;
	k = mac_parts(buf, len - (size_t)ml, cut_off, cut_len, app, n, parts);
	return mikey_mac(alg, key, key_len, parts, k, buf + len - ml);
}

const struct mikey_payload *
mikey_v_last(const struct mikey_msg *m)
{
	const struct mikey_payload *v;

	if (m->body.n == 0)
		return NULL;
	v = &m->body.pl[m->body.n - 1];
	return v->type == MIKEY_PT_V ? v : NULL;
}

int
mikey_v_verify(const struct mikey_msg *m, const uint8_t *key, size_t key_len,
    size_t cut_off, size_t cut_len, const struct mikey_bytes *app, size_t n)
{
	const struct mikey_payload *v = mikey_v_last(m);
	struct mikey_bytes parts[8];
	size_t k;

	if (v == NULL)
		return MIKEY_ERR_STRUCTURE;
	/* a NULL MAC authenticates nothing: never accept it */
	if (v->u.v.alg == MIKEY_MAC_NULL)
		return MIKEY_ERR_ALG;
	if (n > 5 || (cut_len && cut_off + cut_len > v->mac_off))
		return MIKEY_ERR_INVAL;
	k = mac_parts(m->raw.p, v->mac_off, cut_off, cut_len, app, n, parts);
	return mikey_mac_verify(v->u.v.alg, key, key_len, parts, k,
	    v->u.v.mac.p, v->u.v.mac.len);
}

void
mikey_key_to_kd(const struct mikey_key *k, struct mikey_keydata *kd)
{
	memset(kd, 0, sizeof(*kd));
	kd->type = k->type;
	kd->kv = k->spi_len ? MIKEY_KV_SPI : MIKEY_KV_NULL;
	kd->key.p = k->key;
	kd->key.len = k->key_len;
	kd->salt.p = k->salt;
	kd->salt.len = k->salt_len;
	kd->spi.p = k->spi;
	kd->spi.len = k->spi_len;
}

int
mikey_key_from_kd(const struct mikey_keydata *kd, struct mikey_key *k)
{
	memset(k, 0, sizeof(*k));
	if (kd->key.len == 0 || kd->key.len > sizeof(k->key) ||
	    kd->salt.len > sizeof(k->salt) || kd->spi.len > sizeof(k->spi))
		return MIKEY_ERR_LENGTH;
	/* RFC 6043 6.2.1: every key in MIKEY-TICKET carries an SPI/MKI */
	if (kd->kv != MIKEY_KV_SPI)
		return MIKEY_ERR_VALUE;
	k->type = kd->type;
	memcpy(k->key, kd->key.p, kd->key.len);
	k->key_len = kd->key.len;
	if (kd->salt.len)
		memcpy(k->salt, kd->salt.p, kd->salt.len);
	k->salt_len = kd->salt.len;
	if (kd->spi.len)
		memcpy(k->spi, kd->spi.p, kd->spi.len);
	k->spi_len = kd->spi.len;
	return 0;
}

int
mikey_kemac_seal(uint8_t encr_alg, const struct mikey_msgkeys *k,
    uint32_t csb_id, uint64_t ts64, const struct mikey_key *keys, size_t n,
    uint8_t *out, size_t cap, size_t *out_len)
{
	struct mikey_keydata kd[MIKEY_MAX_KEYS];
	uint8_t plain[MIKEY_MAX_KEYS * (MIKEY_MAX_KEY + 64)];
	size_t i, len;
	int rc;

	if (n > MIKEY_MAX_KEYS)
		return MIKEY_ERR_TOO_MANY;
	for (i = 0; i < n; i++)
		mikey_key_to_kd(&keys[i], &kd[i]);
	rc = mikey_keydata_encode(kd, n, plain, sizeof(plain), &len);
	if (rc != 0)
		goto done;
	if (encr_alg == MIKEY_ENCR_AES_KW_128) {
		if (len + 8 > cap || len % 8) {
			rc = len % 8 ? MIKEY_ERR_LENGTH : MIKEY_ERR_TOO_BIG;
			goto done;
		}
		rc = mikey_kemac_wrap(k->encr, k->salt, plain, len, out,
		    out_len);
		goto done;
	}
	if (len > cap) {
		rc = MIKEY_ERR_TOO_BIG;
		goto done;
	}
	rc = mikey_kemac_crypt(encr_alg, k->encr, k->salt, csb_id, ts64,
	    plain, len, out);
	if (rc == 0)
		*out_len = len;
done:
	mikey_cleanse(plain, sizeof(plain));
	return rc;
}

int
mikey_kemac_open(const struct mikey_pl_kemac *km, const struct mikey_msgkeys *k,
    uint32_t csb_id, uint64_t ts64, struct mikey_key *keys, size_t max,
    size_t *n_out)
{
	struct mikey_keydata kd[MIKEY_MAX_KEYS];
	uint8_t plain[MIKEY_MAX_KEYS * (MIKEY_MAX_KEY + 64)];
	size_t len, n, i;
	int rc;

	if (km->encr_data.len > sizeof(plain))
		return MIKEY_ERR_TOO_BIG;
	if (km->mac_alg != MIKEY_MAC_NULL)
		return MIKEY_ERR_ALG;	/* RFC 6043: the V payload MACs */
	if (km->encr_alg == MIKEY_ENCR_NULL)
		return MIKEY_ERR_ALG;	/* keys never travel in clear */
	if (km->encr_alg == MIKEY_ENCR_AES_KW_128)
		rc = mikey_kemac_unwrap(k->encr, k->salt, km->encr_data.p,
		    km->encr_data.len, plain, &len);
	else {
		len = km->encr_data.len;
		rc = mikey_kemac_crypt(km->encr_alg, k->encr, k->salt, csb_id,
		    ts64, km->encr_data.p, len, plain);
	}
	if (rc != 0)
		goto done;
	rc = mikey_keydata_decode(plain, len, kd, MIKEY_MAX_KEYS, &n, NULL);
	if (rc != 0)
		goto done;
	if (n > max) {
		rc = MIKEY_ERR_TOO_MANY;
		goto done;
	}
	for (i = 0; i < n; i++)
		if ((rc = mikey_key_from_kd(&kd[i], &keys[i])) != 0)
			break;
	if (rc == 0)
		*n_out = n;
	else
		mikey_cleanse(keys, sizeof(*keys) * max);
done:
	mikey_cleanse(plain, sizeof(plain));
	return rc;
}

int
mikey_msg_peer_error(const struct mikey_msg *m, int *errno_out)
{
	const struct mikey_payload *e;

	if (m->hdr.data_type != MIKEY_DT_ERROR)
		return 0;
	e = mikey_chain_find(&m->body, MIKEY_PT_ERR, -1, 0);
	if (errno_out != NULL)
		*errno_out = e ? e->u.err.errno_ : MIKEY_EN_UNSPEC;
	return MIKEY_ERR_PEER;
}

int
mikey_resp_verify(const struct mikey_env *env, uint8_t dt, const uint8_t *init,
    size_t init_len, const uint8_t *psk, size_t psk_len, uint8_t rand_role,
    const uint8_t *msg, size_t len, struct mikey_msg *m,
    struct mikey_msgkeys *k, int *peer_errno, struct mikey_diag *diag)
{
	struct mikey_msg im;
	const struct mikey_payload *r, *km, *v;
	struct mikey_bytes app;
	int rc;

	memset(k, 0, sizeof(*k));
	if ((rc = mikey_msg_decode(msg, len, m, diag)) != 0)
		return rc;
	if ((rc = mikey_msg_peer_error(m, peer_errno)) != 0)
		return rc;
	if (m->hdr.data_type != dt)
		return MIKEY_ERR_DATA_TYPE;
	if (mikey_msg_decode(init, init_len, &im, NULL) != 0)
		return MIKEY_ERR_INVAL;
	if (m->hdr.csb_id != im.hdr.csb_id ||
	    m->hdr.prf_func != im.hdr.prf_func)
		return MIKEY_ERR_MISMATCH;
	r = mikey_chain_find(&im.body, MIKEY_PT_RANDR, rand_role, 0);
	km = mikey_chain_find(&m->body, MIKEY_PT_KEMAC, -1, 0);
	v = mikey_v_last(m);
	if (r == NULL || km == NULL || v == NULL ||
	    mikey_chain_find(&m->body, MIKEY_PT_T, -1, 0) == NULL)
		return MIKEY_ERR_STRUCTURE;
	/* K2 (4.2.1.5, 4.2.3.5): RANDRi for a request, RANDRr a resolve */
	rc = mikey_msgkeys_derive(m->hdr.prf_func, psk, psk_len,
	    m->hdr.csb_id, MIKEY_LBL_RESP,
	    rand_role == MIKEY_RAND_I ? &r->u.rand.rand : NULL,
	    rand_role == MIKEY_RAND_I ? NULL : &r->u.rand.rand,
	    km->u.kemac.encr_alg, v->u.v.alg, k);
	if (rc != 0)
		return rc;
	app.p = init;
	app.len = init_len;
	if ((rc = mikey_v_verify(m, k->auth, k->auth_len, 0, 0, &app, 1)) != 0 ||
	    (rc = mikey_msg_check_ts(env, m)) != 0)
		mikey_msgkeys_cleanup(k);
	return rc;
}

int
mikey_resp_keys(const struct mikey_msg *m, const struct mikey_msgkeys *k,
    int forking, struct mikey_key *mpki, struct mikey_key *mpkr,
    struct mikey_key *keys, size_t *nkeys)
{
	const struct mikey_payload *km, *ts;
	struct mikey_key all[MIKEY_MAX_KEYS + 2];
	size_t n, i, first = forking ? 2 : 1;
	int rc;

	km = mikey_chain_find(&m->body, MIKEY_PT_KEMAC, -1, 0);
	ts = mikey_chain_find(&m->body, MIKEY_PT_T, -1, 0);
	if (km == NULL || ts == NULL)
		return MIKEY_ERR_STRUCTURE;
	rc = mikey_kemac_open(&km->u.kemac, k, m->hdr.csb_id,
	    mikey_ts64(&ts->u.ts), all, MIKEY_MAX_KEYS + 2, &n);
	if (rc != 0)
		return rc;
	if (n < first || n - first > MIKEY_MAX_KEYS ||
	    all[0].type != MIKEY_KEY_MPK ||
	    (forking && all[1].type != MIKEY_KEY_MPK))
		rc = MIKEY_ERR_STRUCTURE;
	for (i = first; rc == 0 && i < n; i++)
		if (all[i].type == MIKEY_KEY_MPK)
			rc = MIKEY_ERR_STRUCTURE;
	if (rc == 0) {
		*mpki = all[0];
		if (forking)
			*mpkr = all[1];
		for (i = first; i < n; i++)
			keys[i - first] = all[i];
		*nkeys = n - first;
	}
	mikey_cleanse(all, sizeof(all));
	return rc;
}

int
mikey_msg_check_ts(const struct mikey_env *env, const struct mikey_msg *m)
{
	const struct mikey_payload *t = mikey_chain_find(&m->body,
	    MIKEY_PT_T, -1, 0);
	uint64_t now, ts, skew;

	if (t == NULL)
		return MIKEY_ERR_STRUCTURE;
	if (t->u.ts.ts_type == MIKEY_TS_COUNTER)
		return MIKEY_ERR_TS;	/* no counter state is kept here */
	now = mikey_env_now(env) >> 32;
	ts = mikey_ts64(&t->u.ts) >> 32;
	skew = mikey_env_skew(env);
	/* compare in the 1968-2104 window (RFC 4330 era handling) */
	if (mikey_ntp_to_unix(ts << 32) + (int64_t)skew <
	    mikey_ntp_to_unix(now << 32) ||
	    mikey_ntp_to_unix(ts << 32) > mikey_ntp_to_unix(now << 32) +
	    (int64_t)skew)
		return MIKEY_ERR_TS;
	return 0;
}

uint8_t
mikey_err_to_errno(int err)
{
	switch (err) {
	case MIKEY_ERR_AUTH:
	case MIKEY_ERR_UNKNOWN_ID:
		return MIKEY_EN_AUTH;
	case MIKEY_ERR_TS:
	case MIKEY_ERR_REPLAY:
	case MIKEY_ERR_TOO_OLD:
	case MIKEY_ERR_EXPIRED:
		return MIKEY_EN_TS;
	case MIKEY_ERR_PRF:
		return MIKEY_EN_PRF;
	case MIKEY_ERR_ALG:
		return MIKEY_EN_EA;
	case MIKEY_ERR_DATA_TYPE:
		return MIKEY_EN_DT;
	case MIKEY_ERR_TICKET_TYPE:
	case MIKEY_ERR_KEY_VERSION:
		return MIKEY_EN_TICKET;
	case MIKEY_ERR_POLICY:
		return MIKEY_EN_TPPAR;
	}
	return MIKEY_EN_UNSPEC;
}

int
mikey_chain_add_idr(struct mikey_chain *ch, uint8_t role,
    const struct mikey_id *id)
{
	struct mikey_payload *p;

	if (id->data.len == 0)
		return 0;
	if (id->data.len > MIKEY_MAX_ID)
		return MIKEY_ERR_TOO_BIG;
	if ((p = mikey_chain_add(ch, MIKEY_PT_IDR)) == NULL)
		return MIKEY_ERR_TOO_MANY;
	p->u.id.role = role;
	p->u.id.type = id->type;
	p->u.id.data = id->data;
	return 0;
}

int
mikey_chain_add_tr(struct mikey_chain *ch, uint8_t role, uint64_t ntp)
{
	struct mikey_payload *p;

	if ((p = mikey_chain_add(ch, MIKEY_PT_TR)) == NULL)
		return MIKEY_ERR_TOO_MANY;
	p->u.ts.role = role;
	p->u.ts.ts_type = MIKEY_TS_NTP_UTC_32;
	p->u.ts.value = ntp >> 32;
	return 0;
}

int
mikey_chain_add_v(struct mikey_chain *ch, uint8_t alg)
{
	static const uint8_t zeros[64];
	struct mikey_payload *p;
	int ml = mikey_mac_len(alg);

	if (ml <= 0)
		return MIKEY_ERR_ALG;
	if ((p = mikey_chain_add(ch, MIKEY_PT_V)) == NULL)
		return MIKEY_ERR_TOO_MANY;
	p->u.v.alg = alg;
	p->u.v.mac.p = zeros;
	p->u.v.mac.len = (size_t)ml;
	return 0;
}

void
mikey_msg_start(struct mikey_msg *m, uint8_t data_type, uint8_t v_flag,
    uint8_t prf, uint32_t csb_id, uint64_t now)
{
	struct mikey_payload *p;

	memset(&m->hdr, 0, sizeof(m->hdr));
	m->body.n = 0;
	m->raw.p = NULL;
	m->raw.len = 0;
	m->hdr.version = 1;
	m->hdr.data_type = data_type;
	m->hdr.v_flag = v_flag;
	m->hdr.prf_func = prf;
	m->hdr.csb_id = csb_id;
	m->hdr.map_type = MIKEY_MAP_EMPTY;
	p = mikey_chain_add(&m->body, MIKEY_PT_T);
	p->u.ts.ts_type = MIKEY_TS_NTP_UTC;
	p->u.ts.value = now;
}

const struct mikey_key *
mikey_keys_first_tgk(const struct mikey_key *keys, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (keys[i].type == MIKEY_KEY_TGK ||
		    keys[i].type == MIKEY_KEY_TGK_SALT ||
		    keys[i].type == MIKEY_KEY_GTGK ||
		    keys[i].type == MIKEY_KEY_GTGK_SALT)
			return &keys[i];
	return NULL;
}

int
mikey_id_equal(const struct mikey_id *a, const struct mikey_id *b)
{
	return a->type == b->type && a->data.len == b->data.len &&
	    (a->data.len == 0 || memcmp(a->data.p, b->data.p, a->data.len) ==
	    0);
}

int
mikey_error_msg(const struct mikey_env *env, const struct mikey_hdr *hdr,
    uint8_t errno_, uint8_t *out, size_t cap, size_t *len_out)
{
	struct mikey_msg m;
	struct mikey_payload *p;

	mikey_msg_start(&m, MIKEY_DT_ERROR, 0, hdr ? hdr->prf_func : 0,
	    hdr ? hdr->csb_id : 0, mikey_env_now(env));
	p = mikey_chain_add(&m.body, MIKEY_PT_ERR);
	p->u.err.errno_ = errno_;
	return mikey_msg_encode(&m, out, cap, len_out);
}
