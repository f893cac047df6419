/*
 * log.h: structured logs, one JSON object per line, written with one write(2) so that lines from
 * concurrent workers never interleave (a line is far below PIPE_BUF). Fields: time (RFC 3339 UTC,
 * milliseconds), level, event, then the event's own fields. Recipient addresses are logged only
 * masked (log_addr); secrets are never passed to this module.
 *
 *   struct log_line l;
 *   if (log_begin(&l, LOG_INFO, "http.request")) {
 *           log_str(&l, "method", m, mlen);
 *           log_int(&l, "status", 202);
 *           log_end(&l);
 *   }
 */
#ifndef NOTIFY_LOG_H
#define NOTIFY_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* One line's limit. The longest events (a rejected request with its field and detail) are
 * about 400 bytes; 1 KiB leaves room while staying atomic on pipes (PIPE_BUF is 4 KiB). */
#define LOG_LINE_MAX 1024

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };

struct log_line {
	struct buf b;
	int level;
	size_t mark; /* length before the field being written, to drop it if cut */
	char mem[LOG_LINE_MAX];
};

/* Start-up: the threshold and the descriptor (stdout normally). */
void log_init(int level, int fd);

/* Parses "debug", "info", "warn", "error", "off"; -1 when unknown. */
int log_level_parse(const char *s);

/* Starts a line; returns 0 (and writes nothing later) when `level` is below the threshold. */
int log_begin(struct log_line *l, int level, const char *event);

void log_str(struct log_line *l, const char *key, const char *s, size_t n);
void log_cstr(struct log_line *l, const char *key, const char *s);
void log_int(struct log_line *l, const char *key, int64_t v);
/* Milliseconds with three decimals from a nanosecond duration. */
void log_ms(struct log_line *l, const char *key, int64_t ns);
/* A recipient address, masked: "y***@example.com". */
void log_addr(struct log_line *l, const char *key, const char *s, size_t n);

/* Ends the line and writes it. A line cut at LOG_LINE_MAX is closed with "truncated":true. */
void log_end(struct log_line *l);

/* Also appends every line this thread writes from now on (each ending in '\n') to b, as long
 * as it fits whole; NULL stops. An Azure Functions invocation returns its lines in "Logs". */
void log_capture(struct buf *b);

/* Writes "time" of now into b as an RFC 3339 string with milliseconds (no quotes). */
void log_put_time(struct buf *b);

/* Monotonic clock in nanoseconds, for latencies: sock_now_ns() of sock.h, the one clock. */
int64_t log_now_ns(void);

#endif
