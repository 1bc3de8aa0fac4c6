/*
 * tests/bench/bench_mikey.c - MIKEY library cost against its bare crypto
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 *	tests/bench/bench_mikey [--time S] [SECTION ...]
 *	tests/bench/bench_mikey --callgrind [N [lib|bare|lean]]
 *
 * SECTION: codec, prf, transfer, tek, kms (default: all).  Not a test: it
 * prints figures, it asserts nothing about speed (project rule: timed
 * assertions do not belong in tests).  Build it without sanitizers at -O2
 * (a plain ./configure; make builds it, make check does not run it).
 *
 * For every operation it prints ns/op and ops/s of the library call and,
 * measured in the same run, of a baseline: the bare crypto the operation
 * must do.  The baseline is not written by hand: one call of the operation
 * is traced (this program is linked with -Wl,--wrap on EVP_MAC_init,
 * EVP_MAC_update, EVP_MAC_final, EVP_EncryptInit_ex and
 * EVP_EncryptUpdate, so every HMAC and every AES-CTR the library runs is
 * recorded with its key and data lengths), and the baseline replays that
 * trace: exactly the same number of HMAC (and AES-CTR) invocations over
 * the same byte lengths.  It is replayed two ways:
 *
 *   HMAC()  the one-shot OpenSSL calls (HMAC(); for AES-CTR a fresh
 *           EVP_CIPHER_CTX with EVP_aes_*_ctr()).  In OpenSSL 3 these
 *           fetch the algorithm on every call, so this is what naive
 *           code costs; the target ratio (<= 2.0) is against it;
 *   lean    the cheapest EVP use: algorithms fetched once, one context
 *           per digest kept, only EVP_MAC_init(key)/update/final per
 *           HMAC.  The distance to this is the library's own overhead.
 *
 * Codec operations do no crypto: their baseline is memcpy of the message.
 *
 * Method: clock_gettime(CLOCK_MONOTONIC); the iteration count is
 * calibrated (which warms up) to about --time seconds (default 0.3) per
 * run; library and baselines run interleaved, five runs each, and the
 * median is printed.  Ratios from the same process are what to compare
 * across machines; the absolute figures vary with the (shared) host.
 *
 * Stable instruction counts (callgrind): --callgrind runs only the
 * TRANSFER_INIT build+verify of section "transfer" and its two baselines,
 * N times each (default 1000) after a warm-up, in functions named
 * cg_<what>_<suite> so that callgrind can collect exactly those:
 *
 *	valgrind --tool=callgrind --callgrind-out-file=cg.out \
 *	    --toggle-collect='cg_*' tests/bench/bench_mikey --callgrind
 *	callgrind_annotate --inclusive=yes cg.out | grep ':cg_'
 *
 * and divide each inclusive Ir by N (the program prints N and the traced
 * HMACs).  "lib", "bare" or "lean" after N runs only that one, e.g. for
 * `perf record tests/bench/bench_mikey --callgrind 100000 lib`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mikey/mikey.h"
#include "tests/fuzz/world.h"

#define RUNS		5
#define BUFCAP		4096

static double run_seconds = 0.3;

/* --------------------------------------------------------------------- */
/* The crypto trace (-Wl,--wrap=...) */

enum { EV_HMAC, EV_AES };

struct ev {
	int	 kind;
	size_t	 md_len;	/* HMAC: 20 or 32 */
	size_t	 key_len;
	size_t	 data_len;
};

struct trace {
	size_t		 n;
	int		 overflow;
	struct ev	 ev[96];
};

static struct trace *rec;	/* recording when not NULL */

/* per-context state while recording (contexts are few and short-lived) */
static struct ctx_state {
	const void	*ctx;
	size_t		 key_len, data_len;
} cst[32];

static struct ctx_state *
state_of(const void *ctx)
{
	static size_t next;
	size_t i;

	for (i = 0; i < sizeof(cst) / sizeof(cst[0]); i++)
		if (cst[i].ctx == ctx)
			return &cst[i];
	i = next++ % (sizeof(cst) / sizeof(cst[0]));
	memset(&cst[i], 0, sizeof(cst[i]));
	cst[i].ctx = ctx;
	return &cst[i];
}

