//! WebSocket frames (RFC 6455), sans-IO, for both ends of a connection.
//!
//! The server's side: a [`FrameDecoder`] for the masked frames a client sends and
//! [`FrameHeader::new`] for the unmasked frames a server sends. The client's side: a decoder
//! made with [`FrameDecoderConfig::client`] for the unmasked frames a server sends (a masked
//! one is a protocol error, RFC 6455 5.1), and [`FrameHeader::masked`] or [`masked_frame`] for
//! the masked frames a client sends; the caller supplies each frame's 4-byte masking key (from
//! a strong source of randomness, RFC 6455 10.3), so this crate needs no random generator.
//!
//! The decoder is incremental and lazy: it keeps only the bytes of a frame that is not whole
//! yet, so a connection that is idle between messages holds no buffer at all. It enforces the
//! protocol's rules the way the `ws` library of Node does (masking, reserved bits, opcodes,
//! control frames, fragmentation, UTF-8 of text, close codes), and a message size limit that is
//! checked against each frame's declared length before its payload is buffered.
//!
//! Messages compressed with permessage-deflate (RFC 7692) are handed out still compressed
//! ([`WsMessage::Compressed`]); [`deflate::PerMessageDeflate`] inflates them, and compresses
//! the server's messages, once [`deflate::negotiate`] has agreed on the extension.
//!
//! ```
//! use sio_protocol::websocket::{FrameDecoder, FrameDecoderConfig, FrameHeader, Opcode, WsMessage};
//!
//! let mut decoder = FrameDecoder::new(FrameDecoderConfig::default());
//! let mut messages = Vec::new();
//! // A masked text frame "hi" (mask 1,2,3,4), fed in two pieces.
//! let frame = [0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];
//! decoder.decode(&frame[..3], &mut messages)?;
//! assert!(messages.is_empty());
//! decoder.decode(&frame[3..], &mut messages)?;
//! assert!(matches!(&messages[0], WsMessage::Text(text) if text.as_str() == "hi"));
//!
//! // The server's answer: an unmasked header followed by the payload.
//! let header = FrameHeader::new(Opcode::Text, false, 2);
//! assert_eq!(header.as_bytes(), &[0x81, 0x02]);
//!
//! // The client's side: a masked frame out, the server's unmasked frames in.
//! let frame = sio_protocol::websocket::masked_frame(Opcode::Text, b"hi", [1, 2, 3, 4]);
//! assert_eq!(frame, [0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
//! let mut client = FrameDecoder::new(FrameDecoderConfig::client());
//! client.decode(&[0x81, 0x02, b'h', b'i'], &mut messages)?;
//! assert!(matches!(&messages[1], WsMessage::Text(text) if text.as_str() == "hi"));
//! # Ok::<(), sio_protocol::Error>(())
//! ```

pub mod deflate;

use std::fmt;

use bytes::{Bytes, BytesMut};

use crate::error::Error;
use crate::str::Str;

/// A frame's opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// The continuation of a fragmented message.
    Continuation,
    /// A text message (or its first fragment).
    Text,
    /// A binary message (or its first fragment).
    Binary,
    /// Close.
    Close,
    /// Ping.
    Ping,
    /// Pong.
    Pong,
}

impl Opcode {
    fn from_bits(bits: u8) -> Option<Opcode> {
        Some(match bits {
            0 => Opcode::Continuation,
            1 => Opcode::Text,
            2 => Opcode::Binary,
            8 => Opcode::Close,
            9 => Opcode::Ping,
            10 => Opcode::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0,
            Opcode::Text => 1,
            Opcode::Binary => 2,
            Opcode::Close => 8,
            Opcode::Ping => 9,
            Opcode::Pong => 10,
        }
    }

    fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// Which end of the connection a [`FrameDecoder`] is on, which decides whether the frames it
/// reads must be masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Role {
    /// A server, reading a client's frames: every frame must be masked (the default).
    #[default]
    Server,
    /// A client, reading a server's frames: no frame may be masked.
    Client,
}

/// The limits and extensions of a [`FrameDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrameDecoderConfig {
    /// The largest message, in bytes, all fragments together (default 1,000,000, engine.io's
    /// `maxHttpBufferSize`). A bigger frame is refused as soon as its header is read.
    pub max_message_size: usize,
    /// permessage-deflate was negotiated: the first frame of a data message may set RSV1
    /// (default false, and then RSV1 is a protocol error).
    pub allow_compressed: bool,
    /// The end the decoder is on (default [`Role::Server`]: masked frames from a client).
    pub role: Role,
}

