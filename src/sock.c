/* sock.c: the clock, the waits, connect, reads and writes of sock.h. */
#include "sock.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

/* see sock.h */
int64_t sock_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* see sock.h */
int64_t sock_now_ms(void)
{
	return sock_now_ns() / 1000000;
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
	if (r < 0 && e == EINPROGRESS) {
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
	} else if (r == 0) {
		return fd;
	}
	close(fd);
	errno = e;
	return -ERR_IO;
}

/* see sock.h */
ssize_t sock_send(int fd, const void *p, size_t n)
{
	return send(fd, p, n, MSG_NOSIGNAL);
}

/* see sock.h */
ssize_t sock_recv(int fd, void *p, size_t n)
{
	return recv(fd, p, n, 0);
}

/* see sock.h */
long sock_write_all(int fd, const void *p, size_t n, int64_t deadline_ms)
{
	const char *s = p;
	size_t done = 0;
	while (done < n) {
		ssize_t k = send(fd, s + done, n - done, MSG_NOSIGNAL);
		if (k > 0) {
			done += (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = sock_wait(fd, POLLOUT, deadline_ms);
			if (rc < 0)
				return rc;
			continue;
		}
		return -ERR_IO;
	}
	return (long)n;
}

/* see sock.h */
long sock_read(int fd, void *p, size_t n, int64_t deadline_ms)
{
	for (;;) {
		ssize_t k = recv(fd, p, n, 0);
		if (k >= 0)
			return (long)k;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -ERR_IO;
		int rc = sock_wait(fd, POLLIN, deadline_ms);
		if (rc < 0)
			return rc;
	}
}
