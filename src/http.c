/*
 * http.c: the HTTP/1.1 message functions of http.h. Everything works over the caller's
 * (buf, len): no allocation, no state but the caller's structs, no table but const ones.
 * The request and response parsers share one header-block parser (only the start line
 * differs) and never read past the first HTTP_MAX_HEADER_BYTES bytes, so their cost is
 * bounded whatever the caller passes; the chunked decoder is one byte-driven state machine.
 */
#include "http.h"

#include <limits.h>
#include <string.h>

#include "date.h"
#include "err.h"

/* The leftover count of http_chunked_decode() is returned as an int. */
#define CHUNK_MAX_INPUT ((size_t)INT_MAX)
/* RFC 9110 15: status codes outside 100..599 are invalid on the wire (600-999 are sometimes
 * used internally by implementations, which is no reason to accept them from a peer). */
#define HTTP_STATUS_MIN 100
#define HTTP_STATUS_MAX 599

/* ---- character classes (RFC 9110 5.5, 5.6) ------------------------------------------------ */

static int is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* tchar: ALPHA / DIGIT / "!#$%&'*+-.^_`|~" */
static int is_tchar(unsigned char c)
{
	return is_alnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* OWS / BWS octet */
static int is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* VCHAR: visible ASCII */
static int is_vchar(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e;
}

/* field-value octet: HTAB, SP, VCHAR, obs-text; no other CTL and no DEL */
static int is_field_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* 0-15 for a hex digit, -1 otherwise */
static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* ---- message parsers (requests and responses share everything but the start line) ---------
 * Internal functions return 0 or a negative error; -ERR_PARTIAL means "the window ended first".
 */

/* Read position over the parse window p[0..n). */
struct scan {
	const unsigned char *p;
	size_t n;
	size_t i;
};

/* Consumes a line end at s->i: LF or CRLF. Anything else (a bare CR included) is malformed. */
static int take_eol(struct scan *s)
{
	if (s->i == s->n)
		return -ERR_PARTIAL;
	if (s->p[s->i] == '\n') {
		s->i++;
		return 0;
	}
	if (s->p[s->i] != '\r')
		return -ERR_BAD_REQUEST;
	if (s->i + 1 == s->n)
		return -ERR_PARTIAL;
	if (s->p[s->i + 1] != '\n')
		return -ERR_BAD_REQUEST;
	s->i += 2;
	return 0;
}

/* Skips the empty lines a client may send before the request line (RFC 9112 2.2); a server
 * may leave a stray CRLF after a body too, so the response parser skips them as well. */
static int skip_empty_lines(struct scan *s)
{
	while (s->i < s->n && (s->p[s->i] == '\r' || s->p[s->i] == '\n')) {
		int r = take_eol(s);
		if (r < 0)
			return r;
	}
	return s->i < s->n ? 0 : -ERR_PARTIAL;
}

/* method SP: a token of 1..HTTP_MAX_METHOD characters and exactly one space. */
static int parse_method(struct scan *s, struct http_request *req)
{
	size_t start = s->i;
	while (s->i < s->n && is_tchar(s->p[s->i])) {
		if (++s->i - start > HTTP_MAX_METHOD)
			return -ERR_BAD_REQUEST;
	}
	if (s->i == s->n)
		return -ERR_PARTIAL;
	if (s->i == start || s->p[s->i] != ' ')
		return -ERR_BAD_REQUEST;
	req->method = (const char *)s->p + start;
	req->method_len = s->i - start;
	s->i++;
	return 0;
}

/* request-target SP: visible ASCII; too long as soon as HTTP_MAX_TARGET + 1 octets are seen. */
static int parse_target(struct scan *s, struct http_request *req)
{
	size_t start = s->i;
	while (s->i < s->n && is_vchar(s->p[s->i])) {
		if (++s->i - start > HTTP_MAX_TARGET)
			return -ERR_URI_TOO_LONG;
	}
	if (s->i == s->n)
		return -ERR_PARTIAL;
	if (s->i == start || s->p[s->i] != ' ')
		return -ERR_BAD_REQUEST;
	req->target = (const char *)s->p + start;
	req->target_len = s->i - start;
	s->i++;
	return 0;
}

/* "HTTP/1." DIGIT, the version of either start line; a wrong prefix fails before the line
 * completes. Which minor versions are acceptable is the caller's rule. */
static int parse_version(struct scan *s, int *minor)
{
	static const char prefix[] = "HTTP/1.";
	for (size_t k = 0; k < sizeof prefix - 1; k++, s->i++) {
		if (s->i == s->n)
			return -ERR_PARTIAL;
		if (s->p[s->i] != (unsigned char)prefix[k])
			return -ERR_BAD_REQUEST;
	}
	if (s->i == s->n)
		return -ERR_PARTIAL;
	if (s->p[s->i] < '0' || s->p[s->i] > '9')
		return -ERR_BAD_REQUEST;
	*minor = s->p[s->i++] - '0';
	return 0;
}

/* name ":" OWS value OWS eol, with the value's OWS trimmed off. */
static int parse_field(struct scan *s, struct http_header *h)
{
	size_t start = s->i, vstart, vend;
	while (s->i < s->n && is_tchar(s->p[s->i]))
		s->i++;
	if (s->i == s->n)
		return -ERR_PARTIAL;
	if (s->i == start || s->p[s->i] != ':')
		return -ERR_BAD_REQUEST; /* empty name, whitespace before ':', non-token */
	h->name = (const char *)s->p + start;
	h->name_len = s->i - start;
	s->i++;
	while (s->i < s->n && is_ows(s->p[s->i]))
		s->i++;
	vstart = vend = s->i;
	for (; s->i < s->n && is_field_char(s->p[s->i]); s->i++) {
		if (!is_ows(s->p[s->i]))
			vend = s->i + 1;
	}
	h->value = (const char *)s->p + vstart;
	h->value_len = vend - vstart;
	return take_eol(s); /* a CTL in the value fails here */
}

/* Header fields up to and including the empty line; at most max of them. */
static int parse_fields(struct scan *s, struct http_header *headers, size_t max, size_t *count)
{
	*count = 0;
	for (;;) {
		if (s->i == s->n)
			return -ERR_PARTIAL;
		if (s->p[s->i] == '\r' || s->p[s->i] == '\n')
			return take_eol(s);
		if (is_ows(s->p[s->i]))
			return -ERR_BAD_REQUEST; /* obs-fold, or SP before the first field */
		if (*count == max)
			return -ERR_HEADERS_TOO_LARGE;
		int r = parse_field(s, &headers[*count]);
		if (r < 0)
			return r;
		++*count;
	}
}

/* The request line: method SP request-target SP HTTP-version eol, HTTP/1.0 or HTTP/1.1 only. */
static int request_line(struct scan *s, void *msg)
{
	struct http_request *req = msg;
	int e = parse_method(s, req);
	if (e == 0)
		e = parse_target(s, req);
	if (e == 0)
		e = parse_version(s, &req->minor_version);
	if (e == 0 && req->minor_version > 1)
		e = -ERR_BAD_REQUEST;
	return e == 0 ? take_eol(s) : e;
}

/* status-code: exactly three digits in HTTP_STATUS_MIN..HTTP_STATUS_MAX. With three digits the
 * first one decides the range, so a wrong code fails before the line completes. */
static int parse_status(struct scan *s, int *status)
{
	int v = 0;
	for (int k = 0; k < 3; k++, s->i++) {
		if (s->i == s->n)
			return -ERR_PARTIAL;
		int c = s->p[s->i];
		if (c < '0' || c > '9')
			return -ERR_BAD_REQUEST;
		v = v * 10 + (c - '0');
		if (k == 0 && (v < HTTP_STATUS_MIN / 100 || v > HTTP_STATUS_MAX / 100))
			return -ERR_BAD_REQUEST;
	}
	*status = v;
	return 0;
}

/* [SP reason-phrase] eol after the status code. The SP is required by RFC 9112 4 but some
 * servers drop it when the reason is empty ("HTTP/1.1 204\r\n"); that is tolerated. A fourth
 * digit or any other octet is malformed. */
static int parse_reason(struct scan *s, struct http_response *res)
{
	if (s->i == s->n)
		return -ERR_PARTIAL;
	if (s->p[s->i] == ' ')
		s->i++;
	else if (s->p[s->i] != '\r' && s->p[s->i] != '\n')
		return -ERR_BAD_REQUEST;
	size_t start = s->i;
	while (s->i < s->n && is_field_char(s->p[s->i]))
		s->i++;
	res->reason = (const char *)s->p + start;
	res->reason_len = s->i - start;
	return take_eol(s); /* a CTL or bare CR in the reason fails here */
}

/* The status line: "HTTP/1." DIGIT SP status-code [SP reason-phrase] eol. */
static int status_line(struct scan *s, void *msg)
{
	struct http_response *res = msg;
	int e = parse_version(s, &res->minor_version);
	if (e < 0)
		return e;
	if (s->i == s->n)
		return -ERR_PARTIAL;
	if (s->p[s->i++] != ' ')
		return -ERR_BAD_REQUEST;
	e = parse_status(s, &res->status);
	return e == 0 ? parse_reason(s, res) : e;
}

/* Parses a start line at s into the message struct `msg`; 0 or a negative error. */
typedef int start_line_fn(struct scan *s, void *msg);

/* Full parse of the window buf[0..n): empty lines, start line, header fields. Returns the
 * block length; `msg` and *count are filled as far as the parse got. */
static int parse_block(const char *buf, size_t n, start_line_fn *start, void *msg,
                       struct http_header *headers, size_t max_headers, size_t *count)
{
	struct scan s = {(const unsigned char *)buf, n, 0};
	int e = skip_empty_lines(&s);
	if (e == 0)
		e = start(&s, msg);
	if (e == 0)
		e = parse_fields(&s, headers, max_headers, count);
	return e < 0 ? e : (int)s.i;
}

/* 1 when buf[from..len) holds the end of a header block: LF LF or LF CR LF. */
static int has_blank_line(const char *buf, size_t len, size_t from)
{
	if (from >= len)
		return 0;
	const char *p = buf + from, *end = buf + len;
	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (end - p >= 2 && p[1] == '\n')
			return 1;
		if (end - p >= 3 && p[1] == '\r' && p[2] == '\n')
			return 1;
		p++;
	}
	return 0;
}

