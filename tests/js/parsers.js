// One long-lived Node process that runs the real JavaScript parsers for the
// differential tests of sio (see tests/src/lib.rs, `NodePeer`).
//
// Protocol: one JSON request per line on stdin,
//   {"id": N, "op": "<name>", "args": {...}}
// one JSON answer per line on stdout, in request order,
//   {"id": N, "ok": <result>}   or   {"id": N, "error": "<message>"}
// The process exits when stdin closes. A bad request never kills it.
//
// Conventions in args and results:
//   {"$bin": "<base64>"}   bytes (Buffer / ArrayBuffer / typed array); an object
//                          with exactly this one key is always read as bytes
//   {"$num": "Infinity"}   a non-finite number in a result ("-Infinity", "NaN")
//   {"$undefined": true}   `undefined` inside a result's data (msgpack can make it)
//   {"$date": <ms>}        a Date inside a result's data (msgpack timestamp ext)
// A result string with a lone UTF-16 surrogate cannot be represented in Rust:
// such a request answers with an error starting with "unrepresentable:".
//
// Operations (args -> ok). P4 = {type: "open"|"close"|"ping"|"pong"|"message"|
// "upgrade"|"noop", data?: string|$bin}; S = {type, nsp?, id?, data?}; a frame
// is a string or $bin. A decode that meets an error packet / exception
// answers {"error": message}.
//   ping                      {}                                        -> "pong"
//   eio4.encodePacket         {packet: P4, supportsBinary?}             -> string | $bin
//   eio4.decodePacket         {data: string | $bin}                     -> P4
//   eio4.encodePayload        {packets: [P4]}                           -> string
//   eio4.decodePayload        {data: string}                            -> [P4]
//   eio4.decodeBody           {data: $bin}                              -> [P4]  (the body read as
//                                                                          engine.io's polling
//                                                                          transport reads it:
//                                                                          Buffer#toString(), then
//                                                                          decodePayload)
//   eio3.encodePacket         {packet: P4, supportsBinary?, utf8encode?} -> string | $bin
//   eio3.decodePacket         {data: string | $bin, utf8decode?}        -> P4 (type null: unknown type byte)
//   eio3.encodePayload        {packets: [P4], supportsBinary?}          -> string ("<len>:<packet>"...),
//                                                                          or $bin (XHR2 form) when
//                                                                          supportsBinary and a packet has bytes
//   eio3.encodePayloadAsBinary {packets: [P4]}                          -> $bin
//   eio3.decodePayload        {data: string | $bin}                     -> [P4]
//   eio3.decodePayloadAsBinary {data: $bin}                             -> [P4]
//   eio3.decodeBody           {data: $bin}                              -> [P4]  (as eio4.decodeBody,
//                                                                          for a text v3 body)
//   sio.encode                {packet: S}                               -> [frame]
//   sio.decode                {frames: [frame], maxAttachments?, reportPending?}
//                                 -> [S]  (or {packets: [S], pending: bool} with reportPending)
//   sio.isPacketValid         {packet: S}                               -> bool
//   sio.reencode              {frames: [frame]}                         -> [frame]  (what a
//                                                                          JavaScript server sends
//                                                                          again: each decoded
//                                                                          packet encoded anew)
//   sio_msgpack.encode        {packet: S, keys?: [key order]}           -> [$bin]
//   sio_msgpack.decode        {frames: [$bin], reportPending?}          -> as sio.decode
//   sio_v4.encode             {packet: S}  (type 5/6 for binary)        -> [frame]
//   sio_v4.decode             {frames: [frame], maxAttachments?, reportPending?} -> as sio.decode
//   sio_v4.reencode           {frames: [frame]}                         -> as sio.reencode
// (eio*.decode* also take binaryType: "arraybuffer" | "nodebuffer"; it does not
// change the JSON answer.)
"use strict";

const path = require("path");
const readline = require("readline");

const nodeModules = path.join(__dirname, "..", "node_modules");
const req = (name) => require(path.join(nodeModules, name));

const eio4 = req("engine.io-parser");
const eio3 = req("engine.io/build/parser-v3/index.js");
const sioParser = req("socket.io-parser");
const sioMsgpack = req("socket.io-msgpack-parser");
const sioV4Parser = req("socket.io-client-v2/node_modules/socket.io-parser");

// ---------------------------------------------------------------------------
// JSON <-> JS values

