/*
 * kms/kms_policy.c - kms.conf, the users file, identity patterns and the
 *	policy callbacks (struct mikey_kms_ops) of imgate-kms
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	Who may do what (FORMATS.md sections 2 and 3) is decided for the
 *	principal: the user whose PSK verified the request's V.  psk()
 *	notes that user in struct kms_call; the authorise callbacks that
 *	mikey_kms_process calls afterwards, in the same call, decide for it:
 *
 *	REQUEST: the ticket's IDRi is the principal or matches one of its
 *	  act_for patterns (a gateway acting for its users), and the ticket
 *	  names at least one responder.  A per-user lifetime shortens the
 *	  ticket (the library then sets the K flag).
 *	RESOLVE: the principal is a network function (resolve_any; every
 *	  such resolve is written to the log as an audit line), or for some
 *	  IDRr R of the ticket it is R, a member of group R or an exploder of
 *	  group R; or one of its act_for patterns could be such an identity
 *	  (it matches R, or overlaps a member or exploder pattern of group
 *	  R).  Acting for a network function is deliberately not enough:
 *	  the power to resolve every ticket is never delegated by a pattern.
 *
 *	When a request names its requester (IDRi/IDRr) and also the PSK
 *	(IDRpsk), the PSK's owner is the principal, and the named requester
 *	must be that owner or match its act_for.
 *
 *	An identity without a PSK gets a random per-process dummy PSK, so
 *	that V is computed and fails exactly as for a wrong PSK: same answer
 *	(ERR 0), about the same time; only the log and the metrics say
 *	"unknown_id".
 *
 *	Patterns are matched by pure functions (kms_pattern_match,
 *	kms_pattern_overlap) with no allocation; lookups of users and
 *	groups normalise the identity into a stack buffer and use a hash.
 *	Nothing here allocates per request.
 *
 * SECURITY
 *	The users file holds every user's PSK.  It is read with read(2) into
 *	a buffer that is wiped, and the PSKs are kept in struct kms_user,
 *	wiped when the set is freed.  XXX GKeyFile keeps its own copies of
 *	the values while parsing and frees them without wiping; they remain
 *	in freed heap memory of this process (core dumps are off).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <glib.h>
#include <openssl/crypto.h>

#include "common/log.h"
#include "kms/kms.h"

/* ---------------------------------------------------------------------- */
/* The index: normalised URI -> object (aliases) */

struct kms_index {
	GHashTable	*h;
};

/* index_new - an empty index */
static struct kms_index *
index_new(void)
{
	struct kms_index *ix;

	if ((ix = calloc(1, sizeof(*ix))) == NULL)
		return NULL;
	ix->h = g_hash_table_new(g_str_hash, g_str_equal);
	return ix;
}

/* index_free - the index only; keys and values belong to others */
static void
index_free(struct kms_index *ix)
{
	if (ix == NULL)
		return;
	g_hash_table_destroy(ix->h);
	free(ix);
}

/* index_find - the object for normalised key, or NULL */
static void *
index_find(const struct kms_index *ix, const char *key)
{
	return ix == NULL ? NULL : g_hash_table_lookup(ix->h, key);
}

/* ---------------------------------------------------------------------- */
/* URIs and patterns */

struct uri_parts {
	const char	*scheme;
	size_t		 scheme_len;
	int		 has_user;
	const char	*user;
	size_t		 user_len;
	const char	*host;
	size_t		 host_len;
};

/* uri_split - scheme ":" [user "@"] host; -1 without a scheme */
static int
uri_split(const char *s, size_t len, struct uri_parts *u)
{
	const char *colon, *at, *rest;
	size_t rlen;

	memset(u, 0, sizeof(*u));
	if ((colon = memchr(s, ':', len)) == NULL || colon == s)
		return -1;
	u->scheme = s;
	u->scheme_len = (size_t)(colon - s);
	rest = colon + 1;
	rlen = len - u->scheme_len - 1;
	if ((at = memchr(rest, '@', rlen)) != NULL) {
		u->has_user = 1;
		u->user = rest;
		u->user_len = (size_t)(at - rest);
		u->host = at + 1;
		u->host_len = rlen - u->user_len - 1;
	} else {
		u->host = rest;
		u->host_len = rlen;
	}
	return 0;
}