impl Default for FrameDecoderConfig {
    fn default() -> Self {
        FrameDecoderConfig {
            max_message_size: 1_000_000,
            allow_compressed: false,
            role: Role::Server,
        }
    }
}

impl FrameDecoderConfig {
    /// The defaults for a client: [`Role::Client`], reading the unmasked frames of a server.
    pub fn client() -> Self {
        FrameDecoderConfig::default().role(Role::Client)
    }

    /// Sets [`role`](Self::role).
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// Sets [`max_message_size`](Self::max_message_size).
    pub fn max_message_size(mut self, max: usize) -> Self {
        self.max_message_size = max;
        self
    }

    /// Sets [`allow_compressed`](Self::allow_compressed).
    pub fn allow_compressed(mut self, allow: bool) -> Self {
        self.allow_compressed = allow;
        self
    }
}

/// A message or control frame from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// A text message, valid UTF-8.
    Text(Str),
    /// A binary message.
    Binary(Bytes),
    /// A message whose first frame had RSV1 set (permessage-deflate): the payload as received,
    /// still compressed, and whether it is text (to be checked for UTF-8 once inflated).
    Compressed {
        /// A text message.
        text: bool,
        /// The compressed payload, all fragments together.
        data: Bytes,
    },
    /// A ping, to be answered with a pong carrying the same payload.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close frame, with its status code if it had one (the reason is dropped).
    Close(Option<u16>),
}

pub use crate::reason::websocket::FrameReason;

/// A fragmented data message being assembled.
#[derive(Debug)]
struct Partial {
    text: bool,
    compressed: bool,
    data: BytesMut,
}

/// The incremental decoder of a peer's frames (a client's, or a server's with
/// [`Role::Client`]). See the [module documentation](self).
#[derive(Debug)]
pub struct FrameDecoder {
    config: FrameDecoderConfig,
    /// The bytes of a frame that is not whole yet; empty (and unallocated) between frames.
    pending: Vec<u8>,
    /// Boxed: most connections never fragment, and an idle one should hold little.
    partial: Option<Box<Partial>>,
    failed: Option<FrameReason>,
}

impl FrameDecoder {
    /// A decoder with these limits.
    pub fn new(config: FrameDecoderConfig) -> FrameDecoder {
        FrameDecoder {
            config,
            pending: Vec::new(),
            partial: None,
            failed: None,
        }
    }

