/*
 * tools/ctl_demo.c - "imgatectl demo": one MIKEY-TICKET exchange in process
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	Until imgate-kms and the gateway exist, this is the program's main
 *	job: it plays alice (initiator), the KMS and bob (responder) with
 *	the library's role functions, exactly as the daemons will, and shows
 *	each message with the "mikey dump" walker:
 *
 *	  alice --REQUEST_INIT_PSK--> KMS --REQUEST_RESP--> alice
 *	  alice --TRANSFER_INIT--> bob
 *	  bob --RESOLVE_INIT_PSK--> KMS --RESOLVE_RESP--> bob
 *
 *	(RFC 6043 4.2.1-4.2.3, the one-way profile MIKEY_TPF_ONEWAY: F = 0,
 *	so there is no TRANSFER_RESP.)  Then both ends derive the TEK of
 *	crypto session 1 and the demo checks they agree.
 *
 * SECURITY
 *	The PSKs and the master key are fresh random bytes that live only
 *	in this process, in one heap block that is wiped before it is freed;
 *	core dumps are switched off first.  Only key fingerprints are shown.
 *	The messages written by --write-dir hold keys only encrypted under
 *	those throwaway keys.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "mikey/mikey.h"
#include "tools/ctl.h"

#define DEMO_MSG_MAX	MIKEY_MAX_INIT
#define DEMO_TEK_LEN	16
#define DEMO_CS_ID	1

static const char ALICE[] = "sip:alice@example.com";
static const char BOB[] = "sip:bob@example.com";
static const char KMS[] = "sip:kms@example.com";

/* all zero: the system clock, RAND_bytes, 300 s of allowed clock skew */
static const struct mikey_env sysenv;

/* Everything secret lives here, in one block wiped on exit. */
struct demo {
	/* the KMS: users' PSKs and the master key (Ticket Protection Key) */
	uint8_t			 psk_alice[32];
	uint8_t			 psk_bob[32];
	uint8_t			 master[32];
	uint32_t		 version;
	struct mikey_kms_conf	 kc;
	/* alice */
	struct mikey_request_params rp;
	struct mikey_i_request	 rq;
	struct mikey_ticket	 t;
	struct mikey_transfer_params tp;
	struct mikey_i_transfer	 it;
	/* bob */
	struct mikey_r_transfer	 x;
	struct mikey_cred	 me;
	struct mikey_r_resolve	 rs;
	struct mikey_resolved	 keys;
	/* the messages */
	uint8_t			 m[5][DEMO_MSG_MAX];
	size_t			 l[5];
	uint8_t			 tek_i[DEMO_TEK_LEN];
	uint8_t			 tek_r[DEMO_TEK_LEN];
	/* options */
	int			 quiet;
	const char		*dir;
	int			 nmsg;
};

/* ---------------------------------------------------------------------- */
/* The KMS policy: two users, one versioned master key */

/* uri - an IDR identity for a URI string */
static struct mikey_id
uri(const char *s)
{
	struct mikey_id id;

	id.type = MIKEY_ID_URI;
	id.data.p = (const uint8_t *)s;
	id.data.len = strlen(s);
	return id;
}

/* is - 1 if id is the URI s */
static int
is(const struct mikey_id *id, const char *s)
{
	return id != NULL && id->type == MIKEY_ID_URI &&
	    id->data.len == strlen(s) &&
	    memcmp(id->data.p, s, id->data.len) == 0;
}

/* pol_psk - the PSK shared with a user */
static int
pol_psk(void *arg, const struct mikey_id *id, const struct mikey_id *idpsk,
    uint8_t *key, size_t *key_len)
{
	struct demo *d = arg;

	(void)idpsk;
	if (is(id, ALICE))
		memcpy(key, d->psk_alice, sizeof(d->psk_alice));
	else if (is(id, BOB))
		memcpy(key, d->psk_bob, sizeof(d->psk_bob));
	else
		return -1;
	*key_len = 32;
	return 0;
}

/* pol_current - the master key new tickets are sealed with */
static int
pol_current(void *arg, struct mikey_tpk *tpk)
{
	struct demo *d = arg;

	memset(tpk, 0, sizeof(*tpk));
	tpk->version = d->version;
	memcpy(tpk->key, d->master, sizeof(d->master));
	tpk->key_len = sizeof(d->master);
	return 0;
}

/* pol_lookup - the master key of a ticket, by the version in its THDR */
static int
pol_lookup(void *arg, int has_version, uint32_t version,
    const struct mikey_id *idpsk, struct mikey_tpk *tpk)
{
	struct demo *d = arg;

	if (idpsk != NULL || !has_version || version != d->version)
		return -1;
	return pol_current(arg, tpk);
}

