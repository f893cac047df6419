/*
 * config.h: every setting, from environment variables (Azure app settings), read once at
 * start-up. One list feeds the struct, the defaults, the validation and `--help`. A bad value
 * stops start-up with one line naming the variable; secrets (NOTIFY_API_KEY) are never echoed.
 * This module does not read the environment itself: main.c passes a lookup function.
 */
#ifndef NOTIFY_CONFIG_H
#define NOTIFY_CONFIG_H

#include <stddef.h>

#include "buf.h"

/*
 * X(field, VARIABLE, kind, default, min, max, help). Kinds: INT (decimal, min..max), STR (any
 * text, max = length limit, min = 1 when it may not be empty), ADDR (an e-mail address), LEVEL
 * (log level name), SECRET (STR that --help and errors never echo).
 */
#define FOR_EACH_CONFIG(X)                                                                         \
	X(port, "PORT", INT, "8080", 1, 65535, "TCP port of the HTTP server (standalone mode)")    \
	X(fn_port, "FUNCTIONS_CUSTOMHANDLER_PORT", INT, "", 1, 65535,                              \
	  "port given by the Azure Functions host; overrides PORT")                                \
	X(bind, "BIND", STR, "0.0.0.0", 1, 255, "address to listen on (IPv4 or IPv6 literal)")     \
	X(workers, "NOTIFY_WORKERS", INT, "8", 1, 256,                                             \
	  "worker threads, each with one request slot")                                            \
	X(max_conns, "NOTIFY_MAX_CONNECTIONS", INT, "1024", 1, 65536,                              \
	  "open client connections at most; more are refused")                                     \
	X(max_body, "NOTIFY_MAX_BODY_BYTES", INT, "1048576", 1024, 16777216,                       \
	  "request body limit in bytes (413 above it); attachments count, base64-encoded")         \
	X(max_inflight, "NOTIFY_MAX_INFLIGHT_BYTES", INT, "67108864", 65536, 17179869184,          \
	  "request and answer bytes held in memory for all connections together (past each "       \
	  "one's first 4 KiB); a read past it is refused with 503")                                \
	X(header_timeout_ms, "NOTIFY_HEADER_TIMEOUT_MS", INT, "10000", 10, 600000,                 \
	  "time a client has to send the request line and headers, from the connection (first "    \
	  "request) or the request's first byte")                                                  \
	X(body_timeout_ms, "NOTIFY_BODY_TIMEOUT_MS", INT, "30000", 10, 600000,                     \
	  "time a client has to send a whole request body, from the end of its headers")           \
	X(read_timeout_ms, "NOTIFY_READ_TIMEOUT_MS", INT, "10000", 10, 600000,                     \
	  "longest gap between two pieces of a request body")                                      \
	X(write_timeout_ms, "NOTIFY_WRITE_TIMEOUT_MS", INT, "10000", 10, 600000,                   \
	  "time a client has to take a whole answer")                                              \
	X(idle_timeout_ms, "NOTIFY_IDLE_TIMEOUT_MS", INT, "30000", 10, 3600000,                    \
	  "keep-alive connection idle time before it is closed")                                   \
	X(drain_timeout_ms, "NOTIFY_DRAIN_TIMEOUT_MS", INT, "10000", 0, 600000,                    \
	  "on SIGTERM/SIGINT, how long in-flight requests may take before exit")                   \
	X(outbox_dir, "NOTIFY_OUTBOX_DIR", STR, "./outbox", 1, 4095,                               \
	  "directory of the outbox transport: one <id>.eml file per notification")                 \
	X(sender, "EMAIL_SENDER", ADDR, "notify@localhost", 1, 254, "the From address")            \
	X(allowed_senders, "NOTIFY_ALLOWED_SENDERS", STR, "", 0, 4095,                             \
	  "comma-separated addresses a request may name in \"from\"; empty: no override")          \
	X(api_key, "NOTIFY_API_KEY", SECRET, "", 0, 255,                                           \
	  "when set, /api/* requires X-API-Key: <key> or Authorization: Bearer <key>; set but "    \
	  "empty stops start-up")                                                                  \
	X(idem_ttl_s, "NOTIFY_IDEMPOTENCY_TTL_S", INT, "86400", 1, 2592000,                        \
	  "how long an Idempotency-Key is remembered, in seconds")                                 \
	X(idem_entries, "NOTIFY_IDEMPOTENCY_ENTRIES", INT, "4096", 8, 1048576,                     \
	  "Idempotency-Key table size (80 bytes an entry, allocated at start)")                    \
	X(mode, "NOTIFY_MODE", STR, "queued", 1, 8,                                                \
	  "under the Functions host: queued (the notification function enqueues, the worker "      \
	  "sends) or direct (the notification function sends)")                                    \
	X(transport, "NOTIFY_TRANSPORT", STR, "auto", 1, 8,                                        \
	  "auto (ACS when configured, else the outbox; under the Functions host 503 when ACS is "  \
	  "not configured), acs or outbox")                                                        \
	X(acs_cs, "COMMUNICATION_SERVICES_CONNECTION_STRING", SECRET, "", 0, 2048,                 \
	  "ACS with an access key: endpoint=https://<resource>.communication.azure.com/;"          \
	  "accesskey=<key>")                                                                       \
	X(acs_endpoint, "ACS_ENDPOINT", STR, "", 0, 300,                                           \
	  "ACS with the managed identity: https://<resource>.communication.azure.com")             \
	X(acs_api_version, "ACS_API_VERSION", STR, "2023-03-31", 1, 32,                            \
	  "ACS Email REST api-version (2023-03-31 or 2025-09-01)")                                 \
	X(acs_timeout_ms, "NOTIFY_ACS_TIMEOUT_MS", INT, "30000", 100, 600000,                      \
	  "total time one send (all its attempts) may take")                                       \
	X(acs_attempt_timeout_ms, "NOTIFY_ACS_ATTEMPT_TIMEOUT_MS", INT, "10000", 100, 600000,      \
	  "connect, TLS handshake and answer of one attempt at most")                              \
	X(acs_attempts, "NOTIFY_ACS_ATTEMPTS", INT, "4", 1, 10,                                    \
	  "attempts per send at most (retries of 408, 5xx, 429/503 and network failures)")         \
	X(acs_backoff_ms, "NOTIFY_ACS_BACKOFF_MS", INT, "500", 1, 60000,                           \
	  "first backoff between attempts; doubles up to 8 s, with jitter")                        \
	X(ca_file, "NOTIFY_CA_FILE", STR, "", 0, 4095,                                             \
	  "PEM file of extra trusted root CAs (private endpoints, tests), read at start")          \
	X(identity_endpoint, "IDENTITY_ENDPOINT", STR, "", 0, 1024,                                \
	  "managed-identity token service (set by App Service and Functions)")                     \
	X(identity_header, "IDENTITY_HEADER", SECRET, "", 0, 256,                                  \
	  "managed-identity request header (set by App Service and Functions)")                    \
	X(client_id, "AZURE_CLIENT_ID", STR, "", 0, 64,                                            \
	  "client id of a user-assigned managed identity; empty: the system-assigned one")         \
	X(log_level, "NOTIFY_LOG_LEVEL", LEVEL, "info", 0, 0, "debug, info, warn, error or off")

struct config {
#define CONFIG_FIELD_INT                                     long
#define CONFIG_FIELD_STR                                     const char *
#define CONFIG_FIELD_ADDR                                    const char *
#define CONFIG_FIELD_SECRET                                  const char *
#define CONFIG_FIELD_LEVEL                                   int
#define CONFIG_FIELD(field, name, kind, def, min, max, help) CONFIG_FIELD_##kind field;
	FOR_EACH_CONFIG(CONFIG_FIELD)
#undef CONFIG_FIELD
};

/*
 * Fills c from get(name) (NULL or "" means unset: the default applies; FUNCTIONS_CUSTOMHANDLER_PORT
 * unset is 0). Strings point into what get() returned or into static defaults: the caller keeps
 * them alive. Returns 0, or -1 with err[0..cap) holding one line such as
 * "NOTIFY_WORKERS: must be an integer from 1 to 256 (got \"x\")".
 */
int config_load(struct config *c, const char *(*get)(const char *name), char *err, size_t cap);

/* The port to listen on: FUNCTIONS_CUSTOMHANDLER_PORT when set, else PORT. */
long config_port(const struct config *c);

/* Writes the --help table of every variable with its default. */
void config_help(struct buf *b);

#endif
