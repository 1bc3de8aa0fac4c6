/*
 * tools/imgatectl.c - imgate admin and debug tool: entry point and helpers
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	main() handles the global options and hands the rest of the command
 *	line to one row of cmds[] (see tools/ctl.h).  Every command returns
 *	an enum ctl_exit code: 0 success, 1 the operation failed, 2 the
 *	command line was wrong.  Messages on stderr say what is wrong and
 *	what to do about it.
 *
 *	This file also holds what several commands share: error reporting,
 *	bounded input reading, key fingerprints, hex and number parsing,
 *	PSK files, atomic file replacement and the text/JSON emitter.
 *
 * SECURITY
 *	imgatectl reads untrusted files (captured MIKEY messages) and
 *	network answers (ticket), and holds keys (demo, kms, ticket): PSKs,
 *	master keys, ticket keys.  Input sizes are bounded before anything
 *	is parsed; key bytes are never printed unless asked for (--show-
 *	keys), only a SHA-256 fingerprint; the commands that hold keys
 *	switch core dumps off and wipe what held them; files with keys are
 *	written with mode 0600, atomically (ctl_write_file).
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "tools/ctl.h"

static int	help_main(int, char **);
static void	help_usage(FILE *);

/*
 * The commands.  New ones (wrap, unwrap, queue) add a row
 * here and declare their usage/main pair in tools/ctl.h.
 */
static const struct ctl_cmd cmds[] = {
	{ "mikey", "decode and inspect MIKEY / MIKEY-TICKET messages",
	    ctl_mikey_usage, ctl_mikey_main },
	{ "demo", "run one MIKEY-TICKET exchange in process and show it",
	    ctl_demo_usage, ctl_demo_main },
	{ "kms", "administer imgate-kms files: users and master keys",
	    ctl_kms_usage, ctl_kms_main },
	{ "ticket", "request, transfer and resolve tickets with imgate-kms",
	    ctl_ticket_usage, ctl_ticket_main },
	{ "wrap", "protect a SIP MESSAGE body (libimgate, a real KMS)",
	    ctl_wrap_usage, ctl_wrap_main },
	{ "unwrap", "open a protected body: verified sender and plaintext",
	    ctl_unwrap_usage, ctl_unwrap_main },
	{ "queue", "list, show, flush, purge the deferred-delivery store",
	    ctl_queue_usage, ctl_queue_main },
	{ "help", "show the help of a command", help_usage, help_main },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

/* usage - the global help text */
static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl [-h | --help] [--version] COMMAND [ARGS...]\n"
	    "\n"
	    "Administration and debugging tool of imgate, the S/MIME gateway\n"
	    "keyed by MIKEY-TICKET (RFC 6043).\n"
	    "\n");
	ctl_list_cmds(fp, cmds, NCMDS);
	fprintf(fp,
	    "\n"
	    "Run 'imgatectl COMMAND --help' for the options of a command.\n"
	    "Exit status: 0 success, 1 the operation failed, 2 usage error.\n");
}

/* help_usage - the help of "help" */
static void
help_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl help [COMMAND]\n"
	    "\n"
	    "Show the help of COMMAND, or the list of commands.\n");
}

/* help_main - "imgatectl help [COMMAND]" */
static int
help_main(int argc, char **argv)
{
	const struct ctl_cmd *c;

	if (argc < 2) {
		usage(stdout);
		return CTL_EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		help_usage(stdout);
		return CTL_EXIT_OK;
	}
	if (argc > 2)
		return ctl_usage_error("help", "too many arguments");
	if ((c = ctl_find_cmd(cmds, NCMDS, argv[1])) == NULL)
		return ctl_usage_error("help", "unknown command '%s'",
		    argv[1]);
	c->usage(stdout);
	return CTL_EXIT_OK;
}

