#!/usr/bin/python3
"""fake_handler: a scriptable stand-in for a custom handler, to test the host simulator (fnhost.py)
without the C handler. Python standard library only; HTTP/1.1 parsed by hand so the framing the
simulator uses (chunked bodies, keep-alive) is seen exactly as sent.

It listens on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT and answers:
  GET /                 200 "ok" (the host's readiness probe and ping)
  POST /<function>      payload mode: reads {"Data","Metadata"} and answers {"Outputs","Logs",
                        "ReturnValue"} as scripted (below)
  <any> /api/...        forwarding mode: 201 with a JSON echo of the request as received
A script is a JSON object in the HTTP request's Body (Data.<trigger>.Body) or in the queue
message text (Data.<trigger>, decoded the way a handler must: JSON string -> text -> object):
  http_status    status of the answer to the host (default 200)
  content_type   its Content-Type (default application/json)
  raw            the answer's body as is, instead of the JSON result
  outputs        the Outputs object (default: for an HTTP trigger, res 200 with an echo)
  logs           the Logs array
  return_value   the ReturnValue (default: the echo)
  always_fail    answer 500
  fail_below_dequeue  answer 500 while Metadata.DequeueCount is below this number
  exit           exit at once with this status, without answering
  sleep_ms       wait before answering
The echo is {"function","payload","headers","framing","chunks","conn"}: what this process got.

Environment: FAKE_DELAY_MS (wait before listening), FAKE_EXIT_AT_START (exit with this status
before listening), FAKE_EXIT_AFTER_MS + FAKE_EXIT_CODE (exit later on its own), FAKE_RECORD (a file
that gets one JSON line per request: method, target, headers, framing, chunks, conn),
FAKE_ENV_DUMP (a file that gets the environment and cwd at start).
"""
import itertools
import json
import os
import signal
import socket
import sys
import threading
import time

_conn_ids = itertools.count(1)
_record_lock = threading.Lock()


def log(event, **kw):
    line = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": "info", "event": event}
    line.update(kw)
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def record(entry):
    path = os.environ.get("FAKE_RECORD")
    if path:
        with _record_lock, open(path, "a") as f:
            f.write(json.dumps(entry) + "\n")


