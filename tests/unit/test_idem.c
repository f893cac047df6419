/* test_idem.c: the Idempotency-Key table of idem.h: outcomes, expiry, eviction, key syntax,
 * hashing and thread safety. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bearssl_hash.h"
#include "err.h"
#include "idem.h"

/* The small table of most tests: 2 sets, so crafted keys can fill one. */
#define NSETS 2
#define TTL   60
#define T0    1700000000

/* Threads and keys per thread of the concurrency tests. */
#define THREADS         8
#define KEYS_PER_THREAD 1000
/* Sets of the concurrency table: 8000 keys over 16384 sets, so no set ever holds more than
 * IDEM_WAYS keys (checked: the key hashes are deterministic) and nothing is evicted. */
#define MT_SETS 16384

struct fixture {
	struct idem_entry mem[NSETS * IDEM_WAYS];
	struct idem_table t;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	idem_init(&f->t, f->mem, NSETS * IDEM_WAYS, TTL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	pthread_mutex_destroy(&f->t.mu);
	free(f);
	return 0;
}

/* SHA-256 of a NUL-terminated string. */
static void hash_str(const char *s, unsigned char out[32])
{
	idem_hash(s, strlen(s), out);
}

/* The set a key hash lands in, computed as idem.c documents: first 8 bytes big-endian mod
 * nsets. */
static size_t set_index(const unsigned char k[32], size_t nsets)
{
	uint64_t h = 0;
	for (int i = 0; i < 8; i++)
		h = h << 8 | k[i];
	return (size_t)(h % nsets);
}

/* Fills out[0..n) with hashes of keys "key-<i>" that land in set `want` of `nsets`. */
static void keys_in_set(size_t want, size_t nsets, unsigned char out[][32], size_t n)
{
	char name[32];
	size_t got = 0;
	for (unsigned i = 0; got < n; i++) {
		snprintf(name, sizeof name, "key-%u", i);
		hash_str(name, out[got]);
		if (set_index(out[got], nsets) == want)
			got++;
	}
}

static void test_new_finish_replay(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32], b[32];
	int st = -1;
	hash_str("k1", k);
	hash_str("{\"body\":1}", b);
	assert_int_equal(idem_begin(&f->t, k, b, T0, &st), IDEM_NEW);
	idem_finish(&f->t, k, 202);
	st = -1;
	assert_int_equal(idem_begin(&f->t, k, b, T0 + 1, &st), IDEM_REPLAY);
	assert_int_equal(st, 202);
	/* A replay changes nothing: it replays again. */
	st = -1;
	assert_int_equal(idem_begin(&f->t, k, b, T0 + 2, &st), IDEM_REPLAY);
	assert_int_equal(st, 202);
}

static void test_replay_keeps_each_2xx_status(void **state)
{
	struct fixture *f = *state;
	unsigned char k1[32], k2[32], b[32];
	int st = 0;
	hash_str("a", k1);
	hash_str("b", k2);
	hash_str("body", b);
	assert_int_equal(idem_begin(&f->t, k1, b, T0, &st), IDEM_NEW);
	assert_int_equal(idem_begin(&f->t, k2, b, T0, &st), IDEM_NEW);
	idem_finish(&f->t, k1, 200);
	idem_finish(&f->t, k2, 299);
	assert_int_equal(idem_begin(&f->t, k1, b, T0, &st), IDEM_REPLAY);
	assert_int_equal(st, 200);
	assert_int_equal(idem_begin(&f->t, k2, b, T0, &st), IDEM_REPLAY);
	assert_int_equal(st, 299);
}

static void test_same_key_other_body_mismatch(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32], b1[32], b2[32];
	int st = 0;
	hash_str("k1", k);
	hash_str("body one", b1);
	hash_str("body two", b2);
	assert_int_equal(idem_begin(&f->t, k, b1, T0, &st), IDEM_NEW);
	idem_finish(&f->t, k, 202);
	assert_int_equal(idem_begin(&f->t, k, b2, T0, &st), -ERR_IDEM_MISMATCH);
	/* The mismatch did not replace the remembered body. */
	assert_int_equal(idem_begin(&f->t, k, b1, T0, &st), IDEM_REPLAY);
	assert_int_equal(st, 202);
}

static void test_mismatch_while_busy(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32], b1[32], b2[32];
	int st = 0;
	hash_str("k1", k);
	hash_str("body one", b1);
	hash_str("body two", b2);
	assert_int_equal(idem_begin(&f->t, k, b1, T0, &st), IDEM_NEW);
	assert_int_equal(idem_begin(&f->t, k, b2, T0, &st), -ERR_IDEM_MISMATCH);
}

