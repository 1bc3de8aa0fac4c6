/*
 * tests/unit/kms/t_policy.c - imgate-kms policy: patterns, kms.conf, the
 *	users file, authorisation decisions, end to end with libmikey (TAP)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * 1. kms_pattern_match and kms_pattern_overlap tables (FORMATS.md 2).
 * 2. kms_pattern_check, kms_uri_norm, kms_hostport_split.
 * 3. kms.conf: every key read; a table of bad files and their messages.
 * 4. The users file: good and bad, and no message shows a PSK.
 * 5. Decisions of the mikey_kms_ops: REQUEST and RESOLVE tables for
 *    named, group member (explicit and wildcard), exploder, network
 *    function, act_for, IDRpsk, and others; the master key lookups.
 * 6. End to end: mikey_kms_process with these ops, real messages from
 *    the library's initiator and responder functions.
 * 7. The Prometheus text of the metrics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "kms/kms.h"
#include "mikey/mikey.h"
#include "tests/tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------- */
/* 1, 2. Patterns */

static void
test_match(void)
{
	static const struct {
		const char *pat, *s;
		int want;
	} t[] = {
		{ "sip:*@corp.example", "sip:alice@corp.example", 1 },
		{ "sip:*@corp.example", "sip:alice@CORP.Example", 1 },
		{ "SIP:*@corp.example", "sip:alice@corp.example", 1 },
		{ "sip:*@corp.example", "Sip:alice@corp.example", 1 },
		{ "sip:Alice@corp.example", "sip:alice@corp.example", 0 },
		{ "sip:alice@corp.example", "sip:alice@corp.example", 1 },
		{ "sip:alice@corp.example", "sip:alice@corp.example2", 0 },
		{ "sip:alice@corp.example", "sip:alice@corp.exampl", 0 },
		{ "sip:alice@*.corp.example", "sip:alice@dev.corp.example", 1 },
		{ "sip:alice@*.corp.example", "sip:alice@a.b.corp.example", 1 },
		{ "sip:alice@*.corp.example", "sip:alice@corp.example", 0 },
		{ "sip:alice@*.corp.example", "sip:alice@evilcorp.example", 0 },
		{ "sip:*@corp.example", "sip:alice@evil.example", 0 },
		{ "sip:*@corp.example", "sip:alice@corp.example.evil", 0 },
		{ "sip:*@corp.example", "sips:alice@corp.example", 0 },
		{ "sip:*@corp.example", "sip:corp.example", 0 },
		{ "sip:*@corp.example", "sip:a@b@corp.example", 0 },
		{ "sip:alice@*", "sip:alice@x@y", 0 },
		{ "sip:*@*", "sip:x@y", 1 },
		{ "sip:a*e@corp.example", "sip:alice@corp.example", 1 },
		{ "sip:a*e@corp.example", "sip:ae@corp.example", 1 },
		{ "sip:a*e@corp.example", "sip:alicx@corp.example", 0 },
		{ "sip:*ice@corp.example", "sip:alice@corp.example", 1 },
		{ "sip:**@corp.example", "sip:bob@corp.example", 1 },
		{ "sip:*a*a*@h", "sip:banana@h", 1 },
		{ "sip:*a*a*a*a@h", "sip:banana@h", 0 },
		{ "tel:+1555*", "tel:+15551234", 1 },
		{ "tel:+1555*", "tel:+1666", 0 },
		{ "sip:*@corp.example", "", 0 },
		{ "notauri", "notauri", 0 },
	};
	size_t i;

	for (i = 0; i < NELEM(t); i++)
		is_int(kms_pattern_match(t[i].pat, t[i].s, strlen(t[i].s)),
		    t[i].want, "match %s against %s", t[i].pat, t[i].s);
	/* the length is honoured: nothing after it is read */
	is_int(kms_pattern_match("sip:alice@corp.example",
	    "sip:alice@corp.exampleXYZ", 22), 1, "match uses len");
	is_int(kms_pattern_match("sip:alice@corp.example",
	    "sip:alice@corp.example\0", 23), 0, "a NUL byte is a character");
}

static void
test_overlap(void)
{
	static const struct {
		const char *a, *b;
		int want;
	} t[] = {
		{ "sip:*@corp.example", "sip:alice@corp.example", 1 },
		{ "sip:*@corp.example", "sip:*@dev.corp.example", 0 },
		{ "sip:*@*.corp.example", "sip:*@dev.corp.example", 1 },
		{ "sip:a*@corp.example", "sip:*b@corp.example", 1 },
		{ "sip:a*@corp.example", "sip:b*@corp.example", 0 },
		{ "sip:*@CORP.example", "sip:bob@corp.EXAMPLE", 1 },
		{ "sip:Bob@corp.example", "sip:bob@corp.example", 0 },
		{ "sip:*@corp.example", "sips:*@corp.example", 0 },
		{ "sip:x*y@h", "sip:*z*@h", 1 },
		{ "sip:ab@h", "sip:a*b@h", 1 },
		{ "sip:a@h", "sip:a*b@h", 0 },
		{ "sip:*@h", "sip:h", 0 },
		{ "sip:*@*", "sip:li@corp.example", 1 },
		{ "sip:a*c*e@h", "sip:*b*d*@h", 1 },
		{ "sip:abc@h", "sip:abc@h", 1 },
		{ "sip:abc@h", "sip:abd@h", 0 },
	};
	size_t i;

	for (i = 0; i < NELEM(t); i++) {
		is_int(kms_pattern_overlap(t[i].a, t[i].b), t[i].want,
		    "overlap %s and %s", t[i].a, t[i].b);
		is_int(kms_pattern_overlap(t[i].b, t[i].a), t[i].want,
		    "overlap %s and %s (swapped)", t[i].b, t[i].a);
	}
}