def read_request(f):
    line = f.readline(65537)
    if not line:
        return None
    method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers = []
    while True:
        h = f.readline(65537)
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers.append((k.strip(), v.strip()))
    hd = {k.lower(): v for k, v in headers}
    body, chunks = b"", 0
    if "chunked" in hd.get("transfer-encoding", "").lower():
        framing = "chunked"
        while True:
            size = int(f.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while f.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            body += f.read(size)
            f.read(2)
            chunks += 1
    elif "content-length" in hd:
        framing = "length"
        body = f.read(int(hd["content-length"]))
    else:
        framing = "none"
    return {"method": method, "target": target, "version": version, "headers": headers,
            "body": body, "framing": framing, "chunks": chunks}


def answer(sock, status, body, ctype="application/json", extra=()):
    if isinstance(body, str):
        body = body.encode()
    head = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (
        status, {200: "OK", 201: "Created", 500: "Internal Server Error"}.get(status, "Status"), ctype, len(body))
    head += "".join("%s: %s\r\n" % kv for kv in extra) + "\r\n"
    sock.sendall(head.encode() + body)


def script_of(data):
    """The script and the trigger kind from Data."""
    if not isinstance(data, dict) or not data:
        return {}, "none"
    value = next(iter(data.values()))
    if isinstance(value, dict) and "Url" in value:
        try:
            s = json.loads(value.get("Body") or "{}")
        except ValueError:
            s = {}
        return (s if isinstance(s, dict) else {}), "http"
    text = value
    if isinstance(text, str):
        try:
            inner = json.loads(text)  # the host's extra JSON encoding of a string message
            if isinstance(inner, str):
                text = inner
        except ValueError:
            pass
    try:
        s = json.loads(text)
    except (TypeError, ValueError):
        s = {}
    return (s if isinstance(s, dict) else {}), "queue"


def dequeue_count(meta):
    v = (meta or {}).get("DequeueCount", 1)
    if isinstance(v, str):
        v = json.loads(v)
    return int(v)


def payload_mode(sock, req, conn):
    fn = req["target"].split("?")[0].lstrip("/")
    try:
        payload = json.loads(req["body"])
    except ValueError:
        return answer(sock, 400, json.dumps({"error": "body is not JSON"}))
    script, kind = script_of(payload.get("Data"))
    echo = {"function": fn, "payload": payload, "headers": req["headers"], "framing": req["framing"],
            "chunks": req["chunks"], "conn": conn}
    if script.get("exit") is not None:
        sys.stderr.write("fake: exiting with %d as scripted\n" % script["exit"])
        sys.stderr.flush()
        os._exit(int(script["exit"]))
    if script.get("sleep_ms"):
        time.sleep(script["sleep_ms"] / 1000.0)
    n = dequeue_count(payload.get("Metadata"))
    if script.get("always_fail") or n < int(script.get("fail_below_dequeue", 0)):
        sys.stderr.write("fake: failing %s at dequeue %d as scripted\n" % (fn, n))
        sys.stderr.flush()
        return answer(sock, 500, json.dumps({"error": "scripted failure"}))
    status = int(script.get("http_status", 200))
    ctype = script.get("content_type", "application/json")
    if "raw" in script:
        return answer(sock, status, script["raw"], ctype)
    outputs = script.get("outputs")
    if outputs is None:
        outputs = {}
        if kind == "http":
            outputs["res"] = {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                              "body": json.dumps(echo)}
    result = {"Outputs": outputs,
              "Logs": script.get("logs", [json.dumps({"event": "fake.invoked", "function": fn})]),
              "ReturnValue": script.get("return_value", echo)}
    log("fake.invoked", function=fn, dequeue_count=n)
    return answer(sock, status, json.dumps(result), ctype)


def forwarding_mode(sock, req, conn):
    path, _, query = req["target"].partition("?")
    echo = {"method": req["method"], "path": path, "query": query, "headers": req["headers"],
            "body": req["body"].decode("utf-8", "replace"), "framing": req["framing"], "conn": conn}
    answer(sock, 201, json.dumps(echo), extra=[("X-Fake", "forwarded")])


def serve(sock):
    conn = next(_conn_ids)
    f = sock.makefile("rb")
    try:
        while True:
            req = read_request(f)
            if req is None:
                return
            record({"conn": conn, "method": req["method"], "target": req["target"],
                    "headers": req["headers"], "framing": req["framing"], "chunks": req["chunks"],
                    "body_len": len(req["body"]), "t": time.time()})
            if req["method"] == "GET" and req["target"] == "/":
                answer(sock, 200, "ok", "text/plain")
            elif req["target"].startswith("/api/"):
                forwarding_mode(sock, req, conn)
            elif req["method"] == "POST":
                payload_mode(sock, req, conn)
            else:
                answer(sock, 404, json.dumps({"error": "no route"}))
            if any(k.lower() == "connection" and v.lower() == "close" for k, v in req["headers"]):
                return
    except (OSError, ValueError):
        return
    finally:
        f.close()
        sock.close()


def main():
    signal.signal(signal.SIGTERM, lambda *_: (log("server.stopped"), os._exit(0)))
    sys.stderr.write("fake: starting\n")
    sys.stderr.flush()
    dump = os.environ.get("FAKE_ENV_DUMP")
    if dump:
        with open(dump, "w") as f:
            json.dump({"env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv}, f)
    if os.environ.get("FAKE_EXIT_AT_START"):
        sys.stderr.write("fake: bad configuration, exiting\n")
        sys.exit(int(os.environ["FAKE_EXIT_AT_START"]))
    time.sleep(int(os.environ.get("FAKE_DELAY_MS", "0")) / 1000.0)
    port = int(os.environ.get("FUNCTIONS_CUSTOMHANDLER_PORT") or 8080)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)
    log("server.ready", port=port)
    if os.environ.get("FAKE_EXIT_AFTER_MS"):
        code = int(os.environ.get("FAKE_EXIT_CODE", "0"))
        t = threading.Timer(int(os.environ["FAKE_EXIT_AFTER_MS"]) / 1000.0, lambda: os._exit(code))
        t.daemon = True
        t.start()
    while True:
        s, _ = srv.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(s,), daemon=True).start()


if __name__ == "__main__":
    main()
