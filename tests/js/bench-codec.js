// Codec throughput of the JavaScript parsers (socket.io-parser 4.2.7, engine.io-parser 5.2.3),
// on the same cases as sio-protocol/benches/codec.rs. Prints one JSON object per line:
// {"case":"small_event","op":"encode","ns_per_op":...,"ops_per_sec":...}
// Usage: node tests/js/bench-codec.js [seconds-per-sample=1] [samples=5]
"use strict";
const path = require("path");
const { Encoder, Decoder, PacketType } = require("socket.io-parser");
const eio = require("engine.io-parser");

const cases = require(path.join(__dirname, "../../sio-protocol/benches/cases.json"));
const secs = Number(process.argv[2] || 1);
const samples = Number(process.argv[3] || 5);

function materialize(v) {
  if (Array.isArray(v)) return v.map(materialize);
  if (v && typeof v === "object") {
    if (typeof v.$bin_len === "number") {
      const b = Buffer.alloc(v.$bin_len);
      for (let i = 0; i < b.length; i++) b[i] = i & 0xff;
      return b;
    }
    const o = {};
    for (const k of Object.keys(v)) o[k] = materialize(v[k]);
    return o;
  }
  return v;
}

// The arguments are built once per case; each encode gets a fresh packet object around them,
// because socket.io-parser's Encoder rewrites the packet it is given (type, data, attachments).
const argsCache = new Map();
function packetOf(c) {
  if (!argsCache.has(c)) argsCache.set(c, [c.event, ...materialize(c.args)]);
  const p = { type: PacketType.EVENT, nsp: "/", data: argsCache.get(c) };
  if (c.id !== undefined) p.id = c.id;
  return p;
}

// Runs fn in batches until `secs` elapsed; returns ns per call.
function measure(fn) {
  let n = 0;
  let batch = 1000;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(secs * 1e9));
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < batch; i++) fn();
    n += batch;
    now = process.hrtime.bigint();
  }
  return Number(now - start) / n;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

let sink = 0;
const encoder = new Encoder();

function report(name, op, fn) {
  measure(fn); // warm-up
  const runs = [];
  for (let i = 0; i < samples; i++) runs.push(measure(fn));
  const ns = median(runs);
  console.log(JSON.stringify({ case: name, op, ns_per_op: ns, ops_per_sec: 1e9 / ns, min_ns: Math.min(...runs), max_ns: Math.max(...runs) }));
}

// Decodes a list of socket.io frames (string + buffers) into one packet, like a server does.
function decodeFrames(frames) {
  const d = new Decoder();
  let out = null;
  d.on("decoded", (p) => { out = p; });
  for (const f of frames) d.add(f);
  return out;
}

for (const [name, c] of Object.entries(cases)) {
  if (c.repeat) {
    // A polling payload of `repeat` EVENT packets: engine.io-parser payload + socket.io-parser packets.
    const frames = encoder.encode(packetOf(c));
    const eioPackets = [];
    for (let i = 0; i < c.repeat; i++) eioPackets.push({ type: "message", data: frames[0] });
    let payload;
    eio.encodePayload(eioPackets, (p) => { payload = p; });
    report(name, "encode", () => {
      const msgs = [];
      for (let i = 0; i < c.repeat; i++) msgs.push({ type: "message", data: encoder.encode(packetOf(c))[0] });
      eio.encodePayload(msgs, (p) => { sink += p.length; });
    });
    report(name, "decode", () => {
      const d = new Decoder();
      d.on("decoded", (p) => { sink += p.data.length; });
      for (const p of eio.decodePayload(payload)) d.add(p.data);
    });
    continue;
  }
  const packet = packetOf(c);
  const frames = encoder.encode(packetOf(c));
  report(name, "encode", () => { sink += encoder.encode(packetOf(c)).length; });
  report(name, "decode", () => { sink += decodeFrames(frames).data.length; });
  // Sanity: the bytes we benchmark are what Rust benchmarks too.
  if (typeof frames[0] !== "string") throw new Error("unexpected frame");
  void packet;
}
if (sink === 42) console.error("");
