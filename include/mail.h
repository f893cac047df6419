/*
 * mail.h: a validated notification as an RFC 5322 / MIME message (RFC 2045-2047, 2231).
 * Pure formatting into a struct buf; the outbox streams it into a file. Every header value comes
 * from validated input and is encoded, so no header injection is possible.
 *
 * Shape: text only -> text/plain; html only -> text/html; both -> multipart/alternative; with
 * attachments -> multipart/mixed around that body. Text parts are UTF-8: 7bit when the text is
 * ASCII with lines of at most MAIL_MAX_LINE bytes and the message is single-part, otherwise
 * base64. Header fields: From, To, Cc, Bcc (the outbox keeps the whole envelope as the record of
 * what was sent), Reply-To, Subject (RFC 2047 "B" encoded words when not plain ASCII), Date,
 * Message-ID, MIME-Version, Content-Type, X-Notify-Id.
 */
#ifndef NOTIFY_MAIL_H
#define NOTIFY_MAIL_H

#include <stdint.h>

#include "buf.h"
#include "notify.h"

/* RFC 5322 2.1.1: lines SHOULD be at most 78 characters; header folding and base64 bodies
 * keep to this. */
#define MAIL_FOLD_AT 78
/* RFC 5322 2.1.1: lines MUST be at most 998 characters (without CRLF). */
#define MAIL_MAX_LINE 998
/* RFC 2045 6.8: base64 lines at most 76 characters. */
#define MAIL_B64_LINE 76
/* RFC 2047 2: an encoded word is at most 75 characters. */
#define MAIL_MAX_ENCODED_WORD 75

struct mail_meta {
	const char *id; /* operation id (36-character UUID): Message-ID, X-Notify-Id, boundaries */
	const char *from; /* sender address, used when msg->from is empty */
	int64_t date;     /* Unix time for the Date header (UTC, "+0000") */
};

/* Appends the whole message (headers, blank line, body), CRLF line ends. Returns 0, or the
 * sticky error of b (-ERR_OVERFLOW in memory mode, -ERR_IO in fd mode). */
int mail_write(struct buf *b, const struct notify_msg *m, const struct mail_meta *meta);

#endif
