//! Engine.IO: packets, polling payloads, WebSocket frames, the handshake, error codes, and the
//! [`Session`] state machine shared by servers and clients.
//!
//! Protocol v4 (`EIO=4`) is the default; v3 (`EIO=3`, Socket.IO 2.x clients) is supported for
//! compatibility. The differences that reach this layer are the heartbeat direction, the
//! polling payload framing and the binary framing on WebSocket.

mod error;
pub mod jsonp;
mod open;
mod packet;
mod payload;
mod session;

pub use error::{DecodeReason, ErrorCode};
pub use open::OpenPacket;
pub use packet::{Frame, Packet, PacketType, ProtocolVersion};
pub use payload::{PayloadDecoder, PayloadEncoder, PayloadFormat, split_batch};
pub use session::{CloseReason, Event, Role, Session, SessionConfig, Transmit, TransportKind};
