/* http_client.c: one request and one response over struct http_client_io (http_client.h). */
#include "http_client.h"

#include <errno.h>
#include <stdint.h>

#include "dns.h"
#include "err.h"
#include "sock.h"

/* The head: read until a final (not 1xx) status line and header block is complete. Returns its
 * end (> 0; *len is the bytes read so far) or a -ERR_x. */
static long read_head(const struct http_client_io *io, char *buf, size_t cap,
                      struct http_header *hdr, size_t max_hdr, struct http_client_answer *a,
                      size_t *len, int64_t deadline)
{
	size_t off = 0;
	int rc;
	for (;;) {
		if (*len < cap) {
			long n = io->read(io->ctx, buf + *len, cap - *len, deadline);
			if (n == 0)
				return a->got ? -ERR_UPSTREAM_BAD_RESPONSE : -ERR_IO;
			if (n < 0)
				return n;
			a->got = 1;
			*len += (size_t)n;
		}
		for (;;) {
			rc = http_response_parse(buf + off, *len - off, &a->res, hdr, max_hdr, 0);
			if (rc < 0 || a->res.status >= 200 || a->res.status == 101)
				break;
			off += (size_t)rc; /* 1xx interim answer: drop it */
		}
		if (rc == -ERR_PARTIAL && *len < cap)
			continue;
		if (rc < 0 || a->res.status == 101)
			return -ERR_UPSTREAM_BAD_RESPONSE; /* malformed, 101, or a head over cap */
		return (long)(off + (size_t)rc);
	}
}

/* A chunked body: raw bytes buf[hl..hl+raw) are there; decoded in place from buf + hl. */
static int read_chunked(const struct http_client_io *io, char *buf, size_t cap, size_t hl,
                        size_t raw, struct http_client_answer *a, int64_t deadline)
{
	struct http_chunked d;
	size_t done = 0; /* decoded bytes, then raw bytes after them */
	http_chunked_init(&d);
	for (;;) {
		size_t k = raw;
		int rc = http_chunked_decode(&d, buf + hl + done, &k);
		if (rc >= 0) {
			if (rc > 0)
				a->reuse = 0; /* bytes after the last chunk: not ours */
			a->body_len = done + k;
			return 0;
		}
		if (rc != -ERR_PARTIAL)
			return -ERR_UPSTREAM_BAD_RESPONSE;
		done += k;
		if (hl + done >= cap)
			return -ERR_UPSTREAM_BAD_RESPONSE;
		long n = io->read(io->ctx, buf + hl + done, cap - hl - done, deadline);
		if (n <= 0)
			return n == 0 ? -ERR_UPSTREAM_BAD_RESPONSE : (int)n;
		raw = (size_t)n;
	}
}

/* see http_client.h */
int http_client_read(const struct http_client_io *io, char *buf, size_t cap,
                     struct http_header *hdr, size_t max_hdr, int head_request,
                     struct http_client_answer *a, int64_t deadline)
{
	size_t len = 0;
	long n;
	a->got = 0;
	a->reuse = 0;
	a->body = 0;
	a->body_len = 0;
	long h = read_head(io, buf, cap, hdr, max_hdr, a, &len, deadline);
	if (h < 0)
		return (int)h;
	size_t hl = (size_t)h;
	struct http_framing f;
	if (http_response_framing(&a->res, head_request, &f) < 0)
		return -ERR_UPSTREAM_BAD_RESPONSE;
	a->reuse = f.keep_alive;
	a->body = buf + hl;
	int rc = 0;
	switch (f.body) {
	case HTTP_BODY_NONE:
		if (len != hl)
			a->reuse = 0; /* bytes after the answer */
		break;
	case HTTP_BODY_LENGTH:
		if (f.content_length > cap - hl)
			return -ERR_UPSTREAM_BAD_RESPONSE;
		while (len < hl + f.content_length) {
			n = io->read(io->ctx, buf + len, hl + f.content_length - len, deadline);
			if (n <= 0)
				return n == 0 ? -ERR_UPSTREAM_BAD_RESPONSE : (int)n;
			len += (size_t)n;
		}
		if (len != hl + f.content_length)
			a->reuse = 0; /* bytes after the answer */
		a->body_len = f.content_length;
		break;
	case HTTP_BODY_CHUNKED:
		rc = read_chunked(io, buf, cap, hl, len - hl, a, deadline);
		break;
	case HTTP_BODY_UNTIL_CLOSE:
		for (;;) {
			if (len >= cap)
				return -ERR_UPSTREAM_BAD_RESPONSE;
			n = io->read(io->ctx, buf + len, cap - len, deadline);
			if (n == 0)
				break;
			if (n < 0)
				return (int)n;
			len += (size_t)n;
		}
		a->body_len = len - hl;
		a->reuse = 0;
		break;
	}
	if (rc == 0 && a->reuse && io->pending && io->pending(io->ctx))
		a->reuse = 0; /* bytes after the answer, in a later record */
	return rc;
}

/* see http_client.h */
int http_client_exchange(const struct http_client_io *io, const char *req, size_t n, char *buf,
                         size_t cap, struct http_header *hdr, size_t max_hdr, int head_request,
                         struct http_client_answer *a, int64_t deadline)
{
	long w = io->write(io->ctx, req, n, deadline);
	if (w < 0) {
		a->got = 0;
		a->reuse = 0;
		return (int)w;
	}
	return http_client_read(io, buf, cap, hdr, max_hdr, head_request, a, deadline);
}

/* see http_client.h */
int http_client_connect(const char *host, uint16_t port, int64_t deadline, const char **why)
{
	struct dns_addr addrs[DNS_MAX_ADDRS];
	int na = dns_resolve(host, port, addrs, DNS_MAX_ADDRS, deadline, why);
	if (na <= 0)
		return na == -ERR_TIMEOUT ? -ERR_TIMEOUT : -ERR_UPSTREAM_CONNECT;
	*why = "connection refused";
	for (int i = 0; i < na; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&addrs[i].ss;
		int fd = sock_connect(sa, addrs[i].len, SOCK_STREAM, deadline);
		if (fd == -ERR_TIMEOUT) {
			*why = "connect timed out";
			return -ERR_TIMEOUT;
		}
		if (fd >= 0) {
			sock_nodelay(fd);
			return fd;
		}
		*why = errno == ECONNREFUSED                           ? "connection refused"
		       : errno == ENETUNREACH || errno == EHOSTUNREACH ? "host unreachable"
		                                                       : "connect failed";
	}
	return -ERR_UPSTREAM_CONNECT;
}

static long tcp_read(void *ctx, char *p, size_t n, int64_t deadline)
{
	return sock_read((int)(intptr_t)ctx, p, n, deadline);
}

static long tcp_write(void *ctx, const char *p, size_t n, int64_t deadline)
{
	return sock_write_all((int)(intptr_t)ctx, p, n, deadline);
}

/* see http_client.h */
void http_client_tcp(struct http_client_io *io, int fd)
{
	io->ctx = (void *)(intptr_t)fd;
	io->read = tcp_read;
	io->write = tcp_write;
	io->pending = 0;
}
