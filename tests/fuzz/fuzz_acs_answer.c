/*
 * fuzz_acs_answer.c: libFuzzer target for the answer path of the ACS client (acs.h): the bytes
 * ACS or the managed-identity endpoint sends back, read by the real response reader,
 * http_client_read() (http_client.h), over an in-memory stream: once handed over whole and
 * once in small pieces (1 + length % FUZZ_MAX_STEP bytes a read), which must agree. An answer it
 * accepts then goes through acs_answer_read() (the body, and the x-ms-error-code fallback of a
 * body without error.code, as acs.c's attempt() calls it), acs_token_parse(), and, for a status
 * other than 2xx, acs_classify(). Input the reader refuses is also read as a bare body (status
 * from its length), so the JSON readers get mutations of their own.
 *
 * Invariants: every string field of struct acs_answer and struct transport_result is
 * NUL-terminated inside its array, one line (no byte below 0x20, no DEL) and valid UTF-8 (they
 * go into log lines and problem+json answers through json_put_str, which trusts its input to be
 * UTF-8); a code taken from x-ms-error-code is an identifier ([A-Za-z0-9._-]); results are
 * within the documented sets; parsing is deterministic; the reader's result does not depend on
 * how the bytes were split; an answer that allows reuse left no byte unread; the body lies
 * inside the buffer; a token is visible ASCII of the returned length; the classification
 * agrees with err_http_status() and only 429/503 carry a Retry-After. Bodies are copied to the
 * end of a buffer, so an overread hits ASan's redzone.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acs.h"
#include "err.h"
#include "http.h"
#include "http_client.h"
#include "json.h"
#include "fuzz.h"

/* Input bytes used: the reader's buffer (ACS_RESP_MAX, as in struct acs_worker) and a few
 * more, so answers that do not fit are tried too. */
#define FUZZ_MAX_INPUT (ACS_RESP_MAX + 64)
/* The piecewise read hands over at most this many bytes a call. */
#define FUZZ_MAX_STEP 7
/* Small token caps tried besides the real one (1 + input length % this). */
#define FUZZ_SMALL_CAP 64
/* Statuses for the bare-body mode: the ones acs_classify() tells apart, and a few others. */
static const int bare_status[] = {400, 401, 403, 404, 408, 409, 413, 429,
                                  500, 501, 502, 503, 504, 202, 200, 302};
/* "now" for Retry-After dates and expires_in: 2026-12-01T10:00:00Z, the corpus' Date. */
#define FUZZ_NOW INT64_C(1796119200)

static char input[FUZZ_MAX_INPUT];
static char body_mem[FUZZ_MAX_INPUT];
static char resp[ACS_RESP_MAX], resp2[ACS_RESP_MAX];
static struct http_header hdr2[HTTP_MAX_HEADERS];
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

static void check_classify(int status, const struct acs_answer *a, int bearer, int retry_after)
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
	 * code wins over the status: "Send", "Responses", ErrorResponse); words in the message do
	 * not */
	if ((status >= 500 || status == 408) && strcmp(a->code, "DomainNotLinked") != 0 &&
	    strcmp(a->code, "InvalidSenderUserName") != 0 && !strstr(a->code, "ApiVersion"))
		CHECK(r.retryable == 1);
	check_line(r.code, sizeof r.code);
	CHECK(strcmp(r.code, a->code) == 0); /* both under TRANSPORT_CODE_MAX */
	check_line(r.detail, sizeof r.detail);
	CHECK(r.detail[0] != 0);
}

