/*
 * tests/unit/queue/t_queue.c - queue/: round trip, delivery order, due
 *	and defer, quotas, expiry, quarantine, replay state, schema
 *	versions, reopen, kill -9 in a batch loop, file modes (TAP)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * Every test works in its own database under a throwaway directory
 * (removed at the end).  Damage is done the way it happens: through a
 * second SQLite handle behind the queue's back.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "queue/queue.h"
#include "tests/tap.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define NOW		1790000000LL	/* a Unix time in 2026 */
#define NTP_2026	(((uint64_t)(NOW + 2208988800LL)) << 32)

static char dir[1024];

/* scopy - src into dst (capacity cap), cut if need be */
static void
scopy(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* dbpath - dir/name.db into out */
static const char *
dbpath(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s.db", dir, name);
	return out;
}

/* open_q - queue_open that must succeed (lim may be NULL) */
static struct queue *
open_q(const char *path, const struct queue_limits *lim)
{
	struct queue *q = NULL;
	char err[512];
	int rc;

	if ((rc = queue_open(path, lim, &q, err, sizeof(err))) != QUEUE_OK) {
		printf("# queue_open %s: %s: %s\n", path, queue_strerror(rc),
		    err);
		return NULL;
	}
	return q;
}

/* mk - a queue_new for rcpt with T = t, due at once, expiring in a day */
static struct queue_new
mk(const char *rcpt, const char *sender, uint64_t t, const void *data,
    size_t len)
{
	struct queue_new m;

	memset(&m, 0, sizeof(m));
	m.rcpt = rcpt;
	m.sender = sender;
	m.mikey_t = t;
	m.arrived = NOW;
	m.next_attempt = 0;
	m.expires = NOW + 86400;
	m.data = data;
	m.len = len;
	return m;
}

/* put1 - store one message; its id, or -(error) */
static int64_t
put1(struct queue *q, const struct queue_new *m)
{
	struct queue_result r;
	int rc;

	if ((rc = queue_put_batch(q, m, 1, &r)) != QUEUE_OK)
		return -rc;
	return r.err == QUEUE_OK ? r.id : -r.err;
}

/* sql - run sql on path through a second handle; 0 or the sqlite code */
static int
sql(const char *path, const char *text)
{
	sqlite3 *db = NULL;
	int rc;

	if ((rc = sqlite3_open(path, &db)) == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		rc = sqlite3_exec(db, text, NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK)
		printf("# sql %s: %s\n", text, sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc;
}

/* ---------------------------------------------------------------------- */

static void
test_open_modes(void)
{
	char p[PATH_MAX], w[PATH_MAX + 8];
	struct queue_limits lim;
	struct queue *q = NULL;
	struct stat sb;
	char err[256];
	mode_t old;
	int rc;

	dbpath(p, sizeof(p), "modes");
	memset(&lim, 0, sizeof(lim));
	lim.flags = QUEUE_F_NOCREATE;
	rc = queue_open(p, &lim, &q, err, sizeof(err));
	is_int(rc, QUEUE_ERR_NOTFOUND, "NOCREATE: a missing file is refused");
	ok(q == NULL && strstr(err, "does not exist") != NULL,
	    "... saying so: %s", err);
	ok(stat(p, &sb) == -1, "... and not created");

	old = umask(0);		/* even with a permissive umask */
	q = open_q(p, NULL);
	umask(old);
	ok(q != NULL, "create");
	ok(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	    "database mode 0600 (got %04o)", (unsigned)(sb.st_mode & 0777));
	{
		struct queue_new m = mk("sip:bob@b.example", "sip:a@a.example",
		    NTP_2026, "x", 1);

		ok(put1(q, &m) > 0, "one message");
	}
	snprintf(w, sizeof(w), "%s-wal", p);
	ok(stat(w, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	    "WAL mode 0600 (got %04o)", (unsigned)(sb.st_mode & 0777));
	queue_close(q);
	q = open_q(p, &lim);
	ok(q != NULL, "NOCREATE opens an existing store");
	is_int(queue_check(q), QUEUE_OK, "check");
	queue_close(q);
	queue_close(NULL);
}

static void
test_round_trip(void)
{
	static const char multipart[] =
	    "MESSAGE sip:bob@example.org SIP/2.0\r\n"
	    "Via: SIP/2.0/TLS gw1.example.com:5061"
	    ";branch=z9hG4bK-a91f3c07e2\r\n"
	    "From: <sip:alice@example.com>;tag=7c2e1d\r\n"
	    "To: <sip:bob@example.org>\r\n"
	    "Call-ID: 4f0c9a2be1d74a06@gw1.example.com\r\n"
	    "CSeq: 31 MESSAGE\r\n"
	    "Content-Type: multipart/mixed;"
	    " boundary=\"sipsec-5Qm2ZtVb8rHk\"\r\n"
	    "Content-Length: 180\r\n"
	    "\r\n"
	    "--sipsec-5Qm2ZtVb8rHk\r\n"
	    "Content-Type: application/mikey\r\n"
	    "\r\n"
	    "\x01\x00\x0e\x00\xff\x80\r\n"
	    "--sipsec-5Qm2ZtVb8rHk\r\n"
	    "Content-Type: application/pkcs7-mime; "
	    "smime-type=authEnveloped-data\r\n"
	    "\r\n"
	    "\x30\x82\x00\x00\x06\x0b\r\n"
	    "--sipsec-5Qm2ZtVb8rHk--\r\n";
	uint8_t bin[4096];
	struct queue_new in[2];
	struct queue_result res[2];
	struct queue_msg m;
	char p[PATH_MAX];
	struct queue *q;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(i * 7 + (i >> 8));
	bin[0] = bin[100] = bin[4095] = 0;
	q = open_q(dbpath(p, sizeof(p), "rt"), NULL);
	in[0] = mk("sip:bob@example.org", "sip:alice@example.com", NTP_2026,
	    multipart, sizeof(multipart) - 1);
	in[1] = mk("sip:bob@example.org", "", NTP_2026 + 1, bin, sizeof(bin));
	in[1].next_attempt = NOW - 5;
	in[1].arrived = NOW - 7;
	rc = queue_put_batch(q, in, 2, res);
	is_int(rc, QUEUE_OK, "batch of 2");
	ok(res[0].err == QUEUE_OK && res[1].err == QUEUE_OK &&
	    res[0].id > 0 && res[1].id > res[0].id, "both stored, ids rise");

	memset(&m, 0, sizeof(m));
	is_int(queue_get(q, res[0].id, &m), QUEUE_OK, "get multipart");
	is_mem(m.data, m.len, multipart, sizeof(multipart) - 1,
	    "multipart request byte-exact (boundary parameter kept)");
	ok(strcmp(m.rcpt, "sip:bob@example.org") == 0 &&
	    strcmp(m.sender, "sip:alice@example.com") == 0 &&
	    m.mikey_t == NTP_2026 && m.arrived == NOW && m.expires ==
	    NOW + 86400 && m.attempts == 0 && m.state == QUEUE_READY,
	    "metadata round trip");
	queue_msg_cleanup(&m);
	ok(m.data == NULL, "cleanup clears");
	is_int(queue_get(q, res[1].id, &m), QUEUE_OK, "get binary");
	is_mem(m.data, m.len, bin, sizeof(bin), "binary with NULs byte-exact");
	ok(m.sender[0] == '\0' && m.arrived == NOW - 7 &&
	    m.next_attempt == NOW - 5, "empty sender, times kept");
	queue_msg_cleanup(&m);
	is_int(queue_get(q, 999, &m), QUEUE_ERR_NOTFOUND, "get missing id");

	is_int(queue_next_for(q, "sip:bob@example.org", NOW, &m, NULL),
	    QUEUE_OK, "next_for");
	ok(m.id == res[0].id, "... gives the older T");
	is_mem(m.data, m.len, multipart, sizeof(multipart) - 1,
	    "... byte-exact");
	queue_msg_cleanup(&m);
	is_int(queue_delete(q, res[0].id), QUEUE_OK, "delete");
	is_int(queue_delete(q, res[0].id), QUEUE_ERR_NOTFOUND,
	    "delete again: not found");
	is_int(queue_get(q, res[0].id, &m), QUEUE_ERR_NOTFOUND,
	    "deleted is gone");
	is_int(queue_next_for(q, "sip:bob@example.org", NOW, &m, NULL),
	    QUEUE_OK, "next_for after delete");
	ok(m.id == res[1].id, "... gives the next");
	queue_msg_cleanup(&m);
	is_int(queue_next_for(q, "sip:nobody@example.org", NOW, &m, NULL),
	    QUEUE_ERR_NOTFOUND, "unknown recipient: not found");
	is_int(queue_check(q), QUEUE_OK, "check");
	queue_close(q);
}

struct collect {
	int64_t		 id[256];
	uint64_t	 t[256];
	char		 sender[256][32];
	int		 state[256];
	size_t		 n;
};

static int
collect_cb(void *arg, const struct queue_msg *m)
{
	struct collect *c = arg;

	if (c->n < NELEM(c->id)) {
		c->id[c->n] = m->id;
		c->t[c->n] = m->mikey_t;
		scopy(c->sender[c->n], sizeof(c->sender[0]), m->sender);
		c->state[c->n] = m->state;
		c->n++;
	}
	return 0;
}

static void
test_order(void)
{
	static const char *const rcpt = "sip:bob@b.example";
	struct queue_new in[52];
	struct queue_result res[52];
	struct collect c;
	struct queue_msg m;
	char p[PATH_MAX], body[52][16];
	struct queue *q;
	uint64_t t, prev, era1;
	int i, sorted, from_a = 0, from_b = 0, rc;

	q = open_q(dbpath(p, sizeof(p), "order"), NULL);
	/* alice's T run 0, 2, 4, ... seconds; carol's 1, 3, 5, ... but
	 * carol's arrive in reverse, interleaved with alice's */
	for (i = 0; i < 50; i++) {
		int k = i / 2;

		if (i % 2 == 0)
			t = NTP_2026 + ((uint64_t)(2 * k) << 32);
		else
			t = NTP_2026 + ((uint64_t)(2 * (24 - k) + 1) << 32);
		snprintf(body[i], sizeof(body[i]), "msg %d", i);
		in[i] = mk(rcpt, i % 2 == 0 ? "sip:alice@a.example" :
		    "sip:carol@c.example", t, body[i], strlen(body[i]));
	}
	/* era 1 (2036-2104, top bit clear) sorts after era 0 (RFC 4330) */
	era1 = ((uint64_t)0x00100000) << 32;
	in[50] = mk(rcpt, "sip:alice@a.example", era1, "era1", 4);
	in[51] = mk(rcpt, "sip:alice@a.example", 0xfffffffe00000000ULL,
	    "late era0", 9);
	rc = queue_put_batch(q, in, 52, res);
	is_int(rc, QUEUE_OK, "52 messages, 2 senders interleaved");
	memset(&c, 0, sizeof(c));
	is_int(queue_list(q, rcpt, 0, collect_cb, &c), QUEUE_OK, "list");
	is_int(c.n, 52, "all listed");
	sorted = 1;
	for (i = 1; i < 50; i++)
		if (c.t[i] != NTP_2026 + ((uint64_t)i << 32))
			sorted = 0;
	ok(sorted && c.t[0] == NTP_2026, "listed in MIKEY-timestamp order");
	ok(c.t[50] == 0xfffffffe00000000ULL && c.t[51] == era1,
	    "era 0 (2036-02) before era 1 (2036+)");
	for (i = 0; i < 50; i++) {
		if (i % 2 == 0 && strcmp(c.sender[i],
		    "sip:alice@a.example") == 0)
			from_a++;
		else if (i % 2 == 1 && strcmp(c.sender[i],
		    "sip:carol@c.example") == 0)
			from_b++;
	}
	ok(from_a == 25 && from_b == 25, "senders alternate in T order");

	/* deliver one at a time: the same order */
	prev = 0;
	sorted = 1;
	for (i = 0; i < 52; i++) {
		if (queue_next_for(q, rcpt, NOW, &m, NULL) != QUEUE_OK) {
			sorted = 0;
			break;
		}
		if (i > 0 && (int64_t)m.mikey_t <= (int64_t)prev)
			sorted = 0;
		if (m.id != c.id[i])
			sorted = 0;
		prev = m.mikey_t;
		if (queue_delete(q, m.id) != QUEUE_OK)
			sorted = 0;
		queue_msg_cleanup(&m);
	}
	ok(sorted && i == 52, "delivered oldest T first, 52 of 52");
	is_int(queue_next_for(q, rcpt, NOW, &m, NULL), QUEUE_ERR_NOTFOUND,
	    "then empty");
	is_int(queue_check(q), QUEUE_OK, "check");
	queue_close(q);
}

struct rlist {
	char	 r[8][64];
	int64_t	 na[8];
	int	 n;
};

static int
rcpt_cb(void *arg, const char *rcpt, int64_t na)
{
	struct rlist *l = arg;

	if (l->n < 8) {
		scopy(l->r[l->n], sizeof(l->r[0]), rcpt);
		l->na[l->n++] = na;
	}
	return 0;
}

static void
test_due(void)
{
	struct queue_new in[3];
	struct queue_result res[3];
	struct queue_msg m;
	struct rlist l;
	char p[PATH_MAX];
	struct queue *q;
	int64_t next = 0;
	uint64_t n = 99;

	q = open_q(dbpath(p, sizeof(p), "due"), NULL);
	in[0] = mk("sip:bob@b", "sip:a@a", NTP_2026 + 10, "one", 3);
	in[0].next_attempt = NOW + 100;
	in[1] = mk("sip:bob@b", "sip:a@a", NTP_2026 + 20, "two", 3);
	in[2] = mk("sip:dan@d", "sip:a@a", NTP_2026, "three", 5);
	is_int(queue_put_batch(q, in, 3, res), QUEUE_OK, "store 3");
	is_int(queue_next_for(q, "sip:bob@b", NOW, &m, &next),
	    QUEUE_ERR_NOTDUE, "bob's head not due");
	is_int(next, NOW + 100, "... next_attempt reported");
	is_int(queue_rcpt_pending(q, "sip:bob@b", &n), QUEUE_OK, "pending");
	is_int(n, 2, "bob has 2 pending");
	is_int(queue_rcpt_pending(q, "sip:eve@e", &n), QUEUE_OK,
	    "pending, unknown");
	is_int(n, 0, "... 0");

	memset(&l, 0, sizeof(l));
	is_int(queue_due_rcpts(q, NOW, rcpt_cb, &l), QUEUE_OK, "due rcpts");
	ok(l.n == 1 && strcmp(l.r[0], "sip:dan@d") == 0,
	    "only dan is due (head of line blocks bob)");
	memset(&l, 0, sizeof(l));
	is_int(queue_due_rcpts(q, INT64_MAX, rcpt_cb, &l), QUEUE_OK,
	    "schedule");
	ok(l.n == 2 && ((strcmp(l.r[0], "sip:bob@b") == 0 &&
	    l.na[0] == NOW + 100) || (strcmp(l.r[1], "sip:bob@b") == 0 &&
	    l.na[1] == NOW + 100)), "schedule has bob at his head's time");

	is_int(queue_next_for(q, "sip:bob@b", NOW + 100, &m, NULL), QUEUE_OK,
	    "due at next_attempt");
	ok(m.id == res[0].id, "... the head");
	queue_msg_cleanup(&m);
	is_int(queue_defer(q, res[0].id, NOW + 500), QUEUE_OK, "defer head");
	is_int(queue_next_for(q, "sip:bob@b", NOW + 200, &m, &next),
	    QUEUE_ERR_NOTDUE, "deferred head blocks the newer message");
	is_int(next, NOW + 500, "... until its new time");
	is_int(queue_get(q, res[0].id, &m), QUEUE_OK, "get");
	is_int(m.attempts, 1, "attempts counted");
	queue_msg_cleanup(&m);
	is_int(queue_defer(q, 12345, NOW), QUEUE_ERR_NOTFOUND,
	    "defer missing id");

	is_int(queue_flush(q, "sip:bob@b", &n), QUEUE_OK, "flush bob");
	is_int(n, 2, "... 2 messages");
	is_int(queue_next_for(q, "sip:bob@b", NOW, &m, NULL), QUEUE_OK,
	    "after flush: due now");
	ok(m.id == res[0].id && m.attempts == 1, "... the head, attempts kept");
	queue_msg_cleanup(&m);
	is_int(queue_flush(q, NULL, &n), QUEUE_OK, "flush all");
	is_int(n, 3, "... 3 messages");
	queue_close(q);
}

static void
test_quotas(void)
{
	struct queue_limits lim;
	struct queue_new in[8];
	struct queue_result res[8];
	static uint8_t big[300], mid[100];
	char p[PATH_MAX];
	struct queue *q;
	size_t i;
	static const int want[] = {
		QUEUE_OK,		/* bob 1 */
		QUEUE_OK,		/* bob 2 */
		QUEUE_ERR_FULL,		/* bob 3: per-recipient count */
		QUEUE_ERR_TOOBIG,	/* dan: over max_message_bytes */
		QUEUE_OK,		/* dan 100 bytes */
		QUEUE_ERR_FULL,		/* eve: global bytes (250 + 100) */
		QUEUE_ERR_INVAL,	/* no recipient */
		QUEUE_OK,		/* fay 1 byte */
	};

	memset(&lim, 0, sizeof(lim));
	lim.max_per_rcpt = 2;
	lim.max_bytes_per_rcpt = 1000;
	lim.max_total = 4;
	lim.max_bytes_total = 300;
	lim.max_message_bytes = 200;
	q = open_q(dbpath(p, sizeof(p), "quota"), &lim);
	in[0] = mk("sip:bob@b", "", NTP_2026, mid, 100);
	in[1] = mk("sip:bob@b", "", NTP_2026, mid, 50);
	in[2] = mk("sip:bob@b", "", NTP_2026, mid, 1);
	in[3] = mk("sip:dan@d", "", NTP_2026, big, sizeof(big));
	in[4] = mk("sip:dan@d", "", NTP_2026, mid, 100);
	in[5] = mk("sip:eve@e", "", NTP_2026, mid, 100);
	in[6] = mk("", "", NTP_2026, mid, 1);
	in[7] = mk("sip:fay@f", "", NTP_2026, mid, 1);
	is_int(queue_put_batch(q, in, 8, res), QUEUE_OK,
	    "mixed batch commits");
	for (i = 0; i < NELEM(want); i++)
		is_int(res[i].err, want[i], "message %zu: %s", i,
		    queue_strerror(want[i]));
	{
		struct queue_stats st;

		is_int(queue_stats(q, &st), QUEUE_OK, "stats");
		ok(st.messages == 4 && st.bytes == 251 && st.recipients == 3,
		    "4 stored, 251 bytes, 3 recipients (got %llu, %llu, %llu)",
		    (unsigned long long)st.messages,
		    (unsigned long long)st.bytes,
		    (unsigned long long)st.recipients);
	}
	/* now the global count (4) is reached */
	in[0] = mk("sip:gil@g", "", NTP_2026, mid, 1);
	is_int(put1(q, &in[0]), -QUEUE_ERR_FULL, "global count quota");
	/* per-recipient bytes */
	queue_close(q);
	lim.max_total = 100;
	lim.max_bytes_total = 100000;
	lim.max_bytes_per_rcpt = 160;
	q = open_q(p, &lim);
	in[0] = mk("sip:dan@d", "", NTP_2026, mid, 61);
	is_int(put1(q, &in[0]), -QUEUE_ERR_FULL,
	    "per-recipient bytes quota (100 + 61 > 160)");
	in[0] = mk("sip:dan@d", "", NTP_2026, mid, 60);
	ok(put1(q, &in[0]) > 0, "... 60 fits");
	is_int(queue_put_batch(q, in, 0, res), QUEUE_ERR_INVAL, "empty batch");
	is_int(queue_check(q), QUEUE_OK, "check");
	queue_close(q);
}

struct expired {
	int64_t	 id[8];
	char	 rcpt[8][32];
	int64_t	 expires[8];
	int	 n, stop_at;
};

static int
expire_cb(void *arg, const struct queue_msg *m)
{
	struct expired *e = arg;

	if (e->n == e->stop_at)
		return 1;
	if (e->n < 8) {
		e->id[e->n] = m->id;
		scopy(e->rcpt[e->n], sizeof(e->rcpt[0]), m->rcpt);
		e->expires[e->n] = m->expires;
	}
	e->n++;
	return 0;
}

static void
test_expire(void)
{
	struct queue_new in[4];
	struct queue_result res[4];
	struct expired e;
	struct queue_msg m;
	char p[PATH_MAX];
	struct queue *q;
	uint64_t n = 0;

	q = open_q(dbpath(p, sizeof(p), "expire"), NULL);
	in[0] = mk("sip:bob@b", "sip:a@a", NTP_2026, "a", 1);
	in[0].expires = NOW - 10;
	in[1] = mk("sip:bob@b", "sip:a@a", NTP_2026 + 1, "b", 1);
	in[2] = mk("sip:dan@d", "sip:a@a", NTP_2026, "c", 1);
	in[2].expires = NOW;
	in[3] = mk("sip:dan@d", "sip:a@a", NTP_2026, "d", 1);
	in[3].expires = NOW - 20;
	is_int(queue_put_batch(q, in, 4, res), QUEUE_OK, "store 4");

	memset(&e, 0, sizeof(e));
	e.stop_at = 1;
	is_int(queue_expire(q, NOW, expire_cb, &e, &n), QUEUE_OK,
	    "expire, callback stops after one");
	is_int(n, 1, "... one removed");
	ok(e.id[0] == res[3].id && e.expires[0] == NOW - 20,
	    "... the one that expired first");
	is_int(queue_get(q, res[0].id, &m), QUEUE_OK, "the others stay");
	queue_msg_cleanup(&m);

	memset(&e, 0, sizeof(e));
	e.stop_at = -1;
	is_int(queue_expire(q, NOW, expire_cb, &e, &n), QUEUE_OK, "expire");
	is_int(n, 2, "... two more removed");
	ok(e.n == 2 && e.id[0] == res[0].id && e.id[1] == res[2].id &&
	    strcmp(e.rcpt[0], "sip:bob@b") == 0, "... reported before removal");
	is_int(queue_get(q, res[0].id, &m), QUEUE_ERR_NOTFOUND, "removed");
	is_int(queue_get(q, res[1].id, &m), QUEUE_OK, "unexpired kept");
	queue_msg_cleanup(&m);
	is_int(queue_check(q), QUEUE_OK, "check (counters follow)");
	queue_close(q);
}

static void
test_damage(void)
{
	struct queue_new in[4];
	struct queue_result res[4];
	struct queue_msg m;
	struct collect c;
	struct queue_stats st;
	char p[PATH_MAX], s[256];
	struct queue *q;
	uint64_t n;

	q = open_q(dbpath(p, sizeof(p), "damage"), NULL);
	in[0] = mk("sip:bob@b", "sip:a@a", NTP_2026, "AAAAAAAA", 8);
	in[1] = mk("sip:bob@b", "sip:a@a", NTP_2026 + 1, "BBBBBBBB", 8);
	in[2] = mk("sip:bob@b", "sip:a@a", NTP_2026 + 2, "CCCCCCCC", 8);
	in[3] = mk("sip:bob@b", "sip:a@a", NTP_2026 + 3, "DDDDDDDD", 8);
	is_int(queue_put_batch(q, in, 4, res), QUEUE_OK, "store 4");
	/* same length, one byte changed; cut short; bytes lost */
	snprintf(s, sizeof(s), "UPDATE body SET data = X'4141414141414142' "
	    "WHERE id = %lld; UPDATE body SET data = X'4242' WHERE id = %lld;"
	    "DELETE FROM body WHERE id = %lld", (long long)res[0].id,
	    (long long)res[1].id, (long long)res[2].id);
	is_int(sql(p, s), SQLITE_OK, "damage 3 rows behind the queue's back");

	is_int(queue_next_for(q, "sip:bob@b", NOW, &m, NULL), QUEUE_OK,
	    "next_for skips the damaged rows");
	ok(m.id == res[3].id, "... and gives the first good one");
	is_mem(m.data, m.len, "DDDDDDDD", 8, "... intact");
	queue_msg_cleanup(&m);

	is_int(queue_get(q, res[0].id, &m), QUEUE_OK, "damaged row kept");
	ok(m.state == QUEUE_QUARANTINED && strstr(m.reason, "checksum"),
	    "quarantined: %s", m.reason);
	queue_msg_cleanup(&m);
	is_int(queue_get(q, res[1].id, &m), QUEUE_OK, "cut row kept");
	ok(m.state == QUEUE_QUARANTINED && strstr(m.reason, "size"),
	    "quarantined: %s", m.reason);
	queue_msg_cleanup(&m);
	is_int(queue_get(q, res[2].id, &m), QUEUE_OK, "row without bytes");
	ok(m.state == QUEUE_QUARANTINED && strstr(m.reason, "missing"),
	    "quarantined: %s", m.reason);
	queue_msg_cleanup(&m);

	memset(&c, 0, sizeof(c));
	is_int(queue_list(q, "sip:bob@b", 0, collect_cb, &c), QUEUE_OK,
	    "list ready");
	ok(c.n == 1 && c.id[0] == res[3].id, "only the good one is ready");
	memset(&c, 0, sizeof(c));
	is_int(queue_list(q, NULL, 1, collect_cb, &c), QUEUE_OK, "list all");
	ok(c.n == 4 && c.state[0] == QUEUE_READY &&
	    c.state[1] == QUEUE_QUARANTINED, "quarantined listed after ready");
	is_int(queue_stats(q, &st), QUEUE_OK, "stats");
	ok(st.messages == 4 && st.quarantined == 3,
	    "stats: 4 messages, 3 quarantined");
	is_int(queue_delete(q, res[3].id), QUEUE_OK, "deliver the good one");
	is_int(queue_next_for(q, "sip:bob@b", NOW, &m, NULL),
	    QUEUE_ERR_NOTFOUND, "quarantined never offered for delivery");
	is_int(queue_expire(q, NOW + 10 * 86400, expire_cb, &(struct expired){
	    .stop_at = -1 }, &n), QUEUE_OK, "expire long after");
	is_int(n, 0, "quarantined rows do not expire");
	is_int(queue_quarantine(q, 4242, "x"), QUEUE_ERR_NOTFOUND,
	    "quarantine missing id");
	is_int(queue_check(q), QUEUE_ERR_CORRUPT,
	    "check finds the message without bytes");
	ok(strstr(queue_last_error(q), "without bytes") != NULL, "... %s",
	    queue_last_error(q));
	is_int(queue_purge(q, QUEUE_PURGE_QUARANTINED, 0, &n), QUEUE_OK,
	    "purge quarantined");
	is_int(n, 3, "... 3");
	is_int(queue_check(q), QUEUE_OK, "check after purge");
	is_int(queue_stats(q, &st), QUEUE_OK, "stats");
	ok(st.messages == 0 && st.bytes == 0 && st.recipients == 0,
	    "empty again");
	queue_close(q);
}

static void
test_rstate(void)
{
	static const uint8_t img1[] = { 'R', 'C', 0, 1, 2, 3, 0, 0xff };
	static const uint8_t img2[] = { 'R', 'C', 0, 2, 9, 9, 9, 9, 9, 0 };
	struct queue_new in;
	char p[PATH_MAX];
	struct queue *q;
	uint8_t *img = NULL;
	size_t len = 0;
	int64_t id;

	q = open_q(dbpath(p, sizeof(p), "rstate"), NULL);
	is_int(queue_rstate_get(q, "sip:bob@b", &img, &len),
	    QUEUE_ERR_NOTFOUND, "no state yet");
	is_int(queue_rstate_put(q, "sip:bob@b", img1, sizeof(img1)), QUEUE_OK,
	    "put");
	is_int(queue_rstate_get(q, "sip:bob@b", &img, &len), QUEUE_OK, "get");
	is_mem(img, len, img1, sizeof(img1), "image round trip");
	free(img);
	in = mk("sip:bob@b", "sip:a@a", NTP_2026, "m", 1);
	id = put1(q, &in);
	is_int(queue_delete_with_rstate(q, id + 1, "sip:bob@b", img2,
	    sizeof(img2)), QUEUE_ERR_NOTFOUND, "delete+state of a missing id");
	is_int(queue_rstate_get(q, "sip:bob@b", &img, &len), QUEUE_OK, "get");
	is_mem(img, len, img1, sizeof(img1), "... state unchanged (atomic)");
	free(img);
	is_int(queue_delete_with_rstate(q, id, "sip:bob@b", img2,
	    sizeof(img2)), QUEUE_OK, "delete + state");
	queue_close(q);
	q = open_q(p, NULL);
	is_int(queue_rstate_get(q, "sip:bob@b", &img, &len), QUEUE_OK,
	    "get after reopen");
	is_mem(img, len, img2, sizeof(img2), "... the new image");
	free(img);
	{
		struct queue_msg m;

		is_int(queue_get(q, id, &m), QUEUE_ERR_NOTFOUND,
		    "... and the message is gone");
	}
	is_int(sql(p, "UPDATE rstate SET data = X'00'"), SQLITE_OK,
	    "damage the image");
	is_int(queue_rstate_get(q, "sip:bob@b", &img, &len), QUEUE_ERR_CORRUPT,
	    "damaged image refused");
	is_int(queue_rstate_put(q, "", img1, sizeof(img1)), QUEUE_ERR_INVAL,
	    "empty name refused");
	is_int(queue_rstate_delete(q, "sip:bob@b"), QUEUE_OK, "delete state");
	is_int(queue_rstate_delete(q, "sip:bob@b"), QUEUE_ERR_NOTFOUND,
	    "... gone");
	queue_close(q);
}

static void
test_schema(void)
{
	char p[PATH_MAX], err[512];
	struct queue *q = NULL;
	FILE *fp;
	int rc;

	q = open_q(dbpath(p, sizeof(p), "schema"), NULL);
	queue_close(q);
	q = NULL;
	is_int(sql(p, "PRAGMA user_version = 99"), SQLITE_OK, "version 99");
	rc = queue_open(p, NULL, &q, err, sizeof(err));
	is_int(rc, QUEUE_ERR_SCHEMA, "newer version refused");
	ok(q == NULL && strstr(err, "version 99") != NULL &&
	    strstr(err, "newer") != NULL, "... clearly: %s", err);

	dbpath(p, sizeof(p), "foreign");
	is_int(sql(p, "CREATE TABLE t (x)"), SQLITE_OK, "another database");
	rc = queue_open(p, NULL, &q, err, sizeof(err));
	is_int(rc, QUEUE_ERR_SCHEMA, "foreign database refused");
	ok(strstr(err, "not an imgate queue") != NULL, "... %s", err);

	dbpath(p, sizeof(p), "text");
	if ((fp = fopen(p, "w")) != NULL) {
		fputs("this is not a database, just some text that is long "
		    "enough to have a header ........................\n", fp);
		fclose(fp);
	}
	rc = queue_open(p, NULL, &q, err, sizeof(err));
	is_int(rc, QUEUE_ERR_CORRUPT, "a text file refused");
	ok(strstr(err, "not an SQLite database") != NULL, "... %s", err);
	rc = queue_open("/nonexistent-dir/q.db", NULL, &q, err, sizeof(err));
	ok(rc != QUEUE_OK && strstr(err, "cannot create") != NULL,
	    "missing directory: %s", err);
	ok(strcmp(queue_strerror(QUEUE_ERR_FULL), "queue quota exceeded") ==
	    0 && strcmp(queue_strerror(12345), "unknown queue error") == 0,
	    "strerror");
}

static void
test_reopen(void)
{
	struct queue_new in[20];
	struct queue_result res[20];
	struct queue_stats a, b;
	struct queue_msg m;
	char p[PATH_MAX], body[20][8];
	struct queue *q;
	int i;

	q = open_q(dbpath(p, sizeof(p), "reopen"), NULL);
	for (i = 0; i < 20; i++) {
		snprintf(body[i], sizeof(body[i]), "b%d", i);
		in[i] = mk(i % 3 ? "sip:bob@b" : "sip:dan@d", "sip:a@a",
		    NTP_2026 + (uint64_t)i, body[i], strlen(body[i]));
	}
	is_int(queue_put_batch(q, in, 20, res), QUEUE_OK, "store 20");
	is_int(queue_defer(q, res[1].id, NOW + 60), QUEUE_OK, "defer one");
	is_int(queue_quarantine(q, res[2].id, "set aside by test"), QUEUE_OK,
	    "quarantine one");
	is_int(queue_rstate_put(q, "gw", (const uint8_t *)"img", 3), QUEUE_OK,
	    "state");
	is_int(queue_stats(q, &a), QUEUE_OK, "stats");
	queue_close(q);
	q = open_q(p, NULL);
	ok(q != NULL, "reopen");
	is_int(queue_stats(q, &b), QUEUE_OK, "stats again");
	ok(memcmp(&a, &b, sizeof(a)) == 0 && b.messages == 20 &&
	    b.quarantined == 1 && b.recipients == 2 && b.rstates == 1 &&
	    b.oldest_arrived == NOW, "same figures after reopen");
	is_int(queue_get(q, res[1].id, &m), QUEUE_OK, "deferred");
	ok(m.next_attempt == NOW + 60 && m.attempts == 1, "... still deferred");
	queue_msg_cleanup(&m);
	is_int(queue_get(q, res[2].id, &m), QUEUE_OK, "quarantined");
	ok(m.state == QUEUE_QUARANTINED &&
	    strcmp(m.reason, "set aside by test") == 0, "... still: %s",
	    m.reason);
	queue_msg_cleanup(&m);
	is_int(queue_get(q, res[19].id, &m), QUEUE_OK, "last");
	is_mem(m.data, m.len, "b19", 3, "... bytes kept");
	queue_msg_cleanup(&m);
	is_int(queue_check(q), QUEUE_OK, "check");
	queue_close(q);
}

#define KILL_BATCH	32

struct batchcount {
	int	 n[100000];
	int	 bad;
};

static int
batch_cb(void *arg, const struct queue_msg *m)
{
	struct batchcount *b = arg;
	uint64_t k = m->mikey_t - NTP_2026;

	if (k / KILL_BATCH >= NELEM(b->n))
		b->bad++;
	else
		b->n[k / KILL_BATCH]++;
	return 0;
}

/* the child: store batches until killed, report each after its commit */
static void
kill_child(const char *p, int fd)
{
	struct queue_limits lim;
	struct queue_new in[KILL_BATCH];
	struct queue_result res[KILL_BATCH];
	static uint8_t data[1500];
	struct queue *q;
	uint32_t b;
	int i;

	memset(&lim, 0, sizeof(lim));
	lim.max_per_rcpt = lim.max_total = UINT64_MAX;
	lim.max_bytes_per_rcpt = lim.max_bytes_total = UINT64_MAX;
	if ((q = open_q(p, &lim)) == NULL)
		_exit(2);
	memset(data, 'x', sizeof(data));
	for (b = 0; b < 100000; b++) {
		for (i = 0; i < KILL_BATCH; i++)
			in[i] = mk("sip:bob@b", "sip:a@a", NTP_2026 +
			    (uint64_t)b * KILL_BATCH + (uint64_t)i, data,
			    sizeof(data));
		if (queue_put_batch(q, in, KILL_BATCH, res) != QUEUE_OK)
			_exit(3);
		if (write(fd, &b, sizeof(b)) != sizeof(b))
			_exit(4);
	}
	_exit(0);
}

static void
test_kill9(void)
{
	struct batchcount *bc;
	char p[PATH_MAX];
	struct queue *q;
	uint32_t b, acked = 0;
	int fds[2], status, got = 0, partial = 0, missing = 0, i;
	pid_t pid;
	ssize_t r;

	dbpath(p, sizeof(p), "kill9");
	if (pipe(fds) == -1 || (pid = fork()) == -1) {
		ok(0, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		close(fds[0]);
		kill_child(p, fds[1]);
	}
	close(fds[1]);
	/* let it commit a few dozen batches, then kill it mid-loop */
	while (got < 40 && (r = read(fds[0], &b, sizeof(b))) == sizeof(b)) {
		acked = b + 1;
		got++;
	}
	kill(pid, SIGKILL);
	while ((r = read(fds[0], &b, sizeof(b))) == sizeof(b))
		acked = b + 1;
	close(fds[0]);
	waitpid(pid, &status, 0);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "child killed with SIGKILL after %u acknowledged batches", acked);

	bc = calloc(1, sizeof(*bc));
	q = open_q(p, NULL);
	ok(q != NULL && bc != NULL, "reopen after kill -9");
	if (q == NULL || bc == NULL) {
		free(bc);
		queue_close(q);
		return;
	}
	is_int(queue_list(q, NULL, 1, batch_cb, bc), QUEUE_OK, "list");
	for (i = 0; i < (int)NELEM(bc->n); i++) {
		if (bc->n[i] != 0 && bc->n[i] != KILL_BATCH)
			partial++;
		if ((uint32_t)i < acked && bc->n[i] != KILL_BATCH)
			missing++;
	}
	is_int(missing, 0, "every acknowledged batch is there complete");
	is_int(partial + bc->bad, 0, "no partial batch");
	is_int(queue_check(q), QUEUE_OK, "check: counters consistent");
	queue_close(q);
	free(bc);
}

static void
test_busy_memory(void)
{
	struct queue_limits lim;
	struct queue_new in;
	struct queue_msg m;
	char p[PATH_MAX];
	struct queue *q;
	sqlite3 *db = NULL;
	int64_t id;
	double t;
	struct timespec a, b;

	memset(&lim, 0, sizeof(lim));
	lim.busy_ms = 200;
	q = open_q(dbpath(p, sizeof(p), "busy"), &lim);
	in = mk("sip:bob@b", "sip:a@a", NTP_2026, "m", 1);
	id = put1(q, &in);
	ok(id > 0, "stored one");
	ok(sqlite3_open(p, &db) == SQLITE_OK && sqlite3_exec(db,
	    "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK,
	    "another process holds the write lock");
	clock_gettime(CLOCK_MONOTONIC, &a);
	is_int(put1(q, &in), -QUEUE_ERR_BUSY, "put waits, then says busy");
	clock_gettime(CLOCK_MONOTONIC, &b);
	t = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) /
	    1e9;
	ok(t >= 0.15 && t < 5, "... after the busy timeout (%.2f s)", t);
	ok(strstr(queue_last_error(q), "locked") != NULL, "... %s",
	    queue_last_error(q));
	is_int(queue_get(q, id, &m), QUEUE_OK, "readers are not blocked");
	queue_msg_cleanup(&m);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	ok(put1(q, &in) > 0, "lock released: stored");
	is_int(queue_check(q), QUEUE_OK, "check");
	queue_close(q);

	q = open_q(":memory:", NULL);
	ok(q != NULL, ":memory: store");
	ok(put1(q, &in) > 0, "... stores");
	is_int(queue_next_for(q, "sip:bob@b", NOW, &m, NULL), QUEUE_OK,
	    "... delivers");
	queue_msg_cleanup(&m);
	ok(access(":memory:", F_OK) == -1, "... and made no file");
	queue_close(q);
}

int
main(void)
{
	char cmd[sizeof(dir) + 16];
	const char *t = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/t_queue.XXXXXX", t != NULL && *t ?
	    t : "/tmp");
	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_open_modes();
	test_round_trip();
	test_order();
	test_due();
	test_quotas();
	test_expire();
	test_damage();
	test_rstate();
	test_schema();
	test_reopen();
	test_kill9();
	test_busy_memory();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return done_testing();
}
