/*
 * tools/ctl_queue.c - "imgatectl queue": list, show, flush, purge and
 *	count the deferred-delivery store
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	The postqueue/postsuper of imgate, on queue/queue.h only: the store
 *	is an SQLite file in WAL mode that the gateway keeps open, so these
 *	commands run beside it (readers do not block the gateway; a flush
 *	or purge waits for the gateway's write lock for at most the busy
 *	timeout).  The file is never created here (QUEUE_F_NOCREATE): a
 *	mistyped --db must not leave an empty store behind.
 *
 *	"flush" only sets next_attempt to 0; the gateway picks the messages
 *	up when it next asks the store for due recipients (its retry timer,
 *	or at once if it watches the file).  "purge" deletes without
 *	delivering and without a report to the sender: it is the
 *	administrator's decision.
 *
 * SECURITY
 *	The stored bytes are protected requests (the body is CMS ciphertext)
 *	but their SIP headers name who writes to whom.  "show" prints the
 *	header lines only, escaped so that a crafted header cannot drive
 *	the terminal; "--raw" writes the stored bytes verbatim and refuses a
 *	terminal as standard output.  No key is involved.
 */
#include "config.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue/queue.h"
#include "tools/ctl.h"

#define DEFAULT_DB	"/var/lib/imgate/queue.db"
/* show: header lines printed at most, and their bytes */
#define SHOW_MAX_LINES	100
#define SHOW_MAX_BYTES	16384

/* open_db - the store at db (never created); prints why not */
static struct queue *
open_db(const char *cmd, const char *db)
{
	struct queue_limits lim;
	struct queue *q = NULL;
	char err[600];
	int rc;

	memset(&lim, 0, sizeof(lim));
	lim.flags = QUEUE_F_NOCREATE;
	if ((rc = queue_open(db, &lim, &q, err, sizeof(err))) != QUEUE_OK) {
		ctl_errx("%s: %s%s", cmd, err, rc == QUEUE_ERR_NOTFOUND &&
		    strcmp(db, DEFAULT_DB) == 0 ? "; give the store with "
		    "--db FILE (the gateway's STATE_DIR/queue.db)" : "");
		return NULL;
	}
	return q;
}

/* fail - report a failed queue call and return CTL_EXIT_FAIL */
static int
fail(const char *cmd, struct queue *q, int rc)
{
	const char *d = queue_last_error(q);

	ctl_errx("%s: %s%s%s", cmd, queue_strerror(rc), *d ? ": " : "", d);
	if (rc == QUEUE_ERR_BUSY)
		ctl_errx("%s: the gateway holds the store's write lock; try "
		    "again", cmd);
	return CTL_EXIT_FAIL;
}

/* vis - s with anything but printable ASCII as \xNN into out */
static const char *
vis(const char *s, char *out, size_t cap)
{
	size_t o = 0;
	unsigned char c;

	for (; *s != '\0' && o + 5 < cap; s++) {
		c = (unsigned char)*s;
		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
	}
	out[o] = '\0';
	return out;
}

/* ntp_unix - Unix seconds of an NTP-UTC timestamp (RFC 4330 era window
 * 1968-2104, as in mikey/ and queue.h) */
static int64_t
ntp_unix(uint64_t t)
{
	uint64_t sec = t >> 32;

	if (sec & 0x80000000ULL)
		return (int64_t)sec - 2208988800LL;
	return (int64_t)sec + 4294967296LL - 2208988800LL;
}

/* when - a Unix time for people: ISO date, or "now" for 0 */
static const char *
when(int64_t t, char *out, size_t cap)
{
	if (t == 0)
		snprintf(out, cap, "now");
	else
		ctl_iso_date(t, out, cap);
	return out;
}

/* ---------------------------------------------------------------------- */
/* list */

struct list_state {
	struct ctl_emit	*e;	/* JSON, or NULL for the table */
	uint64_t	 n, bytes, quarantined;
};

