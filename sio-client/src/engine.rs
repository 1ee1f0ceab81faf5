//! One Engine.IO connection: the [`Session`] state machine plus its transports.
//!
//! The engine lives inside the manager's task (one task per connection, no lock): the task
//! polls it for [`Io`] (the WebSocket, and the polling requests' tasks), feeds that and the
//! timer back in, and takes
//! [`EngineEvent`]s out. The session decides everything about the protocol (handshake,
//! heartbeat, probe, upgrade, close); the engine only carries out its transmits:
//!
//! - polling: one GET at a time (the long poll) while the session is on polling and not
//!   pausing for an upgrade; each batch of `Polling` transmits is one POST, and
//!   `handle_writable(Polling)` follows when the POST completes;
//! - WebSocket: one frame per transmit, written by the engine's own polling ([`WsConn`]);
//! - upgrade: after a polling handshake that offers `websocket`, a WebSocket is opened and
//!   probed; on [`Event::ProbeSucceeded`] no new GET starts, and once neither a GET nor a POST
//!   is in flight [`Session::finish_upgrade`] moves the session (and its queued packets) over.
//!
//! What the server sends is bounded ([`Engine::limit`]): a polling body's packets are taken
//! as they stream in and the GET is dropped at a packet over the limit; a WebSocket frame or
//! message over it closes the WebSocket; either is a transport error. A body or frame that
//! cannot be decoded (an empty body included) is one too: engine.io-client turns the parser's
//! `error` packet into `"server error"` and closes with `"transport error"`. Once the
//! handshake told the heartbeat, a long poll (and a POST) that has no complete answer within
//! pingInterval + pingTimeout + [`POLL_SLACK`] fails.

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sio_protocol::engine::split_batch;
use sio_protocol::engine::{
    CloseReason, Event, Frame, Packet, PayloadEncoder, PayloadFormat, ProtocolVersion, Session,
    SessionConfig, TransportKind,
};
use tokio::task::JoinSet;

use crate::error::Error;
use crate::options::Options;
use crate::transport::endpoint::Endpoint;
use crate::transport::io::{Io, PollError};
use crate::transport::polling::{self, PollGet};
use crate::transport::ws::WsConn;

/// How long the last POST (carrying `close`) may take.
const FINAL_POST_TIMEOUT: Duration = Duration::from_secs(10);

/// How much longer than pingInterval + pingTimeout a long poll or a POST may take before it
/// is given up. A stalled poll brings no ping, so the heartbeat closes the connection first;
/// this deadline ends a poll whose body keeps streaming (pings included) without end.
pub(crate) const POLL_SLACK: Duration = Duration::from_secs(2);

/// What the engine tells the manager.
#[derive(Debug)]
pub(crate) enum EngineEvent {
    /// The handshake completed.
    Open,
    /// A Socket.IO message (text, or a binary attachment).
    Message(Frame),
    /// A heartbeat ping arrived (the pong is already on its way).
    Ping,
    /// The session moved to this transport (the upgrade finished).
    Upgraded(TransportKind),
    /// The connection is over. `error` is set when a transport failed (for `connect_error`).
    Closed {
        reason: CloseReason,
        error: Option<Error>,
    },
}

/// An Engine.IO client connection.
#[derive(Debug)]
pub(crate) struct Engine {
    session: Session,
    endpoint: Arc<Endpoint>,
    upgrade: bool,
    /// The long-polling transport's requests (boxed: made with the first request, dropped
    /// once the connection is upgraded; a WebSocket-only connection never has them).
    polling: Option<Box<Polling>>,
    /// The server's `maxPayload`: no POST body is larger, unless one packet is.
    max_payload: Option<usize>,
    /// `Options::max_payload`: the bound of what the server sends, if the user set one.
    limit_override: Option<usize>,
    /// How long a long poll or a POST may take (known after the handshake).
    request_timeout: Option<Duration>,
    /// `3probe` arrived: start no new GET, finish the upgrade once polling is idle.
    pausing: bool,
    /// The WebSocket: the main transport, or the probe during an upgrade.
    ws: Option<WsConn>,
    /// The WebSocket is open and taken by the session (main transport or accepted probe).
    ws_ready: bool,
    /// The last transport error, reported with the close.
    error: Option<Error>,
    events: VecDeque<EngineEvent>,
    closed: bool,
}

