//! Differential tests of the msgpack parser (`Parser::MsgPack`) against the real
//! socket.io-msgpack-parser 3.0.2 (notepack.io 2.2.0), through `tests/js/parsers.js`.
//!
//! - Rust encodes, JavaScript decodes the same packet.
//! - JavaScript encodes (in several key orders), Rust decodes the same packet; in the key order
//!   the Rust encoder uses, the bytes are identical.
//! - Random and mutated byte strings: whatever JavaScript rejects, Rust rejects; where both
//!   accept, they read the same packet.
//!
//! Cases are generated with proptest strategies from a deterministic RNG and sent to Node.js in
//! batches (`NodePeer::call_batch`), so thousands of cases take a few seconds. Set
//! `SIO_DIFF_CASES` to change how many cases each test runs.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value as Json, json};
use sio_protocol::engine::Frame;
use sio_protocol::socket::{
    Args, Decoder, DecoderConfig, Encoder, EventName, Packet, PacketData, Parser,
};
use sio_protocol::{Map, Number, Str, Value};
use sio_test_support::{NodePeer, as_bin, bin};

/// Requests per `call_batch`.
const BATCH: usize = 500;

fn cases(default: usize) -> usize {
    std::env::var("SIO_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// `n` values of `strategy`, from a deterministic RNG.
fn generate<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..n)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("generate a case")
                .current()
        })
        .collect()
}

fn batch(op: &str, args: Vec<Json>) -> Vec<Result<Json, String>> {
    let mut out = Vec::with_capacity(args.len());
    for chunk in args.chunks(BATCH) {
        let requests: Vec<(&str, Json)> = chunk.iter().map(|a| (op, a.clone())).collect();
        out.extend(NodePeer::call_batch(&requests));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Generators

/// Numbers; with `js_exact`, only those JavaScript holds and notepack.io writes exactly
/// (integers within ±2^53, floats that are not integral beyond the 64-bit range).
fn arb_number(js_exact: bool) -> BoxedStrategy<Number> {
    const SAFE: i64 = (1 << 53) - 1;
    let any_f64 = any::<f64>().prop_filter_map("finite", Number::from_f64);
    if js_exact {
        prop_oneof![
            (-SAFE..=SAFE).prop_map(Number::from),
            (-200i64..70_000).prop_map(Number::from),
            any_f64.prop_filter("notepack.io wraps integral floats past 2^64", |n| {
                n.as_f64()
                    .is_some_and(|f| f.fract() != 0.0 || f.abs() < 9.2e18)
            }),
            (-1e6f64..1e6).prop_filter_map("finite", |f| Number::from_f64((f * 8.0).round() / 8.0)),
        ]
        .boxed()
    } else {
        prop_oneof![
            any::<u64>().prop_map(Number::from),
            any::<i64>().prop_map(Number::from),
            (-200i64..70_000).prop_map(Number::from),
            any_f64,
        ]
        .boxed()
    }
}

/// Object keys: no `$` markers of the harness, no `__proto__` (JavaScript drops it).
fn arb_key() -> BoxedStrategy<String> {
    prop_oneof![
        Just("a".to_owned()),
        "[a-z]{0,3}",
        "[0-9]{1,3}",
        "\\PC{0,8}".prop_filter("harness markers", |k| !k.starts_with('$')
            && k != "__proto__"),
    ]
    .boxed()
}

/// Strings; now and then (with `big`) one of 70,000 bytes, for the str 32 header.
fn arb_string(big: bool) -> BoxedStrategy<String> {
    prop_oneof![
        20 => ".{0,40}",
        20 => "\\PC{0,40}",
        5 => (25usize..300).prop_map(|n| "é".repeat(n / 2)),
        u32::from(big) => Just("x".repeat(70_000)),
    ]
    .boxed()
}

/// Binary; now and then (with `big`) 70,000 bytes, for the bin 32 header.
fn arb_binary(big: bool) -> BoxedStrategy<Value> {
    prop_oneof![
        40 => proptest::collection::vec(any::<u8>(), 0..300),
        u32::from(big) => Just(vec![7u8; 70_000]),
    ]
    .prop_map(|b| Value::Binary(b.into()))
    .boxed()
}

fn arb_value(js_exact: bool, big: bool) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number(js_exact).prop_map(Value::Number),
        arb_string(big).prop_map(Value::String),
        arb_binary(big),
    ];
    leaf.prop_recursive(5, 80, 20, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
            proptest::collection::vec((arb_key(), inner), 0..20)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
    .boxed()
}

fn arb_nsp() -> BoxedStrategy<Str> {
    prop_oneof![Just("/".to_owned()), "/[a-z0-9_é日]{0,12}", "\\PC{0,20}"]
        .prop_map(Str::from)
        .boxed()
}

fn arb_id() -> BoxedStrategy<u64> {
    prop_oneof![0..300u64, 0..70_000u64, 0..(1u64 << 53)].boxed()
}

fn arb_name() -> BoxedStrategy<EventName> {
    prop_oneof![
        "[a-z:_]{1,12}".prop_map(EventName::new),
        "\\PC{0,30}".prop_map(EventName::new),
        (0..100_000u32).prop_map(|n| EventName::number(n.to_string())),
    ]
    .prop_filter("reserved", |n| !n.is_reserved())
    .boxed()
}

fn arb_packet(js_exact: bool, big: bool) -> BoxedStrategy<Packet> {
    let args = proptest::collection::vec(arb_value(js_exact, big), 0..6).boxed();
    let object = proptest::collection::vec((arb_key(), arb_value(js_exact, big)), 0..6)
        .prop_map(|entries| Value::Object(entries.into_iter().collect()))
        .boxed();
    let data = prop_oneof![
        1 => proptest::option::of(object.clone()).prop_map(PacketData::Connect),
        1 => Just(PacketData::Disconnect),
        3 => (arb_name(), args.clone(), proptest::option::of(arb_id())).prop_map(
            |(name, args, id)| PacketData::Event {
                name,
                args: Args::from_values(args),
                id,
            }
        ),
        2 => (args, arb_id()).prop_map(|(args, id)| PacketData::Ack {
            args: Args::from_values(args),
            id,
        }),
        1 => prop_oneof![object, arb_string(big).prop_map(Value::String)]
            .prop_map(PacketData::ConnectError),
    ];
    (arb_nsp(), data)
        .prop_map(|(nsp, data)| Packet { nsp, data })
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// Conversions between packets and the harness's JSON form

fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => Json::Number(n.clone()),
        Value::String(s) => Json::String(s.clone()),
        Value::Binary(b) => bin(b),
        Value::Array(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Object(m) => Json::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect(),
        ),
    }
}

