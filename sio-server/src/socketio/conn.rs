//! The connection level of the Socket.IO layer: [`ClientShared`], what the sockets of one
//! Engine.IO connection share (its `sio_protocol` `ServerSession` behind one lock, the writes
//! of their packets, the pending acknowledgements and where their answers go,
//! [`AckSender`]), and [`frames`], the Engine.IO messages of an encoded packet.
//!
//! It knows its sockets through [`ConnSocket`] only (what a connection asks of a socket: its
//! namespace, its id, being told it disconnected), which [`Socket`](super::Socket) implements
//! one layer up; the task that drives a connection (`client.rs`) sits above both.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::Instant;

use sio_protocol::Str;
use sio_protocol::socket::{
    AckFailure, Args, Encoder, Packet, ProtocolVersion as SocketProtocol, ServerConfig,
    ServerDisconnectReason, ServerEvent, ServerSession,
};
use tokio::sync::oneshot;

use super::cluster::ReplySink;
use super::config::SocketIoConfig;
use super::error::Error;
use crate::engine::connection::ConnectionSender;
use crate::engine::message::{Message, SendError};

/// What a connection asks of one of its sockets: [`Socket`](super::Socket) implements it.
pub(crate) trait ConnSocket: Clone {
    /// The socket's namespace.
    fn nsp(&self) -> &str;
    /// The socket id.
    fn id(&self) -> &Str;
    /// The connection's session says the socket left its namespace (`persist`: the pid to
    /// keep its session under, for connection state recovery).
    fn on_disconnected(&self, reason: ServerDisconnectReason, persist: Option<Str>);
}

/// Where the acknowledgement of an emitted event goes: the value the connection's
/// [`ServerSession`](sio_protocol::socket::ServerSession) keeps per pending ack.
#[derive(Debug)]
pub(crate) enum AckSender {
    /// `Socket::emit_with_ack`: the answer, or why none will come.
    One(oneshot::Sender<Result<Args, AckFailure>>),
    /// A broadcast's `emit_with_ack` (of this server or another one): the replies of every
    /// recipient go to one sink.
    Broadcast(ReplySink),
}

/// The connection's Socket.IO session and what the task driving it is armed for, behind one
/// lock: every packet of the connection is written under it, so packets never interleave,
/// and nothing a command of the session queued is overtaken.
pub(crate) struct Cell {
    pub(crate) session: ServerSession<AckSender>,
    /// The deadline the driving task's timer is set to (or about to be).
    pub(crate) armed: Option<Instant>,
    /// The driving task, woken when a command of another task moves the session's timeout
    /// earlier (an `emit_with_ack` from a handler).
    pub(crate) waker: Option<Waker>,
}

/// What the sockets of one connection share: its Socket.IO session, the writes to it, and its
/// sockets (`S`: [`Socket`](super::Socket), one per namespace).
pub(crate) struct ClientShared<S> {
    pub(crate) sender: ConnectionSender,
    pub(crate) encoder: Encoder,
    cell: Mutex<Cell>,
    /// The session's timeout may have moved: the driving task re-reads it.
    pub(crate) rearm: AtomicBool,
    /// The connected sockets (one per namespace; a list, not a map: a connection is in one
    /// or two namespaces).
    sockets: Mutex<Vec<S>>,
}

impl<S> fmt::Debug for ClientShared<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientShared")
            .field("sid", self.sender.sid())
            .finish_non_exhaustive()
    }
}

/// The events of a session command, handled once its lock is released.
pub(crate) type Events = Vec<ServerEvent<AckSender>>;

