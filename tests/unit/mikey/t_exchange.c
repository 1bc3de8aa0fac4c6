/*
 * tests/unit/mikey/t_exchange.c - the three MIKEY-TICKET exchanges end to end (TAP)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * 1. spec/mikey-ticket.md 11.3 reproduced byte for byte by the initiator,
 *    KMS and responder functions, with its clock and random values
 *    scripted, and the TEK/salt of the example at both ends.
 * 2. The one-way messaging profile (F = 0, SHA-256 suite): same TEK.
 * 3. Every flipped bit of every message of the exchange is rejected.
 * 4. KMS errors: wrong PSK, unknown user, not a responder, expired,
 *    unknown key version, tampered ticket, replay, clock skew.
 * 5. Modes 2 and 3, and key forking.
 * 6. The modified replay cache on TRANSFER_INITs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "mikey/mikey.h"
#include "tests/tap.h"

/* MUST - a setup step that has to work (counted as a test) */
#define MUST(x) ok((x) == 0, "setup: %s", #x)

/* ---- scripted clock and RNG ---- */

static uint64_t clk;

static uint64_t
fake_now(void *arg)
{
	(void)arg;
	return clk;
}

struct script {
	const char	*chunks[16];
	size_t		 next;
	int		 errors;
};

static int
script_rand(void *arg, uint8_t *buf, size_t len)
{
	struct script *s = arg;
	uint8_t tmp[256];
	size_t n;

	if (s->chunks[s->next] == NULL) {
		s->errors++;
		return -1;
	}
	n = hex2bin(s->chunks[s->next++], tmp, sizeof(tmp));
	if (n != len) {
		printf("# script: asked for %zu bytes, chunk has %zu\n", len, n);
		s->errors++;
		return -1;
	}
	memcpy(buf, tmp, len);
	return 0;
}

/* counter RNG for the non-scripted tests: deterministic, distinct */
static uint32_t ctr = 1;

static int
ctr_rand(void *arg, uint8_t *buf, size_t len)
{
	size_t i;

	(void)arg;
	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)((ctr * 2654435761u) >> ((i % 4) * 8)) ^
		    (uint8_t)i;
	ctr++;
	return 0;
}

/* ---- a little KMS policy ---- */

static uint8_t psk_a[16], psk_b[16], psk_c[16], tpk_key[16], tpk2_key[32];
static const char *ALICE = "sip:alice@example.com";
static const char *BOB = "sip:bob@example.com";
static const char *CAROL = "sip:carol@example.com";
static const char *KMS = "sip:kms@example.com";
static uint32_t cur_version;
static int psk_mode3;

static struct mikey_id
uri(const char *s)
{
	struct mikey_id id;

	id.type = MIKEY_ID_URI;
	id.data.p = (const uint8_t *)s;
	id.data.len = strlen(s);
	return id;
}

static struct mikey_id
idbytes(const char *s)
{
	struct mikey_id id = uri(s);

	id.type = MIKEY_ID_BYTES;
	return id;
}

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
	(void)arg;
	(void)idpsk;
	if (is(id, ALICE))
		memcpy(key, psk_a, 16);
	else if (is(id, BOB))
		memcpy(key, psk_b, 16);
	else if (is(id, CAROL))
		memcpy(key, psk_c, 16);
	else
		return -1;
	*len = 16;
	return 0;
}

static int
pol_current(void *arg, struct mikey_tpk *tpk)
{
	(void)arg;
	memset(tpk, 0, sizeof(*tpk));
	tpk->version = cur_version;
	if (cur_version == 2) {
		memcpy(tpk->key, tpk2_key, 32);
		tpk->key_len = 32;
	} else {
		memcpy(tpk->key, tpk_key, 16);
		tpk->key_len = 16;
	}
	return 0;
}

static int
pol_lookup(void *arg, int has_version, uint32_t version,
    const struct mikey_id *idpsk, struct mikey_tpk *tpk)
{
	(void)arg;
	memset(tpk, 0, sizeof(*tpk));
	if (idpsk != NULL) {
		if (!psk_mode3 || !is(idpsk, "tpk-alice"))
			return -1;
		memcpy(tpk->key, psk_a, 16);	/* mode 3: TPK = I's PSK */
		tpk->key_len = 16;
		return 0;
	}
	if (!has_version)
		version = 0;
	if (version == 0 || version == 1) {
		memcpy(tpk->key, tpk_key, 16);
		tpk->key_len = 16;
	} else if (version == 2) {
		memcpy(tpk->key, tpk2_key, 32);
		tpk->key_len = 32;
	} else
		return -1;
	tpk->version = version;
	return 0;
}

static int
pol_req(void *arg, const struct mikey_id *requester, struct mikey_grant *g)
{
	(void)arg;
	/* a user asks for itself only */
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

/* ---- 1. spec 11.3 ---- */

static size_t
spec(const char *name, uint8_t *out)
{
	char path[512], buf[8192];
	const char *top = getenv("top_srcdir");
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/tests/data/mikey/%s.hex",
	    top ? top : ".", name);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return hex2bin(buf, out, 2048);
}

