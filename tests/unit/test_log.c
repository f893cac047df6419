/* test_log.c: JSON log lines of log.h: fields, masking, escaping, truncation, levels, time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "testutil.h"

/* Characters of "YYYY-MM-DDTHH:MM:SS.mmmZ". */
#define TIME_LEN 24
/* Room to read what a test logged: several lines at most. */
#define READ_MAX (8 * LOG_LINE_MAX)
/* Concurrency test: writer threads and lines each. */
#define THREADS          8
#define LINES_PER_THREAD 200

static int fds[2]; /* the pipe log writes into; read end non-blocking */
static char got[READ_MAX + 1];

static int setup(void **state)
{
	(void)state;
	if (pipe(fds) != 0)
		return -1;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	log_init(LOG_DEBUG, fds[1]);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_init(LOG_INFO, 2);
	close(fds[0]);
	close(fds[1]);
	return 0;
}

/* Everything written to the pipe so far, NUL-terminated; returns its length. */
static size_t drain(void)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fds[0], got + n, READ_MAX - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	got[n] = 0;
	return n;
}

/* Asserts "YYYY-MM-DDTHH:MM:SS.mmmZ" at s with sane field ranges. */
static void assert_time_format(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	for (size_t i = 0; i < TIME_LEN; i++) {
		if (shape[i] == 'd') {
			if (s[i] < '0' || s[i] > '9')
				fail_msg("time \"%.24s\": no digit at %zu", s, i);
		} else if (s[i] != shape[i]) {
			fail_msg("time \"%.24s\": want '%c' at %zu", s, shape[i], i);
		}
	}
	int mon = atoi(s + 5), day = atoi(s + 8), hh = atoi(s + 11), mm = atoi(s + 14),
	    ss = atoi(s + 17);
	assert_true(mon >= 1 && mon <= 12);
	assert_true(day >= 1 && day <= 31);
	assert_true(hh <= 23 && mm <= 59 && ss <= 60);
}

/* Reads exactly one line; asserts the common prefix, returns what follows the time:
 * ","level":... with the line's total length in *n. */
static const char *one_line(size_t *n)
{
	*n = drain();
	assert_true(*n > 0);
	assert_int_equal(got[*n - 1], '\n');
	assert_ptr_equal(strchr(got, '\n'), got + *n - 1);
	assert_true(*n <= LOG_LINE_MAX);
	assert_memory_equal(got, "{\"time\":\"", 9);
	assert_time_format(got + 9);
	assert_memory_equal(got + *n - 2, "}\n", 2);
	return got + 9 + TIME_LEN;
}

static void assert_nothing_written(void)
{
	assert_int_equal(drain(), 0);
}

/* ---- fields -------------------------------------------------------------------------------- */

static void test_line_with_every_field_kind(void **state)
{
	(void)state;
	struct log_line l;
	size_t n;
	assert_int_equal(log_begin(&l, LOG_INFO, "http.request"), 1);
	log_str(&l, "method", "POSTXX", 4);
	log_cstr(&l, "path", "/api/notification");
	log_int(&l, "status", 202);
	log_int(&l, "delta", -5);
	log_ms(&l, "latency_ms", 1234567);
	log_addr(&l, "to", "you@example.com", 15);
	log_end(&l);
	const char *rest = one_line(&n);
	assert_string_equal(rest,
	                    "\",\"level\":\"info\",\"event\":\"http.request\","
	                    "\"method\":\"POST\",\"path\":\"/api/notification\",\"status\":202,"
	                    "\"delta\":-5,\"latency_ms\":1.234,\"to\":\"y***@example.com\"}\n");
	struct tu_json j;
	char v[64];
	assert_int_equal(tu_json_object(&j, got, n - 1), 9);
	assert_string_equal(tu_json_str(&j, "to", v, sizeof v), "y***@example.com");
	assert_string_equal(tu_json_prim(&j, "latency_ms", v, sizeof v), "1.234");
}

