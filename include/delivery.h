/*
 * delivery.h: ACS e-mail delivery reports as Event Grid puts them on a Storage queue. Pure over
 * (text, len): no socket, no clock, no allocation; the caller owns the tokens and the scratch.
 *
 * What arrives. ACS publishes Microsoft.Communication.EmailDeliveryReportReceived for every
 * recipient of every message (Event Grid doc "Azure Communication Services - Email events",
 * https://learn.microsoft.com/azure/event-grid/communication-services-email-events; the
 * AcsEmailDeliveryReportReceivedEventData type of the SDKs,
 * https://learn.microsoft.com/javascript/api/@azure/eventgrid-systemevents/acsemaildeliveryreportreceivedeventdata):
 *   {"id","topic","subject","eventType","eventTime","dataVersion","metadataVersion",
 *    "data":{"sender","recipient","messageId","internetMessageId","status",
 *            "deliveryStatusDetails":{"statusMessage"},"deliveryAttemptTimestamp"}}
 * status is Delivered, Bounced, Suppressed, FilteredSpam, Quarantined, Failed or Expanded; "Any
 * value other than Delivered is considered failed" (same SDK page). messageId is the operation id
 * of the send, which is the Operation-Id header we sent (README, "Exactly once").
 * Microsoft.Communication.EmailEngagementTrackingReportReceived (opens and clicks) carries
 * messageId, engagementType (View, Click) and userActionTimestamp instead.
 *
 * How it arrives. Event Grid writes one event per queue message, Base64-encoded JSON of that
 * event (the Azure SDK for Python sample consume_cloud_events_from_storage_queue.py reads the
 * queue with BinaryBase64DecodePolicy; MicrosoftDocs/azure-docs issue 102923, "Wrong/outdated
 * statements about message encoding"), and the Functions queue trigger with messageEncoding
 * "base64" (host.json, the default of the Storage queues extension 5.x) hands the decoded text to
 * the handler, JSON-encoded once more as a string (invoke.h). This module still accepts every
 * shape the path could produce, so a change on either side does not lose reports:
 *  - an event object, or an array of events (the doc's samples show an array);
 *  - either as a JSON string, encoded up to DELIVERY_MAX_LAYERS times;
 *  - either as Base64 text (a trigger set to messageEncoding "none" under Event Grid's Base64).
 *
 *   struct delivery_iter it;
 *   struct delivery_report r;
 *   if (delivery_begin(&it, text, len, tok, ntok, scratch, cap) < 0) ...the message is garbage...
 *   while (delivery_next(&it, &r)) ...log r...
 *
 * Strings of a report are decoded into the report itself, cut at their limits on a UTF-8
 * boundary; keys are matched ASCII case-insensitively (the doc's sample spells
 * "deliveryAttemptTimeStamp", the SDK "deliveryAttemptTimestamp"); the first of two equal keys
 * wins; unknown keys are ignored (Event Grid adds fields over versions).
 */
#ifndef NOTIFY_DELIVERY_H
#define NOTIFY_DELIVERY_H

#include <stddef.h>

#include "json.h"

/* String and Base64 layers delivery_begin() takes off at most: the host's own JSON string, a
 * producer that encoded once more, and Base64 (invoke.h: INVOKE_MAX_UNWRAP is 3 for the same
 * reasons, plus one for Base64). Deeper text is garbage. */
#define DELIVERY_MAX_LAYERS 4

/* Kept lengths, in bytes, each with room for a NUL. messageId is our 36-character operation id
 * (a GUID), 64 leaves room for other senders' ids; event types are under 64 characters
 * ("Microsoft.Communication.EmailEngagementTrackingReportReceived" is 61), 96 shows a foreign one;
 * the address limit is RFC 5321's 254; a status message is one SMTP reply line (RFC 5321 4.5.3.1.5:
 * 512 octets), of which the first 256 say why; timestamps are RFC 3339 with 7 decimals and an
 * offset (33 characters); statuses and engagement types are short words. */
