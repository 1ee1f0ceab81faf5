//! [`EngineConfig`]: the options of the Engine.IO server, with the JavaScript defaults.

use std::time::Duration;

use sio_protocol::engine::{SessionConfig, TransportKind};

use crate::engine::message::Message;
use crate::http::allow::AllowRequest;
use crate::http::compression::HttpCompression;
use crate::http::cookie::Cookie;
use crate::http::cors::Cors;

/// Engine.IO server options. The defaults are those of `engine.io` 6 (see each field).
///
/// ```
/// use std::time::Duration;
/// use sio_server::{Cors, EngineConfig};
///
/// let config = EngineConfig::default()
///     .ping_interval(Duration::from_millis(300))
///     .ping_timeout(Duration::from_millis(200))
///     .cors(Cors::any());
/// assert_eq!(config.path, "/engine.io/");
/// assert_eq!(config.max_http_buffer_size, 1_000_000);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EngineConfig {
    /// The path prefix requests must start with (default `/engine.io/`; Socket.IO uses
    /// `/socket.io/`). A missing trailing `/` is added (see
    /// [`add_trailing_slash`](Self::add_trailing_slash)), as engine.io does.
    pub path: String,
    /// `pingInterval` (default 25 s).
    pub ping_interval: Duration,
    /// `pingTimeout` (default 20 s).
    pub ping_timeout: Duration,
    /// `upgradeTimeout`: how long a polling-to-WebSocket upgrade may take (default 10 s).
    pub upgrade_timeout: Duration,
    /// `maxHttpBufferSize` (default 1,000,000 bytes): the largest POST body (bigger: `413`),
    /// the largest WebSocket message (bigger: close 1009), and `maxPayload` in the handshake.
    pub max_http_buffer_size: usize,
    /// The longest the server waits for the headers of a request, from its first byte or
    /// from the moment an idle keep-alive connection is ready for the next request (default
    /// 30 s; Node's `headersTimeout` is 60 s). Past it the connection is closed. It applies to
    /// the connections of [`EngineIo::listen`](crate::EngineIo::listen) and
    /// [`EngineIo::serve`](crate::EngineIo::serve); under your own hyper server or axum,
    /// set the equivalent there (hyper: `http1::Builder::header_read_timeout` with a timer).
    pub http_header_timeout: Duration,
    /// The longest a polling POST body may take to arrive (default 30 s; Node's
    /// `requestTimeout` is 300 s, but a body slower than the heartbeat cannot succeed there
    /// either). Past it the server answers `408` and closes the connection, and the session
    /// ends (`"transport error"`). A POST is also dropped as soon as its session closes or
    /// upgrades to WebSocket. On the connections of [`EngineIo::listen`](crate::EngineIo::listen)
    /// and [`EngineIo::serve`](crate::EngineIo::serve), it also bounds how long a write may
    /// wait for a client that does not read (a response it never takes): the connection is
    /// then closed.
    pub http_body_timeout: Duration,
    /// The enabled transports (default polling and WebSocket).
    pub transports: Vec<TransportKind>,
    /// `allowUpgrades` (default true).
    pub allow_upgrades: bool,
    /// `allowEIO3`: accept Engine.IO v3 clients (Socket.IO 2.x) (default false).
    pub allow_eio3: bool,
    /// CORS (default off: no CORS header is ever sent).
    pub cors: Option<Cors>,
    /// The bound of each per-connection queue, in packets (default 8192): messages the
    /// application sent that the client has not taken yet, messages received that the
    /// application has not read yet, and frames waiting for a slow WebSocket. See the crate
    /// documentation for what happens when a queue is full. Nothing is allocated up front;
    /// the default leaves room for the bursts a well-behaved client causes, e.g. the echoes of
    /// 3,000 events that pile up while it pauses polling during the upgrade (the JavaScript
    /// server has no bound at all).
    pub max_buffered_packets: usize,
    /// The most bytes of messages queued for one connection, on every transport (default
    /// 16 MiB; the JavaScript server has no bound):
    /// - to the client: messages waiting for a WebSocket that does not read, or for the next
    ///   polling GET of a client that does not poll. Past it the connection closes with
    ///   [`DisconnectReason::SendBufferFull`](crate::DisconnectReason::SendBufferFull), like
    ///   past [`max_buffered_packets`](Self::max_buffered_packets) WebSocket frames. Messages
    ///   the application sends while the session's task has not taken them yet count too:
    ///   past the bound a send waits ([`ConnectionSender::try_send`](crate::ConnectionSender::try_send)
    ///   fails with `Full`);
    /// - from the client: once that many bytes of received messages wait for the application,
    ///   the server stops reading the client (TCP pushes back) until the application catches up.
    ///
    /// A broadcast's payload is shared by its recipients, but each slow one keeps it alive, so
    /// this bounds what one slow client can hold.
    pub max_buffered_bytes: usize,
    /// The most bytes read from a WebSocket at once, in bytes (default 4 KiB, at most 16 KiB):
    /// a stack buffer lent for one read. Nothing is kept between reads but the remainder of an
    /// incomplete frame.
    pub ws_read_buffer_size: usize,
    /// How many new connections may wait for [`EngineIo::accept`](crate::EngineIo::accept)
    /// (default 1024). Handshakes beyond that are refused with 403. Not used under a
    /// [`SocketIo`](crate::SocketIo), which takes each connection at its handshake.
    pub accept_backlog: usize,
    /// `allowRequest`: a hook that may refuse handshakes (default none).
    pub allow_request: Option<AllowRequest>,
    /// `cookie`: a `Set-Cookie` with the session id on the handshake response (default off).
    pub cookie: Option<Cookie>,
    /// `httpCompression`: gzip/deflate of polling responses of at least 1024 bytes when the
    /// client accepts it (default on, like engine.io; `None` turns it off).
    pub http_compression: Option<HttpCompression>,
    /// `perMessageDeflate`: the WebSocket permessage-deflate extension (RFC 7692), off by
    /// default as in engine.io. When on, a client that offers it (browsers and Node's `ws` do)
    /// may send compressed messages, and the server compresses its messages of at least
    /// [`PerMessageDeflate::threshold`] bytes. The server always answers
    /// `server_no_context_takeover`, so it keeps no compressor per connection; a client that
    /// does not agree to `client_no_context_takeover` costs one inflater (~43 KB) for as long
    /// as it sends compressed messages.
    pub per_message_deflate: Option<PerMessageDeflate>,
    /// `addTrailingSlash` (default true): the path ends with `/`, so `/engine.io?EIO=4...` is
    /// not served; false: the path is used without its trailing `/` (requests whose path
    /// merely starts with it, like `/engine.iofoo`, are served too, as in engine.io).
    pub add_trailing_slash: bool,
    /// `initialPacket`: a message sent to every new connection right after the open packet
    /// (default none).
    pub initial_packet: Option<Message>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            path: "/engine.io/".to_owned(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_http_buffer_size: 1_000_000,
            http_header_timeout: Duration::from_secs(30),
            http_body_timeout: Duration::from_secs(30),
            transports: vec![TransportKind::Polling, TransportKind::WebSocket],
            allow_upgrades: true,
            allow_eio3: false,
            cors: None,
            max_buffered_packets: 8192,
            max_buffered_bytes: 16 * 1024 * 1024,
            ws_read_buffer_size: 4096,
            accept_backlog: 1024,
            allow_request: None,
            cookie: None,
            http_compression: Some(HttpCompression::default()),
            per_message_deflate: None,
            initial_packet: None,
            add_trailing_slash: true,
        }
    }
}

