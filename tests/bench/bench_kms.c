/*
 * tests/bench/bench_kms.c - REQUEST and RESOLVE per second against one
 *	imgate-kms over HTTP, against the library alone
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 *	tests/bench/bench_kms [options] URL
 *
 *	URL	the KMS endpoint, e.g. http://127.0.0.1:8470/mikey
 *	--pidfile F	the KMS pidfile: CPU seconds (/proc/PID/stat utime +
 *			stime) and RSS (/proc/PID/status VmRSS) of that
 *			process are printed.  Without it only rates.
 *	--kms-id URI	IDRkms (default sip:kms@corp.example)
 *	--initiator URI --initiator-psk HEX	who asks for tickets
 *	--responder URI --responder-psk HEX	who resolves them (named as
 *			IDRr in every ticket)
 *	-c, --connections N	concurrent keep-alive connections (8)
 *	-d, --duration S	seconds of each measured phase (10)
 *	-w, --warmup S		seconds of warm-up before each phase (1)
 *	-n, --requests N	run N messages per phase instead of a duration
 *			(the memory-flatness run: -n 1000000)
 *	--lib N		messages for the in-process baseline (20000)
 *	--phases LIST	request,resolve (default both)
 *
 * A load generator, not a test: it asserts nothing about speed (project
 * rule); it prints figures.  It is a client only: tests/bench/
 * run-bench-kms.sh makes a throwaway KMS on loopback, pins it to one core
 * and this client to another, and stops the KMS by PID.
 *
 * Every message is fresh, as the KMS has a replay cache: each REQUEST_INIT
 * is built with mikey_i_request_init() just before it is sent, each
 * RESOLVE_INIT with mikey_r_resolve_init() for one ticket obtained in the
 * warm-up.  Every answer is checked: status 200 and the response verified
 * (mikey_i_request_resp / mikey_r_resolve_resp); anything else counts as
 * an error.
 *
 * Printed per phase: messages/s, mean/p50/p99 latency, errors, the KMS
 * process's CPU seconds and so its CPU-us per message and messages per
 * CPU-second (the "on one core" figure, independent of how busy the
 * client is), the client's own CPU-us per message (to show the client is
 * not the limit), and the KMS RSS at start, after 100k messages and at
 * the end.
 *
 * Baseline, measured in the same run: the cost of mikey_kms_process() in
 * this process for the same kind of messages (same identities, suite and
 * ticket profile; an in-process policy and master key), so the daemon's
 * overhead (HTTP, policy, logging, metrics) reads as a ratio.  Both sides
 * of that ratio are CPU time (the KMS's utime + stime, this thread's
 * CLOCK_THREAD_CPUTIME_ID), so a busy or stolen host shifts them alike.
 * The client cost of building and verifying each message is printed too.
 * Each phase also prints how busy the whole host was and how much the
 * hypervisor stole (/proc/stat): on a shared machine a wall-clock rate
 * far below 1e6 / (KMS CPU-us per message) means the KMS waited for a
 * CPU, not that it was slow.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <openssl/rand.h>

#include "mikey/mikey.h"

#define LAT_BUCKETS	200000		/* 1 us each; more goes to the last */
#define MAX_CONNS	256
#define RSS_MARK	100000		/* "after 100k" */

enum kind { K_REQUEST, K_RESOLVE };
static const char *const kind_name[] = { "REQUEST", "RESOLVE" };

struct conn;

struct bench {
	struct event_base *base;
	struct evhttp_uri *uri;
	const char	*host;
	int		 port;
	char		 path[1024];
	char		 hostport[300];
	struct conn	*conns;
	int		 nconns;
	int		 busy;

	/* identities and keys */
	struct mikey_id	 idkms, idi, idr;
	uint8_t		 psk_i[MIKEY_MAX_KEY], psk_r[MIKEY_MAX_KEY];
	size_t		 psk_i_len, psk_r_len;
	struct mikey_env env;

	/* the ticket the resolve phase resolves */
	struct mikey_ticket ticket;
	int		 have_ticket;
	struct mikey_r_transfer x;

