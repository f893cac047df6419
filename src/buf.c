/* buf.c: the bounded writer of buf.h; memory mode clamps, fd mode streams. */
#include "buf.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

/* see buf.h */
void buf_init(struct buf *b, char *mem, size_t cap)
{
	b->p = mem;
	b->cap = cap;
	b->fd = -1;
	buf_reset(b);
}

/* see buf.h */
void buf_init_fd(struct buf *b, char *mem, size_t cap, int fd)
{
	buf_init(b, mem, cap);
	b->fd = fd;
}

/* see buf.h */
void buf_reset(struct buf *b)
{
	b->len = 0;
	b->missing = 0;
	b->flushed = 0;
	b->err = 0;
}

/* Writes p[0..n) to fd in full, retrying on EINTR and short writes. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -ERR_IO;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* see buf.h */
int buf_flush(struct buf *b)
{
	if (b->fd < 0 || b->err)
		return b->err;
	if (b->len > 0) {
		if (write_all(b->fd, b->p, b->len) < 0)
			b->err = -ERR_IO;
		else
			b->flushed += b->len;
		b->len = 0;
	}
	return b->err;
}

/* see buf.h */
void buf_append(struct buf *b, const void *data, size_t n)
{
	const char *s = data;
	if (b->err) {
		/* Sticky: the first error (overflow, I/O, a refused value) is the one kept; after
		 * an overflow keep counting what a retry would need (tinycbor's extra bytes). */
		if (b->err == -ERR_OVERFLOW)
			b->missing += n;
		return;
	}
	while (n > 0 && !b->err) {
		size_t room = b->cap - b->len;
		if (room == 0) {
			if (b->fd < 0)
				break;
			buf_flush(b);
			continue;
		}
		size_t k = n < room ? n : room;
		memcpy(b->p + b->len, s, k);
		b->len += k;
		s += k;
		n -= k;
	}
	if (n > 0 && b->fd < 0) {
		b->missing += n;
		b->err = -ERR_OVERFLOW;
	}
}

/* see buf.h */
void buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

/* see buf.h */
void buf_putc(struct buf *b, char c)
{
	buf_append(b, &c, 1);
}

/* see buf.h */
void buf_put_u64(struct buf *b, uint64_t v)
{
	char tmp[20]; /* 2^64 has 20 decimal digits */
	size_t i = sizeof tmp;
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	buf_append(b, tmp + i, sizeof tmp - i);
}

/* see buf.h */
void buf_put_hex(struct buf *b, const void *data, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *d = data;
	for (size_t i = 0; i < n; i++) {
		char pair[2] = {hex[d[i] >> 4], hex[d[i] & 15]};
		buf_append(b, pair, 2);
	}
}

/* see buf.h */
const char *buf_cstr(struct buf *b)
{
	size_t end = b->len < b->cap ? b->len : b->cap - 1;
	b->p[end] = 0;
	return b->p;
}

/* see buf.h */
int buf_finish(struct buf *b)
{
	return buf_flush(b);
}

/* see buf.h */
size_t buf_total(const struct buf *b)
{
	return b->len + b->flushed;
}

/* see buf.h */
void buf_put_errno(struct buf *b, int errnum)
{
	const char *t = err_errno_str(errnum);
	if (t) {
		buf_puts(b, t);
		return;
	}
	buf_puts(b, "system error ");
	buf_put_u64(b, (uint64_t)(errnum < 0 ? -errnum : errnum));
}
