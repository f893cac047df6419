"""Throw-away test PKI for the ACS mock (tests/integration/mock_acs.py), made with the openssl CLI.

    from pki import make_pki
    p = make_pki(tmp_path / "pki")
    p.ca_cert, p.server_cert, p.server_key            # EC P-256 CA and leaf (SAN DNS:localhost)
    p.rsa_ca_cert, p.rsa_server_cert, p.rsa_server_key  # RSA-2048 CA and leaf (SAN DNS:localhost)
    p.bundle                                          # both CA certs in one PEM (NODE_EXTRA_CA_CERTS)
    p.expired_cert, p.expired_key                     # localhost, signed by the EC CA, expired in 2020
    p.wrong_host_cert, p.wrong_host_key               # SAN DNS:wrong.example only, EC CA, valid

Every leaf has basicConstraints CA:FALSE, keyUsage digitalSignature (+keyEncipherment for RSA),
extendedKeyUsage serverAuth and an authorityKeyIdentifier; CAs have basicConstraints CA:TRUE
(critical) and keyUsage keyCertSign,cRLSign (critical). Signatures are SHA-256. The RSA chain
mirrors what Azure Front Door presents (RSA leaf under an RSA CA, ECDHE_RSA suites); the EC chain
exercises ECDHE_ECDSA. Nothing is cached: each call makes fresh keys in `directory` (about 0.3 s).
Only the openssl CLI is needed (OpenSSL 1.1.1 or 3.x). Certificates are issued with `openssl ca`
(validity starts an hour back, so a client clock a little behind still accepts them).
"""
import os
import subprocess
import time
from dataclasses import dataclass, fields

OPENSSL = os.environ.get("OPENSSL", "openssl")

_CA_EXT = """[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

_LEAF_EXT = """[v3_leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, {ku}
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = {san}
"""

# A minimal `openssl ca` configuration: `openssl ca` (unlike `x509 -req` in OpenSSL 3.0) can set
# notBefore/notAfter, so certificates are back-dated by an hour (no "not yet valid" on a client
# whose clock lags a little) and the expired one lies in 2020.
_CA_CONF = """[ca]
default_ca = test_ca
[test_ca]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/newcerts
serial = {dir}/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[policy_any]
commonName = supplied
"""


@dataclass
class PKI:
    directory: str
    ca_cert: str
    ca_key: str
    server_cert: str
    server_key: str
    rsa_ca_cert: str
    rsa_ca_key: str
    rsa_server_cert: str
    rsa_server_key: str
    bundle: str
    expired_cert: str
    expired_key: str
    wrong_host_cert: str
    wrong_host_key: str

    def as_dict(self):
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _run(*args, cwd=None):
    r = subprocess.run([OPENSSL, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed (%d): %s" % (" ".join(args), r.returncode,
                                                           r.stderr.decode(errors="replace")))
    return r.stdout


def _stamp(t):
    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(t))


class _Signer:
    """Signs CSRs with `openssl ca` from a private database under <dir>/ca-db."""

    def __init__(self, d):
        self.dir = os.path.join(d, "ca-db")
        os.makedirs(os.path.join(self.dir, "newcerts"), exist_ok=True)
        open(os.path.join(self.dir, "index.txt"), "w").close()
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("1000\n")

    def sign(self, csr, out, ext_text, ext_name, ca_cert=None, ca_key=None, start=None, end=None):
        now = time.time()
        start = start or _stamp(now - 3600)
        end = end or _stamp(now + 825 * 86400)
        conf = out + ".cnf"
        with open(conf, "w") as f:
            f.write(_CA_CONF.format(dir=self.dir) + "\n" + ext_text)
        args = ["ca", "-batch", "-config", conf, "-in", csr, "-startdate", start, "-enddate", end,
                "-extensions", ext_name, "-notext", "-out", out]
        if ca_cert is None:
            args += ["-selfsign", "-keyfile", ca_key]
        else:
            args += ["-cert", ca_cert, "-keyfile", ca_key]
        _run(*args)


def _key(path, kind):
    if kind == "ec":
        _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-pkeyopt", "ec_param_enc:named_curve", "-out", path)
    else:
        _run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
    os.chmod(path, 0o600)


def _ca(signer, d, name, kind, cn):
    key, csr, cert = (os.path.join(d, name + s) for s in (".key", ".csr", ".pem"))
    _key(key, kind)
    _run("req", "-new", "-key", key, "-subj", "/CN=" + cn, "-out", csr)
    signer.sign(csr, cert, _CA_EXT, "v3_ca", ca_key=key, end=_stamp(time.time() + 3650 * 86400))
    return cert, key


def _leaf(signer, d, name, kind, cn, san, ca_cert, ca_key, expired=False):
    key, csr, cert = (os.path.join(d, name + s) for s in (".key", ".csr", ".pem"))
    _key(key, kind)
    ku = "digitalSignature, keyEncipherment" if kind == "rsa" else "digitalSignature"
    _run("req", "-new", "-key", key, "-subj", "/CN=" + cn, "-out", csr)
    if expired:
        signer.sign(csr, cert, _LEAF_EXT.format(ku=ku, san=san), "v3_leaf", ca_cert, ca_key,
                    start="20200101000000Z", end="20200201000000Z")
    else:
        signer.sign(csr, cert, _LEAF_EXT.format(ku=ku, san=san), "v3_leaf", ca_cert, ca_key)
    return cert, key


def make_pki(directory):
    """Creates the PKI in `directory` (made if missing) and returns a PKI with absolute paths."""
    d = os.path.abspath(str(directory))
    os.makedirs(d, exist_ok=True)
    s = _Signer(d)
    ca_cert, ca_key = _ca(s, d, "ca", "ec", "notify-handler test CA (EC P-256)")
    srv_cert, srv_key = _leaf(s, d, "server", "ec", "localhost", "DNS:localhost", ca_cert, ca_key)
    rca_cert, rca_key = _ca(s, d, "rsa-ca", "rsa", "notify-handler test CA (RSA)")
    rsrv_cert, rsrv_key = _leaf(s, d, "server-rsa", "rsa", "localhost", "DNS:localhost", rca_cert, rca_key)
    exp_cert, exp_key = _leaf(s, d, "expired", "ec", "localhost", "DNS:localhost", ca_cert, ca_key,
                              expired=True)
    wr_cert, wr_key = _leaf(s, d, "wrong-host", "ec", "wrong.example", "DNS:wrong.example", ca_cert, ca_key)
    bundle = os.path.join(d, "ca-bundle.pem")
    with open(bundle, "w") as out:
        for p in (ca_cert, rca_cert):
            with open(p) as f:
                out.write(f.read())
    return PKI(d, ca_cert, ca_key, srv_cert, srv_key, rca_cert, rca_key, rsrv_cert, rsrv_key, bundle,
               exp_cert, exp_key, wr_cert, wr_key)


if __name__ == "__main__":
    import json
    import sys
    print(json.dumps(make_pki(sys.argv[1] if len(sys.argv) > 1 else "pki").as_dict(), indent=2))
