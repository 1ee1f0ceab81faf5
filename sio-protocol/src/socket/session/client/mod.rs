//! [`ClientSession`]: socket.io-client's Manager and Sockets, sans IO.
//!
//! The behaviour follows socket.io-client 4.8 `build/cjs/manager.js` (`open`, `onopen`,
//! `onclose`, `reconnect`, `_destroy`, `_close`, the `timeout` of an attempt) and
//! `build/cjs/socket.js` (`emit`, `_registerAckCallback`, `_addToQueue`, `_drainQueue`,
//! `onpacket`, `onevent`, `emitEvent`, `onconnect`, `emitBuffered`, `onclose`, `_clearAcks`,
//! `_sendConnectPacket`, `disconnect`, `destroy`).

mod retry;

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use self::retry::{RetryQueue, Settled};
use super::types::{AckFailure, ClientDisconnectReason};
use super::types::{MAX_RECOVERY_TOKEN, release};
use crate::ack::{AckId, AckTracker};
use crate::backoff::Backoff;
use crate::socket::args::Args;
use crate::socket::packet::{EventName, Packet, PacketData};
use crate::str::Str;
use crate::value::{Map, Value};

/// How many times `handle_timeout` looks for expired acks (see there).
const MAX_ACK_PASSES: usize = 8;

/// socket.io-client's message when a CONNECT reply has no `sid` (a Socket.IO 2.x server).
pub const V2_SERVER_MESSAGE: &str = "It seems you are trying to reach a Socket.IO server in v2.x with a v3.x client, but they are not compatible (more information here: https://socket.io/docs/v3/migrating-from-2-x-to-3-0/)";

/// Settings of a [`ClientSession`]. The defaults are socket.io-client's (`io(url, opts)`).
///
/// ```
/// use std::time::Duration;
/// use sio_protocol::socket::ClientConfig;
///
/// let config = ClientConfig::default().retries(Some(3)).ack_timeout(Some(Duration::from_secs(1)));
/// assert_eq!(config.timeout, Some(Duration::from_secs(20)));
/// assert_eq!(config.reconnection_delay, Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// `reconnection`: whether to reconnect after a lost connection (default true).
    pub reconnection: bool,
    /// `reconnectionAttempts`: how many attempts before `reconnect_failed` (default `None`:
    /// forever).
    pub reconnection_attempts: Option<u32>,
    /// `reconnectionDelay`: the first delay (default 1 s).
    pub reconnection_delay: Duration,
    /// `reconnectionDelayMax`: the largest delay (default 5 s).
    pub reconnection_delay_max: Duration,
    /// `randomizationFactor`: the jitter of the delays (default 0.5).
    pub randomization_factor: f64,
    /// `timeout`: how long one connection attempt may take until the Engine.IO handshake
    /// (default 20 s; `None`: no limit).
    pub timeout: Option<Duration>,
    /// `ackTimeout`: the default timeout of acks (default `None`: wait until the ack comes or
    /// the socket disconnects). [`Emit::timeout`] overrides it.
    pub ack_timeout: Option<Duration>,
    /// `retries`: emits go through a queue, one in flight, each re-sent on failure until it
    /// was tried more than this many times (default `None`; `Some(0)` is off too).
    pub retries: Option<u32>,
    /// The seed of the generator that draws the jitter of the reconnection delays (default
    /// 0). A runtime seeds it from its own RNG; a test picks one to replay a sequence.
    pub jitter_seed: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            reconnection: true,
            reconnection_attempts: None,
            reconnection_delay: Duration::from_millis(1000),
            reconnection_delay_max: Duration::from_millis(5000),
            randomization_factor: 0.5,
            timeout: Some(Duration::from_millis(20_000)),
            ack_timeout: None,
            retries: None,
            jitter_seed: 0,
        }
    }
}

impl ClientConfig {
    /// Sets [`reconnection`](Self::reconnection).
    pub fn reconnection(mut self, value: bool) -> Self {
        self.reconnection = value;
        self
    }

    /// Sets [`reconnection_attempts`](Self::reconnection_attempts).
    pub fn reconnection_attempts(mut self, value: Option<u32>) -> Self {
        self.reconnection_attempts = value;
        self
    }

    /// Sets [`reconnection_delay`](Self::reconnection_delay).
    pub fn reconnection_delay(mut self, value: Duration) -> Self {
        self.reconnection_delay = value;
        self
    }

    /// Sets [`reconnection_delay_max`](Self::reconnection_delay_max).
    pub fn reconnection_delay_max(mut self, value: Duration) -> Self {
        self.reconnection_delay_max = value;
        self
    }

    /// Sets [`randomization_factor`](Self::randomization_factor).
    pub fn randomization_factor(mut self, value: f64) -> Self {
        self.randomization_factor = value;
        self
    }

    /// Sets [`timeout`](Self::timeout).
    pub fn timeout(mut self, value: Option<Duration>) -> Self {
        self.timeout = value;
        self
    }

    /// Sets [`ack_timeout`](Self::ack_timeout).
    pub fn ack_timeout(mut self, value: Option<Duration>) -> Self {
        self.ack_timeout = value;
        self
    }

    /// Sets [`retries`](Self::retries).
    pub fn retries(mut self, value: Option<u32>) -> Self {
        self.retries = value;
        self
    }

    /// Sets [`jitter_seed`](Self::jitter_seed).
    pub fn jitter_seed(mut self, value: u64) -> Self {
        self.jitter_seed = value;
        self
    }
}

/// An event to send, for [`ClientSession::emit`].
///
/// ```
/// use std::time::Duration;
/// use sio_protocol::socket::{Args, Emit};
///
/// // `socket.timeout(2000).emit("question", 42, (err, answer) => ...)`
/// let emit = Emit::new("question", Args::new(&42)?)
///     .with_ack("the caller's waiter")
///     .timeout(Duration::from_secs(2));
/// # let _ = emit; Ok::<(), sio_protocol::Error>(())
/// ```
#[derive(Debug)]
pub struct Emit<A> {
    name: EventName,
    args: Args,
    ack: Option<A>,
    timeout: Option<Duration>,
    volatile: bool,
}

