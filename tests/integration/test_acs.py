"""The ACS Email transport end to end: the real binary (NOTIFY_BIN) against the TLS mock of Azure
Communication Services (mock_acs.py, which verifies the HMAC signature exactly) and a mock
managed-identity endpoint (mock_identity.py).

Covered: the wire request (path, api-version, Operation-Id, signature, EmailMessage body with a
JSON-escaping round trip), connection reuse, Idempotency-Key, every scripted fault with its retry
policy and answer, TLS refusals before any request byte, idle kept-alive connections, status
lookups, managed-identity tokens (cache, refresh, failures), start-up configuration errors, the
Functions-host fallback, and that no secret ever reaches a log, a file or an answer.
"""
import base64
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

from conftest import BIN, ORIGINAL, free_port, request

if shutil.which("openssl") is None:
    pytest.skip("openssl CLI not found (needed to make the test PKI)", allow_module_level=True)

from mock_acs import MockACS  # noqa: E402
from mock_identity import MockIdentity  # noqa: E402
from pki import make_pki  # noqa: E402

SENDER = "DoNotReply@contoso.com"
UUID_RE_LEN = 36
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.bWktdG9rZW4tU0VDUkVULTQy.c2lnbmF0dXJlLXNlY3JldA"
ID_HEADER = "idh-3f1c2a9e-SECRET-77b1"
CLIENT_ID = "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"

# Fast retries for the fault tests: 20 ms first backoff, 3 s for a whole send.
FAST = {"NOTIFY_ACS_BACKOFF_MS": "20", "NOTIFY_ACS_TIMEOUT_MS": "3000", "NOTIFY_WORKERS": "1"}
# ACS created the operation, then the answer was lost (mock_acs "process": the work is done first)
LOST = {"kind": "reset", "process": True}


# ---- fixtures and helpers ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("acs-pki"))


@pytest.fixture
def mock(pki):
    """mock(**kw) -> a started MockACS (EC chain unless certfile/keyfile given); all stopped after."""
    made = []

    def _make(certfile=None, keyfile=None, **kw):
        m = MockACS(certfile or pki.server_cert, keyfile or pki.server_key, **kw)
        m.start()
        made.append(m)
        return m

    yield _make
    for m in made:
        m.stop()


@pytest.fixture
def acs(mock):
    return mock()


@pytest.fixture
def identity():
    made = []

    def _make(**kw):
        kw.setdefault("secret", ID_HEADER)
        kw.setdefault("token", TOKEN)
        m = MockIdentity(**kw).start()
        made.append(m)
        return m

    yield _make
    for m in made:
        m.stop()


def hmac_env(acs, pki, **extra):
    e = {"COMMUNICATION_SERVICES_CONNECTION_STRING": acs.connection_string, "NOTIFY_CA_FILE": pki.ca_cert,
         "EMAIL_SENDER": SENDER}
    e.update(extra)
    return e


def mi_env(acs, pki, mi, **extra):
    e = {"ACS_ENDPOINT": acs.endpoint, "IDENTITY_ENDPOINT": mi.endpoint, "IDENTITY_HEADER": ID_HEADER,
         "NOTIFY_CA_FILE": pki.ca_cert, "EMAIL_SENDER": SENDER}
    e.update(extra)
    return e


def posts(acs):
    return [r for r in acs.requests if r.method == "POST"]


def events(logs, name, **match):
    return [x for x in logs if x.get("event") == name and all(x.get(k) == v for k, v in match.items())]


def attempts(logs, op, event="acs.send"):
    """The attempt lines of one operation (the id field is "operation_id"; "id" in older builds)."""
    return [x for x in logs if x.get("event") == event and x.get("operation_id", x.get("id")) == op]


def send_logged(h, n):
    """Logs once n POST /api/notification lines are written."""
    return h.wait_logs(lambda ls: len(events(ls, "http.request", method="POST")) >= n)


def assert_problem(r, status, slug):
    assert r.status == status, (r.status, r.body)
    assert r.header("content-type") == "application/problem+json"
    p = r.json()
    assert p["type"] == "urn:notify-handler:problem:" + slug, p
    assert p["status"] == status
    return p


def assert_accepted(r):
    assert r.status == 202, (r.status, r.body)
    body = r.json()
    assert set(body) == {"id", "status"} and body["status"] == "Running", body
    assert len(body["id"]) == UUID_RE_LEN and str(uuid.UUID(body["id"])) == body["id"]
    assert r.header("location") == "/api/notification/" + body["id"]
    return body["id"]


def expected_message(req, sender=SENDER):
    """The EmailMessage (mock_acs.py [schema]) the request must become."""
    def lst(v):
        return [v] if isinstance(v, str) else list(v)

    content = {"subject": req["subject"]}
    if req.get("message"):
        content["plainText"] = req["message"]
    if req.get("html"):
        content["html"] = req["html"]
    rcpt = {"to": [{"address": a} for a in lst(req["to_email"])]}
    for k in ("cc", "bcc"):
        if k in req:
            rcpt[k] = [{"address": a} for a in lst(req[k])]
    msg = {"senderAddress": sender, "content": content, "recipients": rcpt}
    if "reply_to" in req:
        msg["replyTo"] = [{"address": a} for a in lst(req["reply_to"])]
    if "attachments" in req:
        msg["attachments"] = [{"name": a["name"], "contentType": a["content_type"],
                               "contentInBase64": a["content_base64"]} for a in req["attachments"]]
    return msg


# ---- the wire request -------------------------------------------------------------------------

def test_original_body_sent_signed(start, acs, pki):
    h = start(env=hmac_env(acs, pki))
    r = request(h, "POST", "/api/notification", ORIGINAL)
    op = assert_accepted(r)
    reqs = acs.requests
    assert len(reqs) == 1
    rec = reqs[0]
    assert rec.method == "POST" and rec.target == "/emails:send?api-version=2023-03-31"
    assert rec.header("operation-id") == op
    assert rec.auth_ok and rec.auth == "hmac", rec.auth
    assert rec.header("host") == "localhost:%d" % acs.port
    assert rec.header("content-type") == "application/json"
    assert rec.header("accept") == "application/json"
    assert rec.json == expected_message(ORIGINAL)
    assert rec.unknown_keys == []
    assert not [k for k in rec.headers if k.startswith("repeatability-")]
    assert rec.status == 202 and acs.logical_sends == 1 and acs.sends[0].operation_id == op
    assert rec.tls_version == "TLSv1.2"


