//! [`Subscriber`]: subscriptions that survive reconnections, and the bounded [`Messages`]
//! stream.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use bytes::Bytes;
use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::{IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind};
use tokio::sync::{Notify, mpsc};

use super::common::{Counters, RedisConfig};
use crate::error::Error;

/// How a message was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageKind {
    /// Through SUBSCRIBE.
    Message,
    /// Through PSUBSCRIBE ([`Message::pattern`] says which pattern).
    PMessage,
    /// Through SSUBSCRIBE (sharded pub/sub).
    SMessage,
}

/// A message published on a channel this subscriber listens to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// How it was received.
    pub kind: MessageKind,
    /// The channel it was published on.
    pub channel: Bytes,
    /// The pattern that matched, for [`MessageKind::PMessage`].
    pub pattern: Option<Bytes>,
    /// The payload.
    pub payload: Bytes,
}

impl Message {
    /// The channel as text (invalid UTF-8 replaced by U+FFFD).
    pub fn channel_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.channel)
    }
}

/// The messages of a [`Subscriber`], in the order Redis delivered them.
///
/// Bounded by [`RedisConfig::message_buffer`]: while the reader is that far behind, newer
/// messages are dropped, logged and counted ([`Stats::dropped_full`](super::Stats)).
#[derive(Debug)]
pub struct Messages {
    rx: mpsc::Receiver<Message>,
}

impl Messages {
    /// The next message; `None` once the subscriber's connections are gone.
    pub async fn recv(&mut self) -> Option<Message> {
        self.rx.recv().await
    }

    /// The next message if one is waiting.
    pub fn try_recv(&mut self) -> Option<Message> {
        self.rx.try_recv().ok()
    }
}

/// Subscriptions on their own connection(s), remembered and sent again after every
/// reconnection. Cheap to clone; the connections close when the last clone is dropped.
#[derive(Clone)]
pub struct Subscriber {
    inner: Arc<Inner>,
}

struct Inner {
    /// SUBSCRIBE and PSUBSCRIBE (and SSUBSCRIBE on a single Redis).
    classic: ConnectionManager,
    /// SSUBSCRIBE on a cluster.
    sharded: Option<ClusterConnection>,
    tracked: Arc<Mutex<Tracked>>,
    /// Held while the subscriptions are changed or sent again, so that what Redis has
    /// follows the order of the changes (a resubscription never sends again a channel that
    /// an unsubscription removed meanwhile).
    commands: tokio::sync::Mutex<()>,
    counters: Arc<Counters>,
    timeout: Duration,
    resubscribe: Arc<Notify>,
    /// Whether the subscriptions are believed in place (no connection lost or command
    /// failed since the last successful (re)subscription).
    healthy: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug, Default, Clone)]
struct Tracked {
    channels: BTreeSet<String>,
    patterns: BTreeSet<String>,
    shard_channels: BTreeSet<String>,
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tracked = self.tracked();
        f.debug_struct("Subscriber")
            .field("channels", &tracked.channels)
            .field("patterns", &tracked.patterns)
            .field("shard_channels", &tracked.shard_channels)
            .finish()
    }
}

/// What the push callback (run inside the `redis` crate's connection task) needs.
struct PushSink {
    tx: mpsc::Sender<Message>,
    tracked: Arc<Mutex<Tracked>>,
    healthy: Arc<AtomicBool>,
    counters: Arc<Counters>,
    max_size: usize,
    resubscribe: Arc<Notify>,
}

