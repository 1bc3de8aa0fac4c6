/*
 * queue/queue.h - the durable deferred-delivery store and the persistent
 *	replay-cache state (SQLite, WAL)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	When the recipient of an inbound protected MESSAGE is offline, the
 *	gateway stores the request and answers 202 Accepted; it delivers
 *	later, per recipient, oldest MIKEY timestamp first, one in flight
 *	(design.md section 3 "Deferred delivery", spec/smime-sip.md 2.6).
 *	This module is that store and nothing else: no crypto, no SIP, no
 *	event loop, no policy (retry schedule, expiry age, reports are the
 *	gateway's).  It keeps:
 *
 *	- messages: the *protected* request bytes verbatim (never parsed or
 *	  re-encoded: design.md 7, peers lost Content-Type parameters), with
 *	  recipient and sender AoRs, the MIKEY timestamp T of the
 *	  TRANSFER_INIT (the delivery order), arrival, attempts, next
 *	  attempt, expiry, a state (ready or quarantined) and a reason;
 *	- replay-cache state: opaque images (imgate_ctx_save_replay()) under
 *	  a name the caller chooses, e.g. one per identity the gateway
 *	  unwraps for, so a restart does not reopen replays.
 *
 *	DURABILITY.  A 202 is sent only after queue_put_batch() returned, so
 *	a commit must survive the process being killed and the machine
 *	losing power.  In WAL mode synchronous=NORMAL already survives
 *	kill -9 (a commit is a write(2) into the WAL, which the kernel keeps
 *	once the process is gone) but not power loss: the WAL is fsync'd
 *	only at checkpoints, so the last commits can roll back - and the
 *	sender, told 202, will not send again.  We therefore run
 *	synchronous=FULL (one fsync of the WAL per commit) and pay for it
 *	with grouped commits: queue_put_batch() stores many messages in one
 *	transaction, one fsync (tests/bench/bench_queue.c measures it).
 *	QUEUE_SYNC_NORMAL exists for tests and for deployments that accept
 *	the power-loss window knowingly.  Deletion after a 2xx is durable
 *	in the same way, so a kill -9 right after a delivery does not
 *	deliver again (design.md 7); the replay cache catches anything that
 *	still slips through, and queue_delete_with_rstate() writes "deleted"
 *	and the new replay state in one transaction.
 *
 *	INTEGRITY.  Every message row carries a 64-bit FNV-1a checksum over
 *	its routing fields and its bytes (not a MAC: it finds damage, not
 *	forgery; the bytes are authenticated end to end by CMS and MIKEY).
 *	A row that cannot be read back - checksum or size mismatch, missing
 *	body, a field of the wrong type or length - is quarantined with a
 *	reason, never silently dropped (the corrupt queue of Postfix's
 *	qmgr): it stays on disk for the administrator (imgatectl queue list
 *	--all, show, purge --quarantined) and is never returned for
 *	delivery.  Quarantined messages still count against the quotas
 *	(they take disk) until purged, and do not expire.
 *
 *	ORDER.  Delivery is oldest T first per recipient, head of line: if
 *	the oldest ready message of a recipient is not due (deferred),
 *	nothing of that recipient is due, even newer messages - delivering
 *	a newer T first could make the count-window replay cache reject
 *	the older one (spec/smime-sip.md 2.6).  T is an NTP-UTC 64-bit
 *	timestamp (RFC 3830 6.6); it is stored as the same 64 bits read as
 *	a signed integer, which orders correctly over the whole RFC 4330
 *	era window 1968-2104 (era 0 has the top bit set, so it is negative
 *	and sorts before era 1).  Ties are broken by id (arrival).
 *
 *	MEMORY.  Nothing is kept in memory per stored message: counters
 *	live in the database (maintained by triggers, so imgatectl and the
 *	gateway agree), listings iterate with sqlite3_step() and never load
 *	message bytes, the bytes sit in their own table so that scans of
 *	the metadata stay cheap, and only the one message being delivered
 *	is loaded.  SQLite's page cache is bounded (its default, 2 MB).
 *
 *	SHARING.  The gateway's storage thread and imgatectl may use the
 *	same file at once: WAL lets readers run beside the writer, and a
 *	busy timeout (default 5 s) makes a writer wait for the other.
 *
 *	FILES.  A new database is created with mode 0600 (SQLite gives the
 *	-wal and -shm files the mode of the database).  The schema version
 *	is PRAGMA user_version and the file is marked with PRAGMA
 *	application_id; a file of a newer version, of another application
 *	or not a database is refused with a message saying so, never
 *	changed.
 *
 * THREADS
 *	A struct queue is one SQLite connection: use it from one thread at
 *	a time (the gateway uses it from its storage thread only).  Several
 *	struct queue, in one or more processes, may share a file.
 *	Callbacks must not call functions on the struct queue that calls
 *	them.
 *
 * ERRORS
 *	Every function that can fail returns QUEUE_OK (0) or a QUEUE_ERR_*
 *	code (queue_strerror()); queue_last_error() has the detail (SQLite's
 *	message, which row, which limit) for the log.  Output parameters
 *	are written only on success.  Nothing aborts; every length is
 *	checked against the limits below.
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __GNUC__
#define QUEUE_WUR __attribute__((warn_unused_result))
#else
#define QUEUE_WUR
#endif

/* --------------------------------------------------------------------- */
/* Errors */

