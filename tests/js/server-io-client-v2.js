// Runs socket.io-client 2.5.0 (Socket.IO protocol 4 over Engine.IO v3) against our Rust server
// on 127.0.0.1:<port> (allow_eio3), in each transport mode. Prints one JSON line:
// [{mode, passed: [...], failed: [...]}].
"use strict";
const io = require("socket.io-client-v2");
const assert = require("assert");

const port = process.argv[2];
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
  const opts = { transports, forceNew: true, reconnection: false };
  const main = io(url, opts);
  await check("joined / without CONNECT", async () => {
    const [id, auth] = await once(main, "hello");
    assert.strictEqual(id, main.io.engine.id);
    assert.deepStrictEqual(auth, {});
  });
  await check("events, binary and acks", async () => {
    const reply = await new Promise((resolve) =>
      main.emit("echo", "x", Buffer.from([1, 2]), (...r) => resolve(r)),
    );
    assert.strictEqual(reply[0], "x");
    assert.deepStrictEqual(Array.from(reply[1]), [1, 2]);
  });
  await check("namespace with query auth", async () => {
    // The same connection (multiplexed on the Manager of `main`).
    const admin = main.io.socket("/admin", { query: { token: "abc" } });
    const [id, auth] = await once(admin, "hello");
    assert.strictEqual(id, `/admin#${main.io.engine.id}`);
    assert.strictEqual(auth.token, "abc");
    admin.close();
  });
  await check("refused namespace", async () => {
    const refused = io(`${url}/admin`, { ...opts, query: { token: "nope" } });
    const [err] = await once(refused, "error");
    assert.strictEqual(err, "not authorized");
    refused.close();
  });
  if (mode === "upgrade") {
    await check("upgraded", async () => {
      if (main.io.engine.transport.name !== "websocket") await once(main.io.engine, "upgrade");
    });
  }
  main.close();
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