def test_full_message_json_escaping_round_trip(start, acs, pki):
    att = b"\x00\x01binary\xff" * 7
    req = {
        "to_email": ["a@example.com", "b@example.org"],
        "cc": "c@example.net",
        "bcc": ["d@example.com", "e@example.com"],
        "reply_to": ["reply@example.com"],
        "subject": "Caf\u00e9 \"quoted\" back\\slash 日本語 \U0001F600 </tag> 'single'",
        "message": "line1\nline2\ttab \u0001 ctl \u001f \"q\" \\ é 日本語 \U0001F389 \u2028 end\r\n",
        "html": "<p class=\"x\">Hi &amp; \\ bye</p>\n<p>日本語 \U0001F600 \u0007</p>",
        "attachments": [
            {"name": "report \"q\" é.bin", "content_type": "application/octet-stream",
             "content_base64": base64.b64encode(att).decode()},
            {"name": "報告書.txt", "content_type": "text/plain",
             "content_base64": base64.b64encode("こんにちは".encode()).decode()},
        ],
    }
    h = start(env=hmac_env(acs, pki))
    r = request(h, "POST", "/api/notification", req)
    op = assert_accepted(r)
    (rec,) = acs.requests
    assert rec.auth_ok, rec.auth
    assert rec.header("operation-id") == op
    assert rec.json == expected_message(req)
    # the raw bytes are valid UTF-8 JSON with no raw control characters inside strings
    text = rec.body.decode("utf-8")
    assert not any(ord(c) < 0x20 for c in text), text
    assert rec.json["content"]["plainText"] == req["message"]
    assert rec.json["content"]["subject"] == req["subject"]
    assert base64.b64decode(rec.json["attachments"][0]["contentInBase64"]) == att


def test_del_characters_do_not_overflow_the_body(start, acs, pki):
    """JSON lets a request carry DEL (0x7f) raw; the ACS body must not grow past its buffer."""
    h = start(env=hmac_env(acs, pki, NOTIFY_MAX_BODY_BYTES="16384"))
    req = dict(ORIGINAL, message="x\x7f" * 4000)
    body = json.dumps(req, ensure_ascii=False).encode()
    assert len(body) < 16384
    r = request(h, "POST", "/api/notification", body)
    op = assert_accepted(r)
    assert acs.sends[0].json["content"]["plainText"] == req["message"]
    assert acs.sends[0].operation_id == op


def test_allowed_from_becomes_sender_address(start, acs, pki):
    h = start(env=hmac_env(acs, pki, NOTIFY_ALLOWED_SENDERS="alerts@contoso.com, billing@contoso.com"))
    assert_accepted(request(h, "POST", "/api/notification", dict(ORIGINAL, **{"from": "billing@contoso.com"})))
    assert acs.sends[0].json["senderAddress"] == "billing@contoso.com"
    assert_problem(request(h, "POST", "/api/notification", dict(ORIGINAL, **{"from": "ceo@contoso.com"})),
                   400, "sender-not-allowed")
    assert len(acs.requests) == 1


def test_large_attachment_signed_and_sent(start, acs, pki):
    blob = os.urandom(700 * 1024)
    req = dict(ORIGINAL, attachments=[{"name": "big.bin", "content_type": "application/octet-stream",
                                       "content_base64": base64.b64encode(blob).decode()}])
    h = start(env=hmac_env(acs, pki, NOTIFY_MAX_BODY_BYTES="2000000"))
    op = assert_accepted(request(h, "POST", "/api/notification", req))
    (rec,) = acs.requests
    assert rec.auth_ok, rec.auth     # the content hash covers all ~1 MB exactly as sent
    assert rec.header("operation-id") == op
    assert base64.b64decode(rec.json["attachments"][0]["contentInBase64"]) == blob


def test_over_10_mb_refused_locally(start, acs, pki):
    blob = b"\0" * (7 * 1024 * 1024 + 600 * 1024)     # base64: about 10.1 MB
    req = dict(ORIGINAL, attachments=[{"name": "huge.bin", "content_type": "application/octet-stream",
                                       "content_base64": base64.b64encode(blob).decode()}])
    h = start(env=hmac_env(acs, pki, NOTIFY_MAX_BODY_BYTES="16000000"))
    r = request(h, "POST", "/api/notification", req, timeout=30)
    p = assert_problem(r, 413, "body-too-large")
    assert "10 MB" in p["detail"], p
    assert acs.requests == []


def test_api_version_2025(start, acs, pki):
    h = start(env=hmac_env(acs, pki, ACS_API_VERSION="2025-09-01"))
    op = assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    s = request(h, "GET", "/api/notification/" + op)
    assert s.status == 200
    reqs = acs.requests
    assert [r.target for r in reqs] == ["/emails:send?api-version=2025-09-01",
                                        "/emails/operations/%s?api-version=2025-09-01" % op]
    assert all(r.auth_ok for r in reqs)
    logs = h.logs()
    assert events(logs, "server.ready")[0]["api_version"] == "2025-09-01"


def test_connection_string_variants(start, acs, pki):
    cs = " accesskey=%s ; Endpoint=%s ;" % (acs.access_key, acs.endpoint.upper().replace("HTTPS", "https"))
    h = start(env=hmac_env(acs, pki, COMMUNICATION_SERVICES_CONNECTION_STRING=cs))
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    assert acs.requests[0].auth_ok and acs.requests[0].header("host") == "localhost:%d" % acs.port


def test_connection_reuse_one_handshake(start, acs, pki):
    h = start(env=hmac_env(acs, pki, NOTIFY_WORKERS="1"))
    ids = [assert_accepted(request(h, "POST", "/api/notification", ORIGINAL)) for _ in range(20)]
    assert len(set(ids)) == 20
    reqs = acs.requests
    assert len(reqs) == 20 and all(r.auth_ok for r in reqs)
    assert len({r.conn for r in reqs}) == 1
    assert [r.header("operation-id") for r in reqs] == ids
    assert acs.logical_sends == 20
    logs = send_logged(h, 20)
    assert len(events(logs, "acs.connected")) == 1
    sends = events(logs, "acs.send")
    assert len(sends) == 20 and [x["reused"] for x in sends] == [0] + [1] * 19


def test_idempotency_key_one_logical_send(start, acs, pki):
    h = start(env=hmac_env(acs, pki))
    hdr = {"Idempotency-Key": "order-4711-confirmation"}
    r1 = request(h, "POST", "/api/notification", ORIGINAL, headers=hdr)
    r2 = request(h, "POST", "/api/notification", ORIGINAL, headers=hdr)
    op = assert_accepted(r1)
    assert r2.status == 202 and r2.json()["id"] == op
    assert acs.logical_sends == 1
    ps = posts(acs)
    assert len(ps) == 1 and ps[0].header("operation-id") == op
    # the same key with another body is refused, nothing sent
    r3 = request(h, "POST", "/api/notification", dict(ORIGINAL, subject="other"), headers=hdr)
    assert_problem(r3, 409, "idempotency-key-reused")
    assert len(posts(acs)) == 1


def test_idempotency_key_client_retry_after_lost_answer(start, acs, pki):
    """The client's own retry (same Idempotency-Key) after a 502 reuses the Operation-Id: ACS
    created the first operation, so the retry is recognised and no second e-mail is made."""
    h = start(env=hmac_env(acs, pki, NOTIFY_ACS_ATTEMPTS="1", NOTIFY_ACS_BACKOFF_MS="20"))
    hdr = {"Idempotency-Key": "k-lost-1"}
    acs.script(LOST)
    r1 = request(h, "POST", "/api/notification", ORIGINAL, headers=hdr)
    assert r1.status == 502, r1.body
    r2 = request(h, "POST", "/api/notification", ORIGINAL, headers=hdr)
    op = assert_accepted(r2)
    ps = posts(acs)
    assert len(ps) == 2 and {x.header("operation-id") for x in ps} == {op}
    assert ps[1].duplicate and acs.logical_sends == 1


