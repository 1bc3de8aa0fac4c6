/*
 * smime/smime.h - S/MIME for SIP MESSAGE bodies: CPIM, SignedData and
 * AuthEnvelopedData with KEK recipients (public API)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	One protected body is, from the outside in (spec/smime-sip.md 6.1):
 *
 *	  AuthEnvelopedData (RFC 5083), AES-128-GCM or AES-256-GCM with a
 *	  fresh random CEK per message, one KEKRecipientInfo per KEK
 *	  (RFC 5652 6.2.3, id-aes128-wrap or id-aes256-wrap, RFC 3565)
 *	    -> optional "application/pkcs7-mime; smime-type=signed-data"
 *	       entity: opaque SignedData (RFC 5652 5), signingTime kept
 *	      -> "message/cpim" entity (RFC 3862): From, To, cc, DateTime
 *	        -> the user entity: Content-Type header + body octets
 *
 *	smime_protect() builds all of it, smime_unprotect() takes it apart,
 *	smime_open() takes apart an entity that is not enveloped (the inner
 *	layer of a list server's re-encryption), smime_rewrap() gives an
 *	envelope to other KEKs without touching its content or tag (list
 *	fan-out).  A key is only ever (key identifier bytes, key bytes): the
 *	library knows nothing of MIKEY, SIP or where keys come from.
 *
 *	The library is synchronous, does not log, never exits, and holds no
 *	state but GMime's global initialisation (smime_init()).  Functions
 *	return 0 or an SMIME_ERR_* code (smime_strerror()); the OpenSSL error
 *	queue is left as the caller had it.  Every input is bounded before it
 *	is parsed (max_body below).  Plaintext is decrypted into a private
 *	buffer and released only after the GCM tag verified; buffers of ours
 *	that held keys or plaintext are wiped when freed.  GMime objects never
 *	leave the library; the OpenSSL types below are only declared, so this
 *	header needs no OpenSSL include (they are the tags behind X509,
 *	EVP_PKEY, X509_STORE and STACK_OF(X509)).
 *
 *	Threads: every function may be called from any thread on distinct
 *	arguments once smime_init() returned (the entry points call it
 *	themselves).
 */
#ifndef SMIME_H
#define SMIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __GNUC__
#define SMIME_WUR __attribute__((warn_unused_result))
#else
#define SMIME_WUR
#endif

struct x509_st;			/* X509 */
struct evp_pkey_st;		/* EVP_PKEY */
struct x509_store_st;		/* X509_STORE */
struct stack_st_X509;		/* STACK_OF(X509) */

/* --------------------------------------------------------------------- */
/* Errors */

enum smime_err {
	SMIME_OK = 0,
	SMIME_ERR_BASE = 0x534d00,		/* "SM" */
	/* allocation failed */
	SMIME_ERR_NOMEM = SMIME_ERR_BASE,
	SMIME_ERR_INVAL,	/* caller passed an invalid argument */
	SMIME_ERR_CRYPTO,	/* libcrypto failed, not for the input */
	SMIME_ERR_TOO_BIG,	/* input over the configured maximum */
	SMIME_ERR_CONTENT_TYPE,	/* Content-Type not acceptable here */
	SMIME_ERR_DER,		/* CMS: not DER, truncated, trailing */
	/* the CMS content type is not AuthEnvelopedData */
	SMIME_ERR_NOT_AUTH_ENVELOPED,
	SMIME_ERR_UNSUPPORTED,	/* version, algorithm, field: profile */
	SMIME_ERR_UNKNOWN_KEY,	/* no KEK recipient with a known id */
	SMIME_ERR_UNWRAP,	/* AES key unwrap failed: wrong KEK */
	SMIME_ERR_TAG,		/* GCM tag did not verify */
	SMIME_ERR_MIME,		/* malformed MIME entity */
	SMIME_ERR_CPIM,		/* malformed message/cpim */
	SMIME_ERR_SIGNED_DATA,	/* malformed or unsupported SignedData */
	SMIME_ERR_BAD_SIGNATURE,	/* signature does not verify */
	SMIME_ERR_UNTRUSTED,	/* signer certificate missing/untrusted */
	SMIME_ERR_UNSIGNED,	/* not signed, the caller requires it */
	SMIME_ERR_IDENTITY,	/* identities differ (message returned) */
	SMIME_ERR_LAST
};

