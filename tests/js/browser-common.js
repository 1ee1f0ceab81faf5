// Shared by the browser test drivers: launches Debian's Chromium (/usr/bin/chromium, or
// $SIO_CHROMIUM) headless with playwright-core, and makes sure it goes away: on success, on
// failure, on SIGTERM/SIGINT from the Rust test, and when the watchdog fires.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const executablePath = process.env.SIO_CHROMIUM || "/usr/bin/chromium";

// Runs `body(browser, userDataDir)` with a fresh browser; prints the JSON it returns on one
// line of stdout. Exits 1 (after closing the browser) on error or after `timeoutMs`.
async function withBrowser(timeoutMs, body) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-chromium-"));
  let context = null;
  let finished = false;
  const cleanup = async () => {
    if (context) {
      const c = context;
      context = null;
      await Promise.race([c.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
    }
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  const fail = async (message) => {
    if (finished) return;
    finished = true;
    console.error(`browser test driver: ${message}`);
    await cleanup();
    process.exit(1);
  };
  const watchdog = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
  for (const signal of ["SIGTERM", "SIGINT"]) {
    process.on(signal, () => fail(`got ${signal}`));
  }
  try {
    // A persistent context gives the fresh user-data dir; it is the browser too.
    context = await chromium.launchPersistentContext(userDataDir, {
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
    // Generous for a loaded machine, well under the watchdog.
    context.setDefaultTimeout(15000);
    const output = await body(context);
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

// Forwards the page's console and errors to stderr, prefixed with `name`.
function forwardConsole(page, name) {
  page.on("console", (msg) => console.error(`[${name}] ${msg.type()}: ${msg.text()}`));
  page.on("pageerror", (err) => console.error(`[${name}] page error: ${err}`));
}

module.exports = { withBrowser, forwardConsole };
