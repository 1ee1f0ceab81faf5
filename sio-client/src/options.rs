//! Client options, with the defaults of socket.io-client 4.x.

use std::time::Duration;

pub use sio_protocol::engine::TransportKind;
pub use sio_protocol::socket::Parser;

/// Options of a [`Manager`](crate::Manager): the engine connection and reconnection.
///
/// The defaults are socket.io-client's (`io(url, opts)`):
///
/// ```
/// use std::time::Duration;
/// use sio_client::{Options, TransportKind};
///
/// let options = Options::default()
///     .transports([TransportKind::WebSocket])
///     .reconnection_delay(Duration::from_millis(200));
/// assert_eq!(options.path, "/socket.io/");
/// assert_eq!(options.timeout, Some(Duration::from_secs(20)));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// `path`: where the server is mounted (default `/socket.io/`; a trailing slash is added).
    pub path: String,
    /// `query`: extra query parameters sent with every request.
    pub query: Vec<(String, String)>,
    /// `extraHeaders`: headers sent with every HTTP request and the WebSocket handshake.
    pub extra_headers: Vec<(String, String)>,
    /// `transports`: the first one is used for the handshake (default polling, then WebSocket).
    pub transports: Vec<TransportKind>,
    /// `upgrade`: whether to probe and move to WebSocket after a polling handshake (default
    /// true).
    pub upgrade: bool,
    /// `timeout`: how long one connection attempt may take until the handshake (default 20 s;
    /// `None`: no limit). It also bounds the handshake request of long-polling: a server that
    /// sends the response's headers and then stalls or dribbles the body fails the attempt with
    /// `"timeout"`.
    pub timeout: Option<Duration>,
    /// The largest packet the client takes from the server, in bytes: one record of a
    /// long-polling answer, or one WebSocket message. A long-polling answer is taken packet by
    /// packet as it streams in (it may hold many packets, and be larger than this in all); at
    /// the first record over the bound, or a WebSocket frame header that declares more, the
    /// client stops reading and the transport fails (`"xhr poll error: packet over N bytes"`,
    /// `"websocket error: ... over the limit of N"`; the WebSocket is closed with code 1009, as
    /// `ws` closes it): a `connect_error`, or a `"transport error"` disconnection and a
    /// reconnection. The client never holds more than this much of one packet.
    ///
    /// Default `None`: the `maxPayload` the server announces in its handshake (at most
    /// [`MAX_PAYLOAD_CEILING`](Self::MAX_PAYLOAD_CEILING)), and
    /// [`DEFAULT_MAX_PAYLOAD`](Self::DEFAULT_MAX_PAYLOAD) before the handshake or when the
    /// server announces none. `Some(n)`: `n`, before and after the handshake.
    ///
    /// socket.io-client takes anything (the Node `ws` package stops at 100 MiB). A server's
    /// `maxPayload` (engine.io's `maxHttpBufferSize`) bounds what it accepts, not what it
    /// sends: a server whose application emits larger messages needs a larger value here.
    pub max_payload: Option<usize>,
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
    /// `autoConnect`: whether [`io`](crate::io) connects the socket at once (default true).
    pub auto_connect: bool,
    /// `rememberUpgrade`: once a WebSocket worked (opened, or upgraded to), the next
    /// connections of this manager start on WebSocket directly (default false). Unlike
    /// engine.io-client, the memory is per manager, not per process.
    pub remember_upgrade: bool,
    /// `forceNew`: [`io`](crate::io) makes a new manager instead of reusing the cached one
    /// (default false).
    pub force_new: bool,
    /// `multiplex`: whether [`io`](crate::io) may reuse a cached manager (default true).
    pub multiplex: bool,
    /// `parser`: the Socket.IO packet encoding, the server's must match (default
    /// [`Parser::Json`]; `Parser::MsgPack` with the `msgpack` feature, for a server using
    /// `socket.io-msgpack-parser`).
    pub parser: Parser,
    /// `ackTimeout`: the default timeout of acks, for every socket of the manager (default
    /// `None`: wait until the ack comes or the socket disconnects).
    /// [`Socket::timeout`](crate::Socket::timeout) overrides it.
    pub ack_timeout: Option<Duration>,
    /// `retries`: with `Some(n)` (n > 0), every emit of a socket goes through a queue, one at
    /// a time, each sent with an ack request; an emit whose ack does not come (the ack
    /// timeout, or a disconnection) is sent again until it has been tried more than `n`
    /// times, then its `emit_with_ack` fails (default `None`). The server must acknowledge
    /// every event. Volatile emits skip the queue.
    pub retries: Option<u32>,
    /// The TLS configuration for `https://` and `wss://`, shared by long-polling and the
    /// WebSocket (default: the system's root certificates, rustls with ring). Feature `tls`.
    #[cfg(feature = "tls")]
    pub tls_config: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl Options {
    /// The bound of [`max_payload`](Self::max_payload) before the server's handshake, or when
    /// the server announces no `maxPayload`: 1,000,000 bytes, engine.io's default
    /// `maxHttpBufferSize` (the handshake itself is a few hundred bytes).
    pub const DEFAULT_MAX_PAYLOAD: usize = 1_000_000;

    /// The largest `maxPayload` announced by a server that the client accepts as its bound
    /// (a larger announcement is capped): 100 MiB, the default `maxPayload` of the Node `ws`
    /// package that socket.io-client uses outside browsers.
    pub const MAX_PAYLOAD_CEILING: usize = 100 * 1024 * 1024;
}

