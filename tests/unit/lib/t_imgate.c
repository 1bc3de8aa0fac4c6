/*
 * tests/unit/lib/t_imgate.c - libimgate wrap/unwrap against an in-process
 * KMS (TAP)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * The KMS is mikey_kms_process behind the transport callback, with a
 * tiny policy (users alice, bob, carol, dave; gw acts for
 * sip:*@example.com), sharing one fake clock with the library.  Cases:
 *
 *  1. the multipart codec: round trip, and what the strict parse refuses;
 *  2. round trip alice -> bob, both suites; the result's fields;
 *  3. steady state: 100 messages cost 1 request + 1 resolve;
 *  4. carol (no recipient) is refused by the KMS: 403;
 *  5. every flipped byte of the SIP body is refused, no plaintext, and
 *     the genuine body still opens afterwards;
 *  6. replay: the same body twice;
 *  7. deferred delivery: 200-day-old messages in order accepted by the
 *     modified replay cache, an older one after a full cache refused;
 *  8. the replay state survives a "restart" (save, new context, load);
 *  9. identity: alice cannot send as dave; gw (act_for) can; the
 *     differs-from-SIP-From flag;
 * 10. several recipients, KMS unreachable, error table;
 * 11. interop: openssl cms -decrypt opens the pkcs7 part with a TEK this
 *     test derives on its own from the TRANSFER_INIT (not the library's).
 * 12. the asynchronous mode: PENDING, coalescing by recipient set and by
 *     ticket, kms_done, retries that find the caches filled, the same
 *     results and refusals as the synchronous mode, transport failures,
 *     unknown ids, the bound on exchanges, free with exchanges under way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/imgate.h"
#include "mikey/mikey.h"
#include "smime/smime.h"
#include "tests/tap.h"

#define DAY	(86400LL * 1000000000LL)
#define SEC	1000000000LL

static const char *ALICE = "sip:alice@example.com";
static const char *BOB = "sip:bob@example.com";
static const char *CAROL = "sip:carol@example.com";
static const char *DAVE = "sip:dave@example.com";
static const char *GW = "sip:gw@example.com";
static const char *KMSID = "sip:kms@example.com";
static const char *URL = "http://kms.invalid/mikey";
static const char *TEXT = "text/plain; charset=utf-8";

/* ---- the fake clock (Unix ns), shared by the KMS and every context */

static int64_t clk_ns = 1780000000LL * SEC;

static int64_t
fake_ns(void *arg)
{
	(void)arg;
	return clk_ns;
}

static uint64_t
fake_ntp(void *arg)
{
	(void)arg;
	return mikey_ntp_from_unix(clk_ns / SEC, (uint32_t)(clk_ns % SEC));
}

/* ---- the KMS */

static uint8_t psk_of[5][16];
static const char **users[] = { &ALICE, &BOB, &CAROL, &DAVE, &GW };
static uint8_t tpk[32];
static struct mikey_id principal;	/* whose PSK verified the request */

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
	size_t i;

	(void)arg;
	for (i = 0; i < 5; i++)
		if (is(who, *users[i])) {
			memcpy(key, psk_of[i], 16);
			*len = 16;
			principal = *who;
			return 0;
		}
	return -1;
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

