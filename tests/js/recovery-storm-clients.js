// N socket.io-client 4.8.4 clients receiving the numbered `tick` broadcasts of a server
// (tests/tests/recovery_storm.rs, bench/src/bin/recovery_bench.rs), through a URL that a
// fault-injecting proxy cuts now and then. The clients reconnect (with their pid and offset
// when the server gave them one) and record what they got.
//
//   node recovery-storm-clients.js <port> --clients N --last L [--deadline MS]
//                                  [--transports mixed|websocket|polling]
//
// Connects N clients to http://127.0.0.1:<port> (client i over WebSocket when i is even, over
// long-polling when odd, with `mixed`, the default), prints `READY` once all are connected,
// then waits until every client got tick L (or a line `finish` came on stdin, or MS
// milliseconds, default 30000, passed) and prints one JSON line:
// [{transport, connects: [{id, recovered}], ticks: [[first, last]...], offsets}] where
// `ticks` lists the ticks in arrival order as runs of consecutive numbers and `offsets` counts
// the ticks that came with an offset (a string last argument). Exits when done, or when
// stdin closes.
"use strict";
const { io } = require("socket.io-client");

function flag(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const port = Number(process.argv[2]);
const count = Number(flag("--clients", "10"));
const last = Number(flag("--last", "0"));
const deadline = Number(flag("--deadline", "30000"));
const mix = flag("--transports", "mixed");

const clients = [];
for (let i = 0; i < count; i++) {
  const transport = mix === "mixed" ? (i % 2 === 0 ? "websocket" : "polling") : mix;
  const socket = io(`http://127.0.0.1:${port}`, {
    transports: [transport],
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 200,
    randomizationFactor: 0,
    timeout: 5000,
  });
  const client = { socket, result: { transport, connects: [], ticks: [], offsets: 0 } };
  socket.on("connect", () => {
    client.result.connects.push({ id: socket.id, recovered: socket.recovered });
  });
  socket.on("tick", (n, ...rest) => {
    client.result.ticks.push(n);
    if (rest.length === 1 && typeof rest[0] === "string") client.result.offsets += 1;
  });
  clients.push(client);
}

let finish = false;
process.stdin.setEncoding("utf8");
process.stdin.on("data", (text) => {
  if (text.includes("finish")) finish = true;
});
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/// The ticks as runs [first, last] of consecutive numbers, in arrival order.
function runs(ticks) {
  const out = [];
  for (const n of ticks) {
    const last = out[out.length - 1];
    if (last && n === last[1] + 1) last[1] = n;
    else out.push([n, n]);
  }
  return out;
}

(async () => {
  while (!clients.every((c) => c.result.connects.length > 0)) await sleep(10);
  process.stdout.write("READY\n");
  const start = Date.now();
  const done = (c) => c.result.ticks.length > 0 && c.result.ticks[c.result.ticks.length - 1] === last;
  while (!clients.every(done) && !finish && Date.now() - start < deadline) await sleep(10);
  // A duplicate of the last tick would come right after it.
  await sleep(100);
  for (const c of clients) c.socket.close();
  const results = clients.map(({ result }) => ({ ...result, ticks: runs(result.ticks) }));
  // Exit once written: a pipe takes the line in 64 KiB pieces.
  process.stdout.write(JSON.stringify(results) + "\n", () => process.exit(0));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
