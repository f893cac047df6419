/*
 * invoke.h: the Azure Functions custom-handler invocation envelope (payload mode). The host POSTs
 * /<FunctionName> with {"Data":{...},"Metadata":{...}}; the handler answers 200 application/json
 * with {"Outputs":{...},"Logs":[...],"ReturnValue":null}. This module reads the first and writes
 * the second; it is pure (no socket, no clock) and never allocates.
 *
 * Reading. invoke_http_parse() and invoke_queue_parse() run json_parse() over the whole envelope
 * into the caller's token array, check the shape of the parts they use, and decode the strings
 * they keep into the caller's scratch. Everything else is ignored: unknown keys at any level (the
 * host adds fields over versions), Metadata of an HTTP invocation, Identities, sys, RetryContext.
 * Keys are matched ASCII case-insensitively (the host's own dictionaries for headers, query and
 * route values are case-insensitive; the envelope's keys are matched the same way for
 * tolerance). When a key appears twice (the host never sends that) the first one wins,
 * everywhere, lookups included; invoke_header_count() sees every value, so a caller can refuse
 * a repeated security header instead.
 *
 *   struct invoke_http h;
 *   struct notify_error e;
 *   struct notify_str ct;
 *   char ctbuf[128];
 *   if (invoke_http_parse(body, len, "req", tok, INVOKE_MAX_TOKENS, scratch, len, &h, &e) < 0)
 *           ...answer 200 with Outputs.res 400 from e...
 *   if (invoke_header(&h, "Content-Type", ctbuf, sizeof ctbuf, &ct) == 1) ...
 *
 * Writing. struct invoke_out appends the answer to a struct buf, in the order the JSON needs:
 * invoke_out_begin(), any outputs, any log lines, invoke_out_end(). Errors are sticky, as the
 * buf's own overflow: check once, at invoke_out_end().
 *
 * Host shapes this follows (Azure/azure-functions-host, HttpRequestExtensions.cs
 * GetRequestAsJObject and ScriptInvocationContextExtensions.cs; the payload is described at
 * https://learn.microsoft.com/azure/azure-functions/functions-custom-handlers, "Request payload"):
 *   Data.<req>.Url      string "scheme://host/path?query"
 *   Data.<req>.Method   string
 *   Data.<req>.Query    object of strings (repeated keys already comma-joined by the host), or,
 *                       in host versions that used GetQueryCollectionAsString, a string holding
 *                       that object as JSON text ("{}", "{\"a\":\"1\"}")
 *   Data.<req>.Headers  object whose values are arrays of strings
 *   Data.<req>.Params   object of route values, present only when the route has some
 *   Data.<req>.Body     string; Base64 text for application/octet-stream and multipart types;
 *                       absent when the request had no Content-Length or Content-Length 0
 *   Data.<msg>          a queue message: a string JSON-encoded once more by the host
 *   Metadata            DequeueCount, Id, PopReceipt, ... of the queue message
 */
#ifndef NOTIFY_INVOKE_H
#define NOTIFY_INVOKE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "json.h"
#include "notify.h"

/* Tokens for one envelope. An HTTP invocation carries the headers (a typical browser or SDK
 * request has 10-40: each a key, an array and a value, 120 tokens at 40), Query and Params (a
 * few), and Identities: with App Service authentication a ClaimsIdentity serializes each claim
 * as an object of 6 members (13 tokens); an Entra ID token has 20-40 claims and there may be a
 * second identity for the function key, so ~1100 tokens in the worst realistic case. 2048 (32 KiB
 * of tokens) covers that with room; a string Query is parsed into the tokens left over. More
 * than this is -ERR_JSON_TOO_COMPLEX. A queue envelope needs about 30. */
#define INVOKE_MAX_TOKENS 2048

/* String layers invoke_queue_parse() decodes at most. The host JSON-encodes a string message
 * once more (ScriptInvocationContextExtensions.cs: JsonConvert.SerializeObject of a string), so
 * a producer that itself sends a JSON string gives 2 layers; 3 also covers a producer that
 * encodes twice by mistake. A deeper message is handed back at layer 3, still quoted. */
#define INVOKE_MAX_UNWRAP 3

/* Longest key a lookup compares after decoding escapes (a key written with \u escapes is
 * decoded into a stack buffer of this size; keys without escapes are compared in place, at any
 * length). Header, query and route names are short ASCII tokens; a name longer than this never
 * matches. */
#define INVOKE_MAX_KEY 256

/* What Data.<req>.Body was. */
enum invoke_body {
	INVOKE_BODY_NONE = 0, /* absent or null: the request had no body (len 0) */
	INVOKE_BODY_STRING,   /* a JSON string, decoded into the scratch: the body text, or Base64
	                         of the bytes for octet-stream and multipart types */
	INVOKE_BODY_JSON,     /* an object, array, number, true or false: its raw JSON text in the
	                         envelope (some host versions pass JSON bodies as values) */
};