int
kms_uri_norm(const char *in, size_t len, char *out, size_t cap)
{
	struct uri_parts u;
	size_t i;

	if (len + 1 > cap || len == 0)
		return -1;
	for (i = 0; i < len; i++)
		if ((unsigned char)in[i] <= 0x20 ||
		    (unsigned char)in[i] >= 0x7f)
			return -1;	/* also NUL: no truncated lookups */
	memcpy(out, in, len);
	out[len] = '\0';
	if (uri_split(out, len, &u) != 0)
		return (int)len;	/* not a URI: compared as bytes */
	for (i = 0; i < u.scheme_len; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	for (i = 0; i < u.host_len; i++)
		out[(size_t)(u.host - out) + i] =
		    (char)tolower((unsigned char)u.host[i]);
	return (int)len;
}

int
kms_pattern_check(const char *pat, int wild, char *err, size_t errlen)
{
	struct uri_parts u;
	size_t len = strlen(pat), i;

	if (len == 0) {
		snprintf(err, errlen, "empty identity");
		return -1;
	}
	if (len > KMS_URI_MAX) {
		snprintf(err, errlen, "longer than %d bytes", KMS_URI_MAX);
		return -1;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)pat[i] <= 0x20 ||
		    (unsigned char)pat[i] >= 0x7f) {
			snprintf(err, errlen, "\"%s\": spaces and control or "
			    "non-ASCII characters are not allowed", pat);
			return -1;
		}
	if (uri_split(pat, len, &u) != 0) {
		snprintf(err, errlen, "\"%s\" is not a URI (want scheme:user@"
		    "host, e.g. sip:alice@corp.example)", pat);
		return -1;
	}
	if (!isalpha((unsigned char)u.scheme[0])) {
		snprintf(err, errlen, "\"%s\": the scheme must start with a "
		    "letter", pat);
		return -1;
	}
	for (i = 1; i < u.scheme_len; i++)
		if (!isalnum((unsigned char)u.scheme[i]) &&
		    u.scheme[i] != '+' && u.scheme[i] != '-' &&
		    u.scheme[i] != '.') {
			snprintf(err, errlen, "\"%s\": '%c' is not allowed in "
			    "the scheme", pat, u.scheme[i]);
			return -1;
		}
	if ((u.has_user && u.user_len == 0) || u.host_len == 0) {
		snprintf(err, errlen, "\"%s\": empty %s", pat,
		    u.host_len == 0 ? "host" : "user part");
		return -1;
	}
	if (memchr(u.host, '@', u.host_len) != NULL) {
		snprintf(err, errlen, "\"%s\": more than one '@'", pat);
		return -1;
	}
	if (!wild && strchr(pat, '*') != NULL) {
		snprintf(err, errlen, "\"%s\": no '*' allowed here", pat);
		return -1;
	}
	return 0;
}

/* ceq - one character of a part equal (ignoring case for hosts) */
static int
ceq(char a, char b, int icase)
{
	if (icase)
		return tolower((unsigned char)a) == tolower((unsigned char)b);
	return a == b;
}

/*
 * glob - p (with '*') against s: the classic single-backtrack matcher,
 *	linear in practice; '*' never covers '@'.
 */
static int
glob(const char *p, size_t pl, const char *s, size_t sl, int icase)
{
	size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;

	while (si < sl) {
		if (pi < pl && p[pi] == '*') {
			star = pi++;
			mark = si;
		} else if (pi < pl && ceq(p[pi], s[si], icase)) {
			pi++;
			si++;
		} else if (star != (size_t)-1 && s[mark] != '@') {
			pi = star + 1;
			si = ++mark;
		} else
			return 0;
	}
	while (pi < pl && p[pi] == '*')
		pi++;
	return pi == pl;
}

int
kms_pattern_match(const char *pat, const char *s, size_t len)
{
	struct uri_parts p, u;
	size_t i;

	if (uri_split(pat, strlen(pat), &p) != 0 ||
	    uri_split(s, len, &u) != 0)
		return 0;
	if (p.scheme_len != u.scheme_len || p.has_user != u.has_user)
		return 0;
	for (i = 0; i < p.scheme_len; i++)
		if (!ceq(p.scheme[i], u.scheme[i], 1))
			return 0;
	if (p.has_user && !glob(p.user, p.user_len, u.user, u.user_len, 0))
		return 0;
	return glob(p.host, p.host_len, u.host, u.host_len, 1);
}

#define OV_MAX	(KMS_URI_MAX + 1)

/*
 * glob_overlap - 1 if some string matches both a and b.  The product of
 *	the two patterns' automata: state (i, j) is "a[..i) and b[..j) have
 *	matched the same prefix".  Stars step over themselves (empty run);
 *	a star against a character consumes it (unless '@'); a star against
 *	a star loops.  Every step increases i or j, so one pass in row order
 *	settles the reachable set.  (al+1)*(bl+1) bits on the stack.
 */
static int
glob_overlap(const char *a, size_t al, const char *b, size_t bl, int icase)
{
	uint8_t reach[(OV_MAX * OV_MAX + 7) / 8];
	size_t i, j, w = bl + 1;

#define R_SET(x, y) (reach[((x) * w + (y)) >> 3] |= \
	(uint8_t)(1u << (((x) * w + (y)) & 7)))
#define R_GET(x, y) (reach[((x) * w + (y)) >> 3] >> (((x) * w + (y)) & 7) & 1)
	if (al >= OV_MAX || bl >= OV_MAX)
		return 0;
	memset(reach, 0, ((al + 1) * w + 7) / 8);
	R_SET(0, 0);
	for (i = 0; i <= al; i++)
		for (j = 0; j <= bl; j++) {
			if (!R_GET(i, j))
				continue;
			if (i == al && j == bl)
				return 1;
			if (i < al && a[i] == '*')
				R_SET(i + 1, j);
			if (j < bl && b[j] == '*')
				R_SET(i, j + 1);
			if (i == al || j == bl)
				continue;
			if (a[i] != '*' && b[j] != '*') {
				if (ceq(a[i], b[j], icase))
					R_SET(i + 1, j + 1);
			} else if (a[i] == '*' && b[j] != '*') {
				if (b[j] != '@')
					R_SET(i, j + 1);
			} else if (a[i] != '*' && b[j] == '*') {
				if (a[i] != '@')
					R_SET(i + 1, j);
			}
		}
	return 0;
#undef R_SET
#undef R_GET
}

