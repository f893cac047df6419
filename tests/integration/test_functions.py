"""The handler under the Azure Functions host, end to end: the real deploy ZIPs, built by
scripts/zip.sh from the binary under test (NOTIFY_BIN, via conftest.BIN), run by the host
simulator (fnhost.py) against the TLS mock of ACS (mock_acs.py).

Covered: readiness; the queued flow (HTTP function -> queue output -> worker -> one logical send
under the 202's id -> status function), Idempotency-Key across invocations and restarts; ACS
faults in the worker (retryable -> invocation fails -> redelivery with DequeueCount + 1 and the
same Operation-Id; permanent -> completed; persistent -> poison with the original text); direct
mode; the forwarding package; the status function; envelopes that are not invocations; the
encoding traps of the host's payloads (functions-custom-handlers "Request payload"; the host's
ScriptInvocationContextExtensions.cs and HttpRequestExtensions.cs: Body string with escapes,
Headers arrays, Query "{}", DequeueCount "2", layered queue strings, missing Body); no transport under the host; the exit
status 200 on stop; the Logs lines and that no secret reaches Logs, stdout or stderr.
"""
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import BIN, ORIGINAL
from fnhost import FunctionsHost

if shutil.which("openssl") is None:
    pytest.skip("openssl CLI not found (needed to make the test PKI)", allow_module_level=True)
if shutil.which("zip") is None:
    pytest.skip("zip not installed (make deps installs it)", allow_module_level=True)

from mock_acs import MockACS  # noqa: E402
from pki import make_pki  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SENDER = "DoNotReply@example.com"
# Fast, deterministic ACS retries: one attempt per invocation unless a test says otherwise, so a
# failure is the host's business (redelivery), not the handler's own backoff.
FAST = {"NOTIFY_ACS_ATTEMPTS": "1", "NOTIFY_ACS_BACKOFF_MS": "10", "NOTIFY_ACS_TIMEOUT_MS": "3000",
        "NOTIFY_ACS_ATTEMPT_TIMEOUT_MS": "1500"}
PROBLEM = "urn:notify-handler:problem:"


# ---- fixtures ---------------------------------------------------------------------------------

def _build_zip(out, functions, stage):
    r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "zip.sh"), str(out), BIN,
                        os.path.join(ROOT, functions)], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, ZIP_STAGE_ROOT=str(stage)))
    assert r.returncode == 0, r.stderr
    return str(out)


@pytest.fixture(scope="module")
def zips(tmp_path_factory):
    """Both packages, made from the binary under test (not from build/static)."""
    if not os.path.isfile(BIN):
        pytest.skip("handler binary not built: %s" % BIN)
    d = tmp_path_factory.mktemp("fnzips")
    return {"payload": _build_zip(d / "notify-handler.zip", "infra/functions", d),
            "http": _build_zip(d / "notify-handler-http.zip", "infra/functions-http", d)}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("fn-pki"))


@pytest.fixture
def acs(pki):
    m = MockACS(pki.server_cert, pki.server_key)
    m.start()
    yield m
    m.stop()


def acs_env(acs, pki, **extra):
    e = {"COMMUNICATION_SERVICES_CONNECTION_STRING": acs.connection_string,
         "NOTIFY_CA_FILE": pki.ca_cert, "EMAIL_SENDER": SENDER}
    e.update(FAST)
    e.update(extra)
    return e


def _secrets(env):
    out = []
    cs = env.get("COMMUNICATION_SERVICES_CONNECTION_STRING", "")
    for part in cs.split(";"):
        k, _, v = part.partition("=")
        if k.strip().lower() == "accesskey" and v.strip():
            out.append(v.strip())
    if env.get("NOTIFY_API_KEY"):
        out.append(env["NOTIFY_API_KEY"])
    return out


def _check_stopped(h, was_alive):
    rc = h.stop()
    err = h.stderr()
    assert "Sanitizer" not in err and "runtime error" not in err, err
    if was_alive:
        # under the host a clean stop is 200 (the host's restart code), never 0
        assert rc == 200, "exit status %r: %s" % (rc, h.stderr_tail())
    h.assert_never_exited_zero()
    for line in h.stdout().splitlines():
        json.loads(line)  # every stdout line is one JSON object
    seen = h.stdout() + err + "".join(i.body.decode("utf-8", "replace") for i in h.invocations
                                       if i.response is not None)
    seen += "".join(m.text for q in h.queues.values() for m in q)
    for s in _secrets(h.user_env):
        assert s not in seen, "a secret reached the handler's output"


@pytest.fixture
def make_host(tmp_path, zips):
    """make_host(kind="payload"|"http", env={...}, **FunctionsHost kwargs) -> a started host;
    every host is stopped at teardown and must exit 200, cleanly, without leaking secrets."""
    hosts = []

    def _make(kind="payload", env=None, **kw):
        kw.setdefault("workdir", str(tmp_path / ("host%d" % len(hosts))))
        e = {"NOTIFY_LOG_LEVEL": "debug"}
        e.update(env or {})
        h = FunctionsHost(zips[kind], env=e, **kw)
        hosts.append(h)
        return h

    yield _make
    for h in hosts:
        _check_stopped(h, h.alive())


@pytest.fixture(scope="module")
def outbox_host(tmp_path_factory, zips):
    """One payload host with NOTIFY_TRANSPORT=outbox, shared by the tests that only invoke."""
    d = tmp_path_factory.mktemp("fn-outbox")
    h = FunctionsHost(zips["payload"], workdir=str(d / "host"),
                      env={"NOTIFY_TRANSPORT": "outbox", "NOTIFY_OUTBOX_DIR": str(d / "outbox"),
                           "NOTIFY_LOG_LEVEL": "debug"})
    h.outbox = d / "outbox"
    yield h
    _check_stopped(h, h.alive())


@pytest.fixture
def obhost(outbox_host):
    outbox_host.queues.clear()
    return outbox_host


# ---- helpers ----------------------------------------------------------------------------------

def answer_logs(inv):
    """The handler's Logs lines, parsed, also for a failed invocation (the host drops them, but
    the answer carries them)."""
    try:
        logs = json.loads(inv.body).get("Logs") or []
    except (ValueError, AttributeError):
        return []
    return [json.loads(x) for x in logs]


