/*
 * fuzz_acs_answer.c: libFuzzer target for the answer path of the ACS client (acs.h): the bytes
 * ACS or the managed-identity endpoint sends back, read as acs.c's read_reply() reads them once
 * they have all arrived (at most ACS_RESP_MAX bytes): http_response_parse() with 1xx interim
 * answers dropped, http_response_framing(), the body by Content-Length, chunked
 * (http_chunked_decode() in place) or until close. The body then goes through acs_answer_parse()
 * and acs_token_parse(), the x-ms-error-code fallback of a body without error.code, and, for a
 * status other than 2xx, acs_classify(). Input that is not an HTTP answer is also read as a bare
 * body (status from its length), so the JSON readers get mutations of their own.
 *
 * Invariants: every string field of struct acs_answer and struct transport_result is
 * NUL-terminated inside its array, one line (no byte below 0x20, no DEL) and valid UTF-8 (they
 * go into log lines and problem+json answers through json_put_str, which trusts its input to be
 * UTF-8); results are within the documented sets; parsing is deterministic; a token is visible
 * ASCII of the returned length; the classification agrees with err_http_status() and only
 * 429/503 carry a Retry-After. Bodies are copied to the end of a buffer, so an overread hits
 * ASan's redzone.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acs.h"
#include "err.h"
#include "http.h"
#include "json.h"
#include "fuzz.h"

/* read_reply() keeps at most this much of an answer. */
#define FUZZ_MAX_INPUT ACS_RESP_MAX
/* Small token caps tried besides the real one (1 + input length % this). */
#define FUZZ_SMALL_CAP 64
/* Statuses for the bare-body mode: the ones acs_classify() tells apart, and a few others. */
static const int bare_status[] = {400, 401, 403, 404, 408, 409, 413, 429,
                                  500, 501, 502, 503, 504, 202, 200, 302};
/* "now" for Retry-After dates and expires_in: 2026-12-01T10:00:00Z, the corpus' Date. */
#define FUZZ_NOW INT64_C(1796119200)

static char input[FUZZ_MAX_INPUT];
static char body_mem[FUZZ_MAX_INPUT];
static struct http_header hdr[HTTP_MAX_HEADERS];
static struct json_tok tok[ACS_RESP_TOKENS];
static char token[ACS_TOKEN_MAX + 1];

