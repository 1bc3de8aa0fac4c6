/*
 * tests/fuzz/gen_corpus.c - write the seed corpora of the MIKEY fuzz targets
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 *	tests/fuzz/gen_corpus OUTDIR [DATADIR]
 *
 * writes OUTDIR/msg/ (seeds of fuzz_msg) and OUTDIR/ticket/ (fuzz_ticket):
 *
 *  msg/data-NAME        every DATADIR/NAME.hex (default
 *                       $top_srcdir/tests/data/mikey) as binary;
 *  msg/SUITE-N-TYPE     the six messages of a full exchange (REQUEST,
 *                       TRANSFER with F = 1, RESOLVE) made by the real
 *                       initiator, KMS and responder code, for the
 *                       MIKEY-1/AES-CM-128/HMAC-SHA-1 suite (s128) and
 *                       the SHA-256 suite (s256);
 *  msg/...              variants: the one-way profile (F = 0), key forking
 *                       (Initiator Data, MPKr', RANDRkms), mode 2 (E = 0),
 *                       mode 3 (initiator-made ticket, IDRpsk), master key
 *                       version 2, several desired keys, KMS Error answers;
 *  ticket/tkt-*         the TICKET payloads of those exchanges, sealed
 *                       under the TPKs fuzz_ticket knows (world.h), so
 *                       the fuzzer starts past the ticket MAC and
 *                       decrypts; ticket/td-* some bare Ticket Data.
 *
 * Everything comes from tests/fuzz/world.h: the same keys, identities
 * and frozen clock as the targets, so the seeds authenticate there.  The
 * output is deterministic.  To regenerate (then commit the files):
 *
 *	rm -rf tests/fuzz/corpus/msg tests/fuzz/corpus/ticket
 *	top_srcdir=. BUILD/tests/fuzz/gen_corpus tests/fuzz/corpus
 */
#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mikey/mikey.h"
#include "tests/fuzz/world.h"

#define CAP	4096

static const char *outdir;
static int nfiles, errors;
static uint64_t clk;
static struct world_rng rng = { 0x696d67617465ull };
static const struct mikey_env env = { world_clock, &clk, world_rand, &rng,
	WORLD_SKEW };

static void
put(const char *sub, const char *name, const uint8_t *p, size_t len)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, len, f) != len ||
	    fclose(f) != 0) {
		fprintf(stderr, "gen_corpus: cannot write %s\n", path);
		exit(1);
	}
	nfiles++;
}

#define MUST(x) do {							\
	int rc_ = (x);							\
	if (rc_ != 0) {							\
		fprintf(stderr, "gen_corpus: %s:%d: %s: %s\n",		\
		    __FILE__, __LINE__, #x, mikey_strerror(rc_));	\
		errors++;						\
		return;							\
	}								\
} while (0)

/* put_tickets - a message's TICKET payload (NP set to 0), its Ticket Data */
static void
put_tickets(const char *tag, const uint8_t *m, size_t len, int with_td)
{
	struct mikey_msg msg;
	const struct mikey_payload *tk;
	uint8_t buf[CAP];
	char name[128];

	if (mikey_msg_decode(m, len, &msg, NULL) != 0 ||
	    (tk = mikey_chain_find(&msg.body, MIKEY_PT_TICKET, -1, 0)) ==
	    NULL || tk->len > sizeof(buf))
		return;
	memcpy(buf, m + tk->off, tk->len);
	buf[0] = MIKEY_PT_LAST;
	snprintf(name, sizeof(name), "tkt-%s", tag);
	put("ticket", name, buf, tk->len);
	if (with_td && tk->u.ticket.ticket_type == MIKEY_TICKET_BASE) {
		snprintf(name, sizeof(name), "td-%s", tag);
		put("ticket", name, tk->u.ticket.ticket_data.p,
		    tk->u.ticket.ticket_data.len);
	}
}

/* ---- the test vectors ---- */

static size_t
unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1, v;

	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			continue;
		if (hi < 0)
			hi = v;
		else {
			if (n < cap)
				out[n] = (uint8_t)(hi << 4 | v);
			n++;
			hi = -1;
		}
	}
	return n;
}

