#!/usr/bin/python3
"""acscheck.py: reads cases from stdin, one a line, written by test_acs.c:

    name hex(sender) hex(request) hex(output) [hex(expected)]

and checks that `output` (what acs_email_json wrote) is one strict JSON object and equals the
EmailMessage (https://learn.microsoft.com/rest/api/communication/email/email/send, "Request Body") that `request` (the notify request body) should become. The
expected document is `expected` when given (a JSON text written by hand in the test), else it is
derived here from the request through Python's own json module, independently of notify_parse:

    senderAddress  request "from", else the configured sender
    content        subject; plainText from "message" and html from "html" when non-empty
    recipients     to/cc/bcc from to_email/cc/bcc (string or array), cc/bcc left out when empty
    replyTo        from reply_to, left out when empty
    attachments    name, contentType, contentInBase64, left out when there are none

Strict means: the bytes are UTF-8, no raw character below U+0020 anywhere in the output (a raw
DEL is legal JSON and allowed), no duplicate member names, no NaN/Infinity, and the text is
exactly one value. Exits 1 on the first mismatch.
"""
import json
import sys


def no_dups(pairs):
    keys = [k for k, _ in pairs]
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:
        raise ValueError(f"duplicate member(s) {sorted(dup)}")
    return dict(pairs)


def bad_constant(name):
    raise ValueError(f"non-JSON constant {name}")


def strict_loads(raw, what, compact):
    """json.loads of UTF-8 bytes, refusing duplicates and NaN. json.loads itself refuses raw
    characters below U+0020 inside strings (strict=True); compact also refuses them outside
    strings (our writer puts no whitespace between tokens). A raw DEL is legal JSON."""
    text = raw.decode("utf-8")  # UnicodeDecodeError on bad UTF-8
    for i, ch in enumerate(text):
        if compact and ord(ch) < 0x20:
            raise ValueError(f"{what}: raw control character U+{ord(ch):04X} at {i}")
    return json.loads(text, object_pairs_hook=no_dups, parse_constant=bad_constant)


def addrs(v):
    if v is None:
        return []
    return [v] if isinstance(v, str) else list(v)


def expected_from(req, sender):
    content = {"subject": req["subject"]}
    if req.get("message"):
        content["plainText"] = req["message"]
    if req.get("html"):
        content["html"] = req["html"]
    rcpt = {"to": [{"address": a} for a in addrs(req["to_email"])]}
    for key in ("cc", "bcc"):
        lst = addrs(req.get(key))
        if lst:
            rcpt[key] = [{"address": a} for a in lst]
    want = {
        "senderAddress": req.get("from") or sender,
        "content": content,
        "recipients": rcpt,
    }
    reply = addrs(req.get("reply_to"))
    if reply:
        want["replyTo"] = [{"address": a} for a in reply]
    atts = req.get("attachments") or []
    if atts:
        want["attachments"] = [
            {
                "name": a["name"],
                "contentType": a["content_type"],
                "contentInBase64": a["content_base64"],
            }
            for a in atts
        ]
    return want


def diff(got, want, path="$"):
    """First difference between two JSON values, as a readable line, or None."""
    if type(got) is not type(want):
        return f"{path}: type {type(got).__name__} != {type(want).__name__}"
    if isinstance(want, dict):
        if set(got) != set(want):
            return f"{path}: members {sorted(got)} != {sorted(want)}"
        for k in want:
            d = diff(got[k], want[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(want, list):
        if len(got) != len(want):
            return f"{path}: {len(got)} items != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want)):
            d = diff(g, w, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if got == want else f"{path}: {got!r} != {want!r}"


def check(fields):
    name = fields[0]
    sender = bytes.fromhex(fields[1]).decode("utf-8")
    req = strict_loads(bytes.fromhex(fields[2]), "request", False)
    got = strict_loads(bytes.fromhex(fields[3]), "output", True)
    if not isinstance(got, dict):
        raise ValueError("output is not a JSON object")
    if len(fields) > 4 and fields[4]:
        want = json.loads(bytes.fromhex(fields[4]).decode("utf-8"))
        # the hand-written expectation must agree with the request too
        d = diff(expected_from(req, sender), want)
        if d:
            raise ValueError(f"test's expected document disagrees with its request: {d}")
    else:
        want = expected_from(req, sender)
    d = diff(got, want)
    if d:
        raise ValueError(d)
    return name


def main():
    n = 0
    for line in sys.stdin:
        fields = line.split()
        if not fields:
            continue
        try:
            check(fields)
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            print(f"acscheck: {fields[0]}: {e}", file=sys.stderr)
            return 1
        n += 1
    if n == 0:
        print("acscheck: no cases", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
