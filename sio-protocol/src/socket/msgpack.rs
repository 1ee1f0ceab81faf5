//! The msgpack parser, compatible with the npm package `socket.io-msgpack-parser` 3.0.2 (which
//! encodes with notepack.io 2.2.0).
//!
//! A packet is one binary message: a msgpack map `{type, data?, nsp, id?}`, with binary as
//! msgpack bin wherever it sits in `data`. There are no attachments and no BINARY_EVENT /
//! BINARY_ACK: the JavaScript decoder rejects the types 5 and 6.
//!
//! # Encoding
//!
//! The JavaScript encoder writes the keys of the packet object in the order socket.io built
//! it; this encoder writes the order of the real peers (socket.io 4.8, socket.io-client 4.8):
//!
//! | packet        | keys                  | where JavaScript builds it |
//! |---------------|-----------------------|----------------------------|
//! | CONNECT       | `type, data, nsp`     | server `Socket._onconnect`, client `Socket._sendConnectPacket` |
//! | DISCONNECT    | `type, nsp`           | `Socket.disconnect` (both sides) |
//! | EVENT         | `type, data, id?, nsp`| server `Socket.emit`, client `Socket.emit` (and, without an id, `BroadcastOperator.emit`) |
//! | ACK           | `id, type, data, nsp` | server `Socket.ack` (the client writes `type, id, data, nsp`) |
//! | CONNECT_ERROR | `type, data, nsp`     | server `Socket._error` (a middleware error) |
//!
//! A CONNECT without payload writes `data` as notepack.io's `undefined` (`d4 00 00`), as
//! socket.io-client does without `auth`; a payload of `Null` counts as none. A CONNECT_ERROR
//! with a `Null` payload leaves `data` out. socket.io-client also writes an `options` key into
//! EVENTs (`{compress: true}`), which no decoder reads: it is not written here. Numbers, strings
//! and binary are written as notepack.io writes them (see `write.rs`).
//!
//! # Decoding
//!
//! The checks of the JavaScript `Decoder.checkPacket`, in its order: `type` an integer from 0
//! to 4 ([`DecodeReason::UnknownPacketType`]), `nsp` a string
//! ([`DecodeReason::InvalidNamespace`]), `data` as the type requires
//! ([`DecodeReason::InvalidPayload`]: CONNECT an object or absent, DISCONNECT absent, EVENT and
//! ACK an array, CONNECT_ERROR a string or an object), `id` absent or an integer
//! ([`DecodeReason::InvalidAckId`]). Keys in any order are accepted; unknown keys are read and
//! ignored; a key given twice takes its last value. A text message is
//! [`DecodeReason::UnexpectedText`]; malformed msgpack (truncated, trailing bytes, the reserved
//! byte `c1`, a non-string map key, nesting deeper than 128) is [`DecodeReason::InvalidPayload`].
//!
//! Stricter than JavaScript, because the packet could not be represented or handled: an EVENT
//! needs a name (a non-empty array whose first item is a string or a finite number), and with
//! protocol 5 the name must not be one of [`RESERVED_EVENTS`](super::RESERVED_EVENTS) (as
//! socket.io-parser checks); an ACK needs an id; an id must be at most 2^53-1 and not negative;
//! map keys must be strings. How the msgpack types map to [`Value`] is documented in
//! `read.rs` (`undefined` and non-finite floats become `Null`, a `Date` its milliseconds, an
//! `ArrayBuffer` binary, an unknown ext `[type, binary]`).

mod read;
mod write;

use bytes::Bytes;

use self::read::{Reader, integral};
use self::write::{UNDEFINED, write_array_len, write_map_len, write_str, write_uint, write_value};
use super::codec::{DecodeReason, DecoderConfig, Encoded};
use super::packet::{EventName, Packet, PacketData, ProtocolVersion};
use crate::engine::Frame;
use crate::error::Error;
use crate::str::Str;
use crate::value::{Number, Value};