/// A number as JavaScript holds it: an integer beyond 2^53 is the float its text means.
fn js_number(n: &Number) -> Number {
    let big = n.as_u64().is_some_and(|u| u > 1 << 53) || n.as_i64().is_some_and(|i| i < -(1 << 53));
    match n.as_f64() {
        Some(f) if big => Number::from_f64(f).unwrap_or_else(|| n.clone()),
        _ => n.clone(),
    }
}

/// A value of a JavaScript result, with the Rust mapping of what JSON cannot say: `undefined`
/// and non-finite numbers are `Null`, a `Date` its milliseconds.
fn json_to_value(j: &Json) -> Value {
    match j {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Number(js_number(n)),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(json_to_value).collect()),
        Json::Object(m) => {
            if let Some(b) = as_bin(j) {
                return Value::Binary(b.into());
            }
            if m.len() == 1 && (m.contains_key("$num") || m.contains_key("$undefined")) {
                return Value::Null;
            }
            if let (1, Some(date)) = (m.len(), m.get("$date")) {
                return json_to_value(date);
            }
            Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), json_to_value(v)))
                    .collect::<Map>(),
            )
        }
    }
}

fn name_to_json(name: &EventName) -> Json {
    if name.is_number() {
        serde_json::from_str(name.as_str()).expect("a numeric name is a JSON number")
    } else {
        Json::String(name.as_str().to_owned())
    }
}