/* NUL inside s[0..cap), only bytes >= 0x20 but DEL before it, valid UTF-8. */
static void check_line(const char *s, size_t cap)
{
	const char *nul = memchr(s, 0, cap);
	CHECK(nul != NULL);
	for (const char *p = s; p < nul; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	CHECK(utf8_valid(s, (size_t)(nul - s)));
}

static void check_answer(const struct acs_answer *a)
{
	check_line(a->id, sizeof a->id);
	check_line(a->status, sizeof a->status);
	check_line(a->code, sizeof a->code);
	check_line(a->message, sizeof a->message);
	check_line(a->target, sizeof a->target);
}

/* Compares the strings of two answers. */
static int same_answer(const struct acs_answer *a, const struct acs_answer *b)
{
	return !strcmp(a->id, b->id) && !strcmp(a->status, b->status) &&
	       !strcmp(a->code, b->code) && !strcmp(a->message, b->message) &&
	       !strcmp(a->target, b->target);
}

static void check_token(const char *b, size_t n, size_t cap)
{
	int64_t exp = -1;
	memset(token, 0x5a, sizeof token);
	long r = acs_token_parse(b, n, tok, ACS_RESP_TOKENS, FUZZ_NOW, token, cap, &exp);
	CHECK(r >= 0 || r == -ERR_FIELD_MISSING || r == -ERR_FIELD_INVALID || r == -ERR_OVERFLOW ||
	      r == -ERR_JSON_SYNTAX);
	if (r < 0)
		return;
	CHECK((size_t)r < cap && r > 0);
	CHECK(token[r] == 0 && strlen(token) == (size_t)r);
	for (long i = 0; i < r; i++)
		CHECK((unsigned char)token[i] > 0x20 && (unsigned char)token[i] < 0x7f);
	CHECK(exp >= 0); /* expires_on >= 0, or FUZZ_NOW + expires_in >= 0 */
	/* a bigger cap gives the same token */
	if (cap < sizeof token) {
		static char again[ACS_TOKEN_MAX + 1];
		int64_t exp2 = -1;
		long r2 = acs_token_parse(b, n, tok, ACS_RESP_TOKENS, FUZZ_NOW, again, sizeof again,
		                          &exp2);
		CHECK(r2 == r && exp2 == exp && memcmp(again, token, (size_t)r + 1) == 0);
	}
}

/* header_code: a->code came from x-ms-error-code, whose value may hold HTAB and obs-text
 * (attempt() copies it as is), so only "NUL-terminated, no CR or LF" is asked of r.code. */
static void check_classify(int status, const struct acs_answer *a, int bearer, int retry_after,
                           int header_code)
{
	struct transport_result r;
	memset(&r, 0x5a, sizeof r);
	int rc = acs_classify(status, a, bearer, retry_after, &r);
	CHECK(rc == -ERR_ACS_REJECTED || rc == -ERR_ACS_CONFIG || rc == -ERR_ACS_THROTTLED ||
	      rc == -ERR_BODY_TOO_LARGE || rc == -ERR_UPSTREAM || rc == -ERR_UPSTREAM_TIMEOUT ||
	      rc == -ERR_UPSTREAM_UNAVAILABLE);
	CHECK(err_http_status(rc) == r.http_status);
	CHECK(r.retryable == 0 || r.retryable == 1);
	CHECK(r.retry_after_s >= 0);
	if (rc == -ERR_ACS_THROTTLED || rc == -ERR_UPSTREAM_UNAVAILABLE)
		CHECK(r.retry_after_s > 0 && r.retryable == 1 &&
		      (retry_after <= 0 || r.retry_after_s == retry_after));
	else
		CHECK(r.retry_after_s == 0);
	/* transient statuses stay retryable, unless error.code names a configuration fault (the
	 * code wins over the status, acs-email-api.md 2.6); words in the message do not */
	if ((status >= 500 || status == 408) && strcmp(a->code, "DomainNotLinked") != 0 &&
	    strcmp(a->code, "InvalidSenderUserName") != 0 && !strstr(a->code, "ApiVersion"))
		CHECK(r.retryable == 1);
	if (header_code)
		CHECK(memchr(r.code, 0, sizeof r.code) && !strpbrk(r.code, "\r\n"));
	else
		check_line(r.code, sizeof r.code);
	CHECK(strcmp(r.code, a->code) == 0); /* both under TRANSPORT_CODE_MAX */
	check_line(r.detail, sizeof r.detail);
	CHECK(r.detail[0] != 0);
}

/* The body bytes body[0..n) of an answer with this status. */
static void check_body(const char *b, size_t n, int status, const struct http_response *res,
                       int bearer, int retry_after)
{
	/* at the end of body_mem: reading past the body is an overread */
	char *p = body_mem + sizeof body_mem - n;
	memmove(p, b, n);
	struct acs_answer a, a2;
	memset(&a, 0x5a, sizeof a);
	int r = acs_answer_parse(p, n, tok, ACS_RESP_TOKENS, &a);
	CHECK(r == 0 || r == -ERR_JSON_SYNTAX || r == -ERR_JSON_TOO_COMPLEX);
	check_answer(&a);
	if (r < 0)
		CHECK(!a.id[0] && !a.status[0] && !a.code[0] && !a.message[0] && !a.target[0]);
	memset(&a2, 0, sizeof a2);
	CHECK(acs_answer_parse(p, n, tok, ACS_RESP_TOKENS, &a2) == r && same_answer(&a, &a2));

	check_token(p, n, sizeof token);
	check_token(p, n, 1 + (n % FUZZ_SMALL_CAP) + 1);

	if (status >= 200 && status < 300)
		return;
	check_classify(status, &a, bearer, retry_after, 0);
	/* attempt(): an error body without error.code leaves it to x-ms-error-code (cut to the
	 * field, as copy_str does) */
	const struct http_header *ec = res ? http_response_header_find(res, "x-ms-error-code") : 0;
	if (!a.code[0] && ec) {
		size_t k = ec->value_len < sizeof a.code - 1 ? ec->value_len : sizeof a.code - 1;
		memcpy(a.code, ec->value, k);
		a.code[k] = 0;
		check_classify(status, &a, !bearer, retry_after, 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = size < FUZZ_MAX_INPUT ? size : FUZZ_MAX_INPUT;
	char *buf = input + FUZZ_MAX_INPUT - len;
	memcpy(buf, data, len);
	int bearer = (int)(len & 1);

	/* read_reply(): the final answer after any 1xx */
	struct http_response res;
	size_t off = 0;
	int rc;
	for (;;) {
		rc = http_response_parse(buf + off, len - off, &res, hdr, HTTP_MAX_HEADERS, 0);
		if (rc < 0 || res.status >= 200 || res.status == 101)
			break;
		CHECK(rc > 0 && (size_t)rc <= len - off);
		off += (size_t)rc;
	}
	if (rc < 0 || res.status == 101) {
		/* not an answer read_reply() accepts: the bytes as a bare body */
		if (off == 0)
			check_body(buf, len,
			           bare_status[len % (sizeof bare_status / sizeof *bare_status)],
			           NULL, bearer, -1);
		return 0;
	}
	size_t hl = off + (size_t)rc;
	CHECK(hl <= len);
	struct http_framing f;
	if (http_response_framing(&res, 0, &f) < 0)
		return 0;
	int ra = -1, s;
	if (http_retry_after(&res, FUZZ_NOW, &s)) {
		CHECK(s >= 0 && s <= HTTP_MAX_RETRY_AFTER);
		ra = s;
	}
	size_t blen;
	switch (f.body) {
	case HTTP_BODY_NONE:
		if (len != hl)
			return 0;
		blen = 0;
		break;
	case HTTP_BODY_LENGTH:
		if (f.content_length != len - hl)
			return 0; /* cut, or bytes after the answer */
		blen = len - hl;
		break;
	case HTTP_BODY_CHUNKED: {
		struct http_chunked d;
		size_t k = len - hl;
		http_chunked_init(&d);
		int cr = http_chunked_decode(&d, buf + hl, &k);
		if (cr != 0) /* cut (read_reply would read on), malformed, or bytes after it */
			return 0;
		CHECK(k <= len - hl && d.total == k);
		blen = k;
		break;
	}
	default:
		CHECK(f.body == HTTP_BODY_UNTIL_CLOSE && f.keep_alive == 0);
		blen = len - hl;
		break;
	}
	check_body(buf + hl, blen, res.status, &res, bearer, ra);
	return 0;
}