static void
test_check(void)
{
	static const struct {
		const char *pat;
		int wild, want;
		const char *why;
	} t[] = {
		{ "sip:alice@corp.example", 0, 0, NULL },
		{ "sip:*@corp.example", 1, 0, NULL },
		{ "sip:*@corp.example", 0, -1, "no '*'" },
		{ "tel:+15551234", 0, 0, NULL },
		{ "", 1, -1, "empty" },
		{ "alice", 1, -1, "not a URI" },
		{ ":alice@corp", 1, -1, "not a URI" },
		{ "1sip:a@b", 1, -1, "start with a letter" },
		{ "s_p:a@b", 1, -1, "not allowed in the scheme" },
		{ "sip:@corp.example", 1, -1, "empty user part" },
		{ "sip:alice@", 1, -1, "empty host" },
		{ "sip:a@b@c", 1, -1, "more than one '@'" },
		{ "sip:alice @corp", 1, -1, "spaces" },
		{ "sip:alice@corp\x01", 1, -1, "control" },
	};
	char err[KMS_ERR_LEN], big[300];
	size_t i;
	int rc;

	for (i = 0; i < NELEM(t); i++) {
		err[0] = '\0';
		rc = kms_pattern_check(t[i].pat, t[i].wild, err, sizeof(err));
		ok(rc == t[i].want && (t[i].why == NULL ||
		    strstr(err, t[i].why) != NULL),
		    "check \"%s\" wild=%d: %d %s", t[i].pat, t[i].wild, rc,
		    err);
	}
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "sip:", 4);
	big[sizeof(big) - 1] = '\0';
	ok(kms_pattern_check(big, 1, err, sizeof(err)) == -1 &&
	    strstr(err, "longer than 255") != NULL, "too long: %s", err);
}

static void
test_norm(void)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "SIP:Alice@Corp.Example", "sip:Alice@corp.example" },
		{ "sip:alice@corp.example", "sip:alice@corp.example" },
		{ "TEL:+1555", "tel:+1555" },
		{ "opaque", "opaque" },
		{ "sip:a b@c", NULL },
		{ "", NULL },
	};
	char out[KMS_URI_MAX + 1];
	size_t i;
	int n;

	for (i = 0; i < NELEM(t); i++) {
		n = kms_uri_norm(t[i].in, strlen(t[i].in), out, sizeof(out));
		if (t[i].want == NULL)
			is_int(n, -1, "norm \"%s\" refused", t[i].in);
		else
			ok(n == (int)strlen(t[i].want) &&
			    strcmp(out, t[i].want) == 0, "norm %s -> %s "
			    "(got %s)", t[i].in, t[i].want, n < 0 ? "-" : out);
	}
	is_int(kms_uri_norm("sip:a@b", 7, out, 7), -1, "norm: cap too small");
	is_int(kms_uri_norm("sip:a@b\0x", 9, out, sizeof(out)), -1,
	    "norm: NUL refused");
}

static void
test_hostport(void)
{
	static const struct {
		const char *in, *host;
		int port;
	} t[] = {
		{ "127.0.0.1:8470", "127.0.0.1", 8470 },
		{ "[::1]:8470", "::1", 8470 },
		{ "localhost:0", "localhost", 0 },
		{ "0.0.0.0:65535", "0.0.0.0", 65535 },
		{ "127.0.0.1:65536", NULL, 0 },
		{ "127.0.0.1", NULL, 0 },
		{ "127.0.0.1:", NULL, 0 },
		{ ":8470", NULL, 0 },
		{ "::1:8470", NULL, 0 },
		{ "[::1:8470", NULL, 0 },
		{ "127.0.0.1:84x", NULL, 0 },
		{ "127.0.0.1:-1", NULL, 0 },
		{ "127.0.0.1:8470 ; comment", NULL, 0 },
	};
	char host[64];
	uint16_t port;
	size_t i;
	int rc;

	for (i = 0; i < NELEM(t); i++) {
		rc = kms_hostport_split(t[i].in, host, sizeof(host), &port);
		if (t[i].host == NULL)
			is_int(rc, -1, "hostport \"%s\" refused", t[i].in);
		else
			ok(rc == 0 && strcmp(host, t[i].host) == 0 &&
			    port == t[i].port, "hostport %s -> %s %d",
			    t[i].in, t[i].host, t[i].port);
	}
}

/* ---------------------------------------------------------------------- */
/* 3. kms.conf */

static const char conf_text[] =
	"# a comment\n"
	"[kms]\n"
	"id = sip:kms@corp.example\n"
	"listen = 127.0.0.1:8470, [::1]:8471\n"
	"path = /k\n"
	"master_keys = kms-master.keys\n"
	"users = /abs/users.conf\n"
	"ticket_lifetime = 86400\n"
	"max_ticket_lifetime = 172800\n"
	"clock_skew = 120\n"
	"replay_cache_entries = 1000\n"
	"max_body = 4096\n"
	"max_headers = 2048\n"
	"timeout = 5\n"
	"metrics = false\n"
	"log_level = debug\n"
	"\n"
	"[group sip:team@corp.example]\n"
	"members = sip:alice@corp.example; sip:*@dev.corp.example\n"
	"exploders = sip:lists@corp.example\n"
	"\n"
	"[group sip:partners@CORP.example]\n"
	"members = sip:*@partner.example;\n"
	"\n"
	"[network-functions]\n"
	"resolve_any = sip:li@corp.example\n";

static struct kms_conf *
conf_from(const char *text, char *err, size_t errlen)
{
	struct kms_conf *c = NULL;

	if (kms_conf_parse("/etc/imgate/kms.conf", text, strlen(text), &c,
	    err, errlen) != 0)
		return NULL;
	return c;
}

