/*
 * fuzz_http_request.c: libFuzzer target for http_request_parse() and http_request_framing().
 * The input is copied to the end of a fixed buffer (an overread hits ASan's redzone) and
 * parsed whole, as a prefix, and with last_len; the results must agree and every pointer of a
 * parsed request must stay inside the header block. Parsed requests go through framing.
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

static char input[FUZZ_MAX_INPUT];
static struct http_header headers[HTTP_MAX_HEADERS + 8];
static struct http_header headers2[HTTP_MAX_HEADERS + 8];

static int is_known(int r)
{
	return r > 0 || r == -ERR_PARTIAL || r == -ERR_BAD_REQUEST || r == -ERR_HEADERS_TOO_LARGE ||
	       r == -ERR_URI_TOO_LONG;
}

static int inside(const char *p, size_t n, const char *base, size_t len)
{
	return p >= base && p + n <= base + len;
}

/* Every span of a successful parse lies in buf[0..r) and has its documented shape. */
static void check_request(const char *buf, int r, const struct http_request *req)
{
	size_t len = (size_t)r;
	CHECK(len <= HTTP_MAX_HEADER_BYTES);
	CHECK(inside(req->method, req->method_len, buf, len));
	CHECK(req->method_len >= 1 && req->method_len <= HTTP_MAX_METHOD);
	CHECK(inside(req->target, req->target_len, buf, len));
	CHECK(req->target_len >= 1 && req->target_len <= HTTP_MAX_TARGET);
	CHECK(req->minor_version == 0 || req->minor_version == 1);
	CHECK(req->num_headers <= HTTP_MAX_HEADERS);
	for (size_t i = 0; i < req->num_headers; i++) {
		const struct http_header *h = &req->headers[i];
		CHECK(h->name_len > 0 && inside(h->name, h->name_len, buf, len));
		CHECK(inside(h->value, h->value_len, buf, len));
		CHECK(memchr(h->name, ':', h->name_len) == NULL);
		CHECK(memchr(h->value, '\n', h->value_len) == NULL);
		CHECK(memchr(h->value, '\r', h->value_len) == NULL);
		if (h->value_len > 0) {
			CHECK(h->value[0] != ' ' && h->value[0] != '\t');
			CHECK(h->value[h->value_len - 1] != ' ' &&
			      h->value[h->value_len - 1] != '\t');
		}
	}
	CHECK(http_header_find(req, "") == NULL);
}

static void check_framing(const struct http_request *req)
{
	struct http_framing f;
	memset(&f, 0xa5, sizeof f);
	int r = http_request_framing(req, &f);
	CHECK(r == 0 || r == -ERR_BAD_FRAMING || r == -ERR_NOT_IMPLEMENTED ||
	      r == -ERR_HOST_MISSING || r == -ERR_EXPECTATION);
	if (r < 0)
		return;
	CHECK(f.body == HTTP_BODY_NONE || f.body == HTTP_BODY_LENGTH ||
	      f.body == HTTP_BODY_CHUNKED);
	CHECK(f.body != HTTP_BODY_CHUNKED || req->minor_version == 1);
	CHECK(f.body == HTTP_BODY_LENGTH || f.content_length == 0);
	CHECK(f.keep_alive == 0 || f.keep_alive == 1);
	CHECK(f.expect_continue == 0 || f.expect_continue == 1);
	CHECK(f.body != HTTP_BODY_CHUNKED || http_header_find(req, "content-length") == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = size < FUZZ_MAX_INPUT ? size : FUZZ_MAX_INPUT;
	char *buf = input + FUZZ_MAX_INPUT - len;
	struct http_request req, req2;
	memcpy(buf, data, len);
	size_t max_headers = len > 0 ? (uint8_t)data[0] % (HTTP_MAX_HEADERS + 8) : HTTP_MAX_HEADERS;

	int r = http_request_parse(buf, len, &req, headers, max_headers, 0);
	CHECK(is_known(r));
	if (r > 0) {
		CHECK((size_t)r <= len);
		check_request(buf, r, &req);
		CHECK(req.num_headers <= max_headers);
		check_framing(&req);
	}

	/* A prefix is partial or already the final answer; an answer never changes later. */
	size_t k = len > 0 ? (size_t)data[len - 1] * len / 256 : 0;
	int rk = http_request_parse(buf, k, &req2, headers2, max_headers, 0);
	CHECK(is_known(rk));
	CHECK(rk == -ERR_PARTIAL || rk == r);

	/* A complete block: every shorter prefix is partial, and last_len finds the end. */
	if (r > 0) {
		CHECK(http_request_parse(buf, (size_t)r - 1, &req2, headers2, max_headers, 0) ==
		      -ERR_PARTIAL);
		size_t last = k < (size_t)r ? k : (size_t)r - 1;
		CHECK(http_request_parse(buf, len, &req2, headers2, max_headers, last) == r);
		CHECK(req2.num_headers == req.num_headers && req2.target == req.target);
	}
	/* With last_len the answer is either deferred (partial) or the same. */
	if (len > 0) {
		int rl = http_request_parse(buf, len, &req2, headers2, max_headers, k > 0 ? k : 1);
		CHECK(rl == r || (rl == -ERR_PARTIAL && len <= HTTP_MAX_HEADER_BYTES));
	}
	return 0;
}
