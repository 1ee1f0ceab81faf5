//! One Engine.IO connection's application ([`ClientApp`], driven by the connection's session
//! task): decodes its packets, feeds them to the connection's session, connects its sockets
//! (CONNECT, middlewares, recovery) and routes their events to them.
//!
//! What the sockets of the connection share (the session, the writes, the pending acks) is
//! [`ClientShared`], one layer down in `conn.rs`, so that sockets do not depend on this
//! module.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures_util::FutureExt;
use sio_protocol::socket::{
    ConnectRequest, Decoder, DecoderConfig, ProtocolVersion as SocketProtocol, RecoveryRequest,
    ServerDisconnectReason, ServerEvent,
};
use sio_protocol::{Str, Value};
use tokio::time::Sleep;

use super::config::SocketIoConfig;
use super::conn::{ClientShared, Events, now};
use super::error::Error;
use super::handshake::Handshake;
use super::namespace::Namespace;
use super::recovery::{Finish, RestoredSession, generate_pid};
use super::socket::{ConnectMiddleware, Incoming, Socket};
use crate::engine::connection::ConnectionSender;
use crate::engine::message::{DisconnectReason, Message};
use crate::engine::session_task::{SessionApp, panic_message};

/// The bytes one connection holds in a binary packet waiting for its attachments, counted in
/// the server-wide total as well; given back when the packet completes or fails, and when
/// the connection goes (drop).
#[derive(Debug)]
struct PendingBytes {
    total: Arc<AtomicUsize>,
    held: usize,
}

/// Which bound a pending binary packet went over.
#[derive(Debug, Clone, Copy)]
enum OverBound {
    Connection(usize),
    Server(usize),
}

impl PendingBytes {
    /// Counts `n` more bytes, unless that would go past `max` for this connection or
    /// `max_total` across the server (the total never goes past it).
    fn add(&mut self, n: usize, max: usize, max_total: usize) -> Result<(), OverBound> {
        let held = self.held.saturating_add(n);
        if held > max {
            return Err(OverBound::Connection(max));
        }
        self.total
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |total| {
                total.checked_add(n).filter(|&total| total <= max_total)
            })
            .map_err(|_| OverBound::Server(max_total))?;
        self.held = held;
        Ok(())
    }

    fn release(&mut self) {
        if self.held > 0 {
            self.total.fetch_sub(self.held, Ordering::AcqRel);
            self.held = 0;
        }
    }
}

impl Drop for PendingBytes {
    fn drop(&mut self) {
        self.release();
    }
}

/// The reason of the sockets of a connection that ended for `reason`.
fn engine_reason(reason: DisconnectReason) -> ServerDisconnectReason {
    match reason {
        DisconnectReason::Engine(reason) => reason.into(),
        _ => ServerDisconnectReason::TransportError,
    }
}

/// Work a [`ClientApp`] waits for before it reads the next message.
type Busy = Pin<Box<dyn Future<Output = Busied> + Send>>;

/// What the work of [`Busy`] ended with.
enum Busied {
    /// A CONNECT was answered.
    Connected,
    /// An event found room in its socket's queue, or the connection closed meanwhile.
    Queued(Option<ServerDisconnectReason>),
}

/// What a connection asks of its server: the options, the namespace a CONNECT joins, the
/// server-wide middlewares, the count of pending attachment bytes, the list of open
/// connections (for `close`). [`SocketIo`](super::SocketIo) implements it, one layer up: the
/// server makes the connections' applications, not the other way round.
pub(crate) trait ClientHost: Clone + Send + Sync + 'static {
    /// The options.
    fn config(&self) -> &SocketIoConfig;
    /// Whether the server is closing.
    fn is_closed(&self) -> bool;
    /// The namespace a CONNECT to `name` joins, if any (a dynamic one is created).
    fn resolve(&self, name: &str, auth: &Value) -> Option<Namespace>;
    /// The connect middlewares of every namespace, run before the namespace's own.
    fn middlewares(&self) -> Vec<ConnectMiddleware>;
    /// The bytes of the binary packets waiting for their attachments, on every connection.
    fn pending_attachments(&self) -> &Arc<AtomicUsize>;
    /// A connection opened.
    fn register_client(&self, client: &Arc<ClientShared<Socket>>);
    /// A connection closed.
    fn unregister_client(&self, client: &Arc<ClientShared<Socket>>);
}

