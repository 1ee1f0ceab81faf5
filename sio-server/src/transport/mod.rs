//! The two transports: HTTP long-polling (with its JSONP variant) and WebSocket.

// Nothing calls it yet: the WebSocket (transport/ws/socket.rs) will, for the handshake's
// Sec-WebSocket-Extensions, WsMessage::Compressed and outgoing data frames.
#[allow(dead_code)]
pub(crate) mod deflate;
pub(crate) mod jsonp;
pub(crate) mod polling;
pub(crate) mod ws;
