//! The [`Adapter`] trait (rooms and broadcasting, possibly across servers), the
//! [`LocalNamespace`] an adapter acts on this server's sockets with, and the default
//! [`InMemoryAdapter`].
//!
//! The adapter layer sits under the namespace and the socket, and knows neither: it defines
//! what it needs of them, `NsCore` (a namespace's state on this server: name, options,
//! adapter, room registry, recovery store, ack ids, socket table, server-side events) and
//! `LocalSocket` (what a broadcast, a fetch and a bulk disconnect do with a socket), which
//! `namespace.rs` and `socket.rs` implement. `LocalNamespace::namespace`, which gives the
//! public `Namespace`, is written in `namespace.rs`.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, MutexGuard, Weak};
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sio_protocol::socket::{Args, Packet, Parser, RESERVED_EVENTS};
use sio_protocol::{Str, Value};

use super::cluster::{RemoteSocketData, ReplySink, lenient_rooms};
use super::config::SocketIoConfig;
use super::conn::{AckSender, frames};
use super::error::Error;
use super::future::BoxFuture;
use super::handshake::Handshake;
use super::recovery::{RecoveryStore, RestoredSession, SessionState};
use crate::engine::message::Message;

/// Flags of a broadcast.
///
/// They serialize (serde) as socket.io's `flags` object: `{"volatile": true, "compress":
/// false, "local": true, "timeout": 5000}`, each left out when unset (`timeout` in
/// milliseconds); deserializing ignores the flags this server does not use
/// (`expectSingleResponse`, `broadcast`, `binary`...).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct BroadcastFlags {
    /// Drop the packet for a client whose send queue cannot take it now.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "lenient_bool")]
    pub volatile: bool,
    /// Do not forward to other servers.
    #[serde(skip_serializing_if = "is_false", deserialize_with = "lenient_bool")]
    pub local: bool,
    /// socket.io's `compress` flag, as given to
    /// [`BroadcastOperator::compress`](super::BroadcastOperator::compress) (`None`: not given,
    /// socket.io's `true`). The in-memory adapter does not apply it: see that method for what
    /// the transports do.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_option_bool"
    )]
    pub compress: Option<bool>,
    /// The acknowledgement timeout of `emit_with_ack` (and of `fetch_sockets`, for an
    /// adapter that honours it).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_millis",
        deserialize_with = "deserialize_millis"
    )]
    pub timeout: Option<Duration>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(lenient_option_bool(d)?.unwrap_or(false))
}

fn lenient_option_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    // JavaScript truthiness for the values a peer may write (`true`, `1`, `null`...).
    let v = sio_protocol::Value::deserialize(d)?;
    Ok(match v {
        sio_protocol::Value::Null => None,
        sio_protocol::Value::Bool(b) => Some(b),
        sio_protocol::Value::Number(n) => Some(n.as_f64().is_some_and(|f| f != 0.0)),
        sio_protocol::Value::String(s) => Some(!s.is_empty()),
        _ => Some(true),
    })
}

fn serialize_millis<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        None => s.serialize_none(),
    }
}

fn deserialize_millis<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let v = sio_protocol::Value::deserialize(d)?;
    Ok(v.as_f64()
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| Duration::from_secs_f64(ms.min(1e15) / 1000.0)))
}

/// Which sockets a broadcast or a bulk operation targets: those in any of `rooms` (every
/// socket when empty) and in none of `except`.
///
/// Serializes (serde) as socket.io's `opts`: `{"rooms": [...], "except": [...], "flags":
/// {...}}` (see [`BroadcastFlags`]); missing fields read as empty, and a room a JavaScript
/// server wrote as a number reads as its decimal text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct BroadcastOptions {
    /// Target rooms (none: everyone).
    #[serde(deserialize_with = "lenient_rooms")]
    pub rooms: Vec<Str>,
    /// Excluded rooms.
    #[serde(deserialize_with = "lenient_rooms")]
    pub except: Vec<Str>,
    /// Flags.
    pub flags: BroadcastFlags,
}

impl BroadcastOptions {
    /// Options targeting the sockets in any of `rooms` (everyone when empty) and in none of
    /// `except`, without flags.
    pub fn new(rooms: Vec<Str>, except: Vec<Str>) -> Self {
        BroadcastOptions {
            rooms,
            except,
            flags: BroadcastFlags::default(),
        }
    }
}

/// A packet to broadcast, encoded once: `messages` are handed to every local recipient
/// (cheap clones of the same buffers); `event` and `args` let a cluster adapter send it to
/// other servers (socket.io's un-encoded packet `{type: 2, data: [event, ...args], nsp}`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BroadcastPacket {
    /// The namespace.
    pub nsp: Str,
    /// The event name.
    pub event: Str,
    /// The arguments.
    pub args: Args,
    /// The ack id every local recipient answers with (`emit_with_ack`). It is this server's
    /// own: another server that delivers the packet uses its own ids
    /// ([`LocalNamespace::packet`]).
    pub ack_id: Option<u64>,
    /// The encoded Engine.IO messages: the packet, then its attachments.
    pub messages: Vec<Message>,
}

