"""Fixtures for the integration tests: start the real binary on a free port with its own outbox,
talk to it over real sockets, stop it with SIGTERM and check it exited cleanly.

NOTIFY_BIN selects the binary (default: the shipped build/static/handler); `make test` runs the
suite once against it and once against the ASan+UBSan glibc build (build/asan/handler).
"""
import json
import os
import signal
import socket
import subprocess
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.abspath(os.path.join(ROOT, os.environ.get("NOTIFY_BIN", "build/static/handler")))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Handler:
    """One running handler process."""

    def __init__(self, tmp_path, env=None, args=()):
        self.port = free_port()
        self.outbox = tmp_path / "outbox"
        self.log_path = tmp_path / "handler.log"
        self.err_path = tmp_path / "handler.err"
        e = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "EMAIL_", "FUNCTIONS_"))}
        e.update({"PORT": str(self.port), "BIND": "127.0.0.1", "NOTIFY_OUTBOX_DIR": str(self.outbox),
                  "NOTIFY_LOG_LEVEL": "debug"})
        e.update(env or {})
        if e.get("FUNCTIONS_CUSTOMHANDLER_PORT"):
            self.port = int(e["FUNCTIONS_CUSTOMHANDLER_PORT"])  # the host's port wins over PORT
        self.env = e
        self.log = open(self.log_path, "wb")
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen([BIN, *args], env=e, stdout=self.log, stderr=self.err, cwd=tmp_path)
        self.wait_ready()

    def wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("handler exited at start: " + self.stderr())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    if recv_all(s).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("handler not ready in time")

    def stderr(self):
        if not self.err.closed:
            self.err.flush()
        return self.err_path.read_text(errors="replace")

    def logs(self):
        if not self.log.closed:
            self.log.flush()
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            out.append(json.loads(line))  # every stdout line MUST be one JSON object
        return out

    def wait_logs(self, pred, timeout=5.0):
        """Logs once pred(logs) holds: a request's line is written just after its answer."""
        deadline = time.monotonic() + timeout
        while True:
            logs = self.logs()
            if pred(logs) or time.monotonic() > deadline:
                return logs
            time.sleep(0.01)

    def emls(self):
        return sorted(p for p in self.outbox.iterdir() if p.suffix == ".eml") if self.outbox.exists() else []

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.log.close()
        self.err.close()
        return rc

    def alive(self):
        return self.proc.poll() is None


@pytest.fixture
def start(tmp_path):
    """start(env={...}) -> Handler; every handler is stopped and checked at teardown."""
    started = []

    def _start(env=None, args=(), sub=None):
        d = tmp_path / (sub or f"h{len(started)}")
        d.mkdir(exist_ok=True)
        h = Handler(d, env, args)
        started.append(h)
        return h

    yield _start
    for h in started:
        alive = h.alive()
        rc = h.stop()
        err = h.stderr()
        assert "Sanitizer" not in err and "runtime error" not in err, err
        if alive:
            # under the Functions host a clean stop exits 200 (the host's "restart me" code;
            # 0 would mean closed for good), standalone 0
            want = 200 if h.env.get("FUNCTIONS_CUSTOMHANDLER_PORT") else 0
            assert rc == want, f"exit status {rc}: {err}"


@pytest.fixture
def h(start):
    return start()


def recv_all(s, limit=1 << 22):
    data = b""
    while len(data) < limit:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower())


def read_response(s, head_only=False):
    """Reads exactly one HTTP/1.1 response (Content-Length framed) from socket s."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(65536)
        if not c:
            raise ConnectionError("closed before a full response head: %r" % buf)
        buf += c
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    n = 0 if head_only or status in (100, 204, 304) else int(headers.get("content-length", "0"))
    while len(rest) < n:
        c = s.recv(65536)
        if not c:
            raise ConnectionError("closed mid-body")
        rest += c
    body, extra = rest[:n], rest[n:]
    r = Response(status, headers, body)
    r.extra = extra
    return r


def connect(h, timeout=10):
    s = socket.create_connection(("127.0.0.1", h.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def request(h, method, path, body=None, headers=None, timeout=10):
    """One request on its own connection; returns a Response."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body, ensure_ascii=False).encode()
    hdrs = {"Host": "localhost", "Connection": "close"}
    if body is not None:
        hdrs["Content-Type"] = "application/json"
        hdrs["Content-Length"] = str(len(body))
    hdrs.update(headers or {})
    raw = f"{method} {path} HTTP/1.1\r\n".encode() + b"".join(
        f"{k}: {v}\r\n".encode() for k, v in hdrs.items() if v is not None) + b"\r\n" + (body or b"")
    with connect(h, timeout) as s:
        s.sendall(raw)
        return read_response(s, head_only=(method == "HEAD"))


def raw_exchange(h, data, timeout=10):
    """Sends raw bytes and returns everything the server sends until it closes."""
    with connect(h, timeout) as s:
        s.sendall(data)
        return recv_all(s)


ORIGINAL = {"to_email": "you@example.com", "subject": "テスト", "message": "テストメッセージ"}
