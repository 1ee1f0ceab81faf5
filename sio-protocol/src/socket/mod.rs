//! Socket.IO: packets, the JSON codec of socket.io-parser (and, with the `msgpack` feature, the
//! codec of socket.io-msgpack-parser), binary attachments, the payload data model, and the
//! session state machines of both sides ([`ServerSession`], [`ClientSession`]).

mod args;
mod args_de;
mod args_ser;
mod decode;
mod encode;
mod json;
mod lenient;
#[cfg(feature = "msgpack")]
mod msgpack;
mod packet;
mod scan;
mod session;

pub use args::{Args, ArgsError};
pub use decode::{DecodeError, Decoder, DecoderConfig};
pub use encode::{Encoded, Encoder, Parser};
pub use packet::{EventName, Packet, PacketData, PacketType, ProtocolVersion, RESERVED_EVENTS};
pub use session::{
    AckFailure, ClientConfig, ClientDisconnectReason, ClientEvent, ClientSession, ConnectRequest,
    Emit, RecoveryRequest, ServerConfig, ServerDisconnectReason, ServerEvent, ServerSession,
    SessionError, V2_SERVER_MESSAGE,
};

pub(crate) use json::js_number_f64;

/// Writes `value` as JSON without splitting binary out (see `Value`'s `Display`).
pub(crate) fn write_json_value(out: &mut Vec<u8>, value: &crate::Value) {
    json::write_value(out, value, None);
}
