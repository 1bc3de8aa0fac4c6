/*
 * lib/imgate.c - libimgate: context, ticket and key caches, wrap, unwrap
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	This file composes mikey/ and smime/; it is the one place (with the
 *	gateway, which is built on it) that knows both.
 *
 *	Wrap (design.md section 3, outbound steps 2-5):
 *	  ticket cache[from, sorted rcpts]  -- miss or near its end -->
 *	      REQUEST_INIT_PSK to the KMS (IDRi = from; IDRpsk = our
 *	      identity when from is another: act_for is the KMS's call)
 *	  TRANSFER_INIT: HDR (PRF-HMAC-SHA-256, GENERIC-ID map, one crypto
 *	      session CS ID 1, prot type 241), T, RANDRi, IDRi, [IDRr], SP
 *	      (prot 241: content key length), TICKET, V
 *	  TEK(CS 1, RANDRi) = KEK, keyIdentifier = CSB ID || CS ID
 *	      (spec/smime-sip.md 2.4)
 *	  smime_protect (CPIM From = from, To = rcpts), then the two as a
 *	      multipart/mixed body (smime_multipart_build, 6.2)
 *
 *	Unwrap (inbound steps 1-4):
 *	  smime_multipart_parse (sizes bounded, exactly the two parts)
 *	  mikey_r_transfer_parse: structure, ticket policy, validity, T not
 *	      in the future; then our profile (one-way flags, one CMS crypto
 *	      session, an initiator in the ticket)
 *	  resolved-key cache[SHA-256 of the TICKET payload] -- miss -->
 *	      RESOLVE_INIT_PSK (the KMS decides whether we may)
 *	  V with MPKi (mikey_r_transfer_verify)
 *	  replay cache check (digest of the TRANSFER_INIT, its T)
 *	  smime_unprotect with a KEK callback that knows one key id, the
 *	      CSB ID || CS ID of this TRANSFER_INIT, and expected sender =
 *	      the ticket's IDRi
 *	  replay cache insert, only now: V verified and the envelope opened,
 *	      so a forged CMS part next to a copied TRANSFER_INIT cannot use
 *	      up the genuine message's entry.
 *
 *	The resolve is done for the bare ticket and V is checked afterwards
 *	with the returned keys, so a bad KMS answer (503) and a bad message
 *	(493) are told apart.  The keys are cached even when this one
 *	message's V fails: they belong to the ticket, which the KMS resolved
 *	for us.
 *
 *	A KMS exchange is two halves around the transport: request_start /
 *	resolve_start build the request and keep its state in a struct
 *	imgate_xchg (the PSK-keyed MIKEY state, the cache key, a copy of
 *	the bare TICKET payload: the parsed TRANSFER_INIT aliases the
 *	caller's buffer), request_finish / resolve_finish process the
 *	answer into a new cache entry.  Synchronously (kms_run) the two run
 *	back to back; asynchronously the exchange waits in the context's
 *	pending list until imgate_kms_done() gives the answer, and the
 *	operation, given again, finds the cache filled.  An entry is
 *	"fresh" until its first use: a retried wrap may use a ticket whose
 *	margin has already passed (as the synchronous wrap does), a retried
 *	unwrap reports kms_called.  Exchanges are coalesced by ticket cache
 *	key and by ticket digest, so a burst for one recipient set or one
 *	ticket makes one KMS call.
 *
 *	Caches are small arrays searched linearly with LRU eviction: a UA or
 *	a gateway holds tens to hundreds of live tickets, and a lookup is a
 *	few hundred 32-byte compares next to a CMS operation.
 *
 * SECURITY
 *	The context holds the PSK, the ticket keys (MPKi, TGK) of the
 *	tickets it sent with and of those it resolved: every one is wiped
 *	when its entry is dropped and when the context is freed.  TEKs live
 *	on the stack for one call and are wiped.  An exchange under way
 *	holds the MIKEY request state, with a copy of the PSK: wiped when it
 *	is done and when the context is freed.  The plaintext goes from
 *	smime/'s private buffer to the result, which wipes it when freed.
 *	Detail texts name codes and lengths, never key bytes or bodies.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "lib/imgate-int.h"
#include "smime/smime.h"

#define CS_ID		1	/* the one crypto session of a message */
#define KID_LEN		5	/* CSB ID (4) || CS ID (1) */
#define TGK_LEN		32	/* asked of the KMS */
#define PEER_CAUSE	0x10000	/* imgate_last_cause of a MIKEY ERR n */

/* SP parameters of prot type 241 (mikey_sp_param_name) */
#define SPP_ALG		0	/* content encryption: 0 = AES-GCM */
#define SPP_KEYLEN	1	/* content / key-encryption key bytes */
#define SPP_WRAP	2	/* key wrap: 0 = AES key wrap (RFC 3565) */

/* ---------------------------------------------------------------------- */
/* Errors */

static const char *const errtext[] = {
	"out of memory",
	"invalid argument",
	"internal error",
	"malformed message",
	"message time in the future",
	"body too large",
	"unsupported content type",
	"undecipherable: MAC, tag or key did not verify",
	"replayed message",
	"message older than the replay cache can judge",
	"ticket expired or not yet valid",
	"not authorised by the KMS",
	"ticket or message outside the imgate profile",
	"sender identities disagree",
	"signature missing, invalid or untrusted",
	"KMS refused our credential",
	"KMS unreachable or its answer unusable",
	"waiting for the KMS",
};

static const int sipcode[] = {
	500, 500, 500, 400, 400, 413, 415, 493, 403, 403, 403, 403, 403, 403,
	403, 500, 503, 100,
};

const char *
imgate_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err >= IMGATE_ERR_BASE && err < IMGATE_ERR_LAST)
		return errtext[err - IMGATE_ERR_BASE];
	return "unknown error";
}

int
imgate_sip_status(int err)
{
	if (err == 0)
		return 200;
	if (err >= IMGATE_ERR_BASE && err < IMGATE_ERR_LAST)
		return sipcode[err - IMGATE_ERR_BASE];
	return 500;
}

/* detail - set the context's detail text and cause */
static void
detail(struct imgate_ctx *ctx, int cause, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
detail(struct imgate_ctx *ctx, int cause, const char *fmt, ...)
{
	va_list ap;

	ctx->cause = cause;
	ctx->ext_detail = 0;
	va_start(ap, fmt);
	vsnprintf(ctx->detail, sizeof(ctx->detail), fmt, ap);
	va_end(ap);
}

/* clear_detail - no detail, no cause: a call starts */
static void
clear_detail(struct imgate_ctx *ctx)
{
	ctx->detail[0] = '\0';
	ctx->cause = 0;
	ctx->ext_detail = 0;
}

void
imgate_set_detail(struct imgate_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(ctx->detail, sizeof(ctx->detail), fmt, ap);
	va_end(ap);
	ctx->ext_detail = 1;
}

const char *
imgate_last_detail(const struct imgate_ctx *ctx)
{
	return ctx != NULL ? ctx->detail : "";
}

int
imgate_last_cause(const struct imgate_ctx *ctx)
{
	return ctx != NULL ? ctx->cause : 0;
}

void
imgate_ctx_kms_calls(const struct imgate_ctx *ctx, uint64_t *requests,
    uint64_t *resolves)
{
	if (requests != NULL)
		*requests = ctx->n_requests;
	if (resolves != NULL)
		*resolves = ctx->n_resolves;
}

/* map_mikey - an IMGATE_ERR_* for a MIKEY_ERR_* of local processing */
static int
map_mikey(int rc)
{
	switch (rc) {
	case MIKEY_ERR_NOMEM:
		return IMGATE_ERR_NOMEM;
	case MIKEY_ERR_CRYPTO:
	case MIKEY_ERR_INVAL:
		return IMGATE_ERR_INTERNAL;
	case MIKEY_ERR_AUTH:
		return IMGATE_ERR_UNDECIPHERABLE;
	case MIKEY_ERR_TS:
		return IMGATE_ERR_TIMESTAMP;
	case MIKEY_ERR_REPLAY:
		return IMGATE_ERR_REPLAY;
	case MIKEY_ERR_TOO_OLD:
		return IMGATE_ERR_TOO_OLD;
	case MIKEY_ERR_EXPIRED:
		return IMGATE_ERR_EXPIRED;
	case MIKEY_ERR_POLICY:
	case MIKEY_ERR_TICKET_TYPE:
	case MIKEY_ERR_KEY_VERSION:
		return IMGATE_ERR_POLICY;
	case MIKEY_ERR_MISMATCH:	/* IDRi is not the ticket's */
		return IMGATE_ERR_IDENTITY;
	case MIKEY_ERR_NOT_AUTHORISED:
		return IMGATE_ERR_NOT_AUTHORISED;
	default:			/* codec errors, PRF, ALG */
		return IMGATE_ERR_MALFORMED;
	}
}

/*
 * map_peer - an IMGATE_ERR_* for the ERR payload of a KMS refusal.
 *	ERR 0 (authentication failed) answers both a wrong PSK and a ticket
 *	whose MAC does not verify, and the Error message is not
 *	authenticated, so the two cannot be told apart: for a request only
 *	our credential is in question (CREDENTIAL), for a resolve it may be
 *	a forged or damaged ticket, which the sender must see as such.
 */
static int
map_peer(int perr, int resolving)
{
	switch (perr) {
	case MIKEY_EN_AUTH:
		return resolving ? IMGATE_ERR_UNDECIPHERABLE :
		    IMGATE_ERR_CREDENTIAL;
	case MIKEY_EN_ID:
		return IMGATE_ERR_CREDENTIAL;
	case MIKEY_EN_TS:
		return IMGATE_ERR_EXPIRED;
	case MIKEY_EN_UNSPEC:
		return IMGATE_ERR_NOT_AUTHORISED;
	case MIKEY_EN_TICKET:
	case MIKEY_EN_TPPAR:
	case MIKEY_EN_SP:
	case MIKEY_EN_SPPAR:
		return IMGATE_ERR_POLICY;
	default:	/* the KMS cannot handle what we send */
		return IMGATE_ERR_KMS_UNAVAILABLE;
	}
}

/* map_smime - an IMGATE_ERR_* for an SMIME_ERR_* */
static int
map_smime(int rc)
{
	switch (rc) {
	case SMIME_ERR_NOMEM:
		return IMGATE_ERR_NOMEM;
	case SMIME_ERR_INVAL:
		return IMGATE_ERR_INVAL;
	case SMIME_ERR_CRYPTO:
		return IMGATE_ERR_INTERNAL;
	case SMIME_ERR_TOO_BIG:
		return IMGATE_ERR_TOO_BIG;
	case SMIME_ERR_CONTENT_TYPE:
		return IMGATE_ERR_CONTENT_TYPE;
	case SMIME_ERR_UNKNOWN_KEY:
	case SMIME_ERR_UNWRAP:
	case SMIME_ERR_TAG:
		return IMGATE_ERR_UNDECIPHERABLE;
	case SMIME_ERR_BAD_SIGNATURE:
	case SMIME_ERR_UNTRUSTED:
	case SMIME_ERR_UNSIGNED:
		return IMGATE_ERR_SIGNATURE;
	case SMIME_ERR_IDENTITY:
		return IMGATE_ERR_IDENTITY;
	default:	/* DER, NOT_AUTH_ENVELOPED, UNSUPPORTED, MIME, CPIM, ... */
		return IMGATE_ERR_MALFORMED;
	}
}

/* ---------------------------------------------------------------------- */
/* Clock, RNG, small helpers */

int64_t
imgate_now_ns(const struct imgate_ctx *ctx)
{
	struct timespec ts;

	if (ctx->clk != NULL)
		return ctx->clk(ctx->clk_arg);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* now_s - the context's clock in Unix seconds */
static int64_t
now_s(const struct imgate_ctx *ctx)
{
	int64_t ns = imgate_now_ns(ctx);

	return ns >= 0 ? ns / 1000000000 : -((-ns + 999999999) / 1000000000);
}

/* env_now - mikey_clock_cb over the context's clock */
static uint64_t
env_now(void *arg)
{
	int64_t ns = imgate_now_ns(arg), s, r;

	s = ns / 1000000000;
	r = ns % 1000000000;
	if (r < 0) {
		s--;
		r += 1000000000;
	}
	return mikey_ntp_from_unix(s, (uint32_t)r);
}

/* env_rand - mikey_rand_cb over the context's RNG */
static int
env_rand(void *arg, uint8_t *buf, size_t len)
{
	struct imgate_ctx *ctx = arg;

	if (ctx->rnd != NULL)
		return ctx->rnd(ctx->rnd_arg, buf, len);
	/* OpenSSL's DRBG costs ~6,000 instructions a call, whatever the
	 * length: serve the short requests (RANDs, ids, boundaries) from a
	 * pool filled by one call; bytes handed out are wiped from it */
	if (len > sizeof(ctx->rpool) / 4)
		return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
	if (ctx->rpool_left < len) {
		if (RAND_bytes(ctx->rpool, (int)sizeof(ctx->rpool)) != 1) {
			ctx->rpool_left = 0;
			return -1;
		}
		ctx->rpool_left = sizeof(ctx->rpool);
	}
	ctx->rpool_left -= len;
	memcpy(buf, ctx->rpool + ctx->rpool_left, len);
	OPENSSL_cleanse(ctx->rpool + ctx->rpool_left, len);
	return 0;
}

/* wipe_free - wipe n bytes at p (malloc'd) and free it; NULL is a no-op */
static void
wipe_free(void *p, size_t n)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, n);
	free(p);
}