static void
test_spec_exchange(void)
{
	struct script s;
	struct mikey_env env = { fake_now, NULL, script_rand, &s, 300 };
	struct mikey_request_params rp;
	struct mikey_i_request rq;
	struct mikey_ticket t;
	struct mikey_transfer_params tp;
	struct mikey_i_transfer it;
	struct mikey_r_transfer x;
	struct mikey_cred me;
	struct mikey_r_resolve rs;
	struct mikey_resolved keys;
	struct mikey_kms_conf kc;
	struct mikey_kms_result res;
	static const uint8_t spp[] = { 0, 1, 1, 2, 1, 1 };
	static const uint8_t ssrc[] = { 0xca, 0xfe, 0, 1 }, spi[] = { 0, 0, 0,
	    1 }, ps[] = { 0 };
	uint8_t want[2048], m1[2048], m2[2048], m3[2048], m4[2048], m5[2048],
	    m6[2048], tek_i[16], tek_r[16], salt[14], rr[255], exp[32];
	size_t wl, l1, l2, l3, l4, l5, l6, rrl;
	int rc, perr = -1;
	struct mikey_bytes rrb;

	hex2bin("000102030405060708090a0b0c0d0e0f", psk_a, 16);
	hex2bin("101112131415161718191a1b1c1d1e1f", psk_b, 16);
	hex2bin("c0c1c2c3c4c5c6c7c8c9cacbcccdcecf", psk_c, 16);
	hex2bin("202122232425262728292a2b2c2d2e2f", tpk_key, 16);
	cur_version = 0;	/* unversioned TPK: empty THDR as in 11.3 */

	memset(&s, 0, sizeof(s));
	s.chunks[0] = "11111111";
	s.chunks[1] = "606162636465666768696a6b6c6d6e6f";
	memset(&rp, 0, sizeof(rp));
	rp.idi = uri(ALICE);
	rp.idkms = uri(KMS);
	rp.psk = psk_a;
	rp.psk_len = 16;
	rp.suite = mikey_suite_128;
	rp.flags = MIKEY_TPF_D | MIKEY_TPF_E | MIKEY_TPF_F | MIKEY_TPF_G |
	    MIKEY_TPF_H | MIKEY_TPF_J | MIKEY_TPF_N | MIKEY_TPF_O;
	rp.start = 0xeb1f0400ull << 32;
	rp.end = 0xeb205580ull << 32;
	rp.nresp = 1;
	rp.resp[0] = uri(BOB);
	rp.nkeys = 1;
	rp.key_type[0] = MIKEY_KEY_TGK;
	rp.key_len[0] = 16;
	clk = 0xeb1f040000000000ull;
	rc = mikey_i_request_init(&env, &rp, &rq, m1, sizeof(m1), &l1);
	is_int(rc, 0, "11.3: build REQUEST_INIT_PSK");
	wl = spec("request_init_psk", want);
	is_mem(m1, l1, want, wl, "11.3: REQUEST_INIT_PSK byte for byte");

	memset(&kc, 0, sizeof(kc));
	kc.id = uri(KMS);
	kc.lifetime = 30 * 86400;
	kc.ops = &ops;
	kc.rc = mikey_rcache_new(1000, 300, fake_now, NULL);
	s.chunks[2] = "303132333435363738393a3b3c3d3e3f";	/* MPK */
	s.chunks[3] = "404142434445464748494a4b4c4d4e4f";	/* TGK */
	s.chunks[4] = "505152535455565758595a5b5c5d5e5f";	/* ticket RAND */
	clk = 0xeb1f040100000000ull;
	rc = mikey_kms_process(&env, &kc, m1, l1, m2, sizeof(m2), &l2, &res);
	ok(rc == 0 && res.err == 0, "11.3: KMS answers the request (err %s)",
	    mikey_strerror(res.err));
	wl = spec("request_resp", want);
	is_mem(m2, l2, want, wl, "11.3: REQUEST_RESP byte for byte");
	rc = mikey_i_request_resp(&env, &rq, m2, l2, &t, &perr, NULL);
	is_int(rc, 0, "11.3: initiator accepts REQUEST_RESP");
	hex2bin("ce8dd317c23951ba86fc68dd137d1a9a", exp, 16);
	is_mem(t.mpki.key, t.mpki.key_len, exp, 16, "11.3: MPKi");

	s.chunks[5] = "22222222";
	s.chunks[6] = "909192939495969798999a9b9c9d9e9f";
	memset(&tp, 0, sizeof(tp));
	tp.idi = uri(ALICE);
	tp.idr = uri(BOB);
	tp.suite = mikey_suite_128;
	tp.ncs = 1;
	tp.cs[0].cs_id = 1;
	tp.cs[0].prot_type = MIKEY_PROT_SRTP;
	tp.cs[0].ps = (struct mikey_bytes){ ps, 1 };
	tp.cs[0].session_data = (struct mikey_bytes){ ssrc, 4 };
	tp.cs[0].spi = (struct mikey_bytes){ spi, 4 };
	tp.nsp = 1;
	tp.sp[0].policy_no = 0;
	tp.sp[0].prot_type = MIKEY_PROT_SRTP;
	tp.sp[0].params = (struct mikey_bytes){ spp, sizeof(spp) };
	clk = 0xeb1f040200000000ull;
	rc = mikey_i_transfer_init(&env, &t, &tp, &it, m3, sizeof(m3), &l3);
	is_int(rc, 0, "11.3: build TRANSFER_INIT");
	wl = spec("transfer_init", want);
	is_mem(m3, l3, want, wl, "11.3: TRANSFER_INIT byte for byte");

	rc = mikey_r_transfer_parse(&env, m3, l3, &x, NULL);
	is_int(rc, 0, "11.3: responder parses TRANSFER_INIT");
	s.chunks[7] = "33333333";
	s.chunks[8] = "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf";
	memset(&me, 0, sizeof(me));
	me.id = uri(BOB);
	me.idkms = uri(KMS);
	me.psk = psk_b;
	me.psk_len = 16;
	me.suite = mikey_suite_128;
	clk = 0xeb1f040300000000ull;
	rc = mikey_r_resolve_init(&env, &x, &me, &rs, m4, sizeof(m4), &l4);
	is_int(rc, 0, "11.3: build RESOLVE_INIT_PSK");
	wl = spec("resolve_init_psk", want);
	is_mem(m4, l4, want, wl, "11.3: RESOLVE_INIT_PSK byte for byte");

	clk = 0xeb1f040400000000ull;
	rc = mikey_kms_process(&env, &kc, m4, l4, m5, sizeof(m5), &l5, &res);
	ok(rc == 0 && res.err == 0, "11.3: KMS resolves (err %s)",
	    mikey_strerror(res.err));
	wl = spec("resolve_resp", want);
	is_mem(m5, l5, want, wl, "11.3: RESOLVE_RESP byte for byte");
	rc = mikey_r_resolve_resp(&env, &rs, &x, m5, l5, &keys, &perr, NULL);
	is_int(rc, 0, "11.3: responder accepts RESOLVE_RESP and verifies "
	    "TRANSFER_INIT");

	s.chunks[9] = "707172737475767778797a7b7c7d7e7f";
	clk = 0xeb1f040500000000ull;
	rc = mikey_r_transfer_resp(&env, &x, &keys, rr, &rrl, m6, sizeof(m6),
	    &l6);
	is_int(rc, 0, "11.3: build TRANSFER_RESP");
	wl = spec("transfer_resp", want);
	is_mem(m6, l6, want, wl, "11.3: TRANSFER_RESP byte for byte");
	rc = mikey_i_transfer_resp(&env, &t, &it, m6, l6, NULL);
	is_int(rc, 0, "11.3: initiator accepts TRANSFER_RESP");

	hex2bin("97cb9af58f236c9637a6d9f0664a29e6", exp, 16);
	rc = mikey_i_transfer_tek(&t, &it, 1, tek_i, 16);
	is_int(rc, 0, "11.3: initiator TEK");
	is_mem(tek_i, 16, exp, 16, "11.3: initiator TEK for CS 1");
	rrb.p = rr;
	rrb.len = rrl;
	rc = mikey_r_transfer_tek(&x, &keys, &rrb, 1, tek_r, 16);
	is_int(rc, 0, "11.3: responder TEK");
	is_mem(tek_r, 16, exp, 16, "11.3: responder TEK for CS 1");
	hex2bin("2e3c356113477c6defc189f4c52b", exp, 14);
	rc = mikey_tek_derive(0, &keys.keys[0], 1, &x.randri, &rrb,
	    MIKEY_C_SALT_TGK, salt, 14);
	is_mem(salt, 14, exp, 14, "11.3: SRTP salt for CS 1");
	is_int(s.errors, 0, "11.3: random values asked for in the script's "
	    "order");
	mikey_rcache_free(kc.rc);
	mikey_ticket_cleanup(&t);
	mikey_resolved_cleanup(&keys);
}

