/*
 * tests/bench/bench_smime.c - smime_protect/smime_unprotect per second
 * against bare AES-128-GCM and AES key wrap
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * For 100 B, 1 KB and 10 KB bodies, unsigned, AES-128-GCM, one KEK:
 * protect/s and unprotect/s, and in the same run the cryptographic floor
 * of the same work: one AES-128-GCM encryption (decryption) of a buffer of
 * the envelope's plaintext size with a pre-fetched cipher and context,
 * plus one AES-128 key wrap (unwrap) of a 16-byte CEK.  The ratio says
 * how many times the floor smime/ costs.  Two more rows split unprotect:
 * the CMS envelope alone (smime_envelope_open, internal) and the rest
 * (GMime entity parse, CPIM parse).  The target for later (with MIKEY) is
 * 20,000 wraps/s and unwraps/s of 1 KB on one core.
 * Rates are per CPU second of the calling thread, best of three runs.
 * Not a test: the numbers depend on the machine.  Build with -O2 and no
 * sanitizers; "taskset -c 0" pins it to one core.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "smime/smime.h"
#include "smime/smime-int.h"

#define MIN_SEC	0.3		/* CPU seconds of each run, at least */

static uint8_t kek[16], cek[16], iv[12], tag[16];
static const char kid[] = "\x01\x02\x03\x04\x05";

/* now - this thread's CPU time: other load on the machine only costs
 * cache, not descheduled time (the runs share two cores with others) */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
lookup(void *arg, const uint8_t *id, size_t id_len, uint8_t *k,
    size_t *k_len)
{
	(void)arg;
	if (id_len != 5 || memcmp(id, kid, 5) != 0)
		return 1;
	memcpy(k, kek, 16);
	*k_len = 16;
	return 0;
}

static void
die(const char *what, int err)
{
	fprintf(stderr, "bench_smime: %s: %s\n", what, smime_strerror(err));
	exit(1);
}

/* One thing to time: fn(arg) once per call. */
typedef void (*op_fn)(void *);

/* rate1 - calls per CPU second of fn, run for at least MIN_SEC */
static double
rate1(op_fn fn, void *arg)
{
	double t0, t1;
	long i, n = 0, batch = 16;

	fn(arg);			/* warm up */
	t0 = now();
	do {
		for (i = 0; i < batch; i++)
			fn(arg);
		n += batch;
		t1 = now();
		if (batch < 65536)
			batch *= 2;
	} while (t1 - t0 < MIN_SEC);
	return (double)n / (t1 - t0);
}

/* rate - the best of three runs */
static double
rate(op_fn fn, void *arg)
{
	double r, best = 0;
	int i;

	for (i = 0; i < 3; i++)
		if ((r = rate1(fn, arg)) > best)
			best = r;
	return best;
}

struct job {
	struct smime_protect_args pa;
	struct smime_verify_opts vo;
	struct smime_kek k;
	const char	*to[1];
	uint8_t		*body, *der, *buf, *out;
	size_t		 body_len, der_len, pt_len;
	EVP_CIPHER	*gcm, *wrap;
	EVP_CIPHER_CTX	*ctx;
};

static void
op_protect(void *arg)
{
	struct job *j = arg;
	uint8_t *der;
	size_t len;
	int err;

	if ((err = smime_protect(&j->pa, &der, &len)) != 0)
		die("protect", err);
	free(der);
}

static void
op_unprotect(void *arg)
{
	struct job *j = arg;
	struct smime_msg *m;
	int err;

	if ((err = smime_unprotect(j->der, j->der_len, NULL, lookup, NULL,
	    &j->vo, &m)) != 0)
		die("unprotect", err);
	smime_msg_free(m);
}

static void
op_open_envelope(void *arg)
{
	struct job *j = arg;
	struct sbuf pt;
	int err;

	sbuf_init(&pt, SMIME_DEFAULT_MAX_BODY + SMIME_OVERHEAD);
	if ((err = smime_envelope_open(j->der, j->der_len, lookup, NULL, 0,
	    &pt, NULL)) != 0)
		die("envelope_open", err);
	sbuf_wipe(&pt);
}

static void
op_gcm_enc(void *arg)
{
	struct job *j = arg;
	int n, f;

	if (!EVP_EncryptInit_ex2(j->ctx, j->gcm, cek, iv, NULL) ||
	    !EVP_EncryptUpdate(j->ctx, j->out, &n, j->buf, (int)j->pt_len) ||
	    !EVP_EncryptFinal_ex(j->ctx, j->out + n, &f) ||
	    !EVP_CIPHER_CTX_ctrl(j->ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag))
		die("gcm encrypt", SMIME_ERR_CRYPTO);
}

static void
op_gcm_dec(void *arg)
{
	struct job *j = arg;
	int n, f;

	if (!EVP_DecryptInit_ex2(j->ctx, j->gcm, cek, iv, NULL) ||
	    !EVP_DecryptUpdate(j->ctx, j->buf, &n, j->out, (int)j->pt_len) ||
	    !EVP_CIPHER_CTX_ctrl(j->ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) ||
	    EVP_DecryptFinal_ex(j->ctx, j->buf + n, &f) <= 0)
		die("gcm decrypt", SMIME_ERR_TAG);
}