impl PushSink {
    fn handle(&self, push: PushInfo) {
        let (kind, mut data) = match push.kind {
            PushKind::Message => (MessageKind::Message, push.data),
            PushKind::PMessage => (MessageKind::PMessage, push.data),
            PushKind::SMessage => (MessageKind::SMessage, push.data),
            PushKind::Disconnection => {
                Counters::add(&self.counters.disconnections);
                self.healthy.store(false, Ordering::Release);
                tracing::warn!("sio-redis: subscriber connection lost, subscribing again");
                self.resubscribe.notify_one();
                return;
            }
            // A shard channel can be taken away by the server (its slot moved): subscribe
            // again if it is still wanted. (The answer to our own SUNSUBSCRIBE comes this way
            // too, for a channel no longer tracked.)
            PushKind::SUnsubscribe => {
                let channel = match push.data.first() {
                    Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                    _ => return,
                };
                let wanted = self
                    .tracked
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .shard_channels
                    .contains(&channel);
                if wanted {
                    self.resubscribe.notify_one();
                }
                return;
            }
            _ => return,
        };
        let bytes = |v: redis::Value| match v {
            redis::Value::BulkString(b) => Some(Bytes::from(b)),
            redis::Value::SimpleString(s) => Some(Bytes::from(s)),
            _ => None,
        };
        let payload = data.pop().and_then(bytes);
        let channel = data.pop().and_then(bytes);
        let pattern = data.pop().and_then(bytes);
        let (Some(payload), Some(channel)) = (payload, channel) else {
            return;
        };
        if payload.len() > self.max_size {
            Counters::add(&self.counters.dropped_oversized);
            tracing::warn!(
                channel = %String::from_utf8_lossy(&channel),
                size = payload.len(),
                max = self.max_size,
                "sio-redis: dropped a message larger than max_message_size"
            );
            return;
        }
        let message = Message {
            kind,
            channel,
            pattern: if kind == MessageKind::PMessage {
                pattern
            } else {
                None
            },
            payload,
        };
        match self.tx.try_send(message) {
            Ok(()) => Counters::add(&self.counters.received),
            Err(mpsc::error::TrySendError::Full(message)) => {
                Counters::add(&self.counters.dropped_full);
                tracing::warn!(
                    channel = %message.channel_str(),
                    "sio-redis: dropped a message, the reader is behind"
                );
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

impl Subscriber {
    pub(super) async fn connect(
        config: &RedisConfig,
        counters: Arc<Counters>,
    ) -> Result<(Subscriber, Messages), Error> {
        let (tx, rx) = mpsc::channel(config.message_buffer.max(1));
        let resubscribe = Arc::new(Notify::new());
        let tracked: Arc<Mutex<Tracked>> = Arc::default();
        let healthy = Arc::new(AtomicBool::new(true));
        let sink = Arc::new(PushSink {
            tx,
            tracked: tracked.clone(),
            healthy: healthy.clone(),
            counters: counters.clone(),
            max_size: config.max_message_size,
            resubscribe: resubscribe.clone(),
        });
        let push = |sink: &Arc<PushSink>| {
            let sink = sink.clone();
            move |push: PushInfo| {
                sink.handle(push);
                Ok::<(), std::convert::Infallible>(())
            }
        };
        let first = config
            .nodes
            .first()
            .ok_or_else(|| Error::config("no redis node"))?;
        let connect = async {
            let info = first.as_str().into_connection_info()?;
            let settings = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3);
            let client = redis::Client::open(info.set_redis_settings(settings))?;
            let classic = client
                .get_connection_manager_with_config(
                    config.manager_config().set_push_sender(push(&sink)),
                )
                .await?;
            let sharded = if config.cluster {
                Some(
                    config
                        .cluster_builder()
                        .use_protocol(ProtocolVersion::RESP3)
                        .push_sender(push(&sink))
                        .build()?
                        .get_async_connection()
                        .await?,
                )
            } else {
                None
            };
            Ok::<_, redis::RedisError>((classic, sharded))
        };
        let (classic, sharded) = tokio::time::timeout(config.connect_timeout, connect)
            .await
            .map_err(|_| Error::timeout("connecting the subscriber to redis"))?
            .map_err(|e| Error::redis("connecting the subscriber to redis", e))?;
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| Inner {
            classic,
            sharded,
            tracked,
            commands: tokio::sync::Mutex::new(()),
            counters,
            timeout: config.connect_timeout,
            resubscribe: resubscribe.clone(),
            healthy,
            task: tokio::spawn(resubscribe_loop(weak.clone(), resubscribe.clone())),
        });
        Ok((Subscriber { inner }, Messages { rx }))
    }

    /// Whether the subscriptions are believed in place: `false` from a lost connection or a
    /// failed subscription until they are all made again.
    pub fn is_healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Acquire)
    }

