//! [`Socket`]: one namespace over a [`Manager`]'s connection; [`Manager::socket`] and [`io`],
//! which make sockets.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde::Serialize;
use sio_protocol::Value;
use sio_protocol::socket::{Args, RESERVED_EVENTS};
use tokio::sync::{mpsc, oneshot};
use url::Url;

use crate::commands::{Command, Emit};
use crate::error::{ConnectError, DisconnectReason, Error};
use crate::events::Events;
use crate::manager::{Inner, Manager};
use crate::message::Message;
use crate::options::Options;
use crate::shared::{EventHandler, Listener, Shared};
use crate::sync::lock;

/// A Socket.IO socket: one namespace, multiplexed with the others of its [`Manager`] over one
/// connection (socket.io-client's `Socket`).
///
/// Handles are cheap to clone; they all drive the same socket. Handlers run on the manager's
/// task, in order: they should return quickly (spawn a task for slow work). They may call
/// any method of the socket.
///
/// ```no_run
/// # async fn run() -> Result<(), sio_client::Error> {
/// use sio_client::{Manager, Options};
///
/// let manager = Manager::new("http://localhost:3000", Options::default())?;
/// let socket = manager.socket("/");
/// socket.on("hello", |msg| {
///     let (text,): (String,) = msg.deserialize().unwrap_or_default();
///     println!("hello {text}");
///     msg.ack(&"got it"); // if the server asked for an ack
/// });
/// socket.on_connect(|| println!("connected"));
/// socket.connect();
/// socket.emit("chat", &("hi", 1))?; // buffered until connected
/// let answer = socket.timeout(std::time::Duration::from_secs(5)).emit_with_ack("ping", &()).await?;
/// # let _ = answer; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Socket {
    pub(crate) shared: Arc<Shared>,
    pub(crate) manager: Manager,
    pub(crate) ack_timeout: Option<Duration>,
    pub(crate) volatile: bool,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("nsp", &self.shared.nsp)
            .field("state", &*lock(&self.shared.state))
            .finish_non_exhaustive()
    }
}

impl Socket {
    fn command(&self, command: Command) -> bool {
        self.manager.command(command)
    }

    /// The namespace (`/`, `/admin`...).
    pub fn nsp(&self) -> &str {
        &self.shared.nsp
    }

    /// The socket id the server gave (`socket.id`), `None` while disconnected.
    pub fn id(&self) -> Option<String> {
        lock(&self.shared.state).id.clone()
    }

    /// Whether the socket is connected to its namespace.
    pub fn connected(&self) -> bool {
        lock(&self.shared.state).connected
    }

    /// Whether the socket is connected or will (re)connect (`socket.active`).
    pub fn active(&self) -> bool {
        lock(&self.shared.state).active
    }

    /// Whether the last connection to the namespace restored the previous session
    /// (`socket.recovered`): the server has connection state recovery on, and it answered the
    /// `pid` and offset this socket sent with the same session. The socket then kept its
    /// [`id`](Self::id) and rooms, and the events it missed while disconnected arrived before
    /// its `connect`. False before the first connection, and after a connection that started a
    /// new session. See [connection state recovery](crate#connection-state-recovery).
    pub fn recovered(&self) -> bool {
        lock(&self.shared.state).recovered
    }

    /// The manager of the socket (`socket.io`).
    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// Sets the auth payload of the CONNECT packet (`auth: {...}`).
    pub fn set_auth<T: Serialize + ?Sized>(&self, auth: &T) -> Result<(), Error> {
        let value = Value::from_serialize(auth).map_err(Error::args)?;
        *lock(&self.shared.auth) = Some(Arc::new(move || value.clone()));
        Ok(())
    }

    /// Sets a function that computes the auth payload at each connection attempt (`auth: cb =>
    /// cb({...})`).
    pub fn set_auth_with(&self, auth: impl Fn() -> Value + Send + Sync + 'static) {
        *lock(&self.shared.auth) = Some(Arc::new(auth));
    }

    /// Calls `handler` for each `event` from the server.
    pub fn on(&self, event: &str, handler: impl Fn(Message) + Send + Sync + 'static) {
        self.listen(event, Arc::new(handler), false);
    }