def events(lines, name, **match):
    return [x for x in lines if isinstance(x, dict) and x.get("event") == name
            and all(x.get(k) == v for k, v in match.items())]


def stderr_lines(host):
    out = []
    for line in host.stderr().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def accepted(inv, state="NotStarted"):
    """The 202 of the notification function; returns the operation id."""
    assert not inv.failed, inv.reason
    assert inv.status_code == 202, inv.res
    body = inv.res_json()
    assert set(body) == {"id", "status"} and body["status"] == state, body
    op = body["id"]
    assert str(uuid.UUID(op)) == op
    assert inv.res["headers"].get("Location") == "/api/notification/" + op
    assert inv.res["headers"].get("Content-Type") == "application/json"
    return op


def problem(inv, status, slug):
    """An answer in Outputs.res (the invocation itself succeeded)."""
    assert not inv.failed, inv.reason
    assert inv.status_code == status, inv.res
    assert inv.res["headers"].get("Content-Type") == "application/problem+json"
    p = inv.res_json()
    assert p["type"] == PROBLEM + slug and p["status"] == status, p
    return p


def host_refused(inv, slug, field=None):
    """The handler told the host the payload is no invocation: HTTP 400, the invocation fails."""
    assert inv.failed and inv.status == 400, (inv.reason, inv.body[:300])
    assert inv.response.header("Content-Type") == "application/problem+json"
    p = json.loads(inv.body)
    assert p["type"] == PROBLEM + slug, p
    if field is not None:
        assert p.get("field") == field, p


def console_when(host, pred, timeout=5.0):
    """stdout lines once pred(lines) holds: an access-log line is written just after its answer."""
    deadline = time.monotonic() + timeout
    while True:
        lines = host.console_logs()
        if pred(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)


def posts(acs):
    return [r for r in acs.requests if r.method == "POST"]


def assert_works(host):
    """The handler is alive and the next invocation is answered normally."""
    assert host.alive()
    inv = host.invoke_http("notification", body=ORIGINAL)
    assert not inv.failed and inv.status_code == 202, (inv.reason, inv.res)
    host.queues.clear()


# ---- 1. readiness -----------------------------------------------------------------------------

def test_ready_under_the_host(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki))
    assert h.ready_status == 200 and h.ready_s is not None and h.ready_polls >= 1
    assert h.alive()
    r = h.ping()
    assert r.status == 200 and r.json() == {"status": "ready"}
    ready = events(h.console_logs(), "server.ready")
    assert len(ready) == 1 and ready[0]["port"] == h.port and ready[0]["transport"] == "acs"
    assert ready[0]["acs_auth"] == "access-key"


# ---- 2. the queued flow -----------------------------------------------------------------------

def test_queued_flow_end_to_end(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki))
    inv = h.invoke_http("notification", body=ORIGINAL)
    op = accepted(inv)
    assert acs.requests == []  # queued: nothing sent yet
    (m,) = h.queue
    assert inv.queue_messages == [m] and not m.decoded_from_base64
    assert m.json() == {"id": op, "request": ORIGINAL}
    assert json.loads(inv.outputs["msg"]) == {"id": op, "request": ORIGINAL}  # JSON text
    (d,) = h.run_queue()
    assert d.outcome == "completed" and d.dequeue_count == 1
    assert d.invocation.status == 200 and d.invocation.result["Outputs"] == {}
    assert acs.logical_sends == 1
    (s,) = acs.sends
    assert s.header("operation-id") == op and s.auth == "hmac"
    assert s.json["senderAddress"] == SENDER
    assert s.json["recipients"]["to"] == [{"address": ORIGINAL["to_email"]}]
    assert s.json["content"]["subject"] == ORIGINAL["subject"]
    assert s.json["content"]["plainText"] == ORIGINAL["message"]
    # the status function reports what ACS says, poll after poll
    for want in ("Running", "Succeeded"):
        st = h.invoke_http("notification_status", params={"id": op})
        assert not st.failed and st.status_code == 200, st.res
        assert st.res_json() == {"id": op, "status": want}
    gets = [r for r in acs.requests if r.method == "GET"]
    assert [r.path for r in gets] == ["/emails/operations/" + op] * 2
    assert h.queue == [] and h.poison == []


def test_several_notifications_each_sent_once_under_its_id(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki))
    ops = [accepted(h.invoke_http("notification", body=dict(ORIGINAL, subject="n%d" % i)))
           for i in range(3)]
    assert len(set(ops)) == 3 and len(h.queue) == 3
    acs.script("500")  # the first delivery fails once
    log = h.run_queue()
    assert [d.outcome for d in log] == ["retry", "completed", "completed", "completed"]
    assert acs.logical_sends == 3
    by_op = {r.header("operation-id"): r.json["content"]["subject"] for r in acs.sends}
    assert by_op == {ops[i]: "n%d" % i for i in range(3)}


def test_idempotency_key_same_id_one_logical_send(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki))
    key = {"Idempotency-Key": "order-4711"}
    a = h.invoke_http("notification", body=ORIGINAL, headers=key)
    op = accepted(a)
    b = h.invoke_http("notification", body=ORIGINAL, headers=key)
    assert not b.failed and b.status_code == 202 and b.res_json()["id"] == op
    assert "msg" not in b.outputs  # a replay enqueues nothing
    assert len(h.queue) == 1
    h.run_queue()
    c = h.invoke_http("notification", body=ORIGINAL, headers=key)
    assert c.status_code == 202 and c.res_json()["id"] == op and "msg" not in c.outputs
    # the same key with another body is a conflict
    other = h.invoke_http("notification", body=dict(ORIGINAL, subject="other"), headers=key)
    problem(other, 409, "idempotency-key-reused")
    assert "msg" not in other.outputs
    # a restarted handler (empty table) derives the same id; ACS dedupes the Operation-Id
    h.stop()
    h.start()
    e = h.invoke_http("notification", body=ORIGINAL, headers=key)
    assert accepted(e) == op
    (d,) = h.run_queue()
    assert d.outcome == "completed"
    assert acs.logical_sends == 1
    assert {r.header("operation-id") for r in posts(acs)} == {op} and len(posts(acs)) == 2


