/*
 * test_http.c: unit tests of http.h. Parser inputs sit at the very end of a mapping followed by
 * a PROT_NONE page, so any read past (buf, len) faults; every prefix of the test requests is
 * parsed to pin the incremental contract. Chunked bodies are fed whole, byte by byte and split
 * at every offset, and must decode identically.
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
	};
	return cmocka_run_group_tests(tests, guard_setup, NULL);
}
