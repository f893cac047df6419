"""The ACS Email mock (mock_acs.py) checked against Microsoft's official JS SDK and the public
contract (the sources are listed at the top of mock_acs.py, cited here by the same tags).

(a) the SDK's signed requests and bodies are accepted by the mock: the oracle that the mock verifies
    exactly as ACS does; (b) tampered requests get 401; (c) the SDK's operation polling works;
(d) every scripted fault behaves as documented, seen from raw TLS sockets; (e) the exact headers
and JSON body the SDK sends, recorded (printed, and written to build/acs-sdk/sdk-request.json)
so the C client can later be compared field by field (fixture `sdk_request`).

Needs node and tests/sdk/node_modules (`npm ci --prefix tests/sdk`). Skipped when either is
missing, or when NOTIFY_SKIP_ORACLE=1 (`make test` runs the integration suite twice; the oracle
needs to run once).
"""
import base64
import json
import os
import shutil
import socket
import ssl
import statistics
import subprocess
import time
import uuid
import warnings

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SDK_DIR = os.path.join(ROOT, "tests", "sdk")
SEND_JS = os.path.join(SDK_DIR, "send.js")
NODE = shutil.which("node")

if os.environ.get("NOTIFY_SKIP_ORACLE") == "1":
    pytest.skip("NOTIFY_SKIP_ORACLE=1: the ACS mock/SDK oracle runs in the other pass", allow_module_level=True)
if NODE is None:
    pytest.skip("node not found: the ACS SDK oracle needs Node.js (apt-get install nodejs)", allow_module_level=True)
if not os.path.isdir(os.path.join(SDK_DIR, "node_modules", "@azure", "communication-email")):
    pytest.skip("tests/sdk/node_modules missing: run `npm ci --prefix tests/sdk`", allow_module_level=True)
if shutil.which("openssl") is None:
    pytest.skip("openssl CLI not found (needed to make the test PKI)", allow_module_level=True)

from mock_acs import (EMPTY_HASH, MockACS, content_hash, parse_connection_string,  # noqa: E402
                      parse_rfc1123, rfc1123, sign_headers, signature, string_to_sign)
from pki import make_pki  # noqa: E402

SDK_VERSION = "1.1.0"
REF_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw=="
REF_HOST = "contoso.unitedstates.communication.azure.com"
REF_DATE = "Tue, 05 Mar 2024 09:04:05 GMT"
REF_BODY = (b'{"senderAddress":"DoNotReply@contoso.com","content":{"subject":"Hello","plainText":"Hi there"},'
            b'"recipients":{"to":[{"address":"alice@example.com"}]}}')
REF_OPID = "4b3c2d1e-0f9a-4b8c-9d7e-6f5a4b3c2d1e"

SIMPLE = {"senderAddress": "DoNotReply@contoso.com",
          "content": {"subject": "Hello", "plainText": "Hi there"},
          "recipients": {"to": [{"address": "alice@example.com"}]}}

# Every member of the wire schema ([schema]), in the order the SDK's serializer writes them,
# with characters that need JSON escaping and non-ASCII text.
RICH = {
    "headers": {"ClientCorrelationId": "123", "x-priority": "1"},
    "senderAddress": "DoNotReply@contoso.com",
    "content": {"subject": "Caf\u00e9 \U0001F600 \"quoted\" \\ </tag>",
                "plainText": "line1\nline2\ttab \u0001 end",
                "html": "<html><body><h1>Hi &amp; bye</h1><img src=\"cid:logo\"></body></html>"},
    "recipients": {"to": [{"address": "alice@example.com", "displayName": "Alice A"}],
                   "cc": [{"address": "bob@example.com"}],
                   "bcc": [{"address": "carol@example.com", "displayName": ""}]},
    "attachments": [{"name": "a.txt", "contentType": "text/plain", "contentInBase64": "aGVsbG8="},
                    {"name": "logo.png", "contentType": "image/png", "contentInBase64": "iVBORw0KGgo=",
                     "contentId": "logo"}],
    "replyTo": [{"address": "support@contoso.com", "displayName": "Support"}],
    "userEngagementTrackingDisabled": True,
}


# ---- fixtures and helpers ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("acs-pki"))


@pytest.fixture
def acs(pki):
    m = MockACS(pki.server_cert, pki.server_key, retry_after=0, tokens={"good-token"})
    m.start()
    yield m
    m.stop()