impl Default for Options {
    fn default() -> Self {
        Options {
            path: "/socket.io/".to_owned(),
            query: Vec::new(),
            extra_headers: Vec::new(),
            transports: vec![TransportKind::Polling, TransportKind::WebSocket],
            upgrade: true,
            timeout: Some(Duration::from_millis(20_000)),
            max_payload: None,
            reconnection: true,
            reconnection_attempts: None,
            reconnection_delay: Duration::from_millis(1000),
            reconnection_delay_max: Duration::from_millis(5000),
            randomization_factor: 0.5,
            auto_connect: true,
            remember_upgrade: false,
            force_new: false,
            multiplex: true,
            parser: Parser::Json,
            ack_timeout: None,
            retries: None,
            #[cfg(feature = "tls")]
            tls_config: None,
        }
    }
}

impl Options {
    /// Sets [`path`](Self::path).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Adds a [`query`](Self::query) parameter.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Adds one of the [`extra_headers`](Self::extra_headers).
    pub fn extra_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_headers.push((name.into(), value.into()));
        self
    }

    /// Sets [`transports`](Self::transports).
    pub fn transports(mut self, transports: impl IntoIterator<Item = TransportKind>) -> Self {
        self.transports = transports.into_iter().collect();
        self
    }

    /// Sets [`upgrade`](Self::upgrade).
    pub fn upgrade(mut self, upgrade: bool) -> Self {
        self.upgrade = upgrade;
        self
    }

    /// Sets [`timeout`](Self::timeout).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets [`max_payload`](Self::max_payload).
    pub fn max_payload(mut self, max_payload: Option<usize>) -> Self {
        self.max_payload = max_payload;
        self
    }

    /// Sets [`reconnection`](Self::reconnection).
    pub fn reconnection(mut self, reconnection: bool) -> Self {
        self.reconnection = reconnection;
        self
    }

    /// Sets [`reconnection_attempts`](Self::reconnection_attempts).
    pub fn reconnection_attempts(mut self, attempts: Option<u32>) -> Self {
        self.reconnection_attempts = attempts;
        self
    }

    /// Sets [`reconnection_delay`](Self::reconnection_delay).
    pub fn reconnection_delay(mut self, delay: Duration) -> Self {
        self.reconnection_delay = delay;
        self
    }

    /// Sets [`reconnection_delay_max`](Self::reconnection_delay_max).
    pub fn reconnection_delay_max(mut self, delay: Duration) -> Self {
        self.reconnection_delay_max = delay;
        self
    }

    /// Sets [`randomization_factor`](Self::randomization_factor).
    pub fn randomization_factor(mut self, factor: f64) -> Self {
        self.randomization_factor = factor;
        self
    }

    /// Sets [`auto_connect`](Self::auto_connect).
    pub fn auto_connect(mut self, auto_connect: bool) -> Self {
        self.auto_connect = auto_connect;
        self
    }

    /// Sets [`remember_upgrade`](Self::remember_upgrade).
    pub fn remember_upgrade(mut self, remember: bool) -> Self {
        self.remember_upgrade = remember;
        self
    }

    /// Sets [`force_new`](Self::force_new).
    pub fn force_new(mut self, force_new: bool) -> Self {
        self.force_new = force_new;
        self
    }

    /// Sets [`multiplex`](Self::multiplex).
    pub fn multiplex(mut self, multiplex: bool) -> Self {
        self.multiplex = multiplex;
        self
    }

    /// Sets [`parser`](Self::parser).
    pub fn parser(mut self, parser: Parser) -> Self {
        self.parser = parser;
        self
    }

    /// Sets [`ack_timeout`](Self::ack_timeout).
    pub fn ack_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.ack_timeout = timeout;
        self
    }

    /// Sets [`retries`](Self::retries).
    pub fn retries(mut self, retries: Option<u32>) -> Self {
        self.retries = retries;
        self
    }

    /// Sets [`tls_config`](Self::tls_config). Its ALPN protocols should be empty or
    /// `http/1.1` (the WebSocket needs HTTP/1.1).
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Self {
        self.tls_config = Some(config);
        self
    }
}
