// Runs engine.io-client 3.5.6 (the engine of socket.io-client 2.x, Engine.IO v3) against our
// Rust Engine.IO echo server (allowEIO3) on 127.0.0.1:<port>: polling (XHR2 binary payloads),
// polling with forceBase64 (b64=1), WebSocket only, polling then upgrade. Prints one JSON line.
"use strict";
const path = require("path");
const Socket = require(path.join(
  __dirname,
  "..",
  "node_modules",
  "socket.io-client-v2",
  "node_modules",
  "engine.io-client",
));

const port = process.argv[2];

function toArray(m) {
  if (Buffer.isBuffer(m)) return Array.from(m);
  if (m instanceof ArrayBuffer) return Array.from(new Uint8Array(m));
  if (ArrayBuffer.isView(m)) return Array.from(new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
  return null;
}

function scenario(name, opts, sendOnUpgrade) {
  return new Promise((resolve) => {
    const socket = new Socket(`http://127.0.0.1:${port}`, opts);
    const result = { name, got: [], upgraded: false, transport: null, closeReason: null };
    const timer = setTimeout(() => {
      result.error = "timeout";
      socket.close();
      resolve(result);
    }, 8000);
    const sendAll = () => {
      socket.send("hello");
      socket.send(Buffer.from([1, 2, 3]));
      socket.send("é ☃ 😀");
    };
    socket.on("open", () => {
      result.sid = socket.id;
      if (!sendOnUpgrade) sendAll();
    });
    socket.on("upgrade", () => {
      result.upgraded = true;
      if (sendOnUpgrade) sendAll();
    });
    socket.on("message", (m) => {
      result.got.push(typeof m === "string" ? m : { bin: toArray(m) });
      if (result.got.length === 3) {
        result.transport = socket.transport.name;
        // One heartbeat round (the client pings in v3) before closing.
        socket.once("pong", () => socket.close());
        socket.ping();
      }
    });
    socket.on("error", (e) => { result.error = String(e); });
    socket.on("close", (reason) => {
      clearTimeout(timer);
      result.closeReason = reason;
      resolve(result);
    });
  });
}

(async () => {
  const results = [];
  results.push(await scenario("polling", { transports: ["polling"] }, false));
  results.push(await scenario("polling-b64", { transports: ["polling"], forceBase64: true }, false));
  results.push(await scenario("websocket", { transports: ["websocket"] }, false));
  results.push(await scenario("upgrade", { transports: ["polling", "websocket"] }, true));
  process.stdout.write(JSON.stringify(results) + "\n");
})();
