//! Ids, and conversions between sio-server's types and the wire's.

use std::sync::atomic::{AtomicU64, Ordering};

use sio_protocol::socket::Args;
use sio_protocol::{Str, Value};
use sio_server::Error as AdapterError;
use sio_server::{BroadcastFlags, BroadcastOptions, BroadcastPacket, RemoteSocketData};

use crate::format::{FetchedSocket, Flags, Opts, Packet};

// ----- ids -----

pub(super) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: fall back on the clock and a counter (ids need to be unique,
        // not secret).
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default()
            ^ COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (seed.rotate_left(8 * (i as u32 % 8)) as u8) ^ (i as u8);
        }
    }
    bytes
}

/// `uid2(6)`: 6 characters of `A-Za-z0-9-_` (the classic adapter's uids and request ids).
pub(super) fn random_uid6() -> Str {
    const CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let id: String = random_bytes::<6>()
        .iter()
        .map(|b| CHARS[usize::from(b % 64)] as char)
        .collect();
    Str::from(id)
}

/// `randomBytes(8).toString("hex")` (the `ClusterAdapter`'s uids and request ids).
pub(super) fn random_hex16() -> Str {
    let mut id = String::with_capacity(16);
    for b in random_bytes::<8>() {
        id.push_str(&format!("{b:02x}"));
    }
    Str::from(id)
}

// ----- conversions between sio-server's types and the wire's -----

/// `opts` as the wire's `{rooms, except, flags}`.
pub(super) fn wire_opts(opts: &BroadcastOptions) -> Opts {
    let mut flags = Flags::new();
    if let Ok(Value::Object(map)) = Value::from_serialize(&opts.flags) {
        for (k, v) in map {
            flags.set(&k, v);
        }
    }
    let mut except: Vec<Str> = Vec::with_capacity(opts.except.len());
    for room in &opts.except {
        if !except.contains(room) {
            except.push(room.clone());
        }
    }
    let mut wire = Opts::new(opts.rooms.clone(), except);
    wire.flags = flags;
    wire
}

/// The wire's options as sio-server's (flags read leniently: unknown flags ignored).
pub(super) fn local_opts(opts: Opts) -> BroadcastOptions {
    let flags = Value::Object(opts.flags.as_map().clone())
        .deserialize_into::<BroadcastFlags>()
        .unwrap_or_default();
    let mut local = BroadcastOptions::new(opts.rooms, opts.except);
    local.flags = flags;
    local
}

/// The wire's options without flags (as the classic adapter reads requests' `opts`).
pub(super) fn target_opts(opts: Opts) -> BroadcastOptions {
    BroadcastOptions::new(opts.rooms, opts.except)
}

/// `[event, ...args]` of a packet to send to the other servers.
pub(super) fn packet_data(event: &str, args: &Args) -> Result<Vec<Value>, AdapterError> {
    let mut data = Vec::with_capacity(args.len() + 1);
    data.push(Value::from(event));
    data.extend(args.to_values().map_err(AdapterError::adapter)?);
    Ok(data)
}

/// The un-encoded packet `{type: 2, data: [event, ...args], nsp?}` of a broadcast.
pub(super) fn wire_packet(
    nsp: Option<Str>,
    packet: &BroadcastPacket,
) -> Result<Packet, AdapterError> {
    let args = packet.args.to_values().map_err(AdapterError::adapter)?;
    Ok(Packet::event(nsp, &packet.event, args))
}

/// The event name and arguments of a broadcast packet (an EVENT or a BINARY_EVENT).
pub(super) fn event_of(packet: Packet) -> Option<(String, Args)> {
    if packet.packet_type != crate::format::EVENT && packet.packet_type != 5 {
        return None;
    }
    split_event(packet.data)
}

/// `[event, ...args]` → the event name and its arguments.
pub(super) fn split_event(mut data: Vec<Value>) -> Option<(String, Args)> {
    if data.is_empty() {
        return None;
    }
    let Value::String(event) = data.remove(0) else {
        return None;
    };
    Some((event, Args::from_values(data)))
}

/// The one value an acknowledgement carries across servers.
pub(super) fn first_value(args: &Args) -> Option<Value> {
    args.to_values().ok().and_then(|v| v.into_iter().next())
}

/// A socket of this server as the wire describes it.
pub(super) fn to_fetched(socket: &RemoteSocketData) -> Option<FetchedSocket> {
    let Ok(Value::Object(mut map)) = Value::from_serialize(socket) else {
        return None;
    };
    let handshake = map.swap_remove("handshake").unwrap_or(Value::Null);
    let data = map.swap_remove("data").unwrap_or(Value::Null);
    Some(FetchedSocket::new(
        socket.id.clone(),
        handshake,
        socket.rooms.clone(),
        data,
    ))
}

/// A socket of another server (`None` when its description is unusable).
pub(super) fn from_fetched(socket: FetchedSocket) -> Option<RemoteSocketData> {
    socket
        .to_value()
        .deserialize_into::<RemoteSocketData>()
        .ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    pub(super) fn ids_have_the_javascript_shapes() {
        let uid = random_uid6();
        assert_eq!(uid.len(), 6);
        assert!(
            uid.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let hex = random_hex16();
        assert_eq!(hex.len(), 16);
        assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(random_hex16(), hex);
    }

    #[test]
    pub(super) fn options_cross_the_wire_and_back() {
        let mut opts =
            BroadcastOptions::new(vec!["a".into(), "b".into()], vec!["x".into(), "x".into()]);
        opts.flags.volatile = true;
        opts.flags.timeout = Some(Duration::from_millis(1500));
        let wire = wire_opts(&opts);
        assert_eq!(wire.except, vec![Str::from("x")]);
        assert!(wire.flags.volatile());
        assert_eq!(wire.flags.timeout_ms(), Some(1500));
        let back = local_opts(wire);
        assert_eq!(back.rooms, opts.rooms);
        assert!(back.flags.volatile);
        assert_eq!(back.flags.timeout, Some(Duration::from_millis(1500)));
    }

    #[test]
    pub(super) fn event_data_splits() {
        let data = vec![Value::from("ev"), Value::from(1), Value::from("x")];
        let (event, args) = split_event(data).unwrap();
        assert_eq!(event, "ev");
        assert_eq!(args.len(), 2);
        assert!(split_event(vec![Value::from(1)]).is_none());
        assert!(split_event(Vec::new()).is_none());
    }
}
