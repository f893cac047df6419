/*
 * id.h: operation ids. Every notification gets one id: the file name in the outbox, the
 * Message-ID, the ACS Operation-Id of every retry, and the key that joins its log lines.
 * Ids are RFC 9562 UUID strings (36 characters, lower-case hex). Random ids are version 4;
 * ids derived from an Idempotency-Key (and, for ACS, the body's digest) are version 8 (custom):
 * SHA-256 of a fixed label and the inputs, so they are the same in every process and across
 * restarts.
 */
#ifndef NOTIFY_ID_H
#define NOTIFY_ID_H

#include <stddef.h>

/* Characters of a UUID string: 32 hex digits and 4 hyphens. */
#define ID_LEN 36

/* A fresh random (version 4) id from getrandom(2). Returns 0 or -ERR_IO. */
int id_random(char out[static ID_LEN + 1]);

/* The id of an Idempotency-Key: version 8 from SHA-256("notify-handler idempotency-key v1\n"
 * || key). */
void id_from_key(const char *key, size_t n, char out[static ID_LEN + 1]);

/* The id of an Idempotency-Key together with the SHA-256 of its request body: version 8 from
 * SHA-256("notify-handler idempotency-key+body v1\n" || body_digest || key). Used where no
 * record of the first body survives a restart (ACS): a reused key with another body gets
 * another id instead of being mapped onto the first operation. */
void id_from_key_body(const char *key, size_t n, const unsigned char body_digest[static 32],
                      char out[static ID_LEN + 1]);

/* The id from the first 16 bytes of a 32-byte SHA-256 digest (version 8 bits set). */
void id_from_digest(const unsigned char digest[static 32], char out[static ID_LEN + 1]);

/* 1 when s[0..n) is a lower-case UUID string of the 8-4-4-4-12 form. */
int id_valid(const char *s, size_t n);

#endif
