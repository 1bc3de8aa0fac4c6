/*
 * tests/unit/queue/queue_fill.c - fill (or damage) a queue store for
 *	tests/integ/t_ctl_queue.sh
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * usage: queue_fill DB              store the fixed set below; print one
 *                                   "NAME ID" line per message
 *        queue_fill DB damage ID    change one byte of message ID's stored
 *                                   bytes behind the queue's back
 *        queue_fill DB many N       N filler messages (see many())
 *
 * The set: bob gets a protected multipart request (binary parts, NULs)
 * and two more, the second deferred to 2100; dan gets one; eve gets one
 * that is quarantined; plus one replay-state image.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "queue/queue.h"

#define NOW	1790000000LL
#define NTP(s)	(((uint64_t)((s) + 2208988800LL)) << 32)

static const char request[] =
    "MESSAGE sip:bob@example.org SIP/2.0\r\n"
    "Via: SIP/2.0/TLS gw1.example.com:5061;branch=z9hG4bK-a91f3c07e2\r\n"
    "From: <sip:alice@example.com>;tag=7c2e1d\r\n"
    "To: <sip:bob@example.org>\r\n"
    "Call-ID: 4f0c9a2be1d74a06@gw1.example.com\r\n"
    "CSeq: 31 MESSAGE\r\n"
    "X-Evil: \x1b[31mred\r\n"
    "Content-Type: multipart/mixed; boundary=\"sipsec-5Qm2ZtVb8rHk\"\r\n"
    "Content-Length: 161\r\n"
    "\r\n"
    "--sipsec-5Qm2ZtVb8rHk\r\n"
    "Content-Type: application/mikey\r\n"
    "\r\n"
    "\x01\x00\x0e\x00\xff\x80SECRETBODY\r\n"
    "--sipsec-5Qm2ZtVb8rHk\r\n"
    "Content-Type: application/pkcs7-mime\r\n"
    "\r\n"
    "\x30\x82\x00\x00\x06\x0b\r\n"
    "--sipsec-5Qm2ZtVb8rHk--\r\n";

static int
damage(const char *path, const char *id)
{
	char sql[256];
	sqlite3 *db = NULL;
	int rc;

	snprintf(sql, sizeof(sql), "UPDATE body SET data = CAST(X'00' || "
	    "substr(data, 2) AS BLOB) WHERE id = %lld", atoll(id));
	if ((rc = sqlite3_open(path, &db)) == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK || sqlite3_changes(db) != 1) {
		fprintf(stderr, "queue_fill: damage %s: %s\n", id,
		    sqlite3_errmsg(db));
		sqlite3_close(db);
		return 1;
	}
	sqlite3_close(db);
	return 0;
}

/*
 * many - N messages of about 600 bytes for N/100 recipients
 *	(sip:uNNNN@b.example), in batches of 256, all due in the year 2100 so
 *	a gateway keeps them (tests/bench/run-bench-store.sh); no quotas
 */
static int
many(const char *path, const char *count)
{
	struct queue_limits lim;
	struct queue_new in[256];
	struct queue_result res[256];
	struct queue *q = NULL;
	static uint8_t data[600];
	char err[512], rcpt[256][40];
	unsigned long long n = strtoull(count, NULL, 10), done = 0;
	size_t i, k;
	int rc;

	memset(&lim, 0, sizeof(lim));
	lim.max_per_rcpt = lim.max_bytes_per_rcpt = UINT64_MAX;
	lim.max_total = lim.max_bytes_total = UINT64_MAX;
	lim.flags = QUEUE_F_SYNC_NORMAL;
	if ((rc = queue_open(path, &lim, &q, err, sizeof(err))) != QUEUE_OK) {
		fprintf(stderr, "queue_fill: %s\n", err);
		return 1;
	}
	memset(data, 'x', sizeof(data));
	memcpy(data, "MESSAGE sip:x SIP/2.0\r\n\r\n", 25);
	while (done < n) {
		k = n - done < 256 ? (size_t)(n - done) : 256;
		memset(in, 0, sizeof(in));
		for (i = 0; i < k; i++) {
			snprintf(rcpt[i], sizeof(rcpt[i]), "sip:u%llu@b.example",
			    (done + i) / 100);
			in[i].rcpt = rcpt[i];
			in[i].sender = "sip:alice@a.example";
			in[i].mikey_t = NTP(NOW + (int64_t)(done + i));
			in[i].arrived = NOW;
			in[i].next_attempt = 4102444800LL;	/* 2100 */
			in[i].expires = 4102444800LL;
			in[i].data = data;
			in[i].len = sizeof(data);
		}
		if ((rc = queue_put_batch(q, in, k, res)) != QUEUE_OK) {
			fprintf(stderr, "queue_fill: %s\n", queue_strerror(rc));
			queue_close(q);
			return 1;
		}
		done += k;
		if (done % 100000 == 0)
			fprintf(stderr, "queue_fill: %llu stored\n", done);
	}
	queue_close(q);
	return 0;
}

