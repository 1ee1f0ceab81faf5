//! The `ClusterAdapter` message of socket.io-adapter 2.5 (`lib/cluster-adapter.ts`), which the
//! sharded Redis adapter (`createShardedAdapter`) publishes: `{type, data?, uid, nsp}`.
//!
//! The sharded adapter writes JSON, or msgpack when the type may carry binary (BROADCAST,
//! BROADCAST_ACK, FETCH_SOCKETS_RESPONSE, SERVER_SIDE_EMIT, SERVER_SIDE_EMIT_RESPONSE) and its
//! data does; [`ClusterMessage::encode`] chooses the same way. Responses go to the requester's
//! channel and have the same shape (`uid` and `nsp` are the responder's).

use bytes::Bytes;
use sio_protocol::{Map, Str, Value};

use super::{
    Error, FetchedSocket, Opts, OptsKeys, Packet, decode_payload, encode_json, encode_msgpack,
    opt_rooms, opt_str, req_str, req_u64, str_array, truthy,
};

/// One message between the servers of a `ClusterAdapter`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ClusterMessage {
    /// The sender's uid (16 hex digits for a server, `"emitter"` for an emitter).
    pub uid: Str,
    /// The namespace.
    pub nsp: Str,
    /// The type and its data.
    pub body: ClusterBody,
}

/// The message types (`MessageType`) and their data. Key orders are those of
/// `cluster-adapter.ts`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClusterBody {
    /// 1: a server started (answered with HEARTBEAT by the heartbeat variant).
    InitialHeartbeat,
    /// 2: a server is alive.
    Heartbeat,
    /// 3 `{packet, opts}`, or `{packet, requestId, opts}` when acknowledgements are expected.
    Broadcast {
        /// The packet (without `nsp` and `id`).
        packet: Packet,
        /// The request id of a broadcast with acks.
        request_id: Option<Str>,
        /// Rooms, exceptions and flags.
        opts: Opts,
    },
    /// 4 `{opts, rooms}`.
    SocketsJoin {
        /// The targeted sockets.
        opts: Opts,
        /// The rooms to join.
        rooms: Vec<Str>,
    },
    /// 5 `{opts, rooms}`.
    SocketsLeave {
        /// The targeted sockets.
        opts: Opts,
        /// The rooms to leave.
        rooms: Vec<Str>,
    },
    /// 6 `{opts, close}`.
    DisconnectSockets {
        /// The targeted sockets.
        opts: Opts,
        /// Whether to close the underlying connections.
        close: bool,
    },
    /// 7 `{opts, requestId}`.
    FetchSockets {
        /// The targeted sockets.
        opts: Opts,
        /// The request id.
        request_id: Str,
    },
    /// 8 `{requestId, sockets}`.
    FetchSocketsResponse {
        /// The request id.
        request_id: Str,
        /// The sockets.
        sockets: Vec<FetchedSocket>,
    },
    /// 9 `{packet}`, or `{requestId, packet}` when an acknowledgement is expected.
    ServerSideEmit {
        /// The request id, when acknowledgements are expected.
        request_id: Option<Str>,
        /// `[event, ...args]`.
        packet: Vec<Value>,
    },
    /// 10 `{requestId, packet}` (`packet` left out for `undefined`).
    ServerSideEmitResponse {
        /// The request id.
        request_id: Str,
        /// The one argument of the acknowledgement.
        packet: Option<Value>,
    },
    /// 11 `{requestId, clientCount}`.
    BroadcastClientCount {
        /// The request id.
        request_id: Str,
        /// How many clients the packet was sent to on the answering server.
        client_count: u64,
    },
    /// 12 `{requestId, packet}` (`packet` left out for `undefined`).
    BroadcastAck {
        /// The request id.
        request_id: Str,
        /// The first argument of the client's acknowledgement.
        packet: Option<Value>,
    },
    /// 13: a server closed.
    AdapterClose,
}

