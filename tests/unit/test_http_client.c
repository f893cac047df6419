/*
 * test_http_client.c: the HTTP client of http_client.h over a fake in-memory I/O (a script of
 * reads, each handing over at most one piece, then the end of the stream or an error), and
 * once over a real socketpair and loopback (http_client_tcp, http_client_connect). Covers each
 * framing (Content-Length, chunked, until close, none), the reuse rules (Connection: close,
 * HTTP/1.0, close-delimited bodies, stray bytes in the same read or pending in the stream),
 * 1xx and 101, truncated answers, answers larger than the buffer, and I/O errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "http_client.h"
#include "sock.h"

/* The answer buffer of most tests: larger than every scripted answer. */
#define CAP 4096
/* Pieces in one script. */
#define MAX_PIECES 16
/* Deadline of the real-socket tests. */
#define WAIT_MS 2000

/* A scripted stream: pieces in order (each read returns at most the rest of the current one),
 * then `end` (0: end of stream, or a -ERR_x). step > 0 cuts every piece into reads of step. */
struct fake {
	const char *piece[MAX_PIECES];
	size_t n, i, off, step;
	long end;
	int pending;     /* what pending() says */
	char wrote[CAP]; /* what was written */
	size_t wrote_len;
	long write_result; /* 0: accept; else returned */
	int reads;
};

static long fake_read(void *ctx, char *p, size_t n, int64_t deadline)
{
	(void)deadline;
	struct fake *f = ctx;
	f->reads++;
	while (f->i < f->n && f->off == strlen(f->piece[f->i]))
		f->i++, f->off = 0;
	if (f->i >= f->n)
		return f->end;
	size_t left = strlen(f->piece[f->i]) - f->off;
	size_t k = left < n ? left : n;
	if (f->step && k > f->step)
		k = f->step;
	memcpy(p, f->piece[f->i] + f->off, k);
	f->off += k;
	return (long)k;
}

static long fake_write(void *ctx, const char *p, size_t n, int64_t deadline)
{
	(void)deadline;
	struct fake *f = ctx;
	if (f->write_result)
		return f->write_result;
	assert_true(f->wrote_len + n <= sizeof f->wrote);
	memcpy(f->wrote + f->wrote_len, p, n);
	f->wrote_len += n;
	return (long)n;
}

static int fake_pending(void *ctx)
{
	return ((struct fake *)ctx)->pending;
}

static struct fake F;
static struct http_client_io IO = {&F, fake_read, fake_write, fake_pending};
static char buf[CAP];
static struct http_header hdr[HTTP_MAX_HEADERS];
static struct http_client_answer A;

/* Sets the script: pieces up to a NULL. */
static void script(const char *first, ...)
{
	memset(&F, 0, sizeof F);
	va_list ap;
	va_start(ap, first);
	for (const char *p = first; p; p = va_arg(ap, const char *)) {
		assert_true(F.n < MAX_PIECES);
		F.piece[F.n++] = p;
	}
	va_end(ap);
}

static int rd_cap(size_t cap, int head)
{
	memset(&A, 0x5a, sizeof A);
	return http_client_read(&IO, buf, cap, hdr, HTTP_MAX_HEADERS, head, &A,
	                        sock_now_ms() + WAIT_MS);
}

static int rd(void)
{
	return rd_cap(sizeof buf, 0);
}

static void expect_body(const char *want)
{
	assert_int_equal(A.body_len, strlen(want));
	assert_memory_equal(A.body, want, A.body_len);
}

/* Runs the current script whole, and again one byte per read: the result must not change. */
static void both_ways(int want_rc, int want_status, const char *want_body, int want_reuse)
{
	for (size_t step = 0; step <= 1; step++) {
		F.i = F.off = 0;
		F.step = step;
		assert_int_equal(rd(), want_rc);
		if (want_rc == 0) {
			assert_int_equal(A.res.status, want_status);
			expect_body(want_body);
			assert_int_equal(A.reuse, want_reuse);
			assert_int_equal(A.got, 1);
		}
	}
}

static void test_content_length(void **state)
{
	(void)state;
	script(
	    "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n",
	    "{\"id\":\"a\"}\r\n\r\n", NULL);
	both_ways(0, 202, "{\"id\":\"a\"}\r\n\r\n", 1);
	assert_int_equal(A.res.minor_version, 1);
	const struct http_header *ct = http_response_header_find(&A.res, "content-type");
	assert_non_null(ct);
	assert_int_equal(ct->value_len, strlen("application/json"));
	/* an empty body */
	script("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", NULL);
	both_ways(0, 200, "", 1);
}

static void test_chunked(void **state)
{
	(void)state;
	script("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n",
	       "6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n", NULL);
	both_ways(0, 200, "hello world", 1);
	/* the managed-identity endpoint answers like this (Kestrel) */
	script("HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
	       "Transfer-Encoding: chunked\r\n\r\n",
	       "3\r\n{\"a\r\n", "2\r\n\":\r\n", "2\r\n1}\r\n", "0\r\n\r\n", NULL);
	both_ways(0, 200, "{\"a\":1}", 1);
	/* a bad chunk size */
	script("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", NULL);
	both_ways(-ERR_UPSTREAM_BAD_RESPONSE, 0, 0, 0);
}

