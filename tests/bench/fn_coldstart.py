"""make bench helper: the host-simulated cold start of a deploy ZIP (tests/integration/fnhost.py
does what the Functions host does: unpack, spawn with FUNCTIONS_CUSTOMHANDLER_PORT, poll GET /
every 25 ms, invoke). Per run: process start -> readiness seen by the host -> the first
notification answered: in payload mode the `notification` invocation (queued mode: validated,
202, queue output), in a forwarding package (enableForwardingHttpRequest) the forwarded
POST /api/notification (202). Prints
"<ready median ms> <first answer median ms> <p10> <p90> <runs>".
usage: fn_coldstart.py <zip> <runs> [NAME=VALUE ...]
  NAME=VALUE  the app settings (default: the outbox transport in a fresh directory per run)
"""
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from fnhost import FunctionsHost  # noqa: E402

zip_path, runs = sys.argv[1], int(sys.argv[2])
settings = dict(a.split("=", 1) for a in sys.argv[3:])
body = {"to_email": "you@example.com", "subject": "cold start", "message": "hello"}
ready, first = [], []
for _ in range(runs):
    with tempfile.TemporaryDirectory() as d:
        env = settings or {"NOTIFY_TRANSPORT": "outbox", "NOTIFY_OUTBOX_DIR": os.path.join(d, "outbox"),
                           "NOTIFY_LOG_LEVEL": "off"}
        h = FunctionsHost(zip_path, env=env, workdir=os.path.join(d, "host"))
        try:
            if h.forwarding:
                r = h.forward("POST", "/api/notification", {"Content-Type": "application/json"},
                              json.dumps(body).encode())
                t = time.monotonic() - h.t_spawn
                assert r.status == 202, (r.status, r.body)
            else:
                inv = h.invoke_http("notification", body=body)
                t = time.monotonic() - h.t_spawn
                assert not inv.failed and inv.status_code == 202, inv
            ready.append(h.ready_s * 1000)
            first.append(t * 1000)
        finally:
            h.stop()
q = statistics.quantiles(first, n=10, method="inclusive") if len(first) >= 2 else [first[0]] * 9
print("%.1f %.1f %.1f %.1f %d" % (statistics.median(ready), statistics.median(first), q[0], q[-1], runs))
