/*
 * tests/bench/bench_queue.c - durable enqueues per second with grouped
 *	commits, and the RSS of a process holding a large store
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * usage: bench_queue [--1m] [--dir DIR] [--seconds S]
 *
 * 1. For batch sizes 1, 16, 64 and 256: store 1,900-byte messages (the
 *    size of a protected request, spec/smime-sip.md 6.2) for 1,000
 *    recipients into a fresh store with synchronous=FULL, S seconds each
 *    (default 2), and print messages and commits per second.  Every
 *    message counted was acknowledged by a returned commit: these are
 *    durable enqueues.  One line with synchronous=NORMAL at batch size 1
 *    shows what the fsync per commit costs.
 * 2. Store 100,000 messages (batch 256) in one store and print the RSS
 *    of this process before, after, and after the gateway's read paths
 *    ran over all of them (the schedule of every recipient, a listing of
 *    every row, stats, one delivery per recipient).  With --1m the store
 *    grows on to 1,000,000 messages (about 2 GB on disk, a minute or
 *    more) and the same figures are printed again.  The RSS should stay
 *    flat: message bytes are on disk, not in memory.
 *
 * Figures only, no assertions: they depend on the disk.  The store lives
 * in a temporary directory (under DIR, default $TMPDIR or /tmp) that is
 * removed at the end.  Build with -O2, no sanitizers.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue/queue.h"

#define MSG_LEN		1900
#define RCPTS		1000
#define NTP0		(((uint64_t)(1790000000LL + 2208988800LL)) << 32)

static char dir[1024];
static uint8_t data[MSG_LEN];
static char rcpt_names[RCPTS][48];
static uint64_t seq;

/* now_s - monotonic seconds */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* rss_kb - the resident set of this process (VmRSS), in kB */
static long
rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *fp;

	if ((fp = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(fp);
	return kb;
}

/* die - print and exit */
static void
die(const char *what, struct queue *q, int rc)
{
	fprintf(stderr, "bench_queue: %s: %s: %s\n", what, queue_strerror(rc),
	    q != NULL ? queue_last_error(q) : "");
	exit(1);
}

/* open_store - a fresh store name in dir, no quotas */
static struct queue *
open_store(const char *name, unsigned int flags)
{
	struct queue_limits lim;
	struct queue *q = NULL;
	char path[1200], err[600];
	int rc;

	snprintf(path, sizeof(path), "%s/%s.db", dir, name);
	memset(&lim, 0, sizeof(lim));
	lim.max_per_rcpt = lim.max_bytes_per_rcpt = UINT64_MAX;
	lim.max_total = lim.max_bytes_total = UINT64_MAX;
	lim.max_message_bytes = MSG_LEN;
	lim.flags = flags;
	if ((rc = queue_open(path, &lim, &q, err, sizeof(err))) != QUEUE_OK) {
		fprintf(stderr, "bench_queue: %s\n", err);
		exit(1);
	}
	return q;
}

/* put - one batch of n messages, round-robin over the recipients */
static void
put(struct queue *q, size_t n)
{
	static struct queue_new in[256];
	static struct queue_result res[256];
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		seq++;
		in[i].rcpt = rcpt_names[seq % RCPTS];
		in[i].sender = "sip:alice@corp.example";
		in[i].mikey_t = NTP0 + (seq << 20);
		in[i].arrived = 1790000000LL;
		in[i].next_attempt = 0;
		in[i].expires = 1790000000LL + 30 * 86400;
		data[0] = (uint8_t)seq;		/* not all alike */
		data[1] = (uint8_t)(seq >> 8);
		in[i].data = data;
		in[i].len = MSG_LEN;
	}
	if ((rc = queue_put_batch(q, in, n, res)) != QUEUE_OK)
		die("put", q, rc);
	for (i = 0; i < n; i++)
		if (res[i].err != QUEUE_OK)
			die("put (one message)", q, res[i].err);
}

/* rate - store batches of size b for secs seconds; print the rate */
static void
rate(size_t b, double secs, unsigned int flags, const char *note)
{
	struct queue *q;
	char name[32];
	double t0, t;
	uint64_t msgs = 0, commits = 0;

	snprintf(name, sizeof(name), "rate%zu%s", b, flags ? "n" : "");
	q = open_store(name, flags);
	t0 = now_s();
	do {
		put(q, b);
		msgs += b;
		commits++;
		t = now_s() - t0;
	} while (t < secs);
	queue_close(q);
	printf("  batch %4zu: %9.0f enqueues/s  %7.0f commits/s  "
	    "(%llu messages in %.2f s)%s\n", b, (double)msgs / t,
	    (double)commits / t, (unsigned long long)msgs, t, note);
	fflush(stdout);
}

