//! Engine.IO packets and their text / WebSocket forms.

use std::borrow::Cow;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::{BufMut, Bytes, BytesMut};

use super::error::DecodeReason;
use super::open::OpenPacket;
use crate::error::Error;
use crate::str::Str;

/// The Engine.IO protocol revision of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// `EIO=3`: Socket.IO 2.x clients. The client sends pings; polling payloads are length-prefixed.
    V3 = 3,
    /// `EIO=4`: the current protocol. The server sends pings; polling payloads use `\x1e`.
    V4 = 4,
}

/// The type digit of an Engine.IO packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: handshake, server to client.
    Open = 0,
    /// `1`: close the session.
    Close = 1,
    /// `2`: ping (v4: server to client; the `2probe` upgrade probe comes from the client).
    Ping = 2,
    /// `3`: pong.
    Pong = 3,
    /// `4`: a message, text or binary.
    Message = 4,
    /// `5`: completes an upgrade, client to server.
    Upgrade = 5,
    /// `6`: no operation, used to end a pending poll during an upgrade.
    Noop = 6,
}

/// One Engine.IO packet.
///
/// Text payloads are [`Str`] slices of the received frame, binary payloads [`Bytes`]: decoding
/// copies nothing except base64 binary on text transports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0{...}`: the handshake.
    Open(OpenPacket),
    /// `1`.
    Close,
    /// `2` with optional data (`2probe` during an upgrade).
    Ping(Str),
    /// `3` with optional data (`3probe` answers the probe).
    Pong(Str),
    /// `4<text>`: a text message.
    Message(Str),
    /// A binary message (a binary WebSocket frame, or `b<base64>` on polling).
    Binary(Bytes),
    /// `5`.
    Upgrade,
    /// `6`.
    Noop,
}

/// A WebSocket message as Engine.IO sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame.
    Text(Str),
    /// A binary frame.
    Binary(Bytes),
}

impl Packet {
    /// `2`: a plain ping.
    pub const PING: Packet = Packet::Ping(Str::new());
    /// `3`: a plain pong.
    pub const PONG: Packet = Packet::Pong(Str::new());

    /// `2probe`.
    pub fn ping_probe() -> Packet {
        Packet::Ping(Str::from_static("probe"))
    }

    /// `3probe`.
    pub fn pong_probe() -> Packet {
        Packet::Pong(Str::from_static("probe"))
    }

    /// Whether this is a ping or pong carrying `probe`.
    pub fn is_probe(&self) -> bool {
        matches!(self, Packet::Ping(d) | Packet::Pong(d) if d == "probe")
    }

    /// The packet type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Open(_) => PacketType::Open,
            Packet::Close => PacketType::Close,
            Packet::Ping(_) => PacketType::Ping,
            Packet::Pong(_) => PacketType::Pong,
            Packet::Message(_) | Packet::Binary(_) => PacketType::Message,
            Packet::Upgrade => PacketType::Upgrade,
            Packet::Noop => PacketType::Noop,
        }
    }
}

/// Base64 as we accept it in `b` packets.
///
/// Node's `Buffer.from(s, "base64")`, which engine.io-parser uses, never fails: it skips
/// whitespace and any other junk, accepts the URL-safe alphabet and missing or partial padding.
/// Every JavaScript peer *sends* standard base64 with padding (`Buffer#toString("base64")`,
/// `FileReader#readAsDataURL`). We accept the standard alphabet with or without padding and
/// with non-zero trailing bits (both of which Node tolerates and some encoders produce), and
/// reject the rest instead of guessing.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes the base64 data of a `b` packet.
fn decode_base64(text: &str) -> Result<Bytes, DecodeReason> {
    BASE64
        .decode(text)
        .map(Bytes::from)
        .map_err(|_| DecodeReason::InvalidBase64)
}

/// The length of the padded base64 encoding of `n` bytes.
fn base64_len(n: usize) -> usize {
    n.div_ceil(3).saturating_mul(4)
}

/// The length of `s` in UTF-16 code units, JavaScript's `String#length`.
pub(crate) fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        return s.len();
    }
    // One unit per UTF-8 lead byte, two for a 4-byte sequence (a surrogate pair).
    s.bytes().fold(0, |n, b| {
        n + usize::from(b & 0xc0 != 0x80) + usize::from(b >= 0xf0)
    })
}