static void
emit(int kind, size_t md_len, size_t key_len, size_t data_len)
{
	if (rec->n == sizeof(rec->ev) / sizeof(rec->ev[0])) {
		rec->overflow = 1;
		return;
	}
	rec->ev[rec->n].kind = kind;
	rec->ev[rec->n].md_len = md_len;
	rec->ev[rec->n].key_len = key_len;
	rec->ev[rec->n].data_len = data_len;
	rec->n++;
}

int __real_EVP_MAC_init(EVP_MAC_CTX *, const unsigned char *, size_t,
    const OSSL_PARAM *);
int __real_EVP_MAC_update(EVP_MAC_CTX *, const unsigned char *, size_t);
int __real_EVP_MAC_final(EVP_MAC_CTX *, unsigned char *, size_t *, size_t);
int __real_EVP_EncryptInit_ex(EVP_CIPHER_CTX *, const EVP_CIPHER *,
    ENGINE *, const unsigned char *, const unsigned char *);
int __real_EVP_EncryptUpdate(EVP_CIPHER_CTX *, unsigned char *, int *,
    const unsigned char *, int);
int __wrap_EVP_MAC_init(EVP_MAC_CTX *, const unsigned char *, size_t,
    const OSSL_PARAM *);
int __wrap_EVP_MAC_update(EVP_MAC_CTX *, const unsigned char *, size_t);
int __wrap_EVP_MAC_final(EVP_MAC_CTX *, unsigned char *, size_t *, size_t);
int __wrap_EVP_EncryptInit_ex(EVP_CIPHER_CTX *, const EVP_CIPHER *,
    ENGINE *, const unsigned char *, const unsigned char *);
int __wrap_EVP_EncryptUpdate(EVP_CIPHER_CTX *, unsigned char *, int *,
    const unsigned char *, int);

int
__wrap_EVP_MAC_init(EVP_MAC_CTX *ctx, const unsigned char *key, size_t len,
    const OSSL_PARAM *params)
{
	if (rec != NULL) {
		struct ctx_state *s = state_of(ctx);

		if (key != NULL)
			s->key_len = len;	/* NULL: the same key again */
		s->data_len = 0;
	}
	return __real_EVP_MAC_init(ctx, key, len, params);
}

int
__wrap_EVP_MAC_update(EVP_MAC_CTX *ctx, const unsigned char *data,
    size_t len)
{
	if (rec != NULL)
		state_of(ctx)->data_len += len;
	return __real_EVP_MAC_update(ctx, data, len);
}

int
__wrap_EVP_MAC_final(EVP_MAC_CTX *ctx, unsigned char *out, size_t *outl,
    size_t outsize)
{
	int r = __real_EVP_MAC_final(ctx, out, outl, outsize);

	if (rec != NULL) {
		struct ctx_state *s = state_of(ctx);

		emit(EV_HMAC, *outl, s->key_len, s->data_len);
	}
	return r;
}

int
__wrap_EVP_EncryptInit_ex(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *type,
    ENGINE *impl, const unsigned char *key, const unsigned char *iv)
{
	if (rec != NULL && type != NULL)
		state_of(ctx)->key_len =
		    (size_t)EVP_CIPHER_get_key_length(type);
	return __real_EVP_EncryptInit_ex(ctx, type, impl, key, iv);
}

int
__wrap_EVP_EncryptUpdate(EVP_CIPHER_CTX *ctx, unsigned char *out, int *outl,
    const unsigned char *in, int inl)
{
	if (rec != NULL)
		emit(EV_AES, 0, state_of(ctx)->key_len, (size_t)inl);
	return __real_EVP_EncryptUpdate(ctx, out, outl, in, inl);
}

static void
trace_begin(struct trace *t)
{
	memset(t, 0, sizeof(*t));
	memset(cst, 0, sizeof(cst));
	rec = t;
}

static void
trace_end(void)
{
	if (rec->overflow) {
		fprintf(stderr, "bench_mikey: trace overflow\n");
		exit(1);
	}
	rec = NULL;
}

