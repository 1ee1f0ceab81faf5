//! The worked example of a cluster [`Adapter`]: an in-process "bus" that links several
//! `SocketIo` servers of one process, written against sio-server's public API only (what an
//! external crate such as `sio-redis` does). Used by `io_cluster.rs`.
//!
//! The bus carries what a real broker would: broadcast packets as `[event, ...args]` values
//! with the options as socket.io's JSON `opts`, requests and responses addressed by request
//! id, `fetch_sockets` answers as JSON; nothing of a server's memory crosses. Read
//! [`BusAdapter`] for the calls of this server (the local part first, then the other
//! servers, errors returned), and [`Receiver::handle`] for the requests of the other servers,
//! answered through [`LocalNamespace`].

#![allow(unreachable_pub, missing_docs)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use sio_protocol::socket::Args;
use sio_protocol::{Str, Value};
use sio_server::Error as AdapterError;
use sio_server::{
    Adapter, AdapterFactory, BoxFuture, BroadcastOptions, BroadcastPacket, LocalNamespace,
    RemoteSocketData, ReplyEvent, ReplySink,
};
use tokio::sync::{mpsc, oneshot};

// ----- the bus: a broker in memory -----

/// What travels on the bus. Values and JSON only: nothing of a server's memory crosses.
#[derive(Debug, Clone)]
enum Msg {
    /// socket.io's `BROADCAST`: the un-encoded packet's `data` (`[event, ...args]`), `opts`,
    /// and a request id when the sender collects acknowledgements.
    Broadcast {
        data: Vec<Value>,
        opts: serde_json::Value,
        request: Option<u64>,
    },
    SocketsJoin {
        opts: serde_json::Value,
        rooms: Vec<String>,
    },
    SocketsLeave {
        opts: serde_json::Value,
        rooms: Vec<String>,
    },
    DisconnectSockets {
        opts: serde_json::Value,
        close: bool,
    },
    FetchSockets {
        opts: serde_json::Value,
        request: u64,
    },
    AllRooms {
        request: u64,
    },
    ServerSideEmit {
        data: Vec<Value>,
        request: Option<u64>,
    },
    // Responses, to the requesting node only.
    FetchSocketsResponse {
        request: u64,
        sockets: serde_json::Value,
    },
    AllRoomsResponse {
        request: u64,
        rooms: Vec<String>,
    },
    ServerSideEmitResponse {
        request: u64,
        data: Value,
    },
    BroadcastClientCount {
        request: u64,
        count: usize,
    },
    BroadcastAck {
        request: u64,
        data: Value,
    },
}

#[derive(Debug)]
struct Envelope {
    from: u64,
    msg: Msg,
}

#[derive(Debug)]
struct Node {
    uid: u64,
    nsp: String,
    tx: mpsc::UnboundedSender<Envelope>,
    /// A muted node receives everything and answers nothing (a node that hangs).
    muted: Arc<AtomicBool>,
}

#[derive(Debug, Default)]
pub struct Bus {
    nodes: Mutex<Vec<Node>>,
    /// The broker is down: every publish fails.
    pub down: AtomicBool,
}

impl Bus {
    fn check(&self) -> Result<(), AdapterError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(AdapterError::adapter_unavailable("bus down"));
        }
        Ok(())
    }

    /// To every other node of the namespace.
    fn publish(&self, from: u64, nsp: &str, msg: Msg) -> Result<(), AdapterError> {
        self.check()?;
        for node in self.nodes.lock().unwrap().iter() {
            if node.nsp == nsp && node.uid != from {
                let _ = node.tx.send(Envelope {
                    from,
                    msg: msg.clone(),
                });
            }
        }
        Ok(())
    }

    /// To one node (a response).
    fn respond(&self, from: u64, to: u64, nsp: &str, msg: Msg) {
        if self.check().is_err() {
            return;
        }
        for node in self.nodes.lock().unwrap().iter() {
            if node.nsp == nsp && node.uid == to {
                let _ = node.tx.send(Envelope { from, msg });
                return;
            }
        }
    }

    pub fn count(&self, nsp: &str) -> Result<usize, AdapterError> {
        self.check()?;
        Ok(self
            .nodes
            .lock()
            .unwrap()
            .iter()
            .filter(|node| node.nsp == nsp)
            .count())
    }

    pub fn mute(&self, uid: u64) {
        for node in self.nodes.lock().unwrap().iter() {
            if node.uid == uid {
                node.muted.store(true, Ordering::SeqCst);
            }
        }
    }
}

// ----- the adapter -----

