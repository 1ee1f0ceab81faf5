//! What happens to sockets and managers: [`SocketEvent`] (and [`Events`], a socket's events as
//! a [`Stream`], for `while let Some(event) = ...` loops), and [`ManagerEvent`].

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::error::{DisconnectReason, Error};
use crate::message::Message;
use crate::options::TransportKind;

/// What happened to a socket, as [`Events`] yields it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SocketEvent {
    /// `connect`: connected to the namespace.
    Connect,
    /// `connect_error`: the connection to the namespace failed or was refused (see
    /// [`Socket::on_connect_error`](crate::Socket::on_connect_error)).
    ConnectError(Error),
    /// `disconnect`, with the reason.
    Disconnect(DisconnectReason),
    /// An event from the server (answer its ack request with [`Message::ack`]).
    Message(Message),
}

/// The events of a socket from the moment [`Socket::events`](crate::Socket::events) was
/// called, in order, as a [`Stream`]. It buffers without limit: keep reading it, or drop it
/// (which unsubscribes).
///
/// It ends when the manager's task ends (every handle of the manager and its sockets
/// dropped).
pub struct Events {
    rx: UnboundedReceiver<SocketEvent>,
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    pub(crate) fn new(rx: UnboundedReceiver<SocketEvent>) -> Events {
        Events { rx }
    }

    /// The next event, `None` once the stream has ended (without a `StreamExt` import).
    pub async fn recv(&mut self) -> Option<SocketEvent> {
        self.rx.recv().await
    }
}

impl Stream for Events {
    type Item = SocketEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SocketEvent>> {
        self.rx.poll_recv(cx)
    }
}

/// What happened to a manager's connection (socket.io-client's Manager events).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ManagerEvent {
    /// `open`: the connection is established.
    Open,
    /// `ping`: the server's heartbeat arrived.
    Ping,
    /// `upgrade` (of the engine, `manager.engine.on("upgrade")`): the connection moved to
    /// this transport (WebSocket, after a polling handshake).
    Upgrade(TransportKind),
    /// `error`: a connection attempt failed, or the transport of the open connection failed
    /// (before its `close`), with the error (`"xhr poll error"`, `"websocket error"`,
    /// `"timeout"`...; its [`source`](std::error::Error::source) is the cause).
    Error(Error),
    /// `close`: the connection closed, with the reason.
    Close(DisconnectReason),
    /// `reconnect_attempt`: reconnection attempt number n starts (1 first).
    ReconnectAttempt(u32),
    /// `reconnect`: reconnected after n attempts.
    Reconnect(u32),
    /// `reconnect_error`: a reconnection attempt failed.
    ReconnectError(Error),
    /// `reconnect_failed`: `reconnection_attempts` were used up; no more attempts.
    ReconnectFailed,
}
