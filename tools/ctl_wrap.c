/*
 * tools/ctl_wrap.c - "imgatectl wrap" and "imgatectl unwrap": protect and
 * open a SIP MESSAGE body with libimgate against a real KMS
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	The two halves of lib/imgate.h from the command line, one message
 *	per run, with the library's built-in KMS transport (HTTP/HTTPS):
 *
 *	  wrap    body --> multipart/mixed body (written to --out) and its
 *	          Content-Type (printed: the SIP header to send it with)
 *	  unwrap  multipart/mixed body + Content-Type + SIP From --> the
 *	          verified sender, whether it differs from From, the inner
 *	          Content-Type, and the plaintext
 *
 *	A run is a fresh context: wrap asks the KMS for a ticket every time
 *	and unwrap resolves every time (a long-lived UA keeps its context
 *	and asks once).  The replay cache of unwrap lives in --replay-state
 *	between runs: loaded before, written back (atomically, mode 0600)
 *	after every accepted message, so the same body is refused the
 *	second time, across runs.  Without --replay-state nothing survives
 *	the run.
 *
 * SECURITY
 *	This process holds a user's PSK, the ticket keys and the plaintext
 *	of one message: core dumps are off, the PSK buffer is wiped, the
 *	library wipes its keys and the result; the plaintext file is written
 *	with mode 0600.  No key bytes are ever printed.  Inputs are bounded
 *	(the body by --max-body plus the protection overhead).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "lib/imgate.h"
#include "tools/ctl.h"

#define DEFAULT_CTYPE	"text/plain; charset=utf-8"
#define WRAP_OVERHEAD	(40 * 1024)	/* protection layers of a body */
#define STATE_MAX	(64 * 1024 * 1024)	/* a replay state file */

enum {
	OPT_KMS = 256, OPT_KMS_ID, OPT_ID, OPT_PSK_FILE, OPT_CA_FILE,
	OPT_TO, OPT_FROM, OPT_CTYPE, OPT_IN, OPT_OUT, OPT_REPLAY, OPT_SUITE,
	OPT_LIFETIME, OPT_TIMEOUT, OPT_MAX_BODY, OPT_CERT, OPT_KEY,
	OPT_TRUST, OPT_REQUIRE_SIG, OPT_CLOCK_OFFSET, OPT_HELP
};

static const struct option all_opts[] = {
	{ "kms", required_argument, NULL, OPT_KMS },
	{ "kms-id", required_argument, NULL, OPT_KMS_ID },
	{ "id", required_argument, NULL, OPT_ID },
	{ "psk-file", required_argument, NULL, OPT_PSK_FILE },
	{ "ca-file", required_argument, NULL, OPT_CA_FILE },
	{ "to", required_argument, NULL, OPT_TO },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "content-type", required_argument, NULL, OPT_CTYPE },
	{ "in", required_argument, NULL, OPT_IN },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "replay-state", required_argument, NULL, OPT_REPLAY },
	{ "clock-offset", required_argument, NULL, OPT_CLOCK_OFFSET },
	{ "suite", required_argument, NULL, OPT_SUITE },
	{ "lifetime", required_argument, NULL, OPT_LIFETIME },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "max-body", required_argument, NULL, OPT_MAX_BODY },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "trust", required_argument, NULL, OPT_TRUST },
	{ "require-signature", no_argument, NULL, OPT_REQUIRE_SIG },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

struct wopts {
	const char	*cmd;
	const char	*kms, *kms_id, *id, *psk_file, *ca_file, *to, *from;
	const char	*ctype, *in, *out, *replay, *cert, *key, *trust;
	uint64_t	 lifetime, max_body;
	int		 suite, timeout, require_sig;
	int64_t		 clock_offset;	/* seconds; testing only */
};

/* offset_clock - the system clock shifted by *arg seconds (Unix ns) */
static int64_t
offset_clock(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec + *(const int64_t *)arg) * 1000000000LL +
	    ts.tv_nsec;
}

