/*
 * tools/ctl_kms.c - "imgatectl kms": users and master keys of imgate-kms
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	imgate-kms reads two files that an administrator edits with these
 *	commands (kms/FORMATS.md sections 3 and 4):
 *
 *	  kms-users.conf   a GLib key file, one [user URI] group per user
 *	                   with psk, act_for and lifetime
 *	  kms-master.keys  "version state created key" lines
 *
 *	Every command reads and checks the whole file first, with the same
 *	rules FORMATS.md states, and names the line of the first problem:
 *	a file this tool accepts is one the KMS accepts.  GKeyFile reports
 *	syntax errors without line numbers, so the users file is scanned
 *	line by line here first (groups, keys, duplicates, each with its
 *	line), then loaded and edited with GKeyFile, which keeps comments.
 *
 *	A change is written as a whole new file, atomically (ctl_write_file:
 *	temporary file in the same directory, mode 0600, fsync, rename): the
 *	KMS re-reads both files when their modification time changes and
 *	must never see half of one.
 *
 *	XXX two administrators changing one file at the same moment: the
 *	last rename wins and the other change is lost.  There is no lock
 *	because there is one administrator per KMS; add one (flock on a
 *	FILE.lock) if that changes.
 *
 * SECURITY
 *	Both files hold long-term secrets.  They are written with mode 0600,
 *	a warning is printed when an existing one is readable by others,
 *	core dumps are off, and key bytes are never printed: a PSK or master
 *	key shows as its length and the first 8 hex digits of its SHA-256.
 *	Buffers that held keys are wiped (GKeyFile's own copies are not:
 *	GLib offers no way, and this process exits at once).  A generated
 *	PSK goes only to the --psk-out file (mode 0600), never to stdout.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "mikey/mikey.h"
#include "tools/ctl.h"

#define USERS_MAX_FILE	(1024 * 1024)	/* bytes of a users file */
#define KEYS_MAX_FILE	(1024 * 1024)	/* bytes of a master key file */
#define MK_LEN		32		/* bytes of a master key */
#define PSK_GEN_LEN	32		/* bytes of a generated PSK */
#define LIFETIME_MAX	INT32_MAX	/* seconds, as imgate-kms reads it */
#define KEYS_HEADER	"# imgate-kms master keys: version state created key\n"
#define USERS_COMMENT	" imgate-kms users (kms/FORMATS.md section 3), " \
	"written by 'imgatectl kms user'"

/* ---------------------------------------------------------------------- */
/* Reading a whole file */

/*
 * slurp - all of path (at most max bytes) into a malloc'd NUL-terminated
 *	buffer.  Returns 0, -1 after printing the error, or 1 if the file
 *	does not exist and missing_ok.  Warns if others may read it.
 */