/// The Socket.IO side of one connection, driven by the connection's session task
/// ([`SessionApp`]): it has no task of its own. It feeds the decoded packets to the
/// connection's [`ServerSession`] and carries out what the session asks for; its rare waits
/// (a CONNECT and its middlewares, a full socket queue) are boxed futures that exist only
/// while they run, and hold the connection's further input meanwhile.
pub(crate) struct ClientApp<H> {
    io: H,
    shared: Arc<ClientShared<Socket>>,
    decoder: Decoder,
    /// What [`decoder`](Self::decoder)'s pending binary packet holds.
    pending: PendingBytes,
    /// The session's timer (connect timeout, ack deadlines), allocated while one is due.
    timer: Option<Pin<Box<Sleep>>>,
    busy: Option<Busy>,
}

impl<H: ClientHost> ClientApp<H> {
    /// The application of a new connection.
    pub(crate) fn new(io: H, sender: ConnectionSender) -> ClientApp<H> {
        let config = io.config();
        let shared = Arc::new(ClientShared::new(sender, config));
        let v3 = shared.sender.protocol() == sio_protocol::engine::ProtocolVersion::V3;
        io.register_client(&shared);
        let mut decoder_config = DecoderConfig::default()
            .with_max_attachments(config.max_attachments)
            .with_parser(config.parser);
        if v3 {
            decoder_config = decoder_config.with_protocol(SocketProtocol::V4);
        }
        let pending = PendingBytes {
            total: io.pending_attachments().clone(),
            held: 0,
        };
        let mut app = ClientApp {
            decoder: Decoder::new(decoder_config),
            pending,
            timer: None,
            busy: None,
            io,
            shared,
        };
        // Socket.IO v4 (Engine.IO v3): the session starts with the implicit CONNECT of `/`.
        let (_, events) = app.shared.with_session(|_| ());
        app.handle_events(events, 0);
        app
    }

    /// Handles the events of a session command: those of the connection's input here, the
    /// others in [`ClientShared::handle_event`].
    fn handle_events(&mut self, events: Events, size: usize) {
        for event in events {
            match event {
                ServerEvent::ConnectRequest(request) => self.start_connect(request),
                ServerEvent::Event {
                    nsp,
                    sid,
                    name,
                    args,
                    id,
                } => {
                    let Some(socket) = self.shared.socket(&nsp).filter(|s| *s.id() == sid) else {
                        continue;
                    };
                    let incoming = Incoming {
                        name,
                        args,
                        id,
                        size,
                    };
                    if let Err(incoming) = socket.try_enqueue(incoming) {
                        // A handler of this socket waits: stop reading, but notice when the
                        // connection closes meanwhile.
                        let sender = self.shared.sender.clone();
                        self.busy = Some(Box::pin(async move {
                            Busied::Queued(tokio::select! {
                                () = socket.enqueue(incoming) => None,
                                reason = sender.closed() => Some(engine_reason(reason)),
                            })
                        }));
                    }
                }
                other => self.shared.handle_event(other),
            }
        }
    }

    fn start_connect(&mut self, request: ConnectRequest) {
        if self.io.is_closed() {
            // The server is closing: a CONNECT breaks the rules of a closing server.
            self.close(ServerDisconnectReason::ForcedServerClose);
            return;
        }
        let connecting = connect(self.io.clone(), self.shared.clone(), request);
        self.busy = Some(Box::pin(async move {
            connecting.await;
            Busied::Connected
        }));
    }

    /// Ends the session: every socket disconnects with `reason`, the connection closes.
    fn close(&mut self, reason: ServerDisconnectReason) {
        let (_, events) = self
            .shared
            .with_session(|session| session.close(now(), reason));
        self.handle_events(events, 0);
    }

    /// Something of this module panicked while the session task ran it (user code is caught
    /// closer to where it runs): the connection is closed rather than unwinding into the
    /// session task.
    fn internal_panic(&mut self, during: &'static str, payload: &(dyn std::any::Any + Send)) {
        tracing::error!(
            sid = %self.shared.sender.sid(),
            during,
            panic = panic_message(payload),
            "the Socket.IO layer panicked: the connection is closed"
        );
        self.busy = None;
        self.decoder.reset();
        self.pending.release();
        self.close(ServerDisconnectReason::ForcedServerClose);
    }

