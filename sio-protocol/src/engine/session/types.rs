//! The plain data types around [`Session`](super::Session): configuration, transports, events.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;

use crate::engine::open::OpenPacket;
use crate::engine::packet::{Packet, ProtocolVersion};
use crate::str::Str;

/// Which end of the connection a [`Session`](super::Session) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The Engine.IO server (`engine.io`'s `Socket`).
    Server,
    /// The Engine.IO client (`engine.io-client`'s `Socket`).
    Client,
}

/// A transport a packet travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

impl TransportKind {
    /// The name used in the `transport` query parameter and the `upgrades` list.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Session settings. The defaults are those of the JavaScript server (`engine.io` 6).
///
/// A client takes its heartbeat settings from the server's open packet; only `version` and
/// `upgrade_timeout` matter to it.
///
/// ```
/// use std::time::Duration;
/// use sio_protocol::engine::SessionConfig;
///
/// let config = SessionConfig::default()
///     .ping_interval(Duration::from_millis(300))
///     .ping_timeout(Duration::from_millis(200));
/// assert_eq!(config.upgrade_timeout, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionConfig {
    /// `pingInterval`: time between heartbeats (default 25 s).
    pub ping_interval: Duration,
    /// `pingTimeout`: how long to wait for the answer to a ping (default 20 s).
    pub ping_timeout: Duration,
    /// `upgradeTimeout`: how long an upgrade may take before the probe transport is closed
    /// (default 10 s).
    pub upgrade_timeout: Duration,
    /// `maxHttpBufferSize`, advertised as `maxPayload` in the open packet (default 1,000,000).
    pub max_payload: u64,
    /// The Engine.IO protocol revision (default v4).
    pub version: ProtocolVersion,
    /// `allowUpgrades`: whether a polling session may move to WebSocket (default true).
    pub allow_upgrades: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            max_payload: 1_000_000,
            version: ProtocolVersion::V4,
            allow_upgrades: true,
        }
    }
}

impl SessionConfig {
    /// Sets [`ping_interval`](Self::ping_interval).
    pub fn ping_interval(mut self, value: Duration) -> Self {
        self.ping_interval = value;
        self
    }

    /// Sets [`ping_timeout`](Self::ping_timeout).
    pub fn ping_timeout(mut self, value: Duration) -> Self {
        self.ping_timeout = value;
        self
    }

    /// Sets [`upgrade_timeout`](Self::upgrade_timeout).
    pub fn upgrade_timeout(mut self, value: Duration) -> Self {
        self.upgrade_timeout = value;
        self
    }

    /// Sets [`max_payload`](Self::max_payload).
    pub fn max_payload(mut self, value: u64) -> Self {
        self.max_payload = value;
        self
    }

    /// Sets [`version`](Self::version).
    pub fn version(mut self, value: ProtocolVersion) -> Self {
        self.version = value;
        self
    }

    /// Sets [`allow_upgrades`](Self::allow_upgrades).
    pub fn allow_upgrades(mut self, value: bool) -> Self {
        self.allow_upgrades = value;
        self
    }
}

/// Why a session closed: the reason strings of `engine.io` and `engine.io-client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// `"transport error"`: an I/O error, an aborted poll, a heartbeat in the wrong direction,
    /// an undecodable packet seen by a client.
    TransportError,
    /// `"transport close"`: the transport closed, or the peer sent a `close` packet.
    TransportClose,
    /// `"forced close"`: [`Session::close`](super::Session::close) was called.
    ForcedClose,
    /// `"ping timeout"`: the heartbeat stopped.
    PingTimeout,
    /// `"parse error"`: the server received a packet it could not decode.
    ParseError,
}

impl CloseReason {
    /// The JavaScript reason string.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportError => "transport error",
            CloseReason::TransportClose => "transport close",
            CloseReason::ForcedClose => "forced close",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A packet to write on a transport, from [`Session::poll_transmit`](super::Session::poll_transmit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to write it.
    pub transport: TransportKind,
    /// What to write.
    pub packet: Packet,
}

/// Something the runtime or the application must know, from
/// [`Session::poll_event`](super::Session::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Client: the handshake arrived. Its `upgrades` list says whether to probe WebSocket
    /// ([`Session::start_probe`](super::Session::start_probe)); `max_payload` bounds a POST body.
    Opened(OpenPacket),
    /// A text message.
    Message(Str),
    /// A binary message.
    Binary(Bytes),
    /// A heartbeat ping arrived (v4 client, v3 server); the pong is already queued.
    Ping,
    /// A heartbeat pong arrived (v4 server, v3 client).
    Pong,
    /// Client: the probe was answered (`3probe`). Pause polling (let the in-flight GET and POST
    /// finish, start no new ones), then call
    /// [`Session::finish_upgrade`](super::Session::finish_upgrade).
    ProbeSucceeded(TransportKind),
    /// The session now runs on this transport. The previous transport is finished: close it
    /// (a server answers later polling requests with 400 "Bad request").
    Upgraded(TransportKind),
    /// The upgrade to this transport was abandoned (timeout, unexpected packet, transport
    /// failure). Close that transport if it is still open; the session goes on as before (a
    /// client resumes polling).
    UpgradeFailed(TransportKind),
    /// The session is over. Write the transmits still queued (a final `close` or `noop` for a
    /// pending poll), then close every transport of the session. The session ignores further
    /// input.
    Closed(CloseReason),
}
