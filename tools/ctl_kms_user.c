/*
 * tools/ctl_kms_user.c - "imgatectl kms user": the users file of imgate-kms
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	kms-users.conf is a GLib key file, one [user URI] group per user
 *	with psk, act_for and lifetime (kms/FORMATS.md section 3).
 *	GKeyFile reports syntax errors without line numbers, so the file is
 *	scanned line by line here first (groups, keys, duplicates, each
 *	with its line), then loaded and edited with GKeyFile, which keeps
 *	comments.  The rules shared with "kms key" (checking the whole
 *	file, atomic replacement, no lock) are in tools/ctl_kms_util.c.
 *
 * SECURITY
 *	The file holds PSKs: it is written with mode 0600, PSKs show only
 *	as their length and SHA-256 fingerprint, buffers that held them
 *	are wiped (GKeyFile's own copies are not: GLib offers no way, and
 *	this process exits at once).  A generated PSK goes only to the
 *	--psk-out file (mode 0600), never to stdout.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <openssl/crypto.h>

#include "mikey/mikey.h"
#include "tools/ctl.h"

#define USERS_MAX_FILE	(1024 * 1024)	/* bytes of a users file */
#define PSK_GEN_LEN	32		/* bytes of a generated PSK */
#define LIFETIME_MAX	INT32_MAX	/* seconds, as imgate-kms reads it */
#define USERS_COMMENT	" imgate-kms users (kms/FORMATS.md section 3), " \
	"written by 'imgatectl kms user'"

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

	while ((line = ctl_kms_next_line(buf, len, &pos)) != NULL) {
		ln++;
		for (p = line; ctl_kms_is_blank(*p); p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		if (*p == '[') {
			if ((end = strchr(p, ']')) == NULL) {
				ctl_errx("%s: %s:%u: a group line must end "
				    "with ']'", us->cmd, us->path, ln);
				return -1;
			}
			for (eq = end + 1; ctl_kms_is_blank(*eq); eq++)
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
		for (klen = (size_t)(eq - p);
		    klen > 0 && ctl_kms_is_blank(p[klen - 1]); klen--)
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
	rc = ctl_kms_slurp(cmd, path, USERS_MAX_FILE, missing_ok, &buf, &len);
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
		ctl_kms_wipe_free(buf, USERS_MAX_FILE + 2);
		return -1;
	}
	rc = users_scan(us, buf, len);
	ctl_kms_wipe_free(buf, USERS_MAX_FILE + 2);
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
			return ctl_kms_bad_option(cmd, ch, argv);
		}
	}
	if (ctl_kms_no_args(cmd, argc, argv) != 0)
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
		if (ctl_kms_new_key(cmd, psk, PSK_GEN_LEN) != 0)
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
			return ctl_kms_bad_option(cmd, ch, argv);
		}
	}
	if (ctl_kms_no_args(cmd, argc, argv) != 0)
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
			return ctl_kms_bad_option(cmd, ch, argv);
		}
	}
	if (ctl_kms_no_args(cmd, argc, argv) != 0)
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
/* The command tree */

static const struct ctl_cmd user_cmds[] = {
	{ "add", "add a user with its PSK", user_add_usage, user_add_main },
	{ "del", "remove a user", user_del_usage, user_del_main },
	{ "list", "list users (PSK fingerprints only)", user_list_usage,
	    user_list_main },
};

void
ctl_kms_user_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl kms user SUBCOMMAND [ARGS...]\n"
	    "\n"
	    "Edit the users file of imgate-kms (kms-users.conf).\n"
	    "\n");
	ctl_list_cmds(fp, user_cmds, CTL_NELEM(user_cmds));
	fprintf(fp, "\nRun 'imgatectl kms user SUBCOMMAND --help' for its "
	    "options.\n");
}

int
ctl_kms_user_main(int argc, char **argv)
{
	return ctl_kms_dispatch("kms user", ctl_kms_user_usage, user_cmds,
	    CTL_NELEM(user_cmds), argc, argv);
}

