//! The client's error type and the reasons of its events.

use std::fmt;

use sio_protocol::Value;
use sio_protocol::socket::AckFailure;

/// An error of the client: a bad URL or option, arguments that cannot be serialized, an ack
/// that timed out or was cut off by a disconnection.
#[derive(Debug, Clone)]
pub struct Error {
    kind: Kind,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Config,
    Args,
    Timeout,
    Disconnected,
    Closed,
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error {
            kind: Kind::Config,
            message: message.into(),
        }
    }

    pub(crate) fn args(error: impl fmt::Display) -> Self {
        Error {
            kind: Kind::Args,
            message: error.to_string(),
        }
    }

    pub(crate) fn timeout() -> Self {
        Error {
            kind: Kind::Timeout,
            message: "operation has timed out".to_owned(),
        }
    }

    pub(crate) fn disconnected() -> Self {
        Error {
            kind: Kind::Disconnected,
            message: "socket has been disconnected".to_owned(),
        }
    }

    pub(crate) fn closed() -> Self {
        Error {
            kind: Kind::Closed,
            message: "the manager is gone".to_owned(),
        }
    }

    /// Why an ack will never come, from the session.
    pub(crate) fn ack_failed(failure: AckFailure) -> Self {
        match failure {
            AckFailure::Timeout => Error::timeout(),
            _ => Error::disconnected(),
        }
    }

    /// An ack did not come in time (`"operation has timed out"`).
    pub fn is_timeout(&self) -> bool {
        self.kind == Kind::Timeout
    }

    /// The socket disconnected while an ack was pending (`"socket has been disconnected"`),
    /// or the manager's task is gone.
    pub fn is_disconnected(&self) -> bool {
        matches!(self.kind, Kind::Disconnected | Kind::Closed)
    }

    /// The arguments could not be serialized.
    pub fn is_args(&self) -> bool {
        self.kind == Kind::Args
    }

    /// A bad URL or option.
    pub fn is_config(&self) -> bool {
        self.kind == Kind::Config
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Why a socket's connection to its namespace failed (`connect_error`).
///
/// From the server (a middleware's `next(err)`): `message` is `err.message` and `data` is
/// `err.data`. From the connection: the engine's error (`"xhr poll error"`,
/// `"websocket error"`, `"timeout"`...) and no data.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// The error message.
    pub message: String,
    /// The `data` the server attached, if any.
    pub data: Option<Value>,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConnectError {}

/// Why a socket disconnected (`disconnect`) or the manager's connection closed (`close`): the
/// reason strings of socket.io-client ([`as_str`](DisconnectReason::as_str)), and whether the
/// manager reconnects after it ([`reconnects`](DisconnectReason::reconnects)).
///
/// The type of the protocol core (`sio_protocol::socket::ClientDisconnectReason`), whose
/// session decides them.
pub type DisconnectReason = sio_protocol::socket::ClientDisconnectReason;

#[cfg(test)]
mod tests {
    use sio_protocol::engine::CloseReason;

    use super::*;

    #[test]
    fn reasons() {
        let cases = [
            (CloseReason::TransportError, "transport error", true),
            (CloseReason::TransportClose, "transport close", true),
            (CloseReason::PingTimeout, "ping timeout", true),
            (CloseReason::ParseError, "parse error", true),
            (CloseReason::ForcedClose, "forced close", false),
        ];
        for (engine, text, reconnects) in cases {
            let reason = DisconnectReason::from(engine);
            assert_eq!(reason.to_string(), text);
            assert_eq!(reason.reconnects(), reconnects, "{text}");
        }
        assert!(!DisconnectReason::IoServerDisconnect.reconnects());
        assert!(!DisconnectReason::IoClientDisconnect.reconnects());
        assert_eq!(
            DisconnectReason::IoServerDisconnect.as_str(),
            "io server disconnect"
        );
    }

    #[test]
    fn error_kinds() {
        assert!(Error::timeout().is_timeout());
        assert_eq!(Error::timeout().to_string(), "operation has timed out");
        assert!(Error::disconnected().is_disconnected());
        assert_eq!(
            Error::disconnected().to_string(),
            "socket has been disconnected"
        );
        assert!(Error::closed().is_disconnected());
        assert!(Error::ack_failed(AckFailure::Timeout).is_timeout());
        assert!(Error::ack_failed(AckFailure::Disconnected).is_disconnected());
        assert!(Error::config("x").is_config());
        assert!(Error::args("x").is_args());
    }
}