def test_idempotency_key_across_restarts(start, acs, pki):
    """No key table survives a restart and ACS keeps nothing we could compare a body with, so a
    keyed request's Operation-Id is derived from the key and the body's digest (README,
    Idempotency): the same key and body after a restart is the first operation again (one
    logical send), the same key with another body is a new operation with a new id, sent and
    answered truthfully, never mapped onto the first one."""
    key = {"Idempotency-Key": "order-4712"}
    h1 = start(env=hmac_env(acs, pki), sub="r1")
    op1 = assert_accepted(request(h1, "POST", "/api/notification", ORIGINAL, headers=key))
    assert h1.stop() == 0
    h2 = start(env=hmac_env(acs, pki), sub="r2")
    assert assert_accepted(request(h2, "POST", "/api/notification", ORIGINAL, headers=key)) == op1
    assert acs.logical_sends == 1
    ps = posts(acs)
    assert len(ps) == 2 and ps[1].duplicate and not ps[1].conflict
    assert h2.stop() == 0
    h3 = start(env=hmac_env(acs, pki), sub="r3")
    other = dict(ORIGINAL, subject="changed after a restart")
    op2 = assert_accepted(request(h3, "POST", "/api/notification", other, headers=key))
    assert op2 != op1
    assert acs.logical_sends == 2
    last = posts(acs)[-1]
    assert last.header("operation-id") == op2 and not last.conflict
    assert last.json["content"]["subject"] == "changed after a restart"
    # within one process the key is still bound to its body: 409, nothing sent
    assert_problem(request(h3, "POST", "/api/notification", ORIGINAL, headers=key), 409,
                   "idempotency-key-reused")
    assert acs.logical_sends == 2


# ---- faults and the retry policy --------------------------------------------------------------

BAD_SUBJECT = {"status": 400, "code": "BadRequest",
               "body": {"error": {"code": "BadRequest", "target": "content.subject",
                                  "message": "Request body validation error. See property 'content.subject'"}}}
BAD_SENDER = {"status": 400, "code": "BadRequest",
              "body": {"error": {"code": "BadRequest", "target": "senderAddress",
                                 "message": "Request body validation error. See property 'senderAddress'"}}}

# id, script, extra env, answer status, slug (None: 202), POSTs, logical sends, Retry-After, min s
FAULTS = [
    ("500-then-ok", ["500"], {}, 202, None, 2, 1, None, 0),
    ("502-then-ok", ["502"], {}, 202, None, 2, 1, None, 0),
    ("504-then-ok", ["504"], {}, 202, None, 2, 1, None, 0),
    ("408-then-ok", ["408"], {}, 202, None, 2, 1, None, 0),
    ("503:1-then-ok", ["503:1"], {}, 202, None, 2, 1, None, 0.9),
    ("429:1-then-ok", ["429:1"], {}, 202, None, 2, 1, None, 0.9),
    ("429:100", ["429:100"], {}, 429, "acs-throttled", 1, 0, "100", 0),
    ("503:100", ["503:100"], {}, 503, "upstream-unavailable", 1, 0, "100", 0),
    ("reset-then-ok", ["reset"], {}, 202, None, 2, 1, None, 0),
    ("reset:0-then-ok", ["reset:0"], {}, 202, None, 2, 1, None, 0),
    ("lost-answer-then-ok", [LOST], {}, 202, None, 2, 1, None, 0),
    ("malformed-then-ok", ["malformed"], {}, 202, None, 2, 1, None, 0),
    ("close-then-ok", ["close"], {}, 202, None, 2, 1, None, 0),
    ("domain-not-linked", ["400:DomainNotLinked"], {}, 502, "acs-configuration", 1, 0, None, 0),
    ("400-other-property", [BAD_SUBJECT], {}, 422, "acs-rejected", 1, 0, None, 0),
    ("400-sender", [BAD_SENDER], {}, 502, "acs-configuration", 1, 0, None, 0),
    ("401", ["401"], {}, 502, "acs-configuration", 1, 0, None, 0),
    ("403", ["403"], {}, 502, "acs-configuration", 1, 0, None, 0),
    ("413", ["413"], {}, 413, "body-too-large", 1, 0, None, 0),
    ("5x500-attempts-3", ["500"] * 5, {"NOTIFY_ACS_ATTEMPTS": "3"}, 502, "upstream-error", 3, 0, None, 0),
]


@pytest.mark.parametrize("script,env,status,slug,n_posts,logical,retry_after,min_s",
                         [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_fault(start, acs, pki, script, env, status, slug, n_posts, logical, retry_after, min_s):
    h = start(env=hmac_env(acs, pki, **dict(FAST, **env)))
    acs.script(*script)
    t0 = time.monotonic()
    r = request(h, "POST", "/api/notification", ORIGINAL)
    took = time.monotonic() - t0
    ps = posts(acs)
    if slug is None:
        op = assert_accepted(r)
    else:
        p = assert_problem(r, status, slug)
        assert r.header("location") is None
        op = ps[0].header("operation-id")
    assert len(ps) == n_posts, [(x.behaviour, x.status) for x in ps]
    assert acs.logical_sends == logical
    # every attempt: the same Operation-Id and body bytes, freshly and validly signed
    assert {x.header("operation-id") for x in ps} == {op}
    assert len({x.body for x in ps}) == 1
    assert all(x.auth_ok for x in ps), [x.auth for x in ps]
    assert len(acs.pending_script()) == max(0, len(script) - n_posts)
    assert r.header("retry-after") == retry_after
    assert took >= min_s, took
    assert took < 2.5 + min_s, took
    if script == [LOST]:
        assert ps[0].status == 202 and not ps[0].duplicate
        assert ps[1].duplicate and not ps[1].conflict and ps[1].status == 202
    logs = send_logged(h, 1)
    att = attempts(logs, op)
    assert [x["attempt"] for x in att] == list(range(1, n_posts + 1)), att
    if script == ["400:DomainNotLinked"]:
        d = p["detail"].lower()
        assert "domainnotlinked" in d and "link" in d and "domain" in d, p


def test_fault_stall_times_out(start, acs, pki):
    h = start(env=hmac_env(acs, pki, NOTIFY_ACS_ATTEMPT_TIMEOUT_MS="500", NOTIFY_ACS_TIMEOUT_MS="1500",
                           NOTIFY_ACS_BACKOFF_MS="20", NOTIFY_WORKERS="1"))
    acs.script(*["stall"] * 6)
    t0 = time.monotonic()
    r = request(h, "POST", "/api/notification", ORIGINAL)
    took = time.monotonic() - t0
    assert_problem(r, 504, "upstream-timeout")
    assert 1.3 <= took < 3.5, took
    ps = posts(acs)
    assert 2 <= len(ps) <= 3, len(ps)
    assert len({x.header("operation-id") for x in ps}) == 1 and all(x.auth_ok for x in ps)
    assert acs.logical_sends == 0
    # the worker is free again: the next send goes through
    acs.clear()
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))


