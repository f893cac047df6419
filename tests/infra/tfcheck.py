#!/usr/bin/python3
"""Offline checks of a Terraform configuration, for machines without terraform or providers.

    tfcheck.py [DIR]          (default: infra/terraform)

`terraform validate` needs `terraform init`, which downloads providers; neither is possible on
the build machines. This parses every .tf file with HashiCorp's own HCL parser (@cdktf/hcl2json,
through hcl2json.js; `npm ci --prefix tests/infra` first), follows local module sources, and
reports, as `file:line: rule: message`:

  parse-error                  HCL syntax error (line from the parser's diagnostic)
  undeclared-var               var.X not declared in that module
  undeclared-local             local.X not defined in that module
  undeclared-resource          TYPE.NAME not defined in that module
  undeclared-data              data.TYPE.NAME not defined in that module
  undeclared-module            module.M without a module "M" block
  unknown-module-output        module.M.O where module M has no output O
  unpinned-provider            a resource/data type's provider missing from required_providers,
                               or listed there without a version constraint
  secret-output-not-sensitive  an output showing a key, connection string, password, token,
                               a sensitive variable or a sensitive module output, without
                               sensitive = true
  variable-no-description      a variable without a description
  unknown-module-input         a module argument the module declares no variable for
  missing-module-input         a module variable without a default that the call does not set
  module-source-missing        a local module source with no .tf files
  eventgrid-no-event-filter    an Event Grid event subscription without included_event_types
                               (or with an empty list): every event type of its topic would
                               reach the endpoint (for ACS: SMS, chat, calls, ... on the
                               delivery-reports queue)
and as a warning only (exit status unaffected):
  file-missing                 file()/filemd5()/templatefile() of a path that resolves here
                               (path.module, module arguments, for_each keys) but does not exist

It checks wiring, not provider schemas: argument names and types need `terraform validate`.
Exit status: 0 clean (warnings allowed), 1 findings, 2 the parser could not run.
"""
import json
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
HCL2JSON = os.path.join(HERE, "hcl2json.js")
ROOT_DEFAULT = os.path.normpath(os.path.join(HERE, "..", "..", "infra", "terraform"))

META_MODULE_ARGS = {"source", "version", "count", "for_each", "providers", "depends_on"}
SPECIAL_ROOTS = {"each", "count", "path", "self", "terraform"}
KEYWORDS = {"for", "in", "if", "else", "endif", "endfor", "true", "false", "null"}
BUILTIN_PROVIDERS = {"terraform"}  # terraform_data
FILE_FUNCS = ("file", "filemd5", "filebase64", "filesha1", "filesha256", "filesha512",
              "templatefile")

# attribute names that carry secrets (azurerm: primary_access_key, primary_connection_string,
# primary_key, instrumentation_key, default_function_key, ...)
SECRET_ATTR = re.compile(
    r"(access_key|connection_string|password|_key$|^key$|keys$|secret$|secrets$|token$|"
    r"^sas$|_sas$|sas_url|sas_token)")


class ToolError(Exception):
    pass


# ---- expression scanner ------------------------------------------------------------------------
# hcl2json gives every expression as a template string ("${var.x}-${local.y}"). The scanner
# walks templates and expressions the way HCL does (string literals, nested templates, for
# expressions, index brackets, function calls) and returns the traversals: lists of names, with
# "[]" for an index and "*" for a splat.

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
FOR_HEAD = re.compile(r"\s*~?\s*for\s+([A-Za-z_][\w-]*)\s*(?:,\s*([A-Za-z_][\w-]*))?\s+in\s")