/// A request of this node waiting for the other nodes' answers.
enum Pending {
    /// Answers to `fetch_sockets` / `all_rooms`, until `expected` came.
    Collect {
        expected: usize,
        answers: Vec<serde_json::Value>,
        done: Option<oneshot::Sender<Vec<serde_json::Value>>>,
    },
    /// Broadcast acknowledgements and server-side answers go to the caller's sink.
    Sink(ReplySink),
}

#[derive(Default)]
struct Requests {
    next: AtomicU64,
    pending: Mutex<HashMap<u64, Pending>>,
}

impl Requests {
    fn id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Keeps `sink` for the answers to `request` until the caller stops waiting.
    fn keep_sink(self: &Arc<Self>, request: u64, sink: ReplySink) {
        self.pending
            .lock()
            .unwrap()
            .insert(request, Pending::Sink(sink.clone()));
        let requests = Arc::clone(self);
        tokio::spawn(async move {
            sink.closed().await;
            requests.pending.lock().unwrap().remove(&request);
        });
    }

    fn sink(&self, request: u64) -> Option<ReplySink> {
        match self.pending.lock().unwrap().get(&request) {
            Some(Pending::Sink(sink)) => Some(sink.clone()),
            _ => None,
        }
    }

    fn answer(&self, request: u64, answer: serde_json::Value) {
        let mut pending = self.pending.lock().unwrap();
        let Some(Pending::Collect {
            expected,
            answers,
            done,
        }) = pending.get_mut(&request)
        else {
            return;
        };
        answers.push(answer);
        if answers.len() >= *expected {
            if let Some(done) = done.take() {
                let _ = done.send(std::mem::take(answers));
            }
            pending.remove(&request);
        }
    }
}

/// The adapter of one namespace on one node.
struct BusAdapter {
    uid: u64,
    nsp: String,
    local: LocalNamespace,
    bus: Arc<Bus>,
    requests: Arc<Requests>,
    /// How long `fetch_sockets` and `all_rooms` wait without `opts.flags.timeout`.
    timeout: Duration,
}

impl std::fmt::Debug for BusAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusAdapter")
            .field("uid", &self.uid)
            .field("nsp", &self.nsp)
            .finish()
    }
}

fn opts_json(opts: &BroadcastOptions) -> serde_json::Value {
    serde_json::to_value(opts).unwrap()
}

fn packet_data(event: &str, args: &Args) -> Result<Vec<Value>, AdapterError> {
    let mut data = vec![Value::from(event)];
    data.extend(args.to_values().map_err(AdapterError::adapter)?);
    Ok(data)
}

/// `[event, ...args]` → the event name and its arguments.
fn split(mut data: Vec<Value>) -> Option<(String, Args)> {
    if data.is_empty() {
        return None;
    }
    let event = data.remove(0).as_str()?.to_owned();
    Some((event, Args::from_values(data)))
}

fn first_value(args: &Args) -> Value {
    args.to_values()
        .ok()
        .and_then(|v| v.into_iter().next())
        .unwrap_or(Value::Null)
}

impl BusAdapter {
    fn publish(&self, msg: Msg) -> Result<(), AdapterError> {
        self.bus.publish(self.uid, &self.nsp, msg)
    }

    /// Publishes a request and waits for one answer per other node.
    async fn collect(
        &self,
        make: impl FnOnce(u64) -> Msg,
        timeout: Duration,
    ) -> Result<Vec<serde_json::Value>, AdapterError> {
        let expected = self.bus.count(&self.nsp)?.saturating_sub(1);
        if expected == 0 {
            return Ok(Vec::new());
        }
        let request = self.requests.id();
        let (tx, rx) = oneshot::channel();
        self.requests.pending.lock().unwrap().insert(
            request,
            Pending::Collect {
                expected,
                answers: Vec::new(),
                done: Some(tx),
            },
        );
        if let Err(e) = self.publish(make(request)) {
            self.requests.pending.lock().unwrap().remove(&request);
            return Err(e);
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answers)) => Ok(answers),
            _ => {
                let got = match self.requests.pending.lock().unwrap().remove(&request) {
                    Some(Pending::Collect { answers, .. }) => answers.len(),
                    _ => 0,
                };
                Err(AdapterError::adapter_timeout(format!(
                    "timeout reached: only {got} responses received out of {expected}"
                )))
            }
        }
    }
}

impl Adapter for BusAdapter {
    fn local(&self) -> &LocalNamespace {
        &self.local
    }