/*
 * The incremental contract both parsers share (see http_request_parse in http.h): the window
 * of at most HTTP_MAX_HEADER_BYTES, the last_len fast path, the header count cap, and
 * "partial past the limit" turned into -ERR_HEADERS_TOO_LARGE.
 * Errors are reported from the first HTTP_MAX_HEADER_BYTES bytes in input order, so a syntax
 * error inside the limit wins over the limit. With last_len > 0 and no new blank line the
 * prefix is not re-read: its errors surface once the block completes or passes the limit.
 */
static int parse_message(const char *buf, size_t len, size_t last_len, start_line_fn *start,
                         void *msg, struct http_header *headers, size_t max_headers, size_t *count)
{
	size_t window = len < HTTP_MAX_HEADER_BYTES ? len : HTTP_MAX_HEADER_BYTES;
	if (max_headers > HTTP_MAX_HEADERS)
		max_headers = HTTP_MAX_HEADERS;
	/* A block end is LF LF or LF CR LF; one that is new starts at last_len - 2 or later. */
	if (last_len > 0 && len <= HTTP_MAX_HEADER_BYTES &&
	    !has_blank_line(buf, len, last_len >= 3 ? last_len - 3 : 0))
		return -ERR_PARTIAL;
	int r = parse_block(buf, window, start, msg, headers, max_headers, count);
	if (r == -ERR_PARTIAL && len > HTTP_MAX_HEADER_BYTES)
		return -ERR_HEADERS_TOO_LARGE;
	return r;
}

