/*
 * tests/fuzz/fuzz_ticket.c - fuzz target: a TICKET payload / Ticket Data
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * The input is read twice:
 *
 *  1. as a whole TICKET payload (RFC 6043 6.11, NP byte included, as an
 *     initiator stores it): decode, re-encode byte for byte (oracle),
 *     ticket policy, Ticket Data and Initiator Data (each re-encoded byte
 *     for byte), then mikey_ticket_open() with the world's TPKs
 *     (tests/fuzz/world.h).  The seeds are tickets really sealed under
 *     those TPKs (gen_corpus.c), so the MAC check passes and decryption
 *     runs; a ticket whose MAC fails is also re-MACed and opened again,
 *     so mutated KEMACs, RANDs and key data reach the decryption and the
 *     key data parser.  An opened ticket's keys feed the derivations the
 *     roles make from them (MPKi/MPKr, K4 forking, K3 TEK).
 *  2. as bare Ticket Data (THDR + chain): decode and re-encode (oracle).
 *
 * Oracles abort(); state is only the counters of fuzz_summary().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mikey/mikey.h"
#include "tests/fuzz/world.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
size_t fuzz_summary(char *buf, size_t len);

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "fuzz_ticket: %s:%d: oracle failed: %s\n",\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

static struct {
	size_t	inputs, payloads, opened, remac_opened, ticketdata;
} st;

static int
same_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* chain_roundtrip - each payload of ch re-encodes to its bytes at base */
static void
chain_roundtrip(const struct mikey_chain *ch, const uint8_t *base,
    size_t base_len)
{
	uint8_t out[MIKEY_MAX_MSG];
	size_t i, len;

	for (i = 0; i < ch->n; i++) {
		const struct mikey_payload *p = &ch->pl[i];

		CHECK(p->off <= base_len && p->len <= base_len - p->off);
		CHECK(mikey_payload_encode(p, i + 1 < ch->n ?
		    ch->pl[i + 1].type : MIKEY_PT_LAST, out, sizeof(out),
		    &len) == 0);
		CHECK(same_bytes(out, len, base + p->off, p->len));
		if (p->type == MIKEY_PT_KEMAC &&
		    p->u.kemac.encr_alg == MIKEY_ENCR_NULL) {
			struct mikey_keydata kd[MIKEY_MAX_KEYS];
			size_t nk, kl;

			if (mikey_keydata_decode(p->u.kemac.encr_data.p,
			    p->u.kemac.encr_data.len, kd, MIKEY_MAX_KEYS, &nk,
			    NULL) == 0) {
				CHECK(mikey_keydata_encode(kd, nk, out,
				    sizeof(out), &kl) == 0);
				CHECK(same_bytes(out, kl,
				    p->u.kemac.encr_data.p,
				    p->u.kemac.encr_data.len));
			}
		}
	}
}

/* ticketdata - decode Ticket Data, re-encode it byte for byte */
static int
ticketdata(struct mikey_bytes td)
{
	struct mikey_chain ch;
	struct mikey_bytes thdr;
	uint8_t out[MIKEY_MAX_MSG];
	size_t len;

	if (mikey_ticketdata_decode(td, &thdr, &ch, NULL) != 0)
		return -1;
	CHECK(thdr.p >= td.p && thdr.p + thdr.len <= td.p + td.len);
	CHECK(mikey_ticketdata_encode(thdr, &ch, out, sizeof(out), &len) == 0);
	CHECK(same_bytes(out, len, td.p, td.len));
	chain_roundtrip(&ch, thdr.p + thdr.len,
	    (size_t)(td.p + td.len - (thdr.p + thdr.len)));
	return 0;
}

/* tpdata - TP Data / Initiator Data: decode, re-encode byte for byte */
static void
tpdata(struct mikey_bytes b)
{
	struct mikey_chain ch;
	uint8_t out[MIKEY_MAX_MSG];
	size_t len;

	if (mikey_tpdata_decode(b, &ch, NULL) != 0)
		return;
	CHECK(mikey_tpdata_encode(&ch, out, sizeof(out), &len) == 0);
	CHECK(same_bytes(out, len, b.p, b.len));
	chain_roundtrip(&ch, b.p + 1, b.len - 1);
}