int
main(int argc, char **argv)
{
	const struct ctl_cmd *c;
	const char *a;

	if (argc < 2) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	a = argv[1];
	if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
		usage(stdout);
		return CTL_EXIT_OK;
	}
	if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
		printf("imgatectl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return CTL_EXIT_OK;
	}
	if (a[0] == '-') {
		ctl_errx("unknown option '%s'; options go after the command "
		    "name, see 'imgatectl --help'", a);
		return CTL_EXIT_USAGE;
	}
	if ((c = ctl_find_cmd(cmds, NCMDS, a)) == NULL) {
		ctl_errx("unknown command '%s'; see 'imgatectl --help' for "
		    "the list of commands", a);
		return CTL_EXIT_USAGE;
	}
	return c->main(argc - 1, argv + 1);
}

/* ---------------------------------------------------------------------- */
/* Helpers */

void
ctl_errx(const char *fmt, ...)
{
	va_list ap;

	fputs("imgatectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
ctl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "imgatectl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "; see 'imgatectl %s --help'\n", cmd);
	return CTL_EXIT_USAGE;
}

const struct ctl_cmd *
ctl_find_cmd(const struct ctl_cmd *tab, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(tab[i].name, name) == 0)
			return &tab[i];
	return NULL;
}

void
ctl_list_cmds(FILE *fp, const struct ctl_cmd *tab, size_t n)
{
	size_t i;

	fprintf(fp, "commands:\n");
	for (i = 0; i < n; i++)
		fprintf(fp, "  %-10s %s\n", tab[i].name, tab[i].summary);
}

int
ctl_read_input(const char *path, size_t max, uint8_t **buf_out,
    size_t *len_out)
{
	const char *name;
	uint8_t *buf = NULL;
	FILE *fp = NULL;
	size_t len = 0, n;
	int rc = -1;

	if (path == NULL || strcmp(path, "-") == 0) {
		fp = stdin;
		name = "standard input";
	} else {
		name = path;
		if ((fp = fopen(path, "rb")) == NULL) {
			ctl_errx("cannot open %s: %s; check the path and its "
			    "permissions", path, strerror(errno));
			goto out;
		}
	}
	if ((buf = malloc(max + 2)) == NULL) {
		ctl_errx("out of memory reading %s", name);
		goto out;
	}
	/* read one byte more than allowed to tell "exactly max" from more */
	while (len < max + 1) {
		n = fread(buf + len, 1, max + 1 - len, fp);
		if (n == 0)
			break;
		len += n;
	}
	if (ferror(fp)) {
		ctl_errx("cannot read %s: %s", name, strerror(errno));
		goto out;
	}
	if (len > max) {
		ctl_errx("%s: input larger than %zu bytes, refused; this is "
		    "not a single message (split it, or check the file)",
		    name, max);
		goto out;
	}
	buf[len] = '\0';
	*buf_out = buf;
	*len_out = len;
	buf = NULL;
	rc = 0;
out:
	if (fp != NULL && fp != stdin)
		fclose(fp);
	free(buf);
	return rc;
}

void
ctl_fingerprint(const uint8_t *p, size_t n, char out[9])
{
	static const char hx[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int i;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen < 4) {
		snprintf(out, 9, "????????");
		return;
	}
	for (i = 0; i < 4; i++) {
		out[2 * i] = hx[md[i] >> 4];
		out[2 * i + 1] = hx[md[i] & 15];
	}
	out[8] = '\0';
}

