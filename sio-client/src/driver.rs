//! The manager's task: it owns the engine connection and the state of every socket, applies
//! the commands of the handles, and calls the handlers. One task, no lock on protocol state.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use sio_protocol::engine::{Frame, TransportKind};
use sio_protocol::socket::{Args, Decoder, DecoderConfig, Encoder, EventName, Packet, PacketData};
use sio_protocol::{AckId, AckTracker, Backoff, Value};
use tokio::sync::oneshot;
use tokio::time::Sleep;

use crate::commands::{CommandReceiver, WeakCommandSender};
use crate::engine::{Engine, EngineEvent};
use crate::error::{ConnectError, DisconnectReason, Error};
use crate::events::SocketEvent;
use crate::manager::{ManagerEvent, ManagerHandler};
use crate::options::Options;
use crate::retry::RetryQueue;
use crate::socket::{AckSender, EventHandler, Message, Shared, lock};
use crate::transport::Endpoint;

/// The message of socket.io-client when a CONNECT reply has no `sid`.
const V2_SERVER: &str = "It seems you are trying to reach a Socket.IO server in v2.x with a v3.x client, but they are not compatible (more information here: https://socket.io/docs/v3/migrating-from-2-x-to-3-0/)";

pub(crate) type AckReply = oneshot::Sender<Result<Args, Error>>;

/// What the handles ask of the task.
pub(crate) enum Command {
    Register {
        shared: Arc<Shared>,
    },
    Connect {
        nsp: String,
    },
    Disconnect {
        nsp: String,
    },
    /// Boxed, as the answer below: the command channel's blocks hold 32 commands each, and
    /// every manager has one (the memory of an idle client).
    Emit(Box<Emit>),
    /// Answers an ack request of the server.
    Ack(Box<(String, u64, Args)>),
    Open,
    Close,
}

/// An emit of a handle.
pub(crate) struct Emit {
    pub(crate) nsp: String,
    pub(crate) event: String,
    pub(crate) args: Args,
    pub(crate) ack: Option<(AckReply, Option<Duration>)>,
    /// Dropped when the transport is not writable (`socket.volatile`).
    pub(crate) volatile: bool,
}

/// The manager's connection state (`_readyState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ready {
    Closed,
    /// Waiting for the handshake, until the deadline (`timeout`).
    Opening {
        deadline: Option<Instant>,
    },
    Open,
}

/// Who gets the answer of an ack.
enum AckTarget {
    /// The user's `emit_with_ack`.
    User(AckReply),
    /// A try of the head of the retry queue, by its sequence number.
    Queue(u64),
}

/// A pending ack of an emit.
struct Waiter {
    target: AckTarget,
    deadline: Option<Instant>,
}

/// An event waiting in a socket's send buffer.
struct Outgoing {
    event: String,
    args: Args,
    id: Option<AckId>,
}

/// The task's state of one socket.
struct Nsp {
    shared: Arc<Shared>,
    /// Subscribed to the manager: connected, or will connect (`socket.active`).
    active: bool,
    connected: bool,
    send_buffer: VecDeque<Outgoing>,
    acks: AckTracker<Waiter>,
    /// The `retries` queue.
    queue: RetryQueue,
}

impl Nsp {
    fn publish(&self, id: Option<String>) {
        let mut view = lock(&self.shared.state);
        view.active = self.active;
        view.connected = self.connected;
        view.id = id;
    }
}

/// How many inputs the task takes in a row before it lets the others run.
const BUDGET: u32 = 64;

pub(crate) struct Driver {
    endpoint: Arc<Endpoint>,
    options: Options,
    commands: CommandReceiver,
    weak: WeakCommandSender,
    /// The one timer, made on first use.
    sleep: Option<Pin<Box<Sleep>>>,
    handlers: Arc<Mutex<Vec<ManagerHandler>>>,
    engine: Option<Engine>,
    ready: Ready,
    backoff: Backoff,
    reconnecting: bool,
    reconnect_at: Option<Instant>,
    skip_reconnect: bool,
    /// Boxed: a map's table has room for 3 entries before it holds 1.
    nsps: HashMap<String, Box<Nsp>>,
    encoder: Encoder,
    decoder: Decoder,
    /// `priorWebsocketSuccess` (for `remember_upgrade`): the last connection used WebSocket.
    prior_websocket_success: bool,
    /// The transport of the current connection attempt.
    opening_transport: TransportKind,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Calls a user handler; a panic in it is logged, not spread to the task.
fn call(f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::error!("a sio-client handler panicked");
    }
}

