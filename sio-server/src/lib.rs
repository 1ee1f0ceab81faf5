//! A Socket.IO 4.x server on hyper 1.
//!
//! [`SocketIo`] is the server: namespaces, sockets, rooms, broadcasting and acknowledgements
//! (Socket.IO protocol 5, and 4 for Engine.IO v3 clients), compatible with the JavaScript
//! `socket.io` 4 clients and servers.
//!
//! # Example: a chat room
//!
//! A handler per namespace runs for each socket that connects; a handler per event runs for
//! each event, and answers the client's callback through its [`Ack`]; a broadcast reaches the
//! sockets of a room.
//!
//! ```
//! use sio_server::{Ack, Socket, SocketIo, SocketIoConfig};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let io = SocketIo::new(SocketIoConfig::default());
//! io.of("/chat").on_connection(|socket| async move {
//!     socket.join("lobby").await;
//!     // `socket.emit("message", text, (reply) => ...)` on the client.
//!     socket.on("message", |socket: Socket, (text,): (String,), ack: Ack| async move {
//!         // To the other sockets in the room (on every server, with a cluster adapter).
//!         let _ = socket.to("lobby").emit("message", &(socket.id(), &text)).await;
//!         let _ = ack.send(&("received",));
//!     });
//! });
//! // Port 0: any free port (as this example runs as a test); "0.0.0.0:3000" in real life.
//! let server = io.listen("127.0.0.1:0").await?;
//! println!("listening on {}", server.local_addr());
//! # // A client of the same process, as a browser would be: it sends a message and gets the ack.
//! # let url = format!("http://{}/chat", server.local_addr());
//! # let client = sio_client::io(&url, sio_client::Options::default())?;
//! # let reply = client.timeout(std::time::Duration::from_secs(10)).emit_with_ack("message", &"hi").await?;
//! # assert_eq!(reply.deserialize::<(String,)>()?.0, "received");
//! # client.disconnect();
//! # Ok(())
//! # }
//! ```
//!
//! [`SocketIo`]'s documentation says in which order a socket's handlers run; [`Socket`],
//! [`Namespace`] and [`BroadcastOperator`] have the calls of their JavaScript counterparts.
//!
//! # The layers
//!
//! ```text
//!  Socket.IO    SocketIo ─ Namespace ─ Socket, BroadcastOperator, Adapter (rooms, clusters)
//!                  │ one Socket.IO client per Engine.IO connection, driven by its session task
//!  Engine.IO    EngineIo ─ session task (one per connection: owns its
//!                  │       sio_protocol::engine::Session, one timer, the WebSocket)
//!                  │       ◄── long-polling (GET/POST bodies) or WebSocket (polled by the task)
//!                  │       Connection (recv / send / close) ← EngineIo::accept, without SocketIo
//!  HTTP         serve / listen (the accept loop), EngineService (hyper), EngineLayer (tower),
//!               and what the server reads and writes in HTTP: Cors, Cookie, AllowRequest,
//!               HttpCompression
//! ```
//!
//! The protocol logic lives in [`sio_protocol`] (Engine.IO and Socket.IO codecs, the session
//! state machines, WebSocket frames, permessage-deflate, JSONP framing); this crate adds the
//! I/O. One task per connection, and an idle connection holds no buffer: about 5.0 KB of memory
//! per idle WebSocket connection at 10,000 connections (`BENCHMARKS.md` §2.1 gives the method).
//!
//! # Serving
//!
//! [`SocketIo`] and [`EngineIo`] run the same ways:
//!
//! - [`EngineIo::serve`] / [`SocketIo::serve`]: awaited like `axum::serve`, with
//!   [`with_graceful_shutdown`](Serve::with_graceful_shutdown);
//! - [`EngineIo::layer`] / [`SocketIo::layer`]: a tower layer, to mount the server in an axum
//!   `Router` beside other routes (requests outside the path pass through);
//! - [`EngineIo::service`] / [`SocketIo::service`]: a hyper service in front of another one;
//! - [`EngineIo::listen`] / [`SocketIo::listen`]: a background task, stopped with its
//!   [`ServerHandle`].
//!
//! # Clusters
//!
//! Several servers behind a load balancer (with sticky sessions for long-polling) share their
//! rooms and broadcasts through an [`Adapter`] given to
//! [`SocketIo::with_adapter`]: one per namespace, made with the [`LocalNamespace`] that lets it
//! act on this server's sockets, for its own calls and to answer the other servers. The
//! default [`InMemoryAdapter`] is a cluster of one.
//!
//! These calls reach every server (with a cluster adapter), as in socket.io:
//!
//! | call | across the cluster |
//! |------|--------------------|
//! | [`BroadcastOperator::emit`] (`io.to(room).emit`, `socket.broadcast()...`) | every server's sockets in the rooms |
//! | [`BroadcastOperator::emit_with_ack`] | replies of the clients of every server; done when every server reported its client count and that many replies came |
//! | [`BroadcastOperator::fetch_sockets`] | [`RemoteSocket`]s (id, handshake, rooms, [`data`](Socket::set_data)) of every server, which `emit`, `join`, `leave`, `disconnect` from anywhere |
//! | [`BroadcastOperator::sockets_join`], [`sockets_leave`](BroadcastOperator::sockets_leave), [`disconnect_sockets`](BroadcastOperator::disconnect_sockets) | every server's selected sockets |
//! | [`Namespace::server_side_emit`], [`server_side_emit_with_ack`](Namespace::server_side_emit_with_ack) | the *other* servers' [`on_server_event`](Namespace::on_server_event) handlers (one answer each) |
//! | [`Namespace::server_count`] | the servers of the cluster |
//!
//! [`BroadcastOperator::local`] keeps any of them on this server; [`Socket`] methods
//! (`emit`, `join`...) act on that one socket only. What the adapter guarantees:
//!
//! - this server's part always happens, even when the others cannot be reached;
//! - errors reach the caller instead of vanishing: the cluster-wide calls return
//!   an [`Error`] of an adapter kind ([`is_adapter`](Error::is_adapter)), with
//!   [`is_timeout`](Error::is_timeout) / [`is_unavailable`](Error::is_unavailable);
//! - acknowledgements that come from several servers are collected by the caller within its
//!   timeout, and a call that did not get every reply fails with those it got
//!   ([`Error::replies`]).
//!
//! The [`Adapter`] trait documents what each method must do, and how a cluster adapter
//! answers the requests of other servers (socket.io's `BROADCAST`, `FETCH_SOCKETS`,
//! `SERVER_SIDE_EMIT`...) through [`LocalNamespace`]. The data crossing servers has
//! socket.io's JSON form ([`BroadcastOptions`], [`RemoteSocketData`], [`Handshake`]).
//!
//! # Engine.IO
//!
//! Under [`SocketIo`], [`EngineIo`] serves Engine.IO v4 (and v3 with
//! [`EngineConfig::allow_eio3`]) over HTTP long-polling and WebSocket, with the upgrade from
//! one to the other, heartbeats and the error responses of the JavaScript `engine.io` 6.6. It
//! can also be used alone, for raw Engine.IO messages. Its options are on [`EngineConfig`]
//! (reached from [`SocketIoConfig::engine`]) with the defaults of `engine.io` (`allowRequest`,
//! `cookie`, `httpCompression`, `initialPacket`, `cors`...).
//!
//! ## Example: an Engine.IO echo server
//!
//! ```
//! use sio_server::{EngineConfig, EngineIo};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = EngineIo::new(EngineConfig::default());
//! let server = engine.listen("127.0.0.1:0").await?; // a free port
//! println!("listening on {}", server.local_addr());
//! # // A client in the same process (on the Engine.IO path), for the example to run.
//! # let url = format!("http://{}/", server.local_addr());
//! # let _client = sio_client::io(&url, sio_client::Options::default().path("/engine.io/"))?;
//! while let Some(mut conn) = engine.accept().await {
//!     tokio::spawn(async move {
//!         while let Some(message) = conn.recv().await {
//!             let _ = conn.send(message).await;
//!         }
//!     });
//! #   break;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Bounded memory and time
//!
//! Every queue of a connection holds at most [`EngineConfig::max_buffered_packets`] items and
//! [`EngineConfig::max_buffered_bytes`] bytes of messages, on every transport:
//!
//! - *To the client.* [`ConnectionSender::send`] waits (and
//!   [`try_send`](ConnectionSender::try_send) fails with [`SendError::Full`]) while that much
//!   waits for the session's task. Messages the client has not taken yet (over WebSocket: the
//!   frames its socket does not accept; over long-polling: what waits for its next GET) are
//!   bounded the same way; past either bound the connection closes with
//!   [`DisconnectReason::SendBufferFull`].
//! - *From the client.* When the application does not read [`Connection::recv`], the server
//!   stops reading: a POST is answered only once its packets are queued, a WebSocket is not
//!   read, and TCP pushes back on the client. If the application drops the
//!   [`Connection`], its messages are discarded.
//! - A POST body is limited to [`EngineConfig::max_http_buffer_size`] while it is read
//!   (`413`, after which the rest of the body is read and dropped for a while so that the
//!   client sees the answer), into a buffer of its own; a WebSocket message too (close 1009,
//!   also once inflated when [`EngineConfig::per_message_deflate`] is on), and nothing is
//!   buffered for a WebSocket between reads except an incomplete frame
//!   ([`EngineConfig::ws_read_buffer_size`] is the most read at once).
//!
//! And every read has a deadline: the headers of a request
//! ([`EngineConfig::http_header_timeout`], which also closes idle keep-alive connections), a
//! POST body ([`EngineConfig::http_body_timeout`], `408`; a POST also ends with its session
//! or when the session upgrades), and a session's traffic (the heartbeat). On the
//! connections of [`EngineIo::listen`] and [`EngineIo::serve`], a write that a client does not
//! take for [`EngineConfig::http_body_timeout`] closes the connection.

