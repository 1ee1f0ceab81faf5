//! The Redis adapters: sio-server [`Adapter`]s that make a Rust server one more node of a
//! cluster of Socket.IO servers (Node.js ones included) sharing a Redis.
//!
//! - [`RedisAdapter::classic`]: `@socket.io/redis-adapter`'s `createAdapter` (PUBLISH /
//!   PSUBSCRIBE, the [`classic`](crate::format::classic) format).
//! - [`RedisAdapter::sharded`]: its `createShardedAdapter` (Redis 7 SPUBLISH / SSUBSCRIBE, the
//!   [`cluster`](crate::format::cluster) `ClusterMessage` format), on a single Redis or a
//!   Redis Cluster.
//!
//! A [`RedisAdapter`] is one server (one node) of the cluster: its uid, one subscriber
//! connection and the namespaces of one [`SocketIo`](sio_server::SocketIo). Hand its
//! [`factory`](RedisAdapter::factory) to [`SocketIo::with_adapter`](sio_server::SocketIo::with_adapter).
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use sio_redis::RedisAdapter;
//! use sio_redis::conn::RedisConfig;
//! use sio_server::{SocketIo, SocketIoConfig};
//!
//! let adapter = RedisAdapter::classic(RedisConfig::standalone("redis://127.0.0.1:6379")).await?;
//! let io = SocketIo::with_adapter(SocketIoConfig::default(), adapter.factory());
//! // Every client of "/" on every server of the cluster, Node.js ones included.
//! io.emit("hello", &"world").await?;
//! # Ok(()) }
//! ```
//!
//! # How a node works
//!
//! ```text
//!  SocketIo ── Adapter calls ──► namespace adapter ── publish (awaited, bounded) ──► Redis
//!                                    ▲    │ answers, acks: the outbox (bounded) ──► Redis
//!                                    │    └──────────────────────────────────────────┘
//!  Redis ── subscriber connection ── dispatch task (by channel / namespace) ──┘
//! ```
//!
//! - The caller's own operations publish directly: a failure (Redis down, a publish that
//!   timed out) is returned to the caller as [`Error::adapter_unavailable`](sio_server::Error::adapter_unavailable), after the local
//!   part was done. Nothing is queued for later.
//! - What a node sends on its own (answers to the other servers' requests, acknowledgements
//!   of its clients) goes through a bounded outbox with one publishing task, in order; when
//!   it is full, messages are dropped, logged and counted ([`AdapterStats::outbox_dropped`]).
//! - One task reads the subscriber's messages and hands each to its namespace; malformed
//!   messages are dropped, logged and counted ([`AdapterStats::invalid`]).

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};

use sio_protocol::Str;
use sio_server::{AdapterFactory, LocalNamespace};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use crate::conn::{self, Message, MessageKind, Messages, RedisConfig, RedisConnection};
use crate::error::Error;

mod classic;
mod node;
mod options;
mod requests;
mod sharded;
mod wire;

use node::{Counters, Incoming, Node, OUTBOX, publish_outbox};
use options::Kind;
pub use options::{ClassicOptions, ShardedOptions};
use wire::{random_hex16, random_uid6};

#[doc(no_inline)]
pub use sio_server::Adapter;

/// Counters of a [`RedisAdapter`] (all its namespaces), with those of its Redis connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdapterStats {
    /// The connection layer's: publish failures (what could not be published), messages
    /// received and dropped there, lost subscriber connections and resubscriptions.
    pub redis: conn::Stats,
    /// Received messages dropped as malformed (garbage, an unknown type, a packet that cannot
    /// be delivered).
    pub invalid: u64,
    /// Answers and acknowledgements for other servers dropped because the outbox was full
    /// (Redis slow or down).
    pub outbox_dropped: u64,
    /// Requests of this server (`fetch_sockets`, `all_rooms`) that timed out waiting for the
    /// other servers.
    pub timeouts: u64,
}

/// One server of a Redis cluster of Socket.IO servers: give its [`factory`](Self::factory) to
/// [`SocketIo::with_adapter`](sio_server::SocketIo::with_adapter). See the [module
/// docs](self).
///
/// One `RedisAdapter` serves **one** `SocketIo`: two servers sharing it would be one node to
/// the cluster (one uid, one subscription), and would not hear each other.
///
/// Cheap to clone (the clones are the same node).
#[derive(Clone)]
pub struct RedisAdapter {
    node: Arc<Node>,
}