/* smime_strerror - stable text for an SMIME_ERR_* code (never NULL) */
const char *smime_strerror(int err);

/* --------------------------------------------------------------------- */
/* Limits and constants */

#define SMIME_DEFAULT_MAX_BODY	65536	/* max_body when 0 is given */
#define SMIME_MAX_MAX_BODY	(16 * 1024 * 1024)	/* larger is clamped */
#define SMIME_OVERHEAD		16384	/* what layers may add to max_body */
#define SMIME_MAX_KEY_ID	64	/* bytes of a keyIdentifier */
#define SMIME_MAX_KEK		32	/* bytes of a KEK (16 or 32) */
#define SMIME_MAX_RECIPIENTS	32	/* RecipientInfos in one envelope */
#define SMIME_MAX_ADDRS		32	/* CPIM To and cc headers, each */
#define SMIME_MAX_URI		512	/* bytes of one URI */
#define SMIME_MAX_CTYPE		512	/* bytes of a Content-Type value */
#define SMIME_MAX_SIGNER_URIS	8	/* subjectAltName URIs reported */

/* The Content-Type of what smime_protect() writes (RFC 8551 3.2.2). */
#define SMIME_CT_AUTH_ENVELOPED	\
	"application/pkcs7-mime; smime-type=authEnveloped-data"
/* The Content-Type of the signed layer inside it. */
#define SMIME_CT_SIGNED	\
	"application/pkcs7-mime; smime-type=signed-data; name=smime.p7m"
#define SMIME_CT_CPIM		"message/cpim"

/*
 * smime_init - initialise GMime and the shared parser options once
 *	(g_once: thread-safe and idempotent).  Every entry point calls it, so
 *	calling it is optional, but a threaded program should call it in main
 *	before it starts threads: GLib is not built for ThreadSanitizer, which
 *	cannot see g_once's ordering and reports false races otherwise (with
 *	it called first, a 4-thread run is clean).  There is no shutdown:
 *	GMime stays initialised until exit (its globals stay reachable, so
 *	LeakSanitizer does not report them).
 */
void smime_init(void);

/* --------------------------------------------------------------------- */
/* Content-Type classification (for the SIP layer and for nesting) */

enum smime_ctype {
	SMIME_CTYPE_OTHER = 0,	/* anything not below */
	SMIME_CTYPE_AUTH_ENVELOPED,	/* pkcs7-mime; smime-type=
					 * authEnveloped-data or
					 * auth-enveloped-data (RFC 8591 4.2) */
	SMIME_CTYPE_PKCS7,	/* pkcs7-mime with enveloped-data or no
				 * smime-type: the CMS OID decides */
	SMIME_CTYPE_SIGNED,	/* pkcs7-mime; smime-type=signed-data */
	SMIME_CTYPE_PKCS7_OTHER,	/* certs-only, compressed-data, ... */
	SMIME_CTYPE_CPIM	/* message/cpim */
};

/*
 * smime_content_type_class - classify a Content-Type value (a SIP header
 *	value or a MIME header value, without the "Content-Type:" name).
 *	application/x-pkcs7-mime counts as application/pkcs7-mime; smime-type
 *	values compare case-insensitively.  SMIME_ERR_CONTENT_TYPE if ct is
 *	not a syntactically valid type/subtype with parameters.
 */
SMIME_WUR int smime_content_type_class(const char *ct,
    enum smime_ctype *class_out);

/*
 * smime_uri_equal - 1 if two identity URIs name the same AoR, else 0.
 *	The scheme compares case-insensitively; sip and sips never match.
 *	For sip/sips: the user part compares exactly, host[:port]
 *	case-insensitively, and URI parameters and headers are ignored (an
 *	AoR carries none; RFC 3261 19.1.4 is the model, simplified).  Other
 *	schemes (im:, pres:, tel:, ...) compare exactly after the scheme.
 */
int smime_uri_equal(const char *a, const char *b);

/* --------------------------------------------------------------------- */
/* Protect */

enum smime_cipher {
	SMIME_AES_128_GCM = 0,	/* id-aes128-GCM, RFC 8591 4.2 MUST */
	SMIME_AES_256_GCM = 1	/* id-aes256-GCM, RFC 8551 2.7 */
};

