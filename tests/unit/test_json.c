/* test_json.c: json.h over jsmn: grammar, structure, strings, UTF-8, depth, writer. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "json.h"

#define NTOK 512

/* json_parse of the NUL-terminated s with NTOK tokens. */
static int parse(const char *s, struct json_tok *tok)
{
	return json_parse(s, strlen(s), tok, NTOK);
}

/* json_parse of s[0..n) (may hold NUL bytes). */
static int parse_n(const char *s, size_t n)
{
	struct json_tok tok[NTOK];
	return json_parse(s, n, tok, NTOK);
}

struct row {
	const char *js;
	int want; /* token count, or -ERR_x */
};

static void check_rows(const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct json_tok tok[NTOK];
		int r = parse(rows[i].js, tok);
		if (r != rows[i].want)
			print_error("json_parse(%s) = %d, want %d\n", rows[i].js, r, rows[i].want);
		assert_int_equal(r, rows[i].want);
	}
}

/* ---- grammar -------------------------------------------------------------------------------- */

static void test_valid_documents(void **state)
{
	(void)state;
	static const struct row rows[] = {
	    {"{}", 1},
	    {"[]", 1},
	    {" \t\r\n{} \t\r\n", 1},
	    {"{\"a\":1}", 3},
	    {"{\"a\" : [ 1 , 2 , {\"b\" : null} ] , \"c\":\"d\"}", 10},
	    {"[[],{},\"\",0]", 5},
	    {"\"abc\"", 1},
	    {"[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"]", 2},
	    {"{\"\":\"\"}", 3},
	    {"[true,false,null]", 4},
	};
	check_rows(rows, sizeof rows / sizeof rows[0]);
}

static void test_primitives(void **state)
{
	(void)state;
	static const char *good[] = {"0",         "-0",   "-0.5e+3", "1",    "123",
	                             "1.5",       "1e5",  "1E5",     "1e-5", "1.0E+0",
	                             "-12.34e56", "true", "false",   "null", "9007199254740993"};
	static const char *bad[] = {"01",  "1.",       ".5",  "-",   "tru",   "nulll", "+1",
	                            "1e",  "1e+",      "-.5", "0x1", "1.2.3", "truex", "True",
	                            "NaN", "Infinity", "-01", "00",  "1 2",   "t\"x",  "1e5.0"};
	struct json_tok tok[4];
	char doc[64];
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		/* alone (top level, no trailing byte), with spaces, and inside an array */
		assert_int_equal(json_parse(good[i], strlen(good[i]), tok, 4), 1);
		assert_int_equal(tok[0].type, JSON_PRIMITIVE);
		assert_int_equal(tok[0].start, 0);
		assert_int_equal(tok[0].end, (int)strlen(good[i]));
		snprintf(doc, sizeof doc, " %s\n", good[i]);
		assert_int_equal(json_parse(doc, strlen(doc), tok, 4), 1);
		assert_int_equal(tok[0].start, 1);
		snprintf(doc, sizeof doc, "[%s]", good[i]);
		assert_int_equal(json_parse(doc, strlen(doc), tok, 4), 2);
		snprintf(doc, sizeof doc, "{\"k\":%s}", good[i]);
		assert_int_equal(json_parse(doc, strlen(doc), tok, 4), 3);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (json_parse(bad[i], strlen(bad[i]), tok, 4) != -ERR_JSON_SYNTAX)
			print_error("accepted primitive %s\n", bad[i]);
		assert_int_equal(json_parse(bad[i], strlen(bad[i]), tok, 4), -ERR_JSON_SYNTAX);
		snprintf(doc, sizeof doc, "[%s]", bad[i]);
		assert_int_equal(json_parse(doc, strlen(doc), tok, 4), -ERR_JSON_SYNTAX);
		snprintf(doc, sizeof doc, "{\"k\":%s}", bad[i]);
		assert_int_equal(json_parse(doc, strlen(doc), tok, 4), -ERR_JSON_SYNTAX);
	}
}