/* common_help - the options both commands take */
static void
common_help(FILE *fp)
{
	fprintf(fp,
	    "  --kms URL            the KMS: http://HOST:PORT[/PATH] or "
	    "https://...\n"
	    "                       (PATH defaults to /mikey)\n"
	    "  --id URI             who this party is at the KMS\n"
	    "  --psk-file F         its PSK (hex, as 'imgatectl kms user add\n"
	    "                       --psk-out' writes it)\n"
	    "  --kms-id URI         the KMS's identity (IDRkms); default none\n"
	    "  --ca-file F          https: CA certificates (PEM) for the KMS\n"
	    "  --timeout SECONDS    for one KMS exchange (default 10)\n"
	    "  --max-body BYTES     largest plaintext body (default %d)\n"
	    "  -h, --help           this help\n", IMGATE_DEFAULT_MAX_BODY);
}

void
ctl_wrap_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl wrap --kms URL --id URI --psk-file F\n"
	    "           --to URI[,URI...] --out FILE [--in FILE|-]\n"
	    "           [--from URI] [--content-type TYPE] [--suite 128|256]\n"
	    "           [--lifetime SECONDS] [--cert PEM --key PEM]\n"
	    "           [--kms-id URI] [--ca-file F] [--timeout SECONDS]\n"
	    "           [--max-body BYTES]\n"
	    "\n"
	    "Protect a SIP MESSAGE body with libimgate: a ticket from the KMS\n"
	    "(MIKEY-TICKET), a TRANSFER_INIT, the body in message/cpim inside\n"
	    "CMS AuthEnvelopedData keyed by its TEK, both in a multipart/mixed\n"
	    "body (spec/smime-sip.md 6.2).  The body goes to --out; the\n"
	    "Content-Type to send it with is printed as one line:\n"
	    "\"Content-Type: multipart/mixed; boundary=...\".\n"
	    "\n"
	    "  --to URI[,URI...]    the recipients (up to %d)\n"
	    "  --out FILE           where to write the protected body\n"
	    "  --in FILE|-          the body (default: standard input)\n"
	    "  --from URI           the sender (default --id; another needs\n"
	    "                       act_for at the KMS)\n"
	    "  --content-type TYPE  of the body (default \"%s\")\n"
	    "  --suite 128|256      AES-128-GCM (default) or AES-256-GCM\n"
	    "  --lifetime SECONDS   ticket validity to ask for\n"
	    "  --cert PEM --key PEM sign the message (SignedData)\n",
	    IMGATE_MAX_RECIPIENTS, DEFAULT_CTYPE);
	common_help(fp);
	fprintf(fp, "\nExit status: 0 written, 1 failed (the reason and the "
	    "SIP answer it\nstands for are printed), 2 usage error.\n");
}

void
ctl_unwrap_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl unwrap --kms URL --id URI --psk-file F\n"
	    "           --from URI --content-type TYPE --in FILE\n"
	    "           [--out FILE] [--replay-state FILE] [--trust PEM]\n"
	    "           [--require-signature] [--kms-id URI] [--ca-file F]\n"
	    "           [--timeout SECONDS] [--max-body BYTES]\n"
	    "\n"
	    "Open a protected SIP MESSAGE body with libimgate: resolve its\n"
	    "ticket at the KMS (as --id), verify the TRANSFER_INIT, check the\n"
	    "replay cache, decrypt.  Prints the verified sender (the ticket's\n"
	    "initiator), whether it differs from the SIP From (then the\n"
	    "verified one is what a user must be shown) and the inner\n"
	    "Content-Type; writes the plaintext.\n"
	    "\n"
	    "  --from URI           the SIP From of the request (its AoR)\n"
	    "  --content-type TYPE  the SIP Content-Type of the request\n"
	    "  --in FILE|-          the protected body\n"
	    "  --out FILE           write the plaintext there (mode 0600);\n"
	    "                       without it, or with '-', the plaintext\n"
	    "                       goes to standard output and the report\n"
	    "                       to standard error\n"
	    "  --replay-state FILE  the replay cache across runs: loaded\n"
	    "                       first (missing: empty), written back\n"
	    "                       after an accepted message\n"
	    "  --trust PEM          CA certificates for signed messages\n"
	    "  --require-signature  refuse unsigned messages\n"
	    "  --clock-offset S     testing only: shift this side's clock by\n"
	    "                       S seconds (e.g. a delivery 200 days late)\n");
	common_help(fp);
	fprintf(fp, "\nExit status: 0 opened, 1 refused or failed (the "
	    "reason and the SIP\nanswer it stands for are printed), 2 usage "
	    "error.\n");
}

