//! [`Io`]: what the transports report to the engine.

use sio_protocol::engine::{Frame, Packet};

use crate::error::Error;

/// What the I/O reports to the engine.
#[derive(Debug)]
pub(crate) enum Io {
    /// A packet of the long poll's body, as soon as its record arrived.
    PollPacket(Packet),
    /// The long poll ended: its body was complete, or it failed.
    PollEnd(Result<(), PollError>),
    /// A POST finished (or failed).
    Post(Result<(), Error>),
    /// The WebSocket handshake finished (or failed).
    WsOpen(Result<(), Error>),
    /// A WebSocket message arrived.
    WsFrame(Frame),
    /// The WebSocket ended: cleanly (`None`) or with an error.
    WsClosed(Option<Error>),
}

/// How a long poll ended badly.
#[derive(Debug)]
pub(crate) enum PollError {
    /// The request failed, or went over a bound (`"xhr poll error"`, with its cause).
    Transport(Error),
    /// The body does not decode (engine.io-parser's `error` packet).
    Decode(sio_protocol::Error),
}
