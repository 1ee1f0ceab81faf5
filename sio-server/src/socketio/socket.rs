//! [`Socket`]: one client in one namespace, its handlers and the task that runs them in order.
//!
//! The socket sits above its namespace and its connection (`conn.rs`): it implements what the
//! layers below ask of a socket (the adapter layer's `LocalSocket`, the connection's
//! `ConnSocket`, the acknowledgements' `AckSocket`), and the namespace's side of its sockets
//! is written here (`impl Namespace`: `use_middleware`, `on_connection`, `sockets`,
//! `get_socket`, with the connect middlewares' and connection handlers' types).

use std::any::{Any, TypeId};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use futures_util::FutureExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sio_protocol::socket::{
    AckFailure, Args, EventName, Packet, RESERVED_EVENTS, ServerDisconnectReason,
};
use sio_protocol::{Error as ProtocolError, Map, Str, Value};
use tokio::sync::{Notify, oneshot};
use tracing::Instrument;

use super::ack::{Ack, AckFuture, AckSocket, IntoAckSocket};
use super::adapter::{BroadcastOptions, BroadcastPacket, LocalSocket, encode_packet};
use super::broadcast::BroadcastOperator;
use super::conn::{AckSender, ClientShared, ConnSocket, frames};
use super::error::Error;
use super::future::BoxFuture;
use super::handshake::Handshake;
use super::namespace::Namespace;
use super::recovery::SessionState;
use crate::engine::message::Message;
use crate::engine::session_task::panic_message;

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

impl From<ServerDisconnectReason> for SocketDisconnectReason {
    fn from(reason: ServerDisconnectReason) -> Self {
        use ServerDisconnectReason as R;
        match reason {
            R::TransportClose => Self::TransportClose,
            R::PingTimeout => Self::PingTimeout,
            R::ParseError => Self::ParseError,
            R::ForcedClose => Self::ForcedClose,
            R::ServerNamespaceDisconnect => Self::ServerNamespaceDisconnect,
            R::ClientNamespaceDisconnect => Self::ClientNamespaceDisconnect,
            R::ServerShuttingDown => Self::ServerShuttingDown,
            R::ForcedServerClose => Self::ForcedServerClose,
            _ => Self::TransportError,
        }
    }
}

impl From<SocketDisconnectReason> for ServerDisconnectReason {
    fn from(reason: SocketDisconnectReason) -> Self {
        use SocketDisconnectReason as R;
        match reason {
            R::TransportClose => Self::TransportClose,
            R::TransportError => Self::TransportError,
            R::PingTimeout => Self::PingTimeout,
            R::ParseError => Self::ParseError,
            R::ForcedClose => Self::ForcedClose,
            R::ServerNamespaceDisconnect => Self::ServerNamespaceDisconnect,
            R::ClientNamespaceDisconnect => Self::ClientNamespaceDisconnect,
            R::ServerShuttingDown => Self::ServerShuttingDown,
            R::ForcedServerClose => Self::ForcedServerClose,
        }
    }
}

impl fmt::Display for SocketDisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub(crate) type ConnectMiddleware =
    Arc<dyn Fn(Socket) -> BoxFuture<'static, Result<(), Error>> + Send + Sync>;
pub(crate) type ConnectionHandler = Arc<dyn Fn(Socket) -> BoxFuture<'static, ()> + Send + Sync>;

/// The connect middlewares and connection handlers of a namespace (they take a [`Socket`]),
/// kept in its handlers for this layer (`NsHandlers::upper`).
#[derive(Default)]
pub(crate) struct ConnectHandlers {
    middlewares: RwLock<Vec<ConnectMiddleware>>,
    connection: RwLock<Vec<ConnectionHandler>>,
}

impl ConnectHandlers {
    pub(crate) fn middlewares(&self) -> Vec<ConnectMiddleware> {
        self.middlewares
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn connection(&self) -> Vec<ConnectionHandler> {
        self.connection
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn add_middleware(&self, middleware: ConnectMiddleware) {
        self.middlewares
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(middleware);
    }

    pub(crate) fn add_connection(&self, handler: ConnectionHandler) {
        self.connection
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(handler);
    }
}

pub(crate) fn boxed_middleware<F, Fut>(middleware: F) -> ConnectMiddleware
where
    F: Fn(Socket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    Arc::new(move |socket| Box::pin(middleware(socket)))
}

pub(crate) fn boxed_handler<F, Fut>(handler: F) -> ConnectionHandler
where
    F: Fn(Socket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Arc::new(move |socket| Box::pin(handler(socket)))
}

// The namespace's side of its sockets, written here, above the namespace, which does not
// know `Socket`: its sockets (which it keeps as the adapter layer's `LocalSocket`s), its
// connect middlewares and its connection handlers.
impl Namespace {
    /// The connect middlewares and connection handlers.
    pub(crate) fn connect_handlers(&self) -> &ConnectHandlers {
        self.handlers().upper::<ConnectHandlers>()
    }

    /// Adds a connect middleware: it runs for every CONNECT to this namespace, in the order
    /// added, before the socket is connected; an `Err` refuses the connection (the client
    /// gets `connect_error` with the message and data).
    ///
    /// ```
    /// use sio_server::{Error, SocketIo, SocketIoConfig};
    ///
    /// let io = SocketIo::new(SocketIoConfig::default());
    /// io.of("/admin").use_middleware(|socket| async move {
    ///     match socket.handshake().auth.get("token").and_then(|t| t.as_str()) {
    ///         Some("secret") => Ok(()),
    ///         _ => Err(Error::rejected("not authorized").with_data(&"token missing")),
    ///     }
    /// });
    /// ```
    pub fn use_middleware<F, Fut>(&self, middleware: F) -> &Self
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.connect_handlers()
            .add_middleware(boxed_middleware(middleware));
        self
    }

    /// Runs `handler` for every socket that connects, first in the socket's task (see
    /// [the handler order](crate::SocketIo#handler-order)).
    pub fn on_connection<F, Fut>(&self, handler: F) -> &Self
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.connect_handlers()
            .add_connection(boxed_handler(handler));
        self
    }

