/*
 * acs.h: the Azure Communication Services (ACS) Email client, behind transport.h.
 * The API: https://learn.microsoft.com/rest/api/communication/email/email (operations "Send"
 * and "Get Send Result"):
 *
 *   POST /emails:send?api-version=V             body from the validated notify_msg (acs_body.h)
 *   GET  /emails/operations/<id>?api-version=V  status of an operation
 *
 * over our own HTTP/1.1 client (http_client.h) and TLS (tls.h), one kept-alive connection per
 * worker, authenticated by an HMAC-SHA256 signature (acs_auth.h, access key from the
 * connection string) or by a managed-identity bearer token (acs_token.h) fetched over plain
 * HTTP from IDENTITY_ENDPOINT and cached in fixed memory until ACS_TOKEN_REFRESH_S before it
 * expires. Answers are read and classified by acs_answer.h.
 *
 * Exactly-once: every send carries `Operation-Id: <id>` (the notification's id: random, or
 * derived from the Idempotency-Key) and every retry of it reuses that id and the same body bytes
 * (re-signed with a fresh date). ACS adopts the Operation-Id as the operation's id ("Send",
 * section "Request Header": Operation-Id), so a retry after a lost answer finds the first
 * operation instead of creating a second e-mail. The GA API versions have no repeatability-*
 * headers (they existed only in 2021-10-01-preview); Operation-Id is the GA's way to make a
 * POST repeatable.
 *
 * Retries, within one total deadline: connection failures, timeouts, 408, 500, 502, 504 and
 * malformed answers with capped exponential backoff and jitter; 429 and 503 wait for their
 * Retry-After when it fits before the deadline, else the caller gets 429/503 with Retry-After
 * (a throttled subscription must not hold a worker for minutes: the limits are per
 * subscription and per hour,
 * https://learn.microsoft.com/azure/communication-services/concepts/service-limits, section
 * "Email", "Rate limits"); any other 4xx is final. A kept-alive connection that turns out dead
 * before any answer byte is re-opened at once, without counting as an attempt (RFC 9112
 * section 9.3.1 "Retrying Requests"). TLS certificate and handshake failures are final (502 with
 * BearSSL's reason): nothing is sent to a server we could not verify.
 *
 * Memory: struct acs (process-wide, read-only after acs_init except the token cache under its
 * mutex) and struct acs_worker (one per worker, acs_worker_size() bytes) are the caller's.
 * Nothing here allocates; host names are resolved by our own stub resolver (dns.h), anew for
 * every new connection.
 *
 * Secrets: the access key stays in struct acs_conn; the token, the IDENTITY_HEADER value and
 * the Authorization header never reach a log line, an answer or a file.
 */
#ifndef NOTIFY_ACS_H
#define NOTIFY_ACS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "acs_answer.h"
#include "acs_auth.h"
#include "acs_body.h"
#include "acs_token.h"
#include "http.h"
#include "id.h"
#include "json.h"
#include "notify.h"
#include "tls.h"
#include "transport.h"

/* The API version of the contract; 2025-09-01 is the other GA version (the
 * api-version values of https://learn.microsoft.com/rest/api/communication/email/email). */
#define ACS_API_VERSION_DEFAULT "2023-03-31"
/* "YYYY-MM-DD" or "YYYY-MM-DD-preview" with room to spare. */
#define ACS_API_VERSION_MAX 32

/* Request head without the Authorization value: request line (about 90 bytes), Host, the fixed
 * fields and the HMAC lines (241 bytes), about 700 bytes; 2 KiB more than the longest token. */
#define ACS_HEAD_MAX (ACS_TOKEN_MAX + 2048)

/* ACS refuses requests over 10 MB
 * (https://learn.microsoft.com/azure/communication-services/concepts/service-limits, section
 * "Email", "Size limits"); we refuse them first (413) instead of uploading them. */
#define ACS_MAX_REQUEST (10 * 1000 * 1000)

/* Response bytes kept: ACS answers are under 1 KB; error bodies with details a few KB. A longer
 * answer is malformed for our purpose (502). */
#define ACS_RESP_MAX 16384
/* JSON tokens of an answer (EmailSendResult, ErrorResponse with details, a token response). */
#define ACS_RESP_TOKENS 256

/* Request target of a send or a status lookup: "/emails/operations/" (19 characters), an
 * operation id (ID_LEN), "?api-version=" (13) and the version, with room. */
#define ACS_TARGET_MAX (40 + ID_LEN + ACS_API_VERSION_MAX)

