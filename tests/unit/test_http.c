/*
 * test_http.c: unit tests of http.h. Parser inputs sit at the very end of a mapping followed by
 * a PROT_NONE page, so any read past (buf, len) faults; every prefix of the test requests is
 * parsed to pin the incremental contract. Chunked bodies are fed whole, byte by byte and split
 * at every offset, and must decode identically. The client-side half (responses, framing,
 * Retry-After, request writers) follows the same pattern, with table-driven cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "http.h"

/* Room for the largest input of these tests (a header block a little over the limit). */
#define GUARD_ROOM (64 * 1024)
/* Room for a request's header array; above HTTP_MAX_HEADERS on purpose. */
#define TEST_MAX_HEADERS 100

/* ---- guard page ---------------------------------------------------------------------------- */

static char *guard_base; /* GUARD_ROOM writable bytes, then a PROT_NONE page */

static int guard_setup(void **state)
{
	(void)state;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t room = (GUARD_ROOM + page - 1) / page * page;
	char *m =
	    mmap(NULL, room + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || mprotect(m + room, page, PROT_NONE) != 0)
		return -1;
	guard_base = m + room - GUARD_ROOM;
	return 0;
}

/* Copies data[0..n) so that it ends right before the guard page; returns the copy. */
static char *guarded(const void *data, size_t n)
{
	assert_true(n <= GUARD_ROOM);
	char *p = guard_base + GUARD_ROOM - n;
	memmove(p, data, n);
	return p;
}

/* ---- parse helpers ------------------------------------------------------------------------- */

static struct http_header hdrs[TEST_MAX_HEADERS];

static int parse_n(const char *s, size_t n, struct http_request *req, size_t max_headers,
                   size_t last_len)
{
	return http_request_parse(guarded(s, n), n, req, hdrs, max_headers, last_len);
}

static int parse(const char *s, struct http_request *req)
{
	return parse_n(s, strlen(s), req, TEST_MAX_HEADERS, 0);
}

static void expect_parse(const char *s, int want)
{
	struct http_request req;
	int got = parse(s, &req);
	if (got != want)
		fail_msg("parse(\"%s\") = %d, want %d", s, got, want);
}

static int span_eq(const char *p, size_t n, const char *s)
{
	return n == strlen(s) && memcmp(p, s, n) == 0;
}

#define assert_span(p, n, s) assert_true(span_eq((p), (n), (s)))

/* ---- valid requests ------------------------------------------------------------------------ */

static void test_get_simple(void **state)
{
	(void)state;
	const char *s = "GET /v1/notify?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n";
	struct http_request req;
	assert_int_equal(parse(s, &req), (int)strlen(s));
	assert_span(req.method, req.method_len, "GET");
	assert_span(req.target, req.target_len, "/v1/notify?x=1");
	assert_int_equal(req.minor_version, 1);
	assert_int_equal(req.num_headers, 1);
	assert_ptr_equal(req.headers, hdrs);
	assert_span(req.headers[0].name, req.headers[0].name_len, "Host");
	assert_span(req.headers[0].value, req.headers[0].value_len, "example.com");
}

static void test_post_with_body(void **state)
{
	(void)state;
	const char *head = "POST /v1/mail HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
	                   "Content-Length: 7\r\n\r\n";
	char s[256];
	snprintf(s, sizeof s, "%s{\"a\":1}", head);
	struct http_request req;
	assert_int_equal(parse(s, &req), (int)strlen(head));
	assert_span(req.method, req.method_len, "POST");
	assert_int_equal(req.num_headers, 3);
	assert_span(req.headers[2].name, req.headers[2].name_len, "Content-Length");
	assert_span(req.headers[2].value, req.headers[2].value_len, "7");
}

static void test_http10_no_headers(void **state)
{
	(void)state;
	struct http_request req;
	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &req), 18);
	assert_int_equal(req.minor_version, 0);
	assert_int_equal(req.num_headers, 0);
}

static void test_lf_only_and_mixed(void **state)
{
	(void)state;
	struct http_request req;
	const char *lf = "GET / HTTP/1.1\nHost: a\nX: y\n\n";
	assert_int_equal(parse(lf, &req), (int)strlen(lf));
	assert_int_equal(req.num_headers, 2);
	assert_span(req.headers[1].value, req.headers[1].value_len, "y");
	const char *mixed = "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\n";
	assert_int_equal(parse(mixed, &req), (int)strlen(mixed));
	const char *mixed2 = "GET / HTTP/1.1\nHost: a\n\r\n";
	assert_int_equal(parse(mixed2, &req), (int)strlen(mixed2));
}

static void test_leading_empty_lines(void **state)
{
	(void)state;
	struct http_request req;
	const char *s = "\r\n\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n";
	assert_int_equal(parse(s, &req), (int)strlen(s));
	assert_span(req.method, req.method_len, "GET");
	assert_span(req.target, req.target_len, "/x");
	expect_parse("\r\n\r\n", -ERR_PARTIAL);
	expect_parse("\n", -ERR_PARTIAL);
	expect_parse("\r", -ERR_PARTIAL);
	expect_parse("\rGET / HTTP/1.1\r\n\r\n", -ERR_BAD_REQUEST);
	expect_parse("\r\n\rGET / HTTP/1.1\r\n\r\n", -ERR_BAD_REQUEST);
}

static void test_ows_trimmed(void **state)
{
	(void)state;
	struct http_request req;
	const char *s = "GET / HTTP/1.1\r\nA: \t a  b \t\r\nB:c\r\nC:\r\nD: \t \r\nE:\tx\r\n\r\n";
	assert_int_equal(parse(s, &req), (int)strlen(s));
	assert_int_equal(req.num_headers, 5);
	assert_span(req.headers[0].value, req.headers[0].value_len, "a  b");
	assert_span(req.headers[1].value, req.headers[1].value_len, "c");
	assert_int_equal(req.headers[2].value_len, 0);
	assert_int_equal(req.headers[3].value_len, 0);
	assert_span(req.headers[4].value, req.headers[4].value_len, "x");
}

static void test_obs_text_value(void **state)
{
	(void)state;
	struct http_request req;
	const char *s = "GET / HTTP/1.1\r\nX: caf\xc3\xa9 \x80\xff\r\n\r\n";
	assert_int_equal(parse(s, &req), (int)strlen(s));
	assert_span(req.headers[0].value, req.headers[0].value_len, "caf\xc3\xa9 \x80\xff");
}

static void test_token_chars(void **state)
{
	(void)state;
	struct http_request req;
	const char *s = "M-SEARCH /!$&'()*+,;=:@~%20 HTTP/1.1\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n";
	assert_int_equal(parse(s, &req), (int)strlen(s));
	assert_span(req.method, req.method_len, "M-SEARCH");
	assert_span(req.target, req.target_len, "/!$&'()*+,;=:@~%20");
	assert_span(req.headers[0].name, req.headers[0].name_len, "!#$%&'*+-.^_`|~09azAZ");
	expect_parse("get * HTTP/1.1\r\n\r\n", 18); /* methods are case-sensitive tokens */
}

/* ---- request errors ------------------------------------------------------------------------ */

static void test_request_line_errors(void **state)
{
	(void)state;
	static const char *bad[] = {
	    " / HTTP/1.1\r\n\r\n",
	    "GE@T / HTTP/1.1\r\n\r\n",
	    "GET  / HTTP/1.1\r\n\r\n",
	    "GET /  HTTP/1.1\r\n\r\n",
	    "GET\t/ HTTP/1.1\r\n\r\n",
	    "GET /\tHTTP/1.1\r\n\r\n",
	    "GET / HTTP/1.1 \r\n\r\n",
	    "GET /\r\n\r\n",
	    "GET / \r\n\r\n",
	    "GET\r\n\r\n",
	    "GET / HTTP/2.0\r\n\r\n",
	    "GET / HTTP/1.2\r\n\r\n",
	    "GET / HTTP/1.10\r\n\r\n",
	    "GET / http/1.1\r\n\r\n",
	    "GET / HTTP/1\r\n\r\n",
	    "GET / HTTP/0.9\r\n\r\n",
	    "GET /a\x7f HTTP/1.1\r\n\r\n",
	    "GET /\x80 HTTP/1.1\r\n\r\n",
	    "GET /\x01 HTTP/1.1\r\n\r\n",
	    "GET / HTTP/1.1\rX: y\r\n\r\n",
	    "GET / HTTP/1.1\r\r\n\r\n",
	    "GET / HTTP/1.1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int want = i + 1 == sizeof bad / sizeof bad[0] ? -ERR_PARTIAL : -ERR_BAD_REQUEST;
		expect_parse(bad[i], want);
	}
	/* a wrong version prefix fails before the line is complete */
	expect_parse("GET / HTTX", -ERR_BAD_REQUEST);
	expect_parse("GET / HTTP/2", -ERR_BAD_REQUEST);
	expect_parse("GET / HTTP/1.", -ERR_PARTIAL);
	expect_parse("GET / HTTP/1.1\r", -ERR_PARTIAL);
}

