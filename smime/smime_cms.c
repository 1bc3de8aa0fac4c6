/*
 * smime/smime_cms.c - AuthEnvelopedData with KEK recipients: envelope,
 * open, re-wrap (libcrypto CMS)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	Envelope (spec/smime-sip.md 3.2): CMS_encrypt with a GCM cipher and
 *	CMS_PARTIAL | CMS_BINARY makes an AuthEnvelopedData with a fresh
 *	random CEK and nonce; one CMS_add0_recipient_key per KEK (add0: the
 *	key and id must be OPENSSL_malloc'd, the structure frees them, the
 *	key with OPENSSL_clear_free); CMS_final.
 *
 *	Open (3.3): smime_der_check() first, then d2i, then the explicit
 *	RecipientInfo walk so that we know which key id matched: for each
 *	KEK recipient ask the caller's callback, CMS_RecipientInfo_set0_key
 *	(an OPENSSL_malloc'd copy, owned by the structure from then on) and
 *	CMS_RecipientInfo_decrypt, which leaves the CEK inside the structure.
 *	CMS_decrypt with no key then decrypts into a BIO_s_secmem (wiped
 *	when freed or grown) and fails if the tag does not verify; only then
 *	is the plaintext copied out.
 *
 *	Re-wrap (2.5): after the CEK is unwrapped as above it is still set in
 *	the structure, so CMS_add0_recipient_key + CMS_RecipientInfo_encrypt
 *	wrap the same CEK for the new KEKs.  CMS_decrypt then checks the tag
 *	(and frees the CEK).  The old RecipientInfos must go, and 3.0 has no
 *	public CMS_RecipientInfo_free: they are moved onto the RecipientInfo
 *	stack of an empty AuthEnvelopedData that is then freed, which frees
 *	them through their own ASN.1 item.  i2d re-encodes the parsed
 *	structure; for DER input (smime_der_check insists) every byte but
 *	the RecipientInfos SET and the three enclosing lengths is unchanged
 *	(t_smime checks the authEncryptedContentInfo and mac bytes).
 */

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "smime/smime-int.h"

/* check_keks - the KEK list smime_protect/smime_rewrap were given */
static int
check_keks(const struct smime_kek *keks, size_t n)
{
	size_t i;

	if (keks == NULL || n == 0 || n > SMIME_MAX_RECIPIENTS)
		return SMIME_ERR_INVAL;
	for (i = 0; i < n; i++) {
		if (keks[i].key == NULL ||
		    (keks[i].key_len != 16 && keks[i].key_len != 32))
			return SMIME_ERR_INVAL;
		if (keks[i].id == NULL || keks[i].id_len == 0 ||
		    keks[i].id_len > SMIME_MAX_KEY_ID)
			return SMIME_ERR_INVAL;
	}
	return 0;
}

/* add_keks - one KEKRecipientInfo per KEK; if encrypt, wrap the CEK now */
static int
add_keks(CMS_ContentInfo *cms, const struct smime_kek *keks, size_t n,
    int encrypt)
{
	CMS_RecipientInfo *ri;
	unsigned char *k, *id;
	size_t i;

	for (i = 0; i < n; i++) {
		k = OPENSSL_memdup(keks[i].key, keks[i].key_len);
		id = OPENSSL_memdup(keks[i].id, keks[i].id_len);
		ri = NULL;
		if (k != NULL && id != NULL)
			ri = CMS_add0_recipient_key(cms, NID_undef, k,
			    keks[i].key_len, id, keks[i].id_len, NULL, NULL,
			    NULL);
		if (ri == NULL) {
			/* not taken: add0 takes them only on success */
			OPENSSL_clear_free(k, keks[i].key_len);
			OPENSSL_free(id);
			return k == NULL || id == NULL ? SMIME_ERR_NOMEM :
			    SMIME_ERR_CRYPTO;
		}
		if (encrypt && CMS_RecipientInfo_encrypt(cms, ri) <= 0)
			return SMIME_ERR_CRYPTO;
	}
	return 0;
}

/* to_der - DER of cms as a malloc'd buffer */
static int
to_der(CMS_ContentInfo *cms, uint8_t **der_out, size_t *len_out)
{
	unsigned char *der = NULL;
	uint8_t *out;
	int n;

	n = i2d_CMS_ContentInfo(cms, &der);
	if (n <= 0)
		return SMIME_ERR_CRYPTO;
	if ((out = malloc((size_t)n)) == NULL) {
		OPENSSL_free(der);
		return SMIME_ERR_NOMEM;
	}
	memcpy(out, der, (size_t)n);
	OPENSSL_free(der);
	*der_out = out;
	*len_out = (size_t)n;
	return 0;
}

