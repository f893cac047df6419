"""fnhost: an Azure Functions host simulator for custom handlers (Python standard library only).

It does what the Functions host (https://github.com/Azure/azure-functions-host, v4) does to a
custom handler, as the documentation ("Azure Functions custom handlers",
https://learn.microsoft.com/azure/azure-functions/functions-custom-handlers: "Application
structure", "Request payload", "Response payload", "HTTP-only function") and the host's sources
say (file names below are under src/WebJobs.Script/ of that repository):

- unpacks the deploy ZIP into an empty folder, keeping each entry's Unix mode as the platform's
  package mount does, resolves `defaultExecutablePath` against the app root
  (Workers/Http/HttpWorkerDescription.cs) and refuses a file without the exec bit up front (the
  real host's process start would fail and count as a worker error; WorkerProcess.cs repairs the
  bit only on Linux Consumption/Flex: pass fix_exec_bit=True to simulate that);
- reads host.json and every <function>/function.json;
- starts the handler with the environment of Workers/Http/HttpWorkerProcess.cs
  (FUNCTIONS_CUSTOMHANDLER_PORT, FUNCTIONS_HTTPWORKER_PORT, FUNCTIONS_CUSTOMHANDLER_WORKER_ID,
  FUNCTIONS_HTTPWORKER_ID, FUNCTIONS_APP_ROOT_PATH) on top of the app settings
  (FUNCTIONS_WORKER_RUNTIME=custom, ...), stdout and stderr captured to files;
- polls `GET http://127.0.0.1:<port>/` every 25 ms until any HTTP answer, 30 s at most
  (DefaultHttpWorkerService.IsWorkerReady, WorkerConstants.cs), and records the time it took;
- invokes functions in payload mode (DefaultHttpWorkerService.ProcessDefaultInvocationRequest):
  `POST /<FunctionName>` with {"Data","Metadata"} built like ScriptInvocationContextExtensions.cs
  and Extensions/HttpRequestExtensions.cs (GetRequestAsJObject), sent with the host's headers and
  a chunked body (ObjectContent has no length), each request written in one piece on a
  TCP_NODELAY socket, connections kept alive and reused like HttpClient's pool;
- judges the answer as the host does: non-2xx, a media type other than JSON, unparseable JSON or
  a body of the wrong shape fail the invocation; Outputs are matched to the declared output
  bindings by exact name; the `http` output is read case-insensitively
  (HttpScriptInvocationResultExtensions.cs); any other output that is a string and valid Base64
  is decoded to bytes before it is written (DefaultHttpWorkerService.cs and
  HttpScriptInvocationResultExtensions.cs, GetBindingValue: the Base64 trap);
- keeps an in-memory Storage queue: queue outputs land in host.queues[<queueName>];
  run_queue() delivers them to the queue-triggered function, redelivers failed invocations with
  DequeueCount + 1 and, at maxDequeueCount (host.json extensions.queues, default 5), moves the
  message to <queueName>-poison;
- plays Event Grid's Storage queue destination: publish_event_grid() writes one message per
  event as Event Grid does (Base64 JSON), decoded by the trigger as host.json's messageEncoding
  says, and run_queue("delivery_report") delivers them;
- forwards raw HTTP requests in forwarding mode (enableForwardingHttpRequest, HTTP-in-and-out
  functions only: ProcessHttpInAndOutInvocationRequest, GetPathValue) to the original path,
  e.g. /api/notification, and returns the handler's answer as is;
- watches the process: exit code 0 is a clean exit the host never restarts from; 200 is an
  intentional restart; any other exit is an error, restarted, and the 3rd error within 30 min
  shuts the host down (WorkerProcess.cs, HttpFunctionInvocationDispatcher.cs).

Typical use (tests/integration, next to conftest.py):

    with FunctionsHost("build/notify-handler.zip", env={"NOTIFY_OUTBOX_DIR": str(tmp)}) as host:
        inv = host.invoke_http("notification", body={"to_email": "a@example.com", ...})
        assert not inv.failed and inv.status_code == 202
        deliveries = host.run_queue()
        assert host.poison == []

Metadata values: the host passes every binding-data value through
GetHttpScriptInvocationContextValue, so strings arrive JSON-encoded once more ("\\"abc\\""),
numbers as strings ("1") and objects as objects. That is metadata_style="host" (the default, as
read in the source). metadata_style="doc" sends the raw values of the documentation's example
instead, so a handler can be run against both.
"""
import base64
import binascii
import datetime
import json
import os
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
import zipfile

HOST_VERSION = "4.1037.0.0"
READY_POLL_S = 0.025  # WorkerConstants.WorkerReadyCheckPollingIntervalMilliseconds
INIT_TIMEOUT_S = 30.0  # HttpWorkerOptions.InitializationTimeout default
JSON_MEDIA_TYPES = ("application/json", "text/json")  # what JsonMediaTypeFormatter reads
RESTART_EXIT_CODE = 200  # WorkerConstants.IntentionalRestartExitCode
ERROR_THRESHOLD = 3  # HttpFunctionInvocationDispatcher.ErrorEventsThreshold (within 30 min)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection",
              "trailer", "content-length"}
# Headers App Service's front end adds to every request before the host sees it (typical values,
# not from the host's source); frontend_headers=False leaves them out.
FRONTEND_HEADERS = [
    ("Max-Forwards", "10"), ("X-ARR-LOG-ID", "6d5f1a9e-0c43-4b6b-9a55-0a4f3c2b1d7e"),
    ("CLIENT-IP", "203.0.113.7:51234"), ("DISGUISED-HOST", "{host}"),
    ("X-SITE-DEPLOYMENT-ID", "func-sim"), ("WAS-DEFAULT-HOSTNAME", "{host}"),
    ("X-Forwarded-Proto", "https"), ("X-AppService-Proto", "https"), ("X-ARR-SSL", "2048|256|..."),
    ("X-Forwarded-TlsVersion", "1.3"), ("X-Forwarded-For", "203.0.113.7:51234"),
    ("X-Original-URL", "{path}"), ("X-WAWS-Unencoded-URL", "{path}"),
]


class HostError(Exception):
    """The host would refuse to start, fail to initialize, or shut down."""


# ---- .NET conversions the host applies ------------------------------------------------------------

_B64_RE = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def dotnet_from_base64(s):
    """Convert.FromBase64String: bytes, or None where .NET throws. White space (space, tab, CR, LF)
    is ignored anywhere; the rest must be a multiple of 4 characters of the Base64 alphabet with
    at most two '=' at the end. "" decodes to b"" (an empty message)."""
    if not isinstance(s, str):
        return None
    t = re.sub(r"[ \t\r\n]", "", s)
    if len(t) % 4 or not _B64_RE.match(t):
        return None
    try:
        return base64.b64decode(t, validate=True)
    except (binascii.Error, ValueError):
        return None