/* pol_request - a user may ask for a ticket in its own name only */
static int
pol_request(void *arg, const struct mikey_id *requester,
    struct mikey_grant *g)
{
	(void)arg;
	return is(requester, ALICE) && is(&g->idi, ALICE) ? 0 : -1;
}

/* pol_resolve - only a responder the ticket names may resolve it */
static int
pol_resolve(void *arg, const struct mikey_id *requester,
    const struct mikey_policy *pol)
{
	(void)arg;
	return mikey_policy_names(pol, requester) ? 0 : -1;
}

static const struct mikey_kms_ops demo_ops = {
	pol_psk, pol_current, pol_lookup, pol_request, pol_resolve
};

/* ---------------------------------------------------------------------- */
/* Output */

/* write_msg - DIR/NN_name.bin, written to a temporary name and renamed so
 * that a concurrent reader (the tshark test) never sees half a file */
static int
write_msg(struct demo *d, const uint8_t *buf, size_t len)
{
	char name[40], path[4096], tmp[4096];
	const char *dt = mikey_data_type_name(buf[1]);
	size_t i;
	int fd, n;

	for (i = 0; dt[i] != '\0' && i < sizeof(name) - 1; i++)
		name[i] = (dt[i] >= 'A' && dt[i] <= 'Z') ? (char)(dt[i] + 32) :
		    (dt[i] == ' ' || dt[i] == '-') ? '_' : dt[i];
	name[i] = '\0';
	n = snprintf(path, sizeof(path), "%s/%02d_%s.bin", d->dir, d->nmsg,
	    name);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%02d_%s.XXXXXX", d->dir, d->nmsg,
	    name) >= (int)sizeof(tmp)) {
		ctl_errx("demo: --write-dir path too long; use a shorter one");
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1) {
		ctl_errx("demo: cannot create a file in %s: %s; check that "
		    "the directory exists and is writable", d->dir,
		    strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0644) == -1 || write(fd, buf, len) != (ssize_t)len ||
	    close(fd) == -1) {
		ctl_errx("demo: cannot write %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) == -1) {
		ctl_errx("demo: cannot rename %s to %s: %s", tmp, path,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* show - one message: a summary line, then (unless quiet) its dump */
static int
show(struct demo *d, const char *from, const char *to, const uint8_t *buf,
    size_t len)
{
	struct ctl_emit e;
	char err[256], dir[32];
	int rc = 0;

	d->nmsg++;
	snprintf(dir, sizeof(dir), "%s -> %s", from, to);
	printf("[%d] %-13s %s (%u), %zu bytes\n", d->nmsg, dir,
	    mikey_data_type_name(buf[1]), buf[1], len);
	if (!d->quiet) {
		ctl_emit_init(&e, stdout, 0, "    ");
		if (ctl_mikey_dump(&e, buf, len, err, sizeof(err)) != 0) {
			ctl_errx("demo: message %d does not decode: %s",
			    d->nmsg, err);
			rc = -1;
		}
		ctl_emit_end(&e);
		printf("\n");
	}
	if (d->dir != NULL && write_msg(d, buf, len) != 0)
		rc = -1;
	return rc;
}

/* step_failed - say which step failed and why; returns -1 */
static int
step_failed(const char *what, int rc, const struct mikey_diag *diag)
{
	char buf[256];

	if (diag != NULL && diag->err != 0) {
		mikey_diag_format(diag, buf, sizeof(buf));
		ctl_errx("demo: %s failed: %s (%s)", what, mikey_strerror(rc),
		    buf);
	} else
		ctl_errx("demo: %s failed: %s", what, mikey_strerror(rc));
	return -1;
}

/* kms - the KMS answers one request; an Error message is a failure */
static int
kms(struct demo *d, int in, int out, const char *who)
{
	struct mikey_kms_result res;
	int rc;

	memset(&res, 0, sizeof(res));
	rc = mikey_kms_process(&sysenv, &d->kc, d->m[in], d->l[in], d->m[out],
	    DEMO_MSG_MAX, &d->l[out], &res);
	if (rc != 0)
		return step_failed("the KMS", rc, NULL);
	if (show(d, "KMS", who, d->m[out], d->l[out]) != 0)
		return -1;
	if (res.err != 0) {
		ctl_errx("demo: the KMS refused the request of %s: %s (it "
		    "answered with a MIKEY Error message)", who,
		    mikey_strerror(res.err));
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The exchange */

/* setup - random keys, the KMS, alice's request and transfer, bob */
static int
setup(struct demo *d)
{
	static const uint8_t no_ps[1] = { 0 };

	if (RAND_bytes(d->psk_alice, sizeof(d->psk_alice)) != 1 ||
	    RAND_bytes(d->psk_bob, sizeof(d->psk_bob)) != 1 ||
	    RAND_bytes(d->master, sizeof(d->master)) != 1) {
		ctl_errx("demo: the random number generator failed; check "
		    "the OpenSSL installation");
		return -1;
	}
	d->version = 1;

	d->kc.id = uri(KMS);
	d->kc.lifetime = 86400;
	d->kc.ops = &demo_ops;
	d->kc.arg = d;
	if ((d->kc.rc = mikey_rcache_new(1024, 300, NULL, NULL)) == NULL) {
		ctl_errx("demo: out of memory");
		return -1;
	}

	/* alice asks for a one-way ticket for bob with one 256-bit TGK */
	d->rp.idi = uri(ALICE);
	d->rp.idkms = uri(KMS);
	d->rp.psk = d->psk_alice;
	d->rp.psk_len = sizeof(d->psk_alice);
	d->rp.suite = mikey_suite_256;
	d->rp.flags = MIKEY_TPF_ONEWAY;
	d->rp.ticket_prf = mikey_suite_256.prf;
	d->rp.nresp = 1;
	d->rp.resp[0] = uri(BOB);
	d->rp.nkeys = 1;
	d->rp.key_type[0] = MIKEY_KEY_TGK;
	d->rp.key_len[0] = 32;

	/* one crypto session: an S/MIME body keyed by imgate (no SP) */
	d->tp.idi = uri(ALICE);
	d->tp.idr = uri(BOB);
	d->tp.suite = mikey_suite_256;
	d->tp.ncs = 1;
	d->tp.cs[0].cs_id = DEMO_CS_ID;
	d->tp.cs[0].prot_type = MIKEY_PROT_IMGATE_CMS;
	d->tp.cs[0].ps = (struct mikey_bytes){ no_ps, 0 };

	d->me.id = uri(BOB);
	d->me.idkms = uri(KMS);
	d->me.psk = d->psk_bob;
	d->me.psk_len = sizeof(d->psk_bob);
	d->me.suite = mikey_suite_256;
	return 0;
}

/* run - the five messages and both TEKs; 0 if they agree */
static int
run(struct demo *d)
{
	struct mikey_diag diag;
	char fi[9], fr[9];
	int rc, perr = -1;

	memset(&diag, 0, sizeof(diag));
	if ((rc = mikey_i_request_init(&sysenv, &d->rp, &d->rq, d->m[0],
	    DEMO_MSG_MAX, &d->l[0])) != 0)
		return step_failed("alice building REQUEST_INIT_PSK", rc, NULL);
	if (show(d, "alice", "KMS", d->m[0], d->l[0]) != 0 ||
	    kms(d, 0, 1, "alice") != 0)
		return -1;
	if ((rc = mikey_i_request_resp(&sysenv, &d->rq, d->m[1], d->l[1], &d->t,
	    &perr, &diag)) != 0)
		return step_failed("alice checking REQUEST_RESP", rc, &diag);

	if ((rc = mikey_i_transfer_init(&sysenv, &d->t, &d->tp, &d->it, d->m[2],
	    DEMO_MSG_MAX, &d->l[2])) != 0)
		return step_failed("alice building TRANSFER_INIT", rc, NULL);
	if (show(d, "alice", "bob", d->m[2], d->l[2]) != 0)
		return -1;
	if ((rc = mikey_r_transfer_parse(&sysenv, d->m[2], d->l[2], &d->x,
	    &diag)) != 0)
		return step_failed("bob parsing TRANSFER_INIT", rc, &diag);
	if (!mikey_policy_names(&d->x.pol, &d->me.id)) {
		ctl_errx("demo: the ticket does not name bob");
		return -1;
	}

	if ((rc = mikey_r_resolve_init(&sysenv, &d->x, &d->me, &d->rs, d->m[3],
	    DEMO_MSG_MAX, &d->l[3])) != 0)
		return step_failed("bob building RESOLVE_INIT_PSK", rc, NULL);
	if (show(d, "bob", "KMS", d->m[3], d->l[3]) != 0 ||
	    kms(d, 3, 4, "bob") != 0)
		return -1;
	if ((rc = mikey_r_resolve_resp(&sysenv, &d->rs, &d->x, d->m[4], d->l[4],
	    &d->keys, &perr, &diag)) != 0)
		return step_failed("bob checking RESOLVE_RESP and "
		    "TRANSFER_INIT", rc, &diag);

	if ((rc = mikey_i_transfer_tek(&d->t, &d->it, DEMO_CS_ID, d->tek_i,
	    DEMO_TEK_LEN)) != 0)
		return step_failed("alice deriving the TEK", rc, NULL);
	if ((rc = mikey_r_transfer_tek(&d->x, &d->keys, NULL, DEMO_CS_ID,
	    d->tek_r, DEMO_TEK_LEN)) != 0)
		return step_failed("bob deriving the TEK", rc, NULL);
	ctl_fingerprint(d->tek_i, DEMO_TEK_LEN, fi);
	ctl_fingerprint(d->tek_r, DEMO_TEK_LEN, fr);
	printf("alice: TEK for CS %d, %d bytes (fingerprint %s)\n",
	    DEMO_CS_ID, DEMO_TEK_LEN, fi);
	printf("bob:   TEK for CS %d, %d bytes (fingerprint %s)\n",
	    DEMO_CS_ID, DEMO_TEK_LEN, fr);
	if (CRYPTO_memcmp(d->tek_i, d->tek_r, DEMO_TEK_LEN) != 0) {
		printf("TEK agreed at both ends: NO\n");
		ctl_errx("demo: alice and bob derived different TEKs; the "
		    "protocol core is broken, run 'make check'");
		return -1;
	}
	printf("TEK agreed at both ends: yes (fingerprint %s)\n", fi);
	return 0;
}

void
ctl_demo_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl demo [-q | --quiet] [-w DIR | --write-dir DIR]\n"
	    "\n"
	    "Run one complete MIKEY-TICKET exchange (RFC 6043) in this\n"
	    "process with fresh random keys and the system clock: alice\n"
	    "asks the KMS for a ticket, sends it to bob in a TRANSFER_INIT,\n"
	    "bob resolves it with the KMS, and both derive the TEK of crypto\n"
	    "session 1.  Every message is shown as 'imgatectl mikey dump'\n"
	    "shows it; keys only as fingerprints.\n"
	    "\n"
	    "  -q, --quiet          one line per message and the result\n"
	    "  -w, --write-dir DIR  also write each message to\n"
	    "                       DIR/NN_name.bin (DIR is created if its\n"
	    "                       parent exists)\n"
	    "  -h, --help           this help\n"
	    "\n"
	    "Exit status: 0 both ends agreed on the TEK, 1 a step failed,\n"
	    "2 usage error.\n");
}

/* header - what the demo is, printed first */
static void
header(void)
{
	static const char *const text[] = {
	    "imgatectl demo: one MIKEY-TICKET exchange (RFC 6043) in process",
	    "",
	    "imgate-kms and the gateway are not implemented yet; this demo",
	    "runs the protocol core (libmikey) for all three roles in one",
	    "process: alice (initiator), the KMS and bob (responder).  The",
	    "PSKs of alice and bob and the KMS master key (version 1) are",
	    "fresh random keys, the clock is the system clock, nothing goes",
	    "over a network.  Profile: one-way ticket (flags D E H J N O, no",
	    "TRANSFER_RESP), PRF-HMAC-SHA-256, AES-CM-256, HMAC-SHA-256-256;",
	    "one crypto session, CS ID 1, prot type 241 (imgate CMS).  Keys",
	    "are shown only as SHA-256 fingerprints.",
	    "",
	};
	size_t i;

	for (i = 0; i < sizeof(text) / sizeof(text[0]); i++)
		printf("%s\n", text[i]);
}

int
ctl_demo_main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "write-dir", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct rlimit nocore = { 0, 0 };
	struct demo *d = NULL;
	const char *dir = NULL;
	int ch, quiet = 0, rc = CTL_EXIT_FAIL;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":hqw:", lopts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			quiet = 1;
			break;
		case 'w':
			dir = optarg;
			break;
		case 'h':
			ctl_demo_usage(stdout);
			return CTL_EXIT_OK;
		case ':':
			return ctl_usage_error("demo", "option '%s' needs a "
			    "directory", argv[optind - 1]);
		default:
			return ctl_usage_error("demo", "unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		return ctl_usage_error("demo", "no arguments expected, got "
		    "'%s'", argv[optind]);

	/* keys must not end up in a core file */
	if (setrlimit(RLIMIT_CORE, &nocore) == -1)
		ctl_errx("demo: warning: cannot disable core dumps: %s",
		    strerror(errno));
	if (dir != NULL && mkdir(dir, 0777) == -1 && errno != EEXIST) {
		ctl_errx("demo: cannot create %s: %s; create it first or give "
		    "another --write-dir", dir, strerror(errno));
		return CTL_EXIT_FAIL;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		ctl_errx("demo: out of memory");
		return CTL_EXIT_FAIL;
	}
	d->quiet = quiet;
	d->dir = dir;
	if (!quiet)
		header();
	if (setup(d) == 0 && run(d) == 0)
		rc = CTL_EXIT_OK;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ctl_errx("demo: cannot write the output");
		rc = CTL_EXIT_FAIL;
	}
	mikey_rcache_free(d->kc.rc);
	mikey_i_request_cleanup(&d->rq);
	mikey_ticket_cleanup(&d->t);
	mikey_r_resolve_cleanup(&d->rs);
	mikey_resolved_cleanup(&d->keys);
	OPENSSL_clear_free(d, sizeof(*d));
	return rc;
}