int
smime_envelope(const uint8_t *pt, size_t pt_len, enum smime_cipher cipher,
    const struct smime_kek *keks, size_t nkeks, uint8_t **der_out,
    size_t *der_len_out)
{
	CMS_ContentInfo *cms = NULL;
	const EVP_CIPHER *c;
	BIO *in = NULL;
	int err;

	if ((err = check_keks(keks, nkeks)) != 0)
		return err;
	if (pt_len > INT_MAX)
		return SMIME_ERR_TOO_BIG;
	if (cipher == SMIME_AES_128_GCM)
		c = EVP_aes_128_gcm();
	else if (cipher == SMIME_AES_256_GCM)
		c = EVP_aes_256_gcm();
	else
		return SMIME_ERR_INVAL;

	err = SMIME_ERR_NOMEM;
	if ((in = BIO_new_mem_buf(pt_len ? pt : (const uint8_t *)"",
	    (int)pt_len)) == NULL)
		goto out;
	err = SMIME_ERR_CRYPTO;
	/* NULL certificates need CMS_PARTIAL; GCM gives AuthEnvelopedData */
	cms = CMS_encrypt(NULL, in, c, CMS_PARTIAL | CMS_BINARY);
	if (cms == NULL)
		goto out;
	if ((err = add_keks(cms, keks, nkeks, 0)) != 0)
		goto out;
	err = SMIME_ERR_CRYPTO;
	if (CMS_final(cms, in, NULL, CMS_BINARY) <= 0)
		goto out;
	err = to_der(cms, der_out, der_len_out);
out:
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return err;
}

/*
 * open_cms - check and parse der, then unwrap the CEK with the first KEK
 *	recipient whose id the callback knows and whose KEK unwraps.  On
 *	success *cms_out holds the CEK and *ri_out is that recipient.
 */
static int
open_cms(const uint8_t *der, size_t der_len, size_t max_body,
    smime_kek_cb cb, void *cb_arg, struct smime_aed_info *info,
    CMS_ContentInfo **cms_out, CMS_RecipientInfo **ri_out)
{
	STACK_OF(CMS_RecipientInfo) *ris;
	CMS_ContentInfo *cms = NULL;
	CMS_RecipientInfo *ri;
	ASN1_OCTET_STRING *id;
	const unsigned char *p = der;
	unsigned char *copy;
	uint8_t kek[SMIME_MAX_KEK];
	size_t klen;
	int err, i, n;

	if (der == NULL || cb == NULL)
		return SMIME_ERR_INVAL;
	if (der_len > smime_max_body(max_body) + SMIME_OVERHEAD ||
	    der_len > LONG_MAX)
		return SMIME_ERR_TOO_BIG;
	if ((err = smime_der_check(der, der_len, info)) != 0)
		return err;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)der_len);
	err = SMIME_ERR_DER;
	if (cms == NULL || p != der + der_len)
		goto fail;
	err = SMIME_ERR_NOT_AUTH_ENVELOPED;
	if (OBJ_obj2nid(CMS_get0_type(cms)) !=
	    NID_id_smime_ct_authEnvelopedData)
		goto fail;
	err = SMIME_ERR_DER;
	ris = CMS_get0_RecipientInfos(cms);
	n = sk_CMS_RecipientInfo_num(ris);
	if (n < 0 || (size_t)n != info->nri)
		goto fail;

	err = SMIME_ERR_UNKNOWN_KEY;
	for (i = 0; i < n; i++) {
		ri = sk_CMS_RecipientInfo_value(ris, i);
		if (CMS_RecipientInfo_type(ri) != CMS_RECIPINFO_KEK)
			continue;
		if (CMS_RecipientInfo_kekri_get0_id(ri, NULL, &id, NULL, NULL,
		    NULL) <= 0 || id == NULL)
			continue;
		klen = 0;
		if (cb(cb_arg, ASN1_STRING_get0_data(id),
		    (size_t)ASN1_STRING_length(id), kek, &klen) != 0)
			continue;
		if (klen != 16 && klen != 32) {
			err = SMIME_ERR_INVAL;	/* the callback's bug */
			break;
		}
		if ((copy = OPENSSL_memdup(kek, klen)) == NULL) {
			err = SMIME_ERR_NOMEM;
			break;
		}
		OPENSSL_cleanse(kek, sizeof(kek));
		/* set0: the recipient owns copy and clear-frees it */
		if (CMS_RecipientInfo_set0_key(ri, copy, klen) <= 0) {
			OPENSSL_clear_free(copy, klen);
			err = SMIME_ERR_CRYPTO;
			break;
		}
		if (CMS_RecipientInfo_decrypt(cms, ri) > 0) {
			*ri_out = ri;
			*cms_out = cms;
			OPENSSL_cleanse(kek, sizeof(kek));
			return 0;
		}
		err = SMIME_ERR_UNWRAP;	/* AES-KW integrity check */
	}
	OPENSSL_cleanse(kek, sizeof(kek));
fail:
	CMS_ContentInfo_free(cms);
	return err;
}