impl ClusterBody {
    /// The `MessageType` number.
    pub fn message_type(&self) -> u8 {
        match self {
            ClusterBody::InitialHeartbeat => 1,
            ClusterBody::Heartbeat => 2,
            ClusterBody::Broadcast { .. } => 3,
            ClusterBody::SocketsJoin { .. } => 4,
            ClusterBody::SocketsLeave { .. } => 5,
            ClusterBody::DisconnectSockets { .. } => 6,
            ClusterBody::FetchSockets { .. } => 7,
            ClusterBody::FetchSocketsResponse { .. } => 8,
            ClusterBody::ServerSideEmit { .. } => 9,
            ClusterBody::ServerSideEmitResponse { .. } => 10,
            ClusterBody::BroadcastClientCount { .. } => 11,
            ClusterBody::BroadcastAck { .. } => 12,
            ClusterBody::AdapterClose => 13,
        }
    }

    /// Whether this is a response (8, 10, 11, 12), sent to the requester's channel.
    pub fn is_response(&self) -> bool {
        matches!(self.message_type(), 8 | 10 | 11 | 12)
    }

    /// The `data` object, if the type has one.
    fn data(&self) -> Option<Value> {
        let mut map = Map::with_capacity(3);
        let rid = |map: &mut Map, id: &Str| {
            map.insert("requestId".into(), Value::from(id.as_str()));
        };
        let opts = |o: &Opts| o.to_value(OptsKeys::Broadcast);
        match self {
            ClusterBody::InitialHeartbeat | ClusterBody::Heartbeat | ClusterBody::AdapterClose => {
                return None;
            }
            ClusterBody::Broadcast {
                packet,
                request_id,
                opts: o,
            } => {
                map.insert("packet".into(), packet.to_value());
                if let Some(id) = request_id {
                    rid(&mut map, id);
                }
                map.insert("opts".into(), opts(o));
            }
            ClusterBody::SocketsJoin { opts: o, rooms }
            | ClusterBody::SocketsLeave { opts: o, rooms } => {
                map.insert("opts".into(), opts(o));
                map.insert("rooms".into(), str_array(rooms));
            }
            ClusterBody::DisconnectSockets { opts: o, close } => {
                map.insert("opts".into(), opts(o));
                map.insert("close".into(), Value::Bool(*close));
            }
            ClusterBody::FetchSockets {
                opts: o,
                request_id,
            } => {
                map.insert("opts".into(), opts(o));
                rid(&mut map, request_id);
            }
            ClusterBody::FetchSocketsResponse {
                request_id,
                sockets,
            } => {
                rid(&mut map, request_id);
                map.insert(
                    "sockets".into(),
                    Value::Array(sockets.iter().map(FetchedSocket::to_value).collect()),
                );
            }
            ClusterBody::ServerSideEmit { request_id, packet } => {
                if let Some(id) = request_id {
                    rid(&mut map, id);
                }
                map.insert("packet".into(), Value::Array(packet.clone()));
            }
            ClusterBody::ServerSideEmitResponse { request_id, packet }
            | ClusterBody::BroadcastAck { request_id, packet } => {
                rid(&mut map, request_id);
                if let Some(packet) = packet {
                    map.insert("packet".into(), packet.clone());
                }
            }
            ClusterBody::BroadcastClientCount {
                request_id,
                client_count,
            } => {
                rid(&mut map, request_id);
                map.insert("clientCount".into(), Value::from(*client_count));
            }
        }
        Some(Value::Object(map))
    }

