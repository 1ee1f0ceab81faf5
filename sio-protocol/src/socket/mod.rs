//! Socket.IO: packets, the JSON codec of socket.io-parser (and, with the `msgpack` feature, the
//! codec of socket.io-msgpack-parser), binary attachments, and the payload data model.

mod args;
mod decode;
mod encode;
mod packet;

pub use args::{Args, ArgsError};
pub use decode::{DecodeError, Decoder, DecoderConfig};
pub use encode::{Encoder, Parser};
pub use packet::{EventName, Packet, PacketData, PacketType, ProtocolVersion, RESERVED_EVENTS};
