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
 *	bounded input reading, key fingerprints and the text/JSON emitter.
 *
 * SECURITY
 *	imgatectl reads untrusted files (captured MIKEY messages) and may
 *	hold keys (demo).  Input sizes are bounded before anything is
 *	parsed; key bytes are never printed, only a SHA-256 fingerprint.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tools/ctl.h"

static int	help_main(int, char **);
static void	help_usage(FILE *);

/*
 * The commands.  New ones (kms, ticket, wrap, unwrap, queue) add a row
 * here and declare their usage/main pair in tools/ctl.h.
 */
static const struct ctl_cmd cmds[] = {
	{ "mikey", "decode and inspect MIKEY / MIKEY-TICKET messages",
	    ctl_mikey_usage, ctl_mikey_main },
	{ "demo", "run one MIKEY-TICKET exchange in process and show it",
	    ctl_demo_usage, ctl_demo_main },
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
