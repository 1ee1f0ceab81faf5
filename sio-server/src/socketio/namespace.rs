//! [`Namespace`]: a named group of sockets with its connect middlewares, connection handlers,
//! server-side event handlers and adapter.
//!
//! The namespace sits above the adapter layer, the broadcast operator and the server-side
//! events, and below the socket: it implements the adapter layer's `NsCore` for its state
//! (the layers below act on it through that trait, without knowing `Namespace`), and keeps its
//! sockets as the adapter layer's `LocalSocket`s. What takes or gives a `Socket`
//! (`use_middleware`, `on_connection`, `sockets`, `get_socket`) is written in `socket.rs`, and
//! `fetch_sockets`, which gives `RemoteSocket`s, in `remote.rs`.

use std::any::Any;
use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use futures_util::FutureExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sio_protocol::Str;
use sio_protocol::socket::Args;

use super::adapter::{Adapter, LocalNamespace, LocalSocket, NsCore, PacketNamespace, Rooms};
use super::broadcast::{BroadcastAckFuture, BroadcastOperator};
use super::cluster::ReplySink;
use super::config::SocketIoConfig;
use super::error::Error;
use super::future::BoxFuture;
use super::recovery::{RecoveryStats, RecoveryStore};
use super::server_event::{ServerEventAck, ServerSideAckFuture, check_server_event};
use crate::engine::session_task::panic_message;

pub(crate) type ServerEventHandler =
    Arc<dyn Fn(Namespace, Args, ServerEventAck) -> BoxFuture<'static, ()> + Send + Sync>;

/// The handlers of a namespace (shared by the children of a dynamic namespace): its
/// server-side event handlers, and those of the layers above (the socket layer's connect
/// middlewares and connection handlers, which take a `Socket`), opaque here.
#[derive(Default)]
pub(crate) struct NsHandlers {
    /// Server-side event handlers, by event name.
    server_events: RwLock<Vec<(Str, ServerEventHandler)>>,
    /// The handlers of the layer above (`socket::ConnectHandlers`), typed there.
    upper: OnceLock<Box<dyn Any + Send + Sync>>,
}

impl NsHandlers {
    /// The handlers of the layer above, of type `T` (made on first use). One layer keeps its
    /// handlers here, with one type.
    pub(crate) fn upper<T: Default + Send + Sync + 'static>(&self) -> &T {
        self.upper
            .get_or_init(|| Box::new(T::default()))
            .downcast_ref()
            .expect("one type of handlers kept by the layer above")
    }

    fn add_server_event(&self, event: Str, handler: ServerEventHandler) {
        self.server_events
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push((event, handler));
    }

    fn remove_server_event(&self, event: &str) {
        self.server_events
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(name, _)| name.as_str() != event);
    }

    /// The handlers of `event`, in the order they were added.
    fn server_event(&self, event: &str) -> Vec<ServerEventHandler> {
        self.server_events
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(name, _)| name.as_str() == event)
            .map(|(_, handler)| handler.clone())
            .collect()
    }
}

/// A namespace (`/`, `/admin`...). Cheap to clone.
#[derive(Clone)]
pub struct Namespace {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    name: Str,
    handlers: Arc<NsHandlers>,
    /// This server's sockets, as the socket layer (above) stores them.
    sockets: RwLock<HashSet<SocketEntry>>,
    /// This server's room registry (the adapter reads and updates it through
    /// [`LocalNamespace`]).
    rooms: Mutex<Rooms>,
    adapter: std::sync::OnceLock<Arc<dyn Adapter>>,
    ack_ids: AtomicU64,
    config: Arc<SocketIoConfig>,
    /// Connection state recovery's log and sessions on this server (when it is on). Its lock
    /// is taken before the room registry's and the connections'.
    recovery: Option<Mutex<RecoveryStore>>,
    /// [`Namespace::on_join_room`] (`true`) and [`Namespace::on_leave_room`] listeners.
    room_listeners: RwLock<Vec<(bool, RoomListener)>>,
    /// Its metrics' handles (nothing without the `metrics` feature).
    metrics: crate::metrics::NamespaceMetrics,
    /// The event names its sockets' handlers were added for (at most [`EVENT_NAMES`]): every
    /// socket shares these instead of holding a copy of each name.
    event_names: Mutex<HashSet<Str>>,
}

