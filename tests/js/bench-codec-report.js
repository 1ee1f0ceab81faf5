// Joins criterion's estimates (Rust) with bench-codec.js's output (JavaScript) into one table.
// Usage: node bench-codec-report.js <criterion dir> <js jsonl>
"use strict";
const fs = require("fs");
const path = require("path");
const [critDir, jsFile] = process.argv.slice(2);

const js = {};
for (const line of fs.readFileSync(jsFile, "utf8").split("\n")) {
  if (!line.trim()) continue;
  const r = JSON.parse(line);
  js[`${r.case}/${r.op}`] = r.ns_per_op;
}

function rust(group, fn) {
  const f = path.join(critDir, group, fn, "new", "estimates.json");
  if (!fs.existsSync(f)) return undefined;
  return JSON.parse(fs.readFileSync(f, "utf8")).median.point_estimate;
}

const cases = ["small_event", "event_with_ack", "json_3k", "binary_1k", "payload_100"];
const fmt = (ns) => (ns === undefined ? "-" : ns < 1000 ? ns.toFixed(0) + " ns" : (ns / 1000).toFixed(2) + " µs");
const ratio = (a, b) => (a === undefined || b === undefined ? "-" : (a / b).toFixed(1) + "x");
const rows = [["case", "JS encode", "Rust encode", "ratio", "JS decode", "Rust decode (typed)", "ratio", "Rust decode (dynamic)", "ratio"]];
for (const c of cases) {
  const je = js[`${c}/encode`], jd = js[`${c}/decode`];
  const re = rust(c, "encode"), rt = rust(c, "decode_typed"), rd = rust(c, "decode_dynamic");
  rows.push([c, fmt(je), fmt(re), ratio(je, re), fmt(jd), fmt(rt), ratio(jd, rt), fmt(rd), ratio(jd, rd)]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
const line = (r) => "| " + r.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
console.log(line(rows[0]));
console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
for (const r of rows.slice(1)) console.log(line(r));
console.log("\nratio = JS ns per op / Rust ns per op (medians); decode = header + arguments");
