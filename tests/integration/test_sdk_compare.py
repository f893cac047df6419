"""The handler's request and the official SDK's request, side by side at the same mock.

Microsoft's @azure/communication-email (tests/sdk) and build/static/handler each send the same
notification to one TLS mock of ACS; the two recorded requests must agree on everything ACS reads:
method, path, api-version, the signed header set and its form, the content hash of the exact body,
Operation-Id, Content-Type, Host, and the body itself as parsed JSON (same members, same values).
Runs in the static pass only (NOTIFY_SKIP_ORACLE=1 skips it in the ASan pass, like the other
oracle tests) and needs node and `npm ci --prefix tests/sdk` (make sdk).
"""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SDK_DIR = os.path.join(ROOT, "tests", "sdk")
NODE = shutil.which("node")

if os.environ.get("NOTIFY_SKIP_ORACLE") == "1":
    pytest.skip("NOTIFY_SKIP_ORACLE=1: the SDK oracle runs in the other pass", allow_module_level=True)
if NODE is None or not os.path.isdir(os.path.join(SDK_DIR, "node_modules", "@azure", "communication-email")):
    pytest.skip("node or tests/sdk/node_modules missing (make sdk)", allow_module_level=True)

sys.path.insert(0, HERE)
from conftest import request  # noqa: E402
from mock_acs import MockACS  # noqa: E402
from pki import make_pki  # noqa: E402

SENDER = "DoNotReply@example.com"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def sdk_send(acs, pki, message, op_id, api_version):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NODE_", "ACS_"))}
    env.update(NODE_EXTRA_CA_CERTS=pki.ca_cert, ACS_CONNECTION_STRING=acs.connection_string,
               ACS_MESSAGE=json.dumps(message))
    r = subprocess.run([NODE, os.path.join(SDK_DIR, "send.js"), "--no-wait", "--operation-id", op_id,
                        "--api-version", api_version], env=env, cwd=SDK_DIR, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    out = json.loads(r.stdout.decode().strip().splitlines()[-1])
    assert out["ok"], out


# The same notification in the two vocabularies: the handler's request, and the EmailMessage the
# SDK is given (the Swagger's EmailMessage: mock_acs.py [schema]).
CASES = {
    "original": (
        {"to_email": "you@example.com", "subject": "テスト", "message": "テストメッセージ"},
        {"senderAddress": SENDER, "content": {"subject": "テスト", "plainText": "テストメッセージ"},
         "recipients": {"to": [{"address": "you@example.com"}]}},
    ),
    "rich": (
        {"to_email": ["a@example.com", "b@example.com"], "cc": "c@example.com", "bcc": ["d@example.com"],
         "reply_to": "help@example.com", "subject": "Quote \" and \\ and \u00e9 \U0001F600",
         "message": "line 1\nline 2\ttab \u0001", "html": "<p>Hi &amp; bye</p>",
         "attachments": [{"name": "a.txt", "content_type": "text/plain",
                          "content_base64": base64.b64encode(b"hello").decode()}]},
        {"senderAddress": SENDER,
         "content": {"subject": "Quote \" and \\ and \u00e9 \U0001F600",
                     "plainText": "line 1\nline 2\ttab \u0001", "html": "<p>Hi &amp; bye</p>"},
         "recipients": {"to": [{"address": "a@example.com"}, {"address": "b@example.com"}],
                        "cc": [{"address": "c@example.com"}], "bcc": [{"address": "d@example.com"}]},
         "replyTo": [{"address": "help@example.com"}],
         "attachments": [{"name": "a.txt", "contentType": "text/plain",
                          "contentInBase64": base64.b64encode(b"hello").decode()}]},
    ),
}

SIGNED = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="


@pytest.mark.parametrize("api_version", ["2023-03-31", "2025-09-01"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_handler_and_sdk_send_the_same_request(start, pki, case, api_version):
    ours, theirs = CASES[case]
    with MockACS(pki.server_cert, pki.server_key) as acs:
        h = start(env={"COMMUNICATION_SERVICES_CONNECTION_STRING": acs.connection_string,
                       "NOTIFY_CA_FILE": pki.ca_cert, "EMAIL_SENDER": SENDER,
                       "ACS_API_VERSION": api_version})
        r = request(h, "POST", "/api/notification", json.dumps(ours).encode(),
                    {"Content-Type": "application/json"})
        assert r.status == 202, r.body
        op_id = str(uuid.uuid4())
        sdk_send(acs, pki, theirs, op_id, api_version)
        posts = [q for q in acs.requests if q.method == "POST"]
        assert len(posts) == 2
        mine, sdk = posts
        # both accepted by the same verification ACS does
        assert mine.auth_ok and sdk.auth_ok and mine.status == sdk.status == 202
        for q, want_id in ((mine, r.json()["id"]), (sdk, op_id)):
            assert q.path == "/emails:send" and q.query == {"api-version": api_version}
            assert q.header("authorization").startswith(SIGNED)
            assert q.header("x-ms-content-sha256") == base64.b64encode(
                hashlib.sha256(q.body).digest()).decode()
            assert q.header("operation-id") == want_id
            assert q.header("content-type").split(";")[0].strip() == "application/json"
            assert q.header("host") == mine.header("host")
            assert int(q.header("content-length")) == len(q.body)
        # the body ACS reads: the same members with the same values (key order and whitespace
        # may differ; the SDK may add nothing we do not send)
        assert mine.json == sdk.json, (mine.json, sdk.json)
        assert mine.unknown_keys == sdk.unknown_keys == []
