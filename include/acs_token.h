/*
 * acs_token.h: the managed-identity token of the ACS client: fetched over plain HTTP from the
 * local token service of App Service and Functions (IDENTITY_ENDPOINT with the
 * X-IDENTITY-HEADER secret;
 * https://learn.microsoft.com/azure/app-service/overview-managed-identity, section "REST endpoint
 * reference") through http_client.h, cached in struct acs (fixed memory, one fetch at a time under
 * its mutex) until ACS_TOKEN_REFRESH_S before it expires.
 *
 * The token and IDENTITY_HEADER never reach a log line, an answer or a file; the worker's
 * buffers that held them are wiped after each use.
 */
#ifndef NOTIFY_ACS_TOKEN_H
#define NOTIFY_ACS_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "transport.h"

/* Managed-identity access tokens are JWTs of 1.5-3 KB; claims-heavy tokens grow, 8 KiB is the
 * size Azure front ends accept for a whole header block, so a longer token could not be sent. */
#define ACS_TOKEN_MAX 8192
/* Refresh a cached token this long before expires_on, as azure-identity does (5 minutes). */
#define ACS_TOKEN_REFRESH_S 300
/* When a refresh fails, the cached token is still used while it has at least this long left:
 * a request signed with it must reach ACS before it expires. */
#define ACS_TOKEN_MIN_LEFT_S 30
/* IDENTITY_HEADER value (a GUID today) and AZURE_CLIENT_ID (a GUID) at most. */
#define ACS_IDENTITY_SECRET_MAX 256
/* The identity endpoint's request target: its own path and query (IDENTITY_ENDPOINT is at
 * most 1 KiB in the config table) plus the resource, api-version and client_id parameters. */
#define ACS_IDENTITY_TARGET_MAX 1536

struct acs;
struct acs_worker;

/*
 * Copies a valid token into w->token (NUL-terminated), fetching one into a's cache when it is
 * empty or expires within ACS_TOKEN_REFRESH_S; a failed refresh still uses a cached token with
 * ACS_TOKEN_MIN_LEFT_S left. Waits for another worker's fetch no longer than the deadline.
 * Returns 0, or -ERR_IDENTITY with r->detail saying why (never the secret). Logs acs.token.
 */
int acs_token_get(struct acs *a, struct acs_worker *w, int64_t deadline_ms,
                  struct transport_result *r);

/* Forgets the cached token (ACS refused it: revoked or rotated), so the next send fetches one. */
void acs_token_drop(struct acs *a);

/*
 * Reads a token answer of the identity endpoint (section "REST endpoint reference", "Response"):
 * access_token (copied into token[0..cap), cap > its length) and expires_on (Unix seconds as a
 * number or a numeric string), or, without it, expires_in (seconds from now_unix). Returns the
 * token length, or -ERR_FIELD_MISSING / -ERR_FIELD_INVALID / -ERR_OVERFLOW / -ERR_JSON_SYNTAX.
 */
long acs_token_parse(const char *body, size_t n, struct json_tok *tok, unsigned ntok,
                     int64_t now_unix, char *token, size_t cap, int64_t *expires_on);

#endif