    fn tracked(&self) -> Tracked {
        self.inner
            .tracked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn track(&self, f: impl FnOnce(&mut Tracked)) {
        f(&mut self
            .inner
            .tracked
            .lock()
            .unwrap_or_else(PoisonError::into_inner));
    }

    /// `SUBSCRIBE channel`. The subscription is remembered even when this fails (Redis down):
    /// it is then made as soon as Redis answers again.
    pub async fn subscribe(&self, channel: &str) -> Result<(), Error> {
        let _order = self.inner.commands.lock().await;
        self.track(|t| {
            t.channels.insert(channel.to_owned());
        });
        self.run_or_retry(self.inner.classic_cmd("SUBSCRIBE", channel))
            .await
    }

    /// `UNSUBSCRIBE channel`.
    pub async fn unsubscribe(&self, channel: &str) -> Result<(), Error> {
        let _order = self.inner.commands.lock().await;
        self.track(|t| {
            t.channels.remove(channel);
        });
        self.inner.classic_cmd("UNSUBSCRIBE", channel).await
    }

    /// `PSUBSCRIBE pattern` (remembered like [`Subscriber::subscribe`]).
    pub async fn psubscribe(&self, pattern: &str) -> Result<(), Error> {
        let _order = self.inner.commands.lock().await;
        self.track(|t| {
            t.patterns.insert(pattern.to_owned());
        });
        self.run_or_retry(self.inner.classic_cmd("PSUBSCRIBE", pattern))
            .await
    }

    /// `PUNSUBSCRIBE pattern`.
    pub async fn punsubscribe(&self, pattern: &str) -> Result<(), Error> {
        let _order = self.inner.commands.lock().await;
        self.track(|t| {
            t.patterns.remove(pattern);
        });
        self.inner.classic_cmd("PUNSUBSCRIBE", pattern).await
    }

    /// `SSUBSCRIBE channel` (sharded pub/sub, Redis 7; on a cluster, at the channel's shard;
    /// remembered like [`Subscriber::subscribe`]).
    pub async fn ssubscribe(&self, channel: &str) -> Result<(), Error> {
        let _order = self.inner.commands.lock().await;
        self.track(|t| {
            t.shard_channels.insert(channel.to_owned());
        });
        self.run_or_retry(self.inner.shard_cmd("SSUBSCRIBE", channel))
            .await
    }

    /// `SUNSUBSCRIBE channel`.
    pub async fn sunsubscribe(&self, channel: &str) -> Result<(), Error> {
        let _order = self.inner.commands.lock().await;
        self.track(|t| {
            t.shard_channels.remove(channel);
        });
        self.inner.shard_cmd("SUNSUBSCRIBE", channel).await
    }

    /// On failure, the resubscription loop takes over.
    async fn run_or_retry(
        &self,
        command: impl Future<Output = Result<(), Error>>,
    ) -> Result<(), Error> {
        let result = command.await;
        if result.is_err() {
            self.inner.healthy.store(false, Ordering::Release);
            self.inner.resubscribe.notify_one();
        }
        result
    }
}

impl Inner {
    async fn classic_cmd(&self, name: &'static str, arg: &str) -> Result<(), Error> {
        let mut cmd = redis::cmd(name);
        cmd.arg(arg);
        let mut con = self.classic.clone();
        self.bounded(name, async move { cmd.exec_async(&mut con).await })
            .await
    }

    async fn shard_cmd(&self, name: &'static str, arg: &str) -> Result<(), Error> {
        let mut cmd = redis::cmd(name);
        cmd.arg(arg);
        match self.sharded.clone() {
            Some(mut con) => {
                self.bounded(name, async move { cmd.exec_async(&mut con).await })
                    .await
            }
            None => {
                let mut con = self.classic.clone();
                self.bounded(name, async move { cmd.exec_async(&mut con).await })
                    .await
            }
        }
    }

    async fn bounded(
        &self,
        what: &'static str,
        command: impl Future<Output = redis::RedisResult<()>>,
    ) -> Result<(), Error> {
        match tokio::time::timeout(self.timeout, command).await {
            Ok(result) => result.map_err(|e| Error::redis(what, e)),
            Err(_) => Err(Error::timeout(what)),
        }
    }

    /// Sends every remembered subscription again (subscribing twice on a connection changes
    /// nothing, so this is safe whatever the `redis` crate did on its own).
    async fn resubscribe_all(&self) -> Result<(), Error> {
        let _order = self.commands.lock().await;
        let tracked = self
            .tracked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for channel in &tracked.channels {
            self.classic_cmd("SUBSCRIBE", channel).await?;
        }
        for pattern in &tracked.patterns {
            self.classic_cmd("PSUBSCRIBE", pattern).await?;
        }
        for channel in &tracked.shard_channels {
            self.shard_cmd("SSUBSCRIBE", channel).await?;
        }
        Ok(())
    }
}

/// Waits for a lost connection (or a failed subscription) and subscribes again until it works,
/// with a delay doubling from 50 ms to 2 s between attempts.
async fn resubscribe_loop(inner: Weak<Inner>, notify: Arc<Notify>) {
    loop {
        notify.notified().await;
        let mut delay = Duration::from_millis(50);
        loop {
            let Some(inner) = inner.upgrade() else {
                return;
            };
            match inner.resubscribe_all().await {
                Ok(()) => {
                    Counters::add(&inner.counters.resubscriptions);
                    inner.healthy.store(true, Ordering::Release);
                    tracing::info!("sio-redis: subscriptions restored");
                    break;
                }
                Err(e) => {
                    tracing::debug!(error = %e.chain(), "sio-redis: resubscription failed, retrying")
                }
            }
            drop(inner);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }
}
