"""The notification contract end to end: request -> 202 -> .eml in the outbox, read back with
Python's own e-mail parser; status lookups; Idempotency-Key."""
import base64
import email
import email.policy
import json

from conftest import ORIGINAL, request


def parse_eml(path):
    with open(path, "rb") as f:
        return email.message_from_binary_file(f, policy=email.policy.default)


def test_original_request_lands_in_outbox(h):
    r = request(h, "POST", "/api/notification", ORIGINAL)
    assert r.status == 202
    body = r.json()
    assert set(body) == {"id", "status"}
    assert body["status"] == "Succeeded"
    assert r.header("location") == "/api/notification/" + body["id"]
    files = h.emls()
    assert [p.name for p in files] == [body["id"] + ".eml"]
    m = parse_eml(files[0])
    assert m["Subject"] == "テスト"
    assert m["To"] == "you@example.com"
    assert m["From"] == "notify@localhost"
    assert m["Message-ID"] == f"<{body['id']}@localhost>"
    assert m["MIME-Version"] == "1.0"
    assert m.get_content_type() == "text/plain"
    assert m.get_content_charset() == "utf-8"
    assert m.get_content().rstrip("\r\n") == "テストメッセージ"
    assert m["Date"] is not None and m["Date"].datetime.tzinfo is not None
    # every line CRLF-terminated and within RFC 5322's 998 characters
    raw = files[0].read_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_status_of_sent_and_unknown(h):
    r = request(h, "POST", "/api/notification", ORIGINAL)
    op = r.json()["id"]
    s = request(h, "GET", "/api/notification/" + op)
    assert s.status == 200 and s.json() == {"id": op, "status": "Succeeded"}
    hd = request(h, "HEAD", "/api/notification/" + op)
    assert hd.status == 200 and hd.body == b""
    miss = request(h, "GET", "/api/notification/00000000-0000-4000-8000-000000000000")
    assert miss.status == 404
    assert miss.header("content-type") == "application/problem+json"
    for bad in ("../../etc/passwd", "x", "21808057-EB95-43A0-8DA8-2C89BB88E2A6", "%2e%2e"):
        assert request(h, "GET", "/api/notification/" + bad).status == 404


def test_full_message_shape(h):
    att = b"\x00\x01binary\xffdata" * 20
    req = {
        "to_email": ["a@example.com", "b@example.org"],
        "cc": "c@example.net",
        "bcc": ["d@example.com"],
        "reply_to": "reply@example.com",
        "subject": "Weekly report: all good",
        "message": "plain body\nsecond line",
        "html": "<p>html <b>body</b> 日本語</p>",
        "attachments": [
            {"name": "report.bin", "content_type": "application/octet-stream",
             "content_base64": base64.b64encode(att).decode()},
            {"name": "報告書.txt", "content_type": "text/plain",
             "content_base64": base64.b64encode("こんにちは".encode()).decode()},
        ],
    }
    r = request(h, "POST", "/api/notification", req)
    assert r.status == 202, r.body
    m = parse_eml(h.emls()[0])
    assert m.get_content_type() == "multipart/mixed"
    assert m["To"] == "a@example.com, b@example.org"
    assert m["Cc"] == "c@example.net"
    assert m["Bcc"] == "d@example.com"
    assert m["Reply-To"] == "reply@example.com"
    assert m["Subject"] == "Weekly report: all good"
    body = m.get_body(preferencelist=("plain",))
    assert body.get_content().replace("\r\n", "\n").rstrip("\n") == "plain body\nsecond line"
    html = m.get_body(preferencelist=("html",))
    assert html.get_content().rstrip("\r\n") == "<p>html <b>body</b> 日本語</p>"
    atts = list(m.iter_attachments())
    assert [a.get_filename() for a in atts] == ["report.bin", "報告書.txt"]
    assert atts[0].get_content() == att
    assert atts[1].get_payload(decode=True) == "こんにちは".encode()


def test_html_only_and_alternative(h):
    r = request(h, "POST", "/api/notification",
                {"to_email": "x@example.com", "subject": "s", "html": "<b>only</b>"})
    assert r.status == 202
    m = parse_eml(h.outbox / (r.json()["id"] + ".eml"))
    assert m.get_content_type() == "text/html"
    r = request(h, "POST", "/api/notification",
                {"to_email": "x@example.com", "subject": "s", "html": "<b>h</b>", "message": "t"})
    m = parse_eml(h.outbox / (r.json()["id"] + ".eml"))
    assert m.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in m.iter_parts()] == ["text/plain", "text/html"]


