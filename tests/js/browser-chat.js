// Drives the chat example (sio-server/examples/chat) in headless Chromium: alice and bob join
// the room "lobby", carol joins "elsewhere"; bob types (alice sees the typing notice), sends a
// message and an image. Prints one JSON line with what each page shows:
// { alice: { log, typing, images: [{ alt, width, height, bytes }] }, bob: {...}, carol: {...} }.
//
//   node tests/js/browser-chat.js <url> [timeout_ms]
"use strict";
const { withBrowser, forwardConsole } = require("./browser-common");

const url = process.argv[2];
const timeoutMs = Number(process.argv[3] || 50000);
if (!url) {
  console.error("usage: node browser-chat.js <url> [timeout_ms]");
  process.exit(2);
}
const step = (text) => console.error(`chat driver: ${text}`);
const WAIT = { timeout: 15000, polling: 50 };

// A 2x1 PNG (one red, one blue pixel), made here so that it is surely valid.
function png() {
  const zlib = require("zlib");
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (buf) => {
    let c = 0xffffffff;
    for (const byte of buf) c = crcTable[(c ^ byte) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(2, 0); // width
  ihdr.writeUInt32BE(1, 4); // height
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.from([0, 255, 0, 0, 0, 0, 255]); // filter 0, red, blue
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib.deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}
const PNG = png();

async function join(context, nick, room) {
  const page = await context.newPage();
  forwardConsole(page, nick);
  await page.goto(url, { waitUntil: "load", timeout: 20000 });
  await page.fill("#nick", nick);
  await page.fill("#room", room);
  await page.click("#join");
  await page
    .waitForFunction((room) => document.getElementById("log").textContent.includes(`joined ${room} as`), room, WAIT)
    .catch(async (e) => {
      // What the page shows says where it stopped: no line (never connected), "refused",
      // "cannot join" (the join's ack timed out) or "disconnected".
      const log = await page.evaluate(() => document.getElementById("log").textContent).catch(() => "?");
      throw new Error(`${nick} did not join ${room}; the page's log: ${JSON.stringify(log)}; ${e.message}`);
    });
  step(`${nick} joined ${room}`);
  return page;
}

const logHas = (page, text) =>
  page.waitForFunction((text) => document.getElementById("log").textContent.includes(text), text, WAIT);

// What a page shows: the lines of the log, the typing notice, the images (decoded).
const snapshot = (page) =>
  page.evaluate(async () => {
    const images = [];
    for (const img of document.querySelectorAll("#log img")) {
      await img.decode().catch(() => {});
      const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
      images.push({ alt: img.alt, width: img.naturalWidth, height: img.naturalHeight, bytes: Array.from(bytes) });
    }
    return {
      log: Array.from(document.querySelectorAll("#log > div")).map((d) => d.textContent),
      typing: document.getElementById("typing").textContent,
      images,
    };
  });

withBrowser(timeoutMs, async (context) => {
  const alice = await join(context, "alice", "lobby");
  const bob = await join(context, "bob", "lobby");
  const carol = await join(context, "carol", "elsewhere");
  await logHas(alice, "bob joined");

  // Typing: input events send volatile "typing" notices; alice's page shows one.
  await bob.click("#input");
  await bob.keyboard.type("hello alice", { delay: 20 });
  await alice.waitForFunction(
    () => document.getElementById("typing").textContent.includes("bob is typing"),
    null,
    WAIT,
  );
  const typing = await alice.evaluate(() => document.getElementById("typing").textContent);
  step(`alice sees "${typing}"`);

  await bob.click("#send");
  await logHas(bob, "bob: hello alice (sent)");
  await logHas(alice, "bob: hello alice");
  step("message delivered");

  await bob.setInputFiles("#image", { name: "pixels.png", mimeType: "image/png", buffer: PNG });
  await bob.waitForFunction(() => document.querySelectorAll("#log img").length === 1, null, WAIT);
  await alice.waitForFunction(
    () => {
      const img = document.querySelector("#log img");
      return img && img.complete && img.naturalWidth > 0;
    },
    null,
    WAIT,
  );
  step("image delivered");

  // carol is in another room: a last message to her room proves her page was listening.
  await bob.fill("#input", "");
  const out = {
    alice: await snapshot(alice),
    bob: await snapshot(bob),
    png: Array.from(PNG),
  };
  const dave = await join(context, "dave", "elsewhere");
  await logHas(carol, "dave joined");
  out.carol = await snapshot(carol);
  await dave.close();
  out.typing = typing;
  return out;
});
