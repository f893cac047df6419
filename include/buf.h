/*
 * buf.h: the one bounded writer. HTTP responses, JSON answers, log lines and mail files are all
 * written through struct buf.
 *
 * A buf writes into caller memory. In memory mode an append that does not fit is clamped: the
 * bytes that fit are kept, the rest is counted in `missing`, and `err` becomes -ERR_OVERFLOW
 * (sticky, as BearSSL's engine error). The caller checks once at the end with buf_finish(). In fd
 * mode (buf_init_fd) a full buffer is written out to the fd instead, so arbitrarily long output
 * streams through a small buffer; a failed write makes `err` -ERR_IO. No function here allocates.
 */
#ifndef NOTIFY_BUF_H
#define NOTIFY_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	char *p;        /* caller memory; the caller keeps it alive while the buf is used */
	size_t cap;     /* size of p */
	size_t len;     /* bytes held in p */
	size_t missing; /* memory mode: bytes that did not fit (what a retry would need) */
	size_t flushed; /* fd mode: bytes already written to fd */
	int fd;         /* >= 0: flush to this descriptor when full; -1: memory mode */
	int err;        /* 0, or sticky -ERR_OVERFLOW / -ERR_IO */
};

/* Memory mode over mem[0..cap). */
void buf_init(struct buf *b, char *mem, size_t cap);

/* fd mode: mem[0..cap) is a staging area written to fd whenever it fills. cap MUST be > 0. */
void buf_init_fd(struct buf *b, char *mem, size_t cap, int fd);

/* Empties b (len, missing, flushed, err back to 0); keeps its memory and mode. */
void buf_reset(struct buf *b);

void buf_append(struct buf *b, const void *data, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);

/* Decimal text of v. */
void buf_put_u64(struct buf *b, uint64_t v);

/* Lower-case hex of data[0..n), two digits a byte. */
void buf_put_hex(struct buf *b, const void *data, size_t n);

/* Memory mode: NUL-terminates the text (dropping its last byte when full) and returns b->p,
 * for one-line error messages written into caller buffers. cap MUST be > 0. */
/* Appends err_errno_str(errnum), or "system error <n>" (err.h). */
void buf_put_errno(struct buf *b, int errnum);

const char *buf_cstr(struct buf *b);

/* fd mode: writes what is staged; no-op in memory mode. Returns 0 or the sticky error. */
int buf_flush(struct buf *b);

/* Flushes in fd mode, then returns 0 or the sticky error (-ERR_OVERFLOW, -ERR_IO). */
int buf_finish(struct buf *b);

/* Bytes written in all: len + flushed. Test seam: the service never needs the total (a message
 * file's size is the file's); the tests check with it that an fd-mode buf wrote every byte. */
size_t buf_total(const struct buf *b);

#endif
