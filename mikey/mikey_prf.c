/*
 * mikey/mikey_prf.c - MIKEY PRFs, RFC 6043 labels, message key derivation
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	RFC 3830 4.1.2: PRF(inkey, label) is the XOR of P(s_i, label, m)
 *	over the chunks s_1 .. s_n of inkey, where
 *
 *		A_0 = label, A_j = H(s, A_(j-1)),
 *		P(s, label, m) = H(s, A_1 || label) || ... ||
 *		    H(s, A_m || label)
 *
 *	and the output is the first outkey_len bits.  The chunks are 256 bits,
 *	the last one possibly shorter but never empty: n = ceil(inkey_len /
 *	256).  RFC 6043 6.1 PRF-HMAC-SHA-256 swaps H and turns the 160 of
 *	m = ceil(outkey_len / 160) into 256; the chunk size stays 256 bits
 *	(spec/mikey-ticket.md 7.1).  A 32-byte key is one chunk, not a full
 *	chunk plus an empty one.
 *
 *	One keyed HMAC context (mikey_crypto.c) serves a whole call: keyed
 *	once per chunk, re-initialised with that key for each block, so the
 *	per-call OpenSSL overhead is one context copy and n key set-ups.  The
 *	message keys of mikey_msgkeys_derive() come from one inkey under up to
 *	three labels, so they share the keyed context as well.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "mikey/mikey-int.h"

#define PRF_CHUNK	32	/* bytes of an inkey chunk s_i, both PRFs */
#define PRF_HMAX	32	/* bytes of the longest HMAC output */
#define RANDLEN_MAX	255	/* a RAND length travels as one byte */
/* the longest K1/K2/K3 label: C, 0xFF|CS ID, CSB ID, kind, two RANDs */
#define LABEL_MAX	(4 + 1 + 4 + 1 + 2 * (1 + RANDLEN_MAX))

/* One PRF evaluation: the label and where its output goes. */
struct prf_job {
	const uint8_t	*label;
	size_t		 label_len;
	uint8_t		*out;
	size_t		 out_len;
};

/* prf_mac_alg - the HMAC behind a PRF func, or MIKEY_MAC_NULL if unknown */
static uint8_t
prf_mac_alg(uint8_t prf)
{
	switch (prf) {
	case MIKEY_PRF_MIKEY1:
		return MIKEY_MAC_HMAC_SHA1_160;
	case MIKEY_PRF_HMAC_SHA256:
		return MIKEY_MAC_HMAC_SHA256_256;
	default:
		return MIKEY_MAC_NULL;
	}
}

/* prf_p - XOR P(s, label, m) into job->out; h is keyed with s */
static int
prf_p(struct mikey_hmac *h, const struct prf_job *job)
{
	struct mikey_bytes parts[2];
	uint8_t a[PRF_HMAX], blk[PRF_HMAX];
	size_t off, take, i;
	int rc = MIKEY_OK;

	parts[0].p = job->label;		/* A_0 = label */
	parts[0].len = job->label_len;
	for (off = 0; off < job->out_len; off += take) {
		/* A_j = H(s, A_(j-1)): the label is not appended here */
		rc = mikey_hmac_run(h, parts, 1, a);
		if (rc != MIKEY_OK)
			goto done;
		parts[0].p = a;
		parts[0].len = h->len;
		/* output block j = H(s, A_j || label) */
		parts[1].p = job->label;
		parts[1].len = job->label_len;
		rc = mikey_hmac_run(h, parts, 2, blk);
		if (rc != MIKEY_OK)
			goto done;
		take = job->out_len - off < h->len ? job->out_len - off :
		    h->len;
		for (i = 0; i < take; i++)
			job->out[off + i] ^= blk[i];
	}
done:
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(blk, sizeof(blk));
	return rc;
}

/* overlap - do [a, a+alen) and [b, b+blen) share a byte? */
static int
overlap(const void *a, size_t alen, const void *b, size_t blen)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;

	if (a == NULL || b == NULL || alen == 0 || blen == 0)
		return 0;
	return x < y + blen && y < x + alen;
}

