/* test_invoke.c: the invocation envelope of invoke.h: HTTP and queue triggers, every error,
 * the lookups, and the answer writer (layout, escaping round trip, refusals, overflow). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "invoke.h"
#include "json.h"
#include "notify.h"
#include "testutil.h"

/* ---- harness -------------------------------------------------------------------------------- */

static struct json_tok tok[INVOKE_MAX_TOKENS];
static struct invoke_http h;
static struct invoke_queue q;
static struct notify_error ierr;
static char *scratch; /* exactly the documented size: ASan catches any write past it */
static size_t scratch_len;

/* fmt with its one "%s" (if any) replaced by arg, into out. */
static void subst(char *out, size_t cap, const char *fmt, const char *arg)
{
	const char *p = strstr(fmt, "%s");
	int k = p ? snprintf(out, cap, "%.*s%s%s", (int)(p - fmt), fmt, arg, p + 2)
	          : snprintf(out, cap, "%s", fmt);
	assert_true(k >= 0 && (size_t)k < cap);
}

static void new_scratch(size_t n)
{
	free(scratch);
	scratch = malloc(n ? n : 1);
	assert_non_null(scratch);
	scratch_len = n;
}

/* Checks the error report against the return value r. */
static void check_report(int r)
{
	assert_int_equal(r, ierr.err);
	assert_true(memchr(ierr.field, 0, sizeof ierr.field) != NULL);
	assert_true(memchr(ierr.detail, 0, sizeof ierr.detail) != NULL);
	if (r == 0) {
		assert_string_equal(ierr.field, "");
		assert_string_equal(ierr.detail, "");
	} else {
		assert_true(ierr.detail[0] != '\0');
	}
}

/* invoke_http_parse of body[0..len) with a scratch of `cap` bytes and `ntok` tokens. */
static int http_cap(const char *body, size_t len, size_t cap, unsigned ntok)
{
	new_scratch(cap);
	memset(&ierr, 0x55, sizeof ierr);
	int r = invoke_http_parse(body, len, "req", tok, ntok, scratch, cap, &h, &ierr);
	check_report(r);
	return r;
}

/* invoke_http_parse with the documented sufficient scratch (the body's length). */
static int http(const char *body)
{
	return http_cap(body, strlen(body), strlen(body), INVOKE_MAX_TOKENS);
}

static int queue_cap(const char *body, size_t cap)
{
	new_scratch(cap);
	memset(&ierr, 0x55, sizeof ierr);
	int r = invoke_queue_parse(body, strlen(body), "msg", tok, INVOKE_MAX_TOKENS, scratch, cap,
	                           &q, &ierr);
	check_report(r);
	return r;
}

/* invoke_queue_parse with the documented sufficient scratch (twice the body's length). */
static int queue(const char *body)
{
	return queue_cap(body, 2 * strlen(body));
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
	if (s->len != strlen(want) || memcmp(s->p, want, s->len) != 0)
		fail_msg("got \"%.*s\", want \"%s\"", (int)s->len, s->p, want);
}

/* s lies inside [lo, lo + n). */
static void expect_in(const struct notify_str *s, const char *lo, size_t n)
{
	assert_true(s->p >= lo && s->p + s->len <= lo + n);
}

static void expect_err(int r, int err, const char *field)
{
	if (r != err || strcmp(ierr.field, field) != 0)
		fail_msg("got %d \"%s\" (%s), want %d \"%s\"", r, ierr.field, ierr.detail, err,
		         field);
}

/* Lookup helpers: the value, NUL-terminated, or NULL when absent; asserts no error. */
typedef int (*lookup_fn)(const struct invoke_http *, const char *, char *, size_t,
                         struct notify_str *);

static const char *get(lookup_fn f, const char *name)
{
	static char out[1024], copy[1024];
	struct notify_str v = {NULL, 0};
	int r = f(&h, name, out, sizeof out, &v);
	assert_true(r == 0 || r == 1);
	if (r == 0)
		return NULL;
	assert_true(v.len < sizeof copy);
	memcpy(copy, v.p, v.len);
	copy[v.len] = '\0';
	return copy;
}

static void expect_get(lookup_fn f, const char *name, const char *want)
{
	const char *got = get(f, name);
	if (want == NULL && got != NULL)
		fail_msg("%s: got \"%s\", want absent", name, got);
	if (want != NULL && (got == NULL || strcmp(got, want) != 0))
		fail_msg("%s: got %s%s%s, want \"%s\"", name, got ? "\"" : "", got ? got : "absent",
		         got ? "\"" : "", want);
}

/* s JSON-encoded `times` times (json_put_str), NUL-terminated, in a static buffer. */
static const char *enc(const char *s, size_t n, int times)
{
	static char a[16384], b[16384];
	struct buf w;
	const char *src = s;
	for (int k = 0; k < times; k++) {
		char *dst = k % 2 ? b : a;
		buf_init(&w, dst, sizeof a - 1);
		json_put_str(&w, src, n);
		assert_int_equal(buf_finish(&w), 0);
		dst[w.len] = '\0';
		n = w.len;
		src = dst;
	}
	return src;
}

/* A queue envelope whose message value is the JSON text `value`. */
static const char *msg_env(const char *value)
{
	static char out[32768];
	int k = snprintf(out, sizeof out,
	                 "{\"Data\":{\"msg\":%s},\"Metadata\":{\"DequeueCount\":1,\"Id\":\"m-1\"}}",
	                 value);
	assert_true(k > 0 && (size_t)k < sizeof out);
	return out;
}

/* ---- HTTP trigger --------------------------------------------------------------------------- */

/* The reference's doc example, Query as the string "{}". */
static void test_http_doc_example(void **state)
{
	(void)state;
	const char *env = jq("{'Data':{'req':{'Url':'http://localhost:7071/api/order',"
	                     "'Method':'POST','Query':'{}',"
	                     "'Headers':{'Content-Type':['application/json']},'Params':{},"
	                     "'Body':'{\\'id\\':1005,\\'quantity\\':2,\\'color\\':\\'black\\'}'}},"
	                     "'Metadata':{}}");
	assert_int_equal(http(env), 0);
	expect_str(&h.method, "POST");
	expect_str(&h.url, "http://localhost:7071/api/order");
	expect_str(&h.path, "/api/order");
	assert_int_equal(h.body_kind, INVOKE_BODY_STRING);
	expect_str(&h.body, "{\"id\":1005,\"quantity\":2,\"color\":\"black\"}");
	expect_in(&h.body, scratch, scratch_len);
	expect_in(&h.method, scratch, scratch_len);
	expect_get(invoke_header, "Content-Type", "application/json");
	expect_get(invoke_header, "content-type", "application/json");
	expect_get(invoke_query, "code", NULL);
	expect_get(invoke_param, "id", NULL);
	assert_int_equal(h.query.obj, 0); /* parsed from the string into the spare tokens */
}

