"""make bench helper: packages a peer as an Azure Functions custom-handler ZIP, shaped like the
handler's forwarding package (infra/functions-http: host.json and notification/function.json), so
every peer is deployed, unpacked and started the same way. Reproducible like scripts/zip.sh:
sorted entries, one fixed date, fixed modes (0755 for executables), deflate level 9.

usage: peer_zip.py OUT.zip FUNCTIONS_DIR EXE [--arg A]... [PATH[=NAME]]...
  EXE      defaultExecutablePath: a file of the package (give it as PATH=EXE too) or a program
           on PATH (python3, node)
  --arg A  one entry of description.arguments
  PATH     a file or a directory (taken whole, recursively) stored as NAME (default: basename)
Prints "<OUT.zip>: <size> bytes".
"""
import json
import os
import sys
import zipfile

DATE = (1980, 1, 1, 0, 0, 0)  # the earliest ZIP date, as scripts/zip.sh


def add(z, path, name):
    info = zipfile.ZipInfo(name, DATE)
    info.create_system = 3  # Unix: the mode below is kept by the unpacker
    mode = 0o755 if os.access(path, os.X_OK) else 0o644
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(path, "rb") as f:
        z.writestr(info, f.read(), compresslevel=9)


def main(argv):
    out, fdir, exe = argv[0], argv[1], argv[2]
    args, items, rest = [], [], argv[3:]
    while rest:
        a = rest.pop(0)
        if a == "--arg":
            args.append(rest.pop(0))
        else:
            items.append(a)
    with open(os.path.join(fdir, "host.json"), encoding="utf-8") as f:
        host = json.load(f)
    host["customHandler"]["description"] = {"defaultExecutablePath": exe, "arguments": args}
    entries = {"host.json": json.dumps(host, indent=2).encode() + b"\n"}
    files = {}
    for d in sorted(os.listdir(fdir)):
        fj = os.path.join(fdir, d, "function.json")
        if os.path.isfile(fj):
            files[f"{d}/function.json"] = fj
    for item in items:
        path, _, name = item.partition("=")
        name = name or os.path.basename(path.rstrip("/"))
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                for n in names:
                    p = os.path.join(root, n)
                    if os.path.isfile(p) and not os.path.islink(p):
                        files[name + "/" + os.path.relpath(p, path)] = p
        else:
            files[name] = path
    with zipfile.ZipFile(out + ".tmp", "w") as z:
        for name in sorted(set(entries) | set(files)):
            if name in entries:
                info = zipfile.ZipInfo(name, DATE)
                info.create_system = 3
                info.external_attr = (0o100644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, entries[name], compresslevel=9)
            else:
                add(z, files[name], name)
    os.replace(out + ".tmp", out)
    print(f"{out}: {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(sys.argv[1:])
