"""The container image built from the Dockerfile by a real engine (podman) and run: the original
request gets 202 and its .eml lands in a mounted volume, the process runs as 65534 on a read-only
root filesystem, SIGTERM stops it cleanly, and a bad setting exits 2 saying why in one line.

The image is built by scripts/image.sh (what `make image` runs) from a private copy of the static
binary, under a tag of its own that is removed afterwards. Every container uses the host's
network namespace and binds 127.0.0.1 only, so no traffic leaves the loopback interface. The
podman command line comes from scripts/podman-run.sh, which falls back from podman's defaults to
limits and a runtime that work on hosts where the defaults fail.
"""
import email
import email.policy
import json
import os
import shutil
import subprocess
import time

import pytest

from test_docker import BIN, ROOT, free_port, http

PODMAN = shutil.which("podman")
pytestmark = pytest.mark.skipif(
    PODMAN is None, reason="podman is not installed (Debian's podman; `make deps` installs it as root)")

# Bounds of every wait below: start-up is milliseconds, but a busy machine and podman's own
# container set-up (about 0.3 s here) can take a few seconds.
READY_S = 20
# podman stop's grace before SIGKILL; the handler drains and exits in milliseconds.
STOP_GRACE_S = 20
PODMAN_TIMEOUT_S = 120


def podman(*args, check=True, timeout=PODMAN_TIMEOUT_S):
    r = subprocess.run([PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: exit {r.returncode}: {r.stderr[-2000:]}")
    return r


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    if not os.path.exists(BIN):
        r = subprocess.run(["make", "static"], cwd=ROOT, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            pytest.fail("build/static/handler is missing and `make static` failed: " + r.stderr[-500:])
    # another change may rebuild the binary at any time: build from a private copy
    copy = tmp_path_factory.mktemp("image") / "handler"
    shutil.copyfile(BIN, copy)
    os.chmod(copy, 0o755)
    tag = f"localhost/notify-handler-test:{os.getpid()}"
    r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "image.sh"), str(copy), tag], cwd=ROOT,
                       capture_output=True, text=True, timeout=PODMAN_TIMEOUT_S)
    assert r.returncode == 0, r.stderr
    try:
        size = int(r.stdout.split()[-1])
        # the image is the binary and an empty directory: its size is the binary's plus metadata
        assert os.path.getsize(copy) <= size < os.path.getsize(copy) + 64 * 1024, size
        r = subprocess.run(["sh", os.path.join(ROOT, "scripts", "podman-run.sh"), tag],
                           capture_output=True, text=True, timeout=PODMAN_TIMEOUT_S)
        assert r.returncode == 0, "no podman command line can run the image here: " + r.stderr
        prefix = r.stdout.split()
        assert prefix[0] == "podman" and "run" in prefix, prefix
        yield tag, [PODMAN] + prefix[1:]
    finally:
        podman("rmi", "-f", tag, check=False)


class Container:
    """One named container, removed at the end whatever happened."""

    def __init__(self, image, name_suffix):
        self.tag, self.prefix = image
        self.name = f"notify-test-{os.getpid()}-{name_suffix}"

    def run(self, *opts, env=(), detach=True):
        cmd = list(self.prefix) + (["-d"] if detach else []) + [
            "--name", self.name, "--network=host", "--read-only"]
        for k, v in env:
            cmd += ["-e", f"{k}={v}"]
        cmd += list(opts) + [self.tag]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=PODMAN_TIMEOUT_S)

    def inspect(self, fmt):
        return podman("inspect", "-f", fmt, self.name).stdout.strip()

    def logs(self):
        r = podman("logs", self.name)
        return r.stdout, r.stderr

    def remove(self):
        podman("rm", "-f", "-t", "0", self.name, check=False)


@pytest.fixture
def container(image, request):
    c = Container(image, request.node.name.replace("_", "-")[:40])
    c.remove()
    yield c
    c.remove()


def wait_ready(c, port):
    deadline = time.monotonic() + READY_S
    while True:
        try:
            if http(port, "GET", "/")[0] == 200:
                return
        except OSError:
            pass
        state = c.inspect("{{.State.Status}}")
        assert state == "running", f"container {state}: {c.logs()}"
        assert time.monotonic() < deadline, f"not ready after {READY_S} s: {c.logs()}"
        time.sleep(0.05)


