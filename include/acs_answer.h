/*
 * acs_answer.h: what an answer of ACS Email says, and how the service answers its client for
 * it. Pure functions (no I/O, no state), used by acs.c and driven by the fuzzer.
 *
 * The answers (https://learn.microsoft.com/rest/api/communication/email/email/send, section
 * "Responses", and .../email/get-send-result): a 202 or 200 carries EmailSendResult
 * {"id","status","error"}; an error carries ErrorResponse {"error":{"code","message","target",
 * ...}} and the header x-ms-error-code (the same code), and its body may be empty.
 */
#ifndef NOTIFY_ACS_ANSWER_H
#define NOTIFY_ACS_ANSWER_H

#include <stddef.h>

#include "http.h"
#include "json.h"
#include "notify.h"
#include "transport.h"

/* Operation id as ACS echoes it (a GUID, 36 characters, sometimes upper-case), with room. */
#define ACS_ID_MAX 64
/* Longest operation status and error message kept from an answer. */
#define ACS_STATUS_MAX  32
#define ACS_MESSAGE_MAX 160

/* What an ACS answer said (EmailSendResult or ErrorResponse, and x-ms-error-code). */
struct acs_answer {
	char id[ACS_ID_MAX];
	char status[ACS_STATUS_MAX];   /* "Running", "Succeeded", ...; "" when absent */
	char code[TRANSPORT_CODE_MAX]; /* error.code, else x-ms-error-code; "" when absent */
	char message[ACS_MESSAGE_MAX]; /* error.message, control characters replaced; or "" */
	char target[NOTIFY_FIELD_MAX]; /* error.target (the property at fault); or "" */
};

/*
 * Reads an ACS answer body: EmailSendResult {"id","status","error"} or ErrorResponse {"error":
 * {"code","message","target",...}}, leniently (unknown members, nulls, and an empty body are
 * fine). Returns 0, or -ERR_JSON_SYNTAX / -ERR_JSON_TOO_COMPLEX for a body that is not JSON.
 */
int acs_answer_parse(const char *body, size_t n, struct json_tok *tok, unsigned ntok,
                     struct acs_answer *out);

/*
 * Reads a whole answer: its body (acs_answer_parse) and, when the body names no error code (an
 * empty error body), the x-ms-error-code header of res, cut to its leading run of
 * [A-Za-z0-9._-] (codes are identifiers). A body that is not JSON leaves out empty but for that
 * header's code.
 */
void acs_answer_read(const struct http_response *res, const char *body, size_t n,
                     struct json_tok *tok, unsigned ntok, struct acs_answer *out);

/*
 * How to answer a final ACS error status (not 2xx): fills r (http_status, retryable, code,
 * detail with a one-line hint) from the status, the parsed answer and whether the request used
 * a bearer token, and returns the -ERR_x to answer with.
 */
int acs_classify(int status, const struct acs_answer *ans, int bearer, int retry_after_s,
                 struct transport_result *r);

/* Writes one detail line into r->detail: a, then b (may be NULL), then c (may be NULL). When
 * the three do not fit, b (the service's own words) is shortened, on a UTF-8 character
 * boundary, so the hint in c survives. */
void acs_detail(struct transport_result *r, const char *a, const char *b, const char *c);

/* Copies s[0..n) into dst[0..cap) (cap > 0), cut to cap - 1 bytes, NUL-terminated. */
void acs_copy_str(char *dst, size_t cap, const char *s, size_t n);

#endif
