//! [`instrument`]: the admin namespace, its events and actions.
//!
//! Everything the instrumentation tells the UI goes through one channel to one task, which
//! emits it on the admin namespace in order (through the adapter: the UIs connected to any
//! server of the cluster get it, as in JavaScript).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Instant;

use sio_protocol::socket::Args;
use sio_protocol::{Map, Str, Value};
use sio_server::{
    BroadcastOperator, Error, Namespace, Socket, SocketDisconnectReason, SocketIo, TransportKind,
};
use tokio::sync::mpsc;

use crate::options::{Auth, InstrumentOptions, Mode};
use crate::serialize::{self, ADMIN_KEY, Spread, now_value, socket_value, user_data};

/// How many events may wait for the emitting task; past that, new ones are dropped (and
/// logged): the UI is a monitor, the server's sockets come first.
const QUEUE: usize = 4096;

/// The reasons for which a socket's disconnection is its connection's end too.
fn closes_connection(reason: SocketDisconnectReason) -> bool {
    !matches!(
        reason,
        SocketDisconnectReason::ServerNamespaceDisconnect
            | SocketDisconnectReason::ClientNamespaceDisconnect
    )
}

/// Instruments `io` for the Socket.IO Admin UI (`@socket.io/admin-ui` 0.5.1's
/// `instrument(io, options)`): creates the admin namespace with its authentication, sends
/// the UI what it shows, and carries out its actions. Call it once per server, in a Tokio
/// runtime (it starts two tasks, which end after [`SocketIo::close`]); with a cluster
/// adapter, call it on every server, each with its own
/// [`server_id`](InstrumentOptions::server_id).
///
/// What the admin namespace sends (event names and shapes of JavaScript):
///
/// | event | when | mode |
/// |-------|------|------|
/// | `session` (id) | after a login with the password: the UI reconnects with it | both |
/// | `config` `{supportedFeatures}` | on connection | both |
/// | `server_stats` `{serverId, hostname, pid, uptime, clientsCount, pollingClientsCount, aggregatedEvents, namespaces}` | every [`stats_interval`](InstrumentOptions::stats_interval), from every server | both |
/// | `all_sockets` ([socket...]) | on connection: every socket of every namespace of the cluster (`fetch_sockets`) | development |
/// | `socket_connected` (socket, date), `socket_disconnected` (nsp, id, reason, date) | as it happens | development |
/// | `socket_updated` `{id, nsp, transport?, data?}` | a socket upgraded or its `data` changed (noticed at the statistics' pace) | development |
/// | `room_joined`, `room_left` (nsp, room, id, date) | as it happens ([`Namespace::on_join_room`]) | development |
/// | `event_received`, `event_sent` (nsp, id, [event, ...args], date) | each event of a socket ([`Socket::on_any`], [`Socket::on_any_outgoing`]; not broadcasts, as in JavaScript) | development |
///
/// The actions of the UI, unless [`read_only`](InstrumentOptions::read_only): `emit` (nsp,
/// filter, event, ...args), `join` (nsp, room, filter), `leave` (nsp, room, filter) and
/// `_disconnect` (nsp, close, filter), where `filter` is a room or a socket id (every socket
/// of the namespace when empty). They act on every server of the cluster
/// ([`BroadcastOperator::sockets_join`]...), on namespaces that exist (JavaScript would
/// create a namespace the UI names).
///
/// `aggregatedEvents` counts `rawConnection` and `rawDisconnection` (with the reason) per
/// second, seen from the Socket.IO layer: an Engine.IO connection is counted when its first
/// socket connects, and its end when its last socket leaves for a reason that closes the
/// connection. Packets and bytes (`packetsIn`, `bytesOut`...) are not reported: sio-server
/// exposes no per-packet hook.
///
/// Fails for an invalid [`Mode`] string or outside a Tokio runtime.
///
/// ```
/// use sio_admin::{Auth, InstrumentOptions, instrument};
/// use sio_server::{SocketIo, SocketIoConfig};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let io = SocketIo::new(SocketIoConfig::default());
/// // bcryptjs.hashSync("changeit", 10)
/// let auth = Auth::basic("admin", "$2a$10$zjWsRaMOYavzOhvlaqa1luYPq2W0ItZaupxctsjLB37qQAL3.sK4q")?;
/// instrument(&io, InstrumentOptions::new(auth))?;
/// // The Admin UI connects to the namespace "/admin" of this server.
/// let _server = io.listen("127.0.0.1:0").await?; // a free port
/// # Ok(())
/// # }
/// ```
pub fn instrument(io: &SocketIo, options: InstrumentOptions) -> Result<(), crate::error::Error> {
    let runtime = tokio::runtime::Handle::try_current().map_err(crate::error::Error::no_runtime)?;
    let admin = io.of(&options.namespace_name);
    let (tx, rx) = mpsc::channel(QUEUE);
    let shared = Arc::new(Shared {
        io: io.clone(),
        admin: admin.clone(),
        dev: options.mode == Mode::Development,
        server_id: options.server_id.clone().unwrap_or_else(hostname),
        options,
        tx,
        dropping: AtomicBool::new(false),
        sessions: Mutex::new(HashSet::new()),
        events: Mutex::new(EventBuffer::default()),
        clients: Mutex::new(HashMap::new()),
        watched: Mutex::new(HashMap::new()),
        namespaces: Mutex::new(HashSet::new()),
    });
    process_start();

    if let Auth::Basic { .. } = &shared.options.auth {
        let auth = shared.clone();
        admin.use_middleware(move |socket| {
            let shared = auth.clone();
            async move { shared.authenticate(&socket).await }
        });
    }

    // Every namespace, this one included, before the admin namespace's own handler: the
    // admin socket is announced before it gets its list (JavaScript prepends this listener).
    let mut names = io.namespaces();
    names.sort();
    for name in names {
        shared.watch(&io.of(&name));
    }
    let watcher = Arc::downgrade(&shared);
    io.on_new_namespace(move |ns| {
        if let Some(shared) = watcher.upgrade() {
            shared.watch(ns);
        }
    });

    let on_admin = shared.clone();
    let admin_name = admin.name().clone();
    admin.on_connection(move |socket| {
        let shared = on_admin.clone();
        let own = socket.namespace().name() == &admin_name;
        async move {
            if own {
                shared.admin_connected(socket).await;
            }
        }
    });

    runtime.spawn(emit_task(admin, rx, shared.clone()));
    runtime.spawn(stats_task(shared));
    Ok(())
}

