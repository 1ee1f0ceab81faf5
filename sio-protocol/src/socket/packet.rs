//! Socket.IO packets.

use crate::socket::args::Args;
use crate::str::Str;
use crate::value::Value;

/// The Socket.IO protocol revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// Socket.IO protocol 4 (Socket.IO 2.x, over Engine.IO v3): `/` is joined implicitly,
    /// CONNECT carries no payload (auth travels as a query string in the namespace), and
    /// CONNECT_ERROR carries a plain string.
    V4 = 4,
    /// Socket.IO protocol 5 (Socket.IO 3.x and 4.x, over Engine.IO v4).
    V5 = 5,
}

/// The type digit of a Socket.IO packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`.
    Connect = 0,
    /// `1`.
    Disconnect = 1,
    /// `2`.
    Event = 2,
    /// `3`.
    Ack = 3,
    /// `4` (named ERROR in protocol 4).
    ConnectError = 4,
    /// `5`: an EVENT with binary attachments.
    BinaryEvent = 5,
    /// `6`: an ACK with binary attachments.
    BinaryAck = 6,
}

/// Event names that an application may not use: the receiving side reserves them.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// The name of an event: a string, or (rarely, but JavaScript allows it) a number.
///
/// A numeric name keeps its JSON text so that it is sent back as a number. A received name that
/// is a number beyond the range of an `f64` (`1e309`, which JavaScript reads as `Infinity`) is
/// `Infinity` or `-Infinity` (JavaScript's `String(name)`, the name its listeners are registered
/// under), and is written as `null`, as `JSON.stringify` writes an infinity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventName {
    text: Str,
    numeric: bool,
}

impl EventName {
    /// A string event name.
    pub fn new(name: impl Into<Str>) -> Self {
        EventName {
            text: name.into(),
            numeric: false,
        }
    }

    /// A numeric event name, from its JSON text (for example `1` or `2.5`).
    pub fn number(json: impl Into<Str>) -> Self {
        EventName {
            text: json.into(),
            numeric: true,
        }
    }

    /// The name; for a numeric name, its JSON text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The name as a shared string.
    pub fn as_shared(&self) -> &Str {
        &self.text
    }

    /// Whether the name was sent as a JSON number.
    pub fn is_number(&self) -> bool {
        self.numeric
    }

    /// Whether the name is a number beyond the range of an `f64`: `Infinity` or `-Infinity`.
    pub fn is_infinite(&self) -> bool {
        self.numeric && matches!(self.as_str(), "Infinity" | "-Infinity")
    }

    /// Whether the name is one of [`RESERVED_EVENTS`].
    pub fn is_reserved(&self) -> bool {
        !self.numeric && RESERVED_EVENTS.contains(&self.as_str())
    }
}

impl From<&'static str> for EventName {
    fn from(s: &'static str) -> Self {
        EventName::new(s)
    }
}

impl From<String> for EventName {
    fn from(s: String) -> Self {
        EventName::new(s)
    }
}

impl From<Str> for EventName {
    fn from(s: Str) -> Self {
        EventName::new(s)
    }
}

/// A Socket.IO packet: a namespace and what is sent in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// The namespace, `/` by default. In protocol 4 a CONNECT's namespace may carry a query
    /// string (`/admin?token=abc`).
    pub nsp: Str,
    /// The packet's type and content.
    pub data: PacketData,
}

/// The content of a [`Packet`].
#[derive(Debug, Clone, PartialEq)]
pub enum PacketData {
    /// CONNECT: from a client, its auth payload (an object, or nothing); from a server, the
    /// reply `{"sid": ...}` (nothing in protocol 4).
    Connect(Option<Value>),
    /// DISCONNECT.
    Disconnect,
    /// EVENT or BINARY_EVENT (chosen by whether the arguments hold binary).
    Event {
        /// The event name.
        name: EventName,
        /// The arguments after the name.
        args: Args,
        /// The ack id, when the sender wants an acknowledgement.
        id: Option<u64>,
    },
    /// ACK or BINARY_ACK.
    Ack {
        /// The acknowledgement's arguments.
        args: Args,
        /// The id of the acknowledged event.
        id: u64,
    },
    /// CONNECT_ERROR: `{"message": ..., "data"?: ...}` in protocol 5, a string in protocol 4.
    ConnectError(Value),
}

impl Packet {
    /// A packet in namespace `nsp`.
    pub fn new(nsp: impl Into<Str>, data: PacketData) -> Self {
        Packet {
            nsp: nsp.into(),
            data,
        }
    }

    /// An EVENT.
    pub fn event(
        nsp: impl Into<Str>,
        name: impl Into<EventName>,
        args: Args,
        id: Option<u64>,
    ) -> Self {
        Packet::new(
            nsp,
            PacketData::Event {
                name: name.into(),
                args,
                id,
            },
        )
    }

    /// An ACK.
    pub fn ack(nsp: impl Into<Str>, args: Args, id: u64) -> Self {
        Packet::new(nsp, PacketData::Ack { args, id })
    }

    /// The type this packet is encoded with by the JSON parser: EVENT and ACK become
    /// BINARY_EVENT and BINARY_ACK when their arguments hold binary.
    pub fn packet_type(&self) -> PacketType {
        match &self.data {
            PacketData::Connect(_) => PacketType::Connect,
            PacketData::Disconnect => PacketType::Disconnect,
            PacketData::Event { args, .. } if args.has_binary() => PacketType::BinaryEvent,
            PacketData::Event { .. } => PacketType::Event,
            PacketData::Ack { args, .. } if args.has_binary() => PacketType::BinaryAck,
            PacketData::Ack { .. } => PacketType::Ack,
            PacketData::ConnectError(_) => PacketType::ConnectError,
        }
    }
}