	/* the current phase */
	enum kind	 kind;
	double		 deadline;	/* monotonic s, 0 = use target */
	uint64_t	 target, issued, done, ok, errors;
	int		 measure;
	uint32_t	*lat;		/* histogram, LAT_BUCKETS + 1 */
	double		 lat_sum;
	int		 last_status;
	char		 last_outcome[64];

	/* the KMS process */
	long		 pid;
	uint64_t	 measured_total;	/* ok in measured phases */
	long		 rss_mark;		/* kB after RSS_MARK, -1 */

	/* scratch for verification (single thread) */
	struct mikey_ticket tscratch;
	struct mikey_resolved rscratch;
};

struct conn {
	struct bench	*b;
	struct evhttp_connection *evcon;
	struct mikey_i_request rq;
	struct mikey_r_resolve rs;
	double		 t0;
	int		 busy;
	uint8_t		 msg[MIKEY_MAX_INIT];
	size_t		 len;
};

static void	send_one(struct conn *);

/* now_s - monotonic seconds */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* cpu_now - this thread's CPU seconds (the baseline is timed in CPU time,
 *	like the KMS figures, so that time the host gives to others does not
 *	count on either side of the ratio) */
static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* host_ticks - jiffies of all CPUs from /proc/stat: total, idle (idle +
 *	iowait) and steal; 0 if unknown */
struct host_ticks {
	unsigned long long total, idle, steal;
};

static void
host_ticks(struct host_ticks *h)
{
	unsigned long long v[8];
	FILE *f = fopen("/proc/stat", "r");
	int i;

	memset(h, 0, sizeof(*h));
	if (f == NULL)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (i = 0; i < 8; i++)
			h->total += v[i];
		h->idle = v[3] + v[4];
		h->steal = v[7];
	}
	fclose(f);
}