static void
test_conf_good(void)
{
	struct kms_conf *c;
	char err[KMS_ERR_LEN] = "";
	const struct kms_group *g;

	c = conf_from(conf_text, err, sizeof(err));
	ok(c != NULL, "full kms.conf parses (%s)", err);
	if (c == NULL)
		return;
	ok(strcmp(c->id, "sip:kms@corp.example") == 0, "id");
	ok(c->listen.n == 2 && strcmp(c->listen.v[0], "127.0.0.1:8470") == 0 &&
	    strcmp(c->listen.v[1], "[::1]:8471") == 0, "listen, two");
	is_int(c->tls_listen.n, 0, "no tls_listen");
	ok(strcmp(c->path, "/k") == 0, "path");
	ok(strcmp(c->master_keys, "/etc/imgate/kms-master.keys") == 0,
	    "master_keys relative to the file: %s", c->master_keys);
	ok(strcmp(c->users, "/abs/users.conf") == 0, "users absolute");
	is_int(c->ticket_lifetime, 86400, "ticket_lifetime");
	is_int(c->max_ticket_lifetime, 172800, "max_ticket_lifetime");
	is_int(c->clock_skew, 120, "clock_skew");
	is_int(c->replay_cache_entries, 1000, "replay_cache_entries");
	is_int(c->max_body, 4096, "max_body");
	is_int(c->max_headers, 2048, "max_headers");
	is_int(c->timeout, 5, "timeout");
	is_int(c->metrics, 0, "metrics");
	is_int(c->log_level, LOG_LEVEL_DEBUG, "log_level");
	is_int(c->ngroups, 2, "two groups");
	g = kms_conf_group(c, "sip:team@corp.example", 21);
	ok(g != NULL && g->members.n == 2 && g->exploders.n == 1 &&
	    strcmp(g->members.v[1], "sip:*@dev.corp.example") == 0,
	    "group team: members and exploders, blanks trimmed");
	g = kms_conf_group(c, "SIP:partners@corp.EXAMPLE", 25);
	ok(g != NULL && g->members.n == 1, "group found case-insensitively "
	    "in scheme and host; trailing ';' ignored");
	ok(kms_conf_group(c, "sip:Team@corp.example", 21) == NULL,
	    "group user part is case-sensitive");
	ok(c->netfn.n == 1 && strcmp(c->netfn.v[0], "sip:li@corp.example") ==
	    0, "resolve_any");
	kms_conf_free(c);

	c = conf_from("[kms]\nid = sip:kms@x.example\n", err, sizeof(err));
	ok(c != NULL, "minimal kms.conf (%s)", err);
	if (c == NULL)
		return;
	ok(c->listen.n == 1 && strcmp(c->listen.v[0], "127.0.0.1:8470") == 0,
	    "default listen");
	ok(strcmp(c->path, "/mikey") == 0, "default path");
	ok(strcmp(c->users, "/etc/imgate/kms-users.conf") == 0,
	    "default users");
	is_int(c->ticket_lifetime, 2592000, "default ticket_lifetime");
	is_int(c->max_ticket_lifetime, 7776000, "default max");
	is_int(c->clock_skew, 300, "default clock_skew");
	is_int(c->replay_cache_entries, 1000000, "default replay cache");
	is_int(c->max_body, 16384, "default max_body");
	is_int(c->max_headers, 8192, "default max_headers");
	is_int(c->timeout, 10, "default timeout");
	is_int(c->metrics, 1, "default metrics");
	is_int(c->log_level, LOG_LEVEL_INFO, "default log_level");
	kms_conf_free(c);
}

static void
test_conf_bad(void)
{
	static const struct {
		const char *text;
		const char *want1, *want2;
	} t[] = {
		{ "", "no [kms] section", NULL },
		{ "id = x\n", "kms.conf", "(comments are lines" },
		{ "[kms]\nlisten = 127.0.0.1:1\n", "[kms] id", "required" },
		{ "[kms]\nid = kms\n", "[kms] id", "not a URI" },
		{ "[kms]\nid = sip:k@x\nlissten = 1\n", "[kms] lissten",
		    "unknown key" },
		{ "[kms]\nid = sip:k@x\nmax_body = abc\n", "[kms] max_body",
		    "from 64 to 65535, not \"abc\"" },
		{ "[kms]\nid = sip:k@x\nmax_body = 70000\n", "max_body",
		    "65535" },
		{ "[kms]\nid = sip:k@x\ntimeout = -1\n", "timeout", "from 1" },
		{ "[kms]\nid = sip:k@x\ntimeout = 0x10\n", "timeout", "0x10" },
		{ "[kms]\nid = sip:k@x\nclock_skew = 10 s\n", "clock_skew",
		    NULL },
		{ "[kms]\nid = sip:k@x\nlisten = 127.0.0.1:8470 ; comment\n",
		    "[kms] listen", "not host:port" },
		{ "[kms]\nid = sip:k@x\nlisten = \n", "listen",
		    "no address" },
		{ "[kms]\nid = sip:k@x\ntls_listen = 127.0.0.1:8443\n",
		    "tls_listen", "needs tls_cert and tls_key" },
		{ "[kms]\nid = sip:k@x\npath = mikey\n", "[kms] path",
		    "start with '/'" },
		{ "[kms]\nid = sip:k@x\npath = /metrics\n", "path", NULL },
		{ "[kms]\nid = sip:k@x\nticket_lifetime = 100\n"
		    "max_ticket_lifetime = 50\n", "max_ticket_lifetime",
		    "less than ticket_lifetime" },
		{ "[kms]\nid = sip:k@x\nmetrics = maybe\n", "metrics",
		    "true or false" },
		{ "[kms]\nid = sip:k@x\nlog_level = loud\n", "log_level",
		    "debug, info or warn" },
		{ "[kms]\nid = sip:k@x\n[groups sip:t@x]\nmembers = sip:a@x\n",
		    "[groups sip:t@x]", "unknown section" },
		{ "[kms]\nid = sip:k@x\n[group sip:*@x]\nmembers = sip:a@x\n",
		    "[group sip:*@x]", "no '*'" },
		{ "[kms]\nid = sip:k@x\n[group sip:t@x]\nmembers = alice\n",
		    "[group sip:t@x] members", "not a URI" },
		{ "[kms]\nid = sip:k@x\n[group sip:t@x]\n", "[group sip:t@x]",
		    "no members" },
		{ "[kms]\nid = sip:k@x\n[group sip:t@x]\nmember = sip:a@x\n",
		    "[group sip:t@x] member", "unknown key" },
		{ "[kms]\nid = sip:k@x\n[group sip:t@x]\nmembers = sip:a@x\n"
		    "[group sip:t@X]\nmembers = sip:b@x\n", "[group sip:t@X]",
		    "appears twice" },
		{ "[kms]\nid = sip:k@x\n[network-functions]\nresolve_any = "
		    "li\n", "[network-functions] resolve_any", "not a URI" },
		{ "[kms]\nid = sip:k@x\n[network-functions]\nresolve = "
		    "sip:li@x\n", "resolve", "unknown key" },
	};
	struct kms_conf *c;
	char err[KMS_ERR_LEN];
	size_t i;

	for (i = 0; i < NELEM(t); i++) {
		err[0] = '\0';
		c = conf_from(t[i].text, err, sizeof(err));
		ok(c == NULL && strstr(err, "/etc/imgate/kms.conf: ") == err &&
		    strstr(err, t[i].want1) != NULL && (t[i].want2 == NULL ||
		    strstr(err, t[i].want2) != NULL),
		    "bad kms.conf %zu: \"%s\"", i, err);
		kms_conf_free(c);
	}
}

