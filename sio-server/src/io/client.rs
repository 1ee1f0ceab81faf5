//! One Engine.IO connection: decodes its packets, applies socket.io's state rules, connects
//! its sockets, routes their events and writes their packets.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_util::FutureExt;

use sio_protocol::socket::{
    Decoder, DecoderConfig, Encoder, Packet, PacketData, Parser, ProtocolVersion as SocketProtocol,
};
use sio_protocol::{Map, Str, Value};

use super::handshake::Handshake;
use super::namespace::ConnectError;
use super::server::SocketIo;
use super::socket::{EmitError, Incoming, Socket, SocketDisconnectReason, frames};
use crate::session_task::panic_message;
use tokio::time::Sleep;

use crate::session_task::SessionApp;
use crate::{CloseReason, ConnectionSender, DisconnectReason, Message, SendError};

/// What the sockets of one connection share.
#[derive(Debug)]
pub(crate) struct ClientShared {
    pub(crate) sender: ConnectionSender,
    pub(crate) encoder: Encoder,
    /// Held while the messages of one packet are queued, so packets never interleave.
    write: Mutex<()>,
    /// The connected sockets, by namespace.
    sockets: Mutex<HashMap<Str, Socket>>,
}

impl ClientShared {
    pub(crate) fn new(sender: ConnectionSender, parser: Parser) -> Self {
        ClientShared {
            sender,
            encoder: Encoder::new(parser),
            write: Mutex::new(()),
            sockets: Mutex::new(HashMap::new()),
        }
    }

    /// Queues the messages of one packet, all or none.
    pub(crate) fn write(&self, messages: Vec<Message>, volatile: bool) -> Result<(), EmitError> {
        let _guard = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let result = if messages.len() == 1 {
            let mut messages = messages;
            match messages.pop() {
                Some(message) => self.sender.try_send(message),
                None => Ok(()),
            }
        } else {
            self.sender.try_send_all(messages)
        };
        match result {
            Ok(()) => Ok(()),
            Err(SendError::Full(_)) => {
                if !volatile {
                    tracing::debug!(sid = %self.sender.sid(), "send queue full: packet dropped");
                }
                Err(EmitError::Full)
            }
            Err(_) => Err(EmitError::Disconnected),
        }
    }

    pub(crate) fn send_packet(&self, packet: &Packet, volatile: bool) -> Result<(), EmitError> {
        let encoded = self.encoder.encode(packet).map_err(EmitError::Serialize)?;
        self.write(frames(encoded), volatile)
    }

    fn sockets(&self) -> std::sync::MutexGuard<'_, HashMap<Str, Socket>> {
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn socket(&self, nsp: &str) -> Option<Socket> {
        self.sockets().get(nsp).cloned()
    }

    /// Forgets the socket of `nsp` if it is `id`.
    pub(crate) fn remove(&self, nsp: &str, id: &str) {
        let mut sockets = self.sockets();
        if sockets.get(nsp).is_some_and(|s| s.id() == id) {
            sockets.remove(nsp);
        }
    }

    fn take_all(&self) -> Vec<Socket> {
        self.sockets().drain().map(|(_, s)| s).collect()
    }

    /// `socket.disconnect(true)`: every namespace gets DISCONNECT, then the connection closes.
    pub(crate) fn disconnect_all(&self) {
        for socket in self.take_all() {
            socket.close_with(SocketDisconnectReason::ServerNamespaceDisconnect, true);
        }
        self.sender.close();
    }

    /// Closes every socket with `reason` (no packet) and the connection.
    pub(crate) fn close_all(&self, reason: SocketDisconnectReason) {
        for socket in self.take_all() {
            socket.close_with(reason, false);
        }
        self.sender.close();
    }
}

fn engine_reason(reason: DisconnectReason) -> SocketDisconnectReason {
    match reason {
        DisconnectReason::Engine(CloseReason::TransportClose) => {
            SocketDisconnectReason::TransportClose
        }
        DisconnectReason::Engine(CloseReason::PingTimeout) => SocketDisconnectReason::PingTimeout,
        DisconnectReason::Engine(CloseReason::ParseError) => SocketDisconnectReason::ParseError,
        DisconnectReason::Engine(CloseReason::ForcedClose) => SocketDisconnectReason::ForcedClose,
        _ => SocketDisconnectReason::TransportError,
    }
}

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

/// Work a [`ClientApp`] waits for before it reads the next message.
type Busy = Pin<Box<dyn Future<Output = Busied> + Send>>;

/// What the work of [`Busy`] ended with.
enum Busied {
    /// A CONNECT ended; `true` if a namespace was joined.
    Connected(bool),
    /// An event found room in its socket's queue, or the connection closed meanwhile.
    Queued(Option<SocketDisconnectReason>),
}

/// The Socket.IO side of one connection, driven by the connection's session task
/// ([`SessionApp`]): it has no task of its own, and its rare waits (a CONNECT and its
/// middlewares, a full socket queue) are boxed futures that exist only while they run.
pub(crate) struct ClientApp {
    io: SocketIo,
    shared: Arc<ClientShared>,
    decoder: Decoder,
    /// What [`decoder`](Self::decoder)'s pending binary packet holds.
    pending: PendingBytes,
    v3: bool,
    joined: bool,
    /// Set once the connection is being closed: later messages are ignored.
    closing: Option<SocketDisconnectReason>,
    /// Until a namespace is joined.
    connect_timeout: Option<Pin<Box<Sleep>>>,
    busy: Option<Busy>,
}