def newtonsoft_utc(dt):
    """A UTC DateTime as Newtonsoft writes it: 2019-10-09T17:58:32.2205399Z (trailing zeros cut)."""
    frac = ("%07d" % (dt.microsecond * 10)).rstrip("0")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ("." + frac if frac else "") + "Z"


def newtonsoft_offset(dt):
    """A DateTimeOffset after DateTimeOffset.Parse(value.ToString()): whole seconds, +00:00."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + "+00:00"


def host_value(v):
    """ScriptInvocationContextExtensions.GetHttpScriptInvocationContextValue: byte[] -> Base64,
    DateTime(Offset) kept, JObject.FromObject(v) when v is an object, else
    JsonConvert.SerializeObject(v) -- so a string comes out quoted once more, a number as text."""
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode()
    if isinstance(v, DateValue):
        return v.text
    if isinstance(v, dict):
        return v
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


class DateValue:
    """A DateTime/DateTimeOffset binding value: passed through as its JSON date text."""

    def __init__(self, text):
        self.text = text


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _sys(method_name):
    return {"MethodName": method_name, "UtcNow": newtonsoft_utc(_now()), "RandGuid": str(uuid.uuid4())}


def _dumps(obj):
    # JsonMediaTypeFormatter: compact, UTF-8, non-ASCII characters not escaped.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


# ---- HTTP/1.1 client with a keep-alive pool, like the host's HttpClient ---------------------------

class HttpResponse:
    """One HTTP answer: status, headers (list of (name, value) in order), body bytes."""

    def __init__(self, status, reason, headers, body, version="HTTP/1.1", framing=""):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body
        self.version, self.framing = version, framing
        self.keep_alive = True

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<HttpResponse %d %r %d bytes>" % (self.status, self.reason, len(self.body))


class _Conn:
    _ids = iter(range(1, 1 << 30))

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.id = next(_Conn._ids)
        self.requests = 0
        self.got_bytes = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def usable(self):
        """An idle pooled connection the server has closed (or sent stray bytes on) is dropped."""
        try:
            r, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not r

    def _fill(self):
        c = self.sock.recv(65536)
        if not c:
            raise EOFError("connection closed by the handler")
        self.got_bytes = True
        self.buf += c

    def _line(self, limit=1 << 16):
        while b"\r\n" not in self.buf:
            if len(self.buf) > limit:
                raise ValueError("line too long")
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _to_close(self):
        try:
            while True:
                self._fill()
        except EOFError:
            pass
        out, self.buf = self.buf, b""
        return out

    def read_response(self, method):
        while True:
            line = self._line().decode("latin-1")
            m = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", line)
            if not m:
                raise ValueError("malformed status line: %r" % line)
            version, status, reason = m.group(1), int(m.group(2)), m.group(3) or ""
            headers = []
            while True:
                h = self._line().decode("latin-1")
                if h == "":
                    break
                k, sep, v = h.partition(":")
                if not sep:
                    raise ValueError("malformed header line: %r" % h)
                headers.append((k.strip(), v.strip()))
            if 100 <= status < 200 and status != 101:
                continue  # interim answer (100 Continue): the real one follows
            break
        resp = HttpResponse(status, reason, headers, b"", version)
        te = (resp.header("Transfer-Encoding") or "").lower()
        conn_hdr = ",".join(resp.header_all("Connection")).lower()
        resp.keep_alive = ("close" not in conn_hdr) if version == "HTTP/1.1" else ("keep-alive" in conn_hdr)
        if method == "HEAD" or status in (204, 304):
            resp.framing = "none"
        elif "chunked" in te:
            resp.framing = "chunked"
            parts = []
            while True:
                size = int(self._line().split(b";")[0].strip(), 16)
                if size == 0:
                    while self._line() != b"":
                        pass  # trailers
                    break
                parts.append(self._exact(size))
                if self._exact(2) != b"\r\n":
                    raise ValueError("chunk not followed by CRLF")
            resp.body = b"".join(parts)
        elif resp.header("Content-Length") is not None:
            resp.framing = "length"
            resp.body = self._exact(int(resp.header("Content-Length")))
        else:
            resp.framing = "close"
            resp.body = self._to_close()
            resp.keep_alive = False
        return resp


class HttpPool:
    """HttpClient's connection pool, simplified: idle keep-alive connections are reused (most
    recent first); a request that fails on a reused connection before any answer byte is sent
    again on a new connection (SocketsHttpHandler's retry of a connection the server closed)."""

    def __init__(self, port, timeout=60.0):
        self.port, self.timeout = port, timeout
        self.idle = []
        self.lock = threading.Lock()
        self.opened = 0
        self.retries = 0

    def _get(self):
        with self.lock:
            while self.idle:
                c = self.idle.pop()
                if c.usable():
                    return c, True
                c.close()
        c = _Conn(self.port, self.timeout)
        with self.lock:
            self.opened += 1
        return c, False

    def send(self, raw, method, timeout=None):
        for _ in range(2):
            conn, reused = self._get()
            conn.sock.settimeout(timeout or self.timeout)
            conn.got_bytes = False
            try:
                conn.sock.sendall(raw)  # the whole request in one write (TCP_NODELAY set)
                resp = conn.read_response(method)
            except (OSError, EOFError, ValueError):
                conn.close()
                if reused and not conn.got_bytes:
                    self.retries += 1
                    continue
                raise
            conn.requests += 1
            resp.conn_id = conn.id
            if resp.keep_alive:
                with self.lock:
                    self.idle.append(conn)
            else:
                conn.close()
            return resp
        raise OSError("request failed twice")

    def close(self):
        with self.lock:
            for c in self.idle:
                c.close()
            self.idle = []


def build_request(method, target, headers, body=b"", chunked=False, chunk_size=None):
    """Request bytes: head, then the body either chunked (chunk_size bytes a chunk, default one
    chunk) or as given (the caller puts Content-Length in headers)."""
    head = "%s %s HTTP/1.1\r\n" % (method, target)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in headers) + "\r\n"
    out = head.encode("latin-1") if all(ord(ch) < 256 for ch in head) else head.encode()
    if not chunked:
        return out + body
    n = chunk_size or max(len(body), 1)
    parts = [out]
    for i in range(0, len(body), n):
        piece = body[i:i + n]
        parts.append(b"%x\r\n" % len(piece) + piece + b"\r\n")
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


# ---- function metadata --------------------------------------------------------------------------