/* parse - the options of cmd (allowed: OPT_* values, 0-terminated) */
static int
parse(struct wopts *o, const int *allowed, void (*usage)(FILE *),
    int argc, char **argv)
{
	const char *w;
	size_t i;
	int ch;

	o->suite = 128;
	o->timeout = 10;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", all_opts, NULL)) != -1) {
		if (ch == 'h' || ch == OPT_HELP) {
			usage(stdout);
			return -1;
		}
		if (ch == ':')
			return ctl_usage_error(o->cmd, "option '%s' needs a "
			    "value", argv[optind - 1]);
		for (i = 0; allowed[i] != 0 && allowed[i] != ch; i++)
			;
		if (ch == '?' || allowed[i] == 0)
			return ctl_usage_error(o->cmd, "unknown option '%s'",
			    argv[optind - 1]);
		switch (ch) {
		case OPT_KMS: o->kms = optarg; break;
		case OPT_KMS_ID: o->kms_id = optarg; break;
		case OPT_ID: o->id = optarg; break;
		case OPT_PSK_FILE: o->psk_file = optarg; break;
		case OPT_CA_FILE: o->ca_file = optarg; break;
		case OPT_TO: o->to = optarg; break;
		case OPT_FROM: o->from = optarg; break;
		case OPT_CTYPE: o->ctype = optarg; break;
		case OPT_IN: o->in = optarg; break;
		case OPT_OUT: o->out = optarg; break;
		case OPT_REPLAY: o->replay = optarg; break;
		case OPT_CLOCK_OFFSET: {
			uint64_t v;
			int neg = optarg[0] == '-';

			if (ctl_parse_uint(optarg + neg, 0, 100ULL * 365 * 86400,
			    &v) != 0)
				return ctl_usage_error(o->cmd, "--clock-offset "
				    "'%s' is not whole seconds within 100 "
				    "years", optarg);
			o->clock_offset = neg ? -(int64_t)v : (int64_t)v;
			break;
		}
		case OPT_CERT: o->cert = optarg; break;
		case OPT_KEY: o->key = optarg; break;
		case OPT_TRUST: o->trust = optarg; break;
		case OPT_REQUIRE_SIG: o->require_sig = 1; break;
		case OPT_SUITE:
			if (strcmp(optarg, "128") != 0 &&
			    strcmp(optarg, "256") != 0)
				return ctl_usage_error(o->cmd, "--suite is 128 "
				    "or 256, not '%s'", optarg);
			o->suite = strcmp(optarg, "256") == 0 ? 256 : 128;
			break;
		case OPT_LIFETIME:
			if (ctl_parse_uint(optarg, 1, UINT32_MAX,
			    &o->lifetime) != 0)
				return ctl_usage_error(o->cmd, "--lifetime '%s' "
				    "is not a number of seconds", optarg);
			break;
		case OPT_MAX_BODY:
			if (ctl_parse_uint(optarg, 1, 16 * 1024 * 1024,
			    &o->max_body) != 0)
				return ctl_usage_error(o->cmd, "--max-body '%s' "
				    "is not a size from 1 to 16777216", optarg);
			break;
		case OPT_TIMEOUT: {
			uint64_t v;

			if (ctl_parse_uint(optarg, 1, 3600, &v) != 0)
				return ctl_usage_error(o->cmd, "--timeout '%s' "
				    "is not a number of seconds from 1 to 3600",
				    optarg);
			o->timeout = (int)v;
			break;
		}
		}
	}
	if (optind < argc)
		return ctl_usage_error(o->cmd, "unexpected argument '%s'",
		    argv[optind]);
	{
		const char *ids[] = { o->id, o->kms_id, o->from };
		const char *names[] = { "--id", "--kms-id", "--from" };

		for (i = 0; i < 3; i++)
			if (ids[i] != NULL && ctl_check_uri(ids[i], 0, &w) != 0)
				return ctl_usage_error(o->cmd, "%s '%s' is not "
				    "an identity URI: %s", names[i], ids[i], w);
	}
	if ((o->cert == NULL) != (o->key == NULL))
		return ctl_usage_error(o->cmd, "--cert and --key go together");
	return 0;
}

