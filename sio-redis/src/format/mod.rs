//! The message formats of the Node.js Redis adapters, as typed Rust values.
//!
//! - [`classic`]: `@socket.io/redis-adapter`'s `createAdapter` and `@socket.io/redis-emitter`:
//!   broadcasts as the msgpack array `[uid, packet, opts]`, requests and responses of types 0-9
//!   (JSON, except BROADCAST and BROADCAST_ACK in msgpack).
//! - [`cluster`]: the `ClusterAdapter` message of socket.io-adapter 2.5 (`{type, data, uid,
//!   nsp}`, types 1-13), used by `createShardedAdapter`: JSON, or msgpack when the data holds
//!   binary.
//! - [`msgpack`]: the notepack.io 3.0.1 codec both use, over [`Value`].
//!
//! Every message converts to a [`Value`] tree whose object keys are in the order the JavaScript
//! code builds them, and is written from it: JSON as `JSON.stringify` writes it (binary as a
//! `Buffer`'s `{"type":"Buffer","data":[...]}`), msgpack as notepack.io writes it. So what this
//! crate publishes is byte for byte what a Node.js server would publish for the same operation
//! (modulo its random ids). Reading is by the first byte, as the adapters do: `{` is JSON,
//! anything else msgpack.
//!
//! Decoding is total: malformed input is an [`Error`] of kind
//! [`Decode`](crate::error::ErrorKind::Decode), never a panic, and unknown keys are ignored. Where JavaScript would accept a shape that cannot be represented (a room that is
//! not a string or a number, a `requestId` that is not a string), the decoders here reject it.

use bytes::Bytes;
use sio_protocol::{Map, Str, Value};

pub mod classic;
pub mod cluster;
mod date;
pub mod msgpack;

use crate::error::Error;

/// Reads a payload as the adapters do: JSON when its first byte is `{`, msgpack otherwise.
/// Invalid UTF-8 in JSON is replaced by U+FFFD first, as `Buffer#toString` does.
pub fn decode_payload(payload: &Bytes) -> Result<Value, Error> {
    if payload.first() == Some(&b'{') {
        decode_json(payload)
    } else {
        msgpack::decode(payload)
    }
}

/// Parses JSON text (invalid UTF-8 replaced by U+FFFD).
pub fn decode_json(payload: &[u8]) -> Result<Value, Error> {
    let text = String::from_utf8_lossy(payload);
    serde_json::from_str::<Value>(&text).map_err(Error::json)
}

/// Writes a value as `JSON.stringify` does.
pub fn encode_json(value: &Value) -> Bytes {
    Bytes::from(value.to_string())
}

/// Writes a value as notepack.io does.
pub fn encode_msgpack(value: &Value) -> Result<Bytes, Error> {
    msgpack::encode(value).map(Bytes::from)
}

/// The Socket.IO packet object the adapters carry, un-encoded: `{type, data, nsp?, id?}`.
///
/// A broadcast of `emit("event", a, b)` is `{type: 2, data: ["event", a, b]}`. The classic
/// adapter and the emitter add the namespace (`nsp`); the `ClusterAdapter` leaves it out (its
/// message names the namespace). Binary stays in place in `data` (msgpack bin), there are no
/// attachments and the type stays EVENT (2).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Packet {
    /// The Socket.IO packet type (2: EVENT).
    pub packet_type: u8,
    /// The data: for an EVENT, the event name and then the arguments.
    pub data: Vec<Value>,
    /// The namespace, when the packet names it.
    pub nsp: Option<Str>,
    /// An ack id, when the packet has one (a Node.js server assigns its own on delivery).
    pub id: Option<u64>,
}

/// The EVENT packet type.
pub const EVENT: u8 = 2;

impl Packet {
    /// An EVENT packet: `data` is `[event, ...args]`.
    pub fn event(nsp: Option<Str>, event: &str, args: Vec<Value>) -> Packet {
        let mut data = Vec::with_capacity(1 + args.len());
        data.push(Value::from(event));
        data.extend(args);
        Packet {
            packet_type: EVENT,
            data,
            nsp,
            id: None,
        }
    }

    /// The event name of an EVENT (its first data item when that is a string).
    pub fn event_name(&self) -> Option<&str> {
        self.data.first().and_then(Value::as_str)
    }

    /// The arguments of an EVENT (the data after the event name).
    pub fn args(&self) -> &[Value] {
        self.data.get(1..).unwrap_or_default()
    }

