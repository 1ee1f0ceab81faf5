//! Decoding packets with every check of socket.io-parser 4.2.7's `Decoder`.

use bytes::Bytes;

use super::args::Args;
use super::codec::{DecodeReason, DecoderConfig, Parser};
use super::json;
use super::lenient::JsValue;
use super::packet::{EventName, Packet, PacketData, ProtocolVersion};
use super::scan;
use super::scan::Ranges;
use crate::engine::Frame;
use crate::error::Error;
use crate::str::Str;
use crate::value::Value;

/// The largest integer JavaScript numbers hold exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Decodes packets, reassembling binary packets from their attachments.
///
/// Feed it every Socket.IO message of a connection in order. A binary packet's header returns
/// `Ok(None)` until its last attachment arrives. After an error the decoder is reset; the
/// caller should close the connection, as socket.io does.
///
/// Protocol 5 follows socket.io-parser 4.2.7 and protocol 4 socket.io-parser 3.3.6 (which does
/// not reserve event names, and accepts an array or `null` as CONNECT payload, ignored, and any
/// object, array or `null` as CONNECT_ERROR payload). Where JavaScript accepts what cannot be
/// represented or is clearly broken, this decoder rejects: an EVENT without payload (`2`,
/// `2/nsp`), an ACK without id, an ack id above 2^53-1, a non-integer placeholder `num`, an
/// empty message (JavaScript reads it as a CONNECT), lone surrogates in an event name, JSON
/// nested deeper than 128 levels in a binary packet, and the `Number()` oddities of the header
/// (whitespace or `1e1` as digits).
///
/// A number literal beyond the range of an `f64` (`1e309`) is valid JSON, which JavaScript reads
/// as `Infinity`: such packets are accepted, in text and binary packets, acks, event names and
/// CONNECT payloads alike (see [`Args`](super::Args#numbers-beyond-the-range-of-an-f64) for what
/// a handler reads, and what is sent again).
///
/// ```
/// use sio_protocol::socket::{Decoder, DecoderConfig, PacketData};
/// use sio_protocol::Str;
///
/// let mut decoder = Decoder::new(DecoderConfig::default());
/// let packet = decoder.decode_text(Str::from(r#"2/chat,7["msg","hi",{"n":1}]"#)).unwrap().unwrap();
/// assert_eq!(packet.nsp, "/chat");
/// let PacketData::Event { name, args, id } = packet.data else { panic!() };
/// assert_eq!((name.as_str(), id), ("msg", Some(7)));
/// let (text, obj): (String, serde_json::Value) = args.deserialize().unwrap();
/// assert_eq!((text.as_str(), obj["n"].as_u64()), ("hi", Some(1)));
///
/// // A binary event waits for its attachment.
/// let header = Str::from(r#"51-["file",{"_placeholder":true,"num":0}]"#);
/// assert!(decoder.decode_text(header).unwrap().is_none());
/// assert!(decoder.is_pending());
/// let packet = decoder.decode_binary(bytes::Bytes::from_static(b"\x01\x02")).unwrap().unwrap();
/// let PacketData::Event { args, .. } = packet.data else { panic!() };
/// let (data,): (bytes::Bytes,) = args.deserialize().unwrap();
/// assert_eq!(&data[..], b"\x01\x02");
/// ```
#[derive(Debug)]
pub struct Decoder {
    config: DecoderConfig,
    /// Boxed: rare, and a decoder lives as long as its connection.
    pending: Option<Box<Pending>>,
}

/// A binary packet waiting for its attachments.
#[derive(Debug)]
struct Pending {
    nsp: Str,
    /// The event name (None for an ack).
    name: Option<EventName>,
    id: Option<u64>,
    values: Items,
    expected: usize,
    attachments: Vec<Bytes>,
}

/// The items of a binary packet's JSON array.
#[derive(Debug)]
enum Items {
    /// As `Value`s (the usual case).
    Values(Vec<Value>),
    /// With a number beyond the range of an `f64` (read as an infinity) somewhere.
    Lenient(Vec<JsValue>),
}

