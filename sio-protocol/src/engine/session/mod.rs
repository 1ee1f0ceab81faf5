//! The Engine.IO session state machine, one for both ends.
//!
//! The behaviour follows `engine.io` 6.6.12 `build/socket.js` (server: `onOpen`, `onPacket`,
//! `schedulePing`, `resetPingTimeout`, `_maybeUpgrade`, `close`, `onClose`),
//! `build/transports/polling.js` (what a pending poll receives) and `engine.io-client` 6.6
//! `build/cjs/socket.js` (client: `_onPacket`, `_resetPingTimeout`, `_probe`, `close`,
//! `_onClose`), plus `engine.io-client` 3.x (`setPing`, `onHeartbeat`) for the v3 heartbeat.

mod types;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::engine::open::OpenPacket;
use crate::engine::packet::{Packet, ProtocolVersion};
use crate::str::Str;

pub use types::{CloseReason, Event, Role, SessionConfig, Transmit, TransportKind};

/// How long a graceful close waits for a poll to carry the final packets (`closeTimeout` of the
/// server's polling transport, 30 s), after which the session closes anyway.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// During an upgrade, a pending poll is ended with a `noop` at most this often (engine.io's
/// `_maybeUpgrade` checks every 100 ms): a client that keeps polling without finishing the
/// upgrade gets ten answers a second, not one per request.
const NOOP_INTERVAL: Duration = Duration::from_millis(100);

/// `handle_timeout` handles at most this many expired timers per call (each step removes one
/// deadline; the bound only guards against a logic error turning into a loop).
const MAX_TIMER_STEPS: usize = 8;