/* trace_text - "6 HMAC (SHA-1 k16 d28, ...) + 2 AES-CTR (k16 d50)" */
static void
trace_text(const struct trace *t, char *buf, size_t len)
{
	size_t i, nh = 0, na = 0, o;

	for (i = 0; i < t->n; i++) {
		if (t->ev[i].kind == EV_HMAC)
			nh++;
		else
			na++;
	}
	o = (size_t)snprintf(buf, len, "%zu HMAC", nh);
	if (na)
		o += (size_t)snprintf(buf + o, len > o ? len - o : 0,
		    " + %zu AES-CTR", na);
	o += (size_t)snprintf(buf + o, len > o ? len - o : 0, ":");
	for (i = 0; i < t->n && o < len; i++) {
		const struct ev *e = &t->ev[i];

		if (e->kind == EV_HMAC)
			o += (size_t)snprintf(buf + o, len - o, " %s/k%zu/%zuB",
			    e->md_len == 20 ? "SHA1" : "SHA256", e->key_len,
			    e->data_len);
		else
			o += (size_t)snprintf(buf + o, len - o,
			    " AES%zu/%zuB", e->key_len * 8, e->data_len);
	}
}

/* --------------------------------------------------------------------- */
/* Replaying a trace: the baselines */

static unsigned char bkey[64], biv[16], bout[64];
static unsigned char bdata[MIKEY_MAX_MSG + 64], bcipher[MIKEY_MAX_MSG + 64];
static EVP_MAC_CTX *lean_mac[2];	/* [0] SHA-1, [1] SHA-256, keyless */
static EVP_CIPHER *lean_ci[2];		/* [0] AES-128-CTR, [1] AES-256 */
static EVP_CIPHER_CTX *lean_cc;

static void
die(const char *what)
{
	fprintf(stderr, "bench_mikey: %s failed\n", what);
	exit(1);
}

static void
lean_setup(void)
{
	static char sha1[] = "SHA1", sha256[] = "SHA2-256";
	char *names[2] = { sha1, sha256 };
	OSSL_PARAM p[2];
	EVP_MAC *mac;
	int i;

	if ((mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL)) == NULL)
		die("EVP_MAC_fetch");
	for (i = 0; i < 2; i++) {
		if ((lean_mac[i] = EVP_MAC_CTX_new(mac)) == NULL)
			die("EVP_MAC_CTX_new");
		p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
		    names[i], 0);
		p[1] = OSSL_PARAM_construct_end();
		if (!EVP_MAC_CTX_set_params(lean_mac[i], p))
			die("EVP_MAC_CTX_set_params");
	}
	EVP_MAC_free(mac);
	lean_ci[0] = EVP_CIPHER_fetch(NULL, "AES-128-CTR", NULL);
	lean_ci[1] = EVP_CIPHER_fetch(NULL, "AES-256-CTR", NULL);
	if (lean_ci[0] == NULL || lean_ci[1] == NULL ||
	    (lean_cc = EVP_CIPHER_CTX_new()) == NULL)
		die("EVP_CIPHER_fetch");
	memset(bkey, 0x5a, sizeof(bkey));
	memset(bdata, 0xa5, sizeof(bdata));
}

/* replay_oneshot - the trace with HMAC() and a fresh cipher context */
static void
replay_oneshot(const struct trace *t)
{
	unsigned int ol;
	int outl;
	size_t i;

	for (i = 0; i < t->n; i++) {
		const struct ev *e = &t->ev[i];

		if (e->kind == EV_HMAC) {
			if (HMAC(e->md_len == 20 ? EVP_sha1() : EVP_sha256(),
			    bkey, (int)e->key_len, bdata, e->data_len, bout,
			    &ol) == NULL)
				die("HMAC");
		} else {
			EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();

			if (cc == NULL || !EVP_EncryptInit_ex(cc,
			    e->key_len == 16 ? EVP_aes_128_ctr() :
			    EVP_aes_256_ctr(), NULL, bkey, biv) ||
			    !EVP_EncryptUpdate(cc, bcipher, &outl, bdata,
			    (int)e->data_len) ||
			    !EVP_EncryptFinal_ex(cc, bcipher + outl, &outl))
				die("AES-CTR");
			EVP_CIPHER_CTX_free(cc);
		}
	}
}

