//! HTTP long-polling payloads: several packets in one request or response body.
//!
//! | format | body | example |
//! |---|---|---|
//! | [`V4`](PayloadFormat::V4) | text records joined with `\x1e` | `4hello\x1ebAQID` |
//! | [`V3String`](PayloadFormat::V3String) | `<length>:<record>`, length in UTF-16 units | `6:4hello2:4€` |
//! | [`V3Binary`](PayloadFormat::V3Binary) | `<0\|1><digits as bytes><0xFF><record>` | `[0,6,255,'4hello',1,4,255,4,1,2,3]` |
//!
//! Reference: `engine.io-parser/lib/index.ts` (v4) and `engine.io/lib/parser-v3/index.ts` (v3).

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use super::error::DecodeReason;
use super::packet::decode_v3_binary;
use super::packet::{Packet, ProtocolVersion};
use crate::error::Error;
use crate::str::Str;

/// The v4 record separator.
const SEPARATOR: u8 = 0x1e;

/// The framing of a polling payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadFormat {
    /// v4: text records joined with `\x1e`, binary as `b<base64>`.
    V4,
    /// v3 text: `<length>:<record>` where the length counts UTF-16 code units, binary as
    /// `b4<base64>`; the empty payload is `0:`.
    V3String,
    /// v3 binary (XHR2), `application/octet-stream`: per packet a kind byte (0 = text, 1 =
    /// binary), the decimal digits of the record's byte length as bytes 0-9, `0xFF`, then the
    /// record (the UTF-8 text, or the type byte `4` and the binary data).
    V3Binary,
}

impl PayloadFormat {
    /// The protocol version of the format.
    pub const fn version(self) -> ProtocolVersion {
        match self {
            PayloadFormat::V4 => ProtocolVersion::V4,
            PayloadFormat::V3String | PayloadFormat::V3Binary => ProtocolVersion::V3,
        }
    }

    /// The `Content-Type` of a body in this format, as engine.io writes it.
    pub const fn content_type(self) -> &'static str {
        match self {
            PayloadFormat::V4 | PayloadFormat::V3String => "text/plain; charset=UTF-8",
            PayloadFormat::V3Binary => "application/octet-stream",
        }
    }

    /// The format a server answers a poll with, as engine.io chooses it: v3 clients that did
    /// not send `b64=1` get the binary format when at least one packet is binary.
    pub const fn for_request(version: ProtocolVersion, b64: bool, has_binary: bool) -> Self {
        match version {
            ProtocolVersion::V4 => PayloadFormat::V4,
            ProtocolVersion::V3 if !b64 && has_binary => PayloadFormat::V3Binary,
            ProtocolVersion::V3 => PayloadFormat::V3String,
        }
    }

    /// The format of a received body: v3 bodies with `Content-Type: application/octet-stream`
    /// are binary. (A v4 POST with that content type is refused by engine.io before decoding;
    /// that check is the server's.)
    pub const fn for_body(version: ProtocolVersion, octet_stream: bool) -> Self {
        match version {
            ProtocolVersion::V4 => PayloadFormat::V4,
            ProtocolVersion::V3 if octet_stream => PayloadFormat::V3Binary,
            ProtocolVersion::V3 => PayloadFormat::V3String,
        }
    }
}

/// The output buffer of a [`PayloadEncoder`].
#[derive(Debug)]
enum Output {
    Text(String),
    Binary(Vec<u8>),
}

/// Builds a polling body from packets.
///
/// ```
/// use sio_protocol::engine::{Packet, PayloadEncoder, PayloadFormat};
/// let packets = [Packet::Message("hello".into()), Packet::Binary(vec![1, 2, 3, 4].into())];
/// let body = PayloadEncoder::encode(&packets, PayloadFormat::V4);
/// assert_eq!(&body[..], b"4hello\x1ebAQIDBA==");
/// let body = PayloadEncoder::encode(&packets, PayloadFormat::V3String);
/// assert_eq!(&body[..], b"6:4hello10:b4AQIDBA==");
/// ```
///
/// A v4 text packet containing `\x1e` cannot be framed (engine.io has the same limit): the
/// receiver would see two records.
#[derive(Debug)]
pub struct PayloadEncoder {
    format: PayloadFormat,
    out: Output,
    count: usize,
}

impl PayloadEncoder {
    /// An encoder with an empty body.
    pub fn new(format: PayloadFormat) -> Self {
        let out = match format {
            PayloadFormat::V3Binary => Output::Binary(Vec::new()),
            PayloadFormat::V4 | PayloadFormat::V3String => Output::Text(String::new()),
        };
        PayloadEncoder {
            format,
            out,
            count: 0,
        }
    }

    /// Encodes `packets` into one body.
    pub fn encode<'a>(
        packets: impl IntoIterator<Item = &'a Packet>,
        format: PayloadFormat,
    ) -> Bytes {
        let mut encoder = PayloadEncoder::new(format);
        for packet in packets {
            encoder.push(packet);
        }
        encoder.finish()
    }

    /// The format being written.
    pub fn format(&self) -> PayloadFormat {
        self.format
    }

    /// Appends a packet.
    pub fn push(&mut self, packet: &Packet) {
        match &mut self.out {
            Output::Text(out) => {
                if self.format == PayloadFormat::V4 {
                    if self.count > 0 {
                        out.push(char::from(SEPARATOR));
                    }
                    packet.encode_text(ProtocolVersion::V4, out);
                } else {
                    let len = packet.text_utf16_len(ProtocolVersion::V3);
                    out.push_str(itoa::Buffer::new().format(len));
                    out.push(':');
                    packet.encode_text(ProtocolVersion::V3, out);
                }
            }
            Output::Binary(out) => match packet.text_parts() {
                None => {
                    if let Packet::Binary(data) = packet {
                        write_binary_header(out, 1, 1 + data.len());
                        out.push(4);
                        out.extend_from_slice(data);
                    }
                }
                Some((digit, data)) => {
                    write_binary_header(out, 0, 1 + data.len());
                    out.push(digit);
                    out.extend_from_slice(data.as_bytes());
                }
            },
        }
        self.count += 1;
    }

    /// The length of the body so far, in bytes (`0` before the first packet, even for
    /// [`V3String`](PayloadFormat::V3String) whose empty body is `0:`).
    pub fn len(&self) -> usize {
        match &self.out {
            Output::Text(s) => s.len(),
            Output::Binary(v) => v.len(),
        }
    }

    /// Whether no packet has been pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The number of packets pushed.
    pub fn packet_count(&self) -> usize {
        self.count
    }

    /// The body. An empty [`V3String`](PayloadFormat::V3String) payload is `0:`; empty v4 and
    /// v3 binary payloads are empty (engine.io never sends them).
    pub fn finish(self) -> Bytes {
        match self.out {
            Output::Text(s) if s.is_empty() && self.format == PayloadFormat::V3String => {
                Bytes::from_static(b"0:")
            }
            Output::Text(s) => Bytes::from(s),
            Output::Binary(v) => Bytes::from(v),
        }
    }
}

