/*
 * fuzz_chunked.c: libFuzzer target for http_chunked_decode(). The first input byte chooses a
 * split pattern, the rest is the raw body. It is decoded whole, byte by byte and in the chosen
 * pieces; the three runs must agree on the result class, the decoded bytes, the bytes left
 * over and `total`. Each piece sits at the end of a fixed buffer so an overread hits a redzone.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http.h"
#include "fuzz.h"

/* Inputs above this are cut; make fuzz-replay runs with -max_len=65536. */
#define FUZZ_MAX_INPUT 65536

struct run {
	int rc;                   /* -ERR_PARTIAL, -ERR_BAD_CHUNK or >= 0 (complete) */
	char out[FUZZ_MAX_INPUT]; /* decoded bytes of every call */
	size_t out_len;
	size_t rest_off; /* complete: the raw bytes after the body start here */
	uint64_t total;
};

static char piece[FUZZ_MAX_INPUT];
static struct run runs[3];

/* Feeds raw[0..n) in pieces: the first of `first` bytes (0: `step`), then of `step` bytes. */
static void feed(const char *raw, size_t n, size_t first, size_t step, struct run *r)
{
	struct http_chunked d;
	http_chunked_init(&d);
	r->rc = -ERR_PARTIAL;
	r->out_len = 0;
	r->rest_off = n;
	for (size_t off = 0, calls = 0; off < n || calls == 0; calls++) {
		size_t k = calls == 0 && first > 0 ? first : step;
		if (k > n - off)
			k = n - off;
		char *p = piece + FUZZ_MAX_INPUT - k;
		memcpy(p, raw + off, k);
		size_t len = k;
		r->rc = http_chunked_decode(&d, p, &len);
		CHECK(r->rc == -ERR_PARTIAL || r->rc == -ERR_BAD_CHUNK || r->rc >= 0);
		if (r->rc == -ERR_BAD_CHUNK) {
			CHECK(len == 0);
			break;
		}
		CHECK(len <= k && r->out_len + len <= sizeof r->out);
		memcpy(r->out + r->out_len, p, len);
		r->out_len += len;
		if (r->rc >= 0) {
			/* the leftover is the unread tail of this piece, moved after the data */
			size_t rest = (size_t)r->rc;
			CHECK(len + rest <= k);
			CHECK(memcmp(p + len, raw + off + k - rest, rest) == 0);
			r->rest_off = off + k - rest;
			break;
		}
		off += k;
	}
	CHECK(d.total == r->out_len || r->rc == -ERR_BAD_CHUNK);
	r->total = d.total;
}

static void same(const struct run *a, const struct run *b)
{
	CHECK((a->rc >= 0) == (b->rc >= 0));
	CHECK(a->rc >= 0 || a->rc == b->rc);
	if (a->rc == -ERR_BAD_CHUNK)
		return;
	CHECK(a->out_len == b->out_len && memcmp(a->out, b->out, a->out_len) == 0);
	CHECK(a->rest_off == b->rest_off);
	CHECK(a->total == b->total);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const char *raw = (const char *)data + 1;
	size_t n = size - 1 < FUZZ_MAX_INPUT ? size - 1 : FUZZ_MAX_INPUT;
	size_t step = (data[0] & 15) + 1;                   /* pieces of 1..16 bytes */
	size_t first = n > 0 ? (data[0] >> 4) * n / 16 : 0; /* a first cut across the body */

	feed(raw, n, 0, n > 0 ? n : 1, &runs[0]);
	feed(raw, n, 0, 1, &runs[1]);
	feed(raw, n, first, step, &runs[2]);
	same(&runs[0], &runs[1]);
	same(&runs[0], &runs[2]);
	/* decoded data never exceeds the input, and a complete body consumed rest_off bytes */
	CHECK(runs[0].out_len <= n);
	CHECK(runs[0].rc < 0 || (size_t)runs[0].rc == n - runs[0].rest_off);
	return 0;
}
