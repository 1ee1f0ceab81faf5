//! [`Error`], the one error of the Socket.IO layer, and its [`ErrorKind`].

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use serde::Serialize;
use sio_protocol::Value;
use sio_protocol::socket::Args;

/// A boxed cause, as [`Error`] keeps it.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// The error of every fallible call of the Socket.IO layer ([`Socket`](crate::Socket),
/// [`Namespace`](crate::Namespace), [`SocketIo`](crate::SocketIo),
/// [`BroadcastOperator`](crate::BroadcastOperator), [`RemoteSocket`](crate::RemoteSocket),
/// the [`Adapter`](crate::Adapter) trait), what a middleware returns to refuse a connection or
/// an event, and what [`Socket::on_error`](crate::Socket::on_error) receives.
///
/// It is opaque, in the shape of hyper's and reqwest's errors (and of `sio_client::Error`):
/// [`kind`](Self::kind) (or an `is_*` method) tells what failed, [`Display`](fmt::Display)
/// says it in a few words (socket.io's `"operation has timed out"`, a middleware's message...)
/// and never repeats the text of its cause, which [`source`](StdError::source) returns: the
/// serde error behind [`Args`], an adapter's own error (a Redis client's, say). Print the whole
/// chain to see everything:
///
/// ```
/// use std::error::Error as _;
/// use sio_server::{Error, ErrorKind};
///
/// let error = Error::adapter_unavailable(std::io::Error::other("connection refused"));
/// assert_eq!(error.kind(), ErrorKind::AdapterUnavailable);
/// assert!(error.is_adapter() && error.is_unavailable());
/// assert_eq!(error.to_string(), "cluster unavailable");
/// assert_eq!(error.source().unwrap().to_string(), "connection refused");
/// ```
///
/// A cluster-wide `emit_with_ack` that did not get every reply (a broadcast's, or
/// [`server_side_emit_with_ack`](crate::Namespace::server_side_emit_with_ack)) fails with the
/// replies it got: [`replies`](Self::replies), as socket.io's `err.responses`.
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    event: Option<String>,
    data: Option<Value>,
    replies: Option<(Vec<Args>, Option<usize>)>,
    source: Option<BoxError>,
}

/// What an [`Error`] is about ([`Error::kind`]). More kinds may come: match with a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Arguments (of an emit, an ack answer, a socket's `data`) that cannot be serialized
    /// (the cause: the serializer's error), or a reserved event name
    /// ([`RESERVED_EVENTS`](sio_protocol::socket::RESERVED_EVENTS); [`Error::event`] names it).
    Args,
    /// The arguments of an event from a client do not match the type of the handler that
    /// reads them; the cause is the deserializer's error and [`Error::event`] the event's
    /// name. [`Socket::on_error`](crate::Socket::on_error) receives it.
    Deserialize,
    /// The socket is disconnected (`"socket has been disconnected"`), or every recipient of
    /// an `emit_with_ack` went away before answering.
    Disconnected,
    /// The connection's send queue is full
    /// ([`EngineConfig::max_buffered_packets`](crate::EngineConfig)): the client does not take
    /// its packets. Nothing was sent.
    Full,
    /// An acknowledgement did not come in time (`"operation has timed out"`).
    Timeout,
    /// The other servers of the cluster did not answer in time (an adapter's request timed
    /// out: socket.io's `"timeout reached: only 1 responses received out of 2"`).
    AdapterTimeout,
    /// The cluster cannot be reached (the broker is down, the connection is lost; the cause
    /// says why) or the adapter is closed. This server's part was done.
    AdapterUnavailable,
    /// Any other failure of an adapter (a message that could not be encoded, a bad
    /// answer...; the cause says what).
    Adapter,
    /// A middleware refused a connection or an event ([`Error::rejected`]): the message is
    /// socket.io's `err.message`, [`Error::data`] its `err.data`.
    Rejected,
}

impl Error {
    fn build(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Error(Box::new(Inner {
            kind,
            message: message.into(),
            event: None,
            data: None,
            replies: None,
            source: None,
        }))
    }

    fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.0.source = Some(source.into());
        self
    }

    fn with_event(mut self, event: &str) -> Self {
        self.0.event = Some(event.to_owned());
        self
    }

    /// A refusal, for a middleware to return: a connect middleware's
    /// ([`SocketIo::use_middleware`](crate::SocketIo::use_middleware),
    /// [`Namespace::use_middleware`](crate::Namespace::use_middleware)) refuses the
    /// connection, and the client gets `connect_error` with `message` as `err.message`; a
    /// per-packet middleware's ([`Socket::use_middleware`](crate::Socket::use_middleware))
    /// drops the event and goes to [`Socket::on_error`](crate::Socket::on_error). As
    /// `next(new Error(message))` in socket.io.
    ///
    /// ```
    /// let error = sio_server::Error::rejected("not authorized").with_data(&"token missing");
    /// assert!(error.is_rejected());
    /// assert_eq!(error.message(), "not authorized");
    /// assert_eq!(error.data(), Some(&sio_server::protocol::Value::from("token missing")));
    /// ```
    pub fn rejected(message: impl Into<String>) -> Self {
        Error::build(ErrorKind::Rejected, message.into())
    }

    /// Adds `data` (anything serializable; none if it cannot be serialized): `err.data` of the
    /// client's `connect_error`.
    pub fn with_data<T: Serialize + ?Sized>(mut self, data: &T) -> Self {
        self.0.data = Value::from_serialize(data).ok();
        self
    }

    /// For an [`Adapter`](crate::Adapter): the other servers did not answer in time;
    /// `message` says how many did (socket.io's `timeout reached: only 1 responses received
    /// out of 2`).
    pub fn adapter_timeout(message: impl Into<String>) -> Self {
        Error::build(ErrorKind::AdapterTimeout, message.into())
    }

    /// For an [`Adapter`](crate::Adapter): the cluster cannot be reached; `source` says why.
    pub fn adapter_unavailable(source: impl Into<BoxError>) -> Self {
        Error::build(ErrorKind::AdapterUnavailable, "cluster unavailable").with_source(source)
    }

    /// For an [`Adapter`](crate::Adapter): the adapter is closed
    /// ([`Adapter::close`](crate::Adapter::close) ran). Its kind is
    /// [`ErrorKind::AdapterUnavailable`].
    pub fn adapter_closed() -> Self {
        Error::build(ErrorKind::AdapterUnavailable, "adapter closed")
    }

    /// For an [`Adapter`](crate::Adapter): any other failure; `source` says what.
    pub fn adapter(source: impl Into<BoxError>) -> Self {
        Error::build(ErrorKind::Adapter, "adapter error").with_source(source)
    }

    /// Arguments that cannot be serialized.
    pub(crate) fn args(source: impl Into<BoxError>) -> Self {
        Error::build(ErrorKind::Args, "cannot serialize the arguments")
            .with_source(serde_cause(source.into()))
    }

    /// A reserved event name.
    pub(crate) fn reserved(event: &str) -> Self {
        Error::build(
            ErrorKind::Args,
            format!("\"{event}\" is a reserved event name"),
        )
        .with_event(event)
    }

    /// The arguments of `event` do not read as a handler's type.
    pub(crate) fn deserialize(event: &str, source: impl Into<BoxError>) -> Self {
        Error::build(
            ErrorKind::Deserialize,
            format!("the arguments of \"{event}\" do not match the handler's type"),
        )
        .with_event(event)
        .with_source(serde_cause(source.into()))
    }

    pub(crate) fn disconnected() -> Self {
        Error::build(ErrorKind::Disconnected, "socket has been disconnected")
    }

    pub(crate) fn full() -> Self {
        Error::build(ErrorKind::Full, "send queue full")
    }

    pub(crate) fn timeout() -> Self {
        Error::build(ErrorKind::Timeout, "operation has timed out")
    }

    /// The same error, for a cluster-wide `emit_with_ack`: with the replies received and how
    /// many were expected.
    pub(crate) fn with_replies(mut self, replies: Vec<Args>, expected: Option<usize>) -> Self {
        self.0.replies = Some((replies, expected));
        self
    }

    /// What failed.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// Arguments could not be serialized, or the event name is reserved.
    pub fn is_args(&self) -> bool {
        self.0.kind == ErrorKind::Args
    }

    /// A client's arguments do not match the type of a handler.
    pub fn is_deserialize(&self) -> bool {
        self.0.kind == ErrorKind::Deserialize
    }

    /// The socket is disconnected (or every recipient of an ack went away).
    pub fn is_disconnected(&self) -> bool {
        self.0.kind == ErrorKind::Disconnected
    }

    /// The connection's send queue is full.
    pub fn is_full(&self) -> bool {
        self.0.kind == ErrorKind::Full
    }

    /// Something did not answer in time: an acknowledgement ([`ErrorKind::Timeout`]) or the
    /// other servers of the cluster ([`ErrorKind::AdapterTimeout`]).
    pub fn is_timeout(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Timeout | ErrorKind::AdapterTimeout)
    }

    /// The adapter failed: [`ErrorKind::AdapterTimeout`], [`ErrorKind::AdapterUnavailable`]
    /// or [`ErrorKind::Adapter`].
    pub fn is_adapter(&self) -> bool {
        matches!(
            self.0.kind,
            ErrorKind::AdapterTimeout | ErrorKind::AdapterUnavailable | ErrorKind::Adapter
        )
    }

    /// The cluster could not be reached, or the adapter is closed.
    pub fn is_unavailable(&self) -> bool {
        self.0.kind == ErrorKind::AdapterUnavailable
    }

    /// A middleware refused a connection or an event.
    pub fn is_rejected(&self) -> bool {
        self.0.kind == ErrorKind::Rejected
    }

    /// The error's own message, without its cause (what [`Display`](fmt::Display) writes,
    /// without the count of replies): for a refusal, `err.message` of the client's
    /// `connect_error`.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The event the error is about: the one whose arguments did not match a handler
    /// ([`ErrorKind::Deserialize`]), or a reserved name given to an emit.
    pub fn event(&self) -> Option<&str> {
        self.0.event.as_deref()
    }

    /// The `data` of a refusal ([`with_data`](Self::with_data)): `err.data` of the client's
    /// `connect_error`.
    pub fn data(&self) -> Option<&Value> {
        self.0.data.as_ref()
    }

    /// For a cluster-wide `emit_with_ack` that did not get every reply: the replies received,
    /// in the order they arrived (socket.io's `err.responses`). Empty for any other error.
    pub fn replies(&self) -> &[Args] {
        match &self.0.replies {
            Some((replies, _)) => replies,
            None => &[],
        }
    }

    /// The replies received (see [`replies`](Self::replies)), taken out of the error.
    pub fn into_replies(self) -> Vec<Args> {
        self.0
            .replies
            .map(|(replies, _)| replies)
            .unwrap_or_default()
    }

    /// For a cluster-wide `emit_with_ack` that did not get every reply: how many replies were
    /// expected, when known (for a broadcast: once every server reported its client count).
    pub fn expected_replies(&self) -> Option<usize> {
        self.0.replies.as_ref().and_then(|(_, expected)| *expected)
    }

    /// The message and data of a refusal, for CONNECT_ERROR (any other error: its message).
    pub(crate) fn into_refusal(self) -> (String, Option<Value>) {
        let inner = *self.0;
        (inner.message.into_owned(), inner.data)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("sio_server::Error");
        d.field("kind", &self.0.kind)
            .field("message", &self.0.message);
        if let Some(event) = &self.0.event {
            d.field("event", event);
        }
        if let Some(data) = &self.0.data {
            d.field("data", data);
        }
        if let Some((replies, expected)) = &self.0.replies {
            d.field("replies", &replies.len())
                .field("expected_replies", expected);
        }
        if let Some(source) = &self.0.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    /// The message, and for a cluster-wide `emit_with_ack` how many replies came:
    /// `operation has timed out: 1 of 2 replies received`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)?;
        match &self.0.replies {
            Some((replies, Some(expected))) => {
                write!(f, ": {} of {expected} replies received", replies.len())
            }
            Some((replies, None)) => write!(f, ": {} replies received", replies.len()),
            None => Ok(()),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// The serde error inside a `sio_protocol::Error` of the args kind, taken out of it, so that
/// the chain reads `sio_server::Error` → `serde_json::Error` without the protocol error's own
/// "cannot serialize the arguments" in between. Any other cause is kept as it is.
fn serde_cause(source: BoxError) -> BoxError {
    match source.downcast::<sio_protocol::Error>() {
        Ok(protocol) if protocol.is_args() && protocol.source().is_some() => protocol
            .into_source()
            .unwrap_or_else(|| Box::new(std::io::Error::other("no cause")) as BoxError),
        Ok(protocol) => protocol,
        Err(other) => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_messages() {
        assert!(Error::timeout().is_timeout());
        assert_eq!(Error::timeout().to_string(), "operation has timed out");
        assert!(Error::adapter_timeout("timeout reached").is_timeout());
        assert!(Error::adapter_timeout("timeout reached").is_adapter());
        assert!(!Error::timeout().is_adapter());
        assert!(Error::disconnected().is_disconnected());
        assert!(Error::full().is_full());
        assert!(Error::adapter_closed().is_unavailable());
        assert_eq!(Error::adapter_closed().to_string(), "adapter closed");
        let reserved = Error::reserved("connect");
        assert!(reserved.is_args());
        assert_eq!(reserved.event(), Some("connect"));
        assert!(reserved.source().is_none());
        let rejected = Error::rejected("no").with_data(&1);
        assert_eq!(rejected.kind(), ErrorKind::Rejected);
        assert_eq!(rejected.data(), Some(&Value::from(1)));
        assert_eq!(
            rejected.into_refusal(),
            ("no".to_owned(), Some(Value::from(1)))
        );
    }

    #[test]
    fn display_does_not_repeat_the_source() {
        let error = Error::adapter(std::io::Error::other("bad answer"));
        assert_eq!(error.to_string(), "adapter error");
        let source = error.source().expect("a source");
        assert_eq!(source.to_string(), "bad answer");
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        let error = Error::deserialize("chat", std::io::Error::other("invalid type"));
        assert_eq!(
            error.to_string(),
            "the arguments of \"chat\" do not match the handler's type"
        );
        assert_eq!(error.event(), Some("chat"));
        assert_eq!(error.source().unwrap().to_string(), "invalid type");
        let debug = format!("{error:?}");
        assert!(
            debug.contains("Deserialize") && debug.contains("invalid type"),
            "{debug}"
        );
    }

    #[test]
    fn replies_travel_in_the_error() {
        let args = Args::new(&(1,)).unwrap();
        let error = Error::timeout().with_replies(vec![args], Some(2));
        assert!(error.is_timeout());
        assert_eq!(error.replies().len(), 1);
        assert_eq!(error.expected_replies(), Some(2));
        assert_eq!(
            error.to_string(),
            "operation has timed out: 1 of 2 replies received"
        );
        assert_eq!(error.message(), "operation has timed out");
        assert_eq!(error.into_replies().len(), 1);
        assert!(Error::timeout().replies().is_empty());
    }

    #[test]
    fn a_protocol_args_error_gives_its_serde_error() {
        struct Fails;
        impl Serialize for Fails {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("no way"))
            }
        }
        let protocol = Args::new(&Fails).expect_err("cannot serialize");
        let error = Error::args(protocol);
        assert!(error.is_args());
        assert_eq!(error.to_string(), "cannot serialize the arguments");
        let source = error.source().expect("a source");
        assert!(source.is::<serde_json::Error>(), "{source:?}");
        assert_eq!(source.to_string(), "no way");
        // A protocol error without a cause stays the cause itself.
        let engine = sio_protocol::engine::Packet::decode_text(
            sio_protocol::Str::new(),
            sio_protocol::engine::ProtocolVersion::V4,
        )
        .expect_err("empty");
        let error = Error::deserialize("x", engine);
        let source = error.source().expect("a source");
        assert!(source.is::<sio_protocol::Error>(), "{source:?}");
    }
}
