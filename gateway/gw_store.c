/*
 * gateway/gw_store.c - the storage thread
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * The loop submits jobs to a list under a mutex; the thread takes all
 * that are waiting at once, runs every PUT among them in ONE
 * queue_put_batch (a grouped commit: one fsync for all, so the rate of
 * durable enqueues grows with the load), the others one by one, and
 * hands the finished jobs back through a list and event_active() on an
 * event of the loop.  A 202 Accepted is sent from a PUT's done(), that
 * is after its commit returned (design.md 7).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gw_store.h"

struct gw_store {
	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct gw_job	*in, **in_tail;
	struct gw_job	*out, **out_tail;
	int		 stop;
	int		 started;
	struct event	*ev;
	struct queue	*q;
	char		*rname;
	uint64_t	 batches;	/* read on the loop: approximate */
	uint64_t	 stored;
};

struct gw_job *
gw_job_new(enum gw_job_kind kind, gw_job_done done, void *arg)
{
	struct gw_job *j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->kind = kind;
	j->done = done;
	j->arg = arg;
	return j;
}

void
gw_job_free(struct gw_job *j)
{
	size_t i;

	if (j == NULL)
		return;
	free(j->rcpt);
	free(j->sender);
	free(j->data);
	free(j->reason);
	free(j->img);
	queue_msg_cleanup(&j->msg);
	for (i = 0; i < j->nexpired; i++)
		queue_msg_cleanup(&j->expired[i]);
	free(j->expired);
	for (i = 0; i < j->nrcpts; i++)
		free(j->rcpts[i]);
	free(j->rcpts);
	free(j);
}

/* ---------------------------------------------------------------------- */
/* The thread */

static int
due_cb(void *arg, const char *rcpt, int64_t next)
{
	struct gw_job *j = arg;
	char **n;

	(void)next;
	if ((n = realloc(j->rcpts, (j->nrcpts + 1) * sizeof(*n))) == NULL)
		return 1;
	j->rcpts = n;
	if ((n[j->nrcpts] = strdup(rcpt)) == NULL)
		return 1;
	j->nrcpts++;
	return 0;
}

static int
expire_cb(void *arg, const struct queue_msg *m)
{
	struct gw_job *j = arg;
	struct queue_msg *n;

	if (j->nexpired >= 1000)
		return 1;	/* the rest in the next round: bounded memory */
	if ((n = realloc(j->expired, (j->nexpired + 1) * sizeof(*n))) ==
	    NULL)
		return 1;	/* keep it; the next round reports it */
	j->expired = n;
	n[j->nexpired] = *m;
	n[j->nexpired].data = NULL;
	j->nexpired++;
	return 0;
}

static void
run_one(struct gw_store *s, struct gw_job *j)
{
	switch (j->kind) {
	case GW_JOB_PUT:	/* batched by the caller */
		break;
	case GW_JOB_NEXT:
		/* when = 1: the user just came online: retry now */
		if (j->when == 1 && queue_flush(s->q, j->rcpt, NULL) !=
		    QUEUE_OK) {
			/* not fatal: the back-off just stays */
		}
		j->err = queue_next_for(s->q, j->rcpt, j->now, &j->msg,
		    &j->next_attempt);
		break;
	case GW_JOB_DELETE:
		if (j->img != NULL && s->rname != NULL)
			j->err = queue_delete_with_rstate(s->q, j->id, s->rname,
			    j->img, j->img_len);
		else
			j->err = queue_delete(s->q, j->id);
		break;
	case GW_JOB_DEFER:
		j->err = queue_defer(s->q, j->id, j->when);
		break;
	case GW_JOB_QUARANTINE:
		j->err = queue_quarantine(s->q, j->id, j->reason != NULL ?
		    j->reason : "");
		break;
	case GW_JOB_EXPIRE:
		j->err = queue_expire(s->q, j->now, expire_cb, j, NULL);
		break;
	case GW_JOB_DUE:
		j->err = queue_due_rcpts(s->q, j->now, due_cb, j);
		break;
	case GW_JOB_RSTATE:
		j->err = s->rname == NULL ? QUEUE_ERR_INVAL :
		    queue_rstate_put(s->q, s->rname, j->img, j->img_len);
		break;
	}
}

/* run_puts - the PUT jobs of a list in grouped commits */
static void
run_puts(struct gw_store *s, struct gw_job **puts, size_t n)
{
	struct queue_new *nw;
	struct queue_result *res;
	size_t i, k, m;
	int rc;

	for (k = 0; k < n; k += m) {
		m = n - k < QUEUE_MAX_BATCH ? n - k : QUEUE_MAX_BATCH;
		nw = calloc(m, sizeof(*nw));
		res = calloc(m, sizeof(*res));
		if (nw == NULL || res == NULL) {
			for (i = 0; i < m; i++)
				puts[k + i]->err = QUEUE_ERR_NOMEM;
			free(nw);
			free(res);
			continue;
		}
		for (i = 0; i < m; i++)
			nw[i] = puts[k + i]->nw;
		rc = queue_put_batch(s->q, nw, m, res);
		for (i = 0; i < m; i++) {
			puts[k + i]->err = rc != QUEUE_OK ? rc : res[i].err;
			puts[k + i]->id = res[i].id;
		}
		if (rc == QUEUE_OK) {
			s->batches++;
			s->stored += m;
		}
		free(nw);
		free(res);
	}
}

