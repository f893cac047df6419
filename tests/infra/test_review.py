"""What the Terraform review against the azurerm provider sources found (issue 10, item 6), pinned
on the files as text, so it runs without node: the fixed-name replacements documented next to
the variables that trigger them, the plan kind in the plan's name, the Flex runtime version's
confirmation step, and one alert window in the KQL, its README and the rule."""
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TF = os.path.join(ROOT, "infra", "terraform")


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def block(text, head):
    """The text of the block that starts with `head` (up to its matching brace)."""
    i = text.index(head)
    depth, j = 0, text.index("{", i)
    while True:
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i:j + 1]
        j += 1


def test_fixed_name_replacements_documented_next_to_the_variables():
    v = read("infra", "terraform", "variables.tf")
    for name in ("location", "acs_data_location"):
        desc = re.search(r'description\s*=\s*"((?:[^"\\]|\\.)*)"', block(v, 'variable "%s"' % name))
        assert desc and "infra/destroy" in desc.group(1), name
    # the reason is written down where the variables are
    assert "create_before_destroy" in v and "already exists" in v
    readme = read("README.md")
    assert "run `infra/destroy` first" in readme


def test_plan_kind_in_the_plan_name():
    m = read("infra", "terraform", "modules", "function_app", "main.tf")
    plan = block(m, 'resource "azurerm_service_plan" "this"')
    name = re.search(r'^\s*name\s*=\s*(.+)$', plan, re.M).group(1)
    sku = re.search(r'^\s*sku_name\s*=\s*(.+)$', plan, re.M).group(1)
    assert "local.flex" in sku
    # the name changes exactly when the SKU does
    assert "local.flex" in name and '"fc1"' in name and '"y1"' in name, name


def test_flex_runtime_version_has_a_confirmation_step():
    m = read("infra", "terraform", "modules", "function_app", "main.tf")
    flex = block(m, 'resource "azurerm_function_app_flex_consumption" "this"')
    assert 'runtime_version = "1.0"' in flex
    cmd = "az functionapp list-flexconsumption-runtimes --location <region> --runtime custom"
    assert cmd in flex and cmd in read("README.md")


def test_one_alert_window():
    kql = read("infra", "kql", "failure_alert.kql")
    window = re.search(r"^let window = (\d+)m;", kql, re.M).group(1)
    mon = read("infra", "terraform", "modules", "monitoring", "variables.tf")
    freq = re.search(r'default\s*=\s*"PT(\d+)M"', block(mon, 'variable "alert_frequency"')).group(1)
    assert window == freq
    row = [ln for ln in read("infra", "kql", "README.md").splitlines()
           if ln.startswith("| `failure_alert.kql`")][0]
    minutes = set(re.findall(r"(\d+) ?min", row)) | set(re.findall(r"\((\d+) m", row))
    assert minutes == {window}, row