    /// Calls `handler` for the next `event` from the server only (`socket.once(event, fn)`):
    /// it is removed when that event arrives, before it runs. [`off`](Self::off) removes it
    /// if it has not run yet.
    ///
    /// ```no_run
    /// # async fn f(socket: sio_client::Socket) {
    /// let (tx, rx) = tokio::sync::oneshot::channel();
    /// socket.once("welcome", move |msg| {
    ///     let _ = tx.send(msg); // FnOnce: it may move what it captured
    /// });
    /// let first_welcome = rx.await;
    /// # let _ = first_welcome; }
    /// ```
    pub fn once(&self, event: &str, handler: impl FnOnce(Message) + Send + 'static) {
        let handler = Mutex::new(Some(handler));
        let handler = move |msg: Message| {
            // Taken out of the lock before it runs: the handler may use this socket.
            let handler = lock(&handler).take();
            if let Some(handler) = handler {
                handler(msg);
            }
        };
        self.listen(event, Arc::new(handler), true);
    }

    fn listen(&self, event: &str, handler: EventHandler, once: bool) {
        lock(&self.shared.handlers)
            .events
            .entry(event.to_owned())
            .or_default()
            .push(Listener { handler, once });
    }

    /// Removes every handler of `event`, [`once`](Self::once) handlers included
    /// (`socket.off(event)`).
    pub fn off(&self, event: &str) {
        lock(&self.shared.handlers).events.remove(event);
    }

    /// Calls `handler` for every event from the server, before the event's own handlers
    /// (`socket.onAny`), in the order the catch-all handlers were added.
    pub fn on_any(&self, handler: impl Fn(Message) + Send + Sync + 'static) {
        lock(&self.shared.handlers).any.push(Arc::new(handler));
    }

    /// Like [`on_any`](Self::on_any), but before the catch-all handlers already added
    /// (`socket.prependAny`).
    pub fn prepend_any(&self, handler: impl Fn(Message) + Send + Sync + 'static) {
        lock(&self.shared.handlers).any.insert(0, Arc::new(handler));
    }

    /// Removes every catch-all handler of [`on_any`](Self::on_any) and
    /// [`prepend_any`](Self::prepend_any) (`socket.offAny()`; closures cannot be compared, so
    /// there is no form that removes one of them).
    pub fn off_any(&self) {
        lock(&self.shared.handlers).any.clear();
    }

    /// Calls `handler` with the name and arguments of every event this socket sends
    /// (`socket.onAnyOutgoing`), just before it is written to the connection: an emit made
    /// while disconnected when the send buffer is flushed, each try of
    /// [`retries`](crate::Options::retries), never a dropped [`volatile`](Self::volatile) emit
    /// nor an ack answer. It runs on the manager's task, like the other handlers.
    ///
    /// ```no_run
    /// # fn f(socket: &sio_client::Socket) {
    /// socket.on_any_outgoing(|event, args| println!("-> {event} {args:?}"));
    /// # }
    /// ```
    pub fn on_any_outgoing(&self, handler: impl Fn(&str, &Args) + Send + Sync + 'static) {
        lock(&self.shared.handlers)
            .any_outgoing
            .push(Arc::new(handler));
    }

    /// Like [`on_any_outgoing`](Self::on_any_outgoing), but before the handlers already added
    /// (`socket.prependAnyOutgoing`).
    pub fn prepend_any_outgoing(&self, handler: impl Fn(&str, &Args) + Send + Sync + 'static) {
        lock(&self.shared.handlers)
            .any_outgoing
            .insert(0, Arc::new(handler));
    }

    /// Removes every handler of [`on_any_outgoing`](Self::on_any_outgoing) and
    /// [`prepend_any_outgoing`](Self::prepend_any_outgoing) (`socket.offAnyOutgoing()`).
    pub fn off_any_outgoing(&self) {
        lock(&self.shared.handlers).any_outgoing.clear();
    }

    /// Calls `handler` on each connection to the namespace (`connect`).
    pub fn on_connect(&self, handler: impl Fn() + Send + Sync + 'static) {
        lock(&self.shared.handlers).connect.push(Arc::new(handler));
    }

    /// Calls `handler` when the socket disconnects (`disconnect`), with the reason.
    pub fn on_disconnect(&self, handler: impl Fn(DisconnectReason) + Send + Sync + 'static) {
        lock(&self.shared.handlers)
            .disconnect
            .push(Arc::new(handler));
    }

    /// Calls `handler` when connecting fails (`connect_error`): refused by the server (the
    /// socket then stays disconnected), or the connection failed (it will be retried).
    pub fn on_connect_error(&self, handler: impl Fn(&ConnectError) + Send + Sync + 'static) {
        lock(&self.shared.handlers)
            .connect_error
            .push(Arc::new(handler));
    }

