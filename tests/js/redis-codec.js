// One long-lived Node process running notepack.io 3.0.1 (the msgpack codec of
// @socket.io/redis-adapter 8.3 and @socket.io/redis-emitter 5.1) and JSON, for the
// differential tests of sio-redis (tests/tests/redis_codec.rs).
//
// Protocol: one JSON request per line on stdin, {"id": N, "op": "<name>", "args": {...}};
// one JSON answer per line on stdout, {"id": N, "ok": <result>} or {"id": N, "error": "<msg>"}.
//
// Values in args: plain JSON, plus
//   {"$bin": "<base64>"}     a Buffer
//   {"$undefined": true}     undefined
//   {"$date": <ms>}          a Date
//   {"$float": "NaN"}        NaN / "Infinity" / "-Infinity"
// Results are "canonical": what a Node server would pass on after decoding, as JSON with
// Buffers / ArrayBuffers as {"$bin"}, a Date as its toJSON() string (null when invalid),
// undefined array items and non-finite numbers as null, object keys holding undefined left out.
//
// Operations:
//   ping                 {}                 -> "pong"
//   encode               {value}            -> {"$bin"}     notepack.io encode
//   decode               {data: $bin}       -> canonical    notepack.io decode
//   stringify            {value}            -> string       JSON.stringify
//   parse                {data: $bin}       -> canonical    JSON.parse(Buffer#toString())
//   accepts              {data: $bin}       -> bool         whether notepack.io decodes it
"use strict";

const path = require("path");
const readline = require("readline");

// The notepack.io the adapter itself loads (3.0.1, nested under it; the top-level
// notepack.io of tests/node_modules is socket.io-msgpack-parser's 2.2.0).
const adapterDir = path.dirname(require.resolve("@socket.io/redis-adapter/package.json"));
const notepack = require(require.resolve("notepack.io", { paths: [adapterDir] }));
const version = require(require.resolve("notepack.io/package.json", { paths: [adapterDir] })).version;
if (version !== "3.0.1") throw new Error(`expected notepack.io 3.0.1, found ${version}`);

function revive(v) {
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "$bin") return Buffer.from(v.$bin, "base64");
    if (keys.length === 1 && keys[0] === "$undefined") return undefined;
    if (keys.length === 1 && keys[0] === "$date") return new Date(v.$date);
    if (keys.length === 1 && keys[0] === "$float") return Number(v.$float);
    const out = {};
    for (const k of keys) out[k] = revive(v[k]);
    return out;
  }
  return v;
}

function canon(v) {
  if (v === undefined || v === null) return null;
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "boolean" || typeof v === "string") return v;
  if (Buffer.isBuffer(v)) return { $bin: v.toString("base64") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("base64") };
  if (v instanceof Date) return v.toJSON();
  if (Array.isArray(v)) return v.map(canon);
  const out = {};
  for (const k of Object.keys(v)) {
    if (v[k] !== undefined) out[k] = canon(v[k]);
  }
  return out;
}

const ops = {
  ping: () => "pong",
  encode: ({ value }) => ({ $bin: notepack.encode(revive(value)).toString("base64") }),
  decode: ({ data }) => canon(notepack.decode(Buffer.from(data.$bin, "base64"))),
  stringify: ({ value }) => JSON.stringify(revive(value)),
  parse: ({ data }) => canon(JSON.parse(Buffer.from(data.$bin, "base64").toString())),
  accepts: ({ data }) => {
    try {
      notepack.decode(Buffer.from(data.$bin, "base64"));
      return true;
    } catch (e) {
      return false;
    }
  },
};

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  let id = null;
  try {
    const req = JSON.parse(line);
    id = req.id;
    const op = ops[req.op];
    if (!op) throw new Error(`unknown op ${req.op}`);
    process.stdout.write(JSON.stringify({ id, ok: op(req.args || {}) }) + "\n");
  } catch (e) {
    process.stdout.write(JSON.stringify({ id, error: String(e && e.message) }) + "\n");
  }
});
rl.on("close", () => process.exit(0));
