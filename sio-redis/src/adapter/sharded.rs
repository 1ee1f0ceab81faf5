//! The sharded adapter of one namespace (`ShardedRedisAdapter` of `@socket.io/redis-adapter`
//! 8.3, a `ClusterAdapter` of socket.io-adapter 2.5, without heartbeats).

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use indexmap::IndexSet;
use sio_protocol::Str;
use sio_protocol::socket::Args;
use sio_server::Error as AdapterError;
use sio_server::{
    Adapter, BoxFuture, BroadcastOptions, BroadcastPacket, LocalNamespace, RemoteSocketData,
    ReplySink,
};
use tokio::sync::{Notify, watch};

use super::node::{Incoming, Node, Receive, Route, ack_deadline};
use super::options::{Kind, ShardedOptions};
use super::requests::{Answer, Requests, answer_sink};
use super::wire::{
    event_of, from_fetched, local_opts, packet_data, random_hex16, split_event, to_fetched,
    wire_opts, wire_packet,
};
use crate::channels::{Sharded, SubscriptionMode};
use crate::conn::Message;
use crate::format::cluster::{ClusterBody, ClusterMessage};

/// How long a join waits for the subscription to its room's channel (dynamic modes) before
/// it returns anyway (the subscription goes on in the background).
const ROOM_WAIT: Duration = Duration::from_secs(1);

/// The adapter of one namespace.
pub(super) struct ShardedNs {
    node: Arc<Node>,
    local: LocalNamespace,
    nsp: Str,
    channels: Sharded,
    /// `<prefix>#<nsp>#<uid>#`.
    response_channel: String,
    requests: Arc<Requests>,
    closed: AtomicBool,
    rooms: Mutex<RoomSubscriptions>,
    wake: Arc<Notify>,
    done: watch::Sender<u64>,
    me: Weak<ShardedNs>,
}

/// The room channels of the dynamic modes.
#[derive(Default)]
struct RoomSubscriptions {
    /// Rooms whose channel is subscribed.
    subscribed: HashSet<Str>,
    /// Rooms to look at again (they appeared or disappeared locally).
    pending: IndexSet<Str>,
    /// The generation of the last change queued (the worker reports the last one done on
    /// `done`).
    requested: u64,
}

impl fmt::Debug for ShardedNs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardedAdapter")
            .field("uid", &self.node.uid)
            .field("nsp", &self.nsp)
            .finish()
    }
}

/// Routes a sharded message to its namespace (named in the message).
pub(super) fn route(node: &Arc<Node>, message: &Message) {
    let decoded = match ClusterMessage::decode(&message.payload) {
        Ok(m) => m,
        Err(e) => return node.invalid(&message.channel, &e),
    };
    let target = node.routes().get(decoded.nsp.as_str()).cloned();
    if let Some(route) = target {
        route.receive(Incoming::Sharded {
            channel: &message.channel,
            message: decoded,
        });
    }
}

impl ShardedNs {
    pub(super) fn create(node: &Arc<Node>, local: LocalNamespace) -> Arc<dyn Adapter> {
        let nsp = local.name().unwrap_or_else(|| Str::from_static("/"));
        let channels = Sharded::new(&node.sharded_options().channel_prefix, &nsp);
        let response_channel = channels.response(&node.uid);
        let wake = Arc::new(Notify::new());
        let ns = Arc::new_cyclic(|me| ShardedNs {
            node: node.clone(),
            local,
            nsp: nsp.clone(),
            channels,
            response_channel,
            requests: Arc::default(),
            closed: AtomicBool::new(false),
            rooms: Mutex::default(),
            wake: wake.clone(),
            done: watch::Sender::new(0),
            me: me.clone(),
        });
        node.add_routes(
            &[nsp.to_string()],
            &Route::new(Arc::downgrade(&ns) as Weak<dyn Receive>),
        );
        let subscriber = node.subscriber.clone();
        let channels = [
            ns.channels.channel().to_owned(),
            ns.response_channel.clone(),
        ];
        node.runtime.spawn(async move {
            // A failure is retried by the subscriber until Redis answers.
            for channel in &channels {
                let _ = subscriber.ssubscribe(channel).await;
            }
        });
        if ns.mode() != SubscriptionMode::Static {
            node.runtime.spawn(room_worker(Arc::downgrade(&ns), wake));
        }
        ns
    }