/* cpu_self - this process's user + system CPU seconds */
static double
cpu_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* cpu_pid - utime + stime of pid in seconds (fields 14, 15), -1 if none */
static double
cpu_pid(long pid)
{
	char path[64], buf[2048], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm may hold spaces: skip past its closing parenthesis */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	/* after ") ": state(3) ppid ... utime is field 14, stime 15 */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* rss_pid - VmRSS of pid in kB, -1 if unknown */
static long
rss_pid(long pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* unhex - hex string to bytes; length or 0 on error */
static size_t
unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (s[0] != '\0' && s[1] != '\0') {
		int h = hexval((unsigned char)s[0]), l = hexval((unsigned char)s[1]);

		if (h < 0 || l < 0 || n == cap)
			return 0;
		out[n++] = (uint8_t)(h << 4 | l);
		s += 2;
	}
	return s[0] == '\0' ? n : 0;
}

static struct mikey_id
uri_id(const char *s)
{
	struct mikey_id id;

	id.type = MIKEY_ID_URI;
	id.data.p = (const uint8_t *)s;
	id.data.len = strlen(s);
	return id;
}

static int
same_id(const struct mikey_id *a, const struct mikey_id *b)
{
	return a->data.len == b->data.len &&
	    memcmp(a->data.p, b->data.p, a->data.len) == 0;
}

/* ---- message builders (shared by the HTTP client and the baseline) ---- */

/* build_request - a fresh REQUEST_INIT_PSK: one-way ticket naming idr */
static int
build_request(const struct bench *b, struct mikey_i_request *st,
    uint8_t *out, size_t cap, size_t *len)
{
	struct mikey_request_params rp;

	memset(&rp, 0, sizeof(rp));
	rp.idi = b->idi;
	rp.idkms = b->idkms;
	rp.psk = b->psk_i;
	rp.psk_len = b->psk_i_len;
	rp.suite = mikey_suite_256;
	rp.flags = MIKEY_TPF_ONEWAY;
	rp.ticket_prf = mikey_suite_256.prf;
	rp.nresp = 1;
	rp.resp[0] = b->idr;
	rp.nkeys = 1;
	rp.key_type[0] = MIKEY_KEY_TGK;
	rp.key_len[0] = 32;
	return mikey_i_request_init(&b->env, &rp, st, out, cap, len);
}

/* build_resolve - a fresh RESOLVE_INIT_PSK for x's ticket */
static int
build_resolve(const struct bench *b, const struct mikey_r_transfer *x,
    struct mikey_r_resolve *st, uint8_t *out, size_t cap, size_t *len)
{
	struct mikey_cred me;

	memset(&me, 0, sizeof(me));
	me.id = b->idr;
	me.idkms = b->idkms;
	me.psk = b->psk_r;
	me.psk_len = b->psk_r_len;
	me.suite = mikey_suite_256;
	return mikey_r_resolve_init(&b->env, x, &me, st, out, cap, len);
}

/* ---- latency histogram ---- */

static double
lat_pct(const struct bench *b, double p)
{
	uint64_t want, acc = 0;
	size_t i;

	if (b->ok == 0)
		return 0;
	want = (uint64_t)(p * (double)b->ok + 0.5);
	if (want == 0)
		want = 1;
	for (i = 0; i <= LAT_BUCKETS; i++) {
		acc += b->lat[i];
		if (acc >= want)
			return (double)i;
	}
	return LAT_BUCKETS;
}

/* ---- HTTP client ---- */

static void
on_response(struct evhttp_request *req, void *arg)
{
	struct conn *c = arg;
	struct bench *b = c->b;
	struct evbuffer *in;
	const char *h;
	uint8_t *body;
	size_t blen;
	double lat = now_s() - c->t0;
	int rc = -1, perr = -1;

	b->done++;
	if (req == NULL) {
		b->last_status = 0;
		snprintf(b->last_outcome, sizeof(b->last_outcome),
		    "no response (connection failed or timed out)");
		goto err;
	}
	b->last_status = evhttp_request_get_response_code(req);
	h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "X-Imgate-Outcome");
	snprintf(b->last_outcome, sizeof(b->last_outcome), "%s",
	    h ? h : b->last_status == 0 ? "no response (connection failed "
	    "or timed out)" : "-");
	if (b->last_status != 200)
		goto err;
	in = evhttp_request_get_input_buffer(req);
	blen = evbuffer_get_length(in);
	body = evbuffer_pullup(in, -1);
	if (body == NULL)
		goto err;
	if (b->kind == K_REQUEST) {
		rc = mikey_i_request_resp(&b->env, &c->rq, body, blen,
		    &b->tscratch, &perr, NULL);
		if (rc == 0 && !b->have_ticket) {
			b->ticket = b->tscratch;
			b->have_ticket = 1;
		}
		mikey_ticket_cleanup(&b->tscratch);
	} else {
		rc = mikey_r_resolve_resp(&b->env, &c->rs, &b->x, body, blen,
		    &b->rscratch, &perr, NULL);
		mikey_resolved_cleanup(&b->rscratch);
	}
	if (rc != 0) {
		snprintf(b->last_outcome, sizeof(b->last_outcome),
		    "response does not verify: %s (peer ERR %d)",
		    mikey_strerror(rc), perr);
		goto err;
	}
	b->ok++;
	{
		double us = lat * 1e6;
		size_t i = us >= LAT_BUCKETS ? LAT_BUCKETS : (size_t)us;

		b->lat[i]++;
		b->lat_sum += us;
	}
	if (b->measure) {
		b->measured_total++;
		if (b->measured_total == RSS_MARK)
			b->rss_mark = rss_pid(b->pid);
	}
	goto next;
err:
	b->errors++;
	if (b->errors <= 3)
		fprintf(stderr, "bench_kms: %s error: status %d, %s\n",
		    kind_name[b->kind], b->last_status, b->last_outcome);
next:
	send_one(c);
}

