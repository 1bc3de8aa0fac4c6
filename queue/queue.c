/*
 * queue/queue.c - the deferred-delivery store on SQLite (see queue.h)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	Schema version 1:
 *
 *	msg	one row per message: routing metadata, state, the size and
 *		checksum of the bytes.  Small rows, so that listing, the
 *		head probes and expiry never read message bytes.
 *	body	the request bytes (id = msg.id), the only large rows.
 *	rcpt	per recipient: messages and bytes stored (quotas, and the
 *		list of recipients for queue_due_rcpts()).
 *	totals	one row: messages and bytes stored (global quotas).
 *	rstate	replay-cache images by name, with size and checksum.
 *
 *	rcpt, totals and body are kept in step with msg by triggers, so
 *	every writer (the gateway, imgatectl, an administrator's sqlite3
 *	DELETE) keeps them right; queue_check() verifies it.
 *
 *	Indexes: msg_order (rcpt, state, mikey_t) gives the head of a
 *	recipient (rowid breaks ties) and the listing order; msg_expiry
 *	(state, expires) finds expired messages.  Each costs a B-tree
 *	insert per message; nothing else is indexed.
 *
 *	Every write is one BEGIN IMMEDIATE ... COMMIT (IMMEDIATE takes the
 *	write lock up front, so a transaction never fails half way for a
 *	lock held by imgatectl: it waits busy_ms instead).  A statement is
 *	reset as soon as it is done, so that no read transaction stays open
 *	and blocks WAL checkpoints.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "queue/queue.h"

/* messages looked at per chunk of queue_expire (bounded memory) */
#define EXPIRE_CHUNK	128

static const char *const schema_sql =
	"CREATE TABLE msg ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"	/* never reused: the
		 * gateway puts it in the Via branch of a delivery */
	" rcpt TEXT NOT NULL,"
	" sender TEXT NOT NULL,"
	" mikey_t INTEGER NOT NULL,"	/* NTP bits read as signed */
	" arrived INTEGER NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" next_attempt INTEGER NOT NULL,"
	" expires INTEGER NOT NULL,"
	" size INTEGER NOT NULL,"
	" sum INTEGER NOT NULL,"
	" state INTEGER NOT NULL DEFAULT 0,"
	" reason TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX msg_order ON msg (rcpt, state, mikey_t);"
	"CREATE INDEX msg_expiry ON msg (state, expires);"
	"CREATE TABLE body (id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
	"CREATE TABLE rcpt (rcpt TEXT PRIMARY KEY, count INTEGER NOT NULL,"
	" bytes INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE totals (k INTEGER PRIMARY KEY CHECK (k = 0),"
	" count INTEGER NOT NULL, bytes INTEGER NOT NULL);"
	"INSERT INTO totals VALUES (0, 0, 0);"
	"CREATE TABLE rstate (name TEXT PRIMARY KEY, size INTEGER NOT NULL,"
	" sum INTEGER NOT NULL, updated INTEGER NOT NULL,"
	" data BLOB NOT NULL);"
	"CREATE TRIGGER msg_ins AFTER INSERT ON msg BEGIN"
	" INSERT INTO rcpt VALUES (NEW.rcpt, 1, NEW.size)"
	"  ON CONFLICT (rcpt) DO UPDATE SET count = count + 1,"
	"  bytes = bytes + NEW.size;"
	" UPDATE totals SET count = count + 1, bytes = bytes + NEW.size"
	"  WHERE k = 0;"
	" END;"
	"CREATE TRIGGER msg_del AFTER DELETE ON msg BEGIN"
	" DELETE FROM body WHERE id = OLD.id;"
	" UPDATE rcpt SET count = count - 1, bytes = bytes - OLD.size"
	"  WHERE rcpt = OLD.rcpt;"
	" DELETE FROM rcpt WHERE rcpt = OLD.rcpt AND count <= 0;"
	" UPDATE totals SET count = count - 1, bytes = bytes - OLD.size"
	"  WHERE k = 0;"
	" END;";

/* The prepared statements; ?N as named in each. */
enum stmt {
	S_BEGIN, S_COMMIT, S_ROLLBACK,
	S_INS_MSG, S_INS_BODY, S_RCPT_USE, S_TOTALS,
	S_HEAD, S_LOAD, S_DELETE, S_DEFER, S_QUARANTINE, S_PENDING,
	S_DUE, S_EXPIRED, S_RSTATE_PUT, S_RSTATE_GET, S_RSTATE_DEL,
	S_FLUSH_ALL, S_FLUSH_RCPT, S_NSTMT
};

#define MSG_COLS "m.id, m.rcpt, m.sender, m.mikey_t, m.arrived, " \
	"m.next_attempt, m.expires, m.attempts, m.state, m.reason, m.size, " \
	"m.sum"
#define NMSG_COLS	12

static const char *const stmt_sql[S_NSTMT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_INS_MSG] = "INSERT INTO msg (rcpt, sender, mikey_t, arrived,"
	    " next_attempt, expires, size, sum) VALUES (?1, ?2, ?3, ?4, ?5,"
	    " ?6, ?7, ?8)",
	[S_INS_BODY] = "INSERT INTO body (id, data) VALUES (?1, ?2)",
	[S_RCPT_USE] = "SELECT count, bytes FROM rcpt WHERE rcpt = ?1",
	[S_TOTALS] = "SELECT count, bytes FROM totals WHERE k = 0",
	[S_HEAD] = "SELECT id, next_attempt FROM msg WHERE rcpt = ?1 AND"
	    " state = 0 ORDER BY mikey_t, id LIMIT 1",
	[S_LOAD] = "SELECT " MSG_COLS ", b.data FROM msg m LEFT JOIN body b"
	    " ON b.id = m.id WHERE m.id = ?1",
	[S_DELETE] = "DELETE FROM msg WHERE id = ?1",
	[S_DEFER] = "UPDATE msg SET attempts = attempts + 1,"
	    " next_attempt = ?2 WHERE id = ?1 AND state = 0",
	[S_QUARANTINE] = "UPDATE msg SET state = 1, reason = ?2 WHERE id = ?1",
	[S_PENDING] = "SELECT count(*) FROM msg WHERE rcpt = ?1 AND state = 0",
	[S_DUE] = "SELECT rcpt, na FROM (SELECT r.rcpt AS rcpt,"
	    " (SELECT next_attempt FROM msg m WHERE m.rcpt = r.rcpt AND"
	    " m.state = 0 ORDER BY m.mikey_t, m.id LIMIT 1) AS na FROM rcpt r)"
	    " WHERE na IS NOT NULL AND na <= ?1",
	[S_EXPIRED] = "SELECT " MSG_COLS " FROM msg m WHERE m.state = 0 AND"
	    " m.expires <= ?1 ORDER BY m.expires, m.id LIMIT ?2",
	[S_RSTATE_PUT] = "INSERT INTO rstate (name, size, sum, updated, data)"
	    " VALUES (?1, ?2, ?3, strftime('%s', 'now'), ?4)"
	    " ON CONFLICT (name) DO UPDATE SET size = excluded.size,"
	    " sum = excluded.sum, updated = excluded.updated,"
	    " data = excluded.data",
	[S_RSTATE_GET] = "SELECT size, sum, data FROM rstate WHERE name = ?1",
	[S_RSTATE_DEL] = "DELETE FROM rstate WHERE name = ?1",
	[S_FLUSH_ALL] = "UPDATE msg SET next_attempt = 0 WHERE state = 0",
	[S_FLUSH_RCPT] = "UPDATE msg SET next_attempt = 0 WHERE state = 0 AND"
	    " rcpt = ?1",
};

