/*
 * gateway/gw_store.h - the storage thread of the gateway (design.md 6:
 *	one libevent loop plus one storage thread; the loop never waits on
 *	the disk)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "queue/queue.h"

struct gw_store;

enum gw_job_kind {
	GW_JOB_PUT,		/* in: nw (+ copies); out: err, id */
	GW_JOB_NEXT,		/* in: rcpt, now, when (1: flush its
				 * back-off first); out: err, msg */
	GW_JOB_DELETE,		/* in: id, img (replay state, may be NULL) */
	GW_JOB_DEFER,		/* in: id, when */
	GW_JOB_QUARANTINE,	/* in: id, reason */
	GW_JOB_EXPIRE,		/* in: now; out: expired (array of msgs) */
	GW_JOB_DUE,		/* in: now; out: rcpts (array of strings) */
	GW_JOB_RSTATE		/* in: img (replay state) */
};

struct gw_job;
typedef void (*gw_job_done)(void *arg, struct gw_job *j);

/*
 * One request to the storage thread.  The loop fills the "in" part,
 * submits it, and gets it back in done() on the loop thread with the
 * "out" part filled; gw_job_free() then.
 */
struct gw_job {
	enum gw_job_kind kind;
	struct gw_job	*next;
	gw_job_done	 done;
	void		*arg;
	/* in */
	struct queue_new nw;		/* PUT: pointers to the copies below */
	char		*rcpt;
	char		*sender;
	uint8_t		*data;
	size_t		 len;
	int64_t		 id;
	int64_t		 now;
	int64_t		 when;
	char		*reason;
	uint8_t		*img;		/* replay-state image, or NULL */
	size_t		 img_len;
	/* out */
	int		 err;		/* QUEUE_OK or QUEUE_ERR_* */
	int64_t		 next_attempt;	/* NEXT: NOTDUE's next attempt */
	struct queue_msg msg;		/* NEXT: with its bytes */
	struct queue_msg *expired;	/* EXPIRE: without bytes */
	size_t		 nexpired;
	char		**rcpts;	/* DUE */
	size_t		 nrcpts;
};

/*
 * gw_store_new - open the store at path (queue_open with lim) in a new
 *	thread; completions are delivered on base's loop (libevent must have
 *	evthread_use_pthreads()).  NULL with err filled on failure.
 *	rstate_name, when not NULL, names the replay-state image that
 *	DELETE and RSTATE jobs write; *img_out/len_out (may be NULL) get
 *	the stored one at start (malloc'd; NULL if none).
 */
struct gw_store *gw_store_new(struct event_base *base, const char *path,
    const struct queue_limits *lim, const char *rstate_name,
    uint8_t **img_out, size_t *len_out, char *err, size_t errlen);

/* gw_store_free - finish every submitted job (their done callbacks are
 *	not called), stop the thread, close the store */
void gw_store_free(struct gw_store *s);

/* gw_job_new - a zeroed job of that kind; NULL if out of memory */
struct gw_job *gw_job_new(enum gw_job_kind kind, gw_job_done done,
    void *arg);
void gw_job_free(struct gw_job *j);

/* gw_store_submit - hand j to the storage thread (it owns j until done) */
void gw_store_submit(struct gw_store *s, struct gw_job *j);

/* gw_store_batches - grouped commits so far and messages in them */
void gw_store_counts(const struct gw_store *s, uint64_t *batches,
    uint64_t *stored);

#endif /* GW_STORE_H */