static void test_begin_twice_without_finish_busy(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32], b[32];
	int st = 0;
	hash_str("k1", k);
	hash_str("body", b);
	assert_int_equal(idem_begin(&f->t, k, b, T0, &st), IDEM_NEW);
	assert_int_equal(idem_begin(&f->t, k, b, T0, &st), -ERR_IDEM_BUSY);
	assert_int_equal(idem_begin(&f->t, k, b, T0 + 5, &st), -ERR_IDEM_BUSY);
	idem_finish(&f->t, k, 202);
	assert_int_equal(idem_begin(&f->t, k, b, T0 + 5, &st), IDEM_REPLAY);
}

static void test_busy_entry_outlives_ttl(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32], b[32];
	int st = 0;
	hash_str("k1", k);
	hash_str("body", b);
	assert_int_equal(idem_begin(&f->t, k, b, T0, &st), IDEM_NEW);
	/* Still in flight long after the TTL: never handed out a second time. */
	assert_int_equal(idem_begin(&f->t, k, b, T0 + 10 * TTL, &st), -ERR_IDEM_BUSY);
}

static void test_finish_non_2xx_forgets(void **state)
{
	struct fixture *f = *state;
	static const int bad[] = {500, 503, 400, 409, 199, 300, 0};
	unsigned char k[32], b[32], b2[32];
	int st = 0;
	hash_str("k1", k);
	hash_str("body", b);
	hash_str("other body", b2);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(idem_begin(&f->t, k, b, T0, &st), IDEM_NEW);
		idem_finish(&f->t, k, bad[i]);
	}
	/* Forgotten, so even another body is a new request. */
	assert_int_equal(idem_begin(&f->t, k, b2, T0, &st), IDEM_NEW);
	for (int w = 0; w < NSETS * IDEM_WAYS; w++)
		if (f->mem[w].expires)
			assert_int_equal(f->mem[w].busy, 1);
}

static void test_finish_unknown_key_is_noop(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32], other[32], b[32];
	int st = 0;
	hash_str("k1", k);
	hash_str("never begun", other);
	hash_str("body", b);
	assert_int_equal(idem_begin(&f->t, k, b, T0, &st), IDEM_NEW);
	idem_finish(&f->t, other, 202);
	idem_finish(&f->t, other, 500);
	assert_int_equal(idem_begin(&f->t, k, b, T0, &st), -ERR_IDEM_BUSY);
}

static void test_expired_key_is_new_again(void **state)
{
	struct fixture *f = *state;
	unsigned char k[32], b[32], b2[32];
	int st = 0;
	hash_str("k1", k);
	hash_str("body", b);
	hash_str("other body", b2);
	assert_int_equal(idem_begin(&f->t, k, b, T0, &st), IDEM_NEW);
	idem_finish(&f->t, k, 202);
	assert_int_equal(idem_begin(&f->t, k, b, T0 + TTL - 1, &st), IDEM_REPLAY);
	assert_int_equal(idem_begin(&f->t, k, b2, T0 + TTL - 1, &st), -ERR_IDEM_MISMATCH);
	/* Past the TTL the key is unknown: other body or same, it is new. */
	assert_int_equal(idem_begin(&f->t, k, b2, T0 + TTL + 1, &st), IDEM_NEW);
	idem_finish(&f->t, k, 202);
	assert_int_equal(idem_begin(&f->t, k, b2, T0 + TTL + 2, &st), IDEM_REPLAY);
	assert_int_equal(idem_begin(&f->t, k, b, T0 + TTL + 2, &st), -ERR_IDEM_MISMATCH);
}

static void test_eviction_takes_oldest_expiring(void **state)
{
	struct fixture *f = *state;
	/* Start times in way order; the smallest (way 3) expires first. */
	static const int64_t start[IDEM_WAYS] = {10, 12, 14, 3, 16, 18, 20, 22};
	unsigned char k[IDEM_WAYS + 1][32], b[32];
	int st = 0;
	keys_in_set(1, NSETS, k, IDEM_WAYS + 1);
	hash_str("body", b);
	for (int i = 0; i < IDEM_WAYS; i++) {
		assert_int_equal(idem_begin(&f->t, k[i], b, T0 + start[i], &st), IDEM_NEW);
		idem_finish(&f->t, k[i], 202);
	}
	/* The set is full of live entries; one more key evicts k[3]. */
	assert_int_equal(idem_begin(&f->t, k[IDEM_WAYS], b, T0 + 30, &st), IDEM_NEW);
	for (int i = 0; i < IDEM_WAYS; i++) {
		if (i == 3)
			continue;
		st = 0;
		assert_int_equal(idem_begin(&f->t, k[i], b, T0 + 30, &st), IDEM_REPLAY);
		assert_int_equal(st, 202);
	}
	assert_int_equal(idem_begin(&f->t, k[3], b, T0 + 30, &st), IDEM_NEW);
	/* The other set was never touched. */
	for (int w = 0; w < IDEM_WAYS; w++)
		assert_int_equal(f->mem[w].expires, 0);
}