struct queue {
	sqlite3		*db;
	sqlite3_stmt	*st[S_NSTMT];
	uint64_t	 max_per_rcpt, max_bytes_per_rcpt;
	uint64_t	 max_total, max_bytes_total;
	size_t		 max_message;
	char		 err[512];
};

static const char *const err_text[] = {
	"out of memory",
	"invalid argument",
	"not found",
	"not due yet",
	"queue quota exceeded",
	"message too big for the queue",
	"queue database busy",
	"queue I/O error or disk full",
	"queue data damaged",
	"not an imgate queue of a known schema version",
	"queue database is read-only",
	"queue database error",
};

const char *
queue_strerror(int err)
{
	if (err == QUEUE_OK)
		return "success";
	if (err < QUEUE_ERR_BASE || err >= QUEUE_ERR_LAST)
		return "unknown queue error";
	return err_text[err - QUEUE_ERR_BASE];
}

/* ---------------------------------------------------------------------- */
/* Small helpers */

/* seterr - the detail of the last failure */
static void __attribute__((format(printf, 2, 3)))
seterr(struct queue *q, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(q->err, sizeof(q->err), fmt, ap);
	va_end(ap);
}

/* map_rc - a QUEUE_ERR_* for an SQLite result code */
static int
map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return QUEUE_ERR_NOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return QUEUE_ERR_BUSY;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
		return QUEUE_ERR_IO;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return QUEUE_ERR_CORRUPT;
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return QUEUE_ERR_READONLY;
	}
	return QUEUE_ERR_DB;
}

/* dberr - record SQLite's failure in what, return its QUEUE_ERR_* */
static int
dberr(struct queue *q, int rc, const char *what)
{
	seterr(q, "%s: %s (sqlite %d)", what, sqlite3_errmsg(q->db), rc);
	return map_rc(rc);
}

/* fnv - continue a 64-bit FNV-1a hash over n bytes */
static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* fnv_u64 - continue the hash with v, big-endian */
static uint64_t
fnv_u64(uint64_t h, uint64_t v)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
	return fnv(h, b, sizeof(b));
}

#define FNV_INIT	0xcbf29ce484222325ULL

/* msg_sum - the checksum of a message: routing fields, then the bytes */
static uint64_t
msg_sum(const char *rcpt, const char *sender, uint64_t t, int64_t arrived,
    int64_t expires, const uint8_t *data, size_t len)
{
	uint64_t h = FNV_INIT;

	h = fnv(h, rcpt, strlen(rcpt) + 1);
	h = fnv(h, sender, strlen(sender) + 1);
	h = fnv_u64(h, t);
	h = fnv_u64(h, (uint64_t)arrived);
	h = fnv_u64(h, (uint64_t)expires);
	return fnv(h, data, len);
}

/* aor_ok - a usable AoR: 1..QUEUE_MAX_AOR bytes (0 allowed if empty_ok),
 * no control characters (they end up in listings and logs) */
static int
aor_ok(const char *s, int empty_ok)
{
	size_t i, n;

	if (s == NULL)
		return 0;
	n = strnlen(s, QUEUE_MAX_AOR + 1);
	if (n > QUEUE_MAX_AOR || (n == 0 && !empty_ok))
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* name_ok - a replay-state name: 1..QUEUE_MAX_NAME bytes */
static int
name_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strnlen(s, QUEUE_MAX_NAME + 1);
	return n >= 1 && n <= QUEUE_MAX_NAME;
}

/* done - reset a statement after use (clears bindings too) */
static void
done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* exec_one - step a statement that returns no rows; reset it */
static int
exec_one(struct queue *q, enum stmt s, const char *what)
{
	int rc;

	rc = sqlite3_step(q->st[s]);
	done(q->st[s]);
	if (rc != SQLITE_DONE)
		return dberr(q, rc, what);
	return QUEUE_OK;
}

/* begin - BEGIN IMMEDIATE: the write lock now, waiting busy_ms at most */
static int
begin(struct queue *q)
{
	return exec_one(q, S_BEGIN, "begin");
}

/* commit - COMMIT; on failure the transaction is rolled back */
static int
commit(struct queue *q)
{
	int rc;

	if ((rc = exec_one(q, S_COMMIT, "commit")) != QUEUE_OK &&
	    !sqlite3_get_autocommit(q->db)) {
		(void)sqlite3_step(q->st[S_ROLLBACK]);
		done(q->st[S_ROLLBACK]);
	}
	return rc;
}

/* rollback - undo the open transaction, if any (keeps q->err) */
static void
rollback(struct queue *q)
{
	if (!sqlite3_get_autocommit(q->db)) {
		(void)sqlite3_step(q->st[S_ROLLBACK]);
		done(q->st[S_ROLLBACK]);
	}
}

/* copy_text - column c as a string of at most max bytes into out; -1 if
 * it is not TEXT or too long (then out is "") */
static int
copy_text(sqlite3_stmt *st, int c, char *out, size_t max, int empty_ok)
{
	const unsigned char *s;
	int n;

	out[0] = '\0';
	if (sqlite3_column_type(st, c) != SQLITE_TEXT)
		return -1;
	s = sqlite3_column_text(st, c);
	n = sqlite3_column_bytes(st, c);
	if (s == NULL || n < 0 || (size_t)n > max || (n == 0 && !empty_ok) ||
	    memchr(s, '\0', (size_t)n) != NULL)
		return -1;
	memcpy(out, s, (size_t)n);
	out[n] = '\0';
	return 0;
}

/*
 * read_meta - the MSG_COLS columns of st into m; the stored size and sum
 *	into *size, *sum.  Returns NULL, or why the row is unreadable (a
 *	static string; m then holds what could be read).
 */
