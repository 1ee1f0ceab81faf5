//! The classic adapter of one namespace (`RedisAdapter` of `@socket.io/redis-adapter` 8.3).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use sio_protocol::Str;
use sio_protocol::socket::Args;
use sio_server::Error as AdapterError;
use sio_server::{
    Adapter, BoxFuture, BroadcastOptions, BroadcastPacket, LocalNamespace, RemoteSocketData,
    ReplySink,
};

use super::node::{Incoming, Node, Receive, Route, ack_deadline};
use super::options::{ClassicOptions, Kind};
use super::requests::{Answer, Collected, Requests, answer_sink};
use super::wire::{
    event_of, from_fetched, local_opts, packet_data, random_uid6, split_event, target_opts,
    to_fetched, wire_opts, wire_packet,
};
use crate::channels::Classic;
use crate::conn::{Message, MessageKind};
use crate::format::Opts;
use crate::format::classic::{Broadcast, Request, RequestBody, RequestType, Response};

/// The adapter of one namespace.
pub(super) struct ClassicNs {
    node: Arc<Node>,
    local: LocalNamespace,
    nsp: Str,
    channels: Classic,
    /// The routing keys: the pattern, then the request, response and specific response
    /// channels (what this namespace subscribes to).
    keys: [String; 4],
    requests: Arc<Requests>,
    closed: AtomicBool,
    me: Weak<ClassicNs>,
}

impl fmt::Debug for ClassicNs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClassicAdapter")
            .field("uid", &self.node.uid)
            .field("nsp", &self.nsp)
            .finish()
    }
}

impl ClassicNs {
    pub(super) fn create(node: &Arc<Node>, local: LocalNamespace) -> Arc<dyn Adapter> {
        let nsp = local.name().unwrap_or_else(|| Str::from_static("/"));
        let channels = Classic::new(&node.options().key, &nsp);
        let keys = [
            channels.pattern(),
            channels.request().to_owned(),
            channels.response().to_owned(),
            channels.specific_response(&node.uid),
        ];
        let ns = Arc::new_cyclic(|me| ClassicNs {
            node: node.clone(),
            local,
            nsp,
            channels,
            keys,
            requests: Arc::default(),
            closed: AtomicBool::new(false),
            me: me.clone(),
        });
        node.add_routes(
            &ns.keys,
            &Route::new(Arc::downgrade(&ns) as Weak<dyn Receive>),
        );
        let subscriber = node.subscriber.clone();
        let keys = ns.keys.clone();
        node.runtime.spawn(async move {
            // A failure is retried by the subscriber until Redis answers.
            let _ = subscriber.psubscribe(&keys[0]).await;
            for channel in &keys[1..] {
                let _ = subscriber.subscribe(channel).await;
            }
        });
        ns
    }

    fn options(&self) -> &ClassicOptions {
        self.node.options()
    }

    fn check_open(&self) -> Result<(), AdapterError> {
        if self.closed.load(Ordering::Acquire) {
            Err(AdapterError::adapter_closed())
        } else {
            Ok(())
        }
    }

    async fn publish(&self, channel: &str, payload: Bytes) -> Result<(), AdapterError> {
        self.check_open()?;
        self.node
            .conn
            .publish(channel, payload)
            .await
            .map(drop)
            .map_err(AdapterError::adapter_unavailable)
    }

    async fn publish_request(&self, request: Request) -> Result<(), AdapterError> {
        let payload = request.encode().map_err(AdapterError::adapter)?;
        self.publish(self.channels.request(), payload).await
    }

    fn request(&self, body: RequestBody) -> Request {
        Request::new(Some(self.node.uid.clone()), body)
    }

    /// `PUBSUB NUMSUB` of the request channel (this server included, once subscribed).
    async fn num_sub(&self) -> Result<usize, AdapterError> {
        self.check_open()?;
        let n = self
            .node
            .conn
            .numsub(self.channels.request())
            .await
            .map_err(AdapterError::adapter_unavailable)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    // ----- received messages -----

    fn on_message(&self, message: &Message) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let channel = &message.channel[..];
        if message.kind == MessageKind::PMessage {
            self.on_broadcast(channel, &message.payload);
        } else if channel.starts_with(self.channels.response().as_bytes()) {
            self.on_response(channel, &message.payload);
        } else if channel == self.channels.request().as_bytes() {
            self.on_request(channel, &message.payload);
        }
    }

