//! Differential tests of the Socket.IO JSON codec against the real JavaScript parsers
//! (socket.io-parser 4.2.7 for protocol 5, socket.io-parser 3.3.6 for protocol 4), through
//! `NodePeer`.
//!
//! Packets of every type are generated with proptest (namespaces `/`, `/admin`, Unicode; ack
//! ids up to 2^53-1; string and numeric event names; binary nested anywhere) and compared in
//! both directions, a whole batch per round trip to the one Node process:
//!
//! - `Encoder::encode` produces exactly the bytes of JavaScript's `Encoder` for the same logical
//!   packet (and `encode_event` the same as `encode`);
//! - JavaScript decodes our frames to the same `{type, nsp, id, data}`;
//! - our `Decoder` decodes JavaScript's frames back to the packet we started from;
//! - rejections: random and mutated frame sequences (header characters changed, truncated
//!   JSON, placeholders altered, attachments missing, extra or reordered). Whenever
//!   JavaScript's decoder throws, ours must fail; when both accept, they must agree. Ours may
//!   reject what JavaScript accepts in the cases documented on `Decoder` (counted, printed).
//!
//! Numbers beyond the range of an `f64` (`1e309`, which `JSON.parse` reads as `Infinity`) are
//! generated too, in every place a number can be (arguments of text and binary events and acks,
//! nested, event names, CONNECT and CONNECT_ERROR payloads, protocols 5 and 4): both decoders
//! accept them, our typed reads see the same infinities as JavaScript, and re-sending the
//! decoded packet writes what JavaScript's decode-then-encode writes (`null`).
//!
//! Values are compared as the harness transports them: numbers as `f64`, binary as bytes
//! (`{"$bin"}`), infinities as `{"$num"}`, objects by key. Generated object keys exclude what the transport cannot carry
//! faithfully: integer-like keys (JavaScript enumerates them first), keys starting with `$`
//! (the harness's markers), `__proto__` and `_placeholder`; keys are inserted in sorted order
//! so that the JSON request (serde_json sorts keys) and our `Value` agree on the order.

use std::cell::Cell;
use std::fmt::Debug;

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Value as Json, json};
use sio_protocol::engine::Frame as EngineFrame;
use sio_protocol::socket::{
    Args, Decoder, DecoderConfig, Encoder, EventName, Packet, PacketData, Parser, ProtocolVersion,
    RESERVED_EVENTS,
};
use sio_protocol::{Map, Str, Value};
mod differential_support;

use differential_support::{BATCH_SIZES, add, run};
use sio_test_support::{Frame, NodePeer, as_bin, bin};

/// The attachment limit of the round-trip tests (the rejection tests use the default, 10).
const MAX_ATTACHMENTS: usize = 64;
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

// ---------------------------------------------------------------------------
// The runner

fn fail(message: String) -> TestCaseError {
    TestCaseError::fail(message)
}

fn js_ok(
    answer: &Result<Json, String>,
    what: impl FnOnce() -> String,
) -> Result<Json, TestCaseError> {
    answer
        .clone()
        .map_err(|e| fail(format!("{}: JavaScript rejected it: {e}", what())))
}

// ---------------------------------------------------------------------------
// Values in the harness's JSON convention

/// A `Value` as JSON, binary as `{"$bin"}`.
fn to_wire(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => Json::Number(n.clone()),
        Value::String(s) => Json::String(s.clone()),
        Value::Binary(b) => bin(b),
        Value::Array(items) => Json::Array(items.iter().map(to_wire).collect()),
        Value::Object(map) => {
            Json::Object(map.iter().map(|(k, v)| (k.clone(), to_wire(v))).collect())
        }
    }
}