impl<A> Emit<A> {
    /// The event `name` with `args`, no ack.
    pub fn new(name: impl Into<EventName>, args: Args) -> Self {
        Emit {
            name: name.into(),
            args,
            ack: None,
            timeout: None,
            volatile: false,
        }
    }

    /// Asks the server for an acknowledgement; its outcome comes as [`ClientEvent::Ack`]
    /// with `value`.
    pub fn with_ack(mut self, value: A) -> Self {
        self.ack = Some(value);
        self
    }

    /// The ack fails with [`AckFailure::Timeout`] after `timeout` (`socket.timeout(ms)`;
    /// default [`ClientConfig::ack_timeout`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// `socket.volatile`: dropped, not buffered, when the transport cannot take it now (not
    /// connected, or a long-polling request in flight); it skips the `retries` queue.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }
}

/// Something the client runtime must act on, from [`ClientSession::poll_event`].
///
/// Three kinds: commands for the Engine.IO connection ([`OpenEngine`](Self::OpenEngine),
/// [`CloseEngine`](Self::CloseEngine)), a request for a namespace's auth
/// ([`AuthNeeded`](Self::AuthNeeded)), and the events of socket.io-client's Manager and
/// Sockets, for the application.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientEvent<A> {
    /// Open an Engine.IO connection now; report its handshake with
    /// [`ClientSession::handle_open`], or its failure with
    /// [`ClientSession::handle_open_failed`].
    OpenEngine,
    /// Close the Engine.IO connection (the session already counts it as closed: do not
    /// report its close).
    CloseEngine,
    /// Manager `open`: the Engine.IO connection is open.
    Open,
    /// Manager `error`: a connection attempt failed, with the error.
    Error(String),
    /// Manager `close`: the open connection closed, with the reason.
    Close(ClientDisconnectReason),
    /// Manager `reconnect_attempt`: reconnection attempt number n starts (1 first).
    ReconnectAttempt(u32),
    /// Manager `reconnect`: reconnected after n attempts.
    Reconnect(u32),
    /// Manager `reconnect_error`: a reconnection attempt failed.
    ReconnectError(String),
    /// Manager `reconnect_failed`: the attempts are used up; no more.
    ReconnectFailed,
    /// Namespace `nsp` is ready to send its CONNECT: call
    /// [`ClientSession::send_connect`] with its auth payload (socket.io-client's `auth`,
    /// an object or a function called at each connection).
    AuthNeeded {
        /// The namespace.
        nsp: Str,
    },
    /// Socket `connect`: connected to `nsp` with id `sid`; `recovered` when the server
    /// restored the previous session (the same pid), in which case the events it missed came
    /// just before as [`Event`](Self::Event)s.
    Connect {
        /// The namespace.
        nsp: Str,
        /// The socket id the server gave.
        sid: Str,
        /// Whether the connection state was recovered.
        recovered: bool,
    },
    /// Socket `connect_error`: the server refused the namespace (the socket is then inactive:
    /// no automatic retry), or a connection attempt failed (it will be retried).
    ConnectError {
        /// The namespace.
        nsp: Str,
        /// `err.message`.
        message: String,
        /// `err.data`, from the server.
        data: Option<Value>,
    },
    /// Socket `disconnect`, with the reason.
    Disconnect {
        /// The namespace.
        nsp: Str,
        /// Why.
        reason: ClientDisconnectReason,
    },
    /// An event from the server, for the socket's handlers (with `id`, answer with
    /// [`ClientSession::ack`]).
    Event {
        /// The namespace.
        nsp: Str,
        /// The event name.
        name: EventName,
        /// The arguments.
        args: Args,
        /// The ack id, when the server wants an answer.
        id: Option<AckId>,
    },
    /// The acknowledgement of an [`Emit::with_ack`] ended: the server's answer (`Ok`), or
    /// why none will come (`Err`).
    Ack {
        /// The namespace.
        nsp: Str,
        /// The value given to [`Emit::with_ack`].
        value: A,
        /// The answer, or why none will come.
        result: Result<Args, AckFailure>,
    },
}

/// The Manager's connection state (`_readyState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ready {
    Closed,
    /// Waiting for the handshake, until the deadline (`timeout`).
    Opening {
        deadline: Option<Instant>,
    },
    Open,
}

/// Where a socket stands with its namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Conn {
    Disconnected,
    /// [`ClientEvent::AuthNeeded`] is out: waiting for `send_connect`.
    Authenticating,
    /// CONNECT sent, waiting for the reply.
    Connecting,
    Connected {
        sid: Str,
    },
}

/// Who gets the answer of an ack.
enum Target<A> {
    /// The caller's [`Emit::with_ack`].
    User(A),
    /// A try of the head of the retry queue, by its sequence number.
    Queue(u64),
}

/// An event waiting in a send or receive buffer.
struct Buffered {
    name: EventName,
    args: Args,
    id: Option<AckId>,
}

/// What a socket keeps for connection state recovery.
struct Recovery {
    /// The private session id of the last CONNECT reply.
    pid: Str,
    /// The last argument of the last event handed out, if a string.
    last_offset: Option<Str>,
}

/// The state of one socket (namespace).
struct Nsp<A> {
    name: Str,
    /// Subscribed to the manager: connected, or will connect (`socket.active`).
    active: bool,
    conn: Conn,
    /// The session to recover (recovery on; boxed: most clients do not use it).
    recovery: Option<Box<Recovery>>,
    recovered: bool,
    send_buffer: VecDeque<Buffered>,
    receive_buffer: VecDeque<Buffered>,
    acks: AckTracker<Target<A>>,
    queue: RetryQueue<A>,
}

