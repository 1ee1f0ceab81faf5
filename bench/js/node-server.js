// The Node socket.io 4.8 server under test, set up as the socket.io docs recommend for
// production: default `ws` engine (with bufferutil when it loads), the first HTTP request
// dropped after the handshake, compression off. Same handlers as bench/src/bin/bench_server.rs:
// `echo` (acknowledged with its arguments), `join` (room), `broadcast` (room, data: emits `b`
// to the room), `flood` (n, data: emits `b` n times to the sender); each acknowledged.
//
// Usage: NODE_ENV=production node bench/js/node-server.js [port] [--redis URL]   (prints "PORT <n>")
//
// With `--redis URL` the server is one node of a cluster on that Redis:
// @socket.io/redis-adapter 8.3's createAdapter(pub, sub) with the `redis` client (key
// "socket.io"), as `bench_server --redis URL` uses sio-redis's classic adapter.
"use strict";
const path = require("path");
const modules = path.join(__dirname, "../../tests/node_modules");
const { Server } = require(path.join(modules, "socket.io"));
const version = require(path.join(modules, "socket.io/package.json")).version;

let bufferutil = false;
try {
  require(path.join(modules, "bufferutil"));
  bufferutil = true;
} catch (_) {}

const httpServer = require("http").createServer();
const io = new Server(httpServer, {
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
});
io.engine.on("connection", (raw) => {
  raw.request = null;
});
io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack();
  });
  socket.on("broadcast", (room, data, ack) => {
    io.to(room).emit("b", data);
    if (typeof ack === "function") ack();
  });
  socket.on("flood", (n, data, ack) => {
    for (let i = 0; i < n; i++) socket.emit("b", data);
    if (typeof ack === "function") ack();
  });
});
const argv = process.argv.slice(2);
const redisAt = argv.indexOf("--redis");
const port = Number(argv[0] && !argv[0].startsWith("--") ? argv[0] : 0);
async function start() {
  if (redisAt >= 0) {
    const { createClient } = require(path.join(modules, "redis"));
    const { createAdapter } = require(path.join(modules, "@socket.io/redis-adapter"));
    const pub = createClient({ url: argv[redisAt + 1] });
    const sub = pub.duplicate();
    for (const client of [pub, sub]) client.on("error", (e) => console.error(`redis: ${e.message}`));
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }
  httpServer.listen(port, "127.0.0.1", () => {
    console.log(`PORT ${httpServer.address().port}`);
  });
}
start().catch((e) => {
  console.error(e);
  process.exit(1);
});
console.error(`socket.io ${version}, node ${process.version}, bufferutil ${bufferutil}`);
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