static int
slurp(const char *cmd, const char *path, size_t max, int missing_ok,
    char **buf_out, size_t *len_out)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1) {
		if (errno == ENOENT && missing_ok)
			return 1;
		ctl_errx("%s: cannot open %s: %s; check the path", cmd, path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		ctl_errx("%s: %s is not a regular file", cmd, path);
		goto fail;
	}
	if ((st.st_mode & 077) != 0)
		ctl_errx("%s: warning: %s holds keys but others may read it "
		    "(mode %04o); run 'chmod 600 %s'", cmd, path,
		    (unsigned)(st.st_mode & 07777), path);
	if ((buf = malloc(max + 2)) == NULL) {
		ctl_errx("%s: out of memory", cmd);
		goto fail;
	}
	while (len < max + 1 && (n = read(fd, buf + len, max + 1 - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			ctl_errx("%s: cannot read %s: %s", cmd, path,
			    strerror(errno));
			goto fail;
		}
		len += (size_t)n;
	}
	if (len > max) {
		ctl_errx("%s: %s is larger than %zu bytes; this is not a file "
		    "of imgate-kms", cmd, path, max);
		goto fail;
	}
	if (memchr(buf, '\0', len) != NULL) {
		ctl_errx("%s: %s holds a NUL byte; it is not a text file of "
		    "imgate-kms", cmd, path);
		goto fail;
	}
	buf[len] = '\0';
	close(fd);
	*buf_out = buf;
	*len_out = len;
	return 0;
fail:
	if (buf != NULL)
		OPENSSL_clear_free(buf, max + 2);
	close(fd);
	return -1;
}

/* wipe_free - free a buffer of len bytes that held key material */
static void
wipe_free(char *p, size_t len)
{
	if (p != NULL)
		OPENSSL_clear_free(p, len);
}

/* next_line - the line at *pos (without its newline and a CR before it);
 *	NULL at the end.  Advances *pos. */
static char *
next_line(char *buf, size_t len, size_t *pos)
{
	char *line, *nl;
	size_t l;

	if (*pos >= len)
		return NULL;
	line = buf + *pos;
	if ((nl = memchr(line, '\n', len - *pos)) != NULL) {
		*nl = '\0';
		*pos = (size_t)(nl - buf) + 1;
	} else
		*pos = len;
	l = strlen(line);
	if (l > 0 && line[l - 1] == '\r')
		line[l - 1] = '\0';
	return line;
}

/* is_blank - space or tab */
static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* ---------------------------------------------------------------------- */
/* The users file (kms/FORMATS.md section 3) */

enum ukey { UK_PSK, UK_ACT_FOR, UK_LIFETIME, UK_N };
static const char *const ukey_name[UK_N] = { "psk", "act_for", "lifetime" };

struct user {
	char		*id;		/* the URI of [user URI] */
	char		*group;		/* "user URI" */
	unsigned	 line;		/* of the [user ...] line */
	unsigned	 kline[UK_N];	/* of each key, 0 if absent */
	uint8_t		 psk[MIKEY_MAX_KEY];
	size_t		 psk_len;
	char		*act_for;	/* NULL if absent */
	uint64_t	 lifetime;	/* 0 if absent */
};

struct users {
	const char	*cmd;
	const char	*path;
	int		 exists;
	GKeyFile	*kf;
	struct user	*u;
	size_t		 n;
};

/* users_free - everything a users_load made */
static void
users_free(struct users *us)
{
	size_t i;

	for (i = 0; i < us->n; i++) {
		free(us->u[i].id);
		free(us->u[i].group);
		g_free(us->u[i].act_for);
		OPENSSL_cleanse(us->u[i].psk, sizeof(us->u[i].psk));
	}
	free(us->u);
	if (us->kf != NULL)
		g_key_file_free(us->kf);
	us->u = NULL;
	us->n = 0;
	us->kf = NULL;
}

/*
 * id_norm - id as imgate-kms compares identities: scheme and host in
 *	lower case, the user part as it is (kms/FORMATS.md section 2)
 */
static void
id_norm(const char *id, char *out, size_t cap)
{
	char *colon, *at, *p;

	snprintf(out, cap, "%s", id);
	if ((colon = strchr(out, ':')) == NULL)
		return;
	for (p = out; p < colon; p++)
		*p = g_ascii_tolower(*p);
	p = (at = strchr(colon + 1, '@')) != NULL ? at + 1 : colon + 1;
	for (; *p != '\0'; p++)
		*p = g_ascii_tolower(*p);
}

/* users_find - the user called id (as the KMS compares), or NULL */
static struct user *
users_find(struct users *us, const char *id)
{
	char a[300], b[300];
	size_t i;

	id_norm(id, a, sizeof(a));
	for (i = 0; i < us->n; i++) {
		id_norm(us->u[i].id, b, sizeof(b));
		if (strcmp(a, b) == 0)
			return &us->u[i];
	}
	return NULL;
}

/* check_act_for - a ';'-separated list of URI patterns; -1 and why */
static int
check_act_for(const char *s, char *why, size_t cap)
{
	const char *p = s, *e, *w;
	char pat[300];
	size_t n;

	do {
		e = strchr(p, ';');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (n == 0 || n >= sizeof(pat)) {
			snprintf(why, cap, "an empty or over-long pattern; "
			    "give URI patterns separated by ';', e.g. "
			    "sip:*@corp.example;sip:li@corp.example");
			return -1;
		}
		memcpy(pat, p, n);
		pat[n] = '\0';
		if (ctl_check_uri(pat, 1, &w) != 0) {
			snprintf(why, cap, "pattern '%.64s' is not a URI "
			    "pattern: %s", pat, w);
			return -1;
		}
		p = e != NULL ? e + 1 : NULL;
	} while (p != NULL);
	return 0;
}

/*
 * users_scan - the line-by-line check of the users file: every line is
 *	blank, a # comment, a [user URI] group or key = value inside one;
 *	groups and keys are not repeated; keys are psk, act_for, lifetime.
 *	Fills us->u with the users and the line of each of their keys.
 */
static int
users_scan(struct users *us, char *buf, size_t len)
{
	struct user *cur = NULL, *u, *nu;
	const char *w;
	char *line, *p, *end, *eq;
	size_t pos = 0, klen;
	unsigned ln = 0;
	int k;

	while ((line = next_line(buf, len, &pos)) != NULL) {
		ln++;
		for (p = line; is_blank(*p); p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if (*p == '[') {
			if ((end = strchr(p, ']')) == NULL) {
				ctl_errx("%s: %s:%u: a group line must end "
				    "with ']'", us->cmd, us->path, ln);
				return -1;
			}
			for (eq = end + 1; is_blank(*eq); eq++)
				;
			if (*eq != '\0') {
				ctl_errx("%s: %s:%u: text after ']'",
				    us->cmd, us->path, ln);
				return -1;
			}
			*end = '\0';
			p++;
			if (strncmp(p, "user ", 5) != 0) {
				ctl_errx("%s: %s:%u: unknown group [%s]; a "
				    "users file holds only [user URI] groups",
				    us->cmd, us->path, ln, p);
				return -1;
			}
			if (ctl_check_uri(p + 5, 0, &w) != 0) {
				ctl_errx("%s: %s:%u: [%s]: '%s' is not a user "
				    "identity: %s", us->cmd, us->path, ln, p,
				    p + 5, w);
				return -1;
			}
			if ((u = users_find(us, p + 5)) != NULL) {
				ctl_errx("%s: %s:%u: user %s is defined twice "
				    "(first at line %u); remove one", us->cmd,
				    us->path, ln, p + 5, u->line);
				return -1;
			}
			nu = reallocarray(us->u, us->n + 1, sizeof(*us->u));
			if (nu == NULL) {
				ctl_errx("%s: out of memory", us->cmd);
				return -1;
			}
			us->u = nu;
			cur = &us->u[us->n];
			memset(cur, 0, sizeof(*cur));
			cur->line = ln;
			if ((cur->id = strdup(p + 5)) == NULL ||
			    (cur->group = strdup(p)) == NULL) {
				free(cur->id);
				ctl_errx("%s: out of memory", us->cmd);
				return -1;
			}
			us->n++;
			continue;
		}
		if ((eq = strchr(p, '=')) == NULL) {
			ctl_errx("%s: %s:%u: not a [group], a 'key = value' or "
			    "a '# comment' line", us->cmd, us->path, ln);
			return -1;
		}
		for (klen = (size_t)(eq - p); klen > 0 && is_blank(p[klen - 1]);
		    klen--)
			;
		if (cur == NULL) {
			ctl_errx("%s: %s:%u: '%.*s' comes before any [user "
			    "URI] group", us->cmd, us->path, ln, (int)klen, p);
			return -1;
		}
		for (k = 0; k < UK_N; k++)
			if (strlen(ukey_name[k]) == klen &&
			    strncmp(p, ukey_name[k], klen) == 0)
				break;
		if (k == UK_N) {
			ctl_errx("%s: %s:%u: unknown key '%.*s' for user %s; "
			    "the keys are psk, act_for and lifetime", us->cmd,
			    us->path, ln, (int)klen, p, cur->id);
			return -1;
		}
		if (cur->kline[k] != 0) {
			ctl_errx("%s: %s:%u: %s of user %s is set twice (first "
			    "at line %u)", us->cmd, us->path, ln, ukey_name[k],
			    cur->id, cur->kline[k]);
			return -1;
		}
		cur->kline[k] = ln;
	}
	return 0;
}

/* users_values - check each user's values (read through GKeyFile) */
static int
users_values(struct users *us)
{
	struct user *u;
	char *v, why[256];
	size_t i, n, nd;
	int bad;

	for (i = 0; i < us->n; i++) {
		u = &us->u[i];
		if (u->kline[UK_PSK] == 0) {
			ctl_errx("%s: %s:%u: user %s has no psk; add 'psk = "
			    "HEX' (16 to 64 bytes)", us->cmd, us->path,
			    u->line, u->id);
			return -1;
		}
		v = g_key_file_get_string(us->kf, u->group, "psk", NULL);
		if (v != NULL)
			g_strstrip(v);
		nd = v != NULL ? strlen(v) : 0;
		bad = v == NULL || nd < 32 || nd > 128 ||
		    ctl_unhex(v, nd, u->psk, sizeof(u->psk), &n) != 0;
		if (v != NULL) {
			OPENSSL_cleanse(v, nd);
			g_free(v);
		}
		if (bad) {
			ctl_errx("%s: %s:%u: the psk of user %s must be 32 to "
			    "128 hex digits (16 to 64 bytes)", us->cmd,
			    us->path, u->kline[UK_PSK], u->id);
			return -1;
		}
		u->psk_len = n;
		if (u->kline[UK_ACT_FOR] != 0) {
			u->act_for = g_key_file_get_string(us->kf, u->group,
			    "act_for", NULL);
			if (u->act_for == NULL ||
			    check_act_for(u->act_for, why, sizeof(why)) != 0) {
				ctl_errx("%s: %s:%u: act_for of user %s: %s",
				    us->cmd, us->path, u->kline[UK_ACT_FOR],
				    u->id, u->act_for == NULL ? "not valid "
				    "UTF-8" : why);
				return -1;
			}
		}
		if (u->kline[UK_LIFETIME] != 0) {
			v = g_key_file_get_string(us->kf, u->group,
			    "lifetime", NULL);
			if (v != NULL)
				g_strstrip(v);
			bad = v == NULL || ctl_parse_uint(v, 1, LIFETIME_MAX,
			    &u->lifetime) != 0;
			g_free(v);
			if (bad) {
				ctl_errx("%s: %s:%u: the lifetime of user %s "
				    "must be a number of seconds, 1 to %d",
				    us->cmd, us->path, u->kline[UK_LIFETIME],
				    u->id, LIFETIME_MAX);
				return -1;
			}
		}
	}
	return 0;
}

/*
 * users_load - read and check path.  A missing file is an empty list
 *	when missing_ok (us->exists 0), else an error.
 */
static int
users_load(const char *cmd, const char *path, int missing_ok,
    struct users *us)
{
	GError *err = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc;

	memset(us, 0, sizeof(*us));
	us->cmd = cmd;
	us->path = path;
	if ((us->kf = g_key_file_new()) == NULL) {
		ctl_errx("%s: out of memory", cmd);
		return -1;
	}
	rc = slurp(cmd, path, USERS_MAX_FILE, missing_ok, &buf, &len);
	if (rc == 1) {
		g_key_file_set_comment(us->kf, NULL, NULL, USERS_COMMENT,
		    NULL);
		return 0;
	}
	if (rc != 0)
		return -1;
	us->exists = 1;
	/* GKeyFile first: it gets the original bytes, the scan cuts lines */
	if (!g_key_file_load_from_data(us->kf, buf, len,
	    G_KEY_FILE_KEEP_COMMENTS, &err)) {
		/* the scan usually finds the line; else GLib's words */
		if (users_scan(us, buf, len) == 0)
			ctl_errx("%s: %s: %s", cmd, path, err->message);
		g_error_free(err);
		wipe_free(buf, USERS_MAX_FILE + 2);
		return -1;
	}
	rc = users_scan(us, buf, len);
	wipe_free(buf, USERS_MAX_FILE + 2);
	if (rc != 0 || users_values(us) != 0)
		return -1;
	return 0;
}

/* users_save - write the key file back atomically, mode 0600 */
static int
users_save(struct users *us)
{
	char *buf;
	gchar *data;
	gsize len = 0;
	int rc;

	if ((data = g_key_file_to_data(us->kf, &len, NULL)) == NULL) {
		ctl_errx("%s: out of memory", us->cmd);
		return -1;
	}
	/* GKeyFile leaves the last line unterminated after some removals */
	if (len > 0 && data[len - 1] != '\n') {
		if ((buf = malloc(len + 1)) == NULL) {
			OPENSSL_cleanse(data, len);
			g_free(data);
			ctl_errx("%s: out of memory", us->cmd);
			return -1;
		}
		memcpy(buf, data, len);
		buf[len] = '\n';
		rc = ctl_write_file(us->cmd, us->path, buf, len + 1, 0600, 0);
		OPENSSL_clear_free(buf, len + 1);
	} else
		rc = ctl_write_file(us->cmd, us->path, data, len, 0600, 0);
	OPENSSL_cleanse(data, len);
	g_free(data);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* The master key file (kms/FORMATS.md section 4) */

enum mk_state { MK_RETIRED, MK_ACTIVE, MK_CURRENT };
static const char *const mk_state_name[] = { "retired", "active",
	"current" };

struct mkey {
	uint32_t	 version;
	enum mk_state	 state;
	int64_t		 created;
	uint8_t		 key[MK_LEN];
	unsigned	 line;
};

struct mkeys {
	const char	*cmd;
	const char	*path;
	struct mkey	*k;
	size_t		 n;
};

/* mkeys_free - wipe and free */
static void
mkeys_free(struct mkeys *mk)
{
	if (mk->k != NULL)
		OPENSSL_clear_free(mk->k, mk->n * sizeof(*mk->k));
	mk->k = NULL;
	mk->n = 0;
}

/* mkeys_add - append a zeroed entry; NULL when out of memory */
static struct mkey *
mkeys_add(struct mkeys *mk)
{
	struct mkey *nk;

	/* grow by copying, so that no key bytes stay behind in a freed
	 * block the way realloc() would leave them */
	if ((nk = calloc(mk->n + 1, sizeof(*nk))) == NULL) {
		ctl_errx("%s: out of memory", mk->cmd);
		return NULL;
	}
	if (mk->n > 0)
		memcpy(nk, mk->k, mk->n * sizeof(*nk));
	if (mk->k != NULL)
		OPENSSL_clear_free(mk->k, mk->n * sizeof(*mk->k));
	mk->k = nk;
	return &mk->k[mk->n++];
}

/* mkeys_current - the current entry (exactly one after a load) */
static struct mkey *
mkeys_current(struct mkeys *mk)
{
	size_t i;

	for (i = 0; i < mk->n; i++)
		if (mk->k[i].state == MK_CURRENT)
			return &mk->k[i];
	return NULL;
}

/* mkeys_parse - the lines of buf; errors name the line */
static int
mkeys_parse(struct mkeys *mk, char *buf, size_t len)
{
	struct mkey *k, *cur;
	char *line, *f[5], *p;
	size_t pos = 0, nf, klen, icur = (size_t)-1;
	unsigned ln = 0;
	uint64_t v;
	int s;

	while ((line = next_line(buf, len, &pos)) != NULL) {
		ln++;
		for (p = line; is_blank(*p); p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		/* four fields separated by blanks */
		for (nf = 0; *p != '\0' && nf < 5; nf++) {
			f[nf] = p;
			while (*p != '\0' && !is_blank(*p))
				p++;
			while (is_blank(*p))
				*p++ = '\0';
		}
		if (nf != 4) {
			ctl_errx("%s: %s:%u: want 'VERSION STATE CREATED KEY' "
			    "(4 fields), got %s%zu", mk->cmd, mk->path, ln,
			    nf == 5 ? "more than " : "", nf == 5 ? 4 : nf);
			return -1;
		}
		if (ctl_parse_uint(f[0], 1, UINT32_MAX, &v) != 0) {
			ctl_errx("%s: %s:%u: version '%s' is not a number from "
			    "1 to %u", mk->cmd, mk->path, ln, f[0],
			    UINT32_MAX);
			return -1;
		}
		if (mk->n > 0 && v <= mk->k[mk->n - 1].version) {
			ctl_errx("%s: %s:%u: version %s does not increase "
			    "(line %u has version %u); versions are listed "
			    "in increasing order", mk->cmd, mk->path, ln,
			    f[0], mk->k[mk->n - 1].line,
			    mk->k[mk->n - 1].version);
			return -1;
		}
		for (s = 0; s < 3; s++)
			if (strcmp(f[1], mk_state_name[s]) == 0)
				break;
		if (s == 3) {
			ctl_errx("%s: %s:%u: state '%s' is not current, active "
			    "or retired", mk->cmd, mk->path, ln, f[1]);
			return -1;
		}
		if ((k = mkeys_add(mk)) == NULL)
			return -1;
		k->version = (uint32_t)v;
		k->state = (enum mk_state)s;
		k->line = ln;
		if (ctl_parse_uint(f[2], 0, INT64_MAX, &v) != 0) {
			ctl_errx("%s: %s:%u: created '%s' is not a Unix time "
			    "(seconds)", mk->cmd, mk->path, ln, f[2]);
			return -1;
		}
		k->created = (int64_t)v;
		klen = strlen(f[3]);
		if (klen != 2 * MK_LEN ||
		    ctl_unhex(f[3], klen, k->key, sizeof(k->key), &klen) != 0) {
			ctl_errx("%s: %s:%u: the key of version %u must be %d "
			    "hex digits (%d bytes)", mk->cmd, mk->path, ln,
			    k->version, 2 * MK_LEN, MK_LEN);
			return -1;
		}
		if (k->state == MK_CURRENT) {
			if (icur != (size_t)-1) {
				cur = &mk->k[icur];
				ctl_errx("%s: %s:%u: version %u is current, "
				    "but so is version %u (line %u); exactly "
				    "one version is current", mk->cmd,
				    mk->path, ln, k->version, cur->version,
				    cur->line);
				return -1;
			}
			/* an index: mkeys_add() moves the array */
			icur = mk->n - 1;
		}
	}
	if (mk->n == 0) {
		ctl_errx("%s: %s holds no master key; create one with "
		    "'imgatectl kms key init' (in a new file)", mk->cmd,
		    mk->path);
		return -1;
	}
	if (icur == (size_t)-1) {
		ctl_errx("%s: %s has no current version; mark exactly one "
		    "version 'current'", mk->cmd, mk->path);
		return -1;
	}
	return 0;
}

/* mkeys_load - read and check path */
static int
mkeys_load(const char *cmd, const char *path, struct mkeys *mk)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	memset(mk, 0, sizeof(*mk));
	mk->cmd = cmd;
	mk->path = path;
	if (slurp(cmd, path, KEYS_MAX_FILE, 0, &buf, &len) != 0)
		return -1;
	rc = mkeys_parse(mk, buf, len);
	wipe_free(buf, KEYS_MAX_FILE + 2);
	if (rc != 0)
		mkeys_free(mk);
	return rc;
}

/* mkeys_save - the whole file, atomically, mode 0600 */
static int
mkeys_save(struct mkeys *mk, int flags)
{
	const size_t line = 12 + 1 + 8 + 1 + 20 + 1 + 2 * MK_LEN + 2;
	size_t cap = sizeof(KEYS_HEADER) + mk->n * line, len, i;
	char *buf, hex[2 * MK_LEN + 1];
	int n, rc = -1;

	if ((buf = malloc(cap)) == NULL) {
		ctl_errx("%s: out of memory", mk->cmd);
		return -1;
	}
	len = (size_t)snprintf(buf, cap, "%s", KEYS_HEADER);
	for (i = 0; i < mk->n; i++) {
		ctl_hex(mk->k[i].key, MK_LEN, hex);
		n = snprintf(buf + len, cap - len, "%u %s %lld %s\n",
		    mk->k[i].version, mk_state_name[mk->k[i].state],
		    (long long)mk->k[i].created, hex);
		if (n < 0 || (size_t)n >= cap - len)
			goto out;	/* cannot happen: cap counts it all */
		len += (size_t)n;
	}
	rc = ctl_write_file(mk->cmd, mk->path, buf, len, 0600, flags);
out:
	OPENSSL_cleanse(hex, sizeof(hex));
	OPENSSL_clear_free(buf, cap);
	return rc;
}

/* new_key - RAND_bytes, with an error that says what to do */
static int
new_key(const char *cmd, uint8_t *key, size_t len)
{
	if (RAND_bytes(key, (int)len) != 1) {
		ctl_errx("%s: the random number generator failed; check the "
		    "OpenSSL installation", cmd);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Option parsing shared by every subcommand */

/* bad_option - the usage error for what getopt_long returned */
static int
bad_option(const char *cmd, int ch, char **argv)
{
	if (ch == ':')
		return ctl_usage_error(cmd, "option '%s' needs a value",
		    argv[optind - 1]);
	return ctl_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

/* no_args - refuse operands after the options */
static int
no_args(const char *cmd, int argc, char **argv)
{
	if (optind < argc)
		return ctl_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind]);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* kms user add | del | list */

static void
user_add_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl kms user add --users FILE --id URI\n"
	    "           (--psk-file F | --generate --psk-out F)\n"
	    "           [--act-for PATTERN[;PATTERN...]] [--lifetime SECONDS]\n"
	    "\n"
	    "Add a user to the users file of imgate-kms (kms/FORMATS.md\n"
	    "section 3).  The file is created (mode 0600) if it does not\n"
	    "exist and is replaced atomically; the KMS picks the change up\n"
	    "by itself.  An existing user is refused: delete it first.\n"
	    "\n"
	    "  --users FILE        the users file (kms-users.conf)\n"
	    "  --id URI            the user's identity, e.g.\n"
	    "                      sip:alice@corp.example\n"
	    "  --psk-file F        the PSK the user already has: 32 to 128\n"
	    "                      hex digits (16 to 64 bytes)\n"
	    "  --generate          make a new 32-byte random PSK ...\n"
	    "  --psk-out F         ... and write it (hex) to F, mode 0600;\n"
	    "                      F must not exist.  Give F to the user;\n"
	    "                      the PSK is never printed\n"
	    "  --act-for PATTERNS  identities the user may request tickets\n"
	    "                      for, ';' separated; '*' matches within\n"
	    "                      the user part or host\n"
	    "  --lifetime SECONDS  this user's ticket lifetime (1 to %d)\n"
	    "  -h, --help          this help\n"
	    "\n"
	    "Exit status: 0 added, 1 failed (nothing changed), 2 usage "
	    "error.\n", LIFETIME_MAX);
}

static int
user_add_main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "users", required_argument, NULL, 'u' },
		{ "id", required_argument, NULL, 'i' },
		{ "psk-file", required_argument, NULL, 'p' },
		{ "generate", no_argument, NULL, 'g' },
		{ "psk-out", required_argument, NULL, 'o' },
		{ "act-for", required_argument, NULL, 'a' },
		{ "lifetime", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char cmd[] = "kms user add";
	const char *users = NULL, *id = NULL, *pskfile = NULL,
	    *pskout = NULL, *act_for = NULL, *lifetime = NULL, *w;
	struct users us;
	uint8_t psk[MIKEY_MAX_KEY];
	char hex[2 * MIKEY_MAX_KEY + 2], fp[9], group[300], why[256];
	size_t psk_len = 0, hexlen;
	uint64_t life = 0;
	int ch, gen = 0, wrote_out = 0, rc = CTL_EXIT_FAIL;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			users = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'p':
			pskfile = optarg;
			break;
		case 'g':
			gen = 1;
			break;
		case 'o':
			pskout = optarg;
			break;
		case 'a':
			act_for = optarg;
			break;
		case 'l':
			lifetime = optarg;
			break;
		case 'h':
			user_add_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return bad_option(cmd, ch, argv);
		}
	}
	if (no_args(cmd, argc, argv) != 0)
		return CTL_EXIT_USAGE;
	if (users == NULL || id == NULL)
		return ctl_usage_error(cmd, "--users and --id are required");
	if ((pskfile != NULL) == gen)
		return ctl_usage_error(cmd, "give either --psk-file or "
		    "--generate (with --psk-out)");
	if (gen != (pskout != NULL))
		return ctl_usage_error(cmd, "--generate and --psk-out go "
		    "together");
	if (ctl_check_uri(id, 0, &w) != 0)
		return ctl_usage_error(cmd, "--id '%s' is not a user "
		    "identity: %s", id, w);
	if (act_for != NULL && check_act_for(act_for, why, sizeof(why)) != 0)
		return ctl_usage_error(cmd, "--act-for: %s", why);
	if (lifetime != NULL && ctl_parse_uint(lifetime, 1, LIFETIME_MAX,
	    &life) != 0)
		return ctl_usage_error(cmd, "--lifetime '%s' is not a number "
		    "of seconds from 1 to %d", lifetime, LIFETIME_MAX);

	ctl_no_core(cmd);
	if (users_load(cmd, users, 1, &us) != 0)
		goto out;
	if (users_find(&us, id) != NULL) {
		ctl_errx("%s: user %s already exists in %s; to change it, "
		    "delete it first with 'imgatectl kms user del'", cmd, id,
		    users);
		goto out;
	}
	if (gen) {
		if (new_key(cmd, psk, PSK_GEN_LEN) != 0)
			goto out;
		psk_len = PSK_GEN_LEN;
	} else if (ctl_read_psk(cmd, pskfile, psk, &psk_len) != 0)
		goto out;
	ctl_hex(psk, psk_len, hex);
	snprintf(group, sizeof(group), "user %s", id);
	g_key_file_set_string(us.kf, group, "psk", hex);
	if (act_for != NULL)
		g_key_file_set_string(us.kf, group, "act_for", act_for);
	if (lifetime != NULL)
		g_key_file_set_uint64(us.kf, group, "lifetime", life);
	if (gen) {
		/* the PSK file first: a users file naming a PSK nobody has
		 * would be worse than a PSK file nobody uses */
		hexlen = strlen(hex);
		hex[hexlen] = '\n';
		if (ctl_write_file(cmd, pskout, hex, hexlen + 1, 0600,
		    CTL_WRITE_EXCL) != 0)
			goto out;
		wrote_out = 1;
	}
	if (users_save(&us) != 0) {
		if (wrote_out && unlink(pskout) == 0)
			ctl_errx("%s: removed %s again", cmd, pskout);
		goto out;
	}
	ctl_fingerprint(psk, psk_len, fp);
	printf("added user %s to %s: PSK %zu bytes, SHA-256 fingerprint "
	    "%s%s%s\n", id, users, psk_len, fp, gen ? ", generated into " :
	    "", gen ? pskout : "");
	rc = CTL_EXIT_OK;
out:
	OPENSSL_cleanse(psk, sizeof(psk));
	OPENSSL_cleanse(hex, sizeof(hex));
	users_free(&us);
	return rc;
}

