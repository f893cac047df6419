/*
 * json.h: the project's only door to jsmn (strict mode). Parsing never allocates: tokens go into
 * the caller's array and point into the caller's text. Strings are decoded on demand into caller
 * buffers, with every escape (including \uXXXX surrogate pairs) resolved and UTF-8 checked.
 * Also the JSON string writer used for every JSON answer and log line.
 */
#ifndef NOTIFY_JSON_H
#define NOTIFY_JSON_H

#include <stddef.h>

#include "buf.h"

/* Nesting depth limit. Our documents are 3 deep (object > attachments array > object); 32 rejects
 * abuse early while leaving room for the Functions payloads of a later stage. */
#define JSON_MAX_DEPTH 32

/* OBJECT and ARRAY equal jsmntype_t's values; STRING and PRIMITIVE do not (Debian's jsmn 1.1.0
 * numbers them 3 and 4): json_parse() converts every token's type after jsmn has run. */
enum json_type {
	JSON_UNDEFINED = 0,
	JSON_OBJECT = 1,
	JSON_ARRAY = 2,
	JSON_STRING = 4,
	JSON_PRIMITIVE = 8,
};

/* One token: layout-identical to jsmntok_t (checked by static asserts in json.c). */
struct json_tok {
	enum json_type type;
	int start; /* byte offset of the first character (after the quote for strings) */
	int end;   /* byte offset just past the last character (before the quote) */
	int size;  /* objects: number of keys; arrays: number of elements; keys: 1 */
};

/*
 * Parses js[0..len) as exactly one JSON value (surrounding whitespace allowed, nothing else).
 * Primitives are checked against the JSON grammar (true, false, null, numbers per RFC 8259);
 * raw string bytes are checked to be valid UTF-8 without control characters; nesting is checked
 * against JSON_MAX_DEPTH. Returns the token count (>= 1), -ERR_JSON_SYNTAX, -ERR_BAD_UTF8, or
 * -ERR_JSON_TOO_COMPLEX when more than `ntok` tokens or JSON_MAX_DEPTH levels would be needed.
 * len must be below INT_MAX.
 */
int json_parse(const char *js, size_t len, struct json_tok *tok, unsigned ntok);

/* Index of the token just past the value at index i (skips its whole subtree). */
int json_next(const struct json_tok *tok, int ntok, int i);

/* Index of the value of the first member named `key` (raw bytes, as json_raw_eq) of the object
 * at token obj, or -1 when obj is not an object or has no such member. */
int json_member(const char *js, const struct json_tok *tok, int ntok, int obj, const char *key);

/* 1 when the raw (undecoded) bytes of string token t equal the NUL-terminated s. */
int json_raw_eq(const char *js, const struct json_tok *t, const char *s);

/*
 * Decodes string token t into out[0..cap): escapes resolved, \uXXXX surrogate pairs joined, the
 * result UTF-8. A lone or reversed surrogate or \u0000 gives -ERR_BAD_UTF8. Returns the decoded
 * length (the output is NOT NUL-terminated) or -ERR_OVERFLOW when cap is too small (never more
 * than the raw length is needed: decoding only shrinks).
 */
long json_str_decode(const char *js, const struct json_tok *t, char *out, size_t cap);

/* Appends s[0..n) as a JSON string with quotes, escaping '"', '\\' and control characters
 * (\b \f \n \r \t as such, the others as \u00XX; DEL passes as it is). s is trusted to be
 * UTF-8; bytes >= 0x80 pass as is. */
void json_put_str(struct buf *b, const char *s, size_t n);

/* json_put_str of a NUL-terminated string. */
void json_put_cstr(struct buf *b, const char *s);

/* 1 when s[0..n) is valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). */
int utf8_valid(const char *s, size_t n);

#endif
