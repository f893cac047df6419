"""HTTP/1.1 behaviour of the server over real sockets: persistent connections, pipelining,
chunked bodies, 100-continue, timeouts, concurrency and the SIGTERM drain."""
import json
import signal
import socket
import threading
import time

from conftest import ORIGINAL, connect, read_response, recv_all, request

BODY = json.dumps(ORIGINAL, ensure_ascii=False).encode()


def post_bytes(body=BODY, extra=b"", conn=b""):
    return (b"POST /api/notification HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n" % len(body) + conn + extra + b"\r\n" + body)


def test_keep_alive_many_requests(h):
    with connect(h) as s:
        for _ in range(20):
            s.sendall(post_bytes())
            r = read_response(s)
            assert r.status == 202 and r.header("connection") is None
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s).status == 200
    assert len(h.emls()) == 20


def test_pipelining(h):
    with connect(h) as s:
        s.sendall(post_bytes() * 3 + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = recv_all(s)
    assert data.count(b"HTTP/1.1 202 Accepted") == 3
    assert data.count(b"HTTP/1.1 200 OK") == 1
    assert len(h.emls()) == 3


def test_connection_close_and_http10(h):
    with connect(h) as s:
        s.sendall(post_bytes(conn=b"Connection: close\r\n"))
        r = read_response(s)
        assert r.status == 202 and r.header("connection") == "close"
        assert s.recv(10) == b""
    with connect(h) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        r = read_response(s)
        assert r.status == 200 and s.recv(10) == b""
    with connect(h) as s:
        s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert read_response(s).status == 200
        s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert read_response(s).status == 200


def test_chunked_body(h):
    parts = [BODY[:10], BODY[10:11], BODY[11:]]
    chunked = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\nX-Trailer: t\r\n\r\n"
    with connect(h) as s:
        s.sendall(b"POST /api/notification HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  b"Content-Type: application/json\r\n\r\n")
        for i in range(0, len(chunked), 7):  # trickle it in small pieces
            s.sendall(chunked[i:i + 7])
            time.sleep(0.001)
        r = read_response(s)
        assert r.status == 202
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # still usable afterwards
        assert read_response(s).status == 200


def test_expect_100_continue(h):
    with connect(h) as s:
        s.sendall(post_bytes(b"", b"Expect: 100-continue\r\n").replace(
            b"Content-Length: 0", b"Content-Length: %d" % len(BODY)))
        interim = read_response(s, head_only=True)
        assert interim.status == 100
        s.sendall(BODY)
        assert read_response(s).status == 202
    # an over-limit body is refused before the client sends it
    with connect(h) as s:
        s.sendall(b"POST /api/notification HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        assert read_response(s).status == 413
    # an unknown route is refused before the body too (and the connection closed)
    with connect(h) as s:
        s.sendall(b"POST /elsewhere HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
        r = read_response(s)
        assert r.status == 404 and r.header("connection") == "close"


def test_slow_client_does_not_stall_others(start):
    h = start(env={"NOTIFY_HEADER_TIMEOUT_MS": "1500", "NOTIFY_READ_TIMEOUT_MS": "1500",
                   "NOTIFY_WORKERS": "2"})
    slow = [connect(h) for _ in range(2)]  # as many slow clients as workers
    for s in slow:
        s.sendall(b"POST /api/notification HTTP/1.1\r\nHost: x\r\n")  # ...and nothing more
    time.sleep(0.1)
    t0 = time.monotonic()
    r = request(h, "POST", "/api/notification", ORIGINAL)  # waits for a worker, not forever
    waited = time.monotonic() - t0
    assert r.status == 202
    assert waited < 5
    for s in slow:
        s.settimeout(5)
        data = recv_all(s)
        assert data.startswith(b"HTTP/1.1 408 "), data[:80]
        s.close()


def test_slow_body_times_out(start):
    h = start(env={"NOTIFY_READ_TIMEOUT_MS": "300"})
    with connect(h) as s:
        s.sendall(post_bytes()[:-5])
        s.settimeout(5)
        data = recv_all(s)
    assert data.startswith(b"HTTP/1.1 408 ")
    assert not h.emls()


def test_idle_connection_closed(start):
    h = start(env={"NOTIFY_IDLE_TIMEOUT_MS": "200"})
    with connect(h) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s).status == 200
        s.settimeout(3)
        t0 = time.monotonic()
        assert s.recv(10) == b""
        assert time.monotonic() - t0 < 2.5


def test_concurrent_clients(h):
    errors, ids = [], []
    lock = threading.Lock()

    def client(n):
        try:
            with connect(h) as s:
                for i in range(10):
                    s.sendall(post_bytes())
                    r = read_response(s)
                    with lock:
                        ids.append(r.json()["id"])
                    assert r.status == 202
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    assert len(set(ids)) == 320
    assert len(h.emls()) == 320


def test_many_connections_bounded(start):
    h = start(env={"NOTIFY_MAX_CONNECTIONS": "4"})
    held = [connect(h) for _ in range(4)]
    time.sleep(0.2)
    extra = connect(h)
    extra.settimeout(5)
    data = recv_all(extra)
    assert data.startswith(b"HTTP/1.1 503") or data == b""
    for s in held:
        s.close()
    time.sleep(0.1)
    assert request(h, "GET", "/").status == 200


def test_sigterm_drains_in_flight(h):
    # Requests whose bodies are still arriving when SIGTERM comes are all answered and written.
    socks = []
    for _ in range(5):
        s = connect(h)
        s.sendall(post_bytes()[:-10])
        socks.append(s)
    time.sleep(0.2)
    h.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    for s in socks:
        s.sendall(post_bytes()[-10:])
    for s in socks:
        r = read_response(s)
        assert r.status == 202 and r.header("connection") == "close"
        s.close()
    assert h.proc.wait(timeout=10) == 0
    assert len(h.emls()) == 5
    # the listener is gone
    try:
        socket.create_connection(("127.0.0.1", h.port), timeout=1).close()
        refused = False
    except OSError:
        refused = True
    assert refused
    events = [l["event"] for l in h.logs()]
    assert events[-1] == "server.stopped"
    drain_at = events.index("server.draining")
    assert events[drain_at + 1:-1] == ["http.request"] * 5  # answered after the signal


def test_sigterm_closes_idle_keepalive(h):
    s = connect(h)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert read_response(s).status == 200
    t0 = time.monotonic()
    h.proc.send_signal(signal.SIGINT)
    assert h.proc.wait(timeout=10) == 0
    assert time.monotonic() - t0 < 3
    s.settimeout(2)
    assert s.recv(10) == b""


def test_client_reset_mid_body_keeps_server_up(h):
    for _ in range(20):
        s = connect(h)
        s.sendall(post_bytes()[:-3])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # RST
    assert request(h, "GET", "/").status == 200
    assert not h.emls()