/* What a current host sends: Query object, header arrays, route params, Identities, sys. */
static const char host_env[] =
    "{\"Data\":{\"req\":{"
    "\"Url\":\"https://notify-app.azurewebsites.net/api/mail/42?code=k3y%3D%3D&dry=1\","
    "\"Method\":\"POST\","
    "\"Query\":{\"code\":\"k3y==\",\"dry\":\"1\",\"tag\":\"a,b\",\"n\":null},"
    "\"Headers\":{\"Accept\":[\"application/json\",\"text/plain\"],"
    "\"Content-Length\":[\"17\"],\"Content-Type\":[\"application/json; charset=utf-8\"],"
    "\"Host\":[\"notify-app.azurewebsites.net\"],\"Idempotency-Key\":[\"order-1005\"],"
    "\"User-Agent\":[\"curl/8.5.0\"],\"x-functions-key\":[\"s3cr3t\"],"
    "\"X-Quoted\":[\"say \\\"hi\\\" \\u00e9\\ud83d\\ude00\"],\"X-Empty\":[],"
    "\"X-Plain\":\"single\",\"X-Number\":[42],\"X-Null\":null,"
    "\"X-ARR-LOG-ID\":[\"5d4c8a4e-0d8b-4b0e-9f5e-2f4a5e2f1f3c\"]},"
    "\"Params\":{\"id\":\"42\",\"Version\":2},"
    "\"Identities\":[{\"AuthenticationType\":\"WebJobsAuthLevel\",\"IsAuthenticated\":true,"
    "\"Actor\":null,\"BootstrapContext\":null,\"Claims\":[{\"Issuer\":\"LOCAL AUTHORITY\","
    "\"OriginalIssuer\":\"LOCAL AUTHORITY\",\"Properties\":{},"
    "\"Type\":\"http://schemas.microsoft.com/2017/07/functions/claims/authlevel\","
    "\"Value\":\"Function\",\"ValueType\":\"http://www.w3.org/2001/XMLSchema#string\"}],"
    "\"Label\":null,\"Name\":null,\"NameClaimType\":\"name\",\"RoleClaimType\":\"role\"}],"
    "\"Body\":\"{\\\"to_email\\\":\\\"a@example.com\\\"}\","
    "\"NewFieldFromAFutureHost\":{\"x\":[1,2,{\"y\":null}]}}},"
    "\"Metadata\":{\"Query\":{\"code\":\"k3y==\"},\"Headers\":{\"Accept\":\"x\"},"
    "\"sys\":{\"MethodName\":\"mail\",\"UtcNow\":\"2025-05-01T10:00:00.1234567Z\","
    "\"RandGuid\":\"24ad4c06-24ad-4e5b-8294-3da9714877e9\"}}}";

static void test_http_host_shape(void **state)
{
	(void)state;
	assert_int_equal(http(host_env), 0);
	expect_str(&h.method, "POST");
	expect_str(&h.path, "/api/mail/42");
	assert_int_equal(h.body_kind, INVOKE_BODY_STRING);
	expect_str(&h.body, "{\"to_email\":\"a@example.com\"}");
	/* headers: case-insensitive, first element of the array */
	expect_get(invoke_header, "accept", "application/json");
	expect_get(invoke_header, "CONTENT-TYPE", "application/json; charset=utf-8");
	expect_get(invoke_header, "X-Functions-Key", "s3cr3t");
	expect_get(invoke_header, "idempotency-key", "order-1005");
	expect_get(invoke_header, "X-Quoted", "say \"hi\" \xc3\xa9\xf0\x9f\x98\x80");
	expect_get(invoke_header, "X-Plain", "single");
	expect_get(invoke_header, "X-Number", "42");
	expect_get(invoke_header, "X-Empty", NULL);
	expect_get(invoke_header, "X-Null", NULL);
	expect_get(invoke_header, "X-Missing", NULL);
	expect_get(invoke_header, "", NULL);
	expect_get(invoke_header, "Content", NULL);
	expect_get(invoke_header, "Content-Type2", NULL);
	/* query and route values */
	expect_get(invoke_query, "code", "k3y==");
	expect_get(invoke_query, "CODE", "k3y==");
	expect_get(invoke_query, "tag", "a,b");
	expect_get(invoke_query, "n", NULL);
	expect_get(invoke_query, "Accept", NULL); /* not a query name: maps do not mix */
	expect_get(invoke_param, "id", "42");
	expect_get(invoke_param, "version", "2");
	expect_get(invoke_param, "code", NULL);
	/* values without escapes point into the envelope, not into out */
	struct notify_str v;
	char out[64];
	assert_int_equal(invoke_header(&h, "Host", out, sizeof out, &v), 1);
	expect_in(&v, host_env, sizeof host_env);
	assert_int_equal(invoke_header(&h, "Host", NULL, 0, &v), 1);
	expect_str(&v, "notify-app.azurewebsites.net");
	/* an escaped value is decoded into out */
	assert_int_equal(invoke_header(&h, "X-Quoted", out, sizeof out, &v), 1);
	expect_in(&v, out, sizeof out);
}

/* invoke_header_count: the values of a header over arrays and spellings (issue 10, item 2: a
 * repeated security header must be visible, not "first one wins"). */
static void test_header_count(void **state)
{
	(void)state;
	assert_int_equal(http("{\"Data\":{\"req\":{\"Url\":\"https://a/b\",\"Method\":\"POST\","
	                      "\"Headers\":{\"Idempotency-Key\":[\"a\",\"b\"],\"X-One\":[\"1\"],"
	                      "\"X-API-Key\":\"k\",\"x-api-key\":[\"k\"],\"X-Null\":null,"
	                      "\"X-Empty\":[],\"X-Some\":[null,\"v\",7,\"w\"]}}}}"),
	                 0);
	assert_int_equal(invoke_header_count(&h, "idempotency-key"), 2);
	assert_int_equal(invoke_header_count(&h, "X-One"), 1);
	assert_int_equal(invoke_header_count(&h, "X-API-KEY"), 2);
	assert_int_equal(invoke_header_count(&h, "X-Null"), 0);
	assert_int_equal(invoke_header_count(&h, "X-Empty"), 0);
	assert_int_equal(invoke_header_count(&h, "X-Some"), 3);
	assert_int_equal(invoke_header_count(&h, "X-Missing"), 0);
	assert_int_equal(http("{\"Data\":{\"req\":{\"Url\":\"https://a/b\",\"Method\":\"GET\"}}}"),
	                 0);
	assert_int_equal(invoke_header_count(&h, "Idempotency-Key"), 0);
}

static void test_http_bodies(void **state)
{
	(void)state;
	static const char *head = "{'Data':{'req':{'Url':'https://a/b','Method':'POST'";
	static const struct {
		const char *tail;
		enum invoke_body kind;
		const char *want;
	} rows[] = {
	    {"}}}", INVOKE_BODY_NONE, ""},
	    {",'Body':null}}}", INVOKE_BODY_NONE, ""},
	    {",'Body':''}}}", INVOKE_BODY_STRING, ""},
	    {",'Body':'plain text\\nline 2'}}}", INVOKE_BODY_STRING, "plain text\nline 2"},
	    {",'Body':'AAEC/w=='}}}", INVOKE_BODY_STRING, "AAEC/w=="}, /* Base64 of bytes */
	    {",'Body':{'to_email':'a@example.com','n':[1,2]}}}}", INVOKE_BODY_JSON,
	     "{\"to_email\":\"a@example.com\",\"n\":[1,2]}"},
	    {",'Body':{ }}}}", INVOKE_BODY_JSON, "{ }"},
	    {",'Body':['x',{}]}}}", INVOKE_BODY_JSON, "[\"x\",{}]"},
	    {",'Body':-12.5e3}}}", INVOKE_BODY_JSON, "-12.5e3"},
	    {",'Body':true}}}", INVOKE_BODY_JSON, "true"},
	    {",'Body':'\\u30c6\\u30b9\\u30c8'}}}", INVOKE_BODY_STRING, "テスト"},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char env[512];
		snprintf(env, sizeof env, "%s%s", head, rows[i].tail);
		const char *js = jq(env);
		assert_int_equal(http(js), 0);
		assert_int_equal(h.body_kind, rows[i].kind);
		expect_str(&h.body, rows[i].want);
		if (rows[i].kind == INVOKE_BODY_JSON)
			expect_in(&h.body, js, strlen(js));
		if (rows[i].kind == INVOKE_BODY_STRING)
			expect_in(&h.body, scratch, scratch_len);
		/* no Query, Headers or Params: every lookup is absent */
		expect_get(invoke_header, "Content-Type", NULL);
		expect_get(invoke_query, "a", NULL);
		expect_get(invoke_param, "id", NULL);
	}
}

