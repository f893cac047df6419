"""The Functions-host simulator (fnhost.py) proven on its own, against a scriptable fake handler
(fakes/fake_handler.py) packed with scripts/zip.sh and the real infra/functions*/ metadata: unpack,
exec-bit refusal, start-up environment, 25 ms readiness polling and its limit, chunked invocations
written in one piece on reused connections, the host's verdict on answers, the Base64 rule, queue
redelivery and the poison queue, forwarding, and the host's reaction to exits."""
import base64
import json
import math
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
import zipfile

import pytest

import fnhost
from fnhost import FunctionsHost, HostError, dotnet_from_base64

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FAKE = os.path.join(HERE, "fakes", "fake_handler.py")


def fake_binary(d):
    """The fake as an executable file whose #! names this interpreter."""
    with open(FAKE) as f:
        text = f.read().split("\n", 1)[1]
    p = os.path.join(str(d), "fake_handler")
    with open(p, "w") as f:
        f.write("#!" + sys.executable + "\n" + text)
    os.chmod(p, 0o755)
    return p


def build_zip(d, functions):
    out = os.path.join(str(d), os.path.basename(functions) + ".zip")
    r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "zip.sh"), out, fake_binary(d),
                        os.path.join(ROOT, functions)], capture_output=True, text=True,
                       env=dict(os.environ, ZIP_STAGE_ROOT=str(d)), timeout=60)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def zips(tmp_path_factory):
    d = tmp_path_factory.mktemp("zips")
    return {"payload": build_zip(d, "infra/functions"), "http": build_zip(d, "infra/functions-http")}


@pytest.fixture
def make_host(tmp_path, zips):
    """make_host(kind="payload", **kwargs) -> a started FunctionsHost; stopped at teardown."""
    hosts = []

    def _make(kind="payload", zip_path=None, **kw):
        kw.setdefault("workdir", str(tmp_path / ("host%d" % len(hosts))))
        h = FunctionsHost(zip_path or zips[kind], **kw)
        hosts.append(h)
        return h

    yield _make
    for h in hosts:
        h.stop()


@pytest.fixture(scope="module")
def shared(tmp_path_factory, zips):
    """One payload-mode host for the tests that only invoke; FAKE_RECORD logs every request."""
    d = tmp_path_factory.mktemp("shared")
    rec = str(d / "requests.jsonl")
    h = FunctionsHost(zips["payload"], env={"FAKE_RECORD": rec}, workdir=str(d / "host"))
    h.record_path = rec
    yield h
    assert h.stop() == 0
    h.assert_never_exited_zero()


@pytest.fixture
def host(shared):
    shared.queues.clear()
    return shared


def records(h):
    with open(h.record_path) as f:
        return [json.loads(line) for line in f]


def script_body(**script):
    return json.dumps(script)


def hdr(headers, name):
    return [v for k, v in headers if k.lower() == name.lower()]


# ---- package and start-up ---------------------------------------------------------------------

def test_unpacks_package_and_starts_with_host_environment(make_host, tmp_path, monkeypatch):
    monkeypatch.setenv("NOTIFY_API_KEY", "leaked-from-outside")
    dump = str(tmp_path / "env.json")
    h = make_host(env={"FAKE_ENV_DUMP": dump, "EMAIL_SENDER": "a@example.com"})
    assert sorted(h.functions) == ["delivery_report", "notification", "notification_status",
                                   "notification_worker"]
    # the default queue function reads the queue the package writes (not Event Grid's)
    assert h.queue_name == "notifications" and h.message_encoding == "base64"
    assert stat.S_IMODE(os.stat(os.path.join(h.root, "handler")).st_mode) == 0o755
    assert os.path.isfile(os.path.join(h.root, "host.json"))
    assert not h.forwarding and h.route_prefix == "api" and h.max_dequeue_count == 5
    with open(dump) as f:
        seen = json.load(f)
    env = seen["env"]
    assert env["FUNCTIONS_CUSTOMHANDLER_PORT"] == env["FUNCTIONS_HTTPWORKER_PORT"] == str(h.port)
    assert env["FUNCTIONS_CUSTOMHANDLER_WORKER_ID"] == env["FUNCTIONS_HTTPWORKER_ID"] == h.worker_id
    assert env["FUNCTIONS_APP_ROOT_PATH"] == h.root
    assert env["FUNCTIONS_WORKER_RUNTIME"] == "custom"
    assert env["EMAIL_SENDER"] == "a@example.com"
    assert "NOTIFY_API_KEY" not in env  # only the app settings given, never the test's own
    assert os.path.realpath(seen["cwd"]) == os.path.realpath(h.root)
    assert h.ready_status == 200 and h.alive()


