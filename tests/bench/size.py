#!/usr/bin/env python3
"""Where the bytes of the static binary come from, read from the GNU ld link map.

    size.py report --map MAP --bin BINARY [--results RESULTS.md]
    size.py variants --out DIR --cc CC --ldflags "FLAGS" -- LINK INPUTS...
    size.py check --bin BINARY --budget FILE

`report` attributes every input section that the link kept in a file-backed, allocated output
section (from the binary's own section table: PROGBITS and the like, not .bss) to its input
file, and groups the files without any list of ours: an object or archive member of the build
directory is one of our modules (by object name), a member of libbearssl.a is the BearSSL part
named by the directory of BearSSL's source tree that holds its .c file (ec, rsa, x509, ssl,
symcipher, hash, ...), anything under a musl directory is musl, libgcc is libgcc. What no input
section accounts for (ELF and program headers, alignment padding, the section table) is shown as
such, so the rows add up to the file size.

`variants` relinks the same objects and archives with one optional piece cut off, and prints what
each costs. A piece is cut with the linker alone (GNU ld --wrap): every reference to its entry
symbols from other objects goes to an empty stub, so --gc-sections drops the piece and everything
only it reaches. The shipped binary is never changed; the stubs (a byte or two each) stay in.
A whole module is cut the same way by wrapping every global symbol it defines.

`check` fails when the binary is larger than the one number in the budget file.
"""
import argparse
import collections
import glob
import os
import re
import shlex
import subprocess
import sys

# The optional pieces: (label, symbols whose references are cut, modules cut whole, extra
# linker flags). Symbols are entry points that only the piece uses; a missing one is reported,
# not fatal.
PIECES = [
    ("NOTIFY_CA_FILE loading (PEM and X.509 decoding)", ["tls_anchors_load_pem"], [], ""),
    ("P-384 and P-521 (BearSSL's generic i31 curves)", ["br_ec_prime_i31"], [], ""),
    ("constant-time AES-GCM fallback (aes_ct64 CTR, ghash_ctmul64)",
     ["br_aes_ct64_ctr_vtable", "br_ghash_ctmul64"], [], ""),
    ("ECDSA (chains and ServerKeyExchange; P-384 kept for ECDHE)", ["br_ecdsa_i31_vrfy_asn1"], [],
     ""),
    ("ECDSA and P-384/P-521 together (RSA-only chains, ECDHE on P-256)",
     ["br_ecdsa_i31_vrfy_asn1", "br_ec_prime_i31"], [], ""),
    ("outbox and MIME writer (unused in a Functions package)", [], ["outbox", "mail"], ""),
    ("invocation envelope parser/writer (unused by the standalone server)", [], ["invoke"], ""),
    # Not a piece: the file layout. The RELRO segment must end on a 4 KiB page, so the padding
    # before it makes the file size move in 4 KiB steps; without RELRO and with a small common
    # page size the data segment follows the code with almost no padding.
    ("layout only: `-z norelro -z common-page-size=64` (no piece cut)", [], [],
     "-Wl,-z,norelro -Wl,-z,common-page-size=64"),
]

ALLOC_FILE_TYPES = {"PROGBITS", "INIT_ARRAY", "FINI_ARRAY", "PREINIT_ARRAY", "NOTE"}


def sections(binary):
    """{name: size} of the allocated sections that occupy bytes in the file."""
    out = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True,
                         check=True).stdout
    res = {}
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)\s+"
                     r"[0-9a-f]+\s+(\S*)\s", line)
        if m and m.group(2) in ALLOC_FILE_TYPES and "A" in m.group(4):
            res[m.group(1)] = int(m.group(3), 16)
    return res


