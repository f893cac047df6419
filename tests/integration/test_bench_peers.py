"""The peers of `make bench` (tests/bench/acsbench) do the same work as the handler: each takes the
original request, and the TLS mock of ACS (which verifies the HMAC signature and the content hash)
records one accepted send with the same message under the Operation-Id the peer answered 202
with. Python's peer always runs; Node with the official SDK when node and `make sdk` are there;
Go when go is installed. A peer packaged by tests/bench/peer_zip.py starts and answers under the
Functions host simulator, as `make bench` measures it.
Runs in the static pass only (NOTIFY_SKIP_ORACLE=1 skips it in the ASan pass: no handler code of
the ASan build is involved beyond the reference send).
"""
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BENCH = os.path.join(ROOT, "tests", "bench")
PEERS = os.path.join(BENCH, "acsbench")
SDK_MODULES = os.path.join(ROOT, "tests", "sdk", "node_modules")
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
NODE = shutil.which("node")
GO = shutil.which("go")

if os.environ.get("NOTIFY_SKIP_ORACLE") == "1":
    pytest.skip("NOTIFY_SKIP_ORACLE=1: the bench peers are checked in the other pass",
                allow_module_level=True)

sys.path.insert(0, HERE)
from conftest import free_port  # noqa: E402
from fnhost import FunctionsHost  # noqa: E402
from mock_acs import MockACS  # noqa: E402
from pki import make_pki  # noqa: E402

SENDER = "DoNotReply@example.com"
ORIGINAL = {"to_email": "you@example.com", "subject": "テスト", "message": "テストメッセージ"}
# Bounds: a peer starts in well under a second (Node with the SDK ~0.5 s on a busy machine);
# a Go build from an empty cache takes about a minute on 2 shared cores.
READY_S = 20
GO_BUILD_S = 300


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def acs(pki):
    with MockACS(pki.rsa_server_cert, pki.rsa_server_key) as m:
        yield m


def peer_env(acs, pki, port):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NOTIFY_", "NODE_", "COMMUNICATION_", "ACS_", "FUNCTIONS_"))}
    env.update(PORT=str(port), BIND="127.0.0.1", NOTIFY_TRANSPORT="acs", NOTIFY_LOG_LEVEL="off",
               COMMUNICATION_SERVICES_CONNECTION_STRING=acs.connection_string,
               NOTIFY_CA_FILE=pki.rsa_ca_cert, NODE_EXTRA_CA_CERTS=pki.rsa_ca_cert,
               NODE_PATH=SDK_MODULES, EMAIL_SENDER=SENDER)
    return env


def post(port, body):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("POST", "/api/notification", json.dumps(body, ensure_ascii=False).encode(),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        c.close()


def wait_ready(proc, port, log):
    import http.client
    deadline = time.monotonic() + READY_S
    while True:
        assert proc.poll() is None, open(log, encoding="utf-8", errors="replace").read()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/")
            c.getresponse().read()
            c.close()
            return
        except OSError:
            pass
        assert time.monotonic() < deadline, "not ready: " + open(log, errors="replace").read()
        time.sleep(0.02)


@pytest.fixture(scope="module")
def go_peer(tmp_path_factory):
    if GO is None:
        pytest.skip("go is not installed (make bench installs golang-go)")
    out = tmp_path_factory.mktemp("go") / "peer"
    # caches under build/ (CI may have no HOME for go's defaults)
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-trimpath",
               GOCACHE=os.path.join(ROOT, "build", "bench", "gocache"),
               GOPATH=os.path.join(ROOT, "build", "bench", "gopath"))
    r = subprocess.run([GO, "build", "-ldflags=-s -w", "-o", str(out), "peer.go"], cwd=PEERS,
                       env=env, capture_output=True, text=True, timeout=GO_BUILD_S)
    assert r.returncode == 0, r.stderr
    return [str(out)]


def peer_cmd(name, request):
    if name == "handler":
        return [os.environ.get("NOTIFY_BIN", os.path.join(ROOT, "build", "static", "handler"))]
    if name == "python":
        return [PY, os.path.join(PEERS, "peer.py")]
    if name == "node":
        if NODE is None or not os.path.isdir(os.path.join(SDK_MODULES, "@azure", "communication-email")):
            pytest.skip("node or tests/sdk/node_modules missing (make sdk)")
        return [NODE, os.path.join(PEERS, "peer_sdk.js")]
    return request.getfixturevalue("go_peer")


@pytest.mark.parametrize("name", ["handler", "python", "node", "go"])
def test_peer_sends_what_the_handler_sends(name, acs, pki, tmp_path, request):
    cmd = peer_cmd(name, request)
    port = free_port()
    log = tmp_path / "peer.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=peer_env(acs, pki, port), stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        wait_ready(proc, port, log)
        status, headers, payload = post(port, ORIGINAL)
        assert status == 202, (status, payload, log.read_text(errors="replace"))
        answer = json.loads(payload)
        assert answer["status"] in ("Running", "Succeeded")
        assert headers["location"] == "/api/notification/" + answer["id"]
        acs.wait_for(1)
        sends = acs.sends
        assert len(sends) == 1, sends
        s = sends[0]
        assert s.auth_ok and s.status == 202, (s.auth, s.status, s.error_code)
        assert s.method == "POST" and s.path == "/emails:send"
        assert s.operation_id == answer["id"]
        assert s.json["senderAddress"] == SENDER
        assert s.json["recipients"]["to"] == [{"address": "you@example.com"}]
        assert s.json["content"]["subject"] == "テスト"
        assert s.json["content"]["plainText"] == "テストメッセージ"
        # a bad request is the caller's 400, not a send
        status, _, _ = post(port, {"to_email": "you@example.com"})
        assert status == 400 and len(acs.sends) == 1
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_peer_zip_runs_under_the_host(acs, pki, tmp_path):
    z = tmp_path / "python.zip"
    r = subprocess.run([PY, os.path.join(BENCH, "peer_zip.py"), str(z),
                        os.path.join(ROOT, "infra", "functions-http"), "python3", "--arg", "peer.py",
                        os.path.join(PEERS, "peer.py")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(z) as zf:
        names = zf.namelist()
        host = json.loads(zf.read("host.json"))
        infos = {i.filename: i for i in zf.infolist()}
    assert names == sorted(names) == ["host.json", "notification/function.json", "peer.py"]
    assert host["customHandler"]["description"] == {"defaultExecutablePath": "python3",
                                                   "arguments": ["peer.py"]}
    assert host["customHandler"]["enableForwardingHttpRequest"] is True
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos.values())
    # the same inputs give the same bytes
    z2 = tmp_path / "again.zip"
    subprocess.run([PY, os.path.join(BENCH, "peer_zip.py"), str(z2),
                    os.path.join(ROOT, "infra", "functions-http"), "python3", "--arg", "peer.py",
                    os.path.join(PEERS, "peer.py")], check=True, capture_output=True, timeout=60)
    assert z.read_bytes() == z2.read_bytes()

    env = {"COMMUNICATION_SERVICES_CONNECTION_STRING": acs.connection_string,
           "NOTIFY_CA_FILE": pki.rsa_ca_cert, "EMAIL_SENDER": SENDER}
    h = FunctionsHost(str(z), env=env, workdir=str(tmp_path / "host"))
    try:
        r = h.forward("POST", "/api/notification", {"Content-Type": "application/json"},
                      json.dumps(ORIGINAL).encode())
        assert r.status == 202, r.body
        acs.wait_for(1)
        assert acs.sends[0].auth_ok and acs.sends[0].operation_id == r.json()["id"]
    finally:
        h.stop()
