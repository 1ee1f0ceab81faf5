//! The I/O under an engine connection: HTTP long-polling requests and a WebSocket.
//!
//! Each POST runs in a small task that only moves bytes and returns its outcome as an [`Io`]
//! value; the long-polling GET and the WebSocket are polled by the engine's task itself. No
//! task but the engine's touches the session.

pub(crate) mod endpoint;
pub(crate) mod io;
pub(crate) mod polling;
pub(crate) mod ws;