    fn receive(&mut self, message: Message) {
        let (decoded, len) = match message {
            Message::Text(mut text) => {
                let len = text.len();
                if matches!(text.as_bytes().first(), Some(b'5' | b'6')) {
                    // A binary header, kept until its attachments arrive: a copy of its own,
                    // so that it does not keep alive the buffer it was sliced from (a polling
                    // request's body, say).
                    text = Str::from(text.as_str().to_owned());
                }
                (self.decoder.decode_text(text), len)
            }
            Message::Binary(data) => {
                let len = data.len();
                (self.decoder.decode_binary(data), len)
            }
        };
        // The bytes of the messages of the packet, should it be complete now.
        let size = self.pending.held.saturating_add(len);
        if !self.decoder.is_pending() {
            // Completed, failed, or not binary.
            self.pending.release();
        } else {
            let config = self.io.config();
            let (max, max_total) = (
                config.max_pending_attachment_bytes,
                config.max_pending_attachment_bytes_total,
            );
            if let Err(over) = self.pending.add(len, max, max_total) {
                self.decoder.reset();
                self.pending.release();
                let sid = self.shared.sender.sid();
                match over {
                    OverBound::Connection(max) => tracing::debug!(
                        %sid,
                        "pending attachments over {max} bytes: connection closed"
                    ),
                    OverBound::Server(max) => tracing::info!(
                        %sid,
                        "pending attachments over {max} bytes across the server: connection closed"
                    ),
                }
                return self.close(ServerDisconnectReason::ForcedClose);
            }
        }
        let packet = match decoded {
            Ok(None) => return,
            Ok(Some(packet)) => packet,
            Err(error) => {
                tracing::debug!(sid = %self.shared.sender.sid(), %error, "invalid packet");
                return self.close(ServerDisconnectReason::ForcedClose);
            }
        };
        let (_, events) = self
            .shared
            .with_session(|session| session.handle_packet(now(), packet));
        self.handle_events(events, size);
    }

    /// Drives the session's timer: re-reads its timeout when it may have moved, and calls
    /// `handle_timeout` when it is due.
    fn poll_timer(&mut self, cx: &mut Context<'_>) {
        loop {
            if self.shared.rearm.swap(false, Ordering::AcqRel) {
                let deadline = {
                    let mut cell = self.shared.cell();
                    let deadline = cell.session.poll_timeout();
                    cell.armed = deadline;
                    if !cell.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        cell.waker = Some(cx.waker().clone());
                    }
                    deadline
                };
                match deadline {
                    None => self.timer = None,
                    Some(deadline) => {
                        let deadline = tokio::time::Instant::from_std(deadline);
                        match &mut self.timer {
                            Some(timer) => timer.as_mut().reset(deadline),
                            None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
                        }
                    }
                }
            }
            let Some(timer) = &mut self.timer else {
                return;
            };
            if timer.as_mut().poll(cx).is_pending() {
                return;
            }
            self.timer = None;
            self.shared.rearm.store(true, Ordering::Release);
            let (_, events) = self
                .shared
                .with_session(|session| session.handle_timeout(now()));
            if events.iter().any(|e| {
                matches!(
                    e,
                    ServerEvent::Closed(ServerDisconnectReason::ForcedServerClose)
                )
            }) {
                tracing::debug!(sid = %self.shared.sender.sid(), "no namespace joined in time");
            }
            self.handle_events(events, 0);
        }
    }

    fn poll_work(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let ready = match &mut self.busy {
            None => true,
            Some(busy) => match busy.as_mut().poll(cx) {
                Poll::Pending => false,
                Poll::Ready(done) => {
                    self.busy = None;
                    if let Busied::Queued(Some(reason)) = done {
                        let (_, events) = self
                            .shared
                            .with_session(|session| session.handle_close(now(), reason));
                        self.handle_events(events, 0);
                    }
                    true
                }
            },
        };
        // After the work: a CONNECT answered clears the connect timeout.
        self.poll_timer(cx);
        if ready {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl<H: ClientHost> SessionApp for ClientApp<H> {
    fn on_message(&mut self, message: Message) {
        let received = std::panic::catch_unwind(AssertUnwindSafe(|| self.receive(message)));
        if let Err(payload) = received {
            self.internal_panic("on_message", &*payload);
        }
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.poll_work(cx))) {
            Ok(poll) => poll,
            Err(payload) => {
                self.internal_panic("poll_ready", &*payload);
                Poll::Ready(())
            }
        }
    }

    fn on_close(&mut self, reason: DisconnectReason) {
        self.busy = None;
        self.timer = None;
        self.decoder.reset();
        self.pending.release();
        let reason = engine_reason(reason);
        let closed = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let (_, events) = self
                .shared
                .with_session(|session| session.handle_close(now(), reason));
            self.handle_events(events, 0);
            self.shared.cell().waker = None;
        }));
        if let Err(payload) = closed {
            tracing::error!(
                sid = %self.shared.sender.sid(),
                panic = panic_message(&*payload),
                "the Socket.IO layer panicked while closing the connection"
            );
        }
        self.io.unregister_client(&self.shared);
    }
}