/// One Engine.IO connection, server side or client side: handshake, heartbeat, upgrade, close.
///
/// Sans-IO in the style of quinn-proto: the session never reads a clock or touches a socket.
/// The runtime feeds it what happened, with the current time, and carries out what it asks for.
///
/// # Calling order
///
/// 1. Create it: [`Session::server`] when a handshake request arrives (the open packet is the
///    first transmit), [`Session::client`] before connecting (it waits for the open packet).
/// 2. Feed input as it happens: [`handle_packet`](Self::handle_packet) for each decoded packet,
///    labelled with the transport it arrived on; [`handle_parse_error`](Self::handle_parse_error),
///    [`handle_transport_error`](Self::handle_transport_error),
///    [`handle_transport_closed`](Self::handle_transport_closed);
///    [`handle_writable`](Self::handle_writable) when a polling transport can take a batch;
///    [`handle_timeout`](Self::handle_timeout) when the timer fires. Apply commands:
///    [`send`](Self::send), [`close`](Self::close), [`begin_upgrade`](Self::begin_upgrade)
///    (server), [`start_probe`](Self::start_probe) and [`finish_upgrade`](Self::finish_upgrade)
///    (client).
/// 3. After each input or command: drain [`poll_transmit`](Self::poll_transmit) and write each
///    packet to its transport, drain [`poll_event`](Self::poll_event), then re-arm one timer
///    from [`poll_timeout`](Self::poll_timeout) (none: no timer).
///
/// # Polling
///
/// A WebSocket always accepts packets. A polling transport takes one batch at a time: the
/// session hands out packets for it only while it is *writable*, and a batch makes it
/// unwritable again. All `Polling` transmits drained between two `handle_writable(Polling)`
/// calls form one HTTP body.
///
/// - Server: a new session over polling starts writable (the handshake GET takes the open
///   packet). Call `handle_writable(Polling)` for each later GET; if draining yields nothing for
///   polling, keep the GET open until a later drain does.
/// - Client: polling starts writable; send each batch as one POST and call
///   `handle_writable(Polling)` when the POST completes. The GET loop is the runtime's own.
///
/// Packets not yet handed out stay in the session, so on an upgrade they go to the new
/// transport: nothing is lost, duplicated or reordered.
///
/// # Upgrade (polling to WebSocket)
///
/// - Server: when a WebSocket request arrives for a polling session, call
///   [`begin_upgrade`](Self::begin_upgrade) (if it returns false, close that WebSocket). Feed
///   packets from the WebSocket labelled `WebSocket`. The session answers `2probe` with
///   `3probe`, ends the pending GET with a `noop`, and switches on `5`
///   ([`Event::Upgraded`]). Polling packets fed after the switch are ignored, so feed every
///   packet of a POST before answering it, or at least before any WebSocket packet that
///   arrives after the answer: the client sends `5` as soon as its last POST is answered.
/// - Client: after [`Event::Opened`] with `"websocket"` in `upgrades`, open a WebSocket and call
///   [`start_probe`](Self::start_probe) (queues `2probe`). On [`Event::ProbeSucceeded`] pause
///   polling, then call [`finish_upgrade`](Self::finish_upgrade) (queues `5` and switches).
///
/// Any failure ends in [`Event::UpgradeFailed`]: close that WebSocket; the session stays on
/// polling.
///
/// # Example
///
/// ```
/// use std::time::Instant;
/// use sio_protocol::engine::{Event, Packet, Session, SessionConfig, TransportKind};
///
/// let now = Instant::now();
/// let mut server = Session::server("sid".into(), TransportKind::WebSocket, SessionConfig::default(), now);
/// let mut client = Session::client(TransportKind::WebSocket, SessionConfig::default(), now);
/// while let Some(t) = server.poll_transmit() {
///     client.handle_packet(now, t.transport, t.packet);
/// }
/// assert!(matches!(client.poll_event(), Some(Event::Opened(_))));
/// client.send(Packet::Message("hello".into()));
/// while let Some(t) = client.poll_transmit() {
///     server.handle_packet(now, t.transport, t.packet);
/// }
/// assert_eq!(server.poll_event(), Some(Event::Message("hello".into())));
/// ```
#[derive(Debug)]
pub struct Session {
    role: Role,
    version: ProtocolVersion,
    upgrade_timeout: Duration,
    allow_upgrades: bool,
    state: State,
    sid: Option<Str>,
    transport: TransportKind,
    /// Whether the polling transport can take a batch (always true for WebSocket).
    polling_writable: bool,
    /// Packets for the current transport not yet handed out (JS `writeBuffer`).
    write_buffer: VecDeque<Packet>,
    /// Packets handed out, in order, with their transport.
    out: VecDeque<Transmit>,
    events: VecDeque<Event>,
    upgrade: Upgrade,
    upgraded: bool,
    ping_interval: Duration,
    ping_timeout: Duration,
    /// Server v4: when to send the next ping. Client v3: the same.
    ping_due: Option<Instant>,
    /// When the heartbeat is declared dead (JS `pingTimeoutTimer`).
    pong_deadline: Option<Instant>,
    /// Server v4, engine.io >= 6.6.10: the ping timeout was already extended once.
    refreshed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Client only: waiting for the open packet.
    Opening,
    Open,
    /// `close()` was called: waiting for a transport to carry the last packets.
    Closing {
        deadline: Option<Instant>,
    },
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    Idle,
    /// Server: the probe transport exists; `noop_due` is set once `2probe` arrived, to when
    /// a pending poll may next be ended with a `noop`. Client: `2probe` was sent, waiting for
    /// `3probe` (`noop_due` unused).
    Probing {
        transport: TransportKind,
        deadline: Option<Instant>,
        noop_due: Option<Instant>,
    },
    /// Client: `3probe` arrived; the runtime is pausing polling.
    Paused {
        transport: TransportKind,
    },
}

fn after(now: Instant, d: Duration) -> Option<Instant> {
    now.checked_add(d)
}

fn is_due(deadline: Option<Instant>, now: Instant) -> bool {
    deadline.is_some_and(|d| d <= now)
}