/// Writes an XHR2 record header: the kind, the digits of `len` as bytes 0-9, then `0xFF`.
fn write_binary_header(out: &mut Vec<u8>, kind: u8, len: usize) {
    out.push(kind);
    out.extend(
        itoa::Buffer::new()
            .format(len)
            .bytes()
            .map(|d| d.wrapping_sub(b'0')),
    );
    out.push(0xff);
}

/// Where the decoder is in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// v4: inside a record.
    V4Record,
    /// v4: the last record has been decoded.
    V4Done,
    /// v3 string: reading the length digits (`None` before the first one).
    StrLen(Option<u64>),
    /// v3 string: reading a record of `units` more UTF-16 units of its decoded text, in the
    /// middle of the UTF-8 sequence `utf8`.
    StrText { units: u64, utf8: Utf8 },
    /// v3 binary: expecting a record kind byte.
    BinKind,
    /// v3 binary: reading the length digits.
    BinLen { text: bool, len: Option<u64> },
    /// v3 binary: reading a record of `left` more bytes.
    BinData { text: bool, left: u64 },
}

/// An incremental polling payload decoder.
///
/// Feed the body chunk by chunk with [`push`](Self::push) as it arrives and take packets with
/// [`next_packet`](Self::next_packet) until it returns `Ok(None)` ("need more bytes"); at the
/// end of the body call [`end`](Self::end) (or [`finish`](Self::finish)) and drain the rest.
/// Drain after every push: chunks pushed without draining are queued as they are.
///
/// - The body is limited to `max_payload` bytes: `push` fails with
///   an error whose [`is_too_large`](crate::Error::is_too_large) is true
///   ([`DecodeReason::PayloadTooLarge`]) as soon as the total exceeds it (answer `413`), and a v3
///   record that declares a larger length is refused before its bytes arrive. Nothing is ever
///   allocated for bytes that have not arrived.
/// - Time is linear in the body: every byte is looked at once, and a record is copied only when
///   it spans chunks. A record that lies within one chunk is a zero-copy slice of it.
/// - Like engine.io, the packets before a malformed record are delivered, then the error. An
///   error is final: every later call returns it again.
///
/// ```
/// use bytes::Bytes;
/// use sio_protocol::engine::{Packet, PayloadDecoder, PayloadFormat};
/// let mut decoder = PayloadDecoder::new(PayloadFormat::V4, 1_000_000);
/// decoder.push(Bytes::from_static(b"4hello\x1e4wor"))?;
/// assert_eq!(decoder.next_packet()?, Some(Packet::Message("hello".into())));
/// assert_eq!(decoder.next_packet()?, None);
/// decoder.push(Bytes::from_static(b"ld"))?;
/// decoder.end();
/// assert_eq!(decoder.next_packet()?, Some(Packet::Message("world".into())));
/// assert_eq!(decoder.next_packet()?, None);
/// # Ok::<(), sio_protocol::Error>(())
/// ```
///
/// Invalid UTF-8 in a text body (v4, v3 string) is decoded as Node decodes it: engine.io turns
/// the body into a string with `Buffer#toString()`, which replaces each invalid sequence with
/// U+FFFD (the WHATWG "maximal subpart" rule: `String::from_utf8_lossy` gives the same
/// string), so the session goes on. A v3 length counts the UTF-16 units of that decoded text
/// (a U+FFFD is one unit), counted the same whatever the chunking. Node converts each chunk of
/// the request separately, so a character cut between two TCP chunks becomes U+FFFD there;
/// this decoder reads the body as if it had arrived in one chunk (what Node does for any body
/// that does). The text records of an XHR2 body follow engine.io's parser-v3, whose UTF-8
/// decoder replaces an encoded surrogate (`ED A0 80`) with U+FFFD and refuses any other
/// invalid sequence ([`DecodeReason::InvalidUtf8`]).
///
/// Stricter than engine.io, on purpose (engine.io's acceptance there is an accident of its
/// implementation, and no peer produces such bodies):
/// - v3 lengths must be ASCII digits (JavaScript's `Number()` also takes `1e1`, ` 5`, `0x5`);
/// - XHR2 record kinds must be 0 or 1, length digits bytes 0-9, and a truncated record is an
///   error (engine.io silently delivers the shortened packet);
/// - a length must not end inside a character (JavaScript would split a surrogate pair);
/// - binary records must be messages (see [`DecodeReason::BinaryNotMessage`]).
#[derive(Debug)]
pub struct PayloadDecoder {
    format: PayloadFormat,
    max_payload: usize,
    received: usize,
    /// Chunks not yet consumed; the current record starts in `carry`, or at the front chunk.
    chunks: VecDeque<Bytes>,
    /// How many bytes of the front chunk belong to the current record and have been scanned.
    scanned: usize,
    /// The current record's bytes from chunks already dropped (only when a record spans chunks).
    carry: BytesMut,
    state: State,
    ended: bool,
    error: Option<DecodeReason>,
}

impl PayloadDecoder {
    /// A decoder for a body of at most `max_payload` bytes (engine.io's
    /// `maxHttpBufferSize`, 1e6 by default).
    pub fn new(format: PayloadFormat, max_payload: usize) -> Self {
        let state = match format {
            PayloadFormat::V4 => State::V4Record,
            PayloadFormat::V3String => State::StrLen(None),
            PayloadFormat::V3Binary => State::BinKind,
        };
        PayloadDecoder {
            format,
            max_payload,
            received: 0,
            chunks: VecDeque::new(),
            scanned: 0,
            carry: BytesMut::new(),
            state,
            ended: false,
            error: None,
        }
    }

    /// Decodes a whole body.
    ///
    /// Errors of this decoder are of kind [`EngineDecode`](crate::ErrorKind::EngineDecode).
    pub fn decode_all(
        body: Bytes,
        format: PayloadFormat,
        max_payload: usize,
    ) -> Result<Vec<Packet>, Error> {
        PayloadDecoder::decode_all_reason(body, format, max_payload).map_err(Error::engine)
    }