    /// Connects to the namespace, opening the manager's connection if needed
    /// (`socket.connect()`).
    pub fn connect(&self) {
        self.command(Command::Connect {
            nsp: self.shared.nsp.clone(),
        });
    }

    /// Leaves the namespace (`socket.disconnect()`, reason `"io client disconnect"`); no
    /// reconnection. The manager closes its connection when no socket is left.
    pub fn disconnect(&self) {
        self.command(Command::Disconnect {
            nsp: self.shared.nsp.clone(),
        });
    }

    /// Sends an event. `args` is spread into arguments: a tuple is several arguments, `()` none,
    /// anything else one (`Bytes` or `serde_bytes` values travel as binary attachments).
    ///
    /// While disconnected, the event is buffered and sent after the next connection, in order.
    ///
    /// Fails when `args` cannot be serialized, or `event` is reserved (`connect`,
    /// `disconnect`... see [`RESERVED_EVENTS`]).
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, args: &T) -> Result<(), Error> {
        self.emit_args(event, Args::new(args).map_err(Error::args)?)
    }

    /// Sends an event with arguments already built (for example
    /// [`Args::from_values`]), as [`emit`](Self::emit) does.
    ///
    /// Fails when `event` is reserved.
    pub fn emit_args(&self, event: &str, args: Args) -> Result<(), Error> {
        check_event(event)?;
        self.command(Command::Emit(Box::new(Emit {
            nsp: self.shared.nsp.clone(),
            event: event.to_owned(),
            args,
            ack: None,
            volatile: self.volatile,
        })));
        Ok(())
    }

    /// A handle whose emits are volatile (`socket.volatile`): dropped, not buffered, when the
    /// connection cannot take them right now (not connected, or a long-polling request
    /// already in flight). For data that is stale if late, such as positions. Volatile emits
    /// skip the [`retries`](crate::Options::retries) queue; a volatile
    /// [`emit_with_ack`](Self::emit_with_ack) whose packet was dropped ends only with its
    /// timeout or a disconnection, as in socket.io-client.
    ///
    /// ```no_run
    /// # fn f(socket: &sio_client::Socket) -> Result<(), sio_client::Error> {
    /// socket.volatile().emit("position", &(12.5, 3.0))?;
    /// # Ok(()) }
    /// ```
    pub fn volatile(&self) -> Socket {
        Socket {
            volatile: true,
            ..self.clone()
        }
    }

    /// The socket's events from now on as a [`Stream`](futures_core::Stream) (see
    /// [`Events`]). Events also go to the handlers registered with [`on`](Self::on) and
    /// friends.
    ///
    /// ```no_run
    /// # async fn f(socket: sio_client::Socket) {
    /// use sio_client::SocketEvent;
    ///
    /// let mut events = socket.events();
    /// socket.connect();
    /// while let Some(event) = events.recv().await {
    ///     match event {
    ///         SocketEvent::Message(msg) => println!("{}: {:?}", msg.event(), msg.args()),
    ///         SocketEvent::Disconnect(reason) => println!("disconnected: {reason}"),
    ///         _ => {}
    ///     }
    /// }
    /// # }
    /// ```
    pub fn events(&self) -> Events {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.shared.handlers).streams.push(tx);
        Events::new(rx)
    }

    /// A handle whose [`emit_with_ack`](Self::emit_with_ack) fails with
    /// `"operation has timed out"` after `timeout` (`socket.timeout(ms)`).
    pub fn timeout(&self, timeout: Duration) -> Socket {
        Socket {
            ack_timeout: Some(timeout),
            ..self.clone()
        }
    }

    /// Sends an event and waits for the server's acknowledgement (`emitWithAck`); see
    /// [`emit`](Self::emit) for `args`. Without [`timeout`](Self::timeout) it waits until the
    /// ack arrives or the socket disconnects.
    pub async fn emit_with_ack<T: Serialize + ?Sized>(
        &self,
        event: &str,
        args: &T,
    ) -> Result<Args, Error> {
        let args = Args::new(args).map_err(Error::args)?;
        self.emit_with_ack_args(event, args).await
    }

    /// [`emit_with_ack`](Self::emit_with_ack) with arguments already built.
    pub async fn emit_with_ack_args(&self, event: &str, args: Args) -> Result<Args, Error> {
        check_event(event)?;
        let (tx, rx) = oneshot::channel();
        if !self.command(Command::Emit(Box::new(Emit {
            nsp: self.shared.nsp.clone(),
            event: event.to_owned(),
            args,
            ack: Some((tx, self.ack_timeout)),
            volatile: self.volatile,
        }))) {
            return Err(Error::closed());
        }
        rx.await.unwrap_or_else(|_| Err(Error::closed()))
    }
}

