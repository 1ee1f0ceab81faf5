// permessage-deflate on our server, with Node's `ws` (the WebSocket of engine.io-client) and
// socket.io-client 4.8.4. Usage: node server-ws-deflate.js <port with deflate> <port without>.
// Our servers answer `echo` with an ack carrying the same arguments. Prints a JSON array of
// results: for each scenario what the handshake negotiated, whether the data came back intact,
// and how many bytes crossed the socket each way.
"use strict";
const path = require("path");
const modules = path.join(__dirname, "..", "node_modules");
const WebSocket = require(path.join(modules, "ws"));
const { io } = require(path.join(modules, "socket.io-client"));

const [deflatePort, plainPort] = process.argv.slice(2);
const big = "socket.io ".repeat(20000); // 200 KB, very compressible
const small = "x".repeat(100); // under the 1024-byte threshold

function raw(port, options) {
  return new Promise((resolve, reject) => {
    const result = { extensions: null };
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, options);
    const timer = setTimeout(() => reject(new Error("timeout")), 10000);
    ws.on("upgrade", (res) => {
      result.extensions = res.headers["sec-websocket-extensions"] || null;
    });
    let step = 0;
    let before;
    ws.on("message", (data, isBinary) => {
      const text = data.toString();
      if (step === 0 && text.startsWith("0")) {
        ws.send("40");
        step = 1;
      } else if (step === 1 && text.startsWith("40")) {
        before = { read: ws._socket.bytesRead, written: ws._socket.bytesWritten };
        ws.send(`420["echo","${big}","${small}"]`);
        step = 2;
      } else if (step === 2 && text.startsWith("430")) {
        const args = JSON.parse(text.slice(3));
        result.intact = args.length === 2 && args[0] === big && args[1] === small;
        result.bytesRead = ws._socket.bytesRead - before.read;
        result.bytesWritten = ws._socket.bytesWritten - before.written;
        clearTimeout(timer);
        ws.close();
        resolve(result);
      }
    });
    ws.on("error", reject);
  });
}

function client(port) {
  return new Promise((resolve, reject) => {
    const socket = io(`http://127.0.0.1:${port}`, { transports: ["websocket"], forceNew: true });
    const timer = setTimeout(() => reject(new Error("timeout")), 10000);
    socket.on("connect", async () => {
      const results = [];
      for (const payload of [big, small, Buffer.from(big)]) {
        const back = await socket.emitWithAck("echo", payload);
        results.push(Buffer.isBuffer(payload) ? Buffer.compare(back, payload) === 0 : back === payload);
      }
      clearTimeout(timer);
      socket.close();
      resolve({ intact: results.every(Boolean), count: results.length });
    });
    socket.on("connect_error", reject);
  });
}

(async () => {
  const out = [];
  const run = async (name, fn) => {
    try {
      out.push({ name, ...(await fn()) });
    } catch (e) {
      out.push({ name, error: String(e && e.message ? e.message : e) });
    }
  };
  // ws's default offer: "permessage-deflate; client_max_window_bits".
  await run("ws deflate", () => raw(deflatePort, { perMessageDeflate: true }));
  await run("ws deflate, client asks no context takeover", () =>
    raw(deflatePort, { perMessageDeflate: { clientNoContextTakeover: true } }),
  );
  await run("ws without deflate offer", () => raw(deflatePort, { perMessageDeflate: false }));
  await run("ws deflate offer, server off", () => raw(plainPort, { perMessageDeflate: true }));
  await run("socket.io-client deflate", () => client(deflatePort));
  console.log(JSON.stringify(out));
})();
