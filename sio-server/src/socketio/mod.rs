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