/* ntp_s - NTP-UTC to Unix seconds, 0 stays 0 (unbounded) */
static int64_t
ntp_s(uint64_t ntp)
{
	return ntp == 0 ? 0 : mikey_ntp_to_unix(ntp);
}

/* uri_ok - an identity URI: "scheme:rest", printable, no space */
static int
uri_ok(const char *u)
{
	size_t n, i;

	if (u == NULL || (n = strlen(u)) == 0 || n > IMGATE_MAX_URI ||
	    !isalpha((unsigned char)u[0]))
		return 0;
	for (i = 1; i < n && u[i] != ':'; i++)
		if (!isalnum((unsigned char)u[i]) && u[i] != '+' &&
		    u[i] != '-' && u[i] != '.')
			return 0;
	if (i >= n - 1)
		return 0;
	for (; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f ||
		    u[i] == '<' || u[i] == '>' || u[i] == '"')
			return 0;
	return 1;
}

/* id_of - an IDR identity (type URI) aliasing s */
static struct mikey_id
id_of(const char *s)
{
	struct mikey_id id;

	id.type = MIKEY_ID_URI;
	id.data.p = (const uint8_t *)(s != NULL ? s : "");
	id.data.len = s != NULL ? strlen(s) : 0;
	return id;
}

/* id_str - a malloc'd NUL-terminated copy of an identity's bytes */
static char *
id_str(const struct mikey_id *id)
{
	char *s;

	if ((s = malloc(id->data.len + 1)) == NULL)
		return NULL;
	if (id->data.len > 0)
		memcpy(s, id->data.p, id->data.len);
	s[id->data.len] = '\0';
	return s;
}

/* id_printable - the identity is printable ASCII (so it may be a URI) */
static int
id_printable(const struct mikey_id *id)
{
	size_t i;

	if (id->data.len == 0 || id->data.len > IMGATE_MAX_URI)
		return 0;
	for (i = 0; i < id->data.len; i++)
		if (id->data.p[i] <= 0x20 || id->data.p[i] >= 0x7f)
			return 0;
	return 1;
}

