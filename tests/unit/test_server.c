/* test_server.c: the connection core of server.h, its loop driven step by step from the test's
 * thread (server_step) over socketpairs (server_adopt) and loopback TCP, with real workers and a
 * fake transport whose sends can be held at a gate: split and pipelined requests, the head,
 * body, write and idle deadlines, backpressure from a client that does not read, the in-flight
 * byte budget, the connection limit, and the drain. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "app.h"
#include "err.h"
#include "server.h"
#include "sock.h"

#define MAX_CONNS 8
#define WORKERS   2
#define MAX_BODY  (64 * 1024)
#define IDEM_N    64

static const char body_ok[] = "{\"to_email\":\"you@example.com\",\"subject\":\"Hi\","
                              "\"message\":\"Hello\"}";

/* ---- a transport whose sends wait at a gate ------------------------------------------------ */

static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int gate_closed, sends, waiting;

static int gate_send(void *ctx, void *wctx, const struct notify_msg *msg, const char *id,
                     struct transport_result *r)
{
	(void)ctx, (void)wctx, (void)msg, (void)id;
	pthread_mutex_lock(&gate_mu);
	waiting++;
	while (gate_closed)
		pthread_cond_wait(&gate_cv, &gate_mu);
	waiting--;
	sends++;
	pthread_mutex_unlock(&gate_mu);
	r->state = "Succeeded";
	return 0;
}

static int gate_status(void *ctx, void *wctx, const char *id, struct transport_result *r)
{
	(void)ctx, (void)wctx, (void)id, (void)r;
	return -ERR_NOT_FOUND;
}

static void gate(int closed)
{
	pthread_mutex_lock(&gate_mu);
	gate_closed = closed;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mu);
}

static int sends_now(void)
{
	pthread_mutex_lock(&gate_mu);
	int n = sends;
	pthread_mutex_unlock(&gate_mu);
	return n;
}

static int waiting_now(void)
{
	pthread_mutex_lock(&gate_mu);
	int n = waiting;
	pthread_mutex_unlock(&gate_mu);
	return n;
}

/* ---- one server per test ------------------------------------------------------------------- */

static struct transport tr;
static struct idem_entry idem_mem[IDEM_N];
static struct idem_table idem;
static struct app app;
static struct server srv;
static struct server_conn conns[MAX_CONNS];
static int free_idx[MAX_CONNS], jobs[MAX_CONNS], done_ring[MAX_CONNS];
static struct server_worker w[WORKERS];
static struct app_slot slots[WORKERS];
static char *conn_mem, *worker_mem;
static size_t conn_mem_len, worker_mem_len;

static struct server_opts defaults(void)
{
	struct server_opts o = {
	    .bind = "127.0.0.1",
	    .port = 0,
	    .workers = WORKERS,
	    .max_conns = MAX_CONNS,
	    .max_body = MAX_BODY,
	    .max_inflight = 1 << 20,
	    .header_timeout_ms = 5000,
	    .body_timeout_ms = 5000,
	    .read_timeout_ms = 5000,
	    .write_timeout_ms = 5000,
	    .idle_timeout_ms = 5000,
	    .drain_timeout_ms = 2000,
	};
	return o;
}

