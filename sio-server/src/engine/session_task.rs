//! The task that drives one Engine.IO session.
//!
//! It owns the [`Session`] and the session's WebSocket ([`WsSocket`], polled directly: no
//! reader or writer task). HTTP handlers and the application talk to it through the queues of
//! [`session_queues`](crate::engine::session_queues), behind one lock in the session's shared state.
//! It reads input (POST packets, WebSocket frames) only while the application's queue has
//! room, so a slow application pushes back on the client (the POST is answered later, the
//! WebSocket is not read and TCP pushes back), and takes the application's messages only
//! while fewer than `max_buffered_packets` wait in the session for the client.
//!
//! After each input the task drains `poll_transmit` (polling packets form the body of the
//! pending GET, WebSocket packets are queued on the socket), then the events, and re-arms its
//! one timer from `poll_timeout`. No lock guards the session.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll};

use sio_protocol::Str;
use sio_protocol::engine::{
    ErrorCode, Event, Packet, PayloadEncoder, PayloadFormat, Session, TransportKind,
};
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};
use tracing::Instrument;

use crate::engine::message::{DisconnectReason, Message};
use crate::engine::session_queues::{
    Command, Control, DATA_BOUND, PollReply, Queues, Registry, SessionHandle, SessionShared,
    release,
};
use crate::engine::transport::Input;
use crate::engine::transport::ws::WsSocket;

/// An application driven by the session's task itself, instead of reading
/// [`Connection::recv`](crate::Connection::recv) from a task of its own (the Socket.IO layer:
/// one task per connection instead of two).
pub(crate) trait SessionApp: Send {
    /// A message from the client.
    fn on_message(&mut self, message: Message);
    /// Ready when the application takes messages; pending while it waits for something (the
    /// task then reads nothing from the client). Also drives the application's timers.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()>;
    /// The session ended.
    fn on_close(&mut self, reason: DisconnectReason);
}

/// Starts the task of `session`. `ws` is the WebSocket of a WebSocket handshake; `app`, if
/// any, takes the messages (else they queue for the [`Connection`](crate::Connection)).
/// The task runs in an `engine.io` span (level INFO) with the session id and `remote`, the
/// handshake's address: what is logged inside carries them.
pub(crate) fn spawn(
    session: Session,
    handle: &SessionHandle,
    ws: Option<WsSocket>,
    registry: Arc<Registry>,
    app: Option<Box<dyn SessionApp>>,
    remote: Option<std::net::SocketAddr>,
) {
    crate::metrics::engine_opened(session.transport());
    let mut driver = Driver {
        session,
        polling: None,
        buffered: 0,
        pending_bytes: 0,
        ws,
        shared: handle.shared.clone(),
        registry,
        reason: None,
        override_reason: None,
        app,
        finished: false,
        input_paused: false,
    };
    // The driver is moved into the task once and borrowed from there: an `async fn run(self)`
    // would hold it twice in the task's future (its argument and its local). Its cleanup runs
    // when it is dropped, so it also runs if the task unwinds or is dropped unfinished.
    let span = tracing::info_span!("engine.io", sid = %sid(&driver.session), remote = ?remote);
    let task = async move {
        driver.run().await;
    };
    // No subscriber wants the span: the idle session's task does not carry it.
    if span.is_disabled() {
        tokio::spawn(task);
    } else {
        tokio::spawn(task.instrument(span));
    }
}

/// The session's id (a server's session always has one).
fn sid(session: &Session) -> &Str {
    static NONE: Str = Str::new();
    session.sid().unwrap_or(&NONE)
}

/// The state of a session's task. It is most of the task's allocation (tokio rounds a task up
/// to 128 bytes), one per connection: what the session or its shared state already hold (the
/// sid, the protocol version, the queues' bounds) is read from there, not copied here.
struct Driver {
    session: Session,
    /// The polling transport's state, from the first GET or polling packet on (a session
    /// opened on a WebSocket never has one).
    polling: Option<Box<PollingState>>,
    /// Messages given to the session and not yet handed out.
    buffered: usize,
    /// Bytes of the messages given to the session and not yet written: waiting in the session,
    /// or in `batch` for the next GET (on WebSocket, the socket's queue counts its own).
    pending_bytes: usize,
    /// The WebSocket in use, or being probed.
    ws: Option<WsSocket>,
    shared: Arc<SessionShared>,
    registry: Arc<Registry>,
    reason: Option<DisconnectReason>,
    override_reason: Option<DisconnectReason>,
    app: Option<Box<dyn SessionApp>>,
    /// The cleanup ran.
    finished: bool,
    /// The client is not read: the application's queue is full.
    input_paused: bool,
}

