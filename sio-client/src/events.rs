//! [`Events`]: a socket's events as a [`Stream`], for `while let Some(event) = ...` loops.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use crate::error::{ConnectError, DisconnectReason};
use crate::socket::{Message, Shared, lock};

/// What happened to a socket, as [`Events`] yields it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SocketEvent {
    /// `connect`: connected to the namespace.
    Connect,
    /// `connect_error`: the connection to the namespace failed or was refused.
    ConnectError(ConnectError),
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

impl Shared {
    /// Hands `event` to every live [`Events`] stream of the socket; forgets the dropped ones.
    pub(crate) fn publish(&self, event: SocketEvent) {
        let mut handlers = lock(&self.handlers);
        if handlers.streams.is_empty() {
            return;
        }
        handlers
            .streams
            .retain(|tx: &UnboundedSender<SocketEvent>| tx.send(event.clone()).is_ok());
    }
}
