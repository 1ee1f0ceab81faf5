//! The msgpack parser (npm `socket.io-msgpack-parser`).
//!
//! TODO(msgpack): placeholder so that the `msgpack` feature builds; the msgpack parser's owner
//! replaces both functions with the real codec.

use super::decode::{DecodeError, DecoderConfig};
use super::encode::Encoded;
use super::{ArgsError, Packet};
use crate::engine::Frame;

/// Encodes a packet as one msgpack binary message.
pub(super) fn encode(_packet: &Packet) -> Result<Encoded, ArgsError> {
    Err(ArgsError::Unsupported(
        "the msgpack parser is not implemented yet",
    ))
}

/// Decodes one msgpack binary message.
pub(super) fn decode(
    _frame: Frame,
    _config: &DecoderConfig,
) -> Result<Option<Packet>, DecodeError> {
    Err(DecodeError::Unsupported)
}
