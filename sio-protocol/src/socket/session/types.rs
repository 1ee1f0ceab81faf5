//! The plain data types shared by [`ServerSession`](super::ServerSession) and
//! [`ClientSession`](super::ClientSession): disconnect reasons, ack failures, state errors,
//! recovery tokens.

use std::collections::VecDeque;
use std::fmt;

use crate::engine::CloseReason;
use crate::str::Str;

/// Why a socket left its namespace, on the server: the reason strings of socket.io's
/// `disconnecting` and `disconnect` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerDisconnectReason {
    /// `"transport close"`: the connection was closed by the client or the network.
    TransportClose,
    /// `"transport error"`: the connection failed.
    TransportError,
    /// `"ping timeout"`: the client stopped answering the heartbeat.
    PingTimeout,
    /// `"parse error"`: the client sent an Engine.IO packet that could not be decoded.
    ParseError,
    /// `"forced close"`: the server closed the Engine.IO connection (for example after a
    /// Socket.IO packet it could not decode).
    ForcedClose,
    /// `"server namespace disconnect"`: the server disconnected the socket
    /// ([`ServerSession::disconnect`](super::ServerSession::disconnect)).
    ServerNamespaceDisconnect,
    /// `"client namespace disconnect"`: the client sent DISCONNECT.
    ClientNamespaceDisconnect,
    /// `"server shutting down"`: the server is closing.
    ServerShuttingDown,
    /// `"forced server close"`: the server closed the connection over a protocol violation
    /// ("invalid state"), the connect timeout, or `disconnect(true)`.
    ForcedServerClose,
}

impl ServerDisconnectReason {
    /// The JavaScript reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::ParseError => "parse error",
            Self::ForcedClose => "forced close",
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ServerShuttingDown => "server shutting down",
            Self::ForcedServerClose => "forced server close",
        }
    }

    /// Whether a socket that disconnected for this reason keeps its session for connection
    /// state recovery: socket.io's `RECOVERABLE_DISCONNECT_REASONS` (transport error, transport
    /// close, forced close, ping timeout, server shutting down, forced server close). A
    /// namespace disconnect by either side, and a parse error, end the session for good.
    pub fn is_recoverable(self) -> bool {
        matches!(
            self,
            Self::TransportError
                | Self::TransportClose
                | Self::ForcedClose
                | Self::PingTimeout
                | Self::ServerShuttingDown
                | Self::ForcedServerClose
        )
    }
}

impl fmt::Display for ServerDisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<CloseReason> for ServerDisconnectReason {
    /// The reason of the sockets of an Engine.IO connection that closed for `reason`.
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::TransportClose => Self::TransportClose,
            CloseReason::PingTimeout => Self::PingTimeout,
            CloseReason::ParseError => Self::ParseError,
            CloseReason::ForcedClose => Self::ForcedClose,
            _ => Self::TransportError,
        }
    }
}

/// Why a socket disconnected, on the client: the reason strings of socket.io-client's
/// `disconnect` event (and of the Manager's `close` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientDisconnectReason {
    /// `"io server disconnect"`: the server sent DISCONNECT; no reconnection.
    IoServerDisconnect,
    /// `"io client disconnect"`: the socket was disconnected by the application
    /// ([`ClientSession::disconnect`](super::ClientSession::disconnect)); no reconnection.
    IoClientDisconnect,
    /// `"forced close"`: the Manager was closed ([`ClientSession::close`](super::ClientSession::close)),
    /// or its last socket left; no reconnection.
    ForcedClose,
    /// `"ping timeout"`: the server stopped sending heartbeats.
    PingTimeout,
    /// `"transport close"`: the connection was closed.
    TransportClose,
    /// `"transport error"`: the connection failed.
    TransportError,
    /// `"parse error"`: the server sent a packet that could not be decoded.
    ParseError,
}