/* One object of the envelope that lookups scan: Query, Headers or Params. */
struct invoke_map {
	const char *js;             /* text the tokens point into: the envelope or the scratch */
	const struct json_tok *tok; /* tokens of js */
	int ntok;                   /* tokens valid in tok */
	int obj;                    /* index of the object in tok, -1 when absent or null */
};

/*
 * An HTTP trigger. Strings are UTF-8, not NUL-terminated. The lookups scan the caller's token
 * array again (a dozen to a few hundred tokens, a handful of lookups per request), so there is
 * no fixed header table to size and no request is refused for having many headers. The caller
 * keeps the envelope, the token array and the scratch alive while it uses the struct.
 */
struct invoke_http {
	struct notify_str method; /* as sent, e.g. "POST" (decoded, in the scratch) */
	struct notify_str url;    /* "https://app.azurewebsites.net/api/mail?code=..." (scratch) */
	struct notify_str path;   /* part of url: from the '/' after the authority to '?' or '#',
	                             still percent-encoded; len 0 when url has no path */
	struct notify_str body;   /* len 0 for INVOKE_BODY_NONE */
	enum invoke_body body_kind;
	struct invoke_map query, headers, params;
};

/* A queue trigger. */
struct invoke_queue {
	struct notify_str text; /* the innermost message text (see invoke_queue_parse): in the
	                           envelope (layers 0) or in the scratch */
	unsigned layers;        /* string layers decoded, 0..INVOKE_MAX_UNWRAP */
	uint32_t dequeue_count; /* Metadata.DequeueCount; 0 when absent or null */
	struct notify_str id;   /* Metadata.Id (scratch); len 0 when absent or null */
};

/*
 * Parses the envelope body[0..len) of an HTTP-triggered invocation whose trigger binding is
 * called `name` (function.json "name", e.g. "req") and fills *h. `tok` holds `ntok` tokens
 * (INVOKE_MAX_TOKENS). Kept strings are decoded into scratch[0..cap): a scratch of `len` bytes
 * always suffices (decoding only shrinks, and each kept string is a different part of body).
 *
 * Shape: the envelope is an object with an object Data holding an object Data.<name>. In it,
 * Url and Method are required strings; Query is an object, a string holding a JSON object, "",
 * null or absent; Headers and Params are objects, null or absent; Body is anything (see enum
 * invoke_body). Values in Query and Params are strings, numbers, true, false or null (null
 * counts as absent); in Headers they may also be arrays of those. Identities and unknown keys
 * are ignored.
 *
 * Returns 0, or fills *e and returns -ERR_JSON_SYNTAX, -ERR_BAD_UTF8, -ERR_JSON_TOO_COMPLEX (more
 * than ntok tokens or JSON_MAX_DEPTH levels), -ERR_FIELD_TYPE (the envelope, Data, the binding or
 * a member has the wrong JSON type), -ERR_FIELD_MISSING (Data, Data.<name>, Url, Method),
 * -ERR_FIELD_INVALID (a string Query that is not a JSON object), -ERR_BAD_UTF8 (a kept string
 * holds a lone surrogate or \u0000) or -ERR_OVERFLOW (scratch too small). e->field names the
 * member at fault ("Data.req.Headers.Accept"), "" when the envelope as a whole is.
 */
int invoke_http_parse(const char *body, size_t len, const char *name, struct json_tok *tok,
                      unsigned ntok, char *scratch, size_t cap, struct invoke_http *h,
                      struct notify_error *e);

/*
 * Lookups by name, ASCII case-insensitive, first match. The value is a string (decoded), or the
 * raw text of a number, true or false. For a header whose value is an array (the host's shape)
 * it is the first element: the host keeps repeated header lines as separate elements and this
 * module does not join them (nothing we read is a list header). *val points into the envelope
 * or the scratch when the value needs no decoding, else into out[0..cap) (out may be NULL when
 * cap is 0). Return 1 when found, 0 when absent (also: null, an empty array, no such map),
 * -ERR_OVERFLOW when the decoded value does not fit in cap (cap = the envelope's length always
 * does), -ERR_BAD_UTF8 when it holds a lone surrogate or \u0000 escape.
 *
 * Test seam: invoke_query. No route reads the query map (the routes take nothing from the query
 * string), but the envelope's Query is parsed and checked like Headers and Params, so the tests
 * and the fuzzer read it through this.
 */
int invoke_query(const struct invoke_http *h, const char *name, char *out, size_t cap,
                 struct notify_str *val);
int invoke_header(const struct invoke_http *h, const char *name, char *out, size_t cap,
                  struct notify_str *val);