static void
from_hex(const char *datadir)
{
	DIR *d;
	struct dirent *de;
	char path[1536], name[300], *text;
	uint8_t bin[CAP];
	size_t n, l;
	FILE *f;

	if ((d = opendir(datadir)) == NULL) {
		fprintf(stderr, "gen_corpus: no %s\n", datadir);
		errors++;
		return;
	}
	text = malloc(4 * CAP);
	while (text != NULL && (de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		if (l < 5 || strcmp(de->d_name + l - 4, ".hex") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", datadir, de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		n = fread(text, 1, 4 * CAP - 1, f);
		fclose(f);
		text[n] = '\0';
		n = unhex(text, bin, sizeof(bin));
		if (n > sizeof(bin))
			continue;
		snprintf(name, sizeof(name), "data-%.*s", (int)(l - 4),
		    de->d_name);
		put("msg", name, bin, n);
		snprintf(name, sizeof(name), "data-%.*s", (int)(l - 4),
		    de->d_name);
		put_tickets(name, bin, n, 0);
	}
	free(text);
	closedir(d);
}

/* ---- exchanges made by the real code ---- */

struct opts {
	const char	*tag;
	const struct mikey_suite *suite;
	uint32_t	 flags;
	uint32_t	 version;	/* KMS master key */
	int		 carol;		/* a second responder */
	int		 mode3;		/* initiator-made ticket (IDRpsk) */
	size_t		 nkeys;
	uint8_t		 key_type[4], key_len[4];
	int		 sp;		/* an SRTP SP payload + SRTP cs */
	int		 all;		/* write every message, not only T_I */
	int		 td;		/* also write the bare Ticket Data */
};

static void
name6(char *buf, size_t len, const struct opts *o, int n, const char *what)
{
	snprintf(buf, len, "%s-%d-%s", o->tag, n, what);
}

static void
exchange(const struct opts *o)
{
	struct mikey_kms_conf kc;
	struct mikey_kms_result res;
	struct mikey_request_params rp;
	struct mikey_i_request rq;
	struct mikey_ticket t;
	struct mikey_transfer_params tp;
	struct mikey_i_transfer it;
	struct mikey_r_transfer x;
	struct mikey_cred me;
	struct mikey_r_resolve rs;
	struct mikey_resolved keys;
	static const uint8_t spp[] = { 0, 1, 1, 2, 1, 1 }, ssrc[] = { 0xca,
	    0xfe, 0, 1 }, spi[] = { 0, 0, 0, 1 }, ps[] = { 0 };
	uint8_t m[6][CAP], rr[255];
	size_t l[6], rrl, i;
	char name[128];
	int perr;
	uint32_t version = o->version;

	clk = WORLD_NOW;
	memset(&kc, 0, sizeof(kc));
	kc.id = world_uri(WORLD_KMS);
	kc.lifetime = 30 * 86400;
	kc.ops = &world_ops;
	kc.arg = &version;
	memset(&rp, 0, sizeof(rp));
	rp.idi = world_uri(WORLD_ALICE);
	rp.idkms = world_uri(WORLD_KMS);
	rp.psk = world_psk_alice;
	rp.psk_len = 16;
	rp.suite = *o->suite;
	rp.flags = o->flags;
	rp.ticket_prf = o->suite->prf;
	rp.nresp = o->carol ? 2 : 1;
	rp.resp[0] = world_uri(WORLD_BOB);
	rp.resp[1] = world_uri(WORLD_CAROL);
	rp.nkeys = o->nkeys;
	for (i = 0; i < o->nkeys; i++) {
		rp.key_type[i] = o->key_type[i];
		rp.key_len[i] = o->key_len[i];
	}
	memset(&t, 0, sizeof(t));
	if (o->mode3) {
		struct mikey_tpk tpk;

		memset(&tpk, 0, sizeof(tpk));
		tpk.idpsk.type = MIKEY_ID_BYTES;
		tpk.idpsk.data.p = (const uint8_t *)WORLD_IDPSK;
		tpk.idpsk.data.len = strlen(WORLD_IDPSK);
		memcpy(tpk.key, world_psk_alice, 16);
		tpk.key_len = 16;
		rp.start = clk;
		rp.end = clk + (86400ull << 32);
		MUST(mikey_i_ticket_make(&env, &rp, &tpk, &t));
	} else {
		MUST(mikey_i_request_init(&env, &rp, &rq, m[0], CAP, &l[0]));
		clk += 1ull << 32;
		MUST(mikey_kms_process(&env, &kc, m[0], l[0], m[1], CAP, &l[1],
		    &res));
		MUST(res.err);
		MUST(mikey_i_request_resp(&env, &rq, m[1], l[1], &t, &perr,
		    NULL));
		if (o->all) {
			name6(name, sizeof(name), o, 1, "request_init");
			put("msg", name, m[0], l[0]);
			name6(name, sizeof(name), o, 2, "request_resp");
			put("msg", name, m[1], l[1]);
		}
	}
	snprintf(name, sizeof(name), "tkt-%s", o->tag);
	put("ticket", name, t.payload, t.payload_len);
	if (o->td) {
		struct mikey_payload tk;

		MUST(mikey_payload_decode(MIKEY_PT_TICKET, t.payload,
		    t.payload_len, &tk, NULL));
		snprintf(name, sizeof(name), "td-%s", o->tag);
		put("ticket", name, tk.u.ticket.ticket_data.p,
		    tk.u.ticket.ticket_data.len);
	}

	memset(&tp, 0, sizeof(tp));
	tp.idi = world_uri(WORLD_ALICE);
	tp.idr = world_uri(WORLD_BOB);
	tp.suite = *o->suite;
	tp.ncs = 1;
	tp.cs[0].cs_id = 1;
	if (o->sp) {
		tp.cs[0].prot_type = MIKEY_PROT_SRTP;
		tp.cs[0].ps = (struct mikey_bytes){ ps, 1 };
		tp.cs[0].session_data = (struct mikey_bytes){ ssrc, 4 };
		tp.cs[0].spi = (struct mikey_bytes){ spi, 4 };
		tp.nsp = 1;
		tp.sp[0].prot_type = MIKEY_PROT_SRTP;
		tp.sp[0].params = (struct mikey_bytes){ spp, sizeof(spp) };
	} else
		tp.cs[0].prot_type = MIKEY_PROT_IMGATE_CMS;
	clk += 1ull << 32;
	MUST(mikey_i_transfer_init(&env, &t, &tp, &it, m[2], CAP, &l[2]));
	name6(name, sizeof(name), o, 3, "transfer_init");
	put("msg", name, m[2], l[2]);
	if (o->flags & MIKEY_TPF_I) {
		snprintf(name, sizeof(name), "%s-transfer_init", o->tag);
		put_tickets(name, m[2], l[2], 0);  /* with Initiator Data */
	}
	MUST(mikey_r_transfer_parse(&env, m[2], l[2], &x, NULL));
	if (!(o->flags & MIKEY_TPF_E)) {
		/* mode 2: the responder holds the TPK and opens the ticket */
		MUST(mikey_r_open_ticket(&x, world_ops_lookup, NULL, &keys));
		mikey_resolved_cleanup(&keys);
		mikey_ticket_cleanup(&t);
		return;
	}
	memset(&me, 0, sizeof(me));
	me.id = world_uri(WORLD_BOB);
	me.idkms = world_uri(WORLD_KMS);
	me.psk = world_psk_bob;
	me.psk_len = 16;
	me.suite = *o->suite;
	clk += 1ull << 32;
	MUST(mikey_r_resolve_init(&env, &x, &me, &rs, m[3], CAP, &l[3]));
	clk += 1ull << 32;
	MUST(mikey_kms_process(&env, &kc, m[3], l[3], m[4], CAP, &l[4],
	    &res));
	MUST(res.err);
	MUST(mikey_r_resolve_resp(&env, &rs, &x, m[4], l[4], &keys, &perr,
	    NULL));
	if (o->all) {
		name6(name, sizeof(name), o, 4, "resolve_init");
		put("msg", name, m[3], l[3]);
		name6(name, sizeof(name), o, 5, "resolve_resp");
		put("msg", name, m[4], l[4]);
	}
	if (o->flags & MIKEY_TPF_F) {
		clk += 1ull << 32;
		MUST(mikey_r_transfer_resp(&env, &x, &keys, rr, &rrl, m[5], CAP,
		    &l[5]));
		MUST(mikey_i_transfer_resp(&env, &t, &it, m[5], l[5], NULL));
		if (o->all) {
			name6(name, sizeof(name), o, 6, "transfer_resp");
			put("msg", name, m[5], l[5]);
		}
	}
	mikey_resolved_cleanup(&keys);
	mikey_ticket_cleanup(&t);
}

/* errors_ - KMS Error answers and a few Error messages */
static void
error_msgs(void)
{
	struct mikey_kms_conf kc;
	struct mikey_kms_result res;
	struct mikey_request_params rp;
	struct mikey_i_request rq;
	struct mikey_hdr h;
	uint8_t m[CAP], out[CAP], bad[16];
	size_t l, ol;
	uint32_t version = 1;

	clk = WORLD_NOW;
	memset(&kc, 0, sizeof(kc));
	kc.id = world_uri(WORLD_KMS);
	kc.lifetime = 30 * 86400;
	kc.ops = &world_ops;
	kc.arg = &version;
	memset(&rp, 0, sizeof(rp));
	rp.idi = world_uri(WORLD_ALICE);
	rp.idkms = world_uri(WORLD_KMS);
	memcpy(bad, world_psk_alice, 16);
	bad[0] ^= 1;
	rp.psk = bad;
	rp.psk_len = 16;
	rp.suite = mikey_suite_256;
	rp.flags = MIKEY_TPF_ONEWAY;
	rp.ticket_prf = MIKEY_PRF_HMAC_SHA256;
	rp.nresp = 1;
	rp.resp[0] = world_uri(WORLD_BOB);
	/* wrong PSK: Authentication failure */
	MUST(mikey_i_request_init(&env, &rp, &rq, m, CAP, &l));
	MUST(mikey_kms_process(&env, &kc, m, l, out, CAP, &ol, &res));
	put("msg", "error-kms-auth", out, ol);
	/* not a responder in the policy: not authorised (Unspecified) */
	rp.psk = world_psk_alice;
	rp.resp[0] = world_uri(WORLD_ALICE);
	rp.idi = world_uri(WORLD_BOB);
	MUST(mikey_i_request_init(&env, &rp, &rq, m, CAP, &l));
	put("msg", "request_init-refused", m, l);
	MUST(mikey_kms_process(&env, &kc, m, l, out, CAP, &ol, &res));
	put("msg", "error-kms-refused", out, ol);
	/* Error messages as mikey_error_msg() makes them */
	memset(&h, 0, sizeof(h));
	h.csb_id = 0x01020304;
	h.prf_func = MIKEY_PRF_HMAC_SHA256;
	MUST(mikey_error_msg(&env, &h, MIKEY_EN_TICKET, out, CAP, &ol));
	put("msg", "error-ticket", out, ol);
	MUST(mikey_error_msg(&env, &h, MIKEY_EN_TPPAR, out, CAP, &ol));
	put("msg", "error-tppar", out, ol);
}

int
main(int argc, char **argv)
{
#define F_SPEC	(MIKEY_TPF_D | MIKEY_TPF_E | MIKEY_TPF_F | MIKEY_TPF_G | \
	MIKEY_TPF_H | MIKEY_TPF_J | MIKEY_TPF_N | MIKEY_TPF_O)
	static const struct opts ex[] = {
		/* the six messages, F = 1 (as spec 11.3), both suites */
		{ .tag = "s128", .suite = &mikey_suite_128, .flags = F_SPEC,
		    .version = 1, .sp = 1, .all = 1, .td = 1 },
		{ .tag = "s256", .suite = &mikey_suite_256, .flags = F_SPEC,
		    .version = 2, .all = 1, .td = 1 },
		/* imgate's one-way profile (F = 0): no TRANSFER_RESP */
		{ .tag = "oneway128", .suite = &mikey_suite_128,
		    .flags = MIKEY_TPF_ONEWAY, .version = 1 },
		{ .tag = "oneway256", .suite = &mikey_suite_256,
		    .flags = MIKEY_TPF_ONEWAY, .version = 2, .all = 1 },
		/* key forking: two responders, Initiator Data, MPKr' */
		{ .tag = "fork256", .suite = &mikey_suite_256,
		    .flags = F_SPEC | MIKEY_TPF_I, .version = 1, .carol = 1,
		    .all = 1 },
		{ .tag = "fork128", .suite = &mikey_suite_128,
		    .flags = F_SPEC | MIKEY_TPF_I, .version = 2, .carol = 1 },
		/* mode 2: E = 0, the responder opens the ticket itself */
		{ .tag = "mode2", .suite = &mikey_suite_128,
		    .flags = MIKEY_TPF_ONEWAY & ~MIKEY_TPF_E, .version = 1 },
		/* mode 3: an initiator-made ticket named by IDRpsk */
		{ .tag = "mode3", .suite = &mikey_suite_128,
		    .flags = (MIKEY_TPF_ONEWAY & ~MIKEY_TPF_D) | MIKEY_TPF_L,
		    .mode3 = 1, .all = 1, .td = 1 },
		/* several desired keys with salts; unversioned TPK */
		{ .tag = "keys", .suite = &mikey_suite_128,
		    .flags = MIKEY_TPF_ONEWAY, .version = 0, .carol = 1,
		    .nkeys = 3, .key_type = { MIKEY_KEY_TGK_SALT,
		    MIKEY_KEY_TEK, MIKEY_KEY_GTGK }, .key_len = { 16, 32, 16 },
		    .all = 1, .td = 1 },
	};
	const char *top = getenv("top_srcdir");
	char datadir[1024], path[1024];
	size_t i;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s OUTDIR [DATADIR]\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	snprintf(datadir, sizeof(datadir), "%s/tests/data/mikey",
	    top ? top : ".");
	if (argc == 3)
		snprintf(datadir, sizeof(datadir), "%s", argv[2]);
	snprintf(path, sizeof(path), "%s/msg", outdir);
	mkdir(path, 0777);
	snprintf(path, sizeof(path), "%s/ticket", outdir);
	mkdir(path, 0777);
	from_hex(datadir);
	for (i = 0; i < sizeof(ex) / sizeof(ex[0]); i++)
		exchange(&ex[i]);
	error_msgs();
	printf("gen_corpus: %d files in %s/{msg,ticket}, %d errors\n", nfiles,
	    outdir, errors);
	return errors ? 1 : 0;
}