/*
 * see http.h
 * `headers` may be written even when the result is not a success; *req only on success.
 */
int http_request_parse(const char *buf, size_t len, struct http_request *req,
                       struct http_header *headers, size_t max_headers, size_t last_len)
{
	struct http_request r = {0};
	int n = parse_message(buf, len, last_len, request_line, &r, headers, max_headers,
	                      &r.num_headers);
	if (n < 0)
		return n;
	r.headers = headers;
	*req = r;
	return n;
}

/*
 * see http.h
 * `headers` may be written even when the result is not a success; *res only on success.
 */
int http_response_parse(const char *buf, size_t len, struct http_response *res,
                        struct http_header *headers, size_t max_headers, size_t last_len)
{
	struct http_response r = {0};
	int n = parse_message(buf, len, last_len, status_line, &r, headers, max_headers,
	                      &r.num_headers);
	if (n < 0)
		return n;
	r.headers = headers;
	*res = r;
	return n;
}

/* see http.h */
int http_token_eq(const char *p, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\0' || lower((unsigned char)p[i]) != lower((unsigned char)s[i]))
			return 0;
	}
	return s[n] == '\0';
}

/* ---- header lookup and framing: one set of rules over the fields of either message ---------- */

/* The header fields of a parsed request or response. */
struct fields {
	const struct http_header *h;
	size_t n;
};