int
main(int argc, char **argv)
{
	static const char *const names[] = { "bob1", "bob2", "bob3", "dan1",
	    "eve1" };
	struct queue_new in[5];
	struct queue_result res[5];
	struct queue *q = NULL;
	char err[512];
	size_t i;
	int rc;

	if (argc == 4 && strcmp(argv[2], "damage") == 0)
		return damage(argv[1], argv[3]);
	if (argc == 4 && strcmp(argv[2], "many") == 0)
		return many(argv[1], argv[3]);
	if (argc != 2) {
		fprintf(stderr, "usage: queue_fill DB [damage ID | many N]\n");
		return 2;
	}
	if ((rc = queue_open(argv[1], NULL, &q, err, sizeof(err))) !=
	    QUEUE_OK) {
		fprintf(stderr, "queue_fill: %s\n", err);
		return 1;
	}
	memset(in, 0, sizeof(in));
	for (i = 0; i < 5; i++) {
		in[i].sender = "sip:alice@example.com";
		in[i].arrived = NOW + (int64_t)i;
		in[i].expires = NOW + 30 * 86400;
		in[i].data = (const uint8_t *)"MESSAGE sip:x SIP/2.0\r\n\r\nx";
		in[i].len = 26;
	}
	in[0].rcpt = "sip:bob@example.org";
	in[0].mikey_t = NTP(NOW);
	in[0].data = (const uint8_t *)request;
	in[0].len = sizeof(request) - 1;
	in[1].rcpt = "sip:bob@example.org";
	in[1].mikey_t = NTP(NOW + 1);
	in[1].next_attempt = 4102444800LL;	/* 2100-01-01 */
	in[2].rcpt = "sip:bob@example.org";
	in[2].mikey_t = NTP(NOW + 2);
	in[3].rcpt = "sip:dan@example.org";
	in[3].mikey_t = NTP(NOW);
	in[4].rcpt = "sip:eve@example.org";
	in[4].mikey_t = NTP(NOW);
	in[4].sender = "";
	if ((rc = queue_put_batch(q, in, 5, res)) != QUEUE_OK) {
		fprintf(stderr, "queue_fill: %s: %s\n", queue_strerror(rc),
		    queue_last_error(q));
		queue_close(q);
		return 1;
	}
	for (i = 0; i < 5; i++) {
		if (res[i].err != QUEUE_OK) {
			fprintf(stderr, "queue_fill: %s: %s\n", names[i],
			    queue_strerror(res[i].err));
			queue_close(q);
			return 1;
		}
		printf("%s %lld\n", names[i], (long long)res[i].id);
	}
	if (queue_quarantine(q, res[4].id, "set aside by queue_fill") !=
	    QUEUE_OK || queue_rstate_put(q, "sip:bob@example.org",
	    (const uint8_t *)"RC\0\1", 4) != QUEUE_OK) {
		fprintf(stderr, "queue_fill: %s\n", queue_last_error(q));
		queue_close(q);
		return 1;
	}
	queue_close(q);
	return 0;
}