/* ---- 2-4: the one-way profile and its failures ---- */

struct run {
	struct mikey_env env;
	struct mikey_kms_conf kc;
	struct mikey_request_params rp;
	struct mikey_i_request rq;
	struct mikey_ticket t;
	struct mikey_transfer_params tp;
	struct mikey_i_transfer it;
	struct mikey_r_transfer x;
	struct mikey_cred me;
	struct mikey_r_resolve rs;
	struct mikey_resolved keys;
	uint8_t m[4][2048];
	size_t l[4];
};

static void
run_setup(struct run *r, const struct mikey_suite *suite, uint32_t flags)
{
	static const uint8_t cmsps[] = { 0 };

	memset(r, 0, sizeof(*r));
	r->env.now = fake_now;
	r->env.rand = ctr_rand;
	r->env.skew = 300;
	r->kc.id = uri(KMS);
	r->kc.lifetime = 30 * 86400;
	r->kc.ops = &ops;
	r->kc.rc = mikey_rcache_new(10000, 300, fake_now, NULL);
	r->rp.idi = uri(ALICE);
	r->rp.idkms = uri(KMS);
	r->rp.psk = psk_a;
	r->rp.psk_len = 16;
	r->rp.suite = *suite;
	r->rp.flags = flags;
	r->rp.ticket_prf = suite->prf;
	r->rp.nresp = 1;
	r->rp.resp[0] = uri(BOB);
	r->tp.idi = uri(ALICE);
	r->tp.idr = uri(BOB);
	r->tp.suite = *suite;
	r->tp.ncs = 1;
	r->tp.cs[0].cs_id = 1;
	r->tp.cs[0].prot_type = MIKEY_PROT_IMGATE_CMS;
	r->tp.cs[0].ps = (struct mikey_bytes){ cmsps, 0 };
	r->me.id = uri(BOB);
	r->me.idkms = uri(KMS);
	r->me.psk = psk_b;
	r->me.psk_len = 16;
	r->me.suite = *suite;
}

/* run_all - request, transfer, resolve; 0 if every step succeeded */
static int
run_all(struct run *r)
{
	struct mikey_kms_result res;
	int perr, rc;

	if ((rc = mikey_i_request_init(&r->env, &r->rp, &r->rq, r->m[0],
	    2048, &r->l[0])) != 0)
		return rc;
	if ((rc = mikey_kms_process(&r->env, &r->kc, r->m[0], r->l[0],
	    r->m[1], 2048, &r->l[1], &res)) != 0 || res.err)
		return rc ? rc : res.err;
	if ((rc = mikey_i_request_resp(&r->env, &r->rq, r->m[1], r->l[1],
	    &r->t, &perr, NULL)) != 0)
		return rc;
	if ((rc = mikey_i_transfer_init(&r->env, &r->t, &r->tp, &r->it,
	    r->m[2], 2048, &r->l[2])) != 0)
		return rc;
	if ((rc = mikey_r_transfer_parse(&r->env, r->m[2], r->l[2], &r->x,
	    NULL)) != 0)
		return rc;
	if ((rc = mikey_r_resolve_init(&r->env, &r->x, &r->me, &r->rs,
	    r->m[3], 2048, &r->l[3])) != 0)
		return rc;
	{
		uint8_t resp[2048];
		size_t rl;

		if ((rc = mikey_kms_process(&r->env, &r->kc, r->m[3], r->l[3],
		    resp, sizeof(resp), &rl, &res)) != 0 || res.err)
			return rc ? rc : res.err;
		return mikey_r_resolve_resp(&r->env, &r->rs, &r->x, resp, rl,
		    &r->keys, &perr, NULL);
	}
}

