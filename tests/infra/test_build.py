"""Build and test hygiene (issue 10, item 7), checked through `make -n` (nothing is built):
the user's CFLAGS/LDFLAGS are added to the project's flags instead of replacing them, CC is the
host's cc unless given, the unit targets have distinct names, test and fuzz binaries carry
dependency files, the fuzzers share one CHECK header and each has a regression folder, and the
unit test of ids uses known vectors instead of a copy of the formatter."""
import glob
import os
import re
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
FUZZ = os.path.join(ROOT, "tests", "fuzz")


def make_n(*args, env=None):
    """`make -n`, recipe lines joined across backslash-newlines."""
    e = {k: v for k, v in os.environ.items()
         if k not in ("CC", "CFLAGS", "LDFLAGS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    e.update(env or {})
    r = subprocess.run(["make", "--no-print-directory", "-n", *args], cwd=ROOT, env=e,
                       capture_output=True, text=True, timeout=60)
    r.stdout = r.stdout.replace("\\\n", " ")
    return r


def test_exported_cflags_add_to_the_project_flags():
    out = make_n("-B", "build/dev/obj/id.o", env={"CFLAGS": "-O0 -DUSER_FLAG"}).stdout
    line = [ln for ln in out.splitlines() if "src/id.c" in ln][0]
    for flag in ("-std=c11", "-Wall", "-Wextra", "-O0", "-DUSER_FLAG"):
        assert flag in line.split(), (flag, line)
    # the user's come last, so they can override an option of the project's
    assert line.index("-O0") > line.index("-O2")


def test_user_ldflags_keep_the_variant_flags():
    out = make_n("-B", "build/asan/handler", "B=build/asan", "EXTRA_LDFLAGS=-fsanitize=address",
                 "LDFLAGS=-Wl,-O1").stdout
    line = [ln for ln in out.splitlines() if "-o build/asan/handler" in ln][0]
    assert "-fsanitize=address" in line and "-Wl,-O1" in line, line


def test_cc_defaults_to_cc_and_honours_the_users():
    line = [ln for ln in make_n("-B", "build/dev/obj/id.o").stdout.splitlines() if "src/id.c" in ln][0]
    assert line.split()[0] == "cc", line
    line = [ln for ln in make_n("-B", "build/dev/obj/id.o", env={"CC": "gcc"}).stdout.splitlines()
            if "src/id.c" in ln][0]
    assert line.split()[0] == "gcc", line


def test_unit_target_names_are_distinct():
    assert make_n("unit-build").returncode == 0
    r = make_n("units")
    assert r.returncode != 0 and "No rule to make target" in r.stderr
    text = open(os.path.join(ROOT, "Makefile"), encoding="utf-8").read()
    assert re.search(r"^test: (size-check )?unit ", text, re.M)  # what CI runs: `make test` -> `make unit`


def test_test_binaries_have_dependency_files():
    out = make_n("-B", "build/asan/test_app", "B=build/asan").stdout
    line = [ln for ln in out.splitlines() if "-o build/asan/test_app" in ln][0]
    assert "-MF build/asan/test_app.d" in line, line
    out = make_n("-B", "build/fuzz/fuzz_json", "B=build/fuzz").stdout
    line = [ln for ln in out.splitlines() if "-o build/fuzz/fuzz_json" in ln][0]
    assert "-MF build/fuzz/fuzz_json.d" in line, line
    assert not re.search(r"\.h\b", line), "headers passed to the compiler: " + line
    if os.path.exists(os.path.join(ROOT, "build", "asan", "test_app.d")):
        # with the dependency file in place, a newer testutil.h rebuilds the binary
        out = make_n("-W", "tests/unit/testutil.h", "build/asan/test_app", "B=build/asan").stdout
        assert "-o build/asan/test_app" in out


def test_fuzzers_share_one_check_header_and_have_regression_folders():
    targets = sorted(os.path.basename(p)[5:-2] for p in glob.glob(os.path.join(FUZZ, "fuzz_*.c")))
    assert len(targets) >= 8
    for t in targets:
        src = open(os.path.join(FUZZ, "fuzz_%s.c" % t), encoding="utf-8").read()
        assert '#include "fuzz.h"' in src and "#define CHECK" not in src, t
        assert glob.glob(os.path.join(FUZZ, "regress", t, "*")), "no regression input for " + t


def test_json_comments_agree_on_token_types():
    c = open(os.path.join(ROOT, "src", "json.c"), encoding="utf-8").read()
    h = open(os.path.join(ROOT, "include", "json.h"), encoding="utf-8").read()
    assert "json.h says the type values match" not in c
    assert "STRING and PRIMITIVE do not" in h


def test_id_unit_test_uses_known_vectors():
    src = open(os.path.join(ROOT, "tests", "unit", "test_id.c"), encoding="utf-8").read()
    assert "expected_v8" not in src and "bearssl_hash.h" not in src
    assert len(re.findall(r'"[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"',
                          src)) >= 5
