/*
 * fuzz_invoke.c: invoke.h under libFuzzer. Each input is read as an HTTP envelope (binding "req")
 * and as a queue envelope (binding "msg"), with scratches of exactly the documented sufficient
 * sizes (len and 2 * len bytes), so -ERR_OVERFLOW must never happen. On success every promise of
 * invoke.h is checked on the result and the lookups; on failure the error report must be well
 * formed. What was read is then written back through the answer writer, and the answer must
 * parse and give back the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "invoke.h"
#include "json.h"
#include "notify.h"
#include "fuzz.h"

/* Tokens for reading an answer back: res has a dozen, plus outMsg and two log lines. */
#define ANSWER_NTOK 64

static struct json_tok tok[INVOKE_MAX_TOKENS];

/* The memory areas of one run: the input, the scratch, a lookup's out buffer. */
struct areas {
	const char *in, *sc, *out;
	size_t in_len, sc_len, out_len;
};

static int inside(const struct notify_str *s, const char *lo, size_t n)
{
	return s->len == 0 || (s->p >= lo && s->p + s->len <= lo + n);
}

/* s lies in one of the areas and is valid UTF-8. */
static void check_str(const struct notify_str *s, const struct areas *a)
{
	CHECK(s->p != NULL);
	CHECK(inside(s, a->in, a->in_len) || inside(s, a->sc, a->sc_len) ||
	      inside(s, a->out, a->out_len));
	CHECK(utf8_valid(s->p, s->len));
}

static void check_report(int r, const struct notify_error *e)
{
	CHECK(r == e->err && r <= 0);
	CHECK(memchr(e->field, 0, sizeof e->field) && memchr(e->detail, 0, sizeof e->detail));
	for (const char *p = e->field; *p; p++)
		CHECK(*p >= 0x20 && *p < 0x7f);
	if (r == 0) {
		CHECK(e->field[0] == '\0' && e->detail[0] == '\0');
		return;
	}
	CHECK(e->detail[0] != '\0');
	CHECK(r == -ERR_JSON_SYNTAX || r == -ERR_BAD_UTF8 || r == -ERR_JSON_TOO_COMPLEX ||
	      r == -ERR_FIELD_MISSING || r == -ERR_FIELD_TYPE || r == -ERR_FIELD_INVALID);
}

/* 1 when the host could take s[0..n) for Base64 (the rule invoke_out_string() refuses). */
static int b64_like(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int alnum =
		    (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		if (!alnum && c > 0x20 && c != '+' && c != '/' && c != '=')
			return 0;
	}
	return 1;
}

/* Index of the value of member key (raw) of the object at t[obj], or -1. */
static int member(const char *js, const struct json_tok *t, int n, int obj, const char *key)
{
	CHECK(t[obj].type == JSON_OBJECT);
	for (int i = obj + 1, k = 0; k < t[obj].size; k++, i = json_next(t, n, i))
		if (json_raw_eq(js, &t[i], key))
			return i + 1;
	return -1;
}

/* String token t decodes to exactly s[0..n). */
static void check_same(const char *js, const struct json_tok *t, const char *s, size_t n)
{
	char *d = malloc(n + 1);
	CHECK(d && t->type == JSON_STRING);
	CHECK(json_str_decode(js, t, d, n + 1) == (long)n && memcmp(d, s, n) == 0);
	free(d);
}

/*
 * Writes an answer with the http output res (body), the output outMsg (text, when not
 * Base64-like) and the log line `line`, then reads it back.
 */
static void check_answer(const struct notify_str *body, const struct notify_str *text,
                         const struct notify_str *line)
{
	static const struct invoke_hdr hdrs[] = {{"Content-Type", "application/json"}};
	struct json_tok t[ANSWER_NTOK];
	size_t cap = 6 * (body->len + text->len + line->len) + 256;
	char *mem = malloc(cap);
	struct invoke_out o;
	struct buf b;
	int want_text = !b64_like(text->p, text->len), r, n, out, v;
	CHECK(mem);
	buf_init(&b, mem, cap);
	invoke_out_begin(&o, &b);
	invoke_out_http(&o, "res", 202, hdrs, 1, body->p, body->len);
	invoke_out_string(&o, "outMsg", text->p, text->len);
	invoke_out_log(&o, line->p, line->len);
	r = invoke_out_end(&o);
	CHECK(r == (want_text ? 0 : -ERR_INTERNAL));
	CHECK(b.err == 0);
	n = json_parse(mem, b.len, t, ANSWER_NTOK);
	CHECK(n > 0 && t[0].type == JSON_OBJECT && t[0].size == 3);
	out = member(mem, t, n, 0, "Outputs");
	CHECK(out > 0 && t[out].size == (want_text ? 2 : 1));
	v = member(mem, t, n, out, "res");
	CHECK(v > 0);
	check_same(mem, &t[member(mem, t, n, v, "body")], body->p, body->len);
	if (want_text)
		check_same(mem, &t[member(mem, t, n, out, "outMsg")], text->p, text->len);
	v = member(mem, t, n, 0, "Logs");
	CHECK(v > 0 && t[v].type == JSON_ARRAY && t[v].size == 1);
	check_same(mem, &t[v + 1], line->p, line->len);
	v = member(mem, t, n, 0, "ReturnValue");
	CHECK(v > 0 && json_raw_eq(mem, &t[v], "null"));
	free(mem);
}

