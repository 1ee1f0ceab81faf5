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

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use bytes::Bytes;
use sio_protocol::socket::Args;
use sio_protocol::{Str, Value};
use sio_server::Error as AdapterError;
use sio_server::{
    AdapterFactory, BroadcastFlags, BroadcastOptions, BroadcastPacket, LocalNamespace,
    RemoteSocketData, ReplyEvent, ReplySink,
};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

use crate::channels::{DEFAULT_KEY, SubscriptionMode};
use crate::conn::{self, Message, MessageKind, Messages, RedisConfig, RedisConnection, Subscriber};
use crate::format::{FetchedSocket, Flags, Opts, Packet};

mod classic;
mod sharded;

#[doc(no_inline)]
pub use sio_server::Adapter;

/// How many messages the outbox (answers and acknowledgements for the other servers) holds.
const OUTBOX: usize = 1024;

/// The longest a server keeps the acknowledgements of another server's broadcast for it
/// (the requester's `timeout` flag, which any value may come in).
const MAX_ACK_WAIT: Duration = Duration::from_secs(3600);

/// When to stop forwarding the acknowledgements of another server's broadcast.
fn ack_deadline(timeout: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(timeout.min(MAX_ACK_WAIT)).unwrap_or(now)
}

/// Options of the classic adapter (`createAdapter(pub, sub, opts)`): every server of the
/// cluster must use the same.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClassicOptions {
    /// The channel prefix (`key`, default `socket.io`).
    pub key: String,
    /// How long [`fetch_sockets`](Adapter::fetch_sockets) and
    /// [`all_rooms`](Adapter::all_rooms) wait for the other servers without a `timeout` flag
    /// (`requestsTimeout`, default 5 s).
    pub requests_timeout: Duration,
    /// Answers go to the requester's own channel `<key>-response#<nsp>#<uid>#` instead of the
    /// shared `<key>-response#<nsp>#` (`publishOnSpecificResponseChannel`, default `false`).
    pub publish_on_specific_response_channel: bool,
    /// When a `fetch_sockets` or `all_rooms` times out, return what arrived (logged and
    /// counted) instead of failing with [`Error::adapter_timeout`](sio_server::Error::adapter_timeout) (default `false`: socket.io
    /// fails the whole call).
    pub partial_on_timeout: bool,
}

impl Default for ClassicOptions {
    fn default() -> Self {
        ClassicOptions {
            key: DEFAULT_KEY.to_owned(),
            requests_timeout: Duration::from_secs(5),
            publish_on_specific_response_channel: false,
            partial_on_timeout: false,
        }
    }
}

impl ClassicOptions {
    /// Sets [`ClassicOptions::key`].
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// Sets [`ClassicOptions::requests_timeout`].
    pub fn requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }

    /// Sets [`ClassicOptions::publish_on_specific_response_channel`].
    pub fn publish_on_specific_response_channel(mut self, on: bool) -> Self {
        self.publish_on_specific_response_channel = on;
        self
    }

    /// Sets [`ClassicOptions::partial_on_timeout`].
    pub fn partial_on_timeout(mut self, on: bool) -> Self {
        self.partial_on_timeout = on;
        self
    }
}

/// Options of the sharded adapter (`createShardedAdapter(pub, sub, opts)`): every server of
/// the cluster must use the same.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ShardedOptions {
    /// The channel prefix (`channelPrefix`, default `socket.io`).
    pub channel_prefix: String,
    /// Which broadcasts go to a room's own channel (`subscriptionMode`, default
    /// [`SubscriptionMode::Dynamic`]).
    pub subscription_mode: SubscriptionMode,
    /// How long [`fetch_sockets`](Adapter::fetch_sockets) waits without a `timeout` flag
    /// (socket.io's `ClusterAdapter`: 5 s).
    pub requests_timeout: Duration,
    /// As [`ClassicOptions::partial_on_timeout`], for `fetch_sockets`.
    pub partial_on_timeout: bool,
}

impl Default for ShardedOptions {
    fn default() -> Self {
        ShardedOptions {
            channel_prefix: DEFAULT_KEY.to_owned(),
            subscription_mode: SubscriptionMode::Dynamic,
            requests_timeout: Duration::from_secs(5),
            partial_on_timeout: false,
        }
    }
}

