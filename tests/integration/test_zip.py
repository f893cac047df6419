"""The deploy packages: scripts/zip.sh builds byte-identical ZIPs from the same inputs, with the
handler stored -rwxr-xr-x, host.json at the root, one folder per function, entries sorted, no
directory entries and no extra fields; infra/functions*/ say what the contract says."""
import json
import os
import re
import shutil
import stat
import subprocess
import zipfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
ZIP_SH = os.path.join(ROOT, "scripts", "zip.sh")
STATIC = os.path.join(ROOT, "build", "static", "handler")
SHELL = shutil.which("dash") or "sh"  # a POSIX shell, as in debian:bookworm-slim
PAYLOAD = ["delivery_report/function.json", "handler", "host.json", "notification/function.json",
           "notification_status/function.json", "notification_worker/function.json"]
FORWARDING = ["handler", "host.json", "notification/function.json"]

pytestmark = pytest.mark.skipif(shutil.which("zip") is None or shutil.which("zipinfo") is None,
                                reason="zip/zipinfo not installed (make deps installs them)")


@pytest.fixture
def handler(tmp_path):
    """A private copy of the shipped binary when it exists (it may be rebuilt meanwhile), else
    a small executable file."""
    p = tmp_path / "in" / "handler"
    p.parent.mkdir()
    if os.path.isfile(STATIC):
        shutil.copyfile(STATIC, p)
    else:
        p.write_bytes(b"#!/bin/sh\necho 'not the real handler' >&2\nexit 3\n")
    p.chmod(0o755)
    return p


def zip_sh(out, binary, functions, env=None, tmp=None):
    e = dict(os.environ)
    e.pop("SOURCE_DATE_EPOCH", None)
    e["ZIP_STAGE_ROOT"] = str(tmp or os.path.dirname(str(out)))
    e.update(env or {})
    return subprocess.run([SHELL, ZIP_SH, str(out), str(binary), str(functions)], env=e,
                          capture_output=True, text=True, timeout=60)


def build(out, binary, functions="infra/functions", **kw):
    r = zip_sh(out, binary, os.path.join(ROOT, functions) if not os.path.isabs(str(functions)) else functions, **kw)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "%s: %d bytes" % (out, os.path.getsize(out))
    return out