/* replay_lean - the trace on pre-fetched algorithms and kept contexts */
static void
replay_lean(const struct trace *t)
{
	size_t i, ol;
	int outl;

	for (i = 0; i < t->n; i++) {
		const struct ev *e = &t->ev[i];

		if (e->kind == EV_HMAC) {
			EVP_MAC_CTX *c = lean_mac[e->md_len == 20 ? 0 : 1];

			if (!EVP_MAC_init(c, bkey, e->key_len, NULL) ||
			    !EVP_MAC_update(c, bdata, e->data_len) ||
			    !EVP_MAC_final(c, bout, &ol, sizeof(bout)))
				die("EVP_MAC");
		} else if (!EVP_EncryptInit_ex(lean_cc,
		    lean_ci[e->key_len == 16 ? 0 : 1], NULL, bkey, biv) ||
		    !EVP_EncryptUpdate(lean_cc, bcipher, &outl, bdata,
		    (int)e->data_len) ||
		    !EVP_EncryptFinal_ex(lean_cc, bcipher + outl, &outl))
			die("AES-CTR");
	}
}

static void
op_oneshot(void *arg)
{
	replay_oneshot(arg);
}

static void
op_lean(void *arg)
{
	replay_lean(arg);
}

/* --------------------------------------------------------------------- */
/* Timing */

typedef void (*op_fn)(void *arg);

struct series {
	op_fn	 fn;
	void	*arg;
	size_t	 iters;
	double	 ns[RUNS];
	double	 median;
};

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double
run_n(op_fn fn, void *arg, size_t n)
{
	double t0 = now_ns();
	size_t i;

	for (i = 0; i < n; i++)
		fn(arg);
	return now_ns() - t0;
}

/* calibrate - iterations for about run_seconds (and a warm-up) */
static size_t
calibrate(op_fn fn, void *arg)
{
	size_t n = 1;
	double el;

	for (;;) {
		el = run_n(fn, arg, n);
		if (el >= 20e6 || n >= ((size_t)1 << 32))
			break;
		n *= 2;
	}
	n = (size_t)((double)n * run_seconds * 1e9 / el);
	return n ? n : 1;
}

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* measure - k series interleaved, RUNS runs each; medians in s[].median */
static void
measure(struct series *s, size_t k)
{
	double tmp[RUNS];
	size_t i, r;

	for (i = 0; i < k; i++)
		s[i].iters = calibrate(s[i].fn, s[i].arg);
	for (r = 0; r < RUNS; r++)
		for (i = 0; i < k; i++)
			s[i].ns[r] = run_n(s[i].fn, s[i].arg, s[i].iters) /
			    (double)s[i].iters;
	for (i = 0; i < k; i++) {
		memcpy(tmp, s[i].ns, sizeof(tmp));
		qsort(tmp, RUNS, sizeof(tmp[0]), by_value);
		s[i].median = tmp[RUNS / 2];
	}
}

static void
header(const char *section)
{
	printf("\n== %s\n%-44s %10s %10s | %-22s %10s %7s\n", section,
	    "operation", "ns/op", "ops/s", "baseline", "ns/op", "ratio");
}

static void
row(const char *op, double ns, const char *base, double bns)
{
	printf("%-44s %10.1f %10.0f | %-22s %10.1f %7.2f\n", op, ns, 1e9 / ns,
	    base, bns, ns / bns);
}

/*
 * crypto_op - measure fn against the replayed trace of one call; prints
 *	two rows (HMAC() and lean baselines) and the trace; *lib, *one and
 *	*lean get the medians.
 */
static void
crypto_op(const char *name, op_fn fn, void *arg, double *lib, double *one,
    double *lean)
{
	static struct trace t;
	struct series s[3];
	char text[1024];

	fn(arg);		/* warm: one-time fetches happen here */
	trace_begin(&t);
	fn(arg);
	trace_end();
	memset(s, 0, sizeof(s));
	s[0].fn = fn;
	s[0].arg = arg;
	s[1].fn = op_oneshot;
	s[1].arg = &t;
	s[2].fn = op_lean;
	s[2].arg = &t;
	measure(s, 3);
	row(name, s[0].median, "same crypto, HMAC()", s[1].median);
	row("", s[0].median, "same crypto, lean EVP", s[2].median);
	trace_text(&t, text, sizeof(text));
	printf("  traced: %s\n", text);
	if (lib != NULL)
		*lib = s[0].median;
	if (one != NULL)
		*one = s[1].median;
	if (lean != NULL)
		*lean = s[2].median;
}

/* --------------------------------------------------------------------- */
/* A world to measure in: one exchange per suite sets everything up */

static uint64_t rng_ctr;