/* ---------------------------------------------------------------------- */
/* 4. The users file */

/* The users of the decision tests, each with a distinct PSK. */
static const struct {
	const char *id;
	const char *extra;
} users_tab[] = {
	{ "sip:alice@corp.example", NULL },
	{ "sip:bob@corp.example", NULL },
	{ "sip:eve@corp.example", NULL },
	{ "sip:dave@dev.corp.example", NULL },
	{ "sip:lists@corp.example", NULL },
	{ "sip:li@corp.example", NULL },
	{ "sip:gw@corp.example", "act_for = sip:*@corp.example\n" },
	{ "sip:gw@partner.example", "act_for = sip:*@partner.example\n" },
	{ "sip:sneaky@corp.example", "act_for = sip:li@corp.example\n" },
	{ "sip:short@corp.example", "lifetime = 3600\n" },
	{ "SIP:Upper@CORP.EXAMPLE", NULL },
};

/* psk_hex - the PSK of user i: 32 bytes, i + 1 everywhere */
static void
psk_hex(size_t i, char *out)
{
	size_t j;

	for (j = 0; j < 32; j++)
		snprintf(out + 2 * j, 3, "%02x", (unsigned)(i + 1));
}

static char *
users_text(void)
{
	static char text[8192];
	char hex[65];
	size_t i, off = 0;

	for (i = 0; i < NELEM(users_tab); i++) {
		psk_hex(i, hex);
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		    "[user %s]\npsk = %s\n%s\n", users_tab[i].id, hex,
		    users_tab[i].extra ? users_tab[i].extra : "");
	}
	return text;
}

static void
test_users(void)
{
	static const struct {
		const char *text;
		const char *want1, *want2;
	} t[] = {
		{ "[user sip:a@x]\npsk = 0001\n", "[user sip:a@x] psk",
		    "32 to 128 hex digits" },
		{ "[user sip:a@x]\npsk = 00010203040506070809 0a0b0c0d0e0f\n",
		    "psk", "hex digit" },
		{ "[user sip:a@x]\npsk = "
		    "zz0102030405060708090a0b0c0d0e0f\n", "psk", "hex digit" },
		{ "[user sip:a@x]\nact_for = sip:*@x\n", "[user sip:a@x] psk",
		    "required" },
		{ "[user sip:a@x]\npsk = 000102030405060708090a0b0c0d0e0f\n"
		    "act_for = corp\n", "act_for", "not a URI" },
		{ "[user sip:a@x]\npsk = 000102030405060708090a0b0c0d0e0f\n"
		    "lifetime = 0\n", "lifetime", "from 1" },
		{ "[user sip:a@x]\npsk = 000102030405060708090a0b0c0d0e0f\n"
		    "colour = red\n", "colour", "unknown key" },
		{ "[user sip:a@x]\npsk = 000102030405060708090a0b0c0d0e0f\n"
		    "[user sip:a@X]\npsk = 000102030405060708090a0b0c0d0e0f\n",
		    "[user sip:a@X]", "appears twice" },
		{ "[sip:a@x]\npsk = 000102030405060708090a0b0c0d0e0f\n",
		    "[sip:a@x]", "unknown section" },
		{ "[user sip:*@x]\npsk = 000102030405060708090a0b0c0d0e0f\n",
		    "[user sip:*@x]", "no '*'" },
		{ "psk = 00\n", "users.conf", NULL },
	};
	struct kms_users *u;
	const struct kms_user *a;
	char err[KMS_ERR_LEN], *text = users_text();
	uint8_t want[32];
	size_t i;

	u = NULL;
	is_int(kms_users_parse("users.conf", text, strlen(text), &u, err,
	    sizeof(err)), 0, "users file parses");
	if (u != NULL) {
		is_int(u->n, NELEM(users_tab), "all users");
		a = kms_users_find(u, "sip:bob@corp.example", 20);
		memset(want, 2, sizeof(want));
		ok(a != NULL && a->psk_len == 32 && memcmp(a->psk, want, 32) ==
		    0, "bob's PSK");
		a = kms_users_find(u, "sip:gw@corp.example", 19);
		ok(a != NULL && a->act_for.n == 1, "gw's act_for");
		a = kms_users_find(u, "sip:short@corp.example", 22);
		ok(a != NULL && a->lifetime == 3600, "short's lifetime");
		ok(kms_users_find(u, "sip:Upper@corp.example", 22) != NULL,
		    "user found with normalised scheme and host");
		ok(kms_users_find(u, "sip:upper@corp.example", 22) == NULL,
		    "user part stays case-sensitive");
		ok(kms_users_find(u, "sip:bob@corp.example\0", 21) == NULL,
		    "an identity with a NUL byte finds nobody");
		kms_users_free(u);
	}
	for (i = 0; i < NELEM(t); i++) {
		u = NULL;
		err[0] = '\0';
		ok(kms_users_parse("users.conf", t[i].text, strlen(t[i].text),
		    &u, err, sizeof(err)) == -1 && u == NULL &&
		    strstr(err, t[i].want1) != NULL && (t[i].want2 == NULL ||
		    strstr(err, t[i].want2) != NULL) &&
		    strstr(err, "0a0b0c") == NULL && strstr(err, "0203") ==
		    NULL, "bad users file %zu (no PSK in the message): \"%s\"",
		    i, err);
		kms_users_free(u);
	}
}