/* a user asks for itself; gw for anyone @example.com (act_for) */
static int
pol_req(void *arg, const struct mikey_id *requester, struct mikey_grant *g)
{
	const char *dom = "@example.com";
	size_t n = strlen(dom);

	(void)arg;
	(void)requester;
	if (principal.data.len == g->idi.data.len &&
	    memcmp(principal.data.p, g->idi.data.p, g->idi.data.len) == 0)
		return 0;
	if (is(&principal, GW) && g->idi.data.len > n &&
	    memcmp(g->idi.data.p + g->idi.data.len - n, dom, n) == 0)
		return 0;
	return -1;
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

static struct mikey_env kenv = { fake_ntp, NULL, NULL, NULL, 300 };
static struct mikey_kms_conf kc;

/* What one context's transport saw. */
struct tport {
	int	 calls;
	int	 down;		/* 1: the KMS is unreachable */
};

static int
kms_transport(void *arg, const char *url, const uint8_t *req, size_t len,
    uint8_t **resp, size_t *resp_len)
{
	struct tport *t = arg;
	struct mikey_kms_result res;
	uint8_t out[8192];
	size_t ol;

	(void)url;
	t->calls++;
	if (t->down)
		return -1;
	if (mikey_kms_process(&kenv, &kc, req, len, out, sizeof(out), &ol,
	    &res) != 0)
		return -1;
	if ((*resp = malloc(ol)) == NULL)
		return -1;
	memcpy(*resp, out, ol);
	*resp_len = ol;
	return 0;
}

/* ---- contexts */

struct party {
	struct imgate_ctx *ctx;
	struct tport t;
};

static int
psk_index(const char *id)
{
	int i;

	for (i = 0; i < 5; i++)
		if (strcmp(id, *users[i]) == 0)
			return i;
	return -1;
}

/* party_new - a context for id with opts (NULL: defaults + KMS id) */
static int
party_new(struct party *p, const char *id, struct imgate_opts *opts)
{
	struct imgate_opts o;
	int rc;

	memset(p, 0, sizeof(*p));
	if (opts == NULL) {
		imgate_opts_init(&o);
		opts = &o;
	}
	opts->kms_id = KMSID;
	rc = imgate_ctx_new(id, URL, psk_of[psk_index(id)], 16, opts,
	    &p->ctx);
	if (rc != 0)
		return rc;
	imgate_ctx_set_transport(p->ctx, kms_transport, &p->t);
	imgate_ctx_set_clock(p->ctx, fake_ns, NULL);
	return 0;
}

/* A wrapped message. */
struct wmsg {
	uint8_t	*body;
	size_t	 len;
	char	*ct;
};

static void
wmsg_free(struct wmsg *m)
{
	free(m->body);
	free(m->ct);
	memset(m, 0, sizeof(*m));
}

static int
wrap1(struct party *p, const char *from, const char *to, const char *text,
    struct wmsg *m)
{
	const char *rcpt[1] = { to };

	return imgate_wrap(p->ctx, from, rcpt, 1, TEXT,
	    (const uint8_t *)text, strlen(text), &m->body, &m->len, &m->ct);
}

/* ---- 1. the multipart codec */

static void
test_multipart(void)
{
	struct smime_mp_in in[2];
	struct smime_mp_body mp;
	uint8_t *out = NULL, bin[300];
	size_t len, i;
	char *ct = NULL, buf[4096];
	int rc;
	static const struct {
		const char *ct;
		const char *body;
		int want;
		const char *what;
	} bad[] = {
		{ "text/plain", "--b\r\n", SMIME_ERR_CONTENT_TYPE,
		    "another outer type" },
		{ "multipart/mixed", "--b\r\n", SMIME_ERR_MIME, "no boundary" },
		{ "multipart/mixed; boundary=b", "--b\r\nContent-Type: "
		    "application/mikey\r\n\r\nX\r\n--b\r\nContent-Type: "
		    "application/pkcs7-mime\r\n\r\nY\r\n", SMIME_ERR_MIME,
		    "no close delimiter" },
		{ "multipart/mixed; boundary=b", "--b\r\nContent-Type: "
		    "application/mikey\r\n\r\nX\r\n--b--\r\n",
		    SMIME_ERR_CONTENT_TYPE, "no pkcs7 part" },
		{ "multipart/mixed; boundary=b", "--b\r\nContent-Type: "
		    "application/mikey\r\n\r\nX\r\n--b\r\nContent-Type: "
		    "application/mikey\r\n\r\nY\r\n--b--\r\n",
		    SMIME_ERR_CONTENT_TYPE, "two mikey parts" },
		{ "multipart/mixed; boundary=b", "--b\r\nContent-Type: "
		    "application/mikey\r\n\r\nX\r\n--b\r\nContent-Type: "
		    "text/plain\r\n\r\nY\r\n--b--\r\n", SMIME_ERR_CONTENT_TYPE,
		    "a text/plain part" },
		{ "multipart/mixed; boundary=b", "--b\r\nContent-Type: "
		    "application/mikey\r\nContent-Transfer-Encoding: base64"
		    "\r\n\r\nX\r\n--b\r\nContent-Type: application/pkcs7-mime"
		    "\r\n\r\nY\r\n--b--\r\n", SMIME_ERR_MIME, "base64 coding" },
		{ "multipart/mixed; boundary=b", "--b\r\nContent-Type: "
		    "application/mikey\r\n\r\nX\r\n--b\r\nContent-Type: "
		    "application/pkcs7-mime\r\n\r\nY\r\n--b\r\nContent-Type: "
		    "application/mikey\r\n\r\nZ\r\n--b--\r\n",
		    SMIME_ERR_CONTENT_TYPE, "a third part" },
		{ "multipart/mixed; boundary=b", "--b\r\nContent-Type: "
		    "application/mikey\r\n\r\nX\r\n--b\r\nContent-Type: "
		    "application/pkcs7-mime\r\n\r\nY\r\n--b--\r\nepilogue",
		    SMIME_ERR_MIME, "an epilogue" },
		{ "multipart/mixed; boundary=b", "--b\r\nContent-Type: "
		    "application/mikey\n\nX\r\n--b\r\nContent-Type: "
		    "application/pkcs7-mime\r\n\r\nY\r\n--b--\r\n",
		    SMIME_ERR_MIME, "bare LF in a header block" },
		{ "multipart/mixed; boundary=b", "--b\r\nX-Note: caf\xc3\xa9"
		    "\r\nContent-Type: application/mikey\r\n\r\nX\r\n--b\r\n"
		    "Content-Type: application/pkcs7-mime\r\n\r\nY\r\n--b--\r\n",
		    SMIME_ERR_MIME, "8-bit header bytes" },
		{ "multipart/mixed; boundary=b", "--b\r\n\r\nX\r\n--b\r\n"
		    "Content-Type: application/pkcs7-mime\r\n\r\nY\r\n--b--\r\n",
		    SMIME_ERR_MIME, "a part without headers" },
	};

	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)i;	/* CR, LF, '-' and NUL included */
	in[0].content_type = SMIME_CT_MIKEY;
	in[0].disposition = SMIME_DISP_MIKEY;
	in[0].body = bin;
	in[0].len = sizeof(bin);
	in[1].content_type = SMIME_CT_AUTH_ENVELOPED;
	in[1].disposition = SMIME_DISP_P7M;
	in[1].body = bin + 7;
	in[1].len = 0;
	rc = smime_multipart_build(in, 2, "sipsec-5Qm2ZtVb8rHk", 0, &out,
	    &len, &ct);
	is_int(rc, 0, "multipart: build with a given boundary");
	ok(rc == 0 && strcmp(ct, "multipart/mixed; boundary=\""
	    "sipsec-5Qm2ZtVb8rHk\"") == 0, "multipart: Content-Type names the "
	    "boundary");
	snprintf(buf, sizeof(buf), "--sipsec-5Qm2ZtVb8rHk\r\nContent-Type: "
	    "application/mikey\r\nContent-Transfer-Encoding: binary\r\n"
	    "Content-Disposition: attachment; handling=required\r\n\r\n");
	ok(rc == 0 && len > strlen(buf) && memcmp(out, buf, strlen(buf)) == 0,
	    "multipart: part 1 headers as spec/smime-sip.md 6.2");
	ok(rc == 0 && len > 27 && memcmp(out + len - 27,
	    "\r\n--sipsec-5Qm2ZtVb8rHk--\r\n", 27) == 0,
	    "multipart: ends with the close delimiter and CRLF");
	rc = rc ? rc : smime_multipart_parse(ct, out, len, 0, &mp);
	is_int(rc, 0, "multipart: parse what was built");
	is_mem(mp.mikey.body, mp.mikey.len, bin, sizeof(bin),
	    "multipart: binary part 1 comes back byte for byte");
	ok(rc == 0 && mp.cms.len == 0 && strcmp(mp.cms.content_type,
	    SMIME_CT_AUTH_ENVELOPED) == 0, "multipart: empty part 2 and its "
	    "type");
	free(out);
	free(ct);
	out = NULL;
	ct = NULL;
	rc = smime_multipart_build(in, 2, NULL, 0, &out, &len, &ct);
	ok(rc == 0 && strncmp(ct, "multipart/mixed; boundary=\"imgate-", 34)
	    == 0, "multipart: random boundary");
	free(out);
	free(ct);
	in[1].body = (const uint8_t *)"x\r\n--b\r\n";
	in[1].len = 8;
	ok(smime_multipart_build(in, 2, "b", 0, &out, &len, &ct) ==
	    SMIME_ERR_INVAL, "multipart: a boundary found in a part is "
	    "refused");

	/* accepted variations: preamble, padding, folding, parameters */
	snprintf(buf, sizeof(buf), "preamble\r\n--b  \r\nContent-Type: "
	    "application/mikey;\r\n version=1\r\n\r\nX\r\n--b\r\n"
	    "Content-Type: application/x-pkcs7-mime; smime-type="
	    "\"authEnveloped-data\"\r\nX-Other: y\r\n\r\nYY\r\n--b--");
	rc = smime_multipart_parse("Multipart/Mixed; boundary=\"b\"",
	    (const uint8_t *)buf, strlen(buf), 0, &mp);
	ok(rc == 0 && mp.mikey.len == 1 && mp.cms.len == 2 &&
	    strcmp(mp.mikey.content_type, "application/mikey; version=1") ==
	    0, "multipart: preamble, padding, folded header, x-pkcs7-mime "
	    "(rc %d)", rc);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = smime_multipart_parse(bad[i].ct,
		    (const uint8_t *)bad[i].body, strlen(bad[i].body), 0, &mp);
		is_int(rc, bad[i].want, "multipart: refuses %s", bad[i].what);
	}
	ok(smime_multipart_parse("multipart/mixed; boundary=b",
	    (const uint8_t *)"x", 90000, 0, &mp) == SMIME_ERR_TOO_BIG,
	    "multipart: size checked before anything is read");
}

/* ---- 2, 3: round trip, steady state */

