/*
 * smime/smime_der.c - strict DER profile check of an AuthEnvelopedData
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	libcrypto's d2i accepts BER, does not look at the version fields, and
 *	does not care which content type sits inside the encryption: without
 *	authAttrs nothing but the GCM tag protects the envelope, and the tag
 *	covers neither the versions nor the inner contentType.  So before
 *	anything is handed to libcrypto, this walker checks the whole
 *	structure against the profile of spec/smime-sip.md 3.1, with a TLV
 *	reader that accepts DER only (single-byte tags, definite minimal
 *	lengths, every TLV inside its parent, no trailing bytes):
 *
 *	ContentInfo SEQUENCE {
 *	  contentType	id-ct-authEnvelopedData, else NOT_AUTH_ENVELOPED
 *	  [0] EXPLICIT AuthEnvelopedData SEQUENCE {
 *	    version	INTEGER 0
 *	    originatorInfo [0]		refused
 *	    recipientInfos SET OF, 1..SMIME_MAX_RECIPIENTS:
 *	      kekri [2] { version 4, kekid { keyIdentifier OCTET STRING
 *	        1..SMIME_MAX_KEY_ID, date?, other? }, id-aes128-wrap or
 *	        id-aes256-wrap with parameters absent (RFC 3565 2.3.2),
 *	        encryptedKey of CEK length + 8 }
 *	      ktri, kari [1], pwri [3], ori [4]: skipped whole (libcrypto
 *	        parses them; we never use them)
 *	    authEncryptedContentInfo { id-data, id-aes128-GCM or
 *	      id-aes256-GCM { nonce of 12 octets, ICVlen 12..16 default 12 },
 *	      [0] IMPLICIT primitive encryptedContent (present) }
 *	    authAttrs [1]		refused (we never send them)
 *	    mac		OCTET STRING of ICVlen octets
 *	    unauthAttrs [2]		refused
 *	  } }
 *
 *	Errors: SMIME_ERR_DER for encoding and grammar, SMIME_ERR_UNSUPPORTED
 *	for well-formed values outside the profile.
 *
 *	XXX BER from a streaming sender (indefinite lengths, constructed
 *	OCTET STRINGs) is refused; RFC 5652 allows it, our peers send DER.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smime/smime-int.h"

/* A window on the input: the bytes not read yet. */
struct der {
	const uint8_t	*p;
	const uint8_t	*end;
};

/* DER content octets of the OIDs we accept */
static const uint8_t oid_auth_env[] = {	/* 1.2.840.113549.1.9.16.1.23 */
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17 };
static const uint8_t oid_data[] = {		/* 1.2.840.113549.1.7.1 */
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01 };
static const uint8_t oid_aes128_wrap[] = {	/* 2.16.840.1.101.3.4.1.5 */
	0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x05 };
static const uint8_t oid_aes256_wrap[] = {	/* 2.16.840.1.101.3.4.1.45 */
	0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2d };
static const uint8_t oid_aes128_gcm[] = {	/* 2.16.840.1.101.3.4.1.6 */
	0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x06 };
static const uint8_t oid_aes256_gcm[] = {	/* 2.16.840.1.101.3.4.1.46 */
	0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2e };

#define T_INTEGER	0x02
#define T_OCTETS	0x04
#define T_OID		0x06
#define T_GENTIME	0x18
#define T_SEQ		0x30
#define T_SET		0x31
#define T_CTX0_PRIM	0x80
#define T_CTX0		0xa0
#define T_CTX1		0xa1
#define T_CTX2		0xa2
#define T_CTX3		0xa3
#define T_CTX4		0xa4

/* der_peek - the next tag, or -1 at the end */
static int
der_peek(const struct der *d)
{
	return d->p < d->end ? d->p[0] : -1;
}

/*
 * der_get - read one TLV; val gets its content, *tlv (if not NULL) where
 *	the TLV starts.  DER only: a low tag number, a definite length in the
 *	shortest form, all inside d.
 */
static int
der_get(struct der *d, int *tag_out, struct der *val, const uint8_t **tlv)
{
	const uint8_t *p = d->p;
	size_t avail = (size_t)(d->end - p), hdr = 2, len, n, i;

	if (avail < 2 || (p[0] & 0x1f) == 0x1f)
		return SMIME_ERR_DER;
	if (p[1] < 0x80)
		len = p[1];
	else {
		n = p[1] & 0x7f;
		/* 0x80 is BER's indefinite length; lengths fit 4 octets */
		if (n == 0 || n > 4 || avail - 2 < n || p[2] == 0)
			return SMIME_ERR_DER;
		for (len = 0, i = 0; i < n; i++)
			len = len << 8 | p[2 + i];
		if (len < 0x80)
			return SMIME_ERR_DER;
		hdr += n;
	}
	if (avail - hdr < len)
		return SMIME_ERR_DER;
	if (tlv != NULL)
		*tlv = p;
	*tag_out = p[0];
	val->p = p + hdr;
	val->end = val->p + len;
	d->p = val->end;
	return 0;
}

