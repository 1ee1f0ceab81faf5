// Drives the Socket.IO Admin UI's own page (ui/dist of @socket.io/admin-ui 0.5.1) in headless
// Chromium against a server that serves it at /admin/ (sio-admin/examples/admin.rs, or
// tests/js/admin-node-server.js as the reference). Two official socket.io-client clients
// (this process) connect first: alice in the room "lobby", bob in "games". The page logs in
// with basic authentication, lists both sockets, makes alice join "vip" (the form of its
// details page) and disconnects bob (its details page's button). Prints one JSON line:
// { alice, bob, listed: [ids shown], roomsShown: [rooms on alice's page],
//   aliceRooms: [rooms alice's server reports after the join], bobReason }.
//
//   node tests/js/browser-admin.js <server url> <username> <password> [timeout_ms]
"use strict";
const { withBrowser, forwardConsole } = require("./browser-common");
const { io: connect } = require("socket.io-client");

const [url, username, password] = process.argv.slice(2, 5);
const timeoutMs = Number(process.argv[5] || 60000);
if (!url || !username || password === undefined) {
  console.error("usage: node browser-admin.js <server url> <username> <password> [timeout_ms]");
  process.exit(2);
}
const step = (text) => console.error(`admin driver: ${text}`);
// A table cell showing exactly `text` (the rooms' combobox holds hidden items with the same).
const cell = (page, text) => page.locator("td").filter({ hasText: new RegExp(`^\\s*${text}\\s*$`) }).first();

function client(room) {
  return new Promise((resolve, reject) => {
    const socket = connect(url, { forceNew: true, reconnection: false, transports: ["websocket"], query: { room } });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

withBrowser(timeoutMs, async (context) => {
  const alice = await client("lobby");
  const bob = await client("games");
  const bobGone = new Promise((resolve) => bob.on("disconnect", resolve));
  // (a socket's id is gone once it disconnects)
  const ids = { alice: alice.id, bob: bob.id };
  step(`clients alice=${alice.id} bob=${bob.id}`);

  const page = await context.newPage();
  forwardConsole(page, "admin-ui");
  // Offline: the page's links to Google Fonts and the icons' CDN fail at once.
  await page.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
  await page.goto(`${url}/admin/`, { waitUntil: "load" });

  // The connection form (shown while no server is known).
  await page.getByLabel("Server URL").fill(url);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Connect" }).click();
  step("submitted the connection form");

  // The sockets page lists both clients.
  await page.evaluate(() => (location.hash = "#/sockets/"));
  for (const id of [alice.id, bob.id]) {
    await page.getByText(id, { exact: true }).first().waitFor();
  }
  const listed = await page.evaluate(() =>
    Array.from(document.querySelectorAll("td")).map((td) => td.textContent.trim()),
  );
  step("both sockets listed");

  // alice's details: its rooms, and the form to join one.
  await page.evaluate((id) => (location.hash = `#/n/${encodeURIComponent("/")}/sockets/${id}`), alice.id);
  await cell(page, "lobby").waitFor();
  const room = page.getByLabel("Join a room");
  await room.fill("vip");
  // The join button (an icon), not the hidden connection form's "Connect".
  await page.locator("form button[type=submit]").filter({ hasNotText: "Connect" }).click();
  await cell(page, "vip").waitFor();
  const roomsShown = await page.evaluate(() =>
    Array.from(document.querySelectorAll("td")).map((td) => td.textContent.trim()),
  );
  const aliceRooms = await alice.timeout(10000).emitWithAck("rooms");
  step(`alice's rooms: ${aliceRooms}`);

  // bob's details (through the list: the details page reads its socket when mounted only).
  await page.evaluate(() => (location.hash = "#/sockets/"));
  await page.getByText(bob.id, { exact: true }).first().waitFor();
  await page.evaluate((id) => (location.hash = `#/n/${encodeURIComponent("/")}/sockets/${id}`), bob.id);
  await cell(page, "games").waitFor();
  await page.locator("button:has(i.mdi-logout)").first().click();
  const bobReason = await Promise.race([
    bobGone,
    new Promise((_, reject) => setTimeout(() => reject(new Error("bob was not disconnected")), 15000)),
  ]);
  step(`bob disconnected: ${bobReason}`);
  alice.disconnect();
  return { ...ids, listed, roomsShown, aliceRooms, bobReason };
});
