/*
 * kms/kms_conf.c - kms.conf and the users file of imgate-kms: parse,
 *	validate, load, look up, free
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	Both files are GKeyFile text (FORMATS.md sections 2 and 3), read
 *	whole and parsed strictly: an unknown key, a bad value or a bad
 *	pattern refuses the whole file with a one-line message naming the
 *	file, group and key, so the daemon can keep what it has.  Groups
 *	and users are indexed by their normalised URI (a hash), so that a
 *	lookup normalises the identity into a stack buffer and allocates
 *	nothing per request.
 *
 * SECURITY
 *	The users file holds every user's PSK.  It is read with read(2) into
 *	a buffer that is wiped, and the PSKs are kept in struct kms_user,
 *	wiped when the set is freed.  XXX GKeyFile keeps its own copies of
 *	the values while parsing and frees them without wiping; they remain
 *	in freed heap memory of this process (core dumps are off).
 */
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