    /// The object `{type, data, nsp?, id?}`, keys in the order socket.io builds them.
    pub fn to_value(&self) -> Value {
        let mut map = Map::with_capacity(4);
        map.insert("type".into(), Value::from(self.packet_type));
        map.insert("data".into(), Value::Array(self.data.clone()));
        if let Some(nsp) = &self.nsp {
            map.insert("nsp".into(), Value::from(nsp.as_str()));
        }
        if let Some(id) = self.id {
            map.insert("id".into(), Value::from(id));
        }
        Value::Object(map)
    }

    /// Reads the packet object. `type` must be an integer from 0 to 6, `data` an array, `nsp` a
    /// string when present, `id` a non-negative integer when present.
    pub fn from_value(value: Value) -> Result<Packet, Error> {
        let Value::Object(mut map) = value else {
            return Err(Error::shape("packet is not an object"));
        };
        let packet_type = map
            .get("type")
            .and_then(Value::as_u64)
            .and_then(|t| u8::try_from(t).ok())
            .filter(|t| *t <= 6)
            .ok_or_else(|| Error::shape("packet type"))?;
        let data = match map.swap_remove("data") {
            Some(Value::Array(items)) => items,
            _ => return Err(Error::shape("packet data is not an array")),
        };
        let nsp = opt_str(&map, "nsp", "packet nsp")?;
        let id = match map.get("id") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| Error::shape("packet id"))?),
        };
        Ok(Packet {
            packet_type,
            data,
            nsp,
            id,
        })
    }
}

/// The flags of a broadcast, as the JavaScript `BroadcastFlags` object: kept in insertion
/// order, unknown flags included, so that a message read and written again is unchanged.
///
/// Known flags: `volatile`, `compress`, `local`, `broadcast`, `binary` (booleans), `timeout`
/// (milliseconds), `expectSingleResponse`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flags(Map);

impl Flags {
    /// No flags (`{}`).
    pub fn new() -> Flags {
        Flags::default()
    }

    /// Sets flag `name` (added at the end if new, as `Object.assign` does).
    pub fn set(&mut self, name: &str, value: impl Into<Value>) -> &mut Flags {
        self.0.insert(name.to_owned(), value.into());
        self
    }

    /// A flag's value, if set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// Whether boolean flag `name` is set to `true`.
    pub fn is_set(&self, name: &str) -> bool {
        self.get(name).and_then(Value::as_bool) == Some(true)
    }

    /// `volatile`.
    pub fn volatile(&self) -> bool {
        self.is_set("volatile")
    }

    /// `local`: the sender only delivers locally (never on the wire, but readable).
    pub fn local(&self) -> bool {
        self.is_set("local")
    }

    /// `compress`, if given.
    pub fn compress(&self) -> Option<bool> {
        self.get("compress").and_then(Value::as_bool)
    }

    /// `timeout` in milliseconds, if given.
    pub fn timeout_ms(&self) -> Option<u64> {
        self.get("timeout").and_then(Value::as_u64)
    }

    /// The flags object.
    pub fn as_map(&self) -> &Map {
        &self.0
    }

    /// Whether no flag is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn from_value(value: Option<Value>) -> Flags {
        match value {
            Some(Value::Object(map)) => Flags(map),
            // `undefined` (absent) or something that is no object: no flags.
            _ => Flags::default(),
        }
    }
}

/// Which sockets an operation targets: those in any of `rooms` (all when empty) and in none of
/// `except`, with the broadcast `flags` (JavaScript's `BroadcastOptions`, rooms as arrays).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Opts {
    /// Target rooms; none means every socket of the namespace.
    pub rooms: Vec<Str>,
    /// Excluded rooms.
    pub except: Vec<Str>,
    /// Flags (written only where JavaScript writes them: broadcasts and the `ClusterAdapter`).
    pub flags: Flags,
}

/// The key orders of an options object (JavaScript builds it differently in different places).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OptsKeys {
    /// `{rooms, except, flags}`: the adapters' broadcasts, the `ClusterAdapter`.
    Broadcast,
    /// `{rooms, flags, except}`: `@socket.io/redis-emitter`'s broadcasts.
    Emitter,
    /// `{rooms, except}`: the classic adapter's requests (join, leave, disconnect, fetch).
    Target,
}

impl Opts {
    /// Options targeting `rooms` except `except`, without flags.
    pub fn new(rooms: Vec<Str>, except: Vec<Str>) -> Opts {
        Opts {
            rooms,
            except,
            flags: Flags::new(),
        }
    }