/* fast_rand - distinct, deterministic bytes (RAND_bytes is not measured) */
static int
fast_rand(void *arg, uint8_t *buf, size_t len)
{
	size_t i;

	(void)arg;
	rng_ctr++;
	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)((rng_ctr * 0x9e3779b97f4a7c15ull) >>
		    (8 * (i & 7))) ^ (uint8_t)i;
	return 0;
}

struct suite_ctx {
	const char		*name;
	const struct mikey_suite *suite;
	struct mikey_env	 env;
	struct mikey_kms_conf	 kc;
	struct mikey_request_params rp;
	struct mikey_i_request	 rq;
	struct mikey_ticket	 t;
	struct mikey_transfer_params tp;
	struct mikey_i_transfer	 it;
	struct mikey_r_transfer	 x;
	struct mikey_cred	 me;
	struct mikey_r_resolve	 rs;
	struct mikey_resolved	 keys;
	uint8_t			 msg[6][BUFCAP];	/* the six messages */
	size_t			 len[6];
	uint8_t			 buf[BUFCAP], out[BUFCAP];
	size_t			 blen;
};

static const char *const msg_names[6] = {
	"REQUEST_INIT_PSK", "REQUEST_RESP", "TRANSFER_INIT",
	"RESOLVE_INIT_PSK", "RESOLVE_RESP", "TRANSFER_RESP"
};

#define MUST(x) do { int rc_ = (x); if (rc_ != 0) {			\
	fprintf(stderr, "bench_mikey: %s: %s\n", #x, mikey_strerror(rc_));\
	exit(1); } } while (0)

/* setup - a full exchange; flags F_SPEC keeps all six messages */
static void
setup(struct suite_ctx *c, const char *name, const struct mikey_suite *suite,
    uint32_t flags)
{
	struct mikey_kms_result res;
	uint8_t rr[255];
	size_t rrl;
	int perr;

	memset(c, 0, sizeof(*c));
	c->name = name;
	c->suite = suite;
	c->env.now = world_clock;
	c->env.rand = fast_rand;
	c->env.skew = WORLD_SKEW;
	c->kc.id = world_uri(WORLD_KMS);
	c->kc.lifetime = 30 * 86400;
	c->kc.ops = &world_ops;
	c->kc.rc = NULL;	/* the same request is processed many times */
	c->rp.idi = world_uri(WORLD_ALICE);
	c->rp.idkms = world_uri(WORLD_KMS);
	c->rp.psk = world_psk_alice;
	c->rp.psk_len = 16;
	c->rp.suite = *suite;
	c->rp.flags = flags;
	c->rp.ticket_prf = suite->prf;
	c->rp.nresp = 1;
	c->rp.resp[0] = world_uri(WORLD_BOB);
	c->tp.idi = world_uri(WORLD_ALICE);
	c->tp.idr = world_uri(WORLD_BOB);
	c->tp.suite = *suite;
	c->tp.ncs = 1;
	c->tp.cs[0].cs_id = 1;
	c->tp.cs[0].prot_type = MIKEY_PROT_IMGATE_CMS;
	c->me.id = world_uri(WORLD_BOB);
	c->me.idkms = world_uri(WORLD_KMS);
	c->me.psk = world_psk_bob;
	c->me.psk_len = 16;
	c->me.suite = *suite;
	MUST(mikey_i_request_init(&c->env, &c->rp, &c->rq, c->msg[0], BUFCAP,
	    &c->len[0]));
	MUST(mikey_kms_process(&c->env, &c->kc, c->msg[0], c->len[0],
	    c->msg[1], BUFCAP, &c->len[1], &res));
	MUST(res.err);
	MUST(mikey_i_request_resp(&c->env, &c->rq, c->msg[1], c->len[1],
	    &c->t, &perr, NULL));
	MUST(mikey_i_transfer_init(&c->env, &c->t, &c->tp, &c->it, c->msg[2],
	    BUFCAP, &c->len[2]));
	MUST(mikey_r_transfer_parse(&c->env, c->msg[2], c->len[2], &c->x,
	    NULL));
	MUST(mikey_r_resolve_init(&c->env, &c->x, &c->me, &c->rs, c->msg[3],
	    BUFCAP, &c->len[3]));
	MUST(mikey_kms_process(&c->env, &c->kc, c->msg[3], c->len[3],
	    c->msg[4], BUFCAP, &c->len[4], &res));
	MUST(res.err);
	MUST(mikey_r_resolve_resp(&c->env, &c->rs, &c->x, c->msg[4],
	    c->len[4], &c->keys, &perr, NULL));
	if (flags & MIKEY_TPF_F) {
		MUST(mikey_r_transfer_resp(&c->env, &c->x, &c->keys, rr, &rrl,
		    c->msg[5], BUFCAP, &c->len[5]));
		MUST(mikey_i_transfer_resp(&c->env, &c->t, &c->it, c->msg[5],
		    c->len[5], NULL));
	}
}

