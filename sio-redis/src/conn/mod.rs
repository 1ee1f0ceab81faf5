//! The connection layer: publishing, subscribing and counting subscribers on a single Redis or
//! a Redis Cluster, over the `redis` crate.
//!
//! - [`RedisConnection`] publishes (PUBLISH, SPUBLISH) and counts subscribers (PUBSUB NUMSUB,
//!   SHARDNUMSUB, summed over the nodes of a cluster). A publish waits at most
//!   [`RedisConfig::publish_timeout`]; a failure is returned, logged and counted
//!   ([`Stats::publish_failures`]). Nothing is queued behind a down Redis. A command that
//!   finds its connection dropped (Redis restarted while the connection was idle, or the
//!   last reconnection attempt failed while Redis was down) is sent once more over a new
//!   connection, within the same timeout.
//! - [`Subscriber`] (from [`RedisConnection::subscriber`]) subscribes (SUBSCRIBE, PSUBSCRIBE,
//!   SSUBSCRIBE) and hands every message to one bounded [`Messages`] stream. It remembers its
//!   subscriptions and subscribes again after a reconnection (a Redis restart, a cluster node
//!   restart, a slot moved away), until it succeeds.
//!
//! # How the connections are laid out
//!
//! | | single Redis | Redis Cluster |
//! |---|---|---|
//! | publish, count | a `ConnectionManager` (RESP2) | a cluster connection (RESP2): PUBLISH to any node (Redis spreads it), SPUBLISH to the channel's shard, PUBSUB to every node and summed |
//! | SUBSCRIBE, PSUBSCRIBE | a `ConnectionManager` (RESP3, pushes) | a `ConnectionManager` to the first node given (a cluster delivers PUBLISH on every node, so one subscription is enough, and exactly one must exist: two would double every message and `NUMSUB`) |
//! | SSUBSCRIBE | the same `ConnectionManager` | a cluster connection (RESP3, pushes), which sends each SSUBSCRIBE to the channel's shard |
//!
//! Resubscription is done here rather than by the `redis` crate: its cluster connection does
//! not subscribe again after a node restarts unless a command fails on that connection first
//! (measured with redis 1.2.2), and its `ConnectionManager` tracks no SSUBSCRIBE.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;

mod common;
mod subscriber;

use crate::error::Error;
use common::Counters;
pub use common::{RedisConfig, Stats};
pub use subscriber::{Message, MessageKind, Messages, Subscriber};

/// A connection to a single Redis or a Redis Cluster, for publishing. Cheap to clone.
///
/// ```no_run
/// # async fn f() -> Result<(), sio_redis::Error> {
/// use sio_redis::conn::{RedisConfig, RedisConnection};
///
/// let redis = RedisConnection::connect(RedisConfig::standalone("redis://127.0.0.1:6379")).await?;
/// let (subscriber, mut messages) = redis.subscriber().await?;
/// subscriber.subscribe("news").await?;
/// redis.publish("news", "hello".into()).await?;
/// let message = messages.recv().await.unwrap();
/// assert_eq!(&message.payload[..], b"hello");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisConnection {
    inner: Arc<Inner>,
}

struct Inner {
    config: RedisConfig,
    publisher: Publisher,
    counters: Arc<Counters>,
}

#[derive(Clone)]
enum Publisher {
    Standalone(ConnectionManager),
    Cluster(ClusterConnection),
}

impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConnection")
            .field("nodes", &self.inner.config.nodes)
            .field("cluster", &self.inner.config.cluster)
            .field("stats", &self.stats())
            .finish()
    }
}