/* Everything jsmn 1.1.0 strict mode lets through or stops early on. */
static void test_structure_errors(void **state)
{
	(void)state;
	static const struct row rows[] = {
	    {"", -ERR_JSON_SYNTAX},
	    {" \n\t\r", -ERR_JSON_SYNTAX},
	    {"{} {}", -ERR_JSON_SYNTAX},
	    {"{}{}", -ERR_JSON_SYNTAX},
	    {"[] 1", -ERR_JSON_SYNTAX},
	    {"\"a\" \"b\"", -ERR_JSON_SYNTAX},
	    {"\"a\":\"b\"", -ERR_JSON_SYNTAX},
	    {"{\"a\":1}x", -ERR_JSON_SYNTAX},
	    {"{\"a\":1},", -ERR_JSON_SYNTAX},
	    {"[1,,2]", -ERR_JSON_SYNTAX},
	    {"[1,]", -ERR_JSON_SYNTAX},
	    {"[,1]", -ERR_JSON_SYNTAX},
	    {"[,]", -ERR_JSON_SYNTAX},
	    {"[1 2]", -ERR_JSON_SYNTAX},
	    {"[\"a\" \"b\"]", -ERR_JSON_SYNTAX},
	    {"[1:2]", -ERR_JSON_SYNTAX},
	    {"[\"a\":\"b\"]", -ERR_JSON_SYNTAX},
	    {"{,}", -ERR_JSON_SYNTAX},
	    {"{\"a\"}", -ERR_JSON_SYNTAX},
	    {"{\"a\":}", -ERR_JSON_SYNTAX},
	    {"{\"a\" \"b\"}", -ERR_JSON_SYNTAX},
	    {"{\"a\":1 \"b\":2}", -ERR_JSON_SYNTAX},
	    {"{\"a\":1,}", -ERR_JSON_SYNTAX},
	    {"{\"a\"::1}", -ERR_JSON_SYNTAX},
	    {"{\"a\":\"b\":\"c\"}", -ERR_JSON_SYNTAX},
	    {"{\"a\",\"b\"}", -ERR_JSON_SYNTAX},
	    {"{1:2}", -ERR_JSON_SYNTAX},
	    {"{true:2}", -ERR_JSON_SYNTAX},
	    {"{[1]:2}", -ERR_JSON_SYNTAX},
	    {"{{}:2}", -ERR_JSON_SYNTAX},
	    {"{\"a\":1", -ERR_JSON_SYNTAX},
	    {"[", -ERR_JSON_SYNTAX},
	    {"]", -ERR_JSON_SYNTAX},
	    {"}", -ERR_JSON_SYNTAX},
	    {"[}", -ERR_JSON_SYNTAX},
	    {"{]", -ERR_JSON_SYNTAX},
	    {"\"abc", -ERR_JSON_SYNTAX},
	    {"'a'", -ERR_JSON_SYNTAX},
	    {"\v{}", -ERR_JSON_SYNTAX},
	    {"{}\f", -ERR_JSON_SYNTAX},
	    {"\xc2\xa0{}", -ERR_JSON_SYNTAX},
	    {"{\"a\":tru}", -ERR_JSON_SYNTAX},
	    {"{\"a\":nulll}", -ERR_JSON_SYNTAX},
	    {":", -ERR_JSON_SYNTAX},
	    {",", -ERR_JSON_SYNTAX},
	    {"[1]]", -ERR_JSON_SYNTAX},
	    {"[[1]", -ERR_JSON_SYNTAX},
	};
	check_rows(rows, sizeof rows / sizeof rows[0]);
}

static void test_nul_bytes(void **state)
{
	(void)state;
	assert_int_equal(parse_n("{}\0", 3), -ERR_JSON_SYNTAX);
	assert_int_equal(parse_n("{}\0{}", 5), -ERR_JSON_SYNTAX);
	assert_int_equal(parse_n("{\"a\0\":1}", 8), -ERR_JSON_SYNTAX);
	assert_int_equal(parse_n("[1\0]", 4), -ERR_JSON_SYNTAX);
	assert_int_equal(parse_n("1\0", 2), -ERR_JSON_SYNTAX);
	assert_int_equal(parse_n("\0", 1), -ERR_JSON_SYNTAX);
}