def _zip_with(path, handler_mode, create_system=3, extra=()):
    with zipfile.ZipFile(path, "w") as z:
        with open(fake_binary(os.path.dirname(path))) as f:
            fake = f.read()
        entries = [("handler", fake, handler_mode), ("host.json",
                   open(os.path.join(ROOT, "infra/functions/host.json")).read(), 0o644)]
        for fn in ("notification", "notification_status", "notification_worker"):
            entries.append((fn + "/function.json",
                            open(os.path.join(ROOT, "infra/functions", fn, "function.json")).read(), 0o644))
        for name, data, mode in list(entries) + list(extra):
            zi = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            zi.create_system = create_system
            zi.external_attr = ((stat.S_IFREG | mode) << 16) if create_system == 3 else 0
            z.writestr(zi, data)
    return path


def test_refuses_handler_without_exec_bit(tmp_path, make_host):
    z = _zip_with(str(tmp_path / "noexec.zip"), 0o644)
    with pytest.raises(HostError, match="not executable"):
        FunctionsHost(z, workdir=str(tmp_path / "a"))
    # Linux Consumption and Flex add the bit themselves (WorkerProcess.cs): fix_exec_bit=True.
    h = make_host(zip_path=z, fix_exec_bit=True)
    assert h.alive()


def test_refuses_zip_made_without_unix_modes(tmp_path):
    z = _zip_with(str(tmp_path / "windows.zip"), 0o755, create_system=0)
    with pytest.raises(HostError, match="not executable"):
        FunctionsHost(z, workdir=str(tmp_path / "a"))


def test_refuses_unsafe_paths_and_missing_host_json(tmp_path):
    z = _zip_with(str(tmp_path / "evil.zip"), 0o755, extra=[("../evil", "x", 0o644)])
    with pytest.raises(HostError, match="unsafe path"):
        FunctionsHost(z, workdir=str(tmp_path / "a"))
    z2 = str(tmp_path / "nohost.zip")
    with zipfile.ZipFile(z2, "w") as zf:
        zf.writestr("handler", "x")
    with pytest.raises(HostError, match="host.json"):
        FunctionsHost(z2, workdir=str(tmp_path / "b"))


def test_readiness_polls_every_25ms_and_records_the_time(make_host):
    h = make_host(env={"FAKE_DELAY_MS": "300"})
    assert 0.3 <= h.ready_s < 1.5
    assert h.ready_polls >= 6
    assert 0.02 <= h.ready_s / h.ready_polls <= 0.08  # one GET / every 25 ms (+ connect time)
    assert h.ping().status == 200


def test_readiness_limit(tmp_path, zips):
    t0 = time.monotonic()
    with pytest.raises(HostError, match="Initializing HttpWorker timed out"):
        FunctionsHost(zips["payload"], env={"FAKE_DELAY_MS": "5000"}, ready_timeout=0.3,
                      workdir=str(tmp_path / "a"))
    assert time.monotonic() - t0 < 2.0


def test_exit_before_ready_reports_stderr(tmp_path, zips):
    with pytest.raises(HostError, match=r"exited with code 2 .*bad configuration"):
        FunctionsHost(zips["payload"], env={"FAKE_EXIT_AT_START": "2"}, workdir=str(tmp_path / "a"))


# ---- payload mode: the request ------------------------------------------------------------------

