//! [`ServerSession`]: the Socket.IO side of one Engine.IO connection, on the server.
//!
//! The behaviour follows socket.io 4.8 `dist/client.js` (`ondecoded`, `connect`, `close`,
//! the connect timeout), `dist/socket.js` (`_onconnect`, `onack`, `_onclose`, `_error`,
//! `disconnect`, `RECOVERABLE_DISCONNECT_REASONS`) and `dist/namespace.js` (`_add`,
//! `_createSocket`: the `{pid, offset}` of a CONNECT).

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use super::query::split_v4_namespace;
use super::types::{AckFailure, RecoveryRequest, ServerDisconnectReason, SessionReason};
use super::types::{MAX_RECOVERY_TOKEN, own, release};
use crate::ack::{AckId, AckTracker};
use crate::error::Error;
use crate::socket::args::Args;
use crate::socket::packet::{EventName, Packet, PacketData, ProtocolVersion};
use crate::str::Str;
use crate::value::{Map, Value};

/// Settings of a [`ServerSession`]. The defaults are the JavaScript server's.
///
/// ```
/// use std::time::Duration;
/// use sio_protocol::socket::{ProtocolVersion, ServerConfig};
///
/// let config = ServerConfig::default().recovery(true);
/// assert_eq!(config.connect_timeout, Duration::from_secs(45));
/// assert_eq!(config.version, ProtocolVersion::V5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The Socket.IO protocol of the connection: [`ProtocolVersion::V5`] over Engine.IO v4
    /// (default), [`ProtocolVersion::V4`] for a Socket.IO 2.x client over Engine.IO v3.
    pub version: ProtocolVersion,
    /// `connectTimeout`: the connection is closed when no namespace was joined by then
    /// (default 45 s).
    pub connect_timeout: Duration,
    /// Whether connection state recovery is on (`connectionStateRecovery`; default off).
    /// With it (protocol 5 only), a CONNECT carrying `pid` and `offset` strings is a
    /// [recovery request](ConnectRequest::recovery), CONNECT replies carry the socket's `pid`,
    /// and a socket that disconnects for a [recoverable reason](ServerDisconnectReason::is_recoverable)
    /// is [to be persisted](ServerEvent::Disconnected).
    pub recovery: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            version: ProtocolVersion::V5,
            connect_timeout: Duration::from_secs(45),
            recovery: false,
        }
    }
}

impl ServerConfig {
    /// Sets [`version`](Self::version).
    pub fn version(mut self, value: ProtocolVersion) -> Self {
        self.version = value;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn connect_timeout(mut self, value: Duration) -> Self {
        self.connect_timeout = value;
        self
    }

    /// Sets [`recovery`](Self::recovery).
    pub fn recovery(mut self, value: bool) -> Self {
        self.recovery = value;
        self
    }
}

/// A client asks to join a namespace: run the middlewares, resolve the namespace, then answer
/// with [`ServerSession::accept`], [`ServerSession::accept_recovered`] or
/// [`ServerSession::refuse`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConnectRequest {
    /// The namespace (in protocol 4, without its query string).
    pub nsp: Str,
    /// `socket.handshake.auth`: the CONNECT payload (protocol 5) or the namespace's query
    /// string as an object of strings (protocol 4); `{}` when there is none. A recovery
    /// request's `pid` and `offset` stay in it, as in socket.io.
    pub auth: Value,
    /// The client's request to recover its previous session: only with
    /// [`ServerConfig::recovery`], in protocol 5, when the payload holds `pid` and `offset`
    /// strings (each at most 256 bytes). Look it up in the session store; whatever the
    /// outcome of that lookup, never trust it further.
    pub recovery: Option<RecoveryRequest>,
    /// The socket id protocol 4 prescribes: the Engine.IO session id, prefixed by
    /// `<nsp>#` outside `/`. `None` in protocol 5: make a fresh id from a CSPRNG (it must
    /// not be the Engine.IO id, which is a credential).
    pub legacy_id: Option<Str>,
}

