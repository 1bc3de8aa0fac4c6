/*
 * tests/integ/kms_msg.c - build raw KMS requests for tests/integ/t_kms.sh
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 *	kms_msg request --id URI --psk-file F --to URI [--kms-id URI]
 *	    --out MSG
 *	kms_msg resolve --id URI --psk-file F --ticket TICKETFILE
 *	    [--kms-id URI] [--ago SECONDS] --out MSG
 *
 * Writes one fresh binary REQUEST_INIT_PSK (one-way profile, SHA-256
 * suite, one 32-byte TGK) or RESOLVE_INIT_PSK for the ticket of a ticket
 * file (kms/FORMATS.md section 5), for the test to POST with curl.  What
 * imgatectl cannot do on purpose, this does for the test:
 *
 *   - a message can be sent twice (the KMS's replay cache), or cut short;
 *   - --ago S checks the ticket's validity S seconds in the past, so an
 *     expired ticket still reaches the KMS (imgatectl ticket resolve, like
 *     any responder, refuses an expired ticket itself).  RESOLVE_INIT's
 *     own timestamp is the real time.
 *
 * A test tool: no key is printed, the PSK file is hex (whitespace
 * ignored) as written by "imgatectl kms user add --psk-out".
 * Exit status: 0 written, 1 failed, 2 usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mikey/mikey.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* unhex - hex digits of s (whitespace skipped) into out; -1 if bad */
static long
unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1, v;

	for (; *s != '\0'; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			continue;
		if ((v = hexval((unsigned char)*s)) < 0)
			return -1;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == cap)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi < 0 ? (long)n : -1;
}

/* slurp - a whole small text file, NUL-terminated; NULL on error */
static char *
slurp(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		perror(path);
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static struct mikey_id
uri(const char *s)
{
	struct mikey_id id;

	id.type = MIKEY_ID_URI;
	id.data.p = (const uint8_t *)(s ? s : "");
	id.data.len = s ? strlen(s) : 0;
	return id;
}

/* the real clock, S seconds ago */
static uint64_t
clock_ago(void *arg)
{
	return mikey_ntp_from_unix((int64_t)time(NULL) - *(long *)arg, 0);
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: kms_msg request --id URI --psk-file F --to URI "
	    "[--kms-id URI] --out MSG\n"
	    "       kms_msg resolve --id URI --psk-file F --ticket FILE "
	    "[--kms-id URI] [--ago S] --out MSG\n");
	return 2;
}

int
main(int argc, char **argv)
{
	static const struct mikey_env sysenv;
	const char *id = NULL, *pskf = NULL, *to = NULL, *kms_id = NULL;
	const char *out = NULL, *ticketf = NULL, *text;
	static uint8_t psk[MIKEY_MAX_KEY], msg[MIKEY_MAX_INIT],
	    ticket[MIKEY_MAX_TICKET];
	size_t len = 0;
	long psk_len, tlen, ago = 0;
	int i, rc;
	FILE *f;

	if (argc < 2)
		return usage();
	for (i = 2; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];

		if (strcmp(a, "--id") == 0)
			id = v;
		else if (strcmp(a, "--psk-file") == 0)
			pskf = v;
		else if (strcmp(a, "--to") == 0)
			to = v;
		else if (strcmp(a, "--kms-id") == 0)
			kms_id = v;
		else if (strcmp(a, "--out") == 0)
			out = v;
		else if (strcmp(a, "--ticket") == 0)
			ticketf = v;
		else if (strcmp(a, "--ago") == 0)
			ago = atol(v);
		else
			return usage();
	}
	if (i != argc || id == NULL || pskf == NULL || out == NULL)
		return usage();
	if ((text = slurp(pskf)) == NULL)
		return 1;
	if ((psk_len = unhex(text, psk, sizeof(psk))) < 16) {
		fprintf(stderr, "kms_msg: %s: not 16 to 64 bytes of hex\n",
		    pskf);
		return 1;
	}

	if (strcmp(argv[1], "request") == 0 && to != NULL) {
		struct mikey_request_params rp;
		static struct mikey_i_request st;

		memset(&rp, 0, sizeof(rp));
		rp.idi = uri(id);
		rp.idkms = uri(kms_id);
		rp.psk = psk;
		rp.psk_len = (size_t)psk_len;
		rp.suite = mikey_suite_256;
		rp.flags = MIKEY_TPF_ONEWAY;
		rp.ticket_prf = mikey_suite_256.prf;
		rp.nresp = 1;
		rp.resp[0] = uri(to);
		rp.nkeys = 1;
		rp.key_type[0] = MIKEY_KEY_TGK;
		rp.key_len[0] = 32;
		rc = mikey_i_request_init(&sysenv, &rp, &st, msg, sizeof(msg),
		    &len);
		mikey_i_request_cleanup(&st);
	} else if (strcmp(argv[1], "resolve") == 0 && ticketf != NULL) {
		static struct mikey_r_transfer x;
		static struct mikey_r_resolve st;
		struct mikey_env penv;
		struct mikey_cred me;
		const char *p;

		if ((text = slurp(ticketf)) == NULL)
			return 1;
		if ((p = strstr(text, "\nticket ")) == NULL) {
			fprintf(stderr, "kms_msg: %s: no ticket line\n",
			    ticketf);
			return 1;
		}
		p += strlen("\nticket ");
		{
			char hex[2 * MIKEY_MAX_TICKET + 1];
			size_t n = strcspn(p, "\n");

			if (n >= sizeof(hex)) {
				fprintf(stderr, "kms_msg: ticket too long\n");
				return 1;
			}
			memcpy(hex, p, n);
			hex[n] = '\0';
			if ((tlen = unhex(hex, ticket, sizeof(ticket))) <= 0) {
				fprintf(stderr, "kms_msg: bad ticket hex\n");
				return 1;
			}
		}
		memset(&penv, 0, sizeof(penv));
		penv.now = clock_ago;
		penv.now_arg = &ago;
		rc = mikey_r_ticket_parse(&penv, ticket, (size_t)tlen, &x,
		    NULL);
		if (rc != 0) {
			fprintf(stderr, "kms_msg: ticket: %s\n",
			    mikey_strerror(rc));
			return 1;
		}
		memset(&me, 0, sizeof(me));
		me.id = uri(id);
		me.idkms = uri(kms_id);
		me.psk = psk;
		me.psk_len = (size_t)psk_len;
		me.suite = mikey_suite_256;
		rc = mikey_r_resolve_init(&sysenv, &x, &me, &st, msg,
		    sizeof(msg), &len);
		mikey_r_resolve_cleanup(&st);
	} else
		return usage();
	mikey_cleanse(psk, sizeof(psk));
	if (rc != 0) {
		fprintf(stderr, "kms_msg: %s: %s\n", argv[1],
		    mikey_strerror(rc));
		return 1;
	}
	if ((f = fopen(out, "wb")) == NULL || fwrite(msg, 1, len, f) != len ||
	    fclose(f) != 0) {
		perror(out);
		return 1;
	}
	return 0;
}