def run_sdk(mock, ca, message, *args, timeout=60, connection_string=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NODE_", "ACS_"))}
    env.update(NODE_EXTRA_CA_CERTS=ca, ACS_CONNECTION_STRING=connection_string or mock.connection_string,
               ACS_MESSAGE=json.dumps(message))
    r = subprocess.run([NODE, SEND_JS, *args], env=env, cwd=SDK_DIR, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    out = r.stdout.decode().strip().splitlines()
    assert out, "send.js printed nothing (rc %d): %s" % (r.returncode, r.stderr.decode())
    res = json.loads(out[-1])
    res["rc"] = r.returncode
    res["stderr"] = r.stderr.decode()
    return res


def connect(port, ca, host="localhost", tls_max=None, ciphers=None, timeout=5.0):
    ctx = ssl.create_default_context(cafile=ca)
    if tls_max is not None:
        ctx.maximum_version = tls_max
    if ciphers:
        ctx.set_ciphers(ciphers)
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return ctx.wrap_socket(raw, server_hostname=host)


def build(method, target, host, body=b"", key=None, date=None, extra=None, sign_body=None,
          sign_host=None, sign_target=None, sign_date=None, drop=(), auth=None):
    """Request bytes signed per [hmac]; sign_* sign other values than the ones sent."""
    date = date or rfc1123()
    h = sign_headers(method, sign_target or target, sign_host or host,
                     body if sign_body is None else sign_body, key, sign_date or date)
    h["x-ms-date"] = date
    if auth is not None:
        h["Authorization"] = auth
    lines = ["%s %s HTTP/1.1" % (method, target), "Host: " + host]
    if method == "POST":
        lines += ["Content-Type: application/json", "Content-Length: %d" % len(body)]
    lines.append("Accept: application/json")
    for k, v in list(h.items()) + list((extra or {}).items()):
        if k not in drop:
            lines.append("%s: %s" % (k, v))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_response(s):
    """One response (Content-Length framed) -> (status, headers lower-cased, body bytes)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("connection closed after %r" % buf)
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("short body")
        rest += chunk
    return status, headers, rest[:n]


def roundtrip(mock, ca, req, **kw):
    with connect(mock.port, ca, **kw) as s:
        s.sendall(req)
        return read_response(s)


def post(mock, body=None, key=None, target="/emails:send?api-version=2025-09-01", **kw):
    body = json.dumps(SIMPLE if body is None else body).encode() if not isinstance(body, bytes) else body
    return build("POST", target, mock.public_host, body, key or mock.access_key, **kw)


def key_paths(obj, prefix=""):
    out = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = prefix + k if prefix == "" else prefix + "." + k
            out.add(p)
            out |= key_paths(v, p)
    elif isinstance(obj, list):
        for v in obj:
            out |= key_paths(v, prefix + "[]")
    return out


# ---- the mock's signing helpers reproduce every published vector: the HMAC tests of the SDKs
# (https://github.com/Azure/azure-sdk-for-python, sdk/communication/azure-communication-email/tests/test_hmac.py;
# https://github.com/Azure/azure-sdk-for-js, sdk/communication/communication-common/test/internal/cryptoUtils.spec.ts)

def test_reference_vectors():
    assert content_hash(b"") == EMPTY_HASH
    assert content_hash(b"banana") == "tJPUg2Sv5E0RwBZc9HCkFk0eJgmRHvmYvoaNRq3j3k4="
    assert content_hash("\U0001F600".encode()) == "8EQ6NCxe9UeDoRG1G6Vsk45HTDIyTZDDpgycjjo34tk="
    assert signature("pw==", "banana") == "88EC05aAS9iXnaimtNO78JLjiPtfWryQB/5QYEzEsu8="
    assert signature("pw==", "\U0001F600") == "1rudJKjn2Zi+3hRrBG29wIF6pD6YyAeQR1ZcFtXoKAU="
    d = "Wed, 13 Apr 2022 18:09:12 GMT"
    for target, want in (("/", "88MDmJhUR3m5QhFxb8ztShsSwlGrg7g/6XPnWf7QEO4="),
                         ("/testPath", "RoCrHjw7fb9fpHSbqvRUY2xa8RBS0YvI1cxI1x8AS38="),
                         ("/testPath?testQuery=yes", "il99+rd6V5O136roX/zVePCNle78HmvC4B7tu9zRH3I=")):
        h = sign_headers("GET", target, "contoso.communicationservices.azure.com", b"", "pw==", d)
        assert h["Authorization"] == ("HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256"
                                      "&Signature=" + want)
    for target, want in (("/testPath?testQuery=test", "DGdgwggJWnQyc6EHjR/Vbqg1ES64KpD6U2XwTDDj3tU="),
                         ("/testPath", "+6tWkg3lNKVjQHHmxkdGQcJjUgzclsWTMebnuCz1ngU=")):
        assert sign_headers("GET", target, "example.com", b"", "pw==", d)["Authorization"].endswith(want)
    assert len(REF_BODY) == 149 and content_hash(REF_BODY) == "krUHEJM7a7NKToZzt+gPHN8vBPPGa8EJ4NMYbXhiUOE="
    sts = string_to_sign("POST", "/emails:send?api-version=2023-03-31", REF_DATE, REF_HOST, content_hash(REF_BODY))
    assert signature(REF_KEY, sts) == "dSYwn+kvs5JoD3b+sre91dwvu7WJ0KA+oSYTsH12kZI="
    sts = string_to_sign("POST", "/emails:send?api-version=2025-09-01", REF_DATE, REF_HOST, content_hash(REF_BODY))
    assert signature(REF_KEY, sts) == "PMtgSOwcW1bgrXXX7fM7JPjNCfvFJQphxCldLca8pnk="
    assert rfc1123(parse_rfc1123(REF_DATE)) == REF_DATE
    assert rfc1123(1649873352) == d
    assert parse_rfc1123("Tue, 5 Mar 2024 09:04:05 GMT") is None      # unpadded day
    assert parse_rfc1123("Wed, 05 Mar 2024 09:04:05 GMT") is None     # wrong weekday
    assert parse_connection_string("endpoint=https://x.communication.azure.com/;accesskey=pw==;") == \
        ("https://x.communication.azure.com", "pw==")


def test_reference_worked_example_on_the_wire(pki):
    """The exact request bytes of a worked /emails:send example computed with the [hmac] algorithm
    (not a published vector; also in tests/unit/test_acs_auth.c; date 2024, so the clock check is
    widened)."""
    with MockACS(pki.server_cert, pki.server_key, access_key=REF_KEY, max_skew=10 ** 10) as m:
        req = (b"POST /emails:send?api-version=2023-03-31 HTTP/1.1\r\n"
               b"Host: " + REF_HOST.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: 149\r\n"
               b"Accept: application/json\r\nx-ms-date: " + REF_DATE.encode() + b"\r\n"
               b"x-ms-content-sha256: krUHEJM7a7NKToZzt+gPHN8vBPPGa8EJ4NMYbXhiUOE=\r\n"
               b"Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256"
               b"&Signature=dSYwn+kvs5JoD3b+sre91dwvu7WJ0KA+oSYTsH12kZI=\r\n"
               b"Operation-Id: " + REF_OPID.encode() + b"\r\n\r\n" + REF_BODY)
        st, h, body = roundtrip(m, pki.bundle, req)
        assert st == 202, body
        assert json.loads(body) == {"id": REF_OPID, "status": "Running", "error": None}
        assert h["operation-location"] == "https://%s/emails/operations/%s?api-version=2023-03-31" % (REF_HOST, REF_OPID)
        get = (b"GET /emails/operations/" + REF_OPID.encode() + b"?api-version=2023-03-31 HTTP/1.1\r\nHost: "
               + REF_HOST.encode() + b"\r\nx-ms-date: " + REF_DATE.encode() + b"\r\nx-ms-content-sha256: "
               + EMPTY_HASH.encode() + b"\r\nAuthorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;"
               b"x-ms-content-sha256&Signature=hnlCWzkOGageKkvmq4PkYS1EeDUFpBsnpHh5Tvcq5i0=\r\n\r\n")
        st, h, body = roundtrip(m, pki.bundle, get)
        assert st == 200 and json.loads(body)["id"] == REF_OPID
        bad = req.replace(b"dSYwn+kvs5JoD3b+sre91dwvu7WJ0KA+oSYTsH12kZI=",
                          b"5cUeTz59pahv5JSZSzfKwPUPs0vhMQCnesB2FKgA9+4=")   # host signed as ...:443
        st, _, body = roundtrip(m, pki.bundle, bad)
        assert st == 401 and json.loads(body)["error"]["code"] == "Denied"
        assert m.logical_sends == 1


# ---- (a) the official SDK is accepted ---------------------------------------------------------

@pytest.mark.parametrize("variant", ["ec-tls13", "rsa-tls12"])
def test_sdk_send_accepted(pki, variant):
    if variant == "ec-tls13":
        m = MockACS(pki.server_cert, pki.server_key, retry_after=0)
    else:  # what Azure Front Door and our BearSSL client use: RSA chain, TLS 1.2, ECDHE + AES-GCM
        m = MockACS(pki.rsa_server_cert, pki.rsa_server_key, retry_after=0, tls_max=ssl.TLSVersion.TLSv1_2,
                    ciphers="ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384")
    with m:
        out = run_sdk(m, pki.bundle, SIMPLE)
        assert out["ok"], out
        posts = [r for r in m.requests if r.method == "POST"]
        assert len(posts) == 1 and posts[0].auth == "hmac" and posts[0].status == 202
        assert posts[0].json == SIMPLE
        assert m.logical_sends == 1
        assert all(r.auth_ok for r in m.requests)
        assert out["result"] == {"id": posts[0].operation_id, "status": "Succeeded"}
        if variant == "ec-tls13":
            assert posts[0].tls_version == "TLSv1.3"
        else:
            assert posts[0].tls_version == "TLSv1.2" and posts[0].cipher.startswith("ECDHE-RSA-AES")
            assert "GCM" in posts[0].cipher


def test_sdk_rich_message_and_old_api_version(acs, pki):
    out = run_sdk(acs, pki.bundle, dict(RICH, attachments=RICH["attachments"][:1]), "--api-version", "2023-03-31")
    assert out["ok"], out
    post_ = acs.sends[0]
    assert post_.query == {"api-version": "2023-03-31"} and post_.auth == "hmac"
    assert post_.unknown_keys == []
    assert out["state"]["config"]["operationLocation"].endswith("?api-version=2023-03-31")


def test_sdk_operation_id_is_adopted_and_idempotent(acs, pki):
    opid = str(uuid.uuid4())
    out1 = run_sdk(acs, pki.bundle, SIMPLE, "--operation-id", opid)
    out2 = run_sdk(acs, pki.bundle, SIMPLE, "--operation-id", opid)
    assert out1["ok"] and out2["ok"], (out1, out2)
    posts = [r for r in acs.requests if r.method == "POST"]
    assert [p.header("Operation-Id") for p in posts] == [opid, opid]
    assert [p.duplicate for p in posts] == [False, True] and posts[1].status == 202
    assert out1["result"]["id"] == out2["result"]["id"] == opid
    assert acs.logical_sends == 1


def test_sdk_wrong_key_is_rejected(acs, pki):
    wrong = "endpoint=%s/;accesskey=%s" % (acs.endpoint, base64.b64encode(os.urandom(64)).decode())
    out = run_sdk(acs, pki.bundle, SIMPLE, "--max-retries", "0", connection_string=wrong)
    assert not out["ok"] and out["error"]["statusCode"] == 401 and out["error"]["code"] == "Denied"
    assert acs.requests[0].auth == "denied: signature mismatch"


@pytest.mark.parametrize("which,code", [("expired", "CERT_HAS_EXPIRED"), ("wrong_host", "ERR_TLS_CERT_ALTNAME_INVALID")])
def test_sdk_checks_the_certificate(pki, which, code):
    """NODE_EXTRA_CA_CERTS trust is real: the SDK refuses the expired and the wrong-name leaf."""
    with MockACS(getattr(pki, which + "_cert"), getattr(pki, which + "_key")) as m:
        out = run_sdk(m, pki.bundle, SIMPLE, "--max-retries", "0")
        assert not out["ok"] and out["error"]["code"] == code, out
        assert m.requests == [] and m.tls_errors


# ---- (b) tampered requests are rejected ---------------------------------------------------------

def _denied(resp):
    st, h, body = resp
    assert st == 401, body
    err = json.loads(body)["error"]
    assert err["code"] == "Denied" and isinstance(err["message"], str) and h["x-ms-error-code"] == "Denied"
    return err


def test_valid_python_client_is_accepted(acs, pki):
    st, h, body = roundtrip(acs, pki.bundle, post(acs))
    assert st == 202, body
    assert acs.requests[-1].auth == "hmac"


TAMPER = {
    "changed body": dict(sign_body=json.dumps(dict(SIMPLE, senderAddress="x@contoso.com")).encode()),
    # dates are made when the test runs (a lambda), not when the file is collected: a suite
    # that takes minutes before this test would otherwise bring "16 min ahead" within the skew
    "changed date": dict(sign_date=lambda: rfc1123(time.time() - 5)),
    "date 16 min old": dict(date=lambda: rfc1123(time.time() - 16 * 60)),
    "date 16 min ahead": dict(date=lambda: rfc1123(time.time() + 16 * 60)),
    "numeric zone date": dict(date=lambda: rfc1123().replace("GMT", "+0000")),
    "date without weekday": dict(date=lambda: rfc1123()[5:]),
    "wrong key": dict(key=base64.b64encode(b"\x01" * 64).decode()),
    "host without port": dict(sign_host="localhost"),
    "host with :443": dict(sign_host="localhost:443"),
    "other target": dict(sign_target="/emails:send?api-version=2023-03-31"),
    "lower-case method": None,
    "quoted authorization": None,
    "other SignedHeaders order": None,
    "no x-ms-date": dict(drop=("x-ms-date",)),
    "no content hash": dict(drop=("x-ms-content-sha256",)),
    "no authorization": dict(drop=("Authorization",)),
    "unknown bearer": dict(auth="Bearer bad-token"),
}


@pytest.mark.parametrize("case", sorted(TAMPER))
def test_tampered_request_is_rejected(acs, pki, case):
    kw = TAMPER[case]
    if kw is not None:
        kw = {k: v() if callable(v) else v for k, v in kw.items()}
    if kw is None:
        req = post(acs)
        head, _, body = req.partition(b"\r\n\r\n")
        auth = [ln for ln in head.split(b"\r\n") if ln.startswith(b"Authorization: ")][0]
        value = auth[len(b"Authorization: "):]
        if case == "lower-case method":   # signed "post": the string-to-sign has the verb upper-cased
            sts_date = [ln for ln in head.split(b"\r\n") if ln.startswith(b"x-ms-date: ")][0][11:].decode()
            sig = signature(acs.access_key, "post\n/emails:send?api-version=2025-09-01\n%s;%s;%s" % (
                sts_date, acs.public_host, content_hash(body)))
            new = b"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=" + sig.encode()
        elif case == "quoted authorization":
            new = b'"' + value + b'"'
        else:
            new = value.replace(b"x-ms-date;host;x-ms-content-sha256", b"host;x-ms-date;x-ms-content-sha256")
        req = req.replace(auth, b"Authorization: " + new)
    elif case == "changed body":
        req = post(acs, body=dict(SIMPLE, senderAddress="x@contoso.com"), sign_body=json.dumps(SIMPLE).encode())
    else:
        req = post(acs, **kw)
    _denied(roundtrip(acs, pki.bundle, req))
    r = acs.requests[-1]
    assert not r.auth_ok and r.auth.startswith("denied")
    assert acs.logical_sends == 0
    if case == "changed body":
        assert "x-ms-content-sha256" in r.auth


def test_wrong_host_header_is_rejected(acs, pki):
    """Signed for localhost:<port> but sent with Host: 127.0.0.1:<port> -> the string-to-sign differs."""
    req = post(acs).replace(b"Host: localhost:", b"Host: 127.0.0.1:")
    _denied(roundtrip(acs, pki.bundle, req))
    # ...and a request signed for the Host it really sends is fine whatever that host is.
    req = build("POST", "/emails:send?api-version=2025-09-01", "127.0.0.1:%d" % acs.port,
                json.dumps(SIMPLE).encode(), acs.access_key)
    st, h, _ = roundtrip(acs, pki.bundle, req)
    assert st == 202 and h["operation-location"].startswith("https://127.0.0.1:%d/emails/operations/" % acs.port)


def test_clock_skew_within_15_minutes_is_accepted(acs, pki):
    for off in (-14 * 60, 14 * 60):
        st, _, body = roundtrip(acs, pki.bundle, post(acs, date=rfc1123(time.time() + off)))
        assert st == 202, body


def test_bearer_token(acs, pki):
    body = json.dumps(SIMPLE).encode()
    req = (b"POST /emails:send?api-version=2025-09-01 HTTP/1.1\r\nHost: " + acs.public_host.encode() +
           b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\nAuthorization: Bearer good-token\r\n\r\n"
           % len(body) + body)
    st, _, _ = roundtrip(acs, pki.bundle, req)
    assert st == 202 and acs.requests[-1].auth == "bearer"
    _denied(roundtrip(acs, pki.bundle, req.replace(b"good-token", b"good-tokeN")))


# ---- request validation ([schema]; limits: "Service limits for Azure Communication Services",
# section "Email", https://learn.microsoft.com/azure/communication-services/concepts/service-limits) ---------------------------------------------------

def _bad(acs, pki, msg, prop, code="BadRequest", target="/emails:send?api-version=2025-09-01"):
    st, h, body = roundtrip(acs, pki.bundle, post(acs, body=msg, target=target))
    assert st == 400, body
    err = json.loads(body)["error"]
    assert err["code"] == code and h["x-ms-error-code"] == code
    if prop is not None:
        assert err["target"] == prop, err
    return err


def test_schema_validation(acs, pki):
    s = SIMPLE
    err = _bad(acs, pki, {k: v for k, v in s.items() if k != "senderAddress"}, "senderAddress")
    assert err["message"] == "Request body validation error. See property 'senderAddress'"
    _bad(acs, pki, dict(s, senderAddress="Contoso <DoNotReply@contoso.com>"), "senderAddress")
    _bad(acs, pki, dict(s, content={"plainText": "x"}), "content.subject")
    _bad(acs, pki, dict(s, content={"subject": "x"}), "content")
    _bad(acs, pki, dict(s, recipients={"to": []}), "recipients.to")
    _bad(acs, pki, dict(s, recipients={"cc": [{"address": "a@example.com"}]}), "recipients.to")
    _bad(acs, pki, dict(s, recipients={"to": [{"displayName": "x"}]}), "recipients.to[0].address")
    _bad(acs, pki, dict(s, recipients={"to": [{"address": "not-an-address"}]}), "recipients.to[0].address",
         code="InvalidEmailAddress")
    many = [{"address": "r%d@example.com" % i} for i in range(17)]
    _bad(acs, pki, dict(s, recipients={"to": many, "cc": many, "bcc": many}), "recipients")
    _bad(acs, pki, dict(s, attachments=[{"name": "a", "contentType": "text/plain", "contentInBase64": "!!"}]),
         "attachments[0].contentInBase64")
    _bad(acs, pki, dict(s, attachments=[{"name": "a", "contentInBase64": "aGk="}]), "attachments[0].contentType")
    _bad(acs, pki, dict(s, replyTo={"address": "a@example.com"}), "replyTo")
    _bad(acs, pki, dict(s, headers={"x-priority": 1}), "headers.x-priority")
    _bad(acs, pki, dict(s, userEngagementTrackingDisabled="yes"), "userEngagementTrackingDisabled")
    _bad(acs, pki, s, None, code="UnsupportedApiVersion", target="/emails:send?api-version=2021-10-01-preview")
    _bad(acs, pki, b"{not json", None)
    assert acs.logical_sends == 0
    fifty = [{"address": "r%d@example.com" % i} for i in range(50)]
    st, _, body = roundtrip(acs, pki.bundle, post(acs, body=dict(s, recipients={"to": fifty[:20], "bcc": fifty[20:]})))
    assert st == 202, body


def test_unknown_members_and_content_id(acs, pki):
    # The sources do not say ACS rejects unknown members: accepted and listed by default.
    st, _, _ = roundtrip(acs, pki.bundle, post(acs, body=dict(SIMPLE, importance="high")))
    assert st == 202 and acs.requests[-1].unknown_keys == ["importance"]
    # contentId exists in 2025-09-01 only; on 2023-03-31 it is an unknown member.
    msg = dict(SIMPLE, attachments=[{"name": "l.png", "contentType": "image/png", "contentInBase64": "aGk=",
                                     "contentId": "logo"}])
    st, _, _ = roundtrip(acs, pki.bundle, post(acs, body=msg))
    assert st == 202 and acs.requests[-1].unknown_keys == []
    st, _, _ = roundtrip(acs, pki.bundle, post(acs, body=msg, target="/emails:send?api-version=2023-03-31"))
    assert st == 202 and acs.requests[-1].unknown_keys == ["attachments[0].contentId"]
    acs.reject_unknown_keys = True
    _bad(acs, pki, dict(SIMPLE, importance="high"), "importance")


def test_operation_id_rules(pki):
    with MockACS(pki.server_cert, pki.server_key, conflict_status=409) as m:
        opid = str(uuid.uuid4())
        for _ in range(3):
            st, h, body = roundtrip(m, pki.bundle, post(m, extra={"Operation-Id": opid}))
            assert st == 202 and json.loads(body)["id"] == opid
            assert h["operation-location"] == "%s/emails/operations/%s?api-version=2025-09-01" % (m.endpoint, opid)
        assert m.logical_sends == 1 and [r.duplicate for r in m.requests] == [False, True, True]
        st, _, body = roundtrip(m, pki.bundle, post(m, body=dict(SIMPLE, senderAddress="o@contoso.com"),
                                                    extra={"Operation-Id": opid}))
        assert st == 409 and json.loads(body)["error"]["code"] == "Conflict"
        st, _, body = roundtrip(m, pki.bundle, post(m, extra={"Operation-Id": "not-a-uuid"}))
        assert st == 400 and json.loads(body)["error"]["target"] == "Operation-Id"
        assert m.logical_sends == 1


def test_chunked_body_and_expect_continue(acs, pki):
    body = json.dumps(SIMPLE).encode()
    req = post(acs, body=body)
    head, _, _ = req.partition(b"\r\n\r\n")
    head = head.replace(b"Content-Length: %d" % len(body), b"Transfer-Encoding: chunked")
    chunked = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(body[i:i + 40]), body[i:i + 40]) for i in range(0, len(body), 40))
    with connect(acs.port, pki.bundle) as s:
        s.sendall(head + b"\r\nExpect: 100-continue\r\n\r\n")
        assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(chunked + b"0\r\nX-Trailer: 1\r\n\r\n")
        st, _, rbody = read_response(s)
    assert st == 202, rbody
    assert acs.requests[-1].body == body and acs.requests[-1].auth == "hmac"


# ---- (c) operation polling ---------------------------------------------------------------------

def test_sdk_polls_until_succeeded(pki):
    with MockACS(pki.server_cert, pki.server_key, retry_after=0,
                 poll_statuses=("NotStarted", "Running", "Running", "Succeeded")) as m:
        # retry-after: 0 is falsy to core-lro, which then falls back to updateIntervalInMs (2 s)
        out = run_sdk(m, pki.bundle, SIMPLE, "--poll-ms", "20")
        assert out["ok"], out
        gets = [r for r in m.requests if r.method == "GET"]
        opid = m.sends[0].operation_id
        assert len(gets) == 4 and all(g.auth == "hmac" and g.status == 200 for g in gets)
        assert all(g.target == "/emails/operations/%s?api-version=2025-09-01" % opid for g in gets)
        assert all(g.header("x-ms-content-sha256") == EMPTY_HASH and g.body == b"" for g in gets)
        assert out["state"]["status"] == "running"
        assert out["result"] == {"id": opid, "status": "Succeeded"}


def test_sdk_honours_retry_after_between_polls(pki):
    """JS SDK 1.1.0 (core-lro): beginSend polls once right after the 202 and pollUntilDone polls once
    more at once; only then does it wait retry-after between GETs. The 202's retry-after is ignored."""
    with MockACS(pki.server_cert, pki.server_key, retry_after=1,
                 poll_statuses=("Running", "Running", "Running", "Succeeded")) as m:
        t0 = time.monotonic()
        out = run_sdk(m, pki.bundle, SIMPLE)
        assert out["ok"], out
        t = [r.time for r in m.requests]
        assert [r.method for r in m.requests] == ["POST", "GET", "GET", "GET", "GET"]
        assert t[1] - t[0] < 0.5 and t[2] - t[1] < 0.5
        assert t[3] - t[2] >= 0.9 and t[4] - t[3] >= 0.9
        assert time.monotonic() - t0 < 10


def test_sdk_reports_failed_operation(acs, pki):
    acs.script({"kind": "ok", "on": "send", "poll": ["Running", "Failed"],
                "error": {"code": "EmailDroppedAllRecipientsSuppressed",
                          "message": "Message dropped because all recipients were suppressed."}})
    out = run_sdk(acs, pki.bundle, SIMPLE)
    assert not out["ok"] and "EmailDroppedAllRecipientsSuppressed" in out["error"]["message"]


def test_status_endpoint_raw(acs, pki):
    st, h, body = roundtrip(acs, pki.bundle, post(acs))
    opid = json.loads(body)["id"]
    assert h["retry-after"] == "0"
    get = lambda i: build("GET", "/emails/operations/%s?api-version=2025-09-01" % i, acs.public_host, b"",
                          acs.access_key)
    with connect(acs.port, pki.bundle) as s:     # one keep-alive connection
        s.sendall(get(opid))
        st, h, body = read_response(s)
        assert st == 200 and json.loads(body) == {"id": opid, "status": "Running"} and "retry-after" in h
        s.sendall(get(opid))
        st, h, body = read_response(s)
        assert st == 200 and json.loads(body) == {"id": opid, "status": "Succeeded"} and "retry-after" not in h
        s.sendall(get(str(uuid.uuid4())))
        st, h, body = read_response(s)
        assert st == 404 and json.loads(body)["error"]["code"] == "NotFound"
    # an identical re-POST of that operation returns its current state, creates nothing
    st, _, body = roundtrip(acs, pki.bundle, post(acs, extra={"Operation-Id": opid}))
    assert st == 202 and json.loads(body)["status"] == "Succeeded" and acs.logical_sends == 1


# ---- (d) scripted faults, seen from raw TLS sockets -------------------------------------------------

@pytest.mark.parametrize("spec,status,code,retry_after", [
    ("429:2", 429, "TooManyRequests", "2"),
    ("503:1", 503, "ServiceUnavailable", "1"),
    ("400:DomainNotLinked", 400, "DomainNotLinked", None),
    ("404", 404, "DomainNotLinked", None),
    ("401", 401, "Denied", None),
    ("403", 403, "Forbidden", None),
    ("500", 500, "InternalServerError", None),
    ("502", 502, "BadGateway", None),
])
def test_fault_error_answers(acs, pki, spec, status, code, retry_after):
    acs.script(spec, "ok")
    with connect(acs.port, pki.bundle) as s:
        s.sendall(post(acs))
        st, h, body = read_response(s)
        assert st == status and h.get("retry-after") == retry_after
        err = json.loads(body)["error"]
        assert err["code"] == code and h["x-ms-error-code"] == code and err["message"]
        if code == "DomainNotLinked":
            assert err["message"] == "The specified sender domain has not been linked."
        s.sendall(post(acs))                        # then success, on the same connection
        st, _, _ = read_response(s)
        assert st == 202
    assert acs.logical_sends == 1 and acs.pending_script() == []


def test_fault_list_of_dicts_and_filters(acs, pki):
    acs.script([{"status": 500, "on": "send", "headers": {"X-Test": "1"}},
                {"status": 429, "retry_after": "Wed, 21 Oct 2015 07:28:00 GMT", "on": "status"}])
    get = build("GET", "/emails/operations/%s?api-version=2025-09-01" % uuid.uuid4(), acs.public_host, b"",
                acs.access_key)
    st, h, _ = roundtrip(acs, pki.bundle, get)
    assert st == 429 and h["retry-after"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    st, h, _ = roundtrip(acs, pki.bundle, post(acs))
    assert st == 500 and h["x-test"] == "1"
    st, _, _ = roundtrip(acs, pki.bundle, post(acs))
    assert st == 202


def _read_until_error(s):
    got, err = b"", None
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    except (OSError, ssl.SSLError) as e:
        err = e
    return got, err


TCP_CLOSE, TCP_CLOSE_WAIT = 7, 8   # Linux tcp_states.h


def _tcp_state(s):
    """Linux TCP_INFO tcpi_state: CLOSE after an RST, CLOSE_WAIT after the peer's FIN. (Python's ssl
    module reports both as EOF, so the kernel's view is what tells a reset from a close.)"""
    return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]


def _wait_state(s, want, timeout=2.0):
    deadline = time.monotonic() + timeout
    while _tcp_state(s) != want:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("spec,sent", [("reset", b"HTTP/1.1 202 Accepte"), ("reset:0", b""),
                                       ("reset:9", b"HTTP/1.1 ")])
def test_fault_reset(acs, pki, spec, sent):
    acs.script(spec)
    with connect(acs.port, pki.bundle) as s:
        s.sendall(post(acs))
        got, err = _read_until_error(s)
        assert got == sent and (err is None or isinstance(err, (ssl.SSLEOFError, ConnectionResetError))), err
        assert _wait_state(s, TCP_CLOSE)            # an RST, not a FIN
    assert acs.requests[-1].status is None and acs.logical_sends == 0


def test_fault_stall_then_close(acs, pki):
    acs.script("stall:1")
    with connect(acs.port, pki.bundle, timeout=0.3) as s:
        s.sendall(post(acs))
        t0 = time.monotonic()
        with pytest.raises(socket.timeout):
            s.recv(100)
        s.settimeout(5)
        got, err = _read_until_error(s)
        assert got == b"" and time.monotonic() - t0 >= 0.6
    assert acs.logical_sends == 0


def test_fault_delay(acs, pki):
    acs.script("delay:0.5")
    t0 = time.monotonic()
    st, _, _ = roundtrip(acs, pki.bundle, post(acs))
    assert st == 202 and time.monotonic() - t0 >= 0.5


def test_fault_malformed_and_close(acs, pki):
    acs.script("malformed", "close")
    with connect(acs.port, pki.bundle) as s:
        s.sendall(post(acs))
        got, _ = _read_until_error(s)
    assert got.startswith(b"HTTP/1.1 ") and not got.startswith(b"HTTP/1.1 202 ")
    with pytest.raises((ValueError, IndexError)):
        int(got.split(b" ")[1])
    with connect(acs.port, pki.bundle) as s:
        s.sendall(post(acs))
        got, err = _read_until_error(s)
        assert got == b"" and err is None          # clean close_notify + FIN, no answer
        assert _wait_state(s, TCP_CLOSE_WAIT)
    assert acs.logical_sends == 0


def test_stop_ends_a_stall(pki):
    m = MockACS(pki.server_cert, pki.server_key).start()
    m.script("stall:60")
    s = connect(m.port, pki.bundle)
    s.sendall(post(m))
    m.wait_for(1)
    t0 = time.monotonic()
    m.stop()
    assert time.monotonic() - t0 < 3
    s.close()


def test_sdk_under_faults(acs, pki):
    """What the JS SDK does with the scripted faults (its retry policy: https://github.com/Azure/azure-sdk-for-js,
    sdk/core/core-rest-pipeline/src/retryStrategies/): retries 503/429 after
    Retry-After, 500 and a reset connection with backoff; 400 is final. No Operation-Id is sent,
    so a POST retried after a reset could have been a duplicate on the real service."""
    acs.script("503:1", "429:1", "500", "reset", "ok")
    t0 = time.monotonic()
    out = run_sdk(acs, pki.bundle, SIMPLE, "--no-wait", "--retry-delay-ms", "10", "--max-retries", "5")
    assert out["ok"], out
    assert time.monotonic() - t0 >= 2    # honoured both Retry-After: 1
    assert [t["status"] for t in out["trace"][:5]] == [503, 429, 500, None, 202]
    assert out["trace"][3]["error"] == "ECONNRESET"
    assert acs.logical_sends == 1
    acs.script("400:DomainNotLinked")
    out = run_sdk(acs, pki.bundle, SIMPLE, "--no-wait")
    assert not out["ok"] and out["error"]["code"] == "DomainNotLinked" and out["error"]["statusCode"] == 400
    assert len(out["trace"]) == 1


# ---- TLS and HTTP properties ------------------------------------------------------------------------

@pytest.mark.parametrize("cert,cipher", [("server", "ECDHE-ECDSA-AES128-GCM-SHA256"),
                                         ("server", "ECDHE-ECDSA-AES256-GCM-SHA384"),
                                         ("rsa_server", "ECDHE-RSA-AES128-GCM-SHA256"),
                                         ("rsa_server", "ECDHE-RSA-AES256-GCM-SHA384")])
def test_tls12_ecdhe_aes_gcm(pki, cert, cipher):
    with MockACS(getattr(pki, cert + "_cert"), getattr(pki, cert + "_key")) as m:
        with connect(m.port, pki.bundle, tls_max=ssl.TLSVersion.TLSv1_2, ciphers=cipher) as s:
            assert s.version() == "TLSv1.2" and s.cipher()[0] == cipher
            s.sendall(post(m))
            assert read_response(s)[0] == 202
        assert m.requests[0].tls_version == "TLSv1.2" and m.requests[0].cipher == cipher


def test_tls11_refused(acs, pki):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.bundle)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("ALL:@SECLEVEL=0")      # let this client really offer TLS 1.0/1.1
    with socket.create_connection(("127.0.0.1", acs.port), timeout=5) as raw:
        with pytest.raises(ssl.SSLError, match="PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL"):
            ctx.wrap_socket(raw, server_hostname="localhost")
    deadline = time.monotonic() + 2
    while not acs.tls_errors and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "UNSUPPORTED_PROTOCOL" in acs.tls_errors[0] and acs.requests == []


@pytest.mark.parametrize("which,err", [("expired", "certificate has expired"), ("wrong_host", "Hostname mismatch")])
def test_pki_bad_certificates(pki, which, err):
    with MockACS(getattr(pki, which + "_cert"), getattr(pki, which + "_key")) as m:
        with pytest.raises(ssl.SSLCertVerificationError, match=err):
            connect(m.port, pki.bundle)


def test_keep_alive_has_no_nagle_stall(acs, pki):
    """Each response is one write on a TCP_NODELAY socket: sequential keep-alive round trips stay far
    below the ~40 ms a head/body split costs with Nagle + delayed ACK."""
    laps = []
    with connect(acs.port, pki.bundle) as s:
        for _ in range(25):
            req = post(acs)
            t0 = time.perf_counter()
            s.sendall(req)
            assert read_response(s)[0] == 202
            laps.append(time.perf_counter() - t0)
    assert len({r.conn for r in acs.requests}) == 1
    assert statistics.median(laps) < 0.02, laps


def test_connection_close_and_bad_request(acs, pki):
    with connect(acs.port, pki.bundle) as s:
        s.sendall(post(acs).replace(b"Accept: application/json", b"Connection: close"))
        st, h, _ = read_response(s)
        assert st == 202 and h["connection"] == "close"
        assert _read_until_error(s)[0] == b""
    with connect(acs.port, pki.bundle) as s:
        s.sendall(b"GARBAGE\r\n\r\n")
        st, h, body = read_response(s)
        assert st == 400 and h["connection"] == "close"
    st, _, _ = roundtrip(acs, pki.bundle, build("GET", "/nope", acs.public_host, b"", acs.access_key))
    assert st == 404


# ---- (e) what the SDK sends, recorded for the C client ------------------------------------------

SDK_POST_HEADERS = {"accept", "accept-encoding", "authorization", "connection", "content-length", "content-type",
                    "host", "user-agent", "x-ms-client-request-id", "x-ms-content-sha256", "x-ms-date"}
SDK_GET_HEADERS = SDK_POST_HEADERS - {"content-length"}


@pytest.fixture(scope="module")
def sdk_recording(pki):
    """Runs the SDK once with the RICH message; returns {"post", "polls", "output", "mock"}."""
    with MockACS(pki.server_cert, pki.server_key, retry_after=0) as m:
        out = run_sdk(m, pki.bundle, RICH)
        assert out["ok"], out
        reqs = m.requests
    post_ = [r for r in reqs if r.method == "POST"][0]
    polls = [r for r in reqs if r.method == "GET"]
    record = {
        "sdk": out["sdk"], "node": out["node"], "tls": [post_.tls_version, post_.cipher],
        "post": {"request_line": "POST %s HTTP/1.1" % post_.target, "headers": post_.header_list,
                 "body": post_.body.decode("utf-8")},
        "poll": {"request_line": "GET %s HTTP/1.1" % polls[0].target, "headers": polls[0].header_list},
        "result": out["result"],
    }
    path = os.path.join(ROOT, "build", "acs-sdk", "sdk-request.json")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(record, f, indent=2, ensure_ascii=False)
    except OSError:
        path = None
    print("\nSDK request recorded%s:\n%s" % (" in " + path if path else "", json.dumps(record, indent=2,
                                                                                        ensure_ascii=False)))
    return {"post": post_, "polls": polls, "output": out, "record": record}


@pytest.fixture
def sdk_request(sdk_recording):
    """The Recorded POST /emails:send the official SDK made (headers, header_list, body, json, ...)."""
    return sdk_recording["post"]


def test_sdk_request_headers(sdk_request):
    r = sdk_request
    assert r.method == "POST" and r.target == "/emails:send?api-version=2025-09-01"
    assert set(r.headers) == SDK_POST_HEADERS, sorted(r.headers)
    assert len(r.header_list) == len(SDK_POST_HEADERS)           # no header sent twice
    assert r.header("Content-Type") == "application/json" and r.header("Accept") == "application/json"
    assert r.header("Accept-Encoding") == "gzip,deflate" and r.header("Connection") == "keep-alive"
    assert r.header("Host") == "localhost:%d" % int(r.header("Host").rsplit(":", 1)[1])
    assert r.header("Content-Length") == str(len(r.body))
    assert r.header("User-Agent").startswith("azsdk-js-communication-email/%s core-rest-pipeline/" % SDK_VERSION)
    uuid.UUID(r.header("x-ms-client-request-id"))
    assert r.header("x-ms-content-sha256") == content_hash(r.body)
    assert abs(parse_rfc1123(r.header("x-ms-date")) - r.time) < 5
    assert r.header("Authorization").startswith("HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=")
    for absent in ("operation-id", "repeatability-request-id", "repeatability-first-sent", "date", "expect",
                   "x-ms-return-client-request-id", "transfer-encoding"):
        assert absent not in r.headers
    assert r.auth == "hmac" and r.tls_version == "TLSv1.3"


def test_sdk_request_body(sdk_request):
    r = sdk_request
    assert r.json == RICH
    # compact JSON, members in the order above, raw UTF-8 (no \u escapes but control characters)
    assert r.body == json.dumps(RICH, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert key_paths(r.json) == {
        "headers", "headers.ClientCorrelationId", "headers.x-priority", "senderAddress",
        "content", "content.subject", "content.plainText", "content.html",
        "recipients", "recipients.to", "recipients.to[].address", "recipients.to[].displayName",
        "recipients.cc", "recipients.cc[].address", "recipients.bcc", "recipients.bcc[].address",
        "recipients.bcc[].displayName", "attachments", "attachments[].name", "attachments[].contentType",
        "attachments[].contentInBase64", "attachments[].contentId", "replyTo", "replyTo[].address",
        "replyTo[].displayName", "userEngagementTrackingDisabled"}
    assert list(r.json) == ["headers", "senderAddress", "content", "recipients", "attachments", "replyTo",
                            "userEngagementTrackingDisabled"]


def test_sdk_poll_requests(sdk_recording):
    post_, polls = sdk_recording["post"], sdk_recording["polls"]
    assert len(polls) == 2
    for g in polls:
        assert set(g.headers) == SDK_GET_HEADERS, sorted(g.headers)
        assert g.target == "/emails/operations/%s?api-version=2025-09-01" % post_.operation_id
        assert g.header("Content-Type") == "application/json" and g.body == b""   # sent even without a body
        assert g.header("x-ms-content-sha256") == EMPTY_HASH and g.auth == "hmac"
        assert g.conn == post_.conn                  # same keep-alive connection
    assert sdk_recording["output"]["result"] == {"id": post_.operation_id, "status": "Succeeded"}
