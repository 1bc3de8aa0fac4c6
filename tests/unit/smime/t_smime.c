/*
 * tests/unit/smime/t_smime.c - smime/: round trips, tampering, malformed
 * input, identities, signatures, re-wrap, re-encryption nesting (TAP)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	Certificates (an EC P-256 CA, leaves with SAN URIs) are made here at
 *	run time with libcrypto; nothing with a private key is committed.
 *	Entities that smime_protect would never write (malformed MIME and
 *	CPIM, plain EnvelopedData, tampered SignedData) are enveloped with
 *	libcrypto directly (env_raw), so the parser sees them only after the
 *	tag verified, exactly as a hostile but key-holding sender would send
 *	them.  Every failure must leave *msg_out untouched: no plaintext is
 *	released.  The internal header is used for the DER profile check, to
 *	show that a re-wrap leaves content, nonce and tag byte-identical.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "smime/smime.h"
#include "smime/smime-int.h"
#include "tests/tap.h"

#define T0	1795080600LL	/* 2026-11-19T09:30:00Z */
#define ALICE	"sip:alice@example.com"
#define BOB	"sip:bob@example.org"
#define CAROL	"sip:carol@example.org"
#define LIST	"sip:team@lists.example.org"

/* --------------------------------------------------------------------- */
/* keys and the lookup callback */

struct key {
	const char	*id;
	uint8_t		 k[32];
	size_t		 len;
};

static struct key k1 = { "csb-1", { 0 }, 16 }, k2 = { "csb-2", { 0 }, 16 },
    k3 = { "csb-3", { 0 }, 32 }, kbad = { "csb-1", { 0 }, 16 };

/* A keyring: the callback answers for these keys only. */
struct ring {
	const struct key *k[4];
	size_t		 n;
	int		 calls;
};

static int
lookup(void *arg, const uint8_t *id, size_t id_len, uint8_t *kek,
    size_t *kek_len)
{
	struct ring *r = arg;
	size_t i;

	r->calls++;
	for (i = 0; i < r->n; i++)
		if (strlen(r->k[i]->id) == id_len &&
		    memcmp(r->k[i]->id, id, id_len) == 0) {
			memcpy(kek, r->k[i]->k, r->k[i]->len);
			*kek_len = r->k[i]->len;
			return 0;
		}
	return 1;
}

static struct smime_kek
kek_of(const struct key *k)
{
	struct smime_kek s;

	s.id = (const uint8_t *)k->id;
	s.id_len = strlen(k->id);
	s.key = k->k;
	s.key_len = k->len;
	return s;
}

/* --------------------------------------------------------------------- */
/* certificates */

struct cred {
	X509		*cert;
	EVP_PKEY	*key;
};

static struct cred ca, ca2, alice, alice_eku, listc;

/* mkcert - a certificate for key, signed by issuer (self if NULL) */
static X509 *
mkcert(EVP_PKEY *key, const struct cred *issuer, const char *cn,
    const char *const *ext)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	X509_NAME *n;
	X509 *x;
	static long serial = 1;
	size_t i;

	x = X509_new();
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert) :
	    n);
	X509V3_set_ctx(&ctx, issuer ? issuer->cert : x, x, NULL, NULL, 0);
	for (i = 0; ext[i] != NULL; i += 2) {
		e = X509V3_EXT_nconf(NULL, &ctx, ext[i], ext[i + 1]);
		if (e == NULL || !X509_add_ext(x, e, -1))
			abort();
		X509_EXTENSION_free(e);
	}
	if (!X509_sign(x, issuer ? issuer->key : key, EVP_sha256()))
		abort();
	return x;
}

static void
mkcred(struct cred *c, const struct cred *issuer, const char *cn,
    const char *const *ext)
{
	if ((c->key = EVP_EC_gen("P-256")) == NULL)
		abort();
	c->cert = mkcert(c->key, issuer, cn, ext);
}

static const char *const ca_ext[] = { "basicConstraints", "critical,CA:TRUE",
    "keyUsage", "critical,keyCertSign,cRLSign", NULL };
static const char *const alice_ext[] = { "basicConstraints", "CA:FALSE",
    "keyUsage", "critical,digitalSignature", "subjectAltName",
    "URI:sip:alice@example.com,URI:im:alice@example.com", NULL };
static const char *const alice_eku_ext[] = { "subjectAltName",
    "URI:sip:alice@example.com", "extendedKeyUsage", "serverAuth", NULL };
static const char *const list_ext[] = { "subjectAltName",
    "URI:sip:team@lists.example.org", NULL };

static X509_STORE *
store_of(const struct cred *c)
{
	X509_STORE *s = X509_STORE_new();

	X509_STORE_add_cert(s, c->cert);
	return s;
}

/* --------------------------------------------------------------------- */
/* helpers */

/* prot - protect body for the keys; returns the error */
static int
prot(const char *from, const char *ct, const void *body, size_t len,
    const struct cred *signer, int no_certs, enum smime_cipher c,
    const struct key *const *keys, size_t nkeys, uint8_t **der,
    size_t *der_len)
{
	struct smime_protect_args a;
	struct smime_signer s;
	struct smime_kek kk[4];
	const char *to[] = { BOB };
	size_t i;

	memset(&a, 0, sizeof(a));
	for (i = 0; i < nkeys; i++)
		kk[i] = kek_of(keys[i]);
	a.from = from;
	a.to = to;
	a.nto = 1;
	a.datetime = T0;
	a.content_type = ct;
	a.body = body;
	a.body_len = len;
	if (signer != NULL) {
		s.cert = signer->cert;
		s.key = signer->key;
		s.chain = NULL;
		s.no_certs = no_certs;
		a.signer = &s;
	}
	a.cipher = c;
	a.keks = kk;
	a.nkeks = nkeys;
	return smime_protect(&a, der, der_len);
}

/* unprot - unprotect with a keyring; *msg stays NULL on failure */
static int
unprot(const uint8_t *der, size_t len, const struct key *k,
    const struct smime_verify_opts *o, struct smime_msg **msg)
{
	struct ring r = { { k }, 1, 0 };

	*msg = NULL;
	return smime_unprotect(der, len, NULL, lookup, &r, o, msg);
}

/* env_raw - AuthEnvelopedData (or EnvelopedData) of any plaintext */
static uint8_t *
env_raw(const void *pt, size_t len, const struct key *k,
    const EVP_CIPHER *c, size_t *der_len)
{
	CMS_ContentInfo *cms;
	unsigned char *der = NULL;
	BIO *in;
	int n;

	in = BIO_new_mem_buf(len ? pt : "", (int)len);
	cms = CMS_encrypt(NULL, in, c, CMS_PARTIAL | CMS_BINARY);
	if (cms == NULL || CMS_add0_recipient_key(cms, NID_undef,
	    OPENSSL_memdup(k->k, k->len), k->len,
	    (unsigned char *)OPENSSL_strdup(k->id), strlen(k->id), NULL, NULL,
	    NULL) == NULL || CMS_final(cms, in, NULL, CMS_BINARY) <= 0)
		abort();
	n = i2d_CMS_ContentInfo(cms, &der);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	*der_len = (size_t)n;
	return der;
}

/* unprot_raw - env_raw then unprotect (allow_unsigned) */
static int
unprot_raw(const char *entity, size_t len, struct smime_msg **msg)
{
	struct smime_verify_opts o = { .allow_unsigned = 1 };
	uint8_t *der;
	size_t dlen;
	int err;

	der = env_raw(entity, len, &k1, EVP_aes_128_gcm(), &dlen);
	err = unprot(der, dlen, &k1, &o, msg);
	OPENSSL_free(der);
	return err;
}

/* --------------------------------------------------------------------- */
/* round trips */

static uint8_t big[SMIME_DEFAULT_MAX_BODY + 1];
static uint8_t binary[600];

struct rt {
	const char	*name;
	const char	*ct;
	const uint8_t	*body;
	size_t		 len;
};