static void test_http_query_forms(void **state)
{
	(void)state;
	static const char *head = "{'Data':{'req':{'Url':'https://a/b?x','Method':'GET','Query':";
	char env[512];
	/* the older hosts' string form, with values that needed escaping */
	snprintf(env, sizeof env, "%s%s", head,
	         "'{\\'code\\':\\'abc\\',\\'q\\':\\'say \\\\\\'hi\\\\\\'\\',\\'n\\':7}'}}}");
	assert_int_equal(http(jq(env)), 0);
	expect_get(invoke_query, "code", "abc");
	expect_get(invoke_query, "Q", "say \"hi\"");
	expect_get(invoke_query, "n", "7");
	expect_get(invoke_query, "x", NULL);
	/* whitespace around the string form */
	snprintf(env, sizeof env, "%s%s", head, "' {\\'a\\':\\'1\\'} '}}}");
	assert_int_equal(http(jq(env)), 0);
	expect_get(invoke_query, "a", "1");
	/* the empty forms */
	static const char *empty[] = {"'{}'}}}", "''}}}", "' '}}}", "null}}}", "{}}}}"};
	for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
		snprintf(env, sizeof env, "%s%s", head, empty[i]);
		assert_int_equal(http(jq(env)), 0);
		expect_get(invoke_query, "x", NULL);
	}
	/* the object form with a duplicate: first wins */
	snprintf(env, sizeof env, "%s%s", head, "{'a':'first','A':'second'}}}}");
	assert_int_equal(http(jq(env)), 0);
	expect_get(invoke_query, "a", "first");
}

static void test_url_path(void **state)
{
	(void)state;
	static const struct {
		const char *url, *path;
	} rows[] = {
	    {"https://app.azurewebsites.net/api/mail?code=x", "/api/mail"},
	    {"http://localhost:7071/api/order", "/api/order"},
	    {"https://user@host:443/p/q/?a=/b#f", "/p/q/"},
	    {"https://host/a%20b;c?d", "/a%20b;c"},
	    {"https://host/a#frag?x", "/a"},
	    {"https://host/", "/"},
	    {"https://host", ""},
	    {"https://host?x=/y", ""},
	    {"https://host#/y", ""},
	    {"/api/mail?x", "/api/mail"},
	    {"/", "/"},
	    {"api/mail", ""},
	    {"", ""},
	    {"https:", ""},
	    {"://", ""},
	    {":///x", "/x"},
	    {"a/b://c/d", ""},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char env[512];
		snprintf(env, sizeof env,
		         "{\"Data\":{\"req\":{\"Method\":\"GET\",\"Url\":\"%s\"}}}", rows[i].url);
		assert_int_equal(http(env), 0);
		expect_str(&h.path, rows[i].path);
		expect_in(&h.path, h.url.p, h.url.len);
	}
}

static void test_http_errors(void **state)
{
	(void)state;
	static const char *ok = "'Url':'https://a/b','Method':'GET'";
	static const struct {
		const char *env;
		int err;
		const char *field;
	} rows[] = {
	    {"", -ERR_JSON_SYNTAX, ""},
	    {"{", -ERR_JSON_SYNTAX, ""},
	    {"{'Data':{}}x", -ERR_JSON_SYNTAX, ""},
	    {"{'Data':{'req':{%s}},}", -ERR_JSON_SYNTAX, ""},
	    {"['Data']", -ERR_FIELD_TYPE, ""},
	    {"'Data'", -ERR_FIELD_TYPE, ""},
	    {"null", -ERR_FIELD_TYPE, ""},
	    {"{}", -ERR_FIELD_MISSING, "Data"},
	    {"{'Metadata':{}}", -ERR_FIELD_MISSING, "Data"},
	    {"{'Data':null}", -ERR_FIELD_TYPE, "Data"},
	    {"{'Data':'{}'}", -ERR_FIELD_TYPE, "Data"},
	    {"{'Data':[{'req':{}}]}", -ERR_FIELD_TYPE, "Data"},
	    {"{'Data':{}}", -ERR_FIELD_MISSING, "Data.req"},
	    {"{'Data':{'msg':{%s}}}", -ERR_FIELD_MISSING, "Data.req"},
	    {"{'Data':{'req':'GET /'}}", -ERR_FIELD_TYPE, "Data.req"},
	    {"{'Data':{'req':null}}", -ERR_FIELD_TYPE, "Data.req"},
	    {"{'Data':{'req':{}}}", -ERR_FIELD_MISSING, "Data.req.Method"},
	    {"{'Data':{'req':{'Url':'https://a/'}}}", -ERR_FIELD_MISSING, "Data.req.Method"},
	    {"{'Data':{'req':{'Method':'GET'}}}", -ERR_FIELD_MISSING, "Data.req.Url"},
	    {"{'Data':{'req':{'Method':1,'Url':'x'}}}", -ERR_FIELD_TYPE, "Data.req.Method"},
	    {"{'Data':{'req':{'Method':'GET','Url':null}}}", -ERR_FIELD_TYPE, "Data.req.Url"},
	    {"{'Data':{'req':{'Method':'GET','Url':['x']}}}", -ERR_FIELD_TYPE, "Data.req.Url"},
	    {"{'Data':{'req':{'Method':'GET','Url':'\\ud800'}}}", -ERR_BAD_UTF8, "Data.req.Url"},
	    {"{'Data':{'req':{'Method':'\\u0000','Url':'x'}}}", -ERR_BAD_UTF8, "Data.req.Method"},
	    {"{'Data':{'req':{%s,'Headers':[]}}}", -ERR_FIELD_TYPE, "Data.req.Headers"},
	    {"{'Data':{'req':{%s,'Headers':'a: b'}}}", -ERR_FIELD_TYPE, "Data.req.Headers"},
	    {"{'Data':{'req':{%s,'Headers':{'A':['x'],'B':{'c':'d'}}}}}", -ERR_FIELD_TYPE,
	     "Data.req.Headers.B"},
	    {"{'Data':{'req':{%s,'Headers':{'A':[['x']]}}}}", -ERR_FIELD_TYPE,
	     "Data.req.Headers.A"},
	    {"{'Data':{'req':{%s,'Headers':{'A':['x',{}]}}}}", -ERR_FIELD_TYPE,
	     "Data.req.Headers.A"},
	    {"{'Data':{'req':{%s,'Params':['1']}}}", -ERR_FIELD_TYPE, "Data.req.Params"},
	    {"{'Data':{'req':{%s,'Params':{'id':['1']}}}}", -ERR_FIELD_TYPE, "Data.req.Params.id"},
	    {"{'Data':{'req':{%s,'Params':{'id':{}}}}}", -ERR_FIELD_TYPE, "Data.req.Params.id"},
	    {"{'Data':{'req':{%s,'Query':5}}}", -ERR_FIELD_TYPE, "Data.req.Query"},
	    {"{'Data':{'req':{%s,'Query':[]}}}", -ERR_FIELD_TYPE, "Data.req.Query"},
	    {"{'Data':{'req':{%s,'Query':{'a':['1']}}}}", -ERR_FIELD_TYPE, "Data.req.Query.a"},
	    {"{'Data':{'req':{%s,'Query':'[]'}}}", -ERR_FIELD_INVALID, "Data.req.Query"},
	    {"{'Data':{'req':{%s,'Query':'a=1&b=2'}}}", -ERR_FIELD_INVALID, "Data.req.Query"},
	    {"{'Data':{'req':{%s,'Query':'{a:1}'}}}", -ERR_FIELD_INVALID, "Data.req.Query"},
	    {"{'Data':{'req':{%s,'Query':'{}{}'}}}", -ERR_FIELD_INVALID, "Data.req.Query"},
	    {"{'Data':{'req':{%s,'Query':'\\'{}\\''}}}", -ERR_FIELD_INVALID, "Data.req.Query"},
	    {"{'Data':{'req':{%s,'Query':'{\\'a\\':{}}'}}}", -ERR_FIELD_TYPE, "Data.req.Query.a"},
	    {"{'Data':{'req':{%s,'Query':'\\udfff'}}}", -ERR_BAD_UTF8, "Data.req.Query"},
	    {"{'Data':{'req':{%s,'Body':'\\udc00\\ud800'}}}", -ERR_BAD_UTF8, "Data.req.Body"},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char env[512];
		subst(env, sizeof env, rows[i].env, ok);
		int r = http(jq(env));
		if (r != rows[i].err || strcmp(ierr.field, rows[i].field) != 0)
			fail_msg("%s: got %d \"%s\" (%s), want %d \"%s\"", env, r, ierr.field,
			         ierr.detail, rows[i].err, rows[i].field);
	}
	/* raw bytes that are not UTF-8; NUL bytes */
	expect_err(http("{\"Data\":{\"req\":\"\xff\"}}"), -ERR_BAD_UTF8, "");
	expect_err(http_cap("{\"Data\":{}}\0", 12, 12, INVOKE_MAX_TOKENS), -ERR_JSON_SYNTAX, "");
	/* a binding name that needs sanitizing in the field path */
	new_scratch(8);
	int r = invoke_http_parse("{\"Data\":{}}", 11, "r\xc3\xa9q\n", tok, INVOKE_MAX_TOKENS,
	                          scratch, 8, &h, &ierr);
	check_report(r);
	expect_err(r, -ERR_FIELD_MISSING, "Data.r?q?");
	/* details are fixed text, never the request's */
	assert_int_equal(http(jq("{'Data':{'req':{'Method':'GET','Url':'x',"
	                         "'Headers':{'Secret-Header':{'v':'s3cr3t'}}}}}")),
	                 -ERR_FIELD_TYPE);
	assert_string_equal(ierr.field, "Data.req.Headers.Secret-Header");
	assert_null(strstr(ierr.detail, "s3cr3t"));
	/* the result is reset on failure: no stale strings */
	assert_int_equal(h.method.len, 0);
	assert_int_equal(h.headers.obj, -1);
}