enum queue_err {
	QUEUE_OK = 0,
	QUEUE_ERR_BASE = 0x515500,	/* "QU" */
	QUEUE_ERR_NOMEM = QUEUE_ERR_BASE,	/* allocation failed */
	QUEUE_ERR_INVAL,	/* caller passed an invalid argument */
	QUEUE_ERR_NOTFOUND,	/* no such message, recipient or state */
	QUEUE_ERR_NOTDUE,	/* the recipient's head is not due yet */
	QUEUE_ERR_FULL,		/* a count or byte quota would be exceeded */
	QUEUE_ERR_TOOBIG,	/* message over max_message_bytes */
	QUEUE_ERR_BUSY,		/* the database stayed locked (busy timeout) */
	QUEUE_ERR_IO,		/* I/O error or disk full */
	QUEUE_ERR_CORRUPT,	/* damaged database, row or state image */
	QUEUE_ERR_SCHEMA,	/* not an imgate queue, or a newer version */
	QUEUE_ERR_READONLY,	/* the file cannot be written */
	QUEUE_ERR_DB,		/* any other SQLite failure */
	QUEUE_ERR_LAST
};

/* queue_strerror - stable text for a QUEUE_ERR_* code (never NULL) */
const char *queue_strerror(int err);

/* --------------------------------------------------------------------- */
/* Limits and constants */

#define QUEUE_SCHEMA_VERSION	1	/* PRAGMA user_version we write */
#define QUEUE_APPLICATION_ID	0x696d6751	/* "imgQ" */
#define QUEUE_MAX_AOR		512	/* bytes of a recipient/sender AoR */
#define QUEUE_MAX_REASON	256	/* bytes of a quarantine reason */
#define QUEUE_MAX_NAME		512	/* bytes of a replay-state name */
/* the largest max_message_bytes, and a replay-state image */
#define QUEUE_MAX_MESSAGE	(16 * 1024 * 1024)
#define QUEUE_MAX_RSTATE	(64 * 1024 * 1024)
#define QUEUE_MAX_BATCH		4096	/* messages in one queue_put_batch */

/* Defaults of struct queue_limits (a 0 member means its default). */
#define QUEUE_DEFAULT_MAX_PER_RCPT	1000
#define QUEUE_DEFAULT_MAX_BYTES_PER_RCPT (16ULL * 1024 * 1024)
#define QUEUE_DEFAULT_MAX_TOTAL		1000000
#define QUEUE_DEFAULT_MAX_BYTES_TOTAL	(4ULL * 1024 * 1024 * 1024)
#define QUEUE_DEFAULT_MAX_MESSAGE	(256 * 1024)
#define QUEUE_DEFAULT_BUSY_MS		5000

