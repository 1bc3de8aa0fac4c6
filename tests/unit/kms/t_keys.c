/*
 * tests/unit/kms/t_keys.c - the master key file and file stamps (TAP)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * 1. kms_keys_parse: a good file, then a table of bad files, each with
 *    the line and the words its message must contain.
 * 2. kms_keys_find over several versions.
 * 3. kms_file_read limits, kms_keys_load of a real file, and the stamp
 *    of a file replaced by rename (what the 1 s watcher relies on).
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "kms/kms.h"
#include "tests/tap.h"

/* MUSTW - a setup step that has to work (counted as a test) */
#define MUSTW(x) ok((x) == 0, "setup: %s", #x)

#define K1 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define K2 "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
#define K3 "FFEEDDCCBBAA99887766554433221100ffeeddccbbaa99887766554433221100"

static void
test_good(void)
{
	static const char text[] =
	    "# imgate-kms master keys: version state created key\n"
	    "\n"
	    "1 retired 1763900000 " K1 "\n"
	    "  2\tactive 1763990000 " K2 "\r\n"
	    "7 current 1764000000 " K3;
	struct kms_keys *k = NULL;
	char err[KMS_ERR_LEN] = "";
	uint8_t want[32];

	is_int(kms_keys_parse(text, strlen(text), &k, err, sizeof(err)), 0,
	    "good file parses (%s)", err);
	if (k == NULL)
		return;
	is_int(k->n, 3, "three keys");
	is_int(k->current, 2, "the current one is the third");
	is_int(k->v[0].version, 1, "version 1");
	is_int(k->v[0].state, KMS_KEY_RETIRED, "1 is retired");
	is_int(k->v[1].state, KMS_KEY_ACTIVE, "2 is active (tab, CRLF)");
	is_int(k->v[2].version, 7, "version 7");
	is_int(k->v[2].created, 1764000000, "created of 7");
	hex2bin(K3, want, sizeof(want));
	is_mem(k->v[2].key, 32, want, 32, "key of 7 (upper-case hex)");
	ok(strcmp(kms_key_state_name(k->v[1].state), "active") == 0,
	    "state name");
	kms_keys_free(k);
}

static void
test_bad(void)
{
	static const struct {
		const char *text;
		const char *want1, *want2;
	} t[] = {
		{ "", "no keys", NULL },
		{ "# only a comment\n\n", "no keys", NULL },
		{ "1 active 1 " K1 "\n", "no current key", NULL },
		{ "1 current 1 " K1 "\n2 current 2 " K2 "\n",
		    "line 2", "second current" },
		{ "2 active 1 " K1 "\n1 current 2 " K2 "\n",
		    "line 2", "does not increase" },
		{ "1 active 1 " K1 "\n1 current 2 " K2 "\n",
		    "line 2", "does not increase" },
		{ "0 current 1 " K1 "\n", "line 1", "version" },
		{ "4294967296 current 1 " K1 "\n", "line 1", "version" },
		{ "-1 current 1 " K1 "\n", "line 1", "version" },
		{ "x current 1 " K1 "\n", "line 1", "version" },
		{ "1 Current 1 " K1 "\n", "line 1", "state" },
		{ "1 revoked 1 " K1 "\n", "line 1", "state" },
		{ "1 current -5 " K1 "\n", "line 1", "created" },
		{ "1 current 1 " K1 "00\n", "line 1", "64 hex digits" },
		{ "1 current 1 0001020304\n", "line 1", "not 10 characters" },
		{ "1 current 1 g0"
		    "0102030405060708090a0b0c0d0e0f"
		    "101112131415161718191a1b1c1d1e1f\n",
		    "line 1", "not a hex digit" },
		{ "1 current 1\n", "line 1", "3 fields" },
		{ "1 current 1 " K1 " extra\n", "line 1", "want four" },
		{ "1 current 1 " K1 " a b\n", "line 1", "more than four" },
		{ "# c\n1 current 1 " K1 "\n\n3 active\n", "line 4",
		    "2 fields" },
	};
	struct kms_keys *k;
	char err[KMS_ERR_LEN];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		k = NULL;
		err[0] = '\0';
		rc = kms_keys_parse(t[i].text, strlen(t[i].text), &k, err,
		    sizeof(err));
		ok(rc == -1 && k == NULL && strstr(err, t[i].want1) != NULL &&
		    (t[i].want2 == NULL || strstr(err, t[i].want2) != NULL),
		    "bad file %zu refused: \"%s\"", i, err);
		if (rc == 0)
			kms_keys_free(k);
	}
	/* a NUL byte in the text */
	k = NULL;
	rc = kms_keys_parse("1 current 1 \0", 13, &k, err, sizeof(err));
	ok(rc == -1 && strstr(err, "NUL") != NULL, "NUL byte refused: %s",
	    err);
}

