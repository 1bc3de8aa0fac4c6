/*
 * tests/unit/mikey/t_prf.c - known answers for the PRF, labels, KEMAC and MAC
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * No expected value here comes from the code under test.  Sources:
 * spec/mikey-ticket.md 11.2 and 11.3 (computed by the digest's author with
 * an independent script; the 11.3 messages carry MACs and ciphertexts that
 * must verify and decrypt under keys derived here), RFC 2202 and RFC 4231
 * (HMAC), RFC 3711 Appendix B.2 and RFC 6188 7.1 (AES-CM keystream),
 * RFC 3394 4.1 (AES key wrap), and naive_prf() below: RFC 3830 4.1.2
 * written out literally on OpenSSL's one-shot HMAC(), sharing no code with
 * mikey_prf.c.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "mikey/mikey.h"
#include "tests/tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* hx - hex into buf; the vector must fit (a broken test, not a failure) */
static size_t
hx(const char *hex, uint8_t *buf, size_t cap)
{
	size_t n;

	n = hex2bin(hex, buf, cap);
	if (n > cap) {
		printf("Bail out! hex vector of %zu bytes > %zu\n", n, cap);
		exit(2);
	}
	return n;
}

/* seq - p[i] = start + i, the spec's 000102... keys and RANDs */
static void
seq(uint8_t *p, size_t n, unsigned start)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(start + i);
}

/* mb - a mikey_bytes alias */
static struct mikey_bytes
mb(const void *p, size_t len)
{
	struct mikey_bytes b;

	b.p = p;
	b.len = len;
	return b;
}

