// Writes the test vectors of the msgpack parser,
//   sio-protocol/tests/vectors/msgpack/{valid,invalid}.json,
// with the real socket.io-msgpack-parser 3.0.2 (notepack.io 2.2.0) of tests/node_modules.
//
//   node tests/js/gen-msgpack-vectors.js      (from the workspace root, after `npm ci` in tests/)
//
// valid.json: {name, hex, packet, encode}. `hex` is what the JavaScript encoder writes for the
// packet object given here (or hand-made bytes, for what it never writes), `packet` is what the
// JavaScript decoder makes of it, in the JSON form of tests/js/parsers.js ({"$bin": base64}) with
// the Rust mapping applied (undefined, NaN and Infinity -> null, a Date -> its milliseconds, an
// ArrayBuffer -> bytes). `encode: true` when the Rust encoder must write exactly these bytes (the
// key order it uses, see sio-protocol/src/socket/msgpack.rs).
//
// invalid.json: {name, hex, error, js}. `error` is the Rust DecodeError, `js` the JavaScript
// decoder's error message, or null when JavaScript accepts what Rust rejects on purpose.
"use strict";

const fs = require("fs");
const path = require("path");

const nodeModules = path.join(__dirname, "..", "node_modules");
const parser = require(path.join(nodeModules, "socket.io-msgpack-parser"));
const notepack = require(path.join(nodeModules, "notepack.io"));
const outDir = path.join(__dirname, "..", "..", "sio-protocol", "tests", "vectors", "msgpack");

const enc = (obj) => new parser.Encoder().encode(obj)[0];

function jsDecode(buf) {
  const decoder = new parser.Decoder();
  let out;
  decoder.on("decoded", (p) => (out = p));
  // notepack.io allocates an ArrayBuffer of the declared ext size before it reads the bytes.
  const Real = globalThis.ArrayBuffer;
  globalThis.ArrayBuffer = class extends Real {
    constructor(n) {
      if (n > buf.length) throw new Error("ext length runs past the end of the input");
      super(n);
    }
  };
  try {
    decoder.add(buf);
  } finally {
    globalThis.ArrayBuffer = Real;
  }
  return out;
}

// The Rust mapping of a decoded JavaScript value.
function toRust(v) {
  if (v === undefined || v === null) return null;
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "boolean" || typeof v === "string") return v;
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    return { $bin: Buffer.from(v instanceof ArrayBuffer ? v : v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)).toString("base64") };
  }
  if (v instanceof Date) {
    const t = v.getTime();
    return Number.isFinite(t) ? t : null;
  }
  if (Array.isArray(v)) return Array.from(v, toRust);
  const out = {};
  for (const k of Object.keys(v)) out[k] = toRust(v[k]);
  return out;
}

function packetToRust(p) {
  const out = { type: p.type, nsp: p.nsp };
  if (p.id !== undefined) out.id = p.id;
  if (p.data !== undefined) out.data = toRust(p.data);
  return out;
}

// Hex bytes, with 'quoted' tokens as UTF-8 text: "a4 'type' 02".
const hex = (s) =>
  Buffer.concat(
    s.trim().split(/\s+/).map((t) => (t.startsWith("'") ? Buffer.from(t.slice(1, -1)) : Buffer.from(t, "hex"))),
  );
const b = (...bytes) => Buffer.from(bytes);
const range = (n) => Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff));

const valid = [];
function ok(name, bytes, encode) {
  const p = jsDecode(bytes);
  valid.push({ name, hex: bytes.toString("hex"), packet: packetToRust(p), encode });
}
// Packets built in the key order of the Rust encoder (and of the JS peers named).
const mine = (name, obj) => ok(name, enc(obj), true);
// Other key orders, other encodings: decode only.
const other = (name, bytes) => ok(name, bytes, false);