static void
user_del_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl kms user del --users FILE --id URI\n"
	    "\n"
	    "Remove a user (and its PSK) from the users file of imgate-kms.\n"
	    "The file is replaced atomically; the KMS refuses the user's\n"
	    "requests as soon as it has re-read it (within a second).\n"
	    "\n"
	    "  --users FILE   the users file (kms-users.conf)\n"
	    "  --id URI       the user to remove\n"
	    "  -h, --help     this help\n"
	    "\n"
	    "Exit status: 0 removed, 1 failed (e.g. no such user), 2 usage "
	    "error.\n");
}

static int
user_del_main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "users", required_argument, NULL, 'u' },
		{ "id", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char cmd[] = "kms user del";
	const char *users = NULL, *id = NULL;
	struct users us;
	struct user *u;
	int ch, rc = CTL_EXIT_FAIL;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			users = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'h':
			user_del_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return bad_option(cmd, ch, argv);
		}
	}
	if (no_args(cmd, argc, argv) != 0)
		return CTL_EXIT_USAGE;
	if (users == NULL || id == NULL)
		return ctl_usage_error(cmd, "--users and --id are required");
	ctl_no_core(cmd);
	if (users_load(cmd, users, 0, &us) != 0)
		goto out;
	if ((u = users_find(&us, id)) == NULL) {
		ctl_errx("%s: no user %s in %s; see 'imgatectl kms user list "
		    "--users %s'", cmd, id, users, users);
		goto out;
	}
	if (!g_key_file_remove_group(us.kf, u->group, NULL)) {
		ctl_errx("%s: cannot remove [%s]", cmd, u->group);
		goto out;
	}
	if (users_save(&us) != 0)
		goto out;
	printf("removed user %s from %s\n", id, users);
	rc = CTL_EXIT_OK;