#define F_SPEC	(MIKEY_TPF_D | MIKEY_TPF_E | MIKEY_TPF_F | MIKEY_TPF_G | \
	MIKEY_TPF_H | MIKEY_TPF_J | MIKEY_TPF_N | MIKEY_TPF_O)

/* --------------------------------------------------------------------- */
/* (a) codec */

struct codec_arg {
	const uint8_t	*m;
	size_t		 len;
	struct mikey_msg msg;
	uint8_t		 out[BUFCAP];
};

static void
op_decode(void *arg)
{
	struct codec_arg *a = arg;

	if (mikey_msg_decode(a->m, a->len, &a->msg, NULL) != 0)
		die("mikey_msg_decode");
}

static void
op_encode(void *arg)
{
	struct codec_arg *a = arg;
	size_t len;

	if (mikey_msg_encode(&a->msg, a->out, sizeof(a->out), &len) != 0 ||
	    len != a->len)
		die("mikey_msg_encode");
}

static void
op_memcpy(void *arg)
{
	struct codec_arg *a = arg;

	memcpy(a->out, a->m, a->len);
	__asm__ volatile("" : : "r"(a->out) : "memory");
}

static void
bench_codec(struct suite_ctx *c)
{
	static struct codec_arg a;
	struct series s[3];
	char name[64], base[32];
	size_t i;

	header("(a) codec: the six messages of an exchange with spec 11.3's "
	    "flags (F = 1), MIKEY-1 suite");
	for (i = 0; i < 6; i++) {
		a.m = c->msg[i];
		a.len = c->len[i];
		op_decode(&a);
		memset(s, 0, sizeof(s));
		s[0].fn = op_decode;
		s[1].fn = op_encode;
		s[2].fn = op_memcpy;
		s[0].arg = s[1].arg = s[2].arg = &a;
		measure(s, 3);
		snprintf(base, sizeof(base), "memcpy %zu B", a.len);
		snprintf(name, sizeof(name), "decode %s (%zu B, %zu pl)",
		    msg_names[i], a.len, a.msg.body.n);
		row(name, s[0].median, base, s[2].median);
		snprintf(name, sizeof(name), "encode %s", msg_names[i]);
		row(name, s[1].median, base, s[2].median);
	}
}

/* --------------------------------------------------------------------- */
/* (b) PRF */

struct prf_arg {
	uint8_t		 prf;
	uint8_t		 key[32];
	size_t		 key_len;
	uint8_t		 label[600];
	size_t		 label_len;
	uint8_t		 out[64];
	size_t		 out_len;
};

static void
op_prf(void *arg)
{
	struct prf_arg *a = arg;

	if (mikey_prf(a->prf, a->key, a->key_len, a->label, a->label_len,
	    a->out, a->out_len) != 0)
		die("mikey_prf");
}

static void
bench_prf(void)
{
	static struct prf_arg a;
	static const struct { uint8_t prf; size_t klen; } cf[] = {
		{ MIKEY_PRF_MIKEY1, 16 }, { MIKEY_PRF_MIKEY1, 32 },
		{ MIKEY_PRF_HMAC_SHA256, 16 }, { MIKEY_PRF_HMAC_SHA256, 32 },
	};
	struct mikey_bytes ri;
	uint8_t r[32];
	char name[64];
	size_t i;

	header("(b) mikey_prf, a TEK label (K3, RANDRi of 32 B), out = key "
	    "length");
	memset(r, 0x42, sizeof(r));
	ri.p = r;
	ri.len = sizeof(r);
	for (i = 0; i < sizeof(cf) / sizeof(cf[0]); i++) {
		a.prf = cf[i].prf;
		memset(a.key, 0x11, sizeof(a.key));
		a.key_len = cf[i].klen;
		a.out_len = cf[i].klen;
		a.label_len = mikey_label_tgk(MIKEY_C_TEK, 1, &ri, NULL,
		    a.label, sizeof(a.label));
		snprintf(name, sizeof(name), "PRF %s, key %zu B -> %zu B "
		    "(label %zu B)", mikey_prf_name(a.prf), a.key_len,
		    a.out_len, a.label_len);
		crypto_op(name, op_prf, &a, NULL, NULL, NULL);
	}
}