/// Something the server runtime must act on, from [`ServerSession::poll_event`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerEvent<T> {
    /// A CONNECT for a namespace the client is not in.
    ConnectRequest(ConnectRequest),
    /// An EVENT of a connected namespace: hand it to the socket's handlers (with `id`, the
    /// handler's answer goes back with [`ServerSession::send`] as an ACK with that id).
    Event {
        /// The namespace.
        nsp: Str,
        /// The socket id.
        sid: Str,
        /// The event name.
        name: EventName,
        /// The arguments.
        args: Args,
        /// The ack id, when the client wants an answer.
        id: Option<AckId>,
    },
    /// A pending acknowledgement ended: the client's ACK arrived (`Ok`, with its arguments),
    /// its deadline passed or the socket disconnected (`Err`). `value` is what was given to
    /// [`send_with_ack`](ServerSession::send_with_ack) or
    /// [`expect_ack`](ServerSession::expect_ack).
    Ack {
        /// The namespace.
        nsp: Str,
        /// The ack id.
        id: AckId,
        /// The caller's value.
        value: T,
        /// The answer, or why none will come.
        result: Result<Args, AckFailure>,
    },
    /// A connected socket left its namespace. Run its disconnect handlers; with `persist`,
    /// save the session (id, rooms, data) under that pid for connection state recovery.
    /// The acks it still waited for follow as [`Ack`](Self::Ack) events with
    /// [`AckFailure::Disconnected`].
    Disconnected {
        /// The namespace.
        nsp: Str,
        /// The socket id.
        sid: Str,
        /// Why.
        reason: ServerDisconnectReason,
        /// `Some(pid)` when recovery is on, the reason
        /// [is recoverable](ServerDisconnectReason::is_recoverable) and the socket has a pid.
        persist: Option<Str>,
    },
    /// The session is over (after the [`Disconnected`](Self::Disconnected) events of its
    /// sockets): write the transmits still queued, then close the Engine.IO connection if it
    /// is still open. The session ignores further input.
    Closed(ServerDisconnectReason),
}

enum State {
    /// The CONNECT is with the runtime (middlewares, namespace resolution, session restore).
    Connecting {
        recovery: Option<RecoveryRequest>,
    },
    Connected {
        sid: Str,
        pid: Option<Str>,
    },
}

/// Without the pids: they are credentials, not for logs.
impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Connecting { recovery } => f
                .debug_struct("Connecting")
                .field("recovery", &recovery.is_some())
                .finish(),
            State::Connected { sid, pid } => f
                .debug_struct("Connected")
                .field("sid", sid)
                .field("pid", &pid.is_some())
                .finish(),
        }
    }
}

struct Nsp<T> {
    name: Str,
    state: State,
    /// Pending acks of events sent to this namespace's socket.
    acks: AckTracker<T>,
}

