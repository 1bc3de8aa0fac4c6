/*
 * tests/bench/bench_imgate.c - imgate_wrap/imgate_unwrap per second with
 * cached tickets and resolved keys, against the bare crypto of a message
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * For 100 B, 1 KB and 10 KB bodies (AES-128-GCM suite, unsigned): wraps/s
 * and unwraps/s in steady state (the ticket requested and resolved once,
 * before the clock starts; the KMS is mikey_kms_process behind the
 * transport callback, in process), the KMS calls per message, and in the
 * same run the cryptographic floor of one message: one AES-128-GCM
 * encryption (decryption) of the body, one AES-128 key wrap (unwrap) of
 * a 16-byte CEK and one HMAC-SHA-256 over a 300-byte TRANSFER_INIT (its
 * V), with pre-fetched algorithms.  The target is 20,000 wraps/s and
 * unwraps/s of 1 KB on one core.
 *
 * Rates are per CPU second of the calling thread.  Unwrap needs fresh
 * messages (the replay cache refuses a second look), so each round wraps
 * a batch, then unwraps the batch: the wrap rate is of the batch, the
 * unwrap rate of its unwrapping.  Best of three rounds.  Not a test: the
 * numbers depend on the machine.  Build with -O2 and no sanitizers;
 * "taskset -c 0" pins it to one core.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "lib/imgate.h"
#include "mikey/mikey.h"

#define BATCH_SEC	0.3	/* CPU seconds of wrapping per round, about */
#define MAX_BATCH	40000

static const char *ALICE = "sip:alice@example.com";
static const char *BOB = "sip:bob@example.com";

/* now - this thread's CPU time in seconds */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the in-process KMS (as tests/unit/lib/t_imgate.c) */

static uint8_t psk_a[16], psk_b[16], tpk[32];

static int
is(const struct mikey_id *id, const char *s)
{
	return id != NULL && id->data.len == strlen(s) &&
	    memcmp(id->data.p, s, id->data.len) == 0;
}

static int
pol_psk(void *arg, const struct mikey_id *id, const struct mikey_id *idpsk,
    uint8_t *key, size_t *len)
{
	const struct mikey_id *who = idpsk != NULL ? idpsk : id;

	(void)arg;
	if (is(who, ALICE))
		memcpy(key, psk_a, 16);
	else if (is(who, BOB))
		memcpy(key, psk_b, 16);
	else
		return -1;
	*len = 16;
	return 0;
}

static int
pol_current(void *arg, struct mikey_tpk *t)
{
	(void)arg;
	memset(t, 0, sizeof(*t));
	t->version = 1;
	memcpy(t->key, tpk, 32);
	t->key_len = 32;
	return 0;
}

static int
pol_lookup(void *arg, int has_version, uint32_t version,
    const struct mikey_id *idpsk, struct mikey_tpk *t)
{
	(void)arg;
	if (idpsk != NULL || !has_version || version != 1)
		return -1;
	return pol_current(NULL, t);
}

static int
pol_req(void *arg, const struct mikey_id *requester, struct mikey_grant *g)
{
	(void)arg;
	return is(requester, ALICE) && is(&g->idi, ALICE) ? 0 : -1;
}

static int
pol_res(void *arg, const struct mikey_id *requester,
    const struct mikey_policy *pol)
{
	(void)arg;
	return mikey_policy_names(pol, requester) ? 0 : -1;
}

static const struct mikey_kms_ops ops = {
	pol_psk, pol_current, pol_lookup, pol_req, pol_res
};
static struct mikey_env kenv = { NULL, NULL, NULL, NULL, 300 };
static struct mikey_kms_conf kc;
static unsigned long kms_calls;

static int
kms_transport(void *arg, const char *url, const uint8_t *req, size_t len,
    uint8_t **resp, size_t *resp_len)
{
	struct mikey_kms_result res;
	uint8_t out[8192];
	size_t ol;

	(void)arg;
	(void)url;
	kms_calls++;
	if (mikey_kms_process(&kenv, &kc, req, len, out, sizeof(out), &ol,
	    &res) != 0 || (*resp = malloc(ol)) == NULL)
		return -1;
	memcpy(*resp, out, ol);
	*resp_len = ol;
	return 0;
}

/* ---- the floor: AES-128-GCM + AES key wrap + HMAC-SHA-256 */

static EVP_CIPHER *gcm, *kw;
static EVP_MAC *hmac;

static int
floor_once(int enc, const uint8_t *in, size_t len, uint8_t *out)
{
	static uint8_t key[16], iv[12], tag[16], cek[16], wrapped[24],
	    mk[32], v[32], tin[300];
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	EVP_MAC_CTX *m;
	OSSL_PARAM p[2];
	int ol, fl, ok = 1;
	size_t vl;

	/* body */
	ok &= EVP_CipherInit_ex2(c, gcm, key, iv, enc, NULL);
	if (!enc)
		ok &= EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag);
	ok &= EVP_CipherUpdate(c, out, &ol, in, (int)len);
	ok &= EVP_CipherFinal_ex(c, out + ol, &fl) || !enc;
	if (enc)
		ok &= EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag);
	/* the CEK under the KEK */
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	ok &= EVP_CipherInit_ex2(c, kw, key, NULL, enc, NULL);
	ok &= EVP_CipherUpdate(c, enc ? wrapped : cek, &ol, enc ? cek : wrapped,
	    enc ? 16 : 24);
	EVP_CIPHER_CTX_free(c);
	/* V */
	m = EVP_MAC_CTX_new(hmac);
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	p[1] = OSSL_PARAM_construct_end();
	ok &= EVP_MAC_init(m, mk, sizeof(mk), p);
	ok &= EVP_MAC_update(m, tin, sizeof(tin));
	ok &= EVP_MAC_final(m, v, &vl, sizeof(v));
	EVP_MAC_CTX_free(m);
	return ok ? 0 : -1;
}

