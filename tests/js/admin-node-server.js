// The reference: a Node.js socket.io 4.8 server instrumented with @socket.io/admin-ui 0.5.1's
// instrument(), serving the UI's page (ui/dist) at /admin/, with the same app on "/" as the
// Rust example (sio-admin/examples/admin.rs): a client joins the room of its `room` query
// parameter; "join" (room) joins another, acknowledged; "rooms" answers the socket's rooms.
//
//   node tests/js/admin-node-server.js '<config JSON>'
//
// config: {"auth": false | {"username", "password" (bcrypt hash)}, "readonly": bool,
//          "mode": "development" | "production", "serverId": string,
//          "redis": "redis://..." (optional: @socket.io/redis-adapter 8.3's createAdapter)}
// Prints {"event":"listening","port":<port>} once listening on 127.0.0.1. An admin socket's
// "probe" (acknowledged) tells that its earlier events were handled.
"use strict";

const fs = require("fs");
const http = require("http");
const path = require("path");
const { Server } = require("socket.io");
const { instrument } = require("@socket.io/admin-ui");

const config = JSON.parse(process.argv[2] || "{}");
const dist = path.join(__dirname, "..", "node_modules", "@socket.io", "admin-ui", "ui", "dist");
const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml", ".map": "application/json" };

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname === "/admin") {
    res.writeHead(301, { location: "/admin/" });
    return res.end();
  }
  if (!url.pathname.startsWith("/admin/")) {
    res.writeHead(404);
    return res.end();
  }
  const rel = url.pathname.slice("/admin/".length) || "index.html";
  const file = path.join(dist, path.normalize(rel));
  if (!file.startsWith(dist) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    res.writeHead(404);
    return res.end();
  }
  res.writeHead(200, { "content-type": types[path.extname(file)] || "application/octet-stream" });
  fs.createReadStream(file).pipe(res);
});

const io = new Server(server);
io.on("connection", (socket) => {
  if (socket.handshake.query.room) socket.join(socket.handshake.query.room);
  socket.on("join", (room, ack) => {
    socket.join(room);
    if (typeof ack === "function") ack(room);
  });
  socket.on("rooms", (ack) => ack([...socket.rooms]));
});
// A barrier for the tests: an admin socket's "probe" is answered after its earlier events.
io.of("/admin").on("connection", (socket) => socket.on("probe", (ack) => ack("probed")));
async function start() {
  if (config.redis) {
    const { createClient } = require("redis");
    const { createAdapter } = require("@socket.io/redis-adapter");
    const pub = createClient({ url: config.redis });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    io.adapter(createAdapter(pub, sub));
  }
  instrument(io, {
    auth: config.auth === undefined ? false : config.auth,
    readonly: !!config.readonly,
    mode: config.mode || "development",
    serverId: config.serverId,
  });
  server.listen(0, "127.0.0.1", () => {
    process.stdout.write(JSON.stringify({ event: "listening", port: server.address().port }) + "\n");
  });
}
start().catch((e) => {
  console.error(e);
  process.exit(1);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
