"""tfcheck.py: every rule fires on a small broken fixture (and only that rule), the expression
scanner reads HCL the way Terraform does, and the real infra/terraform passes clean.

Needs node and `npm ci --prefix tests/infra` (@cdktf/hcl2json); without node the suite skips.
"""
import functools
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TF = os.path.join(ROOT, "infra", "terraform")
FIXTURES = os.path.join(HERE, "fixtures")
sys.path.insert(0, HERE)

import tfcheck  # noqa: E402

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (needed by @cdktf/hcl2json)")

LINE = re.compile(r"^(?P<file>[^:\s]+)(?::(?P<line>\d+))?: (?P<warn>warning )?(?P<rule>[a-z-]+): (?P<msg>.+)$")

# fixture directory -> (rule, findings expected, exit status)
CASES = {
    "parse-error": ("parse-error", 1, 1),
    "undeclared-var": ("undeclared-var", 1, 1),
    "undeclared-local": ("undeclared-local", 1, 1),
    "undeclared-resource": ("undeclared-resource", 1, 1),
    "undeclared-data": ("undeclared-data", 1, 1),
    "undeclared-module": ("undeclared-module", 1, 1),
    "unknown-module-output": ("unknown-module-output", 1, 1),
    "unpinned-provider": ("unpinned-provider", 2, 1),  # one missing, one without a version
    "secret-output-not-sensitive": ("secret-output-not-sensitive", 2, 1),
    "variable-no-description": ("variable-no-description", 1, 1),
    "unknown-module-input": ("unknown-module-input", 1, 1),
    "missing-module-input": ("missing-module-input", 1, 1),
    "module-source-missing": ("module-source-missing", 1, 1),
    "file-missing": ("file-missing", 1, 0),  # a warning: the status stays 0
    # one subscription without a filter, one with an empty one; the filtered one passes
    "eventgrid-no-event-filter": ("eventgrid-no-event-filter", 2, 1),
}


@pytest.fixture(scope="module", autouse=True)
def hcl2json_installed():
    if not os.path.isdir(os.path.join(HERE, "node_modules", "@cdktf", "hcl2json")):
        pytest.fail("@cdktf/hcl2json is missing: run `npm ci --prefix tests/infra`")


