"""scripts/podman-run.sh against a fake podman on PATH: podman's defaults are taken where they
work, and on hosts where they fail the script falls back, in order, to low open-file and process
limits, then to runc with cgroupfs as well; when nothing works it fails with the last error.
(tests/infra/test_image.py runs the real podman with whatever the script picks here.)
"""
import os
import subprocess

from test_docker import ROOT

SCRIPT = os.path.join(ROOT, "scripts", "podman-run.sh")

# The fake records each call and succeeds only for the command lines `accept` names.
FAKE = """#!/bin/sh
echo "$*" >> "{log}"
case "$*" in
{cases}
esac
echo "Error: runc create failed: error setting rlimit type 7: operation not permitted" >&2
exit 126
"""


def run_with_fake(tmp_path, accept):
    log = tmp_path / "calls"
    cases = "\n".join(f'"{a}") exit 0 ;;' for a in accept)
    fake = tmp_path / "podman"
    fake.write_text(FAKE.format(log=log, cases=cases))
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}")
    r = subprocess.run(["sh", SCRIPT, "img:tag"], env=env, capture_output=True, text=True,
                       timeout=30)
    calls = log.read_text().splitlines() if log.exists() else []
    return r, calls


PROBE = "--rm --network=host img:tag --version"
LIMITS = "--ulimit nofile=1024:1024 --ulimit nproc=1000:1000"


def test_defaults_first(tmp_path):
    r, calls = run_with_fake(tmp_path, [f"run {PROBE}"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "podman run"
    assert calls == [f"run {PROBE}"]


def test_low_limits_where_they_cannot_be_raised(tmp_path):
    r, calls = run_with_fake(tmp_path, [f"run {LIMITS} {PROBE}"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"podman run {LIMITS}"
    assert calls == [f"run {PROBE}", f"run {LIMITS} {PROBE}"]


def test_runc_and_cgroupfs_last(tmp_path):
    last = f"--runtime runc --cgroup-manager=cgroupfs run {LIMITS} {PROBE}"
    r, calls = run_with_fake(tmp_path, [last])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"podman --runtime runc --cgroup-manager=cgroupfs run {LIMITS}"
    assert len(calls) == 3 and calls[-1] == last


def test_nothing_works(tmp_path):
    r, calls = run_with_fake(tmp_path, [])
    assert r.returncode == 1 and r.stdout == ""
    assert "rlimit" in r.stderr
    assert len(calls) == 3