/* make_ctx - the library context of o; prints why not */
static int
make_ctx(const struct wopts *o, struct imgate_ctx **ctx)
{
	struct imgate_opts io;
	uint8_t psk[64];
	size_t psk_len = 0;
	int rc;

	if (ctl_read_psk(o->cmd, o->psk_file, psk, &psk_len) != 0)
		return -1;
	imgate_opts_init(&io);
	io.suite = o->suite == 256 ? IMGATE_SUITE_256 : IMGATE_SUITE_128;
	io.ticket_lifetime = (uint32_t)o->lifetime;
	io.kms_id = o->kms_id;
	io.ca_file = o->ca_file;
	io.timeout = o->timeout;
	io.max_body = (size_t)o->max_body;
	io.require_signature = o->require_sig;
	rc = imgate_ctx_new(o->id, o->kms, psk, psk_len, &io, ctx);
	OPENSSL_cleanse(psk, sizeof(psk));
	if (rc != 0) {
		ctl_errx("%s: %s: check --kms (http://HOST:PORT[/PATH] or "
		    "https://...) and the PSK file", o->cmd,
		    imgate_strerror(rc));
		return -1;
	}
	if (o->clock_offset != 0) {
		static int64_t offset;	/* one context per run */

		offset = o->clock_offset;
		imgate_ctx_set_clock(*ctx, offset_clock, &offset);
	}
	return 0;
}

/* refused - a library failure: text, SIP answer, detail */
static void
refused(const struct wopts *o, struct imgate_ctx *ctx, const char *what,
    int rc)
{
	const char *d = imgate_last_detail(ctx);

	ctl_errx("%s: %s: %s (SIP %d)%s%s", o->cmd, what, imgate_strerror(rc),
	    imgate_sip_status(rc), d[0] != '\0' ? ": " : "", d);
}

/* ---------------------------------------------------------------------- */
/* wrap */

