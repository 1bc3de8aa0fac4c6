/*
 * mikey/mikey-int.h - internals shared by the files of mikey/
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 */
#ifndef MIKEY_INT_H
#define MIKEY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "mikey/mikey.h"

/* FALLTHROUGH - an intended fall into the next case (gcc and clang) */
#if defined(__GNUC__) && __GNUC__ >= 7 || defined(__clang__)
#define FALLTHROUGH	__attribute__((fallthrough))
#else
#define FALLTHROUGH	do { } while (0)
#endif

/* Big-endian loads and stores: the wire is network order (RFC 3830 6). */
static inline uint16_t
ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
ld32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
ld64(const uint8_t *p)
{
	return (uint64_t)ld32(p) << 32 | ld32(p + 4);
}

static inline void
st16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
st32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void
st64(uint8_t *p, uint64_t v)
{
	st32(p, (uint32_t)(v >> 32));
	st32(p + 4, (uint32_t)v);
}

/*
 * A bounded output buffer with a sticky error (krb5 k5buf style): writers
 * never check each call, the first overflow sets err and later writes are
 * no-ops.
 */
struct wbuf {
	uint8_t	*p;
	size_t	 len;
	size_t	 cap;
	int	 err;
};

static inline void
wbuf_init(struct wbuf *w, uint8_t *p, size_t cap)
{
	w->p = p;
	w->len = 0;
	w->cap = cap;
	w->err = 0;
}

static inline uint8_t *
wbuf_reserve(struct wbuf *w, size_t n)
{
	uint8_t *r;

	if (w->err || n > w->cap - w->len) {
		w->err = MIKEY_ERR_TOO_BIG;
		return NULL;
	}
	r = w->p + w->len;
	w->len += n;
	return r;
}

static inline void
wbuf_u8(struct wbuf *w, uint8_t v)
{
	uint8_t *q = wbuf_reserve(w, 1);

	if (q)
		q[0] = v;
}

static inline void
wbuf_u16(struct wbuf *w, uint16_t v)
{
	uint8_t *q = wbuf_reserve(w, 2);

	if (q)
		st16(q, v);
}

static inline void
wbuf_u32(struct wbuf *w, uint32_t v)
{
	uint8_t *q = wbuf_reserve(w, 4);

	if (q)
		st32(q, v);
}

static inline void
wbuf_mem(struct wbuf *w, const void *src, size_t n)
{
	uint8_t *q = wbuf_reserve(w, n);
	size_t i;

	if (q)
		for (i = 0; i < n; i++)
			q[i] = ((const uint8_t *)src)[i];
}

/*
 * A keyed HMAC context (mikey_crypto.c), shared by mikey_mac() and the PRF
 * of mikey_prf.c so that both reuse the once-fetched OpenSSL objects.  The
 * OpenSSL type stays out of this header: struct evp_mac_ctx_st is the tag
 * behind EVP_MAC_CTX (openssl/types.h).  Caller-owned; init, setkey, then
 * any number of run; cleanup wipes and frees.
 */
struct evp_mac_ctx_st;
struct mikey_hmac {
	struct evp_mac_ctx_st	*ctx;	/* owned; NULL before init */
	size_t			 len;	/* tag length in bytes */
	int			 fresh;	/* keyed and not yet used */
};

/* mikey_hmac_init - context for MIKEY_MAC_HMAC_SHA1_160 or _SHA256_256 */
MIKEY_WUR int mikey_hmac_init(struct mikey_hmac *h, uint8_t mac_alg);
/* mikey_hmac_setkey - (re)key h; key_len > 0 */
MIKEY_WUR int mikey_hmac_setkey(struct mikey_hmac *h, const uint8_t *key,
    size_t key_len);
/* mikey_hmac_run - out (h->len bytes) = HMAC(key, parts[0] || ...) */
MIKEY_WUR int mikey_hmac_run(struct mikey_hmac *h,
    const struct mikey_bytes *parts, size_t n, uint8_t *out);
/* mikey_hmac_cleanup - free h (and the key state in it); idempotent */
void mikey_hmac_cleanup(struct mikey_hmac *h);


/* ---- shared by the role files (mikey_msg.c) ---- */

/* env_now - the environment's clock (NTP-UTC 64) */
uint64_t mikey_env_now(const struct mikey_env *env);
/* env_rand - the environment's RNG */
int mikey_env_rand(const struct mikey_env *env, uint8_t *buf, size_t len);
/* mikey_env_skew - allowed clock skew in seconds */
uint32_t mikey_env_skew(const struct mikey_env *env);
/* mikey_rand_len - length of a RAND we generate: at least 16 bytes (32
 *	with PRF-HMAC-SHA-256) and at least the longest key in play (7.4) */
size_t mikey_rand_len(uint8_t prf, size_t longest_key);

/*
 * mikey_v_finish - buf holds an encoded message whose last payload is a V
 *	with a MAC of the right length (any bytes): compute the MAC over the
 *	message up to the MAC field, minus [cut_off, cut_off + cut_len),
 *	followed by the n appended parts, and write it in place.
 */
int mikey_v_finish(uint8_t *buf, size_t len, uint8_t alg, const uint8_t *key,
    size_t key_len, size_t cut_off, size_t cut_len,
    const struct mikey_bytes *app, size_t n);
