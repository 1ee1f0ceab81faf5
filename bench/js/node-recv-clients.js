// Events per second one socket.io-client 4.8 process can receive: the Node counterpart of
// bench/src/bin/client_recv.rs (same protocol: M WebSocket clients keep asking the server for
// `flood` (n `b` events, then an ack) and count the `b` events).
// Usage: node bench/js/node-recv-clients.js URL [M=10] [SECONDS=5] [BATCH=200] [WARMUP_SECONDS=2]
"use strict";
const path = require("path");
const { io } = require(path.join(__dirname, "../../tests/node_modules/socket.io-client"));

const [url, mArg, secsArg, batchArg, warmupArg] = process.argv.slice(2);
const m = Number(mArg || 10);
const secs = Number(secsArg || 5);
const batch = Number(batchArg || 200);
const warmup = Number(warmupArg || 2);
const data = "x".repeat(40);
let received = 0;
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
for (let i = 0; i < m; i++) {
  const s = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  s.on("b", () => {
    received++;
  });
  const loop = () => s.emit("flood", batch, data, loop);
  s.on("connect", loop);
}
setTimeout(() => {
  const n0 = received;
  const c0 = cpu();
  setTimeout(() => {
    const events = received - n0;
    const c = cpu() - c0;
    console.log(
      JSON.stringify({
        scenario: "client_recv",
        client: "socket.io-client",
        clients: m,
        events,
        events_per_s: Math.round(events / secs),
        cpu_s: Math.round(c * 100) / 100,
        events_per_cpu_s: c > 0 ? Math.round(events / c) : 0,
      }),
    );
    process.exit(0);
  }, secs * 1000);
}, warmup * 1000);
