// Opens each <url> (tests/browser/io.html served by the Rust test) in headless Chromium, one
// after the other, waits for the page's scenarios to finish (window.__sio.done) and prints
// what the pages reported as one JSON line:
// { results: [{ mode, passed: [...], failed: [...] }, ...], error? }.
//
//   node tests/js/browser-run.js <timeout_ms> <url>...
"use strict";
const { withBrowser, forwardConsole } = require("./browser-common");

const timeoutMs = Number(process.argv[2]);
const urls = process.argv.slice(3);
if (!timeoutMs || urls.length === 0) {
  console.error("usage: node browser-run.js <timeout_ms> <url>...");
  process.exit(2);
}

withBrowser(timeoutMs, async (context) => {
  const report = { results: [] };
  // Each page may take what is left before the watchdog, less a margin to report.
  const deadline = Date.now() + timeoutMs - 8000;
  for (const url of urls) {
    const page = await context.newPage();
    forwardConsole(page, "io");
    await page.goto(url, { waitUntil: "load", timeout: 20000 });
    let error = null;
    await page
      .waitForFunction(() => window.__sio && window.__sio.done, null, {
        timeout: Math.max(deadline - Date.now(), 1000),
        polling: 100,
      })
      .catch((e) => (error = `${url} did not finish: ${e.message}`));
    // What finished, even on a timeout, so the Rust test shows which scenario hung.
    const state = (await page.evaluate(() => window.__sio)) || { results: [] };
    report.results.push(...state.results);
    if (state.error) error = `${url}: ${state.error}`;
    await page.close();
    if (error) {
      report.error = error;
      break;
    }
  }
  return report;
});
