//! [`SocketIo`]: the server: namespaces, server-wide middlewares, serving, closing.
//!
//! The top of the Socket.IO layer: it makes the connections' applications (`client.rs`), which
//! ask of it what `client::ClientHost` lists, implemented here.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use serde::Serialize;
use sio_protocol::{Str, Value};
use tokio::net::ToSocketAddrs;

use super::adapter;
use super::adapter::{AdapterFactory, InMemoryAdapter};
use super::broadcast::BroadcastOperator;
use super::client::{self, ClientHost};
use super::config::SocketIoConfig;
use super::conn::ClientShared;
use super::error::Error;
use super::namespace::{Namespace, NsHandlers};
use super::remote::RemoteSocket;
use super::server_event::ServerSideAckFuture;
use super::socket::{ConnectMiddleware, Socket, SocketDisconnectReason, boxed_middleware};
use crate::engine::connection::ConnectionSender;
use crate::engine::server::EngineIo;
use crate::http::layer::EngineLayer;
use crate::http::serve::{Serve, ServerHandle};
use crate::http::service::EngineService;

type Matcher = Arc<dyn Fn(&str, &Value) -> bool + Send + Sync>;
type NamespaceListener = Arc<dyn Fn(&Namespace) + Send + Sync>;

/// A Socket.IO server. Cheap to clone.
///
/// ```
/// use sio_server::{Ack, Socket, SocketIo, SocketIoConfig};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let io = SocketIo::new(SocketIoConfig::default());
/// io.of("/").on_connection(|socket| async move {
///     socket.on("ping", |socket: Socket, (n,): (u32,), ack: Ack| async move {
///         let _ = ack.send(&("pong", n));
///         let _ = socket.emit("pinged", &n).await;
///     });
/// });
/// let server = io.listen("127.0.0.1:0").await?; // a free port
/// println!("listening on {}", server.local_addr());
/// # // A client in the same process.
/// # let client = sio_client::io(&format!("http://{}/", server.local_addr()), Default::default())?;
/// # let reply = client.timeout(std::time::Duration::from_secs(10)).emit_with_ack("ping", &(7,)).await?;
/// # assert_eq!(reply.deserialize::<(String, u32)>()?, ("pong".to_owned(), 7));
/// # Ok(())
/// # }
/// ```
///
#[doc = include_str!("handler_order.md")]
#[derive(Clone)]
pub struct SocketIo {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<SocketIoConfig>,
    engine: EngineIo,
    namespaces: RwLock<HashMap<Str, Namespace>>,
    dynamic: RwLock<Vec<(Matcher, Arc<NsHandlers>)>>,
    middlewares: RwLock<Vec<ConnectMiddleware>>,
    adapter: AdapterFactory,
    /// [`SocketIo::on_new_namespace`] listeners.
    new_namespace: RwLock<Vec<NamespaceListener>>,
    /// The open connections, by Engine.IO session id (for `close`).
    clients: Mutex<HashMap<Str, Weak<ClientShared<Socket>>>>,
    started: AtomicBool,
    closed: AtomicBool,
    /// The bytes of the binary packets waiting for their attachments, on every connection.
    pending_attachments: Arc<AtomicUsize>,
}

