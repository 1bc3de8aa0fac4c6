/*
 * smime/smime-int.h - internals shared by the files of smime/
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * Layers and files:
 *	smime.c		entry points, identity check, errors, buffers
 *	smime_cms.c	AuthEnvelopedData: envelope, open, re-wrap
 *	smime_der.c	strict DER profile check of an AuthEnvelopedData
 *	smime_sign.c	SignedData: sign, verify, SAN URIs (libcrypto)
 *	smime_mime.c	MIME entities and Content-Type values (GMime)
 *	smime_cpim.c	message/cpim headers, RFC 3339 time, URI compare
 */
#ifndef SMIME_INT_H
#define SMIME_INT_H

#include <stddef.h>
#include <stdint.h>

#include "smime/smime.h"

#define SMIME_CPIM_MAX_LINE	1000	/* octets of a CPIM header line,
					 * CRLF included */
#define SMIME_CPIM_MAX_HEADERS	64	/* lines of a CPIM header block */
#define SMIME_MIME_MAX_HEADERS	8192	/* octets: MIME header block */

/* --------------------------------------------------------------------- */
/* sbuf: a growable byte buffer with a hard maximum and a sticky error
 * (curl's dynbuf, krb5's k5buf).  Its memory is wiped when it is freed or
 * grown, so it may hold plaintext. */

struct sbuf {
	uint8_t	*p;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
	int	 err;		/* 0, SMIME_ERR_NOMEM, SMIME_ERR_TOO_BIG */
};

void	sbuf_init(struct sbuf *b, size_t max);
int	sbuf_reserve(struct sbuf *b, size_t n);
void	sbuf_add(struct sbuf *b, const void *p, size_t n);
void	sbuf_adds(struct sbuf *b, const char *s);
void	sbuf_wipe(struct sbuf *b);
/* sbuf_take - hand the bytes out as a malloc'd buffer (at least 1 byte,
 * NUL-terminated after len); the sbuf is left empty */
uint8_t	*sbuf_take(struct sbuf *b, size_t *len_out);

/* smime_clear_free - wipe n bytes at p and free(p); NULL is a no-op */
void	smime_clear_free(void *p, size_t n);
/* smime_strndup - a NUL-terminated malloc'd copy of n bytes, or NULL */
char	*smime_strndup(const void *p, size_t n);

/* smime_max_body - max_body with 0 meaning the default, clamped so that
 * max_body + SMIME_OVERHEAD neither overflows nor exceeds INT_MAX */
static inline size_t
smime_max_body(size_t max_body)
{
	if (max_body == 0)
		return SMIME_DEFAULT_MAX_BODY;
	return max_body > SMIME_MAX_MAX_BODY ? SMIME_MAX_MAX_BODY : max_body;
}

/* --------------------------------------------------------------------- */
/* smime_der.c */

/* What the DER profile check found in an AuthEnvelopedData. */
struct smime_aed_info {
	enum smime_cipher cipher;
	size_t		 nri;		/* RecipientInfos */
	size_t		 nkekri;	/* of which KEKRecipientInfos */
	size_t		 ri_off;	/* the RecipientInfos SET (TLV) */
	size_t		 ri_len;
	size_t		 eci_off;	/* authEncryptedContentInfo TLV */
	size_t		 eci_len;
	size_t		 mac_off;	/* mac OCTET STRING (TLV) */
	size_t		 mac_len;
	size_t		 content_len;	/* encryptedContent octets */
};

/*
 * smime_der_check - check buf is exactly one DER ContentInfo holding an
 *	AuthEnvelopedData inside imgate's profile (smime_der.c header).
 */
int	smime_der_check(const uint8_t *buf, size_t len,
	    struct smime_aed_info *info);

/* --------------------------------------------------------------------- */
/* smime_cms.c */

/* smime_envelope - AuthEnvelopedData over pt for keks; DER via der_out
 * (malloc'd) */
int	smime_envelope(const uint8_t *pt, size_t pt_len,
	    enum smime_cipher cipher, const struct smime_kek *keks,
	    size_t nkeks, uint8_t **der_out, size_t *der_len_out);

/*
 * smime_envelope_open - unwrap and decrypt.  On success the plaintext is
 *	in pt (an sbuf with max max_pt) and, if msg is not NULL, msg->kek_id
 *	and msg->cipher are set.  On failure pt is wiped and empty.
 */
int	smime_envelope_open(const uint8_t *der, size_t der_len,
	    smime_kek_cb cb, void *cb_arg, size_t max_pt, struct sbuf *pt,
	    struct smime_msg *msg);

/* --------------------------------------------------------------------- */
/* smime_sign.c */

/* smime_sign - opaque SignedData over in (time t as signingTime) into out */
int	smime_sign(const struct smime_signer *s, int64_t t,
	    const uint8_t *in, size_t in_len, struct sbuf *out);

/*
 * smime_verify - verify a DER SignedData against opts; the signed content
 *	goes to content, the SAN URIs and signingTime to msg.
 */
int	smime_verify(const uint8_t *der, size_t der_len,
	    const struct smime_verify_opts *opts, struct sbuf *content,
	    struct smime_msg *msg);

/* --------------------------------------------------------------------- */
/* smime_mime.c */

/*
 * smime_entity_parse - parse one MIME entity with GMime.  It must have a
 *	Content-Type header and nothing GMime warns about.  *ct_out gets the
 *	Content-Type value (malloc'd), *class_out (if not NULL) its class,
 *	body the body with any transfer coding
 *	removed (leaf parts) or the raw octets after the header block
 *	(multipart and message types); body's own maximum bounds it
 *	(SMIME_ERR_TOO_BIG), len must not exceed max_body + SMIME_OVERHEAD.
 */
int	smime_entity_parse(const uint8_t *buf, size_t len, size_t max_body,
	    char **ct_out, enum smime_ctype *class_out, struct sbuf *body);

/* smime_known_off - for t_smime only: when set, smime_entity_parse gives
 * the header blocks of our own layers to GMime as well (not thread-safe) */
extern int smime_known_off;

/* smime_ctype_check - 0 if ct is a value smime_protect may write */
int	smime_ctype_check(const char *ct);

/* --------------------------------------------------------------------- */
/* smime_cpim.c */

/* smime_uri_check - 0 if u may go between < and > in a CPIM header */
int	smime_uri_check(const char *u);

/* smime_cpim_build - "Content-Type: message/cpim" entity of a (the user
 * entity included) into out */
int	smime_cpim_build(const struct smime_protect_args *a, int64_t t,
	    struct sbuf *out);

/*
 * smime_cpim_parse - parse the body of a message/cpim entity: its headers
 *	into msg (from, from_name, to, cc, datetime), then the encapsulated
 *	entity into msg->content_type and msg->body.
 */
int	smime_cpim_parse(const uint8_t *buf, size_t len, size_t max_body,
	    struct smime_msg *msg);

/* smime_rfc3339_format - "YYYY-MM-DDTHH:MM:SSZ" (buf of >= 21 bytes) */
int	smime_rfc3339_format(int64_t t, char *buf, size_t len);
/* smime_rfc3339_parse - an RFC 3339 date-time to Unix seconds */
int	smime_rfc3339_parse(const char *s, size_t len, int64_t *t_out);
/* smime_days_from_civil - days since 1970-01-01 of a proleptic date */
int64_t	smime_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif /* SMIME_INT_H */
