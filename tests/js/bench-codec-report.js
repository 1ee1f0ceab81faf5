// Joins criterion's estimates (Rust) with bench-codec.js's output (JavaScript) into one table.
// Usage: node bench-codec-report.js <criterion dir> <js jsonl> [<criterion dir> <js jsonl>...]
// With several runs (repetitions), each cell is the median over the runs, and each ratio the
// ratio of the medians followed by the lowest and highest ratio of a single run.
"use strict";
const fs = require("fs");
const path = require("path");
const args = process.argv.slice(2);
if (args.length < 2 || args.length % 2 !== 0) {
  console.error("usage: node bench-codec-report.js <criterion dir> <js jsonl> [...]");
  process.exit(2);
}
const runs = [];
for (let i = 0; i < args.length; i += 2) runs.push({ critDir: args[i], jsFile: args[i + 1] });

for (const run of runs) {
  run.js = {};
  for (const line of fs.readFileSync(run.jsFile, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const r = JSON.parse(line);
    run.js[`${r.case}/${r.op}`] = r.ns_per_op;
  }
}

function rust(critDir, group, fn) {
  const f = path.join(critDir, group, fn, "new", "estimates.json");
  if (!fs.existsSync(f)) return undefined;
  return JSON.parse(fs.readFileSync(f, "utf8")).median.point_estimate;
}

function median(xs) {
  const s = xs.filter((x) => x !== undefined).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const cases = ["small_event", "event_with_ack", "json_3k", "binary_1k", "payload_100"];
const fmt = (ns) => (ns === undefined ? "-" : ns < 1000 ? ns.toFixed(0) + " ns" : (ns / 1000).toFixed(2) + " µs");
function ratio(jsOf, rustOf) {
  const a = median(runs.map(jsOf)), b = median(runs.map(rustOf));
  if (a === undefined || b === undefined) return "-";
  let out = (a / b).toFixed(1) + "x";
  if (runs.length > 1) {
    const each = runs.map((r) => jsOf(r) / rustOf(r)).filter((x) => Number.isFinite(x));
    out += ` (${Math.min(...each).toFixed(1)}-${Math.max(...each).toFixed(1)})`;
  }
  return out;
}
const rows = [["case", "JS encode", "Rust encode", "ratio", "JS decode", "Rust decode (typed)", "ratio", "Rust decode (dynamic)", "ratio"]];
for (const c of cases) {
  const je = (r) => r.js[`${c}/encode`], jd = (r) => r.js[`${c}/decode`];
  const re = (r) => rust(r.critDir, c, "encode"), rt = (r) => rust(r.critDir, c, "decode_typed"), rd = (r) => rust(r.critDir, c, "decode_dynamic");
  const m = (f) => fmt(median(runs.map(f)));
  rows.push([c, m(je), m(re), ratio(je, re), m(jd), m(rt), ratio(jd, rt), m(rd), ratio(jd, rd)]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
const line = (r) => "| " + r.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
console.log(line(rows[0]));
console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
for (const r of rows.slice(1)) console.log(line(r));
console.log("\nratio = JS ns per op / Rust ns per op (medians); decode = header + arguments");
if (runs.length > 1) {
  console.log(`${runs.length} runs: each time is the median over the runs; in parentheses the lowest and highest ratio of a single run`);
}