void
ctl_hex(const uint8_t *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* nibble - value of a hex digit, -1 if c is not one */
static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
ctl_unhex(const char *s, size_t n, uint8_t *out, size_t cap,
    size_t *len_out)
{
	size_t i;
	int hi, lo;

	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (i = 0; i < n; i += 2) {
		if ((hi = nibble(s[i])) < 0 || (lo = nibble(s[i + 1])) < 0)
			return -1;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*len_out = n / 2;
	return 0;
}

int
ctl_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;
	size_t i;

	if (s == NULL || s[0] == '\0' || strlen(s) > 20)
		return -1;
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

void
ctl_iso_date(int64_t t, char *out, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL) {
		snprintf(out, cap, "(out of range)");
		return;
	}
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

int
ctl_check_uri(const char *s, int pattern, const char **why)
{
	size_t i, n = strlen(s);

	*why = NULL;
	if (n == 0)
		*why = "it is empty";
	else if (n > 255)
		*why = "it is longer than 255 bytes";
	else if (!((s[0] >= 'a' && s[0] <= 'z') ||
	    (s[0] >= 'A' && s[0] <= 'Z')))
		*why = "a URI starts with its scheme, e.g. sip:";
	for (i = 0; *why == NULL && i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ':')
			break;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '-' ||
		    c == '.'))
			*why = "a URI starts with its scheme and a colon, e.g. "
			    "sip:";
	}
	if (*why == NULL && (i == n || i + 1 == n))
		*why = "a URI is scheme:rest, e.g. sip:alice@example.com";
	if (*why == NULL) {
		const char *at = strchr(s + i + 1, '@');

		/* as imgate-kms splits it: scheme ":" [user "@"] host */
		if (at != NULL && strchr(at + 1, '@') != NULL)
			*why = "it has more than one '@'";
		else if (at != NULL && (at == s + i + 1 || at[1] == '\0'))
			*why = "the user part or the host is empty";
	}
	for (i = 0; *why == NULL && i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f)
			*why = "it contains a space, a control character or "
			    "non-ASCII";
		else if (c == '[' || c == ']' || c == ',' || c == ';')
			*why = "it contains one of [ ] , ; which separate "
			    "identities in files and options";
		else if (c == '*' && !pattern)
			*why = "'*' is allowed in patterns only";
	}
	return *why == NULL ? 0 : -1;
}