/* sdup - strdup that keeps NULL */
static int
sdup(const char *s, char **out)
{
	*out = NULL;
	if (s == NULL)
		return 0;
	return (*out = strdup(s)) != NULL ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* Context */

void
imgate_init(void)
{
	smime_init();
}

void
imgate_opts_init(struct imgate_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->suite = IMGATE_SUITE_128;
	o->ticket_cache = 64;
	o->key_cache = 256;
	o->replay_entries = 10000;
	o->skew = 300;
	o->timeout = 10;
}

int
imgate_ctx_new(const char *identity, const char *kms_url,
    const uint8_t *psk, size_t psk_len, const struct imgate_opts *opts,
    struct imgate_ctx **ctx_out)
{
	struct imgate_ctx *ctx;
	struct imgate_opts def;
	char host[256], port[8], path[IMGATE_MAX_URL];
	size_t nrc;
	int tls;

	if (opts == NULL) {
		imgate_opts_init(&def);
		opts = &def;
	}
	if (ctx_out == NULL || !uri_ok(identity) || kms_url == NULL ||
	    strlen(kms_url) >= IMGATE_MAX_URL ||
	    imgate_url_parse(kms_url, &tls, host, sizeof(host), port, path,
	    sizeof(path)) != 0 || psk == NULL || psk_len < 16 ||
	    psk_len > IMGATE_MAX_PSK)
		return IMGATE_ERR_INVAL;
	if ((opts->suite != IMGATE_SUITE_128 &&
	    opts->suite != IMGATE_SUITE_256) || opts->ticket_cache == 0 ||
	    opts->ticket_cache > 100000 || opts->key_cache == 0 ||
	    opts->key_cache > 100000 || opts->skew > 86400 ||
	    opts->timeout < 0 || opts->timeout > 3600 ||
	    (opts->kms_id != NULL && !uri_ok(opts->kms_id)) ||
	    opts->max_body > SMIME_MAX_MAX_BODY)
		return IMGATE_ERR_INVAL;
	nrc = opts->replay_entries;
	if (nrc == 0)
		nrc = mikey_rcache_entries_for_bytes(opts->replay_bytes);
	if (nrc == 0 || nrc > 100000000)
		return IMGATE_ERR_INVAL;

	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return IMGATE_ERR_NOMEM;
	ctx->o = *opts;
	if (ctx->o.timeout == 0)
		ctx->o.timeout = 10;
	if (ctx->o.max_body == 0)
		ctx->o.max_body = IMGATE_DEFAULT_MAX_BODY;
	ctx->o.replay_entries = nrc;
	if ((ctx->identity = strdup(identity)) == NULL ||
	    (ctx->kms_url = strdup(kms_url)) == NULL ||
	    sdup(opts->kms_id, &ctx->kms_id) != 0 ||
	    sdup(opts->ca_file, &ctx->ca_file) != 0)
		goto nomem;
	ctx->o.kms_id = ctx->kms_id;
	ctx->o.ca_file = ctx->ca_file;
	memcpy(ctx->psk, psk, psk_len);
	ctx->psk_len = psk_len;
	ctx->kek_len = opts->suite == IMGATE_SUITE_256 ? 32 : 16;
	ctx->env.now = env_now;
	ctx->env.now_arg = ctx;
	ctx->env.rand = env_rand;
	ctx->env.rand_arg = ctx;
	ctx->env.skew = ctx->o.skew;
	ctx->tickets = calloc(ctx->o.ticket_cache, sizeof(*ctx->tickets));
	ctx->keys = calloc(ctx->o.key_cache, sizeof(*ctx->keys));
	ctx->rc = mikey_rcache_new(nrc, ctx->o.skew, env_now, ctx);
	if (ctx->tickets == NULL || ctx->keys == NULL || ctx->rc == NULL)
		goto nomem;
	*ctx_out = ctx;
	return 0;
nomem:
	imgate_ctx_free(ctx);
	return IMGATE_ERR_NOMEM;
}

/* tent_free - wipe and free a ticket entry */
static void
tent_free(struct imgate_tent *e)
{
	if (e == NULL)
		return;
	free(e->key);
	mikey_ticket_cleanup(&e->t);
	wipe_free(e, sizeof(*e));
}

/* kent_free - wipe and free a resolved-key entry */
static void
kent_free(struct imgate_kent *e)
{
	if (e == NULL)
		return;
	mikey_resolved_cleanup(&e->keys);
	wipe_free(e, sizeof(*e));
}

/* xchg_new - a KMS exchange of kind with room for its request */
static int
xchg_new(int kind, struct imgate_xchg **out)
{
	struct imgate_xchg *x;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return IMGATE_ERR_NOMEM;
	if ((x->req = malloc(MIKEY_MAX_INIT)) == NULL) {
		free(x);
		return IMGATE_ERR_NOMEM;
	}
	x->kind = kind;
	*out = x;
	return 0;
}

/* xchg_free - wipe and free a KMS exchange; NULL is a no-op */
static void
xchg_free(struct imgate_xchg *x)
{
	if (x == NULL)
		return;
	free(x->req);
	free(x->key);
	free(x->from);
	wipe_free(x->ticket, x->ticket_len);
	if (x->kind == IMGATE_XCHG_REQUEST)
		mikey_i_request_cleanup(&x->st.rq);
	else
		mikey_r_resolve_cleanup(&x->st.rs);
	wipe_free(x, sizeof(*x));
}

void
imgate_ctx_free(struct imgate_ctx *ctx)
{
	struct imgate_xchg *x;
	size_t i;

	if (ctx == NULL)
		return;
	while ((x = ctx->pend) != NULL) {
		ctx->pend = x->next;
		xchg_free(x);
	}
	if (ctx->tickets != NULL)
		for (i = 0; i < ctx->ntickets; i++)
			tent_free(ctx->tickets[i]);
	if (ctx->keys != NULL)
		for (i = 0; i < ctx->nkeys; i++)
			kent_free(ctx->keys[i]);
	free(ctx->tickets);
	free(ctx->keys);
	mikey_rcache_free(ctx->rc);
	free(ctx->holds);
	imgate_http_cleanup(ctx);
	X509_free(ctx->cert);
	EVP_PKEY_free(ctx->pkey);
	sk_X509_pop_free(ctx->chain, X509_free);
	X509_STORE_free(ctx->trust);
	free(ctx->identity);
	free(ctx->kms_url);
	free(ctx->kms_id);
	free(ctx->ca_file);
	OPENSSL_cleanse(ctx, sizeof(*ctx));
	free(ctx);
}

void
imgate_ctx_set_transport(struct imgate_ctx *ctx, imgate_transport_cb cb,
    void *arg)
{
	ctx->tcb = cb;
	ctx->targ = arg;
}

void
imgate_ctx_set_async(struct imgate_ctx *ctx, imgate_async_cb cb, void *arg)
{
	ctx->acb = cb;
	ctx->aarg = arg;
}

void
imgate_ctx_set_clock(struct imgate_ctx *ctx, imgate_clock_cb cb, void *arg)
{
	ctx->clk = cb;
	ctx->clk_arg = arg;
}

void
imgate_ctx_set_rand(struct imgate_ctx *ctx, imgate_rand_cb cb, void *arg)
{
	ctx->rnd = cb;
	ctx->rnd_arg = arg;
}

int
imgate_read_psk_file(const char *path, uint8_t psk[IMGATE_MAX_PSK],
    size_t *psk_len_out)
{
	char buf[1024];
	size_t n, i, k = 0;
	int c, hi = -1, rc = IMGATE_ERR_INVAL;
	FILE *f;

	if (path == NULL || psk == NULL || psk_len_out == NULL ||
	    (f = fopen(path, "r")) == NULL)
		return IMGATE_ERR_INVAL;
	n = fread(buf, 1, sizeof(buf), f);
	if (ferror(f) || !feof(f)) {
		fclose(f);
		goto out;
	}
	fclose(f);
	for (i = 0; i < n; i++) {
		c = (unsigned char)buf[i];
		if (isspace(c))
			continue;
		if (!isxdigit(c) || (hi < 0 && k == IMGATE_MAX_PSK))
			goto out;
		c = isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
		if (hi < 0)
			hi = c;
		else {
			psk[k++] = (uint8_t)(hi << 4 | c);
			hi = -1;
		}
	}
	if (hi >= 0 || k < 16)
		goto out;
	*psk_len_out = k;
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

/* read_pem_certs - every certificate of a PEM file */
static STACK_OF(X509) *
read_pem_certs(const char *path)
{
	STACK_OF(X509) *sk;
	X509 *x;
	BIO *b;

	if ((b = BIO_new_file(path, "r")) == NULL)
		return NULL;
	if ((sk = sk_X509_new_null()) == NULL) {
		BIO_free(b);
		return NULL;
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			break;
		}
	BIO_free(b);
	ERR_clear_error();	/* the read that ended the loop */
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		return NULL;
	}
	return sk;
}

int
imgate_ctx_set_signer(struct imgate_ctx *ctx, const char *cert_pem,
    const char *key_pem, const char *chain_pem)
{
	STACK_OF(X509) *certs = NULL, *chain = NULL;
	EVP_PKEY *pkey = NULL;
	X509 *cert;
	BIO *b;

	if (cert_pem == NULL && key_pem == NULL) {
		X509_free(ctx->cert);
		EVP_PKEY_free(ctx->pkey);
		sk_X509_pop_free(ctx->chain, X509_free);
		ctx->cert = NULL;
		ctx->pkey = NULL;
		ctx->chain = NULL;
		return 0;
	}
	if (cert_pem == NULL || key_pem == NULL)
		return IMGATE_ERR_INVAL;
	if ((certs = read_pem_certs(cert_pem)) == NULL)
		goto bad;
	if ((b = BIO_new_file(key_pem, "r")) == NULL)
		goto bad;
	pkey = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (pkey == NULL || X509_check_private_key(sk_X509_value(certs, 0),
	    pkey) != 1)
		goto bad;
	if (chain_pem != NULL && (chain = read_pem_certs(chain_pem)) == NULL)
		goto bad;
	cert = sk_X509_shift(certs);
	sk_X509_pop_free(certs, X509_free);
	X509_free(ctx->cert);
	EVP_PKEY_free(ctx->pkey);
	sk_X509_pop_free(ctx->chain, X509_free);
	ctx->cert = cert;
	ctx->pkey = pkey;
	ctx->chain = chain;
	return 0;
bad:
	ERR_clear_error();
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(pkey);
	detail(ctx, 0, "cannot load the signing certificate or key");
	return IMGATE_ERR_INVAL;
}

int
imgate_ctx_set_trust(struct imgate_ctx *ctx, const char *ca_pem)
{
	X509_STORE *st;

	if (ca_pem == NULL) {
		X509_STORE_free(ctx->trust);
		ctx->trust = NULL;
		return 0;
	}
	if ((st = X509_STORE_new()) == NULL)
		return IMGATE_ERR_NOMEM;
	if (X509_STORE_load_file(st, ca_pem) != 1) {
		ERR_clear_error();
		X509_STORE_free(st);
		detail(ctx, 0, "cannot load the trust anchors from %s",
		    ca_pem);
		return IMGATE_ERR_INVAL;
	}
	X509_STORE_free(ctx->trust);
	ctx->trust = st;
	return 0;
}

int
imgate_ctx_save_replay(const struct imgate_ctx *ctx, uint8_t **out,
    size_t *out_len)
{
	int rc;

	if (ctx == NULL || out == NULL || out_len == NULL)
		return IMGATE_ERR_INVAL;
	rc = mikey_rcache_serialise(ctx->rc, out, out_len);
	return rc == 0 ? 0 : rc == MIKEY_ERR_NOMEM ? IMGATE_ERR_NOMEM :
	    IMGATE_ERR_INTERNAL;
}

int
imgate_ctx_load_replay(struct imgate_ctx *ctx, const uint8_t *buf,
    size_t len)
{
	int rc;

	if (ctx == NULL || buf == NULL)
		return IMGATE_ERR_INVAL;
	if ((rc = mikey_rcache_load(ctx->rc, buf, len)) != 0) {
		detail(ctx, rc, "replay state: %s", mikey_strerror(rc));
		return rc == MIKEY_ERR_NOMEM ? IMGATE_ERR_NOMEM :
		    IMGATE_ERR_MALFORMED;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The KMS */

/*
 * transport_failed - the detail of an exchange the transport could not
 *	make: the transport's own (imgate_set_detail), else a generic one.
 */
static void
transport_failed(struct imgate_ctx *ctx)
{
	if (!ctx->ext_detail || ctx->detail[0] == '\0')
		detail(ctx, 0, "kms: the transport failed");
	ctx->cause = 0;
	ctx->ext_detail = 0;
}

/*
 * kms_call - one exchange through the synchronous transport; *resp
 *	malloc'd.  IMGATE_ERR_KMS_UNAVAILABLE if the transport failed.
 */
static int
kms_call(struct imgate_ctx *ctx, const uint8_t *req, size_t len,
    uint8_t **resp, size_t *resp_len)
{
	imgate_transport_cb cb = ctx->tcb != NULL ? ctx->tcb :
	    imgate_http_post;
	void *arg = ctx->tcb != NULL ? ctx->targ : ctx;
	uint8_t *r = NULL;
	size_t rl = 0;

	clear_detail(ctx);
	if (cb(arg, ctx->kms_url, req, len, &r, &rl) != 0 || r == NULL) {
		free(r);
		transport_failed(ctx);
		return IMGATE_ERR_KMS_UNAVAILABLE;
	}
	*resp = r;
	*resp_len = rl;
	return 0;
}

/* waiting - IMGATE_ERR_PENDING: the operation waits for exchange id */
static int
waiting(struct imgate_ctx *ctx, uint64_t id)
{
	ctx->pend_id = id;
	detail(ctx, 0, "kms: waiting for exchange %" PRIu64, id);
	return IMGATE_ERR_PENDING;
}

/*
 * pend_wait - asynchronous mode: IMGATE_ERR_PENDING if an exchange of
 *	this kind is under way for the same ticket cache key (a request) or
 *	ticket digest dg (a resolve); else 0: start one.
 */
static int
pend_wait(struct imgate_ctx *ctx, int kind, const char *key,
    const uint8_t *dg)
{
	const struct imgate_xchg *x;

	if (ctx->acb == NULL)
		return 0;
	for (x = ctx->pend; x != NULL; x = x->next)
		if (x->kind == kind && (kind == IMGATE_XCHG_REQUEST ?
		    strcmp(x->key, key) == 0 : memcmp(x->dg, dg, 32) == 0))
			return waiting(ctx, x->id);
	return 0;
}

/*
 * kms_send - send x's request (and free it).  Synchronous transport: the
 *	answer in *resp (malloc'd).  Asynchronous: x goes to the callback
 *	and, started, joins the pending list (the context owns it then):
 *	IMGATE_ERR_PENDING.  On failure x stays the caller's.
 */
static int
kms_send(struct imgate_ctx *ctx, struct imgate_xchg *x, uint8_t **resp,
    size_t *resp_len)
{
	int rc;

	if (ctx->acb != NULL && ctx->npend >= IMGATE_MAX_PENDING) {
		detail(ctx, 0, "kms: %zu exchanges under way, the limit",
		    ctx->npend);
		rc = IMGATE_ERR_KMS_UNAVAILABLE;
		goto out;
	}
	if (x->kind == IMGATE_XCHG_REQUEST)
		ctx->n_requests++;
	else
		ctx->n_resolves++;
	if (ctx->acb == NULL) {
		rc = kms_call(ctx, x->req, x->req_len, resp, resp_len);
		goto out;
	}
	x->id = ++ctx->last_id;
	clear_detail(ctx);
	if (ctx->acb(ctx->aarg, x->id, ctx->kms_url, x->req,
	    x->req_len) != 0) {
		transport_failed(ctx);
		rc = IMGATE_ERR_KMS_UNAVAILABLE;
		goto out;
	}
	x->next = ctx->pend;
	ctx->pend = x;
	ctx->npend++;
	rc = waiting(ctx, x->id);
out:
	free(x->req);
	x->req = NULL;
	return rc;
}

/*
 * kms_answer - the outcome of processing a KMS answer (rc from
 *	mikey_i_request_resp / mikey_r_resolve_resp) as an IMGATE_ERR_*.
 */
static int
kms_answer(struct imgate_ctx *ctx, const char *what, int resolving, int rc,
    int perr, const struct mikey_diag *diag)
{
	char buf[160];

	if (rc == MIKEY_ERR_PEER) {
		detail(ctx, PEER_CAUSE + perr, "kms: %s refused: ERR %d (%s)%s",
		    what, perr, mikey_errno_name((uint8_t)perr),
		    perr == MIKEY_EN_AUTH && resolving ? "; a damaged ticket, "
		    "or our identity/PSK unknown to the KMS" : "");
		return map_peer(perr, resolving);
	}
	if (rc == MIKEY_ERR_NOMEM)
		return IMGATE_ERR_NOMEM;
	if (diag != NULL && diag->err != 0) {
		mikey_diag_format(diag, buf, sizeof(buf));
		detail(ctx, rc, "kms: %s answer unusable: %s", what, buf);
	} else
		detail(ctx, rc, "kms: %s answer unusable: %s", what,
		    mikey_strerror(rc));
	return IMGATE_ERR_KMS_UNAVAILABLE;
}

/* ---------------------------------------------------------------------- */
/* The ticket cache (wrap) */

/* cmp_str - qsort comparator for char * */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * ticket_key - "from LF r1 LF r2 ..." with the recipients sorted and
 *	duplicates dropped; malloc'd.  *nuniq gets the number kept, their
 *	order in uniq.
 */
static char *
ticket_key(const char *from, const char *const *rcpt, size_t n,
    const char **uniq, size_t *nuniq)
{
	const char *s[IMGATE_MAX_RECIPIENTS];
	size_t i, k = 0, len = strlen(from) + 1;
	char *key, *p;

	memcpy(s, rcpt, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_str);
	for (i = 0; i < n; i++)
		if (k == 0 || strcmp(uniq[k - 1], s[i]) != 0) {
			uniq[k++] = s[i];
			len += strlen(s[i]) + 1;
		}
	*nuniq = k;
	if ((key = p = malloc(len)) == NULL)
		return NULL;
	memcpy(p, from, strlen(from));
	p += strlen(from);
	for (i = 0; i < k; i++) {
		*p++ = '\n';
		memcpy(p, uniq[i], strlen(uniq[i]));
		p += strlen(uniq[i]);
	}
	*p = '\0';
	return key;
}

/* tcache_find - a usable cached ticket for key, or NULL (expired ones are
 *	dropped) */
static struct imgate_tent *
tcache_find(struct imgate_ctx *ctx, const char *key, int64_t now)
{
	struct imgate_tent *e;
	size_t i;

	for (i = 0; i < ctx->ntickets; i++) {
		e = ctx->tickets[i];
		if (strcmp(e->key, key) != 0)
			continue;
		/* a fresh one once even past use_until (a margin as long as
		 * the validity): the wrap that asked for it, given again */
		if (now < e->use_until || (e->fresh && (e->end == 0 ||
		    now < e->end))) {
			e->last = ++ctx->stamp;
			return e;
		}
		tent_free(e);
		ctx->tickets[i] = ctx->tickets[--ctx->ntickets];
		return NULL;
	}
	return NULL;
}

/* tcache_put - insert e, evicting the least recently used if full */
static void
tcache_put(struct imgate_ctx *ctx, struct imgate_tent *e)
{
	size_t i, lru = 0;

	e->last = ++ctx->stamp;
	if (ctx->ntickets < ctx->o.ticket_cache) {
		ctx->tickets[ctx->ntickets++] = e;
		return;
	}
	for (i = 1; i < ctx->ntickets; i++)
		if (ctx->tickets[i]->last < ctx->tickets[lru]->last)
			lru = i;
	tent_free(ctx->tickets[lru]);
	ctx->tickets[lru] = e;
}

/*
 * request_start - the exchange for a ticket for from and the recipients
 *	uniq[0..n) (key: their ticket cache key), its REQUEST_INIT_PSK
 *	built, in *out.
 */
static int
request_start(struct imgate_ctx *ctx, const char *from,
    const char *const *uniq, size_t n, const char *key,
    struct imgate_xchg **out)
{
	struct mikey_request_params rp;
	struct imgate_xchg *x;
	size_t i;
	int rc;

	if ((rc = xchg_new(IMGATE_XCHG_REQUEST, &x)) != 0)
		return rc;
	if ((x->key = strdup(key)) == NULL ||
	    (x->from = strdup(from)) == NULL) {
		xchg_free(x);
		return IMGATE_ERR_NOMEM;
	}
	memset(&rp, 0, sizeof(rp));
	rp.idi = id_of(from);
	rp.idkms = id_of(ctx->kms_id);
	if (strcmp(from, ctx->identity) != 0)
		rp.idpsk = id_of(ctx->identity);	/* act_for */
	rp.psk = ctx->psk;
	rp.psk_len = ctx->psk_len;
	rp.suite = mikey_suite_256;
	rp.flags = MIKEY_TPF_ONEWAY;
	rp.ticket_prf = rp.suite.prf;
	if (ctx->o.ticket_lifetime != 0)
		rp.end = env_now(ctx) +
		    ((uint64_t)ctx->o.ticket_lifetime << 32);
	rp.nresp = n;
	for (i = 0; i < n; i++)
		rp.resp[i] = id_of(uniq[i]);
	rp.nkeys = 1;
	rp.key_type[0] = MIKEY_KEY_TGK;
	rp.key_len[0] = TGK_LEN;
	if ((rc = mikey_i_request_init(&ctx->env, &rp, &x->st.rq, x->req,
	    MIKEY_MAX_INIT, &x->req_len)) != 0) {
		detail(ctx, rc, "mikey: cannot build REQUEST_INIT: %s",
		    mikey_strerror(rc));
		xchg_free(x);
		return map_mikey(rc);
	}
	*out = x;
	return 0;
}

/*
 * request_finish - process the answer to ticket request x: a new entry
 *	for the cache (not in it yet; it takes x's key) in *out.
 */
static int
request_finish(struct imgate_ctx *ctx, struct imgate_xchg *x,
    const uint8_t *resp, size_t resp_len, struct imgate_tent **out)
{
	struct imgate_tent *e;
	struct mikey_payload pl;
	struct mikey_policy pol;
	struct mikey_diag diag;
	const char *from = x->from;
	int64_t now = now_s(ctx), margin;
	int rc, perr = -1;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return IMGATE_ERR_NOMEM;
	memset(&diag, 0, sizeof(diag));
	rc = mikey_i_request_resp(&ctx->env, &x->st.rq, resp, resp_len,
	    &e->t, &perr, &diag);
	if (rc != 0) {
		rc = kms_answer(ctx, "ticket request", 0, rc, perr, &diag);
		goto out;
	}
	/* what was granted: the initiator must be from, the flags ours */
	if (mikey_payload_decode(MIKEY_PT_TICKET, e->t.payload,
	    e->t.payload_len, &pl, NULL) != 0 ||
	    mikey_policy_parse(&pl, &pol, NULL) != 0) {
		detail(ctx, 0, "kms: the granted ticket does not parse");
		rc = IMGATE_ERR_KMS_UNAVAILABLE;
		goto out;
	}
	if (!pol.has_idi || !(pol.idi.data.len == strlen(from) &&
	    memcmp(pol.idi.data.p, from, pol.idi.data.len) == 0)) {
		detail(ctx, 0, "kms: the ticket was granted for another "
		    "initiator");
		rc = IMGATE_ERR_NOT_AUTHORISED;
		goto out;
	}
	if (pol.flags & (MIKEY_TPF_F | MIKEY_TPF_G | MIKEY_TPF_I)) {
		detail(ctx, 0, "kms: the granted ticket needs a "
		    "TRANSFER_RESP (flags 0x%08x)", pol.flags);
		rc = IMGATE_ERR_POLICY;
		goto out;
	}
	e->end = ntp_s(pol.end);
	if (e->end != 0 && e->end <= now) {
		detail(ctx, 0, "kms: the granted ticket has ended already");
		rc = IMGATE_ERR_EXPIRED;
		goto out;
	}
	/* reuse until end - margin (default: half the validity left), so
	 * a message sent with it can still wait for its recipient */
	if (e->end == 0)
		e->use_until = ctx->o.ticket_lifetime != 0 ? now +
		    ctx->o.ticket_lifetime / 2 : INT64_MAX;
	else {
		margin = ctx->o.ticket_margin != 0 ?
		    (int64_t)ctx->o.ticket_margin : (e->end - now) / 2;
		e->use_until = e->end - margin;
	}
	e->key = x->key;
	x->key = NULL;
	e->fresh = 1;
	*out = e;
	e = NULL;
	rc = 0;
out:
	tent_free(e);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* The resolved-key cache (unwrap) */

/* kcache_find - the entry for dg, or NULL (an ended ticket's is dropped) */
static struct imgate_kent *
kcache_find(struct imgate_ctx *ctx, const uint8_t dg[32], int64_t now)
{
	struct imgate_kent *e;
	size_t i;

	for (i = 0; i < ctx->nkeys; i++) {
		e = ctx->keys[i];
		if (memcmp(e->dg, dg, 32) != 0)
			continue;
		if (e->end == 0 || now <= e->end) {
			e->last = ++ctx->stamp;
			return e;
		}
		kent_free(e);
		ctx->keys[i] = ctx->keys[--ctx->nkeys];
		return NULL;
	}
	return NULL;
}

/* kcache_put - insert e, evicting an ended or the least recent entry */
static void
kcache_put(struct imgate_ctx *ctx, struct imgate_kent *e, int64_t now)
{
	size_t i, lru = 0;

	e->last = ++ctx->stamp;
	if (ctx->nkeys < ctx->o.key_cache) {
		ctx->keys[ctx->nkeys++] = e;
		return;
	}
	for (i = 0; i < ctx->nkeys; i++) {
		if (ctx->keys[i]->end != 0 && ctx->keys[i]->end < now) {
			lru = i;
			break;
		}
		if (ctx->keys[i]->last < ctx->keys[lru]->last)
			lru = i;
	}
	kent_free(ctx->keys[lru]);
	ctx->keys[lru] = e;
}

/*
 * resolve_start - the exchange that resolves tx's ticket (digest dg): its
 *	RESOLVE_INIT_PSK built and a copy of the TICKET payload (tx aliases
 *	the caller's message), in *out.
 */
static int
resolve_start(struct imgate_ctx *ctx, const struct mikey_r_transfer *tx,
    const uint8_t dg[32], struct imgate_xchg **out)
{
	struct mikey_cred me;
	struct imgate_xchg *x;
	int rc;

	if ((rc = xchg_new(IMGATE_XCHG_RESOLVE, &x)) != 0)
		return rc;
	memcpy(x->dg, dg, sizeof(x->dg));
	if ((x->ticket = malloc(tx->ticket->len)) == NULL) {
		xchg_free(x);
		return IMGATE_ERR_NOMEM;
	}
	memcpy(x->ticket, tx->msg.raw.p + tx->ticket->off, tx->ticket->len);
	x->ticket_len = tx->ticket->len;
	memset(&me, 0, sizeof(me));
	me.id = id_of(ctx->identity);
	me.idkms = id_of(ctx->kms_id);
	me.psk = ctx->psk;
	me.psk_len = ctx->psk_len;
	me.suite = mikey_suite_256;
	if ((rc = mikey_r_resolve_init(&ctx->env, tx, &me, &x->st.rs, x->req,
	    MIKEY_MAX_INIT, &x->req_len)) != 0) {
		detail(ctx, rc, "mikey: cannot build RESOLVE_INIT: %s",
		    mikey_strerror(rc));
		xchg_free(x);
		return map_mikey(rc);
	}
	*out = x;
	return 0;
}

/*
 * resolve_finish - process the answer to resolve x: the keys in a new
 *	entry (not in the cache yet) in *out.  The answer is for the bare
 *	ticket, rebuilt from x's copy: V of the message comes after.
 */
static int
resolve_finish(struct imgate_ctx *ctx, struct imgate_xchg *x,
    const uint8_t *resp, size_t resp_len, struct imgate_kent **out)
{
	struct mikey_r_transfer *bare;
	struct imgate_kent *e;
	struct mikey_diag diag;
	int rc, perr = -1;

	bare = calloc(1, sizeof(*bare));
	e = calloc(1, sizeof(*e));
	if (bare == NULL || e == NULL) {
		rc = IMGATE_ERR_NOMEM;
		goto out;
	}
	memset(&diag, 0, sizeof(diag));
	if ((rc = mikey_r_ticket_parse(&ctx->env, x->ticket, x->ticket_len,
	    bare, &diag)) != 0) {
		detail(ctx, rc, "mikey: the ticket: %s", mikey_strerror(rc));
		rc = map_mikey(rc);
		goto out;
	}
	rc = mikey_r_resolve_resp(&ctx->env, &x->st.rs, bare, resp, resp_len,
	    &e->keys, &perr, &diag);
	if (rc != 0) {
		rc = kms_answer(ctx, "ticket resolve", 1, rc, perr, &diag);
		goto out;
	}
	memcpy(e->dg, x->dg, sizeof(e->dg));
	e->end = ntp_s(bare->pol.end);
	e->fresh = 1;
	*out = e;
	e = NULL;
out:
	free(bare);
	kent_free(e);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* KMS exchanges, synchronous and asynchronous */

/*
 * xchg_finish - process the answer to x: its ticket into the ticket
 *	cache (*te, if te is not NULL, gets the entry) or its keys into the
 *	resolved-key cache (*ke).
 */
static int
xchg_finish(struct imgate_ctx *ctx, struct imgate_xchg *x,
    const uint8_t *resp, size_t resp_len, struct imgate_tent **te,
    struct imgate_kent **ke)
{
	struct imgate_tent *t = NULL;
	struct imgate_kent *k = NULL;
	int rc;

	if (x->kind == IMGATE_XCHG_REQUEST) {
		if ((rc = request_finish(ctx, x, resp, resp_len, &t)) != 0)
			return rc;
		tcache_put(ctx, t);
		if (te != NULL)
			*te = t;
		return 0;
	}
	if ((rc = resolve_finish(ctx, x, resp, resp_len, &k)) != 0)
		return rc;
	kcache_put(ctx, k, now_s(ctx));
	if (ke != NULL)
		*ke = k;
	return 0;
}

/*
 * kms_run - make the exchange x (taken): synchronously, the new cache
 *	entry in *te or *ke; asynchronously, IMGATE_ERR_PENDING.
 */
static int
kms_run(struct imgate_ctx *ctx, struct imgate_xchg *x,
    struct imgate_tent **te, struct imgate_kent **ke)
{
	uint8_t *resp = NULL;
	size_t resp_len = 0;
	int rc;

	if ((rc = kms_send(ctx, x, &resp, &resp_len)) == IMGATE_ERR_PENDING)
		return rc;		/* x is the context's now */
	if (rc == 0)
		rc = xchg_finish(ctx, x, resp, resp_len, te, ke);
	free(resp);
	xchg_free(x);
	return rc;
}

/*
 * kms_ticket - a new ticket for from and uniq[0..n) (key: their ticket
 *	cache key): in the cache and in *out, or IMGATE_ERR_PENDING.
 */
static int
kms_ticket(struct imgate_ctx *ctx, const char *from,
    const char *const *uniq, size_t n, const char *key,
    struct imgate_tent **out)
{
	struct imgate_xchg *x = NULL;
	int rc;

	if ((rc = pend_wait(ctx, IMGATE_XCHG_REQUEST, key, NULL)) != 0 ||
	    (rc = request_start(ctx, from, uniq, n, key, &x)) != 0)
		return rc;
	return kms_run(ctx, x, out, NULL);
}

/*
 * kms_resolve - the keys of tx's ticket (digest dg) from the KMS: in the
 *	cache and in *out, or IMGATE_ERR_PENDING.
 */
static int
kms_resolve(struct imgate_ctx *ctx, const struct mikey_r_transfer *tx,
    const uint8_t dg[32], struct imgate_kent **out)
{
	struct imgate_xchg *x = NULL;
	int rc;

	if ((rc = pend_wait(ctx, IMGATE_XCHG_RESOLVE, NULL, dg)) != 0 ||
	    (rc = resolve_start(ctx, tx, dg, &x)) != 0)
		return rc;
	return kms_run(ctx, x, NULL, out);
}

uint64_t
imgate_pending_id(const struct imgate_ctx *ctx)
{
	return ctx != NULL ? ctx->pend_id : 0;
}

size_t
imgate_ctx_pending(const struct imgate_ctx *ctx)
{
	return ctx != NULL ? ctx->npend : 0;
}

int
imgate_kms_done(struct imgate_ctx *ctx, uint64_t id, int ok,
    const uint8_t *resp, size_t resp_len)
{
	struct imgate_xchg **pp, *x;
	int rc;

	if (ctx == NULL)
		return IMGATE_ERR_INVAL;
	for (pp = &ctx->pend; (x = *pp) != NULL && x->id != id; pp = &x->next)
		;
	if (x == NULL) {
		detail(ctx, 0, "kms: no exchange %" PRIu64 " under way", id);
		return IMGATE_ERR_INVAL;
	}
	*pp = x->next;
	ctx->npend--;
	if (!ok || resp == NULL) {
		transport_failed(ctx);
		rc = IMGATE_ERR_KMS_UNAVAILABLE;
	} else {
		clear_detail(ctx);
		rc = xchg_finish(ctx, x, resp, resp_len, NULL, NULL);
	}
	xchg_free(x);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Wrap */


/* make_boundary - a random multipart boundary from the context's RNG */
static int
make_boundary(struct imgate_ctx *ctx, char *b, size_t cap)
{
	static const char al[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	uint8_t r[24];
	size_t i, k;

	if (cap < sizeof("imgate-") + sizeof(r) ||
	    env_rand(ctx, r, sizeof(r)) != 0)
		return -1;
	k = (size_t)snprintf(b, cap, "imgate-");
	for (i = 0; i < sizeof(r); i++)
		b[k++] = al[(r[i] < 248 ? r[i] : r[i] - 248) % 62];
	b[k] = '\0';
	return 0;
}

int
imgate_wrap(struct imgate_ctx *ctx, const char *from,
    const char *const *rcpt, size_t nrcpt, const char *content_type,
    const uint8_t *body, size_t len, uint8_t **out_body, size_t *out_len,
    char **out_content_type)
{
	return imgate_wrap_cc(ctx, from, rcpt, nrcpt, NULL, 0, content_type,
	    body, len, out_body, out_len, out_content_type);
}

int
imgate_wrap_cc(struct imgate_ctx *ctx, const char *from,
    const char *const *rcpt, size_t nrcpt, const char *const *cc, size_t ncc,
    const char *content_type, const uint8_t *body, size_t len,
    uint8_t **out_body, size_t *out_len, char **out_content_type)
{
	static const uint8_t ps0[1] = { 0 };
	const char *uniq[IMGATE_MAX_RECIPIENTS];
	struct imgate_wrap_scratch *s;
	struct imgate_tent *e;
	struct mikey_sp_param spp[3];
	struct smime_protect_args pa;
	struct smime_signer signer;
	struct smime_kek kek;
	struct smime_mp_in parts[2];
	uint8_t *der = NULL, *mp = NULL;
	static const uint8_t zero = 0;
	uint8_t keylen;
	char *key = NULL, *ct = NULL, boundary[64];
	size_t i, nuniq, der_len = 0, mp_len = 0, msg_len, spp_len;
	int rc;

	if (ctx == NULL)
		return IMGATE_ERR_INVAL;
	clear_detail(ctx);
	if (!uri_ok(from) || rcpt == NULL || nrcpt == 0 ||
	    nrcpt > IMGATE_MAX_RECIPIENTS || content_type == NULL ||
	    (body == NULL && len != 0) || out_body == NULL ||
	    out_len == NULL || out_content_type == NULL) {
		detail(ctx, 0, "wrap: invalid argument");
		return IMGATE_ERR_INVAL;
	}
	for (i = 0; i < nrcpt; i++)
		if (!uri_ok(rcpt[i])) {
			detail(ctx, 0, "wrap: recipient %zu is not a URI", i);
			return IMGATE_ERR_INVAL;
		}
	if (ncc > IMGATE_MAX_ADDRS || (ncc > 0 && cc == NULL)) {
		detail(ctx, 0, "wrap: %zu cc addresses", ncc);
		return IMGATE_ERR_INVAL;
	}
	for (i = 0; i < ncc; i++)
		if (!uri_ok(cc[i])) {
			detail(ctx, 0, "wrap: cc %zu is not a URI", i);
			return IMGATE_ERR_INVAL;
		}
	if (len > ctx->o.max_body) {
		detail(ctx, 0, "wrap: body of %zu bytes, limit %zu", len,
		    ctx->o.max_body);
		return IMGATE_ERR_TOO_BIG;
	}

	/* 1. the ticket */
	if ((key = ticket_key(from, rcpt, nrcpt, uniq, &nuniq)) == NULL)
		return IMGATE_ERR_NOMEM;
	if ((e = tcache_find(ctx, key, now_s(ctx))) == NULL &&
	    (rc = kms_ticket(ctx, from, uniq, nuniq, key, &e)) != 0)
		goto out;
	e->fresh = 0;

	/* 2. the TRANSFER_INIT and its TEK (the scratch is the context's:
	 * it is large, and only its TEK is secret) */
	s = &ctx->ws;
	memset(&s->tp, 0, sizeof(s->tp));
	keylen = (uint8_t)ctx->kek_len;
	spp[0].type = SPP_ALG;
	spp[0].value = (struct mikey_bytes){ &zero, 1 };
	spp[1].type = SPP_KEYLEN;
	spp[1].value = (struct mikey_bytes){ &keylen, 1 };
	spp[2].type = SPP_WRAP;
	spp[2].value = (struct mikey_bytes){ &zero, 1 };
	if ((rc = mikey_sp_params_encode(spp, 3, s->spp, sizeof(s->spp),
	    &spp_len)) != 0) {
		rc = IMGATE_ERR_INTERNAL;
		goto out;
	}
	s->tp.idi = id_of(from);
	s->tp.idr = id_of(nrcpt == 1 ? rcpt[0] : NULL);
	s->tp.suite = mikey_suite_256;
	s->tp.ncs = 1;
	s->tp.cs[0].cs_id = CS_ID;
	s->tp.cs[0].prot_type = MIKEY_PROT_IMGATE_CMS;
	s->tp.cs[0].ps = (struct mikey_bytes){ ps0, 1 };
	s->tp.nsp = 1;
	s->tp.sp[0].policy_no = 0;
	s->tp.sp[0].prot_type = MIKEY_PROT_IMGATE_CMS;
	s->tp.sp[0].params = (struct mikey_bytes){ s->spp, spp_len };
	if ((rc = mikey_i_transfer_init(&ctx->env, &e->t, &s->tp, &s->it,
	    s->msg, sizeof(s->msg), &msg_len)) != 0 ||
	    (rc = mikey_i_transfer_tek(&e->t, &s->it, CS_ID, s->tek,
	    ctx->kek_len)) != 0) {
		detail(ctx, rc, "mikey: TRANSFER_INIT: %s",
		    mikey_strerror(rc));
		rc = map_mikey(rc);
		goto out;
	}
	s->kid[0] = (uint8_t)(s->it.csb_id >> 24);
	s->kid[1] = (uint8_t)(s->it.csb_id >> 16);
	s->kid[2] = (uint8_t)(s->it.csb_id >> 8);
	s->kid[3] = (uint8_t)s->it.csb_id;
	s->kid[4] = CS_ID;

	/* 3. the envelope */
	memset(&pa, 0, sizeof(pa));
	pa.from = from;
	pa.to = rcpt;
	pa.nto = nrcpt;
	pa.cc = cc;
	pa.ncc = ncc;
	pa.datetime = now_s(ctx);
	pa.content_type = content_type;
	pa.body = body;
	pa.body_len = len;
	if (ctx->cert != NULL) {
		memset(&signer, 0, sizeof(signer));
		signer.cert = ctx->cert;
		signer.key = ctx->pkey;
		signer.chain = ctx->chain;
		pa.signer = &signer;
	}
	pa.cipher = ctx->kek_len == 32 ? SMIME_AES_256_GCM : SMIME_AES_128_GCM;
	kek.id = s->kid;
	kek.id_len = KID_LEN;
	kek.key = s->tek;
	kek.key_len = ctx->kek_len;
	pa.keks = &kek;
	pa.nkeks = 1;
	pa.max_body = ctx->o.max_body;
	if ((rc = smime_protect(&pa, &der, &der_len)) != 0) {
		detail(ctx, rc, "smime: %s", smime_strerror(rc));
		rc = map_smime(rc);
		goto out;
	}

	/* 4. the SIP body */
	parts[0].content_type = SMIME_CT_MIKEY;
	parts[0].disposition = SMIME_DISP_MIKEY;
	parts[0].body = s->msg;
	parts[0].len = msg_len;
	parts[1].content_type = SMIME_CT_AUTH_ENVELOPED;
	parts[1].disposition = SMIME_DISP_P7M;
	parts[1].body = der;
	parts[1].len = der_len;
	if (make_boundary(ctx, boundary, sizeof(boundary)) != 0) {
		rc = IMGATE_ERR_INTERNAL;
		goto out;
	}
	rc = smime_multipart_build(parts, 2, boundary, ctx->o.max_body +
	    2 * SMIME_OVERHEAD, &mp, &mp_len, &ct);
	if (rc == SMIME_ERR_INVAL)	/* the boundary is in a part */
		rc = smime_multipart_build(parts, 2, NULL, ctx->o.max_body +
		    2 * SMIME_OVERHEAD, &mp, &mp_len, &ct);
	if (rc != 0) {
		detail(ctx, rc, "smime: multipart: %s", smime_strerror(rc));
		rc = map_smime(rc);
		goto out;
	}
	*out_body = mp;
	*out_len = mp_len;
	*out_content_type = ct;
	rc = 0;
out:
	free(key);
	free(der);
	OPENSSL_cleanse(ctx->ws.tek, sizeof(ctx->ws.tek));
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Unwrap */

/* kek_cb - smime_kek_cb: the TEK for exactly this TRANSFER_INIT's id */
static int
kek_cb(void *arg, const uint8_t *id, size_t id_len,
    uint8_t kek[SMIME_MAX_KEK], size_t *kek_len_out)
{
	const struct imgate_unwrap_scratch *s = arg;

	if (id_len != KID_LEN || memcmp(id, s->kid, KID_LEN) != 0)
		return -1;
	memcpy(kek, s->tek, s->tek_len);
	*kek_len_out = s->tek_len;
	return 0;
}

/*
 * check_profile - what we accept beyond mikey_r_transfer_parse: the
 *	one-way flags, a ticket initiator, one crypto session of prot type
 *	241 on a GENERIC-ID map, the SP's key length.  *keylen gets the TEK
 *	length, *cs_id the session.
 */
static int
check_profile(struct imgate_ctx *ctx, const struct mikey_r_transfer *x,
    size_t *keylen, uint8_t *cs_id)
{
	const struct mikey_payload *sp;
	struct mikey_sp_param p[MIKEY_MAX_SPPARAMS];
	size_t np, i, nth;

	if (x->pol.flags & (MIKEY_TPF_F | MIKEY_TPF_G | MIKEY_TPF_I)) {
		detail(ctx, 0, "mikey: the ticket asks for a TRANSFER_RESP "
		    "(flags 0x%08x)", x->pol.flags);
		return IMGATE_ERR_POLICY;
	}
	if (!x->pol.has_idi || !id_printable(&x->pol.idi)) {
		detail(ctx, 0, "mikey: the ticket names no initiator URI");
		return IMGATE_ERR_POLICY;
	}
	if (x->msg.hdr.map_type != MIKEY_MAP_GENERIC || x->msg.hdr.ncs != 1 ||
	    x->msg.hdr.cs[0].prot_type != MIKEY_PROT_IMGATE_CMS) {
		detail(ctx, 0, "mikey: not one CMS crypto session (prot type "
		    "%d)", MIKEY_PROT_IMGATE_CMS);
		return IMGATE_ERR_MALFORMED;
	}
	*cs_id = x->msg.hdr.cs[0].cs_id;
	*keylen = ctx->kek_len;
	for (nth = 0; (sp = mikey_chain_find(&x->msg.body, MIKEY_PT_SP, -1,
	    nth)) != NULL; nth++) {
		if (sp->u.sp.prot_type != MIKEY_PROT_IMGATE_CMS)
			continue;
		if (mikey_sp_params_decode(sp->u.sp.params, p,
		    MIKEY_MAX_SPPARAMS, &np, NULL) != 0)
			goto bad;
		for (i = 0; i < np; i++) {
			if (p[i].value.len != 1)
				goto bad;
			switch (p[i].type) {
			case SPP_ALG:
			case SPP_WRAP:
				if (p[i].value.p[0] != 0)
					goto bad;
				break;
			case SPP_KEYLEN:
				if (p[i].value.p[0] != 16 &&
				    p[i].value.p[0] != 32)
					goto bad;
				*keylen = p[i].value.p[0];
				break;
			default:
				goto bad;
			}
		}
	}
	return 0;
bad:
	detail(ctx, 0, "mikey: SP parameters of the CMS session not "
	    "supported");
	return IMGATE_ERR_POLICY;
}
/* steal - move a string out of an smime_msg field */
static char *
steal(char **p)
{
	char *s = *p;

	*p = NULL;
	return s;
}

/*
 * parse_protected - the checks of a protected body that need no key
 *	(unwrap steps 1 and 2): size, the two parts, the TRANSFER_INIT's
 *	structure, ticket policy, validity and profile.  x points into body.
 */
static int
parse_protected(struct imgate_ctx *ctx, const char *content_type,
    const uint8_t *body, size_t len, struct smime_mp_body *mp,
    struct mikey_r_transfer *x, size_t *tek_len, uint8_t *cs_id)
{
	struct mikey_diag diag;
	char buf[160];
	int rc;

	if (len > ctx->o.max_body + 2 * SMIME_OVERHEAD) {
		detail(ctx, 0, "unwrap: body of %zu bytes", len);
		return IMGATE_ERR_TOO_BIG;
	}
	if ((rc = smime_multipart_parse(content_type, body, len,
	    ctx->o.max_body + 2 * SMIME_OVERHEAD, mp)) != 0) {
		detail(ctx, rc, "smime: multipart: %s", smime_strerror(rc));
		return map_smime(rc);
	}
	memset(&diag, 0, sizeof(diag));
	if ((rc = mikey_r_transfer_parse(&ctx->env, mp->mikey.body,
	    mp->mikey.len, x, &diag)) != 0) {
		if (diag.err != 0) {
			mikey_diag_format(&diag, buf, sizeof(buf));
			detail(ctx, rc, "mikey: TRANSFER_INIT: %s", buf);
		} else
			detail(ctx, rc, "mikey: TRANSFER_INIT: %s",
			    mikey_strerror(rc));
		return map_mikey(rc);
	}
	return check_profile(ctx, x, tek_len, cs_id);
}

/* id_copy - an identity into a fixed buffer, "" if absent or too long */
static void
id_copy(const struct mikey_id *id, char *out, size_t cap)
{
	out[0] = '\0';
	if (id->data.len > 0 && id->data.len < cap) {
		memcpy(out, id->data.p, id->data.len);
		out[id->data.len] = '\0';
	}
}

int
imgate_inspect(struct imgate_ctx *ctx, const char *content_type,
    const uint8_t *body, size_t len, struct imgate_info *out)
{
	struct smime_mp_body mp;
	struct mikey_r_transfer x;
	size_t tek_len;
	uint8_t cs_id;
	int rc;

	if (ctx == NULL)
		return IMGATE_ERR_INVAL;
	clear_detail(ctx);
	if (content_type == NULL || body == NULL || out == NULL) {
		detail(ctx, 0, "inspect: invalid argument");
		return IMGATE_ERR_INVAL;
	}
	if ((rc = parse_protected(ctx, content_type, body, len, &mp, &x,
	    &tek_len, &cs_id)) != 0)
		return rc;
	memset(out, 0, sizeof(*out));
	id_copy(&x.idi, out->sender, sizeof(out->sender));
	id_copy(&x.idr, out->addressed_to, sizeof(out->addressed_to));
	out->mikey_t = x.t;
	out->sent = ntp_s(x.t);
	out->ticket_end = ntp_s(x.pol.end);
	return 0;
}

#define IMGATE_MAX_HOLDS	65536

/* hold_find - the index of a held digest, or -1 */
static ssize_t
hold_find(const struct imgate_ctx *ctx, const uint8_t *dg)
{
	size_t i;

	for (i = 0; i < ctx->nholds; i++)
		if (memcmp(ctx->holds[i].dg, dg, MIKEY_RC_DIGEST) == 0)
			return (ssize_t)i;
	return -1;
}

/* hold_add - hold (dg, t); its id, 0 if full or out of memory */
static uint64_t
hold_add(struct imgate_ctx *ctx, const uint8_t *dg, uint64_t t)
{
	struct imgate_hold *n;
	size_t cap;

	if (ctx->nholds == ctx->cap_holds) {
		if (ctx->cap_holds >= IMGATE_MAX_HOLDS)
			return 0;
		cap = ctx->cap_holds ? ctx->cap_holds * 2 : 16;
		if ((n = realloc(ctx->holds, cap * sizeof(*n))) == NULL)
			return 0;
		ctx->holds = n;
		ctx->cap_holds = cap;
	}
	memcpy(ctx->holds[ctx->nholds].dg, dg, MIKEY_RC_DIGEST);
	ctx->holds[ctx->nholds].t = t;
	ctx->holds[ctx->nholds].id = ++ctx->next_hold;
	return ctx->holds[ctx->nholds++].id;
}

int
imgate_unwrap_release(struct imgate_ctx *ctx, struct imgate_result *r,
    int delivered)
{
	struct imgate_hold h;
	size_t i;
	int rc;

	if (ctx == NULL || r == NULL || r->hold_id == 0)
		return IMGATE_ERR_INVAL;
	clear_detail(ctx);
	for (i = 0; i < ctx->nholds && ctx->holds[i].id != r->hold_id; i++)
		;
	if (i == ctx->nholds) {
		detail(ctx, 0, "release: no such hold");
		return IMGATE_ERR_INVAL;
	}
	h = ctx->holds[i];
	ctx->holds[i] = ctx->holds[--ctx->nholds];
	r->hold_id = 0;
	if (!delivered)
		return 0;
	if ((rc = mikey_rcache_insert(ctx->rc, h.dg, h.t)) != 0) {
		detail(ctx, rc, "replay cache: %s", mikey_strerror(rc));
		return map_mikey(rc);
	}
	return 0;
}

/*
 * replay_key - the replay cache's key for a TRANSFER_INIT opened for rcpt:
 *	its digest, or (a relay opening one message for several of its
 *	users: a list's fan-out) the digest of it and rcpt, so that each
 *	recipient has its own entry (design.md 3: the cache is per user)
 */
static int
replay_key(const uint8_t *msg, size_t len, const char *rcpt,
    uint8_t dg[MIKEY_RC_DIGEST])
{
	uint8_t *buf;
	size_t rl;
	int rc;

	if (rcpt == NULL)
		return mikey_rcache_digest(msg, len, dg);
	rl = strlen(rcpt);
	if ((buf = malloc(len + 1 + rl)) == NULL)
		return MIKEY_ERR_NOMEM;
	memcpy(buf, msg, len);
	buf[len] = '\n';
	memcpy(buf + len + 1, rcpt, rl);
	rc = mikey_rcache_digest(buf, len + 1 + rl, dg);
	free(buf);
	return rc;
}

static int unwrap_common(struct imgate_ctx *, const char *, const char *,
    const char *, const uint8_t *, size_t, int, struct imgate_result **);

int
imgate_unwrap(struct imgate_ctx *ctx, const char *sip_from,
    const char *content_type, const uint8_t *body, size_t len,
    struct imgate_result **out)
{
	return unwrap_common(ctx, NULL, sip_from, content_type, body, len, 0,
	    out);
}

int
imgate_unwrap_hold(struct imgate_ctx *ctx, const char *rcpt,
    const char *sip_from, const char *content_type, const uint8_t *body,
    size_t len, struct imgate_result **out)
{
	return unwrap_common(ctx, rcpt, sip_from, content_type, body, len, 1,
	    out);
}

static int
unwrap_common(struct imgate_ctx *ctx, const char *rcpt, const char *sip_from,
    const char *content_type, const uint8_t *body, size_t len, int hold,
    struct imgate_result **out)
{
	uint64_t hold_id = 0;
	struct imgate_unwrap_scratch *s;
	struct smime_mp_body mp;
	struct smime_verify_opts vo;
	struct smime_msg *msg = NULL;
	struct imgate_result *r = NULL;
	struct imgate_kent *e;
	uint8_t tdg[32], rdg[MIKEY_RC_DIGEST];
	char *sender = NULL;
	const uint8_t *tp;
	int64_t now;
	size_t i;
	uint8_t cs_id;
	int rc, called = 0;

	if (ctx == NULL)
		return IMGATE_ERR_INVAL;
	clear_detail(ctx);
	now = now_s(ctx);
	if (content_type == NULL || body == NULL || out == NULL) {
		detail(ctx, 0, "unwrap: invalid argument");
		return IMGATE_ERR_INVAL;
	}
	/* 1. the two parts; 2. the TRANSFER_INIT, before any key */
	s = &ctx->us;		/* large; only its TEK is secret */
	if ((rc = parse_protected(ctx, content_type, body, len, &mp, &s->x,
	    &s->tek_len, &cs_id)) != 0)
		goto out;

	/* 3. the ticket's keys: cached, or resolved at the KMS */
	tp = s->x.msg.raw.p + s->x.ticket->off;
	if (s->x.ticket->len < 2 || mikey_sha256(tp + 1, s->x.ticket->len - 1,
	    tdg) != 0) {
		rc = IMGATE_ERR_INTERNAL;
		goto out;
	}
	if ((e = kcache_find(ctx, tdg, now)) == NULL &&
	    (rc = kms_resolve(ctx, &s->x, tdg, &e)) != 0)
		goto out;	/* PENDING too: the replay cache untouched */
	called = e->fresh;
	e->fresh = 0;

	/* 4. V, then the replay cache (checked now, inserted at the end) */
	if ((rc = mikey_r_transfer_verify(&s->x, &e->keys)) != 0) {
		detail(ctx, rc, "mikey: TRANSFER_INIT V: %s",
		    mikey_strerror(rc));
		rc = rc == MIKEY_ERR_AUTH ? IMGATE_ERR_UNDECIPHERABLE :
		    map_mikey(rc);
		goto out;
	}
	if ((rc = replay_key(mp.mikey.body, mp.mikey.len, rcpt, rdg)) != 0 ||
	    (rc = mikey_rcache_check(ctx->rc, rdg, s->x.t)) != 0) {
		detail(ctx, rc, "replay cache: %s", mikey_strerror(rc));
		rc = map_mikey(rc);
		goto out;
	}
	if (hold_find(ctx, rdg) >= 0) {
		detail(ctx, 0, "replay cache: the same message is being "
		    "delivered");
		rc = IMGATE_ERR_REPLAY;
		goto out;
	}

	/* 5. the envelope, with the TEK of this message as KEK */
	if ((rc = mikey_r_transfer_tek(&s->x, &e->keys, NULL, cs_id, s->tek,
	    s->tek_len)) != 0) {
		detail(ctx, rc, "mikey: TEK: %s", mikey_strerror(rc));
		rc = map_mikey(rc);
		goto out;
	}
	s->kid[0] = (uint8_t)(s->x.msg.hdr.csb_id >> 24);
	s->kid[1] = (uint8_t)(s->x.msg.hdr.csb_id >> 16);
	s->kid[2] = (uint8_t)(s->x.msg.hdr.csb_id >> 8);
	s->kid[3] = (uint8_t)s->x.msg.hdr.csb_id;
	s->kid[4] = cs_id;
	if ((sender = id_str(&s->x.pol.idi)) == NULL) {
		rc = IMGATE_ERR_NOMEM;
		goto out;
	}
	memset(&vo, 0, sizeof(vo));
	vo.trust = ctx->trust;
	vo.allow_unsigned = !ctx->o.require_signature;
	vo.expected_sender = sender;
	vo.max_body = ctx->o.max_body;
	/* the part's type was checked by the multipart parse (pkcs7-mime);
	 * the CMS content type decides (AuthEnvelopedData only) */
	if ((rc = smime_unprotect(mp.cms.body, mp.cms.len, NULL, kek_cb, s,
	    &vo, &msg)) != 0) {
		if (rc == SMIME_ERR_IDENTITY && msg != NULL)
			detail(ctx, rc, "smime: identities differ (mismatch "
			    "0x%x)", msg->mismatch);
		else
			detail(ctx, rc, "smime: %s", smime_strerror(rc));
		rc = map_smime(rc);
		if (rc == IMGATE_ERR_INVAL)
			rc = IMGATE_ERR_INTERNAL;
		goto out;
	}

	/* 6. accepted: into the replay cache (or held), then the result */
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		rc = IMGATE_ERR_NOMEM;
		goto out;
	}
	if (hold) {
		if ((hold_id = hold_add(ctx, rdg, s->x.t)) == 0) {
			detail(ctx, 0, "unwrap: %d messages held already",
			    IMGATE_MAX_HOLDS);
			rc = IMGATE_ERR_INTERNAL;
			goto out;
		}
	} else if ((rc = mikey_rcache_insert(ctx->rc, rdg, s->x.t)) != 0) {
		detail(ctx, rc, "replay cache: %s", mikey_strerror(rc));
		rc = map_mikey(rc);
		goto out;
	}
	r->content_type = steal(&msg->content_type);
	r->body = msg->body;
	r->body_len = msg->body_len;
	msg->body = NULL;
	msg->body_len = 0;
	r->entity_type = steal(&msg->entity_type);
	r->entity = msg->entity_body;
	r->entity_len = msg->entity_body_len;
	msg->entity_body = NULL;
	msg->entity_body_len = 0;
	r->sender = sender;
	sender = NULL;
	if (msg->is_signed && msg->verified_sender != NULL)
		r->signer = steal(&msg->verified_sender);
	r->differs_from_sip_from = sip_from != NULL &&
	    !smime_uri_equal(sip_from, r->sender);
	r->cpim_from = steal(&msg->from);
	for (i = 0; i < msg->nto && i < IMGATE_MAX_ADDRS; i++)
		r->to[r->nto++] = steal(&msg->to[i]);
	for (i = 0; i < msg->ncc && i < IMGATE_MAX_ADDRS; i++)
		r->cc[r->ncc++] = steal(&msg->cc[i]);
	r->datetime = msg->datetime;
	if (s->x.idr.data.len > 0 &&
	    (r->addressed_to = id_str(&s->x.idr)) == NULL) {
		rc = IMGATE_ERR_NOMEM;
		goto out;
	}
	r->sent = mikey_ntp_to_unix(s->x.t);
	r->ticket_end = ntp_s(s->x.pol.end);
	r->kms_called = called;
	if (r->content_type == NULL || r->cpim_from == NULL) {
		rc = IMGATE_ERR_INTERNAL;
		goto out;
	}
	r->hold_id = hold_id;
	hold_id = 0;
	*out = r;
	r = NULL;
	rc = 0;
out:
	if (hold_id != 0) {	/* failed after holding: let it go */
		size_t k;

		for (k = 0; k < ctx->nholds; k++)
			if (ctx->holds[k].id == hold_id) {
				ctx->holds[k] = ctx->holds[--ctx->nholds];
				break;
			}
	}
	imgate_result_free(r);
	smime_msg_free(msg);
	free(sender);
	OPENSSL_cleanse(ctx->us.tek, sizeof(ctx->us.tek));
	return rc;
}

int
imgate_open_inner(struct imgate_ctx *ctx, const char *content_type,
    const uint8_t *body, size_t len, struct imgate_result **out)
{
	struct smime_verify_opts vo;
	struct smime_msg *msg = NULL;
	struct imgate_result *r = NULL;
	size_t i;
	int rc;

	if (ctx == NULL)
		return IMGATE_ERR_INVAL;
	clear_detail(ctx);
	if (content_type == NULL || body == NULL || out == NULL) {
		detail(ctx, 0, "open inner: invalid argument");
		return IMGATE_ERR_INVAL;
	}
	memset(&vo, 0, sizeof(vo));
	vo.trust = ctx->trust;
	vo.allow_unsigned = !ctx->o.require_signature;
	vo.max_body = ctx->o.max_body;
	if ((rc = smime_open(content_type, body, len, &vo, &msg)) != 0) {
		detail(ctx, rc, "smime: inner entity: %s", smime_strerror(rc));
		smime_msg_free(msg);
		return map_smime(rc);
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		smime_msg_free(msg);
		return IMGATE_ERR_NOMEM;
	}
	r->content_type = steal(&msg->content_type);
	r->body = msg->body;
	r->body_len = msg->body_len;
	msg->body = NULL;
	msg->body_len = 0;
	r->cpim_from = steal(&msg->from);
	if (msg->is_signed && msg->verified_sender != NULL)
		r->signer = steal(&msg->verified_sender);
	r->sender = r->signer != NULL ? strdup(r->signer) :
	    r->cpim_from != NULL ? strdup(r->cpim_from) : NULL;
	for (i = 0; i < msg->nto && i < IMGATE_MAX_ADDRS; i++)
		r->to[r->nto++] = steal(&msg->to[i]);
	for (i = 0; i < msg->ncc && i < IMGATE_MAX_ADDRS; i++)
		r->cc[r->ncc++] = steal(&msg->cc[i]);
	r->datetime = msg->datetime;
	smime_msg_free(msg);
	if (r->content_type == NULL || r->cpim_from == NULL ||
	    r->sender == NULL) {
		imgate_result_free(r);
		return IMGATE_ERR_INTERNAL;
	}
	*out = r;
	return 0;
}

void
imgate_result_free(struct imgate_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->content_type);
	wipe_free(r->body, r->body_len);
	free(r->entity_type);
	wipe_free(r->entity, r->entity_len);
	free(r->sender);
	free(r->signer);
	free(r->cpim_from);
	for (i = 0; i < r->nto; i++)
		free(r->to[i]);
	for (i = 0; i < r->ncc; i++)
		free(r->cc[i]);
	free(r->addressed_to);
	OPENSSL_cleanse(r, sizeof(*r));
	free(r);
}
