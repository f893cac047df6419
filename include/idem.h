/*
 * idem.h: the Idempotency-Key table. A bounded, set-associative table in caller memory: each key
 * (by SHA-256) remembers the SHA-256 of the request body, the answer status and an expiry time.
 * The same key with the same body replays the first answer; with another body it is a conflict;
 * while the first request is still being sent, a second one is told to retry. A failed send
 * forgets the key, so the client may retry with it. The operation id of a keyed request is
 * stable across restarts: id_from_key() for the outbox (which records the body's digest and so
 * refuses a forgotten key with another body), id_from_key_body() for ACS (id.h).
 *
 * Capacity: when a set is full of live entries the oldest finished one is evicted, so a key is
 * remembered for the TTL or until IDEM_WAYS newer keys land in its set, whichever comes first.
 * All functions are thread-safe (one mutex; the critical sections are a few compares).
 */
#ifndef NOTIFY_IDEM_H
#define NOTIFY_IDEM_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Key length limit: Stripe and the IETF draft's examples use up to 255 characters. */
#define IDEM_MAX_KEY 255
/* Entries per set: 8 ways keeps a lookup within one or two cache lines of digests while making
 * eviction of a live key unlikely until the table is nearly full. */
#define IDEM_WAYS 8

struct idem_entry {
	unsigned char key[32];  /* SHA-256 of the key */
	unsigned char body[32]; /* SHA-256 of the request body */
	int64_t expires;        /* Unix time; 0 = empty slot */
	uint16_t status;        /* stored answer status once finished */
	uint8_t busy;           /* 1 while the first request is in flight */
};

struct idem_table {
	struct idem_entry *e; /* caller memory: nsets * IDEM_WAYS entries, zeroed */
	size_t nsets;
	int64_t ttl; /* seconds */
	pthread_mutex_t mu;
};

enum idem_outcome {
	IDEM_NEW = 0,    /* first use: send, then call idem_finish() */
	IDEM_REPLAY = 1, /* answered before: `status` holds the answer's status */
};

/* mem holds `entries` entries (rounded down to a whole number of sets); ttl in seconds. */
void idem_init(struct idem_table *t, struct idem_entry *mem, size_t entries, int64_t ttl);

/* 1 when key[0..n) is an acceptable Idempotency-Key: 1..IDEM_MAX_KEY visible ASCII characters
 * or spaces (RFC 9110 field value without obs-text), not starting or ending with a space. */
int idem_key_valid(const char *key, size_t n);

/*
 * Looks the key up at time `now`. Returns IDEM_NEW (entry reserved and marked busy),
 * IDEM_REPLAY (*status set), -ERR_IDEM_MISMATCH (other body), -ERR_IDEM_BUSY (first request
 * still in flight, or every way of the set is busy).
 * key_hash and body_hash are SHA-256 digests (see idem_hash()).
 */
int idem_begin(struct idem_table *t, const unsigned char key_hash[32],
               const unsigned char body_hash[32], int64_t now, int *status);

/* Ends a request begun with IDEM_NEW: a 2xx `status` is remembered for replays; anything else
 * forgets the key so that a retry with it is a new request. */
void idem_finish(struct idem_table *t, const unsigned char key_hash[32], int status);

/* SHA-256 of data[0..n). */
void idem_hash(const void *data, size_t n, unsigned char out[32]);

#endif
