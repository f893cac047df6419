/* test_notify.c: the request contract of notify.h, field by field and error by error. */
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
#include "notify.h"

/* ---- harness -------------------------------------------------------------------------------- */

static struct json_tok tok[NOTIFY_MAX_TOKENS];
static struct notify_msg msg;
static struct notify_error nerr;
static char *scratch; /* exactly the body length: ASan catches any write past it */
static size_t scratch_len;

/* notify_parse of body[0..len) with a scratch of exactly len bytes and `allowed` senders. */
static int run_n(const char *body, size_t len, const char *allowed)
{
	struct notify_policy pol = {allowed};
	free(scratch);
	scratch = malloc(len ? len : 1);
	scratch_len = len;
	assert_non_null(scratch);
	memset(&nerr, 0x55, sizeof nerr); /* notify_parse must set every byte that matters */
	int r = notify_parse(body, len, tok, NOTIFY_MAX_TOKENS, scratch, len, &pol, &msg, &nerr);
	assert_int_equal(r, nerr.err);
	assert_true(memchr(nerr.field, 0, sizeof nerr.field) != NULL);
	assert_true(memchr(nerr.detail, 0, sizeof nerr.detail) != NULL);
	if (r == 0) {
		assert_string_equal(nerr.field, "");
		assert_string_equal(nerr.detail, "");
	} else {
		assert_true(nerr.detail[0] != '\0');
	}
	return r;
}

static int run(const char *body, const char *allowed)
{
	return run_n(body, strlen(body), allowed);
}

static int teardown(void **state)
{
	(void)state;
	free(scratch);
	scratch = NULL;
	return 0;
}

static void expect_str(const struct notify_str *s, const char *want)
{
	assert_int_equal(s->len, strlen(want));
	assert_memory_equal(s->p, want, s->len);
	assert_true(s->p >= scratch && s->p + s->len <= scratch + scratch_len);
}

/* Appends the JSON array ["u0@example.com", ...] of n addresses, numbered from first. */
static void put_addrs(struct buf *b, int first, int n)
{
	buf_putc(b, '[');
	for (int i = 0; i < n; i++) {
		buf_puts(b, i ? ",\"u" : "\"u");
		buf_put_u64(b, (uint64_t)(first + i));
		buf_puts(b, "@example.com\"");
	}
	buf_putc(b, ']');
}

/* n copies of c. */
static const char *rep(char c, size_t n)
{
	static char s[4][2048];
	static int k;
	k = (k + 1) % 4;
	assert_true(n < sizeof s[k]);
	memset(s[k], c, n);
	s[k][n] = '\0';
	return s[k];
}

#define TO            "\"to_email\":\"a@example.com\""
#define SUBJ          "\"subject\":\"s\""
#define MSG           "\"message\":\"m\""
#define BASE          TO "," SUBJ "," MSG
#define ATT_OK        "{\"name\":\"a.txt\",\"content_type\":\"text/plain\",\"content_base64\":\"aGk=\"}"
#define ATT(x)        "\"attachments\":[" x "]"
#define ATT1(n, t, d) ATT("{\"name\":" n ",\"content_type\":" t ",\"content_base64\":" d "}")

/* ---- accepted requests ---------------------------------------------------------------------- */

static void test_original_request(void **state)
{
	(void)state;
	const char *body = "{\"to_email\":\"you@example.com\",\"subject\":\"テスト\","
	                   "\"message\":\"テストメッセージ\"}";
	assert_int_equal(run(body, NULL), 0);
	assert_int_equal(msg.n_to, 1);
	expect_str(&msg.to[0], "you@example.com");
	expect_str(&msg.subject, "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88");
	expect_str(&msg.text, "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88\xe3\x83\xa1\xe3\x83\x83"
	                      "\xe3\x82\xbb\xe3\x83\xbc\xe3\x82\xb8");
	assert_int_equal(msg.n_cc, 0);
	assert_int_equal(msg.n_bcc, 0);
	assert_int_equal(msg.n_reply_to, 0);
	assert_int_equal(msg.n_att, 0);
	assert_int_equal(msg.html.len, 0);
	assert_int_equal(msg.from.len, 0);
	/* the same with \u escapes and whitespace */
	body =
	    " {\n \"to_email\" : \"you@example.com\" ,\r\n\t\"subject\":\"\\u30c6\\u30b9\\u30c8\","
	    "\"message\":\"\\u30c6\\u30b9\\u30c8\\u30e1\\u30c3\\u30bb\\u30fc\\u30b8\"}\n";
	assert_int_equal(run(body, NULL), 0);
	expect_str(&msg.subject, "テスト");
	expect_str(&msg.text, "テストメッセージ");
}

