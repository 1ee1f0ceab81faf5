// Opens <url> (tests/browser/io.html served by the Rust test) in headless Chromium, waits for
// the page's scenarios to finish (window.__sio.done) and prints window.__sio as one JSON line:
// { done, results: [{ mode, passed: [...], failed: [...] }], error? }.
//
//   node tests/js/browser-run.js <url> [timeout_ms]
"use strict";
const { withBrowser, forwardConsole } = require("./browser-common");

const url = process.argv[2];
const timeoutMs = Number(process.argv[3] || 50000);
if (!url) {
  console.error("usage: node browser-run.js <url> [timeout_ms]");
  process.exit(2);
}

withBrowser(timeoutMs, async (context) => {
  const page = context.pages()[0] || (await context.newPage());
  forwardConsole(page, "io");
  await page.goto(url, { waitUntil: "load", timeout: 20000 });
  let error = null;
  await page
    .waitForFunction(() => window.__sio && window.__sio.done, null, {
      timeout: Math.max(timeoutMs - 10000, 1000),
      polling: 100,
    })
    .catch((e) => (error = `the page did not finish: ${e.message}`));
  // What finished, even on a timeout, so the Rust test shows which scenario hung.
  const state = (await page.evaluate(() => window.__sio)) || { done: false, results: [] };
  if (error) state.error = error;
  return state;
});
