"""Hostile loopback clients for the hostile-client tests (test_hostile.py) and the attack bench
(tests/bench/attack.py). Python standard library only.

Every attacker is bounded in connections, bytes and time and stops by itself at its duration (or
earlier at stop()). Each runs in its own thread with a selector, so a few hundred connections cost
one thread. Whether the server has closed a connection is read from the kernel (TCP_INFO's state),
so even an attacker that never reads knows when and how its connection ended.

    slowloris     N connections each sending one header byte per interval, never finishing
    slow body     complete headers with Content-Length: 1000, then one body byte per interval
    pipeliner     many pipelined requests sent on a small receive buffer, never reading an answer
    flood         N connections each sending one complete request, then holding the connection
    reset         pipelined requests or a POST, then an abortive close (SO_LINGER 0: RST)
    prober        the original POST /api/notification on fresh and kept-alive connections
    load          a closed loop of ordinary requests over C keep-alive connections

Target describes the server under attack: address, outbox directory and (when known) its pid, from
which RSS, CPU seconds and open descriptors are read in /proc. Server starts one.
"""
import collections
import errno
import json
import os
import resource
import selectors
import signal
import socket
import struct
import subprocess
import threading
import time

BODY = json.dumps({"to_email": "you@example.com", "subject": "hostile", "message": "ordinary request"},
                  separators=(",", ":")).encode()

# TCP_INFO's first byte is the connection state (include/net/tcp_states.h): 1 is ESTABLISHED;
# anything else (CLOSE_WAIT after the server's FIN, CLOSE after its RST) means the server is done.
TCP_ESTABLISHED = 1
# Bytes of a receive buffer that stops reading early: the kernel rounds it up to about 4.5 KiB.
SMALL_RCVBUF = 2048
# One attacker opens at most this many connections over its life (reconnects included).
MAX_OPENS_PER_SLOT = 100
# Seconds a connect may take on loopback; past it the attempt counts as "connect-timeout". A SYN
# dropped by a full accept queue is sent again after 1 s, so one such retry fits.
CONNECT_TIMEOUT_S = 3.0
# Longest sleep of an attacker's loop, so stop() and the duration are seen promptly.
TICK_S = 0.05


def post_bytes(body=BODY, close=False, path="/api/notification"):
    head = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n")
    return head.encode() + body