/// What the instrumentation of one server shares between its hooks and tasks.
struct Shared {
    io: SocketIo,
    admin: Namespace,
    options: InstrumentOptions,
    dev: bool,
    server_id: String,
    tx: mpsc::Sender<(&'static str, Vec<Value>)>,
    /// Events are being dropped (logged once per episode).
    dropping: AtomicBool,
    /// The session ids handed out after a login (JavaScript's `InMemoryStore`).
    sessions: Mutex<HashSet<String>>,
    events: Mutex<EventBuffer>,
    /// Engine.IO session id → its connected sockets (for `rawConnection`).
    clients: Mutex<HashMap<Str, usize>>,
    /// Development mode: (namespace, socket id) → the transport and data last reported.
    watched: Mutex<HashMap<(Str, Str), (TransportKind, Value)>>,
    /// The namespaces already watched.
    namespaces: Mutex<HashSet<Str>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A session id: 16 hexadecimal digits from the OS's CSPRNG (JavaScript: 8 random bytes).
fn session_id() -> Option<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The session id a login got, emitted once the socket is connected.
#[derive(Clone)]
struct NewSession(String);

impl Shared {
    /// Queues an event for the admin namespace.
    fn send(&self, event: &'static str, args: Vec<Value>) {
        match self.tx.try_send((event, args)) {
            Ok(()) => {
                self.dropping.store(false, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                if !self.dropping.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        nsp = %self.admin.name(),
                        "admin UI events are dropped: the admin namespace does not keep up"
                    );
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// The admin namespace's middleware for basic authentication.
    async fn authenticate(&self, socket: &Socket) -> Result<(), Error> {
        let Auth::Basic {
            username,
            password_hash,
        } = &self.options.auth
        else {
            return Ok(());
        };
        let auth = &socket.handshake().auth;
        if let Some(id) = auth.get("sessionId").and_then(Value::as_str) {
            if lock(&self.sessions).contains(id) {
                return Ok(());
            }
        }
        let user = auth.get("username").and_then(Value::as_str);
        let password = auth.get("password").and_then(Value::as_str);
        if let (Some(user), Some(password)) = (user, password) {
            if user == username {
                let password = password.to_owned();
                let hash = password_hash.clone();
                // bcrypt takes tens of milliseconds by design: off the runtime's threads.
                let matches = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or(false);
                if matches {
                    if let Some(id) = session_id() {
                        lock(&self.sessions).insert(id.clone());
                        socket.insert_data(NewSession(id));
                    }
                    return Ok(());
                }
            }
        }
        tracing::debug!(nsp = %self.admin.name(), "admin UI: invalid credentials");
        Err(Error::rejected("invalid credentials"))
    }

    /// The features announced in `config`.
    fn features(&self) -> Vec<&'static str> {
        let mut features = if self.options.read_only {
            Vec::new()
        } else {
            vec![
                "EMIT",
                "JOIN",
                "LEAVE",
                "DISCONNECT",
                "MJOIN",
                "MLEAVE",
                "MDISCONNECT",
            ]
        };
        features.push("AGGREGATED_EVENTS");
        if self.dev {
            features.push("ALL_EVENTS");
        }
        features
    }

    /// A socket connected to the admin namespace.
    async fn admin_connected(self: Arc<Self>, socket: Socket) {
        if let Some(NewSession(id)) = socket.data::<NewSession>() {
            let _ = socket.emit("session", &id).await;
        }
        if !self.options.read_only {
            self.register_actions(&socket);
        }
        let mut config = Map::new();
        config.insert(
            "supportedFeatures".to_owned(),
            Value::from(
                self.features()
                    .into_iter()
                    .map(Value::from)
                    .collect::<Vec<_>>(),
            ),
        );
        let _ = socket.emit("config", &Value::Object(config)).await;
        if self.dev {
            let sockets = self.all_sockets().await;
            let _ = socket.emit("all_sockets", &Value::Array(sockets)).await;
        }
    }

    /// Every socket of every namespace of the cluster (this server's only when another
    /// server does not answer).
    async fn all_sockets(&self) -> Vec<Value> {
        let mut names = self.io.namespaces();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            let ns = self.io.of(&name);
            let sockets = match ns.fetch_sockets().await {
                Ok(sockets) => sockets,
                Err(error) => {
                    tracing::debug!(%error, nsp = %name, "admin UI: fetch_sockets failed, listing this server's sockets");
                    ns.local().fetch_sockets().await.unwrap_or_default()
                }
            };
            out.extend(
                sockets
                    .iter()
                    .map(|s| socket_value(s.id(), &name, s.handshake(), s.rooms(), s.data())),
            );
        }
        out
    }

    /// The actions of the UI on an admin socket.
    fn register_actions(self: &Arc<Self>, socket: &Socket) {
        let shared = self.clone();
        socket.on_args("emit", move |_, args, _| {
            let shared = shared.clone();
            async move {
                let mut values = args.into_values().unwrap_or_default().into_iter();
                let (Some(nsp), filter, Some(event)) =
                    (values.next(), values.next(), values.next())
                else {
                    return;
                };
                let (Some(op), Some(event)) =
                    (shared.target(&nsp, filter.as_ref()), event.as_str())
                else {
                    return;
                };
                let rest: Vec<Value> = values.collect();
                if let Err(error) = op.emit(event, &Spread(rest)).await {
                    tracing::debug!(%error, "admin UI: emit failed");
                }
            }
        });
        for (event, join) in [("join", true), ("leave", false)] {
            let shared = self.clone();
            socket.on_args(event, move |_, args, _| {
                let shared = shared.clone();
                async move {
                    let values = args.into_values().unwrap_or_default();
                    let (Some(nsp), Some(room)) =
                        (values.first(), values.get(1).and_then(Value::as_str))
                    else {
                        return;
                    };
                    let Some(op) = shared.target(nsp, values.get(2)) else {
                        return;
                    };
                    let room = Str::from(room.to_owned());
                    let done = if join {
                        op.sockets_join(room).await
                    } else {
                        op.sockets_leave(room).await
                    };
                    if let Err(error) = done {
                        tracing::debug!(%error, "admin UI: {} failed", if join { "join" } else { "leave" });
                    }
                }
            });
        }
        let shared = self.clone();
        socket.on_args("_disconnect", move |_, args, _| {
            let shared = shared.clone();
            async move {
                let values = args.into_values().unwrap_or_default();
                let Some(nsp) = values.first() else {
                    return;
                };
                let close = values.get(1).and_then(Value::as_bool).unwrap_or(false);
                let Some(op) = shared.target(nsp, values.get(2)) else {
                    return;
                };
                if let Err(error) = op.disconnect_sockets(close).await {
                    tracing::debug!(%error, "admin UI: disconnect failed");
                }
            }
        });
    }

    /// The sockets of the existing namespace `nsp`, in the room `filter` (a room or a socket
    /// id) unless it is empty.
    fn target(&self, nsp: &Value, filter: Option<&Value>) -> Option<BroadcastOperator> {
        let nsp = nsp.as_str()?;
        if !self.io.namespaces().iter().any(|n| n.as_str() == nsp) {
            return None;
        }
        let ns = self.io.of(nsp);
        Some(
            match filter.and_then(Value::as_str).filter(|f| !f.is_empty()) {
                Some(room) => ns.to(Str::from(room.to_owned())),
                None => ns.broadcast(),
            },
        )
    }

    /// Hooks a namespace's sockets and rooms (once per namespace).
    fn watch(self: &Arc<Self>, ns: &Namespace) {
        let name = ns.name().clone();
        if !lock(&self.namespaces).insert(name.clone()) {
            return;
        }
        if self.dev {
            for (joined, event) in [(true, "room_joined"), (false, "room_left")] {
                let shared = Arc::downgrade(self);
                let nsp = name.clone();
                let listener = move |room: &Str, id: &Str| {
                    if let Some(shared) = shared.upgrade() {
                        shared.send(
                            event,
                            vec![
                                Value::from(nsp.clone()),
                                Value::from(room.clone()),
                                Value::from(id.clone()),
                                now_value(),
                            ],
                        );
                    }
                };
                if joined {
                    ns.on_join_room(listener);
                } else {
                    ns.on_leave_room(listener);
                }
            }
        }
        let shared = Arc::downgrade(self);
        ns.on_connection(move |socket| {
            let shared = shared.upgrade();
            let nsp = name.clone();
            async move {
                // The children of a dynamic namespace share their connection handlers: each
                // child's hook takes its own sockets only.
                if let Some(shared) = shared.filter(|_| socket.namespace().name() == &nsp) {
                    shared.socket_connected(socket).await;
                }
            }
        });
    }

    /// A socket connected to a watched namespace.
    async fn socket_connected(self: Arc<Self>, socket: Socket) {
        let sid = socket.engine_sid().clone();
        let first = {
            let mut clients = lock(&self.clients);
            let count = clients.entry(sid.clone()).or_insert(0);
            *count += 1;
            *count == 1
        };
        if first {
            lock(&self.events).push("rawConnection", None);
        }
        let nsp = socket.namespace().name().clone();
        if self.dev {
            let transport = socket.transport();
            let client_id: String = sid.chars().take(12).collect();
            socket.update_data(|data| {
                if let Value::Object(map) = data {
                    let mut admin = Map::new();
                    admin.insert("clientId".to_owned(), Value::from(client_id));
                    admin.insert("transport".to_owned(), Value::from(transport.as_str()));
                    map.insert(ADMIN_KEY.to_owned(), Value::Object(admin));
                }
            });
            let data = socket.data_value();
            let rooms = socket.rooms().await;
            let value = socket_value(socket.id(), &nsp, socket.handshake(), &rooms, &data);
            lock(&self.watched).insert(
                (nsp.clone(), socket.id().clone()),
                (transport, user_data(&data)),
            );
            self.send("socket_connected", vec![value, now_value()]);
            if &nsp != self.admin.name() {
                let shared = Arc::downgrade(&self);
                socket.on_any(move |socket, event, args| {
                    if let Some(shared) = shared.upgrade() {
                        shared.send_event("event_received", &socket, event.as_str(), &args);
                    }
                    async {}
                });
                let shared = Arc::downgrade(&self);
                let me = socket.clone();
                socket.on_any_outgoing(move |event, args| {
                    if let Some(shared) = shared.upgrade() {
                        shared.send_event("event_sent", &me, event, args);
                    }
                });
            }
        }
        let shared = Arc::downgrade(&self);
        socket.on_disconnect(move |socket, reason| {
            if let Some(shared) = shared.upgrade() {
                shared.socket_disconnected(&socket, reason);
            }
            async {}
        });
    }

    fn send_event(&self, kind: &'static str, socket: &Socket, event: &str, args: &Args) {
        let mut values = vec![Value::from(event)];
        values.extend(args.to_values().unwrap_or_default());
        self.send(
            kind,
            vec![
                Value::from(socket.namespace().name().clone()),
                Value::from(socket.id().clone()),
                Value::Array(values),
                now_value(),
            ],
        );
    }

    fn socket_disconnected(&self, socket: &Socket, reason: SocketDisconnectReason) {
        let sid = socket.engine_sid();
        let last = {
            let mut clients = lock(&self.clients);
            match clients.get_mut(sid) {
                Some(count) if *count > 1 => {
                    *count -= 1;
                    false
                }
                Some(_) => {
                    clients.remove(sid);
                    true
                }
                None => false,
            }
        };
        if last && closes_connection(reason) {
            lock(&self.events).push("rawDisconnection", Some(reason.as_str()));
        }
        if self.dev {
            let nsp = socket.namespace().name().clone();
            lock(&self.watched).remove(&(nsp.clone(), socket.id().clone()));
            self.send(
                "socket_disconnected",
                vec![
                    Value::from(nsp),
                    Value::from(socket.id().clone()),
                    Value::from(reason.as_str()),
                    now_value(),
                ],
            );
        }
    }

    /// The `server_stats` payload.
    fn stats(&self) -> Value {
        let mut names = self.io.namespaces();
        names.sort();
        let mut namespaces = Vec::new();
        let mut polling = HashSet::new();
        for name in names {
            let sockets = self.io.of(&name).sockets();
            for socket in &sockets {
                if socket.transport() == TransportKind::Polling {
                    polling.insert(socket.engine_sid().clone());
                }
            }
            let mut ns = Map::new();
            ns.insert("name".to_owned(), Value::from(name));
            ns.insert("socketsCount".to_owned(), Value::from(sockets.len() as u64));
            namespaces.push(Value::Object(ns));
        }
        let mut out = Map::new();
        out.insert("serverId".to_owned(), Value::from(self.server_id.as_str()));
        out.insert("hostname".to_owned(), Value::from(hostname()));
        out.insert("pid".to_owned(), Value::from(std::process::id()));
        out.insert(
            "uptime".to_owned(),
            Value::from(process_start().elapsed().as_secs_f64()),
        );
        out.insert(
            "clientsCount".to_owned(),
            Value::from(self.io.engine().session_count() as u64),
        );
        out.insert(
            "pollingClientsCount".to_owned(),
            Value::from(polling.len() as u64),
        );
        out.insert(
            "aggregatedEvents".to_owned(),
            Value::Array(lock(&self.events).take()),
        );
        out.insert("namespaces".to_owned(), Value::Array(namespaces));
        Value::Object(out)
    }

    /// Development mode: tells the UI which sockets changed transport or data.
    fn check_updates(&self) {
        let names = self.io.namespaces();
        let mut updates = Vec::new();
        {
            let mut watched = lock(&self.watched);
            for name in names {
                for socket in self.io.of(&name).sockets() {
                    let key = (name.clone(), socket.id().clone());
                    let Some((transport, data)) = watched.get_mut(&key) else {
                        continue;
                    };
                    let now = socket.transport();
                    if now != *transport {
                        *transport = now;
                        socket.update_data(|data| {
                            if let Some(admin) = data
                                .as_object_mut()
                                .and_then(|m| m.get_mut(ADMIN_KEY))
                                .and_then(Value::as_object_mut)
                            {
                                admin.insert("transport".to_owned(), Value::from(now.as_str()));
                            }
                        });
                        updates.push(update(&key, "transport", Value::from(now.as_str())));
                    }
                    let current = user_data(&socket.data_value());
                    if current != *data {
                        *data = current.clone();
                        updates.push(update(&key, "data", current));
                    }
                }
            }
        }
        for value in updates {
            self.send("socket_updated", vec![value]);
        }
    }
}

/// `{id, nsp, <field>: value}`.
fn update(key: &(Str, Str), field: &str, value: Value) -> Value {
    let mut map = Map::new();
    map.insert("id".to_owned(), Value::from(key.1.clone()));
    map.insert("nsp".to_owned(), Value::from(key.0.clone()));
    map.insert(field.to_owned(), value);
    Value::Object(map)
}

/// Emits the queued events on the admin namespace, in order.
async fn emit_task(
    admin: Namespace,
    mut rx: mpsc::Receiver<(&'static str, Vec<Value>)>,
    shared: Arc<Shared>,
) {
    // Only the hooks' weak references are left to the server: this task ends with it.
    let io = shared.io.clone();
    drop(shared);
    while let Some((event, args)) = rx.recv().await {
        if io.is_closed() {
            break;
        }
        if let Err(error) = admin.emit(event, &Spread(args)).await {
            tracing::debug!(%error, event, "admin UI: emit failed");
        }
    }
}

/// Sends `server_stats` at once, then at every interval, until the server closes.
async fn stats_task(shared: Arc<Shared>) {
    let mut interval = tokio::time::interval(shared.options.stats_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if shared.io.is_closed() {
            break;
        }
        if shared.dev {
            shared.check_updates();
        }
        let stats = shared.stats();
        shared.send("server_stats", vec![stats]);
    }
}

/// Counts per second and type, as JavaScript's `EventBuffer`.
#[derive(Default)]
struct EventBuffer {
    entries: Vec<(u64, &'static str, Option<&'static str>, u64)>,
}

impl EventBuffer {
    fn push(&mut self, kind: &'static str, sub: Option<&'static str>) {
        let second = serialize::now_ms() / 1000 * 1000;
        match self
            .entries
            .iter_mut()
            .find(|(t, k, s, _)| *t == second && *k == kind && *s == sub)
        {
            Some(entry) => entry.3 += 1,
            None => self.entries.push((second, kind, sub, 1)),
        }
    }

    fn take(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.entries)
            .into_iter()
            .map(|(timestamp, kind, sub, count)| {
                let mut map = Map::new();
                map.insert("timestamp".to_owned(), Value::from(timestamp));
                map.insert("type".to_owned(), Value::from(kind));
                if let Some(sub) = sub {
                    map.insert("subType".to_owned(), Value::from(sub));
                }
                map.insert("count".to_owned(), Value::from(count));
                Value::Object(map)
            })
            .collect()
    }
}

/// When the process started, as far as this crate knows: the first `instrument` call.
fn process_start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// The host name (Node's `os.hostname()`): `/proc/sys/kernel/hostname` on Linux, else
/// `$HOSTNAME` / `$COMPUTERNAME`, else `localhost`.
fn hostname() -> String {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .or_else(|| std::env::var("COMPUTERNAME").ok())
            .unwrap_or_else(|| "localhost".to_owned())
    })
    .clone()
}