static void test_http_error_field_truncation(void **state)
{
	(void)state;
	char env[1024], key[301];
	memset(key, 'K', 300);
	key[300] = '\0';
	snprintf(env, sizeof env,
	         "{\"Data\":{\"req\":{\"Method\":\"GET\",\"Url\":\"x\",\"Headers\":{\"%s\":{}}}}}",
	         key);
	assert_int_equal(http(env), -ERR_FIELD_TYPE);
	assert_int_equal(strlen(ierr.field), NOTIFY_FIELD_MAX - 1);
	assert_memory_equal(ierr.field, "Data.req.Headers.KKK", 20);
}

static void test_http_limits(void **state)
{
	(void)state;
	static char env[64 * 1024];
	struct buf b;
	/* a big realistic envelope: 60 headers and 2 identities of 40 claims each */
	buf_init(&b, env, sizeof env - 1);
	buf_puts(&b, "{\"Data\":{\"req\":{\"Url\":\"https://a/api/mail\",\"Method\":\"POST\","
	             "\"Query\":{\"code\":\"x\"},\"Headers\":{");
	for (int i = 0; i < 60; i++) {
		buf_puts(&b, i ? ",\"X-Header-" : "\"X-Header-");
		buf_put_u64(&b, (uint64_t)i);
		buf_puts(&b, "\":[\"value\"]");
	}
	buf_puts(&b, "},\"Identities\":[");
	for (int id = 0; id < 2; id++) {
		buf_puts(&b, id ? ",{\"AuthenticationType\":\"aad\",\"Claims\":["
		                : "{\"AuthenticationType\":\"aad\",\"Claims\":[");
		for (int i = 0; i < 40; i++)
			buf_puts(
			    &b, i ? ",{\"Issuer\":\"i\",\"OriginalIssuer\":\"i\",\"Properties\":{},"
			            "\"Type\":\"t\",\"Value\":\"v\",\"ValueType\":\"s\"}"
			          : "{\"Issuer\":\"i\",\"OriginalIssuer\":\"i\",\"Properties\":{},"
			            "\"Type\":\"t\",\"Value\":\"v\",\"ValueType\":\"s\"}");
		buf_puts(&b, "],\"Name\":null}");
	}
	buf_puts(&b, "],\"Body\":\"{}\"}}}");
	assert_int_equal(buf_finish(&b), 0);
	env[b.len] = '\0';
	struct json_tok probe[INVOKE_MAX_TOKENS];
	int n = json_parse(env, b.len, probe, INVOKE_MAX_TOKENS);
	assert_true(n > 1200 && n < INVOKE_MAX_TOKENS); /* the constant's claim */
	assert_int_equal(http(env), 0);
	expect_get(invoke_header, "x-header-59", "value");
	expect_get(invoke_query, "code", "x");
	/* one token short */
	expect_err(http_cap(env, b.len, b.len, (unsigned)n - 1), -ERR_JSON_TOO_COMPLEX, "");
	assert_int_equal(http_cap(env, b.len, b.len, (unsigned)n), 0);
	/* a string Query is parsed into the tokens left over */
	const char *sq =
	    jq("{'Data':{'req':{'Url':'u','Method':'GET','Query':'{\\'a\\':\\'1\\'}'}}}");
	n = json_parse(sq, strlen(sq), probe, INVOKE_MAX_TOKENS);
	assert_int_equal(n, 11); /* and 3 for {"a":"1"} */
	expect_err(http_cap(sq, strlen(sq), strlen(sq), 11), -ERR_JSON_TOO_COMPLEX,
	           "Data.req.Query");
	expect_err(http_cap(sq, strlen(sq), strlen(sq), 13), -ERR_JSON_TOO_COMPLEX,
	           "Data.req.Query");
	assert_int_equal(http_cap(sq, strlen(sq), strlen(sq), 14), 0);
	expect_get(invoke_query, "A", "1");
	/* too deep */
	char deep[256] = "{\"Data\":{\"req\":{\"Url\":\"u\",\"Method\":\"m\",\"x\":";
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		strcat(deep, "[");
	for (int i = 0; i < JSON_MAX_DEPTH; i++)
		strcat(deep, "]");
	strcat(deep, "}}}");
	expect_err(http(deep), -ERR_JSON_TOO_COMPLEX, "");
}

/* Every kept string comes out of a scratch of the body's length; one byte less is reported. */
static void test_http_scratch(void **state)
{
	(void)state;
	const char *env = jq("{'Data':{'req':{'Url':'https://a/b','Method':'POST',"
	                     "'Query':'{\\'a\\':\\'1\\'}','Body':'xyz'}}}");
	size_t need = strlen("https://a/b") + 4 + strlen("{\"a\":\"1\"}") + 3;
	assert_int_equal(http_cap(env, strlen(env), need, INVOKE_MAX_TOKENS), 0);
	expect_str(&h.body, "xyz");
	expect_get(invoke_query, "a", "1");
	for (size_t cap = 0; cap < need; cap++)
		assert_int_equal(http_cap(env, strlen(env), cap, INVOKE_MAX_TOKENS), -ERR_OVERFLOW);
	assert_string_equal(ierr.field, "Data.req.Body");
}