static void
test_roundtrips(void)
{
	static const char utf8[] = "Gr\xc3\xbc\xc3\x9f" "e aus "
	    "\xe6\x9d\xb1\xe4\xba\xac \xe2\x9c\x93\r\nzweite Zeile\n"
	    "\xf0\x9f\x98\x80";
	const struct rt cases[] = {
		{ "text/plain UTF-8", "text/plain; charset=utf-8",
		    (const uint8_t *)utf8, sizeof(utf8) - 1 },
		{ "binary", "application/octet-stream", binary,
		    sizeof(binary) },
		{ "0-byte", "text/plain", (const uint8_t *)"", 0 },
		{ "64 KiB", "application/octet-stream", big,
		    SMIME_DEFAULT_MAX_BODY },
	};
	const struct key *keys1[] = { &k1 }, *keys3[] = { &k3 };
	struct smime_verify_opts o;
	struct smime_msg *m;
	uint8_t *der;
	size_t i, dlen;
	int sign, c, err;
	char what[128];

	memset(&o, 0, sizeof(o));
	o.trust = store_of(&ca);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	for (sign = 0; sign < 2; sign++)
	for (c = 0; c < 2; c++) {
		snprintf(what, sizeof(what), "%s, %s, %s", cases[i].name,
		    sign ? "signed" : "unsigned", c ? "AES-256-GCM (32-byte "
		    "KEK)" : "AES-128-GCM");
		err = prot(ALICE, cases[i].ct, cases[i].body, cases[i].len,
		    sign ? &alice : NULL, 0, c ? SMIME_AES_256_GCM :
		    SMIME_AES_128_GCM, c ? keys3 : keys1, 1, &der, &dlen);
		is_int(err, 0, "protect: %s", what);
		if (err != 0)
			continue;
		o.allow_unsigned = !sign;
		err = unprot(der, dlen, c ? &k3 : &k1, &o, &m);
		is_int(err, 0, "unprotect: %s", what);
		if (err == 0) {
			is_mem(m->body, m->body_len, cases[i].body,
			    cases[i].len, "body octets kept: %s", what);
			ok(strcmp(m->content_type, cases[i].ct) == 0 &&
			    strcmp(m->from, ALICE) == 0 && m->nto == 1 &&
			    strcmp(m->to[0], BOB) == 0 && m->ncc == 0 &&
			    m->datetime == T0 && m->from_name == NULL,
			    "CPIM From, To, DateTime, Content-Type: %s", what);
			ok(m->is_signed == sign && m->cipher == (enum
			    smime_cipher)c && m->kek_id_len == 5 &&
			    memcmp(m->kek_id, c ? "csb-3" : "csb-1", 5) == 0,
			    "signed, cipher and key id reported: %s", what);
			if (sign)
				ok(m->nsigner_uris == 2 &&
				    strcmp(m->signer_uris[0], ALICE) == 0 &&
				    strcmp(m->verified_sender, ALICE) == 0 &&
				    m->signing_time == T0 && m->mismatch == 0 &&
				    strcmp(m->entity_type, SMIME_CT_SIGNED) ==
				    0, "signer SAN URIs, signingTime: %s",
				    what);
		}
		smime_msg_free(m);
		free(der);
	}
	err = prot(ALICE, "application/octet-stream", big, sizeof(big), NULL,
	    0, 0, keys1, 1, &der, &dlen);
	is_int(err, SMIME_ERR_TOO_BIG, "protect: 64 KiB + 1 is too big");
	X509_STORE_free(o.trust);
}

/* test_fresh - a fresh CEK and nonce for every message */
static void
test_fresh(void)
{
	const struct key *keys[] = { &k1 };
	struct smime_aed_info i1, i2;
	uint8_t *d1, *d2;
	size_t l1, l2;

	if (prot(ALICE, "text/plain", "same", 4, NULL, 0, 0, keys, 1, &d1,
	    &l1) || prot(ALICE, "text/plain", "same", 4, NULL, 0, 0, keys, 1,
	    &d2, &l2))
		abort();
	is_int(smime_der_check(d1, l1, &i1) | smime_der_check(d2, l2, &i2), 0,
	    "what we write passes the DER profile check");
	ok(l1 == l2 && memcmp(d1 + i1.eci_off, d2 + i2.eci_off,
	    i1.eci_len) != 0 && memcmp(d1 + i1.ri_off, d2 + i2.ri_off,
	    i1.ri_len) != 0, "same input twice: different nonce, content, "
	    "wrapped CEK");
	free(d1);
	free(d2);
}

/* test_addresses - several To, cc, and argument checks */
static void
test_addresses(void)
{
	struct smime_verify_opts o = { .allow_unsigned = 1 };
	struct smime_protect_args a;
	struct smime_kek kk = kek_of(&k1), bad = kk;
	struct smime_msg *m = NULL;
	const char *to[] = { BOB, CAROL }, *cc[] = { "sip:dave@example.org",
	    "tel:+15551234567" }, *badto[] = { "sip:bob @example.org" };
	uint8_t *der = NULL, kb[24] = { 0 };
	size_t dlen;
	int err;

	memset(&a, 0, sizeof(a));
	a.from = ALICE;
	a.to = to;
	a.nto = 2;
	a.cc = cc;
	a.ncc = 2;
	a.datetime = T0;
	a.content_type = "text/plain";
	a.body = (const uint8_t *)"hi";
	a.body_len = 2;
	a.keks = &kk;
	a.nkeks = 1;
	err = smime_protect(&a, &der, &dlen);
	is_int(err, 0, "protect: two To, two cc");
	err = unprot(der, dlen, &k1, &o, &m);
	ok(err == 0 && m->nto == 2 && m->ncc == 2 &&
	    strcmp(m->to[1], CAROL) == 0 &&
	    strcmp(m->cc[1], "tel:+15551234567") == 0,
	    "unprotect: To and cc lists in order");
	smime_msg_free(m);
	free(der);

#define BAD(what, stmt) do {						\
	struct smime_protect_args b_ = a;				\
	uint8_t *d_ = NULL;						\
	size_t l_ = 0;							\
	stmt;								\
	is_int(smime_protect(&b_, &d_, &l_), SMIME_ERR_INVAL,		\
	    "protect refuses %s", what);				\
	ok(d_ == NULL && l_ == 0, "nothing written for %s", what);	\
} while (0)
	BAD("a From with a space", b_.from = "sip:al ice@example.com");
	BAD("a From with '>'", b_.from = "sip:alice@example.com>");
	BAD("a From without scheme", b_.from = "alice@example.com");
	BAD("no To", b_.nto = 0);
	BAD("a To with a space", (b_.to = badto, b_.nto = 1));
	BAD("33 To", b_.nto = SMIME_MAX_ADDRS + 1);
	BAD("CRLF in the Content-Type",
	    b_.content_type = "text/plain\r\nX-Injected: 1");
	BAD("a Content-Type without subtype", b_.content_type = "text");
	BAD("no KEK", b_.nkeks = 0);
	BAD("a 24-byte KEK", (bad.key = kb, bad.key_len = 24, b_.keks = &bad));
	BAD("an empty key id", (bad = kk, bad.id_len = 0, b_.keks = &bad));
	BAD("a 65-byte key id", (bad = kk, bad.id_len = SMIME_MAX_KEY_ID + 1,
	    b_.keks = &bad));
#undef BAD
}

/* --------------------------------------------------------------------- */
/* keys */

static void
test_keys(void)
{
	const struct key *two[] = { &k1, &k2 }, *one[] = { &k1 };
	struct smime_verify_opts o = { .allow_unsigned = 1 };
	struct smime_msg *m;
	struct key k3as16 = k3;
	struct ring r = { { &k2 }, 1, 0 };
	uint8_t *der;
	size_t dlen;
	int err;

	if (prot(ALICE, "text/plain", "to two", 6, NULL, 0, 0, two, 2, &der,
	    &dlen))
		abort();
	err = unprot(der, dlen, &k2, &o, &m);
	ok(err == 0 && m->kek_id_len == 5 && memcmp(m->kek_id, "csb-2", 5) ==
	    0 && m->body_len == 6, "two recipients: the second KEK opens it");
	smime_msg_free(m);
	err = unprot(der, dlen, &k1, &o, &m);
	ok(err == 0 && memcmp(m->kek_id, "csb-1", 5) == 0,
	    "two recipients: the first KEK opens it");
	smime_msg_free(m);
	m = NULL;
	err = smime_unprotect(der, dlen, NULL, lookup, &r, &o, &m);
	ok(err == 0 && r.calls == 2, "the callback is asked per KEK recipient "
	    "until one opens");
	smime_msg_free(m);
	free(der);

	if (prot(ALICE, "text/plain", "secret", 6, NULL, 0, 0, one, 1, &der,
	    &dlen))
		abort();
	err = unprot(der, dlen, &kbad, &o, &m);
	is_int(err, SMIME_ERR_UNWRAP, "wrong KEK: unwrap failure");
	ok(m == NULL, "wrong KEK: nothing released");
	err = unprot(der, dlen, &k2, &o, &m);
	is_int(err, SMIME_ERR_UNKNOWN_KEY, "unknown key id");
	ok(m == NULL, "unknown key id: nothing released");
	k3as16.id = "csb-1";	/* a 32-byte KEK for an aes128-wrap */
	err = unprot(der, dlen, &k3as16, &o, &m);
	is_int(err, SMIME_ERR_UNWRAP, "KEK length does not fit the wrap "
	    "algorithm: unwrap failure");
	ok(ERR_peek_error() == 0, "libcrypto error queue left clean");
	free(der);
}

