"""Peer for `make bench`: the same job in Python's http.server (threaded, HTTP/1.1, buffered
writes and TCP_NODELAY so each answer leaves in one piece)."""
import json
import os
import socket
import time
import uuid
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR = os.environ.get("NOTIFY_OUTBOX_DIR", "./outbox")
os.makedirs(DIR, exist_ok=True)


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *a):
        pass

    def send(self, code, body, extra=()):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.send(200, b'{"status":"ready"}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        try:
            q = json.loads(self.rfile.read(n))
            to, subject, message = q["to_email"], q["subject"], q["message"]
        except Exception:
            return self.send(400, b"{}")
        i = str(uuid.uuid4())
        tmp = os.path.join(DIR, "." + i + ".tmp")
        with open(tmp, "w", newline="") as f:
            f.write(f"From: notify@localhost\r\nTo: {to}\r\nSubject: {subject}\r\n"
                    f"Date: {formatdate(time.time())}\r\nMIME-Version: 1.0\r\n"
                    f"Content-Type: text/plain; charset=utf-8\r\n\r\n{message}\r\n")
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(DIR, i + ".eml"))
        self.send(202, json.dumps({"id": i, "status": "Succeeded"}).encode(),
                  [("Location", "/api/notification/" + i)])


port = int(os.environ.get("FUNCTIONS_CUSTOMHANDLER_PORT") or os.environ.get("PORT", "8080"))
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