/* prf_run - PRF(inkey, label) for each job, one keyed context per chunk */
static int
prf_run(uint8_t prf, const uint8_t *inkey, size_t inkey_len,
    const struct prf_job *jobs, size_t njobs)
{
	struct mikey_hmac h = { NULL, 0, 0 };
	size_t off, chunk, j;
	int rc;

	/* out is cleared first and built by XOR, so in-place use (say,
	 * forking a key into its own buffer) would read a wiped inkey */
	for (j = 0; j < njobs; j++)
		if (overlap(jobs[j].out, jobs[j].out_len, inkey, inkey_len) ||
		    overlap(jobs[j].out, jobs[j].out_len, jobs[j].label,
		    jobs[j].label_len))
			return MIKEY_ERR_INVAL;
	for (j = 0; j < njobs; j++)
		memset(jobs[j].out, 0, jobs[j].out_len);
	rc = mikey_hmac_init(&h, prf_mac_alg(prf));
	if (rc != MIKEY_OK)
		goto done;
	for (off = 0; off < inkey_len; off += chunk) {
		chunk = inkey_len - off < PRF_CHUNK ? inkey_len - off :
		    PRF_CHUNK;
		rc = mikey_hmac_setkey(&h, inkey + off, chunk);
		if (rc != MIKEY_OK)
			goto done;
		for (j = 0; j < njobs; j++) {
			rc = prf_p(&h, &jobs[j]);
			if (rc != MIKEY_OK)
				goto done;
		}
	}
done:
	mikey_hmac_cleanup(&h);
	if (rc != MIKEY_OK)
		for (j = 0; j < njobs; j++)
			OPENSSL_cleanse(jobs[j].out, jobs[j].out_len);
	return rc;
}

int
mikey_prf(uint8_t prf, const uint8_t *inkey, size_t inkey_len,
    const uint8_t *label, size_t label_len, uint8_t *out, size_t out_len)
{
	struct prf_job job;

	if (prf_mac_alg(prf) == MIKEY_MAC_NULL)
		return MIKEY_ERR_PRF;
	if (inkey == NULL || inkey_len == 0 || out == NULL || out_len == 0 ||
	    (label == NULL && label_len > 0))
		return MIKEY_ERR_INVAL;
	job.label = label;
	job.label_len = label_len;
	job.out = out;
	job.out_len = out_len;
	return prf_run(prf, inkey, inkey_len, &job, 1);
}

/* --------------------------------------------------------------------- */
/* Labels (RFC 6043 5.1, A.2; spec/mikey-ticket.md 7.3) */

/* put_rand - lenR(8) || R; a NULL or empty rand is one zero byte */
static void
put_rand(struct wbuf *w, const struct mikey_bytes *r)
{
	if (r == NULL || r->len == 0) {
		wbuf_u8(w, 0);
		return;
	}
	if (r->len > RANDLEN_MAX || r->p == NULL) {
		w->err = MIKEY_ERR_INVAL;
		return;
	}
	wbuf_u8(w, (uint8_t)r->len);
	wbuf_mem(w, r->p, r->len);
}

/* label_head - C || b || id32 || kind, the start every label shares */
static void
label_head(struct wbuf *w, uint32_t c, uint8_t b, uint32_t id32,
    uint8_t kind)
{
	wbuf_u32(w, c);
	wbuf_u8(w, b);
	wbuf_u32(w, id32);
	wbuf_u8(w, kind);
}

size_t
mikey_label_msg(uint32_t c, uint32_t csb_id, uint8_t kind,
    const struct mikey_bytes *randri, const struct mikey_bytes *randrr,
    uint8_t *lab, size_t lab_cap)
{
	struct wbuf w;

	wbuf_init(&w, lab, lab_cap);
	label_head(&w, c, 0xff, csb_id, kind);
	put_rand(&w, randri);
	put_rand(&w, randrr);
	return w.err ? 0 : w.len;
}

/* RFC 6043 5.1.3: unlike RFC 3830 4.1.3 the CSB ID is not in the label. */
size_t
mikey_label_tgk(uint32_t c, uint8_t cs_id, const struct mikey_bytes *randri,
    const struct mikey_bytes *randrr, uint8_t *lab, size_t lab_cap)
{
	struct wbuf w;

	wbuf_init(&w, lab, lab_cap);
	label_head(&w, c, cs_id, 0xffffffffu, MIKEY_LBL_TGK);
	put_rand(&w, randri);
	put_rand(&w, randrr);
	return w.err ? 0 : w.len;
}

size_t
mikey_label_fork(uint32_t c, struct mikey_bytes id,
    struct mikey_bytes randrkms, uint8_t *lab, size_t lab_cap)
{
	struct wbuf w;

	wbuf_init(&w, lab, lab_cap);
	if (id.len > 0xffff || (id.p == NULL && id.len > 0))
		return 0;
	label_head(&w, c, 0xff, 0xffffffffu, MIKEY_LBL_FORK);
	wbuf_u16(&w, (uint16_t)id.len);
	if (id.len > 0)
		wbuf_mem(&w, id.p, id.len);
	put_rand(&w, &randrkms);
	return w.err ? 0 : w.len;
}

