//! [`Error`], the crate's one error type, its [`ErrorKind`], and [`DisconnectReason`].

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use sio_protocol::Value;
use sio_protocol::socket::AckFailure;

/// A boxed cause, as [`Error`] keeps it.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// The error of every fallible call, and the error that `connect_error`, the manager's
/// `error` and `reconnect_error` events, and [`Socket::on_error`](crate::Socket::on_error)
/// carry.
///
/// It is opaque, in the shape of hyper's and reqwest's errors: [`kind`](Self::kind) (or an
/// `is_*` method) tells what failed, [`Display`](fmt::Display) gives socket.io-client's
/// message for it (`"operation has timed out"`, `"socket has been disconnected"`,
/// `"xhr poll error"`, `"websocket error"`, `"timeout"`, a server's `err.message`...) and
/// never the text of its cause, which [`source`](StdError::source) returns: the
/// `reqwest::Error`, tungstenite error, `sio_protocol::Error`, `std::io::Error`,
/// `url::ParseError`, `serde_json::Error` or decode error underneath. Print the whole chain to see everything:
///
/// ```
/// use std::error::Error as _;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let error = sio_client::io("not a url", sio_client::Options::default()).unwrap_err();
/// assert!(error.is_config());
/// let mut text = error.to_string();
/// let mut cause = error.source();
/// while let Some(e) = cause {
///     text.push_str(&format!(": {e}"));
///     cause = e.source();
/// }
/// assert_eq!(text, "bad url \"not a url\": relative URL without a base");
/// # }
/// ```
///
/// Cloning is cheap (the error is shared): each handler of an event gets the same error.
#[derive(Clone)]
pub struct Error {
    inner: Arc<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    event: Option<String>,
    data: Option<Value>,
    source: Option<BoxError>,
}

/// What an [`Error`] is about ([`Error::kind`]). More kinds may come: match with a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A bad URL, header or option (its cause: `url::ParseError`, an invalid header, a TLS
    /// setting).
    Config,
    /// Arguments (or an auth payload, or an ack answer) that cannot be serialized (cause:
    /// the serializer's error), or a reserved event name.
    Args,
    /// Arguments from the server that do not match the type a handler (or
    /// [`Message::deserialize`](crate::Message::deserialize)) reads them as; the cause is
    /// the deserializer's error and [`Error::event`] the event's name.
    Deserialize,
    /// An ack did not come in time (`"operation has timed out"`), or a connection attempt
    /// took longer than [`Options::timeout`](crate::Options::timeout) (`"timeout"`).
    Timeout,
    /// The socket disconnected while an ack was pending (`"socket has been disconnected"`).
    Disconnected,
    /// The manager's task is gone (every handle of it was dropped).
    Closed,
    /// The transport failed: `"xhr poll error"`, `"xhr post error"`, `"websocket error"`
    /// (cause: the `reqwest::Error`, the tungstenite error of a WebSocket handshake, the
    /// `sio_protocol::Error` of a refused WebSocket frame or `std::io::Error`), or a connection
    /// closed before its handshake (`"transport close"`...).
    Transport,
    /// The server sent what does not decode: engine.io-client's `"server error"` (cause:
    /// the decode error).
    Parse,
    /// The server refused the socket's namespace (`connect_error` from a middleware's
    /// `next(err)`): the message is `err.message`, [`Error::data`] `err.data`.
    Rejected,
}

