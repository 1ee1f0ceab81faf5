//! [`Error`], the crate's one error type, and its [`ErrorKind`].

use std::error::Error as StdError;
use std::fmt;

use crate::reason::deflate::InflateReason;
use crate::reason::engine::DecodeReason as EngineReason;
use crate::reason::session::SessionReason;
use crate::reason::socket::DecodeReason as SocketReason;
use crate::reason::websocket::FrameReason;

/// A boxed cause, as [`Error`] keeps it.
type BoxError = Box<dyn StdError + Send + Sync>;

/// The error of every fallible call of this crate.
///
/// It is opaque, in the shape of hyper's and reqwest's errors: [`kind`](Self::kind) (or an
/// `is_*` method) tells what failed, [`Display`](fmt::Display) says what failed and why
/// (`"invalid engine.io data: empty packet"`, `"cannot deserialize the arguments"`...) but
/// never repeats the text of its cause, which [`source`](StdError::source) returns (the
/// `serde_json::Error` of a failed (de)serialization, for example). Print the whole chain to
/// see everything:
///
/// ```
/// use std::error::Error as _;
/// use sio_protocol::socket::Args;
///
/// let args = Args::new(&("not a number",))?;
/// let error = args.deserialize::<(u32,)>().unwrap_err();
/// assert!(error.is_args());
/// assert_eq!(error.to_string(), "cannot deserialize the arguments");
/// let cause = error.source().expect("the serde error");
/// assert!(cause.downcast_ref::<serde_json::Error>().is_some());
/// # Ok::<(), sio_protocol::Error>(())
/// ```
///
/// The details a peer-facing layer needs stay reachable: which WebSocket close code to send
/// ([`close_code`](Self::close_code)), whether a size limit was passed
/// ([`is_too_large`](Self::is_too_large)), and the exact reason of a decode failure or a
/// session misuse ([`engine_reason`](Self::engine_reason),
/// [`socket_reason`](Self::socket_reason), [`frame_reason`](Self::frame_reason),
/// [`inflate_reason`](Self::inflate_reason), [`session_reason`](Self::session_reason)). Those
/// reasons are plain data enums, not error types.
///
/// The error is one pointer wide (its content is boxed, and the box is only allocated when
/// something fails), so `Result<T, Error>` costs little on the decode paths.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    repr: Repr,
    source: Option<BoxError>,
}

enum Repr {
    Engine(EngineReason),
    Socket(SocketReason),
    Frame(FrameReason),
    Inflate(InflateReason),
    /// The reason text of an unacceptable `Sec-WebSocket-Extensions` header.
    Extensions(Box<str>),
    Args(ArgsRepr),
    Session(SessionReason),
}

/// What went wrong with arguments.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ArgsRepr {
    /// Serialization failed (the cause is the serializer's error).
    Serialize,
    /// Deserialization failed (the cause is the deserializer's error).
    Deserialize,
    /// A binary placeholder's `num` is not an attachment index.
    Placeholder,
    /// The arguments' JSON text is larger than 4 GiB.
    TooLarge,
    /// The operation is not supported (a parser this build does not include...).
    Unsupported(&'static str),
}

/// What an [`Error`] is about ([`Error::kind`]). More kinds may come: match with a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bytes that are not Engine.IO packets: a packet, a polling payload (also one over its
    /// size limit) or an `open` packet's JSON. Details: [`Error::engine_reason`].
    EngineDecode,
    /// A message that is not a Socket.IO packet (the peer broke the protocol; socket.io
    /// closes the connection). Details: [`Error::socket_reason`].
    SocketDecode,
    /// Bytes that are not valid WebSocket frames, or a message over the size limit. Details:
    /// [`Error::frame_reason`], [`Error::close_code`].
    WebSocket,
    /// A `permessage-deflate` compressed message that does not inflate, or inflates past the
    /// size limit. Details: [`Error::inflate_reason`], [`Error::close_code`].
    Inflate,
    /// A `Sec-WebSocket-Extensions` request header that cannot be parsed, or a
    /// `permessage-deflate` offer with an unknown, duplicated or invalid parameter (`ws` then
    /// answers `400 Bad Request`).
    WebSocketExtensions,
    /// Arguments (or other user data) that cannot be serialized, or that do not deserialize
    /// into the type asked for; the cause is the serde error.
    Args,
    /// A command that does not fit a session's state (the caller's mistake, or a race with
    /// the connection closing). Details: [`Error::session_reason`].
    Session,
}

impl Error {
    fn from_repr(repr: Repr, source: Option<BoxError>) -> Self {
        Error {
            inner: Box::new(Inner { repr, source }),
        }
    }

    pub(crate) fn engine(reason: EngineReason) -> Self {
        Error::from_repr(Repr::Engine(reason), None)
    }

    pub(crate) fn engine_with(reason: EngineReason, source: impl Into<BoxError>) -> Self {
        Error::from_repr(Repr::Engine(reason), Some(source.into()))
    }

    pub(crate) fn socket(reason: SocketReason) -> Self {
        Error::from_repr(Repr::Socket(reason), None)
    }