static void
test_oneway(const struct mikey_suite *suite, const char *name)
{
	struct run r;
	uint8_t a[32], b[32], dummy[2048], rr[255];
	size_t dl, rrl;
	int rc;

	clk = 0xeb1f040000000000ull;
	run_setup(&r, suite, MIKEY_TPF_ONEWAY);
	hex2bin("202122232425262728292a2b2c2d2e2f", tpk_key, 16);
	cur_version = 1;
	rc = run_all(&r);
	is_int(rc, 0, "%s one-way: request, transfer, resolve", name);
	ok(r.x.msg.hdr.v_flag == 0, "%s one-way: TRANSFER_INIT V flag = F = 0",
	    name);
	rc = mikey_i_transfer_tek(&r.t, &r.it, 1, a, 16);
	is_int(rc, 0, "%s one-way: initiator TEK", name);
	rc = mikey_r_transfer_tek(&r.x, &r.keys, NULL, 1, b, 16);
	is_int(rc, 0, "%s one-way: responder TEK", name);
	is_mem(a, 16, b, 16, "%s one-way: same TEK at both ends", name);
	ok(mikey_r_transfer_resp(&r.env, &r.x, &r.keys, rr, &rrl, dummy,
	    sizeof(dummy), &dl) == MIKEY_ERR_POLICY, "%s one-way: no "
	    "TRANSFER_RESP when F = 0", name);
	/* a second TRANSFER_INIT with the same ticket: no KMS call, new
	 * RANDRi gives a new TEK, verified with the resolved keys */
	rc = mikey_i_transfer_init(&r.env, &r.t, &r.tp, &r.it, r.m[2], 2048,
	    &r.l[2]);
	rc = rc ? rc : mikey_r_transfer_parse(&r.env, r.m[2], r.l[2], &r.x,
	    NULL);
	rc = rc ? rc : mikey_r_transfer_verify(&r.x, &r.keys);
	is_int(rc, 0, "%s one-way: ticket reused, verified from cached keys",
	    name);
	MUST(mikey_i_transfer_tek(&r.t, &r.it, 1, a + 16, 16));
	MUST(mikey_r_transfer_tek(&r.x, &r.keys, NULL, 1, b + 16, 16));
	ok(memcmp(a + 16, b + 16, 16) == 0 && memcmp(a, a + 16, 16) != 0,
	    "%s one-way: per-message TEK differs, still agrees", name);
	/* a bare ticket (no TRANSFER_INIT) resolves to the same MPKi */
	{
		struct mikey_r_transfer xb;
		struct mikey_r_resolve rsb;
		struct mikey_resolved kb;
		struct mikey_kms_result res;
		uint8_t m[2048], resp[2048];
		size_t l, rl;
		int perr;

		rc = mikey_r_ticket_parse(&r.env, r.t.payload, r.t.payload_len,
		    &xb, NULL);
		rc = rc ? rc : mikey_r_resolve_init(&r.env, &xb, &r.me, &rsb, m,
		    sizeof(m), &l);
		rc = rc ? rc : mikey_kms_process(&r.env, &r.kc, m, l, resp,
		    sizeof(resp), &rl, &res);
		rc = rc ? rc : res.err;
		rc = rc ? rc : mikey_r_resolve_resp(&r.env, &rsb, &xb, resp, rl,
		    &kb, &perr, NULL);
		is_int(rc, 0, "%s: a bare ticket resolves", name);
		is_mem(kb.mpki.key, kb.mpki.key_len, r.t.mpki.key,
		    r.t.mpki.key_len, "%s: bare ticket: same MPKi as the "
		    "initiator's", name);
	}
	mikey_rcache_free(r.kc.rc);
}

/* flip_rejected - how many single-bit flips of msg were NOT rejected */
static size_t
flips_accepted(struct run *r, int which)
{
	struct mikey_kms_result res;
	uint8_t buf[2048], out[2048];
	size_t i, ol, bad = 0;
	int b, rc, perr;

	for (i = 0; i < r->l[which] * 8; i++) {
		memcpy(buf, r->m[which], r->l[which]);
		buf[i / 8] ^= (uint8_t)(1 << (i % 8));
		switch (which) {
		case 0:	/* REQUEST_INIT at the KMS */
		case 3:	/* RESOLVE_INIT at the KMS */
			rc = mikey_kms_process(&r->env, &r->kc, buf,
			    r->l[which], out, sizeof(out), &ol, &res);
			b = rc == 0 && res.err == 0;
			break;
		case 1:	/* REQUEST_RESP at the initiator */
		{
			struct mikey_ticket t2;

			rc = mikey_i_request_resp(&r->env, &r->rq, buf,
			    r->l[1], &t2, &perr, NULL);
			b = rc == 0;
			break;
		}
		default: /* TRANSFER_INIT at the responder, cached keys */
		{
			struct mikey_r_transfer x2;

			rc = mikey_r_transfer_parse(&r->env, buf, r->l[2], &x2,
			    NULL);
			if (rc == 0)
				rc = mikey_r_transfer_verify(&x2, &r->keys);
			b = rc == 0;
			break;
		}
		}
		bad += b;
	}
	return bad;
}

