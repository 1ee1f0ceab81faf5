// permessage-deflate of the real `ws` (the copy engine.io uses) for the differential test
// tests/tests/ws_deflate_node.rs, which compares it with sio-server/src/transport/deflate.rs.
//
// Reads one JSON request on stdin, writes one JSON answer on stdout. Bytes are base64.
//
// Request:
//   negotiate:  [{header, clientNoContextTakeover}]
//     -> [{ws, filtered, engineio}] where each is {answer: string} | {none: true} |
//        {error: string}:
//        ws        what ws's WebSocketServer answers with the options
//                  {threshold: 1024, serverNoContextTakeover: true[, clientNoContextTakeover]}
//                  (extension.parse, PerMessageDeflate#accept, extension.format);
//        filtered  the same, but offers whose server_max_window_bits is below 15 are dropped
//                  after ws's normalizeParams (the one rule where sio differs);
//        engineio  ws with engine.io's own options ({threshold: 1024}), for reference.
//   compress:   [{clientNoContextTakeover, messages: [[fragment base64]]}]
//     -> [[base64]]: each message compressed as a ws client does (one compress call per
//        fragment, fin on the last; the client's context is kept between messages unless
//        clientNoContextTakeover).
//   decompress: [{serverNoContextTakeover, messages: [base64]}]
//     -> [[{ok: base64} | {error, code}]]: server messages inflated by a ws client.
//   inflate:    [{clientNoContextTakeover, maxPayload, messages: [base64]}]
//     -> [[{ok: base64} | {error, code}]]: client messages inflated by a ws server (the
//        sequence stops at the first error, as the connection would).
"use strict";

const path = require("path");

const nodeModules = path.join(__dirname, "..", "node_modules");
const wsDir = path.dirname(
  require.resolve("ws/package.json", {
    paths: [path.join(nodeModules, "engine.io")],
  }),
);
const PerMessageDeflate = require(path.join(wsDir, "lib", "permessage-deflate.js"));
const extension = require(path.join(wsDir, "lib", "extension.js"));
const { kStatusCode } = require(path.join(wsDir, "lib", "constants.js"));

const b64 = (buf) => Buffer.from(buf).toString("base64");
const unb64 = (s) => Buffer.from(s, "base64");

function answer(f) {
  try {
    const params = f();
    if (params === null) return { none: true };
    return { answer: extension.format({ [PerMessageDeflate.extensionName]: [params] }) };
  } catch (e) {
    return { error: e.message };
  }
}

// websocket-server.js, handleUpgrade: parse, then accept the permessage-deflate offers.
function negotiate(header, options, filter) {
  return answer(() => {
    const pmd = new PerMessageDeflate({ ...options, isServer: true, maxPayload: 1e6 });
    const offers = extension.parse(header);
    const list = offers[PerMessageDeflate.extensionName];
    if (!list) return null;
    if (!filter) return pmd.accept(list);
    const usable = pmd
      .normalizeParams(list)
      .filter((p) => !(typeof p.server_max_window_bits === "number" && p.server_max_window_bits < 15));
    if (usable.length === 0) return null;
    return pmd.acceptAsServer(usable);
  });
}

function run(pmd, method, data, fin) {
  return new Promise((resolve) => {
    pmd[method](data, fin, (err, result) => resolve({ err, result }));
  });
}

async function compress({ clientNoContextTakeover, messages }) {
  const pmd = new PerMessageDeflate({});
  pmd.params = clientNoContextTakeover ? { client_no_context_takeover: true } : {};
  const out = [];
  for (const fragments of messages) {
    const parts = [];
    for (let i = 0; i < fragments.length; i++) {
      const { err, result } = await run(pmd, "compress", unb64(fragments[i]), i === fragments.length - 1);
      if (err) throw err;
      parts.push(result);
    }
    out.push(b64(Buffer.concat(parts)));
  }
  pmd.cleanup();
  return out;
}

async function inflateAll(pmd, messages) {
  const out = [];
  for (const message of messages) {
    const { err, result } = await run(pmd, "decompress", unb64(message), true);
    if (err) {
      out.push({ error: err.message, code: err[kStatusCode] ?? null });
      break;
    }
    out.push({ ok: b64(result) });
  }
  pmd.cleanup();
  return out;
}

async function main() {
  let input = "";
  for await (const chunk of process.stdin) input += chunk;
  const request = JSON.parse(input);

  const result = { negotiate: [], compress: [], decompress: [], inflate: [] };
  for (const { header, clientNoContextTakeover } of request.negotiate ?? []) {
    const options = { threshold: 1024, serverNoContextTakeover: true };
    if (clientNoContextTakeover) options.clientNoContextTakeover = true;
    result.negotiate.push({
      ws: negotiate(header, options, false),
      filtered: negotiate(header, options, true),
      engineio: negotiate(header, { threshold: 1024 }, false),
    });
  }
  for (const c of request.compress ?? []) result.compress.push(await compress(c));
  for (const { serverNoContextTakeover, messages } of request.decompress ?? []) {
    const pmd = new PerMessageDeflate({ maxPayload: 0 });
    pmd.params = serverNoContextTakeover ? { server_no_context_takeover: true } : {};
    result.decompress.push(await inflateAll(pmd, messages));
  }
  for (const { clientNoContextTakeover, maxPayload, messages } of request.inflate ?? []) {
    const pmd = new PerMessageDeflate({ isServer: true, maxPayload });
    pmd.params = clientNoContextTakeover ? { client_no_context_takeover: true } : {};
    result.inflate.push(await inflateAll(pmd, messages));
  }
  process.stdout.write(JSON.stringify(result));
}

main().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
