// Node.js socket.io 4.8 servers in a Redis cluster of Socket.IO servers, for the mixed-cluster
// tests of sio-redis (tests/tests/redis_cluster.rs): the Node.js side of the cluster, with the
// same handlers as the Rust side (sio-server/examples/conformance.rs with --redis).
//
//   node tests/js/redis-node.js '<config JSON>'
//
// config: {"redis": ["redis://127.0.0.1:<port>", ...], "cluster": bool, "sharded": bool,
//          "names": ["node1", "node2"], "requestsTimeout": 5000}
//   - classic: createAdapter(pub, sub, {requestsTimeout}) of @socket.io/redis-adapter 8.3,
//     redis@4 clients;
//   - sharded: createShardedAdapter(pub, sub, {subscriptionMode: "dynamic"}), on a single
//     Redis or (cluster: true) a Redis Cluster through redis@4's createCluster.
//
// Prints one JSON line per event on stdout:
//   {"event":"listening","name":<name>,"port":<port>}   once per server
//   {"event":"ready"}
// Reads {"id","op","args"} lines on stdin, answers {"id","ok"} or {"id","error"}:
//   emitter {method, nsp?, to?, except?, args}   (@socket.io/redis-emitter 5.1, classic only)
//       method "emit": args = [event, ...args]; "socketsJoin" / "socketsLeave": args = [room];
//       "disconnectSockets": args = [close]; "serverSideEmit": args = [event, ...args]
//   count {name}: serverCount() of a server
//   close {name}: closes a server (its adapter leaves the cluster)
//
// Handlers on "/", as in conformance.rs (every event acknowledged; failures as {error}):
//   join, broadcast, broadcast-except, broadcast-ack, fetch, fetch-data, sockets-join,
//   sockets-leave, disconnect-sockets, sse, count; socket.data = {node: NAME}; every server
//   answers a server-side "sse" with its NAME.
"use strict";

const http = require("http");
const readline = require("readline");
const { Server } = require("socket.io");
const { createClient, createCluster } = require("redis");
const { createAdapter, createShardedAdapter, RedisAdapter } = require("@socket.io/redis-adapter");

// socket.io-adapter's in-memory Adapter, which the classic RedisAdapter extends.
const inMemory = Object.getPrototypeOf(RedisAdapter.prototype);
const { Emitter } = require("@socket.io/redis-emitter");

const config = JSON.parse(process.argv[2]);
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const servers = new Map();

function redisClient() {
  if (config.cluster) {
    return createCluster({ rootNodes: config.redis.map((url) => ({ url })) });
  }
  return createClient({ url: config.redis[0] });
}

const sortedByJson = (values) =>
  values.slice().sort((a, b) => {
    const x = JSON.stringify(a === undefined ? null : a);
    const y = JSON.stringify(b === undefined ? null : b);
    return x < y ? -1 : x > y ? 1 : 0;
  });

const errorOf = (e) => ({ error: String((e && e.message) || e) });

function target(io, room) {
  return typeof room === "string" ? io.to(room) : io;
}

