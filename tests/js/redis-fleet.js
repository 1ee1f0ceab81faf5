// A fleet of two Node.js socket.io 4.8 servers sharing one Redis through
// @socket.io/redis-adapter 8.3 (classic createAdapter, redis@4 clients), with official
// socket.io-client clients connected to them; for the tests of sio-redis
// (tests/tests/redis_emitter.rs).
//
//   node tests/js/redis-fleet.js <redis port>
//
// Clients (name: server, rooms joined on connection):
//   a: server 1, ["r1"]      b: server 2, ["r1", "r2"]      c: server 2, []
//
// Prints one JSON line per event on stdout:
//   {"event":"ready","ids":{"a":<sid>,"b":...,"c":...}}
//   {"event":"received","client":"a","name":<event>,"args":[...]}   (Buffers as {"$bin"})
//   {"event":"disconnected","client":"b","reason":"io server disconnect"}
//   {"event":"server_side","server":1,"name":<event>,"args":[...]}
//   {"event":"done","id":N}   after a command
// Reads one JSON command per line on stdin (the same operations through the Node emitter,
// @socket.io/redis-emitter 5.1, so that the test can compare what both publish):
//   {"id":N,"cmd":"emit","nsp":"/","to":[...],"except":[...],"flags":[[name, value]...],"name":ev,"args":[...]}
//   {"id":N,"cmd":"socketsJoin"|"socketsLeave","to":[...],"except":[...],"rooms":[...]}
//   {"id":N,"cmd":"disconnectSockets","to":[...],"close":bool}
//   {"id":N,"cmd":"serverSideEmit","name":ev,"args":[...]}
"use strict";

const http = require("http");
const readline = require("readline");
const { Server } = require("socket.io");
const { io: connect } = require("socket.io-client");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");

const redisUrl = `redis://127.0.0.1:${process.argv[2]}`;
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

function canon(v) {
  if (Buffer.isBuffer(v)) return { $bin: v.toString("base64") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("base64") };
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === "object") {
    const out = {};
    for (const k of Object.keys(v)) out[k] = canon(v[k]);
    return out;
  }
  return v === undefined ? null : v;
}

function revive(v) {
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "$bin") return Buffer.from(v.$bin, "base64");
    const out = {};
    for (const k of keys) out[k] = revive(v[k]);
    return out;
  }
  return v;
}

async function startServer(n) {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: createAdapter(pub, sub) });
  io.on("connection", (socket) => {
    for (const room of JSON.parse(socket.handshake.query.rooms || "[]")) socket.join(room);
  });
  // serverSideEmit handlers (any event name).
  const onServerSide = io.of("/")._onServerSideEmit.bind(io.of("/"));
  io.of("/")._onServerSideEmit = (args) => {
    print({ event: "server_side", server: n, name: args[0], args: canon(args.slice(1)) });
    onServerSide(args);
  };
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  return { io, port: httpServer.address().port, pub, sub, httpServer };
}

function client(name, port, rooms) {
  return new Promise((resolve) => {
    const socket = connect(`http://127.0.0.1:${port}`, {
      transports: ["websocket"],
      reconnection: false,
      query: { rooms: JSON.stringify(rooms) },
    });
    socket.onAny((event, ...args) => print({ event: "received", client: name, name: event, args: canon(args) }));
    socket.on("disconnect", (reason) => print({ event: "disconnected", client: name, reason }));
    socket.on("connect", () => resolve(socket));
  });
}

async function main() {
  const s1 = await startServer(1);
  const s2 = await startServer(2);
  const clients = {
    a: await client("a", s1.port, ["r1"]),
    b: await client("b", s2.port, ["r1", "r2"]),
    c: await client("c", s2.port, []),
  };
  // Every server must count in PUBSUB NUMSUB before the test starts.
  const emitterClient = createClient({ url: redisUrl });
  await emitterClient.connect();
  for (;;) {
    const counts = await emitterClient.sendCommand(["PUBSUB", "NUMSUB", "socket.io-request#/#"]);
    if (Number(counts[1]) >= 2) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const emitter = new Emitter(emitterClient);
  print({ event: "ready", ids: Object.fromEntries(Object.entries(clients).map(([k, s]) => [k, s.id])) });

  const target = (cmd) => {
    let op = emitter.of(cmd.nsp || "/");
    for (const r of cmd.to || []) op = op.to(r);
    for (const r of cmd.except || []) op = op.except(r);
    for (const [flag, value] of cmd.flags || []) {
      op = flag === "volatile" ? op.volatile : op.compress(value);
    }
    return op;
  };
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", async (line) => {
    const cmd = JSON.parse(line);
    switch (cmd.cmd) {
      case "emit":
        target(cmd).emit(cmd.name, ...revive(cmd.args));
        break;
      case "socketsJoin":
        target(cmd).socketsJoin(cmd.rooms);
        break;
      case "socketsLeave":
        target(cmd).socketsLeave(cmd.rooms);
        break;
      case "disconnectSockets":
        target(cmd).disconnectSockets(cmd.close);
        break;
      case "serverSideEmit":
        emitter.serverSideEmit(cmd.name, ...revive(cmd.args));
        break;
    }
    // The redis client sends commands in order: a PING answered means the publish is done.
    await emitterClient.ping();
    print({ event: "done", id: cmd.id });
  });
  rl.on("close", () => process.exit(0));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