impl Driver {
    pub(crate) fn new(
        endpoint: Endpoint,
        options: Options,
        commands: CommandReceiver,
        weak: WeakCommandSender,
        handlers: Arc<Mutex<Vec<ManagerHandler>>>,
    ) -> Driver {
        let mut backoff = Backoff::new();
        backoff
            .set_min(options.reconnection_delay)
            .set_max(options.reconnection_delay_max)
            .set_jitter(options.randomization_factor)
            .set_reconnection_attempts(options.reconnection_attempts);
        let parser = options.parser;
        Driver {
            endpoint: Arc::new(endpoint),
            options,
            commands,
            weak,
            sleep: None,
            handlers,
            engine: None,
            ready: Ready::Closed,
            backoff,
            reconnecting: false,
            reconnect_at: None,
            skip_reconnect: false,
            nsps: HashMap::new(),
            encoder: Encoder::new(parser),
            decoder: Decoder::new(DecoderConfig::new().with_parser(parser)),
            prior_websocket_success: false,
            opening_transport: TransportKind::Polling,
        }
    }

    /// The task: the driver itself is the future (an `async fn` would hold it twice, and
    /// `select!` adds its own state: the size of the task is the memory of an idle client).
    pub(crate) fn into_future(mut self) -> impl Future<Output = ()> + Send {
        std::future::poll_fn(move |cx| self.poll_run(cx))
    }

