/* test_acs_auth.c: ACS access-key authentication of acs_auth.h: the official SDK vectors, the
 * worked /emails:send example, RFC 4231, dates, content hashes, connection strings. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "acs_auth.h"
#include "b64.h"
#include "err.h"

/* The worked example's fake key: bytes 0x00..0x3f (computed with the algorithm of the HMAC
 * tutorial, not a published vector). */
#define KEY64                                                                                      \
	"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw=="
#define HASH_EMPTY "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define AUTH       "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="

/* The SDK tests' clock: 2022-04-13T18:09:12Z; the worked example's: 2024-03-05T09:04:05Z. */
#define T_SDK    INT64_C(1649873352)
#define T_EX     INT64_C(1709629445)
#define DATE_SDK "Wed, 13 Apr 2022 18:09:12 GMT"
#define DATE_EX  "Tue, 05 Mar 2024 09:04:05 GMT"

#define EX_HOST "contoso.unitedstates.communication.azure.com"
#define EX_BODY                                                                                    \
	"{\"senderAddress\":\"DoNotReply@contoso.com\","                                           \
	"\"content\":{\"subject\":\"Hello\",\"plainText\":\"Hi there\"},"                          \
	"\"recipients\":{\"to\":[{\"address\":\"alice@example.com\"}]}}"
#define EX_HASH "krUHEJM7a7NKToZzt+gPHN8vBPPGa8EJ4NMYbXhiUOE="

/* Big enough for any header block or string-to-sign here. */
#define OUT_CAP 1024

static void parse_ok(const char *s, struct acs_conn *c)
{
	char err[256] = "";
	int r = acs_conn_parse(s, strlen(s), c, err, sizeof err);
	if (r != 0)
		fail_msg("rejected \"%s\": %s", s, err);
}

/* Signs and returns the NUL-terminated header block in mem[0..OUT_CAP). */
static const char *sign(char *mem, const struct acs_conn *c, const char *method, const char *path,
                        const char *body, int64_t t)
{
	struct buf b;
	buf_init(&b, mem, OUT_CAP);
	assert_int_equal(acs_auth_sign(&b, c, method, path, body, body ? strlen(body) : 0, t), 0);
	assert_int_equal(b.len, ACS_AUTH_HEADERS_LEN);
	return buf_cstr(&b);
}

/* Asserts the full header block for date, hash and signature. */
static void expect_block(const char *got, const char *date, const char *hash, const char *sig)
{
	char want[OUT_CAP];
	struct buf b;
	buf_init(&b, want, sizeof want);
	buf_puts(&b, "x-ms-date: ");
	buf_puts(&b, date);
	buf_puts(&b, "\r\nx-ms-content-sha256: ");
	buf_puts(&b, hash);
	buf_puts(&b, "\r\nAuthorization: " AUTH);
	buf_puts(&b, sig);
	buf_puts(&b, "\r\n");
	assert_string_equal(got, buf_cstr(&b));
}

/* ---- official SDK vectors (the HMAC tests of azure-sdk-for-js and -python) --------------- */

/* JS cryptoUtils.spec.ts / Python test_hmac.py: HMAC with key "pw==" (the byte 0xa7). */
static void test_sdk_hmac(void **state)
{
	(void)state;
	unsigned char key[4];
	char sig[ACS_B64_SHA256_LEN + 1];
	assert_int_equal(b64_decode("pw==", 4, key, sizeof key), 1);
	assert_int_equal(key[0], 0xa7);
	acs_auth_signature(key, 1, "banana", 6, sig);
	assert_string_equal(sig, "88EC05aAS9iXnaimtNO78JLjiPtfWryQB/5QYEzEsu8=");
	acs_auth_signature(key, 1, "\xf0\x9f\x98\x80", 4, sig); /* U+1F600 in UTF-8 */
	assert_string_equal(sig, "1rudJKjn2Zi+3hRrBG29wIF6pD6YyAeQR1ZcFtXoKAU=");
}