static void *
thread_main(void *arg)
{
	struct gw_store *s = arg;
	struct gw_job *list, *j, *next, **puts = NULL;
	size_t n, cap = 0;

	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (s->in == NULL && !s->stop)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->in == NULL && s->stop) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		list = s->in;
		s->in = NULL;
		s->in_tail = &s->in;
		pthread_mutex_unlock(&s->mu);

		/* the PUTs first, in one commit; then the rest in order */
		for (n = 0, j = list; j != NULL; j = j->next)
			if (j->kind == GW_JOB_PUT) {
				if (n == cap) {
					size_t nc = cap ? cap * 2 : 64;
					struct gw_job **np = realloc(puts,
					    nc * sizeof(*np));

					if (np == NULL) {
						j->err = QUEUE_ERR_NOMEM;
						continue;
					}
					puts = np;
					cap = nc;
				}
				puts[n++] = j;
			}
		if (n > 0)
			run_puts(s, puts, n);
		for (j = list; j != NULL; j = j->next)
			run_one(s, j);

		pthread_mutex_lock(&s->mu);
		for (j = list; j != NULL; j = next) {
			next = j->next;
			j->next = NULL;
			*s->out_tail = j;
			s->out_tail = &j->next;
		}
		pthread_mutex_unlock(&s->mu);
		event_active(s->ev, EV_READ, 0);
	}
	free(puts);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* The loop side */

static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_store *s = arg;
	struct gw_job *list, *j, *next;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&s->mu);
	list = s->out;
	s->out = NULL;
	s->out_tail = &s->out;
	pthread_mutex_unlock(&s->mu);
	for (j = list; j != NULL; j = next) {
		next = j->next;
		j->next = NULL;
		if (j->done != NULL)
			j->done(j->arg, j);	/* frees j */
		else
			gw_job_free(j);
	}
}

void
gw_store_submit(struct gw_store *s, struct gw_job *j)
{
	if (j->kind == GW_JOB_PUT) {
		j->nw.rcpt = j->rcpt;
		j->nw.sender = j->sender;
		j->nw.data = j->data;
		j->nw.len = j->len;
	}
	j->next = NULL;
	pthread_mutex_lock(&s->mu);
	*s->in_tail = j;
	s->in_tail = &j->next;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void
gw_store_counts(const struct gw_store *s, uint64_t *batches,
    uint64_t *stored)
{
	*batches = s->batches;
	*stored = s->stored;
}

struct gw_store *
gw_store_new(struct event_base *base, const char *path,
    const struct queue_limits *lim, const char *rstate_name,
    uint8_t **img_out, size_t *len_out, char *err, size_t errlen)
{
	struct gw_store *s;
	int rc;

	if (img_out != NULL)
		*img_out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->in_tail = &s->in;
	s->out_tail = &s->out;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if ((rc = queue_open(path, lim, &s->q, err, errlen)) != QUEUE_OK)
		goto fail;
	if (rstate_name != NULL && (s->rname = strdup(rstate_name)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (rstate_name != NULL && img_out != NULL) {
		rc = queue_rstate_get(s->q, rstate_name, img_out, len_out);
		if (rc != QUEUE_OK && rc != QUEUE_ERR_NOTFOUND) {
			snprintf(err, errlen, "%s: replay state %s: %s (%s)",
			    path, rstate_name, queue_strerror(rc),
			    queue_last_error(s->q));
			goto fail;
		}
	}
	if ((s->ev = event_new(base, -1, EV_READ, done_cb, s)) == NULL) {
		snprintf(err, errlen, "cannot make the store's event");
		goto fail;
	}
	if (pthread_create(&s->th, NULL, thread_main, s) != 0) {
		snprintf(err, errlen, "cannot start the storage thread");
		goto fail;
	}
	s->started = 1;
	return s;
fail:
	gw_store_free(s);
	return NULL;
}

void
gw_store_free(struct gw_store *s)
{
	struct gw_job *j, *next;

	if (s == NULL)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stop = 1;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->th, NULL);
	}
	for (j = s->out; j != NULL; j = next) {
		next = j->next;
		gw_job_free(j);
	}
	for (j = s->in; j != NULL; j = next) {
		next = j->next;
		gw_job_free(j);
	}
	if (s->ev != NULL)
		event_free(s->ev);
	queue_close(s->q);
	free(s->rname);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}