static void
test_round_trip(enum imgate_suite suite, const char *name)
{
	struct imgate_opts o;
	struct party a, b;
	struct wmsg m;
	struct imgate_result *r = NULL;
	int rc;

	imgate_opts_init(&o);
	o.suite = suite;
	if (party_new(&a, ALICE, &o) != 0 || party_new(&b, BOB, &o) != 0) {
		ok(0, "%s: contexts", name);
		return;
	}
	rc = wrap1(&a, ALICE, BOB, "Meet at gate 12 at ten.", &m);
	is_int(rc, 0, "%s: alice wraps for bob", name);
	ok(rc == 0 && strncmp(m.ct, "multipart/mixed; boundary=", 26) == 0,
	    "%s: the body is multipart/mixed", name);
	if (rc == 0) {
		struct imgate_info in;
		int rc2;

		rc2 = imgate_inspect(b.ctx, m.ct, m.body, m.len, &in);
		ok(rc2 == 0 && strcmp(in.sender, ALICE) == 0 &&
		    strcmp(in.addressed_to, BOB) == 0 && in.sent == clk_ns /
		    SEC && in.mikey_t != 0 && in.ticket_end > in.sent &&
		    b.t.calls == 0, "%s: inspect before any key: IDRi, IDRr, "
		    "T, ticket end, no KMS call", name);
		rc2 = imgate_inspect(b.ctx, m.ct, m.body, 20, &in);
		ok(rc2 != 0 && rc2 != IMGATE_ERR_PENDING, "%s: inspect of a "
		    "cut body fails (%s)", name, imgate_strerror(rc2));
	}
	rc = rc ? rc : imgate_unwrap(b.ctx, ALICE, m.ct, m.body, m.len, &r);
	is_int(rc, 0, "%s: bob unwraps (%s)", name,
	    imgate_last_detail(b.ctx));
	if (rc == 0) {
		is_mem(r->body, r->body_len, "Meet at gate 12 at ten.", 23,
		    "%s: same body", name);
		ok(strcmp(r->content_type, TEXT) == 0, "%s: same content "
		    "type", name);
		ok(strcmp(r->sender, ALICE) == 0 && r->signer == NULL &&
		    !r->differs_from_sip_from, "%s: verified sender alice, "
		    "unsigned, same as SIP From", name);
		ok(strcmp(r->cpim_from, ALICE) == 0 && r->nto == 1 &&
		    strcmp(r->to[0], BOB) == 0 && r->ncc == 0 &&
		    r->datetime == clk_ns / SEC, "%s: CPIM From, To, DateTime",
		    name);
		ok(r->addressed_to != NULL && strcmp(r->addressed_to, BOB) == 0 &&
		    r->sent == clk_ns / SEC && r->ticket_end > r->sent &&
		    r->kms_called == 1, "%s: IDRr, T, ticket end, resolved",
		    name);
	}
	imgate_result_free(r);
	ok(a.t.calls == 1 && b.t.calls == 1, "%s: one request, one resolve "
	    "(%d, %d)", name, a.t.calls, b.t.calls);
	wmsg_free(&m);
	imgate_ctx_free(a.ctx);
	imgate_ctx_free(b.ctx);
}

static void
test_steady_state(void)
{
	struct party a, b;
	struct wmsg m;
	struct imgate_result *r;
	uint64_t rq, rs;
	char text[64];
	int i, fails = 0, rc;

	if (party_new(&a, ALICE, NULL) != 0 || party_new(&b, BOB, NULL) != 0)
		return;
	for (i = 0; i < 100; i++) {
		snprintf(text, sizeof(text), "message %d", i);
		clk_ns += SEC / 10;
		rc = wrap1(&a, ALICE, BOB, text, &m);
		r = NULL;
		rc = rc ? rc : imgate_unwrap(b.ctx, ALICE, m.ct, m.body, m.len,
		    &r);
		if (rc != 0 || r->body_len != strlen(text) ||
		    memcmp(r->body, text, r->body_len) != 0) {
			if (fails++ == 0)
				printf("# message %d: %s (%s)\n", i,
				    imgate_strerror(rc),
				    imgate_last_detail(b.ctx));
		}
		imgate_result_free(r);
		wmsg_free(&m);
	}
	is_int(fails, 0, "steady state: 100 messages round trip");
	is_int(a.t.calls + b.t.calls, 2, "steady state: 100 messages, 2 KMS "
	    "calls (1 request + 1 resolve)");
	imgate_ctx_kms_calls(a.ctx, &rq, NULL);
	imgate_ctx_kms_calls(b.ctx, NULL, &rs);
	ok(rq == 1 && rs == 1, "steady state: the context counts them too");
	imgate_ctx_free(a.ctx);
	imgate_ctx_free(b.ctx);
}

/* ---- 4, 5, 6: carol, flipped bytes, replay */

static void
test_refusals(void)
{
	struct party a, b, c;
	struct wmsg m;
	struct imgate_result *r = NULL;
	uint8_t *flip;
	size_t i, fails = 0, replays = 0, by[IMGATE_ERR_LAST - IMGATE_ERR_BASE];
	int rc, first = 0;

	if (party_new(&a, ALICE, NULL) != 0 || party_new(&b, BOB, NULL) != 0 ||
	    party_new(&c, CAROL, NULL) != 0)
		return;
	if (wrap1(&a, ALICE, BOB, "for bob only", &m) != 0) {
		ok(0, "wrap");
		return;
	}
	rc = imgate_unwrap(c.ctx, ALICE, m.ct, m.body, m.len, &r);
	is_int(rc, IMGATE_ERR_NOT_AUTHORISED, "carol (not a recipient): "
	    "refused by the KMS (%s)", imgate_last_detail(c.ctx));
	ok(r == NULL && imgate_sip_status(rc) == 403, "carol: no result, SIP "
	    "403");

	/* every byte flipped (all 8 bits: a header byte is no longer
	 * ASCII); bob never opened the genuine body, so a flip that were
	 * accepted could not hide behind the replay cache */
	if ((flip = malloc(m.len)) == NULL)
		return;
	memset(by, 0, sizeof(by));
	for (i = 0; i < m.len; i++) {
		memcpy(flip, m.body, m.len);
		flip[i] ^= 0xff;
		r = NULL;
		rc = imgate_unwrap(b.ctx, ALICE, m.ct, flip, m.len, &r);
		if (rc == 0 || r != NULL) {
			if (fails++ == 0)
				first = (int)i;
			imgate_result_free(r);
		}
		if (rc == IMGATE_ERR_REPLAY)
			replays++;
		if (rc >= IMGATE_ERR_BASE && rc < IMGATE_ERR_LAST)
			by[rc - IMGATE_ERR_BASE]++;
	}
	printf("# flipped bytes by outcome:");
	for (i = 0; i < IMGATE_ERR_LAST - IMGATE_ERR_BASE; i++)
		if (by[i] > 0)
			printf(" %d:%zu", imgate_sip_status((int)(IMGATE_ERR_BASE +
			    i)), by[i]);
	printf("\n");
	ok(fails == 0, "every one of %zu flipped bytes refused, no plaintext "
	    "(%zu accepted, first at %d)", m.len, fails, first);
	is_int(replays, 0, "... none of them as a replay");
	free(flip);
	r = NULL;
	rc = imgate_unwrap(b.ctx, ALICE, m.ct, m.body, m.len, &r);
	is_int(rc, 0, "the genuine body still opens after the flips (%s)",
	    imgate_last_detail(b.ctx));
	imgate_result_free(r);
	r = NULL;
	rc = imgate_unwrap(b.ctx, ALICE, m.ct, m.body, m.len, &r);
	is_int(rc, IMGATE_ERR_REPLAY, "the same body again: replay");
	ok(r == NULL && imgate_sip_status(rc) == 403 &&
	    imgate_last_cause(b.ctx) == MIKEY_ERR_REPLAY, "replay: 403, cause "
	    "MIKEY_ERR_REPLAY");

	/* a wrong outer type and a cut body */
	rc = imgate_unwrap(b.ctx, ALICE, "application/pkcs7-mime", m.body,
	    m.len, &r);
	ok(rc == IMGATE_ERR_CONTENT_TYPE && imgate_sip_status(rc) == 415,
	    "application/pkcs7-mime alone: 415");
	rc = imgate_unwrap(b.ctx, ALICE, m.ct, m.body, m.len / 2, &r);
	ok(rc == IMGATE_ERR_MALFORMED && imgate_sip_status(rc) == 400,
	    "a body cut in half: 400");
	wmsg_free(&m);
	imgate_ctx_free(a.ctx);
	imgate_ctx_free(b.ctx);
	imgate_ctx_free(c.ctx);
}

/* ---- 7, 8: deferred delivery and the replay state */