/* Flags of struct queue_limits. */
#define QUEUE_F_NOCREATE	0x01	/* refuse to create a missing file */
#define QUEUE_F_SYNC_NORMAL	0x02	/* synchronous=NORMAL: DURABILITY */

/*
 * How the store is opened and what it accepts.  Zero-initialise and set
 * what you need: a 0 quota means its QUEUE_DEFAULT_*, UINT64_MAX means no
 * quota.  Quotas count every stored message, quarantined ones included.
 */
struct queue_limits {
	uint64_t	 max_per_rcpt;		/* messages of one recipient */
	uint64_t	 max_bytes_per_rcpt;	/* their bytes */
	uint64_t	 max_total;		/* messages in the store */
	uint64_t	 max_bytes_total;	/* their bytes */
	size_t		 max_message_bytes;	/* one message; capped at
						   QUEUE_MAX_MESSAGE */
	int		 busy_ms;	/* wait for a lock (0: default) */
	unsigned int	 flags;		/* QUEUE_F_* */
};

/* --------------------------------------------------------------------- */
/* Messages */

enum queue_state {
	QUEUE_READY = 0,	/* waiting for delivery */
	QUEUE_QUARANTINED = 1	/* unreadable or set aside: not delivered */
};

/*
 * A stored message as read back.  Strings are NUL-terminated copies.
 * data is an owner pointer (malloc'd, len bytes) only where a function
 * says it loads the bytes; NULL otherwise.  Caller-owned: release with
 * queue_msg_cleanup().
 */
struct queue_msg {
	int64_t		 id;		/* > 0, unique, rises with arrival */
	char		 rcpt[QUEUE_MAX_AOR + 1];
	char		 sender[QUEUE_MAX_AOR + 1];
	uint64_t	 mikey_t;	/* NTP-UTC T of the TRANSFER_INIT */
	int64_t		 arrived;	/* Unix seconds */
	int64_t		 next_attempt;	/* Unix seconds; 0 = at once */
	int64_t		 expires;	/* Unix seconds */
	uint32_t	 attempts;	/* delivery attempts deferred so far */
	enum queue_state state;
	char		 reason[QUEUE_MAX_REASON + 1];	/* "" when ready */
	size_t		 len;		/* bytes of the request */
	uint8_t		*data;		/* the request, or NULL (see above) */
};

/* queue_msg_cleanup - free m->data and clear m; m may be reused */
void queue_msg_cleanup(struct queue_msg *m);

/* A message to store; every pointer is borrowed for the call. */
struct queue_new {
	const char	*rcpt;		/* AoR, 1..QUEUE_MAX_AOR bytes */
	const char	*sender;	/* AoR, 0..QUEUE_MAX_AOR bytes */
	uint64_t	 mikey_t;
	int64_t		 arrived;
	int64_t		 next_attempt;
	int64_t		 expires;
	const uint8_t	*data;		/* the request bytes, verbatim */
	size_t		 len;		/* 1..max_message_bytes */
};

/* The outcome of one message of a batch. */
struct queue_result {
	int		 err;	/* QUEUE_OK, QUEUE_ERR_FULL, _TOOBIG, _INVAL */
	int64_t		 id;	/* the new id when err is QUEUE_OK, else 0 */
};

struct queue;

/* --------------------------------------------------------------------- */
/* Opening */

/*
 * queue_open - open (or create, mode 0600) the store at path with lim
 *	(NULL: all defaults): WAL, synchronous=FULL unless
 *	QUEUE_F_SYNC_NORMAL, busy timeout, schema checked or created.  On
 *	failure returns the code and writes a sentence for the operator to
 *	err (errlen bytes, may be 0): a newer schema version, a file of
 *	another application, not a database, cannot create.  *q_out is set
 *	only on success; free with queue_close().  path ":memory:" gives a
 *	private store in memory that is gone at queue_close() (for tests
 *	of the callers; no durability, and memory does grow with it).
 */