static uint8_t wrapped[24];

static void
op_wrap(void *arg)
{
	struct job *j = arg;
	int n, f;

	if (!EVP_EncryptInit_ex2(j->ctx, j->wrap, kek, NULL, NULL) ||
	    !EVP_EncryptUpdate(j->ctx, wrapped, &n, cek, 16) ||
	    !EVP_EncryptFinal_ex(j->ctx, wrapped + n, &f))
		die("wrap", SMIME_ERR_CRYPTO);
}

static void
op_unwrap(void *arg)
{
	struct job *j = arg;
	uint8_t k[24];
	int n, f;

	if (!EVP_DecryptInit_ex2(j->ctx, j->wrap, kek, NULL, NULL) ||
	    !EVP_DecryptUpdate(j->ctx, k, &n, wrapped, 24) ||
	    !EVP_DecryptFinal_ex(j->ctx, k + n, &f))
		die("unwrap", SMIME_ERR_UNWRAP);
}

int
main(void)
{
	static const size_t sizes[] = { 100, 1000, 10000 };
	struct job j;
	struct smime_msg *m;
	double p, u, ge, gd, w, uw, env;
	size_t i;
	int err;

	smime_init();
	RAND_bytes(kek, sizeof(kek));
	RAND_bytes(cek, sizeof(cek));
	RAND_bytes(iv, sizeof(iv));
	memset(&j, 0, sizeof(j));
	j.gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	j.wrap = EVP_CIPHER_fetch(NULL, "AES-128-WRAP", NULL);
	j.ctx = EVP_CIPHER_CTX_new();
	EVP_CIPHER_CTX_set_flags(j.ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (j.gcm == NULL || j.wrap == NULL || j.ctx == NULL)
		die("setup", SMIME_ERR_CRYPTO);
	w = rate(op_wrap, &j);
	uw = rate(op_unwrap, &j);

	printf("smime/ alone, unsigned, AES-128-GCM, one KEK (per second; "
	    "floor = bare GCM of the envelope's plaintext + one key wrap)\n");
	printf("%6s %6s %10s %10s %10s %10s %8s %8s %10s\n", "body", "DER",
	    "protect", "unprotect", "GCM enc", "GCM dec", "p/floor",
	    "u/floor", "CMS open");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		j.body_len = sizes[i];
		j.body = malloc(j.body_len);
		RAND_bytes(j.body, (int)j.body_len);
		memset(&j.pa, 0, sizeof(j.pa));
		j.to[0] = "sip:bob@example.org";
		j.k.id = (const uint8_t *)kid;
		j.k.id_len = 5;
		j.k.key = kek;
		j.k.key_len = 16;
		j.pa.from = "sip:alice@example.com";
		j.pa.to = j.to;
		j.pa.nto = 1;
		j.pa.datetime = 1795080600;
		j.pa.content_type = "text/plain; charset=utf-8";
		j.pa.body = j.body;
		j.pa.body_len = j.body_len;
		j.pa.keks = &j.k;
		j.pa.nkeks = 1;
		j.vo.allow_unsigned = 1;
		if ((err = smime_protect(&j.pa, &j.der, &j.der_len)) != 0)
			die("protect", err);
		if ((err = smime_unprotect(j.der, j.der_len, NULL, lookup, NULL,
		    &j.vo, &m)) != 0)
			die("unprotect", err);
		/* the envelope's plaintext: CPIM entity around the body */
		j.pt_len = m->entity_body_len + strlen("Content-Type: "
		    "message/cpim\r\n\r\n");
		smime_msg_free(m);
		j.buf = calloc(1, j.pt_len);
		j.out = calloc(1, j.pt_len + 16);

		p = rate(op_protect, &j);
		u = rate(op_unprotect, &j);
		env = rate(op_open_envelope, &j);
		ge = rate(op_gcm_enc, &j);
		gd = rate(op_gcm_dec, &j);
		printf("%6zu %6zu %10.0f %10.0f %10.0f %10.0f %8.1f %8.1f "
		    "%10.0f\n", j.body_len, j.der_len, p, u, ge, gd,
		    (1 / p) / (1 / ge + 1 / w), (1 / u) / (1 / gd + 1 / uw),
		    env);
		if (j.body_len == 1000)
			printf("# 1 KB: protect %.1f us, unprotect %.1f us "
			    "(CMS envelope %.1f us, MIME+CPIM %.1f us); "
			    "target 20000/s: protect %s, unprotect %s\n",
			    1e6 / p, 1e6 / u, 1e6 / env, 1e6 / u - 1e6 / env,
			    p >= 20000 ? "met" : "not met",
			    u >= 20000 ? "met" : "not met");
		free(j.body);
		free(j.der);
		free(j.buf);
		free(j.out);
	}
	printf("# AES-128 key wrap %.0f/s, unwrap %.0f/s\n", w, uw);
	EVP_CIPHER_free(j.gcm);
	EVP_CIPHER_free(j.wrap);
	EVP_CIPHER_CTX_free(j.ctx);
	return 0;
}