int
ctl_read_psk(const char *cmd, const char *path, uint8_t *psk,
    size_t *len_out)
{
	char buf[1024], dig[130];
	struct stat st;
	size_t i, nd = 0, len;
	ssize_t n;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY)) == -1) {
		ctl_errx("%s: cannot open the PSK file %s: %s; check the path "
		    "(a PSK file is written by 'imgatectl kms user add "
		    "--generate --psk-out FILE')", cmd, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		ctl_errx("%s: the PSK file %s is not a regular file", cmd,
		    path);
		goto out;
	}
	if ((st.st_mode & 077) != 0)
		ctl_errx("%s: warning: the PSK file %s can be read by others "
		    "(mode %04o); run 'chmod 600 %s'", cmd, path,
		    (unsigned)(st.st_mode & 07777), path);
	len = 0;
	while (len < sizeof(buf) &&
	    (n = read(fd, buf + len, sizeof(buf) - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			ctl_errx("%s: cannot read the PSK file %s: %s", cmd,
			    path, strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	for (i = 0; i < len; i++) {
		char c = buf[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (nibble(c) < 0) {
			ctl_errx("%s: the PSK file %s: byte %zu is not a hex "
			    "digit; the file must hold the PSK as 32 to 128 "
			    "hex digits (16 to 64 bytes)", cmd, path, i + 1);
			goto out;
		}
		if (nd == sizeof(dig))
			break;
		dig[nd++] = c;
	}
	if (nd < 32 || nd > 128 || nd % 2 != 0) {
		ctl_errx("%s: the PSK file %s holds %s%zu hex digits; a PSK is "
		    "16 to 64 bytes, written as 32 to 128 hex digits", cmd,
		    path, nd == sizeof(dig) ? "more than " : "", nd);
		goto out;
	}
	if (ctl_unhex(dig, nd, psk, 64, len_out) != 0) {
		ctl_errx("%s: the PSK file %s is not valid hex", cmd, path);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(dig, sizeof(dig));
	close(fd);
	return rc;
}

int
ctl_write_file(const char *cmd, const char *path, const void *data,
    size_t len, unsigned int mode, int flags)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	const uint8_t *p = data;
	const char *slash, *base;
	struct stat st;
	size_t off = 0;
	ssize_t n;
	int fd = -1, dfd, made = 0, rc = -1;

	if ((slash = strrchr(path, '/')) == NULL) {
		snprintf(dir, sizeof(dir), ".");
		base = path;
	} else if (slash == path) {
		snprintf(dir, sizeof(dir), "/");
		base = path + 1;
	} else {
		if ((size_t)(slash - path) >= sizeof(dir)) {
			ctl_errx("%s: path too long: %s", cmd, path);
			return -1;
		}
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		base = slash + 1;
	}
	if (*base == '\0') {
		ctl_errx("%s: %s names a directory; give a file name", cmd,
		    path);
		return -1;
	}
	n = snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		ctl_errx("%s: path too long: %s", cmd, path);
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1) {
		ctl_errx("%s: cannot create a temporary file in %s: %s; check "
		    "that the directory exists and is writable", cmd, dir,
		    strerror(errno));
		return -1;
	}
	made = 1;
	if (fchmod(fd, (mode_t)mode) == -1) {
		ctl_errx("%s: cannot set the mode of %s: %s", cmd, tmp,
		    strerror(errno));
		goto out;
	}
	/* keep the owner: root editing the files of a daemon that runs as
	 * its own user must not leave it a mode 0600 file it cannot read */
	if (stat(path, &st) == 0 && (st.st_uid != geteuid() ||
	    st.st_gid != getegid()) && fchown(fd, st.st_uid, st.st_gid) == -1)
		ctl_errx("%s: warning: %s now belongs to uid %u gid %u, not to "
		    "uid %u gid %u as before (%s); give it back with chown",
		    cmd, path, (unsigned)geteuid(), (unsigned)getegid(),
		    (unsigned)st.st_uid, (unsigned)st.st_gid, strerror(errno));
	while (off < len) {
		if ((n = write(fd, p + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			ctl_errx("%s: cannot write %s: %s", cmd, tmp,
			    strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	/* the data must be on disk before the name points at it */
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		ctl_errx("%s: cannot write %s: %s", cmd, tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (flags & CTL_WRITE_EXCL) {
		/* link(2) fails if path exists: no window to lose a file */
		if (link(tmp, path) == -1) {
			if (errno == EEXIST)
				ctl_errx("%s: %s already exists; refusing to "
				    "replace it", cmd, path);
			else
				ctl_errx("%s: cannot create %s: %s", cmd,
				    path, strerror(errno));
			goto out;
		}
		unlink(tmp);
	} else if (rename(tmp, path) == -1) {
		ctl_errx("%s: cannot replace %s: %s", cmd, path,
		    strerror(errno));
		goto out;
	}
	made = 0;
	/* and the new name must be on disk before we say it is done */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (made)
		unlink(tmp);
	return rc;
}

void
ctl_no_core(const char *cmd)
{
	const struct rlimit nocore = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &nocore) == -1)
		ctl_errx("%s: warning: cannot disable core dumps: %s", cmd,
		    strerror(errno));
}

/* ---------------------------------------------------------------------- */
/* The emitter */

/* indent - start a text line at the current depth */
static void
indent(struct ctl_emit *e)
{
	int i;

	if (e->prefix != NULL)
		fputs(e->prefix, e->fp);
	for (i = 0; i < e->depth; i++)
		fputs("    ", e->fp);
}

/* json_str - p as a JSON string: RFC 8259 escapes, UTF-8 kept when valid,
 * any other byte written as the code point of the same value */
static void
json_str(FILE *fp, const uint8_t *p, size_t n)
{
	size_t i = 0, k, need;
	uint8_t c;

	fputc('"', fp);
	while (i < n) {
		c = p[i];
		if (c < 0x80) {
			if (c == '"' || c == '\\')
				fprintf(fp, "\\%c", c);
			else if (c == '\n')
				fputs("\\n", fp);
			else if (c == '\t')
				fputs("\\t", fp);
			else if (c < 0x20 || c == 0x7f)
				fprintf(fp, "\\u%04x", c);
			else
				fputc(c, fp);
			i++;
			continue;
		}
		/* a well-formed UTF-8 sequence (no overlong, no surrogate) */
		need = 0;
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3;
		if (need > 0 && n - i > need) {
			uint8_t c1 = p[i + 1];
			int good = 1;

			if ((c == 0xe0 && c1 < 0xa0) ||
			    (c == 0xed && c1 > 0x9f) ||
			    (c == 0xf0 && c1 < 0x90) ||
			    (c == 0xf4 && c1 > 0x8f))
				good = 0;
			for (k = 1; k <= need && good; k++)
				if ((p[i + k] & 0xc0) != 0x80)
					good = 0;
			if (good) {
				fwrite(p + i, 1, need + 1, fp);
				i += need + 1;
				continue;
			}
		}
		fprintf(fp, "\\u%04x", c);
		i++;
	}
	fputc('"', fp);
}

/* json_elem - the separator, newline and indent, then "key": */
static void
json_elem(struct ctl_emit *e, const char *key)
{
	int i;

	if (e->depth > 0) {
		if (e->has_elem[e->depth])
			fputc(',', e->fp);
		fputc('\n', e->fp);
		for (i = 0; i < e->depth; i++)
			fputs("  ", e->fp);
		e->has_elem[e->depth] = 1;
		if (key != NULL && !e->is_array[e->depth])
			fprintf(e->fp, "\"%s\": ", key);
	}
}

/* push - enter a new level (our walkers are shallow: overflow is a bug) */
static void
push(struct ctl_emit *e, int array)
{
	if (e->depth + 1 >= CTL_EMIT_MAXDEPTH) {
		fprintf(stderr, "imgatectl: internal error: output nested "
		    "deeper than %d levels\n", CTL_EMIT_MAXDEPTH);
		abort();
	}
	e->depth++;
	e->is_array[e->depth] = (unsigned char)array;
	e->has_elem[e->depth] = 0;
}

/* pop - leave a level; JSON closes it with ch */
static void
pop(struct ctl_emit *e, int ch)
{
	int i, had = e->has_elem[e->depth];

	if (e->depth == 0)
		return;
	e->depth--;
	if (!e->json)
		return;
	if (had) {
		fputc('\n', e->fp);
		for (i = 0; i < e->depth; i++)
			fputs("  ", e->fp);
	}
	fputc(ch, e->fp);
}

void
ctl_emit_init(struct ctl_emit *e, FILE *fp, int json, const char *prefix)
{
	memset(e, 0, sizeof(*e));
	e->fp = fp;
	e->json = json;
	e->prefix = prefix;
}

void
ctl_emit_open(struct ctl_emit *e, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (e->json) {
		json_elem(e, key);
		fputc('{', e->fp);
	} else if (fmt != NULL) {
		indent(e);
		va_start(ap, fmt);
		vfprintf(e->fp, fmt, ap);
		va_end(ap);
		fputc('\n', e->fp);
	}
	push(e, 0);
}

void
ctl_emit_close(struct ctl_emit *e)
{
	pop(e, '}');
}

void
ctl_emit_array(struct ctl_emit *e, const char *key)
{
	if (e->json) {
		json_elem(e, key);
		fputc('[', e->fp);
		push(e, 1);
	}
}

void
ctl_emit_array_end(struct ctl_emit *e)
{
	if (e->json)
		pop(e, ']');
}

void
ctl_emit_payload(struct ctl_emit *e, const char *key, int type,
    const char *name, const char *label, size_t off, size_t len)
{
	if (!e->json) {
		ctl_emit_open(e, key, "%s: offset %zu, length %zu", label,
		    off, len);
		return;
	}
	ctl_emit_open(e, key, NULL);
	if (type >= 0)
		ctl_emit_uint(e, "type", NULL, (uint64_t)type);
	ctl_emit_str(e, "name", NULL, (const uint8_t *)name, strlen(name));
	ctl_emit_uint(e, "offset", NULL, off);
	ctl_emit_uint(e, "length", NULL, len);
}

void
ctl_emit_uint(struct ctl_emit *e, const char *key, const char *label,
    uint64_t v)
{
	if (e->json) {
		json_elem(e, key);
		fprintf(e->fp, "%llu", (unsigned long long)v);
		return;
	}
	indent(e);
	fprintf(e->fp, "%s: %llu\n", label, (unsigned long long)v);
}

void
ctl_emit_enum(struct ctl_emit *e, const char *key, const char *label,
    uint64_t v, const char *name)
{
	char k[64];

	if (e->json) {
		ctl_emit_uint(e, key, label, v);
		snprintf(k, sizeof(k), "%s_name", key != NULL ? key : "value");
		ctl_emit_str(e, k, NULL, (const uint8_t *)name, strlen(name));
		return;
	}
	indent(e);
	fprintf(e->fp, "%s: %s (%llu)\n", label, name, (unsigned long long)v);
}

void
ctl_emit_hexnum(struct ctl_emit *e, const char *key, const char *label,
    uint64_t v, int digits)
{
	if (e->json) {
		json_elem(e, key);
		fprintf(e->fp, "\"0x%0*llx\"", digits, (unsigned long long)v);
		return;
	}
	indent(e);
	fprintf(e->fp, "%s: 0x%0*llx\n", label, digits, (unsigned long long)v);
}

void
ctl_emit_bool(struct ctl_emit *e, const char *key, const char *label,
    int v)
{
	if (e->json) {
		json_elem(e, key);
		fputs(v ? "true" : "false", e->fp);
		return;
	}
	indent(e);
	fprintf(e->fp, "%s: %d\n", label, v ? 1 : 0);
}

void
ctl_emit_flag(struct ctl_emit *e, const char *letter, int v,
    const char *what)
{
	if (e->json) {
		ctl_emit_bool(e, letter, NULL, v);
		return;
	}
	indent(e);
	fprintf(e->fp, "%s = %d: %s\n", letter, v ? 1 : 0, what);
}

void
ctl_emit_hex(struct ctl_emit *e, const char *key, const char *label,
    const uint8_t *p, size_t n)
{
	size_t i;

	if (e->json) {
		json_elem(e, key);
		fputc('"', e->fp);
	} else {
		indent(e);
		fprintf(e->fp, "%s: ", label);
		if (n == 0)
			fputs("(empty)", e->fp);
	}
	for (i = 0; i < n; i++)
		fprintf(e->fp, "%02x", p[i]);
	fputc(e->json ? '"' : '\n', e->fp);
}

void
ctl_emit_str(struct ctl_emit *e, const char *key, const char *label,
    const uint8_t *p, size_t n)
{
	size_t i;

	if (e->json) {
		json_elem(e, key);
		json_str(e->fp, p, n);
		return;
	}
	indent(e);
	fprintf(e->fp, "%s: \"", label);
	/* escape everything that is not printable ASCII: the input is
	 * untrusted and must not reach a terminal as control sequences */
	for (i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\')
			fprintf(e->fp, "\\%c", p[i]);
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			fputc(p[i], e->fp);
		else
			fprintf(e->fp, "\\x%02x", p[i]);
	}
	fputs("\"\n", e->fp);
}

void
ctl_emit_text(struct ctl_emit *e, const char *key, const char *label,
    const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (e->json) {
		json_elem(e, key);
		json_str(e->fp, (const uint8_t *)buf, strlen(buf));
		return;
	}
	indent(e);
	fprintf(e->fp, "%s: %s\n", label, buf);
}

void
ctl_emit_end(struct ctl_emit *e)
{
	if (e->json)
		fputc('\n', e->fp);
	fflush(e->fp);
}