// CONNECT: {type, data, nsp} (socket.io Socket._onconnect, socket.io-client _sendConnectPacket)
mine("connect without auth (client)", { type: 0, data: undefined, nsp: "/" });
mine("connect with auth", { type: 0, data: { token: "abc" }, nsp: "/admin" });
mine("connect reply", { type: 0, data: { sid: "oSO0OpakMV_3jnilAAAA" }, nsp: "/" });
other("connect reply with pid undefined (socket.io 4.8)", enc({ type: 0, data: { sid: "x", pid: undefined }, nsp: "/" }));
other("connect in harness order", enc({ type: 0, nsp: "/", data: { a: 1 } }));
other("connect without data key (socket.io protocol 3 peers)", enc({ type: 0, nsp: "/" }));
// DISCONNECT: {type, nsp}
mine("disconnect", { type: 1, nsp: "/" });
mine("disconnect admin", { type: 1, nsp: "/admin" });
other("disconnect nsp first", enc({ nsp: "/", type: 1 }));
// EVENT: {type, data, id?, nsp}
mine("event", { type: 2, data: ["hello"], nsp: "/" });
mine("event args", { type: 2, data: ["msg", "hi", { n: 1, ok: true, no: false, z: null }], nsp: "/chat" });
mine("event with ack id", { type: 2, data: ["foo"], id: 12, nsp: "/admin" });
mine("event with ack id 0", { type: 2, data: ["foo"], id: 0, nsp: "/" });
mine("event with ack id 2^32", { type: 2, data: ["foo"], id: 2 ** 32, nsp: "/" });
mine("event with ack id 2^53-1", { type: 2, data: ["foo"], id: 2 ** 53 - 1, nsp: "/" });
mine("event numeric name", { type: 2, data: [1, "x"], nsp: "/" });
mine("event float name", { type: 2, data: [2.5], nsp: "/" });
mine("event binary", { type: 2, data: ["file", Buffer.from([1, 2, 3])], nsp: "/" });
mine("event nested binary", { type: 2, data: ["up", { name: "a", parts: [Buffer.alloc(0), range(300)] }], nsp: "/" });
mine("event binary 255", { type: 2, data: ["b", range(255)], nsp: "/" });
mine("event binary 256", { type: 2, data: ["b", range(256)], nsp: "/" });
const ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 63,
  -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53 - 1), -(2 ** 63)];