class Scanner:
    def __init__(self, text):
        self.s = text
        self.refs = []
        self.bound = set()   # for-expression variables
        self.calls = []      # (function name, position of "(")

    def template(self, i, quoted):
        s = self.s
        while i < len(s):
            c = s[i]
            if quoted and c == "\\":
                i += 2
                continue
            if quoted and c == '"':
                return i + 1
            if s.startswith("$${", i) or s.startswith("%%{", i):
                i += 3
                continue
            if s.startswith("${", i):
                i = self.expression(i + 2, "}")
                continue
            if s.startswith("%{", i):  # directive: %{ if c }, %{ for x in xs }, %{ endfor }
                i = self.expression(self.maybe_for(i + 2), "}")
                continue
            i += 1
        return i

    def expression(self, i, closer):
        s = self.s
        depth = 0
        prev = ""  # previous significant character
        while i < len(s):
            c = s[i]
            if c.isspace():
                i += 1
                continue
            if c == closer and depth == 0:
                return i + 1
            if c == "#" or s.startswith("//", i):  # hcl2json keeps comments inside expressions
                nl = s.find("\n", i)
                i = len(s) if nl < 0 else nl + 1
                continue
            if s.startswith("/*", i):
                end = s.find("*/", i + 2)
                i = len(s) if end < 0 else end + 2
                continue
            if c == '"':
                i = self.template(i + 1, True)
                prev = '"'
                continue
            if c in "([{":
                depth += 1
                prev = c
                i += 1
                if c in "[{":
                    i = self.maybe_for(i)
                continue
            if c in ")]}":
                depth -= 1
                prev = c
                i += 1
                continue
            if c.isdigit():
                m = re.compile(r"[0-9.eE+-]+").match(s, i)
                i = m.end()
                prev = "0"
                continue
            m = IDENT.match(s, i)
            if m:
                name = m.group(0)
                j = m.end()
                if prev == "." or name in KEYWORDS:
                    prev = "a"
                    i = j
                    continue
                k = j
                while k < len(s) and s[k].isspace():
                    k += 1
                if s.startswith("::", k):  # provider::ns::function
                    i = k + 2
                    prev = ":"
                    continue
                if k < len(s) and s[k] == "(":
                    self.calls.append((name, k))
                    i = j
                    prev = "a"
                    continue
                i = self.traversal(name, j)
                prev = "a"
                continue
            prev = c
            i += 1
        return i

    def maybe_for(self, i):
        """After "[" or "{": `for a, b in` binds a and b."""
        m = FOR_HEAD.match(self.s, i)
        if not m:
            return i
        self.bound.update(n for n in m.groups() if n)
        return m.end()

    def traversal(self, name, j):
        s = self.s
        parts = [name]
        while j < len(s):
            if s.startswith(".*", j):
                parts.append("*")
                j += 2
                continue
            if s[j] == "." and j + 1 < len(s):
                m = re.compile(r"[A-Za-z_][\w-]*|[0-9]+").match(s, j + 1)
                if m:
                    parts.append(m.group(0) if not m.group(0).isdigit() else "[]")
                    j = m.end()
                    continue
                break
            if s[j] == "[":
                if s.startswith("[*]", j):
                    parts.append("*")
                    j += 3
                    continue
                j = self.expression(j + 1, "]")
                parts.append("[]")
                continue
            break
        self.refs.append(parts)
        return j


def scan(text):
    sc = Scanner(text)
    sc.template(0, False)
    names = lambda p: [x for x in p if x not in ("[]", "*")]  # noqa: E731
    return [names(p) for p in sc.refs if p[0] not in sc.bound], sc


# ---- model --------------------------------------------------------------------------------------

class Finding:
    def __init__(self, path, line, rule, message, warning=False):
        self.path, self.line, self.rule, self.message, self.warning = path, line, rule, message, warning

    def __str__(self):
        where = f"{os.path.relpath(self.path)}:{self.line}" if self.line else os.path.relpath(self.path)
        rule = f"warning {self.rule}" if self.warning else self.rule
        return f"{where}: {rule}: {self.message}"


class Module:
    def __init__(self, path):
        self.dir = path
        self.files = {}          # path -> parsed JSON
        self.texts = {}          # path -> source text
        self.variables = {}      # name -> (file, decl)
        self.locals = {}         # name -> (file, value)
        self.outputs = {}        # name -> (file, decl)
        self.resources = {}      # (type, name) -> (file, decl)
        self.data = {}           # (type, name) -> (file, decl)
        self.modules = {}        # name -> (file, decl)
        self.required = {}       # provider local name -> (file, version or None)
        self.calls = []          # (parent Module, call name, decl) that instantiate this module

    def add(self, path, doc):
        self.files[path] = doc
        for name, decls in doc.get("variable", {}).items():
            self.variables[name] = (path, decls[0])
        for block in doc.get("locals", []):
            for name, value in block.items():
                self.locals[name] = (path, value)
        for name, decls in doc.get("output", {}).items():
            self.outputs[name] = (path, decls[0])
        for kind, table in (("resource", self.resources), ("data", self.data)):
            for rtype, named in doc.get(kind, {}).items():
                for name, decls in named.items():
                    table[(rtype, name)] = (path, decls[0])
        for name, decls in doc.get("module", {}).items():
            self.modules[name] = (path, decls[0])
        for tf in doc.get("terraform", []):
            for req in tf.get("required_providers", []):
                for pname, spec in req.items():
                    version = spec if isinstance(spec, str) else (spec or {}).get("version")
                    self.required[pname] = (path, version)


