/*
 * gateway/gw_conf.c - conf/imgate.conf into struct gw_conf: parse,
 *	validate, resolve the next hops, read the PSK; and the domain, URI
 *	and Content-Type matchers that routing uses
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	The file is GKeyFile text with five groups, [gateway] [listen]
 *	[admin] [route] [sip] (conf/imgate.conf documents every key and its
 *	default).  It is read whole with read(2), bounded, and parsed
 *	strictly: an unknown group or key (a typo), a bad value, or values
 *	that contradict each other refuse the whole file with one line that
 *	names the file, group and key, the value and what to do, so that
 *	--check-config can be trusted and a reload can keep the old
 *	configuration.  Like the KMS's loaders this one never logs, except
 *	one permission warning about the PSK file.
 *
 *	Lists (domains, AoRs, content types, listeners) are separated by
 *	';' or ','; blanks around items are ignored and empty items are
 *	skipped.  Domain lists and the host of an AoR pattern are stored
 *	lower-cased without a trailing dot.  Hosts are stored without IPv6
 *	brackets.  Relative paths are made absolute against the directory
 *	of the configuration file, so the daemon may chdir later.
 *
 *	This file uses libc, GLib and common/log only (tests/unit/gateway
 *	t_conf links it alone), so it resolves next hops itself, with
 *	getaddrinfo(3) at load time.  XXX that blocks the caller while DNS
 *	answers; it happens at start and on reload only, and a numeric
 *	host never touches DNS.  A host name's address is fixed at load
 *	time: reload to follow a DNS change.
 *
 * SECURITY
 *	The configuration file holds no secret, so GKeyFile's copies of its
 *	values need no wiping.  The PSK lives in its own file (psk_file):
 *	read with read(2) into a buffer that is wiped after decoding,
 *	refused if others may read or write it, warned about if its group
 *	may.  Decoded, it sits in struct gw_conf and gw_conf_free wipes it
 *	with explicit_bzero.  Error messages never echo PSK characters.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <glib.h>

#include "common/log.h"
#include "gateway/gw_conf.h"

#define CONF_FILE_MAX	(1024 * 1024)	/* bytes of imgate.conf */
#define PSK_FILE_MAX	4096		/* bytes of psk_file */
#define PSK_MIN		16		/* bytes of the PSK */
#define PSK_MAX		((int)sizeof(((struct gw_conf *)0)->psk))
#define ERR_MAX		512
#define DOMAIN_MAX	253		/* RFC 1035 2.3.4, without the dot */

/* What a loader is reading, for its messages. */
struct ld {
	const char	*file;
	const char	*group;
	char		*err;
	size_t		 errlen;
	GKeyFile	*kf;
	char		*dir;		/* of the file, absolute if possible */
};

static const char *const proto_names[GW_NPROTO] = { "udp", "tcp", "tls" };

/* ---------------------------------------------------------------------- */
/* Helpers */

