//! [`Message`]: an event from the server, as a handler receives it, with the means to answer
//! its ack request.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sio_protocol::Str;
use sio_protocol::socket::Args;

use crate::commands::{Command, CommandSender};
use crate::error::Error;

/// An event from the server, as a handler receives it.
#[derive(Clone)]
pub struct Message {
    /// The event's name: shares the received frame's bytes (no copy, and a clone of the
    /// message copies no string).
    pub(crate) event: Str,
    pub(crate) args: Args,
    pub(crate) ack: AckSender,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("event", &self.event)
            .field("args", &self.args)
            .field("wants_ack", &self.ack.is_requested())
            .finish()
    }
}

impl Message {
    /// The event name.
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The arguments. With connection state recovery on the server, the last one is the
    /// event's offset (a string), as in socket.io-client.
    pub fn args(&self) -> &Args {
        &self.args
    }

    /// Reads the arguments as `T`: a tuple takes them in order, another type the first one
    /// (see [`Args::deserialize`]). Fails with an [`ErrorKind::Deserialize`](crate::ErrorKind)
    /// error that names the event and keeps the deserializer's error as its source.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.args
            .deserialize()
            .map_err(|e| Error::deserialize(&self.event, e))
    }

    /// Whether the server asked for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_requested()
    }

    /// Answers the server's ack request with `args` (spread as in
    /// [`Socket::emit`](crate::Socket::emit)). Only the first answer is sent; without a
    /// request it does nothing.
    pub fn ack<T: Serialize + ?Sized>(&self, args: &T) -> Result<(), Error> {
        self.ack.clone().send(args)
    }

    /// The answer to the server's ack request, to keep or move into a task.
    pub fn ack_sender(&self) -> AckSender {
        self.ack.clone()
    }
}

/// Answers the server's acknowledgement request of one event (the `callback` of a
/// JavaScript handler): what a typed handler with three parameters receives
/// (`|socket: Socket, data: T, ack: AckSender| async move { ... }`), and what
/// [`Message::ack`] uses. Clones share the request: only the first answer is sent. When
/// the server asked for no ack, answering does nothing ([`is_requested`](Self::is_requested)
/// tells).
#[derive(Clone)]
pub struct AckSender {
    inner: Option<AckInner>,
}

#[derive(Clone)]
struct AckInner {
    nsp: String,
    id: u64,
    sent: Arc<AtomicBool>,
    commands: CommandSender,
}

impl fmt::Debug for AckSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckSender")
            .field("id", &self.inner.as_ref().map(|i| i.id))
            .finish_non_exhaustive()
    }
}

impl AckSender {
    /// The answer to request `id` of namespace `nsp`.
    pub(crate) fn new(nsp: String, id: u64, commands: CommandSender) -> AckSender {
        AckSender {
            inner: Some(AckInner {
                nsp,
                id,
                sent: Arc::new(AtomicBool::new(false)),
                commands,
            }),
        }
    }

    /// An event without ack request.
    pub(crate) fn none() -> AckSender {
        AckSender { inner: None }
    }

    /// Whether the server asked for an acknowledgement.
    pub fn is_requested(&self) -> bool {
        self.inner.is_some()
    }

    /// Answers with `args` (spread as in [`Socket::emit`](crate::Socket::emit)). Fails when
    /// `args` cannot be serialized; does nothing without a request, or once answered.
    pub fn send<T: Serialize + ?Sized>(self, args: &T) -> Result<(), Error> {
        if self.inner.is_none() {
            return Ok(());
        }
        self.send_args(Args::new(args).map_err(Error::args)?);
        Ok(())
    }

    /// Answers with arguments already built.
    pub fn send_args(self, args: Args) {
        if let Some(inner) = self.inner
            && !inner.sent.swap(true, Ordering::AcqRel)
        {
            inner
                .commands
                .send(Command::Ack(Box::new((inner.nsp, inner.id, args))));
        }
    }
}
