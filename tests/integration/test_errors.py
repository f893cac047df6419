"""Every error answer: its status, its problem+json shape, the field at fault, and a process that
stays up afterwards."""
import json

import pytest

from conftest import ORIGINAL, raw_exchange, request


def problem(r, status, slug, field=None):
    assert r.status == status, (r.status, r.body)
    assert r.header("content-type") == "application/problem+json"
    p = r.json()
    assert p["status"] == status
    assert p["type"] == "urn:notify-handler:problem:" + slug
    assert p["title"]
    if field is not None:
        assert p.get("field") == field, p
    return p


BAD_BODIES = [
    (b"", "json-syntax", None),
    (b"{", "json-syntax", None),
    (b"not json", "json-syntax", None),
    (b'{"to_email":"a@b.c"} trailing', "json-syntax", None),
    (b"[]", "field-type", None),
    (b'"string"', "field-type", None),
    (b"{}", "field-missing", None),
    (b'{"to_email":"\xff@b.c","subject":"s","message":"m"}', "bad-utf8", None),
    (b'{"to_email":"a@b.c","subject":"\\ud800","message":"m"}', "bad-utf8", None),
]
FIELD_ERRORS = [
    ({"subject": "s", "message": "m"}, "field-missing", "to_email"),
    ({"to_email": "you@example.com", "message": "m"}, "field-missing", "subject"),
    ({"to_email": "you@example.com", "subject": "s"}, "field-missing", "message"),
    ({"to_email": 42, "subject": "s", "message": "m"}, "field-type", "to_email"),
    ({"to_email": None, "subject": "s", "message": "m"}, "field-type", "to_email"),
    ({"to_email": ["ok@example.com", "no-at-sign"], "subject": "s", "message": "m"},
     "field-invalid", "to_email[1]"),
    ({"to_email": "you@example.com", "cc": "a b@example.com", "subject": "s", "message": "m"},
     "field-invalid", "cc"),
    ({"to_email": "you@example.com", "subject": "", "message": "m"}, "field-invalid", "subject"),
    ({"to_email": "you@example.com", "subject": "x" * 999, "message": "m"}, "field-too-long", "subject"),
    ({"to_email": "you@example.com", "subject": "s", "message": "m", "CC": "x@y.z"}, "field-unknown", "CC"),
    ({"to_email": "you@example.com", "subject": "s", "message": "m",
      "attachments": [{"name": "a.txt", "content_type": "text/plain", "content_base64": "not base64!"}]},
     "field-invalid", "attachments[0].content_base64"),
    ({"to_email": "you@example.com", "subject": "s", "message": "m",
      "attachments": [{"name": "../etc/passwd", "content_type": "text/plain", "content_base64": "eA=="}]},
     "field-invalid", "attachments[0].name"),
    ({"to_email": "you@example.com", "subject": "s", "message": "m", "from": "x@example.com"},
     "sender-not-allowed", "from"),
]


@pytest.mark.parametrize("body,slug,field", BAD_BODIES)
def test_bad_bodies(h, body, slug, field):
    problem(request(h, "POST", "/api/notification", body), 400, slug, field)
    assert request(h, "GET", "/").status == 200


@pytest.mark.parametrize("body,slug,field", FIELD_ERRORS)
def test_field_errors(h, body, slug, field):
    p = problem(request(h, "POST", "/api/notification", body), 400, slug, field)
    assert p.get("detail")
    assert not h.emls()


def test_duplicate_key(h):
    body = b'{"to_email":"a@example.com","subject":"s","subject":"t","message":"m"}'
    problem(request(h, "POST", "/api/notification", body), 400, "field-duplicate", "subject")


def test_routes_and_methods(h):
    problem(request(h, "GET", "/nope"), 404, "not-found")
    problem(request(h, "GET", "/api/notifications"), 404, "not-found")
    r = request(h, "GET", "/api/notification")
    problem(r, 405, "method-not-allowed")
    assert r.header("allow") == "POST"
    r = request(h, "DELETE", "/api/notification/00000000-0000-4000-8000-000000000000")
    problem(r, 405, "method-not-allowed")
    assert r.header("allow") == "GET, HEAD"
    r = request(h, "POST", "/", b"{}")
    problem(r, 405, "method-not-allowed")
    assert r.header("allow") == "GET, HEAD"
    # the query string is not part of the route
    assert request(h, "POST", "/api/notification?x=1", ORIGINAL).status == 202


def test_content_type(h):
    for ct in ("text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1",
               "application/jsonx"):
        problem(request(h, "POST", "/api/notification", ORIGINAL, {"Content-Type": ct}), 415,
                "unsupported-media-type")
    for ct in ("application/json", "Application/JSON; charset=UTF-8", 'application/json;charset="utf-8"',
               None):
        assert request(h, "POST", "/api/notification", ORIGINAL, {"Content-Type": ct}).status == 202, ct