static void
test_find(void)
{
	char text[4096];
	struct kms_keys *k = NULL;
	char err[KMS_ERR_LEN];
	size_t off = 0;
	uint32_t v;

	for (v = 3; v <= 99; v += 3)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		    "%u %s 1 %s\n", v, v == 99 ? "current" : "active", K1);
	is_int(kms_keys_parse(text, off, &k, err, sizeof(err)), 0,
	    "33 versions parse");
	if (k == NULL)
		return;
	for (v = 0; v <= 100; v++) {
		const struct kms_mkey *m = kms_keys_find(k, v);

		if ((v % 3 == 0 && v != 0) != (m != NULL) ||
		    (m != NULL && m->version != v))
			break;
	}
	ok(v == 101, "kms_keys_find finds exactly the versions 3, 6, .., 99 "
	    "(stopped at %u)", v);
	ok(kms_keys_find(NULL, 3) == NULL, "find in NULL");
	kms_keys_free(k);
}

/* write_file - path with text and mode */
static int
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	if (fclose(f) != 0)
		return -1;
	return chmod(path, mode);
}

static void
test_files(void)
{
	char dir[] = "/tmp/t_keys.XXXXXX", path[256], tmp[256];
	char err[KMS_ERR_LEN], *buf = NULL;
	struct kms_stamp st, st2, st3;
	struct kms_keys *k = NULL;
	size_t len;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/kms-master.keys", dir);
	snprintf(tmp, sizeof(tmp), "%s/kms-master.keys.tmp", dir);
	MUSTW(write_file(path, "1 current 1764000000 " K1 "\n", 0600));
	is_int(kms_keys_load(path, &k, err, sizeof(err)), 0, "load (%s)", err);
	ok(k != NULL && k->st.valid && k->n == 1, "loaded, with a stamp");
	is_int(kms_stamp_get(path, &st), 0, "stamp of the file");
	ok(k != NULL && kms_stamp_equal(&st, &k->st),
	    "stat stamp equals the stamp of the load");
	/* rotation as imgatectl does it: new file, rename */
	MUSTW(write_file(tmp, "1 active 1764000000 " K1 "\n2 current "
	    "1764000001 " K2 "\n", 0600));
	MUSTW(rename(tmp, path));
	is_int(kms_stamp_get(path, &st2), 0, "stamp after rename");
	ok(!kms_stamp_equal(&st, &st2), "a renamed-in file has a new stamp");
	kms_keys_free(k);
	k = NULL;
	is_int(kms_keys_load(path, &k, err, sizeof(err)), 0, "reload");
	ok(k != NULL && k->n == 2 && k->v[k->current].version == 2,
	    "the new current version is 2");
	kms_keys_free(k);
	k = NULL;

	/* a group-readable key file still loads (with a warning) */
	MUSTW(chmod(path, 0644));
	is_int(kms_keys_load(path, &k, err, sizeof(err)), 0,
	    "0644 file loads (a warning is logged)");
	kms_keys_free(k);
	k = NULL;

	/* a bad file names itself and the line */
	MUSTW(write_file(path, "1 current 1764000000 " K1 "\nbogus\n", 0600));
	is_int(kms_keys_load(path, &k, err, sizeof(err)), -1, "bad file");
	ok(strstr(err, path) != NULL && strstr(err, "line 2") != NULL,
	    "message names file and line: %s", err);

	/* limits of kms_file_read */
	is_int(kms_file_read(path, 10, &buf, &len, &st3, err, sizeof(err)),
	    -1, "larger than max refused");
	ok(strstr(err, "larger than 10 bytes") != NULL, "says so: %s", err);
	is_int(kms_file_read(dir, 1000, &buf, &len, &st3, err, sizeof(err)),
	    -1, "a directory is refused");
	ok(strstr(err, "not a regular file") != NULL, "says so: %s", err);
	snprintf(tmp, sizeof(tmp), "%s/missing", dir);
	is_int(kms_file_read(tmp, 1000, &buf, &len, &st3, err, sizeof(err)),
	    -1, "a missing file is refused");
	ok(strstr(err, "cannot open") != NULL, "says so: %s", err);
	is_int(kms_stamp_get(tmp, &st3), -1, "no stamp for a missing file");
	is_int(kms_file_read(path, 1000, &buf, &len, &st3, err, sizeof(err)),
	    0, "read within the limit");
	ok(buf != NULL && len == strlen(buf) && buf[len] == '\0',
	    "NUL-terminated, length %zu", len);
	kms_file_free(buf, len + 1);

	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	log_init("t_keys", LOG_LEVEL_WARN, 1);
	test_good();
	test_bad();
	test_find();
	test_files();
	return done_testing();
}
