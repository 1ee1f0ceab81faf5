//! The harness of `socket_session_pair.rs`: the server runtime's session store, the pair of
//! sessions in virtual time, and a server session alone.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use sio_protocol::engine::Frame;
use sio_protocol::socket::{
    AckFailure, Args, ClientConfig, ClientDisconnectReason, ClientEvent, ClientSession,
    ConnectRequest, Decoder, DecoderConfig, Emit, Encoder, Packet, RecoveryRequest, ServerConfig,
    ServerDisconnectReason, ServerEvent, ServerSession,
};
use sio_protocol::{Str, Value};

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(crate) fn json(v: serde_json::Value) -> Value {
    v.into()
}

// ------------------------------------------------------------------------------------------
// The server runtime's session store
// ------------------------------------------------------------------------------------------

/// A model of socket.io's `SessionAwareAdapter`, with the bounds the issue asks for: sessions
/// expire after `max_duration`, each pid is usable once, the packet log keeps the last
/// `max_log` packets (older offsets are "too old"), and a disconnected session that would
/// need more than `max_per_session` stored packets is dropped (not recoverable).
pub(crate) struct Store {
    pub(crate) max_duration: Duration,
    pub(crate) max_log: usize,
    pub(crate) max_per_session: usize,
    pub(crate) next_offset: u64,
    pub(crate) sessions: HashMap<String, Saved>,
    pub(crate) log: VecDeque<Logged>,
}

pub(crate) struct Saved {
    pub(crate) sid: Str,
    pub(crate) nsp: Str,
    pub(crate) disconnected_at: Instant,
    pub(crate) stored: usize,
}

pub(crate) struct Logged {
    pub(crate) offset: Str,
    pub(crate) nsp: Str,
    pub(crate) sid: Str,
    pub(crate) name: String,
    /// With the offset as last argument.
    pub(crate) args: Vec<Value>,
}

impl Store {
    pub(crate) fn new() -> Store {
        Store {
            max_duration: Duration::from_secs(120),
            max_log: 1000,
            max_per_session: 100,
            next_offset: 0,
            sessions: HashMap::new(),
            log: VecDeque::new(),
        }
    }

    /// Stores an event for socket `sid` and returns its arguments with the offset appended.
    pub(crate) fn log(
        &mut self,
        nsp: &str,
        sid: &Str,
        name: &str,
        mut args: Vec<Value>,
    ) -> Vec<Value> {
        self.next_offset += 1;
        let offset = Str::from(format!("off-{}", self.next_offset));
        args.push(Value::from(offset.as_str()));
        self.log.push_back(Logged {
            offset,
            nsp: Str::from(nsp.to_owned()),
            sid: sid.clone(),
            name: name.to_owned(),
            args: args.clone(),
        });
        while self.log.len() > self.max_log {
            self.log.pop_front();
        }
        for saved in self.sessions.values_mut() {
            if saved.sid == *sid && saved.nsp == nsp {
                saved.stored += 1;
            }
        }
        let max = self.max_per_session;
        self.sessions.retain(|_, s| s.stored <= max);
        args
    }

    pub(crate) fn persist(&mut self, pid: &Str, sid: &Str, nsp: &Str, now: Instant) {
        self.sessions.insert(
            pid.to_string(),
            Saved {
                sid: sid.clone(),
                nsp: nsp.clone(),
                disconnected_at: now,
                stored: 0,
            },
        );
    }

    /// `restoreSession`: the session and the packets it missed, or nothing. A pid is
    /// forgotten at its first use, whatever the outcome.
    pub(crate) fn restore(
        &mut self,
        now: Instant,
        nsp: &str,
        request: &RecoveryRequest,
    ) -> Option<(Str, Vec<Packet>)> {
        let saved = self.sessions.remove(request.pid.as_str())?;
        if saved.nsp != nsp || now > saved.disconnected_at + self.max_duration {
            return None;
        }
        let index = self.log.iter().position(|l| l.offset == request.offset)?;
        let missed = self
            .log
            .iter()
            .skip(index + 1)
            .filter(|l| l.sid == saved.sid && l.nsp == nsp)
            .map(|l| {
                Packet::event(
                    l.nsp.clone(),
                    l.name.clone(),
                    Args::from_values(l.args.clone()),
                    None,
                )
            })
            .collect();
        Some((saved.sid, missed))
    }
}

// ------------------------------------------------------------------------------------------
// The pair
// ------------------------------------------------------------------------------------------