class Function:
    """One function folder: its name and bindings."""

    def __init__(self, name, doc):
        self.name = name
        self.bindings = doc.get("bindings") or []
        for b in self.bindings:
            if not isinstance(b, dict) or not b.get("type") or not b.get("name"):
                raise HostError("function %s: a binding without type or name" % name)
        self.inputs = [b for b in self.bindings if (b.get("direction") or "in").lower() == "in"]
        self.outputs = [b for b in self.bindings if (b.get("direction") or "").lower() == "out"]
        triggers = [b for b in self.inputs if b["type"].lower().endswith("trigger")]
        if len(triggers) != 1:
            raise HostError("function %s: %d triggers" % (name, len(triggers)))
        self.trigger = triggers[0]
        self.trigger_type = self.trigger["type"].lower()

    @property
    def is_http(self):
        return self.trigger_type == "httptrigger"

    @property
    def is_http_in_and_out(self):
        """FunctionMetadataExtensions.IsHttpInAndOutFunction: one httpTrigger in, one http out."""
        return (self.is_http and len(self.inputs) == 1 and len(self.outputs) == 1
                and self.outputs[0]["type"].lower() == "http")

    @property
    def methods(self):
        m = self.trigger.get("methods")
        return [x.upper() for x in m] if m else None

    @property
    def route(self):
        return self.trigger.get("route") or self.name

    @property
    def auth_level(self):
        return (self.trigger.get("authLevel") or "function").lower()

    def match(self, route_prefix, path):
        """Route params when path matches this function's route, else None."""
        pre = "/" + route_prefix.strip("/") if route_prefix.strip("/") else ""
        segs = [s for s in self.route.strip("/").split("/") if s != ""]
        if not path.startswith(pre + "/") and not (path == pre and not segs):
            return None
        rest = [urllib.parse.unquote(s) for s in path[len(pre):].strip("/").split("/") if s != ""]
        params = {}
        for i, s in enumerate(segs):
            m = re.fullmatch(r"\{\*?([A-Za-z_][A-Za-z0-9_]*)(?::[^}?]*)?(\?)?\}", s)
            if m:
                if i < len(rest):
                    params[m.group(1)] = rest[i]
                elif not m.group(2):
                    return None
            elif i >= len(rest) or rest[i].lower() != s.lower():
                return None
        if len(rest) > len(segs):
            return None
        return params


# ---- results ------------------------------------------------------------------------------------

class QueueMessage:
    """A message in the simulated Storage queue, with the metadata the queue trigger reports."""

    def __init__(self, queue, body, source=None, decoded_from_base64=False, origin=None):
        t = _now()
        self.queue = queue
        self.body = body  # bytes: what the queue holds
        self.id = str(uuid.uuid4())
        self.dequeue_count = 0
        self.insertion_time = t
        self.expiration_time = t + datetime.timedelta(days=7)
        self.next_visible_time = t
        self.pop_receipt = base64.b64encode(os.urandom(12)).decode()
        self.source = source  # the output value as the handler returned it
        self.decoded_from_base64 = decoded_from_base64
        self.origin = origin  # invocation id that wrote it, or "poison of <id>"
        self.history = []  # Invocation per delivery

    @property
    def text(self):
        """What a string queue trigger reads: the bytes as UTF-8 (bad bytes replaced)."""
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.text)

    def __repr__(self):
        return "<QueueMessage %s %s dequeue=%d %r>" % (self.queue, self.id[:8], self.dequeue_count,
                                                      self.body[:60])


class Invocation:
    """One payload-mode invocation, judged as the host judges it."""

    def __init__(self, function, invocation_id, payload, raw):
        self.function = function
        self.invocation_id = invocation_id
        self.payload = payload  # what was sent: {"Data", "Metadata"}
        self.request_bytes = raw
        self.response = None  # HttpResponse from the handler
        self.failed = False
        self.reason = ""
        self.result = None  # the parsed answer
        self.outputs = {}
        self.logs = []
        self.return_value = None
        self.res = None  # normalized http output: statusCode, status, headers, body
        self.res_missing = False
        self.queue_messages = []
        self.ignored_outputs = []
        self.elapsed_s = 0.0

    @property
    def status(self):
        return self.response.status if self.response else None

    @property
    def body(self):
        return self.response.body if self.response else b""

    @property
    def status_code(self):
        """The HTTP status the caller gets: res.statusCode, 200 when unset, 500 if failed."""
        if self.failed:
            return 500
        if self.res is None or self.res.get("statusCode") is None:
            return 200
        return self.res["statusCode"]

    def res_json(self):
        b = (self.res or {}).get("body")
        return json.loads(b) if isinstance(b, str) else b

    def log_json(self):
        """The Logs entries parsed as JSON where they are JSON (the handler's log lines)."""
        out = []
        for line in self.logs:
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append(line)
        return out

    def caller_response(self):
        """The HTTP answer the host gives the caller for an HTTP-triggered invocation."""
        if self.failed:
            return HttpResponse(500, "Internal Server Error", [], b"")
        res = self.res or {}
        body = res.get("body")
        if body is None:
            data = b""
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = _dumps(body)
        headers = [(k, str(v)) for k, v in (res.get("headers") or {}).items()]
        return HttpResponse(self.status_code, "", headers, data)

    def fail(self, reason):
        self.failed = True
        self.reason = reason
        return self

    def __repr__(self):
        return "<Invocation %s %s%s>" % (self.function, "FAILED: " + self.reason if self.failed else "ok",
                                        "" if self.failed else " -> %s" % self.status_code)


class Delivery:
    """One delivery of a queue message by run_queue()."""

    def __init__(self, message, dequeue_count, invocation, outcome):
        self.message, self.dequeue_count = message, dequeue_count
        self.invocation, self.outcome = invocation, outcome  # completed | retry | poison

    def __repr__(self):
        return "<Delivery %s #%d %s>" % (self.message.id[:8], self.dequeue_count, self.outcome)


# ---- the host -----------------------------------------------------------------------------------

