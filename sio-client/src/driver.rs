//! The manager's task: it drives one [`ClientSession`] (socket.io-client's Manager and
//! Sockets, sans IO, in `sio_protocol`) with the Engine.IO connection, the codec, the clock and
//! the user's handlers. One task, no lock on protocol state.
//!
//! The session decides: namespace CONNECT and DISCONNECT, the send and receive buffers, acks
//! and their timeouts, the `retries` queue, the connect timeout, reconnection with backoff,
//! and connection state recovery. The driver carries out its work:
//!
//! - [`ClientEvent::OpenEngine`] and [`ClientEvent::CloseEngine`]: open (choosing the first
//!   transport, `remember_upgrade`) or close the [`Engine`];
//! - the engine's events go into the session: its handshake (`handle_open`), its failure
//!   before the handshake (`handle_open_failed`), its error and close (`handle_error`, then
//!   `handle_close`), each Socket.IO packet the decoder completes (`handle_packet`);
//! - [`ClientEvent::AuthNeeded`]: the socket's auth payload (`send_connect`);
//! - the session's packets are encoded and written (after the `on_any_outgoing` handlers, for
//!   an EVENT), its events go to the handlers and the event streams, and each socket's
//!   readable state ([`View`]) is copied from the session after each input that may change it.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use sio_protocol::engine::{Frame, TransportKind};
use sio_protocol::socket::{
    Args, ClientConfig, ClientEvent, ClientSession, Decoder, DecoderConfig, Encoder, EventName,
    Packet, PacketData,
};
use tokio::time::Sleep;

use crate::commands::{AckReply, Command, CommandReceiver, Emit, WeakCommandSender};
use crate::engine::{Engine, EngineEvent};
use crate::error::{DisconnectReason, Error};
use crate::events::{ManagerEvent, SocketEvent};
use crate::message::{AckSender, Message};
use crate::options::Options;
use crate::shared::{BoxedHandler, HandlerFuture, Hook, Registry, Shared, hooks};
use crate::sync::lock;
use crate::transport::endpoint::Endpoint;

/// How many inputs the task takes in a row before it lets the others run.
const BUDGET: u32 = 64;

/// What the driver keeps of the [`Options`] (the session has its own part; the whole options
/// would cost every idle manager their allocations).
#[derive(Debug, Clone, Copy)]
struct EngineOptions {
    /// `transports[0]`: the transport of the handshake.
    first: TransportKind,
    /// WebSocket is among the transports (`remember_upgrade` may start on it).
    websocket: bool,
    /// Probe and upgrade after a polling handshake (`upgrade`, and more than one transport).
    upgrade: bool,
    remember_upgrade: bool,
    max_payload: Option<usize>,
}