#[derive(Default)]
struct PollingState {
    /// The pending polling GET and its `b64` flag.
    pending_get: Option<(oneshot::Sender<PollReply>, bool)>,
    /// Polling packets handed out since the last GET.
    batch: Vec<Packet>,
    /// Bytes of the messages in `batch`.
    batch_bytes: usize,
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Runs a call into the driven application, catching a panic: the application is then
/// dropped (after its `on_close`, also guarded) and the session closes.
fn guarded<R>(what: &str, sid: &Str, f: impl FnOnce() -> R) -> Option<R> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(value) => Some(value),
        Err(panic) => {
            tracing::error!(
                sid = %sid,
                panic = panic_message(&*panic),
                "the connection's application panicked in {what}; closing the connection"
            );
            None
        }
    }
}

/// The message of a panic payload, when it has one.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    if let Some(message) = panic.downcast_ref::<&'static str>() {
        message
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message
    } else {
        "(no message)"
    }
}

enum Step {
    Control(Control),
    /// From a POST.
    Data(Input),
    /// From the WebSocket.
    Ws(Input),
    Command(Command),
    /// A message for the driven application.
    App(Message),
    Timer,
    GetAborted,
    /// The driven application panicked.
    AppPanicked,
}

/// How many frames may wait for the WebSocket before the task writes them ahead of reading.
const WRITE_BATCH: usize = 64;

