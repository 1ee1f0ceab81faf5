//! A Socket.IO 4.x server on hyper 1 (work in progress; see the project README).
//!
//! The protocol logic lives in [`sio_protocol`]; this crate will add the I/O.

pub use sio_protocol as protocol;