    pub(crate) fn frame(reason: FrameReason) -> Self {
        Error::from_repr(Repr::Frame(reason), None)
    }

    pub(crate) fn frame_with(reason: FrameReason, source: impl Into<BoxError>) -> Self {
        Error::from_repr(Repr::Frame(reason), Some(source.into()))
    }

    pub(crate) fn inflate(reason: InflateReason) -> Self {
        Error::from_repr(Repr::Inflate(reason), None)
    }

    pub(crate) fn extensions(reason: impl Into<Box<str>>) -> Self {
        Error::from_repr(Repr::Extensions(reason.into()), None)
    }

    pub(crate) fn args(repr: ArgsRepr) -> Self {
        Error::from_repr(Repr::Args(repr), None)
    }

    pub(crate) fn args_with(repr: ArgsRepr, source: impl Into<BoxError>) -> Self {
        Error::from_repr(Repr::Args(repr), Some(source.into()))
    }

    /// Serialization of user data failed.
    pub(crate) fn serialize(source: serde_json::Error) -> Self {
        Error::args_with(ArgsRepr::Serialize, source)
    }

    /// Deserialization of user data failed.
    pub(crate) fn deserialize(source: serde_json::Error) -> Self {
        Error::args_with(ArgsRepr::Deserialize, source)
    }

    pub(crate) fn session(reason: SessionReason) -> Self {
        Error::from_repr(Repr::Session(reason), None)
    }

    /// What failed.
    pub fn kind(&self) -> ErrorKind {
        match &self.inner.repr {
            Repr::Engine(_) => ErrorKind::EngineDecode,
            Repr::Socket(_) => ErrorKind::SocketDecode,
            Repr::Frame(_) => ErrorKind::WebSocket,
            Repr::Inflate(_) => ErrorKind::Inflate,
            Repr::Extensions(_) => ErrorKind::WebSocketExtensions,
            Repr::Args(_) => ErrorKind::Args,
            Repr::Session(_) => ErrorKind::Session,
        }
    }

    /// Bytes that are not Engine.IO packets ([`ErrorKind::EngineDecode`]).
    pub fn is_engine_decode(&self) -> bool {
        self.kind() == ErrorKind::EngineDecode
    }

    /// A message that is not a Socket.IO packet ([`ErrorKind::SocketDecode`]).
    pub fn is_socket_decode(&self) -> bool {
        self.kind() == ErrorKind::SocketDecode
    }

    /// Bytes that are not valid WebSocket frames ([`ErrorKind::WebSocket`]).
    pub fn is_websocket(&self) -> bool {
        self.kind() == ErrorKind::WebSocket
    }

    /// A compressed WebSocket message that does not inflate ([`ErrorKind::Inflate`]).
    pub fn is_inflate(&self) -> bool {
        self.kind() == ErrorKind::Inflate
    }

    /// An unacceptable `Sec-WebSocket-Extensions` header
    /// ([`ErrorKind::WebSocketExtensions`]).
    pub fn is_websocket_extensions(&self) -> bool {
        self.kind() == ErrorKind::WebSocketExtensions
    }

    /// Arguments that do not (de)serialize ([`ErrorKind::Args`]).
    pub fn is_args(&self) -> bool {
        self.kind() == ErrorKind::Args
    }

    /// A command that does not fit a session's state ([`ErrorKind::Session`]).
    pub fn is_session(&self) -> bool {
        self.kind() == ErrorKind::Session
    }

    /// A size limit was passed: a polling payload over its limit (an HTTP server answers
    /// `413`), a WebSocket message over its limit, before or after inflating (close code
    /// 1009), or arguments whose JSON text is over 4 GiB.
    pub fn is_too_large(&self) -> bool {
        matches!(
            &self.inner.repr,
            Repr::Engine(EngineReason::PayloadTooLarge { .. })
                | Repr::Frame(FrameReason::TooBig)
                | Repr::Inflate(InflateReason::TooBig)
                | Repr::Args(ArgsRepr::TooLarge)
        )
    }

    /// The WebSocket close code to send for this error, as `ws` does: 1002 (protocol error),
    /// 1007 (invalid payload data) or 1009 (message too big), for the
    /// [`WebSocket`](ErrorKind::WebSocket) and [`Inflate`](ErrorKind::Inflate) kinds; `None`
    /// for the others.
    pub fn close_code(&self) -> Option<u16> {
        match &self.inner.repr {
            Repr::Frame(reason) => Some(reason.close_code()),
            Repr::Inflate(reason) => Some(reason.close_code()),
            _ => None,
        }
    }

    /// The cause, taken out of the error (as `std::io::Error::into_inner`): for a layer that
    /// wraps the error in its own and wants the cause one level down, such as a
    /// `serde_json::Error`. `None` when the error has no cause.
    pub fn into_source(self) -> Option<BoxError> {
        self.inner.source
    }

    /// Why bytes are not Engine.IO packets, for the [`EngineDecode`](ErrorKind::EngineDecode)
    /// kind.
    pub fn engine_reason(&self) -> Option<EngineReason> {
        match &self.inner.repr {
            Repr::Engine(reason) => Some(reason.clone()),
            _ => None,
        }
    }

