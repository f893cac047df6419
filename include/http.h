/*
 * http.h: pure HTTP/1.1 message parsing and writing (RFC 9110/9112). Nothing here touches a
 * socket: functions work over (buf, len) in the caller's memory, in picohttpparser's image.
 *
 *  - http_request_parse(): request line and header block -> pointers into the input.
 *  - http_request_framing(): what the headers say about the body, keep-alive and Expect, with
 *    every conflict (Content-Length + chunked, two lengths, unknown codings) rejected.
 *  - http_chunked_decode(): incremental, in-place decoder of a chunked body.
 *  - http_response_head(): the status line and common headers of an answer.
 * Client side (calls to ACS Email and the managed-identity endpoint):
 *  - http_response_parse(): status line and header block; shares the request parser's code.
 *  - http_response_framing(): where the body of a response ends (RFC 9112 6.3).
 *  - http_retry_after(): retry-after-ms / x-ms-retry-after-ms / Retry-After as seconds.
 *  - http_request_head(), http_header_line(): request writers that refuse header injection.
 */
#ifndef NOTIFY_HTTP_H
#define NOTIFY_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Header block limit (request line + headers + blank line). 8 KiB is what nginx and most
 * proxies allow by default (large_client_header_buffers); our clients send a few hundred bytes.
 * Beyond it: -ERR_HEADERS_TOO_LARGE (431). */
#define HTTP_MAX_HEADER_BYTES 8192
/* Header field count limit. The Functions host forwards about 20; 64 leaves room for proxies.
 * Beyond it: -ERR_HEADERS_TOO_LARGE (431). */
#define HTTP_MAX_HEADERS 64
/* Request-target limit. Our routes are under 64 bytes; 2 KiB admits any sane query string.
 * Beyond it: -ERR_URI_TOO_LONG (414). */
#define HTTP_MAX_TARGET 2048
/* Method token limit; the longest standard method (OPTIONS, CONNECT) has 7 characters. */
#define HTTP_MAX_METHOD 16
/* Chunk-size line limit (hex digits + extensions); longer lines are abuse: -ERR_BAD_CHUNK. */
#define HTTP_MAX_CHUNK_LINE 256
/* Upper clamp of http_retry_after(), in seconds: one day. ACS's longest throttling window is an
 * hour; a longer wait is a server bug or a hostile value, and a message parked for more than a
 * day should reach a human through the queue's own alerting rather than sleep silently. */
#define HTTP_MAX_RETRY_AFTER 86400

struct http_header {
	const char *name; /* points into the input; not NUL-terminated */
	size_t name_len;
	const char *value; /* leading and trailing OWS removed */
	size_t value_len;
};

struct http_request {
	const char *method;
	size_t method_len;
	const char *target; /* request-target as sent (origin-form expected) */
	size_t target_len;
	int minor_version;           /* 0 or 1 (HTTP/1.0 or HTTP/1.1) */
	struct http_header *headers; /* the caller's array, filled in order */
	size_t num_headers;
};

/*
 * Parses the request line and header block at buf[0..len). `headers` is the caller's array of
 * `max_headers` entries (at most HTTP_MAX_HEADERS are ever used). `last_len` is the length of
 * the buffer at the previous call (0 the first time): when > 0 the parser first checks whether
 * the blank line has arrived since, so a slow client costs no repeated full parse.
 * Returns the length of the header block (> 0) when complete; -ERR_PARTIAL when more bytes are
 * needed (and the block so far is within HTTP_MAX_HEADER_BYTES); -ERR_BAD_REQUEST (bad syntax:
 * request line, version other than HTTP/1.0 or 1.1, header names that are not tokens, obsolete
 * line folding, whitespace before the colon, control characters in values, bare CR);
 * -ERR_HEADERS_TOO_LARGE; -ERR_URI_TOO_LONG. Lines may end with CRLF or bare LF (RFC 9112 2.2).
 * Empty lines before the request line are skipped (RFC 9112 2.2).
 */
int http_request_parse(const char *buf, size_t len, struct http_request *req,
                       struct http_header *headers, size_t max_headers, size_t last_len);

/* Case-insensitive lookup of a header by name (NUL-terminated); NULL when absent. When the
 * header appears several times, the first one. */
const struct http_header *http_header_find(const struct http_request *req, const char *name);

/* Number of header fields called `name` (case-insensitive). */
size_t http_header_count(const struct http_request *req, const char *name);

/* Case-insensitive comparison of p[0..n) with the NUL-terminated s. */
int http_token_eq(const char *p, size_t n, const char *s);

