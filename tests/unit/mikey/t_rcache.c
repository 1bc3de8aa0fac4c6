/*
 * tests/unit/mikey/t_rcache.c - replay cache and NTP time tests (fake clock)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	Table-driven scenarios (spec/smime-sip.md 2.6, seed 002) with a fake
 *	clock, as krb5's t_memrcache.c sets the time; persistence round trips
 *	and corruption of every bit of an image; and a randomized run of 100k
 *	operations against a reference model.  The model is deliberately
 *	naive (an array scanned in O(n)) and orders timestamps through
 *	mikey_ntp_to_unix() rather than the cache's XOR key, so the two share
 *	the rules but not the code.  It also writes the expected image bytes
 *	itself, which pins the serialised format.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "mikey/mikey.h"
#include "tests/tap.h"

#define DAY		86400
#define ERA1_UNIX	2085978496LL	/* 2036-02-07T06:28:16Z: NTP 0 */
#define BASE_UNIX	1772366400LL	/* 2026-03-01T12:00:00Z */

/* --------------------------------------------------------------------- */
/* helpers */

struct fclock {
	uint64_t	now;
};

/* fclock_cb - the fake clock */
static uint64_t
fclock_cb(void *arg)
{
	return ((struct fclock *)arg)->now;
}

/* ntp - NTP-UTC for whole Unix seconds */
static uint64_t
ntp(int64_t unix_sec)
{
	return mikey_ntp_from_unix(unix_sec, 0);
}

/* dig - a digest for message number id (through mikey_rcache_digest) */
static void
dig(unsigned id, uint8_t d[MIKEY_RC_DIGEST])
{
	char msg[64];
	int n;

	n = snprintf(msg, sizeof(msg), "TRANSFER_INIT number %u", id);
	if (mikey_rcache_digest((const uint8_t *)msg, (size_t)n, d) != 0)
		memset(d, 0, MIKEY_RC_DIGEST);
}

/* image - serialise rc; NULL on failure */
static uint8_t *
image(const struct mikey_rcache *rc, size_t *len)
{
	uint8_t *buf = NULL;

	*len = 0;
	if (mikey_rcache_serialise(rc, &buf, len) != 0)
		return NULL;
	return buf;
}

/* reseal - recompute the trailing SHA-256 of an edited image */
static void
reseal(uint8_t *buf, size_t len)
{
	if (EVP_Digest(buf, len - 32, buf + len - 32, NULL, EVP_sha256(),
	    NULL) != 1)
		abort();
}

/* same_image - does rc serialise to exactly (buf, len)? */
static int
same_image(const struct mikey_rcache *rc, const uint8_t *buf, size_t len)
{
	uint8_t *img;
	size_t ilen;
	int r;

	img = image(rc, &ilen);
	r = img != NULL && ilen == len && memcmp(img, buf, len) == 0;
	free(img);
	return r;
}

/* splitmix64 - the test PRNG (fixed seed: runs are reproducible) */
static uint64_t rng_state = 0x696d676174650001ULL;

static uint64_t
rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* rnd_below - uniform-enough in [0, n) for small n */
static uint64_t
rnd_below(uint64_t n)
{
	return rnd() % n;
}

/* errname - short name of the codes this test expects */
static const char *
errname(int err)
{
	switch (err) {
	case 0:			return "OK";
	case MIKEY_ERR_REPLAY:	return "REPLAY";
	case MIKEY_ERR_TOO_OLD:	return "TOO_OLD";
	case MIKEY_ERR_TS:	return "TS";
	case MIKEY_ERR_VALUE:	return "VALUE";
	case MIKEY_ERR_VERSION:	return "VERSION";
	case MIKEY_ERR_TRUNCATED: return "TRUNCATED";
	case MIKEY_ERR_LENGTH:	return "LENGTH";
	case MIKEY_ERR_AUTH:	return "AUTH";
	case MIKEY_ERR_INVAL:	return "INVAL";
	default:		return "other";
	}
}

/* --------------------------------------------------------------------- */
/* NTP time */

/* test_time - known NTP values, the era boundary and the 1968-2104 window */
static void
test_time(void)
{
	static const struct {
		const char	*what;
		int64_t		 sec;
		uint32_t	 nsec;
		uint64_t	 ntp;
	} tv[] = {
		{ "Unix epoch", 0, 0, 0x83aa7e8000000000ULL },
		{ "Unix epoch + 0.5 s", 0, 500000000, 0x83aa7e8080000000ULL },
		{ "2026-03-01T12:00:00Z", BASE_UNIX, 0, 0xed4ea8c000000000ULL },
		{ "2036-02-07T06:28:15Z (last of era 0)", ERA1_UNIX - 1, 0,
		    0xffffffff00000000ULL },
		{ "2036-02-07T06:28:16Z (era boundary)", ERA1_UNIX, 0, 0 },
		{ "2040-01-01T00:00:00Z", 2208988800LL, 0,
		    0x0754fd0000000000ULL },
		{ "1968-01-20T03:14:08Z (window start)", -61505152LL, 0,
		    0x8000000000000000ULL },
		{ "2104-02-26T09:42:23Z (window end)", 4233462143LL, 0,
		    0x7fffffff00000000ULL },
	};
	size_t i;
	int64_t x, bad = 0, n = 0;

	for (i = 0; i < sizeof(tv) / sizeof(tv[0]); i++) {
		is_int(mikey_ntp_from_unix(tv[i].sec, tv[i].nsec), tv[i].ntp,
		    "ntp_from_unix %s", tv[i].what);
		is_int(mikey_ntp_to_unix(tv[i].ntp), tv[i].sec,
		    "ntp_to_unix %s", tv[i].what);
	}
	is_int(mikey_ntp_from_unix(0, 1500000000u),
	    mikey_ntp_from_unix(1, 500000000u), "nsec >= 1e9 carries");
	is_int(mikey_ntp_to_unix(0x83aa7e80ffffffffULL), 0,
	    "fraction is dropped (floor)");
	is_int(mikey_ntp_to_unix(mikey_ntp_from_unix(2208988800LL + 12345,
	    999999999u)), 2208988800LL + 12345, "a 2040 date round-trips");
	/* every ~day of the window, with an odd offset */
	for (x = -61505152LL; x <= 4233462143LL; x += DAY + 7, n++)
		if (mikey_ntp_to_unix(mikey_ntp_from_unix(x, 0)) != x)
			bad++;
	ok(bad == 0, "%lld dates 1968..2104 round-trip (%lld bad)",
	    (long long)n, (long long)bad);
}