static void start(struct server_opts o)
{
	char err[256];
	gate(0);
	sends = waiting = 0;
	memset(&tr, 0, sizeof tr);
	tr.name = "gate";
	tr.send = gate_send;
	tr.status = gate_status;
	memset(&app, 0, sizeof app);
	idem_init(&idem, idem_mem, IDEM_N, 3600);
	app.tr = &tr;
	app.idem = &idem;
	app.envelope_limit = APP_ENVELOPE_FACTOR * MAX_BODY;
	app.max_body = MAX_BODY;
	conn_mem_len = (size_t)o.max_conns * server_conn_stride(MAX_BODY);
	conn_mem =
	    mmap(0, conn_mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(conn_mem != MAP_FAILED);
	size_t per = APP_SCRATCH_SIZE(MAX_BODY) + APP_ANSWER_MAX + APP_QUEUE_MSG_MAX +
	             INVOKE_MAX_TOKENS * sizeof(struct json_tok);
	worker_mem_len = WORKERS * per;
	worker_mem =
	    mmap(0, worker_mem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(worker_mem != MAP_FAILED);
	memset(w, 0, sizeof w);
	for (int i = 0; i < WORKERS; i++) {
		char *p = worker_mem + (size_t)i * per;
		w[i].slot = &slots[i];
		w[i].plan.scratch_cap = APP_SCRATCH_SIZE(MAX_BODY);
		w[i].plan.scratch = p;
		p += w[i].plan.scratch_cap;
		w[i].obuf = p;
		w[i].ocap = APP_ANSWER_MAX;
		p += APP_ANSWER_MAX;
		w[i].plan.qbuf = p;
		p += APP_QUEUE_MSG_MAX;
		w[i].plan.itok = (struct json_tok *)p;
	}
	memset(conns, 0, sizeof conns);
	assert_int_equal(server_init(&srv, &o, &app, conns, free_idx, conn_mem, MAX_BODY, jobs,
	                             done_ring, w, err, sizeof err),
	                 0);
	assert_int_equal(server_start(&srv), 0);
}

/* Drains the server (releasing the gate) and frees what start() took. */
static int stop(void)
{
	gate(0);
	server_stop(&srv);
	int64_t until = sock_now_ms() + 5000;
	while (server_step(&srv, 10) && sock_now_ms() < until)
		;
	int rc = server_finish(&srv);
	munmap(conn_mem, conn_mem_len);
	munmap(worker_mem, worker_mem_len);
	return rc;
}

/* Runs the loop for ms milliseconds. */
static void pump(int ms)
{
	int64_t until = sock_now_ms() + ms;
	while (sock_now_ms() < until)
		server_step(&srv, 5);
}

/* A connected pair: one end adopted by the server, the other returned. */
static int pair(void)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(server_adopt(&srv, sv[0]), 0);
	return sv[1];
}

static void put(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
		assert_true(k > 0);
		s += k;
		n -= (size_t)k;
	}
}

static void puts_(int fd, const char *s)
{
	put(fd, s, strlen(s));
}

/* Reads what the client side has, pumping the loop, until `want` answers have arrived (counted
 * as "HTTP/1.1 " status lines), the peer closed (sets *eof), or ms pass. Returns the bytes. */
static size_t collect(int fd, char *buf, size_t cap, int want, int ms, int *eof)
{
	size_t len = 0;
	int64_t until = sock_now_ms() + ms;
	*eof = 0;
	while (sock_now_ms() < until) {
		server_step(&srv, 5);
		for (;;) {
			ssize_t n = recv(fd, buf + len, cap - 1 - len, MSG_DONTWAIT);
			if (n == 0) {
				*eof = 1;
				buf[len] = 0;
				return len;
			}
			if (n < 0)
				break;
			len += (size_t)n;
		}
		buf[len] = 0;
		int got = 0;
		for (const char *p = buf; (p = strstr(p, "HTTP/1.1 ")); p++)
			got += strncmp(p + 9, "100", 3) != 0;
		if (want > 0 && got >= want)
			return len;
	}
	return len;
}

