/* sock.c: the clock and the wait of sock.h. */
#include "sock.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <time.h>

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