mine("event integers", { type: 2, data: ["n", ...ints], nsp: "/" });
mine("event floats", { type: 2, data: ["f", 1.5, -0.5, 0.1, 5e-324, -1e-7, 123456.789, -(2 ** 40) - 0.5], nsp: "/" });
// notepack.io writes integral floats of 2^64 and more with a wrapped high word (the Rust encoder
// writes float 64 instead): decode only.
other("2^64 and beyond as notepack.io writes them", enc({ type: 2, data: ["f", 2 ** 64, -(2 ** 70), 2 ** 65 + 2 ** 40, 1e21, 1e300, -1e300], nsp: "/" }));
mine("event integral floats and -0", { type: 2, data: ["f", 2.0, -0, 1e15], nsp: "/" });
const s = (n) => "x".repeat(n);
mine("event string 300", { type: 2, data: ["s", s(300)], nsp: "/" });
mine("event strings", { type: 2, data: ["s", "", s(31), s(32), s(255), s(256), "é", "日本語", "😀", "a\u0000b", "\u2028"], nsp: "/" });
const arr = (n) => Array.from({ length: n }, (_, i) => i);
const obj = (n) => Object.fromEntries(arr(n).map((i) => ["k" + i, i]));
mine("event containers", { type: 2, data: ["c", [], {}, arr(15), arr(16), obj(15), obj(16), [[[["deep"]]]]], nsp: "/" });
mine("event unicode nsp", { type: 2, data: ["x"], nsp: "/ünï" });
mine("event empty nsp", { type: 2, data: ["x"], nsp: "" });
other("event from socket.io-client (options key)", enc({ type: 2, data: ["x", 1], options: { compress: true }, id: 3, nsp: "/" }));
other("event broadcast with ack (type, data, nsp, id)", enc({ type: 2, data: ["x"], nsp: "/", id: 7 }));
other("event in harness order", enc({ type: 2, nsp: "/a", data: ["x"], id: 1 }));
other("event undefined item", enc({ type: 2, data: ["x", undefined, { u: undefined }], nsp: "/" }));
other("event Date", enc({ type: 2, data: ["d", new Date(1700000000123), new Date(-1)], nsp: "/" }));
other("event ArrayBuffer and Uint8Array", enc({ type: 2, data: ["ab", new Uint8Array([9, 8, 7]).buffer, new Uint8Array([1, 2])], nsp: "/" }));
other("event NaN and Infinity", enc({ type: 2, data: ["n", NaN, Infinity, -Infinity], nsp: "/" }));
// Hand-made: what notepack.io never writes.
other("event float32, non-minimal ints", hex("83 a4 'type' cd0002 a4 'data' 95 a1 'x' ca3fc00000 cc01 d0ff d300000000000000ff a3 'nsp' a1 '/'"));
other("type as float64 2.0", hex("83 a4 'type' cb4000000000000000 a4 'data' 91 a1 'x' a3 'nsp' a1 '/'"));
other("id as float64 3.0", hex("84 a4 'type' 02 a4 'data' 91 a1 'x' a2 'id' cb4008000000000000 a3 'nsp' a1 '/'"));
other("str8 for a short string", hex("83 a4 'type' 02 a4 'data' 91 d901 'x' a3 'nsp' d9012f"));
other("invalid UTF-8 replaced", hex("83 a4 'type' 02 a4 'data' 92 a1 'x' a4ff61eda0 a3 'nsp' a1 '/'"));
other("unknown ext types", hex("83 a4 'type' 02 a4 'data' 94 a1 'x' d40507 c70305010203 d7ff0000000000000001 a3 'nsp' a1 '/'"));
other("fixext 2/4/16 of type 0", hex("83 a4 'type' 02 a4 'data' 94 a1 'x' d5000102 d60001020304 d800" + "00".repeat(16) + " a3 'nsp' a1 '/'"));
other("date out of range", hex("83 a4 'type' 02 a4 'data' 92 a1 'x' d7007fffffffffffffff a3 'nsp' a1 '/'"));
other("uint64 above 2^53", hex("83 a4 'type' 02 a4 'data' 92 a1 'x' cfffffffffffffffff a3 'nsp' a1 '/'"));
other("duplicate keys", hex("84 a4 'type' 01 a4 'data' 91 a1 'x' a3 'nsp' a1 '/' a4 'type' 02"));
other("unknown keys ignored", hex("84 a4 'type' 01 a5 'extra' 92c0c3 a3 'nsp' a1 '/' a1 'z' 80"));
other("map16 and array16 headers", hex("de0003 a4 'type' 02 a4 'data' dc0001 a1 'x' a3 'nsp' a1 '/'"));
other("type undefined then set", hex("84 a4 'type' d40000 a4 'type' 01 a3 'nsp' a1 '/' a4 'data' d40000"));
// ACK: {id, type, data, nsp} (socket.io Socket.ack)
mine("ack", { id: 12, type: 3, data: [], nsp: "/" });
mine("ack args", { id: 1, type: 3, data: ["ok", { n: 2 }, null], nsp: "/admin" });
mine("ack binary", { id: 2 ** 40, type: 3, data: [Buffer.from("bin")], nsp: "/" });
other("ack from socket.io-client (type, id, data, nsp)", enc({ type: 3, id: 5, data: ["r"], nsp: "/" }));
// CONNECT_ERROR: {type, data, nsp} (socket.io Socket._error)
mine("connect_error object", { type: 4, data: { message: "Not authorized" }, nsp: "/" });
mine("connect_error with data", { type: 4, data: { message: "m", data: { code: 42 } }, nsp: "/x" });
mine("connect_error string", { type: 4, data: "error", nsp: "/" });
other("connect_error data undefined (socket.io 4.8 middleware error)", enc({ type: 4, data: { message: "m", data: undefined }, nsp: "/" }));
other("connect_error invalid namespace (type, nsp, data)", enc({ type: 4, nsp: "/random", data: { message: "Invalid namespace" } }));

const invalid = [];
function bad(name, bytes, error) {
  let js = null;
  try {
    jsDecode(bytes);
  } catch (e) {
    js = e.message || String(e);
  }
  invalid.push({ name, hex: bytes.toString("hex"), error, js });
}
const body = (s) => hex(s);