/* send_one - the next message on c, or mark c idle when the phase ends */
static void
send_one(struct conn *c)
{
	struct bench *b = c->b;
	struct evhttp_request *req;
	struct evkeyvalq *hd;
	int rc;

	if ((b->deadline > 0 ? now_s() >= b->deadline :
	    b->issued >= b->target) || b->errors > 1000) {
		c->busy = 0;
		if (--b->busy == 0)
			event_base_loopbreak(b->base);
		return;
	}
	if (b->kind == K_REQUEST)
		rc = build_request(b, &c->rq, c->msg, sizeof(c->msg), &c->len);
	else
		rc = build_resolve(b, &b->x, &c->rs, c->msg, sizeof(c->msg),
		    &c->len);
	if (rc != 0) {
		fprintf(stderr, "bench_kms: cannot build %s: %s\n",
		    kind_name[b->kind], mikey_strerror(rc));
		exit(1);
	}
	if ((req = evhttp_request_new(on_response, c)) == NULL) {
		fprintf(stderr, "bench_kms: out of memory\n");
		exit(1);
	}
	hd = evhttp_request_get_output_headers(req);
	evhttp_add_header(hd, "Host", b->hostport);
	evhttp_add_header(hd, "Content-Type", "application/mikey");
	evbuffer_add(evhttp_request_get_output_buffer(req), c->msg, c->len);
	b->issued++;
	c->t0 = now_s();
	if (evhttp_make_request(c->evcon, req, EVHTTP_REQ_POST, b->path) != 0) {
		/* libevent freed req */
		b->done++;
		b->errors++;
		fprintf(stderr, "bench_kms: evhttp_make_request failed\n");
		c->busy = 0;
		if (--b->busy == 0)
			event_base_loopbreak(b->base);
	}
}

struct phase_result {
	double	 secs, kms_cpu, client_cpu;
	double	 host_busy, host_steal;	/* % of all CPUs, -1 unknown */
	uint64_t ok, errors;
	double	 mean, p50, p99;
	long	 rss_before, rss_after;
};

/* run_phase - drive kind for secs seconds (or count messages) */
static void
run_phase(struct bench *b, enum kind kind, double secs, uint64_t count,
    int measure, struct phase_result *r)
{
	struct host_ticks h0, h1;
	double t0, c0, k0;
	int i;

	b->kind = kind;
	b->deadline = 0;
	b->target = count;
	b->issued = b->done = b->ok = b->errors = 0;
	b->measure = measure;
	b->lat_sum = 0;
	memset(b->lat, 0, (LAT_BUCKETS + 1) * sizeof(*b->lat));
	r->rss_before = rss_pid(b->pid);
	k0 = cpu_pid(b->pid);
	c0 = cpu_self();
	host_ticks(&h0);
	t0 = now_s();
	if (secs > 0)
		b->deadline = t0 + secs;
	b->busy = b->nconns;
	for (i = 0; i < b->nconns; i++) {
		b->conns[i].busy = 1;
		send_one(&b->conns[i]);
	}
	if (b->busy > 0)
		event_base_dispatch(b->base);
	r->secs = now_s() - t0;
	host_ticks(&h1);
	r->client_cpu = cpu_self() - c0;
	r->host_busy = r->host_steal = -1;
	if (h1.total > h0.total) {
		double t = (double)(h1.total - h0.total);

		r->host_busy = 100.0 * (t - (double)(h1.idle - h0.idle)) / t;
		r->host_steal = 100.0 * (double)(h1.steal - h0.steal) / t;
	}
	r->kms_cpu = k0 >= 0 ? cpu_pid(b->pid) - k0 : -1;
	r->rss_after = rss_pid(b->pid);
	r->ok = b->ok;
	r->errors = b->errors;
	r->mean = b->ok ? b->lat_sum / (double)b->ok : 0;
	r->p50 = lat_pct(b, 0.50);
	r->p99 = lat_pct(b, 0.99);
}

static void
print_phase(const struct bench *b, enum kind kind,
    const struct phase_result *r, double lib_us)
{
	double rate = r->secs > 0 ? (double)r->ok / r->secs : 0;

	printf("%s  %d conns  %.1f s  %llu ok  %llu errors\n",
	    kind_name[kind], b->nconns, r->secs, (unsigned long long)r->ok,
	    (unsigned long long)r->errors);
	printf("  %-28s %10.0f /s\n", "rate (wall clock)", rate);
	printf("  %-28s %10.0f us mean  %6.0f us p50  %6.0f us p99\n",
	    "latency", r->mean, r->p50, r->p99);
	if (r->kms_cpu >= 0 && r->ok > 0) {
		double us = r->kms_cpu * 1e6 / (double)r->ok;

		printf("  %-28s %10.2f s  (%.0f%% of one core)\n",
		    "KMS CPU", r->kms_cpu, 100.0 * r->kms_cpu / r->secs);
		printf("  %-28s %10.1f us/msg  %10.0f msg per CPU-second\n",
		    "KMS CPU cost", us, us > 0 ? 1e6 / us : 0);
		if (lib_us > 0)
			printf("  %-28s %10.1f us/msg  -> KMS / library = "
			    "%.2fx\n", "baseline mikey_kms_process", lib_us,
			    us / lib_us);
	}
	if (r->ok > 0)
		printf("  %-28s %10.1f us/msg  (%.0f%% of one core)\n",
		    "client CPU cost", r->client_cpu * 1e6 / (double)r->ok,
		    100.0 * r->client_cpu / r->secs);
	if (r->rss_before >= 0)
		printf("  %-28s %10ld kB before  %ld kB after\n", "KMS RSS",
		    r->rss_before, r->rss_after);
	if (r->host_busy >= 0)
		printf("  %-28s %9.0f%% busy  %.1f%% stolen by the hypervisor "
		    "(all CPUs; KMS + client are %.0f%%)\n", "host",
		    r->host_busy, r->host_steal, 100.0 * (r->kms_cpu +
		    r->client_cpu) / r->secs / (double)sysconf(
		    _SC_NPROCESSORS_ONLN));
}