/// The requests of the long-polling transport.
#[derive(Debug, Default)]
struct Polling {
    /// The POSTs' tasks (made on first use), aborted when the engine is dropped.
    tasks: Option<JoinSet<Io>>,
    /// The GET in flight.
    get: Option<PollGet>,
    post_in_flight: bool,
    /// The rest of a batch too large for one POST, sent one body after the other.
    queued_posts: VecDeque<Bytes>,
}

impl Engine {
    /// Starts a connection on `transport` (the handshake request goes out at once).
    /// `max_payload` is `Options::max_payload`.
    pub(crate) fn connect(
        endpoint: Arc<Endpoint>,
        transport: TransportKind,
        upgrade: bool,
        max_payload: Option<usize>,
        now: Instant,
    ) -> Engine {
        let mut engine = Engine {
            session: Session::client(transport, SessionConfig::default(), now),
            endpoint,
            upgrade,
            polling: None,
            max_payload: None,
            limit_override: max_payload,
            request_timeout: None,
            pausing: false,
            ws: None,
            ws_ready: false,
            error: None,
            events: VecDeque::new(),
            closed: false,
        };
        match transport {
            TransportKind::Polling => engine.start_get(now),
            TransportKind::WebSocket => engine.start_ws(),
        }
        engine
    }

    /// Writes the WebSocket's queued frames, and returns the next I/O report for
    /// [`handle_io`](Self::handle_io): the WebSocket's first, then the HTTP requests'.
    pub(crate) fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<Io> {
        if let Some(ws) = self.ws.as_mut()
            && let Poll::Ready(io) = ws.poll(cx)
        {
            return Poll::Ready(io);
        }
        let Some(polling) = self.polling.as_mut() else {
            return Poll::Pending;
        };
        if let Some(get) = polling.get.as_mut()
            && let Poll::Ready(io) = get.poll(cx)
        {
            return Poll::Ready(io);
        }
        if let Some(tasks) = polling.tasks.as_mut() {
            // A task that failed (aborted, or a panic) reports nothing.
            while let Poll::Ready(Some(joined)) = tasks.poll_join_next(cx) {
                if let Ok(io) = joined {
                    return Poll::Ready(io);
                }
            }
        }
        Poll::Pending
    }

    /// Writes the WebSocket's queued frames now, without waiting for the next
    /// [`poll_io`](Self::poll_io) (which comes after the commands queued before it).
    pub(crate) fn poll_write(&mut self, cx: &mut Context<'_>) {
        if let Some(ws) = self.ws.as_mut() {
            ws.poll_write(cx);
        }
    }

    /// When to call [`handle_timeout`](Self::handle_timeout).
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let ws = self.ws.as_ref().and_then(|ws| ws.poll_timeout());
        let get = self
            .polling
            .as_ref()
            .and_then(|p| p.get.as_ref()?.deadline());
        [self.session.poll_timeout(), ws, get]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next event for the manager.
    pub(crate) fn poll_event(&mut self) -> Option<EngineEvent> {
        self.events.pop_front()
    }

    /// Frees the event queue if it is empty: it keeps its capacity while a burst is drained,
    /// and the manager's task calls this when it goes idle.
    pub(crate) fn release_memory(&mut self) {
        if self.events.is_empty() && self.events.capacity() > 0 {
            // An idle connection keeps no queue memory.
            self.events = VecDeque::new();
        }
    }

