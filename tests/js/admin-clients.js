// Official socket.io-client 4.8 clients for the Admin UI tests (tests/tests/admin_ui.rs):
// admin clients play the Admin UI's part on the wire, plain clients are the sockets it watches.
//
//   node tests/js/admin-clients.js
//
// Reads {"id","op","args"} lines, answers {"id","ok"} or {"id","error"}:
//   connect {name, url, nsp?, auth?, query?, transports?} → the socket id, or the error of
//                                      connect_error (its message); no reconnection
//   emit {client, event, args}         → null (sent without acknowledgement)
//   ask {client, event, args}          → the acknowledgement (10 s timeout)
//   close {client}                     → null
// Prints the events of the clients:
//   {"event":"received","client":<name>,"name":<event>,"args":[...]}
//   {"event":"disconnected","client":<name>,"reason":<reason>}
"use strict";

const readline = require("readline");
const { io: connect } = require("socket.io-client");

const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const clients = new Map();

function client(name) {
  const socket = clients.get(name);
  if (!socket) throw new Error(`no client ${name}`);
  return socket;
}

const ops = {
  connect({ name, url, nsp = "/", auth, query, transports = ["websocket"] }) {
    return new Promise((resolve, reject) => {
      const socket = connect(url + nsp, {
        forceNew: true,
        reconnection: false,
        transports,
        auth,
        query,
      });
      clients.set(name, socket);
      socket.onAny((event, ...args) => print({ event: "received", client: name, name: event, args }));
      socket.on("disconnect", (reason) => print({ event: "disconnected", client: name, reason }));
      socket.once("connect", () => resolve(socket.id));
      socket.once("connect_error", (e) => {
        clients.delete(name);
        reject(e);
      });
    });
  },
  emit({ client: name, event, args = [] }) {
    client(name).emit(event, ...args);
    return null;
  },
  ask({ client: name, event, args = [] }) {
    return client(name).timeout(10000).emitWithAck(event, ...args);
  },
  close({ client: name }) {
    client(name).disconnect();
    clients.delete(name);
    return null;
  },
};

readline.createInterface({ input: process.stdin }).on("line", async (line) => {
  const { id, op, args } = JSON.parse(line);
  try {
    const ok = await ops[op](args || {});
    print({ id, ok: ok === undefined ? null : ok });
  } catch (e) {
    print({ id, error: String((e && e.message) || e) });
  }
});
process.stdin.on("end", () => process.exit(0));
