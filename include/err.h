/*
 * err.h: the one error list of notify-handler, and the project's conventions.
 *
 * Conventions (every module follows them; headers say where one differs):
 *  - The caller owns all memory. Modules take state structs and buffers from the caller and never
 *    allocate; only main.c allocates, once, at start-up.
 *  - Functions that can fail return int: >= 0 is success (often a byte or item count), a negative
 *    value is -ERR_x from the list below. ERR_PARTIAL ("need more bytes") is distinct from a
 *    malformed input.
 *  - Pointers MUST NOT be NULL unless the header says so. Buffers travel as (pointer, length);
 *    parsers return pointers into the caller's input and never modify it unless documented.
 *  - Every fixed size is a named constant whose comment says why it has that value.
 *
 * The list: X(name, HTTP status, slug, title). The slug names the problem type in
 * application/problem+json answers ("urn:notify-handler:problem:<slug>"); the title is the
 * short human text. One list feeds the enum, err_str(), err_slug() and err_http_status().
 */
#ifndef NOTIFY_ERR_H
#define NOTIFY_ERR_H

#define FOR_EACH_ERR(X)                                                                            \
	X(OK, 200, "ok", "OK")                                                                     \
	X(PARTIAL, 0, "partial", "Need more input")                                                \
	X(BAD_REQUEST, 400, "bad-request", "Malformed HTTP request")                               \
	X(BAD_CHUNK, 400, "bad-chunk", "Malformed chunked request body")                           \
	X(BAD_FRAMING, 400, "bad-framing", "Conflicting or invalid message framing")               \
	X(HOST_MISSING, 400, "host-missing", "HTTP/1.1 request without Host header")               \
	X(JSON_SYNTAX, 400, "json-syntax", "Request body is not valid JSON")                       \
	X(BAD_UTF8, 400, "bad-utf8", "Text is not valid UTF-8")                                    \
	X(FIELD_MISSING, 400, "field-missing", "A required field is missing")                      \
	X(FIELD_TYPE, 400, "field-type", "A field has the wrong JSON type")                        \
	X(FIELD_INVALID, 400, "field-invalid", "A field has an invalid value")                     \
	X(FIELD_TOO_LONG, 400, "field-too-long", "A field is longer than its limit")               \
	X(FIELD_UNKNOWN, 400, "field-unknown",                                                     \
	  "The request has a field this service does not know")                                    \
	X(FIELD_DUPLICATE, 400, "field-duplicate", "A field appears twice")                        \
	X(TOO_MANY_RECIPIENTS, 400, "too-many-recipients", "Too many recipients")                  \
	X(TOO_MANY_ITEMS, 400, "too-many-items", "Too many items in a list")                       \
	X(SENDER_NOT_ALLOWED, 400, "sender-not-allowed", "This sender address is not allowed")     \
	X(IDEM_KEY_INVALID, 400, "idempotency-key-invalid", "Invalid Idempotency-Key header")      \
	X(HEADER_AMBIGUOUS, 400, "header-ambiguous",                                               \
	  "A header appears twice, or two headers disagree")                                       \
	X(UNAUTHORIZED, 401, "unauthorized", "Missing or invalid API key")                         \
	X(NOT_FOUND, 404, "not-found", "Not found")                                                \
	X(METHOD, 405, "method-not-allowed", "Method not allowed")                                 \
	X(TIMEOUT, 408, "request-timeout", "The request was not received in time")                 \
	X(IDEM_MISMATCH, 409, "idempotency-key-reused",                                            \
	  "Idempotency-Key was already used with a different request")                             \
	X(IDEM_BUSY, 409, "idempotency-key-in-progress",                                           \
	  "A request with this Idempotency-Key is still in progress")                              \
	X(BODY_TOO_LARGE, 413, "body-too-large", "Request body is larger than the limit")          \
	X(JSON_TOO_COMPLEX, 413, "json-too-complex", "Request body has too many JSON values")      \
	X(URI_TOO_LONG, 414, "uri-too-long", "Request target is longer than the limit")            \
	X(MEDIA_TYPE, 415, "unsupported-media-type", "Content-Type must be application/json")      \
	X(EXPECTATION, 417, "expectation-failed", "Only Expect: 100-continue is supported")        \
	X(HEADERS_TOO_LARGE, 431, "headers-too-large",                                             \
	  "Request headers are larger than the limit")                                             \
	X(INTERNAL, 500, "internal", "Internal error")                                             \
	X(OVERFLOW, 500, "overflow", "Internal buffer too small")                                  \
	X(IO, 500, "io", "Input/output error")                                                     \
	X(OUTBOX, 500, "outbox-write-failed", "Could not write the message to the outbox")         \
	X(NOT_IMPLEMENTED, 501, "not-implemented", "Transfer-Encoding other than chunked")         \
	X(UNAVAILABLE, 503, "unavailable", "Service is shutting down or overloaded")               \
	X(NOT_READY, 503, "not-ready", "The service cannot take notifications now")                \
	X(ACS_REJECTED, 422, "acs-rejected", "Azure Communication Services rejected the message")  \
	X(ACS_THROTTLED, 429, "acs-throttled",                                                     \
	  "Azure Communication Services is throttling this subscription")                          \
	X(ACS_CONFIG, 502, "acs-configuration",                                                    \
	  "Azure Communication Services refused this service's configuration")                     \
	X(UPSTREAM, 502, "upstream-error", "Azure Communication Services answered with an error")  \
	X(UPSTREAM_BAD_RESPONSE, 502, "upstream-bad-response",                                     \
	  "The upstream service sent a malformed answer")                                          \
	X(UPSTREAM_CONNECT, 502, "upstream-connect", "Could not connect to the upstream service")  \
	X(TLS_CERT, 502, "tls-certificate", "The upstream server's certificate was refused")       \
	X(TLS_HANDSHAKE, 502, "tls-handshake",                                                     \
	  "The TLS handshake with the upstream server failed")                                     \
	X(IDENTITY, 502, "identity-token", "Could not get a managed-identity token")               \
	X(UPSTREAM_UNAVAILABLE, 503, "upstream-unavailable",                                       \
	  "Azure Communication Services is unavailable")                                           \
	X(NOT_CONFIGURED, 503, "not-configured", "No e-mail transport is configured")              \
	X(UPSTREAM_TIMEOUT, 504, "upstream-timeout", "The upstream service did not answer in time")

enum err {
#define ERR_ENUM(name, status, slug, title) ERR_##name,
	FOR_EACH_ERR(ERR_ENUM)
#undef ERR_ENUM
	    ERR_COUNT
};

/* The short title of e (accepts e or -e); "Unknown error" outside the list. */
const char *err_str(int e);

/* The problem-type slug of e (accepts e or -e). */
const char *err_slug(int e);

/* A short English text for the errno values start-up and the outbox meet ("permission
 * denied"); "system error <n>" is left to the caller for the others, which get NULL. libc's
 * strerror would pull a 4 KB message table into the static binary for the same few lines. */
const char *err_errno_str(int errnum);

/* The HTTP status of e (accepts e or -e); 500 outside the list, 0 for ERR_PARTIAL. */
int err_http_status(int e);

#endif