/// The packet as `{type, nsp, id?, data?}`.
fn packet_to_json(p: &Packet) -> Json {
    let mut out = serde_json::Map::new();
    let (kind, id, data) = match &p.data {
        PacketData::Connect(data) => (0, None, data.as_ref().map(value_to_json)),
        PacketData::Disconnect => (1, None, None),
        PacketData::Event { name, args, id } => {
            let mut items = vec![name_to_json(name)];
            items.extend(args.to_values().expect("values").iter().map(value_to_json));
            (2, *id, Some(Json::Array(items)))
        }
        PacketData::Ack { args, id } => {
            let items = args.to_values().expect("values");
            (
                3,
                Some(*id),
                Some(Json::Array(items.iter().map(value_to_json).collect())),
            )
        }
        PacketData::ConnectError(data) => (4, None, Some(value_to_json(data))),
    };
    out.insert("type".into(), json!(kind));
    out.insert("nsp".into(), json!(p.nsp.as_str()));
    if let Some(id) = id {
        out.insert("id".into(), json!(id));
    }
    if let Some(data) = data {
        out.insert("data".into(), data);
    }
    Json::Object(out)
}

/// A packet decoded by JavaScript (`{type, nsp, id?, data?}`) as the Rust packet it stands for.
fn packet_from_json(j: &Json) -> Result<Packet, String> {
    let nsp = Str::from(j["nsp"].as_str().ok_or("nsp")?.to_owned());
    let data = j.get("data").map(json_to_value);
    let id = match j.get("id") {
        None => None,
        Some(id) => Some(
            json_to_value(id)
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                .ok_or("id")? as u64,
        ),
    };
    let items = || match data.clone() {
        Some(Value::Array(items)) => Ok(items),
        other => Err(format!("not an array: {other:?}")),
    };
    let kind = json_to_value(&j["type"]).as_f64().ok_or("type")?;
    let data = match kind as u8 {
        0 => PacketData::Connect(data.clone()),
        1 => PacketData::Disconnect,
        2 => {
            let mut items = items()?;
            if items.is_empty() {
                return Err("no event name".into());
            }
            let name = match items.remove(0) {
                Value::String(s) => EventName::new(s),
                Value::Number(n) => EventName::number(n.to_string()),
                other => return Err(format!("name {other:?}")),
            };
            PacketData::Event {
                name,
                args: Args::from_values(items),
                id,
            }
        }
        3 => PacketData::Ack {
            args: Args::from_values(items()?),
            id: id.ok_or("ack id")?,
        },
        4 => PacketData::ConnectError(data.clone().ok_or("data")?),
        t => return Err(format!("type {t}")),
    };
    Ok(Packet { nsp, data })
}

/// Packets equal as JavaScript would see them: numeric event names by value.
fn same_packet(a: &Packet, b: &Packet) -> bool {
    match (&a.data, &b.data) {
        (
            PacketData::Event {
                name: na,
                args: aa,
                id: ia,
            },
            PacketData::Event {
                name: nb,
                args: ab,
                id: ib,
            },
        ) => {
            let name_eq = if na.is_number() && nb.is_number() {
                na.as_str().parse::<f64>().ok() == nb.as_str().parse::<f64>().ok()
            } else {
                na == nb
            };
            a.nsp == b.nsp && name_eq && aa == ab && ia == ib
        }
        _ => a == b,
    }
}

fn rust_encode(p: &Packet) -> Vec<u8> {
    let encoded = Encoder::new(Parser::MsgPack).encode(p).expect("encode");
    assert!(encoded.attachments.is_empty());
    match encoded.head {
        Frame::Binary(b) => b.to_vec(),
        Frame::Text(t) => panic!("a text frame: {t}"),
    }
}

fn rust_decode(bytes: &[u8]) -> Result<Packet, sio_protocol::Error> {
    let mut decoder = Decoder::new(DecoderConfig::new().with_parser(Parser::MsgPack));
    decoder
        .decode(Frame::Binary(bytes.to_vec().into()))
        .map(|p| p.expect("a whole packet"))
}

/// The key order of the Rust encoder for this packet.
fn rust_keys(p: &Packet) -> Json {
    match p.data {
        PacketData::Ack { .. } => json!(["id", "type", "data", "nsp"]),
        _ => json!(["type", "data", "id", "nsp"]),
    }
}