def test_http_invocation_payload_and_headers(host):
    body = {"hello": "世界", "n": 5, "list": [1, 2]}
    inv = host.invoke_http("notification", body=body, query={"x": "1", "code": "fkey"},
                           headers={"Idempotency-Key": "k1"})
    assert not inv.failed, inv.reason
    assert inv.status_code == 200
    echo = inv.res_json()
    req = echo["payload"]["Data"]["req"]
    assert req["Url"] == "https://func-sim.azurewebsites.net/api/notification?x=1&code=fkey"
    assert req["Method"] == "POST"
    assert req["Query"] == {"x": "1", "code": "fkey"}
    assert req["Params"] == {}
    assert req["Headers"]["Idempotency-Key"] == ["k1"]
    assert req["Headers"]["Content-Type"] == ["application/json"]
    assert all(isinstance(v, list) for v in req["Headers"].values())
    assert json.loads(req["Body"]) == body and "世界" in req["Body"]  # a string, UTF-8 as is
    assert isinstance(req["Identities"], list)
    md = echo["payload"]["Metadata"]
    assert md["sys"]["MethodName"] == "notification"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", md["sys"]["UtcNow"])
    # Binding data goes through GetHttpScriptInvocationContextValue: strings quoted once more.
    assert md["hello"] == '"世界"' and md["n"] == '"5"' and md["list"] == "[1,2]"
    assert md["x"] == '"1"' and "code" not in md
    assert md["Query"] == {"x": "1", "code": "fkey"}
    assert md["Headers"]["Idempotency-Key"] == "k1"
    # The request as the handler saw it: chunked, the host's headers, no Content-Length.
    assert echo["framing"] == "chunked" and echo["chunks"] == 1
    heads = echo["headers"]
    assert hdr(heads, "X-Azure-Functions-InvocationId") == [inv.invocation_id]
    assert hdr(heads, "X-Azure-Functions-HostVersion") == [fnhost.HOST_VERSION]
    assert hdr(heads, "User-Agent") == ["Azure-Functions-Host/" + fnhost.HOST_VERSION]
    assert hdr(heads, "Content-Type") == ["application/json; charset=utf-8"]
    assert hdr(heads, "Transfer-Encoding") == ["chunked"] and not hdr(heads, "Content-Length")
    assert echo["function"] == "notification"
    assert inv.logs == [json.dumps({"event": "fake.invoked", "function": "notification"})]
    assert inv.log_json() == [{"event": "fake.invoked", "function": "notification"}]


def test_chunked_body_split_and_written_in_one_piece(host, monkeypatch):
    sends = []
    real_init = fnhost._Conn.__init__

    class Spy:
        def __init__(self, sock):
            self._s = sock

        def sendall(self, data):
            sends.append((data, self._s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)))
            return self._s.sendall(data)

        def __getattr__(self, name):
            return getattr(self._s, name)

    def init(self, port, timeout):
        real_init(self, port, timeout)
        self.sock = Spy(self.sock)

    monkeypatch.setattr(fnhost._Conn, "__init__", init)
    host.pool.close()  # new connections, spied on
    body = {"text": "x" * 100}
    inv = host.invoke_http("notification", body=body, chunk_size=7)
    assert not inv.failed, inv.reason
    echo = inv.res_json()
    n = len(fnhost._dumps(inv.payload))
    assert echo["framing"] == "chunked" and echo["chunks"] == math.ceil(n / 7)
    assert len(sends) == 1 and sends[0][0] == inv.request_bytes and sends[0][1] != 0
    assert inv.request_bytes.endswith(b"\r\n0\r\n\r\n")


def test_body_omitted_when_the_caller_sent_no_length(host):
    inv = host.invoke_http("notification", body={"a": "b"}, content_length=False)
    req = inv.res_json()["payload"]["Data"]["req"]
    assert "Body" not in req and req["Headers"]["Transfer-Encoding"] == ["chunked"]
    assert "a" not in inv.res_json()["payload"]["Metadata"]