/// The Socket.IO side of one Engine.IO connection, on the server: the namespaces the client
/// joins, socket.io's state rules, the connect timeout, protocol 4 and 5, the acks the
/// server waits for, and the protocol facts of connection state recovery.
///
/// Sans-IO like [`engine::Session`](crate::engine::Session): it never reads a clock, draws
/// randomness or touches a socket. Socket ids and pids come from the runtime (a CSPRNG);
/// ack ids come from the runtime too (socket.io counts them per namespace, so that a
/// broadcast uses one id for every recipient). `T` is what the runtime keeps per pending
/// ack (a oneshot sender, a broadcast's reply sink...).
///
/// # Calling order
///
/// 1. Create it when the Engine.IO connection opens: [`ServerSession::new`] (in protocol 4 it
///    starts with the implicit [`ConnectRequest`] for `/`).
/// 2. Feed input as it happens: [`handle_packet`](Self::handle_packet) for each packet the
///    [`Decoder`](crate::socket::Decoder) completes (a decode error: [`close`](Self::close)
///    with [`ServerDisconnectReason::ForcedClose`]); [`handle_close`](Self::handle_close)
///    when the Engine.IO connection closed; [`handle_timeout`](Self::handle_timeout) when the
///    timer fires. Apply commands: [`accept`](Self::accept) /
///    [`accept_recovered`](Self::accept_recovered) / [`refuse`](Self::refuse) for each
///    [`ServerEvent::ConnectRequest`]; [`send`](Self::send),
///    [`send_with_ack`](Self::send_with_ack), [`expect_ack`](Self::expect_ack),
///    [`disconnect`](Self::disconnect), [`close`](Self::close).
/// 3. After each input or command: drain [`poll_transmit`](Self::poll_transmit) (encode each
///    packet with the [`Encoder`](crate::socket::Encoder) and write its frames), drain
///    [`poll_event`](Self::poll_event), then re-arm one timer from
///    [`poll_timeout`](Self::poll_timeout).
///
/// The runtime may also write packets of a connected namespace without the session (a
/// broadcast encoded once for many sockets; register its ack with
/// [`expect_ack`](Self::expect_ack)), as long as it drains `poll_transmit` first, so that
/// nothing overtakes a packet the session queued.
///
/// # State rules
///
/// - A CONNECT for a namespace the client is not in becomes a [`ConnectRequest`].
/// - An EVENT, ACK or DISCONNECT of a connected namespace is handled; an ACK with an unknown
///   id is ignored.
/// - Anything else (a CONNECT for a namespace already joined or still being joined, a packet
///   for a namespace not joined, a CONNECT_ERROR from the client) is "invalid state": the
///   connection closes with [`ServerDisconnectReason::ForcedServerClose`]. A runtime that
///   answers CONNECTs asynchronously may hold further input until it answered, so that a
///   client that sends an event right after its CONNECT is not cut off.
/// - When no namespace was joined within [`ServerConfig::connect_timeout`], the connection
///   closes (`"forced server close"`). Leaving the last namespace does not close it.
///
/// # Example
///
/// ```
/// use std::time::{Duration, Instant};
/// use sio_protocol::socket::{
///     Args, Encoder, Packet, PacketData, ServerConfig, ServerEvent, ServerSession,
/// };
///
/// let now = Instant::now();
/// let mut session = ServerSession::new("engine-id".into(), ServerConfig::default(), now);
///
/// // The client's `40`: a connect request, for the runtime's middlewares.
/// session.handle_packet(now, Packet::new("/", PacketData::Connect(None)));
/// let Some(ServerEvent::ConnectRequest(request)) = session.poll_event() else { panic!() };
/// session.accept(&request.nsp, "socket-id".into(), None)?;
/// let reply = session.poll_transmit().expect("the CONNECT reply");
/// assert_eq!(Encoder::default().encode(&reply)?.text(), Some(r#"0{"sid":"socket-id"}"#));
///
/// // `emit_with_ack`: the ack id is the namespace's, the deadline the runtime's.
/// let question = Packet::event("/", "question", Args::new(&42)?, Some(7));
/// session.send_with_ack(question, Some(now + Duration::from_secs(5)), "waiter")?;
/// assert!(session.poll_transmit().is_some());
/// session.handle_packet(now, Packet::ack("/", Args::new(&"yes")?, 7));
/// let Some(ServerEvent::Ack { value, result, .. }) = session.poll_event() else { panic!() };
/// let answer = result.expect("answered in time");
/// assert_eq!((value, answer.deserialize::<String>()?.as_str()), ("waiter", "yes"));
/// # Ok::<(), sio_protocol::Error>(())
/// ```
pub struct ServerSession<T> {
    config: ServerConfig,
    engine_sid: Str,
    closed: bool,
    /// Until a namespace is joined.
    connect_deadline: Option<Instant>,
    /// The namespaces joined or being joined (a few per connection).
    nsps: Vec<Nsp<T>>,
    out: VecDeque<Packet>,
    events: VecDeque<ServerEvent<T>>,
}

impl<T> fmt::Debug for ServerSession<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nsps: Vec<_> = self
            .nsps
            .iter()
            .map(|n| (&n.name, &n.state, n.acks.len()))
            .collect();
        f.debug_struct("ServerSession")
            .field("engine_sid", &self.engine_sid)
            .field("config", &self.config)
            .field("closed", &self.closed)
            .field("connect_deadline", &self.connect_deadline)
            .field("nsps", &nsps)
            .field("transmits", &self.out.len())
            .field("events", &self.events.len())
            .finish()
    }
}

