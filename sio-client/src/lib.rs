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
//!  polling (reqwest)  WebSocket (tokio-tungstenite)
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
//! ```no_run
//! use std::time::Duration;
//! use sio_client::{Options, io};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), sio_client::Error> {
//!     let socket = io("http://localhost:3000/", Options::default())?;
//!     socket.on("chat", |msg| {
//!         if let Ok((text,)) = msg.deserialize::<(String,)>() {
//!             println!("chat: {text}");
//!         }
//!     });
//!     socket.emit("chat", &("hello", 42))?;
//!     let reply = socket
//!         .timeout(Duration::from_secs(5))
//!         .emit_with_ack("sum", &(1, 2))
//!         .await?;
//!     let (sum,): (u32,) = reply.deserialize().map_err(|_| ()).unwrap_or((0,));
//!     println!("1 + 2 = {sum}");
//!     socket.disconnect();
//!     Ok(())
//! }
//! ```
//!
//! # Behaviour
//!
//! - Handlers run on the manager's task, in the order events arrive; they must not block.
//!   Register them before [`Socket::connect`] (with [`io`], right after the call).
//! - Emits while disconnected are buffered and sent, in order, after the next `connect`;
//!   acks of buffered emits survive a disconnection, other pending acks fail with
//!   `"socket has been disconnected"`. An emit also waits in the buffer when the heartbeat
//!   deadline has passed unnoticed (the connection is then closed as `"ping timeout"`).
//! - [`Socket::volatile`] emits are dropped instead when the transport cannot take them;
//!   [`Options::retries`] sends every emit through a queue with acks and re-sends it;
//!   [`Options::ack_timeout`] bounds every ack.
//! - Events reach the handlers ([`Socket::on`], [`Socket::once`], the catch-all
//!   [`Socket::on_any`] first) and the [`Socket::events`] streams;
//!   [`Socket::on_any_outgoing`] sees each event as it is written.
//! - The manager reconnects after `"ping timeout"`, `"transport close"`, `"transport error"`
//!   and `"parse error"`, not after `"io server disconnect"` or [`Socket::disconnect`]. A
//!   namespace refused by the server (`connect_error` with its `data`) is not retried.
//! - What a server sends is bounded: a packet larger than the server's announced
//!   `maxPayload` ([`Options::DEFAULT_MAX_PAYLOAD`], 1,000,000 bytes, before the handshake;
//!   [`Options::max_payload`] to choose), in a long-polling answer or as a WebSocket message,
//!   is not read any further and fails the transport (`"xhr poll error: ..."`,
//!   `"websocket error: ..."`). A long-polling answer is taken packet by packet as it streams
//!   in, each copied into a buffer of its own; a WebSocket frame header that declares more is
//!   refused before its payload arrives. An empty or undecodable long-polling answer or
//!   WebSocket message is engine.io-client's `error` packet (`"server error: ..."`). Each
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
//! connected; the message of a transport failure carries its cause after the JavaScript text
//! (`"xhr poll error: ..."`, `"websocket error: ..."`); the cache of [`io`] holds its
//! managers weakly; [`Options::remember_upgrade`] remembers per manager, not per process;
//! [`Socket::recovered`] is always false (no connection state recovery yet); [`Socket::off`],
//! [`Socket::off_any`] and
//! [`Socket::off_any_outgoing`] remove every handler of their kind (closures cannot be
//! compared, so there is no form that removes one).
//!
//! # `siocat`
//!
//! The crate's binary is a Socket.IO client on the command line: one JSON emit per line of
//! stdin (`{"emit":"chat","args":["hi"],"ack":true}`), one JSON line per event on stdout
//! (`{"event":"chat","namespace":"/","args":["hi"]}`, `connect`, `ack`, `connect_error`,
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
//! Not supported yet: Engine.IO v3 servers, connection state recovery.

mod commands;
mod driver;
mod engine;
mod error;
mod events;
mod manager;
mod message;
mod options;
mod shared;
mod socket;
mod sync;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;

pub use error::{ConnectError, DisconnectReason, Error};
pub use events::{Events, ManagerEvent, SocketEvent};
pub use manager::Manager;
pub use message::Message;
pub use options::{Options, Parser, TransportKind};
pub use sio_protocol as protocol;
pub use sio_protocol::Value;
pub use sio_protocol::socket::Args;
pub use socket::{Socket, io};
