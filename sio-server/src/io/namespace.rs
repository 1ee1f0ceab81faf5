//! [`Namespace`]: a named group of sockets with its connect middlewares, connection handlers
//! and adapter; [`ConnectError`]: a refused CONNECT.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use serde::Serialize;
use sio_protocol::{Map, Str, Value};

use super::BoxFuture;
use super::adapter::{Adapter, LocalNamespace};
use super::broadcast::{BroadcastAckFuture, BroadcastOperator};
use super::config::SocketIoConfig;
use super::socket::{EmitError, Socket};

/// A refused CONNECT: the client gets `connect_error` with this `message` and `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectError {
    /// `err.message` on the client.
    pub message: String,
    /// `err.data` on the client (left out when `None`).
    pub data: Option<Value>,
}

impl ConnectError {
    /// An error with a message and no data.
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds `data` (anything serializable; `None` if it cannot be serialized).
    pub fn with_data<T: Serialize + ?Sized>(mut self, data: &T) -> Self {
        self.data = Value::from_serialize(data).ok();
        self
    }

    /// The CONNECT_ERROR payload: `{"message":..,"data":..}`.
    pub(crate) fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("message".to_owned(), Value::from(self.message.as_str()));
        if let Some(data) = &self.data {
            map.insert("data".to_owned(), data.clone());
        }
        Value::Object(map)
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConnectError {}

pub(crate) type ConnectMiddleware =
    Arc<dyn Fn(Socket) -> BoxFuture<'static, Result<(), ConnectError>> + Send + Sync>;
pub(crate) type ConnectionHandler = Arc<dyn Fn(Socket) -> BoxFuture<'static, ()> + Send + Sync>;

/// The middlewares and connection handlers of a namespace (shared by the children of a
/// dynamic namespace).
#[derive(Default)]
pub(crate) struct NsHandlers {
    middlewares: RwLock<Vec<ConnectMiddleware>>,
    connection: RwLock<Vec<ConnectionHandler>>,
}

impl NsHandlers {
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
    Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
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

/// A namespace (`/`, `/admin`...). Cheap to clone.
#[derive(Clone)]
pub struct Namespace {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    name: Str,
    handlers: Arc<NsHandlers>,
    sockets: RwLock<HashMap<Str, Socket>>,
    adapter: std::sync::OnceLock<Arc<dyn Adapter>>,
    ack_ids: AtomicU64,
    config: Arc<SocketIoConfig>,
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.inner.name)
            .finish_non_exhaustive()
    }
}

impl Namespace {
    pub(crate) fn new(
        name: Str,
        handlers: Arc<NsHandlers>,
        config: Arc<SocketIoConfig>,
        adapter: &super::adapter::AdapterFactory,
    ) -> Namespace {
        let ns = Namespace {
            inner: Arc::new(Inner {
                name,
                handlers,
                sockets: RwLock::new(HashMap::new()),
                adapter: std::sync::OnceLock::new(),
                ack_ids: AtomicU64::new(0),
                config,
            }),
        };
        let local = LocalNamespace::new(Arc::downgrade(&ns.inner));
        let _ = ns.inner.adapter.set(adapter(local));
        ns
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Namespace {
        Namespace { inner }
    }

    /// The name (`/`, `/admin`...).
    pub fn name(&self) -> &Str {
        &self.inner.name
    }

    /// The adapter (rooms and broadcasting).
    pub fn adapter(&self) -> &Arc<dyn Adapter> {
        // Always set by `new`.
        self.inner
            .adapter
            .get_or_init(|| Arc::new(super::adapter::InMemoryAdapter::default()))
    }

    pub(crate) fn config(&self) -> &SocketIoConfig {
        &self.inner.config
    }

    pub(crate) fn handlers(&self) -> &NsHandlers {
        &self.inner.handlers
    }

    pub(crate) fn next_ack_id(&self) -> u64 {
        self.inner.ack_ids.fetch_add(1, Ordering::Relaxed)
    }

    /// Adds a connect middleware: it runs for every CONNECT to this namespace, in the order
    /// added, before the socket is connected; an `Err` refuses the connection (the client
    /// gets `connect_error` with the message and data).
    ///
    /// ```
    /// use sio_server::{ConnectError, SocketIo, SocketIoConfig};
    ///
    /// let io = SocketIo::new(SocketIoConfig::default());
    /// io.of("/admin").use_middleware(|socket| async move {
    ///     match socket.handshake().auth.get("token").and_then(|t| t.as_str()) {
    ///         Some("secret") => Ok(()),
    ///         _ => Err(ConnectError::new("not authorized").with_data(&"token missing")),
    ///     }
    /// });
    /// ```
    pub fn use_middleware<F, Fut>(&self, middleware: F) -> &Self
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.inner
            .handlers
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
        self.inner.handlers.add_connection(boxed_handler(handler));
        self
    }

    /// The connected sockets of this server in this namespace.
    pub fn sockets(&self) -> Vec<Socket> {
        self.inner
            .sockets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// The local socket `id`.
    pub fn get_socket(&self, id: &str) -> Option<Socket> {
        self.inner
            .sockets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }

    pub(crate) fn add_socket(&self, socket: Socket) {
        self.inner
            .sockets
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(socket.id().clone(), socket);
    }

    pub(crate) fn remove_socket(&self, id: &str) {
        self.inner
            .sockets
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    /// A broadcast operator for this namespace: everyone.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.clone())
    }

    /// The sockets in `room`.
    pub fn to(&self, room: impl Into<Str>) -> BroadcastOperator {
        self.broadcast().to(room)
    }

    /// Everyone except the sockets in `room`.
    pub fn except(&self, room: impl Into<Str>) -> BroadcastOperator {
        self.broadcast().except(room)
    }

    /// Everyone, dropping the packet for clients that cannot take it now.
    pub fn volatile(&self) -> BroadcastOperator {
        self.broadcast().volatile()
    }

    /// Everyone on this server only.
    pub fn local(&self) -> BroadcastOperator {
        self.broadcast().local()
    }

    /// Everyone, with this acknowledgement timeout.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.broadcast().timeout(timeout)
    }

    /// Sends `event` to every socket of the namespace.
    pub async fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<(), EmitError> {
        self.broadcast().emit(event, args).await
    }

    /// Sends `event` to every socket and collects their acknowledgements.
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> BroadcastAckFuture {
        self.broadcast().emit_with_ack(event, args)
    }

    /// Disconnects every socket of the namespace.
    pub async fn disconnect_sockets(&self, close: bool) {
        self.broadcast().disconnect_sockets(close).await;
    }
}

/// Access to a namespace's sockets for the adapter, without keeping the namespace alive.
pub(crate) fn upgrade(weak: &std::sync::Weak<Inner>) -> Option<Namespace> {
    weak.upgrade().map(Namespace::from_inner)
}
