"""Start-up: --help, --version, and one clear line for every bad setting."""
import subprocess

import pytest

from conftest import BIN

VARS = ["PORT", "FUNCTIONS_CUSTOMHANDLER_PORT", "BIND", "NOTIFY_WORKERS", "NOTIFY_MAX_CONNECTIONS",
        "NOTIFY_MAX_BODY_BYTES", "NOTIFY_HEADER_TIMEOUT_MS", "NOTIFY_READ_TIMEOUT_MS",
        "NOTIFY_WRITE_TIMEOUT_MS", "NOTIFY_IDLE_TIMEOUT_MS", "NOTIFY_DRAIN_TIMEOUT_MS",
        "NOTIFY_OUTBOX_DIR", "EMAIL_SENDER", "NOTIFY_ALLOWED_SENDERS", "NOTIFY_API_KEY",
        "NOTIFY_IDEMPOTENCY_TTL_S", "NOTIFY_IDEMPOTENCY_ENTRIES", "NOTIFY_LOG_LEVEL"]


def run(args=(), env=None, cwd=None):
    e = {"PATH": "/usr/bin:/bin"}
    e.update(env or {})
    return subprocess.run([BIN, *args], env=e, cwd=cwd, capture_output=True, text=True, timeout=10)


def test_help_lists_every_variable():
    r = run(["--help"])
    assert r.returncode == 0
    for v in VARS:
        assert v in r.stdout, v
    assert "[8080]" in r.stdout and "[./outbox]" in r.stdout


def test_version():
    r = run(["--version"])
    assert r.returncode == 0 and r.stdout.startswith("notify-handler ")


def test_unknown_argument():
    r = run(["--bogus"])
    assert r.returncode == 2 and "--bogus" in r.stderr


@pytest.mark.parametrize("var,value,needle", [
    ("PORT", "70000", "PORT: must be an integer from 1 to 65535"),
    ("PORT", "80x", "PORT: must be an integer"),
    ("NOTIFY_WORKERS", "0", "NOTIFY_WORKERS: must be an integer from 1 to 256"),
    ("NOTIFY_MAX_BODY_BYTES", "-5", "NOTIFY_MAX_BODY_BYTES"),
    ("NOTIFY_LOG_LEVEL", "loud", "NOTIFY_LOG_LEVEL: must be debug, info, warn, error or off"),
    ("EMAIL_SENDER", "not-an-address", "EMAIL_SENDER: not a valid e-mail address"),
    ("NOTIFY_ALLOWED_SENDERS", "a@example.com, bad one", "NOTIFY_ALLOWED_SENDERS"),
    ("BIND", "localhost", "BIND: \"localhost\" is not an IPv4 or IPv6 address"),
])
def test_bad_values_stop_startup(tmp_path, var, value, needle):
    r = run(env={var: value, "NOTIFY_OUTBOX_DIR": str(tmp_path / "o")}, cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("notify-handler: ") and needle in lines[0], r.stderr


def test_api_key_never_echoed(tmp_path):
    r = run(env={"NOTIFY_API_KEY": "k" * 300, "NOTIFY_OUTBOX_DIR": str(tmp_path / "o")})
    assert r.returncode == 2 and "NOTIFY_API_KEY" in r.stderr and "kkkk" not in r.stderr + r.stdout


def test_unusable_outbox(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = run(env={"NOTIFY_OUTBOX_DIR": str(f / "sub")}, cwd=tmp_path)
    assert r.returncode == 2 and str(f / "sub") in r.stderr


def test_port_in_use(tmp_path, h):
    r = run(env={"PORT": str(h.port), "BIND": "127.0.0.1", "NOTIFY_OUTBOX_DIR": str(tmp_path / "o")})
    assert r.returncode == 2 and "in use" in r.stderr  # glibc and musl word it differently


def test_functions_port_overrides_port(start):
    from conftest import free_port, request
    p = free_port()
    h = start(env={"FUNCTIONS_CUSTOMHANDLER_PORT": str(p)})
    assert h.port == p
    assert request(h, "GET", "/").status == 200


def test_api_key_set_but_empty_refused(tmp_path):
    """NOTIFY_API_KEY="" would switch authentication off with no more trace than "auth":0 at
    info level: start-up refuses it, one line on stderr, exit 2."""
    r = run(env={"NOTIFY_API_KEY": "", "NOTIFY_OUTBOX_DIR": str(tmp_path / "o")}, cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("notify-handler: NOTIFY_API_KEY: "), r.stderr
    assert "empty" in lines[0]
