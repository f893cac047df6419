/*
 * invoke.c: the invocation envelope of invoke.h. json_parse() checks the JSON once; this file
 * finds the members it needs by scanning objects (first match wins), checks their types, and
 * decodes the strings it keeps into the caller's scratch, one after the other. The answer is
 * appended to a struct buf by a writer that tracks only which part is open. Nothing allocates.
 */
#include "invoke.h"

#include <string.h>

#include "err.h"

/* A DequeueCount sent as a string is decoded into a stack buffer of this size: UINT32_MAX has
 * 10 digits, so 32 leaves room for leading zeros; a longer string is refused. */
#define COUNT_TEXT_MAX 32

/* The parts of the answer, in order. */
enum { SEC_OUTPUTS = 1, SEC_LOGS, SEC_DONE };

/* Where a fault is: root, then ".<binding name>" when binding, then ".sub", then ".key" (the raw
 * text of a key token, sanitized). Any part may be absent. */
struct where {
	const char *root;
	int binding;
	const char *sub;
	const char *kjs; /* text `key` points into */
	const struct json_tok *key;
};

/* One parse call. */
struct ctx {
	const char *js;
	struct json_tok *tok;
	int n;         /* tokens json_parse() produced for the envelope */
	unsigned ntok; /* size of tok */
	const char *name;
	char *scratch;
	size_t cap;
	size_t used; /* scratch bytes holding kept strings */
	struct notify_error *e;
};

/* ---- small helpers -------------------------------------------------------------------------- */

static unsigned char lower(unsigned char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch + 32) : ch;
}

static int is_alnum(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* 1 when ch is in set (a NUL-terminated list); NUL itself never is. */
static int in_set(unsigned char ch, const char *set)
{
	return ch != 0 && strchr(set, ch) != NULL;
}

/* JSON whitespace (RFC 8259 section 2). */
static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* 1 when s[0..n) equals the NUL-terminated name, ASCII case-insensitively. */
static int ieq(const char *s, size_t n, const char *name)
{
	size_t k = strlen(name);
	if (k != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)s[i]) != lower((unsigned char)name[i]))
			return 0;
	return 1;
}

static size_t raw_len(const struct json_tok *t)
{
	return t->end > t->start ? (size_t)(t->end - t->start) : 0;
}

/* 1 when string token t of js, decoded, equals name (ASCII case-insensitively). A key with
 * escapes is decoded into a stack buffer; one longer than INVOKE_MAX_KEY never matches. */
static int key_eq(const char *js, const struct json_tok *t, const char *name)
{
	const char *s = js + t->start;
	size_t n = raw_len(t);
	char k[INVOKE_MAX_KEY];
	long r;
	if (t->type != JSON_STRING)
		return 0;
	if (!memchr(s, '\\', n))
		return ieq(s, n, name);
	r = json_str_decode(js, t, k, sizeof k);
	return r >= 0 && ieq(k, (size_t)r, name);
}

/* Index of the value of member `name` of the object at tok[obj] (of n tokens), or -1. */
static int find_in(const char *js, const struct json_tok *tok, int n, int obj, const char *name)
{
	int i = obj + 1;
	for (int k = 0; k < tok[obj].size && i + 1 < n; k++) {
		if (key_eq(js, &tok[i], name))
			return i + 1;
		i = json_next(tok, n, i);
	}
	return -1;
}

static int find(const struct ctx *c, int obj, const char *name)
{
	return find_in(c->js, c->tok, c->n, obj, name);
}

static int is_null(const char *js, const struct json_tok *t)
{
	return t->type == JSON_PRIMITIVE && js[t->start] == 'n';
}

/* ---- errors --------------------------------------------------------------------------------- */

/* Fills *c->e (field from w, "" when w is NULL; detail = lead + detail, lead may be NULL) and
 * returns err. Both strings are truncated to fit and NUL-terminated. */