/* A key-encryption key and its keyIdentifier (RFC 5652 6.2.3). */
struct smime_kek {
	const uint8_t	*id;		/* 1..SMIME_MAX_KEY_ID bytes */
	size_t		 id_len;
	const uint8_t	*key;		/* 16 bytes: id-aes128-wrap,
					 * 32 bytes: id-aes256-wrap */
	size_t		 key_len;
};

/* A signing credential; all borrowed (references are not taken). */
struct smime_signer {
	struct x509_st		*cert;	/* with SAN URI(s) of the sender */
	struct evp_pkey_st	*key;	/* ECDSA P-256 recommended; SHA-256 */
	struct stack_st_X509	*chain;	/* NULL, or intermediates to include */
	int			 no_certs;	/* leave the signer certificate
						 * out (CMS_NOCERTS, RFC 8591
						 * 7.1) */
};

struct smime_protect_args {
	/* CPIM metadata (RFC 3862 4): URIs without the angle brackets */
	const char		*from;		/* sender AoR */
	const char *const	*to;		/* 1..SMIME_MAX_ADDRS */
	size_t			 nto;
	const char *const	*cc;		/* 0..SMIME_MAX_ADDRS */
	size_t			 ncc;
	int64_t			 datetime;	/* Unix seconds UTC; 0 = now;
						 * also the signingTime */
	/* the user entity: written as "Content-Type: <ct>" CRLF CRLF body */
	const char		*content_type;	/* e.g. "text/plain;
						 * charset=utf-8" */
	const uint8_t		*body;		/* any octets, kept as is */
	size_t			 body_len;
	/* signature: NULL for none */
	const struct smime_signer *signer;
	/* envelope */
	enum smime_cipher	 cipher;
	const struct smime_kek	*keks;		/* 1..SMIME_MAX_RECIPIENTS */
	size_t			 nkeks;
	size_t			 max_body;	/* 0: SMIME_DEFAULT_MAX_BODY */
};

/*
 * smime_protect - CPIM, optional SignedData, AuthEnvelopedData, DER.
 *	The result's Content-Type is SMIME_CT_AUTH_ENVELOPED.  *der_out is
 *	malloc'd (caller frees with free()); it holds only ciphertext.
 *	To wrap an already protected entity (list-server re-encryption,
 *	RFC 3862 6), pass its Content-Type and octets as content_type/body.
 *	SMIME_ERR_TOO_BIG if body_len > max_body; SMIME_ERR_INVAL for bad
 *	URIs, a bad Content-Type, bad key or key id lengths, a key that does
 *	not match the certificate.
 */
SMIME_WUR int smime_protect(const struct smime_protect_args *a,
    uint8_t **der_out, size_t *der_len_out);

/* --------------------------------------------------------------------- */
/* Unprotect */

/*
 * The KEK lookup: given the keyIdentifier of a KEK recipient, write the
 * KEK (16 or 32 bytes) into kek and its length into *kek_len_out and
 * return 0; return anything else for "unknown id".  Called once per KEK
 * recipient in the envelope's order until one unwraps.  The library wipes
 * kek after use.
 */
typedef int (*smime_kek_cb)(void *arg, const uint8_t *id, size_t id_len,
    uint8_t kek[SMIME_MAX_KEK], size_t *kek_len_out);

struct smime_verify_opts {
	/* trust anchors for signer certificates (purpose S/MIME signing);
	 * NULL: any signed entity fails with SMIME_ERR_UNTRUSTED */
	struct x509_store_st	*trust;
	/* NULL, or untrusted certificates (the signer's when it was sent
	 * without, intermediates) */
	struct stack_st_X509	*certs;
	int			 allow_unsigned;	/* accept a CPIM entity
							 * that is not signed */
	/* NULL, or the AoR the sender must be (the MIKEY IDRi, the SIP From):
	 * the CPIM From and the signer's SAN URI are compared with it */
	const char		*expected_sender;
	size_t			 max_body;	/* 0: SMIME_DEFAULT_MAX_BODY */
};

/* Identity checks that failed (struct smime_msg.mismatch). */
#define SMIME_MISMATCH_SIGNER_FROM	0x01	/* signed, and no SAN URI of the
						 * signer is the CPIM From */
#define SMIME_MISMATCH_FROM		0x02	/* CPIM From is not the
						 * expected sender */
#define SMIME_MISMATCH_SIGNER		0x04	/* signed, and no SAN URI is
						 * the expected sender */

