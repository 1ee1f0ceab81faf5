//! What an [`Adapter`](super::Adapter) exchanges with the caller and with the other servers of
//! a cluster: [`AdapterError`], [`ReplySink`] / [`ReplyEvent`] (acknowledgements arriving
//! later), [`RemoteSocketData`] (a socket as `fetch_sockets` describes it), and
//! [`PartialReplies`] (a cluster-wide `emit_with_ack` that did not get every reply).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sio_protocol::socket::Args;
use sio_protocol::{Str, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::ack::AckError;
use super::handshake::Handshake;

type BoxError = Box<dyn StdError + Send + Sync>;

/// Why a cluster operation failed: an [`Adapter`](super::Adapter) could not reach the other
/// servers, or they did not answer in time.
///
/// Opaque, like `hyper::Error`: ask [`kind`](Self::kind) (or [`is_timeout`](Self::is_timeout),
/// [`is_unavailable`](Self::is_unavailable)) and [`source`](StdError::source) for the
/// underlying error (a Redis client's, say).
///
/// ```
/// use sio_server::{AdapterError, AdapterErrorKind};
///
/// let e = AdapterError::unavailable(std::io::Error::other("connection refused"));
/// assert!(e.is_unavailable());
/// assert_eq!(e.to_string(), "cluster unavailable");
/// assert_eq!(std::error::Error::source(&e).unwrap().to_string(), "connection refused");
///
/// let e = AdapterError::timeout("timeout reached: only 1 responses received out of 2");
/// assert_eq!(e.kind(), AdapterErrorKind::Timeout);
/// ```
pub struct AdapterError(Box<ErrorInner>);

struct ErrorInner {
    kind: AdapterErrorKind,
    message: Option<String>,
    source: Option<BoxError>,
}

/// The kind of an [`AdapterError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AdapterErrorKind {
    /// The other servers did not answer in time.
    Timeout,
    /// The cluster cannot be reached (the broker is down, the connection is lost) or the
    /// adapter is closed.
    Unavailable,
    /// Anything else (a message that could not be encoded, a bad answer...).
    Other,
}

impl AdapterError {
    fn new(kind: AdapterErrorKind, message: Option<String>, source: Option<BoxError>) -> Self {
        AdapterError(Box::new(ErrorInner {
            kind,
            message,
            source,
        }))
    }

    /// The other servers did not answer in time; `message` says how many did (socket.io's
    /// `timeout reached: only 1 responses received out of 2`).
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(AdapterErrorKind::Timeout, Some(message.into()), None)
    }

    /// The cluster cannot be reached; `source` says why.
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::new(AdapterErrorKind::Unavailable, None, Some(source.into()))
    }

    /// The adapter is closed ([`Adapter::close`](super::Adapter::close) ran).
    pub fn closed() -> Self {
        Self::new(
            AdapterErrorKind::Unavailable,
            Some("adapter closed".to_owned()),
            None,
        )
    }

    /// Any other failure; `source` says what.
    pub fn other(source: impl Into<BoxError>) -> Self {
        Self::new(AdapterErrorKind::Other, None, Some(source.into()))
    }

    /// The kind of failure.
    pub fn kind(&self) -> AdapterErrorKind {
        self.0.kind
    }

    /// Whether the other servers did not answer in time.
    pub fn is_timeout(&self) -> bool {
        self.0.kind == AdapterErrorKind::Timeout
    }

    /// Whether the cluster could not be reached (or the adapter is closed).
    pub fn is_unavailable(&self) -> bool {
        self.0.kind == AdapterErrorKind::Unavailable
    }
}

impl fmt::Debug for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AdapterError");
        d.field("kind", &self.0.kind);
        if let Some(message) = &self.0.message {
            d.field("message", message);
        }
        if let Some(source) = &self.0.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.0.message, self.0.kind) {
            (Some(message), _) => f.write_str(message),
            (None, AdapterErrorKind::Timeout) => f.write_str("cluster operation timed out"),
            (None, AdapterErrorKind::Unavailable) => f.write_str("cluster unavailable"),
            (None, _) => f.write_str("adapter error"),
        }
    }
}

impl StdError for AdapterError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// What a [`ReplySink`] receives.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ReplyEvent {
    /// One server sent a broadcast to this many clients (socket.io's `clientCountCallback`,
    /// `BROADCAST_CLIENT_COUNT` on the wire). Every server that got the broadcast reports it
    /// once, this one included.
    ClientCount(usize),
    /// One reply: a client's acknowledgement of a broadcast, or another server's answer to a
    /// server-side event. Replies that crossed servers hold one argument (socket.io sends
    /// only the first argument of an acknowledgement to the requesting server).
    Reply(Args),
}

/// Where the replies of a broadcast with acknowledgements or of a server-side event with
/// acknowledgement go: to the caller waiting for them (a channel), or, on the server that
/// answers a request of another one, to a callback that sends them back over the cluster.
///
/// Cheap to clone. Sending to a closed sink does nothing. A sink is **closed** once its
/// receiver is gone (the caller got every reply, or timed out) or its deadline
/// ([`until`](Self::until)) passed: an adapter drops its state of a request then (see
/// [`closed`](Self::closed)).
#[derive(Clone)]
pub struct ReplySink {
    kind: SinkKind,
    deadline: Option<Instant>,
}

#[derive(Clone)]
enum SinkKind {
    Channel(mpsc::UnboundedSender<ReplyEvent>),
    Callback(Arc<dyn Fn(ReplyEvent) + Send + Sync>),
}