/* ---- the in-process baseline ---- */

struct lib_kms {
	const struct bench *b;
	uint8_t	 mk[32];
};

static int
lib_psk(void *arg, const struct mikey_id *id, const struct mikey_id *idpsk,
    uint8_t *key, size_t *len)
{
	const struct lib_kms *k = arg;

	(void)idpsk;
	if (id == NULL)
		return -1;
	if (same_id(id, &k->b->idi)) {
		memcpy(key, k->b->psk_i, k->b->psk_i_len);
		*len = k->b->psk_i_len;
	} else if (same_id(id, &k->b->idr)) {
		memcpy(key, k->b->psk_r, k->b->psk_r_len);
		*len = k->b->psk_r_len;
	} else
		return -1;
	return 0;
}

static int
lib_current(void *arg, struct mikey_tpk *tpk)
{
	const struct lib_kms *k = arg;

	memset(tpk, 0, sizeof(*tpk));
	tpk->version = 1;
	memcpy(tpk->key, k->mk, 32);
	tpk->key_len = 32;
	return 0;
}

static int
lib_lookup(void *arg, int has_version, uint32_t version,
    const struct mikey_id *idpsk, struct mikey_tpk *tpk)
{
	if (idpsk != NULL || !has_version || version != 1)
		return -1;
	return lib_current(arg, tpk);
}

static int
lib_auth_req(void *arg, const struct mikey_id *requester,
    struct mikey_grant *g)
{
	(void)arg;
	return same_id(requester, &g->idi) ? 0 : -1;
}

static int
lib_auth_res(void *arg, const struct mikey_id *requester,
    const struct mikey_policy *pol)
{
	(void)arg;
	return mikey_policy_names(pol, requester) ? 0 : -1;
}

static const struct mikey_kms_ops lib_ops = {
	lib_psk, lib_current, lib_lookup, lib_auth_req, lib_auth_res
};

struct lib_result {
	double	 req_us, res_us;		/* mikey_kms_process */
	double	 build_req_us, build_res_us;	/* client: build */
	double	 verify_req_us, verify_res_us;	/* client: verify */
};

/*
 * run_lib - n fresh messages of each kind through mikey_kms_process in
 *	this process; the messages are built first (timed: the client's
 *	build cost), processed (timed: the baseline), then the answers
 *	verified (timed: the client's verify cost).
 */