int
ctl_wrap_main(int argc, char **argv)
{
	static const int allowed[] = { OPT_KMS, OPT_KMS_ID, OPT_ID,
	    OPT_PSK_FILE, OPT_CA_FILE, OPT_TO, OPT_FROM, OPT_CTYPE, OPT_IN,
	    OPT_OUT, OPT_SUITE, OPT_LIFETIME, OPT_TIMEOUT, OPT_MAX_BODY,
	    OPT_CERT, OPT_KEY, 0 };
	const char *rcpt[IMGATE_MAX_RECIPIENTS], *w;
	struct imgate_ctx *ctx = NULL;
	struct wopts o;
	uint8_t *in = NULL, *out = NULL;
	size_t in_len = 0, out_len = 0, n = 0, max;
	char *to = NULL, *p, *e, *ct = NULL;
	int rc;

	memset(&o, 0, sizeof(o));
	o.cmd = "wrap";
	if ((rc = parse(&o, allowed, ctl_wrap_usage, argc, argv)) != 0)
		return rc < 0 ? CTL_EXIT_OK : rc;
	if (!(o.kms && o.id && o.psk_file && o.to && o.out))
		return ctl_usage_error(o.cmd, "--kms, --id, --psk-file, --to "
		    "and --out are required");
	if ((to = strdup(o.to)) == NULL) {
		ctl_errx("%s: out of memory", o.cmd);
		return CTL_EXIT_FAIL;
	}
	for (p = to;; p = e + 1) {
		if ((e = strchr(p, ',')) != NULL)
			*e = '\0';
		if (ctl_check_uri(p, 0, &w) != 0) {
			rc = ctl_usage_error(o.cmd, "--to: '%s' is not an "
			    "identity URI: %s", p, w);
			goto done;
		}
		if (n == IMGATE_MAX_RECIPIENTS) {
			rc = ctl_usage_error(o.cmd, "--to: more than %d "
			    "recipients", IMGATE_MAX_RECIPIENTS);
			goto done;
		}
		rcpt[n++] = p;
		if (e == NULL)
			break;
	}
	ctl_no_core(o.cmd);
	rc = CTL_EXIT_FAIL;
	max = o.max_body != 0 ? (size_t)o.max_body : IMGATE_DEFAULT_MAX_BODY;
	if (ctl_read_input(o.in, max, &in, &in_len) != 0)
		goto done;
	if (make_ctx(&o, &ctx) != 0)
		goto done;
	if (o.cert != NULL && imgate_ctx_set_signer(ctx, o.cert, o.key,
	    NULL) != 0) {
		ctl_errx("%s: cannot use --cert %s / --key %s (unreadable, or "
		    "the key is not the certificate's)", o.cmd, o.cert, o.key);
		goto done;
	}
	if ((rc = imgate_wrap(ctx, o.from != NULL ? o.from : o.id, rcpt, n,
	    o.ctype != NULL ? o.ctype : DEFAULT_CTYPE, in, in_len, &out,
	    &out_len, &ct)) != 0) {
		refused(&o, ctx, "cannot protect the body", rc);
		rc = CTL_EXIT_FAIL;
		goto done;
	}
	rc = CTL_EXIT_FAIL;
	if (ctl_write_file(o.cmd, o.out, out, out_len, 0644, 0) != 0)
		goto done;
	printf("Content-Type: %s\n", ct);
	if (fflush(stdout) != 0) {
		ctl_errx("%s: cannot write the output", o.cmd);
		goto done;
	}
	rc = CTL_EXIT_OK;
done:
	if (in != NULL)
		OPENSSL_clear_free(in, max + 2);
	free(out);
	free(ct);
	free(to);
	imgate_ctx_free(ctx);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* unwrap */

/* load_state - the replay state file into ctx (missing: nothing) */
static int
load_state(const struct wopts *o, struct imgate_ctx *ctx)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (stat(o->replay, &st) != 0 && errno == ENOENT)
		return 0;
	if (ctl_read_input(o->replay, STATE_MAX, &buf, &len) != 0)
		return -1;
	rc = imgate_ctx_load_replay(ctx, buf, len);
	free(buf);
	if (rc != 0) {
		ctl_errx("%s: --replay-state %s is damaged or of another "
		    "version (%s); it is left as it is: move it away to start "
		    "with an empty replay cache (replays of older messages are "
		    "then accepted once)", o->cmd, o->replay,
		    imgate_last_detail(ctx));
		return -1;
	}
	return 0;
}

/* save_state - ctx's replay cache to the state file, atomically */
static int
save_state(const struct wopts *o, struct imgate_ctx *ctx)
{
	uint8_t *img = NULL;
	size_t len = 0;
	int rc;

	if (imgate_ctx_save_replay(ctx, &img, &len) != 0) {
		ctl_errx("%s: cannot serialise the replay cache", o->cmd);
		return -1;
	}
	rc = ctl_write_file(o->cmd, o->replay, img, len, 0600, 0);
	free(img);
	return rc;
}