out:
	users_free(&us);
	return rc;
}

static void
user_list_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl kms user list --users FILE [--json]\n"
	    "\n"
	    "List the users of an imgate-kms users file: identity, PSK\n"
	    "length and SHA-256 fingerprint (first 8 hex digits; the PSK\n"
	    "itself is never shown), act_for patterns and ticket lifetime.\n"
	    "The whole file is checked; a problem is reported with its "
	    "line.\n"
	    "\n"
	    "  --users FILE   the users file (kms-users.conf)\n"
	    "  --json         one JSON object instead of text\n"
	    "  -h, --help     this help\n"
	    "\n"
	    "Exit status: 0 listed, 1 the file is missing or not valid,\n"
	    "2 usage error.\n");
}

static int
user_list_main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "users", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char cmd[] = "kms user list";
	const char *users = NULL;
	struct ctl_emit e;
	struct users us;
	struct user *u;
	char fp[9];
	size_t i;
	int ch, json = 0, rc = CTL_EXIT_FAIL;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			users = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			user_list_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return bad_option(cmd, ch, argv);
		}
	}
	if (no_args(cmd, argc, argv) != 0)
		return CTL_EXIT_USAGE;
	if (users == NULL)
		return ctl_usage_error(cmd, "--users is required");
	ctl_no_core(cmd);
	if (users_load(cmd, users, 0, &us) != 0)
		goto out;
	ctl_emit_init(&e, stdout, json, NULL);
	ctl_emit_open(&e, NULL, "Users file %s: %zu user%s", users, us.n,
	    us.n == 1 ? "" : "s");
	if (json) {
		ctl_emit_str(&e, "file", NULL, (const uint8_t *)users,
		    strlen(users));
		ctl_emit_uint(&e, "count", NULL, us.n);
	}
	ctl_emit_array(&e, "users");
	for (i = 0; i < us.n; i++) {
		u = &us.u[i];
		ctl_fingerprint(u->psk, u->psk_len, fp);
		ctl_emit_open(&e, NULL, "User %s", u->id);
		if (json) {
			ctl_emit_str(&e, "id", NULL, (const uint8_t *)u->id,
			    strlen(u->id));
			ctl_emit_uint(&e, "psk_len", NULL, u->psk_len);
			ctl_emit_text(&e, "psk_fingerprint", NULL, "%s", fp);
		} else
			ctl_emit_text(&e, NULL, "PSK", "%zu bytes, SHA-256 "
			    "fingerprint %s", u->psk_len, fp);
		if (u->act_for != NULL)
			ctl_emit_str(&e, "act_for", "Acts for",
			    (const uint8_t *)u->act_for, strlen(u->act_for));
		if (u->lifetime != 0)
			ctl_emit_uint(&e, "lifetime", "Ticket lifetime (s)",
			    u->lifetime);
		ctl_emit_close(&e);
	}
	ctl_emit_array_end(&e);
	ctl_emit_close(&e);
	ctl_emit_end(&e);
	if (ferror(stdout) || fflush(stdout) != 0) {
		ctl_errx("%s: cannot write the output", cmd);
		goto out;
	}
	rc = CTL_EXIT_OK;