impl<T> ServerSession<T> {
    /// The session of a new Engine.IO connection `engine_sid` (the id protocol 4 builds socket
    /// ids from), opened at `now`.
    pub fn new(engine_sid: Str, config: ServerConfig, now: Instant) -> Self {
        let mut session = ServerSession {
            connect_deadline: now.checked_add(config.connect_timeout),
            config,
            engine_sid,
            closed: false,
            nsps: Vec::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
        };
        if session.is_v4() {
            // Socket.IO 2.x: the client is in `/` without sending CONNECT.
            session.request_connect(Str::from_static("/"), Value::Object(Map::new()), None);
        }
        session
    }

    fn is_v4(&self) -> bool {
        self.config.version == ProtocolVersion::V4
    }

    fn find(&self, nsp: &str) -> Option<usize> {
        self.nsps.iter().position(|n| n.name == nsp)
    }

    fn find_connected(&self, nsp: &str) -> Option<usize> {
        self.find(nsp)
            .filter(|&i| matches!(self.nsps[i].state, State::Connected { .. }))
    }

    fn find_connecting(&self, nsp: &str) -> Result<usize, Error> {
        if self.closed {
            return Err(Error::session(SessionReason::Closed));
        }
        self.find(nsp)
            .filter(|&i| matches!(self.nsps[i].state, State::Connecting { .. }))
            .ok_or_else(|| Error::session(SessionReason::NoConnectRequest))
    }

    fn connected_mut(&mut self, nsp: &str) -> Result<&mut Nsp<T>, Error> {
        if self.closed {
            return Err(Error::session(SessionReason::Closed));
        }
        let i = self
            .find_connected(nsp)
            .ok_or_else(|| Error::session(SessionReason::NotConnected))?;
        Ok(&mut self.nsps[i])
    }

    // ----------------------------------------------------------------------------------------
    // Input
    // ----------------------------------------------------------------------------------------

    /// A packet from the client, as the [`Decoder`](crate::socket::Decoder) completed it.
    /// Applies the [state rules](Self#state-rules).
    pub fn handle_packet(&mut self, now: Instant, packet: Packet) {
        if self.closed {
            return;
        }
        let (nsp, query_auth) = if self.is_v4() {
            split_v4_namespace(&packet.nsp)
        } else {
            (packet.nsp, None)
        };
        let index = self.find(&nsp);
        let connected = index.filter(|&i| matches!(self.nsps[i].state, State::Connected { .. }));
        match (packet.data, index, connected) {
            (PacketData::Connect(payload), None, _) => {
                let v4 = self.is_v4();
                let auth = if v4 { query_auth } else { payload };
                let auth = auth.unwrap_or_else(|| Value::Object(Map::new()));
                let recovery = if self.config.recovery && !v4 {
                    recovery_request(&auth)
                } else {
                    None
                };
                self.request_connect(own(&nsp), auth, recovery);
            }
            (PacketData::Event { name, args, id }, _, Some(i)) => {
                let n = &self.nsps[i];
                if let State::Connected { sid, .. } = &n.state {
                    self.events.push_back(ServerEvent::Event {
                        nsp: n.name.clone(),
                        sid: sid.clone(),
                        name,
                        args,
                        id,
                    });
                }
            }
            (PacketData::Ack { args, id }, _, Some(i)) => {
                let n = &mut self.nsps[i];
                if let Some(value) = n.acks.remove(id) {
                    self.events.push_back(ServerEvent::Ack {
                        nsp: n.name.clone(),
                        id,
                        value,
                        result: Ok(args),
                    });
                }
            }
            (PacketData::Disconnect, _, Some(i)) => {
                self.end(i, ServerDisconnectReason::ClientNamespaceDisconnect, false);
            }
            _ => self.close(now, ServerDisconnectReason::ForcedServerClose),
        }
    }

