/*
 * smime/smime.c - the public entry points: protect, unprotect, open; the
 * identity check; errors; bounded buffers
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	Protect: CPIM entity (smime_cpim.c) -> optional SignedData wrapped in
 *	a signed-data entity (smime_sign.c) -> AuthEnvelopedData
 *	(smime_cms.c).  Unprotect: the reverse, and every layer has its own
 *	error code, so the caller can map each to a SIP answer
 *	(spec/smime-sip.md 1.9; gateway/gw_error.c).
 *
 *	Sizes: max_body bounds the user body; every container around it may
 *	add at most SMIME_OVERHEAD (CPIM headers, certificates, recipients).
 *	What smime_protect writes with some max_body, smime_unprotect with
 *	the same max_body accepts: protect refuses to write more.
 *
 *	Identity (design.md 3, inbound step 4; spec/smime-sip.md 1.7): when
 *	signed, the signer's SAN URIs must include the CPIM From; when the
 *	caller names the expected sender, the CPIM From and (when signed) a
 *	SAN URI must be it.  A mismatch is SMIME_ERR_IDENTITY, and the
 *	message still goes to the caller with msg->mismatch and
 *	msg->verified_sender, because the verified identity is what the user
 *	must be shown.
 *
 *	libcrypto's error queue: every entry point sets a mark and pops to it,
 *	so a failure here leaves no stale errors for the caller's TLS code
 *	(SSL_get_error looks at the queue).
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "smime/smime-int.h"

/* --------------------------------------------------------------------- */
/* Errors */

static const char *const errstr[] = {
	"out of memory",				/* NOMEM */
	"invalid argument",				/* INVAL */
	"libcrypto failure",				/* CRYPTO */
	"input larger than the configured maximum",	/* TOO_BIG */
	"Content-Type not acceptable here",		/* CONTENT_TYPE */
	"CMS: not DER or malformed structure",		/* DER */
	"CMS content is not AuthEnvelopedData",		/* NOT_AUTH_ENVEL. */
	/* UNSUPPORTED */
	"CMS version, algorithm or field not supported",
	"no KEK recipient with a known key identifier",	/* UNKNOWN_KEY */
	"key unwrap failed (wrong KEK)",		/* UNWRAP */
	"authentication tag did not verify",		/* TAG */
	"malformed MIME entity",			/* MIME */
	"malformed message/cpim",			/* CPIM */
	"malformed or unsupported SignedData",		/* SIGNED_DATA */
	"signature does not verify",			/* BAD_SIGNATURE */
	"signer certificate missing or not trusted",	/* UNTRUSTED */
	"message is not signed",			/* UNSIGNED */
	"sender identities do not match",		/* IDENTITY */
};

const char *
smime_strerror(int err)
{
	if (err == SMIME_OK)
		return "success";
	if (err < SMIME_ERR_BASE || err >= SMIME_ERR_LAST)
		return "unknown smime error";
	return errstr[err - SMIME_ERR_BASE];
}

/* --------------------------------------------------------------------- */
/* Buffers */

void
smime_clear_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, n);
	free(p);
}