    /// Decodes `input`, the next bytes read from the peer, pushing every message and control
    /// frame completed by them to `out`. Bytes of an incomplete frame are kept for the next
    /// call. After an error every later call returns the same error.
    ///
    /// The error is of kind [`WebSocket`](crate::ErrorKind::WebSocket); its
    /// [`close_code`](crate::Error::close_code) is the code to close the connection with. A
    /// message over the limit fails at the header of the frame that goes over it, before its
    /// payload is buffered; that first error has a [`source`](std::error::Error::source) that
    /// says the message's size so far and the limit.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<WsMessage>) -> Result<(), Error> {
        self.decode_refusal(input, out)
            .map_err(|refusal| match refusal.too_big {
                Some(size) => Error::frame_with(refusal.reason, size),
                None => Error::frame(refusal.reason),
            })
    }

    /// Changes [`max_message_size`](FrameDecoderConfig::max_message_size), from the next
    /// frame header on (a client learns the server's limit after its WebSocket is open).
    pub fn set_max_message_size(&mut self, max: usize) {
        self.config.max_message_size = max;
    }

    #[cfg(test)]
    fn decode_reason(&mut self, input: &[u8], out: &mut Vec<WsMessage>) -> Result<(), FrameReason> {
        self.decode_refusal(input, out).map_err(|r| r.reason)
    }

    fn decode_refusal(&mut self, input: &[u8], out: &mut Vec<WsMessage>) -> Result<(), Refusal> {
        if let Some(error) = self.failed {
            return Err(error.into());
        }
        let result = if self.pending.is_empty() {
            self.parse(input, out).map(|used| {
                if used < input.len() {
                    self.pending.extend_from_slice(&input[used..]);
                }
            })
        } else {
            let mut pending = std::mem::take(&mut self.pending);
            pending.extend_from_slice(input);
            self.parse(&pending, out).map(|used| {
                pending.drain(..used);
                if !pending.is_empty() {
                    self.pending = pending;
                }
            })
        };
        if let Err(error) = &result {
            self.failed = Some(error.reason);
            self.pending = Vec::new();
            self.partial = None;
        }
        result
    }

    /// The number of bytes held for an incomplete frame or message.
    pub fn buffered(&self) -> usize {
        self.pending.len() + self.partial.as_ref().map_or(0, |p| p.data.len())
    }

    /// Parses the whole frames at the start of `data`; returns how many bytes they took.
    fn parse(&mut self, data: &[u8], out: &mut Vec<WsMessage>) -> Result<usize, Refusal> {
        let mut pos = 0;
        loop {
            let rest = &data[pos..];
            if rest.len() < 2 {
                return Ok(pos);
            }
            let (b0, b1) = (rest[0], rest[1]);
            let fin = b0 & 0x80 != 0;
            let rsv1 = b0 & 0x40 != 0;
            if b0 & 0x30 != 0 {
                return Err(FrameReason::Protocol("RSV2 and RSV3 must be clear").into());
            }
            let opcode =
                Opcode::from_bits(b0 & 0x0f).ok_or(FrameReason::Protocol("invalid opcode"))?;
            let masked = b1 & 0x80 != 0;
            match self.config.role {
                Role::Server if !masked => {
                    return Err(FrameReason::Protocol("MASK must be set").into());
                }
                Role::Client if masked => {
                    return Err(FrameReason::Protocol("MASK must be clear").into());
                }
                _ => {}
            }
            if opcode.is_control() {
                if !fin {
                    return Err(FrameReason::Protocol("FIN must be set").into());
                }
                if rsv1 {
                    return Err(FrameReason::Protocol("RSV1 must be clear").into());
                }
            } else if rsv1 && (!self.config.allow_compressed || opcode == Opcode::Continuation) {
                return Err(FrameReason::Protocol("RSV1 must be clear").into());
            }
            match (opcode, &self.partial) {
                (Opcode::Continuation, None) => {
                    return Err(FrameReason::Protocol("invalid opcode 0").into());
                }
                (Opcode::Text | Opcode::Binary, Some(_)) => {
                    return Err(FrameReason::Protocol("invalid opcode").into());
                }
                _ => {}
            }
            let len7 = (b1 & 0x7f) as usize;
            let (len, len_bytes) = match len7 {
                126 => {
                    if rest.len() < 4 {
                        return Ok(pos);
                    }
                    (u16::from_be_bytes([rest[2], rest[3]]) as u64, 2)
                }
                127 => {
                    if rest.len() < 10 {
                        return Ok(pos);
                    }
                    let mut bytes = [0; 8];
                    bytes.copy_from_slice(&rest[2..10]);
                    let len = u64::from_be_bytes(bytes);
                    if len >> 63 != 0 {
                        return Err(FrameReason::Protocol("unsupported payload length").into());
                    }
                    (len, 8)
                }
                n => (n as u64, 0),
            };
            if opcode.is_control() && len > 125 {
                return Err(FrameReason::Protocol("invalid payload length").into());
            }
            let already = self.partial.as_ref().map_or(0, |p| p.data.len() as u64);
            if !opcode.is_control()
                && already.saturating_add(len) > self.config.max_message_size as u64
            {
                return Err(Refusal {
                    reason: FrameReason::TooBig,
                    too_big: Some(TooBig {
                        fragmented: !fin || opcode == Opcode::Continuation,
                        size: already.saturating_add(len),
                        limit: self.config.max_message_size,
                    }),
                });
            }
            // Checked against the limit above, so it fits in memory's address space.
            let len = len as usize;
            let header = 2 + len_bytes + if masked { 4 } else { 0 };
            if rest.len() < header + len {
                return Ok(pos);
            }
            let mask = masked.then(|| {
                [
                    rest[header - 4],
                    rest[header - 3],
                    rest[header - 2],
                    rest[header - 1],
                ]
            });
            let payload = &rest[header..header + len];
            pos += header + len;
            match opcode {
                Opcode::Text | Opcode::Binary if fin => {
                    let data = unmask(payload, mask, BytesMut::with_capacity(len));
                    out.push(message(opcode == Opcode::Text, rsv1, data.freeze())?);
                }
                Opcode::Text | Opcode::Binary => {
                    self.partial = Some(Box::new(Partial {
                        text: opcode == Opcode::Text,
                        compressed: rsv1,
                        data: unmask(payload, mask, BytesMut::with_capacity(len)),
                    }));
                }
                Opcode::Continuation => {
                    if let Some(partial) = &mut self.partial {
                        partial.data = unmask(payload, mask, std::mem::take(&mut partial.data));
                    }
                    if fin {
                        if let Some(partial) = self.partial.take() {
                            let Partial {
                                text,
                                compressed,
                                data,
                            } = *partial;
                            out.push(message(text, compressed, data.freeze())?);
                        }
                    }
                }
                Opcode::Ping => {
                    out.push(WsMessage::Ping(
                        unmask(payload, mask, BytesMut::new()).freeze(),
                    ));
                }
                Opcode::Pong => {
                    out.push(WsMessage::Pong(
                        unmask(payload, mask, BytesMut::new()).freeze(),
                    ));
                }
                Opcode::Close => {
                    let payload = unmask(payload, mask, BytesMut::new());
                    out.push(WsMessage::Close(close_code(&payload)?));
                }
            }
        }
    }
}