/* --------------------------------------------------------------------- */
/* (c) TRANSFER_INIT build + verify, (d) TEK */

static void
op_transfer(void *arg)
{
	struct suite_ctx *c = arg;

	if (mikey_i_transfer_init(&c->env, &c->t, &c->tp, &c->it, c->buf,
	    sizeof(c->buf), &c->blen) != 0 ||
	    mikey_r_transfer_parse(&c->env, c->buf, c->blen, &c->x, NULL) !=
	    0 || mikey_r_transfer_verify(&c->x, &c->keys) != 0)
		die("TRANSFER_INIT build+verify");
}

static void
op_tek(void *arg)
{
	struct suite_ctx *c = arg;
	uint8_t tek[32];

	if (mikey_r_transfer_tek(&c->x, &c->keys, NULL, 1, tek,
	    c->suite->prf == MIKEY_PRF_HMAC_SHA256 ? 32 : 16) != 0)
		die("mikey_r_transfer_tek");
}

static void
bench_transfer(struct suite_ctx *c, size_t nc)
{
	double lib, one, lean;
	size_t i;

	header("(c) TRANSFER_INIT: mikey_i_transfer_init + "
	    "mikey_r_transfer_parse + mikey_r_transfer_verify");
	for (i = 0; i < nc; i++) {
		char name[64];

		snprintf(name, sizeof(name), "TRANSFER_INIT build+verify, %s",
		    c[i].name);
		crypto_op(name, op_transfer, &c[i], &lib, &one, &lean);
		printf("TRANSFER_INIT build+verify (%s): %.0f ns, bare crypto "
		    "%.0f ns, ratio %.2f (target <= 2.0); against lean EVP "
		    "%.0f ns, ratio %.2f\n", c[i].name, lib, one, lib / one,
		    lean, lib / lean);
	}
}

static void
bench_tek(struct suite_ctx *c, size_t nc)
{
	size_t i;

	header("(d) TEK derivation: mikey_r_transfer_tek (K3 from the TGK, "
	    "RANDRi)");
	for (i = 0; i < nc; i++) {
		char name[64];

		op_transfer(&c[i]);	/* a fresh parsed x */
		snprintf(name, sizeof(name), "TEK (%s, %d B)", c[i].name,
		    c[i].suite->prf == MIKEY_PRF_HMAC_SHA256 ? 32 : 16);
		crypto_op(name, op_tek, &c[i], NULL, NULL, NULL);
	}
}

/* --------------------------------------------------------------------- */
/* (e) KMS */

static void
op_kms(void *arg)
{
	struct suite_ctx *c = arg;
	struct mikey_kms_result res;
	size_t ol;

	if (mikey_kms_process(&c->env, &c->kc, c->msg[0], c->len[0], c->out,
	    sizeof(c->out), &ol, &res) != 0 || res.err != 0)
		die("KMS REQUEST");
	if (mikey_kms_process(&c->env, &c->kc, c->msg[3], c->len[3], c->out,
	    sizeof(c->out), &ol, &res) != 0 || res.err != 0)
		die("KMS RESOLVE");
}

static void
bench_kms(struct suite_ctx *c, size_t nc)
{
	double lib;
	size_t i;

	header("(e) KMS: mikey_kms_process on a REQUEST_INIT_PSK and a "
	    "RESOLVE_INIT_PSK (no replay cache)");
	for (i = 0; i < nc; i++) {
		char name[64];

		snprintf(name, sizeof(name), "KMS REQUEST+RESOLVE, %s",
		    c[i].name);
		crypto_op(name, op_kms, &c[i], &lib, NULL, NULL);
		printf("KMS (%s): %.0f REQUEST+RESOLVE pairs/s on one core\n",
		    c[i].name, 1e9 / lib);
	}
}

/* --------------------------------------------------------------------- */
/* --callgrind */