def test_idempotency_replay_in_queued_mode_repeats_the_first_answer(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki))
    key = {"Idempotency-Key": "replay-before-send"}
    op = accepted(h.invoke_http("notification", body=ORIGINAL, headers=key))
    b = h.invoke_http("notification", body=ORIGINAL, headers=key)
    assert b.res_json() == {"id": op, "status": "NotStarted"}


# ---- 3. ACS failures in the worker ------------------------------------------------------------

def _failed_deliveries(host, op):
    """fn.invocation lines of failed worker deliveries, from stderr (the host drops their Logs)."""
    return [x for x in stderr_lines(host) if x.get("event") == "fn.invocation"
            and x.get("function") == "notification_worker" and x.get("operation_id") == op]


def test_retryable_failure_redelivered_until_sent(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki, NOTIFY_ACS_ATTEMPTS="2"))
    op = accepted(h.invoke_http("notification", body=ORIGINAL))
    text = h.queue[0].text
    acs.script(*["500"] * 4)  # the handler's 2 attempts give up, on deliveries 1 and 2
    log = h.run_queue()
    assert [d.outcome for d in log] == ["retry", "retry", "completed"]
    assert [d.dequeue_count for d in log] == [1, 2, 3]
    first = log[0].invocation
    assert first.failed and first.status == 500 and "EnsureSuccessStatusCode" in first.reason
    lines = answer_logs(first)
    assert events(lines, "fn.send_retry", operation_id=op, error="upstream-error")
    assert len(events(lines, "acs.send", operation_id=op)) == 2
    # every delivery carries the same message, and its Metadata the growing DequeueCount
    assert {json.loads(d.invocation.payload["Data"]["msg"]) for d in log} == {text}
    assert [d.invocation.payload["Metadata"]["DequeueCount"] for d in log] == ["1", "2", "3"]
    statuses = [r.status for r in posts(acs)]
    assert statuses == [500, 500, 500, 500, 202]
    assert {r.header("operation-id") for r in posts(acs)} == {op}
    assert acs.logical_sends == 1
    # the lines of the failed invocations reach stderr, with the host's invocation ids
    failed = _failed_deliveries(h, op)
    assert [(x["status"], x["dequeue_count"]) for x in failed] == [(500, 1), (500, 2)]
    assert [x["invocation_id"] for x in failed] == [d.invocation.invocation_id for d in log[:2]]
    done = events(log[2].invocation.log_json(), "fn.invocation", function="notification_worker")
    assert done and done[0]["status"] == 200 and done[0]["dequeue_count"] == 3


@pytest.mark.parametrize("fault", ["503", "429:60", "503:60", "408", "reset", "malformed", "close"])
def test_retryable_faults_fail_the_invocation(make_host, acs, pki, fault):
    h = make_host(env=acs_env(acs, pki))
    op = accepted(h.invoke_http("notification", body=ORIGINAL))
    acs.script(fault)
    t0 = time.monotonic()
    log = h.run_queue()
    assert time.monotonic() - t0 < 5  # a throttled subscription does not hold the worker
    assert [d.outcome for d in log] == ["retry", "completed"], fault
    assert log[0].invocation.status == 500
    assert {r.header("operation-id") for r in posts(acs)} == {op}
    assert acs.logical_sends == 1


def test_lost_answer_then_redelivery_is_one_logical_send(make_host, acs, pki):
    """ACS created the operation but the answer was lost: the redelivery repeats the same
    Operation-Id, and ACS answers it without a second e-mail."""
    h = make_host(env=acs_env(acs, pki))
    op = accepted(h.invoke_http("notification", body=ORIGINAL))
    acs.script({"kind": "reset", "process": True})
    log = h.run_queue()
    assert [d.outcome for d in log] == ["retry", "completed"]
    p = posts(acs)
    assert len(p) == 2 and p[1].duplicate and not p[1].conflict
    assert {r.header("operation-id") for r in p} == {op}
    assert acs.logical_sends == 1


def test_stalled_acs_times_out_and_is_redelivered(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki, NOTIFY_ACS_ATTEMPT_TIMEOUT_MS="300",
                              NOTIFY_ACS_TIMEOUT_MS="600"))
    op = accepted(h.invoke_http("notification", body=ORIGINAL))
    acs.script("stall:2")
    log = h.run_queue()
    assert [d.outcome for d in log] == ["retry", "completed"]
    assert log[0].invocation.elapsed_s < 2
    assert events(answer_logs(log[0].invocation), "fn.send_retry", operation_id=op)
    assert acs.logical_sends == 1 and acs.sends[0].header("operation-id") == op


def test_throttle_within_the_deadline_is_waited_for(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki, NOTIFY_ACS_ATTEMPTS="2"))
    op = accepted(h.invoke_http("notification", body=ORIGINAL))
    acs.script("429:1")
    (d,) = h.run_queue()
    assert d.outcome == "completed" and d.invocation.elapsed_s >= 0.9
    assert [r.status for r in posts(acs)] == [429, 202] and acs.sends[0].header("operation-id") == op


@pytest.mark.parametrize("fault", ["401", "403"])
def test_auth_refusal_fails_the_invocation_and_keeps_the_message(make_host, acs, pki, fault):
    """401/403 are fixed by the operator (a key, a role assignment that takes hours to reach
    tokens): the worker fails the invocation, so the message is redelivered and, if the fix does
    not come in time, waits in the poison queue instead of being dropped."""
    h = make_host(env=acs_env(acs, pki, NOTIFY_ACS_ATTEMPTS="3"))
    op = accepted(h.invoke_http("notification", body=ORIGINAL))
    acs.script(fault, "ok")
    log = h.run_queue()
    assert [d.outcome for d in log] == ["retry", "completed"]
    assert [d.dequeue_count for d in log] == [1, 2]
    # the host drops the Logs of a failed invocation; the handler also wrote them to stderr
    with open(h.stderr_path) as f:
        err = [json.loads(x) for x in f if x.startswith("{")]
    (r,) = [x for x in err if x.get("event") == "fn.send_retry" and x.get("operation_id") == op]
    assert r["error"] == "acs-configuration"
    assert [q.header("operation-id") for q in posts(acs)] == [op, op]
    assert acs.logical_sends == 1 and h.poison == []