static const char *
read_meta(sqlite3_stmt *st, struct queue_msg *m, int64_t *size,
    uint64_t *sum)
{
	static const int ints[] = { 0, 3, 4, 5, 6, 7, 8, 10, 11 };
	int64_t v;
	size_t i;

	memset(m, 0, sizeof(*m));
	m->id = sqlite3_column_int64(st, 0);
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		if (sqlite3_column_type(st, ints[i]) != SQLITE_INTEGER)
			return "a numeric field is not an integer";
	m->mikey_t = (uint64_t)sqlite3_column_int64(st, 3);
	m->arrived = sqlite3_column_int64(st, 4);
	m->next_attempt = sqlite3_column_int64(st, 5);
	m->expires = sqlite3_column_int64(st, 6);
	v = sqlite3_column_int64(st, 7);
	m->attempts = v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	v = sqlite3_column_int64(st, 8);
	m->state = v == 0 ? QUEUE_READY : QUEUE_QUARANTINED;
	*size = sqlite3_column_int64(st, 10);
	*sum = (uint64_t)sqlite3_column_int64(st, 11);
	if (sqlite3_column_type(st, 9) == SQLITE_TEXT)
		(void)copy_text(st, 9, m->reason, QUEUE_MAX_REASON, 1);
	if (copy_text(st, 1, m->rcpt, QUEUE_MAX_AOR, 0) == -1)
		return "recipient missing, too long or not text";
	if (copy_text(st, 2, m->sender, QUEUE_MAX_AOR, 1) == -1)
		return "sender too long or not text";
	if (v != 0 && v != 1)
		return "unknown state";
	if (*size <= 0 || *size > QUEUE_MAX_MESSAGE)
		return "stored size out of range";
	return NULL;
}

/* quarantine_row - mark id quarantined with reason, in its own
 * transaction unless one is open */
static int
quarantine_row(struct queue *q, int64_t id, const char *reason)
{
	char r[QUEUE_MAX_REASON + 1];
	int rc, own = sqlite3_get_autocommit(q->db);
	sqlite3_stmt *st = q->st[S_QUARANTINE];

	snprintf(r, sizeof(r), "%s", reason);
	if (own && (rc = begin(q)) != QUEUE_OK)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, r, -1, SQLITE_TRANSIENT);
	if ((rc = exec_one(q, S_QUARANTINE, "quarantine")) != QUEUE_OK) {
		if (own)
			rollback(q);
		return rc;
	}
	if (sqlite3_changes(q->db) == 0) {
		if (own)
			rollback(q);
		seterr(q, "no message %lld", (long long)id);
		return QUEUE_ERR_NOTFOUND;
	}
	return own ? commit(q) : QUEUE_OK;
}

/*
 * load - message id with its bytes into *m.  A damaged row is reported
 *	in *bad (a static reason; m then holds what could be read, data
 *	NULL) and QUEUE_OK returned; the caller decides.
 */
static int
load(struct queue *q, int64_t id, struct queue_msg *m, const char **bad)
{
	sqlite3_stmt *st = q->st[S_LOAD];
	const void *b;
	int64_t size;
	uint64_t sum;
	int rc, n;

	*bad = NULL;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		done(st);
		seterr(q, "no message %lld", (long long)id);
		return QUEUE_ERR_NOTFOUND;
	}
	if (rc != SQLITE_ROW) {
		rc = dberr(q, rc, "read message");
		done(st);
		return rc;
	}
	if ((*bad = read_meta(st, m, &size, &sum)) != NULL)
		goto out;
	if (sqlite3_column_type(st, NMSG_COLS) != SQLITE_BLOB) {
		*bad = "message bytes missing";
		goto out;
	}
	b = sqlite3_column_blob(st, NMSG_COLS);
	n = sqlite3_column_bytes(st, NMSG_COLS);
	if (b == NULL) {
		if (sqlite3_errcode(q->db) == SQLITE_NOMEM) {
			done(st);
			seterr(q, "no memory for message %lld", (long long)id);
			return QUEUE_ERR_NOMEM;
		}
		*bad = "message bytes missing";
		goto out;
	}
	if ((int64_t)n != size) {
		*bad = "size of the message bytes does not match";
		goto out;
	}
	if (msg_sum(m->rcpt, m->sender, m->mikey_t, m->arrived, m->expires,
	    b, (size_t)n) != sum) {
		*bad = "checksum mismatch";
		goto out;
	}
	if ((m->data = malloc((size_t)n)) == NULL) {
		done(st);
		seterr(q, "no memory for message %lld", (long long)id);
		return QUEUE_ERR_NOMEM;
	}
	memcpy(m->data, b, (size_t)n);
	m->len = (size_t)n;
out:
	done(st);
	return QUEUE_OK;
}

/* ---------------------------------------------------------------------- */
/* Opening */

/* pragma_int - run a pragma (or any one-value query) into *v */
static int
pragma_int(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE)
		rc = SQLITE_ERROR;
	sqlite3_finalize(st);
	return rc;
}

/* read_ids - user_version, application_id and the number of schema
 * objects of the open file */
static int
read_ids(struct queue *q, const char *path, int64_t *ver, int64_t *app,
    int64_t *ntab)
{
	int rc;

	if ((rc = pragma_int(q->db, "PRAGMA user_version", ver)) !=
	    SQLITE_OK || (rc = pragma_int(q->db, "PRAGMA application_id",
	    app)) != SQLITE_OK || (rc = pragma_int(q->db,
	    "SELECT count(*) FROM sqlite_master", ntab)) != SQLITE_OK) {
		if ((rc & 0xff) == SQLITE_NOTADB) {
			seterr(q, "%s is not an SQLite database (damaged, or "
			    "another kind of file); refusing to touch it",
			    path);
			return QUEUE_ERR_CORRUPT;
		}
		return dberr(q, rc, path);
	}
	return QUEUE_OK;
}

/* judge_ids - QUEUE_OK for our version, 1 for an empty file to create,
 * else QUEUE_ERR_SCHEMA with a sentence for the operator */
static int
judge_ids(struct queue *q, const char *path, int64_t ver, int64_t app,
    int64_t ntab)
{
	if (ver == 0 && app == 0 && ntab == 0)
		return 1;
	if (app != QUEUE_APPLICATION_ID) {
		seterr(q, "%s is an SQLite database of another application "
		    "(application_id 0x%08llx, %lld schema objects), not an "
		    "imgate queue; refusing to touch it", path,
		    (unsigned long long)(uint32_t)app, (long long)ntab);
		return QUEUE_ERR_SCHEMA;
	}
	if (ver > QUEUE_SCHEMA_VERSION) {
		seterr(q, "%s has queue schema version %lld, newer than the "
		    "version %d this program knows; run the imgate release "
		    "that wrote it (a downgrade would lose messages)", path,
		    (long long)ver, QUEUE_SCHEMA_VERSION);
		return QUEUE_ERR_SCHEMA;
	}
	if (ver != QUEUE_SCHEMA_VERSION) {
		seterr(q, "%s has unknown queue schema version %lld (this "
		    "program knows %d); refusing to touch it", path,
		    (long long)ver, QUEUE_SCHEMA_VERSION);
		return QUEUE_ERR_SCHEMA;
	}
	return QUEUE_OK;
}

