/*
 * http_client.h: the HTTP/1.1 client of the service: writes one request and reads one response
 * over a byte stream given as a small I/O interface (struct http_client_io), which the TLS
 * connection to ACS (acs.c) and plain TCP (the managed-identity endpoint, http_client_tcp)
 * both implement, and an in-memory fake implements in the tests and the fuzzer. It knows
 * nothing of ACS: no paths, no headers of its own, no retries.
 *
 * The response is read into the caller's buffer (head, then the body; a chunked body is
 * decoded in place), parsed by http.h (http_response_parse, http_response_framing,
 * http_chunked_decode). 1xx interim answers are dropped; 101 is an error (we never ask to
 * switch protocols). The body ends by Content-Length, by the last chunk, or at the end of the
 * stream (RFC 9112 6.3).
 *
 * Reuse (may the connection carry another request?): no when the answer says
 * "Connection: close", when it is HTTP/1.0 without "Connection: keep-alive", when its body was
 * delimited by the close, and when any byte follows the answer (in the same read, or already
 * waiting in the stream: io->pending): such bytes belong to no request of ours, so the next
 * answer read there could be someone else's.
 *
 * Nothing allocates: buffers and header arrays are the caller's.
 */
#ifndef NOTIFY_HTTP_CLIENT_H
#define NOTIFY_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

/* A byte stream with deadlines (absolute CLOCK_MONOTONIC milliseconds, sock.h). */
struct http_client_io {
	void *ctx;
	/* Reads at least one byte into p[0..n): the count, 0 at a clean end of stream, or a
	 * -ERR_x (-ERR_TIMEOUT, -ERR_IO, -ERR_INTERNAL for a TLS failure). */
	long (*read)(void *ctx, char *p, size_t n, int64_t deadline_ms);
	/* Writes all of p[0..n): n, or a -ERR_x. */
	long (*write)(void *ctx, const char *p, size_t n, int64_t deadline_ms);
	/* Optional (NULL: never): 1 when bytes beyond those read already wait in the stream (a
	 * TLS record decrypted but not yet read). */
	int (*pending)(void *ctx);
};

/* One response as read. Pointers point into the caller's buffer. */
struct http_client_answer {
	struct http_response res; /* status line and headers */
	const char *body;         /* the body (de-chunked) */
	size_t body_len;
	int reuse; /* 1: the connection may carry another request (see above) */
	int got;   /* 1 once any byte of an answer arrived */
};

/*
 * Reads one response into buf[0..cap): the head (at most cap bytes; http.h's limits on fields
 * apply, max_hdr entries of hdr), then the body, which must fit in what is left of buf.
 * head_request: 1 when the request was HEAD (no body follows). Returns 0 (a filled), or a -ERR_x
 * of io (-ERR_IO when the stream ended before any byte: a dead kept-alive connection), or
 * -ERR_UPSTREAM_BAD_RESPONSE: malformed, cut short, 101, or larger than buf.
 */
int http_client_read(const struct http_client_io *io, char *buf, size_t cap,
                     struct http_header *hdr, size_t max_hdr, int head_request,
                     struct http_client_answer *a, int64_t deadline_ms);

/* Writes the request req[0..n) (head and body, as one write), then http_client_read(). a->got
 * is 0 when the write failed. */
int http_client_exchange(const struct http_client_io *io, const char *req, size_t n, char *buf,
                         size_t cap, struct http_header *hdr, size_t max_hdr, int head_request,
                         struct http_client_answer *a, int64_t deadline_ms);

/*
 * Opens a TCP connection to host:port before the deadline: every address dns_resolve() gives
 * (IPv4 first, then IPv6) is tried in turn (sock_connect), the name resolved anew each time, so
 * a moved endpoint is followed. TCP_NODELAY is set: requests go out in one write. Returns the
 * non-blocking descriptor, -ERR_TIMEOUT or -ERR_UPSTREAM_CONNECT; *why says why (a static
 * string) on failure.
 */
int http_client_connect(const char *host, uint16_t port, int64_t deadline_ms, const char **why);

/* Plain TCP behind the interface: reads and writes of sock.h on the descriptor fd. */
void http_client_tcp(struct http_client_io *io, int fd);

#endif