    /// Whether the session is over (the engine may be dropped once its events are taken).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether the transport can take a packet right now (engine.io-client's
    /// `transport.writable`): open, and for long-polling no POST in flight and no upgrade
    /// pausing it.
    pub(crate) fn is_writable(&self) -> bool {
        if self.closed || self.session.sid().is_none() {
            return false;
        }
        match self.session.transport() {
            TransportKind::Polling => {
                !self.pausing
                    && self
                        .polling
                        .as_ref()
                        .is_none_or(|p| !p.post_in_flight && p.queued_posts.is_empty())
            }
            TransportKind::WebSocket => self.ws_ready,
        }
    }

    /// The most the server may send in one packet (a record of a polling body, or a
    /// WebSocket message):
    /// `Options::max_payload` if set, else the server's `maxPayload` (at most
    /// [`Options::MAX_PAYLOAD_CEILING`]), else [`Options::DEFAULT_MAX_PAYLOAD`].
    pub(crate) fn limit(&self) -> usize {
        self.limit_override.unwrap_or_else(|| {
            self.max_payload
                .map_or(Options::DEFAULT_MAX_PAYLOAD, |max| {
                    max.min(Options::MAX_PAYLOAD_CEILING)
                })
        })
    }

    /// Sends one Socket.IO message.
    pub(crate) fn send(&mut self, now: Instant, frame: Frame) {
        let packet = match frame {
            Frame::Text(text) => Packet::Message(text),
            Frame::Binary(data) => Packet::Binary(data),
        };
        let _ = self.session.send(packet);
        self.drive(now);
    }

    /// Closes the connection after the queued messages (`"forced close"`).
    pub(crate) fn close(&mut self, now: Instant) {
        self.session.close(now);
        self.drive(now);
    }