impl ClientApp {
    /// The application of a new connection.
    pub(crate) fn new(io: SocketIo, sender: ConnectionSender) -> ClientApp {
        let config = io.config();
        let v3 = sender.protocol() == crate::ProtocolVersion::V3;
        let shared = Arc::new(ClientShared::new(sender, config.parser));
        io.register_client(&shared);
        let mut decoder_config = DecoderConfig::default()
            .with_max_attachments(config.max_attachments)
            .with_parser(config.parser);
        if v3 {
            decoder_config = decoder_config.with_protocol(SocketProtocol::V4);
        }
        let connect_timeout = Some(Box::pin(tokio::time::sleep(config.connect_timeout)));
        let pending = PendingBytes {
            total: io.pending_attachments().clone(),
            held: 0,
        };
        let mut app = ClientApp {
            decoder: Decoder::new(decoder_config),
            pending,
            v3,
            joined: false,
            closing: None,
            connect_timeout,
            busy: None,
            io,
            shared,
        };
        if v3 {
            // Socket.IO v4 (Engine.IO v3): the client is in `/` without sending CONNECT.
            app.start_connect(Str::from_static("/"), None);
        }
        app
    }

    fn start_connect(&mut self, nsp: Str, auth: Option<Value>) {
        let connecting = connect(self.io.clone(), self.shared.clone(), nsp, auth, self.v3);
        self.busy = Some(Box::pin(async move { Busied::Connected(connecting.await) }));
    }

    fn violation(&mut self, reason: SocketDisconnectReason) {
        // Every socket of the connection goes with it.
        self.closing = Some(reason);
        self.shared.close_all(reason);
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
        if self.closing.is_none() {
            self.violation(SocketDisconnectReason::ForcedServerClose);
        }
    }

    fn receive(&mut self, message: Message) {
        if self.closing.is_some() {
            return;
        }
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
                return self.violation(SocketDisconnectReason::ForcedClose);
            }
        }
        let packet = match decoded {
            Ok(None) => return,
            Ok(Some(packet)) => packet,
            Err(error) => {
                tracing::debug!(sid = %self.shared.sender.sid(), %error, "invalid packet");
                return self.violation(SocketDisconnectReason::ForcedClose);
            }
        };
        match handle(&self.io, &self.shared, packet, size) {
            Handled::Done(None) => {}
            Handled::Done(Some(reason)) => self.violation(reason),
            Handled::Connect { nsp, auth } => self.start_connect(nsp, auth),
            Handled::QueueFull(socket, incoming) => {
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
    }

    fn poll_work(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.joined && self.closing.is_none() {
            if let Some(timer) = &mut self.connect_timeout {
                if timer.as_mut().poll(cx).is_ready() {
                    tracing::debug!(sid = %self.shared.sender.sid(), "no namespace joined in time");
                    self.connect_timeout = None;
                    self.closing = Some(SocketDisconnectReason::ForcedServerClose);
                    self.shared.sender.close();
                }
            }
        }
        let Some(busy) = &mut self.busy else {
            return Poll::Ready(());
        };
        let done = std::task::ready!(busy.as_mut().poll(cx));
        self.busy = None;
        match done {
            Busied::Connected(joined) => {
                if joined {
                    self.joined = true;
                    self.connect_timeout = None;
                }
            }
            Busied::Queued(Some(reason)) => self.violation(reason),
            Busied::Queued(None) => {}
        }
        Poll::Ready(())
    }
}