bad("empty", b(), "InvalidPayload");
bad("reserved byte c1", b(0xc1), "UnknownPacketType");
bad("reserved byte in data", body("83 a4 'type' 02 a4 'data' 92 a1 'x' c1 a3 'nsp' a1 '/'"), "InvalidPayload");
bad("truncated", enc({ type: 2, data: ["hello"], nsp: "/" }).subarray(0, 12), "InvalidPayload");
bad("truncated string", body("83 a4 'type' 02 a4 'data' 91 a5 'ab'"), "InvalidPayload");
bad("trailing byte", Buffer.concat([enc({ type: 1, nsp: "/" }), b(0)]), "InvalidPayload");
bad("nil", b(0xc0), "UnknownPacketType");
bad("array", enc([2, "/", ["x"]]), "UnknownPacketType");
bad("string", enc("2[\"x\"]"), "UnknownPacketType");
bad("type missing", enc({ nsp: "/", data: ["x"] }), "UnknownPacketType");
bad("type undefined", enc({ type: undefined, nsp: "/" }), "UnknownPacketType");
bad("type 5", enc({ type: 5, data: ["x", Buffer.from([1])], nsp: "/" }), "UnknownPacketType");
bad("type 6", enc({ type: 6, data: [Buffer.from([1])], id: 1, nsp: "/" }), "UnknownPacketType");
bad("type -1", enc({ type: -1, nsp: "/" }), "UnknownPacketType");
bad("type 1.5", enc({ type: 1.5, nsp: "/" }), "UnknownPacketType");
bad("type string", enc({ type: "2", data: ["x"], nsp: "/" }), "UnknownPacketType");
bad("type null", enc({ type: null, nsp: "/" }), "UnknownPacketType");
bad("nsp missing", enc({ type: 1 }), "InvalidNamespace");
bad("nsp number", enc({ type: 1, nsp: 1 }), "InvalidNamespace");
bad("nsp null", enc({ type: 1, nsp: null }), "InvalidNamespace");
bad("nsp undefined", enc({ type: 1, nsp: undefined }), "InvalidNamespace");
bad("nsp binary", enc({ type: 1, nsp: Buffer.from("/") }), "InvalidNamespace");
bad("connect data array", enc({ type: 0, data: [1], nsp: "/" }), "InvalidPayload");
bad("connect data null", enc({ type: 0, data: null, nsp: "/" }), "InvalidPayload");
bad("connect data string", enc({ type: 0, data: "a", nsp: "/" }), "InvalidPayload");
bad("connect data binary", enc({ type: 0, data: Buffer.from("a"), nsp: "/" }), "InvalidPayload");
bad("connect data Date", enc({ type: 0, data: new Date(0), nsp: "/" }), "InvalidPayload");
bad("disconnect data object", enc({ type: 1, data: {}, nsp: "/" }), "InvalidPayload");
bad("disconnect data null", enc({ type: 1, data: null, nsp: "/" }), "InvalidPayload");
bad("event data object", enc({ type: 2, data: { 0: "x" }, nsp: "/" }), "InvalidPayload");
bad("event data missing", enc({ type: 2, nsp: "/" }), "InvalidPayload");
bad("event data string", enc({ type: 2, data: "x", nsp: "/" }), "InvalidPayload");
bad("ack data missing", enc({ type: 3, id: 1, nsp: "/" }), "InvalidPayload");
bad("ack data object", enc({ type: 3, id: 1, data: {}, nsp: "/" }), "InvalidPayload");
bad("connect_error data missing", enc({ type: 4, nsp: "/" }), "InvalidPayload");
bad("connect_error data array", enc({ type: 4, data: ["m"], nsp: "/" }), "InvalidPayload");
bad("connect_error data number", enc({ type: 4, data: 1, nsp: "/" }), "InvalidPayload");
bad("connect_error data null", enc({ type: 4, data: null, nsp: "/" }), "InvalidPayload");
bad("id string", enc({ type: 2, data: ["x"], id: "1", nsp: "/" }), "InvalidAckId");
bad("id 1.5", enc({ type: 2, data: ["x"], id: 1.5, nsp: "/" }), "InvalidAckId");
bad("id null", enc({ type: 2, data: ["x"], id: null, nsp: "/" }), "InvalidAckId");
bad("id NaN", enc({ type: 3, data: [], id: NaN, nsp: "/" }), "InvalidAckId");
bad("id Infinity", enc({ type: 3, data: [], id: Infinity, nsp: "/" }), "InvalidAckId");
// Accepted by JavaScript, rejected here on purpose (js: null).
bad("event empty array", enc({ type: 2, data: [], nsp: "/" }), "InvalidPayload");
bad("event name null", enc({ type: 2, data: [null, 1], nsp: "/" }), "InvalidPayload");
bad("event name object", enc({ type: 2, data: [{}, 1], nsp: "/" }), "InvalidPayload");
bad("event name binary", enc({ type: 2, data: [Buffer.from("x")], nsp: "/" }), "InvalidPayload");
bad("event name NaN", enc({ type: 2, data: [NaN], nsp: "/" }), "InvalidPayload");
bad("event reserved name connect", enc({ type: 2, data: ["connect"], nsp: "/" }), "InvalidPayload");
bad("event reserved name disconnecting", enc({ type: 2, data: ["disconnecting", 1], nsp: "/" }), "InvalidPayload");
bad("ack without id", enc({ type: 3, data: [], nsp: "/" }), "InvalidAckId");
bad("id -1", enc({ type: 2, data: ["x"], id: -1, nsp: "/" }), "InvalidAckId");
bad("id 2^53", enc({ type: 3, data: [], id: 2 ** 53, nsp: "/" }), "InvalidAckId");
bad("id negative on connect", enc({ type: 0, id: -1, nsp: "/" }), "InvalidAckId");
bad("non-string key in data", body("83 a4 'type' 02 a4 'data' 92 a1 'x' 81 01 02 a3 'nsp' a1 '/'"), "InvalidPayload");
bad("non-string key at top level", body("83 a4 'type' 01 a3 'nsp' a1 '/' 01 02"), "InvalidPayload");
bad("nesting deeper than 128", Buffer.concat([body("83 a4 'type' 02 a3 'nsp' a1 '/' a4 'data' 92 a1 'x'"), Buffer.alloc(127, 0x91), b(0xc0)]), "InvalidPayload");
// Lengths declared past the end of the input.
bad("map32 of 2^32-1 entries", body("df ffffffff a4 'type' 01"), "InvalidPayload");
bad("array32 of 2^32-1 items", body("83 a4 'type' 02 a3 'nsp' a1 '/' a4 'data' dd ffffffff a1 'x'"), "InvalidPayload");
bad("str32 of 2^32-1 bytes", body("83 a4 'type' 01 a3 'nsp' db ffffffff 2f"), "InvalidPayload");
bad("bin32 of 2^32-1 bytes", body("83 a4 'type' 02 a3 'nsp' a1 '/' a4 'data' 92 a1 'x' c6 ffffffff 00"), "InvalidPayload");
bad("ext32 type 0 of 2^32-1 bytes", body("83 a4 'type' 02 a3 'nsp' a1 '/' a4 'data' 92 a1 'x' c9 ffffffff 00 00"), "InvalidPayload");
bad("ext8 type 5 past the end", body("83 a4 'type' 02 a3 'nsp' a1 '/' a4 'data' 92 a1 'x' c7 10 05 00"), "InvalidPayload");

