"""infra/apply and infra/destroy (no Azure here, so: syntax, strict mode, the tools they check,
and that every Terraform output and function they name exists), plus the agreement between
infra/terraform and the function package in infra/functions (queue name, function route).
"""
import json
import os
import re
import shutil
import stat
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SCRIPTS = ["infra/apply", "infra/destroy"]
FUNCTIONS = os.path.join(ROOT, "infra", "functions")


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def root_outputs():
    return set(re.findall(r'^output\s+"([^"]+)"', read("infra", "terraform", "outputs.tf"), re.M))


def tf_default(path, var):
    m = re.search(r'variable\s+"%s"\s*\{.*?default\s*=\s*"([^"]*)"' % var, read(*path.split("/")), re.S)
    return m.group(1)


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_syntax_and_strict_mode(script):
    path = os.path.join(ROOT, script)
    assert os.stat(path).st_mode & stat.S_IXUSR, f"{script} is not executable"
    text = read(script)
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    r = subprocess.run(["bash", "-n", path], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_shellcheck(script):
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed")
    r = subprocess.run(["shellcheck", os.path.join(ROOT, script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout


def test_apply_checks_tools_and_login_before_anything():
    text = read("infra", "apply")
    first_action = text.index("make zip")
    for tool in ("terraform", "az", "make", "zip"):
        assert re.search(r"^need %s " % tool, text, re.M), tool
        assert text.index("need %s " % tool) < first_action
    assert text.index("az account show --output none") < first_action
    assert 'terraform -chdir="$TF_DIR" init -input=false' in text
    assert 'terraform -chdir="$TF_DIR" apply "$@"' in text


def test_destroy_passes_its_arguments():
    text = read("infra", "destroy")
    assert 'terraform -chdir="$TF_DIR" destroy "$@"' in text
    assert "az account show --output none" in text


def test_apply_reads_only_outputs_that_exist():
    text = read("infra", "apply")
    named = set(re.findall(r"\$\(out ([a-z_]+)\)", text))
    named |= set(re.findall(r"output -(?:raw|json) ([a-z_]+)", text))
    named |= set(re.findall(r'-chdir="\$TF_DIR" output ([a-z_]+)', text))
    assert named, "apply reads no output?"
    assert named <= root_outputs(), named - root_outputs()


def test_apply_prints_the_original_request():
    text = read("infra", "apply")
    assert "x-functions-key: $key" in text
    body = re.search(r"-d '(\{.*\})'", text).group(1)
    assert set(json.loads(body)) == {"to_email", "subject", "message"}
    assert "az functionapp function keys list" in text and "az functionapp keys list" in text
    assert "az functionapp deployment source config-zip" in text  # the Flex code deployment


def test_apply_and_terraform_name_the_same_function_and_package():
    apply = read("infra", "apply")
    fn = re.search(r"^FUNCTION=(\S+)$", apply, re.M).group(1)
    assert tf_default("infra/terraform/modules/function_app/variables.tf", "function_name") == fn
    assert tf_default("infra/terraform/variables.tf", "zip_path") == "../../build/notify-handler.zip"


@pytest.fixture
def functions():
    if not os.path.isdir(FUNCTIONS):
        pytest.skip("infra/functions (the function package) is not there yet")
    out = {}
    for name in sorted(os.listdir(FUNCTIONS)):
        fj = os.path.join(FUNCTIONS, name, "function.json")
        if os.path.exists(fj):
            with open(fj, encoding="utf-8") as f:
                out[name] = json.load(f)["bindings"]
    return out


def test_the_http_function_is_post_api_notification(functions):
    fn = tf_default("infra/terraform/modules/function_app/variables.tf", "function_name")
    trigger = next(b for b in functions[fn] if b["type"] == "httpTrigger")
    assert trigger.get("route", fn) == "notification"
    assert "post" in [m.lower() for m in trigger.get("methods", ["post"])]
    assert trigger.get("authLevel", "function") == "function"  # the key infra/apply fetches


def test_queue_names_match_the_storage_module(functions):
    """Every queue a function names is created by Terraform: notifications (storage module) and
    delivery-reports, which Event Grid writes (events module)."""
    queue = tf_default("infra/terraform/modules/storage/variables.tf", "queue_name")
    reports = tf_default("infra/terraform/modules/events/variables.tf", "queue_name")
    names = {b["queueName"] for bindings in functions.values() for b in bindings if "queueName" in b}
    assert names == {queue, reports}, names
    assert {b["queueName"] for b in functions["delivery_report"]} == {reports}
    conns = {b.get("connection", "AzureWebJobsStorage") for bindings in functions.values()
             for b in bindings if "queueName" in b}
    assert conns == {"AzureWebJobsStorage"}  # identity-based on Consumption: __accountName