/* --------------------------------------------------------------------- */
/* tampering */

/* flip_all - every byte XOR mask: each must be refused, nothing released */
static void
flip_all(const char *what, const uint8_t *der, size_t len,
    const struct smime_verify_opts *o, uint8_t mask)
{
	struct smime_msg *m;
	uint8_t *b = malloc(len);
	size_t i, accepted = 0, released = 0, hist[SMIME_ERR_LAST -
	    SMIME_ERR_BASE] = { 0 };
	int err;

	for (i = 0; i < len; i++) {
		memcpy(b, der, len);
		b[i] ^= mask;
		err = unprot(b, len, &k1, o, &m);
		if (err == 0) {
			accepted++;
			diag(__FILE__, __LINE__, "accepted: byte %zu ^ 0x%02x",
			    i, mask);
		} else if (err >= SMIME_ERR_BASE && err < SMIME_ERR_LAST)
			hist[err - SMIME_ERR_BASE]++;
		if (m != NULL && err != SMIME_ERR_IDENTITY)
			released++;
		smime_msg_free(m);
	}
	ok(accepted == 0 && released == 0, "%s: all %zu bytes ^ 0x%02x "
	    "refused, nothing released", what, len, mask);
	for (i = 0; i < SMIME_ERR_LAST - SMIME_ERR_BASE; i++)
		if (hist[i] != 0)
			printf("#   %5zu x %s\n", hist[i],
			    smime_strerror((int)(SMIME_ERR_BASE + i)));
	free(b);
}

static void
test_tamper(void)
{
	const struct key *one[] = { &k1 };
	struct smime_verify_opts o;
	struct smime_msg *m;
	uint8_t *der, *b;
	size_t dlen, i, bad = 0;
	int err, sign;

	memset(&o, 0, sizeof(o));
	o.trust = store_of(&ca);
	for (sign = 0; sign < 2; sign++) {
		o.allow_unsigned = !sign;
		if (prot(ALICE, "text/plain; charset=utf-8", "Meet at gate 12 "
		    "at ten.", 23, sign ? &alice : NULL, 0, 0, one, 1, &der,
		    &dlen))
			abort();
		flip_all(sign ? "signed" : "unsigned", der, dlen, &o, 0x01);
		flip_all(sign ? "signed" : "unsigned", der, dlen, &o, 0x80);
		if (!sign)
			flip_all("unsigned", der, dlen, &o, 0xff);
		for (bad = 0, i = 0; i < dlen; i++) {
			err = unprot(der, i, &k1, &o, &m);
			if (err == 0 || m != NULL)
				bad++;
			smime_msg_free(m);
		}
		ok(bad == 0, "%s: all %zu truncations refused",
		    sign ? "signed" : "unsigned", dlen);
		b = malloc(dlen + 1);
		memcpy(b, der, dlen);
		b[dlen] = 0;
		is_int(unprot(b, dlen + 1, &k1, &o, &m), SMIME_ERR_DER,
		    "%s: a trailing byte is refused", sign ? "signed" :
		    "unsigned");
		free(b);
		free(der);
	}
	X509_STORE_free(o.trust);
}

/* wrap - one DER TLV of tag around c[0..n) at dst; returns its size */
static size_t
wrap(uint8_t *dst, uint8_t tag, const uint8_t *c, size_t n)
{
	size_t h = 2;

	dst[0] = tag;
	if (n < 0x80)
		dst[1] = (uint8_t)n;
	else if (n < 0x100) {
		dst[1] = 0x81;
		dst[2] = (uint8_t)n;
		h = 3;
	} else {
		dst[1] = 0x82;
		dst[2] = (uint8_t)(n >> 8);
		dst[3] = (uint8_t)n;
		h = 4;
	}
	memmove(dst + h, c, n);
	return h + n;
}

/* hdr_len - size of the TLV header at p */
static size_t
hdr_len(const uint8_t *p)
{
	return p[1] < 0x80 ? 2 : 2 + (p[1] & 0x7f);
}

/*
 * short_tag - our DER with the GCM tag cut to taglen octets, rebuilt
 *	inside out (the mac is the last field of AuthEnvelopedData); with
 *	set_icv the GCMParameters ICVlen says taglen too.
 */
static uint8_t *
short_tag(const uint8_t *der, size_t len, size_t taglen, int set_icv,
    size_t *out_len)
{
	uint8_t *aed = malloc(len), *a2 = malloc(len + 8), *out;
	const uint8_t *p;
	size_t h0, h1, h2, n, i;

	h0 = hdr_len(der);			/* ContentInfo */
	h1 = hdr_len(der + h0 + 13);		/* [0], after the OID TLV */
	h2 = hdr_len(der + h0 + 13 + h1);	/* AuthEnvelopedData */
	p = der + h0 + 13 + h1 + h2;
	n = len - (size_t)(p - der);		/* ... ends in 04 10 <tag> */
	memcpy(aed, p, n - 16);
	aed[n - 17] = (uint8_t)taglen;
	memcpy(aed + n - 16, der + len - 16, taglen);
	n = n - 16 + taglen;
	if (set_icv)			/* GCMParameters: 04 0c <nonce> 02 01 */
		for (i = 0; i + 16 < n; i++)
			if (aed[i] == 0x04 && aed[i + 1] == 0x0c &&
			    aed[i + 14] == 0x02 && aed[i + 15] == 0x01) {
				aed[i + 16] = (uint8_t)taglen;
				break;
			}
	n = wrap(a2, 0x30, aed, n);		/* AuthEnvelopedData */
	n = wrap(aed, 0xa0, a2, n);		/* [0] EXPLICIT */
	memcpy(a2, der + h0, 13);		/* contentType OID */
	memcpy(a2 + 13, aed, n);
	out = malloc(n + 13 + 4);
	*out_len = wrap(out, 0x30, a2, n + 13);
	free(aed);
	free(a2);
	return out;
}

/* libcrypto_opens - 1 if CMS alone (spec 3.3 recipe) opens der with k1 */
static int
libcrypto_opens(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms;
	CMS_RecipientInfo *ri;
	BIO *out;
	int ok = 0;

	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL)
		return 0;
	ri = sk_CMS_RecipientInfo_value(CMS_get0_RecipientInfos(cms), 0);
	out = BIO_new(BIO_s_mem());
	if (CMS_RecipientInfo_set0_key(ri, OPENSSL_memdup(k1.k, 16), 16) &&
	    CMS_RecipientInfo_decrypt(cms, ri) > 0 &&
	    CMS_decrypt(cms, NULL, NULL, NULL, out, CMS_BINARY) > 0)
		ok = 1;
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return ok;
}

/* test_short_tag - OpenSSL 3.0.22 accepts a GCM tag cut to 4 octets;
 *	the profile wants ICVlen 12..16 (RFC 5084 3.2) and a mac that long */
static void
test_short_tag(void)
{
	const struct key *one[] = { &k1 };
	struct smime_verify_opts o = { .allow_unsigned = 1 };
	struct smime_msg *m;
	uint8_t *der, *s;
	size_t dlen, slen, t;
	int icv, want;

	if (prot(ALICE, "text/plain", "short tags", 10, NULL, 0, 0, one, 1,
	    &der, &dlen))
		abort();
	s = short_tag(der, dlen, 16, 0, &slen);
	is_mem(s, slen, der, dlen, "the rebuild helper is exact at 16");
	free(s);
	s = short_tag(der, dlen, 4, 0, &slen);
	printf("# note: libcrypto %s alone %s a 4-octet GCM tag\n",
	    OpenSSL_version(OPENSSL_VERSION_STRING), libcrypto_opens(s, slen) ?
	    "ACCEPTS" : "refuses");
	free(s);
	for (icv = 0; icv < 2; icv++)
		for (t = 4; t <= 12; t += 4) {
			s = short_tag(der, dlen, t, icv, &slen);
			want = t == 12 && icv ? 0 : SMIME_ERR_UNSUPPORTED;
			is_int(unprot(s, slen, &k1, &o, &m), want,
			    "tag cut to %zu octets, ICVlen %s: %s", t,
			    icv ? "too" : "16", want ? "refused" :
			    "opens (RFC 5084 minimum)");
			smime_msg_free(m);
			free(s);
		}
	free(der);
}

