//! [`Socket`]: one namespace over a [`Manager`]'s connection; [`Manager::socket`] and [`io`],
//! which make sockets.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sio_protocol::Value;
use sio_protocol::socket::{Args, RESERVED_EVENTS};
use tokio::sync::{mpsc, oneshot};
use url::Url;

use crate::commands::{Command, Emit};
use crate::error::{DisconnectReason, Error};
use crate::events::Events;
use crate::manager::{Inner, Manager};
use crate::message::AckSender;
use crate::message::Message;
use crate::options::Options;
use crate::shared::{BoxedHandler, HandlerResult};
use crate::shared::{Hook, Listener, Shared};
use crate::sync::lock;

/// A Socket.IO socket: one namespace, multiplexed with the others of its [`Manager`] over one
/// connection (socket.io-client's `Socket`).
///
/// Handles are cheap to clone; they all drive the same socket. Handlers are called on the
/// manager's task, in order: a synchronous one should return quickly, an async one goes on
/// in a task of its own once it waits (see [how handlers run](crate::handler#how-they-run)).
/// They may call any method of the socket.
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # // A sio-server in the same process, for the example to run against.
/// # let server = sio_server::SocketIo::new(sio_server::SocketIoConfig::default());
/// # server.of("/").on_connection(|socket| async move {
/// #     socket.on("ping", |_s: sio_server::Socket, (): (), ack: sio_server::Ack| async move {
/// #         let _ = ack.send(&"pong");
/// #     });
/// # });
/// # let handle = server.listen("127.0.0.1:0").await?;
/// # let url = format!("http://{}", handle.local_addr());
/// use sio_client::{AckSender, Manager, Options, Socket};
///
/// let manager = Manager::new(&url, Options::default())?; // "http://localhost:3000"
/// let socket = manager.socket("/");
/// socket.on("hello", |_socket: Socket, (text,): (String,), ack: AckSender| async move {
///     println!("hello {text}");
///     let _ = ack.send(&"got it"); // if the server asked for an ack
/// });
/// socket.on_connect(|| println!("connected"));
/// socket.connect();
/// socket.emit("chat", &("hi", 1))?; // buffered until connected
/// let answer = socket.timeout(std::time::Duration::from_secs(5)).emit_with_ack("ping", &()).await?;
/// # assert_eq!(answer.deserialize::<(String,)>()?.0, "pong");
/// # socket.disconnect();
/// # Ok(()) }
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

    /// Adds `handler` for each `event` from the server (`socket.on(event, fn)`): several
    /// handlers of one event all run, in the order they were added, after the catch-all
    /// ones ([`on_any`](Self::on_any)). Returns the id that
    /// [`off_handler`](Self::off_handler) removes this handler by.
    ///
    /// The handler is a closure of one of three shapes (see [`handler`](crate::handler)):
    /// the raw [`Message`], called synchronously; or async and typed, with or without the
    /// [`AckSender`](crate::AckSender) of the server's ack request. Arguments that do not read as the typed
    /// handler's `T` reach the [`on_error`](Self::on_error) hooks instead (and a `tracing`
    /// warning). Handlers run on the manager's task, in the order events arrive; an async
    /// handler that waits continues on a task of its own (see
    /// [how handlers run](crate::handler#how-they-run)).
    ///
    /// ```
    /// use serde::Deserialize;
    /// use sio_client::{AckSender, Message, Options, Socket, io};
    ///
    /// #[derive(Deserialize)]
    /// struct Chat {
    ///     user: String,
    ///     text: String,
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sio_client::Error> {
    /// let socket = io("http://localhost:3000", Options::default().auto_connect(false))?;
    /// // Typed, async, no ack.
    /// socket.on("chat", |_socket: Socket, chat: Chat| async move {
    ///     println!("{}: {}", chat.user, chat.text);
    /// });
    /// // Several arguments as a tuple, and the ack.
    /// socket.on("sum", |_socket: Socket, (a, b): (i64, i64), ack: AckSender| async move {
    ///     let _ = ack.send(&(a + b));
    /// });
    /// // The raw message, synchronously.
    /// socket.on("chat", |msg: Message| println!("{:?}", msg.args()));
    /// // Arguments a typed handler cannot read.
    /// socket.on_error(|error| eprintln!("{error} ({:?})", error.event()));
    /// # Ok(()) }
    /// ```
    pub fn on<H: Handler<M>, M>(&self, event: &str, handler: H) -> HandlerId {
        let handle = self.weak();
        let handler: BoxedHandler = Arc::new(move |message| match handle.upgrade() {
            Some(socket) => handler.call(socket, message),
            None => Ok(None),
        });
        self.listen(event, handler, false)
    }

    /// Adds `handler` for the next `event` from the server only (`socket.once(event, fn)`):
    /// it is removed when that event arrives, before it runs (also when the arguments do not
    /// match a typed handler: that goes to [`on_error`](Self::on_error)). [`off`](Self::off) and
    /// [`off_handler`](Self::off_handler) remove it if it has not run yet. The same shapes
    /// as [`on`](Self::on), as `FnOnce` closures.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # // A sio-server in the same process, which greets each client twice.
    /// # let server = sio_server::SocketIo::new(sio_server::SocketIoConfig::default());
    /// # let nsp = server.of("/");
    /// # server.of("/").on_connection(move |_socket| {
    /// #     let nsp = nsp.clone();
    /// #     async move {
    /// #         nsp.emit("welcome", &"hello").await.unwrap();
    /// #         nsp.emit("welcome", &"again").await.unwrap();
    /// #     }
    /// # });
    /// # let handle = server.listen("127.0.0.1:0").await?;
    /// # let socket = sio_client::io(&format!("http://{}/", handle.local_addr()), Default::default())?;
    /// use sio_client::Socket;
    ///
    /// let (tx, rx) = tokio::sync::oneshot::channel();
    /// socket.once("welcome", move |_socket: Socket, (text,): (String,)| async move {
    ///     let _ = tx.send(text); // FnOnce: it may move what it captured
    /// });
    /// let first_welcome = rx.await?;
    /// assert_eq!(first_welcome, "hello");
    /// # Ok(()) }
    /// ```
    pub fn once<H: OnceHandler<M>, M>(&self, event: &str, handler: H) -> HandlerId {
        let handle = self.weak();
        let handler = Mutex::new(Some(handler));
        let handler: BoxedHandler = Arc::new(move |message| {
            // Taken out of the lock before it runs: the handler may use this socket.
            let handler = lock(&handler).take();
            match (handler, handle.upgrade()) {
                (Some(handler), Some(socket)) => handler.call_once(socket, message),
                _ => Ok(None),
            }
        });
        self.listen(event, handler, true)
    }

    /// A handle that does not keep the socket alive (a handler's, kept by the socket itself).
    fn weak(&self) -> WeakSocket {
        WeakSocket {
            shared: Arc::downgrade(&self.shared),
            manager: Arc::downgrade(&self.manager.inner),
        }
    }

    fn listen(&self, event: &str, handler: BoxedHandler, once: bool) -> HandlerId {
        // Unique in the process: an id of another socket's handler removes nothing here.
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        lock(&self.shared.handlers)
            .events
            .entry(event.to_owned())
            .or_default()
            .push(Listener { handler, once, id });
        HandlerId(id)
    }

    /// Removes every handler of `event`, [`once`](Self::once) handlers included
    /// (`socket.off(event)`).
    pub fn off(&self, event: &str) {
        lock(&self.shared.handlers).events.remove(event);
    }

    /// Removes the one handler [`on`](Self::on) or [`once`](Self::once) returned `id` for
    /// (`socket.off(event, fn)`: closures cannot be compared, so they are removed by id).
    /// False if it is gone already (removed, or a `once` handler that ran), or is another
    /// socket's (ids are unique in the process).
    pub fn off_handler(&self, id: HandlerId) -> bool {
        let mut handlers = lock(&self.shared.handlers);
        let mut found = None;
        for (event, listeners) in &mut handlers.events {
            if let Some(i) = listeners.iter().position(|l| l.id == id.0) {
                listeners.remove(i);
                found = Some(listeners.is_empty().then(|| event.clone()));
                break;
            }
        }
        match found {
            Some(Some(empty)) => {
                handlers.events.remove(&empty);
                true
            }
            Some(None) => true,
            None => false,
        }
    }

    /// Calls `hook` when an event cannot be handed to a handler of this socket: its
    /// arguments do not read as the type of a typed handler ([`on`](Self::on),
    /// [`once`](Self::once)). The error's kind is
    /// [`ErrorKind::Deserialize`](crate::ErrorKind::Deserialize), its
    /// [`event`](Error::event) the event's name, its source the deserializer's error. The
    /// event still reaches the other handlers; each failure is also logged as a `tracing`
    /// warning. Runs on the manager's task, like the handlers.
    pub fn on_error(&self, hook: impl Fn(Error) + Send + Sync + 'static) {
        lock(&self.shared.handlers).add(Hook::Error(Arc::new(hook)), false);
    }

    /// Calls `handler` for every event from the server, before the event's own handlers
    /// (`socket.onAny`), in the order the catch-all handlers were added.
    pub fn on_any(&self, handler: impl Fn(Message) + Send + Sync + 'static) {
        lock(&self.shared.handlers).add(Hook::Any(Arc::new(handler)), false);
    }

    /// Like [`on_any`](Self::on_any), but before the catch-all handlers already added
    /// (`socket.prependAny`).
    pub fn prepend_any(&self, handler: impl Fn(Message) + Send + Sync + 'static) {
        lock(&self.shared.handlers).add(Hook::Any(Arc::new(handler)), true);
    }

    /// Removes every catch-all handler of [`on_any`](Self::on_any) and
    /// [`prepend_any`](Self::prepend_any) (`socket.offAny()`; closures cannot be compared, so
    /// there is no form that removes one of them).
    pub fn off_any(&self) {
        lock(&self.shared.handlers).remove(|hook| matches!(hook, Hook::Any(_)));
    }

    /// Calls `handler` with the name and arguments of every event this socket sends
    /// (`socket.onAnyOutgoing`), just before it is written to the connection: an emit made
    /// while disconnected when the send buffer is flushed, each try of
    /// [`retries`](crate::Options::retries), never a dropped [`volatile`](Self::volatile) emit
    /// nor an ack answer. It runs on the manager's task, like the other handlers.
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = sio_server::SocketIo::new(sio_server::SocketIoConfig::default());
    /// # let handle = server.listen("127.0.0.1:0").await?;
    /// # let socket = sio_client::io(&format!("http://{}/", handle.local_addr()), Default::default())?;
    /// socket.on_any_outgoing(|event, args| println!("-> {event} {args:?}"));
    /// # let (tx, rx) = std::sync::mpsc::channel();
    /// # socket.on_any_outgoing(move |event, _args| tx.send(event.to_owned()).unwrap());
    /// socket.emit("hello", &"world")?; // prints: -> hello ["world"] once it is written
    /// # assert_eq!(tokio::task::spawn_blocking(move || rx.recv()).await??, "hello");
    /// # Ok(()) }
    /// ```
    pub fn on_any_outgoing(&self, handler: impl Fn(&str, &Args) + Send + Sync + 'static) {
        lock(&self.shared.handlers).add(Hook::AnyOutgoing(Arc::new(handler)), false);
    }

    /// Like [`on_any_outgoing`](Self::on_any_outgoing), but before the handlers already added
    /// (`socket.prependAnyOutgoing`).
    pub fn prepend_any_outgoing(&self, handler: impl Fn(&str, &Args) + Send + Sync + 'static) {
        lock(&self.shared.handlers).add(Hook::AnyOutgoing(Arc::new(handler)), true);
    }

    /// Removes every handler of [`on_any_outgoing`](Self::on_any_outgoing) and
    /// [`prepend_any_outgoing`](Self::prepend_any_outgoing) (`socket.offAnyOutgoing()`).
    pub fn off_any_outgoing(&self) {
        lock(&self.shared.handlers).remove(|hook| matches!(hook, Hook::AnyOutgoing(_)));
    }

    /// Calls `handler` on each connection to the namespace (`connect`).
    pub fn on_connect(&self, handler: impl Fn() + Send + Sync + 'static) {
        lock(&self.shared.handlers).add(Hook::Connect(Arc::new(handler)), false);
    }

    /// Calls `handler` when the socket disconnects (`disconnect`), with the reason.
    pub fn on_disconnect(&self, handler: impl Fn(DisconnectReason) + Send + Sync + 'static) {
        lock(&self.shared.handlers).add(Hook::Disconnect(Arc::new(handler)), false);
    }

    /// Calls `handler` when connecting fails (`connect_error`): refused by the server (the
    /// socket then stays disconnected; [`Error::is_rejected`], with the server's
    /// [`data`](Error::data)), or the connection failed (it will be retried; a transport
    /// error with its cause as [`source`](std::error::Error::source), or `"timeout"`).
    pub fn on_connect_error(&self, handler: impl Fn(Error) + Send + Sync + 'static) {
        lock(&self.shared.handlers).add(Hook::ConnectError(Arc::new(handler)), false);
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
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = sio_server::SocketIo::new(sio_server::SocketIoConfig::default());
    /// # let handle = server.listen("127.0.0.1:0").await?;
    /// # let options = sio_client::Options::default().auto_connect(false);
    /// # let socket = sio_client::io(&format!("http://{}/", handle.local_addr()), options)?;
    /// # let (tx, rx) = std::sync::mpsc::channel();
    /// # socket.on_any_outgoing(move |event, _args| tx.send(event.to_owned()).unwrap());
    /// // Not connected yet: dropped, where a plain emit would wait in the send buffer.
    /// socket.volatile().emit("position", &(12.5, 3.0))?;
    /// socket.emit("position", &(13.0, 3.5))?;
    /// socket.connect();
    /// # // Only the buffered emit is written once connected.
    /// # let sent = tokio::task::spawn_blocking(move || rx.recv()).await??;
    /// # assert_eq!(sent, "position");
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
    /// ```
    /// # #[tokio::main]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # // A sio-server in the same process: it says hello, then disconnects the client.
    /// # let server = sio_server::SocketIo::new(sio_server::SocketIoConfig::default());
    /// # let nsp = server.of("/");
    /// # server.of("/").on_connection(move |socket| {
    /// #     let nsp = nsp.clone();
    /// #     async move {
    /// #         nsp.emit("hello", &"world").await.unwrap();
    /// #         socket.disconnect(false);
    /// #     }
    /// # });
    /// # let handle = server.listen("127.0.0.1:0").await?;
    /// # let options = sio_client::Options::default().auto_connect(false).reconnection(false);
    /// # let socket = sio_client::io(&format!("http://{}/", handle.local_addr()), options)?;
    /// use sio_client::SocketEvent;
    ///
    /// let mut events = socket.events();
    /// socket.connect();
    /// # let mut seen = Vec::new();
    /// while let Some(event) = events.recv().await {
    ///     match event {
    ///         SocketEvent::Message(msg) => {
    ///             println!("{}: {:?}", msg.event(), msg.args());
    /// #           seen.push(msg.event().to_owned());
    ///         }
    ///         SocketEvent::Disconnect(reason) => {
    ///             println!("disconnected: {reason}");
    /// #           seen.push(format!("disconnect: {reason}"));
    ///             break;
    ///         }
    ///         _ => {}
    ///     }
    /// }
    /// # assert_eq!(seen, ["hello", "disconnect: io server disconnect"]);
    /// # Ok(()) }
    /// ```
    pub fn events(&self) -> Events {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.shared.handlers).add(Hook::Stream(tx), false);
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

/// What a handler's closure keeps of its socket, to hand it a [`Socket`] at each call.
struct WeakSocket {
    shared: Weak<Shared>,
    manager: Weak<Inner>,
}

impl WeakSocket {
    fn upgrade(&self) -> Option<Socket> {
        Some(Socket {
            shared: self.shared.upgrade()?,
            manager: Manager {
                inner: self.manager.upgrade()?,
            },
            ack_timeout: None,
            volatile: false,
        })
    }
}

/// A handler of an event, for [`Socket::on`](crate::Socket::on): see the
/// [module](crate::handler) for the closures that are handlers. `M` is a marker type that
/// tells the shapes apart; it is inferred.
pub trait Handler<M>: Send + Sync + 'static {
    /// Calls the handler (implementation detail).
    #[doc(hidden)]
    fn call(&self, socket: Socket, message: Message) -> HandlerResult;
}

/// A handler called at most once, for [`Socket::once`](crate::Socket::once): the same
/// shapes as [`Handler`], with `FnOnce` closures (they may move what they captured).
pub trait OnceHandler<M>: Send + 'static {
    /// Calls the handler (implementation detail).
    #[doc(hidden)]
    fn call_once(self, socket: Socket, message: Message) -> HandlerResult;
}