    fn broadcast(
        &self,
        packet: Arc<BroadcastPacket>,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        // The local part happens whatever becomes of the remote one.
        self.local.broadcast(&packet, &opts);
        let result = if opts.flags.local {
            Ok(())
        } else {
            packet_data(&packet.event, &packet.args).and_then(|data| {
                self.publish(Msg::Broadcast {
                    data,
                    opts: opts_json(&opts),
                    request: None,
                })
            })
        };
        Box::pin(async move { result })
    }

    fn broadcast_with_ack(
        &self,
        packet: Arc<BroadcastPacket>,
        opts: BroadcastOptions,
        acks: ReplySink,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.local.broadcast_with_ack(&packet, &opts, &acks);
        if opts.flags.local {
            return Box::pin(async { Ok(()) });
        }
        let request = self.requests.id();
        let result = packet_data(&packet.event, &packet.args).and_then(|data| {
            self.requests.keep_sink(request, acks);
            self.publish(Msg::Broadcast {
                data,
                opts: opts_json(&opts),
                request: Some(request),
            })
        });
        Box::pin(async move { result })
    }

    fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Str>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.local.add_sockets(&opts, &rooms);
        let result = if opts.flags.local {
            Ok(())
        } else {
            self.publish(Msg::SocketsJoin {
                opts: opts_json(&opts),
                rooms: rooms.iter().map(|r| r.to_string()).collect(),
            })
        };
        Box::pin(async move { result })
    }

    fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Str>,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.local.del_sockets(&opts, &rooms);
        let result = if opts.flags.local {
            Ok(())
        } else {
            self.publish(Msg::SocketsLeave {
                opts: opts_json(&opts),
                rooms: rooms.iter().map(|r| r.to_string()).collect(),
            })
        };
        Box::pin(async move { result })
    }

    fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> BoxFuture<'_, Result<(), AdapterError>> {
        self.local.disconnect_sockets(&opts, close);
        let result = if opts.flags.local {
            Ok(())
        } else {
            self.publish(Msg::DisconnectSockets {
                opts: opts_json(&opts),
                close,
            })
        };
        Box::pin(async move { result })
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
            let timeout = opts.flags.timeout.unwrap_or(self.timeout);
            let json = opts_json(&opts);
            let answers = self
                .collect(
                    |request| Msg::FetchSockets {
                        opts: json,
                        request,
                    },
                    timeout,
                )
                .await?;
            for answer in answers {
                let remote: Vec<RemoteSocketData> =
                    serde_json::from_value(answer).map_err(AdapterError::adapter)?;
                sockets.extend(remote);
            }
            Ok(sockets)
        })
    }

    fn all_rooms(&self) -> BoxFuture<'_, Result<Vec<Str>, AdapterError>> {
        Box::pin(async move {
            let mut rooms = self.local.rooms();
            let answers = self
                .collect(|request| Msg::AllRooms { request }, self.timeout)
                .await?;
            for answer in answers {
                let remote: Vec<Str> =
                    serde_json::from_value(answer).map_err(AdapterError::adapter)?;
                for room in remote {
                    if !rooms.contains(&room) {
                        rooms.push(room);
                    }
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
        let result = packet_data(&event, &args).and_then(|data| {
            let request = replies.map(|sink| {
                let request = self.requests.id();
                self.requests.keep_sink(request, sink);
                request
            });
            self.publish(Msg::ServerSideEmit { data, request })
        });
        Box::pin(async move { result })
    }

    fn server_count(&self) -> BoxFuture<'_, Result<usize, AdapterError>> {
        let count = self.bus.count(&self.nsp);
        Box::pin(async move { count })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        // Leaving the bus drops this node's channel, which ends its receiver task.
        self.bus
            .nodes
            .lock()
            .unwrap()
            .retain(|node| !(node.uid == self.uid && node.nsp == self.nsp));
        Box::pin(async {})
    }
}

/// The task of one node's namespace that answers the other nodes.
struct Receiver {
    uid: u64,
    nsp: String,
    local: LocalNamespace,
    bus: Arc<Bus>,
    requests: Arc<Requests>,
    muted: Arc<AtomicBool>,
    timeout: Duration,
}

impl Receiver {
    fn respond(&self, to: u64, msg: Msg) {
        if !self.muted.load(Ordering::SeqCst) {
            self.bus.respond(self.uid, to, &self.nsp, msg);
        }
    }

    /// A sink that sends this node's answers to request `request` back to node `to`.
    fn reply_sink(&self, to: u64, request: u64, broadcast: bool) -> ReplySink {
        let (bus, uid, nsp, muted) = (
            self.bus.clone(),
            self.uid,
            self.nsp.clone(),
            self.muted.clone(),
        );
        ReplySink::from_fn(move |event| {
            if muted.load(Ordering::SeqCst) {
                return;
            }
            let msg = match event {
                ReplyEvent::ClientCount(count) => Msg::BroadcastClientCount { request, count },
                ReplyEvent::Reply(args) if broadcast => Msg::BroadcastAck {
                    request,
                    data: first_value(&args),
                },
                ReplyEvent::Reply(args) => Msg::ServerSideEmitResponse {
                    request,
                    data: first_value(&args),
                },
                _ => return,
            };
            bus.respond(uid, to, &nsp, msg);
        })
    }

    fn handle(&self, Envelope { from, msg }: Envelope) {
        let opts = |json: serde_json::Value| -> BroadcastOptions {
            serde_json::from_value(json).expect("socket.io opts")
        };
        let rooms = |rooms: Vec<String>| -> Vec<Str> { rooms.into_iter().map(Str::from).collect() };
        match msg {
            Msg::Broadcast {
                data,
                opts: json,
                request,
            } => {
                let opts = opts(json);
                let Some((event, args)) = split(data) else {
                    return;
                };
                // Re-encoded with this node's parser, with this node's ack id.
                let Ok(packet) = self.local.packet(&event, args, request.is_some()) else {
                    return;
                };
                match request {
                    None => {
                        self.local.broadcast(&packet, &opts);
                    }
                    Some(request) => {
                        let deadline = tokio::time::Instant::now()
                            + opts.flags.timeout.unwrap_or(self.timeout);
                        let sink = self.reply_sink(from, request, true).until(deadline);
                        self.local.broadcast_with_ack(&packet, &opts, &sink);
                    }
                }
            }
            Msg::SocketsJoin {
                opts: json,
                rooms: r,
            } => {
                self.local.add_sockets(&opts(json), &rooms(r));
            }
            Msg::SocketsLeave {
                opts: json,
                rooms: r,
            } => {
                self.local.del_sockets(&opts(json), &rooms(r));
            }
            Msg::DisconnectSockets { opts: json, close } => {
                self.local.disconnect_sockets(&opts(json), close);
            }
            Msg::FetchSockets {
                opts: json,
                request,
            } => {
                let sockets = self.local.fetch_sockets(&opts(json));
                let sockets = serde_json::to_value(&sockets).unwrap();
                self.respond(from, Msg::FetchSocketsResponse { request, sockets });
            }
            Msg::AllRooms { request } => {
                let rooms = self.local.rooms().iter().map(|r| r.to_string()).collect();
                self.respond(from, Msg::AllRoomsResponse { request, rooms });
            }
            Msg::ServerSideEmit { data, request } => {
                let Some((event, args)) = split(data) else {
                    return;
                };
                let reply = request.map(|request| self.reply_sink(from, request, false));
                self.local.server_event(&event, args, reply);
            }
            Msg::FetchSocketsResponse { request, sockets } => {
                self.requests.answer(request, sockets);
            }
            Msg::AllRoomsResponse { request, rooms } => {
                self.requests.answer(request, json!(rooms));
            }
            Msg::BroadcastClientCount { request, count } => {
                if let Some(sink) = self.requests.sink(request) {
                    sink.client_count(count);
                }
            }
            Msg::BroadcastAck { request, data } | Msg::ServerSideEmitResponse { request, data } => {
                if let Some(sink) = self.requests.sink(request) {
                    sink.reply(Args::from_values(vec![data]));
                }
            }
        }
    }
}

/// The factory of node `uid`'s adapters: each namespace joins the bus and gets a task that
/// answers the other nodes.
pub fn bus_adapter(bus: Arc<Bus>, uid: u64) -> AdapterFactory {
    Arc::new(move |local: LocalNamespace| {
        let nsp = local.name().map(|n| n.to_string()).unwrap_or_default();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let muted = Arc::new(AtomicBool::new(false));
        bus.nodes.lock().unwrap().push(Node {
            uid,
            nsp: nsp.clone(),
            tx,
            muted: muted.clone(),
        });
        let requests = Arc::new(Requests::default());
        let timeout = Duration::from_secs(5);
        let receiver = Receiver {
            uid,
            nsp: nsp.clone(),
            local: local.clone(),
            bus: bus.clone(),
            requests: requests.clone(),
            muted,
            timeout,
        };
        tokio::spawn(async move {
            while let Some(envelope) = rx.recv().await {
                receiver.handle(envelope);
            }
        });
        Arc::new(BusAdapter {
            uid,
            nsp,
            local,
            bus: bus.clone(),
            requests,
            timeout,
        }) as Arc<dyn Adapter>
    })
}