static struct fields request_fields(const struct http_request *req)
{
	struct fields fs = {req->headers, req->num_headers};
	return fs;
}

static struct fields response_fields(const struct http_response *res)
{
	struct fields fs = {res->headers, res->num_headers};
	return fs;
}

/* The first field called `name`, or NULL. */
static const struct http_header *field_find(struct fields fs, const char *name)
{
	for (size_t i = 0; i < fs.n; i++) {
		if (http_token_eq(fs.h[i].name, fs.h[i].name_len, name))
			return &fs.h[i];
	}
	return NULL;
}

/* see http.h */
const struct http_header *http_header_find(const struct http_request *req, const char *name)
{
	return field_find(request_fields(req), name);
}

/* see http.h */
const struct http_header *http_response_header_find(const struct http_response *res,
                                                    const char *name)
{
	return field_find(response_fields(res), name);
}

/* Number of fields called `name`. */
static size_t field_count(struct fields fs, const char *name)
{
	size_t k = 0;
	for (size_t i = 0; i < fs.n; i++)
		k += (size_t)http_token_eq(fs.h[i].name, fs.h[i].name_len, name);
	return k;
}

/* see http.h */
size_t http_header_count(const struct http_request *req, const char *name)
{
	return field_count(request_fields(req), name);
}

/* Folds one Content-Length value (a comma list of digit strings) into *v; every number must
 * equal *v when *have is set. Signs, empty elements and overflow are -ERR_BAD_FRAMING. */
static int fold_length(const char *p, size_t n, uint64_t *v, int *have)
{
	size_t i = 0;
	for (;;) {
		uint64_t x = 0;
		while (i < n && is_ows((unsigned char)p[i]))
			i++;
		size_t start = i;
		for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
			unsigned d = (unsigned)(p[i] - '0');
			if (x > (UINT64_MAX - d) / 10)
				return -ERR_BAD_FRAMING;
			x = x * 10 + d;
		}
		if (i == start || (*have && x != *v))
			return -ERR_BAD_FRAMING;
		*v = x;
		*have = 1;
		while (i < n && is_ows((unsigned char)p[i]))
			i++;
		if (i == n)
			return 0;
		if (p[i++] != ',')
			return -ERR_BAD_FRAMING;
	}
}

/*
 * Body kind and length from the fields (RFC 9112 6.1-6.3), for both directions. Any
 * Transfer-Encoding in HTTP/1.0, or next to a Content-Length, is a framing error before its
 * value is looked at. Transfer-Encoding must be exactly one "chunked". Neither header:
 * HTTP_BODY_NONE, which the response side turns into HTTP_BODY_UNTIL_CLOSE.
 */
static int body_framing(struct fields fs, int minor_version, struct http_framing *f)
{
	size_t te = field_count(fs, "transfer-encoding");
	size_t cl = field_count(fs, "content-length");
	if (te > 0 && (minor_version == 0 || cl > 0))
		return -ERR_BAD_FRAMING;
	if (te > 0) {
		const struct http_header *h = field_find(fs, "transfer-encoding");
		if (te > 1 || !http_token_eq(h->value, h->value_len, "chunked"))
			return -ERR_NOT_IMPLEMENTED;
		f->body = HTTP_BODY_CHUNKED;
		return 0;
	}
	uint64_t v = 0;
	int have = 0;
	for (size_t i = 0; i < fs.n; i++) {
		const struct http_header *h = &fs.h[i];
		if (!http_token_eq(h->name, h->name_len, "content-length"))
			continue;
		int r = fold_length(h->value, h->value_len, &v, &have);
		if (r < 0)
			return r;
	}
	if (have) {
		f->body = HTTP_BODY_LENGTH;
		f->content_length = v;
	}
	return 0;
}