    fn decode_all_reason(
        body: Bytes,
        format: PayloadFormat,
        max_payload: usize,
    ) -> Result<Vec<Packet>, DecodeReason> {
        let mut decoder = PayloadDecoder::new(format, max_payload);
        decoder.push_reason(body)?;
        decoder.end();
        let mut packets = Vec::new();
        while let Some(packet) = decoder.next_packet_reason()? {
            packets.push(packet);
        }
        Ok(packets)
    }

    /// The format being decoded.
    pub fn format(&self) -> PayloadFormat {
        self.format
    }

    /// The number of bytes pushed so far.
    pub fn received(&self) -> usize {
        self.received
    }

    /// Adds the next chunk of the body.
    ///
    /// Fails with [`DecodeReason::PayloadTooLarge`] (an error whose
    /// [`is_too_large`](crate::Error::is_too_large) is true) once the body exceeds
    /// `max_payload` bytes (the chunk is dropped), or with the error that already stopped the
    /// decoder. Chunks pushed after [`end`](Self::end) are ignored.
    pub fn push(&mut self, chunk: Bytes) -> Result<(), Error> {
        self.push_reason(chunk).map_err(Error::engine)
    }

    fn push_reason(&mut self, chunk: Bytes) -> Result<(), DecodeReason> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        if self.ended {
            return Ok(());
        }
        self.received = self.received.saturating_add(chunk.len());
        if self.received > self.max_payload {
            return Err(self.fail(DecodeReason::PayloadTooLarge {
                limit: self.max_payload,
            }));
        }
        if !chunk.is_empty() {
            self.chunks.push_back(chunk);
        }
        Ok(())
    }

    /// Marks the end of the body: [`next_packet`](Self::next_packet) then also decodes the
    /// last v4 record (it has no terminator) and reports a truncated v3 payload.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// [`end`](Self::end), then [`next_packet`](Self::next_packet): call it until it returns
    /// `Ok(None)`.
    pub fn finish(&mut self) -> Result<Option<Packet>, Error> {
        self.finish_reason().map_err(Error::engine)
    }

    fn finish_reason(&mut self) -> Result<Option<Packet>, DecodeReason> {
        self.end();
        self.next_packet_reason()
    }

    /// The next packet whose record has fully arrived, `Ok(None)` when more bytes are needed
    /// (or, after [`end`](Self::end), when the payload is done).
    pub fn next_packet(&mut self) -> Result<Option<Packet>, Error> {
        self.next_packet_reason().map_err(Error::engine)
    }

    fn next_packet_reason(&mut self) -> Result<Option<Packet>, DecodeReason> {
        if let Some(error) = &self.error {
            return Err(error.clone());
        }
        self.step().map_err(|e| self.fail(e))
    }

    /// Stops the decoder for good and frees its buffers.
    fn fail(&mut self, error: DecodeReason) -> DecodeReason {
        self.error = Some(error.clone());
        self.chunks = VecDeque::new();
        self.carry = BytesMut::new();
        self.scanned = 0;
        error
    }

    fn step(&mut self) -> Result<Option<Packet>, DecodeReason> {
        loop {
            let Some(front) = self.chunks.front_mut() else {
                return self.at_end();
            };
            if self.scanned >= front.len() {
                if self.chunks.len() == 1 {
                    // Everything received so far is scanned.
                    return self.at_end();
                }
                // The record goes on in the next chunk: keep its bytes from this one.
                if let Some(done) = self.chunks.pop_front() {
                    self.carry.extend_from_slice(&done);
                }
                self.scanned = 0;
                continue;
            }
            let rest = front.get(self.scanned..).unwrap_or_default();
            match self.state {
                State::V4Record => match memchr::memchr(SEPARATOR, rest) {
                    Some(i) => {
                        let record = take(&mut self.carry, front, self.scanned + i);
                        front.advance(1);
                        self.scanned = 0;
                        return decode_text_record(record, ProtocolVersion::V4).map(Some);
                    }
                    None => self.scanned = front.len(),
                },
                State::V4Done => {
                    // Unreachable: `V4Done` is only entered at the end, when no chunk is left.
                    self.chunks.clear();
                    self.scanned = 0;
                }
                State::StrLen(len) => {
                    let (used, len, colon) =
                        scan_digits(rest, len, b':', |b| b.is_ascii_digit().then(|| b - b'0'))?;
                    front.advance(used);
                    self.state = match (colon, len) {
                        (false, _) => State::StrLen(len),
                        (true, None) => return Err(DecodeReason::InvalidLength),
                        (true, Some(0)) => State::StrLen(None), // `0:` holds no packet
                        (true, Some(n)) => {
                            self.check_declared(n)?;
                            State::StrText {
                                units: n,
                                utf8: Utf8::START,
                            }
                        }
                    };
                }
                State::StrText { units, utf8 } => {
                    let (used, units, utf8) = scan_utf16(rest, units, utf8)?;
                    if units == 0 {
                        let record = take(&mut self.carry, front, self.scanned + used);
                        self.scanned = 0;
                        self.state = State::StrLen(None);
                        return decode_text_record(record, ProtocolVersion::V3).map(Some);
                    }
                    self.scanned += used;
                    self.state = State::StrText { units, utf8 };
                }
                State::BinKind => {
                    let text = match rest.first() {
                        Some(0) => true,
                        Some(1) => false,
                        _ => return Err(DecodeReason::InvalidLength),
                    };
                    front.advance(1);
                    self.state = State::BinLen { text, len: None };
                }
                State::BinLen { text, len } => {
                    let (used, len, end) = scan_digits(rest, len, 0xff, |b| (b <= 9).then_some(b))?;
                    front.advance(used);
                    self.state = match (end, len) {
                        (false, _) => State::BinLen { text, len },
                        (true, None) => return Err(DecodeReason::InvalidLength),
                        (true, Some(0)) => return Err(DecodeReason::Empty),
                        (true, Some(n)) => {
                            self.check_declared(n)?;
                            State::BinData { text, left: n }
                        }
                    };
                }
                State::BinData { text, left } => {
                    let available = rest.len();
                    match usize::try_from(left) {
                        Ok(left) if left <= available => {
                            let record = take(&mut self.carry, front, self.scanned + left);
                            self.scanned = 0;
                            self.state = State::BinKind;
                            return if text {
                                decode_xhr2_text_record(record).map(Some)
                            } else {
                                decode_v3_binary(record).map(Some)
                            };
                        }
                        _ => {
                            self.scanned += available;
                            let left = left.saturating_sub(available as u64);
                            self.state = State::BinData { text, left };
                        }
                    }
                }
            }
        }
    }

    /// Refuses a declared v3 record length that cannot fit in the payload limit (a length in
    /// UTF-16 units is never more than the length in bytes).
    fn check_declared(&self, declared: u64) -> Result<(), DecodeReason> {
        match usize::try_from(declared) {
            Ok(n) if n <= self.max_payload => Ok(()),
            _ => Err(DecodeReason::PayloadTooLarge {
                limit: self.max_payload,
            }),
        }
    }

    /// All bytes received so far are scanned: wait for more, or finish the payload.
    fn at_end(&mut self) -> Result<Option<Packet>, DecodeReason> {
        if !self.ended {
            return Ok(None);
        }
        match self.state {
            State::V4Record => {
                // The last record: everything not yet consumed.
                let front = self.chunks.pop_front().unwrap_or_default();
                let record = if self.carry.is_empty() {
                    front
                } else {
                    self.carry.extend_from_slice(&front);
                    self.carry.split().freeze()
                };
                self.scanned = 0;
                self.state = State::V4Done;
                decode_text_record(record, ProtocolVersion::V4).map(Some)
            }
            // The body ends inside a UTF-8 sequence, which decodes to one U+FFFD: when that is
            // the record's last unit, the record is complete.
            State::StrText { units: 1, utf8 } if utf8.pending() => {
                let front = self.chunks.pop_front().unwrap_or_default();
                let record = if self.carry.is_empty() {
                    front
                } else {
                    self.carry.extend_from_slice(&front);
                    self.carry.split().freeze()
                };
                self.scanned = 0;
                self.state = State::StrLen(None);
                decode_text_record(record, ProtocolVersion::V3).map(Some)
            }
            // engine.io's v3 parser refuses an empty string payload (but not an empty binary one).
            State::StrLen(None) if self.received == 0 => Err(DecodeReason::Empty),
            State::V4Done | State::StrLen(None) | State::BinKind => Ok(None),
            State::StrLen(Some(_))
            | State::StrText { .. }
            | State::BinLen { .. }
            | State::BinData { .. } => Err(DecodeReason::Truncated),
        }
    }
}