macro_rules! setter {
    ($(#[$doc:meta] $name:ident: $ty:ty),* $(,)?) => {
        $(
            #[$doc]
            pub fn $name(mut self, value: $ty) -> Self {
                self.$name = value;
                self
            }
        )*
    };
}

impl EngineConfig {
    setter! {
        /// Sets [`ping_interval`](Self::ping_interval).
        ping_interval: Duration,
        /// Sets [`ping_timeout`](Self::ping_timeout).
        ping_timeout: Duration,
        /// Sets [`upgrade_timeout`](Self::upgrade_timeout).
        upgrade_timeout: Duration,
        /// Sets [`max_http_buffer_size`](Self::max_http_buffer_size).
        max_http_buffer_size: usize,
        /// Sets [`http_header_timeout`](Self::http_header_timeout).
        http_header_timeout: Duration,
        /// Sets [`http_body_timeout`](Self::http_body_timeout).
        http_body_timeout: Duration,
        /// Sets [`transports`](Self::transports).
        transports: Vec<TransportKind>,
        /// Sets [`allow_upgrades`](Self::allow_upgrades).
        allow_upgrades: bool,
        /// Sets [`allow_eio3`](Self::allow_eio3).
        allow_eio3: bool,
        /// Sets [`max_buffered_packets`](Self::max_buffered_packets) (at least 1).
        max_buffered_packets: usize,
        /// Sets [`max_buffered_bytes`](Self::max_buffered_bytes).
        max_buffered_bytes: usize,
        /// Sets [`ws_read_buffer_size`](Self::ws_read_buffer_size).
        ws_read_buffer_size: usize,
        /// Sets [`accept_backlog`](Self::accept_backlog) (at least 1).
        accept_backlog: usize,
        /// Sets [`add_trailing_slash`](Self::add_trailing_slash).
        add_trailing_slash: bool,
    }

    /// Sets [`per_message_deflate`](Self::per_message_deflate) (`None`: off).
    pub fn per_message_deflate(mut self, value: impl Into<Option<PerMessageDeflate>>) -> Self {
        self.per_message_deflate = value.into();
        self
    }

    /// Sets the [`allow_request`](Self::allow_request) hook.
    pub fn allow_request(mut self, value: AllowRequest) -> Self {
        self.allow_request = Some(value);
        self
    }

    /// Turns the [`cookie`](Self::cookie) on with these settings.
    pub fn cookie(mut self, value: Cookie) -> Self {
        self.cookie = Some(value);
        self
    }

    /// Sets [`http_compression`](Self::http_compression) (`None`: off).
    pub fn http_compression(mut self, value: impl Into<Option<HttpCompression>>) -> Self {
        self.http_compression = value.into();
        self
    }

    /// Sets the [`initial_packet`](Self::initial_packet).
    pub fn initial_packet(mut self, value: Message) -> Self {
        self.initial_packet = Some(value);
        self
    }

    /// Sets [`path`](Self::path).
    pub fn path(mut self, value: impl Into<String>) -> Self {
        self.path = value.into();
        self
    }

    /// Enables CORS with these settings.
    pub fn cors(mut self, value: Cors) -> Self {
        self.cors = Some(value);
        self
    }

    /// The path with one leading `/`, and one trailing `/` unless
    /// [`add_trailing_slash`](Self::add_trailing_slash) is off.
    pub(crate) fn normalized_path(&self) -> String {
        let trimmed = self.path.trim_end_matches('/');
        let mut path = String::with_capacity(trimmed.len() + 2);
        if !trimmed.starts_with('/') {
            path.push('/');
        }
        path.push_str(trimmed);
        if self.add_trailing_slash && !path.ends_with('/') {
            path.push('/');
        }
        path
    }

    /// The session settings for a session of protocol `version`.
    pub(crate) fn session_config(
        &self,
        version: sio_protocol::engine::ProtocolVersion,
    ) -> SessionConfig {
        SessionConfig::default()
            .ping_interval(self.ping_interval)
            .ping_timeout(self.ping_timeout)
            .upgrade_timeout(self.upgrade_timeout)
            .max_payload(u64::try_from(self.max_http_buffer_size).unwrap_or(u64::MAX))
            .version(version)
            .allow_upgrades(
                self.allow_upgrades && self.transports.contains(&TransportKind::WebSocket),
            )
    }

    pub(crate) fn queue_bound(&self) -> usize {
        self.max_buffered_packets.max(1)
    }
}

/// The settings of the WebSocket permessage-deflate extension
/// ([`EngineConfig::per_message_deflate`]).
///
/// ```
/// use sio_server::{EngineConfig, PerMessageDeflate};
///
/// let config = EngineConfig::default().per_message_deflate(PerMessageDeflate::default());
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PerMessageDeflate {
    /// The smallest message the server compresses, in bytes (default 1024, engine.io's).
    pub threshold: usize,
    /// Answer `client_no_context_takeover` even to clients that did not offer it (default
    /// false, as `ws`): the client then compresses each message on its own, and the server
    /// never keeps an inflater per connection, at some cost in compression ratio.
    pub client_no_context_takeover: bool,
}

impl Default for PerMessageDeflate {
    fn default() -> Self {
        PerMessageDeflate {
            threshold: 1024,
            client_no_context_takeover: false,
        }
    }
}

impl PerMessageDeflate {
    /// Sets [`threshold`](Self::threshold).
    pub fn threshold(mut self, value: usize) -> Self {
        self.threshold = value;
        self
    }

    /// Sets [`client_no_context_takeover`](Self::client_no_context_takeover).
    pub fn client_no_context_takeover(mut self, value: bool) -> Self {
        self.client_no_context_takeover = value;
        self
    }
}