impl fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("uid", &self.node.uid)
            .field("kind", &self.node.kind)
            .field("stats", &self.stats())
            .finish()
    }
}

impl RedisAdapter {
    /// A node of the classic adapter with the default options, connected to `redis`.
    pub async fn classic(redis: RedisConfig) -> Result<RedisAdapter, Error> {
        let conn = RedisConnection::connect(redis).await?;
        RedisAdapter::classic_with(conn, ClassicOptions::default()).await
    }

    /// A node of the classic adapter over `conn` (its subscriber connection is new).
    pub async fn classic_with(
        conn: RedisConnection,
        options: ClassicOptions,
    ) -> Result<RedisAdapter, Error> {
        RedisAdapter::start(conn, Kind::Classic(options), random_uid6()).await
    }

    /// A node of the sharded adapter with the default options (subscription mode
    /// [`Dynamic`](crate::channels::SubscriptionMode::Dynamic)), connected to `redis` (Redis 7 or later; a
    /// single Redis or a Redis Cluster).
    pub async fn sharded(redis: RedisConfig) -> Result<RedisAdapter, Error> {
        let conn = RedisConnection::connect(redis).await?;
        RedisAdapter::sharded_with(conn, ShardedOptions::default()).await
    }

    /// A node of the sharded adapter over `conn` (its subscriber connection is new).
    pub async fn sharded_with(
        conn: RedisConnection,
        options: ShardedOptions,
    ) -> Result<RedisAdapter, Error> {
        RedisAdapter::start(conn, Kind::Sharded(options), random_hex16()).await
    }

    async fn start(conn: RedisConnection, kind: Kind, uid: Str) -> Result<Self, Error> {
        let (subscriber, messages) = conn.subscriber().await?;
        let runtime = Handle::current();
        let (outbox, rx) = mpsc::channel(OUTBOX);
        runtime.spawn(publish_outbox(conn.clone(), rx));
        let node = Arc::new(Node {
            uid,
            kind,
            conn,
            subscriber,
            routes: Mutex::default(),
            outbox,
            counters: Counters::default(),
            runtime: runtime.clone(),
        });
        runtime.spawn(dispatch(Arc::downgrade(&node), messages));
        Ok(RedisAdapter { node })
    }

    /// The factory of this node's namespace adapters, for
    /// [`SocketIo::with_adapter`](sio_server::SocketIo::with_adapter).
    pub fn factory(&self) -> AdapterFactory {
        let node = self.node.clone();
        Arc::new(move |local: LocalNamespace| match &node.kind {
            Kind::Classic(_) => classic::ClassicNs::create(&node, local),
            Kind::Sharded(_) => sharded::ShardedNs::create(&node, local),
        })
    }

    /// This server's uid on the wire (6 characters for the classic adapter, 16 hex digits for
    /// the sharded one).
    pub fn uid(&self) -> &str {
        &self.node.uid
    }

    /// The Redis connection it publishes with.
    pub fn connection(&self) -> &RedisConnection {
        &self.node.conn
    }

    /// The counters.
    pub fn stats(&self) -> AdapterStats {
        let c = &self.node.counters;
        AdapterStats {
            redis: self.node.conn.stats(),
            invalid: c.invalid.load(Ordering::Relaxed),
            outbox_dropped: c.outbox_dropped.load(Ordering::Relaxed),
            timeouts: c.timeouts.load(Ordering::Relaxed),
        }
    }
}

/// Hands every received message to its namespace, until the node is gone.
async fn dispatch(node: Weak<Node>, mut messages: Messages) {
    while let Some(message) = messages.recv().await {
        let Some(node) = node.upgrade() else {
            return;
        };
        route(&node, message);
    }
}

fn route(node: &Arc<Node>, message: Message) {
    match message.kind {
        MessageKind::PMessage | MessageKind::Message => {
            let key = match (&message.kind, &message.pattern) {
                (MessageKind::PMessage, Some(pattern)) => String::from_utf8_lossy(pattern),
                _ => String::from_utf8_lossy(&message.channel),
            };
            let target = node.routes().get(key.as_ref()).cloned();
            if let Some(route) = target {
                route.receive(Incoming::Classic(&message));
            }
        }
        MessageKind::SMessage => sharded::route(node, &message),
        #[allow(unreachable_patterns)]
        _ => {}
    }
}