/// The first `end` bytes of the current record in `front`, preceded by `carry`: a slice of
/// `front` when the record lies within it, else a copy.
fn take(carry: &mut BytesMut, front: &mut Bytes, end: usize) -> Bytes {
    let end = end.min(front.len());
    if carry.is_empty() {
        front.split_to(end)
    } else {
        carry.extend_from_slice(front.get(..end).unwrap_or_default());
        front.advance(end);
        carry.split().freeze()
    }
}

/// Decodes a text record of a v4 or v3 string payload. engine.io reads the body as a string
/// (`Buffer#toString()`), which replaces each invalid UTF-8 sequence with U+FFFD (the WHATWG
/// decoder's "maximal subpart" rule, which `String::from_utf8_lossy` follows too). A valid
/// record is a slice of the body; only an invalid one is copied.
fn decode_text_record(record: Bytes, version: ProtocolVersion) -> Result<Packet, DecodeReason> {
    let text = match Str::from_utf8(record.clone()) {
        Ok(text) => text,
        Err(_) => Str::from(String::from_utf8_lossy(&record).into_owned()),
    };
    Packet::decode_text_reason(text, version)
}

/// Decodes a text record of an XHR2 (v3 binary) payload. engine.io's parser-v3 reads it with
/// its own UTF-8 decoder (`utf8.decode(data, {strict: false})`), which turns an encoded
/// surrogate (`ED A0..BF 80..BF`, CESU-8 style) into U+FFFD and refuses every other invalid
/// sequence (the payload is then a parser error).
fn decode_xhr2_text_record(record: Bytes) -> Result<Packet, DecodeReason> {
    let text = match Str::from_utf8(record.clone()) {
        Ok(text) => text,
        Err(_) => {
            let mut out = String::with_capacity(record.len() + 8);
            let mut rest = &record[..];
            loop {
                match std::str::from_utf8(rest) {
                    Ok(valid) => {
                        out.push_str(valid);
                        break;
                    }
                    Err(e) => {
                        let (valid, after) = rest.split_at(e.valid_up_to());
                        // `valid` is valid UTF-8 by construction.
                        out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                        match after {
                            [0xed, 0xa0..=0xbf, 0x80..=0xbf, more @ ..] => {
                                out.push(char::REPLACEMENT_CHARACTER);
                                rest = more;
                            }
                            _ => return Err(DecodeReason::InvalidUtf8),
                        }
                    }
                }
            }
            Str::from(out)
        }
    };
    Packet::decode_text_reason(text, ProtocolVersion::V3)
}

/// Reads length digits from `bytes` up to `terminator`, continuing the number `len`.
///
/// Returns the bytes used (the terminator included), the number, and whether the terminator
/// was reached.
fn scan_digits(
    bytes: &[u8],
    mut len: Option<u64>,
    terminator: u8,
    digit: impl Fn(u8) -> Option<u8>,
) -> Result<(usize, Option<u64>, bool), DecodeReason> {
    for (i, &b) in bytes.iter().enumerate() {
        if b == terminator {
            return Ok((i + 1, len, true));
        }
        let d = digit(b).ok_or(DecodeReason::InvalidLength)?;
        let n = len.unwrap_or(0);
        len = Some(
            n.checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d)))
                .ok_or(DecodeReason::InvalidLength)?,
        );
    }
    Ok((bytes.len(), len, false))
}

/// Where the WHATWG UTF-8 decoder is inside a sequence: how many continuation bytes it still
/// needs, how many the sequence has in all, and the range the next one must be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Utf8 {
    needed: u8,
    total: u8,
    lower: u8,
    upper: u8,
}

impl Utf8 {
    /// Between characters.
    const START: Utf8 = Utf8 {
        needed: 0,
        total: 0,
        lower: 0x80,
        upper: 0xbf,
    };

    /// Whether a sequence has started and not ended.
    fn pending(self) -> bool {
        self.needed > 0
    }
}