/* ld64be - big-endian 64-bit load (the T value of a message) */
static uint64_t
ld64be(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* --------------------------------------------------------------------- */
/* The spec 11.3 exchange, byte for byte */

/* REQUEST_INIT_PSK (216 bytes) */
static const char msg_request_init[] =
    "010b05801111111100010f00eb1f0400000000000e0110606162636465666768"
    "696a6b6c6d6e6f0e010100157369703a616c696365406578616d706c652e636f"
    "6d10030100137369703a6b6d73406578616d706c652e636f6d090001010101f4"
    "60005f0e0d010100157369703a616c696365406578616d706c652e636f6d0d02"
    "03eb1f0400010303eb2055800e00001900010010000000000000000000000000"
    "0000000004000000000000020100137369703a626f62406578616d706c652e63"
    "6f6d00010ea2461254d2c2124443ec3bcfdbb4d0d6d71114";

/* REQUEST_RESP (308 bytes) */
static const char msg_request_resp[] =
    "010d05001111111100010e00eb1f04010000000011030100137369703a6b6d73"
    "406578616d706c652e636f6d010001010101f46000410e0d010100157369703a"
    "616c696365406578616d706c652e636f6d0d0203eb1f04000e0303eb20558000"
    "020100137369703a626f62406578616d706c652e636f6d006c0500000b00eb1f"
    "0401000000000110505152535455565758595a5b5c5d5e5f0901003289b3f68d"
    "a7f159613b8710dde9bd21ada4f614dccad5c758293813670f02d92a883ef3db"
    "95dba77b0e93b04c23b38fa61470000001ba38d85473626fd860bcd136d5826c"
    "fa05b3e91e0000090100325989c2921b247971dbacfdfe771531035e2f55e21f"
    "c0e2c7fbb1f4a3c76499ed82bbec9c6c95665808b696987314debdcc93000001"
    "70f6e206d362b61b4acbac506d1efdf015f1a4c1";

/* TRANSFER_INIT (324 bytes) */
static const char msg_transfer_init[] =
    "010e0580222222220102010001000004cafe000104000000010f00eb1f040200"
    "0000000e0110909192939495969798999a9b9c9d9e9f0e010100157369703a61"
    "6c696365406578616d706c652e636f6d0a020100137369703a626f6240657861"
    "6d706c652e636f6d1100000006000101020101090001010101f46000410e0d01"
    "0100157369703a616c696365406578616d706c652e636f6d0d0203eb1f04000e"
    "0303eb20558000020100137369703a626f62406578616d706c652e636f6d006c"
    "0500000b00eb1f0401000000000110505152535455565758595a5b5c5d5e5f09"
    "01003289b3f68da7f159613b8710dde9bd21ada4f614dccad5c758293813670f"
    "02d92a883ef3db95dba77b0e93b04c23b38fa61470000001ba38d85473626fd8"
    "60bcd136d5826cfa05b3e91e0000000174375cefd4bfa0f002c67abdd28ebb6e"
    "a46051a7";

/* RESOLVE_INIT_PSK (296 bytes) */
static const char msg_resolve_init[] =
    "011005803333333300010f00eb1f0403000000000e0210a0a1a2a3a4a5a6a7a8"
    "a9aaabacadaeaf0e020100137369703a626f62406578616d706c652e636f6d11"
    "030100137369703a6b6d73406578616d706c652e636f6d090001010101f46000"
    "410e0d010100157369703a616c696365406578616d706c652e636f6d0d0203eb"
    "1f04000e0303eb20558000020100137369703a626f62406578616d706c652e63"
    "6f6d006c0500000b00eb1f0401000000000110505152535455565758595a5b5c"
    "5d5e5f0901003289b3f68da7f159613b8710dde9bd21ada4f614dccad5c75829"
    "3813670f02d92a883ef3db95dba77b0e93b04c23b38fa61470000001ba38d854"
    "73626fd860bcd136d5826cfa05b3e91e00000001629303851304db460fc33b80"
    "5f52bac2d6ce2cec";

/* RESOLVE_RESP (121 bytes) */
static const char msg_resolve_resp[] =
    "011205003333333300010e00eb1f04040000000001030100137369703a6b6d73"
    "406578616d706c652e636f6d0901003299f56dae17dace031f2a08be665362ca"
    "719d9ddfac06fc8548297f3a57434c424fc64ffe62cff83a4831614ef2dcfabd"
    "e9870000012df5e44c4b1168ebf4bb1f2cb4bce804eab460e0";

/* TRANSFER_RESP (100 bytes) */
static const char msg_transfer_resp[] =
    "010f0500222222220102010001000004cafe000104000000010f00eb1f040500"
    "0000000e0210707172737475767778797a7b7c7d7e7f09020100137369703a62"
    "6f62406578616d706c652e636f6d0001957b661c6b0f73cb668f081a4e7a3c06"
    "77457b2e";


/* The 11.2/11.3 inputs. */
static const char alice[] = "sip:alice@example.com";
static const char bob[] = "sip:bob@example.com";
static const char kms[] = "sip:kms@example.com";
static const char hex_mpki[] = "ce8dd317c23951ba86fc68dd137d1a9a";

/* --------------------------------------------------------------------- */
/* naive_prf - RFC 3830 4.1.2 / RFC 6043 6.1 as written, on one-shot HMAC() */

static int
naive_prf(int sha256, const uint8_t *inkey, size_t inkey_len,
    const uint8_t *label, size_t label_len, uint8_t *out, size_t out_len)
{
	const EVP_MD *md = sha256 ? EVP_sha256() : EVP_sha1();
	size_t hlen = sha256 ? 32 : 20;
	/* n = inkey_len / 256 and m = outkey_len / hlen, in bits, rounded up */
	size_t n = (inkey_len * 8 + 255) / 256;
	size_t m = (out_len * 8 + hlen * 8 - 1) / (hlen * 8);
	uint8_t *t, *p, *buf;
	size_t i, j, k, slen, alen;
	unsigned int l;
	int rc = -1;

	t = calloc(m, hlen);
	p = calloc(m, hlen);
	buf = malloc(hlen + label_len + 1);
	if (t == NULL || p == NULL || buf == NULL)
		goto done;
	for (i = 1; i <= n; i++) {
		/* s_i: 256 bits each, the last one may be shorter */
		const uint8_t *s = inkey + (i - 1) * 32;

		slen = i < n ? 32 : inkey_len - (n - 1) * 32;
		memcpy(buf, label, label_len);		/* A_0 = label */
		alen = label_len;
		for (j = 1; j <= m; j++) {
			uint8_t a[32];

			/* A_j = HMAC(s_i, A_(j-1)) */
			if (HMAC(md, s, (int)slen, buf, alen, a, &l) == NULL)
				goto done;
			/* P block j = HMAC(s_i, A_j || label) */
			memcpy(buf, a, hlen);
			memcpy(buf + hlen, label, label_len);
			if (HMAC(md, s, (int)slen, buf, hlen + label_len,
			    p + (j - 1) * hlen, &l) == NULL)
				goto done;
			alen = hlen;	/* buf starts with A_j */
		}
		for (k = 0; k < m * hlen; k++)
			t[k] ^= p[k];
	}
	memcpy(out, t, out_len);
	rc = 0;
done:
	free(t);
	free(p);
	free(buf);
	return rc;
}

/* xorshift64 - a fixed-seed generator: failures reproduce */
static uint64_t rng_state = 0x6d696b6579707266ull;	/* "mikeyprf" */

static uint64_t
xorshift64(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
rnd_fill(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)xorshift64();
}

/* --------------------------------------------------------------------- */
/* spec 11.2: PRF outputs */

static void
test_prf_kat(void)
{
	static const struct {
		uint8_t		 prf;
		size_t		 keylen;
		size_t		 outbits;
		const char	*want;
	} v[] = {
		{ 0, 16, 128, "bd5305de11b1a45eb7cdcb1bf97ad190" },
		{ 0, 16, 112, "bd5305de11b1a45eb7cdcb1bf97a" },
		{ 0, 16, 160, "bd5305de11b1a45eb7cdcb1bf97ad1903e33d6d9" },
		{ 0, 16, 336, "bd5305de11b1a45eb7cdcb1bf97ad1903e33d6d9"
		    "1d921aff543e9be70900d0f181aed85341af34d00319" },
		/* 32 bytes: n = 1 (one full chunk, no empty second one) */
		{ 0, 32, 128, "711fa8b97dceb8e4a73c25b55d538e68" },
		/* 40 bytes: n = 2 (32 + 8) */
		{ 0, 40, 128, "aa5af7af24e54dc6da8120fb908e6c7b" },
		{ 1, 16, 128, "56a8b3d6b488393ebc3c7a3de1ea5af0" },
		{ 1, 32, 256, "c0b53a2a70775c8ca5719f3bd6eea277"
		    "b1e7e620bf84c375d553ae71c9bb8f4b" },
		/* 64 bytes with SHA-256: n = 2 chunks of 256 bits */
		{ 1, 64, 384, "c41ebbbada3fc1b159100990f69dcf31"
		    "a6e64cbadcca673d22d449dc1bc5c81a"
		    "65b5ffb4461b2bb4add4e7e5a858a8ff" },
	};
	static const uint8_t label[] = { 0x01, 0x02, 0x03, 0x04 };
	uint8_t key[64], out[64], want[64];
	size_t i, wl;
	int rc;

	for (i = 0; i < NELEM(v); i++) {
		seq(key, v[i].keylen, 0);
		wl = hx(v[i].want, want, sizeof(want));
		memset(out, 0xee, sizeof(out));
		rc = mikey_prf(v[i].prf, key, v[i].keylen, label,
		    sizeof(label), out, v[i].outbits / 8);
		is_int(rc, 0, "11.2 %s K%zu %zu bits: returns 0",
		    v[i].prf ? "PRF-HMAC-SHA-256" : "MIKEY-1", v[i].keylen,
		    v[i].outbits);
		is_mem(out, v[i].outbits / 8, want, wl,
		    "11.2 %s K%zu %zu bits: output",
		    v[i].prf ? "PRF-HMAC-SHA-256" : "MIKEY-1", v[i].keylen,
		    v[i].outbits);
		ok(out[v[i].outbits / 8] == 0xee,
		    "11.2 %s K%zu %zu bits: nothing written past out_len",
		    v[i].prf ? "PRF-HMAC-SHA-256" : "MIKEY-1", v[i].keylen,
		    v[i].outbits);
	}
}

/* --------------------------------------------------------------------- */
/* spec 11.2: label encodings */

static void
test_labels(void)
{
	uint8_t ri[16], rr[16], rkms[16], trand[16], lab[600], want[600];
	struct mikey_bytes bri, brr, btr, big, empty;
	size_t n, wl;

	seq(ri, 16, 0x60);
	seq(rr, 16, 0x70);
	seq(rkms, 16, 0x80);
	seq(trand, 16, 0x50);
	bri = mb(ri, 16);
	brr = mb(rr, 16);
	btr = mb(trand, 16);

	n = mikey_label_msg(MIKEY_C_AUTH, 0x11111111, MIKEY_LBL_INIT, &bri,
	    NULL, lab, sizeof(lab));
	wl = hx("2d22ac75 ff 11111111 01 10 606162636465666768696a6b6c6d6e6f"
	    " 00", want, sizeof(want));
	is_mem(lab, n, want, wl, "11.2 label K1 auth, CSB 11111111, RANDRi");

	n = mikey_label_msg(MIKEY_C_ENCR, 0x22222222, MIKEY_LBL_RESP, &bri,
	    &brr, lab, sizeof(lab));
	wl = hx("150533e1 ff 22222222 02 10 606162636465666768696a6b6c6d6e6f"
	    " 10 707172737475767778797a7b7c7d7e7f", want, sizeof(want));
	is_mem(lab, n, want, wl, "11.2 label K2 encr, RANDRi + RANDRr");

	n = mikey_label_tgk(MIKEY_C_TEK, 1, &bri, &brr, lab, sizeof(lab));
	wl = hx("2ad01c64 01 ffffffff 03 10 606162636465666768696a6b6c6d6e6f"
	    " 10 707172737475767778797a7b7c7d7e7f", want, sizeof(want));
	is_mem(lab, n, want, wl, "11.2 label K3 TEK, CS ID 1");

	n = mikey_label_fork(MIKEY_C_MPKR_FORK, mb(bob, strlen(bob)),
	    mb(rkms, 16), lab, sizeof(lab));
	wl = hx("2b288856 ff ffffffff 00 0013"
	    " 7369703a626f62406578616d706c652e636f6d"
	    " 10 808182838485868788898a8b8c8d8e8f", want, sizeof(want));
	is_mem(lab, n, want, wl, "11.2 label K4 MPKr', sip:bob@example.com");

	n = mikey_label_fixed(MIKEY_C_AUTH, MIKEY_LBL_VR, NULL, lab,
	    sizeof(lab));
	wl = hx("2d22ac75 ff ffffffff 04", want, sizeof(want));
	is_mem(lab, n, want, wl, "11.2 label K5 Vr auth");

	n = mikey_label_fixed(MIKEY_C_ENCR, MIKEY_LBL_TPK, &btr, lab,
	    sizeof(lab));
	wl = hx("150533e1 ff ffffffff 05 10 505152535455565758595a5b5c5d5e5f",
	    want, sizeof(want));
	is_mem(lab, n, want, wl, "11.2 label K6 TPK encr");

	n = mikey_label_fixed(MIKEY_C_MPKI, MIKEY_LBL_MPK, &btr, lab,
	    sizeof(lab));
	wl = hx("220e99a2 ff ffffffff 06 10 505152535455565758595a5b5c5d5e5f",
	    want, sizeof(want));
	is_mem(lab, n, want, wl, "11.2 label K7 MPKi");

	/* Edges: sizes, absent RANDs, limits. */
	n = mikey_label_msg(MIKEY_C_ENCR, 0x22222222, MIKEY_LBL_RESP, &bri,
	    &brr, lab, 44);
	is_int(n, 44, "label_msg: capacity exactly the length is enough");
	n = mikey_label_msg(MIKEY_C_ENCR, 0x22222222, MIKEY_LBL_RESP, &bri,
	    &brr, lab, 43);
	is_int(n, 0, "label_msg: one byte short gives 0");
	n = mikey_label_msg(MIKEY_C_ENCR, 0x22222222, MIKEY_LBL_RESP, &bri,
	    &brr, NULL, 0);
	is_int(n, 0, "label_msg: no buffer gives 0");
	empty = mb(NULL, 0);
	n = mikey_label_msg(MIKEY_C_SALT, 0x33333333, MIKEY_LBL_INIT, &empty,
	    &brr, lab, sizeof(lab));
	wl = hx("29b88916 ff 33333333 01 00"
	    " 10 707172737475767778797a7b7c7d7e7f", want, sizeof(want));
	is_mem(lab, n, want, wl, "label_msg: empty RANDRi is a zero length");
	big = mb(lab, 256);
	n = mikey_label_msg(MIKEY_C_SALT, 1, MIKEY_LBL_INIT, &big, NULL, want,
	    sizeof(want));
	is_int(n, 0, "label_msg: a 256-byte RAND does not fit its length byte");
	n = mikey_label_tgk(MIKEY_C_SALT_TGK, 7, NULL, &brr, lab, sizeof(lab));
	wl = hx("39a2c14b 07 ffffffff 03 00"
	    " 10 707172737475767778797a7b7c7d7e7f", want, sizeof(want));
	is_mem(lab, n, want, wl, "label_tgk: G only (no RANDRi)");
	n = mikey_label_fork(MIKEY_C_TGK_FORK, mb(NULL, 70000), mb(rkms, 16),
	    lab, sizeof(lab));
	is_int(n, 0, "label_fork: ID data longer than 65535 rejected");
}

/* --------------------------------------------------------------------- */
/* spec 11.2: derived keys */

static void
test_derived_keys(void)
{
	uint8_t mpk[16], tgk[16], tpk[16], trand[16], rkms[16], lab[600];
	uint8_t mpkr[16], out[32], want[32];
	struct mikey_bytes btr;
	struct mikey_msgkeys k;
	size_t n, wl;
	int rc;

	seq(mpk, 16, 0x30);
	seq(tgk, 16, 0x40);
	seq(tpk, 16, 0x20);
	seq(trand, 16, 0x50);
	seq(rkms, 16, 0x80);
	btr = mb(trand, 16);

	n = mikey_label_fixed(MIKEY_C_MPKI, MIKEY_LBL_MPK, &btr, lab,
	    sizeof(lab));
	rc = mikey_prf(MIKEY_PRF_MIKEY1, mpk, 16, lab, n, out, 16);
	wl = hx(hex_mpki, want, sizeof(want));
	ok(rc == 0, "K7 MPKi: prf returns 0");
	is_mem(out, 16, want, wl, "11.2 MPKi = K7(MPK)");

	n = mikey_label_fixed(MIKEY_C_MPKR, MIKEY_LBL_MPK, &btr, lab,
	    sizeof(lab));
	rc = mikey_prf(MIKEY_PRF_MIKEY1, mpk, 16, lab, n, out, 16);
	wl = hx("9bc32a387485d6edf6fb4878643fb629", want, sizeof(want));
	ok(rc == 0, "K7 MPKr: prf returns 0");
	is_mem(out, 16, want, wl, "11.2 MPKr = K7(MPK)");

	/* Forking and Vr start from the spec's MPKr, not from ours. */
	hx("9bc32a387485d6edf6fb4878643fb629", mpkr, sizeof(mpkr));
	n = mikey_label_fork(MIKEY_C_MPKR_FORK, mb(bob, strlen(bob)),
	    mb(rkms, 16), lab, sizeof(lab));
	rc = mikey_prf(MIKEY_PRF_MIKEY1, mpkr, 16, lab, n, out, 16);
	wl = hx("35454fd1779dc7504b199a87ce277e1c", want, sizeof(want));
	ok(rc == 0, "K4 MPKr': prf returns 0");
	is_mem(out, 16, want, wl, "11.2 MPKr' = K4(MPKr, bob, RANDRkms)");

	n = mikey_label_fork(MIKEY_C_TGK_FORK, mb(bob, strlen(bob)),
	    mb(rkms, 16), lab, sizeof(lab));
	rc = mikey_prf(MIKEY_PRF_MIKEY1, tgk, 16, lab, n, out, 16);
	wl = hx("517f5484d3269623450b6f2bb08c76e3", want, sizeof(want));
	ok(rc == 0, "K4 TGK': prf returns 0");
	is_mem(out, 16, want, wl, "11.2 TGK' = K4(TGK, bob, RANDRkms)");

	n = mikey_label_fixed(MIKEY_C_AUTH, MIKEY_LBL_VR, NULL, lab,
	    sizeof(lab));
	rc = mikey_prf(MIKEY_PRF_MIKEY1, mpkr, 16, lab, n, out, 20);
	wl = hx("9832043e080fc61fc21dcbc359e2cef0e4f7ee26", want, sizeof(want));
	ok(rc == 0, "K5 Vr: prf returns 0");
	is_mem(out, 20, want, wl, "11.2 Vr auth_key = K5(MPKr)");

	rc = mikey_msgkeys_derive(MIKEY_PRF_MIKEY1, tpk, 16, 0xdeadbeef,
	    MIKEY_LBL_TPK, &btr, NULL, MIKEY_ENCR_AES_CM_128,
	    MIKEY_MAC_HMAC_SHA1_160, &k);
	is_int(rc, 0, "K6 TPK keys: msgkeys_derive returns 0");
	wl = hx("97d759d7ac3250b363622f4a8edb98d3", want, sizeof(want));
	is_mem(k.encr, k.encr_len, want, wl, "11.2 TPK encr_key (128)");
	wl = hx("3838c627bed9d081b3fa99894a32", want, sizeof(want));
	is_mem(k.salt, k.salt_len, want, wl, "11.2 TPK salt_key (112)");
	wl = hx("b621fb95fcf6f026384a26a7897fcfbed36d41ce", want, sizeof(want));
	is_mem(k.auth, k.auth_len, want, wl, "11.2 TPK auth_key (160)");
	mikey_msgkeys_cleanup(&k);
}

/* --------------------------------------------------------------------- */
/* spec 11.3: keys of the illustrative exchange */

static void
test_exchange_keys(void)
{
	uint8_t psk[16], ri_req[16], ri_tr[16], rr_tr[16], mpki[16], tgk[16];
	uint8_t lab[600], out[32], want[32];
	struct mikey_bytes bri, brr;
	struct mikey_msgkeys k;
	size_t n, wl;
	int rc;

	seq(psk, 16, 0x00);		/* PSK(I,KMS) */
	seq(ri_req, 16, 0x60);		/* RANDRi(request) */
	seq(ri_tr, 16, 0x90);		/* RANDRi(transfer) */
	seq(rr_tr, 16, 0x70);		/* RANDRr(transfer resp) */
	seq(tgk, 16, 0x40);
	hx(hex_mpki, mpki, sizeof(mpki));

	/* REQUEST_INIT_PSK: K1 from PSK(I,KMS), CSB 11111111, RANDRi only */
	bri = mb(ri_req, 16);
	rc = mikey_msgkeys_derive(MIKEY_PRF_MIKEY1, psk, 16, 0x11111111,
	    MIKEY_LBL_INIT, &bri, NULL, MIKEY_ENCR_AES_CM_128,
	    MIKEY_MAC_HMAC_SHA1_160, &k);
	is_int(rc, 0, "11.3 REQUEST_INIT K1: returns 0");
	wl = hx("bba3abcdd9d2d29a984cc1bf4697d4350c3322d4", want, sizeof(want));
	is_mem(k.auth, k.auth_len, want, wl, "11.3 REQUEST_INIT K1 auth_key");
	mikey_msgkeys_cleanup(&k);

	/* REQUEST_RESP: K2, same inputs, direction 0x02 */
	rc = mikey_msgkeys_derive(MIKEY_PRF_MIKEY1, psk, 16, 0x11111111,
	    MIKEY_LBL_RESP, &bri, NULL, MIKEY_ENCR_AES_CM_128,
	    MIKEY_MAC_HMAC_SHA1_160, &k);
	is_int(rc, 0, "11.3 REQUEST_RESP K2: returns 0");
	wl = hx("8cd74ff5f8036576f38d99314e16294a", want, sizeof(want));
	is_mem(k.encr, k.encr_len, want, wl, "11.3 REQUEST_RESP K2 encr_key");
	wl = hx("71515387804f28faa305517bee47", want, sizeof(want));
	is_mem(k.salt, k.salt_len, want, wl, "11.3 REQUEST_RESP K2 salt_key");
	wl = hx("5029b7a9a5de9966ac1cb98f54eda938d2e0997b", want, sizeof(want));
	is_mem(k.auth, k.auth_len, want, wl, "11.3 REQUEST_RESP K2 auth_key");
	mikey_msgkeys_cleanup(&k);

	/* TRANSFER_INIT: K1 from MPKi, CSB 22222222, RANDRi(transfer) */
	bri = mb(ri_tr, 16);
	rc = mikey_msgkeys_derive(MIKEY_PRF_MIKEY1, mpki, 16, 0x22222222,
	    MIKEY_LBL_INIT, &bri, NULL, MIKEY_ENCR_AES_CM_128,
	    MIKEY_MAC_HMAC_SHA1_160, &k);
	is_int(rc, 0, "11.3 TRANSFER_INIT K1: returns 0");
	wl = hx("cf886ee6e82fc8f1dc903ac24e8ca09f0cd0f95d", want, sizeof(want));
	is_mem(k.auth, k.auth_len, want, wl, "11.3 TRANSFER_INIT auth_key");
	mikey_msgkeys_cleanup(&k);

	/* TEK and SRTP salt: K3 from TGK, CS ID 1, H = G = 1 (both RANDs) */
	brr = mb(rr_tr, 16);
	n = mikey_label_tgk(MIKEY_C_TEK, 1, &bri, &brr, lab, sizeof(lab));
	rc = mikey_prf(MIKEY_PRF_MIKEY1, tgk, 16, lab, n, out, 16);
	wl = hx("97cb9af58f236c9637a6d9f0664a29e6", want, sizeof(want));
	ok(rc == 0 && n == 44, "11.3 TEK: label and prf ok");
	is_mem(out, 16, want, wl, "11.3 final TEK for CS 1");
	n = mikey_label_tgk(MIKEY_C_SALT_TGK, 1, &bri, &brr, lab, sizeof(lab));
	rc = mikey_prf(MIKEY_PRF_MIKEY1, tgk, 16, lab, n, out, 14);
	wl = hx("2e3c356113477c6defc189f4c52b", want, sizeof(want));
	ok(rc == 0 && n == 44, "11.3 SRTP salt: label and prf ok");
	is_mem(out, 14, want, wl, "11.3 SRTP salt (112) for CS 1");
}

/* --------------------------------------------------------------------- */
/* spec 11.3: every V MAC and the ticket MAC verify under derived keys */

/* auth_key - K1/K2 auth_key (HMAC-SHA-1) into k; 0 on success */
static int
auth_key(const uint8_t *inkey, uint32_t csb, uint8_t kind,
    const uint8_t *ri, const uint8_t *rr, struct mikey_msgkeys *k)
{
	struct mikey_bytes bri, brr;

	bri = mb(ri, ri != NULL ? 16 : 0);
	brr = mb(rr, rr != NULL ? 16 : 0);
	return mikey_msgkeys_derive(MIKEY_PRF_MIKEY1, inkey, 16, csb, kind,
	    &bri, &brr, MIKEY_ENCR_AES_CM_128, MIKEY_MAC_HMAC_SHA1_160, k);
}

static void
test_exchange_macs(void)
{
	uint8_t rqi[400], rqr[400], tri[400], trr[400], rsi[400], rsr[400];
	size_t lrqi, lrqr, ltri, ltrr, lrsi, lrsr;
	uint8_t psk_i[16], psk_r[16], ri_req[16], ri_tr[16], rr_tr[16];
	uint8_t rr_res[16], mpki[16], tpk[16], trand[16], mac[20];
	struct mikey_bytes parts[4], btr;
	struct mikey_msgkeys k;
	int rc;

	lrqi = hx(msg_request_init, rqi, sizeof(rqi));
	lrqr = hx(msg_request_resp, rqr, sizeof(rqr));
	ltri = hx(msg_transfer_init, tri, sizeof(tri));
	ltrr = hx(msg_transfer_resp, trr, sizeof(trr));
	lrsi = hx(msg_resolve_init, rsi, sizeof(rsi));
	lrsr = hx(msg_resolve_resp, rsr, sizeof(rsr));
	ok(lrqi == 216 && lrqr == 308 && ltri == 324 && ltrr == 100 &&
	    lrsi == 296 && lrsr == 121, "11.3 message lengths as printed");
	seq(psk_i, 16, 0x00);
	seq(psk_r, 16, 0x10);
	seq(ri_req, 16, 0x60);
	seq(ri_tr, 16, 0x90);
	seq(rr_tr, 16, 0x70);
	seq(rr_res, 16, 0xa0);
	seq(tpk, 16, 0x20);
	seq(trand, 16, 0x50);
	hx(hex_mpki, mpki, sizeof(mpki));

	/* REQUEST_INIT_PSK: REQUEST_INIT || Identity_i || Identity_kms */
	rc = auth_key(psk_i, 0x11111111, MIKEY_LBL_INIT, ri_req, NULL, &k);
	parts[0] = mb(rqi, lrqi - 20);
	parts[1] = mb(alice, strlen(alice));
	parts[2] = mb(kms, strlen(kms));
	memset(mac, 0, sizeof(mac));
	if (rc == 0)
		rc = mikey_mac(MIKEY_MAC_HMAC_SHA1_160, k.auth, k.auth_len,
		    parts, 3, mac);
	is_int(rc, 0, "11.3 REQUEST_INIT_PSK: mikey_mac returns 0");
	is_mem(mac, 20, rqi + lrqi - 20, 20, "11.3 REQUEST_INIT_PSK: V MAC");
	rc = mikey_mac_verify(MIKEY_MAC_HMAC_SHA1_160, k.auth, k.auth_len,
	    parts, 3, rqi + lrqi - 20, 20);
	is_int(rc, 0, "11.3 REQUEST_INIT_PSK: V verifies");
	mikey_msgkeys_cleanup(&k);

	/* REQUEST_RESP: REQUEST_RESP || REQUEST_INIT */
	rc = auth_key(psk_i, 0x11111111, MIKEY_LBL_RESP, ri_req, NULL, &k);
	parts[0] = mb(rqr, lrqr - 20);
	parts[1] = mb(rqi, lrqi);
	if (rc == 0)
		rc = mikey_mac_verify(MIKEY_MAC_HMAC_SHA1_160, k.auth,
		    k.auth_len, parts, 2, rqr + lrqr - 20, 20);
	is_int(rc, 0, "11.3 REQUEST_RESP: V verifies");
	mikey_msgkeys_cleanup(&k);

	/*
	 * Ticket MAC (spec 5): the TICKET payload of REQUEST_RESP without its
	 * NP byte, without the Initiator Data length/data and without the
	 * MAC.  TICKET at 44: NP, type(2), subtype, word(4), TP Data length
	 * 0x41 at 52, TP Data, Ticket Data length 0x6c at 119, Ticket Data
	 * 121..229 (MAC at 209), Initiator Data length 0 at 229.
	 */
	is_int(rqr[44] << 24 | rqr[45] << 16 | rqr[46] << 8 | rqr[47],
	    0x01000101, "11.3 REQUEST_RESP: TICKET (type 1, sub 1) at 44");
	is_int(rqr[52] << 8 | rqr[53], 0x41, "11.3 ticket: TP Data length");
	is_int(rqr[119] << 8 | rqr[120], 0x6c,
	    "11.3 ticket: Ticket Data length");
	is_int(rqr[229] << 8 | rqr[230], 0,
	    "11.3 ticket: Initiator Data length");
	btr = mb(trand, 16);
	rc = mikey_msgkeys_derive(MIKEY_PRF_MIKEY1, tpk, 16, 0, MIKEY_LBL_TPK,
	    &btr, NULL, MIKEY_ENCR_AES_CM_128, MIKEY_MAC_HMAC_SHA1_160, &k);
	parts[0] = mb(rqr + 45, 209 - 45);
	if (rc == 0)
		rc = mikey_mac_verify(MIKEY_MAC_HMAC_SHA1_160, k.auth,
		    k.auth_len, parts, 1, rqr + 209, 20);
	is_int(rc, 0, "11.3 ticket MAC verifies under the TPK auth_key");
	mikey_msgkeys_cleanup(&k);

	/*
	 * TRANSFER_INIT: the message without the TICKET's Initiator Data
	 * length (the 2 bytes before the V payload; no Initiator Data) ||
	 * Identity_i || Identity_r (spec 8.5 reading).
	 */
	is_int(tri[ltri - 24] << 24 | tri[ltri - 23] << 16 |
	    tri[ltri - 22] << 8 | tri[ltri - 21], 0x00000001,
	    "11.3 TRANSFER_INIT: Initiator Data length 0, then V (HMAC-SHA-1)");
	rc = auth_key(mpki, 0x22222222, MIKEY_LBL_INIT, ri_tr, NULL, &k);
	parts[0] = mb(tri, ltri - 24);
	parts[1] = mb(tri + ltri - 22, 2);
	parts[2] = mb(alice, strlen(alice));
	parts[3] = mb(bob, strlen(bob));
	if (rc == 0)
		rc = mikey_mac_verify(MIKEY_MAC_HMAC_SHA1_160, k.auth,
		    k.auth_len, parts, 4, tri + ltri - 20, 20);
	is_int(rc, 0, "11.3 TRANSFER_INIT: V verifies (MPKi)");
	mikey_msgkeys_cleanup(&k);

	/* TRANSFER_RESP: K2 from MPKi with RANDRi and RANDRr (G = 1) */
	rc = auth_key(mpki, 0x22222222, MIKEY_LBL_RESP, ri_tr, rr_tr, &k);
	parts[0] = mb(trr, ltrr - 20);
	parts[1] = mb(tri, ltri);
	if (rc == 0)
		rc = mikey_mac_verify(MIKEY_MAC_HMAC_SHA1_160, k.auth,
		    k.auth_len, parts, 2, trr + ltrr - 20, 20);
	is_int(rc, 0, "11.3 TRANSFER_RESP: V verifies (MPKi, both RANDs)");
	mikey_msgkeys_cleanup(&k);

	/* RESOLVE_INIT_PSK: PSK(R,KMS), CSB 33333333, RANDRr only */
	rc = auth_key(psk_r, 0x33333333, MIKEY_LBL_INIT, NULL, rr_res, &k);
	parts[0] = mb(rsi, lrsi - 20);
	parts[1] = mb(bob, strlen(bob));
	parts[2] = mb(kms, strlen(kms));
	if (rc == 0)
		rc = mikey_mac_verify(MIKEY_MAC_HMAC_SHA1_160, k.auth,
		    k.auth_len, parts, 3, rsi + lrsi - 20, 20);
	is_int(rc, 0, "11.3 RESOLVE_INIT_PSK: V verifies");
	mikey_msgkeys_cleanup(&k);

	/* RESOLVE_RESP: RESOLVE_RESP || RESOLVE_INIT */
	rc = auth_key(psk_r, 0x33333333, MIKEY_LBL_RESP, NULL, rr_res, &k);
	parts[0] = mb(rsr, lrsr - 20);
	parts[1] = mb(rsi, lrsi);
	if (rc == 0)
		rc = mikey_mac_verify(MIKEY_MAC_HMAC_SHA1_160, k.auth,
		    k.auth_len, parts, 2, rsr + lrsr - 20, 20);
	is_int(rc, 0, "11.3 RESOLVE_RESP: V verifies");

	/* The same MAC with one bit of the message flipped must fail. */
	rsr[20] ^= 0x01;
	rc = mikey_mac_verify(MIKEY_MAC_HMAC_SHA1_160, k.auth, k.auth_len,
	    parts, 2, rsr + lrsr - 20, 20);
	is_int(rc, MIKEY_ERR_AUTH, "11.3 RESOLVE_RESP: flipped message bit");
	mikey_msgkeys_cleanup(&k);
}

/* --------------------------------------------------------------------- */
/* spec 11.3: the three AES-CM KEMACs decrypt to the expected keys */

/*
 * kemac_check - decrypt the 50-byte KEMAC data at off in m (checking the
 *	KEMAC header before it) and compare with want.
 */
static void
kemac_check(const char *what, const uint8_t *m, size_t off,
    const struct mikey_msgkeys *k, uint32_t csb, uint64_t ts,
    const char *want_hex)
{
	uint8_t plain[50], back[50], want[64];
	size_t wl;
	int rc;

	/* KEMAC: NP 09 (V), encr alg 1 (AES-CM-128), length 0x0032 */
	is_int(m[off - 4] << 24 | m[off - 3] << 16 | m[off - 2] << 8 |
	    m[off - 1], 0x09010032, "%s: KEMAC header", what);
	is_int(m[off + 50], MIKEY_MAC_NULL, "%s: KEMAC MAC alg NULL", what);
	rc = mikey_kemac_crypt(MIKEY_ENCR_AES_CM_128, k->encr, k->salt, csb,
	    ts, m + off, 50, plain);
	is_int(rc, 0, "%s: decrypt returns 0", what);
	wl = hx(want_hex, want, sizeof(want));
	is_mem(plain, 50, want, wl, "%s: key data", what);
	rc = mikey_kemac_crypt(MIKEY_ENCR_AES_CM_128, k->encr, k->salt, csb,
	    ts, plain, 50, back);
	ok(rc == 0 && memcmp(back, m + off, 50) == 0,
	    "%s: re-encryption gives the message bytes", what);
}

static void
test_exchange_kemacs(void)
{
	uint8_t rqr[400], rsr[400], psk_i[16], psk_r[16], ri_req[16];
	uint8_t rr_res[16], tpk[16], trand[16];
	struct mikey_bytes bri, brr, btr;
	struct mikey_msgkeys k;
	int rc;

	hx(msg_request_resp, rqr, sizeof(rqr));
	hx(msg_resolve_resp, rsr, sizeof(rsr));
	seq(psk_i, 16, 0x00);
	seq(psk_r, 16, 0x10);
	seq(ri_req, 16, 0x60);
	seq(rr_res, 16, 0xa0);
	seq(tpk, 16, 0x20);
	seq(trand, 16, 0x50);

	/*
	 * Key data sub-payloads (spec 4.16): 0x14 = another follows, type 6
	 * (MPK) KV 1 (SPI), length 16, the key, SPI length 4, SPI; then
	 * last, type 0 (TGK) KV 1, TGK 404142..4f, MKI 00000001 (11.3).
	 * The MPK entries' SPIs (fffffffe, ffffffff) are not stated in the
	 * 11.3 text; the keys are: MPKi from 11.2, MPK 303132..3f.
	 */

	/* REQUEST_RESP: K2 of PSK(I,KMS); IV from its own T and CSB ID */
	bri = mb(ri_req, 16);
	rc = mikey_msgkeys_derive(MIKEY_PRF_MIKEY1, psk_i, 16, 0x11111111,
	    MIKEY_LBL_RESP, &bri, NULL, MIKEY_ENCR_AES_CM_128,
	    MIKEY_MAC_HMAC_SHA1_160, &k);
	is_int(rc, 0, "11.3 REQUEST_RESP K2 for the KEMAC");
	kemac_check("11.3 REQUEST_RESP KEMAC", rqr, 235, &k, 0x11111111,
	    ld64be(rqr + 12),
	    "14 61 0010 ce8dd317c23951ba86fc68dd137d1a9a 04 fffffffe"
	    " 00 01 0010 404142434445464748494a4b4c4d4e4f 04 00000001");
	mikey_msgkeys_cleanup(&k);

	/* Ticket Data KEMAC: TPK keys, CSB ID 0xFFFFFFFF, T of the Ticket
	 * Data (at 126: THDR 05 0000, then T's NP and TS type) */
	btr = mb(trand, 16);
	rc = mikey_msgkeys_derive(MIKEY_PRF_MIKEY1, tpk, 16, 0, MIKEY_LBL_TPK,
	    &btr, NULL, MIKEY_ENCR_AES_CM_128, MIKEY_MAC_HMAC_SHA1_160, &k);
	is_int(rc, 0, "11.3 TPK keys for the ticket KEMAC");
	kemac_check("11.3 ticket KEMAC", rqr, 156, &k, 0xffffffffu,
	    ld64be(rqr + 126),
	    "14 61 0010 303132333435363738393a3b3c3d3e3f 04 ffffffff"
	    " 00 01 0010 404142434445464748494a4b4c4d4e4f 04 00000001");
	mikey_msgkeys_cleanup(&k);

	/* RESOLVE_RESP: K2 of PSK(R,KMS), RANDRr only, CSB 33333333 */
	brr = mb(rr_res, 16);
	rc = mikey_msgkeys_derive(MIKEY_PRF_MIKEY1, psk_r, 16, 0x33333333,
	    MIKEY_LBL_RESP, NULL, &brr, MIKEY_ENCR_AES_CM_128,
	    MIKEY_MAC_HMAC_SHA1_160, &k);
	is_int(rc, 0, "11.3 RESOLVE_RESP K2 for the KEMAC");
	kemac_check("11.3 RESOLVE_RESP KEMAC", rsr, 48, &k, 0x33333333,
	    ld64be(rsr + 12),
	    "14 61 0010 ce8dd317c23951ba86fc68dd137d1a9a 04 fffffffe"
	    " 00 01 0010 404142434445464748494a4b4c4d4e4f 04 00000001");
	mikey_msgkeys_cleanup(&k);
}

/* --------------------------------------------------------------------- */
/* RFC 2202 and RFC 4231 through mikey_mac */

static void
test_hmac_vectors(void)
{
	static const struct {
		uint8_t		 alg;
		const char	*key_hex;	/* or key_fill x key_n */
		int		 key_fill;
		size_t		 key_n;
		const char	*data;	/* or data_fill x data_n */
		int		 data_fill;
		size_t		 data_n;
		const char	*want;	/* RFC 4231 5: 128 bits */
		const char	*name;
	} v[] = {
		{ 1, NULL, 0x0b, 20, "Hi There", 0, 0,
		    "b617318655057264e28bc0b6fb378c8ef146be00", "RFC 2202 1" },
		{ 1, "4a656665", 0, 0, "what do ya want for nothing?", 0, 0,
		    "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", "RFC 2202 2" },
		{ 1, NULL, 0xaa, 20, NULL, 0xdd, 50,
		    "125d7342b9ac11cd91a39af48aa17b4f63f175d3", "RFC 2202 3" },
		{ 1, "0102030405060708090a0b0c0d0e0f10111213141516171819", 0, 0,
		    NULL, 0xcd, 50,
		    "4c9007f4026250c6bc8414f9bf50c86c2d7235da", "RFC 2202 4" },
		{ 1, NULL, 0x0c, 20, "Test With Truncation", 0, 0,
		    "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04", "RFC 2202 5" },
		{ 1, NULL, 0xaa, 80,
		    "Test Using Larger Than Block-Size Key - Hash Key First",
		    0, 0, "aa4ae5e15272d00e95705637ce8a3b55ed402112",
		    "RFC 2202 6" },
		{ 1, NULL, 0xaa, 80, "Test Using Larger Than Block-Size Key "
		    "and Larger Than One Block-Size Data", 0, 0,
		    "e8e99d0f45237d786d6bbaa7965c7808bbff1a91", "RFC 2202 7" },
		{ 2, NULL, 0x0b, 20, "Hi There", 0, 0,
		    "b0344c61d8db38535ca8afceaf0bf12b"
		    "881dc200c9833da726e9376c2e32cff7", "RFC 4231 1" },
		{ 2, "4a656665", 0, 0, "what do ya want for nothing?", 0, 0,
		    "5bdcc146bf60754e6a042426089575c7"
		    "5a003f089d2739839dec58b964ec3843", "RFC 4231 2" },
		{ 2, NULL, 0xaa, 20, NULL, 0xdd, 50,
		    "773ea91e36800e46854db8ebd09181a7"
		    "2959098b3ef8c122d9635514ced565fe", "RFC 4231 3" },
		{ 2, "0102030405060708090a0b0c0d0e0f10111213141516171819", 0, 0,
		    NULL, 0xcd, 50,
		    "82558a389a443c0ea4cc819899f2083a"
		    "85f0faa3e578f8077a2e3ff46729665b", "RFC 4231 4" },
		{ 2, NULL, 0x0c, 20, "Test With Truncation", 0, 0,
		    "a3b6167473100ee06e0c796c2955552b", "RFC 4231 5 (128)" },
		{ 2, NULL, 0xaa, 131,
		    "Test Using Larger Than Block-Size Key - Hash Key First",
		    0, 0, "60e431591ee0b67f0d8a26aacbf5b77f"
		    "8e0bc6213728c5140546040f0ee37f54", "RFC 4231 6" },
		{ 2, NULL, 0xaa, 131, "This is a test using a larger than "
		    "block-size key and a larger than block-size data. The key "
		    "needs to be hashed before being used by the HMAC "
		    "algorithm.", 0, 0,
		    "9b09ffa71b942fcb27635fbcd5b0e944"
		    "bfdc63644f0713938a7f51535c3a35e2", "RFC 4231 7" },
	};
	uint8_t key[160], data[200], out[32], want[32];
	struct mikey_bytes parts[3];
	size_t i, kl, dl, wl;
	int rc;

	for (i = 0; i < NELEM(v); i++) {
		if (v[i].key_hex != NULL)
			kl = hx(v[i].key_hex, key, sizeof(key));
		else {
			kl = v[i].key_n;
			memset(key, v[i].key_fill, kl);
		}
		if (v[i].data != NULL) {
			dl = strlen(v[i].data);
			memcpy(data, v[i].data, dl);
		} else {
			dl = v[i].data_n;
			memset(data, v[i].data_fill, dl);
		}
		wl = hx(v[i].want, want, sizeof(want));

		parts[0] = mb(data, dl);
		rc = mikey_mac(v[i].alg, key, kl, parts, 1, out);
		is_int(rc, 0, "%s: mikey_mac returns 0", v[i].name);
		is_mem(out, wl, want, wl, "%s: one part", v[i].name);

		/* The same bytes in three parts, one of them empty. */
		parts[0] = mb(data, dl / 3);
		parts[1] = mb(NULL, 0);
		parts[2] = mb(data + dl / 3, dl - dl / 3);
		memset(out, 0, sizeof(out));
		rc = mikey_mac(v[i].alg, key, kl, parts, 3, out);
		ok(rc == 0, "%s: three parts return 0", v[i].name);
		is_mem(out, wl, want, wl, "%s: three parts", v[i].name);
	}
}

/* --------------------------------------------------------------------- */
/* mikey_mac / mikey_mac_verify behaviour */

static void
test_mac_verify(void)
{
	static const char *const data = "what do ya want for nothing?";
	uint8_t key[4] = { 'J', 'e', 'f', 'e' }, mac[32], bad[32];
	struct mikey_bytes part;
	size_t i;
	int rc;

	part = mb(data, strlen(data));
	hx("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", mac, sizeof(mac));
	rc = mikey_mac_verify(MIKEY_MAC_HMAC_SHA1_160, key, 4, &part, 1, mac,
	    20);
	is_int(rc, 0, "mac_verify: RFC 2202 2 accepted");
	for (i = 0; i < 20 * 8; i += 37) {
		memcpy(bad, mac, 20);
		bad[i / 8] ^= (uint8_t)(1u << (i % 8));
		rc = mikey_mac_verify(MIKEY_MAC_HMAC_SHA1_160, key, 4, &part,
		    1, bad, 20);
		is_int(rc, MIKEY_ERR_AUTH, "mac_verify: tag bit %zu flipped",
		    i);
	}
	memcpy(bad, mac, 20);
	bad[19] ^= 0x80;
	rc = mikey_mac_verify(MIKEY_MAC_HMAC_SHA1_160, key, 4, &part, 1, bad,
	    20);
	is_int(rc, MIKEY_ERR_AUTH, "mac_verify: last tag bit flipped");
	rc = mikey_mac_verify(MIKEY_MAC_HMAC_SHA1_160, key, 4, &part, 1, mac,
	    19);
	is_int(rc, MIKEY_ERR_AUTH, "mac_verify: truncated tag is not accepted");
	rc = mikey_mac_verify(MIKEY_MAC_HMAC_SHA256_256, key, 4, &part, 1,
	    mac, 20);
	is_int(rc, MIKEY_ERR_AUTH, "mac_verify: SHA-1 tag for SHA-256 alg");
	hx("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	    mac, sizeof(mac));
	rc = mikey_mac_verify(MIKEY_MAC_HMAC_SHA256_256, key, 4, &part, 1,
	    mac, 32);
	is_int(rc, 0, "mac_verify: RFC 4231 2 accepted");
	mac[0] ^= 0x01;
	rc = mikey_mac_verify(MIKEY_MAC_HMAC_SHA256_256, key, 4, &part, 1,
	    mac, 32);
	is_int(rc, MIKEY_ERR_AUTH, "mac_verify: SHA-256 first bit flipped");
	rc = mikey_mac_verify(MIKEY_MAC_NULL, NULL, 0, NULL, 0, NULL, 0);
	is_int(rc, 0, "mac_verify: NULL alg with no tag");
	rc = mikey_mac_verify(MIKEY_MAC_NULL, NULL, 0, NULL, 0, mac, 20);
	is_int(rc, MIKEY_ERR_AUTH, "mac_verify: NULL alg with a 20-byte tag");
	rc = mikey_mac_verify(3, key, 4, &part, 1, mac, 20);
	is_int(rc, MIKEY_ERR_ALG, "mac_verify: unknown alg");

	memset(mac, 0x5a, sizeof(mac));
	rc = mikey_mac(MIKEY_MAC_NULL, key, 4, &part, 1, mac);
	ok(rc == 0 && mac[0] == 0x5a, "mac: NULL alg writes nothing");
	rc = mikey_mac(7, key, 4, &part, 1, mac);
	is_int(rc, MIKEY_ERR_ALG, "mac: unknown alg");
	rc = mikey_mac(MIKEY_MAC_HMAC_SHA1_160, key, 0, &part, 1, mac);
	is_int(rc, MIKEY_ERR_INVAL, "mac: empty key");
	part = mb(NULL, 3);
	rc = mikey_mac(MIKEY_MAC_HMAC_SHA1_160, key, 4, &part, 1, mac);
	is_int(rc, MIKEY_ERR_INVAL, "mac: part with a length and no bytes");
}

/* --------------------------------------------------------------------- */
/* AES-CM: RFC 3711 B.2 (AES-128) and RFC 6188 7.1 (AES-256) */

static void
aescm_keystream(const char *name, uint8_t alg, const char *key_hex,
    const char *first_hex, const char *last_hex)
{
	/* RFC 3711 B.2 runs to counter ...FEFF..FF01: 0xff02 blocks */
	const size_t nblk = 0xff02;
	uint8_t key[32], salt[14], want[48], *buf;
	int rc;

	hx(key_hex, key, sizeof(key));
	hx("F0F1F2F3F4F5F6F7F8F9FAFBFCFD", salt, sizeof(salt));
	buf = calloc(nblk, 16);
	if (buf == NULL) {
		printf("Bail out! out of memory\n");
		exit(2);
	}
	/* CSB ID 0 and T 0: the IV is S || 0x0000 (spec 8.1 public check) */
	rc = mikey_kemac_crypt(alg, key, salt, 0, 0, buf, nblk * 16, buf);
	is_int(rc, 0, "%s: in-place encryption of zeros returns 0", name);
	hx(first_hex, want, sizeof(want));
	is_mem(buf, 48, want, 48, "%s: keystream blocks 0000..0002", name);
	hx(last_hex, want, sizeof(want));
	is_mem(buf + (nblk - 3) * 16, 48, want, 48,
	    "%s: keystream blocks FEFF..FF01", name);
	free(buf);
}

static void
test_aes_cm(void)
{
	uint8_t key[16], salt[14], zero[16], out[64], want[64], pt[61];
	uint8_t ct[61], back[61];
	int rc, i;

	aescm_keystream("RFC 3711 B.2 AES-CM-128", MIKEY_ENCR_AES_CM_128,
	    "2B7E151628AED2A6ABF7158809CF4F3C",
	    "E03EAD0935C95E80E166B16DD92B4EB4D23513162B02D0F72A43A2FE4A5F97AB"
	    "41E95B3BB0A2E8DD477901E4FCA894C0",
	    "EC8CDF7398607CB0F2D21675EA9EA1E4362B7C3C6773516318A077D7FC5073AE"
	    "6A2CC3787889374FBEB4C81B17BA6C44");
	aescm_keystream("RFC 6188 7.1 AES-CM-256", MIKEY_ENCR_AES_CM_256,
	    "57f82fe3613fd170a85ec93c40b1f0922ec4cb0dc025b58272147cc438944a98",
	    "92bdd28a93c3f52511c677d08b5515a49da71b2378a854f67050756ded165bac"
	    "63c4868b7096d88421b563b8c94c9a31",
	    "cea518c90fd91ced9cbb18c078a547113dbc4814f4da5f00a08772b63c6a046d"
	    "6eb246913062a16891433e97dd01a57f");

	/*
	 * Where CSB ID and T go in the IV: with S' = S XOR (0x0000 ||
	 * 12345678 || 0123456789abcdef) the IV is the B.2 one again.
	 */
	hx("2B7E151628AED2A6ABF7158809CF4F3C", key, sizeof(key));
	hx("F0F1F2F3F4F5F6F7F8F9FAFBFCFD", want, sizeof(want));
	for (i = 0; i < 14; i++)
		salt[i] = want[i] ^ (uint8_t)(i < 2 ? 0 : i < 6 ?
		    0x12345678u >> (8 * (5 - i)) :
		    0x0123456789abcdefull >> (8 * (13 - i)));
	memset(zero, 0, sizeof(zero));
	rc = mikey_kemac_crypt(MIKEY_ENCR_AES_CM_128, key, salt, 0x12345678,
	    0x0123456789abcdefull, zero, 16, out);
	hx("E03EAD0935C95E80E166B16DD92B4EB4", want, sizeof(want));
	ok(rc == 0, "AES-CM: CSB ID and T placement returns 0");
	is_mem(out, 16, want, 16, "AES-CM: CSB ID at IV bytes 2-5, T at 6-13");

	/* Round trip of an odd length, partial last block. */
	rnd_fill(pt, sizeof(pt));
	rc = mikey_kemac_crypt(MIKEY_ENCR_AES_CM_128, key, salt, 7, 9, pt,
	    sizeof(pt), ct);
	ok(rc == 0 && memcmp(ct, pt, sizeof(pt)) != 0,
	    "AES-CM: 61 bytes encrypt");
	rc = mikey_kemac_crypt(MIKEY_ENCR_AES_CM_128, key, salt, 7, 9, ct,
	    sizeof(ct), back);
	is_mem(back, sizeof(back), pt, sizeof(pt), "AES-CM: 61 bytes decrypt");

	/* NULL encryption copies, also in place. */
	rc = mikey_kemac_crypt(MIKEY_ENCR_NULL, NULL, NULL, 0, 0, pt,
	    sizeof(pt), back);
	ok(rc == 0 && memcmp(back, pt, sizeof(pt)) == 0, "NULL encr copies");
	rc = mikey_kemac_crypt(MIKEY_ENCR_NULL, NULL, NULL, 0, 0, back,
	    sizeof(back), back);
	ok(rc == 0 && memcmp(back, pt, sizeof(pt)) == 0,
	    "NULL encr in place");

	rc = mikey_kemac_crypt(MIKEY_ENCR_AES_KW_128, key, salt, 0, 0, pt, 16,
	    out);
	is_int(rc, MIKEY_ERR_INVAL, "kemac_crypt: AES-KW belongs to wrap");
	rc = mikey_kemac_crypt(4, key, salt, 0, 0, pt, 16, out);
	is_int(rc, MIKEY_ERR_ALG, "kemac_crypt: unknown encr alg 4");
	rc = mikey_kemac_crypt(MIKEY_ENCR_AES_CM_128, NULL, salt, 0, 0, pt,
	    16, out);
	is_int(rc, MIKEY_ERR_INVAL, "kemac_crypt: no key");
	rc = mikey_kemac_crypt(MIKEY_ENCR_AES_CM_128, key, salt, 0, 0, pt,
	    (size_t)65536 * 16 + 1, out);
	is_int(rc, MIKEY_ERR_TOO_BIG, "kemac_crypt: more than 2^16 blocks");
	rc = mikey_kemac_crypt(MIKEY_ENCR_AES_CM_256, key, salt, 0, 0, NULL,
	    0, NULL);
	is_int(rc, 0, "kemac_crypt: empty input");
}

/* --------------------------------------------------------------------- */
/* AES-KW: RFC 3394 4.1 */

static void
test_aes_kw(void)
{
	uint8_t kek[16], iv[8], data[16], out[32], back[48], want[32];
	uint8_t iv2[8], big[40], bigw[48];
	size_t ol, wl, bl;
	int rc;

	seq(kek, 16, 0x00);
	hx("A6A6A6A6A6A6A6A6", iv, sizeof(iv));
	hx("00112233445566778899AABBCCDDEEFF", data, sizeof(data));
	wl = hx("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5", want,
	    sizeof(want));
	ol = 0;
	rc = mikey_kemac_wrap(kek, iv, data, 16, out, &ol);
	is_int(rc, 0, "RFC 3394 4.1: wrap returns 0");
	is_mem(out, ol, want, wl, "RFC 3394 4.1: wrapped key");
	ol = 0;
	rc = mikey_kemac_unwrap(kek, iv, want, wl, back, &ol);
	is_int(rc, 0, "RFC 3394 4.1: unwrap returns 0");
	is_mem(back, ol, data, 16, "RFC 3394 4.1: unwrapped key");

	want[5] ^= 0x10;
	ol = 12345;
	rc = mikey_kemac_unwrap(kek, iv, want, wl, back, &ol);
	is_int(rc, MIKEY_ERR_AUTH, "AES-KW: tampered ciphertext rejected");
	ok(ol == 12345, "AES-KW: out_len untouched on failure");
	want[5] ^= 0x10;

	/* MIKEY uses the 64-bit salt_key as IV: another IV must not unwrap. */
	hx("0102030405060708", iv2, sizeof(iv2));
	rc = mikey_kemac_unwrap(kek, iv2, want, wl, back, &ol);
	is_int(rc, MIKEY_ERR_AUTH, "AES-KW: wrong IV rejected");
	rnd_fill(big, sizeof(big));
	rc = mikey_kemac_wrap(kek, iv2, big, sizeof(big), bigw, &ol);
	ok(rc == 0 && ol == sizeof(big) + 8, "AES-KW: 40 bytes, own IV, wrap");
	rc = mikey_kemac_unwrap(kek, iv2, bigw, ol, back, &bl);
	ok(rc == 0 && bl == sizeof(big) && memcmp(back, big, bl) == 0,
	    "AES-KW: 40 bytes, own IV, round trip");
	rc = mikey_kemac_unwrap(kek, iv, bigw, ol, back, &bl);
	is_int(rc, MIKEY_ERR_AUTH, "AES-KW: default IV does not open it");

	rc = mikey_kemac_wrap(kek, iv, data, 8, out, &ol);
	is_int(rc, MIKEY_ERR_INVAL, "AES-KW: one block is too short");
	rc = mikey_kemac_wrap(kek, iv, big, 20, out, &ol);
	is_int(rc, MIKEY_ERR_INVAL, "AES-KW: not a multiple of 8");
	rc = mikey_kemac_unwrap(kek, iv, want, 16, back, &ol);
	is_int(rc, MIKEY_ERR_INVAL, "AES-KW: 16-byte unwrap input too short");
}

/* --------------------------------------------------------------------- */
/* PRF arguments, and the PRF against the naive one */

static void
test_prf_args(void)
{
	uint8_t key[16], out[16], lab[4] = { 1, 2, 3, 4 };
	struct mikey_bytes r;
	struct mikey_msgkeys k;
	int rc;

	seq(key, 16, 0);
	is_int(mikey_prf(2, key, 16, lab, 4, out, 16), MIKEY_ERR_PRF,
	    "prf: PRF func 2 unknown");
	is_int(mikey_prf(0x7f, key, 16, lab, 4, out, 16), MIKEY_ERR_PRF,
	    "prf: PRF func 127 unknown");
	is_int(mikey_prf(0, key, 0, lab, 4, out, 16), MIKEY_ERR_INVAL,
	    "prf: empty inkey");
	is_int(mikey_prf(0, NULL, 16, lab, 4, out, 16), MIKEY_ERR_INVAL,
	    "prf: NULL inkey");
	is_int(mikey_prf(0, key, 16, lab, 4, out, 0), MIKEY_ERR_INVAL,
	    "prf: out_len 0");
	is_int(mikey_prf(0, key, 16, lab, 4, NULL, 16), MIKEY_ERR_INVAL,
	    "prf: NULL out");
	is_int(mikey_prf(1, key, 16, NULL, 4, out, 16), MIKEY_ERR_INVAL,
	    "prf: NULL label with a length");
	is_int(mikey_prf(0, key, 16, lab, 4, key + 8, 8), MIKEY_ERR_INVAL,
	    "prf: output overlapping the inkey");
	is_int(mikey_prf(0, key, 16, lab, 4, lab, 4), MIKEY_ERR_INVAL,
	    "prf: output overlapping the label");
	is_int(mikey_prf(0, key, 16, lab, 4, out, 16), 0,
	    "prf: separate buffers are fine");
	is_int(mikey_prf(0, key, 16, NULL, 0, out, 16), 0,
	    "prf: empty label");

	r = mb(lab, 4);
	memset(&k, 0x77, sizeof(k));
	rc = mikey_msgkeys_derive(2, key, 16, 1, MIKEY_LBL_INIT, &r, NULL,
	    MIKEY_ENCR_AES_CM_128, MIKEY_MAC_HMAC_SHA1_160, &k);
	ok(rc == MIKEY_ERR_PRF && k.encr_len == 0 && k.encr[0] == 0,
	    "msgkeys: unknown PRF, keys cleared");
	rc = mikey_msgkeys_derive(0, key, 16, 1, MIKEY_LBL_INIT, &r, NULL,
	    4, MIKEY_MAC_HMAC_SHA1_160, &k);
	is_int(rc, MIKEY_ERR_ALG, "msgkeys: unknown encr alg");
	rc = mikey_msgkeys_derive(0, key, 16, 1, MIKEY_LBL_INIT, &r, NULL,
	    MIKEY_ENCR_NULL, 3, &k);
	is_int(rc, MIKEY_ERR_ALG, "msgkeys: unknown MAC alg");
	rc = mikey_msgkeys_derive(0, key, 16, 1, MIKEY_LBL_TGK, &r, NULL,
	    MIKEY_ENCR_NULL, MIKEY_MAC_HMAC_SHA1_160, &k);
	is_int(rc, MIKEY_ERR_INVAL, "msgkeys: kind TGK is not a msg key");
	rc = mikey_msgkeys_derive(0, key, 16, 1, MIKEY_LBL_INIT, NULL, NULL,
	    MIKEY_ENCR_NULL, MIKEY_MAC_HMAC_SHA1_160, &k);
	is_int(rc, MIKEY_ERR_INVAL, "msgkeys: K1 without any RAND");
	rc = mikey_msgkeys_derive(0, key, 16, 1, MIKEY_LBL_TPK, NULL, &r,
	    MIKEY_ENCR_NULL, MIKEY_MAC_HMAC_SHA1_160, &k);
	is_int(rc, MIKEY_ERR_INVAL, "msgkeys: K6 without the ticket RAND");
	rc = mikey_msgkeys_derive(0, key, 0, 1, MIKEY_LBL_INIT, &r, NULL,
	    MIKEY_ENCR_NULL, MIKEY_MAC_HMAC_SHA1_160, &k);
	is_int(rc, MIKEY_ERR_INVAL, "msgkeys: empty inkey");
	rc = mikey_msgkeys_derive(0, key, 16, 1, MIKEY_LBL_RESP, NULL, &r,
	    MIKEY_ENCR_NULL, MIKEY_MAC_NULL, &k);
	ok(rc == 0 && k.encr_len == 0 && k.salt_len == 0 && k.auth_len == 0,
	    "msgkeys: NULL/NULL derives nothing");
}

/* msgkeys_vs_naive - all three keys of one suite against naive_prf */
static void
msgkeys_vs_naive(uint8_t prf, size_t keylen, uint8_t encr, uint8_t mac,
    size_t el, size_t sl, size_t al)
{
	static const uint32_t c[3] = { 0x150533e1, 0x29b88916, 0x2d22ac75 };
	uint8_t key[80], ri[16], rr[24], lab[64], want[32];
	const uint8_t *got[3];
	size_t lens[3], i, n;
	struct mikey_bytes bri, brr;
	struct mikey_msgkeys k;
	int rc;

	rnd_fill(key, keylen);
	rnd_fill(ri, sizeof(ri));
	rnd_fill(rr, sizeof(rr));
	bri = mb(ri, sizeof(ri));
	brr = mb(rr, sizeof(rr));
	rc = mikey_msgkeys_derive(prf, key, keylen, 0xa1b2c3d4,
	    MIKEY_LBL_RESP, &bri, &brr, encr, mac, &k);
	ok(rc == 0 && k.encr_len == el && k.salt_len == sl && k.auth_len == al,
	    "msgkeys PRF %u K%zu encr %u mac %u: lengths %zu/%zu/%zu", prf,
	    keylen, encr, mac, el, sl, al);
	got[0] = k.encr;
	got[1] = k.salt;
	got[2] = k.auth;
	lens[0] = el;
	lens[1] = sl;
	lens[2] = al;
	for (i = 0; i < 3; i++) {
		if (lens[i] == 0)
			continue;
		/* the K2 label written out by hand (RFC 6043 5.1.2) */
		n = 0;
		lab[n++] = (uint8_t)(c[i] >> 24);
		lab[n++] = (uint8_t)(c[i] >> 16);
		lab[n++] = (uint8_t)(c[i] >> 8);
		lab[n++] = (uint8_t)c[i];
		lab[n++] = 0xff;
		lab[n++] = 0xa1;
		lab[n++] = 0xb2;
		lab[n++] = 0xc3;
		lab[n++] = 0xd4;
		lab[n++] = 0x02;
		lab[n++] = sizeof(ri);
		memcpy(lab + n, ri, sizeof(ri));
		n += sizeof(ri);
		lab[n++] = sizeof(rr);
		memcpy(lab + n, rr, sizeof(rr));
		n += sizeof(rr);
		naive_prf(prf, key, keylen, lab, n, want, lens[i]);
		is_mem(got[i], lens[i], want, lens[i],
		    "msgkeys PRF %u K%zu: %s key", prf, keylen,
		    i == 0 ? "encr" : i == 1 ? "salt" : "auth");
	}
	mikey_msgkeys_cleanup(&k);
}

/* prf_vs_naive - one case; returns 1 if equal, prints got/want if not */
static int
prf_vs_naive(uint8_t prf, size_t keylen, size_t labellen, size_t outlen)
{
	uint8_t key[128], label[128], got[128], want[128];
	int rc;

	rnd_fill(key, keylen);
	rnd_fill(label, labellen);
	rc = mikey_prf(prf, key, keylen, label, labellen, got, outlen);
	if (naive_prf(prf, key, keylen, label, labellen, want, outlen) != 0) {
		diag(__FILE__, __LINE__, "naive_prf failed");
		return 0;
	}
	if (rc == 0 && memcmp(got, want, outlen) == 0)
		return 1;
	diag(__FILE__, __LINE__, "PRF %u key %zu label %zu out %zu: rc %d",
	    prf, keylen, labellen, outlen, rc);
	tap_hex("got ", got, outlen);
	tap_hex("want", want, outlen);
	return 0;
}

static void
test_prf_naive(void)
{
	/* chunk and block boundaries of both PRFs */
	static const size_t keys[] = { 1, 16, 31, 32, 33, 40, 63, 64, 65, 96,
	    97, 128 };
	static const size_t outs[] = { 1, 14, 19, 20, 21, 31, 32, 33, 40, 41,
	    64, 65, 100, 128 };
	size_t i, j, good, total;
	uint8_t prf;

	for (prf = 0; prf <= 1; prf++) {
		good = total = 0;
		for (i = 0; i < NELEM(keys); i++)
			for (j = 0; j < NELEM(outs); j++) {
				total++;
				good += (size_t)prf_vs_naive(prf, keys[i],
				    (i + j) % 40, outs[j]);
			}
		is_int(good, total, "PRF %u = naive PRF at %zu key/output "
		    "boundaries", prf, total);

		good = total = 0;
		for (i = 0; i < 300; i++) {
			total++;
			good += (size_t)prf_vs_naive(prf,
			    16 + (size_t)(xorshift64() % 65),
			    (size_t)(xorshift64() % 80),
			    1 + (size_t)(xorshift64() % 100));
		}
		is_int(good, total, "PRF %u = naive PRF for %zu random key "
		    "16..80, label 0..79, output 1..100 bytes", prf, total);
	}

	/* several labels sharing one keyed context, one and two chunks */
	msgkeys_vs_naive(0, 16, MIKEY_ENCR_AES_CM_128,
	    MIKEY_MAC_HMAC_SHA1_160, 16, 14, 20);
	msgkeys_vs_naive(0, 40, MIKEY_ENCR_AES_KW_128,
	    MIKEY_MAC_HMAC_SHA1_160, 16, 8, 20);
	msgkeys_vs_naive(1, 32, MIKEY_ENCR_AES_CM_256,
	    MIKEY_MAC_HMAC_SHA256_256, 32, 14, 32);
	msgkeys_vs_naive(1, 64, MIKEY_ENCR_AES_CM_256,
	    MIKEY_MAC_HMAC_SHA256_256, 32, 14, 32);
	msgkeys_vs_naive(1, 72, MIKEY_ENCR_NULL, MIKEY_MAC_HMAC_SHA256_256,
	    0, 0, 32);
}

/* --------------------------------------------------------------------- */
/* Timestamps, errors, diagnostics */

static void
test_misc(void)
{
	struct mikey_pl_ts ts;
	struct mikey_diag d;
	char buf[128];
	const char *s, *t;
	int e, f, dup;

	memset(&ts, 0, sizeof(ts));
	ts.ts_type = MIKEY_TS_NTP_UTC;
	ts.value = 0xeb1f040012345678ull;
	is_int(mikey_ts64(&ts), 0xeb1f040012345678ull, "ts64: NTP-UTC as is");
	ts.ts_type = MIKEY_TS_NTP;
	is_int(mikey_ts64(&ts), 0xeb1f040012345678ull, "ts64: NTP as is");
	ts.ts_type = MIKEY_TS_COUNTER;
	ts.value = 0x12345678;
	is_int(mikey_ts64(&ts), 0x12345678, "ts64: COUNTER left-padded");
	ts.ts_type = MIKEY_TS_NTP_UTC_32;
	ts.value = 0xeb1f0400;
	is_int(mikey_ts64(&ts), 0xeb1f040000000000ull,
	    "ts64: NTP-UTC-32 gets a zero fraction");

	dup = 0;
	for (e = MIKEY_ERR_BASE; e < MIKEY_ERR_LAST; e++) {
		s = mikey_strerror(e);
		if (s == NULL || strcmp(s, "unknown error") == 0 || *s == '\0')
			dup++;
		for (f = MIKEY_ERR_BASE; f < e; f++) {
			t = mikey_strerror(f);
			if (s != NULL && t != NULL && strcmp(s, t) == 0)
				dup++;
		}
	}
	is_int(dup, 0, "strerror: every code has its own text");
	ok(strcmp(mikey_strerror(MIKEY_ERR_LAST), "unknown error") == 0 &&
	    strcmp(mikey_strerror(-1), "unknown error") == 0 &&
	    strcmp(mikey_strerror(42), "unknown error") == 0,
	    "strerror: unknown codes");
	ok(mikey_strerror(MIKEY_OK) != NULL, "strerror: MIKEY_OK");

	d.err = MIKEY_ERR_VALUE;
	d.offset = 12;
	d.payload = MIKEY_PT_T;
	d.field = "TS type";
	mikey_diag_format(&d, buf, sizeof(buf));
	ok(strcmp(buf, "value not allowed: TS type at offset 12 in T payload")
	    == 0, "diag: T payload (%s)", buf);
	d.err = MIKEY_ERR_TRUNCATED;
	d.offset = 3;
	d.payload = -1;
	d.field = NULL;
	mikey_diag_format(&d, buf, sizeof(buf));
	ok(strstr(buf, "at offset 3 in HDR") != NULL &&
	    strncmp(buf, mikey_strerror(MIKEY_ERR_TRUNCATED),
	    strlen(mikey_strerror(MIKEY_ERR_TRUNCATED))) == 0,
	    "diag: HDR without field (%s)", buf);
	d.payload = -2;
	d.field = "Key Data len";
	mikey_diag_format(&d, buf, sizeof(buf));
	ok(strstr(buf, ": Key Data len at offset 3 in nested data") != NULL,
	    "diag: nested data (%s)", buf);
	d.payload = 99;
	mikey_diag_format(&d, buf, sizeof(buf));
	ok(strstr(buf, "in payload type 99") != NULL,
	    "diag: unknown payload type (%s)", buf);
	memset(buf, 'x', sizeof(buf));
	mikey_diag_format(&d, buf, 8);
	ok(strlen(buf) == 7, "diag: truncated to the buffer");
	mikey_diag_format(&d, NULL, 0);
	ok(1, "diag: no buffer is harmless");
}

int
main(void)
{
	test_prf_kat();
	test_labels();
	test_derived_keys();
	test_exchange_keys();
	test_exchange_macs();
	test_exchange_kemacs();
	test_hmac_vectors();
	test_mac_verify();
	test_aes_cm();
	test_aes_kw();
	test_prf_args();
	test_prf_naive();
	test_misc();
	return done_testing();
}