    /// Why a message is not a Socket.IO packet, for the
    /// [`SocketDecode`](ErrorKind::SocketDecode) kind.
    pub fn socket_reason(&self) -> Option<SocketReason> {
        match &self.inner.repr {
            Repr::Socket(reason) => Some(*reason),
            _ => None,
        }
    }

    /// Why bytes are not valid WebSocket frames, for the [`WebSocket`](ErrorKind::WebSocket)
    /// kind.
    pub fn frame_reason(&self) -> Option<FrameReason> {
        match &self.inner.repr {
            Repr::Frame(reason) => Some(*reason),
            _ => None,
        }
    }

    /// Why a compressed message was refused, for the [`Inflate`](ErrorKind::Inflate) kind.
    pub fn inflate_reason(&self) -> Option<InflateReason> {
        match &self.inner.repr {
            Repr::Inflate(reason) => Some(*reason),
            _ => None,
        }
    }

    /// Which session rule a command broke, for the [`Session`](ErrorKind::Session) kind.
    pub fn session_reason(&self) -> Option<SessionReason> {
        match &self.inner.repr {
            Repr::Session(reason) => Some(*reason),
            _ => None,
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("sio_protocol::Error");
        d.field("kind", &self.kind());
        match &self.inner.repr {
            Repr::Engine(reason) => d.field("reason", reason),
            Repr::Socket(reason) => d.field("reason", reason),
            Repr::Frame(reason) => d.field("reason", reason),
            Repr::Inflate(reason) => d.field("reason", reason),
            Repr::Extensions(reason) => d.field("reason", reason),
            Repr::Args(reason) => d.field("reason", reason),
            Repr::Session(reason) => d.field("reason", reason),
        };
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.repr {
            Repr::Engine(reason) => write!(f, "invalid engine.io data: {reason}"),
            Repr::Socket(reason) => write!(f, "invalid socket.io packet: {reason}"),
            Repr::Frame(reason) => fmt::Display::fmt(reason, f),
            Repr::Inflate(reason) => write!(f, "cannot inflate a websocket message: {reason}"),
            Repr::Extensions(reason) => write!(
                f,
                "invalid or unacceptable sec-websocket-extensions header: {reason}"
            ),
            Repr::Args(ArgsRepr::Serialize) => f.write_str("cannot serialize the arguments"),
            Repr::Args(ArgsRepr::Deserialize) => f.write_str("cannot deserialize the arguments"),
            Repr::Args(ArgsRepr::Placeholder) => {
                f.write_str("invalid attachment placeholder in the arguments")
            }
            Repr::Args(ArgsRepr::TooLarge) => f.write_str("arguments too large"),
            Repr::Args(ArgsRepr::Unsupported(what)) => write!(f, "unsupported: {what}"),
            Repr::Session(reason) => fmt::Display::fmt(reason, f),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pointer_wide() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn kinds_and_shortcuts() {
        let e = Error::engine(EngineReason::PayloadTooLarge { limit: 10 });
        assert_eq!(e.kind(), ErrorKind::EngineDecode);
        assert!(e.is_engine_decode() && e.is_too_large() && e.source().is_none());
        assert_eq!(
            e.to_string(),
            "invalid engine.io data: payload too large (limit 10 bytes)"
        );
        assert_eq!(e.close_code(), None);

        let e = Error::socket(SocketReason::InvalidAckId);
        assert!(e.is_socket_decode() && !e.is_too_large());
        assert_eq!(e.socket_reason(), Some(SocketReason::InvalidAckId));
        assert_eq!(e.to_string(), "invalid socket.io packet: invalid ack id");

        let e = Error::frame(FrameReason::TooBig);
        assert!(e.is_websocket() && e.is_too_large());
        assert_eq!(e.close_code(), Some(1009));

        let e = Error::inflate(InflateReason::Corrupt);
        assert!(e.is_inflate() && !e.is_too_large());
        assert_eq!(e.close_code(), Some(1007));
        assert_eq!(
            e.to_string(),
            "cannot inflate a websocket message: invalid compressed data"
        );

        let e = Error::extensions("x");
        assert!(e.is_websocket_extensions());
        assert_eq!(e.close_code(), None);

        let e = Error::session(SessionReason::Closed);
        assert!(e.is_session());
        assert_eq!(e.session_reason(), Some(SessionReason::Closed));
        assert_eq!(e.engine_reason(), None);
        assert_eq!(e.to_string(), "the session is closed");

        let e = Error::args(ArgsRepr::TooLarge);
        assert!(e.is_args() && e.is_too_large());
        assert!(e.into_source().is_none());
        let cause = serde_json::from_str::<u8>("x").unwrap_err();
        let e = Error::deserialize(cause);
        assert_eq!(e.to_string(), "cannot deserialize the arguments");
        let cause = e.into_source().expect("the serde error");
        assert!(cause.is::<serde_json::Error>());

        let debug = format!("{:?}", Error::engine(EngineReason::Truncated));
        assert!(
            debug.contains("EngineDecode") && debug.contains("Truncated"),
            "{debug}"
        );
    }
}
