/*
 * tests/unit/gateway/t_conf.c - gateway/gw_conf: conf/imgate.conf and its
 *	defaults, every validation error, listeners, next hops, the PSK file,
 *	and the domain, AoR and Content-Type matchers (TAP)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * The files live in a fresh directory under $TMPDIR, removed at the end.
 * Bad configurations are the minimal good one with one or two edits
 * made through GKeyFile, so that each case names only what it breaks.
 * With T_CONF_VERBOSE set in the environment, every refusal's message is
 * printed as a TAP comment, to review their wording.
 */
#include <sys/stat.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "common/log.h"
#include "gateway/gw_conf.h"
#include "tests/tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* The PSK of gw.psk: 32 bytes. */
#define PSK_HEX	"000102030405060708090a0b0c0d0e0f" \
		"f0e1d2c3b4a5968778695a4b3c2d1e0f"

static char dir[256];
static char *made[64];
static size_t nmade;

/* path_of - dir/name in a static buffer (one at a time) */
static const char *
path_of(const char *name)
{
	static char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

/* put_file - write text to dir/name with mode; remembered for cleanup */
static void
put_file(const char *name, const char *text, mode_t mode)
{
	const char *p = path_of(name);
	size_t i;
	FILE *f;

	if ((f = fopen(p, "w")) == NULL) {
		printf("Bail out! cannot create %s: %s\n", p, strerror(errno));
		exit(1);
	}
	fputs(text, f);
	fclose(f);
	chmod(p, mode);
	for (i = 0; i < nmade; i++)
		if (strcmp(made[i], name) == 0)
			return;
	if (nmade < NELEM(made))
		made[nmade++] = strdup(name);
}

static void
cleanup(void)
{
	size_t i;

	for (i = 0; i < nmade; i++) {
		unlink(path_of(made[i]));
		free(made[i]);
	}
	rmdir(dir);
}

/* slurp - a whole small file, malloc'd, or NULL */
static char *
slurp(const char *path)
{
	char *buf;
	size_t n;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	buf = calloc(1, 65536);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
setup(void)
{
	const char *tmp = getenv("TMPDIR");
	char rep[200];
	size_t i;

	snprintf(dir, sizeof(dir), "%s/t_conf.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		exit(1);
	}
	put_file("gw.psk", PSK_HEX "\n", 0600);
	put_file("short.psk", "000102030405060708090a0b0c0d0e\n", 0600);
	put_file("odd.psk", "000102030405060708090a0b0c0d0e0f0\n", 0600);
	put_file("nothex.psk", "000102030405060708090a0b0c0d0e0g\n", 0600);
	for (i = 0; i < 65; i++)
		memcpy(rep + 2 * i, "ab", 2);
	rep[130] = '\0';
	put_file("long.psk", rep, 0600);
	put_file("world.psk", PSK_HEX "\n", 0644);
	put_file("group.psk", PSK_HEX "\n", 0640);
	/* 64 bytes, split by blanks and newlines */
	put_file("spaced.psk",
	    "00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f\n"
	    "10111213 14151617 18191a1b 1c1d1e1f\n"
	    "\t2021222324252627 28292a2b2c2d2e2f\r\n"
	    "303132333435363738393A3B3C3D3E3F\n\n", 0600);
	put_file("cert.pem", "not really a certificate\n", 0644);
	put_file("key.pem", "not really a key\n", 0600);
}

/* ---------------------------------------------------------------------- */
/* The example file and the defaults */

/* Every key the loader knows, by group: each must be in the example. */
static const struct {
	const char *group, *key;
} all_keys[] = {
	{ "gateway", "identity" }, { "gateway", "kms_url" },
	{ "gateway", "kms_id" }, { "gateway", "kms_ca_file" },
	{ "gateway", "psk_file" }, { "gateway", "state_dir" },
	{ "gateway", "sign_cert" }, { "gateway", "sign_key" },
	{ "gateway", "trust_ca" }, { "gateway", "log_level" },
	{ "gateway", "max_message" }, { "gateway", "max_body" },
	{ "gateway", "ticket_lifetime" }, { "gateway", "replay_entries" },
	{ "gateway", "suite" }, { "gateway", "via_host" },
	{ "listen", "udp" }, { "listen", "tcp" }, { "listen", "tls" },
	{ "listen", "tls_cert" }, { "listen", "tls_key" },
	{ "listen", "tls_ca" },
	{ "admin", "listen" },
	{ "route", "local_domains" }, { "route", "inside" },
	{ "route", "outside" }, { "route", "protect" },
	{ "route", "e2e_users" }, { "route", "require_protection" },
	{ "route", "allow_types" },
	{ "sip", "t1_ms" }, { "sip", "t2_ms" }, { "sip", "t4_ms" },
	{ "sip", "kms_timeout" }, { "sip", "retry_after" },
	{ "sip", "tcp_idle" }, { "sip", "max_txn" },
};

/* defaults_ok - the fields whose defaults conf/imgate.conf writes out */
static void
defaults_ok(const struct gw_conf *c, const char *what)
{
	char want[600];

	snprintf(want, sizeof(want), "%s/state", dir);
	ok(c->state_dir != NULL && strcmp(c->state_dir, want) == 0,
	    "%s: state_dir relative to the file: got %s, want %s", what,
	    c->state_dir ? c->state_dir : "(null)", want);
	ok(c->kms_id == NULL && c->kms_ca_file == NULL &&
	    c->sign_cert == NULL && c->sign_key == NULL &&
	    c->trust_ca == NULL && c->via_host == NULL &&
	    c->tls_cert == NULL && c->tls_key == NULL && c->tls_ca == NULL,
	    "%s: optional strings are NULL", what);
	is_int(c->log_level, LOG_LEVEL_INFO, "%s: log_level", what);
	is_int(c->max_message, 131072, "%s: max_message", what);
	is_int(c->max_body, 65536, "%s: max_body", what);
	is_int(c->ticket_lifetime, 0, "%s: ticket_lifetime", what);
	is_int(c->replay_entries, 10000, "%s: replay_entries", what);
	is_int(c->suite256, 0, "%s: suite", what);
	ok(c->nprotect == 1 && strcmp(c->protect[0], "*") == 0,
	    "%s: protect = *", what);
	is_int(c->ne2e, 0, "%s: no e2e_users", what);
	is_int(c->require_protection, 0, "%s: require_protection", what);
	ok(c->nallow == 1 && strcmp(c->allow_types[0], "*") == 0,
	    "%s: allow_types = *", what);
	ok(c->t1_ms == 500 && c->t2_ms == 4000 && c->t4_ms == 5000,
	    "%s: t1 t2 t4 = %u %u %u, want 500 4000 5000", what, c->t1_ms,
	    c->t2_ms, c->t4_ms);
	is_int(c->kms_timeout, 5, "%s: kms_timeout", what);
	is_int(c->retry_after, 30, "%s: retry_after", what);
	is_int(c->tcp_idle, 300, "%s: tcp_idle", what);
	is_int(c->max_txn, 262144, "%s: max_txn", what);
	is_mem(c->psk, c->psk_len,
	    "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
	    "\xf0\xe1\xd2\xc3\xb4\xa5\x96\x87\x78\x69\x5a\x4b\x3c\x2d\x1e\x0f",
	    32, "%s: the PSK of gw.psk", what);
}

/* hop_is - proto, host, port, and a resolved address of that family */
static void
hop_is(const struct gw_hop *h, enum gw_proto proto, const char *host,
    int port, int family, const char *what)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&h->peer.ss;
	const struct sockaddr_in6 *s6 =
	    (const struct sockaddr_in6 *)&h->peer.ss;
	int pport = -1;

	if (h->peer.ss.ss_family == AF_INET)
		pport = ntohs(s4->sin_port);
	else if (h->peer.ss.ss_family == AF_INET6)
		pport = ntohs(s6->sin6_port);
	ok(h->set && h->proto == proto && h->peer.proto == proto &&
	    strcmp(h->host, host) == 0 && h->port == port &&
	    (family == 0 || h->peer.ss.ss_family == family) &&
	    pport == port && h->peer.len == (h->peer.ss.ss_family == AF_INET ?
	    sizeof(*s4) : sizeof(*s6)),
	    "%s: got set=%d proto=%d host=%s port=%d family=%d peer port=%d",
	    what, h->set, (int)h->proto, h->host, h->port,
	    (int)h->peer.ss.ss_family, pport);
}

static void
test_example(void)
{
	struct gw_conf *c = NULL;
	char err[1024], *text;
	const char *top = getenv("top_srcdir");
	char src[512];
	GKeyFile *kf;
	size_t i, missing = 0;

	snprintf(src, sizeof(src), "%s/conf/imgate.conf",
	    top != NULL ? top : ".");
	if ((text = slurp(src)) == NULL) {
		ok(0, "read %s: %s (set top_srcdir)", src, strerror(errno));
		return;
	}
	put_file("imgate.conf", text, 0644);

	kf = g_key_file_new();
	ok(g_key_file_load_from_data(kf, text, strlen(text), G_KEY_FILE_NONE,
	    NULL), "conf/imgate.conf is a key file");
	for (i = 0; i < NELEM(all_keys); i++)
		if (!g_key_file_has_key(kf, all_keys[i].group, all_keys[i].key,
		    NULL)) {
			diag(__FILE__, __LINE__, "[%s] %s not written out",
			    all_keys[i].group, all_keys[i].key);
			missing++;
		}
	is_int(missing, 0, "conf/imgate.conf writes out all %zu keys",
	    NELEM(all_keys));
	g_key_file_free(kf);
	free(text);

	if (!ok(gw_conf_load(path_of("imgate.conf"), &c, err,
	    sizeof(err)) == 0, "conf/imgate.conf loads")) {
		diag(__FILE__, __LINE__, "%s", err);
		return;
	}
	ok(strcmp(c->path, path_of("imgate.conf")) == 0, "path kept");
	ok(strcmp(c->identity, "sip:gw@corp.example") == 0, "identity");
	ok(strcmp(c->kms_url, "http://127.0.0.1:8470/mikey") == 0, "kms_url");
	defaults_ok(c, "example");
	ok(c->nlisten == 2 && c->listen[0].proto == GW_UDP &&
	    strcmp(c->listen[0].host, "127.0.0.1") == 0 &&
	    c->listen[0].port == 5060 && c->listen[1].proto == GW_TCP &&
	    strcmp(c->listen[1].host, "127.0.0.1") == 0 &&
	    c->listen[1].port == 5060, "listeners udp and tcp 127.0.0.1:5060");
	ok(strcmp(c->admin_host, "127.0.0.1") == 0 && c->admin_port == 8480,
	    "admin 127.0.0.1:8480");
	ok(c->nlocal == 1 && strcmp(c->local_domains[0], "corp.example") == 0,
	    "local_domains");
	hop_is(&c->inside, GW_UDP, "127.0.0.1", 5070, AF_INET, "inside");
	hop_is(&c->outside, GW_TCP, "127.0.0.1", 5062, AF_INET, "outside");
	gw_conf_free(c);
}

/* The smallest good configuration. */
static const char minimal[] =
	"[gateway]\n"
	"identity = sip:gw@corp.example\n"
	"kms_url = http://127.0.0.1:8470/mikey\n"
	"psk_file = gw.psk\n"
	"[listen]\n"
	"udp = 127.0.0.1:5060\n"
	"[route]\n"
	"local_domains = corp.example\n";

static void
test_defaults(void)
{
	struct gw_conf *c = NULL;
	char err[1024];

	put_file("min.conf", minimal, 0644);
	if (!ok(gw_conf_load(path_of("min.conf"), &c, err, sizeof(err)) == 0,
	    "the minimal configuration loads")) {
		diag(__FILE__, __LINE__, "%s", err);
		return;
	}
	defaults_ok(c, "minimal");
	ok(c->admin_host[0] == '\0' && c->admin_port == 0, "no admin port");
	ok(!c->inside.set && !c->outside.set, "no next hops");
	gw_conf_free(c);
	gw_conf_free(NULL);
	ok(1, "gw_conf_free(NULL) is a no-op");
}

/* ---------------------------------------------------------------------- */
/* Bad configurations */

struct edit {
	const char	*group;
	const char	*key;		/* NULL: remove the group */
	const char	*value;		/* NULL: remove the key */
};

static const struct {
	const char	*name;
	struct edit	 e[2];
	const char	*want;		/* in the message */
} bad[] = {
	{ "no [gateway]", { { "gateway", NULL, NULL } }, "[gateway]: missing" },
	{ "missing identity", { { "gateway", "identity", NULL } },
	    "[gateway] identity: required" },
	{ "identity not a URI", { { "gateway", "identity",
	    "gw@corp.example" } }, "[gateway] identity: \"gw@corp.example\"" },
	{ "identity sip: only", { { "gateway", "identity", "sip:" } },
	    "[gateway] identity: \"sip:\"" },
	{ "identity a pattern", { { "gateway", "identity",
	    "sip:*@corp.example" } }, "[gateway] identity:" },
	{ "missing kms_url", { { "gateway", "kms_url", NULL } },
	    "[gateway] kms_url: required" },
	{ "kms_url ftp", { { "gateway", "kms_url", "ftp://kms/mikey" } },
	    "[gateway] kms_url: \"ftp://kms/mikey\"" },
	{ "kms_url no host", { { "gateway", "kms_url", "http:///mikey" } },
	    "[gateway] kms_url:" },
	{ "kms_url bad port", { { "gateway", "kms_url",
	    "http://kms:99999/mikey" } }, "[gateway] kms_url:" },
	{ "kms_url with a password", { { "gateway", "kms_url",
	    "https://gw:secret@kms/mikey" } }, "[gateway] kms_url:" },
	{ "kms_id not a URI", { { "gateway", "kms_id", "kms" } },
	    "[gateway] kms_id:" },
	{ "missing psk_file", { { "gateway", "psk_file", NULL } },
	    "[gateway] psk_file: required" },
	{ "psk_file absent", { { "gateway", "psk_file", "nope.psk" } },
	    "nope.psk: cannot open: No such file" },
	{ "short PSK", { { "gateway", "psk_file", "short.psk" } },
	    "hex digits (16 to 64 bytes), an even number; it has 30" },
	{ "long PSK", { { "gateway", "psk_file", "long.psk" } },
	    "an even number; it has 130" },
	{ "odd PSK", { { "gateway", "psk_file", "odd.psk" } },
	    "an even number; it has 33" },
	{ "PSK not hex", { { "gateway", "psk_file", "nothex.psk" } },
	    "nothex.psk has a character that is not a hex digit (at byte 31)" },
	{ "world-readable PSK", { { "gateway", "psk_file", "world.psk" } },
	    "accessible to others (mode 0644): chmod 600" },
	{ "unknown key", { { "gateway", "identiy", "sip:gw@corp.example" } },
	    "[gateway] identiy: unknown key" },
	{ "unknown group", { { "gatway", "identity", "sip:gw@corp.example" } },
	    "[gatway]: unknown section" },
	{ "bad log_level", { { "gateway", "log_level", "loud" } },
	    "[gateway] log_level: must be debug, info or warn, not \"loud\"" },
	{ "max_message not a number", { { "gateway", "max_message", "12x" } },
	    "[gateway] max_message: must be a whole number" },
	{ "max_message too small", { { "gateway", "max_message", "512" } },
	    "[gateway] max_message:" },
	{ "max_body over max_message", { { "gateway", "max_body",
	    "200000" } }, "[gateway] max_body: 200000 is not less than" },
	{ "bad suite", { { "gateway", "suite", "aes512" } },
	    "[gateway] suite: must be aes128 or aes256" },
	{ "sign_cert alone", { { "gateway", "sign_cert", "cert.pem" } },
	    "[gateway] sign_key:" },
	{ "trust_ca unreadable", { { "gateway", "trust_ca", "none.pem" } },
	    "[gateway] trust_ca: cannot read" },
	{ "via_host with a blank", { { "gateway", "via_host", "a b" } },
	    "[gateway] via_host:" },
	{ "port out of range", { { "listen", "udp", "127.0.0.1:70000" } },
	    "[listen] udp: \"127.0.0.1:70000\": the port" },
	{ "listener without port", { { "listen", "udp", "127.0.0.1" } },
	    "[listen] udp: \"127.0.0.1\": want host:port" },
	{ "IPv6 listener without brackets", { { "listen", "udp",
	    "::1:5060" } }, "[listen] udp: \"::1:5060\": an IPv6" },
	{ "listener host name", { { "listen", "tcp", "localhost:5060" } },
	    "[listen] tcp: \"localhost:5060\": the host must be a numeric" },
	{ "listener twice", { { "listen", "udp",
	    "127.0.0.1:5060; 127.0.0.1:5060" } }, "listed twice" },
	{ "no listener", { { "listen", "udp", "" } },
	    "[listen] udp: no listener" },
	{ "tls listener without tls_cert", { { "listen", "tls",
	    "127.0.0.1:5061" } }, "[listen] tls_cert: a tls listener needs" },
	{ "tls_cert without tls_key", { { "listen", "tls_cert",
	    "cert.pem" } }, "[listen] tls_key:" },
	{ "comment after a value", { { "listen", "udp",
	    "127.0.0.1:5060 # main" } }, "[listen] udp: \"127.0.0.1:5060 # "
	    "main\": a '#' after a value" },
	{ "sockbuf is not a key", { { "listen", "sockbuf", "65536" } },
	    "[listen] sockbuf: unknown key" },
	{ "admin without port", { { "admin", "listen", "127.0.0.1" } },
	    "[admin] listen: \"127.0.0.1\"" },
	{ "admin host name", { { "admin", "listen", "localhost:8480" } },
	    "[admin] listen: \"localhost:8480\"" },
	{ "no local_domains", { { "route", "local_domains", NULL } },
	    "[route] local_domains: required" },
	{ "empty label", { { "route", "local_domains", "corp..example" } },
	    "[route] local_domains: \"corp..example\"" },
	{ "star inside a domain", { { "route", "protect", "corp.*" } },
	    "[route] protect: \"corp.*\"" },
	{ "e2e user not a URI", { { "route", "e2e_users",
	    "alice@corp.example" } }, "[route] e2e_users: \"alice@corp" },
	{ "e2e user half a star", { { "route", "e2e_users",
	    "sip:al*ce@corp.example" } }, "[route] e2e_users:" },
	{ "e2e user without user", { { "route", "e2e_users",
	    "sip:corp.example" } }, "[route] e2e_users:" },
	{ "require_protection maybe", { { "route", "require_protection",
	    "maybe" } }, "[route] require_protection: must be true or false" },
	{ "type with parameters", { { "route", "allow_types",
	    "text/plain;charset=utf-8" } }, "[route] allow_types:" },
	{ "type without subtype", { { "route", "allow_types", "text/" } },
	    "[route] allow_types: \"text/\"" },
	{ "hop proto", { { "route", "inside", "sctp:127.0.0.1:5070" } },
	    "[route] inside: \"sctp:127.0.0.1:5070\": want proto:host:port" },
	{ "hop without port", { { "route", "inside", "udp:127.0.0.1" } },
	    "[route] inside: \"udp:127.0.0.1\": want host:port" },
	{ "hop port 0", { { "route", "inside", "udp:127.0.0.1:0" } },
	    "[route] inside: \"udp:127.0.0.1:0\": the port" },
	{ "hop unresolvable", { { "route", "outside",
	    "tcp:nonexistent.invalid:5062" } },
	    "[route] outside: \"tcp:nonexistent.invalid:5062\": cannot "
	    "resolve" },
	{ "tls hop without tls_cert", { { "route", "outside",
	    "tls:127.0.0.1:5061" } }, "[route] outside: a tls next hop needs" },
	{ "t1 > t2", { { "sip", "t1_ms", "5000" } },
	    "[sip] t1_ms: 5000 is greater than t2_ms (4000)" },
	{ "t1 zero", { { "sip", "t1_ms", "0" } }, "[sip] t1_ms: must be" },
	{ "t2 below t1", { { "sip", "t1_ms", "1000" }, { "sip", "t2_ms",
	    "999" } }, "[sip] t1_ms: 1000 is greater than t2_ms (999)" },
	{ "kms_timeout over Timer F", { { "sip", "kms_timeout", "31" } },
	    "[sip] kms_timeout: must be a whole number from 1 to 30" },
	{ "negative max_txn", { { "sip", "max_txn", "-1" } },
	    "[sip] max_txn: must be a whole number from 1" },
	{ "tcp_idle zero", { { "sip", "tcp_idle", "0" } }, "[sip] tcp_idle:" },
	{ "unknown sip key", { { "sip", "t3_ms", "1" } },
	    "[sip] t3_ms: unknown key" },
	{ "list without members", { { "list sip:team@corp.example", "mode",
	    "fanout" } }, "[list sip:team@corp.example] members: required" },
	{ "list member with a wildcard", { { "list sip:team@corp.example",
	    "members", "sip:*@corp.example" } }, "no '*'" },
	{ "list with an unknown mode", { { "list sip:team@corp.example",
	    "members", "sip:a@corp.example" }, { "list sip:team@corp.example",
	    "mode", "explode" } }, "\"explode\": fanout or reencrypt" },
	{ "list URI without user", { { "list sip:corp.example", "members",
	    "sip:a@corp.example" } }, "[list sip:corp.example]" },
	{ "group with an unknown key", { { "group sip:team@x.example",
	    "exploders", "sip:gw@x.example" } },
	    "[group sip:team@x.example] exploders: unknown key" },
	{ "store retry_min over retry_max", { { "store", "retry_min", "700" } },
	    "[store] retry_min: 700 is greater than retry_max (600)" },
	{ "store unknown key", { { "store", "max_days", "1" } },
	    "[store] max_days: unknown key" },
};

/* write_edited - minimal with the edits of one case into dir/bad.conf */
static void
write_edited(const struct edit *e, size_t n)
{
	GKeyFile *kf = g_key_file_new();
	gchar *text;
	size_t i;

	g_key_file_load_from_data(kf, minimal, strlen(minimal),
	    G_KEY_FILE_NONE, NULL);
	for (i = 0; i < n && e[i].group != NULL; i++) {
		if (e[i].key == NULL)
			g_key_file_remove_group(kf, e[i].group, NULL);
		else if (e[i].value == NULL)
			g_key_file_remove_key(kf, e[i].group, e[i].key, NULL);
		else
			g_key_file_set_value(kf, e[i].group, e[i].key,
			    e[i].value);
	}
	text = g_key_file_to_data(kf, NULL, NULL);
	put_file("bad.conf", text, 0644);
	g_free(text);
	g_key_file_free(kf);
}

/* refused - loading path fails, *out untouched, err names path and want */
static void
refused(const char *path, const char *want, const char *name)
{
	static struct gw_conf sentinel;
	struct gw_conf *c = &sentinel;
	char err[1024] = "";
	int rc;

	rc = gw_conf_load(path, &c, err, sizeof(err));
	if (!ok(rc == -1 && c == &sentinel &&
	    strncmp(err, path, strlen(path)) == 0 && strstr(err, want) != NULL,
	    "refused: %s", name))
		diag(__FILE__, __LINE__, "got rc=%d \"%s\", want -1 and "
		    "\"%s\"", rc, err, want);
	if (getenv("T_CONF_VERBOSE") != NULL)
		printf("# %s\n", err);
	if (rc == 0 && c != &sentinel)
		gw_conf_free(c);
}

static void
test_bad(void)
{
	size_t i;

	for (i = 0; i < NELEM(bad); i++) {
		write_edited(bad[i].e, NELEM(bad[i].e));
		refused(path_of("bad.conf"), bad[i].want, bad[i].name);
	}
	put_file("bad.conf", "[gateway]\nidentity sip:gw@corp.example\n",
	    0644);
	refused(path_of("bad.conf"), "comments are whole lines", "a line "
	    "without '='");
	refused(path_of("nothere.conf"), "No such file", "no such file");
}

/* ---------------------------------------------------------------------- */
/* Listeners, hops, PSK and paths */

/* load_with - minimal plus edits; the configuration or NULL */
static struct gw_conf *
load_with(const struct edit *e, size_t n, const char *what)
{
	struct gw_conf *c = NULL;
	char err[1024];

	write_edited(e, n);
	if (gw_conf_load(path_of("bad.conf"), &c, err, sizeof(err)) != 0) {
		ok(0, "%s loads", what);
		diag(__FILE__, __LINE__, "%s", err);
		return NULL;
	}
	ok(1, "%s loads", what);
	return c;
}

static void
test_lists(void)
{
	static const struct edit e[2] = {
		{ "list sip:team@corp.example", "members",
		    "sip:a@corp.example; sip:B@Partner.Example" },
		{ "group sip:club@partner.example", "members",
		    "sip:*@corp.example" },
	};
	const struct gw_group *g;
	struct gw_conf *c;

	if ((c = load_with(e, 2, "a list and a group")) == NULL)
		return;
	g = gw_group_find(c, "sip:TEAM@corp.example");
	ok(g == NULL, "group URIs: the user part is case-sensitive");
	g = gw_group_find(c, "sip:team@corp.example");
	ok(g != NULL && g->list && g->nmembers == 2 &&
	    strcmp(g->members[1], "sip:B@partner.example") == 0,
	    "the list: fan-out members, hosts lower-cased");
	g = gw_group_find(c, "sip:club@partner.example");
	ok(g != NULL && !g->list && gw_uri_in(g->members, g->nmembers,
	    "sip:zed@corp.example") && !gw_uri_in(g->members, g->nmembers,
	    "sip:zed@evilcorp.example"), "the group: membership by pattern");
	ok(gw_group_find(c, "sip:other@corp.example") == NULL,
	    "an unknown group is none");
	gw_conf_free(c);
}

static void
test_listen(void)
{
	static const struct edit e[] = {
		{ "listen", "udp", "[::1]:5060; 127.0.0.1:5061,0.0.0.0:0 ;" },
		{ "listen", "tcp", " [::]:5060 " },
	};
	static const struct {
		enum gw_proto proto;
		const char *host;
		int port;
	} want[] = {
		{ GW_UDP, "::1", 5060 }, { GW_UDP, "127.0.0.1", 5061 },
		{ GW_UDP, "0.0.0.0", 0 }, { GW_TCP, "::", 5060 },
	};
	struct gw_conf *c;
	size_t i;

	if ((c = load_with(e, NELEM(e), "IPv6 and IPv4 listeners")) == NULL)
		return;
	is_int(c->nlisten, NELEM(want), "four listeners");
	for (i = 0; i < NELEM(want) && i < c->nlisten; i++)
		ok(c->listen[i].proto == want[i].proto &&
		    strcmp(c->listen[i].host, want[i].host) == 0 &&
		    c->listen[i].port == want[i].port,
		    "listener %zu: got %d %s %d, want %d %s %d", i,
		    (int)c->listen[i].proto, c->listen[i].host,
		    c->listen[i].port, (int)want[i].proto, want[i].host,
		    want[i].port);
	gw_conf_free(c);
}

static void
test_hops(void)
{
	static const struct edit e1[] = {
		{ "route", "inside", "udp:[::1]:5070" },
		{ "route", "outside", "TCP:localhost:5062" },
	};
	static const struct edit e2[] = {
		{ "route", "outside", "tls:127.0.0.1:5061" },
		{ "listen", "tls_cert", "cert.pem" },
	};
	struct gw_conf *c;

	if ((c = load_with(e1, NELEM(e1), "IPv6 and named hops")) != NULL) {
		hop_is(&c->inside, GW_UDP, "::1", 5070, AF_INET6,
		    "inside udp:[::1]:5070");
		hop_is(&c->outside, GW_TCP, "localhost", 5062, 0,
		    "outside TCP:localhost:5062 resolved");
		gw_conf_free(c);
	}
	/* a tls hop needs tls_cert and tls_key: the key by a third edit */
	write_edited(e2, NELEM(e2));
	refused(path_of("bad.conf"), "[listen] tls_key:", "tls_cert alone");
	{
		GKeyFile *kf = g_key_file_new();
		gchar *text;
		struct gw_conf *c2 = NULL;
		char err[1024];

		g_key_file_load_from_data(kf, minimal, strlen(minimal),
		    G_KEY_FILE_NONE, NULL);
		g_key_file_set_value(kf, "route", "outside",
		    "tls:127.0.0.1:5061");
		g_key_file_set_value(kf, "listen", "tls_cert", "cert.pem");
		g_key_file_set_value(kf, "listen", "tls_key", "key.pem");
		g_key_file_set_value(kf, "listen", "tls",
		    "[2001:db8::1]:5061");
		text = g_key_file_to_data(kf, NULL, NULL);
		put_file("tls.conf", text, 0644);
		g_free(text);
		g_key_file_free(kf);
		if (ok(gw_conf_load(path_of("tls.conf"), &c2, err,
		    sizeof(err)) == 0, "tls hop and listener with tls_cert and "
		    "tls_key load")) {
			hop_is(&c2->outside, GW_TLS, "127.0.0.1", 5061,
			    AF_INET, "outside tls:127.0.0.1:5061");
			ok(c2->nlisten == 2 && c2->listen[1].proto == GW_TLS &&
			    strcmp(c2->listen[1].host, "2001:db8::1") == 0,
			    "tls listener [2001:db8::1]:5061");
			ok(strcmp(c2->tls_cert, path_of("cert.pem")) == 0 &&
			    strcmp(c2->tls_key, path_of("key.pem")) == 0,
			    "tls_cert and tls_key relative to the file");
			gw_conf_free(c2);
		} else
			diag(__FILE__, __LINE__, "%s", err);
	}
}

static void
test_psk(void)
{
	static const struct edit spaced[] = {
		{ "gateway", "psk_file", "spaced.psk" },
	};
	static const struct edit group[] = {
		{ "gateway", "psk_file", "group.psk" },
	};
	uint8_t want[64];
	struct gw_conf *c;
	struct edit abs[1];
	char p[512];
	size_t i;

	for (i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)i;
	if ((c = load_with(spaced, 1, "a 64-byte PSK with blanks")) != NULL) {
		is_mem(c->psk, c->psk_len, want, sizeof(want),
		    "64 bytes, blanks and newlines ignored");
		gw_conf_free(c);
	}
	/* group-readable: a warning on stderr, not a refusal */
	if ((c = load_with(group, 1, "a group-readable PSK file")) != NULL)
		gw_conf_free(c);
	snprintf(p, sizeof(p), "%s", path_of("gw.psk"));
	abs[0].group = "gateway";
	abs[0].key = "psk_file";
	abs[0].value = p;
	if ((c = load_with(abs, 1, "an absolute psk_file")) != NULL) {
		is_int(c->psk_len, 32, "... its PSK");
		gw_conf_free(c);
	}
}

static void
test_values(void)
{
	static const struct edit e[] = {
		{ "route", "local_domains",
		    "Corp.Example.; *.Dev.corp.example ,[2001:DB8::1]" },
		{ "route", "e2e_users",
		    "sip:Alice@CORP.example; sip:*@dev.corp.example" },
	};
	static const struct edit e2[] = {
		{ "route", "allow_types", "Text/Plain; message/*" },
		{ "gateway", "suite", "AES256" },
	};
	struct gw_conf *c;

	if ((c = load_with(e, NELEM(e), "lists")) != NULL) {
		ok(c->nlocal == 3 && strcmp(c->local_domains[0],
		    "corp.example") == 0 && strcmp(c->local_domains[1],
		    "*.dev.corp.example") == 0 && strcmp(c->local_domains[2],
		    "[2001:db8::1]") == 0, "domains lower-cased, trailing dot "
		    "removed");
		ok(c->ne2e == 2 && strcmp(c->e2e_users[0],
		    "sip:Alice@corp.example") == 0 && strcmp(c->e2e_users[1],
		    "sip:*@dev.corp.example") == 0, "AoRs: host lower-cased, "
		    "user kept");
		gw_conf_free(c);
	}
	if ((c = load_with(e2, NELEM(e2), "types and suite")) != NULL) {
		ok(c->nallow == 2 && strcmp(c->allow_types[0],
		    "text/plain") == 0 && strcmp(c->allow_types[1],
		    "message/*") == 0, "types lower-cased");
		is_int(c->suite256, 1, "suite AES256");
		gw_conf_free(c);
	}
}

/* ---------------------------------------------------------------------- */
/* Matchers */

static void
test_domain(void)
{
	static char *list[] = { "corp.example", "*.partner.example",
		"[2001:db8::1]" };
	static char *star[] = { "*" };
	static char *sub[] = { "*.corp.example" };
	static const struct {
		char **list;
		size_t n;
		const char *d;
		int want;
	} t[] = {
		{ list, 3, "corp.example", 1 },
		{ list, 3, "CORP.Example", 1 },
		{ list, 3, "corp.example.", 1 },
		{ list, 3, "evilcorp.example", 0 },
		{ list, 3, "corp.example.evil", 0 },
		{ list, 3, "corp.exampl", 0 },
		{ list, 3, "a.corp.example", 0 },
		{ list, 3, "partner.example", 0 },
		{ list, 3, "a.partner.example", 1 },
		{ list, 3, "A.B.Partner.Example", 1 },
		{ list, 3, "evilpartner.example", 0 },
		{ list, 3, ".partner.example", 0 },
		{ list, 3, "[2001:DB8::1]", 1 },
		{ list, 3, "", 0 },
		{ list, 0, "corp.example", 0 },
		{ star, 1, "anything.example", 1 },
		{ star, 1, "", 0 },
		{ sub, 1, "evilcorp.example", 0 },
		{ sub, 1, "corp.example", 0 },
		{ sub, 1, "x.corp.example", 1 },
		{ sub, 1, "x.corp.example.", 1 },
		{ sub, 1, "x.corp.example.org", 0 },
	};
	size_t i;

	for (i = 0; i < NELEM(t); i++)
		is_int(gw_domain_in(t[i].list, t[i].n, t[i].d), t[i].want,
		    "gw_domain_in %zu \"%s\"", i, t[i].d);
	is_int(gw_domain_in(list, 3, NULL), 0, "gw_domain_in NULL");
	is_int(gw_domain_in(NULL, 0, "corp.example"), 0, "empty list");
}

static void
test_uri(void)
{
	static char *list[] = { "sip:alice@corp.example",
		"sip:*@partner.example", "sips:bob@*.corp.example" };
	static const struct {
		const char *aor;
		int want;
	} t[] = {
		{ "sip:alice@corp.example", 1 },
		{ "sip:alice@CORP.Example", 1 },
		{ "SIP:alice@corp.example", 1 },
		{ "sips:alice@corp.example", 1 },
		{ "sip:alice@corp.example;transport=tcp", 1 },
		{ "sip:Alice@corp.example", 0 },
		{ "sip:alicex@corp.example", 0 },
		{ "sip:alic@corp.example", 0 },
		{ "sip:alice@evilcorp.example", 0 },
		{ "sip:alice@corp.example.evil", 0 },
		{ "sip:alice@corp.example:5060", 0 },
		{ "sip:carol@partner.example", 1 },
		{ "sip:carol@PARTNER.EXAMPLE", 1 },
		{ "sip:carol@evilpartner.example", 0 },
		{ "sip:carol@a.partner.example", 0 },
		{ "sip:@partner.example", 0 },
		{ "sip:partner.example", 0 },
		{ "sip:bob@dev.corp.example", 1 },
		{ "sip:bob@corp.example", 0 },
		{ "tel:+15551234", 0 },
		{ "alice@corp.example", 0 },
		{ "", 0 },
	};
	size_t i;

	for (i = 0; i < NELEM(t); i++)
		is_int(gw_uri_in(list, NELEM(list), t[i].aor), t[i].want,
		    "gw_uri_in \"%s\"", t[i].aor);
	is_int(gw_uri_in(list, NELEM(list), NULL), 0, "gw_uri_in NULL");
	is_int(gw_uri_in(list, 0, "sip:alice@corp.example"), 0,
	    "gw_uri_in empty list");
}

static void
test_type(void)
{
	static char *list[] = { "text/plain", "message" };
	static char *star[] = { "*" };
	static char *textall[] = { "text/*" };
	static const struct {
		char **list;
		size_t n;
		const char *ct;
		int want;
	} t[] = {
		{ list, 2, "text/plain", 1 },
		{ list, 2, "TEXT/Plain", 1 },
		{ list, 2, "text/plain; charset=utf-8", 1 },
		{ list, 2, "  text/plain ;charset=utf-8", 1 },
		{ list, 2, "text/plainx", 0 },
		{ list, 2, "text/plai", 0 },
		{ list, 2, "text/html", 0 },
		{ list, 2, "text", 0 },
		{ list, 2, "message/cpim", 1 },
		{ list, 2, "Message/SipFrag", 1 },
		{ list, 2, "messages/cpim", 0 },
		{ list, 2, "message", 0 },
		{ list, 2, "message/", 0 },
		{ list, 2, "/cpim", 0 },
		{ list, 2, "message/cpim/x", 0 },
		{ list, 2, "application/pkcs7-mime", 0 },
		{ list, 2, "", 0 },
		{ star, 1, "application/x-anything", 1 },
		{ textall, 1, "text/html", 1 },
		{ textall, 1, "textual/html", 0 },
		{ textall, 1, "tex/html", 0 },
	};
	size_t i;

	for (i = 0; i < NELEM(t); i++)
		is_int(gw_type_allowed(t[i].list, t[i].n, t[i].ct), t[i].want,
		    "gw_type_allowed %zu \"%s\"", i, t[i].ct);
	is_int(gw_type_allowed(list, 2, NULL), 0, "gw_type_allowed NULL");
}

int
main(void)
{
	setup();
	test_example();
	test_defaults();
	test_bad();
	test_lists();
	test_listen();
	test_hops();
	test_psk();
	test_values();
	test_domain();
	test_uri();
	test_type();
	cleanup();
	return done_testing();
}