static int
run_lib(const struct bench *b, size_t n, struct lib_result *lr)
{
	struct lib_kms k;
	struct mikey_kms_conf kc;
	struct mikey_kms_result res;
	struct mikey_i_request *rq;
	struct mikey_r_resolve *rs;
	struct mikey_ticket t;
	struct mikey_r_transfer x;
	struct mikey_resolved rk;
	uint8_t *in, *out;
	size_t *inl, *outl, i, bad = 0;
	double t0;
	int perr;

	memset(&k, 0, sizeof(k));
	k.b = b;
	if (RAND_bytes(k.mk, sizeof(k.mk)) != 1)
		return -1;
	memset(&kc, 0, sizeof(kc));
	kc.id = b->idkms;
	kc.lifetime = 30 * 86400;
	kc.ops = &lib_ops;
	kc.arg = &k;
	kc.rc = mikey_rcache_new(2 * n + 16, 300, NULL, NULL);
	rq = malloc(n * sizeof(*rq));
	rs = malloc(n * sizeof(*rs));
	in = malloc(n * 2048);
	out = malloc(n * 2048);
	inl = malloc(n * sizeof(*inl));
	outl = malloc(n * sizeof(*outl));
	if (kc.rc == NULL || rq == NULL || rs == NULL || in == NULL ||
	    out == NULL || inl == NULL || outl == NULL)
		return -1;

	/* REQUEST */
	t0 = cpu_now();
	for (i = 0; i < n; i++)
		if (build_request(b, &rq[i], in + i * 2048, 2048, &inl[i]) != 0)
			bad++;
	lr->build_req_us = (cpu_now() - t0) * 1e6 / (double)n;
	t0 = cpu_now();
	for (i = 0; i < n; i++)
		if (mikey_kms_process(&b->env, &kc, in + i * 2048, inl[i],
		    out + i * 2048, 2048, &outl[i], &res) != 0 || res.err != 0)
			bad++;
	lr->req_us = (cpu_now() - t0) * 1e6 / (double)n;
	t0 = cpu_now();
	for (i = 0; i < n; i++) {
		if (mikey_i_request_resp(&b->env, &rq[i], out + i * 2048,
		    outl[i], &t, &perr, NULL) != 0)
			bad++;
		if (i + 1 < n)
			mikey_ticket_cleanup(&t);
	}
	lr->verify_req_us = (cpu_now() - t0) * 1e6 / (double)n;

	/* RESOLVE of the last ticket */
	if (mikey_r_ticket_parse(&b->env, t.payload, t.payload_len, &x,
	    NULL) != 0)
		return -1;
	t0 = cpu_now();
	for (i = 0; i < n; i++)
		if (build_resolve(b, &x, &rs[i], in + i * 2048, 2048,
		    &inl[i]) != 0)
			bad++;
	lr->build_res_us = (cpu_now() - t0) * 1e6 / (double)n;
	t0 = cpu_now();
	for (i = 0; i < n; i++)
		if (mikey_kms_process(&b->env, &kc, in + i * 2048, inl[i],
		    out + i * 2048, 2048, &outl[i], &res) != 0 || res.err != 0)
			bad++;
	lr->res_us = (cpu_now() - t0) * 1e6 / (double)n;
	t0 = cpu_now();
	for (i = 0; i < n; i++) {
		if (mikey_r_resolve_resp(&b->env, &rs[i], &x, out + i * 2048,
		    outl[i], &rk, &perr, NULL) != 0)
			bad++;
		mikey_resolved_cleanup(&rk);
	}
	lr->verify_res_us = (cpu_now() - t0) * 1e6 / (double)n;

	mikey_ticket_cleanup(&t);
	for (i = 0; i < n; i++) {
		mikey_i_request_cleanup(&rq[i]);
		mikey_r_resolve_cleanup(&rs[i]);
	}
	free(rq);
	free(rs);
	free(in);
	free(out);
	free(inl);
	free(outl);
	mikey_rcache_free(kc.rc);
	if (bad != 0) {
		fprintf(stderr, "bench_kms: baseline: %zu failures\n", bad);
		return -1;
	}
	return 0;
}

/* ---- main ---- */

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: bench_kms [--pidfile F] [--kms-id URI]\n"
	    "    [--initiator URI] --initiator-psk HEX\n"
	    "    [--responder URI] --responder-psk HEX\n"
	    "    [-c CONNS] [-d SECS] [-w SECS] [-n COUNT] [--lib N]\n"
	    "    [--phases request,resolve] URL\n");
}

/* is_opt - a is the short option s (may be "") or the long option l */
static int
is_opt(const char *a, const char *s, const char *l)
{
	return (s[0] != '\0' && strcmp(a, s) == 0) || strcmp(a, l) == 0;
}

static long
read_pidfile(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = -1;

	if (f == NULL)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	return pid;
}