@functools.lru_cache(maxsize=None)
def parse_cache():
    """One hcl2json.js run for every fixture and the real configuration (each run loads the
    WebAssembly parser, about half a second)."""
    files = tfcheck.tree_files(FIXTURES) + tfcheck.tree_files(TF)
    out = subprocess.run([NODE, os.path.join(HERE, "hcl2json.js"), *files], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    return json.loads(out)


def check(path):
    """In-process run with the shared parse: (exit status, findings as CLI lines' matches)."""
    _, found = tfcheck.check(path, cache=parse_cache())
    cwd = os.getcwd()
    os.chdir(ROOT)  # paths in findings are relative to the working directory, as in the CLI
    try:
        lines = [str(f) for f in found]
    finally:
        os.chdir(cwd)
    matches = [LINE.match(x) for x in lines]
    assert all(matches), lines
    return tfcheck.exit_status(found), matches, "\n".join(lines)


def run(path):
    proc = subprocess.run([sys.executable, os.path.join(HERE, "tfcheck.py"), path], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    lines = proc.stdout.splitlines()
    assert lines and lines[-1].startswith("tfcheck: "), proc.stdout + proc.stderr
    findings = []
    for line in lines[:-1]:
        m = LINE.match(line)
        assert m, f"finding not in file:line: rule: message form: {line!r}"
        findings.append(m)
    return proc.returncode, findings, proc.stdout + proc.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_fires_on_its_fixture(case):
    rule, count, status = CASES[case]
    code, findings, out = check(os.path.join(FIXTURES, case))
    assert code == status, out
    assert [f["rule"] for f in findings] == [rule] * count, out
    for f in findings:
        assert f["file"].startswith("tests/infra/fixtures/" + case + "/"), out
        assert f["line"], f"no line number: {f.group(0)}"
        assert bool(f["warn"]) == (status == 0), out


def test_every_rule_has_a_fixture():
    documented = set(re.findall(r"^  ([a-z]+(?:-[a-z]+)+) ", tfcheck.__doc__, re.M))
    assert documented == {rule for rule, _, _ in CASES.values()}
    assert {d for d in os.listdir(FIXTURES) if not d.startswith("_")} == set(CASES)


@pytest.mark.parametrize("case", ["undeclared-var", "file-missing"])
def test_command_line(case):
    """The CLI prints the same findings and exits 1 on an error, 0 on a warning only."""
    rule, count, status = CASES[case]
    code, findings, out = run(os.path.join(FIXTURES, case))
    assert code == status, out
    assert [f["rule"] for f in findings] == [rule] * count, out
    assert out.splitlines()[-1].startswith(f"tfcheck: tests/infra/fixtures/{case}: 1 modules, 2 files: ")


def test_findings_point_at_the_right_lines():
    _, findings, _ = check(os.path.join(FIXTURES, "undeclared-var"))
    assert findings[0]["line"] == "8" and "var.prefix" in findings[0]["msg"]
    _, findings, _ = check(os.path.join(FIXTURES, "parse-error"))
    assert findings[0]["line"] == "3" and "Invalid expression" in findings[0]["msg"]
    _, findings, out = check(os.path.join(FIXTURES, "secret-output-not-sensitive"))
    msgs = " ".join(f["msg"] for f in findings)
    assert "storage_key" in msgs and "acs_connection_string" in msgs, out
    assert "acs_key_marked" not in msgs and "storage_id" not in msgs, out


def test_real_infra_passes_clean():
    code, findings, out = run(TF)
    assert code == 0, out
    errors = [f for f in findings if not f["warn"]]
    assert errors == [], out
    # the saved-search queries are written by another change; their absence may only warn
    for f in findings:
        assert f["rule"] == "file-missing" and "infra/kql/" in f["msg"], out
    assert "6 modules" in out.splitlines()[-1]


def test_real_infra_reaches_every_module():
    modules, _ = tfcheck.check(TF, cache=parse_cache())
    names = sorted(os.path.relpath(d, TF) for d in modules)
    assert names == [".", "modules/communication", "modules/events", "modules/function_app",
                     "modules/monitoring", "modules/storage"]
    # the delivery-report resources are where the README says, wired keylessly
    events = modules[os.path.join(TF, "modules/events")]
    assert sorted(t for t, _ in events.resources) == [
        "azurerm_eventgrid_system_topic", "azurerm_eventgrid_system_topic_event_subscription",
        "azurerm_role_assignment", "azurerm_storage_container", "azurerm_storage_queue",
        "azurerm_storage_queue"]
    _, sub = events.resources[("azurerm_eventgrid_system_topic_event_subscription", "reports")]
    assert "delivery_identity" in sub and "dead_letter_identity" in sub
    assert "storage_blob_dead_letter_destination" in sub and "storage_queue_endpoint" in sub
    _, roles = events.locals["topic_roles"]
    assert "Storage Queue Data Message Sender" in roles


@pytest.mark.parametrize("text, refs", [
    ('${var.a}-${local.b.c}', [["var", "a"], ["local", "b", "c"]]),
    ('${contains(["var.not", "a.b"], var.x)}', [["var", "x"]]),
    ('$${var.escaped} ${module.m[0].out}', [["module", "m", "out"]]),
    ('${azurerm_x.y[*].id}', [["azurerm_x", "y", "id"]]),
    ('${[for s in var.l : "${s}-${local.q}"]}', [["var", "l"], ["local", "q"]]),
    ('${{ for k_x, v in local.m : k_x => v.id if v != null }}', [["local", "m"]]),
    ('%{ for rec_x in var.rs }${rec_x.name}%{ endfor }', [["var", "rs"]]),
    ('${a.b # var.in_a_comment\n}', [["a", "b"]]),
    ('${provider::azurerm::parse_resource_id(data.t_x.n.id)}', [["data", "t_x", "n", "id"]]),
    ('${lookup(var.m, "k", null) != null ? aws_x.y["k"].z : 1.5e3}',
     [["var", "m"], ["aws_x", "y", "z"]]),
])
def test_scanner(text, refs):
    assert tfcheck.scan(text)[0] == refs


# ---- what the real configuration promises (read from the parsed HCL) ----------------------------

def parsed(*parts):
    return parse_cache()[os.path.realpath(os.path.join(TF, *parts))]["json"]


def test_consumption_app_is_keyless_and_uses_the_handler_names():
    res = parsed("modules", "function_app", "main.tf")["resource"]
    app = res["azurerm_linux_function_app"]["this"][0]
    assert app["storage_uses_managed_identity"] is True
    assert "storage_account_access_key" not in app
    assert app["https_only"] is True
    assert app["site_config"][0]["application_stack"][0]["use_custom_runtime"] is True
    settings = app["app_settings"]
    assert "WEBSITE_RUN_FROM_PACKAGE" in settings and "azurerm_storage_blob.package" in settings
    assert '"SystemAssigned"' in settings
    assert "AzureWebJobsStorage" not in settings and "AccountKey" not in settings
    locals_ = parsed("modules", "function_app", "main.tf")["locals"][0]
    for name in ("ACS_ENDPOINT", "EMAIL_SENDER", "NOTIFY_MODE"):
        assert name in locals_["handler_settings"]
    assert "CONNECTION_STRING" not in locals_["handler_settings"]  # managed identity, no ACS key
    role = res["azurerm_role_assignment"]["acs_send"][0]
    assert role["role_definition_name"] == "Communication and Email Service Owner"


def test_storage_is_locked_down():
    sa = parsed("modules", "storage", "main.tf")["resource"]["azurerm_storage_account"]["this"][0]
    assert sa["min_tls_version"] == "TLS1_2"
    assert sa["allow_nested_items_to_be_public"] is False
    assert sa["https_traffic_only_enabled"] is True
    queues = parsed("modules", "storage", "variables.tf")["variable"]["queue_name"][0]
    assert queues["default"] == "notifications"


def test_root_variables_have_the_documented_defaults():
    v = {k: d[0] for k, d in parsed("variables.tf")["variable"].items()}
    assert v["hosting_plan"]["default"] == "consumption"
    assert v["notify_mode"]["default"] == "queued"
    assert v["zip_path"]["default"] == "../../build/notify-handler.zip"
    assert v["sender_domain"]["default"] is None
    for name, d in v.items():
        assert d.get("description"), name
        assert "type" in d, name


def test_every_provider_pinned_in_every_module():
    for d in ["", "modules/storage", "modules/monitoring", "modules/communication", "modules/function_app"]:
        doc = parsed(*(d.split("/") if d else []), "versions.tf")
        req = doc["terraform"][0]["required_providers"][0]
        assert req["azurerm"]["version"] == ">= 4.77, < 6.0", d
        assert doc["terraform"][0]["required_version"] == ">= 1.5", d
