//! What an [`Adapter`](super::Adapter) exchanges with the caller and with the other servers of
//! a cluster: [`ReplySink`] / [`ReplyEvent`] (acknowledgements arriving later) and
//! [`RemoteSocketData`] (a socket as `fetch_sockets` describes it). Its errors are
//! [`Error`](super::Error)s of the adapter kinds.
//!
//! A leaf of the Socket.IO layer (it imports [`Handshake`] only): the adapter, the broadcast
//! operator and the server-side events build on it.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};
use sio_protocol::socket::Args;
use sio_protocol::{Str, Value};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::handshake::Handshake;

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
    #[serde(default, deserialize_with = "lenient_rooms")]
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

/// Reads a list of rooms as JavaScript may write it: strings, or numbers (`socket.join(1)`
/// in JavaScript makes a room named by a number), which read as their decimal text.
pub(crate) fn lenient_rooms<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Str>, D::Error> {
    let v = sio_protocol::Value::deserialize(d)?;
    let items = match v {
        sio_protocol::Value::Array(items) => items,
        sio_protocol::Value::Null => Vec::new(),
        other => vec![other],
    };
    Ok(items
        .into_iter()
        .filter_map(|item| match item {
            sio_protocol::Value::String(s) => Some(Str::from(s)),
            sio_protocol::Value::Number(n) => Some(Str::from(n.to_string())),
            _ => None,
        })
        .collect())
}