@pytest.mark.parametrize("fault,slug,code", [
    ("400:DomainNotLinked", "acs-configuration", "DomainNotLinked"),
    ("400", "acs-rejected", "BadRequest"),
])
def test_permanent_failure_completes_without_redelivery(make_host, acs, pki, fault, slug, code):
    h = make_host(env=acs_env(acs, pki, NOTIFY_ACS_ATTEMPTS="3"))
    op = accepted(h.invoke_http("notification", body=ORIGINAL))
    acs.script(fault, fault, fault)
    (d,) = h.run_queue()
    assert d.outcome == "completed" and d.invocation.status == 200 and not d.invocation.failed
    lines = d.invocation.log_json()
    (f,) = events(lines, "fn.send_failed", operation_id=op)
    assert f["error"] == slug and f["code"] == code
    (fi,) = events(lines, "fn.invocation", function="notification_worker")
    assert fi["operation_id"] == op and fi["status"] == 200 and fi["error"] == slug
    assert len(posts(acs)) == 1  # not retried by the handler either
    assert acs.logical_sends == 0 and h.queue == [] and h.poison == []


def test_persistent_failure_goes_to_poison_with_the_original_text(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki))
    assert h.max_dequeue_count == 5  # host.json extensions.queues.maxDequeueCount
    inv = h.invoke_http("notification", body=ORIGINAL)
    op = accepted(inv)
    original = h.queue[0].body
    acs.script(*["500"] * 5)
    log = h.run_queue()
    assert [d.outcome for d in log] == ["retry"] * 4 + ["poison"]
    assert [d.dequeue_count for d in log] == [1, 2, 3, 4, 5]
    assert h.queue == [] and len(h.poison) == 1
    assert h.poison[0].body == original and h.poison[0].queue == "notifications-poison"
    assert h.poison[0].json() == {"id": op, "request": ORIGINAL}
    assert len(posts(acs)) == 5 and {r.header("operation-id") for r in posts(acs)} == {op}
    assert acs.logical_sends == 0
    assert [x["dequeue_count"] for x in _failed_deliveries(h, op)] == [1, 2, 3, 4, 5]
    # an operator moves the poison message back: it is sent once, under the same id
    h.enqueue(h.poison[0].text)
    (d,) = h.run_queue()
    assert d.outcome == "completed"
    assert acs.logical_sends == 1 and acs.sends[0].header("operation-id") == op


@pytest.mark.parametrize("text", [
    "hello",                                            # a bare word
    "{not json",                                        # not JSON
    "",                                                 # empty
    "[1,2]",                                            # JSON, not an object
    '{"id":"not-a-uuid","request":{"to_email":"a@example.com","subject":"s","message":"m"}}',
    '{"id":"6f1c2a9e-0c43-4b6b-9a55-0a4f3c2b1d7e"}',    # no request
])
def test_malformed_queue_message_rejected_and_completed(obhost, text):
    inv = obhost.invoke_queue("notification_worker", text)
    assert not inv.failed and inv.status == 200, inv.reason
    lines = inv.log_json()
    assert events(lines, "fn.message_rejected"), lines
    (fi,) = events(lines, "fn.invocation", function="notification_worker")
    assert fi["status"] == 200 and fi["invocation_id"] == inv.invocation_id
    assert_works(obhost)


def test_invalid_request_in_queue_message_rejected_with_its_id(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki))
    op = str(uuid.uuid4())
    h.enqueue(json.dumps({"id": op, "request": {"to_email": "not an address", "subject": "s",
                                                "message": "m"}}))
    (d,) = h.run_queue()
    assert d.outcome == "completed"
    (r,) = events(d.invocation.log_json(), "fn.message_rejected")
    assert r["operation_id"] == op and r["error"] == "field-invalid"
    assert acs.requests == []


# ---- 4. direct mode ---------------------------------------------------------------------------

def test_direct_mode_sends_before_answering(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki, NOTIFY_MODE="direct"))
    inv = h.invoke_http("notification", body=ORIGINAL)
    op = accepted(inv, state="Running")
    assert "msg" not in inv.outputs and h.queue == []
    assert acs.logical_sends == 1 and acs.sends[0].header("operation-id") == op
    assert events(inv.log_json(), "acs.send", operation_id=op)
    # larger than a queue message: fine in direct mode
    big = h.invoke_http("notification", body=dict(ORIGINAL, message="x" * (60 * 1024)))
    accepted(big, state="Running")
    # throttled beyond the deadline: 429 with Retry-After for the caller, at once
    acs.script("429:60")
    t = h.invoke_http("notification", body=ORIGINAL)
    problem(t, 429, "acs-throttled")
    assert t.res["headers"].get("Retry-After") == "60"
    assert acs.logical_sends == 2


# ---- 5. the forwarding package ----------------------------------------------------------------

def test_forwarding_package_sends_through_acs(make_host, acs, pki):
    h = make_host("http", env=acs_env(acs, pki), function_key="fkey")
    assert h.forwarding and list(h.functions) == ["notification"]
    body = json.dumps(ORIGINAL, ensure_ascii=False).encode()
    r = h.forward("POST", "/api/notification", {"Content-Type": "application/json",
                                                "User-Agent": "curl/8.0"}, body, query={"code": "fkey"})
    assert r.status == 202, r.body
    got = r.json()
    assert got["status"] == "Running" and r.header("Location") == "/api/notification/" + got["id"]
    assert acs.logical_sends == 1 and acs.sends[0].header("operation-id") == got["id"]
    # through the front door: the function key, then the same route
    assert h.request("POST", "/api/notification", {"Content-Type": "application/json"}, body).status == 401
    r2 = h.request("POST", "/api/notification?code=fkey", {"Content-Type": "application/json",
                                                            "Idempotency-Key": "fw-1"}, body)
    assert r2.status == 202 and acs.logical_sends == 2
    r3 = h.request("POST", "/api/notification?code=fkey", {"Content-Type": "application/json",
                                                            "Idempotency-Key": "fw-1"}, body)
    assert r3.status == 202 and r3.json()["id"] == r2.json()["id"] and acs.logical_sends == 2
    bad = h.forward("POST", "/api/notification", {"Content-Type": "application/json"}, b'{"to_email":1}')
    assert bad.status == 400 and bad.header("Content-Type") == "application/problem+json"
    reqs = events(console_when(h, lambda ls: len(events(ls, "http.request", path="/api/notification")) >= 4),
                  "http.request", path="/api/notification")
    assert [x["status"] for x in reqs] == [202, 202, 202, 400]