static void test_content_hash(void **state)
{
	(void)state;
	char h[ACS_B64_SHA256_LEN + 1];
	acs_auth_content_hash("", 0, h);
	assert_string_equal(h, HASH_EMPTY);
	acs_auth_content_hash(NULL, 0, h);
	assert_string_equal(h, HASH_EMPTY);
	acs_auth_content_hash("banana", 6, h);
	assert_string_equal(h, "tJPUg2Sv5E0RwBZc9HCkFk0eJgmRHvmYvoaNRq3j3k4=");
	acs_auth_content_hash("\xf0\x9f\x98\x80", 4, h);
	assert_string_equal(h, "8EQ6NCxe9UeDoRG1G6Vsk45HTDIyTZDDpgycjjo34tk=");
	assert_int_equal(strlen(EX_BODY), 149);
	acs_auth_content_hash(EX_BODY, strlen(EX_BODY), h);
	assert_string_equal(h, EX_HASH);
}

/* Python test_hmac.py P3..P5: GET, empty body, host contoso.communicationservices.azure.com. */
static void test_python_sdk_requests(void **state)
{
	(void)state;
	static const char *const path[] = {"/", "/testPath", "/testPath?testQuery=yes"};
	static const char *const sig[] = {"88MDmJhUR3m5QhFxb8ztShsSwlGrg7g/6XPnWf7QEO4=",
	                                  "RoCrHjw7fb9fpHSbqvRUY2xa8RBS0YvI1cxI1x8AS38=",
	                                  "il99+rd6V5O136roX/zVePCNle78HmvC4B7tu9zRH3I="};
	struct acs_conn c;
	char mem[OUT_CAP];
	parse_ok("endpoint=https://contoso.communicationservices.azure.com;accesskey=pw==", &c);
	assert_string_equal(c.endpoint_host, "contoso.communicationservices.azure.com");
	for (int i = 0; i < 3; i++)
		expect_block(sign(mem, &c, "GET", path[i], NULL, T_SDK), DATE_SDK, HASH_EMPTY,
		             sig[i]);
}

/* The reconstructed Python strings-to-sign, byte for byte. */
static void test_string_to_sign(void **state)
{
	(void)state;
	char mem[OUT_CAP];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	acs_auth_string_to_sign(&b, "GET", "/testPath?testQuery=yes", DATE_SDK,
	                        "contoso.communicationservices.azure.com", HASH_EMPTY);
	assert_int_equal(buf_finish(&b), 0);
	assert_string_equal(buf_cstr(&b), "GET\n/testPath?testQuery=yes\n" DATE_SDK
	                                  ";contoso.communicationservices.azure.com;" HASH_EMPTY);

	buf_init(&b, mem, 8);
	acs_auth_string_to_sign(&b, "GET", "/", DATE_SDK, "h", HASH_EMPTY);
	assert_int_equal(buf_finish(&b), -ERR_OVERFLOW);
}

/* JS communicationKeyCredentialPolicy.spec.ts J1, J2: GET, host example.com. */
static void test_js_sdk_requests(void **state)
{
	(void)state;
	struct acs_conn c;
	char mem[OUT_CAP];
	parse_ok("endpoint=https://example.com/;accesskey=pw==", &c);
	expect_block(sign(mem, &c, "GET", "/testPath?testQuery=test", NULL, T_SDK), DATE_SDK,
	             HASH_EMPTY, "DGdgwggJWnQyc6EHjR/Vbqg1ES64KpD6U2XwTDDj3tU=");
	expect_block(sign(mem, &c, "GET", "/testPath", "", T_SDK), DATE_SDK, HASH_EMPTY,
	             "+6tWkg3lNKVjQHHmxkdGQcJjUgzclsWTMebnuCz1ngU=");
}

/* ---- the worked /emails:send example ---------------------------------------------------- */