mod engine;
mod http;
pub mod metrics;
mod socketio;

pub use engine::config::{EngineConfig, PerMessageDeflate};
pub use engine::connection::{Connection, ConnectionSender};
pub use engine::message::{DisconnectReason, Message, SendError};
pub use engine::server::EngineIo;
pub use http::allow::AllowRequest;
pub use http::compression::HttpCompression;
pub use http::cookie::{Cookie, SameSite};
pub use http::cors::Cors;
pub use http::layer::EngineLayer;
pub use http::response::EngineBody;
pub use http::serve::{LISTEN_BACKLOG, Serve, ServerHandle, WithGracefulShutdown};
pub use http::service::{EngineService, NotFound};
pub use sio_protocol as protocol;
pub use sio_protocol::engine::{CloseReason, ProtocolVersion, TransportKind};
pub use socketio::{
    Ack, AckFuture, Adapter, AdapterFactory, BoxFuture, BroadcastAckFuture, BroadcastFlags,
    BroadcastOperator, BroadcastOptions, BroadcastPacket, ConnectionStateRecovery, Error,
    ErrorKind, Handler, HandlerId, Handshake, InMemoryAdapter, LocalNamespace, Namespace,
    RecoveryStats, RemoteAckFuture, RemoteSocket, RemoteSocketData, ReplyEvent, ReplySink,
    RestoredSession, ServerEventAck, ServerSideAckFuture, SessionState, Socket,
    SocketDisconnectReason, SocketIo, SocketIoConfig,
};