static void test_until_close(void **state)
{
	(void)state;
	script("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome ", "text", NULL);
	both_ways(0, 200, "some text", 0);
	/* the stream breaks instead of ending */
	script("HTTP/1.1 200 OK\r\n\r\nsome ", NULL);
	F.end = -ERR_IO;
	assert_int_equal(rd(), -ERR_IO);
}

static void test_no_body(void **state)
{
	(void)state;
	script("HTTP/1.1 204 No Content\r\n\r\n", NULL);
	both_ways(0, 204, "", 1);
	script("HTTP/1.1 304 Not Modified\r\nContent-Length: 20\r\n\r\n", NULL);
	both_ways(0, 304, "", 1);
	/* HEAD: Content-Length describes a body that does not come */
	script("HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n", NULL);
	assert_int_equal(rd_cap(sizeof buf, 1), 0);
	assert_int_equal(A.body_len, 0);
	assert_int_equal(A.reuse, 1);
}

static void test_reuse_rules(void **state)
{
	(void)state;
	script("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", NULL);
	both_ways(0, 200, "ok", 0);
	script("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", NULL);
	both_ways(0, 200, "ok", 0);
	script("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", NULL);
	both_ways(0, 200, "ok", 1);
	script("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok",
	       NULL);
	both_ways(0, 200, "ok", 0);
	/* bytes already waiting in the stream (a later TLS record) */
	script("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", NULL);
	F.pending = 1;
	assert_int_equal(rd(), 0);
	expect_body("ok");
	assert_int_equal(A.reuse, 0);
}

static void test_stray_bytes(void **state)
{
	(void)state;
	/* in the same read as the answer: the answer stands, the connection is not reused */
	script(
	    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\nnoHTTP/1.1 200 OK\r\n",
	    NULL);
	assert_int_equal(rd(), 0);
	assert_int_equal(A.res.status, 500);
	expect_body("no");
	assert_int_equal(A.reuse, 0);
	script("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nXYZ",
	       NULL);
	assert_int_equal(rd(), 0);
	expect_body("ok");
	assert_int_equal(A.reuse, 0);
	script("HTTP/1.1 204 No Content\r\n\r\nX", NULL);
	assert_int_equal(rd(), 0);
	assert_int_equal(A.reuse, 0);
	/* one byte per read: the reader stops at the answer's end; what follows stays unread */
	script("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokXYZ", NULL);
	F.step = 1;
	assert_int_equal(rd(), 0);
	expect_body("ok");
	assert_int_equal(A.reuse, 1);
}

static void test_interim(void **state)
{
	(void)state;
	script("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n",
	       "HTTP/1.1 202 Accepted\r\nContent-Length: 1\r\n\r\nx", NULL);
	both_ways(0, 202, "x", 1);
	script("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", NULL);
	both_ways(-ERR_UPSTREAM_BAD_RESPONSE, 0, 0, 0);
}

static void test_truncated(void **state)
{
	(void)state;
	/* nothing at all: a dead kept-alive connection, told apart by got == 0 */
	script(NULL);
	assert_int_equal(rd(), -ERR_IO);
	assert_int_equal(A.got, 0);
	script("HTTP/1.1 200 OK\r\nContent-Le", NULL);
	both_ways(-ERR_UPSTREAM_BAD_RESPONSE, 0, 0, 0);
	assert_int_equal(A.got, 1);
	script("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", NULL);
	both_ways(-ERR_UPSTREAM_BAD_RESPONSE, 0, 0, 0);
	script("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", NULL);
	both_ways(-ERR_UPSTREAM_BAD_RESPONSE, 0, 0, 0);
	script("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", NULL);
	both_ways(-ERR_UPSTREAM_BAD_RESPONSE, 0, 0, 0);
	/* the deadline passes in the middle: the I/O's error comes through */
	script("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", NULL);
	F.end = -ERR_TIMEOUT;
	assert_int_equal(rd(), -ERR_TIMEOUT);
	script("HTTP/1.1 2", NULL);
	F.end = -ERR_INTERNAL; /* a TLS failure */
	assert_int_equal(rd(), -ERR_INTERNAL);
}

static void test_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "HTTP/1.1 2000 OK\r\n\r\n",
	    "HTTP/2 200 OK\r\n\r\n",
	    "ICY 200 OK\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
	    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		script(bad[i], NULL);
		assert_int_equal(rd(), -ERR_UPSTREAM_BAD_RESPONSE);
	}
}