impl Manager {
    /// The socket for namespace `nsp` (the same one for each call with the same namespace).
    /// It is not connected yet: register handlers, then call [`Socket::connect`].
    pub fn socket(&self, nsp: &str) -> Socket {
        let nsp = if nsp.starts_with('/') {
            nsp.to_owned()
        } else {
            format!("/{nsp}")
        };
        let mut sockets = lock(&self.inner.registry.sockets);
        let shared = match sockets.iter().find(|s| s.nsp == nsp) {
            Some(shared) => Arc::clone(shared),
            None => {
                let shared = Arc::new(Shared::new(nsp));
                // Exactly one more: a manager has few sockets, most of them one.
                sockets.reserve_exact(1);
                sockets.push(Arc::clone(&shared));
                shared
            }
        };
        Socket {
            shared,
            manager: self.clone(),
            ack_timeout: None,
            volatile: false,
        }
    }
}

/// Connects to `url` like JavaScript's `io(url, options)`: the socket for the URL's path as
/// namespace (`/` when empty), connected at once unless [`Options::auto_connect`] is off.
///
/// The manager is shared as socket.io-client's cache does: one per
/// `scheme://host:port<path>` (with [`Options::path`]), reused by the next `io` calls for
/// other namespaces (their `options` are then ignored, except `auto_connect`). A new,
/// uncached manager is made with [`Options::force_new`], without [`Options::multiplex`], or
/// when the cached manager already has this namespace. The cache holds no manager alive:
/// once every handle of a manager is dropped, the next `io` makes a new one.
///
/// Register handlers right after this call: events need a network round trip to arrive.
///
/// ```no_run
/// # fn f() -> Result<(), sio_client::Error> {
/// use sio_client::{Options, io};
///
/// let main = io("http://localhost:3000/", Options::default())?;
/// let admin = io("http://localhost:3000/admin", Options::default())?; // same connection
/// # Ok(()) }
/// ```
pub fn io(url: &str, options: Options) -> Result<Socket, Error> {
    static CACHE: Mutex<Option<HashMap<String, Weak<Inner>>>> = Mutex::new(None);
    let parsed = Url::parse(url).map_err(|e| Error::config(format!("bad url {url:?}: {e}")))?;
    let nsp = parsed.path().to_owned();
    let auto_connect = options.auto_connect;
    let manager = if options.force_new || !options.multiplex {
        Manager::new(url, options)?
    } else {
        let id = cache_id(&parsed, &options.path);
        let mut guard = lock(&CACHE);
        let cache = guard.get_or_insert_with(HashMap::new);
        cache.retain(|_, manager| manager.strong_count() > 0);
        match cache.get(&id).and_then(Weak::upgrade) {
            Some(inner) if inner.registry.socket(&nsp).is_none() => Manager { inner },
            Some(_) => Manager::new(url, options)?,
            None => {
                let manager = Manager::new(url, options)?;
                cache.insert(id, Arc::downgrade(&manager.inner));
                manager
            }
        }
    };
    let socket = manager.socket(&nsp);
    if auto_connect {
        socket.connect();
    }
    Ok(socket)
}

/// socket.io-client's cache key (`url.ts`): `scheme://host:port<path>`, the port made
/// explicit.
fn cache_id(url: &Url, path: &str) -> String {
    format!(
        "{}://{}:{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port_or_known_default().unwrap_or_default(),
        path
    )
}

/// socket.io-client refuses to emit the names its peer reserves.
fn check_event(event: &str) -> Result<(), Error> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(Error::args(format!("\"{event}\" is a reserved event name")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_are_refused() {
        for name in RESERVED_EVENTS {
            let err = check_event(name).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("\"{name}\" is a reserved event name")
            );
        }
        assert!(check_event("connected").is_ok());
        assert!(check_event("").is_ok());
    }

    #[test]
    fn cache_ids() {
        let id = |u: &str| cache_id(&Url::parse(u).unwrap(), "/socket.io");
        assert_eq!(id("http://localhost/a"), "http://localhost:80/socket.io");
        assert_eq!(id("http://localhost:80/"), "http://localhost:80/socket.io");
        assert_eq!(id("wss://h"), "wss://h:443/socket.io");
        assert_eq!(id("http://[::1]:3000/x"), "http://[::1]:3000/socket.io");
    }
}
