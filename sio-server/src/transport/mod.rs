//! The two transports: HTTP long-polling (with its JSONP variant) and WebSocket.

pub(crate) mod deflate;
pub(crate) mod jsonp;
pub(crate) mod polling;
pub(crate) mod ws;