    /// The connected sockets of this server in this namespace.
    pub fn sockets(&self) -> Vec<Socket> {
        self.local_sockets()
            .into_iter()
            .map(Socket::from_local)
            .collect()
    }

    /// The local socket `id`.
    pub fn get_socket(&self, id: &str) -> Option<Socket> {
        self.local_socket(id).map(Socket::from_local)
    }
}

/// An event's handler: its future, or the arguments' mismatch with its type.
type EventHandlerFn =
    dyn Fn(Socket, Args, Ack) -> Result<BoxFuture<'static, ()>, ProtocolError> + Send + Sync;
type EventHandler = Arc<EventHandlerFn>;
type AnyHandler = Arc<dyn Fn(Socket, EventName, Args) -> BoxFuture<'static, ()> + Send + Sync>;
type OutgoingHandler = Arc<dyn Fn(&str, &Args) + Send + Sync>;
type PacketMiddleware =
    Arc<dyn Fn(Socket, EventName, Args) -> BoxFuture<'static, Result<(), Error>> + Send + Sync>;
type ErrorHandler = Arc<dyn Fn(&Socket, &Error) + Send + Sync>;
type DisconnectHandler =
    Arc<dyn Fn(Socket, SocketDisconnectReason) -> BoxFuture<'static, ()> + Send + Sync>;

#[derive(Default)]
struct Handlers {
    /// By event name, in the order they were added. A list, not a map: a socket has a few
    /// handlers, and every socket holds its own (an idle connection should hold little).
    events: Vec<(Str, EventHandler)>,
    disconnect: Vec<DisconnectHandler>,
    /// The kinds of handlers few sockets have, allocated for the first one.
    rare: Option<Box<RareHandlers>>,
}

#[derive(Default)]
struct RareHandlers {
    any: Vec<AnyHandler>,
    outgoing: Vec<OutgoingHandler>,
    middlewares: Vec<PacketMiddleware>,
    errors: Vec<ErrorHandler>,
    disconnecting: Vec<DisconnectHandler>,
}

impl Handlers {
    fn rare_mut(&mut self) -> &mut RareHandlers {
        self.rare.get_or_insert_with(Box::default)
    }

    /// A copy of one list of the rare handlers (empty when there are none).
    fn rare<T: Clone>(&self, list: impl FnOnce(&RareHandlers) -> &Vec<T>) -> Vec<T> {
        self.rare.as_deref().map(list).cloned().unwrap_or_default()
    }
}

/// A socket's typed data ([`Socket::insert_data`]) and its `data` ([`Socket::set_data`]), by
/// type. A list, not a map: a socket holds a few, often none.
#[derive(Default)]
struct Extensions(Vec<(TypeId, Box<dyn Any + Send + Sync>)>);

impl Extensions {
    fn get<T: 'static>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.0
            .iter()
            .find(|(t, _)| *t == id)
            .and_then(|(_, b)| b.downcast_ref::<T>())
    }

    fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        let id = TypeId::of::<T>();
        match self.0.iter_mut().find(|(t, _)| *t == id) {
            Some(entry) => entry.1 = Box::new(value),
            None => self.0.push((id, Box::new(value))),
        }
    }

    fn remove<T: 'static>(&mut self) {
        let id = TypeId::of::<T>();
        self.0.retain(|(t, _)| *t != id);
    }

    fn get_or_insert_with<T: Send + Sync + 'static>(&mut self, f: impl FnOnce() -> T) -> &mut T {
        let id = TypeId::of::<T>();
        let index = match self.0.iter().position(|(t, _)| *t == id) {
            Some(index) => index,
            None => {
                self.0.push((id, Box::new(f())));
                self.0.len() - 1
            }
        };
        self.0[index]
            .1
            .downcast_mut::<T>()
            .expect("an entry holds a value of its type")
    }
}