/// The largest integer JavaScript numbers hold exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Encodes a packet as one msgpack binary message.
pub(super) fn encode(packet: &Packet) -> Result<Encoded, Error> {
    let nsp: &str = &packet.nsp;
    let mut out = Vec::with_capacity(32 + nsp.len());
    match &packet.data {
        PacketData::Connect(payload) => {
            write_map_len(&mut out, 3)?;
            write_type(&mut out, 0)?;
            write_str(&mut out, "data")?;
            match payload.as_ref().filter(|p| !p.is_null()) {
                Some(payload) => write_value(&mut out, payload)?,
                None => out.extend_from_slice(&UNDEFINED),
            }
        }
        PacketData::Disconnect => {
            write_map_len(&mut out, 2)?;
            write_type(&mut out, 1)?;
        }
        PacketData::Event { name, args, id } => {
            let values = args.to_values()?;
            write_map_len(&mut out, if id.is_some() { 4 } else { 3 })?;
            write_type(&mut out, 2)?;
            write_str(&mut out, "data")?;
            write_array_len(&mut out, 1 + values.len())?;
            write_name(&mut out, name)?;
            for value in &values {
                write_value(&mut out, value)?;
            }
            if let Some(id) = id {
                write_id(&mut out, *id)?;
            }
        }
        PacketData::Ack { args, id } => {
            let values = args.to_values()?;
            write_map_len(&mut out, 4)?;
            write_id(&mut out, *id)?;
            write_type(&mut out, 3)?;
            write_str(&mut out, "data")?;
            write_array_len(&mut out, values.len())?;
            for value in &values {
                write_value(&mut out, value)?;
            }
        }
        PacketData::ConnectError(payload) => {
            let with_data = !payload.is_null();
            write_map_len(&mut out, if with_data { 3 } else { 2 })?;
            write_type(&mut out, 4)?;
            if with_data {
                write_str(&mut out, "data")?;
                write_value(&mut out, payload)?;
            }
        }
    }
    write_str(&mut out, "nsp")?;
    write_str(&mut out, nsp)?;
    Ok(Encoded {
        head: Frame::Binary(Bytes::from(out)),
        attachments: Vec::new(),
    })
}

fn write_type(out: &mut Vec<u8>, kind: u8) -> Result<(), Error> {
    write_str(out, "type")?;
    write_uint(out, u64::from(kind));
    Ok(())
}

fn write_id(out: &mut Vec<u8>, id: u64) -> Result<(), Error> {
    write_str(out, "id")?;
    write_uint(out, id);
    Ok(())
}

/// A string name as a string, a numeric name as the number its JSON text holds (an infinite
/// name as a float 64 infinity, what notepack.io writes for `Infinity`).
fn write_name(out: &mut Vec<u8>, name: &EventName) -> Result<(), Error> {
    if name.is_infinite() {
        let negative = name.as_str().starts_with('-');
        write::write_f64(
            out,
            if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            },
        );
        Ok(())
    } else if name.is_number() {
        let n: Number = serde_json::from_str(name.as_str()).map_err(Error::serialize)?;
        write::write_number(out, &n);
        Ok(())
    } else {
        write_str(out, name.as_str())
    }
}

/// Decodes one msgpack binary message.
pub(super) fn decode(frame: Frame, config: &DecoderConfig) -> Result<Option<Packet>, DecodeReason> {
    let buf = match frame {
        Frame::Text(_) => return Err(DecodeReason::UnexpectedText),
        Frame::Binary(buf) => buf,
    };
    let mut reader = Reader::new(&buf);
    // Anything but a map has no `type`.
    let len = reader
        .map_header()?
        .ok_or(DecodeReason::UnknownPacketType)?;
    let mut kind = None;
    let mut nsp: Option<Result<Str, Value>> = None;
    let mut data = None;
    let mut id = None;
    for _ in 0..len {
        let key = reader.key()?;
        match key.as_str() {
            "type" => kind = reader.field()?,
            "data" => data = reader.field()?,
            "id" => id = reader.field()?,
            "nsp" => {
                nsp = match reader.shared_str()? {
                    Some(s) => Some(Ok(s)),
                    None => reader.field()?.map(Err),
                }
            }
            _ => reader.skip()?,
        }
    }
    if !reader.is_done() {
        return Err(DecodeReason::InvalidPayload);
    }

    let kind = match kind {
        Some(Value::Number(n)) => integral(&n).filter(|k| (0.0..=4.0).contains(k)),
        _ => None,
    }
    .ok_or(DecodeReason::UnknownPacketType)?;
    let nsp = match nsp {
        Some(Ok(nsp)) => nsp,
        _ => return Err(DecodeReason::InvalidNamespace),
    };
    let packet_data = packet_data(kind as u8, data, config)?;
    let id = match id {
        None => None,
        Some(Value::Number(n)) => match integral(&n) {
            Some(f) if (0.0..=MAX_SAFE_INTEGER).contains(&f) => Some(f as u64),
            _ => return Err(DecodeReason::InvalidAckId),
        },
        Some(_) => return Err(DecodeReason::InvalidAckId),
    };
    let data = match packet_data {
        Shape::Done(data) => data,
        Shape::Event(name, args) => PacketData::Event {
            name,
            args: args.into(),
            id,
        },
        Shape::Ack(args) => PacketData::Ack {
            args: args.into(),
            id: id.ok_or(DecodeReason::InvalidAckId)?,
        },
    };
    Ok(Some(Packet { nsp, data }))
}