    fn from_data(ty: u64, data: Option<Value>) -> Result<ClusterBody, Error> {
        let mut map = match data {
            Some(Value::Object(map)) => map,
            _ if matches!(ty, 1 | 2 | 13) => Map::new(),
            _ => return Err(Error::shape("message data is not an object")),
        };
        let opts = |map: &mut Map| {
            Opts::from_value(
                map.swap_remove("opts")
                    .ok_or_else(|| Error::shape("message opts"))?,
            )
        };
        let rid = |map: &Map| req_str(map, "requestId", "message request id");
        Ok(match ty {
            1 => ClusterBody::InitialHeartbeat,
            2 => ClusterBody::Heartbeat,
            3 => ClusterBody::Broadcast {
                packet: Packet::from_value(
                    map.swap_remove("packet")
                        .ok_or_else(|| Error::shape("message packet"))?,
                )?,
                request_id: opt_str(&map, "requestId", "message request id")?,
                opts: opts(&mut map)?,
            },
            4 | 5 => {
                let opts = opts(&mut map)?;
                let rooms = opt_rooms(map.swap_remove("rooms"), "message rooms")?;
                if ty == 4 {
                    ClusterBody::SocketsJoin { opts, rooms }
                } else {
                    ClusterBody::SocketsLeave { opts, rooms }
                }
            }
            6 => ClusterBody::DisconnectSockets {
                close: truthy(map.get("close")),
                opts: opts(&mut map)?,
            },
            7 => ClusterBody::FetchSockets {
                request_id: rid(&map)?,
                opts: opts(&mut map)?,
            },
            8 => ClusterBody::FetchSocketsResponse {
                request_id: rid(&map)?,
                sockets: match map.swap_remove("sockets") {
                    Some(Value::Array(items)) => items
                        .into_iter()
                        .map(FetchedSocket::from_value)
                        .collect::<Result<_, _>>()?,
                    _ => return Err(Error::shape("message sockets is not an array")),
                },
            },
            9 => ClusterBody::ServerSideEmit {
                request_id: opt_str(&map, "requestId", "message request id")?,
                packet: match map.swap_remove("packet") {
                    Some(Value::Array(items)) => items,
                    _ => return Err(Error::shape("message packet is not an array")),
                },
            },
            10 => ClusterBody::ServerSideEmitResponse {
                request_id: rid(&map)?,
                packet: map.swap_remove("packet"),
            },
            11 => ClusterBody::BroadcastClientCount {
                request_id: rid(&map)?,
                client_count: req_u64(&map, "clientCount", "message client count")?,
            },
            12 => ClusterBody::BroadcastAck {
                request_id: rid(&map)?,
                packet: map.swap_remove("packet"),
            },
            13 => ClusterBody::AdapterClose,
            _ => return Err(Error::shape("message type")),
        })
    }
}

impl ClusterMessage {
    /// A message from `uid` in namespace `nsp`.
    pub fn new(uid: Str, nsp: Str, body: ClusterBody) -> ClusterMessage {
        ClusterMessage { uid, nsp, body }
    }

    /// The object `{type, data?, uid, nsp}` (the order `publishAndReturnOffset` leaves).
    pub fn to_value(&self) -> Value {
        let mut map = Map::with_capacity(4);
        map.insert("type".into(), Value::from(self.body.message_type()));
        if let Some(data) = self.body.data() {
            map.insert("data".into(), data);
        }
        map.insert("uid".into(), Value::from(self.uid.as_str()));
        map.insert("nsp".into(), Value::from(self.nsp.as_str()));
        Value::Object(map)
    }

    /// Encodes the message as the sharded adapter does: msgpack when the type may carry binary
    /// and its data does, JSON otherwise.
    pub fn encode(&self) -> Result<Bytes, Error> {
        let value = self.to_value();
        let may_contain_binary = matches!(self.body.message_type(), 3 | 8 | 9 | 10 | 12);
        if may_contain_binary && value["data"].has_binary() {
            encode_msgpack(&value)
        } else {
            Ok(encode_json(&value))
        }
    }

    /// Decodes a message (JSON when the first byte is `{`, msgpack otherwise).
    pub fn decode(payload: &Bytes) -> Result<ClusterMessage, Error> {
        ClusterMessage::from_value(decode_payload(payload)?)
    }

    /// Reads a message object.
    pub fn from_value(value: Value) -> Result<ClusterMessage, Error> {
        let Value::Object(mut map) = value else {
            return Err(Error::shape("message is not an object"));
        };
        let ty = map
            .get("type")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::shape("message type"))?;
        let uid = req_str(&map, "uid", "message uid")?;
        let nsp = req_str(&map, "nsp", "message nsp")?;
        let body = ClusterBody::from_data(ty, map.swap_remove("data"))?;
        Ok(ClusterMessage { uid, nsp, body })
    }
}