/// A CONNECT: resolves the namespace, restores the session it asks to recover, runs the
/// middlewares, answers.
async fn connect<H: ClientHost>(io: H, shared: Arc<ClientShared<Socket>>, request: ConnectRequest) {
    let ConnectRequest {
        nsp,
        auth,
        recovery,
        legacy_id,
        ..
    } = request;
    let conn = &shared.sender;
    // A dynamic namespace's matcher is the application's code.
    let resolved = std::panic::catch_unwind(AssertUnwindSafe(|| io.resolve(&nsp, &auth)));
    let ns = match resolved {
        Ok(Some(ns)) => ns,
        Ok(None) => {
            let (_, events) = shared.with_session(|session| session.refuse_unknown_namespace(&nsp));
            shared.handle_events(events);
            return;
        }
        Err(payload) => {
            connect_panicked(&shared, &nsp, "namespace matcher", &*payload);
            refuse(&shared, &nsp, server_error());
            return;
        }
    };
    let adapter = ns.adapter().clone();
    let recovery_config = io.config().connection_state_recovery.clone();
    // The session asked for (the session only asks with recovery on, in protocol 5).
    let mut restored = None;
    if let Some(request) = &recovery {
        let restoring = adapter.restore_session(request.pid.clone(), request.offset.clone());
        match AssertUnwindSafe(restoring).catch_unwind().await {
            Ok(Ok(session)) => restored = session,
            Ok(Err(error)) => {
                tracing::debug!(sid = %conn.sid(), nsp = %nsp, %error, "session not restored");
            }
            Err(payload) => connect_panicked(&shared, &nsp, "adapter restore_session", &*payload),
        }
    }
    let claim = Claim {
        ns: ns.clone(),
        pid: restored
            .as_ref()
            .filter(|r| r.local)
            .map(|r| r.state.pid.clone()),
    };
    let (id, pid) = match &restored {
        Some(session) => (session.state.sid.clone(), Some(session.state.pid.clone())),
        None => {
            let id = match legacy_id {
                // Socket.IO 2.x: the engine id, prefixed by the namespace outside `/`.
                Some(id) => Some(id),
                None => crate::engine::sid::generate().ok(),
            };
            let pid = match recovery_config {
                Some(_) => generate_pid().ok(),
                None => None,
            };
            match id {
                Some(id) if recovery_config.is_none() || pid.is_some() => (id, pid),
                _ => {
                    refuse(&shared, &nsp, server_error());
                    return;
                }
            }
        }
    };
    let handshake = Handshake::new(conn, &io.config().engine.normalized_path(), auth);
    let socket = Socket::new(id.clone(), ns.clone(), handshake, shared.clone());
    if let Some(session) = &restored {
        socket.set_recovered(Some(session.state.data.clone()));
    }
    let skip_middlewares =
        restored.is_some() && recovery_config.as_ref().is_some_and(|c| c.skip_middlewares);
    let middlewares = io
        .middlewares()
        .into_iter()
        .map(|middleware| ("io middleware", middleware))
        .chain(
            ns.connect_handlers()
                .middlewares()
                .into_iter()
                .map(|middleware| ("namespace middleware", middleware)),
        )
        .filter(|_| !skip_middlewares);
    let run_middlewares = async {
        for (kind, middleware) in middlewares {
            let candidate = socket.clone();
            let run = AssertUnwindSafe(async move { middleware(candidate).await });
            match run.catch_unwind().await {
                Ok(outcome) => outcome?,
                Err(payload) => {
                    connect_panicked(&shared, &nsp, kind, &*payload);
                    return Err(server_error());
                }
            }
        }
        Ok(())
    };
    let outcome: Result<(), Error> = tokio::select! {
        outcome = run_middlewares => outcome,
        _ = conn.closed() => return,
    };
    if let Err(error) = outcome {
        refuse(&shared, &nsp, error);
        return;
    }
    if shared.sender.is_closed() {
        return;
    }
    shared.insert(socket.clone());
    ns.add_socket(socket.as_local());
    let mut rooms = match &restored {
        Some(session) => session.state.rooms.clone(),
        None => Vec::new(),
    };
    if !rooms.contains(&id) {
        rooms.insert(0, id.clone());
    }
    let joined = AssertUnwindSafe(async { adapter.add_all(id.clone(), rooms).await })
        .catch_unwind()
        .await;
    if let Err(payload) = joined {
        connect_panicked(&shared, &nsp, "adapter add_all", &*payload);
        shared.remove(&nsp, &id);
        ns.remove_socket(&id);
        refuse(&shared, &nsp, server_error());
        return;
    }
    // The CONNECT reply, and the socket is connected, in one step: a disconnection that
    // comes right after finds it connected.
    let accept = |pid: Option<Str>| {
        shared.with_session(|session| {
            let accepted = session.accept(&nsp, id.clone(), pid);
            if accepted.is_ok() {
                socket.set_connected();
            }
            accepted
        })
    };
    let (accepted, events) = match (restored, &recovery) {
        (Some(session), Some(request)) => {
            match answer_recovered(&ns, &shared, &socket, &claim, session, request) {
                Some(answered) => {
                    crate::metrics::recovery(true);
                    answered
                }
                None => {
                    crate::metrics::recovery(false);
                    // The session could not be recovered after all (it expired or the client
                    // missed too much meanwhile): a fresh session, with the same id.
                    socket.set_recovered(None);
                    adapter.del_all(id.clone()).await;
                    adapter.add_all(id.clone(), vec![id.clone()]).await;
                    accept(generate_pid().ok())
                }
            }
        }
        (None, Some(_)) => {
            crate::metrics::recovery(false);
            accept(pid)
        }
        _ => accept(pid),
    };
    drop(claim);
    if accepted.is_err() {
        // The connection closed meanwhile.
        shared.remove(&nsp, &id);
        ns.remove_socket(&id);
        adapter.del_all(id).await;
        shared.handle_events(events);
        return;
    }
    socket.start(ns.connect_handlers().connection());
    shared.handle_events(events);
}