QUEUE_WUR int queue_open(const char *path, const struct queue_limits *lim,
    struct queue **q_out, char *err, size_t errlen);

/* queue_close - finalise and close; NULL is a no-op.  Commits are
 *	already durable: closing adds nothing to them. */
void queue_close(struct queue *q);

/* queue_last_error - detail of the last failure on q ("" after none);
 *	valid until the next call on q */
const char *queue_last_error(const struct queue *q);

/* --------------------------------------------------------------------- */
/* Storing and delivering */

/*
 * queue_put_batch - store n (1..QUEUE_MAX_BATCH) messages in ONE
 *	transaction (a grouped commit: one fsync for all).  Each message
 *	gets its own result: QUEUE_OK and its id, QUEUE_ERR_FULL (a
 *	recipient or global quota, counted with the earlier messages of the
 *	batch), QUEUE_ERR_TOOBIG or QUEUE_ERR_INVAL (bad AoR, empty data).
 *	Returns QUEUE_OK when the transaction committed: every message with
 *	a QUEUE_OK result is then durable and may be acknowledged.  Any
 *	other return (I/O, busy, ...) means the whole batch was rolled
 *	back: nothing of it is stored, and every result holds that code.
 */
QUEUE_WUR int queue_put_batch(struct queue *q, const struct queue_new *msgs,
    size_t n, struct queue_result *results);

/*
 * queue_next_for - the head of rcpt's queue: its ready message with the
 *	oldest mikey_t (then lowest id), with its bytes loaded, if it is due
 *	(next_attempt <= now).  QUEUE_ERR_NOTDUE if the head is not due
 *	(*next_out, when not NULL, gets its next_attempt), QUEUE_ERR_NOTFOUND
 *	if rcpt has no ready message.  A head that cannot be read back is
 *	quarantined (durably, with the reason) and the next one tried.
 *	Caller cleans *msg_out up.
 */
QUEUE_WUR int queue_next_for(struct queue *q, const char *rcpt, int64_t now,
    struct queue_msg *msg_out, int64_t *next_out);

/*
 * queue_rcpt_cb - one recipient and the next_attempt of its head.
 *	Return 0 to go on, anything else to stop.
 */
typedef int (*queue_rcpt_cb)(void *arg, const char *rcpt,
    int64_t next_attempt);

/*
 * queue_due_rcpts - call cb for each recipient whose head (above) is due
 *	at now, in no particular order.  now = INT64_MAX gives every
 *	recipient with a ready message and its head's next_attempt: the
 *	schedule to rebuild at startup.  Costs one index probe per
 *	recipient; loads no message.
 */
QUEUE_WUR int queue_due_rcpts(struct queue *q, int64_t now, queue_rcpt_cb cb,
    void *arg);

/* queue_rcpt_pending - how many ready messages rcpt has (0 if none) */
QUEUE_WUR int queue_rcpt_pending(struct queue *q, const char *rcpt,
    uint64_t *count_out);

/* queue_get - message id with its bytes (any state); its checksum is
 *	verified, and a damaged ready row is quarantined first (the result
 *	then says QUEUE_QUARANTINED and why).  Caller cleans *msg_out up. */
QUEUE_WUR int queue_get(struct queue *q, int64_t id,
    struct queue_msg *msg_out);

/* queue_delete - remove message id durably (after a 2xx) */
QUEUE_WUR int queue_delete(struct queue *q, int64_t id);

/*
 * queue_delete_with_rstate - remove message id and store the replay-
 *	state image (name, len bytes) in one durable transaction: both or
 *	neither.  QUEUE_ERR_NOTFOUND (and nothing written) if id is gone.
 */
QUEUE_WUR int queue_delete_with_rstate(struct queue *q, int64_t id,
    const char *name, const uint8_t *img, size_t len);

/* queue_defer - ready message id: attempts + 1, next_attempt set */
QUEUE_WUR int queue_defer(struct queue *q, int64_t id, int64_t next_attempt);