static void test_level_names(void **state)
{
	(void)state;
	static const char *const names[] = {"debug", "info", "warn", "error"};
	for (int lv = LOG_DEBUG; lv <= LOG_ERROR; lv++) {
		struct log_line l;
		size_t n;
		char want[64], v[16];
		assert_int_equal(log_begin(&l, lv, "e"), 1);
		log_end(&l);
		snprintf(want, sizeof want, "\",\"level\":\"%s\",\"event\":\"e\"}\n", names[lv]);
		assert_string_equal(one_line(&n), want);
		struct tu_json j;
		assert_int_equal(tu_json_object(&j, got, n - 1), 3);
		assert_string_equal(tu_json_str(&j, "level", v, sizeof v), names[lv]);
	}
}

static void test_ms_formatting(void **state)
{
	(void)state;
	static const struct {
		int64_t ns;
		const char *text;
	} cases[] = {
	    {0, "0.000"},
	    {999, "0.000"},
	    {1000, "0.001"},
	    {999999, "0.999"},
	    {1000000, "1.000"},
	    {1234567, "1.234"},
	    {10050000, "10.050"},
	    {-5, "0.000"},
	    {INT64_MIN, "0.000"},
	    {12345678901, "12345.678"},
	    {INT64_MAX, "9223372036854.775"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct log_line l;
		size_t n;
		char v[32];
		assert_int_equal(log_begin(&l, LOG_INFO, "t"), 1);
		log_ms(&l, "ms", cases[i].ns);
		log_end(&l);
		one_line(&n);
		struct tu_json j;
		tu_json_object(&j, got, n - 1);
		if (strcmp(tu_json_prim(&j, "ms", v, sizeof v), cases[i].text) != 0)
			fail_msg("log_ms(%lld): \"%s\", want \"%s\"", (long long)cases[i].ns, v,
			         cases[i].text);
	}
}

static void test_int_extremes(void **state)
{
	(void)state;
	struct log_line l;
	size_t n;
	char v[32];
	assert_int_equal(log_begin(&l, LOG_INFO, "t"), 1);
	log_int(&l, "min", INT64_MIN);
	log_int(&l, "max", INT64_MAX);
	log_int(&l, "zero", 0);
	log_end(&l);
	one_line(&n);
	struct tu_json j;
	tu_json_object(&j, got, n - 1);
	assert_string_equal(tu_json_prim(&j, "min", v, sizeof v), "-9223372036854775808");
	assert_string_equal(tu_json_prim(&j, "max", v, sizeof v), "9223372036854775807");
	assert_string_equal(tu_json_prim(&j, "zero", v, sizeof v), "0");
}

static void test_addr_masked(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"you@example.com", "y***@example.com"},
	    {"a@b", "a***@b"},
	    {"first.last@mail.example.org", "f***@mail.example.org"},
	    {"not an address", "***"},
	    {"", "***"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct log_line l;
		size_t n;
		char v[64];
		assert_int_equal(log_begin(&l, LOG_INFO, "mail"), 1);
		log_addr(&l, "to", cases[i].in, strlen(cases[i].in));
		log_end(&l);
		one_line(&n);
		struct tu_json j;
		tu_json_object(&j, got, n - 1);
		assert_string_equal(tu_json_str(&j, "to", v, sizeof v), cases[i].out);
		if (strlen(cases[i].in) > 1)
			assert_null(strstr(got, cases[i].in));
	}
}

/* ---- escaping ------------------------------------------------------------------------------ */

static void test_values_escaped(void **state)
{
	(void)state;
	static const char raw[] = "say \"hi\"\\ now\nnext\rline\ttab\x01\x1f\x7f caf\xc3\xa9";
	struct log_line l;
	size_t n;
	char v[128];
	assert_int_equal(log_begin(&l, LOG_WARN, "ev\"il\n"), 1);
	log_str(&l, "v", raw, sizeof raw - 1);
	log_end(&l);
	one_line(&n);
	assert_non_null(
	    strstr(got, "\"v\":\"say \\\"hi\\\"\\\\ now\\nnext\\rline\\ttab\\u0001\\u001f"));
	struct tu_json j;
	assert_int_equal(tu_json_object(&j, got, n - 1), 4);
	assert_string_equal(tu_json_str(&j, "v", v, sizeof v), raw);
	assert_string_equal(tu_json_str(&j, "event", v, sizeof v), "ev\"il\n");
}