/// Marker of the synchronous handlers of the raw [`Message`]: `Fn(Message)`.
#[derive(Debug)]
pub struct RawMarker(());

/// Marker of the async typed handlers without ack: `Fn(Socket, T) -> impl Future`.
#[derive(Debug)]
pub struct DataMarker<T>(PhantomData<fn() -> T>);

/// Marker of the async typed handlers with ack: `Fn(Socket, T, AckSender) -> impl Future`.
#[derive(Debug)]
pub struct DataAckMarker<T>(PhantomData<fn() -> T>);

fn boxed(future: impl Future<Output = ()> + Send + 'static) -> HandlerResult {
    Ok(Some(Box::pin(future)))
}

impl<F> Handler<RawMarker> for F
where
    F: Fn(Message) + Send + Sync + 'static,
{
    fn call(&self, _socket: Socket, message: Message) -> HandlerResult {
        self(message);
        Ok(None)
    }
}

impl<F, T, Fut> Handler<DataMarker<T>> for F
where
    F: Fn(Socket, T) -> Fut + Send + Sync + 'static,
    T: DeserializeOwned + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: Socket, message: Message) -> HandlerResult {
        let data = message.deserialize::<T>()?;
        boxed(self(socket, data))
    }
}

impl<F, T, Fut> Handler<DataAckMarker<T>> for F
where
    F: Fn(Socket, T, AckSender) -> Fut + Send + Sync + 'static,
    T: DeserializeOwned + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: Socket, message: Message) -> HandlerResult {
        let data = message.deserialize::<T>()?;
        boxed(self(socket, data, message.ack))
    }
}