def find_line(text, *needles):
    """First line (1-based) matching a needle, ignoring comment lines; None when none does."""
    for needle in needles:
        if not needle:
            continue
        rx = needle if isinstance(needle, re.Pattern) else re.compile(re.escape(needle))
        for n, line in enumerate(text.splitlines(), 1):
            if line.lstrip().startswith(("#", "//", "/*", "*")):
                continue
            if rx.search(line):
                return n
    return None


def decl_line(mod, path, kind, *labels):
    quoted = r"\s+".join(r'"%s"' % re.escape(x) for x in labels)
    return find_line(mod.texts.get(path, ""), re.compile(r"^\s*%s\s+%s" % (kind, quoted)))


def parse_files(paths, node):
    if not paths:
        return {}
    proc = subprocess.run([node, HCL2JSON, *paths], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise ToolError(proc.stderr.strip() or f"hcl2json.js exited {proc.returncode}")
    return json.loads(proc.stdout)


def tf_files(d):
    try:
        return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".tf"))
    except OSError:
        return []


def tree_files(root):
    """Every .tf file under root (real paths), skipping hidden directories such as .terraform."""
    root = os.path.realpath(root)
    out = []
    for d, subdirs, _ in os.walk(root):
        subdirs[:] = sorted(x for x in subdirs if not x.startswith("."))  # .terraform
        out += tf_files(d)
    return out


def load(root, node, findings, cache=None):
    """Parses the root module and every local module it reaches. Returns {dir: Module}.
    cache: {realpath of a .tf file: hcl2json.js result} already parsed (the tests share one)."""
    modules = {}
    root = os.path.realpath(root)
    parsed = dict(cache or {})
    parsed.update(parse_files([f for f in tree_files(root) if f not in parsed], node))
    queue = [root]
    while queue:
        batch = [d for d in dict.fromkeys(queue) if d not in modules]
        queue = []
        missing = [f for d in batch for f in tf_files(d) if f not in parsed]
        parsed.update(parse_files(missing, node))  # modules outside the root directory
        for d in batch:
            mod = modules[d] = Module(d)
            for f in tf_files(d):
                with open(f, encoding="utf-8") as fh:
                    mod.texts[f] = fh.read()
                res = parsed.get(f, {})
                if "error" in res:
                    m = re.search(r"\.tf:(\d+),", res["error"])
                    msg = re.sub(r"^parse config: \[|\]$", "", res["error"])
                    findings.append(Finding(f, int(m.group(1)) if m else None, "parse-error", msg))
                    continue
                mod.add(f, res.get("json", {}))
            for name, (path, decl) in mod.modules.items():
                src = decl.get("source", "")
                if isinstance(src, str) and src.startswith(("./", "../")):
                    child = os.path.realpath(os.path.join(d, src))
                    queue.append(child)
    # link calls to child modules
    for mod in modules.values():
        for name, (path, decl) in mod.modules.items():
            src = decl.get("source", "")
            if isinstance(src, str) and src.startswith(("./", "../")):
                child = modules.get(os.path.realpath(os.path.join(mod.dir, src)))
                if child is not None:
                    child.calls.append((mod, name, decl))
    return modules


def child_of(modules, mod, decl):
    src = decl.get("source", "")
    if isinstance(src, str) and src.startswith(("./", "../")):
        return modules.get(os.path.realpath(os.path.join(mod.dir, src)))
    return None


# ---- walking expressions -------------------------------------------------------------------------

def dynamic_names(value, out):
    """Iterator names of dynamic blocks (the block label, or `iterator`), anywhere in a block."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "dynamic" and isinstance(v, dict):
                for label, blocks in v.items():
                    out.add(label)
                    for b in blocks if isinstance(blocks, list) else [blocks]:
                        if isinstance(b, dict) and isinstance(b.get("iterator"), str):
                            out.add(b["iterator"])
            dynamic_names(v, out)
    elif isinstance(value, list):
        for v in value:
            dynamic_names(v, out)
    return out


def strings(value, skip=()):
    """Every string in a JSON value, skipping the keys in skip (at any depth)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if k in skip:
                continue
            yield from strings(v, skip)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v, skip)