/// Why [`FrameDecoder::parse`] stopped: the reason, and for a message over the limit its size.
#[derive(Debug)]
struct Refusal {
    reason: FrameReason,
    too_big: Option<TooBig>,
}

impl From<FrameReason> for Refusal {
    fn from(reason: FrameReason) -> Refusal {
        Refusal {
            reason,
            too_big: None,
        }
    }
}

/// The size of a message refused at a frame header: the source of the decoder's error.
#[derive(Debug)]
struct TooBig {
    fragmented: bool,
    /// The message's declared size so far (all its frames up to and with this one).
    size: u64,
    limit: usize,
}

impl fmt::Display for TooBig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.fragmented {
            "fragmented message"
        } else {
            "message"
        };
        write!(
            f,
            "{what} of {} bytes, over the limit of {}",
            self.size, self.limit
        )
    }
}

impl std::error::Error for TooBig {}

/// Appends `payload` to `into`, unmasked with `mask` if there is one.
fn unmask(payload: &[u8], mask: Option<[u8; 4]>, mut into: BytesMut) -> BytesMut {
    let start = into.len();
    into.extend_from_slice(payload);
    if let Some(mask) = mask {
        apply_mask(&mut into[start..], mask);
    }
    into
}

/// Masks (or unmasks: the same operation) `data` in place with `mask`, as the first bytes of a
/// frame's payload (RFC 6455 5.3).
pub fn apply_mask(data: &mut [u8], mask: [u8; 4]) {
    for (i, byte) in data.iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

fn message(text: bool, compressed: bool, data: Bytes) -> Result<WsMessage, FrameReason> {
    Ok(if compressed {
        WsMessage::Compressed { text, data }
    } else if text {
        WsMessage::Text(Str::from_utf8(data).map_err(|_| FrameReason::InvalidUtf8)?)
    } else {
        WsMessage::Binary(data)
    })
}

/// The status code of a close frame's payload, checked like `ws` does.
fn close_code(payload: &[u8]) -> Result<Option<u16>, FrameReason> {
    match payload.len() {
        0 => Ok(None),
        1 => Err(FrameReason::Protocol("invalid payload length 1")),
        _ => {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            if !valid_close_code(code) {
                return Err(FrameReason::Protocol("invalid status code"));
            }
            std::str::from_utf8(&payload[2..]).map_err(|_| FrameReason::InvalidUtf8)?;
            Ok(Some(code))
        }
    }
}

/// The status codes a close frame may carry (`ws`'s `isValidStatusCode`).
pub fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// The header of a frame to send, written before the payload: unmasked as a server sends it
/// ([`new`](Self::new), at most 10 bytes) or masked as a client sends it
/// ([`masked`](Self::masked), at most 14 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    bytes: [u8; 14],
    len: u8,
}

impl fmt::Debug for FrameHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FrameHeader")
            .field(&self.as_bytes())
            .finish()
    }
}

impl FrameHeader {
    /// The header of a whole (FIN) frame of `opcode` with a payload of `len` bytes; `rsv1`
    /// marks a compressed message.
    pub fn new(opcode: Opcode, rsv1: bool, len: usize) -> FrameHeader {
        let mut bytes = [0; 14];
        bytes[0] = 0x80 | if rsv1 { 0x40 } else { 0 } | opcode.bits();
        let len_bytes = if len < 126 {
            bytes[1] = len as u8;
            0
        } else if let Ok(len) = u16::try_from(len) {
            bytes[1] = 126;
            bytes[2..4].copy_from_slice(&len.to_be_bytes());
            2
        } else {
            bytes[1] = 127;
            bytes[2..10].copy_from_slice(&(len as u64).to_be_bytes());
            8
        };
        FrameHeader {
            bytes,
            len: 2 + len_bytes,
        }
    }