def test_timeout_after_the_work_was_done(start, acs, pki):
    """ACS created the operation but answered too late: the retry finds it (one e-mail)."""
    h = start(env=hmac_env(acs, pki, NOTIFY_ACS_ATTEMPT_TIMEOUT_MS="500", NOTIFY_ACS_TIMEOUT_MS="5000",
                           NOTIFY_ACS_BACKOFF_MS="20"))
    acs.script({"kind": "stall", "seconds": 2, "process": True})
    op = assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    ps = posts(acs)
    assert len(ps) == 2 and ps[1].duplicate and acs.logical_sends == 1
    assert {x.header("operation-id") for x in ps} == {op}


def test_429_retry_after_waited(start, acs, pki):
    """429 with a Retry-After that fits: waited (about 1 s), not the 20 ms backoff."""
    h = start(env=hmac_env(acs, pki, **FAST))
    acs.script("429:1")
    op = assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    ps = posts(acs)
    assert len(ps) == 2 and ps[1].time - ps[0].time >= 0.95
    logs = send_logged(h, 1)
    first = attempts(logs, op)[0]
    assert first["status"] == 429 and first["retry_after_s"] == 1 and first["code"] == "TooManyRequests"


def test_retry_after_http_date(start, acs, pki):
    from mock_acs import rfc1123
    h = start(env=hmac_env(acs, pki, **FAST))
    acs.script({"status": 503, "retry_after": rfc1123(time.time() + 100)})
    r = request(h, "POST", "/api/notification", ORIGINAL)
    assert_problem(r, 503, "upstream-unavailable")
    assert 95 <= int(r.header("retry-after")) <= 101, r.header("retry-after")
    assert len(posts(acs)) == 1


def test_503_without_retry_after_exhausted(start, acs, pki):
    h = start(env=hmac_env(acs, pki, **dict(FAST, NOTIFY_ACS_ATTEMPTS="2")))
    acs.script("503", "503", "503")
    r = request(h, "POST", "/api/notification", ORIGINAL)
    assert_problem(r, 503, "upstream-unavailable")
    assert r.header("retry-after") is not None
    assert len(posts(acs)) == 2


def test_retry_is_resigned_with_a_fresh_date(start, acs, pki):
    h = start(env=hmac_env(acs, pki, **FAST))
    acs.script("503:1")
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    a, b = posts(acs)
    assert a.auth_ok and b.auth_ok and a.body == b.body
    assert a.header("x-ms-date") != b.header("x-ms-date")
    assert a.header("authorization") != b.header("authorization")
    assert a.header("x-ms-content-sha256") == b.header("x-ms-content-sha256")


def test_connection_refused(start, pki):
    port = free_port()
    cs = "endpoint=https://localhost:%d/;accesskey=%s" % (port, base64.b64encode(b"k" * 64).decode())
    h = start(env={"COMMUNICATION_SERVICES_CONNECTION_STRING": cs, "NOTIFY_CA_FILE": pki.ca_cert,
                   "EMAIL_SENDER": SENDER, "NOTIFY_ACS_ATTEMPTS": "3", **FAST})
    p = assert_problem(request(h, "POST", "/api/notification", ORIGINAL), 502, "upstream-connect")
    assert "localhost" in p["detail"], p
    logs = send_logged(h, 1)
    assert [x["attempt"] for x in events(logs, "acs.send")] == [1, 2, 3]


def test_concurrent_sends_with_faults(start, acs, pki):
    from concurrent.futures import ThreadPoolExecutor
    h = start(env=hmac_env(acs, pki, NOTIFY_WORKERS="8", NOTIFY_ACS_BACKOFF_MS="20", NOTIFY_ACS_TIMEOUT_MS="5000"))
    acs.script(*(["500", "reset", "close", "malformed", LOST] * 3))
    with ThreadPoolExecutor(12) as ex:
        rs = list(ex.map(lambda _: request(h, "POST", "/api/notification", ORIGINAL), range(24)))
    ids = [assert_accepted(r) for r in rs]
    assert len(set(ids)) == 24
    assert acs.logical_sends == 24 and acs.pending_script() == []
    assert sorted(x.operation_id for x in acs.sends) == sorted(ids)
    by_op = {}
    for x in posts(acs):
        by_op.setdefault(x.header("operation-id"), set()).add(x.body)
    assert set(by_op) == set(ids) and all(len(v) == 1 for v in by_op.values())
    assert all(x.auth_ok for x in acs.requests)


# ---- answer framing -----------------------------------------------------------------------------

def _raw_answer(status_line, headers, body_pieces, chunked):
    h = [status_line, "Content-Type: application/json; charset=utf-8"] + headers
    if chunked:
        h.append("Transfer-Encoding: chunked")
        payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in body_pieces) + b"0\r\n\r\n"
    else:
        body = b"".join(body_pieces)
        h.append("Content-Length: %d" % len(body))
        payload = body
    return ("\r\n".join(h) + "\r\n\r\n").encode() + payload


def test_chunked_and_interim_answers(start, acs, pki):
    h = start(env=hmac_env(acs, pki, **FAST))
    body = [b'{"status"', b':"Running"', b',"error":null}']
    acs.script({"kind": "raw", "close": False,
                "data": _raw_answer("HTTP/1.1 202 Accepted", [], body, True)})
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    acs.script({"kind": "raw", "close": False,
                "data": b"HTTP/1.1 100 Continue\r\n\r\n" + _raw_answer("HTTP/1.1 202 Accepted", [], body, False)})
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    err = [b'{"error":{"code":"DomainNotLinked",', b'"message":"The specified sender domain has not been linked."}}']
    acs.script({"kind": "raw", "close": False,
                "data": _raw_answer("HTTP/1.1 400 Bad Request", [], err, True)})
    assert_problem(request(h, "POST", "/api/notification", ORIGINAL), 502, "acs-configuration")
    # empty error body: x-ms-error-code has to do
    acs.script({"kind": "raw", "close": False,
                "data": _raw_answer("HTTP/1.1 404 Not Found", ["x-ms-error-code: DomainNotLinked"], [], False)})
    p = assert_problem(request(h, "POST", "/api/notification", ORIGINAL), 502, "acs-configuration")
    assert "DomainNotLinked" in p["detail"]


def test_answer_with_connection_close(start, acs, pki):
    h = start(env=hmac_env(acs, pki, **FAST))
    acs.script({"kind": "raw", "close": True, "data": _raw_answer(
        "HTTP/1.1 202 Accepted", ["Connection: close"], [b'{"status":"Running","error":null}'], False)})
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    op = assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    ps = posts(acs)
    assert len(ps) == 2 and ps[0].conn != ps[1].conn
    att = attempts(send_logged(h, 2), op)
    assert [(x["attempt"], x["reused"]) for x in att] == [(1, 0)], att


def test_acs_id_mismatch_logged(start, acs, pki):
    h = start(env=hmac_env(acs, pki, **FAST))
    other = "00000000-0000-4000-8000-000000000001"
    acs.script({"kind": "raw", "close": False, "data": _raw_answer(
        "HTTP/1.1 202 Accepted", [], [b'{"id":"%s","status":"Running","error":null}' % other.encode()], False)})
    op = assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    logs = send_logged(h, 1)
    (w,) = events(logs, "acs.id_mismatch")
    assert w.get("acs_id") == other and w.get("operation_id", w.get("id")) == op, w


# ---- kept-alive connections ----------------------------------------------------------------------