def test_no_header_injection(h):
    # Newlines cannot reach a header: the subject rejects them, addresses are validated.
    r = request(h, "POST", "/api/notification",
                {"to_email": "x@example.com", "subject": "a\r\nBcc: evil@example.com", "message": "m"})
    assert r.status == 400 and r.json()["field"] == "subject"
    r = request(h, "POST", "/api/notification",
                {"to_email": "x@example.com\r\nBcc: evil@example.com", "subject": "s", "message": "m"})
    assert r.status == 400 and r.json()["field"] == "to_email"
    # "=?" in an ASCII subject is encoded, so no reader decodes attacker-chosen words.
    r = request(h, "POST", "/api/notification",
                {"to_email": "x@example.com", "subject": "=?utf-8?q?x?=", "message": "m"})
    assert r.status == 202
    assert parse_eml(h.emls()[0])["Subject"] == "=?utf-8?q?x?="
    assert h.emls() and all(b"evil" not in p.read_bytes() for p in h.emls())


def test_idempotency_key(h):
    hdr = {"Idempotency-Key": "order-42-shipped"}
    a = request(h, "POST", "/api/notification", ORIGINAL, hdr)
    b = request(h, "POST", "/api/notification", ORIGINAL, hdr)
    assert a.status == b.status == 202
    assert a.json()["id"] == b.json()["id"]
    assert len(h.emls()) == 1
    other = dict(ORIGINAL, subject="別の件名")
    c = request(h, "POST", "/api/notification", other, hdr)
    assert c.status == 409
    assert c.json()["type"].endswith("idempotency-key-reused")
    assert len(h.emls()) == 1
    d = request(h, "POST", "/api/notification", ORIGINAL, {"Idempotency-Key": "another"})
    assert d.status == 202 and d.json()["id"] != a.json()["id"]
    assert len(h.emls()) == 2
    # (leading and trailing blanks are not part of a field value: HTTP strips them)
    for bad in ("", "x" * 256, "キー", "tab\there"):
        r = request(h, "POST", "/api/notification", ORIGINAL, {"Idempotency-Key": bad})
        assert r.status == 400, bad
        assert r.json()["type"].endswith("idempotency-key-invalid")


def test_idempotent_across_restart(start):
    # The id of a key is derived from the key, and the outbox refuses a second file for an id:
    # a retry after a restart (table lost) still sends nothing twice.
    h1 = start(sub="same")
    a = request(h1, "POST", "/api/notification", ORIGINAL, {"Idempotency-Key": "k1"})
    assert h1.stop() == 0
    h2 = start(sub="same")
    b = request(h2, "POST", "/api/notification", ORIGINAL, {"Idempotency-Key": "k1"})
    assert a.json()["id"] == b.json()["id"]
    assert len(h2.emls()) == 1


def test_reused_key_refused_across_restart(start):
    """The outbox records the first body's digest with the message: after a restart (empty key
    table) the same key with another body is 409 as within one process, the same key with the
    same body the first answer again, and the outbox holds exactly the first message."""
    key = {"Idempotency-Key": "order-77"}
    h1 = start(sub="same")
    a = request(h1, "POST", "/api/notification", ORIGINAL, key)
    assert a.status == 202
    first = h1.emls()[0].read_bytes()
    assert h1.stop() == 0
    h2 = start(sub="same")
    other = dict(ORIGINAL, subject="別の件名")
    c = request(h2, "POST", "/api/notification", other, key)
    assert c.status == 409, c.body
    assert c.json()["type"].endswith("idempotency-key-reused")
    b = request(h2, "POST", "/api/notification", ORIGINAL, key)
    assert b.status == 202 and b.json() == a.json()
    assert [p.read_bytes() for p in h2.emls()] == [first]
    assert first.startswith(b"X-Notify-Request-Digest: sha256=")
    # the digest line is an ordinary header: the message still parses, the subject is the first
    m = parse_eml(h2.emls()[0])
    assert m["Subject"] == "テスト" and m["X-Notify-Id"] == a.json()["id"]