/* create_schema - in an empty file, under the write lock (two processes
 * opening a new file at once: the second finds the first's schema) */
static int
create_schema(struct queue *q, const char *path)
{
	int64_t ver = 0, app = 0, ntab = 0;
	char sql[128];
	int rc;

	if ((rc = sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) !=
	    SQLITE_OK)
		return dberr(q, rc, path);
	if ((rc = read_ids(q, path, &ver, &app, &ntab)) != QUEUE_OK)
		goto fail;
	if ((rc = judge_ids(q, path, ver, app, ntab)) != 1)
		goto fail;	/* created meanwhile (OK) or refused */
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d; "
	    "PRAGMA user_version = %d", QUEUE_APPLICATION_ID,
	    QUEUE_SCHEMA_VERSION);
	if ((rc = sqlite3_exec(q->db, schema_sql, NULL, NULL, NULL)) !=
	    SQLITE_OK || (rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL)) !=
	    SQLITE_OK || (rc = sqlite3_exec(q->db, "COMMIT", NULL, NULL,
	    NULL)) != SQLITE_OK) {
		rc = dberr(q, rc, "create the queue schema");
		goto fail;
	}
	return QUEUE_OK;
fail:
	sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* create_file - make a missing database file with mode 0600 before SQLite
 * opens it: SQLite would use 0644, and gives -wal/-shm the db's mode */
static int
create_file(struct queue *q, const char *path, unsigned int flags)
{
	struct stat sb;
	int fd;

	if (stat(path, &sb) == 0) {
		if (!S_ISREG(sb.st_mode)) {
			seterr(q, "%s is not a regular file", path);
			return QUEUE_ERR_INVAL;
		}
		return QUEUE_OK;
	}
	if (errno != ENOENT) {
		seterr(q, "cannot use %s: %s", path, strerror(errno));
		return QUEUE_ERR_IO;
	}
	if (flags & QUEUE_F_NOCREATE) {
		seterr(q, "%s does not exist (the gateway creates it when it "
		    "first starts)", path);
		return QUEUE_ERR_NOTFOUND;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1 && errno != EEXIST) {
		seterr(q, "cannot create %s: %s; check that the directory "
		    "exists and is writable", path, strerror(errno));
		return errno == EACCES || errno == EROFS ?
		    QUEUE_ERR_READONLY : QUEUE_ERR_IO;
	}
	if (fd != -1)
		close(fd);
	return QUEUE_OK;
}

/* limit - a quota from the caller: 0 means the default */
static uint64_t
limit(uint64_t v, uint64_t def)
{
	return v == 0 ? def : v;
}

int
queue_open(const char *path, const struct queue_limits *lim,
    struct queue **q_out, char *err, size_t errlen)
{
	static const struct queue_limits deflim;
	struct queue *q;
	sqlite3_stmt *st = NULL;
	const unsigned char *mode;
	int64_t ver = 0, app = 0, ntab = 0;
	int rc, i, empty, mem;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (lim == NULL)
		lim = &deflim;
	if (path == NULL || *path == '\0' || q_out == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "no queue database path given");
		return QUEUE_ERR_INVAL;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "out of memory");
		return QUEUE_ERR_NOMEM;
	}
	q->max_per_rcpt = limit(lim->max_per_rcpt, QUEUE_DEFAULT_MAX_PER_RCPT);
	q->max_bytes_per_rcpt = limit(lim->max_bytes_per_rcpt,
	    QUEUE_DEFAULT_MAX_BYTES_PER_RCPT);
	q->max_total = limit(lim->max_total, QUEUE_DEFAULT_MAX_TOTAL);
	q->max_bytes_total = limit(lim->max_bytes_total,
	    QUEUE_DEFAULT_MAX_BYTES_TOTAL);
	q->max_message = lim->max_message_bytes == 0 ?
	    QUEUE_DEFAULT_MAX_MESSAGE : lim->max_message_bytes;
	if (q->max_message > QUEUE_MAX_MESSAGE)
		q->max_message = QUEUE_MAX_MESSAGE;

	/* ":memory:" is a private store for tests: no file, no WAL, gone
	 * at queue_close() */
	mem = strcmp(path, ":memory:") == 0;
	if (!mem && (rc = create_file(q, path, lim->flags)) != QUEUE_OK)
		goto fail;
	rc = sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		if (q->db == NULL) {
			seterr(q, "cannot open %s: out of memory", path);
			rc = QUEUE_ERR_NOMEM;
		} else
			rc = dberr(q, rc, path);
		goto fail;
	}
	sqlite3_extended_result_codes(q->db, 1);
	sqlite3_busy_timeout(q->db, lim->busy_ms > 0 ? lim->busy_ms :
	    QUEUE_DEFAULT_BUSY_MS);
#ifdef SQLITE_DBCONFIG_DEFENSIVE
	sqlite3_db_config(q->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
#endif
	/* judge the file before changing anything in it (WAL mode) */
	if ((rc = read_ids(q, path, &ver, &app, &ntab)) != QUEUE_OK ||
	    ((rc = judge_ids(q, path, ver, app, ntab)) != QUEUE_OK &&
	    rc != 1))
		goto fail;
	empty = rc == 1;
	/* WAL: readers (imgatectl) beside the writer, one fsync a commit */
	rc = sqlite3_prepare_v2(q->db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		mode = sqlite3_column_text(st, 0);
		if (mode == NULL || strcmp((const char *)mode,
		    mem ? "memory" : "wal") != 0) {
			seterr(q, "%s: cannot switch to WAL mode (got %s)",
			    path, mode != NULL ? (const char *)mode : "NULL");
			sqlite3_finalize(st);
			rc = QUEUE_ERR_DB;
			goto fail;
		}
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK) {
		if ((rc & 0xff) == SQLITE_NOTADB) {
			seterr(q, "%s is not an SQLite database (damaged, or "
			    "another kind of file); refusing to touch it",
			    path);
			rc = QUEUE_ERR_CORRUPT;
		} else
			rc = dberr(q, rc, path);
		goto fail;
	}
	rc = sqlite3_exec(q->db, (lim->flags & QUEUE_F_SYNC_NORMAL) ?
	    "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL",
	    NULL, NULL, NULL);
	/* bound the WAL file left behind after a checkpoint */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(q->db, "PRAGMA journal_size_limit = 67108864",
		    NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		rc = dberr(q, rc, path);
		goto fail;
	}
	if (empty && (rc = create_schema(q, path)) != QUEUE_OK)
		goto fail;
	for (i = 0; i < S_NSTMT; i++) {
		rc = sqlite3_prepare_v3(q->db, stmt_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &q->st[i], NULL);
		if (rc != SQLITE_OK) {
			rc = dberr(q, rc, "prepare");
			goto fail;
		}
	}
	*q_out = q;
	return QUEUE_OK;
fail:
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", q->err[0] != '\0' ? q->err :
		    queue_strerror(rc));
	queue_close(q);
	return rc;
}

