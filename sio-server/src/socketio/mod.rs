//! The Socket.IO layer: [`SocketIo`], namespaces, sockets, rooms, broadcasting.
//!
//! ```text
//!  Engine.IO session task ──► client.rs, driven by that task: decodes packets and feeds them
//!                       to the connection's sio_protocol ServerSession (socket.io's state rules,
//!                       connect timeout, pending acks and their deadlines), runs CONNECT
//!                       middlewares, answers CONNECT; every packet of the connection is written
//!                       under the session's lock
//!                          │ events of a connected namespace, in order
//!                          ▼
//!                       one task per Socket (socket.rs): on_connection, then every handler of
//!                       that socket, one after the other, then disconnecting / disconnect
//! ```
//!
//! See [the handler order](crate::SocketIo#handler-order).
//!
//! # Layers
//!
//! The modules import each other without a circle; from the bottom up, each imports only
//! modules listed before it:
//!
//! 1. `future`, `error`, `config`, `handshake`, `recovery`, `cluster` (what an adapter
//!    exchanges with other servers), `ack` ([`Ack`], [`AckFuture`]: the socket they belong to
//!    is an `AckSocket`, the trait `ack.rs` defines);
//! 2. `conn`: what the sockets of one connection share (its session, writes, pending acks);
//!    its sockets are `ConnSocket`s;
//! 3. `adapter`: [`Adapter`], [`LocalNamespace`], the room registry; a namespace is an
//!    `NsCore` there, a socket a `LocalSocket` (traits `adapter.rs` defines);
//! 4. `server_event`, `broadcast`: their futures and the [`BroadcastOperator`] hold the
//!    namespace's `NsCore`;
//! 5. `namespace`: [`Namespace`], which implements `NsCore`;
//! 6. `socket`: [`Socket`], which implements `LocalSocket`, `ConnSocket` and `AckSocket`,
//!    and the namespace's methods that take or give a `Socket`;
//! 7. `remote`: [`RemoteSocket`] and the `fetch_sockets` that give it;
//! 8. `client`: a connection's application; what it asks of the server is `ClientHost`;
//! 9. `server`: [`SocketIo`], which implements `ClientHost`.

mod ack;
mod adapter;
mod broadcast;
mod client;
mod cluster;
mod config;
mod conn;
mod error;
mod future;
mod handshake;
mod namespace;
mod recovery;
mod remote;
mod server;
mod server_event;
mod socket;

pub use ack::{Ack, AckFuture};
pub use adapter::{
    Adapter, AdapterFactory, BroadcastFlags, BroadcastOptions, BroadcastPacket, InMemoryAdapter,
    LocalNamespace,
};
pub use broadcast::{BroadcastAckFuture, BroadcastOperator};
pub use cluster::{RemoteSocketData, ReplyEvent, ReplySink};
pub use config::{ConnectionStateRecovery, SocketIoConfig};
pub use error::{Error, ErrorKind};
pub use future::BoxFuture;
pub use handshake::Handshake;
pub use namespace::Namespace;
pub use recovery::{RecoveryStats, RestoredSession, SessionState};
pub use remote::{RemoteAckFuture, RemoteSocket};
pub use server::SocketIo;
pub use server_event::{ServerEventAck, ServerSideAckFuture};
pub use socket::{DataAckMarker, DataMarker, Handler, HandlerId, Socket, SocketDisconnectReason};