/* Every Expect field must be 100-continue. */
static int expectation(struct fields fs, int *cont)
{
	for (size_t i = 0; i < fs.n; i++) {
		const struct http_header *h = &fs.h[i];
		if (!http_token_eq(h->name, h->name_len, "expect"))
			continue;
		if (!http_token_eq(h->value, h->value_len, "100-continue"))
			return -ERR_EXPECTATION;
		*cont = 1;
	}
	return 0;
}

#define CONN_CLOSE      1u
#define CONN_KEEP_ALIVE 2u

/* CONN_ bits of the tokens in one Connection list; other tokens are ignored. */
static unsigned connection_tokens(const char *p, size_t n)
{
	unsigned seen = 0;
	size_t i = 0;
	while (i < n) {
		while (i < n && (is_ows((unsigned char)p[i]) || p[i] == ','))
			i++;
		size_t start = i;
		while (i < n && p[i] != ',')
			i++;
		size_t end = i;
		while (end > start && is_ows((unsigned char)p[end - 1]))
			end--;
		if (http_token_eq(p + start, end - start, "close"))
			seen |= CONN_CLOSE;
		else if (http_token_eq(p + start, end - start, "keep-alive"))
			seen |= CONN_KEEP_ALIVE;
	}
	return seen;
}

/* HTTP/1.1 (and later minors) persists unless "close"; HTTP/1.0 only with "keep-alive" and no
 * "close". */
static int conn_keep_alive(struct fields fs, int minor_version)
{
	unsigned seen = 0;
	for (size_t i = 0; i < fs.n; i++) {
		const struct http_header *h = &fs.h[i];
		if (http_token_eq(h->name, h->name_len, "connection"))
			seen |= connection_tokens(h->value, h->value_len);
	}
	if (seen & CONN_CLOSE)
		return 0;
	return minor_version >= 1 || (seen & CONN_KEEP_ALIVE) != 0;
}

/*
 * see http.h
 * Check order, first failure wins: (1) body framing: Transfer-Encoding in HTTP/1.0 or with
 * Content-Length -> BAD_FRAMING, then the Transfer-Encoding value -> NOT_IMPLEMENTED, then
 * Content-Length syntax and agreement -> BAD_FRAMING; (2) Host -> HOST_MISSING; (3) Expect ->
 * EXPECTATION. Framing comes first because it decides whether the byte stream can be trusted
 * at all: the caller must close the connection on it, whatever else is wrong.
 */
int http_request_framing(const struct http_request *req, struct http_framing *f)
{
	struct fields fs = request_fields(req);
	struct http_framing out = {HTTP_BODY_NONE, 0, 0, 0};
	int r = body_framing(fs, req->minor_version, &out);
	if (r < 0)
		return r;
	if (req->minor_version == 1 && field_count(fs, "host") != 1)
		return -ERR_HOST_MISSING;
	r = expectation(fs, &out.expect_continue);
	if (r < 0)
		return r;
	out.keep_alive = conn_keep_alive(fs, req->minor_version);
	*f = out;
	return 0;
}

/* RFC 9112 6.3 rule 1: a response to HEAD, a 1xx, 204 or 304 ends at its header block. */
static int response_has_no_body(int status, int head_request)
{
	return head_request || (status >= 100 && status <= 199) || status == 204 || status == 304;
}

/*
 * see http.h
 * No-body responses are decided before any framing header is read (RFC 9112 6.3 rule 1): a
 * HEAD answer or a 304 legitimately carries the Content-Length or Transfer-Encoding the full
 * answer would have had, and nothing of them is used, so nothing of them can desynchronise us.
 */
int http_response_framing(const struct http_response *res, int head_request, struct http_framing *f)
{
	struct fields fs = response_fields(res);
	struct http_framing out = {HTTP_BODY_NONE, 0, 0, 0};
	if (!response_has_no_body(res->status, head_request)) {
		int r = body_framing(fs, res->minor_version, &out);
		if (r < 0)
			return r;
		if (out.body == HTTP_BODY_NONE)
			out.body = HTTP_BODY_UNTIL_CLOSE;
	}
	out.keep_alive =
	    out.body != HTTP_BODY_UNTIL_CLOSE && conn_keep_alive(fs, res->minor_version);
	*f = out;
	return 0;
}