impl fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SocketIo")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl SocketIo {
    /// A server with these options and the [`InMemoryAdapter`]; the namespace `/` exists.
    pub fn new(config: SocketIoConfig) -> SocketIo {
        Self::with_adapter(config, InMemoryAdapter::factory())
    }

    /// A server whose namespaces use adapters made by `adapter`.
    pub fn with_adapter(config: SocketIoConfig, adapter: AdapterFactory) -> SocketIo {
        let engine = EngineIo::new(config.engine.clone());
        let io = SocketIo {
            inner: Arc::new(Inner {
                config: Arc::new(config),
                engine,
                namespaces: RwLock::new(HashMap::new()),
                dynamic: RwLock::new(Vec::new()),
                middlewares: RwLock::new(Vec::new()),
                adapter,
                new_namespace: RwLock::new(Vec::new()),
                clients: Mutex::new(HashMap::new()),
                started: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                pending_attachments: Arc::new(AtomicUsize::new(0)),
            }),
        };
        io.of("/");
        io
    }

    /// The options.
    pub fn config(&self) -> &SocketIoConfig {
        &self.inner.config
    }

    /// The Engine.IO server underneath.
    pub fn engine(&self) -> &EngineIo {
        &self.inner.engine
    }

    /// The namespace `name` (created if needed; a missing leading `/` is added).
    pub fn of(&self, name: &str) -> Namespace {
        let name: Str = if name.starts_with('/') {
            Str::from(name.to_owned())
        } else {
            Str::from(format!("/{name}"))
        };
        if let Some(ns) = self.read_namespaces().get(&name) {
            return ns.clone();
        }
        let mut namespaces = self
            .inner
            .namespaces
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut created = false;
        let ns = namespaces
            .entry(name.clone())
            .or_insert_with(|| {
                created = true;
                self.new_namespace(name, Arc::default())
            })
            .clone();
        drop(namespaces);
        if created {
            self.notify_new_namespace(&ns);
        }
        ns
    }

    /// Calls `listener` with each namespace created from now on: by [`of`](Self::of), or by
    /// the first CONNECT to a dynamic namespace (socket.io's `new_namespace` event). It runs
    /// where the namespace is created, before any socket joins it.
    ///
    /// ```
    /// use sio_server::{SocketIo, SocketIoConfig};
    ///
    /// let io = SocketIo::new(SocketIoConfig::default());
    /// io.on_new_namespace(|ns| println!("new namespace {}", ns.name()));
    /// io.of("/chat"); // prints "new namespace /chat"
    /// ```
    pub fn on_new_namespace(&self, listener: impl Fn(&Namespace) + Send + Sync + 'static) {
        self.inner
            .new_namespace
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::new(listener));
    }

    fn notify_new_namespace(&self, ns: &Namespace) {
        let listeners = self
            .inner
            .new_namespace
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for listener in listeners {
            listener(ns);
        }
    }

    fn new_namespace(&self, name: Str, handlers: Arc<NsHandlers>) -> Namespace {
        Namespace::new(
            name,
            handlers,
            self.inner.config.clone(),
            &self.inner.adapter,
        )
    }

    fn read_namespaces(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Str, Namespace>> {
        self.inner
            .namespaces
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Dynamic namespaces: a CONNECT to an unknown namespace whose name (and auth payload)
    /// `matcher` accepts creates it. Every namespace created this way shares the middlewares
    /// and connection handlers registered on the returned [`Namespace`] (a template that
    /// itself has no sockets; socket.io's parent namespace).
    ///
    /// ```
    /// use sio_server::{SocketIo, SocketIoConfig};
    ///
    /// let io = SocketIo::new(SocketIoConfig::default());
    /// let workspaces = io.of_dynamic(|name, _auth| name.starts_with("/workspace-"));
    /// workspaces.on_connection(|socket| async move {
    ///     let _ = socket.emit("hello", socket.namespace().name()).await;
    /// });
    /// ```
    pub fn of_dynamic(
        &self,
        matcher: impl Fn(&str, &Value) -> bool + Send + Sync + 'static,
    ) -> Namespace {
        let handlers = Arc::<NsHandlers>::default();
        self.inner
            .dynamic
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push((Arc::new(matcher), handlers.clone()));
        // The template has no sockets: it gets no cluster adapter (a Redis adapter would
        // subscribe for it); each namespace it creates gets its own.
        Namespace::new(
            Str::from_static("/_dynamic"),
            handlers,
            self.inner.config.clone(),
            &InMemoryAdapter::factory(),
        )
    }

    /// Dynamic namespaces whose names match `pattern` (socket.io's `io.of(/^\/dynamic-\d+$/)`):
    /// [`of_dynamic`](Self::of_dynamic) with the expression as the matcher. Anchor it (`^...$`)
    /// to match whole names, as in JavaScript.
    ///
    /// ```
    /// use regex::Regex;
    /// use sio_server::{SocketIo, SocketIoConfig};
    ///
    /// let io = SocketIo::new(SocketIoConfig::default());
    /// let dynamic = io.of_regex(Regex::new(r"^/dynamic-\d+$").unwrap());
    /// dynamic.on_connection(|socket| async move {
    ///     let _ = socket.emit("joined", socket.namespace().name()).await;
    /// });
    /// ```
    #[cfg(feature = "regex")]
    pub fn of_regex(&self, pattern: regex::Regex) -> Namespace {
        self.of_dynamic(move |name, _auth| pattern.is_match(name))
    }

    /// The names of the existing namespaces.
    pub fn namespaces(&self) -> Vec<Str> {
        self.read_namespaces().keys().cloned().collect()
    }

    /// Adds a connect middleware for **every** namespace, run before the namespace's own
    /// (socket.io's `io.use` applies to `/` only: use `io.of("/").use_middleware` for that).
    pub fn use_middleware<F, Fut>(&self, middleware: F) -> &Self
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        self.inner
            .middlewares
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(boxed_middleware(middleware));
        self
    }

    /// Broadcast to the sockets of `/` in `room`.
    pub fn to(&self, room: impl Into<Str>) -> BroadcastOperator {
        self.of("/").to(room)
    }

    /// Sends `event` to every socket of `/`, on every server of the cluster (see
    /// [`BroadcastOperator::emit`]: the arguments are serialized now, the returned future is
    /// `'static` and sends when polled).
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static + use<T> {
        self.of("/").emit(event, args)
    }

    /// Everyone in `/` on this server only (see [`BroadcastOperator::local`]).
    pub fn local(&self) -> BroadcastOperator {
        self.of("/").local()
    }

    /// Everyone in `/`, with this acknowledgement timeout (see
    /// [`BroadcastOperator::timeout`]).
    pub fn timeout(&self, timeout: std::time::Duration) -> BroadcastOperator {
        self.of("/").timeout(timeout)
    }

    /// Everyone in `/` except the sockets in `room`.
    pub fn except(&self, room: impl Into<Str>) -> BroadcastOperator {
        self.of("/").except(room)
    }

    /// The sockets of `/` on every server of the cluster (see
    /// [`Namespace::fetch_sockets`]).
    pub async fn fetch_sockets(&self) -> Result<Vec<RemoteSocket>, Error> {
        self.of("/").fetch_sockets().await
    }

    /// Makes every socket of `/`, on every server, join `room`.
    pub async fn sockets_join(&self, room: impl Into<Str>) -> Result<(), Error> {
        self.of("/").sockets_join(room).await
    }

    /// Makes every socket of `/`, on every server, leave `room`.
    pub async fn sockets_leave(&self, room: impl Into<Str>) -> Result<(), Error> {
        self.of("/").sockets_leave(room).await
    }

    /// Disconnects every socket of `/`, on every server.
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), Error> {
        self.of("/").disconnect_sockets(close).await
    }

    /// The number of servers in the cluster, this one included (socket.io's
    /// `io.serverCount()`, the adapter of `/` counts them).
    pub async fn server_count(&self) -> Result<usize, Error> {
        self.of("/").server_count().await
    }

    /// Sends a server-side event of `/` to the other servers of the cluster (see
    /// [`Namespace::server_side_emit`]).
    pub fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static + use<T> {
        self.of("/").server_side_emit(event, args)
    }

    /// Sends a server-side event of `/` and collects one answer per other server (see
    /// [`Namespace::server_side_emit_with_ack`]).
    pub fn server_side_emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> ServerSideAckFuture {
        self.of("/").server_side_emit_with_ack(event, args)
    }

    // ----- serving -----

    /// Starts handing the engine's connections to the Socket.IO layer (once). Needs a Tokio
    /// runtime; [`listen`](Self::listen) and [`service`](Self::service) call it.
    pub fn start(&self) {
        if self.inner.started.swap(true, Ordering::AcqRel) {
            return;
        }
        // The engine holds the server while it serves (the server holds the engine): `close`
        // replaces this handler, which ends the cycle.
        let io = self.clone();
        let handler = crate::engine::server::Handler(Arc::new(move |sender: ConnectionSender| {
            if io.is_closed() {
                return None;
            }
            let app = client::ClientApp::new(io.clone(), sender);
            Some(Box::new(app) as Box<dyn crate::engine::session_task::SessionApp>)
        }));
        self.inner.engine.set_handler(handler);
    }

    /// Binds `addr` and serves HTTP/1.1 (404 outside the Socket.IO path) until the returned
    /// handle is dropped.
    pub async fn listen(&self, addr: impl ToSocketAddrs) -> io::Result<ServerHandle> {
        self.start();
        self.inner.engine.listen(addr).await
    }

    /// A hyper service serving the Socket.IO path and passing other requests to `inner`.
    pub fn service<S>(&self, inner: S) -> EngineService<S> {
        self.start();
        self.inner.engine.service(inner)
    }

    /// A tower layer serving the Socket.IO path in front of another service (an axum
    /// `Router`, for example).
    pub fn layer(&self) -> EngineLayer {
        self.start();
        self.inner.engine.layer()
    }

    /// Serves HTTP/1.1 connections accepted on `listener` when awaited, like `axum::serve`
    /// (see [`EngineIo::serve`]). For a graceful shutdown that tells sockets
    /// `"server shutting down"`, call [`close`](Self::close) in the shutdown signal.
    ///
    /// ```
    /// use sio_server::{SocketIo, SocketIoConfig};
    ///
    /// # #[tokio::main]
    /// # async fn main() -> std::io::Result<()> {
    /// let io = SocketIo::new(SocketIoConfig::default());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?; // a free port
    /// # let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// # let _ = stop.send(()); // the example stops at once
    /// let closing = io.clone();
    /// io.serve(listener)
    ///     .with_graceful_shutdown(async move {
    ///         // let _ = tokio::signal::ctrl_c().await;
    /// #       let _ = stopped.await;
    ///         closing.close().await;
    ///     })
    ///     .await
    /// # }
    /// ```
    pub fn serve(&self, listener: tokio::net::TcpListener) -> Serve {
        self.start();
        self.inner.engine.serve(listener)
    }

    // ----- closing -----

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Closes the server: every socket disconnects with `"server shutting down"`, every
    /// connection closes, adapters close, and new connections are closed at once. The HTTP
    /// listener of [`listen`](Self::listen) runs until its handle is dropped.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        // New connections are closed at once, and the engine lets go of the server.
        self.inner
            .engine
            .set_handler(crate::engine::server::Handler(Arc::new(|_| None)));
        let clients = std::mem::take(
            &mut *self
                .inner
                .clients
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for client in clients.values().filter_map(Weak::upgrade) {
            client.close_all(SocketDisconnectReason::ServerShuttingDown.into());
        }
        let namespaces: Vec<Namespace> = self.read_namespaces().values().cloned().collect();
        for ns in namespaces {
            adapter::Adapter::close(&**ns.adapter()).await;
        }
    }

    /// The bytes the connections of this server hold in binary packets waiting for their
    /// attachments (bounded by
    /// [`max_pending_attachment_bytes_total`](SocketIoConfig::max_pending_attachment_bytes_total)).
    pub fn pending_attachment_bytes(&self) -> usize {
        self.inner.pending_attachments.load(Ordering::Acquire)
    }
}