/* list_cb - one row of the table or one JSON object */
static int
list_cb(void *arg, const struct queue_msg *m)
{
	struct list_state *ls = arg;
	char a[32], nx[32], r[4 * QUEUE_MAX_AOR + 8], s[4 * QUEUE_MAX_AOR + 8];
	char why[4 * QUEUE_MAX_REASON + 8];

	ls->n++;
	ls->bytes += m->len;
	if (m->state == QUEUE_QUARANTINED)
		ls->quarantined++;
	if (ls->e != NULL) {
		struct ctl_emit *e = ls->e;

		ctl_emit_open(e, NULL, NULL);
		ctl_emit_uint(e, "id", NULL, (uint64_t)m->id);
		ctl_emit_str(e, "rcpt", NULL, (const uint8_t *)m->rcpt,
		    strlen(m->rcpt));
		ctl_emit_str(e, "sender", NULL, (const uint8_t *)m->sender,
		    strlen(m->sender));
		ctl_emit_hexnum(e, "mikey_t", NULL, m->mikey_t, 16);
		ctl_emit_uint(e, "size", NULL, m->len);
		ctl_emit_uint(e, "arrived", NULL, (uint64_t)m->arrived);
		ctl_emit_uint(e, "next_attempt", NULL,
		    (uint64_t)m->next_attempt);
		ctl_emit_uint(e, "expires", NULL, (uint64_t)m->expires);
		ctl_emit_uint(e, "attempts", NULL, m->attempts);
		ctl_emit_text(e, "state", NULL, "%s", m->state ==
		    QUEUE_READY ? "ready" : "quarantined");
		if (m->state == QUEUE_QUARANTINED)
			ctl_emit_str(e, "reason", NULL,
			    (const uint8_t *)m->reason, strlen(m->reason));
		ctl_emit_close(e);
		return 0;
	}
	if (ls->n == 1)
		printf("%-10s %-11s %-20s %8s %4s %-20s %s\n", "ID", "STATE",
		    "ARRIVED", "SIZE", "TRY", "NEXT", "RECIPIENT <- SENDER");
	printf("%-10lld %-11s %-20s %8zu %4u %-20s %s <- %s\n",
	    (long long)m->id, m->state == QUEUE_READY ? "ready" :
	    "quarantined", when(m->arrived, a, sizeof(a)), m->len,
	    m->attempts, m->state == QUEUE_READY ? when(m->next_attempt, nx,
	    sizeof(nx)) : "-", vis(m->rcpt, r, sizeof(r)),
	    m->sender[0] ? vis(m->sender, s, sizeof(s)) : "(none)");
	if (m->state == QUEUE_QUARANTINED)
		printf("%-10s (%s)\n", "", vis(m->reason, why, sizeof(why)));
	return 0;
}

static void
list_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl queue list [--db FILE] [--rcpt AOR] [--all] "
	    "[--json]\n"
	    "\n"
	    "List the stored messages, per recipient in delivery order\n"
	    "(oldest MIKEY timestamp first): id, state, arrival, size,\n"
	    "attempts, next attempt, recipient and sender.  Message bytes\n"
	    "are not read.\n"
	    "\n"
	    "  --db FILE    the store (default " DEFAULT_DB ")\n"
	    "  --rcpt AOR   only this recipient\n"
	    "  --all        quarantined messages too (with the reason)\n"
	    "  --json       one JSON object instead of the table\n"
	    "  -h, --help   this help\n");
}

static int
list_main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "rcpt", required_argument, NULL, 'r' },
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char cmd[] = "queue list";
	const char *db = DEFAULT_DB, *rcpt = NULL;
	struct list_state ls;
	struct ctl_emit e;
	struct queue *q;
	int ch, all = 0, json = 0, rc;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			db = optarg;
			break;
		case 'r':
			rcpt = optarg;
			break;
		case 'a':
			all = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			list_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_kms_bad_option(cmd, ch, argv);
		}
	}
	if (ctl_kms_no_args(cmd, argc, argv) != 0)
		return CTL_EXIT_USAGE;
	if ((q = open_db(cmd, db)) == NULL)
		return CTL_EXIT_FAIL;
	memset(&ls, 0, sizeof(ls));
	if (json) {
		ctl_emit_init(&e, stdout, 1, NULL);
		ctl_emit_open(&e, NULL, NULL);
		ctl_emit_array(&e, "messages");
		ls.e = &e;
	}
	rc = queue_list(q, rcpt, all, list_cb, &ls);
	if (json) {
		ctl_emit_array_end(&e);
		ctl_emit_uint(&e, "count", NULL, ls.n);
		ctl_emit_uint(&e, "bytes", NULL, ls.bytes);
		ctl_emit_close(&e);
		ctl_emit_end(&e);
	} else if (rc == QUEUE_OK) {
		if (ls.n == 0)
			printf("queue is empty%s\n", rcpt != NULL ?
			    " for this recipient" : "");
		else
			printf("-- %llu message%s, %llu bytes%s\n",
			    (unsigned long long)ls.n, ls.n == 1 ? "" : "s",
			    (unsigned long long)ls.bytes, ls.quarantined ?
			    " (quarantined included)" : "");
	}
	if (rc != QUEUE_OK)
		rc = fail(cmd, q, rc);
	queue_close(q);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* show */