pub(crate) struct Driver {
    endpoint: Arc<Endpoint>,
    options: EngineOptions,
    commands: CommandReceiver,
    weak: WeakCommandSender,
    /// The one timer, made on first use.
    sleep: Option<Pin<Box<Sleep>>>,
    registry: Arc<Registry>,
    /// The error of the engine that just failed, with its cause, for the session's events
    /// that report it (by its message) until the session has no more events.
    engine_error: Option<Error>,
    /// The manager `error` the session just reported, for the `connect_error`s that follow.
    manager_error: Option<Error>,
    engine: Option<Engine>,
    session: ClientSession<AckReply>,
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

/// The session's settings, from the manager's options.
fn session_config(options: &Options) -> ClientConfig {
    ClientConfig::default()
        .reconnection(options.reconnection)
        .reconnection_attempts(options.reconnection_attempts)
        .reconnection_delay(options.reconnection_delay)
        .reconnection_delay_max(options.reconnection_delay_max)
        .randomization_factor(options.randomization_factor)
        .timeout(options.timeout)
        .ack_timeout(options.ack_timeout)
        .retries(options.retries)
        .jitter_seed(rand::random())
}

impl Driver {
    pub(crate) fn new(
        endpoint: Arc<Endpoint>,
        options: &Options,
        commands: CommandReceiver,
        weak: WeakCommandSender,
        registry: Arc<Registry>,
    ) -> Driver {
        let parser = options.parser;
        let first = options
            .transports
            .first()
            .copied()
            .unwrap_or(TransportKind::Polling);
        Driver {
            endpoint,
            options: EngineOptions {
                first,
                websocket: options.transports.contains(&TransportKind::WebSocket),
                upgrade: options.upgrade && options.transports.len() > 1,
                remember_upgrade: options.remember_upgrade,
                max_payload: options.max_payload,
            },
            commands,
            weak,
            sleep: None,
            registry,
            engine_error: None,
            manager_error: None,
            engine: None,
            session: ClientSession::new(session_config(options), now()),
            encoder: Encoder::new(parser),
            decoder: Decoder::new(DecoderConfig::new().with_parser(parser)),
            prior_websocket_success: false,
            opening_transport: first,
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
            self.handle_due_timer();
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
                self.release_memory();
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
                self.release_memory();
                return Poll::Pending;
            }
            self.handle_timeout();
        }
        // Others get their turn; this task comes back at once.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// The task goes idle: the queues drained while it was busy keep their capacity until
    /// now (one allocation per burst rather than one per packet), and are freed here, so that
    /// an idle connection holds no queue memory.
    fn release_memory(&mut self) {
        self.session.release_memory();
        if let Some(engine) = self.engine.as_mut() {
            engine.release_memory();
        }
    }