impl PacketType {
    /// The type for a type digit (`b'0'`..=`b'6'`).
    pub const fn from_digit(digit: u8) -> Option<PacketType> {
        Some(match digit {
            b'0' => PacketType::Open,
            b'1' => PacketType::Close,
            b'2' => PacketType::Ping,
            b'3' => PacketType::Pong,
            b'4' => PacketType::Message,
            b'5' => PacketType::Upgrade,
            b'6' => PacketType::Noop,
            _ => return None,
        })
    }

    /// The type digit, `b'0'`..=`b'6'`.
    pub const fn digit(self) -> u8 {
        b'0' + self as u8
    }
}

impl Packet {
    /// Whether this is a [`Binary`](Packet::Binary) message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Packet::Binary(_))
    }

    /// Decodes one packet in text form: a WebSocket text frame, or one record of a polling
    /// payload.
    ///
    /// The first character is the type digit, the rest the data, which [`Ping`](Packet::Ping),
    /// [`Pong`](Packet::Pong) and [`Message`](Packet::Message) keep as a slice of `text` (no
    /// copy). Data after `1`, `5` and `6` is ignored, as engine.io does. `b<base64>` (v3:
    /// `b4<base64>`) is a binary message.
    ///
    /// ```
    /// use sio_protocol::engine::{Packet, ProtocolVersion};
    /// let p = Packet::decode_text("4hello".into(), ProtocolVersion::V4).unwrap();
    /// assert_eq!(p, Packet::Message("hello".into()));
    /// let p = Packet::decode_text("bAQID".into(), ProtocolVersion::V4).unwrap();
    /// assert_eq!(p, Packet::Binary(vec![1, 2, 3].into()));
    /// ```
    ///
    /// The error is of kind [`EngineDecode`](crate::ErrorKind::EngineDecode).
    pub fn decode_text(text: Str, version: ProtocolVersion) -> Result<Packet, Error> {
        Packet::decode_text_reason(text, version).map_err(Error::engine)
    }

    /// [`decode_text`](Self::decode_text), failing with the bare reason.
    pub(crate) fn decode_text_reason(
        text: Str,
        version: ProtocolVersion,
    ) -> Result<Packet, DecodeReason> {
        let Some(&first) = text.as_bytes().first() else {
            return Err(DecodeReason::Empty);
        };
        // `first` is ASCII in every accepted case, so index 1 is a char boundary.
        let rest = || text.get(1..).unwrap_or_default();
        Ok(match first {
            b'0' => Packet::Open(OpenPacket::parse(rest()).ok_or(DecodeReason::InvalidOpen)?),
            b'1' => Packet::Close,
            b'2' => Packet::Ping(text.slice(1..)),
            b'3' => Packet::Pong(text.slice(1..)),
            b'4' => Packet::Message(text.slice(1..)),
            b'5' => Packet::Upgrade,
            b'6' => Packet::Noop,
            b'b' => match version {
                ProtocolVersion::V4 => Packet::Binary(decode_base64(rest())?),
                ProtocolVersion::V3 => match text.as_bytes().get(1) {
                    Some(b'4') => Packet::Binary(decode_base64(text.get(2..).unwrap_or_default())?),
                    Some(&t @ b'0'..=b'6') => return Err(DecodeReason::BinaryNotMessage(t - b'0')),
                    Some(&t) => return Err(DecodeReason::UnknownPacketType(t)),
                    None => return Err(DecodeReason::UnknownPacketType(b'b')),
                },
            },
            other => return Err(DecodeReason::UnknownPacketType(other)),
        })
    }

    /// The type digit and the data of the text form; `None` for [`Binary`](Packet::Binary).
    pub(crate) fn text_parts(&self) -> Option<(u8, Cow<'_, str>)> {
        let data: Cow<'_, str> = match self {
            Packet::Binary(_) => return None,
            Packet::Open(open) => Cow::Owned(open.to_json()),
            Packet::Ping(d) | Packet::Pong(d) | Packet::Message(d) => Cow::Borrowed(d),
            Packet::Close | Packet::Upgrade | Packet::Noop => Cow::Borrowed(""),
        };
        Some((self.packet_type().digit(), data))
    }

    /// The length of the text form in UTF-16 code units (the v3 string payload's length prefix).
    pub(crate) fn text_utf16_len(&self, version: ProtocolVersion) -> usize {
        match self {
            Packet::Binary(data) => binary_prefix(version).len() + base64_len(data.len()),
            Packet::Open(open) => 1 + utf16_len(&open.to_json()),
            Packet::Ping(d) | Packet::Pong(d) | Packet::Message(d) => 1 + utf16_len(d),
            Packet::Close | Packet::Upgrade | Packet::Noop => 1,
        }
    }

    /// Appends the text form (the inverse of [`decode_text`](Self::decode_text)) to `out`.
    ///
    /// Binary messages become `b<base64>` (v3: `b4<base64>`), padded, as Node's
    /// `Buffer#toString("base64")` writes them.
    pub fn encode_text(&self, version: ProtocolVersion, out: &mut String) {
        match self {
            Packet::Binary(data) => {
                out.reserve(2 + base64_len(data.len()));
                out.push_str(binary_prefix(version));
                BASE64.encode_string(data, out);
            }
            Packet::Open(open) => {
                out.push('0');
                open.write_json(out);
            }
            Packet::Ping(d) | Packet::Pong(d) | Packet::Message(d) => {
                out.reserve(1 + d.len());
                out.push(char::from(self.packet_type().digit()));
                out.push_str(d);
            }
            Packet::Close | Packet::Upgrade | Packet::Noop => {
                out.push(char::from(self.packet_type().digit()));
            }
        }
    }

    /// The text form as a [`Str`] (see [`encode_text`](Self::encode_text)); packets without
    /// data cost no allocation.
    pub fn to_text(&self, version: ProtocolVersion) -> Str {
        let fixed = match self {
            Packet::Close => "1",
            Packet::Upgrade => "5",
            Packet::Noop => "6",
            Packet::Ping(d) if d.is_empty() => "2",
            Packet::Pong(d) if d.is_empty() => "3",
            Packet::Message(d) if d.is_empty() => "4",
            _ => {
                let mut out = String::new();
                self.encode_text(version, &mut out);
                return Str::from(out);
            }
        };
        Str::from_static(fixed)
    }

    /// The WebSocket frame for this packet.
    ///
    /// Binary messages become binary frames: the raw bytes in v4 (no copy), the type byte
    /// `0x04` followed by the bytes in v3. Everything else is a text frame holding the text form.
    pub fn to_frame(&self, version: ProtocolVersion) -> Frame {
        match (self, version) {
            (Packet::Binary(data), ProtocolVersion::V4) => Frame::Binary(data.clone()),
            (Packet::Binary(data), ProtocolVersion::V3) => {
                let mut buf = BytesMut::with_capacity(1 + data.len());
                buf.put_u8(4);
                buf.extend_from_slice(data);
                Frame::Binary(buf.freeze())
            }
            _ => Frame::Text(self.to_text(version)),
        }
    }

    /// Decodes a WebSocket frame.
    ///
    /// A v4 binary frame is a binary message whatever it holds (an empty one included, as in
    /// engine.io), kept without copying. A v3 binary frame starts with the type byte, which
    /// must be `4`; the rest is sliced, not copied. Text frames go through
    /// [`decode_text`](Self::decode_text).
    ///
    /// The error is of kind [`EngineDecode`](crate::ErrorKind::EngineDecode).
    pub fn from_frame(frame: Frame, version: ProtocolVersion) -> Result<Packet, Error> {
        Packet::from_frame_reason(frame, version).map_err(Error::engine)
    }

    fn from_frame_reason(frame: Frame, version: ProtocolVersion) -> Result<Packet, DecodeReason> {
        match (frame, version) {
            (Frame::Text(text), _) => Packet::decode_text_reason(text, version),
            (Frame::Binary(data), ProtocolVersion::V4) => Ok(Packet::Binary(data)),
            (Frame::Binary(data), ProtocolVersion::V3) => decode_v3_binary(data),
        }
    }
}

