// Drives the chat example on two nodes (sio-server/examples/chat with --redis, one Redis)
// behind nginx, in headless Chromium, for tests/tests/cluster_nginx.rs. Each user has a browser
// context of its own (its own cookies: the sticky-session cookie of nginx is per user). The
// driver records, per page, every response to /socket.io/ (status, and the node that answered:
// the X-Upstream header nginx adds), the WebSocket handshakes (through the DevTools protocol,
// which sees the headers of the 101 answer), the lines of the chat log and the transport in use.
//
//   node tests/js/browser-cluster.js <url> sticky|round-robin [timeout_ms]
//
// sticky (nginx hashes the "sio_node" cookie):
//   alice and bob get cookies that nginx maps to different nodes (the driver tries user-1,
//   user-2, ... and reads X-Upstream), join "lobby" over HTTP long-polling only and chat both
//   ways; carol comes without a cookie (nginx gives her one) and joins too; then ann and bob2 (in
//   alice's and bob's contexts, so on the same nodes) join "upgraded" with the default
//   transports (polling, then the upgrade to WebSocket) and chat.
// round-robin (no stickiness):
//   polly joins over long-polling only: her requests alternate between the nodes, a node that
//   did not open the session answers 400 "Session ID unknown"; the driver waits for two such
//   answers (the first session and a reconnection). Then wendy and walt join over WebSocket
//   only, on different nodes (a WebSocket is one request: no stickiness needed), and chat.
//
// Prints one JSON line: { <user>: { log, transport, http: [{status, upstream, body?}],
// ws: [upstream], page, cookie? }, ... }.
"use strict";
const { chromium } = require("playwright-core");
const { forwardConsole } = require("./browser-common");

const [url, mode, timeoutArg] = process.argv.slice(2);
const timeoutMs = Number(timeoutArg || 60000);
if (!url || !["sticky", "round-robin"].includes(mode)) {
  console.error("usage: node browser-cluster.js <url> sticky|round-robin [timeout_ms]");
  process.exit(2);
}
const step = (text) => console.error(`cluster driver: ${text}`);
const WAIT = { timeout: 15000, polling: 50 };

// Launches Chromium (not a persistent context: each user gets a context with its own cookie
// jar), runs `body(browser)`, prints its result; always closes the browser, also on SIGTERM
// from the Rust test and when the watchdog fires.
async function withBrowser(body) {
  const executablePath = process.env.SIO_CHROMIUM || "/usr/bin/chromium";
  let browser = null;
  let finished = false;
  const cleanup = async () => {
    if (browser) {
      const b = browser;
      browser = null;
      await Promise.race([b.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
    }
  };
  const fail = async (message) => {
    if (finished) return;
    finished = true;
    console.error(`browser-cluster: ${message}`);
    await cleanup();
    process.exit(1);
  };
  const watchdog = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
  for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => fail(`got ${signal}`));
  try {
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-quic",
      ],
      timeout: 30000,
    });
    const output = await body(browser);
    if (finished) return;
    finished = true;
    clearTimeout(watchdog);
    await cleanup();
    process.stdout.write(JSON.stringify(output) + "\n");
    process.exit(0);
  } catch (e) {
    await fail(e && e.stack ? e.stack : String(e));
  }
}

// Makes the page's `io(options)` use `transports` (the chat page calls `io({ auth })`).
function forceTransports(transports) {
  let real;
  Object.defineProperty(window, "io", {
    configurable: true,
    get: () => real,
    set(io) {
      real = Object.assign((options) => io({ ...options, transports }), io);
    },
  });
}

