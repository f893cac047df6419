/*
 * test_sock.c: the socket layer of sock.h over socketpairs and loopback: the clock, the wait,
 * connect with a deadline (a listener whose accept queue is full leaves the SYN unanswered, so
 * the connect has to give up at its deadline), reads and writes with a deadline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "sock.h"

/* A deadline short enough to keep the tests fast, long enough to be measured. */
#define WAIT_MS 150
/* Slack for a loaded machine: a wait that ends this much after its deadline still passes. */
#define SLACK_MS 2000
/* Bytes written to fill a socket's buffers: well over the default socketpair buffers. */
#define FILL_BYTES (8 * 1024 * 1024)
/* Connections queued on the full listener (its queue takes one with backlog 0). */
#define QUEUED 2

static char big[FILL_BYTES];

/* A non-blocking AF_UNIX stream socketpair. */
static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* A loopback listener on an ephemeral port with `backlog`; its address in sa. */
static int listener(int backlog, struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)sa, sizeof *sa), 0);
	socklen_t l = sizeof *sa;
	assert_int_equal(getsockname(fd, (struct sockaddr *)sa, &l), 0);
	assert_int_equal(listen(fd, backlog), 0);
	return fd;
}

static void assert_took(int64_t t0, int64_t min_ms)
{
	int64_t took = sock_now_ms() - t0;
	if (took < min_ms || took > min_ms + SLACK_MS)
		fail_msg("took %lld ms, expected %lld", (long long)took, (long long)min_ms);
}

static void test_clock(void **state)
{
	(void)state;
	int64_t a = sock_now_ns(), ms = sock_now_ms(), b = sock_now_ns();
	assert_true(a > 0 && b >= a);
	assert_true(ms >= a / 1000000 && ms <= b / 1000000);
	struct timespec ts = {0, 20 * 1000000L};
	nanosleep(&ts, 0);
	assert_true(sock_now_ns() - b >= 20 * 1000000LL);
}

static void test_wait(void **state)
{
	(void)state;
	int sv[2];
	pair(sv);
	int64_t t0 = sock_now_ms();
	assert_int_equal(sock_wait(sv[0], POLLIN, t0 + WAIT_MS), -ERR_TIMEOUT);
	assert_took(t0, WAIT_MS);
	assert_int_equal(sock_wait(sv[0], POLLIN, t0 - 1), -ERR_TIMEOUT); /* already past */
	assert_int_equal(sock_readable(sv[0]), 0);
	assert_int_equal(sock_wait(sv[0], POLLOUT, sock_now_ms() + WAIT_MS), 0);
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(sock_wait(sv[0], POLLIN, sock_now_ms() + WAIT_MS), 0);
	assert_int_equal(sock_readable(sv[0]), 1);
	close(sv[0]);
	close(sv[1]);
}

static void test_read(void **state)
{
	(void)state;
	int sv[2];
	char b[16];
	pair(sv);
	int64_t t0 = sock_now_ms();
	assert_int_equal(sock_read(sv[0], b, sizeof b, t0 + WAIT_MS), -ERR_TIMEOUT);
	assert_took(t0, WAIT_MS);
	assert_int_equal(write(sv[1], "hello", 5), 5);
	assert_int_equal(sock_read(sv[0], b, sizeof b, sock_now_ms() + WAIT_MS), 5);
	assert_memory_equal(b, "hello", 5);
	assert_int_equal(write(sv[1], "abc", 3), 3);
	assert_int_equal(sock_read(sv[0], b, 2, sock_now_ms() + WAIT_MS), 2); /* at most n */
	assert_int_equal(sock_read(sv[0], b, sizeof b, sock_now_ms() + WAIT_MS), 1);
	close(sv[1]);
	assert_int_equal(sock_read(sv[0], b, sizeof b, sock_now_ms() + WAIT_MS), 0); /* end */
	close(sv[0]);
	assert_int_equal(sock_read(sv[0], b, sizeof b, sock_now_ms() + WAIT_MS), -ERR_IO);
}

