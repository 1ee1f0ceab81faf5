//! Encoding packets, byte for byte as socket.io-parser's `Encoder` does.

use std::cell::RefCell;

use bytes::Bytes;
use serde::Serialize;

use super::args_ser::write_args;
use super::codec::{Encoded, Parser};
use super::json::{self, write_str};
use super::packet::{EventName, Packet, PacketData};
use crate::engine::Frame;
use crate::error::{ArgsRepr, Error};
use crate::str::Str;

/// Encodes packets.
///
/// ```
/// use sio_protocol::socket::{Args, Encoder, Packet, Parser};
///
/// let encoder = Encoder::new(Parser::Json);
/// let packet = Packet::event("/admin", "hello", Args::new(&("world", 1)).unwrap(), Some(12));
/// let encoded = encoder.encode(&packet).unwrap();
/// assert_eq!(encoded.text(), Some(r#"2/admin,12["hello","world",1]"#));
///
/// // The emit hot path: serialize straight into the packet.
/// let encoded = encoder.encode_event("/", "bytes", &(bytes::Bytes::from_static(b"\x01"),), None).unwrap();
/// assert_eq!(encoded.text(), Some(r#"51-["bytes",{"_placeholder":true,"num":0}]"#));
/// assert_eq!(encoded.attachments.len(), 1);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Encoder {
    parser: Parser,
}

impl Encoder {
    /// An encoder for `parser`.
    pub fn new(parser: Parser) -> Self {
        Encoder { parser }
    }

    /// The parser this encoder writes.
    pub fn parser(&self) -> Parser {
        self.parser
    }

    /// Encodes a packet. EVENT and ACK become BINARY_EVENT and BINARY_ACK when their
    /// arguments hold binary.
    pub fn encode(&self, packet: &Packet) -> Result<Encoded, Error> {
        match self.parser {
            Parser::Json => Ok(encode_json(packet)),
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => super::msgpack::encode(packet),
        }
    }

    /// Encodes an EVENT whose arguments are `args` (spread as [`Args::new`](super::Args::new) does), writing
    /// them straight into the packet: what `socket.emit(name, ...args)` sends.
    pub fn encode_event<T: Serialize + ?Sized>(
        &self,
        nsp: &str,
        name: &str,
        args: &T,
        id: Option<u64>,
    ) -> Result<Encoded, Error> {
        match self.parser {
            Parser::Json => {}
            #[cfg(feature = "msgpack")]
            Parser::MsgPack => {
                let packet = Packet::event(
                    Str::from(nsp.to_owned()),
                    name.to_owned(),
                    super::args::Args::new(args)?,
                    id,
                );
                return self.encode(&packet);
            }
        }
        let mut out = Vec::with_capacity(16 + nsp.len() + name.len() + 64);
        write_header(&mut out, b'2', 0, nsp, id);
        let header_len = out.len();
        out.push(b'[');
        write_str(&mut out, name);
        let attachments = RefCell::new(Vec::new());
        write_args(&mut out, args, &attachments, &mut (), true).map_err(Error::serialize)?;
        out.push(b']');
        let attachments = attachments.into_inner();
        if !attachments.is_empty() {
            // Rare path: the header announces the attachments, known only now.
            let mut head = Vec::with_capacity(out.len() + 8);
            write_header(&mut head, b'5', attachments.len(), nsp, id);
            head.extend_from_slice(&out[header_len..]);
            out = head;
        }
        finish(out, attachments)
    }
}

fn finish(out: Vec<u8>, attachments: Vec<Bytes>) -> Result<Encoded, Error> {
    let text =
        String::from_utf8(out).map_err(|_| Error::args(ArgsRepr::Unsupported("non-UTF-8 JSON")))?;
    Ok(Encoded {
        head: Frame::Text(Str::from(text)),
        attachments,
    })
}

/// `<type>[<attachments>-][<nsp>,][<id>]`.
fn write_header(out: &mut Vec<u8>, kind: u8, attachments: usize, nsp: &str, id: Option<u64>) {
    out.push(kind);
    if kind == b'5' || kind == b'6' {
        out.extend_from_slice(itoa::Buffer::new().format(attachments).as_bytes());
        out.push(b'-');
    }
    // socket.io-parser: `if (obj.nsp && "/" !== obj.nsp)`.
    if !nsp.is_empty() && nsp != "/" {
        out.extend_from_slice(nsp.as_bytes());
        out.push(b',');
    }
    if let Some(id) = id {
        out.extend_from_slice(itoa::Buffer::new().format(id).as_bytes());
    }
}

fn write_name(out: &mut Vec<u8>, name: &EventName) {
    if name.is_infinite() {
        // `JSON.stringify(Infinity)`.
        out.extend_from_slice(b"null");
    } else if name.is_number() {
        out.extend_from_slice(name.as_str().as_bytes());
    } else {
        write_str(out, name.as_str());
    }
}

/// The JSON parser's encoding (socket.io-parser `Encoder.encode`).
fn encode_json(packet: &Packet) -> Encoded {
    let nsp: &str = &packet.nsp;
    let mut attachments = Vec::new();
    let out = match &packet.data {
        PacketData::Connect(payload) => {
            let mut out = Vec::with_capacity(2 + nsp.len() + 32);
            write_header(&mut out, b'0', 0, nsp, None);
            // socket.io-parser: `if (null != obj.data)`.
            if let Some(payload) = payload.as_ref().filter(|p| !p.is_null()) {
                json::write_value(&mut out, payload, None);
            }
            out
        }
        PacketData::Disconnect => {
            let mut out = Vec::with_capacity(2 + nsp.len());
            write_header(&mut out, b'1', 0, nsp, None);
            out
        }
        PacketData::ConnectError(payload) => {
            let mut out = Vec::with_capacity(2 + nsp.len() + 32);
            write_header(&mut out, b'4', 0, nsp, None);
            if !payload.is_null() {
                json::write_value(&mut out, payload, None);
            }
            out
        }
        PacketData::Event { name, args, id } => {
            let count = args.attachments();
            let mut out =
                Vec::with_capacity(26 + nsp.len() + name.as_str().len() + args.json_len_hint());
            write_header(
                &mut out,
                if count > 0 { b'5' } else { b'2' },
                count,
                nsp,
                *id,
            );
            out.push(b'[');
            write_name(&mut out, name);
            args.write_json(&mut out, true, &mut attachments);
            out.push(b']');
            out
        }
        PacketData::Ack { args, id } => {
            let count = args.attachments();
            let mut out = Vec::with_capacity(26 + nsp.len() + args.json_len_hint());
            write_header(
                &mut out,
                if count > 0 { b'6' } else { b'3' },
                count,
                nsp,
                Some(*id),
            );
            out.push(b'[');
            args.write_json(&mut out, false, &mut attachments);
            out.push(b']');
            out
        }
    };
    // Everything written is UTF-8: ASCII, `&str`s and serde_json output.
    let text = String::from_utf8(out).unwrap_or_default();
    Encoded {
        head: Frame::Text(Str::from(text)),
        attachments,
    }
}
