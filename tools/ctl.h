/*
 * tools/ctl.h - imgatectl: command table, shared helpers, output emitter
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	imgatectl is one program with subcommands ("imgatectl mikey dump",
 *	"imgatectl demo", "kms", "ticket"; later wrap, unwrap, queue).  Each
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
void	ctl_kms_usage(FILE *fp);
int	ctl_kms_main(int argc, char **argv);
/* "kms user" (tools/ctl_kms_user.c), "kms key" (tools/ctl_kms_key.c) */
void	ctl_kms_user_usage(FILE *fp);
int	ctl_kms_user_main(int argc, char **argv);
void	ctl_kms_key_usage(FILE *fp);
int	ctl_kms_key_main(int argc, char **argv);
void	ctl_ticket_usage(FILE *fp);
int	ctl_ticket_main(int argc, char **argv);
void	ctl_wrap_usage(FILE *fp);
int	ctl_wrap_main(int argc, char **argv);
void	ctl_unwrap_usage(FILE *fp);
int	ctl_unwrap_main(int argc, char **argv);
/* "queue" (tools/ctl_queue.c): the deferred-delivery store */
void	ctl_queue_usage(FILE *fp);
int	ctl_queue_main(int argc, char **argv);

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

/* ctl_hex - n bytes as lower-case hex into out (capacity >= 2 * n + 1) */
void	ctl_hex(const uint8_t *p, size_t n, char *out);

/*
 * ctl_unhex - exactly n hex digits of s (no whitespace, n even) into out
 *	(capacity cap); -1 if a character is not a hex digit, n is odd or
 *	the bytes do not fit.  *len_out gets n / 2.
 */
int	ctl_unhex(const char *s, size_t n, uint8_t *out, size_t cap,
	    size_t *len_out);

/*
 * ctl_parse_uint - s as a decimal number in [min, max] (digits only, no
 *	sign, no spaces); -1 if it is not one.
 */
int	ctl_parse_uint(const char *s, uint64_t min, uint64_t max,
	    uint64_t *out);

/* ctl_iso_date - Unix time t as "YYYY-MM-DDTHH:MM:SSZ" (capacity >= 32) */
void	ctl_iso_date(int64_t t, char *out, size_t cap);

/*
 * ctl_check_uri - 0 if s is usable as an identity URI: "scheme:rest"
 *	where rest is [user "@"] host, neither empty, one '@' at most;
 *	printable ASCII without spaces, '[', ']', ',' or ';'; at most 255
 *	bytes; '*' only if pattern is set.  Otherwise -1 and why (a static
 *	string).
 */
int	ctl_check_uri(const char *s, int pattern, const char **why);

/*
 * ctl_read_psk - a PSK file: hex digits (32 to 128 of them, 16 to 64
 *	bytes), whitespace ignored.  Prints what is wrong (prefixed with
 *	cmd) and returns -1; warns when the file is readable by others.
 *	psk has room for 64 bytes; the caller wipes it.
 */
int	ctl_read_psk(const char *cmd, const char *path, uint8_t *psk,
	    size_t *len_out);

/* Flags of ctl_write_file. */
#define CTL_WRITE_EXCL	0x01	/* refuse to replace an existing file */

/*
 * ctl_write_file - replace path atomically with len bytes of data: write
 *	a temporary file in the same directory with mode, fsync it, rename
 *	it over path (link + unlink with CTL_WRITE_EXCL, which fails if path
 *	exists), fsync the directory.  A reader sees the old or the new
 *	file, never a mix.  A replaced file keeps its owner and group
 *	(when we may set them; else a warning).  Prints what went wrong (prefixed with cmd) and
 *	returns -1; then path is untouched.
 */
int	ctl_write_file(const char *cmd, const char *path, const void *data,
	    size_t len, unsigned int mode, int flags);

/* ctl_no_core - switch core dumps off: this process holds keys */
void	ctl_no_core(const char *cmd);

/* CTL_NELEM - the number of elements of array a */
#define CTL_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- kms helpers (tools/ctl_kms_util.c) ---- */

/*
 * ctl_kms_slurp - all of path (at most max bytes) into a malloc'd
 *	NUL-terminated buffer (max + 2 bytes; free it with
 *	ctl_kms_wipe_free).  Returns 0, -1 after printing the error
 *	(prefixed with cmd), or 1 if the file does not exist and missing_ok.
 *	Warns if others may read it.
 */
int	ctl_kms_slurp(const char *cmd, const char *path, size_t max,
	    int missing_ok, char **buf_out, size_t *len_out);

/* ctl_kms_wipe_free - free a buffer of len bytes that held key material */
void	ctl_kms_wipe_free(char *p, size_t len);

/*
 * ctl_kms_next_line - the line at *pos (without its newline and a CR
 *	before it); NULL at the end.  Advances *pos.
 */
char	*ctl_kms_next_line(char *buf, size_t len, size_t *pos);

/* ctl_kms_is_blank - space or tab */
int	ctl_kms_is_blank(char c);

/* ctl_kms_bad_option - the usage error for what getopt_long returned */
int	ctl_kms_bad_option(const char *cmd, int ch, char **argv);

/* ctl_kms_no_args - refuse operands after the options */
int	ctl_kms_no_args(const char *cmd, int argc, char **argv);

/* ctl_kms_new_key - RAND_bytes, with an error that says what to do */
int	ctl_kms_new_key(const char *cmd, uint8_t *key, size_t len);

/* ctl_kms_dispatch - run the row of tab (n rows) named by argv[1] */
int	ctl_kms_dispatch(const char *cmd, void (*usage)(FILE *),
	    const struct ctl_cmd *tab, size_t n, int argc, char **argv);

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

/* ---- HTTP client (tools/ctl_http.c) ---- */

/* Largest response body accepted; bigger answers are refused. */
#define CTL_HTTP_MAX_BODY	(64 * 1024)

/* What ctl_http_post got back. */
struct ctl_http_resp {
	int		 status;	/* HTTP status code */
	char		 reason[64];	/* its reason phrase */
	char		 content_type[96];	/* "" if absent */
	char		 outcome[64];	/* X-Imgate-Outcome, "" if absent */
	uint8_t		*body;		/* malloc'd, NUL-terminated */
	size_t		 body_len;
};

/* ctl_http_resp_cleanup - free the body; r may be reused after */
void	ctl_http_resp_cleanup(struct ctl_http_resp *r);

/*
 * ctl_http_post - one blocking POST of body (content type ctype) to url
 *	(http:// or https://; for https the server certificate is verified
 *	against ca_file, NULL: the system's CAs, and its name against the
 *	URL's host).  timeout (seconds) bounds connecting, each read and
 *	write, and the whole exchange.  An URL without a path gets
 *	default_path.  Returns 0 when an HTTP response came back, whatever
 *	its status; -1 after printing (prefixed with cmd) why none did:
 *	bad URL, name not resolved, connection refused, timeout, TLS
 *	failure, answer larger than CTL_HTTP_MAX_BODY.  Caller cleans r up
 *	on success.
 */
int	ctl_http_post(const char *cmd, const char *url,
	    const char *default_path, const char *ctype, const uint8_t *body,
	    size_t len, int timeout, const char *ca_file,
	    struct ctl_http_resp *r);

#endif /* CTL_H */