/*
 * decrypt_private - CMS_decrypt with the CEK already set, into a secmem
 *	BIO; *out_bio is returned only if the tag verified.
 */
static int
decrypt_private(CMS_ContentInfo *cms, BIO **out_bio)
{
	BIO *out;

	if ((out = BIO_new(BIO_s_secmem())) == NULL)
		return SMIME_ERR_NOMEM;
	if (CMS_decrypt(cms, NULL, NULL, NULL, out, CMS_BINARY) <= 0) {
		BIO_free(out);		/* wipes whatever was written */
		return SMIME_ERR_TAG;
	}
	*out_bio = out;
	return 0;
}

int
smime_envelope_open(const uint8_t *der, size_t der_len, smime_kek_cb cb,
    void *cb_arg, size_t max_pt, struct sbuf *pt, struct smime_msg *msg)
{
	struct smime_aed_info info;
	CMS_ContentInfo *cms = NULL;
	CMS_RecipientInfo *ri = NULL;
	ASN1_OCTET_STRING *id = NULL;
	BUF_MEM *bm = NULL;
	BIO *out = NULL;
	int err;

	if ((err = open_cms(der, der_len, max_pt, cb, cb_arg, &info, &cms,
	    &ri)) != 0)
		return err;
	if ((err = decrypt_private(cms, &out)) != 0)
		goto out;
	BIO_get_mem_ptr(out, &bm);
	err = SMIME_ERR_CRYPTO;
	if (bm == NULL)
		goto out;
	if ((err = sbuf_reserve(pt, bm->length)) != 0)
		goto out;
	sbuf_add(pt, bm->data, bm->length);
	if ((err = pt->err) != 0)
		goto out;
	if (msg != NULL) {
		(void)CMS_RecipientInfo_kekri_get0_id(ri, NULL, &id, NULL,
		    NULL, NULL);
		err = SMIME_ERR_NOMEM;
		msg->kek_id_len = (size_t)ASN1_STRING_length(id);
		msg->kek_id = malloc(msg->kek_id_len ? msg->kek_id_len : 1);
		if (msg->kek_id == NULL)
			goto out;
		memcpy(msg->kek_id, ASN1_STRING_get0_data(id),
		    msg->kek_id_len);
		msg->cipher = info.cipher;
	}
	err = 0;
out:
	if (err != 0)
		sbuf_wipe(pt);
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	return err;
}

/* drop_recipients - free the first n RecipientInfos of cms (see DESIGN) */
static int
drop_recipients(CMS_ContentInfo *cms, int n)
{
	STACK_OF(CMS_RecipientInfo) *ris, *bin;
	CMS_ContentInfo *dummy;
	CMS_RecipientInfo *ri;
	int i;

	if ((dummy = CMS_AuthEnvelopedData_create(EVP_aes_128_gcm())) == NULL)
		return SMIME_ERR_NOMEM;
	ris = CMS_get0_RecipientInfos(cms);
	bin = CMS_get0_RecipientInfos(dummy);
	for (i = 0; i < n; i++) {
		ri = sk_CMS_RecipientInfo_shift(ris);
		if (sk_CMS_RecipientInfo_push(bin, ri) <= 0) {
			/* cannot be freed without its item: put it back */
			(void)sk_CMS_RecipientInfo_unshift(ris, ri);
			CMS_ContentInfo_free(dummy);
			return SMIME_ERR_NOMEM;
		}
	}
	CMS_ContentInfo_free(dummy);
	return 0;
}

int
smime_rewrap(const uint8_t *der, size_t der_len, smime_kek_cb cb,
    void *cb_arg, const struct smime_kek *keks, size_t nkeks,
    size_t max_body, uint8_t **der_out, size_t *der_len_out)
{
	struct smime_aed_info info;
	CMS_ContentInfo *cms = NULL;
	CMS_RecipientInfo *ri;
	BIO *out = NULL;
	int err, nold;

	if (der_out == NULL || der_len_out == NULL)
		return SMIME_ERR_INVAL;
	if ((err = check_keks(keks, nkeks)) != 0)
		return err;
	ERR_set_mark();
	if ((err = open_cms(der, der_len, max_body, cb, cb_arg, &info, &cms,
	    &ri)) != 0)
		goto out;
	nold = sk_CMS_RecipientInfo_num(CMS_get0_RecipientInfos(cms));
	/* wrap the CEK for the new KEKs while it is set (CMS_decrypt frees
	 * it), then check the tag: nothing unauthenticated is passed on */
	if ((err = add_keks(cms, keks, nkeks, 1)) != 0)
		goto out;
	if ((err = decrypt_private(cms, &out)) != 0)
		goto out;
	if ((err = drop_recipients(cms, nold)) != 0)
		goto out;
	err = to_der(cms, der_out, der_len_out);
out:
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	ERR_pop_to_mark();
	return err;
}
