/*
 * tools/ctl.h - imgatectl: command table, shared helpers, output emitter
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	imgatectl is one program with subcommands ("imgatectl mikey dump",
 *	"imgatectl demo", later kms, ticket, wrap, unwrap, queue).  Each
 *	command is a row of struct ctl_cmd: a name, a one-line summary, a
 *	usage printer and an entry point that gets argv with argv[0] set to
 *	the command's name.  To add a command, declare its two functions
 *	below and add a row to the table in tools/imgatectl.c.
 *
 *	Structured output goes through struct ctl_emit, which writes the same
 *	tree either as indented text (like "tshark -V") or as one JSON object,
 *	so a walker over a decoded structure is written once.
 *
 *	tools/ includes only the public headers of the libraries
 *	(tests/check-layering.sh checks this).
 */
#ifndef CTL_H
#define CTL_H

/* FALLTHROUGH - an intended fall into the next case (gcc and clang) */
#if defined(__GNUC__) && __GNUC__ >= 7 || defined(__clang__)
#define FALLTHROUGH	__attribute__((fallthrough))
#else
#define FALLTHROUGH	do { } while (0)
#endif

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __GNUC__
#define CTL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CTL_PRINTF(f, a)
#endif

/* Exit codes of every command. */
enum ctl_exit {
	CTL_EXIT_OK = 0,	/* the operation succeeded */
	CTL_EXIT_FAIL = 1,	/* the operation failed (bad input, I/O, ...) */
	CTL_EXIT_USAGE = 2	/* the command line was wrong */
};

/* One (sub)command. */
struct ctl_cmd {
	const char	*name;
	const char	*summary;	/* one line for the command list */
	void		(*usage)(FILE *fp);
	int		(*main)(int argc, char **argv);	/* argv[0] = name */
};

/* The commands (one pair per row of the table in imgatectl.c). */
void	ctl_mikey_usage(FILE *fp);
int	ctl_mikey_main(int argc, char **argv);
void	ctl_demo_usage(FILE *fp);
int	ctl_demo_main(int argc, char **argv);

/* ---- helpers (tools/imgatectl.c) ---- */

/* ctl_errx - "imgatectl: " + message + newline on stderr */
void	ctl_errx(const char *fmt, ...) CTL_PRINTF(1, 2);

/*
 * ctl_usage_error - report a command-line mistake of command cmd (e.g.
 *	"mikey dump") and point at its --help; returns CTL_EXIT_USAGE.
 */
int	ctl_usage_error(const char *cmd, const char *fmt, ...)
	    CTL_PRINTF(2, 3);

/* ctl_find_cmd - the row of tab (n rows) called name, or NULL */
const struct ctl_cmd *ctl_find_cmd(const struct ctl_cmd *tab, size_t n,
	    const char *name);

/* ctl_list_cmds - the "commands:" block of a usage text */
void	ctl_list_cmds(FILE *fp, const struct ctl_cmd *tab, size_t n);

/*
 * ctl_read_input - read all of path ("-" or NULL: standard input) into a
 *	malloc'd buffer of at most max bytes (plus a NUL the length does
 *	not count).  On failure prints what went wrong and returns -1;
 *	bigger input is refused, not truncated.  Caller frees *buf_out.
 */
int	ctl_read_input(const char *path, size_t max, uint8_t **buf_out,
	    size_t *len_out);

/*
 * ctl_fingerprint - the first 8 hex digits of SHA-256(p, n) into out
 *	(capacity >= 9).  For naming keys in output without showing them.
 */
void	ctl_fingerprint(const uint8_t *p, size_t n, char out[9]);

/* ---- the emitter (tools/imgatectl.c) ---- */

#define CTL_EMIT_MAXDEPTH	24

struct ctl_emit {
	FILE		*fp;
	int		 json;
	const char	*prefix;	/* text: written before every line */
	int		 depth;
	/* per level: is it an array (JSON), has it an element yet */
	unsigned char	 is_array[CTL_EMIT_MAXDEPTH];
	unsigned char	 has_elem[CTL_EMIT_MAXDEPTH];
};