/// The prefix of a base64 binary packet.
fn binary_prefix(version: ProtocolVersion) -> &'static str {
    match version {
        ProtocolVersion::V4 => "b",
        ProtocolVersion::V3 => "b4",
    }
}

/// Decodes a v3 binary packet: a type byte, then the data.
///
/// engine.io's v3 parser hands on any type byte with binary data (a binary `ping`...); only
/// `4` (message) is meaningful, so only `4` is accepted.
pub(crate) fn decode_v3_binary(data: Bytes) -> Result<Packet, DecodeReason> {
    match data.first() {
        None => Err(DecodeReason::Empty),
        Some(4) => Ok(Packet::Binary(data.slice(1..))),
        Some(&t) if t <= 6 => Err(DecodeReason::BinaryNotMessage(t)),
        Some(&t) => Err(DecodeReason::UnknownPacketType(t)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProtocolVersion::{V3, V4};

    fn dec(text: &'static str, v: ProtocolVersion) -> Result<Packet, DecodeReason> {
        Packet::decode_text_reason(Str::from_static(text), v)
    }

    #[test]
    fn decodes_every_type() {
        for v in [V3, V4] {
            assert_eq!(dec("1", v), Ok(Packet::Close));
            assert_eq!(dec("2", v), Ok(Packet::PING));
            assert_eq!(dec("2probe", v), Ok(Packet::ping_probe()));
            assert_eq!(dec("3probe", v), Ok(Packet::pong_probe()));
            assert_eq!(dec("4hello", v), Ok(Packet::Message("hello".into())));
            assert_eq!(dec("4", v), Ok(Packet::Message(Str::new())));
            assert_eq!(dec("5", v), Ok(Packet::Upgrade));
            assert_eq!(dec("6", v), Ok(Packet::Noop));
            // Data after close / upgrade / noop is dropped, as engine.io ignores it.
            assert_eq!(dec("1x", v), Ok(Packet::Close));
            assert_eq!(dec("5x", v), Ok(Packet::Upgrade));
            assert_eq!(dec("6x", v), Ok(Packet::Noop));
            assert_eq!(dec("", v), Err(DecodeReason::Empty));
            assert_eq!(dec("7", v), Err(DecodeReason::UnknownPacketType(b'7')));
            assert_eq!(dec("x", v), Err(DecodeReason::UnknownPacketType(b'x')));
            assert_eq!(dec("é", v), Err(DecodeReason::UnknownPacketType(0xc3)));
            assert_eq!(dec("0", v), Err(DecodeReason::InvalidOpen));
            assert_eq!(dec("0{}", v), Err(DecodeReason::InvalidOpen));
        }
        let open = dec(
            r#"0{"sid":"a","upgrades":[],"pingInterval":1,"pingTimeout":2}"#,
            V4,
        );
        assert!(matches!(open, Ok(Packet::Open(o)) if o.sid == "a" && o.ping_timeout == 2));
    }

    #[test]
    fn text_data_is_a_slice() {
        let text = Str::from("4hello".to_owned());
        let Ok(Packet::Message(m)) = Packet::decode_text(text.clone(), V4) else {
            panic!("not a message")
        };
        assert_eq!(m.as_ptr(), text.as_ptr().wrapping_add(1));
    }

    #[test]
    fn base64() {
        let bin = |b: &[u8]| Ok(Packet::Binary(Bytes::copy_from_slice(b)));
        assert_eq!(dec("bAQID", V4), bin(&[1, 2, 3]));
        assert_eq!(dec("bAQIDBA==", V4), bin(&[1, 2, 3, 4]));
        assert_eq!(dec("bAQIDBA", V4), bin(&[1, 2, 3, 4]));
        assert_eq!(dec("bAQJ=", V4), bin(&[1, 2]));
        assert_eq!(dec("b", V4), bin(&[]));
        assert_eq!(dec("b4AQID", V3), bin(&[1, 2, 3]));
        assert_eq!(dec("b4", V3), bin(&[]));
        assert_eq!(dec("b!!", V4), Err(DecodeReason::InvalidBase64));
        assert_eq!(dec("bA", V4), Err(DecodeReason::InvalidBase64));
        assert_eq!(dec("b AQID", V4), Err(DecodeReason::InvalidBase64));
        assert_eq!(dec("b2AQID", V3), Err(DecodeReason::BinaryNotMessage(2)));
        assert_eq!(
            dec("bxAQID", V3),
            Err(DecodeReason::UnknownPacketType(b'x'))
        );
        assert_eq!(dec("b", V3), Err(DecodeReason::UnknownPacketType(b'b')));
        // In v4 `b4...` is base64 too: `4` is a base64 digit.
        assert_eq!(dec("b4AQI", V4), bin(&[0xe0, 0x04, 0x08]));
    }

    #[test]
    fn encodes_text() {
        let bin = Packet::Binary(Bytes::from_static(&[1, 2, 3, 4]));
        assert_eq!(bin.to_text(V4), "bAQIDBA==");
        assert_eq!(bin.to_text(V3), "b4AQIDBA==");
        assert_eq!(bin.text_utf16_len(V4), 9);
        assert_eq!(bin.text_utf16_len(V3), 10);
        assert_eq!(Packet::Message("h€😀".into()).text_utf16_len(V3), 5);
        assert_eq!(Packet::PING.to_text(V4), "2");
        assert_eq!(Packet::pong_probe().to_text(V4), "3probe");
        assert_eq!(Packet::Message("hello".into()).to_text(V4), "4hello");
        assert_eq!(Packet::Close.to_text(V4), "1");
        assert_eq!(Packet::Upgrade.to_text(V4), "5");
        assert_eq!(Packet::Noop.to_text(V4), "6");
        let mut out = String::from("x");
        Packet::Message("y".into()).encode_text(V4, &mut out);
        assert_eq!(out, "x4y");
    }

    #[test]
    fn frames() {
        let bin = Packet::Binary(Bytes::from_static(&[1, 2, 3]));
        assert_eq!(
            bin.to_frame(V4),
            Frame::Binary(Bytes::from_static(&[1, 2, 3]))
        );
        assert_eq!(
            bin.to_frame(V3),
            Frame::Binary(Bytes::from_static(&[4, 1, 2, 3]))
        );
        assert_eq!(Packet::PING.to_frame(V3), Frame::Text("2".into()));
        for v in [V3, V4] {
            assert_eq!(
                Packet::from_frame_reason(bin.to_frame(v), v),
                Ok(bin.clone())
            );
            assert_eq!(
                Packet::from_frame_reason(Frame::Text(Str::new()), v),
                Err(DecodeReason::Empty)
            );
        }
        assert_eq!(
            Packet::from_frame_reason(Frame::Binary(Bytes::new()), V4),
            Ok(Packet::Binary(Bytes::new()))
        );
        assert_eq!(
            Packet::from_frame_reason(Frame::Binary(Bytes::new()), V3),
            Err(DecodeReason::Empty)
        );
        let v3 =
            |b: &'static [u8]| Packet::from_frame_reason(Frame::Binary(Bytes::from_static(b)), V3);
        assert_eq!(v3(&[4]), Ok(Packet::Binary(Bytes::new())));
        assert_eq!(v3(&[2, 1]), Err(DecodeReason::BinaryNotMessage(2)));
        assert_eq!(v3(&[9, 1]), Err(DecodeReason::UnknownPacketType(9)));
        assert_eq!(
            Packet::from_frame_reason(Frame::Text("bAQID".into()), V4),
            Ok(Packet::Binary(Bytes::from_static(&[1, 2, 3])))
        );
    }

    #[test]
    fn binary_frames_are_not_copied() {
        let data = Bytes::from(vec![4u8, 9, 9, 9]);
        let Ok(Packet::Binary(b)) = Packet::from_frame_reason(Frame::Binary(data.clone()), V3)
        else {
            panic!("not binary")
        };
        assert_eq!(b.as_ptr(), data.as_ptr().wrapping_add(1));
        let Ok(Packet::Binary(b)) = Packet::from_frame_reason(Frame::Binary(data.clone()), V4)
        else {
            panic!("not binary")
        };
        assert_eq!(b.as_ptr(), data.as_ptr());
    }

    #[test]
    fn utf16_lengths() {
        assert_eq!(utf16_len(""), 0);
        assert_eq!(utf16_len("hello"), 5);
        assert_eq!(utf16_len("€"), 1);
        assert_eq!(utf16_len("é😀"), 3);
    }

    #[test]
    fn public_error_has_the_engine_kind() {
        let error = Packet::decode_text(Str::from_static("7"), V4).unwrap_err();
        assert!(error.is_engine_decode());
        assert_eq!(error.kind(), crate::error::ErrorKind::EngineDecode);
        assert_eq!(
            error.engine_reason(),
            Some(DecodeReason::UnknownPacketType(b'7'))
        );
        assert_eq!(
            error.to_string(),
            "invalid engine.io data: unknown packet type 0x37"
        );
        assert!(std::error::Error::source(&error).is_none());
        let error = Packet::from_frame(Frame::Binary(Bytes::from_static(&[2])), V3).unwrap_err();
        assert_eq!(
            error.engine_reason(),
            Some(DecodeReason::BinaryNotMessage(2))
        );
    }
}