static void test_string_bytes(void **state)
{
	(void)state;
	static const struct row rows[] = {
	    {"[\"a\tb\"]", -ERR_JSON_SYNTAX},
	    {"[\"a\nb\"]", -ERR_JSON_SYNTAX},
	    {"[\"\x01\"]", -ERR_JSON_SYNTAX},
	    {"[\"\x1f\"]", -ERR_JSON_SYNTAX},
	    {"{\"\x1f\":1}", -ERR_JSON_SYNTAX},
	    {"[\"\x7f\"]", 2}, /* DEL is allowed raw by RFC 8259 */
	    {"[\"\\u12\"]", -ERR_JSON_SYNTAX},
	    {"[\"\\u123\"]", -ERR_JSON_SYNTAX},
	    {"[\"\\u12g4\"]", -ERR_JSON_SYNTAX},
	    {"[\"\\u\"]", -ERR_JSON_SYNTAX},
	    {"[\"\\x41\"]", -ERR_JSON_SYNTAX},
	    {"[\"\\a\"]", -ERR_JSON_SYNTAX},
	    {"[\"\\'\"]", -ERR_JSON_SYNTAX},
	    {"[\"\\\"]", -ERR_JSON_SYNTAX},
	    {"\"\\", -ERR_JSON_SYNTAX},
	    {"\"\\u00", -ERR_JSON_SYNTAX},
	    {"[\"\\U0041\"]", -ERR_JSON_SYNTAX},
	    {"[\"\\u0041\"]", 2},
	    {"[\"\\uABCD\\uabcd\"]", 2},
	};
	check_rows(rows, sizeof rows / sizeof rows[0]);
}

static void test_raw_utf8(void **state)
{
	(void)state;
	static const struct row rows[] = {
	    {"[\"\xc0\x80\"]", -ERR_BAD_UTF8},         /* overlong NUL */
	    {"[\"\xc1\xbf\"]", -ERR_BAD_UTF8},         /* overlong */
	    {"[\"\xe0\x80\xaf\"]", -ERR_BAD_UTF8},     /* overlong '/' */
	    {"[\"\xf0\x80\x80\xaf\"]", -ERR_BAD_UTF8}, /* overlong '/' */
	    {"[\"\xed\xa0\x80\"]", -ERR_BAD_UTF8},     /* U+D800 */
	    {"[\"\xed\xbf\xbf\"]", -ERR_BAD_UTF8},     /* U+DFFF */
	    {"[\"\xf4\x90\x80\x80\"]", -ERR_BAD_UTF8}, /* U+110000 */
	    {"[\"\xf5\x80\x80\x80\"]", -ERR_BAD_UTF8},
	    {"[\"\xff\"]", -ERR_BAD_UTF8},
	    {"[\"\x80\"]", -ERR_BAD_UTF8},     /* lone continuation */
	    {"[\"\xe3\x81\"]", -ERR_BAD_UTF8}, /* truncated */
	    {"[\"\xf0\x9f\x98\"]", -ERR_BAD_UTF8},
	    {"[\"\xc3\"]", -ERR_BAD_UTF8},
	    {"[\"\xe3\x81\x82\x82\"]", -ERR_BAD_UTF8},
	    {"{\"\xff\":1}", -ERR_BAD_UTF8},
	    {"[\"\xc3\xa9\xe3\x81\x82\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80\"]",
	     2},
	};
	check_rows(rows, sizeof rows / sizeof rows[0]);
}

static void test_utf8_valid(void **state)
{
	(void)state;
	assert_true(utf8_valid("", 0));
	assert_true(utf8_valid("abc\x7f", 4));
	assert_true(utf8_valid("\xc2\x80", 2));
	assert_true(utf8_valid("\xdf\xbf", 2));
	assert_true(utf8_valid("\xe0\xa0\x80", 3));
	assert_true(utf8_valid("\xed\x9f\xbf", 3));
	assert_true(utf8_valid("\xee\x80\x80", 3));
	assert_true(utf8_valid("\xef\xbf\xbf", 3));
	assert_true(utf8_valid("\xf0\x90\x80\x80", 4));
	assert_true(utf8_valid("\xf4\x8f\xbf\xbf", 4));
	assert_true(utf8_valid("\0", 1));
	assert_false(utf8_valid("\xc0\x80", 2));
	assert_false(utf8_valid("\xc2", 1));
	assert_false(utf8_valid("\xc2\x41", 2));
	assert_false(utf8_valid("\xe0\x9f\xbf", 3));
	assert_false(utf8_valid("\xed\xa0\x80", 3));
	assert_false(utf8_valid("\xf0\x8f\xbf\xbf", 4));
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4));
	assert_false(utf8_valid("\xf0\x90\x80", 3));
	assert_false(utf8_valid("\xf0\x90\x80\x41", 4));
	assert_false(utf8_valid("\xf8\x88\x80\x80\x80", 5));
	assert_false(utf8_valid("\xe3\x81\x82", 2)); /* length cuts a sequence */
}

/* ---- limits --------------------------------------------------------------------------------- */

/* n nested arrays around 0: "[[[0]]]". */
static size_t nest(char *out, int n, char open, char close)
{
	size_t k = 0;
	for (int i = 0; i < n; i++) {
		out[k++] = open;
		if (open == '{') {
			memcpy(out + k, "\"k\":", 4);
			k += 4;
		}
	}
	out[k++] = '0';
	for (int i = 0; i < n; i++)
		out[k++] = close;
	return k;
}