/// Rooms, broadcasting and the other operations of one namespace that may span several
/// servers.
///
/// An adapter is made for each namespace by the [`AdapterFactory`] of
/// [`SocketIo::with_adapter`](crate::SocketIo::with_adapter), with the [`LocalNamespace`]
/// that gives it this server's sockets. Every method except [`local`](Self::local) has a
/// default that acts on this server only (so [`InMemoryAdapter`] is just `local`); a cluster
/// adapter (Redis, Postgres, a message bus...) overrides the cluster-wide ones to also reach
/// the other servers, and answers their requests with the hooks of [`LocalNamespace`].
///
/// # The contract
///
/// - **Rooms are per server.** The room registry is this server's, kept by the namespace:
///   the defaults of [`add_all`](Self::add_all), [`del`](Self::del),
///   [`del_all`](Self::del_all), [`socket_rooms`](Self::socket_rooms) and
///   [`sockets`](Self::sockets) update and read it through [`LocalNamespace`], and every
///   local operation reads it. An adapter may override them to observe joins and leaves,
///   and must still call the defaults' [`LocalNamespace`] counterparts.
/// - **Cluster-wide operations** ([`broadcast`](Self::broadcast),
///   [`broadcast_with_ack`](Self::broadcast_with_ack), [`add_sockets`](Self::add_sockets),
///   [`del_sockets`](Self::del_sockets), [`disconnect_sockets`](Self::disconnect_sockets),
///   [`fetch_sockets`](Self::fetch_sockets), [`all_rooms`](Self::all_rooms)) act on this
///   server's sockets *and* ask the other servers to act on theirs, **unless
///   `opts.flags.local` is set** (then this server only). The local part always happens,
///   even when the other servers cannot be reached; the error is then returned
///   ([`Error::adapter_unavailable`]) so that it reaches the caller.
/// - [`server_side_emit`](Self::server_side_emit) reaches the *other* servers only, and
///   [`server_count`](Self::server_count) counts the servers of the cluster, this one
///   included.
/// - **Timeouts.** Acknowledgements are collected by the caller, which holds the timeout
///   (see [`ReplySink`]): an adapter forwards what arrives and forgets a request once its
///   sink [is closed](ReplySink::closed). Requests whose answer the adapter waits for itself
///   ([`fetch_sockets`](Self::fetch_sockets), [`all_rooms`](Self::all_rooms),
///   [`server_count`](Self::server_count)) must end with [`Error::adapter_timeout`] after
///   `opts.flags.timeout` when set, else the adapter's own default (socket.io: 5 seconds).
/// - Methods must not block: they return futures, and the futures of the defaults are
///   ready at once. They may be called from any task, concurrently.
///
/// # Answering the other servers
///
/// A cluster adapter receives the other servers' requests (on a task of its own) and
/// answers them with [`LocalNamespace`]:
///
/// | request (socket.io name)                          | hook |
/// |---------------------------------------------------|------|
/// | broadcast (`BROADCAST`, un-encoded packet + opts) | [`LocalNamespace::packet`], then [`LocalNamespace::broadcast`] |
/// | broadcast with acks (`BROADCAST` with a request id) | [`LocalNamespace::packet`] (`with_ack`), then [`LocalNamespace::broadcast_with_ack`] with a [`ReplySink::from_fn`] that sends `BROADCAST_CLIENT_COUNT` then each `BROADCAST_ACK` back |
/// | `SOCKETS`                                         | [`LocalNamespace::sockets`] |
/// | `ALL_ROOMS`                                       | [`LocalNamespace::rooms`] |
/// | `REMOTE_JOIN` / `SOCKETS_JOIN`                    | [`LocalNamespace::add_sockets`] |
/// | `REMOTE_LEAVE` / `SOCKETS_LEAVE`                  | [`LocalNamespace::del_sockets`] |
/// | `REMOTE_DISCONNECT` / `DISCONNECT_SOCKETS`        | [`LocalNamespace::disconnect_sockets`] |
/// | `REMOTE_FETCH` / `FETCH_SOCKETS`                  | [`LocalNamespace::fetch_sockets`] (serializes as `[{id, handshake, rooms, data}]`) |
/// | `SERVER_SIDE_EMIT` (with or without request id)   | [`LocalNamespace::server_event`], with a [`ReplySink::from_fn`] that sends the answer back |
///
/// Messages from this server itself and from other namespaces are the adapter's to drop.
/// Answers coming back to this server go to the caller's sink: a client count of a
/// broadcast to [`ReplySink::client_count`], an acknowledgement or a server-side answer (one
/// value on the wire) to [`ReplySink::reply`] as `Args::from_values(vec![value])`.
///
/// `sio-server/tests/io_cluster_bus/mod.rs` holds a complete example: an in-process bus
/// adapter written against this public API only, which `tests/io_cluster.rs` runs with three
/// servers.
pub trait Adapter: Send + Sync + fmt::Debug + 'static {
    /// This server's sockets of the namespace: the handle the adapter was made with.
    fn local(&self) -> &LocalNamespace;

    /// Adds socket `id` (of this server) to `rooms`. Default:
    /// [`LocalNamespace::add_all`].
    fn add_all(&self, id: Str, rooms: Vec<Str>) -> BoxFuture<'_, ()> {
        self.local().add_all(&id, rooms);
        Box::pin(async {})
    }

    /// Removes socket `id` (of this server) from `room`. Default: [`LocalNamespace::del`].
    fn del(&self, id: Str, room: Str) -> BoxFuture<'_, ()> {
        self.local().del(&id, &room);
        Box::pin(async {})
    }

    /// Removes socket `id` (of this server) from every room (it is disconnecting). Default:
    /// [`LocalNamespace::del_all`].
    fn del_all(&self, id: Str) -> BoxFuture<'_, ()> {
        self.local().del_all(&id);
        Box::pin(async {})
    }

    /// The rooms of socket `id` (of this server). Default:
    /// [`LocalNamespace::socket_rooms`].
    fn socket_rooms(&self, id: Str) -> BoxFuture<'_, Vec<Str>> {
        let rooms = self.local().socket_rooms(&id);
        Box::pin(async move { rooms })
    }

    /// The ids of the sockets of this server that `opts` targets. Default:
    /// [`LocalNamespace::sockets`].
    fn sockets(&self, opts: BroadcastOptions) -> BoxFuture<'_, Vec<Str>> {
        let ids = self.local().sockets(&opts);
        Box::pin(async move { ids })
    }

    /// Sends `packet` to the sockets `opts` targets, on every server (this one: with
    /// [`LocalNamespace::broadcast`]; the others: `nsp`, `event` and `args` of the packet,
    /// and `opts`). Default: this server only.
    fn broadcast(
        &self,
        packet: Arc<BroadcastPacket>,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            self.local().broadcast_interleaved(&packet, &opts).await;
            Ok(())
        })
    }

    /// Sends `packet` (which has an ack id) to the sockets `opts` targets on every server,
    /// and sends to `acks`, in any order: one [`ReplySink::client_count`] per server that
    /// got the request (this one included: [`LocalNamespace::broadcast_with_ack`] reports
    /// it), and one [`ReplySink::reply`] per client acknowledgement.
    ///
    /// Resolves once the request is sent (not when the replies are in: the caller collects
    /// them until the count of [`server_count`](Self::server_count) servers have reported and
    /// every client has answered, or its timeout passes). A cluster adapter keeps `acks` for
    /// the other servers' answers until [`acks.closed()`](ReplySink::closed) resolves.
    /// Default: this server only.
    fn broadcast_with_ack(
        &self,
        packet: Arc<BroadcastPacket>,
        opts: BroadcastOptions,
        acks: ReplySink,
    ) -> BoxFuture<'_, Result<(), Error>> {
        self.local().broadcast_with_ack(&packet, &opts, &acks);
        Box::pin(async { Ok(()) })
    }

    /// Makes the sockets `opts` targets join `rooms`, on every server. Resolves once this
    /// server's sockets have joined and the request is sent to the others. Default:
    /// [`LocalNamespace::add_sockets`] (this server only).
    fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Str>,
    ) -> BoxFuture<'_, Result<(), Error>> {
        self.local().add_sockets(&opts, &rooms);
        Box::pin(async { Ok(()) })
    }

    /// Makes the sockets `opts` targets leave `rooms`, on every server (like
    /// [`add_sockets`](Self::add_sockets)). Default: [`LocalNamespace::del_sockets`].
    fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Str>,
    ) -> BoxFuture<'_, Result<(), Error>> {
        self.local().del_sockets(&opts, &rooms);
        Box::pin(async { Ok(()) })
    }

    /// Disconnects the sockets `opts` targets, on every server (closing their connections
    /// with `close`), like [`add_sockets`](Self::add_sockets). Default:
    /// [`LocalNamespace::disconnect_sockets`].
    fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> BoxFuture<'_, Result<(), Error>> {
        self.local().disconnect_sockets(&opts, close);
        Box::pin(async { Ok(()) })
    }

    /// The sockets `opts` targets on every server: this server's
    /// ([`LocalNamespace::fetch_sockets`]) and every other server's answer, once all answered
    /// ([`Error::adapter_timeout`] otherwise: socket.io rejects the whole call too). Default:
    /// this server only.
    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
    ) -> BoxFuture<'_, Result<Vec<RemoteSocketData>, Error>> {
        let sockets = self.local().fetch_sockets(&opts);
        Box::pin(async move { Ok(sockets) })
    }

    /// The rooms of every server (each once). Default: [`LocalNamespace::rooms`].
    fn all_rooms(&self) -> BoxFuture<'_, Result<Vec<Str>, Error>> {
        let rooms = self.local().rooms();
        Box::pin(async move { Ok(rooms) })
    }

    /// Sends the server-side event `event` with `args` to the **other** servers, whose
    /// adapters hand it to [`LocalNamespace::server_event`].
    ///
    /// With `replies`, the caller waits for one answer per other server (it counts them with
    /// [`server_count`](Self::server_count) − 1, and does not call this method when that is
    /// 0): send each server's answer to [`ReplySink::reply`], until
    /// [`replies.closed()`](ReplySink::closed) resolves. Default: nothing to do (there is no
    /// other server).
    fn server_side_emit(
        &self,
        event: Str,
        args: Args,
        replies: Option<ReplySink>,
    ) -> BoxFuture<'_, Result<(), Error>> {
        let _ = (event, args, replies);
        Box::pin(async { Ok(()) })
    }

    /// The number of servers in the cluster, this one included. Default: 1.
    fn server_count(&self) -> BoxFuture<'_, Result<usize, Error>> {
        Box::pin(async { Ok(1) })
    }

    /// Connection state recovery
    /// ([`SocketIoConfig::connection_state_recovery`](crate::SocketIoConfig::connection_state_recovery)):
    /// keeps the session of a socket of this server that disconnected for a recoverable
    /// reason, for
    /// [`max_disconnection_duration`](super::ConnectionStateRecovery::max_disconnection_duration)
    /// (socket.io's `persistSession`). Default: [`LocalNamespace::persist_session`] (this
    /// server's memory).
    fn persist_session(&self, session: SessionState) -> BoxFuture<'_, ()> {
        self.local().persist_session(session);
        Box::pin(async {})
    }

    /// Connection state recovery: the session `pid`, if it can be recovered from `offset`
    /// (the offset of the last event the client got), with the events it missed since
    /// (socket.io's `restoreSession`). `pid` and `offset` come from the client: an unknown,
    /// expired or already used pid, or an offset that cannot be served, must give `None`
    /// (the client then gets a fresh session), and a session must be restored at most once.
    /// An error is logged and counts as `None`. Default:
    /// [`LocalNamespace::restore_session`].
    fn restore_session(
        &self,
        pid: Str,
        offset: Str,
    ) -> BoxFuture<'_, Result<Option<RestoredSession>, Error>> {
        let restored = self.local().restore_session(&pid, &offset);
        Box::pin(async move { Ok(restored) })
    }

    /// The server is closing ([`SocketIo::close`](crate::SocketIo::close)): leave the
    /// cluster. Later cluster-wide calls may fail with [`Error::adapter_closed`].
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// Creates the adapter of each namespace.
///
/// Called once per namespace, when it is created: for `/` inside
/// [`SocketIo::with_adapter`](crate::SocketIo::with_adapter), for the others by
/// [`SocketIo::of`](crate::SocketIo::of) or the first CONNECT to a dynamic namespace (the
/// template of [`of_dynamic`](crate::SocketIo::of_dynamic) gets an [`InMemoryAdapter`]). It
/// runs synchronously, maybe before a Tokio runtime runs: an adapter that needs a task of
/// its own (a subscriber) spawns it with `tokio::runtime::Handle::try_current()` or starts
/// it lazily.
pub type AdapterFactory = Arc<dyn Fn(LocalNamespace) -> Arc<dyn Adapter> + Send + Sync>;

