"""make bench helper: the TLS mock of ACS (tests/integration/mock_acs.py) on loopback, for the
ACS rows of the table. Writes "<connection string>\n<CA file>\n" to argv[2] once listening, then
serves until SIGTERM. usage: acs_mock.py <work dir> <info file>"""
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from mock_acs import MockACS  # noqa: E402
from pki import make_pki  # noqa: E402

work, info = sys.argv[1], sys.argv[2]
pki = make_pki(os.path.join(work, "pki"))
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
with MockACS(pki.rsa_server_cert, pki.rsa_server_key, retry_after=None) as acs:
    with open(info + ".tmp", "w") as f:
        f.write("%s\n%s\n" % (acs.connection_string, pki.rsa_ca_cert))
    os.rename(info + ".tmp", info)
    while not stop.wait(0.5):
        acs.clear()  # keep the record list from growing over the run