/* --------------------------------------------------------------------- */
/* basic API */

/* test_basics - digest, sizing, NULL handling, the system clock */
static void
test_basics(void)
{
	static const char *abc = "abc";
	/* SHA-256("abc") and SHA-256(""), first 16 bytes (FIPS 180-2) */
	static const uint8_t abc16[16] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
		0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23 };
	static const uint8_t empty16[16] = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
		0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24 };
	struct mikey_rcache *rc;
	struct timespec tsp;
	uint8_t d[MIKEY_RC_DIGEST];
	uint64_t now;
	size_t n1m, n;

	mikey_rcache_free(NULL);
	ok(1, "mikey_rcache_free(NULL) is a no-op");
	ok(mikey_rcache_new(0, 0, NULL, NULL) == NULL, "max_entries 0 refused");

	is_int(mikey_rcache_digest((const uint8_t *)abc, 3, d), 0, "digest");
	is_mem(d, sizeof(d), abc16, sizeof(abc16), "digest of \"abc\"");
	is_int(mikey_rcache_digest(NULL, 0, d), 0, "digest of empty");
	is_mem(d, sizeof(d), empty16, sizeof(empty16), "digest of \"\"");
	is_int(mikey_rcache_digest(NULL, 1, d), MIKEY_ERR_INVAL,
	    "digest of NULL, 1");

	is_int(mikey_rcache_entries_for_bytes(0), 0, "0 bytes: 0 entries");
	n1m = mikey_rcache_entries_for_bytes(1 << 20);
	ok(n1m > 15000 && n1m < (1 << 20) / 24, "1 MiB holds %zu entries",
	    n1m);
	ok(mikey_rcache_entries_for_bytes(2 << 20) >= n1m * 19 / 10,
	    "2 MiB holds about twice as many (%zu)",
	    mikey_rcache_entries_for_bytes(2 << 20));
	printf("# per-entry cost: %.2f bytes at 1 MiB (%zu entries)\n",
	    (double)(1 << 20) / (double)n1m, n1m);
	rc = mikey_rcache_new(n1m, 0, NULL, NULL);
	ok(rc != NULL, "a cache of that size can be made");
	mikey_rcache_free(rc);

	is_int(mikey_rcache_insert(NULL, d, 0), MIKEY_ERR_INVAL,
	    "insert into NULL");
	is_int(mikey_rcache_check(NULL, d, 0), MIKEY_ERR_INVAL,
	    "check NULL");
	is_int(mikey_rcache_count(NULL), 0, "count of NULL");

	/* the system clock (now == NULL) */
	rc = mikey_rcache_new(4, 300, NULL, NULL);
	if (rc == NULL || clock_gettime(CLOCK_REALTIME, &tsp) != 0) {
		ok(0, "system clock cache");
		mikey_rcache_free(rc);
		return;
	}
	now = mikey_ntp_from_unix(tsp.tv_sec, (uint32_t)tsp.tv_nsec);
	dig(1, d);
	is_int(mikey_rcache_insert(rc, d, now), 0, "system clock: now ok");
	dig(2, d);
	is_int(mikey_rcache_insert(rc, d, now + ((uint64_t)DAY << 32)),
	    MIKEY_ERR_TS, "system clock: tomorrow is too far ahead");
	is_int(mikey_rcache_insert(rc, d, now - ((uint64_t)400 * DAY << 32)),
	    0, "system clock: 400 days old is fine");
	is_int(mikey_rcache_oldest(rc), now - ((uint64_t)400 * DAY << 32),
	    "oldest");
	n = mikey_rcache_count(rc);
	is_int(n, 2, "count");
	is_int(mikey_rcache_max(rc), 4, "max");
	is_int(mikey_rcache_check_invariants(rc), 0, "invariants");
	mikey_rcache_free(rc);
}

/* --------------------------------------------------------------------- */
/* table-driven scenarios */

enum { S_END, S_INS, S_CHK, S_NOW, S_COUNT, S_OLDEST };

struct step {
	int		 op;
	unsigned	 id;	/* message number */
	int64_t		 t;	/* seconds from the scenario base */
	int		 want;	/* error code, or the count for S_COUNT */
};

struct scenario {
	const char	*name;
	size_t		 max;
	uint32_t	 skew;
	int64_t		 base;	/* Unix seconds */
	struct step	 s[32];
};

#define OLD	MIKEY_ERR_TOO_OLD
#define REP	MIKEY_ERR_REPLAY
#define FUT	MIKEY_ERR_TS