static void
test_deferred(void)
{
	struct imgate_opts oa, ob;
	struct party a, b, b2;
	struct wmsg m[6];
	struct imgate_result *r = NULL;
	uint8_t *img = NULL;
	size_t img_len = 0;
	int64_t t0;
	int i, rc, good = 0;
	char text[32];

	imgate_opts_init(&oa);
	oa.ticket_lifetime = 300 * 86400;
	imgate_opts_init(&ob);
	ob.replay_entries = 4;
	if (party_new(&a, ALICE, &oa) != 0 || party_new(&b, BOB, &ob) != 0)
		return;
	t0 = clk_ns;
	for (i = 0; i < 6; i++) {
		clk_ns = t0 + i * SEC;
		snprintf(text, sizeof(text), "stored %d", i);
		if (wrap1(&a, ALICE, BOB, text, &m[i]) != 0) {
			ok(0, "wrap %d: %s", i, imgate_last_detail(a.ctx));
			return;
		}
	}
	is_int(a.t.calls, 1, "deferred: six messages, one ticket (300 days)");
	clk_ns = t0 + 200 * DAY;
	for (i = 1; i < 6; i++) {
		r = NULL;
		rc = imgate_unwrap(b.ctx, ALICE, m[i].ct, m[i].body, m[i].len,
		    &r);
		if (rc == 0 && r->sent == t0 / SEC + i)
			good++;
		else
			printf("# message %d: %s (%s)\n", i,
			    imgate_strerror(rc), imgate_last_detail(b.ctx));
		imgate_result_free(r);
	}
	is_int(good, 5, "deferred: 200-day-old messages delivered oldest "
	    "first all accepted (cache of 4)");
	r = NULL;
	rc = imgate_unwrap(b.ctx, ALICE, m[0].ct, m[0].body, m[0].len, &r);
	ok(rc == IMGATE_ERR_TOO_OLD && imgate_sip_status(rc) == 403,
	    "deferred: an older one after the cache filled: refused (%s)",
	    imgate_strerror(rc));

	/* restart: the state goes, the replay comes back, and is refused */
	rc = imgate_ctx_save_replay(b.ctx, &img, &img_len);
	is_int(rc, 0, "replay state: saved (%zu bytes)", img_len);
	imgate_ctx_free(b.ctx);
	if (party_new(&b2, BOB, &ob) != 0)
		return;
	rc = imgate_ctx_load_replay(b2.ctx, img, img_len);
	is_int(rc, 0, "replay state: loaded into a new context");
	r = NULL;
	rc = imgate_unwrap(b2.ctx, ALICE, m[5].ct, m[5].body, m[5].len, &r);
	is_int(rc, IMGATE_ERR_REPLAY, "replay state: a message seen before "
	    "the restart is still a replay");
	img[img_len / 2] ^= 1;
	rc = imgate_ctx_load_replay(b2.ctx, img, img_len);
	is_int(rc, IMGATE_ERR_MALFORMED, "replay state: a damaged image is "
	    "refused");
	free(img);
	imgate_ctx_free(b2.ctx);
	/* the ticket ends at t0 + 300 days */
	if (party_new(&b2, BOB, NULL) != 0)
		return;
	clk_ns = t0 + 301 * DAY;
	rc = imgate_unwrap(b2.ctx, ALICE, m[1].ct, m[1].body, m[1].len, &r);
	is_int(rc, IMGATE_ERR_EXPIRED, "a message whose ticket has ended: "
	    "refused without asking the KMS");
	is_int(b2.t.calls, 0, "... no KMS call");
	imgate_ctx_free(b2.ctx);
	for (i = 0; i < 6; i++)
		wmsg_free(&m[i]);
	imgate_ctx_free(a.ctx);
	clk_ns = t0 + 302 * DAY;
}

/* ---- 9: identities */

static void
test_identity(void)
{
	struct party a, b, g;
	struct wmsg m;
	struct imgate_result *r = NULL;
	int rc;

	if (party_new(&a, ALICE, NULL) != 0 || party_new(&b, BOB, NULL) != 0 ||
	    party_new(&g, GW, NULL) != 0)
		return;
	rc = wrap1(&a, DAVE, BOB, "I am dave", &m);
	ok(rc == IMGATE_ERR_NOT_AUTHORISED && imgate_sip_status(rc) == 403,
	    "alice wrapping as dave: the KMS refuses (%s)",
	    imgate_last_detail(a.ctx));
	rc = wrap1(&g, ALICE, BOB, "via the gateway", &m);
	is_int(rc, 0, "gw wraps as alice (act_for)");
	rc = rc ? rc : imgate_unwrap(b.ctx, ALICE, m.ct, m.body, m.len, &r);
	ok(rc == 0 && strcmp(r->sender, ALICE) == 0 &&
	    !r->differs_from_sip_from, "bob: verified sender alice");
	imgate_result_free(r);
	wmsg_free(&m);

	if (wrap1(&a, ALICE, BOB, "who am I", &m) != 0)
		return;
	r = NULL;
	rc = imgate_unwrap(b.ctx, "sip:mallory@example.com", m.ct, m.body,
	    m.len, &r);
	ok(rc == 0 && r->differs_from_sip_from && strcmp(r->sender, ALICE) ==
	    0, "SIP From mallory: delivered, sender alice, flagged as "
	    "different");
	imgate_result_free(r);
	wmsg_free(&m);
	if (wrap1(&a, ALICE, BOB, "case", &m) != 0)
		return;
	r = NULL;
	rc = imgate_unwrap(b.ctx, "sip:alice@EXAMPLE.COM", m.ct, m.body,
	    m.len, &r);
	ok(rc == 0 && !r->differs_from_sip_from, "SIP From with the host in "
	    "upper case: the same AoR");
	imgate_result_free(r);
	wmsg_free(&m);
	imgate_ctx_free(a.ctx);
	imgate_ctx_free(b.ctx);
	imgate_ctx_free(g.ctx);
}

/* ---- 10: several recipients, KMS down, errors */