int
kms_pattern_overlap(const char *a, const char *b)
{
	struct uri_parts p, q;
	size_t i;

	if (uri_split(a, strlen(a), &p) != 0 ||
	    uri_split(b, strlen(b), &q) != 0)
		return 0;
	if (p.scheme_len != q.scheme_len || p.has_user != q.has_user)
		return 0;
	for (i = 0; i < p.scheme_len; i++)
		if (!ceq(p.scheme[i], q.scheme[i], 1))
			return 0;
	if (p.has_user && !glob_overlap(p.user, p.user_len, q.user,
	    q.user_len, 0))
		return 0;
	return glob_overlap(p.host, p.host_len, q.host, q.host_len, 1);
}

int
kms_hostport_split(const char *s, char *host, size_t hostcap, uint16_t *port)
{
	const char *colon, *h, *he;
	char *end;
	unsigned long v;

	if ((colon = strrchr(s, ':')) == NULL || colon[1] == '\0')
		return -1;
	h = s;
	he = colon;
	if (*s == '[') {
		if (colon == s || colon[-1] != ']')
			return -1;
		h = s + 1;
		he = colon - 1;
	} else if (memchr(s, ':', (size_t)(colon - s)) != NULL)
		return -1;	/* an IPv6 address needs [brackets] */
	if (he <= h || (size_t)(he - h) >= hostcap)
		return -1;
	errno = 0;
	if (colon[1] < '0' || colon[1] > '9')
		return -1;
	v = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || v > 65535)
		return -1;
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';
	*port = (uint16_t)v;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Small helpers for the loaders */