impl<A> Nsp<A> {
    fn new(name: Str) -> Self {
        Nsp {
            name,
            active: false,
            conn: Conn::Disconnected,
            recovery: None,
            recovered: false,
            send_buffer: VecDeque::new(),
            receive_buffer: VecDeque::new(),
            acks: AckTracker::new(),
            queue: RetryQueue::default(),
        }
    }

    fn is_connected(&self) -> bool {
        matches!(self.conn, Conn::Connected { .. })
    }
}

/// What a [`ClientSession`] reads of its [`ClientConfig`] after it is made (the delays and
/// the seed went into its backoff and generator): the session is in every idle client.
struct Settings {
    reconnection: bool,
    timeout: Option<Duration>,
    ack_timeout: Option<Duration>,
    retries: Option<u32>,
}

/// socket.io-client's Manager and its Sockets, sans IO: one per Manager, for the life of the
/// Manager, across Engine.IO connections. It holds what must survive a cut: the reconnection
/// backoff, each socket's offline send buffer, retries queue, pending acks and recovery state.
///
/// - Manager: opening (with the `timeout` of an attempt), reconnection with backoff
///   (`reconnection`, `reconnectionAttempts`, delays and jitter), closing when the last socket
///   leaves.
/// - Sockets (several namespaces): CONNECT / DISCONNECT, CONNECT_ERROR (a refused namespace
///   is not retried), the send buffer (emits while disconnected, flushed after `connect`;
///   volatile emits dropped when the transport cannot take them), acks with timeouts (pending
///   acks fail with "socket has been disconnected" on a disconnection, unless their packet is
///   still buffered; a timed-out ack takes its packet out of the buffer), the `retries`
///   queue, the receive buffer (events that arrive before the CONNECT reply are handed out
///   after it, before `connect`), and connection state recovery (the `pid` and last offset,
///   sent back in the next CONNECT; `recovered` when the same pid comes back).
///
/// Sans-IO like [`engine::Session`](crate::engine::Session): the runtime owns the Engine.IO
/// connection, the codec, the handlers and the clock. `A` is what the runtime keeps per
/// pending ack (a oneshot sender...). The client speaks protocol 5.
///
/// # Calling order
///
/// 1. Create it with the Manager: [`ClientSession::new`].
/// 2. Apply commands: [`open`](Self::open), [`close`](Self::close) (Manager);
///    [`connect`](Self::connect), [`disconnect`](Self::disconnect), [`emit`](Self::emit),
///    [`ack`](Self::ack), and [`send_connect`](Self::send_connect) for each
///    [`ClientEvent::AuthNeeded`] (Sockets). Before a command, handle a timer that is already
///    due (socket.io-client's `_hasPingExpired`: an emit after a heartbeat deadline passed
///    unnoticed is buffered, not lost).
/// 3. Feed input: [`handle_open`](Self::handle_open) when the Engine.IO handshake arrived,
///    [`handle_open_failed`](Self::handle_open_failed) when an attempt failed before it,
///    [`handle_error`](Self::handle_error) when the open connection reports an error,
///    [`handle_close`](Self::handle_close) when the open connection closed (or the runtime's
///    decoder failed: [`ClientDisconnectReason::ParseError`]),
///    [`handle_packet`](Self::handle_packet) for each packet the
///    [`Decoder`](crate::socket::Decoder) completes, [`handle_timeout`](Self::handle_timeout)
///    when the timer fires.
/// 4. After each input or command: drain [`poll_transmit`](Self::poll_transmit) (encode each
///    packet and write it on the Engine.IO connection; for an EVENT, call the
///    `onAnyOutgoing` listeners first), drain [`poll_event`](Self::poll_event) (open or close
///    the Engine.IO connection, call the handlers), then re-arm one timer from
///    [`poll_timeout`](Self::poll_timeout).
///
/// Packets are transmitted only while the Engine.IO connection is open. Events come in
/// socket.io-client's order: on a CONNECT reply, the buffered received events, then
/// [`ClientEvent::Connect`] (and the buffered emits are transmitted before either).
///
/// # Example
///
/// ```
/// use std::time::Instant;
/// use sio_protocol::socket::{
///     Args, ClientConfig, ClientEvent, ClientSession, Emit, Packet, PacketData,
/// };
/// use sio_protocol::{Map, Value};
///
/// let now = Instant::now();
/// let mut client: ClientSession<&str> = ClientSession::new(ClientConfig::default(), now);
/// client.emit(now, "/", Emit::new("hello", Args::new(&1)?), false); // buffered
/// client.connect(now, "/");
/// assert!(matches!(client.poll_event(), Some(ClientEvent::OpenEngine)));
///
/// // The runtime opened the Engine.IO connection.
/// client.handle_open(now);
/// assert!(matches!(client.poll_event(), Some(ClientEvent::Open)));
/// let Some(ClientEvent::AuthNeeded { nsp }) = client.poll_event() else { panic!() };
/// client.send_connect(now, &nsp, None);
/// assert_eq!(client.poll_transmit(), Some(Packet::new("/", PacketData::Connect(None))));
///
/// // The server's reply: the buffered emit goes out, then `connect`.
/// let mut reply = Map::new();
/// reply.insert("sid".into(), Value::from("socket-id"));
/// client.handle_packet(now, Packet::new("/", PacketData::Connect(Some(reply.into()))));
/// let sent = client.poll_transmit().expect("the buffered emit");
/// assert!(matches!(sent.data, PacketData::Event { ref name, .. } if name.as_str() == "hello"));
/// assert!(matches!(client.poll_event(), Some(ClientEvent::Connect { recovered: false, .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ClientSession<A> {
    config: Settings,
    ready: Ready,
    backoff: Backoff,
    /// The state of the jitter generator (splitmix64).
    rng: u64,
    reconnecting: bool,
    reconnect_at: Option<Instant>,
    skip_reconnect: bool,
    /// The sockets, by namespace (a few per manager).
    nsps: Vec<Nsp<A>>,
    out: VecDeque<Packet>,
    events: VecDeque<ClientEvent<A>>,
}

