/*
 * test_tls.c: the TLS client of tls.h against `openssl s_server` on loopback, with a test PKI
 * made at run time by tls_server.sh (EC and RSA CAs, an untrusted CA, a wrong-name and an expired
 * certificate): handshakes and a request per key type, certificate rejections with their BearSSL
 * codes, session resumption, deadlines, the PEM anchor loader, the compiled-in anchors and the
 * error texts. Run from the repository root (or set TLS_TEST_HELPER to tls_server.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "tls.h"

/* Deadline of a handshake or request in the tests: loopback answers in milliseconds; 10 s only
 * matters on a loaded CI machine. */
#define IO_MS 10000
/* Deadline of the timeout test and the slack allowed past it (scheduling, sanitizers). */
#define SHORT_MS 300
#define SLACK_MS 700
/* How long to wait for s_server to print its port. */
#define START_MS 10000
/* Servers the tests start at most (each test kills its own at the end). */
#define MAX_SERVERS 4
/* Room for paths, commands, s_server logs and responses. */
#define PATH_MAX_T 512
#define RESP_MAX   65536

extern char **environ;

static char dir[PATH_MAX_T]; /* the PKI and the server logs */
static const char *helper;   /* tls_server.sh */
static char arena[TLS_EXTRA_CA_MAX];
static struct tls_anchors anchors;
static struct tls_client client; /* 40 KB: static, as in the service */
static char resp[RESP_MAX];

struct server {
	pid_t pid;
	int port;
};
static struct server servers[MAX_SERVERS];
static int nservers;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t read_file(const char *name, char *out, size_t cap)
{
	char path[PATH_MAX_T];
	if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
		fail_msg("path too long");
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	size_t n = fread(out, 1, cap - 1, f);
	fclose(f);
	out[n] = 0;
	return n;
}

/* Starts `tls_server.sh serve DIR name mode args...` with output in DIR/srvN.log; mode is -www or
 * -rev. Returns its port. */
