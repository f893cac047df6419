/*
 * fuzz_server.c: libFuzzer target for the connection core (server.c) with the real parser and
 * routes. The input is a client's byte stream, cut into pieces: byte 0 seeds the piece sizes;
 * the rest is sent through a socketpair adopted by the server, one piece per loop step; then
 * the client half-closes and reads everything. Whatever the stream, the server must answer
 * with well-formed status lines only, end the connection, return every slot and every byte of
 * the in-flight budget, and never crash (ASan, UBSan). The transport is a fake that accepts
 * every message, so no file is written.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app.h"
#include "err.h"
#include "server.h"
#include "sock.h"
#include "fuzz.h"

/* Inputs above this are cut; make fuzz-replay runs with -max_len=65536. */
#define FUZZ_MAX_INPUT 65536
/* A small body limit, so that size errors are reachable. */
#define FUZZ_MAX_BODY 4096
#define FUZZ_CONNS    2
#define FUZZ_WORKERS  1
/* Loop steps after the stream before the connection must have ended (each waits <= 1 ms). */
#define FUZZ_STEPS 2000

static int fake_send(void *ctx, void *wctx, const struct notify_msg *msg, const char *id,
                     struct transport_result *r)
{
	(void)ctx, (void)wctx, (void)msg, (void)id;
	r->state = "Succeeded";
	return 0;
}

static int fake_status(void *ctx, void *wctx, const char *id, struct transport_result *r)
{
	(void)ctx, (void)wctx, (void)id, (void)r;
	return -ERR_NOT_FOUND;
}

static struct transport tr;
static struct idem_entry idem_mem[16];
static struct idem_table idem;
static struct app app;
static struct server srv;
static struct server_conn conns[FUZZ_CONNS];
static int free_idx[FUZZ_CONNS], jobs[FUZZ_CONNS], done_ring[FUZZ_CONNS];
static struct server_worker w[FUZZ_WORKERS];
static struct app_slot slot;
/* The answers kept for checking; later bytes are read into `spill` and dropped. */
static char answer[FUZZ_MAX_INPUT * 4], spill[65536];
static size_t got;

/* Takes what the server has sent so far. */
static void take(int fd)
{
	for (;;) {
		long r = got < sizeof answer
		             ? recv(fd, answer + got, sizeof answer - got, MSG_DONTWAIT)
		             : recv(fd, spill, sizeof spill, MSG_DONTWAIT);
		if (r <= 0)
			return;
		if (got < sizeof answer)
			got += (size_t)r;
	}
}

static void setup(void)
{
	static int ready;
	char err[256];
	if (ready)
		return;
	ready = 1;
	log_init(LOG_OFF, 1);
	tr.name = "fake";
	tr.caps = TRANSPORT_CAN_DELIVER;
	tr.send = fake_send;
	tr.status = fake_status;
	idem_init(&idem, idem_mem, 16, 3600);
	app.tr = &tr;
	app.idem = &idem;
	app.envelope_limit = APP_ENVELOPE_FACTOR * FUZZ_MAX_BODY;
	app.max_body = FUZZ_MAX_BODY;
	size_t cm = FUZZ_CONNS * server_conn_stride(FUZZ_MAX_BODY);
	char *conn_mem = mmap(0, cm, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t per = APP_SCRATCH_SIZE(FUZZ_MAX_BODY) + APP_ANSWER_MAX + APP_QUEUE_MSG_MAX +
	             INVOKE_MAX_TOKENS * sizeof(struct json_tok);
	char *wm = mmap(0, per, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(conn_mem != MAP_FAILED && wm != MAP_FAILED);
	w[0].slot = &slot;
	w[0].plan.scratch_cap = APP_SCRATCH_SIZE(FUZZ_MAX_BODY);
	w[0].plan.scratch = wm;
	w[0].obuf = wm + w[0].plan.scratch_cap;
	w[0].ocap = APP_ANSWER_MAX;
	w[0].plan.qbuf = w[0].obuf + APP_ANSWER_MAX;
	w[0].plan.itok = (struct json_tok *)(w[0].plan.qbuf + APP_QUEUE_MSG_MAX);
	struct server_opts o = {
	    .bind = "127.0.0.1",
	    .workers = FUZZ_WORKERS,
	    .max_conns = FUZZ_CONNS,
	    .max_body = FUZZ_MAX_BODY,
	    .max_inflight = 65536,
	    .header_timeout_ms = 2000,
	    .body_timeout_ms = 2000,
	    .read_timeout_ms = 2000,
	    .write_timeout_ms = 2000,
	    .idle_timeout_ms = 2000,
	    .drain_timeout_ms = 1000,
	};
	CHECK(server_init(&srv, &o, &app, conns, free_idx, conn_mem, FUZZ_MAX_BODY, jobs, done_ring,
	                  w, err, sizeof err) == 0);
	CHECK(server_start(&srv) == 0);
}

/* 1 when p[0..n) starts with "HTTP/1.1 " and a 3-digit status from 100 to 599. */
static int status_line(const char *p, size_t n)
{
	return n >= 12 && memcmp(p, "HTTP/1.1 ", 9) == 0 && p[9] >= '1' && p[9] <= '5' &&
	       p[10] >= '0' && p[10] <= '9' && p[11] >= '0' && p[11] <= '9';
}

/* The answer stream is a sequence of answers, each a status line, a head and a body of its
 * Content-Length (none after a HEAD answer); checked as far as the kept part goes. */
static void check_answers(const char *p, size_t n)
{
	size_t pos = 0;
	while (pos < n) {
		CHECK(status_line(p + pos, n - pos) || n - pos < 12);
		const char *end = memmem(p + pos, n - pos, "\r\n\r\n", 4);
		if (!end)
			return; /* cut where the kept part ends */
		size_t head = (size_t)(end - (p + pos)) + 4;
		if (p[pos + 9] == '1') { /* 100 Continue: a head alone */
			pos += head;
			continue;
		}
		const char *cl = memmem(p + pos, head, "Content-Length: ", 16);
		CHECK(cl != NULL);
		size_t body = (size_t)strtoul(cl + 16, 0, 10);
		size_t next = pos + head + body;
		if (pos + head < n && status_line(p + pos + head, n - pos - head) &&
		    (next >= n || !status_line(p + next, n - next)))
			next = pos + head; /* an answer to HEAD: no body */
		pos = next;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	setup();
	if (size == 0)
		return 0;
	if (size > FUZZ_MAX_INPUT)
		size = FUZZ_MAX_INPUT;
	unsigned seed = data[0];
	const char *in = (const char *)data + 1;
	size_t len = size - 1, off = 0;
	got = 0;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(server_adopt(&srv, sv[0]) == 0);
	while (off < len) {
		seed = seed * 1103515245u + 12345u;
		size_t piece = 1 + (seed >> 16) % 512;
		if (piece > len - off)
			piece = len - off;
		ssize_t k = send(sv[1], in + off, piece, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k > 0)
			off += (size_t)k;
		else if (k < 0 && errno != EAGAIN)
			break; /* the server closed: the rest is not wanted */
		server_step(&srv, 0);
		take(sv[1]);
	}
	shutdown(sv[1], SHUT_WR);
	for (int i = 0; i < FUZZ_STEPS && srv.nconns > 0; i++) {
		server_step(&srv, 1);
		take(sv[1]);
	}
	take(sv[1]);
	close(sv[1]);
	CHECK(srv.nconns == 0);
	CHECK(atomic_load(&srv.inflight) == 0);
	check_answers(answer, got);
	return 0;
}
