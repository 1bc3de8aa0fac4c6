/*
 * smime/smime_sign.c - opaque SignedData: sign, verify, signer identity
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	Sign (spec/smime-sip.md 3.4): CMS_sign with CMS_PARTIAL, then
 *	CMS_add1_signer with SHA-256 (for EC and RSA keys; Ed25519/Ed448
 *	choose their own), CMS_BINARY | CMS_NOSMIMECAP [| CMS_NOCERTS], and
 *	a signingTime attribute set to the CPIM DateTime, so the two times
 *	of one message agree; CMS_final.  The signed attributes are then
 *	contentType, signingTime and messageDigest (RFC 8591 appendix A).
 *
 *	Verify, in three steps so that each failure has its own code:
 *	 1. structure: exactly one SignerInfo, eContentType id-data, eContent
 *	    present (SMIME_ERR_SIGNED_DATA);
 *	 2. the signer's certificate must be found, in the SignedData or in
 *	    opts->certs (SMIME_ERR_UNTRUSTED), and CMS_verify with
 *	    CMS_NO_SIGNER_CERT_VERIFY checks the signature and the signed
 *	    attributes (SMIME_ERR_BAD_SIGNATURE);
 *	 3. the certificate chain to opts->trust with purpose "smime_sign",
 *	    exactly what CMS_verify would do (SMIME_ERR_UNTRUSTED).  So
 *	    certificates need no extendedKeyUsage or emailProtection in it
 *	    (3.4 pitfall).  The verification time is the store's (now unless
 *	    the caller set X509_VERIFY_PARAM time on it).
 *	The SAN URIs (RFC 8591 4.4.1) and signingTime are then reported.
 */

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "smime/smime-int.h"

int
smime_sign(const struct smime_signer *s, int64_t t, const uint8_t *in,
    size_t in_len, struct sbuf *out)
{
	unsigned int flags = CMS_BINARY | CMS_NOSMIMECAP | CMS_PARTIAL;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	ASN1_TIME *at = NULL;
	const EVP_MD *md = EVP_sha256();
	unsigned char *der = NULL;
	BIO *bio = NULL;
	int err, n;

	if (s->cert == NULL || s->key == NULL)
		return SMIME_ERR_INVAL;
	if (in_len > INT_MAX)
		return SMIME_ERR_TOO_BIG;
	if (EVP_PKEY_get_id(s->key) == EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_id(s->key) == EVP_PKEY_ED448)
		md = NULL;

	err = SMIME_ERR_NOMEM;
	if ((bio = BIO_new_mem_buf(in_len ? in : (const uint8_t *)"",
	    (int)in_len)) == NULL)
		goto out;
	err = SMIME_ERR_CRYPTO;
	if ((cms = CMS_sign(NULL, NULL, s->chain, NULL, flags)) == NULL)
		goto out;
	err = SMIME_ERR_INVAL;		/* e.g. key does not match */
	if ((si = CMS_add1_signer(cms, s->cert, s->key, md,
	    flags | (s->no_certs ? CMS_NOCERTS : 0))) == NULL)
		goto out;
	err = SMIME_ERR_CRYPTO;
	/* signingTime: UTCTime until 2049, GeneralizedTime after
	 * (RFC 5652 11.3), as ASN1_TIME_set chooses */
	if ((at = ASN1_TIME_set(NULL, (time_t)t)) == NULL)
		goto out;
	if (CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime,
	    ASN1_STRING_type(at), at, -1) <= 0)
		goto out;
	if (CMS_final(cms, bio, NULL, CMS_BINARY) <= 0)
		goto out;
	if ((n = i2d_CMS_ContentInfo(cms, &der)) <= 0)
		goto out;
	sbuf_add(out, der, (size_t)n);
	err = out->err;
out:
	OPENSSL_free(der);
	ASN1_TIME_free(at);
	CMS_ContentInfo_free(cms);
	BIO_free(bio);
	return err;
}

/* signing_time - the signingTime attribute as Unix seconds, or -1 */
static int64_t
signing_time(CMS_SignerInfo *si)
{
	X509_ATTRIBUTE *attr;
	ASN1_TYPE *v;
	struct tm tm;
	int i;

	i = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
	if (i < 0 || (attr = CMS_signed_get_attr(si, i)) == NULL)
		return -1;
	if (X509_ATTRIBUTE_count(attr) != 1 ||
	    (v = X509_ATTRIBUTE_get0_type(attr, 0)) == NULL)
		return -1;
	if (v->type != V_ASN1_UTCTIME && v->type != V_ASN1_GENERALIZEDTIME)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(v->value.asn1_string, &tm) != 1)
		return -1;
	return smime_days_from_civil(tm.tm_year + 1900,
	    (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday) * 86400 +
	    tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
}

