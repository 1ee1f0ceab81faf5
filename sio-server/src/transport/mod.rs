//! The two transports: HTTP long-polling (with its JSONP variant) and WebSocket.

// Nothing calls it yet: the WebSocket frame codec (transport/ws) will.
#[allow(dead_code)]
pub(crate) mod deflate;
pub(crate) mod jsonp;
pub(crate) mod polling;
pub(crate) mod ws;
