"""Python peer for `make bench` through ACS: the same job as notify-handler with an access key, in
Python's standard library only (http.server, http.client over ssl, hmac), as a Python service
without the SDK would do it: take POST /api/notification {"to_email","subject","message"}, build
the ACS EmailMessage, sign it (HMAC-SHA256 over "POST\\n<path?query>\\n<x-ms-date>;<host>;<content
hash>"), POST it over a kept-alive TLS connection (one per server thread) with an Operation-Id,
answer 202 {"id","status"}.
Environment: FUNCTIONS_CUSTOMHANDLER_PORT or PORT, COMMUNICATION_SERVICES_CONNECTION_STRING,
NOTIFY_CA_FILE, EMAIL_SENDER.
"""
import base64
import email.utils
import hashlib
import hmac
import http.client
import http.server
import json
import os
import socket
import ssl
import threading
import urllib.parse
import uuid

TARGET = "/emails:send?api-version=2023-03-31"
parts = dict(p.strip().split("=", 1) for p in
             os.environ["COMMUNICATION_SERVICES_CONNECTION_STRING"].split(";") if "=" in p)
parts = {k.lower(): v for k, v in parts.items()}
ENDPOINT = urllib.parse.urlsplit(parts["endpoint"])
SECRET = base64.b64decode(parts["accesskey"])
SENDER = os.environ.get("EMAIL_SENDER", "")
TLS = ssl.create_default_context(cafile=os.environ.get("NOTIFY_CA_FILE") or None)
local = threading.local()


def send(body, op):
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    date = email.utils.formatdate(usegmt=True)
    sts = f"POST\n{TARGET}\n{date};{ENDPOINT.netloc};{digest}".encode()
    sig = base64.b64encode(hmac.new(SECRET, sts, hashlib.sha256).digest()).decode()
    headers = {"Content-Type": "application/json", "Operation-Id": op, "x-ms-date": date,
               "x-ms-content-sha256": digest, "Host": ENDPOINT.netloc,
               "Authorization": "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256"
                                f"&Signature={sig}"}
    for attempt in (1, 2):  # a kept-alive connection the server closed: reconnect once
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPSConnection(
                ENDPOINT.hostname, ENDPOINT.port or 443, context=TLS, timeout=30)
        try:
            conn.request("POST", TARGET, body, headers)
            resp = conn.getresponse()
            resp.read()
            return resp.status
        except (OSError, http.client.HTTPException):
            conn.close()
            local.conn = None
            if attempt == 2:
                return 502


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # buffered writes, flushed after each request: one piece per answer

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer(200, b'{"status":"ready"}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        if self.path != "/api/notification":
            return self.answer(404)
        try:
            q = json.loads(raw)
            to, subject, message = q["to_email"], q["subject"], q["message"]
            assert isinstance(to, str) and to and isinstance(subject, str) and subject
        except (ValueError, KeyError, TypeError, AssertionError):
            return self.answer(400)
        msg = {"senderAddress": SENDER, "content": {"subject": subject, "plainText": message},
               "recipients": {"to": [{"address": to}]}}
        op = str(uuid.uuid4())
        if send(json.dumps(msg).encode(), op) != 202:
            return self.answer(502)
        self.answer(202, json.dumps({"id": op, "status": "Running"}).encode(),
                    [("Location", "/api/notification/" + op)])


port = int(os.environ.get("FUNCTIONS_CUSTOMHANDLER_PORT") or os.environ["PORT"])
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
server.daemon_threads = True
server.serve_forever()