char *
smime_strndup(const void *p, size_t n)
{
	char *s;

	if ((s = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

void
sbuf_init(struct sbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

int
sbuf_reserve(struct sbuf *b, size_t n)
{
	size_t need, cap;
	uint8_t *p;

	if (b->err)
		return b->err;
	if (n > b->max || b->len > b->max - n) {
		b->err = SMIME_ERR_TOO_BIG;
		return b->err;
	}
	need = b->len + n + 1;		/* room for sbuf_take's NUL */
	if (need <= b->cap)
		return 0;
	cap = b->cap < 256 ? 256 : b->cap;
	while (cap < need)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	/* never realloc: the old block is wiped before it is freed */
	if ((p = malloc(cap)) == NULL) {
		b->err = SMIME_ERR_NOMEM;
		return b->err;
	}
	if (b->len > 0)
		memcpy(p, b->p, b->len);
	smime_clear_free(b->p, b->cap);
	b->p = p;
	b->cap = cap;
	return 0;
}

void
sbuf_add(struct sbuf *b, const void *p, size_t n)
{
	if (n == 0 || sbuf_reserve(b, n) != 0)
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void
sbuf_adds(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void
sbuf_wipe(struct sbuf *b)
{
	smime_clear_free(b->p, b->cap);
	b->p = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}

uint8_t *
sbuf_take(struct sbuf *b, size_t *len_out)
{
	uint8_t *p;

	if (b->err)
		return NULL;
	if (b->p == NULL) {
		if ((p = malloc(1)) == NULL)
			return NULL;
		p[0] = '\0';
		*len_out = 0;
		return p;
	}
	b->p[b->len] = '\0';		/* sbuf_reserve kept room */
	p = b->p;
	*len_out = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

/* --------------------------------------------------------------------- */
/* Protect */

/* check_addrs - n URIs, min..SMIME_MAX_ADDRS of them */
static int
check_addrs(const char *const *v, size_t n, size_t min)
{
	size_t i;

	if (n < min || n > SMIME_MAX_ADDRS || (n > 0 && v == NULL))
		return SMIME_ERR_INVAL;
	for (i = 0; i < n; i++)
		if (smime_uri_check(v[i]) != 0)
			return SMIME_ERR_INVAL;
	return 0;
}

int
smime_protect(const struct smime_protect_args *a, uint8_t **der_out,
    size_t *der_len_out)
{
	struct sbuf cpim, sig;
	const struct sbuf *pt;
	uint8_t *der = NULL;
	size_t max, der_len = 0;
	int64_t t;
	int err;

	if (a == NULL || der_out == NULL || der_len_out == NULL)
		return SMIME_ERR_INVAL;
	max = smime_max_body(a->max_body);
	if (a->body_len > max)
		return SMIME_ERR_TOO_BIG;
	if ((a->body == NULL && a->body_len != 0) ||
	    smime_uri_check(a->from) != 0 ||
	    check_addrs(a->to, a->nto, 1) != 0 ||
	    check_addrs(a->cc, a->ncc, 0) != 0 ||
	    smime_ctype_check(a->content_type) != 0)
		return SMIME_ERR_INVAL;
	t = a->datetime != 0 ? a->datetime : (int64_t)time(NULL);

	ERR_set_mark();
	sbuf_init(&cpim, max + SMIME_OVERHEAD);
	sbuf_init(&sig, max + SMIME_OVERHEAD);
	if ((err = smime_cpim_build(a, t, &cpim)) != 0)
		goto out;
	pt = &cpim;
	if (a->signer != NULL) {
		/* the signed-data entity (spec/smime-sip.md 6.2) */
		sbuf_adds(&sig, "Content-Type: " SMIME_CT_SIGNED "\r\n"
		    "Content-Transfer-Encoding: binary\r\n\r\n");
		if ((err = smime_sign(a->signer, t, cpim.p, cpim.len,
		    &sig)) != 0)
			goto out;
		pt = &sig;
	}
	if ((err = smime_envelope(pt->p, pt->len, a->cipher, a->keks,
	    a->nkeks, &der, &der_len)) != 0)
		goto out;
	if (der_len > max + SMIME_OVERHEAD) {
		free(der);
		err = SMIME_ERR_TOO_BIG;
		goto out;
	}
	*der_out = der;
	*der_len_out = der_len;
out:
	sbuf_wipe(&cpim);
	sbuf_wipe(&sig);
	ERR_pop_to_mark();
	return err;
}

/* --------------------------------------------------------------------- */
/* Unprotect and open */

/* check_identity - see DESIGN; sets mismatch and verified_sender */
static int
check_identity(const struct smime_verify_opts *o, struct smime_msg *m)
{
	size_t i, v = 0;
	int from_ok = 0, exp_ok = 0;

	if (m->is_signed) {
		for (i = 0; i < m->nsigner_uris; i++) {
			if (!from_ok && smime_uri_equal(m->signer_uris[i],
			    m->from)) {
				from_ok = 1;
				v = i;
			}
			if (o->expected_sender != NULL &&
			    smime_uri_equal(m->signer_uris[i],
			    o->expected_sender))
				exp_ok = 1;
		}
		if (m->nsigner_uris > 0 && (m->verified_sender =
		    smime_strndup(m->signer_uris[v],
		    strlen(m->signer_uris[v]))) == NULL)
			return SMIME_ERR_NOMEM;
		if (!from_ok)
			m->mismatch |= SMIME_MISMATCH_SIGNER_FROM;
		if (o->expected_sender != NULL && !exp_ok)
			m->mismatch |= SMIME_MISMATCH_SIGNER;
	}
	if (o->expected_sender != NULL &&
	    !smime_uri_equal(m->from, o->expected_sender))
		m->mismatch |= SMIME_MISMATCH_FROM;
	return m->mismatch != 0 ? SMIME_ERR_IDENTITY : 0;
}

/* open_entity - signed-data or message/cpim (of class cls) into msg */
static int
open_entity(enum smime_ctype cls, const uint8_t *body, size_t len,
    const struct smime_verify_opts *o, struct smime_msg *msg)
{
	enum smime_ctype cls2;
	struct sbuf content, cbody;
	size_t max = smime_max_body(o->max_body);
	char *ct2 = NULL;
	int err;

	switch (cls) {
	case SMIME_CTYPE_CPIM:
		if (!o->allow_unsigned)
			return SMIME_ERR_UNSIGNED;
		err = smime_cpim_parse(body, len, o->max_body, msg);
		break;
	case SMIME_CTYPE_SIGNED:
	case SMIME_CTYPE_PKCS7:	/* no smime-type: the OID decides */
		sbuf_init(&content, max + SMIME_OVERHEAD);
		sbuf_init(&cbody, max + SMIME_OVERHEAD);
		if ((err = smime_verify(body, len, o, &content, msg)) != 0)
			goto signed_out;
		/* RFC 8591 4.3: sign first, the CPIM inside the signature */
		if ((err = smime_entity_parse(content.p, content.len,
		    o->max_body, &ct2, &cls2, &cbody)) != 0)
			goto signed_out;
		err = SMIME_ERR_CONTENT_TYPE;
		if (cls2 != SMIME_CTYPE_CPIM)
			goto signed_out;
		err = smime_cpim_parse(cbody.p, cbody.len, o->max_body, msg);
signed_out:
		free(ct2);
		sbuf_wipe(&content);
		sbuf_wipe(&cbody);
		break;
	default:
		return SMIME_ERR_CONTENT_TYPE;
	}
	if (err != 0)
		return err;
	return check_identity(o, msg);
}

int
smime_open(const char *content_type, const uint8_t *body, size_t body_len,
    const struct smime_verify_opts *opts, struct smime_msg **msg_out)
{
	struct smime_msg *msg;
	enum smime_ctype cls;
	int err;

	if (content_type == NULL || (body == NULL && body_len != 0) ||
	    opts == NULL || msg_out == NULL)
		return SMIME_ERR_INVAL;
	if (body_len > smime_max_body(opts->max_body) + SMIME_OVERHEAD)
		return SMIME_ERR_TOO_BIG;
	if (smime_content_type_class(content_type, &cls) != 0)
		return SMIME_ERR_CONTENT_TYPE;
	if ((msg = calloc(1, sizeof(*msg))) == NULL)
		return SMIME_ERR_NOMEM;
	msg->signing_time = -1;
	ERR_set_mark();
	err = open_entity(cls, body_len ? body : (const uint8_t *)"",
	    body_len, opts, msg);
	ERR_pop_to_mark();
	if (err == 0 || err == SMIME_ERR_IDENTITY)
		*msg_out = msg;
	else
		smime_msg_free(msg);
	return err;
}

int
smime_unprotect(const uint8_t *der, size_t der_len, const char *content_type,
    smime_kek_cb cb, void *cb_arg, const struct smime_verify_opts *opts,
    struct smime_msg **msg_out)
{
	struct smime_msg *msg = NULL;
	struct sbuf pt, body;
	enum smime_ctype cls = SMIME_CTYPE_OTHER;
	size_t max;
	int err;

	if (der == NULL || cb == NULL || opts == NULL || msg_out == NULL)
		return SMIME_ERR_INVAL;
	max = smime_max_body(opts->max_body);
	if (der_len > max + SMIME_OVERHEAD)
		return SMIME_ERR_TOO_BIG;
	if (content_type != NULL) {
		if (smime_content_type_class(content_type, &cls) != 0 ||
		    (cls != SMIME_CTYPE_AUTH_ENVELOPED &&
		    cls != SMIME_CTYPE_PKCS7))
			return SMIME_ERR_CONTENT_TYPE;
	}
	if ((msg = calloc(1, sizeof(*msg))) == NULL)
		return SMIME_ERR_NOMEM;
	msg->signing_time = -1;
	sbuf_init(&pt, max + SMIME_OVERHEAD);
	sbuf_init(&body, max + SMIME_OVERHEAD);
	ERR_set_mark();
	if ((err = smime_envelope_open(der, der_len, cb, cb_arg,
	    opts->max_body, &pt, msg)) != 0)
		goto out;
	/* from here on the content is authenticated */
	if ((err = smime_entity_parse(pt.p, pt.len, opts->max_body,
	    &msg->entity_type, &cls, &body)) != 0)
		goto out;
	err = SMIME_ERR_NOMEM;
	if ((msg->entity_body = sbuf_take(&body, &msg->entity_body_len)) ==
	    NULL)
		goto out;
	err = open_entity(cls, msg->entity_body, msg->entity_body_len, opts,
	    msg);
out:
	ERR_pop_to_mark();
	sbuf_wipe(&pt);
	sbuf_wipe(&body);
	if (err == 0 || err == SMIME_ERR_IDENTITY)
		*msg_out = msg;
	else
		smime_msg_free(msg);
	return err;
}

void
smime_msg_free(struct smime_msg *msg)
{
	size_t i;

	if (msg == NULL)
		return;
	free(msg->kek_id);
	free(msg->entity_type);
	smime_clear_free(msg->entity_body, msg->entity_body_len);
	for (i = 0; i < msg->nsigner_uris; i++)
		free(msg->signer_uris[i]);
	free(msg->verified_sender);
	free(msg->from);
	free(msg->from_name);
	for (i = 0; i < msg->nto; i++)
		free(msg->to[i]);
	for (i = 0; i < msg->ncc; i++)
		free(msg->cc[i]);
	free(msg->content_type);
	smime_clear_free(msg->body, msg->body_len);
	OPENSSL_cleanse(msg, sizeof(*msg));
	free(msg);
}