/* ---------------------------------------------------------------------- */
/* 5. Decisions */

#define H32(b)	b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b b
#define KEYS_TEXT \
	"1 retired 1 " H32("01") "\n" \
	"2 active 2 " H32("02") "\n" \
	"3 current 3 " H32("03") "\n"

static struct kms_policy pol;
static struct kms_conf *pol_conf;	/* owners of what pol aliases */
static struct kms_users *pol_users;
static struct kms_keys *pol_keys;

static struct mikey_id
uri(const char *s)
{
	struct mikey_id id;

	id.type = MIKEY_ID_URI;
	id.data.p = (const uint8_t *)s;
	id.data.len = strlen(s);
	return id;
}

static int
setup_policy(void)
{
	struct kms_conf *c;
	struct kms_users *u = NULL;
	struct kms_keys *k = NULL;
	char err[KMS_ERR_LEN] = "", *text = users_text();

	c = conf_from(conf_text, err, sizeof(err));
	if (c == NULL || kms_users_parse("users", text, strlen(text), &u, err,
	    sizeof(err)) != 0 || kms_keys_parse(KEYS_TEXT, strlen(KEYS_TEXT),
	    &k, err, sizeof(err)) != 0) {
		ok(0, "setup policy: %s", err);
		return -1;
	}
	memset(&pol, 0, sizeof(pol));
	pol.conf = pol_conf = c;
	pol.users = pol_users = u;
	pol.keys = pol_keys = k;
	memset(pol.dummy_psk, 0x5a, sizeof(pol.dummy_psk));
	return 0;
}

static void
teardown_policy(void)
{
	kms_conf_free(pol_conf);
	kms_users_free(pol_users);
	kms_keys_free(pol_keys);
}

/*
 * authenticate - what mikey_kms_process does before the authorise calls:
 *	psk() with the requester (and, if owner differs, IDRpsk = owner)
 */
static void
authenticate(const char *owner, const char *requester, uint8_t *key,
    size_t *len)
{
	struct mikey_id idr = uri(requester), idp = uri(owner);

	kms_policy_begin(&pol);
	*len = MIKEY_MAX_KEY;
	(void)kms_policy_ops.psk(&pol, &idr, strcmp(owner, requester) ?
	    &idp : NULL, key, len);
}

static void
test_request_decisions(void)
{
	static const struct {
		const char *owner, *requester, *idi;
		size_t nresp;
		int want;
		const char *why;
	} t[] = {
		{ "sip:alice@corp.example", "sip:alice@corp.example",
		    "sip:alice@corp.example", 1, 0, NULL },
		{ "sip:alice@corp.example", "sip:alice@corp.example",
		    "sip:bob@corp.example", 1, -1,
		    "idi_not_requester_or_act_for" },
		{ "sip:alice@corp.example", "sip:alice@corp.example",
		    "sip:alice@corp.example", 0, -1, "no_responder" },
		{ "sip:gw@corp.example", "sip:gw@corp.example",
		    "sip:alice@corp.example", 1, 0, NULL },
		{ "sip:gw@corp.example", "sip:gw@corp.example",
		    "sip:x@partner.example", 1, -1,
		    "idi_not_requester_or_act_for" },
		{ "sip:gw@partner.example", "sip:gw@partner.example",
		    "sip:x@partner.example", 1, 0, NULL },
		/* IDRi = alice, IDRpsk = gw: gw acts for alice */
		{ "sip:gw@corp.example", "sip:alice@corp.example",
		    "sip:alice@corp.example", 1, 0, NULL },
		/* IDRi = bob, IDRpsk = alice: alice may not speak for bob */
		{ "sip:alice@corp.example", "sip:bob@corp.example",
		    "sip:bob@corp.example", 1, -1,
		    "psk_owner_may_not_act_for_requester" },
		{ "sip:nobody@corp.example", "sip:nobody@corp.example",
		    "sip:nobody@corp.example", 1, -1, "unknown_identity" },
		/* scheme and host case do not matter, the user part does */
		{ "SIP:alice@Corp.Example", "SIP:alice@Corp.Example",
		    "sip:alice@corp.example", 1, 0, NULL },
		{ "sip:Alice@corp.example", "sip:Alice@corp.example",
		    "sip:Alice@corp.example", 1, -1, "unknown_identity" },
	};
	struct mikey_grant g;
	struct mikey_id req;
	uint8_t key[MIKEY_MAX_KEY];
	size_t i, len;
	uint64_t start;
	int rc;

	for (i = 0; i < NELEM(t); i++) {
		authenticate(t[i].owner, t[i].requester, key, &len);
		memset(&g, 0, sizeof(g));
		g.idi = uri(t[i].idi);
		g.nresp = t[i].nresp;
		g.resp[0] = uri("sip:bob@corp.example");
		g.start = mikey_ntp_from_unix(1764000000, 0);
		g.end = g.start + (86400ull << 32);
		req = uri(t[i].requester);
		rc = kms_policy_ops.authorise_request(&pol, &req, &g);
		ok(rc == t[i].want && (t[i].why == NULL ||
		    (pol.call.why != NULL && strcmp(pol.call.why,
		    t[i].why) == 0)),
		    "REQUEST owner=%s requester=%s idi=%s nresp=%zu: %s (%s)",
		    t[i].owner, t[i].requester, t[i].idi, t[i].nresp,
		    rc == 0 ? "allowed" : "refused",
		    pol.call.why ? pol.call.why : "-");
	}

	/* the psk callback: known users get their PSK, others the dummy */
	authenticate("sip:bob@corp.example", "sip:bob@corp.example", key,
	    &len);
	ok(len == 32 && key[0] == 2 && pol.call.principal != NULL &&
	    !pol.call.unknown, "psk: bob's key, bob is the principal");
	authenticate("sip:nobody@corp.example", "sip:nobody@corp.example",
	    key, &len);
	ok(len == 32 && key[0] == 0x5a && pol.call.principal == NULL &&
	    pol.call.unknown, "psk: an unknown identity gets the dummy key");

	/* per-user lifetime narrows the grant */
	authenticate("sip:short@corp.example", "sip:short@corp.example", key,
	    &len);
	memset(&g, 0, sizeof(g));
	g.idi = uri("sip:short@corp.example");
	g.nresp = 1;
	g.resp[0] = uri("sip:bob@corp.example");
	start = g.start = mikey_ntp_from_unix(1764000000, 0);
	g.end = g.start + (86400ull << 32);
	req = uri("sip:short@corp.example");
	is_int(kms_policy_ops.authorise_request(&pol, &req, &g), 0,
	    "short may request");
	is_int(mikey_ntp_to_unix(g.end) - mikey_ntp_to_unix(start), 3600,
	    "short's ticket is cut to its lifetime");
	g.end = g.start + (600ull << 32);
	is_int(kms_policy_ops.authorise_request(&pol, &req, &g), 0,
	    "short asks less");
	is_int(mikey_ntp_to_unix(g.end) - mikey_ntp_to_unix(start), 600,
	    "a shorter request stays as asked");
}

