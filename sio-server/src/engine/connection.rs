//! The application's side of one Engine.IO connection: [`Connection`], [`ConnectionSender`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::engine::message::{DisconnectReason, Message, SendError};
use crate::engine::session_queues::SessionShared;
use http::HeaderMap;
use sio_protocol::Str;
use sio_protocol::engine::{ProtocolVersion, TransportKind};

/// What the handshake request of a connection looked like.
#[derive(Debug)]
pub(crate) struct Info {
    pub(crate) sid: Str,
    pub(crate) version: ProtocolVersion,
    pub(crate) transport: TransportKind,
    pub(crate) remote_addr: Option<SocketAddr>,
    /// Shared with the handshake of every socket of the connection.
    pub(crate) headers: Arc<HeaderMap>,
    pub(crate) query: Arc<[(String, String)]>,
}

/// One Engine.IO connection, from [`EngineIo::accept`](crate::EngineIo::accept).
///
/// Messages from the client arrive in order through [`recv`](Self::recv); send with
/// [`send`](Self::send) or a [`ConnectionSender`] from [`sender`](Self::sender).
#[derive(Debug)]
pub struct Connection {
    sender: ConnectionSender,
}

/// The sending half of a [`Connection`]; cheap to clone.
#[derive(Debug, Clone)]
pub struct ConnectionSender {
    info: Arc<Info>,
    shared: Arc<SessionShared>,
}

impl Connection {
    pub(crate) fn new(info: Arc<Info>, shared: Arc<SessionShared>) -> Self {
        Connection {
            sender: ConnectionSender { info, shared },
        }
    }

    /// The next message from the client, `None` once the connection is closed and every
    /// message received before was read.
    pub async fn recv(&mut self) -> Option<Message> {
        self.sender.shared.queues.recv().await
    }

    /// A sending handle.
    pub fn sender(&self) -> ConnectionSender {
        self.sender.clone()
    }

    /// See [`ConnectionSender::send`].
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        self.sender.send(message).await
    }

    /// See [`ConnectionSender::close`].
    pub fn close(&self) {
        self.sender.close();
    }

    /// See [`ConnectionSender::closed`].
    pub async fn closed(&self) -> DisconnectReason {
        self.sender.closed().await
    }

    /// The session id.
    pub fn sid(&self) -> &Str {
        self.sender.sid()
    }

    /// The Engine.IO protocol version of the client.
    pub fn protocol(&self) -> ProtocolVersion {
        self.sender.info.version
    }

    /// The transport of the handshake.
    pub fn handshake_transport(&self) -> TransportKind {
        self.sender.info.transport
    }

    /// The transport in use now (WebSocket after an upgrade).
    pub fn transport(&self) -> TransportKind {
        self.sender.transport()
    }

    /// The client's address, when the server knows it.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.sender.info.remote_addr
    }

    /// The headers of the handshake request.
    pub fn headers(&self) -> &HeaderMap {
        &self.sender.info.headers
    }

    /// The query parameters of the handshake request, in order (percent-decoded).
    pub fn query(&self) -> &[(String, String)] {
        &self.sender.info.query
    }

    /// The last value of the query parameter `name` (engine.io: the last one wins).
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.sender
            .info
            .query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Messages for the application are dropped from now on.
        self.sender.shared.queues.app_gone();
    }
}

impl ConnectionSender {
    /// The session id.
    pub fn sid(&self) -> &Str {
        &self.info.sid
    }

    /// The transport in use now.
    pub fn transport(&self) -> TransportKind {
        if self.shared.on_websocket.load(Ordering::Acquire) {
            TransportKind::WebSocket
        } else {
            TransportKind::Polling
        }
    }

    /// Queues a message, waiting while the connection's queue is full.
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        self.shared.queues.send(message).await
    }

    /// Queues a message if the connection's queue has room.
    pub fn try_send(&self, message: Message) -> Result<(), SendError> {
        self.shared.queues.try_send_all(vec![message])
    }

    /// Queues every message of `messages` back to back if the queue has room for all of them
    /// now, else none (`Full`). Used by the Socket.IO layer so that a packet and its binary
    /// attachments are never split.
    pub(crate) fn try_send_all(&self, messages: Vec<Message>) -> Result<(), SendError> {
        self.shared.queues.try_send_all(messages)
    }

    /// Closes the connection (`"forced close"`) after the messages already queued are sent.
    pub fn close(&self) {
        self.shared.queues.request_close();
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.shared.queues.closed_reason().is_some()
    }

    /// Waits until the connection is closed, and says why.
    pub async fn closed(&self) -> DisconnectReason {
        self.shared.queues.closed().await
    }
}

impl ConnectionSender {
    pub(crate) fn new(info: Arc<Info>, shared: Arc<SessionShared>) -> ConnectionSender {
        ConnectionSender { info, shared }
    }

    pub(crate) fn protocol(&self) -> ProtocolVersion {
        self.info.version
    }

    pub(crate) fn remote_addr(&self) -> Option<SocketAddr> {
        self.info.remote_addr
    }

    /// The headers and query of the handshake, shared.
    pub(crate) fn handshake_parts(&self) -> (Arc<HeaderMap>, Arc<[(String, String)]>) {
        (self.info.headers.clone(), self.info.query.clone())
    }
}
