//! The task that drives one Engine.IO session (DESIGN example 3).
//!
//! It owns the [`Session`]; HTTP handlers and WebSocket readers talk to it over channels:
//!
//! - `control` (unbounded, one item per HTTP request or transport event): polling GETs, polling
//!   transport errors, a WebSocket to probe;
//! - `data` (bounded): packets from POST bodies, one packet per item. It is read only while
//!   the application's message queue has room, so a slow application pushes back on the client
//!   (the POST is answered later);
//! - `commands` (bounded): messages and `close` from the application. It is read only while
//!   fewer than `max_buffered_packets` messages wait in the session for the client.
//!
//! The task also owns the session's WebSocket ([`WsSocket`]) and polls it itself: it reads
//! only while the application's queue has room (TCP pushes back on the client), and writes
//! what the session hands out. No other task exists per session.
//!
//! After each input the task drains `poll_transmit` (polling packets form the body of the
//! pending GET, WebSocket packets are queued on the socket), then the events, and re-arms its
//! one timer from `poll_timeout`. No lock guards the session.

use std::collections::HashMap;
use std::future::{pending, poll_fn};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use sio_protocol::Str;
use sio_protocol::engine::{
    ErrorCode, Event, Packet, PayloadEncoder, PayloadFormat, ProtocolVersion, Session,
    TransportKind,
};
use tokio::sync::mpsc::{self, OwnedPermit};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::connection::{DisconnectReason, Message};
use crate::transport::ws::WsSocket;

/// The sessions of a server, by sid.
pub(crate) type Registry = Mutex<HashMap<Str, SessionHandle>>;

/// State the HTTP handlers read without asking the task.
#[derive(Debug)]
pub(crate) struct SessionShared {
    /// The session runs on WebSocket (a WebSocket handshake, or after the upgrade).
    pub(crate) on_websocket: AtomicBool,
    /// A POST is being read (a second one at the same time is an error).
    pub(crate) post_active: AtomicBool,
    /// The protocol version of the session.
    pub(crate) version: ProtocolVersion,
    /// The handshake asked for base64 binary (`b64`): like engine.io, which reads the flag
    /// when it creates the polling transport, every polling response of the session uses it.
    pub(crate) b64: bool,
    /// The JSONP callback index, for a polling session whose handshake had `j` (read once,
    /// like `b64`).
    pub(crate) jsonp: Option<String>,
}

/// From the application.
#[derive(Debug)]
pub(crate) enum Command {
    Send(Message),
    Close,
}

/// The answer to a polling GET.
#[derive(Debug)]
pub(crate) enum PollReply {
    /// 200 with this body.
    Body {
        body: Bytes,
        content_type: &'static str,
    },
    /// An Engine.IO error response.
    Error(ErrorCode),
    /// A second GET while one is pending: a bare 400.
    Overlap,
}

/// From HTTP handlers and transports, handled before anything else.
#[derive(Debug)]
pub(crate) enum Control {
    /// A polling GET; `b64` is the v3 `b64=1` flag.
    Get {
        b64: bool,
        reply: oneshot::Sender<PollReply>,
    },
    /// The polling transport failed (overlapping POSTs, a refused or aborted POST).
    PollingError,
    /// A WebSocket for an upgrade.
    WsAttach(Box<WsSocket>),
    /// The server closes every session ([`EngineIo::close_all`](crate::EngineIo::close_all)).
    Close,
}

/// What a transport read.
#[derive(Debug)]
pub(crate) enum Input {
    Packet(Packet),
    ParseError,
    /// The peer closed the transport.
    Closed,
    /// An I/O or protocol error.
    Error,
    /// A WebSocket message over the size limit (close 1009).
    TooBig,
}

/// What the registry keeps of a session.
#[derive(Debug, Clone)]
pub(crate) struct SessionHandle {
    pub(crate) control: mpsc::UnboundedSender<Box<Control>>,
    /// Packets of POST bodies. Boxed: a channel allocates 32 slots up front (DESIGN example
    /// 12: an idle session should hold almost nothing).
    pub(crate) data: mpsc::Sender<Box<Input>>,
    pub(crate) shared: Arc<SessionShared>,
}

