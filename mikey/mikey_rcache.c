/*
 * mikey/mikey_rcache.c - the modified replay cache (count window, no age limit)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	The rules are those of spec/smime-sip.md 2.6 (seed 002): a message
 *	is a replay if its digest is cached; otherwise it is accepted while
 *	the cache is not full, and a full cache accepts it only if its
 *	timestamp is strictly newer than the oldest entry, which is then
 *	evicted.  Timestamps beyond now() + skew are refused.  There is no
 *	lower time bound, so deferred messages days old still pass.
 *
 *	Why the rules are sound: every message ever accepted is either still
 *	cached or has a timestamp <= the newest timestamp ever evicted (the
 *	"floor").  Eviction takes the minimum, so a full cache's oldest entry
 *	is >= the floor and "newer than the oldest" implies "newer than the
 *	floor".  A tie with the oldest must be refused: an evicted message
 *	may have had that very timestamp.  The floor is kept explicitly (and
 *	persisted) because mikey_rcache_load() can leave a cache that is not
 *	full after evictions happened: loading an image into a larger cache,
 *	or one that was trimmed.  Without the floor such a cache would accept
 *	every evicted message again.
 *
 *	XXX any sender who can get messages through V can flush the cache
 *	with max_entries fresh messages; older deferred messages for this
 *	recipient are then refused as TOO_OLD.  That is the price of a count
 *	window (seed 002), and why the cache is sized for the worst backlog.
 *
 *	Timestamps are NTP-UTC and wrap in 2036.  Ordering uses key = ts XOR
 *	2^63, which is monotonic across the RFC 4330 window 1968-2104 (MSB
 *	set = era 0 sorts first); a plain compare of NTP values would call a
 *	2037 message older than a 2035 one.
 *
 *	Structure, all preallocated by mikey_rcache_new() so an insert never
 *	allocates and memory is bounded by max_entries:
 *	- ent[]: digest, insertion number, cached hash and hash-chain link
 *	  (32 bytes).  Slots 0..count-1 are in use; an eviction reuses the
 *	  evicted slot, so there is no free list.
 *	- heap[]: a 4-ary min-heap of (key, slot) nodes (16 bytes) ordered
 *	  by (key, seq), seq being the insertion order, so equal timestamps
 *	  leave in the order they came and every decision is deterministic.
 *	  Keys live in the nodes so a sift reads one array; four children
 *	  share a cache line or two and the tree is half as deep as a binary
 *	  one.  Eviction replaces the root and sifts down: O(log n).
 *	- bucket[]: heads of hash chains (linked through ent[].next), a power
 *	  of two >= max_entries, so the load factor is at most 1.
 *	Per entry that is 48 bytes plus 4 to 8 of buckets; footprint() is the
 *	exact figure mikey_rcache_entries_for_bytes() inverts.
 *
 *	The digest is a SHA-256 prefix of a message the sender chose.  It is
 *	uniform for honest senders, but an authenticated sender can grind
 *	messages until their digests share the bits an unkeyed table would
 *	use as bucket index (about 2^k work for a 2^k-bucket table, cheap),
 *	and so turn every lookup into a walk of one long chain.  The bucket
 *	index is therefore SipHash-2-4 of the digest under a 128-bit key from
 *	RAND_bytes() at creation (as krb5's memrcache.c seeds k5_siphash24).
 *	The key never leaves the process and is not part of the image.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "mikey/mikey-int.h"

#define RC_NIL		UINT32_MAX	/* end of a hash chain */
#define RC_MAX_ENTRIES	((size_t)1 << 28)	/* slot numbers fit u32 */
#define RC_ERA_BIT	((uint64_t)1 << 63)
#define RC_ARITY	4		/* children per heap node */

/*
 * The image (all integers big-endian):
 *	"MKRC" | version u8 = 1 | flags u8 | max_entries u32 | count u32 |
 *	floor u64 | count * (ts u64, digest 16) | SHA-256 of all before
 * Entries are oldest first in (timestamp, insertion) order; timestamps
 * and the floor are NTP-UTC.  Flag 0x01: the floor is valid (something
 * was evicted).  The SHA-256 catches corruption, not forgery: whoever can
 * rewrite the image can recompute it, so the store must be trusted.
 */
