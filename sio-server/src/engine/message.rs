//! What the application and the server exchange about a connection: [`Message`], and why a
//! connection ended or a send failed.

use std::fmt;

use bytes::Bytes;
use sio_protocol::Str;
use sio_protocol::engine::CloseReason;

/// An Engine.IO message: text or binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (`4<text>`).
    Text(Str),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// The length of the message's data in bytes (what the byte bounds of the queues count).
    pub fn len(&self) -> usize {
        match self {
            Message::Text(text) => text.len(),
            Message::Binary(data) => data.len(),
        }
    }

    /// Whether the message is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The session ended for one of the Engine.IO reasons (`"ping timeout"`, `"transport
    /// close"`, ...).
    Engine(CloseReason),
    /// The client did not take the packets sent to it fast enough: more than
    /// `max_buffered_packets` frames or `max_buffered_bytes` bytes waited for it (on
    /// WebSocket: for the socket to take them; on long-polling: for its next GET).
    SendBufferFull,
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::Engine(reason) => reason.fmt(f),
            DisconnectReason::SendBufferFull => f.write_str("send buffer full"),
        }
    }
}

/// A message could not be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The connection's queue is full (only from [`ConnectionSender::try_send`](crate::ConnectionSender::try_send)).
    Full(Message),
    /// The connection is closed.
    Closed(Message),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full(_) => f.write_str("connection queue full"),
            SendError::Closed(_) => f.write_str("connection closed"),
        }
    }
}

impl std::error::Error for SendError {}
