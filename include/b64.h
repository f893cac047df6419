/*
 * b64.h: base64 (RFC 4648, standard alphabet, with padding) checking, decoding and encoding.
 * Attachments arrive base64-encoded; the outbox re-wraps them; ACS signing encodes hashes.
 */
#ifndef NOTIFY_B64_H
#define NOTIFY_B64_H

#include <stddef.h>

#include "buf.h"

/*
 * Checks that s[0..n) is canonical base64: length a multiple of 4, only the standard alphabet,
 * '=' only as one or two final padding characters, unused bits of the last group zero.
 * Returns the decoded length (>= 0) or -ERR_FIELD_INVALID. An empty string is valid (0).
 */
long b64_check(const char *s, size_t n);

/* Decodes s[0..n) into out[0..cap). Returns the decoded length or -ERR_FIELD_INVALID (bad
 * input, checked as b64_check does) or -ERR_OVERFLOW (cap too small). */
long b64_decode(const char *s, size_t n, unsigned char *out, size_t cap);

/* Appends the base64 encoding of data[0..n) to b. */
void b64_encode(struct buf *b, const void *data, size_t n);

/* Appends already-encoded base64 text s[0..n) to b in lines of at most `width` characters, each
 * ended by CRLF (the MIME body form, RFC 2045 6.8: width 76). */
void b64_wrap(struct buf *b, const char *s, size_t n, size_t width);

#endif