static void test_expired_way_reused_before_eviction(void **state)
{
	struct fixture *f = *state;
	unsigned char k[IDEM_WAYS + 1][32], b[32];
	int st = 0;
	keys_in_set(0, NSETS, k, IDEM_WAYS + 1);
	hash_str("body", b);
	/* k[5] starts long before the others and has expired by T0 + 100. */
	for (int i = 0; i < IDEM_WAYS; i++) {
		int64_t at = i == 5 ? T0 - 2 * TTL : T0 + i;
		assert_int_equal(idem_begin(&f->t, k[i], b, at, &st), IDEM_NEW);
		idem_finish(&f->t, k[i], 202);
	}
	assert_int_equal(idem_begin(&f->t, k[IDEM_WAYS], b, T0 + 10, &st), IDEM_NEW);
	for (int i = 0; i < IDEM_WAYS; i++)
		if (i != 5)
			assert_int_equal(idem_begin(&f->t, k[i], b, T0 + 10, &st), IDEM_REPLAY);
}

static void test_busy_entries_are_never_evicted(void **state)
{
	struct fixture *f = *state;
	unsigned char k[IDEM_WAYS + 2][32], b[32];
	int st = 0;
	keys_in_set(1, NSETS, k, IDEM_WAYS + 2);
	hash_str("body", b);
	/* Ways 0..6 busy, way 7 finished and expiring latest: it is still the one evicted. */
	for (int i = 0; i < IDEM_WAYS; i++)
		assert_int_equal(idem_begin(&f->t, k[i], b, T0 + i, &st), IDEM_NEW);
	idem_finish(&f->t, k[IDEM_WAYS - 1], 202);
	assert_int_equal(idem_begin(&f->t, k[IDEM_WAYS], b, T0 + 20, &st), IDEM_NEW);
	for (int i = 0; i < IDEM_WAYS - 1; i++)
		assert_int_equal(idem_begin(&f->t, k[i], b, T0 + 20, &st), -ERR_IDEM_BUSY);
	/* Now every way is busy. */
	assert_int_equal(idem_begin(&f->t, k[IDEM_WAYS + 1], b, T0 + 20, &st), -ERR_IDEM_BUSY);
}

static void test_set_full_of_busy_is_busy(void **state)
{
	struct fixture *f = *state;
	unsigned char k[IDEM_WAYS + 1][32], other[1][32], b[32];
	int st = 0;
	keys_in_set(0, NSETS, k, IDEM_WAYS + 1);
	keys_in_set(1, NSETS, other, 1);
	hash_str("body", b);
	for (int i = 0; i < IDEM_WAYS; i++)
		assert_int_equal(idem_begin(&f->t, k[i], b, T0, &st), IDEM_NEW);
	assert_int_equal(idem_begin(&f->t, k[IDEM_WAYS], b, T0, &st), -ERR_IDEM_BUSY);
	assert_int_equal(idem_begin(&f->t, k[IDEM_WAYS], b, T0 + 10 * TTL, &st), -ERR_IDEM_BUSY);
	/* The other set still works. */
	assert_int_equal(idem_begin(&f->t, other[0], b, T0, &st), IDEM_NEW);
	/* One finish frees a way for the waiting key (by eviction). */
	idem_finish(&f->t, k[2], 202);
	assert_int_equal(idem_begin(&f->t, k[IDEM_WAYS], b, T0, &st), IDEM_NEW);
	assert_int_equal(idem_begin(&f->t, k[2], b, T0, &st), -ERR_IDEM_BUSY);
}

static void test_init_rounds_down_to_whole_sets(void **state)
{
	(void)state;
	struct idem_entry mem[3 * IDEM_WAYS];
	struct idem_table t;
	memset(mem, 0, sizeof mem);
	idem_init(&t, mem, 2 * IDEM_WAYS + IDEM_WAYS - 1, TTL);
	assert_int_equal(t.nsets, 2);
	assert_int_equal(t.ttl, TTL);
	assert_ptr_equal(t.e, mem);
	/* Nothing lands in the partial third set. */
	unsigned char k[16][32], b[32];
	int st = 0;
	char name[16];
	hash_str("body", b);
	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof name, "r%d", i);
		hash_str(name, k[i]);
		int r = idem_begin(&t, k[i], b, T0, &st);
		assert_true(r == IDEM_NEW || r == -ERR_IDEM_BUSY);
	}
	for (int w = 2 * IDEM_WAYS; w < 3 * IDEM_WAYS; w++)
		assert_int_equal(mem[w].expires, 0);
	pthread_mutex_destroy(&t.mu);
}