/// A namespace as the adapter layer and the layers between it and the public
/// [`Namespace`](super::Namespace) see it: this server's state of it (name, options, room
/// registry, recovery store, ack ids, socket table) and the adapter. `namespace.rs`, above,
/// implements it for the namespace's state; [`LocalNamespace`] holds it weakly, the
/// [`BroadcastOperator`](super::BroadcastOperator) and the server-side event futures
/// strongly. Nothing here knows the public `Namespace` or `Socket` types.
pub(crate) trait NsCore: Send + Sync + fmt::Debug + 'static {
    /// The name (`/`, `/admin`...).
    fn name(&self) -> &Str;
    /// The server's options.
    fn config(&self) -> &SocketIoConfig;
    /// The namespace's adapter.
    fn adapter(&self) -> &Arc<dyn Adapter>;
    /// A new ack id of this namespace.
    fn next_ack_id(&self) -> u64;
    /// The room registry, locked.
    fn rooms(&self) -> MutexGuard<'_, Rooms>;
    /// Tells the room listeners about `changes` (`(joined, room, id)`), once the registry is
    /// unlocked.
    fn notify_room_changes(&self, changes: Vec<(bool, Str, Str)>);
    /// Connection state recovery's store, locked (`None` when recovery is off).
    fn recovery(&self) -> Option<MutexGuard<'_, RecoveryStore>>;
    /// Whether connection state recovery is on.
    fn recovers(&self) -> bool;
    /// Calls `f` with the local socket `id`, if it is here (looked up, then called once the
    /// socket table is unlocked).
    fn with_socket(&self, id: &str, f: &mut dyn FnMut(&dyn LocalSocket));
    /// Runs the handlers of a server-side event from another server
    /// ([`LocalNamespace::server_event`]); `false` when nothing handles it.
    fn server_event(self: Arc<Self>, event: &str, args: Args, reply: Option<ReplySink>) -> bool;
    /// The namespace's state as `Any`, for the layer that made it to get its own type back.
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

