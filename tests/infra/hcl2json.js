#!/usr/bin/env node
// Converts each .tf file named on the command line to Terraform JSON with @cdktf/hcl2json
// (HashiCorp's HCL v2 parser compiled to WebAssembly) and prints one JSON object:
//   {"<path>": {"json": {...}} | {"error": "<HCL diagnostics>"}, ...}
// Each file is parsed on its own, so a syntax error names its file and line. tfcheck.py reads
// this output; it needs `npm ci --prefix tests/infra`.
"use strict";
const fs = require("fs");
const path = require("path");

let hcl;
try {
  hcl = require(path.join(__dirname, "node_modules", "@cdktf", "hcl2json"));
} catch (e) {
  process.stderr.write("hcl2json.js: @cdktf/hcl2json is not installed: run `npm ci --prefix tests/infra`\n");
  process.exit(3);
}

async function main(files) {
  const out = {};
  for (const f of files) {
    let text;
    try {
      text = fs.readFileSync(f, "utf8");
    } catch (e) {
      out[f] = { error: `cannot read: ${e.message}` };
      continue;
    }
    try {
      out[f] = { json: await hcl.parse(path.basename(f), text) };
    } catch (e) {
      out[f] = { error: String(e && e.message ? e.message : e) };
    }
  }
  process.stdout.write(JSON.stringify(out));
}

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`hcl2json.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(2);
});