enum http_body_kind {
	HTTP_BODY_NONE,    /* request: neither header; response: no body can follow (6.3 rule 1) */
	HTTP_BODY_LENGTH,  /* Content-Length: content_length bytes */
	HTTP_BODY_CHUNKED, /* Transfer-Encoding: chunked */
	HTTP_BODY_UNTIL_CLOSE, /* responses only: the body is everything until the server closes */
};

struct http_framing {
	enum http_body_kind body;
	uint64_t content_length; /* HTTP_BODY_LENGTH only; 0 otherwise */
	int keep_alive;          /* 1: the connection may carry another message after this one */
	int expect_continue;     /* 1: Expect: 100-continue was sent (requests only) */
};

/*
 * Reads the framing of a parsed request (RFC 9112 6, 9.3; RFC 9110 10.1.1):
 *  - Transfer-Encoding must be exactly "chunked" (case-insensitive); any other coding or list:
 *    -ERR_NOT_IMPLEMENTED. Transfer-Encoding in an HTTP/1.0 request: -ERR_BAD_FRAMING.
 *  - Content-Length must be digits only; several values (headers or a comma list) must agree;
 *    otherwise -ERR_BAD_FRAMING. Both Content-Length and Transfer-Encoding: -ERR_BAD_FRAMING
 *    (request smuggling defence; RFC 9112 6.3 allows rejecting).
 *  - keep_alive: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection:
 *    keep-alive" (Connection is a comma list of case-insensitive tokens).
 *  - Expect: "100-continue" (case-insensitive) sets expect_continue; any other value:
 *    -ERR_EXPECTATION.
 *  - HTTP/1.1 without exactly one Host header: -ERR_HOST_MISSING (RFC 9112 3.2).
 * Returns 0 or the negative error; `f` is filled only on success.
 */
int http_request_framing(const struct http_request *req, struct http_framing *f);

/* State of the chunked decoder; zero it (or call http_chunked_init) before the first call. */
struct http_chunked {
	uint64_t remaining; /* bytes left in the current chunk's data */
	uint64_t total;     /* decoded bytes so far, for the caller's size limit */
	size_t line_len;    /* bytes of the current size/trailer line seen so far */
	int state;          /* internal */
};

void http_chunked_init(struct http_chunked *d);

/*
 * Decodes chunked data in place. On entry buf[0..*len) holds raw bytes that follow what earlier
 * calls consumed; on return buf[0..*len) holds the decoded data from this call (the caller
 * appends it to what it had). Chunk extensions are skipped; trailer fields are read and dropped.
 * Returns -ERR_PARTIAL when the body is not complete yet (all input consumed); when the final
 * chunk and trailer section are complete, the number (>= 0) of raw bytes that followed the body
 * in the input (the start of a pipelined request), which the decoder moved to buf[*len ..
 * *len + returned); -ERR_BAD_CHUNK for bad syntax, a size line over HTTP_MAX_CHUNK_LINE bytes,
 * or a chunk size that overflows 64 bits. Trailer lines are capped by HTTP_MAX_HEADER_BYTES.
 */
int http_chunked_decode(struct http_chunked *d, char *buf, size_t *len);

/* Reason phrase of an HTTP status ("Accepted"); "Unknown" for codes it does not list. */
const char *http_reason(int status);

/*
 * Appends "HTTP/1.1 <status> <reason>\r\n", then "Content-Type: <content_type>\r\n" (omitted when
 * content_type is NULL), "Content-Length: <content_length>\r\n" and, when keep_alive is 0,
 * "Connection: close\r\n". The caller appends any further headers and the blank line.
 */
void http_response_head(struct buf *b, int status, const char *content_type,
                        uint64_t content_length, int keep_alive);

/* ---- client side ---------------------------------------------------------------------------- */

struct http_response {
	int minor_version;  /* 0-9 as sent; 2-9 are handled as 1.1 (RFC 9110 2.5) */
	int status;         /* 100-599 */
	const char *reason; /* reason-phrase as sent (maybe empty); for logs only */
	size_t reason_len;
	struct http_header *headers; /* the caller's array, filled in order */
	size_t num_headers;
};