/* The worked example's full request bytes, with our three lines in the middle. */
static void test_worked_example_request(void **state)
{
	(void)state;
	static const char want[] =
	    "POST /emails:send?api-version=2023-03-31 HTTP/1.1\r\n"
	    "Host: " EX_HOST "\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: 149\r\n"
	    "Accept: application/json\r\n"
	    "x-ms-date: " DATE_EX "\r\n"
	    "x-ms-content-sha256: " EX_HASH "\r\n"
	    "Authorization: " AUTH "dSYwn+kvs5JoD3b+sre91dwvu7WJ0KA+oSYTsH12kZI=\r\n"
	    "Operation-Id: 4b3c2d1e-0f9a-4b8c-9d7e-6f5a4b3c2d1e\r\n"
	    "\r\n" EX_BODY;
	struct acs_conn c;
	char mem[OUT_CAP];
	struct buf b;
	parse_ok("endpoint=https://" EX_HOST "/;accesskey=" KEY64, &c);
	assert_int_equal(c.key_len, 64);
	for (int i = 0; i < 64; i++)
		assert_int_equal(c.key[i], i);
	buf_init(&b, mem, sizeof mem);
	buf_puts(&b, "POST /emails:send?api-version=2023-03-31 HTTP/1.1\r\nHost: ");
	buf_puts(&b, c.endpoint_host);
	buf_puts(&b, "\r\nContent-Type: application/json\r\nContent-Length: ");
	buf_put_u64(&b, strlen(EX_BODY));
	buf_puts(&b, "\r\nAccept: application/json\r\n");
	assert_int_equal(acs_auth_sign(&b, &c, "POST", "/emails:send?api-version=2023-03-31",
	                               EX_BODY, strlen(EX_BODY), T_EX),
	                 0);
	buf_puts(&b, "Operation-Id: 4b3c2d1e-0f9a-4b8c-9d7e-6f5a4b3c2d1e\r\n\r\n" EX_BODY);
	assert_int_equal(buf_finish(&b), 0);
	assert_int_equal(b.len, sizeof want - 1);
	assert_memory_equal(mem, want, sizeof want - 1);
}

static void test_worked_example_variants(void **state)
{
	(void)state;
	struct acs_conn c;
	char mem[OUT_CAP];
	parse_ok("endpoint=https://" EX_HOST "/;accesskey=" KEY64, &c);
	expect_block(sign(mem, &c, "POST", "/emails:send?api-version=2025-09-01", EX_BODY, T_EX),
	             DATE_EX, EX_HASH, "PMtgSOwcW1bgrXXX7fM7JPjNCfvFJQphxCldLca8pnk=");
	expect_block(sign(mem, &c, "GET",
	                  "/emails/operations/4b3c2d1e-0f9a-4b8c-9d7e-6f5a4b3c2d1e"
	                  "?api-version=2023-03-31",
	                  NULL, T_EX),
	             DATE_EX, HASH_EMPTY, "hnlCWzkOGageKkvmq4PkYS1EeDUFpBsnpHh5Tvcq5i0=");

	/* The pitfall: "host:443" signed gives the reference's wrong signature... */
	char sts[OUT_CAP], sig[ACS_B64_SHA256_LEN + 1];
	struct buf b;
	buf_init(&b, sts, sizeof sts);
	acs_auth_string_to_sign(&b, "POST", "/emails:send?api-version=2023-03-31", DATE_EX,
	                        EX_HOST ":443", EX_HASH);
	assert_int_equal(buf_finish(&b), 0);
	acs_auth_signature(c.key, c.key_len, sts, b.len, sig);
	assert_string_equal(sig, "5cUeTz59pahv5JSZSzfKwPUPs0vhMQCnesB2FKgA9+4=");
	/* ...and an explicit :443 in the endpoint is not signed, as the SDKs do. */
	parse_ok("endpoint=https://" EX_HOST ":443/;accesskey=" KEY64, &c);
	assert_string_equal(c.endpoint_host, EX_HOST);
	assert_int_equal(c.port, 443);
	expect_block(sign(mem, &c, "POST", "/emails:send?api-version=2023-03-31", EX_BODY, T_EX),
	             DATE_EX, EX_HASH, "dSYwn+kvs5JoD3b+sre91dwvu7WJ0KA+oSYTsH12kZI=");
}

/* Non-default port: signed as host:port. Signatures from @azure/communication-common 2.4.2
 * (the policy run under node with the clock frozen at T_EX), which signs and sends url.host. */
