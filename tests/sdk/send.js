#!/usr/bin/env node
// Test oracle: sends one e-mail with Microsoft's official ACS Email SDK
// (@azure/communication-email, EmailClient.beginSend + pollUntilDone) and prints one JSON line.
// Used by tests/integration/test_mock_acs.py to check that the mock verifies requests exactly
// as ACS does, and to record what the SDK puts on the wire.
//
// Usage: node send.js [options] [CONNECTION_STRING [MESSAGE_JSON]]
//   CONNECTION_STRING  default $ACS_CONNECTION_STRING  ("endpoint=https://host/;accesskey=KEY")
//   MESSAGE_JSON       default $ACS_MESSAGE; "-" reads it from stdin. The wire EmailMessage
//                      (EmailMessage of https://learn.microsoft.com/rest/api/communication/email/email/send);
//                      userEngagementTrackingDisabled is passed to the SDK
//                      as its model name disableUserEngagementTracking.
// Options:
//   --no-wait            stop after the first poll of beginSend (the POST); default: pollUntilDone
//   --operation-id UUID  pass options.operationId (the SDK then sends an Operation-Id header)
//   --api-version V      client option apiVersion (default: the SDK's own, 2025-09-01 in 1.1.0)
//   --max-retries N      retryOptions.maxRetries (SDK default 3)
//   --retry-delay-ms N   retryOptions.retryDelayInMs (SDK default 1000)
//   --poll-ms N          beginSend updateIntervalInMs (used when the service sends no retry-after)
//   --timeout-ms N       abort everything after N ms (default 60000)
// Trust: the test CA must be given with NODE_EXTRA_CA_CERTS=<pem> (read by node at start-up).
// Output (stdout, one line): {"ok":true,"sdk":...,"state":<poller state after beginSend>,
//   "result":<EmailSendResult>|null,"trace":[{method,url,status,retryAfter}...]}
// or {"ok":false,"error":{name,code,statusCode,message},"trace":[...]} with exit status 1.
"use strict";

const { EmailClient } = require("@azure/communication-email");

function parseArgs(argv) {
  const opts = { wait: true, timeoutMs: 60000 };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--no-wait") opts.wait = false;
    else if (a === "--wait") opts.wait = true;
    else if (a === "--operation-id") opts.operationId = val();
    else if (a === "--api-version") opts.apiVersion = val();
    else if (a === "--max-retries") opts.maxRetries = Number(val());
    else if (a === "--retry-delay-ms") opts.retryDelayInMs = Number(val());
    else if (a === "--poll-ms") opts.pollMs = Number(val());
    else if (a === "--timeout-ms") opts.timeoutMs = Number(val());
    else if (a.startsWith("--")) throw new Error(`unknown option ${a}`);
    else pos.push(a);
  }
  return { opts, pos };
}

function readStdin() {
  return require("fs").readFileSync(0, "utf8");
}

function sdkVersion() {
  try {
    const p = require.resolve("@azure/communication-email/package.json");
    return require(p).version;
  } catch {
    // the package's "exports" may hide package.json; fall back to walking node_modules
    try {
      return require("./node_modules/@azure/communication-email/package.json").version;
    } catch {
      return null;
    }
  }
}

async function main() {
  const { opts, pos } = parseArgs(process.argv.slice(2));
  const connectionString = pos[0] || process.env.ACS_CONNECTION_STRING;
  let messageText = pos[1] || process.env.ACS_MESSAGE;
  if (messageText === "-") messageText = readStdin();
  if (!connectionString || !messageText) {
    throw new Error("need a connection string and a message (argv or ACS_CONNECTION_STRING/ACS_MESSAGE)");
  }
  // MESSAGE_JSON is the wire form of the reference (section 2.3). The SDK's model names one member
  // differently: it serializes `disableUserEngagementTracking` as "userEngagementTrackingDisabled"
  // and drops any member its mapper does not know, so translate that one name.
  const message = JSON.parse(messageText);
  if (Object.prototype.hasOwnProperty.call(message, "userEngagementTrackingDisabled")) {
    message.disableUserEngagementTracking = message.userEngagementTrackingDisabled;
    delete message.userEngagementTrackingDisabled;
  }

  // Records every attempt the pipeline makes (after retries' own policies ran).
  const trace = [];
  const tracePolicy = {
    name: "notifyTestTrace",
    async sendRequest(request, next) {
      const entry = { method: request.method, url: request.url, status: null, retryAfter: null };
      trace.push(entry);
      try {
        const response = await next(request);
        entry.status = response.status;
        entry.retryAfter = response.headers.get("retry-after") || null;
        return response;
      } catch (e) {
        entry.error = e.code || e.name || String(e);
        throw e;
      }
    },
  };

  const clientOptions = {
    additionalPolicies: [{ policy: tracePolicy, position: "perRetry" }],
  };
  if (opts.apiVersion) clientOptions.apiVersion = opts.apiVersion;
  const retryOptions = {};
  if (opts.maxRetries !== undefined) retryOptions.maxRetries = opts.maxRetries;
  if (opts.retryDelayInMs !== undefined) retryOptions.retryDelayInMs = opts.retryDelayInMs;
  if (Object.keys(retryOptions).length) clientOptions.retryOptions = retryOptions;

  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), opts.timeoutMs);
  const client = new EmailClient(connectionString, clientOptions);
  const sendOptions = { abortSignal: abort.signal };
  if (opts.operationId) sendOptions.operationId = opts.operationId;
  if (opts.pollMs !== undefined) sendOptions.updateIntervalInMs = opts.pollMs;

  const out = { ok: false, sdk: { package: "@azure/communication-email", version: sdkVersion() },
    node: process.version, trace };
  try {
    const poller = await client.beginSend(message, sendOptions);
    const st = poller.getOperationState();
    out.state = { status: st.status, result: st.result || null, config: st.config || null };
    out.result = opts.wait ? await poller.pollUntilDone({ abortSignal: abort.signal }) : null;
    out.ok = true;
  } catch (e) {
    out.error = {
      name: e.name || null,
      code: e.code || null,
      statusCode: e.statusCode || null,
      message: e.message || String(e),
    };
  } finally {
    clearTimeout(timer);
  }
  return out;
}

main().then(
  (out) => {
    process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(out.ok ? 0 : 1));
  },
  (e) => {
    process.stdout.write(JSON.stringify({ ok: false, error: { name: "UsageError", message: e.message } }) + "\n",
      () => process.exit(2));
  },
);
