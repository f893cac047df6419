/* date.c: the calendar arithmetic and date texts of date.h. No locale, no libc time zone code. */
#include "date.h"

#include <string.h>

#include "err.h"

#define SECS_PER_DAY 86400
/* Days from 0000-03-01 to 1970-01-01 in the proleptic Gregorian calendar: the shift that makes
 * the leap day the last day of a year, so months follow each other without exceptions. */
#define DAYS_0000_03_01_TO_EPOCH 719468
/* 400 * 365 + 97 leap days: the calendar's period. */
#define DAYS_PER_400_YEARS 146097
/* 1970-01-01 was a Thursday (0 = Sunday). */
#define EPOCH_WDAY 4

static const char wday_names[] = "SunMonTueWedThuFriSat";
static const char month_names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

static int is_leap(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

/* Days from 1970-01-01 to y-m-d (y >= 1, m 1..12, d valid). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	static const int before_month[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	int64_t py = y - 1;
	int64_t days = py * 365 + py / 4 - py / 100 + py / 400; /* from 0001-01-01 */
	days += before_month[m - 1] + (m > 2 && is_leap(y)) + (d - 1);
	return days - 719162; /* days from 0001-01-01 to 1970-01-01 */
}

/* see date.h */
int date_from_unix(int64_t t, struct date_civil *c)
{
	if (t < 0 || t > DATE_MAX_UNIX)
		return -ERR_FIELD_INVALID;
	int64_t days = t / SECS_PER_DAY, secs = t % SECS_PER_DAY;
	/* Era arithmetic on a March-based year (H. Hinnant's civil_from_days). */
	int64_t z = days + DAYS_0000_03_01_TO_EPOCH;
	int64_t era = z / DAYS_PER_400_YEARS, doe = z - era * DAYS_PER_400_YEARS;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	c->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	c->month = (int)(mp < 10 ? mp + 3 : mp - 9);
	c->year = (int)(yoe + era * 400 + (c->month <= 2));
	c->hour = (int)(secs / 3600);
	c->min = (int)(secs / 60 % 60);
	c->sec = (int)(secs % 60);
	c->wday = (int)((days + EPOCH_WDAY) % 7);
	return 0;
}

/* Writes v as `width` zero-padded decimal digits at p. */
static void put_digits(char *p, int v, int width)
{
	for (int i = width - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
}

/* see date.h */
int date_imf(char out[static DATE_IMF_LEN + 1], int64_t t)
{
	struct date_civil c;
	if (date_from_unix(t, &c) < 0)
		return -ERR_FIELD_INVALID;
	memcpy(out, "Www, DD Mmm YYYY hh:mm:ss GMT", DATE_IMF_LEN + 1);
	memcpy(out, wday_names + 3 * c.wday, 3);
	put_digits(out + 5, c.day, 2);
	memcpy(out + 8, month_names + 3 * (c.month - 1), 3);
	put_digits(out + 12, c.year, 4);
	put_digits(out + 17, c.hour, 2);
	put_digits(out + 20, c.min, 2);
	put_digits(out + 23, c.sec, 2);
	return 0;
}

/* see date.h */
int date_rfc3339_ms(char out[static DATE_RFC3339_MS_LEN + 1], int64_t t, int ms)
{
	struct date_civil c;
	if (ms < 0 || ms > 999 || date_from_unix(t, &c) < 0)
		return -ERR_FIELD_INVALID;
	memcpy(out, "YYYY-MM-DDThh:mm:ss.mmmZ", DATE_RFC3339_MS_LEN + 1);
	put_digits(out, c.year, 4);
	put_digits(out + 5, c.month, 2);
	put_digits(out + 8, c.day, 2);
	put_digits(out + 11, c.hour, 2);
	put_digits(out + 14, c.min, 2);
	put_digits(out + 17, c.sec, 2);
	put_digits(out + 20, ms, 3);
	return 0;
}

/* Two decimal digits at p as 0..99, or -1. */
static int two_digits(const char *p)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	return (p[0] - '0') * 10 + (p[1] - '0');
}

/* Index of p[0..3) among the three-letter names in `names`, or -1 (case-sensitive). */
static int name_index(const char *p, const char *names, int count)
{
	for (int i = 0; i < count; i++) {
		if (memcmp(p, names + 3 * i, 3) == 0)
			return i;
	}
	return -1;
}

/* Days in month m (1..12) of year y. */
static int month_days(int64_t y, int m)
{
	static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return len[m - 1] + (m == 2 && is_leap(y));
}

/* see date.h */
int date_parse_imf(const char *p, size_t n, int64_t *t)
{
	/* "Sun, 06 Nov 1994 08:49:37 GMT": '_' marks the variable octets, checked below */
	static const char layout[] = "___, __ ___ ____ __:__:__ GMT";
	if (n != sizeof layout - 1)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (layout[i] != '_' && p[i] != layout[i])
			return 0;
	}
	int day = two_digits(p + 5), mon = name_index(p + 8, month_names, 12) + 1;
	int yhi = two_digits(p + 12), ylo = two_digits(p + 14);
	int hh = two_digits(p + 17), mm = two_digits(p + 20), ss = two_digits(p + 23);
	if (name_index(p, wday_names, 7) < 0 || mon < 1 || yhi < 0 || ylo < 0 || hh < 0 ||
	    hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
		return 0;
	int64_t year = yhi * 100 + ylo;
	if (year < 1 || day < 1 || day > month_days(year, mon))
		return 0;
	*t = days_from_civil(year, mon, day) * SECS_PER_DAY + hh * 3600 + mm * 60 + ss;
	return 1;
}
