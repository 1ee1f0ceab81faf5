// A real socket.io 4.8.4 server for the sio-client interop tests (tests/tests/client_*.rs).
//
// Usage: node client-server.js [port] [--tls <dir>] [--msgpack]   (port 0 or absent: any
// free port; with --tls, HTTPS with <dir>/key.pem and <dir>/cert.pem; with --msgpack, the
// socket.io-msgpack-parser)
// Prints "PORT <n>" once listening. Exits when stdin closes, so it never outlives the test.
"use strict";

const { Server } = require("socket.io");

const port = Number(process.argv[2] || 0);
const msgpack = process.argv.includes("--msgpack");
const io = new Server({
  ...(msgpack ? { parser: require("socket.io-msgpack-parser") } : {}),
  pingInterval: 2000,
  pingTimeout: 2000,
  // Sticky-session style cookie, set on the handshake: the client must send it back.
  cookie: { name: "io", path: "/", httpOnly: true, sameSite: "lax" },
});

function handlers(socket) {
  // Events both ways: every argument comes back, binary included.
  socket.on("echo", (...args) => socket.emit("echo", ...args));
  // An ack answered with the same arguments.
  socket.on("echo-ack", (...args) => {
    const cb = args.pop();
    cb(...args);
  });
  // Never answered: for ack timeouts.
  socket.on("no-ack", () => {});
  // The server asks the client for an ack, then reports the answer.
  socket.on("ask", (question) => {
    socket.emit("question", question, (...answer) => socket.emit("answer", ...answer));
  });
  // What the server knows of this connection.
  socket.on("info", (cb) =>
    cb({
      nsp: socket.nsp.name,
      id: socket.id,
      auth: socket.handshake.auth,
      transport: socket.conn.transport.name,
      engineId: socket.conn.id,
      cookies: cookies.get(socket.conn.id) || [],
      query: socket.handshake.query,
      header: socket.handshake.headers["x-test"] || null,
      refusedProbes: refused.get(socket.conn.id) || 0,
    })
  );
  // Answers only from the n-th time it gets `key` on: for `retries`. Answers the count.
  socket.on("flaky", (key, n, cb) => {
    flaky.set(key, (flaky.get(key) || 0) + 1);
    if (flaky.get(key) >= n) cb(flaky.get(key));
  });
  // A server-side disconnect.
  socket.on("kick", () => socket.disconnect());
  // `big` with a string of n bytes: for the client's bound on what it takes.
  socket.on("big", (n) => socket.emit("big", "x".repeat(n)));
  // The close codes of this process's WebSockets, by engine session, as `ws` received them.
  socket.on("ws-close-codes", (cb) => cb(Object.fromEntries(wsCloseCodes)));
}

// The close code of each engine session's WebSocket (the transport's `ws` socket, from the
// handshake or from an upgrade), recorded when it closes.
const wsCloseCodes = new Map();
function watchWebSocket(conn) {
  const transport = conn.transport;
  if (transport.name === "websocket" && transport.socket) {
    transport.socket.on("close", (code) => wsCloseCodes.set(conn.id, code));
  }
}

// Per process: the tries of each `flaky` key, across connections.
const flaky = new Map();

io.on("connection", handlers);

const admin = io.of("/admin");
admin.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "secret") {
    next();
  } else {
    const err = new Error("not authorized");
    err.data = { code: 42, reason: "bad token" };
    next(err);
  }
});
admin.on("connection", handlers);

if (process.argv[3] === "--tls") {
  const fs = require("fs");
  const path = require("path");
  const dir = process.argv[4];
  const https = require("https").createServer({
    key: fs.readFileSync(path.join(dir, "key.pem")),
    cert: fs.readFileSync(path.join(dir, "cert.pem")),
  });
  io.attach(https);
  https.listen(port);
} else {
  io.listen(port);
}

// The Cookie header of every request (polling and WebSocket) of each engine session.
const cookies = new Map();
// The WebSocket requests refused (`?noupgrade=1`), per engine session.
const refused = new Map();
io.engine.use((req, res, next) => {
  const query = new URL(req.url, "http://x").searchParams;
  // `?noupgrade=1`: WebSocket requests are refused, so an upgrade probe fails.
  if (query.get("noupgrade") === "1" && query.get("transport") === "websocket") {
    const sid = query.get("sid");
    refused.set(sid, (refused.get(sid) || 0) + 1);
    return next(new Error("no websocket"));
  }
  const sid = query.get("sid");
  if (sid) {
    if (!cookies.has(sid)) cookies.set(sid, []);
    cookies.get(sid).push(req.headers.cookie || null);
  }
  next();
});

io.engine.on("connection", (conn) => {
  watchWebSocket(conn);
  conn.on("upgrade", () => watchWebSocket(conn));
});

io.httpServer.on("listening", () => {
  process.stdout.write(`PORT ${io.httpServer.address().port}\n`);
});

process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
