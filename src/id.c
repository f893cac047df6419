/* id.c: UUID strings for operation ids (random v4, key-derived v8). */
#include "id.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "bearssl_hash.h"
#include "err.h"

/* Label mixed into key-derived ids so that they never collide with other uses of SHA-256. */
static const char key_label[] = "notify-handler idempotency-key v1\n";

/* Formats 16 bytes as 8-4-4-4-12 lower-case hex with a NUL. */
static void format(const unsigned char b[16], char out[ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = 0;
}

/* Random bytes per getrandom(2) call: one call serves 16 ids, so the syscall leaves the hot
 * path. Per thread (no lock); the pool is plain static storage, not an allocation. */
#define ID_POOL 256

/* see id.h */
int id_random(char out[static ID_LEN + 1])
{
	static _Thread_local unsigned char pool[ID_POOL];
	static _Thread_local size_t left;
	unsigned char b[16];
	while (left < sizeof b) {
		ssize_t r = getrandom(pool, sizeof pool, 0);
		if (r < 0 && errno != EINTR)
			return -ERR_IO;
		if (r == (ssize_t)sizeof pool)
			left = sizeof pool;
	}
	memcpy(b, pool + sizeof pool - left, sizeof b);
	memset(pool + sizeof pool - left, 0, sizeof b); /* an id's bytes are never reused */
	left -= sizeof b;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 9562 variant */
	format(b, out);
	return 0;
}

/* see id.h */
void id_from_digest(const unsigned char digest[static 32], char out[static ID_LEN + 1])
{
	unsigned char b[16];
	memcpy(b, digest, sizeof b);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x80); /* version 8 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	format(b, out);
}

/* see id.h */
void id_from_key(const char *key, size_t n, char out[static ID_LEN + 1])
{
	br_sha256_context h;
	unsigned char d[32];
	br_sha256_init(&h);
	br_sha256_update(&h, key_label, sizeof key_label - 1);
	br_sha256_update(&h, key, n);
	br_sha256_out(&h, d);
	id_from_digest(d, out);
}

/* see id.h */
void id_from_key_body(const char *key, size_t n, const unsigned char body_digest[static 32],
                      char out[static ID_LEN + 1])
{
	static const char label[] = "notify-handler idempotency-key+body v1\n";
	br_sha256_context h;
	unsigned char d[32];
	br_sha256_init(&h);
	br_sha256_update(&h, label, sizeof label - 1);
	br_sha256_update(&h, body_digest, 32);
	br_sha256_update(&h, key, n);
	br_sha256_out(&h, d);
	id_from_digest(d, out);
}

/* see id.h */
int id_valid(const char *s, size_t n)
{
	if (n != ID_LEN)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return 0;
		}
	}
	return 1;
}