impl<F> OnceHandler<RawMarker> for F
where
    F: FnOnce(Message) + Send + 'static,
{
    fn call_once(self, _socket: Socket, message: Message) -> HandlerResult {
        self(message);
        Ok(None)
    }
}

impl<F, T, Fut> OnceHandler<DataMarker<T>> for F
where
    F: FnOnce(Socket, T) -> Fut + Send + 'static,
    T: DeserializeOwned + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call_once(self, socket: Socket, message: Message) -> HandlerResult {
        let data = message.deserialize::<T>()?;
        boxed(self(socket, data))
    }
}

impl<F, T, Fut> OnceHandler<DataAckMarker<T>> for F
where
    F: FnOnce(Socket, T, AckSender) -> Fut + Send + 'static,
    T: DeserializeOwned + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call_once(self, socket: Socket, message: Message) -> HandlerResult {
        let data = message.deserialize::<T>()?;
        boxed(self(socket, data, message.ack))
    }
}

/// The id of a handler added with [`Socket::on`] or [`Socket::once`], for
/// [`Socket::off_handler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandlerId(u64);

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
/// Events need a network round trip to arrive, but handlers added after `io` returns can
/// still miss the first ones (the namespace's `connect` or its refusal) when the manager's
/// connection is already open and the thread is preempted. To see every event, turn
/// [`Options::auto_connect`] off, add the handlers, then call [`Socket::connect`].
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = sio_server::SocketIo::new(sio_server::SocketIoConfig::default());
/// # let (tx, mut connected) = tokio::sync::mpsc::unbounded_channel();
/// # for nsp in ["/", "/admin"] {
/// #     let tx = tx.clone();
/// #     server.of(nsp).on_connection(move |socket| {
/// #         let _ = tx.send(socket.namespace().name().to_string());
/// #         async {}
/// #     });
/// # }
/// # let handle = server.listen("127.0.0.1:0").await?;
/// # let base = format!("http://{}", handle.local_addr());
/// use sio_client::{Options, io};
///
/// let main = io(&format!("{base}/"), Options::default())?; // "http://localhost:3000/"
/// let admin = io(&format!("{base}/admin"), Options::default())?; // same connection
/// # let mut seen = vec![connected.recv().await.unwrap(), connected.recv().await.unwrap()];
/// # seen.sort();
/// # assert_eq!(seen, ["/", "/admin"]);
/// # assert_eq!(server.engine().session_count(), 1); // one Engine.IO connection for both
/// # main.disconnect();
/// # admin.disconnect();
/// # Ok(()) }
/// ```
pub fn io(url: &str, options: Options) -> Result<Socket, Error> {
    static CACHE: Mutex<Option<HashMap<String, Weak<Inner>>>> = Mutex::new(None);
    let parsed = Url::parse(url).map_err(|e| Error::config_with(format!("bad url {url:?}"), e))?;
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
        return Err(Error::reserved(event));
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