impl ClientDisconnectReason {
    /// The JavaScript reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IoServerDisconnect => "io server disconnect",
            Self::IoClientDisconnect => "io client disconnect",
            Self::ForcedClose => "forced close",
            Self::PingTimeout => "ping timeout",
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::ParseError => "parse error",
        }
    }

    /// Whether the client reconnects after this reason (when reconnection is on).
    pub fn reconnects(self) -> bool {
        !matches!(
            self,
            Self::IoServerDisconnect | Self::IoClientDisconnect | Self::ForcedClose
        )
    }
}

impl fmt::Display for ClientDisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<CloseReason> for ClientDisconnectReason {
    /// The reason of the sockets of an Engine.IO connection that closed for `reason`.
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::TransportClose => Self::TransportClose,
            CloseReason::ForcedClose => Self::ForcedClose,
            CloseReason::PingTimeout => Self::PingTimeout,
            CloseReason::ParseError => Self::ParseError,
            _ => Self::TransportError,
        }
    }
}

/// Why an acknowledgement will never come (an outcome the sessions report, not an error
/// type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AckFailure {
    /// The deadline passed first: `"operation has timed out"`.
    Timeout,
    /// The socket disconnected first: `"socket has been disconnected"`.
    Disconnected,
}

impl fmt::Display for AckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AckFailure::Timeout => "operation has timed out",
            AckFailure::Disconnected => "socket has been disconnected",
        })
    }
}

pub use crate::reason::session::SessionReason;

/// A client's request to recover its previous session: the `pid` and `offset` of its CONNECT
/// payload (`{"pid": ..., "offset": ..., ...auth}`).
///
/// Both come from the network: the runtime looks them up (its adapter's `restoreSession`)
/// and must treat an unknown, expired, already used or mismatched pair as no session at all.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RecoveryRequest {
    /// The private session id the server gave in its previous CONNECT reply.
    pub pid: Str,
    /// The offset of the last event the client processed (the last argument of that event).
    pub offset: Str,
}

impl RecoveryRequest {
    /// A request for session `pid`, from `offset` on.
    pub fn new(pid: impl Into<Str>, offset: impl Into<Str>) -> Self {
        RecoveryRequest {
            pid: pid.into(),
            offset: offset.into(),
        }
    }
}

/// The longest `pid` or `offset` the sessions read: longer ones cannot have come from a
/// server (socket.io's are 20 and about 8 characters, a Redis stream id about 20), so a
/// CONNECT carrying one asks for no recovery, and a client does not keep such an offset.
pub(crate) const MAX_RECOVERY_TOKEN: usize = 256;

/// A copy of a namespace name of its own, so that it does not keep alive the frame it was
/// sliced from.
pub(super) fn own(nsp: &Str) -> Str {
    if nsp == "/" {
        Str::from_static("/")
    } else {
        Str::from(nsp.as_str().to_owned())
    }
}

/// Frees the memory of an empty queue.
pub(super) fn release<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > 0 {
        *queue = VecDeque::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_and_their_strings() {
        use ServerDisconnectReason as S;
        let recoverable: Vec<_> = [
            S::TransportClose,
            S::TransportError,
            S::PingTimeout,
            S::ParseError,
            S::ForcedClose,
            S::ServerNamespaceDisconnect,
            S::ClientNamespaceDisconnect,
            S::ServerShuttingDown,
            S::ForcedServerClose,
        ]
        .into_iter()
        .filter(|r| r.is_recoverable())
        .map(S::as_str)
        .collect();
        assert_eq!(
            recoverable,
            [
                "transport close",
                "transport error",
                "ping timeout",
                "forced close",
                "server shutting down",
                "forced server close"
            ]
        );
        assert_eq!(S::from(CloseReason::PingTimeout), S::PingTimeout);
        assert_eq!(
            ClientDisconnectReason::from(CloseReason::ForcedClose).to_string(),
            "forced close"
        );
        assert!(!ClientDisconnectReason::IoServerDisconnect.reconnects());
        assert!(ClientDisconnectReason::ParseError.reconnects());
        assert_eq!(AckFailure::Timeout.to_string(), "operation has timed out");
        assert_eq!(
            AckFailure::Disconnected.to_string(),
            "socket has been disconnected"
        );
    }
}