static void
test_flips(void)
{
	struct run r;
	uint8_t resp[2048], buf[2048];
	struct mikey_kms_result res;
	struct mikey_resolved k2;
	size_t rl, i, bad = 0;
	int rc, perr;

	clk = 0xeb1f040000000000ull;
	run_setup(&r, &mikey_suite_256, MIKEY_TPF_ONEWAY);
	rc = run_all(&r);
	is_int(rc, 0, "flips: baseline exchange");
	is_int(flips_accepted(&r, 0), 0, "every bit flip of REQUEST_INIT "
	    "(%zu bits) rejected by the KMS", r.l[0] * 8);
	is_int(flips_accepted(&r, 1), 0, "every bit flip of REQUEST_RESP "
	    "(%zu bits) rejected by the initiator", r.l[1] * 8);
	is_int(flips_accepted(&r, 2), 0, "every bit flip of TRANSFER_INIT "
	    "(%zu bits) rejected by the responder", r.l[2] * 8);
	is_int(flips_accepted(&r, 3), 0, "every bit flip of RESOLVE_INIT "
	    "(%zu bits) rejected by the KMS", r.l[3] * 8);
	/* RESOLVE_RESP: a fresh one, then flip it at the responder */
	mikey_rcache_free(r.kc.rc);
	r.kc.rc = NULL;
	rc = mikey_kms_process(&r.env, &r.kc, r.m[3], r.l[3], resp,
	    sizeof(resp), &rl, &res);
	ok(rc == 0 && res.err == 0, "flips: resolve again");
	for (i = 0; i < rl * 8; i++) {
		memcpy(buf, resp, rl);
		buf[i / 8] ^= (uint8_t)(1 << (i % 8));
		if (mikey_r_resolve_resp(&r.env, &r.rs, &r.x, buf, rl, &k2,
		    &perr, NULL) == 0)
			bad++;
	}
	is_int(bad, 0, "every bit flip of RESOLVE_RESP (%zu bits) rejected "
	    "by the responder", rl * 8);
	/* tampered ticket inside a correctly authenticated RESOLVE_INIT */
	{
		struct mikey_r_transfer x2;
		size_t toff = r.x.ticket->off + 20, n = 0, l;

		for (i = 0; i < 16; i++) {
			memcpy(buf, r.m[2], r.l[2]);
			buf[toff + i * 7 % (r.x.ticket->len - 22)] ^= 0x10;
			if (mikey_r_transfer_parse(&r.env, buf, r.l[2], &x2,
			    NULL) != 0)
				continue;
			if (mikey_r_resolve_init(&r.env, &x2, &r.me, &r.rs,
			    r.m[3], 2048, &l) != 0)
				continue;
			rc = mikey_kms_process(&r.env, &r.kc, r.m[3], l, resp,
			    sizeof(resp), &rl, &res);
			if (rc == 0 && res.err == 0)
				bad++;
			else
				n++;
		}
		ok(bad == 0 && n > 0, "tampered tickets refused by the KMS "
		    "(%zu reached it)", n);
	}
}

/* kms_err - run one message through the KMS; the Error no it answered */
static int
kms_errno(struct run *r, const uint8_t *m, size_t l, int *err)
{
	struct mikey_kms_result res;
	struct mikey_msg em;
	uint8_t out[2048];
	size_t ol;
	int rc;

	rc = mikey_kms_process(&r->env, &r->kc, m, l, out, sizeof(out), &ol,
	    &res);
	*err = res.err;
	if (rc != 0)
		return -2;
	if (mikey_msg_decode(out, ol, &em, NULL) != 0)
		return -3;
	if (em.hdr.data_type != MIKEY_DT_ERROR)
		return -1;
	return mikey_chain_find(&em.body, MIKEY_PT_ERR, -1, 0)->u.err.errno_;
}