static int fail(struct ctx *c, int err, const struct where *w, const char *lead, const char *detail)
{
	struct buf b;
	buf_init(&b, c->e->field, sizeof c->e->field - 1);
	if (w && w->root)
		buf_puts(&b, w->root);
	if (w && w->binding) {
		buf_putc(&b, '.');
		notify_put_sanitized(&b, c->name, strlen(c->name));
	}
	if (w && w->sub) {
		buf_putc(&b, '.');
		buf_puts(&b, w->sub);
	}
	if (w && w->key) {
		buf_putc(&b, '.');
		notify_put_sanitized(&b, w->kjs + w->key->start, raw_len(w->key));
	}
	c->e->field[b.len] = '\0';
	buf_init(&b, c->e->detail, sizeof c->e->detail - 1);
	if (lead)
		buf_puts(&b, lead);
	buf_puts(&b, detail);
	c->e->detail[b.len] = '\0';
	c->e->err = err;
	return err;
}

static const char *parse_detail(int err)
{
	switch (err) {
	case -ERR_BAD_UTF8:
		return "the invocation body is not valid UTF-8";
	case -ERR_JSON_TOO_COMPLEX:
		return "the invocation body has too many JSON values or nests too deep";
	default:
		return "the invocation body is not valid JSON";
	}
}

/* Decodes string token t of js into the free scratch and keeps it there. */
static int keep(struct ctx *c, const char *js, const struct json_tok *t, const struct where *w,
                struct notify_str *out)
{
	char *dst = c->scratch + c->used;
	long r = json_str_decode(js, t, dst, c->cap - c->used);
	if (r == -ERR_OVERFLOW)
		return fail(c, -ERR_OVERFLOW, w, NULL,
		            "scratch buffer too small for the invocation");
	if (r < 0)
		return fail(c, (int)r, w, NULL, "a \\u escape is a lone surrogate or U+0000");
	out->p = dst;
	out->len = (size_t)r;
	c->used += (size_t)r;
	return 0;
}

/* ---- the envelope --------------------------------------------------------------------------- */

static void ctx_init(struct ctx *c, const char *body, struct json_tok *tok, unsigned ntok,
                     const char *name, char *scratch, size_t cap, struct notify_error *e)
{
	*c = (struct ctx){body, tok, 0, ntok, name, scratch, cap, 0, e};
	e->err = 0;
	e->field[0] = '\0';
	e->detail[0] = '\0';
}

/* Parses the envelope and finds Data.<name>; sets *bind to its token. */
static int envelope(struct ctx *c, size_t len, int *bind)
{
	const struct where data = {"Data", 0, NULL, NULL, NULL};
	const struct where binding = {"Data", 1, NULL, NULL, NULL};
	int n = json_parse(c->js, len, c->tok, c->ntok), d, v;
	if (n < 0)
		return fail(c, n, NULL, NULL, parse_detail(n));
	c->n = n;
	if (c->tok[0].type != JSON_OBJECT)
		return fail(c, -ERR_FIELD_TYPE, NULL, NULL,
		            "the invocation body must be a JSON object");
	d = find(c, 0, "Data");
	if (d < 0)
		return fail(c, -ERR_FIELD_MISSING, &data, NULL, "Data is required");
	if (c->tok[d].type != JSON_OBJECT)
		return fail(c, -ERR_FIELD_TYPE, &data, NULL, "Data must be an object");
	v = find(c, d, c->name);
	if (v < 0)
		return fail(c, -ERR_FIELD_MISSING, &binding, NULL,
		            "Data has no value for the trigger binding");
	*bind = v;
	return 0;
}

/* ---- HTTP trigger --------------------------------------------------------------------------- */

/* Member `key` of the request object: a required string, kept. */
static int required_str(struct ctx *c, int req, const char *key, struct notify_str *out)
{
	const struct where w = {"Data", 1, key, NULL, NULL};
	int v = find(c, req, key);
	if (v < 0)
		return fail(c, -ERR_FIELD_MISSING, &w, key, " is required");
	if (c->tok[v].type != JSON_STRING)
		return fail(c, -ERR_FIELD_TYPE, &w, key, " must be a string");
	return keep(c, c->js, &c->tok[v], &w, out);
}