size_t
mikey_label_fixed(uint32_t c, uint8_t kind, const struct mikey_bytes *rand,
    uint8_t *lab, size_t lab_cap)
{
	struct wbuf w;

	wbuf_init(&w, lab, lab_cap);
	label_head(&w, c, 0xff, 0xffffffffu, kind);
	if (rand != NULL)
		put_rand(&w, rand);
	return w.err ? 0 : w.len;
}

/* --------------------------------------------------------------------- */
/* Message protection keys (RFC 6043 5.1.2, A.2.1; spec 7.3 K1/K2/K6) */

int
mikey_msgkeys_derive(uint8_t prf, const uint8_t *inkey, size_t inkey_len,
    uint32_t csb_id, uint8_t kind, const struct mikey_bytes *randri,
    const struct mikey_bytes *randrr, uint8_t encr_alg, uint8_t mac_alg,
    struct mikey_msgkeys *k)
{
	static const uint32_t consts[3] = {
		MIKEY_C_ENCR, MIKEY_C_SALT, MIKEY_C_AUTH
	};
	uint8_t labs[3][LABEL_MAX];
	struct prf_job jobs[3];
	uint8_t *outs[3];
	size_t lens[3], n = 0, i, ll;
	int rc;

	if (k == NULL || overlap(k, sizeof(*k), inkey, inkey_len))
		return MIKEY_ERR_INVAL;
	memset(k, 0, sizeof(*k));
	if (prf_mac_alg(prf) == MIKEY_MAC_NULL)
		return MIKEY_ERR_PRF;
	if (inkey == NULL || inkey_len == 0)
		return MIKEY_ERR_INVAL;

	/* RFC 3830 4.2.3, 6043 6.2; spec 7.4 */
	switch (encr_alg) {
	case MIKEY_ENCR_NULL:
		lens[0] = 0;
		lens[1] = 0;
		break;
	case MIKEY_ENCR_AES_CM_128:
		lens[0] = 16;
		lens[1] = 14;
		break;
	case MIKEY_ENCR_AES_KW_128:
		lens[0] = 16;
		lens[1] = 8;		/* the RFC 3394 IV */
		break;
	case MIKEY_ENCR_AES_CM_256:
		lens[0] = 32;
		lens[1] = 14;
		break;
	default:
		return MIKEY_ERR_ALG;
	}
	switch (mac_alg) {
	case MIKEY_MAC_NULL:
		lens[2] = 0;
		break;
	case MIKEY_MAC_HMAC_SHA1_160:
		lens[2] = 20;
		break;
	case MIKEY_MAC_HMAC_SHA256_256:
		lens[2] = 32;
		break;
	default:
		return MIKEY_ERR_ALG;
	}

	/*
	 * K1/K2 always carry at least one RAND and K6 the ticket RAND (spec
	 * 7.3): without one, every message under the same key would get the
	 * same keys.
	 */
	switch (kind) {
	case MIKEY_LBL_INIT:
	case MIKEY_LBL_RESP:
		if ((randri == NULL || randri->len == 0) &&
		    (randrr == NULL || randrr->len == 0))
			return MIKEY_ERR_INVAL;
		break;
	case MIKEY_LBL_TPK:
		if (randri == NULL || randri->len == 0)
			return MIKEY_ERR_INVAL;
		break;
	default:
		return MIKEY_ERR_INVAL;
	}

	outs[0] = k->encr;
	outs[1] = k->salt;
	outs[2] = k->auth;
	for (i = 0; i < 3; i++) {
		if (lens[i] == 0)
			continue;
		if (kind == MIKEY_LBL_TPK)
			ll = mikey_label_fixed(consts[i], MIKEY_LBL_TPK, randri,
			    labs[i], sizeof(labs[i]));
		else
			ll = mikey_label_msg(consts[i], csb_id, kind, randri,
			    randrr, labs[i], sizeof(labs[i]));
		if (ll == 0)
			return MIKEY_ERR_INVAL;
		jobs[n].label = labs[i];
		jobs[n].label_len = ll;
		jobs[n].out = outs[i];
		jobs[n].out_len = lens[i];
		n++;
	}
	if (n == 0)
		return MIKEY_OK;
	rc = prf_run(prf, inkey, inkey_len, jobs, n);
	if (rc != MIKEY_OK) {
		mikey_msgkeys_cleanup(k);
		return rc;
	}
	k->encr_len = lens[0];
	k->salt_len = lens[1];
	k->auth_len = lens[2];
	return MIKEY_OK;
}

void
mikey_msgkeys_cleanup(struct mikey_msgkeys *k)
{
	if (k != NULL)
		OPENSSL_cleanse(k, sizeof(*k));
}