/* der_expect - read one TLV that must have the given tag */
static int
der_expect(struct der *d, int tag, struct der *val)
{
	int t, err;

	if ((err = der_get(d, &t, val, NULL)) != 0)
		return err;
	return t == tag ? 0 : SMIME_ERR_DER;
}

/* der_len - bytes in a window */
static size_t
der_len(const struct der *d)
{
	return (size_t)(d->end - d->p);
}

/* oid_is - 1 if an OID's content octets are o */
static int
oid_is(const struct der *v, const uint8_t *o, size_t olen)
{
	return der_len(v) == olen && memcmp(v->p, o, olen) == 0;
}

/* small_int - a DER INTEGER 0..127 (one octet), -1 if it is anything else;
 *	SMIME_ERR_DER through *err for an INTEGER that is not DER */
static int
small_int(const struct der *v, int *err)
{
	*err = 0;
	if (der_len(v) == 0) {
		*err = SMIME_ERR_DER;
		return -1;
	}
	if (der_len(v) > 1 && (v->p[0] == 0x00 && v->p[1] < 0x80)) {
		*err = SMIME_ERR_DER;	/* not minimal */
		return -1;
	}
	if (der_len(v) > 1 && (v->p[0] == 0xff && v->p[1] >= 0x80)) {
		*err = SMIME_ERR_DER;
		return -1;
	}
	if (der_len(v) != 1 || v->p[0] >= 0x80)
		return -1;
	return v->p[0];
}

/*
 * check_kekri - the content of a [2] KEKRecipientInfo.  *ek_len gets the
 *	encryptedKey length, checked against the CEK length by the caller.
 */
static int
check_kekri(struct der *ri, size_t *ek_len)
{
	struct der v, kekid, alg;
	int err, t;

	if ((err = der_expect(ri, T_INTEGER, &v)) != 0)
		return err;
	if (small_int(&v, &err) != 4)
		return err ? err : SMIME_ERR_UNSUPPORTED;
	if ((err = der_expect(ri, T_SEQ, &kekid)) != 0)
		return err;
	if ((err = der_expect(&kekid, T_OCTETS, &v)) != 0)
		return err;
	if (der_len(&v) == 0 || der_len(&v) > SMIME_MAX_KEY_ID)
		return SMIME_ERR_UNSUPPORTED;
	/* date GeneralizedTime OPTIONAL, other OtherKeyAttribute OPTIONAL
	 * (unused: RFC 5652 10.2.7; libcrypto parses their content) */
	if (der_peek(&kekid) == T_GENTIME &&
	    (err = der_get(&kekid, &t, &v, NULL)) != 0)
		return err;
	if (der_peek(&kekid) == T_SEQ &&
	    (err = der_get(&kekid, &t, &v, NULL)) != 0)
		return err;
	if (der_len(&kekid) != 0)
		return SMIME_ERR_DER;
	if ((err = der_expect(ri, T_SEQ, &alg)) != 0)
		return err;
	if ((err = der_expect(&alg, T_OID, &v)) != 0)
		return err;
	if (!oid_is(&v, oid_aes128_wrap, sizeof(oid_aes128_wrap)) &&
	    !oid_is(&v, oid_aes256_wrap, sizeof(oid_aes256_wrap)))
		return SMIME_ERR_UNSUPPORTED;
	if (der_len(&alg) != 0)		/* parameters MUST be absent */
		return SMIME_ERR_UNSUPPORTED;
	if ((err = der_expect(ri, T_OCTETS, &v)) != 0)
		return err;
	*ek_len = der_len(&v);
	if (der_len(ri) != 0)
		return SMIME_ERR_DER;
	return 0;
}

/* check_eci - the authEncryptedContentInfo; sets cipher, ICV and lengths */
static int
check_eci(struct der *eci, struct smime_aed_info *info, int *icvlen)
{
	struct der v, alg, par;
	int err, n;

	if ((err = der_expect(eci, T_OID, &v)) != 0)
		return err;
	if (!oid_is(&v, oid_data, sizeof(oid_data)))	/* RFC 5083 2.1 */
		return SMIME_ERR_UNSUPPORTED;
	if ((err = der_expect(eci, T_SEQ, &alg)) != 0)
		return err;
	if ((err = der_expect(&alg, T_OID, &v)) != 0)
		return err;
	if (oid_is(&v, oid_aes128_gcm, sizeof(oid_aes128_gcm)))
		info->cipher = SMIME_AES_128_GCM;
	else if (oid_is(&v, oid_aes256_gcm, sizeof(oid_aes256_gcm)))
		info->cipher = SMIME_AES_256_GCM;
	else
		return SMIME_ERR_UNSUPPORTED;
	/* GCMParameters (RFC 5084 3.2) */
	if ((err = der_expect(&alg, T_SEQ, &par)) != 0)
		return err;
	if (der_len(&alg) != 0)
		return SMIME_ERR_DER;
	if ((err = der_expect(&par, T_OCTETS, &v)) != 0)
		return err;
	if (der_len(&v) != 12)
		return SMIME_ERR_UNSUPPORTED;
	*icvlen = 12;
	if (der_peek(&par) >= 0) {
		if ((err = der_expect(&par, T_INTEGER, &v)) != 0)
			return err;
		n = small_int(&v, &err);
		if (err)
			return err;
		if (n < 12 || n > 16)
			return SMIME_ERR_UNSUPPORTED;
		*icvlen = n;
	}
	if (der_len(&par) != 0)
		return SMIME_ERR_DER;
	/* encryptedContent [0] IMPLICIT OCTET STRING: present, primitive */
	if (der_peek(eci) == T_CTX0)
		return SMIME_ERR_UNSUPPORTED;	/* BER constructed */
	if (der_peek(eci) < 0)
		return SMIME_ERR_UNSUPPORTED;	/* detached */
	if ((err = der_expect(eci, T_CTX0_PRIM, &v)) != 0)
		return err;
	info->content_len = der_len(&v);
	if (der_len(eci) != 0)
		return SMIME_ERR_DER;
	return 0;
}