def expressions(mod):
    """(file, context, block value, expression string, keys to skip) for everything to check."""
    for path, doc in mod.files.items():
        for name, decls in doc.get("variable", {}).items():
            for d in decls:
                yield path, ("variable", name), d, ("type",)
        for block in doc.get("locals", []):
            for name, value in block.items():
                yield path, ("local", name), value, ()
        for name, decls in doc.get("output", {}).items():
            for d in decls:
                yield path, ("output", name), d, ()
        for kind in ("resource", "data"):
            for rtype, named in doc.get(kind, {}).items():
                for name, decls in named.items():
                    for d in decls:
                        yield path, (kind, rtype, name), d, ("ignore_changes",)
        for name, decls in doc.get("module", {}).items():
            for d in decls:
                yield path, ("module", name), d, ()
        for name, decls in doc.get("provider", {}).items():
            for d in decls:
                yield path, ("provider", name), d, ()
        for name, decls in doc.get("check", {}).items():
            for d in decls:
                yield path, ("check", name), d, ()


def check_refs(modules, mod, findings):
    for path, ctx, block, skip in expressions(mod):
        bound = dynamic_names(block, set())
        text = mod.texts.get(path, "")
        for s in strings(block, skip):
            if "${" not in s and "%{" not in s:
                continue
            refs, _ = scan(s)
            for parts in refs:
                check_ref(modules, mod, path, text, ctx, parts, bound, findings)


def check_ref(modules, mod, path, text, ctx, parts, bound, findings):
    root = parts[0]
    if root in SPECIAL_ROOTS or root in bound or len(parts) < 2:
        return
    def report(rule, msg, needle):
        findings.append(Finding(path, find_line(text, needle), rule, msg))

    if root == "var":
        if parts[1] not in mod.variables:
            report("undeclared-var", f"var.{parts[1]} is not declared in {rel(mod.dir)}", f"var.{parts[1]}")
    elif root == "local":
        if parts[1] not in mod.locals:
            report("undeclared-local", f"local.{parts[1]} is not defined in {rel(mod.dir)}", f"local.{parts[1]}")
    elif root == "module":
        name = parts[1]
        if name not in mod.modules:
            report("undeclared-module", f"module.{name} has no module block in {rel(mod.dir)}", f"module.{name}")
            return
        child = child_of(modules, mod, mod.modules[name][1])
        if child is not None and len(parts) >= 3 and parts[2] not in child.outputs:
            report("unknown-module-output", f"module.{name}.{parts[2]}: {rel(child.dir)} has no output "
                   f"\"{parts[2]}\"", f"module.{name}.{parts[2]}")
    elif root == "data":
        if len(parts) >= 3 and (parts[1], parts[2]) not in mod.data:
            report("undeclared-data", f"data.{parts[1]}.{parts[2]} is not defined in {rel(mod.dir)}",
                   f"data.{parts[1]}.{parts[2]}")
    elif "_" in root:
        if (root, parts[1]) not in mod.resources:
            report("undeclared-resource", f"{root}.{parts[1]} is not defined in {rel(mod.dir)}",
                   f"{root}.{parts[1]}")
    # any other root is a dynamic-block iterator or something Terraform itself rejects


def rel(p):
    return os.path.relpath(p)


# ---- rules on declarations ------------------------------------------------------------------------

def check_providers(mod, findings):
    used = {}
    for table in (mod.resources, mod.data):
        for (rtype, name), (path, _) in table.items():
            used.setdefault(rtype.split("_", 1)[0], (path, rtype, name))
    for pname, (path, rtype, name) in sorted(used.items()):
        if pname in BUILTIN_PROVIDERS:
            continue
        kind = "data" if (rtype, name) in mod.data and (rtype, name) not in mod.resources else "resource"
        line = decl_line(mod, path, kind, rtype, name)
        if pname not in mod.required:
            findings.append(Finding(path, line, "unpinned-provider",
                                    f"{rtype} needs provider \"{pname}\", which is not in "
                                    f"required_providers of {rel(mod.dir)}"))
        elif not mod.required[pname][1]:
            rpath = mod.required[pname][0]
            findings.append(Finding(rpath, find_line(mod.texts.get(rpath, ""), re.compile(r"^\s*%s\s*=" % pname)),
                                    "unpinned-provider",
                                    f"provider \"{pname}\" has no version constraint in required_providers"))


def check_variables(mod, findings):
    for name, (path, decl) in mod.variables.items():
        desc = decl.get("description")
        if not isinstance(desc, str) or not desc.strip():
            findings.append(Finding(path, decl_line(mod, path, "variable", name), "variable-no-description",
                                    f"variable \"{name}\" has no description"))


def is_sensitive_output(mod, name):
    return name in mod.outputs and mod.outputs[name][1].get("sensitive") is True


