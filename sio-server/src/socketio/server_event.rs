//! Server-side events: messages between the servers of a cluster
//! ([`Namespace::server_side_emit`](super::Namespace::server_side_emit),
//! [`Namespace::on_server_event`](super::Namespace::on_server_event)), [`ServerEventAck`] and
//! [`ServerSideAckFuture`].
//!
//! Below the public `Namespace`: the future holds the namespace's state as the adapter layer
//! sees it ([`NsCore`]: its options and adapter), and the handlers' type, which takes a
//! `Namespace`, is `namespace.rs`'s.

use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use sio_protocol::Error as ProtocolError;
use sio_protocol::Str;
use sio_protocol::socket::Args;
use tokio::time::Instant;

use super::adapter::NsCore;
use super::cluster::{ReplyEvent, ReplySink};
use super::error::Error;
use super::future::BoxFuture;

/// The event names a namespace keeps for itself (socket.io's `RESERVED_EVENTS` of
/// `namespace.ts`): they cannot be sent or handled as server-side events.
pub(crate) const NAMESPACE_RESERVED_EVENTS: [&str; 3] = ["connect", "connection", "new_namespace"];

pub(crate) fn check_server_event(event: &str) -> Result<(), Error> {
    if NAMESPACE_RESERVED_EVENTS.contains(&event) {
        Err(Error::reserved(event))
    } else {
        Ok(())
    }
}

/// The handle to answer a server-side event that asked for an acknowledgement (the callback
/// a JavaScript `io.on("event", (...args, cb) => ...)` handler gets). Answering an event that
/// asked for none does nothing. The handlers of one event share it: the first answer is sent,
/// the others are dropped (the sender counts one answer per server).
#[derive(Debug, Clone)]
pub struct ServerEventAck {
    sink: Option<ReplySink>,
    /// Set by the first answer among the handlers of one event.
    answered: Arc<AtomicBool>,
}

impl ServerEventAck {
    /// The ack that the handlers of one event share (the first answer wins).
    pub(crate) fn shared(sink: Option<ReplySink>) -> Self {
        ServerEventAck {
            sink,
            answered: Arc::default(),
        }
    }

    /// Whether the sending server waits for an answer (and no handler of this event has
    /// answered yet).
    pub fn is_requested(&self) -> bool {
        self.sink.is_some() && !self.answered.load(Ordering::Acquire)
    }

    /// Answers with `reply`, **one** value (socket.io passes a single argument back; a tuple is
    /// sent as an array).
    pub fn send<T: Serialize + ?Sized>(self, reply: &T) -> Result<(), Error> {
        let Some(sink) = self.sink else {
            return Ok(());
        };
        if self.answered.swap(true, Ordering::AcqRel) {
            // Another handler of this event answered first.
            return Ok(());
        }
        sink.reply(Args::from_values(vec![
            sio_protocol::Value::from_serialize(reply).map_err(Error::args)?,
        ]));
        Ok(())
    }
}

/// [`Namespace::server_side_emit_with_ack`](super::Namespace::server_side_emit_with_ack): await it for one answer per other server of the
/// cluster, within the timeout ([`timeout`](Self::timeout), default
/// [`SocketIoConfig::ack_timeout`](crate::SocketIoConfig)).
///
/// Resolves to the answers (one argument each, in the order they arrived; none at once when
/// this server is alone), or to an [`Error`] with the answers that came
/// ([`Error::replies`], and [`Error::expected_replies`]): the timeout passed (kind
/// [`Timeout`](crate::ErrorKind::Timeout)), or the adapter failed ([`Error::is_adapter`]), or
/// the name is reserved (kind [`Args`](crate::ErrorKind::Args)).
#[derive(Debug)]
#[must_use = "the event is sent only when the future is awaited"]
pub struct ServerSideAckFuture {
    ns: Arc<dyn NsCore>,
    event: String,
    args: Result<Args, ProtocolError>,
    timeout: Option<Duration>,
}

impl ServerSideAckFuture {
    pub(crate) fn new(
        ns: Arc<dyn NsCore>,
        event: String,
        args: Result<Args, ProtocolError>,
    ) -> Self {
        ServerSideAckFuture {
            ns,
            event,
            args,
            timeout: None,
        }
    }

    /// Waits at most `timeout` for the answers.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl IntoFuture for ServerSideAckFuture {
    type Output = Result<Vec<Args>, Error>;
    type IntoFuture = BoxFuture<'static, Result<Vec<Args>, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let fail = |error: Error| error.with_replies(Vec::new(), None);
            check_server_event(&self.event)?;
            let args = self.args.map_err(Error::args)?;
            let timeout = self.timeout.unwrap_or_else(|| self.ns.config().ack_timeout);
            let deadline = Instant::now() + timeout;
            let adapter = self.ns.adapter().clone();
            let servers = match tokio::time::timeout_at(deadline, adapter.server_count()).await {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(fail(e)),
                Err(_) => return Err(fail(Error::timeout())),
            };
            let expected = servers.saturating_sub(1);
            if expected == 0 {
                return Ok(Vec::new());
            }
            let (sink, mut rx) = ReplySink::channel();
            let event = Str::from(self.event);
            let sent = tokio::time::timeout_at(
                deadline,
                adapter.server_side_emit(event, args, Some(sink)),
            )
            .await;
            let mut replies = Vec::with_capacity(expected);
            let drain = |rx: &mut tokio::sync::mpsc::UnboundedReceiver<ReplyEvent>,
                         replies: &mut Vec<Args>| {
                while let Ok(event) = rx.try_recv() {
                    if let ReplyEvent::Reply(args) = event {
                        replies.push(args);
                    }
                }
            };
            match sent {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    drain(&mut rx, &mut replies);
                    return Err(e.with_replies(replies, Some(expected)));
                }
                Err(_) => {
                    drain(&mut rx, &mut replies);
                    return Err(Error::timeout().with_replies(replies, Some(expected)));
                }
            }
            while replies.len() < expected {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(ReplyEvent::Reply(args))) => replies.push(args),
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        return Err(Error::adapter_closed().with_replies(replies, Some(expected)));
                    }
                    Err(_) => {
                        return Err(Error::timeout().with_replies(replies, Some(expected)));
                    }
                }
            }
            Ok(replies)
        })
    }
}