/// The server runtime of one Engine.IO connection.
pub(crate) struct ServerSide {
    pub(crate) session: ServerSession<u64>,
    pub(crate) decoder: Decoder,
    /// CONNECTs with the "middlewares", answered at the instant given.
    pub(crate) pending: Vec<(Instant, ConnectRequest)>,
}

pub(crate) struct Pair {
    pub(crate) start: Instant,
    pub(crate) now: Instant,
    pub(crate) client: ClientSession<u64>,
    pub(crate) client_decoder: Decoder,
    pub(crate) encoder: Encoder,
    pub(crate) server: Option<ServerSide>,
    pub(crate) server_config: ServerConfig,
    pub(crate) store: Store,
    /// The Engine.IO handshake completes this long after `OpenEngine`...
    pub(crate) handshake_latency: Duration,
    /// ...unless the server is down (the attempt fails) or hangs (it never answers).
    pub(crate) server_down: bool,
    pub(crate) server_hangs: bool,
    /// When the handshake in progress completes.
    pub(crate) opening: Option<Instant>,
    pub(crate) engines: u32,
    /// How long the "middlewares" take to answer a CONNECT.
    pub(crate) middleware_latency: Duration,
    pub(crate) refused: HashMap<String, (String, Option<Value>)>,
    pub(crate) unknown: Vec<String>,
    pub(crate) auth: HashMap<String, Value>,
    /// The server does not answer the first n receptions of an event named `flaky`.
    pub(crate) flaky_drops: usize,
    /// The client runtime answers the server's ack requests.
    pub(crate) client_answers: bool,
    pub(crate) next_sid: u64,
    pub(crate) next_pid: u64,
    pub(crate) next_ack: u64,
    pub(crate) next_emit: u64,
    /// The sid of the last socket the server connected, per namespace.
    pub(crate) current_sid: HashMap<String, Str>,
    /// Every text frame, `> ` client to server, `< ` server to client.
    pub(crate) wire: Vec<String>,
    pub(crate) client_events: Vec<(Duration, ClientEvent<u64>)>,
    pub(crate) server_events: Vec<(Duration, ServerEvent<u64>)>,
    /// What the server's handlers received: (nsp, sid, event, args).
    pub(crate) server_rx: Vec<(String, String, String, Vec<Value>)>,
    pub(crate) connect_requests: Vec<ConnectRequest>,
}

impl Pair {
    pub(crate) fn new(server_config: ServerConfig, client_config: ClientConfig) -> Pair {
        let now = Instant::now();
        Pair {
            start: now,
            now,
            client: ClientSession::new(client_config, now),
            client_decoder: Decoder::new(DecoderConfig::default()),
            encoder: Encoder::default(),
            server: None,
            server_config,
            store: Store::new(),
            handshake_latency: Duration::ZERO,
            server_down: false,
            server_hangs: false,
            opening: None,
            engines: 0,
            middleware_latency: Duration::ZERO,
            refused: HashMap::new(),
            unknown: Vec::new(),
            auth: HashMap::new(),
            flaky_drops: 0,
            client_answers: true,
            next_sid: 0,
            next_pid: 0,
            next_ack: 0,
            next_emit: 0,
            current_sid: HashMap::new(),
            wire: Vec::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
            server_rx: Vec::new(),
            connect_requests: Vec::new(),
        }
    }