static void test_lookup_errors(void **state)
{
	(void)state;
	const char *env = jq("{'Data':{'req':{'Url':'u','Method':'GET','Headers':{"
	                     "'X-Bad':['\\ud800'],'X-Nul':'a\\u0000b','X-Esc':['a\\\\tb'],"
	                     "'X-\\u0041bc':['escaped name'],'X-Long':['0123456789']}}}}");
	struct notify_str v = {NULL, 0};
	char out[8];
	assert_int_equal(http(env), 0);
	assert_int_equal(invoke_header(&h, "X-Bad", out, sizeof out, &v), -ERR_BAD_UTF8);
	assert_int_equal(invoke_header(&h, "X-Nul", out, sizeof out, &v), -ERR_BAD_UTF8);
	/* an escaped value needs room in out; a plain one does not */
	assert_int_equal(invoke_header(&h, "X-Esc", out, 4, &v), 1);
	expect_str(&v, "a\\tb"); /* "a\\\\tb" in JSON: a, backslash, t, b */
	assert_int_equal(invoke_header(&h, "X-Esc", out, 3, &v), -ERR_OVERFLOW);
	assert_int_equal(invoke_header(&h, "X-Esc", NULL, 0, &v), -ERR_OVERFLOW);
	assert_int_equal(invoke_header(&h, "X-Long", NULL, 0, &v), 1);
	expect_str(&v, "0123456789");
	/* a name written with escapes matches its decoded form */
	expect_get(invoke_header, "x-abc", "escaped name");
	expect_get(invoke_header, "X-\\u0041bc", NULL);
	/* a long escaped name beyond INVOKE_MAX_KEY never matches; a long plain one does */
	static char big[4 * INVOKE_MAX_KEY + 256], name[INVOKE_MAX_KEY + 2];
	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	snprintf(big, sizeof big,
	         "{\"Data\":{\"req\":{\"Url\":\"u\",\"Method\":\"m\",\"Headers\":{"
	         "\"\\u006e%s\":\"esc\",\"%s\":\"plain\"}}}}",
	         name + 1, name);
	assert_int_equal(http(big), 0);
	expect_get(invoke_header, name, "plain");
	name[INVOKE_MAX_KEY] = '\0'; /* exactly INVOKE_MAX_KEY: the escaped one fits */
	snprintf(big, sizeof big,
	         "{\"Data\":{\"req\":{\"Url\":\"u\",\"Method\":\"m\",\"Headers\":{"
	         "\"\\u006e%s\":\"esc\"}}}}",
	         name + 1);
	assert_int_equal(http(big), 0);
	expect_get(invoke_header, name, "esc");
	/* a struct from a failed parse, or zeroed by hand, answers absent */
	assert_int_equal(http("[]"), -ERR_FIELD_TYPE);
	expect_get(invoke_header, "a", NULL);
	expect_get(invoke_query, "a", NULL);
	expect_get(invoke_param, "a", NULL);
}

static void test_duplicates_and_case(void **state)
{
	(void)state;
	const char *env =
	    jq("{'data':{'REQ':{'method':'GET','url':'https://a/first','METHOD':'POST',"
	       "'Headers':{'X-A':['1'],'x-a':['2']},'Body':'one','Body':'two'},"
	       "'req':{'Method':'PUT','Url':'https://a/second'}},"
	       "'Data':{'req':{'Method':'DELETE','Url':'https://a/third'}}}");
	assert_int_equal(http(env), 0);
	expect_str(&h.method, "GET");
	expect_str(&h.path, "/first");
	expect_get(invoke_header, "X-A", "1");
	expect_str(&h.body, "one");
}

/* ---- queue trigger -------------------------------------------------------------------------- */

static void test_queue_doc_example(void **state)
{
	(void)state;
	const char *env =
	    jq("{'Data':{'myQueueItem':'{ message: \\'Message sent\\' }'},"
	       "'Metadata':{'DequeueCount':1,'ExpirationTime':'2019-10-16T17:58:31+00:00',"
	       "'Id':'800ae4b3-bdd2-4c08-badd-f08e5a34b865',"
	       "'InsertionTime':'2019-10-09T17:58:31+00:00',"
	       "'NextVisibleTime':'2019-10-09T18:08:32+00:00',"
	       "'PopReceipt':'AgAAAAMAAAAAAAAAAgtnj8x+1QE=',"
	       "'sys':{'MethodName':'QueueTrigger','UtcNow':'2019-10-09T17:58:32.2205399Z',"
	       "'RandGuid':'24ad4c06-24ad-4e5b-8294-3da9714877e9'}}}");
	new_scratch(2 * strlen(env));
	memset(&ierr, 0x55, sizeof ierr);
	int r = invoke_queue_parse(env, strlen(env), "myQueueItem", tok, INVOKE_MAX_TOKENS, scratch,
	                           scratch_len, &q, &ierr);
	check_report(r);
	assert_int_equal(r, 0);
	/* not JSON (unquoted key): handed back after the one layer */
	expect_str(&q.text, "{ message: \"Message sent\" }");
	assert_int_equal(q.layers, 1);
	assert_int_equal(q.dequeue_count, 1);
	expect_str(&q.id, "800ae4b3-bdd2-4c08-badd-f08e5a34b865");
	expect_in(&q.id, scratch, scratch_len);
	expect_in(&q.text, scratch, scratch_len);
}

static void test_queue_layers(void **state)
{
	(void)state;
	static const char msg[] =
	    "{\"to_email\":\"a@example.com\",\"subject\":\"\xe3\x83\x86 \\\"q\\\" "
	    "\\\\ \\n\\u00e9\\ud83d\\ude00\",\"message\":\"x\"}";
	size_t n = strlen(msg);
	/* the object itself (some producers), the host's usual 2 layers, a producer that encodes
	 * twice (3), and one layer too many (handed back at layer 3, still a JSON string) */
	assert_int_equal(queue(msg_env(msg)), 0);
	assert_int_equal(q.layers, 0);
	expect_str(&q.text, msg);
	for (int times = 1; times <= 3; times++) {
		assert_int_equal(queue(msg_env(enc(msg, n, times))), 0);
		assert_int_equal(q.layers, (unsigned)times);
		expect_str(&q.text, msg);
		expect_in(&q.text, scratch, scratch_len);
		assert_int_equal(q.dequeue_count, 1);
		expect_str(&q.id, "m-1");
	}
	assert_int_equal(queue(msg_env(enc(msg, n, 4))), 0);
	assert_int_equal(q.layers, INVOKE_MAX_UNWRAP);
	expect_str(&q.text, enc(msg, n, 1));
	/* an array message, white space around layers */
	assert_int_equal(queue(msg_env(enc(" [1,2] ", 7, 2))), 0);
	assert_int_equal(q.layers, 2);
	expect_str(&q.text, " [1,2] ");
	assert_int_equal(queue(msg_env(enc(" \t\"[1]\"\n", 8, 1))), 0);
	assert_int_equal(q.layers, 2);
	expect_str(&q.text, "[1]");
}

/* String messages that are not JSON come back as they are, after the layers that were JSON. */
static void test_queue_not_json(void **state)
{
	(void)state;
	static const struct {
		const char *value; /* Data.msg */
		const char *text;
		unsigned layers;
	} rows[] = {
	    {"\"hello world\"", "hello world", 1},
	    {"\"\\\"hello\\\"\"", "hello", 2},
	    {"\"\"", "", 1},
	    {"\"\\\"\\\"\"", "", 2},
	    {"\"  \"", "  ", 1},
	    {"\"\\\"abc\"", "\"abc", 1},                   /* an unterminated string */
	    {"\"\\\"a\\\" \\\"b\\\"\"", "\"a\" \"b\"", 1}, /* two strings */
	    {"\"\\\"a\\\"x\"", "\"a\"x", 1},
	    {"\"{not json\"", "{not json", 1},
	    {"\"[\"", "[", 1},
	    {"\"42\"", "42", 1},
	    {"\"dGVzdA==\"", "dGVzdA==", 1},
	    {"42", "42", 0},
	    {"true", "true", 0},
	    {"null", "null", 0},
	    {"[\"a\",{}]", "[\"a\",{}]", 0},
	    {"{ }", "{ }", 0},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const char *env = msg_env(rows[i].value);
		assert_int_equal(queue(env), 0);
		expect_str(&q.text, rows[i].text);
		if (q.layers != rows[i].layers)
			fail_msg("%s: layers %u, want %u", rows[i].value, q.layers, rows[i].layers);
		if (rows[i].layers == 0)
			expect_in(&q.text, env, strlen(env));
	}
}

