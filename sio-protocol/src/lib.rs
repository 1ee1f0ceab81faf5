//! The sans-IO core of sio: Engine.IO and Socket.IO codecs and state machines.
//!
//! Nothing in this crate touches a socket, a clock or a runtime. Time comes in as `now`
//! arguments, randomness as a caller-supplied number, bytes in and out as [`bytes::Bytes`] and
//! [`Str`]. Both the server (`sio-server`) and the client (`sio-client`) drive the same code.
//!
//! ```text
//!  bytes on the wire (HTTP long-polling bodies, WebSocket frames)
//!    │   engine::payload / engine::Packet        Engine.IO v3 + v4 packets and polling payloads
//!    ▼
//!  engine::Session                               handshake, heartbeat, upgrade probe, close
//!    │   (Engine.IO `message` packets)
//!    ▼
//!  socket::{Encoder, Decoder}                    Socket.IO v4 + v5 packets, binary attachments
//!    │   socket::Packet { nsp, data: Event { name, args: Args, id } .. }
//!    ▼
//!  Args::deserialize::<T>() / Value              the user's typed or dynamic data
//! ```
//!
//! Companion state machines: [`Backoff`] (reconnection delays exactly as socket.io-client
//! computes them) and [`AckTracker`] (ack ids and deadlines).

pub mod engine;
pub mod socket;

mod ack;
mod backoff;
mod str;
mod value;

pub use ack::{AckId, AckTracker};
pub use backoff::Backoff;
pub use str::Str;
pub use value::{Map, Number, Value};
