/* test_date.c: the shared calendar code agrees with libc and reads back what it writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "date.h"
#include "err.h"

/* Every day from 1970 to 9999 at a varying second: fields equal gmtime_r's, the IMF text equals
 * strftime's in the C locale, and parsing it gives the time back. */
static void agrees_with_libc_and_round_trips(void **state)
{
	(void)state;
	for (int64_t t = 0; t <= DATE_MAX_UNIX; t += 86400 + 3607) {
		struct date_civil c;
		struct tm tm;
		time_t tt = (time_t)t;
		char imf[DATE_IMF_LEN + 1], want[64];
		assert_int_equal(date_from_unix(t, &c), 0);
		assert_non_null(gmtime_r(&tt, &tm));
		assert_int_equal(c.year, tm.tm_year + 1900);
		assert_int_equal(c.month, tm.tm_mon + 1);
		assert_int_equal(c.day, tm.tm_mday);
		assert_int_equal(c.hour * 3600 + c.min * 60 + c.sec,
		                 tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec);
		assert_int_equal(c.wday, tm.tm_wday);
		assert_int_equal(date_imf(imf, t), 0);
		strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		assert_string_equal(imf, want);
		int64_t back = -1;
		assert_int_equal(date_parse_imf(imf, DATE_IMF_LEN, &back), 1);
		assert_int_equal(back, t);
	}
}

static void formats_exactly(void **state)
{
	(void)state;
	char imf[DATE_IMF_LEN + 1], r[DATE_RFC3339_MS_LEN + 1];
	assert_int_equal(date_imf(imf, 784111777), 0);
	assert_string_equal(imf, "Sun, 06 Nov 1994 08:49:37 GMT");
	assert_int_equal(date_imf(imf, DATE_MAX_UNIX), 0);
	assert_string_equal(imf, "Fri, 31 Dec 9999 23:59:59 GMT");
	assert_int_equal(date_rfc3339_ms(r, 951782400, 7), 0);
	assert_string_equal(r, "2000-02-29T00:00:00.007Z");
	assert_int_equal(date_rfc3339_ms(r, 0, 999), 0);
	assert_string_equal(r, "1970-01-01T00:00:00.999Z");
}

static void refuses_out_of_range(void **state)
{
	(void)state;
	char imf[DATE_IMF_LEN + 1] = "untouched", r[DATE_RFC3339_MS_LEN + 1];
	struct date_civil c;
	assert_int_equal(date_imf(imf, -1), -ERR_FIELD_INVALID);
	assert_string_equal(imf, "untouched");
	assert_int_equal(date_imf(imf, DATE_MAX_UNIX + 1), -ERR_FIELD_INVALID);
	assert_int_equal(date_from_unix(INT64_MIN, &c), -ERR_FIELD_INVALID);
	assert_int_equal(date_rfc3339_ms(r, 0, 1000), -ERR_FIELD_INVALID);
	assert_int_equal(date_rfc3339_ms(r, 0, -1), -ERR_FIELD_INVALID);
}

static void parse_rejects_other_forms(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "Sunday, 06-Nov-94 08:49:37 GMT", /* rfc850-date */
	    "Sun Nov  6 08:49:37 1994",       /* asctime-date */
	    "Sun, 06 Nov 1994 08:49:37 UTC",  "sun, 06 Nov 1994 08:49:37 GMT",
	    "Sun, 31 Nov 1994 08:49:37 GMT",  "Sun, 29 Feb 1900 08:49:37 GMT",
	    "Sun, 06 Nov 0000 08:49:37 GMT",  "Sun, 06 Nov 1994 24:00:00 GMT",
	    "Sun, 06 Nov 1994 08:60:00 GMT",  "Sun, 6 Nov 1994 08:49:37 GMT",
	    "Sun, 06 Nov 1994 08:49:37 GMT ",
	};
	int64_t t = 42;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(date_parse_imf(bad[i], strlen(bad[i]), &t), 0);
	assert_int_equal(t, 42);
	assert_int_equal(date_parse_imf("Sat, 29 Feb 2000 00:00:00 GMT", DATE_IMF_LEN, &t), 1);
	assert_int_equal(t, 951782400);
	assert_int_equal(date_parse_imf("Sat, 31 Dec 2016 23:59:60 GMT", DATE_IMF_LEN, &t), 1);
	assert_int_equal(t, 1483228800); /* the leap second counts as the next second */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(agrees_with_libc_and_round_trips),
	    cmocka_unit_test(formats_exactly),
	    cmocka_unit_test(refuses_out_of_range),
	    cmocka_unit_test(parse_rejects_other_forms),
	};
	return cmocka_run_group_tests_name("date", tests, NULL, NULL);
}