/* 1 when the map value at tok[v] is a string or a primitive, or (arrays allowed) an array of
 * those. */
static int value_ok(const struct json_tok *tok, int v, int arrays)
{
	if (tok[v].type == JSON_STRING || tok[v].type == JSON_PRIMITIVE)
		return 1;
	if (tok[v].type != JSON_ARRAY || !arrays)
		return 0;
	for (int k = 1; k <= tok[v].size; k++)
		if (tok[v + k].type != JSON_STRING && tok[v + k].type != JSON_PRIMITIVE)
			return 0; /* stops at the first container, so v + k stays a child of v */
	return 1;
}

/* Checks every value of the map m (member `sub` of the request). */
static int check_map(struct ctx *c, const struct invoke_map *m, const char *sub, int arrays)
{
	const struct json_tok *tok = m->tok;
	int i = m->obj + 1;
	for (int k = 0; k < tok[m->obj].size; k++, i = json_next(tok, m->ntok, i)) {
		const struct where w = {"Data", 1, sub, m->js, &tok[i]};
		if (!value_ok(tok, i + 1, arrays))
			return fail(c, -ERR_FIELD_TYPE, &w, NULL,
			            arrays
			                ? "a header value must be a string or an array of strings"
			                : "a value must be a string");
	}
	return 0;
}

/* Member `sub` of the request: an object (checked into *m), null or absent. */
static int map_member(struct ctx *c, int req, const char *sub, int arrays, struct invoke_map *m)
{
	const struct where w = {"Data", 1, sub, NULL, NULL};
	int v = find(c, req, sub);
	*m = (struct invoke_map){c->js, c->tok, c->n, -1};
	if (v < 0 || is_null(c->js, &c->tok[v]))
		return 0;
	if (c->tok[v].type != JSON_OBJECT)
		return fail(c, -ERR_FIELD_TYPE, &w, sub, " must be an object");
	m->obj = v;
	return check_map(c, m, sub, arrays);
}

/* Query: an object, or a string holding one as JSON text (kept in the scratch and parsed into
 * the tokens the envelope left free), "", null or absent. */
static int query_member(struct ctx *c, int req, struct invoke_map *m)
{
	const struct where w = {"Data", 1, "Query", NULL, NULL};
	int v = find(c, req, "Query"), n, r;
	struct notify_str s;
	size_t i = 0;
	if (v < 0 || c->tok[v].type != JSON_STRING)
		return map_member(c, req, "Query", 0, m);
	*m = (struct invoke_map){c->js, c->tok, c->n, -1};
	r = keep(c, c->js, &c->tok[v], &w, &s);
	if (r < 0)
		return r;
	while (i < s.len && is_ws(s.p[i]))
		i++;
	if (i == s.len)
		return 0; /* "": no query */
	n = json_parse(s.p, s.len, c->tok + c->n, c->ntok - (unsigned)c->n);
	if (n == -ERR_JSON_TOO_COMPLEX)
		return fail(c, n, &w, NULL,
		            "the Query string holds too many JSON values or nests too deep");
	if (n < 0 || c->tok[c->n].type != JSON_OBJECT)
		return fail(c, -ERR_FIELD_INVALID, &w, NULL,
		            "Query is a string but does not hold a JSON object");
	*m = (struct invoke_map){s.p, c->tok + c->n, n, 0};
	return check_map(c, m, "Query", 0);
}

/* Body: a string (kept), any other value (its raw text), null or absent. */
static int body_member(struct ctx *c, int req, struct invoke_http *h)
{
	const struct where w = {"Data", 1, "Body", NULL, NULL};
	int v = find(c, req, "Body");
	const struct json_tok *t = v < 0 ? NULL : &c->tok[v];
	if (!t || is_null(c->js, t))
		return 0;
	if (t->type == JSON_STRING) {
		h->body_kind = INVOKE_BODY_STRING;
		return keep(c, c->js, t, &w, &h->body);
	}
	h->body_kind = INVOKE_BODY_JSON;
	h->body.p = c->js + t->start;
	h->body.len = raw_len(t);
	return 0;
}