def test_keepalive_reused_after_error_answer(start, acs, pki):
    h = start(env=hmac_env(acs, pki, **FAST))
    acs.script("500")
    op = assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    ps = posts(acs)
    assert ps[0].conn == ps[1].conn
    att = attempts(send_logged(h, 1), op)
    assert [x["reused"] for x in att] == [0, 1]


def test_dead_kept_alive_connection_reopened_without_attempt(start, acs, pki):
    """The server closes a kept-alive connection right after reading a request (no answer byte):
    the client re-opens at once without counting an attempt, so even NOTIFY_ACS_ATTEMPTS=1
    delivers; the Operation-Id makes the repeat harmless."""
    h = start(env=hmac_env(acs, pki, NOTIFY_ACS_ATTEMPTS="1", NOTIFY_WORKERS="1", NOTIFY_ACS_BACKOFF_MS="20"))
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    acs.script("close")
    op = assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    ps = [x for x in posts(acs) if x.header("operation-id") == op]
    assert len(ps) == 2 and ps[0].conn != ps[1].conn
    assert acs.logical_sends == 2
    logs = send_logged(h, 2)
    att = attempts(logs, op)
    assert [(x["attempt"], x["reused"]) for x in att] == [(1, 1), (1, 0)], att


def test_idle_closed_connection_reconnects(start, mock, pki):
    acs = mock(idle_timeout=0.3)
    h = start(env=hmac_env(acs, pki, NOTIFY_WORKERS="1", NOTIFY_ACS_ATTEMPTS="1"))
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    time.sleep(0.8)   # the mock closes the idle connection after 0.3 s
    op = assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    ps = posts(acs)
    assert len(ps) == 2 and ps[0].conn != ps[1].conn
    assert [x.header("operation-id") for x in ps][1] == op
    logs = send_logged(h, 2)
    att = attempts(logs, op)
    assert [(x["attempt"], x["status"], x["reused"]) for x in att] == [(1, 202, 0)], att
    assert len(events(logs, "acs.connected")) == 2


# ---- TLS: nothing is sent to a server we could not verify --------------------------------------

def wait_tls_errors(acs, n=1, timeout=3.0):
    deadline = time.monotonic() + timeout
    while len(acs.tls_errors) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return acs.tls_errors


@pytest.mark.parametrize("case", ["no-ca-file", "other-ca", "wrong-host", "expired"])
def test_tls_refused(start, mock, pki, case):
    cert, key, ca = pki.server_cert, pki.server_key, pki.ca_cert
    if case == "no-ca-file":
        ca = None
    elif case == "other-ca":
        ca = pki.rsa_ca_cert
    elif case == "wrong-host":
        cert, key = pki.wrong_host_cert, pki.wrong_host_key
    else:
        cert, key = pki.expired_cert, pki.expired_key
    acs = mock(cert, key)
    env = hmac_env(acs, pki, **FAST)
    if ca is None:
        del env["NOTIFY_CA_FILE"]
    else:
        env["NOTIFY_CA_FILE"] = ca
    h = start(env=env)
    r = request(h, "POST", "/api/notification", ORIGINAL)
    p = assert_problem(r, 502, "tls-certificate")
    assert "refused" in p["detail"], p
    assert acs.requests == []
    time.sleep(0.2)
    assert len(wait_tls_errors(acs)) == 1, acs.tls_errors   # final: no second handshake
    logs = send_logged(h, 1)
    assert len(events(logs, "acs.tls_failed")) == 1


def test_tls_handshake_failure_is_final(start, mock, pki):
    import ssl
    acs = mock(tls_min=ssl.TLSVersion.TLSv1_3)      # BearSSL speaks TLS 1.2 only
    h = start(env=hmac_env(acs, pki, **FAST))
    p = assert_problem(request(h, "POST", "/api/notification", ORIGINAL), 502, "tls-handshake")
    assert p.get("detail"), p
    assert acs.requests == []
    time.sleep(0.2)
    assert len(wait_tls_errors(acs)) == 1, acs.tls_errors


def test_tls_rsa_chain(start, mock, pki):
    acs = mock(pki.rsa_server_cert, pki.rsa_server_key)
    h = start(env=hmac_env(acs, pki, NOTIFY_CA_FILE=pki.rsa_ca_cert))
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    (rec,) = acs.requests
    assert rec.auth_ok and "ECDHE-RSA" in rec.cipher and "GCM" in rec.cipher, rec.cipher


def test_tls_bundle_with_both_cas(start, mock, pki):
    ec, rsa = mock(), mock(pki.rsa_server_cert, pki.rsa_server_key)
    for acs in (ec, rsa):
        h = start(env=hmac_env(acs, pki, NOTIFY_CA_FILE=pki.bundle))
        assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
        assert len(acs.requests) == 1


# ---- status lookups ---------------------------------------------------------------------------

def test_status_running_then_succeeded(start, acs, pki):
    h = start(env=hmac_env(acs, pki))
    op = assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    seen = []
    for _ in range(3):
        s = request(h, "GET", "/api/notification/" + op)
        assert s.status == 200 and s.header("content-type") == "application/json"
        seen.append(s.json())
    assert seen == [{"id": op, "status": "Running"}, {"id": op, "status": "Succeeded"},
                    {"id": op, "status": "Succeeded"}]
    gets = [r for r in acs.requests if r.method == "GET"]
    assert len(gets) == 3 and all(g.auth_ok and g.path == "/emails/operations/" + op for g in gets)
    assert all(g.header("operation-id") is None for g in gets)


def test_status_failed_operation(start, acs, pki):
    h = start(env=hmac_env(acs, pki))
    acs.script({"kind": "ok", "on": "send", "poll": ["Failed"]})
    op = assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    s = request(h, "GET", "/api/notification/" + op)
    assert s.status == 200
    b = s.json()
    assert b["id"] == op and b["status"] == "Failed" and b["error"]["code"] == "EmailDropped", b


def test_status_unknown_id(start, acs, pki):
    h = start(env=hmac_env(acs, pki))
    unknown = str(uuid.uuid4())
    assert_problem(request(h, "GET", "/api/notification/" + unknown), 404, "not-found")
    gets = [r for r in acs.requests if r.method == "GET"]
    assert len(gets) == 1 and gets[0].status == 404 and gets[0].auth_ok   # asked once, not retried


def test_status_head(start, acs, pki):
    h = start(env=hmac_env(acs, pki))
    op = assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    r = request(h, "HEAD", "/api/notification/" + op)
    assert r.status == 200 and r.body == b""


@pytest.mark.parametrize("status,slug,retry_after", [(429, "acs-throttled", 7), (503, "upstream-unavailable", 100)])
def test_status_throttled_has_retry_after(start, acs, pki, status, slug, retry_after):
    h = start(env=hmac_env(acs, pki, **FAST))
    op = assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    acs.script({"status": status, "retry_after": retry_after, "on": "status"})
    r = request(h, "GET", "/api/notification/" + op)
    assert_problem(r, status, slug)
    assert [x.status for x in acs.requests if x.method == "GET"] == [status]
    assert r.header("retry-after") == str(retry_after)


# ---- managed identity -------------------------------------------------------------------------

