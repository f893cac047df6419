/*
 * fuzz_http_response.c: libFuzzer target for the client side of http.h: http_response_parse(),
 * http_response_framing(), http_retry_after(), and the request writers. The input is copied to
 * the end of a fixed buffer (an overread hits ASan's redzone) and parsed whole, as a prefix and
 * with last_len; the results must agree and every span of a parsed response must stay inside
 * its header block. Parsed responses go through framing and Retry-After, whose answers must
 * keep their documented shape; an interim (1xx) response is followed by the next one. Slices of
 * the input are also written as a request target and a header value: the writers must either
 * refuse without writing, or produce a request that our own parser reads back unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "http.h"
#include "fuzz.h"

/* Inputs above this are cut; make fuzz-replay runs with -max_len=65536. */
#define FUZZ_MAX_INPUT 65536
/* Longest input slice used as a request target or header value. */
#define FUZZ_MAX_SLICE 512
/* Room for the written request: slices, method, Host and framing text. */
#define FUZZ_OUT_ROOM (2 * FUZZ_MAX_SLICE + 128)

static char input[FUZZ_MAX_INPUT];
static struct http_header headers[HTTP_MAX_HEADERS + 8];
static struct http_header headers2[HTTP_MAX_HEADERS + 8];

static int is_known(int r)
{
	return r > 0 || r == -ERR_PARTIAL || r == -ERR_BAD_REQUEST || r == -ERR_HEADERS_TOO_LARGE;
}

static int inside(const char *p, size_t n, const char *base, size_t len)
{
	return p >= base && p + n <= base + len;
}