static void
test_misc(void)
{
	const char *rcpt[3] = { DAVE, BOB, BOB };
	struct party a, b, d, c;
	struct wmsg m;
	struct imgate_result *r = NULL;
	int rc, i, j, uniq;

	if (party_new(&a, ALICE, NULL) != 0 || party_new(&b, BOB, NULL) != 0 ||
	    party_new(&d, DAVE, NULL) != 0 || party_new(&c, CAROL, NULL) != 0)
		return;
	rc = imgate_wrap(a.ctx, ALICE, rcpt, 3, TEXT, (const uint8_t *)"all",
	    3, &m.body, &m.len, &m.ct);
	is_int(rc, 0, "two recipients (one named twice): wrap");
	rc = rc ? rc : imgate_unwrap(b.ctx, ALICE, m.ct, m.body, m.len, &r);
	ok(rc == 0 && r->addressed_to == NULL && r->nto == 3, "bob opens it; "
	    "no IDRr, CPIM To lists all");
	imgate_result_free(r);
	r = NULL;
	rc = imgate_unwrap(d.ctx, ALICE, m.ct, m.body, m.len, &r);
	is_int(rc, 0, "dave opens the same body");
	imgate_result_free(r);
	rc = imgate_unwrap(c.ctx, ALICE, m.ct, m.body, m.len, &r);
	is_int(rc, IMGATE_ERR_NOT_AUTHORISED, "carol does not");
	wmsg_free(&m);
	rcpt[0] = BOB;
	rcpt[1] = DAVE;
	rc = imgate_wrap(a.ctx, ALICE, rcpt, 2, TEXT, (const uint8_t *)"x", 1,
	    &m.body, &m.len, &m.ct);
	ok(rc == 0 && a.t.calls == 1, "the same set in another order: the "
	    "cached ticket");
	wmsg_free(&m);

	/* the KMS is down: 503 */
	a.t.down = 1;
	rc = wrap1(&a, ALICE, CAROL, "x", &m);
	ok(rc == IMGATE_ERR_KMS_UNAVAILABLE && imgate_sip_status(rc) == 503,
	    "KMS unreachable: 503");
	a.t.down = 0;
	rc = imgate_wrap(a.ctx, ALICE, rcpt, 0, TEXT, (const uint8_t *)"x", 1,
	    &m.body, &m.len, &m.ct);
	is_int(rc, IMGATE_ERR_INVAL, "no recipient: invalid");
	{
		uint8_t *big = calloc(1, IMGATE_DEFAULT_MAX_BODY + 1);

		rc = imgate_wrap(a.ctx, ALICE, rcpt, 1, TEXT, big,
		    IMGATE_DEFAULT_MAX_BODY + 1, &m.body, &m.len, &m.ct);
		ok(rc == IMGATE_ERR_TOO_BIG && imgate_sip_status(rc) == 413,
		    "body over max_body: 413");
		free(big);
	}
	/* every code has its own text and a status */
	uniq = 1;
	for (i = IMGATE_ERR_BASE; i < IMGATE_ERR_LAST; i++)
		for (j = i + 1; j < IMGATE_ERR_LAST; j++)
			if (strcmp(imgate_strerror(i), imgate_strerror(j)) == 0)
				uniq = 0;
	ok(uniq && imgate_sip_status(IMGATE_ERR_UNDECIPHERABLE) == 493 &&
	    imgate_sip_status(IMGATE_ERR_CONTENT_TYPE) == 415 &&
	    imgate_sip_status(0) == 200, "error table: distinct texts, SIP "
	    "codes");
	{
		struct imgate_ctx *x = NULL;

		ok(imgate_ctx_new("alice", URL, psk_of[0], 16, NULL, &x) ==
		    IMGATE_ERR_INVAL && imgate_ctx_new(ALICE, "ftp://x", psk_of[0],
		    16, NULL, &x) == IMGATE_ERR_INVAL && imgate_ctx_new(ALICE,
		    URL, psk_of[0], 8, NULL, &x) == IMGATE_ERR_INVAL && x == NULL,
		    "ctx_new refuses a bad identity, URL or PSK");
	}
	imgate_ctx_free(a.ctx);
	imgate_ctx_free(b.ctx);
	imgate_ctx_free(c.ctx);
	imgate_ctx_free(d.ctx);
}

/* ---- 11: interop with openssl cms */

/* hexs - bytes as hex into out */
static void
hexs(const uint8_t *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void
test_interop(void)
{
	struct party a;
	struct wmsg m;
	struct smime_mp_body mp;
	struct mikey_r_transfer x;
	struct mikey_cred me;
	struct mikey_r_resolve rs;
	struct mikey_resolved keys;
	struct mikey_kms_result res;
	uint8_t req[8192], resp[8192], tek[16], kid[5], out[4096];
	char dir[] = "/tmp/t_imgate.XXXXXX", cmd[1024], th[40], kh[12];
	size_t rl, ql, n;
	int rc, perr;
	FILE *f;

	if (system("openssl version >/dev/null 2>&1") != 0) {
		ok(1, "# SKIP openssl not installed");
		return;
	}
	if (party_new(&a, ALICE, NULL) != 0 ||
	    wrap1(&a, ALICE, BOB, "interop", &m) != 0 ||
	    smime_multipart_parse(m.ct, m.body, m.len, 0, &mp) != 0) {
		ok(0, "interop: wrap");
		return;
	}
	/* bob's TEK, derived here with mikey/ alone */
	memset(&me, 0, sizeof(me));
	me.id.type = MIKEY_ID_URI;
	me.id.data.p = (const uint8_t *)BOB;
	me.id.data.len = strlen(BOB);
	me.psk = psk_of[1];
	me.psk_len = 16;
	me.suite = mikey_suite_256;
	rc = mikey_r_transfer_parse(&kenv, mp.mikey.body, mp.mikey.len, &x,
	    NULL);
	rc = rc ? rc : mikey_r_resolve_init(&kenv, &x, &me, &rs, req,
	    sizeof(req), &ql);
	rc = rc ? rc : mikey_kms_process(&kenv, &kc, req, ql, resp,
	    sizeof(resp), &rl, &res);
	rc = rc ? rc : mikey_r_resolve_resp(&kenv, &rs, &x, resp, rl, &keys,
	    &perr, NULL);
	rc = rc ? rc : mikey_r_transfer_tek(&x, &keys, NULL, 1, tek, 16);
	is_int(rc, 0, "interop: TEK derived independently from the "
	    "TRANSFER_INIT");
	kid[0] = (uint8_t)(x.msg.hdr.csb_id >> 24);
	kid[1] = (uint8_t)(x.msg.hdr.csb_id >> 16);
	kid[2] = (uint8_t)(x.msg.hdr.csb_id >> 8);
	kid[3] = (uint8_t)x.msg.hdr.csb_id;
	kid[4] = 1;
	hexs(tek, 16, th);
	hexs(kid, 5, kh);
	if (mkdtemp(dir) == NULL)
		return;
	snprintf(cmd, sizeof(cmd), "%s/p7m.der", dir);
	if ((f = fopen(cmd, "wb")) == NULL)
		return;
	fwrite(mp.cms.body, 1, mp.cms.len, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "openssl cms -decrypt -binary -inform DER "
	    "-in %s/p7m.der -secretkey %s -secretkeyid %s -out %s/ent "
	    "2>/dev/null", dir, th, kh, dir);
	rc = system(cmd);
	is_int(rc, 0, "interop: openssl cms -decrypt -secretkey TEK "
	    "-secretkeyid CSB||CS opens the pkcs7 part");
	snprintf(cmd, sizeof(cmd), "%s/ent", dir);
	n = 0;
	if ((f = fopen(cmd, "rb")) != NULL) {
		n = fread(out, 1, sizeof(out) - 1, f);
		fclose(f);
	}
	out[n] = '\0';
	ok(n > 0 && strncmp((char *)out, "Content-Type: message/cpim\r\n", 28)
	    == 0 && strstr((char *)out, "From: <sip:alice@example.com>") !=
	    NULL && strstr((char *)out, "\r\n\r\ninterop") != NULL,
	    "interop: the plaintext is the CPIM entity with the body");
	snprintf(cmd, sizeof(cmd), "%s/p7m.der", dir);
	unlink(cmd);
	snprintf(cmd, sizeof(cmd), "%s/ent", dir);
	unlink(cmd);
	rmdir(dir);
	mikey_resolved_cleanup(&keys);
	mikey_r_resolve_cleanup(&rs);
	wmsg_free(&m);
	imgate_ctx_free(a.ctx);
}

/* ---- 12: the asynchronous mode */

#define AQ_KEEP	8		/* requests kept for answering */

/* What the asynchronous transport was given. */
struct aq {
	int	 started;
	int	 refuse;	/* 1: the callback cannot start */
	size_t	 n;
	uint64_t id[AQ_KEEP];
	uint8_t	*req[AQ_KEEP];
	size_t	 len[AQ_KEEP];
};

static int
kms_async(void *arg, uint64_t id, const char *url, const uint8_t *req,
    size_t len)
{
	struct aq *q = arg;

	(void)url;
	if (q->refuse)
		return -1;
	q->started++;
	if (q->n == AQ_KEEP)
		return 0;	/* started, never answered */
	if ((q->req[q->n] = malloc(len)) == NULL)
		return -1;
	memcpy(q->req[q->n], req, len);
	q->id[q->n] = id;
	q->len[q->n++] = len;
	return 0;
}

static void
aq_drop(struct aq *q)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		free(q->req[i]);
	q->n = 0;
}

/*
 * aq_answer - the in-process KMS's answer to the oldest request kept,
 *	given to imgate_kms_done (ok 0: as a transport failure); its code.
 */
