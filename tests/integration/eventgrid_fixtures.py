"""Event Grid events for the delivery_report function, shaped as the public schema says.

Sources: the Event Grid doc "Azure Communication Services - Email events"
(https://learn.microsoft.com/azure/event-grid/communication-services-email-events, section
"Microsoft.Communication.EmailDeliveryReportReceived event") and the SDKs'
AcsEmailDeliveryReportReceivedEventData / AcsEmailDeliveryReportStatus
(https://learn.microsoft.com/javascript/api/@azure/eventgrid-systemevents/acsemaildeliveryreportreceivedeventdata):
data has sender, recipient, messageId, internetMessageId, status,
deliveryStatusDetails.statusMessage and deliveryAttemptTimestamp; the envelope (Event Grid
schema, "Azure Event Grid event schema") has id, topic, subject, eventType, eventTime, data,
dataVersion and metadataVersion.
"""
import uuid

REPORT = "Microsoft.Communication.EmailDeliveryReportReceived"
ENGAGEMENT = "Microsoft.Communication.EmailEngagementTrackingReportReceived"
# Every AcsEmailDeliveryReportStatus value; "any value other than Delivered is considered failed".
STATUSES = ["Delivered", "Bounced", "Suppressed", "FilteredSpam", "Quarantined", "Failed", "Expanded"]
# A statusMessage per status, in the style of the SMTP replies ACS passes on (the recipient's
# address appears in them, which is why the handler masks addresses in `detail`).
MESSAGES = {
    "Delivered": "250 2.6.0 Queued mail for delivery",
    "Bounced": "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown",
    "Suppressed": "The email was suppressed because {rcpt} is on the suppression list",
    "FilteredSpam": "The message was identified as spam by the recipient's provider",
    "Quarantined": "The message was quarantined by the recipient's provider",
    "Failed": "451 4.4.0 DNS lookup for the recipient's domain failed",
    "Expanded": "The recipient is a distribution list and was expanded",
}
TOPIC = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-notify/providers/"
         "microsoft.communication/communicationservices/acs-notify")
SENDER = "DoNotReply@0f1e2d3c-0000-0000-0000-000000000000.azurecomm.net"


def report(message_id, status="Delivered", recipient="you@example.com", message=None,
           attempt="2026-12-03T08:30:00.2855749Z"):
    """One EmailDeliveryReportReceived event in the Event Grid schema."""
    msg = MESSAGES.get(status, "") if message is None else message
    return {
        "id": str(uuid.uuid4()),
        "topic": TOPIC,
        "subject": "sender/%s/message/%s" % (SENDER, message_id),
        "data": {
            "sender": SENDER,
            "recipient": recipient,
            "messageId": message_id,
            "internetMessageId": "<%s@azurecomm.net>" % uuid.uuid4().hex,
            "status": status,
            "deliveryStatusDetails": {"statusMessage": msg.format(rcpt=recipient)},
            "deliveryAttemptTimestamp": attempt,
        },
        "eventType": REPORT,
        "dataVersion": "1.0",
        "metadataVersion": "1",
        "eventTime": "2026-12-03T08:30:01.0000000Z",
    }


def engagement(message_id, kind="View", recipient="you@example.com"):
    """One EmailEngagementTrackingReportReceived event (opens and clicks)."""
    return {
        "id": str(uuid.uuid4()), "topic": TOPIC,
        "subject": "sender/%s/message/%s" % (SENDER, message_id),
        "data": {"sender": SENDER, "recipient": recipient, "messageId": message_id,
                 "userActionTimestamp": "2026-12-03T09:00:00.1303595+00:00",
                 "engagementContext": "", "userAgent": "Mozilla/5.0", "engagementType": kind},
        "eventType": ENGAGEMENT, "dataVersion": "1.0", "metadataVersion": "1",
        "eventTime": "2026-12-03T09:00:00.1303612Z",
    }


def foreign():
    """An event of another type on the same queue (a subscription filter gone wrong)."""
    return {"id": str(uuid.uuid4()), "topic": TOPIC, "subject": "/blobServices/default/containers/x",
            "data": {"api": "PutBlob", "url": "https://st.blob.core.windows.net/x/y"},
            "eventType": "Microsoft.Storage.BlobCreated", "dataVersion": "1", "metadataVersion": "1",
            "eventTime": "2026-12-03T08:30:01Z"}


def missing_message_id():
    ev = report("x")
    del ev["data"]["messageId"]
    return ev


# Messages no event can be read from (written to the queue as they are, then Base64 by Event Grid).
GARBAGE = [b"this is not an event", b"{\"eventType\":", b"\xff\xfe\x00garbage", b"[1, 2, 3",
           b"42"]
