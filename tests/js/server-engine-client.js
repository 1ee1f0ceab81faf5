// Runs engine.io-client 6.6.8 against our Rust Engine.IO echo server on 127.0.0.1:<port>:
// polling only, WebSocket only, polling then upgrade. Prints one JSON line per scenario.
"use strict";
const { Socket } = require("engine.io-client");

const port = process.argv[2];

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
      result.got.push(typeof m === "string" ? m : { bin: Array.from(Buffer.from(m)) });
      if (result.got.length === 3) {
        result.transport = socket.transport.name;
        socket.close();
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
  results.push(await scenario("websocket", { transports: ["websocket"] }, false));
  results.push(await scenario("upgrade", { transports: ["polling", "websocket"] }, true));
  process.stdout.write(JSON.stringify(results) + "\n");
})();