static void
test_kms_errors(void)
{
	struct run r;
	uint8_t m[2048], bad_psk[16];
	size_t l;
	int err, en;

	clk = 0xeb1f040000000000ull;
	run_setup(&r, &mikey_suite_256, MIKEY_TPF_ONEWAY);
	is_int(run_all(&r), 0, "errors: baseline");

	/* replay of the REQUEST_INIT */
	en = kms_errno(&r, r.m[0], r.l[0], &err);
	ok(en == MIKEY_EN_TS && err == MIKEY_ERR_REPLAY, "replayed "
	    "REQUEST_INIT: ERR %d (%s)", en, mikey_strerror(err));
	/* wrong PSK */
	memcpy(bad_psk, psk_a, 16);
	bad_psk[3] ^= 1;
	r.rp.psk = bad_psk;
	MUST(mikey_i_request_init(&r.env, &r.rp, &r.rq, m, sizeof(m), &l));
	en = kms_errno(&r, m, l, &err);
	ok(en == MIKEY_EN_AUTH && err == MIKEY_ERR_AUTH, "wrong PSK: ERR %d "
	    "(%s)", en, mikey_strerror(err));
	r.rp.psk = psk_a;
	/* unknown identity looks the same as a wrong PSK */
	r.rp.idi = uri("sip:mallory@example.com");
	MUST(mikey_i_request_init(&r.env, &r.rp, &r.rq, m, sizeof(m), &l));
	en = kms_errno(&r, m, l, &err);
	ok(en == MIKEY_EN_AUTH && err == MIKEY_ERR_UNKNOWN_ID, "unknown user: "
	    "ERR %d (%s)", en, mikey_strerror(err));
	r.rp.idi = uri(ALICE);
	/* clock skew */
	clk += 1000ull << 32;
	MUST(mikey_i_request_init(&r.env, &r.rp, &r.rq, m, sizeof(m), &l));
	clk -= 1000ull << 32;
	en = kms_errno(&r, m, l, &err);
	ok(en == MIKEY_EN_TS && err == MIKEY_ERR_TS, "T 1000 s ahead: ERR %d "
	    "(%s)", en, mikey_strerror(err));
	/* carol is not a responder of alice's ticket */
	r.me.id = uri(CAROL);
	r.me.psk = psk_c;
	MUST(mikey_r_resolve_init(&r.env, &r.x, &r.me, &r.rs, m, sizeof(m), &l));
	en = kms_errno(&r, m, l, &err);
	ok(en == MIKEY_EN_UNSPEC && err == MIKEY_ERR_NOT_AUTHORISED, "carol "
	    "resolves bob's ticket: ERR %d (%s)", en, mikey_strerror(err));
	r.me.id = uri(BOB);
	r.me.psk = psk_b;
	/* expired ticket: 31 days later (default lifetime 30 days) */
	clk += (31ull * 86400) << 32;
	MUST(mikey_r_resolve_init(&r.env, &r.x, &r.me, &r.rs, m, sizeof(m), &l));
	en = kms_errno(&r, m, l, &err);
	ok(en == MIKEY_EN_TS && err == MIKEY_ERR_EXPIRED, "expired ticket: "
	    "ERR %d (%s)", en, mikey_strerror(err));
	{
		struct mikey_r_transfer x2;

		is_int(mikey_r_transfer_parse(&r.env, r.m[2], r.l[2], &x2,
		    NULL), MIKEY_ERR_EXPIRED, "expired ticket: responder "
		    "refuses before contacting the KMS");
	}
	clk -= (31ull * 86400) << 32;
	/* Error messages are never answered */
	{
		uint8_t em[64], out[64];
		size_t el, ol;
		struct mikey_kms_result res;

		MUST(mikey_error_msg(&r.env, &r.x.msg.hdr, MIKEY_EN_AUTH, em,
		    sizeof(em), &el));
		ok(mikey_kms_process(&r.env, &r.kc, em, el, out, sizeof(out),
		    &ol, &res) == MIKEY_ERR_PEER, "an Error message gets no "
		    "answer");
	}
	/* PK variants: decoded, answered "unsupported message type" */
	{
		uint8_t pk[2048];

		memcpy(pk, r.m[0], r.l[0]);
		pk[1] = MIKEY_DT_REQUEST_INIT_PK;
		en = kms_errno(&r, pk, r.l[0], &err);
		is_int(en, MIKEY_EN_MSGTYPE, "REQUEST_INIT_PK: ERR 13");
	}
	/* garbage with a MIKEY header: Error; without: nothing */
	{
		uint8_t g[12] = { 1, 11, 99, 0, 1, 2, 3, 4, 0, 1, 0, 0 };

		en = kms_errno(&r, g, sizeof(g), &err);
		ok(en >= 0, "garbage after a MIKEY header: answered with ERR "
		    "%d", en);
		g[0] = 'G';
		en = kms_errno(&r, g, sizeof(g), &err);
		is_int(en, -2, "no MIKEY header: no answer");
	}
	mikey_rcache_free(r.kc.rc);
}

static int
lookup_none(void *arg, int hv, uint32_t v, const struct mikey_id *idp,
    struct mikey_tpk *tpk)
{
	(void)arg;
	(void)hv;
	(void)v;
	(void)idp;
	(void)tpk;
	return -1;
}

static void
test_key_versions(void)
{
	struct run r;
	struct mikey_kms_ops o2 = ops;
	uint8_t m[2048];
	size_t l;
	int err, en;

	clk = 0xeb1f040000000000ull;
	hex2bin("c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf",
	    tpk2_key, 32);
	run_setup(&r, &mikey_suite_256, MIKEY_TPF_ONEWAY);
	cur_version = 1;
	is_int(run_all(&r), 0, "versions: ticket under master key 1");
	/* rotation: new tickets under version 2, old ones still resolve */
	cur_version = 2;
	MUST(mikey_r_resolve_init(&r.env, &r.x, &r.me, &r.rs, m, sizeof(m), &l));
	en = kms_errno(&r, m, l, &err);
	ok(en == -1 && err == 0, "versions: after rotation the version-1 "
	    "ticket still resolves");
	{
		struct run r2;

		run_setup(&r2, &mikey_suite_256, MIKEY_TPF_ONEWAY);
		is_int(run_all(&r2), 0, "versions: a new ticket under master "
		    "key 2 resolves");
		mikey_rcache_free(r2.kc.rc);
	}
	/* retired: the lookup no longer knows the version */
	o2.lookup_tpk = lookup_none;
	r.kc.ops = &o2;
	MUST(mikey_r_resolve_init(&r.env, &r.x, &r.me, &r.rs, m, sizeof(m), &l));
	en = kms_errno(&r, m, l, &err);
	ok(en == MIKEY_EN_TICKET && err == MIKEY_ERR_KEY_VERSION, "versions: "
	    "unknown key version: ERR %d (%s)", en, mikey_strerror(err));
	cur_version = 1;
	mikey_rcache_free(r.kc.rc);
}

/* ---- 5. modes and forking ---- */