impl Session {
    /// A server session for a handshake that arrived on `transport`, with session id `sid`.
    ///
    /// The open packet (`upgrades` is `["websocket"]` for a polling handshake when upgrades are
    /// allowed, `[]` otherwise) is the first transmit. To send an `initialPacket`, call
    /// [`send`](Self::send) right away.
    ///
    /// A polling session starts writable: the handshake GET itself carries the first batch
    /// (the open packet), so call [`handle_writable`](Self::handle_writable) only for the GETs
    /// that follow it. Calling it for the handshake GET too would hand the next batch to a
    /// request that no longer exists.
    pub fn server(
        sid: Str,
        transport: TransportKind,
        config: SessionConfig,
        now: Instant,
    ) -> Session {
        let upgrades = if transport == TransportKind::Polling && config.allow_upgrades {
            vec![Str::from_static(TransportKind::WebSocket.as_str())]
        } else {
            Vec::new()
        };
        let open = OpenPacket {
            sid: sid.clone(),
            upgrades,
            ping_interval: u64::try_from(config.ping_interval.as_millis()).unwrap_or(u64::MAX),
            ping_timeout: u64::try_from(config.ping_timeout.as_millis()).unwrap_or(u64::MAX),
            max_payload: Some(config.max_payload),
        };
        let mut session = Session::new(Role::Server, transport, &config);
        session.sid = Some(sid);
        session.state = State::Open;
        session.ping_interval = config.ping_interval;
        session.ping_timeout = config.ping_timeout;
        session.write_buffer.push_back(Packet::Open(open));
        match session.version {
            // v3: the client pings; the server waits pingInterval + pingTimeout for each ping.
            ProtocolVersion::V3 => session.pong_deadline = after(now, session.v3_timeout()),
            // v4: the server pings after pingInterval (`schedulePing`).
            ProtocolVersion::V4 => session.ping_due = after(now, session.ping_interval),
        }
        session
    }

    /// A client session about to connect over `transport`; it waits for the open packet, and
    /// takes its heartbeat settings from it. Messages sent before it opens are queued.
    pub fn client(transport: TransportKind, config: SessionConfig, _now: Instant) -> Session {
        Session::new(Role::Client, transport, &config)
    }

    fn new(role: Role, transport: TransportKind, config: &SessionConfig) -> Session {
        Session {
            role,
            version: config.version,
            upgrade_timeout: config.upgrade_timeout,
            allow_upgrades: config.allow_upgrades,
            state: State::Opening,
            sid: None,
            transport,
            polling_writable: true,
            write_buffer: VecDeque::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            upgrade: Upgrade::Idle,
            upgraded: false,
            ping_interval: Duration::ZERO,
            ping_timeout: Duration::ZERO,
            ping_due: None,
            pong_deadline: None,
            refreshed: false,
        }
    }

    // ----------------------------------------------------------------------------------------
    // Input
    // ----------------------------------------------------------------------------------------

    /// A packet arrived on `transport`.
    ///
    /// Packets from a transport the session no longer uses (the old polling transport after an
    /// upgrade) are ignored.
    pub fn handle_packet(&mut self, now: Instant, transport: TransportKind, packet: Packet) {
        if self.state == State::Closed {
            return;
        }
        if transport == self.transport {
            match self.role {
                Role::Server => self.server_packet(now, packet),
                Role::Client => self.client_packet(now, packet),
            }
        } else if self.upgrade_transport() == Some(transport) {
            match self.role {
                Role::Server => self.server_probe_packet(now, transport, packet),
                Role::Client => self.client_probe_packet(transport, packet),
            }
        }
    }

    /// A packet received on `transport` could not be decoded.
    ///
    /// Server: `"parse error"`. Client: `"transport error"` (engine.io-client turns the parser's
    /// `error` packet into a transport error). On a probe transport: the upgrade fails.
    pub fn handle_parse_error(&mut self, now: Instant, transport: TransportKind) {
        let _ = now;
        if self.state == State::Closed {
            return;
        }
        if transport == self.transport {
            if self.role == Role::Client {
                self.close_now(CloseReason::TransportError);
            } else if self.state == State::Open {
                // The server ignores packets (an `error` one included) once it is closing.
                self.close_now(CloseReason::ParseError);
            }
        } else {
            self.fail_upgrade(transport);
        }
    }