#define RC_MAGIC	"MKRC"
#define RC_VERSION	1
#define RC_FLAG_FLOOR	0x01
#define RC_HDR_LEN	22
#define RC_REC_LEN	(8 + MIKEY_RC_DIGEST)
#define RC_SUM_LEN	32

struct rc_entry {
	uint64_t	seq;		/* insertion order */
	uint8_t		digest[MIKEY_RC_DIGEST];
	uint32_t	next;		/* hash chain */
	uint32_t	hash;		/* SipHash of digest, low 32 bits */
};

struct rc_node {			/* a heap node */
	uint64_t	key;		/* ts XOR RC_ERA_BIT */
	uint32_t	ent;		/* slot in ent[] */
};

struct mikey_rcache {
	size_t		 max;
	size_t		 count;
	uint32_t	 mask;		/* buckets - 1 */
	uint32_t	 future_skew;	/* seconds */
	uint64_t	 next_seq;
	int		 has_floor;
	uint64_t	 floor;		/* newest key ever dropped */
	mikey_clock_cb	 now;
	void		*now_arg;
	uint64_t	 sipkey[2];
	struct rc_entry	*ent;		/* [max] */
	struct rc_node	*heap;		/* [max] */
	uint32_t	*bucket;	/* [mask + 1] */
};

/* ts_key - NTP timestamp to an ordering key (and back: it is an involution) */
static uint64_t
ts_key(uint64_t ts)
{
	return ts ^ RC_ERA_BIT;
}

/* rotl64 - rotate left */
static uint64_t
rotl64(uint64_t x, int b)
{
	return x << b | x >> (64 - b);
}

