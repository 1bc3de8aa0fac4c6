/*
 * kms/kms_metrics.c - counters and the latency histogram of imgate-kms,
 *	written in the Prometheus text format 0.0.4
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	Fixed arrays indexed by enum, bumped on the event loop thread, so
 *	counting costs a few increments and no allocation.  The histogram
 *	keeps one count per bucket and makes them cumulative only when
 *	written.  Every series is written, zeros included, so that a scraper
 *	(or a test) sees the same set of lines from the first scrape on.
 *	Names and labels are those of FORMATS.md section 1.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kms/kms.h"

/* Upper bounds of the finite buckets, in seconds. */
static const double bucket_le[KMS_HIST_N] = {
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 1.0
};
static const char *const bucket_name[KMS_HIST_N] = {
	"5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
	"0.01", "0.025", "0.05", "0.1", "0.25", "1"
};

static const char *const ex_names[KMS_EX_N] = { "request", "resolve",
	"other" };
static const char *const oc_names[KMS_OC_N] = {
	"ok", "bad_message", "auth", "unknown_id", "timestamp", "replay",
	"not_authorised", "expired", "key_version", "policy", "unsupported",
	"internal"
};
static const int hs_code[KMS_HS_N] = { 400, 404, 405, 413, 415, 500 };

const char *
kms_exchange_name(int ex)
{
	return ex >= 0 && ex < KMS_EX_N ? ex_names[ex] : "other";
}

const char *
kms_outcome_name(int oc)
{
	return oc >= 0 && oc < KMS_OC_N ? oc_names[oc] : "internal";
}

void
kms_metrics_request(struct kms_metrics *m, int ex, int oc, double seconds)
{
	size_t b;

	if (ex < 0 || ex >= KMS_EX_N)
		ex = KMS_EX_OTHER;
	if (oc < 0 || oc >= KMS_OC_N)
		oc = KMS_OC_INTERNAL;
	m->requests[ex][oc]++;
	for (b = 0; b < KMS_HIST_N && seconds > bucket_le[b]; b++)
		;
	m->hist[ex][b]++;	/* b == KMS_HIST_N: only in +Inf */
	m->sum[ex] += seconds;
}

void
kms_metrics_http_error(struct kms_metrics *m, int status)
{
	size_t i;

	for (i = 0; i < KMS_HS_N; i++)
		if (hs_code[i] == status) {
			m->http_errors[i]++;
			return;
		}
}

/* An output buffer that counts what did not fit, like snprintf. */
struct out {
	char	*buf;
	size_t	 cap;
	size_t	 len;
};

/* put - append formatted text */
static void put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->len < o->cap ? o->buf + o->len : NULL,
	    o->len < o->cap ? o->cap - o->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

size_t
kms_metrics_format(const struct kms_metrics *m, char *buf, size_t cap)
{
	struct out o = { buf, cap, 0 };
	uint64_t cum, count;
	size_t ex, oc, b, i;

	put(&o, "# HELP imgate_kms_requests_total MIKEY requests answered, "
	    "by exchange and outcome.\n"
	    "# TYPE imgate_kms_requests_total counter\n");
	for (ex = 0; ex < KMS_EX_N; ex++)
		for (oc = 0; oc < KMS_OC_N; oc++)
			put(&o, "imgate_kms_requests_total{exchange=\"%s\","
			    "outcome=\"%s\"} %llu\n", ex_names[ex],
			    oc_names[oc],
			    (unsigned long long)m->requests[ex][oc]);

	put(&o, "# HELP imgate_kms_request_seconds Time to answer a MIKEY "
	    "request, from the complete HTTP request to the reply.\n"
	    "# TYPE imgate_kms_request_seconds histogram\n");
	for (ex = 0; ex < KMS_EX_N; ex++) {
		cum = 0;
		for (b = 0; b < KMS_HIST_N; b++) {
			cum += m->hist[ex][b];
			put(&o, "imgate_kms_request_seconds_bucket{exchange="
			    "\"%s\",le=\"%s\"} %llu\n", ex_names[ex],
			    bucket_name[b], (unsigned long long)cum);
		}
		count = cum + m->hist[ex][KMS_HIST_N];
		put(&o, "imgate_kms_request_seconds_bucket{exchange=\"%s\","
		    "le=\"+Inf\"} %llu\n", ex_names[ex],
		    (unsigned long long)count);
		put(&o, "imgate_kms_request_seconds_sum{exchange=\"%s\"} "
		    "%.9g\n", ex_names[ex], m->sum[ex]);
		put(&o, "imgate_kms_request_seconds_count{exchange=\"%s\"} "
		    "%llu\n", ex_names[ex], (unsigned long long)count);
	}

	put(&o, "# HELP imgate_kms_http_errors_total HTTP error answers "
	    "that carry no MIKEY message, by status.\n"
	    "# TYPE imgate_kms_http_errors_total counter\n");
	for (i = 0; i < KMS_HS_N; i++)
		put(&o, "imgate_kms_http_errors_total{status=\"%d\"} %llu\n",
		    hs_code[i], (unsigned long long)m->http_errors[i]);

	put(&o, "# HELP imgate_kms_master_key_version The version of the "
	    "current master key.\n"
	    "# TYPE imgate_kms_master_key_version gauge\n"
	    "imgate_kms_master_key_version %u\n", m->key_version);

	put(&o, "# HELP imgate_kms_policy_reloads_total Reloads of the "
	    "configuration, users or master keys, by result.\n"
	    "# TYPE imgate_kms_policy_reloads_total counter\n"
	    "imgate_kms_policy_reloads_total{result=\"ok\"} %llu\n"
	    "imgate_kms_policy_reloads_total{result=\"error\"} %llu\n",
	    (unsigned long long)m->reloads_ok,
	    (unsigned long long)m->reloads_error);

	put(&o, "# HELP imgate_kms_users Users with a PSK.\n"
	    "# TYPE imgate_kms_users gauge\n"
	    "imgate_kms_users %zu\n", m->users);
	put(&o, "# HELP imgate_kms_replay_cache_entries Initial messages "
	    "remembered by the replay cache.\n"
	    "# TYPE imgate_kms_replay_cache_entries gauge\n"
	    "imgate_kms_replay_cache_entries %zu\n", m->rcache_entries);
	return o.len;
}
