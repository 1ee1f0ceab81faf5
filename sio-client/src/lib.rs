//! A Socket.IO client that behaves like `socket.io-client` 4.x (work in progress; see the project README).
//!
//! The protocol logic lives in [`sio_protocol`]; this crate will add the I/O.

pub use sio_protocol as protocol;