static const struct scenario scenarios[] = {
	{ "accept until full, then only newer than the oldest", 3, 0,
	    BASE_UNIX, {
		{ S_NOW, 0, 100, 0 },
		{ S_INS, 1, 10, 0 }, { S_INS, 2, 5, 0 }, { S_COUNT, 0, 0, 2 },
		{ S_INS, 3, 20, 0 }, { S_COUNT, 0, 0, 3 },
		{ S_OLDEST, 0, 5, 0 },
		{ S_CHK, 4, 1, OLD }, { S_INS, 4, 1, OLD },
		{ S_INS, 5, 5, OLD },		/* equal to the oldest */
		{ S_CHK, 6, 6, 0 }, { S_COUNT, 0, 0, 3 }, { S_OLDEST, 0, 5, 0 },
		{ S_INS, 6, 6, 0 },		/* evicts 2@5 */
		{ S_OLDEST, 0, 6, 0 }, { S_COUNT, 0, 0, 3 },
		{ S_INS, 2, 5, OLD },		/* evicted, caught as too old */
		{ S_END, 0, 0, 0 } } },
	{ "replay rejected", 4, 0, BASE_UNIX, {
		{ S_NOW, 0, 100, 0 },
		{ S_INS, 1, 10, 0 }, { S_INS, 1, 10, REP },
		{ S_INS, 1, 50, REP },		/* same digest, other ts */
		{ S_CHK, 1, 10, REP }, { S_COUNT, 0, 0, 1 },
		{ S_END, 0, 0, 0 } } },
	{ "replay rejected after others were evicted", 3, 0, BASE_UNIX, {
		{ S_NOW, 0, 100, 0 },
		{ S_INS, 1, 100, 0 }, { S_INS, 2, 10, 0 }, { S_INS, 3, 20, 0 },
		{ S_INS, 4, 30, 0 }, { S_INS, 5, 40, 0 },	/* evict 2, 3 */
		{ S_INS, 1, 100, REP }, { S_INS, 4, 30, REP },
		{ S_INS, 2, 10, OLD }, { S_INS, 3, 20, OLD },
		{ S_OLDEST, 0, 30, 0 },
		{ S_END, 0, 0, 0 } } },
	{ "equal timestamps leave in arrival order", 2, 0, BASE_UNIX, {
		{ S_NOW, 0, 100, 0 },
		{ S_INS, 1, 5, 0 }, { S_INS, 2, 5, 0 },
		{ S_INS, 3, 6, 0 },		/* evicts 1, not 2 */
		{ S_INS, 2, 5, REP }, { S_INS, 1, 5, OLD },
		{ S_INS, 7, 5, OLD }, { S_OLDEST, 0, 5, 0 },
		{ S_INS, 8, 7, 0 }, { S_OLDEST, 0, 6, 0 },
		{ S_END, 0, 0, 0 } } },
	{ "future beyond the skew rejected, within accepted", 4, 300,
	    BASE_UNIX, {
		{ S_NOW, 0, 1000, 0 },
		{ S_INS, 1, 1300, 0 },		/* exactly now + skew */
		{ S_INS, 2, 1301, FUT }, { S_CHK, 2, 1301, FUT },
		{ S_COUNT, 0, 0, 1 },
		{ S_NOW, 0, 1001, 0 }, { S_INS, 2, 1301, 0 },
		{ S_INS, 3, 1302, FUT },
		{ S_INS, 1, 99999, REP },	/* replay checked first */
		{ S_END, 0, 0, 0 } } },
	{ "zero skew, no lower time bound", 2, 0, BASE_UNIX, {
		{ S_NOW, 0, 1000, 0 },
		{ S_INS, 1, 1000, 0 }, { S_INS, 2, 1001, FUT },
		{ S_INS, 3, -365 * DAY, 0 },	/* a year old */
		{ S_INS, 4, -366 * DAY, OLD }, { S_INS, 4, 500, 0 },
		{ S_OLDEST, 0, 500, 0 },
		{ S_END, 0, 0, 0 } } },
	/*
	 * Seed 002: Bob's cache of 4 is full of messages from before he went
	 * offline (300 days ago).  The AS delivers its backlog oldest first
	 * while live messages arrive too.  Each backlog message is newer than
	 * the oldest cached one and passes; a burst of live messages larger
	 * than the cache pushes the backlog's horizon past the next one.
	 */
	{ "seed 002: deferred delivery, oldest first", 4, 60, BASE_UNIX, {
		{ S_NOW, 0, 0, 0 },
		{ S_INS, 1, -300 * DAY, 0 }, { S_INS, 2, -299 * DAY, 0 },
		{ S_INS, 3, -298 * DAY, 0 }, { S_INS, 4, -297 * DAY, 0 },
		{ S_INS, 10, -200 * DAY, 0 },	/* 200 days old: accepted */
		{ S_OLDEST, 0, -299 * DAY, 0 },
		{ S_INS, 20, 0, 0 },		/* live */
		{ S_INS, 11, -150 * DAY, 0 }, { S_INS, 12, -100 * DAY, 0 },
		{ S_OLDEST, 0, -200 * DAY, 0 },
		{ S_INS, 10, -200 * DAY, REP },	/* AS re-delivers */
		{ S_NOW, 0, 3, 0 },
		{ S_INS, 21, 1, 0 }, { S_INS, 22, 2, 0 }, { S_INS, 23, 3, 0 },
		{ S_OLDEST, 0, 0, 0 },
		{ S_INS, 13, -50 * DAY, OLD },	/* cache too small */
		{ S_INS, 10, -200 * DAY, OLD },	/* evicted replay */
		{ S_INS, 23, 3, REP },
		{ S_END, 0, 0, 0 } } },
	{ "NTP era rollover in 2036", 1, 60, ERA1_UNIX, {
		{ S_NOW, 0, 100, 0 },
		{ S_INS, 1, -10, 0 },		/* NTP seconds 0xfffffff6 */
		{ S_OLDEST, 0, -10, 0 },
		{ S_INS, 2, 10, 0 },		/* NTP seconds 0x0000000a */
		{ S_OLDEST, 0, 10, 0 },
		{ S_INS, 3, -5, OLD }, { S_INS, 4, 161, FUT },
		{ S_INS, 4, 160, 0 },
		{ S_END, 0, 0, 0 } } },
};