/* test_not_auth - EnvelopedData, other types, garbage, sizes */
static void
test_not_auth(void)
{
	static const char ent[] = "Content-Type: message/cpim\r\n\r\n"
	    "From: <sip:alice@example.com>\r\nTo: <sip:bob@example.org>\r\n"
	    "DateTime: 2026-11-19T09:30:00Z\r\n\r\n"
	    "Content-Type: text/plain\r\n\r\nhi";
	struct smime_verify_opts o = { .allow_unsigned = 1 };
	struct smime_msg *m;
	uint8_t *der, *huge;
	size_t dlen;

	der = env_raw(ent, sizeof(ent) - 1, &k1, EVP_aes_128_cbc(), &dlen);
	is_int(unprot(der, dlen, &k1, &o, &m), SMIME_ERR_NOT_AUTH_ENVELOPED,
	    "plain EnvelopedData (AES-128-CBC) refused");
	ok(m == NULL, "EnvelopedData: nothing released");
	OPENSSL_free(der);
	der = env_raw(ent, sizeof(ent) - 1, &k1, EVP_aes_128_gcm(), &dlen);
	is_int(unprot(der, dlen, &k1, &o, &m), 0,
	    "the same entity as AuthEnvelopedData opens");
	smime_msg_free(m);
	OPENSSL_free(der);
	is_int(unprot((const uint8_t *)"\x30\x03\x02\x01\x00", 5, &k1, &o,
	    &m), SMIME_ERR_DER, "a SEQUENCE with no OID: DER error");
	is_int(unprot((const uint8_t *)"", 0, &k1, &o, &m), SMIME_ERR_DER,
	    "empty input: DER error");
	huge = calloc(1, SMIME_DEFAULT_MAX_BODY + SMIME_OVERHEAD + 1);
	is_int(unprot(huge, SMIME_DEFAULT_MAX_BODY + SMIME_OVERHEAD + 1, &k1,
	    &o, &m), SMIME_ERR_TOO_BIG, "over max_body + overhead: too big "
	    "before parsing");
	is_int(unprot(huge, SMIME_DEFAULT_MAX_BODY + SMIME_OVERHEAD, &k1,
	    &o, &m), SMIME_ERR_DER, "at the limit: parsed (and refused)");
	free(huge);
}

/* test_content_types - smime_content_type_class and unprotect's check */
static void
test_content_types(void)
{
	static const struct {
		const char	*ct;
		int		 err;
		enum smime_ctype cls;
	} t[] = {
		{ SMIME_CT_AUTH_ENVELOPED, 0, SMIME_CTYPE_AUTH_ENVELOPED },
		{ "application/pkcs7-mime; smime-type=auth-enveloped-data", 0,
		    SMIME_CTYPE_AUTH_ENVELOPED },
		{ "Application/PKCS7-MIME;smime-type=AUTHENVELOPED-DATA", 0,
		    SMIME_CTYPE_AUTH_ENVELOPED },
		{ "application/x-pkcs7-mime; smime-type=\"authEnveloped-data\"",
		    0, SMIME_CTYPE_AUTH_ENVELOPED },
		{ "application/pkcs7-mime; smime-type=enveloped-data", 0,
		    SMIME_CTYPE_PKCS7 },
		{ "application/pkcs7-mime; name=smime.p7m", 0,
		    SMIME_CTYPE_PKCS7 },
		{ SMIME_CT_SIGNED, 0, SMIME_CTYPE_SIGNED },
		{ "application/pkcs7-mime; smime-type=certs-only", 0,
		    SMIME_CTYPE_PKCS7_OTHER },
		{ "Message/CPIM", 0, SMIME_CTYPE_CPIM },
		{ "text/plain; charset=utf-8", 0, SMIME_CTYPE_OTHER },
		{ "text", SMIME_ERR_CONTENT_TYPE, 0 },
		{ "text/plain; charset", SMIME_ERR_CONTENT_TYPE, 0 },
		{ "te xt/plain", SMIME_ERR_CONTENT_TYPE, 0 },
		{ "", SMIME_ERR_CONTENT_TYPE, 0 },
	};
	const struct key *one[] = { &k1 };
	struct smime_verify_opts o = { .allow_unsigned = 1 };
	struct ring r = { { &k1 }, 1, 0 };
	struct smime_msg *m;
	enum smime_ctype cls;
	uint8_t *der;
	size_t i, dlen;
	int err;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cls = SMIME_CTYPE_OTHER;
		err = smime_content_type_class(t[i].ct, &cls);
		ok(err == t[i].err && cls == t[i].cls, "class of \"%s\": "
		    "got %s/%d, want %s/%d", t[i].ct, smime_strerror(err), cls,
		    smime_strerror(t[i].err), t[i].cls);
	}
	if (prot(ALICE, "text/plain", "x", 1, NULL, 0, 0, one, 1, &der, &dlen))
		abort();
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		m = NULL;
		err = smime_unprotect(der, dlen, t[i].ct, lookup, &r, &o, &m);
		if (t[i].err == 0 && (t[i].cls == SMIME_CTYPE_AUTH_ENVELOPED ||
		    t[i].cls == SMIME_CTYPE_PKCS7))
			is_int(err, 0, "unprotect with \"%s\"", t[i].ct);
		else
			is_int(err, SMIME_ERR_CONTENT_TYPE, "unprotect refuses "
			    "\"%s\"", t[i].ct);
		smime_msg_free(m);
	}
	free(der);
}

/* --------------------------------------------------------------------- */
/* malformed MIME and CPIM (authenticated, so only the parsers stand) */

#define CT_CPIM	"Content-Type: message/cpim\r\n\r\n"
#define HDRS	"From: <sip:alice@example.com>\r\n"	\
	"To: <sip:bob@example.org>\r\n"
#define DT	"DateTime: 2026-11-19T09:30:00Z\r\n"
#define INNER	"\r\nContent-Type: text/plain\r\n\r\nhello"