static void test_full_request(void **state)
{
	(void)state;
	const char *body =
	    "{\"to_email\":[\"a@example.com\",\"b@example.com\"],\"cc\":\"c@example.com\","
	    "\"bcc\":[\"d@example.com\"],\"reply_to\":[\"r@example.com\",\"s@example.com\"],"
	    "\"subject\":\"Build \\\"42\\\" \\ud83d\\ude00\",\"message\":\"line1\\nline2\","
	    "\"html\":\"<p>hi</p>\",\"from\":\"Alerts@Example.com\","
	    "\"attachments\":[{\"content_base64\":\"aGVsbG8=\",\"name\":\"hello.txt\","
	    "\"content_type\":\"text/plain\"},{\"name\":\"\\u8acb\\u6c42\\u66f8.pdf\","
	    "\"content_type\":\"application/vnd.ms-excel+xml\",\"content_base64\":\"AAEC\\/"
	    "w==\"}]}";
	assert_int_equal(run(body, "noreply@example.com, alerts@example.com"), 0);
	assert_int_equal(msg.n_to, 2);
	expect_str(&msg.to[0], "a@example.com");
	expect_str(&msg.to[1], "b@example.com");
	assert_int_equal(msg.n_cc, 1);
	expect_str(&msg.cc[0], "c@example.com");
	assert_int_equal(msg.n_bcc, 1);
	expect_str(&msg.bcc[0], "d@example.com");
	assert_int_equal(msg.n_reply_to, 2);
	expect_str(&msg.reply_to[1], "s@example.com");
	expect_str(&msg.subject, "Build \"42\" \xf0\x9f\x98\x80");
	expect_str(&msg.text, "line1\nline2");
	expect_str(&msg.html, "<p>hi</p>");
	expect_str(&msg.from, "Alerts@Example.com");
	assert_int_equal(msg.n_att, 2);
	expect_str(&msg.att[0].name, "hello.txt");
	expect_str(&msg.att[0].content_type, "text/plain");
	expect_str(&msg.att[0].content_base64, "aGVsbG8=");
	assert_int_equal(msg.att[0].size, 5);
	expect_str(&msg.att[1].name, "請求書.pdf");
	expect_str(&msg.att[1].content_type, "application/vnd.ms-excel+xml");
	expect_str(&msg.att[1].content_base64, "AAEC/w==");
	assert_int_equal(msg.att[1].size, 4);
}

static void test_bodies(void **state)
{
	(void)state;
	assert_int_equal(run("{" TO "," SUBJ ",\"html\":\"<b>x</b>\"}", NULL), 0);
	assert_int_equal(msg.text.len, 0);
	expect_str(&msg.html, "<b>x</b>");
	assert_int_equal(run("{" TO "," SUBJ ",\"message\":\"\",\"html\":\"h\"}", NULL), 0);
	assert_int_equal(run("{" TO "," SUBJ ",\"message\":\"t\",\"html\":\"\"}", NULL), 0);
	/* control characters are fine in bodies */
	assert_int_equal(run("{" TO "," SUBJ ",\"message\":\"a\\u0001\\t\\r\\n\\u2028\"}", NULL),
	                 0);
	/* cc may be an empty array; key order does not matter */
	assert_int_equal(run("{\"message\":\"m\",\"cc\":[],\"bcc\":[],\"reply_to\":[],"
	                     "\"attachments\":[]," SUBJ "," TO "}",
	                     NULL),
	                 0);
	assert_int_equal(msg.n_cc + msg.n_bcc + msg.n_reply_to + msg.n_att, 0);
	/* an escaped key is the same key */
	assert_int_equal(
	    run("{\"to\\u005femail\":\"a@b\",\"subj\\u0065ct\":\"s\",\"message\":\"m\"}", NULL), 0);
	expect_str(&msg.to[0], "a@b");
}

/* ---- the error table ------------------------------------------------------------------------ */

struct erow {
	const char *body;
	int err;
	const char *field;
};

static void check_errors(const struct erow *rows, size_t n, const char *allowed)
{
	for (size_t i = 0; i < n; i++) {
		int r = run(rows[i].body, allowed);
		if (r != rows[i].err || strcmp(nerr.field, rows[i].field) != 0)
			print_error("%s\n  -> %s (%d) field \"%s\" detail \"%s\"; want %s \"%s\"\n",
			            rows[i].body, err_slug(r), r, nerr.field, nerr.detail,
			            err_slug(rows[i].err), rows[i].field);
		assert_int_equal(r, rows[i].err);
		assert_string_equal(nerr.field, rows[i].field);
	}
}

static void test_errors_body(void **state)
{
	(void)state;
	static const struct erow rows[] = {
	    {"", -ERR_JSON_SYNTAX, ""},
	    {"  ", -ERR_JSON_SYNTAX, ""},
	    {"{", -ERR_JSON_SYNTAX, ""},
	    {"{" BASE "}x", -ERR_JSON_SYNTAX, ""},
	    {"{" BASE "} {}", -ERR_JSON_SYNTAX, ""},
	    {"{" BASE ",}", -ERR_JSON_SYNTAX, ""},
	    {"{" TO " " SUBJ "," MSG "}", -ERR_JSON_SYNTAX, ""},
	    {"{\"to_email\" \"a@b\"," SUBJ "," MSG "}", -ERR_JSON_SYNTAX, ""},
	    {"{" BASE ",\"cc\":tru}", -ERR_JSON_SYNTAX, ""},
	    {"{" BASE ",\"cc\":\"a\tb@c\"}", -ERR_JSON_SYNTAX, ""},
	    {"{" BASE ",\"html\":\"\xc0\x80\"}", -ERR_BAD_UTF8, ""},
	    {"{" BASE ",\"html\":\"\xed\xa0\x80\"}", -ERR_BAD_UTF8, ""},
	    {"{\"\xff\":1}", -ERR_BAD_UTF8, ""},
	    {"[]", -ERR_FIELD_TYPE, ""},
	    {"["
	     "{" BASE "}"
	     "]",
	     -ERR_FIELD_TYPE, ""},
	    {"\"to_email\"", -ERR_FIELD_TYPE, ""},
	    {"null", -ERR_FIELD_TYPE, ""},
	    {"42", -ERR_FIELD_TYPE, ""},
	    {"{" BASE ",\"html\":\"\\ud800\"}", -ERR_BAD_UTF8, "html"},
	    {"{" BASE ",\"html\":\"\\udc00\\ud800\"}", -ERR_BAD_UTF8, "html"},
	    {"{" TO "," SUBJ ",\"message\":\"a\\u0000b\"}", -ERR_BAD_UTF8, "message"},
	    {"{\"to_email\":\"a\\ud83d@b\"," SUBJ "," MSG "}", -ERR_BAD_UTF8, "to_email"},
	    {"{\"\\ud800\":1}", -ERR_BAD_UTF8, ""},
	};
	check_errors(rows, sizeof rows / sizeof rows[0], NULL);
}