/// Deep equality of two harness values: numbers as `f64`, `{"$bin"}` as bytes, objects by key.
fn same(a: &Json, b: &Json) -> bool {
    if let (Some(x), Some(y)) = (as_bin(a), as_bin(b)) {
        return x == y;
    }
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn check_same(
    actual: &Json,
    expected: &Json,
    what: impl FnOnce() -> String,
) -> Result<(), TestCaseError> {
    if same(actual, expected) {
        Ok(())
    } else {
        Err(fail(format!(
            "{}\n  actual:   {actual}\n  expected: {expected}",
            what()
        )))
    }
}

fn check_eq<A: PartialEq<B> + Debug, B: Debug>(
    actual: &A,
    expected: &B,
    what: impl FnOnce() -> String,
) -> Result<(), TestCaseError> {
    if actual == expected {
        Ok(())
    } else {
        Err(fail(format!(
            "{}\n  actual:   {actual:?}\n  expected: {expected:?}",
            what()
        )))
    }
}

/// An infinity as the harness writes it.
fn infinity_wire(negative: bool) -> Json {
    json!({ "$num": if negative { "-Infinity" } else { "Infinity" } })
}

/// A value read through serde (as a typed handler reads it) and written in the harness's
/// convention: an infinity (which a `Value` holds as `null`) shows as `{"$num"}`, binary as
/// `{"$bin"}`.
struct WireValue(Json);

impl<'de> Deserialize<'de> for WireValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<WireValue, E> {
                Ok(WireValue(json!(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<WireValue, E> {
                Ok(WireValue(json!(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<WireValue, E> {
                Ok(WireValue(json!(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<WireValue, E> {
                Ok(WireValue(if v.is_infinite() {
                    infinity_wire(v < 0.0)
                } else {
                    json!(v)
                }))
            }
            fn visit_str<E>(self, v: &str) -> Result<WireValue, E> {
                Ok(WireValue(json!(v)))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<WireValue, E> {
                Ok(WireValue(bin(v)))
            }
            fn visit_unit<E>(self) -> Result<WireValue, E> {
                Ok(WireValue(Json::Null))
            }
            fn visit_none<E>(self) -> Result<WireValue, E> {
                Ok(WireValue(Json::Null))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<WireValue, D::Error> {
                WireValue::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WireValue, A::Error> {
                let mut items = Vec::new();
                while let Some(WireValue(item)) = seq.next_element()? {
                    items.push(item);
                }
                Ok(WireValue(Json::Array(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireValue, A::Error> {
                let mut out = serde_json::Map::new();
                while let Some((k, WireValue(v))) = map.next_entry::<String, WireValue>()? {
                    out.insert(k, v);
                }
                Ok(WireValue(Json::Object(out)))
            }
        }
        d.deserialize_any(V)
    }
}

/// All the arguments, each a [`WireValue`] (a tuple of any length).
struct WireArgs(Vec<Json>);

impl<'de> Deserialize<'de> for WireArgs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = WireArgs;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("arguments")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<WireArgs, A::Error> {
                let mut items = Vec::new();
                while let Some(WireValue(item)) = seq.next_element()? {
                    items.push(item);
                }
                Ok(WireArgs(items))
            }
        }
        d.deserialize_tuple(usize::MAX, V)
    }
}

fn name_json(name: &EventName) -> Result<Json, String> {
    if name.is_infinite() {
        Ok(infinity_wire(name.as_str().starts_with('-')))
    } else if name.is_number() {
        serde_json::from_str(name.as_str()).map_err(|e| {
            format!(
                "the numeric event name {:?} is not a number: {e}",
                name.as_str()
            )
        })
    } else {
        Ok(Json::String(name.as_str().to_owned()))
    }
}

/// The arguments as a typed handler reads them, in the harness's convention. (They are also
/// checked to convert to `Value`s, which hold an infinity as `null`.)
fn args_wire(args: &Args) -> Result<Vec<Json>, String> {
    let values = args
        .to_values()
        .map_err(|e| format!("the arguments {args:?} are not values: {e}"))?;
    let typed = args
        .deserialize::<WireArgs>()
        .map_err(|e| format!("the arguments {args:?} do not deserialize: {e}"))?
        .0;
    let nulled: Vec<Json> = typed.iter().map(nulled).collect();
    let values: Vec<Json> = values.iter().map(to_wire).collect();
    if !same(&Json::Array(nulled), &Json::Array(values.clone())) {
        return Err(format!(
            "the arguments {args:?} read as {typed:?} but as values {values:?}"
        ));
    }
    Ok(typed)
}

/// `j` with every infinity replaced by `null`: what a `Value` holds (and `JSON.stringify`
/// writes) for it.
fn nulled(j: &Json) -> Json {
    match j {
        Json::Object(map) if map.len() == 1 && map.contains_key("$num") => Json::Null,
        Json::Object(map) => {
            Json::Object(map.iter().map(|(k, v)| (k.clone(), nulled(v))).collect())
        }
        Json::Array(items) => Json::Array(items.iter().map(nulled).collect()),
        other => other.clone(),
    }
}

/// The packet as `sio.decode` reports it: `{type, nsp, id?, data?}`.
fn js_shape(p: &Packet) -> Result<Json, String> {
    let mut out = json!({"type": p.packet_type() as u8, "nsp": p.nsp.as_str()});
    match &p.data {
        PacketData::Connect(Some(v)) => out["data"] = to_wire(v),
        PacketData::Connect(None) | PacketData::Disconnect => {}
        PacketData::Event { name, args, id } => {
            let mut data = vec![name_json(name)?];
            data.extend(args_wire(args)?);
            out["data"] = Json::Array(data);
            if let Some(id) = id {
                out["id"] = json!(id);
            }
        }
        PacketData::Ack { args, id } => {
            out["data"] = Json::Array(args_wire(args)?);
            out["id"] = json!(id);
        }
        PacketData::ConnectError(v) => {
            if !v.is_null() {
                out["data"] = to_wire(v);
            }
        }
    }
    Ok(out)
}

/// The packet as socket.io-parser 4 reports it after decoding: a reconstructed binary packet
/// has its plain type again (EVENT or ACK), unlike socket.io-parser 3 which keeps 5 and 6.
fn js_decoded_shape(p: &Packet) -> Result<Json, String> {
    let mut out = js_shape(p)?;
    match &p.data {
        PacketData::Event { .. } => out["type"] = json!(2),
        PacketData::Ack { .. } => out["type"] = json!(3),
        _ => {}
    }
    Ok(out)
}

/// The packet as `sio.encode` takes it: EVENT and ACK keep their plain type (JavaScript picks
/// the binary type itself) unless `wire_type` (socket.io-parser 3 needs type 5/6 given).
fn js_input(p: &Packet, wire_type: bool) -> Json {
    let mut out = js_shape(p).expect("generated arguments are values");
    if !wire_type {
        match &p.data {
            PacketData::Event { .. } => out["type"] = json!(2),
            PacketData::Ack { .. } => out["type"] = json!(3),
            _ => {}
        }
    }
    out
}

fn to_test_frame(f: EngineFrame) -> Frame {
    match f {
        EngineFrame::Text(s) => Frame::Text(s.to_string()),
        EngineFrame::Binary(b) => Frame::Binary(b.to_vec()),
    }
}

fn to_engine_frame(f: &Frame) -> EngineFrame {
    match f {
        Frame::Text(s) => EngineFrame::Text(Str::from(s.clone())),
        Frame::Binary(b) => EngineFrame::Binary(Bytes::from(b.clone())),
    }
}

fn rust_frames(p: &Packet) -> Vec<Frame> {
    Encoder::new(Parser::Json)
        .encode(p)
        .expect("generated packets encode")
        .into_frames()
        .map(to_test_frame)
        .collect()
}

/// Feeds `frames` to a fresh decoder: the packets, and whether a binary packet is still
/// waiting for attachments.
fn rust_decode(frames: &[Frame], config: DecoderConfig) -> Result<(Vec<Packet>, bool), String> {
    let mut decoder = Decoder::new(config);
    let mut packets = Vec::new();
    for f in frames {
        if let Some(p) = decoder
            .decode(to_engine_frame(f))
            .map_err(|e| e.to_string())?
        {
            packets.push(p);
        }
    }
    Ok((packets, decoder.is_pending()))
}

// ---------------------------------------------------------------------------
// Strategies

fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => any::<char>(),
        4 => proptest::char::range(' ', '~'),
        1 => proptest::sample::select(vec![
            '😀', '€', 'é', '\u{2028}', '\0', '\n', '"', '\\', '/', ',', '[', '{', '\u{7f}', '\u{ffff}',
        ]),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "[a-z0-9 ]{0,8}",
        4 => vec(interesting_char(), 0..16).prop_map(String::from_iter),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z_][a-zA-Z0-9_]{0,6}", text()].prop_filter(
        "a key JavaScript keeps as is",
        |k| {
            let integer_like = !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit());
            !integer_like && !k.starts_with('$') && k != "__proto__" && k != "_placeholder"
        },
    )
}

fn number() -> impl Strategy<Value = Value> {
    let safe = MAX_SAFE_INTEGER as i64;
    prop_oneof![
        3 => (-1000i64..1000).prop_map(Value::from),
        1 => (-safe..=safe).prop_map(Value::from),
        1 => (0..=MAX_SAFE_INTEGER).prop_map(Value::from),
        2 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        1 => proptest::sample::select(vec![0.1, -0.0, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 0.5]).prop_map(Value::from),
    ]
}

fn bytes() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..12).prop_map(Bytes::from)
}

/// An object from key/value pairs, keys sorted and unique.
fn object(pairs: Vec<(String, Value)>) -> Value {
    let mut pairs = pairs;
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs.dedup_by(|a, b| a.0 == b.0);
    Value::Object(pairs.into_iter().collect::<Map>())
}

/// Any value; binary (several, nested anywhere) when `binary`.
fn value(binary: bool) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        3 => number(),
        3 => text().prop_map(Value::from),
        if binary { 2 } else { 0 } => bytes().prop_map(Value::Binary),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            vec((key(), inner), 0..5).prop_map(object),
        ]
    })
}

fn object_value(binary: bool) -> impl Strategy<Value = Value> {
    vec((key(), value(binary)), 0..4).prop_map(object)
}

fn namespace() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("/".to_owned()),
        2 => Just("/admin".to_owned()),
        1 => Just("/ñ/😀".to_owned()),
        2 => text().prop_map(|s| format!("/{}", s.replace(',', ""))),
    ]
}

fn ack_id() -> impl Strategy<Value = u64> {
    prop_oneof![0..100u64, 0..=MAX_SAFE_INTEGER, Just(MAX_SAFE_INTEGER)]
}

/// A numeric event name, written as JavaScript writes the number.
fn numeric_name() -> impl Strategy<Value = EventName> {
    prop_oneof![
        any::<i32>().prop_map(|n| n.to_string()),
        (-4000i32..4000)
            .prop_filter("not -0", |n| *n != 0)
            .prop_map(|n| (f64::from(n) / 4.0).to_string()),
    ]
    .prop_map(EventName::number)
}

fn event_name(reserved: bool) -> impl Strategy<Value = EventName> {
    prop_oneof![
        4 => text().prop_filter("not reserved", move |s| reserved || !RESERVED_EVENTS.contains(&s.as_str())).prop_map(EventName::new),
        1 => numeric_name(),
        if reserved { 1 } else { 0 } => proptest::sample::select(RESERVED_EVENTS.to_vec()).prop_map(EventName::from),
    ]
}

/// The arguments, built either from values or by serializing them (`Args::new`).
fn args(binary: bool) -> impl Strategy<Value = Args> {
    (vec(value(binary), 0..4), any::<bool>()).prop_map(|(values, serialize)| {
        match values.as_slice() {
            [one] if serialize => Args::new(one).expect("a Value serializes"),
            [a, b] if serialize => Args::new(&(a, b)).expect("values serialize"),
            _ => Args::from_values(values),
        }
    })
}

/// A protocol 5 packet of any type (reserved event names only when `reserved`).
fn packet(reserved: bool) -> impl Strategy<Value = Packet> {
    let data = prop_oneof![
        1 => Just(PacketData::Connect(None)),
        1 => object_value(false).prop_map(|v| PacketData::Connect(Some(v))),
        1 => Just(PacketData::Disconnect),
        3 => (event_name(reserved), args(false), proptest::option::of(ack_id()))
            .prop_map(|(name, args, id)| PacketData::Event { name, args, id }),
        2 => (args(false), ack_id()).prop_map(|(args, id)| PacketData::Ack { args, id }),
        3 => (event_name(reserved), args(true), proptest::option::of(ack_id()))
            .prop_map(|(name, args, id)| PacketData::Event { name, args, id }),
        2 => (args(true), ack_id()).prop_map(|(args, id)| PacketData::Ack { args, id }),
        1 => (text(), proptest::option::of(value(false))).prop_map(|(message, data)| {
            let mut map = Map::new();
            if let Some(data) = data {
                map.insert("data".to_owned(), data);
            }
            map.insert("message".to_owned(), Value::from(message));
            PacketData::ConnectError(Value::Object(map))
        }),
        1 => text().prop_map(|s| PacketData::ConnectError(Value::from(s))),
    ];
    (namespace(), data).prop_map(|(nsp, data)| Packet::new(nsp, data))
}

fn round_trip_config(protocol: ProtocolVersion) -> DecoderConfig {
    DecoderConfig::new()
        .with_protocol(protocol)
        .with_max_attachments(MAX_ATTACHMENTS)
}

/// Decodes the frames of one packet: exactly that packet must come out.
fn rust_decode_one(frames: &[Frame], protocol: ProtocolVersion) -> Result<Packet, String> {
    match rust_decode(frames, round_trip_config(protocol))? {
        (mut packets, false) if packets.len() == 1 => Ok(packets.remove(0)),
        other => Err(format!("not one packet: {other:?}")),
    }
}

// ---------------------------------------------------------------------------
// Protocol 5, both ways

#[test]
fn v5_rust_encode_matches_js() {
    run(
        "v5 Rust encode -> JS",
        vec(packet(false), BATCH_SIZES),
        |counts, packets| {
            let mut requests = Vec::new();
            for p in &packets {
                let frames = rust_frames(p);
                requests.push((
                "sio.decode",
                json!({"frames": Frame::list_to_json(&frames), "maxAttachments": MAX_ATTACHMENTS}),
            ));
                requests.push(("sio.encode", json!({"packet": js_input(p, false)})));
            }
            let answers = NodePeer::call_batch(&requests);
            for (p, answers) in packets.iter().zip(answers.chunks(2)) {
                let ours = rust_frames(p);
                // JavaScript decodes our frames to the same packet.
                let decoded = js_ok(&answers[0], || format!("decoding {ours:?} of {p:?}"))?;
                let expected = js_decoded_shape(p).map_err(fail)?;
                check_same(&decoded, &json!([expected]), || {
                    format!("JS decoding {ours:?}")
                })?;
                // Byte-identical encodings.
                let theirs = js_ok(&answers[1], || format!("encoding {p:?}"))?;
                let theirs = Frame::list_from_json(&theirs).map_err(fail)?;
                check_eq(&ours, &theirs, || format!("the frames of {p:?}"))?;
                // The emit hot path writes the same bytes.
                if let PacketData::Event { name, args, id } = &p.data
                    && !name.is_number()
                {
                    let values = args.to_values().map_err(|e| fail(e.to_string()))?;
                    let encoder = Encoder::new(Parser::Json);
                    let encoded = match values.as_slice() {
                        [] => Some(encoder.encode_event(&p.nsp, name.as_str(), &(), *id)),
                        [a] => Some(encoder.encode_event(&p.nsp, name.as_str(), &(a,), *id)),
                        [a, b] => Some(encoder.encode_event(&p.nsp, name.as_str(), &(a, b), *id)),
                        _ => None,
                    };
                    if let Some(encoded) = encoded {
                        let frames: Vec<Frame> = encoded
                            .map_err(|e| fail(e.to_string()))?
                            .into_frames()
                            .map(to_test_frame)
                            .collect();
                        check_eq(&frames, &ours, || format!("encode_event of {p:?}"))?;
                    }
                }
                add(&counts.compared);
            }
            Ok(())
        },
    );
}

#[test]
fn v5_js_encode_rust_decode() {
    run(
        "v5 JS encode -> Rust decode",
        vec(packet(false), BATCH_SIZES),
        |counts, packets| {
            let requests: Vec<(&str, Json)> = packets
                .iter()
                .map(|p| ("sio.encode", json!({"packet": js_input(p, false)})))
                .collect();
            let answers = NodePeer::call_batch(&requests);
            for (p, answer) in packets.iter().zip(&answers) {
                let frames = js_ok(answer, || format!("encoding {p:?}"))?;
                let frames = Frame::list_from_json(&frames).map_err(fail)?;
                let decoded = rust_decode_one(&frames, ProtocolVersion::V5)
                    .map_err(|e| fail(format!("Rust decoding {frames:?} of {p:?}: {e}")))?;
                check_eq(&decoded, p, || format!("Rust decoding {frames:?}"))?;
                let shape = js_shape(&decoded).map_err(fail)?;
                check_same(&shape, &js_shape(p).map_err(fail)?, || {
                    format!("Rust decoding {frames:?}")
                })?;
                add(&counts.compared);
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// Protocol 4 (socket.io-parser 3.3.6), both ways

/// The packets Socket.IO 2.x sends: CONNECT without payload (the query in the namespace),
/// DISCONNECT, events and acks (binary too), CONNECT_ERROR (ERROR) with a string.
fn v4_packet() -> impl Strategy<Value = Packet> {
    let connect_nsp = prop_oneof![
        namespace(),
        (
            namespace(),
            "[a-z]{1,5}=[a-zA-Z0-9%]{0,8}(&[a-z]{1,5}=[a-z0-9]{0,5}){0,2}"
        )
            .prop_map(|(nsp, query)| format!("{nsp}?{query}")),
    ];
    prop_oneof![
        1 => connect_nsp.prop_map(|nsp| Packet::new(nsp, PacketData::Connect(None))),
        1 => namespace().prop_map(|nsp| Packet::new(nsp, PacketData::Disconnect)),
        3 => (namespace(), event_name(false), args(true), proptest::option::of(ack_id()))
            .prop_map(|(nsp, name, args, id)| Packet::new(nsp, PacketData::Event { name, args, id })),
        2 => (namespace(), args(true), ack_id())
            .prop_map(|(nsp, args, id)| Packet::new(nsp, PacketData::Ack { args, id })),
        1 => (namespace(), text())
            .prop_map(|(nsp, s)| Packet::new(nsp, PacketData::ConnectError(Value::from(s)))),
    ]
}

#[test]
fn v4_both_ways() {
    run(
        "v4 (socket.io-parser 3.3.6) both ways",
        vec(v4_packet(), BATCH_SIZES),
        |counts, packets| {
            let mut requests = Vec::new();
            for p in &packets {
                requests.push((
                "sio_v4.decode",
                json!({"frames": Frame::list_to_json(&rust_frames(p)), "maxAttachments": MAX_ATTACHMENTS}),
            ));
                requests.push(("sio_v4.encode", json!({"packet": js_input(p, true)})));
            }
            let answers = NodePeer::call_batch(&requests);
            for (p, answers) in packets.iter().zip(answers.chunks(2)) {
                let ours = rust_frames(p);
                let decoded = js_ok(&answers[0], || format!("decoding {ours:?}"))?;
                check_same(&decoded, &json!([js_shape(p).map_err(fail)?]), || {
                    format!("socket.io-parser 3 decoding {ours:?}")
                })?;
                let theirs = js_ok(&answers[1], || format!("encoding {p:?}"))?;
                let theirs = Frame::list_from_json(&theirs).map_err(fail)?;
                check_eq(&ours, &theirs, || format!("the protocol 4 frames of {p:?}"))?;
                let back = rust_decode_one(&theirs, ProtocolVersion::V4)
                    .map_err(|e| fail(format!("Rust (protocol 4) decoding {theirs:?}: {e}")))?;
                check_eq(&back, p, || {
                    format!("Rust (protocol 4) decoding {theirs:?}")
                })?;
                add(&counts.compared);
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// Rejections

/// One edit of a sequence.
#[derive(Debug, Clone)]
enum Edit<T> {
    Delete(Index),
    Insert(Index, T),
    Replace(Index, T),
    Truncate(Index),
}

fn edit<T: Debug + Clone>(
    item: impl Strategy<Value = T> + Clone,
) -> impl Strategy<Value = Edit<T>> {
    prop_oneof![
        2 => any::<Index>().prop_map(Edit::Delete),
        3 => (any::<Index>(), item.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
        3 => (any::<Index>(), item).prop_map(|(i, c)| Edit::Replace(i, c)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

fn apply<T: Clone>(items: &mut Vec<T>, e: &Edit<T>) {
    let n = items.len();
    match e {
        Edit::Delete(i) if n > 0 => {
            items.remove(i.index(n));
        }
        Edit::Insert(i, c) => items.insert(i.index(n + 1), c.clone()),
        Edit::Replace(i, c) if n > 0 => items[i.index(n)] = c.clone(),
        Edit::Truncate(i) => items.truncate(i.index(n + 1)),
        _ => {}
    }
}

/// A change to a valid frame sequence.
#[derive(Debug, Clone)]
enum Mutation {
    /// Edit characters near the start of the head (the header).
    Header(Edit<char>),
    /// Edit characters anywhere in the head.
    Head(Edit<char>),
    /// Replace the number after the n-th `"num":` with this text.
    PlaceholderNum(Index, &'static str),
    /// Replace the n-th `"_placeholder":true` with this text.
    PlaceholderFlag(Index, &'static str),
    DropFrame(Index),
    ExtraBinary(Index, Vec<u8>),
    ExtraText(Index, String),
    SwapFrames(Index, Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let header_char = proptest::sample::select(vec![
        '0', '1', '2', '3', '4', '5', '6', '7', '9', '-', '/', ',', '[', ']', '{', '"', ' ', 'e',
        'a', '😀',
    ]);
    let head_char = prop_oneof![
        3 => proptest::sample::select(vec![
            '[', ']', '{', '}', '"', ',', ':', '0', '1', '9', '-', '.', 'e', 'n', 't', '\\', ' ',
        ]),
        1 => any::<char>(),
    ];
    prop_oneof![
        3 => edit(header_char).prop_map(Mutation::Header),
        3 => edit(head_char).prop_map(Mutation::Head),
        2 => (any::<Index>(), proptest::sample::select(vec![
            "0", "1", "2", "9", "10", "-1", "1.5", "0.0", "1e0", "\"0\"", "null", "true", "[0]", "4294967296",
        ]))
        .prop_map(|(i, s)| Mutation::PlaceholderNum(i, s)),
        1 => (any::<Index>(), proptest::sample::select(vec![
            "\"_placeholder\":false", "\"_placeholder\":1", "\"_placeholder\":\"true\"", "\"_placeholde\":true",
        ]))
        .prop_map(|(i, s)| Mutation::PlaceholderFlag(i, s)),
        2 => any::<Index>().prop_map(Mutation::DropFrame),
        1 => (any::<Index>(), vec(any::<u8>(), 0..4)).prop_map(|(i, b)| Mutation::ExtraBinary(i, b)),
        1 => (any::<Index>(), prop_oneof![Just("2[\"x\"]".to_owned()), Just("3".to_owned()), text()])
            .prop_map(|(i, s)| Mutation::ExtraText(i, s)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapFrames(a, b)),
    ]
}

/// Replaces, in `s`, the `index`-th occurrence of `pattern` (and, with `number`, the digits
/// after it) with `with`.
fn replace_nth(s: &str, pattern: &str, index: &Index, number: bool, with: &str) -> String {
    let found: Vec<usize> = s.match_indices(pattern).map(|(i, _)| i).collect();
    if found.is_empty() {
        return s.to_owned();
    }
    let start = found[index.index(found.len())];
    let (replace_from, mut end) = if number {
        (start + pattern.len(), start + pattern.len())
    } else {
        (start, start + pattern.len())
    };
    if number {
        end += s[end..].bytes().take_while(u8::is_ascii_digit).count();
    }
    format!("{}{with}{}", &s[..replace_from], &s[end..])
}

fn mutate(frames: &mut Vec<Frame>, m: &Mutation) {
    let edit_head = |frames: &mut Vec<Frame>, limit: Option<usize>, e: &Edit<char>| {
        if let Some(Frame::Text(head)) = frames.first_mut() {
            let mut chars: Vec<char> = head.chars().collect();
            match limit {
                Some(limit) if chars.len() > limit => {
                    let mut front: Vec<char> = chars.drain(..limit).collect();
                    apply(&mut front, e);
                    front.extend(chars);
                    chars = front;
                }
                _ => apply(&mut chars, e),
            }
            *head = chars.into_iter().collect();
        }
    };
    let n = frames.len();
    match m {
        Mutation::Header(e) => edit_head(frames, Some(12), e),
        Mutation::Head(e) => edit_head(frames, None, e),
        Mutation::PlaceholderNum(i, with) => {
            if let Some(Frame::Text(head)) = frames.first_mut() {
                *head = replace_nth(head, "\"num\":", i, true, with);
            }
        }
        Mutation::PlaceholderFlag(i, with) => {
            if let Some(Frame::Text(head)) = frames.first_mut() {
                *head = replace_nth(head, "\"_placeholder\":true", i, false, with);
            }
        }
        Mutation::DropFrame(i) if n > 0 => {
            frames.remove(i.index(n));
        }
        Mutation::ExtraBinary(i, b) => frames.insert(i.index(n + 1), Frame::Binary(b.clone())),
        Mutation::ExtraText(i, s) => frames.insert(i.index(n + 1), Frame::Text(s.clone())),
        Mutation::SwapFrames(a, b) if n > 0 => frames.swap(a.index(n), b.index(n)),
        _ => {}
    }
}

/// A frame sequence: a random header and JSON, or valid frames (of packets that may use
/// reserved names) mutated, or several packets back to back.
fn frames_input() -> impl Strategy<Value = Vec<Frame>> {
    let random_text = (
        "[0-7]?[0-9]{0,2}-?(/[a-z]{0,3},?)?[0-9]{0,3}",
        prop_oneof![
            Just(String::new()),
            value(false).prop_map(|v| v.to_string()),
            vec(interesting_char(), 0..8).prop_map(String::from_iter),
        ],
    )
        .prop_map(|(h, p)| vec![Frame::Text(format!("{h}{p}"))]);
    prop_oneof![
        1 => random_text,
        5 => (packet(true), vec(mutation(), 1..3)).prop_map(|(p, ms)| {
            let mut frames = rust_frames(&p);
            for m in &ms {
                mutate(&mut frames, m);
            }
            frames
        }),
        1 => vec(packet(true), 1..3).prop_map(|ps| ps.iter().flat_map(rust_frames).collect()),
    ]
}

/// The packets JavaScript decoded, as `sio.decode` reports them with `reportPending`.
///
/// socket.io-parser reads an id after the header of any packet type (`40`, `012`, `1/a,7`);
/// our model has no id on CONNECT, DISCONNECT and CONNECT_ERROR (socket.io ignores it there),
/// so it is dropped from those before comparing; `ids_dropped` counts them. An ACK without
/// payload (`31`) has no `data` in JavaScript (socket.io then calls the ack with no arguments):
/// that is our empty `Args`.
fn js_decoded(j: &Json, ids_dropped: &Cell<usize>) -> (Vec<Json>, bool) {
    let mut packets = j["packets"].as_array().cloned().unwrap_or_default();
    for p in &mut packets {
        if matches!(p["type"].as_u64(), Some(0 | 1 | 4))
            && let Some(map) = p.as_object_mut()
            && map.remove("id").is_some()
        {
            add(ids_dropped);
        }
        if p["type"] == json!(3)
            && let Some(map) = p.as_object_mut()
        {
            map.entry("data").or_insert_with(|| json!([]));
        }
        // A CONNECT or CONNECT_ERROR payload is a `Value`, which holds an infinity as null.
        if matches!(p["type"].as_u64(), Some(0 | 4))
            && let Some(data) = p.get_mut("data")
        {
            *data = nulled(data);
        }
    }
    (packets, j["pending"].as_bool().unwrap_or(false))
}

#[test]
fn v5_rejections() {
    let ids_dropped = Cell::new(0);
    let non_finite = Cell::new(0);
    run(
        "v5 rejections",
        vec(frames_input(), BATCH_SIZES),
        |counts, inputs| {
            let requests: Vec<(&str, Json)> = inputs
                .iter()
                .map(|frames| {
                    (
                        "sio.decode",
                        json!({"frames": Frame::list_to_json(frames), "reportPending": true}),
                    )
                })
                .collect();
            let answers = NodePeer::call_batch(&requests);
            for (frames, js) in inputs.iter().zip(&answers) {
                let rust = rust_decode(frames, DecoderConfig::default());
                match (js, &rust) {
                    (Err(e), _) if e.starts_with("unrepresentable:") => {
                        add(&counts.unrepresentable)
                    }
                    (Err(e), Ok(r)) => {
                        return Err(fail(format!(
                            "JavaScript rejects {frames:?} ({e}), Rust accepts it as {r:?}"
                        )));
                    }
                    (Err(_), Err(_)) => add(&counts.both_rejected),
                    (Ok(j), Ok((packets, pending))) => {
                        if j.to_string().contains("\"$num\"") {
                            add(&non_finite);
                        }
                        let (expected, js_pending) = js_decoded(j, &ids_dropped);
                        check_eq(pending, &js_pending, || format!("pending after {frames:?}"))?;
                        let ours = packets
                            .iter()
                            .map(js_decoded_shape)
                            .collect::<Result<Vec<Json>, String>>()
                            .map_err(|e| {
                                fail(format!("Rust accepts {frames:?} but: {e}; JavaScript: {j}"))
                            })?;
                        check_same(&Json::Array(ours), &Json::Array(expected), || {
                            format!("both accept {frames:?}")
                        })?;
                    }
                    (Ok(_), Err(_)) => add(&counts.rust_stricter),
                }
                add(&counts.compared);
            }
            Ok(())
        },
    );
    eprintln!(
        "v5 rejections: an id on CONNECT / DISCONNECT / CONNECT_ERROR ignored {} times; \
         {} with a number beyond f64 range",
        ids_dropped.get(),
        non_finite.get()
    );
}

// ---------------------------------------------------------------------------
// Numbers beyond the range of an f64

/// Stands for a number literal in generated packets: written as a JSON string, then replaced
/// in the encoded frame by a literal from `big_literal`.
const BIG: &str = "\u{1}big\u{1}";
/// `BIG` as the encoder writes it.
const BIG_JSON: &str = "\"\\u0001big\\u0001\"";

/// Literals beyond the range of an `f64` (`Infinity` in JavaScript), at its edge, and below it
/// (0 in JavaScript as in Rust).
fn big_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        5 => proptest::sample::select(vec![
            "1e309", "-1e309", "1e400", "-1E+400", "2e308", "-1.8e308", "1e999999",
            // Just above the largest f64 once rounded: Infinity.
            "17976931348623159e292", "0.0000000000000000000000000000001e340",
        ])
        .prop_map(str::to_owned),
        1 => (310usize..700).prop_map(|n| "9".repeat(n)),
        1 => (310usize..400).prop_map(|n| format!("-1{}", "0".repeat(n))),
        2 => proptest::sample::select(vec!["1e-400", "-1e-400", "4e-325", "1E-999", "0e999999"])
            .prop_map(str::to_owned),
    ]
}

/// Whether `literal` is below the range of an `f64` (it reads as 0, and a relay of the
/// received text writes it as received, not as `0`).
fn is_small(literal: &str) -> bool {
    literal.contains(['e', 'E']) && literal.parse::<f64>().is_ok_and(|f| f == 0.0)
}

/// A value in which `BIG` stands for number literals anywhere.
fn value_with_big(binary: bool) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        3 => Just(Value::from(BIG)),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        2 => number(),
        2 => text().prop_map(Value::from),
        if binary { 2 } else { 0 } => bytes().prop_map(Value::Binary),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            vec((key(), inner), 0..4).prop_map(object),
        ]
    })
}

/// Events (the name too may be `BIG`), acks, text and binary, and for protocol 5 CONNECT and
/// CONNECT_ERROR payloads, with `BIG` in them.
fn packet_with_big(v4: bool) -> impl Strategy<Value = Packet> {
    let name = prop_oneof![3 => event_name(false), 1 => Just(EventName::new(BIG))];
    let args = |binary| vec(value_with_big(binary), 0..4).prop_map(Args::from_values);
    let data = prop_oneof![
        3 => (name.clone(), args(false), proptest::option::of(ack_id()))
            .prop_map(|(name, args, id)| PacketData::Event { name, args, id }),
        2 => (args(false), ack_id()).prop_map(|(args, id)| PacketData::Ack { args, id }),
        3 => (name, args(true), proptest::option::of(ack_id()))
            .prop_map(|(name, args, id)| PacketData::Event { name, args, id }),
        2 => (args(true), ack_id()).prop_map(|(args, id)| PacketData::Ack { args, id }),
        if v4 { 0 } else { 1 } => vec((key(), value_with_big(false)), 0..4)
            .prop_map(|pairs| PacketData::Connect(Some(object(pairs)))),
        if v4 { 0 } else { 1 } => (text(), value_with_big(false)).prop_map(|(message, data)| {
            PacketData::ConnectError(object(vec![
                ("message".to_owned(), Value::from(message)),
                ("data".to_owned(), data),
            ]))
        }),
    ];
    (namespace(), data).prop_map(|(nsp, data)| Packet::new(nsp, data))
}

/// The frames of `p` with each `BIG` replaced by the next literal (cycling), and whether a
/// literal below the range of an `f64` was used.
fn frames_with_big(p: &Packet, literals: &[String]) -> (Vec<Frame>, bool) {
    let mut frames = rust_frames(p);
    let mut small = false;
    if let Some(Frame::Text(head)) = frames.first_mut() {
        let mut out = String::new();
        for (i, part) in head.split(BIG_JSON).enumerate() {
            if i > 0 {
                let literal = &literals[(i - 1) % literals.len()];
                small |= is_small(literal);
                out.push_str(literal);
            }
            out.push_str(part);
        }
        *head = out;
    }
    (frames, small)
}

/// Generated packets holding number literals beyond (and below) the range of an `f64`, for
/// protocol 5 (`v4` false) or 4: JavaScript decodes them (`Infinity`, `0`), and so do we, to the
/// same values read through serde (a `Value` holds null for an infinity); sent again, our
/// frames are byte for byte what JavaScript's decode-then-encode sends (`null`), except that a
/// literal below the range is sent as received (read as 0 all the same).
fn out_of_range_numbers(v4: bool) {
    let (decode_op, reencode_op, protocol) = if v4 {
        ("sio_v4.decode", "sio_v4.reencode", ProtocolVersion::V4)
    } else {
        ("sio.decode", "sio.reencode", ProtocolVersion::V5)
    };
    let case = (packet_with_big(v4), vec(big_literal(), 1..4));
    run(
        if v4 {
            "v4 numbers beyond f64 range"
        } else {
            "v5 numbers beyond f64 range"
        },
        vec(case, BATCH_SIZES),
        |counts, cases| {
            let mut requests = Vec::new();
            for (p, literals) in &cases {
                let (frames, _) = frames_with_big(p, literals);
                let frames = Frame::list_to_json(&frames);
                requests.push((
                    decode_op,
                    json!({"frames": frames, "maxAttachments": MAX_ATTACHMENTS}),
                ));
                requests.push((reencode_op, json!({ "frames": frames })));
            }
            let answers = NodePeer::call_batch(&requests);
            for ((p, literals), answers) in cases.iter().zip(answers.chunks(2)) {
                let (frames, small) = frames_with_big(p, literals);
                let js = js_ok(&answers[0], || format!("decoding {frames:?}"))?;
                let decoded = rust_decode_one(&frames, protocol).map_err(|e| {
                    fail(format!("Rust decoding {frames:?}: {e}; JavaScript: {js}"))
                })?;
                let ours = if v4 {
                    js_shape(&decoded)
                } else {
                    js_decoded_shape(&decoded)
                }
                .map_err(|e| fail(format!("{frames:?}: {e}")))?;
                let (expected, _) = js_decoded(&json!({ "packets": js }), &Cell::new(0));
                check_same(&json!([ours]), &Json::Array(expected), || {
                    format!("both decode {frames:?}")
                })?;
                // Sent again.
                let theirs = js_ok(&answers[1], || format!("re-encoding {frames:?}"))?;
                let theirs = Frame::list_from_json(&theirs).map_err(fail)?;
                let again = rust_frames(&decoded);
                if small {
                    // Compared by what they decode to (an infinite event name is sent as
                    // `null`, which no decoder accepts, from JavaScript as from us).
                    let shape = |frames: &[Frame]| {
                        rust_decode_one(frames, protocol).and_then(|p| js_shape(&p))
                    };
                    match (shape(&again), shape(&theirs)) {
                        (Ok(a), Ok(b)) => check_same(&a, &b, || {
                            format!("re-encodings of {frames:?}: {again:?} and {theirs:?}")
                        })?,
                        (Err(_), Err(_)) => {}
                        (a, b) => {
                            return Err(fail(format!(
                                "re-encodings of {frames:?}: {again:?} decodes to {a:?}, \
                                 {theirs:?} to {b:?}"
                            )));
                        }
                    }
                } else {
                    check_eq(&again, &theirs, || format!("re-encoding {frames:?}"))?;
                }
                add(&counts.compared);
            }
            Ok(())
        },
    );
}

#[test]
fn v5_numbers_beyond_f64_range() {
    out_of_range_numbers(false);
}

#[test]
fn v4_numbers_beyond_f64_range() {
    out_of_range_numbers(true);
}

/// A few by hand: the typed read gives the infinities JavaScript reads, and the packet sent
/// again is what socket.io-parser sends after decoding it.
#[test]
fn numbers_beyond_f64_range_by_hand() {
    let binary = Frame::Binary(vec![1]);
    for frames in [
        vec![Frame::Text(r#"2["a",1e400]"#.to_owned())],
        vec![Frame::Text("2[1e400]".to_owned())],
        vec![Frame::Text("31[-1e400,{\"x\":[1e999]}]".to_owned())],
        vec![
            Frame::Text(r#"51-["a",-1e400,{"_placeholder":true,"num":0}]"#.to_owned()),
            binary.clone(),
        ],
    ] {
        let js = NodePeer::call(
            "sio.decode",
            json!({ "frames": Frame::list_to_json(&frames) }),
        )
        .expect("JavaScript accepts");
        assert!(js.to_string().contains("Infinity"), "{js}");
        let packet = rust_decode_one(&frames, ProtocolVersion::V5).expect("Rust accepts");
        let ours = js_decoded_shape(&packet).expect("values");
        assert!(same(&json!([ours]), &js), "{frames:?}: {ours} vs {js}");
        let theirs = NodePeer::call(
            "sio.reencode",
            json!({ "frames": Frame::list_to_json(&frames) }),
        )
        .expect("JavaScript re-encodes");
        let theirs = Frame::list_from_json(&theirs).expect("frames");
        assert_eq!(rust_frames(&packet), theirs, "{frames:?}");
    }
}
