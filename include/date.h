/*
 * date.h: Unix time and the calendar texts the service speaks: the IMF-fixdate of HTTP and ACS
 * signing ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110 5.6.7; the Date of mail uses it with
 * "+0000", RFC 5322 3.3) and RFC 3339 UTC with milliseconds for logs. Proleptic Gregorian
 * arithmetic of our own: no locale, no time zone, no gmtime_r, the same in every libc.
 */
#ifndef NOTIFY_DATE_H
#define NOTIFY_DATE_H

#include <stddef.h>
#include <stdint.h>

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define DATE_IMF_LEN 29
/* "2026-11-28T16:06:26.123Z" */
#define DATE_RFC3339_MS_LEN 24
/* 9999-12-31T23:59:59Z: every format here has a four-digit year. */
#define DATE_MAX_UNIX INT64_C(253402300799)

struct date_civil {
	int year;  /* 1970..9999 */
	int month; /* 1..12 */
	int day;   /* 1..31 */
	int hour, min, sec;
	int wday; /* 0 = Sunday */
};

/* Splits Unix time t (UTC). Returns 0, or -ERR_FIELD_INVALID outside 0..DATE_MAX_UNIX. */
int date_from_unix(int64_t t, struct date_civil *c);

/* Writes the IMF-fixdate of t and a NUL. Returns 0, or -ERR_FIELD_INVALID outside
 * 0..DATE_MAX_UNIX (out untouched). */
int date_imf(char out[static DATE_IMF_LEN + 1], int64_t t);

/* Writes t (seconds) and ms (0..999) as RFC 3339 UTC with milliseconds, and a NUL. Returns 0, or
 * -ERR_FIELD_INVALID outside 0..DATE_MAX_UNIX. */
int date_rfc3339_ms(char out[static DATE_RFC3339_MS_LEN + 1], int64_t t, int ms);

/*
 * Parses exactly an IMF-fixdate at p[0..n) into Unix seconds. Returns 1, or 0 for any other
 * text: rfc850-date and asctime-date are obsolete and no server we talk to sends them. The day
 * name must be one of the seven but is not checked against the date (the RFC does not ask
 * recipients to); year 0000 does not exist; second 60 (a leap second) is counted as :59 + 1.
 */
int date_parse_imf(const char *p, size_t n, int64_t *t);

#endif