static int
aq_answer(struct imgate_ctx *ctx, struct aq *q, int ok)
{
	struct mikey_kms_result res;
	uint8_t out[8192];
	size_t ol = 0;
	uint64_t id;
	int rc;

	if (q->n == 0)
		return -1;
	id = q->id[0];
	if (ok && mikey_kms_process(&kenv, &kc, q->req[0], q->len[0], out,
	    sizeof(out), &ol, &res) != 0)
		ok = 0;
	rc = imgate_kms_done(ctx, id, ok, ok ? out : NULL, ok ? ol : 0);
	free(q->req[0]);
	q->n--;
	memmove(q->id, q->id + 1, q->n * sizeof(q->id[0]));
	memmove(q->req, q->req + 1, q->n * sizeof(q->req[0]));
	memmove(q->len, q->len + 1, q->n * sizeof(q->len[0]));
	return rc;
}

/* same_result - two unwrap results say the same */
static int
same_result(const struct imgate_result *x, const struct imgate_result *y)
{
	size_t i;

	if (x->body_len != y->body_len || memcmp(x->body, y->body,
	    x->body_len) != 0 || strcmp(x->content_type, y->content_type) !=
	    0 || strcmp(x->sender, y->sender) != 0 || (x->signer == NULL) !=
	    (y->signer == NULL) || strcmp(x->cpim_from, y->cpim_from) != 0 ||
	    x->nto != y->nto || x->ncc != y->ncc || x->datetime !=
	    y->datetime || x->sent != y->sent || x->ticket_end !=
	    y->ticket_end || x->differs_from_sip_from !=
	    y->differs_from_sip_from || (x->addressed_to == NULL) !=
	    (y->addressed_to == NULL) || (x->addressed_to != NULL &&
	    strcmp(x->addressed_to, y->addressed_to) != 0) ||
	    x->kms_called != y->kms_called)
		return 0;
	for (i = 0; i < x->nto; i++)
		if (strcmp(x->to[i], y->to[i]) != 0)
			return 0;
	return 1;
}