/// A checked payload; EVENT and ACK wait for the id.
enum Shape {
    Done(PacketData),
    Event(EventName, Vec<Value>),
    Ack(Vec<Value>),
}

/// The JavaScript `isDataValid`, plus what an EVENT needs here.
fn packet_data(
    kind: u8,
    data: Option<Value>,
    config: &DecoderConfig,
) -> Result<Shape, DecodeReason> {
    Ok(match (kind, data) {
        (0, None) => Shape::Done(PacketData::Connect(None)),
        (0, Some(v @ Value::Object(_))) => Shape::Done(PacketData::Connect(Some(v))),
        (1, None) => Shape::Done(PacketData::Disconnect),
        (2, Some(Value::Array(mut items))) => {
            if items.is_empty() {
                return Err(DecodeReason::InvalidPayload);
            }
            let name = match items.remove(0) {
                Value::String(s) => EventName::new(s),
                Value::Number(n) => {
                    let mut text = Vec::new();
                    super::json::write_number(&mut text, &n);
                    EventName::number(String::from_utf8(text).unwrap_or_default())
                }
                _ => return Err(DecodeReason::InvalidPayload),
            };
            if config.protocol == ProtocolVersion::V5 && name.is_reserved() {
                return Err(DecodeReason::InvalidPayload);
            }
            Shape::Event(name, items)
        }
        (3, Some(Value::Array(items))) => Shape::Ack(items),
        (4, Some(v @ (Value::String(_) | Value::Object(_)))) => {
            Shape::Done(PacketData::ConnectError(v))
        }
        _ => return Err(DecodeReason::InvalidPayload),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket::{Args, Decoder, Encoder, Parser};

    fn roundtrip(packet: &Packet) -> Packet {
        let encoded = Encoder::new(Parser::MsgPack).encode(packet).unwrap();
        assert!(encoded.attachments.is_empty());
        let mut decoder = Decoder::new(DecoderConfig::new().with_parser(Parser::MsgPack));
        decoder.decode(encoded.head).unwrap().unwrap()
    }

    #[test]
    fn event_bytes() {
        let packet = Packet::event("/", "a", Args::from_values(vec![Value::from(1)]), None);
        let encoded = Encoder::new(Parser::MsgPack).encode(&packet).unwrap();
        let Frame::Binary(bytes) = encoded.head else {
            panic!("not binary")
        };
        assert_eq!(
            &bytes[..],
            b"\x83\xa4type\x02\xa4data\x92\xa1a\x01\xa3nsp\xa1/"
        );
        assert_eq!(roundtrip(&packet), packet);
    }

    #[test]
    fn text_is_rejected() {
        let mut decoder = Decoder::new(DecoderConfig::new().with_parser(Parser::MsgPack));
        assert_eq!(
            decoder
                .decode(Frame::Text(Str::from("2[\"a\"]")))
                .map_err(|e| e.socket_reason()),
            Err(Some(DecodeReason::UnexpectedText))
        );
    }

    #[test]
    fn numeric_name_roundtrips() {
        let packet = Packet::event("/x", EventName::number("1.5"), Args::empty(), Some(3));
        assert_eq!(roundtrip(&packet), packet);
    }
}