function describe(sockets, withData) {
  return sockets
    .map((s) => {
      const entry = { id: s.id, rooms: [...s.rooms].sort() };
      if (withData) entry.data = s.data;
      return entry;
    })
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

async function startServer(name) {
  const pub = redisClient();
  const sub = pub.duplicate();
  pub.on("error", () => {});
  sub.on("error", () => {});
  await Promise.all([pub.connect(), sub.connect()]);
  const adapter = config.sharded
    ? createShardedAdapter(pub, sub, { subscriptionMode: "dynamic" })
    : createAdapter(pub, sub, { requestsTimeout: config.requestsTimeout || 5000 });
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter });
  io.on("sse", (...args) => {
    const cb = args[args.length - 1];
    if (typeof cb === "function") cb(name);
  });
  io.on("connection", (socket) => {
    socket.data = { node: name };
    const on = (event, handler) =>
      socket.on(event, async (...args) => {
        const cb = typeof args[args.length - 1] === "function" ? args.pop() : () => {};
        try {
          cb(await handler(...args));
        } catch (e) {
          cb(errorOf(e));
        }
      });
    on("join", async (room) => {
      socket.join(room);
      return true;
    });
    on("broadcast", async (room, ...args) => {
      target(io, room).emit("broadcast", ...args);
      return true;
    });
    on("broadcast-except", async (room, except, ...args) => {
      let op = target(io, room);
      if (typeof except === "string") op = op.except(except);
      op.emit("broadcast", ...args);
      return true;
    });
    on("broadcast-ack", async (room, ...args) => {
      try {
        const replies = await target(io, room).timeout(2000).emitWithAck("ask", ...args);
        return sortedByJson(replies);
      } catch (e) {
        return { error: e.message, replies: sortedByJson(e.responses || []) };
      }
    });
    on("fetch", async (room) => describe(await target(io, room).fetchSockets(), false));
    on("fetch-data", async (room) => describe(await target(io, room).fetchSockets(), true));
    // As BroadcastOperator#socketsJoin / #socketsLeave do, but with this server's own
    // sockets done before the acknowledgement, so that a request that follows sees them: the
    // sharded adapter joins them once its message is published (awaited here), the classic
    // one once its own request comes back from Redis (done here at once as well: joining
    // and leaving twice change nothing). What goes on the wire is the same.
    const targetOpts = (room) => ({
      rooms: new Set(typeof room === "string" ? [room] : []),
      except: new Set(),
      flags: {},
    });
    on("sockets-join", async (room, room2) => {
      const adapter = io.of("/").adapter;
      await adapter.addSockets(targetOpts(room), [room2]);
      if (!config.sharded) inMemory.addSockets.call(adapter, targetOpts(room), [room2]);
      return true;
    });
    on("sockets-leave", async (room, room2) => {
      const adapter = io.of("/").adapter;
      await adapter.delSockets(targetOpts(room), [room2]);
      if (!config.sharded) inMemory.delSockets.call(adapter, targetOpts(room), [room2]);
      return true;
    });
    on("disconnect-sockets", async (room, close) => {
      setImmediate(() => target(io, room).disconnectSockets(!!close));
      return true;
    });
    on("sse", async (...args) => {
      const replies = await new Promise((resolve) => {
        io.serverSideEmit("sse", ...args, (err, replies) => resolve(replies || []));
      });
      return sortedByJson(replies);
    });
    on("count", async () => io.of("/").adapter.serverCount());
  });
  await new Promise((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const port = httpServer.address().port;
  servers.set(name, { io, pub, sub, httpServer });
  print({ event: "listening", name, port });
}

async function main() {
  for (const name of config.names) await startServer(name);
  let emitter = null;
  if (!config.sharded) {
    const emitterClient = createClient({ url: config.redis[0] });
    emitterClient.on("error", () => {});
    await emitterClient.connect();
    emitter = { client: emitterClient, root: new Emitter(emitterClient) };
  }
  print({ event: "ready" });

  const ops = {
    async emitter({ method, nsp, to, except, args }) {
      let op = emitter.root.of(nsp || "/");
      for (const r of to || []) op = op.to(r);
      for (const r of except || []) op = op.except(r);
      switch (method) {
        case "emit":
          op.emit(...args);
          break;
        case "socketsJoin":
          op.socketsJoin(args[0]);
          break;
        case "socketsLeave":
          op.socketsLeave(args[0]);
          break;
        case "disconnectSockets":
          op.disconnectSockets(!!args[0]);
          break;
        case "serverSideEmit":
          emitter.root.of(nsp || "/").serverSideEmit(...args);
          break;
        default:
          throw new Error(`unknown emitter method ${method}`);
      }
      // Commands go out in order: a PING answered means the publish is done.
      await emitter.client.ping();
      return true;
    },
    async count({ name }) {
      return servers.get(name).io.of("/").adapter.serverCount();
    },
    async close({ name }) {
      const server = servers.get(name);
      server.io.close();
      await server.io.of("/").adapter.close();
      return true;
    },
  };
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", async (line) => {
    const { id, op, args } = JSON.parse(line);
    try {
      print({ id, ok: await ops[op](args || {}) });
    } catch (e) {
      print({ id, error: String((e && e.stack) || e) });
    }
  });
  rl.on("close", () => process.exit(0));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