/// A socket of this server as the adapter layer sees it: what a broadcast, a fetch and a
/// bulk disconnect do with it. [`Socket`](super::Socket) implements it, above.
pub(crate) trait LocalSocket: Send + Sync + 'static {
    /// The socket id.
    fn id(&self) -> &Str;
    /// Its handshake.
    fn handshake(&self) -> &Handshake;
    /// A copy of its `data`.
    fn data_value(&self) -> Value;
    /// Writes a pre-encoded packet if the socket is connected; with `ack`, its session waits
    /// for the answer. `false` if it was not written.
    fn deliver(
        &self,
        messages: &[Message],
        volatile: bool,
        ack: Option<(u64, Option<std::time::Instant>, AckSender)>,
    ) -> bool;
    /// Disconnects it (and closes its connection with `close`).
    fn disconnect(&self, close: bool);
    /// The socket as `Any`, for the layer that made it to get its own type back.
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

/// What [`encode_packet`] needs of a namespace: its name and its parser.
pub(crate) trait PacketNamespace {
    /// The name.
    fn packet_nsp(&self) -> &Str;
    /// The parser.
    fn parser(&self) -> Parser;
}

impl PacketNamespace for dyn NsCore {
    fn packet_nsp(&self) -> &Str {
        self.name()
    }

    fn parser(&self) -> Parser {
        self.config().parser
    }
}

impl PacketNamespace for Arc<dyn NsCore> {
    fn packet_nsp(&self) -> &Str {
        self.name()
    }

    fn parser(&self) -> Parser {
        self.config().parser
    }
}

/// This server's sockets of one namespace, as its [`Adapter`] sees them: the room registry
/// and the hooks that act on the sockets, for the adapter's own operations and for the
/// requests of other servers.
///
/// A weak handle: it does not keep the namespace alive, and every hook does nothing (or
/// returns nothing) once the namespace is gone. Cheap to clone.
#[derive(Clone, Default)]
pub struct LocalNamespace {
    ns: Option<Weak<dyn NsCore>>,
}

impl fmt::Debug for LocalNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        f.debug_struct("LocalNamespace")
            .field("name", &name)
            .finish()
    }
}

impl LocalNamespace {
    pub(crate) fn new(ns: Weak<dyn NsCore>) -> Self {
        LocalNamespace { ns: Some(ns) }
    }

    /// The namespace's state, while it exists (the public
    /// [`namespace`](Self::namespace) is written in `namespace.rs`, above).
    pub(crate) fn core(&self) -> Option<Arc<dyn NsCore>> {
        self.ns.as_ref()?.upgrade()
    }

    /// The namespace's name (`None` once it is gone).
    pub fn name(&self) -> Option<Str> {
        self.core().map(|ns| ns.name().clone())
    }

    fn with_rooms<R>(&self, default: R, f: impl FnOnce(&mut Rooms) -> R) -> R {
        match self.core() {
            Some(ns) => {
                let (out, changes) = {
                    let mut rooms = ns.rooms();
                    let out = f(&mut rooms);
                    (out, rooms.changes.as_mut().map(std::mem::take))
                };
                // Told once the registry is unlocked: a listener may act on the rooms.
                if let Some(changes) = changes {
                    ns.notify_room_changes(changes);
                }
                out
            }
            None => default,
        }
    }

    // ----- the room registry -----

    /// Adds socket `id` to `rooms`.
    pub fn add_all(&self, id: &Str, rooms: Vec<Str>) {
        self.with_rooms((), |state| {
            for room in rooms {
                state.add(id, room);
            }
        });
    }

    /// Removes socket `id` from `room`.
    pub fn del(&self, id: &str, room: &str) {
        self.with_rooms((), |state| state.del(id, room));
    }

    /// Removes socket `id` from every room.
    pub fn del_all(&self, id: &str) {
        self.with_rooms((), |state| state.del_all(id));
    }

    /// The rooms of socket `id` (its own id included).
    pub fn socket_rooms(&self, id: &str) -> Vec<Str> {
        self.with_rooms(Vec::new(), |state| state.socket_rooms(id))
    }

    /// Every room with at least one socket of this server (socket ids included: each
    /// socket is in a room named by its id), for `ALL_ROOMS`.
    pub fn rooms(&self) -> Vec<Str> {
        self.with_rooms(Vec::new(), |state| state.rooms.keys().cloned().collect())
    }

    /// Whether a socket of this server is in `room` (a Redis adapter drops a message
    /// published on the channel of a room this server does not have).
    pub fn has_room(&self, room: &str) -> bool {
        self.with_rooms(false, |state| state.rooms.contains_key(room))
    }

    /// The ids of the sockets `opts` targets (in any of `opts.rooms`, or all, and in none
    /// of `opts.except`), each once, for `SOCKETS`.
    pub fn sockets(&self, opts: &BroadcastOptions) -> Vec<Str> {
        self.with_rooms(Vec::new(), |state| state.targets(opts))
    }

    /// Calls `f` with each socket of this server that `opts` targets.
    fn each_target(ns: &dyn NsCore, opts: &BroadcastOptions, mut f: impl FnMut(&dyn LocalSocket)) {
        let ids = ns.rooms().targets(opts);
        for id in &ids {
            ns.with_socket(id, &mut f);
        }
    }

    // ----- acting on the sockets -----

