//! The Engine.IO server: [`EngineIo`](server::EngineIo) and its options, one task per session
//! driving a `sio_protocol::engine::Session`, the queues between that task and the rest of the
//! server, the [`Connection`](connection::Connection) the application holds, and the two
//! transports (HTTP long-polling, WebSocket).

pub(crate) mod config;
pub(crate) mod connection;
pub(crate) mod message;
pub(crate) mod server;
pub(crate) mod session_queues;
pub(crate) mod session_task;
pub(crate) mod sid;
pub(crate) mod transport;
