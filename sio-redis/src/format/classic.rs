//! The classic Redis adapter's messages (`@socket.io/redis-adapter` 8.3 `createAdapter`, and
//! `@socket.io/redis-emitter` 5.1).
//!
//! | channel (see [`crate::channels::Classic`]) | message |
//! |---|---|
//! | `socket.io#<nsp>#`, `socket.io#<nsp>#<room>#` | [`Broadcast`]: msgpack `[uid, packet, opts]` |
//! | `socket.io-request#<nsp>#` | [`Request`]: JSON `{uid, requestId?, type, ...}`; BROADCAST (7) in msgpack |
//! | `socket.io-response#<nsp>#` (or `...#<uid>#`) | [`Response`]: JSON `{requestId, ...}`; BROADCAST_ACK (9) in msgpack |
//!
//! The key order of every object is the one the JavaScript code writes (see each type).

use bytes::Bytes;
use sio_protocol::{Map, Str, Value};

use super::{
    Error, FetchedSocket, Opts, OptsKeys, Packet, decode_payload, encode_json, encode_msgpack,
    opt_rooms, opt_str, req_str, req_u64, room, str_array, truthy,
};

/// The request types of the classic adapter (`RequestType` in `lib/index.ts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestType {
    /// 0: the ids of the sockets in some rooms.
    Sockets = 0,
    /// 1: every room.
    AllRooms = 1,
    /// 2: sockets join rooms.
    RemoteJoin = 2,
    /// 3: sockets leave rooms.
    RemoteLeave = 3,
    /// 4: sockets disconnect.
    RemoteDisconnect = 4,
    /// 5: fetch the sockets' descriptions.
    RemoteFetch = 5,
    /// 6: an event for the servers (`serverSideEmit`), and its acknowledgement.
    ServerSideEmit = 6,
    /// 7: a broadcast expecting acknowledgements.
    Broadcast = 7,
    /// 8: how many clients a BROADCAST reached on one server.
    BroadcastClientCount = 8,
    /// 9: one client's acknowledgement of a BROADCAST.
    BroadcastAck = 9,
}

impl RequestType {
    /// The type of a number, if it is one.
    pub fn from_u64(n: u64) -> Option<RequestType> {
        Some(match n {
            0 => RequestType::Sockets,
            1 => RequestType::AllRooms,
            2 => RequestType::RemoteJoin,
            3 => RequestType::RemoteLeave,
            4 => RequestType::RemoteDisconnect,
            5 => RequestType::RemoteFetch,
            6 => RequestType::ServerSideEmit,
            7 => RequestType::Broadcast,
            8 => RequestType::BroadcastClientCount,
            9 => RequestType::BroadcastAck,
            _ => return None,
        })
    }
}

/// A broadcast: the msgpack array `[uid, packet, opts]`.
///
/// Published on `socket.io#<nsp>#`, or on `socket.io#<nsp>#<room>#` when `opts.rooms` holds
/// exactly one room ([`crate::channels::Classic::broadcast_channel`]). The receiver ignores its
/// own uid, a room channel for a room it does not have, and another namespace (`packet.nsp`,
/// `"/"` when absent), then broadcasts locally with `opts`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Broadcast {
    /// The sender's uid (`"emitter"` for the emitter).
    pub uid: Str,
    /// The packet, with `nsp`.
    pub packet: Packet,
    /// Rooms, exceptions and flags.
    pub opts: Opts,
}

impl Broadcast {
    /// A broadcast message.
    pub fn new(uid: Str, packet: Packet, opts: Opts) -> Broadcast {
        Broadcast { uid, packet, opts }
    }

    /// Encodes it as the adapter does (opts `{rooms, except, flags}`).
    pub fn encode(&self) -> Result<Bytes, Error> {
        self.encode_with(OptsKeys::Broadcast)
    }

    /// Encodes it as `@socket.io/redis-emitter` does (opts `{rooms, flags, except}`).
    pub(crate) fn encode_as_emitter(&self) -> Result<Bytes, Error> {
        self.encode_with(OptsKeys::Emitter)
    }

