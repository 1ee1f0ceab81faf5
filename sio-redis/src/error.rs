//! [`Error`], the crate's one error type, and its [`ErrorKind`].

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

/// A boxed cause, as [`Error`] keeps it.
type BoxError = Box<dyn StdError + Send + Sync>;

/// The error of every fallible call of this crate: connecting to Redis and publishing
/// ([`conn`](crate::conn), the adapters' constructors), reading and writing messages
/// ([`format`](crate::format)), and the [`Emitter`](crate::Emitter)'s operations.
///
/// It is opaque, in the shape of hyper's and reqwest's errors (and of `sio_server::Error`):
/// [`kind`](Self::kind) (or an `is_*` method) tells what failed, [`Display`](fmt::Display)
/// says it in a few words (`"publish timed out"`, `"invalid msgpack: truncated"`,
/// `"\"connect\" is a reserved event name"`...) and never repeats the text of its cause, which
/// [`source`](StdError::source) returns: the `redis::RedisError`, the `serde_json::Error`, or
/// the `sio_protocol::Error` of arguments that do not serialize. Print the whole chain to see
/// everything:
///
/// ```
/// use std::error::Error as _;
///
/// let error = sio_redis::format::decode_json(b"{oops").unwrap_err();
/// assert!(error.is_decode());
/// assert_eq!(error.to_string(), "invalid json");
/// let cause = error.source().expect("the serde_json error");
/// assert!(cause.to_string().starts_with("key must be a string"));
/// ```
///
/// When an adapter operation fails, sio-server's `Error` (of kind `Adapter`) carries this
/// error as its [`source`](StdError::source).
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    source: Option<BoxError>,
}

/// What an [`Error`] is about ([`Error::kind`]). More kinds may come: match with a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A Redis command (or connecting) failed; the message names the command, the cause is
    /// the `redis::RedisError`.
    Redis,
    /// A Redis command (or connecting) did not complete in time (Redis down or
    /// unreachable); the message names what timed out.
    Timeout,
    /// The configuration is unusable (no node, a bad URL); when the `redis` crate refused
    /// it, its `redis::RedisError` is the cause.
    Config,
    /// A message that does not decode: malformed msgpack, malformed JSON (the cause is the
    /// `serde_json::Error`), or well-formed but not the message expected (what is missing
    /// or of the wrong type is in the message).
    Decode,
    /// A string, binary, array or object too long to write in msgpack (over 4 GiB).
    TooLarge,
    /// An [`Emitter`](crate::Emitter)'s arguments that cannot be serialized (the cause is
    /// the `sio_protocol::Error`), or a reserved event name
    /// ([`RESERVED_EVENTS`](crate::RESERVED_EVENTS)).
    Args,
}

