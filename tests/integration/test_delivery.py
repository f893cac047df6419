"""ACS delivery reports under the Functions host: the real deploy ZIP, run by the host simulator
(fnhost.py), sends through the TLS mock of ACS (mock_acs.py); Event Grid's Storage queue
destination is played by FunctionsHost.publish_event_grid() with events shaped as the public
schema (eventgrid_fixtures.py), and the queue-triggered delivery_report function reads them.

Covered: a send gets an id and the delivery report for that id is logged with the same
operation_id; every status, with its outcome and level, the recipient masked and addresses in
the status message masked; a batch; engagement events; foreign, malformed and garbage messages
logged and completed on the first delivery (nothing retried, nothing in the poison queue); the
messageEncoding traps (Base64 as Event Grid writes it; a plain-text message under "base64" never
reaches the handler; a trigger set to "none" still works, since the handler takes the Base64 off
itself); the handler stays up throughout.
"""
import base64
import json
import os
import shutil
import subprocess
import uuid

import pytest

import eventgrid_fixtures as eg
from conftest import BIN, ORIGINAL, request
from fnhost import FunctionsHost
from test_functions import (_check_stopped, acs, acs_env, accepted, events, make_host, pki,  # noqa: F401
                            zips)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def report_lines(deliveries, name="fn.delivery"):
    """The handler's log lines of that name, from the Logs of every delivery's invocation."""
    out = []
    for d in deliveries:
        assert d.invocation is not None and not d.invocation.failed, d
        out.extend(x for x in d.invocation.log_json() if isinstance(x, dict) and x.get("event") == name)
    return out


def completed_once(deliveries, n):
    """n messages, each completed on its first delivery: nothing retried, nothing poisoned."""
    assert [(d.outcome, d.dequeue_count) for d in deliveries] == [("completed", 1)] * n, deliveries
    for d in deliveries:
        assert d.invocation.status == 200 and d.invocation.result["Outputs"] == {}
        inv_lines = [x for x in d.invocation.log_json() if isinstance(x, dict)
                     and x.get("event") == "fn.invocation"]
        assert len(inv_lines) == 1 and inv_lines[0]["function"] == "delivery_report"
        # (no dequeue_count when the message text itself could not be read)
        assert inv_lines[0]["status"] == 200 and inv_lines[0].get("dequeue_count", 1) == 1


@pytest.fixture
def dhost(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki))
    return h


def run_reports(h):
    deliveries = h.run_queue("delivery_report", max_deliveries=50)
    assert h.queues.get("delivery-reports-poison", []) == []
    assert h.queues.get("delivery-reports", []) == []
    return deliveries


# ---- the join: request -> send -> delivery --------------------------------------------------------

def test_report_for_a_sent_notification_has_its_operation_id(dhost, acs):
    h = dhost
    op = accepted(h.invoke_http("notification", body=ORIGINAL))
    (sent,) = h.run_queue()  # the worker: one send through the mock of ACS under that id
    assert sent.outcome == "completed" and acs.logical_sends == 1
    assert [r.operation_id for r in acs.requests if r.method == "POST"] == [op]

    (m,) = h.publish_event_grid([eg.report(op, "Delivered", ORIGINAL["to_email"])])
    assert m.wire == base64.b64encode(m.body)  # Event Grid's Base64, decoded by the trigger
    deliveries = run_reports(h)
    completed_once(deliveries, 1)
    (line,) = report_lines(deliveries)
    assert line["operation_id"] == op and line["level"] == "info"
    assert line["status"] == "Delivered" and line["outcome"] == "delivered"
    assert line["recipient"] == "y***@example.com"
    assert line["attempt_time"] == "2026-12-03T08:30:00.2855749Z"
    assert line["detail"] == "250 2.6.0 Queued mail for delivery"
    (inv,) = [x for x in deliveries[0].invocation.log_json() if x.get("event") == "fn.invocation"]
    assert inv["operation_id"] == op  # fn.invocation of the report joins the same id
    # the same line reaches stdout (Host.Function.Console), where the KQL reads it too
    on_stdout = [x for x in h.console_logs() if isinstance(x, dict) and x.get("event") == "fn.delivery"]
    assert [x["operation_id"] for x in on_stdout] == [op]
    # the send's own lines carry the same operation_id
    assert any(x.get("event") == "acs.send" and x.get("operation_id", x.get("id")) == op
               for x in h.console_logs() if isinstance(x, dict))
    assert "you@example.com" not in h.stdout()


def test_every_status(dhost):
    h = dhost
    ops = {s: str(uuid.uuid4()) for s in eg.STATUSES + ["SomethingNew"]}
    rcpt = "someone.else@mail.example.org"
    h.publish_event_grid([eg.report(ops[s], s, rcpt) for s in ops])
    deliveries = run_reports(h)
    completed_once(deliveries, len(ops))
    lines = {x["status"]: x for x in report_lines(deliveries)}
    assert set(lines) == set(ops)
    for s, line in lines.items():
        assert line["operation_id"] == ops[s]
        ok = s == "Delivered"
        assert line["outcome"] == ("delivered" if ok else "failed"), line
        assert line["level"] == ("info" if ok else "warn"), line
        assert line["recipient"] == "s***@mail.example.org"
    # addresses inside status messages are masked too
    assert lines["Bounced"]["detail"] == ("550 5.1.1 <s***@mail.example.org>: Recipient address "
                                          "rejected: User unknown")
    assert lines["Suppressed"]["detail"].startswith("The email was suppressed because s***@mail")
    assert "someone.else" not in h.stdout() + h.stderr()