static void
test_async(void)
{
	const char *rcpt[2] = { BOB, DAVE };
	struct imgate_opts o;
	struct party a, b, bs, c, cs, g;
	struct aq qa, qb, qc, qg;
	struct wmsg m1, m2, m3;
	struct imgate_result *r1 = NULL, *r2 = NULL, *rs = NULL;
	uint8_t *img0 = NULL, *img1 = NULL;
	size_t img0_len = 0, img1_len = 0;
	uint64_t id1, id2, rq, rsv;
	char who[64];
	int rc, rc2, i, fails;

	memset(&qa, 0, sizeof(qa));
	memset(&qb, 0, sizeof(qb));
	memset(&qc, 0, sizeof(qc));
	memset(&qg, 0, sizeof(qg));
	if (party_new(&a, ALICE, NULL) != 0 || party_new(&b, BOB, NULL) != 0 ||
	    party_new(&bs, BOB, NULL) != 0 || party_new(&c, CAROL, NULL) !=
	    0 || party_new(&cs, CAROL, NULL) != 0) {
		ok(0, "async: contexts");
		return;
	}
	imgate_ctx_set_async(a.ctx, kms_async, &qa);
	imgate_ctx_set_async(b.ctx, kms_async, &qb);
	imgate_ctx_set_async(c.ctx, kms_async, &qc);
	ok(imgate_sip_status(IMGATE_ERR_PENDING) == 100 &&
	    strcmp(imgate_strerror(IMGATE_ERR_PENDING), "waiting for the KMS")
	    == 0, "async: PENDING is SIP 100, \"waiting for the KMS\"");

	/* wrap: one exchange for two wraps to the same recipient set */
	memset(&m1, 0, sizeof(m1));
	memset(&m2, 0, sizeof(m2));
	memset(&m3, 0, sizeof(m3));
	rc = wrap1(&a, ALICE, BOB, "first", &m1);
	id1 = imgate_pending_id(a.ctx);
	ok(rc == IMGATE_ERR_PENDING && id1 != 0 && m1.body == NULL &&
	    qa.started == 1 && qa.n == 1 && qa.id[0] == id1 &&
	    imgate_ctx_pending(a.ctx) == 1, "async wrap: PENDING, one "
	    "exchange started (id %llu), nothing written",
	    (unsigned long long)id1);
	imgate_ctx_kms_calls(a.ctx, &rq, NULL);
	ok(rq == 1 && a.t.calls == 0, "async wrap: counted as a request, "
	    "the synchronous transport unused");
	rc = wrap1(&a, ALICE, BOB, "second", &m2);
	ok(rc == IMGATE_ERR_PENDING && imgate_pending_id(a.ctx) == id1 &&
	    qa.started == 1 && imgate_ctx_pending(a.ctx) == 1,
	    "async wrap: a second wrap for the same recipients waits for "
	    "the same exchange, no second request");
	rc = imgate_wrap(a.ctx, ALICE, rcpt, 2, TEXT, (const uint8_t *)"x", 1,
	    &m3.body, &m3.len, &m3.ct);
	id2 = imgate_pending_id(a.ctx);
	ok(rc == IMGATE_ERR_PENDING && id2 > id1 && qa.started == 2 &&
	    imgate_ctx_pending(a.ctx) == 2, "async wrap: another recipient "
	    "set: its own exchange, a larger id");
	rc = aq_answer(a.ctx, &qa, 1);
	ok(rc == 0 && imgate_ctx_pending(a.ctx) == 1, "async: kms_done with "
	    "the KMS's answer: 0 (%s)", imgate_last_detail(a.ctx));
	rc = wrap1(&a, ALICE, BOB, "first", &m1);
	rc2 = rc ? rc : wrap1(&a, ALICE, BOB, "second", &m2);
	ok(rc == 0 && rc2 == 0 && qa.started == 2, "async wrap: both waiting "
	    "wraps succeed when given again, from the ticket cache");
	rc = imgate_kms_done(a.ctx, id1, 1, (const uint8_t *)"x", 1);
	ok(rc == IMGATE_ERR_INVAL, "async: kms_done for the same id again: "
	    "invalid");
	ok(imgate_kms_done(a.ctx, 999999, 0, NULL, 0) == IMGATE_ERR_INVAL &&
	    imgate_kms_done(a.ctx, 0, 0, NULL, 0) == IMGATE_ERR_INVAL,
	    "async: kms_done for an unknown id or 0: invalid");

	/* unwrap: one resolve for two messages with the same ticket, the
	 * replay cache untouched until then */
	rc = imgate_ctx_save_replay(b.ctx, &img0, &img0_len);
	rc = rc ? rc : imgate_unwrap(b.ctx, ALICE, m1.ct, m1.body, m1.len,
	    &r1);
	id1 = imgate_pending_id(b.ctx);
	ok(rc == IMGATE_ERR_PENDING && r1 == NULL && qb.started == 1 &&
	    qb.n == 1 && qb.id[0] == id1, "async unwrap: PENDING, one "
	    "resolve started");
	rc = imgate_unwrap(b.ctx, ALICE, m2.ct, m2.body, m2.len, &r2);
	ok(rc == IMGATE_ERR_PENDING && imgate_pending_id(b.ctx) == id1 &&
	    qb.started == 1, "async unwrap: another message with the same "
	    "ticket waits for the same resolve");
	rc = imgate_unwrap(b.ctx, ALICE, m1.ct, m1.body, m1.len, &r1);
	ok(rc == IMGATE_ERR_PENDING && imgate_pending_id(b.ctx) == id1 &&
	    qb.started == 1, "async unwrap: the first message again: still "
	    "waiting, no replay");
	rc = imgate_ctx_save_replay(b.ctx, &img1, &img1_len);
	ok(rc == 0 && img0 != NULL && img1 != NULL && img0_len == img1_len &&
	    memcmp(img0, img1, img0_len) == 0, "async unwrap: the replay "
	    "cache is untouched while waiting");
	imgate_ctx_kms_calls(b.ctx, NULL, &rsv);
	is_int(rsv, 1, "async unwrap: one resolve counted");
	rc = aq_answer(b.ctx, &qb, 1);
	is_int(rc, 0, "async unwrap: kms_done (%s)", imgate_last_detail(b.ctx));
	rc = imgate_unwrap(b.ctx, ALICE, m1.ct, m1.body, m1.len, &r1);
	rc2 = imgate_unwrap(b.ctx, ALICE, m2.ct, m2.body, m2.len, &r2);
	ok(rc == 0 && rc2 == 0 && r1->kms_called == 1 && r2->kms_called ==
	    0 && qb.started == 1, "async unwrap: both open when given again "
	    "(the first says kms_called)");
	rc2 = imgate_unwrap(bs.ctx, ALICE, m1.ct, m1.body, m1.len, &rs);
	ok(rc == 0 && rc2 == 0 && same_result(r1, rs), "async unwrap: the "
	    "same result as the synchronous mode");
	ok(r2 != NULL && r2->body_len == 6 && memcmp(r2->body, "second", 6)
	    == 0, "async unwrap: the second message's body");
	imgate_result_free(r1);
	imgate_result_free(r2);
	imgate_result_free(rs);
	r1 = r2 = rs = NULL;
	rc = imgate_unwrap(b.ctx, ALICE, m1.ct, m1.body, m1.len, &r1);
	ok(rc == IMGATE_ERR_REPLAY && qb.started == 1, "async unwrap: then a "
	    "replay, without the KMS");

	/* a refusal by the KMS: the code of the synchronous mode */
	rc2 = imgate_unwrap(cs.ctx, ALICE, m1.ct, m1.body, m1.len, &r1);
	rc = imgate_unwrap(c.ctx, ALICE, m1.ct, m1.body, m1.len, &r1);
	ok(rc == IMGATE_ERR_PENDING && qc.started == 1, "async unwrap by "
	    "carol (no recipient): PENDING");
	rc = aq_answer(c.ctx, &qc, 1);
	ok(rc == rc2 && rc == IMGATE_ERR_NOT_AUTHORISED &&
	    imgate_last_cause(c.ctx) == 0x10000 + MIKEY_EN_UNSPEC,
	    "async: the KMS's refusal through kms_done: %s, as in the "
	    "synchronous mode (%s)", imgate_strerror(rc),
	    imgate_last_detail(c.ctx));
	rc = imgate_unwrap(c.ctx, ALICE, m1.ct, m1.body, m1.len, &r1);
	ok(rc == IMGATE_ERR_PENDING && qc.started == 2, "async: carol again: "
	    "a new resolve (refusals are not cached)");
	aq_drop(&qc);

	/* the transport fails */
	rc = aq_answer(a.ctx, &qa, 0);		/* id2: the set {bob, dave} */
	ok(rc == IMGATE_ERR_KMS_UNAVAILABLE && strcmp(imgate_last_detail(
	    a.ctx), "kms: the transport failed") == 0 &&
	    imgate_ctx_pending(a.ctx) == 0, "async: kms_done(ok 0): "
	    "KMS_UNAVAILABLE (%s)", imgate_last_detail(a.ctx));
	rc = imgate_wrap(a.ctx, ALICE, rcpt, 2, TEXT, (const uint8_t *)"x", 1,
	    &m3.body, &m3.len, &m3.ct);
	ok(rc == IMGATE_ERR_PENDING && imgate_pending_id(a.ctx) > id2 &&
	    qa.started == 3, "async: the next wrap starts a new exchange");
	imgate_set_detail(a.ctx, "kms: timeout after 10 s");
	rc = aq_answer(a.ctx, &qa, 0);
	ok(rc == IMGATE_ERR_KMS_UNAVAILABLE && strcmp(imgate_last_detail(
	    a.ctx), "kms: timeout after 10 s") == 0, "async: the transport's "
	    "detail set before kms_done(ok 0) is kept");
	qa.refuse = 1;
	rc = imgate_wrap(a.ctx, ALICE, rcpt, 2, TEXT, (const uint8_t *)"x", 1,
	    &m3.body, &m3.len, &m3.ct);
	ok(rc == IMGATE_ERR_KMS_UNAVAILABLE && imgate_ctx_pending(a.ctx) ==
	    0, "async: a callback that cannot start: KMS_UNAVAILABLE at once");
	qa.refuse = 0;
	imgate_ctx_set_async(a.ctx, NULL, NULL);
	rc = imgate_wrap(a.ctx, ALICE, rcpt, 2, TEXT, (const uint8_t *)"x", 1,
	    &m3.body, &m3.len, &m3.ct);
	ok(rc == 0 && a.t.calls == 1, "async off: the synchronous transport "
	    "again");
	wmsg_free(&m3);

	/* a margin longer than the ticket: the retried wrap still uses it */
	imgate_opts_init(&o);
	o.ticket_margin = 400 * 86400;
	if (party_new(&g, ALICE, &o) != 0)
		return;
	imgate_ctx_set_async(g.ctx, kms_async, &qg);
	rc = wrap1(&g, ALICE, BOB, "m", &m3);
	rc = rc == IMGATE_ERR_PENDING ? aq_answer(g.ctx, &qg, 1) : -1;
	rc = rc ? rc : wrap1(&g, ALICE, BOB, "m", &m3);
	ok(rc == 0 && qg.started == 1, "async: a ticket granted with a "
	    "margin past its use serves the retried wrap once");
	wmsg_free(&m3);
	rc = wrap1(&g, ALICE, BOB, "m", &m3);
	ok(rc == IMGATE_ERR_PENDING && qg.started == 2, "... and the next "
	    "wrap asks again (as in the synchronous mode)");
	aq_drop(&qg);

	/* the bound (one exchange of g's is under way already, above);
	 * free with exchanges under way (ASan: no leak) */
	qg.n = AQ_KEEP;		/* keep none */
	for (i = 0, fails = 0; i < IMGATE_MAX_PENDING + 1; i++) {
		snprintf(who, sizeof(who), "sip:u%d@example.com", i);
		rc = wrap1(&g, ALICE, who, "m", &m3);
		if (rc != IMGATE_ERR_PENDING)
			fails++;
	}
	ok(fails == 2 && rc == IMGATE_ERR_KMS_UNAVAILABLE &&
	    imgate_ctx_pending(g.ctx) == IMGATE_MAX_PENDING, "async: %d "
	    "exchanges under way at most, then KMS_UNAVAILABLE (%s)",
	    IMGATE_MAX_PENDING, imgate_last_detail(g.ctx));
	qg.n = 0;
	imgate_ctx_set_async(a.ctx, kms_async, &qa);
	rc = wrap1(&a, ALICE, BOB, "cached", &m3);
	rc2 = rc ? rc : imgate_unwrap(b.ctx, ALICE, m3.ct, m3.body, m3.len,
	    &r1);
	ok(rc == 0 && rc2 == 0 && r1->kms_called == 0 && qa.started == 3 &&
	    qb.started == 1, "async: a cached ticket, a cached key: done at "
	    "once, no KMS");
	imgate_result_free(r1);
	r1 = NULL;
	wmsg_free(&m3);
	rc = wrap1(&cs, CAROL, BOB, "from carol", &m3);
	rc2 = rc ? rc : imgate_unwrap(b.ctx, CAROL, m3.ct, m3.body, m3.len,
	    &r1);
	ok(rc == 0 && rc2 == IMGATE_ERR_PENDING &&
	    wrap1(&b, BOB, ALICE, "m", &m2) == IMGATE_ERR_PENDING &&
	    imgate_ctx_pending(b.ctx) == 2, "bob's context has a resolve "
	    "and a request under way when freed");
	wmsg_free(&m3);
	free(img0);
	free(img1);
	wmsg_free(&m1);
	wmsg_free(&m2);
	aq_drop(&qa);
	aq_drop(&qb);
	imgate_ctx_free(a.ctx);
	imgate_ctx_free(b.ctx);
	imgate_ctx_free(bs.ctx);
	imgate_ctx_free(c.ctx);
	imgate_ctx_free(cs.ctx);
	imgate_ctx_free(g.ctx);
}