    fn options(&self) -> &ShardedOptions {
        self.node.sharded_options()
    }

    fn mode(&self) -> SubscriptionMode {
        self.options().subscription_mode
    }

    fn check_open(&self) -> Result<(), AdapterError> {
        if self.closed.load(Ordering::Acquire) {
            Err(AdapterError::adapter_closed())
        } else {
            Ok(())
        }
    }

    fn message(&self, body: ClusterBody) -> ClusterMessage {
        ClusterMessage::new(self.node.uid.clone(), self.nsp.clone(), body)
    }

    /// Publishes a message of this server (SPUBLISH on the channel the mode says).
    async fn publish(&self, body: ClusterBody) -> Result<(), AdapterError> {
        self.check_open()?;
        let message = self.message(body);
        let channel = self.channels.publish_channel(&message, self.mode());
        let payload = message.encode().map_err(AdapterError::adapter)?;
        self.node
            .conn
            .spublish(&channel, payload)
            .await
            .map(drop)
            .map_err(AdapterError::adapter_unavailable)
    }

    /// Sends a response to server `to` (through the outbox).
    fn respond(&self, to: &str, body: ClusterBody) {
        match self.message(body).encode() {
            Ok(payload) => self
                .node
                .send_later(self.channels.response(to), payload, true),
            Err(e) => tracing::warn!(error = %e, "sio-redis: cannot encode a response"),
        }
    }

    /// `PUBSUB SHARDNUMSUB` of the namespace's channel (this server included, once
    /// subscribed).
    async fn server_count_raw(&self) -> Result<usize, AdapterError> {
        self.check_open()?;
        let n = self
            .node
            .conn
            .shardnumsub(self.channels.channel())
            .await
            .map_err(AdapterError::adapter_unavailable)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    // ----- received messages -----

    fn on_message(&self, channel: &[u8], message: ClusterMessage) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        if channel == self.response_channel.as_bytes() {
            if message.body.is_response() {
                self.on_response(message.body);
            }
            return;
        }
        if message.uid == self.node.uid {
            return;
        }
        let from = message.uid;
        match message.body {
            ClusterBody::Broadcast {
                packet,
                request_id,
                opts,
            } => {
                let Some((event, args)) = event_of(packet) else {
                    return self.node.invalid(channel, &"the packet is no event");
                };
                let timeout = opts
                    .flags
                    .timeout_ms()
                    .map(Duration::from_millis)
                    .unwrap_or(self.options().requests_timeout);
                let opts = local_opts(opts);
                let packet = match self.local.packet(&event, args, request_id.is_some()) {
                    Ok(p) => p,
                    Err(e) => return self.node.invalid(channel, &e),
                };
                match request_id {
                    None => {
                        self.local.broadcast(&packet, &opts);
                    }
                    Some(request_id) => {
                        let sink = self
                            .answer_sink(from, request_id)
                            .until(ack_deadline(timeout));
                        self.local.broadcast_with_ack(&packet, &opts, &sink);
                    }
                }
            }
            ClusterBody::SocketsJoin { opts, rooms } => {
                self.local.add_sockets(&local_opts(opts), &rooms);
                self.rooms_changed(rooms);
            }
            ClusterBody::SocketsLeave { opts, rooms } => {
                self.local.del_sockets(&local_opts(opts), &rooms);
                self.rooms_changed(rooms);
            }
            ClusterBody::DisconnectSockets { opts, close } => {
                self.local.disconnect_sockets(&local_opts(opts), close);
            }
            ClusterBody::FetchSockets { opts, request_id } => {
                let sockets = self
                    .local
                    .fetch_sockets(&local_opts(opts))
                    .iter()
                    .filter_map(to_fetched)
                    .collect();
                self.respond(
                    &from,
                    ClusterBody::FetchSocketsResponse {
                        request_id,
                        sockets,
                    },
                );
            }
            ClusterBody::ServerSideEmit { request_id, packet } => {
                let Some((event, args)) = split_event(packet) else {
                    return self
                        .node
                        .invalid(channel, &"server-side event without a name");
                };
                let reply = request_id.map(|request_id| {
                    let ns = self.me.clone();
                    answer_sink(move |answer| {
                        if let (Answer::Ack(packet), Some(ns)) = (answer, ns.upgrade()) {
                            let request_id = request_id.clone();
                            let body = ClusterBody::ServerSideEmitResponse { request_id, packet };
                            ns.respond(&from, body);
                        }
                    })
                });
                self.local.server_event(&event, args, reply);
            }
            ClusterBody::InitialHeartbeat | ClusterBody::Heartbeat | ClusterBody::AdapterClose => {}
            body if body.is_response() => self.on_response(body),
            _ => self.node.invalid(channel, &"unknown message type"),
        }
    }

