/*
 * json.c: the JSON layer of json.h over jsmn 1.1.0 (strict mode).
 *
 * jsmn only tokenizes: even in strict mode it accepts missing or extra ',' and ':', trailing
 * commas, several top-level values, keys without values and primitives such as "tru" or "01".
 * So json_parse() runs jsmn, then walks the token tree once, iteratively, and checks everything
 * jsmn does not: the separators between tokens, the tree shape (keys are strings with one value,
 * nothing else has children), the primitive grammar of RFC 8259, the raw string bytes, and the
 * nesting depth. Nothing here allocates.
 */
#include "json.h"

#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "err.h"

#define JSMN_STATIC
#define JSMN_STRICT
#include "jsmn.h"

/*
 * struct json_tok must be jsmntok_t so that the caller's array can be handed to jsmn as is: the
 * layout is shared (asserted below), the type values only partly (json.h): OBJECT and ARRAY are
 * jsmn's 1 and 2 in every version (asserted), STRING and PRIMITIVE are our own 4 and 8, which
 * jsmn's git master uses too, while the packaged 1.1.0 numbers them 3 and 4. normalize() maps
 * every token's type after jsmn has run, so nothing depends on which jsmn is installed.
 */
_Static_assert(sizeof(struct json_tok) == sizeof(jsmntok_t), "json_tok size");
_Static_assert(offsetof(struct json_tok, type) == offsetof(jsmntok_t, type), "json_tok.type");
_Static_assert(offsetof(struct json_tok, start) == offsetof(jsmntok_t, start), "json_tok.start");
_Static_assert(offsetof(struct json_tok, end) == offsetof(jsmntok_t, end), "json_tok.end");
_Static_assert(offsetof(struct json_tok, size) == offsetof(jsmntok_t, size), "json_tok.size");
_Static_assert(sizeof(enum json_type) == sizeof(jsmntype_t), "json_type size");
_Static_assert((int)JSON_OBJECT == (int)JSMN_OBJECT && (int)JSON_ARRAY == (int)JSMN_ARRAY,
               "container types");

/* ---- small predicates ----------------------------------------------------------------------- */

/* JSON whitespace (RFC 8259 section 2): space, tab, line feed, carriage return. Nothing else. */
static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Value of hex digit c, or -1. */
static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Digits from s[*i] on; 1 when there was at least one. */
static int digits(const char *s, size_t n, size_t *i)
{
	size_t k = *i;
	while (*i < n && is_digit(s[*i]))
		(*i)++;
	return *i > k;
}

/* 1 when s[0..n) is true, false, null or an RFC 8259 number:
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int primitive_ok(const char *s, size_t n)
{
	size_t i = 0;
	if ((n == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "null", 4))) ||
	    (n == 5 && !memcmp(s, "false", 5)))
		return 1;
	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i >= n || s[i] < '1' || s[i] > '9' || !digits(s, n, &i))
		return 0;
	if (i < n && s[i] == '.') {
		i++;
		if (!digits(s, n, &i))
			return 0;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!digits(s, n, &i))
			return 0;
	}
	return i == n;
}

/* see json.h. Unicode 15, table 3-7 (well-formed UTF-8 byte sequences). */
int utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i];
		unsigned lo = 0x80, hi = 0xbf; /* range of the second byte */
		size_t k;                      /* continuation bytes */
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		else
			return 0; /* continuation byte, C0/C1 overlong lead, or beyond U+10FFFF */
		if (n - i - 1 < k || p[i + 1] < lo || p[i + 1] > hi)
			return 0;
		for (size_t j = 2; j <= k; j++)
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
		i += k + 1;
	}
	return 1;
}

/* Raw string bytes: no control character (RFC 8259 section 7), valid UTF-8. */
static int raw_string_check(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20)
			return -ERR_JSON_SYNTAX;
	return utf8_valid(s, n) ? 0 : -ERR_BAD_UTF8;
}

/* ---- json_parse ----------------------------------------------------------------------------- */

/* One open container during the walk. */
struct frame {
	int end;  /* offset just past the closing bracket */
	int left; /* items still expected; an object member is two items, key then value */
	int obj;  /* 1: object, 0: array */
	int seen; /* items seen so far */
};

