/*
 * acs_body.h: the JSON body of an ACS Email send, EmailMessage
 * (https://learn.microsoft.com/rest/api/communication/email/email/send, section "Request Body"),
 * written from a validated notification (notify.h).
 */
#ifndef NOTIFY_ACS_BODY_H
#define NOTIFY_ACS_BODY_H

#include "buf.h"
#include "notify.h"

/* JSON the body adds around the request's strings: per recipient `{"address":""},` (16 bytes)
 * x (50 + 10 reply-to), per attachment `{"name":"","contentType":"","contentInBase64":""},`
 * (52) x 10, the fixed members (about 150), the sender (254). Strings themselves never grow:
 * the request had to escape everything json_put_str escapes. */
#define ACS_BODY_OVERHEAD 4096

/*
 * Writes the EmailMessage JSON of m: senderAddress (m->from, else sender), content (subject,
 * plainText, html), recipients (to, cc, bcc as {"address"}), replyTo, attachments
 * ({"name","contentType","contentInBase64"}). Members with no value are left out. Errors are
 * b's (sticky).
 */
void acs_email_json(struct buf *b, const struct notify_msg *m, const char *sender);

#endif