static void test_write(void **state)
{
	(void)state;
	int sv[2];
	pair(sv);
	assert_int_equal(sock_write_all(sv[0], "ping", 4, sock_now_ms() + WAIT_MS), 4);
	char b[8];
	assert_int_equal(read(sv[1], b, sizeof b), 4);
	/* a peer that never reads: the write gives up at its deadline */
	int64_t t0 = sock_now_ms();
	assert_int_equal(sock_write_all(sv[0], big, sizeof big, t0 + WAIT_MS), -ERR_TIMEOUT);
	assert_took(t0, WAIT_MS);
	/* a peer that is gone: an error, not SIGPIPE */
	close(sv[1]);
	assert_int_equal(sock_write_all(sv[0], "x", 1, sock_now_ms() + WAIT_MS), -ERR_IO);
	assert_int_equal(sock_send(sv[0], "x", 1), -ERR_IO);
	assert_int_equal(errno, EPIPE);
	close(sv[0]);
}

static void test_connect(void **state)
{
	(void)state;
	struct sockaddr_in sa;
	int l = listener(8, &sa);
	int fd =
	    sock_connect((struct sockaddr *)&sa, sizeof sa, SOCK_STREAM, sock_now_ms() + WAIT_MS);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	int c = accept(l, 0, 0);
	assert_true(c >= 0);
	assert_int_equal(sock_write_all(fd, "hi", 2, sock_now_ms() + WAIT_MS), 2);
	char b[4];
	assert_int_equal(read(c, b, sizeof b), 2);
	close(c);
	close(fd);
	close(l);
	/* nobody listens there any more: refused at once, errno says so */
	int64_t t0 = sock_now_ms();
	assert_int_equal(
	    sock_connect((struct sockaddr *)&sa, sizeof sa, SOCK_STREAM, t0 + 10 * WAIT_MS),
	    -ERR_IO);
	assert_int_equal(errno, ECONNREFUSED);
	assert_true(sock_now_ms() - t0 < 10 * WAIT_MS);
}

static void test_connect_deadline(void **state)
{
	(void)state;
	struct sockaddr_in sa;
	int l = listener(0, &sa);
	int q[QUEUED], n = 0;
	/* fill the accept queue; the connect after that gets no SYN-ACK */
	for (int i = 0; i < QUEUED; i++) {
		q[i] = sock_connect((struct sockaddr *)&sa, sizeof sa, SOCK_STREAM,
		                    sock_now_ms() + WAIT_MS);
		if (q[i] >= 0)
			n++;
		else
			assert_int_equal(q[i], -ERR_TIMEOUT);
	}
	assert_true(n >= 1);
	int64_t t0 = sock_now_ms();
	assert_int_equal(sock_connect((struct sockaddr *)&sa, sizeof sa, SOCK_STREAM, t0 + WAIT_MS),
	                 -ERR_TIMEOUT);
	assert_int_equal(errno, ETIMEDOUT);
	assert_took(t0, WAIT_MS);
	for (int i = 0; i < QUEUED; i++)
		if (q[i] >= 0)
			close(q[i]);
	close(l);
}

static void test_datagram(void **state)
{
	(void)state;
	struct sockaddr_in sa;
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(u, (struct sockaddr *)&sa, sizeof sa), 0);
	socklen_t l = sizeof sa;
	assert_int_equal(getsockname(u, (struct sockaddr *)&sa, &l), 0);
	int fd =
	    sock_connect((struct sockaddr *)&sa, sizeof sa, SOCK_DGRAM, sock_now_ms() + WAIT_MS);
	assert_true(fd >= 0);
	assert_int_equal(sock_send(fd, "q", 1), 1);
	char b[4];
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	assert_int_equal(recvfrom(u, b, sizeof b, 0, (struct sockaddr *)&from, &fl), 1);
	assert_int_equal(sendto(u, "a", 1, 0, (struct sockaddr *)&from, fl), 1);
	assert_int_equal(sock_wait(fd, POLLIN, sock_now_ms() + WAIT_MS), 0);
	assert_int_equal(sock_recv(fd, b, sizeof b), 1);
	assert_int_equal(b[0], 'a');
	assert_int_equal(sock_recv(fd, b, sizeof b), -ERR_PARTIAL);
	close(fd);
	close(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clock),    cmocka_unit_test(test_wait),
	    cmocka_unit_test(test_read),     cmocka_unit_test(test_write),
	    cmocka_unit_test(test_connect),  cmocka_unit_test(test_connect_deadline),
	    cmocka_unit_test(test_datagram),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