out:
	users_free(&us);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* kms key init | rotate | retire | list */

static void
key_init_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl kms key init --keys FILE\n"
	    "\n"
	    "Create the master key file of imgate-kms (kms/FORMATS.md section\n"
	    "4) with version 1, a new 32-byte random key, as the current\n"
	    "key.  FILE is written with mode 0600.  An existing FILE is never\n"
	    "replaced: tickets sealed under its keys would become useless;\n"
	    "use 'imgatectl kms key rotate' to add a version.\n"
	    "\n"
	    "  --keys FILE   the master key file (kms-master.keys)\n"
	    "  -h, --help    this help\n"
	    "\n"
	    "Exit status: 0 created, 1 failed (e.g. FILE exists), 2 usage "
	    "error.\n");
}

/*
 * keys_opts - the options of the key commands: --keys FILE, and --json
 *	or --version N where json / version are non-NULL.  0 to go on, -1
 *	after --help, else the exit code of a usage error.
 */
static int
keys_opts(const char *cmd, void (*usage)(FILE *), int argc, char **argv,
    const char **keys, int *json, const char **version)
{
	static const struct option lopts[] = {
		{ "keys", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "version", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	*keys = NULL;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			*keys = optarg;
			break;
		case 'j':
			if (json == NULL)
				return bad_option(cmd, '?', argv);
			*json = 1;
			break;
		case 'v':
			if (version == NULL)
				return bad_option(cmd, '?', argv);
			*version = optarg;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			return bad_option(cmd, ch, argv);
		}
	}
	if (no_args(cmd, argc, argv) != 0)
		return CTL_EXIT_USAGE;
	if (*keys == NULL)
		return ctl_usage_error(cmd, "--keys is required");
	if (version != NULL && *version == NULL)
		return ctl_usage_error(cmd, "--version is required");
	return 0;
}