static void test_depth(void **state)
{
	(void)state;
	char doc[(JSON_MAX_DEPTH + 1) * 6 + 2];
	struct json_tok tok[NTOK];
	size_t n = nest(doc, JSON_MAX_DEPTH, '[', ']');
	assert_int_equal(json_parse(doc, n, tok, NTOK), JSON_MAX_DEPTH + 1);
	n = nest(doc, JSON_MAX_DEPTH + 1, '[', ']');
	assert_int_equal(json_parse(doc, n, tok, NTOK), -ERR_JSON_TOO_COMPLEX);
	n = nest(doc, JSON_MAX_DEPTH, '{', '}');
	assert_int_equal(json_parse(doc, n, tok, NTOK), 2 * JSON_MAX_DEPTH + 1);
	n = nest(doc, JSON_MAX_DEPTH + 1, '{', '}');
	assert_int_equal(json_parse(doc, n, tok, NTOK), -ERR_JSON_TOO_COMPLEX);
	/* depth is nesting, not the number of containers */
	char wide[4 * 200 + 3] = "[";
	for (int i = 0; i < 200; i++)
		strcat(wide, i ? ",[]" : "[]");
	strcat(wide, "]");
	assert_int_equal(parse(wide, tok), 201);
}

static void test_token_limit(void **state)
{
	(void)state;
	struct json_tok tok[4];
	const char *s = "[1,2,3]";
	assert_int_equal(json_parse(s, strlen(s), tok, 4), 4);
	assert_int_equal(json_parse(s, strlen(s), tok, 3), -ERR_JSON_TOO_COMPLEX);
	assert_int_equal(json_parse(s, strlen(s), tok, 0), -ERR_JSON_TOO_COMPLEX);
	assert_int_equal(json_parse("1", 1, tok, 0), -ERR_JSON_TOO_COMPLEX);
	assert_int_equal(json_parse("{}", 2, tok, 1), 1);
	/* the length check comes before any byte is read */
	assert_int_equal(json_parse("{}", (size_t)INT_MAX, tok, 4), -ERR_JSON_TOO_COMPLEX);
	assert_int_equal(json_parse("{}", SIZE_MAX, tok, 4), -ERR_JSON_TOO_COMPLEX);
}

/* ---- tokens --------------------------------------------------------------------------------- */

static void test_tokens_and_next(void **state)
{
	(void)state;
	struct json_tok tok[NTOK];
	const char *s = "{\"a\":[1,{\"b\":[]}],\"c\":\"x\\\"y\",\"d\":{}}";
	int n = parse(s, tok);
	assert_int_equal(n, 11);
	assert_int_equal(tok[0].type, JSON_OBJECT);
	assert_int_equal(tok[0].size, 3);
	assert_int_equal(tok[0].start, 0);
	assert_int_equal(tok[0].end, (int)strlen(s));
	assert_int_equal(tok[1].type, JSON_STRING);
	assert_int_equal(tok[1].size, 1);
	assert_int_equal(tok[1].start, 2);
	assert_int_equal(tok[1].end, 3);
	assert_true(json_raw_eq(s, &tok[1], "a"));
	assert_false(json_raw_eq(s, &tok[1], "ab"));
	assert_false(json_raw_eq(s, &tok[1], ""));
	assert_int_equal(tok[2].type, JSON_ARRAY);
	assert_int_equal(tok[2].size, 2);
	assert_int_equal(tok[3].type, JSON_PRIMITIVE);
	assert_int_equal(json_next(tok, n, 0), n);
	assert_int_equal(json_next(tok, n, 2), 7); /* skips [1,{"b":[]}] */
	assert_int_equal(json_next(tok, n, 1), 7); /* a key with its value */
	assert_true(json_raw_eq(s, &tok[7], "c"));
	assert_true(json_raw_eq(s, &tok[8], "x\\\"y"));
	assert_int_equal(json_next(tok, n, 8), 9);
	assert_int_equal(json_next(tok, n, 9), n); /* "d":{} */
	assert_int_equal(json_next(tok, n, 10), n);
	assert_int_equal(json_next(tok, n, n), n);
	assert_int_equal(json_next(tok, n, -1), n);
}

/* ---- decoding ------------------------------------------------------------------------------- */