impl RedisConnection {
    /// Connects (within [`RedisConfig::connect_timeout`]).
    pub async fn connect(config: RedisConfig) -> Result<RedisConnection, Error> {
        if config.nodes.is_empty() {
            return Err(Error::config("no redis node"));
        }
        let connect = async {
            Ok::<_, redis::RedisError>(if config.cluster {
                Publisher::Cluster(
                    config
                        .cluster_builder()
                        .build()?
                        .get_async_connection()
                        .await?,
                )
            } else {
                let client = redis::Client::open(config.nodes[0].as_str())?;
                Publisher::Standalone(
                    client
                        .get_connection_manager_with_config(config.manager_config())
                        .await?,
                )
            })
        };
        let publisher = tokio::time::timeout(config.connect_timeout, connect)
            .await
            .map_err(|_| Error::timeout("connecting to redis"))?
            .map_err(|e| Error::redis("connecting to redis", e))?;
        Ok(RedisConnection {
            inner: Arc::new(Inner {
                config,
                publisher,
                counters: Arc::default(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RedisConfig {
        &self.inner.config
    }

    /// `PUBLISH channel payload`: the number of subscribers that received it (on a cluster,
    /// those of the node that took it).
    pub async fn publish(&self, channel: &str, payload: Bytes) -> Result<u64, Error> {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(channel).arg(payload.as_ref());
        self.query("publish", cmd).await
    }

    /// `SPUBLISH channel payload` (sharded pub/sub, Redis 7): the number of subscribers that
    /// received it.
    pub async fn spublish(&self, channel: &str, payload: Bytes) -> Result<u64, Error> {
        let mut cmd = redis::cmd("SPUBLISH");
        cmd.arg(channel).arg(payload.as_ref());
        self.query("spublish", cmd).await
    }

    /// `PUBSUB NUMSUB channel`, summed over the nodes of a cluster: how many connections
    /// subscribe to `channel` (the classic adapter's server count).
    pub async fn numsub(&self, channel: &str) -> Result<u64, Error> {
        self.count("NUMSUB", channel).await
    }

    /// `PUBSUB SHARDNUMSUB channel`, summed over the nodes of a cluster (the sharded adapter's
    /// server count).
    pub async fn shardnumsub(&self, channel: &str) -> Result<u64, Error> {
        self.count("SHARDNUMSUB", channel).await
    }

    async fn count(&self, what: &'static str, channel: &str) -> Result<u64, Error> {
        let mut cmd = redis::cmd("PUBSUB");
        cmd.arg(what).arg(channel);
        let value: redis::Value = self.query("pubsub count", cmd).await?;
        // RESP2: [channel, count, ...]; RESP3 (or a cluster's combined answer): a map.
        let pairs: Vec<(redis::Value, redis::Value)> = match value {
            redis::Value::Map(pairs) => pairs,
            redis::Value::Array(items) => {
                let mut items = items.into_iter();
                let mut pairs = Vec::new();
                while let (Some(k), Some(v)) = (items.next(), items.next()) {
                    pairs.push((k, v));
                }
                pairs
            }
            _ => Vec::new(),
        };
        Ok(pairs
            .into_iter()
            .map(|(_, v)| match v {
                redis::Value::Int(n) => u64::try_from(n).unwrap_or(0),
                _ => 0,
            })
            .sum())
    }

    async fn query<T: redis::FromRedisValue>(
        &self,
        what: &'static str,
        cmd: redis::Cmd,
    ) -> Result<T, Error> {
        let once = |cmd: redis::Cmd| async move {
            match self.inner.publisher.clone() {
                Publisher::Standalone(mut con) => cmd.query_async(&mut con).await,
                Publisher::Cluster(mut con) => cmd.query_async(&mut con).await,
            }
        };
        let run = async {
            match once(cmd.clone()).await {
                // A connection found dead (Redis restarted while it was idle), or the last
                // reconnection attempt's failure (Redis was down, it may be back): the command
                // did not reach Redis, and the `redis` crate reconnects on this error. Sent
                // once more, over the new connection.
                Err(e) if e.is_connection_dropped() => {
                    tracing::debug!(error = %e, "sio-redis: {what}: connection dropped, retrying once");
                    once(cmd).await
                }
                result => result,
            }
        };
        let result = match tokio::time::timeout(self.inner.config.publish_timeout, run).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Error::redis(what, e)),
            Err(_) => Err(Error::timeout(what)),
        };
        if let Err(e) = &result {
            Counters::add(&self.inner.counters.publish_failures);
            tracing::warn!(error = %e.chain(), "sio-redis: {what} failed");
        }
        result
    }

    /// A new subscriber: its own connection(s), one message stream.
    pub async fn subscriber(&self) -> Result<(Subscriber, Messages), Error> {
        Subscriber::connect(&self.inner.config, self.inner.counters.clone()).await
    }

    /// The counters of this connection and its subscribers.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            publish_failures: get(&c.publish_failures),
            received: get(&c.received),
            dropped_oversized: get(&c.dropped_oversized),
            dropped_full: get(&c.dropped_full),
            disconnections: get(&c.disconnections),
            resubscriptions: get(&c.resubscriptions),
        }
    }
}