fn short(p: &impl std::fmt::Debug) -> String {
    let s = format!("{p:?}");
    match s.char_indices().nth(2000) {
        Some((end, _)) => format!("{}... ({} bytes)", &s[..end], s.len()),
        None => s,
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn rust_encodes_js_decodes() {
    let packets = generate(arb_packet(false, true), cases(2000));
    let args = packets
        .iter()
        .map(|p| json!({"frames": [bin(&rust_encode(p))]}))
        .collect();
    for (p, answer) in packets.iter().zip(batch("sio_msgpack.decode", args)) {
        let decoded = answer.unwrap_or_else(|e| panic!("JS rejects {}: {e}", short(p)));
        let [decoded] = decoded.as_array().expect("packets").as_slice() else {
            panic!("JS decoded {decoded} from {}", short(p));
        };
        let decoded = packet_from_json(decoded).expect("a packet");
        assert!(
            same_packet(&decoded, p),
            "JS decoded\n{}\nfrom\n{}",
            short(&decoded),
            short(p)
        );
    }
}

#[test]
fn js_encodes_rust_decodes() {
    let orders = [
        None,
        Some(json!(["type", "nsp", "data", "id"])),
        Some(json!(["id", "type", "data", "nsp"])),
        Some(json!(["type", "id", "data", "nsp"])),
        Some(json!(["nsp", "data", "id", "type"])),
    ];
    let packets = generate(arb_packet(true, true), cases(2000));
    let keys: Vec<Json> = packets
        .iter()
        .enumerate()
        .map(|(i, p)| {
            orders[i % orders.len()]
                .clone()
                .unwrap_or_else(|| rust_keys(p))
        })
        .collect();
    let args = packets
        .iter()
        .zip(&keys)
        .map(|(p, keys)| json!({"packet": packet_to_json(p), "keys": keys}))
        .collect();
    let mut identical = 0;
    for ((p, keys), answer) in packets
        .iter()
        .zip(&keys)
        .zip(batch("sio_msgpack.encode", args))
    {
        let frames = answer.unwrap_or_else(|e| panic!("JS cannot encode {}: {e}", short(p)));
        let [frame] = frames.as_array().expect("frames").as_slice() else {
            panic!("JS encoded {} frames", frames);
        };
        let bytes = as_bin(frame).expect("a binary frame");
        let decoded = rust_decode(&bytes)
            .unwrap_or_else(|e| panic!("Rust rejects ({e}) what JS encoded from {}", short(p)));
        assert!(
            same_packet(&decoded, p),
            "Rust decoded\n{}\nfrom\n{}",
            short(&decoded),
            short(p)
        );
        // In the key order of the Rust encoder, Rust writes the same bytes for the packet as
        // JavaScript holds it (its objects' key order: the harness sorts keys, and JavaScript
        // puts integer-like keys first). A CONNECT without payload is the exception: the
        // harness leaves `data` out where Rust writes `undefined`, as socket.io-client does.
        let no_auth = matches!(p.data, PacketData::Connect(None));
        if *keys == rust_keys(p) && !no_auth {
            identical += 1;
            let ours = rust_encode(&decoded);
            if ours != bytes {
                let at = ours.iter().zip(&bytes).take_while(|(a, b)| a == b).count();
                panic!(
                    "the bytes differ from JS at {at} (Rust {:02x?}, JS {:02x?}) for {}",
                    &ours[at..(at + 16).min(ours.len())],
                    &bytes[at..(at + 16).min(bytes.len())],
                    short(p)
                );
            }
        }
    }
    assert!(identical > packets.len() / 10, "{identical} byte-identical");
}

/// Random bytes, and valid encodings with a few bytes changed, inserted, removed or cut.
fn arb_bytes() -> BoxedStrategy<Vec<u8>> {
    let mutated = (
        arb_packet(true, false),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..6u8), 0..3),
        proptest::option::weighted(0.2, any::<prop::sample::Index>()),
    )
        .prop_map(|(p, edits, cut)| {
            let mut bytes = rust_encode(&p);
            for (at, byte, how) in edits {
                let i = at.index(bytes.len());
                match how {
                    0..=3 => bytes[i] = byte,
                    4 => bytes.insert(i, byte),
                    _ => {
                        bytes.remove(i);
                        if bytes.is_empty() {
                            bytes.push(byte);
                        }
                    }
                }
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes
        });
    // A packet map around random bytes, so that the values get read.
    let framed = proptest::collection::vec(any::<u8>(), 0..40).prop_map(|tail| {
        let mut bytes = b"\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa1x".to_vec();
        bytes.extend(tail);
        bytes
    });
    prop_oneof![
        2 => mutated,
        1 => framed,
        1 => proptest::collection::vec(any::<u8>(), 0..64),
    ]
    .boxed()
}

#[test]
fn rust_rejects_what_js_rejects() {
    let inputs = generate(arb_bytes(), cases(4000));
    let args = inputs.iter().map(|b| json!({"frames": [bin(b)]})).collect();
    let (mut both_reject, mut both_accept, mut only_rust_rejects) = (0, 0, 0);
    for (bytes, answer) in inputs.iter().zip(batch("sio_msgpack.decode", args)) {
        let rust = rust_decode(bytes);
        match answer {
            Err(js) => {
                assert!(
                    rust.is_err(),
                    "JS rejects ({js}) but Rust accepts {:02x?}: {}",
                    bytes,
                    short(&rust)
                );
                both_reject += 1;
            }
            Ok(js) => match rust {
                Err(e) => {
                    only_rust_rejects += 1;
                    if only_rust_rejects <= 5 {
                        eprintln!("rejected by Rust only ({e}): {bytes:02x?} (JS: {js})");
                    }
                }
                Ok(rust) => {
                    both_accept += 1;
                    let [js] = js.as_array().expect("packets").as_slice() else {
                        panic!("JS decoded {js}");
                    };
                    let js = packet_from_json(js).expect("a packet");
                    assert!(
                        same_packet(&js, &rust),
                        "{bytes:02x?}: JS reads\n{}\nRust reads\n{}",
                        short(&js),
                        short(&rust)
                    );
                }
            },
        }
    }
    eprintln!(
        "msgpack differential: {both_reject} rejected by both, {both_accept} accepted by both \
         (same packet), {only_rust_rejects} rejected by Rust only"
    );
    assert!(both_reject > inputs.len() / 20 && both_accept > inputs.len() / 20);
}

#[test]
fn js_peer_shapes_decode() {
    // The packets the JS peers build, in their key orders, with what only they add.
    let shapes = [
        // socket.io-client EVENT: an `options` key before the id.
        json!({"packet": {"type": 2, "data": ["x", 1], "options": {"compress": true}, "id": 3, "nsp": "/"},
               "keys": ["type", "data", "options", "id", "nsp"]}),
        // BroadcastOperator.emitWithAck: `nsp` then `id`.
        json!({"packet": {"type": 2, "data": ["x"], "nsp": "/a", "id": 9}, "keys": ["type", "data", "nsp", "id"]}),
        // socket.io-client ACK.
        json!({"packet": {"type": 3, "id": 5, "data": [], "nsp": "/"}, "keys": ["type", "id", "data", "nsp"]}),
        // Client.connect's invalid namespace error.
        json!({"packet": {"type": 4, "nsp": "/random", "data": {"message": "Invalid namespace"}},
               "keys": ["type", "nsp", "data"]}),
    ];
    for (shape, answer) in shapes
        .iter()
        .zip(batch("sio_msgpack.encode", shapes.to_vec()))
    {
        let frames = answer.expect("JS encodes");
        let bytes = as_bin(&frames[0]).expect("bytes");
        let decoded = rust_decode(&bytes).unwrap_or_else(|e| panic!("{shape}: {e}"));
        let mut expected = shape["packet"].clone();
        if let Some(m) = expected.as_object_mut() {
            m.remove("options");
        }
        assert!(
            same_packet(&decoded, &packet_from_json(&expected).expect("packet")),
            "{shape}: {decoded:?}"
        );
    }
}