/// The most event names a namespace keeps for its sockets to share (names made up at run time
/// could be many; past this, a socket's handler holds its own copy of its name).
const EVENT_NAMES: usize = 256;

type RoomListener = Arc<dyn Fn(&Str, &Str) + Send + Sync>;

/// An entry of the socket table: a socket as the socket layer stored it, found by its id (a
/// set rather than a map by id: the id is not stored twice, which an idle client's memory
/// shows).
struct SocketEntry(Arc<dyn LocalSocket>);

impl PartialEq for SocketEntry {
    fn eq(&self, other: &Self) -> bool {
        self.0.id() == other.0.id()
    }
}

impl Eq for SocketEntry {}

impl Hash for SocketEntry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As the `str` it borrows as, for lookups by id.
        self.0.id().as_str().hash(state);
    }
}

impl Borrow<str> for SocketEntry {
    fn borrow(&self) -> &str {
        self.0.id()
    }
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
                metrics: crate::metrics::NamespaceMetrics::new(&name),
                name,
                handlers,
                sockets: RwLock::new(HashSet::new()),
                rooms: Mutex::new(Rooms::default()),
                adapter: std::sync::OnceLock::new(),
                ack_ids: AtomicU64::new(0),
                recovery: config
                    .connection_state_recovery
                    .clone()
                    .map(|c| Mutex::new(RecoveryStore::new(c))),
                config,
                room_listeners: RwLock::new(Vec::new()),
                event_names: Mutex::new(HashSet::new()),
            }),
        };
        let core: Arc<dyn NsCore> = ns.inner.clone();
        let local = LocalNamespace::new(Arc::downgrade(&core));
        let _ = ns.inner.adapter.set(adapter(local));
        ns
    }

    /// `event` as a name shared by the sockets of the namespace (see `Inner::event_names`).
    pub(crate) fn event_name(&self, event: String) -> Str {
        let mut names = self
            .inner
            .event_names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(name) = names.get(event.as_str()) {
            return name.clone();
        }
        let name = Str::from(event);
        if names.len() < EVENT_NAMES {
            names.insert(name.clone());
        }
        name
    }

    /// The namespace's state, as the layers below see it.
    pub(crate) fn core(&self) -> Arc<dyn NsCore> {
        self.inner.clone()
    }

    /// The namespace whose state `core` is (every [`NsCore`] is a namespace's state: only
    /// [`Namespace::new`] makes one).
    pub(crate) fn from_core(core: Arc<dyn NsCore>) -> Namespace {
        let inner = core
            .into_any()
            .downcast::<Inner>()
            .expect("every NsCore is the state of a Namespace");
        Namespace { inner }
    }

    /// The name (`/`, `/admin`...).
    pub fn name(&self) -> &Str {
        &self.inner.name
    }

    /// The adapter (rooms and broadcasting).
    pub fn adapter(&self) -> &Arc<dyn Adapter> {
        self.inner.adapter()
    }

    pub(crate) fn config(&self) -> &SocketIoConfig {
        &self.inner.config
    }

    pub(crate) fn rooms(&self) -> MutexGuard<'_, Rooms> {
        self.inner.rooms()
    }

    /// Connection state recovery's store, locked (`None` when recovery is off).
    pub(crate) fn recovery(&self) -> Option<MutexGuard<'_, RecoveryStore>> {
        self.inner.recovery()
    }

    /// What this namespace holds for connection state recovery on this server: the sessions
    /// waiting to be recovered and the events of its log (`None` when recovery is off).
    pub fn recovery_stats(&self) -> Option<RecoveryStats> {
        self.recovery().map(|store| store.stats())
    }

    /// Whether connection state recovery is on.
    pub(crate) fn recovers(&self) -> bool {
        self.inner.recovers()
    }

    pub(crate) fn handlers(&self) -> &NsHandlers {
        &self.inner.handlers
    }

    pub(crate) fn next_ack_id(&self) -> u64 {
        self.inner.next_ack_id()
    }

    /// Calls `listener` with `(room, socket id)` each time a socket of this server joins a
    /// room of this namespace (socket.io's adapter event `join-room`), its own room included,
    /// whoever made it join: [`Socket::join`](super::Socket::join), [`sockets_join`](Self::sockets_join), another
    /// server of the cluster. It runs where the join happens, once the room registry is
    /// unlocked; keep it short (send the news to a task). A listener that panics is logged.
    ///
    /// ```
    /// use sio_server::{SocketIo, SocketIoConfig};
    ///
    /// let io = SocketIo::new(SocketIoConfig::default());
    /// io.of("/").on_join_room(|room, id| println!("{id} joined {room}"));
    /// io.of("/").on_leave_room(|room, id| println!("{id} left {room}"));
    /// ```
    pub fn on_join_room(&self, listener: impl Fn(&Str, &Str) + Send + Sync + 'static) {
        self.add_room_listener(true, Arc::new(listener));
    }

    /// Calls `listener` with `(room, socket id)` each time a socket of this server leaves a
    /// room of this namespace (socket.io's adapter event `leave-room`), on
    /// [`Socket::leave`](super::Socket::leave), [`sockets_leave`](Self::sockets_leave) and when it disconnects (one
    /// call per room, before its `on_disconnect` handlers run). See
    /// [`on_join_room`](Self::on_join_room).
    pub fn on_leave_room(&self, listener: impl Fn(&Str, &Str) + Send + Sync + 'static) {
        self.add_room_listener(false, Arc::new(listener));
    }

    fn add_room_listener(&self, join: bool, listener: RoomListener) {
        self.inner
            .room_listeners
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push((join, listener));
        self.rooms().changes.get_or_insert_with(Vec::new);
    }

    /// This server's sockets of the namespace (as the socket layer stored them).
    pub(crate) fn local_sockets(&self) -> Vec<Arc<dyn LocalSocket>> {
        self.inner
            .sockets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|entry| entry.0.clone())
            .collect()
    }

    /// The local socket `id` (as the socket layer stored it).
    pub(crate) fn local_socket(&self, id: &str) -> Option<Arc<dyn LocalSocket>> {
        self.inner
            .sockets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .map(|entry| entry.0.clone())
    }

    pub(crate) fn add_socket(&self, socket: Arc<dyn LocalSocket>) {
        let replaced = self
            .inner
            .sockets
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(SocketEntry(socket));
        if replaced.is_none() {
            self.inner.metrics.connected();
        }
    }

    pub(crate) fn remove_socket(&self, id: &str) {
        let removed = self
            .inner
            .sockets
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take(id);
        if removed.is_some() {
            self.inner.metrics.disconnected();
        }
    }

    /// A broadcast operator for this namespace: everyone.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.core())
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

    /// Sends `event` to every socket of the namespace, on every server of the cluster (see
    /// [`BroadcastOperator::emit`]: the arguments are serialized now, the returned future is
    /// `'static` and sends when polled).
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static + use<T> {
        self.broadcast().emit(event, args)
    }

    /// Sends `event` to every socket and collects their acknowledgements.
    pub fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> BroadcastAckFuture {
        self.broadcast().emit_with_ack(event, args)
    }

    /// Disconnects every socket of the namespace, on every server of the cluster (see
    /// [`BroadcastOperator::disconnect_sockets`]).
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), Error> {
        self.broadcast().disconnect_sockets(close).await
    }

    // ----- the cluster -----

    /// Makes every socket of the namespace, on every server, join `room` (see
    /// [`BroadcastOperator::sockets_join`]).
    pub async fn sockets_join(&self, room: impl Into<Str>) -> Result<(), Error> {
        self.broadcast().sockets_join(room).await
    }

    /// Makes every socket of the namespace, on every server, leave `room`.
    pub async fn sockets_leave(&self, room: impl Into<Str>) -> Result<(), Error> {
        self.broadcast().sockets_leave(room).await
    }

    /// The number of servers in the cluster, this one included (1 without a cluster
    /// adapter).
    pub async fn server_count(&self) -> Result<usize, Error> {
        self.adapter().server_count().await
    }

    /// Sends the server-side event `event` with `args` (spread like [`Args::new`]) to the
    /// **other** servers of the cluster, whose handlers registered with
    /// [`on_server_event`](Self::on_server_event) get it (socket.io's `serverSideEmit`).
    /// Nothing happens without a cluster adapter.
    ///
    /// The same shape as [`emit`](Self::emit): the arguments are serialized when
    /// `server_side_emit` is called, the returned future is `'static` and sends when polled.
    /// Its output fails for a reserved name (`connect`, `connection`, `new_namespace`),
    /// arguments that cannot be serialized, or when the other servers cannot be reached
    /// (an [`Error`] of an adapter kind).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # // One server, alone: there is no other server to answer.
    /// # let io = sio_server::SocketIo::new(Default::default());
    /// let ns = io.of("/");
    /// // Every server handles "reload":
    /// ns.on_server_event("reload", |_ns, (what,): (String,), ack| async move {
    ///     println!("reload {what}");
    ///     let _ = ack.send(&"done");
    /// })?;
    /// // One server tells the others:
    /// ns.server_side_emit("reload", &("config",)).await?;
    /// // Or waits for each of them to answer:
    /// let answers = ns
    ///     .server_side_emit_with_ack("reload", &("config",))
    ///     .timeout(std::time::Duration::from_secs(2))
    ///     .await?;
    /// println!("{} servers answered", answers.len());
    /// # assert_eq!(answers.len(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'static + use<T> {
        let args = check_server_event(event).and_then(|()| Args::new(args).map_err(Error::args));
        let event = Str::from(event.to_owned());
        let ns = self.clone();
        async move { ns.adapter().server_side_emit(event, args?, None).await }
    }

    /// Sends the server-side event `event` to the other servers and collects one answer from
    /// each (socket.io's `serverSideEmitWithAck`; see [`ServerSideAckFuture`]).
    pub fn server_side_emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> ServerSideAckFuture {
        ServerSideAckFuture::new(self.core(), event.to_owned(), Args::new(args))
    }

    /// Handles the server-side event `event` sent by another server of the cluster
    /// ([`server_side_emit`](Self::server_side_emit), or a JavaScript server's
    /// `serverSideEmit`), with its arguments read as `T` (as [`Socket::on`](super::Socket::on) reads them) and
    /// the [`ServerEventAck`] to answer with. Adds to the handlers of `event`, as socket.io's
    /// listeners (see [`off_server_event`](Self::off_server_event)): each runs, in a task of
    /// its own (events and handlers may run concurrently), and only the first answer among
    /// them goes back to the sender (one answer per server, which is what the sender counts).
    /// A handler that panics is logged. Arguments that do not match `T` skip this handler,
    /// with a warning in the log (naming the event and the serde error); if no handler
    /// answers, a sender waiting for one times out.
    ///
    /// Fails with an [`ErrorKind::Args`](crate::ErrorKind::Args) error for `connect`, `connection` and
    /// `new_namespace`.
    pub fn on_server_event<T, F, Fut>(
        &self,
        event: impl Into<String>,
        handler: F,
    ) -> Result<(), Error>
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(Namespace, T, ServerEventAck) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let event = event.into();
        let name = event.clone();
        self.on_server_event_args(event, move |ns, args, ack| {
            match args.deserialize::<T>() {
                Ok(data) => Box::pin(handler(ns, data, ack)) as BoxFuture<'static, ()>,
                Err(error) => {
                    tracing::warn!(%error, nsp = %ns.name(), event = %name, "server-side event arguments do not match the handler");
                    Box::pin(async {})
                }
            }
        })
    }

    /// Handles the server-side event `event` with its raw [`Args`] (see
    /// [`on_server_event`](Self::on_server_event)).
    pub fn on_server_event_args<F, Fut>(
        &self,
        event: impl Into<String>,
        handler: F,
    ) -> Result<(), Error>
    where
        F: Fn(Namespace, Args, ServerEventAck) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let event = event.into();
        check_server_event(&event)?;
        let handler: ServerEventHandler =
            Arc::new(move |ns, args, ack| Box::pin(handler(ns, args, ack)));
        self.inner
            .handlers
            .add_server_event(Str::from(event), handler);
        Ok(())
    }

    /// Removes every handler of the server-side event `event` (socket.io's
    /// `io.off(event)`), added with [`on_server_event`](Self::on_server_event) or
    /// [`on_server_event_args`](Self::on_server_event_args).
    pub fn off_server_event(&self, event: &str) {
        self.inner.handlers.remove_server_event(event);
    }

    /// Runs the handlers of a server-side event from another server (see
    /// [`LocalNamespace::server_event`]).
    pub(crate) fn dispatch_server_event(
        &self,
        event: &str,
        args: Args,
        reply: Option<ReplySink>,
    ) -> bool {
        if check_server_event(event).is_err() {
            return false;
        }
        let handlers = self.inner.handlers.server_event(event);
        if handlers.is_empty() {
            return false;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(nsp = %self.name(), event, "no Tokio runtime: server-side event dropped");
            return false;
        };
        // One answer for all the handlers: the first to send it.
        let acks = ServerEventAck::shared(reply);
        for handler in handlers {
            let ns = self.clone();
            let name = ns.name().clone();
            let event = event.to_owned();
            let (args, ack) = (args.clone(), acks.clone());
            runtime.spawn(async move {
                let run = async move { handler(ns, args, ack).await };
                if let Err(payload) = AssertUnwindSafe(run).catch_unwind().await {
                    tracing::error!(
                        nsp = %name,
                        event,
                        panic = panic_message(&*payload),
                        "a server-side event handler panicked"
                    );
                }
            });
        }
        true
    }
}

