"""make bench helper: `podman run` -> first 202, the cold start a container user sees. Per run:
start `<prefix> --rm --name N --network=host --read-only [-e ...] [-v ...] IMAGE` (the prefix from
scripts/podman-run.sh), retry connect to 127.0.0.1:PORT every 1 ms, POST the original request,
stop the clock at the whole 202 answer, remove the container. Prints
"<median ms> <p10> <p90> <runs>".
usage: podman_cold.py RUNS PORT "PREFIX" IMAGE [-e NAME=VALUE | -v HOST:CTR[:ro]]...
The container gets PORT and BIND=127.0.0.1: the host's network, loopback only.
"""
import os
import socket
import statistics
import subprocess
import sys
import time

# A podman start is ~0.3 s here; 30 s covers a very busy machine, and bounds every run.
RUN_TIMEOUT_S = 30

BODY = b'{"to_email":"you@example.com","subject":"cold start","message":"hello"}'
REQ = (b"POST /api/notification HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
       b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(BODY), BODY))


def post(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(REQ)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def one(port, prefix, image, opts, name):
    cmd = prefix + ["--rm", "--name", name, "--network=host", "--read-only",
                    "-e", f"PORT={port}", "-e", "BIND=127.0.0.1"] + opts + [image]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while time.monotonic() - t0 < RUN_TIMEOUT_S:
            if proc.poll() is not None:
                raise SystemExit(f"podman run exited {proc.returncode}: {proc.stderr.read()[-500:]!r}")
            try:
                answer = post(port)
            except OSError:
                time.sleep(0.001)
                continue
            if not answer.startswith(b"HTTP/1.1 202"):
                raise SystemExit(f"{image}: not 202: {answer[:200]!r}")
            return (time.monotonic() - t0) * 1000
        raise SystemExit(f"{image}: no answer in {RUN_TIMEOUT_S} s")
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, timeout=60)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv):
    runs, port, prefix, image, opts = int(argv[0]), int(argv[1]), argv[2].split(), argv[3], argv[4:]
    times = []
    for i in range(runs):
        times.append(one(port, prefix, image, opts, f"notify-bench-{os.getpid()}-{i}"))
    q = statistics.quantiles(times, n=10, method="inclusive") if len(times) >= 2 else [times[0]] * 9
    print("%.1f %.1f %.1f %d" % (statistics.median(times), q[0], q[-1], len(times)))


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    main(sys.argv[1:])