def test_forwarding_package_without_acs_is_not_configured(make_host):
    h = make_host("http")
    r = h.forward("POST", "/api/notification", {"Content-Type": "application/json"},
                  json.dumps(ORIGINAL).encode())
    assert r.status == 503 and r.json()["type"] == PROBLEM + "not-configured"


# ---- 6. the status function -------------------------------------------------------------------

def test_status_function(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki))
    op = accepted(h.invoke_http("notification", body=ORIGINAL))
    h.run_queue()
    acs.set_operation(op, ["Failed"], error={"code": "EmailDroppedAllRecipientsSuppressed",
                                             "message": "Message dropped because all recipients were suppressed."})
    st = h.invoke_http("notification_status", params={"id": op})
    assert st.status_code == 200
    b = st.res_json()
    assert b["id"] == op and b["status"] == "Failed"
    assert b["error"]["code"] == "EmailDroppedAllRecipientsSuppressed"
    (fi,) = events(st.log_json(), "fn.invocation", function="notification_status")
    assert fi["operation_id"] == op and fi["status"] == 200
    # ids ACS does not know, and ids that are no ids at all
    for pid in (str(uuid.uuid4()), "not-an-id", "../../etc/passwd", "x" * 300):
        nf = h.invoke_http("notification_status", params={"id": pid})
        problem(nf, 404, "not-found")
    unknown = [r for r in acs.requests if r.method == "GET" and r.status == 404]
    assert len(unknown) == 1  # only the well-formed id was asked of ACS
    # the status function accepts only GET (function.json methods)
    assert h.request("POST", "/api/notification/" + op).status == 404
    r = h.request("GET", "/api/notification/" + op)
    assert r.status == 200 and r.json()["id"] == op


def test_status_throttled_passes_retry_after(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki))
    acs.script({"status": 429, "retry_after": 30, "on": "status"})
    st = h.invoke_http("notification_status", params={"id": str(uuid.uuid4())})
    assert not st.failed and st.status_code == 429
    assert st.res["headers"].get("Retry-After") == "30"


# ---- 7. payloads that are not invocations -----------------------------------------------------

@pytest.mark.parametrize("function,raw,slug,field", [
    ("notification", b"garbage", "json-syntax", None),
    ("notification", b"", "json-syntax", None),
    ("notification", b"{}", "field-missing", "Data"),
    ("notification", b"[]", None, None),
    ("notification", b'{"Data":{}}', "field-missing", "Data.req"),
    ("notification", b'{"Data":{"req":"x"}}', "field-type", "Data.req"),
    ("notification", b'{"Data":{"req":{"Method":"POST"}}}', "field-missing", None),
    ("notification", b'{"Data":{"req":{"Url":"https://x/api/notification","Method":"POST",'
                     b'"Query":"not json"}}}', "field-invalid", None),
    ("notification_status", b'{"Data":null}', None, None),
    ("notification_worker", b"garbage", "json-syntax", None),
    ("notification_worker", b"{}", "field-missing", None),
    ("notification_worker", b'{"Data":{}}', "field-missing", None),
    ("notification_worker", b'{"Data":{"msg":hello},"Metadata":{}}', "json-syntax", None),
    ("notification_worker", b'{"Data":{"msg":"x"},"Metadata":{"DequeueCount":"two"}}',
     "field-invalid", None),
    ("notification_worker", b'{"Data":{"msg":"x"},"Metadata":[]}', "field-type", None),
])
def test_not_an_invocation_fails_it_and_the_handler_stays_up(obhost, function, raw, slug, field):
    inv = obhost.invoke(function, None, None, raw_body=raw)
    assert inv.failed and inv.status == 400, (inv.reason, inv.body[:300])
    if slug:
        host_refused(inv, slug, field)
    assert obhost.queue == []
    assert_works(obhost)


@pytest.mark.parametrize("raw,field", [(b"{}", "Data"), (b'{"Data":{}}', "Data.msg")])
def test_worker_envelope_problem_names_the_field(obhost, raw, field):
    inv = obhost.invoke("notification_worker", None, None, raw_body=raw)
    host_refused(inv, "field-missing", field)


def test_bad_payloads_leave_no_trace_in_the_next_invocation(obhost):
    """A refused envelope leaves no state behind: the next answer carries its own Logs only."""
    bad = obhost.invoke("notification", None, None, raw_body=b'{"Data":{"req":"x"}}')
    assert bad.failed
    good = obhost.invoke_http("notification", body=ORIGINAL)
    op = accepted(good)
    lines = good.log_json()
    assert [x["event"] for x in lines] == ["fn.invocation"]
    assert lines[0]["invocation_id"] == good.invocation_id and lines[0]["operation_id"] == op


# ---- 8. encoding traps of the host's payloads (fnhost.py names the sources) ----------------------------------------

def test_body_string_with_non_ascii_and_escapes(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki))
    body = ('{"to_email":"a@example.com","subject":"\\u30c6\\u30b9\\u30c8 \\"q\\" \\\\ '
            '\\ud83d\\ude00 \U0001F600 \u00e9","message":"line1\\nline2\\t\\u00e9\\/ \u65e5\u672c"}')
    inv = h.invoke_http("notification", body=body)
    assert inv.payload["Data"]["req"]["Body"] == body  # the host passes the text as it is
    op = accepted(inv)
    assert json.loads(h.queue[0].text) == {"id": op, "request": json.loads(body)}
    h.run_queue()
    (s,) = acs.sends
    assert s.header("operation-id") == op
    assert s.json["content"] == {"subject": 'テスト "q" \\ \U0001F600 \U0001F600 é',
                                 "plainText": "line1\nline2\té/ 日本"}