/* ---- Retry-After (RFC 9110 10.2.3) and its Azure millisecond variants ------------------------ */

/* 1*DIGIT into *v, saturating at `cap` (which must be below UINT64_MAX / 10); 0 when p[0..n)
 * is empty or holds anything but digits. */
static int digits_sat(const char *p, size_t n, uint64_t cap, uint64_t *v)
{
	uint64_t x = 0;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		x = x * 10 + (uint64_t)(p[i] - '0');
		if (x > cap)
			x = cap;
	}
	*v = x;
	return 1;
}

/* Seconds from now until t, clamped to [0, HTTP_MAX_RETRY_AFTER]; any now_unix is safe. */
static int seconds_until(int64_t t, int64_t now_unix)
{
	if (now_unix >= t)
		return 0;
	if (now_unix < t - HTTP_MAX_RETRY_AFTER) /* t is a 4-digit-year date: no overflow */
		return HTTP_MAX_RETRY_AFTER;
	return (int)(t - now_unix);
}

/* The first `name` field, when its value is 1*DIGIT milliseconds: seconds rounded up. */
static int retry_ms(struct fields fs, const char *name, int *seconds)
{
	const struct http_header *h = field_find(fs, name);
	uint64_t ms;
	if (h == NULL ||
	    !digits_sat(h->value, h->value_len, (uint64_t)HTTP_MAX_RETRY_AFTER * 1000, &ms))
		return 0;
	*seconds = (int)((ms + 999) / 1000);
	return 1;
}

/*
 * see http.h
 * Same order as the Azure SDKs' throttling policy (azure-core-rest-pipeline): retry-after-ms,
 * x-ms-retry-after-ms, Retry-After; a field that does not parse is skipped, not fatal.
 */
int http_retry_after(const struct http_response *res, int64_t now_unix, int *seconds)
{
	struct fields fs = response_fields(res);
	if (retry_ms(fs, "retry-after-ms", seconds) || retry_ms(fs, "x-ms-retry-after-ms", seconds))
		return 1;
	const struct http_header *h = field_find(fs, "retry-after");
	if (h == NULL)
		return 0;
	uint64_t delta;
	if (digits_sat(h->value, h->value_len, HTTP_MAX_RETRY_AFTER, &delta)) {
		*seconds = (int)delta;
		return 1;
	}
	int64_t t;
	if (!date_parse_imf(h->value, h->value_len, &t))
		return 0;
	*seconds = seconds_until(t, now_unix);
	return 1;
}

/* ---- chunked decoder (RFC 9112 7.1) ------------------------------------------------------- */

enum chunk_state {
	CH_SIZE_FIRST,    /* first hex digit of a chunk-size; the zeroed state */
	CH_SIZE,          /* more hex digits, BWS, ';' or the line end */
	CH_SIZE_BWS,      /* BWS after the size: more BWS or ';' */
	CH_EXT,           /* chunk extensions, skipped to the line end */
	CH_SIZE_LF,       /* LF after the CR of a size line */
	CH_DATA,          /* `remaining` bytes of chunk data */
	CH_DATA_END,      /* CR or LF after the data */
	CH_DATA_LF,       /* LF after that CR */
	CH_TRAILER,       /* start of a trailer line, or of the final empty line */
	CH_TRAILER_NAME,  /* field-name up to ':' */
	CH_TRAILER_VALUE, /* field-value up to the line end */
	CH_TRAILER_LF,    /* LF after the CR of a trailer line */
	CH_END_LF,        /* LF of the final empty line */
	CH_DONE,          /* body complete */
	CH_FAILED,        /* sticky error */
};

/* see http.h */
void http_chunked_init(struct http_chunked *d)
{
	d->remaining = 0;
	d->total = 0;
	d->line_len = 0;
	d->state = CH_SIZE_FIRST;
}

/* A size line ended: data follows, or trailers after the last chunk ("0"). */
static int size_line_done(struct http_chunked *d)
{
	d->line_len = 0; /* from here on it counts trailer-section bytes, if any */
	d->state = d->remaining > 0 ? CH_DATA : CH_TRAILER;
	return 0;
}