def test_reused_key_refused_after_eviction(start):
    """A key evicted from a full table (8 entries: one set of 8 ways, then 8 other keys) is
    still refused with another body, from the digest recorded in the outbox."""
    h = start(env={"NOTIFY_IDEMPOTENCY_ENTRIES": "8"})
    key = {"Idempotency-Key": "evict-me"}
    a = request(h, "POST", "/api/notification", ORIGINAL, key)
    assert a.status == 202
    for i in range(8):
        r = request(h, "POST", "/api/notification", dict(ORIGINAL, subject="other %d" % i),
                    {"Idempotency-Key": "k-%d" % i})
        assert r.status == 202
    assert len(h.emls()) == 9
    c = request(h, "POST", "/api/notification", dict(ORIGINAL, subject="changed"), key)
    assert c.status == 409, c.body
    b = request(h, "POST", "/api/notification", ORIGINAL, key)
    assert b.status == 202 and b.json()["id"] == a.json()["id"]
    assert len(h.emls()) == 9


def test_logs_are_json_and_mask_recipients(h):
    request(h, "POST", "/api/notification", ORIGINAL)
    request(h, "POST", "/api/notification", {"to_email": "bad", "subject": "s", "message": "m"})
    logs = h.wait_logs(lambda ls: {202, 400} <= {l.get("status") for l in ls})
    events = [l["event"] for l in logs]
    assert events[0] == "server.ready"
    reqs = [l for l in logs if l["event"] == "http.request"]
    sent = [l for l in reqs if l["status"] == 202][0]
    assert sent["to"] == "y***@example.com" and sent["recipients"] == 1
    assert "operation_id" in sent and "latency_ms" in sent
    bad = [l for l in reqs if l["status"] == 400][0]
    assert bad["error"] == "field-invalid" and bad["field"] == "to_email"
    assert "you@example.com" not in h.log_path.read_text()


def test_sender_from_env_and_override_policy(start):
    h = start(env={"EMAIL_SENDER": "alerts@contoso.example",
                   "NOTIFY_ALLOWED_SENDERS": "ops@contoso.example, sales@contoso.example"})
    r = request(h, "POST", "/api/notification", ORIGINAL)
    assert parse_eml(h.outbox / (r.json()["id"] + ".eml"))["From"] == "alerts@contoso.example"
    r = request(h, "POST", "/api/notification", dict(ORIGINAL, **{"from": "sales@contoso.example"}))
    assert r.status == 202
    assert parse_eml(h.outbox / (r.json()["id"] + ".eml"))["From"] == "sales@contoso.example"
    r = request(h, "POST", "/api/notification", dict(ORIGINAL, **{"from": "ceo@contoso.example"}))
    assert r.status == 400 and r.json()["field"] == "from"


def test_fifty_recipients(h):
    rcpt = [f"u{i}@example.com" for i in range(50)]
    assert request(h, "POST", "/api/notification",
                   {"to_email": rcpt[:30], "cc": rcpt[30:45], "bcc": rcpt[45:], "subject": "s",
                    "message": "m"}).status == 202
    r = request(h, "POST", "/api/notification",
                {"to_email": rcpt, "cc": "one-more@example.com", "subject": "s", "message": "m"})
    assert r.status == 400 and r.json()["type"].endswith("too-many-recipients")


def test_outbox_removed_and_made_again(h):
    """The outbox directory removed while the service runs: readiness answers 503 with the
    reason and sends 500; as soon as the directory exists again both work, without a restart."""
    import shutil
    assert request(h, "POST", "/api/notification", ORIGINAL).status == 202
    shutil.rmtree(h.outbox)
    r = request(h, "GET", "/")
    assert r.status == 503 and r.header("content-type") == "application/problem+json"
    assert r.json()["type"].endswith(":not-ready")
    assert r.json()["detail"] == "the outbox directory does not exist"
    assert r.header("retry-after") == "1"
    assert request(h, "HEAD", "/").status == 503
    s = request(h, "POST", "/api/notification", ORIGINAL)
    assert s.status == 500 and s.json()["type"].endswith("outbox-write-failed")
    h.outbox.mkdir()
    assert request(h, "GET", "/").status == 200
    r = request(h, "POST", "/api/notification", ORIGINAL)
    assert r.status == 202
    assert [p.name for p in h.emls()] == [r.json()["id"] + ".eml"]
    assert request(h, "GET", "/api/notification/" + r.json()["id"]).status == 200