/* san_uris - copy the signer's subjectAltName URIs into msg */
static int
san_uris(X509 *cert, struct smime_msg *msg)
{
	GENERAL_NAMES *gens;
	GENERAL_NAME *g;
	const unsigned char *d;
	char *u;
	int i, n, len, err = 0;

	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (gens == NULL)
		return 0;
	n = sk_GENERAL_NAME_num(gens);
	for (i = 0; i < n && msg->nsigner_uris < SMIME_MAX_SIGNER_URIS;
	    i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_URI)
			continue;
		d = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
		len = ASN1_STRING_length(g->d.uniformResourceIdentifier);
		if (len <= 0 || len > SMIME_MAX_URI ||
		    memchr(d, '\0', (size_t)len) != NULL)
			continue;	/* not usable as an identity */
		if ((u = smime_strndup(d, (size_t)len)) == NULL) {
			err = SMIME_ERR_NOMEM;
			break;
		}
		if (smime_uri_check(u) != 0) {
			free(u);
			continue;
		}
		msg->signer_uris[msg->nsigner_uris++] = u;
	}
	GENERAL_NAMES_free(gens);
	return err;
}

/* chain_ok - the S/MIME signing chain check of CMS_verify, on its own */
static int
chain_ok(X509_STORE *store, X509 *signer, STACK_OF(X509) *untrusted)
{
	X509_STORE_CTX *ctx;
	int ok = 0;

	if (store == NULL)
		return 0;
	if ((ctx = X509_STORE_CTX_new()) == NULL)
		return -1;
	if (X509_STORE_CTX_init(ctx, store, signer, untrusted) == 1 &&
	    X509_STORE_CTX_set_default(ctx, "smime_sign") == 1)
		ok = X509_verify_cert(ctx) == 1;
	X509_STORE_CTX_free(ctx);
	return ok;
}

int
smime_verify(const uint8_t *der, size_t der_len,
    const struct smime_verify_opts *opts, struct sbuf *content,
    struct smime_msg *msg)
{
	STACK_OF(CMS_SignerInfo) *sis;
	STACK_OF(X509) *untrusted = NULL;
	ASN1_OCTET_STRING **pos;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	X509 *signer = NULL;
	const unsigned char *p = der;
	int err, i, ok;

	err = SMIME_ERR_SIGNED_DATA;
	if (der_len == 0 || der_len > LONG_MAX)
		goto out;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)der_len);
	if (cms == NULL || p != der + der_len)
		goto out;
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data)
		goto out;
	pos = CMS_get0_content(cms);
	if (pos == NULL || *pos == NULL)	/* detached: not our profile */
		goto out;
	sis = CMS_get0_SignerInfos(cms);
	if (sk_CMS_SignerInfo_num(sis) != 1)
		goto out;
	si = sk_CMS_SignerInfo_value(sis, 0);

	/* 2. the signer's certificate, then the signature */
	err = SMIME_ERR_UNTRUSTED;
	if (CMS_set1_signers_certs(cms, opts->certs, 0) < 0)
		goto out;
	CMS_SignerInfo_get0_algs(si, NULL, &signer, NULL, NULL);
	if (signer == NULL)
		goto out;
	err = SMIME_ERR_BAD_SIGNATURE;
	if (CMS_verify(cms, opts->certs, NULL, NULL, NULL,
	    CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) <= 0)
		goto out;

	/* 3. the chain */
	err = SMIME_ERR_NOMEM;
	if ((untrusted = CMS_get1_certs(cms)) == NULL &&
	    (untrusted = sk_X509_new_null()) == NULL)
		goto out;
	for (i = 0; i < sk_X509_num(opts->certs); i++)
		if (!X509_add_cert(untrusted, sk_X509_value(opts->certs, i),
		    X509_ADD_FLAG_UP_REF))
			goto out;
	ok = chain_ok(opts->trust, signer, untrusted);
	err = ok < 0 ? SMIME_ERR_NOMEM : SMIME_ERR_UNTRUSTED;
	if (ok <= 0)
		goto out;

	/* the signed content and the signer's identity */
	sbuf_add(content, ASN1_STRING_get0_data(*pos),
	    (size_t)ASN1_STRING_length(*pos));
	if ((err = content->err) != 0)
		goto out;
	if ((err = san_uris(signer, msg)) != 0)
		goto out;
	msg->signing_time = signing_time(si);
	msg->is_signed = 1;
	err = 0;
out:
	sk_X509_pop_free(untrusted, X509_free);
	CMS_ContentInfo_free(cms);
	return err;
}