struct walk {
	const char *js;
	size_t len;
	struct frame st[JSON_MAX_DEPTH];
	int depth;  /* frames in use */
	size_t pos; /* offset just past the previous item, or past an opening bracket */
};

/* Checks that js[pos..to) is whitespace with exactly one `sep` in it (sep 0: none). */
static int gap_ok(const struct walk *w, size_t to, char sep)
{
	size_t i = w->pos;
	if (to < i || to > w->len)
		return 0;
	while (i < to && is_ws(w->js[i]))
		i++;
	if (sep) {
		if (i == to || w->js[i] != sep)
			return 0;
		i++;
		while (i < to && is_ws(w->js[i]))
			i++;
	}
	return i == to;
}

/* Marks one item of the top frame done, closing every container that this completes. */
static int complete(struct walk *w)
{
	while (w->depth > 0) {
		struct frame *f = &w->st[w->depth - 1];
		if (f->left > 0) {
			f->left--;
			f->seen++;
		}
		if (f->left > 0)
			return 0;
		if (!gap_ok(w, (size_t)f->end - 1, 0) || w->js[f->end - 1] != (f->obj ? '}' : ']'))
			return -ERR_JSON_SYNTAX;
		w->pos = (size_t)f->end;
		w->depth--;
	}
	return 0;
}

/* Checks token i (of n) in its place, then enters or completes it. */
static int walk_one(struct walk *w, const struct json_tok *t, int i, int n)
{
	const struct frame *f = w->depth > 0 ? &w->st[w->depth - 1] : NULL;
	int is_key = f && f->obj && f->seen % 2 == 0;
	char sep = !f || f->seen == 0 ? 0 : (f->obj && !is_key ? ':' : ',');
	int quote = t->type == JSON_STRING;

	if ((!f && i != 0) || t->start < quote || t->end < t->start || (size_t)t->end > w->len)
		return -ERR_JSON_SYNTAX;
	if (!gap_ok(w, (size_t)(t->start - quote), sep))
		return -ERR_JSON_SYNTAX;
	if (is_key && (t->type != JSON_STRING || t->size != 1))
		return -ERR_JSON_SYNTAX; /* a key is a string with exactly one value */
	if (!is_key && (t->type == JSON_STRING || t->type == JSON_PRIMITIVE) && t->size != 0)
		return -ERR_JSON_SYNTAX; /* "a":"b":"c", [1:2] */
	if (t->type == JSON_OBJECT || t->type == JSON_ARRAY) {
		int obj = t->type == JSON_OBJECT;
		/* Every member needs a key and a value token after this one. */
		if (t->size < 0 || t->size > (obj ? (n - i - 1) / 2 : n - i - 1) ||
		    (long)t->end < (long)t->start + 2 || w->js[t->start] != (obj ? '{' : '['))
			return -ERR_JSON_SYNTAX;
		if (w->depth == JSON_MAX_DEPTH)
			return -ERR_JSON_TOO_COMPLEX;
		w->st[w->depth++] = (struct frame){t->end, obj ? 2 * t->size : t->size, obj, 0};
		w->pos = (size_t)t->start + 1;
		return w->st[w->depth - 1].left == 0 ? complete(w) : 0;
	}
	if (t->type == JSON_STRING) {
		if ((size_t)t->end >= w->len || w->js[t->start - 1] != '"' || w->js[t->end] != '"')
			return -ERR_JSON_SYNTAX;
		int r = raw_string_check(w->js + t->start, (size_t)(t->end - t->start));
		if (r < 0)
			return r;
	} else if (t->type != JSON_PRIMITIVE ||
	           !primitive_ok(w->js + t->start, (size_t)(t->end - t->start))) {
		return -ERR_JSON_SYNTAX;
	}
	w->pos = (size_t)t->end + (size_t)quote;
	return complete(w);
}

/* Checks the tokens tok[0..n) against js: one value, separators, shape, leaves, depth. */
static int walk_all(const char *js, size_t len, const struct json_tok *tok, int n)
{
	struct walk w = {.js = js, .len = len, .depth = 0, .pos = 0};
	for (int i = 0; i < n; i++) {
		int r = walk_one(&w, &tok[i], i, n);
		if (r < 0)
			return r;
	}
	return w.depth == 0 && gap_ok(&w, len, 0) ? n : -ERR_JSON_SYNTAX;
}

