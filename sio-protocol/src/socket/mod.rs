//! Socket.IO: packets, the JSON codec of socket.io-parser (and, with the `msgpack` feature, the
//! codec of socket.io-msgpack-parser), binary attachments, the payload data model, and the
//! session state machines of both sides ([`ServerSession`], [`ClientSession`]).

mod args;
mod args_de;
mod args_ser;
mod codec;
mod decode;
mod encode;
pub(crate) mod json;
mod lenient;
#[cfg(feature = "msgpack")]
mod msgpack;
mod packet;
mod scan;
mod session;

pub use args::Args;
pub use codec::{DecodeReason, DecoderConfig, Encoded, Parser};
pub use decode::Decoder;
pub use encode::Encoder;
pub use packet::{EventName, Packet, PacketData, PacketType, ProtocolVersion, RESERVED_EVENTS};
pub use session::{
    AckFailure, ClientConfig, ClientDisconnectReason, ClientEvent, ClientSession, ConnectRequest,
    Emit, RecoveryRequest, ServerConfig, ServerDisconnectReason, ServerEvent, ServerSession,
    SessionReason, V2_SERVER_MESSAGE,
};
