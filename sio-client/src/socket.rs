//! [`Socket`]: one namespace over a [`Manager`]'s connection, and what its handlers receive.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sio_protocol::Value;
use sio_protocol::socket::{Args, RESERVED_EVENTS};
use tokio::sync::{mpsc, mpsc::UnboundedSender, oneshot};

use crate::commands::CommandSender;
use crate::driver::{Command, Emit};
use crate::error::{ConnectError, DisconnectReason, Error};
use crate::events::{Events, SocketEvent};
use crate::manager::Manager;

pub(crate) type EventHandler = Arc<dyn Fn(Message) + Send + Sync>;
pub(crate) type ConnectHandler = Arc<dyn Fn() + Send + Sync>;
pub(crate) type DisconnectHandler = Arc<dyn Fn(DisconnectReason) + Send + Sync>;
pub(crate) type ConnectErrorHandler = Arc<dyn Fn(&ConnectError) + Send + Sync>;
pub(crate) type AuthFn = Arc<dyn Fn() -> Value + Send + Sync>;
pub(crate) type OutgoingHandler = Arc<dyn Fn(&str, &Args) + Send + Sync>;

/// A handler of one event name.
pub(crate) struct Listener {
    pub(crate) handler: EventHandler,
    /// Registered with [`Socket::once`]: removed when it is called.
    pub(crate) once: bool,
}

/// The handlers of a socket. The driver clones the ones it calls out of the lock.
#[derive(Default)]
pub(crate) struct Handlers {
    pub(crate) events: HashMap<String, Vec<Listener>>,
    pub(crate) any: Vec<EventHandler>,
    pub(crate) any_outgoing: Vec<OutgoingHandler>,
    pub(crate) connect: Vec<ConnectHandler>,
    pub(crate) disconnect: Vec<DisconnectHandler>,
    pub(crate) connect_error: Vec<ConnectErrorHandler>,
    /// The live [`Events`] streams.
    pub(crate) streams: Vec<UnboundedSender<SocketEvent>>,
}

/// What a socket shares between its handles and the manager's task.
pub(crate) struct Shared {
    pub(crate) nsp: String,
    pub(crate) state: Mutex<View>,
    pub(crate) handlers: Mutex<Handlers>,
    pub(crate) auth: Mutex<Option<AuthFn>>,
}

/// The readable state of a socket (written only by the manager's task).
#[derive(Debug, Default, Clone)]
pub(crate) struct View {
    pub(crate) id: Option<String>,
    pub(crate) connected: bool,
    pub(crate) active: bool,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(nsp: String) -> Shared {
        Shared {
            nsp,
            state: Mutex::new(View::default()),
            handlers: Mutex::new(Handlers::default()),
            auth: Mutex::new(None),
        }
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("nsp", &self.nsp)
            .field("state", &*lock(&self.state))
            .finish_non_exhaustive()
    }
}

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

    /// Whether the last connection restored the session (connection state recovery,
    /// `socket.recovered`). Always false: this client does not ask for recovery yet.
    pub fn recovered(&self) -> bool {
        false
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

/// socket.io-client refuses to emit the names its peer reserves.
fn check_event(event: &str) -> Result<(), Error> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(Error::args(format!("\"{event}\" is a reserved event name")));
    }
    Ok(())
}

/// An event from the server, as a handler receives it.
#[derive(Clone)]
pub struct Message {
    pub(crate) event: String,
    pub(crate) args: Args,
    pub(crate) ack: Option<AckSender>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("event", &self.event)
            .field("args", &self.args)
            .field("wants_ack", &self.ack.is_some())
            .finish()
    }
}

impl Message {
    /// The event name.
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The arguments.
    pub fn args(&self) -> &Args {
        &self.args
    }

    /// Reads the arguments as `T`: a tuple takes them in order, another type the first one
    /// (see [`Args::deserialize`]).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.args.deserialize().map_err(Error::args)
    }

    /// Whether the server asked for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Answers the server's ack request with `args` (spread as in [`Socket::emit`]). Only the
    /// first answer is sent; without a request it does nothing.
    pub fn ack<T: Serialize + ?Sized>(&self, args: &T) -> Result<(), Error> {
        match &self.ack {
            Some(ack) => ack.send(args),
            None => Ok(()),
        }
    }
}

/// Sends the answer to one ack request of the server (shared by the clones of a [`Message`]).
#[derive(Clone)]
pub(crate) struct AckSender {
    pub(crate) nsp: String,
    pub(crate) id: u64,
    pub(crate) sent: Arc<AtomicBool>,
    pub(crate) commands: CommandSender,
}

impl AckSender {
    fn send<T: Serialize + ?Sized>(&self, args: &T) -> Result<(), Error> {
        let args = Args::new(args).map_err(Error::args)?;
        if !self.sent.swap(true, Ordering::AcqRel) {
            self.commands
                .send(Command::Ack(Box::new((self.nsp.clone(), self.id, args))));
        }
        Ok(())
    }
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
}