static int
key_init_main(int argc, char **argv)
{
	static const char cmd[] = "kms key init";
	const char *keys;
	struct mkeys mk;
	struct mkey *k;
	struct stat st;
	char fp[9];
	int rc;

	if ((rc = keys_opts(cmd, key_init_usage, argc, argv, &keys, NULL,
	    NULL)) != 0)
		return rc < 0 ? CTL_EXIT_OK : rc;
	ctl_no_core(cmd);
	memset(&mk, 0, sizeof(mk));
	mk.cmd = cmd;
	mk.path = keys;
	rc = CTL_EXIT_FAIL;
	if (lstat(keys, &st) == 0) {
		ctl_errx("%s: %s already exists; refusing to overwrite master "
		    "keys (tickets sealed under them would become useless); "
		    "add a version with 'imgatectl kms key rotate --keys %s'",
		    cmd, keys, keys);
		goto out;
	}
	if (errno != ENOENT) {
		ctl_errx("%s: cannot check %s: %s", cmd, keys,
		    strerror(errno));
		goto out;
	}
	if ((k = mkeys_add(&mk)) == NULL)
		goto out;
	k->version = 1;
	k->state = MK_CURRENT;
	k->created = (int64_t)time(NULL);
	if (new_key(cmd, k->key, MK_LEN) != 0 ||
	    mkeys_save(&mk, CTL_WRITE_EXCL) != 0)
		goto out;
	ctl_fingerprint(k->key, MK_LEN, fp);
	printf("created %s: master key version 1 (current), SHA-256 "
	    "fingerprint %s\n", keys, fp);
	rc = CTL_EXIT_OK;
out:
	mkeys_free(&mk);
	return rc;
}