    fn encode_with(&self, keys: OptsKeys) -> Result<Bytes, Error> {
        encode_msgpack(&Value::Array(vec![
            Value::from(self.uid.as_str()),
            self.packet.to_value(),
            self.opts.to_value(keys),
        ]))
    }

    /// Decodes a broadcast (always msgpack: the adapter reads it with its parser).
    pub fn decode(payload: &Bytes) -> Result<Broadcast, Error> {
        let Value::Array(items) = super::msgpack::decode(payload)? else {
            return Err(Error::shape("broadcast is not an array"));
        };
        let mut items = items.into_iter();
        let (Some(uid), Some(packet), Some(opts)) = (items.next(), items.next(), items.next())
        else {
            return Err(Error::shape("broadcast has fewer than 3 items"));
        };
        let Value::String(uid) = uid else {
            return Err(Error::shape("broadcast uid"));
        };
        Ok(Broadcast {
            uid: Str::from(uid),
            packet: Packet::from_value(packet)?,
            opts: Opts::from_value(opts)?,
        })
    }
}

/// A request on `socket.io-request#<nsp>#`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Request {
    /// The sender's uid; `None` in the emitter's join, leave and disconnect requests.
    pub uid: Option<Str>,
    /// What is asked.
    pub body: RequestBody,
}

/// What a [`Request`] asks, by type. Key orders are the adapter's `JSON.stringify` calls.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RequestBody {
    /// 0 `{uid, requestId, type, rooms}` (answered by [`Response::Sockets`]; no longer sent by
    /// the 8.x adapter, still answered).
    Sockets {
        /// The request id.
        request_id: Str,
        /// The rooms.
        rooms: Vec<Str>,
    },
    /// 1 `{uid, requestId, type}` (answered by [`Response::AllRooms`]).
    AllRooms {
        /// The request id.
        request_id: Str,
    },
    /// 2 `{uid, type, opts: {rooms, except}, rooms}`: the targeted sockets join `rooms` (no
    /// response).
    SocketsJoin {
        /// The targeted sockets.
        opts: Opts,
        /// The rooms to join.
        rooms: Vec<Str>,
    },
    /// 3 `{uid, type, opts: {rooms, except}, rooms}`: the targeted sockets leave `rooms`.
    SocketsLeave {
        /// The targeted sockets.
        opts: Opts,
        /// The rooms to leave.
        rooms: Vec<Str>,
    },
    /// 4 `{uid, type, opts: {rooms, except}, close}`: the targeted sockets disconnect.
    DisconnectSockets {
        /// The targeted sockets.
        opts: Opts,
        /// Whether to close the underlying connections.
        close: bool,
    },
    /// 2 (legacy, without `opts`) `{uid, requestId, type, sid, room}`: socket `sid` joins
    /// `room`, answered by [`Response::Done`] by the server that has it.
    RemoteJoin {
        /// The request id.
        request_id: Str,
        /// The socket id.
        sid: Str,
        /// The room.
        room: Str,
    },
    /// 3 (legacy) `{uid, requestId, type, sid, room}`.
    RemoteLeave {
        /// The request id.
        request_id: Str,
        /// The socket id.
        sid: Str,
        /// The room.
        room: Str,
    },
    /// 4 (legacy) `{uid, requestId, type, sid, close}`.
    RemoteDisconnect {
        /// The request id.
        request_id: Str,
        /// The socket id.
        sid: Str,
        /// Whether to close the underlying connection.
        close: bool,
    },
    /// 5 `{uid, requestId, type, opts: {rooms, except}}` (answered by
    /// [`Response::FetchSockets`]).
    FetchSockets {
        /// The request id.
        request_id: Str,
        /// The targeted sockets.
        opts: Opts,
    },
    /// 6 `{uid, type, data}`, or `{uid, requestId, type, data}` when an acknowledgement is
    /// expected (answered by [`Response::ServerSideEmit`]).
    ServerSideEmit {
        /// The request id, when acknowledgements are expected.
        request_id: Option<Str>,
        /// `[event, ...args]`.
        data: Vec<Value>,
    },
    /// 7 (msgpack) `{uid, requestId, type, packet, opts: {rooms, except, flags}}`: a broadcast
    /// expecting acknowledgements (answered by [`Response::BroadcastClientCount`], then one
    /// [`Response::BroadcastAck`] per client).
    Broadcast {
        /// The request id.
        request_id: Str,
        /// The packet (with `nsp`, without `id`).
        packet: Packet,
        /// Rooms, exceptions and flags (`timeout`).
        opts: Opts,
    },
}