/* mikey_v_verify - the same check on a decoded message (constant time) */
int mikey_v_verify(const struct mikey_msg *m, const uint8_t *key,
    size_t key_len, size_t cut_off, size_t cut_len,
    const struct mikey_bytes *app, size_t n);
/* mikey_v_last - the V payload if it is the message's last payload */
const struct mikey_payload *mikey_v_last(const struct mikey_msg *m);

/*
 * mikey_kemac_seal - encrypt a key data chain for a KEMAC: plaintext kd,
 *	keys k, IV from csb_id and ts64; ciphertext into out (cap), length
 *	out_len.  MAC alg is always NULL in MIKEY-TICKET.
 */
int mikey_kemac_seal(uint8_t encr_alg, const struct mikey_msgkeys *k,
    uint32_t csb_id, uint64_t ts64, const struct mikey_key *keys, size_t n,
    uint8_t *out, size_t cap, size_t *out_len);
/* mikey_kemac_open - decrypt and parse a KEMAC into keys (copies) */
int mikey_kemac_open(const struct mikey_pl_kemac *km,
    const struct mikey_msgkeys *k, uint32_t csb_id, uint64_t ts64,
    struct mikey_key *keys, size_t max, size_t *n_out);

/* mikey_id_set - point id at type + bytes */
static inline struct mikey_id
mikey_id_make(uint8_t type, const void *p, size_t len)
{
	struct mikey_id id;

	id.type = type;
	id.data.p = (const uint8_t *)p;
	id.data.len = len;
	return id;
}

/* mikey_chain_add_idr - append an IDR payload unless id is empty */
int mikey_chain_add_idr(struct mikey_chain *ch, uint8_t role,
    const struct mikey_id *id);
/* mikey_chain_add_tr - append a TR payload (NTP-UTC-32 seconds of ntp) */
int mikey_chain_add_tr(struct mikey_chain *ch, uint8_t role, uint64_t ntp);
/* mikey_chain_add_v - append a V payload with a zero MAC placeholder */
int mikey_chain_add_v(struct mikey_chain *ch, uint8_t alg);
/* mikey_msg_start - HDR (Empty map, no CS) and a fresh NTP-UTC T payload */
void mikey_msg_start(struct mikey_msg *m, uint8_t data_type, uint8_t v_flag,
    uint8_t prf, uint32_t csb_id, uint64_t now);
/* mikey_keys_first_tgk - the first TGK or GTGK (with or without salt) */
const struct mikey_key *mikey_keys_first_tgk(const struct mikey_key *keys,
    size_t n);
/* mikey_id_equal - same identity bytes */
int mikey_id_equal(const struct mikey_id *a, const struct mikey_id *b);

/*
 * mikey_resp_verify - what processing a KMS response starts with (RFC 6043
 *	4.2.1.6, 4.2.3.6): decode msg into m, an Error message gives
 *	MIKEY_ERR_PEER, check the data type, that CSB ID and PRF are those of
 *	our initial message init, verify V with K2 from psk and the RANDR of
 *	init (rand_role) over RESP || INIT, then T.  k receives the K2 keys
 *	for the KEMAC; the caller wipes them.
 */
int mikey_resp_verify(const struct mikey_env *env, uint8_t dt,
    const uint8_t *init, size_t init_len, const uint8_t *psk, size_t psk_len,
    uint8_t rand_role, const uint8_t *msg, size_t len, struct mikey_msg *m,
    struct mikey_msgkeys *k, int *peer_errno, struct mikey_diag *diag);
/*
 * mikey_resp_keys - open a response KEMAC laid out as MPKi || [MPKr]
 *	(forking) || session keys; *nkeys session keys into keys (room for
 *	MIKEY_MAX_KEYS).
 */
int mikey_resp_keys(const struct mikey_msg *m, const struct mikey_msgkeys *k,
    int forking, struct mikey_key *mpki, struct mikey_key *mpkr,
    struct mikey_key *keys, size_t *nkeys);

/* mikey_msg_peer_error - if m is an Error message: its first Error no */
int mikey_msg_peer_error(const struct mikey_msg *m, int *errno_out);
/* mikey_msg_check_ts - |T - now| <= skew for message m */
int mikey_msg_check_ts(const struct mikey_env *env, const struct mikey_msg *m);
/* mikey_key_from_kd - copy a decoded key data sub-payload into a key */
int mikey_key_from_kd(const struct mikey_keydata *kd, struct mikey_key *k);
/* mikey_key_to_kd - alias a key as a key data sub-payload */
void mikey_key_to_kd(const struct mikey_key *k, struct mikey_keydata *kd);
/* mikey_encr_for_prf - the KEMAC encryption paired with a PRF (6.2) */
uint8_t mikey_encr_for_prf(uint8_t prf);
uint8_t mikey_mac_for_prf(uint8_t prf);

/* wbuf_done - the sticky error, or 0 with the length written */
static inline int
wbuf_done(const struct wbuf *w, size_t *len_out)
{
	if (w->err)
		return w->err;
	*len_out = w->len;
	return 0;
}

#endif /* MIKEY_INT_H */