void
queue_close(struct queue *q)
{
	int i;

	if (q == NULL)
		return;
	for (i = 0; i < S_NSTMT; i++)
		sqlite3_finalize(q->st[i]);
	sqlite3_close(q->db);
	free(q);
}

const char *
queue_last_error(const struct queue *q)
{
	return q != NULL ? q->err : "no queue";
}

void
queue_msg_cleanup(struct queue_msg *m)
{
	if (m == NULL)
		return;
	free(m->data);
	memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------------------- */
/* Storing */

/* usage - (count, bytes) of the one-row statement s (bound by caller) */
static int
usage(struct queue *q, enum stmt s, uint64_t *count, uint64_t *bytes)
{
	sqlite3_stmt *st = q->st[s];
	int rc;

	*count = *bytes = 0;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*count = (uint64_t)sqlite3_column_int64(st, 0);
		*bytes = (uint64_t)sqlite3_column_int64(st, 1);
		rc = SQLITE_DONE;
	}
	done(st);
	return rc == SQLITE_DONE ? QUEUE_OK : dberr(q, rc, "read quota");
}

/* check_new - per-message argument checks: QUEUE_OK, _INVAL or _TOOBIG */
static int
check_new(struct queue *q, const struct queue_new *m)
{
	if (!aor_ok(m->rcpt, 0) || !aor_ok(m->sender, 1)) {
		seterr(q, "recipient or sender empty, too long or with "
		    "control characters");
		return QUEUE_ERR_INVAL;
	}
	if (m->data == NULL || m->len == 0) {
		seterr(q, "no message bytes");
		return QUEUE_ERR_INVAL;
	}
	if (m->len > q->max_message) {
		seterr(q, "message of %zu bytes, the limit is %zu", m->len,
		    q->max_message);
		return QUEUE_ERR_TOOBIG;
	}
	return QUEUE_OK;
}

/* put_one - quota checks and the two inserts of one message; *res gets
 * the per-message outcome.  A non-OK return is a database failure. */
static int
put_one(struct queue *q, const struct queue_new *m, struct queue_result *res)
{
	sqlite3_stmt *st;
	uint64_t rc_n, rc_b, tot_n, tot_b;
	int rc;

	res->id = 0;
	if ((res->err = check_new(q, m)) != QUEUE_OK)
		return QUEUE_OK;
	sqlite3_bind_text(q->st[S_RCPT_USE], 1, m->rcpt, -1, SQLITE_STATIC);
	if ((rc = usage(q, S_RCPT_USE, &rc_n, &rc_b)) != QUEUE_OK ||
	    (rc = usage(q, S_TOTALS, &tot_n, &tot_b)) != QUEUE_OK)
		return rc;
	if (rc_n + 1 > q->max_per_rcpt || rc_b + m->len >
	    q->max_bytes_per_rcpt) {
		seterr(q, "%s has %llu messages, %llu bytes stored (limits "
		    "%llu, %llu)", m->rcpt, (unsigned long long)rc_n,
		    (unsigned long long)rc_b,
		    (unsigned long long)q->max_per_rcpt,
		    (unsigned long long)q->max_bytes_per_rcpt);
		res->err = QUEUE_ERR_FULL;
		return QUEUE_OK;
	}
	if (tot_n + 1 > q->max_total || tot_b + m->len > q->max_bytes_total) {
		seterr(q, "the queue holds %llu messages, %llu bytes (limits "
		    "%llu, %llu)", (unsigned long long)tot_n,
		    (unsigned long long)tot_b,
		    (unsigned long long)q->max_total,
		    (unsigned long long)q->max_bytes_total);
		res->err = QUEUE_ERR_FULL;
		return QUEUE_OK;
	}
	st = q->st[S_INS_MSG];
	sqlite3_bind_text(st, 1, m->rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, m->sender, -1, SQLITE_STATIC);
	/* NTP bits read as signed: orders 1968-2104 (queue.h, ORDER) */
	sqlite3_bind_int64(st, 3, (sqlite3_int64)m->mikey_t);
	sqlite3_bind_int64(st, 4, m->arrived);
	sqlite3_bind_int64(st, 5, m->next_attempt);
	sqlite3_bind_int64(st, 6, m->expires);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)m->len);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)msg_sum(m->rcpt, m->sender,
	    m->mikey_t, m->arrived, m->expires, m->data, m->len));
	if ((rc = exec_one(q, S_INS_MSG, "store message")) != QUEUE_OK)
		return rc;
	res->id = sqlite3_last_insert_rowid(q->db);
	st = q->st[S_INS_BODY];
	sqlite3_bind_int64(st, 1, res->id);
	sqlite3_bind_blob64(st, 2, m->data, m->len, SQLITE_STATIC);
	if ((rc = exec_one(q, S_INS_BODY, "store message bytes")) != QUEUE_OK)
		return rc;
	res->err = QUEUE_OK;
	return QUEUE_OK;
}

int
queue_put_batch(struct queue *q, const struct queue_new *msgs, size_t n,
    struct queue_result *results)
{
	size_t i;
	int rc;

	if (q == NULL || msgs == NULL || results == NULL || n == 0 ||
	    n > QUEUE_MAX_BATCH) {
		if (q != NULL)
			seterr(q, "batch of %zu messages (1..%d)", n,
			    QUEUE_MAX_BATCH);
		return QUEUE_ERR_INVAL;
	}
	q->err[0] = '\0';
	if ((rc = begin(q)) != QUEUE_OK)
		goto fail;
	for (i = 0; i < n; i++)
		if ((rc = put_one(q, &msgs[i], &results[i])) != QUEUE_OK) {
			rollback(q);
			goto fail;
		}
	if ((rc = commit(q)) != QUEUE_OK)
		goto fail;
	return QUEUE_OK;
fail:
	for (i = 0; i < n; i++) {
		results[i].err = rc;
		results[i].id = 0;
	}
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Delivering */

int
queue_next_for(struct queue *q, const char *rcpt, int64_t now,
    struct queue_msg *msg_out, int64_t *next_out)
{
	sqlite3_stmt *st;
	struct queue_msg m;
	const char *bad;
	int64_t id, na;
	int rc;