int
smime_der_check(const uint8_t *buf, size_t len, struct smime_aed_info *info)
{
	struct der in = { buf, buf + len }, ci, v, wrap, aed, set, ri, eci;
	const uint8_t *tlv;
	size_t ek_len[SMIME_MAX_RECIPIENTS], cek, i;
	int err, t, icvlen = 12;

	memset(info, 0, sizeof(*info));
	if ((err = der_expect(&in, T_SEQ, &ci)) != 0)
		return err;
	if (der_len(&in) != 0)
		return SMIME_ERR_DER;		/* trailing bytes */
	if ((err = der_expect(&ci, T_OID, &v)) != 0)
		return err;
	if (!oid_is(&v, oid_auth_env, sizeof(oid_auth_env)))
		return SMIME_ERR_NOT_AUTH_ENVELOPED;
	if ((err = der_expect(&ci, T_CTX0, &wrap)) != 0)
		return err;
	if (der_len(&ci) != 0)
		return SMIME_ERR_DER;
	if ((err = der_expect(&wrap, T_SEQ, &aed)) != 0)
		return err;
	if (der_len(&wrap) != 0)
		return SMIME_ERR_DER;

	/* version */
	if ((err = der_expect(&aed, T_INTEGER, &v)) != 0)
		return err;
	if (small_int(&v, &err) != 0)
		return err ? err : SMIME_ERR_UNSUPPORTED;
	if (der_peek(&aed) == T_CTX0)
		return SMIME_ERR_UNSUPPORTED;	/* originatorInfo */

	/* recipientInfos */
	if ((err = der_get(&aed, &t, &set, &tlv)) != 0)
		return err;
	if (t != T_SET)
		return SMIME_ERR_DER;
	info->ri_off = (size_t)(tlv - buf);
	info->ri_len = (size_t)(set.end - tlv);
	while (der_peek(&set) >= 0) {
		if (info->nri == SMIME_MAX_RECIPIENTS)
			return SMIME_ERR_UNSUPPORTED;
		if ((err = der_get(&set, &t, &ri, NULL)) != 0)
			return err;
		switch (t) {
		case T_CTX2:
			err = check_kekri(&ri, &ek_len[info->nkekri]);
			if (err != 0)
				return err;
			info->nkekri++;
			break;
		case T_SEQ:	/* ktri */
		case T_CTX1:	/* kari */
		case T_CTX3:	/* pwri */
		case T_CTX4:	/* ori */
			break;
		default:
			return SMIME_ERR_DER;
		}
		info->nri++;
	}
	if (info->nri == 0)
		return SMIME_ERR_DER;		/* SET SIZE (1..MAX) */

	/* authEncryptedContentInfo */
	if ((err = der_get(&aed, &t, &eci, &tlv)) != 0)
		return err;
	if (t != T_SEQ)
		return SMIME_ERR_DER;
	info->eci_off = (size_t)(tlv - buf);
	info->eci_len = (size_t)(eci.end - tlv);
	if ((err = check_eci(&eci, info, &icvlen)) != 0)
		return err;
	cek = info->cipher == SMIME_AES_256_GCM ? 32 : 16;
	for (i = 0; i < info->nkekri; i++)
		if (ek_len[i] != cek + 8)	/* RFC 3394: n + 1 blocks */
			return SMIME_ERR_UNSUPPORTED;

	if (der_peek(&aed) == T_CTX1)
		return SMIME_ERR_UNSUPPORTED;	/* authAttrs */
	if ((err = der_get(&aed, &t, &v, &tlv)) != 0)
		return err;
	if (t != T_OCTETS)
		return SMIME_ERR_DER;
	if (der_len(&v) != (size_t)icvlen)
		return SMIME_ERR_UNSUPPORTED;
	info->mac_off = (size_t)(tlv - buf);
	info->mac_len = (size_t)(v.end - tlv);
	if (der_peek(&aed) == T_CTX2)
		return SMIME_ERR_UNSUPPORTED;	/* unauthAttrs */
	if (der_len(&aed) != 0)
		return SMIME_ERR_DER;
	return 0;
}
