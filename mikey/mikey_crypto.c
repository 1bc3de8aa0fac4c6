/*
 * mikey/mikey_crypto.c - KEMAC encryption (AES-CM, AES-KW, NULL), HMAC, errors
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	OpenSSL 3 looks an algorithm up by name on every EVP_*_fetch() and
 *	on every init with a legacy EVP_aes_*() pointer, and setting up an
 *	HMAC context by digest name fetches the digest again.  That lookup
 *	costs more than the HMAC of a short label, and the PRF runs several
 *	HMACs per key, so the implementations are fetched once per process
 *	(CRYPTO_THREAD_run_once) and kept: one keyless HMAC context per
 *	digest, which callers copy with EVP_MAC_CTX_dup(), the three
 *	ciphers and SHA-256 (mikey_sha256: the replay cache's keys, ticket
 *	digests).  The cached objects are never modified after the once-block
 *	and hold no key material, so threads may share them.  If the one-time
 *	fetch failed (say, out of memory just then), each call fetches on its
 *	own: slower, still correct.  XXX they are never freed: they stay
 *	reachable until exit (valgrind "still reachable"), because freeing
 *	them from a destructor could run after OpenSSL's own atexit cleanup.
 *
 *	Key-dependent state (EVP_MAC_CTX, EVP_CIPHER_CTX) is always per call
 *	and freed before returning; OpenSSL wipes it when freeing.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mikey/mikey-int.h"

#define HMAC_MAX	32	/* bytes of the longest tag */
#define AESCM_SALT	14	/* 112-bit salt_key, RFC 3830 4.2.3 */
/* 2^16 blocks: only the low 16 bits of the IV count (RFC 3711 4.1.1) */
#define AESCM_MAX	(65536 * 16)

enum { MD_SHA1, MD_SHA256, MD_N };
enum { CI_AES128_CTR, CI_AES256_CTR, CI_AES128_WRAP, CI_N };

/* OSSL_PARAM_construct_utf8_string() takes a non-const buffer. */
static char md_sha1[] = "SHA1";
static char md_sha256[] = "SHA2-256";
static char *const md_names[MD_N] = { md_sha1, md_sha256 };
static const char *const cipher_names[CI_N] = {
	"AES-128-CTR", "AES-256-CTR", "AES-128-WRAP"
};

static CRYPTO_ONCE	 evp_once = CRYPTO_ONCE_STATIC_INIT;
static EVP_MAC_CTX	*hmac_tmpl[MD_N];
static EVP_CIPHER	*cipher_cache[CI_N];
static EVP_MD		*sha256_cache;

/* hmac_new - a fresh HMAC context for digest md, with no key yet */
static EVP_MAC_CTX *
hmac_new(int md)
{
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];

	mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	if (mac == NULL)
		goto done;
	ctx = EVP_MAC_CTX_new(mac);
	if (ctx == NULL)
		goto done;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    md_names[md], 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_CTX_set_params(ctx, params)) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
done:
	EVP_MAC_free(mac);	/* the context keeps its own reference */
	return ctx;
}