    /// The sink that sends the client count and the acknowledgements of a broadcast back to
    /// its requester.
    fn answer_sink(&self, to: Str, request_id: Str) -> ReplySink {
        let ns = self.me.clone();
        answer_sink(move |answer| {
            let Some(ns) = ns.upgrade() else {
                return;
            };
            let request_id = request_id.clone();
            let body = match answer {
                Answer::ClientCount(client_count) => ClusterBody::BroadcastClientCount {
                    request_id,
                    client_count,
                },
                Answer::Ack(packet) => ClusterBody::BroadcastAck { request_id, packet },
            };
            ns.respond(&to, body);
        })
    }

    fn on_response(&self, body: ClusterBody) {
        let requests = &self.requests;
        match body {
            ClusterBody::FetchSocketsResponse {
                request_id,
                sockets,
            } => {
                let sockets = sockets.into_iter().filter_map(from_fetched).collect();
                requests.answer(&request_id, sockets, Vec::new());
            }
            ClusterBody::ServerSideEmitResponse { request_id, packet }
            | ClusterBody::BroadcastAck { request_id, packet } => {
                requests.deliver(&request_id, Answer::Ack(packet));
            }
            ClusterBody::BroadcastClientCount {
                request_id,
                client_count,
            } => requests.deliver(&request_id, Answer::ClientCount(client_count)),
            _ => {}
        }
    }

    // ----- room channels (dynamic modes) -----

    /// Whether this server should listen on `room`'s channel now: the room exists here and
    /// the mode gives it a channel (`dynamic`: not a socket's own room).
    fn wants(&self, room: &str) -> bool {
        if !self.local.has_room(room) {
            return false;
        }
        let is_socket_id = !self.local.socket_rooms(room).is_empty();
        Sharded::subscribes_to_room(self.mode(), is_socket_id)
    }

    fn subscriptions(&self) -> std::sync::MutexGuard<'_, RoomSubscriptions> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Rooms that may have appeared or disappeared here: queues those whose channel must be
    /// subscribed or unsubscribed; the generation to wait for, if any.
    fn rooms_changed(&self, rooms: impl IntoIterator<Item = Str>) -> Option<u64> {
        if self.mode() == SubscriptionMode::Static || self.closed.load(Ordering::Acquire) {
            return None;
        }
        let mut changed = false;
        let mut subs = self.subscriptions();
        for room in rooms {
            if self.wants(&room) != subs.subscribed.contains(&room) {
                subs.pending.insert(room);
                changed = true;
            }
        }
        if !changed {
            return None;
        }
        subs.requested += 1;
        let generation = subs.requested;
        drop(subs);
        self.wake.notify_one();
        Some(generation)
    }

    /// Waits (at most [`ROOM_WAIT`]) for the room subscriptions of `generation`; not at all
    /// while the subscriber is reconnecting (Redis down: the join does not wait for it).
    async fn rooms_settled(&self, generation: Option<u64>) {
        let Some(generation) = generation else {
            return;
        };
        if !self.node.subscriber.is_healthy() {
            return;
        }
        let mut done = self.done.subscribe();
        let _ = tokio::time::timeout(ROOM_WAIT, done.wait_for(|d| *d >= generation)).await;
    }