static void test_method_length(void **state)
{
	(void)state;
	char s[64];
	struct http_request req;
	snprintf(s, sizeof s, "%.*s / HTTP/1.0\r\n\r\n", HTTP_MAX_METHOD,
	         "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
	assert_int_equal(parse(s, &req), (int)strlen(s));
	assert_int_equal(req.method_len, HTTP_MAX_METHOD);
	snprintf(s, sizeof s, "%.*s / HTTP/1.0\r\n\r\n", HTTP_MAX_METHOD + 1,
	         "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
	expect_parse(s, -ERR_BAD_REQUEST);
	/* known too long while incomplete */
	snprintf(s, sizeof s, "%.*s", HTTP_MAX_METHOD + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
	expect_parse(s, -ERR_BAD_REQUEST);
	snprintf(s, sizeof s, "%.*s", HTTP_MAX_METHOD, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
	expect_parse(s, -ERR_PARTIAL);
}

static void test_header_errors(void **state)
{
	(void)state;
	static const char *bad[] = {
	    "GET / HTTP/1.1\r\nHost : a\r\n\r\n",   "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
	    "GET / HTTP/1.1\r\n: a\r\n\r\n",        "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost\r\n\r\n",       "GET / HTTP/1.1\r\nHo st: a\r\n\r\n",
	    "GET / HTTP/1.1\r\n Host: a\r\n\r\n",   "GET / HTTP/1.1\r\n\tHost: a\r\n\r\n",
	    "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", "GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n",
	    "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",   "GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n",
	    "GET / HTTP/1.1\r\nA: \x1b[0m\r\n\r\n", "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
	    "GET / HTTP/1.1\r\nA: b\r\r\n\r\n",     "GET / HTTP/1.1\r\nA: b\r\n\rX\r\n",
	    "GET / HTTP/1.1\r\nA\xff: b\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_parse(bad[i], -ERR_BAD_REQUEST);
	/* a NUL inside a value (strlen would stop there) */
	static const char nul[] = "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n";
	struct http_request req;
	assert_int_equal(parse_n(nul, sizeof nul - 1, &req, TEST_MAX_HEADERS, 0), -ERR_BAD_REQUEST);
}

static void test_partial(void **state)
{
	(void)state;
	struct http_request req;
	assert_int_equal(parse_n("", 0, &req, TEST_MAX_HEADERS, 0), -ERR_PARTIAL);
	expect_parse("G", -ERR_PARTIAL);
	expect_parse("GET / HTTP/1.1\r\nHost: a\r\n", -ERR_PARTIAL);
	expect_parse("GET / HTTP/1.1\r\nHost: a\r\n\r", -ERR_PARTIAL);
	expect_parse("GET / HTTP/1.1\r\nHost", -ERR_PARTIAL);
}

/* "GET /aaa..a HTTP/1.1\r\nHost: a\r\n\r\n" with a target of exactly tlen bytes. */
static size_t build_target(char *out, size_t tlen)
{
	size_t n = 0;
	memcpy(out + n, "GET /", 5);
	n += 5;
	memset(out + n, 'a', tlen - 1);
	n += tlen - 1;
	memcpy(out + n, " HTTP/1.1\r\nHost: a\r\n\r\n", 22);
	return n + 22;
}

static void test_target_limit(void **state)
{
	(void)state;
	static char s[HTTP_MAX_TARGET + 64];
	struct http_request req;
	size_t n = build_target(s, HTTP_MAX_TARGET);
	assert_int_equal(parse_n(s, n, &req, TEST_MAX_HEADERS, 0), (int)n);
	assert_int_equal(req.target_len, HTTP_MAX_TARGET);
	n = build_target(s, HTTP_MAX_TARGET + 1);
	assert_int_equal(parse_n(s, n, &req, TEST_MAX_HEADERS, 0), -ERR_URI_TOO_LONG);
	/* incomplete: the target alone, at the limit and one over */
	assert_int_equal(parse_n(s, 4 + HTTP_MAX_TARGET, &req, TEST_MAX_HEADERS, 0), -ERR_PARTIAL);
	assert_int_equal(parse_n(s, 4 + HTTP_MAX_TARGET + 1, &req, TEST_MAX_HEADERS, 0),
	                 -ERR_URI_TOO_LONG);
}

/* A request of exactly `total` bytes: request line, Host, one padded field, blank line. */
static size_t build_sized(char *out, size_t total)
{
	static const char head[] = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
	size_t n = sizeof head - 1;
	memcpy(out, head, n);
	memset(out + n, 'p', total - n - 4);
	memcpy(out + total - 4, "\r\n\r\n", 4);
	return total;
}

static void test_header_bytes_limit(void **state)
{
	(void)state;
	static char s[HTTP_MAX_HEADER_BYTES + 64];
	struct http_request req;
	size_t n = build_sized(s, HTTP_MAX_HEADER_BYTES);
	assert_int_equal(parse_n(s, n, &req, TEST_MAX_HEADERS, 0), HTTP_MAX_HEADER_BYTES);
	/* at the limit with body bytes after it */
	memcpy(s + n, "BODY", 4);
	assert_int_equal(parse_n(s, n + 4, &req, TEST_MAX_HEADERS, 0), HTTP_MAX_HEADER_BYTES);
	n = build_sized(s, HTTP_MAX_HEADER_BYTES + 1);
	assert_int_equal(parse_n(s, n, &req, TEST_MAX_HEADERS, 0), -ERR_HEADERS_TOO_LARGE);
	assert_int_equal(parse_n(s, n, &req, TEST_MAX_HEADERS, n - 1), -ERR_HEADERS_TOO_LARGE);
	/* incomplete: exactly the limit is still partial, one more byte is too large */
	assert_int_equal(parse_n(s, HTTP_MAX_HEADER_BYTES, &req, TEST_MAX_HEADERS, 0),
	                 -ERR_PARTIAL);
	assert_int_equal(parse_n(s, HTTP_MAX_HEADER_BYTES + 1, &req, TEST_MAX_HEADERS, 0),
	                 -ERR_HEADERS_TOO_LARGE);
	assert_int_equal(
	    parse_n(s, HTTP_MAX_HEADER_BYTES + 1, &req, TEST_MAX_HEADERS, HTTP_MAX_HEADER_BYTES),
	    -ERR_HEADERS_TOO_LARGE);
}

static void test_leading_lines_count(void **state)
{
	(void)state;
	static char s[HTTP_MAX_HEADER_BYTES + 64];
	static const char req_text[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
	size_t rl = sizeof req_text - 1;
	struct http_request req;
	/* empty lines only: partial up to the limit, too large after */
	for (size_t i = 0; i + 1 < sizeof s; i += 2)
		memcpy(s + i, "\r\n", 2);
	assert_int_equal(parse_n(s, HTTP_MAX_HEADER_BYTES, &req, TEST_MAX_HEADERS, 0),
	                 -ERR_PARTIAL);
	assert_int_equal(parse_n(s, HTTP_MAX_HEADER_BYTES + 2, &req, TEST_MAX_HEADERS, 0),
	                 -ERR_HEADERS_TOO_LARGE);
	/* empty lines + request: exactly the limit, then one over */
	memset(s, '\n', HTTP_MAX_HEADER_BYTES - rl);
	memcpy(s + HTTP_MAX_HEADER_BYTES - rl, req_text, rl);
	assert_int_equal(parse_n(s, HTTP_MAX_HEADER_BYTES, &req, TEST_MAX_HEADERS, 0),
	                 HTTP_MAX_HEADER_BYTES);
	memset(s, '\n', HTTP_MAX_HEADER_BYTES + 1 - rl);
	memcpy(s + HTTP_MAX_HEADER_BYTES + 1 - rl, req_text, rl);
	assert_int_equal(parse_n(s, HTTP_MAX_HEADER_BYTES + 1, &req, TEST_MAX_HEADERS, 0),
	                 -ERR_HEADERS_TOO_LARGE);
}

/* Decision pinned: a syntax error inside the limit wins over the limit being passed. */
static void test_error_before_limit_wins(void **state)
{
	(void)state;
	static char s[HTTP_MAX_HEADER_BYTES + 64];
	struct http_request req;
	size_t n = build_sized(s, HTTP_MAX_HEADER_BYTES + 32);
	s[2] = '@'; /* "GE@" */
	assert_int_equal(parse_n(s, n, &req, TEST_MAX_HEADERS, 0), -ERR_BAD_REQUEST);
	assert_int_equal(parse_n(s, n, &req, TEST_MAX_HEADERS, n - 1), -ERR_BAD_REQUEST);
}

/* "GET / HTTP/1.1\r\n" + k fields + "\r\n" */
static size_t build_fields(char *out, size_t k)
{
	size_t n = (size_t)sprintf(out, "GET / HTTP/1.1\r\n");
	for (size_t i = 0; i < k; i++)
		n += (size_t)sprintf(out + n, "H%zu: v\r\n", i);
	return n + (size_t)sprintf(out + n, "\r\n");
}

static void test_header_count_limit(void **state)
{
	(void)state;
	static char s[4096];
	struct http_request req;
	size_t n = build_fields(s, HTTP_MAX_HEADERS);
	assert_int_equal(parse_n(s, n, &req, TEST_MAX_HEADERS, 0), (int)n);
	assert_int_equal(req.num_headers, HTTP_MAX_HEADERS);
	n = build_fields(s, HTTP_MAX_HEADERS + 1);
	assert_int_equal(parse_n(s, n, &req, TEST_MAX_HEADERS, 0), -ERR_HEADERS_TOO_LARGE);
	/* the caller's smaller array is the limit */
	n = build_fields(s, 3);
	assert_int_equal(parse_n(s, n, &req, 3, 0), (int)n);
	n = build_fields(s, 4);
	assert_int_equal(parse_n(s, n, &req, 3, 0), -ERR_HEADERS_TOO_LARGE);
	/* known while incomplete: the fourth field has started */
	assert_int_equal(parse_n(s, n - 6, &req, 3, 0), -ERR_HEADERS_TOO_LARGE);
	assert_int_equal(parse_n("GET / HTTP/1.0\r\n\r\n", 18, &req, 0, 0), 18);
	assert_int_equal(parse_n("GET / HTTP/1.0\r\nA: b\r\n\r\n", 24, &req, 0, 0),
	                 -ERR_HEADERS_TOO_LARGE);
}

/* ---- incremental property ------------------------------------------------------------------ */

static const char *const good_requests[] = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET /v1/notify HTTP/1.0\r\n\r\n",
    ("\r\n\nPOST /v1/mail?x=%20 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
     "X-Spaces:  \t v v \t\r\nEmpty:\r\n\r\n"),
    "GET / HTTP/1.1\nHost: a\nA: b\n\n",
    "GET / HTTP/1.1\nHost: a\r\n\n",
    "OPTIONS * HTTP/1.1\r\nHost: x\r\nX: \x80\xff\r\n\r\n",
};

static void check_same_request(const struct http_request *a, const struct http_header *ah,
                               const struct http_request *b)
{
	assert_int_equal(a->method_len, b->method_len);
	assert_memory_equal(a->method, b->method, a->method_len);
	assert_int_equal(a->target_len, b->target_len);
	assert_memory_equal(a->target, b->target, a->target_len);
	assert_int_equal(a->minor_version, b->minor_version);
	assert_int_equal(a->num_headers, b->num_headers);
	for (size_t i = 0; i < a->num_headers; i++) {
		assert_int_equal(ah[i].name_len, b->headers[i].name_len);
		assert_memory_equal(ah[i].name, b->headers[i].name, ah[i].name_len);
		assert_int_equal(ah[i].value_len, b->headers[i].value_len);
		assert_memory_equal(ah[i].value, b->headers[i].value, ah[i].value_len);
	}
}

static void test_every_prefix(void **state)
{
	(void)state;
	static char copy[1024];
	static struct http_header whole_h[TEST_MAX_HEADERS];
	for (size_t t = 0; t < sizeof good_requests / sizeof good_requests[0]; t++) {
		const char *s = good_requests[t];
		size_t n = strlen(s);
		struct http_request whole, req;
		memcpy(copy, s, n);
		assert_int_equal(http_request_parse(copy, n, &whole, whole_h, TEST_MAX_HEADERS, 0),
		                 (int)n);
		for (size_t k = 0; k < n; k++)
			assert_int_equal(parse_n(s, k, &req, TEST_MAX_HEADERS, 0), -ERR_PARTIAL);
		assert_int_equal(parse_n(s, n, &req, TEST_MAX_HEADERS, 0), (int)n);
		check_same_request(&whole, whole_h, &req);
	}
}

/* Feeds growing prefixes with last_len set to the previous length, in steps of `step`; every
 * prefix must be partial (or, for a malformed input, already the final error). */
static void feed_last_len(const char *s, size_t n, size_t step, int want)
{
	struct http_request req;
	size_t last = 0;
	for (size_t k = step < n ? step : n;; k = k + step < n ? k + step : n) {
		int r = parse_n(s, k, &req, TEST_MAX_HEADERS, last);
		if (k == n) {
			if (r != want)
				fail_msg("step %zu: full input gave %d, want %d", step, r, want);
			return;
		}
		if (r == want && want < 0)
			return; /* an error may be reported before the input is complete */
		if (r != -ERR_PARTIAL)
			fail_msg("step %zu: prefix %zu gave %d", step, k, r);
		last = k;
	}
}

static void test_every_prefix_last_len(void **state)
{
	(void)state;
	for (size_t t = 0; t < sizeof good_requests / sizeof good_requests[0]; t++) {
		const char *s = good_requests[t];
		size_t n = strlen(s);
		for (size_t step = 1; step <= 7; step++)
			feed_last_len(s, n, step, (int)n);
	}
}

/* With last_len, a malformed prefix is reported once the block completes. */
static void test_last_len_defers_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "GE@T / HTTP/1.1\r\nHost: a\r\n\r\n",   "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost : a\r\n\r\n",   "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n",
	    "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
	};
	for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
		size_t n = strlen(bad[t]);
		for (size_t step = 1; step <= 5; step++)
			feed_last_len(bad[t], n, step, -ERR_BAD_REQUEST);
	}
	/* pinned: the fast path does not re-read the prefix while no blank line arrived */
	struct http_request req;
	assert_int_equal(parse_n("GE@T / HTTP/1.1\r\n", 17, &req, TEST_MAX_HEADERS, 16),
	                 -ERR_PARTIAL);
	assert_int_equal(parse_n("GE@T / HTTP/1.1\r\n", 17, &req, TEST_MAX_HEADERS, 0),
	                 -ERR_BAD_REQUEST);
}

/* Every prefix of a malformed request is either partial or the final error. */
static void test_bad_prefixes_consistent(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "GET / HTTP/1.1\r\nHost: a\r\nA: b\rX\r\n\r\n",
	    "GET /\x01 HTTP/1.1\r\n\r\n",
	    "GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n",
	};
	struct http_request req;
	for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
		size_t n = strlen(bad[t]);
		for (size_t k = 0; k <= n; k++) {
			int r = parse_n(bad[t], k, &req, TEST_MAX_HEADERS, 0);
			assert_true(r == -ERR_PARTIAL || r == -ERR_BAD_REQUEST);
		}
		assert_int_equal(parse_n(bad[t], n, &req, TEST_MAX_HEADERS, 0), -ERR_BAD_REQUEST);
	}
}

/* ---- header lookup ------------------------------------------------------------------------- */

static void test_header_find(void **state)
{
	(void)state;
	struct http_request req;
	const char *s = "GET / HTTP/1.1\r\nHost: a\r\nX-Key: one\r\nx-key: two\r\n\r\n";
	assert_int_equal(parse(s, &req), (int)strlen(s));
	const struct http_header *h = http_header_find(&req, "X-KEY");
	assert_non_null(h);
	assert_span(h->value, h->value_len, "one");
	assert_ptr_equal(http_header_find(&req, "host"), &req.headers[0]);
	assert_null(http_header_find(&req, "Hos"));
	assert_null(http_header_find(&req, "Hostx"));
	assert_null(http_header_find(&req, "X-Key2"));
}

static void test_token_eq(void **state)
{
	(void)state;
	assert_true(http_token_eq("Chunked", 7, "chunked"));
	assert_true(http_token_eq("CHUNKED", 7, "chunked"));
	assert_true(http_token_eq("", 0, ""));
	assert_false(http_token_eq("chunke", 6, "chunked"));
	assert_false(http_token_eq("chunkedx", 8, "chunked"));
	assert_false(http_token_eq("chunked", 7, ""));
	assert_false(http_token_eq("@", 1, "`")); /* 0x40/0x60 are not letters */
	assert_true(http_token_eq("chunked, x", 7, "chunked"));
}

/* ---- framing ------------------------------------------------------------------------------- */