static void test_table_without_sets_is_busy(void **state)
{
	(void)state;
	struct idem_entry mem[IDEM_WAYS];
	struct idem_table t;
	unsigned char k[32], b[32];
	int st = 0;
	memset(mem, 0, sizeof mem);
	idem_init(&t, mem, IDEM_WAYS - 1, TTL);
	assert_int_equal(t.nsets, 0);
	hash_str("k", k);
	hash_str("b", b);
	assert_int_equal(idem_begin(&t, k, b, T0, &st), -ERR_IDEM_BUSY);
	idem_finish(&t, k, 202); /* must not touch memory */
	for (int w = 0; w < IDEM_WAYS; w++)
		assert_int_equal(mem[w].expires, 0);
	pthread_mutex_destroy(&t.mu);
}

static void test_key_valid_table(void **state)
{
	(void)state;
	static char max[IDEM_MAX_KEY + 1], over[IDEM_MAX_KEY + 2];
	memset(max, 'k', IDEM_MAX_KEY);
	memset(over, 'k', IDEM_MAX_KEY + 1);
	static const struct {
		const char *s;
		size_t n;
		int ok;
	} cases[] = {
	    {"a", 1, 1},
	    {"order-42", 8, 1},
	    {"a b", 3, 1},
	    {"a   b", 5, 1},
	    {"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", 32, 1},
	    {"550e8400-e29b-41d4-a716-446655440000", 36, 1},
	    {"", 0, 0},
	    {" a", 2, 0},
	    {"a ", 2, 0},
	    {" ", 1, 0},
	    {"a\tb", 3, 0},
	    {"a\nb", 3, 0},
	    {"a\rb", 3, 0},
	    {"\x01", 1, 0},
	    {"a\x1f", 2, 0},
	    {"a\x7f", 2, 0},
	    {"a\0b", 3, 0},
	    {"caf\xc3\xa9", 5, 0},
	    {"\x80", 1, 0},
	    {"\xff", 1, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (idem_key_valid(cases[i].s, cases[i].n) != cases[i].ok)
			fail_msg("idem_key_valid case %zu: want %d", i, cases[i].ok);
	}
	assert_int_equal(idem_key_valid(max, IDEM_MAX_KEY), 1);
	assert_int_equal(idem_key_valid(over, IDEM_MAX_KEY + 1), 0);
	assert_int_equal(IDEM_MAX_KEY, 255);
}

static void test_hash_is_sha256(void **state)
{
	(void)state;
	/* Known answers (FIPS 180-2 examples). */
	static const unsigned char empty[32] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
	                                        0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
	                                        0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
	                                        0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
	static const unsigned char abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
	                                      0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
	                                      0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
	                                      0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
	unsigned char got[32], want[32];
	idem_hash("", 0, got);
	assert_memory_equal(got, empty, 32);
	idem_hash("abc", 3, got);
	assert_memory_equal(got, abc, 32);
	/* And br_sha256 over a longer, binary input. */
	unsigned char data[300];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 7);
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, data, sizeof data);
	br_sha256_out(&h, want);
	idem_hash(data, sizeof data, got);
	assert_memory_equal(got, want, 32);
}

/* ---- threads ------------------------------------------------------------------------------ */

struct mt {
	struct idem_table t;
	struct idem_entry *mem;
	pthread_barrier_t bar;
	int fails[THREADS];
	int news; /* same-key race: how many threads got IDEM_NEW */
	pthread_mutex_t count_mu;
};

struct mt_arg {
	struct mt *m;
	int id;
};

static void mt_key(int thread, int i, unsigned char k[32])
{
	char name[32];
	snprintf(name, sizeof name, "t%d-k%d", thread, i);
	hash_str(name, k);
}

/* 2xx status that identifies the thread, so replays prove which finish was kept. */
static int mt_status(int thread)
{
	return 200 + thread;
}

static void *mt_distinct(void *p)
{
	struct mt_arg *a = p;
	unsigned char k[32], b[32];
	int st = 0;
	hash_str("shared body", b);
	pthread_barrier_wait(&a->m->bar);
	for (int i = 0; i < KEYS_PER_THREAD; i++) {
		mt_key(a->id, i, k);
		if (idem_begin(&a->m->t, k, b, T0, &st) != IDEM_NEW)
			a->m->fails[a->id]++;
		idem_finish(&a->m->t, k, mt_status(a->id));
	}
	return NULL;
}