/* Names the dict and corpus use, plus the empty one. */
static const char *const names[] = {"Content-Type",
                                    "content-type",
                                    "x-functions-key",
                                    "Accept",
                                    "Idempotency-Key",
                                    "id",
                                    "code",
                                    "a",
                                    "A",
                                    ""};

static void check_lookups(const struct invoke_http *h, struct areas *a)
{
	char *out = malloc(a->in_len ? a->in_len : 1);
	CHECK(out);
	a->out = out;
	a->out_len = a->in_len;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		int (*const fns[])(const struct invoke_http *, const char *, char *, size_t,
		                   struct notify_str *) = {invoke_header, invoke_query,
		                                           invoke_param};
		for (size_t f = 0; f < 3; f++) {
			struct notify_str v = {NULL, 0};
			int r = fns[f](h, names[i], out, a->in_len, &v);
			CHECK(r == 0 || r == 1 || r == -ERR_BAD_UTF8);
			if (r == 1)
				check_str(&v, a);
			/* a header that has a value counts at least one; none counts none */
			if (f == 0 && r >= 0)
				CHECK((invoke_header_count(h, names[i]) >= 1) >= (r == 1) &&
				      invoke_header_count(h, names[i]) >= 0);
		}
	}
	free(out);
	a->out = NULL;
	a->out_len = 0;
}

static void run_http(const char *js, size_t size)
{
	struct invoke_http h;
	struct notify_error e;
	char *sc = malloc(size ? size : 1); /* exactly size usable bytes (ASan-checked) */
	struct areas a = {js, sc, NULL, size, size, 0};
	CHECK(sc);
	memset(&e, 0x55, sizeof e);
	int r = invoke_http_parse(js, size, "req", tok, INVOKE_MAX_TOKENS, sc, size, &h, &e);
	check_report(r, &e);
	if (r == 0) {
		check_str(&h.method, &a);
		check_str(&h.url, &a);
		CHECK(inside(&h.path, h.url.p, h.url.len));
		CHECK(h.path.len == 0 || h.path.p[0] == '/');
		CHECK(!memchr(h.path.p, '?', h.path.len) && !memchr(h.path.p, '#', h.path.len));
		check_str(&h.body, &a);
		switch (h.body_kind) {
		case INVOKE_BODY_NONE:
			CHECK(h.body.len == 0);
			break;
		case INVOKE_BODY_STRING:
			CHECK(inside(&h.body, sc, size));
			break;
		case INVOKE_BODY_JSON:
			CHECK(inside(&h.body, js, size) && h.body.len > 0);
			CHECK(json_parse(h.body.p, h.body.len, tok, INVOKE_MAX_TOKENS) > 0);
			break;
		default:
			CHECK(0);
		}
		check_answer(&h.body, &h.method, &h.url);
		/* check_answer's json_parse of the body reused tok: parse the envelope again */
		CHECK(invoke_http_parse(js, size, "req", tok, INVOKE_MAX_TOKENS, sc, size, &h,
		                        &e) == 0);
		check_lookups(&h, &a);
	} else {
		CHECK(r != -ERR_OVERFLOW);
		CHECK(h.method.len == 0 && h.body.len == 0 && h.headers.obj < 0);
	}
	free(sc);
}

static void run_queue(const char *js, size_t size)
{
	struct invoke_queue q;
	struct notify_error e;
	size_t cap = 2 * size;
	char *sc = malloc(cap ? cap : 1);
	struct areas a = {js, sc, NULL, size, cap, 0};
	struct json_tok one[1];
	CHECK(sc);
	memset(&e, 0x55, sizeof e);
	int r = invoke_queue_parse(js, size, "msg", tok, INVOKE_MAX_TOKENS, sc, cap, &q, &e);
	check_report(r, &e);
	if (r == 0) {
		check_str(&q.text, &a);
		check_str(&q.id, &a);
		CHECK(q.layers <= INVOKE_MAX_UNWRAP);
		if (q.layers == 0) {
			CHECK(inside(&q.text, js, size) && q.text.len > 0);
			CHECK(json_parse(q.text.p, q.text.len, tok, INVOKE_MAX_TOKENS) > 0);
		} else {
			CHECK(inside(&q.text, sc, cap));
		}
		/* unwrapping stopped for a reason: the layer limit, or not one JSON string */
		if (q.layers > 0 && q.layers < INVOKE_MAX_UNWRAP)
			CHECK(json_parse(q.text.p, q.text.len, one, 1) != 1 ||
			      one[0].type != JSON_STRING);
		check_answer(&q.text, &q.text, &q.id);
	} else {
		CHECK(r != -ERR_OVERFLOW);
		CHECK(q.layers == 0 && q.text.len == 0);
	}
	free(sc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run_http((const char *)data, size);
	run_queue((const char *)data, size);
	return 0;
}