static void
test_resolve_decisions(void)
{
	static const struct {
		const char *owner;
		const char *resp[3];
		int want, netfn;
	} t[] = {
		{ "sip:bob@corp.example", { "sip:bob@corp.example" }, 0, 0 },
		{ "sip:eve@corp.example", { "sip:bob@corp.example" }, -1, 0 },
		{ "sip:bob@corp.example", { "SIP:bob@CORP.example" }, 0, 0 },
		{ "sip:alice@corp.example", { "sip:team@corp.example" }, 0, 0 },
		{ "sip:dave@dev.corp.example", { "sip:team@corp.example" }, 0,
		    0 },
		{ "sip:eve@corp.example", { "sip:team@corp.example" }, -1, 0 },
		{ "sip:lists@corp.example", { "sip:team@corp.example" }, 0, 0 },
		{ "sip:lists@corp.example", { "sip:partners@corp.example" },
		    -1, 0 },
		{ "sip:li@corp.example", { "sip:bob@corp.example" }, 0, 1 },
		{ "sip:li@corp.example", { "sip:x@elsewhere.example" }, 0, 1 },
		{ "sip:gw@corp.example", { "sip:bob@corp.example" }, 0, 0 },
		{ "sip:gw@corp.example", { "sip:team@corp.example" }, 0, 0 },
		{ "sip:gw@corp.example", { "sip:x@partner.example" }, -1, 0 },
		{ "sip:gw@partner.example", { "sip:bob@corp.example" }, -1, 0 },
		{ "sip:gw@partner.example", { "sip:partners@corp.example" }, 0,
		    0 },
		{ "sip:gw@partner.example", { "sip:team@corp.example" }, -1,
		    0 },
		/* acting for a network function gives no such power */
		{ "sip:sneaky@corp.example", { "sip:bob@corp.example" }, -1,
		    0 },
		{ "sip:eve@corp.example", { "sip:bob@corp.example",
		    "sip:team@corp.example" }, -1, 0 },
		{ "sip:alice@corp.example", { "sip:bob@corp.example",
		    "sip:team@corp.example" }, 0, 0 },
		{ "sip:bob@corp.example", { "sip:carol@corp.example",
		    "sip:x@y.example", "sip:bob@corp.example" }, 0, 0 },
		{ "sip:nobody@corp.example", { "sip:nobody@corp.example" }, -1,
		    0 },
	};
	struct mikey_policy p;
	struct mikey_id req;
	uint8_t key[MIKEY_MAX_KEY];
	size_t i, j, len;
	int rc;

	for (i = 0; i < NELEM(t); i++) {
		authenticate(t[i].owner, t[i].owner, key, &len);
		memset(&p, 0, sizeof(p));
		p.has_idi = 1;
		p.idi = uri("sip:alice@corp.example");
		for (j = 0; j < 3 && t[i].resp[j] != NULL; j++)
			p.resp[p.nresp++] = uri(t[i].resp[j]);
		req = uri(t[i].owner);
		rc = kms_policy_ops.authorise_resolve(&pol, &req, &p);
		ok(rc == t[i].want && pol.call.netfn == t[i].netfn,
		    "RESOLVE by %s of a ticket for %s%s%s: %s%s (%s)",
		    t[i].owner, t[i].resp[0], t[i].resp[1] ? ",.." : "", "",
		    rc == 0 ? "allowed" : "refused",
		    pol.call.netfn ? " as network function" : "",
		    pol.call.why ? pol.call.why : "-");
	}

	/* IDRr = bob with IDRpsk = gw: gw speaks for bob */
	authenticate("sip:gw@corp.example", "sip:bob@corp.example", key, &len);
	memset(&p, 0, sizeof(p));
	p.resp[p.nresp++] = uri("sip:bob@corp.example");
	req = uri("sip:bob@corp.example");
	is_int(kms_policy_ops.authorise_resolve(&pol, &req, &p), 0,
	    "gw resolves as bob with its own PSK (IDRpsk)");
	/* IDRr = li with IDRpsk = sneaky: still not a network function */
	authenticate("sip:sneaky@corp.example", "sip:li@corp.example", key,
	    &len);
	memset(&p, 0, sizeof(p));
	p.resp[p.nresp++] = uri("sip:bob@corp.example");
	req = uri("sip:li@corp.example");
	is_int(kms_policy_ops.authorise_resolve(&pol, &req, &p), -1,
	    "sneaky claiming to be li (act_for) gets no network function "
	    "power");
}