/* The path of url: from the '/' that follows "scheme://authority" (or the start, for a URL
 * without a scheme) up to '?' or '#'; empty when there is no such '/'. */
static struct notify_str url_path(struct notify_str url)
{
	const char *s = url.p;
	size_t n = url.len, i = 0, start;
	for (size_t k = 0; k + 2 < n && !in_set((unsigned char)s[k], "/?#"); k++) {
		if (s[k] == ':' && s[k + 1] == '/' && s[k + 2] == '/') {
			i = k + 3;
			while (i < n && !in_set((unsigned char)s[i], "/?#"))
				i++;
			break;
		}
	}
	start = i;
	if (i < n && s[i] == '/')
		while (i < n && s[i] != '?' && s[i] != '#')
			i++;
	return (struct notify_str){s + start, i - start};
}

static void http_reset(struct invoke_http *h, const char *body, const struct json_tok *tok)
{
	memset(h, 0, sizeof *h);
	h->method = h->url = h->path = h->body = (struct notify_str){"", 0};
	h->query = h->headers = h->params = (struct invoke_map){body, tok, 0, -1};
}

/* The request object at tok[req] into *h. */
static int http_request(struct ctx *c, int req, struct invoke_http *h)
{
	int r;
	if (c->tok[req].type != JSON_OBJECT) {
		const struct where w = {"Data", 1, NULL, NULL, NULL};
		return fail(c, -ERR_FIELD_TYPE, &w, NULL,
		            "the HTTP trigger value must be an object");
	}
	if ((r = required_str(c, req, "Method", &h->method)) < 0 ||
	    (r = required_str(c, req, "Url", &h->url)) < 0 ||
	    (r = map_member(c, req, "Headers", 1, &h->headers)) < 0 ||
	    (r = map_member(c, req, "Params", 0, &h->params)) < 0 ||
	    (r = query_member(c, req, &h->query)) < 0 || (r = body_member(c, req, h)) < 0)
		return r;
	h->path = url_path(h->url);
	return 0;
}

/* see invoke.h */
int invoke_http_parse(const char *body, size_t len, const char *name, struct json_tok *tok,
                      unsigned ntok, char *scratch, size_t cap, struct invoke_http *h,
                      struct notify_error *e)
{
	struct ctx c;
	int req, r;
	ctx_init(&c, body, tok, ntok, name, scratch, cap, e);
	http_reset(h, body, tok);
	r = envelope(&c, len, &req);
	if (r == 0)
		r = http_request(&c, req, h);
	if (r < 0)
		http_reset(h, body, tok); /* nothing half-filled survives a failure */
	return r;
}

/* Value of member `name` of map m (see invoke.h, lookups). */
static int lookup(const struct invoke_map *m, const char *name, char *out, size_t cap,
                  struct notify_str *val)
{
	const struct json_tok *t;
	int v;
	long r;
	if (m->obj < 0 || m->obj >= m->ntok || m->tok[m->obj].type != JSON_OBJECT)
		return 0;
	v = find_in(m->js, m->tok, m->ntok, m->obj, name);
	if (v < 0)
		return 0;
	t = &m->tok[v];
	if (t->type == JSON_ARRAY) {
		if (t->size == 0 || v + 1 >= m->ntok)
			return 0;
		t++; /* the first element */
	}
	if (t->type == JSON_PRIMITIVE && !is_null(m->js, t)) {
		*val = (struct notify_str){m->js + t->start, raw_len(t)};
		return 1;
	}
	if (t->type != JSON_STRING)
		return 0;
	if (!memchr(m->js + t->start, '\\', raw_len(t))) {
		*val = (struct notify_str){m->js + t->start, raw_len(t)};
		return 1;
	}
	r = json_str_decode(m->js, t, out, cap);
	if (r < 0)
		return (int)r;
	*val = (struct notify_str){out, (size_t)r};
	return 1;
}

/* see invoke.h */
int invoke_query(const struct invoke_http *h, const char *name, char *out, size_t cap,
                 struct notify_str *val)
{
	return lookup(&h->query, name, out, cap, val);
}