/// The namespace's state is what the layers below it act on (see [`NsCore`]).
impl NsCore for Inner {
    fn name(&self) -> &Str {
        &self.name
    }

    fn config(&self) -> &SocketIoConfig {
        &self.config
    }

    fn adapter(&self) -> &Arc<dyn Adapter> {
        // Always set by `Namespace::new`.
        self.adapter
            .get_or_init(|| Arc::new(super::adapter::InMemoryAdapter::default()))
    }

    fn next_ack_id(&self) -> u64 {
        self.ack_ids.fetch_add(1, Ordering::Relaxed)
    }

    fn rooms(&self) -> MutexGuard<'_, Rooms> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn notify_room_changes(&self, changes: Vec<(bool, Str, Str)>) {
        if changes.is_empty() {
            return;
        }
        let listeners = self
            .room_listeners
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for (joined, room, id) in &changes {
            for (join, listener) in &listeners {
                if join == joined {
                    let called = std::panic::catch_unwind(AssertUnwindSafe(|| listener(room, id)));
                    if let Err(payload) = called {
                        tracing::error!(
                            nsp = %self.name,
                            panic = panic_message(&*payload),
                            "a room listener panicked"
                        );
                    }
                }
            }
        }
    }

    fn recovery(&self) -> Option<MutexGuard<'_, RecoveryStore>> {
        self.recovery
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn recovers(&self) -> bool {
        self.recovery.is_some()
    }

    fn with_socket(&self, id: &str, f: &mut dyn FnMut(&dyn LocalSocket)) {
        let socket = self
            .sockets
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .map(|entry| entry.0.clone());
        if let Some(socket) = socket {
            f(&*socket);
        }
    }

    fn server_event(self: Arc<Self>, event: &str, args: Args, reply: Option<ReplySink>) -> bool {
        Namespace { inner: self }.dispatch_server_event(event, args, reply)
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl PacketNamespace for Namespace {
    fn packet_nsp(&self) -> &Str {
        self.name()
    }

    fn parser(&self) -> sio_protocol::socket::Parser {
        self.config().parser
    }
}

// Written here, above the adapter layer, which does not know `Namespace`.
impl LocalNamespace {
    /// The namespace, while it exists.
    pub fn namespace(&self) -> Option<Namespace> {
        self.core().map(Namespace::from_core)
    }
}