static void
key_rotate_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl kms key rotate --keys FILE\n"
	    "\n"
	    "Add a master key version (the highest version + 1, a new 32-byte\n"
	    "random key) and make it current: imgate-kms seals new tickets\n"
	    "under it.  The previous current version becomes active: tickets\n"
	    "sealed under it still resolve until it is retired.  FILE is\n"
	    "replaced atomically (mode 0600).\n"
	    "\n"
	    "  --keys FILE   the master key file (kms-master.keys)\n"
	    "  -h, --help    this help\n"
	    "\n"
	    "Exit status: 0 rotated, 1 failed (nothing changed), 2 usage "
	    "error.\n");
}

static int
key_rotate_main(int argc, char **argv)
{
	static const char cmd[] = "kms key rotate";
	const char *keys;
	struct mkeys mk;
	struct mkey *k, *cur;
	uint32_t oldv;
	char fp[9];
	int rc;

	if ((rc = keys_opts(cmd, key_rotate_usage, argc, argv, &keys, NULL,
	    NULL)) != 0)
		return rc < 0 ? CTL_EXIT_OK : rc;
	ctl_no_core(cmd);
	rc = CTL_EXIT_FAIL;
	if (mkeys_load(cmd, keys, &mk) != 0)
		goto out;
	if (mk.k[mk.n - 1].version == UINT32_MAX) {
		ctl_errx("%s: %s: version %u is the last one possible; start "
		    "a new file (every ticket must be re-issued)", cmd, keys,
		    UINT32_MAX);
		goto out;
	}
	cur = mkeys_current(&mk);
	oldv = cur->version;
	cur->state = MK_ACTIVE;
	if ((k = mkeys_add(&mk)) == NULL)	/* moves the array */
		goto out;
	k->version = mk.k[mk.n - 2].version + 1;
	k->state = MK_CURRENT;
	k->created = (int64_t)time(NULL);
	if (new_key(cmd, k->key, MK_LEN) != 0 || mkeys_save(&mk, 0) != 0)
		goto out;
	ctl_fingerprint(k->key, MK_LEN, fp);
	printf("%s: master key version %u is current (SHA-256 fingerprint "
	    "%s); version %u is now active\n", keys, k->version, fp, oldv);
	rc = CTL_EXIT_OK;
out:
	mkeys_free(&mk);
	return rc;
}

static void
key_retire_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl kms key retire --keys FILE --version N\n"
	    "\n"
	    "Retire master key version N: imgate-kms refuses tickets sealed\n"
	    "under it (ERR 14) from when it re-reads FILE.  The current\n"
	    "version cannot be retired: rotate first.  The key stays in the\n"
	    "file (retired) so that the version number is never reused.\n"
	    "FILE is replaced atomically (mode 0600).\n"
	    "\n"
	    "  --keys FILE   the master key file (kms-master.keys)\n"
	    "  --version N   the version to retire\n"
	    "  -h, --help    this help\n"
	    "\n"
	    "Exit status: 0 retired (or already retired), 1 failed (nothing\n"
	    "changed), 2 usage error.\n");
}

static int
key_retire_main(int argc, char **argv)
{
	static const char cmd[] = "kms key retire";
	const char *keys, *vs = NULL;
	struct mkeys mk;
	struct mkey *k = NULL;
	uint64_t v;
	size_t i;
	int rc;

	if ((rc = keys_opts(cmd, key_retire_usage, argc, argv, &keys, NULL,
	    &vs)) != 0)
		return rc < 0 ? CTL_EXIT_OK : rc;
	if (ctl_parse_uint(vs, 1, UINT32_MAX, &v) != 0)
		return ctl_usage_error(cmd, "--version '%s' is not a version "
		    "number (1 to %u)", vs, UINT32_MAX);
	ctl_no_core(cmd);
	rc = CTL_EXIT_FAIL;
	if (mkeys_load(cmd, keys, &mk) != 0)
		goto out;
	for (i = 0; i < mk.n; i++)
		if (mk.k[i].version == v)
			k = &mk.k[i];
	if (k == NULL) {
		ctl_errx("%s: %s has no version %llu; see 'imgatectl kms key "
		    "list --keys %s'", cmd, keys, (unsigned long long)v, keys);
		goto out;
	}
	if (k->state == MK_CURRENT) {
		ctl_errx("%s: version %llu is the current master key and "
		    "cannot be retired; run 'imgatectl kms key rotate --keys "
		    "%s' first, then retire it", cmd, (unsigned long long)v,
		    keys);
		goto out;
	}
	if (k->state == MK_RETIRED) {
		printf("%s: version %llu is already retired; nothing "
		    "changed\n", keys, (unsigned long long)v);
		rc = CTL_EXIT_OK;
		goto out;
	}
	k->state = MK_RETIRED;
	if (mkeys_save(&mk, 0) != 0)
		goto out;
	printf("%s: master key version %llu retired; tickets sealed under it "
	    "are refused from now on\n", keys, (unsigned long long)v);
	rc = CTL_EXIT_OK;
out:
	mkeys_free(&mk);
	return rc;
}

static void
key_list_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl kms key list --keys FILE [--json]\n"
	    "\n"
	    "List the master key versions of imgate-kms: version, state\n"
	    "(current, active, retired), creation date (UTC) and SHA-256\n"
	    "fingerprint (first 8 hex digits; keys are never shown).  The\n"
	    "whole file is checked; a problem is reported with its line.\n"
	    "\n"
	    "  --keys FILE   the master key file (kms-master.keys)\n"
	    "  --json        one JSON object instead of the table\n"
	    "  -h, --help    this help\n"
	    "\n"
	    "Exit status: 0 listed, 1 the file is missing or not valid,\n"
	    "2 usage error.\n");
}