static void test_errors_fields(void **state)
{
	(void)state;
	static const struct erow rows[] = {
	    {"{}", -ERR_FIELD_MISSING, "to_email"},
	    {"{" SUBJ "," MSG "}", -ERR_FIELD_MISSING, "to_email"},
	    {"{\"to_email\":[]," SUBJ "," MSG "}", -ERR_FIELD_MISSING, "to_email"},
	    {"{" TO "," MSG "}", -ERR_FIELD_MISSING, "subject"},
	    {"{" TO "," SUBJ "}", -ERR_FIELD_MISSING, "message"},
	    {"{" TO "," SUBJ ",\"message\":\"\"}", -ERR_FIELD_MISSING, "message"},
	    {"{" TO "," SUBJ ",\"message\":\"\",\"html\":\"\"}", -ERR_FIELD_MISSING, "message"},
	    {"{\"to_email\":null," SUBJ "," MSG "}", -ERR_FIELD_TYPE, "to_email"},
	    {"{\"to_email\":1," SUBJ "," MSG "}", -ERR_FIELD_TYPE, "to_email"},
	    {"{\"to_email\":{}," SUBJ "," MSG "}", -ERR_FIELD_TYPE, "to_email"},
	    {"{\"to_email\":[\"a@b\",1]," SUBJ "," MSG "}", -ERR_FIELD_TYPE, "to_email[1]"},
	    {"{\"to_email\":[\"a@b\",null]," SUBJ "," MSG "}", -ERR_FIELD_TYPE, "to_email[1]"},
	    {"{\"to_email\":[[\"a@b\"]]," SUBJ "," MSG "}", -ERR_FIELD_TYPE, "to_email[0]"},
	    {"{\"to_email\":\"bad\"," SUBJ "," MSG "}", -ERR_FIELD_INVALID, "to_email"},
	    {"{\"to_email\":\"\"," SUBJ "," MSG "}", -ERR_FIELD_INVALID, "to_email"},
	    {"{\"to_email\":[\"a@b\",\"c@d\",\"bad\"]," SUBJ "," MSG "}", -ERR_FIELD_INVALID,
	     "to_email[2]"},
	    {"{" BASE ",\"cc\":\"bad\"}", -ERR_FIELD_INVALID, "cc"},
	    {"{" BASE ",\"cc\":true}", -ERR_FIELD_TYPE, "cc"},
	    {"{" BASE ",\"bcc\":[\"ok@x\",\"a@b@c\"]}", -ERR_FIELD_INVALID, "bcc[1]"},
	    {"{" BASE ",\"reply_to\":\"bad\"}", -ERR_FIELD_INVALID, "reply_to"},
	    {"{" BASE ",\"reply_to\":[1]}", -ERR_FIELD_TYPE, "reply_to[0]"},
	    {"{" TO ",\"subject\":null," MSG "}", -ERR_FIELD_TYPE, "subject"},
	    {"{" TO ",\"subject\":[\"s\"]," MSG "}", -ERR_FIELD_TYPE, "subject"},
	    {"{" TO ",\"subject\":\"\"," MSG "}", -ERR_FIELD_INVALID, "subject"},
	    {"{" TO ",\"subject\":\"a\\nb\"," MSG "}", -ERR_FIELD_INVALID, "subject"},
	    {"{" TO ",\"subject\":\"a\\rb\"," MSG "}", -ERR_FIELD_INVALID, "subject"},
	    {"{" TO ",\"subject\":\"a\\tb\"," MSG "}", -ERR_FIELD_INVALID, "subject"},
	    {"{" TO ",\"subject\":\"\\u0007\"," MSG "}", -ERR_FIELD_INVALID, "subject"},
	    {"{" TO ",\"subject\":\"\x7f\"," MSG "}", -ERR_FIELD_INVALID, "subject"},
	    {"{" TO ",\"subject\":\"\\u0080\"," MSG "}", -ERR_FIELD_INVALID, "subject"},
	    {"{" TO ",\"subject\":\"a\\u0085\"," MSG "}", -ERR_FIELD_INVALID, "subject"},
	    {"{" TO ",\"subject\":\"\xc2\x9f\"," MSG "}", -ERR_FIELD_INVALID, "subject"},
	    {"{" TO ",\"subject\":\"a\\u2028b\"," MSG "}", -ERR_FIELD_INVALID, "subject"},
	    {"{" TO ",\"subject\":\"\xe2\x80\xa9\"," MSG "}", -ERR_FIELD_INVALID, "subject"},
	    {"{" TO "," SUBJ ",\"message\":null}", -ERR_FIELD_TYPE, "message"},
	    {"{" TO "," SUBJ ",\"message\":1}", -ERR_FIELD_TYPE, "message"},
	    {"{" BASE ",\"html\":true}", -ERR_FIELD_TYPE, "html"},
	    {"{" BASE ",\"html\":{}}", -ERR_FIELD_TYPE, "html"},
	    {"{" BASE ",\"CC\":\"a@b\"}", -ERR_FIELD_UNKNOWN, "CC"},
	    {"{\"foo\":1," BASE "}", -ERR_FIELD_UNKNOWN, "foo"},
	    {"{" BASE ",\"\":1}", -ERR_FIELD_UNKNOWN, ""},
	    {"{" BASE ",\"to\":\"a@b\"}", -ERR_FIELD_UNKNOWN, "to"},
	    {"{" BASE ",\"件名\":\"x\"}", -ERR_FIELD_UNKNOWN, "??"},
	    {"{" BASE ",\"a\\u0001b\\\"c\":1}", -ERR_FIELD_UNKNOWN, "a?b\"c"},
	    {"{" BASE ",\"subject\":\"t\"}", -ERR_FIELD_DUPLICATE, "subject"},
	    {"{" BASE ",\"to_email\":\"a@example.com\"}", -ERR_FIELD_DUPLICATE, "to_email"},
	    {"{" BASE ",\"subj\\u0065ct\":\"t\"}", -ERR_FIELD_DUPLICATE, "subject"},
	    {"{" BASE ",\"cc\":[],\"cc\":[]}", -ERR_FIELD_DUPLICATE, "cc"},
	    {"{" BASE ",\"from\":null}", -ERR_FIELD_TYPE, "from"},
	    {"{" BASE ",\"from\":\"bad\"}", -ERR_FIELD_INVALID, "from"},
	    {"{" BASE ",\"from\":\"a@example.com\"}", -ERR_SENDER_NOT_ALLOWED, "from"},
	};
	check_errors(rows, sizeof rows / sizeof rows[0], NULL);
}

