// Node peer for `make bench` through ACS: the same job as notify-handler with an access key, done
// the way most Azure users would write it: Node's http server and Microsoft's official SDK,
// @azure/communication-email 1.1.0 (tests/sdk pins it; the bench installs it from npm). Takes
// POST /api/notification {"to_email","subject","message"}, calls EmailClient.beginSend with an
// operation id (the SDK signs with HMAC-SHA256 and POSTs over kept-alive TLS; beginSend resolves
// once ACS accepted the message), answers 202 {"id","status"} without waiting for delivery.
// Environment: FUNCTIONS_CUSTOMHANDLER_PORT or PORT, COMMUNICATION_SERVICES_CONNECTION_STRING,
// EMAIL_SENDER; NODE_EXTRA_CA_CERTS for the test CA; NODE_PATH when node_modules is elsewhere.
"use strict";

const http = require("http");
const crypto = require("crypto");
const { EmailClient } = require("@azure/communication-email");

const client = new EmailClient(process.env.COMMUNICATION_SERVICES_CONNECTION_STRING);
const sender = process.env.EMAIL_SENDER || "";
const port = Number(process.env.FUNCTIONS_CUSTOMHANDLER_PORT || process.env.PORT);

function answer(res, status, body, headers) {
  const data = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, Object.assign({ "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(data) }, headers || {}));
  res.end(data);
}

http.createServer((req, res) => {
  if (req.method === "GET") return answer(res, 200, { status: "ready" });
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    if (req.method !== "POST" || req.url !== "/api/notification") return answer(res, 404);
    let q;
    try {
      q = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return answer(res, 400);
    }
    if (!q || typeof q.to_email !== "string" || !q.to_email || typeof q.subject !== "string" ||
        !q.subject || typeof q.message !== "string") return answer(res, 400);
    const id = crypto.randomUUID();
    const message = { senderAddress: sender, content: { subject: q.subject, plainText: q.message },
      recipients: { to: [{ address: q.to_email }] } };
    client.beginSend(message, { operationId: id }).then(
      () => answer(res, 202, { id, status: "Running" }, { Location: "/api/notification/" + id }),
      () => answer(res, 502));
  });
}).listen(port, "127.0.0.1");