    pub(crate) fn recovery() -> Pair {
        Pair::new(
            ServerConfig::default().recovery(true),
            ClientConfig::default().randomization_factor(0.0),
        )
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    pub(crate) fn connect(&mut self, nsp: &str) {
        self.client.connect(self.now, nsp);
        self.run();
    }

    /// A client emit, numbered (the number is the ack's value).
    pub(crate) fn emit(
        &mut self,
        nsp: &str,
        name: &str,
        ack: bool,
        timeout: Option<Duration>,
    ) -> u64 {
        self.next_emit += 1;
        let n = self.next_emit;
        let mut emit = Emit::new(name.to_owned(), Args::new(&(n,)).unwrap());
        if ack {
            emit = emit.with_ack(n);
        }
        if let Some(t) = timeout {
            emit = emit.timeout(t);
        }
        self.client.emit(self.now, nsp, emit, true);
        self.run();
        n
    }

    /// A server emit to socket `sid` of `nsp` (connected or not: stored for recovery when on).
    pub(crate) fn server_emit_to(&mut self, nsp: &str, sid: &Str, name: &str, args: Vec<Value>) {
        let args = if self.server_config.recovery {
            self.store.log(nsp, sid, name, args)
        } else {
            args
        };
        if let Some(s) = &mut self.server
            && s.session.sid(nsp) == Some(sid)
        {
            let packet = Packet::event(
                nsp.to_owned(),
                name.to_owned(),
                Args::from_values(args),
                None,
            );
            s.session.send(packet).unwrap();
        }
        self.run();
    }

    /// A server emit to the current socket of `nsp`.
    pub(crate) fn server_emit(&mut self, nsp: &str, name: &str, args: Vec<Value>) {
        let sid = self.current_sid[nsp].clone();
        self.server_emit_to(nsp, &sid, name, args);
    }

    /// `socket.timeout(t).emitWithAck(name, n)` on the server; returns the ack id.
    pub(crate) fn server_emit_with_ack(&mut self, nsp: &str, name: &str, timeout: Duration) -> u64 {
        let id = self.next_ack;
        self.next_ack += 1;
        let s = self.server.as_mut().expect("a connection");
        let packet = Packet::event(
            nsp.to_owned(),
            name.to_owned(),
            Args::new(&(id,)).unwrap(),
            Some(id),
        );
        s.session
            .send_with_ack(packet, self.now.checked_add(timeout), id)
            .unwrap();
        self.run();
        id
    }

    pub(crate) fn cut(&mut self) {
        let now = self.now;
        if let Some(s) = &mut self.server {
            s.session
                .handle_close(now, ServerDisconnectReason::TransportClose);
        }
        self.client
            .handle_close(now, ClientDisconnectReason::TransportClose);
        self.run();
    }

    pub(crate) fn encode(&self, packet: &Packet) -> Vec<Frame> {
        self.encoder
            .encode(packet)
            .expect("encodable")
            .into_frames()
            .collect()
    }

    /// One round of deliveries and reactions; true if anything moved.
    pub(crate) fn round(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;

        while let Some(packet) = self.client.poll_transmit() {
            moved = true;
            let frames = self.encode(&packet);
            let s = self
                .server
                .as_mut()
                .expect("the client transmits only on an open connection");
            for frame in frames {
                if let Frame::Text(t) = &frame {
                    self.wire.push(format!("> {t}"));
                }
                match s.decoder.decode(frame) {
                    Ok(Some(packet)) => s.session.handle_packet(now, packet),
                    Ok(None) => {}
                    Err(e) => panic!("the server cannot decode what the client sent: {e}"),
                }
            }
        }
        self.drain_server_transmits();

        while let Some(event) = self.client.poll_event() {
            moved = true;
            match &event {
                ClientEvent::OpenEngine => {
                    assert!(self.server.is_none() && self.opening.is_none());
                    if !self.server_hangs {
                        self.opening = Some(now + self.handshake_latency);
                    }
                }
                ClientEvent::CloseEngine => {
                    self.opening = None;
                    if let Some(s) = &mut self.server {
                        s.session
                            .handle_close(now, ServerDisconnectReason::TransportClose);
                    }
                }
                ClientEvent::AuthNeeded { nsp } => {
                    let auth = self.auth.get(nsp.as_str()).cloned();
                    assert!(self.client.send_connect(now, nsp, auth));
                }
                ClientEvent::Event {
                    nsp,
                    args,
                    id: Some(id),
                    ..
                } if self.client_answers => {
                    assert!(self.client.ack(nsp, *id, args.clone()));
                }
                _ => {}
            }
            self.client_events.push((self.elapsed(), event));
        }

        while let Some(event) = self.server.as_mut().and_then(|s| s.session.poll_event()) {
            moved = true;
            match &event {
                ServerEvent::ConnectRequest(request) => {
                    self.connect_requests.push(request.clone());
                    let at = now + self.middleware_latency;
                    self.server
                        .as_mut()
                        .unwrap()
                        .pending
                        .push((at, request.clone()));
                }
                ServerEvent::Event {
                    nsp,
                    sid,
                    name,
                    args,
                    id,
                } => {
                    let values = args.to_values().unwrap();
                    let flaky = name.as_str() == "flaky" && {
                        let seen = self.server_rx.iter().filter(|r| r.2 == "flaky").count();
                        seen < self.flaky_drops
                    };
                    self.server_rx.push((
                        nsp.to_string(),
                        sid.to_string(),
                        name.as_str().to_owned(),
                        values,
                    ));
                    if let Some(id) = id
                        && !name.as_str().starts_with("noack")
                        && !flaky
                    {
                        let s = self.server.as_mut().unwrap();
                        s.session
                            .send(Packet::ack(nsp.clone(), args.clone(), *id))
                            .unwrap();
                    }
                }
                ServerEvent::Disconnected {
                    nsp,
                    sid,
                    persist: Some(pid),
                    ..
                } => self.store.persist(pid, sid, nsp, now),
                ServerEvent::Closed(_) => {
                    self.drain_server_transmits();
                    self.server = None;
                    self.client
                        .handle_close(now, ClientDisconnectReason::TransportClose);
                }
                _ => {}
            }
            self.server_events.push((self.elapsed(), event));
        }

        moved |= self.due_now();
        moved
    }

    pub(crate) fn drain_server_transmits(&mut self) {
        let now = self.now;
        while let Some(packet) = self.server.as_mut().and_then(|s| s.session.poll_transmit()) {
            for frame in self.encode(&packet) {
                if let Frame::Text(t) = &frame {
                    self.wire.push(format!("< {t}"));
                }
                match self.client_decoder.decode(frame) {
                    Ok(Some(packet)) => self.client.handle_packet(now, packet),
                    Ok(None) => {}
                    Err(e) => panic!("the client cannot decode what the server sent: {e}"),
                }
            }
        }
    }

    /// The runtimes' own timers that are due: the handshake, the middlewares.
    pub(crate) fn due_now(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        if self.opening.is_some_and(|at| at <= now) {
            moved = true;
            self.opening = None;
            if self.server_down {
                self.client.handle_open_failed(now, "xhr poll error");
            } else {
                self.engines += 1;
                let sid = Str::from(format!("engine-{}", self.engines));
                let version = self.server_config.version;
                let decoder = Decoder::new(DecoderConfig::default().with_protocol(version));
                self.server = Some(ServerSide {
                    session: ServerSession::new(sid, self.server_config.clone(), now),
                    decoder,
                    pending: Vec::new(),
                });
                self.client.handle_open(now);
            }
        }
        let due: Vec<ConnectRequest> = match &mut self.server {
            Some(s) => {
                let (due, later) = s.pending.drain(..).partition(|(at, _)| *at <= now);
                s.pending = later;
                due.into_iter().map(|(_, r)| r).collect()
            }
            None => Vec::new(),
        };
        for request in due {
            moved = true;
            self.answer(request);
        }
        moved
    }

    /// The server runtime's answer to a CONNECT.
    pub(crate) fn answer(&mut self, request: ConnectRequest) {
        let now = self.now;
        let Some(s) = &mut self.server else { return };
        let nsp = request.nsp.as_str();
        if self.unknown.iter().any(|u| u == nsp) {
            s.session.refuse_unknown_namespace(nsp).unwrap();
            return;
        }
        if let Some((message, data)) = self.refused.get(nsp) {
            s.session.refuse(nsp, message, data.clone()).unwrap();
            return;
        }
        if let Some(restored) = request
            .recovery
            .as_ref()
            .and_then(|r| self.store.restore(now, nsp, r))
        {
            let (sid, missed) = restored;
            s.session
                .accept_recovered(nsp, sid.clone(), missed)
                .unwrap();
            self.current_sid.insert(nsp.to_owned(), sid);
            return;
        }
        let sid = request.legacy_id.clone().unwrap_or_else(|| {
            self.next_sid += 1;
            Str::from(format!("sid-{}", self.next_sid))
        });
        let pid = self.server_config.recovery.then(|| {
            self.next_pid += 1;
            Str::from(format!("pid-{:020}", self.next_pid))
        });
        s.session.accept(nsp, sid.clone(), pid).unwrap();
        self.current_sid.insert(nsp.to_owned(), sid);
    }

    pub(crate) fn run(&mut self) {
        for _ in 0..10_000 {
            if !self.round() {
                return;
            }
        }
        panic!("the pair does not settle");
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let server = self.server.as_ref().and_then(|s| {
            s.pending
                .iter()
                .map(|(at, _)| *at)
                .chain(s.session.poll_timeout())
                .min()
        });
        [self.client.poll_timeout(), server, self.opening]
            .into_iter()
            .flatten()
            .min()
    }

    /// Jumps to the next deadline of either side and handles it; false if there is none.
    pub(crate) fn advance(&mut self) -> bool {
        let Some(next) = self.next_deadline() else {
            return false;
        };
        self.now = self.now.max(next);
        let now = self.now;
        self.client.handle_timeout(now);
        if let Some(s) = &mut self.server {
            s.session.handle_timeout(now);
        }
        self.run();
        // The contract of `handle_timeout`: what was due is handled.
        assert!(
            self.next_deadline().is_none_or(|d| d > now),
            "a deadline is still due after handle_timeout"
        );
        true
    }

    /// Advances through deadlines until `elapsed() == until`.
    pub(crate) fn advance_to(&mut self, until: Duration) {
        loop {
            match self.next_deadline() {
                Some(next) if next - self.start <= until => {
                    self.advance();
                }
                _ => {
                    self.now = self.now.max(self.start + until);
                    self.run();
                    return;
                }
            }
        }
    }

    pub(crate) fn advance_by(&mut self, d: Duration) {
        let until = self.elapsed() + d;
        self.advance_to(until);
    }

    // ----- what happened -----

    pub(crate) fn wire_since(&self, from: usize) -> Vec<&str> {
        self.wire[from..].iter().map(String::as_str).collect()
    }

    pub(crate) fn client_connects(&self) -> Vec<(String, String, bool)> {
        self.client_events
            .iter()
            .filter_map(|(_, e)| match e {
                ClientEvent::Connect {
                    nsp,
                    sid,
                    recovered,
                } => Some((nsp.to_string(), sid.to_string(), *recovered)),
                _ => None,
            })
            .collect()
    }

    /// The events the client's handlers got: (nsp, name, args).
    pub(crate) fn client_rx(&self) -> Vec<(String, String, Vec<Value>)> {
        self.client_events
            .iter()
            .filter_map(|(_, e)| match e {
                ClientEvent::Event {
                    nsp, name, args, ..
                } => Some((
                    nsp.to_string(),
                    name.as_str().to_owned(),
                    args.to_values().unwrap(),
                )),
                _ => None,
            })
            .collect()
    }

    /// The outcome of each client ack, by emit number.
    pub(crate) fn client_acks(&self) -> Vec<(u64, Result<Vec<Value>, AckFailure>, Duration)> {
        self.client_events
            .iter()
            .filter_map(|(at, e)| match e {
                ClientEvent::Ack { value, result, .. } => Some((
                    *value,
                    result
                        .as_ref()
                        .map(|a| a.to_values().unwrap())
                        .map_err(|e| *e),
                    *at,
                )),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn server_acks(&self) -> Vec<(u64, Result<Vec<Value>, AckFailure>, Duration)> {
        self.server_events
            .iter()
            .filter_map(|(at, e)| match e {
                ServerEvent::Ack { value, result, .. } => Some((
                    *value,
                    result
                        .as_ref()
                        .map(|a| a.to_values().unwrap())
                        .map_err(|e| *e),
                    *at,
                )),
                _ => None,
            })
            .collect()
    }

    /// The emit numbers the server received for `name`.
    pub(crate) fn server_got(&self, name: &str) -> Vec<u64> {
        self.server_rx
            .iter()
            .filter(|r| r.2 == name)
            .map(|r| r.3[0].as_u64().unwrap())
            .collect()
    }

    pub(crate) fn count_client(&self, f: impl Fn(&ClientEvent<u64>) -> bool) -> usize {
        self.client_events.iter().filter(|(_, e)| f(e)).count()
    }

    pub(crate) fn client_event_times(
        &self,
        f: impl Fn(&ClientEvent<u64>) -> bool,
    ) -> Vec<Duration> {
        self.client_events
            .iter()
            .filter(|(_, e)| f(e))
            .map(|(at, _)| *at)
            .collect()
    }
}

/// A server session alone, fed with wire text.
pub(crate) struct Lone {
    pub(crate) session: ServerSession<u64>,
    pub(crate) decoder: Decoder,
    pub(crate) now: Instant,
}

impl Lone {
    pub(crate) fn new(config: ServerConfig) -> Lone {
        let version = config.version;
        Lone {
            session: ServerSession::new("engine".into(), config, Instant::now()),
            decoder: Decoder::new(DecoderConfig::default().with_protocol(version)),
            now: Instant::now(),
        }
    }

    pub(crate) fn feed(&mut self, text: &str) {
        let packet = self
            .decoder
            .decode_text(Str::from(text.to_owned()))
            .expect("valid")
            .expect("complete");
        self.session.handle_packet(self.now, packet);
    }

    pub(crate) fn sent(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.session.poll_transmit())
            .map(|p| {
                Encoder::default()
                    .encode(&p)
                    .unwrap()
                    .text()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    pub(crate) fn events(&mut self) -> Vec<ServerEvent<u64>> {
        std::iter::from_fn(|| self.session.poll_event()).collect()
    }

    pub(crate) fn request(&mut self) -> ConnectRequest {
        match self.events().pop() {
            Some(ServerEvent::ConnectRequest(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    pub(crate) fn closed_with(&mut self) -> Option<ServerDisconnectReason> {
        self.events().into_iter().find_map(|e| match e {
            ServerEvent::Closed(r) => Some(r),
            _ => None,
        })
    }
}