static void
test_malformed(void)
{
	static char longline[1400], many[64 * 40 + 400], manyto[40 * 40 + 300];
	struct {
		const char	*name;
		const char	*ent;
		int		 err;
	} t[] = {
		{ "well-formed", CT_CPIM HDRS DT INNER, 0 },
		{ "LF-only MIME header block",
		    "Content-Type: message/cpim\n\n" HDRS DT INNER, 0 },
		{ "no end of MIME headers", "Content-Type: message/cpim\r\n",
		    SMIME_ERR_MIME },
		{ "no Content-Type", "X-Foo: bar\r\n\r\n" HDRS DT INNER,
		    SMIME_ERR_MIME },
		{ "two Content-Types", "Content-Type: message/cpim\r\n"
		    "Content-Type: text/plain\r\n\r\n" HDRS DT INNER,
		    SMIME_ERR_MIME },
		{ "bad Content-Type", "Content-Type: message cpim\r\n\r\n" HDRS
		    DT INNER, SMIME_ERR_MIME },
		{ "header line without colon", "Content-Type: message/cpim\r\n"
		    "garbage\r\n\r\n" HDRS DT INNER, SMIME_ERR_MIME },
		{ "text/plain, not CPIM", "Content-Type: text/plain\r\n\r\nhi",
		    SMIME_ERR_CONTENT_TYPE },
		{ "authEnveloped inside", "Content-Type: "
		    SMIME_CT_AUTH_ENVELOPED "\r\n\r\n0",
		    SMIME_ERR_CONTENT_TYPE },
		{ "signed-data that is not DER", "Content-Type: "
		    SMIME_CT_SIGNED "\r\n\r\nnot DER", SMIME_ERR_SIGNED_DATA },
		{ "no From", CT_CPIM "To: <sip:bob@example.org>\r\n" DT INNER,
		    SMIME_ERR_CPIM },
		{ "no To", CT_CPIM "From: <sip:alice@example.com>\r\n" DT INNER,
		    SMIME_ERR_CPIM },
		{ "no DateTime", CT_CPIM HDRS INNER, SMIME_ERR_CPIM },
		{ "two From", CT_CPIM "From: <sip:eve@example.com>\r\n" HDRS DT
		    INNER, SMIME_ERR_CPIM },
		{ "two DateTime", CT_CPIM HDRS DT DT INNER, SMIME_ERR_CPIM },
		{ "bare LF in CPIM headers", CT_CPIM HDRS "DateTime: "
		    "2026-11-19T09:30:00Z\n" INNER, SMIME_ERR_CPIM },
		{ "bare CR in a CPIM value", CT_CPIM HDRS "Subject: a\rb\r\n" DT
		    INNER, SMIME_ERR_CPIM },
		{ "no space after colon", CT_CPIM "From:<sip:alice@example.com>"
		    "\r\nTo: <sip:bob@example.org>\r\n" DT INNER,
		    SMIME_ERR_CPIM },
		{ "two spaces after colon", CT_CPIM "From:  <sip:alice@example."
		    "com>\r\nTo: <sip:bob@example.org>\r\n" DT INNER,
		    SMIME_ERR_CPIM },
		{ "trailing space", CT_CPIM HDRS "Subject: hi \r\n" DT INNER,
		    SMIME_ERR_CPIM },
		{ "TAB in a value", CT_CPIM HDRS "Subject: a\tb\r\n" DT INNER,
		    SMIME_ERR_CPIM },
		{ "invalid UTF-8", CT_CPIM HDRS "Subject: \xc3\x28\r\n" DT
		    INNER,
		    SMIME_ERR_CPIM },
		{ "overlong UTF-8", CT_CPIM HDRS "Subject: \xc0\xaf\r\n" DT
		    INNER,
		    SMIME_ERR_CPIM },
		{ "space in a header name", CT_CPIM HDRS "Sub ject: x\r\n" DT
		    INNER, SMIME_ERR_CPIM },
		{ "From without <>", CT_CPIM "From: sip:alice@example.com\r\n"
		    "To: <sip:bob@example.org>\r\n" DT INNER, SMIME_ERR_CPIM },
		{ "From with an empty URI", CT_CPIM "From: <>\r\nTo: <sip:bob@"
		    "example.org>\r\n" DT INNER, SMIME_ERR_CPIM },
		{ "URI with a space", CT_CPIM
		    "From: <sip:al ice@example.com>\r\n"
		    "To: <sip:bob@example.org>\r\n" DT INNER, SMIME_ERR_CPIM },
		{ "URI without scheme", CT_CPIM "From: <alice@example.com>\r\n"
		    "To: <sip:bob@example.org>\r\n" DT INNER, SMIME_ERR_CPIM },
		{ "name without the space", CT_CPIM "From: Alice<sip:alice@"
		    "example.com>\r\nTo: <sip:bob@example.org>\r\n" DT INNER,
		    SMIME_ERR_CPIM },
		{ "unterminated quoted name", CT_CPIM "From: \"Alice <sip:alice"
		    "@example.com>\r\nTo: <sip:bob@example.org>\r\n" DT INNER,
		    SMIME_ERR_CPIM },
		{ "February 30", CT_CPIM HDRS "DateTime: 2026-02-30T09:30:00Z"
		    "\r\n" INNER, SMIME_ERR_CPIM },
		{ "hour 24", CT_CPIM HDRS "DateTime: 2026-11-19T24:00:00Z\r\n"
		    INNER, SMIME_ERR_CPIM },
		{ "DateTime without zone", CT_CPIM HDRS "DateTime: "
		    "2026-11-19T09:30:00\r\n" INNER, SMIME_ERR_CPIM },
		{ "DateTime not a date", CT_CPIM HDRS "DateTime: yesterday\r\n"
		    INNER, SMIME_ERR_CPIM },
		{ "Require of an unknown header", CT_CPIM HDRS DT
		    "Require: MyFeatures.VitalOption\r\n" INNER,
		    SMIME_ERR_CPIM },
		{ "Require of known headers", CT_CPIM HDRS DT
		    "Require: From,DateTime\r\n" INNER, 0 },
		{ "unknown and NS headers skipped", CT_CPIM HDRS DT
		    "NS: MyFeatures <mid:MessageFeatures@id.foo.com>\r\n"
		    "MyFeatures.WackyOption: x\r\nSubject: hi\r\n" INNER, 0 },
		{ "no end of CPIM headers", CT_CPIM HDRS DT, SMIME_ERR_CPIM },
		{ "CPIM header line too long", longline, SMIME_ERR_CPIM },
		{ "65 CPIM headers", many, SMIME_ERR_CPIM },
		{ "33 To headers", manyto, SMIME_ERR_CPIM },
		{ "inner entity without Content-Type", CT_CPIM HDRS DT
		    "\r\nX-Foo: 1\r\n\r\nhello", SMIME_ERR_MIME },
		{ "inner entity without header end", CT_CPIM HDRS DT
		    "\r\nContent-Type: text/plain\r\n", SMIME_ERR_MIME },
		{ "inner multipart without boundary", CT_CPIM HDRS DT
		    "\r\nContent-Type: multipart/mixed\r\n\r\nx",
		    SMIME_ERR_MIME },
	};
	struct smime_msg *m;
	size_t i, n;
	int err;

	n = (size_t)snprintf(longline, sizeof(longline), CT_CPIM HDRS
	    "Subject: ");
	memset(longline + n, 'a', 1000);
	memcpy(longline + n + 1000, "\r\n" DT INNER, sizeof("\r\n" DT INNER));
	n = (size_t)snprintf(many, sizeof(many), CT_CPIM HDRS DT);
	for (i = 0; i < 62; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n,
		    "Subject: %zu\r\n", i);
	snprintf(many + n, sizeof(many) - n, INNER);
	n = (size_t)snprintf(manyto, sizeof(manyto), CT_CPIM "From: <sip:a@b>"
	    "\r\n" DT);
	for (i = 0; i < SMIME_MAX_ADDRS + 1; i++)
		n += (size_t)snprintf(manyto + n, sizeof(manyto) - n,
		    "To: <sip:u%zu@example.org>\r\n", i);
	snprintf(manyto + n, sizeof(manyto) - n, INNER);

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		err = unprot_raw(t[i].ent, strlen(t[i].ent), &m);
		is_int(err, t[i].err, "entity: %s", t[i].name);
		ok(t[i].err != 0 ? m == NULL : m != NULL,
		    "entity: %s: message released only on success", t[i].name);
		smime_msg_free(m);
	}
}

/* test_known - our own header blocks: the memoized parse is GMime's */
static void
test_known(void)
{
	static const char *const blocks[] = {
		"Content-Type: " SMIME_CT_CPIM "\r\n\r\nbody",
		"Content-Type: " SMIME_CT_SIGNED "\r\n"
		    "Content-Transfer-Encoding: binary\r\n\r\n\x30\x80\r\n",
	};
	struct sbuf b1, b2;
	enum smime_ctype c1, c2;
	char *t1, *t2;
	size_t i, len;
	int e1, e2;

	for (i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		len = strlen(blocks[i]);
		sbuf_init(&b1, 1000);
		sbuf_init(&b2, 1000);
		t1 = t2 = NULL;
		c1 = c2 = SMIME_CTYPE_OTHER;
		e1 = smime_entity_parse((const uint8_t *)blocks[i], len, 0, &t1,
		    &c1, &b1);
		smime_known_off = 1;
		e2 = smime_entity_parse((const uint8_t *)blocks[i], len, 0, &t2,
		    &c2, &b2);
		smime_known_off = 0;
		ok(e1 == 0 && e2 == 0 && strcmp(t1, t2) == 0 && c1 == c2 &&
		    b1.len == b2.len && memcmp(b1.p, b2.p, b1.len) == 0,
		    "our header block %zu: the memoized parse is GMime's "
		    "(\"%s\", class %d)", i, t2 ? t2 : "-", c2);
		free(t1);
		free(t2);
		sbuf_wipe(&b1);
		sbuf_wipe(&b2);
	}
}

/*
 * test_simple - the hand-written parse of a one-line Content-Type header
 *	block (simple_ct in smime_mime.c) gives what GMime gives: the same
 *	error, Content-Type, class and body, on the shapes it takes and on
 *	the edge cases it must leave to GMime
 */
