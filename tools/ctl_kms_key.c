/*
 * tools/ctl_kms_key.c - "imgatectl kms key": the master keys of imgate-kms
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	kms-master.keys holds "version state created key" lines
 *	(kms/FORMATS.md section 4); exactly one version is current.  Every
 *	command reads and checks the whole file, naming the line of the
 *	first problem, and writes a change as a whole new file, atomically
 *	(see tools/ctl_kms_util.c).
 *
 * SECURITY
 *	The file holds master keys: it is written with mode 0600, keys
 *	show only as the first 8 hex digits of their SHA-256, and every
 *	buffer that held them is wiped (mkeys_add grows by copying, not
 *	realloc, for that reason).
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "tools/ctl.h"

#define KEYS_MAX_FILE	(1024 * 1024)	/* bytes of a master key file */
#define MK_LEN		32		/* bytes of a master key */
#define KEYS_HEADER	"# imgate-kms master keys: version state created key\n"

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

	while ((line = ctl_kms_next_line(buf, len, &pos)) != NULL) {
		ln++;
		for (p = line; ctl_kms_is_blank(*p); p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		/* four fields separated by blanks */
		for (nf = 0; *p != '\0' && nf < 5; nf++) {
			f[nf] = p;
			while (*p != '\0' && !ctl_kms_is_blank(*p))
				p++;
			while (ctl_kms_is_blank(*p))
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
	if (ctl_kms_slurp(cmd, path, KEYS_MAX_FILE, 0, &buf, &len) != 0)
		return -1;
	rc = mkeys_parse(mk, buf, len);
	ctl_kms_wipe_free(buf, KEYS_MAX_FILE + 2);
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
				return ctl_kms_bad_option(cmd, '?', argv);
			*json = 1;
			break;
		case 'v':
			if (version == NULL)
				return ctl_kms_bad_option(cmd, '?', argv);
			*version = optarg;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			return ctl_kms_bad_option(cmd, ch, argv);
		}
	}
	if (ctl_kms_no_args(cmd, argc, argv) != 0)
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
	if (ctl_kms_new_key(cmd, k->key, MK_LEN) != 0 ||
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
	if (ctl_kms_new_key(cmd, k->key, MK_LEN) != 0 ||
	    mkeys_save(&mk, 0) != 0)
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

void
ctl_kms_key_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl kms key SUBCOMMAND [ARGS...]\n"
	    "\n"
	    "Manage the master keys of imgate-kms (kms-master.keys).\n"
	    "\n");
	ctl_list_cmds(fp, key_cmds, CTL_NELEM(key_cmds));
	fprintf(fp, "\nRun 'imgatectl kms key SUBCOMMAND --help' for its "
	    "options.\n");
}

int
ctl_kms_key_main(int argc, char **argv)
{
	return ctl_kms_dispatch("kms key", ctl_kms_key_usage, key_cmds,
	    CTL_NELEM(key_cmds), argc, argv);
}