static double
floor_rate(int enc, size_t len)
{
	uint8_t *in = calloc(1, len), *out = malloc(len + 32);
	double t0 = now(), t;
	long n = 0;

	do {
		(void)floor_once(enc, in, len, out);
		n++;
	} while ((t = now() - t0) < 0.2);
	free(in);
	free(out);
	return (double)n / t;
}

/* ---- the library */

struct wmsg {
	uint8_t	*body;
	size_t	 len;
	char	*ct;
};

int
main(void)
{
	static const size_t sizes[] = { 100, 1024, 10240 };
	struct imgate_ctx *a = NULL, *b = NULL;
	struct imgate_opts o;
	struct imgate_result *r;
	struct wmsg *m;
	const char *rcpt[1] = { BOB };
	uint8_t *body;
	double t0, tw, tu, best_w, best_u, fw, fu;
	unsigned long calls0, msgs = 0;
	size_t si, i, n;
	int round, rc;

	RAND_bytes(psk_a, 16);
	RAND_bytes(psk_b, 16);
	RAND_bytes(tpk, 32);
	kc.id.type = MIKEY_ID_URI;
	kc.id.data.p = (const uint8_t *)"sip:kms@example.com";
	kc.id.data.len = strlen("sip:kms@example.com");
	kc.lifetime = 30 * 86400;
	kc.ops = &ops;
	kc.rc = mikey_rcache_new(100000, 300, NULL, NULL);
	gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	kw = EVP_CIPHER_fetch(NULL, "AES-128-WRAP", NULL);
	hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (kc.rc == NULL || gcm == NULL || kw == NULL || hmac == NULL)
		return 1;

	imgate_opts_init(&o);
	o.replay_entries = 4 * MAX_BATCH;
	if (imgate_ctx_new(ALICE, "http://kms.invalid/", psk_a, 16, &o,
	    &a) != 0 || imgate_ctx_new(BOB, "http://kms.invalid/", psk_b, 16,
	    &o, &b) != 0)
		return 1;
	imgate_ctx_set_transport(a, kms_transport, NULL);
	imgate_ctx_set_transport(b, kms_transport, NULL);
	if ((m = calloc(MAX_BATCH, sizeof(*m))) == NULL ||
	    (body = malloc(10240)) == NULL)
		return 1;
	RAND_bytes(body, 10240);

	printf("imgate wrap/unwrap, AES-128-GCM suite, unsigned, cached "
	    "ticket and resolved keys\n");
	printf("%-7s %10s %10s %12s %12s %8s %8s\n", "body", "wrap/s",
	    "unwrap/s", "floor enc/s", "floor dec/s", "wrap x", "unwrap x");
	/* warm up: the one request and the one resolve */
	rc = imgate_wrap(a, ALICE, rcpt, 1, "text/plain", body, 100,
	    &m[0].body, &m[0].len, &m[0].ct);
	rc = rc ? rc : imgate_unwrap(b, ALICE, m[0].ct, m[0].body, m[0].len,
	    &r);
	if (rc != 0) {
		fprintf(stderr, "warm-up: %s (%s / %s)\n", imgate_strerror(rc),
		    imgate_last_detail(a), imgate_last_detail(b));
		return 1;
	}
	imgate_result_free(r);
	free(m[0].body);
	free(m[0].ct);
	calls0 = kms_calls;

	for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		best_w = best_u = 0;
		for (round = 0; round < 3; round++) {
			n = 0;
			t0 = now();
			do {
				rc = imgate_wrap(a, ALICE, rcpt, 1,
				    "application/octet-stream", body, sizes[si],
				    &m[n].body, &m[n].len, &m[n].ct);
				if (rc != 0) {
					fprintf(stderr, "wrap: %s\n",
					    imgate_last_detail(a));
					return 1;
				}
				n++;
			} while (n < MAX_BATCH && now() - t0 < BATCH_SEC);
			tw = now() - t0;
			t0 = now();
			for (i = 0; i < n; i++) {
				rc = imgate_unwrap(b, ALICE, m[i].ct, m[i].body,
				    m[i].len, &r);
				if (rc != 0) {
					fprintf(stderr, "unwrap: %s\n",
					    imgate_last_detail(b));
					return 1;
				}
				imgate_result_free(r);
			}
			tu = now() - t0;
			for (i = 0; i < n; i++) {
				free(m[i].body);
				free(m[i].ct);
			}
			msgs += n;
			if ((double)n / tw > best_w)
				best_w = (double)n / tw;
			if ((double)n / tu > best_u)
				best_u = (double)n / tu;
		}
		fw = floor_rate(1, sizes[si]);
		fu = floor_rate(0, sizes[si]);
		printf("%-7zu %10.0f %10.0f %12.0f %12.0f %8.1f %8.1f\n",
		    sizes[si], best_w, best_u, fw, fu, fw / best_w,
		    fu / best_u);
	}
	printf("KMS calls per message in steady state: %lu over %lu messages "
	    "(%.6f); warm-up: %lu (1 request + 1 resolve)\n",
	    kms_calls - calls0, msgs, (double)(kms_calls - calls0) /
	    (double)msgs, calls0);
	printf("(floor: AES-128-GCM of the body + AES-128 key wrap of the "
	    "CEK + HMAC-SHA-256 of 300 B; \"x\": floor rate / imgate rate)\n");
	imgate_ctx_free(a);
	imgate_ctx_free(b);
	free(m);
	free(body);
	mikey_rcache_free(kc.rc);
	EVP_CIPHER_free(gcm);
	EVP_CIPHER_free(kw);
	EVP_MAC_free(hmac);
	return 0;
}