impl<A> fmt::Debug for ClientSession<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nsps: Vec<_> = self
            .nsps
            .iter()
            .map(|n| {
                (
                    &n.name,
                    n.active,
                    &n.conn,
                    n.send_buffer.len(),
                    n.acks.len(),
                    n.queue.len(),
                )
            })
            .collect();
        f.debug_struct("ClientSession")
            .field("ready", &self.ready)
            .field("reconnecting", &self.reconnecting)
            .field("reconnect_at", &self.reconnect_at)
            .field("nsps (name, active, conn, buffered, acks, queued)", &nsps)
            .field("transmits", &self.out.len())
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl<A> ClientSession<A> {
    /// A Manager's session, closed: [`open`](Self::open) or [`connect`](Self::connect) starts
    /// the first connection.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        let _ = now;
        let mut backoff = Backoff::new();
        backoff
            .set_min(config.reconnection_delay)
            .set_max(config.reconnection_delay_max)
            .set_jitter(config.randomization_factor)
            .set_reconnection_attempts(config.reconnection_attempts);
        ClientSession {
            rng: config.jitter_seed,
            config: Settings {
                reconnection: config.reconnection,
                timeout: config.timeout,
                ack_timeout: config.ack_timeout,
                retries: config.retries,
            },
            ready: Ready::Closed,
            backoff,
            reconnecting: false,
            reconnect_at: None,
            skip_reconnect: false,
            nsps: Vec::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    fn find(&self, nsp: &str) -> Option<usize> {
        self.nsps.iter().position(|n| n.name == nsp)
    }

    fn find_or_insert(&mut self, nsp: &str) -> usize {
        match self.find(nsp) {
            Some(i) => i,
            None => {
                let name = if nsp == "/" {
                    Str::from_static("/")
                } else {
                    Str::from(nsp.to_owned())
                };
                // One more, not four: most managers have one socket, and an idle client's
                // memory counts.
                self.nsps.reserve_exact(1);
                self.nsps.push(Nsp::new(name));
                self.nsps.len() - 1
            }
        }
    }

    /// A draw in `[0, 1)` (splitmix64).
    fn random(&mut self) -> f64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `retries`, when on (0 is off, as in socket.io-client).
    fn retries(&self) -> Option<u32> {
        self.config.retries.filter(|&n| n > 0)
    }

    // ----------------------------------------------------------------------------------------
    // The Manager: open, close, reconnect
    // ----------------------------------------------------------------------------------------

    /// `manager.open()`: opens the connection if it is closed and no reconnection is
    /// scheduled ([`ClientEvent::OpenEngine`]).
    pub fn open(&mut self, now: Instant) {
        if !self.reconnecting {
            self.open_engine(now);
        }
    }

    fn open_engine(&mut self, now: Instant) {
        if self.ready != Ready::Closed {
            return;
        }
        self.skip_reconnect = false;
        self.ready = Ready::Opening {
            deadline: self.config.timeout.and_then(|t| now.checked_add(t)),
        };
        self.events.push_back(ClientEvent::OpenEngine);
    }

    /// `manager.disconnect()` (`_close`): no more reconnection; the open connection closes
    /// with `"forced close"` ([`ClientEvent::Close`], then [`ClientEvent::Disconnect`] for
    /// each connected socket) and [`ClientEvent::CloseEngine`].
    pub fn close(&mut self, now: Instant) {
        self.skip_reconnect = true;
        self.reconnecting = false;
        self.reconnect_at = None;
        let was = self.ready;
        if was == Ready::Open {
            self.on_close(now, ClientDisconnectReason::ForcedClose);
        }
        self.ready = Ready::Closed;
        if was != Ready::Closed {
            self.events.push_back(ClientEvent::CloseEngine);
        }
    }

    /// `_destroy`: closes when no socket is active any more.
    fn maybe_close(&mut self, now: Instant) {
        if !self.nsps.iter().any(|n| n.active) {
            self.close(now);
        }
    }

    /// The Engine.IO handshake arrived: Manager `open` (and `reconnect` after a
    /// reconnection), then [`ClientEvent::AuthNeeded`] for each active socket.
    pub fn handle_open(&mut self, now: Instant) {
        let _ = now;
        if !matches!(self.ready, Ready::Opening { .. }) {
            return;
        }
        self.ready = Ready::Open;
        self.events.push_back(ClientEvent::Open);
        if self.reconnecting {
            let attempts = self.backoff.attempts();
            self.reconnecting = false;
            self.backoff.reset();
            self.events.push_back(ClientEvent::Reconnect(attempts));
        }
        for n in &mut self.nsps {
            if n.active && n.conn == Conn::Disconnected {
                n.conn = Conn::Authenticating;
                self.events.push_back(ClientEvent::AuthNeeded {
                    nsp: n.name.clone(),
                });
            }
        }
    }

    /// The connection attempt failed before the handshake, with `error` (`"xhr poll error"`,
    /// `"websocket error"`...): Manager `error`, `connect_error` for each socket waiting to
    /// connect, then a reconnection (`reconnect_error` when it was one).
    pub fn handle_open_failed(&mut self, now: Instant, error: impl Into<String>) {
        if !matches!(self.ready, Ready::Opening { .. }) {
            return;
        }
        self.open_failed(now, error.into());
    }

    fn open_failed(&mut self, now: Instant, error: String) {
        self.ready = Ready::Closed;
        self.on_error(&error);
        if self.reconnecting {
            // socket.io-client's order: `reconnect()` (which may emit `reconnect_failed`),
            // then `reconnect_error`.
            self.reconnecting = false;
            self.reconnect(now);
            self.events.push_back(ClientEvent::ReconnectError(error));
        } else if self.config.reconnection && self.backoff.attempts() == 0 {
            // `maybeReconnectOnOpen`: a failed first connection is retried too.
            self.reconnect(now);
        }
    }

    /// The open connection reported `error` (engine.io-client's `error`, which comes before
    /// its `close`: a failed poll, a WebSocket error): Manager `error`, and `connect_error`
    /// for each active socket not connected yet (socket.io-client's `onerror`). Report the
    /// close next with [`handle_close`](Self::handle_close).
    pub fn handle_error(&mut self, now: Instant, error: impl Into<String>) {
        let _ = now;
        if self.ready == Ready::Open {
            self.on_error(&error.into());
        }
    }

    /// Manager `error`, seen by each socket that waits to connect.
    fn on_error(&mut self, error: &str) {
        self.events.push_back(ClientEvent::Error(error.to_owned()));
        for n in &self.nsps {
            if n.active && !n.is_connected() {
                self.events.push_back(ClientEvent::ConnectError {
                    nsp: n.name.clone(),
                    message: error.to_owned(),
                    data: None,
                });
            }
        }
    }

    /// The open connection closed (`onclose`), for `reason`: Manager `close`, `disconnect` for
    /// each connected socket (their pending acks fail, except those of buffered packets),
    /// then a reconnection unless closed on purpose. While opening, this is
    /// [`handle_open_failed`](Self::handle_open_failed) with the reason as error.
    pub fn handle_close(&mut self, now: Instant, reason: ClientDisconnectReason) {
        match self.ready {
            Ready::Open => self.on_close(now, reason),
            Ready::Opening { .. } => self.open_failed(now, reason.as_str().to_owned()),
            Ready::Closed => {}
        }
    }

    fn on_close(&mut self, now: Instant, reason: ClientDisconnectReason) {
        self.ready = Ready::Closed;
        self.backoff.reset();
        self.events.push_back(ClientEvent::Close(reason));
        for i in 0..self.nsps.len() {
            self.socket_closed(now, i, reason);
        }
        if self.config.reconnection && !self.skip_reconnect {
            self.reconnect(now);
        }
    }

    fn reconnect(&mut self, now: Instant) {
        if self.reconnecting || self.skip_reconnect {
            return;
        }
        let random = self.random();
        match self.backoff.next_delay(random) {
            None => {
                self.reconnecting = false;
                self.events.push_back(ClientEvent::ReconnectFailed);
            }
            Some(delay) => {
                self.reconnecting = true;
                self.reconnect_at = now.checked_add(delay);
            }
        }
    }

    /// The timer from [`poll_timeout`](Self::poll_timeout) fired (or any time: only what is
    /// due at `now` happens): the attempt's `timeout`, the next reconnection attempt, ack
    /// deadlines. Afterwards `poll_timeout` is `None` or later than `now` (except with a zero
    /// ack timeout and many `retries`: then each call makes progress).
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Ready::Opening {
            deadline: Some(deadline),
        } = self.ready
            && deadline <= now
        {
            // The connection attempt took too long.
            self.events.push_back(ClientEvent::CloseEngine);
            self.open_failed(now, "timeout".to_owned());
        }
        if self.reconnect_at.is_some_and(|at| at <= now) {
            self.reconnect_at = None;
            if !self.skip_reconnect {
                self.events
                    .push_back(ClientEvent::ReconnectAttempt(self.backoff.attempts()));
                self.open_engine(now);
            }
        }
        // A failed try of the retries queue sends the next one, whose deadline is due at
        // once with a zero timeout: a few passes, so that a zero timeout cannot loop.
        for _ in 0..MAX_ACK_PASSES {
            let mut expired_any = false;
            for i in 0..self.nsps.len() {
                let expired = self.nsps[i].acks.expire(now);
                for (id, target) in expired {
                    expired_any = true;
                    // The packet is dropped too if still buffered (socket.io-client does this).
                    self.nsps[i].send_buffer.retain(|b| b.id != Some(id));
                    self.settle(now, i, target, Err(AckFailure::Timeout));
                }
            }
            if !expired_any {
                break;
            }
        }
    }

    // ----------------------------------------------------------------------------------------
    // Sockets: commands
    // ----------------------------------------------------------------------------------------

    /// `socket.connect()`: the socket becomes active; it sends its CONNECT when the
    /// connection is open ([`ClientEvent::AuthNeeded`]), opening it if needed.
    pub fn connect(&mut self, now: Instant, nsp: &str) {
        let i = self.find_or_insert(nsp);
        let n = &mut self.nsps[i];
        if n.is_connected() {
            return;
        }
        n.active = true;
        match self.ready {
            // Not when it already asked for its auth, or waits for the server's answer: a
            // second CONNECT would make the server close the connection ("invalid state").
            Ready::Open if n.conn == Conn::Disconnected => {
                n.conn = Conn::Authenticating;
                self.events.push_back(ClientEvent::AuthNeeded {
                    nsp: n.name.clone(),
                });
            }
            Ready::Closed if !self.reconnecting => self.open_engine(now),
            _ => {}
        }
    }

    /// Sends the CONNECT of `nsp`, after [`ClientEvent::AuthNeeded`], with the socket's auth
    /// payload (an object, or `None`). With a pid from the previous CONNECT reply, the payload
    /// is `{"pid": .., "offset": .., ...auth}` (a recovery request; `offset` left out when no
    /// event carried one; auth that is not an object is then left out). `false` (nothing
    /// sent) when the namespace is not waiting for its auth.
    pub fn send_connect(&mut self, now: Instant, nsp: &str, auth: Option<Value>) -> bool {
        let _ = now;
        let Some(i) = self.find(nsp) else {
            return false;
        };
        let n = &mut self.nsps[i];
        if self.ready != Ready::Open || n.conn != Conn::Authenticating {
            return false;
        }
        let payload = match n.recovery.as_deref() {
            Some(Recovery { pid, last_offset }) => {
                let mut map = Map::new();
                map.insert("pid".to_owned(), Value::from(pid.as_str()));
                if let Some(offset) = last_offset {
                    map.insert("offset".to_owned(), Value::from(offset.as_str()));
                }
                if let Some(Value::Object(auth)) = auth {
                    // `Object.assign({pid, offset}, auth)`: the auth's keys win.
                    map.extend(auth);
                }
                Some(Value::Object(map))
            }
            None => auth,
        };
        n.conn = Conn::Connecting;
        self.out
            .push_back(Packet::new(n.name.clone(), PacketData::Connect(payload)));
        true
    }

    /// `socket.disconnect()`: DISCONNECT if connected; the socket becomes inactive (no
    /// reconnection) and disconnects with `"io client disconnect"`; its pending acks fail,
    /// except those of buffered packets. The Manager closes when no socket is left active.
    pub fn disconnect(&mut self, now: Instant, nsp: &str) {
        let Some(i) = self.find(nsp) else {
            return;
        };
        let n = &mut self.nsps[i];
        if n.is_connected() {
            self.out
                .push_back(Packet::new(n.name.clone(), PacketData::Disconnect));
        }
        n.active = false;
        n.receive_buffer = VecDeque::new();
        let connecting = n.conn == Conn::Connecting;
        self.socket_closed(now, i, ClientDisconnectReason::IoClientDisconnect);
        if connecting {
            // The server still answers: a socket it connects is told to leave then
            // (`handle_packet`), and a `connect` meanwhile waits for that answer.
            self.nsps[i].conn = Conn::Connecting;
        }
        self.maybe_close(now);
    }

    /// `socket.emit(...)`: sent now if the socket is connected, buffered otherwise (and
    /// flushed after the next `connect`), dropped if [volatile](Emit::volatile) and the
    /// transport cannot take it (`transport_writable` false: a long-polling request in
    /// flight; or no open connection). With [`ClientConfig::retries`], a non-volatile emit
    /// goes through the retries queue instead. The outcome of an ack comes as
    /// [`ClientEvent::Ack`].
    ///
    /// The runtime checks the event name (socket.io-client refuses the reserved ones).
    pub fn emit(&mut self, now: Instant, nsp: &str, emit: Emit<A>, transport_writable: bool) {
        let Emit {
            name,
            args,
            ack,
            timeout,
            volatile,
        } = emit;
        let timeout = timeout.or(self.config.ack_timeout);
        let i = self.find_or_insert(nsp);
        if self.retries().is_some() && !volatile {
            self.nsps[i].queue.push(name, args, timeout, ack);
            self.drain_queue(now, i, false);
            return;
        }
        let target = ack.map(Target::User);
        // A transport that is not open (disconnected, reconnecting) is not writable either.
        let writable = transport_writable && self.ready == Ready::Open;
        self.emit_packet(now, i, name, args, target, timeout, volatile && !writable);
    }

    /// `emit` proper: sent, buffered while disconnected, or `discard`ed.
    #[allow(clippy::too_many_arguments)]
    fn emit_packet(
        &mut self,
        now: Instant,
        i: usize,
        name: EventName,
        args: Args,
        target: Option<Target<A>>,
        timeout: Option<Duration>,
        discard: bool,
    ) {
        let n = &mut self.nsps[i];
        let id = target.map(|target| {
            let id = n.acks.next_id();
            let deadline = timeout.and_then(|t| now.checked_add(t));
            n.acks.insert(id, deadline, target);
            id
        });
        if discard {
            // The ack stays: it ends with its timeout or a disconnection, as in
            // socket.io-client.
            return;
        }
        if n.is_connected() {
            self.out
                .push_back(Packet::event(n.name.clone(), name, args, id));
        } else {
            n.send_buffer.push_back(Buffered { name, args, id });
        }
    }

    /// Sends the head of the retry queue if nothing is in flight (`_drainQueue`).
    fn drain_queue(&mut self, now: Instant, i: usize, force: bool) {
        let n = &mut self.nsps[i];
        if !n.is_connected() {
            return;
        }
        if let Some(next) = n.queue.next_try(force) {
            let target = Some(Target::Queue(next.seq));
            self.emit_packet(now, i, next.name, next.args, target, next.timeout, false);
        }
    }

    /// Gives an ack its outcome.
    fn settle(
        &mut self,
        now: Instant,
        i: usize,
        target: Target<A>,
        result: Result<Args, AckFailure>,
    ) {
        match target {
            Target::User(value) => self.events.push_back(ClientEvent::Ack {
                nsp: self.nsps[i].name.clone(),
                value,
                result,
            }),
            Target::Queue(seq) => {
                let retries = self.retries().unwrap_or(0);
                let n = &mut self.nsps[i];
                if let Settled::Done(Some(value)) = n.queue.settle(seq, result.is_ok(), retries) {
                    self.events.push_back(ClientEvent::Ack {
                        nsp: n.name.clone(),
                        value,
                        result,
                    });
                }
                self.drain_queue(now, i, false);
            }
        }
    }

    /// Answers the server's ack request `id` of `nsp` (`false`, nothing sent, when the
    /// connection is not open).
    pub fn ack(&mut self, nsp: &str, id: AckId, args: Args) -> bool {
        if self.ready != Ready::Open {
            return false;
        }
        let name = match self.find(nsp) {
            Some(i) => self.nsps[i].name.clone(),
            None => Str::from(nsp.to_owned()),
        };
        self.out.push_back(Packet::ack(name, args, id));
        true
    }

    // ----------------------------------------------------------------------------------------
    // Sockets: packets from the server
    // ----------------------------------------------------------------------------------------

    /// A packet from the server, as the [`Decoder`](crate::socket::Decoder) completed it.
    /// Packets of namespaces without an active socket are dropped.
    pub fn handle_packet(&mut self, now: Instant, packet: Packet) {
        let Some(i) = self.find(&packet.nsp) else {
            return;
        };
        let n = &mut self.nsps[i];
        if !n.active {
            if n.conn == Conn::Connecting {
                // Disconnected while its CONNECT was with the server.
                match packet.data {
                    PacketData::Connect(_) => {
                        n.conn = Conn::Disconnected;
                        if self.ready == Ready::Open {
                            self.out
                                .push_back(Packet::new(n.name.clone(), PacketData::Disconnect));
                        }
                    }
                    PacketData::ConnectError(_) => n.conn = Conn::Disconnected,
                    _ => {}
                }
            }
            return;
        }
        match packet.data {
            PacketData::Connect(payload) => {
                if n.is_connected() {
                    return;
                }
                let field = |key: &str| {
                    payload
                        .as_ref()
                        .and_then(|p| p.get(key))
                        .and_then(Value::as_str)
                        .map(|s| Str::from(s.to_owned()))
                };
                match field("sid") {
                    Some(sid) => {
                        let pid = field("pid");
                        self.on_connect(now, i, sid, pid);
                    }
                    None => self.events.push_back(ClientEvent::ConnectError {
                        nsp: n.name.clone(),
                        message: V2_SERVER_MESSAGE.to_owned(),
                        data: None,
                    }),
                }
            }
            PacketData::ConnectError(value) => {
                if n.is_connected() {
                    // Not an answer to anything: ignored.
                    return;
                }
                // The socket is destroyed: no automatic retry for this namespace.
                n.active = false;
                n.conn = Conn::Disconnected;
                n.receive_buffer = VecDeque::new();
                let (message, data) = connect_error(value);
                self.events.push_back(ClientEvent::ConnectError {
                    nsp: n.name.clone(),
                    message,
                    data,
                });
                self.maybe_close(now);
            }
            PacketData::Disconnect => {
                n.active = false;
                n.receive_buffer = VecDeque::new();
                self.socket_closed(now, i, ClientDisconnectReason::IoServerDisconnect);
                self.maybe_close(now);
            }
            PacketData::Event { name, args, id } => {
                if n.is_connected() {
                    self.deliver(i, name, args, id);
                } else {
                    // `receiveBuffer`: handed out after the CONNECT reply.
                    n.receive_buffer.push_back(Buffered { name, args, id });
                }
            }
            PacketData::Ack { args, id } => {
                if let Some(target) = n.acks.remove(id) {
                    self.settle(now, i, target, Ok(args));
                }
            }
        }
    }

    fn on_connect(&mut self, now: Instant, i: usize, sid: Str, pid: Option<Str>) {
        let n = &mut self.nsps[i];
        // `recovered = pid && this._pid === pid`.
        let previous = n.recovery.take();
        n.recovered = pid
            .as_ref()
            .is_some_and(|p| !p.is_empty() && previous.as_ref().is_some_and(|r| r.pid == *p));
        n.recovery = pid.map(|pid| {
            Box::new(Recovery {
                pid,
                // The offset of another session means nothing to this one.
                last_offset: previous.filter(|_| n.recovered).and_then(|r| r.last_offset),
            })
        });
        n.conn = Conn::Connected { sid: sid.clone() };
        // `emitBuffered`: the received events, then the buffered emits.
        let received = std::mem::take(&mut n.receive_buffer);
        for b in received {
            self.deliver(i, b.name, b.args, b.id);
        }
        let n = &mut self.nsps[i];
        for b in std::mem::take(&mut n.send_buffer) {
            self.out
                .push_back(Packet::event(n.name.clone(), b.name, b.args, b.id));
        }
        // The head of the retry queue goes again (`_drainQueue(true)`).
        self.drain_queue(now, i, true);
        let n = &self.nsps[i];
        self.events.push_back(ClientEvent::Connect {
            nsp: n.name.clone(),
            sid,
            recovered: n.recovered,
        });
    }

    /// Hands an event to the application (`emitEvent`), keeping its offset.
    fn deliver(&mut self, i: usize, name: EventName, args: Args, id: Option<AckId>) {
        let n = &mut self.nsps[i];
        // An event with an ack id ends with the ack callback in JavaScript: no offset.
        if let Some(recovery) = &mut n.recovery
            && id.is_none()
            && let Some(offset) = last_string(&args)
        {
            recovery.last_offset = Some(offset);
        }
        self.events.push_back(ClientEvent::Event {
            nsp: n.name.clone(),
            name,
            args,
            id,
        });
    }

    /// `onclose` of a socket: disconnected; `disconnect` if it was connected; pending acks
    /// fail, except those of packets still in the send buffer (`_clearAcks`). The receive
    /// buffer goes too (socket.io-client keeps it): its events came on a connection whose
    /// CONNECT was never answered, so the offset did not move past them, and a recovering
    /// server sends them again; kept, they would be handed out twice.
    fn socket_closed(&mut self, now: Instant, i: usize, reason: ClientDisconnectReason) {
        let n = &mut self.nsps[i];
        let was_connected = n.is_connected();
        n.conn = Conn::Disconnected;
        n.receive_buffer = VecDeque::new();
        if was_connected {
            self.events.push_back(ClientEvent::Disconnect {
                nsp: n.name.clone(),
                reason,
            });
        }
        let n = &mut self.nsps[i];
        let mut buffered: Vec<AckId> = n.send_buffer.iter().filter_map(|b| b.id).collect();
        buffered.sort_unstable();
        let failed = n
            .acks
            .remove_if(|id, _| buffered.binary_search(&id).is_err());
        for (_, target) in failed {
            self.settle(now, i, target, Err(AckFailure::Disconnected));
        }
    }

    // ----------------------------------------------------------------------------------------
    // Output
    // ----------------------------------------------------------------------------------------

    /// The next packet to encode and write on the Engine.IO connection, in order.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Packet> {
        self.out.pop_front()
    }

    /// The next event for the runtime, in order.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ClientEvent<A>> {
        self.events.pop_front()
    }

    /// Frees the memory of the output and event queues if they are empty. The queues keep
    /// their capacity while they are drained (one allocation per burst, not one per packet);
    /// a runtime calls this when it goes idle, so that an idle client holds no queue memory.
    pub fn release_memory(&mut self) {
        release(&mut self.out);
        release(&mut self.events);
    }

    /// When to call [`handle_timeout`](Self::handle_timeout): the attempt's deadline, the next
    /// reconnection attempt, the earliest ack deadline; `None` when nothing is scheduled.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let opening = match self.ready {
            Ready::Opening { deadline } => deadline,
            _ => None,
        };
        self.nsps
            .iter()
            .filter_map(|n| n.acks.poll_timeout())
            .chain(opening)
            .chain(self.reconnect_at)
            .min()
    }

    // ----------------------------------------------------------------------------------------
    // State
    // ----------------------------------------------------------------------------------------

    /// Whether the Engine.IO connection is open.
    pub fn is_open(&self) -> bool {
        self.ready == Ready::Open
    }

    /// Whether a reconnection is scheduled or under way.
    pub fn is_reconnecting(&self) -> bool {
        self.reconnecting
    }

    /// `socket.active`: connected, or will (re)connect.
    pub fn is_active(&self, nsp: &str) -> bool {
        self.find(nsp).is_some_and(|i| self.nsps[i].active)
    }

    /// `socket.connected`.
    pub fn is_connected(&self, nsp: &str) -> bool {
        self.find(nsp).is_some_and(|i| self.nsps[i].is_connected())
    }

    /// `socket.id`: the id the server gave, while connected.
    pub fn sid(&self, nsp: &str) -> Option<&Str> {
        match &self.nsps[self.find(nsp)?].conn {
            Conn::Connected { sid } => Some(sid),
            _ => None,
        }
    }

    /// `socket.recovered`: whether the last connection restored the previous session.
    pub fn recovered(&self, nsp: &str) -> bool {
        self.find(nsp).is_some_and(|i| self.nsps[i].recovered)
    }

    /// The private session id of the last CONNECT reply (recovery on).
    pub fn pid(&self, nsp: &str) -> Option<&Str> {
        self.nsps[self.find(nsp)?].recovery.as_ref().map(|r| &r.pid)
    }

    /// The offset of the last event handed out (recovery on).
    pub fn last_offset(&self, nsp: &str) -> Option<&Str> {
        self.nsps[self.find(nsp)?]
            .recovery
            .as_ref()?
            .last_offset
            .as_ref()
    }

    /// The number of emits waiting in `nsp`'s send buffer.
    pub fn buffered(&self, nsp: &str) -> usize {
        self.find(nsp).map_or(0, |i| self.nsps[i].send_buffer.len())
    }

    /// The number of acks `nsp` waits for.
    pub fn pending_acks(&self, nsp: &str) -> usize {
        self.find(nsp).map_or(0, |i| self.nsps[i].acks.len())
    }
}