def test_doc_shaped_request_query_string_headers_strings_and_body_object(obhost):
    """The documentation's shapes: Query as the string "{}", header values as plain strings,
    lower-case names, values as arrays, Body as a JSON value. A security header with several
    values (a repeated header line) is refused as ambiguous."""
    base = {"Url": "https://func-sim.azurewebsites.net/api/notification", "Method": "POST",
            "Query": "{}", "Params": {}}
    inv = obhost.invoke("notification", {"req": dict(base, Headers={"Content-Type": "application/json"},
                                                     Body=json.dumps(ORIGINAL))}, {})
    accepted(inv)
    two = {"req": dict(base, Headers={"content-type": ["application/json"],
                                      "idempotency-key": ["doc-k1", "doc-k2"]}, Body=ORIGINAL)}
    assert problem(obhost.invoke("notification", two, {}), 400, "header-ambiguous")["field"] == \
        "Idempotency-Key"
    key_a = {"req": dict(base, Headers={"content-type": ["application/json"],
                                        "idempotency-key": ["doc-k1"]}, Body=ORIGINAL)}
    a = obhost.invoke("notification", key_a, {})
    op = accepted(a)
    key_b = {"req": dict(base, Headers={"Idempotency-Key": "doc-k1"}, Body=ORIGINAL)}
    b = obhost.invoke("notification", key_b, {})
    assert b.status_code == 202 and b.res_json()["id"] == op  # the array element was the key
    assert json.loads(obhost.queue[-1].text)["request"] == ORIGINAL
    ct = {"req": dict(base, Headers={"Content-Type": ["text/plain"]}, Body=json.dumps(ORIGINAL))}
    problem(obhost.invoke("notification", ct, {}), 415, "unsupported-media-type")


def test_request_validation_answers_in_res(obhost):
    p = problem(obhost.invoke_http("notification", body=dict(ORIGINAL, to_email="nope")), 400,
                "field-invalid")
    assert p["field"] == "to_email"
    p = problem(obhost.invoke_http("notification", body=dict(ORIGINAL, CC="a@example.com")), 400,
                "field-unknown")
    assert p["field"] == "CC"
    problem(obhost.invoke_http("notification", body="{"), 400, "json-syntax")
    problem(obhost.invoke_http("notification", body={"to_email": "a@example.com"}), 400, "field-missing")
    assert obhost.queue == []


def test_queued_mode_48_kib_limit(obhost):
    over = obhost.invoke_http("notification", body=dict(ORIGINAL, message="x" * (48 * 1024)))
    p = problem(over, 413, "body-too-large")
    assert "NOTIFY_MODE=direct" in p["detail"]
    assert "msg" not in over.outputs and obhost.queue == []
    under = obhost.invoke_http("notification", body=dict(ORIGINAL, message="x" * (47 * 1024)))
    op = accepted(under)
    (m,) = obhost.queue
    assert len(m.body) <= 48 * 1024 and m.json()["id"] == op
    (d,) = obhost.run_queue()
    assert d.outcome == "completed"
    assert (obhost.outbox / (op + ".eml")).is_file()


# The host sends the request body twice: as Data.req.Body and, JSON-encoded once more, as the
# binding data of each top-level property in Metadata (fnhost.http_request_data, as
# Utility.ApplyBindingData does). With a 128 KiB body limit the effect shows with small bodies.
SMALL_LIMIT = {"NOTIFY_TRANSPORT": "outbox", "NOTIFY_MAX_BODY_BYTES": "131072"}


def test_forwarded_request_up_to_the_body_limit_is_accepted(make_host, tmp_path):
    h = make_host("http", env=dict(SMALL_LIMIT, NOTIFY_OUTBOX_DIR=str(tmp_path / "ob")))
    body = json.dumps(dict(ORIGINAL, message="x" * (100 * 1024))).encode()
    r = h.forward("POST", "/api/notification", {"Content-Type": "application/json"}, body)
    assert r.status == 202, r.body
    over = json.dumps(dict(ORIGINAL, message="x" * (130 * 1024))).encode()
    r = h.forward("POST", "/api/notification", {"Content-Type": "application/json"}, over)
    assert r.status == 413 and r.json()["type"] == PROBLEM + "body-too-large"


def test_queued_request_far_over_48_kib_is_413_in_res(make_host, tmp_path):
    h = make_host(env=dict(SMALL_LIMIT, NOTIFY_OUTBOX_DIR=str(tmp_path / "ob")))
    inv = h.invoke_http("notification", body=dict(ORIGINAL, message="x" * (80 * 1024)))
    problem(inv, 413, "body-too-large")


def test_direct_request_under_the_body_limit_is_accepted_under_the_host(make_host, tmp_path):
    h = make_host(env=dict(SMALL_LIMIT, NOTIFY_MODE="direct", NOTIFY_OUTBOX_DIR=str(tmp_path / "ob")))
    inv = h.invoke_http("notification", body=dict(ORIGINAL, message="x" * (100 * 1024)))
    accepted(inv, state="Succeeded")


def test_direct_request_over_the_body_limit_is_413_in_res(make_host, tmp_path):
    """The envelope may be 4x NOTIFY_MAX_BODY_BYTES, the request inside it may not exceed it."""
    limit = int(SMALL_LIMIT["NOTIFY_MAX_BODY_BYTES"])
    h = make_host(env=dict(SMALL_LIMIT, NOTIFY_MODE="direct", NOTIFY_OUTBOX_DIR=str(tmp_path / "ob")))
    inv = h.invoke_http("notification", body=dict(ORIGINAL, message="x" * (limit + 1024)))
    problem(inv, 413, "body-too-large")
    assert not (tmp_path / "ob").exists() or list((tmp_path / "ob").iterdir()) == []