int invoke_param(const struct invoke_http *h, const char *name, char *out, size_t cap,
                 struct notify_str *val);

/* How many values the header `name` has: the elements of its array (null ones not counted) or
 * 1 for a single value, summed over every member that matches (ASCII case-insensitive). More
 * than 1 means the client sent the header line more than once. */
int invoke_header_count(const struct invoke_http *h, const char *name);

/*
 * Parses the envelope body[0..len) of a queue-triggered invocation whose trigger binding is
 * called `name` (e.g. "msg") and fills *q. Same envelope checks and errors as
 * invoke_http_parse(), but Data.<name> may be any JSON value:
 *  - not a string (object, array, number, ...): q->text is its raw JSON text, layers 0;
 *  - a string: decoded (layer 1); then, while the text after leading JSON whitespace starts
 *    with '"' and is exactly one JSON string, that string is decoded again, up to
 *    INVOKE_MAX_UNWRAP layers in all. Text starting with '{' or '[' is the message; text that
 *    is not a JSON string (e.g. the doc's "{ message: ... }" or a bare word) is handed back as
 *    it is. A layer holding a lone surrogate or \u0000 escape gives -ERR_BAD_UTF8.
 * Metadata (optional; an object or null) gives DequeueCount (a non-negative integer number or a
 * string of decimal digits, at most UINT32_MAX: else -ERR_FIELD_INVALID, or -ERR_FIELD_TYPE
 * for another type) and Id (a string). Decoding needs scratch[0..cap): the string layers are
 * decoded back and forth between two areas, so a scratch of 2 * len bytes always suffices.
 */
int invoke_queue_parse(const char *body, size_t len, const char *name, struct json_tok *tok,
                       unsigned ntok, char *scratch, size_t cap, struct invoke_queue *q,
                       struct notify_error *e);

/* ---- the answer -------------------------------------------------------------------------- */

/* One header of an http output; both NUL-terminated. The name must be an RFC 9110 token and
 * the value free of control characters other than HTAB, else the output is refused. */
struct invoke_hdr {
	const char *name;
	const char *value;
};

/* The answer writer. The fields are private to invoke.c. */
struct invoke_out {
	struct buf *b;
	int section;    /* which part is open: outputs, logs, or none (ended) */
	unsigned items; /* items written in the open part (for the commas) */
	int err;        /* 0, or the first -ERR_x of a refused call (sticky) */
};

/* Starts the answer in b: {"Outputs":{ . b stays the caller's; invoke_out keeps a pointer. */
void invoke_out_begin(struct invoke_out *o, struct buf *b);

/*
 * Adds the http output `name` (function.json "name", e.g. "res"):
 *   "res":{"statusCode":202,"headers":{"Content-Type":"application/json"},"body":"..."}
 * status is 100..999; hdrs[0..nhdrs) may be NULL when nhdrs is 0; body[0..len) (NULL when len is
 * 0) is written as a JSON string, so it must be UTF-8 text (binary bodies are not supported).
 * Header names must differ (ASCII case-insensitive). A refused call writes nothing and makes
 * the error sticky: -ERR_INTERNAL (bad status, header, order) or -ERR_BAD_UTF8 (name or body
 * not UTF-8).
 */
void invoke_out_http(struct invoke_out *o, const char *name, int status,
                     const struct invoke_hdr *hdrs, size_t nhdrs, const char *body, size_t len);

/*
 * Adds the non-http output `name` (a queue output, e.g. "outMsg") whose value is text[0..len)
 * written as a JSON string, so the host stores exactly that text. Meant for JSON text. The host
 * Base64-decodes any string output that happens to be valid Base64 (the host does so in
 * DefaultHttpWorkerService.cs of https://github.com/Azure/azure-functions-host), so
 * text made only of Base64 characters ('A'-'Z', 'a'-'z', '0'-'9', '+', '/', '=') and whitespace
 * - the empty text included - is refused with -ERR_INTERNAL; JSON objects and arrays never are.
 * Text that is not UTF-8 is refused with -ERR_BAD_UTF8.
 */
void invoke_out_string(struct invoke_out *o, const char *name, const char *text, size_t len);

/* Adds one log line (UTF-8, else -ERR_BAD_UTF8); the host logs it at Information level. The
 * first line closes Outputs: no output may follow a log line (-ERR_INTERNAL). */
void invoke_out_log(struct invoke_out *o, const char *line, size_t len);

/* Ends the answer: closes the open part, adds "Logs":[] when there was no line, then
 * "ReturnValue":null}. Returns 0, the first refused call's -ERR_x, or b's sticky error
 * (-ERR_OVERFLOW, -ERR_IO). Nothing may be added afterwards (-ERR_INTERNAL). */
int invoke_out_end(struct invoke_out *o);

#endif