impl Request {
    /// A request from `uid`.
    pub fn new(uid: Option<Str>, body: RequestBody) -> Request {
        Request { uid, body }
    }

    /// The request type.
    pub fn request_type(&self) -> RequestType {
        match &self.body {
            RequestBody::Sockets { .. } => RequestType::Sockets,
            RequestBody::AllRooms { .. } => RequestType::AllRooms,
            RequestBody::SocketsJoin { .. } | RequestBody::RemoteJoin { .. } => {
                RequestType::RemoteJoin
            }
            RequestBody::SocketsLeave { .. } | RequestBody::RemoteLeave { .. } => {
                RequestType::RemoteLeave
            }
            RequestBody::DisconnectSockets { .. } | RequestBody::RemoteDisconnect { .. } => {
                RequestType::RemoteDisconnect
            }
            RequestBody::FetchSockets { .. } => RequestType::RemoteFetch,
            RequestBody::ServerSideEmit { .. } => RequestType::ServerSideEmit,
            RequestBody::Broadcast { .. } => RequestType::Broadcast,
        }
    }

    /// The request id, for the types that have one.
    pub fn request_id(&self) -> Option<&Str> {
        match &self.body {
            RequestBody::Sockets { request_id, .. }
            | RequestBody::AllRooms { request_id }
            | RequestBody::RemoteJoin { request_id, .. }
            | RequestBody::RemoteLeave { request_id, .. }
            | RequestBody::RemoteDisconnect { request_id, .. }
            | RequestBody::FetchSockets { request_id, .. }
            | RequestBody::Broadcast { request_id, .. } => Some(request_id),
            RequestBody::ServerSideEmit { request_id, .. } => request_id.as_ref(),
            RequestBody::SocketsJoin { .. }
            | RequestBody::SocketsLeave { .. }
            | RequestBody::DisconnectSockets { .. } => None,
        }
    }

    /// The object, keys in the adapter's order.
    pub fn to_value(&self) -> Value {
        let mut map = Map::with_capacity(6);
        if let Some(uid) = &self.uid {
            map.insert("uid".into(), Value::from(uid.as_str()));
        }
        let ty = Value::from(self.request_type() as u8);
        let rid = |map: &mut Map, id: &Str| {
            map.insert("requestId".into(), Value::from(id.as_str()));
        };
        match &self.body {
            RequestBody::Sockets { request_id, rooms } => {
                rid(&mut map, request_id);
                map.insert("type".into(), ty);
                map.insert("rooms".into(), str_array(rooms));
            }
            RequestBody::AllRooms { request_id } => {
                rid(&mut map, request_id);
                map.insert("type".into(), ty);
            }
            RequestBody::SocketsJoin { opts, rooms }
            | RequestBody::SocketsLeave { opts, rooms } => {
                map.insert("type".into(), ty);
                map.insert("opts".into(), opts.to_value(OptsKeys::Target));
                map.insert("rooms".into(), str_array(rooms));
            }
            RequestBody::DisconnectSockets { opts, close } => {
                map.insert("type".into(), ty);
                map.insert("opts".into(), opts.to_value(OptsKeys::Target));
                map.insert("close".into(), Value::Bool(*close));
            }
            RequestBody::RemoteJoin {
                request_id,
                sid,
                room,
            }
            | RequestBody::RemoteLeave {
                request_id,
                sid,
                room,
            } => {
                rid(&mut map, request_id);
                map.insert("type".into(), ty);
                map.insert("sid".into(), Value::from(sid.as_str()));
                map.insert("room".into(), Value::from(room.as_str()));
            }
            RequestBody::RemoteDisconnect {
                request_id,
                sid,
                close,
            } => {
                rid(&mut map, request_id);
                map.insert("type".into(), ty);
                map.insert("sid".into(), Value::from(sid.as_str()));
                map.insert("close".into(), Value::Bool(*close));
            }
            RequestBody::FetchSockets { request_id, opts } => {
                rid(&mut map, request_id);
                map.insert("type".into(), ty);
                map.insert("opts".into(), opts.to_value(OptsKeys::Target));
            }
            RequestBody::ServerSideEmit { request_id, data } => {
                if let Some(id) = request_id {
                    rid(&mut map, id);
                }
                map.insert("type".into(), ty);
                map.insert("data".into(), Value::Array(data.clone()));
            }
            RequestBody::Broadcast {
                request_id,
                packet,
                opts,
            } => {
                rid(&mut map, request_id);
                map.insert("type".into(), ty);
                map.insert("packet".into(), packet.to_value());
                map.insert("opts".into(), opts.to_value(OptsKeys::Broadcast));
            }
        }
        Value::Object(map)
    }