/// `now` for the session: Tokio's clock, so that tests in paused time drive it.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl<S: ConnSocket> ClientShared<S> {
    pub(crate) fn new(sender: ConnectionSender, config: &SocketIoConfig) -> Self {
        let version = if sender.protocol() == sio_protocol::engine::ProtocolVersion::V3 {
            SocketProtocol::V4
        } else {
            SocketProtocol::V5
        };
        let session_config = ServerConfig::default()
            .version(version)
            .connect_timeout(config.connect_timeout)
            .recovery(config.connection_state_recovery.is_some());
        let session = ServerSession::new(sender.sid().clone(), session_config, now());
        ClientShared {
            encoder: Encoder::new(config.parser),
            cell: Mutex::new(Cell {
                session,
                armed: None,
                waker: None,
            }),
            rearm: AtomicBool::new(true),
            sockets: Mutex::new(Vec::new()),
            sender,
        }
    }

    pub(crate) fn cell(&self) -> MutexGuard<'_, Cell> {
        self.cell.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the session, writes the packets it queued, and returns its events, to be
    /// handled once the lock is released. Wakes the driving task when the session's timeout
    /// moved earlier than its timer.
    pub(crate) fn with_session<R>(
        &self,
        f: impl FnOnce(&mut ServerSession<AckSender>) -> R,
    ) -> (R, Events) {
        let mut cell = self.cell();
        let result = f(&mut cell.session);
        let _ = self.flush(&mut cell.session);
        let mut events = Vec::new();
        while let Some(event) = cell.session.poll_event() {
            events.push(event);
        }
        self.check_timer(&mut cell);
        (result, events)
    }

    fn check_timer(&self, cell: &mut Cell) {
        let timeout = cell.session.poll_timeout();
        let earlier = match (timeout, cell.armed) {
            (Some(t), Some(armed)) => t < armed,
            (Some(_), None) => true,
            (None, Some(_)) => {
                // Nothing is due any more: the driving task frees its timer when it next
                // runs (no need to wake it for that).
                cell.armed = None;
                self.rearm.store(true, Ordering::Release);
                false
            }
            (None, None) => false,
        };
        if earlier {
            cell.armed = timeout;
            self.rearm.store(true, Ordering::Release);
            if let Some(waker) = &cell.waker {
                waker.wake_by_ref();
            }
        }
    }

    /// Encodes and writes the packets the session queued; the error of the last one that
    /// could not be written.
    fn flush(&self, session: &mut ServerSession<AckSender>) -> Result<(), Error> {
        let mut result = Ok(());
        while let Some(packet) = session.poll_transmit() {
            result = match self.encoder.encode(&packet) {
                Ok(encoded) => self.queue(frames(encoded), false),
                Err(error) => {
                    tracing::debug!(sid = %self.sender.sid(), %error, "packet not encoded");
                    Err(Error::args(error))
                }
            };
        }
        result
    }

    /// Queues the messages of one packet, all or none (the caller holds the session's lock).
    pub(crate) fn queue(&self, messages: Vec<Message>, volatile: bool) -> Result<(), Error> {
        let result = if messages.len() == 1 {
            let mut messages = messages;
            match messages.pop() {
                Some(message) => self.sender.try_send(message),
                None => Ok(()),
            }
        } else {
            self.sender.try_send_all(messages)
        };
        match result {
            Ok(()) => Ok(()),
            Err(SendError::Full(_)) => {
                crate::metrics::packet_dropped(volatile);
                if !volatile {
                    tracing::warn!(sid = %self.sender.sid(), "send queue full: packet dropped");
                }
                Err(Error::full())
            }
            Err(_) => Err(Error::disconnected()),
        }
    }

    /// Writes the messages of one packet of `nsp`, all or none, if its socket is connected.
    pub(crate) fn write(
        &self,
        nsp: &str,
        messages: Vec<Message>,
        volatile: bool,
    ) -> Result<(), Error> {
        let cell = self.cell();
        if !cell.session.is_connected(nsp) {
            return Err(Error::disconnected());
        }
        self.queue(messages, volatile)
    }

    /// Writes the messages of an EVENT of `nsp` that carries the ack id `ack.0`: the session
    /// waits for the answer until the deadline `ack.1`, and hands it to `ack.2`.
    pub(crate) fn write_with_ack(
        &self,
        nsp: &str,
        messages: Vec<Message>,
        (id, deadline, sender): (u64, Option<Instant>, AckSender),
    ) -> Result<(), Error> {
        let mut cell = self.cell();
        if cell.session.expect_ack(nsp, id, deadline, sender).is_err() {
            return Err(Error::disconnected());
        }
        if let Err(error) = self.queue(messages, false) {
            cell.session.cancel_ack(nsp, id);
            return Err(error);
        }
        crate::metrics::ack_expected();
        self.check_timer(&mut cell);
        Ok(())
    }

    /// Encodes and writes a packet of a connected namespace (an ACK).
    pub(crate) fn send_packet(&self, packet: &Packet) -> Result<(), Error> {
        let encoded = self.encoder.encode(packet).map_err(Error::args)?;
        self.write(&packet.nsp, frames(encoded), false)
    }

    fn sockets(&self) -> MutexGuard<'_, Vec<S>> {
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn socket(&self, nsp: &str) -> Option<S> {
        self.sockets().iter().find(|s| s.nsp() == nsp).cloned()
    }

    /// Adds the socket of a namespace (replacing the one it may have had).
    pub(crate) fn insert(&self, socket: S) {
        let mut sockets = self.sockets();
        sockets.retain(|s| s.nsp() != socket.nsp());
        sockets.reserve_exact(1);
        sockets.push(socket);
    }

    /// Forgets the socket of `nsp` if it is `id`.
    pub(crate) fn remove(&self, nsp: &str, id: &str) {
        let mut sockets = self.sockets();
        sockets.retain(|s| s.nsp() != nsp || s.id() != id);
        if sockets.is_empty() {
            *sockets = Vec::new();
        }
    }

    /// `socket.disconnect()`: the client gets DISCONNECT for `nsp`, its socket leaves.
    pub(crate) fn disconnect(&self, nsp: &str) {
        let (_, events) = self.with_session(|session| session.disconnect(nsp));
        self.handle_events(events);
    }

    /// `socket.disconnect(true)`: every namespace gets DISCONNECT, then the connection closes
    /// (`"forced server close"`).
    pub(crate) fn disconnect_all(&self) {
        let (_, events) = self.with_session(|session| {
            let namespaces: Vec<Str> = session.namespaces().cloned().collect();
            for nsp in namespaces {
                let _ = session.disconnect(&nsp);
            }
            session.close(now(), ServerDisconnectReason::ForcedServerClose);
        });
        self.handle_events(events);
    }

    /// Closes every socket with `reason` (no packet) and the connection.
    pub(crate) fn close_all(&self, reason: ServerDisconnectReason) {
        let (_, events) = self.with_session(|session| session.close(now(), reason));
        self.handle_events(events);
    }

    /// Handles the events of a session command: acks, disconnections, the end of the
    /// session. (Received events and CONNECT requests come from the driving task's input
    /// only: the connection's application, `client::ClientApp`, handles them.)
    pub(crate) fn handle_events(&self, events: Events) {
        for event in events {
            self.handle_event(event);
        }
    }

    pub(crate) fn handle_event(&self, event: ServerEvent<AckSender>) {
        match event {
            ServerEvent::Ack { value, result, .. } => {
                crate::metrics::ack_done(matches!(
                    result,
                    Err(sio_protocol::socket::AckFailure::Timeout)
                ));
                match (value, result) {
                    (AckSender::One(tx), result) => {
                        let _ = tx.send(result);
                    }
                    (AckSender::Broadcast(sink), Ok(args)) => sink.reply(args),
                    // The broadcast's caller times out by itself.
                    (AckSender::Broadcast(_), Err(_)) => {}
                }
            }
            ServerEvent::Disconnected {
                nsp,
                sid,
                reason,
                persist,
            } => {
                let socket = self.socket(&nsp).filter(|s| *s.id() == sid);
                if let Some(socket) = socket {
                    socket.on_disconnected(reason, persist);
                }
            }
            ServerEvent::Closed(_) => self.sender.close(),
            other => {
                tracing::debug!(sid = %self.sender.sid(), event = ?other, "unexpected session event");
            }
        }
    }
}

/// The Engine.IO messages of an encoded packet.
pub(crate) fn frames(encoded: sio_protocol::socket::Encoded) -> Vec<Message> {
    encoded
        .into_frames()
        .map(|frame| match frame {
            sio_protocol::engine::Frame::Text(text) => Message::Text(text),
            sio_protocol::engine::Frame::Binary(data) => Message::Binary(data),
        })
        .collect()
}