/* show_headers - the header block of the stored request (up to the first
 * empty line), escaped, bounded; never the body */
static void
show_headers(const uint8_t *p, size_t len)
{
	size_t i = 0, start, end, lines = 0;
	char c;

	while (i < len && i < SHOW_MAX_BYTES && lines < SHOW_MAX_LINES) {
		start = i;
		while (i < len && p[i] != '\n')
			i++;
		end = i;
		if (end > start && p[end - 1] == '\r')
			end--;
		if (i < len)
			i++;
		if (end == start)
			return;		/* the empty line: the body follows */
		fputs("    ", stdout);
		for (; start < end; start++) {
			c = (char)p[start];
			if (p[start] >= 0x20 && p[start] < 0x7f && c != '\\')
				putchar(c);
			else
				printf("\\x%02x", p[start]);
		}
		putchar('\n');
		lines++;
	}
	if (i < len)
		printf("    ... (header block cut at %d lines / %d bytes)\n",
		    SHOW_MAX_LINES, SHOW_MAX_BYTES);
}

static void
show_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl queue show [--db FILE] [--raw] ID\n"
	    "\n"
	    "Show one stored message: its routing data (recipient, sender,\n"
	    "MIKEY timestamp, arrival, attempts, expiry, state) and the\n"
	    "header lines of the stored SIP request - not its body.  The\n"
	    "checksum is verified; a damaged message is quarantined.\n"
	    "\n"
	    "  --db FILE    the store (default " DEFAULT_DB ")\n"
	    "  --raw        write the stored request bytes, verbatim, to\n"
	    "               standard output (not to a terminal)\n"
	    "  -h, --help   this help\n");
}

static int
show_main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "raw", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char cmd[] = "queue show";
	const char *db = DEFAULT_DB;
	char b[4 * QUEUE_MAX_AOR + 8], t[32];
	struct queue_msg m;
	struct queue *q;
	uint64_t id;
	int ch, raw = 0, rc;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			db = optarg;
			break;
		case 'R':
			raw = 1;
			break;
		case 'h':
			show_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_kms_bad_option(cmd, ch, argv);
		}
	}
	if (optind + 1 != argc)
		return ctl_usage_error(cmd, "give exactly one message ID");
	if (ctl_parse_uint(argv[optind], 1, INT64_MAX, &id) != 0)
		return ctl_usage_error(cmd, "'%s' is not a message ID (a "
		    "number from 'imgatectl queue list')", argv[optind]);
	if (raw && isatty(STDOUT_FILENO)) {
		ctl_errx("%s: --raw writes binary data; redirect standard "
		    "output to a file or a pipe", cmd);
		return CTL_EXIT_USAGE;
	}
	if ((q = open_db(cmd, db)) == NULL)
		return CTL_EXIT_FAIL;
	memset(&m, 0, sizeof(m));
	if ((rc = queue_get(q, (int64_t)id, &m)) != QUEUE_OK) {
		rc = fail(cmd, q, rc);
		queue_close(q);
		return rc;
	}
	rc = CTL_EXIT_OK;
	if (raw) {
		if (m.data != NULL && (fwrite(m.data, 1, m.len, stdout) !=
		    m.len || fflush(stdout) != 0)) {
			ctl_errx("%s: cannot write the message", cmd);
			rc = CTL_EXIT_FAIL;
		}
		if (m.state == QUEUE_QUARANTINED)
			ctl_errx("%s: warning: message %llu is quarantined: "
			    "%s", cmd, (unsigned long long)id,
			    vis(m.reason, b, sizeof(b)));
		goto out;
	}
	printf("id: %lld\n", (long long)m.id);
	printf("state: %s\n", m.state == QUEUE_READY ? "ready" :
	    "quarantined");
	if (m.state == QUEUE_QUARANTINED)
		printf("reason: %s\n", vis(m.reason, b, sizeof(b)));
	printf("recipient: %s\n", vis(m.rcpt, b, sizeof(b)));
	printf("sender: %s\n", m.sender[0] ? vis(m.sender, b, sizeof(b)) :
	    "(none)");
	printf("mikey-timestamp: 0x%016llx (%s)\n",
	    (unsigned long long)m.mikey_t, when(ntp_unix(m.mikey_t), t,
	    sizeof(t)));
	printf("arrived: %s\n", when(m.arrived, t, sizeof(t)));
	printf("attempts: %u\n", m.attempts);
	printf("next-attempt: %s\n", when(m.next_attempt, t, sizeof(t)));
	printf("expires: %s\n", when(m.expires, t, sizeof(t)));
	printf("size: %zu\n", m.len);
	if (m.data != NULL) {
		printf("headers:\n");
		show_headers(m.data, m.len);
	} else
		printf("headers: (the stored bytes cannot be read)\n");