/// The last argument, if it is a string of at most [`MAX_RECOVERY_TOKEN`] bytes (longer, it
/// cannot be an offset a server accepts).
fn last_string(args: &Args) -> Option<Str> {
    let last = args.len().checked_sub(1)?;
    if let Some(raw) = args.raw_json(last) {
        if !raw.starts_with('"') || raw.len() > MAX_RECOVERY_TOKEN * 6 + 2 {
            return None;
        }
        let s: String = serde_json::from_str(raw).ok()?;
        return (s.len() <= MAX_RECOVERY_TOKEN).then(|| Str::from(s));
    }
    // Decoded values (a binary packet): rare.
    let values = args.to_values().ok()?;
    match values.into_iter().next_back()? {
        Value::String(s) if s.len() <= MAX_RECOVERY_TOKEN => Some(Str::from(s)),
        _ => None,
    }
}

/// A CONNECT_ERROR payload: `{"message": ..., "data"?: ...}`, or a plain string.
fn connect_error(value: Value) -> (String, Option<Value>) {
    match value {
        Value::String(message) => (message, None),
        value => (
            value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            value.get("data").cloned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_error_payloads() {
        let v: Value = serde_json::json!({"message": "nope", "data": {"code": 7}}).into();
        let (message, data) = connect_error(v);
        assert_eq!(message, "nope");
        assert_eq!(
            data.and_then(|d| d.get("code").and_then(Value::as_u64)),
            Some(7)
        );
        assert_eq!(connect_error(Value::from("plain")), ("plain".into(), None));
        assert_eq!(connect_error(Value::Null).0, "");
    }

    #[test]
    fn offsets_are_short_trailing_strings() {
        let args = Args::new(&(1, "abc")).unwrap();
        assert_eq!(last_string(&args).as_deref(), Some("abc"));
        let args = Args::new(&("abc", 1)).unwrap();
        assert_eq!(last_string(&args), None);
        assert_eq!(last_string(&Args::empty()), None);
        let args = Args::from_values(vec![Value::from(1), Value::from("x\"y")]);
        assert_eq!(last_string(&args).as_deref(), Some("x\"y"));
        let long = "o".repeat(MAX_RECOVERY_TOKEN + 1);
        assert_eq!(last_string(&Args::new(&(long,)).unwrap()), None);
        let escaped = Args::new(&("\u{e9}\n",)).unwrap();
        assert_eq!(last_string(&escaped).as_deref(), Some("\u{e9}\n"));
    }

    #[test]
    fn jitter_draws_are_in_range_and_seeded() {
        let mut a: ClientSession<()> =
            ClientSession::new(ClientConfig::default().jitter_seed(7), Instant::now());
        let mut b: ClientSession<()> =
            ClientSession::new(ClientConfig::default().jitter_seed(7), Instant::now());
        for _ in 0..1000 {
            let (x, y) = (a.random(), b.random());
            assert_eq!(x, y);
            assert!((0.0..1.0).contains(&x));
        }
    }
}
