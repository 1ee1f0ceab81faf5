// Runs socket.io-client 4.8.4 against our Rust Socket.IO server on 127.0.0.1:<port>, in each
// transport mode (polling only, WebSocket only, polling then upgrade). Prints one JSON line:
// [{mode, passed: [...], failed: [...]}]. With `--msgpack` (after the port), every client uses
// the parser of socket.io-msgpack-parser 3.0.2, as the server must then.
"use strict";
const { Manager } = require("socket.io-client");
const assert = require("assert");

const port = process.argv[2];
const msgpack = process.argv.slice(3).includes("--msgpack");
const parserOption = msgpack ? { parser: require("socket.io-msgpack-parser") } : {};
const url = `http://127.0.0.1:${port}`;

function once(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} in ${ms} ms`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

function quiet(emitter, event, ms) {
  return new Promise((resolve, reject) => {
    const handler = (...args) => reject(new Error(`unexpected ${event} ${JSON.stringify(args)}`));
    emitter.once(event, handler);
    setTimeout(() => {
      emitter.off(event, handler);
      resolve();
    }, ms);
  });
}

function manager(transports) {
  // autoConnect off: `connect()` on a socket that is already connecting sends a second CONNECT.
  return new Manager(url, {
    transports,
    reconnection: false,
    timeout: 5000,
    autoConnect: false,
    ...parserOption,
  });
}

async function scenario(mode, transports) {
  const result = { mode, passed: [], failed: [] };
  const check = async (name, fn) => {
    try {
      console.error(`${mode}: ${name}`);
      await fn();
      result.passed.push(name);
    } catch (e) {
      result.failed.push(`${name}: ${e && e.stack ? e.stack : e}`);
    }
  };
  const managers = [];
  const m = manager(transports);
  managers.push(m);
  m.on("close", (reason, desc) => console.error(`${mode}: connection closed: ${reason} ${desc && desc.message ? desc.message : ""}`));

  await check("middleware refusal", async () => {
    const refused = manager(transports);
    managers.push(refused);
    const s = refused.socket("/", { auth: { token: "bad" } });
    s.connect();
    const [err] = await once(s, "connect_error");
    assert.strictEqual(err.message, "bad token");
    assert.deepStrictEqual(err.data, { reason: "token" });
    s.close();
  });

  const a = m.socket("/", { auth: { token: "ok" } });
  const admin = m.socket("/admin", { auth: { token: "ok" } });
  const welcome = once(a, "welcome");
  const adminHello = once(admin, "admin-hello");
  a.connect();
  admin.connect();

  await check("connect with auth", async () => {
    const [auth] = await welcome;
    assert.deepStrictEqual(auth, { token: "ok" });
    assert.strictEqual(a.id.length, 20);
  });
  await check("second namespace multiplexed", async () => {
    await adminHello;
    assert.strictEqual(admin.io, a.io);
    admin.emit("echo", "on admin");
    const [v] = await once(admin, "echo-back");
    assert.strictEqual(v, "on admin");
  });
  await check("dynamic namespace matched by a regex", async () => {
    const d = m.socket("/dynamic-7", { auth: { token: "ok" } });
    const where = once(d, "where");
    d.connect();
    const [name] = await where;
    assert.strictEqual(name, "/dynamic-7");
    d.disconnect();
    const refused = m.socket("/dynamic-x", { auth: { token: "ok" } });
    refused.connect();
    const [err] = await once(refused, "connect_error");
    assert.strictEqual(err.message, "Invalid namespace");
    refused.disconnect();
  });
  await check("events both ways", async () => {
    a.emit("echo", 1, "2", { 3: [true] });
    const args = await once(a, "echo-back");
    assert.deepStrictEqual(args, [1, "2", { 3: [true] }]);
  });
  await check("binary both ways", async () => {
    a.emit("echo", Buffer.from([1, 2, 3]), { nested: [Buffer.from([4, 5])], n: 1 }, Buffer.from([]));
    const [b1, obj, b3] = await once(a, "echo-back");
    assert.deepStrictEqual(Array.from(b1), [1, 2, 3]);
    assert.deepStrictEqual(Array.from(obj.nested[0]), [4, 5]);
    assert.strictEqual(obj.n, 1);
    assert.strictEqual(b3.length, 0);
  });
  await check("client ack answered", async () => {
    const reply = await new Promise((resolve) => a.emit("ack", "x", Buffer.from([9]), (...r) => resolve(r)));
    assert.strictEqual(reply[0], "x");
    assert.deepStrictEqual(Array.from(reply[1]), [9]);
  });
  await check("client ack timeout", async () => {
    const err = await new Promise((resolve) => a.timeout(300).emit("unhandled", (e) => resolve(e)));
    assert.ok(err instanceof Error);
    assert.strictEqual(err.message, "operation has timed out");
  });
  await check("server ack answered", async () => {
    a.on("question", (n, cb) => cb(n * 2));
    a.emit("ask", 21);
    const [answer] = await once(a, "answer");
    assert.strictEqual(answer, 42);
  });
  await check("server ack timeout", async () => {
    a.on("no-answer", () => {});
    a.emit("ask-timeout");
    const [answer] = await once(a, "answer");
    assert.strictEqual(answer, "operation has timed out");
  });
  await check("rooms and broadcasts", async () => {
    const m2 = manager(transports);
    const m3 = manager(transports);
    managers.push(m2, m3);
    const b = m2.socket("/", { auth: { token: "ok" } });
    const c = m3.socket("/", { auth: { token: "ok" } });
    const bw = once(b, "welcome");
    const cw = once(c, "welcome");
    b.connect();
    c.connect();
    await Promise.all([bw, cw]);
    await b.emitWithAck("join", "r");
    const got = once(b, "shout");
    const aQuiet = quiet(a, "shout", 500);
    const cQuiet = quiet(c, "shout", 500);
    await a.emitWithAck("shout", "r", "hi");
    assert.deepStrictEqual(await got, ["hi"]);
    await aQuiet;
    await cQuiet;
    // Everyone but the sender.
    const gb = once(b, "all");
    const gc = once(c, "all");
    const aQuiet2 = quiet(a, "all", 500);
    await a.emitWithAck("all", Buffer.from([7]));
    assert.deepStrictEqual(Array.from((await gb)[0]), [7]);
    assert.deepStrictEqual(Array.from((await gc)[0]), [7]);
    await aQuiet2;
    b.close();
    c.close();
  });
  await check("volatile", async () => {
    a.emit("volatile");
    const [v] = await once(a, "vol");
    assert.strictEqual(v, 1);
  });
  await check("transport", async () => {
    const expected = mode === "polling" ? "polling" : "websocket";
    if (mode === "upgrade" && a.io.engine.transport.name !== "websocket") {
      await once(a.io.engine, "upgrade");
    }
    assert.strictEqual(a.io.engine.transport.name, expected);
  });
  await check("server-side disconnect", async () => {
    const gone = once(a, "disconnect");
    a.emit("kick");
    const [reason] = await gone;
    assert.strictEqual(reason, "io server disconnect");
    // The other namespace of the connection stays.
    admin.emit("echo", "still");
    const [v] = await once(admin, "echo-back");
    assert.strictEqual(v, "still");
  });
  for (const mgr of managers) {
    mgr.engine && mgr.engine.close();
  }
  admin.close();
  return result;
}

(async () => {
  const results = [];
  results.push(await scenario("polling", ["polling"]));
  results.push(await scenario("websocket", ["websocket"]));
  results.push(await scenario("upgrade", ["polling", "websocket"]));
  process.stdout.write(JSON.stringify(results) + "\n");
  process.exit(0);
})();
