"""A local stand-in for Azure Communication Services (ACS) Email, over TLS, standard library only.

It follows the public contract of ACS Email, cited in brackets below, and is checked against
Microsoft's own @azure/communication-email SDK by tests/integration/test_mock_acs.py:
  [send]    the REST operation "Email - Send" (https://learn.microsoft.com/rest/api/communication/email/email/send)
            and its Swagger, operation Email_Send: request headers, the 202 answer and its body
            (https://github.com/Azure/azure-rest-api-specs,
            specification/communication/data-plane/Email/stable/2023-03-31/CommunicationServicesEmail.json
            and stable/2025-09-01/CommunicationServicesEmail.json)
  [schema]  the same Swagger, definition EmailMessage
  [errors]  the same Swagger, the x-ms-error-code header and ErrorResponse
            (specification/common-types/data-plane/v1/types.json)
  [hmac]    "Authenticate requests to Azure Communication Services", HMAC authentication
            (https://learn.microsoft.com/rest/api/communication/authentication), and the tutorial
            "Sign an HTTP request" (https://learn.microsoft.com/azure/communication-services/tutorials/hmac-header-tutorial):
            connection string, content hash, x-ms-date, string-to-sign, signature
  [skew]    the clock skew ACS tolerates is not documented; App Configuration's HMAC scheme, its
            sibling, allows 15 minutes (https://learn.microsoft.com/azure/azure-app-configuration/rest-api-authentication-hmac)

Quick start
-----------
    from mock_acs import MockACS, sign_headers
    from pki import make_pki
    pki = make_pki(tmp_path / "pki")
    with MockACS(pki.server_cert, pki.server_key) as acs:     # 127.0.0.1, free port, thread
        acs.endpoint            # "https://localhost:<port>"
        acs.connection_string   # "endpoint=https://localhost:<port>/;accesskey=<base64 key>"
        acs.script("429:2", "500", "ok")   # next requests: 429 Retry-After 2, 500, then normal
        ... run the client ...
        acs.requests            # [Recorded, ...] every request, in arrival order
        acs.logical_sends       # distinct accepted operation ids
        acs.sends               # [Recorded] of the POSTs that created an operation

Constructor: MockACS(certfile, keyfile, *, access_key=<random 64 bytes, base64>, tokens=(),
    host="127.0.0.1", port=0, public_host=None, retry_after=1, poll_statuses=("Running",
    "Succeeded"), failed_error=None, max_skew=900, api_versions=("2023-03-31", "2025-09-01"),
    reject_unknown_keys=False, conflict_status=None, tls_min=TLSv1_2, tls_max=None, ciphers=None,
    idle_timeout=30, ssl_context=None)
  * access_key: the base64 access key in the connection string; HMAC key = its decoded bytes.
  * tokens: bearer tokens that are accepted as `Authorization: Bearer <token>` (none by default).
  * public_host: host[:port] used in `endpoint`/`connection_string` (default "localhost:<port>").
    Operation-Location is built from the Host header as received, like the service does.
  * retry_after: integer seconds sent as `retry-after` on the 202 and on non-terminal GETs; None
    omits the header.
  * poll_statuses: what successive GETs of one operation return; the last entry repeats.
    The POST's 202 body always says "Running" [send]. failed_error: the `error` of a "Failed"
    status (default {"code": "EmailDropped", ...}).
  * max_skew: seconds x-ms-date may differ from the mock's clock (ACS's tolerance is not
    documented [skew]; 15 min is the sibling App Configuration value).
  * reject_unknown_keys: the sources do not say ACS rejects unknown JSON members, so by default
    they are accepted and listed in Recorded.unknown_keys; True turns them into 400 BadRequest.
  * conflict_status: what a reused Operation-Id with a *different* body gets. None (default):
    the same idempotent 202 as an identical retry (Recorded.conflict=True); e.g. 409: that status.
  * tls_min/tls_max/ciphers: ssl.TLSVersion bounds and an OpenSSL cipher string for TLS 1.2
    (defaults: TLS 1.2 and 1.3, OpenSSL's default suites, which include ECDHE+AES-GCM).

Behaviour of the normal path ("ok")
-----------------------------------
  Auth [hmac]: HMAC-SHA256 (x-ms-content-sha256 must equal base64(SHA-256(body bytes)); x-ms-date in
  the exact form "Tue, 05 Mar 2024 09:04:05 GMT", within max_skew; string-to-sign
  "METHOD\\n<request-target as received>\\n<x-ms-date>;<Host as received>;<content hash>";
  Authorization exactly "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=
  <base64>") or Bearer. Failure -> 401 {"error":{"code":"Denied","message":...}}.
  POST /emails:send?api-version=V (V in api_versions) -> 202 {"id","status":"Running","error":null}
  + Operation-Location https://<Host>/emails/operations/<id>?api-version=V + retry-after. The body
  is validated as the EmailMessage schema [schema] (400 BadRequest "Request body validation error.
  See property '<path>'", target=<path>), at most 50 To+Cc+Bcc recipients, 10 MB body (413).
  Operation-Id (a UUID, else 400) becomes the operation id; absent -> a fresh uuid4. A second POST
  with a known Operation-Id creates nothing: 202 again with that operation's current state.
  repeatability-* headers are recorded and ignored (not part of the GA API versions [send]).
  GET /emails/operations/<id>?api-version=V -> 200 {"id","status"[,"error"]}; unknown id -> 404.
  Other paths 404, other methods 405; every response has api-supported-versions, x-ms-request-id,
  X-Azure-Ref, Date, Content-Type application/json; charset=utf-8 and Content-Length; error
  responses also x-ms-error-code [errors].

Scripted faults: acs.script(*behaviours) appends to a FIFO; each arriving request (after its
body has been read) takes the first behaviour whose "on" matches it; with none left it gets "ok".
A behaviour is a string or a dict:
  "ok" | "202" | "200"        normal processing (auth, validation, 202/200...)
  "<status>[:<n>][:<Code>]"    an ACS error answer with that status: numeric part -> Retry-After n,
                               other part -> error.code (default per status, e.g. 400 BadRequest,
                               401 Denied, 403 Forbidden, 404 DomainNotLinked on a send ...).
                               e.g. "429:2", "503:1", "400:DomainNotLinked", "401", "500"
  "reset[:<n>]"                send the first n bytes (default 20) of a 202 head, then RST
                               (SO_LINGER 0, no TLS close_notify); "reset:0" sends nothing
  "stall[:<s>]"                read the request, answer nothing for s seconds (default 30, or
                               until stop()), then close
  "delay:<s>"                  normal processing, answered s seconds late
  "malformed"                  write a broken response head, then close
  "close"                      close (TLS close_notify + FIN) without any answer
dict form: {"kind": "ok"|"error"|"reset"|"stall"|"delay"|"malformed"|"close"|"raw", "status": int,
  "code": str, "message": str, "retry_after": int|str, "headers": {..}, "body": dict|bytes,
  "bytes": int (reset), "seconds": float, "data": bytes (raw), "on": "send"|"status"|"any",
  "poll": [statuses] (ok on a send: this operation's poll_statuses), "error": {..} (its Failed error),
  "process": True (reset/stall/close: first process the request normally, so a send creates its
  operation and Recorded.status is the status the lost answer would have had; then misbehave)}
  e.g. acs.script({"status": 503, "retry_after": 1, "on": "send"}, {"kind": "ok", "poll": ["Failed"]})
A scripted answer replaces the normal one whether or not the request's auth was valid (the
Recorded still carries the auth verdict).

Recorded (one per request): method, target, path, query (dict), headers (lower-case name -> value),
header_list ([(name, value)] as received), body (bytes), json (parsed or None), auth ("hmac",
"bearer" or "denied: <reason>"), auth_ok, status (int, or None when no answer was sent), behaviour
(the dict applied), operation_id, duplicate, conflict, unknown_keys, error_code, tls_version,
cipher, conn (connection number), time. acs.wait_for(n, timeout) waits until n requests arrived;
acs.tls_errors lists failed handshakes (a client that refused the certificate, TLS < 1.2, ...);
acs.set_operation(id, statuses, error) presets or overrides an operation's GET answers.
Note: Python's ssl module reports the "reset" RST as a plain EOF; the kernel's TCP state (CLOSE,
not CLOSE_WAIT) or a C client's recv() errno (ECONNRESET) tells it apart from "close".

Helpers: content_hash(body), rfc1123(t), string_to_sign(...), signature(...), sign_headers(method,
target, host, body, access_key, date=None) -> the three auth headers, parse_connection_string().

HTTP: HTTP/1.1 keep-alive, Content-Length or chunked request bodies, `Expect: 100-continue`
honoured, every response (head and body) written with ONE sendall, TCP_NODELAY on every accepted
socket. Not http.server: it writes header lines one by one (Nagle + delayed ACK = ~40 ms stalls).
"""
import base64
import binascii
import calendar
import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import parse_qsl, urlsplit