static enum json_type map_type(jsmntype_t t)
{
	switch (t) {
	case JSMN_OBJECT:
		return JSON_OBJECT;
	case JSMN_ARRAY:
		return JSON_ARRAY;
	case JSMN_STRING:
		return JSON_STRING;
	case JSMN_PRIMITIVE:
		return JSON_PRIMITIVE;
	default:
		return JSON_UNDEFINED;
	}
}

/* Rewrites the n tokens jsmn wrote with json_type values. Each token is read through the type
 * jsmn wrote it with and written back through ours, so no access mixes the two types. */
static void normalize(struct json_tok *tok, int n)
{
	const jsmntok_t *jt = (const jsmntok_t *)(void *)tok;
	for (int i = 0; i < n; i++) {
		jsmntok_t t = jt[i];
		tok[i] = (struct json_tok){map_type(t.type), t.start, t.end, t.size};
	}
}

/* A top-level primitive: jsmn strict mode cannot end the input inside one (it wants a
 * following ',', ']' or '}'), so it is handled here. s..e is the input without outer spaces. */
static int lone_primitive(const char *js, size_t s, size_t e, struct json_tok *tok, unsigned ntok)
{
	if (!primitive_ok(js + s, e - s))
		return -ERR_JSON_SYNTAX;
	if (ntok < 1)
		return -ERR_JSON_TOO_COMPLEX;
	tok[0] = (struct json_tok){JSON_PRIMITIVE, (int)s, (int)e, 0};
	return 1;
}

/* see json.h */
int json_parse(const char *js, size_t len, struct json_tok *tok, unsigned ntok)
{
	size_t s = 0, e = len;
	jsmn_parser p;
	int r;

	if (len >= INT_MAX)
		return -ERR_JSON_TOO_COMPLEX;
	while (s < e && is_ws(js[s]))
		s++;
	while (e > s && is_ws(js[e - 1]))
		e--;
	if (s == e)
		return -ERR_JSON_SYNTAX;
	if (js[s] == '-' || is_digit(js[s]) || js[s] == 't' || js[s] == 'f' || js[s] == 'n')
		return lone_primitive(js, s, e, tok, ntok);
	if (ntok > INT_MAX)
		ntok = INT_MAX; /* jsmn counts in int */
	jsmn_init(&p);
	r = jsmn_parse(&p, js, len, (jsmntok_t *)(void *)tok, ntok);
	if (r == JSMN_ERROR_NOMEM)
		return -ERR_JSON_TOO_COMPLEX;
	if (r <= 0)
		return -ERR_JSON_SYNTAX;
	normalize(tok, r);
	return walk_all(js, len, tok, r);
}

/* ---- token helpers -------------------------------------------------------------------------- */

/* see json.h. Every token stands for itself plus `size` children still to skip. */
int json_next(const struct json_tok *tok, int ntok, int i)
{
	long pending = 1;
	if (i < 0 || i >= ntok)
		return ntok;
	while (pending > 0 && i < ntok) {
		pending += (long)tok[i].size - 1;
		i++;
	}
	return i;
}

/* see json.h */
int json_raw_eq(const char *js, const struct json_tok *t, const char *s)
{
	size_t n = strlen(s);
	return t->end >= t->start && (size_t)(t->end - t->start) == n &&
	       memcmp(js + t->start, s, n) == 0;
}

/* ---- json_str_decode ------------------------------------------------------------------------ */