/* see invoke.h */
int invoke_header(const struct invoke_http *h, const char *name, char *out, size_t cap,
                  struct notify_str *val)
{
	return lookup(&h->headers, name, out, cap, val);
}

/* see invoke.h */
int invoke_header_count(const struct invoke_http *h, const char *name)
{
	const struct invoke_map *m = &h->headers;
	int count = 0;
	if (m->obj < 0 || m->obj >= m->ntok || m->tok[m->obj].type != JSON_OBJECT)
		return 0;
	int i = m->obj + 1;
	for (int k = 0; k < m->tok[m->obj].size && i + 1 < m->ntok; k++) {
		const struct json_tok *v = &m->tok[i + 1];
		if (key_eq(m->js, &m->tok[i], name)) {
			if (v->type == JSON_ARRAY) {
				int j = i + 2;
				for (int e = 0; e < v->size && j < m->ntok; e++) {
					count += !is_null(m->js, &m->tok[j]);
					j = json_next(m->tok, m->ntok, j);
				}
			} else {
				count += !is_null(m->js, v);
			}
		}
		i = json_next(m->tok, m->ntok, i);
	}
	return count;
}

/* see invoke.h */
int invoke_param(const struct invoke_http *h, const char *name, char *out, size_t cap,
                 struct notify_str *val)
{
	return lookup(&h->params, name, out, cap, val);
}

/* ---- queue trigger -------------------------------------------------------------------------- */

/* 1 when s[0..n) is 1.. decimal digits worth at most UINT32_MAX; sets *out. */
static int count_value(const char *s, size_t n, uint32_t *out)
{
	uint64_t x = 0;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		x = x * 10 + (uint64_t)(s[i] - '0');
		if (x > UINT32_MAX)
			return 0;
	}
	*out = (uint32_t)x;
	return 1;
}

/* Metadata.DequeueCount at tok[v] (not null): a non-negative integer number, or a string of
 * digits. */
static int dequeue_count(struct ctx *c, int v, uint32_t *out)
{
	const struct where w = {"Metadata", 0, "DequeueCount", NULL, NULL};
	const struct json_tok *t = &c->tok[v];
	const char *s = c->js + t->start;
	char text[COUNT_TEXT_MAX];
	long n = (long)raw_len(t);
	if (t->type == JSON_STRING) {
		n = json_str_decode(c->js, t, text, sizeof text);
		if (n == -ERR_BAD_UTF8)
			return fail(c, -ERR_BAD_UTF8, &w, NULL,
			            "a \\u escape is a lone surrogate or U+0000");
		s = text;
	} else if (t->type != JSON_PRIMITIVE || *s == 't' || *s == 'f') {
		return fail(c, -ERR_FIELD_TYPE, &w, NULL,
		            "DequeueCount must be a number or a string of digits");
	}
	if (n < 0 || !count_value(s, (size_t)n, out)) /* n < 0: longer than COUNT_TEXT_MAX */
		return fail(c, -ERR_FIELD_INVALID, &w, NULL,
		            "DequeueCount must be an integer from 0 to 4294967295");
	return 0;
}

/* Metadata (optional): DequeueCount and Id. */
static int queue_metadata(struct ctx *c, struct invoke_queue *q)
{
	const struct where wm = {"Metadata", 0, NULL, NULL, NULL};
	const struct where wid = {"Metadata", 0, "Id", NULL, NULL};
	int m = find(c, 0, "Metadata"), v;
	if (m < 0 || is_null(c->js, &c->tok[m]))
		return 0;
	if (c->tok[m].type != JSON_OBJECT)
		return fail(c, -ERR_FIELD_TYPE, &wm, NULL, "Metadata must be an object");
	v = find(c, m, "DequeueCount");
	if (v >= 0 && !is_null(c->js, &c->tok[v])) {
		int r = dequeue_count(c, v, &q->dequeue_count);
		if (r < 0)
			return r;
	}
	v = find(c, m, "Id");
	if (v < 0 || is_null(c->js, &c->tok[v]))
		return 0;
	if (c->tok[v].type != JSON_STRING)
		return fail(c, -ERR_FIELD_TYPE, &wid, NULL, "Id must be a string");
	return keep(c, c->js, &c->tok[v], &wid, &q->id);
}

