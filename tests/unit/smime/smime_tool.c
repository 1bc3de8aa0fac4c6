/*
 * tests/unit/smime/smime_tool.c - protect, unprotect, open and re-wrap
 * files with smime/ (for t_interop.sh; not installed)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 *	smime_tool protect --kek KEYHEX:IDHEX... [--aes256] --from URI
 *	    --to URI... [--cc URI...] [--time UNIX] [--type CT]
 *	    [--cert PEM --key PEM [--nocerts]] --in BODY --out DER
 *	smime_tool unprotect --kek KEYHEX:IDHEX... [--ctype CT] [--ca PEM]
 *	    [--certfile PEM] [--allow-unsigned] [--expect URI] --in DER
 *	    [--out BODY] [--entity-out BODY]
 *	smime_tool open --ctype CT [--ca ...] --in BODY [--out BODY]
 *	smime_tool rewrap --kek KEYHEX:IDHEX --new KEYHEX:IDHEX... --in DER
 *	    --out DER
 *
 * unprotect and open print what they found as key=value lines on stdout.
 * Exit status: 0 success, 1 an smime error ("error: <text>" on stderr),
 * 2 usage, 3 SMIME_ERR_IDENTITY (the fields are printed as well).
 */

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "smime/smime.h"

#define MAXFILE	(1024 * 1024)
#define MAXLIST	8

struct kek {
	uint8_t	 key[32];
	size_t	 key_len;
	uint8_t	 id[SMIME_MAX_KEY_ID];
	size_t	 id_len;
};

static struct kek keks[MAXLIST], news[MAXLIST];
static size_t nkeks, nnews;

static void
usage(void)
{
	fprintf(stderr, "usage: smime_tool protect|unprotect|open|rewrap "
	    "[options] (see the source)\n");
	exit(2);
}

