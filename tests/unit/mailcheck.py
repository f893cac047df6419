#!/usr/bin/python3
"""mailcheck.py DIR: parses every DIR/<name>.eml with Python's email package (policy.default)
and compares it with DIR/<name>.spec, written by test_mail.c.

A spec holds one "key value" per line: "date" (Unix time) and "id" as text, every other value
hex-encoded UTF-8: from, to, cc, bcc, reply_to (one line per address), subject, text, html, and
att_name / att_type / att_b64 per attachment, in order. Exits 1 on the first mismatch.
"""
import base64
import email
import email.policy
import pathlib
import sys

MAX_LINE = 998  # RFC 5322 2.1.1


def read_spec(path):
    spec = {"to": [], "cc": [], "bcc": [], "reply_to": [], "att": []}
    for line in path.read_text().splitlines():
        key, _, val = line.partition(" ")
        if key in ("date", "id"):
            spec[key] = val
            continue
        text = bytes.fromhex(val).decode("utf-8")
        if key in ("to", "cc", "bcc", "reply_to"):
            spec[key].append(text)
        elif key == "att_name":
            spec["att"].append({"name": text})
        elif key.startswith("att_"):
            spec["att"][-1][key[4:]] = text
        else:
            spec[key] = text
    return spec


def norm(s):
    return s.replace("\r\n", "\n").replace("\r", "\n")


def check_lines(raw):
    assert raw.endswith(b"\r\n"), "message does not end with CRLF"
    for i, line in enumerate(raw.split(b"\r\n")[:-1]):
        assert b"\n" not in line and b"\r" not in line, f"bare CR/LF in line {i}"
        assert len(line) <= MAX_LINE, f"line {i} has {len(line)} bytes"


def check_addrs(msg, field, want):
    got = msg[field]
    if not want:
        assert got is None, f"{field} present: {got}"
        return
    addrs = [a.addr_spec for a in got.addresses]
    assert addrs == want, f"{field}: {addrs} != {want}"


def check_text(msg, subtype, want):
    part = msg.get_body(preferencelist=(subtype,))
    if not want:
        assert part is None or part.get_content_subtype() != subtype, f"unexpected {subtype}"
        return
    assert part is not None and part.get_content_subtype() == subtype, f"no text/{subtype}"
    assert part.get_content_charset() == "utf-8"
    want = norm(want)
    if part["Content-Transfer-Encoding"] == "7bit" and not want.endswith("\n"):
        want += "\n"  # 7bit bodies end with a line break
    got = norm(part.get_content())
    assert got == want, f"text/{subtype}: {got!r} != {want!r}"


def check_atts(msg, want):
    parts = list(msg.iter_attachments())
    assert len(parts) == len(want), f"{len(parts)} attachments, want {len(want)}"
    for part, att in zip(parts, want):
        assert part.get_filename() == att["name"], f"{part.get_filename()!r} != {att['name']!r}"
        assert part.get_param("name") == att["name"], f"name= {part.get_param('name')!r}"
        assert part.get_content_disposition() == "attachment"
        assert part.get_content_type() == att["type"].lower()
        data = part.get_payload(decode=True)
        assert data == base64.b64decode(att["b64"]), f"payload of {att['name']!r} differs"


def check(eml, spec):
    raw = eml.read_bytes()
    check_lines(raw)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        assert not part.defects, f"defects: {part.defects}"
    assert str(msg["Subject"]) == spec["subject"], f"subject {str(msg['Subject'])!r}"
    check_addrs(msg, "From", [spec["from"]])
    for field, key in (("To", "to"), ("Cc", "cc"), ("Bcc", "bcc"), ("Reply-To", "reply_to")):
        check_addrs(msg, field, spec[key])
    assert int(msg["Date"].datetime.timestamp()) == int(spec["date"]), msg["Date"]
    assert msg["Message-ID"] == f"<{spec['id']}@{spec['from'].rpartition('@')[2]}>"
    assert msg["X-Notify-Id"] == spec["id"]
    assert msg["MIME-Version"] == "1.0"
    check_text(msg, "plain", spec["text"])
    check_text(msg, "html", spec["html"])
    check_atts(msg, spec["att"])
    if spec["att"]:
        assert msg.get_content_type() == "multipart/mixed"
    elif spec["text"] and spec["html"]:
        assert msg.get_content_type() == "multipart/alternative"


def main():
    specs = sorted(pathlib.Path(sys.argv[1]).glob("*.spec"))
    if not specs:
        print("mailcheck: no messages", file=sys.stderr)
        return 1
    for path in specs:
        try:
            check(path.with_suffix(".eml"), read_spec(path))
        except AssertionError as e:
            print(f"mailcheck: {path.stem}: {e}", file=sys.stderr)
            return 1
    print(f"mailcheck: {len(specs)} messages match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