/* ---- held unwraps (a gateway that learns later whether it delivered) */

static void
test_hold(void)
{
	struct party a, b;
	struct wmsg m;
	struct imgate_result *r = NULL, *r2 = NULL;
	int rc;

	if (party_new(&a, ALICE, NULL) != 0 || party_new(&b, BOB, NULL) != 0) {
		ok(0, "hold: contexts");
		return;
	}
	rc = wrap1(&a, ALICE, BOB, "held", &m);
	is_int(rc, 0, "hold: wrap");
	rc = imgate_unwrap_hold(b.ctx, NULL, ALICE, m.ct, m.body, m.len, &r);
	ok(rc == 0 && r->hold_id != 0, "hold: opened and held (%s)",
	    imgate_strerror(rc));
	is_int(imgate_unwrap(b.ctx, ALICE, m.ct, m.body, m.len, &r2),
	    IMGATE_ERR_REPLAY, "hold: the same message while held: replay");
	is_int(imgate_unwrap_hold(b.ctx, NULL, ALICE, m.ct, m.body, m.len, &r2),
	    IMGATE_ERR_REPLAY, "hold: ... also when held again");
	if (r != NULL) {
		is_int(imgate_unwrap_release(b.ctx, r, 0), 0,
		    "hold: released as not delivered");
		is_int(imgate_unwrap_release(b.ctx, r, 0), IMGATE_ERR_INVAL,
		    "hold: a second release is refused");
	}
	imgate_result_free(r);
	r = NULL;
	rc = imgate_unwrap_hold(b.ctx, NULL, ALICE, m.ct, m.body, m.len, &r);
	is_int(rc, 0, "hold: not delivered, so it opens again (stored "
	    "for later)");
	if (r != NULL)
		is_int(imgate_unwrap_release(b.ctx, r, 1), 0,
		    "hold: released as delivered");
	imgate_result_free(r);
	r = NULL;
	is_int(imgate_unwrap(b.ctx, ALICE, m.ct, m.body, m.len, &r2),
	    IMGATE_ERR_REPLAY, "hold: delivered, it is now a replay");
	rc = imgate_unwrap_hold(b.ctx, "sip:x@example.com", ALICE, m.ct,
	    m.body, m.len, &r);
	is_int(rc, 0, "hold: the same message for another user of the relay "
	    "opens (one replay entry per recipient)");
	if (r != NULL)
		is_int(imgate_unwrap_release(b.ctx, r, 1), 0,
		    "hold: ... and is delivered");
	imgate_result_free(r);
	r = NULL;
	is_int(imgate_unwrap_hold(b.ctx, "sip:x@example.com", ALICE, m.ct,
	    m.body, m.len, &r), IMGATE_ERR_REPLAY, "hold: ... once");
	imgate_result_free(r2);
	wmsg_free(&m);
	imgate_ctx_free(a.ctx);
	imgate_ctx_free(b.ctx);
}

/* ---- list re-encryption: the entity inside, re-wrapped with cc */

static void
test_reencrypt(void)
{
	struct party a, b, c;
	struct wmsg m, m2;
	struct imgate_result *r = NULL, *r2 = NULL, *in = NULL;
	const char *rcpt[1], *cc[1];
	int rc;

	memset(&m2, 0, sizeof(m2));
	if (party_new(&a, ALICE, NULL) != 0 || party_new(&b, BOB, NULL) != 0 ||
	    party_new(&c, CAROL, NULL) != 0) {
		ok(0, "reencrypt: contexts");
		return;
	}
	rc = wrap1(&a, ALICE, BOB, "to the list", &m);
	rc = rc ? rc : imgate_unwrap(b.ctx, ALICE, m.ct, m.body, m.len, &r);
	ok(rc == 0 && r->entity_type != NULL && strncmp(r->entity_type,
	    "message/cpim", 12) == 0 && r->entity_len > 0,
	    "reencrypt: the list opens it and has the entity inside (%s)",
	    imgate_strerror(rc));
	if (rc != 0)
		goto out;
	rcpt[0] = CAROL;
	cc[0] = DAVE;
	rc = imgate_wrap_cc(b.ctx, BOB, rcpt, 1, cc, 1, r->entity_type,
	    r->entity, r->entity_len, &m2.body, &m2.len, &m2.ct);
	is_int(rc, 0, "reencrypt: the list wraps that entity for carol, cc "
	    "dave (%s)", imgate_last_detail(b.ctx));
	rc = rc ? rc : imgate_unwrap(c.ctx, ALICE, m2.ct, m2.body, m2.len,
	    &r2);
	ok(rc == 0 && strcmp(r2->sender, BOB) == 0 &&
	    r2->differs_from_sip_from && strcmp(r2->cpim_from, BOB) == 0 &&
	    r2->nto == 1 && strcmp(r2->to[0], CAROL) == 0 && r2->ncc == 1 &&
	    strcmp(r2->cc[0], DAVE) == 0, "reencrypt: carol opens it: "
	    "verified sender the list, To carol, cc dave (%s)",
	    imgate_strerror(rc));
	rc = rc ? rc : imgate_open_inner(c.ctx, r2->content_type, r2->body,
	    r2->body_len, &in);
	ok(rc == 0 && strcmp(in->cpim_from, ALICE) == 0 &&
	    strcmp(in->sender, ALICE) == 0 && in->signer == NULL &&
	    strcmp(in->content_type, TEXT) == 0 && in->body_len == 11 &&
	    memcmp(in->body, "to the list", 11) == 0,
	    "reencrypt: the inner entity: author alice, her text (%s)",
	    imgate_strerror(rc));
	is_int(imgate_open_inner(c.ctx, TEXT, (const uint8_t *)"x", 1, &r),
	    IMGATE_ERR_CONTENT_TYPE, "reencrypt: open_inner of a plain "
	    "entity is refused");
out:
	imgate_result_free(r);
	imgate_result_free(r2);
	imgate_result_free(in);
	wmsg_free(&m);
	wmsg_free(&m2);
	imgate_ctx_free(a.ctx);
	imgate_ctx_free(b.ctx);
	imgate_ctx_free(c.ctx);
}

int
main(void)
{
	size_t i, j;

	imgate_init();
	for (i = 0; i < 5; i++)
		for (j = 0; j < 16; j++)
			psk_of[i][j] = (uint8_t)(i * 16 + j + 1);
	for (j = 0; j < 32; j++)
		tpk[j] = (uint8_t)(0xa0 + j);
	memset(&kc, 0, sizeof(kc));
	kc.id.type = MIKEY_ID_URI;
	kc.id.data.p = (const uint8_t *)KMSID;
	kc.id.data.len = strlen(KMSID);
	kc.lifetime = 30 * 86400;
	kc.max_lifetime = 400 * 86400;
	kc.ops = &ops;
	kc.rc = mikey_rcache_new(100000, 300, fake_ntp, NULL);

	test_multipart();
	test_round_trip(IMGATE_SUITE_128, "AES-128");
	test_round_trip(IMGATE_SUITE_256, "AES-256");
	test_steady_state();
	test_refusals();
	test_deferred();
	test_identity();
	test_misc();
	test_interop();
	test_async();
	test_hold();
	test_reencrypt();
	mikey_rcache_free(kc.rc);
	return done_testing();
}