static const char *post(char *mem, size_t cap, const char *extra)
{
	snprintf(mem, cap,
	         "POST /api/notification HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	         "%sContent-Length: %zu\r\n\r\n%s",
	         extra, sizeof body_ok - 1, body_ok);
	return mem;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void split_and_pipelined_requests(void **state)
{
	(void)state;
	char req[512], two[2048], in[8192];
	int eof;
	start(defaults());
	int fd = pair();
	post(req, sizeof req, "");
	/* the head in pieces, then the body: one answer */
	put(fd, req, 20);
	pump(20);
	put(fd, req + 20, strlen(req) - 25);
	pump(20);
	assert_int_equal(sends_now(), 0); /* nothing sent for an unfinished body */
	puts_(fd, req + strlen(req) - 5);
	collect(fd, in, sizeof in, 1, 2000, &eof);
	assert_non_null(strstr(in, "HTTP/1.1 202 "));
	/* two requests and a 404 in one write: three answers, in order */
	snprintf(two, sizeof two, "%sGET /nope HTTP/1.1\r\nHost: x\r\n\r\n%s", req, req);
	puts_(fd, two);
	collect(fd, in, sizeof in, 3, 2000, &eof);
	char *a = strstr(in, "HTTP/1.1 202 "), *b = strstr(in, "HTTP/1.1 404 ");
	assert_non_null(a);
	assert_non_null(b);
	assert_true(a < b);
	assert_non_null(strstr(b, "HTTP/1.1 202 "));
	assert_int_equal(sends_now(), 3);
	assert_int_equal(eof, 0);
	close(fd);
	assert_int_equal(stop(), 0);
}

static void head_deadline_is_absolute(void **state)
{
	(void)state;
	char in[4096];
	int eof;
	struct server_opts o = defaults();
	o.header_timeout_ms = 300;
	start(o);
	int fd = pair();
	const char *head = "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	int64_t t0 = sock_now_ms();
	/* one byte every 50 ms: each byte arrives long before any per-read timeout would end */
	size_t n = 0;
	eof = 0;
	for (int i = 0; head[i] && !n && !eof && sock_now_ms() - t0 < 1500; i++) {
		put(fd, head + i, 1);
		n = collect(fd, in, sizeof in, 1, 50, &eof);
	}
	if (!n)
		collect(fd, in, sizeof in, 1, 500, &eof);
	int64_t took = sock_now_ms() - t0;
	assert_non_null(strstr(in, "HTTP/1.1 408 "));
	assert_true(took >= 300 && took < 1000);
	close(fd);
	assert_int_equal(stop(), 0);
}

static void body_deadline_is_a_total(void **state)
{
	(void)state;
	char req[512], in[4096];
	int eof;
	struct server_opts o = defaults();
	o.body_timeout_ms = 300;
	o.read_timeout_ms = 200;
	start(o);
	int fd = pair();
	snprintf(req, sizeof req,
	         "POST /api/notification HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	         "Content-Length: 1000\r\n\r\n");
	puts_(fd, req);
	int64_t t0 = sock_now_ms();
	size_t n = 0;
	eof = 0;
	while (n == 0 && !eof && sock_now_ms() - t0 < 2000) {
		puts_(fd, " "); /* a byte every 50 ms: never a 200 ms gap */
		n = collect(fd, in, sizeof in, 1, 50, &eof);
	}
	int64_t took = sock_now_ms() - t0;
	assert_non_null(strstr(in, "HTTP/1.1 408 "));
	assert_true(took >= 250 && took < 1000);
	assert_int_equal(sends_now(), 0);
	close(fd);
	assert_int_equal(stop(), 0);
}

static void body_gap_deadline(void **state)
{
	(void)state;
	char req[512], in[4096];
	int eof;
	struct server_opts o = defaults();
	o.read_timeout_ms = 200;
	start(o);
	int fd = pair();
	puts_(fd, "POST /api/notification HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	          "Content-Length: 1000\r\n\r\n{");
	collect(fd, in, sizeof in, 1, 1000, &eof);
	assert_non_null(strstr(in, "HTTP/1.1 408 "));
	(void)req;
	close(fd);
	assert_int_equal(stop(), 0);
}

static void waiting_request_is_not_idle(void **state)
{
	(void)state;
	char req[512], in[4096];
	int eof;
	struct server_opts o = defaults();
	o.idle_timeout_ms = 100;
	start(o);
	gate(1);
	post(req, sizeof req, "");
	int a = pair(), b = pair(), c = pair();
	puts_(a, req);
	puts_(b, req);
	puts_(c, req); /* both workers wait at the gate: c's complete request waits for one */
	int64_t t0 = sock_now_ms();
	while (waiting_now() < WORKERS && sock_now_ms() - t0 < 2000)
		pump(5);
	assert_int_equal(waiting_now(), WORKERS);
	pump(400); /* four idle timeouts */
	gate(0);
	collect(c, in, sizeof in, 1, 2000, &eof);
	assert_non_null(strstr(in, "HTTP/1.1 202 "));
	collect(a, in, sizeof in, 1, 2000, &eof);
	assert_non_null(strstr(in, "HTTP/1.1 202 "));
	/* after the answer, an idle connection is closed at the idle deadline */
	collect(a, in, sizeof in, 0, 1000, &eof);
	assert_int_equal(eof, 1);
	close(a), close(b), close(c);
	assert_int_equal(stop(), 0);
}

static void reader_that_does_not_read(void **state)
{
	(void)state;
	static char flood[256 * 1024];
	char in[4096];
	int eof;
	struct server_opts o = defaults();
	o.write_timeout_ms = 300;
	start(o);
	int sv[2], small = 4096;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	assert_int_equal(server_adopt(&srv, sv[0]), 0);
	const char *one = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t n = 0, ol = strlen(one);
	while (n + ol < sizeof flood) {
		memcpy(flood + n, one, ol);
		n += ol;
	}
	size_t sent = 0;
	int64_t t0 = sock_now_ms();
	while (sent < n && sock_now_ms() - t0 < 500) {
		ssize_t k = send(sv[1], flood + sent, n - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k > 0)
			sent += (size_t)k;
		server_step(&srv, 5);
	}
	/* The server holds at most one answer for this client, far below the 8000 asked. */
	assert_true(atomic_load(&srv.inflight) <= (int64_t)(APP_ANSWER_MAX + SERVER_OUT_SLACK));
	/* ... and another client is served meanwhile */
	char req[512];
	int other = pair();
	puts_(other, post(req, sizeof req, ""));
	collect(other, in, sizeof in, 1, 1000, &eof);
	assert_non_null(strstr(in, "HTTP/1.1 202 "));
	/* At the write deadline the non-reader is cut: what it finally reads ends in EOF. */
	pump(600);
	int64_t until = sock_now_ms() + 2000;
	eof = 0;
	while (!eof && sock_now_ms() < until) {
		ssize_t k = recv(sv[1], in, sizeof in, MSG_DONTWAIT);
		if (k == 0 || (k < 0 && errno != EAGAIN))
			eof = 1;
		server_step(&srv, 5);
	}
	assert_int_equal(eof, 1);
	assert_int_equal(srv.nconns, 1);
	close(sv[1]);
	close(other);
	assert_int_equal(stop(), 0);
}

static void budget_refuses_big_bodies_not_small_ones(void **state)
{
	(void)state;
	static char big[MAX_BODY];
	char head[256], req[512], in[4096];
	int eof;
	struct server_opts o = defaults();
	o.max_inflight = 65536;
	start(o);
	memset(big, ' ', sizeof big);
	int fds[3];
	for (int i = 0; i < 3; i++) { /* three bodies of 40 KiB, held unfinished: 120 KiB */
		fds[i] = pair();
		snprintf(head, sizeof head,
		         "POST /api/notification HTTP/1.1\r\nHost: x\r\nContent-Type: "
		         "application/json\r\nContent-Length: %d\r\n\r\n",
		         MAX_BODY - 1);
		puts_(fds[i], head);
		put(fds[i], big, 40 * 1024);
		pump(20);
	}
	int refused = 0;
	for (int i = 0; i < 3; i++) {
		size_t n = collect(fds[i], in, sizeof in, 1, 50, &eof);
		if (n && strstr(in, "HTTP/1.1 503 "))
			refused++;
	}
	assert_true(refused >= 1);
	assert_true(atomic_load(&srv.inflight) <= 65536);
	/* an ordinary request still fits in its connection's first page */
	int small = pair();
	puts_(small, post(req, sizeof req, ""));
	collect(small, in, sizeof in, 1, 1000, &eof);
	assert_non_null(strstr(in, "HTTP/1.1 202 "));
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	close(small);
	assert_int_equal(stop(), 0);
}

static void connection_limit_answers_503(void **state)
{
	(void)state;
	char in[4096];
	int eof, fds[MAX_CONNS + 1];
	start(defaults());
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(server_port(&srv))};
	sa.sin_addr.s_addr = htonl(0x7f000001);
	for (int i = 0; i <= MAX_CONNS; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(fds[i], (struct sockaddr *)&sa, sizeof sa), 0);
		pump(5);
	}
	collect(fds[MAX_CONNS], in, sizeof in, 1, 1000, &eof);
	assert_non_null(strstr(in, "HTTP/1.1 503 "));
	assert_non_null(strstr(in, "Retry-After: 1"));
	assert_int_equal(srv.nconns, MAX_CONNS);
	/* a slot that frees up is used again */
	close(fds[0]);
	pump(20);
	int again = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(again, (struct sockaddr *)&sa, sizeof sa), 0);
	puts_(again, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	collect(again, in, sizeof in, 1, 1000, &eof);
	assert_non_null(strstr(in, "HTTP/1.1 200 "));
	for (int i = 1; i <= MAX_CONNS; i++)
		close(fds[i]);
	close(again);
	assert_int_equal(stop(), 0);
}

static void drain_finishes_in_flight_and_closes(void **state)
{
	(void)state;
	char req[512], in[4096];
	int eof;
	start(defaults());
	gate(1);
	int busy = pair(), idle = pair();
	puts_(busy, post(req, sizeof req, ""));
	int64_t t0 = sock_now_ms();
	while (waiting_now() < 1 && sock_now_ms() - t0 < 2000)
		pump(5);
	puts_(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	collect(idle, in, sizeof in, 1, 1000, &eof);
	assert_non_null(strstr(in, "HTTP/1.1 200 "));
	server_stop(&srv);
	pump(300);
	/* the idle keep-alive connection is closed at once; the busy one waits for its answer */
	collect(idle, in, sizeof in, 0, 200, &eof);
	assert_int_equal(eof, 1);
	gate(0);
	collect(busy, in, sizeof in, 1, 1000, &eof);
	assert_non_null(strstr(in, "HTTP/1.1 202 "));
	assert_non_null(strstr(in, "Connection: close"));
	t0 = sock_now_ms();
	while (server_step(&srv, 5) && sock_now_ms() - t0 < 2000)
		;
	assert_int_equal(srv.nconns, 0);
	assert_int_equal(server_finish(&srv), 0);
	munmap(conn_mem, conn_mem_len);
	munmap(worker_mem, worker_mem_len);
	close(busy), close(idle);
}

static void reset_mid_body_frees_the_slot(void **state)
{
	(void)state;
	char req[512];
	start(defaults());
	post(req, sizeof req, "");
	for (int i = 0; i < 20; i++) {
		int fd = pair();
		put(fd, req, strlen(req) - 3);
		close(fd);
		pump(5);
	}
	pump(50);
	assert_int_equal(srv.nconns, 0);
	assert_int_equal(sends_now(), 0);
	assert_int_equal(atomic_load(&srv.inflight), 0);
	assert_int_equal(stop(), 0);
}

int main(void)
{
	log_init(LOG_OFF, 1);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(split_and_pipelined_requests),
	    cmocka_unit_test(head_deadline_is_absolute),
	    cmocka_unit_test(body_deadline_is_a_total),
	    cmocka_unit_test(body_gap_deadline),
	    cmocka_unit_test(waiting_request_is_not_idle),
	    cmocka_unit_test(reader_that_does_not_read),
	    cmocka_unit_test(budget_refuses_big_bodies_not_small_ones),
	    cmocka_unit_test(connection_limit_answers_503),
	    cmocka_unit_test(drain_finishes_in_flight_and_closes),
	    cmocka_unit_test(reset_mid_body_frees_the_slot),
	};
	return cmocka_run_group_tests(tests, 0, 0);
}