int
main(int argc, char **argv)
{
	static struct bench bench;
	struct bench *b = &bench;
	const char *url = NULL, *pidfile = NULL, *phases = "request,resolve";
	const char *kms_id = "sip:kms@corp.example";
	const char *idi = "sip:alice@corp.example";
	const char *idr = "sip:bob@corp.example";
	const char *pski = NULL, *pskr = NULL;
	double duration = 10, warmup = 1;
	unsigned long long count = 0;
	size_t libn = 20000;
	struct phase_result pr[2], wr;
	struct lib_result lr;
	long rss_start, rss_end;
	int i, do_req, do_res, have_lib = 0;
	double lib_us[2] = { 0, 0 };

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

#define OPT(s, l)	is_opt(a, s, l)
		if (OPT("-h", "--help")) {
			usage(stdout);
			return 0;
		}
		if (a[0] != '-') {
			url = a;
			continue;
		}
		if (v == NULL) {
			usage(stderr);
			return 2;
		}
		i++;
		if (OPT("", "--pidfile"))
			pidfile = v;
		else if (OPT("", "--kms-id"))
			kms_id = v;
		else if (OPT("", "--initiator"))
			idi = v;
		else if (OPT("", "--initiator-psk"))
			pski = v;
		else if (OPT("", "--responder"))
			idr = v;
		else if (OPT("", "--responder-psk"))
			pskr = v;
		else if (OPT("-c", "--connections"))
			b->nconns = atoi(v);
		else if (OPT("-d", "--duration"))
			duration = atof(v);
		else if (OPT("-w", "--warmup"))
			warmup = atof(v);
		else if (OPT("-n", "--requests"))
			count = strtoull(v, NULL, 10);
		else if (OPT("", "--lib"))
			libn = (size_t)strtoull(v, NULL, 10);
		else if (OPT("", "--phases"))
			phases = v;
		else {
			usage(stderr);
			return 2;
		}
#undef OPT
	}
	if (b->nconns == 0)
		b->nconns = 8;
	if (url == NULL || pski == NULL || pskr == NULL || b->nconns < 1 ||
	    b->nconns > MAX_CONNS || (count == 0 && duration <= 0)) {
		usage(stderr);
		return 2;
	}
	do_req = strstr(phases, "request") != NULL;
	do_res = strstr(phases, "resolve") != NULL;
	b->idkms = uri_id(kms_id);
	b->idi = uri_id(idi);
	b->idr = uri_id(idr);
	b->psk_i_len = unhex(pski, b->psk_i, sizeof(b->psk_i));
	b->psk_r_len = unhex(pskr, b->psk_r, sizeof(b->psk_r));
	if (b->psk_i_len < 16 || b->psk_r_len < 16) {
		fprintf(stderr, "bench_kms: PSKs are 16 to 64 bytes of hex\n");
		return 2;
	}
	b->pid = pidfile ? read_pidfile(pidfile) : -1;
	if (pidfile != NULL && b->pid <= 0) {
		fprintf(stderr, "bench_kms: no PID in %s\n", pidfile);
		return 1;
	}
	b->rss_mark = -1;
	b->lat = calloc(LAT_BUCKETS + 1, sizeof(*b->lat));

	/* the URL */
	if ((b->uri = evhttp_uri_parse(url)) == NULL ||
	    (b->host = evhttp_uri_get_host(b->uri)) == NULL ||
	    (b->port = evhttp_uri_get_port(b->uri)) <= 0) {
		fprintf(stderr, "bench_kms: want http://HOST:PORT/PATH, got "
		    "%s\n", url);
		return 2;
	}
	snprintf(b->path, sizeof(b->path), "%s",
	    evhttp_uri_get_path(b->uri) && *evhttp_uri_get_path(b->uri) ?
	    evhttp_uri_get_path(b->uri) : "/mikey");
	snprintf(b->hostport, sizeof(b->hostport), "%s:%d", b->host, b->port);

	/* baseline first: the library alone, in this process */
	if (libn > 0) {
		if (run_lib(b, libn, &lr) != 0) {
			fprintf(stderr, "bench_kms: baseline failed\n");
			return 1;
		}
		have_lib = 1;
		lib_us[K_REQUEST] = lr.req_us;
		lib_us[K_RESOLVE] = lr.res_us;
	}

	b->base = event_base_new();
	b->conns = calloc((size_t)b->nconns, sizeof(*b->conns));
	if (b->base == NULL || b->conns == NULL || b->lat == NULL) {
		fprintf(stderr, "bench_kms: out of memory\n");
		return 1;
	}
	for (i = 0; i < b->nconns; i++) {
		struct conn *c = &b->conns[i];

		c->b = b;
		c->evcon = evhttp_connection_base_new(b->base, NULL, b->host,
		    (unsigned short)b->port);
		if (c->evcon == NULL) {
			fprintf(stderr, "bench_kms: cannot make connection\n");
			return 1;
		}
		evhttp_connection_set_timeout(c->evcon, 10);
	}

	printf("bench_kms: %s, %d keep-alive connections, KMS PID %ld\n",
	    url, b->nconns, b->pid);
	if (count)
		printf("  %llu messages per phase, warm-up %.1f s\n", count,
		    warmup);
	else
		printf("  %.1f s per phase, warm-up %.1f s\n", duration,
		    warmup);
	rss_start = rss_pid(b->pid);

	/* one request first: the ticket for the resolve phase */
	run_phase(b, K_REQUEST, 0, 1, 0, &wr);
	if (!b->have_ticket) {
		fprintf(stderr, "bench_kms: the KMS does not answer a valid "
		    "REQUEST_INIT (status %d, %s)\n", b->last_status,
		    b->last_outcome);
		return 1;
	}
	if (mikey_r_ticket_parse(&b->env, b->ticket.payload,
	    b->ticket.payload_len, &b->x, NULL) != 0) {
		fprintf(stderr, "bench_kms: cannot parse the ticket\n");
		return 1;
	}

	if (do_req) {
		if (warmup > 0)
			run_phase(b, K_REQUEST, warmup, 0, 0, &wr);
		run_phase(b, K_REQUEST, count ? 0 : duration, count, 1,
		    &pr[K_REQUEST]);
		print_phase(b, K_REQUEST, &pr[K_REQUEST], lib_us[K_REQUEST]);
	}
	if (do_res) {
		if (warmup > 0)
			run_phase(b, K_RESOLVE, warmup, 0, 0, &wr);
		run_phase(b, K_RESOLVE, count ? 0 : duration, count, 1,
		    &pr[K_RESOLVE]);
		print_phase(b, K_RESOLVE, &pr[K_RESOLVE], lib_us[K_RESOLVE]);
	}
	rss_end = rss_pid(b->pid);

	if (have_lib) {
		printf("BASELINE  library alone, in this process, %zu messages "
		    "each (CPU time)\n", libn);
		printf("  %-28s %10.1f us/msg  %10.0f /s\n",
		    "mikey_kms_process REQUEST", lr.req_us, 1e6 / lr.req_us);
		printf("  %-28s %10.1f us/msg  %10.0f /s\n",
		    "mikey_kms_process RESOLVE", lr.res_us, 1e6 / lr.res_us);
		printf("  %-28s %10.1f us build  %6.1f us verify\n",
		    "client REQUEST_INIT", lr.build_req_us, lr.verify_req_us);
		printf("  %-28s %10.1f us build  %6.1f us verify\n",
		    "client RESOLVE_INIT", lr.build_res_us, lr.verify_res_us);
	}
	if (b->pid > 0) {
		printf("KMS RSS  start %ld kB", rss_start);
		if (b->rss_mark >= 0)
			printf("  after %d msgs %ld kB", RSS_MARK, b->rss_mark);
		printf("  end %ld kB (%llu msgs measured)\n", rss_end,
		    (unsigned long long)b->measured_total);
		if (b->rss_mark >= 0)
			printf("  RSS growth from %d msgs to the end: %+ld kB "
			    "(%+.3f%%)\n", RSS_MARK, rss_end - b->rss_mark,
			    100.0 * (double)(rss_end - b->rss_mark) /
			    (double)b->rss_mark);
	}
	for (i = 0; i < b->nconns; i++)
		evhttp_connection_free(b->conns[i].evcon);
	event_base_free(b->base);
	evhttp_uri_free(b->uri);
	mikey_ticket_cleanup(&b->ticket);
	free(b->conns);
	free(b->lat);
	return (do_req && pr[K_REQUEST].errors) ||
	    (do_res && pr[K_RESOLVE].errors) ? 1 : 0;
}
