/* sock.c: the clock, the waits, connect, accept, reads and writes of sock.h. */
#include "sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <limits.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

/* see sock.h */
int64_t sock_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* see sock.h */
int sock_wait(int fd, short events, int64_t deadline_ms)
{
	for (;;) {
		int64_t left = deadline_ms - sock_now_ms();
		if (left <= 0)
			return -ERR_TIMEOUT;
		struct pollfd pf = {fd, events, 0};
		int r = poll(&pf, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -ERR_IO;
	}
}

/* see sock.h */
int64_t sock_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* see sock.h */
long sock_recv(int fd, void *p, size_t n)
{
	for (;;) {
		ssize_t r = recv(fd, p, n, MSG_DONTWAIT);
		if (r >= 0)
			return (long)r;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? -ERR_PARTIAL : -ERR_IO;
	}
}

/* see sock.h */
long sock_send(int fd, const void *p, size_t n)
{
	for (;;) {
		ssize_t r = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r >= 0)
			return (long)r;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? -ERR_PARTIAL : -ERR_IO;
	}
}

/* see sock.h */
int sock_accept(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		switch (errno) {
		case EINTR:
		case ECONNABORTED: /* the client left before we took it: the next one */
		case EPROTO:
			continue;
		case EAGAIN:
#if EWOULDBLOCK != EAGAIN
		case EWOULDBLOCK:
#endif
			return -ERR_PARTIAL;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			return -ERR_UNAVAILABLE;
		default:
			return -ERR_IO;
		}
	}
}

/* see sock.h */
void sock_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* see sock.h */
int sock_readable(int fd)
{
	struct pollfd pf = {fd, POLLIN, 0};
	return poll(&pf, 1, 0) != 0;
}

/* see sock.h */
int sock_connect(const struct sockaddr *sa, socklen_t len, int type, int64_t deadline_ms)
{
	int fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -ERR_IO;
	int r = connect(fd, sa, len), e = errno;
	if (r == 0)
		return fd;
	if (e == EINPROGRESS) {
		r = sock_wait(fd, POLLOUT, deadline_ms);
		if (r == -ERR_TIMEOUT) {
			close(fd);
			errno = ETIMEDOUT;
			return -ERR_TIMEOUT;
		}
		socklen_t el = sizeof e;
		e = 0;
		if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0)
			return fd;
		if (e == 0)
			e = EIO;
	}
	close(fd);
	errno = e;
	return -ERR_IO;
}

/* see sock.h */
long sock_write_all(int fd, const void *p, size_t n, int64_t deadline_ms)
{
	const char *s = p;
	size_t done = 0;
	while (done < n) {
		long k = sock_send(fd, s + done, n - done);
		if (k > 0) {
			done += (size_t)k;
			continue;
		}
		if (k != -ERR_PARTIAL)
			return -ERR_IO;
		int rc = sock_wait(fd, POLLOUT, deadline_ms);
		if (rc < 0)
			return rc;
	}
	return (long)n;
}

/* see sock.h */
long sock_read(int fd, void *p, size_t n, int64_t deadline_ms)
{
	for (;;) {
		long k = sock_recv(fd, p, n);
		if (k != -ERR_PARTIAL)
			return k;
		int rc = sock_wait(fd, POLLIN, deadline_ms);
		if (rc < 0)
			return rc;
	}
}