    /// `transport` failed: an I/O error, an aborted poll, overlapping polls (`"transport
    /// error"`). On a probe transport the upgrade fails instead.
    pub fn handle_transport_error(&mut self, now: Instant, transport: TransportKind) {
        let _ = now;
        self.transport_gone(transport, CloseReason::TransportError);
    }

    /// `transport` was closed by the peer or the network (`"transport close"`). On a probe
    /// transport the upgrade fails instead.
    pub fn handle_transport_closed(&mut self, now: Instant, transport: TransportKind) {
        let _ = now;
        self.transport_gone(transport, CloseReason::TransportClose);
    }

    /// `transport` can take a batch of packets: server, a GET arrived (not the handshake GET,
    /// see [`server`](Self::server)); client, the previous POST completed. Only meaningful for
    /// polling (a WebSocket is always writable).
    ///
    /// During an upgrade the server ends a pending GET that has nothing to carry with a `noop`
    /// (so that the client can pause polling), at most once per 100 ms as engine.io does: a
    /// GET that comes sooner waits for the timer.
    pub fn handle_writable(&mut self, now: Instant, transport: TransportKind) {
        if transport == TransportKind::Polling && transport == self.transport {
            self.polling_writable = true;
            self.flush();
            self.maybe_noop(now);
        }
    }