out:
	queue_msg_cleanup(&m);
	queue_close(q);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* flush */

static void
flush_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl queue flush [--db FILE] [--rcpt AOR]\n"
	    "\n"
	    "Make the ready messages (of one recipient) due now: the gateway\n"
	    "retries them at its next scheduling pass instead of waiting\n"
	    "for their back-off.  Delivery order stays oldest first.\n"
	    "\n"
	    "  --db FILE    the store (default " DEFAULT_DB ")\n"
	    "  --rcpt AOR   only this recipient\n"
	    "  -h, --help   this help\n");
}

static int
flush_main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "rcpt", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char cmd[] = "queue flush";
	const char *db = DEFAULT_DB, *rcpt = NULL;
	struct queue *q;
	uint64_t n = 0;
	int ch, rc;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			db = optarg;
			break;
		case 'r':
			rcpt = optarg;
			break;
		case 'h':
			flush_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_kms_bad_option(cmd, ch, argv);
		}
	}
	if (ctl_kms_no_args(cmd, argc, argv) != 0)
		return CTL_EXIT_USAGE;
	if ((q = open_db(cmd, db)) == NULL)
		return CTL_EXIT_FAIL;
	if ((rc = queue_flush(q, rcpt, &n)) == QUEUE_OK) {
		printf("flushed %llu message%s\n", (unsigned long long)n,
		    n == 1 ? "" : "s");
		rc = CTL_EXIT_OK;
	} else
		rc = fail(cmd, q, rc);
	queue_close(q);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* purge */

static void
purge_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl queue purge [--db FILE] (ID | --all | "
	    "--quarantined)\n"
	    "\n"
	    "Delete stored messages without delivering them and without a\n"
	    "report to their senders.\n"
	    "\n"
	    "  ID             the message ID (from 'imgatectl queue list')\n"
	    "  --all          every message\n"
	    "  --quarantined  every quarantined message\n"
	    "  --db FILE      the store (default " DEFAULT_DB ")\n"
	    "  -h, --help     this help\n");
}

static int
purge_main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "all", no_argument, NULL, 'a' },
		{ "quarantined", no_argument, NULL, 'Q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char cmd[] = "queue purge";
	const char *db = DEFAULT_DB;
	enum queue_purge_what what = QUEUE_PURGE_ID;
	struct queue *q;
	uint64_t id = 0, n = 0;
	int ch, rc, modes = 0;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			db = optarg;
			break;
		case 'a':
			what = QUEUE_PURGE_ALL;
			modes++;
			break;
		case 'Q':
			what = QUEUE_PURGE_QUARANTINED;
			modes++;
			break;
		case 'h':
			purge_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_kms_bad_option(cmd, ch, argv);
		}
	}
	if (optind < argc) {
		if (optind + 1 != argc)
			return ctl_usage_error(cmd, "one message ID at most");
		if (ctl_parse_uint(argv[optind], 1, INT64_MAX, &id) != 0)
			return ctl_usage_error(cmd, "'%s' is not a message "
			    "ID", argv[optind]);
		modes++;
	}
	if (modes != 1)
		return ctl_usage_error(cmd, "give exactly one of ID, --all, "
		    "--quarantined");
	if ((q = open_db(cmd, db)) == NULL)
		return CTL_EXIT_FAIL;
	if ((rc = queue_purge(q, what, (int64_t)id, &n)) == QUEUE_OK) {
		printf("purged %llu message%s\n", (unsigned long long)n,
		    n == 1 ? "" : "s");
		rc = CTL_EXIT_OK;
	} else
		rc = fail(cmd, q, rc);
	queue_close(q);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* stats */

