/* test_id.c: operation ids of id.h: random v4, key-derived v8, and the validity check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "id.h"

/* Draws in the uniqueness test: enough to catch a stuck or short random source. */
#define DRAWS 1000

/* Value of a hex digit, -1 when c is not lower-case hex. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Asserts the 8-4-4-4-12 lower-case shape, the version nibble and the RFC 9562 variant. */
static void assert_uuid(const char *s, int version)
{
	assert_int_equal(strlen(s), ID_LEN);
	for (size_t i = 0; i < ID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			assert_int_equal(s[i], '-');
		else
			assert_true(hexval(s[i]) >= 0);
	}
	assert_int_equal(hexval(s[14]), version);
	assert_int_equal(hexval(s[19]) & 0xc, 0x8); /* variant bits 10 */
	assert_int_equal(id_valid(s, strlen(s)), 1);
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, ID_LEN + 1);
}

static void test_random_is_v4_uuid(void **state)
{
	(void)state;
	char id[ID_LEN + 1];
	memset(id, 'X', sizeof id);
	assert_int_equal(id_random(id), 0);
	assert_int_equal(id[ID_LEN], '\0');
	assert_uuid(id, 4);
}

static void test_random_1000_distinct_and_valid(void **state)
{
	(void)state;
	static char ids[DRAWS][ID_LEN + 1];
	for (int i = 0; i < DRAWS; i++) {
		assert_int_equal(id_random(ids[i]), 0);
		assert_uuid(ids[i], 4);
	}
	qsort(ids, DRAWS, sizeof ids[0], cmp_id);
	for (int i = 1; i < DRAWS; i++)
		assert_true(memcmp(ids[i - 1], ids[i], ID_LEN) != 0);
}

static void test_from_key_deterministic_v8(void **state)
{
	(void)state;
	char a[ID_LEN + 1], b[ID_LEN + 1];
	id_from_key("order-42", 8, a);
	id_from_key("order-42", 8, b);
	assert_string_equal(a, b);
	assert_uuid(a, 8);
}

static void test_from_key_different_keys_differ(void **state)
{
	(void)state;
	char a[ID_LEN + 1], b[ID_LEN + 1], c[ID_LEN + 1];
	id_from_key("order-42", 8, a);
	id_from_key("order-43", 8, b);
	id_from_key("order-4", 7, c); /* a prefix: the length counts */
	assert_string_not_equal(a, b);
	assert_string_not_equal(a, c);
	assert_string_not_equal(b, c);
	assert_uuid(b, 8);
	assert_uuid(c, 8);
}

/* Known vectors, computed outside this code base (Python's hashlib and uuid modules):
 *   sha = hashlib.sha256(b"notify-handler idempotency-key v1\n" + key).digest()
 *   b = bytearray(sha[:16]); b[6] = b[6] & 0x0f | 0x80; b[8] = b[8] & 0x3f | 0x80
 *   str(uuid.UUID(bytes=bytes(b)))
 * so the oracle is not the formatter under test. */
static void test_from_key_known_vectors(void **state)
{
	(void)state;
	static char k255[256];
	char got[ID_LEN + 1];
	id_from_key("order-42", 8, got);
	assert_string_equal(got, "5daeac03-a05f-87b0-b8bb-11cb7d0b64ca");
	id_from_key("", 0, got);
	assert_string_equal(got, "75794db9-eb87-84f6-bd71-5006dc3068a7");
	memset(k255, 'x', 255);
	id_from_key(k255, 255, got);
	assert_string_equal(got, "5cee839f-3ada-8da9-a823-41e98b0f1195");
}

/* Key and body (ACS ids), known vectors as above over
 * b"notify-handler idempotency-key+body v1\n" + sha256(body) + key. */
static void test_from_key_body_known_vectors(void **state)
{
	(void)state;
	static const unsigned char body_sha[32] = {
	    0x9c, 0x83, 0xd7, 0x81, 0x6f, 0xdd, 0x89, 0xad, 0x6f, 0xbf, 0xc4,
	    0x39, 0x1f, 0x1f, 0xce, 0xf9, 0x1a, 0x07, 0xd9, 0x4b, 0xdf, 0x96,
	    0x0a, 0x36, 0x5b, 0x88, 0x17, 0x9d, 0x24, 0xad, 0xd9, 0x5c}; /* sha256 of test_app's
	                                                                    body_ok */
	static const unsigned char zero[32];
	char got[ID_LEN + 1], key_only[ID_LEN + 1];
	id_from_key_body("order-42", 8, body_sha, got);
	assert_string_equal(got, "58f93900-9288-8a36-bbf9-93aa9301cdc8");
	id_from_key_body("k", 1, zero, got);
	assert_string_equal(got, "03126eea-8b54-8a40-a7dd-c17e7ebdc651");
	/* never the key-only id of the same key */
	id_from_key("order-42", 8, key_only);
	id_from_key_body("order-42", 8, body_sha, got);
	assert_string_not_equal(got, key_only);
}