	if (q == NULL || msg_out == NULL || !aor_ok(rcpt, 0)) {
		if (q != NULL)
			seterr(q, "bad recipient");
		return QUEUE_ERR_INVAL;
	}
	/* each turn either returns or quarantines one ready row, so this
	 * ends; a write failure of the quarantine ends it too */
	for (;;) {
		st = q->st[S_HEAD];
		sqlite3_bind_text(st, 1, rcpt, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? QUEUE_ERR_NOTFOUND :
			    dberr(q, rc, "find head");
			done(st);
			if (rc == QUEUE_ERR_NOTFOUND)
				seterr(q, "no ready message for %s", rcpt);
			return rc;
		}
		id = sqlite3_column_int64(st, 0);
		na = sqlite3_column_int64(st, 1);
		done(st);
		if (na > now) {
			if (next_out != NULL)
				*next_out = na;
			seterr(q, "head of %s due at %lld", rcpt,
			    (long long)na);
			return QUEUE_ERR_NOTDUE;
		}
		if ((rc = load(q, id, &m, &bad)) != QUEUE_OK)
			return rc;
		if (bad == NULL) {
			*msg_out = m;
			return QUEUE_OK;
		}
		queue_msg_cleanup(&m);
		if ((rc = quarantine_row(q, id, bad)) != QUEUE_OK)
			return rc;
	}
}

int
queue_due_rcpts(struct queue *q, int64_t now, queue_rcpt_cb cb, void *arg)
{
	sqlite3_stmt *st;
	char r[QUEUE_MAX_AOR + 1];
	int rc;

	if (q == NULL || cb == NULL)
		return QUEUE_ERR_INVAL;
	st = q->st[S_DUE];
	sqlite3_bind_int64(st, 1, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* a recipient name that is not readable cannot be
		 * scheduled; its rows show up as such in listings */
		if (copy_text(st, 0, r, QUEUE_MAX_AOR, 0) == -1)
			continue;
		if (cb(arg, r, sqlite3_column_int64(st, 1)) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (rc != SQLITE_DONE)
		rc = dberr(q, rc, "list due recipients");
	else
		rc = QUEUE_OK;
	done(st);
	return rc;
}

int
queue_rcpt_pending(struct queue *q, const char *rcpt, uint64_t *count_out)
{
	sqlite3_stmt *st;
	int rc;

	if (q == NULL || count_out == NULL || !aor_ok(rcpt, 0))
		return QUEUE_ERR_INVAL;
	st = q->st[S_PENDING];
	sqlite3_bind_text(st, 1, rcpt, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*count_out = (uint64_t)sqlite3_column_int64(st, 0);
		rc = QUEUE_OK;
	} else
		rc = dberr(q, rc, "count pending");
	done(st);
	return rc;
}

int
queue_get(struct queue *q, int64_t id, struct queue_msg *msg_out)
{
	struct queue_msg m;
	const char *bad;
	int rc;

	if (q == NULL || msg_out == NULL || id <= 0)
		return QUEUE_ERR_INVAL;
	if ((rc = load(q, id, &m, &bad)) != QUEUE_OK)
		return rc;
	if (bad != NULL) {
		/* quarantine if it was ready; report even if we cannot */
		if (m.state == QUEUE_READY)
			(void)quarantine_row(q, id, bad);
		m.state = QUEUE_QUARANTINED;
		snprintf(m.reason, sizeof(m.reason), "%s", bad);
	}
	*msg_out = m;
	return QUEUE_OK;
}

/* delete_row - DELETE message id inside the open transaction */
static int
delete_row(struct queue *q, int64_t id)
{
	int rc;

	sqlite3_bind_int64(q->st[S_DELETE], 1, id);
	if ((rc = exec_one(q, S_DELETE, "delete")) != QUEUE_OK)
		return rc;
	if (sqlite3_changes(q->db) == 0) {
		seterr(q, "no message %lld", (long long)id);
		return QUEUE_ERR_NOTFOUND;
	}
	return QUEUE_OK;
}

/* rstate_write - upsert an image inside the open transaction */
static int
rstate_write(struct queue *q, const char *name, const uint8_t *img,
    size_t len)
{
	sqlite3_stmt *st = q->st[S_RSTATE_PUT];

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)len);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)fnv(FNV_INIT, img, len));
	sqlite3_bind_blob64(st, 4, img, len, SQLITE_STATIC);
	return exec_one(q, S_RSTATE_PUT, "store replay state");
}

/* rstate_args_ok - name and image within limits */
static int
rstate_args_ok(struct queue *q, const char *name, const uint8_t *img,
    size_t len)
{
	if (!name_ok(name) || img == NULL || len == 0 ||
	    len > QUEUE_MAX_RSTATE) {
		seterr(q, "replay state: bad name or image of %zu bytes "
		    "(1..%d)", len, QUEUE_MAX_RSTATE);
		return 0;
	}
	return 1;
}

int
queue_delete(struct queue *q, int64_t id)
{
	return queue_delete_with_rstate(q, id, NULL, NULL, 0);
}

int
queue_delete_with_rstate(struct queue *q, int64_t id, const char *name,
    const uint8_t *img, size_t len)
{
	int rc;

	if (q == NULL || id <= 0)
		return QUEUE_ERR_INVAL;
	if (name != NULL && !rstate_args_ok(q, name, img, len))
		return QUEUE_ERR_INVAL;
	if ((rc = begin(q)) != QUEUE_OK)
		return rc;
	if ((rc = delete_row(q, id)) != QUEUE_OK ||
	    (name != NULL && (rc = rstate_write(q, name, img, len)) !=
	    QUEUE_OK)) {
		rollback(q);
		return rc;
	}
	return commit(q);
}

/* update_one - run an UPDATE of one row (bound by caller) in its own
 * transaction; NOTFOUND if no row changed */
static int
update_one(struct queue *q, enum stmt s, int64_t id, const char *what)
{
	int rc;

	if ((rc = begin(q)) != QUEUE_OK) {
		done(q->st[s]);
		return rc;
	}
	if ((rc = exec_one(q, s, what)) != QUEUE_OK) {
		rollback(q);
		return rc;
	}
	if (sqlite3_changes(q->db) == 0) {
		rollback(q);
		seterr(q, "no %smessage %lld", s == S_DEFER ? "ready " : "",
		    (long long)id);
		return QUEUE_ERR_NOTFOUND;
	}
	return commit(q);
}

int
queue_defer(struct queue *q, int64_t id, int64_t next_attempt)
{
	if (q == NULL || id <= 0)
		return QUEUE_ERR_INVAL;
	sqlite3_bind_int64(q->st[S_DEFER], 1, id);
	sqlite3_bind_int64(q->st[S_DEFER], 2, next_attempt);
	return update_one(q, S_DEFER, id, "defer");
}

int
queue_quarantine(struct queue *q, int64_t id, const char *reason)
{
	if (q == NULL || id <= 0 || reason == NULL)
		return QUEUE_ERR_INVAL;
	return quarantine_row(q, id, reason);
}

