// N idle socket.io-client 4.8 connections (WebSocket only) in one Node process, for the client
// memory comparison with sio-client's examples/idle_clients.rs.
// Usage: node bench/js/node-idle-clients.js URL N [SETTLE_SECONDS]
"use strict";
const path = require("path");
const { io } = require(path.join(__dirname, "../../tests/node_modules/socket.io-client"));

const [url, nArg, settleArg] = process.argv.slice(2);
const n = Number(nArg);
const settle = Number(settleArg || 5);
const rss = () => Math.round(process.memoryUsage().rss / 1024);

const before = rss();
const start = Date.now();
let connected = 0;
const sockets = [];
for (let i = 0; i < n; i++) {
  const s = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  s.on("connect", () => {
    connected++;
  });
  sockets.push(s);
}
const wait = setInterval(() => {
  if (connected < n && Date.now() - start < 120000) return;
  clearInterval(wait);
  const connectMs = Date.now() - start;
  setTimeout(() => {
    if (global.gc) global.gc();
    const after = rss();
    console.log(`clients: ${n} (${connected} connected), connect time: ${connectMs} ms`);
    console.log(`rss before: ${before} KiB, after: ${after} KiB`);
    console.log(`rss per idle connection: ${((after - before) / n).toFixed(1)} KiB`);
    process.exit(0);
  }, settle * 1000);
}, 50);
