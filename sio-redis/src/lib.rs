//! Redis for sio: the pieces that let a Rust process join a fleet of Node.js Socket.IO servers
//! on Redis, indistinguishable from them on the wire.
//!
//! ```text
//!   sio server / emitter                               Node.js socket.io + @socket.io/redis-adapter
//!        │                                                              ▲
//!        ▼                                                              │
//!  emitter::Emitter  ── format::{classic, cluster} ── format::msgpack (notepack.io 3.0.1) / JSON
//!        │                          ▲
//!        ▼                          │  decode (garbage is an error, never a panic)
//!  conn::RedisConnection ─ publish / spublish / numsub ─────►  Redis (single, or a Cluster)
//!  conn::Subscriber ◄──── subscribe / psubscribe / ssubscribe ──┘  (resubscribes after restarts)
//!        │ conn::Messages (bounded, size-limited)
//!        ▼
//!  the adapters (classic and sharded, next: they implement sio-server's `Adapter`)
//! ```
//!
//! - [`channels`]: the channel names of the classic adapter (`socket.io#/#`,
//!   `socket.io-request#/#`, ...) and of the sharded one.
//! - [`format`](mod@format): the messages as typed values, encoded and decoded exactly as the JavaScript
//!   adapters do: [`format::classic`] (broadcast `[uid, packet, opts]`, requests and responses
//!   of types 0-9), [`format::cluster`] (the `ClusterMessage`, types 1-13), and the notepack.io
//!   codec [`format::msgpack`]. Differentially tested against the npm packages.
//! - [`conn`]: publishing, subscribing and counting subscribers on a single Redis or a Redis
//!   Cluster, with reconnection, resubscription, bounded waits and counters.
//! - [`Emitter`]: `@socket.io/redis-emitter` in Rust.
//!
//! # Example: emit to the clients of Node.js servers
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
pub mod format;

pub use adapter::{AdapterStats, ClassicOptions, RedisAdapter, ShardedOptions};

pub use emitter::{
    BroadcastOperator, EMITTER_UID, EmitError, Emitter, EmitterOptions, RESERVED_EVENTS,
};
