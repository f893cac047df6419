/*
 * coldstart.c: exec -> first answer, the way a host meets a fresh handler. For each run: fork,
 * exec the server (argv[3..]) with PORT / FUNCTIONS_CUSTOMHANDLER_PORT set, retry connect every
 * 50 us (the first accepted connection is "ready"), send one POST, stop the clock when the whole
 * answer has arrived, kill the server. Prints, in milliseconds, the median, p10 and p90 of exec
 * -> first 202, the number of good runs, then the median, p10 and p90 of exec -> ready.
 * usage: coldstart RUNS PORT server [args...]   (environment passes through)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char body[] =
    "{\"to_email\":\"you@example.com\",\"subject\":\"cold start\",\"message\":\"hello\"}";

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One run; returns milliseconds to the 202 or -1, and the milliseconds to ready in *ready. */
static double run(int port, char **argv, double *ready)
{
	char req[512];
	int n = snprintf(req, sizeof req,
	                 "POST /api/notification HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
	                 "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
	                 sizeof body - 1, body);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	double t0 = now_ms();
	pid_t pid = fork();
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	double ms = -1;
	for (;;) {
		if (now_ms() - t0 > 10000)
			break;
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
			close(fd);
			usleep(50);
			continue;
		}
		*ready = now_ms() - t0;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (write(fd, req, (size_t)n) != n) {
			close(fd);
			break;
		}
		char buf[4096];
		size_t got = 0;
		ssize_t r;
		while ((r = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
			got += (size_t)r;
		buf[got] = 0;
		close(fd);
		if (strncmp(buf, "HTTP/1.1 202", 12) == 0 || strncmp(buf, "HTTP/1.0 202", 12) == 0)
			ms = now_ms() - t0;
		break;
	}
	kill(pid, SIGKILL);
	waitpid(pid, 0, 0);
	return ms;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: coldstart RUNS PORT server [args...]\n");
		return 2;
	}
	int runs = atoi(argv[1]), port = atoi(argv[2]), ok = 0;
	double *t = calloc((size_t)runs, sizeof *t), *r = calloc((size_t)runs, sizeof *r);
	char p[16];
	snprintf(p, sizeof p, "%d", port);
	setenv("PORT", p, 1);
	setenv("FUNCTIONS_CUSTOMHANDLER_PORT", p, 1);
	for (int i = 0; i < runs; i++) {
		double rd = -1, ms = run(port, argv + 3, &rd);
		if (ms >= 0) {
			r[ok] = rd;
			t[ok++] = ms;
		}
	}
	if (ok == 0) {
		fprintf(stderr, "coldstart: no successful run\n");
		return 1;
	}
	qsort(t, (size_t)ok, sizeof *t, cmp);
	qsort(r, (size_t)ok, sizeof *r, cmp);
	printf("%.3f %.3f %.3f %d %.3f %.3f %.3f\n", t[ok / 2], t[ok / 10], t[ok * 9 / 10], ok,
	       r[ok / 2], r[ok / 10], r[ok * 9 / 10]);
	return 0;
}