    /// Encodes the request: JSON, except BROADCAST in msgpack.
    pub fn encode(&self) -> Result<Bytes, Error> {
        let value = self.to_value();
        match self.body {
            RequestBody::Broadcast { .. } => encode_msgpack(&value),
            _ => Ok(encode_json(&value)),
        }
    }

    /// Decodes a request (JSON when the first byte is `{`, msgpack otherwise).
    ///
    /// Types 8 and 9 (and unknown types) are not requests: an [`Error`] of kind
    /// [`Decode`](crate::error::ErrorKind::Decode).
    pub fn decode(payload: &Bytes) -> Result<Request, Error> {
        Request::from_value(decode_payload(payload)?)
    }

    /// Reads a request object.
    pub fn from_value(value: Value) -> Result<Request, Error> {
        let Value::Object(mut map) = value else {
            return Err(Error::shape("request is not an object"));
        };
        let uid = opt_str(&map, "uid", "request uid")?;
        let ty = map
            .get("type")
            .and_then(Value::as_u64)
            .and_then(RequestType::from_u64)
            .ok_or_else(|| Error::shape("request type"))?;
        let request_id = || req_str(&map, "requestId", "request id");
        let has_opts = truthy(map.get("opts"));
        let body = match ty {
            RequestType::Sockets => RequestBody::Sockets {
                request_id: request_id()?,
                rooms: opt_rooms(map.swap_remove("rooms"), "request rooms")?,
            },
            RequestType::AllRooms => RequestBody::AllRooms {
                request_id: request_id()?,
            },
            RequestType::RemoteJoin | RequestType::RemoteLeave if has_opts => {
                let opts = Opts::from_value(map.swap_remove("opts").unwrap_or_default())?;
                let rooms = opt_rooms(map.swap_remove("rooms"), "request rooms")?;
                if ty == RequestType::RemoteJoin {
                    RequestBody::SocketsJoin { opts, rooms }
                } else {
                    RequestBody::SocketsLeave { opts, rooms }
                }
            }
            RequestType::RemoteJoin | RequestType::RemoteLeave => {
                let request_id = request_id()?;
                let sid = req_str(&map, "sid", "request sid")?;
                let room = room(map.swap_remove("room").unwrap_or_default(), "request room")?;
                if ty == RequestType::RemoteJoin {
                    RequestBody::RemoteJoin {
                        request_id,
                        sid,
                        room,
                    }
                } else {
                    RequestBody::RemoteLeave {
                        request_id,
                        sid,
                        room,
                    }
                }
            }
            RequestType::RemoteDisconnect if has_opts => RequestBody::DisconnectSockets {
                close: truthy(map.get("close")),
                opts: Opts::from_value(map.swap_remove("opts").unwrap_or_default())?,
            },
            RequestType::RemoteDisconnect => RequestBody::RemoteDisconnect {
                request_id: request_id()?,
                sid: req_str(&map, "sid", "request sid")?,
                close: truthy(map.get("close")),
            },
            RequestType::RemoteFetch => RequestBody::FetchSockets {
                request_id: request_id()?,
                opts: Opts::from_value(
                    map.swap_remove("opts")
                        .ok_or_else(|| Error::shape("request opts"))?,
                )?,
            },
            RequestType::ServerSideEmit => RequestBody::ServerSideEmit {
                request_id: opt_str(&map, "requestId", "request id")?,
                data: match map.swap_remove("data") {
                    Some(Value::Array(items)) => items,
                    _ => return Err(Error::shape("request data is not an array")),
                },
            },
            RequestType::Broadcast => RequestBody::Broadcast {
                request_id: request_id()?,
                packet: Packet::from_value(
                    map.swap_remove("packet")
                        .ok_or_else(|| Error::shape("request packet"))?,
                )?,
                opts: Opts::from_value(
                    map.swap_remove("opts")
                        .ok_or_else(|| Error::shape("request opts"))?,
                )?,
            },
            RequestType::BroadcastClientCount | RequestType::BroadcastAck => {
                return Err(Error::shape("a response type on the request channel"));
            }
        };
        Ok(Request { uid, body })
    }
}