int
ctl_unwrap_main(int argc, char **argv)
{
	static const int allowed[] = { OPT_KMS, OPT_KMS_ID, OPT_ID,
	    OPT_PSK_FILE, OPT_CA_FILE, OPT_FROM, OPT_CTYPE, OPT_IN, OPT_OUT,
	    OPT_REPLAY, OPT_TIMEOUT, OPT_MAX_BODY, OPT_TRUST, OPT_REQUIRE_SIG,
	    OPT_CLOCK_OFFSET, 0 };
	struct imgate_ctx *ctx = NULL;
	struct imgate_result *r = NULL, *inner = NULL;
	const struct imgate_result *user;
	struct wopts o;
	uint8_t *in = NULL;
	size_t in_len = 0, max, i;
	FILE *rep;
	int rc, to_stdout;

	memset(&o, 0, sizeof(o));
	o.cmd = "unwrap";
	if ((rc = parse(&o, allowed, ctl_unwrap_usage, argc, argv)) != 0)
		return rc < 0 ? CTL_EXIT_OK : rc;
	if (!(o.kms && o.id && o.psk_file && o.from && o.ctype && o.in))
		return ctl_usage_error(o.cmd, "--kms, --id, --psk-file, --from, "
		    "--content-type and --in are required");
	ctl_no_core(o.cmd);
	to_stdout = o.out == NULL || strcmp(o.out, "-") == 0;
	rep = to_stdout ? stderr : stdout;
	rc = CTL_EXIT_FAIL;
	max = (o.max_body != 0 ? (size_t)o.max_body :
	    IMGATE_DEFAULT_MAX_BODY) + WRAP_OVERHEAD;
	if (ctl_read_input(o.in, max, &in, &in_len) != 0)
		goto done;
	if (make_ctx(&o, &ctx) != 0)
		goto done;
	if (o.trust != NULL && imgate_ctx_set_trust(ctx, o.trust) != 0) {
		ctl_errx("%s: cannot read the CA certificates in --trust %s",
		    o.cmd, o.trust);
		goto done;
	}
	if (o.replay != NULL && load_state(&o, ctx) != 0)
		goto done;
	if ((rc = imgate_unwrap(ctx, o.from, o.ctype, in, in_len, &r)) != 0) {
		refused(&o, ctx, "refused", rc);
		rc = CTL_EXIT_FAIL;
		goto done;
	}
	rc = CTL_EXIT_FAIL;
	/* the replay state first: a message shown must never be accepted
	 * again because its state was lost */
	if (o.replay != NULL && save_state(&o, ctx) != 0)
		goto done;
	/* a list's re-encryption: the author's entity is inside */
	if (strncmp(r->content_type, "message/cpim", 12) == 0 ||
	    (strncmp(r->content_type, "application/pkcs7-mime", 22) == 0 &&
	    strstr(r->content_type, "signed-data") != NULL)) {
		if ((rc = imgate_open_inner(ctx, r->content_type, r->body,
		    r->body_len, &inner)) != 0) {
			refused(&o, ctx, "refused (inner entity)", rc);
			rc = CTL_EXIT_FAIL;
			goto done;
		}
		rc = CTL_EXIT_FAIL;
	}
	user = inner != NULL ? inner : r;
	if (!to_stdout && ctl_write_file(o.cmd, o.out, user->body,
	    user->body_len, 0600, 0) != 0)
		goto done;
	fprintf(rep, "Verified sender: %s\n", r->sender);
	fprintf(rep, "Differs from From: %s\n", r->differs_from_sip_from ?
	    "yes (show the verified sender)" : "no");
	if (r->signer != NULL)
		fprintf(rep, "Signed by: %s\n", r->signer);
	for (i = 0; i < r->nto; i++)
		fprintf(rep, "CPIM To: %s\n", r->to[i]);
	for (i = 0; i < r->ncc; i++)
		fprintf(rep, "CPIM cc: %s\n", r->cc[i]);
	if (inner != NULL) {
		fprintf(rep, "Inner author: %s%s\n", inner->sender,
		    inner->signer != NULL ? " (signature verified)" :
		    " (unsigned: the list vouches for it)");
		fprintf(rep, "Inner To: %s\n", inner->nto > 0 ?
		    inner->to[0] : "-");
	}
	fprintf(rep, "Content-Type: %s\n", user->content_type);
	fprintf(rep, "Body: %zu bytes\n", user->body_len);
	if (to_stdout && user->body_len > 0 &&
	    fwrite(user->body, 1, user->body_len, stdout) !=
	    user->body_len) {
		ctl_errx("%s: cannot write the plaintext", o.cmd);
		goto done;
	}
	if (fflush(stdout) != 0 || ferror(rep)) {
		ctl_errx("%s: cannot write the output", o.cmd);
		goto done;
	}
	rc = CTL_EXIT_OK;
done:
	free(in);
	imgate_result_free(inner);
	imgate_result_free(r);
	imgate_ctx_free(ctx);
	return rc;
}