/* The body bytes body[0..n) of an answer with this status; res is the answer's head, or NULL
 * for a bare body. */
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

	if (res) {
		/* what attempt() reads: the body, then x-ms-error-code when it names no code */
		memset(&a2, 0x5a, sizeof a2);
		acs_answer_read(res, p, n, tok, ACS_RESP_TOKENS, &a2);
		check_answer(&a2);
		CHECK(!strcmp(a.id, a2.id) && !strcmp(a.status, a2.status) &&
		      !strcmp(a.message, a2.message) && !strcmp(a.target, a2.target));
		if (a.code[0]) {
			CHECK(!strcmp(a.code, a2.code));
		} else {
			CHECK(a2.code[0] == 0 || http_response_header_find(res, "x-ms-error-code"));
			for (const char *c = a2.code; *c; c++)
				CHECK((*c >= '0' && *c <= '9') ||
				      ((*c | 0x20) >= 'a' && (*c | 0x20) <= 'z') || *c == '.' ||
				      *c == '_' || *c == '-');
		}
		a = a2;
	}
	if (status >= 200 && status < 300)
		return;
	check_classify(status, &a, bearer, retry_after);
}

/* The input as a stream: handed over `step` bytes a read at most (0: as much as asked). */
struct mem_io {
	const char *p;
	size_t len, off, step;
};

static long mem_read(void *ctx, char *dst, size_t n, int64_t deadline)
{
	(void)deadline;
	struct mem_io *m = ctx;
	size_t k = m->len - m->off;
	if (k > n)
		k = n;
	if (m->step && k > m->step)
		k = m->step;
	memcpy(dst, m->p + m->off, k);
	m->off += k;
	return (long)k; /* 0 at the end: the server closed */
}

static long mem_write(void *ctx, const char *p, size_t n, int64_t deadline)
{
	(void)ctx, (void)p, (void)deadline;
	return (long)n;
}

/* Unread input waits in the stream, as a TLS record already received would. */
static int mem_pending(void *ctx)
{
	const struct mem_io *m = ctx;
	return m->off < m->len;
}

/* Reads the input through http_client_read into out; returns its result, checks its
 * invariants. */
static int read_answer(struct mem_io *m, char *out, struct http_header *h,
                       struct http_client_answer *a)
{
	struct http_client_io io = {m, mem_read, mem_write, mem_pending};
	int rc = http_client_read(&io, out, ACS_RESP_MAX, h, HTTP_MAX_HEADERS, 0, a, INT64_MAX);
	CHECK(rc == 0 || rc == -ERR_IO || rc == -ERR_UPSTREAM_BAD_RESPONSE);
	CHECK(m->off <= m->len);
	CHECK(rc != -ERR_IO || (m->len == 0 && a->got == 0));
	if (rc == 0) {
		CHECK(a->got == 1 && (a->reuse == 0 || a->reuse == 1));
		CHECK(a->res.status >= 200 && a->res.status <= 599);
		CHECK(a->body >= out && a->body + a->body_len <= out + ACS_RESP_MAX);
		CHECK(a->body_len <= m->off);
		if (a->reuse)
			CHECK(m->off == m->len); /* no byte after an answer that is reused */
	}
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = size < FUZZ_MAX_INPUT ? size : FUZZ_MAX_INPUT;
	char *buf = input + FUZZ_MAX_INPUT - len;
	memcpy(buf, data, len);
	int bearer = (int)(len & 1);

	struct mem_io whole = {buf, len, 0, 0}, pieces = {buf, len, 0, 1 + len % FUZZ_MAX_STEP};
	struct http_client_answer a, a2;
	int rc = read_answer(&whole, resp, hdr, &a);
	int rc2 = read_answer(&pieces, resp2, hdr2, &a2);
	CHECK(rc == rc2);
	if (rc < 0) {
		/* not an answer the reader accepts: the bytes as a bare body */
		check_body(buf, len, bare_status[len % (sizeof bare_status / sizeof *bare_status)],
		           NULL, bearer, -1);
		return 0;
	}
	CHECK(a.res.status == a2.res.status && a.body_len == a2.body_len &&
	      memcmp(a.body, a2.body, a.body_len) == 0);
	int ra = -1, s;
	if (http_retry_after(&a.res, FUZZ_NOW, &s)) {
		CHECK(s >= 0 && s <= HTTP_MAX_RETRY_AFTER);
		ra = s;
	}
	check_body(a.body, a.body_len, a.res.status, &a.res, bearer, ra);
	return 0;
}