    fn request_connect(&mut self, nsp: Str, auth: Value, recovery: Option<RecoveryRequest>) {
        let legacy_id = self.is_v4().then(|| {
            if nsp == "/" {
                self.engine_sid.clone()
            } else {
                Str::from(format!("{nsp}#{}", self.engine_sid))
            }
        });
        // Exactly one more: a connection is in one or two namespaces, and a `Vec` that grows
        // by itself starts at four entries (an idle connection would hold three empty ones).
        self.nsps.reserve_exact(1);
        self.nsps.push(Nsp {
            name: nsp.clone(),
            state: State::Connecting {
                recovery: recovery.clone(),
            },
            acks: AckTracker::new(),
        });
        self.events
            .push_back(ServerEvent::ConnectRequest(ConnectRequest {
                nsp,
                auth,
                recovery,
                legacy_id,
            }));
    }

    /// The Engine.IO connection closed (`reason` from its
    /// [`CloseReason`](crate::engine::CloseReason), or the runtime's own). Every connected
    /// socket disconnects with `reason`; the transmits still queued are dropped.
    pub fn handle_close(&mut self, now: Instant, reason: ServerDisconnectReason) {
        self.out.clear();
        release(&mut self.out);
        self.close(now, reason);
    }

    /// The timer from [`poll_timeout`](Self::poll_timeout) fired (or any time: only what is
    /// due at `now` happens): the connect timeout, ack deadlines.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if self.connect_deadline.is_some_and(|d| d <= now) {
            // No namespace joined in time (the deadline is cleared on the first join).
            self.connect_deadline = None;
            self.close(now, ServerDisconnectReason::ForcedServerClose);
            return;
        }
        for n in &mut self.nsps {
            for (id, value) in n.acks.expire(now) {
                self.events.push_back(ServerEvent::Ack {
                    nsp: n.name.clone(),
                    id,
                    value,
                    result: Err(AckFailure::Timeout),
                });
            }
        }
    }

    // ----------------------------------------------------------------------------------------
    // Commands
    // ----------------------------------------------------------------------------------------

    /// Answers the CONNECT of `nsp`: the socket is connected with id `sid` (in protocol 4,
    /// [`ConnectRequest::legacy_id`]). `pid` is the socket's private session id for
    /// connection state recovery (20+ characters from a CSPRNG); it is sent, and kept, only
    /// when [`ServerConfig::recovery`] is on in protocol 5. The reply is
    /// `{"sid": .., "pid": ..}` (protocol 4: no payload).
    ///
    /// Answer a [recovery request](ConnectRequest::recovery) whose session could not be
    /// restored (unknown, expired, used, too old an offset...) with this method too: the
    /// client gets a fresh session.
    pub fn accept(&mut self, nsp: &str, sid: Str, pid: Option<Str>) -> Result<(), Error> {
        let i = self.find_connecting(nsp)?;
        let pid = pid.filter(|_| self.config.recovery && !self.is_v4());
        self.connected(i, sid, pid);
        Ok(())
    }

    /// Answers the recovery request of `nsp` with the restored session: the socket is
    /// connected again with its previous id `sid`, and the pid it asked for. `missed` are the
    /// packets it missed, in order: EVENTs of `nsp` without ack id, their offset as last
    /// argument. As in socket.io, they are sent before the CONNECT reply; a client buffers
    /// them and hands them to the application before its `connect` event.
    ///
    /// Fails without change when the CONNECT asked for no recovery, or a missed packet is not
    /// such an EVENT.
    pub fn accept_recovered(
        &mut self,
        nsp: &str,
        sid: Str,
        missed: impl IntoIterator<Item = Packet>,
    ) -> Result<(), Error> {
        let i = self.find_connecting(nsp)?;
        let State::Connecting {
            recovery: Some(request),
        } = &self.nsps[i].state
        else {
            return Err(Error::session(SessionReason::NoRecoveryRequest));
        };
        let pid = request.pid.clone();
        let missed: Vec<Packet> = missed.into_iter().collect();
        let valid = missed
            .iter()
            .all(|p| p.nsp == nsp && matches!(p.data, PacketData::Event { id: None, .. }));
        if !valid {
            return Err(Error::session(SessionReason::InvalidPacket));
        }
        self.out.extend(missed);
        self.connected(i, sid, Some(pid));
        Ok(())
    }

    fn connected(&mut self, i: usize, sid: Str, pid: Option<Str>) {
        self.connect_deadline = None;
        let v4 = self.is_v4();
        let n = &mut self.nsps[i];
        let reply = if v4 {
            None
        } else {
            let mut reply = Map::new();
            reply.insert("sid".to_owned(), Value::from(sid.as_str()));
            if let Some(pid) = &pid {
                reply.insert("pid".to_owned(), Value::from(pid.as_str()));
            }
            Some(Value::Object(reply))
        };
        n.state = State::Connected { sid, pid };
        self.out
            .push_back(Packet::new(n.name.clone(), PacketData::Connect(reply)));
    }

    /// Refuses the CONNECT of `nsp` (a middleware's error): CONNECT_ERROR with
    /// `{"message": .., "data": ..}` (`data` left out when `None`); in protocol 4, `data`
    /// unless it is falsy (`null`, `false`, `0`, `""`), else `message`, as socket.io's
    /// `err.data || err.message`. The connection stays.
    pub fn refuse(&mut self, nsp: &str, message: &str, data: Option<Value>) -> Result<(), Error> {
        let i = self.find_connecting(nsp)?;
        let payload = if self.is_v4() {
            match data {
                Some(data) if !is_falsy(&data) => data,
                _ => Value::from(message),
            }
        } else {
            connect_error(message, data)
        };
        let n = self.nsps.remove(i);
        self.out
            .push_back(Packet::new(n.name, PacketData::ConnectError(payload)));
        Ok(())
    }

    /// Refuses the CONNECT of `nsp` because no such namespace exists: CONNECT_ERROR
    /// `{"message": "Invalid namespace"}`, in both protocols as socket.io sends it.
    pub fn refuse_unknown_namespace(&mut self, nsp: &str) -> Result<(), Error> {
        let i = self.find_connecting(nsp)?;
        let n = self.nsps.remove(i);
        let payload = connect_error("Invalid namespace", None);
        self.out
            .push_back(Packet::new(n.name, PacketData::ConnectError(payload)));
        Ok(())
    }

    /// Queues an EVENT or ACK of a connected namespace (`packet.nsp`).
    pub fn send(&mut self, packet: Packet) -> Result<(), Error> {
        if !matches!(
            packet.data,
            PacketData::Event { .. } | PacketData::Ack { .. }
        ) {
            return Err(Error::session(SessionReason::InvalidPacket));
        }
        self.connected_mut(&packet.nsp)?;
        self.out.push_back(packet);
        Ok(())
    }

    /// Queues an EVENT that carries an ack id and waits for the client's answer until
    /// `deadline` (`None`: until the socket disconnects). The outcome comes as
    /// [`ServerEvent::Ack`] with `value`. An EVENT without ack id is refused
    /// ([`SessionReason::InvalidPacket`]); on an error `value` is dropped.
    pub fn send_with_ack(
        &mut self,
        packet: Packet,
        deadline: Option<Instant>,
        value: T,
    ) -> Result<(), Error> {
        let PacketData::Event { id: Some(id), .. } = packet.data else {
            return Err(Error::session(SessionReason::InvalidPacket));
        };
        let n = self.connected_mut(&packet.nsp)?;
        n.acks.insert(id, deadline, value);
        self.out.push_back(packet);
        Ok(())
    }

    /// Waits for the answer with `id` in `nsp` until `deadline`, for an EVENT the runtime
    /// writes itself (a broadcast's `emit_with_ack`, encoded once for every recipient). The
    /// outcome comes as [`ServerEvent::Ack`] with `value`; on an error `value` is dropped.
    pub fn expect_ack(
        &mut self,
        nsp: &str,
        id: AckId,
        deadline: Option<Instant>,
        value: T,
    ) -> Result<(), Error> {
        let n = self.connected_mut(nsp)?;
        n.acks.insert(id, deadline, value);
        Ok(())
    }

    /// Stops waiting for the answer with `id` in `nsp` (the packet could not be written) and
    /// hands back its value.
    pub fn cancel_ack(&mut self, nsp: &str, id: AckId) -> Option<T> {
        let i = self.find(nsp)?;
        self.nsps[i].acks.remove(id)
    }

    /// `socket.disconnect()`: the client gets DISCONNECT, the socket leaves the namespace
    /// (`"server namespace disconnect"`: not recoverable). The connection stays; to close it
    /// too (`disconnect(true)`), disconnect every namespace and [`close`](Self::close) with
    /// [`ServerDisconnectReason::ForcedServerClose`].
    pub fn disconnect(&mut self, nsp: &str) -> Result<(), Error> {
        if self.closed {
            return Err(Error::session(SessionReason::Closed));
        }
        let i = self
            .find_connected(nsp)
            .ok_or_else(|| Error::session(SessionReason::NotConnected))?;
        self.end(i, ServerDisconnectReason::ServerNamespaceDisconnect, true);
        Ok(())
    }

    /// Ends the session: every connected socket disconnects with `reason` (no packet is
    /// sent), then [`ServerEvent::Closed`]: the runtime writes what is queued and closes the
    /// Engine.IO connection. Does nothing once closed.
    pub fn close(&mut self, now: Instant, reason: ServerDisconnectReason) {
        let _ = now;
        if self.closed {
            return;
        }
        while !self.nsps.is_empty() {
            self.end(0, reason, false);
        }
        self.nsps = Vec::new();
        self.closed = true;
        self.connect_deadline = None;
        self.events.push_back(ServerEvent::Closed(reason));
    }

    /// Removes namespace `i`; a connected socket disconnects.
    fn end(&mut self, i: usize, reason: ServerDisconnectReason, send_packet: bool) {
        let n = self.nsps.remove(i);
        let State::Connected { sid, pid } = n.state else {
            // A CONNECT still with the runtime: its answer will find no request.
            return;
        };
        if send_packet {
            self.out
                .push_back(Packet::new(n.name.clone(), PacketData::Disconnect));
        }
        let persist = pid.filter(|_| self.config.recovery && reason.is_recoverable());
        self.events.push_back(ServerEvent::Disconnected {
            nsp: n.name.clone(),
            sid,
            reason,
            persist,
        });
        let mut acks = n.acks;
        for (id, value) in acks.drain() {
            self.events.push_back(ServerEvent::Ack {
                nsp: n.name.clone(),
                id,
                value,
                result: Err(AckFailure::Disconnected),
            });
        }
    }

    // ----------------------------------------------------------------------------------------
    // Output
    // ----------------------------------------------------------------------------------------

    /// The next packet to encode and write, in order.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Packet> {
        let packet = self.out.pop_front();
        if packet.is_none() {
            release(&mut self.out);
        }
        packet
    }

    /// The next event for the runtime, in order.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ServerEvent<T>> {
        let event = self.events.pop_front();
        if event.is_none() {
            release(&mut self.events);
        }
        event
    }

    /// When to call [`handle_timeout`](Self::handle_timeout): the connect timeout or the
    /// earliest ack deadline; `None` when nothing is scheduled.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        self.nsps
            .iter()
            .filter_map(|n| n.acks.poll_timeout())
            .chain(self.connect_deadline)
            .min()
    }

    // ----------------------------------------------------------------------------------------
    // State
    // ----------------------------------------------------------------------------------------

    /// The Socket.IO protocol of the connection.
    pub fn version(&self) -> ProtocolVersion {
        self.config.version
    }

    /// The Engine.IO session id given to [`new`](Self::new).
    pub fn engine_sid(&self) -> &Str {
        &self.engine_sid
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether `nsp` is connected.
    pub fn is_connected(&self, nsp: &str) -> bool {
        self.find_connected(nsp).is_some()
    }

    /// The socket id of `nsp`, while connected.
    pub fn sid(&self, nsp: &str) -> Option<&Str> {
        match &self.nsps[self.find(nsp)?].state {
            State::Connected { sid, .. } => Some(sid),
            State::Connecting { .. } => None,
        }
    }

    /// The pid of `nsp`'s socket, while connected with recovery on.
    pub fn pid(&self, nsp: &str) -> Option<&Str> {
        match &self.nsps[self.find(nsp)?].state {
            State::Connected { pid, .. } => pid.as_ref(),
            State::Connecting { .. } => None,
        }
    }

    /// The connected namespaces, in the order they were requested.
    pub fn namespaces(&self) -> impl Iterator<Item = &Str> + '_ {
        self.nsps
            .iter()
            .filter(|n| matches!(n.state, State::Connected { .. }))
            .map(|n| &n.name)
    }

    /// The number of acks pending in `nsp`.
    pub fn pending_acks(&self, nsp: &str) -> usize {
        self.find(nsp).map_or(0, |i| self.nsps[i].acks.len())
    }
}

