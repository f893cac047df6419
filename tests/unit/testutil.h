/*
 * testutil.h: helpers shared by the unit tests: reading the
 * top-level members of a JSON object (a log line, an answer body) through json.h. Include after
 * <cmocka.h>. Everything is static inline so a test that uses part of it has no unused-function
 * warnings.
 */
#ifndef NOTIFY_TESTUTIL_H
#define NOTIFY_TESTUTIL_H

#include <string.h>

#include "json.h"

/* Tokens for the documents the tests read: log lines and answers have a dozen members. */
#define TU_JSON_TOK 128

struct tu_json {
	const char *js;
	size_t len;
	int n; /* token count */
	struct json_tok tok[TU_JSON_TOK];
};

/* Parses js[0..len) strictly; asserts it is one JSON object with no duplicate member names.
 * Returns the number of members. */
static inline int tu_json_object(struct tu_json *j, const char *js, size_t len)
{
	j->js = js;
	j->len = len;
	j->n = json_parse(js, len, j->tok, TU_JSON_TOK);
	if (j->n < 1)
		fail_msg("not valid JSON (%d): %.*s", j->n, (int)len, js);
	assert_int_equal(j->tok[0].type, JSON_OBJECT);
	int members = j->tok[0].size;
	for (int i = 1, m = 0; m < members; m++, i = json_next(j->tok, j->n, i)) {
		assert_int_equal(j->tok[i].type, JSON_STRING);
		for (int k = json_next(j->tok, j->n, i), m2 = m + 1; m2 < members;
		     m2++, k = json_next(j->tok, j->n, k)) {
			size_t a = (size_t)(j->tok[i].end - j->tok[i].start);
			size_t b = (size_t)(j->tok[k].end - j->tok[k].start);
			if (a == b && memcmp(js + j->tok[i].start, js + j->tok[k].start, a) == 0)
				fail_msg("duplicate member \"%.*s\"", (int)a, js + j->tok[i].start);
		}
	}
	return members;
}

/* Index of the value of top-level member `key`, or -1 when absent. */
static inline int tu_json_find(const struct tu_json *j, const char *key)
{
	for (int i = 1, m = 0; m < j->tok[0].size; m++, i = json_next(j->tok, j->n, i))
		if (json_raw_eq(j->js, &j->tok[i], key))
			return i + 1;
	return -1;
}

/* Decoded string value of member `key` into out (NUL-terminated); asserts present and a string. */
static inline const char *tu_json_str(const struct tu_json *j, const char *key, char *out,
                                      size_t cap)
{
	int v = tu_json_find(j, key);
	if (v < 0)
		fail_msg("no member \"%s\" in %.*s", key, (int)j->len, j->js);
	assert_int_equal(j->tok[v].type, JSON_STRING);
	long r = json_str_decode(j->js, &j->tok[v], out, cap - 1);
	assert_true(r >= 0);
	out[r] = 0;
	return out;
}

/* Raw text of primitive member `key` (number, true, false, null) into out; asserts present. */
static inline const char *tu_json_prim(const struct tu_json *j, const char *key, char *out,
                                       size_t cap)
{
	int v = tu_json_find(j, key);
	if (v < 0)
		fail_msg("no member \"%s\" in %.*s", key, (int)j->len, j->js);
	assert_int_equal(j->tok[v].type, JSON_PRIMITIVE);
	size_t n = (size_t)(j->tok[v].end - j->tok[v].start);
	assert_true(n < cap);
	memcpy(out, j->js + j->tok[v].start, n);
	out[n] = 0;
	return out;
}

/* Single quotes to double quotes, so JSON literals (envelopes, events) read as JSON in the
 * source. The result lives in a static buffer until the next call. */
static inline const char *jq(const char *s)
{
	static char out[8192];
	size_t n = strlen(s);
	assert_true(n < sizeof out);
	for (size_t i = 0; i <= n; i++)
		out[i] = s[i] == '\'' ? '"' : s[i];
	return out;
}

#endif