/* fail - "file: [group] key: message" into l->err; returns -1 */
static int fail(struct ld *l, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int
fail(struct ld *l, const char *key, const char *fmt, ...)
{
	char msg[ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (l->group != NULL && key != NULL)
		snprintf(l->err, l->errlen, "%s: [%s] %s: %s", l->file,
		    l->group, key, msg);
	else if (l->group != NULL)
		snprintf(l->err, l->errlen, "%s: [%s]: %s", l->file, l->group,
		    msg);
	else
		snprintf(l->err, l->errlen, "%s: %s", l->file, msg);
	return -1;
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

/*
 * next_item - the next item of a list separated by ';' or ',', blanks
 *	trimmed, empty items skipped: 1 with *item and *len, 0 at the end.
 */
static int
next_item(const char **pp, const char **item, size_t *len)
{
	const char *p = *pp, *e;

	while (*p != '\0') {
		e = p + strcspn(p, ";,");
		*len = trim(p, (size_t)(e - p), item);
		p = *e != '\0' ? e + 1 : e;
		if (*len > 0) {
			*pp = p;
			return 1;
		}
	}
	*pp = p;
	return 0;
}

/* lower - ASCII lower-case s in place */
static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		*s = g_ascii_tolower(*s);
}

/*
 * read_file - path into *buf_out (malloc'd, NUL-terminated, len + 1
 *	bytes) if it is a regular file of at most max bytes; its mode into
 *	*mode_out.  -1 with a message in why.
 */
static int
read_file(const char *path, size_t max, char **buf_out, size_t *len_out,
    mode_t *mode_out, char *why, size_t whylen)
{
	struct stat sb;
	char *buf = NULL;
	size_t len = 0, cap;
	ssize_t n;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(why, whylen, "%s: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		snprintf(why, whylen, "%s: cannot stat: %s", path,
		    strerror(errno));
		goto done;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(why, whylen, "%s: not a regular file", path);
		goto done;
	}
	if (sb.st_size < 0 || (size_t)sb.st_size > max) {
		snprintf(why, whylen, "%s: larger than %zu bytes", path,
		    max);
		goto done;
	}
	/* one byte more than stat said, to notice a file that grew */
	cap = (size_t)sb.st_size + 1;
	if ((buf = malloc(cap + 1)) == NULL) {
		snprintf(why, whylen, "%s: out of memory", path);
		goto done;
	}
	while (len < cap) {
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(why, whylen, "%s: read error: %s", path,
			    strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > (size_t)sb.st_size) {
		snprintf(why, whylen, "%s: changed while being read; try again",
		    path);
		goto done;
	}
	buf[len] = '\0';
	*buf_out = buf;
	*len_out = len;
	*mode_out = sb.st_mode;
	buf = NULL;
	rc = 0;
done:
	if (buf != NULL) {
		explicit_bzero(buf, cap + 1);
		free(buf);
	}
	close(fd);
	return rc;
}

/* resolve_path - value relative to dir unless absolute; malloc'd */
static char *
resolve_path(const char *dir, const char *value)
{
	char *p;
	size_t len;

	if (value[0] == '/')
		return strdup(value);
	len = strlen(dir) + 1 + strlen(value) + 1;
	if ((p = malloc(len)) != NULL)
		snprintf(p, len, "%s/%s", dir, value);
	return p;
}

/* ---------------------------------------------------------------------- */
/* Reading keys */

/* check_keys - every key of the current group is one of allowed */
static int
check_keys(struct ld *l, const char *const *allowed)
{
	gchar **keys;
	size_t i, j;
	int rc = 0;

	keys = g_key_file_get_keys(l->kf, l->group, NULL, NULL);
	for (i = 0; keys != NULL && keys[i] != NULL && rc == 0; i++) {
		for (j = 0; allowed[j] != NULL; j++)
			if (strcmp(keys[i], allowed[j]) == 0)
				break;
		if (allowed[j] == NULL)
			rc = fail(l, keys[i], "unknown key (a typo?  every key "
			    "is documented in conf/imgate.conf)");
	}
	g_strfreev(keys);
	return rc;
}

/*
 * get_string - the value of key, blanks trimmed, or a copy of def (may be
 *	NULL) when the key is absent; *out is malloc'd.
 */
static int
get_string(struct ld *l, const char *key, const char *def, char **out)
{
	GError *ge = NULL;
	gchar *v;
	const char *s;
	size_t len;

	*out = NULL;
	if (!g_key_file_has_key(l->kf, l->group, key, NULL)) {
		if (def != NULL && (*out = strdup(def)) == NULL)
			return fail(l, key, "out of memory");
		return 0;
	}
	if ((v = g_key_file_get_string(l->kf, l->group, key, &ge)) == NULL) {
		fail(l, key, "%s", ge != NULL ? ge->message : "unreadable");
		g_clear_error(&ge);
		return -1;
	}
	len = trim(v, strlen(v), &s);
	if (strstr(v, " #") != NULL || strstr(v, "\t#") != NULL) {
		fail(l, key, "\"%.*s\": a '#' after a value is part of the "
		    "value; put comments on lines of their own", (int)len, s);
		g_free(v);
		return -1;
	}
	*out = strndup(s, len);
	g_free(v);
	if (*out == NULL)
		return fail(l, key, "out of memory");
	return 0;
}

/*
 * get_path - a file or directory name, relative to the configuration's
 *	directory unless absolute; NULL when absent or empty (and def is
 *	NULL).
 */
static int
get_path(struct ld *l, const char *key, const char *def, char **out)
{
	char *s = NULL;

	*out = NULL;
	if (get_string(l, key, def, &s) != 0)
		return -1;
	if (s == NULL || s[0] == '\0') {
		free(s);
		return 0;
	}
	*out = resolve_path(l->dir, s);
	free(s);
	if (*out == NULL)
		return fail(l, key, "out of memory");
	return 0;
}

/* readable - the file named by key can be opened for reading */
static int
readable(struct ld *l, const char *key, const char *path)
{
	int fd;

	if (path == NULL)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return fail(l, key, "cannot read %s: %s", path,
		    strerror(errno));
	close(fd);
	return 0;
}

/* get_uint - a decimal number in [min, max], or def when absent */
static int
get_uint(struct ld *l, const char *key, uint64_t def, uint64_t min,
    uint64_t max, uint64_t *out)
{
	char *s = NULL, *end;
	unsigned long long v;
	int rc = -1;

	if (get_string(l, key, NULL, &s) != 0)
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
		fail(l, key, "must be a whole number from %llu to %llu, not "
		    "\"%s\"", (unsigned long long)min,
		    (unsigned long long)max, s);
	else {
		*out = v;
		rc = 0;
	}
	free(s);
	return rc;
}

/* get_u32 - get_uint into a uint32_t (max <= UINT32_MAX) */
static int
get_u32(struct ld *l, const char *key, uint32_t def, uint32_t min,
    uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (get_uint(l, key, def, min, max, &v) != 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* get_size - get_uint into a size_t */
static int
get_size(struct ld *l, const char *key, size_t def, size_t min, size_t max,
    size_t *out)
{
	uint64_t v;

	if (get_uint(l, key, def, min, max, &v) != 0)
		return -1;
	*out = (size_t)v;
	return 0;
}

/* get_bool - true/false (also yes/no, 1/0), or def when absent */
static int
get_bool(struct ld *l, const char *key, int def, int *out)
{
	char *s = NULL;
	int rc = 0;

	if (get_string(l, key, NULL, &s) != 0)
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
		rc = fail(l, key, "must be true or false, not \"%s\"", s);
	free(s);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Syntax of the values */

/*
 * check_host - a host name, an IPv4 address, or an IPv6 address in
 *	brackets; with wild, also "*" or "*.name".  NULL if fine, else why.
 */
static const char *
check_host(const char *s, size_t len, int wild)
{
	char v6[INET6_ADDRSTRLEN];
	struct in6_addr a6;
	size_t i, label = 0;

	if (len == 0)
		return "the host is empty";
	if (s[0] == '[') {
		if (len < 3 || s[len - 1] != ']' || len - 2 >= sizeof(v6))
			return "an IPv6 address is written [2001:db8::1]";
		memcpy(v6, s + 1, len - 2);
		v6[len - 2] = '\0';
		if (inet_pton(AF_INET6, v6, &a6) != 1)
			return "not an IPv6 address in brackets";
		return NULL;
	}
	if (wild && len == 1 && s[0] == '*')
		return NULL;
	if (wild && len > 2 && s[0] == '*' && s[1] == '.') {
		s += 2;
		len -= 2;
	}
	if (len > 0 && s[len - 1] == '.')
		len--;		/* a fully qualified name */
	if (len == 0 || len > DOMAIN_MAX)
		return "a host name has 1 to 253 characters";
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return "a host name has an empty label "
				    "(\"..\" or a leading '.')";
			label = 0;
			continue;
		}
		if (s[i] == '*')
			return "a '*' may only stand alone or start a domain, "
			    "as in *.corp.example";
		if (!g_ascii_isalnum(s[i]) && s[i] != '-' && s[i] != '_')
			return "a host name has only letters, digits, '-' and "
			    "'.' (IPv6 addresses go in [brackets])";
		if (++label > 63)
			return "a label of a host name has at most 63 "
			    "characters";
	}
	return NULL;
}

/* URI flags of check_uri */
#define URI_NEED_USER	0x1	/* sip:user@host, not sip:host */
#define URI_WILD	0x2	/* "*" as the user, a host pattern */

/*
 * uri_split - "sip:user@host" (or sips:) into user and host (pointers
 *	into s, lengths); user is empty without '@'.  -1 if not sip/sips.
 */
static int
uri_split(const char *s, const char **user, size_t *ulen, const char **host,
    size_t *hlen)
{
	const char *at;

	if (g_ascii_strncasecmp(s, "sip:", 4) == 0)
		s += 4;
	else if (g_ascii_strncasecmp(s, "sips:", 5) == 0)
		s += 5;
	else
		return -1;
	if ((at = strchr(s, '@')) != NULL) {
		*user = s;
		*ulen = (size_t)(at - s);
		s = at + 1;
	} else {
		*user = s;
		*ulen = 0;
	}
	*host = s;
	*hlen = strlen(s);
	return 0;
}

/* check_uri - a SIP URI as flags allow; NULL if fine, else why */
static const char *
check_uri(const char *s, int flags)
{
	const char *user, *host, *why;
	size_t ulen, hlen, i;

	if (uri_split(s, &user, &ulen, &host, &hlen) != 0)
		return "not a SIP URI: want sip:user@host";
	if (ulen == 0 && (flags & URI_NEED_USER))
		return "want sip:user@host (a user part is needed)";
	if (ulen == 0 && user != host)
		return "the user part before '@' is empty";
	for (i = 0; i < ulen; i++) {
		if (user[i] == '*' && ulen == 1 && (flags & URI_WILD))
			continue;
		if (user[i] == '*')
			return (flags & URI_WILD) ? "a '*' user part stands "
			    "alone, as in sip:*@corp.example" : "no '*' here: "
			    "one URI, not a pattern";
		if ((unsigned char)user[i] <= ' ' || user[i] == 0x7f ||
		    strchr("@<>\";?:,", user[i]) != NULL)
			return "the user part has a blank, a control "
			    "character or one of @ < > \" ; ? : ,";
	}
	if ((why = check_host(host, hlen, flags & URI_WILD)) != NULL)
		return why;
	return NULL;
}

/*
 * check_type - "*", a type ("text"), a type with the subtype "*", or
 *	"type/subtype" (RFC 2045 tokens, no parameters); NULL if fine, else
 *	why.
 */
static const char *
check_type(const char *s)
{
	const char *slash;
	size_t i, n;

	if (strcmp(s, "*") == 0)
		return NULL;
	slash = strchr(s, '/');
	n = strlen(s);
	for (i = 0; i < n; i++) {
		if (s + i == slash || (slash != NULL && s + i == slash + 1 &&
		    s[i] == '*' && s[i + 1] == '\0'))
			continue;
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f ||
		    strchr("()<>@,;:\\\"/[]?=*", s[i]) != NULL)
			return "want *, a type (text), type/* or type/subtype "
			    "(text/plain); no parameters (';' separates "
			    "items)";
	}
	if (slash == s || (slash != NULL && slash[1] == '\0'))
		return "want *, a type (text), type/* or type/subtype "
		    "(text/plain), without parameters";
	return NULL;
}

/*
 * hostport_split - "host:port" or "[v6]:port" (len bytes) into host
 *	(brackets removed, NUL-terminated) and port.  NULL if fine, else
 *	why.
 */
static const char *
hostport_split(const char *s, size_t len, char *host, size_t hostlen,
    int *port)
{
	const char *colon, *h, *he, *p;
	unsigned long v = 0;

	for (colon = s + len; colon > s && colon[-1] != ':'; colon--)
		;
	if (colon == s || colon == s + len)
		return "want host:port, with a port";
	colon--;
	h = s;
	he = colon;
	if (s[0] == '[') {
		if (colon == s || colon[-1] != ']')
			return "want [IPv6]:port";
		h = s + 1;
		he = colon - 1;
	} else if (memchr(s, ':', (size_t)(colon - s)) != NULL)
		return "an IPv6 address goes in brackets, as [::1]:5060";
	if (he <= h)
		return "the host is empty";
	if ((size_t)(he - h) >= hostlen)
		return "the host is too long";
	for (p = colon + 1; p < s + len; p++) {
		if (*p < '0' || *p > '9' || v > 65535)
			return "the port must be a number from 0 to 65535";
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535)
		return "the port must be a number from 0 to 65535";
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';
	*port = (int)v;
	return NULL;
}

/* numeric_host - 1 if host is a numeric IPv4 or IPv6 address */
static int
numeric_host(const char *host)
{
	struct addrinfo hints, *res = NULL;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	if (getaddrinfo(host, "0", &hints, &res) != 0)
		return 0;
	freeaddrinfo(res);
	return 1;
}

/* proto_parse - "udp", "tcp", "tls" (any case, len bytes) */
static int
proto_parse(const char *s, size_t len, enum gw_proto *out)
{
	int i;

	for (i = 0; i < GW_NPROTO; i++)
		if (strlen(proto_names[i]) == len &&
		    g_ascii_strncasecmp(s, proto_names[i], len) == 0) {
			*out = (enum gw_proto)i;
			return 0;
		}
	return -1;
}

/* ---------------------------------------------------------------------- */
/* Lists and addresses */

enum list_kind {
	LIST_DOMAIN,		/* corp.example, *.corp.example, * */
	LIST_AOR,		/* sip:alice@corp.example, sip:*@corp.example */
	LIST_TYPE		/* *, text, text/plain */
};

/* get_list - a list of key into v[*n] (malloc'd items), checked by kind */
static int
get_list(struct ld *l, const char *key, const char *def, enum list_kind kind,
    char **v, size_t *n)
{
	char *s = NULL, *it;
	const char *p, *item, *why = NULL, *at;
	size_t len;
	int rc = -1;

	if (get_string(l, key, def, &s) != 0)
		return -1;
	if (s == NULL)
		return 0;
	for (p = s; next_item(&p, &item, &len); ) {
		if (*n == GW_MAX_LIST) {
			fail(l, key, "more than %d entries", GW_MAX_LIST);
			goto done;
		}
		if ((it = strndup(item, len)) == NULL) {
			fail(l, key, "out of memory");
			goto done;
		}
		v[(*n)++] = it;
		switch (kind) {
		case LIST_DOMAIN:
			why = check_host(it, len, 1);
			lower(it);
			if (len > 1 && it[len - 1] == '.')
				it[len - 1] = '\0';
			break;
		case LIST_AOR:
			why = check_uri(it, URI_NEED_USER | URI_WILD);
			if (why == NULL && (at = strchr(it, '@')) != NULL) {
				lower(it + (at - it) + 1);
				len = strlen(it);
				if (it[len - 1] == '.')
					it[len - 1] = '\0';
			}
			break;
		case LIST_TYPE:
			why = check_type(it);
			lower(it);
			break;
		}
		if (why != NULL) {
			fail(l, key, "\"%s\": %s", it, why);
			goto done;
		}
	}
	rc = 0;
done:
	free(s);
	return rc;
}

/* get_listeners - [listen] key (udp, tcp or tls) into c->listen */
static int
get_listeners(struct ld *l, const char *key, enum gw_proto proto,
    struct gw_conf *c)
{
	struct gw_listen *ls;
	char *s = NULL;
	const char *p, *item, *why;
	size_t len, i;
	int rc = -1;

	if (get_string(l, key, NULL, &s) != 0)
		return -1;
	if (s == NULL)
		return 0;
	for (p = s; next_item(&p, &item, &len); ) {
		if (c->nlisten == GW_MAX_LISTEN) {
			fail(l, key, "more than %d listeners in all",
			    GW_MAX_LISTEN);
			goto done;
		}
		ls = &c->listen[c->nlisten];
		ls->proto = proto;
		why = hostport_split(item, len, ls->host, sizeof(ls->host),
		    &ls->port);
		if (why == NULL && !numeric_host(ls->host))
			why = "the host must be a numeric IPv4 or IPv6 "
			    "address (0.0.0.0 or [::] for all)";
		for (i = 0; why == NULL && i < c->nlisten; i++)
			if (c->listen[i].proto == proto &&
			    c->listen[i].port == ls->port && ls->port != 0 &&
			    strcmp(c->listen[i].host, ls->host) == 0)
				why = "listed twice";
		if (why != NULL) {
			fail(l, key, "\"%.*s\": %s", (int)len, item, why);
			goto done;
		}
		c->nlisten++;
	}
	rc = 0;
done:
	free(s);
	return rc;
}

/*
 * get_hop - "proto:host:port" of key into hop, resolved; hop->set stays
 *	0 when the key is absent or empty.
 */
static int
get_hop(struct ld *l, const char *key, struct gw_hop *hop)
{
	struct addrinfo hints, *res = NULL;
	char *s = NULL, port[8];
	const char *colon, *why = NULL;
	int rc = -1, gai;

	memset(hop, 0, sizeof(*hop));
	if (get_string(l, key, NULL, &s) != 0)
		return -1;
	if (s == NULL || s[0] == '\0') {
		free(s);
		return 0;
	}
	if ((colon = strchr(s, ':')) == NULL ||
	    proto_parse(s, (size_t)(colon - s), &hop->proto) != 0) {
		fail(l, key, "\"%s\": want proto:host:port with proto udp, "
		    "tcp or tls, as udp:127.0.0.1:5070 or tcp:[::1]:5062", s);
		goto done;
	}
	why = hostport_split(colon + 1, strlen(colon + 1), hop->host,
	    sizeof(hop->host), &hop->port);
	if (why == NULL && hop->port == 0)
		why = "the port must be a number from 1 to 65535";
	if (why == NULL && hop->host[0] == '[')
		why = "a host name has no brackets";
	if (why != NULL) {
		fail(l, key, "\"%s\": %s", s, why);
		goto done;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = hop->proto == GW_UDP ? SOCK_DGRAM : SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", hop->port);
	if ((gai = getaddrinfo(hop->host, port, &hints, &res)) != 0) {
		fail(l, key, "\"%s\": cannot resolve %s: %s", s, hop->host,
		    gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		goto done;
	}
	if (res->ai_addrlen > sizeof(hop->peer.ss)) {
		fail(l, key, "\"%s\": address too long", s);
		goto done;
	}
	hop->peer.proto = hop->proto;
	memcpy(&hop->peer.ss, res->ai_addr, res->ai_addrlen);
	hop->peer.len = res->ai_addrlen;
	hop->set = 1;
	rc = 0;
done:
	if (res != NULL)
		freeaddrinfo(res);
	free(s);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* The PSK */

/*
 * read_psk - psk_file (as imgatectl kms user add --psk-out writes it: hex
 *	digits, blanks and newlines ignored) into c->psk.
 */
static int
read_psk(struct ld *l, struct gw_conf *c, const char *path)
{
	char *buf = NULL, why[ERR_MAX];
	size_t len = 0, i, nd = 0;
	mode_t mode = 0;
	int v, hi = 0, rc = -1;

	if (read_file(path, PSK_FILE_MAX, &buf, &len, &mode, why,
	    sizeof(why)) != 0)
		return fail(l, "psk_file", "%s (the gateway's KMS key: create "
		    "it with 'imgatectl kms user add ... --generate "
		    "--psk-out FILE')", why);
	if (mode & S_IRWXO) {
		fail(l, "psk_file", "%s is accessible to others (mode %04o): "
		    "chmod 600 it, and give the PSK a new value if others "
		    "could have read it", path, (unsigned)(mode & 07777));
		goto done;
	}
	for (i = 0; i < len; i++) {
		if (g_ascii_isspace(buf[i]))
			continue;
		if ((v = g_ascii_xdigit_value(buf[i])) < 0) {
			fail(l, "psk_file", "%s has a character that is not a "
			    "hex digit (at byte %zu)", path, i);
			goto done;
		}
		nd++;
		if (nd > 2 * (size_t)PSK_MAX)
			continue;	/* only counted */
		if (nd % 2 == 1)
			hi = v;
		else
			c->psk[nd / 2 - 1] = (uint8_t)(hi << 4 | v);
	}
	if (nd % 2 != 0 || nd < 2 * (size_t)PSK_MIN ||
	    nd > 2 * (size_t)PSK_MAX) {
		fail(l, "psk_file", "%s must hold %d to %d hex digits (%d to "
		    "%d bytes), an even number; it has %zu", path, 2 * PSK_MIN,
		    2 * PSK_MAX, PSK_MIN, PSK_MAX, nd);
		goto done;
	}
	c->psk_len = nd / 2;
	if (mode & S_IRWXG)
		log_warnx("gw conf psk_file=%s mode=%04o: the PSK is "
		    "accessible to the file's group; chmod 600 it", path,
		    (unsigned)(mode & 07777));
	rc = 0;
done:
	if (rc != 0)
		explicit_bzero(c->psk, sizeof(c->psk));
	explicit_bzero(buf, len + 1);
	free(buf);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* The groups */

static const char *const gateway_keys[] = {
	"identity", "kms_url", "kms_id", "kms_ca_file", "psk_file",
	"state_dir", "sign_cert", "sign_key", "trust_ca", "log_level",
	"max_message", "max_body", "ticket_lifetime", "replay_entries",
	"suite", "via_host", NULL
};
static const char *const listen_keys[] = {
	"udp", "tcp", "tls", "tls_cert", "tls_key", "tls_ca", NULL
};
static const char *const admin_keys[] = { "listen", NULL };
static const char *const route_keys[] = {
	"local_domains", "inside", "outside", "protect", "e2e_users",
	"require_protection", "allow_types", NULL
};
static const char *const sip_keys[] = {
	"t1_ms", "t2_ms", "t4_ms", "kms_timeout", "retry_after", "tcp_idle",
	"max_txn", NULL
};
static const char *const store_keys[] = {
	"enabled", "db", "require_registration", "max_age", "max_per_rcpt",
	"max_bytes_per_rcpt", "max_total", "retry_min", "retry_max", "report",
	NULL
};

/*
 * check_kms_url - http://host[:port][/path] or https://...: a host, a
 *	port from 1 to 65535 if any, no user or password, no fragment, no
 *	blanks.  (By hand: GUri needs GLib 2.66, configure asks for 2.60.)
 */
static const char *
check_kms_url(const char *s)
{
	const char *a, *ae, *hp, *why, *p;
	unsigned long port = 0;

	if (g_ascii_strncasecmp(s, "http://", 7) == 0)
		a = s + 7;
	else if (g_ascii_strncasecmp(s, "https://", 8) == 0)
		a = s + 8;
	else
		return "want an http:// or https:// URL, as "
		    "http://127.0.0.1:8470/mikey";
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "no blanks or control characters in the URL";
	if (strchr(s, '#') != NULL)
		return "no #fragment in the URL";
	ae = a + strcspn(a, "/?");
	if (memchr(a, '@', (size_t)(ae - a)) != NULL)
		return "no user or password in the URL (the gateway "
		    "authenticates with its PSK)";
	if (a[0] == '[') {
		if ((hp = memchr(a, ']', (size_t)(ae - a))) == NULL)
			return "an IPv6 address is written [2001:db8::1]";
		hp++;
	} else
		for (hp = a; hp < ae && *hp != ':'; hp++)
			;
	if (hp == a)
		return "the URL has no host";
	if ((why = check_host(a, (size_t)(hp - a), 0)) != NULL)
		return why;
	if (hp < ae && *hp != ':')
		return "want [IPv6]:port after the host";
	if (hp < ae) {
		for (p = hp + 1; p < ae; p++) {
			if (*p < '0' || *p > '9' || port > 65535)
				return "the port must be a number from 1 to "
				    "65535";
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (port == 0 || port > 65535)
			return "the port must be a number from 1 to 65535";
	}
	return NULL;
}

/* check_via_host - a host name or an IP address; brackets removed */
static const char *
check_via_host(char *s)
{
	struct in6_addr a6;
	size_t len = strlen(s);

	if (len > 2 && s[0] == '[' && s[len - 1] == ']') {
		memmove(s, s + 1, len - 2);
		s[len - 2] = '\0';
	}
	if (inet_pton(AF_INET6, s, &a6) == 1)
		return NULL;
	return check_host(s, strlen(s), 0);
}

/* conf_gateway - the [gateway] group */
static int
conf_gateway(struct ld *l, struct gw_conf *c)
{
	char *s = NULL, *psk = NULL;
	const char *why;
	int rc;

	l->group = "gateway";
	if (!g_key_file_has_group(l->kf, "gateway"))
		return fail(l, NULL, "missing: identity, kms_url and psk_file "
		    "are required");
	if (check_keys(l, gateway_keys) != 0)
		return -1;
	if (get_string(l, "identity", NULL, &c->identity) != 0)
		return -1;
	if (c->identity == NULL || c->identity[0] == '\0')
		return fail(l, "identity", "required: this gateway's identity "
		    "at the KMS, as sip:gw@corp.example");
	if ((why = check_uri(c->identity, 0)) != NULL)
		return fail(l, "identity", "\"%s\": %s", c->identity, why);
	if (get_string(l, "kms_url", NULL, &c->kms_url) != 0)
		return -1;
	if (c->kms_url == NULL || c->kms_url[0] == '\0')
		return fail(l, "kms_url", "required: where imgate-kms answers, "
		    "as http://127.0.0.1:8470/mikey");
	if ((why = check_kms_url(c->kms_url)) != NULL)
		return fail(l, "kms_url", "\"%s\": %s", c->kms_url, why);
	if (get_string(l, "kms_id", NULL, &c->kms_id) != 0)
		return -1;
	if (c->kms_id != NULL && c->kms_id[0] == '\0') {
		free(c->kms_id);
		c->kms_id = NULL;
	}
	if (c->kms_id != NULL && (why = check_uri(c->kms_id, 0)) != NULL)
		return fail(l, "kms_id", "\"%s\": %s", c->kms_id, why);
	if (get_path(l, "kms_ca_file", NULL, &c->kms_ca_file) != 0 ||
	    readable(l, "kms_ca_file", c->kms_ca_file) != 0)
		return -1;
	if (get_path(l, "psk_file", NULL, &psk) != 0)
		return -1;
	if (psk == NULL)
		return fail(l, "psk_file", "required: the file with this "
		    "gateway's KMS PSK in hex ('imgatectl kms user add ... "
		    "--generate --psk-out FILE' writes it)");
	rc = read_psk(l, c, psk);
	free(psk);
	if (rc != 0)
		return -1;
	rc = -1;	/* from here on, every failure frees s */
	if (get_path(l, "state_dir", "state", &c->state_dir) != 0)
		return -1;
	if (c->state_dir == NULL)
		return fail(l, "state_dir", "must name a directory");
	if (get_path(l, "sign_cert", NULL, &c->sign_cert) != 0 ||
	    get_path(l, "sign_key", NULL, &c->sign_key) != 0 ||
	    get_path(l, "trust_ca", NULL, &c->trust_ca) != 0)
		return -1;
	if ((c->sign_cert == NULL) != (c->sign_key == NULL))
		return fail(l, c->sign_key == NULL ? "sign_key" : "sign_cert",
		    "sign_cert and sign_key go together (a PEM certificate "
		    "and its private key); set both or neither");
	if (readable(l, "sign_cert", c->sign_cert) != 0 ||
	    readable(l, "sign_key", c->sign_key) != 0 ||
	    readable(l, "trust_ca", c->trust_ca) != 0)
		return -1;
	if (get_string(l, "log_level", "info", &s) != 0)
		return -1;
	if (log_level_parse(s, &c->log_level) != 0) {
		fail(l, "log_level", "must be debug, info or warn, not \"%s\"",
		    s);
		goto done;
	}
	free(s);
	s = NULL;
	if (get_size(l, "max_message", 131072, 1024, 16 * 1024 * 1024,
	    &c->max_message) != 0 ||
	    get_size(l, "max_body", 65536, 16, 16 * 1024 * 1024,
	    &c->max_body) != 0)
		goto done;
	if (c->max_body >= c->max_message) {
		fail(l, "max_body", "%zu is not less than max_message (%zu): "
		    "a protected body is larger than the plain one, and must "
		    "fit in a SIP message; lower max_body or raise "
		    "max_message", c->max_body, c->max_message);
		goto done;
	}
	if (get_u32(l, "ticket_lifetime", 0, 0, INT32_MAX,
	    &c->ticket_lifetime) != 0 ||
	    get_size(l, "replay_entries", 10000, 16, 100000000,
	    &c->replay_entries) != 0)
		goto done;
	if (get_string(l, "suite", "aes128", &s) != 0)
		goto done;
	if (strcasecmp(s, "aes128") == 0)
		c->suite256 = 0;
	else if (strcasecmp(s, "aes256") == 0)
		c->suite256 = 1;
	else {
		fail(l, "suite", "must be aes128 or aes256, not \"%s\"", s);
		goto done;
	}
	if (get_string(l, "via_host", NULL, &c->via_host) != 0)
		goto done;
	if (c->via_host != NULL && c->via_host[0] == '\0') {
		free(c->via_host);
		c->via_host = NULL;
	}
	if (c->via_host != NULL &&
	    (why = check_via_host(c->via_host)) != NULL) {
		fail(l, "via_host", "\"%s\": %s", c->via_host, why);
		goto done;
	}
	rc = 0;
done:
	free(s);
	return rc;
}

/* conf_listen - the [listen] group */
static int
conf_listen(struct ld *l, struct gw_conf *c)
{
	size_t i;

	l->group = "listen";
	if (check_keys(l, listen_keys) != 0)
		return -1;
	if (get_listeners(l, "udp", GW_UDP, c) != 0 ||
	    get_listeners(l, "tcp", GW_TCP, c) != 0 ||
	    get_listeners(l, "tls", GW_TLS, c) != 0)
		return -1;
	if (c->nlisten == 0)
		return fail(l, "udp", "no listener: give udp, tcp or tls at "
		    "least one host:port, as 127.0.0.1:5060");
	if (get_path(l, "tls_cert", NULL, &c->tls_cert) != 0 ||
	    get_path(l, "tls_key", NULL, &c->tls_key) != 0 ||
	    get_path(l, "tls_ca", NULL, &c->tls_ca) != 0)
		return -1;
	if ((c->tls_cert == NULL) != (c->tls_key == NULL))
		return fail(l, c->tls_key == NULL ? "tls_key" : "tls_cert",
		    "tls_cert and tls_key go together (a PEM certificate "
		    "chain and its private key); set both or neither");
	for (i = 0; i < c->nlisten; i++)
		if (c->listen[i].proto == GW_TLS && c->tls_cert == NULL)
			return fail(l, "tls_cert", "a tls listener needs "
			    "tls_cert and tls_key (PEM files)");
	if (readable(l, "tls_cert", c->tls_cert) != 0 ||
	    readable(l, "tls_key", c->tls_key) != 0 ||
	    readable(l, "tls_ca", c->tls_ca) != 0)
		return -1;
	return 0;
}

/* conf_admin - the [admin] group */
static int
conf_admin(struct ld *l, struct gw_conf *c)
{
	char *s = NULL;
	const char *why;
	int rc = -1;

	l->group = "admin";
	if (check_keys(l, admin_keys) != 0)
		return -1;
	if (get_string(l, "listen", NULL, &s) != 0)
		return -1;
	if (s == NULL || s[0] == '\0') {
		free(s);
		return 0;
	}
	why = hostport_split(s, strlen(s), c->admin_host,
	    sizeof(c->admin_host), &c->admin_port);
	if (why == NULL && !numeric_host(c->admin_host))
		why = "the host must be a numeric IPv4 or IPv6 address";
	if (why != NULL) {
		c->admin_host[0] = '\0';
		c->admin_port = 0;
		fail(l, "listen", "\"%s\": %s (or leave it empty for no admin "
		    "port)", s, why);
		goto done;
	}
	rc = 0;
done:
	free(s);
	return rc;
}

/* conf_route - the [route] group */
static int
conf_route(struct ld *l, struct gw_conf *c)
{
	l->group = "route";
	if (check_keys(l, route_keys) != 0)
		return -1;
	if (get_list(l, "local_domains", NULL, LIST_DOMAIN, c->local_domains,
	    &c->nlocal) != 0)
		return -1;
	if (c->nlocal == 0)
		return fail(l, "local_domains", "required: the domains of this "
		    "gateway's users, as corp.example");
	if (get_hop(l, "inside", &c->inside) != 0 ||
	    get_hop(l, "outside", &c->outside) != 0)
		return -1;
	if (get_list(l, "protect", "*", LIST_DOMAIN, c->protect,
	    &c->nprotect) != 0 ||
	    get_list(l, "e2e_users", NULL, LIST_AOR, c->e2e_users,
	    &c->ne2e) != 0 ||
	    get_bool(l, "require_protection", 0,
	    &c->require_protection) != 0 ||
	    get_list(l, "allow_types", "*", LIST_TYPE, c->allow_types,
	    &c->nallow) != 0)
		return -1;
	if ((c->inside.set && c->inside.proto == GW_TLS) ||
	    (c->outside.set && c->outside.proto == GW_TLS)) {
		if (c->tls_cert == NULL)
			return fail(l, c->outside.set && c->outside.proto ==
			    GW_TLS ? "outside" : "inside", "a tls next hop "
			    "needs [listen] tls_cert and tls_key (PEM files)");
	}
	return 0;
}

/* conf_sip - the [sip] group */
static int
conf_sip(struct ld *l, struct gw_conf *c)
{
	l->group = "sip";
	if (check_keys(l, sip_keys) != 0)
		return -1;
	/*
	 * kms_timeout at most 30: a sender's MESSAGE transaction gives up
	 * after 64*T1 = 32 s (RFC 3261 17.1.2.2, Timer F with the sender's
	 * default T1), and it must see our 503 before that.
	 */
	if (get_u32(l, "t1_ms", 500, 10, 60000, &c->t1_ms) != 0 ||
	    get_u32(l, "t2_ms", 4000, 10, 600000, &c->t2_ms) != 0 ||
	    get_u32(l, "t4_ms", 5000, 10, 600000, &c->t4_ms) != 0 ||
	    get_u32(l, "kms_timeout", 5, 1, 30, &c->kms_timeout) != 0 ||
	    get_u32(l, "retry_after", 30, 1, 86400, &c->retry_after) != 0 ||
	    get_u32(l, "tcp_idle", 300, 1, 86400, &c->tcp_idle) != 0 ||
	    get_size(l, "max_txn", 262144, 1, 10000000, &c->max_txn) != 0)
		return -1;
	if (c->t1_ms > c->t2_ms)
		return fail(l, "t1_ms", "%u is greater than t2_ms (%u); RFC "
		    "3261 17.1.2.2 doubles T1 up to T2", c->t1_ms, c->t2_ms);
	return 0;
}

/* conf_store - the [store] group (deferred delivery) */
static int
conf_store(struct ld *l, struct gw_conf *c)
{
	char *def;
	int rc;

	l->group = "store";
	if (check_keys(l, store_keys) != 0)
		return -1;
	if ((def = g_strdup_printf("%s/queue.db", c->state_dir)) == NULL)
		return fail(l, NULL, "out of memory");
	rc = get_path(l, "db", def, &c->store_db);
	g_free(def);
	if (rc != 0 ||
	    get_bool(l, "enabled", 1, &c->store) != 0 ||
	    get_bool(l, "require_registration", 0,
	    &c->require_registration) != 0 ||
	    get_u32(l, "max_age", 2592000, 10, 400u * 86400,
	    &c->max_age) != 0 ||
	    get_size(l, "max_per_rcpt", 1000, 1, 100000000,
	    &c->max_per_rcpt) != 0 ||
	    get_size(l, "max_bytes_per_rcpt", 16 * 1024 * 1024, 4096,
	    (size_t)1 << 40, &c->max_bytes_per_rcpt) != 0 ||
	    get_size(l, "max_total", 1000000, 1, 1000000000,
	    &c->max_total) != 0 ||
	    get_u32(l, "retry_min", 5, 1, 86400, &c->retry_min) != 0 ||
	    get_u32(l, "retry_max", 600, 1, 86400, &c->retry_max) != 0 ||
	    get_bool(l, "report", 1, &c->report) != 0)
		return -1;
	if (c->retry_min > c->retry_max)
		return fail(l, "retry_min", "%u is greater than retry_max (%u)",
		    c->retry_min, c->retry_max);
	return 0;
}

/* uri_eq - scheme and host ignoring case, the user part exactly (as the
 *	KMS compares identities, kms/FORMATS.md 2) */
static int
uri_eq(const char *a, const char *b)
{
	const char *ca = strchr(a, ':'), *cb = strchr(b, ':');
	const char *aa = strrchr(a, '@'), *ab = strrchr(b, '@');

	if (ca == NULL || cb == NULL || ca - a != cb - b ||
	    g_ascii_strncasecmp(a, b, (gsize)(ca - a)) != 0)
		return 0;
	if ((aa == NULL) != (ab == NULL))
		return 0;
	if (aa == NULL)
		return g_ascii_strcasecmp(ca, cb) == 0;
	return aa - ca == ab - cb && strncmp(ca, cb, (size_t)(aa - ca)) == 0 &&
	    g_ascii_strcasecmp(aa, ab) == 0;
}

/*
 * conf_lists - the [list URI] and [group URI] sections: members (AoRs
 *	for a list: it sends to each; patterns for a group); a list has
 *	mode = fanout or reencrypt
 */
static int
conf_lists(struct ld *l, struct gw_conf *c)
{
	static const char *const list_keys[] = { "mode", "members", NULL };
	static const char *const group_keys[] = { "members", NULL };
	struct gw_group *g;
	gchar **groups;
	const char *uri, *why;
	char *mode = NULL;
	size_t i, k;
	int rc = -1, list;

	groups = g_key_file_get_groups(l->kf, NULL);
	for (i = 0; groups[i] != NULL; i++) {
		if (strncmp(groups[i], "list ", 5) == 0)
			list = 1;
		else if (strncmp(groups[i], "group ", 6) == 0)
			list = 0;
		else
			continue;
		l->group = groups[i];
		uri = groups[i] + (list ? 5 : 6);
		if ((why = check_uri(uri, URI_NEED_USER)) != NULL) {
			fail(l, NULL, "the section's URI: %s", why);
			goto done;
		}
		if (c->ngroups == GW_MAX_GROUPS) {
			fail(l, NULL, "more than %d [list] and [group] "
			    "sections", GW_MAX_GROUPS);
			goto done;
		}
		for (k = 0; k < c->ngroups; k++)
			if (uri_eq(c->groups[k].uri, uri)) {
				fail(l, NULL, "a second section for %s", uri);
				goto done;
			}
		if (check_keys(l, list ? list_keys : group_keys) != 0)
			goto done;
		g = &c->groups[c->ngroups++];
		if ((g->uri = strdup(uri)) == NULL) {
			fail(l, NULL, "out of memory");
			goto done;
		}
		g->list = list;
		if (get_list(l, "members", NULL, LIST_AOR, g->members,
		    &g->nmembers) != 0)
			goto done;
		if (g->nmembers == 0) {
			fail(l, "members", "required: the group's members");
			goto done;
		}
		if (list) {
			for (k = 0; k < g->nmembers; k++)
				if (strchr(g->members[k], '*') != NULL) {
					fail(l, "members", "\"%s\": a list "
					    "sends to each member: no '*'",
					    g->members[k]);
					goto done;
				}
			free(mode);
			mode = NULL;
			if (get_string(l, "mode", "fanout", &mode) != 0)
				goto done;
			if (mode != NULL && strcmp(mode, "reencrypt") == 0)
				g->reencrypt = 1;
			else if (mode == NULL || strcmp(mode, "fanout") != 0) {
				fail(l, "mode", "\"%s\": fanout or reencrypt",
				    mode ? mode : "");
				goto done;
			}
		}
	}
	rc = 0;
done:
	free(mode);
	g_strfreev(groups);
	l->group = NULL;
	return rc;
}

const struct gw_group *
gw_group_find(const struct gw_conf *c, const char *uri)
{
	size_t i;

	if (uri == NULL)
		return NULL;
	for (i = 0; i < c->ngroups; i++)
		if (uri_eq(c->groups[i].uri, uri))
			return &c->groups[i];
	return NULL;
}

/* check_groups - every group of the file is one we know */
static int
check_groups(struct ld *l)
{
	static const char *const known[] = { "gateway", "listen", "admin",
		"route", "sip", "store", NULL };
	gchar **groups;
	size_t i, j;
	int rc = 0;

	groups = g_key_file_get_groups(l->kf, NULL);
	for (i = 0; groups[i] != NULL && rc == 0; i++) {
		if (strncmp(groups[i], "list ", 5) == 0 ||
		    strncmp(groups[i], "group ", 6) == 0)
			continue;	/* conf_lists */
		for (j = 0; known[j] != NULL; j++)
			if (strcmp(groups[i], known[j]) == 0)
				break;
		if (known[j] == NULL) {
			l->group = groups[i];
			rc = fail(l, NULL, "unknown section (a typo?); want "
			    "[gateway], [listen], [admin], [route], [sip] or "
			    "[store]");
			l->group = NULL;
		}
	}
	g_strfreev(groups);
	return rc;
}

/* conf_dir - the directory of file, absolute where it can be */
static char *
conf_dir(const char *file)
{
	gchar *d;
	char *abs, *r;

	d = g_path_get_dirname(file);
	if ((abs = realpath(d, NULL)) != NULL) {
		g_free(d);
		return abs;
	}
	r = strdup(d);
	g_free(d);
	return r;
}

/* ---------------------------------------------------------------------- */
/* The API */

int
gw_conf_load(const char *path, struct gw_conf **out, char *err,
    size_t errlen)
{
	struct ld l;
	struct gw_conf *c = NULL;
	GError *ge = NULL;
	char *buf = NULL, why[ERR_MAX];
	size_t len = 0;
	mode_t mode;
	int rc = -1;

	memset(&l, 0, sizeof(l));
	l.file = path;
	l.err = err;
	l.errlen = errlen;
	if (read_file(path, CONF_FILE_MAX, &buf, &len, &mode, why,
	    sizeof(why)) != 0) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	l.kf = g_key_file_new();
	if (!g_key_file_load_from_data(l.kf, buf, len, G_KEY_FILE_NONE,
	    &ge)) {
		fail(&l, NULL, "%s (comments are whole lines starting with "
		    "'#')", ge != NULL ? ge->message : "not a key file");
		g_clear_error(&ge);
		goto done;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->path = strdup(path)) == NULL ||
	    (l.dir = conf_dir(path)) == NULL) {
		fail(&l, NULL, "out of memory");
		goto done;
	}
	if (check_groups(&l) != 0 || conf_gateway(&l, c) != 0 ||
	    conf_listen(&l, c) != 0 || conf_admin(&l, c) != 0 ||
	    conf_route(&l, c) != 0 || conf_sip(&l, c) != 0 ||
	    conf_store(&l, c) != 0 || conf_lists(&l, c) != 0)
		goto done;
	*out = c;
	c = NULL;
	rc = 0;
done:
	gw_conf_free(c);
	free(l.dir);
	g_key_file_free(l.kf);
	free(buf);
	return rc;
}

/* strv_free - the items of an owned list */
static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
}

void
gw_conf_free(struct gw_conf *c)
{
	size_t i, k;

	if (c == NULL)
		return;
	explicit_bzero(c->psk, sizeof(c->psk));
	c->psk_len = 0;
	free(c->path);
	free(c->identity);
	free(c->kms_url);
	free(c->kms_id);
	free(c->kms_ca_file);
	free(c->state_dir);
	free(c->store_db);
	for (i = 0; i < c->ngroups; i++) {
		free(c->groups[i].uri);
		for (k = 0; k < c->groups[i].nmembers; k++)
			free(c->groups[i].members[k]);
	}
	free(c->sign_cert);
	free(c->sign_key);
	free(c->trust_ca);
	free(c->via_host);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_ca);
	strv_free(c->local_domains, c->nlocal);
	strv_free(c->protect, c->nprotect);
	strv_free(c->e2e_users, c->ne2e);
	strv_free(c->allow_types, c->nallow);
	free(c);
}

/* ---------------------------------------------------------------------- */
/* Matchers */

/*
 * domain_match - pattern (a domain, "*" or "*.domain") against domain
 *	(len bytes); case-insensitive, one trailing dot ignored on both.
 *	"*.corp.example" matches a.corp.example and a.b.corp.example, not
 *	corp.example itself and not evilcorp.example.
 */
static int
domain_match(const char *pat, const char *d, size_t dlen)
{
	size_t plen = strlen(pat);

	if (dlen > 0 && d[dlen - 1] == '.')
		dlen--;
	if (plen > 0 && pat[plen - 1] == '.')
		plen--;
	if (dlen == 0 || plen == 0)
		return 0;
	if (plen == 1 && pat[0] == '*')
		return 1;
	if (plen > 2 && pat[0] == '*' && pat[1] == '.') {
		/* ".corp.example" must end d, after a non-empty label */
		pat++;
		plen--;
		return dlen > plen && d[0] != '.' &&
		    g_ascii_strncasecmp(d + dlen - plen, pat, plen) == 0;
	}
	return dlen == plen && g_ascii_strncasecmp(d, pat, plen) == 0;
}

int
gw_domain_in(char *const *list, size_t n, const char *domain)
{
	size_t i, len;

	if (list == NULL || domain == NULL)
		return 0;
	len = strlen(domain);
	for (i = 0; i < n; i++)
		if (list[i] != NULL && domain_match(list[i], domain, len))
			return 1;
	return 0;
}

int
gw_uri_in(char *const *list, size_t n, const char *aor)
{
	const char *au, *ah, *eu, *eh, *p;
	size_t aul, ahl, eul, ehl, i;
	char host[DOMAIN_MAX + 3];

	if (list == NULL || aor == NULL ||
	    uri_split(aor, &au, &aul, &ah, &ahl) != 0 || aul == 0)
		return 0;
	/* parameters and headers are not part of the AoR */
	for (p = ah; p < ah + ahl && *p != ';' && *p != '?'; p++)
		;
	ahl = (size_t)(p - ah);
	for (i = 0; i < n; i++) {
		if (list[i] == NULL ||
		    uri_split(list[i], &eu, &eul, &eh, &ehl) != 0 || eul == 0 ||
		    ehl >= sizeof(host))
			continue;
		/* sip: and sips: name the same user here */
		if (!(eul == 1 && eu[0] == '*') &&
		    (eul != aul || memcmp(eu, au, aul) != 0))
			continue;
		memcpy(host, eh, ehl);
		host[ehl] = '\0';
		if (domain_match(host, ah, ahl))
			return 1;
	}
	return 0;
}

int
gw_type_allowed(char *const *list, size_t n, const char *ctype)
{
	const char *t, *slash, *e;
	size_t tlen, majlen, i, l;

	if (list == NULL || ctype == NULL)
		return 0;
	e = ctype + strcspn(ctype, ";");
	tlen = trim(ctype, (size_t)(e - ctype), &t);
	slash = memchr(t, '/', tlen);
	/* a usable type/subtype: both non-empty, one '/' */
	if (slash == NULL || slash == t || slash == t + tlen - 1 ||
	    memchr(slash + 1, '/', tlen - (size_t)(slash + 1 - t)) != NULL)
		slash = NULL;
	majlen = slash != NULL ? (size_t)(slash - t) : 0;
	for (i = 0; i < n; i++) {
		if (list[i] == NULL)
			continue;
		if (strcmp(list[i], "*") == 0)
			return 1;
		if (slash == NULL)
			continue;
		l = strlen(list[i]);
		if (l > 2 && strcmp(list[i] + l - 2, "/*") == 0)
			l -= 2;		/* a "*" subtype: the type alone */
		if (memchr(list[i], '/', l) == NULL) {
			if (l == majlen &&
			    g_ascii_strncasecmp(list[i], t, l) == 0)
				return 1;
		} else if (l == tlen &&
		    g_ascii_strncasecmp(list[i], t, l) == 0)
			return 1;
	}
	return 0;
}
