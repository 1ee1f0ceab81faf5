//! [`Socket`]: one client in one namespace, its handlers and the task that runs them in order.

use std::any::{Any, TypeId};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use futures_util::FutureExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sio_protocol::socket::{Args, ArgsError, EventName, Packet, PacketData, RESERVED_EVENTS};
use sio_protocol::{Map, Str, Value};
use tokio::sync::{Notify, oneshot};

use super::BoxFuture;
use super::ack::{Ack, AckFuture};
use super::broadcast::BroadcastOperator;
use super::client::ClientShared;
use super::cluster::{AdapterError, ReplySink};
use super::handshake::Handshake;
use super::namespace::Namespace;
use crate::Message;
use crate::session_task::panic_message;

/// Why a socket disconnected; [`as_str`](Self::as_str) gives socket.io's reason string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SocketDisconnectReason {
    /// `"transport close"`.
    TransportClose,
    /// `"transport error"`.
    TransportError,
    /// `"ping timeout"`.
    PingTimeout,
    /// `"parse error"`.
    ParseError,
    /// `"forced close"`: the Engine.IO connection was closed by the server (for example after
    /// a packet the decoder rejected, or a binary packet whose pending attachments went over
    /// [`SocketIoConfig::max_pending_attachment_bytes`](crate::SocketIoConfig)).
    ForcedClose,
    /// `"server namespace disconnect"`: [`Socket::disconnect`], or a handler of the socket
    /// panicked (the client gets DISCONNECT, as after `disconnect`; see
    /// [the handler order](crate::SocketIo#handler-order)).
    ServerNamespaceDisconnect,
    /// `"client namespace disconnect"`: the client sent DISCONNECT.
    ClientNamespaceDisconnect,
    /// `"server shutting down"`: [`SocketIo::close`](crate::SocketIo::close).
    ServerShuttingDown,
    /// `"forced server close"`: the server closed the connection (a protocol violation such
    /// as a second CONNECT, or `disconnect(true)` of another namespace).
    ForcedServerClose,
}

impl SocketDisconnectReason {
    /// The JavaScript reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::ParseError => "parse error",
            Self::ForcedClose => "forced close",
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ServerShuttingDown => "server shutting down",
            Self::ForcedServerClose => "forced server close",
        }
    }
}

impl fmt::Display for SocketDisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an emit failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum EmitError {
    /// The event name is reserved ([`RESERVED_EVENTS`]).
    ReservedName,
    /// The arguments could not be serialized.
    Serialize(ArgsError),
    /// The socket is disconnected.
    Disconnected,
    /// The connection's send queue is full
    /// ([`EngineConfig::max_buffered_packets`](crate::EngineConfig)): the client does not take
    /// its packets. Nothing was sent.
    Full,
    /// A broadcast could not reach the other servers of the cluster (this server's sockets
    /// got it).
    Adapter(AdapterError),
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::ReservedName => f.write_str("reserved event name"),
            EmitError::Serialize(e) => write!(f, "cannot serialize the arguments: {e}"),
            EmitError::Disconnected => f.write_str("socket disconnected"),
            EmitError::Full => f.write_str("send queue full"),
            EmitError::Adapter(e) => write!(f, "adapter: {e}"),
        }
    }
}

impl std::error::Error for EmitError {
    /// The source of the adapter's error (its text is already in this error's).
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EmitError::Adapter(e) => std::error::Error::source(e),
            _ => None,
        }
    }
}

/// The error a per-packet middleware returns to drop an event.
pub type MiddlewareError = Box<dyn std::error::Error + Send + Sync>;

type EventHandler = Arc<dyn Fn(Socket, Args, Ack) -> BoxFuture<'static, ()> + Send + Sync>;
type AnyHandler = Arc<dyn Fn(Socket, EventName, Args) -> BoxFuture<'static, ()> + Send + Sync>;
type OutgoingHandler = Arc<dyn Fn(&str, &Args) + Send + Sync>;
type PacketMiddleware = Arc<
    dyn Fn(Socket, EventName, Args) -> BoxFuture<'static, Result<(), MiddlewareError>>
        + Send
        + Sync,