def secret_reason(modules, mod, parts):
    root = parts[0]
    if root == "var" and len(parts) >= 2 and parts[1] in mod.variables:
        if mod.variables[parts[1]][1].get("sensitive") is True:
            return f"var.{parts[1]} is a sensitive variable"
    if root == "module" and len(parts) >= 3 and parts[1] in mod.modules:
        child = child_of(modules, mod, mod.modules[parts[1]][1])
        if child is not None and is_sensitive_output(child, parts[2]):
            return f"module.{parts[1]}.{parts[2]} is a sensitive output"
    attrs = parts[3:] if root == "data" else parts[2:]
    for a in attrs:
        if SECRET_ATTR.search(a):
            return f"{'.'.join(parts)} looks secret ({a})"
    if root == "local" and len(parts) >= 2 and parts[1] in mod.locals:
        return local_secret(modules, mod, parts[1], set())
    return None


def local_secret(modules, mod, name, seen):
    if name in seen:
        return None
    seen.add(name)
    for s in strings(mod.locals[name][1]):
        if "${" not in s:
            continue
        for parts in scan(s)[0]:
            if parts[0] == "local" and len(parts) >= 2 and parts[1] in mod.locals:
                r = local_secret(modules, mod, parts[1], seen)
            else:
                r = secret_reason(modules, mod, parts)
            if r:
                return f"local.{name} uses {r}"
    return None


def check_outputs(modules, mod, findings):
    for name, (path, decl) in mod.outputs.items():
        if decl.get("sensitive") is True:
            continue
        for s in strings(decl.get("value")):
            if "${" not in s:
                continue
            reason = next((r for r in (secret_reason(modules, mod, p) for p in scan(s)[0]) if r), None)
            if reason:
                findings.append(Finding(path, decl_line(mod, path, "output", name), "secret-output-not-sensitive",
                                        f"output \"{name}\" is not sensitive = true but {reason}"))
                break


def check_module_calls(modules, mod, findings):
    for name, (path, decl) in mod.modules.items():
        src = decl.get("source", "")
        line = decl_line(mod, path, "module", name)
        if not (isinstance(src, str) and src.startswith(("./", "../"))):
            continue  # registry or remote: its interface is unknown here
        child = child_of(modules, mod, decl)
        if child is None or not child.texts:
            findings.append(Finding(path, line, "module-source-missing",
                                    f"module \"{name}\": no .tf files in {src}"))
            continue
        for arg in decl:
            if arg in META_MODULE_ARGS:
                continue
            if arg not in child.variables:
                findings.append(Finding(path, find_line(mod.texts[path], re.compile(r"^\s*%s\s*=" % re.escape(arg))) or line,
                                        "unknown-module-input",
                                        f"module \"{name}\" sets {arg}, which {rel(child.dir)} does not declare"))
        for vname, (vpath, vdecl) in child.variables.items():
            if "default" not in vdecl and vname not in decl:
                findings.append(Finding(path, line, "missing-module-input",
                                        f"module \"{name}\" does not set {vname}, required by {rel(child.dir)}"))


# ---- file() paths ---------------------------------------------------------------------------------

FILE_CALL = re.compile(r'\b(%s)\(\s*"((?:[^"\\$]|\\.|\$\{[^}"]*\})*)"' % "|".join(FILE_FUNCS))
INTERP = re.compile(r"\$\{\s*([^}]*?)\s*\}")


def resolve(modules, mod, template, each_values, depth=0):
    """All values a simple template can take, or None when it depends on anything else."""
    if depth > 8:
        return None
    results = [""]
    pos = 0
    for m in INTERP.finditer(template):
        lit = template[pos:m.start()]
        pos = m.end()
        expr = m.group(1)
        vals = None
        if expr == "path.module":
            vals = [mod.dir]
        elif expr in ("path.root", "path.cwd"):
            vals = [root_of(modules)]
        elif expr in ("each.key", "each.value") and each_values is not None:
            vals = each_values[0] if expr == "each.key" else each_values[1]
        elif re.fullmatch(r"var\.[\w-]+", expr):
            vname = expr[4:]
            vals = []
            for parent, call, decl in mod.calls:
                if vname in decl and isinstance(decl[vname], str):
                    r = resolve(modules, parent, decl[vname], None, depth + 1)
                    if r is None:
                        return None
                    vals += r
                elif vname in mod.variables and isinstance(mod.variables[vname][1].get("default"), str):
                    vals += resolve(modules, mod, mod.variables[vname][1]["default"], None, depth + 1) or []
                else:
                    return None
            if not mod.calls:
                d = mod.variables.get(vname, (None, {}))[1].get("default")
                if not isinstance(d, str):
                    return None
                vals = resolve(modules, mod, d, None, depth + 1)
        elif re.fullmatch(r"local\.[\w-]+", expr) and isinstance(mod.locals.get(expr[6:], (0, None))[1], str):
            vals = resolve(modules, mod, mod.locals[expr[6:]][1], each_values, depth + 1)
        if vals is None:
            return None
        results = [r + lit + v for r in results for v in vals]
    return [r + template[pos:] for r in results]