static void test_queue_metadata(void **state)
{
	(void)state;
	static const struct {
		const char *meta; /* the Metadata value */
		int err;
		const char *field;
		uint32_t count;
		const char *id;
	} rows[] = {
	    {"{'DequeueCount':1,'Id':'a'}", 0, "", 1, "a"},
	    {"{'DequeueCount':'5','Id':'\\u0041-1'}", 0, "", 5, "A-1"},
	    {"{'dequeuecount':'0005','ID':'x'}", 0, "", 5, "x"},
	    {"{'DequeueCount':0}", 0, "", 0, ""},
	    {"{'DequeueCount':4294967295}", 0, "", 4294967295u, ""},
	    {"{'DequeueCount':'4294967295'}", 0, "", 4294967295u, ""},
	    {"{'DequeueCount':null,'Id':null}", 0, "", 0, ""},
	    {"{}", 0, "", 0, ""},
	    {"null", 0, "", 0, ""},
	    {"{'DequeueCount':2,'DequeueCount':'x'}", 0, "", 2, ""},
	    {"{'DequeueCount':4294967296}", -ERR_FIELD_INVALID, "Metadata.DequeueCount", 0, ""},
	    {"{'DequeueCount':99999999999999999999999}", -ERR_FIELD_INVALID,
	     "Metadata.DequeueCount", 0, ""},
	    {"{'DequeueCount':-1}", -ERR_FIELD_INVALID, "Metadata.DequeueCount", 0, ""},
	    {"{'DequeueCount':-0}", -ERR_FIELD_INVALID, "Metadata.DequeueCount", 0, ""},
	    {"{'DequeueCount':1.0}", -ERR_FIELD_INVALID, "Metadata.DequeueCount", 0, ""},
	    {"{'DequeueCount':1e3}", -ERR_FIELD_INVALID, "Metadata.DequeueCount", 0, ""},
	    {"{'DequeueCount':''}", -ERR_FIELD_INVALID, "Metadata.DequeueCount", 0, ""},
	    {"{'DequeueCount':' 1'}", -ERR_FIELD_INVALID, "Metadata.DequeueCount", 0, ""},
	    {"{'DequeueCount':'1a'}", -ERR_FIELD_INVALID, "Metadata.DequeueCount", 0, ""},
	    {"{'DequeueCount':'+1'}", -ERR_FIELD_INVALID, "Metadata.DequeueCount", 0, ""},
	    {"{'DequeueCount':'4294967296'}", -ERR_FIELD_INVALID, "Metadata.DequeueCount", 0, ""},
	    {"{'DequeueCount':'000000000000000000000000000000001'}", -ERR_FIELD_INVALID,
	     "Metadata.DequeueCount", 0, ""},
	    {"{'DequeueCount':'\\ud800'}", -ERR_BAD_UTF8, "Metadata.DequeueCount", 0, ""},
	    {"{'DequeueCount':true}", -ERR_FIELD_TYPE, "Metadata.DequeueCount", 0, ""},
	    {"{'DequeueCount':false}", -ERR_FIELD_TYPE, "Metadata.DequeueCount", 0, ""},
	    {"{'DequeueCount':[1]}", -ERR_FIELD_TYPE, "Metadata.DequeueCount", 0, ""},
	    {"{'DequeueCount':{}}", -ERR_FIELD_TYPE, "Metadata.DequeueCount", 0, ""},
	    {"{'Id':5}", -ERR_FIELD_TYPE, "Metadata.Id", 0, ""},
	    {"{'Id':['a']}", -ERR_FIELD_TYPE, "Metadata.Id", 0, ""},
	    {"{'Id':'\\udc00'}", -ERR_BAD_UTF8, "Metadata.Id", 0, ""},
	    {"[]", -ERR_FIELD_TYPE, "Metadata", 0, ""},
	    {"'{}'", -ERR_FIELD_TYPE, "Metadata", 0, ""},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char env[256];
		snprintf(env, sizeof env, "{'Data':{'msg':'{}'},'Metadata':%s}", rows[i].meta);
		int r = queue(jq(env));
		if (r != rows[i].err || strcmp(ierr.field, rows[i].field) != 0)
			fail_msg("%s: got %d \"%s\" (%s), want %d \"%s\"", env, r, ierr.field,
			         ierr.detail, rows[i].err, rows[i].field);
		if (r == 0) {
			assert_int_equal(q.dequeue_count, rows[i].count);
			expect_str(&q.id, rows[i].id);
			expect_str(&q.text, "{}");
		}
	}
	/* no Metadata at all */
	assert_int_equal(queue("{\"Data\":{\"msg\":\"{}\"}}"), 0);
	assert_int_equal(q.dequeue_count, 0);
	assert_int_equal(q.id.len, 0);
}

static void test_queue_errors(void **state)
{
	(void)state;
	static const struct {
		const char *env;
		int err;
		const char *field;
	} rows[] = {
	    {"", -ERR_JSON_SYNTAX, ""},
	    {"{'Data':{'msg':'x'}", -ERR_JSON_SYNTAX, ""},
	    {"'{}'", -ERR_FIELD_TYPE, ""},
	    {"{'Metadata':{}}", -ERR_FIELD_MISSING, "Data"},
	    {"{'Data':'x'}", -ERR_FIELD_TYPE, "Data"},
	    {"{'Data':{'req':'x'}}", -ERR_FIELD_MISSING, "Data.msg"},
	    {"{'Data':{'msg':'\\ud800'}}", -ERR_BAD_UTF8, "Data.msg"},
	    /* the second layer holds a lone surrogate escape */
	    {"{'Data':{'msg':'\\'\\\\ud800\\''}}", -ERR_BAD_UTF8, "Data.msg"},
	    {"{'Data':{'msg':'\\'\\\\u0000\\''}}", -ERR_BAD_UTF8, "Data.msg"},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		int r = queue(jq(rows[i].env));
		if (r != rows[i].err || strcmp(ierr.field, rows[i].field) != 0)
			fail_msg("%s: got %d \"%s\" (%s), want %d \"%s\"", rows[i].env, r,
			         ierr.field, ierr.detail, rows[i].err, rows[i].field);
	}
	/* the result is reset on failure */
	assert_int_equal(q.layers, 0);
	assert_int_equal(q.text.len, 0);
}

/* The unwrap needs layer 1 plus layer 2 at once; less scratch is an overflow, never a
 * write past it (the scratch is exactly cap bytes under ASan). */
static void test_queue_scratch(void **state)
{
	(void)state;
	const char *msg = "{\"a\":\"b\"}";
	size_t n1 = strlen(enc(msg, strlen(msg), 2)); /* layer 1: the text encoded twice */
	size_t n2 = strlen(enc(msg, strlen(msg), 1)); /* layer 2: encoded once */
	char env[256];
	snprintf(env, sizeof env, "{\"Data\":{\"msg\":%s},\"Metadata\":{\"Id\":\"idv\"}}",
	         enc(msg, strlen(msg), 3));
	/* Id, then layers 1 and 2 side by side; layer 3 goes back into layer 1's area */
	size_t cap;
	for (cap = 0; queue_cap(env, cap) != 0; cap++)
		assert_int_equal(ierr.err, -ERR_OVERFLOW);
	assert_int_equal(cap, 3 + n1 + n2);
	assert_true(cap <= 2 * strlen(env));
	assert_int_equal(q.layers, 3);
	expect_str(&q.text, msg);
	expect_str(&q.id, "idv");
}

/* ---- the answer ----------------------------------------------------------------------------- */

static char outmem[8192];