int
queue_expire(struct queue *q, int64_t now, queue_msg_cb cb, void *arg,
    uint64_t *n_out)
{
	struct queue_msg *chunk = NULL;
	sqlite3_stmt *st;
	uint64_t total = 0;
	int64_t size;
	uint64_t sum;
	size_t n, i, keep;
	int rc = QUEUE_OK, stop = 0;

	if (q == NULL || cb == NULL)
		return QUEUE_ERR_INVAL;
	if ((chunk = calloc(EXPIRE_CHUNK, sizeof(*chunk))) == NULL) {
		seterr(q, "no memory for expiry");
		return QUEUE_ERR_NOMEM;
	}
	while (!stop) {
		/* collect a chunk, then call back with no statement open,
		 * then delete what the callback let go in one transaction */
		st = q->st[S_EXPIRED];
		sqlite3_bind_int64(st, 1, now);
		sqlite3_bind_int(st, 2, EXPIRE_CHUNK);
		n = 0;
		while (n < EXPIRE_CHUNK && (rc = sqlite3_step(st)) ==
		    SQLITE_ROW) {
			/* an unreadable row is quarantined below, not
			 * reported as expired with garbage in it */
			if (read_meta(st, &chunk[n], &size, &sum) != NULL)
				chunk[n].state = QUEUE_QUARANTINED;
			n++;
		}
		rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? QUEUE_OK :
		    dberr(q, rc, "find expired");
		done(st);
		if (rc != QUEUE_OK || n == 0)
			break;
		for (keep = 0; keep < n; keep++)
			if (chunk[keep].state == QUEUE_READY &&
			    cb(arg, &chunk[keep]) != 0) {
				stop = 1;
				break;
			}
		if ((rc = begin(q)) != QUEUE_OK)
			break;
		for (i = 0; i < keep && rc == QUEUE_OK; i++) {
			if (chunk[i].state == QUEUE_READY) {
				rc = delete_row(q, chunk[i].id);
				if (rc == QUEUE_OK)
					total++;
				else if (rc == QUEUE_ERR_NOTFOUND)
					rc = QUEUE_OK;	/* gone meanwhile */
			} else
				rc = quarantine_row(q, chunk[i].id,
				    "unreadable row found by expiry");
		}
		if (rc != QUEUE_OK) {
			rollback(q);
			break;
		}
		if ((rc = commit(q)) != QUEUE_OK)
			break;
		if (n < EXPIRE_CHUNK)
			break;
	}
	free(chunk);
	if (rc == QUEUE_OK && n_out != NULL)
		*n_out = total;
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Administration */

int
queue_list(struct queue *q, const char *rcpt, int all, queue_msg_cb cb,
    void *arg)
{
	char sql[512];
	sqlite3_stmt *st = NULL;
	struct queue_msg m;
	const char *bad;
	int64_t size;
	uint64_t sum;
	int rc;

	if (q == NULL || cb == NULL || (rcpt != NULL && !aor_ok(rcpt, 0)))
		return QUEUE_ERR_INVAL;
	/* the order follows msg_order: no sort, no memory per row */
	snprintf(sql, sizeof(sql), "SELECT " MSG_COLS " FROM msg m%s%s%s "
	    "ORDER BY m.rcpt, m.state, m.mikey_t, m.id",
	    rcpt != NULL || !all ? " WHERE" : "",
	    rcpt != NULL ? " m.rcpt = ?1" : "",
	    !all ? (rcpt != NULL ? " AND m.state = 0" : " m.state = 0") : "");
	if ((rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL)) != SQLITE_OK)
		return dberr(q, rc, "list");
	if (rcpt != NULL)
		sqlite3_bind_text(st, 1, rcpt, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((bad = read_meta(st, &m, &size, &sum)) != NULL) {
			m.state = QUEUE_QUARANTINED;
			snprintf(m.reason, sizeof(m.reason), "unreadable: %s",
			    bad);
		}
		m.len = size > 0 ? (size_t)size : 0;
		if (cb(arg, &m) != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	rc = rc == SQLITE_DONE ? QUEUE_OK : dberr(q, rc, "list");
	sqlite3_finalize(st);
	return rc;
}

/* query_u64 - a one-value query into *v */
static int
query_u64(struct queue *q, const char *sql, uint64_t *v)
{
	int64_t x = 0;
	int rc;

	if ((rc = pragma_int(q->db, sql, &x)) != SQLITE_OK)
		return dberr(q, rc, "stats");
	*v = (uint64_t)x;
	return QUEUE_OK;
}

int
queue_stats(struct queue *q, struct queue_stats *st_out)
{
	struct queue_stats s;
	uint64_t oldest = 0;
	int rc;

	if (q == NULL || st_out == NULL)
		return QUEUE_ERR_INVAL;
	memset(&s, 0, sizeof(s));
	/* one read transaction: the figures agree with each other */
	if ((rc = sqlite3_exec(q->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
		return dberr(q, rc, "stats");
	if ((rc = usage(q, S_TOTALS, &s.messages, &s.bytes)) != QUEUE_OK ||
	    (rc = query_u64(q, "SELECT count(*) FROM msg WHERE state = 1",
	    &s.quarantined)) != QUEUE_OK ||
	    (rc = query_u64(q, "SELECT count(*) FROM rcpt", &s.recipients)) !=
	    QUEUE_OK ||
	    (rc = query_u64(q, "SELECT count(*) FROM rstate", &s.rstates)) !=
	    QUEUE_OK ||
	    (rc = query_u64(q, "SELECT coalesce((SELECT arrived FROM msg "
	    "ORDER BY id LIMIT 1), 0)", &oldest)) != QUEUE_OK) {
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);
	s.oldest_arrived = (int64_t)oldest;
	s.schema_version = QUEUE_SCHEMA_VERSION;
	*st_out = s;
	return QUEUE_OK;
}

int
queue_purge(struct queue *q, enum queue_purge_what what, int64_t id,
    uint64_t *n_out)
{
	const char *sql;
	uint64_t n;
	int rc;

	if (q == NULL)
		return QUEUE_ERR_INVAL;
	switch (what) {
	case QUEUE_PURGE_ID:
		if (id <= 0)
			return QUEUE_ERR_INVAL;
		if ((rc = queue_delete(q, id)) == QUEUE_OK && n_out != NULL)
			*n_out = 1;
		return rc;
	case QUEUE_PURGE_ALL:
		sql = "DELETE FROM msg";
		break;
	case QUEUE_PURGE_QUARANTINED:
		sql = "DELETE FROM msg WHERE state = 1";
		break;
	default:
		return QUEUE_ERR_INVAL;
	}
	if ((rc = begin(q)) != QUEUE_OK)
		return rc;
	if ((rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL)) != SQLITE_OK) {
		rc = dberr(q, rc, "purge");
		rollback(q);
		return rc;
	}
	n = (uint64_t)sqlite3_changes(q->db);
	if ((rc = commit(q)) != QUEUE_OK)
		return rc;
	if (n_out != NULL)
		*n_out = n;
	return QUEUE_OK;
}

int
queue_flush(struct queue *q, const char *rcpt, uint64_t *n_out)
{
	enum stmt s = rcpt != NULL ? S_FLUSH_RCPT : S_FLUSH_ALL;
	uint64_t n;
	int rc;

	if (q == NULL || (rcpt != NULL && !aor_ok(rcpt, 0)))
		return QUEUE_ERR_INVAL;
	if ((rc = begin(q)) != QUEUE_OK)
		return rc;
	if (rcpt != NULL)
		sqlite3_bind_text(q->st[s], 1, rcpt, -1, SQLITE_STATIC);
	if ((rc = exec_one(q, s, "flush")) != QUEUE_OK) {
		rollback(q);
		return rc;
	}
	n = (uint64_t)sqlite3_changes(q->db);
	if ((rc = commit(q)) != QUEUE_OK)
		return rc;
	if (n_out != NULL)
		*n_out = n;
	return QUEUE_OK;
}

/* check_query - the query must return no row; else the first is reported
 * with what */
static int
check_query(struct queue *q, const char *sql, const char *what)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *t;
	int rc;

	if ((rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL)) != SQLITE_OK)
		return dberr(q, rc, "check");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		t = sqlite3_column_text(st, 0);
		seterr(q, "%s: %s", what, t != NULL ? (const char *)t : "?");
		rc = QUEUE_ERR_CORRUPT;
	} else if (rc == SQLITE_DONE)
		rc = QUEUE_OK;
	else
		rc = dberr(q, rc, "check");
	sqlite3_finalize(st);
	return rc;
}

int
queue_check(struct queue *q)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *t;
	int rc;

	if (q == NULL)
		return QUEUE_ERR_INVAL;
	if ((rc = sqlite3_prepare_v2(q->db, "PRAGMA quick_check", -1, &st,
	    NULL)) != SQLITE_OK)
		return dberr(q, rc, "quick_check");
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		t = sqlite3_column_text(st, 0);
		if (t == NULL || strcmp((const char *)t, "ok") != 0) {
			seterr(q, "quick_check: %s", t != NULL ?
			    (const char *)t : "?");
			sqlite3_finalize(st);
			return QUEUE_ERR_CORRUPT;
		}
		rc = QUEUE_OK;
	} else
		rc = dberr(q, rc, "quick_check");
	sqlite3_finalize(st);
	if (rc != QUEUE_OK)
		return rc;
	if ((rc = sqlite3_exec(q->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
		return dberr(q, rc, "check");
	if ((rc = check_query(q, "SELECT 'totals ' || t.count || '/' || "
	    "t.bytes || ', rows ' || m.c || '/' || m.b FROM totals t, "
	    "(SELECT count(*) AS c, coalesce(sum(size), 0) AS b FROM msg) m "
	    "WHERE t.k = 0 AND (t.count != m.c OR t.bytes != m.b)",
	    "global counters differ from the rows")) != QUEUE_OK ||
	    (rc = check_query(q, "SELECT r.rcpt FROM rcpt r LEFT JOIN "
	    "(SELECT rcpt, count(*) AS c, sum(size) AS b FROM msg GROUP BY "
	    "rcpt) m ON m.rcpt = r.rcpt WHERE m.c IS NULL OR m.c != r.count "
	    "OR m.b != r.bytes UNION ALL SELECT m.rcpt FROM msg m WHERE NOT "
	    "EXISTS (SELECT 1 FROM rcpt r WHERE r.rcpt = m.rcpt) LIMIT 1",
	    "recipient counters differ from the rows")) != QUEUE_OK ||
	    (rc = check_query(q, "SELECT m.id FROM msg m WHERE NOT EXISTS "
	    "(SELECT 1 FROM body b WHERE b.id = m.id) LIMIT 1",
	    "message without bytes")) != QUEUE_OK ||
	    (rc = check_query(q, "SELECT b.id FROM body b WHERE NOT EXISTS "
	    "(SELECT 1 FROM msg m WHERE m.id = b.id) LIMIT 1",
	    "bytes without a message")) != QUEUE_OK) {
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);
	return QUEUE_OK;
}

/* ---------------------------------------------------------------------- */
/* Replay-cache state */

int
queue_rstate_put(struct queue *q, const char *name, const uint8_t *img,
    size_t len)
{
	int rc;

	if (q == NULL)
		return QUEUE_ERR_INVAL;
	if (!rstate_args_ok(q, name, img, len))
		return QUEUE_ERR_INVAL;
	if ((rc = begin(q)) != QUEUE_OK)
		return rc;
	if ((rc = rstate_write(q, name, img, len)) != QUEUE_OK) {
		rollback(q);
		return rc;
	}
	return commit(q);
}

int
queue_rstate_get(struct queue *q, const char *name, uint8_t **img_out,
    size_t *len_out)
{
	sqlite3_stmt *st;
	const void *b;
	uint8_t *p;
	int64_t size;
	uint64_t sum;
	int rc, n;

	if (q == NULL || img_out == NULL || len_out == NULL || !name_ok(name))
		return QUEUE_ERR_INVAL;
	st = q->st[S_RSTATE_GET];
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE) {
			seterr(q, "no replay state named %s", name);
			rc = QUEUE_ERR_NOTFOUND;
		} else
			rc = dberr(q, rc, "read replay state");
		done(st);
		return rc;
	}
	size = sqlite3_column_int64(st, 0);
	sum = (uint64_t)sqlite3_column_int64(st, 1);
	b = sqlite3_column_blob(st, 2);
	n = sqlite3_column_bytes(st, 2);
	if (sqlite3_column_type(st, 2) != SQLITE_BLOB || b == NULL ||
	    (int64_t)n != size || fnv(FNV_INIT, b, (size_t)n) != sum) {
		done(st);
		seterr(q, "replay state %s is damaged (size or checksum)",
		    name);
		return QUEUE_ERR_CORRUPT;
	}
	if ((p = malloc((size_t)n)) == NULL) {
		done(st);
		seterr(q, "no memory for replay state %s", name);
		return QUEUE_ERR_NOMEM;
	}
	memcpy(p, b, (size_t)n);
	done(st);
	*img_out = p;
	*len_out = (size_t)n;
	return QUEUE_OK;
}

int
queue_rstate_delete(struct queue *q, const char *name)
{
	int rc;

	if (q == NULL || !name_ok(name))
		return QUEUE_ERR_INVAL;
	if ((rc = begin(q)) != QUEUE_OK)
		return rc;
	sqlite3_bind_text(q->st[S_RSTATE_DEL], 1, name, -1, SQLITE_STATIC);
	if ((rc = exec_one(q, S_RSTATE_DEL, "delete replay state")) !=
	    QUEUE_OK) {
		rollback(q);
		return rc;
	}
	if (sqlite3_changes(q->db) == 0) {
		rollback(q);
		seterr(q, "no replay state named %s", name);
		return QUEUE_ERR_NOTFOUND;
	}
	return commit(q);
}
