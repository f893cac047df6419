/* test_buf.c: the bounded writer of buf.h in memory and fd mode. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"

/* Bytes streamed in the fd-mode tests: many times the staging size. */
#define STREAM_BYTES 100000

static void test_memory_fits(void **state)
{
	(void)state;
	char mem[16];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	buf_puts(&b, "abc");
	buf_putc(&b, 'd');
	buf_append(&b, "ef", 2);
	assert_int_equal(buf_finish(&b), 0);
	assert_int_equal(b.len, 6);
	assert_int_equal(buf_total(&b), 6);
	assert_memory_equal(mem, "abcdef", 6);
}

static void test_memory_overflow_clamps(void **state)
{
	(void)state;
	char mem[8];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	buf_puts(&b, "hello");
	buf_puts(&b, "world!");
	assert_int_equal(b.err, -ERR_OVERFLOW);
	assert_int_equal(b.len, 8);
	assert_memory_equal(mem, "hellowor", 8);
	assert_int_equal(b.missing, 3);
	/* Sticky: later appends, even ones that would fit nothing, only count. */
	buf_putc(&b, 'x');
	buf_puts(&b, "yz");
	assert_int_equal(b.len, 8);
	assert_int_equal(b.missing, 6);
	assert_int_equal(buf_finish(&b), -ERR_OVERFLOW);
	assert_int_equal(buf_flush(&b), -ERR_OVERFLOW);
}

static void test_memory_zero_cap(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, NULL, 0);
	buf_append(&b, "", 0);
	assert_int_equal(b.err, 0);
	buf_putc(&b, 'a');
	assert_int_equal(b.err, -ERR_OVERFLOW);
	assert_int_equal(b.missing, 1);
}

static void test_reset(void **state)
{
	(void)state;
	char mem[4];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	buf_puts(&b, "toolong");
	buf_reset(&b);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.missing, 0);
	buf_puts(&b, "ok");
	assert_int_equal(buf_finish(&b), 0);
	assert_memory_equal(mem, "ok", 2);
}

static void test_put_u64(void **state)
{
	(void)state;
	char mem[64];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	buf_put_u64(&b, 0);
	buf_putc(&b, ' ');
	buf_put_u64(&b, 9);
	buf_putc(&b, ' ');
	buf_put_u64(&b, 10);
	buf_putc(&b, ' ');
	buf_put_u64(&b, UINT64_MAX);
	assert_int_equal(buf_finish(&b), 0);
	const char *want = "0 9 10 18446744073709551615";
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(mem, want, b.len);
}

static void test_put_u64_clamped(void **state)
{
	(void)state;
	char mem[5];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	buf_put_u64(&b, 1234567);
	assert_int_equal(b.err, -ERR_OVERFLOW);
	assert_memory_equal(mem, "12345", 5);
	assert_int_equal(b.missing, 2);
}

/* Reads all of fd from the start into out; returns the byte count. */
static size_t slurp(FILE *f, char *out, size_t cap)
{
	rewind(f);
	return fread(out, 1, cap, f);
}

static void test_fd_streams(void **state)
{
	(void)state;
	static char want[STREAM_BYTES], got[STREAM_BYTES + 1];
	FILE *f = tmpfile();
	assert_non_null(f);
	char mem[7];
	struct buf b;
	buf_init_fd(&b, mem, sizeof mem, fileno(f));
	size_t n = 0;
	for (unsigned i = 0; n + 32 < STREAM_BYTES; i++) {
		size_t k = i % 23; /* odd sizes cross the staging edge everywhere */
		for (size_t j = 0; j < k; j++)
			want[n + j] = (char)('a' + (i + j) % 26);
		buf_append(&b, want + n, k);
		n += k;
		assert_int_equal(buf_total(&b), n);
	}
	assert_true(b.flushed > 0);
	assert_int_equal(buf_finish(&b), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.missing, 0);
	assert_int_equal(buf_total(&b), n);
	assert_int_equal(slurp(f, got, sizeof got), n);
	assert_memory_equal(got, want, n);
	fclose(f);
}

static void test_fd_pipe(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	char mem[4], got[64];
	struct buf b;
	buf_init_fd(&b, mem, sizeof mem, p[1]);
	buf_puts(&b, "0123456789");
	buf_put_u64(&b, 42);
	assert_int_equal(buf_finish(&b), 0);
	assert_int_equal(buf_total(&b), 12);
	close(p[1]);
	ssize_t r = read(p[0], got, sizeof got);
	assert_int_equal(r, 12);
	assert_memory_equal(got, "012345678942", 12);
	close(p[0]);
}

static void test_fd_write_error(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	close(p[1]); /* p[1] is now a closed descriptor: write fails with EBADF */
	char mem[4];
	struct buf b;
	buf_init_fd(&b, mem, sizeof mem, p[1]);
	buf_puts(&b, "abc");
	assert_int_equal(b.err, 0); /* still staged */
	assert_int_equal(buf_finish(&b), -ERR_IO);
	buf_puts(&b, "more");
	assert_int_equal(b.err, -ERR_IO);
	assert_int_equal(buf_finish(&b), -ERR_IO);
	assert_int_equal(b.flushed, 0);
}

static void test_fd_error_mid_stream(void **state)
{
	(void)state;
	char mem[4];
	struct buf b;
	buf_init_fd(&b, mem, sizeof mem, 999999); /* far above any open descriptor */
	buf_puts(&b, "0123456789");
	assert_int_equal(b.err, -ERR_IO);
	assert_int_equal(buf_finish(&b), -ERR_IO);
}

static void test_put_hex(void **state)
{
	(void)state;
	char mem[32];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	const unsigned char d[] = {0x00, 0x0f, 0xa5, 0xff, 0x10};
	buf_put_hex(&b, d, sizeof d);
	buf_put_hex(&b, d, 0);
	assert_int_equal(buf_finish(&b), 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(mem, "000fa5ff10", 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_memory_fits),
	    cmocka_unit_test(test_memory_overflow_clamps),
	    cmocka_unit_test(test_memory_zero_cap),
	    cmocka_unit_test(test_reset),
	    cmocka_unit_test(test_put_u64),
	    cmocka_unit_test(test_put_u64_clamped),
	    cmocka_unit_test(test_put_hex),
	    cmocka_unit_test(test_fd_streams),
	    cmocka_unit_test(test_fd_pipe),
	    cmocka_unit_test(test_fd_write_error),
	    cmocka_unit_test(test_fd_error_mid_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