/* the asm comment keeps the compiler from folding the 128 and 256
 * copies into one function (identical code folding) */
#define CG(suf)								\
static __attribute__((noinline)) void					\
cg_lib_##suf(struct suite_ctx *c, size_t n)				\
{									\
	__asm__ volatile("# cg_lib_" #suf);				\
	while (n--)							\
		op_transfer(c);						\
}									\
static __attribute__((noinline)) void					\
cg_bare_##suf(const struct trace *t, size_t n)				\
{									\
	__asm__ volatile("# cg_bare_" #suf);				\
	while (n--)							\
		replay_oneshot(t);					\
}									\
static __attribute__((noinline)) void					\
cg_lean_##suf(const struct trace *t, size_t n)				\
{									\
	__asm__ volatile("# cg_lean_" #suf);				\
	while (n--)							\
		replay_lean(t);						\
}
CG(128)
CG(256)

static int
callgrind(struct suite_ctx *c, size_t n, const char *only)
{
	static struct trace t[2];
	char text[1024];
	int i;

	for (i = 0; i < 2; i++) {
		op_transfer(&c[i]);
		trace_begin(&t[i]);
		op_transfer(&c[i]);
		trace_end();
		replay_oneshot(&t[i]);
		replay_lean(&t[i]);
		trace_text(&t[i], text, sizeof(text));
		printf("%s: TRANSFER_INIT build+verify does %s\n", c[i].name,
		    text);
	}
	printf("running %zu iterations each of cg_%s_128 and cg_%s_256%s\n",
	    n, only ? only : "{lib,bare,lean}", only ? only : "{lib,bare,lean}",
	    only ? "" : " (in that order)");
	fflush(stdout);
	if (only == NULL || strcmp(only, "lib") == 0) {
		cg_lib_128(&c[0], n);
		cg_lib_256(&c[1], n);
	}
	if (only == NULL || strcmp(only, "bare") == 0) {
		cg_bare_128(&t[0], n);
		cg_bare_256(&t[1], n);
	}
	if (only == NULL || strcmp(only, "lean") == 0) {
		cg_lean_128(&t[0], n);
		cg_lean_256(&t[1], n);
	}
	return 0;
}

/* --------------------------------------------------------------------- */

static int
want(int argc, char **argv, int first, const char *section)
{
	int i;

	if (first >= argc)
		return 1;
	for (i = first; i < argc; i++)
		if (strcmp(argv[i], section) == 0)
			return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	static struct suite_ctx codec_ctx, c[2];
	int i = 1;

	lean_setup();
	setup(&c[0], "MIKEY-1/AES-CM-128/HMAC-SHA-1", &mikey_suite_128,
	    MIKEY_TPF_ONEWAY);
	setup(&c[1], "SHA-256/AES-CM-256/HMAC-SHA-256", &mikey_suite_256,
	    MIKEY_TPF_ONEWAY);
	if (i < argc && strcmp(argv[i], "--callgrind") == 0)
		return callgrind(c, i + 1 < argc ?
		    (size_t)strtoul(argv[i + 1], NULL, 10) : 1000,
		    i + 2 < argc ? argv[i + 2] : NULL);
	if (i + 1 < argc && strcmp(argv[i], "--time") == 0) {
		run_seconds = strtod(argv[i + 1], NULL);
		i += 2;
	}
	if (run_seconds <= 0) {
		fprintf(stderr, "usage: %s [--time S] [codec|prf|transfer|"
		    "tek|kms ...] | --callgrind [N [lib|bare|lean]]\n",
		    argv[0]);
		return 2;
	}
	printf("bench_mikey: %s; median of %d runs of ~%.2f s each; "
	    "one-way ticket profile unless said\n", OpenSSL_version(
	    OPENSSL_VERSION), RUNS, run_seconds);
	if (want(argc, argv, i, "codec")) {
		setup(&codec_ctx, "MIKEY-1", &mikey_suite_128, F_SPEC);
		bench_codec(&codec_ctx);
	}
	if (want(argc, argv, i, "prf"))
		bench_prf();
	if (want(argc, argv, i, "transfer"))
		bench_transfer(c, 2);
	if (want(argc, argv, i, "tek"))
		bench_tek(c, 2);
	if (want(argc, argv, i, "kms"))
		bench_kms(c, 2);
	return 0;
}
