/* acs_body.c: the EmailMessage JSON of acs_body.h. */
#include "acs_body.h"

#include "json.h"

static void put_key(struct buf *b, const char *key)
{
	buf_putc(b, '"');
	buf_puts(b, key);
	buf_puts(b, "\":");
}

static void put_addresses(struct buf *b, const char *key, const struct notify_str *a, unsigned n)
{
	put_key(b, key);
	buf_putc(b, '[');
	for (unsigned i = 0; i < n; i++) {
		buf_puts(b, i ? ",{\"address\":" : "{\"address\":");
		json_put_str(b, a[i].p, a[i].len);
		buf_putc(b, '}');
	}
	buf_putc(b, ']');
}

/* see acs_body.h */
void acs_email_json(struct buf *b, const struct notify_msg *m, const char *sender)
{
	buf_puts(b, "{\"senderAddress\":");
	if (m->from.len)
		json_put_str(b, m->from.p, m->from.len);
	else
		json_put_cstr(b, sender);
	buf_puts(b, ",\"content\":{\"subject\":");
	json_put_str(b, m->subject.p, m->subject.len);
	if (m->text.len) {
		buf_puts(b, ",\"plainText\":");
		json_put_str(b, m->text.p, m->text.len);
	}
	if (m->html.len) {
		buf_puts(b, ",\"html\":");
		json_put_str(b, m->html.p, m->html.len);
	}
	buf_puts(b, "},\"recipients\":{");
	put_addresses(b, "to", m->to, m->n_to);
	if (m->n_cc) {
		buf_putc(b, ',');
		put_addresses(b, "cc", m->cc, m->n_cc);
	}
	if (m->n_bcc) {
		buf_putc(b, ',');
		put_addresses(b, "bcc", m->bcc, m->n_bcc);
	}
	buf_putc(b, '}');
	if (m->n_reply_to) {
		buf_putc(b, ',');
		put_addresses(b, "replyTo", m->reply_to, m->n_reply_to);
	}
	if (m->n_att) {
		buf_puts(b, ",\"attachments\":[");
		for (unsigned i = 0; i < m->n_att; i++) {
			const struct notify_attachment *at = &m->att[i];
			buf_puts(b, i ? ",{\"name\":" : "{\"name\":");
			json_put_str(b, at->name.p, at->name.len);
			buf_puts(b, ",\"contentType\":");
			json_put_str(b, at->content_type.p, at->content_type.len);
			buf_puts(b, ",\"contentInBase64\":");
			json_put_str(b, at->content_base64.p, at->content_base64.len);
			buf_putc(b, '}');
		}
		buf_putc(b, ']');
	}
	buf_putc(b, '}');
}