/// Scans the text of a v3 string record that needs `units` more UTF-16 code units of decoded
/// text, from the decoder state `utf8`.
///
/// The units are those of the body decoded as Node decodes it (`Buffer#toString()`, the WHATWG
/// UTF-8 decoder): one per character of the Basic Multilingual Plane, two per astral
/// character, and one per U+FFFD that replaces an invalid sequence ("maximal subpart" rule: a
/// sequence that goes wrong yields one U+FFFD for the bytes before the offending byte, which
/// is then read again; any other invalid byte yields one U+FFFD). So the count never depends on
/// where the chunks of the body are cut.
///
/// Returns the bytes used and what is still needed; the record is complete when the units
/// reach 0 (the decoder is then between characters). A record whose last unit is a sequence
/// cut by the end of the body is completed by [`PayloadDecoder::at_end`].
fn scan_utf16(
    bytes: &[u8],
    mut units: u64,
    mut utf8: Utf8,
) -> Result<(usize, u64, Utf8), DecodeReason> {
    let mut i = 0;
    while units > 0 {
        let Some(&b) = bytes.get(i) else { break };
        if utf8.needed == 0 {
            if b.is_ascii() {
                // A run of ASCII: one unit per byte.
                let window = bytes.get(i..).unwrap_or_default();
                let max = usize::try_from(units)
                    .unwrap_or(usize::MAX)
                    .min(window.len());
                let window = window.get(..max).unwrap_or_default();
                let run = window.iter().position(|b| !b.is_ascii()).unwrap_or(max);
                i += run;
                units -= run as u64;
                continue;
            }
            let (total, lower, upper) = match b {
                0xc2..=0xdf => (1, 0x80, 0xbf),
                0xe0 => (2, 0xa0, 0xbf),
                0xed => (2, 0x80, 0x9f),
                0xe1..=0xef => (2, 0x80, 0xbf),
                0xf0 => (3, 0x90, 0xbf),
                0xf4 => (3, 0x80, 0x8f),
                0xf1..=0xf3 => (3, 0x80, 0xbf),
                // Not a lead byte: one U+FFFD.
                _ => (0, 0x80, 0xbf),
            };
            i += 1;
            if total == 0 {
                units -= 1;
            } else {
                utf8 = Utf8 {
                    needed: total,
                    total,
                    lower,
                    upper,
                };
            }
        } else if (utf8.lower..=utf8.upper).contains(&b) {
            i += 1;
            utf8.needed -= 1;
            utf8.lower = 0x80;
            utf8.upper = 0xbf;
            if utf8.needed == 0 {
                let width = if utf8.total == 3 { 2 } else { 1 };
                if width > units {
                    // The length ends between the two halves of a surrogate pair.
                    return Err(DecodeReason::InvalidLength);
                }
                units -= width;
                utf8 = Utf8::START;
            }
        } else {
            // The sequence is cut short: one U+FFFD for its bytes, and `b` is read again.
            units -= 1;
            utf8 = Utf8::START;
        }
    }
    Ok((i, units, utf8))
}

/// Splits a batch of packets into v4 payloads (POST bodies) of at most `max` bytes each, in
/// order, as engine.io-client's `_getWritablePackets` does with the server's `maxPayload`: a
/// single packet larger than `max` still goes alone (and the server refuses it); `None` puts
/// the whole batch in one payload.
///
/// ```
/// use sio_protocol::engine::{Packet, split_batch};
///
/// let packets = [Packet::Message("a".into()), Packet::Message("b".into())];
/// // `4a` and `4b`: 2 bytes each, 5 with the separator.
/// assert_eq!(split_batch(&packets, Some(5)), [&b"4a\x1e4b"[..]]);
/// assert_eq!(split_batch(&packets, Some(4)), [&b"4a"[..], &b"4b"[..]]);
/// ```
pub fn split_batch(batch: &[Packet], max: Option<usize>) -> Vec<Bytes> {
    let Some(max) = max else {
        return vec![PayloadEncoder::encode(batch, PayloadFormat::V4)];
    };
    let mut bodies = Vec::new();
    let mut current = PayloadEncoder::new(PayloadFormat::V4);
    for packet in batch {
        let size = PayloadEncoder::encode([packet], PayloadFormat::V4).len();
        // The separator before a packet that is not the first of its body.
        if !current.is_empty() && current.len() + 1 + size > max {
            let full = std::mem::replace(&mut current, PayloadEncoder::new(PayloadFormat::V4));
            bodies.push(full.finish());
        }
        current.push(packet);
    }
    if !current.is_empty() {
        bodies.push(current.finish());
    }
    bodies
}

#[cfg(test)]
mod tests {
    use super::*;
    use PayloadFormat::{V3Binary, V3String, V4};

    const MAX: usize = 1_000_000;

    fn msg(s: &'static str) -> Packet {
        Packet::Message(Str::from_static(s))
    }

    fn bin(b: &'static [u8]) -> Packet {
        Packet::Binary(Bytes::from_static(b))
    }

    fn decode(body: &[u8], format: PayloadFormat) -> Result<Vec<Packet>, DecodeReason> {
        PayloadDecoder::decode_all_reason(Bytes::copy_from_slice(body), format, MAX)
    }

    /// Decodes `body` pushed in chunks of `size` bytes, draining after each push.
    fn decode_chunked(
        body: &[u8],
        format: PayloadFormat,
        size: usize,
    ) -> Result<Vec<Packet>, DecodeReason> {
        let mut decoder = PayloadDecoder::new(format, MAX);
        let mut packets = Vec::new();
        for chunk in body.chunks(size.max(1)) {
            decoder.push_reason(Bytes::copy_from_slice(chunk))?;
            while let Some(p) = decoder.next_packet_reason()? {
                packets.push(p);
            }
        }
        while let Some(p) = decoder.finish_reason()? {
            packets.push(p);
        }
        Ok(packets)
    }

    #[test]
    fn encodes_like_engine_io() {
        let packets = [msg("héllo😀"), bin(&[1, 2, 3])];
        assert_eq!(
            &PayloadEncoder::encode(&packets, V3Binary)[..],
            &[
                0, 1, 1, 255, 52, 104, 195, 169, 108, 108, 111, 240, 159, 152, 128, 1, 4, 255, 4,
                1, 2, 3
            ][..]
        );
        assert_eq!(
            &PayloadEncoder::encode(&packets, V3String)[..],
            "8:4héllo😀6:b4AQID".as_bytes()
        );
        assert_eq!(
            &PayloadEncoder::encode(&packets, V4)[..],
            "4héllo😀\x1ebAQID".as_bytes()
        );
        assert_eq!(
            &PayloadEncoder::encode([msg("hello"), msg("€")].iter(), V3String)[..],
            "6:4hello2:4€".as_bytes()
        );
        assert_eq!(&PayloadEncoder::encode(&[], V3String)[..], b"0:");
        assert_eq!(&PayloadEncoder::encode(&[], V4)[..], b"");
        assert_eq!(&PayloadEncoder::encode(&[], V3Binary)[..], b"");
        let long = Packet::Message(Str::from("x".repeat(11)));
        assert_eq!(&PayloadEncoder::encode([&long], V3Binary)[..3], &[0, 1, 2]);
    }