impl ShardedOptions {
    /// Sets [`ShardedOptions::channel_prefix`].
    pub fn channel_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.channel_prefix = prefix.into();
        self
    }

    /// Sets [`ShardedOptions::subscription_mode`].
    pub fn subscription_mode(mut self, mode: SubscriptionMode) -> Self {
        self.subscription_mode = mode;
        self
    }

    /// Sets [`ShardedOptions::requests_timeout`].
    pub fn requests_timeout(mut self, timeout: Duration) -> Self {
        self.requests_timeout = timeout;
        self
    }

    /// Sets [`ShardedOptions::partial_on_timeout`].
    pub fn partial_on_timeout(mut self, on: bool) -> Self {
        self.partial_on_timeout = on;
        self
    }
}

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

#[derive(Debug, Default)]
struct Counters {
    invalid: AtomicU64,
    outbox_dropped: AtomicU64,
    timeouts: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
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

#[derive(Debug)]
enum Kind {
    Classic(ClassicOptions),
    Sharded(ShardedOptions),
}

/// What one node shares between its namespaces.
struct Node {
    uid: Str,
    kind: Kind,
    conn: RedisConnection,
    subscriber: Subscriber,
    /// Where each received message goes: by channel (classic: the pattern and the request
    /// and response channels) or by namespace (sharded).
    routes: Mutex<HashMap<String, Route>>,
    outbox: mpsc::Sender<Outgoing>,
    counters: Counters,
    runtime: Handle,
}

#[derive(Clone)]
enum Route {
    Classic(Weak<classic::ClassicNs>),
    Sharded(Weak<sharded::ShardedNs>),
}

/// A message of the outbox.
struct Outgoing {
    channel: String,
    payload: Bytes,
    sharded: bool,
}

impl RedisAdapter {
    /// A node of the classic adapter with the default options, connected to `redis`.
    pub async fn classic(redis: RedisConfig) -> Result<RedisAdapter, conn::Error> {
        let conn = RedisConnection::connect(redis).await?;
        RedisAdapter::classic_with(conn, ClassicOptions::default()).await
    }

    /// A node of the classic adapter over `conn` (its subscriber connection is new).
    pub async fn classic_with(
        conn: RedisConnection,
        options: ClassicOptions,
    ) -> Result<RedisAdapter, conn::Error> {
        RedisAdapter::start(conn, Kind::Classic(options), random_uid6()).await
    }

    /// A node of the sharded adapter with the default options (subscription mode
    /// [`Dynamic`](SubscriptionMode::Dynamic)), connected to `redis` (Redis 7 or later; a
    /// single Redis or a Redis Cluster).
    pub async fn sharded(redis: RedisConfig) -> Result<RedisAdapter, conn::Error> {
        let conn = RedisConnection::connect(redis).await?;
        RedisAdapter::sharded_with(conn, ShardedOptions::default()).await
    }

    /// A node of the sharded adapter over `conn` (its subscriber connection is new).
    pub async fn sharded_with(
        conn: RedisConnection,
        options: ShardedOptions,
    ) -> Result<RedisAdapter, conn::Error> {
        RedisAdapter::start(conn, Kind::Sharded(options), random_hex16()).await
    }

