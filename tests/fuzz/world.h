/*
 * tests/fuzz/world.h - the fixed MIKEY world the fuzz targets live in
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * One set of identities, PSKs, ticket protection keys and one frozen clock,
 * shared by the fuzz targets (fuzz_msg.c, fuzz_ticket.c) and by the seed
 * generator (gen_corpus.c).  Seeds made by the generator therefore
 * authenticate inside the targets: a REQUEST_INIT seed gets a ticket from
 * the target's KMS, a sealed ticket seed opens with the target's TPK, so
 * the fuzzer starts beyond the MAC checks.
 *
 * The keys are those of spec/mikey-ticket.md 11.2 (and
 * tests/unit/mikey/t_exchange.c), so the 11.3 messages in tests/data/mikey
 * authenticate too: their clock, 0xeb1f0400.00000000 NTP, is WORLD_NOW.
 *
 * Everything here is constant or lives in a struct world_rng the caller
 * owns and resets per input: a target has no hidden state that makes one
 * input depend on the inputs before it.
 */
#ifndef TESTS_FUZZ_WORLD_H
#define TESTS_FUZZ_WORLD_H

#include <stdint.h>
#include <string.h>

#include "mikey/mikey.h"

/* 2025-01-01 00:00:00 UTC as NTP-UTC 64 (the 11.3 example's clock) */
#define WORLD_NOW	0xeb1f040000000000ull
#define WORLD_SKEW	300

#define WORLD_ALICE	"sip:alice@example.com"
#define WORLD_BOB	"sip:bob@example.com"
#define WORLD_CAROL	"sip:carol@example.com"
#define WORLD_KMS	"sip:kms@example.com"
#define WORLD_IDPSK	"tpk-alice"	/* mode 3: TPK = alice's PSK */

static const uint8_t world_psk_alice[16] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f
};
static const uint8_t world_psk_bob[16] = {
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f
};
static const uint8_t world_psk_carol[16] = {
	0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
	0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf
};
/* TPK for unversioned tickets (empty THDR, as in 11.3) and version 1 */
static const uint8_t world_tpk1[16] = {
	0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
	0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f
};
/* TPK version 2: a 256-bit master key */
static const uint8_t world_tpk2[32] = {
	0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7,
	0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
	0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7,
	0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf
};

/* world_ignore - drop a result on purpose (a (void) cast does not silence
 *	warn_unused_result in gcc) */
static inline void
world_ignore(int rc)
{
	(void)rc;
}

/* world_clock - now_arg NULL: WORLD_NOW; else *(uint64_t *)arg */
static __attribute__((unused)) uint64_t
world_clock(void *arg)
{
	return arg != NULL ? *(const uint64_t *)arg : WORLD_NOW;
}

/* A deterministic RNG: distinct bytes per call, reset with the struct. */
struct world_rng {
	uint64_t	 state;
};

static __attribute__((unused)) int
world_rand(void *arg, uint8_t *buf, size_t len)
{
	struct world_rng *r = arg;
	size_t i;

	for (i = 0; i < len; i++) {
		/* splitmix64, one output byte per step: slow, irrelevant */
		uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		buf[i] = (uint8_t)(z ^ (z >> 31));
	}
	return 0;
}

static __attribute__((unused)) struct mikey_id
world_uri(const char *s)
{
	struct mikey_id id;

	id.type = MIKEY_ID_URI;
	id.data.p = (const uint8_t *)s;
	id.data.len = strlen(s);
	return id;
}

static __attribute__((unused)) int
world_is(const struct mikey_id *id, const char *s)
{
	return id != NULL && id->data.len == strlen(s) &&
	    (id->data.len == 0 || memcmp(id->data.p, s, id->data.len) == 0);
}

/* world_psk_of - the PSK of a user, or NULL */
static __attribute__((unused)) const uint8_t *
world_psk_of(const struct mikey_id *id)
{
	if (world_is(id, WORLD_ALICE))
		return world_psk_alice;
	if (world_is(id, WORLD_BOB))
		return world_psk_bob;
	if (world_is(id, WORLD_CAROL))
		return world_psk_carol;
	return NULL;
}

/* ---- the KMS policy (struct mikey_kms_ops); arg is unused ---- */

static __attribute__((unused)) int
world_ops_psk(void *arg, const struct mikey_id *id,
    const struct mikey_id *idpsk, uint8_t *key, size_t *len)
{
	const uint8_t *p = NULL;

	(void)arg;
	if (id != NULL)
		p = world_psk_of(id);
	else if (idpsk != NULL)
		p = world_psk_of(idpsk);	/* the PSK's name is the user */
	if (p == NULL || *len < 16)
		return -1;
	memcpy(key, p, 16);
	*len = 16;
	return 0;
}