impl fmt::Debug for ReplySink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplySink")
            .field(
                "kind",
                &match self.kind {
                    SinkKind::Channel(_) => "channel",
                    SinkKind::Callback(_) => "callback",
                },
            )
            .field("deadline", &self.deadline)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl ReplySink {
    /// A sink whose events go to the returned receiver. The sink closes when the receiver is
    /// dropped.
    pub fn channel() -> (ReplySink, mpsc::UnboundedReceiver<ReplyEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            ReplySink {
                kind: SinkKind::Channel(tx),
                deadline: None,
            },
            rx,
        )
    }

    /// A sink that calls `f` with each event: how an adapter sends the client count and the
    /// acknowledgements of a remote broadcast back to the server that asked for them.
    ///
    /// `f` runs on the task that received the reply (a connection's task, for a client's
    /// acknowledgement): it must not block; queue the message to send. Such a sink never
    /// closes by itself: give it a deadline with [`until`](Self::until).
    pub fn from_fn(f: impl Fn(ReplyEvent) + Send + Sync + 'static) -> ReplySink {
        ReplySink {
            kind: SinkKind::Callback(Arc::new(f)),
            deadline: None,
        }
    }

    /// The same sink, closed from `deadline` on (events sent later are dropped, and sockets
    /// forget their pending acknowledgements for it).
    pub fn until(mut self, deadline: Instant) -> ReplySink {
        self.deadline = Some(deadline);
        self
    }

    /// The deadline given with [`until`](Self::until).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Sends an event (nothing happens once the sink is closed).
    pub fn send(&self, event: ReplyEvent) {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        match &self.kind {
            SinkKind::Channel(tx) => {
                let _ = tx.send(event);
            }
            SinkKind::Callback(f) => f(event),
        }
    }

    /// Reports that one server sent the broadcast to `n` clients.
    pub fn client_count(&self, n: usize) {
        self.send(ReplyEvent::ClientCount(n));
    }

    /// Sends one reply.
    pub fn reply(&self, args: Args) {
        self.send(ReplyEvent::Reply(args));
    }

    /// Whether nobody waits for the events any more.
    pub fn is_closed(&self) -> bool {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return true;
        }
        match &self.kind {
            SinkKind::Channel(tx) => tx.is_closed(),
            SinkKind::Callback(_) => false,
        }
    }

    /// Resolves once the sink is closed: the receiver is dropped or the deadline passed (never,
    /// for a callback sink without a deadline). An adapter awaits it to forget a request.
    pub async fn closed(&self) {
        let receiver_gone = async {
            match &self.kind {
                SinkKind::Channel(tx) => tx.closed().await,
                SinkKind::Callback(_) => std::future::pending().await,
            }
        };
        match self.deadline {
            Some(deadline) => {
                tokio::select! {
                    () = receiver_gone => {}
                    () = tokio::time::sleep_until(deadline) => {}
                }
            }
            None => receiver_gone.await,
        }
    }
}

/// A socket as [`fetch_sockets`](super::Adapter::fetch_sockets) describes it, on any server:
/// what socket.io's `REMOTE_FETCH` / `FETCH_SOCKETS_RESPONSE` carry for each socket.
///
/// It serializes (serde) as socket.io's object `{id, handshake, rooms, data}`: `handshake` as
/// JavaScript's `socket.handshake` (see [`Handshake`]'s serialization), `rooms` an array,
/// `data` the socket's [`data`](super::Socket::set_data) (`{}` unless set). A
/// JavaScript server's answer deserializes into it (a missing `data` reads as `null`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RemoteSocketData {
    /// The socket id.
    pub id: Str,
    /// Its handshake.
    pub handshake: Handshake,
    /// Its rooms (its own id included; a room a JavaScript server has as a number reads as
    /// its decimal text).
    #[serde(default, deserialize_with = "super::adapter::lenient_rooms")]
    pub rooms: Vec<Str>,
    /// Its `data`.
    #[serde(default)]
    pub data: Value,
}

impl RemoteSocketData {
    /// A description from its parts.
    pub fn new(id: Str, handshake: Handshake, rooms: Vec<Str>, data: Value) -> Self {
        RemoteSocketData {
            id,
            handshake,
            rooms,
            data,
        }
    }
}

/// A cluster-wide `emit_with_ack` (a broadcast's, or
/// [`server_side_emit_with_ack`](super::Namespace::server_side_emit_with_ack)) that did not
/// get every reply: why, and the replies that came before (socket.io's `err.responses`).
#[derive(Debug)]
#[non_exhaustive]
pub struct PartialReplies {
    /// Why the collection ended: [`AckError::Timeout`] (the timeout passed first),
    /// [`AckError::Adapter`] (the cluster could not be reached), [`AckError::Disconnected`]
    /// (every recipient went away before answering), [`AckError::Emit`] (nothing was sent).
    pub error: AckError,
    /// The replies received, in the order they arrived.
    pub replies: Vec<Args>,
    /// How many replies were expected, when known (for a broadcast: once every server
    /// reported its client count).
    pub expected: Option<usize>,
}

impl PartialReplies {
    pub(crate) fn new(error: AckError, replies: Vec<Args>, expected: Option<usize>) -> Self {
        PartialReplies {
            error,
            replies,
            expected,
        }
    }

    /// Whether the timeout passed before every reply came.
    pub fn is_timeout(&self) -> bool {
        matches!(self.error, AckError::Timeout)
    }
}

impl fmt::Display for PartialReplies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.expected {
            Some(expected) => write!(
                f,
                "{}: {} of {expected} replies received",
                self.error,
                self.replies.len()
            ),
            None => write!(f, "{}: {} replies received", self.error, self.replies.len()),
        }
    }
}

impl StdError for PartialReplies {
    /// The source of [`error`](Self::error) (its text is already in this error's).
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.error.source()
    }
}