/*
 * Parses the status line and header block of a response at buf[0..len). Arguments, limits,
 * header-field rules, the last_len fast path and results are those of http_request_parse(),
 * whose code it shares: the header block length (> 0), -ERR_PARTIAL, -ERR_BAD_REQUEST (here:
 * malformed response), -ERR_HEADERS_TOO_LARGE; never -ERR_URI_TOO_LONG. *res is written only on
 * success. Status line: "HTTP/1." DIGIT SP 3DIGIT [SP reason-phrase] eol, status 100-599.
 * Tolerated, because real servers do it and no boundary depends on it: bare LF line ends;
 * empty lines before the status line; no SP before an empty reason ("HTTP/1.1 204\r\n");
 * minor versions 2-9. Rejected, because a wrong guess could move a message boundary or let a
 * value smuggle a line: obs-fold (RFC 9112 5.2 would let us unfold it), whitespace before ':',
 * bare CR, control characters in the reason or a value, a status not of exactly 3 digits.
 * Interim responses: a 1xx (other than 101) has no body; the caller drops its header block,
 * then parses again at buf + returned length until the final response. We never send
 * Upgrade, so the caller treats 101 as an error.
 */
int http_response_parse(const char *buf, size_t len, struct http_response *res,
                        struct http_header *headers, size_t max_headers, size_t last_len);

/* http_header_find() for a parsed response. */
const struct http_header *http_response_header_find(const struct http_response *res,
                                                    const char *name);

/*
 * Reads where the body of a parsed response ends (RFC 9112 6.3); head_request is 1 when the
 * request was HEAD. In order:
 *  - a response to HEAD, any 1xx, 204 and 304: HTTP_BODY_NONE, whatever the framing headers
 *    say (they describe the body the full answer would have had; none of it is read);
 *  - Transfer-Encoding in an HTTP/1.0 response (faulty framing, RFC 9112 6.1), or next to
 *    Content-Length: -ERR_BAD_FRAMING. RFC 9112 6.3 lets Transfer-Encoding win, but we talk to
 *    one trusted service through one front door: both at once means a broken hop, and guessing
 *    the boundary is how a later response gets read from the middle of this one;
 *  - Transfer-Encoding other than exactly one "chunked": -ERR_NOT_IMPLEMENTED. We send no TE
 *    field (RFC 9110 10.1.4: the codings a client accepts besides chunked), so no other coding
 *    is expected, and we could not decode one;
 *  - Transfer-Encoding: chunked: HTTP_BODY_CHUNKED;
 *  - Content-Length, validated as for requests (digits only, equal duplicates, else
 *    -ERR_BAD_FRAMING): HTTP_BODY_LENGTH;
 *  - neither: HTTP_BODY_UNTIL_CLOSE, with keep_alive 0.
 * keep_alive otherwise: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "keep-alive".
 * expect_continue is 0. Returns 0 or the negative error; `f` is filled only on success.
 */
int http_response_framing(const struct http_response *res, int head_request,
                          struct http_framing *f);

/*
 * How long the server asks us to wait. Looks, in this order, at the first retry-after-ms, then
 * the first x-ms-retry-after-ms (1*DIGIT milliseconds, rounded up to whole seconds), then the
 * first Retry-After (RFC 9110 10.2.3: 1*DIGIT delta-seconds, or an IMF-fixdate HTTP-date such
 * as "Sun, 06 Nov 1994 08:49:37 GMT", taken relative to now_unix; the obsolete rfc850 and
 * asctime forms are not accepted). A field whose value does not parse is passed over.
 * Returns 1 and sets *seconds (clamped to [0, HTTP_MAX_RETRY_AFTER]; a date in the past is 0;
 * huge numbers clamp rather than fail) when one is found; 0, leaving *seconds alone, when
 * none is present or none parses.
 */
int http_retry_after(const struct http_response *res, int64_t now_unix, int *seconds);

/*
 * Appends "<method> <target> HTTP/1.1\r\nHost: <host>\r\n"; the caller appends the other
 * fields and the blank line. method must be a token of 1..HTTP_MAX_METHOD characters, target
 * and host non-empty visible ASCII (no SP, no CTL). Anything else (which could split the
 * request) writes nothing and sets b->err to -ERR_INTERNAL. Does nothing when b->err is set,
 * so the first error is the one buf_finish() reports.
 */
void http_request_head(struct buf *b, const char *method, const char *target, const char *host);

/*
 * Appends "<name>: <value>\r\n", the value being value[0..n) (not NUL-terminated; n may be 0).
 * name must be a non-empty token; the value may hold SP, HTAB, visible ASCII and octets >=
 * 0x80, but no CR, LF, NUL or other CTL, and no SP/HTAB at either end (the receiver would trim
 * them, so it would see other bytes than we signed). Anything else writes nothing and sets
 * b->err to -ERR_INTERNAL. Does nothing when b->err is set.
 */
void http_header_line(struct buf *b, const char *name, const char *value, size_t n);

#endif