/*
 * ctl_emit_init - write to fp as text (json 0; every line starts with
 *	prefix, may be NULL) or JSON (json 1).  The first call must be
 *	ctl_emit_open(e, NULL, ...) for the root object, the last its close.
 *
 * In every call, key names the value in JSON (ignored inside an array)
 * and label names it in text.
 */
void	ctl_emit_init(struct ctl_emit *e, FILE *fp, int json,
	    const char *prefix);
/* ctl_emit_open - an object: text prints the formatted label line (fmt
 *	may be NULL: no line) and indents its content */
void	ctl_emit_open(struct ctl_emit *e, const char *key, const char *fmt,
	    ...) CTL_PRINTF(3, 4);
void	ctl_emit_close(struct ctl_emit *e);
/* ctl_emit_array - an array (text: no line, no indent) */
void	ctl_emit_array(struct ctl_emit *e, const char *key);
void	ctl_emit_array_end(struct ctl_emit *e);
/* ctl_emit_payload - an object for a payload: text "LABEL: offset O,
 *	length L"; JSON {"type": T, "name": N, "offset": O, "length": L
 *	(no "type" if type < 0) */
void	ctl_emit_payload(struct ctl_emit *e, const char *key, int type,
	    const char *name, const char *label, size_t off, size_t len);

/* ctl_emit_uint - "Label: 12" / "key": 12 */
void	ctl_emit_uint(struct ctl_emit *e, const char *key, const char *label,
	    uint64_t v);
/* ctl_emit_enum - "Label: NAME (12)" / "key": 12, "key_name": "NAME"
 *	(two JSON members: use in objects, not arrays) */
void	ctl_emit_enum(struct ctl_emit *e, const char *key, const char *label,
	    uint64_t v, const char *name);
/* ctl_emit_hexnum - "Label: 0x0000002a" / "key": "0x0000002a" */
void	ctl_emit_hexnum(struct ctl_emit *e, const char *key,
	    const char *label, uint64_t v, int digits);
/* ctl_emit_bool - "Label: 1" / "key": true */
void	ctl_emit_bool(struct ctl_emit *e, const char *key, const char *label,
	    int v);
/* ctl_emit_flag - "L = 1: what" / "L": true */
void	ctl_emit_flag(struct ctl_emit *e, const char *letter, int v,
	    const char *what);
/* ctl_emit_hex - bytes as lower-case hex (text "(empty)" for none) */
void	ctl_emit_hex(struct ctl_emit *e, const char *key, const char *label,
	    const uint8_t *p, size_t n);
/* ctl_emit_str - bytes as a string: text quoted with \xNN for anything
 *	not printable ASCII; JSON escaped (invalid UTF-8 as \u00NN) */
void	ctl_emit_str(struct ctl_emit *e, const char *key, const char *label,
	    const uint8_t *p, size_t n);
/* ctl_emit_text - a formatted string value */
void	ctl_emit_text(struct ctl_emit *e, const char *key, const char *label,
	    const char *fmt, ...) CTL_PRINTF(4, 5);
/* ctl_emit_end - finish the output (JSON: final newline) */
void	ctl_emit_end(struct ctl_emit *e);

/* ---- MIKEY (tools/ctl_mikey.c) ---- */

/*
 * ctl_mikey_dump - decode buf (len bytes) and write every payload and
 *	field through e, recursing into TP Data, Ticket Data, Initiator
 *	Data, key data and SP parameters.  Never prints key bytes, only
 *	their ctl_fingerprint().  Returns 0 if everything decoded; else -1
 *	with what was decoded written, an "error" entry in the tree and the
 *	first error's text (mikey_diag_format, offsets in buf) in err.
 */
int	ctl_mikey_dump(struct ctl_emit *e, const uint8_t *buf, size_t len,
	    char *err, size_t errlen);

#endif /* CTL_H */
