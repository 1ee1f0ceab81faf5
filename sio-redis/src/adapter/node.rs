//! What one node (one [`RedisAdapter`](super::RedisAdapter)) shares between its namespace
//! adapters: the Redis connection, the subscriber, the routes of received messages, the
//! outbox and the counters.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, Weak};
use std::time::Duration;

use bytes::Bytes;
use sio_protocol::Str;
use sio_server::Error as AdapterError;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::options::Kind;
use super::requests::Collected;
use crate::conn::{Message, RedisConnection, Subscriber};
use crate::format::cluster::ClusterMessage;

/// How many messages the outbox (answers and acknowledgements for the other servers) holds.
pub(super) const OUTBOX: usize = 1024;

/// The longest a server keeps the acknowledgements of another server's broadcast for it
/// (the requester's `timeout` flag, which any value may come in).
pub(super) const MAX_ACK_WAIT: Duration = Duration::from_secs(3600);

/// When to stop forwarding the acknowledgements of another server's broadcast.
pub(super) fn ack_deadline(timeout: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(timeout.min(MAX_ACK_WAIT)).unwrap_or(now)
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) invalid: AtomicU64,
    pub(super) outbox_dropped: AtomicU64,
    pub(super) timeouts: AtomicU64,
}

pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What one node shares between its namespaces.
pub(super) struct Node {
    pub(super) uid: Str,
    pub(super) kind: Kind,
    pub(super) conn: RedisConnection,
    pub(super) subscriber: Subscriber,
    /// Where each received message goes: by channel (classic: the pattern and the request
    /// and response channels) or by namespace (sharded).
    pub(super) routes: Mutex<HashMap<String, Route>>,
    pub(super) outbox: mpsc::Sender<Outgoing>,
    pub(super) counters: Counters,
    pub(super) runtime: Handle,
}

/// A received message, for the namespace adapter it is routed to.
// Moved down the stack once per message, never stored: boxing the large variant would only
// add an allocation.
#[allow(clippy::large_enum_variant)]
pub(super) enum Incoming<'a> {
    /// A classic adapter's message (PUBLISH / PSUBSCRIBE), routed by its channel or pattern.
    Classic(&'a Message),
    /// A sharded adapter's message (SPUBLISH / SSUBSCRIBE), decoded to find its namespace.
    Sharded {
        channel: &'a [u8],
        message: ClusterMessage,
    },
}

/// A namespace adapter that receives the messages routed to it.
pub(super) trait Receive: Send + Sync {
    fn receive(&self, incoming: Incoming<'_>);
}

/// Where received messages under one key go: a namespace adapter, while it lives.
#[derive(Clone)]
pub(super) struct Route(Weak<dyn Receive>);

/// A message of the outbox.
pub(super) struct Outgoing {
    pub(super) channel: String,
    pub(super) payload: Bytes,
    pub(super) sharded: bool,
}

impl Node {
    pub(super) fn routes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Route>> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers `route` under `keys`; an existing live route under one of them (a second
    /// server on this node) is replaced, with an error in the log.
    pub(super) fn add_routes(&self, keys: &[String], route: &Route) {
        let mut routes = self.routes();
        for key in keys {
            if let Some(old) = routes.insert(key.clone(), route.clone()) {
                if old.is_alive() {
                    tracing::error!(
                        key = %key,
                        "sio-redis: two namespaces of this node use the same channel; one RedisAdapter must serve one SocketIo"
                    );
                }
            }
        }
    }

    /// Removes the routes under `keys` that are dead or `route` itself.
    pub(super) fn remove_routes(&self, keys: &[String], route: &Route) {
        let mut routes = self.routes();
        for key in keys {
            if routes
                .get(key)
                .is_some_and(|r| !r.is_alive() || r.same(route))
            {
                routes.remove(key);
            }
        }
    }

    /// Queues a message for the outbox (answers and acknowledgements): dropped, logged and
    /// counted when it is full.
    pub(super) fn send_later(&self, channel: String, payload: Bytes, sharded: bool) {
        let message = Outgoing {
            channel,
            payload,
            sharded,
        };
        if let Err(mpsc::error::TrySendError::Full(m)) = self.outbox.try_send(message) {
            bump(&self.counters.outbox_dropped);
            tracing::warn!(channel = %m.channel, "sio-redis: outbox full, dropped a message");
        }
    }

    /// Logs and counts a received message that cannot be used.
    pub(super) fn invalid(&self, channel: &[u8], why: &dyn fmt::Display) {
        bump(&self.counters.invalid);
        tracing::warn!(
            channel = %String::from_utf8_lossy(channel),
            "sio-redis: dropped an invalid message: {why}"
        );
    }

    /// A `fetch_sockets` / `all_rooms` that ended: as it is when complete; else counted and
    /// logged, then the answers received with `partial`, or the timeout `error`.
    pub(super) fn collected(
        &self,
        nsp: &str,
        what: &str,
        collected: Collected,
        partial: bool,
        error: impl FnOnce(&Collected) -> String,
    ) -> Result<Collected, AdapterError> {
        if collected.complete {
            return Ok(collected);
        }
        bump(&self.counters.timeouts);
        tracing::warn!(
            nsp,
            "sio-redis: {what} timed out: {} of {} servers answered",
            collected.received,
            collected.expected
        );
        if partial {
            Ok(collected)
        } else {
            Err(AdapterError::adapter_timeout(error(&collected)))
        }
    }
}

impl Route {
    pub(super) fn new(to: Weak<dyn Receive>) -> Route {
        Route(to)
    }

    /// Hands `incoming` to the namespace adapter, if it still lives.
    pub(super) fn receive(&self, incoming: Incoming<'_>) {
        if let Some(to) = self.0.upgrade() {
            to.receive(incoming);
        }
    }

    fn is_alive(&self) -> bool {
        self.0.strong_count() > 0
    }

    fn same(&self, other: &Route) -> bool {
        Weak::ptr_eq(&self.0, &other.0)
    }
}

/// Publishes the outbox, in order, until the node is gone.
pub(super) async fn publish_outbox(conn: RedisConnection, mut rx: mpsc::Receiver<Outgoing>) {
    while let Some(m) = rx.recv().await {
        // A failure is logged and counted by the connection layer.
        let _ = if m.sharded {
            conn.spublish(&m.channel, m.payload).await
        } else {
            conn.publish(&m.channel, m.payload).await
        };
    }
}
