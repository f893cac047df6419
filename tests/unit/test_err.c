/* test_err.c: the views generated from the one error list stay consistent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "http.h"

static void every_error_has_a_status_slug_and_title(void **state)
{
	(void)state;
	for (int e = 0; e < ERR_COUNT; e++) {
		int st = err_http_status(e);
		if (e == ERR_PARTIAL)
			assert_int_equal(st, 0);
		else
			assert_true(st >= 200 && st <= 599);
		assert_true(strlen(err_slug(e)) > 1);
		assert_true(strlen(err_str(e)) > 1);
		/* every status the list can answer has a reason phrase */
		if (st)
			assert_string_not_equal(http_reason(st), "Unknown");
	}
}

static void slugs_are_unique_and_url_safe(void **state)
{
	(void)state;
	for (int a = 0; a < ERR_COUNT; a++) {
		for (const char *p = err_slug(a); *p; p++)
			assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			            *p == '-');
		for (int b = a + 1; b < ERR_COUNT; b++)
			assert_string_not_equal(err_slug(a), err_slug(b));
	}
}

static void negative_codes_map_like_positive_ones(void **state)
{
	(void)state;
	assert_int_equal(err_http_status(-ERR_BODY_TOO_LARGE), 413);
	assert_int_equal(err_http_status(ERR_BODY_TOO_LARGE), 413);
	assert_string_equal(err_slug(-ERR_IDEM_MISMATCH), "idempotency-key-reused");
	assert_int_equal(err_http_status(-ERR_IDEM_MISMATCH), 409);
	assert_int_equal(err_http_status(-ERR_HEADERS_TOO_LARGE), 431);
	assert_int_equal(err_http_status(-ERR_MEDIA_TYPE), 415);
}

static void out_of_range_codes_are_internal(void **state)
{
	(void)state;
	assert_int_equal(err_http_status(ERR_COUNT), 500);
	assert_int_equal(err_http_status(-1000), 500);
	assert_string_equal(err_str(12345), "Unknown error");
	assert_string_equal(err_slug(ERR_COUNT), "internal");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_error_has_a_status_slug_and_title),
	    cmocka_unit_test(slugs_are_unique_and_url_safe),
	    cmocka_unit_test(negative_codes_map_like_positive_ones),
	    cmocka_unit_test(out_of_range_codes_are_internal),
	};
	return cmocka_run_group_tests_name("err", tests, NULL, NULL);
}