/*
 * The message at tok[v]. Layer 1 is decoded into area A (the free scratch, n1 bytes); each
 * further layer is decoded from one area into the other: B starts at A + n1, and every layer is
 * at least 2 bytes (its quotes) shorter than the one it comes from, so a layer written back into
 * A fits in n1 bytes and never reaches B, which holds its source. Peak use: n1 + n2 bytes.
 */
static int queue_message(struct ctx *c, int v, struct invoke_queue *q)
{
	const struct where w = {"Data", 1, NULL, NULL, NULL};
	const struct json_tok *t = &c->tok[v];
	char *a = c->scratch + c->used;
	size_t b_off;
	int r;
	if (t->type != JSON_STRING) {
		q->text = (struct notify_str){c->js + t->start, raw_len(t)};
		return 0;
	}
	r = keep(c, c->js, t, &w, &q->text);
	if (r < 0)
		return r;
	q->layers = 1;
	b_off = c->used; /* B: just past layer 1 */
	while (q->layers < INVOKE_MAX_UNWRAP) {
		const char *s = q->text.p;
		size_t i = 0;
		struct json_tok one[1];
		int to_a = s != a;
		char *dst = to_a ? a : c->scratch + b_off;
		long k;
		while (i < q->text.len && is_ws(s[i]))
			i++;
		if (i == q->text.len || s[i] != '"')
			break;
		if (json_parse(s, q->text.len, one, 1) != 1 || one[0].type != JSON_STRING)
			break; /* not exactly one JSON string: the message as it is */
		k = json_str_decode(s, &one[0], dst,
		                    to_a ? (size_t)(c->scratch + b_off - a) : c->cap - b_off);
		if (k == -ERR_OVERFLOW)
			return fail(c, -ERR_OVERFLOW, &w, NULL,
			            "scratch buffer too small for the invocation");
		if (k < 0)
			return fail(c, (int)k, &w, NULL,
			            "a \\u escape of the message is a lone surrogate or U+0000");
		if (!to_a)
			c->used = b_off + (size_t)k;
		q->text = (struct notify_str){dst, (size_t)k};
		q->layers++;
	}
	return 0;
}

static void queue_reset(struct invoke_queue *q)
{
	memset(q, 0, sizeof *q);
	q->text = q->id = (struct notify_str){"", 0};
}

/* see invoke.h */
int invoke_queue_parse(const char *body, size_t len, const char *name, struct json_tok *tok,
                       unsigned ntok, char *scratch, size_t cap, struct invoke_queue *q,
                       struct notify_error *e)
{
	struct ctx c;
	int v, r;
	ctx_init(&c, body, tok, ntok, name, scratch, cap, e);
	queue_reset(q);
	r = envelope(&c, len, &v);
	if (r == 0)
		r = queue_metadata(&c, q);
	if (r == 0)
		r = queue_message(&c, v, q);
	if (r < 0)
		queue_reset(q); /* nothing half-filled survives a failure */
	return r;
}

/* ---- the answer ----------------------------------------------------------------------------- */

/* Makes err the writer's sticky error unless it has one; returns err. */
static int refuse(struct invoke_out *o, int err)
{
	if (o->err == 0)
		o->err = err;
	return err;
}

/* Checks that an output may be added now, under a UTF-8 name. */
static int output_ok(struct invoke_out *o, const char *name)
{
	if (o->section != SEC_OUTPUTS)
		return refuse(o, -ERR_INTERNAL);
	if (!utf8_valid(name, strlen(name)))
		return refuse(o, -ERR_BAD_UTF8);
	return 0;
}

/* Writes the separator and the key of the next output. */
static void output_key(struct invoke_out *o, const char *name)
{
	if (o->items++ > 0)
		buf_putc(o->b, ',');
	json_put_cstr(o->b, name);
	buf_putc(o->b, ':');
}