static void
stats_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl queue stats [--db FILE] [--check] [--json]\n"
	    "\n"
	    "Count the store: messages and bytes (quarantined included),\n"
	    "quarantined messages, recipients, replay-cache images, the\n"
	    "arrival of the longest-stored message, the schema version.\n"
	    "\n"
	    "  --db FILE    the store (default " DEFAULT_DB ")\n"
	    "  --check      also verify the database and its counters\n"
	    "               (exit 1 if damaged)\n"
	    "  --json       one JSON object\n"
	    "  -h, --help   this help\n");
}

static int
stats_main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "check", no_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static const char cmd[] = "queue stats";
	const char *db = DEFAULT_DB;
	struct queue_stats st;
	struct ctl_emit e;
	struct queue *q;
	char t[32];
	int ch, rc, check = 0, json = 0, crc = QUEUE_OK;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			db = optarg;
			break;
		case 'c':
			check = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			stats_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_kms_bad_option(cmd, ch, argv);
		}
	}
	if (ctl_kms_no_args(cmd, argc, argv) != 0)
		return CTL_EXIT_USAGE;
	if ((q = open_db(cmd, db)) == NULL)
		return CTL_EXIT_FAIL;
	if ((rc = queue_stats(q, &st)) != QUEUE_OK) {
		rc = fail(cmd, q, rc);
		queue_close(q);
		return rc;
	}
	if (check)
		crc = queue_check(q);
	ctl_emit_init(&e, stdout, json, NULL);
	ctl_emit_open(&e, NULL, "queue %s", db);
	ctl_emit_uint(&e, "messages", "messages", st.messages);
	ctl_emit_uint(&e, "bytes", "bytes", st.bytes);
	ctl_emit_uint(&e, "quarantined", "quarantined", st.quarantined);
	ctl_emit_uint(&e, "recipients", "recipients", st.recipients);
	ctl_emit_uint(&e, "replay_states", "replay-states", st.rstates);
	if (json)
		ctl_emit_uint(&e, "oldest_arrived", NULL,
		    (uint64_t)st.oldest_arrived);
	else
		ctl_emit_text(&e, NULL, "oldest-arrival", "%s",
		    st.messages == 0 ? "-" : when(st.oldest_arrived, t,
		    sizeof(t)));
	ctl_emit_uint(&e, "schema_version", "schema-version",
	    (uint64_t)st.schema_version);
	if (check)
		ctl_emit_text(&e, "check", "check", "%s", crc == QUEUE_OK ?
		    "ok" : queue_last_error(q));
	ctl_emit_close(&e);
	ctl_emit_end(&e);
	rc = CTL_EXIT_OK;
	if (crc != QUEUE_OK)
		rc = fail(cmd, q, crc);
	queue_close(q);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* The command */

static const struct ctl_cmd queue_cmds[] = {
	{ "list", "list stored messages in delivery order", list_usage,
	    list_main },
	{ "show", "one message: routing data and SIP header lines",
	    show_usage, show_main },
	{ "flush", "make messages due now (the gateway retries)",
	    flush_usage, flush_main },
	{ "purge", "delete messages without delivering them", purge_usage,
	    purge_main },
	{ "stats", "count messages, bytes, quarantine, recipients",
	    stats_usage, stats_main },
};

void
ctl_queue_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl queue SUBCOMMAND [--db FILE] [ARGS...]\n"
	    "\n"
	    "Inspect and manage the gateway's deferred-delivery store (the\n"
	    "protected requests held for offline recipients), like Postfix's\n"
	    "postqueue and postsuper.  Safe to run while the gateway runs.\n"
	    "\n");
	ctl_list_cmds(fp, queue_cmds, CTL_NELEM(queue_cmds));
	fprintf(fp,
	    "\n"
	    "  --db FILE  the store; default " DEFAULT_DB "\n"
	    "             (the gateway uses STATE_DIR/queue.db)\n"
	    "\n"
	    "Run 'imgatectl queue SUBCOMMAND --help' for its options.\n"
	    "Exit status: 0 success, 1 failed, 2 usage error.\n");
}

int
ctl_queue_main(int argc, char **argv)
{
	return ctl_kms_dispatch("queue", ctl_queue_usage, queue_cmds,
	    CTL_NELEM(queue_cmds), argc, argv);
}