    /// Subscribes to or unsubscribes from `room`'s channel, as [`wants`](Self::wants) says.
    async fn reconcile(&self, room: Str) {
        let channel = self.channels.room(&room);
        let subscriber = &self.node.subscriber;
        let (change, want) = {
            // Decided under the lock that `rooms_changed` takes after the registry changed:
            // either this sees the change, or `rooms_changed` sees this decision.
            let mut subs = self.subscriptions();
            let want = self.wants(&room) && !self.closed.load(Ordering::Acquire);
            let change = if want {
                subs.subscribed.insert(room)
            } else {
                subs.subscribed.remove(&room)
            };
            (change, want)
        };
        match (change, want) {
            // A failure is retried by the subscriber until Redis answers.
            (true, true) => drop(subscriber.ssubscribe(&channel).await),
            (true, false) => drop(subscriber.sunsubscribe(&channel).await),
            _ => {}
        }
    }

    fn channels_to_unsubscribe(&self) -> Vec<String> {
        let mut channels = vec![
            self.channels.channel().to_owned(),
            self.response_channel.clone(),
        ];
        let mut subs = self.subscriptions();
        channels.extend(
            subs.subscribed
                .drain()
                .map(|room| self.channels.room(&room)),
        );
        subs.pending.clear();
        channels
    }
}

/// Runs the room subscriptions of one namespace, one change at a time, until it is gone.
async fn room_worker(ns: Weak<ShardedNs>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        loop {
            let Some(ns) = ns.upgrade() else {
                return;
            };
            let (batch, generation) = {
                let mut subs = ns.subscriptions();
                (std::mem::take(&mut subs.pending), subs.requested)
            };
            if batch.is_empty() {
                break;
            }
            for room in batch {
                ns.reconcile(room).await;
            }
            ns.done.send_replace(generation);
        }
    }
}

impl Drop for ShardedNs {
    fn drop(&mut self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let route = Route::new(self.me.clone() as Weak<dyn Receive>);
        self.node.remove_routes(&[self.nsp.to_string()], &route);
        let channels = self.channels_to_unsubscribe();
        let subscriber = self.node.subscriber.clone();
        self.node.runtime.spawn(async move {
            for channel in &channels {
                let _ = subscriber.sunsubscribe(channel).await;
            }
        });
    }
}

impl Receive for ShardedNs {
    fn receive(&self, incoming: Incoming<'_>) {
        if let Incoming::Sharded { channel, message } = incoming {
            self.on_message(channel, message);
        }
    }
}

impl Node {
    fn sharded_options(&self) -> &ShardedOptions {
        match &self.kind {
            Kind::Sharded(o) => o,
            Kind::Classic(_) => unreachable!("a sharded namespace on a classic node"),
        }
    }
}

impl Adapter for ShardedNs {
    fn local(&self) -> &LocalNamespace {
        &self.local
    }