    /// Encodes the event `event` with `args` for this namespace with this server's parser:
    /// what a remote broadcast (socket.io's un-encoded `{type, data: [event, ...args], nsp}`)
    /// becomes before [`broadcast`](Self::broadcast). With `with_ack`, the packet gets an
    /// ack id of this server, for [`broadcast_with_ack`](Self::broadcast_with_ack).
    ///
    /// Fails for a reserved event name (`connect`, `disconnect`...), arguments that cannot
    /// be encoded, or a namespace that is gone (kind [`Disconnected`](crate::ErrorKind::Disconnected)).
    pub fn packet(
        &self,
        event: &str,
        args: Args,
        with_ack: bool,
    ) -> Result<Arc<BroadcastPacket>, Error> {
        let ns = self.core().ok_or(Error::disconnected())?;
        let ack_id = with_ack.then(|| ns.next_ack_id());
        encode_packet(&ns, event, args, ack_id).map(Arc::new)
    }

    /// Writes `packet` to the sockets `opts` targets (`opts.flags.volatile`: not to those
    /// whose send queue is full); returns how many got it.
    ///
    /// With connection state recovery on, an EVENT neither volatile nor acknowledged gets
    /// the namespace's next offset as its last argument and goes into the namespace's log
    /// (see [`ConnectionStateRecovery`](super::ConnectionStateRecovery)), then to the
    /// sockets, under the log's lock: every client gets such events in offset order.
    pub fn broadcast(&self, packet: &BroadcastPacket, opts: &BroadcastOptions) -> usize {
        let Some(ns) = self.core() else {
            return 0;
        };
        if packet.ack_id.is_none() && !opts.flags.volatile {
            if let Some(mut store) = ns.recovery() {
                let (seq, offset) = store.next_offset();
                match with_offset(&*ns, packet, &offset) {
                    Ok(messages) => {
                        store.log(recovery_now(), seq, &opts.rooms, &opts.except, &messages);
                        let mut count = 0;
                        Self::each_target(&*ns, opts, |socket| {
                            if socket.deliver(&messages, false, None) {
                                count += 1;
                            }
                        });
                        crate::metrics::broadcast(count);
                        return count;
                    }
                    Err(error) => {
                        tracing::debug!(nsp = %ns.name(), %error, "no offset added: the event is not stored");
                    }
                }
            }
        }
        let mut count = 0;
        Self::each_target(&*ns, opts, |socket| {
            if deliver_to(
                socket,
                packet,
                opts.flags.volatile,
                None,
                ns.config().ack_timeout,
            ) {
                count += 1;
            }
        });
        crate::metrics::broadcast(count);
        count
    }

    /// [`broadcast`](Self::broadcast), letting the recipients' tasks write after the first 8
    /// recipients, then after every 64: the first clients get the packet while the others are
    /// still being handed it, instead of after the whole loop (on a server whose workers share
    /// one CPU, a 10,000-recipient loop otherwise delays every write by its full length).
    /// Returns how many got it.
    ///
    /// With connection state recovery on, an event that gets an offset is written to every
    /// recipient at once, as [`broadcast`](Self::broadcast) does (under the log's lock).
    pub async fn broadcast_interleaved(
        &self,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
    ) -> usize {
        let recovering = packet.ack_id.is_none()
            && !opts.flags.volatile
            && self.core().is_some_and(|ns| ns.recovers());
        if recovering {
            return self.broadcast(packet, opts);
        }
        let Some(ns) = self.core() else {
            return 0;
        };
        // The ids only: each socket is looked up when its turn comes, so that the first
        // frames go out before the whole room was walked twice.
        let recipients = ns.rooms().recipients(opts);
        let mut count = 0;
        let mut next_yield = FIRST_CHUNK;
        for (i, id) in recipients.iter().enumerate() {
            if i == next_yield {
                tokio::task::yield_now().await;
                next_yield += BROADCAST_CHUNK;
            }
            ns.with_socket(id, &mut |socket| {
                if deliver_to(
                    socket,
                    packet,
                    opts.flags.volatile,
                    None,
                    ns.config().ack_timeout,
                ) {
                    count += 1;
                }
            });
        }
        crate::metrics::broadcast(count);
        count
    }

    /// Writes `packet` (made with an ack id) to the sockets `opts` targets, sends how many
    /// got it to [`acks.client_count`](ReplySink::client_count), and each of their
    /// acknowledgements to [`acks.reply`](ReplySink::reply) as it arrives; returns the
    /// count. A socket forgets its pending acknowledgement once `acks` is closed.
    pub fn broadcast_with_ack(
        &self,
        packet: &BroadcastPacket,
        opts: &BroadcastOptions,
        acks: &ReplySink,
    ) -> usize {
        let mut count = 0;
        if let Some(ns) = self.core() {
            let timeout = opts.flags.timeout.unwrap_or(ns.config().ack_timeout);
            Self::each_target(&*ns, opts, |socket| {
                if deliver_to(socket, packet, opts.flags.volatile, Some(acks), timeout) {
                    count += 1;
                }
            });
        }
        acks.client_count(count);
        crate::metrics::broadcast(count);
        count
    }

    /// Writes `packet` to the socket `id`; with `replies`, its acknowledgement goes there.
    /// `false` if the socket is gone or (volatile) could not take it.
    pub fn deliver(
        &self,
        id: &str,
        packet: &BroadcastPacket,
        volatile: bool,
        replies: Option<&ReplySink>,
    ) -> bool {
        let Some(ns) = self.core() else {
            return false;
        };
        let mut delivered = false;
        ns.with_socket(id, &mut |socket| {
            delivered = deliver_to(socket, packet, volatile, replies, ns.config().ack_timeout);
        });
        delivered
    }

    /// Describes the sockets `opts` targets, for `REMOTE_FETCH` / `FETCH_SOCKETS`: each
    /// serializes as `{id, handshake, rooms, data}` (see [`RemoteSocketData`]).
    pub fn fetch_sockets(&self, opts: &BroadcastOptions) -> Vec<RemoteSocketData> {
        let Some(ns) = self.core() else {
            return Vec::new();
        };
        let mut sockets = Vec::new();
        Self::each_target(&*ns, opts, |socket| {
            sockets.push((
                socket.id().clone(),
                socket.handshake().clone(),
                socket.data_value(),
            ));
        });
        let rooms = ns.rooms();
        sockets
            .into_iter()
            .map(|(id, handshake, data)| {
                let socket_rooms = rooms.socket_rooms(&id);
                RemoteSocketData::new(id, handshake, socket_rooms, data)
            })
            .collect()
    }