/// `{pid, offset}` of a protocol 5 CONNECT payload, both strings of a sane length.
fn recovery_request(auth: &Value) -> Option<RecoveryRequest> {
    let token = |key: &str| {
        auth.get(key)
            .and_then(Value::as_str)
            .filter(|s| s.len() <= MAX_RECOVERY_TOKEN)
            .map(|s| Str::from(s.to_owned()))
    };
    Some(RecoveryRequest {
        pid: token("pid")?,
        offset: token("offset")?,
    })
}

/// The protocol 5 CONNECT_ERROR payload.
fn connect_error(message: &str, data: Option<Value>) -> Value {
    let mut map = Map::new();
    map.insert("message".to_owned(), Value::from(message));
    if let Some(data) = data {
        map.insert("data".to_owned(), data);
    }
    Value::Object(map)
}

/// JavaScript's falsy values among JSON values.
fn is_falsy(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Number(_) => value.as_f64().is_some_and(|f| f == 0.0 || f.is_nan()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_keeps_pids_out() {
        let now = Instant::now();
        let mut session: ServerSession<()> =
            ServerSession::new("e".into(), ServerConfig::default().recovery(true), now);
        let payload = Value::from(serde_json::json!({"pid": "secret-1", "offset": "o"}));
        session.handle_packet(now, Packet::new("/a", PacketData::Connect(Some(payload))));
        session.handle_packet(now, Packet::new("/", PacketData::Connect(None)));
        session
            .accept("/", "sid".into(), Some("secret-2".into()))
            .unwrap();
        let debug = format!("{session:?}");
        assert!(
            debug.contains("sid") && debug.contains("recovery: true"),
            "{debug}"
        );
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[test]
    fn falsy_values() {
        for v in [
            Value::Null,
            Value::from(false),
            Value::from(0),
            Value::from(0.0),
            Value::from(""),
        ] {
            assert!(is_falsy(&v), "{v:?}");
        }
        for v in [
            Value::from(true),
            Value::from(1),
            Value::from("x"),
            Value::Object(Map::new()),
            Value::Array(vec![]),
        ] {
            assert!(!is_falsy(&v), "{v:?}");
        }
    }

    #[test]
    fn recovery_tokens_are_strings_of_a_sane_length() {
        let auth = |pid: Value, offset: Value| {
            let mut m = Map::new();
            m.insert("pid".into(), pid);
            m.insert("offset".into(), offset);
            Value::Object(m)
        };
        assert_eq!(
            recovery_request(&auth("p".into(), "o".into())),
            Some(RecoveryRequest::new("p", "o"))
        );
        assert_eq!(recovery_request(&auth(1.into(), "o".into())), None);
        assert_eq!(recovery_request(&auth("p".into(), Value::Null)), None);
        let long = "x".repeat(MAX_RECOVERY_TOKEN + 1);
        assert_eq!(
            recovery_request(&auth(long.as_str().into(), "o".into())),
            None
        );
        assert_eq!(recovery_request(&Value::Object(Map::new())), None);
    }
}
