// Official socket.io-client 4.8 clients for the mixed-cluster tests of sio-redis
// (tests/tests/redis_cluster.rs), driven over stdin / stdout.
//
//   node tests/js/redis-clients.js
//
// Reads {"id","op","args"} lines, answers {"id","ok"} or {"id","error"}:
//   connect {name, port}            → the socket id (WebSocket only, no reconnection)
//   emit {client, event, args}      → the acknowledgement (socket.timeout(10 s).emitWithAck;
//                                     {"$bin": base64} in args is sent as a Buffer)
//   close {client}
// Prints the events of the clients:
//   {"event":"received","client":<name>,"name":<event>,"args":[...]}   (Buffers as {"$bin"})
//   {"event":"disconnected","client":<name>,"reason":<reason>}
// Every client answers the event "ask" with its name.
"use strict";

const readline = require("readline");
const { io: connect } = require("socket.io-client");

const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const clients = new Map();

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

const ops = {
  connect({ name, port }) {
    return new Promise((resolve, reject) => {
      const socket = connect(`http://127.0.0.1:${port}`, {
        transports: ["websocket"],
        reconnection: false,
        forceNew: true,
      });
      socket.onAny((event, ...args) => {
        const data = args.filter((a) => typeof a !== "function");
        print({ event: "received", client: name, name: event, args: canon(data) });
      });
      socket.on("ask", (...args) => {
        const cb = args[args.length - 1];
        if (typeof cb === "function") cb(name);
      });
      socket.on("disconnect", (reason) => print({ event: "disconnected", client: name, reason }));
      socket.on("connect", () => {
        clients.set(name, socket);
        resolve(socket.id);
      });
      socket.on("connect_error", (e) => reject(e));
    });
  },
  async emit({ client, event, args }) {
    const socket = clients.get(client);
    if (!socket) throw new Error(`no client ${client}`);
    return socket.timeout(10000).emitWithAck(event, ...revive(args || []));
  },
  async close({ client }) {
    const socket = clients.get(client);
    if (socket) socket.close();
    clients.delete(client);
    return true;
  },
};

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  const { id, op, args } = JSON.parse(line);
  try {
    print({ id, ok: canon(await ops[op](args || {})) });
  } catch (e) {
    print({ id, error: String((e && e.message) || e) });
  }
});
rl.on("close", () => process.exit(0));