static void test_from_key_uses_only_n_bytes(void **state)
{
	(void)state;
	char a[ID_LEN + 1], b[ID_LEN + 1];
	id_from_key("order-42", 8, a);
	id_from_key("order-42-and-more", 8, b);
	assert_string_equal(a, b);
}

static void test_from_digest_sets_version_and_variant(void **state)
{
	(void)state;
	unsigned char d[32];
	char got[ID_LEN + 1];
	memset(d, 0xff, sizeof d);
	id_from_digest(d, got);
	assert_string_equal(got, "ffffffff-ffff-8fff-bfff-ffffffffffff");
	memset(d, 0x00, sizeof d);
	id_from_digest(d, got);
	assert_string_equal(got, "00000000-0000-8000-8000-000000000000");
	for (int i = 0; i < 32; i++)
		d[i] = (unsigned char)(i * 37 + 11);
	id_from_digest(d, got);
	assert_string_equal(got, "0b30557a-9fc4-890e-b358-7da2c7ec1136"); /* known, as above */
}

static void test_valid_accepts_lower_case(void **state)
{
	(void)state;
	const char *ok = "0123abcd-ef01-4567-89ab-cdef01234567";
	assert_int_equal(id_valid(ok, strlen(ok)), 1);
	/* Only the shape is checked, not version or variant. */
	const char *v0 = "00000000-0000-0000-0000-000000000000";
	assert_int_equal(id_valid(v0, strlen(v0)), 1);
}

static void test_valid_rejects_upper_case(void **state)
{
	(void)state;
	const char *s = "0123ABCD-ef01-4567-89ab-cdef01234567";
	assert_int_equal(id_valid(s, strlen(s)), 0);
	const char *t = "0123abcd-ef01-4567-89ab-cdef0123456F";
	assert_int_equal(id_valid(t, strlen(t)), 0);
}

static void test_valid_rejects_wrong_hyphens(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "0123abcde-f01-4567-89ab-cdef01234567", /* first hyphen one late */
	    "0123abc-def01-4567-89ab-cdef01234567", /* first hyphen one early */
	    "0123abcd-ef01-456789ab--cdef01234567", /* hyphen moved */
	    "0123abcdaef01a4567a89abacdef01234567", /* no hyphens */
	    "0123abcd-ef01-4567-89ab-cdef-1234567", /* extra hyphen */
	    "0123abcd_ef01_4567_89ab_cdef01234567", /* wrong separator */
	    "{123abcd-ef01-4567-89ab-cdef0123456}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(strlen(bad[i]), ID_LEN);
		assert_int_equal(id_valid(bad[i], ID_LEN), 0);
	}
}

static void test_valid_rejects_wrong_length(void **state)
{
	(void)state;
	const char *s37 = "0123abcd-ef01-4567-89ab-cdef012345670";
	assert_int_equal(id_valid(s37, 35), 0);
	assert_int_equal(id_valid(s37, 37), 0);
	assert_int_equal(id_valid(s37, 36), 1);
	assert_int_equal(id_valid("", 0), 0);
}

static void test_valid_rejects_non_hex(void **state)
{
	(void)state;
	char s[] = "0123abcd-ef01-4567-89ab-cdef01234567";
	static const char bad[] = {'g', 'z', ' ', '\0', '/', ':', '`', 'G', '\xff', '-'};
	for (size_t i = 0; i < sizeof bad; i++) {
		char t[sizeof s];
		memcpy(t, s, sizeof s);
		t[0] = bad[i];
		assert_int_equal(id_valid(t, ID_LEN), 0);
		memcpy(t, s, sizeof s);
		t[35] = bad[i];
		assert_int_equal(id_valid(t, ID_LEN), 0);
		memcpy(t, s, sizeof s);
		t[14] = bad[i];
		assert_int_equal(id_valid(t, ID_LEN), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_is_v4_uuid),
	    cmocka_unit_test(test_random_1000_distinct_and_valid),
	    cmocka_unit_test(test_from_key_deterministic_v8),
	    cmocka_unit_test(test_from_key_different_keys_differ),
	    cmocka_unit_test(test_from_key_known_vectors),
	    cmocka_unit_test(test_from_key_body_known_vectors),
	    cmocka_unit_test(test_from_key_uses_only_n_bytes),
	    cmocka_unit_test(test_from_digest_sets_version_and_variant),
	    cmocka_unit_test(test_valid_accepts_lower_case),
	    cmocka_unit_test(test_valid_rejects_upper_case),
	    cmocka_unit_test(test_valid_rejects_wrong_hyphens),
	    cmocka_unit_test(test_valid_rejects_wrong_length),
	    cmocka_unit_test(test_valid_rejects_non_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