    fn add_all(&self, id: Str, rooms: Vec<Str>) -> BoxFuture<'_, ()> {
        self.local.add_all(&id, rooms.clone());
        let generation = self.rooms_changed(rooms);
        Box::pin(self.rooms_settled(generation))
    }

    fn del(&self, id: Str, room: Str) -> BoxFuture<'_, ()> {
        self.local.del(&id, &room);
        self.rooms_changed([room]);
        Box::pin(async {})
    }

    fn del_all(&self, id: Str) -> BoxFuture<'_, ()> {
        let rooms = self.local.socket_rooms(&id);
        self.local.del_all(&id);
        self.rooms_changed(rooms);
        Box::pin(async {})
    }

    fn broadcast(
        &self,
        packet: Arc<BroadcastPacket>,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        Box::pin(async move {
            self.local.broadcast_interleaved(&packet, &opts).await;
            if opts.flags.local {
                return Ok(());
            }
            self.publish(ClusterBody::Broadcast {
                packet: wire_packet(None, &packet)?,
                request_id: None,
                opts: wire_opts(&opts),
            })
            .await
        })
    }

    fn broadcast_with_ack(
        &self,
        packet: Arc<BroadcastPacket>,
        opts: BroadcastOptions,
        acks: ReplySink,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.local.broadcast_with_ack(&packet, &opts, &acks);
        Box::pin(async move {
            if opts.flags.local {
                return Ok(());
            }
            self.check_open()?;
            let wire = wire_packet(None, &packet)?;
            let request_id = random_hex16();
            let publish = self.publish(ClusterBody::Broadcast {
                packet: wire,
                request_id: Some(request_id.clone()),
                opts: wire_opts(&opts),
            });
            let sink = Some((request_id, acks));
            (self.requests)
                .publish_with(&self.node.runtime, sink, true, publish)
                .await
        })
    }

    fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Str>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.local.add_sockets(&opts, &rooms);
        let generation = self.rooms_changed(rooms.clone());
        Box::pin(async move {
            self.rooms_settled(generation).await;
            if opts.flags.local {
                return Ok(());
            }
            self.publish(ClusterBody::SocketsJoin {
                opts: wire_opts(&opts),
                rooms,
            })
            .await
        })
    }

    fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Str>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.local.del_sockets(&opts, &rooms);
        self.rooms_changed(rooms.clone());
        Box::pin(async move {
            if opts.flags.local {
                return Ok(());
            }
            self.publish(ClusterBody::SocketsLeave {
                opts: wire_opts(&opts),
                rooms,
            })
            .await
        })
    }

    fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.local.disconnect_sockets(&opts, close);
        Box::pin(async move {
            if opts.flags.local {
                return Ok(());
            }
            self.publish(ClusterBody::DisconnectSockets {
                opts: wire_opts(&opts),
                close,
            })
            .await
        })
    }

    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<Vec<RemoteSocketData>, AdapterError>> {
        Box::pin(async move {
            let mut sockets = self.local.fetch_sockets(&opts);
            if opts.flags.local {
                return Ok(sockets);
            }
            let expected = self.server_count_raw().await?.saturating_sub(1);
            if expected == 0 {
                return Ok(sockets);
            }
            let timeout = opts
                .flags
                .timeout
                .unwrap_or(self.options().requests_timeout);
            let request_id = random_hex16();
            let guard = self.requests.collect(request_id.clone(), expected, false);
            self.publish(ClusterBody::FetchSockets {
                opts: wire_opts(&opts),
                request_id,
            })
            .await?;
            let collected = guard.wait(timeout).await;
            let partial = self.options().partial_on_timeout;
            let collected =
                self.node
                    .collected(&self.nsp, "fetchSockets", collected, partial, |c| {
                        format!(
                            "timeout reached: only {} responses received out of {}",
                            c.received, c.expected
                        )
                    })?;
            sockets.extend(collected.sockets);
            Ok(sockets)
        })
    }

    fn server_side_emit(
        &self,
        event: Str,
        args: Args,
        replies: Option<ReplySink>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        Box::pin(async move {
            self.check_open()?;
            let packet = packet_data(&event, &args)?;
            let sink = replies.map(|sink| (random_hex16(), sink));
            let publish = self.publish(ClusterBody::ServerSideEmit {
                request_id: sink.as_ref().map(|(id, _)| id.clone()),
                packet,
            });
            (self.requests)
                .publish_with(&self.node.runtime, sink, false, publish)
                .await
        })
    }

    fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(async move { Ok(self.server_count_raw().await?.max(1)) })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.closed.swap(true, Ordering::AcqRel) {
                return;
            }
            let route = Route::new(self.me.clone() as Weak<dyn Receive>);
            self.node.remove_routes(&[self.nsp.to_string()], &route);
            for channel in self.channels_to_unsubscribe() {
                let _ = self.node.subscriber.sunsubscribe(&channel).await;
            }
        })
    }
}