static void test_value_with_nul_bytes(void **state)
{
	(void)state;
	struct log_line l;
	size_t n;
	assert_int_equal(log_begin(&l, LOG_INFO, "t"), 1);
	log_str(&l, "v", "a\0b", 3);
	log_end(&l);
	one_line(&n);
	assert_non_null(strstr(got, "\"v\":\"a\\u0000b\""));
	struct tu_json j;
	tu_json_object(&j, got, n - 1);
}

/* ---- truncation ---------------------------------------------------------------------------- */

static void test_long_value_truncated_line_valid(void **state)
{
	(void)state;
	static char big[2 * LOG_LINE_MAX];
	memset(big, 'x', sizeof big);
	struct log_line l;
	size_t n;
	char v[32];
	assert_int_equal(log_begin(&l, LOG_ERROR, "big"), 1);
	log_int(&l, "before", 7);
	log_str(&l, "huge", big, sizeof big);
	log_end(&l);
	one_line(&n);
	assert_true(n <= LOG_LINE_MAX);
	const char *tail = ",\"truncated\":true}\n";
	assert_string_equal(got + n - strlen(tail), tail);
	struct tu_json j;
	tu_json_object(&j, got, n - 1);
	assert_string_equal(tu_json_prim(&j, "before", v, sizeof v), "7");
	assert_string_equal(tu_json_prim(&j, "truncated", v, sizeof v), "true");
	assert_int_equal(tu_json_find(&j, "huge"), -1);
}

static void test_single_long_field_cut_at_every_length(void **state)
{
	(void)state;
	/* One field after a short one, at every length around the limit: the cut field goes. */
	static char plain[LOG_LINE_MAX + 64];
	memset(plain, 'p', sizeof plain);
	for (size_t len = LOG_LINE_MAX - 140; len < sizeof plain; len++) {
		struct log_line l;
		size_t n;
		char v[8];
		assert_int_equal(log_begin(&l, LOG_INFO, "cut"), 1);
		log_int(&l, "k", 1);
		log_str(&l, "v", plain, len);
		log_end(&l);
		one_line(&n);
		struct tu_json j;
		tu_json_object(&j, got, n - 1);
		assert_string_equal(tu_json_prim(&j, "k", v, sizeof v), "1");
		if (tu_json_find(&j, "v") < 0)
			assert_string_equal(tu_json_prim(&j, "truncated", v, sizeof v), "true");
	}
}