function isBinMarker(v) {
  return (
    v !== null &&
    typeof v === "object" &&
    !Array.isArray(v) &&
    Object.keys(v).length === 1 &&
    typeof v.$bin === "string"
  );
}

// JSON text of a request -> JS value with Buffers in place of {"$bin"}.
function parseRequest(line) {
  return JSON.parse(line, (_key, value) =>
    isBinMarker(value) ? Buffer.from(value.$bin, "base64") : value,
  );
}

function isBinary(v) {
  return v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

function toBuffer(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function checkString(s) {
  if (!s.isWellFormed()) {
    throw new Error(
      "unrepresentable: the result has a string with a lone surrogate: " +
        JSON.stringify(s),
    );
  }
  return s;
}

// JS value -> plain JSON-safe value, with the markers described above.
function toWire(v) {
  if (v === undefined) return { $undefined: true };
  if (v === null || typeof v === "boolean") return v;
  if (typeof v === "number") {
    return Number.isFinite(v) ? v : { $num: String(v) };
  }
  if (typeof v === "string") return checkString(v);
  if (typeof v === "bigint") return { $num: v.toString() };
  if (isBinary(v)) return { $bin: toBuffer(v).toString("base64") };
  if (v instanceof Date) {
    const t = v.getTime();
    return { $date: Number.isFinite(t) ? t : null };
  }
  if (Array.isArray(v)) {
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = toWire(v[i]);
    return out;
  }
  if (typeof v === "object") {
    // A null prototype so that a "__proto__" key stays an ordinary key.
    const out = Object.create(null);
    for (const key of Object.keys(v)) out[checkString(key)] = toWire(v[key]);
    return out;
  }
  throw new Error("unrepresentable: a " + typeof v + " in the result");
}

// An Engine.IO packet -> {type, data?}; `type` is null when the parser made a
// packet without a known type (v3 binary with an unknown type byte).
function eioPacketToWire(p) {
  const out = { type: p.type === undefined ? null : p.type };
  if (p.data !== undefined) out.data = toWire(p.data);
  return out;
}

// A Socket.IO packet -> {type, nsp, id?, data?} (only these keys).
function sioPacketToWire(p) {
  const out = Object.create(null);
  out.type = toWire(p.type);
  if (p.nsp !== undefined) out.nsp = toWire(p.nsp);
  if (p.id !== undefined) out.id = toWire(p.id);
  if (p.data !== undefined) out.data = toWire(p.data);
  return out;
}

// A Socket.IO packet from the request -> the object the parsers expect.
// Keys that are absent (or an `id` of null) stay absent. `nsp` defaults to "/".
// The msgpack parser writes the keys in the object's order, so `keys` (an
// optional array of key names) sets that order; other keys of the packet (an
// `options` object, as socket.io-client adds) follow in their given order.
function sioPacketFromArgs(p, keys) {
  if (p === null || typeof p !== "object") throw new Error("args.packet must be an object");
  const src = Object.assign({ nsp: "/" }, p);
  if (src.id === null) delete src.id;
  const order = Array.isArray(keys) ? keys : ["type", "nsp", "data", "id"];
  const out = {};
  for (const key of order.concat(Object.keys(src))) {
    if (src[key] !== undefined && !Object.prototype.hasOwnProperty.call(out, key)) {
      out[key] = src[key];
    }
  }
  return out;
}

function need(args, key, type) {
  const v = args[key];
  const ok =
    type === "array"
      ? Array.isArray(v)
      : type === "binary"
        ? Buffer.isBuffer(v)
        : type === "string|binary"
          ? typeof v === "string" || Buffer.isBuffer(v)
          : typeof v === type && v !== null;
  if (!ok) throw new Error("args." + key + " must be " + type);
  return v;
}

// Runs a callback-style encoder that must answer synchronously.
function sync(fn) {
  let result;
  let called = false;
  fn((r) => {
    result = r;
    called = true;
  });
  if (!called) throw new Error("the encoder did not call back synchronously");
  return result;
}

function isErrorPacket(p) {
  return p && p.type === "error";
}

function errorOf(p) {
  return new Error(String(p.data === undefined ? "parser error" : p.data));
}

function eioPacketFromArgs(p) {
  if (p === null || typeof p !== "object") throw new Error("args.packet must be an object");
  return p.data === undefined ? { type: p.type } : { type: p.type, data: p.data };
}

// ---------------------------------------------------------------------------
// Operations

function sioDecode(makeDecoder, args) {
  const frames = need(args, "frames", "array");
  const decoder = makeDecoder(args);
  const packets = [];
  decoder.on("decoded", (p) => packets.push(p));
  for (const frame of frames) decoder.add(frame);
  const pending = Boolean(decoder.reconstructor);
  const wire = packets.map(sioPacketToWire);
  return args.reportPending ? { packets: wire, pending } : wire;
}

// Decodes `frames` and encodes every decoded packet again (a relay).
function sioReencode(decoder, encode, args) {
  const frames = need(args, "frames", "array");
  const out = [];
  decoder.on("decoded", (p) => {
    for (const f of encode(p)) out.push(toWire(f));
  });
  for (const frame of frames) decoder.add(frame);
  return out;
}

const ops = {
  ping: () => "pong",

  // Engine.IO v4 (engine.io-parser 5.2.3)
  "eio4.encodePacket": (a) => {
    const packet = eioPacketFromArgs(a.packet);
    return toWire(sync((cb) => eio4.encodePacket(packet, Boolean(a.supportsBinary), cb)));
  },
  "eio4.decodePacket": (a) => {
    const p = eio4.decodePacket(need(a, "data", "string|binary"), a.binaryType);
    if (isErrorPacket(p)) throw errorOf(p);
    return eioPacketToWire(p);
  },
  "eio4.encodePayload": (a) => {
    const packets = need(a, "packets", "array").map(eioPacketFromArgs);
    if (packets.length === 0) return ""; // the JS encoder never calls back for []
    return toWire(sync((cb) => eio4.encodePayload(packets, cb)));
  },
  "eio4.decodePayload": (a) => {
    const packets = eio4.decodePayload(need(a, "data", "string"), a.binaryType);
    const bad = packets.find(isErrorPacket);
    if (bad) throw errorOf(bad);
    return packets.map(eioPacketToWire);
  },

  // A POST body as engine.io's polling transport decodes it (in one chunk): the bytes become
  // a string with Buffer#toString() ("utf8", invalid sequences replaced with U+FFFD).
  "eio4.decodeBody": (a) => {
    const packets = eio4.decodePayload(need(a, "data", "binary").toString(), a.binaryType);
    const bad = packets.find(isErrorPacket);
    if (bad) throw errorOf(bad);
    return packets.map(eioPacketToWire);
  },

  // Engine.IO v3 (engine.io 6.6.12 build/parser-v3, = engine.io-parser 2.2.x)
  "eio3.encodePacket": (a) => {
    const packet = eioPacketFromArgs(a.packet);
    return toWire(
      sync((cb) =>
        eio3.encodePacket(packet, Boolean(a.supportsBinary), Boolean(a.utf8encode), cb),
      ),
    );
  },
  "eio3.decodePacket": (a) => {
    const p = eio3.decodePacket(
      need(a, "data", "string|binary"),
      a.binaryType,
      Boolean(a.utf8decode),
    );
    if (isErrorPacket(p)) throw errorOf(p);
    return eioPacketToWire(p);
  },
  "eio3.encodePayload": (a) => {
    const packets = need(a, "packets", "array").map(eioPacketFromArgs);
    return toWire(sync((cb) => eio3.encodePayload(packets, Boolean(a.supportsBinary), cb)));
  },
  "eio3.encodePayloadAsBinary": (a) => {
    const packets = need(a, "packets", "array").map(eioPacketFromArgs);
    return toWire(sync((cb) => eio3.encodePayloadAsBinary(packets, cb)));
  },
  "eio3.decodePayload": (a) => {
    const packets = [];
    eio3.decodePayload(need(a, "data", "string|binary"), a.binaryType, (p) => {
      packets.push(p);
    });
    const bad = packets.find(isErrorPacket);
    if (bad) throw errorOf(bad);
    return packets.map(eioPacketToWire);
  },
  "eio3.decodeBody": (a) => {
    const packets = [];
    eio3.decodePayload(need(a, "data", "binary").toString(), a.binaryType, (p) => {
      packets.push(p);
    });
    const bad = packets.find(isErrorPacket);
    if (bad) throw errorOf(bad);
    return packets.map(eioPacketToWire);
  },
  "eio3.decodePayloadAsBinary": (a) => {
    const packets = [];
    eio3.decodePayloadAsBinary(need(a, "data", "binary"), a.binaryType, (p) => {
      packets.push(p);
    });
    const bad = packets.find(isErrorPacket);
    if (bad) throw errorOf(bad);
    return packets.map(eioPacketToWire);
  },

  // Socket.IO v5 (socket.io-parser 4.2.7)
  "sio.encode": (a) => {
    const encoder = new sioParser.Encoder();
    return toWire(encoder.encode(sioPacketFromArgs(a.packet)));
  },
  "sio.decode": (a) =>
    sioDecode(
      (args) =>
        new sioParser.Decoder(
          args.maxAttachments === undefined ? undefined : { maxAttachments: args.maxAttachments },
        ),
      a,
    ),
  "sio.isPacketValid": (a) => sioParser.isPacketValid(sioPacketFromArgs(a.packet)),
  "sio.reencode": (a) => {
    const encoder = new sioParser.Encoder();
    return sioReencode(new sioParser.Decoder(), (p) => encoder.encode(p), a);
  },

  // Socket.IO v5 with msgpack (socket.io-msgpack-parser 3.0.2, notepack.io 2.2.0)
  "sio_msgpack.encode": (a) => {
    const encoder = new sioMsgpack.Encoder();
    return toWire(encoder.encode(sioPacketFromArgs(a.packet, a.keys)));
  },
  "sio_msgpack.decode": (a) => {
    // notepack.io allocates an ArrayBuffer of the declared size for an ext of
    // type 0 and fills it byte by byte, even past the end of the input: a
    // 4 GiB declaration takes a minute before it fails with "trailing bytes".
    // Such an input always ends in an error, so fail at once instead.
    const limit = need(a, "frames", "array").reduce(
      (n, f) => Math.max(n, Buffer.isBuffer(f) ? f.length : 0),
      0,
    );
    const RealArrayBuffer = globalThis.ArrayBuffer;
    class GuardedArrayBuffer extends RealArrayBuffer {
      constructor(length) {
        if (length > limit) {
          throw new Error("ext length " + length + " runs past the end of the input");
        }
        super(length);
      }
    }
    globalThis.ArrayBuffer = GuardedArrayBuffer;
    try {
      return sioDecode(() => new sioMsgpack.Decoder(), a);
    } finally {
      globalThis.ArrayBuffer = RealArrayBuffer;
    }
  },

  // Socket.IO v4 (socket.io-parser 3.3.6, the parser of socket.io-client 2.5.0)
  "sio_v4.encode": (a) => {
    const encoder = new sioV4Parser.Encoder();
    return toWire(sync((cb) => encoder.encode(sioPacketFromArgs(a.packet), cb)));
  },
  "sio_v4.reencode": (a) => {
    const encoder = new sioV4Parser.Encoder();
    return sioReencode(new sioV4Parser.Decoder(), (p) => sync((cb) => encoder.encode(p, cb)), a);
  },
  "sio_v4.decode": (a) =>
    sioDecode(
      (args) =>
        new sioV4Parser.Decoder(
          args.maxAttachments === undefined ? undefined : { maxAttachments: args.maxAttachments },
        ),
      a,
    ),
};

// ---------------------------------------------------------------------------
// Main loop

function answer(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

function handle(line) {
  let id = null;
  try {
    const request = parseRequest(line);
    if (request === null || typeof request !== "object") throw new Error("request must be an object");
    id = request.id === undefined ? null : request.id;
    const op = ops[request.op];
    if (typeof op !== "function" || !Object.prototype.hasOwnProperty.call(ops, request.op)) {
      throw new Error("unknown op " + JSON.stringify(request.op));
    }
    const args = request.args === undefined || request.args === null ? {} : request.args;
    if (typeof args !== "object") throw new Error("args must be an object");
    answer({ id, ok: op(args) });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    answer({ id, error: message === "" ? "error without a message" : message });
  }
}

// The reader went away (the test binary ended): nothing left to do.
process.stdout.on("error", () => process.exit(0));

process.on("uncaughtException", (e) => {
  process.stderr.write("parsers.js: uncaught exception: " + (e && e.stack) + "\n");
});

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on("line", (line) => {
  if (line.trim() !== "") handle(line);
});
rl.on("close", () => process.exit(0));