    /// A broadcast of another server (or of an emitter).
    fn on_broadcast(&self, channel: &[u8], payload: &Bytes) {
        let Some(room) = self.channels.room_of(channel) else {
            return;
        };
        if !room.is_empty() && !self.local.has_room(&room) {
            return;
        }
        let message = match Broadcast::decode(payload) {
            Ok(m) => m,
            Err(e) => return self.node.invalid(channel, &e),
        };
        if message.uid == self.node.uid {
            return;
        }
        if message.packet.nsp.as_deref().unwrap_or("/") != self.nsp.as_str() {
            return;
        }
        let Some((event, args)) = event_of(message.packet) else {
            return self.node.invalid(channel, &"the packet is no event");
        };
        match self.local.packet(&event, args, false) {
            Ok(packet) => {
                self.local.broadcast(&packet, &local_opts(message.opts));
            }
            Err(e) => self.node.invalid(channel, &e),
        }
    }

    fn on_request(&self, channel: &[u8], payload: &Bytes) {
        let request = match Request::decode(payload) {
            Ok(r) => r,
            Err(e) => return self.node.invalid(channel, &e),
        };
        let from_self = request.uid.as_ref() == Some(&self.node.uid);
        let requester = request.uid.clone();
        match request.body {
            RequestBody::Sockets { request_id, rooms } => {
                if from_self || self.requests.is_pending(&request_id) {
                    return;
                }
                let sockets = self
                    .local
                    .sockets(&BroadcastOptions::new(rooms, Vec::new()));
                self.respond(
                    requester.as_ref(),
                    Response::Sockets {
                        request_id,
                        sockets,
                    },
                );
            }
            RequestBody::AllRooms { request_id } => {
                if from_self || self.requests.is_pending(&request_id) {
                    return;
                }
                let rooms = self.local.rooms();
                self.respond(requester.as_ref(), Response::AllRooms { request_id, rooms });
            }
            // This server did its own part already.
            RequestBody::SocketsJoin { .. }
            | RequestBody::SocketsLeave { .. }
            | RequestBody::DisconnectSockets { .. }
                if from_self => {}
            RequestBody::SocketsJoin { opts, rooms } => {
                self.local.add_sockets(&target_opts(opts), &rooms);
            }
            RequestBody::SocketsLeave { opts, rooms } => {
                self.local.del_sockets(&target_opts(opts), &rooms);
            }
            RequestBody::DisconnectSockets { opts, close } => {
                self.local.disconnect_sockets(&target_opts(opts), close);
            }
            RequestBody::RemoteJoin {
                request_id,
                sid,
                room,
            } => {
                if self.has_socket(&sid) {
                    self.local.add_sockets(&only(&sid), &[room]);
                    self.respond(requester.as_ref(), Response::Done { request_id });
                }
            }
            RequestBody::RemoteLeave {
                request_id,
                sid,
                room,
            } => {
                if self.has_socket(&sid) {
                    self.local.del_sockets(&only(&sid), &[room]);
                    self.respond(requester.as_ref(), Response::Done { request_id });
                }
            }
            RequestBody::RemoteDisconnect {
                request_id,
                sid,
                close,
            } => {
                if self.has_socket(&sid) {
                    self.local.disconnect_sockets(&only(&sid), close);
                    self.respond(requester.as_ref(), Response::Done { request_id });
                }
            }
            RequestBody::FetchSockets { request_id, opts } => {
                if from_self || self.requests.is_pending(&request_id) {
                    return;
                }
                let sockets = self
                    .local
                    .fetch_sockets(&target_opts(opts))
                    .iter()
                    .filter_map(to_fetched)
                    .collect();
                self.respond(
                    requester.as_ref(),
                    Response::FetchSockets {
                        request_id,
                        sockets,
                    },
                );
            }
            RequestBody::ServerSideEmit { request_id, data } => {
                if from_self {
                    return;
                }
                let Some((event, args)) = split_event(data) else {
                    return self
                        .node
                        .invalid(channel, &"server-side event without a name");
                };
                let reply = request_id.map(|request_id| {
                    // Always on the shared response channel, as the JavaScript adapter does.
                    let (node, channel) = (self.node.clone(), self.channels.response().to_owned());
                    answer_sink(move |answer| {
                        if let Answer::Ack(data) = answer {
                            let request_id = request_id.clone();
                            let response = Response::ServerSideEmit { request_id, data };
                            send_response(&node, &channel, &response);
                        }
                    })
                });
                self.local.server_event(&event, args, reply);
            }
            RequestBody::Broadcast {
                request_id,
                packet,
                opts,
            } => {
                if from_self || self.requests.is_pending(&request_id) {
                    return;
                }
                let timeout = opts
                    .flags
                    .timeout_ms()
                    .map(std::time::Duration::from_millis)
                    .unwrap_or(self.options().requests_timeout);
                let Some((event, args)) = event_of(packet) else {
                    return self.node.invalid(channel, &"the packet is no event");
                };
                let packet = match self.local.packet(&event, args, true) {
                    Ok(p) => p,
                    Err(e) => return self.node.invalid(channel, &e),
                };
                let sink = self
                    .answer_sink(requester, request_id)
                    .until(ack_deadline(timeout));
                // As the JavaScript adapter: rooms and exceptions, no flags.
                self.local
                    .broadcast_with_ack(&packet, &target_opts(opts), &sink);
            }
        }
    }

