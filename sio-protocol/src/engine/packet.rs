//! Engine.IO packets and their text / WebSocket forms.

use bytes::Bytes;

use super::{DecodeError, OpenPacket};
use crate::Str;

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

// Implementation to come: `Packet::decode_text`, `Packet::encode_text`, `Packet::to_frame`,
// `Packet::from_frame` (see the module docs of `engine`).
#[allow(dead_code)]
fn _unused(_: DecodeError) {}