static void test_out_layout(void **state)
{
	(void)state;
	static const struct invoke_hdr hdrs[] = {
	    {"Content-Type", "application/json"},
	    {"Location", "/api/mail/42"},
	    {"Retry-After", "30"},
	};
	struct buf b;
	struct invoke_out o;
	buf_init(&b, outmem, sizeof outmem);
	invoke_out_begin(&o, &b);
	invoke_out_http(&o, "res", 202, hdrs, 3, "{\"queued\":true}", 15);
	invoke_out_string(&o, "outMsg", "{\"to\":\"a@example.com\"}", 22);
	invoke_out_log(&o, "validated request", 17);
	invoke_out_log(&o, "enqueued 1 message", 18);
	assert_int_equal(invoke_out_end(&o), 0);
	static const char want[] =
	    "{\"Outputs\":{\"res\":{\"statusCode\":202,\"headers\":{\"Content-Type\":"
	    "\"application/json\",\"Location\":\"/api/mail/42\",\"Retry-After\":\"30\"},"
	    "\"body\":\"{\\\"queued\\\":true}\"},\"outMsg\":\"{\\\"to\\\":\\\"a@example.com\\\"}\"}"
	    ","
	    "\"Logs\":[\"validated request\",\"enqueued 1 message\"],\"ReturnValue\":null}";
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(outmem, want, b.len);

	/* nothing but the frame; outputs only; logs only; an empty body; no headers */
	buf_init(&b, outmem, sizeof outmem);
	invoke_out_begin(&o, &b);
	assert_int_equal(invoke_out_end(&o), 0);
	assert_int_equal(b.len, strlen("{\"Outputs\":{},\"Logs\":[],\"ReturnValue\":null}"));
	assert_memory_equal(outmem, "{\"Outputs\":{},\"Logs\":[],\"ReturnValue\":null}", b.len);
	buf_init(&b, outmem, sizeof outmem);
	invoke_out_begin(&o, &b);
	invoke_out_http(&o, "res", 204, NULL, 0, NULL, 0);
	assert_int_equal(invoke_out_end(&o), 0);
	static const char want2[] = "{\"Outputs\":{\"res\":{\"statusCode\":204,\"headers\":{},"
	                            "\"body\":\"\"}},\"Logs\":[],\"ReturnValue\":null}";
	assert_int_equal(b.len, strlen(want2));
	assert_memory_equal(outmem, want2, b.len);
	buf_init(&b, outmem, sizeof outmem);
	invoke_out_begin(&o, &b);
	invoke_out_log(&o, "", 0);
	assert_int_equal(invoke_out_end(&o), 0);
	assert_memory_equal(outmem, "{\"Outputs\":{},\"Logs\":[\"\"],\"ReturnValue\":null}", b.len);
}

/* Reads the answer back: Outputs.res.body, Outputs.<qname> and Logs[0], decoded. */
struct answer {
	char body[4096], qtext[4096], log0[4096];
	long body_len, qtext_len, log0_len;
	char status[8];
	char ctype[64];
};

static long decode_into(const char *js, const struct json_tok *t, char *out, size_t cap)
{
	assert_int_equal(t->type, JSON_STRING);
	long k = json_str_decode(js, t, out, cap);
	assert_true(k >= 0);
	return k;
}

/* Index of the value of member key of the object at t[obj], or -1. */
static int obj_find_opt(const char *js, const struct json_tok *t, int n, int obj, const char *key)
{
	assert_int_equal(t[obj].type, JSON_OBJECT);
	for (int i = obj + 1, k = 0; k < t[obj].size; k++, i = json_next(t, n, i))
		if (json_raw_eq(js, &t[i], key))
			return i + 1;
	return -1;
}

static int obj_find(const char *js, const struct json_tok *t, int n, int obj, const char *key)
{
	int v = obj_find_opt(js, t, n, obj, key);
	if (v < 0)
		fail_msg("no member %s", key);
	return v;
}

static void read_answer(const char *js, size_t len, const char *qname, struct answer *a)
{
	static struct json_tok t[256];
	int n = json_parse(js, len, t, 256);
	if (n < 1)
		fail_msg("answer is not JSON (%d): %.*s", n, (int)len, js);
	int outputs = obj_find(js, t, n, 0, "Outputs");
	int res = obj_find(js, t, n, outputs, "res");
	int st = obj_find(js, t, n, res, "statusCode");
	assert_int_equal(t[st].type, JSON_PRIMITIVE);
	snprintf(a->status, sizeof a->status, "%.*s", t[st].end - t[st].start, js + t[st].start);
	int hd = obj_find(js, t, n, res, "headers");
	int ct = obj_find_opt(js, t, n, hd, "Content-Type");
	a->ctype[ct < 0 ? 0 : decode_into(js, &t[ct], a->ctype, sizeof a->ctype - 1)] = '\0';
	a->body_len = decode_into(js, &t[obj_find(js, t, n, res, "body")], a->body, sizeof a->body);
	a->qtext_len =
	    decode_into(js, &t[obj_find(js, t, n, outputs, qname)], a->qtext, sizeof a->qtext);
	int logs = obj_find(js, t, n, 0, "Logs");
	assert_int_equal(t[logs].type, JSON_ARRAY);
	assert_true(t[logs].size >= 1);
	a->log0_len = decode_into(js, &t[logs + 1], a->log0, sizeof a->log0);
	int rv = obj_find(js, t, n, 0, "ReturnValue");
	assert_true(json_raw_eq(js, &t[rv], "null"));
}

/* Control characters, quotes, backslashes and UTF-8 come back byte for byte. */
static void test_out_round_trip(void **state)
{
	(void)state;
	static char text[512];
	static struct answer a;
	size_t n = 0;
	text[n++] = '{'; /* JSON-looking: never Base64 */
	for (int c = 1; c < 0x80; c++)
		text[n++] = (char)c;
	static const char utf8[] = "テスト \xc3\xa9\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\xee\x80\x80 "
	                           "\"q\" \\ / \xe2\x80\xa8\xe2\x80\xa9</script>";
	memcpy(text + n, utf8, sizeof utf8 - 1);
	n += sizeof utf8 - 1;
	static const struct invoke_hdr hdrs[] = {{"Content-Type", "text/plain; charset=\"utf-8\""},
	                                         {"X-Tab", "a\tb"}};
	struct buf b;
	struct invoke_out o;
	buf_init(&b, outmem, sizeof outmem);
	invoke_out_begin(&o, &b);
	invoke_out_http(&o, "res", 400, hdrs, 2, text, n);
	invoke_out_string(&o, "out\"Msg", text, n);
	invoke_out_log(&o, text + 1, n - 1);
	assert_int_equal(invoke_out_end(&o), 0);
	read_answer(outmem, b.len, "out\\\"Msg", &a);
	assert_string_equal(a.status, "400");
	assert_string_equal(a.ctype, "text/plain; charset=\"utf-8\"");
	assert_int_equal(a.body_len, (long)n);
	assert_memory_equal(a.body, text, n);
	assert_int_equal(a.qtext_len, (long)n);
	assert_memory_equal(a.qtext, text, n);
	assert_int_equal(a.log0_len, (long)n - 1);
	assert_memory_equal(a.log0, text + 1, n - 1);
	/* the raw answer holds no control byte: every one was escaped */
	for (size_t i = 0; i < b.len; i++)
		assert_true((unsigned char)outmem[i] >= 0x20); /* DEL may pass raw */

	/* a queue message read by invoke_queue_parse and sent on unchanged keeps its bytes */
	const char *m = "{\"subject\":\"\\u00e9 \\\"x\\\"\\n\"}";
	assert_int_equal(queue(msg_env(enc(m, strlen(m), 2))), 0);
	buf_init(&b, outmem, sizeof outmem);
	invoke_out_begin(&o, &b);
	invoke_out_http(&o, "res", 202, NULL, 0, "{}", 2);
	invoke_out_string(&o, "outMsg", q.text.p, q.text.len);
	invoke_out_log(&o, "x", 1);
	assert_int_equal(invoke_out_end(&o), 0);
	read_answer(outmem, b.len, "outMsg", &a);
	assert_int_equal(a.qtext_len, (long)strlen(m));
	assert_memory_equal(a.qtext, m, strlen(m));
}

