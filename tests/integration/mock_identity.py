"""A local stand-in for the App Service / Functions managed-identity token endpoint
(IDENTITY_ENDPOINT: "Managed identities for App Service and Azure Functions", section "REST
endpoint reference", https://learn.microsoft.com/azure/app-service/overview-managed-identity),
plain HTTP, standard library only.

    with MockIdentity(secret="s3cret", token="tok-1", client_id=None) as mi:
        mi.endpoint        # "http://127.0.0.1:<port>/msi/token"
        mi.requests        # [IdRequest(method, target, path, query, headers, ok, why), ...]
        mi.fetches         # number of requests that got a token

GET <path>?resource=...&api-version=2019-08-01[&client_id=...] with `X-IDENTITY-HEADER: <secret>`
is checked: the path, the header, resource == "https://communication.azure.com/" (it arrives
URL-encoded), api-version == "2019-08-01", and client_id == the expected one (absent when None).
A request that passes gets 200 {"access_token", "expires_on", "resource", "token_type"}, else
400 {"statusCode":400,"message":...} (what the real service answers to a bad header/client id).

Knobs (attributes, change them at any time):
  token         the access_token given out
  expires_on    Unix seconds (default now + 3600, computed per answer when None)
  expires_form  "string" (the App Service form, "1700000000"), "number", or "in" (no expires_on,
                "expires_in": "<seconds from now>" instead)
  mode          "ok" | "chunked" (the same JSON, Transfer-Encoding: chunked, several chunks)
                | "split" (chunked, and written a few bytes at a time with pauses, so chunk
                size lines, data and CRLFs straddle reads) | "until-close" (no Content-Length:
                the body ends when the connection closes)
                | "stall" (no answer for 3 s, then close) | "500" | "garbage" (200 with a
                body that is not JSON) | "notoken" (200 JSON without access_token)

Every response is written with ONE sendall on a TCP_NODELAY socket (see mock_acs.py for why;
"split" excepted, on purpose), and the connection is closed after it (the client sends
Connection: close).
"""
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

RESOURCE = "https://communication.azure.com/"
API_VERSION = "2019-08-01"


@dataclass
class IdRequest:
    method: str
    target: str
    path: str
    query: dict
    raw_query: str
    headers: dict
    ok: bool = False
    why: str = ""
    time: float = field(default_factory=time.time)


class MockIdentity:
    def __init__(self, secret, token="mi-token", client_id=None, path="/msi/token", host="127.0.0.1"):
        self.secret = secret
        self.token = token
        self.client_id = client_id
        self.path = path
        self.expires_on = None
        self.expires_form = "string"
        self.mode = "ok"
        self._lock = threading.Lock()
        self._requests = []
        self._stop = threading.Event()
        self._lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._lsock.bind((host, 0))
        self._lsock.listen(16)
        self.host = host
        self.port = self._lsock.getsockname()[1]
        self._thread = None

    @property
    def endpoint(self):
        return "http://%s:%d%s" % (self.host, self.port, self.path)

    @property
    def requests(self):
        with self._lock:
            return list(self._requests)

    @property
    def fetches(self):
        return sum(1 for r in self.requests if r.ok)

    def start(self):
        self._thread = threading.Thread(target=self._loop, name="mock-identity", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        try:
            self._lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if self._thread:
            self._thread.join(5)
        self._lsock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _loop(self):
        self._lsock.settimeout(0.5)
        while not self._stop.is_set():
            try:
                c, _ = self._lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(5)
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = c.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head = buf.split(b"\r\n\r\n", 1)[0].decode("latin-1")
            lines = head.split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                headers[k.strip().lower()] = v.strip()
            sp = urlsplit(target)
            rec = IdRequest(method, target, sp.path, dict(parse_qsl(sp.query, True)), sp.query, headers)
            rec.ok, rec.why = self._check(rec)
            with self._lock:
                self._requests.append(rec)
            if self.mode == "stall":
                self._stop.wait(3.0)
                return
            data = self._answer(rec)
            if self.mode == "split" and rec.ok:
                for i in range(0, len(data), 7):
                    c.sendall(data[i:i + 7])
                    time.sleep(0.003)
            else:
                c.sendall(data)
        except (OSError, ValueError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def _check(self, r):
        if r.method != "GET":
            return False, "method %s" % r.method
        if r.path != self.path:
            return False, "path %s" % r.path
        if r.headers.get("x-identity-header") != self.secret:
            return False, "X-IDENTITY-HEADER missing or wrong"
        if r.query.get("resource") != RESOURCE:
            return False, "resource %r" % r.query.get("resource")
        if "resource=https%3A%2F%2Fcommunication.azure.com%2F" not in r.raw_query:
            return False, "resource not URL-encoded"
        if r.query.get("api-version") != API_VERSION:
            return False, "api-version %r" % r.query.get("api-version")
        if r.query.get("client_id") != self.client_id:
            return False, "client_id %r, want %r" % (r.query.get("client_id"), self.client_id)
        return True, ""

    def _answer(self, rec):
        def resp(status, body, ctype="application/json; charset=utf-8", chunked=False, length=True):
            reason = {200: "OK", 400: "Bad Request", 500: "Internal Server Error"}[status]
            h = ["HTTP/1.1 %d %s" % (status, reason), "Content-Type: " + ctype, "Connection: close"]
            if chunked:
                h.append("Transfer-Encoding: chunked")
                parts = [body[i:i + 17] for i in range(0, len(body), 17)]
                payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
            else:
                if length:
                    h.append("Content-Length: %d" % len(body))
                payload = body
            return ("\r\n".join(h) + "\r\n\r\n").encode() + payload

        if not rec.ok:
            return resp(400, json.dumps({"statusCode": 400, "message": rec.why}).encode())
        if self.mode == "500":
            return resp(500, b'{"statusCode":500,"message":"An unexpected error occured"}')
        if self.mode == "garbage":
            return resp(200, b"<html>this is not a token</html>", ctype="text/html")
        exp = self.expires_on if self.expires_on is not None else int(time.time()) + 3600
        body = {"access_token": self.token,
                "expires_on": str(exp) if self.expires_form == "string" else exp,
                "resource": RESOURCE, "token_type": "Bearer", "client_id": self.client_id or "sys"}
        if self.expires_form == "in":
            del body["expires_on"]
            body["expires_in"] = str(exp - int(time.time()))
        if self.mode == "notoken":
            del body["access_token"]
        data = json.dumps(body).encode()
        return resp(200, data, chunked=self.mode in ("chunked", "split"), length=self.mode != "until-close")