/* Decodes the only string of ["<raw>"]; returns the result, output in out. */
static long decode_one(const char *raw, char *out, size_t cap)
{
	static char doc[1024];
	static struct json_tok tok[4];
	snprintf(doc, sizeof doc, "[\"%s\"]", raw);
	int n = json_parse(doc, strlen(doc), tok, 4);
	assert_int_equal(n, 2);
	return json_str_decode(doc, &tok[1], out, cap);
}

static void expect_decode(const char *raw, const char *want, size_t want_len)
{
	char out[256];
	long n = decode_one(raw, out, sizeof out);
	if (n != (long)want_len)
		print_error("decode(%s) = %ld\n", raw, n);
	assert_int_equal(n, (long)want_len);
	assert_memory_equal(out, want, want_len);
}

static void test_decode(void **state)
{
	(void)state;
	expect_decode("", "", 0);
	expect_decode("plain", "plain", 5);
	expect_decode("\\\"\\\\\\/\\b\\f\\n\\r\\t", "\"\\/\b\f\n\r\t", 8);
	expect_decode("\\u0041\\u00e9\\u00E9", "A\xc3\xa9\xc3\xa9", 5);
	expect_decode("\\u0001\\u001f\\u007f", "\x01\x1f\x7f", 3);
	expect_decode("\\u07ff\\u0800\\u3042\\uffff",
	              "\xdf\xbf\xe0\xa0\x80\xe3\x81\x82\xef\xbf\xbf", 11);
	expect_decode("\\ud83d\\ude00", "\xf0\x9f\x98\x80", 4);
	expect_decode("\\uD83D\\uDE00", "\xf0\x9f\x98\x80", 4);
	expect_decode("\\ud800\\udc00", "\xf0\x90\x80\x80", 4);
	expect_decode("\\udbff\\udfff", "\xf4\x8f\xbf\xbf", 4);
	expect_decode("a\\ud83d\\ude00b",
	              "a\xf0\x9f\x98\x80"
	              "b",
	              6);
	expect_decode("\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88", "テスト", 9);
	expect_decode("\\u30c6\\u30b9\\u30c8", "テスト", 9);
}

static void test_decode_bad_surrogates(void **state)
{
	(void)state;
	static const char *bad[] = {
	    "\\ud83d",                                 /* lone high at the end */
	    "\\ud83dx",                                /* high then a plain character */
	    "\\ud83d\\n",                              /* high then another escape */
	    "\\ud83d\\u0041",                          /* high then a non-surrogate */
	    "\\ud83d\\ud83d",                          /* high then high */
	    "\\ude00",                                 /* lone low */
	    "\\ude00\\ud83d",                          /* reversed pair */
	    "a\\udfffb",                               /* lone low inside text */
	    "\\u0000",                                 /* NUL */
	    "a\\u0000b",      "\\ud83d\\ude00\\udc00", /* a good pair then a lone low */
	};
	char out[64];
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		long n = decode_one(bad[i], out, sizeof out);
		if (n != -ERR_BAD_UTF8)
			print_error("decode(%s) = %ld\n", bad[i], n);
		assert_int_equal(n, -ERR_BAD_UTF8);
	}
}

static void test_decode_capacity(void **state)
{
	(void)state;
	char out[64];
	/* decoding never needs more than the raw length */
	static const char *raws[] = {
	    "abc",          "\\n\\t",          "\\u00e9", "\\u3042", "\\ud83d\\ude00",
	    "\xe3\x81\x82", "\xf0\x9f\x98\x80"};
	for (size_t i = 0; i < sizeof raws / sizeof raws[0]; i++) {
		size_t raw = strlen(raws[i]);
		long full = decode_one(raws[i], out, sizeof out);
		assert_true(full > 0 && (size_t)full <= raw);
		assert_int_equal(decode_one(raws[i], out, raw), full);
		assert_int_equal(decode_one(raws[i], out, (size_t)full), full);
		assert_int_equal(decode_one(raws[i], out, (size_t)full - 1), -ERR_OVERFLOW);
	}
	assert_int_equal(decode_one("", NULL, 0), 0);
	assert_int_equal(decode_one("a", NULL, 0), -ERR_OVERFLOW);
}

/* ---- writer --------------------------------------------------------------------------------- */