    /// The sink that sends the client count and the acknowledgements of a broadcast back to
    /// its requester.
    fn answer_sink(&self, requester: Option<Str>, request_id: Str) -> ReplySink {
        let channel = self.response_channel(requester.as_ref());
        let node = self.node.clone();
        answer_sink(move |answer| {
            let request_id = request_id.clone();
            let response = match answer {
                Answer::ClientCount(client_count) => Response::BroadcastClientCount {
                    request_id,
                    client_count,
                },
                Answer::Ack(packet) => Response::BroadcastAck { request_id, packet },
            };
            send_response(&node, &channel, &response);
        })
    }

    fn response_channel(&self, requester: Option<&Str>) -> String {
        match requester {
            Some(uid) if self.options().publish_on_specific_response_channel => {
                self.channels.specific_response(uid)
            }
            _ => self.channels.response().to_owned(),
        }
    }

    fn respond(&self, requester: Option<&Str>, response: Response) {
        send_response(&self.node, &self.response_channel(requester), &response);
    }

    fn has_socket(&self, sid: &str) -> bool {
        !self.local.socket_rooms(sid).is_empty()
    }

    fn on_response(&self, channel: &[u8], payload: &Bytes) {
        let requests = &self.requests;
        let kind = |id: &str| -> Option<RequestType> {
            if let Some((_, broadcast)) = requests.sink(id) {
                return Some(if broadcast {
                    RequestType::Broadcast
                } else {
                    RequestType::ServerSideEmit
                });
            }
            requests.collecting(id).map(|rooms| {
                if rooms {
                    RequestType::AllRooms
                } else {
                    RequestType::RemoteFetch
                }
            })
        };
        let response = match Response::decode(payload, kind) {
            Ok(Some(r)) => r,
            // Another server's.
            Ok(None) => return,
            Err(e) => return self.node.invalid(channel, &e),
        };
        match response {
            Response::FetchSockets {
                request_id,
                sockets,
            } => {
                let sockets = sockets.into_iter().filter_map(from_fetched).collect();
                requests.answer(&request_id, sockets, Vec::new());
            }
            Response::AllRooms { request_id, rooms } => {
                requests.answer(&request_id, Vec::new(), rooms);
            }
            Response::ServerSideEmit { request_id, data }
            | Response::BroadcastAck {
                request_id,
                packet: data,
            } => requests.deliver(&request_id, Answer::Ack(data)),
            Response::BroadcastClientCount {
                request_id,
                client_count,
            } => requests.deliver(&request_id, Answer::ClientCount(client_count)),
            _ => {}
        }
    }

    /// Waits for the other servers' answers to a `fetch_sockets` or `all_rooms`.
    async fn collect(
        &self,
        is_rooms: bool,
        opts: Option<Opts>,
        timeout: std::time::Duration,
    ) -> Result<Collected, AdapterError> {
        let num_sub = self.num_sub().await?;
        if num_sub <= 1 {
            return Ok(Collected {
                complete: true,
                received: 0,
                expected: 0,
                sockets: Vec::new(),
                rooms: Vec::new(),
            });
        }
        let request_id = random_uid6();
        let guard = self
            .requests
            .collect(request_id.clone(), num_sub - 1, is_rooms);
        let body = match opts {
            Some(opts) => RequestBody::FetchSockets { request_id, opts },
            None => RequestBody::AllRooms { request_id },
        };
        self.publish_request(self.request(body)).await?;
        let collected = guard.wait(timeout).await;
        let what = if is_rooms { "allRooms" } else { "fetchSockets" };
        let partial = self.options().partial_on_timeout;
        self.node
            .collected(&self.nsp, what, collected, partial, |c| {
                format!(
                    "timeout reached while waiting for {what} response ({} of {} servers answered)",
                    c.received, c.expected
                )
            })
    }