static void test_threads_distinct_keys_then_replay(void **state)
{
	(void)state;
	struct mt *m = calloc(1, sizeof *m);
	assert_non_null(m);
	m->mem = calloc(MT_SETS * IDEM_WAYS, sizeof *m->mem);
	assert_non_null(m->mem);
	idem_init(&m->t, m->mem, MT_SETS * IDEM_WAYS, TTL);
	/* Precondition: no set receives more keys than it has ways, so nothing is evicted. */
	static unsigned char per_set[MT_SETS];
	memset(per_set, 0, sizeof per_set);
	unsigned char k[32], b[32];
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < KEYS_PER_THREAD; i++) {
			mt_key(t, i, k);
			assert_true(++per_set[set_index(k, MT_SETS)] <= IDEM_WAYS);
		}
	pthread_barrier_init(&m->bar, NULL, THREADS);
	pthread_t th[THREADS];
	struct mt_arg args[THREADS];
	for (int t = 0; t < THREADS; t++) {
		args[t] = (struct mt_arg){m, t};
		assert_int_equal(pthread_create(&th[t], NULL, mt_distinct, &args[t]), 0);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(m->fails[t], 0);
	hash_str("shared body", b);
	for (int t = 0; t < THREADS; t++)
		for (int i = 0; i < KEYS_PER_THREAD; i++) {
			int st = 0;
			mt_key(t, i, k);
			assert_int_equal(idem_begin(&m->t, k, b, T0 + 1, &st), IDEM_REPLAY);
			assert_int_equal(st, mt_status(t));
		}
	pthread_barrier_destroy(&m->bar);
	pthread_mutex_destroy(&m->t.mu);
	free(m->mem);
	free(m);
}

static void *mt_same(void *p)
{
	struct mt_arg *a = p;
	unsigned char k[32], b[32];
	int st = 0;
	hash_str("the one key", k);
	hash_str("shared body", b);
	pthread_barrier_wait(&a->m->bar);
	int r = idem_begin(&a->m->t, k, b, T0, &st);
	if (r == IDEM_NEW) {
		pthread_mutex_lock(&a->m->count_mu);
		a->m->news++;
		pthread_mutex_unlock(&a->m->count_mu);
	} else if (r != -ERR_IDEM_BUSY) {
		a->m->fails[a->id]++;
	}
	return NULL;
}

static void test_threads_same_key_one_winner(void **state)
{
	(void)state;
	for (int round = 0; round < 50; round++) {
		struct mt *m = calloc(1, sizeof *m);
		assert_non_null(m);
		m->mem = calloc(NSETS * IDEM_WAYS, sizeof *m->mem);
		assert_non_null(m->mem);
		idem_init(&m->t, m->mem, NSETS * IDEM_WAYS, TTL);
		pthread_mutex_init(&m->count_mu, NULL);
		pthread_barrier_init(&m->bar, NULL, THREADS);
		pthread_t th[THREADS];
		struct mt_arg args[THREADS];
		for (int t = 0; t < THREADS; t++) {
			args[t] = (struct mt_arg){m, t};
			assert_int_equal(pthread_create(&th[t], NULL, mt_same, &args[t]), 0);
		}
		for (int t = 0; t < THREADS; t++)
			pthread_join(th[t], NULL);
		assert_int_equal(m->news, 1);
		for (int t = 0; t < THREADS; t++)
			assert_int_equal(m->fails[t], 0);
		pthread_barrier_destroy(&m->bar);
		pthread_mutex_destroy(&m->count_mu);
		pthread_mutex_destroy(&m->t.mu);
		free(m->mem);
		free(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_new_finish_replay, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replay_keeps_each_2xx_status, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_same_key_other_body_mismatch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mismatch_while_busy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_begin_twice_without_finish_busy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_busy_entry_outlives_ttl, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_finish_non_2xx_forgets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_finish_unknown_key_is_noop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expired_key_is_new_again, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_eviction_takes_oldest_expiring, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expired_way_reused_before_eviction, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_busy_entries_are_never_evicted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_full_of_busy_is_busy, setup, teardown),
	    cmocka_unit_test(test_init_rounds_down_to_whole_sets),
	    cmocka_unit_test(test_table_without_sets_is_busy),
	    cmocka_unit_test(test_key_valid_table),
	    cmocka_unit_test(test_hash_is_sha256),
	    cmocka_unit_test(test_threads_distinct_keys_then_replay),
	    cmocka_unit_test(test_threads_same_key_one_winner),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