>;
type ErrorHandler = Arc<dyn Fn(&Socket, &MiddlewareError) + Send + Sync>;
type DisconnectHandler =
    Arc<dyn Fn(Socket, SocketDisconnectReason) -> BoxFuture<'static, ()> + Send + Sync>;

#[derive(Default)]
struct Handlers {
    /// By event name. A list, not a map: a socket has a few handlers, and every socket holds
    /// its own (an idle connection should hold little).
    events: Vec<(Str, EventHandler)>,
    any: Vec<AnyHandler>,
    outgoing: Vec<OutgoingHandler>,
    middlewares: Vec<PacketMiddleware>,
    errors: Vec<ErrorHandler>,
    disconnecting: Vec<DisconnectHandler>,
    disconnect: Vec<DisconnectHandler>,
}

/// The `data` of a socket ([`Socket::set_data`]), kept in its extensions map (nothing when
/// unset).
struct SharedData(Value);

/// Where the acknowledgement of an emitted event goes.
#[derive(Debug)]
pub(crate) enum AckSender {
    /// `Socket::emit_with_ack`.
    One(oneshot::Sender<Args>),
    /// A broadcast's `emit_with_ack` (of this server or another one): the replies of every
    /// recipient go to one sink.
    Broadcast(ReplySink),
}

/// An event received, waiting for the socket's task.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) name: EventName,
    pub(crate) args: Args,
    pub(crate) id: Option<u64>,
    /// The bytes of the messages that carried it (text and attachments).
    pub(crate) size: usize,
}

/// One client connected to one namespace (socket.io's server-side `Socket`). Cheap to clone.
///
/// Handlers registered with [`on`](Self::on) run in the order the events arrived, one at a
/// time (see [the handler order](crate::SocketIo#handler-order)).
///
/// ```no_run
/// use sio_server::{SocketIo, SocketIoConfig};
///
/// # async fn run() -> std::io::Result<()> {
/// let io = SocketIo::new(SocketIoConfig::default());
/// io.of("/").on_connection(|socket| async move {
///     socket.on("chat", |socket, (room, text): (String, String), ack| async move {
///         let _ = socket.to(room).emit("chat", &(&text,)).await;
///         let _ = ack.send(&"delivered");
///     });
/// });
/// let _server = io.listen("127.0.0.1:3000").await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Socket {
    inner: Arc<Inner>,
}

struct Inner {
    id: Str,
    ns: Namespace,
    handshake: Handshake,
    client: Arc<ClientShared>,
    connected: AtomicBool,
    handlers: RwLock<Handlers>,
    acks: Mutex<HashMap<u64, AckSender>>,
    extensions: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
    /// Events waiting for the socket's task, which exists only while there is work (DESIGN
    /// example 12: an idle socket has no task, no channel).
    queue: Mutex<Queue>,
    /// Signalled when an event leaves a full queue.
    space: Notify,
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Incoming>,
    /// The bytes of `items`.
    bytes: usize,
    /// An event found the queue full: the task signals `space` when it takes one.
    space_wanted: bool,
    /// The socket's task is running (it drains `items`, then runs the disconnect handlers
    /// once `disconnected` is set).
    running: bool,
    disconnected: Option<SocketDisconnectReason>,
    /// A handler panicked: the events still queued, and those that arrive later, are dropped.
    failed: bool,
    /// The disconnect handlers have run (or are running).
    finished: bool,
}