/* Refused calls write nothing, the first error sticks, and the document stays valid JSON. */
static void test_out_refusals(void **state)
{
	(void)state;
	static const struct invoke_hdr good[] = {{"Content-Type", "application/json"}};
	static const struct {
		struct invoke_hdr h[2];
		size_t n;
	} bad_hdrs[] = {
	    {{{"", "x"}}, 1},
	    {{{"Bad Name", "x"}}, 1},
	    {{{"Bad:Name", "x"}}, 1},
	    {{{"N\xc3\xa9", "x"}}, 1},
	    {{{"X", "a\r\nSet-Cookie: x"}}, 1},
	    {{{"X", "a\nb"}}, 1},
	    {{{"X", "a\x7f"}}, 1},
	    {{{"X", "\xff"}}, 1},
	    {{{"X-A", "1"}, {"x-a", "2"}}, 2},
	};
	struct buf b;
	struct invoke_out o;
	struct json_tok t[64];
	for (size_t i = 0; i < sizeof bad_hdrs / sizeof bad_hdrs[0]; i++) {
		buf_init(&b, outmem, sizeof outmem);
		invoke_out_begin(&o, &b);
		invoke_out_http(&o, "res", 200, bad_hdrs[i].h, bad_hdrs[i].n, "{}", 2);
		assert_int_equal(b.len, strlen("{\"Outputs\":{"));
		assert_int_equal(invoke_out_end(&o), -ERR_INTERNAL);
		assert_int_equal(json_parse(outmem, b.len, t, 64), 7); /* the empty frame */
	}
	static const int bad_status[] = {-1, 0, 99, 1000, 20000};
	for (size_t i = 0; i < sizeof bad_status / sizeof bad_status[0]; i++) {
		buf_init(&b, outmem, sizeof outmem);
		invoke_out_begin(&o, &b);
		invoke_out_http(&o, "res", bad_status[i], good, 1, "{}", 2);
		assert_int_equal(invoke_out_end(&o), -ERR_INTERNAL);
	}
	/* status bounds that pass */
	buf_init(&b, outmem, sizeof outmem);
	invoke_out_begin(&o, &b);
	invoke_out_http(&o, "a", 100, good, 1, "{}", 2);
	invoke_out_http(&o, "b", 999, good, 1, "{}", 2);
	assert_int_equal(invoke_out_end(&o), 0);
	assert_int_equal(json_parse(outmem, b.len, t, 64), 27);

	/* texts the host could take for Base64 */
	static const char *b64[] = {"",         "test",   "abcd1234", "QUJD\r\n",
	                            "  QUJD  ", "a+b/c=", "\x01\x02"};
	for (size_t i = 0; i < sizeof b64 / sizeof b64[0]; i++) {
		buf_init(&b, outmem, sizeof outmem);
		invoke_out_begin(&o, &b);
		invoke_out_string(&o, "outMsg", b64[i], strlen(b64[i]));
		assert_int_equal(invoke_out_end(&o), -ERR_INTERNAL);
		assert_memory_equal(outmem, "{\"Outputs\":{},", 14);
	}
	static const char *fine[] = {"{}", "[]", "\"x\"", "hello, world", "a-b", "x.y", "é"};
	for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
		buf_init(&b, outmem, sizeof outmem);
		invoke_out_begin(&o, &b);
		invoke_out_string(&o, "outMsg", fine[i], strlen(fine[i]));
		assert_int_equal(invoke_out_end(&o), 0);
	}

	/* not UTF-8: body, text, log line, output name */
	buf_init(&b, outmem, sizeof outmem);
	invoke_out_begin(&o, &b);
	invoke_out_http(&o, "res", 200, good, 1, "{\xc3}", 3);
	assert_int_equal(o.err, -ERR_BAD_UTF8);
	invoke_out_string(&o, "q", "{\xed\xa0\x80}", 5);
	invoke_out_string(&o, "\xff", "{}", 2);
	invoke_out_http(&o, "res", 0, good, 1, "{}", 2); /* a second, different error */
	invoke_out_log(&o, "\xc0\x80", 2);
	assert_int_equal(invoke_out_end(&o), -ERR_BAD_UTF8);   /* the first one sticks */
	assert_int_equal(json_parse(outmem, b.len, t, 64), 7); /* the empty frame */

	/* order: no output after a log line, nothing after the end */
	buf_init(&b, outmem, sizeof outmem);
	invoke_out_begin(&o, &b);
	invoke_out_log(&o, "first", 5);
	invoke_out_string(&o, "outMsg", "{}", 2);
	assert_int_equal(o.err, -ERR_INTERNAL);
	invoke_out_log(&o, "second", 6);
	assert_int_equal(invoke_out_end(&o), -ERR_INTERNAL);
	assert_int_equal(json_parse(outmem, b.len, t, 64), 9);
	buf_init(&b, outmem, sizeof outmem);
	invoke_out_begin(&o, &b);
	assert_int_equal(invoke_out_end(&o), 0);
	size_t len = b.len;
	invoke_out_log(&o, "late", 4);
	invoke_out_http(&o, "res", 200, good, 1, "{}", 2);
	assert_int_equal(invoke_out_end(&o), -ERR_INTERNAL);
	assert_int_equal(b.len, len);
}

/* Every cut of the answer is a sticky -ERR_OVERFLOW, never a write past the buffer. */
static void test_out_overflow(void **state)
{
	(void)state;
	static const struct invoke_hdr hdrs[] = {{"Content-Type", "application/json"}};
	struct buf b;
	struct invoke_out o;
	size_t full = 0;
	for (size_t cap = 0;; cap++) {
		char *mem = malloc(cap ? cap : 1); /* exactly cap bytes for ASan */
		assert_non_null(mem);
		buf_init(&b, mem, cap);
		invoke_out_begin(&o, &b);
		invoke_out_http(&o, "res", 202, hdrs, 1, "{\"id\":\"\xe2\x82\xac\n\"}", 12);
		invoke_out_string(&o, "outMsg", "{\"x\":1}", 7);
		invoke_out_log(&o, "line\t1", 6);
		int r = invoke_out_end(&o);
		free(mem);
		if (r == 0) {
			full = cap;
			break;
		}
		assert_int_equal(r, -ERR_OVERFLOW);
		assert_int_equal(b.len, cap);
		assert_true(b.missing > 0);
		assert_int_equal(b.len + b.missing, 170);
	}
	assert_int_equal(full, 170);
}

/* In fd mode the answer streams through a small staging buffer. */
static void test_out_fd(void **state)
{
	(void)state;
	FILE *f = tmpfile();
	assert_non_null(f);
	char stage[7];
	struct buf b;
	struct invoke_out o;
	buf_init_fd(&b, stage, sizeof stage, fileno(f));
	invoke_out_begin(&o, &b);
	invoke_out_http(&o, "res", 202, NULL, 0, "{\"queued\":true}", 15);
	invoke_out_log(&o, "ok", 2);
	assert_int_equal(invoke_out_end(&o), 0);
	assert_int_equal(buf_finish(&b), 0);
	static const char want[] = "{\"Outputs\":{\"res\":{\"statusCode\":202,\"headers\":{},"
	                           "\"body\":\"{\\\"queued\\\":true}\"}},\"Logs\":[\"ok\"],"
	                           "\"ReturnValue\":null}";
	char got[256];
	rewind(f);
	size_t n = fread(got, 1, sizeof got, f);
	fclose(f);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(got, want, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_http_doc_example, teardown),
	    cmocka_unit_test_teardown(test_http_host_shape, teardown),
	    cmocka_unit_test_teardown(test_header_count, teardown),
	    cmocka_unit_test_teardown(test_http_bodies, teardown),
	    cmocka_unit_test_teardown(test_http_query_forms, teardown),
	    cmocka_unit_test_teardown(test_url_path, teardown),
	    cmocka_unit_test_teardown(test_http_errors, teardown),
	    cmocka_unit_test_teardown(test_http_error_field_truncation, teardown),
	    cmocka_unit_test_teardown(test_http_limits, teardown),
	    cmocka_unit_test_teardown(test_http_scratch, teardown),
	    cmocka_unit_test_teardown(test_lookup_errors, teardown),
	    cmocka_unit_test_teardown(test_duplicates_and_case, teardown),
	    cmocka_unit_test_teardown(test_queue_doc_example, teardown),
	    cmocka_unit_test_teardown(test_queue_layers, teardown),
	    cmocka_unit_test_teardown(test_queue_not_json, teardown),
	    cmocka_unit_test_teardown(test_queue_metadata, teardown),
	    cmocka_unit_test_teardown(test_queue_errors, teardown),
	    cmocka_unit_test_teardown(test_queue_scratch, teardown),
	    cmocka_unit_test(test_out_layout),
	    cmocka_unit_test_teardown(test_out_round_trip, teardown),
	    cmocka_unit_test(test_out_refusals),
	    cmocka_unit_test(test_out_overflow),
	    cmocka_unit_test(test_out_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