static void test_field_cut_near_limit_keeps_line_valid(void **state)
{
	(void)state;
	/* Regression (found by this test): log.c log_end() appends ",\"truncated\":true" while
	 * b.cap is still LOG_LINE_MAX - 24 and only then restores the full capacity. When the
	 * dropped field started within 17 bytes of that reduced cap (mark > 983), the marker itself
	 * is clamped, the sticky -ERR_OVERFLOW also swallows "}\n", and the line written is 1000
	 * bytes ending in ,"truncated" with no closing brace and no newline (the next log line then
	 * continues it). Repro: log_begin(LOG_INFO, "cut") (63 bytes), log_str("v", 920 x 'p') ->
	 * mark 990, then log_str("w", 100 bytes). */
	static char plain[LOG_LINE_MAX + 64], ctl[LOG_LINE_MAX];
	memset(plain, 'p', sizeof plain);
	memset(ctl, '\x01', sizeof ctl);
	const char *tail = ",\"truncated\":true}\n";
	struct log_line l;
	size_t n;
	assert_int_equal(log_begin(&l, LOG_INFO, "cut"), 1);
	log_str(&l, "v", plain, 920);
	log_str(&l, "w", plain, 100);
	log_end(&l);
	one_line(&n);
	assert_string_equal(got + n - strlen(tail), tail);
	/* Every cut point near the limit, with escape-heavy and mixed fields. */
	for (size_t len = LOG_LINE_MAX - 140; len < sizeof plain; len++) {
		for (int kind = 0; kind < 3; kind++) {
			assert_int_equal(log_begin(&l, LOG_INFO, "cut"), 1);
			switch (kind) {
			case 0:
				log_str(&l, "v", ctl, len / 6);
				log_str(&l, "w", plain, len % 64);
				break;
			case 1:
				log_str(&l, "v", plain, len - 100);
				log_int(&l, "n", INT64_MIN);
				log_ms(&l, "ms", 123456789012);
				log_addr(&l, "to", "someone@example.com", 19);
				break;
			default:
				log_str(&l, "v", plain, len - 40);
				log_str(&l, "w", "\"\\\n", 3);
				log_str(&l, "x", ctl, 8);
				break;
			}
			log_end(&l);
			one_line(&n);
			struct tu_json j;
			tu_json_object(&j, got, n - 1);
		}
	}
}

static void test_line_that_fits_not_marked(void **state)
{
	(void)state;
	static char val[700];
	memset(val, 'a', sizeof val);
	struct log_line l;
	size_t n;
	assert_int_equal(log_begin(&l, LOG_INFO, "fits"), 1);
	log_str(&l, "v", val, sizeof val);
	log_end(&l);
	one_line(&n);
	assert_null(strstr(got, "truncated"));
	struct tu_json j;
	char *v = malloc(sizeof val + 1);
	assert_non_null(v);
	tu_json_object(&j, got, n - 1);
	assert_int_equal(strlen(tu_json_str(&j, "v", v, sizeof val + 1)), sizeof val);
	free(v);
}

/* ---- levels -------------------------------------------------------------------------------- */

static void test_below_threshold_writes_nothing(void **state)
{
	(void)state;
	struct log_line l;
	size_t n;
	log_init(LOG_WARN, fds[1]);
	assert_int_equal(log_begin(&l, LOG_DEBUG, "quiet"), 0);
	assert_int_equal(log_begin(&l, LOG_INFO, "quiet"), 0);
	assert_nothing_written();
	assert_int_equal(log_begin(&l, LOG_WARN, "loud"), 1);
	log_end(&l);
	assert_non_null(strstr(one_line(&n), "\"event\":\"loud\""));
	assert_int_equal(log_begin(&l, LOG_ERROR, "louder"), 1);
	log_end(&l);
	assert_non_null(strstr(one_line(&n), "\"event\":\"louder\""));
}

static void test_off_writes_nothing(void **state)
{
	(void)state;
	struct log_line l;
	log_init(LOG_OFF, fds[1]);
	for (int lv = LOG_DEBUG; lv <= LOG_ERROR; lv++)
		assert_int_equal(log_begin(&l, lv, "x"), 0);
	assert_nothing_written();
}