@pytest.mark.parametrize("form,mode", [("string", "ok"), ("number", "ok"), ("string", "chunked"), ("in", "ok")])
def test_mi_token_fetched_once(start, mock, pki, identity, form, mode):
    mi = identity()
    mi.expires_form, mi.mode = form, mode
    acs = mock(tokens=(TOKEN,))
    h = start(env=mi_env(acs, pki, mi, NOTIFY_WORKERS="2"))
    for _ in range(5):
        assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    op = assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    assert request(h, "GET", "/api/notification/" + op).status == 200
    assert [r.ok for r in mi.requests] == [True], [r.why for r in mi.requests]
    q = mi.requests[0]
    assert q.query["resource"] == "https://communication.azure.com/" and q.query["api-version"] == "2019-08-01"
    assert "client_id" not in q.query
    reqs = acs.requests
    assert len(reqs) == 7 and all(r.auth == "bearer" for r in reqs), [r.auth for r in reqs]
    assert all(r.header("authorization") == "Bearer " + TOKEN for r in reqs)
    assert not any(r.header("x-ms-date") or r.header("x-ms-content-sha256") for r in reqs)
    logs = send_logged(h, 6)
    assert events(logs, "server.ready")[0]["acs_auth"] == "managed-identity"
    assert len(events(logs, "acs.token")) == 1


def test_mi_token_answer_split_and_until_close(start, mock, pki, identity):
    for mode in ("split", "until-close"):
        mi = identity()
        mi.mode = mode
        acs = mock(tokens=(TOKEN,))
        h = start(env=mi_env(acs, pki, mi))
        assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
        assert mi.fetches == 1 and acs.requests[0].auth == "bearer"


def test_mi_user_assigned_client_id(start, mock, pki, identity):
    mi = identity(client_id=CLIENT_ID)
    acs = mock(tokens=(TOKEN,))
    h = start(env=mi_env(acs, pki, mi, AZURE_CLIENT_ID=CLIENT_ID))
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    assert [r.ok for r in mi.requests] == [True], [r.why for r in mi.requests]
    assert mi.requests[0].query["client_id"] == CLIENT_ID


def test_mi_identity_endpoint_with_query(start, mock, pki, identity):
    mi = identity()
    mi.path = "/msi/token"
    acs = mock(tokens=(TOKEN,))
    h = start(env=mi_env(acs, pki, mi, IDENTITY_ENDPOINT=mi.endpoint + "?foo=bar"))
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    (q,) = mi.requests
    assert q.ok, q.why
    assert q.query["foo"] == "bar" and q.raw_query.startswith("foo=bar&")


def test_mi_endpoint_spellings(start, mock, pki, identity):
    """ACS_ENDPOINT with a trailing slash; IDENTITY_ENDPOINT by host name (App Service uses localhost)."""
    mi = identity()
    acs = mock(tokens=(TOKEN,))
    h = start(env=mi_env(acs, pki, mi, ACS_ENDPOINT=acs.endpoint + "/",
                         IDENTITY_ENDPOINT="http://localhost:%d/msi/token" % mi.port))
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    assert mi.fetches == 1 and acs.requests[0].auth == "bearer"
    assert acs.requests[0].header("host") == "localhost:%d" % acs.port


def test_mi_long_token(start, mock, pki, identity):
    long_token = "eyJ" + "A" * 7900 + ".sig"
    mi = identity(token=long_token)
    acs = mock(tokens=(long_token,))
    h = start(env=mi_env(acs, pki, mi))
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    assert acs.requests[0].auth == "bearer"
    too_long = "eyJ" + "B" * 8300
    mi2 = identity(token=too_long)
    acs2 = mock(tokens=(too_long,))
    h2 = start(env=mi_env(acs2, pki, mi2, NOTIFY_ACS_ATTEMPTS="1"))
    assert_problem(request(h2, "POST", "/api/notification", ORIGINAL), 502, "identity-token")
    assert acs2.requests == []


def test_mi_token_refreshed_near_expiry(start, mock, pki, identity):
    mi = identity()
    mi.expires_on = int(time.time()) + 120    # inside ACS_TOKEN_REFRESH_S (300 s)
    acs = mock(tokens=(TOKEN,))
    h = start(env=mi_env(acs, pki, mi, NOTIFY_WORKERS="1"))
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    assert mi.fetches == 1
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    assert mi.fetches == 2
    mi.expires_on = int(time.time()) + 3600
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    assert mi.fetches == 3
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    assert mi.fetches == 3
    assert all(r.auth == "bearer" for r in acs.requests)


def test_mi_concurrent_sends_one_token(start, mock, pki, identity):
    from concurrent.futures import ThreadPoolExecutor
    mi = identity()
    acs = mock(tokens=(TOKEN,))
    h = start(env=mi_env(acs, pki, mi, NOTIFY_WORKERS="8"))
    with ThreadPoolExecutor(16) as ex:
        rs = list(ex.map(lambda _: request(h, "POST", "/api/notification", ORIGINAL), range(32)))
    ids = [assert_accepted(r) for r in rs]
    assert len(set(ids)) == 32 and acs.logical_sends == 32
    assert mi.fetches == 1
    assert len({r.conn for r in acs.requests}) <= 8


def test_mi_token_refused_by_acs_is_dropped(start, mock, pki, identity):
    mi = identity()
    acs = mock(tokens=(TOKEN,))
    h = start(env=mi_env(acs, pki, mi, **FAST))
    acs.script("401")
    p = assert_problem(request(h, "POST", "/api/notification", ORIGINAL), 502, "acs-configuration")
    assert "managed-identity" in p["detail"], p
    assert len(posts(acs)) == 1 and mi.fetches == 1
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    assert mi.fetches == 2   # the refused token was forgotten


@pytest.mark.parametrize("case", ["500", "garbage", "notoken", "wrong-header", "unreachable"])
def test_mi_identity_failures(start, mock, pki, identity, case):
    mi = identity()
    acs = mock(tokens=(TOKEN,))
    env = mi_env(acs, pki, mi, NOTIFY_ACS_ATTEMPTS="2", **FAST)
    if case == "wrong-header":
        env["IDENTITY_HEADER"] = "not-the-right-secret"
    elif case == "unreachable":
        env["IDENTITY_ENDPOINT"] = "http://127.0.0.1:%d/msi/token" % free_port()
    else:
        mi.mode = case
    h = start(env=env)
    p = assert_problem(request(h, "POST", "/api/notification", ORIGINAL), 502, "identity-token")
    assert p.get("detail"), p
    assert acs.requests == []          # nothing went to ACS without a token
    if case != "unreachable":
        assert 1 <= len(mi.requests) <= 2
    if case == "wrong-header":
        assert not any(r.ok for r in mi.requests)
    # the endpoint heals: the next send works
    if case not in ("wrong-header", "unreachable"):
        mi.mode = "ok"
        assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))


def test_mi_identity_stall_times_out(start, mock, pki, identity):
    mi = identity()
    mi.mode = "stall"
    acs = mock(tokens=(TOKEN,))
    h = start(env=mi_env(acs, pki, mi, NOTIFY_ACS_ATTEMPT_TIMEOUT_MS="300", NOTIFY_ACS_TIMEOUT_MS="1000",
                         NOTIFY_ACS_BACKOFF_MS="20", NOTIFY_WORKERS="1"))
    t0 = time.monotonic()
    p = assert_problem(request(h, "POST", "/api/notification", ORIGINAL), 502, "identity-token")
    assert time.monotonic() - t0 < 2.0
    assert acs.requests == [] and "time" in p["detail"], p