// The Rust check: every invalid case where `js` is non-null must be one the JS decoder rejects.
const header = (what) =>
  "Generated by `node tests/js/gen-msgpack-vectors.js` with socket.io-msgpack-parser 3.0.2 / " +
  "notepack.io 2.2.0 (tests/node_modules); do not edit by hand. " + what;
fs.mkdirSync(outDir, { recursive: true });
// One case per line.
const write = (file, comment, cases) =>
  fs.writeFileSync(
    path.join(outDir, file),
    '{"_comment": ' + JSON.stringify(comment) + ',\n"cases": [\n' +
      cases.map((c) => JSON.stringify(c)).join(",\n") + "\n]}\n",
  );
write(
  "valid.json",
  header(
    "hex: the bytes; packet: what the JavaScript decoder makes of them, with binary as {\"$bin\": base64} " +
      "and undefined/NaN/Infinity as null, a Date as its milliseconds; encode: the Rust encoder writes exactly these bytes.",
  ),
  valid,
);
write(
  "invalid.json",
  header(
    "error: the Rust DecodeError; js: the JavaScript decoder's error, or null where it accepts what the Rust decoder rejects on purpose.",
  ),
  invalid,
);
console.log(`${valid.length} valid, ${invalid.length} invalid (${invalid.filter((c) => c.js === null).length} accepted by JS)`);