static void test_level_parse_table(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int level;
	} cases[] = {
	    {"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN}, {"error", LOG_ERROR},
	    {"off", LOG_OFF},     {"", -1},           {"warning", -1},    {"inf", -1},
	    {"info ", -1},        {" info", -1},      {"trace", -1},      {"debugx", -1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (log_level_parse(cases[i].s) != cases[i].level)
			fail_msg("log_level_parse(\"%s\") != %d", cases[i].s, cases[i].level);
}

/* ---- time ---------------------------------------------------------------------------------- */

static void test_put_time_format_and_value(void **state)
{
	(void)state;
	char mem[64];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	/* The same clock as log.c: time() may read a coarse clock a tick behind. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_REALTIME, &t0);
	log_put_time(&b);
	clock_gettime(CLOCK_REALTIME, &t1);
	time_t before = t0.tv_sec, after = t1.tv_sec;
	assert_int_equal(buf_finish(&b), 0);
	assert_int_equal(b.len, TIME_LEN);
	mem[b.len] = 0;
	assert_time_format(mem);
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = atoi(mem) - 1900;
	tm.tm_mon = atoi(mem + 5) - 1;
	tm.tm_mday = atoi(mem + 8);
	tm.tm_hour = atoi(mem + 11);
	tm.tm_min = atoi(mem + 14);
	tm.tm_sec = atoi(mem + 17);
	time_t t = timegm(&tm);
	assert_true(t >= before && t <= after);
}

static void test_now_ns_monotonic(void **state)
{
	(void)state;
	int64_t a = log_now_ns();
	struct timespec ts = {0, 2000000};
	nanosleep(&ts, NULL);
	int64_t b = log_now_ns();
	assert_true(b - a >= 2000000);
	assert_true(b - a < 2000000000);
}

/* ---- concurrency --------------------------------------------------------------------------- */

struct reader {
	int fd;
	char *data;
	size_t len, cap;
};

static void *read_all(void *p)
{
	struct reader *r = p;
	for (;;) {
		ssize_t k = read(r->fd, r->data + r->len, r->cap - r->len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		r->len += (size_t)k;
	}
	return NULL;
}

static void *write_lines(void *p)
{
	long id = (long)(intptr_t)p;
	static char pad[600];
	memset(pad, 'z', sizeof pad);
	for (int i = 0; i < LINES_PER_THREAD; i++) {
		struct log_line l;
		if (log_begin(&l, LOG_INFO, "mt")) {
			log_int(&l, "thread", id);
			log_int(&l, "i", i);
			log_str(&l, "pad", pad, sizeof pad);
			log_end(&l);
		}
	}
	return NULL;
}

static void test_concurrent_lines_never_interleave(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	struct reader r = {p[0], NULL, 0, (size_t)THREADS * LINES_PER_THREAD * LOG_LINE_MAX};
	r.data = malloc(r.cap);
	assert_non_null(r.data);
	pthread_t rt, wt[THREADS];
	assert_int_equal(pthread_create(&rt, NULL, read_all, &r), 0);
	log_init(LOG_INFO, p[1]);
	for (long t = 0; t < THREADS; t++)
		assert_int_equal(pthread_create(&wt[t], NULL, write_lines, (void *)(intptr_t)t), 0);
	for (int t = 0; t < THREADS; t++)
		pthread_join(wt[t], NULL);
	close(p[1]);
	pthread_join(rt, NULL);
	close(p[0]);
	int seen[THREADS] = {0};
	size_t lines = 0;
	for (char *s = r.data, *end = r.data + r.len; s < end; lines++) {
		char *nl = memchr(s, '\n', (size_t)(end - s));
		assert_non_null(nl);
		struct tu_json j;
		char v[32];
		tu_json_object(&j, s, (size_t)(nl - s));
		long t = atol(tu_json_prim(&j, "thread", v, sizeof v));
		assert_true(t >= 0 && t < THREADS);
		assert_int_equal(atol(tu_json_prim(&j, "i", v, sizeof v)), seen[t]);
		seen[t]++;
		s = nl + 1;
	}
	assert_int_equal(lines, THREADS * LINES_PER_THREAD);
	free(r.data);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_line_with_every_field_kind),
	    T(test_level_names),
	    T(test_ms_formatting),
	    T(test_int_extremes),
	    T(test_addr_masked),
	    T(test_values_escaped),
	    T(test_value_with_nul_bytes),
	    T(test_long_value_truncated_line_valid),
	    T(test_single_long_field_cut_at_every_length),
	    T(test_field_cut_near_limit_keeps_line_valid),
	    T(test_line_that_fits_not_marked),
	    T(test_below_threshold_writes_nothing),
	    T(test_off_writes_nothing),
	    T(test_level_parse_table),
	    T(test_put_time_format_and_value),
	    T(test_now_ns_monotonic),
	    T(test_concurrent_lines_never_interleave),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