/* evp_init - fetch the HMAC templates and ciphers once per process */
static void
evp_init(void)
{
	int i;

	for (i = 0; i < MD_N; i++)
		hmac_tmpl[i] = hmac_new(i);
	for (i = 0; i < CI_N; i++)
		cipher_cache[i] = EVP_CIPHER_fetch(NULL, cipher_names[i], NULL);
	sha256_cache = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

int
mikey_sha256(const uint8_t *buf, size_t len, uint8_t out[32])
{
	const EVP_MD *md = CRYPTO_THREAD_run_once(&evp_once, evp_init) &&
	    sha256_cache != NULL ? sha256_cache : EVP_sha256();
	unsigned int n = 0;

	if ((buf == NULL && len > 0) || out == NULL)
		return MIKEY_ERR_INVAL;
	if (EVP_Digest(buf, len, out, &n, md, NULL) != 1 || n != 32)
		return MIKEY_ERR_CRYPTO;
	return 0;
}

/* hmac_ctx - a keyless HMAC context for md: a copy of the cached template */
static EVP_MAC_CTX *
hmac_ctx(int md)
{
	if (CRYPTO_THREAD_run_once(&evp_once, evp_init) &&
	    hmac_tmpl[md] != NULL)
		return EVP_MAC_CTX_dup(hmac_tmpl[md]);
	return hmac_new(md);
}

/* cipher - the cached implementation of ci, else the legacy getter */
static const EVP_CIPHER *
cipher(int ci)
{
	if (CRYPTO_THREAD_run_once(&evp_once, evp_init) &&
	    cipher_cache[ci] != NULL)
		return cipher_cache[ci];
	switch (ci) {
	case CI_AES128_CTR:
		return EVP_aes_128_ctr();
	case CI_AES256_CTR:
		return EVP_aes_256_ctr();
	default:
		return EVP_aes_128_wrap();
	}
}

/* parts_ok - every part with a length has bytes */
static int
parts_ok(const struct mikey_bytes *parts, size_t n)
{
	size_t i;

	if (parts == NULL)
		return n == 0;
	for (i = 0; i < n; i++)
		if (parts[i].p == NULL && parts[i].len > 0)
			return 0;
	return 1;
}

/* --------------------------------------------------------------------- */
/* HMAC contexts (mikey-int.h) */

int
mikey_hmac_init(struct mikey_hmac *h, uint8_t mac_alg)
{
	int md;

	h->ctx = NULL;
	h->len = 0;
	h->fresh = 0;
	switch (mac_alg) {
	case MIKEY_MAC_HMAC_SHA1_160:
		md = MD_SHA1;
		break;
	case MIKEY_MAC_HMAC_SHA256_256:
		md = MD_SHA256;
		break;
	default:
		return MIKEY_ERR_ALG;
	}
	h->ctx = hmac_ctx(md);
	if (h->ctx == NULL)
		return MIKEY_ERR_CRYPTO;
	h->len = (size_t)mikey_mac_len(mac_alg);
	return MIKEY_OK;
}

int
mikey_hmac_setkey(struct mikey_hmac *h, const uint8_t *key, size_t key_len)
{
	h->fresh = 0;
	if (h->ctx == NULL || key == NULL || key_len == 0)
		return MIKEY_ERR_INVAL;
	if (!EVP_MAC_init(h->ctx, key, key_len, NULL))
		return MIKEY_ERR_CRYPTO;
	h->fresh = 1;
	return MIKEY_OK;
}

int
mikey_hmac_run(struct mikey_hmac *h, const struct mikey_bytes *parts,
    size_t n, uint8_t *out)
{
	size_t i, outl = 0;

	if (h->ctx == NULL || out == NULL || !parts_ok(parts, n))
		return MIKEY_ERR_INVAL;
	/* A NULL key re-initialises with the key already set: the keyed
	 * inner and outer hash states are copied, not recomputed. */
	if (!h->fresh && !EVP_MAC_init(h->ctx, NULL, 0, NULL))
		return MIKEY_ERR_CRYPTO;
	h->fresh = 0;
	for (i = 0; i < n; i++)
		if (parts[i].len > 0 &&
		    !EVP_MAC_update(h->ctx, parts[i].p, parts[i].len))
			return MIKEY_ERR_CRYPTO;
	if (!EVP_MAC_final(h->ctx, out, &outl, h->len) || outl != h->len)
		return MIKEY_ERR_CRYPTO;
	return MIKEY_OK;
}

void
mikey_hmac_cleanup(struct mikey_hmac *h)
{
	if (h == NULL)
		return;
	EVP_MAC_CTX_free(h->ctx);	/* wipes the key and hash states */
	h->ctx = NULL;
	h->len = 0;
	h->fresh = 0;
}

/* --------------------------------------------------------------------- */
/* MAC (RFC 3830 4.2.4, 6043 6.2) */

int
mikey_mac(uint8_t alg, const uint8_t *key, size_t key_len,
    const struct mikey_bytes *parts, size_t n, uint8_t *out)
{
	struct mikey_hmac h = { NULL, 0, 0 };
	int rc;

	if (alg == MIKEY_MAC_NULL)
		return MIKEY_OK;
	if (mikey_mac_len(alg) < 0)
		return MIKEY_ERR_ALG;
	if (key == NULL || key_len == 0 || out == NULL || !parts_ok(parts, n))
		return MIKEY_ERR_INVAL;
	rc = mikey_hmac_init(&h, alg);
	if (rc != MIKEY_OK)
		goto done;
	rc = mikey_hmac_setkey(&h, key, key_len);
	if (rc != MIKEY_OK)
		goto done;
	rc = mikey_hmac_run(&h, parts, n, out);
done:
	mikey_hmac_cleanup(&h);
	return rc;
}

int
mikey_mac_verify(uint8_t alg, const uint8_t *key, size_t key_len,
    const struct mikey_bytes *parts, size_t n, const uint8_t *mac,
    size_t mac_len)
{
	uint8_t want[HMAC_MAX];
	int len, rc;

	len = mikey_mac_len(alg);
	if (len < 0)
		return MIKEY_ERR_ALG;
	/* The tag length is implied by the alg; any other length is a MAC
	 * that does not verify, never a truncated comparison. */
	if (mac_len != (size_t)len)
		return MIKEY_ERR_AUTH;
	if (len == 0)
		return MIKEY_OK;
	if (mac == NULL)
		return MIKEY_ERR_INVAL;
	rc = mikey_mac(alg, key, key_len, parts, n, want);
	if (rc != MIKEY_OK)
		goto done;
	if (CRYPTO_memcmp(want, mac, (size_t)len) != 0)
		rc = MIKEY_ERR_AUTH;
done:
	OPENSSL_cleanse(want, sizeof(want));
	return rc;
}

/* --------------------------------------------------------------------- */
/* KEMAC encryption (RFC 3830 4.2.3, 6043 6.2) */

int
mikey_kemac_crypt(uint8_t encr_alg, const uint8_t *key, const uint8_t *salt,
    uint32_t csb_id, uint64_t ts64, const uint8_t *in, size_t len,
    uint8_t *out)
{
	EVP_CIPHER_CTX *cc = NULL;
	uint8_t iv[16], x[16];
	int ci, outl = 0, finl = 0, rc, i;

	if (len > 0 && (in == NULL || out == NULL))
		return MIKEY_ERR_INVAL;
	switch (encr_alg) {
	case MIKEY_ENCR_NULL:
		if (len > 0 && out != in)
			memmove(out, in, len);
		return MIKEY_OK;
	case MIKEY_ENCR_AES_CM_128:
		ci = CI_AES128_CTR;
		break;
	case MIKEY_ENCR_AES_CM_256:
		ci = CI_AES256_CTR;
		break;
	case MIKEY_ENCR_AES_KW_128:
		/* output is 8 bytes longer: mikey_kemac_wrap() */
		return MIKEY_ERR_INVAL;
	default:
		return MIKEY_ERR_ALG;
	}
	if (key == NULL || salt == NULL)
		return MIKEY_ERR_INVAL;
	if (len > AESCM_MAX)
		return MIKEY_ERR_TOO_BIG;
	if (len == 0)
		return MIKEY_OK;

	/*
	 * RFC 3830 4.2.3 (SRTP's AES-CM, RFC 3711 4.1.1, with no prefix):
	 * IV = (S XOR (0x0000 || CSB ID || T)) || 0x0000.  AES-CTR then adds
	 * the block number to the whole IV; since the low 16 bits start at
	 * zero and len is at most 2^16 blocks, no carry leaves them.
	 */
	memset(x, 0, sizeof(x));
	st32(x + 2, csb_id);
	st64(x + 6, ts64);
	for (i = 0; i < AESCM_SALT; i++)
		iv[i] = salt[i] ^ x[i];
	iv[14] = iv[15] = 0;

	rc = MIKEY_ERR_CRYPTO;
	cc = EVP_CIPHER_CTX_new();
	if (cc == NULL)
		goto done;
	if (!EVP_EncryptInit_ex(cc, cipher(ci), NULL, key, iv))
		goto done;
	if (!EVP_EncryptUpdate(cc, out, &outl, in, (int)len) ||
	    (size_t)outl != len)
		goto done;
	if (!EVP_EncryptFinal_ex(cc, out + outl, &finl) || finl != 0)
		goto done;
	rc = MIKEY_OK;
done:
	EVP_CIPHER_CTX_free(cc);
	OPENSSL_cleanse(iv, sizeof(iv));
	OPENSSL_cleanse(x, sizeof(x));
	return rc;
}

/* aes_kw - RFC 3394 wrap (enc 1) or unwrap (enc 0), AES-128, IV iv8 */
static int
aes_kw(int enc, const uint8_t *key, const uint8_t *iv8, const uint8_t *in,
    size_t len, uint8_t *out, size_t *out_len)
{
	EVP_CIPHER_CTX *cc = NULL;
	size_t want;
	int outl = 0, finl = 0, rc;

	if (key == NULL || iv8 == NULL || in == NULL || out == NULL ||
	    out_len == NULL)
		return MIKEY_ERR_INVAL;
	/* RFC 3394 2: n >= 2 blocks of 64 bits; the wrapped form adds one. */
	if (len % 8 != 0 || len < (enc ? 16u : 24u))
		return MIKEY_ERR_INVAL;
	if (len > INT_MAX - 16)
		return MIKEY_ERR_TOO_BIG;
	want = enc ? len + 8 : len - 8;

	rc = MIKEY_ERR_CRYPTO;
	cc = EVP_CIPHER_CTX_new();
	if (cc == NULL)
		goto done;
	EVP_CIPHER_CTX_set_flags(cc, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (!EVP_CipherInit_ex(cc, cipher(CI_AES128_WRAP), NULL, key, iv8,
	    enc))
		goto done;
	if (EVP_CipherUpdate(cc, out, &outl, in, (int)len) <= 0) {
		/* unwrap: the integrity check value did not match */
		if (!enc)
			rc = MIKEY_ERR_AUTH;
		goto done;
	}
	if (!EVP_CipherFinal_ex(cc, out + outl, &finl) ||
	    (size_t)outl + (size_t)finl != want)
		goto done;
	*out_len = want;
	rc = MIKEY_OK;
done:
	EVP_CIPHER_CTX_free(cc);
	if (rc != MIKEY_OK)
		OPENSSL_cleanse(out, want);
	return rc;
}

int
mikey_kemac_wrap(const uint8_t *key, const uint8_t *iv8, const uint8_t *in,
    size_t len, uint8_t *out, size_t *out_len)
{
	return aes_kw(1, key, iv8, in, len, out, out_len);
}

int
mikey_kemac_unwrap(const uint8_t *key, const uint8_t *iv8,
    const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
	return aes_kw(0, key, iv8, in, len, out, out_len);
}

/* --------------------------------------------------------------------- */
/* Timestamps, wiping, errors */

/*
 * RFC 3830 4.1.4/6.6: NTP-UTC and NTP are 64-bit already; COUNTER is
 * left-padded with zeros (it is in the low 32 bits of value); RFC 6043
 * 6.3 NTP-UTC-32 is the seconds part of NTP-UTC, so it gets a zero
 * fraction (spec/mikey-ticket.md 8.1).
 */
uint64_t
mikey_ts64(const struct mikey_pl_ts *ts)
{
	if (ts == NULL)
		return 0;
	switch (ts->ts_type) {
	case MIKEY_TS_NTP_UTC_32:
		return (uint64_t)(uint32_t)ts->value << 32;
	case MIKEY_TS_NTP_UTC:
	case MIKEY_TS_NTP:
	case MIKEY_TS_COUNTER:
	default:
		return ts->value;
	}
}

void
mikey_cleanse(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

/* Stable texts: callers may log them and tests may compare them. */
#define E(code)	[MIKEY_ERR_##code - MIKEY_ERR_BASE]
static const char *const err_text[] = {
	E(NOMEM) =		"out of memory",
	E(TRUNCATED) =		"input truncated",
	E(TRAILING) =		"trailing bytes after the last payload",
	E(VERSION) =		"unsupported MIKEY version",
	E(DATA_TYPE) =		"unknown or unexpected data type",
	E(PAYLOAD_TYPE) =	"unknown payload type",
	E(VALUE) =		"value not allowed",
	E(LENGTH) =		"inconsistent length",
	E(TOO_MANY) =		"too many payloads or entries",
	E(STRUCTURE) =		"payload missing, repeated or misplaced",
	E(TOO_BIG) =		"output too big",
	E(INVAL) =		"invalid argument",
	E(CRYPTO) =		"cryptographic library failure",
	E(AUTH) =		"authentication failed",
	E(TS) =			"timestamp outside the allowed window",
	E(REPLAY) =		"replayed message",
	E(TOO_OLD) =		"message too old for the replay cache",
	E(PRF) =		"PRF not supported",
	E(ALG) =		"algorithm not supported",
	E(POLICY) =		"ticket policy refused",
	E(TICKET_TYPE) =	"ticket type not supported",
	E(EXPIRED) =		"ticket not valid at this time",
	E(NOT_AUTHORISED) =	"not authorised by KMS policy",
	E(UNKNOWN_ID) =		"unknown identity",
	E(KEY_VERSION) =	"unknown master key version",
	E(PEER) =		"peer sent a MIKEY error message",
	E(MISMATCH) =		"response does not match the request",
};
#undef E

_Static_assert(sizeof(err_text) / sizeof(err_text[0]) ==
    MIKEY_ERR_LAST - MIKEY_ERR_BASE, "every enum mikey_err code needs a text");

const char *
mikey_strerror(int err)
{
	if (err == MIKEY_OK)
		return "no error";
	if (err >= MIKEY_ERR_BASE && err < MIKEY_ERR_LAST &&
	    err_text[err - MIKEY_ERR_BASE] != NULL)
		return err_text[err - MIKEY_ERR_BASE];
	return "unknown error";
}

void
mikey_diag_format(const struct mikey_diag *d, char *buf, size_t len)
{
	char where[40];
	const char *name;

	if (buf == NULL || len == 0)
		return;
	if (d == NULL) {
		snprintf(buf, len, "no diagnostic");
		return;
	}
	name = NULL;
	if (d->payload > 0 && d->payload <= 255) {
		name = mikey_payload_name((uint8_t)d->payload);
		if (name != NULL && strcmp(name, "?") == 0)
			name = NULL;
	}
	/* payload -1 (and 0, never a payload type) is the common header */
	if (d->payload == -1 || d->payload == 0)
		snprintf(where, sizeof(where), "HDR");
	else if (d->payload == -2)
		snprintf(where, sizeof(where), "nested data");
	else if (name != NULL)
		snprintf(where, sizeof(where), "%s payload", name);
	else
		snprintf(where, sizeof(where), "payload type %d", d->payload);
	snprintf(buf, len, "%s%s%s at offset %zu in %s",
	    mikey_strerror(d->err), d->field != NULL ? ": " : "",
	    d->field != NULL ? d->field : "", d->offset, where);
}
