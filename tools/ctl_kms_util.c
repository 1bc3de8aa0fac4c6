/*
 * tools/ctl_kms_util.c - "imgatectl kms": command tree and shared helpers
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
 *	The users file is handled in tools/ctl_kms_user.c, the master key
 *	file in tools/ctl_kms_key.c; this file holds the "kms" command tree
 *	and what both share (reading a file, lines, options, random keys).
 *
 *	Every command reads and checks the whole file first, with the same
 *	rules FORMATS.md states, and names the line of the first problem:
 *	a file this tool accepts is one the KMS accepts.
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
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "tools/ctl.h"

/* ---------------------------------------------------------------------- */
/* Reading a whole file */

int
ctl_kms_slurp(const char *cmd, const char *path, size_t max, int missing_ok,
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

void
ctl_kms_wipe_free(char *p, size_t len)
{
	if (p != NULL)
		OPENSSL_clear_free(p, len);
}

char *
ctl_kms_next_line(char *buf, size_t len, size_t *pos)
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

int
ctl_kms_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* ---------------------------------------------------------------------- */
/* Option parsing shared by every subcommand */

int
ctl_kms_bad_option(const char *cmd, int ch, char **argv)
{
	if (ch == ':')
		return ctl_usage_error(cmd, "option '%s' needs a value",
		    argv[optind - 1]);
	return ctl_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

int
ctl_kms_no_args(const char *cmd, int argc, char **argv)
{
	if (optind < argc)
		return ctl_usage_error(cmd, "unexpected argument '%s'",
		    argv[optind]);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Random keys */

int
ctl_kms_new_key(const char *cmd, uint8_t *key, size_t len)
{
	if (RAND_bytes(key, (int)len) != 1) {
		ctl_errx("%s: the random number generator failed; check the "
		    "OpenSSL installation", cmd);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The command tree */

int
ctl_kms_dispatch(const char *cmd, void (*usage)(FILE *),
    const struct ctl_cmd *tab, size_t n, int argc, char **argv)
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

static const struct ctl_cmd kms_cmds[] = {
	{ "user", "add, remove and list users (kms-users.conf)",
	    ctl_kms_user_usage, ctl_kms_user_main },
	{ "key", "create, rotate, retire, list master keys "
	    "(kms-master.keys)", ctl_kms_key_usage, ctl_kms_key_main },
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
	ctl_list_cmds(fp, kms_cmds, CTL_NELEM(kms_cmds));
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
	return ctl_kms_dispatch("kms", ctl_kms_usage, kms_cmds,
	    CTL_NELEM(kms_cmds), argc, argv);
}