static void
test_simple(void)
{
	static const char *const cts[] = {
		"text/plain", "text/plain; charset=utf-8",
		"text/plain;charset=UTF-8", "TEXT/Plain; Charset=Utf-8",
		"text/plain; a=1; b=2; c=3", "text/plain;a=1;b=2",
		"application/vnd.3gpp.a_b+xml; x-y=z.w", "a/b",
		"text/plain; a=1; b=2; c=3; d=4; e=5; f=6; g=7; h=8",
		"text/plain; a=1; b=2; c=3; d=4; e=5; f=6; g=7; h=8; i=9",
		"text/plain; charset=a; charset=b",
		"text/plain; charset=a; CHARSET=b", "text/plain;", "text/plain; ",
		"text/plain;  charset=x", "text/plain ; charset=x",
		"text/plain; charset=", "text/plain; =x", "text/plain; charset",
		"text/plain; charset=\"utf-8\"", "text/plain; name*=x",
		"text/plain; name*0=x", "text/plain; n=a=?b", "text/plain; n==",
		"text/plain; n=a;", "text/plain\tx", "text/plain x",
		"text/plain;\tcharset=x", "text/", "/plain", "text", "",
		" text/plain", "text/plain/x", "text//plain", "t\xc3\xa9xt/plain",
		"application/pkcs7-mime", "application/x-pkcs7-mime",
		"Application/PKCS7-Mime; smime-type=signed-data",
		"application/pkcs7-mime; smime-type=authEnveloped-data",
		"application/pkcs7-mimex", "application/pkcs7-mim",
		"message/cpim", "message/rfc822", "MESSAGE/RFC822",
		"messages/x", "multipart/mixed; boundary=b",
		"Multipart/Mixed; boundary=b", "multiparts/x",
		"text/plain; charset=utf-8; format=flowed; delsp=yes",
		"text/plain; (comment)", "text/plain; a=b (c)",
	};
	static const char *const pres[] = {
		"Content-Type: ", "Content-type: ", "Content-Type:",
		"Content-Type:  ", "content-type: ",
	};
	static const char *const ends[] = { "\r\n\r\n", "\n\n", "\r\n\n" };
	static const char *const bodies[] = {
		"", "hello", "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
		    "--b--\r\n", "\r\n\r\nContent-Type: a/b\r\n\r\n",
		"From: a@b\r\n\r\nx",
	};
	char buf[1400], longct[SMIME_MAX_CTYPE + 2];
	struct sbuf b1, b2;
	enum smime_ctype c1, c2;
	char *t1, *t2;
	size_t i, j, k, l, len, nbig, bad = 0, n = 0;
	int e1, e2, same;

	for (i = 0; i < sizeof(cts) / sizeof(cts[0]) + 3; i++)
	for (j = 0; j < sizeof(pres) / sizeof(pres[0]); j++)
	for (k = 0; k < sizeof(ends) / sizeof(ends[0]); k++)
	for (l = 0; l < sizeof(bodies) / sizeof(bodies[0]); l++) {
		const char *ct = i < sizeof(cts) / sizeof(cts[0]) ?
		    cts[i] : longct;

		if (ct == longct) {
			/* "text/plain; a=xxx...", SMIME_MAX_CTYPE - 1 + (0..2) */
			nbig = SMIME_MAX_CTYPE - 1 +
			    (i - sizeof(cts) / sizeof(cts[0]));
			memset(longct, 'x', nbig);
			memcpy(longct, "text/plain; a=", 14);
			longct[nbig] = '\0';
		}
		len = (size_t)snprintf(buf, sizeof(buf), "%s%s%s%s", pres[j],
		    ct, ends[k], bodies[l]);
		sbuf_init(&b1, 2000);
		sbuf_init(&b2, 2000);
		t1 = t2 = NULL;
		c1 = c2 = SMIME_CTYPE_OTHER;
		e1 = smime_entity_parse((const uint8_t *)buf, len, 0, &t1, &c1,
		    &b1);
		smime_known_off = 1;
		e2 = smime_entity_parse((const uint8_t *)buf, len, 0, &t2, &c2,
		    &b2);
		smime_known_off = 0;
		same = e1 == e2 && (e1 != 0 || (strcmp(t1, t2) == 0 &&
		    c1 == c2 && b1.len == b2.len && (b1.len == 0 ||
		    memcmp(b1.p, b2.p, b1.len) == 0)));
		if (!same) {
			bad++;
			diag(__FILE__, __LINE__, "differs: %s%s (%d \"%s\" / GMime %d \"%s\")",
			    pres[j], ct, e1, t1 ? t1 : "-", e2, t2 ? t2 : "-");
		}
		n++;
		free(t1);
		free(t2);
		sbuf_wipe(&b1);
		sbuf_wipe(&b2);
	}
	ok(bad == 0, "simple Content-Type blocks: the hand-written parse is "
	    "GMime's on all %zu inputs", n);
}

/* test_cpim_details - names, offsets, transfer codings */
static void
test_cpim_details(void)
{
	static const char quoted[] = CT_CPIM "From: \"Alice \\\"A\\\" L.\" "
	    "<sip:alice@example.com>\r\nTo: MR SANDERS <im:piglet@100akerwood"
	    ".com>\r\nDateTime: 2026-11-19T10:30:00.25+01:00\r\n\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n";
	static const char qp[] = CT_CPIM HDRS DT "\r\nContent-Type: text/plain"
	    "\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "Gr=C3=BC=\r\nn";
	struct smime_msg *m;
	int err;

	err = unprot_raw(quoted, sizeof(quoted) - 1, &m);
	is_int(err, 0, "quoted formal name, offset DateTime, base64 body");
	if (err == 0) {
		ok(strcmp(m->from_name, "Alice \"A\" L.") == 0 &&
		    strcmp(m->from, ALICE) == 0, "formal name unquoted");
		ok(strcmp(m->to[0], "im:piglet@100akerwood.com") == 0,
		    "token formal name skipped on To");
		is_int(m->datetime, T0, "DateTime with fraction and +01:00");
		is_mem(m->body, m->body_len, "hello world", 11,
		    "base64 body decoded");
	}
	smime_msg_free(m);
	err = unprot_raw(qp, sizeof(qp) - 1, &m);
	ok(err == 0 && m->body_len == 5 && memcmp(m->body, "Gr\xc3\xbcn", 5) ==
	    0, "quoted-printable body decoded");
	smime_msg_free(m);
}

/* test_time - RFC 3339 */
static void
test_time(void)
{
	static const struct {
		const char	*s;
		int64_t		 t;
	} t[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2000-02-29T12:00:00Z", 951825600 },
		{ "2026-11-19T09:30:00Z", T0 },
		{ "2026-11-19t09:30:00z", T0 },
		{ "2026-11-19T04:30:00-05:00", T0 },
		{ "2038-01-19T03:14:08Z", 2147483648LL },
		{ "2100-03-01T00:00:00Z", 4107542400LL },
	};
	static const char *const bad[] = { "2001-02-29T00:00:00Z",
	    "2026-13-01T00:00:00Z", "2026-11-19 09:30:00Z",
	    "2026-11-19T09:30:00.Z", "2026-11-19T09:30:00+0100",
	    "2026-11-19T09:30:00Zjunk", "2026-1-19T09:30:00Z" };
	char buf[32];
	int64_t v;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = -1;
		if (smime_rfc3339_parse(t[i].s, strlen(t[i].s), &v) != 0)
			v = -1;
		is_int(v, t[i].t, "RFC 3339 %s", t[i].s);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(smime_rfc3339_parse(bad[i], strlen(bad[i]), &v) != 0,
		    "RFC 3339 refuses %s", bad[i]);
	ok(smime_rfc3339_format(T0, buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "2026-11-19T09:30:00Z") == 0, "RFC 3339 format");
}

/* --------------------------------------------------------------------- */
/* identities and signatures */