/* queue_quarantine - set message id aside with reason (truncated to
 *	QUEUE_MAX_REASON bytes); it is kept and never delivered */
QUEUE_WUR int queue_quarantine(struct queue *q, int64_t id,
    const char *reason);

/*
 * queue_msg_cb - one message (m->data is NULL: bytes are not loaded);
 *	m is valid during the call only.  Return 0 to go on (for
 *	queue_expire: and delete it), anything else to stop.
 */
typedef int (*queue_msg_cb)(void *arg, const struct queue_msg *m);

/*
 * queue_expire - for every ready message with expires <= now: call cb
 *	(so the caller can report to the sender), then delete it.  Works in
 *	bounded chunks, each deleted in one transaction after its
 *	callbacks; if cb returns non-zero that message and the rest stay.
 *	*n_out (may be NULL) gets the number deleted.
 */
QUEUE_WUR int queue_expire(struct queue *q, int64_t now, queue_msg_cb cb,
    void *arg, uint64_t *n_out);

/* --------------------------------------------------------------------- */
/* Administration (imgatectl queue) */

/*
 * queue_list - call cb for the messages of rcpt (NULL: all recipients),
 *	ordered by recipient, then delivery order; quarantined ones only
 *	when all is set.  Never loads message bytes.
 */
QUEUE_WUR int queue_list(struct queue *q, const char *rcpt, int all,
    queue_msg_cb cb, void *arg);

struct queue_stats {
	uint64_t	 messages;	/* stored, quarantined included */
	uint64_t	 bytes;		/* their request bytes */
	uint64_t	 quarantined;
	uint64_t	 recipients;	/* with at least one stored message */
	uint64_t	 rstates;	/* replay-state images */
	int64_t		 oldest_arrived;	/* of the lowest id; 0 */
	int		 schema_version;
};

/* queue_stats - counters (O(recipients + quarantined), loads no bytes) */
QUEUE_WUR int queue_stats(struct queue *q, struct queue_stats *st_out);

enum queue_purge_what {
	QUEUE_PURGE_ID,			/* the message id */
	QUEUE_PURGE_ALL,		/* every message */
	QUEUE_PURGE_QUARANTINED		/* every quarantined message */
};

/* queue_purge - delete messages without delivering them; *n_out (may be
 *	NULL) gets how many.  PURGE_ID of a missing id: QUEUE_ERR_NOTFOUND. */
QUEUE_WUR int queue_purge(struct queue *q, enum queue_purge_what what,
    int64_t id, uint64_t *n_out);

/* queue_flush - next_attempt = 0 for the ready messages of rcpt (NULL:
 *	all), so the gateway retries now; *n_out (may be NULL) gets how
 *	many.  The gateway sees it when it next asks queue_due_rcpts(). */
QUEUE_WUR int queue_flush(struct queue *q, const char *rcpt,
    uint64_t *n_out);

/*
 * queue_check - invariant checker for tests and "imgatectl queue stats
 *	--check": SQLite's quick_check, the counters against the rows,
 *	every message has its bytes.  QUEUE_ERR_CORRUPT and the first
 *	problem in queue_last_error() if not.
 */
QUEUE_WUR int queue_check(struct queue *q);

/* --------------------------------------------------------------------- */
/* Replay-cache state */

/* queue_rstate_put - store (replace) the image under name durably */
QUEUE_WUR int queue_rstate_put(struct queue *q, const char *name,
    const uint8_t *img, size_t len);

/*
 * queue_rstate_get - the image stored under name: *img_out malloc'd
 *	(free()), *len_out its length.  QUEUE_ERR_NOTFOUND if none,
 *	QUEUE_ERR_CORRUPT if its checksum does not match (the caller must
 *	then treat the replay state as lost).
 */
QUEUE_WUR int queue_rstate_get(struct queue *q, const char *name,
    uint8_t **img_out, size_t *len_out);

/* queue_rstate_delete - forget the image under name (NOTFOUND if none) */
QUEUE_WUR int queue_rstate_delete(struct queue *q, const char *name);

#endif /* QUEUE_H */