def test_missing_body_chunked_upload_is_400_in_res(obhost):
    inv = obhost.invoke_http("notification", body=ORIGINAL, content_length=False)
    assert "Body" not in inv.payload["Data"]["req"]
    problem(inv, 400, "json-syntax")
    assert "msg" not in inv.outputs and obhost.queue == []


def test_dequeue_count_as_string_and_number(obhost):
    op = str(uuid.uuid4())
    text = json.dumps({"id": op, "request": ORIGINAL}, ensure_ascii=False)
    inv = obhost.invoke_queue("notification_worker", text, dequeue_count=2)
    assert inv.payload["Metadata"]["DequeueCount"] == "2"  # the host's shape: a string
    (fi,) = events(inv.log_json(), "fn.invocation", function="notification_worker")
    assert fi["dequeue_count"] == 2 and fi["operation_id"] == op and fi["status"] == 200
    op2 = str(uuid.uuid4())
    inv2 = obhost.invoke("notification_worker", {"msg": json.dumps({"id": op2, "request": ORIGINAL})},
                         {"DequeueCount": 3, "Id": "m-1"})
    (fi2,) = events(inv2.log_json(), "fn.invocation", function="notification_worker")
    assert fi2["dequeue_count"] == 3 and fi2["operation_id"] == op2
    assert (obhost.outbox / (op + ".eml")).is_file() and (obhost.outbox / (op2 + ".eml")).is_file()


@pytest.mark.parametrize("layers,sent", [
    (0, True),   # a producer that wrote the object itself (doc style, no host layer)
    (1, True),   # the host's usual shape: the message text JSON-encoded once more
    (2, True),   # a producer that sent a JSON string: triple-encoded on the wire
    (3, False),  # one layer more than the handler unwraps: rejected, completed
])
def test_layered_queue_messages(obhost, layers, sent):
    op = str(uuid.uuid4())
    text = json.dumps({"id": op, "request": ORIGINAL}, ensure_ascii=False)
    if layers == 0:
        inv = obhost.invoke("notification_worker", {"msg": {"id": op, "request": ORIGINAL}}, {})
    else:
        for _ in range(layers - 1):
            text = json.dumps(text)  # the producer's own extra layers
        inv = obhost.invoke_queue("notification_worker", text)  # + the host's layer
    assert not inv.failed and inv.status == 200, inv.reason
    lines = inv.log_json()
    assert (obhost.outbox / (op + ".eml")).is_file() is sent
    assert bool(events(lines, "fn.message_rejected")) is not sent


# ---- 9. no transport, the outbox, the exit status ---------------------------------------------

def test_without_acs_direct_and_status_are_not_configured(make_host):
    h = make_host(env={"NOTIFY_MODE": "direct"})
    assert events(h.console_logs(), "server.ready")[0]["transport"] == "none"
    inv = h.invoke_http("notification", body=ORIGINAL)
    p = problem(inv, 503, "not-configured")
    assert "COMMUNICATION_SERVICES_CONNECTION_STRING" in p["detail"]
    assert "msg" not in inv.outputs
    problem(h.invoke_http("notification_status", params={"id": str(uuid.uuid4())}), 503, "not-configured")
    assert not os.path.exists(os.path.join(h.root, "outbox"))  # nothing pretended to send


def test_without_acs_queued_mode_is_not_configured(make_host):
    h = make_host()
    inv = h.invoke_http("notification", body=ORIGINAL)
    problem(inv, 503, "not-configured")
    assert "msg" not in inv.outputs and h.queue == []


def test_without_acs_queued_worker_never_claims_success(make_host):
    """A message that reaches a worker without a transport (queued by an earlier, configured
    deployment) is never claimed as sent, nor dropped: each delivery fails, and after
    maxDequeueCount it waits in the poison queue for a fixed deployment."""
    h = make_host()
    text = json.dumps({"id": str(uuid.uuid4()), "request": ORIGINAL})
    h.enqueue(text)
    ds = h.run_queue()
    assert [d.outcome for d in ds][-1] != "completed"
    assert all(d.invocation.failed for d in ds)
    assert len(h.poison) == 1


def test_outbox_transport_under_the_host(make_host, tmp_path):
    ob = tmp_path / "ob"
    h = make_host(env={"NOTIFY_TRANSPORT": "outbox", "NOTIFY_OUTBOX_DIR": str(ob)})
    op = accepted(h.invoke_http("notification", body=ORIGINAL))
    assert not ob.exists() or list(ob.iterdir()) == []  # queued: written by the worker
    (d,) = h.run_queue()
    assert d.outcome == "completed"
    assert sorted(p.name for p in ob.iterdir() if p.suffix == ".eml") == [op + ".eml"]
    st = h.invoke_http("notification_status", params={"id": op})
    assert st.res_json() == {"id": op, "status": "Succeeded"}
    # a redelivered message (same id) writes no second file
    h.enqueue(json.dumps({"id": op, "request": ORIGINAL}))
    (d2,) = h.run_queue()
    assert d2.outcome == "completed"
    assert sorted(p.name for p in ob.iterdir() if p.suffix == ".eml") == [op + ".eml"]


def test_stop_exits_200(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki))
    accepted(h.invoke_http("notification", body=ORIGINAL))
    assert h.stop() == 200
    assert h.exit_codes == [(200, True)]
    (st,) = events(h.console_logs(), "server.stopped")
    assert st["exit"] == 200 and st["clean"] == 1
    h.assert_never_exited_zero()
    h.start()  # the host starts it again after an intentional restart
    assert h.alive() and h.ready_status == 200


# ---- 10. Logs --------------------------------------------------------------------------------