/* No CR, LF, NUL or other CTL but HTAB; the parser's rule for values and reasons. */
static int clean_text(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

/* Every span of a successful parse lies in buf[0..r) and has its documented shape. */
static void check_response(const char *buf, int r, const struct http_response *res)
{
	size_t len = (size_t)r;
	CHECK(len <= HTTP_MAX_HEADER_BYTES);
	CHECK(res->minor_version >= 0 && res->minor_version <= 9);
	CHECK(res->status >= 100 && res->status <= 599);
	CHECK(inside(res->reason, res->reason_len, buf, len));
	CHECK(clean_text(res->reason, res->reason_len));
	CHECK(res->num_headers <= HTTP_MAX_HEADERS);
	for (size_t i = 0; i < res->num_headers; i++) {
		const struct http_header *h = &res->headers[i];
		CHECK(h->name_len > 0 && inside(h->name, h->name_len, buf, len));
		CHECK(inside(h->value, h->value_len, buf, len));
		CHECK(memchr(h->name, ':', h->name_len) == NULL);
		CHECK(clean_text(h->value, h->value_len));
		if (h->value_len > 0) {
			CHECK(h->value[0] != ' ' && h->value[0] != '\t');
			CHECK(h->value[h->value_len - 1] != ' ' &&
			      h->value[h->value_len - 1] != '\t');
		}
	}
	CHECK(http_response_header_find(res, "") == NULL);
}

static void check_framing(const struct http_response *res, int head)
{
	struct http_framing f;
	memset(&f, 0xa5, sizeof f);
	int r = http_response_framing(res, head, &f);
	CHECK(r == 0 || r == -ERR_BAD_FRAMING || r == -ERR_NOT_IMPLEMENTED);
	int no_body = head || res->status < 200 || res->status == 204 || res->status == 304;
	if (r < 0) {
		CHECK(!no_body); /* no-body responses never look at framing headers */
		return;
	}
	CHECK(f.body == HTTP_BODY_NONE || f.body == HTTP_BODY_LENGTH ||
	      f.body == HTTP_BODY_CHUNKED || f.body == HTTP_BODY_UNTIL_CLOSE);
	CHECK((f.body == HTTP_BODY_NONE) == no_body);
	CHECK(f.body == HTTP_BODY_LENGTH || f.content_length == 0);
	CHECK(f.keep_alive == 0 || f.keep_alive == 1);
	CHECK(f.body != HTTP_BODY_UNTIL_CLOSE || f.keep_alive == 0);
	CHECK(f.expect_continue == 0);
	if (f.body == HTTP_BODY_CHUNKED) {
		CHECK(res->minor_version >= 1);
		CHECK(http_response_header_find(res, "content-length") == NULL);
	}
	if (f.body == HTTP_BODY_LENGTH || f.body == HTTP_BODY_UNTIL_CLOSE)
		CHECK(http_response_header_find(res, "transfer-encoding") == NULL);
	/* the answer depends on nothing but the response */
	struct http_framing g;
	CHECK(http_response_framing(res, head, &g) == 0 && memcmp(&f, &g, sizeof f) == 0);
}

/* Found or not does not depend on now; a later now never asks for a longer wait, and the wait
 * shrinks by at most the time that passed. */
static void check_retry_after(const struct http_response *res, int64_t now, int64_t later_by)
{
	int s1 = -1, s2 = -1;
	int r1 = http_retry_after(res, now, &s1);
	CHECK(r1 == 0 || r1 == 1);
	if (r1 == 0) {
		CHECK(s1 == -1);
		CHECK(http_retry_after(res, INT64_MIN, &s2) == 0 && s2 == -1);
		return;
	}
	CHECK(s1 >= 0 && s1 <= HTTP_MAX_RETRY_AFTER);
	if (now > INT64_MAX - later_by)
		return;
	CHECK(http_retry_after(res, now + later_by, &s2) == 1);
	CHECK(s2 >= 0 && s2 <= s1 && (int64_t)(s1 - s2) <= later_by);
}

/* A 64-bit now from input bytes (any value, INT64_MIN and INT64_MAX included). */
static int64_t now_from(const uint8_t *data, size_t size)
{
	uint64_t v = 0;
	for (size_t i = 0; i < 8 && i < size; i++)
		v = v << 8 | data[size - 1 - i];
	return (int64_t)v;
}

/* Copies up to FUZZ_MAX_SLICE bytes of src as a NUL-terminated string (cut at a NUL). */
static void slice(char *dst, const uint8_t *src, size_t n)
{
	if (n > FUZZ_MAX_SLICE)
		n = FUZZ_MAX_SLICE;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The writers refuse without writing, or write what our parser reads back unchanged. */
static void check_writers(const uint8_t *data, size_t size)
{
	static char target[FUZZ_MAX_SLICE + 1], value[FUZZ_MAX_SLICE + 1], out[FUZZ_OUT_ROOM];
	size_t cut = size > 0 ? (size_t)data[0] * size / 256 : 0;
	slice(target, data, cut);
	slice(value, data + cut, size - cut);
	size_t vlen = strlen(value);
	struct buf b;
	buf_init(&b, out, sizeof out);
	http_request_head(&b, "GET", target, "localhost:4141");
	if (b.err != 0) {
		CHECK(b.err == -ERR_INTERNAL && b.len == 0);
		return;
	}
	size_t head_len = b.len;
	http_header_line(&b, "X-Value", value, vlen);
	if (b.err != 0) {
		CHECK(b.err == -ERR_INTERNAL && b.len == head_len);
		return;
	}
	buf_puts(&b, "\r\n");
	CHECK(buf_finish(&b) == 0);
	struct http_request req;
	int r = http_request_parse(out, b.len, &req, headers2, HTTP_MAX_HEADERS, 0);
	CHECK(r == (int)b.len); /* FUZZ_MAX_SLICE < HTTP_MAX_TARGET */
	CHECK(req.target_len == strlen(target) && memcmp(req.target, target, req.target_len) == 0);
	CHECK(req.num_headers == 2);
	CHECK(req.headers[1].value_len == vlen && memcmp(req.headers[1].value, value, vlen) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = size < FUZZ_MAX_INPUT ? size : FUZZ_MAX_INPUT;
	char *buf = input + FUZZ_MAX_INPUT - len;
	struct http_response res, res2;
	memcpy(buf, data, len);
	/* 1..72 entries, the full array for a first byte 'H' (72); HEAD when the length is odd */
	size_t room = sizeof headers / sizeof headers[0];
	size_t max_headers = len > 0 ? room - (uint8_t)data[0] % room : HTTP_MAX_HEADERS;
	int head = (int)(len & 1);
	int64_t now = now_from(data, len);
	int64_t later = len > 2 ? (int64_t)data[2] * 1000 : 1;

	int r = http_response_parse(buf, len, &res, headers, max_headers, 0);
	CHECK(is_known(r));
	if (r > 0) {
		CHECK((size_t)r <= len);
		check_response(buf, r, &res);
		CHECK(res.num_headers <= max_headers);
		check_framing(&res, head);
		check_retry_after(&res, now, later);
	}

	/* A prefix is partial or already the final answer; an answer never changes later. */
	size_t k = len > 0 ? (size_t)data[len - 1] * len / 256 : 0;
	int rk = http_response_parse(buf, k, &res2, headers2, max_headers, 0);
	CHECK(is_known(rk));
	CHECK(rk == -ERR_PARTIAL || rk == r);

	/* A complete block: every shorter prefix is partial, and last_len finds the end. */
	if (r > 0) {
		CHECK(http_response_parse(buf, (size_t)r - 1, &res2, headers2, max_headers, 0) ==
		      -ERR_PARTIAL);
		size_t last = k < (size_t)r ? k : (size_t)r - 1;
		CHECK(http_response_parse(buf, len, &res2, headers2, max_headers, last) == r);
		CHECK(res2.num_headers == res.num_headers && res2.status == res.status &&
		      res2.reason == res.reason);
	}
	/* With last_len the answer is either deferred (partial) or the same. */
	if (len > 0) {
		int rl = http_response_parse(buf, len, &res2, headers2, max_headers, k > 0 ? k : 1);
		CHECK(rl == r || (rl == -ERR_PARTIAL && len <= HTTP_MAX_HEADER_BYTES));
	}
	/* After an interim response, the caller parses the next one from where it ended. */
	if (r > 0 && res.status < 200) {
		int rn =
		    http_response_parse(buf + r, len - (size_t)r, &res2, headers2, max_headers, 0);
		CHECK(is_known(rn));
		if (rn > 0)
			check_response(buf + r, rn, &res2);
	}
	check_writers(data, len);
	return 0;
}