static void test_errors_attachments(void **state)
{
	(void)state;
	static const struct erow rows[] = {
	    {"{" BASE ",\"attachments\":{}}", -ERR_FIELD_TYPE, "attachments"},
	    {"{" BASE ",\"attachments\":null}", -ERR_FIELD_TYPE, "attachments"},
	    {"{" BASE "," ATT("1") "}", -ERR_FIELD_TYPE, "attachments[0]"},
	    {"{" BASE "," ATT(ATT_OK ",[]") "}", -ERR_FIELD_TYPE, "attachments[1]"},
	    {"{" BASE "," ATT(ATT_OK ",{\"foo\":1}") "}", -ERR_FIELD_UNKNOWN, "attachments[1].foo"},
	    {"{" BASE "," ATT(ATT_OK ",{\"Name\":\"x\"}") "}", -ERR_FIELD_UNKNOWN,
	     "attachments[1].Name"},
	    {"{" BASE "," ATT("{\"name\":\"a\",\"name\":\"b\"}") "}", -ERR_FIELD_DUPLICATE,
	     "attachments[0].name"},
	    {"{" BASE "," ATT("{}") "}", -ERR_FIELD_MISSING, "attachments[0].name"},
	    {"{" BASE "," ATT("{\"name\":\"a\",\"content_base64\":\"aGk=\"}") "}",
	     -ERR_FIELD_MISSING, "attachments[0].content_type"},
	    {"{" BASE "," ATT("{\"name\":\"a\",\"content_type\":\"a/b\"}") "}", -ERR_FIELD_MISSING,
	     "attachments[0].content_base64"},
	    {"{" BASE "," ATT1("1", "\"text/plain\"", "\"aGk=\"") "}", -ERR_FIELD_TYPE,
	     "attachments[0].name"},
	    {"{" BASE "," ATT1("\"a\"", "null", "\"aGk=\"") "}", -ERR_FIELD_TYPE,
	     "attachments[0].content_type"},
	    {"{" BASE "," ATT1("\"a\"", "\"a/b\"", "[]") "}", -ERR_FIELD_TYPE,
	     "attachments[0].content_base64"},
	    {"{" BASE "," ATT1("\"\"", "\"a/b\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].name"},
	    {"{" BASE "," ATT1("\"a/b\"", "\"a/b\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].name"},
	    {"{" BASE "," ATT1("\"a\\\\b\"", "\"a/b\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].name"},
	    {"{" BASE "," ATT1("\"..\\/x\"", "\"a/b\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].name"},
	    {"{" BASE "," ATT1("\".\"", "\"a/b\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].name"},
	    {"{" BASE "," ATT1("\"..\"", "\"a/b\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].name"},
	    {"{" BASE "," ATT1("\"a\\nb\"", "\"a/b\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].name"},
	    {"{" BASE "," ATT1("\"a\\u0085\"", "\"a/b\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].name"},
	    {"{" BASE "," ATT1("\"a\"", "\"text\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].content_type"},
	    {"{" BASE "," ATT1("\"a\"", "\"\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].content_type"},
	    {"{" BASE "," ATT1("\"a\"", "\"text/\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].content_type"},
	    {"{" BASE "," ATT1("\"a\"", "\"\\/plain\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].content_type"},
	    {"{" BASE "," ATT1("\"a\"", "\"text/plain; charset=utf-8\"", "\"aGk=\"") "}",
	     -ERR_FIELD_INVALID, "attachments[0].content_type"},
	    {"{" BASE "," ATT1("\"a\"", "\"text/pl ain\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].content_type"},
	    {"{" BASE "," ATT1("\"a\"", "\"-text/plain\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].content_type"},
	    {"{" BASE "," ATT1("\"a\"", "\"text/.plain\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].content_type"},
	    {"{" BASE "," ATT1("\"a\"", "\"text/plain/x\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].content_type"},
	    {"{" BASE "," ATT1("\"a\"", "\"テ/x\"", "\"aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].content_type"},
	    {"{" BASE "," ATT1("\"a\"", "\"a/b\"", "\"\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].content_base64"},
	    {"{" BASE "," ATT1("\"a\"", "\"a/b\"", "\"aGk\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].content_base64"},
	    {"{" BASE "," ATT1("\"a\"", "\"a/b\"", "\"aGl=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].content_base64"},
	    {"{" BASE "," ATT1("\"a\"", "\"a/b\"", "\"aG k=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].content_base64"},
	    {"{" BASE "," ATT1("\"a\"", "\"a/b\"", "\"aGk=\\r\\n\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].content_base64"},
	    {"{" BASE "," ATT1("\"a\"", "\"a/b\"", "\"aGk=aGk=\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].content_base64"},
	    {"{" BASE "," ATT1("\"a\"", "\"a/b\"", "\"aG-_\"") "}", -ERR_FIELD_INVALID,
	     "attachments[0].content_base64"},
	};
	check_errors(rows, sizeof rows / sizeof rows[0], NULL);
	/* the empty-attachment detail is the documented one */
	assert_int_equal(run("{" BASE "," ATT1("\"a\"", "\"a/b\"", "\"\"") "}", NULL),
	                 -ERR_FIELD_INVALID);
	assert_string_equal(nerr.detail, "attachment is empty");
	/* good media types */
	assert_int_equal(run("{" BASE
	                     "," ATT1("\"a\"", "\"Application/X-Foo!#$&-^_.+9\"", "\"aGk=\"") "}",
	                     NULL),
	                 0);
}

static void test_error_details(void **state)
{
	(void)state;
	assert_int_equal(run("[]", NULL), -ERR_FIELD_TYPE);
	assert_string_equal(nerr.detail, "request body must be a JSON object");
	assert_int_equal(run("{" TO "," SUBJ "}", NULL), -ERR_FIELD_MISSING);
	assert_string_equal(nerr.detail, "message or html is required");
	assert_int_equal(run("{\"to_email\":5}", NULL), -ERR_FIELD_TYPE);
	assert_string_equal(nerr.detail, "to_email must be a string or an array of strings");
	assert_int_equal(run("{\"cc\":[\"x@y\",5]}", NULL), -ERR_FIELD_TYPE);
	assert_string_equal(nerr.field, "cc[1]");
	assert_string_equal(nerr.detail, "cc must be a string or an array of strings");
	assert_int_equal(run("{\"to_email\":\"x\"}", NULL), -ERR_FIELD_INVALID);
	assert_string_equal(nerr.detail, "not a valid e-mail address");
	assert_int_equal(run("{" TO ",\"subject\":\"\"}", NULL), -ERR_FIELD_INVALID);
	assert_string_equal(nerr.detail, "subject must not be empty");
	/* the detail never echoes the value */
	assert_int_equal(run("{\"to_email\":\"secret-value\"}", NULL), -ERR_FIELD_INVALID);
	assert_null(strstr(nerr.detail, "secret"));
}

/* Field names built from request text are sanitized and truncated. */
static void test_error_field_truncation(void **state)
{
	(void)state;
	char body[512];
	snprintf(body, sizeof body, "{\"%s\":1}", rep('k', 100));
	assert_int_equal(run(body, NULL), -ERR_FIELD_UNKNOWN);
	assert_int_equal(strlen(nerr.field), NOTIFY_FIELD_MAX - 1);
	assert_string_equal(nerr.field, rep('k', NOTIFY_FIELD_MAX - 1));
	snprintf(body, sizeof body, "{" BASE "," ATT(ATT_OK "," ATT_OK ",{\"%s\":1}") "}",
	         rep('z', 80));
	assert_int_equal(run(body, NULL), -ERR_FIELD_UNKNOWN);
	assert_int_equal(strlen(nerr.field), NOTIFY_FIELD_MAX - 1);
	assert_memory_equal(nerr.field, "attachments[2].zzz", 18);
	/* printable ASCII only: one '?' per character, whatever its encoding */
	assert_int_equal(run("{\"\\u00e9t\\u00e9\\ud83d\\ude00\\u007f~\":1}", NULL),
	                 -ERR_FIELD_UNKNOWN);
	assert_string_equal(nerr.field, "?t???~");
}

/* ---- limits --------------------------------------------------------------------------------- */

/* Runs {"to_email":[nt addrs],"cc":[nc addrs],"bcc":[nb addrs],subject,message}. */
static int run_recipients(int nt, int nc, int nb)
{
	static char mem[8192];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	buf_puts(&b, "{\"to_email\":");
	put_addrs(&b, 0, nt);
	buf_puts(&b, ",\"cc\":");
	put_addrs(&b, 100, nc);
	buf_puts(&b, ",\"bcc\":");
	put_addrs(&b, 200, nb);
	buf_puts(&b, "," SUBJ "," MSG "}");
	assert_int_equal(buf_finish(&b), 0);
	return run_n(mem, b.len, NULL);
}

static void test_recipient_limit(void **state)
{
	(void)state;
	assert_int_equal(run_recipients(NOTIFY_MAX_RECIPIENTS, 0, 0), 0);
	assert_int_equal(msg.n_to, NOTIFY_MAX_RECIPIENTS);
	expect_str(&msg.to[49], "u49@example.com");
	assert_int_equal(run_recipients(20, 20, 10), 0);
	assert_int_equal(msg.n_to + msg.n_cc + msg.n_bcc, NOTIFY_MAX_RECIPIENTS);
	expect_str(&msg.bcc[9], "u209@example.com");
	assert_int_equal(run_recipients(NOTIFY_MAX_RECIPIENTS + 1, 0, 0), -ERR_TOO_MANY_RECIPIENTS);
	assert_string_equal(nerr.field, "to_email");
	assert_int_equal(run_recipients(NOTIFY_MAX_RECIPIENTS, 1, 0), -ERR_TOO_MANY_RECIPIENTS);
	assert_string_equal(nerr.field, "cc");
	assert_int_equal(run_recipients(20, 20, 11), -ERR_TOO_MANY_RECIPIENTS);
	assert_string_equal(nerr.field, "bcc");
	/* a plain string counts as one */
	static char mem[8192];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	buf_puts(&b, "{\"to_email\":");
	put_addrs(&b, 0, NOTIFY_MAX_RECIPIENTS);
	buf_puts(&b, ",\"bcc\":\"z@example.com\"," SUBJ "," MSG "}");
	assert_int_equal(run_n(mem, b.len, NULL), -ERR_TOO_MANY_RECIPIENTS);
	assert_string_equal(nerr.field, "bcc");
}

static void test_item_limits(void **state)
{
	(void)state;
	static char mem[8192];
	struct buf b;
	for (int extra = 0; extra <= 1; extra++) {
		buf_init(&b, mem, sizeof mem);
		buf_puts(&b, "{" BASE ",\"reply_to\":");
		put_addrs(&b, 0, NOTIFY_MAX_REPLY_TO + extra);
		buf_puts(&b, "}");
		assert_int_equal(run_n(mem, b.len, NULL), extra ? -ERR_TOO_MANY_ITEMS : 0);
		assert_string_equal(nerr.field, extra ? "reply_to" : "");
		buf_init(&b, mem, sizeof mem);
		buf_puts(&b, "{" BASE ",\"attachments\":[");
		for (int i = 0; i < NOTIFY_MAX_ATTACHMENTS + extra; i++)
			buf_puts(&b, i ? "," ATT_OK : ATT_OK);
		buf_puts(&b, "]}");
		assert_int_equal(run_n(mem, b.len, NULL), extra ? -ERR_TOO_MANY_ITEMS : 0);
		assert_string_equal(nerr.field, extra ? "attachments" : "");
		if (!extra)
			assert_int_equal(msg.n_att, NOTIFY_MAX_ATTACHMENTS);
	}
}

/* The largest valid request fits in NOTIFY_MAX_TOKENS. */
static void test_max_request_tokens(void **state)
{
	(void)state;
	static char mem[16384];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	buf_puts(&b, "{\"to_email\":");
	put_addrs(&b, 0, 48);
	buf_puts(&b, ",\"cc\":[\"c@x\"],\"bcc\":[\"b@x\"],\"reply_to\":");
	put_addrs(&b, 300, NOTIFY_MAX_REPLY_TO);
	buf_puts(&b, ",\"subject\":\"s\",\"message\":\"m\",\"html\":\"h\",\"from\":\"f@x\","
	             "\"attachments\":[");
	for (int i = 0; i < NOTIFY_MAX_ATTACHMENTS; i++)
		buf_puts(&b, i ? "," ATT_OK : ATT_OK);
	buf_puts(&b, "]}");
	assert_int_equal(run_n(mem, b.len, "f@x"), 0);
	assert_int_equal(json_parse(mem, b.len, tok, NOTIFY_MAX_TOKENS), 149);
	/* and a body with more tokens than that is refused as too complex */
	buf_init(&b, mem, sizeof mem);
	buf_puts(&b, "{" BASE ",\"cc\":[");
	for (int i = 0; i < NOTIFY_MAX_TOKENS; i++)
		buf_puts(&b, i ? ",1" : "1");
	buf_puts(&b, "]}");
	assert_int_equal(run_n(mem, b.len, NULL), -ERR_JSON_TOO_COMPLEX);
	assert_string_equal(nerr.field, "");
	/* nesting */
	assert_int_equal(
	    run("{\"cc\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
	        NULL),
	    -ERR_JSON_TOO_COMPLEX);
}

static void test_length_limits(void **state)
{
	(void)state;
	char body[4096];
	/* subject: exactly the limit, then one more byte; multibyte counts in bytes */
	snprintf(body, sizeof body, "{" TO ",\"subject\":\"%s\"," MSG "}",
	         rep('s', NOTIFY_MAX_SUBJECT));
	assert_int_equal(run(body, NULL), 0);
	assert_int_equal(msg.subject.len, NOTIFY_MAX_SUBJECT);
	snprintf(body, sizeof body, "{" TO ",\"subject\":\"%s\"," MSG "}",
	         rep('s', NOTIFY_MAX_SUBJECT + 1));
	assert_int_equal(run(body, NULL), -ERR_FIELD_TOO_LONG);
	assert_string_equal(nerr.field, "subject");
	snprintf(body, sizeof body, "{" TO ",\"subject\":\"%s\\u3042\"," MSG "}",
	         rep('s', NOTIFY_MAX_SUBJECT - 2));
	assert_int_equal(run(body, NULL), -ERR_FIELD_TOO_LONG);
	/* addresses */
	snprintf(body, sizeof body, "{\"to_email\":\"a@%s.com\"," SUBJ "," MSG "}", rep('b', 60));
	assert_int_equal(run(body, NULL), 0);
	snprintf(body, sizeof body, "{\"cc\":[\"a@b\",\"%s@%s\"]}", rep('l', 64), rep('d', 190));
	assert_int_equal(run(body, NULL), -ERR_FIELD_TOO_LONG);
	assert_string_equal(nerr.field, "cc[1]");
	/* file name */
	snprintf(body, sizeof body, "{" BASE "," ATT1("\"%s\"", "\"a/b\"", "\"aGk=\"") "}",
	         rep('n', NOTIFY_MAX_FILENAME));
	assert_int_equal(run(body, NULL), 0);
	snprintf(body, sizeof body, "{" BASE "," ATT1("\"%s\"", "\"a/b\"", "\"aGk=\"") "}",
	         rep('n', NOTIFY_MAX_FILENAME + 1));
	assert_int_equal(run(body, NULL), -ERR_FIELD_TOO_LONG);
	assert_string_equal(nerr.field, "attachments[0].name");
	/* content type: 127 + 1 + 127 is the longest */
	char ct[300];
	snprintf(ct, sizeof ct, "%s/%s", rep('t', 127), rep('u', 127));
	snprintf(body, sizeof body, "{" BASE "," ATT1("\"a\"", "\"%s\"", "\"aGk=\"") "}", ct);
	assert_int_equal(run(body, NULL), 0);
	snprintf(ct, sizeof ct, "%s/%s", rep('t', 128), rep('u', 1));
	snprintf(body, sizeof body, "{" BASE "," ATT1("\"a\"", "\"%s\"", "\"aGk=\"") "}", ct);
	assert_int_equal(run(body, NULL), -ERR_FIELD_INVALID);
	snprintf(ct, sizeof ct, "%s/%s", rep('t', 127), rep('u', 128));
	snprintf(body, sizeof body, "{" BASE "," ATT1("\"a\"", "\"%s\"", "\"aGk=\"") "}", ct);
	assert_int_equal(run(body, NULL), -ERR_FIELD_TOO_LONG);
	assert_string_equal(nerr.field, "attachments[0].content_type");
}

/* ---- addresses and senders ------------------------------------------------------------------ */

static void test_addr_valid(void **state)
{
	(void)state;
	char s[600];
	static const char *good[] = {
	    "a@b",
	    "first.last+tag@sub.example.co.jp",
	    "x@localhost",
	    "!#$%&'*+-/=?^_`{|}~@example.com",
	    "a@1.2.3.4",
	    "a@xn--bcher-kva.example",
	    "a@a-b.c",
	    "A.B@EXAMPLE.COM",
	    "you@example.com",
	};
	static const char *bad[] = {
	    "",        "ab",    "a@b@c",       "@b",
	    "a@",      ".a@b",  "a.@b",        "a..b@c",
	    "a b@c",   "a@b c", "a\x01@b",     "a@-b.c",
	    "a@b-.c",  "a@-",   "\xc3\xa9@b",  "a@\xc3\xa9.com",
	    "a@b.",    "a@.b",  "a@b..c",      "a@b_c",
	    "a\"b@c",  "(a)@b", "a@[1.2.3.4]", "a@b:25",
	    "<a@b>",   "a@b\n", " a@b",        "a@b ",
	    "a\\@b@c",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		if (!notify_addr_valid(good[i], strlen(good[i])))
			print_error("rejected %s\n", good[i]);
		assert_true(notify_addr_valid(good[i], strlen(good[i])));
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (notify_addr_valid(bad[i], strlen(bad[i])))
			print_error("accepted %s\n", bad[i]);
		assert_false(notify_addr_valid(bad[i], strlen(bad[i])));
	}
	assert_false(notify_addr_valid("a\0@b", 4));
	assert_false(notify_addr_valid("a@b\0", 4));
	assert_true(notify_addr_valid("a@b\0", 3));
	/* local part: 64 bytes, then 65 */
	snprintf(s, sizeof s, "%s@b", rep('l', 64));
	assert_true(notify_addr_valid(s, strlen(s)));
	snprintf(s, sizeof s, "%s@b", rep('l', 65));
	assert_false(notify_addr_valid(s, strlen(s)));
	/* labels: 63 bytes, then 64 */
	snprintf(s, sizeof s, "a@%s.com", rep('d', 63));
	assert_true(notify_addr_valid(s, strlen(s)));
	snprintf(s, sizeof s, "a@%s.com", rep('d', 64));
	assert_false(notify_addr_valid(s, strlen(s)));
	/* total: 254 bytes, then 255 (64 + 1 + 63.63.61 or .62) */
	snprintf(s, sizeof s, "%s@%s.%s.%s", rep('l', 64), rep('a', 63), rep('b', 63),
	         rep('c', 61));
	assert_int_equal(strlen(s), NOTIFY_MAX_ADDR);
	assert_true(notify_addr_valid(s, strlen(s)));
	snprintf(s, sizeof s, "%s@%s.%s.%s", rep('l', 64), rep('a', 63), rep('b', 63),
	         rep('c', 62));
	assert_false(notify_addr_valid(s, strlen(s)));
}

static void expect_mask(const char *addr, const char *want)
{
	char mem[300];
	struct buf b;
	buf_init(&b, mem, sizeof mem);
	notify_addr_mask(&b, addr, strlen(addr));
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(mem, want, b.len);
}

static void test_addr_mask(void **state)
{
	(void)state;
	expect_mask("you@example.com", "y***@example.com");
	expect_mask("a@b", "a***@b");
	expect_mask("first.last+tag@sub.example.co.jp", "f***@sub.example.co.jp");
	expect_mask("bad", "***");
	expect_mask("", "***");
	expect_mask("a@b@c", "***");
}

static void test_sender_policy(void **state)
{
	(void)state;
	const char *list = "noreply@example.com, Alerts@Example.com ,\tx@y";
	assert_int_equal(run("{" BASE ",\"from\":\"alerts@example.COM\"}", list), 0);
	expect_str(&msg.from, "alerts@example.COM");
	assert_int_equal(run("{" BASE ",\"from\":\"noreply@example.com\"}", list), 0);
	assert_int_equal(run("{" BASE ",\"from\":\"x@y\"}", list), 0);
	static const char *refused[] = {"noreply@example.co", "oreply@example.com",
	                                "noreply@example.comx", "y@y", "x@yy"};
	char body[256];
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		snprintf(body, sizeof body, "{" BASE ",\"from\":\"%s\"}", refused[i]);
		assert_int_equal(run(body, list), -ERR_SENDER_NOT_ALLOWED);
		assert_string_equal(nerr.field, "from");
	}
	assert_int_equal(run("{" BASE ",\"from\":\"x@y\"}", ""), -ERR_SENDER_NOT_ALLOWED);
	assert_int_equal(run("{" BASE ",\"from\":\"x@y\"}", ", ,,"), -ERR_SENDER_NOT_ALLOWED);
	assert_int_equal(run("{" BASE ",\"from\":\"x@y\"}", "x@y,"), 0);
	/* an invalid address is invalid even when listed */
	assert_int_equal(run("{" BASE ",\"from\":\"bad\"}", "bad"), -ERR_FIELD_INVALID);
	/* no policy at all */
	const char *body2 = "{" BASE ",\"from\":\"x@y\"}";
	struct notify_error e;
	char sc[128];
	assert_int_equal(notify_parse(body2, strlen(body2), tok, NOTIFY_MAX_TOKENS, sc, sizeof sc,
	                              NULL, &msg, &e),
	                 -ERR_SENDER_NOT_ALLOWED);
	/* without "from" the configured sender is used */
	assert_int_equal(run("{" BASE "}", list), 0);
	assert_int_equal(msg.from.len, 0);
}

/* ---- scratch -------------------------------------------------------------------------------- */

/* Smallest scratch notify_parse needs for body; every smaller one gives -ERR_OVERFLOW. */
static size_t min_scratch(const char *body, size_t len)
{
	static char sc[8192];
	struct notify_error e;
	struct notify_policy pol = {"f@x"};
	size_t cap = 0;
	int r;
	while ((r = notify_parse(body, len, tok, NOTIFY_MAX_TOKENS, cap ? sc : NULL, cap, &pol,
	                         &msg, &e)) == -ERR_OVERFLOW) {
		assert_int_equal(e.err, -ERR_OVERFLOW);
		cap++;
		assert_true(cap <= sizeof sc);
	}
	assert_int_equal(r, 0);
	return cap;
}

static void test_scratch(void **state)
{
	(void)state;
	static char body[8192];
	/* raw multibyte text decodes 1:1: the densest body */
	struct buf b;
	buf_init(&b, body, sizeof body);
	buf_puts(&b, "{\"to_email\":\"a@b\",\"subject\":\"");
	for (int i = 0; i < 300; i++)
		buf_puts(&b, "\xe3\x81\x82");
	buf_puts(&b, "\",\"message\":\"");
	for (int i = 0; i < 500; i++)
		buf_puts(&b, "\xf0\x9f\x98\x80");
	buf_puts(&b, "\",\"from\":\"f@x\"}");
	assert_int_equal(buf_finish(&b), 0);
	size_t need = min_scratch(body, b.len);
	assert_true(need <= b.len);
	assert_int_equal(run_n(body, b.len, "f@x"), 0); /* scratch of exactly len bytes */
	assert_int_equal(msg.subject.len, 900);
	assert_int_equal(msg.text.len, 2000);
	/* every escape form, in keys and values */
	buf_init(&b, body, sizeof body);
	buf_puts(&b,
	         "{\"to\\u005f\\u0065mail\":[\"\\u0061@\\u0062\",\"c\\u0040d\"],"
	         "\"\\u0073ubject\":\"\\\"\\\\\\/\\u00e9\\u3042\\ud83d\\ude00\",\"message\":\"");
	for (int i = 0; i < 100; i++)
		buf_puts(&b, "\\n\\t\\\\\\\"\\/\\b\\f\\r\\u0001\\u00e9\\u3042\\ud83d\\ude00");
	buf_puts(&b, "\"," ATT("{\"name\":\"\\u8acb.pdf\",\"content_type\":\"a\\/b\","
	                       "\"content_base64\":\"AAEC\\/w==\"}") "}");
	assert_int_equal(buf_finish(&b), 0);
	need = min_scratch(body, b.len);
	assert_true(need <= b.len);
	assert_int_equal(run_n(body, b.len, NULL), 0);
	expect_str(&msg.to[0], "a@b");
	expect_str(&msg.to[1], "c@d");
	expect_str(&msg.subject, "\"\\/\xc3\xa9\xe3\x81\x82\xf0\x9f\x98\x80");
	assert_int_equal(msg.text.len, 100 * (8 + 1 + 2 + 3 + 4));
	expect_str(&msg.att[0].content_base64, "AAEC/w==");
	/* too small: -ERR_OVERFLOW, mirrored in e */
	const char *small = "{" BASE "}";
	char sc[4];
	struct notify_error e;
	assert_int_equal(notify_parse(small, strlen(small), tok, NOTIFY_MAX_TOKENS, sc, sizeof sc,
	                              NULL, &msg, &e),
	                 -ERR_OVERFLOW);
	assert_int_equal(e.err, -ERR_OVERFLOW);
	assert_true(strlen(e.field) < NOTIFY_FIELD_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_original_request, teardown),
	    cmocka_unit_test_teardown(test_full_request, teardown),
	    cmocka_unit_test_teardown(test_bodies, teardown),
	    cmocka_unit_test_teardown(test_errors_body, teardown),
	    cmocka_unit_test_teardown(test_errors_fields, teardown),
	    cmocka_unit_test_teardown(test_errors_attachments, teardown),
	    cmocka_unit_test_teardown(test_error_details, teardown),
	    cmocka_unit_test_teardown(test_error_field_truncation, teardown),
	    cmocka_unit_test_teardown(test_recipient_limit, teardown),
	    cmocka_unit_test_teardown(test_item_limits, teardown),
	    cmocka_unit_test_teardown(test_max_request_tokens, teardown),
	    cmocka_unit_test_teardown(test_length_limits, teardown),
	    cmocka_unit_test_teardown(test_addr_valid, teardown),
	    cmocka_unit_test_teardown(test_addr_mask, teardown),
	    cmocka_unit_test_teardown(test_sender_policy, teardown),
	    cmocka_unit_test_teardown(test_scratch, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