/// The receiving ends the task needs, made before the task so a WebSocket reader can start
/// first.
#[derive(Debug)]
pub(crate) struct Channels {
    pub(crate) handle: SessionHandle,
    control_rx: mpsc::UnboundedReceiver<Box<Control>>,
    data_rx: mpsc::Receiver<Box<Input>>,
}

impl Channels {
    pub(crate) fn new(
        version: ProtocolVersion,
        transport: TransportKind,
        b64: bool,
        jsonp: Option<String>,
    ) -> Channels {
        let (control, control_rx) = mpsc::unbounded_channel();
        let (data, data_rx) = mpsc::channel(16);
        let shared = Arc::new(SessionShared {
            on_websocket: AtomicBool::new(transport == TransportKind::WebSocket),
            post_active: AtomicBool::new(false),
            version,
            b64,
            jsonp,
        });
        Channels {
            handle: SessionHandle {
                control,
                data,
                shared,
            },
            control_rx,
            data_rx,
        }
    }
}

/// The application's ends of the queues of a new session.
#[derive(Debug)]
pub(crate) struct AppEnds {
    pub(crate) commands: mpsc::Sender<Box<Command>>,
    pub(crate) messages: mpsc::Receiver<Box<Message>>,
    pub(crate) closed: watch::Receiver<Option<DisconnectReason>>,
}

/// Starts the task of `session`. `ws` is the WebSocket of a WebSocket handshake.
pub(crate) fn spawn(
    session: Session,
    channels: Channels,
    ws: Option<WsSocket>,
    registry: Arc<Registry>,
    bound: usize,
) -> AppEnds {
    let (commands, commands_rx) = mpsc::channel(bound);
    let (app_tx, messages) = mpsc::channel(bound);
    let (closed_tx, closed) = watch::channel(None);
    let mut driver = Driver {
        sid: session.sid().cloned().unwrap_or_default(),
        version: session.version(),
        session,
        control_rx: channels.control_rx,
        data_rx: channels.data_rx,
        commands_rx,
        commands_open: true,
        app_tx,
        app_gone: false,
        permit: None,
        closed_tx,
        pending_get: None,
        batch: Vec::new(),
        buffered: 0,
        bound,
        ws,
        shared: channels.handle.shared,
        registry,
        reason: None,
        override_reason: None,
    };
    // The driver is moved into the task once and borrowed from there: an `async fn run(self)`
    // would hold it twice in the task's future (its argument and its local).
    tokio::spawn(async move {
        driver.run().await;
        driver.finish();
    });
    AppEnds {
        commands,
        messages,
        closed,
    }
}

struct Driver {
    session: Session,
    sid: Str,
    version: ProtocolVersion,
    control_rx: mpsc::UnboundedReceiver<Box<Control>>,
    data_rx: mpsc::Receiver<Box<Input>>,
    commands_rx: mpsc::Receiver<Box<Command>>,
    commands_open: bool,
    app_tx: mpsc::Sender<Box<Message>>,
    /// The application dropped its [`Connection`](crate::Connection): messages are dropped.
    app_gone: bool,
    /// Room for one message in the application's queue.
    permit: Option<OwnedPermit<Box<Message>>>,
    closed_tx: watch::Sender<Option<DisconnectReason>>,
    /// The pending polling GET and its `b64` flag.
    pending_get: Option<(oneshot::Sender<PollReply>, bool)>,
    /// Polling packets handed out since the last GET.
    batch: Vec<Packet>,
    /// Messages given to the session and not yet handed out.
    buffered: usize,
    bound: usize,
    /// The WebSocket in use, or being probed.
    ws: Option<WsSocket>,
    shared: Arc<SessionShared>,
    registry: Arc<Registry>,
    reason: Option<DisconnectReason>,
    override_reason: Option<DisconnectReason>,
}