class FunctionsHost:
    """A function app running one custom handler. See the module text."""

    def __init__(self, zip_path, env=None, workdir=None, start=True, ready_timeout=INIT_TIMEOUT_S,
                 invoke_timeout=60.0, metadata_style="host", fix_exec_bit=False, auto_restart=True,
                 site_name="func-sim", public_host=None, function_key=None, frontend_headers=True,
                 inherit_env=True):
        if metadata_style not in ("host", "doc"):
            raise ValueError("metadata_style is 'host' or 'doc'")
        self.zip_path = os.path.abspath(zip_path)
        self.ready_timeout = ready_timeout
        self.invoke_timeout = invoke_timeout
        self.metadata_style = metadata_style
        self.fix_exec_bit = fix_exec_bit
        self.auto_restart = auto_restart
        self.site_name = site_name
        self.public_host = public_host or site_name + ".azurewebsites.net"
        self.function_key = function_key
        self.frontend_headers = frontend_headers
        self.user_env = dict(env or {})
        self.inherit_env = inherit_env
        self._own_dir = workdir is None
        self.dir = os.path.abspath(workdir or tempfile.mkdtemp(prefix="fnhost-"))
        self.root = os.path.join(self.dir, "wwwroot")
        self.stdout_path = os.path.join(self.dir, "handler.stdout")
        self.stderr_path = os.path.join(self.dir, "handler.stderr")
        self.proc = None
        self.port = None
        self.pool = None
        self.worker_id = None
        self.exit_codes = []  # every exit seen: (code, by_host)
        self.errors = []  # monotonic times of worker errors (exits other than 0 and 200)
        self.restarts = 0
        self.shut_down = False
        self.dead_clean = False  # exited with 0 on its own: the host never restarts it
        self.starts = []  # per start: {"ready_s", "polls", "ready_status"}
        self.ready_s = self.ready_polls = self.ready_status = None
        self.exit_code = None
        self._stopping = False
        self._seen_exit = None
        self._handled = None
        self.queues = {}
        self.invocations = []
        self.lock = threading.RLock()
        self._unpack()
        self._load()
        if start:
            self.start()

    # -- package --------------------------------------------------------------------------------
    def _unpack(self):
        if os.path.exists(self.root) and os.listdir(self.root):
            raise HostError("app root %s is not empty" % self.root)
        os.makedirs(self.root, exist_ok=True)
        self.entries = []
        with zipfile.ZipFile(self.zip_path) as z:
            for info in z.infolist():
                name = info.filename
                parts = name.split("/")
                if name.startswith("/") or "\\" in name or ".." in parts or re.match(r"^[A-Za-z]:", name):
                    raise HostError("unsafe path in the package: %r" % name)
                mode = (info.external_attr >> 16) if info.create_system == 3 else 0
                self.entries.append((name, mode))
                dest = os.path.join(self.root, *[p for p in parts if p])
                if name.endswith("/"):
                    os.makedirs(dest, exist_ok=True)
                    continue
                if stat.S_ISLNK(mode):
                    raise HostError("symbolic link in the package: %r" % name)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with z.open(info) as src, open(dest, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                # Unix modes are kept when the zip recorded them; a zip from Windows has none and
                # its files come out 0644, as the platform's extraction leaves them.
                os.chmod(dest, (mode & 0o777) if mode & 0o777 else 0o644)

    def _load(self):
        hp = os.path.join(self.root, "host.json")
        if not os.path.isfile(hp):
            raise HostError("host.json not found at the root of the package")
        with open(hp, encoding="utf-8-sig") as f:
            self.host_json = json.load(f)
        if self.host_json.get("version") != "2.0":
            raise HostError("host.json: version must be \"2.0\"")
        ch = self.host_json.get("customHandler")
        if not isinstance(ch, dict) or not isinstance(ch.get("description"), dict):
            raise HostError("host.json: no customHandler.description")
        self.description = ch["description"]
        if not self.description.get("defaultExecutablePath"):
            raise HostError("ValidationException: WorkerDescription DefaultExecutablePath cannot be empty")
        self.forwarding = bool(ch.get("enableForwardingHttpRequest", False))
        ext = self.host_json.get("extensions") or {}
        self.route_prefix = (ext.get("http") or {}).get("routePrefix", "api")
        self.queue_settings = ext.get("queues") or {}
        self.functions = {}
        for d in sorted(os.listdir(self.root)):
            fp = os.path.join(self.root, d, "function.json")
            if os.path.isfile(fp):
                with open(fp, encoding="utf-8-sig") as f:
                    self.functions[d] = Function(d, json.load(f))
        if not self.functions:
            raise HostError("no functions found (no <name>/function.json)")
        needs_bundle = any(b["type"].lower() not in ("httptrigger", "http")
                           for fn in self.functions.values() for b in fn.bindings)
        if needs_bundle and not self.host_json.get("extensionBundle"):
            raise HostError("a non-HTTP binding needs extensionBundle in host.json")

    @property
    def max_dequeue_count(self):
        return int(self.queue_settings.get("maxDequeueCount", 5))

    @property
    def visibility_timeout(self):
        v = self.queue_settings.get("visibilityTimeout", "00:00:00")
        h, m, s = v.split(":")
        return datetime.timedelta(hours=int(h), minutes=int(m), seconds=float(s))

    # -- process --------------------------------------------------------------------------------
    def _executable(self):
        exe = self.description["defaultExecutablePath"]
        if self.description.get("defaultWorkerPath"):
            raise HostError("defaultWorkerPath is not simulated")
        path = exe if os.path.isabs(exe) else os.path.join(self.root, exe)
        if os.path.isfile(path):
            mode = os.stat(path).st_mode
            if not mode & stat.S_IXUSR:
                if self.fix_exec_bit:  # AssignUserExecutePermissionsIfNotExists (Linux Consumption/Flex)
                    os.chmod(path, mode | stat.S_IXUSR)
                else:
                    raise HostError("%s is not executable (mode %s): ship it with mode 0755 in the zip"
                                    % (exe, stat.filemode(mode)))
            return path
        found = shutil.which(exe)  # not in the package: a program on PATH (node, python, ...)
        if not found:
            raise HostError("defaultExecutablePath %r is neither in the package nor on PATH" % exe)
        return found

    def _env(self):
        base = {}
        if self.inherit_env:
            skip = ("NOTIFY_", "EMAIL_", "FUNCTIONS_", "COMMUNICATION_", "ACS_", "AzureWebJobs",
                    "WEBSITE_", "IDENTITY_", "APPLICATIONINSIGHTS_", "PORT", "BIND")
            base = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
        else:
            base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        base.update({  # app settings and platform variables the host's process has
            "FUNCTIONS_WORKER_RUNTIME": "custom",
            "FUNCTIONS_EXTENSION_VERSION": "~4",
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
            "AzureWebJobsScriptRoot": self.root,
            "WEBSITE_SITE_NAME": self.site_name,
            "WEBSITE_HOSTNAME": self.public_host,
            "HOME": self.dir,
        })
        base.update(self.user_env)
        base.update({  # HttpWorkerProcess.CreateWorkerProcess
            "FUNCTIONS_CUSTOMHANDLER_PORT": str(self.port),
            "FUNCTIONS_HTTPWORKER_PORT": str(self.port),
            "FUNCTIONS_CUSTOMHANDLER_WORKER_ID": self.worker_id,
            "FUNCTIONS_HTTPWORKER_ID": self.worker_id,
            "FUNCTIONS_APP_ROOT_PATH": self.root,
        })
        return base

    def _args(self, env):
        def expand(s):  # %NAME% from the environment, as Environment.ExpandEnvironmentVariables
            return re.sub(r"%([^%]+)%", lambda m: env.get(m.group(1), m.group(0)), s)
        return [expand(a) for a in (self.description.get("arguments") or [])]

    def _cwd(self):
        wd = self.description.get("workingDirectory")
        if not wd:
            return self.root
        return wd if os.path.isabs(wd) else os.path.join(self.root, wd)

    @staticmethod
    def _free_port():
        with socket.socket() as s:  # WorkerUtilities.GetUnusedTcpPort: bind 127.0.0.1:0
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def start(self):
        """Starts the handler and waits until it answers GET / (HostError if it never does)."""
        with self.lock:
            if self.shut_down:
                raise HostError("the host has shut down")
            exe = self._executable()
            if self.port is None:
                self.port = self._free_port()  # one port for the host's life, kept across restarts
            self.worker_id = str(uuid.uuid4())
            env = self._env()
            self.env = env
            self.pool = HttpPool(self.port, self.invoke_timeout)
            out = open(self.stdout_path, "ab")
            err = open(self.stderr_path, "ab")
            t0 = time.monotonic()
            try:
                self.proc = subprocess.Popen([exe] + self._args(env), cwd=self._cwd(), env=env,
                                             stdin=subprocess.DEVNULL, stdout=out, stderr=err)
            finally:
                out.close()
                err.close()
            self._stopping = False
            self.t_spawn = t0
            self._wait_ready(t0)

    def _wait_ready(self, t0):
        polls = 0
        deadline = t0 + self.ready_timeout
        while True:
            rc = self._note_exit()
            if rc is not None:
                raise HostError("%s exited with code %d before it was ready. stderr: %s"
                                % (self.description["defaultExecutablePath"], rc, self.stderr_tail()))
            polls += 1
            status = None
            try:
                status = self.pool.send(self._probe_request(), "GET", timeout=5.0).status
                ready = True
            except ConnectionRefusedError:
                ready = False  # HttpRequestException with a SocketException inside: not yet
            except socket.timeout:
                ready = False  # accepted but no answer within 5 s: keep waiting until the limit
            except (OSError, EOFError, ValueError):
                ready = True  # any other failure counts as ready for the host
            if ready:
                rec = {"ready_s": time.monotonic() - t0, "polls": polls, "ready_status": status}
                self.starts.append(rec)
                self.ready_s, self.ready_polls, self.ready_status = rec["ready_s"], polls, status
                return
            if time.monotonic() >= deadline:
                self._kill()
                raise HostError("Initializing HttpWorker timed out. (%.1f s, %d polls)"
                                % (self.ready_timeout, polls))
            time.sleep(READY_POLL_S)

    def _probe_request(self):
        return build_request("GET", "/", [("Host", "127.0.0.1:%d" % self.port)])

    def ping(self):
        """The host's periodic liveness ping (PingAsync): GET /, result only logged."""
        return self.pool.send(self._probe_request(), "GET", timeout=5.0)

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_worker(self):
        """The host's reaction to a worker that has exited on its own (WorkerProcess.OnProcessExited).
        Returns True when a worker is running afterwards."""
        with self.lock:
            if self.proc is None or self.shut_down or self.dead_clean:
                return False
            if self._stopping:
                return False
            rc = self.proc.poll()
            if rc is None:
                return True
            self._note_exit()
            if self._handled is self.proc:
                return False
            self._handled = self.proc
            if self.pool:
                self.pool.close()
            if rc == 0:
                self.dead_clean = True  # a clean exit: no restart, later invocations fail
                return False
            if rc != RESTART_EXIT_CODE:
                now = time.monotonic()  # AddOrUpdateErrorBucket: a gap over 30 min starts afresh
                if self.errors and now - self.errors[-1] > 30 * 60:
                    self.errors = []
                self.errors.append(now)
                if len(self.errors) >= ERROR_THRESHOLD:  # RestartWorkerChannel: count < 3 restarts
                    self.shut_down = True
                    raise HostError("Exceeded http worker restart retry count. Shutting down Functions "
                                    "Host (last exit code %d). stderr: %s" % (rc, self.stderr_tail()))
            if not self.auto_restart:
                return False
            self.restarts += 1
            self.start()
            return True

    def _note_exit(self):
        """Records an exit the host did not ask for, once; returns its code (None if none new)."""
        if self.proc is None or self._seen_exit is self.proc or self._stopping:
            return None
        rc = self.proc.poll()
        if rc is None:
            return None
        self._seen_exit = self.proc
        self.exit_codes.append((rc, False))
        return rc

    def exited_on_its_own(self):
        """Exit codes of every exit the host did not cause."""
        with self.lock:
            self._note_exit()
        return [c for c, by_host in self.exit_codes if not by_host]

    def assert_never_exited_zero(self):
        """Under the host an exit with status 0 is never right: the host does not restart it."""
        assert 0 not in self.exited_on_its_own(), \
            "the handler exited with status 0 on its own under the host: " + self.stderr_tail()

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Stops the handler (SIGTERM, then SIGKILL after timeout); returns its exit code."""
        with self.lock:
            rc = None
            if self.proc is not None:
                self._note_exit()
                self._stopping = True
                if self.proc.poll() is None:
                    self.proc.send_signal(sig)
                    try:
                        rc = self.proc.wait(timeout=timeout)
                    except subprocess.TimeoutExpired:
                        self.proc.kill()
                        rc = self.proc.wait()
                    self.exit_codes.append((rc, True))
                else:
                    rc = self.proc.returncode
            if self.pool:
                self.pool.close()
            self.exit_code = rc
            return rc

    def close(self):
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        self.assert_never_exited_zero()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- captured output ------------------------------------------------------------------------
    def stdout(self):
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stderr_tail(self, n=10):
        return " | ".join(self.stderr().splitlines()[-n:])

    def console_logs(self):
        """stdout lines (category Host.Function.Console): JSON objects where they parse."""
        out = []
        for line in self.stdout().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append(line)
        return out

    # -- invocation (payload mode) --------------------------------------------------------------
    def function(self, name):
        try:
            return self.functions[name]
        except KeyError:
            raise HostError("no function %r (have %s)" % (name, ", ".join(self.functions))) from None

    def _headers_for_invocation(self, invocation_id):
        return [
            ("Host", "127.0.0.1:%d" % self.port),
            ("X-Azure-Functions-HostVersion", HOST_VERSION),
            ("X-Azure-Functions-InvocationId", invocation_id),
            ("User-Agent", "Azure-Functions-Host/" + HOST_VERSION),
            ("traceparent", "00-%s-%s-00" % (uuid.uuid4().hex, uuid.uuid4().hex[:16])),
        ]

    def invoke(self, function, data, metadata, chunk_size=None, raw_body=None, invocation_id=None):
        """POST /<function> with {"Data","Metadata"} (or raw_body as is) and judge the answer."""
        fn = self.function(function)
        with self.lock:
            if self.shut_down:
                raise HostError("the host has shut down")
            if self.proc is None:
                raise HostError("the handler is not started (start=False): call start()")
            self.check_worker()
        inv_id = invocation_id or str(uuid.uuid4())
        payload = {"Data": data, "Metadata": metadata}
        body = raw_body if raw_body is not None else _dumps(payload)
        headers = self._headers_for_invocation(inv_id) + [
            ("Transfer-Encoding", "chunked"),
            ("Content-Type", "application/json; charset=utf-8"),
        ]
        raw = build_request("POST", "/" + fn.name, headers, body, chunked=True, chunk_size=chunk_size)
        inv = Invocation(fn.name, inv_id, payload, raw)
        self.invocations.append(inv)
        if self.dead_clean:
            return inv.fail("the handler exited with code 0 earlier; the host does not restart it")
        t0 = time.monotonic()
        try:
            inv.response = self.pool.send(raw, "POST", timeout=self.invoke_timeout)
        except (OSError, EOFError, ValueError) as e:
            inv.elapsed_s = time.monotonic() - t0
            time.sleep(0.05)
            self.check_worker()
            return inv.fail("no answer from the handler: %s: %s" % (type(e).__name__, e))
        inv.elapsed_s = time.monotonic() - t0
        self._judge(fn, inv)
        return inv

    def _judge(self, fn, inv):
        r = inv.response
        if not 200 <= r.status <= 299:
            return inv.fail("EnsureSuccessStatusCode: handler answered %d" % r.status)
        ctype = (r.header("Content-Type") or "").split(";")[0].strip().lower()
        if ctype not in JSON_MEDIA_TYPES:
            return inv.fail("No MediaTypeFormatter is available to read an object of type "
                            "'HttpScriptInvocationResult' from content with media type '%s'" % (ctype or "none"))
        text = r.body.decode("utf-8", "replace")
        if not text.strip():
            return inv.fail("empty answer: ReadAsAsync gives null and the host never completes the "
                            "invocation (it times out after functionTimeout)")
        try:
            result = json.loads(text)
        except ValueError as e:
            return inv.fail("Invalid HttpResponseMessage: %s" % e)
        if result is None:
            return inv.fail("the answer is JSON null: the host never completes the invocation "
                            "(it times out after functionTimeout)")
        if not isinstance(result, dict):
            return inv.fail("Invalid HttpResponseMessage: the answer is not a JSON object")
        inv.result = result
        props = {k.lower(): v for k, v in result.items()}  # Newtonsoft: property names ignore case
        outputs, logs = props.get("outputs"), props.get("logs")
        inv.return_value = props.get("returnvalue")
        if outputs is not None and not isinstance(outputs, dict):
            return inv.fail("Invalid HttpResponseMessage: Outputs is not an object")
        if logs is not None:
            if not isinstance(logs, list) or any(isinstance(x, (dict, list)) for x in logs):
                return inv.fail("Invalid HttpResponseMessage: Logs is not an array of strings")
            inv.logs = [x if isinstance(x, str) else ("" if x is None else json.dumps(x)) for x in logs]
        inv.outputs = outputs or {}
        declared = {b["name"] for b in fn.outputs}
        inv.ignored_outputs = sorted(k for k in inv.outputs if k not in declared)
        pending = []
        for b in fn.outputs:
            name, btype = b["name"], b["type"].lower()
            if btype == "http" and name != "$return":
                if name not in inv.outputs:
                    inv.res, inv.res_missing = {}, True
                    continue
                res = self._http_output(inv.outputs[name])
                if isinstance(res, str):
                    return inv.fail(res)
                inv.res = res
                continue
            value = inv.return_value if name == "$return" else inv.outputs.get(name)
            if value is None:
                continue
            if btype == "queue":
                pending.extend(self._queue_messages(b, value, inv))
        for m in pending:  # outputs are written only when the invocation succeeded
            self.queues.setdefault(m.queue, []).append(m)
            inv.queue_messages.append(m)
        return inv

    @staticmethod
    def _http_output(value):
        """GetHttpOutputBindingResponse: value.ToString() must deserialize to a JSON object with
        optional statusCode, status, body, headers (names in any case)."""
        if isinstance(value, (dict, list)):
            text = json.dumps(value)
        elif isinstance(value, bool):
            text = "True" if value else "False"
        else:
            text = str(value)
        try:
            obj = json.loads(text)
        except ValueError:
            return "http output is not valid JSON (InvalidOperationException)"
        if not isinstance(obj, dict):
            return "http output is not a JSON object (JsonSerializationException)"
        res = {"statusCode": None, "status": None, "body": None, "headers": {}}
        for k, v in obj.items():
            lk = k.lower()
            if lk == "statuscode" and v is not None:
                try:
                    res["statusCode"] = int(str(v))
                except ValueError:
                    return "http output statusCode %r is not an integer" % (v,)
            elif lk == "status":
                res["status"] = v
            elif lk == "body":
                res["body"] = v
            elif lk == "headers":
                if v is not None and not isinstance(v, dict):
                    return "http output headers is not an object"
                res["headers"] = v or {}
        return res

    def _queue_messages(self, binding, value, inv):
        """GetBindingValue (the Base64 rule), then the queue output binding: an array is one
        message per element; a string is the message text; an object is written as JSON."""
        qname = binding.get("queueName") or binding["name"]
        binary = (binding.get("dataType") or "").lower() == "binary"
        decoded = None if binary else dotnet_from_base64(value)
        if decoded is not None:
            return [QueueMessage(qname, decoded, value, True, inv.invocation_id)]
        items = value if isinstance(value, list) else [value]
        out = []
        for it in items:
            if it is None:
                continue
            if isinstance(it, str):
                body = it.encode()
            elif isinstance(it, (dict, list)):
                body = _dumps(it)
            elif isinstance(it, bool):
                body = b"true" if it else b"false"
            else:
                body = str(it).encode()
            out.append(QueueMessage(qname, body, it, False, inv.invocation_id))
        return out

    def _meta(self, items, function):
        """Binding data -> Metadata, as the host converts it (metadata_style)."""
        md = {}
        for k, v in items.items():
            if v is None:
                continue
            md[k] = host_value(v) if self.metadata_style == "host" else (v.text if isinstance(v, DateValue) else v)
        md["sys"] = _sys(function)
        return md

    def http_request_data(self, fn, method, path, headers, body, query, params, identities, content_length):
        """Data.req (GetRequestAsJObject) and the trigger's binding data, for an HTTP request."""
        if isinstance(body, (dict, list)):
            body = _dumps(body)
        elif isinstance(body, str):
            body = body.encode()
        body = body or b""
        query = query or {}
        qpairs = [(k, ",".join(v) if isinstance(v, (list, tuple)) else str(v)) for k, v in query.items()]
        qs = ("?" + urllib.parse.urlencode(qpairs)) if qpairs else ""
        hdrs = [("Host", self.public_host)]
        if self.frontend_headers:
            hdrs += [(k, v.format(host=self.public_host, path=path + qs)) for k, v in FRONTEND_HEADERS]
        given = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        names = {k.lower() for k, _ in given}
        hdrs = [(k, v) for k, v in hdrs if k.lower() not in names] + given
        if body and "content-type" not in names:
            hdrs.append(("Content-Type", "application/json"))
        if body and content_length and "content-length" not in names:
            hdrs.append(("Content-Length", str(len(body))))
        if body and not content_length and "transfer-encoding" not in names:
            hdrs.append(("Transfer-Encoding", "chunked"))
        hobj = {}
        for k, v in hdrs:
            hobj.setdefault(k, []).append(v)
        req = {"Url": "https://%s%s%s" % (self.public_host, path, qs), "Method": method.upper(),
               "Query": dict(qpairs), "Headers": hobj, "Params": dict(params or {}),
               "Identities": identities if identities is not None else self._identities(fn)}
        clen = next((v for k, v in hdrs if k.lower() == "content-length"), None)
        if clen is not None and int(clen) > 0:  # Body only when Content-Length > 0
            ctype = next((v for k, v in hdrs if k.lower() == "content-type"), "").lower()
            if ctype.startswith("application/octet-stream") or "multipart/" in ctype:
                req["Body"] = base64.b64encode(body).decode()  # byte[] -> Base64 in JSON
            else:
                req["Body"] = body.decode("utf-8", "replace")
        binding = {}
        if clen is not None and int(clen) > 0:
            try:
                j = json.loads(body)
            except ValueError:
                j = None
            if isinstance(j, dict):  # Utility.ApplyBindingData: the body's top-level properties
                for k, v in j.items():
                    if isinstance(v, (dict, list)) or v is None:
                        binding[k] = v
                    elif isinstance(v, bool):
                        binding[k] = "True" if v else "False"
                    else:
                        binding[k] = str(v)
        for k, v in qpairs:
            if k.lower() != "code":
                binding[k] = v
        binding.update(params or {})
        binding["Query"] = dict(qpairs)
        binding["Headers"] = {k: ",".join(v) for k, v in hobj.items()}
        return req, binding, body, hdrs

    def _identities(self, fn):
        if fn.auth_level == "anonymous":
            return []
        level = "Admin" if fn.auth_level == "admin" else "Function"
        return [{"AuthenticationType": "WebJobsAuthLevel", "IsAuthenticated": True, "Actor": None,
                 "BootstrapContext": None, "Label": None, "Name": None,
                 "NameClaimType": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
                 "RoleClaimType": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
                 "Claims": [{"Type": "http://schemas.microsoft.com/2017/07/functions/claims/authlevel",
                             "Value": level},
                            {"Type": "http://schemas.microsoft.com/2017/07/functions/claims/keyid",
                             "Value": "default"}]}]

    def invoke_http(self, function, method=None, path=None, headers=None, body=None, query=None,
                    params=None, identities=None, content_length=True, chunk_size=None):
        """Invokes an HTTP-triggered function in payload mode. path defaults to the route with
        params filled in; content_length=False simulates a chunked upload (the host then omits
        Body). Returns an Invocation."""
        fn = self.function(function)
        if not fn.is_http:
            raise HostError("%s is not HTTP-triggered" % function)
        if self.forwarding and fn.is_http_in_and_out:
            raise HostError("%s is forwarded as raw HTTP in this package: use forward()" % function)
        method = (method or (fn.methods or ["GET"])[0]).upper()
        if fn.methods and method not in fn.methods:
            raise HostError("%s does not accept %s (function.json methods %s)" % (function, method, fn.methods))
        params = dict(params or {})
        if path is None:
            route = re.sub(r"\{\*?([A-Za-z_][A-Za-z0-9_]*)[^}]*\}",
                           lambda m: urllib.parse.quote(str(params.get(m.group(1), "")), safe=""), fn.route)
            path = "/" + "/".join(x for x in (self.route_prefix.strip("/"), route.strip("/")) if x)
        req, binding, _, _ = self.http_request_data(fn, method, path, headers, body, query, params,
                                                    identities, content_length)
        return self.invoke(function, {fn.trigger["name"]: req}, self._meta(binding, function),
                           chunk_size=chunk_size)

    def invoke_queue(self, function, message_text, dequeue_count=1, message_id=None, insertion_time=None,
                     expiration_time=None, next_visible_time=None, pop_receipt=None, chunk_size=None):
        """Invokes a queue-triggered function with one message (str or bytes)."""
        fn = self.function(function)
        if fn.trigger_type != "queuetrigger":
            raise HostError("%s is not queue-triggered" % function)
        if isinstance(message_text, (bytes, bytearray)):
            text = bytes(message_text).decode("utf-8", "replace")  # message.Body.ToString()
        else:
            text = message_text
        t = insertion_time or _now()
        binary = (fn.trigger.get("dataType") or "").lower() == "binary"
        if binary:
            value = base64.b64encode(text.encode() if isinstance(message_text, str) else bytes(message_text)).decode()
        else:
            value = host_value(text) if self.metadata_style == "host" else text
        binding = {
            "DequeueCount": int(dequeue_count),
            "ExpirationTime": DateValue(newtonsoft_offset(expiration_time or t + datetime.timedelta(days=7))),
            "Id": message_id or str(uuid.uuid4()),
            "InsertionTime": DateValue(newtonsoft_offset(t)),
            "NextVisibleTime": DateValue(newtonsoft_offset(next_visible_time or _now() + self.visibility_timeout)),
            "PopReceipt": pop_receipt or base64.b64encode(os.urandom(12)).decode(),
        }
        return self.invoke(function, {fn.trigger["name"]: value}, self._meta(binding, function),
                           chunk_size=chunk_size)

    # -- the queue ------------------------------------------------------------------------------
    def _queue_function(self, function=None):
        """The named function, else the queue-triggered function that reads a queue the package
        itself writes (the worker of the queued flow), else the first queue-triggered one."""
        if function:
            return self.function(function)
        triggered = [fn for fn in self.functions.values() if fn.trigger_type == "queuetrigger"]
        written = {b.get("queueName") for fn in self.functions.values() for b in fn.outputs
                   if b["type"].lower() == "queue"}
        for fn in triggered:
            if fn.trigger.get("queueName") in written:
                return fn
        if triggered:
            return triggered[0]
        raise HostError("no queue-triggered function in the package")

    @property
    def message_encoding(self):
        """host.json extensions.queues.messageEncoding: "base64" (the default of the Storage
        queues extension 5.x, QueuesOptions.MessageEncoding) or "none"."""
        return str(self.queue_settings.get("messageEncoding", "base64")).lower()

    def publish_event_grid(self, events, queue="delivery-reports", eg_encoding="base64"):
        """Event Grid delivering events to a Storage queue destination: one queue message per
        event, the event's JSON Base64-encoded (eg_encoding="base64", what Event Grid writes:
        the Azure SDK for Python reads such queues with BinaryBase64DecodePolicy,
        sdk/eventgrid/azure-eventgrid/samples/basic/consume_samples/
        consume_cloud_events_from_storage_queue.py; MicrosoftDocs/azure-docs issue 102923), or
        as plain JSON text (eg_encoding="none", what older docs described). `events` is a list of
        dicts, or of str/bytes written as they are (garbage). The trigger then decodes as
        host.json says: with messageEncoding "base64" a message that is not Base64 is never
        handed to the function but moved to <queue>-poison at once (the extension's
        MessageDecodingFailed handler, Microsoft.Azure.WebJobs.Extensions.Storage.Queues,
        QueueServiceClientProvider.cs). Returns the QueueMessages."""
        out = []
        for ev in events:
            raw = ev if isinstance(ev, (bytes, bytearray)) else (
                ev.encode() if isinstance(ev, str) else json.dumps(ev).encode())
            wire = base64.b64encode(raw) if eg_encoding == "base64" else bytes(raw)
            body, undecodable = wire, False
            if self.message_encoding == "base64":  # Convert.FromBase64String's rules
                body = dotnet_from_base64(wire.decode("latin-1"))
                undecodable = body is None
                if undecodable:
                    body = wire  # what the poison queue gets: the message as it is
            m = QueueMessage(queue, body, ev, eg_encoding == "base64", "event grid")
            m.wire, m.undecodable = wire, undecodable
            self.queues.setdefault(queue, []).append(m)
            out.append(m)
        return out

    @property
    def queue_name(self):
        return self._queue_function().trigger["queueName"]

    @property
    def queue(self):
        """Messages waiting in the queue the queue-triggered function reads."""
        return self.queues.setdefault(self.queue_name, [])

    @property
    def poison(self):
        """What <queue>-poison holds."""
        return self.queues.setdefault(self.queue_name + "-poison", [])

    def enqueue(self, body, queue=None):
        """Puts a message in a queue as another producer would (str or bytes)."""
        q = queue or self.queue_name
        m = QueueMessage(q, body.encode() if isinstance(body, str) else bytes(body), body, False, "enqueue")
        self.queues.setdefault(q, []).append(m)
        return m

    def run_queue(self, function=None, max_dequeue=None, max_deliveries=1000):
        """Delivers the queue's messages to the queue-triggered function until the queue is empty:
        a failed invocation makes the message visible again (after visibilityTimeout, simulated)
        with DequeueCount + 1; a message that fails at maxDequeueCount goes to <queue>-poison.
        Returns the list of Delivery."""
        fn = self._queue_function(function)
        qname = fn.trigger["queueName"]
        maxd = int(max_dequeue or self.max_dequeue_count)
        q = self.queues.setdefault(qname, [])
        poison = self.queues.setdefault(qname + "-poison", [])
        log = []
        while q and len(log) < max_deliveries:
            m = q.pop(0)
            if m.dequeue_count >= maxd:  # already at the limit: straight to poison
                poison.append(self._poison_copy(m))
                continue
            if getattr(m, "undecodable", False):  # not Base64 under messageEncoding "base64"
                poison.append(self._poison_copy(m))
                log.append(Delivery(m, m.dequeue_count, None, "poison-undecodable"))
                continue
            m.dequeue_count += 1
            m.pop_receipt = base64.b64encode(os.urandom(12)).decode()
            m.next_visible_time = _now() + self.visibility_timeout
            inv = self.invoke_queue(fn.name, m.body, m.dequeue_count, m.id, m.insertion_time,
                                    m.expiration_time, m.next_visible_time, m.pop_receipt)
            m.history.append(inv)
            if not inv.failed:
                outcome = "completed"
            elif m.dequeue_count >= maxd:
                outcome = "poison"
                poison.append(self._poison_copy(m))
            else:
                outcome = "retry"
                q.append(m)
            log.append(Delivery(m, m.dequeue_count, inv, outcome))
        return log

    @staticmethod
    def _poison_copy(m):
        p = QueueMessage(m.queue + "-poison", m.body, m.source, m.decoded_from_base64, "poison of " + m.id)
        p.original = m
        return p

    # -- HTTP front door and forwarding ---------------------------------------------------------
    def route(self, method, path):
        """(Function, params) the host routes method + path to, or (None, None)."""
        path = urllib.parse.urlsplit(path).path
        for fn in self.functions.values():
            if not fn.is_http:
                continue
            params = fn.match(self.route_prefix, path)
            if params is not None and (not fn.methods or method.upper() in fn.methods):
                return fn, params
        return None, None

    def request(self, method, target, headers=None, body=b"", content_length=True):
        """A client's request to https://<app>/<target>, answered as the host would: routing
        (404), the function key when function_key is set (401), then forwarding or payload mode.
        Returns an HttpResponse."""
        parts = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        fn, params = self.route(method, parts.path)
        if fn is None:
            return HttpResponse(404, "Not Found", [], b"")
        given = dict(headers or {})
        if self.function_key and fn.auth_level != "anonymous":
            key = query.get("code") or next((v for k, v in given.items() if k.lower() == "x-functions-key"), None)
            if key != self.function_key:
                return HttpResponse(401, "Unauthorized", [], b"")
        if self.forwarding and fn.is_http_in_and_out:
            return self.forward(method, parts.path, given, body, query)
        inv = self.invoke_http(fn.name, method, parts.path, given, body, query, params,
                               content_length=content_length)
        return inv.caller_response()

    def forward(self, method, path, headers=None, body=b"", query=None):
        """Forwarding mode (ProcessHttpInAndOutInvocationRequest): the request rebuilt with the same
        method, headers and query at the original path, the body only when it has a length,
        plus the host's headers; the handler's answer is returned as is (no redirects followed)."""
        if not self.forwarding:
            raise HostError("enableForwardingHttpRequest is false in host.json")
        fn, _ = self.route(method, path)
        if fn is None or not fn.is_http_in_and_out:
            raise HostError("no HTTP-in-and-out function routes %s %s" % (method, path))
        with self.lock:
            self.check_worker()
        if isinstance(body, str):
            body = body.encode()
        elif isinstance(body, (dict, list)):
            body = _dumps(body)
        body = body or b""
        inv_id = str(uuid.uuid4())
        given = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        hdrs = []
        host_hdr = next((v for k, v in given if k.lower() == "host"), self.public_host)
        hdrs.append(("Host", host_hdr))
        if self.frontend_headers:
            qs0 = ("?" + urllib.parse.urlencode(query)) if query else ""
            names = {k.lower() for k, _ in given}
            hdrs += [(k, v.format(host=self.public_host, path=path + qs0)) for k, v in FRONTEND_HEADERS
                     if k.lower() not in names]
        ua = None
        ctype = None
        for k, v in given:
            lk = k.lower()
            if lk in HOP_BY_HOP or lk == "host":
                continue
            if lk == "user-agent":
                ua = v
                continue
            if lk == "content-type":
                ctype = v
                continue
            hdrs.append((k, v))
        hdrs.append(("X-Azure-Functions-HostVersion", HOST_VERSION))
        hdrs.append(("X-Azure-Functions-InvocationId", inv_id))
        hdrs.append(("User-Agent", ((ua + " ") if ua else "") + "Azure-Functions-Host/" + HOST_VERSION))
        if body:
            hdrs.append(("Content-Length", str(len(body))))
            if ctype:
                hdrs.append(("Content-Type", ctype))
        qs = ("?" + urllib.parse.urlencode(query)) if query else ""
        raw = build_request(method.upper(), path + qs, hdrs, body if body else b"")
        resp = self.pool.send(raw, method.upper(), timeout=self.invoke_timeout)
        resp.invocation_id = inv_id
        resp.request_bytes = raw
        return resp
