/*
 * kms/kms_keys.c - the master key file: read, validate, look up, wipe
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	The master keys are the Ticket Protection Keys of every ticket this
 *	KMS (and every KMS sharing the file) issues: whoever has them opens
 *	every ticket.  The file is small text (FORMATS.md section 4), one
 *	line per version, and the parser is strict: one malformed line, a
 *	version that does not increase, a key that is not exactly 32 bytes,
 *	or anything but exactly one "current" line refuses the whole file,
 *	so a half-written or hand-damaged file can never become the key set
 *	(the daemon then keeps the keys it has).  The file is read with
 *	read(2) into one buffer that is wiped before it is freed, so no stdio
 *	buffer keeps a copy; the keys live in one array wiped with
 *	OPENSSL_cleanse when the set is freed.
 *
 *	The "file changed" test compares device, inode, size and mtime (to
 *	the nanosecond): imgatectl writes a temporary file and renames it, so
 *	a rotation always gives a new inode.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "kms/kms.h"

/* ---------------------------------------------------------------------- */
/* Files */

int
kms_stamp_get(const char *path, struct kms_stamp *st)
{
	struct stat sb;

	memset(st, 0, sizeof(*st));
	if (stat(path, &sb) == -1)
		return -1;
	st->valid = 1;
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = sb.st_size;
	st->mtime = sb.st_mtim;
	st->mode = sb.st_mode;
	return 0;
}

int
kms_stamp_equal(const struct kms_stamp *a, const struct kms_stamp *b)
{
	return a->valid == b->valid && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec;
}