static void expect_put(const char *s, size_t n, const char *want)
{
	char mem[512];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	json_put_str(&b, s, n);
	assert_int_equal(buf_finish(&b), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(mem, want, b.len);
}

static void test_put_str(void **state)
{
	(void)state;
	expect_put("", 0, "\"\"");
	expect_put("plain text", 10, "\"plain text\"");
	expect_put("a\"b\\c/d", 7, "\"a\\\"b\\\\c/d\"");
	expect_put("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
	expect_put("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
	expect_put("\0", 1, "\"\\u0000\"");
	expect_put("<a href='x'>&amp;</a>", 21, "\"<a href='x'>&amp;</a>\"");
	expect_put("テスト\xf0\x9f\x98\x80", 13, "\"テスト\xf0\x9f\x98\x80\"");
	char mem[512];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	json_put_cstr(&b, "x\"y");
	assert_int_equal(b.len, 6);
	assert_memory_equal(mem, "\"x\\\"y\"", 6);
	/* a full buffer: clamped, sticky overflow */
	buf_init(&b, mem, 4);
	json_put_cstr(&b, "abcdef");
	assert_int_equal(buf_finish(&b), -ERR_OVERFLOW);
	assert_int_equal(b.len, 4);
}

/* json_put_str, then json_parse + json_str_decode: the original bytes come back. */
static void round_trip(const char *s, size_t n)
{
	static char mem[8192], out[8192];
	struct json_tok tok[2];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	json_put_str(&b, s, n);
	assert_int_equal(buf_finish(&b), 0);
	assert_int_equal(json_parse(mem, b.len, tok, 2), 1);
	assert_int_equal(tok[0].type, JSON_STRING);
	long k = json_str_decode(mem, &tok[0], out, sizeof out);
	assert_int_equal(k, (long)n);
	assert_memory_equal(out, s, n);
}

static void test_round_trip(void **state)
{
	(void)state;
	char all[128];
	for (int c = 1; c < 128; c++) {
		char one[3] = {'x', (char)c, 'y'};
		round_trip(one + 1, 1);
		round_trip(one, 3);
		all[c - 1] = (char)c;
	}
	round_trip(all, 127);
	static const char *texts[] = {
	    "",
	    "テスト",
	    "テストメッセージ",
	    "\xf0\x9f\x98\x80\xf0\x9f\x98\x80",
	    "é à ü ß",
	    "\xf4\x8f\xbf\xbf\xef\xbf\xbf\xee\x80\x80",
	    "line1\r\nline2\ttab \"quoted\" \\ /",
	    "<script>alert(1)</script>&",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		round_trip(texts[i], strlen(texts[i]));
	/* every 2-byte code point */
	for (unsigned cp = 0x80; cp < 0x800; cp++) {
		char u[2] = {(char)(0xc0 | cp >> 6), (char)(0x80 | (cp & 0x3f))};
		round_trip(u, 2);
	}
}

/* json_member: the first member of that name, at that level only; -1 otherwise. */
static void test_member(void **state)
{
	(void)state;
	static const char js[] = "{\"a\":1,\"b\":{\"c\":2,\"a\":4},\"a\":3}";
	struct json_tok tok[16];
	int n = json_parse(js, sizeof js - 1, tok, 16);
	assert_true(n > 0);
	int a = json_member(js, tok, n, 0, "a");
	assert_true(a > 0);
	assert_memory_equal(js + tok[a].start, "1", 1); /* the first "a", not the nested one */
	int b = json_member(js, tok, n, 0, "b");
	assert_int_equal(tok[b].type, JSON_OBJECT);
	int c = json_member(js, tok, n, b, "c");
	assert_memory_equal(js + tok[c].start, "2", 1);
	assert_int_equal(json_member(js, tok, n, 0, "c"), -1);     /* not at this level */
	assert_int_equal(json_member(js, tok, n, a, "x"), -1);     /* not an object */
	assert_int_equal(json_member(js, tok, -7, 0, "a"), -1);    /* a failed parse */
	assert_int_equal(json_member(js, tok, n, n + 3, "a"), -1); /* outside the tokens */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_documents),  cmocka_unit_test(test_primitives),
	    cmocka_unit_test(test_structure_errors), cmocka_unit_test(test_nul_bytes),
	    cmocka_unit_test(test_string_bytes),     cmocka_unit_test(test_raw_utf8),
	    cmocka_unit_test(test_utf8_valid),       cmocka_unit_test(test_depth),
	    cmocka_unit_test(test_token_limit),      cmocka_unit_test(test_tokens_and_next),
	    cmocka_unit_test(test_decode),           cmocka_unit_test(test_decode_bad_surrogates),
	    cmocka_unit_test(test_decode_capacity),  cmocka_unit_test(test_put_str),
	    cmocka_unit_test(test_round_trip),       cmocka_unit_test(test_member),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