/// The handlers [`Socket::on`] takes: [`Handler`], implemented for closures
/// of two shapes, told apart by their number of parameters (the marker types of this module,
/// which you never name, as in axum):
///
/// | closure | what it gets |
/// |---|---|
/// | `\|socket: Socket, data: T\| async move { ... }` | the arguments read as `T` |
/// | `\|socket: Socket, data: T, ack: Ack\| async move { ... }` | the same, and the [`Ack`] that answers the client's ack request |
///
/// `T` is any [`DeserializeOwned`](serde::de::DeserializeOwned) type, read as
/// [`Args::deserialize`](sio_protocol::socket::Args::deserialize) does: a tuple takes the
/// arguments in order (`(String, u32)`, `()` for none), another type the first argument.
/// Write the type of every parameter the body uses (`socket: Socket`, `ack: Ack`): the
/// compiler cannot infer a closure's parameter types from a trait like this one (unused
/// parameters may stay `_`). The handlers of one event run in the order they were added, one
/// after the other (see [the handler order](SocketIo#handler-order)). Arguments that do not read as `T` do not call the handler: the socket's
/// [`on_error`](Socket::on_error) hooks get an [`ErrorKind::Deserialize`] error that names
/// the event, and a `tracing` warning is logged. [`Socket::on_args`] takes the raw
/// arguments.
///
/// ```
/// use sio_server::{Ack, Socket, SocketIo, SocketIoConfig};
///
/// let io = SocketIo::new(SocketIoConfig::default());
/// io.of("/").on_connection(|socket| async move {
///     // Typed, without ack: `()` for no arguments.
///     socket.on("ping", |_socket: Socket, (): ()| async move {});
///     // Typed, with the ack: two arguments as a tuple.
///     socket.on("add", |_socket: Socket, (a, b): (i64, i64), ack: Ack| async move {
///         let _ = ack.send(&(a + b));
///     });
/// });
/// ```
pub mod handler {
    pub use crate::socketio::{DataAckMarker, DataMarker, Handler, HandlerId};
}