static void
test_mode2(void)
{
	struct run r;
	uint8_t a[16], b[16];
	struct mikey_resolved k2;
	int rc;

	clk = 0xeb1f040000000000ull;
	/* E = 0: the responder, holding the TPK, opens the ticket itself */
	run_setup(&r, &mikey_suite_128, MIKEY_TPF_ONEWAY & ~MIKEY_TPF_E);
	rc = mikey_i_request_init(&r.env, &r.rp, &r.rq, r.m[0], 2048,
	    &r.l[0]);
	{
		struct mikey_kms_result res;
		int perr;

		rc = rc ? rc : mikey_kms_process(&r.env, &r.kc, r.m[0],
		    r.l[0], r.m[1], 2048, &r.l[1], &res);
		rc = rc ? rc : res.err;
		rc = rc ? rc : mikey_i_request_resp(&r.env, &r.rq, r.m[1],
		    r.l[1], &r.t, &perr, NULL);
	}
	rc = rc ? rc : mikey_i_transfer_init(&r.env, &r.t, &r.tp, &r.it,
	    r.m[2], 2048, &r.l[2]);
	rc = rc ? rc : mikey_r_transfer_parse(&r.env, r.m[2], r.l[2], &r.x,
	    NULL);
	is_int(rc, 0, "mode 2: request and transfer");
	rc = mikey_r_open_ticket(&r.x, pol_lookup, NULL, &k2);
	is_int(rc, 0, "mode 2: responder opens the ticket with its TPK");
	MUST(mikey_i_transfer_tek(&r.t, &r.it, 1, a, 16));
	MUST(mikey_r_transfer_tek(&r.x, &k2, NULL, 1, b, 16));
	is_mem(a, 16, b, 16, "mode 2: same TEK without a resolve");
	is_int(mikey_r_open_ticket(&r.x, lookup_none, NULL, &k2),
	    MIKEY_ERR_KEY_VERSION, "mode 2: without the TPK it cannot");
	mikey_rcache_free(r.kc.rc);
	/* and E = 1 forbids opening it locally */
	clk = 0xeb1f040000000000ull;
	run_setup(&r, &mikey_suite_128, MIKEY_TPF_ONEWAY);
	run_all(&r);
	is_int(mikey_r_open_ticket(&r.x, pol_lookup, NULL, &k2),
	    MIKEY_ERR_POLICY, "E = 1: resolving via the KMS is mandatory");
	mikey_rcache_free(r.kc.rc);
}

static void
test_mode3(void)
{
	struct run r;
	struct mikey_tpk tpk;
	struct mikey_kms_result res;
	uint8_t resp[2048], a[16], b[16];
	size_t rl;
	int rc, perr;

	clk = 0xeb1f040000000000ull;
	/* D = 0 (initiator-made), L = 1; the TPK is alice's PSK, named by
	 * IDRpsk, so the KMS can resolve */
	run_setup(&r, &mikey_suite_128, (MIKEY_TPF_ONEWAY & ~MIKEY_TPF_D) |
	    MIKEY_TPF_L);
	psk_mode3 = 1;
	memset(&tpk, 0, sizeof(tpk));
	tpk.idpsk = idbytes("tpk-alice");
	memcpy(tpk.key, psk_a, 16);
	tpk.key_len = 16;
	r.rp.start = clk;
	r.rp.end = clk + (86400ull << 32);
	rc = mikey_i_ticket_make(&r.env, &r.rp, &tpk, &r.t);
	is_int(rc, 0, "mode 3: initiator makes the ticket");
	rc = rc ? rc : mikey_i_transfer_init(&r.env, &r.t, &r.tp, &r.it,
	    r.m[2], 2048, &r.l[2]);
	rc = rc ? rc : mikey_r_transfer_parse(&r.env, r.m[2], r.l[2], &r.x,
	    NULL);
	rc = rc ? rc : mikey_r_resolve_init(&r.env, &r.x, &r.me, &r.rs,
	    r.m[3], 2048, &r.l[3]);
	rc = rc ? rc : mikey_kms_process(&r.env, &r.kc, r.m[3], r.l[3], resp,
	    sizeof(resp), &rl, &res);
	rc = rc ? rc : res.err;
	rc = rc ? rc : mikey_r_resolve_resp(&r.env, &r.rs, &r.x, resp, rl,
	    &r.keys, &perr, NULL);
	is_int(rc, 0, "mode 3: the KMS resolves it (TPK found by IDRpsk)");
	MUST(mikey_i_transfer_tek(&r.t, &r.it, 1, a, 16));
	MUST(mikey_r_transfer_tek(&r.x, &r.keys, NULL, 1, b, 16));
	is_mem(a, 16, b, 16, "mode 3: same TEK");
	psk_mode3 = 0;
	mikey_rcache_free(r.kc.rc);
}