def zipinfo(path):
    """(mode, version, os, size, type+flags, method, date, time, name) per entry, in order."""
    out = subprocess.run(["zipinfo", str(path)], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines()[2:-1]:
        f = line.split(None, 9)
        rows.append(tuple(f))
    return rows


@pytest.mark.parametrize("functions,names", [("infra/functions", PAYLOAD),
                                             ("infra/functions-http", FORWARDING)])
def test_reproducible_and_well_formed(tmp_path, handler, functions, names):
    a = build(tmp_path / "a" / "p.zip", handler, functions, tmp=tmp_path)
    os.utime(handler, (1e9, 1e9))  # other mtimes and modes of the inputs change nothing
    handler.chmod(0o600)
    b = build(tmp_path / "b" / "p.zip", handler, functions, tmp=tmp_path)
    assert open(a, "rb").read() == open(b, "rb").read()

    rows = zipinfo(a)
    assert [r[-1] for r in rows] == names  # sorted, files only, host.json at the root
    for mode, ver, fs, size, tflag, method, date, tm, name in rows:
        assert ver == "3.0" and fs == "unx"
        assert mode == ("-rwxr-xr-x" if name == "handler" else "-rw-r--r--"), (name, mode)
        assert tflag[1] == "-", (name, tflag)  # no extra field, no data descriptor
        assert (date, tm) == ("80-Jan-01", "00:00")
    verbose = subprocess.run(["zipinfo", "-v", str(a)], capture_output=True, text=True).stdout
    assert verbose.count("length of extra field:                          0 bytes") == len(names)
    assert "Unix file attributes (100755 octal):            -rwxr-xr-x" in verbose

    with zipfile.ZipFile(a) as z:
        infos = z.infolist()
        assert [i.filename for i in infos] == names
        for i in infos:
            assert i.create_system == 3 and i.extra == b"" and i.date_time == (1980, 1, 1, 0, 0, 0)
            assert not i.is_dir()
        assert stat.S_IMODE(z.getinfo("handler").external_attr >> 16) == 0o755
        assert stat.S_ISREG(z.getinfo("handler").external_attr >> 16)
        assert z.read("handler") == handler.read_bytes()
        for n in names:
            if n != "handler":
                assert z.read(n) == open(os.path.join(ROOT, functions, n), "rb").read()


def test_source_date_epoch(tmp_path, handler):
    a = build(tmp_path / "a.zip", handler, env={"SOURCE_DATE_EPOCH": "1700000000"})
    b = build(tmp_path / "b.zip", handler, env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert open(a, "rb").read() == open(b, "rb").read()
    with zipfile.ZipFile(a) as z:
        assert {i.date_time for i in z.infolist()} == {(2023, 11, 14, 22, 13, 20)}  # UTC
    c = build(tmp_path / "c.zip", handler, env={"SOURCE_DATE_EPOCH": "100"})  # before 1980: clamped
    with zipfile.ZipFile(c) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_only_host_json_and_function_folders_go_in(tmp_path, handler):
    src = tmp_path / "functions"
    shutil.copytree(os.path.join(ROOT, "infra", "functions"), src)
    (src / "README.md").write_text("notes\n")
    (src / "notification" / "notes.txt").write_text("x\n")
    (src / "empty_folder").mkdir()
    a = build(tmp_path / "a.zip", handler, src)
    b = build(tmp_path / "b.zip", handler)
    assert open(a, "rb").read() == open(b, "rb").read()


def test_errors(tmp_path, handler):
    r = zip_sh(tmp_path / "x.zip", tmp_path / "missing", os.path.join(ROOT, "infra/functions"))
    assert r.returncode == 1 and "handler binary not found" in r.stderr
    r = zip_sh(tmp_path / "x.zip", handler, tmp_path)
    assert r.returncode == 1 and "no host.json" in r.stderr
    r = subprocess.run([SHELL, ZIP_SH, "only-one"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr
    assert not (tmp_path / "x.zip").exists()
    assert [p for p in os.listdir(tmp_path) if p.startswith("stage.")] == []  # staging removed


# ---- the package metadata against the contract ("Azure Functions custom handlers",
# https://learn.microsoft.com/azure/azure-functions/functions-custom-handlers, "Application
# structure" and "Function metadata"; infra/functions/README.md cites the rest) ----------------

def load(rel):
    with open(os.path.join(ROOT, rel)) as f:
        return json.load(f)


def test_payload_package_metadata():
    h = load("infra/functions/host.json")
    assert h["version"] == "2.0"
    assert h["customHandler"]["description"]["defaultExecutablePath"] == "handler"
    assert h["customHandler"]["enableForwardingHttpRequest"] is False
    assert h["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
    assert h["extensions"]["http"]["routePrefix"] == "api"
    q = h["extensions"]["queues"]
    assert q["maxDequeueCount"] == 5 and re.fullmatch(r"\d\d:\d\d:\d\d", q["visibilityTimeout"])
    assert q["visibilityTimeout"] != "00:00:00" and 1 <= q["batchSize"] <= 32
    assert h["logging"]["logLevel"]["default"] == "Information"
    assert re.fullmatch(r"\d\d:\d\d:\d\d", h["functionTimeout"])

    n = load("infra/functions/notification/function.json")["bindings"]
    assert n[0] == {"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "function",
                    "methods": ["post"], "route": "notification"}
    assert n[1] == {"type": "http", "direction": "out", "name": "res"}
    assert n[2] == {"type": "queue", "direction": "out", "name": "msg", "queueName": "notifications",
                    "connection": "AzureWebJobsStorage"}
    w = load("infra/functions/notification_worker/function.json")["bindings"]
    assert w == [{"type": "queueTrigger", "direction": "in", "name": "msg", "queueName": "notifications",
                  "connection": "AzureWebJobsStorage"}]
    # Event Grid's queue of ACS delivery reports; Base64 like the notifications queue
    # (messageEncoding above: infra/functions/README.md, "delivery_report")
    d = load("infra/functions/delivery_report/function.json")["bindings"]
    assert d == [{"type": "queueTrigger", "direction": "in", "name": "msg",
                  "queueName": "delivery-reports", "connection": "AzureWebJobsStorage"}]
    assert q["messageEncoding"] == "base64"
    assert sorted(os.listdir(os.path.join(ROOT, "infra/functions"))) == [
        "README.md", "delivery_report", "host.json", "notification", "notification_status",
        "notification_worker"]
    s = load("infra/functions/notification_status/function.json")["bindings"]
    assert s == [{"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "function",
                  "methods": ["get"], "route": "notification/{id}"},
                 {"type": "http", "direction": "out", "name": "res"}]


def test_forwarding_package_metadata():
    h = load("infra/functions-http/host.json")
    assert h["version"] == "2.0"
    assert h["customHandler"]["description"]["defaultExecutablePath"] == "handler"
    assert h["customHandler"]["enableForwardingHttpRequest"] is True
    assert "queues" not in h.get("extensions", {})
    assert sorted(os.listdir(os.path.join(ROOT, "infra/functions-http"))) == ["host.json", "notification"]
    n = load("infra/functions-http/notification/function.json")["bindings"]
    # Forwarding applies only to one httpTrigger in + one http out (IsHttpInAndOutFunction).
    assert n == [{"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "function",
                  "methods": ["post"], "route": "notification"},
                 {"type": "http", "direction": "out", "name": "res"}]