/* unhex - hex into out (cap), -1 on bad input */
static int
unhex(const char *s, size_t n, uint8_t *out, size_t cap, size_t *len)
{
	size_t i;
	unsigned v;

	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (i = 0; i < n / 2; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

/* parse_kek - "KEYHEX:IDHEX" */
static void
parse_kek(const char *s, struct kek *k)
{
	const char *c = strchr(s, ':');

	if (c == NULL || unhex(s, (size_t)(c - s), k->key, sizeof(k->key),
	    &k->key_len) != 0 || unhex(c + 1, strlen(c + 1), k->id,
	    sizeof(k->id), &k->id_len) != 0)
		usage();
}

/* lookup - the smime_kek_cb over keks[] */
static int
lookup(void *arg, const uint8_t *id, size_t id_len, uint8_t *kek,
    size_t *kek_len)
{
	size_t i;

	(void)arg;
	for (i = 0; i < nkeks; i++)
		if (keks[i].id_len == id_len &&
		    memcmp(keks[i].id, id, id_len) == 0) {
			memcpy(kek, keks[i].key, keks[i].key_len);
			*kek_len = keks[i].key_len;
			return 0;
		}
	return -1;
}

static uint8_t *
slurp(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	uint8_t *buf;

	if (f == NULL || (buf = malloc(MAXFILE)) == NULL) {
		perror(path);
		exit(1);
	}
	*len = fread(buf, 1, MAXFILE, f);
	if (ferror(f) || !feof(f)) {
		fprintf(stderr, "%s: read error or too big\n", path);
		exit(1);
	}
	if (f != stdin)
		fclose(f);
	return buf;
}

static void
spit(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");

	if (f == NULL || fwrite(p, 1, n, f) != n || fflush(f) != 0) {
		perror(path);
		exit(1);
	}
	if (f != stdout)
		fclose(f);
}

static void
print_msg(const struct smime_msg *m)
{
	size_t i;

	if (m->kek_id != NULL) {
		printf("kek-id=");
		for (i = 0; i < m->kek_id_len; i++)
			printf("%02x", m->kek_id[i]);
		printf("\ncipher=%s\n", m->cipher == SMIME_AES_256_GCM ?
		    "aes-256-gcm" : "aes-128-gcm");
	}
	if (m->entity_type != NULL)
		printf("entity-type=%s\n", m->entity_type);
	printf("signed=%d\n", m->is_signed);
	for (i = 0; i < m->nsigner_uris; i++)
		printf("signer=%s\n", m->signer_uris[i]);
	if (m->verified_sender != NULL)
		printf("verified=%s\n", m->verified_sender);
	if (m->signing_time >= 0)
		printf("signing-time=%lld\n", (long long)m->signing_time);
	printf("from=%s\n", m->from);
	if (m->from_name != NULL)
		printf("from-name=%s\n", m->from_name);
	for (i = 0; i < m->nto; i++)
		printf("to=%s\n", m->to[i]);
	for (i = 0; i < m->ncc; i++)
		printf("cc=%s\n", m->cc[i]);
	printf("datetime=%lld\n", (long long)m->datetime);
	printf("content-type=%s\n", m->content_type);
	printf("body-length=%zu\n", m->body_len);
	printf("mismatch=%u\n", m->mismatch);
}

static X509 *
load_cert(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	if (x == NULL) {
		fprintf(stderr, "%s: no certificate\n", path);
		exit(1);
	}
	return x;
}

static EVP_PKEY *
load_key(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	if (k == NULL) {
		fprintf(stderr, "%s: no private key\n", path);
		exit(1);
	}
	return k;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kek", required_argument, NULL, 'k' },
		{ "new", required_argument, NULL, 'n' },
		{ "aes256", no_argument, NULL, '2' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "cc", required_argument, NULL, 'c' },
		{ "time", required_argument, NULL, 'T' },
		{ "type", required_argument, NULL, 'y' },
		{ "ctype", required_argument, NULL, 'Y' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "nocerts", no_argument, NULL, 'N' },
		{ "ca", required_argument, NULL, 'a' },
		{ "certfile", required_argument, NULL, 'F' },
		{ "allow-unsigned", no_argument, NULL, 'u' },
		{ "expect", required_argument, NULL, 'e' },
		{ "in", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "entity-out", required_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 }
	};
	struct smime_protect_args pa;
	struct smime_verify_opts vo;
	struct smime_signer signer;
	struct smime_kek sk[MAXLIST];
	struct smime_msg *msg = NULL;
	const char *to[MAXLIST], *cc[MAXLIST], *cmd, *in = NULL, *out = NULL;
	const char *entity_out = NULL, *cert = NULL, *key = NULL;
	const char *ca = NULL, *certfile = NULL, *ctype = NULL;
	uint8_t *buf, *der = NULL;
	size_t len, der_len = 0, i, nto = 0, ncc = 0;
	int c, err;

	if (argc < 2)
		usage();
	cmd = argv[1];
	memset(&pa, 0, sizeof(pa));
	memset(&vo, 0, sizeof(vo));
	memset(&signer, 0, sizeof(signer));
	pa.content_type = "text/plain; charset=utf-8";
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (nkeks == MAXLIST)
				usage();
			parse_kek(optarg, &keks[nkeks++]);
			break;
		case 'n':
			if (nnews == MAXLIST)
				usage();
			parse_kek(optarg, &news[nnews++]);
			break;
		case '2':
			pa.cipher = SMIME_AES_256_GCM;
			break;
		case 'f':
			pa.from = optarg;
			break;
		case 't':
			if (nto == MAXLIST)
				usage();
			to[nto++] = optarg;
			break;
		case 'c':
			if (ncc == MAXLIST)
				usage();
			cc[ncc++] = optarg;
			break;
		case 'T':
			pa.datetime = strtoll(optarg, NULL, 10);
			break;
		case 'y':
			pa.content_type = optarg;
			break;
		case 'Y':
			ctype = optarg;
			break;
		case 'C':
			cert = optarg;
			break;
		case 'K':
			key = optarg;
			break;
		case 'N':
			signer.no_certs = 1;
			break;
		case 'a':
			ca = optarg;
			break;
		case 'F':
			certfile = optarg;
			break;
		case 'u':
			vo.allow_unsigned = 1;
			break;
		case 'e':
			vo.expected_sender = optarg;
			break;
		case 'i':
			in = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'E':
			entity_out = optarg;
			break;
		default:
			usage();
		}
	}
	if (in == NULL || optind != argc)
		usage();
	buf = slurp(in, &len);
	vo.max_body = pa.max_body = 0;
	if (ca != NULL) {
		vo.trust = X509_STORE_new();
		if (X509_STORE_load_file(vo.trust, ca) != 1) {
			fprintf(stderr, "%s: cannot load\n", ca);
			return 1;
		}
	}
	if (certfile != NULL) {
		vo.certs = sk_X509_new_null();
		sk_X509_push(vo.certs, load_cert(certfile));
	}

	if (strcmp(cmd, "protect") == 0) {
		if (out == NULL || nkeks == 0)
			usage();
		for (i = 0; i < nkeks; i++) {
			sk[i].key = keks[i].key;
			sk[i].key_len = keks[i].key_len;
			sk[i].id = keks[i].id;
			sk[i].id_len = keks[i].id_len;
		}
		if (cert != NULL) {
			signer.cert = load_cert(cert);
			signer.key = load_key(key != NULL ? key : cert);
			pa.signer = &signer;
		}
		pa.to = to;
		pa.nto = nto;
		pa.cc = cc;
		pa.ncc = ncc;
		pa.body = buf;
		pa.body_len = len;
		pa.keks = sk;
		pa.nkeks = nkeks;
		err = smime_protect(&pa, &der, &der_len);
		if (err == 0)
			spit(out, der, der_len);
	} else if (strcmp(cmd, "unprotect") == 0 || strcmp(cmd, "open") == 0) {
		if (cmd[0] == 'u')
			err = smime_unprotect(buf, len, ctype, lookup, NULL,
			    &vo, &msg);
		else {
			if (ctype == NULL)
				usage();
			err = smime_open(ctype, buf, len, &vo, &msg);
		}
		if (msg != NULL) {
			print_msg(msg);
			if (out != NULL)
				spit(out, msg->body, msg->body_len);
			if (entity_out != NULL && msg->entity_body != NULL)
				spit(entity_out, msg->entity_body,
				    msg->entity_body_len);
		}
	} else if (strcmp(cmd, "rewrap") == 0) {
		if (out == NULL || nnews == 0)
			usage();
		for (i = 0; i < nnews; i++) {
			sk[i].key = news[i].key;
			sk[i].key_len = news[i].key_len;
			sk[i].id = news[i].id;
			sk[i].id_len = news[i].id_len;
		}
		err = smime_rewrap(buf, len, lookup, NULL, sk, nnews, 0, &der,
		    &der_len);
		if (err == 0)
			spit(out, der, der_len);
	} else
		usage();

	if (err != 0)
		fprintf(stderr, "error: %s\n", smime_strerror(err));
	smime_msg_free(msg);
	free(der);
	free(buf);
	X509_free(signer.cert);
	EVP_PKEY_free(signer.key);
	X509_STORE_free(vo.trust);
	sk_X509_pop_free(vo.certs, X509_free);
	if (err == SMIME_ERR_IDENTITY)
		return 3;
	return err == 0 ? 0 : 1;
}
