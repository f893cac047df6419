/* test_b64.c: base64 of b64.h: RFC 4648 vectors, canonical-form checking, decoding, wrapping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "b64.h"
#include "err.h"

/* RFC 4648 10: the test vectors. */
static const char *const vec_plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
static const char *const vec_b64[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
#define NVEC (sizeof vec_plain / sizeof vec_plain[0])

static void test_encode_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVEC; i++) {
		char mem[16];
		struct buf b;
		buf_init(&b, mem, sizeof mem);
		b64_encode(&b, vec_plain[i], strlen(vec_plain[i]));
		assert_int_equal(buf_finish(&b), 0);
		assert_int_equal(b.len, strlen(vec_b64[i]));
		assert_memory_equal(mem, vec_b64[i], b.len);
	}
}

static void test_decode_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < NVEC; i++) {
		unsigned char out[16];
		size_t n = strlen(vec_plain[i]);
		assert_int_equal(b64_check(vec_b64[i], strlen(vec_b64[i])), (long)n);
		assert_int_equal(b64_decode(vec_b64[i], strlen(vec_b64[i]), out, sizeof out),
		                 (long)n);
		assert_memory_equal(out, vec_plain[i], n);
	}
}

static void test_all_bytes_round_trip(void **state)
{
	(void)state;
	unsigned char in[256], out[256];
	char mem[344];
	for (int i = 0; i < 256; i++)
		in[i] = (unsigned char)i;
	for (size_t n = 0; n <= sizeof in; n += 37) {
		struct buf b;
		buf_init(&b, mem, sizeof mem);
		b64_encode(&b, in, n);
		assert_int_equal(buf_finish(&b), 0);
		assert_int_equal(b.len, (n + 2) / 3 * 4);
		assert_int_equal(b64_decode(mem, b.len, out, sizeof out), (long)n);
		assert_memory_equal(out, in, n);
	}
}

static void test_check_rejects(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "Zg",                 /* not a multiple of 4 */
	    "Zh==",               /* nonzero bits under the padding */
	    "Zm9=",               /* nonzero bits under one '=' */
	    "Zg=a",               /* data after padding */
	    "====",               /* padding only */
	    "Z===",               /* three '=' */
	    "=Zg=",               /* padding first */
	    "Zg==Zm9v",           /* padding in the middle */
	    "Zm9v\nYg==",         /* whitespace */
	    "Zm9 ",       "Zm9-", /* base64url alphabet */
	    "Zm9_",       "Zm9v\0\0\0\0",
	};
	static const size_t len[] = {2, 4, 4, 4, 4, 4, 4, 8, 9, 4, 4, 4, 8};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		unsigned char out[8];
		assert_int_equal(b64_check(bad[i], len[i]), -ERR_FIELD_INVALID);
		assert_int_equal(b64_decode(bad[i], len[i], out, sizeof out), -ERR_FIELD_INVALID);
	}
}

static void test_decode_overflow(void **state)
{
	(void)state;
	unsigned char out[6];
	assert_int_equal(b64_decode("Zm9vYmFy", 8, out, 5), -ERR_OVERFLOW);
	assert_int_equal(b64_decode("Zm9vYg==", 8, out, 3), -ERR_OVERFLOW);
	assert_int_equal(b64_decode("Zm9vYg==", 8, out, 4), 4);
	assert_int_equal(b64_decode("", 0, out, 0), 0);
	/* Bad input wins over a small buffer. */
	assert_int_equal(b64_decode("Zm9vY===", 8, out, 1), -ERR_FIELD_INVALID);
}

static void test_wrap(void **state)
{
	(void)state;
	char in[200], mem[256];
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = "ABCD"[i % 4];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	b64_wrap(&b, in, sizeof in, 76);
	assert_int_equal(buf_finish(&b), 0);
	/* 76 + 76 + 48 characters, each line ended by CRLF. */
	assert_int_equal(b.len, 200 + 3 * 2);
	assert_memory_equal(mem, in, 76);
	assert_memory_equal(mem + 76, "\r\n", 2);
	assert_memory_equal(mem + 78, in, 76);
	assert_memory_equal(mem + 154, "\r\n", 2);
	assert_memory_equal(mem + 156, in, 48);
	assert_memory_equal(mem + 204, "\r\n", 2);

	buf_reset(&b);
	b64_wrap(&b, in, 76, 76); /* exactly one line */
	assert_int_equal(b.len, 78);
	buf_reset(&b);
	b64_wrap(&b, in, 0, 76); /* nothing: no empty line */
	assert_int_equal(b.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_vectors),       cmocka_unit_test(test_decode_vectors),
	    cmocka_unit_test(test_all_bytes_round_trip), cmocka_unit_test(test_check_rejects),
	    cmocka_unit_test(test_decode_overflow),      cmocka_unit_test(test_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