    /// Makes the sockets `opts` targets join `rooms`.
    pub fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Str]) {
        self.with_rooms((), |state| {
            for id in state.targets(opts) {
                for room in rooms {
                    state.add(&id, room.clone());
                }
            }
        });
    }

    /// Makes the sockets `opts` targets leave `rooms`.
    pub fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Str]) {
        self.with_rooms((), |state| {
            for id in state.targets(opts) {
                for room in rooms {
                    state.del(&id, room);
                }
            }
        });
    }

    /// Disconnects the sockets `opts` targets (closing their connections with `close`), as
    /// [`Socket::disconnect`](super::Socket::disconnect) does.
    pub fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        if let Some(ns) = self.core() {
            Self::each_target(&*ns, opts, |socket| socket.disconnect(close));
        }
    }

    // ----- connection state recovery -----

    /// Keeps `session` in this server's memory for connection state recovery (see
    /// [`ConnectionStateRecovery`](super::ConnectionStateRecovery)): what the default
    /// [`Adapter::persist_session`] does. Nothing happens when recovery is off.
    pub fn persist_session(&self, session: SessionState) {
        if let Some(ns) = self.core() {
            if let Some(mut store) = ns.recovery() {
                store.persist(recovery_now(), session);
            }
        }
    }

    /// The session `pid` kept in this server's memory, if it can be recovered from `offset`:
    /// what the default [`Adapter::restore_session`] does. The session is claimed (a second
    /// call finds nothing) and its missed events are written, from this server's log, when
    /// the socket connects again.
    pub fn restore_session(&self, pid: &str, offset: &str) -> Option<RestoredSession> {
        let ns = self.core()?;
        let mut store = ns.recovery()?;
        let state = store.claim(recovery_now(), pid, offset)?;
        Some(RestoredSession {
            state,
            missed: Vec::new(),
            local: true,
        })
    }

    /// Hands a server-side event from another server to the handler this server registered
    /// for `event` ([`Namespace::on_server_event`](super::Namespace::on_server_event)), on a task of its own. With `reply`,
    /// the handler's [`ServerEventAck`](super::ServerEventAck) sends its answer (one
    /// argument) to [`reply.reply`](ReplySink::reply), at most once.
    ///
    /// `false` when nothing handles it (no handler, a reserved name, no Tokio runtime, the
    /// namespace is gone): then no answer will come, as in socket.io.
    pub fn server_event(&self, event: &str, args: Args, reply: Option<ReplySink>) -> bool {
        match self.core() {
            Some(ns) => ns.server_event(event, args, reply),
            None => false,
        }
    }
}

/// How many recipients [`LocalNamespace::broadcast_interleaved`] hands a packet before it lets
/// their tasks run.
const BROADCAST_CHUNK: usize = 64;

/// The first chunk of [`LocalNamespace::broadcast_interleaved`]: small, so that the first
/// recipients get the packet at once.
const FIRST_CHUNK: usize = 8;

/// Writes a packet to one socket; with `replies`, its session waits for the answer to the
/// packet's ack id until the sink's deadline (else `timeout`: the broadcast's, else the
/// namespace's [`ack_timeout`](crate::SocketIoConfig::ack_timeout)), and sends it there.
fn deliver_to(
    socket: &dyn LocalSocket,
    packet: &BroadcastPacket,
    volatile: bool,
    replies: Option<&ReplySink>,
    timeout: Duration,
) -> bool {
    let ack = match (replies, packet.ack_id) {
        (Some(replies), Some(ack_id)) => {
            if replies.is_closed() {
                return false;
            }
            let now = tokio::time::Instant::now();
            let deadline = replies.deadline().unwrap_or(now + timeout);
            Some((
                ack_id,
                Some(deadline.into_std()),
                AckSender::Broadcast(replies.clone()),
            ))
        }
        _ => None,
    };
    socket.deliver(&packet.messages, volatile, ack)
}

/// `now` for connection state recovery: Tokio's clock, so that tests in paused time drive it.
pub(crate) fn recovery_now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// The messages of `packet` with `offset` appended to its arguments.
fn with_offset(
    ns: &dyn NsCore,
    packet: &BroadcastPacket,
    offset: &Str,
) -> Result<Vec<Message>, sio_protocol::Error> {
    if let Some(Message::Text(text)) = packet.messages.first() {
        if ns.config().parser == sio_protocol::socket::Parser::Json && text.ends_with(']') {
            // socket.io-parser's text ends with the array of the name and the arguments (the
            // attachments of a binary event follow as messages of their own).
            let head = &text[..text.len() - 1];
            let mut patched = String::with_capacity(text.len() + offset.len() + 3);
            patched.push_str(head);
            patched.push_str(",\"");
            patched.push_str(offset);
            patched.push_str("\"]");
            let mut messages = packet.messages.clone();
            messages[0] = Message::Text(Str::from(patched));
            return Ok(messages);
        }
    }
    let mut values = packet.args.to_values()?;
    values.push(sio_protocol::Value::from(offset.as_str()));
    let event = Packet::event(
        packet.nsp.clone(),
        packet.event.clone(),
        Args::from_values(values),
        None,
    );
    let encoded = sio_protocol::socket::Encoder::new(ns.config().parser).encode(&event)?;
    Ok(frames(encoded))
}

/// Encodes a broadcast packet of `ns` with its parser.
pub(crate) fn encode_packet(
    ns: &(impl PacketNamespace + ?Sized),
    event: &str,
    args: Args,
    ack_id: Option<u64>,
) -> Result<BroadcastPacket, Error> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(Error::reserved(event));
    }
    let event = Str::from(event.to_owned());
    let packet = Packet::event(ns.packet_nsp().clone(), event.clone(), args.clone(), ack_id);
    let encoded = sio_protocol::socket::Encoder::new(ns.parser())
        .encode(&packet)
        .map_err(Error::args)?;
    Ok(BroadcastPacket {
        nsp: ns.packet_nsp().clone(),
        event,
        args,
        ack_id,
        messages: frames(encoded),
    })
}

/// The default adapter: rooms in memory, everything on this server only (all the defaults
/// of [`Adapter`]).
#[derive(Debug, Default)]
pub struct InMemoryAdapter {
    ns: LocalNamespace,
}

