//! The [`Adapter`] trait (rooms and broadcasting, possibly across servers) and the default
//! [`InMemoryAdapter`].

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use sio_protocol::Str;
use sio_protocol::socket::Args;
use tokio::sync::mpsc;

use super::BoxFuture;
use super::namespace::{self, Inner as NsInner, Namespace};
use super::socket::AckSender;
use crate::Message;

/// Flags of a broadcast.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BroadcastFlags {
    /// Drop the packet for a client whose send queue cannot take it now.
    pub volatile: bool,
    /// Do not forward to other servers.
    pub local: bool,
    /// socket.io's `compress` flag, as given to
    /// [`BroadcastOperator::compress`](super::BroadcastOperator::compress) (`None`: not given,
    /// socket.io's `true`). The in-memory adapter does not apply it: see that method for what
    /// the transports do.
    pub compress: Option<bool>,
    /// The acknowledgement timeout of `emit_with_ack`.
    pub timeout: Option<Duration>,
}

/// Which sockets a broadcast or a bulk operation targets: those in any of `rooms` (every
/// socket when empty) and in none of `except`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BroadcastOptions {
    /// Target rooms (none: everyone).
    pub rooms: Vec<Str>,
    /// Excluded rooms.
    pub except: Vec<Str>,
    /// Flags.
    pub flags: BroadcastFlags,
}

/// A packet to broadcast, encoded once: `messages` are handed to every local recipient
/// (cheap clones of the same buffers); `event` and `args` let a remote adapter re-encode it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BroadcastPacket {
    /// The namespace.
    pub nsp: Str,
    /// The event name.
    pub event: Str,
    /// The arguments.
    pub args: Args,
    /// The ack id every recipient answers with (`emit_with_ack`).
    pub ack_id: Option<u64>,
    /// The encoded Engine.IO messages: the packet, then its attachments.
    pub messages: Vec<Message>,
}

/// Rooms and broadcasting for one namespace.
///
/// Every method returns a future so that an implementation may talk to other servers (Redis,
/// Postgres...). The futures of [`InMemoryAdapter`] complete at once. An adapter delivers to
/// the sockets of this server through the [`LocalNamespace`] it was created with.
pub trait Adapter: Send + Sync + fmt::Debug + 'static {
    /// Adds socket `id` to `rooms`.
    fn add_all(&self, id: Str, rooms: Vec<Str>) -> BoxFuture<'_, ()>;
    /// Removes socket `id` from `room`.
    fn del(&self, id: Str, room: Str) -> BoxFuture<'_, ()>;
    /// Removes socket `id` from every room.
    fn del_all(&self, id: Str) -> BoxFuture<'_, ()>;
    /// The rooms of socket `id`.
    fn socket_rooms(&self, id: Str) -> BoxFuture<'_, Vec<Str>>;
    /// The ids of the sockets `opts` targets.
    fn sockets(&self, opts: BroadcastOptions) -> BoxFuture<'_, Vec<Str>>;
    /// Sends `packet` to the sockets `opts` targets.
    fn broadcast(&self, packet: Arc<BroadcastPacket>, opts: BroadcastOptions) -> BoxFuture<'_, ()>;
    /// Sends `packet` (which has an ack id) and forwards each acknowledgement to `replies`;
    /// resolves to the number of clients the packet was sent to.
    fn broadcast_with_ack(
        &self,
        packet: Arc<BroadcastPacket>,
        opts: BroadcastOptions,
        replies: mpsc::UnboundedSender<Args>,
    ) -> BoxFuture<'_, usize>;
    /// Makes the targeted sockets join `rooms`.
    fn add_sockets(&self, opts: BroadcastOptions, rooms: Vec<Str>) -> BoxFuture<'_, ()>;
    /// Makes the targeted sockets leave `rooms`.
    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Str>) -> BoxFuture<'_, ()>;
    /// Disconnects the targeted sockets (closing their connections with `close`).
    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool) -> BoxFuture<'_, ()>;
    /// The server is closing.
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// Creates the adapter of each namespace.
pub type AdapterFactory = Arc<dyn Fn(LocalNamespace) -> Arc<dyn Adapter> + Send + Sync>;

/// The sockets of one namespace on this server, as an adapter sees them (a weak handle).
#[derive(Clone, Default)]
pub struct LocalNamespace {
    ns: Weak<NsInner>,
}

impl fmt::Debug for LocalNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.namespace().map(|ns| ns.name().clone());
        f.debug_struct("LocalNamespace")
            .field("name", &name)
            .finish()
    }
}

impl LocalNamespace {
    pub(crate) fn new(ns: Weak<NsInner>) -> Self {
        LocalNamespace { ns }
    }

    /// The namespace, while it exists.
    pub fn namespace(&self) -> Option<Namespace> {
        namespace::upgrade(&self.ns)
    }

    /// Writes `packet` to the local socket `id`; with `replies`, its acknowledgement is
    /// forwarded there. `false` if the socket is gone or (volatile) could not take it.
    pub fn deliver(
        &self,
        id: &str,
        packet: &BroadcastPacket,
        volatile: bool,
        replies: Option<&mpsc::UnboundedSender<Args>>,
    ) -> bool {
        let Some(socket) = self.namespace().and_then(|ns| ns.get_socket(id)) else {
            return false;
        };
        if let (Some(replies), Some(ack_id)) = (replies, packet.ack_id) {
            socket.register_ack(ack_id, AckSender::Broadcast(replies.clone()));
        }
        let delivered = socket.deliver(&packet.messages, volatile);
        if !delivered {
            if let Some(ack_id) = packet.ack_id {
                socket.remove_ack(ack_id);
            }
        }
        delivered
    }
}