/// A response on `socket.io-response#<nsp>#` (or the requester's own
/// `socket.io-response#<nsp>#<uid>#`).
///
/// Most responses do not say their type: the requester knows it from the pending request
/// (see [`Response::decode`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Response {
    /// To SOCKETS: `{requestId, sockets: [id...]}`.
    Sockets {
        /// The request id.
        request_id: Str,
        /// Socket ids.
        sockets: Vec<Str>,
    },
    /// To ALL_ROOMS: `{requestId, rooms}`.
    AllRooms {
        /// The request id.
        request_id: Str,
        /// Room names.
        rooms: Vec<Str>,
    },
    /// To a legacy REMOTE_JOIN / REMOTE_LEAVE / REMOTE_DISCONNECT: `{requestId}`.
    Done {
        /// The request id.
        request_id: Str,
    },
    /// To REMOTE_FETCH: `{requestId, sockets: [{id, handshake, rooms, data}...]}`.
    FetchSockets {
        /// The request id.
        request_id: Str,
        /// The sockets.
        sockets: Vec<FetchedSocket>,
    },
    /// To SERVER_SIDE_EMIT with an ack: `{type: 6, requestId, data}` (`data` is left out when
    /// the handler acknowledged with `undefined`).
    ServerSideEmit {
        /// The request id.
        request_id: Str,
        /// The one argument of the acknowledgement.
        data: Option<Value>,
    },
    /// To BROADCAST: `{type: 8, requestId, clientCount}`.
    BroadcastClientCount {
        /// The request id.
        request_id: Str,
        /// How many clients the packet was sent to on the answering server.
        client_count: u64,
    },
    /// To BROADCAST, once per client ack (msgpack): `{type: 9, requestId, packet}` (`packet`
    /// is left out for an `undefined` argument).
    BroadcastAck {
        /// The request id.
        request_id: Str,
        /// The first argument of the client's acknowledgement.
        packet: Option<Value>,
    },
}

impl Response {
    /// The request id.
    pub fn request_id(&self) -> &Str {
        match self {
            Response::Sockets { request_id, .. }
            | Response::AllRooms { request_id, .. }
            | Response::Done { request_id }
            | Response::FetchSockets { request_id, .. }
            | Response::ServerSideEmit { request_id, .. }
            | Response::BroadcastClientCount { request_id, .. }
            | Response::BroadcastAck { request_id, .. } => request_id,
        }
    }

