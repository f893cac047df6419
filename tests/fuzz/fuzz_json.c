/*
 * fuzz_json.c: json.h under libFuzzer. Every accepted document must have a consistent token
 * tree that prints back to the input minus its whitespace (so no comma, colon or bracket was
 * skipped or invented); every string must decode into a buffer of the input length to valid UTF-8,
 * and the writer's encoding of that must parse back to one string with the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "json.h"
#include "fuzz.h"

/* More tokens than any input of the default -max_len can need for its first levels; an input
 * needing more must fail cleanly with -ERR_JSON_TOO_COMPLEX. */
#define FUZZ_NTOK 2048

static struct json_tok tok[FUZZ_NTOK];

/* Decodes token t, checks the result, re-encodes it and parses that back. */
static void check_string(const char *js, size_t len, const struct json_tok *t, char *out,
                         char *out2, char *enc)
{
	struct json_tok t2[2];
	struct buf b;
	long n = json_str_decode(js, t, out, len);
	if (n == -ERR_BAD_UTF8)
		return; /* lone surrogate or \u0000: refused, nothing to check */
	CHECK(n >= 0 && (size_t)n <= (size_t)(t->end - t->start));
	CHECK(utf8_valid(out, (size_t)n));
	CHECK(memchr(out, 0, (size_t)n) == NULL);
	buf_init(&b, enc, 6 * (size_t)n + 2); /* \u00XX is the longest escape: 6 per byte */
	json_put_str(&b, out, (size_t)n);
	CHECK(buf_finish(&b) == 0);
	CHECK(json_parse(enc, b.len, t2, 2) == 1);
	CHECK(t2[0].type == JSON_STRING && t2[0].start == 1 && (size_t)t2[0].end == b.len - 1);
	CHECK(json_str_decode(enc, &t2[0], out2, b.len) == n);
	CHECK(memcmp(out, out2, (size_t)n) == 0);
}

/* Prints the value at token i compactly from the tokens (raw string and primitive text);
 * returns the index past it. Recursion is bounded by JSON_MAX_DEPTH. */
static int reprint(const char *js, int i, struct buf *b)
{
	const struct json_tok *t = &tok[i];
	int j = i + 1;
	if (t->type == JSON_STRING || t->type == JSON_PRIMITIVE) {
		int q = t->type == JSON_STRING;
		buf_append(b, js + t->start - q, (size_t)(t->end - t->start + 2 * q));
		return j;
	}
	buf_putc(b, t->type == JSON_OBJECT ? '{' : '[');
	for (int k = 0; k < t->size; k++) {
		if (k > 0)
			buf_putc(b, ',');
		if (t->type == JSON_OBJECT) {
			CHECK(tok[j].type == JSON_STRING && tok[j].size == 1);
			j = reprint(js, j, b);
			buf_putc(b, ':');
		}
		j = reprint(js, j, b);
	}
	buf_putc(b, t->type == JSON_OBJECT ? '}' : ']');
	return j;
}

/* js[0..n) without the JSON whitespace outside strings, into out; returns its length. */
static size_t strip(const char *js, size_t n, char *out)
{
	size_t o = 0;
	int in_str = 0;
	for (size_t i = 0; i < n; i++) {
		char c = js[i];
		if (!in_str && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
			continue;
		out[o++] = c;
		if (in_str && c == '\\' && i + 1 < n)
			out[o++] = js[++i];
		else if (c == '"')
			in_str = !in_str;
	}
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *js = (const char *)data;
	int n = json_parse(js, size, tok, FUZZ_NTOK);
	if (n < 0) {
		CHECK(n == -ERR_JSON_SYNTAX || n == -ERR_BAD_UTF8 || n == -ERR_JSON_TOO_COMPLEX);
		return 0;
	}
	CHECK(n >= 1 && n <= FUZZ_NTOK);
	CHECK(json_next(tok, n, 0) == n);
	char *out = malloc(size + 1), *out2 = malloc(size + 1), *enc = malloc(6 * size + 2);
	CHECK(out && out2 && enc);
	for (int i = 0; i < n; i++) {
		const struct json_tok *t = &tok[i];
		CHECK(t->start >= 0 && t->start <= t->end && (size_t)t->end <= size);
		CHECK(json_next(tok, n, i) > i && json_next(tok, n, i) <= n);
		if (i > 0)
			CHECK(t->start > tok[i - 1].start); /* preorder, by position */
		switch (t->type) {
		case JSON_STRING:
			memcpy(out, js + t->start, (size_t)(t->end - t->start));
			out[t->end - t->start] = '\0';
			CHECK(memchr(out, 0, (size_t)(t->end - t->start)) ||
			      json_raw_eq(js, t, out));
			check_string(js, size, t, out, out2, enc);
			break;
		case JSON_PRIMITIVE:
			CHECK(t->size == 0 && strchr("-0123456789tfn", js[t->start]));
			break;
		case JSON_OBJECT:
		case JSON_ARRAY:
			CHECK(js[t->start] == (t->type == JSON_OBJECT ? '{' : '['));
			CHECK(js[t->end - 1] == (t->type == JSON_OBJECT ? '}' : ']'));
			break;
		default:
			CHECK(0);
		}
	}
	struct buf b;
	buf_init(&b, enc, size + 1);
	CHECK(reprint(js, 0, &b) == n && buf_finish(&b) == 0);
	size_t k = strip(js, size, out);
	CHECK(b.len == k && memcmp(enc, out, k) == 0);
	free(out);
	free(out2);
	free(enc);
	return 0;
}
