// Peer for `make bench`: the same job in Node's http module.
const http = require("http"), fs = require("fs"), path = require("path"), crypto = require("crypto");
const dir = process.env.NOTIFY_OUTBOX_DIR || "./outbox";
fs.mkdirSync(dir, { recursive: true });
const port = +(process.env.FUNCTIONS_CUSTOMHANDLER_PORT || process.env.PORT || 8080);
http.createServer((req, res) => {
  if (req.method !== "POST") { res.writeHead(200, { "Content-Type": "application/json" }); return res.end('{"status":"ready"}'); }
  const parts = [];
  req.on("data", (c) => parts.push(c));
  req.on("end", () => {
    let q;
    try { q = JSON.parse(Buffer.concat(parts)); } catch (e) { res.writeHead(400); return res.end(); }
    if (!q.to_email || !q.subject) { res.writeHead(400); return res.end(); }
    const id = crypto.randomUUID(), tmp = path.join(dir, "." + id + ".tmp");
    const fd = fs.openSync(tmp, "w");
    fs.writeSync(fd, `From: notify@localhost\r\nTo: ${q.to_email}\r\nSubject: ${q.subject}\r\n` +
      `Date: ${new Date().toUTCString()}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${q.message}\r\n`);
    fs.fsyncSync(fd); fs.closeSync(fd);
    fs.renameSync(tmp, path.join(dir, id + ".eml"));
    const body = JSON.stringify({ id, status: "Succeeded" });
    res.writeHead(202, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body), Location: "/api/notification/" + id });
    res.end(body);
  });
}).listen(port, "127.0.0.1");