// A user: a page in `context` (a new context when none is given), watched.
async function open(browser, nick, { context, cookie, transports } = {}) {
  context = context || (await browser.newContext());
  if (cookie) await context.addCookies([{ name: "sio_node", value: cookie, url }]);
  const page = await context.newPage();
  forwardConsole(page, nick);
  const user = { nick, context, page, http: [], ws: [], sessionUnknown: 0, waiters: [] };
  page.on("response", async (r) => {
    if (!new URL(r.url()).pathname.startsWith("/socket.io/")) return;
    const entry = { status: r.status(), upstream: r.headers()["x-upstream"] || null };
    user.http.push(entry);
    if (r.status() >= 400) {
      entry.body = await r.text().catch((e) => `(no body: ${e.message})`);
      if (entry.body.includes("Session ID unknown")) {
        user.sessionUnknown += 1;
        user.waiters = user.waiters.filter(([n, resolve]) => (user.sessionUnknown >= n ? resolve() : true));
      }
    }
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  cdp.on("Network.webSocketHandshakeResponseReceived", ({ response }) => {
    const h = response.headers || {};
    const key = Object.keys(h).find((k) => k.toLowerCase() === "x-upstream");
    user.ws.push(key ? h[key] : null);
  });
  if (transports) await page.addInitScript(forceTransports, transports);
  const response = await page.goto(url, { waitUntil: "load", timeout: 20000 });
  user.pageUpstream = response.headers()["x-upstream"] || null;
  return user;
}

const logHas = (user, text) =>
  user.page
    .waitForFunction((text) => document.getElementById("log").textContent.includes(text), text, WAIT)
    .catch(async (e) => {
      const log = await user.page.evaluate(() => document.getElementById("log").textContent).catch(() => "?");
      throw new Error(`${user.nick}'s log never showed "${text}" (${e.message}); it shows: ${log}`);
    });

async function login(user, room) {
  await user.page.fill("#nick", user.nick);
  await user.page.fill("#room", room);
  await user.page.click("#join");
}

async function join(user, room) {
  await login(user, room);
  await logHas(user, `joined ${room} as ${user.nick}`);
  step(`${user.nick} joined ${room} (page from ${user.pageUpstream})`);
}

async function say(from, to, text) {
  await from.page.fill("#input", text);
  await from.page.click("#send");
  await logHas(from, `${from.nick}: ${text} (sent)`);
  await logHas(to, `${from.nick}: ${text}`);
}

const transport = (user) => user.page.evaluate(() => socket && socket.io.engine && socket.io.engine.transport.name);

async function report(user) {
  const log = await user.page.evaluate(() =>
    Array.from(document.querySelectorAll("#log > div")).map((d) => d.textContent),
  );
  const out = { log, transport: await transport(user), http: user.http, ws: user.ws, page: user.pageUpstream };
  const cookie = (await user.context.cookies()).find((c) => c.name === "sio_node");
  out.cookie = cookie ? cookie.value : null;
  return out;
}

async function sticky(browser) {
  const polling = ["polling"];
  // alice and bob: cookies that nginx's hash sends to different nodes.
  let alice = null;
  let bob = null;
  for (let k = 1; k <= 32 && !bob; k++) {
    const user = await open(browser, alice ? "bob" : "alice", { cookie: `user-${k}`, transports: polling });
    if (!alice) alice = user;
    else if (user.pageUpstream !== alice.pageUpstream) bob = user;
    else await user.context.close();
  }
  if (!bob) throw new Error(`every cookie user-1..32 went to ${alice.pageUpstream}`);
  await join(alice, "lobby");
  await join(bob, "lobby");
  await logHas(alice, "bob joined");
  await say(bob, alice, "hello from bob");
  await say(alice, bob, "hello from alice");
  step("alice and bob chatted over long-polling");

  // carol: no cookie; nginx gives her one with the first answer.
  const carol = await open(browser, "carol", { transports: polling });
  await join(carol, "lobby");
  await logHas(alice, "carol joined");
  await logHas(bob, "carol joined");

  const out = { alice: await report(alice), bob: await report(bob), carol: await report(carol) };

  // The default transports: long-polling, then the upgrade to WebSocket, on the same node.
  const ann = await open(browser, "ann", { context: alice.context });
  const bob2 = await open(browser, "bob2", { context: bob.context });
  await join(ann, "upgraded");
  await join(bob2, "upgraded");
  for (const user of [ann, bob2]) {
    await user.page
      .waitForFunction(() => socket && socket.io.engine && socket.io.engine.transport.name === "websocket", null, WAIT)
      .catch((e) => {
        throw new Error(`${user.nick} never upgraded (${e.message}): ${JSON.stringify(user.http)} ${JSON.stringify(user.ws)}`);
      });
  }
  await logHas(ann, "bob2 joined");
  await say(bob2, ann, "upgraded hello from bob2");
  await say(ann, bob2, "upgraded hello from ann");
  step("ann and bob2 chatted over WebSocket");
  out.ann = await report(ann);
  out.bob2 = await report(bob2);
  return out;
}

async function roundRobin(browser) {
  // Long-polling without stickiness: "Session ID unknown", again after the reconnection.
  const polly = await open(browser, "polly", { transports: ["polling"] });
  await login(polly, "lobby");
  await new Promise((resolve, reject) => {
    polly.waiters.push([2, resolve]);
    setTimeout(() => reject(new Error(`polly: ${JSON.stringify(polly.http)}`)), 15000);
  });
  const out = { polly: await report(polly) };
  out.polly.sessionUnknown = polly.sessionUnknown;
  await polly.context.close();
  step(`polly got ${polly.sessionUnknown} "Session ID unknown"`);

  // WebSocket only: one request per connection, any node will do.
  const websocket = ["websocket"];
  const wendy = await open(browser, "wendy", { transports: websocket });
  await join(wendy, "lobby");
  const wendyNode = wendy.ws[wendy.ws.length - 1];
  const walt = await open(browser, "walt", { transports: websocket });
  // nginx alternates: probe connections (no room) until one lands on wendy's node; walt's own
  // connection then goes to the other one.
  for (let i = 0; i < 4; i++) {
    const before = walt.ws.length;
    await walt.page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const probe = io({ auth: { nick: "probe" } });
          probe.on("connect", () => {
            probe.disconnect();
            resolve();
          });
          probe.on("connect_error", (e) => reject(e));
        }),
    );
    if (walt.ws.length > before && walt.ws[walt.ws.length - 1] === wendyNode) break;
  }
  await join(walt, "lobby");
  await logHas(wendy, "walt joined");
  await say(walt, wendy, "hello from walt");
  await say(wendy, walt, "hello from wendy");
  step("wendy and walt chatted over WebSocket");
  out.wendy = await report(wendy);
  out.walt = await report(walt);
  return out;
}

withBrowser((browser) => (mode === "sticky" ? sticky(browser) : roundRobin(browser)));