    pub(crate) fn to_value(&self, keys: OptsKeys) -> Value {
        let rooms = || Value::Array(self.rooms.iter().map(|r| Value::from(r.as_str())).collect());
        let except = || {
            Value::Array(
                self.except
                    .iter()
                    .map(|r| Value::from(r.as_str()))
                    .collect(),
            )
        };
        let flags = || Value::Object(self.flags.0.clone());
        let mut map = Map::with_capacity(3);
        match keys {
            OptsKeys::Broadcast => {
                map.insert("rooms".into(), rooms());
                map.insert("except".into(), except());
                map.insert("flags".into(), flags());
            }
            OptsKeys::Emitter => {
                map.insert("rooms".into(), rooms());
                map.insert("flags".into(), flags());
                map.insert("except".into(), except());
            }
            OptsKeys::Target => {
                map.insert("rooms".into(), rooms());
                map.insert("except".into(), except());
            }
        }
        Value::Object(map)
    }

    /// Reads an options object; absent `rooms` / `except` / `flags` are empty.
    pub(crate) fn from_value(value: Value) -> Result<Opts, Error> {
        let Value::Object(mut map) = value else {
            return Err(Error::shape("opts is not an object"));
        };
        Ok(Opts {
            rooms: opt_rooms(map.swap_remove("rooms"), "opts rooms")?,
            except: opt_rooms(map.swap_remove("except"), "opts except")?,
            flags: Flags::from_value(map.swap_remove("flags")),
        })
    }
}

/// A socket as `fetchSockets()` describes it to another server.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FetchedSocket {
    /// The socket id.
    pub id: Str,
    /// The handshake object (`headers`, `time`, `address`, `xdomain`, `secure`, `issued`,
    /// `url`, `query`, `auth`).
    pub handshake: Value,
    /// The rooms of the socket (its own id included).
    pub rooms: Vec<Str>,
    /// `socket.data`.
    pub data: Value,
}

impl FetchedSocket {
    /// A fetched socket.
    pub fn new(id: Str, handshake: Value, rooms: Vec<Str>, data: Value) -> FetchedSocket {
        FetchedSocket {
            id,
            handshake,
            rooms,
            data,
        }
    }

    pub(crate) fn to_value(&self) -> Value {
        let mut map = Map::with_capacity(4);
        map.insert("id".into(), Value::from(self.id.as_str()));
        map.insert("handshake".into(), self.handshake.clone());
        map.insert("rooms".into(), str_array(&self.rooms));
        map.insert("data".into(), self.data.clone());
        Value::Object(map)
    }

    pub(crate) fn from_value(value: Value) -> Result<FetchedSocket, Error> {
        let Value::Object(mut map) = value else {
            return Err(Error::shape("fetched socket is not an object"));
        };
        Ok(FetchedSocket {
            id: req_str(&map, "id", "fetched socket id")?,
            handshake: map.swap_remove("handshake").unwrap_or(Value::Null),
            rooms: opt_rooms(map.swap_remove("rooms"), "fetched socket rooms")?,
            data: map.swap_remove("data").unwrap_or(Value::Null),
        })
    }
}

// --- helpers shared by the message modules ---

pub(crate) fn str_array(items: &[Str]) -> Value {
    Value::Array(items.iter().map(|r| Value::from(r.as_str())).collect())
}

/// A room name: a string, or a number in its JavaScript string form (`Set` members of a
/// JavaScript adapter may be numbers).
pub(crate) fn room(value: Value, what: &'static str) -> Result<Str, Error> {
    match value {
        Value::String(s) => Ok(Str::from(s)),
        Value::Number(_) => Ok(Str::from(value.to_string())),
        _ => Err(Error::shape(what)),
    }
}

/// An array of rooms; absent (`undefined`) or `null` is empty, as `new Set(undefined)` is.
pub(crate) fn opt_rooms(value: Option<Value>, what: &'static str) -> Result<Vec<Str>, Error> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items.into_iter().map(|v| room(v, what)).collect(),
        Some(_) => Err(Error::shape(what)),
    }
}

pub(crate) fn req_str(map: &Map, key: &str, what: &'static str) -> Result<Str, Error> {
    opt_str(map, key, what)?.ok_or_else(|| Error::shape(what))
}

pub(crate) fn opt_str(map: &Map, key: &str, what: &'static str) -> Result<Option<Str>, Error> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Str::from(s.clone()))),
        Some(_) => Err(Error::shape(what)),
    }
}

pub(crate) fn req_u64(map: &Map, key: &str, what: &'static str) -> Result<u64, Error> {
    map.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| Error::shape(what))
}

/// A JavaScript truthiness test of an optional value (`close` of a disconnect).
pub(crate) fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}