impl Decoder {
    /// A decoder.
    pub fn new(config: DecoderConfig) -> Self {
        Decoder {
            config,
            pending: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Whether a binary packet is waiting for attachments.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Drops a binary packet waiting for attachments, if any.
    pub fn reset(&mut self) {
        self.pending = None;
    }

    /// Decodes a message.
    ///
    /// Errors of this decoder are of kind [`SocketDecode`](crate::ErrorKind::SocketDecode),
    /// with the reason in [`Error::socket_reason`].
    pub fn decode(&mut self, frame: Frame) -> Result<Option<Packet>, Error> {
        match frame {
            Frame::Text(text) => self.decode_text_reason(text),
            Frame::Binary(data) => self.decode_binary_reason(data),
        }
        .map_err(Error::socket)
    }

    /// Decodes a text message.
    pub fn decode_text(&mut self, text: Str) -> Result<Option<Packet>, Error> {
        self.decode_text_reason(text).map_err(Error::socket)
    }

    fn decode_text_reason(&mut self, text: Str) -> Result<Option<Packet>, DecodeReason> {
        if self.pending.take().is_some() {
            return Err(DecodeReason::UnexpectedText);
        }
        match self.config.parser {
            Parser::Json => {}
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => return super::msgpack::decode(Frame::Text(text), &self.config),
        }
        let result = self.decode_string(text);
        if result.is_err() {
            self.pending = None;
        }
        result
    }

    /// Decodes a binary message: an attachment of the pending binary packet.
    pub fn decode_binary(&mut self, data: Bytes) -> Result<Option<Packet>, Error> {
        self.decode_binary_reason(data).map_err(Error::socket)
    }

    fn decode_binary_reason(&mut self, data: Bytes) -> Result<Option<Packet>, DecodeReason> {
        match self.config.parser {
            Parser::Json => {}
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => {
                self.pending = None;
                return super::msgpack::decode(Frame::Binary(data), &self.config);
            }
        }
        let Some(pending) = self.pending.as_mut() else {
            return Err(DecodeReason::UnexpectedBinary);
        };
        pending.attachments.push(data);
        if pending.attachments.len() < pending.expected {
            return Ok(None);
        }
        let Some(pending) = self.pending.take() else {
            return Err(DecodeReason::UnexpectedBinary);
        };
        let args = match pending.values {
            Items::Values(mut values) => {
                for value in &mut values {
                    json::reconstruct(value, &pending.attachments)
                        .map_err(|_| DecodeReason::InvalidPlaceholder)?;
                }
                Args::from_values(values)
            }
            Items::Lenient(mut values) => {
                for value in &mut values {
                    value
                        .reconstruct(&pending.attachments)
                        .map_err(|_| DecodeReason::InvalidPlaceholder)?;
                }
                Args::from_js_values(values)
            }
        };
        let data = match (pending.name, pending.id) {
            (Some(name), id) => PacketData::Event { name, args, id },
            (None, Some(id)) => PacketData::Ack { args, id },
            (None, None) => return Err(DecodeReason::InvalidAckId),
        };
        Ok(Some(Packet {
            nsp: pending.nsp,
            data,
        }))
    }

    /// socket.io-parser's `decodeString` and `isPayloadValid`.
    fn decode_string(&mut self, text: Str) -> Result<Option<Packet>, DecodeReason> {
        let header = parse_header(&text, self.config.max_attachments)?;
        let nsp = match header.nsp {
            Some((start, end)) => text.slice(start..end),
            None => Str::from_static("/"),
        };
        let payload = text.get(header.payload..).filter(|p| !p.is_empty());
        let v4 = self.config.protocol == ProtocolVersion::V4;
        let data = match header.kind {
            0 => match payload.map(parse_value) {
                None => PacketData::Connect(None),
                Some(Some(v @ Value::Object(_))) => PacketData::Connect(Some(v)),
                // socket.io-parser 3 (protocol 4) checks `typeof payload === "object"`, which
                // arrays and null pass too; Socket.IO 2 ignores the payload.
                Some(Some(Value::Array(_) | Value::Null)) if v4 => PacketData::Connect(None),
                Some(_) => return Err(DecodeReason::InvalidPayload),
            },
            1 => match payload {
                None => PacketData::Disconnect,
                Some(_) => return Err(DecodeReason::InvalidPayload),
            },
            2 => {
                payload.ok_or(DecodeReason::InvalidPayload)?;
                let (name, ranges, infinite) = parse_items(&text, header.payload, Some(!v4))?;
                let name = name.ok_or(DecodeReason::InvalidPayload)?;
                PacketData::Event {
                    name,
                    args: Args::from_json(text.clone(), ranges, infinite),
                    id: header.id,
                }
            }
            3 => {
                let id = header.id.ok_or(DecodeReason::InvalidAckId)?;
                let args = match payload {
                    // socket.io calls the ack with no arguments.
                    None => Args::empty(),
                    Some(_) => {
                        let (_, ranges, infinite) = parse_items(&text, header.payload, None)?;
                        Args::from_json(text.clone(), ranges, infinite)
                    }
                };
                PacketData::Ack { args, id }
            }
            4 => match payload.map(parse_value) {
                // socket.io-parser accepts a CONNECT_ERROR without payload.
                None => PacketData::ConnectError(Value::Null),
                Some(Some(v @ (Value::String(_) | Value::Object(_)))) => {
                    PacketData::ConnectError(v)
                }
                // socket.io-parser 3: `typeof payload === "object"` (arrays, null).
                Some(Some(v @ (Value::Array(_) | Value::Null))) if v4 => {
                    PacketData::ConnectError(v)
                }
                Some(_) => return Err(DecodeReason::InvalidPayload),
            },
            _ => {
                let is_event = header.kind == 5;
                let mut values = match payload {
                    None if !is_event => Items::Values(Vec::new()),
                    None => return Err(DecodeReason::InvalidPayload),
                    Some(p) => match serde_json::from_str(p) {
                        Ok(Value::Array(values)) => Items::Values(values),
                        Ok(_) => return Err(DecodeReason::InvalidPayload),
                        // Perhaps valid JSON with a number beyond the range of an f64.
                        Err(_) => match parse_lenient(p) {
                            Some(JsValue::Array(values)) => Items::Lenient(values),
                            _ => return Err(DecodeReason::InvalidPayload),
                        },
                    },
                };
                let name = if is_event {
                    let name = match &mut values {
                        Items::Values(v) if !v.is_empty() => event_name_of(v.remove(0)),
                        Items::Lenient(v) if !v.is_empty() => match v.remove(0) {
                            JsValue::Infinity { negative } => Ok(infinite_name(negative)),
                            other => event_name_of(other.into_value()),
                        },
                        _ => Err(DecodeReason::InvalidPayload),
                    }?;
                    if !v4 && name.is_reserved() {
                        return Err(DecodeReason::InvalidPayload);
                    }
                    Some(name)
                } else {
                    if header.id.is_none() {
                        return Err(DecodeReason::InvalidAckId);
                    }
                    None
                };
                self.pending = Some(Box::new(Pending {
                    nsp,
                    name,
                    id: header.id,
                    values,
                    expected: header.attachments,
                    attachments: Vec::with_capacity(header.attachments),
                }));
                return Ok(None);
            }
        };
        Ok(Some(Packet { nsp, data }))
    }
}

/// The fields before the payload.
#[derive(Debug)]
struct Header {
    kind: u8,
    attachments: usize,
    /// Byte range of the namespace.
    nsp: Option<(usize, usize)>,
    id: Option<u64>,
    /// Where the payload starts (may be the end of the string).
    payload: usize,
}

/// The characters JavaScript's `Number()` skips as whitespace (WhiteSpace and LineTerminator).
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// `<type>[<attachments>-][<nsp>,][<id>]`, as socket.io-parser's `decodeString` reads it.
///
/// Stricter than JavaScript on a few oddities that `Number()` accepts and no encoder writes:
/// the attachment count must be ASCII digits (JavaScript also takes `1e1`, ` 2`, `0x2`), and an
/// ack id is a run of ASCII digits. JavaScript's `Number(" ") == " "` makes whitespace count as
/// an id digit (`2 ["a"]` has id 0 there, `2 1["a"]` id 1): a header whose id position holds
/// whitespace is refused rather than read differently.
fn parse_header(text: &str, max_attachments: usize) -> Result<Header, DecodeReason> {
    let b = text.as_bytes();
    let kind = match b.first() {
        Some(c @ b'0'..=b'6') => c - b'0',
        _ => return Err(DecodeReason::UnknownPacketType),
    };
    // `i` is the index of the last character read, as in the JavaScript.
    let mut i = 0;
    let mut attachments = 0;
    if kind == 5 || kind == 6 {
        let mut j = 1;
        let mut n: u64 = 0;
        while j < b.len() && b[j].is_ascii_digit() {
            n = n.saturating_mul(10).saturating_add(u64::from(b[j] - b'0'));
            j += 1;
        }
        if j == 1 || b.get(j) != Some(&b'-') || n < 1 {
            return Err(DecodeReason::IllegalAttachments);
        }
        attachments = match usize::try_from(n) {
            Ok(n) if n <= max_attachments => n,
            _ => return Err(DecodeReason::TooManyAttachments),
        };
        i = j;
    }
    let mut nsp = None;
    if b.get(i + 1) == Some(&b'/') {
        let start = i + 1;
        // The namespace runs to the next `,`, or to the end of the string.
        let end = memchr::memchr(b',', &b[start..]).map_or(b.len(), |p| start + p);
        nsp = Some((start, end));
        i = end;
    }
    if text
        .get(i + 1..)
        .and_then(|rest| rest.chars().next())
        .is_some_and(is_js_whitespace)
    {
        return Err(DecodeReason::InvalidAckId);
    }
    let mut id = None;
    if b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        let start = i + 1;
        let mut j = start;
        let mut n: u64 = 0;
        let mut overflow = false;
        while j < b.len() && b[j].is_ascii_digit() {
            if !overflow {
                n = n * 10 + u64::from(b[j] - b'0');
                overflow = n > MAX_SAFE_INTEGER;
            }
            j += 1;
        }
        if overflow {
            // JavaScript would round it (or get Infinity): the id could never be matched.
            return Err(DecodeReason::InvalidAckId);
        }
        id = Some(n);
        i = j - 1;
    }
    Ok(Header {
        kind,
        attachments,
        nsp,
        id,
        payload: (i + 1).min(b.len()),
    })
}

/// `JSON.parse` of a whole payload, as a [`Value`]: a number beyond the range of an `f64`
/// (`Infinity` in JavaScript) becomes `Null`, as `JSON.stringify` writes it.
fn parse_value(json: &str) -> Option<Value> {
    serde_json::from_str(json)
        .ok()
        .or_else(|| parse_lenient(json).map(JsValue::into_value))
}

/// `JSON.parse` of valid JSON that serde_json refused: a number beyond the range of an `f64`
/// reads as an infinity. (Nesting deeper than serde_json's limit still fails.)
fn parse_lenient(json: &str) -> Option<JsValue> {
    scan::validate(json.as_bytes()).ok()?;
    JsValue::parse(json).ok()
}

/// The name of an event named by a number beyond the range of an `f64`: JavaScript's
/// `String(Infinity)`, the name its listeners are registered under.
fn infinite_name(negative: bool) -> EventName {
    EventName::number(if negative { "-Infinity" } else { "Infinity" })
}

/// Reads the JSON array `payload` (a slice of `text`) without parsing its items: the event name
/// (when `name` is `Some(check_reserved)`) and the byte range of each following item in `text`.
/// This validates the JSON.
/// Also says whether a number beyond the range of an `f64` sits in the items after the name.
fn parse_items(
    text: &Str,
    payload_start: usize,
    name: Option<bool>,
) -> Result<(Option<EventName>, Ranges, bool), DecodeReason> {
    let scan::Items {
        name: raw_name,
        ranges,
        infinite,
    } = scan::scan_array(text.as_bytes(), payload_start, name.is_some())
        .map_err(|_| DecodeReason::InvalidPayload)?;
    let name = match (name, raw_name) {
        (Some(check_reserved), Some((start, end))) => {
            let raw = text.get(start..end).ok_or(DecodeReason::InvalidPayload)?;
            Some(event_name(text, raw, check_reserved)?)
        }
        (Some(_), None) => return Err(DecodeReason::InvalidPayload),
        _ => None,
    };
    Ok((name, ranges, infinite))
}

/// The EVENT rule: a number, or a string that is not reserved (protocol 5 only: socket.io-parser
/// 3 does not check).
fn event_name(text: &Str, raw: &str, check_reserved: bool) -> Result<EventName, DecodeReason> {
    let name = match raw.as_bytes().first() {
        Some(b'"') => {
            let inner = raw.get(1..raw.len() - 1).unwrap_or("");
            if inner.contains('\\') {
                let s: String =
                    serde_json::from_str(raw).map_err(|_| DecodeReason::InvalidPayload)?;
                EventName::new(s)
            } else {
                EventName::new(text.slice_ref(inner))
            }
        }
        Some(b'-' | b'0'..=b'9') if scan::overflows(raw.as_bytes()) => {
            infinite_name(raw.starts_with('-'))
        }
        Some(b'-' | b'0'..=b'9') => EventName::number(text.slice_ref(raw)),
        _ => return Err(DecodeReason::InvalidPayload),
    };
    if check_reserved && name.is_reserved() {
        return Err(DecodeReason::InvalidPayload);
    }
    Ok(name)
}

fn event_name_of(value: Value) -> Result<EventName, DecodeReason> {
    Ok(match value {
        Value::String(s) => EventName::new(s),
        Value::Number(n) => {
            let mut out = Vec::new();
            json::write_number(&mut out, &n);
            EventName::number(String::from_utf8(out).unwrap_or_default())
        }
        _ => return Err(DecodeReason::InvalidPayload),
    })
}