impl Error {
    fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            inner: Arc::new(Inner {
                kind,
                message: message.into(),
                event: None,
                data: None,
                source: None,
            }),
        }
    }

    fn build(
        kind: ErrorKind,
        message: impl Into<Cow<'static, str>>,
        event: Option<String>,
        data: Option<Value>,
        source: Option<BoxError>,
    ) -> Self {
        Error {
            inner: Arc::new(Inner {
                kind,
                message: message.into(),
                event,
                data,
                source,
            }),
        }
    }

    pub(crate) fn with_source(
        kind: ErrorKind,
        message: impl Into<Cow<'static, str>>,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::build(kind, message, None, None, Some(source.into()))
    }

    pub(crate) fn config(message: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::Config, message)
    }

    pub(crate) fn config_with(
        message: impl Into<Cow<'static, str>>,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::with_source(ErrorKind::Config, message, source)
    }

    /// Arguments that cannot be serialized.
    pub(crate) fn args(source: impl Into<BoxError>) -> Self {
        let source = serde_cause(source.into());
        Error::with_source(ErrorKind::Args, "cannot serialize the arguments", source)
    }

    /// A reserved event name.
    pub(crate) fn reserved(event: &str) -> Self {
        Error::build(
            ErrorKind::Args,
            format!("\"{event}\" is a reserved event name"),
            Some(event.to_owned()),
            None,
            None,
        )
    }

    /// The arguments of `event` do not read as the type asked for.
    pub(crate) fn deserialize(event: &str, source: impl Into<BoxError>) -> Self {
        Error::build(
            ErrorKind::Deserialize,
            format!("the arguments of \"{event}\" do not match the handler's type"),
            Some(event.to_owned()),
            None,
            Some(serde_cause(source.into())),
        )
    }

    pub(crate) fn timeout() -> Self {
        Error::new(ErrorKind::Timeout, "operation has timed out")
    }

    pub(crate) fn disconnected() -> Self {
        Error::new(ErrorKind::Disconnected, "socket has been disconnected")
    }

    pub(crate) fn closed() -> Self {
        Error::new(ErrorKind::Closed, "the manager is gone")
    }

    /// A transport failure: `message` is socket.io-client's (`"xhr poll error"`...).
    pub(crate) fn transport(message: &'static str, source: impl Into<BoxError>) -> Self {
        Error::with_source(ErrorKind::Transport, message, source)
    }

    /// What the server sent does not decode (`"server error"`).
    pub(crate) fn parse(source: impl Into<BoxError>) -> Self {
        Error::with_source(ErrorKind::Parse, "server error", source)
    }

    /// The server refused the namespace.
    pub(crate) fn rejected(message: String, data: Option<Value>) -> Self {
        Error::build(ErrorKind::Rejected, message, None, data, None)
    }

    /// An error the session reports by its message alone (no transport error behind it):
    /// the connect `"timeout"`, or the reason a connection closed before its handshake.
    pub(crate) fn from_session(message: String) -> Self {
        let kind = if message == "timeout" {
            ErrorKind::Timeout
        } else {
            ErrorKind::Transport
        };
        Error::new(kind, message)
    }

    /// Why an ack will never come, from the session.
    pub(crate) fn ack_failed(failure: AckFailure) -> Self {
        match failure {
            AckFailure::Timeout => Error::timeout(),
            _ => Error::disconnected(),
        }
    }

    /// What failed.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// An ack did not come in time (`"operation has timed out"`), or a connection attempt
    /// timed out (`"timeout"`).
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }

    /// The socket disconnected while an ack was pending (`"socket has been disconnected"`),
    /// or the manager's task is gone.
    pub fn is_disconnected(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Disconnected | ErrorKind::Closed)
    }

    /// The arguments could not be serialized, or the event name is reserved.
    pub fn is_args(&self) -> bool {
        self.inner.kind == ErrorKind::Args
    }

    /// The server's arguments do not match the type they were read as.
    pub fn is_deserialize(&self) -> bool {
        self.inner.kind == ErrorKind::Deserialize
    }

    /// A bad URL, header or option.
    pub fn is_config(&self) -> bool {
        self.inner.kind == ErrorKind::Config
    }

    /// The transport failed (see [`ErrorKind::Transport`]).
    pub fn is_transport(&self) -> bool {
        self.inner.kind == ErrorKind::Transport
    }

    /// The server sent what does not decode (`"server error"`).
    pub fn is_parse(&self) -> bool {
        self.inner.kind == ErrorKind::Parse
    }

    /// The server refused the namespace (see [`data`](Self::data)).
    pub fn is_rejected(&self) -> bool {
        self.inner.kind == ErrorKind::Rejected
    }

    /// The event the error is about: the one whose arguments did not match a handler
    /// ([`ErrorKind::Deserialize`]), or a reserved name given to an emit.
    pub fn event(&self) -> Option<&str> {
        self.inner.event.as_deref()
    }

    /// The `data` a server attached to its refusal (`err.data` of a middleware's
    /// `next(err)`), if any.
    pub fn data(&self) -> Option<&Value> {
        self.inner.data.as_ref()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("sio_client::Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(event) = &self.inner.event {
            d.field("event", event);
        }
        if let Some(data) = &self.inner.data {
            d.field("data", data);
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// The serde error inside a `sio_protocol::Error` of the args kind, taken out of it, so that
/// the chain reads `sio_client::Error` → `serde_json::Error` without the protocol error's own
/// "cannot serialize the arguments" in between. Any other cause is kept as it is.
fn serde_cause(source: BoxError) -> BoxError {
    match source.downcast::<sio_protocol::Error>() {
        Ok(protocol) if protocol.is_args() && protocol.source().is_some() => protocol
            .into_source()
            .unwrap_or_else(|| io_cause(std::io::ErrorKind::Other, "no cause")),
        Ok(protocol) => protocol,
        Err(other) => other,
    }
}

/// A cause that is only a message (a bound the server went over, a request that took too
/// long): an `std::io::Error` of kind `InvalidData` or `TimedOut`, so that it can be matched.
pub(crate) fn io_cause(kind: std::io::ErrorKind, message: impl Into<String>) -> BoxError {
    Box::new(std::io::Error::new(kind, message.into()))
}

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
        assert_eq!(Error::closed().kind(), ErrorKind::Closed);
        assert!(Error::ack_failed(AckFailure::Timeout).is_timeout());
        assert!(Error::ack_failed(AckFailure::Disconnected).is_disconnected());
        assert!(Error::config("x").is_config());
        assert!(Error::args(io_cause(std::io::ErrorKind::Other, "x")).is_args());
        assert!(Error::reserved("connect").is_args());
        assert!(Error::from_session("timeout".into()).is_timeout());
        assert!(Error::from_session("transport close".into()).is_transport());
        let rejected = Error::rejected("no".into(), Some(Value::from(1)));
        assert!(rejected.is_rejected());
        assert_eq!(rejected.data(), Some(&Value::from(1)));
        assert_eq!(rejected.to_string(), "no");
    }

    #[test]
    fn display_does_not_repeat_the_source() {
        let cause = io_cause(std::io::ErrorKind::InvalidData, "packet over 10 bytes");
        let error = Error::transport("xhr poll error", cause);
        assert_eq!(error.to_string(), "xhr poll error");
        let source = error.source().expect("a source");
        assert_eq!(source.to_string(), "packet over 10 bytes");
        let io = source
            .downcast_ref::<std::io::Error>()
            .expect("an io error");
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidData);
        // A clone shares the cause.
        assert!(error.clone().source().is_some());
        let debug = format!("{error:?}");
        assert!(
            debug.contains("Transport") && debug.contains("packet over"),
            "{debug}"
        );
    }
}