def test_route_params_and_doc_style_metadata(host, make_host):
    inv = host.invoke_http("notification_status", params={"id": "abc-1"})
    p = inv.res_json()["payload"]
    assert p["Data"]["req"]["Method"] == "GET"
    assert p["Data"]["req"]["Url"].endswith("/api/notification/abc-1")
    assert p["Data"]["req"]["Params"] == {"id": "abc-1"} and "Body" not in p["Data"]["req"]
    assert p["Metadata"]["id"] == '"abc-1"'
    h = make_host(metadata_style="doc")
    p = h.invoke_http("notification_status", params={"id": "abc-1"}).res_json()["payload"]
    assert p["Metadata"]["id"] == "abc-1"
    with pytest.raises(HostError, match="does not accept"):
        host.invoke_http("notification", method="GET")


def test_keep_alive_connection_reused_like_httpclient(host):
    host.pool.close()
    opened = host.pool.opened
    invs = [host.invoke_http("notification", body={"i": i}) for i in range(5)]
    assert all(not i.failed for i in invs)
    assert host.pool.opened == opened + 1
    assert len({i.res_json()["conn"] for i in invs}) == 1
    conns = {r["conn"] for r in records(host)[-5:]}
    assert len(conns) == 1


def test_concurrent_invocations(host):
    results = []

    def one(i):
        results.append(host.invoke_http("notification", body={"sleep_ms": 50, "i": i}))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(not r.failed for r in results)
    assert time.monotonic() - t0 < 0.4 * 8  # in parallel, on several connections
    assert len({r.res_json()["conn"] for r in results}) > 1