impl InMemoryAdapter {
    /// An adapter for the namespace `ns`.
    pub fn new(ns: LocalNamespace) -> Self {
        InMemoryAdapter { ns }
    }

    /// The factory of [`SocketIo`](crate::SocketIo)'s default adapter.
    pub fn factory() -> AdapterFactory {
        Arc::new(|ns| Arc::new(InMemoryAdapter::new(ns)))
    }
}

impl Adapter for InMemoryAdapter {
    fn local(&self) -> &LocalNamespace {
        &self.ns
    }
}

/// The room registry of one namespace on this server.
#[derive(Debug, Default)]
pub(crate) struct Rooms {
    /// Room → the sockets in it.
    rooms: HashMap<Str, Members>,
    /// Socket → its rooms.
    sids: HashMap<Str, Members>,
    /// The joins (`true`) and leaves not yet told to the room listeners
    /// ([`Namespace::on_join_room`](super::Namespace::on_join_room)): recorded only once one is registered.
    pub(crate) changes: Option<Vec<(bool, Str, Str)>>,
}

/// A set of ids (a room's sockets, a socket's rooms), without a table while it holds one:
/// most rooms hold one socket (each socket is in the room of its own id) and most sockets are
/// in one room, and a hash set of one costs an allocation of 148 bytes. A larger set is behind
/// an `Arc`, so that the entries of the registry's two maps stay small (one entry per socket in
/// each), and so that a broadcast to a room takes the room's members as they are with one
/// reference count ([`Rooms::recipients`]) instead of cloning every id: a join or leave while
/// a broadcast still walks the set copies it then (`Arc::make_mut`).
#[derive(Debug, Default)]
enum Members {
    #[default]
    Empty,
    One(Str),
    Many(Arc<HashSet<Str>>),
}

impl Members {
    /// Adds `id`; false when it was there.
    fn insert(&mut self, id: Str) -> bool {
        match self {
            Members::Empty => {
                *self = Members::One(id);
                true
            }
            Members::One(one) if *one == id => false,
            Members::One(_) => {
                let Members::One(one) = std::mem::take(self) else {
                    unreachable!()
                };
                *self = Members::Many(Arc::new(HashSet::from([one, id])));
                true
            }
            Members::Many(set) => !set.contains(&id) && Arc::make_mut(set).insert(id),
        }
    }

