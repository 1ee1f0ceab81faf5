//! What [`RedisConnection`](super::RedisConnection) and the [`Subscriber`](super::Subscriber)
//! share: the configuration and the counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManagerConfig;
use redis::cluster::ClusterClientBuilder;

/// Where Redis is, and the bounds of the connection layer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisConfig {
    /// `redis://` URLs: one for a single Redis, the seed nodes of a cluster.
    pub nodes: Vec<String>,
    /// Whether `nodes` are Redis Cluster nodes.
    pub cluster: bool,
    /// How long a publish (or a PUBSUB count) may wait, a reconnection included (default 2 s).
    pub publish_timeout: Duration,
    /// How long connecting (and each subscription command) may take (default 5 s).
    pub connect_timeout: Duration,
    /// Received messages larger than this are dropped (default 16 MiB). Redis has read the
    /// whole message by then; the bound keeps it from being decoded and handed on. (Redis
    /// itself disconnects a subscriber whose output buffer passes its `client-output-buffer-limit
    /// pubsub` hard limit, 32 MB by default: a larger message never arrives, and the subscriber
    /// subscribes again.)
    pub max_message_size: usize,
    /// How many received messages may wait in [`Messages`](super::Messages) (default 1024); more are dropped
    /// and counted while the reader is behind.
    pub message_buffer: usize,
}

impl RedisConfig {
    /// A single Redis at `url` (`redis://host:port`).
    pub fn standalone(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            nodes: vec![url.into()],
            cluster: false,
            publish_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            max_message_size: 16 << 20,
            message_buffer: 1024,
        }
    }

    /// A Redis Cluster reached through `nodes` (seed node URLs).
    pub fn cluster<S: Into<String>>(nodes: impl IntoIterator<Item = S>) -> RedisConfig {
        RedisConfig {
            nodes: nodes.into_iter().map(Into::into).collect(),
            cluster: true,
            ..RedisConfig::standalone("")
        }
    }

    /// Sets [`RedisConfig::publish_timeout`].
    pub fn publish_timeout(mut self, timeout: Duration) -> RedisConfig {
        self.publish_timeout = timeout;
        self
    }

    /// Sets [`RedisConfig::connect_timeout`].
    pub fn connect_timeout(mut self, timeout: Duration) -> RedisConfig {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`RedisConfig::max_message_size`].
    pub fn max_message_size(mut self, bytes: usize) -> RedisConfig {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`RedisConfig::message_buffer`] (at least 1).
    pub fn message_buffer(mut self, messages: usize) -> RedisConfig {
        self.message_buffer = messages.max(1);
        self
    }

    pub(super) fn manager_config(&self) -> ConnectionManagerConfig {
        // Few, short retries inside the `redis` crate: the callers here bound every wait, and
        // the subscriber retries on its own until Redis is back.
        ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500))
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.connect_timeout))
    }

    pub(super) fn cluster_builder(&self) -> ClusterClientBuilder {
        ClusterClientBuilder::new(self.nodes.clone())
            .retries(2)
            .min_retry_wait(50)
            .max_retry_wait(500)
            .connection_timeout(self.connect_timeout)
            .response_timeout(self.connect_timeout)
    }
}

/// Counters of the connection layer, shared by a [`RedisConnection`](super::RedisConnection) and its subscribers.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) publish_failures: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) dropped_oversized: AtomicU64,
    pub(crate) dropped_full: AtomicU64,
    pub(crate) disconnections: AtomicU64,
    pub(crate) resubscriptions: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A snapshot of the counters of a [`RedisConnection`](super::RedisConnection) and its subscribers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Publishes (and PUBSUB counts) that failed or timed out.
    pub publish_failures: u64,
    /// Messages received and handed to [`Messages`](super::Messages).
    pub received: u64,
    /// Messages dropped for being larger than [`RedisConfig::max_message_size`].
    pub dropped_oversized: u64,
    /// Messages dropped because [`Messages`](super::Messages) was full.
    pub dropped_full: u64,
    /// Subscriber connections lost (each is followed by resubscription).
    pub disconnections: u64,
    /// Completed resubscriptions (all subscriptions sent again after a connection loss).
    pub resubscriptions: u64,
}