/// A session claimed in this server's recovery store: forgotten if the CONNECT is not
/// answered with it (a middleware refused, the connection closed, the future was dropped).
struct Claim {
    ns: Namespace,
    pid: Option<Str>,
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            if let Some(mut store) = self.ns.recovery() {
                store.abandon(&pid);
            }
        }
    }
}

/// Answers a recovery with the restored session: under the lock of the namespace's
/// recovery log (so that no event is written in between, and none twice), the events the
/// client missed, then the CONNECT reply with its id and pid. `None` when the session cannot
/// be recovered after all.
fn answer_recovered(
    ns: &Namespace,
    shared: &ClientShared<Socket>,
    socket: &Socket,
    claim: &Claim,
    session: RestoredSession,
    request: &RecoveryRequest,
) -> Option<(Result<(), sio_protocol::Error>, Events)> {
    let mut store = ns.recovery();
    let missed = match (&claim.pid, store.as_mut()) {
        (Some(pid), Some(store)) => match store.finish(now(), pid, &request.offset) {
            Finish::Missed(missed) => missed,
            Finish::Lost => return None,
        },
        _ => Vec::new(),
    };
    let nsp = ns.name().as_str();
    let answered = shared.with_session(|server| {
        for messages in missed {
            if shared.queue(messages.into_vec(), false).is_err() {
                // The connection cannot take the backlog: closing it is better than a gap
                // (the client's next attempt gets a fresh session).
                tracing::debug!(sid = %shared.sender.sid(), nsp, "send queue full: recovery abandoned");
                server.close(now(), ServerDisconnectReason::ForcedServerClose);
                // The session is closed: the accept below fails, changing nothing.
                break;
            }
        }
        let accepted = server.accept_recovered(nsp, session.state.sid.clone(), session.missed);
        if accepted.is_ok() {
            socket.set_connected();
        }
        accepted
    });
    drop(store);
    Some(answered)
}

/// What a client gets when the server's code panicked during its CONNECT.
fn server_error() -> Error {
    Error::rejected("server error")
}

fn connect_panicked(
    shared: &ClientShared<Socket>,
    nsp: &str,
    handler: &'static str,
    payload: &(dyn std::any::Any + Send),
) {
    tracing::error!(
        sid = %shared.sender.sid(),
        nsp,
        handler,
        panic = panic_message(payload),
        "a handler panicked: the CONNECT is refused"
    );
}

/// Answers a CONNECT with CONNECT_ERROR.
fn refuse(shared: &ClientShared<Socket>, nsp: &str, error: Error) {
    let (message, data) = error.into_refusal();
    let (_, events) = shared.with_session(|session| session.refuse(nsp, &message, data));
    shared.handle_events(events);
}