def test_invocation_log_lines(make_host, acs, pki):
    h = make_host(env=acs_env(acs, pki))
    inv = h.invoke_http("notification", body=ORIGINAL)
    op = accepted(inv)
    (fi,) = events(inv.log_json(), "fn.invocation")
    assert fi == {"time": fi["time"], "level": "info", "event": "fn.invocation",
                  "function": "notification", "invocation_id": inv.invocation_id,
                  "operation_id": op, "status": 202}
    (d,) = h.run_queue()
    lines = d.invocation.log_json()
    assert all(isinstance(x, dict) for x in lines)
    (send,) = events(lines, "acs.send")
    assert send["operation_id"] == op and send["status"] == 202 and send["attempt"] == 1
    (fw,) = events(lines, "fn.invocation")
    assert fw["function"] == "notification_worker" and fw["invocation_id"] == d.invocation.invocation_id
    assert fw["operation_id"] == op and fw["status"] == 200 and fw["dequeue_count"] == 1
    st = h.invoke_http("notification_status", params={"id": op})
    (fs,) = events(st.log_json(), "fn.invocation")
    assert fs["function"] == "notification_status" and fs["invocation_id"] == st.invocation_id
    assert fs["operation_id"] == op and fs["status"] == 200
    # the same lines on stdout (Host.Function.Console), plus the access log of each invocation
    console = console_when(h, lambda ls: len([x for x in events(ls, "http.request")
                                              if x["path"] != "/"]) >= 3)
    assert {x.get("invocation_id") for x in events(console, "fn.invocation")} == \
        {inv.invocation_id, d.invocation.invocation_id, st.invocation_id}
    paths = [x["path"] for x in events(console, "http.request") if x["path"] != "/"]
    assert paths == ["/notification", "/notification_worker", "/notification_status"]
    # an invalid request: its outcome, no operation id
    bad = h.invoke_http("notification", body=dict(ORIGINAL, to_email="x"))
    (fb,) = events(bad.log_json(), "fn.invocation")
    assert fb["status"] == 400 and fb["error"] == "field-invalid" and "operation_id" not in fb
    assert fb["invocation_id"] == bad.invocation_id


def test_secrets_never_in_logs(make_host, acs, pki):
    """The access key and the API key appear nowhere: Logs, answers, queue, stdout, stderr (the
    make_host teardown scans all of them for every host of this file)."""
    api_key = "api-key-SECRET-9f8e7d"
    h = make_host(env=acs_env(acs, pki, NOTIFY_API_KEY=api_key))
    denied = h.invoke_http("notification", body=ORIGINAL)
    problem(denied, 401, "unauthorized")
    assert denied.res["headers"].get("WWW-Authenticate", "").startswith("Bearer")
    wrong = h.invoke_http("notification", body=ORIGINAL, headers={"X-API-Key": api_key + "x"})
    problem(wrong, 401, "unauthorized")
    ok = h.invoke_http("notification", body=ORIGINAL, headers={"X-API-Key": api_key})
    op = accepted(ok)
    ok2 = h.invoke_http("notification", body=ORIGINAL, headers={"Authorization": "Bearer " + api_key})
    accepted(ok2)
    acs.script("500", "400")  # the first message fails once, the second for good
    log = h.run_queue()
    assert [d.outcome for d in log] == ["retry", "completed", "completed"]
    assert acs.logical_sends == 1 and acs.sends[0].header("operation-id") == op
    everything = h.stdout() + h.stderr() + "".join(i.body.decode() for i in h.invocations)
    assert acs.access_key not in everything and api_key not in everything
    assert "accesskey" not in everything.lower()
    assert op in everything


# ---- regressions from the review of invoke.c ----------------------------------------------------

def test_body_holding_nul_is_400_in_res_not_a_failed_invocation(obhost):
    """A client body with a NUL byte arrives as "\\u0000" in Data.req.Body: the client's
    request is at fault, so the caller gets the 400 and the invocation succeeds."""
    data = {"req": {"Url": "https://func-sim.azurewebsites.net/api/notification", "Method": "POST",
                    "Query": {}, "Headers": {"Content-Type": ["application/json"]}, "Params": {},
                    "Body": '{"to_email":"a@example.com","subject":"s\x00","message":"m"}'}}
    inv = obhost.invoke("notification", data, {})
    assert not inv.failed, inv.reason
    assert inv.status_code == 400
    assert obhost.queue == []


def test_client_json_too_complex_for_the_envelope_is_413_in_res(obhost):
    """The host repeats a JSON body's properties in Metadata: a client can make the envelope hold
    more JSON values than an invocation may carry. That is the client's request: 413 in res."""
    big = {"k%d" % i: i for i in range(1200)}
    body = json.dumps(dict(ORIGINAL, x=big))
    data = {"req": {"Url": "https://func-sim.azurewebsites.net/api/notification", "Method": "POST",
                    "Query": {}, "Headers": {"Content-Type": ["application/json"]}, "Params": {},
                    "Body": body}}
    inv = obhost.invoke("notification", data, {"x": big, "sys": {"MethodName": "notification"}})
    problem(inv, 413, "json-too-complex")
    assert obhost.queue == []


@pytest.mark.parametrize("headers,field", [
    ([("Idempotency-Key", "a"), ("Idempotency-Key", "b")], "Idempotency-Key"),
    ([("Idempotency-Key", "a"), ("idempotency-key", "a")], "Idempotency-Key"),
    ([("X-API-Key", "k-1"), ("X-API-Key", "k-2")], "X-API-Key"),
    ([("X-API-Key", "k-2"), ("Authorization", "Bearer k-1")], "Authorization"),
])
def test_ambiguous_headers_in_invocation(make_host, tmp_path, headers, field):
    """The inner request's headers as the host carries them (repeated lines as array elements,
    or two spellings of one name): refused like a repeated header line, 400 in res naming it."""
    h = make_host(env={"NOTIFY_TRANSPORT": "outbox", "NOTIFY_OUTBOX_DIR": str(tmp_path / "ob"),
                       "NOTIFY_API_KEY": "k-1", "NOTIFY_MODE": "direct"})
    key = [] if any(k.lower() in ("x-api-key", "authorization") for k, _ in headers) else [
        ("X-API-Key", "k-1")]
    p = problem(h.invoke_http("notification", body=ORIGINAL, headers=key + headers), 400,
                "header-ambiguous")
    assert p["field"] == field, p
    assert list((tmp_path / "ob").glob("*.eml")) == []
    ok = h.invoke_http("notification", body=ORIGINAL,
                       headers=[("X-API-Key", "k-1"), ("Idempotency-Key", "a")])
    assert ok.status_code == 202, ok.res
