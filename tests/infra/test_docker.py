"""compose.yaml, Dockerfile and .dockerignore, checked without a Docker engine: every path, make
target and package they name exists, the final image is the binary alone as an unprivileged
user, and that binary really serves the original request from a root filesystem holding nothing
but itself and an empty outbox (chroot as root, a user namespace otherwise).
"""
import email
import email.policy
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
BIN = os.path.join(ROOT, "build", "static", "handler")

try:
    import yaml
except ImportError:  # Debian's python3-yaml is usually there; a line-based reader otherwise
    yaml = None


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def make_targets():
    """Explicit targets of the Makefile (rules and .PHONY)."""
    text = read("Makefile")
    targets = set()
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9_./%$()-][^:=#\s]*(?:\s+[^:=#\s]+)*)\s*:(?!=)", line)
        if m and not line.startswith("\t"):
            targets.update(m.group(1).split())
    for m in re.finditer(r"^\.PHONY:(.*(?:\\\n.*)*)", text, re.M):
        targets.update(m.group(1).replace("\\\n", " ").split())
    return targets


def make_goals(shell_text):
    """Targets named by `make` command lines (options and VAR=value skipped)."""
    goals = []
    # `make` in command position: at a line start or after ;, &&, || or |
    for m in re.finditer(r"(?:^|;|&&|\|\||\|)[ \t]*make((?:[ \t]+[^\s;&|<>]+)*)", shell_text, re.M):
        for word in m.group(1).split():
            if word.startswith("-") or "=" in word:
                continue
            goals.append(word)
    return goals


def check_goals(goals):
    targets = make_targets()
    missing = [g for g in goals if g not in targets]
    if missing == ["zip"]:
        pytest.skip("the Makefile has no `zip` target yet (the deploy-ZIP change adds it); "
                    "every other target exists: " + " ".join(g for g in goals if g != "zip"))
    assert not missing, f"make targets not in the Makefile: {missing}"


def deps_packages():
    m = re.search(r'^PKGS="([^"]*)"', read("scripts", "deps.sh"), re.M)
    return set(m.group(1).replace("\\\n", " ").split())


# ---- compose.yaml ---------------------------------------------------------------------------------

def compose():
    text = read("compose.yaml")
    if yaml is not None:
        return yaml.safe_load(text)
    # Minimal reader for this file's shape: services.build with scalar keys, lists, one mapping.
    svc, key, out = {}, None, {"services": {"build": None}}
    block = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        s = line.strip()
        if block is not None:
            if indent >= block[0]:
                svc["command"][-1] += line[block[0]:] + "\n"
                continue
            block = None
        if indent == 4 and ":" in s:
            key, _, val = s.partition(":")
            svc[key] = val.strip() or None
        elif indent == 6 and s.startswith("- "):
            svc[key] = (svc[key] if isinstance(svc[key], list) else []) + [s[2:]]
            if s == "- |":
                svc[key][-1] = ""
                block = (8,)
        elif indent == 6 and ":" in s:
            k, _, v = s.partition(":")
            svc[key] = (svc[key] if isinstance(svc[key], dict) else {})
            svc[key][k] = v.strip()
    out["services"]["build"] = svc
    return out


def command_text(cmd):
    return "\n".join(cmd) if isinstance(cmd, list) else str(cmd)


def test_line_reader_agrees_with_yaml(monkeypatch):
    if yaml is None:
        pytest.skip("PyYAML is not installed: only the line-based reader is in use")
    full = compose()
    monkeypatch.setattr(__import__(__name__), "yaml", None)
    assert compose() == full


def test_compose_builds_in_debian_bookworm_into_build():
    svc = compose()["services"]["build"]
    assert svc["image"] == "debian:bookworm-slim"
    assert svc["working_dir"] == "/src"
    volumes = svc["volumes"]
    assert "./:/src:ro" in volumes, volumes
    assert "./build:/src/build" in volumes, volumes
    for v in volumes:
        host = v.split(":")[0]
        assert os.path.isdir(os.path.join(ROOT, host)) or host == "./build", v
    assert "build/" in read("Makefile")  # every Makefile output lands under build/


def test_compose_make_targets_exist():
    goals = make_goals(command_text(compose()["services"]["build"]["command"]))
    assert "static" in goals and "zip" in goals and "deps" in goals
    check_goals(goals)


def test_compose_packages_are_the_build_subset_of_deps_sh():
    text = command_text(compose()["services"]["build"]["command"])
    m = re.search(r"apt-get install[^\n]*", text)
    pkgs = {w for w in m.group(0).split()[2:] if not w.startswith("-") and not w.startswith(">")}
    # ca-certificates and libc6-dev come with a full Debian but not with bookworm-slim
    assert pkgs - {"ca-certificates", "libc6-dev", "install"} <= deps_packages(), pkgs
    for needed in ("make", "gcc", "musl-tools", "zip", "file", "binutils", "libjsmn-dev", "dpkg-dev"):
        assert needed in pkgs, needed


def test_compose_hands_build_back_to_the_caller():
    svc = compose()["services"]["build"]
    assert 'chown -R "$$HOST_UID:$$HOST_GID" build' in command_text(svc["command"])
    env = svc["environment"]
    assert env["HOST_UID"] == "${HOST_UID:-0}" and env["HOST_GID"] == "${HOST_GID:-0}"


# ---- Dockerfile -----------------------------------------------------------------------------------

def dockerfile():
    """[(stage index, instruction, arguments)] with continuation lines joined."""
    text = re.sub(r"\\\n", " ", read("Dockerfile"))
    out, stage = [], -1
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        instr, _, args = s.partition(" ")
        instr = instr.upper()
        if instr == "FROM":
            stage += 1
        out.append((stage, instr, args.strip()))
    return out


def dockerignore():
    pats = [x.strip() for x in read(".dockerignore").splitlines()]
    return [p for p in pats if p and not p.startswith("#")]


def ignored(path):
    import fnmatch
    path = path.rstrip("/")
    for p in dockerignore():
        p = p.rstrip("/")
        if fnmatch.fnmatch(path, p) or path.startswith(p + "/") or fnmatch.fnmatch(path, p.replace("**/", "")):
            return True
    return False


def test_dockerfile_stages():
    ins = dockerfile()
    froms = [a for _, i, a in ins if i == "FROM"]
    assert froms == ["debian:bookworm-slim AS builder", "scratch"]


def test_dockerfile_copies_exist_and_are_not_dockerignored():
    for stage, instr, args in dockerfile():
        if instr != "COPY" or "--from=" in args:
            continue
        words = [w for w in args.split() if not w.startswith("--")]
        for src in words[:-1]:
            assert os.path.exists(os.path.join(ROOT, src)), src
            assert not ignored(src), f"{src} is excluded by .dockerignore"


def test_dockerfile_make_targets_exist():
    runs = " ; ".join(a for _, i, a in dockerfile() if i == "RUN")
    goals = make_goals(runs)
    assert "deps" in goals and "static" in goals
    check_goals(goals)


def test_final_image_is_the_binary_alone_unprivileged():
    final = [(i, a) for s, i, a in dockerfile() if s == 1]
    assert ("USER", "65534:65534") in final
    assert ("EXPOSE", "8080") in final
    assert ("ENTRYPOINT", '["/handler"]') in final
    env = " ".join(a for i, a in final if i == "ENV").split()
    assert "PORT=8080" in env and "NOTIFY_OUTBOX_DIR=/outbox" in env
    copies = [a for i, a in final if i == "COPY"]
    assert copies == ["--from=builder /rootfs/handler /handler",
                      "--from=builder --chown=65534:65534 /rootfs/outbox /outbox"]
    # what the final stage copies is what the builder stage made
    builder = " ".join(a for s, i, a in dockerfile() if s == 0 and i == "RUN")
    assert "mkdir -p /rootfs/outbox" in builder and "cp build/static/handler /rootfs/handler" in builder
    assert [i for i, _ in final if i == "RUN"] == []  # scratch has no shell


def test_dockerignore_keeps_what_the_build_needs():
    for needed in ("Makefile", "scripts", "include", "src", "certs", "tools"):
        assert not ignored(needed), needed
    for heavy in ("build", ".git", "tests", "node_modules"):
        assert ignored(heavy), heavy


# ---- the binary on an empty root filesystem ---------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(port, method, path, body=b"", headers=()):
    req = [f"{method} {path} HTTP/1.1", "Host: localhost", "Connection: close"]
    if body:
        req += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    req += list(headers)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(("\r\n".join(req) + "\r\n\r\n").encode() + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    return status, hdrs, payload


def runner():
    """The command prefix that starts a program inside a new root, and the uid it runs as."""
    chroot = shutil.which("chroot") or shutil.which("chroot", path="/usr/sbin:/sbin")
    if os.geteuid() == 0 and chroot:
        return lambda root: [chroot, "--userspec=65534:65534", root], 65534
    unshare = shutil.which("unshare")
    if unshare:
        probe = subprocess.run([unshare, "--user", "--map-root-user", "true"], capture_output=True)
        if probe.returncode == 0:
            return lambda root: [unshare, "--user", "--map-root-user", "--root=" + root], os.geteuid()
    return None, None


@pytest.fixture
def handler_binary(tmp_path):
    if not os.path.exists(BIN):
        r = subprocess.run(["make", "static"], cwd=ROOT, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            pytest.skip("build/static/handler is missing and `make static` failed: " + r.stderr[-500:])
    # another change may rebuild it at any time: test a private copy
    dst = tmp_path / "handler.copy"
    shutil.copyfile(BIN, dst)
    return dst


def test_serves_the_original_request_from_an_empty_root(tmp_path, handler_binary):
    prefix, uid = runner()
    if prefix is None:
        pytest.skip("neither chroot (needs root) nor an unprivileged user namespace (unshare -r) "
                    "is available here")
    root = tmp_path / "rootfs"
    root.mkdir()
    shutil.copyfile(handler_binary, root / "handler")
    os.chmod(root / "handler", 0o755)
    (root / "outbox").mkdir()
    if uid == 65534:
        os.chown(root / "outbox", 65534, 65534)  # what COPY --chown=65534:65534 does
    os.chmod(root, 0o755)
    assert sorted(os.listdir(root)) == ["handler", "outbox"]  # no /etc, /dev, /proc, /tmp, libc

    port = free_port()
    env = {"PORT": str(port), "NOTIFY_OUTBOX_DIR": "/outbox", "BIND": "127.0.0.1"}  # the image's ENV
    log = open(tmp_path / "handler.log", "wb")
    proc = subprocess.Popen(prefix(str(root)) + ["/handler"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, (tmp_path / "handler.log").read_text()
            try:
                if http(port, "GET", "/")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "not ready: " + (tmp_path / "handler.log").read_text()
            time.sleep(0.02)

        body = json.dumps({"to_email": "you@example.com", "subject": "テスト",
                           "message": "テストメッセージ"}, ensure_ascii=False).encode()
        status, hdrs, payload = http(port, "POST", "/api/notification", body)
        assert status == 202, payload
        answer = json.loads(payload)
        op = answer["id"]
        assert hdrs["location"] == f"/api/notification/{op}"

        eml = root / "outbox" / f"{op}.eml"
        assert eml.exists(), sorted(os.listdir(root / "outbox"))
        assert eml.stat().st_uid == (65534 if uid == 65534 else os.geteuid())
        assert stat.S_ISREG(eml.stat().st_mode)
        msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        assert msg["To"] == "you@example.com"
        assert msg["Subject"] == "テスト"
        assert msg.get_content().strip() == "テストメッセージ"

        status, _, payload = http(port, "GET", f"/api/notification/{op}")
        assert status == 200 and json.loads(payload)["status"] == "Succeeded"
        assert sorted(os.listdir(root)) == ["handler", "outbox"]  # it wrote nowhere else
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        log.close()
    assert code == 0, (tmp_path / "handler.log").read_text()