def test_batch_and_engagement(dhost):
    h = dhost
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    # Event Grid writes one event per message; a message holding an array (the doc's samples)
    # is read just as well
    h.publish_event_grid([json.dumps([eg.report(a, "Bounced"), eg.report(b, "Delivered"),
                                      eg.engagement(a, "Click")])])
    deliveries = run_reports(h)
    completed_once(deliveries, 1)
    assert [(x["operation_id"], x["status"]) for x in report_lines(deliveries)] == [
        (a, "Bounced"), (b, "Delivered")]
    (e,) = report_lines(deliveries, "fn.engagement")
    assert e["operation_id"] == a and e["engagement"] == "Click" and e["recipient"] == "y***@example.com"
    assert e["action_time"] == "2026-12-03T09:00:00.1303595+00:00"


def test_bad_events_are_logged_and_completed(dhost):
    h = dhost
    msgs = [eg.foreign(), eg.missing_message_id(), json.dumps([42, eg.foreign()])] + eg.GARBAGE
    h.publish_event_grid(msgs)
    deliveries = run_reports(h)
    completed_once(deliveries, len(msgs))  # each on its first delivery, none retried
    rejected = report_lines(deliveries, "fn.delivery_rejected")
    assert [x["error"] for x in rejected[:4]] == ["foreign-event", "malformed-event",
                                                  "malformed-event", "foreign-event"]
    assert rejected[0]["event_type"] == "Microsoft.Storage.BlobCreated"
    assert rejected[1]["detail"] == "data.messageId is missing or not a string"
    garbage = rejected[4:]
    assert len(garbage) == len(eg.GARBAGE)
    assert {x["level"] for x in rejected} == {"warn"}
    assert all(x["detail"] == "the queue message is not an Event Grid event" for x in garbage)
    assert {x["error"] for x in garbage} <= {"json-syntax", "bad-utf8", "json-too-complex"}
    assert report_lines(deliveries) == []
    assert h.alive()
    # the worker's queue was never touched
    assert h.queues.get("notifications", []) == [] and h.poison == []


def test_plain_text_under_base64_never_reaches_the_handler(dhost):
    """If Event Grid wrote plain JSON (as older docs said), the trigger's Base64 decoding fails
    and the extension moves the message to delivery-reports-poison without an invocation: the
    handler cannot help, so the README and the alert say to look there."""
    h = dhost
    (m,) = h.publish_event_grid([eg.report(str(uuid.uuid4()), "Bounced")], eg_encoding="none")
    assert m.undecodable
    (d,) = h.run_queue("delivery_report")
    assert d.outcome == "poison-undecodable" and d.invocation is None
    assert [p.body for p in h.queues["delivery-reports-poison"]] == [m.body]


def test_trigger_without_base64_decoding_still_works(tmp_path, make_host, acs, pki):
    """host.json messageEncoding "none": the handler gets Event Grid's Base64 text and takes it
    off itself; plain JSON works as well."""
    src = tmp_path / "functions"
    shutil.copytree(os.path.join(ROOT, "infra", "functions"), src)
    hj = json.loads((src / "host.json").read_text())
    hj["extensions"]["queues"]["messageEncoding"] = "none"
    (src / "host.json").write_text(json.dumps(hj))
    out = tmp_path / "none.zip"
    r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "zip.sh"), str(out), BIN, str(src)],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, ZIP_STAGE_ROOT=str(tmp_path)))
    assert r.returncode == 0, r.stderr
    h = FunctionsHost(str(out), workdir=str(tmp_path / "host"), env=acs_env(acs, pki))
    try:
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        (m,) = h.publish_event_grid([eg.report(a, "Quarantined")])
        assert m.body == m.wire  # handed over still Base64
        h.publish_event_grid([eg.report(b, "Delivered")], eg_encoding="none")
        deliveries = run_reports(h)
        completed_once(deliveries, 2)
        assert [(x["operation_id"], x["status"]) for x in report_lines(deliveries)] == [
            (a, "Quarantined"), (b, "Delivered")]
    finally:
        _check_stopped(h, h.alive())


def test_direct_invocations_and_odd_envelopes(dhost):
    """Shapes the host may hand over: a string encoded twice, an object, DequeueCount as text;
    a message that is not text (NUL) is logged and completed; an envelope that is not an
    invocation is the host's 400 (retried by the host, then poisoned: bounded)."""
    h = dhost
    op = str(uuid.uuid4())
    ev = eg.report(op, "FilteredSpam")
    for value in (json.dumps(json.dumps(ev)), json.dumps(ev)):
        inv = h.invoke_queue("delivery_report", value)
        assert not inv.failed and inv.status == 200
        (line,) = [x for x in inv.log_json() if x.get("event") == "fn.delivery"]
        assert line["operation_id"] == op and line["status"] == "FilteredSpam"
    inv = h.invoke("delivery_report", {"msg": ev}, {"DequeueCount": "2"})
    assert not inv.failed
    assert [x["dequeue_count"] for x in inv.log_json() if x.get("event") == "fn.invocation"] == [2]
    inv = h.invoke_queue("delivery_report", "text with a NUL \x00 in it")
    assert not inv.failed and inv.status == 200
    (rej,) = [x for x in inv.log_json() if x.get("event") == "fn.delivery_rejected"]
    assert rej["error"] == "bad-utf8"
    inv = h.invoke("delivery_report", {}, {})
    assert inv.failed and inv.status == 400
    assert h.alive()


def test_standalone_has_no_delivery_route(h):
    """Outside the host the function routes do not exist (nobody can inject reports)."""
    r = request(h, "POST", "/delivery_report", body={"Data": {"msg": "{}"}})
    assert r.status == 404