/* RFC 9110 5.6.2: token = 1*tchar. */
static int is_token(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!is_alnum((unsigned char)*s) && !in_set((unsigned char)*s, "!#$%&'*+-.^_`|~"))
			return 0;
	return 1;
}

/* RFC 9110 5.5: field-value bytes are VCHAR, SP, HTAB or obs-text; here also UTF-8. */
static int is_field_value(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return 0;
	}
	return utf8_valid(s, n);
}

/* 1 when the headers are valid and their names differ. */
static int headers_ok(const struct invoke_hdr *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!is_token(h[i].name) || !is_field_value(h[i].value))
			return 0;
		for (size_t j = 0; j < i; j++)
			if (ieq(h[j].name, strlen(h[j].name), h[i].name))
				return 0;
	}
	return 1;
}

/* 1 when the host could take s[0..n) for Base64: only Base64 characters, '=' and bytes up to
 * space (.NET's Convert.FromBase64String skips white space). Empty text counts. */
static int b64_like(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!is_alnum(ch) && ch > 0x20 && !in_set(ch, "+/="))
			return 0;
	}
	return 1;
}

/* see invoke.h */
void invoke_out_begin(struct invoke_out *o, struct buf *b)
{
	*o = (struct invoke_out){b, SEC_OUTPUTS, 0, 0};
	buf_puts(b, "{\"Outputs\":{");
}

/* see invoke.h */
void invoke_out_http(struct invoke_out *o, const char *name, int status,
                     const struct invoke_hdr *hdrs, size_t nhdrs, const char *body, size_t len)
{
	if (output_ok(o, name) < 0)
		return;
	if (status < 100 || status > 999 || !headers_ok(hdrs, nhdrs)) {
		refuse(o, -ERR_INTERNAL);
		return;
	}
	if (len > 0 && !utf8_valid(body, len)) {
		refuse(o, -ERR_BAD_UTF8);
		return;
	}
	output_key(o, name);
	buf_puts(o->b, "{\"statusCode\":");
	buf_put_u64(o->b, (uint64_t)status);
	buf_puts(o->b, ",\"headers\":{");
	for (size_t i = 0; i < nhdrs; i++) {
		if (i > 0)
			buf_putc(o->b, ',');
		json_put_cstr(o->b, hdrs[i].name);
		buf_putc(o->b, ':');
		json_put_cstr(o->b, hdrs[i].value);
	}
	buf_puts(o->b, "},\"body\":");
	json_put_str(o->b, len > 0 ? body : "", len);
	buf_putc(o->b, '}');
}

/* see invoke.h */
void invoke_out_string(struct invoke_out *o, const char *name, const char *text, size_t len)
{
	if (output_ok(o, name) < 0)
		return;
	if (b64_like(text, len)) {
		refuse(o, -ERR_INTERNAL);
		return;
	}
	if (!utf8_valid(text, len)) {
		refuse(o, -ERR_BAD_UTF8);
		return;
	}
	output_key(o, name);
	json_put_str(o->b, text, len);
}

/* see invoke.h */
void invoke_out_log(struct invoke_out *o, const char *line, size_t len)
{
	if (o->section == SEC_OUTPUTS) {
		buf_puts(o->b, "},\"Logs\":[");
		o->section = SEC_LOGS;
		o->items = 0;
	}
	if (o->section != SEC_LOGS) {
		refuse(o, -ERR_INTERNAL);
		return;
	}
	if (!utf8_valid(line, len)) {
		refuse(o, -ERR_BAD_UTF8);
		return;
	}
	if (o->items++ > 0)
		buf_putc(o->b, ',');
	json_put_str(o->b, line, len);
}

/* see invoke.h */
int invoke_out_end(struct invoke_out *o)
{
	if (o->section == SEC_OUTPUTS)
		buf_puts(o->b, "},\"Logs\":[");
	if (o->section == SEC_OUTPUTS || o->section == SEC_LOGS)
		buf_puts(o->b, "],\"ReturnValue\":null}");
	else
		refuse(o, -ERR_INTERNAL);
	o->section = SEC_DONE;
	return o->err ? o->err : o->b->err;
}