    /// Removes `id` and returns it, if it was there.
    fn take(&mut self, id: &str) -> Option<Str> {
        match self {
            Members::Empty => None,
            Members::One(one) if one.as_str() == id => match std::mem::take(self) {
                Members::One(one) => Some(one),
                _ => unreachable!(),
            },
            Members::One(_) => None,
            Members::Many(set) if set.contains(id) => Arc::make_mut(set).take(id),
            Members::Many(_) => None,
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn len(&self) -> usize {
        match self {
            Members::Empty => 0,
            Members::One(_) => 1,
            Members::Many(set) => set.len(),
        }
    }

    fn iter(&self) -> MembersIter<'_> {
        let (one, many) = match self {
            Members::Empty => (None, None),
            Members::One(one) => (Some(one), None),
            Members::Many(set) => (None, Some(&**set)),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

type MembersIter<'a> = std::iter::Chain<
    std::option::IntoIter<&'a Str>,
    std::iter::Flatten<std::option::IntoIter<&'a HashSet<Str>>>,
>;

impl<'a> IntoIterator for &'a Members {
    type Item = &'a Str;
    type IntoIter = MembersIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl IntoIterator for Members {
    type Item = Str;
    type IntoIter = std::iter::Chain<
        std::option::IntoIter<Str>,
        std::iter::Flatten<std::option::IntoIter<HashSet<Str>>>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        let (one, many) = match self {
            Members::Empty => (None, None),
            Members::One(one) => (Some(one), None),
            Members::Many(set) => (
                None,
                Some(Arc::try_unwrap(set).unwrap_or_else(|set| (*set).clone())),
            ),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

/// The recipients of a broadcast, taken from the registry under its lock and walked after it:
/// the members of one room as they were (one reference count) but those of the excepted
/// rooms (their ids copied), or a list of ids.
enum Recipients {
    Room {
        members: Arc<HashSet<Str>>,
        except: HashSet<Str>,
    },
    Ids(Vec<Str>),
}

impl Recipients {
    fn iter(&self) -> RecipientsIter<'_> {
        match self {
            Recipients::Room { members, except } => RecipientsIter::Room {
                members: members.iter(),
                except,
            },
            Recipients::Ids(ids) => RecipientsIter::Ids(ids.iter()),
        }
    }
}

enum RecipientsIter<'a> {
    Room {
        members: std::collections::hash_set::Iter<'a, Str>,
        except: &'a HashSet<Str>,
    },
    Ids(std::slice::Iter<'a, Str>),
}

impl<'a> Iterator for RecipientsIter<'a> {
    type Item = &'a Str;

    fn next(&mut self) -> Option<&'a Str> {
        match self {
            RecipientsIter::Room { members, except } => members.find(|id| !except.contains(*id)),
            RecipientsIter::Ids(ids) => ids.next(),
        }
    }
}

impl Rooms {
    /// What [`targets`](Self::targets) lists, without copying a large room's ids: a
    /// broadcast to one room shares the room's set (for a room of 10,000, cloning the ids was
    /// 85 % of the time before the first write; BENCHMARKS.md §2.0), and copies the ids of
    /// the rooms it excepts instead (`socket.to(room).emit` excepts the sender's own room:
    /// one id), unless they hold more sockets than the room.
    fn recipients(&self, opts: &BroadcastOptions) -> Recipients {
        if let [room] = opts.rooms.as_slice()
            && let Some(Members::Many(members)) = self.rooms.get(room)
        {
            let excepted = || opts.except.iter().filter_map(|room| self.rooms.get(room));
            if excepted().map(Members::len).sum::<usize>() <= members.len() {
                return Recipients::Room {
                    members: members.clone(),
                    except: excepted().flatten().cloned().collect(),
                };
            }
        }
        Recipients::Ids(self.targets(opts))
    }

    fn targets(&self, opts: &BroadcastOptions) -> Vec<Str> {
        let excluded: HashSet<&Str> = opts
            .except
            .iter()
            .filter_map(|room| self.rooms.get(room))
            .flatten()
            .collect();
        let mut out = Vec::new();
        if let [room] = opts.rooms.as_slice() {
            // One room: its members are distinct, no need to remember who was seen.
            out.extend(
                self.rooms
                    .get(room)
                    .into_iter()
                    .flatten()
                    .filter(|id| !excluded.contains(id))
                    .cloned(),
            );
        } else if opts.rooms.is_empty() {
            out.extend(
                self.sids
                    .keys()
                    .filter(|id| !excluded.contains(id))
                    .cloned(),
            );
        } else {
            let mut seen = HashSet::new();
            for room in &opts.rooms {
                for id in self.rooms.get(room).into_iter().flatten() {
                    if !excluded.contains(id) && seen.insert(id) {
                        out.push(id.clone());
                    }
                }
            }
        }
        out
    }

    fn socket_rooms(&self, id: &str) -> Vec<Str> {
        self.sids
            .get(id)
            .map(|rooms| rooms.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn add(&mut self, id: &Str, room: Str) {
        self.sids
            .entry(id.clone())
            .or_default()
            .insert(room.clone());
        let joined = self
            .rooms
            .entry(room.clone())
            .or_default()
            .insert(id.clone());
        if let (true, Some(changes)) = (joined, &mut self.changes) {
            changes.push((true, room, id.clone()));
        }
    }

    fn del(&mut self, id: &str, room: &str) {
        if let Some(rooms) = self.sids.get_mut(id) {
            rooms.take(room);
        }
        self.unlink(id, room);
    }

    /// Removes `id` from the sockets of `room` (and the room once empty).
    fn unlink(&mut self, id: &str, room: &str) {
        let Some(ids) = self.rooms.get_mut(room) else {
            return;
        };
        let Some(id) = ids.take(id) else {
            return;
        };
        if ids.is_empty() {
            self.rooms.remove(room);
        }
        if let Some(changes) = &mut self.changes {
            changes.push((false, Str::from(room.to_owned()), id));
        }
    }

    fn del_all(&mut self, id: &str) {
        if let Some(rooms) = self.sids.remove(id) {
            for room in rooms {
                self.unlink(id, &room);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(members: &Members) -> Vec<&str> {
        let mut out: Vec<&str> = members.iter().map(Str::as_str).collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn members_go_from_none_to_one_to_many_and_back() {
        // The registry's maps hold one per socket: as small as a `Str` and its tag.
        assert!(std::mem::size_of::<Members>() <= std::mem::size_of::<Str>() + 8);
        let mut members = Members::default();
        assert!(members.is_empty());
        assert!(members.insert(Str::from("a")));
        assert!(!members.insert(Str::from("a")));
        assert!(matches!(members, Members::One(_)));
        assert_eq!(sorted(&members), ["a"]);
        assert!(members.insert(Str::from("b")));
        assert!(!members.insert(Str::from("b")));
        assert_eq!(sorted(&members), ["a", "b"]);
        assert_eq!(members.take("c"), None);
        assert_eq!(members.take("a").as_deref(), Some("a"));
        assert_eq!(sorted(&members), ["b"]);
        assert_eq!(members.take("b").as_deref(), Some("b"));
        assert!(members.is_empty());
        assert_eq!(members.take("b"), None);
        let mut one = Members::default();
        one.insert(Str::from("x"));
        assert_eq!(one.take("y"), None);
        assert_eq!(one.into_iter().collect::<Vec<_>>(), [Str::from("x")]);
    }

    /// A broadcast to a room shares the room's set, and joins and leaves after it was taken
    /// do not change whom it reaches (the set is copied then, not before).
    #[test]
    fn a_broadcast_keeps_the_room_as_it_was_when_taken() {
        let mut rooms = Rooms::default();
        let lobby = Str::from("lobby");
        for id in ["a", "b", "c", "d"] {
            // Each socket is in the room of its own id, as a connected socket is.
            rooms.add(&Str::from(id), Str::from(id));
        }
        for id in ["a", "b", "c"] {
            rooms.add(&Str::from(id), lobby.clone());
        }
        let opts = BroadcastOptions::new(vec![lobby.clone()], Vec::new());
        let recipients = rooms.recipients(&opts);
        assert!(matches!(recipients, Recipients::Room { .. }));
        rooms.add(&Str::from("d"), lobby.clone());
        rooms.del("a", "lobby");
        let mut then: Vec<&str> = recipients.iter().map(Str::as_str).collect();
        then.sort_unstable();
        assert_eq!(then, ["a", "b", "c"]);
        let mut now = rooms.targets(&opts);
        now.sort_unstable();
        assert_eq!(now, [Str::from("b"), Str::from("c"), Str::from("d")]);
        // With an exception (socket b's own room, as `socket.to(room)` makes it), the set is
        // shared too, without b.
        let except = BroadcastOptions::new(vec![lobby.clone()], vec![Str::from("b")]);
        let recipients = rooms.recipients(&except);
        assert!(matches!(recipients, Recipients::Room { .. }));
        rooms.del("c", "lobby");
        let mut then: Vec<&str> = recipients.iter().map(Str::as_str).collect();
        then.sort_unstable();
        assert_eq!(then, ["c", "d"]);
        // Excepting more sockets than the room holds: the ids are listed.
        for id in ["e", "f", "g"] {
            rooms.add(&Str::from(id), Str::from("crowd"));
        }
        let except = BroadcastOptions::new(vec![lobby], vec![Str::from("crowd")]);
        assert!(matches!(rooms.recipients(&except), Recipients::Ids(ids) if ids.len() == 2));
    }

    #[test]
    fn rooms_of_one_socket_are_found_both_ways() {
        let mut rooms = Rooms::default();
        let (a, b) = (Str::from("a"), Str::from("b"));
        rooms.add(&a, a.clone());
        rooms.add(&b, b.clone());
        rooms.add(&a, Str::from("lobby"));
        rooms.add(&b, Str::from("lobby"));
        let mut of_a = rooms.socket_rooms("a");
        of_a.sort_unstable();
        assert_eq!(of_a, [Str::from("a"), Str::from("lobby")]);
        rooms.del(&a, "lobby");
        assert_eq!(rooms.socket_rooms("a"), [Str::from("a")]);
        assert_eq!(sorted(&rooms.rooms["lobby"]), ["b"]);
        rooms.del_all("b");
        assert!(!rooms.rooms.contains_key("lobby"));
        assert!(!rooms.rooms.contains_key("b"));
        assert!(rooms.socket_rooms("b").is_empty());
    }
}