/*
 * An opened message.  Every pointer is owned by the structure; all strings
 * are NUL-terminated UTF-8; byte fields have a length.  Read-only for the
 * caller; smime_msg_free() wipes and frees it.
 */
struct smime_msg {
	/* envelope (smime_unprotect only) */
	uint8_t		*kek_id;	/* keyIdentifier that opened it */
	size_t		 kek_id_len;
	enum smime_cipher cipher;
	/* the entity inside the envelope (smime_unprotect only): the
	 * signed-data or message/cpim entity, for re-encryption */
	char		*entity_type;	/* its Content-Type value */
	uint8_t		*entity_body;	/* its body, transfer coding removed */
	size_t		 entity_body_len;
	/* signature */
	int		 is_signed;	/* SignedData verified and trusted */
	char		*signer_uris[SMIME_MAX_SIGNER_URIS];	/* SAN URIs */
	size_t		 nsigner_uris;
	int64_t		 signing_time;	/* Unix seconds, -1 if absent */
	/* the identity the signature proves: the SAN URI equal to the CPIM
	 * From if there is one, else the first SAN URI; NULL if unsigned.
	 * When it differs from From, this is what the user is shown
	 * (design.md 3, inbound step 4). */
	char		*verified_sender;
	/* CPIM (RFC 3862 4) */
	char		*from;		/* URI */
	char		*from_name;	/* formal name, or NULL */
	char		*to[SMIME_MAX_ADDRS];
	size_t		 nto;
	char		*cc[SMIME_MAX_ADDRS];
	size_t		 ncc;
	int64_t		 datetime;	/* Unix seconds UTC */
	/* the user entity */
	char		*content_type;
	uint8_t		*body;		/* transfer coding removed */
	size_t		 body_len;
	unsigned	 mismatch;	/* SMIME_MISMATCH_* */
};

/*
 * smime_unprotect - open a DER AuthEnvelopedData.
 *	content_type: NULL, or the Content-Type it came with; if given it must
 *	classify as SMIME_CTYPE_AUTH_ENVELOPED or SMIME_CTYPE_PKCS7, the CMS
 *	content type decides (plain EnvelopedData is refused).
 *	Steps and their errors, in order: size (TOO_BIG), DER profile (DER,
 *	NOT_AUTH_ENVELOPED, UNSUPPORTED), key lookup (UNKNOWN_KEY), unwrap
 *	(UNWRAP), tag (TAG), the entity inside (MIME, CONTENT_TYPE), then as
 *	smime_open().  No plaintext is released before the tag verified.
 *
 *	*msg_out is written on success and, as the one exception to the house
 *	rule, on SMIME_ERR_IDENTITY: the message verified, but the identities
 *	differ (msg->mismatch says which); the caller frees it in both cases
 *	and shows msg->verified_sender when it is set.
 */
SMIME_WUR int smime_unprotect(const uint8_t *der, size_t der_len,
    const char *content_type, smime_kek_cb cb, void *cb_arg,
    const struct smime_verify_opts *opts, struct smime_msg **msg_out);

/*
 * smime_open - open an entity given as its Content-Type and body:
 *	signed-data (verify: SIGNED_DATA, BAD_SIGNATURE, UNTRUSTED; the
 *	content must be message/cpim) or message/cpim (UNSIGNED unless
 *	allow_unsigned); then the CPIM headers (CPIM) and the user entity
 *	(MIME); then the identities (IDENTITY, *msg_out written as for
 *	smime_unprotect).  Anything else: CONTENT_TYPE.  This is how the
 *	inner layer of a re-encrypted message is opened.
 */
SMIME_WUR int smime_open(const char *content_type, const uint8_t *body,
    size_t body_len, const struct smime_verify_opts *opts,
    struct smime_msg **msg_out);

/* smime_msg_free - wipe and free an opened message; NULL is a no-op */
void smime_msg_free(struct smime_msg *msg);

/* --------------------------------------------------------------------- */
/* Re-wrap (list fan-out without re-encryption) */

/*
 * smime_rewrap - give an AuthEnvelopedData to other KEKs.
 *	The CEK is unwrapped with the KEK that cb returns (errors as
 *	smime_unprotect), the tag is verified (TAG; the plaintext goes to a
 *	private buffer that is wiped), the CEK is wrapped under each of keks,
 *	and every old RecipientInfo is removed.  The encrypted content, nonce
 *	and tag are unchanged.  *der_out is malloc'd (free()).
 */
