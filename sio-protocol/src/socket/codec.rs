//! What the encoder, the decoder and the msgpack codec share: the choice of [`Parser`], an
//! [`Encoded`] packet, the [`DecoderConfig`] and the [`DecodeReason`].

use bytes::Bytes;

use super::packet::ProtocolVersion;
use crate::engine::Frame;

/// The Socket.IO parser: how packets become WebSocket / Engine.IO messages. Both sides of a
/// connection must use the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Parser {
    /// The default parser of socket.io (`socket.io-parser`): a text message per packet, plus one
    /// binary message per attachment.
    #[default]
    Json,
    /// The parser of the npm package `socket.io-msgpack-parser`: one binary message per packet.
    #[cfg(feature = "msgpack")]
    MsgPack,
}

/// An encoded packet: its first message, then its binary attachments, each its own message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The packet (a text frame for the JSON parser).
    pub head: Frame,
    /// The binary attachments, sent after `head` in order, each as a binary frame.
    pub attachments: Vec<Bytes>,
}

impl Encoded {
    /// The messages to send, in order.
    pub fn into_frames(self) -> impl Iterator<Item = Frame> {
        std::iter::once(self.head).chain(self.attachments.into_iter().map(Frame::Binary))
    }

    /// The number of messages (`1 + attachments`).
    pub fn len(&self) -> usize {
        1 + self.attachments.len()
    }

    /// Always `false`: there is at least the head.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The head as text, if it is a text frame.
    pub fn text(&self) -> Option<&str> {
        match &self.head {
            Frame::Text(s) => Some(s),
            Frame::Binary(_) => None,
        }
    }
}

/// The configuration of a [`Decoder`](super::Decoder).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecoderConfig {
    /// The Socket.IO protocol revision of the peer. Default: [`ProtocolVersion::V5`].
    pub protocol: ProtocolVersion,
    /// The most attachments one binary packet may announce (socket.io-parser's
    /// `maxAttachments`). Default: 10.
    pub max_attachments: usize,
    /// The parser. Default: [`Parser::Json`].
    pub parser: Parser,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            protocol: ProtocolVersion::V5,
            max_attachments: 10,
            parser: Parser::Json,
        }
    }
}

impl DecoderConfig {
    /// The default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`protocol`](Self::protocol).
    pub fn with_protocol(mut self, protocol: ProtocolVersion) -> Self {
        self.protocol = protocol;
        self
    }

    /// Sets [`max_attachments`](Self::max_attachments).
    pub fn with_max_attachments(mut self, max: usize) -> Self {
        self.max_attachments = max;
        self
    }

    /// Sets [`parser`](Self::parser).
    pub fn with_parser(mut self, parser: Parser) -> Self {
        self.parser = parser;
        self
    }
}

pub use crate::reason::socket::DecodeReason;