    /// The timer fired.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if let Some(error) = self.ws.as_mut().and_then(|ws| ws.handle_timeout(now)) {
            self.transport_error(now, TransportKind::WebSocket, error);
        }
        if let Some(get) = self.polling.as_mut().and_then(|p| {
            p.get
                .take_if(|get| get.deadline().is_some_and(|at| at <= now))
        }) {
            let error = Error::transport(
                "xhr poll error",
                polling::no_response_within(self.request_timeout.unwrap_or_default()),
            );
            drop(get);
            self.transport_error(now, TransportKind::Polling, error);
        }
        self.session.handle_timeout(now);
        self.drive(now);
    }

    /// An I/O task reported.
    pub(crate) fn handle_io(&mut self, now: Instant, io: Io) {
        match io {
            Io::PollPacket(packet) => {
                self.session
                    .handle_packet(now, TransportKind::Polling, packet);
            }
            Io::PollEnd(end) => {
                if let Some(polling) = self.polling.as_mut() {
                    polling.get = None;
                }
                match end {
                    Ok(()) => {}
                    // An empty body too (engine.io-parser decodes it as the `error` packet).
                    Err(PollError::Decode(e)) => {
                        self.parse_error(now, TransportKind::Polling, e);
                    }
                    Err(PollError::Transport(e)) => {
                        self.transport_error(now, TransportKind::Polling, e);
                    }
                }
            }
            Io::Post(Ok(())) => {
                let polling = self.polling_mut();
                polling.post_in_flight = false;
                match polling.queued_posts.pop_front() {
                    // The batch goes on: the session learns it is writable after the last body.
                    Some(body) => self.start_post(body),
                    None => self.session.handle_writable(now, TransportKind::Polling),
                }
            }
            Io::Post(Err(e)) => {
                self.polling_mut().post_in_flight = false;
                self.transport_error(now, TransportKind::Polling, e);
            }
            Io::WsOpen(Ok(())) => {
                // The main transport, or a probe the session accepts.
                if self.session.transport() == TransportKind::WebSocket
                    || self.session.start_probe(now, TransportKind::WebSocket)
                {
                    self.ws_ready = true;
                } else {
                    // Dropped: that WebSocket closes.
                    self.ws = None;
                }
            }
            Io::WsOpen(Err(e)) => self.transport_error(now, TransportKind::WebSocket, e),
            Io::WsFrame(frame) => match Packet::from_frame(frame, ProtocolVersion::V4) {
                Ok(packet) => self
                    .session
                    .handle_packet(now, TransportKind::WebSocket, packet),
                Err(e) => self.parse_error(now, TransportKind::WebSocket, e),
            },
            Io::WsClosed(None) => {
                self.session
                    .handle_transport_closed(now, TransportKind::WebSocket);
            }
            Io::WsClosed(Some(e)) => self.transport_error(now, TransportKind::WebSocket, e),
        }
        self.drive(now);
    }

    /// What arrived on `transport` cannot be decoded: engine.io-client's `error` packet, which
    /// closes the connection with `"transport error"` and reports `"server error"` (a probe
    /// transport fails the upgrade instead).
    fn parse_error(&mut self, now: Instant, transport: TransportKind, error: sio_protocol::Error) {
        tracing::debug!("undecodable {transport} payload: {error}");
        if transport == self.session.transport() {
            self.error = Some(Error::parse(error));
        }
        self.session.handle_parse_error(now, transport);
    }

    fn transport_error(&mut self, now: Instant, transport: TransportKind, error: Error) {
        tracing::debug!("{transport} error: {error:?}");
        if transport == self.session.transport() {
            self.error = Some(error);
        }
        if transport == TransportKind::Polling
            && self.session.transport() == TransportKind::Polling
            && !self.session.is_closed()
            && let Some(sid) = self.session.sid()
        {
            // engine.io-client's polling transport, closed on an error, still posts a `close`
            // packet (best effort): the server ends the session now ("transport close"), not
            // at its ping timeout, so that a reconnection can recover it (connection state
            // recovery needs the old socket gone). A cut long poll is often invisible to the
            // server: it learns of a closed connection only when it answers.
            let body = PayloadEncoder::encode(&[Packet::Close], PayloadFormat::V4);
            let url = self
                .endpoint
                .url(TransportKind::Polling, Some(sid.as_ref()));
            let endpoint = Arc::clone(&self.endpoint);
            tokio::spawn(async move {
                let post = polling::post_final(&endpoint, url, body);
                let _ = tokio::time::timeout(FINAL_POST_TIMEOUT, post).await;
            });
        }
        self.session.handle_transport_error(now, transport);
    }

    /// Carries out what the session asks for, until it asks for nothing more.
    fn drive(&mut self, now: Instant) {
        loop {
            self.flush_transmits();
            let mut again = false;
            while let Some(event) = self.session.poll_event() {
                again |= self.handle_event(event);
            }
            // Polling is paused once no request is in flight.
            if self.pausing
                && self
                    .polling
                    .as_ref()
                    .is_none_or(|p| p.get.is_none() && !p.post_in_flight)
            {
                self.pausing = false;
                self.session.finish_upgrade(now);
                again = true;
            }
            if !again {
                break;
            }
        }
        if !self.closed
            && !self.pausing
            && self.polling.as_ref().is_none_or(|p| p.get.is_none())
            && self.session.transport() == TransportKind::Polling
            && self.session.sid().is_some()
        {
            self.start_get(now);
        }
    }

    /// Writes the transmits: polling ones as one POST, WebSocket ones as frames.
    fn flush_transmits(&mut self) {
        let mut batch = Vec::new();
        while let Some(transmit) = self.session.poll_transmit() {
            match transmit.transport {
                TransportKind::Polling => batch.push(transmit.packet),
                TransportKind::WebSocket => {
                    if let Some(ws) = self.ws.as_mut().filter(|_| self.ws_ready) {
                        ws.send(transmit.packet.to_frame(ProtocolVersion::V4));
                    }
                }
            }
        }
        if batch.is_empty() {
            return;
        }
        if self.session.is_closed() {
            let body = PayloadEncoder::encode(&batch, PayloadFormat::V4);
            let sid = self.session.sid().map(|s| s.to_string());
            let url = self.endpoint.url(TransportKind::Polling, sid.as_deref());
            let endpoint = Arc::clone(&self.endpoint);
            // The final `close`: nobody waits for it, and it must outlive the engine (bounded:
            // after a ping timeout the server may be gone).
            tokio::spawn(async move {
                let post = polling::post_final(&endpoint, url, body);
                let _ = tokio::time::timeout(FINAL_POST_TIMEOUT, post).await;
            });
        } else {
            let mut bodies = split_batch(&batch, self.max_payload).into_iter();
            if let Some(first) = bodies.next() {
                self.polling_mut().queued_posts.extend(bodies);
                self.start_post(first);
            }
        }
    }

    fn start_post(&mut self, body: Bytes) {
        let sid = self.session.sid().map(|s| s.to_string());
        let url = self.endpoint.url(TransportKind::Polling, sid.as_deref());
        let endpoint = Arc::clone(&self.endpoint);
        let task = polling::post(endpoint, url, body, self.request_timeout);
        let polling = self.polling_mut();
        polling.post_in_flight = true;
        polling.tasks.get_or_insert_with(JoinSet::new).spawn(task);
    }

    fn polling_mut(&mut self) -> &mut Polling {
        self.polling.get_or_insert_default()
    }

    /// Handles one session event; true if the session may have more to do.
    fn handle_event(&mut self, event: Event) -> bool {
        match event {
            Event::Opened(open) => {
                self.max_payload = open
                    .max_payload
                    .map(|max| usize::try_from(max).unwrap_or(usize::MAX));
                let heartbeat = Duration::from_millis(open.ping_interval)
                    .saturating_add(Duration::from_millis(open.ping_timeout));
                self.request_timeout = Some(heartbeat.saturating_add(POLL_SLACK));
                let limit = self.limit();
                if let Some(ws) = self.ws.as_mut() {
                    // A WebSocket-only connection learns the bound of its messages now.
                    ws.set_limit(limit);
                }
                self.events.push_back(EngineEvent::Open);
                if self.upgrade
                    && self.session.transport() == TransportKind::Polling
                    && open.upgrades.iter().any(|u| u == "websocket")
                {
                    self.start_ws();
                }
            }
            Event::Message(text) => self
                .events
                .push_back(EngineEvent::Message(Frame::Text(text))),
            Event::Binary(data) => self
                .events
                .push_back(EngineEvent::Message(Frame::Binary(data))),
            Event::ProbeSucceeded(_) => {
                self.pausing = true;
                return true;
            }
            Event::Upgraded(transport) => {
                tracing::debug!("upgraded to {transport}");
                // Polling is idle (the upgrade waited for it): its memory goes.
                self.polling = None;
                self.events.push_back(EngineEvent::Upgraded(transport));
            }
            Event::UpgradeFailed(transport) => {
                tracing::debug!("upgrade to {transport} failed");
                self.pausing = false;
                self.ws = None;
                self.ws_ready = false;
                return true;
            }
            Event::Closed(reason) => {
                self.closed = true;
                self.pausing = false;
                // Flush the last transmits (a `close` POST) before the transports go.
                self.flush_transmits();
                self.ws = None;
                self.ws_ready = false;
                self.polling = None;
                self.events.push_back(EngineEvent::Closed {
                    reason,
                    error: self.error.take(),
                });
            }
            Event::Ping => self.events.push_back(EngineEvent::Ping),
            Event::Pong => {}
            _ => {}
        }
        false
    }

    /// Starts the next GET: the handshake (bounded by the manager's `timeout`), or a long
    /// poll (bounded by the heartbeat's times).
    fn start_get(&mut self, now: Instant) {
        let sid = self.session.sid().map(|s| s.to_string());
        let url = self.endpoint.url(TransportKind::Polling, sid.as_deref());
        let deadline = self.request_timeout.and_then(|t| now.checked_add(t));
        let get = PollGet::start(&self.endpoint, url, self.limit(), deadline);
        self.polling_mut().get = Some(get);
    }

    fn start_ws(&mut self) {
        let sid = self.session.sid().map(|s| s.to_string());
        let url = self.endpoint.url(TransportKind::WebSocket, sid.as_deref());
        self.ws_ready = false;
        self.ws = Some(WsConn::connect(&self.endpoint, &url, self.limit()));
    }
}