#define DELIVERY_ID_MAX     65
#define DELIVERY_TYPE_MAX   97
#define DELIVERY_ADDR_MAX   255
#define DELIVERY_DETAIL_MAX 257
#define DELIVERY_TIME_MAX   41
#define DELIVERY_WORD_MAX   33

/* What one event was. */
enum delivery_kind {
	DELIVERY_REPORT,     /* EmailDeliveryReportReceived with messageId and status */
	DELIVERY_ENGAGEMENT, /* EmailEngagementTrackingReportReceived with messageId */
	DELIVERY_FOREIGN,    /* another eventType (why, event_type set) */
	DELIVERY_MALFORMED,  /* not an event, or a report without what it needs (why set) */
};

/* The statuses of AcsEmailDeliveryReportStatus; DELIVERY_OTHER for any other text (still a
 * failure: only Delivered is a success). */
enum delivery_status {
	DELIVERY_DELIVERED,
	DELIVERY_BOUNCED,
	DELIVERY_SUPPRESSED,
	DELIVERY_FILTERED_SPAM,
	DELIVERY_QUARANTINED,
	DELIVERY_FAILED,
	DELIVERY_EXPANDED,
	DELIVERY_OTHER,
};

/* One event. Every string is NUL-terminated ("" when absent) and valid UTF-8. */
struct delivery_report {
	enum delivery_kind kind;
	enum delivery_status status;        /* DELIVERY_REPORT only */
	const char *why;                    /* FOREIGN and MALFORMED: a fixed sentence; else NULL */
	char event_id[DELIVERY_ID_MAX];     /* Event Grid "id" (CloudEvents "id") */
	char event_type[DELIVERY_TYPE_MAX]; /* "eventType" (CloudEvents "type") */
	char message_id[DELIVERY_ID_MAX];   /* data.messageId: our operation id */
	char
	    status_text[DELIVERY_WORD_MAX]; /* data.status as sent; engagementType for engagement */
	char recipient[DELIVERY_ADDR_MAX];  /* data.recipient, unmasked: mask it before logging */
	char detail[DELIVERY_DETAIL_MAX];   /* data.deliveryStatusDetails.statusMessage */
	char attempt_time[DELIVERY_TIME_MAX]; /* data.deliveryAttemptTimestamp (userActionTimestamp)
	                                       */
};

/* Iteration state; the fields are private to delivery.c. */
struct delivery_iter {
	const char *js;
	const struct json_tok *tok;
	int ntok;
	int next;      /* token index of the next event */
	int remaining; /* events left */
};

/*
 * Parses the queue message text[0..len) into tok[0..ntok) (the tokens point into text or into
 * scratch[0..cap), which must outlive the iteration; 2 * len + 3 bytes always suffice, since
 * string layers are decoded back and forth between two halves and Base64 only shrinks). Returns
 * the number of events (>= 0: an empty array has none) or -ERR_JSON_SYNTAX (not JSON, or JSON
 * that is neither an object nor an array at the innermost layer), -ERR_BAD_UTF8,
 * -ERR_JSON_TOO_COMPLEX (more than ntok tokens or JSON_MAX_DEPTH levels) or -ERR_OVERFLOW
 * (scratch too small).
 */
int delivery_begin(struct delivery_iter *it, const char *text, size_t len, struct json_tok *tok,
                   unsigned ntok, char *scratch, size_t cap);

/* Fills *r with the next event and returns 1, or returns 0 when there is none left. */
int delivery_next(struct delivery_iter *it, struct delivery_report *r);

/* "Delivered", "Bounced", ... for a status ("Other" for DELIVERY_OTHER). */
const char *delivery_status_name(enum delivery_status s);

/*
 * Writes s[0..n) (UTF-8) into out[0..cap) with every e-mail address in it masked as log_addr does
 * ("y***@example.com"): bounce texts quote the recipient ("550 5.1.1 <user@example.com> ...").
 * Control characters become spaces. Cut on a UTF-8 boundary; always NUL-terminated (cap > 0).
 * Returns the length written.
 */
size_t delivery_mask_text(const char *s, size_t n, char *out, size_t cap);

#endif
