/* idem.c: the set-associative Idempotency-Key table of idem.h. */
#include "idem.h"

#include <string.h>

#include "bearssl_hash.h"
#include "err.h"

/* see idem.h */
void idem_init(struct idem_table *t, struct idem_entry *mem, size_t entries, int64_t ttl)
{
	t->e = mem;
	t->nsets = entries / IDEM_WAYS;
	t->ttl = ttl;
	pthread_mutex_init(&t->mu, 0);
}

/* see idem.h */
int idem_key_valid(const char *key, size_t n)
{
	if (n == 0 || n > IDEM_MAX_KEY || key[0] == ' ' || key[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e)
			return 0;
	return 1;
}

/* see idem.h */
void idem_hash(const void *data, size_t n, unsigned char out[32])
{
	br_sha256_context h;
	br_sha256_init(&h);
	br_sha256_update(&h, data, n);
	br_sha256_out(&h, out);
}

/* First entry of the key's set. The digest is uniform, so its first 8 bytes pick the set. */
static struct idem_entry *set_of(struct idem_table *t, const unsigned char key[32])
{
	uint64_t h = 0;
	for (int i = 0; i < 8; i++)
		h = h << 8 | key[i];
	return &t->e[(h % t->nsets) * IDEM_WAYS];
}

/* Looks the key up in its set; under t->mu. */
static int lookup(struct idem_table *t, struct idem_entry *set, const unsigned char key[32],
                  const unsigned char body[32], int64_t now, int *status)
{
	struct idem_entry *free_way = 0, *oldest = 0;
	for (int w = 0; w < IDEM_WAYS; w++) {
		struct idem_entry *e = &set[w];
		int live = e->busy || e->expires > now;
		if (!live) {
			if (!free_way)
				free_way = e;
			continue;
		}
		if (memcmp(e->key, key, 32) == 0) {
			if (memcmp(e->body, body, 32) != 0)
				return -ERR_IDEM_MISMATCH;
			if (e->busy)
				return -ERR_IDEM_BUSY;
			*status = e->status;
			return IDEM_REPLAY;
		}
		if (!e->busy && (!oldest || e->expires < oldest->expires))
			oldest = e;
	}
	/* An empty or expired way first, else evict the finished entry that expires first. */
	struct idem_entry *victim = free_way ? free_way : oldest;
	if (!victim)
		return -ERR_IDEM_BUSY;
	memcpy(victim->key, key, 32);
	memcpy(victim->body, body, 32);
	victim->expires = now + t->ttl;
	victim->status = 0;
	victim->busy = 1;
	return IDEM_NEW;
}

/* see idem.h */
int idem_begin(struct idem_table *t, const unsigned char key_hash[32],
               const unsigned char body_hash[32], int64_t now, int *status)
{
	if (t->nsets == 0)
		return -ERR_IDEM_BUSY;
	pthread_mutex_lock(&t->mu);
	int r = lookup(t, set_of(t, key_hash), key_hash, body_hash, now, status);
	pthread_mutex_unlock(&t->mu);
	return r;
}

/* see idem.h */
void idem_finish(struct idem_table *t, const unsigned char key_hash[32], int status)
{
	if (t->nsets == 0)
		return;
	pthread_mutex_lock(&t->mu);
	struct idem_entry *set = set_of(t, key_hash);
	for (int w = 0; w < IDEM_WAYS; w++) {
		struct idem_entry *e = &set[w];
		if (e->busy && memcmp(e->key, key_hash, 32) == 0) {
			e->busy = 0;
			if (status >= 200 && status < 300)
				e->status = (uint16_t)status;
			else
				memset(e, 0, sizeof *e);
			break;
		}
	}
	pthread_mutex_unlock(&t->mu);
}