def parse_map(path, keep):
    """{input file: bytes} of the input sections placed in the output sections `keep`."""
    sizes = collections.Counter()
    out_sec = None
    pending = None  # an input section whose name filled its line: address, size, file follow
    started = False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not started:
                started = line.startswith("Linker script and memory map")
                continue
            if line.startswith("OUTPUT(") or line.startswith("LOAD linker stubs"):
                continue
            m = re.match(r"^(\.\S+|\S+)(\s+0x[0-9a-f]+\s+0x[0-9a-f]+.*)?$", line)
            if m and not line.startswith(" ") and not line.startswith("LOAD"):
                out_sec = m.group(1)
                pending = None
                continue
            if out_sec not in keep:
                continue
            if pending is not None:
                m = re.match(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$", line)
                pending = None
                if m:
                    sizes[m.group(2).strip()] += int(m.group(1), 16)
                continue
            m = re.match(r"^ (\S+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S.*)$", line)
            if m and m.group(1) != "*fill*":
                sizes[m.group(3).strip()] += int(m.group(2), 16)
                continue
            if re.match(r"^ (\.\S+|COMMON)$", line):
                pending = line.strip()
    return sizes


def group_of(path, build_dir):
    """(kind, part) of one input file as the map names it."""
    m = re.match(r"^(.*?)\((.*)\)$", path)
    archive, member = (m.group(1), m.group(2)) if m else (None, path)
    base = os.path.basename(member)
    stem = re.sub(r"\.(o|lo)$", "", base)
    where = archive or path
    if os.path.basename(where).startswith("libbearssl"):
        src = os.path.join(os.path.dirname(os.path.dirname(where)), "src")
        part = "other"
        if os.path.isdir(src):
            for d in sorted(os.listdir(src)):
                if os.path.exists(os.path.join(src, d, stem + ".c")):
                    part = d
                    break
        return "BearSSL", part
    if "musl" in where:
        return "musl", "libc"
    if "libgcc" in os.path.basename(where) or re.search(r"/crt(begin|end)", where):
        return "libgcc", "libgcc and crt"
    if os.path.abspath(where).startswith(os.path.abspath(build_dir) + os.sep):
        return "ours", stem
    return "other", base


def report(args):
    size = os.path.getsize(args.bin)
    secs = sections(args.bin)
    if not os.path.exists(args.map):
        sys.exit(f"{args.map}: no link map; `make static` writes it")
    if os.path.getmtime(args.map) + 1 < os.path.getmtime(args.bin):
        sys.exit(f"{args.map} is older than {args.bin}: run `make static` again")
    files = parse_map(args.map, set(secs))
    build_dir = os.path.dirname(os.path.abspath(args.bin))
    parts = collections.Counter()
    for path, n in files.items():
        parts[group_of(path, build_dir)] += n
    attributed = sum(parts.values())
    kinds = collections.Counter()
    for (kind, _), n in parts.items():
        kinds[kind] += n
    rows = []
    for kind in ("ours", "BearSSL", "musl", "libgcc", "other"):
        if kind not in kinds:
            continue
        mine = sorted(((p, n) for (k, p), n in parts.items() if k == kind and n),
                      key=lambda pn: (-pn[1], pn[0]))
        rows.append((f"**{kind}**" if len(mine) > 1 else f"**{kind}** ({mine[0][0]})", kinds[kind]))
        if len(mine) > 1:
            rows += [(f"{kind}: {p}", n) for p, n in mine]
    # the rest: padding between input sections, ELF and program headers, the section table (and,
    # were it negative, strings merged across inputs that the map counts once per input)
    rows.append(("alignment padding, ELF headers, section table", size - attributed))
    lines = [f"| part | bytes | share |", "|---|---:|---:|"]
    for name, n in rows:
        lines.append(f"| {name} | {n:,} | {100.0 * n / size:.1f}% |")
    lines.append(f"| **total: {os.path.relpath(args.bin)}, stripped** | **{size:,}** | 100% |")
    table = "\n".join(lines)
    print(table)
    if args.results:
        put_section(args.results, "size", intro(args) + table + "\n")


def toolchain():
    """gcc, musl and BearSSL versions, as far as Debian's packages tell."""
    def q(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except OSError:
            return ""
    parts = []
    for label, cmd in (("gcc", ["gcc", "-dumpfullversion"]),
                       ("musl", ["dpkg-query", "-W", "-f", "${Version}", "musl-dev"])):
        v = q(cmd)
        if v:
            parts.append(f"{label} {v}")
    # BearSSL is built from Debian's source package (scripts/deps.sh): its .dsc names the version
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    dsc = glob.glob(os.path.join(root, "build", "deps", "bearssl-src", "bearssl_*.dsc"))
    if dsc:
        parts.append("BearSSL " + os.path.basename(dsc[0])[len("bearssl_"):-len(".dsc")])
    return ", ".join(parts)


def intro(args):
    tc = toolchain()
    return ("## Size\n\n`make size` (tests/bench/size.py): the stripped static binary, each part's "
            "share of it from the link map (input sections kept in the file-backed sections, by "
            "object file and archive member)" + (f"; {tc}" if tc else "") + ".\n\n")


def put_section(path, name, body):
    """Replaces the text between the section's markers in path, or appends the section."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    block = f"{begin}\n{body}{end}\n"
    if begin in text and end in text:
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end + "\n") if end + "\n" in rest else rest.partition(end)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def defined_symbols(inputs):
    """{symbol: (type letter, module stem)} of the global symbols the link inputs define."""
    res = {}
    for path in inputs:
        if path.startswith("-") or not os.path.exists(path):
            continue
        out = subprocess.run(["nm", "-A", "-g", "--defined-only", path], capture_output=True,
                             text=True).stdout
        for line in out.splitlines():
            # "archive:member:address type symbol" or "object:address type symbol"
            fields = line.split()
            if len(fields) < 3:
                continue
            sym, typ = fields[-1], fields[-2]
            member = fields[0].rsplit(":", 1)[0].split(":")[-1]
            stem = re.sub(r"\.(o|lo)$", "", os.path.basename(member))
            res.setdefault(sym, (typ, stem))
    return res


def link(cc, ldflags, inputs, wraps, out, tmp):
    """(file size, code and data bytes) of one link, or (None, error lines)."""
    cmd = [cc] + shlex.split(ldflags)
    extra = []
    if wraps:
        stub = os.path.join(tmp, os.path.basename(out) + ".stub.c")
        with open(stub, "w", encoding="ascii") as f:
            for sym, typ in sorted(wraps.items()):
                if typ.upper() in "TW":
                    f.write(f"void __wrap_{sym}(void) {{}}\n")
                else:
                    f.write(f"const unsigned char __wrap_{sym}[1];\n")
        obj = stub[:-2] + ".o"
        subprocess.run([cc, "-c", "-Oz", "-ffunction-sections", "-fdata-sections", stub, "-o", obj],
                       check=True)
        extra = [obj] + [f"-Wl,--wrap={s}" for s in sorted(wraps)]
    cmd += extra + list(inputs) + ["-o", out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip().splitlines()[-1:] or ["link failed"]
    return (os.path.getsize(out), sum(sections(out).values())), None


def variants(args):
    os.makedirs(args.out, exist_ok=True)
    syms = defined_symbols(args.inputs)
    base, err = link(args.cc, args.ldflags, args.inputs, {}, os.path.join(args.out, "full"),
                     args.out)
    if base is None:
        sys.exit("baseline link failed: " + " ".join(err))
    lines = ["| optional piece (cut by the linker) | code and data bytes | they cost | "
             "file bytes | file saves |", "|---|---:|---:|---:|---:|",
             f"| none (the shipped binary, relinked) | {base[1]:,} | | {base[0]:,} | |"]
    for i, (label, symbols, modules, extra) in enumerate(PIECES):
        wraps, missing = {}, []
        for s in symbols:
            if s in syms:
                wraps[s] = syms[s][0]
            else:
                missing.append(s)
        for mod in modules:
            found = {s: t for s, (t, stem) in syms.items() if stem == mod}
            if not found:
                missing.append(mod + ".o")
            wraps.update(found)
        if missing or not (wraps or extra):
            lines.append(f"| {label} | n/a: {', '.join(missing)} not found | | | |")
            continue
        n, err = link(args.cc, args.ldflags + " " + extra, args.inputs, wraps,
                      os.path.join(args.out, f"without-{i}"), args.out)
        if n is None:
            lines.append(f"| {label} | n/a: {' '.join(err)} | | | |")
        else:
            lines.append(f"| {label} | {n[1]:,} | {base[1] - n[1]:,} | {n[0]:,} | "
                         f"{base[0] - n[0]:,} |")
    table = "\n".join(lines)
    print(table)
    if args.results:
        put_section(args.results, "size-variants",
                    "What each optional piece costs (`make size`, tests/bench/size.py variants: "
                    "the same objects relinked with the piece's entry points sent to empty stubs "
                    "by `ld --wrap`, so `--gc-sections` drops it and everything only it uses; the "
                    "shipped binary keeps every piece). Code and data bytes are the file-backed "
                    "sections; the file moves in 4 KiB steps (RELRO page alignment):\n\n"
                    + table + "\n")


def check(args):
    with open(args.budget, encoding="ascii") as f:
        words = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    if len(words) != 1 or not words[0].isdigit():
        sys.exit(f"{args.budget}: expected one number of bytes (and # comment lines)")
    budget = int(words[0])
    size = os.path.getsize(args.bin)
    if size > budget:
        sys.exit(f"size budget: {args.bin} is {size:,} bytes, over the budget of {budget:,} in "
                 f"{args.budget} by {size - budget:,}. Cut something, or raise the budget in a "
                 "commit that says why.")
    print(f"size budget: {args.bin} {size:,} bytes <= {budget:,} ({budget - size:,} to spare)")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("report")
    r.add_argument("--map", required=True)
    r.add_argument("--bin", required=True)
    r.add_argument("--results")
    v = sub.add_parser("variants")
    v.add_argument("--out", required=True)
    v.add_argument("--cc", required=True)
    v.add_argument("--ldflags", required=True)
    v.add_argument("--results")
    v.add_argument("inputs", nargs="+")
    c = sub.add_parser("check")
    c.add_argument("--bin", required=True)
    c.add_argument("--budget", required=True)
    args = p.parse_args()
    {"report": report, "variants": variants, "check": check}[args.cmd](args)


if __name__ == "__main__":
    main()