static void test_oversize(void **state)
{
	(void)state;
	static char big[CAP + 64];
	/* a header block larger than the buffer */
	memcpy(big, "HTTP/1.1 200 OK\r\nX-Big: ", 25);
	memset(big + 25, 'a', CAP);
	memcpy(big + 25 + CAP, "\r\n\r\n", 5);
	script(big, NULL);
	assert_int_equal(rd(), -ERR_UPSTREAM_BAD_RESPONSE);
	/* a body larger than what is left of the buffer: refused before reading it */
	script("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", NULL);
	assert_int_equal(rd_cap(80, 0), -ERR_UPSTREAM_BAD_RESPONSE);
	assert_int_equal(F.reads, 1);
	script("HTTP/1.1 200 OK\r\nContent-Length: 100000000000000000000\r\n\r\n", NULL);
	assert_int_equal(rd(), -ERR_UPSTREAM_BAD_RESPONSE);
	/* a chunked or close-delimited body that fills the buffer */
	script("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "40\r\n",
	       "0123456789012345678901234567890123456789012345678901234567890123\r\n0\r\n\r\n",
	       NULL);
	assert_int_equal(rd_cap(100, 0), -ERR_UPSTREAM_BAD_RESPONSE);
	script("HTTP/1.1 200 OK\r\n\r\n", "0123456789012345678901234567890123456789012345678",
	       NULL);
	assert_int_equal(rd_cap(60, 0), -ERR_UPSTREAM_BAD_RESPONSE);
	/* the same answers fit a larger buffer */
	script("HTTP/1.1 200 OK\r\n\r\n", "0123456789", NULL);
	assert_int_equal(rd_cap(60, 0), 0);
	expect_body("0123456789");
}

static void test_exchange(void **state)
{
	(void)state;
	static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	script("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", NULL);
	assert_int_equal(http_client_exchange(&IO, req, sizeof req - 1, buf, sizeof buf, hdr,
	                                      HTTP_MAX_HEADERS, 0, &A, sock_now_ms() + WAIT_MS),
	                 0);
	assert_int_equal(F.wrote_len, sizeof req - 1);
	assert_memory_equal(F.wrote, req, sizeof req - 1);
	expect_body("ok");
	/* the write fails: nothing is read, got says no answer byte came */
	script("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", NULL);
	F.write_result = -ERR_IO;
	A.got = 1;
	assert_int_equal(http_client_exchange(&IO, req, sizeof req - 1, buf, sizeof buf, hdr,
	                                      HTTP_MAX_HEADERS, 0, &A, sock_now_ms() + WAIT_MS),
	                 -ERR_IO);
	assert_int_equal(A.got, 0);
	assert_int_equal(F.reads, 0);
}

static void test_tcp_io(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct http_client_io io;
	http_client_tcp(&io, sv[0]);
	static const char ans[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	assert_int_equal(write(sv[1], ans, sizeof ans - 1), (ssize_t)sizeof ans - 1);
	assert_int_equal(http_client_exchange(&io, "GET / HTTP/1.1\r\n\r\n", 18, buf, sizeof buf,
	                                      hdr, HTTP_MAX_HEADERS, 0, &A,
	                                      sock_now_ms() + WAIT_MS),
	                 0);
	expect_body("hello");
	assert_int_equal(A.reuse, 1);
	char got[32];
	assert_int_equal(read(sv[1], got, sizeof got), 18);
	/* a silent server: the deadline ends the wait */
	int64_t t0 = sock_now_ms();
	assert_int_equal(
	    http_client_read(&io, buf, sizeof buf, hdr, HTTP_MAX_HEADERS, 0, &A, t0 + 100),
	    -ERR_TIMEOUT);
	assert_true(sock_now_ms() - t0 >= 100);
	close(sv[1]);
	assert_int_equal(http_client_read(&io, buf, sizeof buf, hdr, HTTP_MAX_HEADERS, 0, &A,
	                                  sock_now_ms() + WAIT_MS),
	                 -ERR_IO);
	close(sv[0]);
}

static void test_connect(void **state)
{
	(void)state;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
	socklen_t sl = sizeof sa;
	assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
	assert_int_equal(listen(l, 4), 0);
	uint16_t port = ntohs(sa.sin_port);
	const char *why = 0;
	int fd = http_client_connect("127.0.0.1", port, sock_now_ms() + WAIT_MS, &why);
	assert_true(fd >= 0);
	close(fd);
	close(l);
	fd = http_client_connect("127.0.0.1", port, sock_now_ms() + WAIT_MS, &why);
	assert_int_equal(fd, -ERR_UPSTREAM_CONNECT);
	assert_string_equal(why, "connection refused");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_content_length), cmocka_unit_test(test_chunked),
	    cmocka_unit_test(test_until_close),    cmocka_unit_test(test_no_body),
	    cmocka_unit_test(test_reuse_rules),    cmocka_unit_test(test_stray_bytes),
	    cmocka_unit_test(test_interim),        cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_malformed),      cmocka_unit_test(test_oversize),
	    cmocka_unit_test(test_exchange),       cmocka_unit_test(test_tcp_io),
	    cmocka_unit_test(test_connect),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