impl SessionApp for ClientApp {
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
        self.decoder.reset();
        self.pending.release();
        let reason = self.closing.unwrap_or_else(|| engine_reason(reason));
        let closed = std::panic::catch_unwind(AssertUnwindSafe(|| self.shared.close_all(reason)));
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

/// What [`handle`] leaves to do.
enum Handled {
    /// Done; `Some(reason)` when the packet broke the state rules (the connection closes).
    Done(Option<SocketDisconnectReason>),
    /// A CONNECT to carry out.
    Connect { nsp: Str, auth: Option<Value> },
    /// An event for a socket whose queue is full.
    QueueFull(Socket, Incoming),
}

/// Handles one packet of `size` bytes (its messages), without waiting.
fn handle(io: &SocketIo, shared: &Arc<ClientShared>, packet: Packet, size: usize) -> Handled {
    let invalid = Handled::Done(Some(SocketDisconnectReason::ForcedServerClose));
    let v3 = shared.sender.protocol() == crate::ProtocolVersion::V3;
    let (nsp, query_auth) = if v3 {
        split_v4_namespace(&packet.nsp)
    } else {
        (packet.nsp, None)
    };
    let socket = shared.socket(&nsp);
    match (packet.data, socket) {
        (PacketData::Connect(auth), None) => {
            if io.is_closed() {
                return invalid;
            }
            let auth = if v3 { query_auth } else { auth };
            Handled::Connect { nsp, auth }
        }
        (PacketData::Event { name, args, id }, Some(socket)) => {
            match socket.try_enqueue(Incoming {
                name,
                args,
                id,
                size,
            }) {
                Ok(()) => Handled::Done(None),
                Err(incoming) => Handled::QueueFull(socket, incoming),
            }
        }
        (PacketData::Ack { args, id }, Some(socket)) => {
            socket.handle_ack(id, args);
            Handled::Done(None)
        }
        (PacketData::Disconnect, Some(socket)) => {
            socket.close_with(SocketDisconnectReason::ClientNamespaceDisconnect, false);
            Handled::Done(None)
        }
        _ => invalid,
    }
}

/// A CONNECT: resolves the namespace, runs the middlewares, answers. `true` if connected.
async fn connect(
    io: SocketIo,
    shared: Arc<ClientShared>,
    nsp: Str,
    auth: Option<Value>,
    v3: bool,
) -> bool {
    let conn = &shared.sender;
    let auth = auth.unwrap_or_else(|| Value::Object(Map::new()));
    // A dynamic namespace's matcher is the application's code.
    let resolved = std::panic::catch_unwind(AssertUnwindSafe(|| io.resolve(&nsp, &auth)));
    let ns = match resolved {
        Ok(Some(ns)) => ns,
        Ok(None) => {
            let payload = ConnectError::new("Invalid namespace").to_value();
            let _ = shared.send_packet(&Packet::new(nsp, PacketData::ConnectError(payload)), false);
            return false;
        }
        Err(payload) => {
            connect_panicked(&shared, &nsp, "namespace matcher", &*payload);
            refuse(&shared, nsp, server_error(), v3);
            return false;
        }
    };
    let id = if v3 {
        // Socket.IO 2.x: the engine id, prefixed by the namespace outside `/`.
        if &*nsp == "/" {
            conn.sid().clone()
        } else {
            Str::from(format!("{nsp}#{}", conn.sid()))
        }
    } else {
        match crate::sid::generate() {
            Ok(id) => id,
            Err(_) => return false,
        }
    };
    let handshake = Handshake::new(conn, &io.config().engine.normalized_path(), auth);
    let socket = Socket::new(id.clone(), ns.clone(), handshake, shared.clone());
    let middlewares = io
        .middlewares()
        .into_iter()
        .map(|middleware| ("io middleware", middleware))
        .chain(
            ns.handlers()
                .middlewares()
                .into_iter()
                .map(|middleware| ("namespace middleware", middleware)),
        );
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
    let outcome: Result<(), ConnectError> = tokio::select! {
        outcome = run_middlewares => outcome,
        _ = conn.closed() => return false,
    };
    if let Err(error) = outcome {
        refuse(&shared, nsp, error, v3);
        return false;
    }
    if shared.sender.is_closed() {
        return false;
    }
    shared.sockets().insert(nsp.clone(), socket.clone());
    ns.add_socket(socket.clone());
    let adapter = ns.adapter().clone();
    let own_room = vec![id.clone()];
    let joined = AssertUnwindSafe(async { adapter.add_all(id.clone(), own_room).await })
        .catch_unwind()
        .await;
    if let Err(payload) = joined {
        connect_panicked(&shared, &nsp, "adapter add_all", &*payload);
        shared.remove(&nsp, &id);
        ns.remove_socket(&id);
        refuse(&shared, nsp, server_error(), v3);
        return false;
    }
    socket.set_connected();
    let reply = if v3 {
        None
    } else {
        let mut reply = Map::new();
        reply.insert("sid".to_owned(), Value::from(id));
        Some(Value::Object(reply))
    };
    let _ = shared.send_packet(&Packet::new(nsp, PacketData::Connect(reply)), false);
    socket.start(ns.handlers().connection());
    true
}

/// What a client gets when the server's code panicked during its CONNECT.
fn server_error() -> ConnectError {
    ConnectError::new("server error")
}

fn connect_panicked(
    shared: &ClientShared,
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
fn refuse(shared: &ClientShared, nsp: Str, error: ConnectError, v3: bool) {
    // Socket.IO 2.x gets `err.data || err.message`.
    let payload = match (v3, error.data.clone()) {
        (false, _) => error.to_value(),
        (true, Some(data)) if !data.is_null() => data,
        (true, _) => Value::from(error.message.as_str()),
    };
    let packet = Packet::new(nsp, PacketData::ConnectError(payload));
    let _ = shared.send_packet(&packet, false);
}

/// Socket.IO 2.x sends the auth of a CONNECT as a query string in the namespace
/// (`/admin?token=abc`): the namespace and that query as an object of strings.
fn split_v4_namespace(nsp: &Str) -> (Str, Option<Value>) {
    let Some((path, query)) = nsp.split_once('?') else {
        return (nsp.clone(), None);
    };
    let mut auth = Map::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        auth.insert(key.into_owned(), Value::from(value.into_owned()));
    }
    let path = if path.is_empty() { "/" } else { path };
    (nsp.slice_ref(path), Some(Value::Object(auth)))
}