/* ld64le - little-endian load, as SipHash reads its input */
static uint64_t
ld64le(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* sipround - one SipRound on the state v */
static void
sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl64(v[1], 13);
	v[1] ^= v[0];
	v[0] = rotl64(v[0], 32);
	v[2] += v[3];
	v[3] = rotl64(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = rotl64(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = rotl64(v[1], 17);
	v[1] ^= v[2];
	v[2] = rotl64(v[2], 32);
}

/* siphash16 - SipHash-2-4 of a 16-byte digest under key k */
static uint64_t
siphash16(const uint64_t k[2], const uint8_t d[MIKEY_RC_DIGEST])
{
	uint64_t v[4], m;
	int i, r;

	v[0] = k[0] ^ 0x736f6d6570736575ULL;
	v[1] = k[1] ^ 0x646f72616e646f6dULL;
	v[2] = k[0] ^ 0x6c7967656e657261ULL;
	v[3] = k[1] ^ 0x7465646279746573ULL;
	for (i = 0; i < 3; i++) {
		/* two message words, then the length block (16 << 56) */
		m = i < 2 ? ld64le(d + 8 * i) : (uint64_t)16 << 56;
		v[3] ^= m;
		for (r = 0; r < 2; r++)
			sipround(v);
		v[0] ^= m;
	}
	v[2] ^= 0xff;
	for (r = 0; r < 4; r++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* digest_hash - the keyed hash of a digest; its low bits pick the chain */
static uint32_t
digest_hash(const struct mikey_rcache *rc, const uint8_t *digest)
{
	return (uint32_t)siphash16(rc->sipkey, digest);
}

/* nbuckets_for - the bucket count for n entries: a power of two >= n */
static size_t
nbuckets_for(size_t n)
{
	size_t nb = 1;

	while (nb < n)
		nb <<= 1;
	return nb;
}

/* footprint - bytes mikey_rcache_new() allocates for n entries */
static uint64_t
footprint(size_t n)
{
	return sizeof(struct mikey_rcache) +
	    (uint64_t)n * (sizeof(struct rc_entry) + sizeof(struct rc_node)) +
	    (uint64_t)nbuckets_for(n) * sizeof(uint32_t);
}

/*
 * node_less - heap order: older timestamp first, then earlier insertion.
 *	The key sits in the node so that sifting reads only the heap array;
 *	the entry is touched only on a tie.
 */
static int
node_less(const struct rc_entry *ent, const struct rc_node *a,
    const struct rc_node *b)
{
	if (a->key != b->key)
		return a->key < b->key;
	return ent[a->ent].seq < ent[b->ent].seq;
}

/* sift_up - restore heap order after heap[i] got smaller */
static void
sift_up(const struct rc_entry *ent, struct rc_node *heap, size_t i)
{
	struct rc_node x = heap[i];
	size_t p;

	while (i > 0) {
		p = (i - 1) / RC_ARITY;
		if (!node_less(ent, &x, &heap[p]))
			break;
		heap[i] = heap[p];
		i = p;
	}
	heap[i] = x;
}

/* sift_down - restore heap order of heap[0..n) after heap[i] got larger */
static void
sift_down(const struct rc_entry *ent, struct rc_node *heap, size_t n,
    size_t i)
{
	struct rc_node x = heap[i];
	size_t c, k, best;

	for (;;) {
		c = RC_ARITY * i + 1;
		if (c >= n)
			break;
		best = c;
		for (k = c + 1; k < c + RC_ARITY && k < n; k++)
			if (node_less(ent, &heap[k], &heap[best]))
				best = k;
		if (!node_less(ent, &heap[best], &x))
			break;
		heap[i] = heap[best];
		i = best;
	}
	heap[i] = x;
}

/* lookup - the slot holding digest (whose hash is h), or RC_NIL */
static uint32_t
lookup(const struct mikey_rcache *rc, const uint8_t *digest, uint32_t h)
{
	uint32_t i;

	/* digests are not secret; CRYPTO_memcmp keeps the house rule simple */
	for (i = rc->bucket[h & rc->mask]; i != RC_NIL; i = rc->ent[i].next)
		if (rc->ent[i].hash == h &&
		    CRYPTO_memcmp(rc->ent[i].digest, digest, MIKEY_RC_DIGEST) == 0)
			return i;
	return RC_NIL;
}

/* chain_add - link slot i into its hash chain */
static void
chain_add(struct mikey_rcache *rc, uint32_t i)
{
	uint32_t b = rc->ent[i].hash & rc->mask;

	rc->ent[i].next = rc->bucket[b];
	rc->bucket[b] = i;
}

/* chain_del - unlink slot i from its hash chain */
static void
chain_del(struct mikey_rcache *rc, uint32_t i)
{
	uint32_t *pp = &rc->bucket[rc->ent[i].hash & rc->mask];

	while (*pp != RC_NIL && *pp != i)
		pp = &rc->ent[*pp].next;
	if (*pp == i)
		*pp = rc->ent[i].next;
}

/* read_clock - now() as NTP-UTC, from the injected clock or the system */
static int
read_clock(const struct mikey_rcache *rc, uint64_t *ntp_out)
{
	struct timespec ts;

	if (rc->now != NULL) {
		*ntp_out = rc->now(rc->now_arg);
		return 0;
	}
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return MIKEY_ERR_TS;
	*ntp_out = mikey_ntp_from_unix((int64_t)ts.tv_sec,
	    (uint32_t)ts.tv_nsec);
	return 0;
}

/*
 * decide - the rules of spec/smime-sip.md 2.6 for (digest, key), in the
 *	order replay, future, too old.  h is the digest's hash.  Without a
 *	readable clock nothing is accepted.
 */
static int
decide(const struct mikey_rcache *rc, const uint8_t *digest, uint32_t h,
    uint64_t key)
{
	uint64_t now, limit;
	int err;

	if (lookup(rc, digest, h) != RC_NIL)
		return MIKEY_ERR_REPLAY;
	err = read_clock(rc, &now);
	if (err != 0)
		return err;
	now = ts_key(now);
	limit = now + ((uint64_t)rc->future_skew << 32);
	if (limit < now)
		limit = UINT64_MAX;
	if (key > limit)
		return MIKEY_ERR_TS;
	if (rc->has_floor && key <= rc->floor)
		return MIKEY_ERR_TOO_OLD;
	/* strictly newer: an evicted entry may share the oldest's ts */
	if (rc->count == rc->max && key <= rc->heap[0].key)
		return MIKEY_ERR_TOO_OLD;
	return 0;
}

struct mikey_rcache *
mikey_rcache_new(size_t max_entries, uint32_t future_skew,
    mikey_clock_cb now, void *now_arg)
{
	struct mikey_rcache *rc = NULL, *ret = NULL;
	size_t nb, i;

	if (max_entries == 0 || max_entries > RC_MAX_ENTRIES)
		goto cleanup;
	rc = calloc(1, sizeof(*rc));
	if (rc == NULL)
		goto cleanup;
	nb = nbuckets_for(max_entries);
	rc->max = max_entries;
	rc->mask = (uint32_t)(nb - 1);
	rc->future_skew = future_skew;
	rc->now = now;
	rc->now_arg = now_arg;
	/* calloc checks n * size for overflow */
	rc->ent = calloc(max_entries, sizeof(*rc->ent));
	rc->heap = calloc(max_entries, sizeof(*rc->heap));
	rc->bucket = calloc(nb, sizeof(*rc->bucket));
	if (rc->ent == NULL || rc->heap == NULL || rc->bucket == NULL)
		goto cleanup;
	for (i = 0; i < nb; i++)
		rc->bucket[i] = RC_NIL;
	if (RAND_bytes((unsigned char *)rc->sipkey, sizeof(rc->sipkey)) != 1)
		goto cleanup;
	ret = rc;
	rc = NULL;
cleanup:
	mikey_rcache_free(rc);
	return ret;
}

size_t
mikey_rcache_entries_for_bytes(size_t bytes)
{
	size_t lo = 0, hi = RC_MAX_ENTRIES, mid;

	/* footprint() is monotonic: the largest n with footprint(n) <= bytes */
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (footprint(mid) <= bytes)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

void
mikey_rcache_free(struct mikey_rcache *rc)
{
	if (rc == NULL)
		return;
	free(rc->ent);
	free(rc->heap);
	free(rc->bucket);
	OPENSSL_cleanse(rc->sipkey, sizeof(rc->sipkey));
	free(rc);
}

int
mikey_rcache_digest(const uint8_t *msg, size_t len,
    uint8_t digest[MIKEY_RC_DIGEST])
{
	uint8_t md[32];
	int rc;

	if ((msg == NULL && len > 0) || digest == NULL)
		return MIKEY_ERR_INVAL;
	if ((rc = mikey_sha256(msg, len, md)) != 0)
		return rc;
	memcpy(digest, md, MIKEY_RC_DIGEST);
	return 0;
}

int
mikey_rcache_check(const struct mikey_rcache *rc,
    const uint8_t digest[MIKEY_RC_DIGEST], uint64_t ts)
{
	if (rc == NULL || digest == NULL)
		return MIKEY_ERR_INVAL;
	return decide(rc, digest, digest_hash(rc, digest), ts_key(ts));
}

int
mikey_rcache_insert(struct mikey_rcache *rc,
    const uint8_t digest[MIKEY_RC_DIGEST], uint64_t ts)
{
	struct rc_entry *e;
	uint64_t key = ts_key(ts);
	uint32_t h, i;
	size_t pos;
	int err, evict;

	if (rc == NULL || digest == NULL)
		return MIKEY_ERR_INVAL;
	h = digest_hash(rc, digest);
	err = decide(rc, digest, h, key);
	if (err != 0)
		return err;
	evict = rc->count == rc->max;
	if (evict) {
		/*
		 * Evict the root, the minimum, so its key is >= the old
		 * floor.  The new entry takes its slot and its heap node and
		 * sifts down from there: one pass instead of pop and push.
		 */
		pos = 0;
		i = rc->heap[0].ent;
		rc->has_floor = 1;
		rc->floor = rc->heap[0].key;
		chain_del(rc, i);
	} else {
		pos = rc->count;
		i = (uint32_t)rc->count++;
	}
	e = &rc->ent[i];
	e->seq = rc->next_seq++;
	e->hash = h;
	memcpy(e->digest, digest, MIKEY_RC_DIGEST);
	chain_add(rc, i);
	rc->heap[pos].key = key;
	rc->heap[pos].ent = i;
	if (evict)
		sift_down(rc->ent, rc->heap, rc->count, 0);
	else
		sift_up(rc->ent, rc->heap, pos);
	return 0;
}

size_t
mikey_rcache_count(const struct mikey_rcache *rc)
{
	return rc == NULL ? 0 : rc->count;
}

size_t
mikey_rcache_max(const struct mikey_rcache *rc)
{
	return rc == NULL ? 0 : rc->max;
}

uint64_t
mikey_rcache_oldest(const struct mikey_rcache *rc)
{
	if (rc == NULL || rc->count == 0)
		return 0;
	return ts_key(rc->heap[0].key);
}

/* wbuf_u64 - big-endian u64 into a wbuf (mikey-int.h has up to u32) */
static void
wbuf_u64(struct wbuf *w, uint64_t v)
{
	uint8_t *q = wbuf_reserve(w, 8);

	if (q != NULL)
		st64(q, v);
}

int
mikey_rcache_serialise(const struct mikey_rcache *rc, uint8_t **out,
    size_t *len_out)
{
	struct wbuf w;
	uint8_t *buf = NULL;
	struct rc_node *tmp = NULL;
	size_t len, n, m;
	uint32_t i;
	int err;

	if (rc == NULL || out == NULL || len_out == NULL)
		return MIKEY_ERR_INVAL;
	n = rc->count;
	/* n <= 2^28: no overflow */
	len = RC_HDR_LEN + n * RC_REC_LEN + RC_SUM_LEN;
	buf = malloc(len);
	tmp = malloc((n + 1) * sizeof(*tmp));
	if (buf == NULL || tmp == NULL) {
		err = MIKEY_ERR_NOMEM;
		goto cleanup;
	}
	wbuf_init(&w, buf, len - RC_SUM_LEN);
	wbuf_mem(&w, RC_MAGIC, 4);
	wbuf_u8(&w, RC_VERSION);
	wbuf_u8(&w, rc->has_floor ? RC_FLAG_FLOOR : 0);
	wbuf_u32(&w, (uint32_t)rc->max);
	wbuf_u32(&w, (uint32_t)n);
	wbuf_u64(&w, rc->has_floor ? ts_key(rc->floor) : 0);
	/* oldest first: pop a copy of the heap */
	memcpy(tmp, rc->heap, n * sizeof(*tmp));
	for (m = n; m > 0; m--) {
		i = tmp[0].ent;
		wbuf_u64(&w, ts_key(tmp[0].key));
		wbuf_mem(&w, rc->ent[i].digest, MIKEY_RC_DIGEST);
		tmp[0] = tmp[m - 1];
		sift_down(rc->ent, tmp, m - 1, 0);
	}
	if (w.err != 0 || w.len != len - RC_SUM_LEN) {
		err = MIKEY_ERR_TOO_BIG;	/* cannot happen */
		goto cleanup;
	}
	if (EVP_Digest(buf, w.len, buf + w.len, NULL, EVP_sha256(),
	    NULL) != 1) {
		err = MIKEY_ERR_CRYPTO;
		goto cleanup;
	}
	*out = buf;
	*len_out = len;
	buf = NULL;
	err = 0;
cleanup:
	free(buf);
	free(tmp);
	return err;
}

/* digest_cmp - qsort order of raw digests */
static int
digest_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MIKEY_RC_DIGEST);
}

/*
 * check_image - verify an image completely before anything is changed:
 *	framing, version, length, checksum, then content (limits, order,
 *	floor, duplicate digests).  *n_out, *floor_out (key), *has_floor_out
 *	on success.
 */
static int
check_image(const uint8_t *buf, size_t len, size_t *n_out,
    int *has_floor_out, uint64_t *floor_out)
{
	uint8_t sum[EVP_MAX_MD_SIZE], *dig = NULL;
	const uint8_t *rec;
	uint64_t floor_ts, floor, key, prev = 0;
	size_t n, imax, i;
	uint8_t flags;
	int err;

	if (len < 5) {
		err = MIKEY_ERR_TRUNCATED;
		goto cleanup;
	}
	if (memcmp(buf, RC_MAGIC, 4) != 0) {
		err = MIKEY_ERR_VALUE;
		goto cleanup;
	}
	if (buf[4] != RC_VERSION) {
		err = MIKEY_ERR_VERSION;
		goto cleanup;
	}
	if (len < RC_HDR_LEN + RC_SUM_LEN) {
		err = MIKEY_ERR_TRUNCATED;
		goto cleanup;
	}
	flags = buf[5];
	imax = ld32(buf + 6);
	n = ld32(buf + 10);
	floor_ts = ld64(buf + 14);
	floor = ts_key(floor_ts);
	if (n > (len - RC_HDR_LEN - RC_SUM_LEN) / RC_REC_LEN) {
		err = MIKEY_ERR_TRUNCATED;
		goto cleanup;
	}
	if (len != RC_HDR_LEN + n * RC_REC_LEN + RC_SUM_LEN) {
		err = MIKEY_ERR_LENGTH;
		goto cleanup;
	}
	if (EVP_Digest(buf, len - RC_SUM_LEN, sum, NULL, EVP_sha256(),
	    NULL) != 1) {
		err = MIKEY_ERR_CRYPTO;
		goto cleanup;
	}
	if (memcmp(sum, buf + len - RC_SUM_LEN, RC_SUM_LEN) != 0) {
		err = MIKEY_ERR_AUTH;
		goto cleanup;
	}
	/* From here on the bytes are as written; a failure is a bug or a
	 * forged image, never line noise. */
	if ((flags & ~RC_FLAG_FLOOR) != 0 ||
	    (!(flags & RC_FLAG_FLOOR) && floor_ts != 0) ||
	    imax == 0 || imax > RC_MAX_ENTRIES || n > imax) {
		err = MIKEY_ERR_VALUE;
		goto cleanup;
	}
	dig = malloc(n * MIKEY_RC_DIGEST + 1);
	if (dig == NULL) {
		err = MIKEY_ERR_NOMEM;
		goto cleanup;
	}
	for (i = 0, rec = buf + RC_HDR_LEN; i < n; i++, rec += RC_REC_LEN) {
		key = ts_key(ld64(rec));
		if ((i > 0 && key < prev) ||
		    ((flags & RC_FLAG_FLOOR) && key < floor)) {
			err = MIKEY_ERR_VALUE;
			goto cleanup;
		}
		prev = key;
		memcpy(dig + i * MIKEY_RC_DIGEST, rec + 8, MIKEY_RC_DIGEST);
	}
	qsort(dig, n, MIKEY_RC_DIGEST, digest_cmp);
	for (i = 1; i < n; i++)
		if (digest_cmp(dig + (i - 1) * MIKEY_RC_DIGEST,
		    dig + i * MIKEY_RC_DIGEST) == 0) {
			err = MIKEY_ERR_VALUE;
			goto cleanup;
		}
	*n_out = n;
	*has_floor_out = (flags & RC_FLAG_FLOOR) != 0;
	*floor_out = (flags & RC_FLAG_FLOOR) ? floor : 0;
	err = 0;
cleanup:
	free(dig);
	return err;
}

int
mikey_rcache_load(struct mikey_rcache *rc, const uint8_t *buf, size_t len)
{
	const uint8_t *rec;
	struct rc_entry *e;
	uint64_t floor;
	size_t n, drop, i;
	int err, has_floor;

	if (rc == NULL || (buf == NULL && len > 0))
		return MIKEY_ERR_INVAL;
	err = check_image(buf, len, &n, &has_floor, &floor);
	if (err != 0)
		return err;

	/* Nothing can fail from here on: rc is rebuilt in place. */
	drop = n > rc->max ? n - rc->max : 0;
	rec = buf + RC_HDR_LEN;
	if (drop > 0) {
		/* the newest dropped entry is >= older ones and the floor */
		has_floor = 1;
		floor = ts_key(ld64(rec + (drop - 1) * RC_REC_LEN));
	}
	rc->has_floor = has_floor;
	rc->floor = floor;
	for (i = 0; i <= rc->mask; i++)
		rc->bucket[i] = RC_NIL;
	rc->count = 0;
	for (rec += drop * RC_REC_LEN, i = drop; i < n; i++,
	    rec += RC_REC_LEN) {
		e = &rc->ent[rc->count];
		e->seq = rc->count;
		memcpy(e->digest, rec + 8, MIKEY_RC_DIGEST);
		e->hash = digest_hash(rc, e->digest);
		/* sorted ascending by (key, seq) is a valid min-heap */
		rc->heap[rc->count].key = ts_key(ld64(rec));
		rc->heap[rc->count].ent = (uint32_t)rc->count;
		chain_add(rc, (uint32_t)rc->count);
		rc->count++;
	}
	rc->next_seq = rc->count;
	return 0;
}

/* bit_test_set - return bit i of map and set it */
static int
bit_test_set(uint8_t *map, size_t i)
{
	int was = map[i / 8] >> (i % 8) & 1;

	map[i / 8] |= (uint8_t)(1u << (i % 8));
	return was;
}

int
mikey_rcache_check_invariants(const struct mikey_rcache *rc)
{
	const struct rc_entry *e;
	uint8_t *seen = NULL;
	size_t i, nodes, steps, inner;
	uint32_t b, j, k;
	int err = MIKEY_ERR_VALUE;

	if (rc == NULL)
		return MIKEY_ERR_INVAL;
	if (rc->max == 0 || rc->max > RC_MAX_ENTRIES || rc->count > rc->max ||
	    (size_t)rc->mask + 1 != nbuckets_for(rc->max) ||
	    rc->next_seq < rc->count || (!rc->has_floor && rc->floor != 0))
		goto cleanup;
	seen = calloc(rc->count / 8 + 1, 1);
	if (seen == NULL) {
		err = MIKEY_ERR_NOMEM;
		goto cleanup;
	}

	/* the heap is a permutation of the slots in use, in (key, seq) order */
	for (i = 0; i < rc->count; i++) {
		j = rc->heap[i].ent;
		if (j >= rc->count || bit_test_set(seen, j))
			goto cleanup;
		if (i > 0 && node_less(rc->ent, &rc->heap[i],
		    &rc->heap[(i - 1) / RC_ARITY]))
			goto cleanup;
		if (rc->ent[j].seq >= rc->next_seq ||
		    (rc->has_floor && rc->heap[i].key < rc->floor))
			goto cleanup;
	}

	/* every slot in use sits exactly once in the chain of its digest,
	 * and no digest is there twice */
	memset(seen, 0, rc->count / 8 + 1);
	nodes = 0;
	for (b = 0; b <= rc->mask; b++) {
		steps = 0;
		for (j = rc->bucket[b]; j != RC_NIL; j = rc->ent[j].next) {
			e = &rc->ent[j];
			if (j >= rc->count || ++steps > rc->count ||
			    bit_test_set(seen, j) ||
			    e->hash != digest_hash(rc, e->digest) ||
			    (e->hash & rc->mask) != b)
				goto cleanup;
			inner = 0;
			for (k = rc->ent[j].next; k != RC_NIL;
			    k = rc->ent[k].next)
				if (k >= rc->count || ++inner > rc->count ||
				    CRYPTO_memcmp(e->digest, rc->ent[k].digest,
				    MIKEY_RC_DIGEST) == 0)
					goto cleanup;
			nodes++;
		}
	}
	if (nodes != rc->count)
		goto cleanup;
	err = 0;
cleanup:
	free(seen);
	return err;
}