    /// Every handle is gone: close politely, and end the event streams.
    fn finish(&mut self) {
        if let Some(engine) = self.engine.as_mut() {
            engine.close(now());
        }
        for shared in lock(&self.registry.sockets).iter() {
            lock(&shared.handlers).remove(|hook| matches!(hook, Hook::Stream(_)));
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let engine = self.engine.as_ref().and_then(Engine::poll_timeout);
        [self.session.poll_timeout(), engine]
            .into_iter()
            .flatten()
            .min()
    }

    /// Handles the timer if it is due (socket.io-client's `_hasPingExpired` before an emit: a
    /// heartbeat deadline that passed unnoticed closes the connection first, so that the
    /// packet is buffered rather than lost).
    fn handle_due_timer(&mut self) {
        if self.poll_timeout().is_some_and(|at| at <= now()) {
            self.handle_timeout();
        }
    }

    fn handle_timeout(&mut self) {
        let now = now();
        if let Some(engine) = self.engine.as_mut() {
            engine.handle_timeout(now);
        }
        self.session.handle_timeout(now);
        self.sync_views();
        self.pump();
    }

    /// Takes the session's and the engine's output until there is none: the session's first
    /// (what the last input caused), then each engine event, one at a time.
    fn pump(&mut self) {
        loop {
            self.drain_session();
            let Some(event) = self.engine.as_mut().and_then(Engine::poll_event) else {
                break;
            };
            self.on_engine_event(event);
        }
        if self.engine.as_ref().is_some_and(Engine::is_closed) {
            self.engine = None;
        }
    }

    /// Writes the session's packets and acts on its events, until it has none.
    fn drain_session(&mut self) {
        loop {
            while let Some(packet) = self.session.poll_transmit() {
                self.transmit(&packet);
            }
            let Some(event) = self.session.poll_event() else {
                self.engine_error = None;
                self.manager_error = None;
                return;
            };
            self.on_session_event(event);
        }
    }

    fn on_engine_event(&mut self, event: EngineEvent) {
        let now = now();
        match event {
            EngineEvent::Open => {
                self.prior_websocket_success = self.opening_transport == TransportKind::WebSocket;
                self.decoder.reset();
                self.session.handle_open(now);
            }
            EngineEvent::Message(frame) => self.on_frame(now, frame),
            EngineEvent::Ping => self.emit_manager(&ManagerEvent::Ping),
            EngineEvent::Upgraded(transport) => {
                self.prior_websocket_success = transport == TransportKind::WebSocket;
                self.emit_manager(&ManagerEvent::Upgrade(transport));
            }
            EngineEvent::Closed { reason, error } => {
                self.engine = None;
                if self.session.is_open() {
                    if reason == sio_protocol::engine::CloseReason::TransportError {
                        self.prior_websocket_success = false;
                    }
                    self.decoder.reset();
                    // engine.io-client's `error` before its `close`: the manager emits it
                    // (`onerror`).
                    if let Some(error) = error {
                        self.session.handle_error(now, error.to_string());
                        self.engine_error = Some(error);
                    }
                    self.session.handle_close(now, reason.into());
                } else {
                    // An attempt failed before its handshake (or a closed session's engine
                    // ended, which the session ignores).
                    self.prior_websocket_success = false;
                    match error {
                        Some(error) => {
                            self.session.handle_open_failed(now, error.to_string());
                            self.engine_error = Some(error);
                        }
                        None => self.session.handle_open_failed(now, reason.as_str()),
                    }
                }
                self.sync_views();
            }
        }
    }

    /// The error the session reports by its `message`: the failed engine's (which keeps the
    /// cause), or one made from the message alone (`"timeout"`, a close reason).
    fn session_error(&self, message: String) -> Error {
        match &self.engine_error {
            Some(error) if error.to_string() == message => error.clone(),
            _ => Error::from_session(message),
        }
    }

    fn emit_manager(&self, event: &ManagerEvent) {
        let handlers = lock(&self.registry.handlers).clone();
        for handler in handlers {
            call(|| handler(event));
        }
    }

    /// Copies each socket's state from the session into its
    /// [`View`](crate::shared::View).
    fn sync_views(&self) {
        for shared in lock(&self.registry.sockets).iter() {
            let nsp = shared.nsp.as_str();
            let id = self.session.sid(nsp).map(|sid| sid.as_str());
            let mut view = lock(&shared.state);
            if view.id.as_deref() != id {
                view.id = id.map(str::to_owned);
            }
            view.connected = self.session.is_connected(nsp);
            view.active = self.session.is_active(nsp);
            view.recovered = self.session.recovered(nsp);
        }
    }

    // ----------------------------------------------------------------------------------------
    // The session's work
    // ----------------------------------------------------------------------------------------

    fn on_session_event(&mut self, event: ClientEvent<AckReply>) {
        let now = now();
        match event {
            ClientEvent::OpenEngine => self.open_engine(now),
            ClientEvent::CloseEngine => {
                if let Some(engine) = self.engine.as_mut() {
                    engine.close(now);
                    if engine.is_closed() {
                        // Its last writes are already out (detached); drop the rest.
                        self.engine = None;
                    }
                }
            }
            ClientEvent::Open => self.emit_manager(&ManagerEvent::Open),
            ClientEvent::Error(message) => {
                let error = self.session_error(message);
                self.manager_error = Some(error.clone());
                self.emit_manager(&ManagerEvent::Error(error));
            }
            ClientEvent::Close(reason) => {
                // The session has decided, as it closed, whether a reconnection follows.
                tracing::debug!(
                    url = %self.endpoint.base(),
                    %reason,
                    reconnecting = self.session.is_reconnecting(),
                    "connection closed"
                );
                self.emit_manager(&ManagerEvent::Close(reason));
            }
            ClientEvent::ReconnectAttempt(n) => {
                self.emit_manager(&ManagerEvent::ReconnectAttempt(n));
            }
            ClientEvent::Reconnect(n) => self.emit_manager(&ManagerEvent::Reconnect(n)),
            ClientEvent::ReconnectError(message) => {
                let error = self.session_error(message);
                self.emit_manager(&ManagerEvent::ReconnectError(error));
            }
            ClientEvent::ReconnectFailed => self.emit_manager(&ManagerEvent::ReconnectFailed),
            ClientEvent::AuthNeeded { nsp } => {
                let auth = self
                    .registry
                    .socket(&nsp)
                    .and_then(|shared| lock(&shared.auth).clone());
                let mut payload = None;
                if let Some(auth) = auth {
                    call(|| payload = Some(auth()));
                }
                self.session.send_connect(now, &nsp, payload);
            }
            ClientEvent::Connect { nsp, .. } => {
                if let Some(shared) = self.registry.socket(&nsp) {
                    let handlers = hooks!(lock(&shared.handlers), Hook::Connect);
                    for handler in handlers {
                        call(|| handler());
                    }
                    shared.publish(SocketEvent::Connect);
                }
            }
            ClientEvent::ConnectError { nsp, message, data } => {
                // After the manager's `error`: the connection failed. Otherwise the server
                // refused the namespace.
                let error = match &self.manager_error {
                    Some(error) if data.is_none() && error.to_string() == message => error.clone(),
                    _ => Error::rejected(message, data),
                };
                if let Some(shared) = self.registry.socket(&nsp) {
                    emit_connect_error(&shared, &error);
                }
            }
            ClientEvent::Disconnect { nsp, reason } => {
                if let Some(shared) = self.registry.socket(&nsp) {
                    emit_disconnect(&shared, reason);
                }
            }
            ClientEvent::Event {
                nsp,
                name,
                args,
                id,
            } => {
                if let Some(shared) = self.registry.socket(&nsp) {
                    self.on_event(&shared, name, args, id);
                }
            }
            ClientEvent::Ack { value, result, .. } => {
                let _ = value.send(result.map_err(Error::ack_failed));
            }
            other => tracing::debug!("unhandled session event {other:?}"),
        }
    }

    /// Opens an Engine.IO connection (`manager.open()` → `new Engine(...)`).
    fn open_engine(&mut self, now: Instant) {
        let transport = if self.options.remember_upgrade
            && self.prior_websocket_success
            && self.options.websocket
        {
            TransportKind::WebSocket
        } else {
            self.options.first
        };
        self.opening_transport = transport;
        self.engine = Some(Engine::connect(
            Arc::clone(&self.endpoint),
            transport,
            self.options.upgrade,
            self.options.max_payload,
            now,
        ));
    }

    /// Encodes a packet of the session onto the engine; an EVENT goes through the
    /// `on_any_outgoing` handlers first (`notifyOutgoingListeners`).
    fn transmit(&mut self, packet: &Packet) {
        if let PacketData::Event { name, args, .. } = &packet.data
            && let Some(shared) = self.registry.socket(&packet.nsp)
        {
            notify_outgoing(&shared, name.as_str(), args);
        }
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

    // ----------------------------------------------------------------------------------------
    // Commands
    // ----------------------------------------------------------------------------------------

    fn handle_command(&mut self, command: Command) {
        self.handle_due_timer();
        let now = now();
        match command {
            Command::Connect { nsp } => {
                self.session.connect(now, &nsp);
                self.sync_views();
            }
            Command::Disconnect { nsp } => {
                self.session.disconnect(now, &nsp);
                self.sync_views();
            }
            Command::Emit(emit) => {
                let Emit {
                    nsp,
                    event,
                    args,
                    ack,
                    volatile,
                } = *emit;
                let mut emit = sio_protocol::socket::Emit::new(event, args);
                if let Some((reply, timeout)) = ack {
                    emit = emit.with_ack(reply);
                    if let Some(timeout) = timeout {
                        emit = emit.timeout(timeout);
                    }
                }
                if volatile {
                    emit = emit.volatile();
                }
                let writable = self.engine.as_ref().is_some_and(Engine::is_writable);
                self.session.emit(now, &nsp, emit, writable);
            }
            Command::Ack(ack) => {
                let (nsp, id, args) = *ack;
                self.session.ack(&nsp, id, args);
            }
            Command::Open => self.session.open(now),
            Command::Close => {
                self.session.close(now);
                self.sync_views();
            }
        }
    }

    // ----------------------------------------------------------------------------------------
    // Packets from the server
    // ----------------------------------------------------------------------------------------

    fn on_frame(&mut self, now: Instant, frame: Frame) {
        match self.decoder.decode(frame) {
            Ok(Some(packet)) => {
                // Only these change what a socket's handles read.
                let changes_state = !matches!(
                    packet.data,
                    PacketData::Event { .. } | PacketData::Ack { .. }
                );
                self.session.handle_packet(now, packet);
                if changes_state {
                    self.sync_views();
                }
            }
            Ok(None) => {}
            Err(e) => {
                // `ondata` → `onclose("parse error")`, then reconnect.
                tracing::debug!("undecodable packet: {e}");
                if let Some(engine) = self.engine.as_mut() {
                    engine.close(now);
                }
                self.engine = None;
                self.decoder.reset();
                self.session.handle_close(now, DisconnectReason::ParseError);
                self.sync_views();
            }
        }
    }

    fn on_event(&self, shared: &Shared, event: EventName, args: Args, id: Option<u64>) {
        let ack = match id.and_then(|id| Some((id, self.weak.upgrade()?))) {
            Some((id, commands)) => AckSender::new(shared.nsp.clone(), id, commands),
            None => AckSender::none(),
        };
        let message = Message {
            event: event.as_shared().clone(),
            args,
            ack,
        };
        let (any, own) = {
            let mut handlers = lock(&shared.handlers);
            let own: Vec<BoxedHandler> = match handlers.events.get_mut(message.event()) {
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
            let any = hooks!(handlers, Hook::Any);
            (any, own)
        };
        for handler in &any {
            let message = message.clone();
            call(|| handler(message));
        }
        for handler in &own {
            let message = message.clone();
            call(|| match handler(message) {
                Ok(None) => {}
                Ok(Some(future)) => run(future),
                Err(error) => handler_error(shared, &error),
            });
        }
        shared.publish(SocketEvent::Message(message));
    }
}

/// Polls an async handler's future once, here (what it does before it first waits happens in
/// the order of the events); moves it to a task of its own if it waits, so that it never holds
/// up the manager.
fn run(mut future: HandlerFuture) {
    let mut cx = Context::from_waker(Waker::noop());
    if future.as_mut().poll(&mut cx).is_pending() {
        // The task polls it again at once, with its own waker: a future registers the
        // current waker at each poll, so the no-op one of the first poll is replaced.
        tokio::spawn(future);
    }
}

/// A handler could not be called: a warning, and the socket's `on_error` hooks.
fn handler_error(shared: &Shared, error: &Error) {
    tracing::warn!(
        nsp = %shared.nsp,
        event = error.event().unwrap_or_default(),
        "{error}: {}",
        std::error::Error::source(error).map(ToString::to_string).unwrap_or_default()
    );
    let hooks = hooks!(lock(&shared.handlers), Hook::Error);
    for hook in hooks {
        let error = error.clone();
        call(|| hook(error));
    }
}

/// The `on_any_outgoing` handlers, for an event about to be written (`notifyOutgoingListeners`).
fn notify_outgoing(shared: &Shared, event: &str, args: &Args) {
    let handlers = hooks!(lock(&shared.handlers), Hook::AnyOutgoing);
    for handler in handlers {
        call(|| handler(event, args));
    }
}

fn emit_connect_error(shared: &Shared, error: &Error) {
    let handlers = hooks!(lock(&shared.handlers), Hook::ConnectError);
    for handler in handlers {
        let error = error.clone();
        call(|| handler(error));
    }
    shared.publish(SocketEvent::ConnectError(error.clone()));
}

fn emit_disconnect(shared: &Shared, reason: DisconnectReason) {
    let handlers = hooks!(lock(&shared.handlers), Hook::Disconnect);
    for handler in handlers {
        call(|| handler(reason));
    }
    shared.publish(SocketEvent::Disconnect(reason));
}