    /// The header of a whole (FIN) masked frame, as a client sends it: the payload that
    /// follows it must be masked with the same `mask` ([`apply_mask`]).
    pub fn masked(opcode: Opcode, rsv1: bool, len: usize, mask: [u8; 4]) -> FrameHeader {
        let mut header = FrameHeader::new(opcode, rsv1, len);
        header.bytes[1] |= 0x80;
        let at = usize::from(header.len);
        header.bytes[at..at + 4].copy_from_slice(&mask);
        header.len += 4;
        header
    }

    /// The header's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// A whole masked frame, as a client sends it, in one buffer: the header of
/// [`FrameHeader::masked`] and `payload` masked with `mask`.
pub fn masked_frame(opcode: Opcode, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let header = FrameHeader::masked(opcode, false, payload.len(), mask);
    let mut frame = Vec::with_capacity(header.as_bytes().len() + payload.len());
    frame.extend_from_slice(header.as_bytes());
    frame.extend_from_slice(payload);
    apply_mask(&mut frame[header.as_bytes().len()..], mask);
    frame
}

/// The payload of a close frame with `code` and no reason.
pub fn close_payload(code: u16) -> Bytes {
    Bytes::copy_from_slice(&code.to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(b0: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
        let mut frame = vec![b0];
        let len = payload.len();
        if len < 126 {
            frame.push(0x80 | len as u8);
        } else if len <= 0xffff {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        frame
    }

    fn decode_all(config: FrameDecoderConfig, input: &[u8]) -> Result<Vec<WsMessage>, FrameReason> {
        let mut decoder = FrameDecoder::new(config);
        let mut out = Vec::new();
        decoder.decode_reason(input, &mut out)?;
        assert_eq!(decoder.buffered(), 0, "whole frames leave nothing behind");
        Ok(out)
    }

    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    #[test]
    fn messages_whole_and_byte_by_byte() {
        let mut input = masked(0x81, b"4hello", MASK);
        input.extend(masked(0x82, &[1, 2, 3], MASK));
        input.extend(masked(0x89, b"p", MASK));
        input.extend(masked(0x8a, b"", MASK));
        input.extend(masked(0x82, &vec![7; 300], MASK));
        input.extend(masked(0x82, &vec![8; 70_000], MASK));
        input.extend(masked(0x88, &[0x03, 0xe8, b'o', b'k'], MASK));
        let expected = vec![
            WsMessage::Text(Str::from("4hello")),
            WsMessage::Binary(Bytes::from_static(&[1, 2, 3])),
            WsMessage::Ping(Bytes::from_static(b"p")),
            WsMessage::Pong(Bytes::new()),
            WsMessage::Binary(Bytes::from(vec![7; 300])),
            WsMessage::Binary(Bytes::from(vec![8; 70_000])),
            WsMessage::Close(Some(1000)),
        ];
        assert_eq!(
            decode_all(FrameDecoderConfig::default(), &input).unwrap(),
            expected
        );
        for chunk in [1, 2, 3, 7, 1000] {
            let mut decoder = FrameDecoder::new(FrameDecoderConfig::default());
            let mut out = Vec::new();
            for piece in input.chunks(chunk) {
                decoder.decode(piece, &mut out).unwrap();
            }
            assert_eq!(out, expected, "chunks of {chunk}");
            assert_eq!(decoder.buffered(), 0);
            assert_eq!(decoder.pending.capacity(), 0, "nothing held between frames");
        }
    }

    #[test]
    fn fragments_with_control_frames_between() {
        let mut input = masked(0x01, "héllo ".as_bytes(), MASK);
        input.extend(masked(0x89, b"x", MASK));
        // A multi-byte character split across two fragments.
        let world = "wörld".as_bytes();
        input.extend(masked(0x00, &world[..2], MASK));
        input.extend(masked(0x80, &world[2..], MASK));
        let out = decode_all(FrameDecoderConfig::default(), &input).unwrap();
        assert_eq!(
            out,
            vec![
                WsMessage::Ping(Bytes::from_static(b"x")),
                WsMessage::Text(Str::from("héllo wörld")),
            ]
        );
    }

    #[test]
    fn compressed_messages_only_when_negotiated() {
        let input = masked(0xc1, b"\x01\x02", MASK);
        assert_eq!(
            decode_all(FrameDecoderConfig::default(), &input),
            Err(FrameReason::Protocol("RSV1 must be clear"))
        );
        let config = FrameDecoderConfig::default().allow_compressed(true);
        assert_eq!(
            decode_all(config, &input).unwrap(),
            vec![WsMessage::Compressed {
                text: true,
                data: Bytes::from_static(b"\x01\x02")
            }]
        );
        // RSV1 on a continuation frame is refused even then.
        let mut input = masked(0x42, b"a", MASK);
        input.extend(masked(0xc0, b"b", MASK));
        assert_eq!(
            decode_all(config, &input),
            Err(FrameReason::Protocol("RSV1 must be clear"))
        );
    }

    #[test]
    fn refusals() {
        let d = FrameDecoderConfig::default();
        let cases: Vec<(Vec<u8>, FrameReason)> = vec![
            // Unmasked.
            (
                vec![0x81, 0x01, b'a'],
                FrameReason::Protocol("MASK must be set"),
            ),
            (
                masked(0x91, b"a", MASK),
                FrameReason::Protocol("RSV2 and RSV3 must be clear"),
            ),
            (
                masked(0x83, b"a", MASK),
                FrameReason::Protocol("invalid opcode"),
            ),
            (
                masked(0x8b, b"a", MASK),
                FrameReason::Protocol("invalid opcode"),
            ),
            (
                masked(0x09, b"a", MASK),
                FrameReason::Protocol("FIN must be set"),
            ),
            (
                masked(0x89, &[0; 126], MASK),
                FrameReason::Protocol("invalid payload length"),
            ),
            (
                masked(0x80, b"a", MASK),
                FrameReason::Protocol("invalid opcode 0"),
            ),
            (
                [masked(0x01, b"a", MASK), masked(0x81, b"b", MASK)].concat(),
                FrameReason::Protocol("invalid opcode"),
            ),
            (masked(0x81, &[0xff, 0xfe], MASK), FrameReason::InvalidUtf8),
            (
                masked(0x88, &[0x03], MASK),
                FrameReason::Protocol("invalid payload length 1"),
            ),
            (
                masked(0x88, &[0x03, 0xed], MASK),
                FrameReason::Protocol("invalid status code"),
            ),
            (
                masked(0x88, &[0x03, 0xe8, 0xff], MASK),
                FrameReason::InvalidUtf8,
            ),
            (
                vec![0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
                FrameReason::Protocol("unsupported payload length"),
            ),
        ];
        for (input, error) in cases {
            assert_eq!(decode_all(d, &input), Err(error), "{input:02x?}");
            assert!(error.to_string().starts_with("websocket"), "{error}");
        }
    }

    #[test]
    fn size_limit_checked_on_the_header() {
        let config = FrameDecoderConfig::default().max_message_size(10);
        let mut decoder = FrameDecoder::new(config);
        let mut out = Vec::new();
        // Only the header of a 1 GB frame: refused at once, nothing buffered.
        let header = [0x82, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(
            decoder.decode_reason(&header, &mut out),
            Err(FrameReason::TooBig)
        );
        assert_eq!(decoder.buffered(), 0);
        let error = decoder.decode(b"more", &mut out).unwrap_err();
        assert_eq!(error.frame_reason(), Some(FrameReason::TooBig));
        assert!(error.is_websocket() && error.is_too_large());
        assert_eq!(error.close_code(), Some(1009));
        // Fragments add up.
        let input = [masked(0x02, &[0; 6], MASK), masked(0x80, &[0; 5], MASK)].concat();
        assert_eq!(decode_all(config, &input), Err(FrameReason::TooBig));
        let input = [masked(0x02, &[0; 6], MASK), masked(0x80, &[0; 4], MASK)].concat();
        assert_eq!(
            decode_all(config, &input).unwrap(),
            vec![WsMessage::Binary(Bytes::from(vec![0; 10]))]
        );
    }

    #[test]
    fn close_codes() {
        for code in [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999] {
            assert!(valid_close_code(code), "{code}");
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000] {
            assert!(!valid_close_code(code), "{code}");
        }
        assert_eq!(close_payload(1009).as_ref(), &[0x03, 0xf1]);
    }

    #[test]
    fn headers() {
        assert_eq!(
            FrameHeader::new(Opcode::Text, false, 0).as_bytes(),
            &[0x81, 0]
        );
        assert_eq!(
            FrameHeader::new(Opcode::Binary, true, 125).as_bytes(),
            &[0xc2, 125]
        );
        assert_eq!(
            FrameHeader::new(Opcode::Binary, false, 126).as_bytes(),
            &[0x82, 126, 0, 126]
        );
        assert_eq!(
            FrameHeader::new(Opcode::Ping, false, 65_535).as_bytes(),
            &[0x89, 126, 0xff, 0xff]
        );
        assert_eq!(
            FrameHeader::new(Opcode::Close, false, 65_536).as_bytes(),
            &[0x88, 127, 0, 0, 0, 0, 0, 1, 0, 0]
        );
    }

    /// A server's frame (unmasked), with any first byte.
    fn unmasked(b0: u8, payload: &[u8]) -> Vec<u8> {
        let mut frame = FrameHeader::new(Opcode::Text, false, payload.len())
            .as_bytes()
            .to_vec();
        frame[0] = b0;
        frame.extend_from_slice(payload);
        frame
    }

    #[test]
    fn client_role_reads_unmasked_frames() {
        let mut input = unmasked(0x81, b"4hello");
        input.extend(unmasked(0x01, "héllo ".as_bytes()));
        input.extend(unmasked(0x89, b"p"));
        input.extend(unmasked(0x80, "wörld".as_bytes()));
        input.extend(unmasked(0x82, &vec![8; 70_000]));
        input.extend(unmasked(0x8a, b""));
        input.extend(unmasked(0x88, &[0x03, 0xe8]));
        let expected = vec![
            WsMessage::Text(Str::from("4hello")),
            WsMessage::Ping(Bytes::from_static(b"p")),
            WsMessage::Text(Str::from("héllo wörld")),
            WsMessage::Binary(Bytes::from(vec![8; 70_000])),
            WsMessage::Pong(Bytes::new()),
            WsMessage::Close(Some(1000)),
        ];
        let config = FrameDecoderConfig::client();
        assert_eq!(config.role, Role::Client);
        assert_eq!(decode_all(config, &input).unwrap(), expected);
        for chunk in [1, 3, 1000] {
            let mut decoder = FrameDecoder::new(config);
            let mut out = Vec::new();
            for piece in input.chunks(chunk) {
                decoder.decode(piece, &mut out).unwrap();
            }
            assert_eq!(out, expected, "chunks of {chunk}");
            assert_eq!(decoder.pending.capacity(), 0, "nothing held between frames");
        }
    }

    #[test]
    fn client_role_refuses_masked_frames_and_what_the_server_refuses() {
        let c = FrameDecoderConfig::client();
        let cases: Vec<(Vec<u8>, FrameReason)> = vec![
            (
                masked(0x81, b"a", MASK),
                FrameReason::Protocol("MASK must be clear"),
            ),
            (
                masked(0x89, b"", MASK),
                FrameReason::Protocol("MASK must be clear"),
            ),
            (
                unmasked(0xc1, b"a"),
                FrameReason::Protocol("RSV1 must be clear"),
            ),
            (
                unmasked(0xa1, b"a"),
                FrameReason::Protocol("RSV2 and RSV3 must be clear"),
            ),
            (
                unmasked(0x83, b"a"),
                FrameReason::Protocol("invalid opcode"),
            ),
            (
                unmasked(0x09, b"a"),
                FrameReason::Protocol("FIN must be set"),
            ),
            (
                unmasked(0x89, &[0; 126]),
                FrameReason::Protocol("invalid payload length"),
            ),
            (
                unmasked(0x80, b"a"),
                FrameReason::Protocol("invalid opcode 0"),
            ),
            (unmasked(0x81, &[0xff]), FrameReason::InvalidUtf8),
            (
                unmasked(0x88, &[0x03, 0xed]),
                FrameReason::Protocol("invalid status code"),
            ),
        ];
        for (input, error) in cases {
            assert_eq!(decode_all(c, &input), Err(error), "{input:02x?}");
        }
        // The server's role still refuses the unmasked frames the client's role reads.
        assert_eq!(
            decode_all(FrameDecoderConfig::default(), &unmasked(0x81, b"a")),
            Err(FrameReason::Protocol("MASK must be set"))
        );
    }

    #[test]
    fn client_role_size_limit_at_the_header_with_the_size_in_the_error() {
        let mut decoder = FrameDecoder::new(FrameDecoderConfig::client().max_message_size(100));
        let mut out = Vec::new();
        // Only the header of an 8 MiB frame.
        let header = FrameHeader::new(Opcode::Text, false, 8 << 20);
        let error = decoder.decode(header.as_bytes(), &mut out).unwrap_err();
        assert_eq!(error.frame_reason(), Some(FrameReason::TooBig));
        assert_eq!(decoder.buffered(), 0);
        let source = std::error::Error::source(&error).expect("the size");
        assert_eq!(
            source.to_string(),
            "message of 8388608 bytes, over the limit of 100"
        );
        // Fragments add up; a raised limit applies from the next header.
        let mut decoder = FrameDecoder::new(FrameDecoderConfig::client().max_message_size(100));
        decoder
            .decode(&unmasked(0x01, &[b'a'; 60]), &mut out)
            .unwrap();
        let error = decoder
            .decode(&unmasked(0x00, &[b'a'; 60]), &mut out)
            .unwrap_err();
        assert_eq!(
            std::error::Error::source(&error).unwrap().to_string(),
            "fragmented message of 120 bytes, over the limit of 100"
        );
        let mut decoder = FrameDecoder::new(FrameDecoderConfig::client().max_message_size(10));
        decoder.set_max_message_size(1000);
        decoder
            .decode(&unmasked(0x82, &[0; 1000]), &mut out)
            .unwrap();
        assert_eq!(
            out.pop(),
            Some(WsMessage::Binary(Bytes::from(vec![0; 1000])))
        );
    }

    #[test]
    fn masked_frames_round_trip_through_the_server_decoder() {
        for (opcode, payload) in [
            (Opcode::Text, "4hello".as_bytes().to_vec()),
            (Opcode::Binary, vec![9; 300]),
            (Opcode::Binary, vec![7; 70_000]),
            (Opcode::Ping, b"p".to_vec()),
            (Opcode::Close, vec![0x03, 0xe8]),
        ] {
            let frame = masked_frame(opcode, &payload, MASK);
            let first = if opcode == Opcode::Text {
                0x81
            } else {
                frame[0]
            };
            assert_eq!(frame, masked(first, &payload, MASK), "{opcode:?}");
            let header = FrameHeader::masked(opcode, false, payload.len(), MASK);
            assert_eq!(header.as_bytes(), &frame[..header.as_bytes().len()]);
            let out = decode_all(FrameDecoderConfig::default(), &frame).unwrap();
            let expected = match opcode {
                Opcode::Text => WsMessage::Text(Str::from("4hello")),
                Opcode::Binary => WsMessage::Binary(Bytes::from(payload)),
                Opcode::Ping => WsMessage::Ping(Bytes::from(payload)),
                _ => WsMessage::Close(Some(1000)),
            };
            assert_eq!(out, vec![expected]);
            // The client's own role refuses it.
            assert_eq!(
                decode_all(FrameDecoderConfig::client(), &frame),
                Err(FrameReason::Protocol("MASK must be clear"))
            );
        }
        assert_eq!(
            FrameHeader::masked(Opcode::Binary, false, 65_536, [1, 2, 3, 4]).as_bytes(),
            &[0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4]
        );
        let mut data = *b"abcdef";
        apply_mask(&mut data, MASK);
        apply_mask(&mut data, MASK);
        assert_eq!(&data, b"abcdef");
    }

    #[test]
    fn public_errors_have_the_websocket_kind() {
        let mut decoder = FrameDecoder::new(FrameDecoderConfig::default());
        let mut out = Vec::new();
        // An unmasked text frame from a client.
        let error = decoder.decode(&[0x81, 0x01, b'a'], &mut out).unwrap_err();
        assert!(error.is_websocket() && !error.is_too_large(), "{error:?}");
        assert_eq!(error.kind(), crate::error::ErrorKind::WebSocket);
        assert_eq!(
            error.frame_reason(),
            Some(FrameReason::Protocol("MASK must be set"))
        );
        assert_eq!(error.close_code(), Some(1002));
        assert_eq!(
            error.to_string(),
            "websocket protocol error: MASK must be set"
        );
        assert!(std::error::Error::source(&error).is_none());
        // Final: the same error again.
        let again = decoder.decode(b"", &mut out).unwrap_err();
        assert_eq!(again.frame_reason(), error.frame_reason());
    }
}
