//! A Socket.IO client that behaves like `socket.io-client` 4.x.
//!
//! ```text
//!  Socket ("/")   Socket ("/admin")        handles: emit, on, connect, disconnect
//!        \            /
//!         Manager                          one tokio task, which drives:
//!         ClientSession (sio_protocol)     namespaces, buffers, acks, retries, reconnection,
//!            │                             connection state recovery
//!         engine (sio_protocol Session)    handshake, heartbeat, probe + upgrade, close
//!        /           \
//!  polling (reqwest)  WebSocket (tungstenite handshake, sio_protocol frames)
//! ```
//!
//! The protocol logic lives in [`sio_protocol`] (re-exported as [`protocol`]): socket.io-client's
//! Manager and Sockets are its [`ClientSession`](protocol::socket::ClientSession), the Engine.IO
//! connection its [`engine::Session`](protocol::engine::Session). This crate adds the I/O, the
//! clock, the handlers and the Node-style API. It connects over HTTP long-polling first and upgrades to
//! WebSocket in the background (or uses one transport only, see [`Options::transports`]),
//! detects a dead server by its heartbeat, and reconnects forever by default with
//! socket.io-client's backoff.
//!
//! ```
//! use std::time::Duration;
//! use sio_client::{AckSender, Options, Socket, io};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! #   // A sio-server in the same process, for the example to run against.
//! #   let server = sio_server::SocketIo::new(sio_server::SocketIoConfig::default());
//! #   server.of("/").on_connection(|socket| async move {
//! #       socket.on("sum", |_s: sio_server::Socket, (a, b): (u32, u32), ack: sio_server::Ack| async move {
//! #           let _ = ack.send(&(a + b,));
//! #       });
//! #   });
//! #   let handle = server.listen("127.0.0.1:0").await?;
//! #   let url = format!("http://{}/", handle.local_addr());
//!     let socket = io(&url, Options::default())?; // "http://localhost:3000/"
//!     // Async and typed, as the server's handlers: the arguments as a tuple (or a struct).
//!     socket.on("chat", |_socket: Socket, (user, text): (String, String)| async move {
//!         println!("{user}: {text}");
//!     });
//!     // With the ack, when the server asks for one.
//!     socket.on("ping", |_socket: Socket, (): (), ack: AckSender| async move {
//!         let _ = ack.send(&"pong");
//!     });
//!     // Arguments that do not match a handler's type end up here (and in the log).
//!     socket.on_error(|error| eprintln!("{error}: {:?}", std::error::Error::source(&error)));
//!     socket.on_connect_error(|error| eprintln!("connect_error: {error}"));
//!     socket.emit("chat", &("hello", 42))?;
//!     let reply = socket
//!         .timeout(Duration::from_secs(5))
//!         .emit_with_ack("sum", &(1, 2))
//!         .await?;
//!     let (sum,): (u32,) = reply.deserialize()?;
//!     println!("1 + 2 = {sum}");
//! #   assert_eq!(sum, 3);
//!     socket.disconnect();
//!     Ok(())
//! }
//! ```
//!
//! # Handlers
//!
//! [`Socket::on`] takes a closure of one of three shapes, told apart by their parameters
//! (see [`handler`]): `|msg: Message| { ... }` (the raw event, synchronous),
//! `|socket: Socket, data: T| async move { ... }` and
//! `|socket: Socket, data: T, ack: AckSender| async move { ... }`, `T` being any
//! `DeserializeOwned` type. `on` adds a handler (several handlers of an event all run, in
//! order, as in JavaScript) and returns its [`HandlerId`]; [`Socket::off`] removes every
//! handler of an event, [`Socket::off_handler`] one.
//!
//! ```
//! use serde::Deserialize;
//! use sio_client::{AckSender, Message, Options, Socket, io};
//!
//! #[derive(Deserialize)]
//! struct Move {
//!     x: i32,
//!     y: i32,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), sio_client::Error> {
//! let socket = io("http://localhost:3000", Options::default().auto_connect(false))?;
//! let log = socket.on("move", |msg: Message| println!("{:?}", msg.args()));
//! socket.on("move", |_socket: Socket, m: Move| async move {
//!     println!("to {},{}", m.x, m.y);
//! });
//! socket.on("undo", |socket: Socket, (steps,): (u32,), ack: AckSender| async move {
//!     let _ = socket.emit("undone", &steps);
//!     let _ = ack.send(&true);
//! });
//! socket.once("welcome", |_socket: Socket, text: String| async move {
//!     println!("{text}");
//! });
//! assert!(socket.off_handler(log));
//! socket.off("undo");
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! Every fallible call returns [`Error`], and `connect_error`, the manager's `error` and
//! `reconnect_error` and [`Socket::on_error`] carry it. It tells what failed with
//! [`Error::kind`] and `is_*` methods, its message is socket.io-client's
//! (`"xhr poll error"`, `"websocket error"`, `"timeout"`, `"operation has timed out"`...), and
//! its [`source`](std::error::Error::source) is the cause (a `reqwest::Error`, a tungstenite
//! error from the WebSocket handshake, an [`sio_protocol::Error`] for a refused WebSocket frame,
//! an `std::io::Error`, a `url::ParseError`, a serializer's or deserializer's error).
//!
//! # Behaviour
//!
//! - Handlers are called on the manager's task, in the order events arrive. A synchronous
//!   one must not block; an async one is polled there once and, if it waits, goes on in a
//!   task of its own (see [how handlers run](handler#how-they-run)). Register them before
//!   [`Socket::connect`] (with [`io`], right after the call).
//! - Emits while disconnected wait in the socket's send buffer, and events that arrive
//!   before the server's answer to the socket's CONNECT in its receive buffer (see
//!   [Buffering](#buffering)). [`Socket::volatile`] emits are dropped instead when the
//!   transport cannot take them; [`Options::retries`] sends every emit through a queue with
//!   acks and re-sends it; [`Options::ack_timeout`] bounds every ack.
//! - Events reach the handlers ([`Socket::on`], [`Socket::once`], the catch-all
//!   [`Socket::on_any`] first) and the [`Socket::events`] streams;
//!   [`Socket::on_any_outgoing`] sees each event as it is written.
//! - The manager reconnects after `"ping timeout"`, `"transport close"`, `"transport error"`
//!   and `"parse error"`, not after `"io server disconnect"` or [`Socket::disconnect`]. A
//!   namespace refused by the server (`connect_error` with its `data`) is not retried.
//! - What a server sends is bounded: a packet larger than the server's announced
//!   `maxPayload` ([`Options::DEFAULT_MAX_PAYLOAD`], 1,000,000 bytes, before the handshake;
//!   [`Options::max_payload`] to choose), in a long-polling answer or as a WebSocket message,
//!   is not read any further and fails the transport (`"xhr poll error"`,
//!   `"websocket error"`, the bound in the error's source). A long-polling answer is taken packet by packet as it streams
//!   in, each copied into a buffer of its own; a WebSocket frame header that declares more is
//!   refused before its payload arrives. An empty or undecodable long-polling answer or
//!   WebSocket message is engine.io-client's `error` packet (`"server error"`). Each
//!   failure is a `connect_error` for a connection attempt, or a `"transport error"`
//!   disconnection (after the manager's `error` event) and a reconnection for an open
//!   connection; the manager keeps retrying with its backoff.
//! - Time is bounded too: [`Options::timeout`] (20 s) covers a connection attempt, the
//!   handshake's whole response included (headers sent and then a stalled or dribbled body);
//!   an open connection ends with `"ping timeout"` when no heartbeat comes within the sum of
//!   pingInterval and pingTimeout, and a long poll or a POST that has no complete answer
//!   within that sum and 2 s more fails.
//! - The task ends when every [`Manager`] and [`Socket`] handle is dropped. A handler that
//!   holds a handle of its own socket keeps it alive: call [`Socket::disconnect`] or
//!   [`Manager::close`] to end a connection for good.
//!
//! Differences from socket.io-client: `disconnect` is only reported for a socket that was
//! connected; the cache of [`io`] holds its managers weakly; [`Options::remember_upgrade`]
//! remembers per manager, not per process; the receive buffer is dropped when the connection
//! closes ([Buffering](#buffering)); closures cannot be compared, so a handler of
//! [`Socket::on`] is removed by the id `on` returned ([`Socket::off_handler`]), and
//! [`Socket::off_any`] and [`Socket::off_any_outgoing`] remove every handler of their kind.
//!
//! # Buffering
//!
//! Each socket has a send buffer, a receive buffer and (with [`Options::retries`]) a retries
//! queue. They live in the manager's task for the life of the manager, across connections,
//! and hold no memory while empty. None has a bound, as in socket.io-client: they grow while
//! the application emits into a connection that is down, or a server sends to a socket that
//! waits for its CONNECT answer.
//!
//! - **Send buffer** (`sendBuffer`): an emit made while the socket is not connected (before
//!   its first connection, while the manager reconnects, after a disconnection) waits here;
//!   so does one made after the heartbeat deadline passed unnoticed (the connection is then
//!   closed as `"ping timeout"`, and the emit not written to it). The buffer is written, in
//!   order, when the server accepts the socket's next CONNECT, before the `connect` handlers
//!   run; [`Socket::on_any_outgoing`] sees each emit then. A pending ack of a buffered emit
//!   survives a disconnection (its packet has not left yet); the other pending acks fail
//!   with `"socket has been disconnected"`. An ack that times out takes its packet out of
//!   the buffer. A [volatile](Socket::volatile) emit never waits: it is dropped when the
//!   socket is not connected, or the transport cannot take it at once (a long-polling
//!   request in flight, an upgrade under way).
//! - **Receive buffer** (`receiveBuffer`): an event that arrives after the socket sent its
//!   CONNECT and before the server's answer waits here, and is handed to the handlers right
//!   after the answer, before the `connect` handlers ([`Socket::connected`] and
//!   [`Socket::id`] already tell the new connection). A server recovering a session sends the
//!   events the client missed there (see below). The buffer is dropped when the socket is
//!   disconnected or refused (`connect_error` from the server), and when the connection
//!   closes before the answer (socket.io-client keeps it then: a recovering server replays
//!   those events again on the next connection, and they would be handed out twice); events
//!   of a namespace that has no active socket are dropped.
//! - **Retries queue** (`retries`): every non-volatile emit goes through it, one in flight
//!   at a time, each with an ack request; an emit whose ack does not come (its timeout, or a
//!   disconnection) is sent again, the one in flight again after each reconnection, until it
//!   was tried more than `retries` times.
//!
//! # Connection state recovery
//!
//! A socket.io server (4.6 or later) with `connectionStateRecovery` keeps a disconnected
//! socket's session for a while (`maxDisconnectionDuration`) and replays what the socket
//! missed when it comes back. The client's part, as socket.io-client does it:
//!
//! - The server's CONNECT answer carries the session's private id (`pid`), and each event it
//!   sends (neither volatile nor with an ack request) carries an offset as its last argument.
//!   The socket keeps the `pid` and the offset of the last event it handed to its handlers
//!   (the last argument, when it is a string, of an event without ack request), in memory,
//!   across the manager's reconnections.
//! - Its next CONNECT asks for the session back: its payload is `{"pid": ..., "offset": ...}`
//!   with the keys of the socket's auth ([`Socket::set_auth`]) merged in (an auth that is not
//!   an object is left out then). With no offset yet (no event since the session began) it
//!   sends the `pid` alone, and the server starts a new session.
//! - A server that still has the session restores it: the socket keeps its [`Socket::id`]
//!   (and its rooms and `socket.data` on the server), the missed events arrive before the
//!   CONNECT answer, so the receive buffer hands them to the handlers first, then the
//!   `connect` handlers run with [`Socket::recovered`] true. Each event arrives once: the
//!   server replays only what came after the offset the client sent.
//! - Otherwise (recovery off, the session expired or ended for good, the offset no longer
//!   stored) the socket gets a new session: a new id, `recovered()` false, the events sent
//!   while it was away lost; its new `pid` replaces the old one and the old offset is
//!   forgotten.
//! - The offset stays in the arguments the handlers see (as in JavaScript): read arguments
//!   by position, and ignore a trailing string you did not send.
//! - What recovery does not cover: acks. Pending acks of emits already written fail at the
//!   disconnection; emits made while disconnected wait in the send buffer and go out after
//!   `connect`, recovered or not.
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // A sio-server in the same process, with connection state recovery on.
//! # let config = sio_server::SocketIoConfig::default()
//! #     .connection_state_recovery(sio_server::ConnectionStateRecovery::default());
//! # let server = sio_server::SocketIo::new(config);
//! # let handle = server.listen("127.0.0.1:0").await?;
//! # let options = sio_client::Options::default().auto_connect(false);
//! # let socket = sio_client::io(&format!("http://{}/", handle.local_addr()), options)?;
//! # let (tx, rx) = std::sync::mpsc::channel();
//! let handle = socket.clone();
//! socket.on_connect(move || {
//!     if handle.recovered() {
//!         println!("session {:?} recovered, missed events delivered", handle.id());
//!     } else {
//!         println!("new session {:?}: reload the state", handle.id());
//!     }
//! #   tx.send(handle.recovered()).unwrap();
//! });
//! # socket.connect();
//! # // The first connection is a new session.
//! # assert!(!tokio::task::spawn_blocking(move || rx.recv()).await??);
//! # Ok(()) }
//! ```
//!
//! # `siocat`
//!
//! The crate's binary is a Socket.IO client on the command line: one JSON emit per line of
//! stdin (`{"emit":"chat","args":["hi"],"ack":true}`), one JSON line per event on stdout
//! (`{"event":"chat","namespace":"/","args":["hi"]}`;
//! `{"connect":{"namespace":"/","id":"...","recovered":false}}`; `ack`, `connect_error`,
//! `disconnect`, `reconnect_attempt`, `reconnect`, `upgrade`), binary as
//! `{"$binary":"<base64>"}`. `siocat --help` lists its options.
//!
//! ```sh
//! echo '{"emit":"echo","args":[1],"ack":true}' | cargo run -p sio-client --bin siocat -- http://localhost:3000
//! ```
//!
//! # Features
//!
//! - `tls`: `https://` and `wss://` with rustls (ring provider): one `rustls::ClientConfig`
//!   serves both long-polling and the WebSocket (`Options::tls_config`, by default the
//!   system's root certificates; [`tls`] builds one with extra roots, or one that accepts any
//!   certificate for development).
//! - `msgpack`: [`Parser::MsgPack`](protocol::socket::Parser), the encoding of the npm
//!   package `socket.io-msgpack-parser` ([`Options::parser`]).
//!
//! Not supported yet: Engine.IO v3 servers.

mod commands;
mod driver;
mod engine;
mod error;
mod events;
pub mod handler;
mod manager;
mod message;
mod options;
mod shared;
mod socket;
mod sync;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;

pub use error::{DisconnectReason, Error, ErrorKind};
pub use events::{Events, ManagerEvent, SocketEvent};
pub use handler::{Handler, OnceHandler};
pub use manager::Manager;
pub use message::{AckSender, Message};
pub use options::{Options, Parser, TransportKind};
pub use sio_protocol as protocol;
pub use sio_protocol::Value;
pub use sio_protocol::socket::Args;
pub use socket::{HandlerId, Socket, io};