static int
count_cb(void *arg, const struct queue_msg *m)
{
	(*(uint64_t *)arg)++;
	return 0;
}

struct sched {
	struct queue	*q;
	uint64_t	 rcpts;
};

static int
sched_cb(void *arg, const char *rcpt, int64_t na)
{
	((struct sched *)arg)->rcpts++;
	return 0;
}

/* read_paths - what the gateway does over a full store, timed; RSS */
static void
read_paths(struct queue *q, uint64_t stored)
{
	struct queue_stats st;
	struct queue_msg m;
	struct sched s;
	uint64_t listed = 0;
	double t0;
	size_t i;
	int rc;

	memset(&s, 0, sizeof(s));
	t0 = now_s();
	if ((rc = queue_due_rcpts(q, INT64_MAX, sched_cb, &s)) != QUEUE_OK)
		die("due_rcpts", q, rc);
	printf("    schedule of %llu recipients: %.3f s\n",
	    (unsigned long long)s.rcpts, now_s() - t0);
	t0 = now_s();
	if ((rc = queue_list(q, NULL, 1, count_cb, &listed)) != QUEUE_OK)
		die("list", q, rc);
	printf("    listing of %llu rows: %.3f s\n",
	    (unsigned long long)listed, now_s() - t0);
	t0 = now_s();
	for (i = 0; i < RCPTS; i++) {
		if ((rc = queue_next_for(q, rcpt_names[i], 1790000000LL, &m,
		    NULL)) != QUEUE_OK)
			die("next_for", q, rc);
		queue_msg_cleanup(&m);
	}
	printf("    head of each recipient, loaded and verified: %.1f us "
	    "each\n", (now_s() - t0) * 1e6 / RCPTS);
	if ((rc = queue_stats(q, &st)) != QUEUE_OK)
		die("stats", q, rc);
	if (st.messages != stored || listed != stored)
		fprintf(stderr, "bench_queue: stored %llu, stats %llu, "
		    "listed %llu\n", (unsigned long long)stored,
		    (unsigned long long)st.messages,
		    (unsigned long long)listed);
	printf("    RSS after the read paths: %ld kB\n", rss_kb());
}

/* fill - grow the store to target messages; print the time and RSS */
static void
fill(struct queue *q, uint64_t *stored, uint64_t target)
{
	double t0 = now_s();
	uint64_t from = *stored;

	while (*stored < target) {
		put(q, 256);
		*stored += 256;
	}
	printf("  %llu messages stored (%.0f enqueues/s on a growing store); "
	    "RSS %ld kB\n", (unsigned long long)*stored,
	    (double)(*stored - from) / (now_s() - t0), rss_kb());
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	static const size_t batches[] = { 1, 16, 64, 256 };
	const char *base = getenv("TMPDIR");
	char cmd[1100];
	struct queue *q;
	uint64_t stored = 0;
	double secs = 2;
	int big = 0, i;
	size_t k;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--1m") == 0)
			big = 1;
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			base = argv[++i];
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			secs = atof(argv[++i]);
		else {
			fprintf(stderr, "usage: bench_queue [--1m] [--dir DIR] "
			    "[--seconds S]\n");
			return 2;
		}
	}
	if (secs <= 0)
		secs = 2;
	snprintf(dir, sizeof(dir), "%s/bench_queue.XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "bench_queue: mkdtemp %s: %s\n", dir,
		    strerror(errno));
		return 1;
	}
	for (k = 0; k < RCPTS; k++)
		snprintf(rcpt_names[k], sizeof(rcpt_names[k]),
		    "sip:user%zu@partner.example", k);
	for (k = 0; k < MSG_LEN; k++)
		data[k] = (uint8_t)(k * 131 + 7);

	printf("bench_queue: %d-byte messages, %d recipients, store in %s\n",
	    MSG_LEN, RCPTS, dir);
	printf("durable enqueues (WAL, synchronous=FULL: one fsync per "
	    "commit):\n");
	for (k = 0; k < sizeof(batches) / sizeof(batches[0]); k++)
		rate(batches[k], secs, 0, "");
	rate(1, secs, QUEUE_F_SYNC_NORMAL,
	    "  synchronous=NORMAL, not power-safe");

	printf("memory (RSS) against stored messages:\n");
	printf("  at start: %ld kB\n", rss_kb());
	q = open_store("big", 0);
	printf("  store open: %ld kB\n", rss_kb());
	fill(q, &stored, 100000);
	read_paths(q, stored);
	if (big) {
		fill(q, &stored, 1000000);
		read_paths(q, stored);
	} else
		printf("  (1,000,000 messages: run with --1m)\n");
	queue_close(q);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_queue: could not remove %s\n", dir);
	return 0;
}