def test_api_key(start):
    h = start(env={"NOTIFY_API_KEY": "s3cret-key-123"})
    r = request(h, "POST", "/api/notification", ORIGINAL)
    problem(r, 401, "unauthorized")
    assert r.header("www-authenticate").startswith("Bearer")
    problem(request(h, "POST", "/api/notification", ORIGINAL, {"X-API-Key": "wrong"}), 401, "unauthorized")
    problem(request(h, "POST", "/api/notification", ORIGINAL, {"X-API-Key": "s3cret-key-12"}), 401,
            "unauthorized")
    assert request(h, "POST", "/api/notification", ORIGINAL, {"X-API-Key": "s3cret-key-123"}).status == 202
    assert request(h, "POST", "/api/notification", ORIGINAL,
                   {"Authorization": "Bearer s3cret-key-123"}).status == 202
    assert request(h, "GET", "/").status == 200  # readiness stays open
    h.stop()
    assert "s3cret-key-123" not in h.log_path.read_text() + h.stderr()


def test_body_too_large(start):
    h = start(env={"NOTIFY_MAX_BODY_BYTES": "4096"})
    big = json.dumps(dict(ORIGINAL, message="x" * 5000)).encode()
    problem(request(h, "POST", "/api/notification", big), 413, "body-too-large")
    chunked = (b"POST /api/notification HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Content-Type: application/json\r\n\r\n" + b"".join(
                   b"400\r\n" + b"x" * 1024 + b"\r\n" for _ in range(5)) + b"0\r\n\r\n")
    resp = raw_exchange(h, chunked)
    assert resp.startswith(b"HTTP/1.1 413 "), resp[:100]
    ok = json.dumps(dict(ORIGINAL, message="x" * 3000)).encode()
    assert request(h, "POST", "/api/notification", ok).status == 202


def test_too_many_tokens(h):
    body = {"to_email": ["a@example.com"] * 300, "subject": "s", "message": "m"}
    r = request(h, "POST", "/api/notification", body)
    assert r.status in (400, 413)
    assert r.json()["type"].split(":")[-1] in ("json-too-complex", "too-many-recipients")


RAW_ERRORS = [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    (b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(70)) + b"\r\n", 431),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 9000 + b"\r\n\r\n", 431),
    (b"POST /api/notification HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    (b"POST /api/notification HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400),
    (b"POST /api/notification HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
    (b"POST /api/notification HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    (b"POST /api/notification HTTP/1.1\r\nHost: x\r\nExpect: something\r\nContent-Length: 2\r\n\r\n{}", 417),
    (b"POST /api/notification HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"POST /api/notification HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
]


@pytest.mark.parametrize("data,status", RAW_ERRORS)
def test_malformed_http(h, data, status):
    resp = raw_exchange(h, data)
    assert resp.startswith(b"HTTP/1.1 %d " % status), resp[:200]
    assert b"Connection: close" in resp
    head, _, body = resp.partition(b"\r\n\r\n")
    assert json.loads(body)["status"] == status
    assert request(h, "GET", "/").status == 200


def _raw_post(h, extra_headers):
    body = json.dumps(ORIGINAL).encode()
    raw = (b"POST /api/notification HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           b"Content-Type: application/json\r\n" + extra_headers +
           b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    resp = raw_exchange(h, raw)
    head, _, rest = resp.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), head, rest


@pytest.mark.parametrize("headers,field", [
    (b"X-API-Key: k-123\r\nX-API-Key: other\r\n", "X-API-Key"),
    (b"X-API-Key: k-123\r\nX-API-Key: k-123\r\n", "X-API-Key"),
    (b"Authorization: Bearer k-123\r\nAuthorization: Bearer other\r\n", "Authorization"),
    (b"X-API-Key: other\r\nAuthorization: Bearer k-123\r\n", "Authorization"),
    (b"X-API-Key: k-123\r\nAuthorization: Bearer other\r\n", "Authorization"),
    (b"X-API-Key: k-123\r\nIdempotency-Key: a\r\nIdempotency-Key: b\r\n", "Idempotency-Key"),
])
def test_ambiguous_security_headers(start, headers, field):
    """A request that can be read two ways is refused with 400 naming the header; nothing sent."""
    h = start(env={"NOTIFY_API_KEY": "k-123"})
    status, head, body = _raw_post(h, headers)
    assert status == 400, head
    p = json.loads(body)
    assert p["type"] == "urn:notify-handler:problem:header-ambiguous" and p["field"] == field, p
    assert h.emls() == []
    # the same key in both places reads one way
    status, head, _ = _raw_post(h, b"X-API-Key: k-123\r\nAuthorization: Bearer k-123\r\n")
    assert status == 202, head
    assert len(h.emls()) == 1