GET_NOPE = b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
GET_ROOT = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def raise_nofile(want):
    """Raises this process's soft RLIMIT_NOFILE to want (at most the hard limit); returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < cap:
        resource.setrlimit(resource.RLIMIT_NOFILE, (cap, hard))
        soft = cap
    return soft


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tcp_state(sock):
    try:
        return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    except OSError:
        return 0


# Server-side TCP states meaning the server shut its side down: FIN_WAIT1, FIN_WAIT2, TIME_WAIT,
# CLOSE, LAST_ACK, CLOSING. A server that closes a socket whose send buffer the client never
# drains leaves an orphan in FIN_WAIT1 whose FIN waits behind the unread bytes: the client's own
# socket still says ESTABLISHED, so the server's side is read from /proc/net/tcp as well.
SERVER_DONE_STATES = {0x04, 0x05, 0x06, 0x07, 0x09, 0x0B}
# How often (seconds) the attackers read /proc/net/tcp.
PROC_NET_EVERY_S = 0.2


def server_side(port):
    """{client port: TCP state} of the server's IPv4 sockets connected from loopback clients,
    or None when /proc/net/tcp cannot be read."""
    out = {}
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split(None, 4)
                local, remote, st = parts[1], parts[2], parts[3]
                if int(local.rpartition(":")[2], 16) == port:
                    out[int(remote.rpartition(":")[2], 16)] = int(st, 16)
    except OSError:
        return None
    return out


def set_rst(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def parse_status(data):
    """The status code of an answer that starts with an HTTP/1.x status line, else None."""
    if data.startswith(b"HTTP/1.") and len(data) >= 12 and data[9:12].isdigit():
        return int(data[9:12])
    return None


class Target:
    """A server under attack: host, port, outbox directory (or None) and pid (or None)."""

    def __init__(self, host, port, outbox=None, pid=None):
        self.host, self.port, self.outbox, self.pid = host, int(port), outbox, pid

    @property
    def addr(self):
        return (self.host, self.port)

    def emls(self):
        if not self.outbox or not os.path.isdir(self.outbox):
            return []
        return sorted(n for n in os.listdir(self.outbox) if n.endswith(".eml"))

    def rss_kb(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def cpu_seconds(self):
        """utime + stime of the whole process (all threads), in seconds."""
        with open(f"/proc/{self.pid}/stat") as f:
            rest = f.read().rpartition(")")[2].split()
        return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))


class Server:
    """Starts argv with the server's environment on a free loopback port, waits until GET /
    answers 200, and stops it with SIGTERM. nofile runs it under `prlimit --nofile=n:n`."""

    def __init__(self, argv, workdir, env=None, nofile=None, ready_s=10.0):
        os.makedirs(workdir, exist_ok=True)
        self.port = free_port()
        self.outbox = os.path.join(workdir, "outbox")
        e = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "EMAIL_", "FUNCTIONS_"))}
        e.update({"PORT": str(self.port), "BIND": "127.0.0.1", "NOTIFY_OUTBOX_DIR": self.outbox,
                  "NOTIFY_LOG_LEVEL": "warn", "NOTIFY_TRANSPORT": "outbox"})
        e.update(env or {})
        self.env = e
        if nofile:
            argv = ["prlimit", f"--nofile={nofile}:{nofile}", "--", *argv]
        self.err_path = os.path.join(workdir, "server.err")
        self.out = open(os.path.join(workdir, "server.log"), "wb")
        self.err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(argv, env=e, stdout=self.out, stderr=self.err, cwd=workdir)
        self.target = Target("127.0.0.1", self.port, self.outbox, self.proc.pid)  # prlimit execs
        self._wait_ready(ready_s)

    def _wait_ready(self, timeout):
        t_end = time.monotonic() + timeout
        while time.monotonic() < t_end:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited at start: " + self.stderr())
            try:
                with socket.create_connection(self.target.addr, timeout=0.5) as s:
                    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    s.settimeout(0.5)
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        return
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("server not ready in time")

    def stderr(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.out.close()
        self.err.close()
        return rc


class Conn:
    """One attacker connection and how it ended."""
    __slots__ = ("sock", "opened", "ended", "how", "status", "answered", "sent", "todo", "next_at",
                 "rbuf", "port")

    def __init__(self, sock, now):
        self.sock, self.opened, self.ended, self.how, self.status = sock, now, None, None, None
        self.answered = None  # time of the first answer byte
        self.sent, self.todo, self.next_at, self.rbuf = 0, b"", now, b""
        try:
            self.port = sock.getsockname()[1]
        except OSError:
            self.port = None

    def lifetime(self, now=None):
        return (self.ended if self.ended is not None else now) - self.opened


class Swarm(threading.Thread):
    """Base of the connection attackers: n connection slots for at most duration seconds.
    Subclasses say what a new connection sends at once (first), what it sends on each tick
    (tick) and whether it reads (reads). A slot whose connection the server ended is refilled
    when reconnect is set. Results: self.ended (connections that ended), self.connect_failures and
    self.live (still open when the attacker stopped), each a list of Conn."""
    name_ = "swarm"
    reads = True
    rcvbuf = None

    def __init__(self, target, n, duration, reconnect=False):
        super().__init__(daemon=True, name=self.name_)
        self.target, self.n, self.duration, self.reconnect = target, n, duration, reconnect
        self.ended, self.live, self.connect_failures = [], [], collections.Counter()
        self.opens = 0
        self.ready = threading.Event()  # set once the first n connections were attempted
        self._halt = threading.Event()
        self.t0 = self.t_end = None

    # --- what a subclass changes -------------------------------------------------------------
    def first(self, c):
        return b""

    def tick(self, c, now):
        """Called when now >= c.next_at: returns bytes to send (may be b"") and sets next_at."""
        c.next_at = now + 3600
        return b""

    # --- machinery ---------------------------------------------------------------------------
    def stop(self):
        self._halt.set()

    def _open(self, sel, now):
        self.opens += 1
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self.rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        s.settimeout(CONNECT_TIMEOUT_S)
        try:
            s.connect(self.target.addr)
        except OSError as e:
            s.close()
            kind = "connect-timeout" if isinstance(e, socket.timeout) else \
                "refused" if e.errno == errno.ECONNREFUSED else "connect-" + (errno.errorcode.get(e.errno) or "error")
            self.connect_failures[kind] += 1
            return None
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        c = Conn(s, time.monotonic())
        c.todo = self.first(c)
        self._send(c, c.ended is None)
        self.live.append(c)
        if self.reads:
            sel.register(s, selectors.EVENT_READ, c)
        return c

    def _end(self, c, how, sel):
        if c.ended is not None:
            return
        c.ended, c.how = time.monotonic(), how
        if self.reads:
            try:
                sel.unregister(c.sock)
            except (KeyError, ValueError):
                pass
        c.sock.close()
        self.live.remove(c)
        self.ended.append(c)

    def _send(self, c, ok=True):
        while ok and c.todo:
            try:
                k = c.sock.send(c.todo)
            except BlockingIOError:
                return True
            except OSError as e:
                c.how = "reset" if e.errno in (errno.ECONNRESET, errno.EPIPE) else "send-error"
                return False
            c.sent += k
            c.todo = c.todo[k:]
        return True

    def _read(self, c, sel):
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            self._end(c, "reset", sel)
            return
        if not data:
            self._end(c, "eof", sel)
            return
        if c.answered is None:
            c.answered = time.monotonic()
        if c.status is None and len(c.rbuf) < 64:
            c.rbuf += data[:64]
            c.status = parse_status(c.rbuf)
        self.on_data(c, data)

    def on_data(self, c, data):
        pass

    def run(self):
        sel = selectors.DefaultSelector()
        self.t0 = time.monotonic()
        self.t_end = self.t0 + self.duration
        try:
            for i in range(self.n):
                if self._halt.is_set() or time.monotonic() >= self.t_end:
                    break
                self._open(sel, time.monotonic())
                if self.reads and i % 32 == 31:  # answers to the first ones are timed as they come
                    for key, _ in sel.select(0):
                        self._read(key.data, sel)
            self.ready.set()
            last_check = last_proc = 0.0
            while not self._halt.is_set():
                now = time.monotonic()
                if now >= self.t_end:
                    break
                wake = min([c.next_at for c in self.live] + [now + TICK_S])
                if self.reads and self.live:
                    for key, _ in sel.select(max(0.0, min(wake - now, TICK_S))):
                        self._read(key.data, sel)
                else:
                    time.sleep(max(0.0, min(wake - now, TICK_S)))
                now = time.monotonic()
                for c in list(self.live):
                    if c.ended is not None:
                        continue
                    if c.todo and not self._send(c):
                        self._end(c, c.how, sel)
                        continue
                    if now >= c.next_at:
                        c.todo += self.tick(c, now)
                        if not self._send(c):
                            self._end(c, c.how, sel)
                if now - last_check >= TICK_S:  # the kernel says whether the server is done
                    peer = None
                    if now - last_proc >= PROC_NET_EVERY_S:
                        last_proc = now
                        peer = server_side(self.target.port)
                    last_check = now
                    for c in list(self.live):
                        if tcp_state(c.sock) != TCP_ESTABLISHED:
                            if self.reads:
                                self._read(c, sel)  # an answer and EOF still in the buffer
                            if c.ended is None:
                                self._end(c, "closed", sel)
                        elif peer is not None and c.port is not None and \
                                peer.get(c.port, 0x07) in SERVER_DONE_STATES:
                            self._end(c, "server-shut", sel)
                    while (self.reconnect and len(self.live) < self.n and
                           self.opens < self.n * MAX_OPENS_PER_SLOT and time.monotonic() < self.t_end):
                        if self._open(sel, time.monotonic()) is None:
                            break
        finally:
            self.ready.set()
            self.t_stop = time.monotonic()
            for c in self.live:
                c.sock.close()
            sel.close()

    # --- results -----------------------------------------------------------------------------
    def closed_by_server(self):
        return [c for c in self.ended if c.how in ("eof", "reset", "closed", "server-shut")]

    def statuses(self):
        return collections.Counter(c.status for c in self.ended + self.live if c.status is not None)

    def longest_life(self):
        """The longest any connection stayed open (open ones measured to the attacker's stop)."""
        stop = getattr(self, "t_stop", time.monotonic())
        lives = [c.lifetime(stop) for c in self.ended + self.live]
        return max(lives) if lives else 0.0

    def summary(self):
        return (f"{self.name_}: opened {self.opens}, ended by the server {len(self.closed_by_server())}, "
                f"still open {len(self.live)}, longest life {self.longest_life():.2f} s, "
                f"answers {dict(self.statuses())}, connect failures {dict(self.connect_failures)}")


class Slowloris(Swarm):
    """n connections, each sending one header byte per interval; the header never ends."""
    name_ = "slowloris"
    HEAD = b"POST /api/notification HTTP/1.1\r\nHost: x\r\n"
    FILL = b"X-a: b\r\n"  # repeated header lines: never the blank line that ends the head

    def __init__(self, target, n=200, duration=10.0, interval=0.5, reconnect=True):
        super().__init__(target, n, duration, reconnect)
        self.interval = interval

    def first(self, c):
        c.next_at = c.opened + self.interval
        return self.HEAD[:1]

    def tick(self, c, now):
        c.next_at = now + self.interval
        i = c.sent
        text = self.HEAD if i < len(self.HEAD) else self.FILL
        j = i if i < len(self.HEAD) else (i - len(self.HEAD)) % len(self.FILL)
        return text[j:j + 1]


class SlowBody(Swarm):
    """n connections: complete headers announcing content_length bytes, then one body byte per
    interval. The body (valid JSON if it were ever finished) never completes."""
    name_ = "slow-body"

    def __init__(self, target, n=16, duration=10.0, interval=0.5, content_length=1000, reconnect=True):
        super().__init__(target, n, duration, reconnect)
        self.interval = interval
        head = b'{"to_email":"you@example.com","subject":"slow body","message":"'
        self.body = head + b"a" * (content_length - len(head) - 2) + b'"}'

    def first(self, c):
        c.next_at = c.opened + self.interval
        return post_bytes(self.body)[:-len(self.body)]

    def tick(self, c, now):
        c.next_at = now + self.interval
        i = c.sent - (len(post_bytes(self.body)) - len(self.body))
        return self.body[i:i + 1] if 0 <= i < len(self.body) - 1 else b""  # never the last byte


class Pipeliner(Swarm):
    """n connections with a small receive buffer, each sending up to `requests` pipelined
    requests (GET /nope by default) as fast as the server takes them, never reading."""
    name_ = "pipeliner"
    reads = False
    rcvbuf = SMALL_RCVBUF

    def __init__(self, target, n=8, duration=10.0, requests=30000, request=GET_NOPE, reconnect=False):
        super().__init__(target, n, duration, reconnect)
        self.requests, self.request = requests, request
        self.batch = 256  # requests per send call

    def first(self, c):
        c.next_at = c.opened
        return b""

    def tick(self, c, now):
        left = self.requests - (c.sent + len(c.todo)) // len(self.request)
        if c.todo or left <= 0:  # the send buffer is full (or all is sent): look again later
            c.next_at = now + TICK_S
            return b""
        c.next_at = now  # as fast as the server takes them
        return self.request * min(self.batch, left)


class Flood(Swarm):
    """n connections each sending one complete request (GET / by default) at once, then holding
    the connection open, reading whatever comes. outcome() classifies each connection."""
    name_ = "flood"

    def __init__(self, target, n=200, duration=10.0, request=GET_ROOT):
        super().__init__(target, n, duration, reconnect=False)
        self.request = request

    def first(self, c):
        c.next_at = c.opened + 3600
        return self.request

    def outcome(self, patience):
        """Counter of answered-<status>, eof/reset/closed (no answer) and hang: a connection with
        neither an answer nor an end within patience seconds of opening. Connect failures count
        by kind (refused, connect-timeout)."""
        out = collections.Counter(self.connect_failures)
        stop = getattr(self, "t_stop", time.monotonic())
        for c in self.ended + self.live:
            first = min(t for t in (c.answered, c.ended) if t is not None) if (c.answered or c.ended) else None
            if first is None or first - c.opened > patience:
                if c.ended is None and stop - c.opened < patience:
                    out["undecided"] += 1  # opened too late for the attacker to judge
                else:
                    out["hang"] += 1
            elif c.status is not None:
                out[f"answered-{c.status}"] += 1
            elif c.answered is not None:
                out["answered-garbage"] += 1
            else:
                out[c.how] += 1
        return out


def reset_mid_answer(target, n=20, pipelined=200, posts=20, pause=0.02):
    """n connections with a small receive buffer send `pipelined` GET /nope and are reset (RST)
    while the answers are being written; then `posts` connections send the original POST and
    are reset before reading the answer. Returns how many connections were made."""
    made = 0
    for _ in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RCVBUF)
        s.settimeout(CONNECT_TIMEOUT_S)
        try:
            s.connect(target.addr)
            s.sendall(GET_NOPE * pipelined)
            time.sleep(pause)
            made += 1
        except OSError:
            pass
        set_rst(s)
        s.close()
    for _ in range(posts):
        s = socket.socket()
        s.settimeout(CONNECT_TIMEOUT_S)
        try:
            s.connect(target.addr)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(post_bytes())
            made += 1
        except OSError:
            pass
        set_rst(s)
        s.close()
    return made


