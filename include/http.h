/*
 * http.h: pure HTTP/1.1 message parsing and writing (RFC 9110/9112). Nothing here touches a
 * socket: functions work over (buf, len) in the caller's memory, in picohttpparser's image.
 *
 *  - http_request_parse(): request line and header block -> pointers into the input.
 *  - http_request_framing(): what the headers say about the body, keep-alive and Expect, with
 *    every conflict (Content-Length + chunked, two lengths, unknown codings) rejected.
 *  - http_chunked_decode(): incremental, in-place decoder of a chunked body.
 *  - http_response_head(): the status line and common headers of an answer.
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

/* Case-insensitive comparison of p[0..n) with the NUL-terminated s. */
int http_token_eq(const char *p, size_t n, const char *s);

enum http_body_kind {
	HTTP_BODY_NONE,    /* no Content-Length, no Transfer-Encoding */
	HTTP_BODY_LENGTH,  /* Content-Length: content_length bytes */
	HTTP_BODY_CHUNKED, /* Transfer-Encoding: chunked */
};

struct http_framing {
	enum http_body_kind body;
	uint64_t content_length; /* HTTP_BODY_LENGTH only */
	int keep_alive;          /* 1: the connection may serve another request after this one */
	int expect_continue;     /* 1: Expect: 100-continue was sent */
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

#endif