/*
 * One octet outside chunk data. line_len counts the size line's octets before its line end
 * (limit HTTP_MAX_CHUNK_LINE) and then, after the last chunk, every octet of the trailer
 * section (limit HTTP_MAX_HEADER_BYTES). Returns 0 or -ERR_BAD_CHUNK.
 */
static int chunk_step(struct http_chunked *d, unsigned char c)
{
	int eol = c == '\r' || c == '\n';
	if (d->state <= CH_EXT && !eol && ++d->line_len > HTTP_MAX_CHUNK_LINE)
		return -ERR_BAD_CHUNK;
	if (d->state >= CH_TRAILER && ++d->line_len > HTTP_MAX_HEADER_BYTES)
		return -ERR_BAD_CHUNK;
	switch (d->state) {
	case CH_SIZE_FIRST:
	case CH_SIZE: {
		int h = hex_value(c);
		if (h >= 0) {
			if (d->remaining > UINT64_MAX >> 4)
				return -ERR_BAD_CHUNK;
			d->remaining = d->remaining << 4 | (uint64_t)h;
			d->state = CH_SIZE;
			return 0;
		}
		if (d->state == CH_SIZE_FIRST)
			return -ERR_BAD_CHUNK;
		if (is_ows(c) || c == ';') {
			d->state = c == ';' ? CH_EXT : CH_SIZE_BWS;
			return 0;
		}
		if (c == '\r') {
			d->state = CH_SIZE_LF;
			return 0;
		}
		return c == '\n' ? size_line_done(d) : -ERR_BAD_CHUNK;
	}
	case CH_SIZE_BWS:
		if (c == ';')
			d->state = CH_EXT;
		return is_ows(c) || c == ';' ? 0 : -ERR_BAD_CHUNK;
	case CH_EXT:
		if (c == '\n')
			return size_line_done(d);
		if (c == '\r')
			d->state = CH_SIZE_LF;
		return c == '\r' || is_field_char(c) ? 0 : -ERR_BAD_CHUNK; /* CTLs but HTAB fail */
	case CH_SIZE_LF:
		return c == '\n' ? size_line_done(d) : -ERR_BAD_CHUNK;
	case CH_DATA_END:
		if (c != '\r' && c != '\n')
			return -ERR_BAD_CHUNK;
		d->state = c == '\r' ? CH_DATA_LF : CH_SIZE_FIRST;
		return 0;
	case CH_DATA_LF:
		d->state = CH_SIZE_FIRST;
		return c == '\n' ? 0 : -ERR_BAD_CHUNK;
	case CH_TRAILER:
		if (c == '\r' || c == '\n') {
			d->state = c == '\r' ? CH_END_LF : CH_DONE;
			return 0;
		}
		d->state = CH_TRAILER_NAME;
		return is_tchar(c) ? 0 : -ERR_BAD_CHUNK; /* also obs-fold and an empty name */
	case CH_TRAILER_NAME:
		if (c == ':')
			d->state = CH_TRAILER_VALUE;
		return c == ':' || is_tchar(c) ? 0 : -ERR_BAD_CHUNK;
	case CH_TRAILER_VALUE:
		if (c == '\r' || c == '\n') {
			d->state = c == '\r' ? CH_TRAILER_LF : CH_TRAILER;
			return 0;
		}
		return is_field_char(c) ? 0 : -ERR_BAD_CHUNK;
	case CH_TRAILER_LF:
		d->state = CH_TRAILER;
		return c == '\n' ? 0 : -ERR_BAD_CHUNK;
	case CH_END_LF:
		d->state = CH_DONE;
		return c == '\n' ? 0 : -ERR_BAD_CHUNK;
	default:
		return -ERR_BAD_CHUNK;
	}
}

/*
 * see http.h
 * Decoded data only ever moves towards the start of buf, so the copy is in place. Errors are
 * sticky (later calls fail too) and leave *len at 0. An input over INT_MAX bytes, whose
 * leftover count could not be returned, is refused with -ERR_OVERFLOW.
 */