/* strv_free - free an owned list */
static void
strv_free(struct kms_strv *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

/* strv_add - append a copy of s (len bytes) */
static int
strv_add(struct kms_strv *sv, const char *s, size_t len)
{
	char **nv, *c;

	if ((c = malloc(len + 1)) == NULL)
		return -1;
	memcpy(c, s, len);
	c[len] = '\0';
	if ((nv = realloc(sv->v, (sv->n + 1) * sizeof(*nv))) == NULL) {
		free(c);
		return -1;
	}
	sv->v = nv;
	sv->v[sv->n++] = c;
	return 0;
}

/* trim - s without leading and trailing blanks: *start, returns length */
static size_t
trim(const char *s, size_t len, const char **start)
{
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	*start = s;
	return len;
}

/* Where a loader is, for its messages. */
struct where {
	const char	*file;
	const char	*group;
	char		*err;
	size_t		 errlen;
};

/* fail - "file: [group] key: message" into w->err; returns -1 */
static int fail(struct where *w, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int
fail(struct where *w, const char *key, const char *fmt, ...)
{
	char msg[KMS_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (w->group != NULL && key != NULL)
		snprintf(w->err, w->errlen, "%s: [%s] %s: %s", w->file,
		    w->group, key, msg);
	else if (w->group != NULL)
		snprintf(w->err, w->errlen, "%s: [%s]: %s", w->file, w->group,
		    msg);
	else
		snprintf(w->err, w->errlen, "%s: %s", w->file, msg);
	return -1;
}

/* get_string - the value of key, or def when absent; *out is malloc'd */
static int
get_string(GKeyFile *kf, struct where *w, const char *key, const char *def,
    char **out)
{
	GError *ge = NULL;
	gchar *v;
	const char *s;
	size_t len;

	if (!g_key_file_has_key(kf, w->group, key, NULL)) {
		*out = def != NULL ? strdup(def) : NULL;
		if (def != NULL && *out == NULL)
			return fail(w, key, "out of memory");
		return 0;
	}
	if ((v = g_key_file_get_string(kf, w->group, key, &ge)) == NULL) {
		fail(w, key, "%s", ge != NULL ? ge->message : "unreadable");
		g_clear_error(&ge);
		return -1;
	}
	len = trim(v, strlen(v), &s);
	*out = strndup(s, len);
	g_free(v);
	if (*out == NULL)
		return fail(w, key, "out of memory");
	return 0;
}

/* get_uint - a decimal number in [min, max], or def when absent */
static int
get_uint(GKeyFile *kf, struct where *w, const char *key, uint64_t def,
    uint64_t min, uint64_t max, uint64_t *out)
{
	char *s = NULL, *end;
	unsigned long long v;
	int rc = -1;

	if (get_string(kf, w, key, NULL, &s) != 0)
		return -1;
	if (s == NULL) {
		*out = def;
		return 0;
	}
	errno = 0;
	v = 0;
	end = s;
	if (s[0] >= '0' && s[0] <= '9')
		v = strtoull(s, &end, 10);
	if (end == s || errno != 0 || *end != '\0' || v < min || v > max)
		fail(w, key, "must be a whole number from %llu to %llu, not "
		    "\"%s\"", (unsigned long long)min,
		    (unsigned long long)max, s);
	else {
		*out = v;
		rc = 0;
	}
	free(s);
	return rc;
}

/* get_bool - true/false (also yes/no, 1/0), or def when absent */
static int
get_bool(GKeyFile *kf, struct where *w, const char *key, int def, int *out)
{
	char *s = NULL;
	int rc = 0;

	if (get_string(kf, w, key, NULL, &s) != 0)
		return -1;
	if (s == NULL)
		*out = def;
	else if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
	    strcmp(s, "1") == 0)
		*out = 1;
	else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
	    strcmp(s, "0") == 0)
		*out = 0;
	else
		rc = fail(w, key, "must be true or false, not \"%s\"", s);
	free(s);
	return rc;
}

/*
 * get_list - a list separated by sep (';' for identities, ',' for
 *	addresses), blanks around items ignored, empty items skipped.
 *	check: 0 none, 1 patterns, 2 host:port.
 */
static int
get_list(GKeyFile *kf, struct where *w, const char *key, char sep, int check,
    struct kms_strv *out)
{
	char *s = NULL, host[256], why[KMS_ERR_LEN];
	const char *p, *e, *it;
	size_t len;
	uint16_t port;
	int rc = -1;

	if (get_string(kf, w, key, NULL, &s) != 0)
		return -1;
	if (s == NULL)
		return 0;
	for (p = s; *p != '\0'; p = *e ? e + 1 : e) {
		e = strchr(p, sep);
		if (e == NULL)
			e = p + strlen(p);
		len = trim(p, (size_t)(e - p), &it);
		if (len == 0)
			continue;
		if (strv_add(out, it, len) != 0) {
			fail(w, key, "out of memory");
			goto done;
		}
		if (check == 1 && kms_pattern_check(out->v[out->n - 1], 1, why,
		    sizeof(why)) != 0) {
			fail(w, key, "%s", why);
			goto done;
		}
		if (check == 2) {
			if (out->n > KMS_MAX_LISTEN) {
				fail(w, key, "more than %d addresses",
				    KMS_MAX_LISTEN);
				goto done;
			}
			if (kms_hostport_split(out->v[out->n - 1], host,
			    sizeof(host), &port) != 0) {
				fail(w, key, "\"%s\" is not host:port (IPv6 as "
				    "[::1]:8470)", out->v[out->n - 1]);
				goto done;
			}
		}
	}
	rc = 0;
done:
	free(s);
	return rc;
}

/* check_keys - every key of the group is one of allowed */
static int
check_keys(GKeyFile *kf, struct where *w, const char *const *allowed)
{
	gchar **keys;
	size_t i, j;
	int rc = 0;

	keys = g_key_file_get_keys(kf, w->group, NULL, NULL);
	for (i = 0; keys != NULL && keys[i] != NULL && rc == 0; i++) {
		for (j = 0; allowed[j] != NULL; j++)
			if (strcmp(keys[i], allowed[j]) == 0)
				break;
		if (allowed[j] == NULL)
			rc = fail(w, keys[i], "unknown key (see FORMATS.md or "
			    "imgate-kms --help)");
	}
	g_strfreev(keys);
	return rc;
}

/* resolve_path - value relative to dir unless absolute; malloc'd */
static char *
resolve_path(const char *dir, const char *value)
{
	char *p;
	size_t len;

	if (value == NULL || value[0] == '\0')
		return NULL;
	if (value[0] == '/')
		return strdup(value);
	len = strlen(dir) + 1 + strlen(value) + 1;
	if ((p = malloc(len)) != NULL)
		snprintf(p, len, "%s/%s", dir, value);
	return p;
}

/* load_keyfile - a GKeyFile from buf; -1 with the reason */
static GKeyFile *
load_keyfile(struct where *w, const char *buf, size_t len)
{
	GKeyFile *kf = g_key_file_new();
	GError *ge = NULL;

	if (!g_key_file_load_from_data(kf, buf, len, G_KEY_FILE_NONE, &ge)) {
		fail(w, NULL, "%s (comments are lines starting with '#')",
		    ge != NULL ? ge->message : "not a key file");
		g_clear_error(&ge);
		g_key_file_free(kf);
		return NULL;
	}
	return kf;
}

/* ---------------------------------------------------------------------- */
/* kms.conf */

static const char *const kms_keys_allowed[] = {
	"id", "listen", "tls_listen", "tls_cert", "tls_key", "path",
	"master_keys", "users", "ticket_lifetime", "max_ticket_lifetime",
	"clock_skew", "replay_cache_entries", "max_body", "max_headers",
	"timeout", "metrics", "log_level", NULL
};
static const char *const group_keys_allowed[] = { "members", "exploders",
	NULL };
static const char *const netfn_keys_allowed[] = { "resolve_any", NULL };

/* conf_kms - the [kms] group */
static int
conf_kms(GKeyFile *kf, struct where *w, struct kms_conf *c)
{
	char *s = NULL, why[KMS_ERR_LEN];
	uint64_t v;
	int rc = -1;

	w->group = "kms";
	if (!g_key_file_has_group(kf, "kms"))
		return fail(w, NULL, "no [kms] section");
	if (check_keys(kf, w, kms_keys_allowed) != 0)
		return -1;
	if (get_string(kf, w, "id", NULL, &c->id) != 0)
		return -1;
	if (c->id == NULL || c->id[0] == '\0')
		return fail(w, "id", "required: this KMS's own identity "
		    "(IDRkms), e.g. sip:kms@corp.example");
	if (kms_pattern_check(c->id, 0, why, sizeof(why)) != 0)
		return fail(w, "id", "%s", why);
	if (g_key_file_has_key(kf, "kms", "listen", NULL)) {
		if (get_list(kf, w, "listen", ',', 2, &c->listen) != 0)
			return -1;
	} else if (strv_add(&c->listen, "127.0.0.1:8470", 14) != 0)
		return fail(w, "listen", "out of memory");
	if (get_list(kf, w, "tls_listen", ',', 2, &c->tls_listen) != 0)
		return -1;
	if (c->listen.n + c->tls_listen.n == 0)
		return fail(w, "listen", "no address to listen on (listen "
		    "and tls_listen are both empty)");
	if (get_string(kf, w, "tls_cert", "", &s) != 0)
		return -1;
	c->tls_cert = resolve_path(c->dir, s);
	free(s);
	if (get_string(kf, w, "tls_key", "", &s) != 0)
		return -1;
	c->tls_key = resolve_path(c->dir, s);
	free(s);
	if (c->tls_listen.n > 0 && (c->tls_cert == NULL || c->tls_key == NULL))
		return fail(w, "tls_listen", "needs tls_cert and tls_key (PEM "
		    "files)");
	if (get_string(kf, w, "path", "/mikey", &c->path) != 0)
		return -1;
	if (c->path[0] != '/' || strpbrk(c->path, "?# \t") != NULL ||
	    strcmp(c->path, "/metrics") == 0 ||
	    strcmp(c->path, "/health") == 0)
		return fail(w, "path", "must start with '/', have no '?', '#' "
		    "or blanks, and not be /metrics or /health");
	if (get_string(kf, w, "master_keys", "kms-master.keys", &s) != 0)
		return -1;
	c->master_keys = resolve_path(c->dir, s);
	free(s);
	if (get_string(kf, w, "users", "kms-users.conf", &s) != 0)
		return -1;
	c->users = resolve_path(c->dir, s);
	free(s);
	if (c->master_keys == NULL || c->users == NULL)
		return fail(w, c->users == NULL ? "users" : "master_keys",
		    "must name a file");
	if (get_uint(kf, w, "ticket_lifetime", 2592000, 1, INT32_MAX, &v) != 0)
		return -1;
	c->ticket_lifetime = (uint32_t)v;
	if (get_uint(kf, w, "max_ticket_lifetime", 7776000, 1, INT32_MAX,
	    &v) != 0)
		return -1;
	c->max_ticket_lifetime = (uint32_t)v;
	if (c->max_ticket_lifetime < c->ticket_lifetime)
		return fail(w, "max_ticket_lifetime", "%u is less than "
		    "ticket_lifetime (%u)", c->max_ticket_lifetime,
		    c->ticket_lifetime);
	if (get_uint(kf, w, "clock_skew", 300, 1, 86400, &v) != 0)
		return -1;
	c->clock_skew = (uint32_t)v;
	if (get_uint(kf, w, "replay_cache_entries", 1000000, 1, 100000000,
	    &v) != 0)
		return -1;
	c->replay_cache_entries = (size_t)v;
	if (get_uint(kf, w, "max_body", 16384, 64, MIKEY_MAX_MSG, &v) != 0)
		return -1;
	c->max_body = (size_t)v;
	if (get_uint(kf, w, "max_headers", 8192, 256, 1048576, &v) != 0)
		return -1;
	c->max_headers = (size_t)v;
	if (get_uint(kf, w, "timeout", 10, 1, 3600, &v) != 0)
		return -1;
	c->timeout = (int)v;
	if (get_bool(kf, w, "metrics", 1, &c->metrics) != 0)
		return -1;
	if (get_string(kf, w, "log_level", "info", &s) != 0)
		return -1;
	if (log_level_parse(s, &c->log_level) != 0)
		fail(w, "log_level", "must be debug, info or warn, not \"%s\"",
		    s);
	else
		rc = 0;
	free(s);
	return rc;
}

/* conf_group - one [group URI] section */
static int
conf_group(GKeyFile *kf, struct where *w, struct kms_conf *c,
    const char *name)
{
	struct kms_group *g = &c->groups[c->ngroups];
	char why[KMS_ERR_LEN], norm[KMS_URI_MAX + 1];
	const char *uri;
	size_t len;
	int n;

	w->group = name;
	len = trim(name + 5, strlen(name + 5), &uri);
	if (len == 0 || len > KMS_URI_MAX ||
	    (n = kms_uri_norm(uri, len, norm, sizeof(norm))) < 0 ||
	    kms_pattern_check(norm, 0, why, sizeof(why)) != 0)
		return fail(w, NULL, "a group section is [group URI], with "
		    "one URI and no '*'");
	if (index_find(c->group_index, norm) != NULL)
		return fail(w, NULL, "the group %s appears twice", norm);
	if (check_keys(kf, w, group_keys_allowed) != 0)
		return -1;
	if ((g->uri = strdup(norm)) == NULL)
		return fail(w, NULL, "out of memory");
	c->ngroups++;
	if (get_list(kf, w, "members", ';', 1, &g->members) != 0 ||
	    get_list(kf, w, "exploders", ';', 1, &g->exploders) != 0)
		return -1;
	if (g->members.n == 0 && g->exploders.n == 0)
		return fail(w, NULL, "no members and no exploders");
	g_hash_table_insert(c->group_index->h, g->uri, g);
	return 0;
}

int
kms_conf_parse(const char *file, const char *buf, size_t len,
    struct kms_conf **out, char *err, size_t errlen)
{
	struct where w = { file, NULL, err, errlen };
	struct kms_conf *c = NULL;
	GKeyFile *kf;
	gchar **groups = NULL, *dir;
	size_t i, n;
	int rc = -1;

	if ((kf = load_keyfile(&w, buf, len)) == NULL)
		return -1;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->file = strdup(file)) == NULL) {
		fail(&w, NULL, "out of memory");
		goto done;
	}
	dir = g_path_get_dirname(file);
	c->dir = strdup(dir);
	g_free(dir);
	if (c->dir == NULL || (c->group_index = index_new()) == NULL) {
		fail(&w, NULL, "out of memory");
		goto done;
	}
	if (conf_kms(kf, &w, c) != 0)
		goto done;
	groups = g_key_file_get_groups(kf, NULL);
	for (n = 0; groups[n] != NULL; n++)
		;
	if ((c->groups = calloc(n + 1, sizeof(*c->groups))) == NULL) {
		fail(&w, NULL, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++) {
		w.group = groups[i];
		if (strcmp(groups[i], "kms") == 0)
			continue;
		if (strncmp(groups[i], "group ", 6) == 0) {
			if (conf_group(kf, &w, c, groups[i]) != 0)
				goto done;
		} else if (strcmp(groups[i], "network-functions") == 0) {
			if (check_keys(kf, &w, netfn_keys_allowed) != 0 ||
			    get_list(kf, &w, "resolve_any", ';', 1,
			    &c->netfn) != 0)
				goto done;
		} else {
			fail(&w, NULL, "unknown section; want [kms], "
			    "[group URI] or [network-functions]");
			goto done;
		}
	}
	*out = c;
	c = NULL;
	rc = 0;
done:
	g_strfreev(groups);
	g_key_file_free(kf);
	kms_conf_free(c);
	return rc;
}