def test_original_request_outbox_volume_uid_readonly_and_sigterm(container, tmp_path):
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    if os.geteuid() == 0:
        os.chown(outbox, 65534, 65534)  # the image's outbox owner; the volume hides that directory
    else:
        os.chmod(outbox, 0o777)  # rootless podman maps 65534 to a sub-uid
    port = free_port()
    r = container.run("-v", f"{outbox}:/outbox", env=[("BIND", "127.0.0.1"), ("PORT", port)])
    assert r.returncode == 0, r.stderr
    wait_ready(container, port)

    # the original system's request, unchanged
    body = json.dumps({"to_email": "you@example.com", "subject": "テスト",
                       "message": "テストメッセージ"}, ensure_ascii=False).encode()
    status, hdrs, payload = http(port, "POST", "/api/notification", body)
    assert status == 202, payload
    op = json.loads(payload)["id"]
    assert hdrs["location"] == f"/api/notification/{op}"

    eml = outbox / f"{op}.eml"
    assert eml.exists(), sorted(os.listdir(outbox))
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "you@example.com"
    assert msg["Subject"] == "テスト"
    assert msg.get_content().strip() == "テストメッセージ"
    assert sorted(os.listdir(outbox)) == [f"{op}.eml"]

    # the user and the read-only root, as the kernel sees the running process
    assert container.inspect("{{.Config.User}}") == "65534:65534"
    assert container.inspect("{{.HostConfig.ReadonlyRootfs}}") == "true"
    pid = int(container.inspect("{{.State.Pid}}"))
    if os.geteuid() == 0:  # rootful: no user namespace, container ids are host ids
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            ids = {k: v.split() for k, _, v in (line.partition(":") for line in f)}
        assert set(ids["Uid"]) == {"65534"} and set(ids["Gid"]) == {"65534"}, ids
        assert eml.stat().st_uid == 65534
        with open(f"/proc/{pid}/mountinfo", encoding="utf-8") as f:
            mounts = {fields[4]: fields[5].split(",") for fields in (line.split() for line in f)}
        assert "ro" in mounts["/"], mounts["/"]
        assert "rw" in mounts["/outbox"], mounts["/outbox"]
    else:
        assert podman("top", container.name, "user").stdout.split()[-1] in ("65534", "nobody")

    # SIGTERM (podman stop) ends it by itself, well before the grace that would SIGKILL it
    t0 = time.monotonic()
    podman("stop", "-t", str(STOP_GRACE_S), container.name, timeout=STOP_GRACE_S + 30)
    took = time.monotonic() - t0
    assert container.inspect("{{.State.ExitCode}}") == "0"
    assert took < STOP_GRACE_S / 2, f"stop took {took:.1f} s: SIGKILL rather than SIGTERM?"
    out, _ = container.logs()
    events = [json.loads(line)["event"] for line in out.splitlines()]
    # a low descriptor limit (podman's --ulimit fallback) lowers NOTIFY_MAX_CONNECTIONS first,
    # and says so once before server.ready
    start = [e for e in events if e != "server.connections_clamped"]
    assert events.index("server.ready") <= 1 and events[-1] == "server.stopped", events
    assert start[0] == "server.ready", events
    assert "http.request" in events


def test_bad_setting_exits_2_with_one_line(container):
    r = container.run(env=[("PORT", "eighty")], detach=False)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert container.inspect("{{.State.ExitCode}}") == "2"
    out, err = container.logs()
    # one JSON line on stdout (server.start_failed) and the same reason in plain words on stderr,
    # which podman and docker keep as the container's two log streams
    lines = out.splitlines()
    assert len(lines) == 1, out
    line = json.loads(lines[0])
    assert line["event"] == "server.start_failed" and line["level"] == "error"
    assert line["error"].startswith("PORT: ") and "eighty" in line["error"]
    assert err.splitlines() == ["notify-handler: " + line["error"]], err


def test_the_root_filesystem_really_is_read_only(container):
    # an outbox the handler must create outside the volume: mkdir on the read-only root fails,
    # so start-up stops with exit 2 instead of a handler that would answer 202 and lose mail
    r = container.run(env=[("NOTIFY_OUTBOX_DIR", "/spool")], detach=False)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    out, _ = container.logs()
    error = json.loads(out.splitlines()[0])["error"]
    assert error.startswith("outbox /spool: ") and "read-only" in error, error