/* A kept-alive connection idle longer than this is closed and opened anew rather than reused:
 * Azure Front Door drops idle client connections after about 4 minutes; reusing one that is
 * being closed would cost a retry. */
#define ACS_IDLE_REUSE_MS 60000
/* How often a wait between attempts checks whether the process is draining. */
#define ACS_STOP_POLL_MS 20

/* Longest single backoff sleep between attempts (the .NET and Java SDKs cap at 8 s-1 min). */
#define ACS_BACKOFF_MAX_MS 8000

struct acs_settings {
	const char *connection_string; /* "endpoint=...;accesskey=..." or NULL/"" */
	const char *endpoint;          /* ACS_ENDPOINT (managed identity) or NULL/"" */
	const char *api_version;       /* NULL/"": ACS_API_VERSION_DEFAULT */
	const char *sender;            /* bare senderAddress */
	const char *identity_endpoint; /* IDENTITY_ENDPOINT, http://host[:port]/path[?query] */
	const char *identity_header;   /* IDENTITY_HEADER (secret) */
	const char *client_id;         /* AZURE_CLIENT_ID of a user-assigned identity, or "" */
	int timeout_ms;                /* total deadline of one send or status call */
	int attempt_timeout_ms;        /* connect+TLS+answer of one attempt at most */
	int attempts;                  /* attempts at most (1 = no retry) */
	int backoff_ms;                /* first backoff; doubles, capped at ACS_BACKOFF_MAX_MS */
};

struct acs {
	struct acs_conn conn; /* endpoint and, for HMAC, the key */
	int bearer;           /* 1: managed identity (conn has no key) */
	char api_version[ACS_API_VERSION_MAX + 1];
	const char *sender;
	int timeout_ms, attempt_timeout_ms, attempts, backoff_ms;
	const struct tls_anchors *anchors;
	/* Managed identity endpoint, split at start-up. */
	char id_host[ACS_MAX_HOST + 1];
	char id_authority[ACS_MAX_AUTHORITY + 1];
	uint16_t id_port;
	char id_target[ACS_IDENTITY_TARGET_MAX];
	char id_header[ACS_IDENTITY_SECRET_MAX + 1];
	/* The token cache: one fetch at a time; workers copy the token out under the lock. */
	pthread_mutex_t mu;
	char token[ACS_TOKEN_MAX + 1];
	size_t token_len;
	int64_t token_expires; /* Unix seconds; 0: none */
	atomic_int stopping;   /* set by acs_stop_waiting: no more sleeps between attempts */
};

/* One worker's connection and buffers. Allocate acs_worker_size() bytes. */
struct acs_worker {
	const struct acs *a;
	struct tls_client tls;
	int fd;          /* -1: no connection */
	int64_t idle_ms; /* CLOCK_MONOTONIC ms when the connection was last used */
	uint64_t rng;    /* xorshift state for backoff jitter */
	struct http_header hdr[HTTP_MAX_HEADERS];
	struct json_tok tok[ACS_RESP_TOKENS];
	char resp[ACS_RESP_MAX];
	char token[ACS_TOKEN_MAX + 1];
	size_t req_cap; /* bytes of req */
	char req[];     /* ACS_HEAD_MAX bytes of head room, then the body */
};

/* Bytes of one struct acs_worker for request bodies of max_body bytes. */
size_t acs_worker_size(size_t max_body);

/*
 * Start-up: checks and splits the settings into a. Exactly one of connection_string and
 * endpoint; with endpoint, identity_endpoint and identity_header are required. anchors MUST stay
 * alive and unchanged. Returns 0, or -ERR_FIELD_INVALID with one line in err naming the setting
 * (never echoing a secret).
 */
int acs_init(struct acs *a, const struct acs_settings *s, const struct tls_anchors *anchors,
             char *err, size_t errcap);

/* Once per worker, on its size bytes of memory (acs_worker_size). */
void acs_worker_init(struct acs_worker *w, const struct acs *a, size_t size);

/* From now on no send waits between attempts (a backoff or a Retry-After): a wait in progress
 * ends within ACS_STOP_POLL_MS and the send answers with what it has (429/503 with Retry-After,
 * 502/504), so the process drains in time; the queue, or the client, retries later. Called by
 * the server when SIGTERM starts the drain. */
void acs_stop_waiting(void *a);

/* Closes the worker's connection (at shutdown). */
void acs_worker_close(struct acs_worker *w);

/* The transport over a (sends and statuses take the worker's struct acs_worker as wctx). */
void transport_acs(struct transport *t, struct acs *a);

#endif
