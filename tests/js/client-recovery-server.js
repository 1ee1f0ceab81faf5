// A real socket.io 4.8.4 server with connection state recovery, for the client's recovery
// tests (tests/tests/client_recovery.rs, sio-client/tests/siocat.rs).
//
// Usage: node client-recovery-server.js [--recovery MS] [--ping MS]
//   --recovery MS   connectionStateRecovery with maxDisconnectionDuration MS (absent: off)
//   --ping MS       pingInterval and pingTimeout (default 2000): how soon the server notices a
//                   client whose connection was cut between two long polls
// Prints "PORT <n>" once listening. Exits when stdin closes, so it never outlives the test.
"use strict";

const { Server } = require("socket.io");

function flag(name) {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : undefined;
}

const recovery = flag("--recovery");
const ping = flag("--ping") || 2000;
const io = new Server({
  pingInterval: ping,
  pingTimeout: ping,
  ...(recovery === undefined
    ? {}
    : { connectionStateRecovery: { maxDisconnectionDuration: recovery, skipMiddlewares: true } }),
});

io.on("connection", (socket) => {
  // `tick` 0..count-1 to every socket of "/", one every `every` ms: a broadcast, so that the
  // stream goes on while the client is away and reaches it again, recovered or not.
  socket.on("stream", (count, every) => {
    let i = 0;
    const timer = setInterval(() => {
      io.emit("tick", i);
      i += 1;
      if (i >= count) clearInterval(timer);
    }, every);
  });
  // What the server knows of this socket.
  socket.on("info", (cb) => cb({ id: socket.id, recovered: socket.recovered }));
  // The server closes the Engine.IO connection (reason "forced close": recoverable), then
  // broadcasts `missed` while the client is away.
  socket.on("cut", (text) => {
    socket.conn.close();
    setTimeout(() => io.emit("missed", text), 50);
  });
});

io.listen(0);

io.httpServer.on("listening", () => {
  process.stdout.write(`PORT ${io.httpServer.address().port}\n`);
});

process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