/* run_scenario - one table, invariants checked after every step */
static void
run_scenario(const struct scenario *sc)
{
	struct mikey_rcache *rc;
	struct fclock clk = { ntp(sc->base) };
	const struct step *st;
	uint8_t d[MIKEY_RC_DIGEST];
	size_t before;
	int i, inv_bad = 0;

	rc = mikey_rcache_new(sc->max, sc->skew, fclock_cb, &clk);
	if (!ok(rc != NULL, "%s: new", sc->name))
		return;
	for (i = 0; sc->s[i].op != S_END; i++) {
		st = &sc->s[i];
		dig(st->id, d);
		switch (st->op) {
		case S_NOW:
			clk.now = ntp(sc->base + st->t);
			break;
		case S_INS:
			is_int(mikey_rcache_insert(rc, d,
			    ntp(sc->base + st->t)), st->want,
			    "%s: step %d insert #%u @%+lld: %s", sc->name, i,
			    st->id, (long long)st->t, errname(st->want));
			break;
		case S_CHK:
			before = mikey_rcache_count(rc);
			is_int(mikey_rcache_check(rc, d,
			    ntp(sc->base + st->t)), st->want,
			    "%s: step %d check #%u @%+lld: %s", sc->name, i,
			    st->id, (long long)st->t, errname(st->want));
			is_int(mikey_rcache_count(rc), before,
			    "%s: step %d check changed nothing", sc->name, i);
			break;
		case S_COUNT:
			is_int(mikey_rcache_count(rc), st->want,
			    "%s: step %d count", sc->name, i);
			break;
		case S_OLDEST:
			is_int(mikey_rcache_oldest(rc), ntp(sc->base + st->t),
			    "%s: step %d oldest @%+lld", sc->name, i,
			    (long long)st->t);
			break;
		}
		if (mikey_rcache_check_invariants(rc) != 0)
			inv_bad++;
	}
	ok(inv_bad == 0, "%s: invariants after every step", sc->name);
	mikey_rcache_free(rc);
}

/* --------------------------------------------------------------------- */
/* the one-entry cache and the AS backlog (seed 002) */