    #[test]
    fn encoder_len() {
        let mut e = PayloadEncoder::new(V4);
        assert!(e.is_empty());
        e.push(&msg("a"));
        e.push(&Packet::Noop);
        assert_eq!((e.len(), e.packet_count(), e.format()), (4, 2, V4));
        assert_eq!(&e.finish()[..], b"4a\x1e6");
    }

    #[test]
    fn formats() {
        use ProtocolVersion as V;
        assert_eq!(PayloadFormat::for_request(V::V4, false, true), V4);
        assert_eq!(PayloadFormat::for_request(V::V3, false, true), V3Binary);
        assert_eq!(PayloadFormat::for_request(V::V3, false, false), V3String);
        assert_eq!(PayloadFormat::for_request(V::V3, true, true), V3String);
        assert_eq!(PayloadFormat::for_body(V::V3, true), V3Binary);
        assert_eq!(PayloadFormat::for_body(V::V4, true), V4);
        assert_eq!(V3Binary.content_type(), "application/octet-stream");
        assert_eq!(V4.content_type(), "text/plain; charset=UTF-8");
        assert_eq!(V3String.version(), V::V3);
    }

    #[test]
    fn decodes_v4() {
        assert_eq!(
            decode(b"4hello\x1ebAQIDBA==", V4),
            Ok(vec![msg("hello"), bin(&[1, 2, 3, 4])])
        );
        assert_eq!(decode(b"6", V4), Ok(vec![Packet::Noop]));
        assert_eq!(decode(b"", V4), Err(DecodeReason::Empty));
        assert_eq!(decode(b"4a\x1e", V4), Err(DecodeReason::Empty));
        assert_eq!(decode(b"\x1e4a", V4), Err(DecodeReason::Empty));
        // Invalid UTF-8 becomes U+FFFD, as Node's `Buffer#toString()` makes it.
        assert_eq!(
            decode(b"4a\x1e4\xff", V4),
            Ok(vec![msg("a"), msg("\u{fffd}")])
        );
        assert_eq!(
            decode(b"4a\x1e\xff", V4),
            Err(DecodeReason::UnknownPacketType(0xef))
        );
    }

    #[test]
    fn decodes_v3_string() {
        assert_eq!(
            decode("6:4hello2:4€".as_bytes(), V3String),
            Ok(vec![msg("hello"), msg("€")])
        );
        assert_eq!(decode("3:4😀".as_bytes(), V3String), Ok(vec![msg("😀")]));
        assert_eq!(decode(b"0:", V3String), Ok(vec![]));
        assert_eq!(decode(b"0:1:60:", V3String), Ok(vec![Packet::Noop]));
        assert_eq!(decode(b"06:4hello", V3String), Ok(vec![msg("hello")]));
        assert_eq!(decode(b"6:b4AQID", V3String), Ok(vec![bin(&[1, 2, 3])]));
        assert_eq!(decode(b"", V3String), Err(DecodeReason::Empty));
        assert_eq!(decode(b":4", V3String), Err(DecodeReason::InvalidLength));
        assert_eq!(
            decode(b"1e1:4hellohell", V3String),
            Err(DecodeReason::InvalidLength)
        );
        assert_eq!(decode(b"6:4hell", V3String), Err(DecodeReason::Truncated));
        assert_eq!(decode(b"12", V3String), Err(DecodeReason::Truncated));
        assert_eq!(
            decode(b"1:7", V3String),
            Err(DecodeReason::UnknownPacketType(b'7'))
        );
        assert_eq!(
            decode("2:4😀".as_bytes(), V3String),
            Err(DecodeReason::InvalidLength)
        );
        assert_eq!(decode(b"2:4\xff", V3String), Ok(vec![msg("\u{fffd}")]));
        assert_eq!(
            decode(b"2:4\xc31:6", V3String),
            Ok(vec![msg("\u{fffd}"), Packet::Noop])
        );
        assert_eq!(
            decode(b"99999999:4hello", V3String),
            Err(DecodeReason::PayloadTooLarge { limit: MAX })
        );
        assert_eq!(
            decode(b"99999999999999999999999:4", V3String),
            Err(DecodeReason::InvalidLength)
        );
    }

    #[test]
    fn decodes_v3_binary() {
        let body = [
            0, 6, 255, b'4', b'h', b'e', b'l', b'l', b'o', 1, 5, 255, 4, 1, 2, 3, 4,
        ];
        assert_eq!(
            decode(&body, V3Binary),
            Ok(vec![msg("hello"), bin(&[1, 2, 3, 4])])
        );
        assert_eq!(decode(b"", V3Binary), Ok(vec![]));
        assert_eq!(decode(&[0, 1, 255, b'6'], V3Binary), Ok(vec![Packet::Noop]));
        assert_eq!(decode(&[1, 1, 255, 4], V3Binary), Ok(vec![bin(&[])]));
        assert_eq!(
            decode(&[2, 1, 255, 4], V3Binary),
            Err(DecodeReason::InvalidLength)
        );
        assert_eq!(
            decode(&[0, 255, b'6'], V3Binary),
            Err(DecodeReason::InvalidLength)
        );
        assert_eq!(
            decode(&[0, 10, 255, b'6'], V3Binary),
            Err(DecodeReason::InvalidLength)
        );
        assert_eq!(decode(&[0, 0, 255], V3Binary), Err(DecodeReason::Empty));
        assert_eq!(
            decode(&[0, 2, 255, b'6'], V3Binary),
            Err(DecodeReason::Truncated)
        );
        assert_eq!(decode(&[0, 2], V3Binary), Err(DecodeReason::Truncated));
        assert_eq!(
            decode(&[1, 2, 255, 2, 1], V3Binary),
            Err(DecodeReason::BinaryNotMessage(2))
        );
        assert_eq!(
            decode(&[0, 2, 255, b'4', 0xff], V3Binary),
            Err(DecodeReason::InvalidUtf8)
        );
        // parser-v3's own UTF-8 decoder: an encoded surrogate is U+FFFD, anything else invalid
        // is a parser error.
        assert_eq!(
            decode(
                &[0, 7, 255, b'4', 0xed, 0xa0, 0x80, 0xed, 0xbf, 0xbf],
                V3Binary
            ),
            Ok(vec![msg("\u{fffd}\u{fffd}")])
        );
        assert_eq!(
            decode(&[0, 5, 255, b'4', 0xed, 0x9f, 0xbf, b'x'], V3Binary),
            Ok(vec![msg("\u{d7ff}x")])
        );
        for bad in [
            &[0xc0, 0x80][..],
            &[0xe0, 0x80, 0x80],
            &[0xf0, 0x80, 0x80, 0x80],
            &[0xf4, 0x90, 0x80, 0x80],
            &[0xed, 0xa0],
            &[0x80],
            &[0xf8],
        ] {
            let mut body = vec![0, bad.len() as u8 + 1, 255, b'4'];
            body.extend_from_slice(bad);
            assert_eq!(
                decode(&body, V3Binary),
                Err(DecodeReason::InvalidUtf8),
                "{bad:x?}"
            );
        }
        assert_eq!(
            decode(&[1, 9, 9, 9, 9, 9, 9, 9, 9, 255, 4], V3Binary),
            Err(DecodeReason::PayloadTooLarge { limit: MAX })
        );
    }