static void
test_tpk(void)
{
	static const struct {
		int has_version;
		uint32_t version;
		int want;
		const char *why;
	} t[] = {
		{ 1, 3, 0, NULL },
		{ 1, 2, 0, NULL },
		{ 1, 1, -1, "key_version_retired" },
		{ 1, 4, -1, "key_version_unknown" },
		{ 1, 0, -1, "key_version_unknown" },
		{ 0, 0, -1, "ticket_not_sealed_by_kms" },
	};
	struct mikey_tpk tpk;
	struct mikey_id idp = uri("tpk-alice");
	size_t i;
	int rc;

	kms_policy_begin(&pol);
	is_int(kms_policy_ops.current_tpk(&pol, &tpk), 0, "current_tpk");
	ok(tpk.version == 3 && tpk.key_len == 32 && tpk.key[0] == 3,
	    "the current key is version 3");
	for (i = 0; i < NELEM(t); i++) {
		kms_policy_begin(&pol);
		rc = kms_policy_ops.lookup_tpk(&pol, t[i].has_version,
		    t[i].version, NULL, &tpk);
		ok(rc == t[i].want && (rc != 0 || (tpk.version ==
		    t[i].version && tpk.key[0] == t[i].version)) &&
		    (t[i].why == NULL || strcmp(pol.call.why, t[i].why) == 0),
		    "lookup_tpk has=%d version=%u: %d (%s)", t[i].has_version,
		    t[i].version, rc, pol.call.why ? pol.call.why : "-");
	}
	kms_policy_begin(&pol);
	is_int(kms_policy_ops.lookup_tpk(&pol, 1, 3, &idp, &tpk), -1,
	    "lookup_tpk by IDRpsk (mode 3/4) refused");
}

/* ---------------------------------------------------------------------- */
/* 6. End to end with libmikey */

static const struct mikey_env sysenv;	/* system clock, RAND_bytes */

/*
 * request - who asks for a ticket for resp; returns res.err.  With *ml
 *	== 0 a new REQUEST_INIT is built into m; otherwise m is sent again
 *	as it is (a replay) and t is not used.
 */
static int
request(const char *who, const uint8_t *psk, const char *resp,
    struct mikey_kms_conf *kc, struct mikey_ticket *t, uint8_t *m,
    size_t *ml)
{
	struct mikey_request_params rp;
	struct mikey_i_request st;
	struct mikey_kms_result res;
	uint8_t out[MIKEY_MAX_MSG];
	size_t ol;
	int perr = -1, rc, replay = *ml != 0;

	memset(&st, 0, sizeof(st));
	memset(&rp, 0, sizeof(rp));
	rp.idi = uri(who);
	rp.idkms = uri("sip:kms@corp.example");
	rp.psk = psk;
	rp.psk_len = 32;
	rp.suite = mikey_suite_256;
	rp.flags = MIKEY_TPF_ONEWAY;
	rp.ticket_prf = mikey_suite_256.prf;
	rp.nresp = 1;
	rp.resp[0] = uri(resp);
	rp.nkeys = 1;
	rp.key_type[0] = MIKEY_KEY_TGK;
	rp.key_len[0] = 32;
	if (!replay && mikey_i_request_init(&sysenv, &rp, &st, m,
	    MIKEY_MAX_INIT, ml) != 0)
		return -1;
	kms_policy_begin(&pol);
	rc = mikey_kms_process(&sysenv, kc, m, *ml, out, sizeof(out), &ol,
	    &res);
	if (rc == 0 && res.err == 0 && !replay && t != NULL &&
	    mikey_i_request_resp(&sysenv, &st, out, ol, t, &perr, NULL) != 0)
		rc = -2;
	mikey_i_request_cleanup(&st);
	return rc != 0 ? rc : res.err;
}

/* resolve - who resolves ticket t; returns res.err */
static int
resolve(const char *who, const uint8_t *psk, struct mikey_kms_conf *kc,
    const struct mikey_ticket *t)
{
	struct mikey_r_transfer x;
	struct mikey_cred me;
	struct mikey_r_resolve st;
	struct mikey_resolved keys;
	struct mikey_kms_result res;
	uint8_t msg[MIKEY_MAX_INIT], out[MIKEY_MAX_MSG];
	size_t ml, ol;
	int perr = -1, rc;

	if (mikey_r_ticket_parse(&sysenv, t->payload, t->payload_len, &x,
	    NULL) != 0)
		return -1;
	memset(&me, 0, sizeof(me));
	me.id = uri(who);
	me.idkms = uri("sip:kms@corp.example");
	me.psk = psk;
	me.psk_len = 32;
	me.suite = mikey_suite_256;
	if (mikey_r_resolve_init(&sysenv, &x, &me, &st, msg, sizeof(msg),
	    &ml) != 0)
		return -1;
	kms_policy_begin(&pol);
	rc = mikey_kms_process(&sysenv, kc, msg, ml, out, sizeof(out), &ol,
	    &res);
	if (rc != 0)
		return -1;
	if (res.err == 0) {
		rc = mikey_r_resolve_resp(&sysenv, &st, &x, out, ol, &keys,
		    &perr, NULL);
		mikey_resolved_cleanup(&keys);
		if (rc != 0)
			return -2;
	}
	mikey_r_resolve_cleanup(&st);
	return res.err;
}

