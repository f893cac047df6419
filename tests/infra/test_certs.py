"""certs/ against the committed list of Azure's root CAs (certs/azure-ca-roots.txt, read from
Microsoft's "Azure Certificate Authority details" page): every listed root that Debian ships is
compiled in, nothing else is, and each file is Debian's copy byte for byte when Debian's
ca-certificates is installed here. Pure Python: the thumbprint is SHA-1 of the DER."""
import base64
import glob
import hashlib
import os
import re

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CERTS = os.path.join(ROOT, "certs")
LIST = os.path.join(CERTS, "azure-ca-roots.txt")
DEBIAN = "/usr/share/ca-certificates/mozilla"
PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\s*(.+?)\s*-----END CERTIFICATE-----", re.S)


def ders(path):
    with open(path, "rb") as f:
        return [base64.b64decode(b"".join(m.group(1).split())) for m in PEM.finditer(f.read())]


def thumbprint(der):
    return hashlib.sha1(der).hexdigest().upper()


def roots():
    """{thumbprint: (name, in_debian)} from the list."""
    out = {}
    with open(LIST, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            tp, name = line.split(None, 1)
            assert re.fullmatch(r"[0-9A-F]{40}", tp), line
            missing = name.endswith(" not-in-debian")
            out[tp] = (name[:-len(" not-in-debian")] if missing else name, not missing)
    return out


def compiled():
    """{thumbprint: file} of certs/*.pem, one certificate a file."""
    out = {}
    for p in sorted(glob.glob(os.path.join(CERTS, "*.pem"))):
        d = ders(p)
        assert len(d) == 1, "%s must hold exactly one certificate" % p
        out[thumbprint(d[0])] = p
    return out


def test_list_names_its_source_and_date():
    head = open(LIST, encoding="utf-8").read()
    assert "https://learn.microsoft.com/azure/security/fundamentals/azure-ca-details" in head
    assert re.search(r"Read on \d{4}-\d\d-\d\d", head)
    assert len(roots()) >= 1


def test_every_listed_root_debian_ships_is_compiled_in_and_nothing_else():
    want = {tp for tp, (_, deb) in roots().items() if deb}
    have = set(compiled())
    assert have - set(roots()) == set(), "anchors not on the page: %s" % sorted(
        os.path.basename(compiled()[tp]) for tp in have - set(roots()))
    assert want - have == set(), "roots of the page missing from certs/: %s" % sorted(
        roots()[tp][0] for tp in want - have)


def test_names_match_the_certificates():
    """The file name is Debian's (spaces as underscores) and the subject's CN is the list's name
    modulo spacing, so a thumbprint cannot sit under the wrong name."""
    r = roots()
    for tp, path in compiled().items():
        name = r[tp][0]
        assert re.sub(r"[^A-Za-z0-9]", "", os.path.basename(path)[:-4]) == \
            re.sub(r"[^A-Za-z0-9]", "", name), (path, name)


@pytest.mark.skipif(not os.path.isdir(DEBIAN), reason="Debian's ca-certificates is not installed")
def test_against_debian_ca_certificates():
    """Each compiled-in root is Debian's file byte for byte, and each root marked
    not-in-debian really is absent from Debian's store (so it was not just forgotten)."""
    debian = {}
    for p in glob.glob(os.path.join(DEBIAN, "*.crt")):
        for d in ders(p):
            debian[thumbprint(d)] = p
    for tp, path in compiled().items():
        assert tp in debian, path
        with open(path, "rb") as a, open(debian[tp], "rb") as b:
            assert a.read() == b.read(), (path, debian[tp])
    for tp, (name, deb) in roots().items():
        assert deb == (tp in debian), "%s: the list says in Debian=%s" % (name, deb)