# ---- start-up configuration ---------------------------------------------------------------------

KEY = base64.b64encode(b"k" * 64).decode()
GOOD_CS = "endpoint=https://contoso.communication.azure.com/;accesskey=" + KEY


def run_startup(tmp_path, env):
    e = {"PATH": "/usr/bin:/bin", "BIND": "127.0.0.1", "PORT": str(free_port()),
         "NOTIFY_OUTBOX_DIR": str(tmp_path / "o")}
    e.update(env)
    return subprocess.run([BIN], env=e, cwd=tmp_path, capture_output=True, text=True, timeout=10)


def _not_pem(tmp_path):
    p = tmp_path / "not.pem"
    p.write_text("this is not a certificate\n")
    return str(p)


STARTUP = [
    ("bad-connection-string", {"COMMUNICATION_SERVICES_CONNECTION_STRING":
                               "endpoint=https://contoso.communication.azure.com/;accesskey=S3CRET%%notbase64"},
     "COMMUNICATION_SERVICES_CONNECTION_STRING"),
    ("http-connection-string", {"COMMUNICATION_SERVICES_CONNECTION_STRING":
                                "endpoint=http://contoso.communication.azure.com/;accesskey=" + KEY},
     "COMMUNICATION_SERVICES_CONNECTION_STRING"),
    ("no-accesskey", {"COMMUNICATION_SERVICES_CONNECTION_STRING": "endpoint=https://contoso.communication.azure.com/"},
     "COMMUNICATION_SERVICES_CONNECTION_STRING"),
    ("both", {"COMMUNICATION_SERVICES_CONNECTION_STRING": GOOD_CS,
              "ACS_ENDPOINT": "https://contoso.communication.azure.com"}, "ACS_ENDPOINT"),
    ("endpoint-without-identity", {"ACS_ENDPOINT": "https://contoso.communication.azure.com"}, "IDENTITY_ENDPOINT"),
    ("endpoint-without-header", {"ACS_ENDPOINT": "https://contoso.communication.azure.com",
                                 "IDENTITY_ENDPOINT": "http://127.0.0.1:41999/msi/token"}, "IDENTITY_HEADER"),
    ("identity-endpoint-https", {"ACS_ENDPOINT": "https://contoso.communication.azure.com",
                                 "IDENTITY_ENDPOINT": "https://127.0.0.1:41999/msi/token",
                                 "IDENTITY_HEADER": ID_HEADER}, "IDENTITY_ENDPOINT"),
    ("bad-client-id", {"ACS_ENDPOINT": "https://contoso.communication.azure.com",
                       "IDENTITY_ENDPOINT": "http://127.0.0.1:41999/msi/token",
                       "IDENTITY_HEADER": ID_HEADER, "AZURE_CLIENT_ID": "x&resource=evil"}, "AZURE_CLIENT_ID"),
    ("bad-acs-endpoint", {"ACS_ENDPOINT": "http://contoso.communication.azure.com",
                          "IDENTITY_ENDPOINT": "http://127.0.0.1:41999/msi/token",
                          "IDENTITY_HEADER": ID_HEADER}, "ACS_ENDPOINT"),
    ("ca-file-missing", {"COMMUNICATION_SERVICES_CONNECTION_STRING": GOOD_CS,
                         "NOTIFY_CA_FILE": "/nonexistent/ca.pem"}, "NOTIFY_CA_FILE"),
    ("ca-file-not-pem", {"COMMUNICATION_SERVICES_CONNECTION_STRING": GOOD_CS, "NOTIFY_CA_FILE": _not_pem},
     "NOTIFY_CA_FILE"),
    ("bad-api-version", {"COMMUNICATION_SERVICES_CONNECTION_STRING": GOOD_CS, "ACS_API_VERSION": "latest"},
     "ACS_API_VERSION"),
    ("transport-acs-without-acs", {"NOTIFY_TRANSPORT": "acs"}, "NOTIFY_TRANSPORT"),
    ("transport-bogus", {"NOTIFY_TRANSPORT": "bogus"}, "NOTIFY_TRANSPORT"),
]


@pytest.mark.parametrize("env,needle", [s[1:] for s in STARTUP], ids=[s[0] for s in STARTUP])
def test_startup_config_error(tmp_path, env, needle):
    env = {k: (v(tmp_path) if callable(v) else v) for k, v in env.items()}
    r = run_startup(tmp_path, env)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("notify-handler: ") and needle in lines[0], r.stderr
    for secret in (KEY, "S3CRET", ID_HEADER):
        assert secret not in r.stderr and secret not in r.stdout


def test_functions_host_without_acs_is_not_configured(start):
    h = start(env={"FUNCTIONS_CUSTOMHANDLER_PORT": str(free_port())})
    assert request(h, "GET", "/").status == 200
    p = assert_problem(request(h, "POST", "/api/notification", ORIGINAL), 503, "not-configured")
    assert "ACS_ENDPOINT" in p["detail"] or "COMMUNICATION_SERVICES_CONNECTION_STRING" in p["detail"]
    assert h.emls() == []
    assert events(h.logs(), "server.ready")[0]["transport"] != "outbox"


def test_functions_host_with_outbox_transport(start):
    h = start(env={"FUNCTIONS_CUSTOMHANDLER_PORT": str(free_port()), "NOTIFY_TRANSPORT": "outbox"})
    r = request(h, "POST", "/api/notification", ORIGINAL)
    assert r.status == 202, r.body
    assert [p.name for p in h.emls()] == [r.json()["id"] + ".eml"]


def test_functions_host_with_acs(start, acs, pki):
    h = start(env=hmac_env(acs, pki, FUNCTIONS_CUSTOMHANDLER_PORT=str(free_port())))
    assert_accepted(request(h, "POST", "/api/notification", ORIGINAL))
    assert acs.logical_sends == 1 and h.emls() == []


def test_transport_outbox_overrides_acs(start, acs, pki):
    h = start(env=hmac_env(acs, pki, NOTIFY_TRANSPORT="outbox"))
    r = request(h, "POST", "/api/notification", ORIGINAL)
    assert r.status == 202 and len(h.emls()) == 1
    assert acs.requests == []


# ---- secrets ----------------------------------------------------------------------------------

def _scan(h, answers, secrets):
    """Every secret (str or bytes) is absent from stdout, stderr, the outbox and the answers."""
    h.stop()
    blobs = {"stdout": h.log_path.read_bytes(), "stderr": h.err_path.read_bytes()}
    if h.outbox.exists():
        for p in h.outbox.rglob("*"):
            if p.is_file():
                blobs[str(p)] = p.read_bytes()
    for i, a in enumerate(answers):
        blobs["answer %d" % i] = a
    for s in secrets:
        b = s.encode() if isinstance(s, str) else s
        for name, data in blobs.items():
            assert b not in data, "secret %r found in %s" % (s[:12], name)


def _raw(r):
    return json.dumps(r.headers).encode() + r.body