int
kms_conf_load(const char *file, struct kms_conf **out, char *err,
    size_t errlen)
{
	struct kms_stamp st;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (kms_file_read(file, KMS_CONF_FILE_MAX, &buf, &len, &st, err,
	    errlen) != 0)
		return -1;
	rc = kms_conf_parse(file, buf, len, out, err, errlen);
	kms_file_free(buf, len + 1);
	return rc;
}

void
kms_conf_free(struct kms_conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->file);
	free(c->dir);
	free(c->id);
	strv_free(&c->listen);
	strv_free(&c->tls_listen);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->path);
	free(c->master_keys);
	free(c->users);
	for (i = 0; i < c->ngroups; i++) {
		free(c->groups[i].uri);
		strv_free(&c->groups[i].members);
		strv_free(&c->groups[i].exploders);
	}
	free(c->groups);
	index_free(c->group_index);
	strv_free(&c->netfn);
	free(c);
}

const struct kms_group *
kms_conf_group(const struct kms_conf *c, const char *id, size_t len)
{
	char norm[KMS_URI_MAX + 1];

	if (c == NULL || kms_uri_norm(id, len, norm, sizeof(norm)) < 0)
		return NULL;
	return index_find(c->group_index, norm);
}

/* ---------------------------------------------------------------------- */
/* The users file */