static int start_mode(const char *name, const char *mode, const char *arg1, const char *arg2)
{
	assert_true(nservers < MAX_SERVERS);
	char log[PATH_MAX_T], logname[32];
	snprintf(logname, sizeof logname, "srv%d.log", nservers);
	if (snprintf(log, sizeof log, "%s/%s", dir, logname) >= (int)sizeof log)
		fail_msg("path too long");
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	char *argv[] = {"sh",         (char *)helper, "serve",      dir, (char *)name,
	                (char *)mode, (char *)arg1,   (char *)arg2, NULL};
	pid_t pid;
	int rc = posix_spawnp(&pid, "sh", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(rc, 0);
	struct server *s = &servers[nservers++];
	s->pid = pid;
	s->port = 0;
	for (int64_t end = now_ms() + START_MS; now_ms() < end && s->port == 0;) {
		char text[4096];
		read_file(logname, text, sizeof text);
		const char *p = strstr(text, "ACCEPT 127.0.0.1:");
		if (p && strchr(p, '\n'))
			s->port = atoi(p + strlen("ACCEPT 127.0.0.1:"));
		else
			usleep(10000);
	}
	if (s->port == 0)
		fail_msg("s_server for %s did not start (see %s)", name, log);
	return s->port;
}

/* A -www server: answers "GET / HTTP/1.0" with a status page, then close_notify. */
static int start_server(const char *name, const char *arg1, const char *arg2)
{
	return start_mode(name, "-www", arg1, arg2);
}

static void stop_servers(void)
{
	for (int i = 0; i < nservers; i++) {
		kill(servers[i].pid, SIGTERM);
		waitpid(servers[i].pid, NULL, 0);
	}
	nservers = 0;
}

static int connect_port(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	return fd;
}

/* A listening socket on an ephemeral loopback port that nobody accepts from: the kernel
 * completes TCP handshakes, then nothing answers. Returns the fd; *port gets the port. */
static int silent_listener(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* Connects to port as `name`; returns tls_connect's result, the socket in *fd. */
static int handshake(int port, const char *name, int *fd)
{
	*fd = connect_port(port);
	return tls_connect(&client, *fd, name, now_ms() + IO_MS);
}

/* Sends a GET and reads the whole answer into resp; returns its length. */
static size_t get(void)
{
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	assert_int_equal(tls_write_all(&client, req, strlen(req), now_ms() + IO_MS),
	                 (long)strlen(req));
	size_t len = 0;
	for (;;) {
		long n = tls_read(&client, resp + len, sizeof resp - 1 - len, now_ms() + IO_MS);
		if (n <= 0)
			break;
		len += (size_t)n;
		assert_true(len < sizeof resp - 1);
	}
	resp[len] = 0;
	return len;
}

static void load_pem_file(const char *name)
{
	char pem[8192], err[160];
	size_t n = read_file(name, pem, sizeof pem);
	assert_true(n > 0);
	int r = tls_anchors_load_pem(&anchors, pem, n, err, sizeof err);
	if (r != 1)
		fail_msg("%s: %d %s", name, r, err);
}

static int group_setup(void **state)
{
	(void)state;
	helper = getenv("TLS_TEST_HELPER");
	if (!helper)
		helper = "tests/unit/tls_server.sh";
	if (access(helper, R_OK) != 0) {
		fprintf(stderr, "test_tls: %s not found; run from the repository root\n", helper);
		return -1;
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/test_tls.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	char cmd[2 * PATH_MAX_T];
	snprintf(cmd, sizeof cmd, "sh '%s' pki '%s'", helper, dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "test_tls: %s failed\n", cmd);
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	stop_servers();
	char cmd[2 * PATH_MAX_T];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Each test: builtin anchors plus both test CAs, a fresh client. */
static int setup(void **state)
{
	(void)state;
	if (tls_anchors_init(&anchors, arena, sizeof arena) != 0)
		return -1;
	load_pem_file("ca-ec.pem");
	load_pem_file("ca-rsa.pem");
	tls_client_init(&client, &anchors);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_REAL, &off, NULL); /* eintr_storm's, should it have failed midway */
	signal(SIGALRM, SIG_DFL);
	stop_servers();
	return 0;
}

/* ---- handshakes ------------------------------------------------------------------------------ */

static void check_request(const char *server, const char *cipher, uint16_t suite)
{
	int fd, port = start_server(server, cipher ? "-cipher" : NULL, cipher);
	assert_int_equal(handshake(port, "localhost", &fd), 0);
	assert_int_equal(br_ssl_engine_get_version(&client.cc.eng), BR_TLS12);
	assert_int_equal(client.cc.eng.session.cipher_suite, suite);
	assert_int_equal(tls_resumed(&client), 0);
	size_t n = get();
	assert_true(n > 0);
	assert_memory_equal(resp, "HTTP/1.0 200 ok\r\n", strlen("HTTP/1.0 200 ok\r\n"));
	tls_close(&client);
	close(fd);
}

static void ec_server(void **state)
{
	(void)state;
	check_request("ec", NULL, BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
}

static void rsa_server(void **state)
{
	(void)state;
	check_request("rsa", NULL, BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256);
}

/* The AES-256-GCM/SHA-384 suite AFD prefers. */
static void rsa_server_aes256(void **state)
{
	(void)state;
	check_request("rsa", "ECDHE-RSA-AES256-GCM-SHA384",
	              BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384);
}

/* The server's answer ends with close_notify (s_server -www sends one): tls_read gives 0, and
 * later reads keep giving 0 rather than blocking. */
static void clean_close_reads_zero(void **state)
{
	(void)state;
	int fd, port = start_server("ec", NULL, NULL);
	assert_int_equal(handshake(port, "localhost", &fd), 0);
	get();
	char b[16];
	assert_int_equal(tls_read(&client, b, sizeof b, now_ms() + IO_MS), 0);
	close(fd);
}

/* Many records each way: 64 lines of 1000 bytes to a -rev server (which echoes each line
 * reversed) in one write, then the echo read back. */
#define REV_LINES    64
#define REV_LINE_LEN 1000
static void large_round_trip(void **state)
{
	(void)state;
	static char out[REV_LINES * REV_LINE_LEN];
	for (int i = 0; i < REV_LINES; i++) {
		char *line = out + i * REV_LINE_LEN;
		for (int k = 0; k < REV_LINE_LEN - 1; k++)
			line[k] = (char)('a' + (i + k) % 26);
		line[REV_LINE_LEN - 1] = '\n';
	}
	int fd, port = start_mode("rsa", "-rev", NULL, NULL);
	assert_int_equal(handshake(port, "localhost", &fd), 0);
	assert_int_equal(tls_write_all(&client, out, sizeof out, now_ms() + IO_MS),
	                 (long)sizeof out);
	size_t len = 0;
	while (len < sizeof out) {
		long n = tls_read(&client, resp + len, sizeof out - len, now_ms() + IO_MS);
		assert_true(n > 0);
		len += (size_t)n;
	}
	for (int i = 0; i < REV_LINES; i++) {
		const char *line = out + i * REV_LINE_LEN, *echo = resp + i * REV_LINE_LEN;
		for (int k = 0; k < REV_LINE_LEN - 1; k++)
			assert_int_equal(echo[k], line[REV_LINE_LEN - 2 - k]);
		assert_int_equal(echo[REV_LINE_LEN - 1], '\n');
	}
	tls_close(&client);
	close(fd);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A signal every 200 us, without SA_RESTART: poll, send and recv keep failing with EINTR. */
static void eintr_storm(void **state)
{
	(void)state;
	struct sigaction sa = {.sa_handler = on_alarm}, old;
	struct itimerval it = {{0, 200}, {0, 200}}, off = {{0, 0}, {0, 0}};
	int fd = connect_port(start_server("ec", NULL, NULL));
	sigaction(SIGALRM, &sa, &old);
	setitimer(ITIMER_REAL, &it, NULL);
	int r = tls_connect(&client, fd, "localhost", now_ms() + IO_MS);
	size_t n = r == 0 ? get() : 0;
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old, NULL);
	assert_int_equal(r, 0);
	assert_true(n > 0);
	assert_memory_equal(resp, "HTTP/1.0 200 ok\r\n", strlen("HTTP/1.0 200 ok\r\n"));
	close(fd);
}

/* ---- rejections ------------------------------------------------------------------------------ */

/* Connects to a server whose certificate must be refused with br_err; checks that the failure
 * sticks and that nothing can be sent afterwards. */
static void check_rejected(const char *server, const char *name, int br_err)
{
	int fd, port = start_server(server, NULL, NULL);
	assert_int_equal(handshake(port, name, &fd), -ERR_INTERNAL);
	assert_int_equal(client.last_br_err, br_err);
	assert_int_equal(tls_write_all(&client, "GET", 3, now_ms() + IO_MS), -ERR_INTERNAL);
	char b[16];
	assert_int_equal(tls_read(&client, b, sizeof b, now_ms() + IO_MS), -ERR_INTERNAL);
	assert_int_equal(client.last_br_err, br_err);
	close(fd);
}

static void untrusted_ca(void **state)
{
	(void)state;
	check_rejected("other", "localhost", BR_ERR_X509_NOT_TRUSTED);
}

static void wrong_name(void **state)
{
	(void)state;
	check_rejected("wrong", "localhost", BR_ERR_X509_BAD_SERVER_NAME);
}

static void right_cert_wrong_sni(void **state)
{
	(void)state;
	check_rejected("ec", "wrong.example", BR_ERR_X509_BAD_SERVER_NAME);
}

static void expired(void **state)
{
	(void)state;
	check_rejected("expired", "localhost", BR_ERR_X509_EXPIRED);
}

/* Without the extra CA, the builtin (public) roots do not vouch for the test server. */
static void builtin_only_rejects_test_ca(void **state)
{
	(void)state;
	assert_int_equal(tls_anchors_init(&anchors, NULL, 0), 0);
	tls_client_init(&client, &anchors);
	check_rejected("ec", "localhost", BR_ERR_X509_NOT_TRUSTED);
}

/* An empty name would make BearSSL skip the name check: refused before any byte is sent. */
static void empty_name_refused(void **state)
{
	(void)state;
	int port, lfd = silent_listener(&port);
	int fd = connect_port(port);
	assert_int_equal(tls_connect(&client, fd, "", now_ms() + IO_MS), -ERR_INTERNAL);
	assert_int_equal(client.last_br_err, BR_ERR_BAD_PARAM);
	char name[TLS_SERVER_NAME_MAX + 2];
	memset(name, 'a', sizeof name - 1);
	name[sizeof name - 1] = 0;
	assert_int_equal(tls_connect(&client, fd, name, now_ms() + IO_MS), -ERR_INTERNAL);
	int afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	char b[8];
	assert_int_equal(recv(afd, b, sizeof b, MSG_DONTWAIT), -1); /* nothing was sent */
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	close(afd);
	close(fd);
	close(lfd);
}

/* ---- sessions -------------------------------------------------------------------------------- */

static void resumes_same_server(void **state)
{
	(void)state;
	int fd, port = start_server("ec", NULL, NULL);
	assert_int_equal(handshake(port, "localhost", &fd), 0);
	assert_int_equal(tls_resumed(&client), 0);
	get();
	tls_close(&client);
	close(fd);

	assert_int_equal(handshake(port, "localhost", &fd), 0);
	assert_int_equal(tls_resumed(&client), 1);
	get();
	assert_memory_equal(resp, "HTTP/1.0 200 ok\r\n", strlen("HTTP/1.0 200 ok\r\n"));
	tls_close(&client);
	close(fd);

	/* Same name, other server: the offer is declined and a full handshake follows. */
	int port2 = start_server("rsa", NULL, NULL);
	assert_int_equal(handshake(port2, "localhost", &fd), 0);
	assert_int_equal(tls_resumed(&client), 0);
	tls_close(&client);
	close(fd);
}

/* A session is offered only to the name it was made with, even when the same server (whose
 * certificate has both names) would resume it. */
static void no_resume_across_names(void **state)
{
	(void)state;
	static const char *const names[] = {"localhost", "alias.test", "alias.test", "localhost"};
	static const int resumed[] = {0, 0, 1, 0};
	int fd, port = start_server("ec", NULL, NULL);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(handshake(port, names[i], &fd), 0);
		assert_int_equal(tls_resumed(&client), resumed[i]);
		tls_close(&client);
		close(fd);
	}
}

/* A failed handshake forgets the saved session. */
static void failure_forgets_session(void **state)
{
	(void)state;
	int fd, port = start_server("ec", NULL, NULL);
	int port_o = start_server("other", NULL, NULL);
	assert_int_equal(handshake(port, "localhost", &fd), 0);
	tls_close(&client);
	close(fd);
	assert_int_equal(handshake(port_o, "localhost", &fd), -ERR_INTERNAL);
	close(fd);
	assert_int_equal(handshake(port, "localhost", &fd), 0);
	assert_int_equal(tls_resumed(&client), 0);
	close(fd);
}

/* ---- deadlines and I/O errors ---------------------------------------------------------------- */

static void silent_server_times_out(void **state)
{
	(void)state;
	int port, lfd = silent_listener(&port);
	int fd = connect_port(port);
	int64_t t0 = now_ms();
	assert_int_equal(tls_connect(&client, fd, "localhost", t0 + SHORT_MS), -ERR_TIMEOUT);
	int64_t took = now_ms() - t0;
	assert_true(took >= SHORT_MS);
	assert_true(took < SHORT_MS + SLACK_MS);
	assert_int_equal(client.last_br_err, BR_ERR_IO);
	/* Sticky: no further waiting. */
	char b[8];
	t0 = now_ms();
	assert_int_equal(tls_read(&client, b, sizeof b, t0 + IO_MS), -ERR_TIMEOUT);
	assert_true(now_ms() - t0 < SLACK_MS);
	close(fd);
	close(lfd);
}

/* A peer that accepts and closes during the handshake: an I/O error, not a TLS one. */
static void peer_closes_during_handshake(void **state)
{
	(void)state;
	int port, lfd = silent_listener(&port);
	int fd = connect_port(port);
	int afd = accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	close(afd);
	assert_int_equal(tls_connect(&client, fd, "localhost", now_ms() + IO_MS), -ERR_IO);
	assert_int_equal(client.last_br_err, BR_ERR_IO);
	close(fd);
	close(lfd);
}

static void unusable_before_connect_and_after_close(void **state)
{
	(void)state;
	char b[8];
	assert_int_equal(tls_read(&client, b, sizeof b, now_ms() + IO_MS), -ERR_IO);
	int fd, port = start_server("ec", NULL, NULL);
	assert_int_equal(handshake(port, "localhost", &fd), 0);
	tls_close(&client);
	assert_int_equal(tls_write_all(&client, "x", 1, now_ms() + IO_MS), -ERR_IO);
	assert_int_equal(tls_read(&client, b, sizeof b, now_ms() + IO_MS), -ERR_IO);
	close(fd);
}

/* ---- anchors --------------------------------------------------------------------------------- */

static void builtin_anchors(void **state)
{
	(void)state;
	assert_true(tls_builtin_anchors_num > 0);
	assert_true(tls_builtin_anchors_num <= TLS_BUILTIN_MAX);
	for (size_t i = 0; i < tls_builtin_anchors_num; i++) {
		const br_x509_trust_anchor *ta = &tls_builtin_anchors[i];
		assert_true(ta->dn.len > 0);
		assert_int_equal(ta->dn.data[0], 0x30); /* a DER SEQUENCE */
		assert_int_equal(ta->flags & BR_X509_TA_CA, BR_X509_TA_CA);
		if (ta->pkey.key_type == BR_KEYTYPE_RSA)
			assert_true(ta->pkey.key.rsa.nlen >= 256 && ta->pkey.key.rsa.elen > 0);
		else
			assert_true(ta->pkey.key_type == BR_KEYTYPE_EC && ta->pkey.key.ec.qlen > 0);
	}
	assert_int_equal(tls_anchors_init(&anchors, NULL, 0), 0);
	assert_int_equal(anchors.num, tls_builtin_anchors_num);
	assert_int_equal(anchors.num_extra, 0);
}

/* Loads pem into fresh anchors over an arena of cap bytes. */
static int load(const char *pem, size_t cap, char *err, size_t errcap)
{
	assert_int_equal(tls_anchors_init(&anchors, arena, cap), 0);
	return tls_anchors_load_pem(&anchors, pem, strlen(pem), err, errcap);
}

static void pem_loader(void **state)
{
	(void)state;
	static char pem[4 * 8192], one[8192];
	char err[160];
	size_t n = read_file("ca-ec.pem", pem, sizeof pem);
	n += read_file("ec.key", pem + n, sizeof pem - n); /* skipped */
	n += read_file("ca-rsa.pem", pem + n, sizeof pem - n);
	assert_int_equal(load(pem, sizeof arena, err, sizeof err), 2);
	assert_string_equal(err, "");
	assert_int_equal(anchors.num, tls_builtin_anchors_num + 2);
	const br_x509_trust_anchor *ec = &anchors.ta[tls_builtin_anchors_num];
	assert_int_equal(ec->pkey.key_type, BR_KEYTYPE_EC);
	assert_int_equal(ec->pkey.key.ec.curve, BR_EC_secp256r1);
	assert_int_equal(ec->flags, BR_X509_TA_CA);
	assert_int_equal(anchors.ta[tls_builtin_anchors_num + 1].pkey.key_type, BR_KEYTYPE_RSA);

	/* No final newline. */
	n = read_file("ca-ec.pem", one, sizeof one);
	one[n - 1] = 0;
	assert_int_equal(load(one, sizeof arena, err, sizeof err), 1);

	/* Errors leave the set as it was. */
	assert_int_equal(load("not a pem file\n", sizeof arena, err, sizeof err),
	                 -ERR_FIELD_INVALID);
	assert_string_equal(err, "no CERTIFICATE in the PEM text");
	assert_int_equal(anchors.num, tls_builtin_anchors_num);
	read_file("ec.key", one, sizeof one);
	assert_int_equal(load(one, sizeof arena, err, sizeof err), -ERR_FIELD_INVALID);

	n = read_file("ca-ec.pem", one, sizeof one);
	one[n - 30] = '!'; /* not base64 */
	assert_int_equal(load(one, sizeof arena, err, sizeof err), -ERR_FIELD_INVALID);
	assert_string_equal(err, "certificate 1: malformed PEM");

	read_file("ca-ec.pem", one, sizeof one);
	*strstr(one, "-----END") = 0; /* cut */
	assert_int_equal(load(one, sizeof arena, err, sizeof err), -ERR_FIELD_INVALID);
	assert_string_equal(err, "certificate 1: no END line");

	/* Valid base64 of something that is not a certificate. */
	assert_int_equal(load("-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n",
	                      sizeof arena, err, sizeof err),
	                 -ERR_FIELD_INVALID);
	assert_memory_equal(err, "certificate 1: certificate",
	                    strlen("certificate 1: certificate"));

	/* Limits: one certificate too many, then an arena too small for the second. */
	n = read_file("ca-ec.pem", one, sizeof one);
	pem[0] = 0;
	for (int i = 0; i <= TLS_EXTRA_CA_COUNT; i++)
		strcat(pem, one);
	assert_int_equal(load(pem, sizeof arena, err, sizeof err), -ERR_OVERFLOW);
	assert_string_equal(err, "certificate 9: more than TLS_EXTRA_CA_COUNT certificates");
	assert_int_equal(anchors.num, tls_builtin_anchors_num);
	assert_int_equal(anchors.used, 0);
	assert_int_equal(load(one, sizeof arena, err, sizeof err), 1);
	size_t each = anchors.used; /* DN and key of one */
	pem[2 * n] = 0;
	assert_int_equal(load(pem, 2 * each - 1, err, sizeof err), -ERR_OVERFLOW);
	assert_memory_equal(err, "certificate 2: DNs", strlen("certificate 2: DNs"));
	assert_int_equal(anchors.num, tls_builtin_anchors_num);

	/* Appending to an already loaded set; a short error buffer is cut, not overrun. */
	assert_int_equal(load(one, sizeof arena, err, sizeof err), 1);
	assert_int_equal(tls_anchors_load_pem(&anchors, "x", 1, err, 8), -ERR_FIELD_INVALID);
	assert_string_equal(err, "no CERT");
	assert_int_equal(anchors.num, tls_builtin_anchors_num + 1);
	assert_int_equal(anchors.used, each);
}

/* ---- error texts ----------------------------------------------------------------------------- */

static void error_texts(void **state)
{
	(void)state;
	for (int e = -1; e < 1024; e++)
		assert_non_null(tls_error_text(e));
	assert_string_equal(tls_error_text(BR_ERR_X509_NOT_TRUSTED),
	                    "certificate chain does not end at a trusted root");
	assert_string_equal(tls_error_text(BR_ERR_X509_BAD_SERVER_NAME),
	                    "certificate does not match the server name");
	assert_string_equal(tls_error_text(BR_ERR_X509_EXPIRED),
	                    "certificate expired or not yet valid");
	assert_string_equal(tls_error_text(BR_ERR_RECV_FATAL_ALERT + 40),
	                    "server alert: handshake failure (no common suite, curve or signature "
	                    "algorithm)");
	assert_string_equal(tls_error_text(BR_ERR_SEND_FATAL_ALERT + 42),
	                    "we sent a fatal alert (TLS failure on our side)");
	assert_string_equal(tls_error_text(BR_ERR_IO), "connection failed, closed or timed out");
	assert_string_equal(tls_error_text(BR_ERR_X509_INDEFINITE_LENGTH),
	                    "certificate: malformed DER encoding");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(ec_server, setup, teardown),
	    cmocka_unit_test_setup_teardown(rsa_server, setup, teardown),
	    cmocka_unit_test_setup_teardown(rsa_server_aes256, setup, teardown),
	    cmocka_unit_test_setup_teardown(clean_close_reads_zero, setup, teardown),
	    cmocka_unit_test_setup_teardown(large_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(eintr_storm, setup, teardown),
	    cmocka_unit_test_setup_teardown(untrusted_ca, setup, teardown),
	    cmocka_unit_test_setup_teardown(wrong_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(right_cert_wrong_sni, setup, teardown),
	    cmocka_unit_test_setup_teardown(expired, setup, teardown),
	    cmocka_unit_test_setup_teardown(builtin_only_rejects_test_ca, setup, teardown),
	    cmocka_unit_test_setup_teardown(empty_name_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(resumes_same_server, setup, teardown),
	    cmocka_unit_test_setup_teardown(no_resume_across_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(failure_forgets_session, setup, teardown),
	    cmocka_unit_test_setup_teardown(silent_server_times_out, setup, teardown),
	    cmocka_unit_test_setup_teardown(peer_closes_during_handshake, setup, teardown),
	    cmocka_unit_test_setup_teardown(unusable_before_connect_and_after_close, setup,
	                                    teardown),
	    cmocka_unit_test(builtin_anchors),
	    cmocka_unit_test(pem_loader),
	    cmocka_unit_test(error_texts),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
