//! The Socket.IO session state machines, one per side: [`ServerSession`] and
//! [`ClientSession`].
//!
//! They hold socket.io's connection rules once for both runtimes: namespace CONNECT and
//! DISCONNECT, CONNECT_ERROR, the connect timeouts, protocol 4 and 5, ack ids and deadlines
//! (through [`AckTracker`](crate::AckTracker)), and the protocol side of connection state
//! recovery. Like [`engine::Session`](crate::engine::Session) they are sans IO: packets in
//! ([`Packet`](crate::socket::Packet)s from the [`Decoder`](crate::socket::Decoder)), packets
//! out (for the [`Encoder`](crate::socket::Encoder)), time passed in as `now`, ids and
//! randomness from the caller, and the work left to the runtime as events.
//!
//! ```text
//!           server runtime                                     client runtime
//!  Engine.IO connection ─ Decoder ─┐                 ┌─ Decoder ─ Engine.IO connection
//!                                  ▼                 ▼
//!  middlewares, adapter ◄── ServerSession      ClientSession ──► handlers, auth, open/close
//!  (rooms, session store)  events │                 │ events        the engine connection
//!                                 ▼ poll_transmit   ▼ poll_transmit
//!                              Encoder ─► frames   Encoder ─► frames
//! ```
//!
//! # Why packets, not encoded frames
//!
//! The sessions produce [`Packet`](crate::socket::Packet)s and leave encoding to the runtime's
//! [`Encoder`](crate::socket::Encoder): the encoder is the one place that knows the parser
//! (JSON or msgpack) and how arguments are written; the hot paths of a server (an event
//! serialized straight into its frame, a broadcast encoded once for thousands of sockets) do
//! not pass through a session at all (a session only has to know about their acks); the
//! client's send buffer keeps packets it may never send (an ack that times out takes its
//! packet out); and tests read packets, not bytes.
//!
//! # The server runtime
//!
//! One [`ServerSession`] per Engine.IO connection, driven by the task that drives that
//! connection. The runtime keeps:
//!
//! - the decoder (and its bounds on pending attachments), and the encoder;
//! - namespaces, middlewares and [`ConnectRequest`] answers (asynchronous: it may hold the
//!   connection's further input until it answered, as sio-server does);
//! - socket ids and pids, from a CSPRNG (20+ characters: a pid is a bearer token for a
//!   session), and ack ids (one counter per namespace, shared with broadcasts);
//! - sockets, their handlers and tasks, rooms, the adapter;
//! - connection state recovery's storage: the adapter appends an offset as the last argument
//!   of every EVENT that is neither volatile nor acknowledged, and stores it (bounded per
//!   session); on [`ServerEvent::Disconnected`] with `persist` it saves the session; on a
//!   [`ConnectRequest`] with `recovery` it restores (each pid usable once, then forgotten; an
//!   unknown or expired pid, or an offset no longer stored, gives nothing) and answers with
//!   [`ServerSession::accept_recovered`] and the missed packets, or
//!   [`ServerSession::accept`] for a fresh session.
//!
//! Emits from other tasks (a handler's `socket.emit`) either reach the session through the
//! driving task, or the session sits behind a lock; either way, after a command that adds an
//! ack deadline the driving task must re-read [`ServerSession::poll_timeout`].
//!
//! # The client runtime
//!
//! One [`ClientSession`] per Manager, for its whole life: it outlives every Engine.IO
//! connection, because the send buffer, the retries queue, pending acks and the recovery
//! state must survive a cut. The runtime keeps the Engine.IO connection (opening it on
//! [`ClientEvent::OpenEngine`], closing it on [`ClientEvent::CloseEngine`], reporting its
//! handshake, failure and close), the transports and the heartbeat, the codec, the auth
//! payloads ([`ClientEvent::AuthNeeded`]), the user's handlers and event streams, and
//! `onAnyOutgoing` (called for each EVENT it transmits).

mod client;
mod query;
mod server;
mod types;

pub use client::{ClientConfig, ClientEvent, ClientSession, Emit, V2_SERVER_MESSAGE};
pub use server::{ConnectRequest, ServerConfig, ServerEvent, ServerSession};
pub use types::{
    AckFailure, ClientDisconnectReason, RecoveryRequest, ServerDisconnectReason, SessionReason,
};