static void test_port_signed_like_js_sdk(void **state)
{
	(void)state;
	struct acs_conn c;
	char mem[OUT_CAP];
	parse_ok("endpoint=https://" EX_HOST ":8443/;accesskey=" KEY64, &c);
	assert_string_equal(c.endpoint_host, EX_HOST ":8443");
	assert_string_equal(c.host, EX_HOST);
	assert_int_equal(c.port, 8443);
	expect_block(sign(mem, &c, "POST", "/emails:send?api-version=2025-09-01", EX_BODY, T_EX),
	             DATE_EX, EX_HASH, "ERFEkRsQPlu9T7Tpdhrx5KIaspofBFe9jAwzjEYc7To=");
	parse_ok("endpoint=https://LocalHost:8443;accesskey=" KEY64, &c);
	assert_string_equal(c.endpoint_host, "localhost:8443");
	assert_string_equal(c.host, "localhost");
	expect_block(sign(mem, &c, "POST", "/emails:send?api-version=2025-09-01", EX_BODY, T_EX),
	             DATE_EX, EX_HASH, "nMRmkNnOjPXgcBEuW4cWahzsk3wW0stV/dc4+50bu2o=");
}

/* ---- RFC 4231 ---------------------------------------------------------------------------- */

static void test_rfc4231(void **state)
{
	(void)state;
	unsigned char key[131];
	char sig[ACS_B64_SHA256_LEN + 1];
	/* 4.2 test case 1: b0344c61...2e32cff7 */
	memset(key, 0x0b, 20);
	acs_auth_signature(key, 20, "Hi There", 8, sig);
	assert_string_equal(sig, "sDRMYdjbOFNcqK/OrwvxK4gdwgDJgz2nJuk3bC4yz/c=");
	/* 4.3 test case 2: 5bdcc146...64ec3843 */
	acs_auth_signature("Jefe", 4, "what do ya want for nothing?", 28, sig);
	assert_string_equal(sig, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
	/* 4.7 test case 6, a key longer than the block: 60e43159...0ee37f54 */
	memset(key, 0xaa, sizeof key);
	acs_auth_signature(key, sizeof key,
	                   "Test Using Larger Than Block-Size Key - Hash Key First", 54, sig);
	assert_string_equal(sig, "YOQxWR7gtn8Niiaqy/W3f44LxiE3KMUUBUYEDw7jf1Q=");
}

/* ---- dates ------------------------------------------------------------------------------- */

static void test_date_vectors(void **state)
{
	(void)state;
	static const struct {
		int64_t t;
		const char *date;
	} v[] = {
	    {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
	    {T_SDK, DATE_SDK},
	    {T_EX, DATE_EX},
	    {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},
	    {951868799, "Tue, 29 Feb 2000 23:59:59 GMT"},
	    {946684799, "Fri, 31 Dec 1999 23:59:59 GMT"},
	    {1735689599, "Tue, 31 Dec 2024 23:59:59 GMT"},
	    {INT64_C(2147483647), "Tue, 19 Jan 2038 03:14:07 GMT"},
	    {INT64_C(2147483648), "Tue, 19 Jan 2038 03:14:08 GMT"},
	    {INT64_C(4107499200), "Sun, 28 Feb 2100 12:00:00 GMT"},
	    {INT64_C(4107542400), "Mon, 01 Mar 2100 00:00:00 GMT"},
	    {ACS_MAX_UNIX_TIME, "Fri, 31 Dec 9999 23:59:59 GMT"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char d[ACS_DATE_LEN + 1];
		assert_int_equal(acs_auth_date(d, v[i].t), 0);
		assert_string_equal(d, v[i].date);
	}
	char d[ACS_DATE_LEN + 1] = "untouched";
	assert_int_equal(acs_auth_date(d, -1), -ERR_FIELD_INVALID);
	assert_int_equal(acs_auth_date(d, ACS_MAX_UNIX_TIME + 1), -ERR_FIELD_INVALID);
	assert_int_equal(acs_auth_date(d, INT64_MIN), -ERR_FIELD_INVALID);
	assert_string_equal(d, "untouched");
}

/* Agrees with gmtime_r + strftime (C locale) across the whole range. */
static void test_date_sweep(void **state)
{
	(void)state;
	const int64_t step = INT64_C(86400) * 37 + 4321; /* walks through days, hours, weekdays */
	for (int64_t t = 0; t <= ACS_MAX_UNIX_TIME; t += step) {
		char got[ACS_DATE_LEN + 1], want[64];
		time_t tt = (time_t)t;
		struct tm tm;
		assert_non_null(gmtime_r(&tt, &tm));
		assert_int_equal(strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm),
		                 ACS_DATE_LEN);
		assert_int_equal(acs_auth_date(got, t), 0);
		assert_string_equal(got, want);
	}
}

/* ---- connection strings ------------------------------------------------------------------ */

static void test_conn_good(void **state)
{
	(void)state;
	static const struct {
		const char *s, *endpoint_host, *host;
		uint16_t port;
		size_t key_len;
	} v[] = {
	    {"endpoint=https://" EX_HOST "/;accesskey=" KEY64, EX_HOST, EX_HOST, 443, 64},
	    {"accesskey=" KEY64 ";endpoint=https://" EX_HOST, EX_HOST, EX_HOST, 443, 64},
	    {"  Endpoint = https://" EX_HOST "/ ;  AccessKey = " KEY64 "  ; ", EX_HOST, EX_HOST,
	     443, 64},
	    {"\tendpoint=https://" EX_HOST "\t;\taccesskey=" KEY64 "\t", EX_HOST, EX_HOST, 443, 64},
	    {"ENDPOINT=HTTPS://Contoso.UnitedStates.Communication.Azure.COM/;ACCESSKEY=" KEY64 ";",
	     EX_HOST, EX_HOST, 443, 64},
	    {"endpoint=https://" EX_HOST ":8443/;accesskey=" KEY64, EX_HOST ":8443", EX_HOST, 8443,
	     64},
	    {"endpoint=https://" EX_HOST ":443;accesskey=" KEY64, EX_HOST, EX_HOST, 443, 64},
	    {";;endpoint=https://a-b.example:1/;;accesskey=pw==;;", "a-b.example:1", "a-b.example",
	     1, 1},
	    {"endpoint=https://localhost:65535;accesskey=pw==", "localhost:65535", "localhost",
	     65535, 1},
	    {"endpoint=https://x.example/;accesskey=pw==;region=westeurope;other=a=b", "x.example",
	     "x.example", 443, 1},
	    {"endpoint=https://1x.example/;accesskey=pw==", "1x.example", "1x.example", 443, 1},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct acs_conn c;
		parse_ok(v[i].s, &c);
		assert_string_equal(c.endpoint_host, v[i].endpoint_host);
		assert_string_equal(c.host, v[i].host);
		assert_int_equal(c.port, v[i].port);
		assert_int_equal(c.key_len, v[i].key_len);
	}
}

/* Fills mem with n characters of labels of `label` letters joined by '.'; NUL-terminates. */
static void long_host(char *mem, size_t n, size_t label)
{
	for (size_t i = 0; i < n; i++)
		mem[i] = (i + 1) % (label + 1) == 0 ? '.' : 'a';
	mem[n] = 0;
}

static void test_conn_host_limits(void **state)
{
	(void)state;
	char host[ACS_MAX_HOST + 2], s[512], err[256];
	struct acs_conn c;
	struct buf b;
	const size_t lens[] = {ACS_MAX_HOST, ACS_MAX_HOST + 1};
	for (int i = 0; i < 2; i++) {
		long_host(host, lens[i], 63);
		buf_init(&b, s, sizeof s);
		buf_puts(&b, "endpoint=https://");
		buf_puts(&b, host);
		buf_puts(&b, ":8443/;accesskey=" KEY64);
		buf_cstr(&b);
		int r = acs_conn_parse(s, b.len, &c, err, sizeof err);
		if (i == 0) {
			assert_int_equal(r, 0);
			assert_string_equal(c.host, host);
			assert_int_equal(strlen(c.endpoint_host), ACS_MAX_AUTHORITY - 1);
		} else {
			assert_int_equal(r, -ERR_FIELD_INVALID);
			assert_non_null(strstr(err, "longer than 253"));
		}
	}
	long_host(host, 64, 64); /* one label of 64 */
	buf_init(&b, s, sizeof s);
	buf_puts(&b, "endpoint=https://");
	buf_puts(&b, host);
	buf_puts(&b, ".example;accesskey=pw==");
	assert_int_equal(acs_conn_parse(s, b.len, &c, err, sizeof err), -ERR_FIELD_INVALID);
	host[63] = 0; /* 63 is fine */
	buf_init(&b, s, sizeof s);
	buf_puts(&b, "endpoint=https://");
	buf_puts(&b, host);
	buf_puts(&b, ".example;accesskey=pw==");
	assert_int_equal(acs_conn_parse(s, b.len, &c, err, sizeof err), 0);
}

/* 1 when some 8-character window of the key text appears in s. */
static int leaks_key(const char *s)
{
	static const char key[] = KEY64;
	for (size_t i = 0; i + 8 <= sizeof key - 1; i++) {
		char w[9];
		memcpy(w, key + i, 8);
		w[8] = 0;
		if (strstr(s, w))
			return 1;
	}
	return 0;
}

static void test_conn_bad(void **state)
{
	(void)state;
	static const struct {
		const char *s, *why; /* why: a part of the expected message */
	} v[] = {
	    {"endpoint=http://" EX_HOST "/;accesskey=" KEY64, "not http://"},
	    {"endpoint=HTTP://" EX_HOST "/;accesskey=" KEY64, "not http://"},
	    {"endpoint=" EX_HOST ";accesskey=" KEY64, "must start with https://"},
	    {"endpoint=ftp://" EX_HOST ";accesskey=" KEY64, "must start with https://"},
	    {"endpoint=https:" KEY64 ";accesskey=" KEY64, "must start with https://"},
	    {"accesskey=" KEY64, "no endpoint="},
	    {"", "no endpoint="},
	    {" ; ;", "no endpoint="},
	    {"endpoint=https://" EX_HOST "/", "no accesskey="},
	    {"endpoint=https://" EX_HOST "/;access_key=" KEY64, "no accesskey="},
	    {"endpoint=https://" EX_HOST "/;accesskey=", "empty"},
	    {"endpoint=https://" EX_HOST "/;accesskey=  ;", "empty"},
	    {"endpoint=https://" EX_HOST "/;accesskey=" KEY64 "!", "not valid base64"},
	    {"endpoint=https://" EX_HOST "/;accesskey=" KEY64 "AA", "not valid base64"},
	    {"endpoint=https://" EX_HOST "/;accesskey=px==", "not valid base64"},
	    {"endpoint=https://" EX_HOST "/;accesskey=AAEC AwQF" KEY64, "not valid base64"},
	    {"endpoint=https://" EX_HOST "/;accesskey=" KEY64 "%2B", "not valid base64"},
	    {"endpoint=https://" EX_HOST "/;accesskey=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"
	     "ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-Pw==",
	     "not valid base64"},
	    {"endpoint=https://" EX_HOST "/;accesskey=" KEY64 ";accesskey=" KEY64, "twice"},
	    {"endpoint=https://a.example/;accesskey=pw==;Endpoint=https://b.example/", "twice"},
	    {"endpoint=https://" EX_HOST "/;AAECAwQFBgcICQoLDA0ODxAREhMU", "no '='"},
	    {"endpoint=https://" EX_HOST "/;" KEY64, "no accesskey="},
	    {"endpoint=https://" EX_HOST "/x;accesskey=" KEY64, "no path"},
	    {"endpoint=https://" EX_HOST "/emails:send;accesskey=" KEY64, "no path"},
	    {"endpoint=https://" EX_HOST "//;accesskey=" KEY64, "no path"},
	    {"endpoint=https://" EX_HOST "?a=b;accesskey=" KEY64, "no path"},
	    {"endpoint=https://" EX_HOST "/#f;accesskey=" KEY64, "no path"},
	    {"endpoint=https://" EX_HOST "/accesskey=" KEY64, "no accesskey="},
	    {"endpoint=https://" EX_HOST "/accesskey=" KEY64 ";accesskey=pw==", "no path"},
	    {"endpoint=https:///;accesskey=" KEY64, "no host"},
	    {"endpoint=https://;accesskey=" KEY64, "no host"},
	    {"endpoint=https://:8443/;accesskey=" KEY64, "no host"},
	    {"endpoint=https://user:" KEY64 "@" EX_HOST "/;accesskey=" KEY64, "'@'"},
	    {"endpoint=https://127.0.0.1/;accesskey=" KEY64, "IP address"},
	    {"endpoint=https://10.1.2.3:8443;accesskey=" KEY64, "IP address"},
	    {"endpoint=https://0x7f000001/;accesskey=" KEY64, "IP address"},
	    {"endpoint=https://[::1]:8443/;accesskey=" KEY64, "IP address"},
	    {"endpoint=https://[2001:db8::1]/;accesskey=" KEY64, "IP address"},
	    {"endpoint=https://" EX_HOST ":0/;accesskey=" KEY64, "port"},
	    {"endpoint=https://" EX_HOST ":65536/;accesskey=" KEY64, "port"},
	    {"endpoint=https://" EX_HOST ":123456/;accesskey=" KEY64, "port"},
	    {"endpoint=https://" EX_HOST ":/;accesskey=" KEY64, "port"},
	    {"endpoint=https://" EX_HOST ":84a3/;accesskey=" KEY64, "port"},
	    {"endpoint=https://" EX_HOST ":" KEY64 ";accesskey=" KEY64, "port"},
	    {"endpoint=https://-bad.example/;accesskey=" KEY64, "not a DNS name"},
	    {"endpoint=https://bad-.example/;accesskey=" KEY64, "not a DNS name"},
	    {"endpoint=https://a..example/;accesskey=" KEY64, "not a DNS name"},
	    {"endpoint=https://under_score.example/;accesskey=" KEY64, "not a DNS name"},
	    {"endpoint=https://" EX_HOST "./;accesskey=" KEY64, "not a DNS name"},
	    {"endpoint=https://b\xc3\xa4r.example/;accesskey=" KEY64, "not a DNS name"},
	    {"endpoint=https://" KEY64 "/;accesskey=" KEY64, "not a DNS name"},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		struct acs_conn c;
		char err[256];
		memset(&c, 0x5a, sizeof c);
		memset(err, 0, sizeof err);
		int r = acs_conn_parse(v[i].s, strlen(v[i].s), &c, err, sizeof err);
		if (r != -ERR_FIELD_INVALID)
			fail_msg("accepted \"%s\" (%d)", v[i].s, r);
		if (!strstr(err, v[i].why))
			fail_msg("\"%s\": message \"%s\" lacks \"%s\"", v[i].s, err, v[i].why);
		if (leaks_key(err))
			fail_msg("\"%s\": message \"%s\" shows key text", v[i].s, err);
		assert_null(strchr(err, '\n'));
		for (size_t k = 0; k < sizeof c.key; k++)
			assert_int_equal(c.key[k], 0);
		assert_int_equal(c.key_len, 0);
	}
}

/* A key that decodes to more than ACS_MAX_KEY bytes. */
static void test_conn_key_too_long(void **state)
{
	(void)state;
	unsigned char raw[ACS_MAX_KEY + 3];
	char s[512], err[256];
	struct acs_conn c;
	struct buf b;
	memset(raw, 0x42, sizeof raw);
	buf_init(&b, s, sizeof s);
	buf_puts(&b, "endpoint=https://x.example/;accesskey=");
	b64_encode(&b, raw, sizeof raw);
	assert_int_equal(acs_conn_parse(s, b.len, &c, err, sizeof err), -ERR_FIELD_INVALID);
	assert_string_equal(err, "accesskey= decodes to more than 128 bytes");
	buf_init(&b, s, sizeof s);
	buf_puts(&b, "endpoint=https://x.example/;accesskey=");
	b64_encode(&b, raw, ACS_MAX_KEY);
	assert_int_equal(acs_conn_parse(s, b.len, &c, err, sizeof err), 0);
	assert_int_equal(c.key_len, ACS_MAX_KEY);
}

/* The length argument bounds the text (no NUL needed); err is clamped to errcap. */
static void test_conn_lengths(void **state)
{
	(void)state;
	static const char s[] = "endpoint=https://x.example/;accesskey=pw==;garbage";
	struct acs_conn c;
	char err[8];
	assert_int_equal(acs_conn_parse(s, sizeof s - 1 - 8, &c, err, sizeof err), 0);
	assert_int_equal(acs_conn_parse(s, sizeof s - 1, &c, err, sizeof err), -ERR_FIELD_INVALID);
	assert_string_equal(err, "a part ");
	assert_int_equal(acs_conn_parse(s, sizeof s - 1, &c, NULL, 0), -ERR_FIELD_INVALID);
	assert_int_equal(acs_conn_parse(s, 12, &c, NULL, 0), -ERR_FIELD_INVALID);
}

static void test_conn_wipe(void **state)
{
	(void)state;
	struct acs_conn c, zero;
	memset(&zero, 0, sizeof zero);
	parse_ok("endpoint=https://" EX_HOST "/;accesskey=" KEY64, &c);
	assert_int_equal(c.key[63], 63);
	acs_conn_wipe(&c);
	assert_memory_equal(&c, &zero, sizeof c);
}

/* ---- acs_auth_sign's own checks ---------------------------------------------------------- */

static void test_sign_rejects(void **state)
{
	(void)state;
	static const struct {
		const char *method, *path;
		int64_t t;
	} v[] = {
	    {"get", "/", T_EX},
	    {"", "/", T_EX},
	    {"PO ST", "/", T_EX},
	    {"POST", "emails:send", T_EX},
	    {"POST", "", T_EX},
	    {"POST", "/a b", T_EX},
	    {"POST", "/a\r\nX: y", T_EX},
	    {"POST", "/\xc3\xa4", T_EX},
	    {"POST", "/", -1},
	    {"POST", "/", ACS_MAX_UNIX_TIME + 1},
	};
	struct acs_conn c;
	char mem[OUT_CAP];
	struct buf b;
	parse_ok("endpoint=https://" EX_HOST "/;accesskey=" KEY64, &c);
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		buf_init(&b, mem, sizeof mem);
		assert_int_equal(acs_auth_sign(&b, &c, v[i].method, v[i].path, "", 0, v[i].t),
		                 -ERR_FIELD_INVALID);
		assert_int_equal(b.len, 0);
	}
	struct acs_conn none;
	memset(&none, 0, sizeof none);
	buf_init(&b, mem, sizeof mem);
	assert_int_equal(acs_auth_sign(&b, &none, "GET", "/", NULL, 0, T_EX), -ERR_FIELD_INVALID);
}

/* The block is exactly ACS_AUTH_HEADERS_LEN bytes: one byte less overflows. */
static void test_sign_overflow(void **state)
{
	(void)state;
	struct acs_conn c;
	char mem[ACS_AUTH_HEADERS_LEN];
	struct buf b;
	parse_ok("endpoint=https://" EX_HOST "/;accesskey=" KEY64, &c);
	buf_init(&b, mem, sizeof mem - 1);
	assert_int_equal(acs_auth_sign(&b, &c, "GET", "/", NULL, 0, T_EX), -ERR_OVERFLOW);
	buf_init(&b, mem, sizeof mem);
	assert_int_equal(acs_auth_sign(&b, &c, "GET", "/", NULL, 0, T_EX), 0);
	assert_int_equal(b.len, ACS_AUTH_HEADERS_LEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sdk_hmac),
	    cmocka_unit_test(test_content_hash),
	    cmocka_unit_test(test_python_sdk_requests),
	    cmocka_unit_test(test_string_to_sign),
	    cmocka_unit_test(test_js_sdk_requests),
	    cmocka_unit_test(test_worked_example_request),
	    cmocka_unit_test(test_worked_example_variants),
	    cmocka_unit_test(test_port_signed_like_js_sdk),
	    cmocka_unit_test(test_rfc4231),
	    cmocka_unit_test(test_date_vectors),
	    cmocka_unit_test(test_date_sweep),
	    cmocka_unit_test(test_conn_good),
	    cmocka_unit_test(test_conn_host_limits),
	    cmocka_unit_test(test_conn_bad),
	    cmocka_unit_test(test_conn_key_too_long),
	    cmocka_unit_test(test_conn_lengths),
	    cmocka_unit_test(test_conn_wipe),
	    cmocka_unit_test(test_sign_rejects),
	    cmocka_unit_test(test_sign_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