int http_chunked_decode(struct http_chunked *d, char *buf, size_t *len)
{
	size_t n = *len, in = 0, out = 0;
	if (n > CHUNK_MAX_INPUT)
		return -ERR_OVERFLOW;
	while (in < n && d->state != CH_DONE && d->state != CH_FAILED) {
		if (d->state != CH_DATA) {
			if (chunk_step(d, (unsigned char)buf[in++]) < 0)
				d->state = CH_FAILED;
			continue;
		}
		size_t k = n - in;
		if (k > d->remaining)
			k = (size_t)d->remaining;
		memmove(buf + out, buf + in, k);
		in += k;
		out += k;
		d->remaining -= k;
		d->total += k;
		if (d->remaining == 0)
			d->state = CH_DATA_END;
	}
	if (d->state == CH_FAILED) {
		*len = 0;
		return -ERR_BAD_CHUNK;
	}
	*len = out;
	if (d->state != CH_DONE)
		return -ERR_PARTIAL;
	memmove(buf + out, buf + in, n - in);
	return (int)(n - in);
}

/* ---- responses ---------------------------------------------------------------------------- */

struct reason {
	int status;
	const char *text;
};

/* RFC 9110 15 names (413 and 422 as renamed there), plus 429 and 431 from RFC 6585. */
static const struct reason reasons[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {304, "Not Modified"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {417, "Expectation Failed"},
    {422, "Unprocessable Content"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

/* see http.h */
const char *http_reason(int status)
{
	for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
		if (reasons[i].status == status)
			return reasons[i].text;
	}
	return "Unknown";
}

/*
 * see http.h
 * status is expected in 100..999; content_type must not contain CR or LF (it is sent as is).
 */
void http_response_head(struct buf *b, int status, const char *content_type,
                        uint64_t content_length, int keep_alive)
{
	buf_puts(b, "HTTP/1.1 ");
	buf_put_u64(b, (uint64_t)(unsigned)status);
	buf_putc(b, ' ');
	buf_puts(b, http_reason(status));
	buf_puts(b, "\r\n");
	if (content_type != NULL) {
		buf_puts(b, "Content-Type: ");
		buf_puts(b, content_type);
		buf_puts(b, "\r\n");
	}
	buf_puts(b, "Content-Length: ");
	buf_put_u64(b, content_length);
	buf_puts(b, "\r\n");
	if (!keep_alive)
		buf_puts(b, "Connection: close\r\n");
}

/* ---- requests we send (client side) ---------------------------------------------------------- */

/* 1 when p[0..n) is not empty and every octet is in the class. */
static int all_of(const char *p, size_t n, int (*in_class)(unsigned char))
{
	for (size_t i = 0; i < n; i++) {
		if (!in_class((unsigned char)p[i]))
			return 0;
	}
	return n > 0;
}

/* field-value text we are willing to send: field chars only, no OWS at either end (a
 * receiver would trim it, so what it sees would differ from what was signed). */
static int is_clean_value(const char *v, size_t n)
{
	if (n == 0)
		return 1;
	return all_of(v, n, is_field_char) && !is_ows((unsigned char)v[0]) &&
	       !is_ows((unsigned char)v[n - 1]);
}

/*
 * see http.h
 * Everything is checked before the first byte is written. A failed buf is left alone:
 * buf_append() in memory mode would replace its first error with -ERR_OVERFLOW.
 */
void http_request_head(struct buf *b, const char *method, const char *target, const char *host)
{
	size_t ml = strlen(method), tl = strlen(target), hl = strlen(host);
	if (b->err != 0)
		return;
	if (ml > HTTP_MAX_METHOD || !all_of(method, ml, is_tchar) ||
	    !all_of(target, tl, is_vchar) || !all_of(host, hl, is_vchar)) {
		b->err = -ERR_INTERNAL;
		return;
	}
	buf_append(b, method, ml);
	buf_putc(b, ' ');
	buf_append(b, target, tl);
	buf_puts(b, " HTTP/1.1\r\nHost: ");
	buf_append(b, host, hl);
	buf_puts(b, "\r\n");
}

/* see http.h; checked and left alone as http_request_head() */
void http_header_line(struct buf *b, const char *name, const char *value, size_t n)
{
	size_t nl = strlen(name);
	if (b->err != 0)
		return;
	if (!all_of(name, nl, is_tchar) || !is_clean_value(value, n)) {
		b->err = -ERR_INTERNAL;
		return;
	}
	buf_append(b, name, nl);
	buf_puts(b, ": ");
	buf_append(b, value, n);
	buf_puts(b, "\r\n");
}
