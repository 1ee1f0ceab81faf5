//! Redis for sio: a Rust Socket.IO server as one more node of a cluster of Node.js Socket.IO
//! servers sharing a Redis, indistinguishable from them on the wire.
//!
//! ```text
//!   sio_server::SocketIo ── Adapter ──► RedisAdapter::{classic, sharded}      Node.js socket.io +
//!   Emitter (no server)                          │    ▲                       @socket.io/redis-adapter
//!        │                                       ▼    │ requests, answers            ▲
//!        └──────────────── format::{classic, cluster} ── format::msgpack (notepack.io) / JSON
//!                                        │    ▲ decode (garbage is an error, never a panic)
//!  conn::RedisConnection ─ publish / spublish / numsub ─────►  Redis (single, or a Cluster)
//!  conn::Subscriber ◄──── subscribe / psubscribe / ssubscribe ──┘  (resubscribes after restarts)
//! ```
//!
//! - [`RedisAdapter`]: the adapters, [`classic`](RedisAdapter::classic)
//!   (`@socket.io/redis-adapter` 8.3's `createAdapter`) and [`sharded`](RedisAdapter::sharded)
//!   (its `createShardedAdapter`), for [`SocketIo::with_adapter`](sio_server::SocketIo::with_adapter).
//! - [`Emitter`]: `@socket.io/redis-emitter` in Rust (emit from a process that is no server).
//! - [`channels`]: the channel names of the classic adapter (`socket.io#/#`,
//!   `socket.io-request#/#`, ...) and of the sharded one.
//! - [`format`](mod@format): the messages as typed values, encoded and decoded exactly as the JavaScript
//!   adapters do: [`format::classic`] (broadcast `[uid, packet, opts]`, requests and responses
//!   of types 0-9), [`format::cluster`] (the `ClusterMessage`, types 1-13), and the notepack.io
//!   codec [`format::msgpack`]. Differentially tested against the npm packages.
//! - [`conn`]: publishing, subscribing and counting subscribers on a single Redis or a Redis
//!   Cluster, with reconnection, resubscription, bounded waits and counters.
//! - [`multiple_nodes`]: the guide "Using multiple nodes": sticky sessions (with the nginx
//!   configuration the tests run), WebSocket-only clients, mixing with Node.js servers, and
//!   what each adapter needs from Redis.
//!
//! # Example: a server in a cluster (classic adapter)
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use sio_redis::RedisAdapter;
//! use sio_redis::conn::RedisConfig;
//! use sio_server::{SocketIo, SocketIoConfig};
//!
//! let adapter = RedisAdapter::classic(RedisConfig::standalone("redis://127.0.0.1:6379")).await?;
//! let io = SocketIo::with_adapter(SocketIoConfig::default(), adapter.factory());
//! io.of("/").on_connection(|socket| async move {
//!     socket.join("lobby").await;
//!     // Every client in "lobby", on every server of the cluster.
//!     let _ = socket.to("lobby").emit("joined", &socket.id().as_str()).await;
//! });
//! // The servers of the cluster answer with their sockets.
//! let sockets = io.fetch_sockets().await?;
//! println!("{} sockets in the cluster", sockets.len());
//! # Ok(()) }
//! ```
//!
//! With options (every server of the cluster must use the same):
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use sio_redis::conn::{RedisConfig, RedisConnection};
//! use sio_redis::{ClassicOptions, RedisAdapter};
//!
//! let conn = RedisConnection::connect(RedisConfig::standalone("redis://127.0.0.1:6379")).await?;
//! let options = ClassicOptions::default()
//!     .key("my-app")
//!     .requests_timeout(Duration::from_secs(2))
//!     .publish_on_specific_response_channel(true);
//! let adapter = RedisAdapter::classic_with(conn, options).await?;
//! # let _ = adapter; Ok(()) }
//! ```
//!
//! # Example: the sharded adapter on a Redis Cluster
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use sio_redis::channels::SubscriptionMode;
//! use sio_redis::conn::{RedisConfig, RedisConnection};
//! use sio_redis::{RedisAdapter, ShardedOptions};
//! use sio_server::{SocketIo, SocketIoConfig};
//!
//! let seeds = ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000", "redis://10.0.0.3:7000"];
//! let conn = RedisConnection::connect(RedisConfig::cluster(seeds)).await?;
//! let options = ShardedOptions::default().subscription_mode(SubscriptionMode::Dynamic);
//! let adapter = RedisAdapter::sharded_with(conn, options).await?;
//! let io = SocketIo::with_adapter(SocketIoConfig::default(), adapter.factory());
//! # let _ = io; Ok(()) }
//! ```
//!
//! # The two adapters
//!
//! | | classic ([`RedisAdapter::classic`]) | sharded ([`RedisAdapter::sharded`]) |
//! |---|---|---|
//! | Node.js peer | `createAdapter(pub, sub, {key, requestsTimeout, publishOnSpecificResponseChannel})` | `createShardedAdapter(pub, sub, {channelPrefix, subscriptionMode})` |
//! | Redis | **6.0 or later** (the subscriber speaks RESP3); a single Redis or a Cluster | **7.0 or later** (SPUBLISH / SSUBSCRIBE); a single Redis or a Cluster |
//! | messages | msgpack broadcasts `[uid, packet, opts]`, JSON requests (types 0-9) | the `ClusterMessage`, JSON (msgpack when it holds binary) |
//! | channels per namespace | PSUBSCRIBE `socket.io#<nsp>#*`, SUBSCRIBE request and response channels | SSUBSCRIBE `socket.io#<nsp>#` and `socket.io#<nsp>#<uid>#`, plus one channel per room in the dynamic modes |
//! | server count | `PUBSUB NUMSUB socket.io-request#<nsp>#` | `PUBSUB SHARDNUMSUB socket.io#<nsp>#` |
//! | on a Redis Cluster | every PUBLISH goes to every node of the cluster (over the cluster bus) | a channel lives on one shard: traffic stays there, and room channels spread rooms over the shards |
//! | `all_rooms` | asks the other servers | this server's rooms only (as the `ClusterAdapter`) |
//!
//! Both answer every request of the other servers (broadcasts with acknowledgements, the
//! client count first and then each acknowledgement; `fetchSockets` with handshake, rooms and
//! `data`; `socketsJoin`, `socketsLeave`, `disconnectSockets`; `serverSideEmit` with or
//! without acknowledgement), and make the same requests, byte for byte as a Node.js server of
//! the same adapter would (modulo its random uid and request ids). Neither sends heartbeats:
//! the Node.js sharded adapter is a `ClusterAdapter` without them, and ignores them.
//!
//! Not covered: the classic adapter's `parser` option (notepack.io only), the other
//! `ClusterAdapter`s (Redis Streams, Postgres, with heartbeats), connection state recovery
//! offsets. The engine sessions stay on their server: clients need sticky sessions or
//! WebSocket only (see [`multiple_nodes`]).
//!
//! # What Redis must allow
//!
//! - **Pub/sub output buffers.** Redis disconnects a subscriber whose pending output passes
//!   `client-output-buffer-limit pubsub` (default `32mb 8mb 60`: 32 MB at once, or more than
//!   8 MB for 60 s). A server that is slow to read, or broadcasts of large messages (binary),
//!   can reach it: the subscriber is disconnected, subscribes again by itself (counted in
//!   [`conn::Stats::disconnections`] and [`conn::Stats::resubscriptions`]), and the messages in
//!   between are lost, as for a Node.js server. Raise the limit for big payloads.
//! - **Message size.** A received message larger than [`conn::RedisConfig::max_message_size`]
//!   (16 MiB) is dropped and counted; Redis' own bound is `proto-max-bulk-len` (512 MB).
//! - **Every server counts in `PUBSUB NUMSUB` / `SHARDNUMSUB`** as long as it is subscribed;
//!   requests wait for that many answers. A server that hangs (subscribed, not answering) makes
//!   `fetch_sockets` end at its timeout; one that dies leaves the count at once.
//! - The sharded adapter's namespace channel maps to one hash slot: all of a namespace's
//!   non-room traffic goes through one shard.
//!
//! # Failures
//!
//! - **Redis down or unreachable.** This server keeps serving its own clients: the local part
//!   of every operation (broadcasts to its sockets, joins...) happens first, then the publish,
//!   which fails within [`conn::RedisConfig::publish_timeout`] (2 s) with
//!   [`Error::adapter_unavailable`](sio_server::Error::adapter_unavailable), is logged and
//!   counted ([`conn::Stats::publish_failures`]). Nothing is queued for later, and nothing
//!   panics. Answers and acknowledgements owed to other servers go through a bounded outbox
//!   (1024 messages): when it is full they are dropped, logged and counted
//!   ([`AdapterStats::outbox_dropped`]).
//! - **Redis back.** The subscriber reconnects and subscribes again by itself, the publisher
//!   reconnects on its next command (sent once more if its connection was found dropped).
//! - **A server dies or hangs.** `fetch_sockets` (and the classic `all_rooms`) end at the
//!   `timeout` flag or `requests_timeout` (5 s) with [`Error::adapter_timeout`](sio_server::Error::adapter_timeout)
//!   naming how many servers answered (socket.io's behaviour), or with the answers that came
//!   when [`ClassicOptions::partial_on_timeout`] / [`ShardedOptions::partial_on_timeout`] is
//!   set; counted in [`AdapterStats::timeouts`]. Broadcasts with acknowledgements and
//!   server-side events with acknowledgement end at their timeout with the replies that came
//!   (sio-server's [`Error::replies`](sio_server::Error::replies)).
//! - **Garbage on the channels** (not msgpack or JSON, or not the expected shape) is dropped,
//!   logged and counted ([`AdapterStats::invalid`]); the Node.js adapter throws on some of it.
//!
//! Read the counters with [`RedisAdapter::stats`].
//!
//! # Example: emit to the clients of Node.js servers (no server)
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use bytes::Bytes;
//! use sio_redis::Emitter;
//! use sio_redis::conn::{RedisConfig, RedisConnection};
//!
//! let redis = RedisConnection::connect(RedisConfig::standalone("redis://127.0.0.1:6379")).await?;
//! let io = Emitter::new(redis);
//! // Reaches every client of "/" in room "news" on every server, binary included.
//! io.to("news").emit("update", &("headline", Bytes::from_static(b"\x01\x02"))).await?;
//! # Ok(()) }
//! ```
//!
//! # The Redis client: `redis` (redis-rs) 1.2
//!
//! Chosen over `fred` 10 after trying it here against Redis 7.0 (a single server and a
//! three-master cluster):
//!
//! - RESP3 push messages, SSUBSCRIBE routed to the channel's shard on a cluster, and
//!   `PUBSUB NUMSUB` / `SHARDNUMSUB` sent to every node and summed: all work.
//! - Its `ConnectionManager` reconnects after a Redis restart (and can resubscribe on its own).
//!   Its cluster connection does not: after a node restart, an SSUBSCRIBE made before is lost
//!   (`SHARDNUMSUB` fell to 0) until a command fails on that connection, and SUBSCRIBE /
//!   PSUBSCRIBE through it land on random nodes, so resubscribing through it subscribed one
//!   connection three times (every PUBLISH delivered three times, `NUMSUB` 3). So [`conn`]
//!   remembers its subscriptions and sends them again itself, and keeps classic subscriptions
//!   on one plain connection to one node.
//! - It is the most used Redis client of the ecosystem, maintained, and it is built on tokio;
//!   its 1.2 line keeps the workspace's MSRV (1.85). `fred` has the features too (with
//!   managed resubscription) but brings a larger dependency tree and was not needed.

pub mod adapter;
pub mod channels;
pub mod conn;
mod emitter;
mod error;
pub mod format;

#[doc = include_str!("../docs/multiple-nodes.md")]
pub mod multiple_nodes {}

pub use adapter::{AdapterStats, ClassicOptions, RedisAdapter, ShardedOptions};

pub use emitter::{BroadcastOperator, EMITTER_UID, Emitter, EmitterOptions, RESERVED_EVENTS};
pub use error::{Error, ErrorKind};
