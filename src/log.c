/* log.c: JSON log lines of log.h. Each line is built in a stack buffer and written once. */
#include "log.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "date.h"
#include "json.h"
#include "notify.h"
#include "sock.h"

/* Room kept at the end of every line for ",\"truncated\":true" (18 bytes) and "}\n" (2), so a
 * line cut at LOG_LINE_MAX still closes as valid JSON. */
#define LOG_TAIL_RESERVE 24

static int threshold = LOG_INFO;
static int out_fd = 1;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

/* see log.h */
void log_init(int level, int fd)
{
	threshold = level;
	out_fd = fd;
}

/* see log.h */
int log_level_parse(const char *s)
{
	for (int i = 0; i <= LOG_OFF; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

/* see log.h */
void log_put_time(struct buf *b)
{
	struct timespec ts;
	char t[DATE_RFC3339_MS_LEN + 1];
	clock_gettime(CLOCK_REALTIME, &ts);
	if (date_rfc3339_ms(t, ts.tv_sec, (int)(ts.tv_nsec / 1000000)) == 0)
		buf_puts(b, t);
	else
		buf_puts(b, "1970-01-01T00:00:00.000Z"); /* a clock outside 1970..9999 */
}

/* see log.h */
int64_t log_now_ns(void)
{
	return sock_now_ns();
}

/* see log.h */
int log_begin(struct log_line *l, int level, const char *event)
{
	if (level < threshold)
		return 0;
	l->level = level;
	buf_init(&l->b, l->mem, sizeof l->mem - LOG_TAIL_RESERVE);
	buf_puts(&l->b, "{\"time\":\"");
	log_put_time(&l->b);
	buf_puts(&l->b, "\",\"level\":\"");
	buf_puts(&l->b, level_names[level]);
	buf_puts(&l->b, "\",\"event\":");
	json_put_cstr(&l->b, event);
	l->mark = l->b.len;
	return 1;
}

/* Appends ,"key": */
static void key(struct log_line *l, const char *k)
{
	if (!l->b.err)
		l->mark = l->b.len;
	buf_puts(&l->b, ",\"");
	buf_puts(&l->b, k);
	buf_puts(&l->b, "\":");
}

/* see log.h */
void log_str(struct log_line *l, const char *k, const char *s, size_t n)
{
	key(l, k);
	json_put_str(&l->b, s, n);
}

/* see log.h */
void log_cstr(struct log_line *l, const char *k, const char *s)
{
	log_str(l, k, s, strlen(s));
}

/* see log.h */
void log_int(struct log_line *l, const char *k, int64_t v)
{
	key(l, k);
	if (v < 0) {
		buf_putc(&l->b, '-');
		buf_put_u64(&l->b, (uint64_t)0 - (uint64_t)v);
	} else {
		buf_put_u64(&l->b, (uint64_t)v);
	}
}

/* see log.h */
void log_ms(struct log_line *l, const char *k, int64_t ns)
{
	if (ns < 0)
		ns = 0;
	key(l, k);
	buf_put_u64(&l->b, (uint64_t)(ns / 1000000));
	buf_putc(&l->b, '.');
	unsigned frac = (unsigned)(ns / 1000 % 1000);
	char d[3] = {(char)('0' + frac / 100), (char)('0' + frac / 10 % 10),
	             (char)('0' + frac % 10)};
	buf_append(&l->b, d, sizeof d);
}

/* see log.h */
void log_addr(struct log_line *l, const char *k, const char *s, size_t n)
{
	key(l, k);
	buf_putc(&l->b, '"');
	notify_addr_mask(&l->b, s, n);
	buf_putc(&l->b, '"');
}

/* This thread's capture buffer (log_capture), or NULL. */
static _Thread_local struct buf *capture;

/* see log.h */
void log_capture(struct buf *b)
{
	capture = b;
}

/* see log.h */
void log_end(struct log_line *l)
{
	l->b.cap = sizeof l->mem; /* the reserve for the marker and the end of the line */
	if (l->b.err) {
		/* A field did not fit: drop it whole and say so, so the line stays valid JSON. */
		l->b.len = l->mark;
		l->b.err = 0;
		l->b.missing = 0;
		buf_puts(&l->b, ",\"truncated\":true");
	}
	l->b.cap = sizeof l->mem;
	buf_puts(&l->b, "}\n");
	if (capture &&
	    capture->cap - capture->len >= l->b.len) /* a line fits whole or not at all */
		buf_append(capture, l->b.p, l->b.len);
	size_t off = 0;
	while (off < l->b.len) {
		ssize_t w = write(out_fd, l->b.p + off, l->b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}
