/*
 * tests/bench/bench_rcache.c - replay cache insert cost against one SHA-256
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * Fills a cache of 100k entries, then times inserts into the full cache
 * (every one evicts the oldest): in timestamp order, which is the normal
 * case, and with up to 1000 s of jitter.  In the same run it times the
 * SHA-256 of a 300-byte message (about a TRANSFER_INIT), once through
 * mikey_rcache_digest() and once with a pre-fetched EVP_MD, and prints the
 * ratio: the cache should cost less than hashing the message it guards.
 * Not a test: the numbers depend on the machine.  Build with -O2.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "mikey/mikey.h"

#define CACHE	100000
#define OPS	1000000
#define MSGLEN	300

static uint64_t rng_state = 0x62656e6368000001ULL;

/* rnd - splitmix64 */
static uint64_t
rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* now_ns - monotonic nanoseconds */
static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* fake_clock - far enough ahead that no timestamp is in the future */
static uint64_t
fake_clock(void *arg)
{
	return *(const uint64_t *)arg;
}

/* run_inserts - time OPS inserts into a full cache; ns per insert */
static double
run_inserts(const char *what, const uint8_t *dig, int jitter)
{
	struct mikey_rcache *rc;
	uint64_t base = mikey_ntp_from_unix(1772366400, 0), clk, *ts;
	size_t i, refused = 0;
	double t0, t1, ns;

	clk = base + ((uint64_t)365 * 86400 << 32);
	ts = malloc((CACHE + OPS) * sizeof(*ts));
	rc = mikey_rcache_new(CACHE, 60, fake_clock, &clk);
	if (ts == NULL || rc == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	/* 1/16 s apart; jitter up to 1000 s either way */
	for (i = 0; i < CACHE + OPS; i++) {
		ts[i] = base + ((uint64_t)(i + 16000) << 28);
		if (jitter)
			ts[i] = ts[i] - ((uint64_t)1000 << 32) +
			    (rnd() % ((uint64_t)2000 << 32));
	}
	for (i = 0; i < CACHE; i++)
		if (mikey_rcache_insert(rc, dig + 16 * i, ts[i]) != 0)
			refused++;
	t0 = now_ns();
	for (i = CACHE; i < CACHE + OPS; i++)
		if (mikey_rcache_insert(rc, dig + 16 * i, ts[i]) != 0)
			refused++;
	t1 = now_ns();
	ns = (t1 - t0) / OPS;
	printf("insert, full %d-entry cache, %-9s %10.0f inserts/s "
	    "%7.1f ns/insert (%zu refused, count %zu)\n", CACHE, what,
	    1e9 / ns, ns, refused, mikey_rcache_count(rc));
	mikey_rcache_free(rc);
	free(ts);
	return ns;
}

int
main(void)
{
	static uint8_t msg[MSGLEN];
	uint8_t *dig, d[MIKEY_RC_DIGEST], md[EVP_MAX_MD_SIZE], sink = 0;
	EVP_MD *sha;
	size_t i, n = (size_t)CACHE + OPS;
	double t0, ns_ins, ns_ins_j, ns_dig, ns_sha;

	dig = malloc(n * MIKEY_RC_DIGEST);
	sha = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	if (dig == NULL || sha == NULL) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	for (i = 0; i < n * MIKEY_RC_DIGEST; i += 8) {
		uint64_t x = rnd();

		memcpy(dig + i, &x, 8);
	}
	for (i = 0; i < MSGLEN; i++)
		msg[i] = (uint8_t)rnd();
	printf("per-entry memory: %.1f bytes (1 MiB holds %zu entries)\n",
	    (double)(1 << 20) / (double)mikey_rcache_entries_for_bytes(1 << 20),
	    mikey_rcache_entries_for_bytes(1 << 20));

	ns_ins = run_inserts("in order", dig, 0);
	ns_ins_j = run_inserts("jittered", dig, 1);

	t0 = now_ns();
	for (i = 0; i < OPS; i++) {
		msg[0] = (uint8_t)i;
		if (mikey_rcache_digest(msg, MSGLEN, d) != 0)
			return 1;
		sink ^= d[0];
	}
	ns_dig = (now_ns() - t0) / OPS;
	t0 = now_ns();
	for (i = 0; i < OPS; i++) {
		msg[0] = (uint8_t)i;
		if (EVP_Digest(msg, MSGLEN, md, NULL, sha, NULL) != 1)
			return 1;
		sink ^= md[0];
	}
	ns_sha = (now_ns() - t0) / OPS;
	printf("mikey_rcache_digest, %d-byte message     %7.1f ns\n", MSGLEN,
	    ns_dig);
	printf("SHA-256 (EVP_Digest, fetched MD), %d B   %7.1f ns\n", MSGLEN,
	    ns_sha);
	printf("ratio insert/SHA-256: in order %.2f, jittered %.2f "
	    "(insert/mikey_rcache_digest %.2f)\n", ns_ins / ns_sha,
	    ns_ins_j / ns_sha, ns_ins / ns_dig);
	printf("(sink %u)\n", sink);
	EVP_MD_free(sha);
	free(dig);
	return 0;
}