def test_secrets_never_leak_hmac(start, acs, pki):
    h = start(env=hmac_env(acs, pki, **FAST))
    answers = []
    acs.script("401", "400:DomainNotLinked", BAD_SUBJECT, "500", "reset", "malformed", "close", "429:100")
    for _ in range(6):
        answers.append(_raw(request(h, "POST", "/api/notification", ORIGINAL)))
    op = acs.sends[0].operation_id
    answers.append(_raw(request(h, "GET", "/api/notification/" + op)))
    acs.script({"status": 401, "on": "status"})
    answers.append(_raw(request(h, "GET", "/api/notification/" + op)))
    signatures = [r.header("authorization").split("Signature=")[1] for r in acs.requests]
    assert len(signatures) >= 8
    key = acs.access_key
    _scan(h, answers, [key, key[:24], base64.b64decode(key), key.rstrip("=")] + signatures)


def test_secrets_never_leak_managed_identity(start, mock, pki, identity):
    mi = identity()
    acs = mock(tokens=(TOKEN,))
    h = start(env=mi_env(acs, pki, mi, NOTIFY_ACS_ATTEMPTS="2", **FAST))
    answers = []
    answers.append(_raw(request(h, "POST", "/api/notification", ORIGINAL)))
    acs.script("401")   # token refused: dropped, fetched again
    answers.append(_raw(request(h, "POST", "/api/notification", ORIGINAL)))
    mi.mode = "500"
    answers.append(_raw(request(h, "POST", "/api/notification", ORIGINAL)))
    mi.mode = "garbage"
    answers.append(_raw(request(h, "POST", "/api/notification", ORIGINAL)))
    mi.mode = "ok"
    acs.script("500", "reset")
    answers.append(_raw(request(h, "POST", "/api/notification", ORIGINAL)))
    op = acs.sends[0].operation_id
    answers.append(_raw(request(h, "GET", "/api/notification/" + op)))
    assert mi.fetches >= 2
    _scan(h, answers, [TOKEN, TOKEN[:20], TOKEN.split(".")[1], ID_HEADER])


def test_drain_ends_a_retry_after_wait(start, acs, pki):
    """SIGTERM while a send waits out ACS's Retry-After: the wait ends at once, the client gets
    the 429 with Retry-After, and the process drains cleanly within its drain timeout."""
    import signal
    import threading
    h = start(env=hmac_env(acs, pki, NOTIFY_DRAIN_TIMEOUT_MS="3000"))
    acs.script("429:20")
    got = {}

    def send():
        got["r"] = request(h, "POST", "/api/notification", json.dumps(ORIGINAL).encode(), timeout=30)

    t = threading.Thread(target=send)
    t.start()
    h.wait_logs(lambda lines: any(l.get("event") == "acs.send" and l.get("status") == 429 for l in lines))
    t0 = time.monotonic()
    h.proc.send_signal(signal.SIGTERM)
    t.join(10)
    assert got["r"].status == 429
    assert got["r"].header("Retry-After") == "20"
    assert h.proc.wait(10) == 0
    assert time.monotonic() - t0 < 2.0
    assert len([q for q in acs.requests if q.method == "POST"]) == 1  # no second attempt


# ---- regressions from the code review --------------------------------------------------------

def test_invocation_routes_do_not_exist_standalone(start, acs, pki):
    """Only the Functions host invokes functions: standalone (the container, make run) the
    invocation routes are 404, so they cannot bypass NOTIFY_API_KEY."""
    h = start(env=hmac_env(acs, pki, NOTIFY_API_KEY="k-SECRET"))
    msg = json.dumps({"id": str(uuid.uuid4()), "request": ORIGINAL})
    for route, body in (("/notification_worker", {"Data": {"msg": msg}, "Metadata": {}}),
                        ("/notification", {"Data": {"req": {"Url": "http://x/api/notification",
                                                            "Method": "POST", "Body": json.dumps(ORIGINAL)}}}),
                        ("/notification_status", {"Data": {"req": {"Url": "http://x/", "Method": "GET"}}})):
        r = request(h, "POST", route, json.dumps(body).encode())
        assert r.status == 404, (route, r.body)
    assert acs.requests == []


def test_bytes_after_an_answer_never_answer_the_next_request(start, pki):
    """A server that sends extra bytes after an answer, in a later TLS record: the connection is
    not reused, so the next send reads its own answer (here a 500), not the leftover bytes."""
    import socket as so
    import ssl
    import threading
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.server_cert, pki.server_key)
    ls = so.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(5)
    port = ls.getsockname()[1]
    seen = []

    def read_req(s, buf):
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                return None, b""
            buf += d
        head, rest = buf.split(b"\r\n\r\n", 1)
        n = 0
        for line in head.split(b"\r\n")[1:]:
            k, v = line.split(b":", 1)
            if k.strip().lower() == b"content-length":
                n = int(v)
        while len(rest) < n:
            rest += s.recv(65536)
        return head, rest[n:]

    def serve():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            s = ctx.wrap_socket(c, server_side=True)
            s.setsockopt(so.IPPROTO_TCP, so.TCP_NODELAY, 1)
            buf = b""
            while True:
                try:
                    head, buf = read_req(s, buf)
                except OSError:
                    break
                if head is None:
                    break
                seen.append(head)
                if len(seen) == 1:
                    body = b'{"id":"real","status":"Running","error":null}'
                    s.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                              b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                    time.sleep(0.2)
                    sm = b'{"id":"smuggled","status":"Succeeded","error":null}'
                    s.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: %d\r\n\r\n%s" % (len(sm), sm))
                else:
                    body = b'{"error":{"code":"X","message":"the real answer"}}'
                    s.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                              b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    threading.Thread(target=serve, daemon=True).start()
    try:
        key = base64.b64encode(b"k" * 64).decode()
        h = start(env={"COMMUNICATION_SERVICES_CONNECTION_STRING": "endpoint=https://localhost:%d/;accesskey=%s" % (port, key),
                       "NOTIFY_CA_FILE": pki.ca_cert, "EMAIL_SENDER": SENDER, "NOTIFY_WORKERS": "1",
                       "NOTIFY_ACS_ATTEMPTS": "1"})
        assert request(h, "POST", "/api/notification", json.dumps(ORIGINAL).encode()).status == 202
        time.sleep(0.4)  # the extra record has arrived
        r = request(h, "POST", "/api/notification", json.dumps(ORIGINAL).encode())
        assert r.status == 502 and b"smuggled" not in r.body, r.body
        assert len(seen) == 2
    finally:
        ls.close()


def test_a_failed_refresh_keeps_a_token_that_is_still_valid(start, mock, pki, identity):
    """The cached token has 200 s left (inside the 300 s refresh window) and the identity
    endpoint fails: the send goes out with the cached token instead of failing."""
    acs_token = mock(tokens=(TOKEN,))
    mi = identity()
    mi.expires_on = int(time.time()) + 200
    h = start(env=mi_env(acs_token, pki, mi, NOTIFY_WORKERS="1"))
    assert request(h, "POST", "/api/notification", json.dumps(ORIGINAL).encode()).status == 202
    mi.mode = "500"
    r = request(h, "POST", "/api/notification", json.dumps(ORIGINAL).encode())
    assert r.status == 202, r.body
    assert len(acs_token.sends) == 2

