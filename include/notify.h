/*
 * notify.h: the notification request contract. notify_parse() turns a JSON request body into a
 * validated struct notify_msg, or into a precise error naming the field at fault. It is a pure
 * function over (body, len): tests and the fuzzer call it directly; no socket, no transport.
 *
 * Request body (the original system's three fields work unchanged):
 *   to_email     string or array of strings, required (1.. addresses)
 *   cc, bcc      string or array of strings, optional
 *   reply_to     string or array of strings, optional (at most NOTIFY_MAX_REPLY_TO)
 *   subject      string, required, 1..NOTIFY_MAX_SUBJECT bytes, no control characters
 *   message      string: the plain-text body   } at least one of the two, non-empty
 *   html         string: the HTML body         }
 *   attachments  array of {"name","content_type","content_base64"}, optional
 *   from         string: sender override; only when the policy lists the address
 * Unknown keys and duplicate keys are rejected (400), so a typo such as "CC" never silently
 * drops recipients. JSON null is not accepted for any field (omit the field instead).
 */
#ifndef NOTIFY_NOTIFY_H
#define NOTIFY_NOTIFY_H

#include <stddef.h>

#include "json.h"

/* ACS accepts at most 50 recipients (To + Cc + Bcc) per message (ACS service limits). */
#define NOTIFY_MAX_RECIPIENTS 50
/* Reply-To addresses; ACS takes a list; nobody needs more than a handful. */
#define NOTIFY_MAX_REPLY_TO 10
/* Attachments per message; ACS's total size limit (10 MB) bites long before this count. */
#define NOTIFY_MAX_ATTACHMENTS 10
/* RFC 5321 4.5.3.1.3: a forward-path is at most 256 octets including the angle brackets. */
#define NOTIFY_MAX_ADDR 254
/* RFC 5321 4.5.3.1.1: local part at most 64 octets. */
#define NOTIFY_MAX_LOCAL 64
/* Subject bytes (UTF-8). RFC 5322 2.1.1 caps a line at 998 characters; an encoded subject is
 * folded, but a subject longer than one line is a mistake, not a notification. */
#define NOTIFY_MAX_SUBJECT 998
/* Attachment file name bytes: the common file-system limit (NAME_MAX). */
#define NOTIFY_MAX_FILENAME 255
/* Attachment media type bytes (RFC 6838 4.2: type and subtype at most 127 each, plus '/'). */
#define NOTIFY_MAX_CONTENT_TYPE 255
/* Tokens for one request: 1 object + 9 keys with values + 50 recipients + 10 reply-to + 10
 * attachments of 7 tokens each, with room to spare; more than this is not a valid request. */
#define NOTIFY_MAX_TOKENS 256
/* Length of the field path in an error ("attachments[3].content_base64"). */
#define NOTIFY_FIELD_MAX 48
/* Length of an error detail line. */
#define NOTIFY_DETAIL_MAX 160

/* A decoded string: UTF-8, not NUL-terminated, pointing into the caller's scratch buffer. */
struct notify_str {
	const char *p;
	size_t len;
};

struct notify_attachment {
	struct notify_str name;           /* no control characters, no '/' or '\\' */
	struct notify_str content_type;   /* type "/" subtype, RFC 6838 restricted names */
	struct notify_str content_base64; /* canonical base64, as sent */
	size_t size;                      /* decoded size in bytes */
};

struct notify_msg {
	struct notify_str to[NOTIFY_MAX_RECIPIENTS];
	struct notify_str cc[NOTIFY_MAX_RECIPIENTS];
	struct notify_str bcc[NOTIFY_MAX_RECIPIENTS];
	struct notify_str reply_to[NOTIFY_MAX_REPLY_TO];
	unsigned n_to, n_cc, n_bcc, n_reply_to;
	struct notify_str from; /* len 0: use the configured sender */
	struct notify_str subject;
	struct notify_str text; /* len 0 when absent */
	struct notify_str html; /* len 0 when absent */
	struct notify_attachment att[NOTIFY_MAX_ATTACHMENTS];
	unsigned n_att;
	/* Not from the body: the caller's SHA-256 of the request body of a keyed request (32 bytes,
	 * caller memory), which the outbox records with the message so that the same key with
	 * another body is refused after a restart too. NULL (what notify_parse sets): none. */
	const unsigned char *request_digest;
};

/* What the deployment allows. */
struct notify_policy {
	/* Sender addresses a request may name in "from", separated by commas; NULL or "" means no
	 * override is allowed (a request with "from" is then 400 sender-not-allowed). */
	const char *allowed_senders;
};

/* Where and why a request was rejected. */
struct notify_error {
	int err;                        /* -ERR_x, as returned */
	char field[NOTIFY_FIELD_MAX];   /* "to_email[2]", "" when the body as a whole is at fault */
	char detail[NOTIFY_DETAIL_MAX]; /* one human line, never echoing more than the field name */
};

/*
 * Validates body[0..len) and fills *msg. `tok` is the caller's token array of `ntok` entries
 * (NOTIFY_MAX_TOKENS is enough for every valid request). Decoded strings are written into
 * scratch[0..scratch_cap); a scratch of `len` bytes always suffices. On failure returns -ERR_x
 * (see err.h: JSON_SYNTAX, BAD_UTF8, JSON_TOO_COMPLEX, FIELD_MISSING, FIELD_TYPE, FIELD_INVALID,
 * FIELD_TOO_LONG, FIELD_UNKNOWN, FIELD_DUPLICATE, TOO_MANY_RECIPIENTS, TOO_MANY_ITEMS,
 * SENDER_NOT_ALLOWED, OVERFLOW) and fills *e; on success returns 0.
 */
int notify_parse(const char *body, size_t len, struct json_tok *tok, unsigned ntok, char *scratch,
                 size_t scratch_cap, const struct notify_policy *pol, struct notify_msg *msg,
                 struct notify_error *e);

/*
 * Checks an e-mail address: ASCII only, local@domain, dot-atom local part (RFC 5322 atext) of
 * 1..NOTIFY_MAX_LOCAL bytes, domain of LDH labels (1..63 bytes, no leading or trailing hyphen)
 * separated by dots, or a single label; NOTIFY_MAX_ADDR bytes in all. Returns 1 when valid.
 */
int notify_addr_valid(const char *s, size_t n);

/* Appends s[0..n) keeping printable ASCII; each other character (a whole UTF-8 sequence)
 * becomes one '?' (field names in error answers never echo raw input). */
void notify_put_sanitized(struct buf *b, const char *s, size_t n);

/* Writes a masked form of an address for logs: first character of the local part, "***@",
 * then the domain ("y***@example.com"). */
void notify_addr_mask(struct buf *b, const char *s, size_t n);

#endif