    /// The task's loop: commands, then I/O, then the one timer (in this order of priority).
    /// A timer that is due is handled first, so that a flood of input (a server streaming
    /// packets without end) cannot hold off the heartbeat, the poll deadline or an ack timeout.
    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..BUDGET {
            if self.poll_timeout().is_some_and(|at| at <= now()) {
                self.handle_timeout();
                self.pump();
            }
            match self.commands.poll_recv(cx) {
                Poll::Ready(Some(command)) => {
                    self.handle_command(command);
                    self.pump();
                    // Frames go out as they come, even while more commands wait.
                    if let Some(engine) = self.engine.as_mut() {
                        engine.poll_write(cx);
                    }
                    continue;
                }
                Poll::Ready(None) => {
                    self.finish();
                    return Poll::Ready(());
                }
                Poll::Pending => {}
            }
            if let Some(engine) = self.engine.as_mut()
                && let Poll::Ready(io) = engine.poll_io(cx)
            {
                engine.handle_io(now(), io);
                self.pump();
                continue;
            }
            let Some(deadline) = self.poll_timeout() else {
                return Poll::Pending;
            };
            let deadline = tokio::time::Instant::from_std(deadline);
            let sleep = match self.sleep.as_mut() {
                Some(sleep) => {
                    if sleep.deadline() != deadline {
                        sleep.as_mut().reset(deadline);
                    }
                    sleep
                }
                None => self
                    .sleep
                    .insert(Box::pin(tokio::time::sleep_until(deadline))),
            };
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.handle_timeout();
            self.pump();
        }
        // Others get their turn; this task comes back at once.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Every handle is gone: close politely, and end the event streams.
    fn finish(&mut self) {
        if let Some(engine) = self.engine.as_mut() {
            engine.close(now());
        }
        for n in self.nsps.values() {
            lock(&n.shared.handlers).streams.clear();
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let opening = match self.ready {
            Ready::Opening { deadline } => deadline,
            _ => None,
        };
        let engine = self.engine.as_ref().and_then(Engine::poll_timeout);
        let acks = self.nsps.values().filter_map(|n| n.acks.poll_timeout());
        [opening, engine, self.reconnect_at]
            .into_iter()
            .flatten()
            .chain(acks)
            .min()
    }

    fn handle_timeout(&mut self) {
        let now = now();
        if let Some(engine) = self.engine.as_mut() {
            engine.handle_timeout(now);
        }
        if let Ready::Opening {
            deadline: Some(deadline),
        } = self.ready
            && deadline <= now
        {
            // The connection attempt took too long (`timeout`).
            self.engine = None;
            self.open_failed("timeout".to_owned());
        }
        if self.reconnect_at.is_some_and(|at| at <= now) {
            self.reconnect_at = None;
            if !self.skip_reconnect {
                self.emit_manager(&ManagerEvent::ReconnectAttempt(self.backoff.attempts()));
                self.open();
            }
        }
        let mut expired = Vec::new();
        for (name, nsp) in &mut self.nsps {
            for (id, waiter) in nsp.acks.expire(now) {
                // The packet is also dropped if still buffered (socket.io-client does this).
                nsp.send_buffer.retain(|o| o.id != Some(id));
                expired.push((name.clone(), waiter.target));
            }
        }
        for (name, target) in expired {
            self.settle(&name, target, Err(Error::timeout()));
        }
    }

    /// Takes the engine's events until there are none.
    fn pump(&mut self) {
        while let Some(event) = self.engine.as_mut().and_then(Engine::poll_event) {
            match event {
                EngineEvent::Open => self.on_open(),
                EngineEvent::Message(frame) => self.on_frame(frame),
                EngineEvent::Ping => self.emit_manager(&ManagerEvent::Ping),
                EngineEvent::Upgraded(transport) => {
                    self.prior_websocket_success = transport == TransportKind::WebSocket;
                    self.emit_manager(&ManagerEvent::Upgrade(transport));
                }
                EngineEvent::Closed { reason, error } => {
                    self.engine = None;
                    match self.ready {
                        Ready::Opening { .. } => {
                            let error = error.unwrap_or_else(|| reason.as_str().to_owned());
                            self.open_failed(error);
                        }
                        Ready::Open => {
                            // engine.io-client's `error` before its `close`: the manager
                            // emits it (`onerror`).
                            if let Some(error) = error {
                                self.emit_manager(&ManagerEvent::Error(error));
                            }
                            self.on_close(reason.into());
                        }
                        Ready::Closed => {}
                    }
                    return;
                }
            }
        }
        if self.engine.as_ref().is_some_and(Engine::is_closed) {
            self.engine = None;
        }
    }

    fn emit_manager(&self, event: &ManagerEvent) {
        let handlers: Vec<ManagerHandler> = lock(&self.handlers).clone();
        for handler in handlers {
            call(|| handler(event));
        }
    }

    // ----------------------------------------------------------------------------------------
    // The manager: open, close, reconnect
    // ----------------------------------------------------------------------------------------

    fn open(&mut self) {
        if self.ready != Ready::Closed {
            return;
        }
        self.skip_reconnect = false;
        let transport = if self.options.remember_upgrade
            && self.prior_websocket_success
            && self.options.transports.contains(&TransportKind::WebSocket)
        {
            TransportKind::WebSocket
        } else {
            self.options.transports[0]
        };
        self.opening_transport = transport;
        let now = now();
        self.engine = Some(Engine::connect(
            Arc::clone(&self.endpoint),
            transport,
            self.options.upgrade && self.options.transports.len() > 1,
            self.options.max_payload,
            now,
        ));
        self.ready = Ready::Opening {
            deadline: self.options.timeout.and_then(|t| now.checked_add(t)),
        };
    }

    fn on_open(&mut self) {
        self.ready = Ready::Open;
        self.prior_websocket_success = self.opening_transport == TransportKind::WebSocket;
        self.decoder.reset();
        self.emit_manager(&ManagerEvent::Open);
        if self.reconnecting {
            let attempts = self.backoff.attempts();
            self.reconnecting = false;
            self.backoff.reset();
            self.emit_manager(&ManagerEvent::Reconnect(attempts));
        }
        let active: Vec<String> = self
            .nsps
            .iter()
            .filter(|(_, n)| n.active && !n.connected)
            .map(|(k, _)| k.clone())
            .collect();
        for nsp in active {
            self.send_connect(&nsp);
        }
    }

    /// The connection attempt failed before the handshake.
    fn open_failed(&mut self, error: String) {
        self.ready = Ready::Closed;
        self.prior_websocket_success = false;
        self.emit_manager(&ManagerEvent::Error(error.clone()));
        let failed = ConnectError {
            message: error.clone(),
            data: None,
        };
        let waiting: Vec<Arc<Shared>> = self
            .nsps
            .values()
            .filter(|n| n.active && !n.connected)
            .map(|n| Arc::clone(&n.shared))
            .collect();
        for shared in waiting {
            emit_connect_error(&shared, &failed);
        }
        if self.reconnecting {
            // socket.io-client's order: `reconnect()` (which may emit `reconnect_failed`),
            // then `reconnect_error`.
            self.reconnecting = false;
            self.reconnect();
            self.emit_manager(&ManagerEvent::ReconnectError(error));
        } else if self.options.reconnection && self.backoff.attempts() == 0 {
            // `maybeReconnectOnOpen`: a failed first connection is retried too.
            self.reconnect();
        }
    }

    /// The open connection closed (`onclose`).
    fn on_close(&mut self, reason: DisconnectReason) {
        self.ready = Ready::Closed;
        if reason == DisconnectReason::TransportError {
            self.prior_websocket_success = false;
        }
        self.backoff.reset();
        self.decoder.reset();
        self.emit_manager(&ManagerEvent::Close(reason));
        let names: Vec<String> = self.nsps.keys().cloned().collect();
        for name in names {
            self.socket_closed(&name, reason);
        }
        if self.options.reconnection && !self.skip_reconnect {
            self.reconnect();
        }
    }

    fn reconnect(&mut self) {
        if self.reconnecting || self.skip_reconnect {
            return;
        }
        match self.backoff.next_delay(rand::random::<f64>()) {
            None => {
                self.reconnecting = false;
                self.emit_manager(&ManagerEvent::ReconnectFailed);
            }
            Some(delay) => {
                tracing::debug!("reconnecting in {delay:?}");
                self.reconnecting = true;
                self.reconnect_at = now().checked_add(delay);
            }
        }
    }

    /// `_close`: no more reconnection, close the connection.
    fn close(&mut self) {
        self.skip_reconnect = true;
        self.reconnecting = false;
        self.reconnect_at = None;
        let was_open = self.ready == Ready::Open;
        self.ready = Ready::Closed;
        if was_open {
            self.on_close(DisconnectReason::ForcedClose);
        }
        if let Some(engine) = self.engine.as_mut() {
            engine.close(now());
            if engine.is_closed() {
                // Its last writes are already out (detached); drop the rest.
                self.engine = None;
            }
        }
    }

    /// `_destroy`: close when no socket is active any more.
    fn maybe_close(&mut self) {
        if !self.nsps.values().any(|n| n.active) {
            self.close();
        }
    }

    // ----------------------------------------------------------------------------------------
    // Commands
    // ----------------------------------------------------------------------------------------

    fn handle_command(&mut self, command: Command) {
        match command {
            Command::Register { shared } => {
                self.nsps.entry(shared.nsp.clone()).or_insert_with(|| {
                    Box::new(Nsp {
                        shared,
                        active: false,
                        connected: false,
                        send_buffer: VecDeque::new(),
                        acks: AckTracker::new(),
                        queue: RetryQueue::default(),
                    })
                });
            }
            Command::Connect { nsp } => {
                let Some(n) = self.nsps.get_mut(&nsp) else {
                    return;
                };
                if n.connected {
                    return;
                }
                // Already waiting for the server's answer: a second CONNECT would make the
                // server close the whole connection ("invalid state").
                let waiting = n.active && self.ready == Ready::Open;
                n.active = true;
                n.publish(None);
                match self.ready {
                    Ready::Open if !waiting => self.send_connect(&nsp),
                    Ready::Closed if !self.reconnecting => self.open(),
                    _ => {}
                }
            }
            Command::Disconnect { nsp } => {
                let Some(n) = self.nsps.get_mut(&nsp) else {
                    return;
                };
                if n.connected {
                    self.write(&Packet::new(nsp.clone(), PacketData::Disconnect));
                }
                if let Some(n) = self.nsps.get_mut(&nsp) {
                    n.active = false;
                }
                self.socket_closed(&nsp, DisconnectReason::IoClientDisconnect);
                self.maybe_close();
            }
            Command::Emit(emit) => {
                let Emit {
                    nsp,
                    event,
                    args,
                    ack,
                    volatile,
                } = *emit;
                self.emit(&nsp, event, args, ack, volatile);
            }
            Command::Ack(ack) => {
                let (nsp, id, args) = *ack;
                if self.ready == Ready::Open {
                    self.write(&Packet::ack(nsp, args, id));
                }
            }
            Command::Open => {
                if !self.reconnecting {
                    self.open();
                }
            }
            Command::Close => self.close(),
        }
    }

    fn emit(
        &mut self,
        nsp: &str,
        event: String,
        args: Args,
        ack: Option<(AckReply, Option<Duration>)>,
        volatile: bool,
    ) {
        // `_hasPingExpired`: a heartbeat deadline that passed unnoticed closes the connection
        // first, so that the packet is buffered rather than lost.
        if self.poll_timeout().is_some_and(|at| at <= now()) {
            self.handle_timeout();
            self.pump();
        }
        let (reply, timeout) = match ack {
            Some((reply, timeout)) => (Some(reply), timeout.or(self.options.ack_timeout)),
            None => (None, self.options.ack_timeout),
        };
        if self.retries().is_some() && !volatile {
            let Some(n) = self.nsps.get_mut(nsp) else {
                return;
            };
            n.queue.push(event, args, timeout, reply);
            self.drain_queue(nsp, false);
            return;
        }
        let target = reply.map(|reply| (AckTarget::User(reply), timeout));
        self.emit_packet(nsp, event, args, target, volatile);
    }

    /// `retries`, when on (0 is off, as in socket.io-client).
    fn retries(&self) -> Option<u32> {
        self.options.retries.filter(|&n| n > 0)
    }

    /// Sends the head of the retry queue if nothing is in flight (`_drainQueue`).
    fn drain_queue(&mut self, nsp: &str, force: bool) {
        let Some(n) = self.nsps.get_mut(nsp) else {
            return;
        };
        if !n.connected {
            return;
        }
        if let Some(next) = n.queue.next_try(force) {
            let target = Some((AckTarget::Queue(next.seq), next.timeout));
            self.emit_packet(nsp, next.event, next.args, target, false);
        }
    }

    /// The end of one try of the retry queue's head.
    fn settle_queue(&mut self, nsp: &str, seq: u64, result: Result<Args, Error>) {
        let retries = self.retries().unwrap_or(0);
        let Some(n) = self.nsps.get_mut(nsp) else {
            return;
        };
        if let Some((reply, result)) = n.queue.settle(seq, result, retries)
            && let Some(reply) = reply
        {
            let _ = reply.send(result);
        }
        self.drain_queue(nsp, false);
    }

    /// Gives an ack its answer.
    fn settle(&mut self, nsp: &str, target: AckTarget, result: Result<Args, Error>) {
        match target {
            AckTarget::User(reply) => {
                let _ = reply.send(result);
            }
            AckTarget::Queue(seq) => self.settle_queue(nsp, seq, result),
        }
    }

    /// `emit` proper: sent, buffered while disconnected, or dropped (volatile, transport not
    /// writable).
    fn emit_packet(
        &mut self,
        nsp: &str,
        event: String,
        args: Args,
        ack: Option<(AckTarget, Option<Duration>)>,
        volatile: bool,
    ) {
        let writable = self.engine.as_ref().is_some_and(Engine::is_writable);
        let Some(n) = self.nsps.get_mut(nsp) else {
            return;
        };
        let id = ack.map(|(target, timeout)| {
            let id = n.acks.next_id();
            let deadline = timeout.and_then(|t| now().checked_add(t));
            n.acks.insert(id, deadline, Waiter { target, deadline });
            id
        });
        if volatile && !writable {
            tracing::debug!("volatile packet dropped: the transport is not writable");
            return;
        }
        let outgoing = Outgoing { event, args, id };
        if n.connected {
            notify_outgoing(&n.shared, &outgoing.event, &outgoing.args);
            let packet = Packet::event(nsp.to_owned(), outgoing.event, outgoing.args, id);
            self.write(&packet);
        } else {
            n.send_buffer.push_back(outgoing);
        }
    }

    /// Encodes a packet onto the engine (dropped when there is no engine).
    fn write(&mut self, packet: &Packet) {
        let Some(engine) = self.engine.as_mut() else {
            return;
        };
        match self.encoder.encode(packet) {
            Ok(encoded) => {
                let now = now();
                for frame in encoded.into_frames() {
                    engine.send(now, frame);
                }
            }
            Err(e) => tracing::warn!("cannot encode a packet: {e}"),
        }
    }

    fn send_connect(&mut self, nsp: &str) {
        let Some(n) = self.nsps.get(nsp) else {
            return;
        };
        let auth = lock(&n.shared.auth).clone();
        let mut payload = None;
        if let Some(auth) = auth {
            call(|| payload = Some(auth()));
        }
        self.write(&Packet::new(nsp.to_owned(), PacketData::Connect(payload)));
    }

    // ----------------------------------------------------------------------------------------
    // Packets from the server
    // ----------------------------------------------------------------------------------------

    fn on_frame(&mut self, frame: Frame) {
        match self.decoder.decode(frame) {
            Ok(Some(packet)) => self.on_packet(packet),
            Ok(None) => {}
            Err(e) => {
                // `ondata` → `onclose("parse error")`, then reconnect.
                tracing::debug!("undecodable packet: {e}");
                if let Some(engine) = self.engine.as_mut() {
                    engine.close(now());
                }
                self.engine = None;
                if self.ready == Ready::Open {
                    self.on_close(DisconnectReason::ParseError);
                }
            }
        }
    }

    fn on_packet(&mut self, packet: Packet) {
        let name = packet.nsp.to_string();
        let Some(n) = self.nsps.get_mut(&name) else {
            return;
        };
        if !n.active {
            return;
        }
        match packet.data {
            PacketData::Connect(payload) => {
                let sid = payload
                    .as_ref()
                    .and_then(|p| p.get("sid"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                match sid {
                    Some(sid) => self.on_connect(&name, sid),
                    None => {
                        let shared = Arc::clone(&n.shared);
                        emit_connect_error(
                            &shared,
                            &ConnectError {
                                message: V2_SERVER.to_owned(),
                                data: None,
                            },
                        );
                    }
                }
            }
            PacketData::ConnectError(value) => {
                // The socket is destroyed: no automatic retry for this namespace.
                n.active = false;
                n.publish(None);
                let shared = Arc::clone(&n.shared);
                let error = connect_error(value);
                emit_connect_error(&shared, &error);
                self.maybe_close();
            }
            PacketData::Disconnect => {
                n.active = false;
                self.socket_closed(&name, DisconnectReason::IoServerDisconnect);
                self.maybe_close();
            }
            PacketData::Event {
                name: event,
                args,
                id,
            } => {
                if n.connected {
                    let shared = Arc::clone(&n.shared);
                    self.on_event(&shared, event, args, id);
                }
            }
            PacketData::Ack { args, id } => {
                if let Some(waiter) = n.acks.remove(id) {
                    self.settle(&name, waiter.target, Ok(args));
                }
            }
        }
    }

    fn on_connect(&mut self, name: &str, sid: String) {
        let Some(n) = self.nsps.get_mut(name) else {
            return;
        };
        n.connected = true;
        n.publish(Some(sid));
        let buffered: Vec<Outgoing> = n.send_buffer.drain(..).collect();
        let shared = Arc::clone(&n.shared);
        let handlers = lock(&shared.handlers).connect.clone();
        for handler in handlers {
            call(|| handler());
        }
        shared.publish(SocketEvent::Connect);
        // `emitBuffered`, after the `connect` handlers as in socket.io-client.
        for o in buffered {
            notify_outgoing(&shared, &o.event, &o.args);
            let packet = Packet::event(name.to_owned(), o.event, o.args, o.id);
            self.write(&packet);
        }
        // The head of the retry queue goes again (`_drainQueue(true)`).
        self.drain_queue(name, true);
    }

    fn on_event(&self, shared: &Shared, event: EventName, args: Args, id: Option<u64>) {
        let ack = id.and_then(|id| {
            Some(AckSender {
                nsp: shared.nsp.clone(),
                id,
                sent: Arc::new(AtomicBool::new(false)),
                commands: self.weak.upgrade()?,
            })
        });
        let message = Message {
            event: event.as_str().to_owned(),
            args,
            ack,
        };
        let (any, own) = {
            let mut handlers = lock(&shared.handlers);
            let own: Vec<EventHandler> = match handlers.events.get_mut(message.event()) {
                Some(listeners) => {
                    let own = listeners.iter().map(|l| Arc::clone(&l.handler)).collect();
                    // `once` handlers are removed before they run.
                    listeners.retain(|l| !l.once);
                    if listeners.is_empty() {
                        handlers.events.remove(message.event());
                    }
                    own
                }
                None => Vec::new(),
            };
            (handlers.any.clone(), own)
        };
        for handler in any.iter().chain(own.iter()) {
            let message = message.clone();
            call(|| handler(message));
        }
        shared.publish(SocketEvent::Message(message));
    }

    /// `onclose` of a socket: disconnected, pending acks fail (except for buffered packets).
    fn socket_closed(&mut self, name: &str, reason: DisconnectReason) {
        let Some(n) = self.nsps.get_mut(name) else {
            return;
        };
        let was_connected = n.connected;
        n.connected = false;
        n.publish(None);
        // `_clearAcks`: acks of packets still in the send buffer survive.
        let pending: Vec<(AckId, Waiter)> = n.acks.drain().collect();
        let mut failed = Vec::new();
        for (id, waiter) in pending {
            if n.send_buffer.iter().any(|o| o.id == Some(id)) {
                let deadline = waiter.deadline;
                n.acks.insert(id, deadline, waiter);
            } else {
                failed.push(waiter.target);
            }
        }
        let shared = Arc::clone(&n.shared);
        for target in failed {
            self.settle(name, target, Err(Error::disconnected()));
        }
        if was_connected {
            let handlers = lock(&shared.handlers).disconnect.clone();
            for handler in handlers {
                call(|| handler(reason));
            }
            shared.publish(SocketEvent::Disconnect(reason));
        }
    }
}

/// The `on_any_outgoing` handlers, for an event about to be written (`notifyOutgoingListeners`).
fn notify_outgoing(shared: &Shared, event: &str, args: &Args) {
    let handlers = lock(&shared.handlers).any_outgoing.clone();
    for handler in handlers {
        call(|| handler(event, args));
    }
}

fn emit_connect_error(shared: &Shared, error: &ConnectError) {
    let handlers = lock(&shared.handlers).connect_error.clone();
    for handler in handlers {
        call(|| handler(error));
    }
    shared.publish(SocketEvent::ConnectError(error.clone()));
}

/// A CONNECT_ERROR payload: `{"message": ..., "data"?: ...}` (or a plain string).
fn connect_error(value: Value) -> ConnectError {
    match value {
        Value::String(message) => ConnectError {
            message,
            data: None,
        },
        value => ConnectError {
            message: value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            data: value.get("data").cloned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_error_payloads() {
        let v: Value = serde_json::json!({"message": "nope", "data": {"code": 7}}).into();
        let e = connect_error(v);
        assert_eq!(e.message, "nope");
        assert_eq!(
            e.data.and_then(|d| d.get("code").and_then(Value::as_u64)),
            Some(7)
        );
        let e = connect_error(Value::from("plain"));
        assert_eq!((e.message.as_str(), e.data), ("plain", None));
        let e = connect_error(Value::Null);
        assert_eq!(e.message, "");
    }
}