int
kms_file_read(const char *path, size_t max, char **buf_out, size_t *len_out,
    struct kms_stamp *st, char *err, size_t errlen)
{
	struct stat sb;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		snprintf(err, errlen, "%s: cannot stat: %s", path,
		    strerror(errno));
		goto done;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto done;
	}
	if (sb.st_size < 0 || (size_t)sb.st_size > max) {
		snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
		goto done;
	}
	/* one byte more than stat said, to notice a file that grew */
	cap = (size_t)sb.st_size + 1;
	if ((buf = malloc(cap + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto done;
	}
	while (len < cap) {
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s: read error: %s", path,
			    strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > (size_t)sb.st_size) {
		snprintf(err, errlen, "%s: changed while being read; try "
		    "again", path);
		goto done;
	}
	buf[len] = '\0';
	memset(st, 0, sizeof(*st));
	st->valid = 1;
	st->dev = sb.st_dev;
	st->ino = sb.st_ino;
	st->size = sb.st_size;
	st->mtime = sb.st_mtim;
	st->mode = sb.st_mode;
	*buf_out = buf;
	*len_out = len;
	buf = NULL;
	rc = 0;
done:
	if (buf != NULL)
		kms_file_free(buf, cap + 1);
	close(fd);
	return rc;
}

void
kms_file_free(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	OPENSSL_cleanse(buf, len);
	free(buf);
}

/* ---------------------------------------------------------------------- */
/* Master keys */

const char *
kms_key_state_name(int state)
{
	switch (state) {
	case KMS_KEY_CURRENT:
		return "current";
	case KMS_KEY_ACTIVE:
		return "active";
	default:
		return "retired";
	}
}

/* hexval - the value of one hex digit, -1 if it is none */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* is_blank - space or tab */
static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* parse_dec - a decimal number of at most max; -1 unless all digits */
static int
parse_dec(const char *p, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20)
		return -1;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		if (v > (max - (uint64_t)(p[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return 0;
}

/* parse_line - one "version state created key" line into k */
static int
parse_line(const char *p, size_t len, size_t lineno, struct kms_mkey *k,
    char *err, size_t errlen)
{
	const char *f[5];
	size_t fl[5], nf = 0, i = 0, j;
	uint64_t v;
	int hi, lo;

	while (i < len) {
		while (i < len && is_blank(p[i]))
			i++;
		if (i == len)
			break;
		if (nf == 5) {
			snprintf(err, errlen, "line %zu: more than four "
			    "fields; want: version state created key",
			    lineno);
			return -1;
		}
		f[nf] = p + i;
		while (i < len && !is_blank(p[i]))
			i++;
		fl[nf] = (size_t)(p + i - f[nf]);
		nf++;
	}
	if (nf != 4) {
		snprintf(err, errlen, "line %zu: %zu field%s; want four: "
		    "version state created key", lineno, nf,
		    nf == 1 ? "" : "s");
		return -1;
	}
	if (parse_dec(f[0], fl[0], UINT32_MAX, &v) != 0 || v == 0) {
		snprintf(err, errlen, "line %zu: version must be a number "
		    "from 1 to 4294967295", lineno);
		return -1;
	}
	k->version = (uint32_t)v;
	if (fl[1] == 7 && memcmp(f[1], "current", 7) == 0)
		k->state = KMS_KEY_CURRENT;
	else if (fl[1] == 6 && memcmp(f[1], "active", 6) == 0)
		k->state = KMS_KEY_ACTIVE;
	else if (fl[1] == 7 && memcmp(f[1], "retired", 7) == 0)
		k->state = KMS_KEY_RETIRED;
	else {
		snprintf(err, errlen, "line %zu: state must be current, "
		    "active or retired", lineno);
		return -1;
	}
	if (parse_dec(f[2], fl[2], INT64_MAX, &v) != 0) {
		snprintf(err, errlen, "line %zu: created must be Unix seconds "
		    "(digits only)", lineno);
		return -1;
	}
	k->created = (int64_t)v;
	if (fl[3] != 2 * KMS_MASTER_LEN) {
		snprintf(err, errlen, "line %zu: the key must be %d hex digits "
		    "(%d bytes), not %zu characters", lineno,
		    2 * KMS_MASTER_LEN, KMS_MASTER_LEN, fl[3]);
		return -1;
	}
	for (j = 0; j < KMS_MASTER_LEN; j++) {
		hi = hexval(f[3][2 * j]);
		lo = hexval(f[3][2 * j + 1]);
		if (hi < 0 || lo < 0) {
			snprintf(err, errlen, "line %zu: the key has a "
			    "character that is not a hex digit", lineno);
			return -1;
		}
		k->key[j] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
kms_keys_parse(const char *buf, size_t len, struct kms_keys **out, char *err,
    size_t errlen)
{
	struct kms_keys *k = NULL;
	const char *p, *e, *end = buf + len;
	size_t lines = 1, lineno = 0, i, cur_line = 0, prev_line = 0, ll;
	int rc = -1, have_cur = 0;

	for (i = 0; i < len; i++) {
		if (buf[i] == '\n')
			lines++;
		if (buf[i] == '\0') {
			snprintf(err, errlen, "a NUL byte at offset %zu; the "
			    "file is not text", i);
			return -1;
		}
	}
	if ((k = calloc(1, sizeof(*k))) == NULL ||
	    (k->v = calloc(lines, sizeof(*k->v))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (p = buf; p < end; p = e + 1) {
		e = memchr(p, '\n', (size_t)(end - p));
		if (e == NULL)
			e = end;
		lineno++;
		ll = (size_t)(e - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		for (i = 0; i < ll && is_blank(p[i]); i++)
			;
		if (i == ll || p[i] == '#')
			continue;
		if (parse_line(p, ll, lineno, &k->v[k->n], err, errlen) != 0)
			goto done;
		if (k->n > 0 && k->v[k->n].version <= k->v[k->n - 1].version) {
			snprintf(err, errlen, "line %zu: version %u does not "
			    "increase (line %zu has version %u)", lineno,
			    k->v[k->n].version, prev_line,
			    k->v[k->n - 1].version);
			goto done;
		}
		if (k->v[k->n].state == KMS_KEY_CURRENT) {
			if (have_cur) {
				snprintf(err, errlen, "line %zu: a second "
				    "current key (line %zu is current); "
				    "exactly one may be", lineno, cur_line);
				goto done;
			}
			have_cur = 1;
			cur_line = lineno;
			k->current = k->n;
		}
		prev_line = lineno;
		k->n++;
	}
	if (k->n == 0) {
		snprintf(err, errlen, "no keys; create one with "
		    "'imgatectl kms key init'");
		goto done;
	}
	if (!have_cur) {
		snprintf(err, errlen, "no current key; exactly one line must "
		    "have the state current");
		goto done;
	}
	*out = k;
	k = NULL;
	rc = 0;
done:
	if (k != NULL && k->v != NULL)	/* also the line that failed */
		OPENSSL_cleanse(k->v, lines * sizeof(*k->v));
	kms_keys_free(k);
	return rc;
}

int
kms_keys_load(const char *path, struct kms_keys **out, char *err,
    size_t errlen)
{
	struct kms_keys *k = NULL;
	struct kms_stamp st;
	char *buf = NULL, msg[KMS_ERR_LEN];
	size_t len = 0;
	int rc;

	if (kms_file_read(path, KMS_KEYS_FILE_MAX, &buf, &len, &st, err,
	    errlen) != 0)
		return -1;
	rc = kms_keys_parse(buf, len, &k, msg, sizeof(msg));
	kms_file_free(buf, len + 1);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path, msg);
		return -1;
	}
	if (st.mode & 077)
		log_warnx("kms keys file=%s mode=%04o: the master keys are "
		    "accessible to group or others; chmod 600 it", path,
		    (unsigned)(st.mode & 07777));
	k->st = st;
	*out = k;
	return 0;
}

void
kms_keys_free(struct kms_keys *k)
{
	if (k == NULL)
		return;
	if (k->v != NULL) {
		OPENSSL_cleanse(k->v, k->n * sizeof(*k->v));
		free(k->v);
	}
	free(k);
}

const struct kms_mkey *
kms_keys_find(const struct kms_keys *k, uint32_t version)
{
	size_t lo = 0, hi, mid;

	if (k == NULL)
		return NULL;
	hi = k->n;
	/* versions increase (kms_keys_parse): binary search */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (k->v[mid].version == version)
			return &k->v[mid];
		if (k->v[mid].version < version)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