/* test_backlog - seed 002: a one-entry cache and an ordered backlog */
static void
test_backlog(void)
{
	struct mikey_rcache *rc;
	struct fclock clk = { ntp(BASE_UNIX) };
	uint8_t d[MIKEY_RC_DIGEST];
	unsigned order[50], i, j, tmp, acc, want_acc;
	int64_t t, best;
	int err, bad;

	/* in order: a one-entry cache is enough */
	rc = mikey_rcache_new(1, 60, fclock_cb, &clk);
	bad = 0;
	for (i = 0; i < 50; i++) {
		dig(1000 + i, d);
		t = BASE_UNIX - 50 * DAY + (int64_t)i * 3600;
		if (mikey_rcache_insert(rc, d, ntp(t)) != 0 ||
		    mikey_rcache_check_invariants(rc) != 0)
			bad++;
	}
	is_int(bad, 0, "1-entry cache: 50-message backlog, oldest first");
	mikey_rcache_free(rc);

	/* newest first: only the first passes */
	rc = mikey_rcache_new(1, 60, fclock_cb, &clk);
	acc = 0;
	bad = 0;
	for (i = 50; i-- > 0; ) {
		dig(1000 + i, d);
		t = BASE_UNIX - 50 * DAY + (int64_t)i * 3600;
		err = mikey_rcache_insert(rc, d, ntp(t));
		if (err == 0)
			acc++;
		else if (err != MIKEY_ERR_TOO_OLD)
			bad++;
	}
	is_int(acc, 1, "1-entry cache: newest first accepts one");
	is_int(bad, 0, "1-entry cache: the other 49 are TOO_OLD");
	mikey_rcache_free(rc);

	/* shuffled: exactly the running maxima pass */
	for (i = 0; i < 50; i++)
		order[i] = i;
	for (i = 49; i > 0; i--) {
		j = (unsigned)rnd_below(i + 1);
		tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
	rc = mikey_rcache_new(1, 60, fclock_cb, &clk);
	acc = want_acc = 0;
	best = -1;
	for (i = 0; i < 50; i++) {
		if ((int64_t)order[i] > best) {
			best = order[i];
			want_acc++;
		}
		dig(1000 + order[i], d);
		t = BASE_UNIX - 50 * DAY + (int64_t)order[i] * 3600;
		if (mikey_rcache_insert(rc, d, ntp(t)) == 0)
			acc++;
	}
	is_int(acc, want_acc, "1-entry cache: shuffled backlog accepts the "
	    "running maxima only");
	mikey_rcache_free(rc);
}

/* --------------------------------------------------------------------- */
/* persistence */

struct probe {
	unsigned	id;
	int64_t		t;
};

/* probes_differ - do two caches decide any probe differently? */
static int
probes_differ(const struct mikey_rcache *a, const struct mikey_rcache *b,
    const struct probe *p, size_t n)
{
	uint8_t d[MIKEY_RC_DIGEST];
	size_t i;

	for (i = 0; i < n; i++) {
		dig(p[i].id, d);
		if (mikey_rcache_check(a, d, ntp(BASE_UNIX + p[i].t)) !=
		    mikey_rcache_check(b, d, ntp(BASE_UNIX + p[i].t)))
			return 1;
	}
	return 0;
}

/* fill - insert ids first..first+n-1 at t0, t0+1, ... (some ties) */
static void
fill(struct mikey_rcache *rc, unsigned first, unsigned n, int64_t t0)
{
	uint8_t d[MIKEY_RC_DIGEST];
	unsigned i;

	for (i = 0; i < n; i++) {
		dig(first + i, d);
		if (mikey_rcache_insert(rc, d,
		    ntp(BASE_UNIX + t0 + i / 2)) != 0)
			diag(__FILE__, __LINE__, "fill: #%u refused",
			    first + i);
	}
}

/* test_persist - serialise/load: restart, resize, corruption */
static void
test_persist(void)
{
	static const struct probe probes[] = {
		{ 1, 0 }, { 5, 2 }, { 9, 4 }, { 12, 6 }, { 15, 7 },
		{ 500, 3 }, { 501, 5 }, { 502, 6 }, { 503, 100 },
		{ 504, -DAY }, { 505, 1000 },
	};
	const size_t np = sizeof(probes) / sizeof(probes[0]);
	struct fclock clk = { ntp(BASE_UNIX + 100) };
	struct mikey_rcache *a, *b, *c;
	uint8_t d[MIKEY_RC_DIGEST], *img, *img2, *cp;
	size_t len, len2, i, bit, nflip = 0, wrong_code = 0, changed = 0;
	size_t ntrunc = 0;
	int err, want, tot;

	/* 16 messages into a cache of 8: ids 1..8 evicted, floor ts 3 */
	a = mikey_rcache_new(8, 60, fclock_cb, &clk);
	fill(a, 1, 16, 0);
	img = image(a, &len);
	if (!ok(img != NULL, "serialise"))
		return;
	is_int(len, 22 + 8 * 24 + 32, "image length");
	is_mem(img, 5, "MKRC\001", 5, "magic and version");

	/* restart: a fresh cache of the same size */
	b = mikey_rcache_new(8, 60, fclock_cb, &clk);
	is_int(mikey_rcache_load(b, img, len), 0, "load into a fresh cache");
	is_int(mikey_rcache_check_invariants(b), 0, "invariants after load");
	is_int(mikey_rcache_count(b), 8, "count after load");
	is_int(mikey_rcache_oldest(b), mikey_rcache_oldest(a),
	    "oldest after load");
	ok(same_image(b, img, len), "re-serialised image is identical");
	ok(!probes_differ(a, b, probes, np), "decisions unchanged by "
	    "serialise/load");
	dig(16, d);
	is_int(mikey_rcache_insert(b, d, ntp(BASE_UNIX + 7)), MIKEY_ERR_REPLAY,
	    "restart: a cached message is still a replay");
	dig(2, d);
	is_int(mikey_rcache_insert(b, d, ntp(BASE_UNIX + 0)), MIKEY_ERR_TOO_OLD,
	    "restart: an evicted message is still refused");
	dig(600, d);
	is_int(mikey_rcache_insert(b, d, ntp(BASE_UNIX + 50)), 0,
	    "restart: a new message is accepted");
	dig(600, d);
	is_int(mikey_rcache_insert(a, d, ntp(BASE_UNIX + 50)), 0,
	    "the same on the original");
	ok(!probes_differ(a, b, probes, np), "both caches still agree");
	mikey_rcache_free(b);

	/* load replaces whatever the cache held */
	b = mikey_rcache_new(8, 60, fclock_cb, &clk);
	fill(b, 700, 5, -50);
	is_int(mikey_rcache_load(b, img, len), 0, "load into a used cache");
	ok(same_image(b, img, len), "its content was replaced");
	mikey_rcache_free(b);

	/* a smaller cache keeps the newest */
	c = mikey_rcache_new(3, 60, fclock_cb, &clk);
	is_int(mikey_rcache_load(c, img, len), 0, "load into a smaller cache");
	is_int(mikey_rcache_check_invariants(c), 0, "invariants");
	is_int(mikey_rcache_count(c), 3, "keeps 3");
	/* ids 9..16 had ts 4,4,5,5,6,6,7,7: the newest three are 14@6,
	 * 15@7, 16@7 */
	is_int(mikey_rcache_oldest(c), ntp(BASE_UNIX + 6), "the newest 3");
	for (i = 14; i <= 16; i++) {
		dig((unsigned)i, d);
		is_int(mikey_rcache_check(c, d, ntp(BASE_UNIX + 7)),
		    MIKEY_ERR_REPLAY, "#%zu kept", i);
	}
	dig(13, d);
	is_int(mikey_rcache_check(c, d, ntp(BASE_UNIX + 6)), MIKEY_ERR_TOO_OLD,
	    "#13 dropped, refused");

	/* ... and a larger one still refuses what was dropped (the floor) */
	img2 = image(c, &len2);
	b = mikey_rcache_new(100, 60, fclock_cb, &clk);
	is_int(mikey_rcache_load(b, img2, len2), 0, "load into a larger cache");
	is_int(mikey_rcache_count(b), 3, "3 entries, not full");
	dig(13, d);
	is_int(mikey_rcache_check(b, d, ntp(BASE_UNIX + 6)), MIKEY_ERR_TOO_OLD,
	    "dropped #13 refused by the floor although not full");
	dig(1, d);
	is_int(mikey_rcache_check(b, d, ntp(BASE_UNIX + 0)), MIKEY_ERR_TOO_OLD,
	    "evicted #1 refused by the floor");
	dig(601, d);
	is_int(mikey_rcache_insert(b, d, ntp(BASE_UNIX + 6)), MIKEY_ERR_TOO_OLD,
	    "a new message at the floor is refused");
	is_int(mikey_rcache_insert(b, d, ntp(BASE_UNIX + 7)), 0,
	    "one above the floor is accepted although older than others");
	is_int(mikey_rcache_check_invariants(b), 0, "invariants");
	mikey_rcache_free(b);
	mikey_rcache_free(c);
	free(img2);

	/* an empty cache round-trips */
	b = mikey_rcache_new(5, 60, fclock_cb, &clk);
	img2 = image(b, &len2);
	is_int(len2, 22 + 32, "empty image length");
	c = mikey_rcache_new(2, 60, fclock_cb, &clk);
	fill(c, 800, 4, 0);
	is_int(mikey_rcache_load(c, img2, len2), 0, "load an empty image");
	is_int(mikey_rcache_count(c), 0, "now empty");
	is_int(mikey_rcache_oldest(c), 0, "oldest of empty is 0");
	mikey_rcache_free(b);
	mikey_rcache_free(c);
	free(img2);

	/* corruption: every bit of the image, every truncation */
	b = mikey_rcache_new(8, 60, fclock_cb, &clk);
	fill(b, 900, 5, 1);
	img2 = image(b, &len2);
	cp = malloc(len);
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(cp, img, len);
			cp[i] ^= (uint8_t)(1u << bit);
			err = mikey_rcache_load(b, cp, len);
			nflip++;
			if (i < 4)
				want = err == MIKEY_ERR_VALUE;
			else if (i == 4)
				want = err == MIKEY_ERR_VERSION;
			else if (i >= 10 && i < 14)
				want = err == MIKEY_ERR_TRUNCATED ||
				    err == MIKEY_ERR_LENGTH;
			else
				want = err == MIKEY_ERR_AUTH;
			if (!want)
				wrong_code++;
			if (!same_image(b, img2, len2) ||
			    mikey_rcache_check_invariants(b) != 0)
				changed++;
		}
	}
	is_int(wrong_code, 0, "%zu single-bit flips rejected with the "
	    "expected code", nflip);
	is_int(changed, 0, "... and the cache is unchanged after each");
	for (i = 0; i < len; i++)
		if (mikey_rcache_load(b, img, i) == 0)
			ntrunc++;
	is_int(ntrunc, 0, "every truncation rejected");
	ok(same_image(b, img2, len2), "cache unchanged");

	/* edits with a valid checksum */
	{
		static const struct {
			const char	*what;
			size_t		 off;
			uint8_t		 val;
			int		 want;
		} ed[] = {
			{ "version 2", 4, 2, MIKEY_ERR_VERSION },
			{ "unknown flag", 5, 0x03, MIKEY_ERR_VALUE },
			{ "floor without its flag", 5, 0x00, MIKEY_ERR_VALUE },
			{ "max_entries 0", 9, 0, MIKEY_ERR_VALUE },
			{ "max_entries 7 < count 8", 9, 7, MIKEY_ERR_VALUE },
			{ "max_entries > 2^28", 6, 0x10, MIKEY_ERR_VALUE },
			{ "entries out of order", 22 + 7, 0xff,
			    MIKEY_ERR_VALUE },
			{ "entry below the floor", 22 + 3, 0x00,
			    MIKEY_ERR_VALUE },
		};
		for (i = 0; i < sizeof(ed) / sizeof(ed[0]); i++) {
			memcpy(cp, img, len);
			cp[ed[i].off] = ed[i].val;
			reseal(cp, len);
			is_int(mikey_rcache_load(b, cp, len), ed[i].want,
			    "resealed image with %s: %s", ed[i].what,
			    errname(ed[i].want));
		}
		/* duplicate digest, not adjacent: entry 0's over entry 5's */
		memcpy(cp, img, len);
		memcpy(cp + 22 + 5 * 24 + 8, cp + 22 + 0 * 24 + 8, 16);
		reseal(cp, len);
		is_int(mikey_rcache_load(b, cp, len), MIKEY_ERR_VALUE,
		    "resealed image with a duplicate digest");
		ok(same_image(b, img2, len2), "cache unchanged");
	}
	free(cp);
	cp = malloc(len + 1);
	memcpy(cp, img, len);
	cp[len] = 0;
	is_int(mikey_rcache_load(b, cp, len + 1), MIKEY_ERR_LENGTH,
	    "a trailing byte");
	is_int(mikey_rcache_load(b, NULL, 0), MIKEY_ERR_TRUNCATED,
	    "an empty image");
	tot = same_image(b, img2, len2) &&
	    mikey_rcache_check_invariants(b) == 0;
	ok(tot, "cache unchanged after all of them");
	free(cp);
	free(img2);
	mikey_rcache_free(b);
	mikey_rcache_free(a);
	free(img);
}