static void
test_forking(void)
{
	struct run r;
	struct mikey_kms_result res;
	uint8_t resp[2048], m6[2048], rr[255], a[16], b[16], c[16];
	size_t rl, l6, rrl;
	int rc, perr;
	struct mikey_bytes rrb;

	clk = 0xeb1f040000000000ull;
	/* forking with a TGK needs F = 1 (6.10), and then G is allowed */
	run_setup(&r, &mikey_suite_256, MIKEY_TPF_D | MIKEY_TPF_E |
	    MIKEY_TPF_F | MIKEY_TPF_G | MIKEY_TPF_H | MIKEY_TPF_I |
	    MIKEY_TPF_J | MIKEY_TPF_N | MIKEY_TPF_O);
	r.rp.nresp = 2;
	r.rp.resp[1] = uri(CAROL);
	rc = run_all(&r);
	is_int(rc, 0, "forking: request, transfer with Initiator Data, "
	    "resolve (KMS checked Vr)");
	ok(r.keys.has_mpkr && r.keys.idr.data.len == strlen(BOB) &&
	    r.keys.randrkms_len > 0, "forking: RESOLVE_RESP carried MPKr', "
	    "IDRr and RANDRkms");
	rc = mikey_r_transfer_resp(&r.env, &r.x, &r.keys, rr, &rrl, m6,
	    sizeof(m6), &l6);
	is_int(rc, 0, "forking: TRANSFER_RESP under MPKr'");
	rc = mikey_i_transfer_resp(&r.env, &r.t, &r.it, m6, l6, NULL);
	is_int(rc, 0, "forking: initiator derives MPKr' and verifies");
	rrb.p = rr;
	rrb.len = rrl;
	MUST(mikey_i_transfer_tek(&r.t, &r.it, 1, a, 16));
	MUST(mikey_r_transfer_tek(&r.x, &r.keys, &rrb, 1, b, 16));
	is_mem(a, 16, b, 16, "forking: same TEK from TGK' at both ends");
	/* carol, also named, resolves the same ticket: different keys */
	{
		struct mikey_cred cm = r.me;
		struct mikey_r_resolve rs2;
		struct mikey_resolved k2;
		uint8_t m[2048];
		size_t l;

		cm.id = uri(CAROL);
		cm.psk = psk_c;
		rc = mikey_r_resolve_init(&r.env, &r.x, &cm, &rs2, m,
		    sizeof(m), &l);
		rc = rc ? rc : mikey_kms_process(&r.env, &r.kc, m, l, resp,
		    sizeof(resp), &rl, &res);
		rc = rc ? rc : res.err;
		rc = rc ? rc : mikey_r_resolve_resp(&r.env, &rs2, &r.x, resp,
		    rl, &k2, &perr, NULL);
		is_int(rc, 0, "forking: carol, also named, resolves");
		ok(k2.mpkr.key_len == r.keys.mpkr.key_len &&
		    CRYPTO_memcmp(k2.mpkr.key, r.keys.mpkr.key, k2.mpkr.key_len) != 0 &&
		    CRYPTO_memcmp(k2.keys[0].key, r.keys.keys[0].key, 16) != 0 &&
		    CRYPTO_memcmp(k2.mpki.key, r.keys.mpki.key, 16) == 0,
		    "forking: carol's MPKr' and TGK' differ from bob's, MPKi "
		    "is shared");
	}
	/* Initiator Data altered: the KMS refuses */
	{
		uint8_t buf[2048];
		size_t l, n = 0, i;

		for (i = 0; i < 8; i++) {
			struct mikey_r_transfer x2;
			size_t id_off = r.x.ticket->off + r.x.ticket->len -
			    r.x.ticket->u.ticket.init_data.len;

			memcpy(buf, r.m[2], r.l[2]);
			buf[id_off + 3 + i] ^= 0x01;
			if (mikey_r_transfer_parse(&r.env, buf, r.l[2], &x2,
			    NULL) != 0 || mikey_r_resolve_init(&r.env, &x2,
			    &r.me, &r.rs, r.m[3], 2048, &l) != 0)
				continue;
			rc = mikey_kms_process(&r.env, &r.kc, r.m[3], l, resp,
			    sizeof(resp), &rl, &res);
			if (rc == 0 && res.err == 0)
				n++;
		}
		is_int(n, 0, "forking: a forged Vi/Vr is refused by the KMS");
	}
	(void)c;
	(void)perr;
	mikey_rcache_free(r.kc.rc);
}

/* ---- 6. modified replay cache on TRANSFER_INITs ---- */

static void
test_replay(void)
{
	struct run r;
	struct mikey_rcache *rc3;
	uint8_t msgs[6][2048], dg[MIKEY_RC_DIGEST];
	size_t lens[6], i;
	uint64_t ts[6];
	int rc, accepted = 0;

	clk = 0xeb1f040000000000ull;
	run_setup(&r, &mikey_suite_256, MIKEY_TPF_ONEWAY);
	is_int(run_all(&r), 0, "replay: exchange");
	/* six messages, 40 days apart... well, 1 hour apart, oldest first */
	for (i = 0; i < 6; i++) {
		clk += 3600ull << 32;
		MUST(mikey_i_transfer_init(&r.env, &r.t, &r.tp, &r.it, msgs[i],
		    2048, &lens[i]));
		ts[i] = clk;
	}
	clk += (25ull * 86400) << 32;	/* delivered 25 days later */
	rc3 = mikey_rcache_new(3, 300, fake_now, NULL);
	for (i = 0; i < 3; i++) {
		struct mikey_r_transfer x2;

		rc = mikey_r_transfer_parse(&r.env, msgs[i], lens[i], &x2,
		    NULL);
		rc = rc ? rc : mikey_r_transfer_verify(&x2, &r.keys);
		rc = rc ? rc : mikey_rcache_digest(msgs[i], lens[i], dg);
		rc = rc ? rc : mikey_rcache_insert(rc3, dg, x2.t);
		accepted += rc == 0;
	}
	is_int(accepted, 3, "replay: three days-old messages accepted, "
	    "oldest first");
	MUST(mikey_rcache_digest(msgs[1], lens[1], dg));
	is_int(mikey_rcache_insert(rc3, dg, ts[1]), MIKEY_ERR_REPLAY,
	    "replay: the second message again is a replay");
	MUST(mikey_rcache_digest(msgs[5], lens[5], dg));
	is_int(mikey_rcache_insert(rc3, dg, ts[5]), 0, "replay: a newer one "
	    "evicts the oldest");
	MUST(mikey_rcache_digest(msgs[0], lens[0], dg));
	is_int(mikey_rcache_insert(rc3, dg, ts[0]), MIKEY_ERR_TOO_OLD,
	    "replay: the evicted oldest cannot come back (older than a full "
	    "cache)");
	MUST(mikey_rcache_digest(msgs[3], lens[3], dg));
	is_int(mikey_rcache_insert(rc3, dg, ts[3]), 0, "replay: one newer "
	    "than the oldest cached is accepted though out of order");
	MUST(mikey_rcache_digest(msgs[1], lens[1], dg));
	is_int(mikey_rcache_insert(rc3, dg, ts[1]), MIKEY_ERR_TOO_OLD,
	    "replay: the evicted second message is still refused (too old)");
	is_int(mikey_rcache_check_invariants(rc3), 0, "replay: cache sound");
	mikey_rcache_free(rc3);
	mikey_rcache_free(r.kc.rc);
}

int
main(void)
{
	test_spec_exchange();
	test_oneway(&mikey_suite_128, "MIKEY-1");
	test_oneway(&mikey_suite_256, "SHA-256");
	test_flips();
	test_kms_errors();
	test_key_versions();
	test_mode2();
	test_mode3();
	test_forking();
	test_replay();
	return done_testing();
}