static const char *const user_keys_allowed[] = { "psk", "act_for",
	"lifetime", NULL };

/* parse_psk - 32 to 128 hex digits into u->psk; never echoes the value */
static int
parse_psk(struct where *w, const char *s, struct kms_user *u)
{
	size_t len = strlen(s), i;
	int hi, lo;

	if (len % 2 != 0 || len < 2 * KMS_PSK_MIN || len > 2 * KMS_PSK_MAX)
		return fail(w, "psk", "must be %d to %d hex digits (%d to %d "
		    "bytes); this one has %zu characters", 2 * KMS_PSK_MIN,
		    2 * KMS_PSK_MAX, KMS_PSK_MIN, KMS_PSK_MAX, len);
	for (i = 0; i < len / 2; i++) {
		hi = g_ascii_xdigit_value(s[2 * i]);
		lo = g_ascii_xdigit_value(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return fail(w, "psk", "has a character that is not a "
			    "hex digit");
		u->psk[i] = (uint8_t)(hi << 4 | lo);
	}
	u->psk_len = len / 2;
	return 0;
}

/* users_one - one [user URI] section into u */
static int
users_one(GKeyFile *kf, struct where *w, struct kms_users *us,
    const char *name)
{
	struct kms_user *u = &us->v[us->n];
	char norm[KMS_URI_MAX + 1], why[KMS_ERR_LEN];
	GError *ge = NULL;
	const char *uri;
	gchar *psk;
	size_t len;
	uint64_t v;
	int rc;

	w->group = name;
	if (strncmp(name, "user ", 5) != 0)
		return fail(w, NULL, "unknown section; want [user URI]");
	len = trim(name + 5, strlen(name + 5), &uri);
	if (len == 0 || kms_uri_norm(uri, len, norm, sizeof(norm)) < 0 ||
	    kms_pattern_check(norm, 0, why, sizeof(why)) != 0)
		return fail(w, NULL, "a user section is [user URI], with one "
		    "URI and no '*'");
	if (index_find(us->index, norm) != NULL)
		return fail(w, NULL, "the user %s appears twice", norm);
	if (check_keys(kf, w, user_keys_allowed) != 0)
		return -1;
	if ((u->id = strdup(norm)) == NULL)
		return fail(w, NULL, "out of memory");
	us->n++;
	if (!g_key_file_has_key(kf, name, "psk", NULL))
		return fail(w, "psk", "required (hex, %d to %d bytes)",
		    KMS_PSK_MIN, KMS_PSK_MAX);
	if ((psk = g_key_file_get_string(kf, name, "psk", &ge)) == NULL) {
		fail(w, "psk", "%s", ge != NULL ? ge->message : "unreadable");
		g_clear_error(&ge);
		return -1;
	}
	g_strstrip(psk);
	rc = parse_psk(w, psk, u);
	OPENSSL_cleanse(psk, strlen(psk));
	g_free(psk);
	if (rc != 0)
		return -1;
	if (get_list(kf, w, "act_for", ';', 1, &u->act_for) != 0)
		return -1;
	if (get_uint(kf, w, "lifetime", 0, 1, INT32_MAX, &v) != 0)
		return -1;
	u->lifetime = (uint32_t)v;
	g_hash_table_insert(us->index->h, u->id, u);
	return 0;
}

int
kms_users_parse(const char *file, const char *buf, size_t len,
    struct kms_users **out, char *err, size_t errlen)
{
	struct where w = { file, NULL, err, errlen };
	struct kms_users *us = NULL;
	GKeyFile *kf;
	gchar **groups = NULL;
	size_t i, n;
	int rc = -1;

	if ((kf = load_keyfile(&w, buf, len)) == NULL)
		return -1;
	groups = g_key_file_get_groups(kf, NULL);
	for (n = 0; groups[n] != NULL; n++)
		;
	if ((us = calloc(1, sizeof(*us))) == NULL ||
	    (us->v = calloc(n + 1, sizeof(*us->v))) == NULL ||
	    (us->index = index_new()) == NULL) {
		fail(&w, NULL, "out of memory");
		goto done;
	}
	for (i = 0; i < n; i++)
		if (users_one(kf, &w, us, groups[i]) != 0)
			goto done;
	*out = us;
	us = NULL;
	rc = 0;
done:
	g_strfreev(groups);
	g_key_file_free(kf);
	kms_users_free(us);
	return rc;
}

int
kms_users_load(const char *path, struct kms_users **out, char *err,
    size_t errlen)
{
	struct kms_users *us = NULL;
	struct kms_stamp st;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	if (kms_file_read(path, KMS_USERS_FILE_MAX, &buf, &len, &st, err,
	    errlen) != 0)
		return -1;
	rc = kms_users_parse(path, buf, len, &us, err, errlen);
	kms_file_free(buf, len + 1);
	if (rc != 0)
		return -1;
	if (st.mode & 077)
		log_warnx("kms users file=%s mode=%04o: the PSKs are "
		    "accessible to group or others; chmod 600 it", path,
		    (unsigned)(st.mode & 07777));
	us->st = st;
	*out = us;
	return 0;
}

void
kms_users_free(struct kms_users *us)
{
	size_t i;

	if (us == NULL)
		return;
	for (i = 0; us->v != NULL && i < us->n + 1; i++) {
		/* n + 1: the entry a failed parse was filling */
		OPENSSL_cleanse(us->v[i].psk, sizeof(us->v[i].psk));
		free(us->v[i].id);
		strv_free(&us->v[i].act_for);
	}
	free(us->v);
	index_free(us->index);
	free(us);
}

const struct kms_user *
kms_users_find(const struct kms_users *us, const char *id, size_t len)
{
	char norm[KMS_URI_MAX + 1];

	if (us == NULL || kms_uri_norm(id, len, norm, sizeof(norm)) < 0)
		return NULL;
	return index_find(us->index, norm);
}

/* ---------------------------------------------------------------------- */
/* The policy callbacks */

void
kms_policy_begin(struct kms_policy *p)
{
	memset(&p->call, 0, sizeof(p->call));
}

/* idstr - an identity's bytes as (pointer, length) of chars */
#define ID_P(id)	((const char *)(id)->data.p)
#define ID_LEN(id)	((id)->data.len)

/* is_user - 1 if id is u (normalised comparison) */
static int
is_user(const struct kms_user *u, const struct mikey_id *id)
{
	char norm[KMS_URI_MAX + 1];

	return kms_uri_norm(ID_P(id), ID_LEN(id), norm, sizeof(norm)) >= 0 &&
	    strcmp(norm, u->id) == 0;
}

/* any_match - 1 if some pattern of sv matches s */
static int
any_match(const struct kms_strv *sv, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		if (kms_pattern_match(sv->v[i], s, len))
			return 1;
	return 0;
}

/* any_overlap - 1 if pattern a overlaps some pattern of sv */
static int
any_overlap(const char *a, const struct kms_strv *sv)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		if (kms_pattern_overlap(a, sv->v[i]))
			return 1;
	return 0;
}