def root_of(modules):
    return next(iter(modules))


def for_each_values(mod, block):
    fe = block.get("for_each") if isinstance(block, dict) else None
    value = None
    if isinstance(fe, dict):
        value = fe
    elif isinstance(fe, str):
        m = re.fullmatch(r"\$\{local\.([\w-]+)\}", fe)
        if m and m.group(1) in mod.locals:
            value = mod.locals[m.group(1)][1]
    if isinstance(value, dict):
        return list(value.keys()), [v for v in value.values() if isinstance(v, str)]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value, value
    return None


def check_files(modules, mod, findings):
    for path, ctx, block, skip in expressions(mod):
        each = for_each_values(mod, block)
        for s in strings(block, skip):
            for m in FILE_CALL.finditer(s):
                template = m.group(2)
                paths = resolve(modules, mod, template, each)
                for p in paths or []:
                    if not os.path.isabs(p):
                        p = os.path.join(root_of(modules), p)
                    if not os.path.exists(p):
                        findings.append(Finding(path, find_line(mod.texts.get(path, ""), m.group(1) + "("),
                                                "file-missing", f"{m.group(1)}() reads {rel(p)}, "
                                                "which does not exist (yet)", warning=True))


# ---- rules on resources ---------------------------------------------------------------------------

# Event subscription resources of azurerm (website/docs/r/eventgrid_*event_subscription.html.markdown):
# without included_event_types "all event types for the System Topic are included".
EVENT_SUBSCRIPTIONS = ("azurerm_eventgrid_system_topic_event_subscription",
                       "azurerm_eventgrid_event_subscription")


def check_event_subscriptions(mod, findings):
    for (rtype, name), (path, decl) in sorted(mod.resources.items()):
        if rtype not in EVENT_SUBSCRIPTIONS:
            continue
        types = decl.get("included_event_types")
        if types is None or types == [] or types == "${[]}":
            findings.append(Finding(path, decl_line(mod, path, "resource", rtype, name),
                                    "eventgrid-no-event-filter",
                                    f"{rtype}.{name} has no included_event_types: every event "
                                    f"type of the topic reaches its endpoint"))


# ---- main -----------------------------------------------------------------------------------------

def exit_status(findings):
    return 1 if any(not f.warning for f in findings) else 0


def check(root, node=None, cache=None):
    """Returns ({dir: Module}, [Finding]) for the module tree at root."""
    node = node or shutil.which("node")
    if not node:
        raise ToolError("node is not installed")
    if not os.path.exists(os.path.join(HERE, "node_modules", "@cdktf", "hcl2json")):
        raise ToolError("@cdktf/hcl2json is not installed: run `npm ci --prefix tests/infra`")
    if not tf_files(root):
        raise ToolError(f"no .tf files in {root}")
    findings = []
    modules = load(root, node, findings, cache)
    for mod in modules.values():
        check_refs(modules, mod, findings)
        check_providers(mod, findings)
        check_variables(mod, findings)
        check_outputs(modules, mod, findings)
        check_module_calls(modules, mod, findings)
        check_files(modules, mod, findings)
        check_event_subscriptions(mod, findings)
    seen, unique = set(), []
    for f in findings:
        key = str(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return modules, unique


def main(argv):
    root = argv[1] if len(argv) > 1 else ROOT_DEFAULT
    try:
        modules, findings = check(root)
    except (ToolError, OSError, subprocess.SubprocessError, ValueError) as e:
        print(f"tfcheck: {e}", file=sys.stderr)
        return 2
    for f in findings:
        print(f)
    errors = sum(not f.warning for f in findings)
    warnings = len(findings) - errors
    nfiles = sum(len(m.texts) for m in modules.values())
    print(f"tfcheck: {rel(root)}: {len(modules)} modules, {nfiles} files: {errors} errors, {warnings} warnings")
    return exit_status(findings)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