    fn unsubscribe(&self) {
        let route = Route::new(self.me.clone() as Weak<dyn Receive>);
        self.node.remove_routes(&self.keys, &route);
        let subscriber = self.node.subscriber.clone();
        let keys = self.keys.clone();
        self.node.runtime.spawn(async move {
            let _ = subscriber.punsubscribe(&keys[0]).await;
            for channel in &keys[1..] {
                let _ = subscriber.unsubscribe(channel).await;
            }
        });
    }
}

impl Drop for ClassicNs {
    fn drop(&mut self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.unsubscribe();
        }
    }
}

/// The targets of a legacy request about one socket.
fn only(sid: &Str) -> BroadcastOptions {
    BroadcastOptions::new(vec![sid.clone()], Vec::new())
}

/// Sends `response` to the channel of its requester (through the outbox).
fn send_response(node: &Node, channel: &str, response: &Response) {
    match response.encode() {
        Ok(payload) => node.send_later(channel.to_owned(), payload, false),
        Err(e) => tracing::warn!(error = %e, "sio-redis: cannot encode a response"),
    }
}

impl Receive for ClassicNs {
    fn receive(&self, incoming: Incoming<'_>) {
        if let Incoming::Classic(message) = incoming {
            self.on_message(message);
        }
    }
}

impl Node {
    fn options(&self) -> &ClassicOptions {
        match &self.kind {
            Kind::Classic(o) => o,
            Kind::Sharded(_) => unreachable!("a classic namespace on a sharded node"),
        }
    }
}

impl Adapter for ClassicNs {
    fn local(&self) -> &LocalNamespace {
        &self.local
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
            let wire = wire_packet(Some(self.nsp.clone()), &packet)?;
            let message = Broadcast::new(self.node.uid.clone(), wire, wire_opts(&opts));
            let payload = message.encode().map_err(AdapterError::adapter)?;
            self.publish(&self.channels.broadcast_channel(&opts.rooms), payload)
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
            let wire = wire_packet(Some(self.nsp.clone()), &packet)?;
            let request_id = random_uid6();
            let request = self.request(RequestBody::Broadcast {
                request_id: request_id.clone(),
                packet: wire,
                opts: wire_opts(&opts),
            });
            let publish = self.publish_request(request);
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
        Box::pin(async move {
            if opts.flags.local {
                return Ok(());
            }
            let body = RequestBody::SocketsJoin {
                opts: Opts::new(opts.rooms, opts.except),
                rooms,
            };
            self.publish_request(self.request(body)).await
        })
    }

    fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Str>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.local.del_sockets(&opts, &rooms);
        Box::pin(async move {
            if opts.flags.local {
                return Ok(());
            }
            let body = RequestBody::SocketsLeave {
                opts: Opts::new(opts.rooms, opts.except),
                rooms,
            };
            self.publish_request(self.request(body)).await
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
            let body = RequestBody::DisconnectSockets {
                opts: Opts::new(opts.rooms, opts.except),
                close,
            };
            self.publish_request(self.request(body)).await
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
            let timeout = opts
                .flags
                .timeout
                .unwrap_or(self.options().requests_timeout);
            let wire = Opts::new(opts.rooms, opts.except);
            let collected = self.collect(false, Some(wire), timeout).await?;
            sockets.extend(collected.sockets);
            Ok(sockets)
        })
    }

    fn all_rooms(&self) -> BoxFuture<'_, Result<Vec<Str>, AdapterError>> {
        Box::pin(async move {
            let mut rooms = self.local.rooms();
            let collected = self
                .collect(true, None, self.options().requests_timeout)
                .await?;
            for room in collected.rooms {
                if !rooms.contains(&room) {
                    rooms.push(room);
                }
            }
            Ok(rooms)
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
            let data = packet_data(&event, &args)?;
            let sink = replies.map(|sink| (random_uid6(), sink));
            let request = self.request(RequestBody::ServerSideEmit {
                request_id: sink.as_ref().map(|(id, _)| id.clone()),
                data,
            });
            let publish = self.publish_request(request);
            (self.requests)
                .publish_with(&self.node.runtime, sink, false, publish)
                .await
        })
    }

    fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>> {
        Box::pin(async move { Ok(self.num_sub().await?.max(1)) })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if self.closed.swap(true, Ordering::AcqRel) {
                return;
            }
            let route = Route::new(self.me.clone() as Weak<dyn Receive>);
            self.node.remove_routes(&self.keys, &route);
            let subscriber = &self.node.subscriber;
            let _ = subscriber.punsubscribe(&self.keys[0]).await;
            for channel in &self.keys[1..] {
                let _ = subscriber.unsubscribe(channel).await;
            }
        })
    }
}