    #[test]
    fn every_chunking_gives_the_same_result() {
        let cases: [(&[u8], PayloadFormat); 9] = [
            (b"4\xe2\x82\x1e4\xf0\x9f\x98\x80\xff\x1e4\xed\xa0\x80", V4),
            (b"5:4\xe2\x82\xf0\x9f\x98\x80\xff4:4\xed\xa0\x80", V3String),
            (
                &[
                    0, 4, 255, b'4', 0xed, 0xa0, 0x80, 0, 3, 255, b'4', 0xc3, 0xa9,
                ],
                V3Binary,
            ),
            ("4héllo😀\x1ebAQIDBA==\x1e6\x1e2probe".as_bytes(), V4),
            ("4a\x1e".as_bytes(), V4),
            ("6:4hello0:3:4😀10:b4AQIDBA==".as_bytes(), V3String),
            ("3:4😀2:".as_bytes(), V3String),
            (
                &[
                    0, 6, 255, b'4', b'h', b'e', b'l', b'l', b'o', 1, 5, 255, 4, 1, 2, 3, 4,
                ],
                V3Binary,
            ),
            (
                &[
                    0, 1, 1, 255, b'4', b'h', 0xc3, 0xa9, b'l', b'l', b'o', b'!', b'!', b'!', b'!',
                    b'!',
                ],
                V3Binary,
            ),
        ];
        for (body, format) in cases {
            let whole = decode(body, format);
            for size in 1..=body.len() {
                assert_eq!(
                    decode_chunked(body, format, size),
                    whole,
                    "{format:?} size {size}"
                );
            }
        }
    }

