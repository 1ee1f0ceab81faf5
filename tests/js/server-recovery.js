// Connection state recovery with socket.io-client 4.8.4: the client connects through a TCP
// proxy of this script to the server on 127.0.0.1:<port>, joins a room, asks for a stream
// of `tick` events, and the proxy cuts every TCP connection in the middle of the stream (the
// client sees its transport close, the server too). The client reconnects with its pid and
// offset; the script records what it saw.
//
//   node server-recovery.js <port>               against our server (the `conformance`
//                                                example's events: join, rooms, ticks, status)
//   node server-recovery.js 0 --reference        against a Node socket.io 4.8.4 server with
//                                                connectionStateRecovery, started here
//
// Prints one JSON line: [{mode, connects: [{id, recovered}], reason, ticks, offsets, rooms,
// status}] for the modes `websocket` and `polling`.
"use strict";
const net = require("net");
const { io } = require("socket.io-client");

const reference = process.argv.slice(3).includes("--reference");

/// A TCP proxy to `port`; `cut()` destroys every connection it carries.
function proxy(port) {
  const pairs = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    const pair = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close);
    upstream.on("error", close);
    client.on("close", close);
    upstream.on("close", close);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        port: server.address().port,
        size: () => pairs.size,
        cut() {
          for (const [client, upstream] of pairs) {
            client.destroy();
            upstream.destroy();
          }
          pairs.clear();
        },
        close() {
          this.cut();
          server.close();
        },
      });
    });
  });
}

function once(emitter, event, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} in ${ms} ms`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

async function until(condition, what, ms = 10000) {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/// The reference: socket.io 4.8.4 with the same events as the `conformance` example.
async function referenceServer() {
  const { Server } = require("socket.io");
  const server = new Server({
    connectionStateRecovery: { maxDisconnectionDuration: 5000, skipMiddlewares: true },
  });
  server.on("connection", (socket) => {
    socket.on("join", (room, ack) => {
      socket.join(room);
      ack(true);
    });
    socket.on("rooms", (ack) => ack([...socket.rooms].sort()));
    socket.on("ticks", (n, everyMs, ack) => {
      ack(true);
      let i = 0;
      const timer = setInterval(() => {
        socket.emit("tick", i++);
        if (i >= n) clearInterval(timer);
      }, everyMs);
    });
    socket.on("status", (ack) => ack({ id: socket.id, recovered: socket.recovered }));
  });
  const http = require("http").createServer();
  server.attach(http);
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  return { port: http.address().port, close: () => server.close() };
}

const TICKS = 30;

async function scenario(mode, transports, port) {
  const relay = await proxy(port);
  const socket = io(`http://127.0.0.1:${relay.port}`, {
    transports,
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
    randomizationFactor: 0,
    timeout: 5000,
  });
  const result = { mode, connects: [], ticks: [], offsets: [] };
  socket.on("connect", () => result.connects.push({ id: socket.id, recovered: socket.recovered }));
  socket.on("tick", (i, ...rest) => {
    result.ticks.push(i);
    // The offset the server appended: a string, as the last argument.
    result.offsets.push(rest.length === 1 && typeof rest[0] === "string");
  });
  try {
    await until(() => result.connects.length === 1, "connect");
    if ((await socket.timeout(5000).emitWithAck("join", "room-a")) !== true) throw new Error("join");
    if ((await socket.timeout(5000).emitWithAck("ticks", TICKS, 50)) !== true) throw new Error("ticks");
    await until(() => result.ticks.length >= 5, "five ticks");
    const disconnected = once(socket, "disconnect");
    relay.cut();
    [result.reason] = await disconnected;
    await until(() => result.connects.length === 2, "reconnect");
    await until(() => result.ticks.length >= TICKS, `${TICKS} ticks`);
    // Anything more would be a duplicate.
    await new Promise((r) => setTimeout(r, 200));
    result.rooms = await socket.timeout(5000).emitWithAck("rooms");
    result.status = await socket.timeout(5000).emitWithAck("status");
  } catch (e) {
    result.error = String(e);
  } finally {
    // The DISCONNECT packet must reach the server before the proxy goes: a cut would leave a
    // session to recover behind. The proxy's connections end once the client's are closed
    // (a keep-alive polling connection may stay: then after a second at most).
    socket.close();
    await until(() => relay.size() === 0, "closed", 1000).catch(() => {});
    relay.close();
  }
  return result;
}

(async () => {
  const server = reference ? await referenceServer() : null;
  const port = server ? server.port : Number(process.argv[2]);
  const results = [];
  results.push(await scenario("websocket", ["websocket"], port));
  results.push(await scenario("polling", ["polling"], port));
  if (server) server.close();
  console.log(JSON.stringify(results));
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