static void
test_end_to_end(void)
{
	static const char rotated[] =
	    "3 retired 3 " H32("03") "\n"
	    "4 current 4 " H32("04") "\n";
	struct mikey_kms_conf kc;
	struct mikey_ticket t;
	struct kms_keys *k2 = NULL;
	const struct kms_keys *k1 = pol.keys;
	uint8_t psk[11][32], wrong[32], m[MIKEY_MAX_INIT];
	char err[KMS_ERR_LEN];
	size_t i, ml;

	for (i = 0; i < 11; i++)
		memset(psk[i], (int)(i + 1), 32);
	memset(wrong, 0x77, sizeof(wrong));
	memset(&kc, 0, sizeof(kc));
	kc.id = uri("sip:kms@corp.example");
	kc.lifetime = 86400;
	kc.max_lifetime = 172800;
	kc.ops = &kms_policy_ops;
	kc.arg = &pol;
	kc.rc = mikey_rcache_new(100, 300, NULL, NULL);

	ml = 0;
	is_int(request("sip:alice@corp.example", psk[0],
	    "sip:bob@corp.example", &kc, &t, m, &ml), 0,
	    "alice gets a ticket for bob");
	is_int(pol.call.version, 3, "sealed under master key 3");
	is_int(request("sip:alice@corp.example", psk[0],
	    "sip:bob@corp.example", &kc, NULL, m, &ml), MIKEY_ERR_REPLAY,
	    "the same REQUEST_INIT again is a replay");
	is_int(resolve("sip:bob@corp.example", psk[1], &kc, &t), 0,
	    "bob resolves it");
	is_int(resolve("sip:eve@corp.example", psk[2], &kc, &t),
	    MIKEY_ERR_NOT_AUTHORISED, "eve may not");
	ok(strcmp(pol.call.why, "not_a_responder") == 0, "why: %s",
	    pol.call.why);
	is_int(resolve("sip:li@corp.example", psk[5], &kc, &t), 0,
	    "the network function may (audit line logged)");
	is_int(resolve("sip:gw@corp.example", psk[6], &kc, &t), 0,
	    "bob's gateway may (act_for)");
	is_int(resolve("sip:bob@corp.example", wrong, &kc, &t),
	    MIKEY_ERR_AUTH, "bob with a wrong PSK: auth");
	ok(!pol.call.unknown, "... and not unknown_id");
	is_int(resolve("sip:nobody@corp.example", wrong, &kc, &t),
	    MIKEY_ERR_AUTH, "an unknown identity: auth to the client");
	ok(pol.call.unknown, "... unknown_id in the notes");
	ml = 0;
	is_int(request("sip:alice@corp.example", psk[0],
	    "sip:x@corp.example", &kc, NULL, m, &ml), 0,
	    "a ticket for anyone may be asked");
	ml = 0;
	is_int(request("sip:eve@corp.example", psk[2],
	    "sip:bob@corp.example", &kc, NULL, m, &ml), 0,
	    "eve asks for herself");
	ml = 0;
	is_int(request("sip:alice@corp.example", psk[2],
	    "sip:bob@corp.example", &kc, NULL, m, &ml), MIKEY_ERR_AUTH,
	    "eve's PSK does not make her alice");

	/* rotate: 3 retired; the ticket no longer resolves */
	if (kms_keys_parse(rotated, strlen(rotated), &k2, err,
	    sizeof(err)) == 0) {
		pol.keys = k2;
		is_int(resolve("sip:bob@corp.example", psk[1], &kc, &t),
		    MIKEY_ERR_KEY_VERSION, "key 3 retired: key_version");
		ok(strcmp(pol.call.why, "key_version_retired") == 0 &&
		    pol.call.version == 3, "why: %s, version %u",
		    pol.call.why, pol.call.version);
		pol.keys = k1;
		kms_keys_free(k2);
	} else
		ok(0, "rotated key file: %s", err);
	mikey_ticket_cleanup(&t);
	mikey_rcache_free(kc.rc);
}

/* ---------------------------------------------------------------------- */
/* 7. Metrics */

static void
test_metrics(void)
{
	static struct kms_metrics m;
	static char buf[65536];
	size_t len;

	kms_metrics_request(&m, KMS_EX_REQUEST, KMS_OC_OK, 0.0002);
	kms_metrics_request(&m, KMS_EX_REQUEST, KMS_OC_OK, 0.003);
	kms_metrics_request(&m, KMS_EX_RESOLVE, KMS_OC_NOT_AUTHORISED, 5.0);
	kms_metrics_http_error(&m, 404);
	kms_metrics_http_error(&m, 413);
	kms_metrics_http_error(&m, 200);
	m.key_version = 7;
	m.reloads_ok = 2;
	len = kms_metrics_format(&m, buf, sizeof(buf));
	ok(len > 0 && len < sizeof(buf), "metrics text, %zu bytes", len);
	ok(strstr(buf, "imgate_kms_requests_total{exchange=\"request\","
	    "outcome=\"ok\"} 2\n") != NULL, "requests ok = 2");
	ok(strstr(buf, "imgate_kms_requests_total{exchange=\"resolve\","
	    "outcome=\"not_authorised\"} 1\n") != NULL,
	    "resolve not_authorised = 1");
	ok(strstr(buf, "imgate_kms_requests_total{exchange=\"other\","
	    "outcome=\"internal\"} 0\n") != NULL, "zeros are written");
	ok(strstr(buf, "imgate_kms_request_seconds_bucket{exchange="
	    "\"request\",le=\"0.00025\"} 1\n") != NULL &&
	    strstr(buf, "imgate_kms_request_seconds_bucket{exchange="
	    "\"request\",le=\"0.005\"} 2\n") != NULL,
	    "buckets are cumulative");
	ok(strstr(buf, "imgate_kms_request_seconds_bucket{exchange="
	    "\"resolve\",le=\"1\"} 0\n") != NULL &&
	    strstr(buf, "imgate_kms_request_seconds_bucket{exchange="
	    "\"resolve\",le=\"+Inf\"} 1\n") != NULL &&
	    strstr(buf, "imgate_kms_request_seconds_count{exchange=\"resolve\"}"
	    " 1\n") != NULL, "a slow request is only in +Inf");
	ok(strstr(buf, "imgate_kms_http_errors_total{status=\"404\"} 1\n") !=
	    NULL && strstr(buf, "imgate_kms_http_errors_total{status=\"413\"} "
	    "1\n") != NULL, "http errors");
	ok(strstr(buf, "imgate_kms_master_key_version 7\n") != NULL,
	    "key version gauge");
	ok(strstr(buf, "imgate_kms_policy_reloads_total{result=\"ok\"} 2\n") !=
	    NULL && strstr(buf, "imgate_kms_policy_reloads_total{result="
	    "\"error\"} 0\n") != NULL, "reloads");
	is_int(kms_metrics_format(&m, buf, 10), len,
	    "a short buffer gives the length needed");
	ok(strcmp(kms_outcome_name(KMS_OC_UNKNOWN_ID), "unknown_id") == 0 &&
	    strcmp(kms_exchange_name(KMS_EX_RESOLVE), "resolve") == 0,
	    "names");
}

int
main(void)
{
	log_init("t_policy", LOG_LEVEL_WARN, 1);
	test_match();
	test_overlap();
	test_check();
	test_norm();
	test_hostport();
	test_conf_good();
	test_conf_bad();
	test_users();
	if (setup_policy() == 0) {
		test_request_decisions();
		test_resolve_decisions();
		test_tpk();
		test_end_to_end();
		teardown_policy();
	}
	test_metrics();
	return done_testing();
}