    /// The text Node reads from `bytes` (`Buffer#toString()`), as `from_utf8_lossy` gives it.
    fn node_text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[test]
    fn invalid_utf8_reads_as_node_reads_it() {
        // (bytes after the type digit, the text Node reads), from the WHATWG decoder's rules.
        let cases: [(&[u8], &str); 14] = [
            (b"\xff", "\u{fffd}"),
            (b"\xf5\xf6\xfe", "\u{fffd}\u{fffd}\u{fffd}"),
            (b"\xc0\x80", "\u{fffd}\u{fffd}"), // overlong: C0 is never a lead
            (b"\xe0\x80\x80", "\u{fffd}\u{fffd}\u{fffd}"), // overlong: E0 needs A0-BF
            (b"\xed\xa0\x80", "\u{fffd}\u{fffd}\u{fffd}"), // a surrogate
            (b"\xf4\x90\x80\x80", "\u{fffd}\u{fffd}\u{fffd}\u{fffd}"), // above U+10FFFF
            (b"\xe2\x82", "\u{fffd}"),         // truncated: one U+FFFD
            (b"\xe2\x82a", "\u{fffd}a"),
            (b"\xf0\x9f\x98", "\u{fffd}"),
            (b"\xf0\x9f\x98\xf0\x9f\x98\x80", "\u{fffd}😀"),
            (b"\x80\xbf", "\u{fffd}\u{fffd}"),
            (b"\xc3\xa9\xc3", "é\u{fffd}"),
            (b"a\xe2\x82\xac\xe2", "a€\u{fffd}"),
            (b"\xef\xbf\xbd", "\u{fffd}"), // a real U+FFFD
        ];
        for (bytes, text) in cases {
            assert_eq!(node_text(bytes), text, "{bytes:x?}");
            let expected = Ok(vec![
                Packet::Message(Str::from(text.to_owned())),
                Packet::Noop,
            ]);
            let mut v4 = b"4".to_vec();
            v4.extend_from_slice(bytes);
            v4.extend_from_slice(b"\x1e6");
            let units = 1 + text.encode_utf16().count();
            let mut v3 = format!("{units}:4").into_bytes();
            v3.extend_from_slice(bytes);
            v3.extend_from_slice(b"1:6");
            for (body, format) in [(&v4, V4), (&v3, V3String)] {
                for size in 1..=body.len() {
                    assert_eq!(
                        decode_chunked(body, format, size),
                        expected,
                        "{format:?} {body:x?} in chunks of {size}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_sequence_cut_by_the_end_of_the_body() {
        // The last record ends inside a sequence: Node reads one U+FFFD for it.
        for size in 1..=6 {
            assert_eq!(
                decode_chunked(b"2:4\xe2\x82", V3String, size),
                Ok(vec![msg("\u{fffd}")])
            );
            assert_eq!(
                decode_chunked(b"3:4\xe2\x82", V3String, size),
                Err(DecodeReason::Truncated)
            );
            assert_eq!(
                decode_chunked(b"4a\xe2\x82", V4, size),
                Ok(vec![msg("a\u{fffd}")])
            );
        }
        // A valid astral character is two units: a length of one still splits it.
        assert_eq!(
            decode(b"2:4\xf0\x9f\x98\x80", V3String),
            Err(DecodeReason::InvalidLength)
        );
        // A cut astral sequence is one U+FFFD, one unit.
        assert_eq!(
            decode(b"2:4\xf0\x9f\x981:6", V3String),
            Ok(vec![msg("\u{fffd}"), Packet::Noop])
        );
    }

    #[test]
    fn v3_units_are_counted_as_node_counts_them() {
        // Random records from bytes that make most sequences go wrong somewhere; the length
        // is the UTF-16 length of the text Node reads. Every chunking gives the same packets.
        let alphabet = [
            0x00, b'a', b':', b'1', 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf,
            0xe0, 0xe1, 0xed, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff,
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let len = (next() % 12) as usize;
            let record: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let text = format!("4{}", node_text(&record));
            let units = text.encode_utf16().count();
            let mut body = format!("{units}:4").into_bytes();
            body.extend_from_slice(&record);
            body.extend_from_slice(b"1:6");
            let expected = Ok(vec![
                Packet::Message(Str::from(text[1..].to_owned())),
                Packet::Noop,
            ]);
            let size = 1 + (next() % 5) as usize;
            assert_eq!(decode_chunked(&body, V3String, size), expected, "{body:x?}");
            assert_eq!(decode(&body, V3String), expected, "{body:x?}");
        }
    }

    #[test]
    fn records_within_a_chunk_are_not_copied() {
        let body = Bytes::from_static(b"4hello\x1e4world");
        let packets = PayloadDecoder::decode_all_reason(body.clone(), V4, MAX).unwrap_or_default();
        let ptrs: Vec<_> = packets
            .iter()
            .map(|p| match p {
                Packet::Message(m) => m.as_ptr(),
                _ => std::ptr::null(),
            })
            .collect();
        assert_eq!(
            ptrs,
            vec![body.as_ptr().wrapping_add(1), body.as_ptr().wrapping_add(8)]
        );

        // The last v4 record, scanned before `end`, is still sliced from its chunk.
        let mut d = PayloadDecoder::new(V4, MAX);
        let chunk = Bytes::from_static(b"4tail");
        assert_eq!(d.push_reason(chunk.clone()), Ok(()));
        assert_eq!(d.next_packet_reason(), Ok(None));
        let Ok(Some(Packet::Message(m))) = d.finish_reason() else {
            panic!("no packet")
        };
        assert_eq!(m.as_ptr(), chunk.as_ptr().wrapping_add(1));

        // An invalid record is copied; the valid one after it is still a slice.
        let body = Bytes::from_static(b"4\xff\x1e4world");
        let packets = PayloadDecoder::decode_all_reason(body.clone(), V4, MAX).unwrap_or_default();
        assert!(
            matches!(&packets[..], [Packet::Message(a), Packet::Message(b)] if a == "\u{fffd}" && b.as_ptr() == body.as_ptr().wrapping_add(4))
        );

        let body = Bytes::from_static(b"6:4hello");
        let packets =
            PayloadDecoder::decode_all_reason(body.clone(), V3String, MAX).unwrap_or_default();
        assert!(
            matches!(&packets[..], [Packet::Message(m)] if m.as_ptr() == body.as_ptr().wrapping_add(3))
        );
    }

    #[test]
    fn limit_is_checked_on_push() {
        let mut d = PayloadDecoder::new(V4, 10);
        assert_eq!(d.push_reason(Bytes::from_static(b"4123456789")), Ok(()));
        assert_eq!(d.received(), 10);
        let err = DecodeReason::PayloadTooLarge { limit: 10 };
        assert_eq!(d.push_reason(Bytes::from_static(b"0")), Err(err.clone()));
        // The error is final.
        assert_eq!(d.next_packet_reason(), Err(err.clone()));
        assert_eq!(d.push_reason(Bytes::new()), Err(err.clone()));
        assert_eq!(d.finish_reason(), Err(err));
    }

    #[test]
    fn declared_lengths_are_not_trusted() {
        // A huge declared length with a generous limit waits for bytes without reserving any.
        let mut d = PayloadDecoder::new(V3String, usize::MAX);
        assert_eq!(d.push_reason(Bytes::from_static(b"99999999:4he")), Ok(()));
        assert_eq!(d.next_packet_reason(), Ok(None));
        assert!(d.carry.capacity() < 64);
        assert_eq!(d.finish_reason(), Err(DecodeReason::Truncated));
    }

    #[test]
    fn errors_after_good_packets() {
        let mut d = PayloadDecoder::new(V4, MAX);
        assert_eq!(d.push_reason(Bytes::from_static(b"4a\x1ex\x1e4b")), Ok(()));
        assert_eq!(d.next_packet_reason(), Ok(Some(msg("a"))));
        assert_eq!(
            d.next_packet_reason(),
            Err(DecodeReason::UnknownPacketType(b'x'))
        );
        assert_eq!(
            d.next_packet_reason(),
            Err(DecodeReason::UnknownPacketType(b'x'))
        );
    }

    #[test]
    fn floods_decode_in_linear_time() {
        let v4 = "6\x1e".repeat(333_333) + "6";
        let v3 = "1:6".repeat(333_333);
        for (body, format) in [(v4, V4), (v3, V3String)] {
            let start = std::time::Instant::now();
            let packets = decode_chunked(body.as_bytes(), format, 1024).map(|p| p.len());
            assert_eq!(packets, Ok(if format == V4 { 333_334 } else { 333_333 }));
            assert!(
                start.elapsed().as_secs() < 20,
                "{format:?} took {:?}",
                start.elapsed()
            );
        }
    }

    #[test]
    fn batches_split_under_max_payload() {
        let packets: Vec<Packet> = (0..5)
            .map(|i| Packet::Message(format!("{i}{}", "x".repeat(8)).into()))
            .collect();
        // Each packet is 10 bytes on the wire (`4` + 9 characters), 11 with a separator.
        let bodies = split_batch(&packets, Some(21));
        let texts: Vec<&[u8]> = bodies.iter().map(|b| &b[..]).collect();
        assert_eq!(
            texts,
            [
                &b"40xxxxxxxx\x1e41xxxxxxxx"[..],
                &b"42xxxxxxxx\x1e43xxxxxxxx"[..],
                &b"44xxxxxxxx"[..],
            ]
        );
        // Every packet, in order, whatever the limit.
        for max in [1, 10, 11, 20, 21, 32, 1000] {
            let joined: Vec<Packet> = split_batch(&packets, Some(max))
                .into_iter()
                .flat_map(|b| {
                    PayloadDecoder::decode_all_reason(b, PayloadFormat::V4, 1 << 20).unwrap()
                })
                .collect();
            assert_eq!(joined, packets, "max {max}");
        }
        assert_eq!(split_batch(&packets, None).len(), 1);
    }

    #[test]
    fn public_errors_have_the_engine_kind() {
        let mut d = PayloadDecoder::new(V4, 10);
        let error = d.push(Bytes::from_static(b"4123456789x")).unwrap_err();
        assert!(error.is_engine_decode() && error.is_too_large());
        assert_eq!(
            error.engine_reason(),
            Some(DecodeReason::PayloadTooLarge { limit: 10 })
        );
        // The error is final, and the same through every call.
        assert!(d.next_packet().unwrap_err().is_too_large());
        let error =
            PayloadDecoder::decode_all(Bytes::from_static(b"6:4hell"), V3String, MAX).unwrap_err();
        assert_eq!(error.engine_reason(), Some(DecodeReason::Truncated));
        assert!(!error.is_too_large());
        assert_eq!(
            error.to_string(),
            "invalid engine.io data: truncated payload"
        );
    }
}
