// A polling GET sent together with the end of its TCP connection: does the server see that the
// client went away? 100 clients each do the handshake, join `/`, read the CONNECT, then write
// one more GET and close the connection at once (the request and the FIN arrive together).
// Then the script counts the sessions still open 0.5 s later, on Node socket.io 4.8 (which
// closes each one at once, "transport error") and on our server (`leak_check server`, the
// server of the leak check: ping every 2 s, 5 s to answer, so a session the server does not
// see go ends 7 s later; 45 s with the default timers).
//
// Usage: cargo build --release -p sio-bench && node bench/leak/get-and-close.js
"use strict";
const path = require("path");
const net = require("net");
const http = require("http");
const { spawn } = require("child_process");
const readline = require("readline");
const { Server } = require(path.join(__dirname, "../../tests/node_modules", "socket.io"));

const N = 100;

// Reads one HTTP response with a Content-Length from `sock`; resolves with its body.
function response(sock) {
  return new Promise((resolve) => {
    let buf = "";
    const onData = (d) => {
      buf += d;
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const len = +/content-length: *(\d+)/i.exec(buf.slice(0, end))[1];
      if (Buffer.byteLength(buf.slice(end + 4), "latin1") < len) return;
      sock.off("data", onData);
      resolve(buf.slice(end + 4));
    };
    sock.on("data", onData);
  });
}

async function clients(port) {
  for (let k = 0; k < N; k++) {
    const sock = net.connect(port, "127.0.0.1");
    sock.setEncoding("latin1");
    await new Promise((r) => sock.once("connect", r));
    sock.write("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n");
    const sid = JSON.parse((await response(sock)).slice(1)).sid;
    const q = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    sock.write(`POST ${q} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n40`);
    await response(sock);
    sock.write(`GET ${q} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await response(sock); // the CONNECT
    // A GET and the FIN together: libuv writes the request at once (the socket is idle),
    // then the descriptor is closed.
    sock.write(`GET ${q} HTTP/1.1\r\nHost: x\r\n\r\n`);
    sock.destroy();
  }
  await new Promise((r) => setTimeout(r, 500));
}

async function node() {
  const server = http.createServer();
  const io = new Server(server, { pingInterval: 2000, pingTimeout: 5000 });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  await clients(server.address().port);
  console.log(`Node socket.io: ${io.engine.clientsCount} of ${N} sessions still open 0.5 s later`);
  io.close();
}

async function sio() {
  const exe = path.join(__dirname, "../../target/release/leak_check");
  const child = spawn(exe, ["server"], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const port = +(await lines.next()).value.split(" ")[1];
  await clients(port);
  child.stdin.write("stats\n");
  const stats = JSON.parse((await lines.next()).value);
  console.log(`sio-server: ${stats.sessions} of ${N} sessions still open 0.5 s later`);
  child.stdin.end();
}

node().then(sio).catch((e) => {
  console.error(e);
  process.exit(1);
});
