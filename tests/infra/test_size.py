"""tests/bench/size.py, the size tooling behind `make size` and the budget `make test` enforces:
the link-map table adds up to the file size and names every part without a list of our files,
the budget check fails over the budget, and a variant without a piece really is smaller.
"""
import os
import re
import shutil
import subprocess
import sys

import pytest

from test_docker import BIN, ROOT

SIZE_PY = os.path.join(ROOT, "tests", "bench", "size.py")
MAP = os.path.join(ROOT, "build", "static", "handler.map")
BRLIB = os.path.join(ROOT, "build", "deps", "bearssl", "src", "build-musl", "libbearssl.a")
STATIC_LDFLAGS = re.search(r"^STATIC_LDFLAGS\s*:=\s*(.*)$",
                           open(os.path.join(ROOT, "Makefile"), encoding="utf-8").read(),
                           re.M).group(1)


def size_py(*args, cwd=ROOT):
    return subprocess.run([sys.executable, SIZE_PY, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def static_build(tmp_path_factory):
    """A private copy of the static binary, its map and its link inputs (another change may
    relink build/static at any time)."""
    if not (os.path.exists(BIN) and os.path.exists(MAP)):
        r = subprocess.run(["make", "static"], cwd=ROOT, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr[-1000:]
    if os.path.getmtime(MAP) + 1 < os.path.getmtime(BIN):
        pytest.fail("build/static/handler.map is older than the binary: `make static` must write it")
    d = tmp_path_factory.mktemp("size")
    # the same layout as build/static, so our objects are found under the binary's directory
    (d / "obj").mkdir()
    for name in ("handler", "handler.map", "libnotify.a", "obj/main.o"):
        shutil.copyfile(os.path.join(ROOT, "build", "static", name), d / name)
    text = (d / "handler.map").read_text(encoding="utf-8", errors="replace")
    (d / "handler.map").write_text(text.replace("build/static/", str(d) + "/"), encoding="utf-8")
    os.utime(d / "handler.map")
    return d


def rows(table):
    out = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 2 and re.fullmatch(r"-?[\d,]+", cells[1].strip("*")):
            out[cells[0]] = int(cells[1].strip("*").replace(",", ""))
    return out


def test_report_adds_up_and_finds_every_part(static_build, tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\nkept\n", encoding="utf-8")
    r = size_py("report", "--map", str(static_build / "handler.map"), "--bin",
                str(static_build / "handler"), "--results", str(results))
    assert r.returncode == 0, r.stderr
    t = rows(r.stdout)
    size = os.path.getsize(static_build / "handler")
    total = [v for k, v in t.items() if k.startswith("**total")]
    assert total == [size]
    # the kinds and the detail rows: each adds up, and all rows add up to the file
    kinds = {k: v for k, v in t.items() if k.startswith("**") and not k.startswith("**total")}
    detail = {k: v for k, v in t.items() if not k.startswith("**")}
    assert sum(kinds.values()) + detail["alignment padding, ELF headers, section table"] == size
    for kind in ("ours", "BearSSL"):
        assert sum(v for k, v in detail.items() if k.startswith(kind + ": ")) == kinds[f"**{kind}**"]
    assert any(k.startswith("**musl**") for k in kinds)
    # our modules by object name, found in the map (not from a list): every source file with code
    # in the binary; BearSSL's parts by source directory
    for mod in ("main", "tls", "http", "server", "notify", "json"):
        assert detail.get(f"ours: {mod}", 0) > 0, mod
    for part in ("ssl", "ec", "x509", "hash", "symcipher"):
        assert detail.get(f"BearSSL: {part}", 0) > 0, part
    assert 0 < detail["alignment padding, ELF headers, section table"] < 8192
    # the table lands in RESULTS.md between its markers, the rest of the file kept, and a second
    # run replaces it rather than adding another
    r = size_py("report", "--map", str(static_build / "handler.map"), "--bin",
                str(static_build / "handler"), "--results", str(results))
    text = results.read_text(encoding="utf-8")
    assert text.startswith("# Benchmark results\n\nkept\n")
    assert text.count("<!-- size:begin -->") == 1 and text.count("<!-- size:end -->") == 1
    assert r.stdout.strip() in text


def test_report_refuses_a_stale_map(static_build, tmp_path):
    stale = tmp_path / "handler.map"
    shutil.copyfile(static_build / "handler.map", stale)
    os.utime(stale, (1, 1))
    r = size_py("report", "--map", str(stale), "--bin", str(static_build / "handler"))
    assert r.returncode != 0 and "older than" in r.stderr


def test_budget_check(static_build, tmp_path):
    size = os.path.getsize(static_build / "handler")
    budget = tmp_path / "size-budget"
    budget.write_text(f"# a comment\n{size}\n", encoding="ascii")
    r = size_py("check", "--bin", str(static_build / "handler"), "--budget", str(budget))
    assert r.returncode == 0, r.stderr
    budget.write_text(f"{size - 1}\n", encoding="ascii")
    r = size_py("check", "--bin", str(static_build / "handler"), "--budget", str(budget))
    assert r.returncode != 0
    assert f"over the budget of {size - 1:,}" in r.stderr and "by 1." in r.stderr
    budget.write_text("184320 bytes\n", encoding="ascii")
    assert size_py("check", "--bin", str(static_build / "handler"), "--budget",
                   str(budget)).returncode != 0


def test_committed_budget_is_one_number_and_holds():
    path = os.path.join(ROOT, "tests", "bench", "size-budget")
    lines = [ln.strip() for ln in open(path, encoding="ascii") if ln.strip()]
    numbers = [ln for ln in lines if not ln.startswith("#")]
    assert len(numbers) == 1 and numbers[0].isdigit(), numbers
    r = size_py("check", "--bin", BIN, "--budget", path)
    assert r.returncode == 0, r.stderr


def test_variants_relink_smaller_without_each_piece(static_build, tmp_path):
    r = size_py("variants", "--out", str(tmp_path / "v"), "--cc", "musl-gcc", "--ldflags",
                STATIC_LDFLAGS, "--", str(static_build / "obj" / "main.o"),
                str(static_build / "libnotify.a"), BRLIB, "-lpthread")
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("| ") and "---" not in ln][1:]
    base = [c.strip() for c in lines[0].strip("|").split("|")]
    # the relinked baseline is the shipped binary, byte count for byte count
    assert int(base[3].replace(",", "")) == os.path.getsize(static_build / "handler")
    assert len(lines) > 5
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert not cells[1].startswith("n/a"), line  # every piece's entry points still exist
        cost = int(cells[2].replace(",", ""))
        if cells[0].startswith("layout only"):
            assert cost == 0 and int(cells[4].replace(",", "")) > 0, line
        else:
            assert 500 < cost < 20000, line  # a real piece, not the stubs, not half the binary