def test_idle_connection_closed_by_server_is_replaced():
    """A pooled connection the server closed is not used again (no lost request)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]

    def serve():
        for _ in range(2):
            c, _ = srv.accept()
            c.recv(65536)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            c.close()  # closes without saying Connection: close

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    pool = fnhost.HttpPool(port, timeout=5)
    req = fnhost.build_request("GET", "/", [("Host", "x")])
    assert pool.send(req, "GET").body == b"ok"
    time.sleep(0.05)
    assert pool.send(req, "GET").body == b"ok"
    assert pool.opened == 2
    pool.close()
    srv.close()


# ---- payload mode: the host's verdict -----------------------------------------------------------

@pytest.mark.parametrize("script,reason", [
    ({"http_status": 500}, "EnsureSuccessStatusCode"),
    ({"http_status": 404}, "EnsureSuccessStatusCode"),
    ({"content_type": "text/plain"}, "media type 'text/plain'"),
    ({"raw": "not json"}, "Invalid HttpResponseMessage"),
    ({"raw": "[1, 2]"}, "not a JSON object"),
    ({"raw": "null"}, "never completes"),
    ({"raw": ""}, "never completes"),
    ({"raw": '{"Outputs": [1]}'}, "Outputs is not an object"),
    ({"logs": [{"event": "x"}]}, "Logs is not an array of strings"),
    ({"outputs": {"res": "SomeBlah"}}, "not valid JSON"),
    ({"outputs": {"res": 5}}, "not a JSON object"),
    ({"outputs": {"res": {"statusCode": "abc"}}}, "not an integer"),
])
def test_answers_that_fail_the_invocation(host, script, reason):
    inv = host.invoke_http("notification", body=script_body(**script))
    assert inv.failed and reason in inv.reason, inv.reason
    assert inv.caller_response().status == 500
    assert host.queue == []


@pytest.mark.parametrize("script,status", [
    ({"content_type": "text/json"}, 200),
    ({"http_status": 201, "raw": "{}"}, 200),
    ({"outputs": {"res": {"StatusCode": "201", "Body": "x"}}}, 201),
    ({"outputs": {"res": {"statusCode": 404, "body": {"type": "urn:x"}}}}, 404),
    ({"outputs": {"res": '{"statusCode": 409}'}}, 409),
    ({"outputs": {"res": {}}}, 200),
    ({"logs": None}, 200),
    ({"logs": ["a", 1, True]}, 200),
])
def test_answers_the_host_accepts(host, script, status):
    inv = host.invoke_http("notification", body=script_body(**script))
    assert not inv.failed, inv.reason
    assert inv.status_code == status


def test_output_names_are_exact(host):
    inv = host.invoke_http("notification", body=script_body(outputs={"Res": {"statusCode": 202},
                                                                       "MSG": '{"a":1}'}))
    assert not inv.failed and inv.res_missing and inv.ignored_outputs == ["MSG", "Res"]
    assert host.queue == []
    resp = host.invoke_http("notification", body=script_body(
        outputs={"res": {"statusCode": 202, "headers": {"Location": "/api/notification/1"},
                         "body": '{"id":"1"}'}})).caller_response()
    assert resp.status == 202 and resp.header("Location") == "/api/notification/1"
    assert resp.json() == {"id": "1"}


# ---- queue output: the Base64 rule --------------------------------------------------------------

@pytest.mark.parametrize("value,body,decoded", [
    ('{"to":"a@example.com"}', b'{"to":"a@example.com"}', False),
    ("abcd1234", base64.b64decode("abcd1234"), True),
    ("test", base64.b64decode("test"), True),
    ("1234", base64.b64decode("1234"), True),
    ("", b"", True),
    ("hello world", b"hello world", False),
    ({"to": "a@example.com"}, b'{"to":"a@example.com"}', False),
])
def test_queue_output_base64_rule(host, value, body, decoded):
    inv = host.invoke_http("notification", body=script_body(outputs={"res": {"statusCode": 202},
                                                                       "msg": value}))
    assert not inv.failed, inv.reason
    assert len(host.queue) == 1 and inv.queue_messages == host.queue
    m = host.queue[0]
    assert m.body == body and m.decoded_from_base64 is decoded and m.source == value
    assert m.queue == "notifications" and m.origin == inv.invocation_id


def test_queue_output_array_is_several_messages(host):
    host.invoke_http("notification", body=script_body(outputs={"msg": ['{"a":1}', {"b": 2}]}))
    assert [m.body for m in host.queue] == [b'{"a":1}', b'{"b":2}']


def test_decoded_output_reaches_the_worker_garbled(host):
    host.invoke_http("notification", body=script_body(outputs={"msg": "abcd1234"}))
    (d,) = host.run_queue()
    got = json.loads(d.invocation.return_value["payload"]["Data"]["msg"])
    assert got == base64.b64decode("abcd1234").decode("utf-8", "replace") and got != "abcd1234"


def test_dotnet_base64():
    assert dotnet_from_base64("abcd1234") == base64.b64decode("abcd1234")
    assert dotnet_from_base64("ab==") == b"i"
    assert dotnet_from_base64("Zm9v\r\nYmFy") == b"foobar"  # white space ignored
    assert dotnet_from_base64("Zm9 v") == b"foo"
    assert dotnet_from_base64("") == b""
    for bad in ('{"a":1}', "ab", "abc", "a===", "ab=c", "abc-", "ab_d", "Zm9v=", None, 5):
        assert dotnet_from_base64(bad) is None, bad


# ---- queue trigger ------------------------------------------------------------------------------

def test_queue_message_double_encoded_with_metadata(host, make_host):
    text = '{"to":"a@example.com","subject":"件名"}'
    inv = host.invoke_queue("notification_worker", text, dequeue_count=2, message_id="m-1")
    assert not inv.failed, inv.reason
    p = inv.return_value["payload"]
    assert isinstance(p["Data"]["msg"], str) and p["Data"]["msg"].startswith('"')
    assert json.loads(p["Data"]["msg"]) == text  # one JSON decode gives the text back
    md = p["Metadata"]
    assert md["DequeueCount"] == "2" and md["Id"] == '"m-1"'
    assert json.loads(md["PopReceipt"])
    for k in ("InsertionTime", "ExpirationTime", "NextVisibleTime"):
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$", md[k]), md[k]
    assert md["sys"]["MethodName"] == "notification_worker" and "QueueTrigger" not in md
    assert inv.return_value["framing"] == "chunked"
    h = make_host(metadata_style="doc")
    p = h.invoke_queue("notification_worker", text, dequeue_count=2, message_id="m-1").return_value["payload"]
    assert p["Data"]["msg"] == text and p["Metadata"]["DequeueCount"] == 2 and p["Metadata"]["Id"] == "m-1"


def test_event_grid_storage_queue_destination(host):
    """publish_event_grid: one message per event, Base64 JSON on the wire, decoded by the
    trigger (messageEncoding base64) and handed over as a JSON string, like any queue text."""
    ev = {"id": "1", "eventType": "Microsoft.Communication.EmailDeliveryReportReceived",
          "data": {"messageId": "m", "status": "Delivered"}}
    a, b = host.publish_event_grid([ev, "not json"])
    assert a.queue == "delivery-reports" and a.wire == base64.b64encode(json.dumps(ev).encode())
    assert a.body == json.dumps(ev).encode() and b.body == b"not json" and not a.undecodable
    assert host.queue == []  # the worker's queue is another one
    log = host.run_queue("delivery_report")
    assert [d.outcome for d in log] == ["completed", "completed"]
    got = log[0].invocation.return_value["payload"]
    assert json.loads(json.loads(got["Data"]["msg"])) == ev
    assert got["Metadata"]["sys"]["MethodName"] == "delivery_report"
    # plain text under messageEncoding base64: moved to the poison queue, never invoked
    (c,) = host.publish_event_grid([ev], eg_encoding="none")
    assert c.undecodable
    (d,) = host.run_queue("delivery_report")
    assert d.outcome == "poison-undecodable" and d.invocation is None
    assert [p.body for p in host.queues["delivery-reports-poison"]] == [c.body]


def test_redelivery_until_success_keeps_the_message_id(host):
    m = host.enqueue(json.dumps({"fail_below_dequeue": 3}))
    log = host.run_queue()
    assert [d.outcome for d in log] == ["retry", "retry", "completed"]
    assert [d.dequeue_count for d in log] == [1, 2, 3]
    ids = {json.loads(d.invocation.payload["Metadata"]["Id"]) for d in log}
    assert ids == {m.id}
    assert [d.invocation.failed for d in log] == [True, True, False]
    assert host.queue == [] and host.poison == []


def test_poison_after_max_dequeue_count(host):
    m = host.enqueue(json.dumps({"always_fail": True}))
    log = host.run_queue()
    assert [d.outcome for d in log] == ["retry"] * 4 + ["poison"]  # maxDequeueCount 5 (host.json)
    assert host.queue == [] and len(host.poison) == 1
    p = host.poison[0]
    assert p.body == m.body and p.original is m and p.queue == "notifications-poison"
    assert len(m.history) == 5
    host.queues.clear()
    host.enqueue(json.dumps({"always_fail": True}))
    assert [d.outcome for d in host.run_queue(max_dequeue=2)] == ["retry", "poison"]


def test_http_to_queue_to_worker(host):
    msg = json.dumps({"fail_below_dequeue": 2, "to": "a@example.com"})
    inv = host.invoke_http("notification", body=script_body(
        outputs={"res": {"statusCode": 202, "body": '{"id":"1"}'}, "msg": msg}))
    assert inv.status_code == 202 and [m.text for m in host.queue] == [msg]
    log = host.run_queue()
    assert [d.outcome for d in log] == ["retry", "completed"]
    assert json.loads(log[1].invocation.return_value["payload"]["Data"]["msg"]) == msg


# ---- forwarding and the front door --------------------------------------------------------------

def test_forwarding_sends_the_raw_request(make_host):
    h = make_host("http")
    assert h.forwarding and list(h.functions) == ["notification"]
    r = h.forward("POST", "/api/notification", {"Content-Type": "application/json",
                                                 "User-Agent": "curl/8.0", "Idempotency-Key": "k"},
                  b'{"to_email":"a@example.com"}', query={"code": "key"})
    assert r.status == 201 and r.header("X-Fake") == "forwarded"
    echo = r.json()
    assert echo["method"] == "POST" and echo["path"] == "/api/notification" and echo["query"] == "code=key"
    assert echo["framing"] == "length" and echo["body"] == '{"to_email":"a@example.com"}'
    heads = echo["headers"]
    assert hdr(heads, "X-Azure-Functions-InvocationId") == [r.invocation_id]
    assert hdr(heads, "User-Agent") == ["curl/8.0 Azure-Functions-Host/" + fnhost.HOST_VERSION]
    assert hdr(heads, "Idempotency-Key") == ["k"] and hdr(heads, "Host") == [h.public_host]
    assert hdr(heads, "Content-Type") == ["application/json"]
    r2 = h.forward("POST", "/api/notification")
    e2 = r2.json()
    assert e2["framing"] == "none" and not hdr(e2["headers"], "Content-Type")
    assert h.request("POST", "/api/notification?code=x", {"Content-Type": "application/json"},
                     b"{}").status == 201
    assert h.request("POST", "/api/other").status == 404
    with pytest.raises(HostError, match="use forward"):
        h.invoke_http("notification", body={})


def test_front_door_payload_mode_and_function_key(make_host):
    h = make_host(function_key="secret")
    assert h.request("POST", "/api/notification", body=b"{}").status == 401
    r = h.request("POST", "/api/notification?code=secret", {"Content-Type": "application/json"}, b"{}")
    assert r.status == 200 and r.json()["function"] == "notification"
    r = h.request("GET", "/api/notification/xyz", {"x-functions-key": "secret"})
    assert r.status == 200 and r.json()["payload"]["Data"]["req"]["Params"] == {"id": "xyz"}
    assert h.request("GET", "/api/notification", {"x-functions-key": "secret"}).status == 404
    with pytest.raises(HostError, match="enableForwardingHttpRequest is false"):
        h.forward("POST", "/api/notification")


# ---- exits, restarts, stop ----------------------------------------------------------------------

def test_exit_zero_is_never_restarted_and_is_flagged(make_host):
    h = make_host(env={"FAKE_EXIT_AFTER_MS": "100", "FAKE_EXIT_CODE": "0"})
    deadline = time.monotonic() + 5
    while h.alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert h.exited_on_its_own() == [0]
    assert h.check_worker() is False and h.dead_clean and h.restarts == 0
    inv = h.invoke_http("notification", body={})
    assert inv.failed and "code 0" in inv.reason
    with pytest.raises(AssertionError, match="status 0"):
        h.assert_never_exited_zero()


def test_crash_is_restarted_and_three_errors_shut_the_host_down(make_host):
    h = make_host()
    first_worker = h.worker_id
    inv = h.invoke_http("notification", body=script_body(exit=3))
    assert inv.failed and "no answer" in inv.reason
    assert h.restarts == 1 and h.alive() and h.worker_id != first_worker
    assert h.exited_on_its_own() == [3]
    assert not h.invoke_http("notification", body={}).failed
    h.invoke_http("notification", body=script_body(exit=200))  # intentional restart: not an error
    assert h.restarts == 2 and len(h.errors) == 1
    h.invoke_http("notification", body=script_body(exit=4))
    assert h.restarts == 3 and len(h.errors) == 2
    with pytest.raises(HostError, match="Exceeded http worker restart retry count"):
        h.invoke_http("notification", body=script_body(exit=5))
    assert h.shut_down and h.exited_on_its_own() == [3, 200, 4, 5]
    h.assert_never_exited_zero()


def test_stop_and_captured_output(make_host):
    h = make_host()
    assert any(isinstance(x, dict) and x.get("event") == "server.ready" for x in h.console_logs())
    assert "fake: starting" in h.stderr()
    assert h.stop() == 0 and h.exit_codes == [(0, True)]
    h.assert_never_exited_zero()  # a stop the host asked for is not an exit "on its own"


def test_raw_payloads_for_bad_shape_tests(host):
    """invoke(raw_body=...) sends any bytes as the invocation body, for tests of bad payloads."""
    inv = host.invoke("notification", None, None, raw_body=b"not json")
    assert inv.failed and inv.status == 400 and "EnsureSuccessStatusCode" in inv.reason
    data = {"req": {"Url": "https://x/api/notification", "Method": "POST"}}  # no Headers, no Body
    inv = host.invoke("notification", data, {})
    assert not inv.failed and inv.res_json()["payload"] == {"Data": data, "Metadata": {}}