/* world_ops_lookup - TPK by version (0/none, 1, 2) or by IDRpsk */
static __attribute__((unused)) int
world_ops_lookup(void *arg, int has_version, uint32_t version,
    const struct mikey_id *idpsk, struct mikey_tpk *tpk)
{
	(void)arg;
	memset(tpk, 0, sizeof(*tpk));
	if (idpsk != NULL) {
		if (!world_is(idpsk, WORLD_IDPSK))
			return -1;
		memcpy(tpk->key, world_psk_alice, 16);
		tpk->key_len = 16;
		tpk->idpsk = *idpsk;
		return 0;
	}
	if (!has_version)
		version = 0;
	if (version == 0 || version == 1) {
		memcpy(tpk->key, world_tpk1, 16);
		tpk->key_len = 16;
	} else if (version == 2) {
		memcpy(tpk->key, world_tpk2, 32);
		tpk->key_len = 32;
	} else
		return -1;
	tpk->version = version;
	return 0;
}

/* world_ops_current - arg NULL: version 1; else *(uint32_t *)arg */
static __attribute__((unused)) int
world_ops_current(void *arg, struct mikey_tpk *tpk)
{
	uint32_t v = arg != NULL ? *(const uint32_t *)arg : 1;

	return world_ops_lookup(NULL, 1, v, NULL, tpk);
}

/* a known user may ask for tickets in its own name */
static __attribute__((unused)) int
world_ops_req(void *arg, const struct mikey_id *requester,
    struct mikey_grant *g)
{
	(void)arg;
	if (world_psk_of(requester) == NULL)
		return -1;
	return g->idi.data.len == requester->data.len &&
	    memcmp(g->idi.data.p, requester->data.p, g->idi.data.len) == 0 ?
	    0 : -1;
}

/* a responder named in the ticket may resolve it */
static __attribute__((unused)) int
world_ops_res(void *arg, const struct mikey_id *requester,
    const struct mikey_policy *pol)
{
	(void)arg;
	return mikey_policy_names(pol, requester) ? 0 : -1;
}

static const struct mikey_kms_ops world_ops = {
	world_ops_psk, world_ops_current, world_ops_lookup, world_ops_req,
	world_ops_res
};

/*
 * world_ticket_remac - recompute, in place, the ticket MAC of a TICKET
 *	payload (p: its NP byte .. its end) with the world's TPK, as
 *	mikey_ticket_seal() would (RFC 6043 A.1: K6 from the TPK and the
 *	ticket RAND; MAC over Ticket Type .. the MAC field).  Lets a fuzzer
 *	take a mutated ticket past the MAC to the decryption.  0 if done.
 */
static __attribute__((unused)) int
world_ticket_remac(uint8_t *p, size_t len)
{
	struct mikey_payload pl;
	struct mikey_chain ch;
	struct mikey_bytes thdr, part;
	const struct mikey_payload *rnd, *km, *v, *idp;
	struct mikey_msgkeys k;
	struct mikey_tpk tpk;
	struct mikey_id idpsk;
	const uint8_t *start;
	int hv = 0, rc;
	uint32_t ver = 0;

	if (mikey_payload_decode(MIKEY_PT_TICKET, p, len, &pl, NULL) != 0 ||
	    pl.u.ticket.ticket_type != MIKEY_TICKET_BASE ||
	    mikey_ticketdata_decode(pl.u.ticket.ticket_data, &thdr, &ch,
	    NULL) != 0)
		return -1;
	if (thdr.len == 8 && memcmp(thdr.p, "IMGK", 4) == 0) {
		hv = 1;
		ver = (uint32_t)thdr.p[4] << 24 | (uint32_t)thdr.p[5] << 16 |
		    (uint32_t)thdr.p[6] << 8 | thdr.p[7];
	}
	rnd = mikey_chain_find(&ch, MIKEY_PT_RAND, -1, 0);
	km = mikey_chain_find(&ch, MIKEY_PT_KEMAC, -1, 0);
	idp = mikey_chain_find(&ch, MIKEY_PT_IDR, MIKEY_ROLE_PSK, 0);
	v = ch.n ? &ch.pl[ch.n - 1] : NULL;
	if (rnd == NULL || km == NULL || v == NULL || v->type != MIKEY_PT_V ||
	    v->u.v.alg == MIKEY_MAC_NULL)
		return -1;
	if (idp != NULL) {
		idpsk.type = idp->u.id.type;
		idpsk.data = idp->u.id.data;
	}
	if (world_ops_lookup(NULL, hv, ver, idp ? &idpsk : NULL, &tpk) != 0)
		return -1;
	if (mikey_msgkeys_derive(pl.u.ticket.prf_func, tpk.key, tpk.key_len,
	    0xffffffffu, MIKEY_LBL_TPK, &rnd->u.rand.rand, NULL,
	    km->u.kemac.encr_alg, v->u.v.alg, &k) != 0)
		return -1;
	start = pl.u.ticket.tp_data.p - 9;	/* the Ticket Type field */
	part.p = start;
	part.len = (size_t)(v->u.v.mac.p - start);
	rc = mikey_mac(v->u.v.alg, k.auth, k.auth_len, &part, 1,
	    p + (v->u.v.mac.p - p));
	mikey_msgkeys_cleanup(&k);
	return rc;
}

#endif /* TESTS_FUZZ_WORLD_H */