static int
key_list_main(int argc, char **argv)
{
	static const char cmd[] = "kms key list";
	const char *keys;
	struct ctl_emit e;
	struct mkeys mk;
	struct mkey *k;
	char fp[9], date[32];
	size_t i;
	int json = 0, rc;

	if ((rc = keys_opts(cmd, key_list_usage, argc, argv, &keys, &json,
	    NULL)) != 0)
		return rc < 0 ? CTL_EXIT_OK : rc;
	ctl_no_core(cmd);
	rc = CTL_EXIT_FAIL;
	if (mkeys_load(cmd, keys, &mk) != 0)
		goto out;
	if (json) {
		ctl_emit_init(&e, stdout, 1, NULL);
		ctl_emit_open(&e, NULL, NULL);
		ctl_emit_str(&e, "file", NULL, (const uint8_t *)keys,
		    strlen(keys));
		ctl_emit_uint(&e, "current", NULL,
		    mkeys_current(&mk)->version);
		ctl_emit_array(&e, "keys");
	} else
		printf("%-10s %-8s %-21s %s\n", "VERSION", "STATE",
		    "CREATED", "FINGERPRINT");
	for (i = 0; i < mk.n; i++) {
		k = &mk.k[i];
		ctl_fingerprint(k->key, MK_LEN, fp);
		ctl_iso_date(k->created, date, sizeof(date));
		if (!json) {
			printf("%-10u %-8s %-21s %s\n", k->version,
			    mk_state_name[k->state], date, fp);
			continue;
		}
		ctl_emit_open(&e, NULL, NULL);
		ctl_emit_uint(&e, "version", NULL, k->version);
		ctl_emit_text(&e, "state", NULL, "%s",
		    mk_state_name[k->state]);
		ctl_emit_uint(&e, "created", NULL, (uint64_t)k->created);
		ctl_emit_text(&e, "created_date", NULL, "%s", date);
		ctl_emit_uint(&e, "key_len", NULL, MK_LEN);
		ctl_emit_text(&e, "fingerprint", NULL, "%s", fp);
		ctl_emit_close(&e);
	}
	if (json) {
		ctl_emit_array_end(&e);
		ctl_emit_close(&e);
		ctl_emit_end(&e);
	}
	if (ferror(stdout) || fflush(stdout) != 0) {
		ctl_errx("%s: cannot write the output", cmd);
		goto out;
	}
	rc = CTL_EXIT_OK;
out:
	mkeys_free(&mk);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* The command tree */

static const struct ctl_cmd user_cmds[] = {
	{ "add", "add a user with its PSK", user_add_usage, user_add_main },
	{ "del", "remove a user", user_del_usage, user_del_main },
	{ "list", "list users (PSK fingerprints only)", user_list_usage,
	    user_list_main },
};
static const struct ctl_cmd key_cmds[] = {
	{ "init", "create the master key file (version 1)", key_init_usage,
	    key_init_main },
	{ "rotate", "add a new current master key version", key_rotate_usage,
	    key_rotate_main },
	{ "retire", "retire a master key version", key_retire_usage,
	    key_retire_main },
	{ "list", "list master key versions (fingerprints only)",
	    key_list_usage, key_list_main },
};
#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static void
user_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl kms user SUBCOMMAND [ARGS...]\n"
	    "\n"
	    "Edit the users file of imgate-kms (kms-users.conf).\n"
	    "\n");
	ctl_list_cmds(fp, user_cmds, NELEM(user_cmds));
	fprintf(fp, "\nRun 'imgatectl kms user SUBCOMMAND --help' for its "
	    "options.\n");
}

static void
key_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl kms key SUBCOMMAND [ARGS...]\n"
	    "\n"
	    "Manage the master keys of imgate-kms (kms-master.keys).\n"
	    "\n");
	ctl_list_cmds(fp, key_cmds, NELEM(key_cmds));
	fprintf(fp, "\nRun 'imgatectl kms key SUBCOMMAND --help' for its "
	    "options.\n");
}

/* dispatch - run the row of tab named by argv[1] */
static int
dispatch(const char *cmd, void (*usage)(FILE *), const struct ctl_cmd *tab,
    size_t n, int argc, char **argv)
{
	const struct ctl_cmd *c;

	if (argc < 2)
		return ctl_usage_error(cmd, "a subcommand is needed");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return CTL_EXIT_OK;
	}
	if ((c = ctl_find_cmd(tab, n, argv[1])) == NULL)
		return ctl_usage_error(cmd, "unknown subcommand '%s'",
		    argv[1]);
	return c->main(argc - 1, argv + 1);
}

static int
user_main(int argc, char **argv)
{
	return dispatch("kms user", user_usage, user_cmds, NELEM(user_cmds),
	    argc, argv);
}

static int
key_main(int argc, char **argv)
{
	return dispatch("kms key", key_usage, key_cmds, NELEM(key_cmds), argc,
	    argv);
}

static const struct ctl_cmd kms_cmds[] = {
	{ "user", "add, remove and list users (kms-users.conf)", user_usage,
	    user_main },
	{ "key", "create, rotate, retire, list master keys "
	    "(kms-master.keys)", key_usage, key_main },
};

void
ctl_kms_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl kms (user | key) SUBCOMMAND [ARGS...]\n"
	    "\n"
	    "Administer the files of imgate-kms (kms/FORMATS.md): its users\n"
	    "and their PSKs, and its versioned master keys.  Files are\n"
	    "checked whole on every run and replaced atomically (mode 0600);\n"
	    "keys are shown only as SHA-256 fingerprints.\n"
	    "\n");
	ctl_list_cmds(fp, kms_cmds, NELEM(kms_cmds));
	fprintf(fp,
	    "\n"
	    "  kms user add --users FILE --id URI (--psk-file F | --generate\n"
	    "               --psk-out F) [--act-for PATTERNS] "
	    "[--lifetime SECONDS]\n"
	    "  kms user del --users FILE --id URI\n"
	    "  kms user list --users FILE [--json]\n"
	    "  kms key init --keys FILE\n"
	    "  kms key rotate --keys FILE\n"
	    "  kms key retire --keys FILE --version N\n"
	    "  kms key list --keys FILE [--json]\n"
	    "\n"
	    "Run 'imgatectl kms user add --help' (etc.) for the details.\n");
}

int
ctl_kms_main(int argc, char **argv)
{
	return dispatch("kms", ctl_kms_usage, kms_cmds, NELEM(kms_cmds), argc,
	    argv);
}