/* speaks_for - u is id, or id matches u's act_for */
static int
speaks_for(const struct kms_user *u, const struct mikey_id *id)
{
	return is_user(u, id) || any_match(&u->act_for, ID_P(id), ID_LEN(id));
}

static int
op_psk(void *arg, const struct mikey_id *id, const struct mikey_id *idpsk,
    uint8_t *key, size_t *key_len)
{
	struct kms_policy *p = arg;
	const struct mikey_id *who = idpsk != NULL ? idpsk : id;
	const struct kms_user *u = NULL;

	if (who != NULL)
		u = kms_users_find(p->users, ID_P(who), ID_LEN(who));
	if (u == NULL || u->psk_len > *key_len) {
		/* compute and fail V as for a wrong PSK (see DESIGN) */
		p->call.unknown = 1;
		p->call.why = "unknown_identity";
		memcpy(key, p->dummy_psk, sizeof(p->dummy_psk));
		*key_len = sizeof(p->dummy_psk);
		return 0;
	}
	p->call.principal = u;
	memcpy(key, u->psk, u->psk_len);
	*key_len = u->psk_len;
	return 0;
}

static int
op_current_tpk(void *arg, struct mikey_tpk *tpk)
{
	struct kms_policy *p = arg;
	const struct kms_mkey *k;

	memset(tpk, 0, sizeof(*tpk));
	if (p->keys == NULL || p->keys->n == 0) {
		p->call.why = "no_current_key";
		return -1;
	}
	k = &p->keys->v[p->keys->current];
	tpk->version = k->version;
	memcpy(tpk->key, k->key, KMS_MASTER_LEN);
	tpk->key_len = KMS_MASTER_LEN;
	p->call.has_version = 1;
	p->call.version = k->version;
	return 0;
}