/* --------------------------------------------------------------------- */
/* randomized run against a reference model */

#define MODEL_MAX	512

struct mentry {
	uint64_t	ts;
	uint64_t	seq;
	uint8_t		d[MIKEY_RC_DIGEST];
};

struct model {
	size_t		max, count;
	uint32_t	skew;
	uint64_t	next_seq;
	int		has_floor;
	uint64_t	floor;
	struct mentry	e[MODEL_MAX];
};

/* mcmp - chronological order of two NTP-UTC values in the 1968-2104 window */
static int
mcmp(uint64_t a, uint64_t b)
{
	int64_t ua = mikey_ntp_to_unix(a), ub = mikey_ntp_to_unix(b);

	if (ua != ub)
		return ua < ub ? -1 : 1;
	if ((uint32_t)a != (uint32_t)b)
		return (uint32_t)a < (uint32_t)b ? -1 : 1;
	return 0;
}

/* mentry_cmp - model order: time, then insertion */
static int
mentry_cmp(const void *pa, const void *pb)
{
	const struct mentry *a = pa, *b = pb;
	int c = mcmp(a->ts, b->ts);

	if (c != 0)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* model_oldest - index of the oldest entry (count > 0) */
static size_t
model_oldest(const struct model *m)
{
	size_t i, o = 0;

	for (i = 1; i < m->count; i++)
		if (mentry_cmp(&m->e[i], &m->e[o]) < 0)
			o = i;
	return o;
}

/* model_decide - the rules of spec/smime-sip.md 2.6, done the slow way */
static int
model_decide(const struct model *m, const uint8_t *d, uint64_t ts,
    uint64_t now)
{
	int64_t ds;
	size_t i;

	for (i = 0; i < m->count; i++)
		if (memcmp(m->e[i].d, d, MIKEY_RC_DIGEST) == 0)
			return MIKEY_ERR_REPLAY;
	ds = mikey_ntp_to_unix(ts) - mikey_ntp_to_unix(now);
	if (ds > (int64_t)m->skew ||
	    (ds == (int64_t)m->skew && (uint32_t)ts > (uint32_t)now))
		return MIKEY_ERR_TS;
	if (m->has_floor && mcmp(ts, m->floor) <= 0)
		return MIKEY_ERR_TOO_OLD;
	if (m->count == m->max &&
	    mcmp(ts, m->e[model_oldest(m)].ts) <= 0)
		return MIKEY_ERR_TOO_OLD;
	return 0;
}

/* model_insert - decide, then append or replace the oldest */
static int
model_insert(struct model *m, const uint8_t *d, uint64_t ts, uint64_t now)
{
	size_t i;
	int err;

	err = model_decide(m, d, ts, now);
	if (err != 0)
		return err;
	if (m->count == m->max) {
		i = model_oldest(m);
		m->has_floor = 1;
		m->floor = m->e[i].ts;
	} else
		i = m->count++;
	m->e[i].ts = ts;
	m->e[i].seq = m->next_seq++;
	memcpy(m->e[i].d, d, MIKEY_RC_DIGEST);
	return 0;
}

/* model_sort - entries oldest first */
static void
model_sort(struct model *m)
{
	qsort(m->e, m->count, sizeof(m->e[0]), mentry_cmp);
}

/* model_reload - what a restart into a cache of newmax does */
static void
model_reload(struct model *m, size_t newmax)
{
	size_t drop = 0, i;

	model_sort(m);
	if (m->count > newmax) {
		drop = m->count - newmax;
		m->has_floor = 1;
		m->floor = m->e[drop - 1].ts;
		memmove(m->e, m->e + drop, newmax * sizeof(m->e[0]));
		m->count = newmax;
	}
	for (i = 0; i < m->count; i++)
		m->e[i].seq = i;
	m->next_seq = m->count;
	m->max = newmax;
}

/* model_image - the image the model expects, written by hand */
static size_t
model_image(const struct model *m0, uint8_t *buf)
{
	static struct model m;
	size_t i, n = 0;
	uint64_t v;
	int k;

	m = *m0;
	model_sort(&m);
	memcpy(buf, "MKRC\001", 5);
	buf[5] = m.has_floor ? 1 : 0;
	for (k = 0; k < 4; k++) {
		buf[6 + k] = (uint8_t)(m.max >> (24 - 8 * k));
		buf[10 + k] = (uint8_t)(m.count >> (24 - 8 * k));
	}
	v = m.has_floor ? m.floor : 0;
	for (k = 0; k < 8; k++)
		buf[14 + k] = (uint8_t)(v >> (56 - 8 * k));
	n = 22;
	for (i = 0; i < m.count; i++) {
		for (k = 0; k < 8; k++)
			buf[n++] = (uint8_t)(m.e[i].ts >> (56 - 8 * k));
		memcpy(buf + n, m.e[i].d, MIKEY_RC_DIGEST);
		n += MIKEY_RC_DIGEST;
	}
	n += 32;
	reseal(buf, n);
	return n;
}

struct pool {
	uint8_t		d[MIKEY_RC_DIGEST];
	uint64_t	ts;
};

/* fresh - a new message digest (random) with a timestamp near now */
static void
fresh(struct pool *p, uint64_t now, uint64_t window, uint32_t skew)
{
	uint64_t x = rnd(), y = rnd();

	memcpy(p->d, &x, 8);
	memcpy(p->d + 8, &y, 8);
	p->ts = now - (rnd_below(window) << 32);
	if (rnd_below(6) == 0)		/* some from the near future */
		p->ts = now + (rnd_below(skew + 4) << 32);
	if (rnd_below(4) == 0)		/* some with a fraction */
		p->ts += rnd() & 0xffffffffULL;
}

/* test_random - 100k random operations, cache against model */
static void
test_random(void)
{
	static const size_t sizes[] = { 1, 2, 3, 4, 7, 16, 61, 256 };
	static struct model m;
	static struct pool pool[3 * MODEL_MAX + 3];
	static uint8_t mimg[22 + MODEL_MAX * 24 + 32];
	const int ops = 12500;
	struct mikey_rcache *rc, *rc2;
	struct fclock clk;
	uint8_t *img, d[MIKEY_RC_DIGEST];
	uint64_t ts, window, tally[4] = { 0, 0, 0, 0 };
	size_t r, np, j, ilen, mlen, newmax, total = 0, reloads = 0;
	size_t mismatch = 0, inv_bad = 0, img_bad = 0, checks = 0;
	int op, got, want, is_check;

	for (r = 0; r < sizeof(sizes) / sizeof(sizes[0]); r++) {
		/* odd rounds cross the 2036 era boundary */
		clk.now = ntp(r % 2 ? ERA1_UNIX - 20000 : BASE_UNIX);
		memset(&m, 0, sizeof(m));
		m.max = sizes[r];
		m.skew = (uint32_t)rnd_below(3) * 30;
		rc = mikey_rcache_new(m.max, m.skew, fclock_cb, &clk);
		if (rc == NULL) {
			mismatch++;
			continue;
		}
		window = 4 * m.max + 4;
		np = 3 * m.max + 3;
		for (j = 0; j < np; j++)
			fresh(&pool[j], clk.now, window, m.skew);

		for (op = 0; op < ops; op++, total++) {
			j = rnd_below(np);
			switch (rnd_below(100)) {
			case 0:
				clk.now += rnd_below(1000) << 32;
				continue;
			case 1: case 2: case 3: case 4: case 5: case 6:
				clk.now += rnd_below(5) << 32;
				continue;
			case 7: case 8: case 9: case 10:
				fresh(&pool[j], clk.now, window, m.skew);
				continue;
			case 11:
				/* restart: image into a new cache */
				mlen = model_image(&m, mimg);
				img = image(rc, &ilen);
				if (img == NULL || ilen != mlen ||
				    memcmp(img, mimg, mlen) != 0)
					img_bad++;
				newmax = rnd_below(3) == 0 ?
				    1 + rnd_below(MODEL_MAX) : m.max;
				rc2 = mikey_rcache_new(newmax, m.skew,
				    fclock_cb, &clk);
				if (rc2 == NULL || img == NULL ||
				    mikey_rcache_load(rc2, img, ilen) != 0) {
					mismatch++;
					mikey_rcache_free(rc2);
					free(img);
					continue;
				}
				free(img);
				mikey_rcache_free(rc);
				rc = rc2;
				model_reload(&m, newmax);
				reloads++;
				break;
			default:
				is_check = rnd_below(4) == 0;
				if (rnd_below(3) == 0)	/* a new message */
					fresh(&pool[j], clk.now, window,
					    m.skew);
				ts = pool[j].ts;
				/* sometimes the same digest with a new ts */
				if (rnd_below(10) == 0)
					ts = clk.now - (rnd_below(window) << 32)
					    + (rnd_below(2) ? 0 :
					    (uint64_t)m.skew << 32);
				memcpy(d, pool[j].d, sizeof(d));
				if (is_check) {
					want = model_decide(&m, d, ts, clk.now);
					got = mikey_rcache_check(rc, d, ts);
					checks++;
				} else {
					want = model_insert(&m, d, ts, clk.now);
					got = mikey_rcache_insert(rc, d, ts);
				}
				if (got != want && mismatch++ == 0)
					diag(__FILE__, __LINE__, "round %zu "
					    "op %d %s: got %s, want %s", r, op,
					    is_check ? "check" : "insert",
					    errname(got), errname(want));
				tally[want == 0 ? 0 :
				    want == MIKEY_ERR_REPLAY ? 1 :
				    want == MIKEY_ERR_TOO_OLD ? 2 : 3]++;
				break;
			}
			if (mikey_rcache_count(rc) != m.count ||
			    (m.count > 0 && mikey_rcache_oldest(rc) !=
			    m.e[model_oldest(&m)].ts)) {
				if (mismatch++ == 0)
					diag(__FILE__, __LINE__, "round %zu "
					    "op %d: count/oldest differ", r,
					    op);
			}
			if (mikey_rcache_check_invariants(rc) != 0)
				inv_bad++;
		}
		mlen = model_image(&m, mimg);
		img = image(rc, &ilen);
		if (img == NULL || ilen != mlen || memcmp(img, mimg, mlen) != 0)
			img_bad++;
		free(img);
		mikey_rcache_free(rc);
	}
	printf("# random: %zu ops (%zu checks, %zu restarts); outcomes "
	    "OK %llu REPLAY %llu TOO_OLD %llu TS %llu\n", total, checks,
	    reloads, (unsigned long long)tally[0], (unsigned long long)tally[1],
	    (unsigned long long)tally[2], (unsigned long long)tally[3]);
	ok(total >= 100000, "random: %zu operations", total);
	is_int(mismatch, 0, "random: every decision, count and oldest "
	    "matches the model");
	is_int(inv_bad, 0, "random: invariants hold after every operation");
	is_int(img_bad, 0, "random: every image equals the model's bytes");
	ok(tally[0] && tally[1] && tally[2] && tally[3] && reloads > 50,
	    "random: every outcome and restarts were exercised");
}

int
main(void)
{
	size_t i;

	test_time();
	test_basics();
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		run_scenario(&scenarios[i]);
	test_backlog();
	test_persist();
	test_random();
	return done_testing();
}