impl Error {
    fn build(
        kind: ErrorKind,
        message: impl Into<Cow<'static, str>>,
        source: Option<BoxError>,
    ) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                source,
            }),
        }
    }

    /// `what` (a command, or connecting) failed in the `redis` crate.
    pub(crate) fn redis(what: &'static str, source: redis::RedisError) -> Self {
        if source.kind() == redis::ErrorKind::InvalidClientConfig {
            Error::build(
                ErrorKind::Config,
                format!("invalid configuration: {what} failed"),
                Some(Box::new(source)),
            )
        } else {
            Error::build(
                ErrorKind::Redis,
                format!("{what} failed"),
                Some(Box::new(source)),
            )
        }
    }

    /// `what` did not complete in time.
    pub(crate) fn timeout(what: &'static str) -> Self {
        Error::build(ErrorKind::Timeout, format!("{what} timed out"), None)
    }

    /// An unusable configuration.
    pub(crate) fn config(what: &'static str) -> Self {
        Error::build(
            ErrorKind::Config,
            format!("invalid configuration: {what}"),
            None,
        )
    }

    /// Malformed msgpack: what is wrong with it.
    pub(crate) fn msgpack(what: &'static str) -> Self {
        Error::build(ErrorKind::Decode, format!("invalid msgpack: {what}"), None)
    }

    /// Malformed JSON.
    pub(crate) fn json(source: serde_json::Error) -> Self {
        Error::build(ErrorKind::Decode, "invalid json", Some(Box::new(source)))
    }

    /// Well-formed, but not the message expected: what is missing or of the wrong type.
    pub(crate) fn shape(what: &'static str) -> Self {
        Error::build(
            ErrorKind::Decode,
            format!("unexpected message: {what}"),
            None,
        )
    }

    /// Too long to write.
    pub(crate) fn too_large() -> Self {
        Error::build(ErrorKind::TooLarge, "message too large", None)
    }

    /// A reserved event name.
    pub(crate) fn reserved(event: &str) -> Self {
        Error::build(
            ErrorKind::Args,
            format!("\"{event}\" is a reserved event name"),
            None,
        )
    }

    /// Arguments that cannot be serialized. What is wrong with them is the cause's to say
    /// (and its serde error's).
    pub(crate) fn args(source: sio_protocol::Error) -> Self {
        Error::build(ErrorKind::Args, "invalid arguments", Some(Box::new(source)))
    }

    /// The message followed by every cause's (`"publish failed: broken pipe"`), for the
    /// crate's own log lines, which print the error where no caller will.
    pub(crate) fn chain(&self) -> String {
        let mut text = self.inner.message.to_string();
        let mut next = self.source();
        while let Some(cause) = next {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            next = cause.source();
        }
        text
    }

    /// What the error is about.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// Whether a Redis command (or connecting) failed ([`ErrorKind::Redis`]).
    pub fn is_redis(&self) -> bool {
        self.inner.kind == ErrorKind::Redis
    }

    /// Whether the operation did not complete in time ([`ErrorKind::Timeout`]: Redis down
    /// or unreachable).
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }

    /// Whether the configuration is unusable ([`ErrorKind::Config`]: no node, a bad URL).
    pub fn is_config(&self) -> bool {
        self.inner.kind == ErrorKind::Config
    }

    /// Whether a message does not decode ([`ErrorKind::Decode`]).
    pub fn is_decode(&self) -> bool {
        self.inner.kind == ErrorKind::Decode
    }

    /// Whether a message is too large to write ([`ErrorKind::TooLarge`]).
    pub fn is_too_large(&self) -> bool {
        self.inner.kind == ErrorKind::TooLarge
    }

    /// Whether an emitter's arguments or event name were refused ([`ErrorKind::Args`]).
    pub fn is_args(&self) -> bool {
        self.inner.kind == ErrorKind::Args
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("sio_redis::Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn redis_error(kind: redis::ErrorKind) -> redis::RedisError {
        redis::RedisError::from((kind, "the cause"))
    }

    #[test]
    fn kinds_and_sources() {
        let e = Error::redis("publish", redis_error(redis::ErrorKind::Io));
        assert_eq!(e.kind(), ErrorKind::Redis);
        assert!(e.is_redis() && !e.is_timeout() && !e.is_config());
        assert_eq!(e.to_string(), "publish failed");
        let cause = e.source().expect("the redis error");
        assert!(cause.downcast_ref::<redis::RedisError>().is_some());
        assert!(cause.to_string().contains("the cause"));
        assert!(e.chain().starts_with("publish failed: "), "{}", e.chain());
        assert!(e.chain().contains("the cause"), "{}", e.chain());

        let e = Error::redis(
            "connecting to redis",
            redis_error(redis::ErrorKind::InvalidClientConfig),
        );
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.is_config() && !e.is_redis());
        assert!(
            e.source()
                .unwrap()
                .downcast_ref::<redis::RedisError>()
                .is_some()
        );

        let e = Error::timeout("publish");
        assert!(e.is_timeout());
        assert_eq!(e.to_string(), "publish timed out");
        assert!(e.source().is_none());

        let e = Error::config("no redis node");
        assert!(e.is_config());
        assert_eq!(e.to_string(), "invalid configuration: no redis node");

        let e = crate::format::decode_json(b"{oops").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Decode);
        assert!(e.is_decode());
        assert_eq!(e.to_string(), "invalid json");
        assert!(
            e.source()
                .unwrap()
                .downcast_ref::<serde_json::Error>()
                .is_some()
        );

        let e = crate::format::decode_payload(&bytes::Bytes::from_static(&[0xc1])).unwrap_err();
        assert!(e.is_decode());
        assert_eq!(e.to_string(), "invalid msgpack: reserved byte c1");

        let e = Error::shape("packet type");
        assert!(e.is_decode());
        assert_eq!(e.to_string(), "unexpected message: packet type");

        let e = Error::too_large();
        assert_eq!(e.kind(), ErrorKind::TooLarge);
        assert!(e.is_too_large());

        let e = Error::reserved("connect");
        assert_eq!(e.kind(), ErrorKind::Args);
        assert!(e.is_args());
        assert_eq!(e.to_string(), "\"connect\" is a reserved event name");
        assert!(e.source().is_none());

        let protocol = sio_protocol::socket::Args::new(&NotSerializable).unwrap_err();
        let e = Error::args(protocol);
        assert!(e.is_args());
        assert_eq!(e.to_string(), "invalid arguments");
        assert!(
            e.source()
                .unwrap()
                .downcast_ref::<sio_protocol::Error>()
                .is_some()
        );
    }

    struct NotSerializable;

    impl serde::Serialize for NotSerializable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refused"))
        }
    }

    #[test]
    fn small() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }
}