SMIME_WUR int smime_rewrap(const uint8_t *der, size_t der_len,
    smime_kek_cb cb, void *cb_arg, const struct smime_kek *keks,
    size_t nkeks, size_t max_body, uint8_t **der_out, size_t *der_len_out);

/* --------------------------------------------------------------------- */
/* multipart/mixed for a SIP body (smime_multipart.c; spec/smime-sip.md
 * 2.3, 6.1, 6.2): part 1 application/mikey, part 2 the envelope.
 *
 * A small strict codec of RFC 2046 5.1 written for this one shape, without
 * GMime: CRLF line ends, binary parts (Content-Transfer-Encoding binary,
 * 7bit, 8bit or none), no nesting.  The bytes of a part are never changed
 * (design.md 7: a stored body is re-sent verbatim). */

#define SMIME_MP_MAX_BOUNDARY	70	/* RFC 2046 5.1.1 */
#define SMIME_MP_MAX_PARTS	8	/* parts looked at before giving up */
#define SMIME_CT_MIKEY		"application/mikey"
/* The Content-Disposition values of spec/smime-sip.md 6.2. */
#define SMIME_DISP_MIKEY	"attachment; handling=required"
#define SMIME_DISP_P7M	\
	"attachment; filename=smime.p7m; handling=required"

/* One part to write; every pointer is borrowed. */
struct smime_mp_in {
	const char	*content_type;	/* value: printable ASCII, no CR/LF */
	const char	*disposition;	/* Content-Disposition value or NULL */
	const uint8_t	*body;		/* any octets (binary) */
	size_t		 len;
};

/*
 * smime_multipart_build - a multipart/mixed body of n (1..SMIME_MP_MAX_
 *	PARTS) parts: "--B" CRLF, the part's headers (Content-Type,
 *	Content-Transfer-Encoding: binary, Content-Disposition), CRLF, its
 *	octets, CRLF; then "--B--" CRLF.  boundary: NULL for a random one
 *	(RAND_bytes), else 1..70 characters of [A-Za-z0-9'()+_,-./:=?]
 *	(SMIME_ERR_INVAL if it occurs in a part).  *out is malloc'd
 *	(free()), *ct_out is the Content-Type value with the boundary
 *	("multipart/mixed; boundary=\"B\"", malloc'd, free()).  The result
 *	must fit max_len bytes (0: SMIME_DEFAULT_MAX_BODY + SMIME_OVERHEAD),
 *	else SMIME_ERR_TOO_BIG.
 */
SMIME_WUR int smime_multipart_build(const struct smime_mp_in *parts,
    size_t n, const char *boundary, size_t max_len, uint8_t **out,
    size_t *out_len, char **ct_out);

/* A part found by smime_multipart_parse. */
struct smime_mp_part {
	char		 content_type[SMIME_MAX_CTYPE + 1];	/* unfolded */
	const uint8_t	*body;		/* alias into the parsed buffer */
	size_t		 len;
};

/* The two parts of a protected SIP body. */
struct smime_mp_body {
	struct smime_mp_part mikey;	/* application/mikey */
	struct smime_mp_part cms;	/* application/(x-)pkcs7-mime */
};

/*
 * smime_multipart_parse - split a protected SIP body.  content_type is
 *	the SIP Content-Type value: multipart/mixed with a boundary
 *	(SMIME_ERR_CONTENT_TYPE for another type, SMIME_ERR_MIME without a
 *	usable boundary).  The body must hold exactly one application/mikey
 *	part and exactly one application/pkcs7-mime part, in any order, and
 *	nothing else (SMIME_ERR_CONTENT_TYPE: spec/smime-sip.md 6.3 step 3,
 *	a 415); a transfer coding other than binary/7bit/8bit, a header
 *	block that is not US-ASCII with CRLF line ends, a missing close
 *	delimiter or anything after it but one CRLF is SMIME_ERR_MIME.  len
 *	above max_len (0: SMIME_DEFAULT_MAX_BODY + SMIME_OVERHEAD) is
 *	SMIME_ERR_TOO_BIG, checked first.  The parts alias body: keep it
 *	alive while out is used.  out is written only on success.
 */
SMIME_WUR int smime_multipart_parse(const char *content_type,
    const uint8_t *body, size_t len, size_t max_len,
    struct smime_mp_body *out);

#endif /* SMIME_H */