    async fn start(conn: RedisConnection, kind: Kind, uid: Str) -> Result<Self, conn::Error> {
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

impl Node {
    fn routes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Route>> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers `route` under `keys`; an existing live route under one of them (a second
    /// server on this node) is replaced, with an error in the log.
    fn add_routes(&self, keys: &[String], route: &Route) {
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
    fn remove_routes(&self, keys: &[String], route: &Route) {
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
    fn send_later(&self, channel: String, payload: Bytes, sharded: bool) {
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
    fn invalid(&self, channel: &[u8], why: &dyn fmt::Display) {
        bump(&self.counters.invalid);
        tracing::warn!(
            channel = %String::from_utf8_lossy(channel),
            "sio-redis: dropped an invalid message: {why}"
        );
    }

    /// A `fetch_sockets` / `all_rooms` that ended: as it is when complete; else counted and
    /// logged, then the answers received with `partial`, or the timeout `error`.
    fn collected(
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
    fn is_alive(&self) -> bool {
        match self {
            Route::Classic(w) => w.strong_count() > 0,
            Route::Sharded(w) => w.strong_count() > 0,
        }
    }

    fn same(&self, other: &Route) -> bool {
        match (self, other) {
            (Route::Classic(a), Route::Classic(b)) => a.ptr_eq(b),
            (Route::Sharded(a), Route::Sharded(b)) => a.ptr_eq(b),
            _ => false,
        }
    }
}

/// Publishes the outbox, in order, until the node is gone.
async fn publish_outbox(conn: RedisConnection, mut rx: mpsc::Receiver<Outgoing>) {
    while let Some(m) = rx.recv().await {
        // A failure is logged and counted by the connection layer.
        let _ = if m.sharded {
            conn.spublish(&m.channel, m.payload).await
        } else {
            conn.publish(&m.channel, m.payload).await
        };
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
            if let Some(Route::Classic(ns)) = target {
                if let Some(ns) = ns.upgrade() {
                    ns.on_message(&message);
                }
            }
        }
        MessageKind::SMessage => sharded::route(node, &message),
        #[allow(unreachable_patterns)]
        _ => {}
    }
}

// ----- requests of this server waiting for the other servers -----

/// What a server sends back for a broadcast with acknowledgements (its client count, then
/// each acknowledgement) or for a server-side event (the handler's answer).
enum Answer {
    ClientCount(u64),
    Ack(Option<Value>),
}

/// The sink, given to the local namespace, that hands what it collects for another server's
/// request to `send`.
fn answer_sink(send: impl Fn(Answer) + Send + Sync + 'static) -> ReplySink {
    ReplySink::from_fn(move |event| match event {
        ReplyEvent::ClientCount(n) => send(Answer::ClientCount(n as u64)),
        ReplyEvent::Reply(args) => send(Answer::Ack(first_value(&args))),
        _ => {}
    })
}

/// What a pending request collects.
enum Pending {
    /// `fetch_sockets` / `all_rooms`: answers until `expected` came.
    Collect(Collect),
    /// Broadcast acknowledgements (`broadcast`) or server-side answers: to the caller's sink.
    Sink { broadcast: bool, sink: ReplySink },
}

#[derive(Default)]
struct Collect {
    expected: usize,
    received: usize,
    sockets: Vec<RemoteSocketData>,
    rooms: Vec<Str>,
    is_rooms: bool,
    done: Option<oneshot::Sender<()>>,
}

/// The requests of one namespace adapter.
#[derive(Default)]
struct Requests {
    map: Mutex<HashMap<Str, Pending>>,
}

impl Requests {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Str, Pending>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts collecting `expected` answers to request `id`.
    fn collect(self: &Arc<Self>, id: Str, expected: usize, is_rooms: bool) -> CollectGuard {
        let (tx, rx) = oneshot::channel();
        self.map().insert(
            id.clone(),
            Pending::Collect(Collect {
                expected,
                is_rooms,
                done: Some(tx),
                ..Collect::default()
            }),
        );
        CollectGuard {
            requests: self.clone(),
            id,
            done: Some(rx),
        }
    }

    /// Keeps `sink` for the answers to request `id` until the caller stops waiting.
    fn keep_sink(self: &Arc<Self>, runtime: &Handle, id: Str, sink: ReplySink, broadcast: bool) {
        self.map().insert(
            id.clone(),
            Pending::Sink {
                broadcast,
                sink: sink.clone(),
            },
        );
        let requests = Arc::downgrade(self);
        runtime.spawn(async move {
            sink.closed().await;
            if let Some(requests) = requests.upgrade() {
                requests.map().remove(&id);
            }
        });
    }

    fn forget(&self, id: &str) {
        self.map().remove(id);
    }

    /// Runs `publish`, the request `id` whose answers go to `sink` (if any): the sink is kept
    /// before it is published, and forgotten if publishing fails.
    async fn publish_with(
        self: &Arc<Self>,
        runtime: &Handle,
        sink: Option<(Str, ReplySink)>,
        broadcast: bool,
        publish: impl Future<Output = Result<(), AdapterError>>,
    ) -> Result<(), AdapterError> {
        let Some((id, sink)) = sink else {
            return publish.await;
        };
        self.keep_sink(runtime, id.clone(), sink, broadcast);
        let result = publish.await;
        if result.is_err() {
            self.forget(&id);
        }
        result
    }

    /// Another server's answer to request `id`, to its sink.
    fn deliver(&self, id: &str, answer: Answer) {
        let Some((sink, _)) = self.sink(id) else {
            return;
        };
        match answer {
            Answer::ClientCount(n) => sink.client_count(usize::try_from(n).unwrap_or(usize::MAX)),
            Answer::Ack(data) => sink.reply(Args::from_values(vec![data.unwrap_or(Value::Null)])),
        }
    }

    /// The sink of request `id` (and whether it is a broadcast's).
    fn sink(&self, id: &str) -> Option<(ReplySink, bool)> {
        match self.map().get(id) {
            Some(Pending::Sink { broadcast, sink }) => Some((sink.clone(), *broadcast)),
            _ => None,
        }
    }

    /// Whether request `id` is pending, and what it collects: `Some(true)` for rooms,
    /// `Some(false)` for sockets, `None` for a sink or nothing.
    fn collecting(&self, id: &str) -> Option<bool> {
        match self.map().get(id) {
            Some(Pending::Collect(c)) => Some(c.is_rooms),
            _ => None,
        }
    }

    fn is_pending(&self, id: &str) -> bool {
        self.map().contains_key(id)
    }

    /// One server's answer to a `fetch_sockets` / `all_rooms` request.
    fn answer(&self, id: &str, sockets: Vec<RemoteSocketData>, rooms: Vec<Str>) {
        let mut map = self.map();
        let Some(Pending::Collect(c)) = map.get_mut(id) else {
            return;
        };
        c.received += 1;
        c.sockets.extend(sockets);
        for room in rooms {
            if !c.rooms.contains(&room) {
                c.rooms.push(room);
            }
        }
        if c.received >= c.expected {
            if let Some(done) = c.done.take() {
                let _ = done.send(());
            }
        }
    }
}

/// A `fetch_sockets` / `all_rooms` in progress: removes its entry when dropped (the caller
/// gave up).
struct CollectGuard {
    requests: Arc<Requests>,
    id: Str,
    done: Option<oneshot::Receiver<()>>,
}

/// How a collection ended.
struct Collected {
    complete: bool,
    received: usize,
    expected: usize,
    sockets: Vec<RemoteSocketData>,
    rooms: Vec<Str>,
}

impl CollectGuard {
    /// Waits for every answer, at most `timeout`.
    async fn wait(mut self, timeout: Duration) -> Collected {
        let done = self.done.take();
        let complete = match done {
            Some(rx) => matches!(tokio::time::timeout(timeout, rx).await, Ok(Ok(()))),
            None => false,
        };
        let entry = self.requests.map().remove(&self.id);
        match entry {
            Some(Pending::Collect(c)) => Collected {
                complete,
                received: c.received,
                expected: c.expected,
                sockets: c.sockets,
                rooms: c.rooms,
            },
            _ => Collected {
                complete,
                received: 0,
                expected: 0,
                sockets: Vec::new(),
                rooms: Vec::new(),
            },
        }
    }
}

impl Drop for CollectGuard {
    fn drop(&mut self) {
        self.requests.forget(&self.id);
    }
}

// ----- ids -----

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: fall back on the clock and a counter (ids need to be unique,
        // not secret).
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default()
            ^ COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (seed.rotate_left(8 * (i as u32 % 8)) as u8) ^ (i as u8);
        }
    }
    bytes
}

/// `uid2(6)`: 6 characters of `A-Za-z0-9-_` (the classic adapter's uids and request ids).
fn random_uid6() -> Str {
    const CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let id: String = random_bytes::<6>()
        .iter()
        .map(|b| CHARS[usize::from(b % 64)] as char)
        .collect();
    Str::from(id)
}

/// `randomBytes(8).toString("hex")` (the `ClusterAdapter`'s uids and request ids).
fn random_hex16() -> Str {
    let mut id = String::with_capacity(16);
    for b in random_bytes::<8>() {
        id.push_str(&format!("{b:02x}"));
    }
    Str::from(id)
}

// ----- conversions between sio-server's types and the wire's -----

/// `opts` as the wire's `{rooms, except, flags}`.
fn wire_opts(opts: &BroadcastOptions) -> Opts {
    let mut flags = Flags::new();
    if let Ok(Value::Object(map)) = Value::from_serialize(&opts.flags) {
        for (k, v) in map {
            flags.set(&k, v);
        }
    }
    let mut except: Vec<Str> = Vec::with_capacity(opts.except.len());
    for room in &opts.except {
        if !except.contains(room) {
            except.push(room.clone());
        }
    }
    let mut wire = Opts::new(opts.rooms.clone(), except);
    wire.flags = flags;
    wire
}

/// The wire's options as sio-server's (flags read leniently: unknown flags ignored).
fn local_opts(opts: Opts) -> BroadcastOptions {
    let flags = Value::Object(opts.flags.as_map().clone())
        .deserialize_into::<BroadcastFlags>()
        .unwrap_or_default();
    let mut local = BroadcastOptions::new(opts.rooms, opts.except);
    local.flags = flags;
    local
}

/// The wire's options without flags (as the classic adapter reads requests' `opts`).
fn target_opts(opts: Opts) -> BroadcastOptions {
    BroadcastOptions::new(opts.rooms, opts.except)
}

/// `[event, ...args]` of a packet to send to the other servers.
fn packet_data(event: &str, args: &Args) -> Result<Vec<Value>, AdapterError> {
    let mut data = Vec::with_capacity(args.len() + 1);
    data.push(Value::from(event));
    data.extend(args.to_values().map_err(AdapterError::adapter)?);
    Ok(data)
}

/// The un-encoded packet `{type: 2, data: [event, ...args], nsp?}` of a broadcast.
fn wire_packet(nsp: Option<Str>, packet: &BroadcastPacket) -> Result<Packet, AdapterError> {
    let args = packet.args.to_values().map_err(AdapterError::adapter)?;
    Ok(Packet::event(nsp, &packet.event, args))
}

/// The event name and arguments of a broadcast packet (an EVENT or a BINARY_EVENT).
fn event_of(packet: Packet) -> Option<(String, Args)> {
    if packet.packet_type != crate::format::EVENT && packet.packet_type != 5 {
        return None;
    }
    split_event(packet.data)
}

/// `[event, ...args]` → the event name and its arguments.
fn split_event(mut data: Vec<Value>) -> Option<(String, Args)> {
    if data.is_empty() {
        return None;
    }
    let Value::String(event) = data.remove(0) else {
        return None;
    };
    Some((event, Args::from_values(data)))
}

/// The one value an acknowledgement carries across servers.
fn first_value(args: &Args) -> Option<Value> {
    args.to_values().ok().and_then(|v| v.into_iter().next())
}

/// A socket of this server as the wire describes it.
fn to_fetched(socket: &RemoteSocketData) -> Option<FetchedSocket> {
    let Ok(Value::Object(mut map)) = Value::from_serialize(socket) else {
        return None;
    };
    let handshake = map.swap_remove("handshake").unwrap_or(Value::Null);
    let data = map.swap_remove("data").unwrap_or(Value::Null);
    Some(FetchedSocket::new(
        socket.id.clone(),
        handshake,
        socket.rooms.clone(),
        data,
    ))
}

/// A socket of another server (`None` when its description is unusable).
fn from_fetched(socket: FetchedSocket) -> Option<RemoteSocketData> {
    socket
        .to_value()
        .deserialize_into::<RemoteSocketData>()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_javascript_shapes() {
        let uid = random_uid6();
        assert_eq!(uid.len(), 6);
        assert!(
            uid.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let hex = random_hex16();
        assert_eq!(hex.len(), 16);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(random_hex16(), hex);
    }

    #[test]
    fn options_cross_the_wire_and_back() {
        let mut opts =
            BroadcastOptions::new(vec!["a".into(), "b".into()], vec!["x".into(), "x".into()]);
        opts.flags.volatile = true;
        opts.flags.timeout = Some(Duration::from_millis(1500));
        let wire = wire_opts(&opts);
        assert_eq!(wire.except, vec![Str::from("x")]);
        assert!(wire.flags.volatile());
        assert_eq!(wire.flags.timeout_ms(), Some(1500));
        let back = local_opts(wire);
        assert_eq!(back.rooms, opts.rooms);
        assert!(back.flags.volatile);
        assert_eq!(back.flags.timeout, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn event_data_splits() {
        let data = vec![Value::from("ev"), Value::from(1), Value::from("x")];
        let (event, args) = split_event(data).unwrap();
        assert_eq!(event, "ev");
        assert_eq!(args.len(), 2);
        assert!(split_event(vec![Value::from(1)]).is_none());
        assert!(split_event(Vec::new()).is_none());
    }
}