/* The 4 hex digits at s[0..4) of n bytes, or -1. */
static long hex4(const char *s, size_t n)
{
	long v = 0;
	if (n < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		int d = hex_val(s[k]);
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* Decodes the \u escape at s[0..n) (s[0] == 'u'): one code point, or a surrogate pair.
 * Sets *used to the bytes consumed after the backslash. Returns the code point or -ERR_x. */
static long unicode_escape(const char *s, size_t n, size_t *used)
{
	long hi = hex4(s + 1, n - 1), lo;
	if (hi < 0)
		return -ERR_JSON_SYNTAX;
	*used = 5;
	if (hi == 0 || (hi >= 0xdc00 && hi <= 0xdfff))
		return -ERR_BAD_UTF8; /* U+0000, or a low surrogate first */
	if (hi < 0xd800 || hi > 0xdbff)
		return hi;
	if (n < 7 || s[5] != '\\' || s[6] != 'u')
		return -ERR_BAD_UTF8; /* a high surrogate alone */
	lo = hex4(s + 7, n - 7);
	if (lo < 0)
		return -ERR_JSON_SYNTAX;
	if (lo < 0xdc00 || lo > 0xdfff)
		return -ERR_BAD_UTF8; /* a high surrogate then no low one */
	*used = 11;
	return 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
}

/* UTF-8 of code point cp (no surrogate, <= U+10FFFF) into u; returns its length. */
static size_t utf8_put(char *u, long cp)
{
	if (cp < 0x80) {
		u[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	u[0] = (char)(0xf0 | cp >> 18);
	u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	u[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The escape at s[0..n) (just after a backslash) into u[0..4); sets *used and returns the
 * byte count, or -ERR_x. */
static long escape(const char *s, size_t n, char *u, size_t *used)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit = n > 0 && s[0] ? strchr(from, s[0]) : NULL;
	if (hit) {
		*used = 1;
		u[0] = to[hit - from];
		return 1;
	}
	if (n > 0 && s[0] == 'u') {
		long cp = unicode_escape(s, n, used);
		return cp < 0 ? cp : (long)utf8_put(u, cp);
	}
	return -ERR_JSON_SYNTAX;
}

/* see json.h. A malformed escape (impossible in a token from json_parse) gives
 * -ERR_JSON_SYNTAX. */
long json_str_decode(const char *js, const struct json_tok *t, char *out, size_t cap)
{
	const char *s = js + t->start;
	size_t n = t->end > t->start ? (size_t)(t->end - t->start) : 0, i = 0, o = 0;
	while (i < n) {
		char u[4];
		size_t k = 1, used = 0;
		const char *src = s + i;
		if (s[i] == '\\') {
			long r = escape(s + i + 1, n - i - 1, u, &used);
			if (r < 0)
				return r;
			k = (size_t)r;
			src = u;
		}
		if (cap - o < k)
			return -ERR_OVERFLOW;
		memcpy(out + o, src, k);
		o += k;
		i += 1 + used;
	}
	/* Escapes only yield valid sequences; this also covers raw bytes of unchecked tokens. */
	return utf8_valid(out, o) ? (long)o : -ERR_BAD_UTF8;
}

/* ---- writer --------------------------------------------------------------------------------- */

/* The escape for byte c into e; returns its length, 0 when c passes as is. */
static size_t escape_of(unsigned char c, char e[6])
{
	static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
	static const char hex[] = "0123456789abcdef";
	const char *hit = c ? memchr(from, c, sizeof from - 1) : NULL;
	if (hit) {
		e[0] = '\\';
		e[1] = to[hit - from];
		return 2;
	}
	if (c >= 0x20) /* DEL (0x7f) needs no escape (RFC 8259 7): escaping it would let a body
	                  grow sixfold over the request it came from (acs.h ACS_BODY_OVERHEAD) */
		return 0;
	memcpy(e, "\\u00", 4);
	e[4] = hex[c >> 4];
	e[5] = hex[c & 15];
	return 6;
}

/* see json.h */
void json_put_str(struct buf *b, const char *s, size_t n)
{
	size_t run = 0; /* start of the bytes not yet written */
	buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		char e[6];
		size_t k = escape_of((unsigned char)s[i], e);
		if (k == 0)
			continue;
		buf_append(b, s + run, i - run);
		buf_append(b, e, k);
		run = i + 1;
	}
	buf_append(b, s + run, n - run);
	buf_putc(b, '"');
}

/* see json.h */
void json_put_cstr(struct buf *b, const char *s)
{
	json_put_str(b, s, strlen(s));
}

/* see json.h */
int json_member(const char *js, const struct json_tok *tok, int ntok, int obj, const char *key)
{
	if (obj < 0 || obj >= ntok || tok[obj].type != JSON_OBJECT)
		return -1;
	int i = obj + 1;
	for (int k = 0; k < tok[obj].size && i + 1 < ntok; k++) {
		if (json_raw_eq(js, &tok[i], key))
			return i + 1;
		i = json_next(tok, ntok, i + 1);
	}
	return -1;
}