GA_API_VERSIONS = ("2023-03-31", "2025-09-01")
SUPPORTED_HEADER = "2021-10-01-preview, 2023-01-15-preview, 2023-03-31, 2024-07-01-preview, 2025-09-01"
SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"
EMPTY_HASH = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
MAX_BODY = 10 * 1024 * 1024          # "Total email request size (including attachments): 10 MB"
MAX_RECIPIENTS = 50
MAX_HEAD = 64 * 1024
TERMINAL = ("Succeeded", "Failed", "Canceled")

_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
            413: "Payload Too Large", 415: "Unsupported Media Type", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout"}
_DEFAULT_ERRORS = {
    400: ("BadRequest", "Bad request."),
    401: ("Denied", "Denied by the resource provider."),
    403: ("Forbidden", "The principal does not have the required permissions."),
    404: ("NotFound", "The requested resource was not found."),
    408: ("RequestTimeout", "The request timed out."),
    409: ("Conflict", "The request conflicts with an existing operation."),
    413: ("RequestEntityTooLarge", "The request size exceeds the limit of 10 MB."),
    429: ("TooManyRequests", "Too many requests. Retry after the time given in Retry-After."),
    500: ("InternalServerError", "An internal error occurred."),
    502: ("BadGateway", "Bad gateway."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "Gateway timeout."),
}
_KNOWN_MESSAGES = {
    "DomainNotLinked": "The specified sender domain has not been linked.",
    "InvalidSenderUserName": "Invalid email sender username.",
    "InvalidEmailAddress": "The email address is not valid.",
    "Denied": "Denied by the resource provider.",
    "EmailDropped": "Email was dropped after several attempts to deliver.",
    "EmailDroppedAllRecipientsSuppressed": "Message dropped because all recipients were suppressed.",
}
_DATE_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|"
                      r"Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$")
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()
_AUTH_RE = re.compile(r"^HMAC-SHA256 SignedHeaders=([^&]*)&Signature=([A-Za-z0-9+/]+={0,2})$")
_ADDR_RE = re.compile(r"^[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+\.[^@\s<>\"(),;:]+$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


# ---- signing [hmac] -----------------------------------------------------------------------------

def content_hash(body):
    """base64(SHA-256(body bytes)) [hmac, content hash]."""
    return base64.b64encode(hashlib.sha256(body or b"").digest()).decode()


def rfc1123(t=None):
    """x-ms-date value [hmac]: 'Tue, 05 Mar 2024 09:04:05 GMT' (English names, 2-digit day)."""
    tm = time.gmtime(time.time() if t is None else t)
    return "%s, %02d %s %04d %02d:%02d:%02d GMT" % (_DAYS[tm.tm_wday], tm.tm_mday, _MONTHS[tm.tm_mon - 1],
                                                   tm.tm_year, tm.tm_hour, tm.tm_min, tm.tm_sec)


def parse_rfc1123(value):
    """Epoch seconds of a strictly formatted x-ms-date, or None."""
    m = _DATE_RE.match(value or "")
    if not m:
        return None
    try:
        t = calendar.timegm((int(m.group(4)), _MONTHS.index(m.group(3)) + 1, int(m.group(2)),
                             int(m.group(5)), int(m.group(6)), int(m.group(7)), 0, 0, 0))
        tm = time.gmtime(t)
    except (ValueError, OverflowError):
        return None
    if (tm.tm_mday != int(m.group(2)) or tm.tm_hour != int(m.group(5)) or _DAYS[tm.tm_wday] != m.group(1)):
        return None  # 31 Feb, 25:00 or a weekday that does not match the date
    return t


def string_to_sign(method, target, date, host, chash):
    """[hmac, string-to-sign] VERB \\n path?query \\n x-ms-date;host;content-hash (LF only, no trailing LF)."""
    return "%s\n%s\n%s;%s;%s" % (method.upper(), target, date, host, chash)


def signature(access_key, sts):
    """[hmac, signature] base64(HMAC-SHA256(base64decode(access_key), sts))."""
    key = base64.b64decode(access_key, validate=True)
    return base64.b64encode(hmac.new(key, sts.encode("utf-8"), hashlib.sha256).digest()).decode()


def sign_headers(method, target, host, body, access_key, date=None):
    """The three headers an ACS HMAC client adds: x-ms-date, x-ms-content-sha256, Authorization."""
    date = date or rfc1123()
    chash = content_hash(body)
    sig = signature(access_key, string_to_sign(method, target, date, host, chash))
    return {"x-ms-date": date, "x-ms-content-sha256": chash,
            "Authorization": "HMAC-SHA256 SignedHeaders=%s&Signature=%s" % (SIGNED_HEADERS, sig)}


def parse_connection_string(cs):
    """[hmac, connection string] -> (endpoint without trailing '/', access key)."""
    parts = {}
    for el in cs.split(";"):
        if el:
            k, _, v = el.partition("=")
            parts[k.strip().lower()] = v.strip()
    return parts["endpoint"].rstrip("/"), parts["accesskey"]


# ---- request records and behaviours ------------------------------------------------------------

@dataclass
class Recorded:
    method: str
    target: str
    path: str
    query: dict
    headers: dict
    header_list: list
    body: bytes
    json: object = None
    auth: str = ""
    auth_ok: bool = False
    status: object = None
    behaviour: dict = None
    operation_id: str = None
    duplicate: bool = False
    conflict: bool = False
    unknown_keys: list = field(default_factory=list)
    error_code: str = None
    tls_version: str = None
    cipher: str = None
    conn: int = 0
    time: float = 0.0

    def header(self, name):
        return self.headers.get(name.lower())


class _ReqError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _normalize(b):
    """String or dict -> behaviour dict with a 'kind'."""
    if isinstance(b, dict):
        d = dict(b)
        if "kind" not in d:
            d["kind"] = "error" if d.get("status") not in (None, 200, 202) else "ok"
        if d["kind"] == "delay":
            d["kind"], d["delay"] = "ok", float(d.get("seconds", d.get("delay", 1.0)))
        if d["kind"] not in ("ok", "error", "reset", "stall", "malformed", "close", "raw"):
            raise ValueError("unknown behaviour kind: %r" % (b,))
        d.setdefault("on", "any")
        if d["on"] not in ("any", "send", "status"):
            raise ValueError("behaviour 'on' must be any, send or status: %r" % (b,))
        return d
    if not isinstance(b, str):
        raise TypeError("behaviour must be a str or a dict: %r" % (b,))
    head, *rest = b.split(":")
    head = head.strip().lower()
    if head in ("ok", "202", "200"):
        return {"kind": "ok", "on": "any"}
    if head == "reset":
        return {"kind": "reset", "bytes": int(rest[0]) if rest else 20, "on": "any"}
    if head == "stall":
        return {"kind": "stall", "seconds": float(rest[0]) if rest else 30.0, "on": "any"}
    if head == "delay":
        return {"kind": "ok", "delay": float(rest[0]), "on": "any"}
    if head in ("malformed", "close"):
        return {"kind": head, "on": "any"}
    if head.isdigit():
        d = {"kind": "error", "status": int(head), "on": "any"}
        for part in rest:
            if part.strip().isdigit():
                d["retry_after"] = int(part)
            elif part:
                d["code"] = part.strip()
        return d
    raise ValueError("unknown behaviour %r" % (b,))


# ---- the server -----------------------------------------------------------------------------------

class MockACS:
    def __init__(self, certfile=None, keyfile=None, *, access_key=None, tokens=(), host="127.0.0.1",
                 port=0, public_host=None, retry_after=1, poll_statuses=("Running", "Succeeded"),
                 failed_error=None, max_skew=900, api_versions=GA_API_VERSIONS, reject_unknown_keys=False,
                 conflict_status=None, tls_min=ssl.TLSVersion.TLSv1_2, tls_max=None, ciphers=None,
                 idle_timeout=30.0, ssl_context=None):
        self.access_key = access_key or base64.b64encode(os.urandom(64)).decode()
        self.tokens = set(tokens)
        self.retry_after = retry_after
        self.poll_statuses = tuple(poll_statuses)
        self.failed_error = failed_error or {"code": "EmailDropped", "message": _KNOWN_MESSAGES["EmailDropped"]}
        self.max_skew = max_skew
        self.api_versions = tuple(api_versions)
        self.reject_unknown_keys = reject_unknown_keys
        self.conflict_status = conflict_status
        self.idle_timeout = idle_timeout
        if ssl_context is None:
            ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ssl_context.minimum_version = tls_min
            if tls_max is not None:
                ssl_context.maximum_version = tls_max
            if ciphers:
                ssl_context.set_ciphers(ciphers)
            ssl_context.load_cert_chain(certfile, keyfile)
        self.ctx = ssl_context
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._script = []
        self._requests = []
        self._ops = {}          # id -> {"polls": [...], "error": {...}, "n": int, "body_hash": str, "api": str}
        self._conns = set()
        self._threads = []
        self._conn_no = 0
        self.tls_errors = []    # handshakes that failed (e.g. the client rejected the certificate)
        self._stop = threading.Event()
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind((host, port))
        self._lsock.listen(64)
        self.host = host
        self.port = self._lsock.getsockname()[1]
        self.public_host = public_host or "localhost:%d" % self.port
        self._accept_thread = None

    # -- lifecycle
    def start(self):
        self._accept_thread = threading.Thread(target=self._accept_loop, name="mock-acs-accept", daemon=True)
        self._accept_thread.start()
        return self

    def stop(self):
        self._stop.set()
        try:
            self._lsock.shutdown(socket.SHUT_RDWR)   # wakes the blocked accept() at once (Linux)
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
            self._cond.notify_all()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._accept_thread:
            self._accept_thread.join(5)
        self._lsock.close()
        for t in list(self._threads):
            t.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- public API
    @property
    def endpoint(self):
        return "https://" + self.public_host

    @property
    def connection_string(self):
        return "endpoint=%s/;accesskey=%s" % (self.endpoint, self.access_key)

    def script(self, *behaviours):
        """Queue behaviours (strings or dicts, see the module docstring); returns self."""
        items = []
        for b in behaviours:
            if isinstance(b, (list, tuple)):
                items.extend(_normalize(x) for x in b)
            else:
                items.append(_normalize(b))
        with self._lock:
            self._script.extend(items)
        return self

    def pending_script(self):
        with self._lock:
            return [dict(b) for b in self._script]

    def set_operation(self, op_id, statuses, error=None):
        """Create or override an operation's remaining GET statuses (and its Failed error)."""
        with self._lock:
            op = self._ops.setdefault(op_id, {"n": 0, "body_hash": None, "api": self.api_versions[-1]})
            op["polls"] = list(statuses)
            op["n"] = 0
            op["error"] = error or self.failed_error

    @property
    def requests(self):
        with self._lock:
            return list(self._requests)

    @property
    def sends(self):
        """POSTs that created an operation (one per logical send)."""
        with self._lock:
            return [r for r in self._requests if r.status == 202 and r.method == "POST" and not r.duplicate]

    @property
    def logical_sends(self):
        return len(self.sends)

    @property
    def operations(self):
        with self._lock:
            return {k: dict(v) for k, v in self._ops.items()}

    def clear(self):
        with self._lock:
            self._requests.clear()
            self._script.clear()

    def wait_for(self, n, timeout=10.0, pred=None):
        """Blocks until at least n requests (matching pred, if given) were recorded; returns them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [r for r in self._requests if pred is None or pred(r)]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    raise TimeoutError("mock ACS: %d of %d requests after %.1fs" % (len(got), n, timeout))
                self._cond.wait(left)

    # -- accept / connection handling
    def _accept_loop(self):
        self._lsock.settimeout(1.0)
        while not self._stop.is_set():
            try:
                raw, _ = self._lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            if self._stop.is_set():
                raw.close()
                break
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conn_no += 1
                n = self._conn_no
                self._conns.add(raw)
            t = threading.Thread(target=self._serve, args=(raw, n), name="mock-acs-conn-%d" % n, daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)
            t.start()

    def _serve(self, raw, n):
        s = None
        try:
            raw.settimeout(10)
            s = self.ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
            with self._lock:
                self._conns.discard(raw)
                self._conns.add(s)
            try:
                s.do_handshake()
            except (OSError, ssl.SSLError) as e:
                with self._lock:
                    self.tls_errors.append("conn %d: %s" % (n, e))
                    self._cond.notify_all()
                return
            tls = (s.version(), (s.cipher() or ("",))[0])
            s.settimeout(self.idle_timeout)
            buf = bytearray()
            while not self._stop.is_set():
                try:
                    req = self._read_request(s, buf)
                except _ReqError as e:
                    s.sendall(self._error_response(e.status, "BadRequest", str(e), close=True))
                    return
                if req is None:
                    return
                keep = self._handle(s, req, n, tls)
                if not keep:
                    return
        except socket.timeout:
            # idle keep-alive connection: end it the way real front ends do (close_notify), which
            # also keeps the TLS session resumable (OpenSSL drops sessions of unclean shutdowns)
            if s is not None:
                self._close_notify(s)
            return
        except (OSError, ssl.SSLError, ValueError):
            return
        finally:
            target = s if s is not None else raw
            with self._lock:
                self._conns.discard(target)
                self._conns.discard(raw)
            try:
                target.close()
            except OSError:
                pass

    def _read_request(self, s, buf):
        """Returns (method, target, version, header_list, body) or None on a clean EOF."""
        while b"\r\n\r\n" not in buf:
            if len(buf) > MAX_HEAD:
                raise _ReqError(400, "request head too large")
            chunk = s.recv(65536)
            if not chunk:
                if buf:
                    raise _ReqError(400, "truncated request head")
                return None
            buf += chunk
        end = buf.index(b"\r\n\r\n")
        head = bytes(buf[:end]).decode("latin-1")
        del buf[:end + 4]
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _ReqError(400, "malformed request line")
        method, target, version = parts
        hl = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise _ReqError(400, "malformed header line")
            hl.append((name, value.strip(" \t")))
        lower = {}
        for k, v in hl:
            lower[k.lower()] = lower[k.lower()] + ", " + v if k.lower() in lower else v
        te = lower.get("transfer-encoding")
        cl = lower.get("content-length")
        if te and cl:
            raise _ReqError(400, "both Transfer-Encoding and Content-Length")
        if lower.get("expect", "").lower() == "100-continue":
            s.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if te:
            if te.lower() != "chunked":
                raise _ReqError(400, "unsupported Transfer-Encoding")
            body = self._read_chunked(s, buf)
        elif cl is not None:
            if not cl.isdigit():
                raise _ReqError(400, "bad Content-Length")
            length = int(cl)
            if length > MAX_BODY + 1024 * 1024:
                raise _ReqError(413, "request too large")
            body = self._read_exact(s, buf, length)
        else:
            body = b""
        return method, target, version, hl, body

    def _fill(self, s, buf):
        chunk = s.recv(65536)
        if not chunk:
            raise _ReqError(400, "truncated request body")
        buf += chunk

    def _read_exact(self, s, buf, n):
        while len(buf) < n:
            self._fill(s, buf)
        body = bytes(buf[:n])
        del buf[:n]
        return body

    def _read_line(self, s, buf):
        while b"\r\n" not in buf:
            if len(buf) > 8192:
                raise _ReqError(400, "chunk line too long")
            self._fill(s, buf)
        i = buf.index(b"\r\n")
        line = bytes(buf[:i])
        del buf[:i + 2]
        return line

    def _read_chunked(self, s, buf):
        out = bytearray()
        while True:
            size_s = self._read_line(s, buf).split(b";")[0].strip()
            try:
                size = int(size_s, 16)
            except ValueError:
                raise _ReqError(400, "bad chunk size")
            if size == 0:
                while self._read_line(s, buf):   # trailers up to the empty line
                    pass
                return bytes(out)
            if len(out) + size > MAX_BODY + 1024 * 1024:
                raise _ReqError(413, "request too large")
            out += self._read_exact(s, buf, size)
            if self._read_exact(s, buf, 2) != b"\r\n":
                raise _ReqError(400, "bad chunk terminator")

    # -- one request
    def _take_behaviour(self, kind):
        with self._lock:
            for i, b in enumerate(self._script):
                if b["on"] in ("any", kind):
                    return self._script.pop(i)
        return {"kind": "ok", "on": "any"}

    def _handle(self, s, req, conn_no, tls):
        method, target, version, hl, body = req
        headers = {}
        for k, v in hl:
            headers[k.lower()] = headers[k.lower()] + ", " + v if k.lower() in headers else v
        sp = urlsplit(target)
        rec = Recorded(method=method, target=target, path=sp.path, query=dict(parse_qsl(sp.query, True)),
                       headers=headers, header_list=hl, body=body, tls_version=tls[0], cipher=tls[1],
                       conn=conn_no, time=time.time())
        try:
            rec.json = json.loads(body) if body else None
        except ValueError:
            rec.json = None
        rec.auth_ok, rec.auth = self._check_auth(method, target, headers, body)
        kind = "send" if (method == "POST" and sp.path == "/emails:send") else (
            "status" if sp.path.startswith("/emails/operations/") else "other")
        b = self._take_behaviour(kind)
        rec.behaviour = b
        close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
        self._record(rec)
        k = b["kind"]
        if b.get("process") and k in ("reset", "stall", "close"):
            # the service did the work (an operation exists), then the answer is lost
            done = self._process(rec, kind, b, close)
            with self._lock:
                rec.status = int(done.split(b" ", 2)[1])
                self._cond.notify_all()
        if k == "ok":
            resp = self._process(rec, kind, b, close)
            if b.get("delay"):
                if self._stop.wait(b["delay"]):
                    return False
        elif k == "error":
            status = int(b["status"])
            code, msg = self._error_text(status, b, kind)
            extra = dict(b.get("headers") or {})
            if b.get("retry_after") is not None:
                extra["Retry-After"] = str(b["retry_after"])
            resp = self._error_response(status, code, msg, close=close, extra=extra, body=b.get("body"))
            rec.error_code = code
        elif k == "reset":
            if not b.get("process"):
                rec.status = None
            head = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json; charset=utf-8\r\n"
            part = head[:b.get("bytes", 20)]
            if part:
                s.sendall(part)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False  # _serve closes the socket without close_notify: RST
        elif k == "stall":
            self._stop.wait(b.get("seconds", 30.0))
            return False
        elif k == "malformed":
            s.sendall(b"HTTP/1.1 2O2 Acc\x00epted\r\nContent-Length: banana\r\nOperation-Location\r\n\r\n{\"id\":")
            self._close_notify(s)
            return False
        elif k == "close":
            self._close_notify(s)
            return False
        elif k == "raw":
            s.sendall(b["data"])
            if b.get("close", True):
                self._close_notify(s)
                return False
            return True
        else:
            raise ValueError("unknown behaviour kind %r" % k)
        status = int(resp.split(b" ", 2)[1])
        with self._lock:
            rec.status = status
            self._cond.notify_all()
        s.sendall(resp)   # head and body in one write
        return not close and b"\r\nConnection: close\r\n" not in resp.split(b"\r\n\r\n", 1)[0] + b"\r\n"

    def _record(self, rec):
        with self._lock:
            self._requests.append(rec)
            self._cond.notify_all()

    @staticmethod
    def _close_notify(s):
        """Sends close_notify without waiting for the peer's (unwrap() on a blocking socket would)."""
        try:
            s.setblocking(False)
            s.unwrap()
        except (OSError, ValueError):   # SSLWantReadError: the peer's close_notify has not come
            pass

    def _error_text(self, status, b, kind):
        code = b.get("code")
        if code is None:
            code = "DomainNotLinked" if (status == 404 and kind == "send") else \
                _DEFAULT_ERRORS.get(status, ("Error%d" % status, ""))[0]
        msg = b.get("message") or _KNOWN_MESSAGES.get(code) or _DEFAULT_ERRORS.get(status, ("", "Error."))[1]
        return code, msg

    # -- auth [hmac]
    def _check_auth(self, method, target, headers, body):
        auth = headers.get("authorization")
        if auth is None:
            return False, "denied: no Authorization header"
        if auth.startswith("Bearer "):
            if auth[7:] in self.tokens:
                return True, "bearer"
            return False, "denied: unknown bearer token"
        chash = headers.get("x-ms-content-sha256")
        if chash is None:
            return False, "denied: no x-ms-content-sha256"
        if not hmac.compare_digest(chash.encode(), content_hash(body).encode()):
            return False, "denied: 'x-ms-content-sha256' differs from generated content hash"
        date = headers.get("x-ms-date")
        if date is None:
            return False, "denied: no x-ms-date"
        t = parse_rfc1123(date)
        if t is None:
            return False, "denied: x-ms-date is not an RFC 1123 date"
        if abs(time.time() - t) > self.max_skew:
            return False, "denied: x-ms-date is more than %d s off" % self.max_skew
        host = headers.get("host")
        if host is None:
            return False, "denied: no Host header"
        m = _AUTH_RE.match(auth)
        if not m:
            return False, "denied: Authorization is not 'HMAC-SHA256 SignedHeaders=...&Signature=...'"
        if m.group(1) != SIGNED_HEADERS:
            return False, "denied: SignedHeaders is not %s" % SIGNED_HEADERS
        want = signature(self.access_key, string_to_sign(method, target, date, host, chash))
        if not hmac.compare_digest(m.group(2).encode(), want.encode()):
            return False, "denied: signature mismatch"
        return True, "hmac"

    # -- normal processing
    def _process(self, rec, kind, b, close):
        if not rec.auth_ok:
            rec.error_code = "Denied"
            msg = _KNOWN_MESSAGES["Denied"]
            if "content-sha256" in rec.auth:
                msg = "'x-ms-content-sha256' differs from generated content hash"
            return self._error_response(401, "Denied", msg, close=close)
        api = rec.query.get("api-version")
        if kind == "send":
            if api not in self.api_versions:
                return self._fail(rec, 400, "UnsupportedApiVersion",
                                  "The api-version '%s' is not supported. Supported: %s" % (
                                      api, ", ".join(self.api_versions)), close)
            return self._process_send(rec, api, b, close)
        if kind == "status":
            if rec.method != "GET":
                return self._fail(rec, 405, "MethodNotAllowed", "Method not allowed.", close)
            if api not in self.api_versions:
                return self._fail(rec, 400, "UnsupportedApiVersion",
                                  "The api-version '%s' is not supported." % api, close)
            op_id = rec.path[len("/emails/operations/"):]
            rec.operation_id = op_id
            with self._lock:
                op = self._ops.get(op_id)
                if op is None:
                    found = None
                else:
                    i = min(op["n"], len(op["polls"]) - 1)
                    op["n"] += 1
                    found = (op["polls"][i], op["error"])
            if found is None:
                return self._fail(rec, 404, "NotFound", "Operation '%s' was not found." % op_id, close)
            st, err = found
            body = {"id": op_id, "status": st}
            if st in ("Failed", "Canceled"):
                body["error"] = err
            extra = {}
            if st not in TERMINAL and self.retry_after is not None:
                extra["retry-after"] = str(self.retry_after)
            return self._response(200, body, close=close, extra=extra)
        if rec.path == "/emails:send":
            return self._fail(rec, 405, "MethodNotAllowed", "Method not allowed.", close)
        return self._fail(rec, 404, "NotFound", "Resource not found.", close)

    def _fail(self, rec, status, code, msg, close, target=None):
        rec.error_code = code
        return self._error_response(status, code, msg, close=close, target=target)

    def _process_send(self, rec, api, b, close):
        ctype = rec.headers.get("content-type", "")
        if ctype.split(";")[0].strip().lower() != "application/json":
            return self._fail(rec, 415, "UnsupportedMediaType", "Content-Type must be application/json.", close)
        if len(rec.body) > MAX_BODY:
            return self._fail(rec, 413, "RequestEntityTooLarge", _DEFAULT_ERRORS[413][1], close)
        op_hdr = rec.headers.get("operation-id")
        if op_hdr is not None and not _UUID_RE.match(op_hdr):
            return self._fail(rec, 400, "BadRequest", "The Operation-Id header must be a GUID.", close,
                              target="Operation-Id")
        if rec.json is None:
            return self._fail(rec, 400, "BadRequest", "The request body is not valid JSON.", close)
        err, code, unknown = validate_message(rec.json, api)
        rec.unknown_keys = unknown
        if err is None and unknown and self.reject_unknown_keys:
            err, code = unknown[0], "BadRequest"
        if err is not None:
            if code == "BadRequest":
                return self._fail(rec, 400, code, "Request body validation error. See property '%s'" % err,
                                  close, target=err)
            return self._fail(rec, 400, code, "%s (property '%s')" % (_KNOWN_MESSAGES.get(code, code), err),
                              close, target=err)
        body_hash = content_hash(rec.body)
        with self._lock:
            op_id = op_hdr if op_hdr else str(uuid.uuid4())
            op = self._ops.get(op_id)
            if op is not None and op.get("body_hash") is None:   # pre-set with set_operation()
                op["body_hash"], op["api"] = body_hash, api
                st = "Running"
                conflict = False
            elif op is not None:
                rec.duplicate = True
                rec.conflict = op["body_hash"] != body_hash
                if rec.conflict and self.conflict_status:
                    conflict = True
                else:
                    conflict = False
                    i = max(0, min(op["n"], len(op["polls"])) - 1)
                    st = "Running" if op["n"] == 0 else op["polls"][i]
            else:
                conflict = False
                polls = list(b.get("poll") or self.poll_statuses)
                self._ops[op_id] = {"polls": polls, "n": 0, "body_hash": body_hash, "api": api,
                                    "error": b.get("error") or self.failed_error}
                st = "Running"
        rec.operation_id = op_id
        if conflict:
            return self._fail(rec, self.conflict_status, "Conflict",
                              "Operation-Id '%s' was already used with a different request." % op_id, close)
        host = rec.headers.get("host", self.public_host)
        extra = {"Operation-Location": "https://%s/emails/operations/%s?api-version=%s" % (host, op_id, api)}
        if st not in TERMINAL and self.retry_after is not None:
            extra["retry-after"] = str(self.retry_after)
        return self._response(202, {"id": op_id, "status": st, "error": None}, close=close, extra=extra)

    # -- response building: one buffer, one sendall
    def _response(self, status, body, close=False, extra=None, raw_ctype=None):
        if isinstance(body, (bytes, bytearray)):
            payload = bytes(body)
            ctype = raw_ctype or "text/plain"
        else:
            payload = json.dumps(body, separators=(",", ":")).encode()
            ctype = "application/json; charset=utf-8"
        h = ["HTTP/1.1 %d %s" % (status, _REASONS.get(status, "Status")),
             "Date: " + formatdate(usegmt=True),
             "Content-Type: " + ctype,
             "Content-Length: %d" % len(payload),
             "api-supported-versions: " + SUPPORTED_HEADER,
             "x-ms-request-id: " + str(uuid.uuid4()),
             "X-Azure-Ref: 0mock" + uuid.uuid4().hex[:24]]
        for k, v in (extra or {}).items():
            h.append("%s: %s" % (k, v))
        if close:
            h.append("Connection: close")
        return ("\r\n".join(h) + "\r\n\r\n").encode("latin-1") + payload

    def _error_response(self, status, code, message, close=False, extra=None, body=None, target=None):
        extra = dict(extra or {})
        extra.setdefault("x-ms-error-code", code)
        if body is None:
            body = {"error": {"code": code, "message": message, "target": target, "details": None,
                              "innererror": None}}
        return self._response(status, body, close=close, extra=extra, raw_ctype="text/html")


# ---- EmailMessage schema [schema] -----------------------------------------------------------------

_TOP = {"senderAddress", "content", "recipients", "headers", "attachments", "replyTo",
        "userEngagementTrackingDisabled"}
_CONTENT = {"subject", "plainText", "html"}
_RECIPIENTS = {"to", "cc", "bcc"}
_ADDRESS = {"address", "displayName"}
_ATTACH = {"name", "contentType", "contentInBase64"}
_ATTACH_CID_VERSIONS = ("2024-07-01-preview", "2025-09-01")


def validate_message(msg, api="2025-09-01"):
    """Returns (error property path or None, error code, unknown member paths)."""
    unknown = []

    def extra(obj, allowed, prefix):
        unknown.extend(prefix + k for k in obj if k not in allowed)

    if not isinstance(msg, dict):
        return "body", "BadRequest", unknown
    extra(msg, _TOP, "")
    s = msg.get("senderAddress")
    if not isinstance(s, str) or not _ADDR_RE.match(s):
        return "senderAddress", "BadRequest", unknown
    c = msg.get("content")
    if not isinstance(c, dict):
        return "content", "BadRequest", unknown
    extra(c, _CONTENT, "content.")
    if not isinstance(c.get("subject"), str) or not c["subject"].strip():
        return "content.subject", "BadRequest", unknown
    for k in ("plainText", "html"):
        if k in c and c[k] is not None and not isinstance(c[k], str):
            return "content." + k, "BadRequest", unknown
    if not any(isinstance(c.get(k), str) and c[k].strip() for k in ("plainText", "html")):
        return "content", "BadRequest", unknown
    r = msg.get("recipients")
    if not isinstance(r, dict):
        return "recipients", "BadRequest", unknown
    extra(r, _RECIPIENTS, "recipients.")
    if not isinstance(r.get("to"), list) or not r["to"]:
        return "recipients.to", "BadRequest", unknown
    total = 0
    for key in ("to", "cc", "bcc"):
        if key not in r or (key != "to" and r[key] is None):
            continue
        lst = r[key]
        if not isinstance(lst, list):
            return "recipients." + key, "BadRequest", unknown
        for i, a in enumerate(lst):
            e = _check_address(a, "recipients.%s[%d]" % (key, i), extra)
            if e:
                return e + (unknown,)
        total += len(lst)
    if total > MAX_RECIPIENTS:
        return "recipients", "BadRequest", unknown
    if msg.get("replyTo") is not None:
        if not isinstance(msg["replyTo"], list):
            return "replyTo", "BadRequest", unknown
        for i, a in enumerate(msg["replyTo"]):
            e = _check_address(a, "replyTo[%d]" % i, extra)
            if e:
                return e + (unknown,)
    h = msg.get("headers")
    if h is not None:
        if not isinstance(h, dict):
            return "headers", "BadRequest", unknown
        for k, v in h.items():
            if not isinstance(v, str) or not v.strip() or not k.strip():
                return "headers." + k, "BadRequest", unknown
    att = msg.get("attachments")
    if att is not None:
        if not isinstance(att, list):
            return "attachments", "BadRequest", unknown
        for i, a in enumerate(att):
            p = "attachments[%d]" % i
            if not isinstance(a, dict):
                return p, "BadRequest", unknown
            allowed = _ATTACH | ({"contentId"} if api in _ATTACH_CID_VERSIONS else set())
            extra(a, allowed, p + ".")
            for k in ("name", "contentType", "contentInBase64"):
                if not isinstance(a.get(k), str) or not a[k]:
                    return p + "." + k, "BadRequest", unknown
            if "contentId" in a and a["contentId"] is not None and not isinstance(a["contentId"], str):
                return p + ".contentId", "BadRequest", unknown
            try:
                base64.b64decode(a["contentInBase64"], validate=True)
            except (binascii.Error, ValueError):
                return p + ".contentInBase64", "BadRequest", unknown
    u = msg.get("userEngagementTrackingDisabled")
    if u is not None and not isinstance(u, bool):
        return "userEngagementTrackingDisabled", "BadRequest", unknown
    return None, None, unknown


def _check_address(a, p, extra):
    if not isinstance(a, dict):
        return p, "BadRequest"
    extra(a, _ADDRESS, p + ".")
    if not isinstance(a.get("address"), str):
        return p + ".address", "BadRequest"
    if not _ADDR_RE.match(a["address"]):
        return p + ".address", "InvalidEmailAddress"
    if a.get("displayName") is not None and not isinstance(a["displayName"], str):
        return p + ".displayName", "BadRequest"
    return None