    /// The timer from [`poll_timeout`](Self::poll_timeout) fired (or any time: only what is due
    /// at `now` happens). Afterwards `poll_timeout` is `None` or later than `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        for _ in 0..MAX_TIMER_STEPS {
            if !self.timer_step(now) {
                return;
            }
        }
    }

    /// Handles one expired timer; false when nothing was due.
    fn timer_step(&mut self, now: Instant) -> bool {
        match self.state {
            State::Opening | State::Closed => return false,
            State::Closing { deadline } if is_due(deadline, now) => {
                // The final poll never came (`closeTimeout`).
                self.close_now(CloseReason::ForcedClose);
                return true;
            }
            State::Open | State::Closing { .. } => {}
        }
        if let Upgrade::Probing {
            transport,
            deadline,
            ..
        } = self.upgrade
            && is_due(deadline, now)
        {
            self.fail_upgrade(transport);
            return true;
        }
        if is_due(self.noop_deadline(), now) {
            self.maybe_noop(now);
            return true;
        }
        if is_due(self.pong_deadline, now) {
            self.close_now(CloseReason::PingTimeout);
            return true;
        }
        if is_due(self.ping_due, now) {
            self.ping_due = None;
            // Server v4 `schedulePing` callback, client v3 `setPing` callback.
            self.refreshed = false;
            self.queue(Packet::PING);
            self.pong_deadline = after(now, self.ping_timeout);
            return true;
        }
        false
    }

    // ----------------------------------------------------------------------------------------
    // Commands
    // ----------------------------------------------------------------------------------------

    /// Queues a message (`Packet::Message` or `Packet::Binary`; other packets are refused).
    ///
    /// Returns false when it was dropped: the session is closing or closed (as in JavaScript,
    /// `sendPacket` ignores a closing socket), or the packet is not a message. A client queues
    /// messages until the handshake completes.
    pub fn send(&mut self, packet: Packet) -> bool {
        if !matches!(packet, Packet::Message(_) | Packet::Binary(_)) {
            return false;
        }
        self.queue(packet)
    }

    /// Closes the session (`"forced close"`) after the queued messages are written.
    ///
    /// Polling: the queued messages and a `close` packet go out in the next batch (server: the
    /// pending or next GET; client: a POST), then [`Event::Closed`]. If no poll comes within
    /// 30 s the session closes anyway. WebSocket: the queued messages are written and the
    /// session closes at once; no `close` packet is sent (neither JavaScript side sends one).
    /// A client in the middle of an upgrade waits for [`finish_upgrade`](Self::finish_upgrade).
    pub fn close(&mut self, now: Instant) {
        match self.state {
            State::Closed | State::Closing { .. } => {}
            State::Opening => self.close_now(CloseReason::ForcedClose),
            State::Open => {
                self.state = State::Closing {
                    deadline: after(now, CLOSE_TIMEOUT),
                };
                self.flush();
            }
        }
    }

    /// Server: a WebSocket request arrived for this polling session. Returns false if the
    /// upgrade is refused (not a server, not open, not on polling, already upgrading or
    /// upgraded, upgrades disabled, or `transport` is not WebSocket): close that transport.
    ///
    /// The upgrade must complete within `upgrade_timeout`.
    #[must_use = "a refused upgrade transport must be closed"]
    pub fn begin_upgrade(&mut self, now: Instant, transport: TransportKind) -> bool {
        if self.role != Role::Server || !self.allow_upgrades || !self.can_upgrade(transport) {
            return false;
        }
        self.upgrade = Upgrade::Probing {
            transport,
            deadline: after(now, self.upgrade_timeout),
            noop_due: None,
        };
        true
    }

    /// Client: the probe transport (`WebSocket`) is connected; queues `2probe` on it. Returns
    /// false (and queues nothing) when the session cannot upgrade now (not a client, not open,
    /// not on polling, already upgrading or upgraded).
    ///
    /// Without a `3probe` within `upgrade_timeout` the upgrade fails (engine.io-client waits
    /// forever; the server gives up after its own upgrade timeout anyway).
    #[must_use = "a refused probe transport must be closed"]
    pub fn start_probe(&mut self, now: Instant, transport: TransportKind) -> bool {
        if self.role != Role::Client || !self.can_upgrade(transport) {
            return false;
        }
        self.out.push_back(Transmit {
            transport,
            packet: Packet::ping_probe(),
        });
        self.upgrade = Upgrade::Probing {
            transport,
            deadline: after(now, self.upgrade_timeout),
            noop_due: None,
        };
        true
    }

    /// Client: polling is paused after [`Event::ProbeSucceeded`]. Queues `5` on the new
    /// transport, switches to it ([`Event::Upgraded`]) and moves the queued packets there.
    /// Does nothing in any other state.
    pub fn finish_upgrade(&mut self, now: Instant) {
        let _ = now;
        let Upgrade::Paused { transport } = self.upgrade else {
            return;
        };
        if self.role != Role::Client || matches!(self.state, State::Opening | State::Closed) {
            return;
        }
        self.out.push_back(Transmit {
            transport,
            packet: Packet::Upgrade,
        });
        self.switch_to(transport);
        self.flush();
    }

    // ----------------------------------------------------------------------------------------
    // Output
    // ----------------------------------------------------------------------------------------

    /// The next packet to write, with its transport.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if self.out.is_empty() {
            self.flush();
        }
        let transmit = self.out.pop_front();
        if transmit.is_none() {
            // Drained: an idle session holds no queue memory.
            release(&mut self.out);
            release(&mut self.write_buffer);
        }
        transmit
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        if event.is_none() {
            release(&mut self.events);
        }
        event
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next (`None`: no timer needed).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let closing = match self.state {
            State::Opening | State::Closed => return None,
            State::Open => None,
            State::Closing { deadline } => deadline,
        };
        let upgrade = match self.upgrade {
            Upgrade::Probing { deadline, .. } => deadline,
            Upgrade::Idle | Upgrade::Paused { .. } => None,
        };
        [
            closing,
            upgrade,
            self.noop_deadline(),
            self.pong_deadline,
            self.ping_due,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ----------------------------------------------------------------------------------------
    // State
    // ----------------------------------------------------------------------------------------

    /// Server or client.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The transport the session runs on.
    pub fn transport(&self) -> TransportKind {
        self.transport
    }

    /// The session id (a client learns it from the open packet).
    pub fn sid(&self) -> Option<&Str> {
        self.sid.as_ref()
    }

    /// The protocol revision.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Whether the session is closed ([`Event::Closed`] was queued).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether an upgrade is in progress.
    pub fn is_upgrading(&self) -> bool {
        self.upgrade != Upgrade::Idle
    }

    // ----------------------------------------------------------------------------------------
    // Internals
    // ----------------------------------------------------------------------------------------

    fn v3_timeout(&self) -> Duration {
        self.ping_interval.saturating_add(self.ping_timeout)
    }

    fn upgrade_transport(&self) -> Option<TransportKind> {
        match self.upgrade {
            Upgrade::Idle => None,
            Upgrade::Probing { transport, .. } | Upgrade::Paused { transport } => Some(transport),
        }
    }

    fn can_upgrade(&self, transport: TransportKind) -> bool {
        self.state == State::Open
            && self.transport == TransportKind::Polling
            && transport == TransportKind::WebSocket
            && self.upgrade == Upgrade::Idle
            && !self.upgraded
    }

    /// JS `sendPacket` / `_sendPacket`: dropped once closing.
    fn queue(&mut self, packet: Packet) -> bool {
        let accepted = match self.state {
            State::Open => true,
            State::Opening => self.role == Role::Client,
            State::Closing { .. } | State::Closed => false,
        };
        if accepted {
            self.write_buffer.push_back(packet);
        }
        accepted
    }

    /// Whether the current transport can take packets now.
    fn writable(&self) -> bool {
        match self.transport {
            TransportKind::WebSocket => true,
            TransportKind::Polling => {
                self.polling_writable && !matches!(self.upgrade, Upgrade::Paused { .. })
            }
        }
    }

    /// Moves the write buffer to the current transport if it can take it; true if it did.
    ///
    /// The session hands packets out lazily (to batch them), but must behave as if it flushed
    /// eagerly like JS: every path that could drop or re-route the buffer calls this first.
    fn hand_out(&mut self) -> bool {
        if self.write_buffer.is_empty() || !self.writable() {
            return false;
        }
        let transport = self.transport;
        self.out.extend(
            self.write_buffer
                .drain(..)
                .map(|packet| Transmit { transport, packet }),
        );
        if transport == TransportKind::Polling {
            self.polling_writable = false;
        }
        true
    }

    /// JS `flush`: hands the write buffer out, ends a pending poll during an upgrade, and
    /// completes a graceful close.
    fn flush(&mut self) {
        let closing = match self.state {
            State::Open => false,
            State::Closing { .. } => true,
            State::Opening | State::Closed => return,
        };
        if !self.writable() {
            return;
        }
        let transport = self.transport;
        let polling = transport == TransportKind::Polling;
        self.hand_out();
        if closing {
            if polling {
                self.polling_writable = false;
                self.out.push_back(Transmit {
                    transport,
                    packet: Packet::Close,
                });
            }
            self.finish_close(CloseReason::ForcedClose);
        }
    }

    /// Server, during an upgrade: when a pending poll may next be ended with a `noop` (only
    /// while one is pending and has nothing else to carry).
    fn noop_deadline(&self) -> Option<Instant> {
        match self.upgrade {
            Upgrade::Probing { noop_due, .. }
                if self.role == Role::Server
                    && self.state == State::Open
                    && self.transport == TransportKind::Polling
                    && self.polling_writable =>
            {
                noop_due
            }
            _ => None,
        }
    }

    /// `_maybeUpgrade`'s `check`: ends the pending poll with a `noop` so that the client can
    /// pause polling, if one is pending and the last noop is at least 100 ms old.
    fn maybe_noop(&mut self, now: Instant) {
        if !is_due(self.noop_deadline(), now) {
            return;
        }
        if let Upgrade::Probing { noop_due, .. } = &mut self.upgrade {
            *noop_due = after(now, NOOP_INTERVAL);
        }
        self.polling_writable = false;
        self.out.push_back(Transmit {
            transport: TransportKind::Polling,
            packet: Packet::Noop,
        });
    }

    /// Closes at once (JS `onClose`): the write buffer is dropped.
    fn close_now(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        // What JS would already have written goes out; the rest is dropped.
        if self.state != State::Opening {
            self.hand_out();
        }
        self.write_buffer.clear();
        if self.transport == TransportKind::Polling && self.state != State::Opening {
            let send_close = match self.role {
                // `clearTransport` closes the polling transport: a pending GET gets `1`.
                Role::Server => self.polling_writable,
                // The client's polling `doClose` POSTs `1` while the transport is alive.
                Role::Client => !matches!(
                    reason,
                    CloseReason::TransportError | CloseReason::TransportClose
                ),
            };
            if send_close {
                self.polling_writable = false;
                self.out.push_back(Transmit {
                    transport: TransportKind::Polling,
                    packet: Packet::Close,
                });
            }
        }
        self.finish_close(reason);
    }

    fn finish_close(&mut self, reason: CloseReason) {
        self.state = State::Closed;
        self.upgrade = Upgrade::Idle;
        self.ping_due = None;
        self.pong_deadline = None;
        self.events.push_back(Event::Closed(reason));
    }

    fn transport_gone(&mut self, transport: TransportKind, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        if transport == self.transport {
            self.close_now(reason);
        } else {
            self.fail_upgrade(transport);
        }
    }

    fn fail_upgrade(&mut self, transport: TransportKind) {
        if self.upgrade_transport() == Some(transport) {
            self.upgrade = Upgrade::Idle;
            self.events.push_back(Event::UpgradeFailed(transport));
            // A client that was paused resumes; a closing one can finish on polling now.
            self.flush();
        }
    }

    fn switch_to(&mut self, transport: TransportKind) {
        self.transport = transport;
        self.upgrade = Upgrade::Idle;
        self.upgraded = true;
        self.events.push_back(Event::Upgraded(transport));
    }

    fn server_packet(&mut self, now: Instant, packet: Packet) {
        if self.state != State::Open {
            // `onPacket`: "packet received with closed socket".
            return;
        }
        let v4 = self.version == ProtocolVersion::V4;
        if v4
            && self.pong_deadline.is_some()
            && !self.refreshed
            && !matches!(packet, Packet::Pong(_))
        {
            // engine.io >= 6.6.10: traffic while a pong is awaited extends the timeout once.
            self.pong_deadline = after(now, self.ping_timeout);
            self.refreshed = true;
        }
        match packet {
            Packet::Ping(_) => {
                if v4 {
                    // "invalid heartbeat direction"
                    self.close_now(CloseReason::TransportError);
                    return;
                }
                if self.pong_deadline.is_some() {
                    self.pong_deadline = after(now, self.v3_timeout());
                }
                self.queue(Packet::PONG);
                self.events.push_back(Event::Ping);
            }
            Packet::Pong(_) => {
                if !v4 {
                    self.close_now(CloseReason::TransportError);
                    return;
                }
                self.pong_deadline = None;
                self.ping_due = after(now, self.ping_interval);
                self.events.push_back(Event::Pong);
            }
            Packet::Message(text) => self.events.push_back(Event::Message(text)),
            Packet::Binary(data) => self.events.push_back(Event::Binary(data)),
            Packet::Close => {
                self.hand_out();
                if self.transport == TransportKind::Polling && self.polling_writable {
                    // `Polling.onClose`: the pending GET gets a noop.
                    self.polling_writable = false;
                    self.out.push_back(Transmit {
                        transport: TransportKind::Polling,
                        packet: Packet::Noop,
                    });
                }
                // Over WebSocket the Node server ignores `1` (and times out later); closing at
                // once is allowed by the protocol and cleaner.
                self.close_now(CloseReason::TransportClose);
            }
            Packet::Open(_) | Packet::Upgrade | Packet::Noop => {}
        }
    }

    fn server_probe_packet(&mut self, now: Instant, transport: TransportKind, packet: Packet) {
        if !matches!(self.upgrade, Upgrade::Probing { .. }) {
            return;
        }
        match packet {
            Packet::Ping(ref data) if data == "probe" => {
                self.out.push_back(Transmit {
                    transport,
                    packet: Packet::pong_probe(),
                });
                if let Upgrade::Probing {
                    noop_due: noop_due @ None,
                    ..
                } = &mut self.upgrade
                {
                    *noop_due = Some(now);
                }
                self.maybe_noop(now);
            }
            Packet::Upgrade => {
                self.switch_to(transport);
                // JS `clearTransport` drops the ping timeout here (and, in v3, never re-arms it).
                // Re-arm it instead, so a pong or ping lost with the old transport cannot stop
                // the heartbeat for good.
                if self.pong_deadline.is_some() {
                    self.pong_deadline = match self.version {
                        ProtocolVersion::V3 => after(now, self.v3_timeout()),
                        ProtocolVersion::V4 => after(now, self.ping_timeout),
                    };
                }
                self.flush();
            }
            _ => self.fail_upgrade(transport),
        }
    }

    fn client_packet(&mut self, now: Instant, packet: Packet) {
        if self.state == State::Opening {
            match packet {
                Packet::Open(open) => self.client_open(now, open),
                Packet::Close => self.close_now(CloseReason::TransportClose),
                _ => {}
            }
            return;
        }
        let v4 = self.version == ProtocolVersion::V4;
        if !v4 {
            // engine.io-client 3 `onHeartbeat`: any packet keeps the session alive.
            self.pong_deadline = after(now, self.v3_timeout());
        }
        match packet {
            Packet::Ping(_) if v4 => {
                self.queue(Packet::PONG);
                self.events.push_back(Event::Ping);
                self.pong_deadline = after(now, self.v3_timeout());
            }
            Packet::Pong(_) if !v4 => {
                // `setPing`: the next ping comes pingInterval after the pong.
                self.ping_due = after(now, self.ping_interval);
                self.events.push_back(Event::Pong);
            }
            Packet::Message(text) => self.events.push_back(Event::Message(text)),
            Packet::Binary(data) => self.events.push_back(Event::Binary(data)),
            Packet::Close => self.close_now(CloseReason::TransportClose),
            Packet::Ping(_)
            | Packet::Pong(_)
            | Packet::Open(_)
            | Packet::Upgrade
            | Packet::Noop => {}
        }
    }

    fn client_open(&mut self, now: Instant, open: OpenPacket) {
        self.sid = Some(open.sid.clone());
        self.ping_interval = Duration::from_millis(open.ping_interval);
        self.ping_timeout = Duration::from_millis(open.ping_timeout);
        self.state = State::Open;
        self.events.push_back(Event::Opened(open));
        match self.version {
            // `_resetPingTimeout`: a ping must come within pingInterval + pingTimeout.
            ProtocolVersion::V4 => self.pong_deadline = after(now, self.v3_timeout()),
            // `setPing`: ping after pingInterval; the timeout is armed when the ping goes out.
            ProtocolVersion::V3 => self.ping_due = after(now, self.ping_interval),
        }
    }

    fn client_probe_packet(&mut self, transport: TransportKind, packet: Packet) {
        if let Upgrade::Probing { .. } = self.upgrade {
            if matches!(&packet, Packet::Pong(data) if data == "probe") {
                self.upgrade = Upgrade::Paused { transport };
                self.events.push_back(Event::ProbeSucceeded(transport));
            } else {
                // "probe error"
                self.fail_upgrade(transport);
            }
        }
    }
}

#[cfg(test)]
mod tests;

/// Frees the memory of an empty queue.
fn release<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > 0 {
        *queue = VecDeque::new();
    }
}