/// Resets the state of the socket's task if it ends without reaching its end: it unwound (a
/// panic in this module's own code: the handlers' panics are caught) or the runtime dropped
/// it. Without it, `running` would stay set forever and the socket's queue would fill.
struct TaskGuard {
    socket: Socket,
    done: bool,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if !self.done {
            self.socket.task_died();
        }
    }
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.inner.id)
            .field("nsp", self.inner.ns.name())
            .field("connected", &self.connected())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Socket {
    pub(crate) fn new(
        id: Str,
        ns: Namespace,
        handshake: Handshake,
        client: Arc<ClientShared>,
    ) -> Socket {
        Socket {
            inner: Arc::new(Inner {
                id,
                ns,
                handshake,
                client,
                connected: AtomicBool::new(false),
                handlers: RwLock::new(Handlers::default()),
                acks: Mutex::new(HashMap::new()),
                extensions: Mutex::new(HashMap::new()),
                queue: Mutex::new(Queue::default()),
                space: Notify::new(),
            }),
        }
    }

    /// The socket id: 20 characters from a CSPRNG, not the Engine.IO session id.
    pub fn id(&self) -> &Str {
        &self.inner.id
    }

    /// The namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.inner.ns
    }

    /// The handshake (headers, query, auth, address...).
    pub fn handshake(&self) -> &Handshake {
        &self.inner.handshake
    }

    /// Whether the socket is connected.
    pub fn connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    /// The Engine.IO session id of the client's connection.
    pub fn engine_sid(&self) -> &Str {
        self.inner.client.sender.sid()
    }

    /// The transport in use now.
    pub fn transport(&self) -> crate::TransportKind {
        self.inner.client.sender.transport()
    }

    // ----- per-socket data -----

    /// Sets this socket's `data` (socket.io's `socket.data`): any serializable value, kept
    /// as a [`Value`], which [`fetch_sockets`](crate::Namespace::fetch_sockets) carries to
    /// every server of a cluster. Fails when `data` cannot be serialized (the previous data
    /// stays).
    ///
    /// This is not the typed data of [`insert_data`](Self::insert_data) /
    /// [`data`](Self::data): those hold any Rust value, on this server only.
    ///
    /// ```no_run
    /// # async fn f(io: sio_server::SocketIo) {
    /// io.of("/").on_connection(|socket| async move {
    ///     let _ = socket.set_data(&serde_json::json!({"user": "ann", "level": 3}));
    /// });
    /// // On any server of the cluster:
    /// for socket in io.of("/").fetch_sockets().await.unwrap_or_default() {
    ///     println!("{} is {}", socket.id(), socket.data()["user"]);
    /// }
    /// # }
    /// ```
    pub fn set_data<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), ArgsError> {
        let value = Value::from_serialize(data)?;
        lock(&self.inner.extensions)
            .insert(TypeId::of::<SharedData>(), Box::new(SharedData(value)));
        Ok(())
    }

    /// A copy of this socket's `data` (see [`set_data`](Self::set_data)): an empty object
    /// until set, as in socket.io.
    pub fn data_value(&self) -> Value {
        lock(&self.inner.extensions)
            .get(&TypeId::of::<SharedData>())
            .and_then(|b| b.downcast_ref::<SharedData>())
            .map(|d| d.0.clone())
            .unwrap_or_else(|| Value::Object(Map::new()))
    }

    /// Runs `f` on this socket's `data` in place (socket.io's `socket.data.x = ...`; it starts
    /// as an empty object).
    pub fn update_data<R>(&self, f: impl FnOnce(&mut Value) -> R) -> R {
        let mut map = lock(&self.inner.extensions);
        let entry = map
            .entry(TypeId::of::<SharedData>())
            .or_insert_with(|| Box::new(SharedData(Value::Object(Map::new()))));
        match entry.downcast_mut::<SharedData>() {
            Some(data) => f(&mut data.0),
            None => f(&mut Value::Object(Map::new())),
        }
    }

    /// Stores `value` as this socket's data of type `T` (replacing the previous one). It stays
    /// on this server; [`set_data`](Self::set_data) is the data other servers see.
    pub fn insert_data<T: Send + Sync + 'static>(&self, value: T) {
        lock(&self.inner.extensions).insert(TypeId::of::<T>(), Box::new(value));
    }

    /// A copy of this socket's data of type `T`.
    pub fn data<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        lock(&self.inner.extensions)
            .get(&TypeId::of::<T>())
            .and_then(|b| b.downcast_ref::<T>())
            .cloned()
    }

    /// Runs `f` on this socket's data of type `T` (inserting `T::default()` if absent).
    pub fn with_data<T: Default + Send + Sync + 'static, R>(
        &self,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        let mut map = lock(&self.inner.extensions);
        let entry = map
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()));
        match entry.downcast_mut::<T>() {
            Some(value) => f(value),
            None => f(&mut T::default()),
        }
    }

    // ----- handlers -----

    fn handlers_mut(&self) -> std::sync::RwLockWriteGuard<'_, Handlers> {
        self.inner
            .handlers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn handlers(&self) -> std::sync::RwLockReadGuard<'_, Handlers> {
        self.inner
            .handlers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Handles the event `event`, with its arguments read as `T` (a tuple for several
    /// arguments; see [`Args::deserialize`]). Replaces an earlier handler of that event.
    /// Arguments that do not match `T` drop the event (logged at debug level); use
    /// [`on_args`](Self::on_args) to receive them as they are.
    pub fn on<T, F, Fut>(&self, event: impl Into<String>, handler: F)
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(Socket, T, Ack) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_args(event, move |socket, args, ack| match args.deserialize::<T>() {
            Ok(data) => Box::pin(handler(socket, data, ack)) as BoxFuture<'static, ()>,
            Err(error) => {
                tracing::debug!(%error, socket = %socket.id(), "event arguments do not match the handler");
                Box::pin(async {})
            }
        });
    }

    /// Handles the event `event` with its raw [`Args`].
    pub fn on_args<F, Fut>(&self, event: impl Into<String>, handler: F)
    where
        F: Fn(Socket, Args, Ack) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: EventHandler = Arc::new(move |s, a, k| Box::pin(handler(s, a, k)));
        let event = Str::from(event.into());
        let mut handlers = self.handlers_mut();
        match handlers.events.iter_mut().find(|(name, _)| *name == event) {
            Some(entry) => entry.1 = handler,
            None => handlers.events.push((event, handler)),
        }
    }

    /// Removes the handler of `event`.
    pub fn off(&self, event: &str) {
        self.handlers_mut()
            .events
            .retain(|(name, _)| name.as_str() != event);
    }

    /// Runs `handler` for every event received (socket.io's `onAny`), first, before the
    /// per-packet middlewares and the event's own handler (socket.io's order), in the same
    /// order guarantee.
    pub fn on_any<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, EventName, Args) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: AnyHandler = Arc::new(move |s, n, a| Box::pin(handler(s, n, a)));
        self.handlers_mut().any.push(handler);
    }

    /// Calls `handler` with every event this socket emits (socket.io's `onAnyOutgoing`):
    /// [`emit`](Self::emit) and [`emit_with_ack`](Self::emit_with_ack), not broadcasts.
    pub fn on_any_outgoing(&self, handler: impl Fn(&str, &Args) + Send + Sync + 'static) {
        self.handlers_mut().outgoing.push(Arc::new(handler));
    }

    /// Adds a per-packet middleware (socket.io's `socket.use`): it runs for every received
    /// event after `on_any` and before the handler; an `Err` drops the event and goes to the
    /// [`on_error`](Self::on_error) handlers.
    pub fn use_middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket, EventName, Args) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), MiddlewareError>> + Send + 'static,
    {
        let middleware: PacketMiddleware = Arc::new(move |s, n, a| Box::pin(middleware(s, n, a)));
        self.handlers_mut().middlewares.push(middleware);
    }

    /// Called with the error of a per-packet middleware that refused an event.
    pub fn on_error(&self, handler: impl Fn(&Socket, &MiddlewareError) + Send + Sync + 'static) {
        self.handlers_mut().errors.push(Arc::new(handler));
    }

    /// Runs when the socket is disconnecting, while its rooms are still readable.
    pub fn on_disconnecting<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, SocketDisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: DisconnectHandler = Arc::new(move |s, r| Box::pin(handler(s, r)));
        self.handlers_mut().disconnecting.push(handler);
    }

    /// Runs once the socket is disconnected (it has left its rooms).
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, SocketDisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: DisconnectHandler = Arc::new(move |s, r| Box::pin(handler(s, r)));
        self.handlers_mut().disconnect.push(handler);
    }

    // ----- emitting -----

    /// Sends the event `event` with `args` (a tuple is several arguments, `()` none; see
    /// [`Args`]) to this client.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), EmitError> {
        check_name(event)?;
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        self.notify_outgoing(event, || Args::new(args))?;
        let encoded = self
            .inner
            .client
            .encoder
            .encode_event(self.inner.ns.name(), event, args, None)
            .map_err(EmitError::Serialize)?;
        self.inner.client.write(frames(encoded), false)
    }

    /// Sends the event `event` with arguments already built (received arguments, for
    /// example: they are re-sent as received, without parsing).
    pub fn emit_args(&self, event: &str, args: Args) -> Result<(), EmitError> {
        check_name(event)?;
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        self.notify_outgoing(event, || Ok(args.clone()))?;
        let packet = Packet::event(
            self.inner.ns.name().clone(),
            Str::from(event.to_owned()),
            args,
            None,
        );
        self.send_packet(&packet, false)
    }

    /// Sends `event` and waits for the client's acknowledgement (see [`AckFuture`]).
    pub fn emit_with_ack<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> AckFuture {
        AckFuture::new(self.clone(), event.to_owned(), Args::new(args))
    }

    /// Calls the `on_any_outgoing` callbacks; one that panics disconnects the socket, and the
    /// event is not sent.
    fn notify_outgoing(
        &self,
        event: &str,
        args: impl FnOnce() -> Result<Args, ArgsError>,
    ) -> Result<(), EmitError> {
        let outgoing = self.handlers().outgoing.clone();
        if !outgoing.is_empty() {
            if let Ok(args) = args() {
                for handler in outgoing {
                    let called = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        handler(event, &args);
                    }));
                    if let Err(payload) = called {
                        self.panicked("on_any_outgoing", &*payload);
                        return Err(EmitError::Disconnected);
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) fn emit_packet_with_id(
        &self,
        event: &str,
        args: Args,
        id: u64,
    ) -> Result<(), EmitError> {
        check_name(event)?;
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        self.notify_outgoing(event, || Ok(args.clone()))?;
        let packet = Packet::event(
            self.inner.ns.name().clone(),
            Str::from(event.to_owned()),
            args,
            Some(id),
        );
        self.send_packet(&packet, false)
    }

    pub(crate) fn send_packet(&self, packet: &Packet, volatile: bool) -> Result<(), EmitError> {
        self.inner.client.send_packet(packet, volatile)
    }

    /// Writes a pre-encoded packet (a broadcast) if the socket is connected; `false` if it
    /// was not written.
    pub(crate) fn deliver(&self, messages: &[Message], volatile: bool) -> bool {
        self.connected() && self.inner.client.write(messages.to_vec(), volatile).is_ok()
    }

    pub(crate) fn register_ack(&self, id: u64, tx: AckSender) {
        let mut acks = lock(&self.inner.acks);
        // Forget the acks nobody waits for any more (a broadcast's `emit_with_ack` that timed
        // out leaves its entry in every recipient that did not answer).
        acks.retain(|_, pending| match pending {
            AckSender::One(tx) => !tx.is_closed(),
            AckSender::Broadcast(sink) => !sink.is_closed(),
        });
        acks.insert(id, tx);
    }

    pub(crate) fn remove_ack(&self, id: u64) {
        lock(&self.inner.acks).remove(&id);
    }

    /// An ACK from the client; an unknown id is ignored.
    pub(crate) fn handle_ack(&self, id: u64, args: Args) {
        let pending = lock(&self.inner.acks).remove(&id);
        match pending {
            Some(AckSender::One(tx)) => {
                let _ = tx.send(args);
            }
            Some(AckSender::Broadcast(sink)) => sink.reply(args),
            None => {}
        }
    }

    // ----- rooms and broadcasting -----

    /// Joins `room`.
    pub async fn join(&self, room: impl Into<Str>) {
        self.join_all(vec![room.into()]).await;
    }

    /// Joins every room of `rooms`. Does nothing once the socket is disconnected (its rooms
    /// are gone).
    pub async fn join_all(&self, rooms: Vec<Str>) {
        if !self.connected() {
            return;
        }
        self.inner
            .ns
            .adapter()
            .add_all(self.inner.id.clone(), rooms)
            .await;
    }

    /// Leaves `room`.
    pub async fn leave(&self, room: impl Into<Str>) {
        self.inner
            .ns
            .adapter()
            .del(self.inner.id.clone(), room.into())
            .await;
    }

    /// The rooms of this socket (its own id included).
    pub async fn rooms(&self) -> Vec<Str> {
        self.inner
            .ns
            .adapter()
            .socket_rooms(self.inner.id.clone())
            .await
    }

    /// Everyone else in the namespace (socket.io's `socket.broadcast`).
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.inner.ns.clone()).except(self.inner.id.clone())
    }

    /// The sockets in `room`, except this one.
    pub fn to(&self, room: impl Into<Str>) -> BroadcastOperator {
        self.broadcast().to(room)
    }

    /// Everyone else in the namespace except those in `room`.
    pub fn except(&self, room: impl Into<Str>) -> BroadcastOperator {
        self.broadcast().except(room)
    }

    // ----- disconnecting -----

    /// Disconnects from the namespace (the client gets DISCONNECT, reason `"io server
    /// disconnect"`); with `close`, disconnects every namespace of the client and closes the
    /// connection.
    pub fn disconnect(&self, close: bool) {
        if close {
            self.inner.client.disconnect_all();
        } else {
            self.close_with(SocketDisconnectReason::ServerNamespaceDisconnect, true);
        }
    }

    /// Marks the socket disconnected and wakes its task, which runs the disconnect handlers.
    pub(crate) fn close_with(&self, reason: SocketDisconnectReason, send_packet: bool) {
        if !self.inner.connected.swap(false, Ordering::AcqRel) {
            return;
        }
        if send_packet {
            let packet = Packet::new(self.inner.ns.name().clone(), PacketData::Disconnect);
            let _ = self.inner.client.send_packet(&packet, false);
        }
        self.inner
            .client
            .remove(self.inner.ns.name(), &self.inner.id);
        lock(&self.inner.acks).clear();
        let mut queue = lock(&self.inner.queue);
        queue.disconnected = Some(reason);
        if !queue.running && !queue.finished {
            queue.running = true;
            drop(queue);
            tokio::spawn(self.clone().drain(Vec::new()));
        }
    }

    pub(crate) fn set_connected(&self) {
        self.inner.connected.store(true, Ordering::Release);
    }

    /// Queues an event for the socket's task (started if needed); gives it back when the
    /// queue is full. Dropped if a handler of the socket panicked or its disconnect handlers
    /// ran: nothing would handle it.
    #[allow(clippy::result_large_err)] // the event itself comes back, to be queued later
    pub(crate) fn try_enqueue(&self, incoming: Incoming) -> Result<(), Incoming> {
        let mut queue = lock(&self.inner.queue);
        if queue.failed || queue.finished {
            return Ok(());
        }
        let config = self.inner.ns.config();
        // At most `socket_queue` events and `max_buffered_bytes` bytes (one event always fits
        // in an empty queue).
        let full = queue.items.len() >= config.socket_queue.max(1)
            || (!queue.items.is_empty()
                && queue.bytes.saturating_add(incoming.size) > config.engine.max_buffered_bytes);
        if full {
            queue.space_wanted = true;
            return Err(incoming);
        }
        queue.bytes += incoming.size;
        queue.items.push_back(incoming);
        if !queue.running {
            queue.running = true;
            drop(queue);
            tokio::spawn(self.clone().drain(Vec::new()));
        }
        Ok(())
    }

    /// Queues an event, waiting while the queue is full.
    pub(crate) async fn enqueue(&self, mut incoming: Incoming) {
        loop {
            let space = self.inner.space.notified();
            match self.try_enqueue(incoming) {
                Ok(()) => return,
                Err(back) => incoming = back,
            }
            space.await;
        }
    }

    /// Starts the socket's task: the `connection` handlers, then the events in order.
    pub(crate) fn start(&self, on_connection: Vec<super::namespace::ConnectionHandler>) {
        lock(&self.inner.queue).running = true;
        tokio::spawn(self.clone().drain(on_connection));
    }

    /// The socket's task: runs `on_connection`, then the queued events in order; once the
    /// queue is empty it ends, or, when the socket disconnected, runs the disconnect handlers.
    async fn drain(self, on_connection: Vec<super::namespace::ConnectionHandler>) {
        let mut guard = TaskGuard {
            socket: self.clone(),
            done: false,
        };
        for handler in on_connection {
            let socket = self.clone();
            let run = async move { handler(socket).await };
            if !self.guarded("on_connection", run).await {
                // The socket is disconnected: its later `connection` handlers do not run.
                break;
            }
        }
        loop {
            let (item, reason) = {
                let mut queue = lock(&self.inner.queue);
                match queue.items.pop_front() {
                    Some(item) => {
                        queue.bytes -= item.size;
                        if queue.items.is_empty() {
                            queue.items = VecDeque::new();
                        }
                        if std::mem::take(&mut queue.space_wanted) {
                            self.inner.space.notify_one();
                        }
                        (Some(item), None)
                    }
                    None => match queue.disconnected {
                        Some(reason) if !queue.finished => {
                            queue.finished = true;
                            (None, Some(reason))
                        }
                        _ => {
                            queue.running = false;
                            break;
                        }
                    },
                }
            };
            if let Some(item) = item {
                self.dispatch(item).await;
            }
            if let Some(reason) = reason {
                self.finish(reason).await;
                break;
            }
        }
        guard.done = true;
    }

    /// After the disconnection: `disconnecting` handlers, leaving the rooms, `disconnect`
    /// handlers. A handler that panics is logged; the others still run, and the socket still
    /// leaves its rooms and the namespace.
    async fn finish(&self, reason: SocketDisconnectReason) {
        let disconnecting = self.handlers().disconnecting.clone();
        for handler in disconnecting {
            let socket = self.clone();
            self.guarded(
                "on_disconnecting",
                async move { handler(socket, reason).await },
            )
            .await;
        }
        let adapter = self.inner.ns.adapter().clone();
        let id = self.inner.id.clone();
        self.guarded("adapter del_all", async move { adapter.del_all(id).await })
            .await;
        self.inner.ns.remove_socket(&self.inner.id);
        let disconnect = std::mem::take(&mut self.handlers_mut().disconnect);
        for handler in disconnect {
            let socket = self.clone();
            self.guarded(
                "on_disconnect",
                async move { handler(socket, reason).await },
            )
            .await;
        }
        // Drop the handlers: they may hold clones of this socket.
        *self.handlers_mut() = Handlers::default();
    }

    /// Handles one event: `on_any`, the per-packet middlewares, the event's handler. A handler
    /// that panics disconnects the socket and ends the event.
    async fn dispatch(&self, item: Incoming) {
        let (middlewares, any) = {
            let handlers = self.handlers();
            (handlers.middlewares.clone(), handlers.any.clone())
        };
        for handler in any {
            let (socket, name, args) = (self.clone(), item.name.clone(), item.args.clone());
            let run = async move { handler(socket, name, args).await };
            if !self.guarded("on_any", run).await {
                return;
            }
        }
        for middleware in middlewares {
            let (socket, name, args) = (self.clone(), item.name.clone(), item.args.clone());
            let run = async move { middleware(socket, name, args).await };
            let Some(result) = self.guarded_output("use_middleware", run).await else {
                return;
            };
            if let Err(error) = result {
                let errors = self.handlers().errors.clone();
                for handler in errors {
                    let called = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        handler(self, &error);
                    }));
                    if let Err(payload) = called {
                        self.panicked("on_error", &*payload);
                        return;
                    }
                }
                return;
            }
        }
        if lock(&self.inner.queue).failed {
            // An `on_any_outgoing` callback panicked meanwhile.
            return;
        }
        let handler = self
            .handlers()
            .events
            .iter()
            .find(|(name, _)| name.as_str() == item.name.as_str())
            .map(|(_, handler)| handler.clone());
        if let Some(handler) = handler {
            let (socket, args, ack) = (self.clone(), item.args, Ack::new(self.clone(), item.id));
            self.guarded(
                "event handler",
                async move { handler(socket, args, ack).await },
            )
            .await;
        }
    }

    /// Runs a handler's future (the call that makes it included), catching a panic; `false`
    /// if it panicked (see [`panicked`](Self::panicked)).
    async fn guarded(&self, handler: &'static str, run: impl Future<Output = ()>) -> bool {
        self.guarded_output(handler, run).await.is_some()
    }

    async fn guarded_output<T>(
        &self,
        handler: &'static str,
        run: impl Future<Output = T>,
    ) -> Option<T> {
        match AssertUnwindSafe(run).catch_unwind().await {
            Ok(output) => Some(output),
            Err(payload) => {
                self.panicked(handler, &*payload);
                None
            }
        }
    }

    /// A handler of this socket panicked: logs it and disconnects the socket like
    /// [`disconnect(false)`](Self::disconnect) (the client gets DISCONNECT, the reason is
    /// `"server namespace disconnect"`); the events still queued are dropped. The disconnect
    /// handlers run next (unless they are what panicked: then the others go on).
    pub(crate) fn panicked(&self, handler: &'static str, payload: &(dyn Any + Send)) {
        tracing::error!(
            socket = %self.inner.id,
            nsp = %self.inner.ns.name(),
            sid = %self.inner.client.sender.sid(),
            handler,
            panic = panic_message(payload),
            "a handler panicked: the socket is disconnected"
        );
        self.close_with(SocketDisconnectReason::ServerNamespaceDisconnect, true);
        self.drop_queued();
    }

    /// Drops the queued events (and those that arrive later), letting a waiting `enqueue`
    /// through.
    fn drop_queued(&self) {
        let mut queue = lock(&self.inner.queue);
        queue.failed = true;
        queue.items = VecDeque::new();
        queue.bytes = 0;
        drop(queue);
        self.inner.space.notify_one();
    }

    /// The socket's task ended early (see [`TaskGuard`]): the socket is disconnected and its
    /// state reset. After a panic, a new task runs the disconnect handlers, unless the panic
    /// happened while they ran: then the socket leaves its rooms and the namespace here.
    fn task_died(&self) {
        let panicking = std::thread::panicking();
        if panicking {
            tracing::error!(
                socket = %self.inner.id,
                nsp = %self.inner.ns.name(),
                sid = %self.inner.client.sender.sid(),
                "the socket's task panicked: the socket is disconnected"
            );
        }
        if self.inner.connected.swap(false, Ordering::AcqRel) && panicking {
            let packet = Packet::new(self.inner.ns.name().clone(), PacketData::Disconnect);
            let _ = self.inner.client.send_packet(&packet, false);
        }
        self.inner
            .client
            .remove(self.inner.ns.name(), &self.inner.id);
        lock(&self.inner.acks).clear();
        let restart = {
            let mut queue = lock(&self.inner.queue);
            queue.failed = true;
            queue.items = VecDeque::new();
            queue.bytes = 0;
            queue
                .disconnected
                .get_or_insert(SocketDisconnectReason::ServerNamespaceDisconnect);
            let restart = panicking && !queue.finished;
            queue.running = restart;
            restart
        };
        self.inner.space.notify_one();
        let runtime = tokio::runtime::Handle::try_current().ok();
        match runtime {
            Some(runtime) if restart => {
                runtime.spawn(self.clone().drain(Vec::new()));
            }
            _ => {
                self.inner.ns.remove_socket(&self.inner.id);
                if let Some(runtime) = runtime.filter(|_| panicking) {
                    let adapter = self.inner.ns.adapter().clone();
                    let id = self.inner.id.clone();
                    runtime.spawn(async move { adapter.del_all(id).await });
                }
            }
        }
    }
}

fn check_name(event: &str) -> Result<(), EmitError> {
    if RESERVED_EVENTS.contains(&event) {
        Err(EmitError::ReservedName)
    } else {
        Ok(())
    }
}

/// The Engine.IO messages of an encoded packet.
pub(crate) fn frames(encoded: sio_protocol::socket::Encoded) -> Vec<Message> {
    encoded
        .into_frames()
        .map(|frame| match frame {
            sio_protocol::engine::Frame::Text(text) => Message::Text(text),
            sio_protocol::engine::Frame::Binary(data) => Message::Binary(data),
        })
        .collect()
}
