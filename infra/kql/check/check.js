// check.js: parses and analyzes KQL files with Kusto.Language (npm @kusto/language-service-next,
// the parser and binder behind the Azure Data Explorer and Log Analytics editors), against the
// Log Analytics tables the queries read, so a syntax error, an unknown column or a wrong function
// call fails offline. Prints every diagnostic and the result columns; exits 1 on any error.
//
//   npm ci --prefix build/kql-check (with this folder's package.json and package-lock.json copied
//   there), then: node infra/kql/check/check.js infra/kql/*.kql
//   KUSTO_LANGUAGE_DIR names another folder holding the package.
//
// Columns: the Azure Monitor table references (learn.microsoft.com/azure/azure-monitor/reference/
// tables/apptraces, apprequests, appexceptions, functionapplogs); only those the queries may use.
"use strict";
const fs = require("fs");
const path = require("path");

const repo = path.resolve(__dirname, "..", "..", "..");
const dir = process.env.KUSTO_LANGUAGE_DIR ||
  path.join(repo, "build", "kql-check", "node_modules", "@kusto", "language-service-next");
require(path.join(dir, "bridge.js"));
require(path.join(dir, "Kusto.Language.Bridge.js"));
const K = global.Kusto.Language;
const S = K.Symbols;

const common = "TimeGenerated:datetime, AppRoleInstance:string, AppRoleName:string, " +
  "AppVersion:string, ClientIP:string, ClientType:string, IKey:string, ItemCount:int, " +
  "Measurements:dynamic, OperationId:string, OperationName:string, ParentId:string, " +
  "Properties:dynamic, ResourceGUID:string, _ResourceId:string, SDKVersion:string, " +
  "SessionId:string, SourceSystem:string, TenantId:string, Type:string, UserId:string";
const table = (name, cols) => S.TableSymbol.From("(" + cols + ")").WithName(name);
const tables = [
  table("AppTraces", common + ", Message:string, SeverityLevel:int"),
  table("AppRequests", common + ", Id:string, Name:string, Url:string, Success:bool, " +
    "ResultCode:string, DurationMs:real, PerformanceBucket:string, Source:string"),
  table("AppExceptions", common + ", ProblemId:string, HandledAt:string, ExceptionType:string, " +
    "Assembly:string, Method:string, OuterType:string, OuterMessage:string, " +
    "OuterAssembly:string, OuterMethod:string, InnermostType:string, InnermostMessage:string, " +
    "InnermostAssembly:string, InnermostMethod:string, SeverityLevel:int, Details:dynamic"),
  table("FunctionAppLogs", "TimeGenerated:datetime, ActivityId:string, AppName:string, " +
    "Category:string, EventId:int, EventName:string, ExceptionDetails:string, " +
    "ExceptionMessage:string, ExceptionType:string, FunctionInvocationId:string, " +
    "FunctionName:string, HostInstanceId:string, HostVersion:string, Level:string, LevelId:int, " +
    "Location:string, Message:string, ProcessId:int, RoleInstance:string, _ResourceId:string, " +
    "SourceSystem:string, TenantId:string, Type:string"),
];
const globals = K.GlobalState.Default.WithDatabase(new S.DatabaseSymbol.$ctor2("workspace", null, tables));

// Result columns some queries must have (a dashboard, an alert rule or the README relies on
// them) and columns none may have: the delivery queries show recipient domains, never addresses.
const required = {
  "delivery_rate.kql": ["Time", "Reports", "Delivered", "Bounced", "Suppressed", "FilteredSpam",
    "Quarantined", "Failed", "Expanded", "FailureRatePct", "TopFailingDomains"],
  "delivery_alert.kql": ["Reports", "NotDelivered", "FailureRatePct", "TopDomain"],
  "notification_story.kql": ["Time", "What", "Delivery", "DeliveryOutcome"],
  "failure_alert.kql": ["Failures"],
};
const forbidden = /^(recipient|recipients|address|to|email|to_email|detail)$/i;
const columnsOf = {};

let errors = 0;
const files = process.argv.slice(2);
if (!files.length) {
  console.error("usage: node check.js FILE.kql...");
  process.exit(2);
}
for (const f of files) {
  const text = fs.readFileSync(f, "utf8");
  const code = K.KustoCode.ParseAndAnalyze(text, globals);
  const diags = code.GetDiagnostics();
  let n = 0;
  for (let i = 0; i < diags.Count; i++) {
    const d = diags.getItem(i);
    const line = text.slice(0, d.Start).split("\n").length;
    console.log(`${f}:${line}: ${d.Severity}: ${d.Message}`);
    if (d.Severity === "Error") n++;
  }
  const cols = [];
  const rt = code.ResultType;
  if (rt && rt.Columns)
    for (let i = 0; i < rt.Columns.Count; i++) cols.push(rt.Columns.getItem(i).Name);
  const base = path.basename(f);
  columnsOf[base] = cols;
  for (const c of required[base] || [])
    if (!cols.includes(c)) {
      console.log(`${f}: error: result has no column ${c}`);
      n++;
    }
  if (base.startsWith("delivery_"))
    for (const c of cols)
      if (forbidden.test(c)) {
        console.log(`${f}: error: column ${c} would show addresses or status texts; show domains`);
        n++;
      }
  console.log(`${f}: ${n ? n + " errors" : "ok"}; result: ${cols.join(", ")}`);
  errors += n;
}

// The Terraform that installs them: every saved search and alert query names a file checked
// here, and each alert's metric_measure_column is a result column of its query.
const tf = path.join(repo, "infra", "terraform", "modules", "monitoring", "main.tf");
if (fs.existsSync(tf) && files.length > 1) {
  const text = fs.readFileSync(tf, "utf8");
  const searches = /saved_searches\s*=\s*\{([^}]*)\}/.exec(text);
  for (const m of (searches ? searches[1] : "").matchAll(/^\s*([a-z_]+)\s*=/gm))
    if (!columnsOf[m[1] + ".kql"]) {
      console.log(`${tf}: error: saved search ${m[1]} has no checked ${m[1]}.kql`);
      errors++;
    }
  const rule = /file\("\$\{var\.kql_dir\}\/([a-z_]+\.kql)"\)\s*\n\s*metric_measure_column\s*=\s*"([A-Za-z_]+)"/g;
  let rules = 0;
  for (const m of text.matchAll(rule)) {
    rules++;
    if (!(columnsOf[m[1]] || []).includes(m[2])) {
      console.log(`${tf}: error: alert on ${m[1]} measures ${m[2]}, which the query does not return`);
      errors++;
    }
  }
  console.log(`${path.relative(repo, tf)}: ${rules} alert rules and their queries checked`);
}
process.exit(errors ? 1 : 0);
