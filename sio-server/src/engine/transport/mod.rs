//! The two transports: HTTP long-polling (with its JSONP variant) and WebSocket.

pub(crate) mod deflate;
pub(crate) mod polling;
pub(crate) mod ws;

use sio_protocol::engine::Packet;

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
