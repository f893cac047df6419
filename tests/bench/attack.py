#!/usr/bin/python3
"""Attack rows of `make bench` (issue 9), each server side by side in the same run:

- RSS with 1,000 idle keep-alive connections (each sent GET / and read its answer), just
  answered and after 2 s of idleness;
- RSS with 200 slowloris connections (one header byte a second each);
- requests/s and p99 latency of ordinary requests (wrk, the original POST on keep-alive
  connections, 2 s timeout) while 200 slowloris + 16 slow-body (one body byte every 5 s) + 8
  never-reading pipelining clients attack, and the server's CPU seconds meanwhile.

Each server runs with its own defaults (no deadline settings), outbox on tmpfs, loopback only,
a fresh process for each of the three measures.
Usage: attack.py NAME=COMMAND ... (e.g. "notify-handler=build/static/handler" "go=build/bench/peer-go").
Prints a markdown paragraph and table. Bounded: about 20 s a server.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import hostile as H  # noqa: E402

IDLE_CONNS = 1000
SLOWLORIS = 200
SLOW_BODY = 16
PIPELINERS = 8
WRK_SECS = int(os.environ.get("BENCH_ATTACK_SECS", "5"))
WRK_CONNS = 8
SETTLE_S = 1.0  # attackers in place before measuring


def wrk(target):
    """(requests/s, p99 text, answered, errors text) of wrk's ordinary POSTs."""
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{WRK_CONNS}", f"-d{WRK_SECS}s", "--timeout", "2s", "--latency", "-s",
             os.path.join(ROOT, "tests", "bench", "post.lua"), f"http://{target.host}:{target.port}/api/notification"],
            capture_output=True, text=True, timeout=WRK_SECS + 10).stdout
    except subprocess.TimeoutExpired:  # wrk waits for its connections; none was ever answered
        return 0.0, "-", 0, f"wrk stuck {WRK_SECS + 10} s: killed"
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    n = re.search(r"(\d+) requests in", out)
    errs = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    bad = ", ".join(x for x in (errs.group(1) if errs else "", f"non-2xx {non2xx.group(1)}" if non2xx else "") if x)
    return (float(rps.group(1)) if rps else 0.0, p99.group(1) if p99 else "-", int(n.group(1)) if n else 0,
            bad or "none")


def step(what, t0=[time.monotonic()]):
    print(f"attack.py: {time.monotonic() - t0[0]:5.1f} s {what}", file=sys.stderr)


def fresh(argv, shm):
    """A server of its own for each measure, so no row inherits another's memory."""
    work = tempfile.mkdtemp(dir=shm)
    srv = H.Server(argv, work, {"NOTIFY_LOG_LEVEL": "off"})
    time.sleep(0.2)
    return srv, work


def done(srv, work):
    srv.stop()
    shutil.rmtree(work, ignore_errors=True)


def measure(name, argv, shm):
    row = {"name": name}
    step(f"{name}: start")
    srv, work = fresh(argv, shm)
    t = srv.target
    try:
        row["idle"] = t.rss_kb()
        idle = H.Flood(t, IDLE_CONNS, duration=30.0)
        idle.start()
        idle.ready.wait(10)
        t_end = time.monotonic() + 5
        while time.monotonic() < t_end and sum(1 for c in idle.live if c.answered) < len(idle.live):
            time.sleep(0.05)
        time.sleep(0.3)
        step(f"{name}: {IDLE_CONNS} idle connections")
        row["idle_conns"] = f"{t.rss_kb()} ({sum(1 for c in idle.live if c.status == 200)} open)"
        time.sleep(2.0)  # the same connections after 2 s of idleness (a server may give back)
        row["idle_conns_2s"] = f"{t.rss_kb()} ({sum(1 for c in idle.live if c.status == 200)} open)"
        idle.stop()
        idle.join(10)
    finally:
        done(srv, work)

    srv, work = fresh(argv, shm)
    t = srv.target
    try:
        sl = H.Slowloris(t, SLOWLORIS, duration=30.0, interval=1.0)
        sl.start()
        sl.ready.wait(5)  # a server that does not accept leaves the rest connecting
        time.sleep(3.0)
        step(f"{name}: {SLOWLORIS} slowloris")
        row["slowloris"] = f"{t.rss_kb()} ({len(sl.live)} open)"
        sl.stop()
        sl.join(10)
    finally:
        done(srv, work)

    srv, work = fresh(argv, shm)
    t = srv.target
    try:
        atk = [H.Slowloris(t, SLOWLORIS, 60.0, interval=1.0), H.SlowBody(t, SLOW_BODY, 60.0, interval=5.0),
               H.Pipeliner(t, PIPELINERS, 60.0, requests=30000)]
        for a in atk:
            a.start()
        for a in atk:
            a.ready.wait(5)
        time.sleep(SETTLE_S)
        step(f"{name}: mixed attack in place")
        c0 = t.cpu_seconds()
        rps, p99, n, bad = wrk(t)
        row["cpu"] = f"{t.cpu_seconds() - c0:.2f}"
        row["rss_attack"] = t.rss_kb()
        for a in atk:
            a.stop()
        for a in atk:
            a.join(10)
        row.update(rps=f"{rps:.0f}", p99=p99, n=n, bad=bad)
    finally:
        done(srv, work)
    return row


def main(args):
    if not args or not shutil.which("wrk"):
        print("usage: attack.py NAME=COMMAND ... (needs wrk)", file=sys.stderr)
        return 2
    H.raise_nofile(8192)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    rows = []
    for a in args:
        name, _, cmd = a.partition("=")
        argv = shlex.split(cmd)
        if os.path.exists(argv[0]):
            argv[0] = os.path.abspath(argv[0])  # the server runs in its own directory
        elif not shutil.which(argv[0]):
            print(f"attack.py: {argv[0]} not found, {name} skipped", file=sys.stderr)
            continue
        rows.append(measure(name, argv, shm))
    print(f"Under attack (tests/bench/attack.py; each server with its own default deadlines; wrk -t1 "
          f"-c{WRK_CONNS} -d{WRK_SECS}s --timeout 2s of the original POST while {SLOWLORIS} slowloris, "
          f"{SLOW_BODY} slow-body and {PIPELINERS} never-reading pipelining clients attack):")
    print()
    print("| server | idle RSS KiB | RSS, 1,000 connections just answered KiB | the same after 2 s idle KiB | "
          "RSS, 200 slowloris KiB | req/s under attack | p99 under attack | answered in the window | "
          "wrk errors | server CPU s | RSS at the end of the attack KiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['idle']} | {r['idle_conns']} | {r['idle_conns_2s']} | {r['slowloris']} | "
              f"{r['rps']} | {r['p99']} | {r['n']} | {r['bad']} | {r['cpu']} | {r['rss_attack']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
