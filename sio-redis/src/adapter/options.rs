//! The two adapters' options, and which one a node runs.

use std::time::Duration;

use crate::channels::{DEFAULT_KEY, SubscriptionMode};
#[cfg(doc)]
use sio_server::Adapter;

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

#[derive(Debug)]
pub(super) enum Kind {
    Classic(ClassicOptions),
    Sharded(ShardedOptions),
}