impl ClientHost for SocketIo {
    fn config(&self) -> &SocketIoConfig {
        SocketIo::config(self)
    }

    fn is_closed(&self) -> bool {
        SocketIo::is_closed(self)
    }

    /// The namespace a CONNECT to `name` joins, if any.
    fn resolve(&self, name: &str, auth: &Value) -> Option<Namespace> {
        if let Some(ns) = self.read_namespaces().get(name) {
            return Some(ns.clone());
        }
        let handlers = self
            .inner
            .dynamic
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(matcher, _)| matcher(name, auth))
            .map(|(_, handlers)| handlers.clone())?;
        let mut namespaces = self
            .inner
            .namespaces
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let name = Str::from(name.to_owned());
        let mut created = false;
        let ns = namespaces
            .entry(name.clone())
            .or_insert_with(|| {
                created = true;
                self.new_namespace(name, handlers)
            })
            .clone();
        drop(namespaces);
        if created {
            self.notify_new_namespace(&ns);
        }
        Some(ns)
    }

    fn middlewares(&self) -> Vec<ConnectMiddleware> {
        self.inner
            .middlewares
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn pending_attachments(&self) -> &Arc<AtomicUsize> {
        &self.inner.pending_attachments
    }

    fn register_client(&self, client: &Arc<ClientShared<Socket>>) {
        self.inner
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(client.sender.sid().clone(), Arc::downgrade(client));
    }

    fn unregister_client(&self, client: &Arc<ClientShared<Socket>>) {
        self.inner
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(client.sender.sid());
    }
}