/// The packet of an application message.
pub(crate) fn packet(message: Message) -> Packet {
    match message {
        Message::Text(text) => Packet::Message(text),
        Message::Binary(data) => Packet::Binary(data),
    }
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

impl Driver {
    /// A polling GET waits for packets.
    fn get_pending(&self) -> bool {
        self.polling
            .as_ref()
            .is_some_and(|polling| polling.pending_get.is_some())
    }

    /// Takes the pending polling GET.
    fn take_get(&mut self) -> Option<(oneshot::Sender<PollReply>, bool)> {
        self.polling.as_mut()?.pending_get.take()
    }

    async fn run(&mut self) {
        self.flush();
        let sleep = tokio::time::sleep_until(Instant::now());
        tokio::pin!(sleep);
        let mut armed = None;
        while self.reason.is_none() {
            let step = poll_fn(|cx| self.poll_step(cx, sleep.as_mut(), &mut armed)).await;
            let waiting = self.get_pending();
            self.apply(step);
            self.flush();
            if !waiting && self.get_pending() {
                // A GET that nothing answered: it waits here for the session's next packets.
                tracing::trace!(sid = %sid(&self.session), "polling GET waiting for packets");
            }
        }
    }

    /// The next thing to do, in this order: a control item, a message for the driven
    /// application (when it is ready), the timer, an aborted GET, a POST packet, the
    /// WebSocket, an application command; when nothing is ready, the WebSocket's writes.
    ///
    /// POST packets come before the WebSocket's: a POST is answered once its packets are
    /// queued here, not once the session has them, and a client finishing an upgrade sends
    /// `5` on the WebSocket as soon as its last POST is answered. Read the other way round,
    /// that `5` could overtake the POST's packets, and the session, then on WebSocket, would
    /// ignore them as packets of the old transport (engine.io handles a POST's packets
    /// before it answers it, so they always come first there).
    fn poll_step(
        &mut self,
        cx: &mut Context<'_>,
        mut sleep: Pin<&mut Sleep>,
        armed: &mut Option<Instant>,
    ) -> Poll<Step> {
        let queues = &self.shared.queues;
        let can_read = {
            let mut state = queues.lock();
            Queues::register(&mut state, cx.waker());
            if let Some(control) = state.control.pop_front() {
                release(&mut state.control);
                return Poll::Ready(Step::Control(control));
            }
            queues.app_has_room(&state)
        };
        if can_read {
            self.input_paused = false;
        } else if !self.input_paused {
            self.input_paused = true;
            tracing::trace!(sid = %sid(&self.session), "input paused: the application's queue is full");
        }
        // Messages for a driven application wait in the application queue while it is busy
        // (a CONNECT's middlewares, say): the client is still read, so its close is seen.
        if let Some(app) = &mut self.app {
            match guarded("poll_ready", sid(&self.session), || app.poll_ready(cx)) {
                Some(Poll::Ready(())) => {
                    let mut state = queues.lock();
                    if let Some(message) = state.pop_app() {
                        return Poll::Ready(Step::App(message));
                    }
                }
                Some(Poll::Pending) => {}
                None => return Poll::Ready(Step::AppPanicked),
            }
        }
        let deadline = self.session.poll_timeout().map(Instant::from_std);
        if deadline != *armed {
            if let Some(deadline) = deadline {
                sleep.as_mut().reset(deadline);
            }
            *armed = deadline;
        }
        if armed.is_some() && sleep.poll(cx).is_ready() {
            *armed = None;
            return Poll::Ready(Step::Timer);
        }
        if let Some((reply, _)) = self.polling.as_mut().and_then(|p| p.pending_get.as_mut()) {
            if reply.poll_closed(cx).is_ready() {
                return Poll::Ready(Step::GetAborted);
            }
        }
        if let Some(ws) = &mut self.ws {
            // Many frames wait: write before reading more (a client that sends without pause
            // still gets its answers).
            if ws.queued() >= WRITE_BATCH {
                if let Poll::Ready(input) = ws.poll_output(cx) {
                    return Poll::Ready(Step::Ws(input));
                }
            }
        }
        if can_read {
            if let Poll::Ready(step) = self.poll_data() {
                return Poll::Ready(step);
            }
            if let Some(ws) = &mut self.ws {
                if let Poll::Ready(input) = ws.poll_input(cx) {
                    return Poll::Ready(Step::Ws(input));
                }
            }
        }
        if let Poll::Ready(step) = self.poll_commands() {
            return Poll::Ready(step);
        }
        // Nothing else is ready: write what the steps before queued, in one go.
        if let Some(ws) = &mut self.ws {
            if let Poll::Ready(input) = ws.poll_output(cx) {
                return Poll::Ready(Step::Ws(input));
            }
        }
        Poll::Pending
    }

    /// A POST packet (the caller checks that the application's queue has room).
    fn poll_data(&mut self) -> Poll<Step> {
        let queues = &self.shared.queues;
        let mut state = queues.lock();
        let was_full = state.data.len() >= DATA_BOUND;
        let Some(input) = state.data.pop_front() else {
            return Poll::Pending;
        };
        release(&mut state.data);
        drop(state);
        if was_full {
            queues.notify_room();
        }
        Poll::Ready(Step::Data(input))
    }

    /// An application command, while fewer than `bound` messages wait in the session.
    fn poll_commands(&mut self) -> Poll<Step> {
        let queues = &self.shared.queues;
        let mut state = queues.lock();
        if self.buffered < self.shared.queues.bound() {
            if let Some(command) = state.pop_command() {
                let room_wanted = std::mem::take(&mut state.room_wanted);
                drop(state);
                if room_wanted {
                    queues.notify_room();
                }
                return Poll::Ready(Step::Command(command));
            }
        }
        Poll::Pending
    }

    fn apply(&mut self, step: Step) {
        let now = now();
        match step {
            Step::Control(Control::Get { b64, reply }) => {
                if self.get_pending() {
                    // `onPollRequest`: "overlap from client".
                    let _ = reply.send(PollReply::Overlap);
                    self.session
                        .handle_transport_error(now, TransportKind::Polling);
                } else if self.session.transport() != TransportKind::Polling {
                    let _ = reply.send(PollReply::Error(ErrorCode::BadRequest));
                } else {
                    let polling = self.polling.get_or_insert_default();
                    polling.pending_get = Some((reply, b64));
                    // Packets handed out while no GET was pending (the open packet of a
                    // handshake) answer this GET: the session already counted them as
                    // written, so it is not told the transport is writable again (it would
                    // then add a second noop during an upgrade, say).
                    if polling.batch.is_empty() {
                        self.session.handle_writable(now, TransportKind::Polling);
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
            Step::Data(input) => self.input(now, TransportKind::Polling, input),
            Step::Ws(input) => self.input(now, TransportKind::WebSocket, input),
            Step::Command(Command::Send(message)) => {
                let len = message.len();
                if self.session.send(packet(message)) {
                    self.buffered += 1;
                    self.pending_bytes += len;
                    if self.pending_bytes > self.shared.queues.max_bytes() {
                        // A client that does not poll (or read) is not kept: past the byte
                        // bound the session ends, on every transport.
                        tracing::warn!(sid = %sid(&self.session), bytes = self.pending_bytes, "send buffer full, closing");
                        self.override_reason = Some(DisconnectReason::SendBufferFull);
                        let transport = self.session.transport();
                        self.session.handle_transport_error(now, transport);
                    }
                }
            }
            Step::App(message) => {
                if let Some(app) = &mut self.app {
                    if guarded("on_message", sid(&self.session), || app.on_message(message))
                        .is_none()
                    {
                        self.app_panicked(now);
                    }
                }
            }
            Step::AppPanicked => self.app_panicked(now),
            Step::Command(Command::Close) | Step::Control(Control::Close) => {
                self.session.close(now);
            }
            Step::Timer => self.session.handle_timeout(now),
            Step::GetAborted => {
                // "poll connection closed prematurely"
                if let Some(polling) = &mut self.polling {
                    polling.pending_get = None;
                }
                self.session
                    .handle_transport_error(now, TransportKind::Polling);
            }
        }
    }

    /// The driven application panicked: it is closed (its sockets disconnect) and dropped,
    /// and the session closes.
    fn app_panicked(&mut self, now: std::time::Instant) {
        if let Some(mut app) = self.app.take() {
            let reason = DisconnectReason::Engine(sio_protocol::engine::CloseReason::ForcedClose);
            let _ = guarded("on_close", sid(&self.session), || app.on_close(reason));
            self.shared.queues.app_gone();
        }
        self.session.close(now);
    }

    fn input(&mut self, now: std::time::Instant, transport: TransportKind, input: Input) {
        match input {
            Input::Packet(packet) => {
                match &packet {
                    Packet::Message(text) => crate::metrics::message_received(text.len()),
                    Packet::Binary(data) => crate::metrics::message_received(data.len()),
                    _ => {}
                }
                if transport != self.session.transport() && !self.session.is_upgrading() {
                    // The session ignores it: a packet of the old transport after an upgrade.
                    tracing::debug!(
                        sid = %sid(&self.session),
                        %transport,
                        packet = ?packet.packet_type(),
                        "packet from a transport no longer in use, ignored"
                    );
                }
                self.session.handle_packet(now, transport, packet)
            }
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
        // Counted once per flush: one visit to the metrics recorder for the whole batch.
        let (mut sent, mut sent_bytes) = (0, 0);
        while let Some(transmit) = self.session.poll_transmit() {
            let len = match &transmit.packet {
                Packet::Message(text) => text.len(),
                Packet::Binary(data) => data.len(),
                _ => 0,
            };
            if matches!(transmit.packet, Packet::Message(_) | Packet::Binary(_)) {
                sent += 1;
                sent_bytes += len;
                self.buffered = self.buffered.saturating_sub(1);
            }
            match transmit.transport {
                TransportKind::Polling => {
                    let polling = self.polling.get_or_insert_default();
                    polling.batch_bytes += len;
                    polling.batch.push(transmit.packet);
                }
                TransportKind::WebSocket => {
                    self.pending_bytes = self.pending_bytes.saturating_sub(len);
                    self.write_ws(&transmit.packet);
                }
            }
        }
        crate::metrics::messages_sent(sent, sent_bytes);
        if let Some(polling) = &mut self.polling {
            if !polling.batch.is_empty() {
                if let Some((reply, b64)) = polling.pending_get.take() {
                    let batch = std::mem::take(&mut polling.batch);
                    self.pending_bytes = self.pending_bytes.saturating_sub(polling.batch_bytes);
                    polling.batch_bytes = 0;
                    let _ = reply.send(self.encode(&batch, b64));
                }
            }
        }
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Message(text) => self.deliver(Message::Text(text)),
                Event::Binary(data) => self.deliver(Message::Binary(data)),
                Event::Upgraded(_) => {
                    crate::metrics::engine_upgraded();
                    self.shared.on_websocket.store(true, Ordering::Release);
                    // A POST still being read belongs to the old transport: it is dropped.
                    self.shared.queues.notify_changed();
                    if let Some((reply, b64)) = self.take_get() {
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
        let format = PayloadFormat::for_request(self.session.version(), b64, has_binary);
        PollReply::Body {
            body: PayloadEncoder::encode(packets, format),
            content_type: format.content_type(),
        }
    }

    fn write_ws(&mut self, packet: &Packet) {
        let Some(ws) = &mut self.ws else {
            return;
        };
        if ws.send(packet.to_frame(self.session.version())).is_err() {
            // The client does not read: drop the WebSocket and end the session.
            tracing::warn!(sid = %sid(&self.session), "websocket send queue full, closing");
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

    /// Input is read only while the application's queue has room, and one input yields at
    /// most one message.
    fn deliver(&mut self, message: Message) {
        if self.app.is_some() {
            // Taken by the next step, when the application is ready.
            self.shared.queues.lock().push_app(message);
        } else {
            self.shared.queues.deliver(message);
        }
    }

    /// The cleanup: called once, when the driver is dropped (its task ended, unwound, or was
    /// dropped with the runtime).
    fn finish(&mut self) {
        if std::mem::replace(&mut self.finished, true) {
            return;
        }
        // No reason: the task did not end normally (it unwound, or the runtime dropped it).
        let reason = self.reason.unwrap_or(DisconnectReason::Engine(
            sio_protocol::engine::CloseReason::ForcedClose,
        ));
        self.registry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(sid(&self.session));
        if let Some((reply, b64)) = self.take_get() {
            let batch = match self.polling.as_mut() {
                Some(polling) if !polling.batch.is_empty() => std::mem::take(&mut polling.batch),
                _ => vec![Packet::Close],
            };
            let _ = reply.send(self.encode(&batch, b64));
        }
        if let Some(ws) = self.ws.take() {
            ws.close(None);
        }
        // Waiters wake up; control items that came too late are dropped (a GET among them
        // gets its reply channel closed).
        drop(self.shared.queues.close(reason));
        if let Some(mut app) = self.app.take() {
            let _ = guarded("on_close", sid(&self.session), || app.on_close(reason));
        }
        crate::metrics::engine_closed(self.session.transport(), reason);
        tracing::debug!(sid = %sid(&self.session), %reason, "session closed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sio_protocol::engine::ProtocolVersion;
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// An application that panics on its first message.
    struct Panicking {
        closed: Arc<Mutex<Option<DisconnectReason>>>,
    }

    impl SessionApp for Panicking {
        fn on_message(&mut self, _message: Message) {
            panic!("a handler bug");
        }
        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<()> {
            Poll::Ready(())
        }
        fn on_close(&mut self, reason: DisconnectReason) {
            *self.closed.lock().unwrap() = Some(reason);
        }
    }

    #[tokio::test]
    async fn a_panicking_application_closes_its_session_and_the_cleanup_runs() {
        let now = std::time::Instant::now();
        let sid = Str::from_static("panicking-session-id");
        let session = Session::server(
            sid.clone(),
            TransportKind::Polling,
            sio_protocol::engine::SessionConfig::default(),
            now,
        );
        let handle = SessionHandle::new(
            ProtocolVersion::V4,
            TransportKind::Polling,
            false,
            None,
            8,
            1024,
        );
        let registry: Arc<Registry> = Arc::new(Mutex::new(HashMap::new()));
        registry.lock().unwrap().insert(sid.clone(), handle.clone());
        let closed = Arc::new(Mutex::new(None));
        let app = Panicking {
            closed: closed.clone(),
        };
        spawn(
            session,
            &handle,
            None,
            registry.clone(),
            Some(Box::new(app)),
            None,
        );
        // The handshake GET takes the open packet.
        let (reply, answer) = oneshot::channel();
        handle.control(Control::Get { b64: false, reply }).unwrap();
        assert!(matches!(answer.await, Ok(PollReply::Body { .. })));
        handle
            .data(Input::Packet(Packet::Message(Str::from_static("boom"))))
            .await
            .unwrap();
        // The session closes like `close()`: the next GET carries the close packet.
        let (reply, answer) = oneshot::channel();
        handle.control(Control::Get { b64: false, reply }).unwrap();
        let wait = std::time::Duration::from_secs(5);
        match tokio::time::timeout(wait, answer).await {
            Ok(Ok(PollReply::Body { body, .. })) => assert_eq!(&body[..], b"1"),
            other => panic!("{other:?}"),
        }
        let reason = tokio::time::timeout(wait, handle.shared.queues.closed())
            .await
            .expect("the session ends");
        assert_eq!(
            reason,
            DisconnectReason::Engine(sio_protocol::engine::CloseReason::ForcedClose)
        );
        // The cleanup ran: the session is unregistered and the application was told.
        assert!(registry.lock().unwrap().is_empty());
        assert_eq!(*closed.lock().unwrap(), Some(reason));
        // A later GET is refused instead of hanging.
        let (reply, _answer) = oneshot::channel();
        assert!(handle.control(Control::Get { b64: false, reply }).is_err());
    }
}