static int
op_lookup_tpk(void *arg, int has_version, uint32_t version,
    const struct mikey_id *idpsk, struct mikey_tpk *tpk)
{
	struct kms_policy *p = arg;
	const struct kms_mkey *k;

	memset(tpk, 0, sizeof(*tpk));
	if (idpsk != NULL || !has_version) {
		/* modes 3 and 4 (a ticket sealed under a PSK) are not ours */
		p->call.why = "ticket_not_sealed_by_kms";
		return -1;
	}
	p->call.has_version = 1;
	p->call.version = version;
	if ((k = kms_keys_find(p->keys, version)) == NULL) {
		p->call.why = "key_version_unknown";
		return -1;
	}
	if (k->state == KMS_KEY_RETIRED) {
		p->call.why = "key_version_retired";
		return -1;
	}
	tpk->version = version;
	memcpy(tpk->key, k->key, KMS_MASTER_LEN);
	tpk->key_len = KMS_MASTER_LEN;
	return 0;
}

static int
op_authorise_request(void *arg, const struct mikey_id *requester,
    struct mikey_grant *g)
{
	struct kms_policy *p = arg;
	const struct kms_user *u = p->call.principal;
	int64_t start, end;

	if (u == NULL) {
		p->call.why = "unknown_identity";
		return -1;
	}
	if (!speaks_for(u, requester)) {
		p->call.why = "psk_owner_may_not_act_for_requester";
		return -1;
	}
	if (!speaks_for(u, &g->idi)) {
		p->call.why = "idi_not_requester_or_act_for";
		return -1;
	}
	if (g->nresp == 0) {
		p->call.why = "no_responder";
		return -1;
	}
	log_trace("policy", "kms policy request allowed principal=%s "
	    "as=%s", u->id, is_user(u, &g->idi) ? "self" : "act_for");
	if (u->lifetime != 0) {
		start = mikey_ntp_to_unix(g->start);
		end = mikey_ntp_to_unix(g->end);
		if (end - start > (int64_t)u->lifetime)
			g->end = g->start + ((uint64_t)u->lifetime << 32);
	}
	return 0;
}

/* audit - the log line of a resolve by a network function */
static void
audit(const struct kms_user *u, const struct mikey_policy *pol)
{
	char idi[2 * KMS_URI_MAX + 8], resp[1024], one[4 * KMS_URI_MAX + 4];
	size_t i, off = 0, l;

	if (pol->has_idi)
		log_vis(idi, sizeof(idi), pol->idi.data.p, pol->idi.data.len);
	else
		snprintf(idi, sizeof(idi), "-");
	resp[0] = '\0';
	for (i = 0; i < pol->nresp; i++) {
		log_vis(one, sizeof(one), pol->resp[i].data.p,
		    pol->resp[i].data.len);
		l = strlen(one);
		if (off + l + 2 >= sizeof(resp)) {
			snprintf(resp + off, sizeof(resp) - off, "...");
			break;
		}
		off += (size_t)snprintf(resp + off, sizeof(resp) - off, "%s%s",
		    i ? "," : "", one);
	}
	log_notice("kms audit resolve by network function requester=%s "
	    "idi=%s responders=%s", u->id, idi, off ? resp : "-");
}

/* allowed - trace why a resolve was allowed; returns 0 */
static int
allowed(const struct kms_user *u, const char *as, const struct kms_group *g)
{
	log_trace("policy", "kms policy resolve allowed principal=%s as=%s "
	    "group=%s", u->id, as, g != NULL ? g->uri : "-");
	return 0;
}

static int
op_authorise_resolve(void *arg, const struct mikey_id *requester,
    const struct mikey_policy *pol)
{
	struct kms_policy *p = arg;
	const struct kms_user *u = p->call.principal;
	const struct kms_group *g;
	const struct mikey_id *r;
	size_t i, j, ulen;

	if (u == NULL) {
		p->call.why = "unknown_identity";
		return -1;
	}
	if (!speaks_for(u, requester)) {
		p->call.why = "psk_owner_may_not_act_for_requester";
		return -1;
	}
	ulen = strlen(u->id);
	if (any_match(&p->conf->netfn, u->id, ulen)) {
		p->call.netfn = 1;
		audit(u, pol);
		return 0;
	}
	/* the principal itself: named, member, exploder */
	for (i = 0; i < pol->nresp; i++) {
		r = &pol->resp[i];
		if (is_user(u, r))
			return allowed(u, "named", NULL);
		g = kms_conf_group(p->conf, ID_P(r), ID_LEN(r));
		if (g != NULL && any_match(&g->members, u->id, ulen))
			return allowed(u, "member", g);
		if (g != NULL && any_match(&g->exploders, u->id, ulen))
			return allowed(u, "exploder", g);
	}
	/* someone it acts for could be one of those */
	for (j = 0; j < u->act_for.n; j++)
		for (i = 0; i < pol->nresp; i++) {
			r = &pol->resp[i];
			if (kms_pattern_match(u->act_for.v[j], ID_P(r),
			    ID_LEN(r)))
				return allowed(u, "act_for_named", NULL);
			g = kms_conf_group(p->conf, ID_P(r), ID_LEN(r));
			if (g != NULL && any_overlap(u->act_for.v[j],
			    &g->members))
				return allowed(u, "act_for_member", g);
			if (g != NULL && any_overlap(u->act_for.v[j],
			    &g->exploders))
				return allowed(u, "act_for_exploder", g);
		}
	p->call.why = "not_a_responder";
	return -1;
}

const struct mikey_kms_ops kms_policy_ops = {
	op_psk, op_current_tpk, op_lookup_tpk, op_authorise_request,
	op_authorise_resolve
};
