//! [`Message`]: an event from the server, as a handler receives it, with the means to answer
//! its ack request.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sio_protocol::socket::Args;

use crate::commands::{Command, CommandSender};
use crate::error::Error;

/// An event from the server, as a handler receives it.
#[derive(Clone)]
pub struct Message {
    pub(crate) event: String,
    pub(crate) args: Args,
    pub(crate) ack: Option<AckSender>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("event", &self.event)
            .field("args", &self.args)
            .field("wants_ack", &self.ack.is_some())
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
    /// (see [`Args::deserialize`]).
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.args.deserialize().map_err(Error::args)
    }

    /// Whether the server asked for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }

    /// Answers the server's ack request with `args` (spread as in
    /// [`Socket::emit`](crate::Socket::emit)). Only the first answer is sent; without a
    /// request it does nothing.
    pub fn ack<T: Serialize + ?Sized>(&self, args: &T) -> Result<(), Error> {
        match &self.ack {
            Some(ack) => ack.send(args),
            None => Ok(()),
        }
    }
}

/// Sends the answer to one ack request of the server (shared by the clones of a [`Message`]).
#[derive(Clone)]
pub(crate) struct AckSender {
    pub(crate) nsp: String,
    pub(crate) id: u64,
    pub(crate) sent: Arc<AtomicBool>,
    pub(crate) commands: CommandSender,
}

impl AckSender {
    fn send<T: Serialize + ?Sized>(&self, args: &T) -> Result<(), Error> {
        let args = Args::new(args).map_err(Error::args)?;
        if !self.sent.swap(true, Ordering::AcqRel) {
            self.commands
                .send(Command::Ack(Box::new((self.nsp.clone(), self.id, args))));
        }
        Ok(())
    }
}