static void
test_uri_equal(void)
{
	static const struct {
		const char	*a, *b;
		int		 eq;
	} t[] = {
		{ ALICE, ALICE, 1 },
		{ ALICE, "SIP:alice@EXAMPLE.com", 1 },
		{ ALICE, "sip:alice@example.com;transport=tls", 1 },
		{ ALICE, "sip:Alice@example.com", 0 },
		{ ALICE, "sips:alice@example.com", 0 },
		{ ALICE, "sip:alice@example.com:5060", 0 },
		{ ALICE, "sip:alice@example.co", 0 },
		{ ALICE, "im:alice@example.com", 0 },
		{ "im:alice@example.com", "IM:alice@example.com", 1 },
		{ "tel:+1555", "tel:+1556", 0 },
		{ "sip:example.com", "sip:EXAMPLE.COM", 1 },
		{ "sip:@example.com", "sip:example.com", 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		is_int(smime_uri_equal(t[i].a, t[i].b), t[i].eq,
		    "uri_equal(%s, %s)", t[i].a, t[i].b);
}

/* opened - protect as from (signer), unprotect with o; returns the error */
static int
opened(const char *from, const struct cred *signer, int no_certs,
    const struct smime_verify_opts *o, struct smime_msg **m)
{
	const struct key *one[] = { &k1 };
	uint8_t *der;
	size_t dlen;
	int err;

	if (prot(from, "text/plain", "hello", 5, signer, no_certs, 0, one, 1,
	    &der, &dlen))
		abort();
	err = unprot(der, dlen, &k1, o, m);
	free(der);
	return err;
}

static void
test_identity(void)
{
	struct smime_verify_opts o;
	struct smime_msg *m;
	int err;

	memset(&o, 0, sizeof(o));
	o.trust = store_of(&ca);
	o.allow_unsigned = 1;
	o.expected_sender = "sip:mallory@example.com";
	err = opened(ALICE, NULL, 0, &o, &m);
	is_int(err, SMIME_ERR_IDENTITY, "unsigned, From is not the expected "
	    "sender");
	ok(m != NULL && m->mismatch == SMIME_MISMATCH_FROM &&
	    m->verified_sender == NULL && strcmp(m->from, ALICE) == 0,
	    "... the message is still returned, with what differs");
	smime_msg_free(m);

	o.expected_sender = "sip:alice@EXAMPLE.COM;transport=tls";
	is_int(opened(ALICE, NULL, 0, &o, &m), 0, "unsigned, expected sender "
	    "matches (AoR comparison)");
	smime_msg_free(m);

	o.expected_sender = NULL;
	err = opened("sip:eve@example.com", &alice, 0, &o, &m);
	is_int(err, SMIME_ERR_IDENTITY, "signed by alice, CPIM From eve");
	ok(m != NULL && m->mismatch == SMIME_MISMATCH_SIGNER_FROM &&
	    strcmp(m->verified_sender, ALICE) == 0 &&
	    strcmp(m->from, "sip:eve@example.com") == 0,
	    "... the verified identity (alice) is reported, From is eve");
	smime_msg_free(m);

	o.expected_sender = BOB;
	err = opened(ALICE, &alice, 0, &o, &m);
	ok(err == SMIME_ERR_IDENTITY && m != NULL && m->mismatch ==
	    (SMIME_MISMATCH_SIGNER | SMIME_MISMATCH_FROM) &&
	    strcmp(m->verified_sender, ALICE) == 0,
	    "signed by alice, expected bob: signer and From differ");
	smime_msg_free(m);

	o.expected_sender = "im:alice@example.com";
	err = opened("im:alice@example.com", &alice, 0, &o, &m);
	ok(err == 0 && strcmp(m->verified_sender, "im:alice@example.com") ==
	    0, "the SAN URI that equals From is the verified one");
	smime_msg_free(m);
	X509_STORE_free(o.trust);
}

static void
test_signatures(void)
{
	struct smime_verify_opts o;
	struct smime_msg *m, *m2;
	STACK_OF(X509) *extra;
	uint8_t *tampered, *der;
	size_t len, dlen, pos;
	char *ent;
	int err;

	memset(&o, 0, sizeof(o));
	o.trust = store_of(&ca);
	is_int(opened(ALICE, &alice, 0, &o, &m), 0, "signed: verifies");
	ok(m != NULL && m->entity_body != NULL, "signed: SignedData kept");
	o.allow_unsigned = 0;
	is_int(opened(ALICE, NULL, 0, &o, &m2), SMIME_ERR_UNSIGNED,
	    "unsigned refused unless allowed");

	/* tamper with the SignedData: its last octet is in the signature,
	 * the CPIM text is in the eContent */
	len = m->entity_body_len;
	tampered = malloc(len);
	memcpy(tampered, m->entity_body, len);
	tampered[len - 1] ^= 0x01;
	is_int(smime_open(SMIME_CT_SIGNED, tampered, len, &o, &m2),
	    SMIME_ERR_BAD_SIGNATURE, "signature value flipped: bad signature");
	memcpy(tampered, m->entity_body, len);
	for (pos = 0; pos + 5 < len && memcmp(tampered + pos, "hello", 5) != 0;
	    pos++)
		;
	tampered[pos] ^= 0x20;
	is_int(smime_open(SMIME_CT_SIGNED, tampered, len, &o, &m2),
	    SMIME_ERR_BAD_SIGNATURE, "signed content changed: bad signature");
	/* the same through an envelope, from a key holder */
	ent = malloc(len + 200);
	dlen = (size_t)sprintf(ent, "Content-Type: %s\r\n\r\n",
	    SMIME_CT_SIGNED);
	memcpy(ent + dlen, tampered, len);
	der = env_raw(ent, dlen + len, &k1, EVP_aes_128_gcm(), &dlen);
	is_int(unprot(der, dlen, &k1, &o, &m2), SMIME_ERR_BAD_SIGNATURE,
	    "enveloped, content changed by a key holder: bad signature");
	ok(m2 == NULL, "... nothing released");
	OPENSSL_free(der);
	free(ent);
	is_int(smime_open("application/pkcs7-mime", m->entity_body, len, &o,
	    &m2), 0, "pkcs7-mime without smime-type: the OID decides");
	smime_msg_free(m2);
	free(tampered);

	X509_STORE_free(o.trust);
	o.trust = store_of(&ca2);
	is_int(smime_open(SMIME_CT_SIGNED, m->entity_body, len, &o, &m2),
	    SMIME_ERR_UNTRUSTED, "another CA: untrusted");
	X509_STORE_free(o.trust);
	o.trust = NULL;
	is_int(smime_open(SMIME_CT_SIGNED, m->entity_body, len, &o, &m2),
	    SMIME_ERR_UNTRUSTED, "no trust anchors: untrusted");
	smime_msg_free(m);

	o.trust = store_of(&ca);
	is_int(opened(ALICE, &alice_eku, 0, &o, &m), SMIME_ERR_UNTRUSTED,
	    "EKU serverAuth only: unsuitable for S/MIME (digest 3.4)");
	is_int(opened(ALICE, &alice, 1, &o, &m), SMIME_ERR_UNTRUSTED,
	    "CMS_NOCERTS and the certificate not supplied: untrusted");
	extra = sk_X509_new_null();
	sk_X509_push(extra, alice.cert);
	o.certs = extra;
	err = opened(ALICE, &alice, 1, &o, &m);
	ok(err == 0 && m->is_signed && strcmp(m->verified_sender, ALICE) == 0,
	    "CMS_NOCERTS with the certificate supplied by the caller");
	smime_msg_free(m);
	sk_X509_free(extra);
	X509_STORE_free(o.trust);
}

/* --------------------------------------------------------------------- */
/* re-wrap and re-encryption */

static void
test_rewrap(void)
{
	const struct key *one[] = { &k1 };
	struct smime_verify_opts o;
	struct smime_aed_info a, b;
	struct smime_kek nk[2] = { kek_of(&k2), kek_of(&k3) };
	struct ring r1 = { { &k1 }, 1, 0 }, r2 = { { &k2 }, 1, 0 };
	struct smime_msg *m;
	uint8_t *der, *nd = NULL;
	size_t dlen, nlen = 0;
	int err;

	memset(&o, 0, sizeof(o));
	o.trust = store_of(&ca);
	if (prot(ALICE, "text/plain", "fan me out", 10, &alice, 0, 0, one, 1,
	    &der, &dlen))
		abort();
	err = smime_rewrap(der, dlen, lookup, &r1, nk, 1, 0, &nd, &nlen);
	is_int(err, 0, "re-wrap for a new KEK");
	if (err == 0) {
		is_int(smime_der_check(der, dlen, &a) |
		    smime_der_check(nd, nlen, &b), 0, "both pass the profile");
		ok(a.eci_len == b.eci_len && memcmp(der + a.eci_off,
		    nd + b.eci_off, a.eci_len) == 0 && a.mac_len == b.mac_len &&
		    CRYPTO_memcmp(der + a.mac_off, nd + b.mac_off, a.mac_len) == 0,
		    "content, nonce and tag byte-identical");
		is_int(b.nri, 1, "one RecipientInfo left");
		err = unprot(nd, nlen, &k2, &o, &m);
		ok(err == 0 && m->body_len == 10 && m->is_signed &&
		    memcmp(m->kek_id, "csb-2", 5) == 0,
		    "the new KEK opens it, signature intact");
		smime_msg_free(m);
		is_int(unprot(nd, nlen, &k1, &o, &m), SMIME_ERR_UNKNOWN_KEY,
		    "the old KEK's recipient is gone");
		free(nd);
	}
	nd = NULL;
	err = smime_rewrap(der, dlen, lookup, &r1, nk, 2, 0, &nd, &nlen);
	ok(err == 0 && unprot(nd, nlen, &k3, &o, &m) == 0,
	    "re-wrap for two KEKs: the AES-256 wrap one opens it");
	smime_msg_free(m);
	free(nd);
	nd = NULL;
	is_int(smime_rewrap(der, dlen, lookup, &r2, nk, 1, 0, &nd, &nlen),
	    SMIME_ERR_UNKNOWN_KEY, "re-wrap without the current KEK");
	der[dlen - 1] ^= 1;		/* the tag */
	is_int(smime_rewrap(der, dlen, lookup, &r1, nk, 1, 0, &nd, &nlen),
	    SMIME_ERR_TAG, "re-wrap of a forged message: tag failure");
	ok(nd == NULL, "... nothing written");
	free(der);
	X509_STORE_free(o.trust);
}

static void
test_reencrypt(void)
{
	const struct key *tolist[] = { &k1 };
	struct smime_protect_args a;
	struct smime_verify_opts o;
	struct smime_signer ls = { listc.cert, listc.key, NULL, 0 };
	struct smime_kek kb = kek_of(&k2);
	struct smime_msg *at_list, *at_bob, *inner;
	const char *to[] = { BOB }, *cc[] = { CAROL };
	uint8_t *der, *der2;
	size_t dlen, dlen2;
	int err, sign;

	memset(&o, 0, sizeof(o));
	o.trust = store_of(&ca);
	for (sign = 1; sign >= 0; sign--) {
		o.allow_unsigned = !sign;
		/* alice -> list */
		if (prot(ALICE, "text/plain; charset=utf-8", "hello team", 10,
		    sign ? &alice : NULL, 0, 0, tolist, 1, &der, &dlen))
			abort();
		o.expected_sender = ALICE;
		err = unprot(der, dlen, &k1, &o, &at_list);
		is_int(err, 0, "%s: the list opens alice's message",
		    sign ? "signed" : "unsigned");
		/* list -> bob: its own CPIM around alice's entity */
		memset(&a, 0, sizeof(a));
		a.from = LIST;
		a.to = to;
		a.nto = 1;
		a.cc = cc;
		a.ncc = 1;
		a.datetime = T0 + 5;
		a.content_type = at_list->entity_type;
		a.body = at_list->entity_body;
		a.body_len = at_list->entity_body_len;
		a.signer = &ls;
		a.keks = &kb;
		a.nkeks = 1;
		is_int(smime_protect(&a, &der2, &dlen2), 0,
		    "%s: the list re-encrypts for bob", sign ? "signed" :
		    "unsigned");
		o.expected_sender = LIST;
		o.allow_unsigned = 0;
		err = unprot(der2, dlen2, &k2, &o, &at_bob);
		ok(err == 0 && strcmp(at_bob->from, LIST) == 0 &&
		    at_bob->ncc == 1 && strcmp(at_bob->cc[0], CAROL) == 0 &&
		    strcmp(at_bob->verified_sender, LIST) == 0 &&
		    at_bob->datetime == T0 + 5, "%s: bob sees the list's "
		    "signed CPIM (From list, cc carol)", sign ? "signed" :
		    "unsigned");
		o.expected_sender = ALICE;
		o.allow_unsigned = !sign;
		err = smime_open(at_bob->content_type, at_bob->body,
		    at_bob->body_len, &o, &inner);
		ok(err == 0 && strcmp(inner->from, ALICE) == 0 &&
		    inner->is_signed == sign && inner->body_len == 10 &&
		    memcmp(inner->body, "hello team", 10) == 0 &&
		    strcmp(inner->content_type, "text/plain; charset=utf-8") ==
		    0, "%s: the inner layer opens: author alice%s",
		    sign ? "signed" : "unsigned", sign ? ", her signature "
		    "verifies" : "");
		smime_msg_free(inner);
		smime_msg_free(at_bob);
		smime_msg_free(at_list);
		free(der);
		free(der2);
	}
	X509_STORE_free(o.trust);
}

/* test_limits - a smaller max_body on both sides */
static void
test_limits(void)
{
	const struct key *one[] = { &k1 };
	struct smime_protect_args a;
	struct smime_verify_opts o = { .allow_unsigned = 1, .max_body = 1000 };
	struct smime_kek kk = kek_of(&k1);
	struct smime_msg *m;
	const char *to[] = { BOB };
	uint8_t *der, *out;
	size_t dlen, olen;

	memset(&a, 0, sizeof(a));
	a.from = ALICE;
	a.to = to;
	a.nto = 1;
	a.content_type = "application/octet-stream";
	a.body = big;
	a.body_len = 1001;
	a.keks = &kk;
	a.nkeks = 1;
	a.max_body = 1000;
	is_int(smime_protect(&a, &der, &dlen), SMIME_ERR_TOO_BIG,
	    "protect: body over a configured max_body");
	a.body_len = 1000;
	is_int(smime_protect(&a, &der, &dlen), 0, "protect: body at max_body");
	is_int(unprot(der, dlen, &k1, &o, &m), 0,
	    "unprotect: body at max_body");
	smime_msg_free(m);
	free(der);
	if (prot(ALICE, "text/plain", big, 1001, NULL, 0, 0, one, 1, &der,
	    &dlen))
		abort();
	is_int(unprot(der, dlen, &k1, &o, &m), SMIME_ERR_TOO_BIG,
	    "unprotect: inner body over max_body");
	ok(m == NULL, "... nothing released");
	free(der);

	/* a huge max_body is clamped: no overflow of max_body + overhead */
	a.max_body = SIZE_MAX;
	a.body_len = SIZE_MAX;
	is_int(smime_protect(&a, &der, &dlen), SMIME_ERR_TOO_BIG,
	    "protect: max_body SIZE_MAX is clamped");
	o.max_body = SIZE_MAX;
	dlen = SMIME_MAX_MAX_BODY + SMIME_OVERHEAD + 1;
	der = calloc(1, dlen);
	is_int(unprot(der, dlen, &k1, &o, &m), SMIME_ERR_TOO_BIG,
	    "unprotect: max_body SIZE_MAX is clamped to %d", SMIME_MAX_MAX_BODY);
	out = NULL;
	is_int(smime_rewrap(der, dlen, lookup, NULL, &kk, 1, SIZE_MAX, &out,
	    &olen), SMIME_ERR_TOO_BIG, "rewrap: max_body SIZE_MAX is clamped");
	ok(out == NULL, "... nothing written");
	free(der);
}

static void
test_strerror(void)
{
	int e, distinct = 1, e2;

	for (e = SMIME_ERR_BASE; e < SMIME_ERR_LAST; e++)
		for (e2 = SMIME_ERR_BASE; e2 < e; e2++)
			if (strcmp(smime_strerror(e), smime_strerror(e2)) == 0)
				distinct = 0;
	ok(distinct, "every error has its own text");
	ok(strcmp(smime_strerror(SMIME_ERR_LAST), "unknown smime error") == 0 &&
	    strcmp(smime_strerror(0), "success") == 0, "strerror edges");
}

int
main(void)
{
	size_t i;

	smime_init();
	smime_init();			/* idempotent */
	RAND_bytes(k1.k, 16);
	RAND_bytes(k2.k, 16);
	RAND_bytes(k3.k, 32);
	memcpy(kbad.k, k1.k, 16);
	kbad.k[0] ^= 1;
	RAND_bytes(big, sizeof(big));
	for (i = 0; i < sizeof(binary); i++)
		binary[i] = (uint8_t)(i * 7);
	memcpy(binary + 300, "\r\n\r\n\n.\r\n\0\0\r", 12);
	mkcred(&ca, NULL, "test CA", ca_ext);
	mkcred(&ca2, NULL, "other CA", ca_ext);
	mkcred(&alice, &ca, "alice", alice_ext);
	mkcred(&alice_eku, &ca, "alice (TLS)", alice_eku_ext);
	mkcred(&listc, &ca, "team list", list_ext);

	test_roundtrips();
	test_fresh();
	test_addresses();
	test_keys();
	test_tamper();
	test_short_tag();
	test_not_auth();
	test_content_types();
	test_malformed();
	test_known();
	test_simple();
	test_cpim_details();
	test_time();
	test_uri_equal();
	test_identity();
	test_signatures();
	test_rewrap();
	test_reencrypt();
	test_limits();
	test_strerror();

	X509_free(ca.cert);
	EVP_PKEY_free(ca.key);
	X509_free(ca2.cert);
	EVP_PKEY_free(ca2.key);
	X509_free(alice.cert);
	EVP_PKEY_free(alice.key);
	X509_free(alice_eku.cert);
	EVP_PKEY_free(alice_eku.key);
	X509_free(listc.cert);
	EVP_PKEY_free(listc.key);
	return done_testing();
}