/// The `data` of a socket ([`Socket::set_data`]), kept in its extensions map (nothing when
/// unset).
struct SharedData(Value);

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
/// ```
/// use sio_server::{Ack, Socket, SocketIo, SocketIoConfig};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let io = SocketIo::new(SocketIoConfig::default());
/// io.of("/").on_connection(|socket| async move {
///     socket.on("chat", |socket: Socket, (room, text): (String, String), ack: Ack| async move {
///         let _ = socket.to(room).emit("chat", &(&text,)).await;
///         let _ = ack.send(&"delivered");
///     });
/// });
/// let server = io.listen("127.0.0.1:0").await?; // a free port
/// # // A client in the same process.
/// # let client = sio_client::io(&format!("http://{}/", server.local_addr()), Default::default())?;
/// # let reply = client.timeout(std::time::Duration::from_secs(10)).emit_with_ack("chat", &("lobby", "hi")).await?;
/// # assert_eq!(reply.deserialize::<(String,)>()?.0, "delivered");
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
    client: Arc<ClientShared<Socket>>,
    connected: AtomicBool,
    /// Connection state recovery restored this socket's session.
    recovered: AtomicBool,
    handlers: RwLock<Handlers>,
    extensions: Mutex<Extensions>,
    /// Events waiting for the socket's task, which exists only while there is work (an idle
    /// socket has no task, no channel).
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
    /// The pid to persist the session under, once disconnected (connection state recovery).
    persist: Option<Str>,
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
        self.inner.fmt(f)
    }
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.id)
            .field("nsp", self.ns.name())
            .field("connected", &self.connected.load(Ordering::Acquire))
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
        client: Arc<ClientShared<Socket>>,
    ) -> Socket {
        Socket {
            inner: Arc::new(Inner {
                id,
                ns,
                handshake,
                client,
                connected: AtomicBool::new(false),
                recovered: AtomicBool::new(false),
                handlers: RwLock::new(Handlers::default()),
                extensions: Mutex::new(Extensions::default()),
                queue: Mutex::new(Queue::default()),
                space: Notify::new(),
            }),
        }
    }

    /// The `socket.io` span (level INFO) the socket's task runs in: the socket id, the
    /// namespace, the Engine.IO session id, the handshake's address. Made for each run of the
    /// task (an idle socket holds none; without a subscriber for it, nothing is allocated).
    fn span(&self) -> tracing::Span {
        tracing::info_span!(
            "socket.io",
            socket = %self.inner.id,
            nsp = %self.inner.ns.name(),
            sid = %self.inner.client.sender.sid(),
            address = ?self.inner.handshake.address,
        )
    }

    /// The socket as the namespace's socket table (and the adapter layer) keeps it.
    pub(crate) fn as_local(&self) -> Arc<dyn LocalSocket> {
        self.inner.clone()
    }

    /// The socket of an entry of the namespace's socket table (every one is a socket's, made
    /// by [`as_local`](Self::as_local)).
    pub(crate) fn from_local(local: Arc<dyn LocalSocket>) -> Socket {
        let inner = local
            .into_any()
            .downcast::<Inner>()
            .expect("every socket of a namespace is a Socket");
        Socket { inner }
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

    /// Whether connection state recovery restored this socket's session
    /// ([`ConnectionStateRecovery`](crate::ConnectionStateRecovery)): it has the id, rooms and
    /// `data` it had before its connection was cut, and the events it missed were sent
    /// (socket.io's `socket.recovered`).
    pub fn recovered(&self) -> bool {
        self.inner.recovered.load(Ordering::Acquire)
    }

    /// Restored from a recovered session: its `data`, and `recovered` (or, with `None`, a
    /// recovery that failed at the last moment: a fresh socket again).
    pub(crate) fn set_recovered(&self, data: Option<Value>) {
        let recovered = data.is_some();
        let mut extensions = lock(&self.inner.extensions);
        match data {
            Some(data) => extensions.insert(SharedData(data)),
            None => extensions.remove::<SharedData>(),
        }
        self.inner.recovered.store(recovered, Ordering::Release);
    }

    /// The Engine.IO session id of the client's connection.
    pub fn engine_sid(&self) -> &Str {
        self.inner.client.sender.sid()
    }

    /// The transport in use now.
    pub fn transport(&self) -> sio_protocol::engine::TransportKind {
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
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let io = sio_server::SocketIo::new(Default::default());
    /// # let (tx, mut connected) = tokio::sync::mpsc::unbounded_channel();
    /// io.of("/").on_connection(|socket| async move {
    ///     let _ = socket.set_data(&serde_json::json!({"user": "ann", "level": 3}));
    /// });
    /// # // Connection handlers run in order: this one after the data is set.
    /// # io.of("/").on_connection(move |_socket| { let _ = tx.send(()); async {} });
    /// # // A client in the same process.
    /// # let server = io.listen("127.0.0.1:0").await?;
    /// # let _client = sio_client::io(&format!("http://{}/", server.local_addr()), Default::default())?;
    /// # connected.recv().await;
    /// // On any server of the cluster:
    /// # let mut users = Vec::new();
    /// for socket in io.of("/").fetch_sockets().await.unwrap_or_default() {
    ///     println!("{} is {}", socket.id(), socket.data()["user"]);
    /// #   users.push(socket.data()["user"].clone());
    /// }
    /// # assert_eq!(users, ["ann"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_data<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), Error> {
        let value = Value::from_serialize(data).map_err(Error::args)?;
        lock(&self.inner.extensions).insert(SharedData(value));
        Ok(())
    }

    /// A copy of this socket's `data` (see [`set_data`](Self::set_data)): an empty object
    /// until set, as in socket.io.
    pub fn data_value(&self) -> Value {
        LocalSocket::data_value(&*self.inner)
    }

    /// Runs `f` on this socket's `data` in place (socket.io's `socket.data.x = ...`; it starts
    /// as an empty object).
    pub fn update_data<R>(&self, f: impl FnOnce(&mut Value) -> R) -> R {
        let mut map = lock(&self.inner.extensions);
        let data = map.get_or_insert_with(|| SharedData(Value::Object(Map::new())));
        f(&mut data.0)
    }

    /// Stores `value` as this socket's data of type `T` (replacing the previous one). It stays
    /// on this server; [`set_data`](Self::set_data) is the data other servers see.
    pub fn insert_data<T: Send + Sync + 'static>(&self, value: T) {
        lock(&self.inner.extensions).insert(value);
    }

    /// A copy of this socket's data of type `T`.
    pub fn data<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        lock(&self.inner.extensions).get::<T>().cloned()
    }

    /// Runs `f` on this socket's data of type `T` (inserting `T::default()` if absent).
    pub fn with_data<T: Default + Send + Sync + 'static, R>(
        &self,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        let mut map = lock(&self.inner.extensions);
        f(map.get_or_insert_with(T::default))
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

    /// Adds `handler` for the event `event` (socket.io's `socket.on(event, fn)`), and returns
    /// its id for [`off_handler`](Self::off_handler). Handlers add up, as in JavaScript: the
    /// handlers of one event run in the order they were added, one after the other (see
    /// [the handler order](crate::SocketIo#handler-order)); [`off`](Self::off) removes them.
    ///
    /// A handler is an async closure of the socket and the arguments read as `T` (a tuple for
    /// several arguments; see [`Args::deserialize`]), with or without the [`Ack`] that answers
    /// the client's ack request (see [`handler`](crate::handler)). Arguments that do not
    /// match `T` do not call it: the [`on_error`](Self::on_error) hooks get an
    /// [`ErrorKind::Deserialize`](crate::ErrorKind::Deserialize) error naming the event, and a
    /// warning is logged; the socket stays connected. [`on_args`](Self::on_args) takes the
    /// arguments as they are.
    ///
    /// ```
    /// use serde::Deserialize;
    /// use sio_server::{Ack, Socket};
    ///
    /// #[derive(Deserialize)]
    /// struct Chat {
    ///     room: String,
    ///     text: String,
    /// }
    ///
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let io = sio_server::SocketIo::new(Default::default());
    /// # let (errors, mut error) = tokio::sync::mpsc::unbounded_channel();
    /// # io.of("/").on_connection(move |socket| {
    /// # let errors = errors.clone();
    /// # socket.on_error(move |_s, e| { let _ = errors.send(e.to_string()); });
    /// # async move {
    /// // Typed, no ack.
    /// socket.on("chat", |socket: Socket, chat: Chat| async move {
    ///     let _ = socket.to(chat.room).emit("chat", &(&chat.text,)).await;
    /// });
    /// // Several arguments as a tuple, and the ack.
    /// socket.on("sum", |_socket: Socket, (a, b): (i64, i64), ack: Ack| async move {
    ///     let _ = ack.send(&(a + b));
    /// });
    /// // Arguments a typed handler cannot read.
    /// socket.on_error(|socket, error| eprintln!("{}: {error} ({:?})", socket.id(), error.event()));
    /// # }});
    /// # let server = io.listen("127.0.0.1:0").await?;
    /// # let client = sio_client::io(&format!("http://{}/", server.local_addr()), Default::default())?;
    /// # let timeout = std::time::Duration::from_secs(10);
    /// # let sum = client.timeout(timeout).emit_with_ack("sum", &(2, 3)).await?;
    /// # assert_eq!(sum.deserialize::<(i64,)>()?.0, 5);
    /// # client.emit("sum", &("two", 3))?;
    /// # assert!(error.recv().await.unwrap().contains("sum"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn on<H: Handler<M>, M>(&self, event: impl Into<String>, handler: H) -> HandlerId {
        let handler: EventHandler =
            Arc::new(move |socket, args, ack| handler.call(socket, args, ack));
        self.listen(event.into(), handler)
    }

    /// Adds a handler of the event `event` that takes its raw [`Args`] (and the [`Ack`]), in
    /// the same list as [`on`](Self::on)'s.
    pub fn on_args<F, Fut>(&self, event: impl Into<String>, handler: F) -> HandlerId
    where
        F: Fn(Socket, Args, Ack) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: EventHandler = Arc::new(move |s, a, k| Ok(Box::pin(handler(s, a, k))));
        self.listen(event.into(), handler)
    }

    fn listen(&self, event: String, handler: EventHandler) -> HandlerId {
        // The id is a weak handle of the handler's allocation: it costs the socket nothing,
        // and while the id lives no other handler can be allocated at the same address.
        let id = HandlerId(Arc::downgrade(&handler));
        // The name is the namespace's copy: the sockets of a namespace mostly add handlers for
        // the same events, and a copy per socket and event costs an allocation each.
        let name = self.inner.ns.event_name(event);
        self.handlers_mut().events.push((name, handler));
        id
    }

    /// Removes every handler of `event` (socket.io's `socket.off(event)`, or
    /// `removeAllListeners(event)`).
    pub fn off(&self, event: &str) {
        self.handlers_mut()
            .events
            .retain(|(name, _)| name.as_str() != event);
    }

    /// Removes the one handler that [`on`](Self::on) or [`on_args`](Self::on_args) returned
    /// `id` for (`socket.off(event, fn)`: closures cannot be compared, so they are removed by
    /// id). False if it is gone already, or is another socket's (ids are unique in the
    /// process).
    pub fn off_handler(&self, id: &HandlerId) -> bool {
        let mut handlers = self.handlers_mut();
        let before = handlers.events.len();
        handlers
            .events
            .retain(|(_, handler)| !std::ptr::addr_eq(Arc::as_ptr(handler), id.0.as_ptr()));
        handlers.events.len() != before
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
        self.handlers_mut().rare_mut().any.push(handler);
    }

    /// Calls `handler` with every event this socket emits (socket.io's `onAnyOutgoing`):
    /// [`emit`](Self::emit) and [`emit_with_ack`](Self::emit_with_ack), not broadcasts.
    pub fn on_any_outgoing(&self, handler: impl Fn(&str, &Args) + Send + Sync + 'static) {
        self.handlers_mut()
            .rare_mut()
            .outgoing
            .push(Arc::new(handler));
    }

    /// Adds a per-packet middleware (socket.io's `socket.use`): it runs for every received
    /// event after `on_any` and before the handlers; an `Err` (say
    /// [`Error::rejected`]) drops the event and goes to the [`on_error`](Self::on_error)
    /// hooks.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let io = sio_server::SocketIo::new(Default::default());
    /// # let (errors, mut error) = tokio::sync::mpsc::unbounded_channel();
    /// # io.of("/").on_connection(move |socket| {
    /// # let errors = errors.clone();
    /// # socket.on_error(move |_s, e| { let _ = errors.send(e.to_string()); });
    /// # async move {
    /// use sio_server::Error;
    ///
    /// socket.use_middleware(|_socket, event, _args| async move {
    ///     match event.as_str() {
    ///         "admin" => Err(Error::rejected("not allowed")),
    ///         _ => Ok(()),
    ///     }
    /// });
    /// socket.on_error(|_socket, error| eprintln!("{error}")); // "not allowed"
    /// # }});
    /// # let server = io.listen("127.0.0.1:0").await?;
    /// # let client = sio_client::io(&format!("http://{}/", server.local_addr()), Default::default())?;
    /// # client.emit("admin", &())?;
    /// # assert_eq!(error.recv().await.unwrap(), "not allowed");
    /// # Ok(())
    /// # }
    /// ```
    pub fn use_middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket, EventName, Args) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        let middleware: PacketMiddleware = Arc::new(move |s, n, a| Box::pin(middleware(s, n, a)));
        self.handlers_mut().rare_mut().middlewares.push(middleware);
    }

    /// Calls `handler` when an event from the client does not reach its handlers (socket.io's
    /// `socket.on("error")`):
    ///
    /// - a per-packet middleware refused it ([`use_middleware`](Self::use_middleware)): the
    ///   middleware's error;
    /// - its arguments do not read as the type of a typed handler ([`on`](Self::on)): an
    ///   error of kind [`ErrorKind::Deserialize`](crate::ErrorKind::Deserialize), whose
    ///   [`event`](Error::event) is the event's name and whose source is the deserializer's
    ///   error (the event's other handlers still run; the mismatch is also logged as a
    ///   `tracing` warning).
    ///
    /// Runs on the socket's task, in the order of its events.
    pub fn on_error(&self, handler: impl Fn(&Socket, &Error) + Send + Sync + 'static) {
        self.handlers_mut()
            .rare_mut()
            .errors
            .push(Arc::new(handler));
    }

    /// Runs when the socket is disconnecting, while its rooms are still readable.
    pub fn on_disconnecting<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, SocketDisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: DisconnectHandler = Arc::new(move |s, r| Box::pin(handler(s, r)));
        self.handlers_mut().rare_mut().disconnecting.push(handler);
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
    ///
    /// `args` are serialized when `emit` is called, so the returned future borrows nothing
    /// (`'static`): it can be awaited, or handed to `tokio::spawn` from synchronous code (a
    /// [`Namespace::on_join_room`] listener, for example). Nothing is sent
    /// until the future is polled; events spawned one by one may go out in any order, events
    /// awaited one after the other go out in that order. The future completes when the
    /// packet is in the connection's send queue; it does not wait for room in the queue.
    ///
    /// Every error comes out of the future: a reserved event name or arguments that do not
    /// serialize ([`ErrorKind::Args`](crate::ErrorKind::Args)), a socket that is not
    /// connected, a full send queue.
    ///
    /// With [connection state recovery](crate::ConnectionStateRecovery) on, the event goes,
    /// as in socket.io, through the adapter to the room named by the socket's id, with an
    /// offset: it is kept for a recovery, and reaches the socket that recovers this one's
    /// session (same id) even when emitted while the connection was cut. The future then
    /// completes when the adapter has delivered it (and, for a cluster adapter, published
    /// it), and its error is the adapter's.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let io = sio_server::SocketIo::new(Default::default());
    /// let ns = io.of("/");
    /// ns.on_connection(|socket| async move {
    /// #   socket.join("lobby").await;
    ///     let name = String::from("sio");
    ///     if let Err(error) = socket.emit("welcome", &(&name, 42)).await {
    ///         eprintln!("welcome not sent: {error}");
    ///     }
    /// });
    /// // From a synchronous callback: spawn the future (it borrows neither `socket` nor the
    /// // arguments) and log its error there.
    /// let handle = ns.clone();
    /// ns.on_join_room(move |room, id| {
    ///     // Every socket joins the room of its own id first: not news to tell.
    ///     if room == id {
    ///         return;
    ///     }
    ///     if let Some(socket) = handle.get_socket(id) {
    ///         let sent = socket.emit("joined", &room.as_str());
    ///         tokio::spawn(async move {
    ///             if let Err(error) = sent.await {
    ///                 eprintln!("joined not sent: {error}");
    ///             }
    ///         });
    ///     }
    /// });
    /// # // A client in the same process: it gets both events.
    /// # let server = io.listen("127.0.0.1:0").await?;
    /// # let client = sio_client::io(&format!("http://{}/", server.local_addr()), Default::default())?;
    /// # let (seen, mut got) = tokio::sync::mpsc::unbounded_channel();
    /// # client.on_any(move |msg| { let _ = seen.send(msg.event().to_owned()); });
    /// # let mut events = vec![got.recv().await.unwrap(), got.recv().await.unwrap()];
    /// # events.sort();
    /// # assert_eq!(events, ["joined", "welcome"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static + use<T> {
        let prepared = self.prepare_emit(event, args);
        let socket = self.clone();
        async move { socket.send_prepared(prepared?).await }
    }

    /// Sends the event `event` with arguments already built (received arguments, for
    /// example: they are re-sent as received, without parsing).
    ///
    /// The same shape as [`emit`](Self::emit): the packet is encoded when `emit_args` is
    /// called, the future sends it, and goes through the adapter with connection state
    /// recovery on.
    pub fn emit_args(
        &self,
        event: &str,
        args: Args,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static + use<> {
        let prepared = self.prepare_emit_args(event, args);
        let socket = self.clone();
        async move { socket.send_prepared(prepared?).await }
    }

    /// The eager part of [`emit`](Self::emit): checks the name and serializes the
    /// arguments.
    fn prepare_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<PreparedEmit, Error> {
        check_name(event)?;
        if self.inner.ns.recovers() {
            let args = Args::new(args).map_err(Error::args)?;
            return self.prepare_emit_args(event, args);
        }
        // The `on_any_outgoing` callbacks take `Args`: built only when there are some (a
        // callback added between this call and the poll of the future does not see the event).
        let outgoing = if self.has_outgoing_handlers() {
            Args::new(args).ok()
        } else {
            None
        };
        let encoded = self
            .inner
            .client
            .encoder
            .encode_event(self.inner.ns.name(), event, args, None)
            .map_err(Error::args)?;
        Ok(PreparedEmit::Direct {
            event: event.to_owned(),
            outgoing,
            messages: frames(encoded),
        })
    }

    /// The eager part of [`emit_args`](Self::emit_args): checks the name and encodes the
    /// packet.
    fn prepare_emit_args(&self, event: &str, args: Args) -> Result<PreparedEmit, Error> {
        check_name(event)?;
        if self.inner.ns.recovers() {
            let packet = encode_packet(&self.inner.ns, event, args, None)?;
            return Ok(PreparedEmit::Recoverable(Arc::new(packet)));
        }
        let outgoing = self.has_outgoing_handlers().then(|| args.clone());
        let packet = Packet::event(
            self.inner.ns.name().clone(),
            Str::from(event.to_owned()),
            args,
            None,
        );
        let encoded = self
            .inner
            .client
            .encoder
            .encode(&packet)
            .map_err(Error::args)?;
        Ok(PreparedEmit::Direct {
            event: event.to_owned(),
            outgoing,
            messages: frames(encoded),
        })
    }

    /// The part of [`emit`](Self::emit) that runs when its future is polled: the
    /// `on_any_outgoing` callbacks, then the write (or, with connection state recovery on,
    /// the adapter's broadcast to the room named by the socket's id, which adds its offset
    /// and keeps the packet for a recovery, as in socket.io).
    async fn send_prepared(&self, prepared: PreparedEmit) -> Result<(), Error> {
        match prepared {
            PreparedEmit::Direct {
                event,
                outgoing,
                messages,
            } => {
                if !self.connected() {
                    return Err(Error::disconnected());
                }
                self.notify_outgoing(&event, || outgoing)?;
                self.inner
                    .client
                    .write(self.inner.ns.name(), messages, false)
            }
            PreparedEmit::Recoverable(packet) => {
                self.notify_outgoing(&packet.event, || Some(packet.args.clone()))?;
                let opts = BroadcastOptions::new(vec![self.inner.id.clone()], Vec::new());
                self.inner
                    .ns
                    .adapter()
                    .broadcast(packet, opts)
                    .await
                    .inspect_err(|_| {
                        crate::metrics::adapter_publish_failed();
                    })
            }
        }
    }

    /// Sends `event` and waits for the client's acknowledgement (see [`AckFuture`]).
    pub fn emit_with_ack<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> AckFuture {
        AckFuture::new(self.clone(), event.to_owned(), Args::new(args))
    }

    fn has_outgoing_handlers(&self) -> bool {
        self.handlers()
            .rare
            .as_ref()
            .is_some_and(|r| !r.outgoing.is_empty())
    }

    /// Calls the `on_any_outgoing` callbacks; one that panics disconnects the socket, and the
    /// event is not sent.
    fn notify_outgoing(
        &self,
        event: &str,
        args: impl FnOnce() -> Option<Args>,
    ) -> Result<(), Error> {
        let outgoing = self.handlers().rare(|r| &r.outgoing);
        if !outgoing.is_empty() {
            if let Some(args) = args() {
                for handler in outgoing {
                    let called = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        handler(event, &args);
                    }));
                    if let Err(payload) = called {
                        self.panicked("on_any_outgoing", &*payload);
                        return Err(Error::disconnected());
                    }
                }
            }
        }
        Ok(())
    }

    /// `emit_with_ack` with the ack id `id`: the event is written and the connection's session
    /// waits for the answer until `deadline`, which then goes to `tx`.
    pub(crate) fn emit_args_with_ack(
        &self,
        event: &str,
        args: Args,
        id: u64,
        deadline: Instant,
        tx: oneshot::Sender<Result<Args, AckFailure>>,
    ) -> Result<(), Error> {
        check_name(event)?;
        if !self.connected() {
            return Err(Error::disconnected());
        }
        self.notify_outgoing(event, || Some(args.clone()))?;
        let packet = Packet::event(
            self.inner.ns.name().clone(),
            Str::from(event.to_owned()),
            args,
            Some(id),
        );
        let encoded = self
            .inner
            .client
            .encoder
            .encode(&packet)
            .map_err(Error::args)?;
        self.inner.client.write_with_ack(
            self.inner.ns.name(),
            frames(encoded),
            (id, Some(deadline), AckSender::One(tx)),
        )
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
        BroadcastOperator::new(self.inner.ns.core()).except(self.inner.id.clone())
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
        LocalSocket::disconnect(&*self.inner, close);
    }

    /// The connection's session says the socket left its namespace: marks it disconnected
    /// and wakes its task, which runs the disconnect handlers.
    ///
    /// With `persist`, its task keeps its session under that pid for connection state
    /// recovery, once the `disconnecting` handlers ran (socket.io's order).
    pub(crate) fn on_disconnected(&self, reason: SocketDisconnectReason, persist: Option<Str>) {
        self.inner.connected.store(false, Ordering::Release);
        self.inner
            .client
            .remove(self.inner.ns.name(), &self.inner.id);
        let mut queue = lock(&self.inner.queue);
        if queue.disconnected.is_some() {
            return;
        }
        queue.disconnected = Some(reason);
        queue.persist = persist;
        crate::metrics::socket_disconnected(reason.as_str());
        if !queue.running && !queue.finished {
            queue.running = true;
            drop(queue);
            tokio::spawn(self.clone().drain(Vec::new()).instrument(self.span()));
        }
    }

    /// The session accepted the socket: it is connected, and its task is about to start (so
    /// that a disconnection that comes first does not start another one).
    pub(crate) fn set_connected(&self) {
        self.inner.connected.store(true, Ordering::Release);
        lock(&self.inner.queue).running = true;
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
            tokio::spawn(self.clone().drain(Vec::new()).instrument(self.span()));
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
    pub(crate) fn start(&self, on_connection: Vec<ConnectionHandler>) {
        tokio::spawn(self.clone().drain(on_connection).instrument(self.span()));
    }

    /// The socket's task: runs `on_connection`, then the queued events in order; once the
    /// queue is empty it ends, or, when the socket disconnected, runs the disconnect handlers.
    async fn drain(self, on_connection: Vec<ConnectionHandler>) {
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
        let disconnecting = self.handlers().rare(|r| &r.disconnecting);
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
        let persist = lock(&self.inner.queue).persist.take();
        if let Some(pid) = persist {
            let (adapter, id) = (adapter.clone(), id.clone());
            let data = self.data_value();
            let persisting = async move {
                let rooms = adapter.socket_rooms(id.clone()).await;
                adapter
                    .persist_session(SessionState::new(id, pid, rooms, data))
                    .await;
            };
            self.guarded("adapter persist_session", persisting).await;
        }
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
            (handlers.rare(|r| &r.middlewares), handlers.rare(|r| &r.any))
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
                self.report(&error);
                return;
            }
        }
        let handlers: Vec<EventHandler> = self
            .handlers()
            .events
            .iter()
            .filter(|(name, _)| name.as_str() == item.name.as_str())
            .map(|(_, handler)| handler.clone())
            .collect();
        let acks = Ack::shared(self.clone().into_ack_socket(), item.id, handlers.len());
        let last = handlers.len().saturating_sub(1);
        let mut args = Some(item.args);
        for (i, (handler, ack)) in handlers.into_iter().zip(acks).enumerate() {
            if lock(&self.inner.queue).failed {
                // An `on_any_outgoing` callback panicked meanwhile.
                return;
            }
            let args = if i == last {
                args.take().unwrap_or_default()
            } else {
                args.clone().unwrap_or_default()
            };
            let socket = self.clone();
            let run = async move {
                match handler(socket, args, ack) {
                    Ok(future) => {
                        future.await;
                        None
                    }
                    Err(mismatch) => Some(mismatch),
                }
            };
            let Some(outcome) = self.guarded_output("event handler", run).await else {
                return;
            };
            if let Some(mismatch) = outcome {
                tracing::warn!(
                    socket = %self.inner.id,
                    nsp = %self.inner.ns.name(),
                    event = item.name.as_str(),
                    error = %mismatch,
                    "the event's arguments do not match the handler's type: handler not called"
                );
                if !self.report(&Error::deserialize(item.name.as_str(), mismatch)) {
                    return;
                }
            }
        }
    }

    /// Gives `error` to the [`on_error`](Self::on_error) hooks; `false` if one panicked (the
    /// socket is disconnected then).
    fn report(&self, error: &Error) -> bool {
        let errors = self.handlers().rare(|r| &r.errors);
        for handler in errors {
            let called = std::panic::catch_unwind(AssertUnwindSafe(|| {
                handler(self, error);
            }));
            if let Err(payload) = called {
                self.panicked("on_error", &*payload);
                return false;
            }
        }
        true
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
        self.inner.client.disconnect(self.inner.ns.name());
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
        if self.inner.connected.load(Ordering::Acquire) {
            // The session forgets the socket (the client gets DISCONNECT); its disconnect
            // handlers run below.
            self.inner.client.disconnect(self.inner.ns.name());
        }
        self.inner.connected.store(false, Ordering::Release);
        self.inner
            .client
            .remove(self.inner.ns.name(), &self.inner.id);
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
                runtime.spawn(self.clone().drain(Vec::new()).instrument(self.span()));
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

/// An event [`Socket::emit`] has encoded, for its future to send.
enum PreparedEmit {
    /// Written to the connection: the encoded messages, and the arguments for the
    /// `on_any_outgoing` callbacks (`None` when the socket had none).
    Direct {
        event: String,
        outgoing: Option<Args>,
        messages: Vec<Message>,
    },
    /// With connection state recovery on: broadcast through the adapter.
    Recoverable(Arc<BroadcastPacket>),
}

/// The adapter layer acts on this server's sockets through this (see [`LocalSocket`]); the
/// namespace's socket table holds them so (see [`Socket::as_local`]).
impl LocalSocket for Inner {
    fn id(&self) -> &Str {
        &self.id
    }

    fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    fn data_value(&self) -> Value {
        lock(&self.extensions)
            .get::<SharedData>()
            .map(|d| d.0.clone())
            .unwrap_or_else(|| Value::Object(Map::new()))
    }

    fn deliver(
        &self,
        messages: &[Message],
        volatile: bool,
        ack: Option<(u64, Option<Instant>, AckSender)>,
    ) -> bool {
        if !self.connected.load(Ordering::Acquire) {
            return false;
        }
        let nsp = self.ns.name();
        let written = match ack {
            None => self.client.write(nsp, messages.to_vec(), volatile),
            Some(ack) => self.client.write_with_ack(nsp, messages.to_vec(), ack),
        };
        written.is_ok()
    }

    fn disconnect(&self, close: bool) {
        if close {
            self.client.disconnect_all();
        } else {
            self.client.disconnect(self.ns.name());
        }
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// Acknowledgements act on their socket through this (see [`AckSocket`]).
impl AckSocket for Inner {
    fn nsp(&self) -> &Str {
        self.ns.name()
    }

    fn send_packet(&self, packet: &Packet) -> Result<(), Error> {
        self.client.send_packet(packet)
    }

    fn ack_timeout(&self) -> std::time::Duration {
        self.ns.config().ack_timeout
    }

    fn next_ack_id(&self) -> u64 {
        self.ns.next_ack_id()
    }

    fn emit_args_with_ack(
        self: Arc<Self>,
        event: &str,
        args: Args,
        id: u64,
        deadline: Instant,
        tx: oneshot::Sender<Result<Args, AckFailure>>,
    ) -> Result<(), Error> {
        Socket { inner: self }.emit_args_with_ack(event, args, id, deadline, tx)
    }
}

impl IntoAckSocket for Socket {
    fn into_ack_socket(self) -> Arc<dyn AckSocket> {
        self.inner
    }
}

/// The connection knows its sockets through this (see [`ClientShared`]).
impl ConnSocket for Socket {
    fn nsp(&self) -> &str {
        self.inner.ns.name()
    }

    fn id(&self) -> &Str {
        &self.inner.id
    }

    fn on_disconnected(&self, reason: ServerDisconnectReason, persist: Option<Str>) {
        Socket::on_disconnected(self, reason.into(), persist);
    }
}

fn check_name(event: &str) -> Result<(), Error> {
    if RESERVED_EVENTS.contains(&event) {
        Err(Error::reserved(event))
    } else {
        Ok(())
    }
}

/// A handler of an event, for [`Socket::on`]: see the [`handler`](crate::handler) module for
/// the closures that are handlers. `M` is a marker type that tells the shapes apart; it is
/// inferred.
pub trait Handler<M>: Send + Sync + 'static {
    /// Calls the handler (implementation detail): its future, or why the arguments do not
    /// read as its type.
    #[doc(hidden)]
    fn call(
        &self,
        socket: Socket,
        args: Args,
        ack: Ack,
    ) -> Result<BoxFuture<'static, ()>, ProtocolError>;
}

/// Marker of the typed handlers without ack: `Fn(Socket, T) -> impl Future`.
#[derive(Debug)]
pub struct DataMarker<T>(PhantomData<fn() -> T>);

/// Marker of the typed handlers with ack: `Fn(Socket, T, Ack) -> impl Future`.
#[derive(Debug)]
pub struct DataAckMarker<T>(PhantomData<fn() -> T>);

impl<F, T, Fut> Handler<DataMarker<T>> for F
where
    F: Fn(Socket, T) -> Fut + Send + Sync + 'static,
    T: DeserializeOwned + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(
        &self,
        socket: Socket,
        args: Args,
        _ack: Ack,
    ) -> Result<BoxFuture<'static, ()>, ProtocolError> {
        let data = args.deserialize::<T>()?;
        Ok(Box::pin(self(socket, data)))
    }
}

impl<F, T, Fut> Handler<DataAckMarker<T>> for F
where
    F: Fn(Socket, T, Ack) -> Fut + Send + Sync + 'static,
    T: DeserializeOwned + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(
        &self,
        socket: Socket,
        args: Args,
        ack: Ack,
    ) -> Result<BoxFuture<'static, ()>, ProtocolError> {
        let data = args.deserialize::<T>()?;
        Ok(Box::pin(self(socket, data, ack)))
    }
}

/// The id of a handler added with [`Socket::on`] or [`Socket::on_args`], for
/// [`Socket::off_handler`]. It does not keep the handler alive (a weak handle of it).
#[derive(Clone)]
pub struct HandlerId(std::sync::Weak<EventHandlerFn>);

impl HandlerId {
    fn addr(&self) -> *const () {
        self.0.as_ptr() as *const ()
    }
}

impl PartialEq for HandlerId {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::addr_eq(self.0.as_ptr(), other.0.as_ptr())
    }
}

impl Eq for HandlerId {}

impl std::hash::Hash for HandlerId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.addr().hash(state);
    }
}

impl fmt::Debug for HandlerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HandlerId").field(&self.addr()).finish()
    }
}