enum Step {
    Control(Control),
    /// From a POST.
    Data(Box<Input>),
    /// From the WebSocket.
    Ws(Input),
    Command(Option<Command>),
    Permit(Option<OwnedPermit<Box<Message>>>),
    Timer,
    GetAborted,
}

/// The packet of an application message.
pub(crate) fn packet(message: Message) -> Packet {
    match message {
        Message::Text(text) => Packet::Message(text),
        Message::Binary(data) => Packet::Binary(data),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => pending().await,
    }
}

async fn get_closed(get: &mut Option<(oneshot::Sender<PollReply>, bool)>) {
    match get {
        Some((reply, _)) => reply.closed().await,
        None => pending().await,
    }
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

impl Driver {
    async fn run(&mut self) {
        self.flush();
        while self.reason.is_none() {
            let deadline = self.session.poll_timeout().map(Instant::from_std);
            let want_permit = self.permit.is_none() && !self.app_gone;
            let can_read = self.permit.is_some() || self.app_gone;
            let can_command = self.commands_open && self.buffered < self.bound;
            let has_ws = self.ws.is_some();
            let ws = &mut self.ws;
            let step = tokio::select! {
                biased;
                Some(control) = self.control_rx.recv() => Step::Control(*control),
                () = sleep_until(deadline) => Step::Timer,
                () = get_closed(&mut self.pending_get) => Step::GetAborted,
                permit = self.app_tx.clone().reserve_owned(), if want_permit => {
                    Step::Permit(permit.ok())
                }
                input = poll_fn(|cx| match ws {
                    Some(ws) => ws.poll_input(cx, can_read),
                    None => std::task::Poll::Pending,
                }), if has_ws => Step::Ws(input),
                Some(data) = self.data_rx.recv(), if can_read => Step::Data(data),
                command = self.commands_rx.recv(), if can_command => Step::Command(command.map(|c| *c)),
            };
            self.apply(step);
            self.flush();
        }
    }

    fn apply(&mut self, step: Step) {
        let now = now();
        match step {
            Step::Control(Control::Get { b64, reply }) => {
                if self.pending_get.is_some() {
                    // `onPollRequest`: "overlap from client".
                    let _ = reply.send(PollReply::Overlap);
                    self.session
                        .handle_transport_error(now, TransportKind::Polling);
                } else if self.session.transport() != TransportKind::Polling {
                    let _ = reply.send(PollReply::Error(ErrorCode::BadRequest));
                } else {
                    self.pending_get = Some((reply, b64));
                    // Packets handed out while no GET was pending (the open packet of a
                    // handshake) answer this GET: the session already counted them as
                    // written, so it is not told the transport is writable again (it would
                    // then add a second noop during an upgrade, say).
                    if self.batch.is_empty() {
                        self.session.handle_writable(TransportKind::Polling);
                    }
                }
            }
            Step::Control(Control::PollingError) => {
                self.session
                    .handle_transport_error(now, TransportKind::Polling);
            }
            Step::Control(Control::WsAttach(ws)) => {
                if self.ws.is_none() && self.session.begin_upgrade(now, TransportKind::WebSocket) {
                    self.ws = Some(*ws);
                } else {
                    ws.close(None);
                }
            }
            Step::Data(input) => self.input(now, TransportKind::Polling, *input),
            Step::Ws(input) => self.input(now, TransportKind::WebSocket, input),
            Step::Command(Some(Command::Send(message))) => {
                if self.session.send(packet(message)) {
                    self.buffered += 1;
                }
            }
            Step::Command(Some(Command::Close)) | Step::Control(Control::Close) => {
                self.session.close(now);
            }
            Step::Command(None) => self.commands_open = false,
            Step::Permit(Some(permit)) => self.permit = Some(permit),
            Step::Permit(None) => self.app_gone = true,
            Step::Timer => self.session.handle_timeout(now),
            Step::GetAborted => {
                // "poll connection closed prematurely"
                self.pending_get = None;
                self.session
                    .handle_transport_error(now, TransportKind::Polling);
            }
        }
    }

    fn input(&mut self, now: std::time::Instant, transport: TransportKind, input: Input) {
        match input {
            Input::Packet(packet) => self.session.handle_packet(now, transport, packet),
            Input::ParseError => self.session.handle_parse_error(now, transport),
            Input::Closed => self.session.handle_transport_closed(now, transport),
            Input::Error => self.session.handle_transport_error(now, transport),
            Input::TooBig => {
                if let Some(ws) = self.ws.take() {
                    ws.close(Some(1009));
                }
                self.session.handle_transport_error(now, transport);
            }
        }
    }

    /// Carries out what the session asks for.
    fn flush(&mut self) {
        while let Some(transmit) = self.session.poll_transmit() {
            if matches!(transmit.packet, Packet::Message(_) | Packet::Binary(_)) {
                self.buffered = self.buffered.saturating_sub(1);
            }
            match transmit.transport {
                TransportKind::Polling => self.batch.push(transmit.packet),
                TransportKind::WebSocket => self.write_ws(&transmit.packet),
            }
        }
        if !self.batch.is_empty() {
            if let Some((reply, b64)) = self.pending_get.take() {
                let batch = std::mem::take(&mut self.batch);
                let _ = reply.send(self.encode(&batch, b64));
            }
        }
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Message(text) => self.deliver(Message::Text(text)),
                Event::Binary(data) => self.deliver(Message::Binary(data)),
                Event::Upgraded(_) => {
                    self.shared.on_websocket.store(true, Ordering::Release);
                    if let Some((reply, b64)) = self.pending_get.take() {
                        let _ = reply.send(self.encode(&[Packet::Noop], b64));
                    }
                }
                Event::UpgradeFailed(_) => {
                    if let Some(ws) = self.ws.take() {
                        ws.close(None);
                    }
                }
                Event::Closed(reason) => {
                    self.reason = Some(
                        self.override_reason
                            .unwrap_or(DisconnectReason::Engine(reason)),
                    );
                }
                _ => {}
            }
        }
    }

    fn encode(&self, packets: &[Packet], b64: bool) -> PollReply {
        let has_binary = packets.iter().any(|p| matches!(p, Packet::Binary(_)));
        let format = PayloadFormat::for_request(self.version, b64, has_binary);
        PollReply::Body {
            body: PayloadEncoder::encode(packets, format),
            content_type: format.content_type(),
        }
    }

    fn write_ws(&mut self, packet: &Packet) {
        let Some(ws) = &mut self.ws else {
            return;
        };
        if ws.send(packet.to_frame(self.version)).is_err() {
            // The client does not read: drop the WebSocket and end the session.
            tracing::debug!(sid = %self.sid, "websocket send queue full, closing");
            if let Some(ws) = self.ws.take() {
                ws.close(None);
            }
            if self.session.transport() == TransportKind::WebSocket {
                self.override_reason = Some(DisconnectReason::SendBufferFull);
            }
            self.session
                .handle_transport_error(now(), TransportKind::WebSocket);
        }
    }

    fn deliver(&mut self, message: Message) {
        if let Some(permit) = self.permit.take() {
            permit.send(Box::new(message));
        } else if !self.app_gone {
            // Not reached: input is read only with a permit, and one input yields at most
            // one message.
            if let Err(mpsc::error::TrySendError::Closed(_)) =
                self.app_tx.try_send(Box::new(message))
            {
                self.app_gone = true;
            }
        }
    }

    fn finish(mut self) {
        self.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.sid);
        if let Some((reply, b64)) = self.pending_get.take() {
            let batch = if self.batch.is_empty() {
                vec![Packet::Close]
            } else {
                std::mem::take(&mut self.batch)
            };
            let _ = reply.send(self.encode(&batch, b64));
        }
        if let Some(ws) = self.ws.take() {
            ws.close(None);
        }
        let reason = self.reason.unwrap_or(DisconnectReason::Engine(
            sio_protocol::engine::CloseReason::TransportClose,
        ));
        tracing::debug!(sid = %self.sid, %reason, "session closed");
        let _ = self.closed_tx.send(Some(reason));
    }
}