def read_answer(sock, t_end):
    """Reads one Content-Length framed answer; returns (status, keep_alive) or raises OSError."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        sock.settimeout(max(0.001, t_end - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before an answer" if not buf else "closed mid-answer")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = parse_status(buf)
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        sock.settimeout(max(0.001, t_end - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed mid-body")
        rest += chunk
    return status, headers.get("connection", "").lower() != "close"


def ordinary(target, sock=None, patience=5.0, keep_alive=False):
    """One original POST /api/notification on sock, or on a new connection when sock is None.
    keep_alive: ask to keep the connection and return it for the next request (unless the server
    closes it); else the request says Connection: close. Returns (status or None, latency
    seconds, error text or None, the socket to reuse or None)."""
    t0 = time.monotonic()
    t_end = t0 + patience
    try:
        if sock is None:
            sock = socket.create_connection(target.addr, timeout=patience)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(patience)
        sock.sendall(post_bytes(close=not keep_alive))
        status, keep = read_answer(sock, t_end)
        lat = time.monotonic() - t0
        if not (keep_alive and keep):
            sock.close()
            sock = None
        return status, lat, None, sock
    except socket.timeout:
        err = "timeout"
    except OSError as e:
        err = type(e).__name__ + (f": {e}" if str(e) else "")
    if sock is not None:
        sock.close()
    return None, time.monotonic() - t0, err, None


class Prober(threading.Thread):
    """Every interval, one original POST on a fresh connection and one on a kept-alive one (a
    new one when the server closed it), each waiting at most patience seconds. results holds
    (kind, status or None, latency, error) tuples; bounded by duration and max_probes."""

    def __init__(self, target, duration=5.0, interval=0.2, patience=5.0, max_probes=200):
        super().__init__(daemon=True, name="prober")
        self.target, self.duration, self.interval = target, duration, interval
        self.patience, self.max_probes = patience, max_probes
        self.results = []
        self._halt = threading.Event()

    def stop(self):
        self._halt.set()

    def run(self):
        t_end = time.monotonic() + self.duration
        keep = None
        try:
            while not self._halt.is_set() and time.monotonic() < t_end and len(self.results) < self.max_probes:
                t_next = time.monotonic() + self.interval
                st, lat, err, _ = ordinary(self.target, None, self.patience)
                self.results.append(("fresh", st, lat, err))
                reused = keep is not None
                st, lat, err, keep = ordinary(self.target, keep, self.patience, keep_alive=True)
                if st is None and reused:  # closed by the server while idle: a new connection
                    st, lat, err, keep = ordinary(self.target, None, self.patience, keep_alive=True)
                    keep_kind = "kept-alive (reopened)"
                else:
                    keep_kind = "kept-alive"
                self.results.append((keep_kind, st, lat, err))
                self._halt.wait(max(0.0, t_next - time.monotonic()))
        finally:
            if keep is not None:
                keep.close()

    def accepted(self):
        return sum(1 for r in self.results if r[1] == 202)

    def failures(self, prompt):
        """Probes not answered 202 within prompt seconds."""
        return [r for r in self.results if r[1] != 202 or r[2] > prompt]

    def summary(self):
        lats = sorted(r[2] for r in self.results if r[1] == 202)
        worst = f"{lats[-1] * 1000:.0f} ms" if lats else "-"
        return (f"prober: {len(self.results)} requests, {self.accepted()} answered 202, worst 202 "
                f"{worst}, others {collections.Counter((r[1], r[3]) for r in self.results if r[1] != 202)}")


def load(target, total, conns, patience=10.0, every=None, on_progress=None, duration=120.0):
    """Closed loop: `conns` keep-alive connections each send the original POST and wait for its
    answer, until `total` answers (or duration). Calls on_progress(done) every `every` answers.
    Returns (Counter of statuses and errors, latencies of the 202s, elapsed seconds)."""
    sel = selectors.DefaultSelector()
    statuses, lats = collections.Counter(), []
    req = post_bytes()
    sent = done = 0
    t0 = time.monotonic()
    t_end = t0 + duration
    state = {}

    def launch(s):
        nonlocal sent
        sent += 1
        state[s] = [b"", time.monotonic()]
        s.sendall(req)  # 100 bytes into an empty send buffer: never blocks

    def reopen(old):
        if old is not None:
            sel.unregister(old)
            state.pop(old, None)
            old.close()
        s = socket.create_connection(target.addr, timeout=patience)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        return s

    try:
        for _ in range(min(conns, total)):
            launch(reopen(None))
        next_mark = every
        while done < total and time.monotonic() < t_end:
            events = sel.select(min(patience, max(0.0, t_end - time.monotonic())))
            if not events:
                statuses["timeout"] += len(state)
                break
            for key, _ in events:
                s = key.fileobj
                try:
                    chunk = s.recv(65536)
                except OSError:
                    chunk = b""
                st = state[s]
                if not chunk:
                    statuses["closed"] += 1
                    done += 1
                    if sent < total:
                        launch(reopen(s))
                    else:
                        sel.unregister(s)
                        state.pop(s)
                        s.close()
                    continue
                st[0] += chunk
                buf = st[0]
                while True:  # every complete answer in the buffer
                    end = buf.find(b"\r\n\r\n")
                    if end < 0:
                        break
                    head = buf[:end].lower()
                    i = head.find(b"content-length:")
                    n = int(head[i + 15:].split(b"\r\n", 1)[0]) if i >= 0 else 0
                    if len(buf) < end + 4 + n:
                        break
                    code = parse_status(buf)
                    statuses[code] += 1
                    if code == 202:
                        lats.append(time.monotonic() - st[1])
                    buf = buf[end + 4 + n:]
                    done += 1
                    if every and on_progress and done >= next_mark:
                        on_progress(done)
                        next_mark += every
                    if sent < total:
                        if b"connection: close" in head:
                            s = reopen(s)
                        launch(s)
                        st = state[s]
                    else:
                        break
                if s in state:
                    state[s][0] = buf
    finally:
        for s in list(state):
            s.close()
        sel.close()
    return statuses, lats, time.monotonic() - t0


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]