/// The default adapter: rooms in memory, broadcasts to this server's sockets.
#[derive(Debug, Default)]
pub struct InMemoryAdapter {
    ns: LocalNamespace,
    state: Mutex<Rooms>,
}

#[derive(Debug, Default)]
struct Rooms {
    rooms: HashMap<Str, HashSet<Str>>,
    sids: HashMap<Str, HashSet<Str>>,
}

impl Rooms {
    fn targets(&self, opts: &BroadcastOptions) -> Vec<Str> {
        let excluded: HashSet<&Str> = opts
            .except
            .iter()
            .filter_map(|room| self.rooms.get(room))
            .flatten()
            .collect();
        let mut out = Vec::new();
        if opts.rooms.is_empty() {
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

    fn add(&mut self, id: &Str, room: Str) {
        self.sids
            .entry(id.clone())
            .or_default()
            .insert(room.clone());
        self.rooms.entry(room).or_default().insert(id.clone());
    }

    fn del(&mut self, id: &Str, room: &Str) {
        if let Some(rooms) = self.sids.get_mut(id) {
            rooms.remove(room);
        }
        if let Some(ids) = self.rooms.get_mut(room) {
            ids.remove(id);
            if ids.is_empty() {
                self.rooms.remove(room);
            }
        }
    }
}

impl InMemoryAdapter {
    /// An adapter for the namespace `ns`.
    pub fn new(ns: LocalNamespace) -> Self {
        InMemoryAdapter {
            ns,
            state: Mutex::default(),
        }
    }

    /// The factory of [`SocketIo`](crate::SocketIo)'s default adapter.
    pub fn factory() -> AdapterFactory {
        Arc::new(|ns| Arc::new(InMemoryAdapter::new(ns)))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Rooms> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn targets(&self, opts: &BroadcastOptions) -> Vec<Str> {
        self.state().targets(opts)
    }

    fn target_sockets(&self, opts: &BroadcastOptions) -> Vec<super::Socket> {
        let Some(ns) = self.ns.namespace() else {
            return Vec::new();
        };
        self.targets(opts)
            .iter()
            .filter_map(|id| ns.get_socket(id))
            .collect()
    }
}

impl Adapter for InMemoryAdapter {
    fn add_all(&self, id: Str, rooms: Vec<Str>) -> BoxFuture<'_, ()> {
        let mut state = self.state();
        for room in rooms {
            state.add(&id, room);
        }
        Box::pin(async {})
    }

    fn del(&self, id: Str, room: Str) -> BoxFuture<'_, ()> {
        self.state().del(&id, &room);
        Box::pin(async {})
    }

    fn del_all(&self, id: Str) -> BoxFuture<'_, ()> {
        let mut state = self.state();
        if let Some(rooms) = state.sids.remove(&id) {
            for room in rooms {
                if let Some(ids) = state.rooms.get_mut(&room) {
                    ids.remove(&id);
                    if ids.is_empty() {
                        state.rooms.remove(&room);
                    }
                }
            }
        }
        Box::pin(async {})
    }

    fn socket_rooms(&self, id: Str) -> BoxFuture<'_, Vec<Str>> {
        let rooms = self
            .state()
            .sids
            .get(&id)
            .map(|rooms| rooms.iter().cloned().collect())
            .unwrap_or_default();
        Box::pin(async move { rooms })
    }

    fn sockets(&self, opts: BroadcastOptions) -> BoxFuture<'_, Vec<Str>> {
        let ids = self.targets(&opts);
        Box::pin(async move { ids })
    }

    fn broadcast(&self, packet: Arc<BroadcastPacket>, opts: BroadcastOptions) -> BoxFuture<'_, ()> {
        for id in self.targets(&opts) {
            self.ns.deliver(&id, &packet, opts.flags.volatile, None);
        }
        Box::pin(async {})
    }

    fn broadcast_with_ack(
        &self,
        packet: Arc<BroadcastPacket>,
        opts: BroadcastOptions,
        replies: mpsc::UnboundedSender<Args>,
    ) -> BoxFuture<'_, usize> {
        let mut count = 0;
        for id in self.targets(&opts) {
            if self
                .ns
                .deliver(&id, &packet, opts.flags.volatile, Some(&replies))
            {
                count += 1;
            }
        }
        Box::pin(async move { count })
    }

    fn add_sockets(&self, opts: BroadcastOptions, rooms: Vec<Str>) -> BoxFuture<'_, ()> {
        let ids = self.targets(&opts);
        let mut state = self.state();
        for id in ids {
            for room in &rooms {
                state.add(&id, room.clone());
            }
        }
        Box::pin(async {})
    }

    fn del_sockets(&self, opts: BroadcastOptions, rooms: Vec<Str>) -> BoxFuture<'_, ()> {
        let ids = self.targets(&opts);
        let mut state = self.state();
        for id in ids {
            for room in &rooms {
                state.del(&id, room);
            }
        }
        Box::pin(async {})
    }

    fn disconnect_sockets(&self, opts: BroadcastOptions, close: bool) -> BoxFuture<'_, ()> {
        for socket in self.target_sockets(&opts) {
            socket.disconnect(close);
        }
        Box::pin(async {})
    }
}