/* Parses `s` (which must parse) and returns http_request_framing()'s result. */
static int framing(const char *s, struct http_framing *f)
{
	struct http_request req;
	int r = parse(s, &req);
	if (r <= 0)
		fail_msg("framing input does not parse (%d): %s", r, s);
	f->body = (enum http_body_kind)99;
	f->content_length = 77;
	f->keep_alive = 55;
	f->expect_continue = 66;
	r = http_request_framing(&req, f);
	if (r < 0) /* f must be untouched */
		assert_true(f->body == (enum http_body_kind)99 && f->content_length == 77 &&
		            f->keep_alive == 55 && f->expect_continue == 66);
	return r;
}

static void expect_framing(const char *s, int want)
{
	struct http_framing f;
	int got = framing(s, &f);
	if (got != want)
		fail_msg("framing(\"%s\") = %d, want %d", s, got, want);
}

static void test_framing_none(void **state)
{
	(void)state;
	struct http_framing f;
	assert_int_equal(framing("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &f), 0);
	assert_int_equal(f.body, HTTP_BODY_NONE);
	assert_int_equal(f.content_length, 0);
	assert_int_equal(f.keep_alive, 1);
	assert_int_equal(f.expect_continue, 0);
}

static void test_framing_content_length(void **state)
{
	(void)state;
	struct http_framing f;
	assert_int_equal(framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n", &f),
	                 0);
	assert_int_equal(f.body, HTTP_BODY_LENGTH);
	assert_int_equal(f.content_length, 42);
	assert_int_equal(framing("POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 0\r\n\r\n", &f), 0);
	assert_int_equal(f.body, HTTP_BODY_LENGTH);
	assert_int_equal(f.content_length, 0);
	assert_int_equal(framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n", &f),
	                 0);
	assert_int_equal(f.content_length, 7);
	assert_int_equal(framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
	                         "18446744073709551615\r\n\r\n",
	                         &f),
	                 0);
	assert_true(f.content_length == UINT64_MAX);
	/* equal values in a list or in several fields */
	assert_int_equal(framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", &f),
	                 0);
	assert_int_equal(f.content_length, 5);
	assert_int_equal(
	    framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,5 ,\t05\r\n\r\n", &f), 0);
	assert_int_equal(f.content_length, 5);
	assert_int_equal(framing("POST / HTTP/1.1\r\nContent-Length: 5\r\nHost: a\r\n"
	                         "Content-Length: 5\r\n\r\n",
	                         &f),
	                 0);
	assert_int_equal(f.content_length, 5);
}

static void test_framing_bad_length(void **state)
{
	(void)state;
	static const char *const values[] = {
	    "-1",
	    "+5",
	    "5a",
	    "0x10",
	    "5 5",
	    "5,",
	    ",5",
	    "5,,5",
	    "5, 6",
	    "1.0",
	    "18446744073709551616",
	    "99999999999999999999",
	    "",
	};
	char s[256];
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
		snprintf(s, sizeof s, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %s\r\n\r\n",
		         values[i]);
		expect_framing(s, -ERR_BAD_FRAMING);
	}
	expect_framing(
	    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	    -ERR_BAD_FRAMING);
	expect_framing("POST / HTTP/1.0\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	               -ERR_BAD_FRAMING);
}

static void test_framing_chunked(void **state)
{
	(void)state;
	struct http_framing f;
	assert_int_equal(
	    framing("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", &f), 0);
	assert_int_equal(f.body, HTTP_BODY_CHUNKED);
	assert_int_equal(
	    framing("POST / HTTP/1.1\r\nHost: a\r\ntransfer-encoding:  Chunked \r\n\r\n", &f), 0);
	assert_int_equal(f.body, HTTP_BODY_CHUNKED);
	static const char *const codings[] = {
	    "gzip, chunked", "gzip", "chunked, chunked", "chunked;q=1", "", "identity", "chunkedx"};
	char s[256];
	for (size_t i = 0; i < sizeof codings / sizeof codings[0]; i++) {
		snprintf(s, sizeof s, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: %s\r\n\r\n",
		         codings[i]);
		expect_framing(s, -ERR_NOT_IMPLEMENTED);
	}
	expect_framing("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	               "Transfer-Encoding: chunked\r\n\r\n",
	               -ERR_NOT_IMPLEMENTED);
	expect_framing("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
	               "Transfer-Encoding: chunked\r\n\r\n",
	               -ERR_NOT_IMPLEMENTED);
}

static void test_framing_conflicts(void **state)
{
	(void)state;
	/* CL + TE, in both orders, whatever the TE value */
	expect_framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	               "Transfer-Encoding: chunked\r\n\r\n",
	               -ERR_BAD_FRAMING);
	expect_framing("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	               "Content-Length: 5\r\n\r\n",
	               -ERR_BAD_FRAMING);
	expect_framing("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
	               "Content-Length: 5\r\n\r\n",
	               -ERR_BAD_FRAMING);
	expect_framing("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	               "Content-Length: x\r\n\r\n",
	               -ERR_BAD_FRAMING);
	/* TE in HTTP/1.0, whatever its value */
	expect_framing("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", -ERR_BAD_FRAMING);
	expect_framing("POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
	               -ERR_BAD_FRAMING);
}

static void test_framing_host(void **state)
{
	(void)state;
	struct http_framing f;
	expect_framing("GET / HTTP/1.1\r\n\r\n", -ERR_HOST_MISSING);
	expect_framing("GET / HTTP/1.1\r\nX: a\r\n\r\n", -ERR_HOST_MISSING);
	expect_framing("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", -ERR_HOST_MISSING);
	expect_framing("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", -ERR_HOST_MISSING);
	assert_int_equal(framing("GET / HTTP/1.1\r\nHOST: a\r\n\r\n", &f), 0);
	assert_int_equal(framing("GET / HTTP/1.1\r\nHost:\r\n\r\n", &f), 0); /* empty is allowed */
	assert_int_equal(framing("GET / HTTP/1.0\r\n\r\n", &f), 0);
	assert_int_equal(framing("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", &f), 0);
}

/* Decision pinned: framing, then Host, then Expect; the first failure wins. */
static void test_framing_order(void **state)
{
	(void)state;
	expect_framing("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", -ERR_BAD_FRAMING);
	expect_framing("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", -ERR_NOT_IMPLEMENTED);
	expect_framing("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
	               -ERR_BAD_FRAMING);
	expect_framing("POST / HTTP/1.1\r\nExpect: nope\r\n\r\n", -ERR_HOST_MISSING);
	expect_framing("POST / HTTP/1.1\r\nHost: a\r\nExpect: nope\r\nContent-Length: -1\r\n\r\n",
	               -ERR_BAD_FRAMING);
	expect_framing(
	    "POST / HTTP/1.1\r\nHost: a\r\nExpect: nope\r\nTransfer-Encoding: br\r\n\r\n",
	    -ERR_NOT_IMPLEMENTED);
}

static int keep_alive_of(const char *s)
{
	struct http_framing f;
	assert_int_equal(framing(s, &f), 0);
	return f.keep_alive;
}

static void test_framing_connection(void **state)
{
	(void)state;
	assert_int_equal(keep_alive_of("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 1);
	assert_int_equal(keep_alive_of("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"),
	                 0);
	assert_int_equal(keep_alive_of("GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n"),
	                 0);
	assert_int_equal(
	    keep_alive_of("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n"), 0);
	assert_int_equal(
	    keep_alive_of("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo,\t Close ,bar\r\n\r\n"), 0);
	assert_int_equal(
	    keep_alive_of(
	        "GET / HTTP/1.1\r\nHost: a\r\nConnection: x\r\nConnection: close\r\n\r\n"),
	    0);
	assert_int_equal(keep_alive_of("GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n"),
	                 1);
	assert_int_equal(keep_alive_of("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n"),
	                 1);
	assert_int_equal(keep_alive_of("GET / HTTP/1.1\r\nHost: a\r\nConnection:\r\n\r\n"), 1);
	assert_int_equal(keep_alive_of("GET / HTTP/1.1\r\nHost: a\r\nX-Connection: close\r\n\r\n"),
	                 1);
	assert_int_equal(keep_alive_of("GET / HTTP/1.0\r\n\r\n"), 0);
	assert_int_equal(keep_alive_of("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 1);
	assert_int_equal(keep_alive_of("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), 1);
	assert_int_equal(keep_alive_of("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"),
	                 0);
	assert_int_equal(
	    keep_alive_of("GET / HTTP/1.0\r\nConnection: foo\r\nConnection: keep-alive\r\n\r\n"),
	    1);
	assert_int_equal(keep_alive_of("GET / HTTP/1.0\r\nConnection: keep-alivex\r\n\r\n"), 0);
}

static void test_framing_expect(void **state)
{
	(void)state;
	struct http_framing f;
	assert_int_equal(framing("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
	                         "Content-Length: 3\r\n\r\n",
	                         &f),
	                 0);
	assert_int_equal(f.expect_continue, 1);
	assert_int_equal(f.body, HTTP_BODY_LENGTH);
	assert_int_equal(framing("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n", &f),
	                 0);
	assert_int_equal(f.expect_continue, 1);
	/* as the contract is written, HTTP/1.0 too (see the report: RFC 9110 10.1.1) */
	assert_int_equal(framing("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", &f), 0);
	assert_int_equal(f.expect_continue, 1);
	expect_framing("POST / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\n\r\n", -ERR_EXPECTATION);
	expect_framing("POST / HTTP/1.1\r\nHost: a\r\nExpect:\r\n\r\n", -ERR_EXPECTATION);
	expect_framing("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, foo\r\n\r\n",
	               -ERR_EXPECTATION);
	expect_framing("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nExpect: x\r\n\r\n",
	               -ERR_EXPECTATION);
	expect_framing("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", -ERR_EXPECTATION);
}

/* ---- chunked decoder ----------------------------------------------------------------------- */

/* Maximum decoded bytes / leftover bytes a test body produces. */
#define DEC_OUT_MAX 16384

struct dec {
	int rc; /* last result: -ERR_PARTIAL, -ERR_BAD_CHUNK or the leftover count */
	char out[DEC_OUT_MAX];
	size_t out_len;
	char rest[DEC_OUT_MAX]; /* leftover of the final call + the bytes never fed */
	size_t rest_len;
	uint64_t total;
	size_t calls;
};

/*
 * Decodes raw[0..n) in pieces: the first of `first` bytes (0: none), the others of `step`
 * bytes (0: all the rest at once). Stops at the first result other than -ERR_PARTIAL.
 */
static void decode_pieces(const char *raw, size_t n, size_t first, size_t step, struct dec *r)
{
	struct http_chunked d;
	memset(&d, 0, sizeof d); /* a zeroed state must work like http_chunked_init() */
	memset(r, 0, sizeof *r);
	r->rc = -ERR_PARTIAL;
	size_t off = 0;
	while (off < n || r->calls == 0) {
		size_t k = r->calls == 0 && first > 0 ? first : (step ? step : n - off);
		if (k > n - off)
			k = n - off;
		char *p = guarded(raw + off, k);
		size_t len = k;
		r->rc = http_chunked_decode(&d, p, &len);
		r->calls++;
		off += k;
		if (r->rc == -ERR_BAD_CHUNK) {
			assert_int_equal(len, 0);
			break;
		}
		assert_true(len <= k);
		assert_true(r->out_len + len <= sizeof r->out);
		memcpy(r->out + r->out_len, p, len);
		r->out_len += len;
		if (r->rc >= 0) {
			assert_true(len + (size_t)r->rc <= k);
			memcpy(r->rest, p + len, (size_t)r->rc);
			memcpy(r->rest + r->rc, raw + off, n - off);
			r->rest_len = (size_t)r->rc + n - off;
			break;
		}
		assert_int_equal(r->rc, -ERR_PARTIAL);
	}
	r->total = d.total;
}

static void dec_same(const struct dec *a, const struct dec *b, const char *what, size_t at)
{
	if (a->rc < 0 || b->rc < 0) {
		if (a->rc != b->rc)
			fail_msg("%s %zu: rc %d vs %d", what, at, a->rc, b->rc);
		if (a->rc == -ERR_BAD_CHUNK)
			return;
	}
	if (a->out_len != b->out_len || memcmp(a->out, b->out, a->out_len) != 0)
		fail_msg("%s %zu: decoded data differs", what, at);
	if (a->rc >= 0 &&
	    (a->rest_len != b->rest_len || memcmp(a->rest, b->rest, a->rest_len) != 0))
		fail_msg("%s %zu: leftover differs", what, at);
	if (a->total != b->total)
		fail_msg("%s %zu: total differs", what, at);
}

/* Whole, byte by byte, and every two-piece split give the same result; returns the whole one. */
static void decode_all_ways(const char *raw, size_t n, struct dec *whole)
{
	static struct dec other;
	decode_pieces(raw, n, 0, 0, whole);
	decode_pieces(raw, n, 0, 1, &other);
	dec_same(whole, &other, "byte-by-byte", 0);
	for (size_t cut = 1; cut < n; cut++) {
		decode_pieces(raw, n, cut, 0, &other);
		dec_same(whole, &other, "split", cut);
		decode_pieces(raw, n, cut, 3, &other);
		dec_same(whole, &other, "split+3", cut);
	}
}

static struct dec dres;

static void expect_chunked(const char *raw, int rc, const char *out, const char *rest)
{
	size_t n = strlen(raw);
	decode_all_ways(raw, n, &dres);
	if (dres.rc != rc)
		fail_msg("chunked \"%s\": rc %d, want %d", raw, dres.rc, rc);
	if (out != NULL) {
		assert_int_equal(dres.out_len, strlen(out));
		assert_memory_equal(dres.out, out, dres.out_len);
		assert_int_equal(dres.total, strlen(out));
	}
	if (rest != NULL) {
		assert_int_equal(dres.rest_len, strlen(rest));
		assert_memory_equal(dres.rest, rest, dres.rest_len);
	}
}

static void test_chunked_basic(void **state)
{
	(void)state;
	expect_chunked("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 0, "hello world", "");
	expect_chunked("0\r\n\r\n", 0, "", "");
	expect_chunked("5\nhello\n0\n\n", 0, "hello", "");
	expect_chunked("5\r\nhello\n0\r\n\n", 0, "hello", "");
	expect_chunked("A\r\n0123456789\r\na\r\nabcdefghij\r\n0\r\n\r\n", 0, "0123456789abcdefghij",
	               "");
	expect_chunked("000005\r\nhello\r\n000\r\n\r\n", 0, "hello", "");
	expect_chunked("0000000000000000000000000000005\r\nhello\r\n0\r\n\r\n", 0, "hello", "");
	expect_chunked("3\r\n\r\n\n\r\n0\r\n\r\n", 0, "\r\n\n", ""); /* data is opaque */
}

static void test_chunked_partial(void **state)
{
	(void)state;
	expect_chunked("", -ERR_PARTIAL, "", NULL);
	expect_chunked("5\r\nhel", -ERR_PARTIAL, "hel", NULL);
	expect_chunked("5\r\nhello\r\n0\r\n", -ERR_PARTIAL, "hello", NULL);
	expect_chunked("5\r\nhello\r\n0\r\nX: y\r\n", -ERR_PARTIAL, "hello", NULL);
	expect_chunked("5\r\nhello\r\n0\r\n\r", -ERR_PARTIAL, "hello", NULL);
	/* a huge chunk: total counts what arrived */
	expect_chunked("ffffffffffffffff\r\nabc", -ERR_PARTIAL, "abc", NULL);
}

static void test_chunked_extensions(void **state)
{
	(void)state;
	expect_chunked("5;name=value\r\nhello\r\n0\r\n\r\n", 0, "hello", "");
	expect_chunked("5 ; a = \"q;x\" ;b\r\nhello\r\n0;last\r\n\r\n", 0, "hello", "");
	expect_chunked("5\t;a\tb\r\nhello\r\n0\r\n\r\n", 0, "hello", "");
	expect_chunked("5;\xff\x80\r\nhello\r\n0\r\n\r\n", 0, "hello", "");
	expect_chunked("5;a\x01\r\nhello\r\n0\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
	expect_chunked("5;a\x7f\r\nhello\r\n0\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
	expect_chunked("5;a\rb\r\nhello\r\n0\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
	/* decision pinned: BWS is only allowed before ';', not before the line end */
	expect_chunked("5 \r\nhello\r\n0\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
	expect_chunked("5 x\r\nhello\r\n0\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
}

static void test_chunked_trailers(void **state)
{
	(void)state;
	expect_chunked("5\r\nhello\r\n0\r\nX-A: b\r\nY:c\r\n\r\n", 0, "hello", "");
	expect_chunked("5\r\nhello\r\n0\nX-A: b\n\n", 0, "hello", "");
	expect_chunked("0\r\nX: \xff\t\r\n\r\n", 0, "", "");
	expect_chunked("0\r\n X: b\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
	expect_chunked("0\r\nX: b\r\n\tc\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
	expect_chunked("0\r\nnocolon\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
	expect_chunked("0\r\n: v\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
	expect_chunked("0\r\nX : v\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
	expect_chunked("0\r\nX: a\x01\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
	expect_chunked("0\r\nX: a\rb\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
	expect_chunked("0\r\n\rX", -ERR_BAD_CHUNK, NULL, NULL);
}

/* "0\r\n" + trailer section of exactly `bytes` bytes ("X: ppp..\r\n\r\n") + "NEXT". */
static size_t build_trailer(char *out, size_t bytes)
{
	memcpy(out, "0\r\nX: ", 6);
	memset(out + 6, 'p', bytes - 3 - 4);
	memcpy(out + 3 + bytes - 4, "\r\n\r\nNEXT", 8);
	return 3 + bytes + 4;
}

static void test_chunked_trailer_limit(void **state)
{
	(void)state;
	static char raw[HTTP_MAX_HEADER_BYTES + 64];
	size_t n = build_trailer(raw, HTTP_MAX_HEADER_BYTES);
	decode_pieces(raw, n, 0, 0, &dres);
	assert_int_equal(dres.rc, 4);
	assert_memory_equal(dres.rest, "NEXT", 4);
	decode_pieces(raw, n, 0, 1, &dres);
	assert_int_equal(dres.rc, 0);
	assert_int_equal(dres.rest_len, 4);
	n = build_trailer(raw, HTTP_MAX_HEADER_BYTES + 1);
	decode_pieces(raw, n, 0, 0, &dres);
	assert_int_equal(dres.rc, -ERR_BAD_CHUNK);
	decode_pieces(raw, n, 0, 7, &dres);
	assert_int_equal(dres.rc, -ERR_BAD_CHUNK);
}

static void test_chunked_bad_size(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "g\r\n",
	    "\r\n",
	    "\n",
	    "-1\r\n",
	    "+1\r\n",
	    "0x5\r\n",
	    " 5\r\n",
	    ";a\r\n",
	    "5\rX",
	    "5\r\r\n",
	    "5:\r\n",
	    "5\x01\r\n",
	    "10000000000000000\r\n",
	    "fffffffffffffffff\r\n",
	    "1000000000000000000000000000000\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_chunked(bad[i], -ERR_BAD_CHUNK, NULL, NULL);
	/* the largest size fits */
	expect_chunked("ffffffffffffffff\r\n", -ERR_PARTIAL, "", NULL);
	expect_chunked("0000000000000000ffffffffffffffff\r\n", -ERR_PARTIAL, "", NULL);
}

static void test_chunked_data_end(void **state)
{
	(void)state;
	expect_chunked("5\r\nhelloX\r\n0\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
	expect_chunked("5\r\nhello\rX0\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
	expect_chunked("5\r\nhello\r\r\n0\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
	expect_chunked("5\r\nhello0\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
	expect_chunked("5\r\nhello world\r\n0\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL);
	expect_chunked("5\r\nhel\r\n0\r\n\r\n", -ERR_BAD_CHUNK, NULL, NULL); /* short chunk */
	expect_chunked("5\r\nhell\r\n0\r\n\r\n", 0, "hell\r", ""); /* CR is data, LF ends it */
}

static void test_chunked_leftover(void **state)
{
	(void)state;
	const char *next = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
	char raw[256];
	snprintf(raw, sizeof raw, "5\r\nhello\r\n0\r\nT: x\r\n\r\n%s", next);
	expect_chunked(raw, (int)strlen(next), "hello", next);
	/* the leftover lands right after the decoded data */
	char buf[256];
	size_t len = strlen(raw);
	memcpy(buf, raw, len);
	struct http_chunked d;
	http_chunked_init(&d);
	int rc = http_chunked_decode(&d, buf, &len);
	assert_int_equal(rc, (int)strlen(next));
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_memory_equal(buf + 5, next, strlen(next));
	/* after completion everything is leftover */
	memcpy(buf, "abc", 3);
	len = 3;
	assert_int_equal(http_chunked_decode(&d, buf, &len), 3);
	assert_int_equal(len, 0);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(d.total, 5);
}

static void test_chunked_sticky_error(void **state)
{
	(void)state;
	struct http_chunked d;
	http_chunked_init(&d);
	char buf[32];
	size_t len = 4;
	memcpy(buf, "z\r\n\n", 4);
	assert_int_equal(http_chunked_decode(&d, buf, &len), -ERR_BAD_CHUNK);
	assert_int_equal(len, 0);
	memcpy(buf, "0\r\n\r\n", 5);
	len = 5;
	assert_int_equal(http_chunked_decode(&d, buf, &len), -ERR_BAD_CHUNK);
	assert_int_equal(len, 0);
}

/* A size line whose content (before CRLF) is exactly `content` bytes: "5;xxx..". */
static size_t build_size_line(char *out, size_t content)
{
	out[0] = '5';
	out[1] = ';';
	memset(out + 2, 'x', content - 2);
	memcpy(out + content, "\r\nhello\r\n0\r\n\r\n", 14);
	return content + 14;
}

static void test_chunked_line_limit(void **state)
{
	(void)state;
	char raw[HTTP_MAX_CHUNK_LINE + 64];
	size_t n = build_size_line(raw, HTTP_MAX_CHUNK_LINE);
	raw[n] = '\0';
	expect_chunked(raw, 0, "hello", "");
	n = build_size_line(raw, HTTP_MAX_CHUNK_LINE + 1);
	raw[n] = '\0';
	expect_chunked(raw, -ERR_BAD_CHUNK, NULL, NULL);
	/* leading zeros count too */
	memset(raw, '0', HTTP_MAX_CHUNK_LINE + 1);
	memcpy(raw + HTTP_MAX_CHUNK_LINE + 1, "\r\n\r\n", 5);
	expect_chunked(raw, -ERR_BAD_CHUNK, NULL, NULL);
	memcpy(raw + HTTP_MAX_CHUNK_LINE, "\r\n\r\n", 5);
	expect_chunked(raw, 0, "", "");
	/* the limit is per line: many lines near it are fine */
	static char many[8 * (HTTP_MAX_CHUNK_LINE + 16)];
	size_t m = 0;
	for (int i = 0; i < 8; i++)
		m += build_size_line(many + m, HTTP_MAX_CHUNK_LINE) - 5; /* drop "0\r\n\r\n" */
	memcpy(many + m, "0\r\n\r\n", 6);
	expect_chunked(many, 0, "hellohellohellohellohellohellohellohello", "");
}

static void test_chunked_total(void **state)
{
	(void)state;
	struct http_chunked d;
	http_chunked_init(&d);
	char buf[64];
	size_t len = 8;
	memcpy(buf, "a\r\n01234", 8);
	assert_int_equal(http_chunked_decode(&d, buf, &len), -ERR_PARTIAL);
	assert_int_equal(len, 5);
	assert_int_equal(d.total, 5);
	assert_int_equal(d.remaining, 5);
	len = 0;
	assert_int_equal(http_chunked_decode(&d, buf, &len), -ERR_PARTIAL);
	assert_int_equal(len, 0);
	memcpy(buf, "56789\r\n3\r\nabc\r\n0\r\n\r\n", 20);
	len = 20;
	assert_int_equal(http_chunked_decode(&d, buf, &len), 0);
	assert_int_equal(len, 8);
	assert_memory_equal(buf, "56789abc", 8);
	assert_int_equal(d.total, 13);
}

/* ---- responses ----------------------------------------------------------------------------- */

static void test_reason(void **state)
{
	(void)state;
	static const struct {
		int status;
		const char *text;
	} want[] = {
	    {100, "Continue"},
	    {200, "OK"},
	    {201, "Created"},
	    {202, "Accepted"},
	    {204, "No Content"},
	    {301, "Moved Permanently"},
	    {304, "Not Modified"},
	    {400, "Bad Request"},
	    {401, "Unauthorized"},
	    {403, "Forbidden"},
	    {404, "Not Found"},
	    {405, "Method Not Allowed"},
	    {408, "Request Timeout"},
	    {409, "Conflict"},
	    {411, "Length Required"},
	    {413, "Content Too Large"},
	    {414, "URI Too Long"},
	    {415, "Unsupported Media Type"},
	    {417, "Expectation Failed"},
	    {422, "Unprocessable Content"},
	    {429, "Too Many Requests"},
	    {431, "Request Header Fields Too Large"},
	    {500, "Internal Server Error"},
	    {501, "Not Implemented"},
	    {502, "Bad Gateway"},
	    {503, "Service Unavailable"},
	    {504, "Gateway Timeout"},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		assert_string_equal(http_reason(want[i].status), want[i].text);
	assert_string_equal(http_reason(0), "Unknown");
	assert_string_equal(http_reason(-200), "Unknown");
	assert_string_equal(http_reason(299), "Unknown");
	assert_string_equal(http_reason(999), "Unknown");
	/* every error of err.h that has a status has a reason */
	for (int e = 0; e < ERR_COUNT; e++) {
		int st = err_http_status(e);
		if (st != 0)
			assert_string_not_equal(http_reason(st), "Unknown");
	}
}

static void expect_head(int status, const char *ct, uint64_t cl, int ka, const char *want)
{
	char mem[256];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	http_response_head(&b, status, ct, cl, ka);
	assert_int_equal(buf_finish(&b), 0);
	if (b.len != strlen(want) || memcmp(mem, want, b.len) != 0)
		fail_msg("head: got \"%.*s\"", (int)b.len, mem);
}

static void test_response_head(void **state)
{
	(void)state;
	expect_head(202, "application/json", 17, 1,
	            "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
	            "Content-Length: 17\r\n");
	expect_head(400, "application/problem+json", 0, 0,
	            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json\r\n"
	            "Content-Length: 0\r\nConnection: close\r\n");
	expect_head(204, NULL, 0, 1, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n");
	expect_head(431, NULL, UINT64_MAX, 0,
	            "HTTP/1.1 431 Request Header Fields Too Large\r\n"
	            "Content-Length: 18446744073709551615\r\nConnection: close\r\n");
	expect_head(299, NULL, 1, 1, "HTTP/1.1 299 Unknown\r\nContent-Length: 1\r\n");
}

static void test_response_head_overflow(void **state)
{
	(void)state;
	char mem[10];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	http_response_head(&b, 200, "text/plain", 5, 1);
	assert_int_equal(buf_finish(&b), -ERR_OVERFLOW);
	assert_memory_equal(mem, "HTTP/1.1 2", 10);
}

/* ==== client side ============================================================================ */

/* ---- response parse helpers ---------------------------------------------------------------- */

static int rparse_n(const char *s, size_t n, struct http_response *res, size_t max_headers,
                    size_t last_len)
{
	return http_response_parse(guarded(s, n), n, res, hdrs, max_headers, last_len);
}

static int rparse(const char *s, struct http_response *res)
{
	return rparse_n(s, strlen(s), res, TEST_MAX_HEADERS, 0);
}

static void expect_rparse(const char *s, int want)
{
	struct http_response res;
	int got = rparse(s, &res);
	if (got != want)
		fail_msg("rparse(\"%s\") = %d, want %d", s, got, want);
}

/* Value of the first field `name` of res, which must be present. */
static void assert_field(const struct http_response *res, const char *name, const char *want)
{
	const struct http_header *h = http_response_header_find(res, name);
	if (h == NULL)
		fail_msg("no %s field", name);
	if (!span_eq(h->value, h->value_len, want))
		fail_msg("%s: \"%.*s\", want \"%s\"", name, (int)h->value_len, h->value, want);
}

/* Realistic ACS / managed-identity responses (header blocks only unless said otherwise). */
static const char acs_202[] =
    "HTTP/1.1 202 Accepted\r\n"
    "Content-Length: 77\r\n"
    "Content-Type: application/json; charset=utf-8\r\n"
    "Operation-Location: https://contoso.unitedstates.communication.azure.com/emails/"
    "operations/fffea455-9149-4017-8c7c-06282cf005af?api-version=2025-09-01\r\n"
    "Retry-After: 30\r\n"
    "mise-correlation-id: 4b1d0c1e-2f5d-4a43-9f3e-0d3f6c7b2a11\r\n"
    "X-Azure-Ref: 0mB9nZAAAAAB1c2Vhc3QyLWF6MDA3\r\n"
    "X-Cache: CONFIG_NOCACHE\r\n"
    "Date: Tue, 01 Dec 2026 10:00:00 GMT\r\n"
    "\r\n";
static const char acs_202_body[] =
    "{\"id\":\"fffea455-9149-4017-8c7c-06282cf005af\",\"status\":\"Running\",\"error\":null}";

static const char msi_200_chunked[] = "HTTP/1.1 200 OK\r\n"
                                      "Content-Type: application/json; charset=utf-8\r\n"
                                      "Date: Tue, 01 Dec 2026 10:00:00 GMT\r\n"
                                      "Server: Kestrel\r\n"
                                      "Transfer-Encoding: chunked\r\n"
                                      "\r\n"
                                      "1b\r\n{\"access_token\":\"eyJ0eXAi\",\r\n"
                                      "16\r\n\"token_type\":\"Bearer\"}\r\n"
                                      "0\r\n\r\n";

static const char acs_429[] = "HTTP/1.1 429 Too Many Requests\r\n"
                              "Content-Type: application/json\r\n"
                              "Content-Length: 79\r\n"
                              "Retry-After: 3600\r\n"
                              "x-ms-error-code: TooManyRequests\r\n"
                              "\r\n";

/* ---- valid responses ----------------------------------------------------------------------- */

static void test_resp_202_send(void **state)
{
	(void)state;
	char s[1024];
	size_t hl = strlen(acs_202), bl = strlen(acs_202_body);
	memcpy(s, acs_202, hl);
	memcpy(s + hl, acs_202_body, bl);
	struct http_response res;
	assert_int_equal(rparse_n(s, hl + bl, &res, TEST_MAX_HEADERS, 0), (int)hl);
	assert_int_equal(res.minor_version, 1);
	assert_int_equal(res.status, 202);
	assert_span(res.reason, res.reason_len, "Accepted");
	assert_ptr_equal(res.headers, hdrs);
	assert_int_equal(res.num_headers, 8);
	assert_field(&res, "operation-location",
	             "https://contoso.unitedstates.communication.azure.com/emails/operations/"
	             "fffea455-9149-4017-8c7c-06282cf005af?api-version=2025-09-01");
	assert_field(&res, "RETRY-AFTER", "30");
	assert_null(http_response_header_find(&res, "x-ms-error-code"));
	struct http_framing f;
	assert_int_equal(http_response_framing(&res, 0, &f), 0);
	assert_int_equal(f.body, HTTP_BODY_LENGTH);
	assert_int_equal(f.content_length, bl);
	assert_int_equal(f.keep_alive, 1);
	assert_int_equal(f.expect_continue, 0);
	int secs = -1;
	assert_int_equal(http_retry_after(&res, 0, &secs), 1);
	assert_int_equal(secs, 30);
}

/* Header block, framing and the chunked decoder together, as the client will use them. */
static void test_resp_200_chunked(void **state)
{
	(void)state;
	static char s[1024];
	size_t n = strlen(msi_200_chunked);
	memcpy(s, msi_200_chunked, n);
	struct http_response res;
	int hl = http_response_parse(s, n, &res, hdrs, TEST_MAX_HEADERS, 0);
	assert_true(hl > 0);
	assert_int_equal(res.status, 200);
	assert_span(res.reason, res.reason_len, "OK");
	struct http_framing f;
	assert_int_equal(http_response_framing(&res, 0, &f), 0);
	assert_int_equal(f.body, HTTP_BODY_CHUNKED);
	assert_int_equal(f.content_length, 0);
	assert_int_equal(f.keep_alive, 1);
	struct http_chunked d;
	http_chunked_init(&d);
	size_t len = n - (size_t)hl;
	assert_int_equal(http_chunked_decode(&d, s + hl, &len), 0);
	const char *json = "{\"access_token\":\"eyJ0eXAi\",\"token_type\":\"Bearer\"}";
	assert_int_equal(len, strlen(json));
	assert_memory_equal(s + hl, json, len);
}

static void test_resp_no_body_statuses(void **state)
{
	(void)state;
	struct http_response res;
	struct http_framing f;
	const char *nc = "HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n";
	assert_int_equal(rparse(nc, &res), (int)strlen(nc));
	assert_int_equal(res.status, 204);
	assert_int_equal(http_response_framing(&res, 0, &f), 0);
	assert_int_equal(f.body, HTTP_BODY_NONE);
	assert_int_equal(f.keep_alive, 1);
	const char *nm = "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nETag: \"a\"\r\n\r\n";
	assert_int_equal(rparse(nm, &res), (int)strlen(nm));
	assert_int_equal(res.status, 304);
	assert_int_equal(http_response_framing(&res, 0, &f), 0);
	assert_int_equal(f.body, HTTP_BODY_NONE);
	assert_int_equal(f.content_length, 0);
	assert_int_equal(f.keep_alive, 1);
}

/* A 100 Continue, then the final answer: the caller parses again after the interim block. */
static void test_resp_100_then_200(void **state)
{
	(void)state;
	const char *s = "HTTP/1.1 100 Continue\r\n\r\n"
	                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
	size_t n = strlen(s);
	char *g = guarded(s, n);
	struct http_response res;
	struct http_framing f;
	int first = http_response_parse(g, n, &res, hdrs, TEST_MAX_HEADERS, 0);
	assert_int_equal(first, 25);
	assert_int_equal(res.status, 100);
	assert_span(res.reason, res.reason_len, "Continue");
	assert_int_equal(res.num_headers, 0);
	assert_int_equal(http_response_framing(&res, 0, &f), 0);
	assert_int_equal(f.body, HTTP_BODY_NONE);
	int second =
	    http_response_parse(g + first, n - (size_t)first, &res, hdrs, TEST_MAX_HEADERS, 0);
	assert_int_equal(second, (int)(n - (size_t)first - 2));
	assert_int_equal(res.status, 200);
	assert_int_equal(http_response_framing(&res, 0, &f), 0);
	assert_int_equal(f.body, HTTP_BODY_LENGTH);
	assert_int_equal(f.content_length, 2);
	/* the interim block alone: complete; the final one not yet there: partial */
	assert_int_equal(http_response_parse(g, 25, &res, hdrs, TEST_MAX_HEADERS, 0), 25);
	assert_int_equal(http_response_parse(g + 25, 10, &res, hdrs, TEST_MAX_HEADERS, 0),
	                 -ERR_PARTIAL);
}

static void test_resp_status_line_forms(void **state)
{
	(void)state;
	struct http_response res;
	/* SP then an empty reason */
	assert_int_equal(rparse("HTTP/1.1 200 \r\n\r\n", &res), 17);
	assert_int_equal(res.status, 200);
	assert_int_equal(res.reason_len, 0);
	/* tolerated: no SP before an empty reason, CRLF or bare LF */
	assert_int_equal(rparse("HTTP/1.1 204\r\n\r\n", &res), 16);
	assert_int_equal(res.status, 204);
	assert_int_equal(res.reason_len, 0);
	assert_int_equal(rparse("HTTP/1.1 204\n\n", &res), 14);
	assert_int_equal(res.reason_len, 0);
	/* the reason is kept as sent: inner and trailing blanks, HTAB, obs-text */
	const char *r = "HTTP/1.1 500 Interne\xc3\xa4 \tFehler \r\n\r\n";
	assert_int_equal(rparse(r, &res), (int)strlen(r));
	assert_span(res.reason, res.reason_len, "Interne\xc3\xa4 \tFehler ");
	/* a reason that does not match the code is informative only */
	assert_int_equal(rparse("HTTP/1.1 404 OK\r\n\r\n", &res), 19);
	assert_int_equal(res.status, 404);
	/* versions and the range edges */
	assert_int_equal(rparse("HTTP/1.0 200 OK\r\n\r\n", &res), 19);
	assert_int_equal(res.minor_version, 0);
	assert_int_equal(rparse("HTTP/1.2 200 OK\r\n\r\n", &res), 19);
	assert_int_equal(res.minor_version, 2);
	assert_int_equal(rparse("HTTP/1.9 100 x\r\n\r\n", &res), 18);
	assert_int_equal(res.status, 100);
	assert_int_equal(rparse("HTTP/1.1 599 x\r\n\r\n", &res), 18);
	assert_int_equal(res.status, 599);
	/* bare LF everywhere, mixed line ends, empty lines before the status line */
	const char *lf = "HTTP/1.1 200 OK\nA: b\nContent-Length: 0\n\n";
	assert_int_equal(rparse(lf, &res), (int)strlen(lf));
	assert_int_equal(res.num_headers, 2);
	const char *mixed = "\r\n\nHTTP/1.1 200 OK\r\nA: b\n\r\n";
	assert_int_equal(rparse(mixed, &res), (int)strlen(mixed));
	assert_int_equal(res.status, 200);
	assert_span(res.headers[0].value, res.headers[0].value_len, "b");
	/* the same field rules as requests: OWS trimmed, empty values, obs-text */
	const char *ows = "HTTP/1.1 200 OK\r\nA: \t a  b \t\r\nB:\r\nC:\xff\r\n\r\n";
	assert_int_equal(rparse(ows, &res), (int)strlen(ows));
	assert_span(res.headers[0].value, res.headers[0].value_len, "a  b");
	assert_int_equal(res.headers[1].value_len, 0);
	assert_span(res.headers[2].value, res.headers[2].value_len, "\xff");
}

/* ---- malformed responses ------------------------------------------------------------------- */

static void test_resp_status_line_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "HTTP/1.1 099 X\r\n\r\n",
	    "HTTP/1.1 000 X\r\n\r\n",
	    "HTTP/1.1 600 X\r\n\r\n",
	    "HTTP/1.1 999 X\r\n\r\n",
	    "HTTP/1.1 20 OK\r\n\r\n",
	    "HTTP/1.1 2000 OK\r\n\r\n",
	    "HTTP/1.1 20a OK\r\n\r\n",
	    "HTTP/1.1 -20 OK\r\n\r\n",
	    "HTTP/1.1 +20 OK\r\n\r\n",
	    "HTTP/1.1  200 OK\r\n\r\n",
	    "HTTP/1.1\t200 OK\r\n\r\n",
	    "HTTP/1.1 200\tOK\r\n\r\n",
	    "HTTP/1.1200 OK\r\n\r\n",
	    "HTTP/1.1 \r\n\r\n",
	    "HTTP/1.1\r\n\r\n",
	    "HTTP/2.0 200 OK\r\n\r\n",
	    "HTTP/2 200 OK\r\n\r\n",
	    "HTTP/1.10 200 OK\r\n\r\n",
	    "HTTP/1.x 200 OK\r\n\r\n",
	    "http/1.1 200 OK\r\n\r\n",
	    "HTTP/1 200 OK\r\n\r\n",
	    "ICY 200 OK\r\n\r\n",
	    " HTTP/1.1 200 OK\r\n\r\n",
	    "\rHTTP/1.1 200 OK\r\n\r\n",
	    "HTTP/1.1 200 O\x01K\r\n\r\n",
	    "HTTP/1.1 200 O\x7fK\r\n\r\n",
	    "HTTP/1.1 200 OK\rX\r\n\r\n",
	    "HTTP/1.1 200 OK\r\r\n\r\n",
	    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_rparse(bad[i], -ERR_BAD_REQUEST);
	/* a NUL in the reason (strlen would stop there) */
	static const char nul[] = "HTTP/1.1 200 O\0K\r\n\r\n";
	struct http_response res;
	assert_int_equal(rparse_n(nul, sizeof nul - 1, &res, TEST_MAX_HEADERS, 0),
	                 -ERR_BAD_REQUEST);
	/* wrong before the line is complete */
	expect_rparse("HTTP/2", -ERR_BAD_REQUEST);
	expect_rparse("HTTP/1.1 6", -ERR_BAD_REQUEST);
	expect_rparse("HTTP/1.1 2000", -ERR_BAD_REQUEST);
	expect_rparse("HTTP/1.1 200", -ERR_PARTIAL);
	expect_rparse("HTTP/1.1 200\r", -ERR_PARTIAL);
}

static void test_resp_header_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "HTTP/1.1 200 OK\r\nA : b\r\n\r\n",      "HTTP/1.1 200 OK\r\nA\t: b\r\n\r\n",
	    "HTTP/1.1 200 OK\r\n: b\r\n\r\n",        "HTTP/1.1 200 OK\r\nA(b: c\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nAb\r\n\r\n",         "HTTP/1.1 200 OK\r\n A: b\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", "HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n",   "HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",    "HTTP/1.1 200 OK\r\nA: b\r\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nA: b\r\n\rX\r\n",    "HTTP/1.1 200 OK\r\nA\xff: b\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_rparse(bad[i], -ERR_BAD_REQUEST);
	static const char nul[] = "HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n";
	struct http_response res;
	assert_int_equal(rparse_n(nul, sizeof nul - 1, &res, TEST_MAX_HEADERS, 0),
	                 -ERR_BAD_REQUEST);
}

/* *res is written only on success. */
static void test_resp_untouched_on_error(void **state)
{
	(void)state;
	struct http_response res;
	memset(&res, 0x5a, sizeof res);
	struct http_response copy = res;
	expect_rparse("HTTP/1.1 200 OK\r\n", -ERR_PARTIAL);
	assert_int_equal(rparse("HTTP/1.1 200 OK\r\n", &res), -ERR_PARTIAL);
	assert_memory_equal(&res, &copy, sizeof res);
	assert_int_equal(rparse("HTTP/1.1 200 OK\r\nA : b\r\n\r\n", &res), -ERR_BAD_REQUEST);
	assert_memory_equal(&res, &copy, sizeof res);
}

/* ---- limits -------------------------------------------------------------------------------- */

/* A response header block of exactly `total` bytes: status line, one padded field, blank line. */
static size_t build_resp_sized(char *out, size_t total)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nX: ";
	size_t n = sizeof head - 1;
	memcpy(out, head, n);
	memset(out + n, 'p', total - n - 4);
	memcpy(out + total - 4, "\r\n\r\n", 4);
	return total;
}

/* "HTTP/1.1 200 OK\r\n" + k fields + "\r\n" */
static size_t build_resp_fields(char *out, size_t k)
{
	size_t n = (size_t)sprintf(out, "HTTP/1.1 200 OK\r\n");
	for (size_t i = 0; i < k; i++)
		n += (size_t)sprintf(out + n, "H%zu: v\r\n", i);
	return n + (size_t)sprintf(out + n, "\r\n");
}

static void test_resp_limits(void **state)
{
	(void)state;
	static char s[HTTP_MAX_HEADER_BYTES + 64];
	struct http_response res;
	const size_t L = HTTP_MAX_HEADER_BYTES;
	size_t n = build_resp_sized(s, L);
	assert_int_equal(rparse_n(s, n, &res, TEST_MAX_HEADERS, 0), (int)L);
	memcpy(s + n, "BODY", 4); /* body bytes after a block at the limit */
	assert_int_equal(rparse_n(s, n + 4, &res, TEST_MAX_HEADERS, 0), (int)L);
	n = build_resp_sized(s, L + 1);
	assert_int_equal(rparse_n(s, n, &res, TEST_MAX_HEADERS, 0), -ERR_HEADERS_TOO_LARGE);
	assert_int_equal(rparse_n(s, n, &res, TEST_MAX_HEADERS, n - 1), -ERR_HEADERS_TOO_LARGE);
	assert_int_equal(rparse_n(s, L, &res, TEST_MAX_HEADERS, 0), -ERR_PARTIAL);
	assert_int_equal(rparse_n(s, L + 1, &res, TEST_MAX_HEADERS, 0), -ERR_HEADERS_TOO_LARGE);
	assert_int_equal(rparse_n(s, L + 1, &res, TEST_MAX_HEADERS, L), -ERR_HEADERS_TOO_LARGE);
	/* a syntax error inside the limit wins over the limit */
	n = build_resp_sized(s, L + 32);
	s[9] = 'x'; /* "HTTP/1.1 x00" */
	assert_int_equal(rparse_n(s, n, &res, TEST_MAX_HEADERS, 0), -ERR_BAD_REQUEST);
	/* empty lines before the status line count towards the limit */
	static const char text[] = "HTTP/1.1 200 OK\r\n\r\n";
	memset(s, '\n', L - (sizeof text - 1));
	memcpy(s + L - (sizeof text - 1), text, sizeof text - 1);
	assert_int_equal(rparse_n(s, L, &res, TEST_MAX_HEADERS, 0), (int)L);
	memset(s, '\n', L + 1 - (sizeof text - 1));
	memcpy(s + L + 1 - (sizeof text - 1), text, sizeof text - 1);
	assert_int_equal(rparse_n(s, L + 1, &res, TEST_MAX_HEADERS, 0), -ERR_HEADERS_TOO_LARGE);
	/* field count: HTTP_MAX_HEADERS, or the caller's smaller array */
	n = build_resp_fields(s, HTTP_MAX_HEADERS);
	assert_int_equal(rparse_n(s, n, &res, TEST_MAX_HEADERS, 0), (int)n);
	assert_int_equal(res.num_headers, HTTP_MAX_HEADERS);
	n = build_resp_fields(s, HTTP_MAX_HEADERS + 1);
	assert_int_equal(rparse_n(s, n, &res, TEST_MAX_HEADERS, 0), -ERR_HEADERS_TOO_LARGE);
	n = build_resp_fields(s, 3);
	assert_int_equal(rparse_n(s, n, &res, 3, 0), (int)n);
	n = build_resp_fields(s, 4);
	assert_int_equal(rparse_n(s, n, &res, 3, 0), -ERR_HEADERS_TOO_LARGE);
	assert_int_equal(rparse_n(s, n - 6, &res, 3, 0), -ERR_HEADERS_TOO_LARGE);
	assert_int_equal(rparse_n("HTTP/1.1 204\r\n\r\n", 16, &res, 0, 0), 16);
	assert_int_equal(rparse_n("HTTP/1.1 200\r\nA: b\r\n\r\n", 22, &res, 0, 0),
	                 -ERR_HEADERS_TOO_LARGE);
}

/* ---- incremental property ------------------------------------------------------------------ */

static const char *const good_responses[] = {
    acs_202,
    acs_429,
    "HTTP/1.1 204\r\n\r\n",
    "HTTP/1.0 200 OK\nA: b\n\n",
    "\r\nHTTP/1.1 200 \r\nX:  v \t\r\nEmpty:\r\n\n",
    "HTTP/1.1 100 Continue\r\n\r\n",
    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: Tue, 01 Dec 2026 10:00:30 GMT\r\n\r\n",
};

static void check_same_response(const struct http_response *a, const struct http_header *ah,
                                const struct http_response *b)
{
	assert_int_equal(a->minor_version, b->minor_version);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->reason_len, b->reason_len);
	assert_memory_equal(a->reason, b->reason, a->reason_len);
	assert_int_equal(a->num_headers, b->num_headers);
	for (size_t i = 0; i < a->num_headers; i++) {
		assert_int_equal(ah[i].name_len, b->headers[i].name_len);
		assert_memory_equal(ah[i].name, b->headers[i].name, ah[i].name_len);
		assert_int_equal(ah[i].value_len, b->headers[i].value_len);
		assert_memory_equal(ah[i].value, b->headers[i].value, ah[i].value_len);
	}
}

/* Every proper prefix is partial; a prefix of k bytes then the whole with last_len = k (the
 * split at every offset) gives the whole-input answer. */
static void test_resp_every_prefix_and_split(void **state)
{
	(void)state;
	static char copy[1024];
	static struct http_header whole_h[TEST_MAX_HEADERS];
	for (size_t t = 0; t < sizeof good_responses / sizeof good_responses[0]; t++) {
		const char *s = good_responses[t];
		size_t n = strlen(s);
		struct http_response whole, res;
		memcpy(copy, s, n);
		assert_int_equal(http_response_parse(copy, n, &whole, whole_h, TEST_MAX_HEADERS, 0),
		                 (int)n);
		for (size_t k = 0; k < n; k++) {
			if (rparse_n(s, k, &res, TEST_MAX_HEADERS, 0) != -ERR_PARTIAL)
				fail_msg("response %zu: prefix %zu not partial", t, k);
			if (k == 0)
				continue;
			assert_int_equal(rparse_n(s, n, &res, TEST_MAX_HEADERS, k), (int)n);
			check_same_response(&whole, whole_h, &res);
		}
	}
}

/* Growing prefixes with last_len = the previous length, in steps of `step`. */
static void rfeed_last_len(const char *s, size_t n, size_t step, int want)
{
	struct http_response res;
	size_t last = 0;
	for (size_t k = step < n ? step : n;; k = k + step < n ? k + step : n) {
		int r = rparse_n(s, k, &res, TEST_MAX_HEADERS, last);
		if (k == n) {
			if (r != want)
				fail_msg("step %zu: full input gave %d, want %d", step, r, want);
			return;
		}
		if (r == want && want < 0)
			return;
		if (r != -ERR_PARTIAL)
			fail_msg("step %zu: prefix %zu gave %d", step, k, r);
		last = k;
	}
}

static void test_resp_feed_last_len(void **state)
{
	(void)state;
	for (size_t t = 0; t < sizeof good_responses / sizeof good_responses[0]; t++) {
		size_t n = strlen(good_responses[t]);
		for (size_t step = 1; step <= 7; step++)
			rfeed_last_len(good_responses[t], n, step, (int)n);
	}
	static const char *const bad[] = {
	    "HTTP/1.1 20x OK\r\nA: b\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nA : b\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n",
	};
	for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
		size_t n = strlen(bad[t]);
		for (size_t step = 1; step <= 5; step++)
			rfeed_last_len(bad[t], n, step, -ERR_BAD_REQUEST);
	}
	/* pinned: the fast path does not re-read the prefix while no blank line arrived */
	struct http_response res;
	assert_int_equal(rparse_n("HTTP/1.1 20x\r\n", 14, &res, TEST_MAX_HEADERS, 13),
	                 -ERR_PARTIAL);
	assert_int_equal(rparse_n("HTTP/1.1 20x\r\n", 14, &res, TEST_MAX_HEADERS, 0),
	                 -ERR_BAD_REQUEST);
}

/* Every prefix of a malformed response is partial or already the final error. */
static void test_resp_bad_prefixes_consistent(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "HTTP/1.1 200 OK\r\nA: b\rX\r\n\r\n",
	    "HTTP/1.1 2000 OK\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n",
	    "HTTP/1.1 200 O\x01K\r\n\r\n",
	};
	struct http_response res;
	for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
		size_t n = strlen(bad[t]);
		for (size_t k = 0; k <= n; k++) {
			int r = rparse_n(bad[t], k, &res, TEST_MAX_HEADERS, 0);
			assert_true(r == -ERR_PARTIAL || r == -ERR_BAD_REQUEST);
		}
		assert_int_equal(rparse_n(bad[t], n, &res, TEST_MAX_HEADERS, 0), -ERR_BAD_REQUEST);
	}
}

static void test_resp_header_find(void **state)
{
	(void)state;
	struct http_response res;
	const char *s = "HTTP/1.1 200 OK\r\nX-Key: one\r\nx-key: two\r\nA: b\r\n\r\n";
	assert_int_equal(rparse(s, &res), (int)strlen(s));
	assert_field(&res, "X-KEY", "one");
	assert_ptr_equal(http_response_header_find(&res, "a"), &res.headers[2]);
	assert_null(http_response_header_find(&res, "X-Ke"));
	assert_null(http_response_header_find(&res, "X-Keys"));
	assert_null(http_response_header_find(&res, ""));
}

/* ---- response framing ---------------------------------------------------------------------- */

struct rframing_case {
	const char *resp; /* header block */
	int head;         /* the request was HEAD */
	int rc;
	enum http_body_kind body;
	uint64_t length;
	int keep_alive;
};

static void test_resp_framing_table(void **state)
{
	(void)state;
#define NONE  HTTP_BODY_NONE
#define LEN   HTTP_BODY_LENGTH
#define CHK   HTTP_BODY_CHUNKED
#define CLOSE HTTP_BODY_UNTIL_CLOSE
	static const struct rframing_case cases[] = {
	    /* length */
	    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 0, 0, LEN, 5, 1},
	    {"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", 0, 0, LEN, 0, 1},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 05\r\n\r\n", 0, 0, LEN, 5,
	     1},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n", 0, 0, LEN,
	     UINT64_MAX, 1},
	    {"HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n", 0, 0, LEN, 0, 1},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n", 0, 0, LEN, 5, 0},
	    {"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n", 0, 0, LEN, 5, 0},
	    {"HTTP/1.0 200 OK\r\nContent-Length: 5\r\nConnection: Keep-Alive\r\n\r\n", 0, 0, LEN, 5,
	     1},
	    {"HTTP/1.2 200 OK\r\nContent-Length: 5\r\n\r\n", 0, 0, LEN, 5, 1},
	    /* chunked */
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 0, CHK, 0, 1},
	    {"HTTP/1.1 200 OK\r\ntransfer-encoding:  Chunked\r\n\r\n", 0, 0, CHK, 0, 1},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n", 0, 0,
	     CHK, 0, 0},
	    {"HTTP/1.3 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 0, CHK, 0, 1},
	    /* until close */
	    {"HTTP/1.1 200 OK\r\n\r\n", 0, 0, CLOSE, 0, 0},
	    {"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n", 0, 0, CLOSE, 0, 0},
	    {"HTTP/1.0 500 Oops\r\n\r\n", 0, 0, CLOSE, 0, 0},
	    {"HTTP/1.1 101 Switching Protocols\r\n\r\n", 1, 0, NONE, 0, 1},
	    /* no body, whatever the headers say */
	    {"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 0, 0, NONE, 0, 1},
	    {"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
	     0, 0, NONE, 0, 1},
	    {"HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\n\r\n", 0, 0, NONE, 0, 1},
	    {"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n", 0, 0, NONE, 0, 0},
	    {"HTTP/1.1 100 Continue\r\n\r\n", 0, 0, NONE, 0, 1},
	    {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", 0, 0, NONE, 0, 1},
	    {"HTTP/1.1 199 X\r\nTransfer-Encoding: gzip\r\n\r\n", 0, 0, NONE, 0, 1},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", 1, 0, NONE, 0, 1},
	    {"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n", 1, 0, NONE, 0, 1},
	    {"HTTP/1.1 200 OK\r\nContent-Length: x\r\nTransfer-Encoding: y\r\n\r\n", 1, 0, NONE, 0,
	     1},
	    {"HTTP/1.0 200 OK\r\n\r\n", 1, 0, NONE, 0, 0},
	    /* conflicts */
	    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
	     -ERR_BAD_FRAMING, NONE, 0, 0},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 0,
	     -ERR_BAD_FRAMING, NONE, 0, 0},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n", 0,
	     -ERR_BAD_FRAMING, NONE, 0, 0},
	    {"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, -ERR_BAD_FRAMING, NONE, 0,
	     0},
	    /* codings we never asked for */
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0, -ERR_NOT_IMPLEMENTED, NONE, 0,
	     0},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, -ERR_NOT_IMPLEMENTED,
	     NONE, 0, 0},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 0,
	     -ERR_NOT_IMPLEMENTED, NONE, 0, 0},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	     0, -ERR_NOT_IMPLEMENTED, NONE, 0, 0},
	    {"HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", 0, -ERR_NOT_IMPLEMENTED, NONE, 0, 0},
	    /* bad lengths */
	    {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, -ERR_BAD_FRAMING, NONE, 0, 0},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", 0, -ERR_BAD_FRAMING, NONE, 0, 0},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 0,
	     -ERR_BAD_FRAMING, NONE, 0, 0},
	    {"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", 0, -ERR_BAD_FRAMING, NONE, 0, 0},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", 0, -ERR_BAD_FRAMING, NONE, 0, 0},
	    {"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n", 0, -ERR_BAD_FRAMING,
	     NONE, 0, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct rframing_case *c = &cases[i];
		struct http_response res;
		struct http_framing f;
		if (rparse(c->resp, &res) != (int)strlen(c->resp))
			fail_msg("case %zu does not parse", i);
		memset(&f, 0xa5, sizeof f);
		struct http_framing before = f;
		int rc = http_response_framing(&res, c->head, &f);
		if (rc != c->rc)
			fail_msg("case %zu: rc %d, want %d", i, rc, c->rc);
		if (rc < 0) {
			assert_memory_equal(&f, &before, sizeof f); /* untouched */
			continue;
		}
		if (f.body != c->body || f.content_length != c->length ||
		    f.keep_alive != c->keep_alive || f.expect_continue != 0)
			fail_msg("case %zu: body %d length %llu keep_alive %d", i, (int)f.body,
			         (unsigned long long)f.content_length, f.keep_alive);
	}
#undef NONE
#undef LEN
#undef CHK
#undef CLOSE
}

/* ---- Retry-After --------------------------------------------------------------------------- */

/* "Sun, 06 Nov 1994 08:49:37 GMT", the RFC's example date */
#define RFC_NOW INT64_C(784111777)
#define NOT_SET (-7)

struct retry_case {
	const char *fields; /* header lines, each ending in CRLF */
	int64_t now;
	int rc;
	int seconds; /* NOT_SET: *seconds must stay untouched */
};

static void test_retry_after_table(void **state)
{
	(void)state;
	static const struct retry_case cases[] = {
	    /* absent */
	    {"", RFC_NOW, 0, NOT_SET},
	    {"Retry-After-X: 5\r\nX-Retry-After: 5\r\n", RFC_NOW, 0, NOT_SET},
	    /* delta-seconds */
	    {"Retry-After: 30\r\n", RFC_NOW, 1, 30},
	    {"retry-after: 0\r\n", RFC_NOW, 1, 0},
	    {"RETRY-AFTER: 007\r\n", RFC_NOW, 1, 7},
	    {"Retry-After: 86400\r\n", RFC_NOW, 1, 86400},
	    {"Retry-After: 86401\r\n", RFC_NOW, 1, 86400},
	    {"Retry-After: 99999999999999999999999999999999\r\n", RFC_NOW, 1, 86400},
	    {"Retry-After: 5\r\nRetry-After: 10\r\n", RFC_NOW, 1, 5},
	    /* garbage */
	    {"Retry-After:\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: -5\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: +5\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: 5.5\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: 5s\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: 5 5\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: 0x10\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: soon\r\n", RFC_NOW, 0, NOT_SET},
	    /* milliseconds, rounded up */
	    {"retry-after-ms: 1500\r\n", RFC_NOW, 1, 2},
	    {"retry-after-ms: 1000\r\n", RFC_NOW, 1, 1},
	    {"retry-after-ms: 1001\r\n", RFC_NOW, 1, 2},
	    {"retry-after-ms: 1\r\n", RFC_NOW, 1, 1},
	    {"retry-after-ms: 0\r\n", RFC_NOW, 1, 0},
	    {"retry-after-ms: 86400000\r\n", RFC_NOW, 1, 86400},
	    {"retry-after-ms: 86399001\r\n", RFC_NOW, 1, 86400},
	    {"retry-after-ms: 86400001\r\n", RFC_NOW, 1, 86400},
	    {"Retry-After-Ms: 184467440737095516150\r\n", RFC_NOW, 1, 86400},
	    {"x-ms-retry-after-ms: 2500\r\n", RFC_NOW, 1, 3},
	    {"X-MS-Retry-After-MS: 999\r\n", RFC_NOW, 1, 1},
	    /* precedence: retry-after-ms, x-ms-retry-after-ms, Retry-After; bad ones skipped */
	    {"Retry-After: 30\r\nretry-after-ms: 1500\r\n", RFC_NOW, 1, 2},
	    {"Retry-After: 30\r\nx-ms-retry-after-ms: 2500\r\n", RFC_NOW, 1, 3},
	    {"x-ms-retry-after-ms: 9000\r\nretry-after-ms: 4000\r\n", RFC_NOW, 1, 4},
	    {"retry-after-ms: abc\r\nx-ms-retry-after-ms: 2500\r\n", RFC_NOW, 1, 3},
	    {"retry-after-ms: 1.5\r\nRetry-After: 7\r\n", RFC_NOW, 1, 7},
	    {"retry-after-ms: -1\r\nx-ms-retry-after-ms:\r\nRetry-After: x\r\n", RFC_NOW, 0,
	     NOT_SET},
	    {"retry-after-ms: 1500\r\nRetry-After: Sun, 06 Nov 1994 09:49:37 GMT\r\n", RFC_NOW, 1,
	     2},
	    /* IMF-fixdate */
	    {"Retry-After: Sun, 06 Nov 1994 08:51:37 GMT\r\n", RFC_NOW, 1, 120},
	    {"Retry-After: Sun, 06 Nov 1994 08:49:38 GMT\r\n", RFC_NOW, 1, 1},
	    {"Retry-After: Sun, 06 Nov 1994 08:49:37 GMT\r\n", RFC_NOW, 1, 0},
	    {"Retry-After: Sun, 06 Nov 1994 08:49:36 GMT\r\n", RFC_NOW, 1, 0},
	    {"Retry-After: Thu, 01 Jan 1970 00:00:00 GMT\r\n", RFC_NOW, 1, 0},
	    {"Retry-After: Mon, 07 Nov 1994 08:49:37 GMT\r\n", RFC_NOW, 1, 86400},
	    {"Retry-After: Mon, 07 Nov 1994 08:49:38 GMT\r\n", RFC_NOW, 1, 86400},
	    {"Retry-After: Fri, 31 Dec 9999 23:59:59 GMT\r\n", RFC_NOW, 1, 86400},
	    {"Retry-After: Mon, 01 Jan 0001 00:00:00 GMT\r\n", RFC_NOW, 1, 0},
	    {"Retry-After: Fri, 31 Dec 9999 23:59:59 GMT\r\n", INT64_MIN, 1, 86400},
	    {"Retry-After: Mon, 01 Jan 0001 00:00:00 GMT\r\n", INT64_MAX, 1, 0},
	    {"Retry-After: Mon, 01 Jan 0001 00:00:00 GMT\r\n", INT64_C(-62135596800) - 5, 1, 5},
	    /* conversion checked against independently computed Unix times */
	    {"Retry-After: Thu, 01 Jan 1970 00:00:00 GMT\r\n", -100, 1, 100},
	    {"Retry-After: Wed, 31 Dec 1969 23:59:59 GMT\r\n", -1001, 1, 1000},
	    {"Retry-After: Tue, 29 Feb 2000 12:00:00 GMT\r\n", INT64_C(951825600) - 1000, 1, 1000},
	    {"Retry-After: Thu, 29 Feb 2024 00:00:00 GMT\r\n", INT64_C(1709164800) - 1000, 1, 1000},
	    {"Retry-After: Sun, 28 Feb 2100 23:59:59 GMT\r\n", INT64_C(4107542399) - 1000, 1, 1000},
	    {"Retry-After: Mon, 01 Mar 2100 00:00:00 GMT\r\n", INT64_C(4107542400) - 1000, 1, 1000},
	    {"Retry-After: Tue, 01 Dec 2026 10:00:00 GMT\r\n", INT64_C(1796119200) - 30, 1, 30},
	    {"Retry-After: Fri, 31 Dec 9999 23:59:59 GMT\r\n", INT64_C(253402300799) - 1000, 1,
	     1000},
	    {"Retry-After: Sun, 06 Nov 1994 23:59:60 GMT\r\n", RFC_NOW, 1, 54623},
	    /* not IMF-fixdate */
	    {"Retry-After: Sunday, 06-Nov-94 08:49:37 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun Nov  6 08:49:37 1994\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun, 06 Nov 1994 08:49:37 UTC\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun, 06 Nov 1994 08:49:37 gmt\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: sun, 06 Nov 1994 08:49:37 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun, 06 nov 1994 08:49:37 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Xyz, 06 Nov 1994 08:49:37 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun, 6 Nov 1994 08:49:37 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun,  06 Nov 1994 08:49:37 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun, 06 Nov 94 08:49:37 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun, 06 Nov 1994 08:49:37 GMT+1\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun, 06 Nov 1994 8:49:37 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun, 06 Nov 1994 08:49 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun, 06 Nov 1994 08-49-37 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun, 06 Nov 1994 24:00:00 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun, 06 Nov 1994 08:60:00 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun, 06 Nov 1994 08:49:61 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun, 00 Nov 1994 08:49:37 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun, 31 Nov 1994 08:49:37 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Thu, 29 Feb 1900 00:00:00 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Thu, 29 Feb 2023 00:00:00 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sat, 01 Jan 0000 00:00:00 GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun, 06 Nov 1994 08:49:3a GMT\r\n", RFC_NOW, 0, NOT_SET},
	    {"Retry-After: Sun, 06 Nov 1994 08:49:37 GMT, 5\r\n", RFC_NOW, 0, NOT_SET},
	};
	char s[512];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct retry_case *c = &cases[i];
		struct http_response res;
		size_t n = (size_t)snprintf(s, sizeof s, "HTTP/1.1 429 Too Many Requests\r\n%s\r\n",
		                            c->fields);
		if (rparse_n(s, n, &res, TEST_MAX_HEADERS, 0) != (int)n)
			fail_msg("case %zu does not parse", i);
		int secs = NOT_SET;
		int rc = http_retry_after(&res, c->now, &secs);
		if (rc != c->rc || secs != c->seconds)
			fail_msg("case %zu (%s): rc %d seconds %d, want %d %d", i, c->fields, rc,
			         secs, c->rc, c->seconds);
	}
}

/* ---- request writers ----------------------------------------------------------------------- */

/* Memory a test writes requests into, and the buf over it. */
static char wmem[1024];
static struct buf wb;

static void wreset(size_t cap)
{
	buf_init(&wb, wmem, cap);
}

static void assert_written(const char *want)
{
	if (wb.err != 0 || wb.len != strlen(want) || memcmp(wmem, want, wb.len) != 0)
		fail_msg("wrote (err %d) \"%.*s\", want \"%s\"", wb.err, (int)wb.len, wmem, want);
}

static void test_request_head_bytes(void **state)
{
	(void)state;
	wreset(sizeof wmem);
	http_request_head(&wb, "POST", "/emails:send?api-version=2025-09-01",
	                  "contoso.unitedstates.communication.azure.com");
	assert_written("POST /emails:send?api-version=2025-09-01 HTTP/1.1\r\n"
	               "Host: contoso.unitedstates.communication.azure.com\r\n");
	wreset(sizeof wmem);
	http_request_head(&wb, "GET",
	                  "/MSI/token?resource=https%3A%2F%2Fcommunication.azure.com%2F"
	                  "&api-version=2019-08-01",
	                  "localhost:4141");
	const char *op = "853b9a84-5bfa-4b22-a3f3-0b9a43d9ad8a";
	http_header_line(&wb, "X-IDENTITY-HEADER", op, strlen(op));
	http_header_line(&wb, "Accept", "application/json", 16);
	http_header_line(&wb, "X-Empty", "", 0);
	http_header_line(&wb, "X-Text", "caf\xc3\xa9 a\tb", 9);
	buf_puts(&wb, "\r\n");
	const char *want = "GET /MSI/token?resource=https%3A%2F%2Fcommunication.azure.com%2F"
	                   "&api-version=2019-08-01 HTTP/1.1\r\n"
	                   "Host: localhost:4141\r\n"
	                   "X-IDENTITY-HEADER: 853b9a84-5bfa-4b22-a3f3-0b9a43d9ad8a\r\n"
	                   "Accept: application/json\r\n"
	                   "X-Empty: \r\n"
	                   "X-Text: caf\xc3\xa9 a\tb\r\n"
	                   "\r\n";
	assert_written(want);
	/* and our own server's parser reads it back the same */
	struct http_request req;
	struct http_framing f;
	assert_int_equal(parse_n(wmem, wb.len, &req, TEST_MAX_HEADERS, 0), (int)wb.len);
	assert_span(req.target, req.target_len,
	            "/MSI/token?resource=https%3A%2F%2Fcommunication.azure.com%2F"
	            "&api-version=2019-08-01");
	assert_int_equal(req.num_headers, 5);
	assert_span(req.headers[1].value, req.headers[1].value_len, op);
	assert_int_equal(req.headers[3].value_len, 0);
	assert_int_equal(http_request_framing(&req, &f), 0);
}

/* Each call must write nothing and leave -ERR_INTERNAL. */
static void test_request_head_refusals(void **state)
{
	(void)state;
	static const char *const bad[][3] = {
	    {"GET", "/a\r\nX-Injected: 1", "h"},
	    {"GET", "/a\nX: 1", "h"},
	    {"GET", "/a b", "h"},
	    {"GET", "/a\tb", "h"},
	    {"GET", "/\x7f", "h"},
	    {"GET", "/\x80", "h"},
	    {"GET", "", "h"},
	    {"GET", "/", "h\r\nX-Injected: 1"},
	    {"GET", "/", "h\n"},
	    {"GET", "/", "h h"},
	    {"GET", "/", ""},
	    {"", "/", "h"},
	    {"GE T", "/", "h"},
	    {"GET\r\n", "/", "h"},
	    {"ABCDEFGHIJKLMNOPQ", "/", "h"}, /* HTTP_MAX_METHOD + 1 */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		wreset(sizeof wmem);
		http_request_head(&wb, bad[i][0], bad[i][1], bad[i][2]);
		if (wb.err != -ERR_INTERNAL || wb.len != 0)
			fail_msg("case %zu: err %d len %zu", i, wb.err, wb.len);
	}
	wreset(sizeof wmem);
	http_request_head(&wb, "ABCDEFGHIJKLMNOP", "*", "h"); /* HTTP_MAX_METHOD: fine */
	assert_written("ABCDEFGHIJKLMNOP * HTTP/1.1\r\nHost: h\r\n");
}

static void test_header_line_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *name, *value;
		size_t n;
	} bad[] = {
	    {"X", "a\r\nX-Injected: 1", 17},
	    {"X", "a\rb", 3},
	    {"X", "a\nb", 3},
	    {"X", "a\0b", 3},
	    {"X", "\x01", 1},
	    {"X", "a\x7f", 2},
	    {"X", "\x1b[0m", 4},
	    {"X", " a", 2},
	    {"X", "a\t", 2},
	    {"X", " ", 1},
	    {"", "a", 1},
	    {"Bad Name", "a", 1},
	    {"X:", "a", 1},
	    {"X\r\nY", "a", 1},
	    {"Caf\xc3\xa9", "a", 1},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		wreset(sizeof wmem);
		buf_puts(&wb, "GET / HTTP/1.1\r\n");
		http_header_line(&wb, bad[i].name, bad[i].value, bad[i].n);
		if (wb.err != -ERR_INTERNAL || wb.len != 16)
			fail_msg("case %zu: err %d len %zu", i, wb.err, wb.len);
		/* sticky: nothing more is written. (buf_append() in memory mode then replaces
		 * the error with -ERR_OVERFLOW, which is buf.c's behaviour, not pinned here.) */
		http_header_line(&wb, "X", "ok", 2);
		assert_int_equal(wb.err, -ERR_INTERNAL);
		buf_puts(&wb, "\r\n");
		assert_int_equal(wb.len, 16);
		assert_true(buf_finish(&wb) < 0);
	}
	/* the value is value[0..n): bytes after n are not looked at */
	wreset(sizeof wmem);
	http_header_line(&wb, "X", "ab\r\n", 2);
	assert_written("X: ab\r\n");
}

static void test_request_writers_overflow(void **state)
{
	(void)state;
	wreset(20);
	http_request_head(&wb, "POST", "/emails:send", "example.com");
	assert_int_equal(wb.err, -ERR_OVERFLOW);
	assert_memory_equal(wmem, "POST /emails:send HT", 20);
	/* a refusal afterwards keeps the first error */
	http_header_line(&wb, "X", "a\r\n", 3);
	assert_int_equal(wb.err, -ERR_OVERFLOW);
	http_request_head(&wb, "GET", "/\n", "h");
	assert_int_equal(wb.err, -ERR_OVERFLOW);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_simple),
	    cmocka_unit_test(test_post_with_body),
	    cmocka_unit_test(test_http10_no_headers),
	    cmocka_unit_test(test_lf_only_and_mixed),
	    cmocka_unit_test(test_leading_empty_lines),
	    cmocka_unit_test(test_ows_trimmed),
	    cmocka_unit_test(test_obs_text_value),
	    cmocka_unit_test(test_token_chars),
	    cmocka_unit_test(test_request_line_errors),
	    cmocka_unit_test(test_method_length),
	    cmocka_unit_test(test_header_errors),
	    cmocka_unit_test(test_partial),
	    cmocka_unit_test(test_target_limit),
	    cmocka_unit_test(test_header_bytes_limit),
	    cmocka_unit_test(test_leading_lines_count),
	    cmocka_unit_test(test_error_before_limit_wins),
	    cmocka_unit_test(test_header_count_limit),
	    cmocka_unit_test(test_every_prefix),
	    cmocka_unit_test(test_every_prefix_last_len),
	    cmocka_unit_test(test_last_len_defers_errors),
	    cmocka_unit_test(test_bad_prefixes_consistent),
	    cmocka_unit_test(test_header_find),
	    cmocka_unit_test(test_token_eq),
	    cmocka_unit_test(test_framing_none),
	    cmocka_unit_test(test_framing_content_length),
	    cmocka_unit_test(test_framing_bad_length),
	    cmocka_unit_test(test_framing_chunked),
	    cmocka_unit_test(test_framing_conflicts),
	    cmocka_unit_test(test_framing_host),
	    cmocka_unit_test(test_framing_order),
	    cmocka_unit_test(test_framing_connection),
	    cmocka_unit_test(test_framing_expect),
	    cmocka_unit_test(test_chunked_basic),
	    cmocka_unit_test(test_chunked_partial),
	    cmocka_unit_test(test_chunked_extensions),
	    cmocka_unit_test(test_chunked_trailers),
	    cmocka_unit_test(test_chunked_trailer_limit),
	    cmocka_unit_test(test_chunked_bad_size),
	    cmocka_unit_test(test_chunked_data_end),
	    cmocka_unit_test(test_chunked_leftover),
	    cmocka_unit_test(test_chunked_sticky_error),
	    cmocka_unit_test(test_chunked_line_limit),
	    cmocka_unit_test(test_chunked_total),
	    cmocka_unit_test(test_reason),
	    cmocka_unit_test(test_response_head),
	    cmocka_unit_test(test_response_head_overflow),
	    cmocka_unit_test(test_resp_202_send),
	    cmocka_unit_test(test_resp_200_chunked),
	    cmocka_unit_test(test_resp_no_body_statuses),
	    cmocka_unit_test(test_resp_100_then_200),
	    cmocka_unit_test(test_resp_status_line_forms),
	    cmocka_unit_test(test_resp_status_line_errors),
	    cmocka_unit_test(test_resp_header_errors),
	    cmocka_unit_test(test_resp_untouched_on_error),
	    cmocka_unit_test(test_resp_limits),
	    cmocka_unit_test(test_resp_every_prefix_and_split),
	    cmocka_unit_test(test_resp_feed_last_len),
	    cmocka_unit_test(test_resp_bad_prefixes_consistent),
	    cmocka_unit_test(test_resp_header_find),
	    cmocka_unit_test(test_resp_framing_table),
	    cmocka_unit_test(test_retry_after_table),
	    cmocka_unit_test(test_request_head_bytes),
	    cmocka_unit_test(test_request_head_refusals),
	    cmocka_unit_test(test_header_line_refusals),
	    cmocka_unit_test(test_request_writers_overflow),
	};
	return cmocka_run_group_tests(tests, guard_setup, NULL);
}