    /// The object, keys in the adapter's order.
    pub fn to_value(&self) -> Value {
        let mut map = Map::with_capacity(3);
        let rid = |map: &mut Map, id: &Str| {
            map.insert("requestId".into(), Value::from(id.as_str()));
        };
        match self {
            Response::Sockets {
                request_id,
                sockets,
            } => {
                rid(&mut map, request_id);
                map.insert("sockets".into(), str_array(sockets));
            }
            Response::AllRooms { request_id, rooms } => {
                rid(&mut map, request_id);
                map.insert("rooms".into(), str_array(rooms));
            }
            Response::Done { request_id } => rid(&mut map, request_id),
            Response::FetchSockets {
                request_id,
                sockets,
            } => {
                rid(&mut map, request_id);
                map.insert(
                    "sockets".into(),
                    Value::Array(sockets.iter().map(FetchedSocket::to_value).collect()),
                );
            }
            Response::ServerSideEmit { request_id, data } => {
                map.insert(
                    "type".into(),
                    Value::from(RequestType::ServerSideEmit as u8),
                );
                rid(&mut map, request_id);
                if let Some(data) = data {
                    map.insert("data".into(), data.clone());
                }
            }
            Response::BroadcastClientCount {
                request_id,
                client_count,
            } => {
                map.insert(
                    "type".into(),
                    Value::from(RequestType::BroadcastClientCount as u8),
                );
                rid(&mut map, request_id);
                map.insert("clientCount".into(), Value::from(*client_count));
            }
            Response::BroadcastAck { request_id, packet } => {
                map.insert("type".into(), Value::from(RequestType::BroadcastAck as u8));
                rid(&mut map, request_id);
                if let Some(packet) = packet {
                    map.insert("packet".into(), packet.clone());
                }
            }
        }
        Value::Object(map)
    }

    /// Encodes the response: JSON, except BROADCAST_ACK in msgpack.
    pub fn encode(&self) -> Result<Bytes, Error> {
        let value = self.to_value();
        match self {
            Response::BroadcastAck { .. } => encode_msgpack(&value),
            _ => Ok(encode_json(&value)),
        }
    }

    /// Decodes a response. `pending` tells the type of the pending request with that id
    /// ([`RequestType::Broadcast`] for a broadcast with acks, whose responses say their type);
    /// `Ok(None)` for a response to no pending request of ours (another server's), which the
    /// adapter ignores, as does a BROADCAST response of another type than 8 or 9.
    pub fn decode(
        payload: &Bytes,
        pending: impl FnOnce(&str) -> Option<RequestType>,
    ) -> Result<Option<Response>, Error> {
        let Value::Object(mut map) = decode_payload(payload)? else {
            return Err(Error::shape("response is not an object"));
        };
        let Some(request_id) = opt_str(&map, "requestId", "response request id")? else {
            return Ok(None);
        };
        let Some(kind) = pending(&request_id) else {
            return Ok(None);
        };
        let sockets_array = |map: &mut Map| match map.swap_remove("sockets") {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(Error::shape("response sockets is not an array")),
        };
        Ok(Some(match kind {
            RequestType::Sockets => Response::Sockets {
                sockets: opt_rooms(Some(Value::Array(sockets_array(&mut map)?)), "socket id")?,
                request_id,
            },
            RequestType::AllRooms => match map.swap_remove("rooms") {
                Some(rooms @ Value::Array(_)) => Response::AllRooms {
                    rooms: opt_rooms(Some(rooms), "response rooms")?,
                    request_id,
                },
                _ => return Err(Error::shape("response rooms is not an array")),
            },
            RequestType::RemoteJoin | RequestType::RemoteLeave | RequestType::RemoteDisconnect => {
                Response::Done { request_id }
            }
            RequestType::RemoteFetch => Response::FetchSockets {
                sockets: sockets_array(&mut map)?
                    .into_iter()
                    .map(FetchedSocket::from_value)
                    .collect::<Result<_, _>>()?,
                request_id,
            },
            RequestType::ServerSideEmit => Response::ServerSideEmit {
                data: map.swap_remove("data"),
                request_id,
            },
            RequestType::Broadcast
            | RequestType::BroadcastClientCount
            | RequestType::BroadcastAck => match map.get("type").and_then(Value::as_u64) {
                Some(8) => Response::BroadcastClientCount {
                    client_count: req_u64(&map, "clientCount", "response client count")?,
                    request_id,
                },
                Some(9) => Response::BroadcastAck {
                    packet: map.swap_remove("packet"),
                    request_id,
                },
                _ => return Ok(None),
            },
        }))
    }
}