/* use_keys - what the roles derive from an opened ticket */
static void
use_keys(const struct mikey_policy *pol, const struct mikey_ticket_keys *tk)
{
	struct mikey_key mpki, mpkr, fk;
	struct mikey_bytes rand = { tk->rand, tk->rand_len };
	struct mikey_id bob = world_uri(WORLD_BOB);
	uint8_t tek[MIKEY_MAX_KEY], salt[14];
	size_t i;

	CHECK(tk->mpk.type == MIKEY_KEY_MPK && tk->mpk.key_len > 0 &&
	    tk->nkeys <= MIKEY_MAX_KEYS && tk->rand_len > 0);
	if (mikey_mpk_derive(pol->prf, &tk->mpk, rand, MIKEY_C_MPKI,
	    &mpki) == 0)
		CHECK(mpki.key_len == tk->mpk.key_len);
	if (mikey_mpk_derive(pol->prf, &tk->mpk, rand, MIKEY_C_MPKR,
	    &mpkr) == 0)
		world_ignore(mikey_fork_derive(pol->prf, MIKEY_C_MPKR_FORK,
		    &mpkr, bob.data, rand, &fk));
	for (i = 0; i < tk->nkeys; i++) {
		const struct mikey_key *k = &tk->keys[i];

		CHECK(k->key_len > 0 && k->key_len <= MIKEY_MAX_KEY);
		world_ignore(mikey_tek_derive(pol->prf, k, 1, &rand, NULL,
		    MIKEY_C_TEK, tek, k->key_len));
		world_ignore(mikey_tek_derive(pol->prf, k, 1, &rand, &rand,
		    MIKEY_C_SALT_TGK, salt, sizeof(salt)));
		world_ignore(mikey_fork_derive(pol->prf, MIKEY_C_TGK_FORK, k,
		    bob.data, rand, &fk));
	}
	mikey_key_cleanup(&mpki);
	mikey_key_cleanup(&mpkr);
	mikey_key_cleanup(&fk);
}

/* open_ticket - mikey_ticket_open on a decoded payload; its result */
static int
open_ticket(const struct mikey_payload *pl)
{
	struct mikey_ticket_keys tk;
	struct mikey_policy pol;
	int rc;

	rc = mikey_ticket_open(pl, world_ops_lookup, NULL, &tk);
	if (rc == 0) {
		if (mikey_policy_parse(pl, &pol, NULL) == 0)
			use_keys(&pol, &tk);
		mikey_ticket_keys_cleanup(&tk);
	}
	return rc;
}

/* as_payload - the input as a TICKET payload */
static void
as_payload(const uint8_t *d, size_t n)
{
	struct mikey_payload pl;
	struct mikey_policy pol;
	struct mikey_diag diag;
	uint8_t out[MIKEY_MAX_MSG], *copy;
	char text[160];
	size_t len;
	int rc;

	memset(&diag, 0, sizeof(diag));
	if (mikey_payload_decode(MIKEY_PT_TICKET, d, n, &pl, &diag) != 0) {
		mikey_diag_format(&diag, text, sizeof(text));
		return;
	}
	st.payloads++;
	CHECK(pl.type == MIKEY_PT_TICKET && pl.len == n);
	/* mikey_payload_decode ignores the NP byte: give it back as it was */
	CHECK(mikey_payload_encode(&pl, d[0], out, sizeof(out), &len) == 0);
	CHECK(same_bytes(out, len, d, n));
	if (mikey_policy_parse(&pl, &pol, NULL) == 0) {
		struct mikey_id bob = world_uri(WORLD_BOB);

		world_ignore(mikey_policy_check_flags(pol.flags));
		(void)mikey_policy_names(&pol, &bob);
	}
	tpdata(pl.u.ticket.tp_data);
	if (pl.u.ticket.init_data.len > 0)
		tpdata(pl.u.ticket.init_data);
	if (pl.u.ticket.ticket_type == MIKEY_TICKET_BASE)
		(void)ticketdata(pl.u.ticket.ticket_data);

	rc = open_ticket(&pl);
	if (rc == 0)
		st.opened++;
	if (rc != MIKEY_ERR_AUTH || (copy = malloc(n)) == NULL)
		return;
	/* the MAC failed: re-MAC a copy so the decryption runs anyway */
	memcpy(copy, d, n);
	if (world_ticket_remac(copy, n) == 0 &&
	    mikey_payload_decode(MIKEY_PT_TICKET, copy, n, &pl, NULL) == 0) {
		if (open_ticket(&pl) == 0)
			st.remac_opened++;
	}
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct mikey_bytes td;

	st.inputs++;
	if (n == 0 || n > MIKEY_MAX_MSG)
		return 0;
	as_payload(d, n);
	td.p = d;
	td.len = n;
	if (ticketdata(td) == 0)
		st.ticketdata++;
	return 0;
}

/* fuzz_summary - for the replay driver; returns the tickets opened */
size_t
fuzz_summary(char *buf, size_t len)
{
	size_t deep = st.opened;

	snprintf(buf, len, "%zu inputs: %zu TICKET payloads decoded, %zu "
	    "opened (MAC verified, keys decrypted), %zu more after re-MAC, "
	    "%zu decoded as Ticket Data", st.inputs, st.payloads, st.opened,
	    st.remac_opened, st.ticketdata);
	memset(&st, 0, sizeof(st));
	return deep;
}
