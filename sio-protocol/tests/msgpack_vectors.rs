//! The msgpack parser against vectors written by the real socket.io-msgpack-parser 3.0.2
//! (`tests/vectors/msgpack/*.json`, made by `node tests/js/gen-msgpack-vectors.js`), and its
//! properties: arbitrary bytes never panic the decoder, and encode -> decode round-trips.
#![cfg(feature = "msgpack")]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use proptest::prelude::*;
use sio_protocol::engine::Frame;
use sio_protocol::socket::{
    Args, DecodeReason, Decoder, DecoderConfig, Encoder, EventName, Packet, PacketData, Parser,
};
use sio_protocol::{Map, Number, Str, Value};

/// The cases of a vector file, parsed into [`Value`]s (which keep the key order of objects).
fn load(name: &str) -> Vec<Value> {
    let path = format!(
        "{}/tests/vectors/msgpack/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    json["cases"].as_array().expect("cases").clone()
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

fn unhex(s: &str) -> Bytes {
    let digit = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("bad hex {s}"),
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| digit(p[0]) << 4 | digit(p[1]))
        .collect::<Vec<u8>>()
        .into()
}

/// A JSON number as JavaScript holds it: an integer beyond 2^53 is the float its text means.
fn js_number(n: &Number) -> Number {
    let big = n.as_u64().is_some_and(|u| u > 1 << 53) || n.as_i64().is_some_and(|i| i < -(1 << 53));
    match n.as_f64() {
        Some(f) if big => Number::from_f64(f).unwrap_or_else(|| n.clone()),
        _ => n.clone(),
    }
}

/// The harness's JSON form (`{"$bin": base64}` for binary) to the value it stands for.
fn value(v: &Value) -> Value {
    match v {
        Value::Number(n) => Value::Number(js_number(n)),
        Value::Array(items) => Value::Array(items.iter().map(value).collect()),
        Value::Object(m) => match (m.len(), m.get("$bin").and_then(Value::as_str)) {
            (1, Some(b64)) => Value::Binary(STANDARD.decode(b64).expect("base64").into()),
            _ => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), value(v)))
                    .collect::<Map>(),
            ),
        },
        other => other.clone(),
    }
}

fn packet(j: &Value) -> Packet {
    let nsp = Str::from(text(&j["nsp"]).to_owned());
    let data = j.get("data").map(value);
    let id = j.get("id").map(|id| id.as_u64().expect("id"));
    let items = || match data.clone() {
        Some(Value::Array(items)) => items,
        other => panic!("not an array: {other:?}"),
    };
    let data = match j["type"].as_u64().expect("type") {
        0 => PacketData::Connect(data.clone()),
        1 => PacketData::Disconnect,
        2 => {
            let mut items = items();
            let name = match items.remove(0) {
                Value::String(s) => EventName::new(s),
                Value::Number(n) => EventName::number(n.to_string()),
                other => panic!("name {other:?}"),
            };
            PacketData::Event {
                name,
                args: Args::from_values(items),
                id,
            }
        }
        3 => PacketData::Ack {
            args: Args::from_values(items()),
            id: id.expect("ack id"),
        },
        4 => PacketData::ConnectError(data.clone().expect("data")),
        t => panic!("type {t}"),
    };
    Packet { nsp, data }
}

fn decoder() -> Decoder {
    Decoder::new(DecoderConfig::new().with_parser(Parser::MsgPack))
}

fn encode(packet: &Packet) -> Bytes {
    let encoded = Encoder::new(Parser::MsgPack)
        .encode(packet)
        .expect("encode");
    assert!(encoded.attachments.is_empty());
    match encoded.head {
        Frame::Binary(b) => b,
        Frame::Text(t) => panic!("text frame {t}"),
    }
}

fn decode(bytes: Bytes) -> Result<Packet, DecodeReason> {
    decoder()
        .decode(Frame::Binary(bytes))
        .map(|p| p.expect("a whole packet"))
        .map_err(|e| {
            assert!(e.is_socket_decode(), "{e:?}");
            e.socket_reason().expect("a socket.io reason")
        })
}

#[test]
fn valid_vectors() {
    let cases = load("valid");
    assert!(cases.len() >= 50);
    let mut encoded = 0;
    for case in &cases {
        let name = text(&case["name"]);
        let bytes = unhex(text(&case["hex"]));
        let expected = packet(&case["packet"]);
        let decoded = decode(bytes.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(decoded, expected, "{name}: decode");
        if case["encode"].as_bool() == Some(true) {
            encoded += 1;
            assert_eq!(encode(&expected), bytes, "{name}: encode");
            // What we decoded re-encodes to the same bytes too.
            assert_eq!(encode(&decoded), bytes, "{name}: re-encode");
        }
    }
    assert!(encoded >= 30, "{encoded} byte-exact cases");
}

#[test]
fn invalid_vectors() {
    let cases = load("invalid");
    assert!(cases.len() >= 50);
    for case in &cases {
        let name = text(&case["name"]);
        let bytes = unhex(text(&case["hex"]));
        let error = decode(bytes).expect_err(name);
        assert_eq!(format!("{error:?}"), text(&case["error"]), "{name}");
    }
}

#[test]
fn text_frames_are_rejected() {
    for text in ["", "2[\"a\"]", "0"] {
        assert_eq!(
            decoder()
                .decode(Frame::Text(Str::from(text)))
                .map_err(|e| e.socket_reason()),
            Err(Some(DecodeReason::UnexpectedText))
        );
    }
}

#[test]
fn reserved_names_are_allowed_in_protocol_4() {
    // {type: 2, data: ["connect"], nsp: "/"}
    let bytes = unhex("83a47479706502a46461746191a7636f6e6e656374a36e7370a12f");
    let config = DecoderConfig::new()
        .with_parser(Parser::MsgPack)
        .with_protocol(sio_protocol::socket::ProtocolVersion::V4);
    let packet = Decoder::new(config)
        .decode(Frame::Binary(bytes.clone()))
        .unwrap()
        .unwrap();
    assert!(
        matches!(packet.data, PacketData::Event { ref name, .. } if name.as_str() == "connect")
    );
    assert!(decode(bytes).is_err());
}

#[test]
fn encode_event_writes_msgpack() {
    let encoder = Encoder::new(Parser::MsgPack);
    let encoded = encoder
        .encode_event("/", "a", &(1, Bytes::from_static(b"\x01")), Some(7))
        .unwrap();
    let Frame::Binary(bytes) = encoded.head else {
        panic!("not binary")
    };
    let packet = decode(bytes).unwrap();
    let expected = Packet::event(
        "/",
        "a",
        Args::from_values(vec![
            Value::from(1),
            Value::Binary(Bytes::from_static(b"\x01")),
        ]),
        Some(7),
    );
    assert_eq!(packet, expected);
}

fn arb_number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<u64>().prop_map(Number::from),
        any::<i64>().prop_map(Number::from),
        any::<i8>().prop_map(Number::from),
        any::<f64>().prop_filter_map("finite", Number::from_f64),
        (-1e6f64..1e6).prop_filter_map("finite", |f| Number::from_f64((f * 4.0).round() / 4.0)),
    ]
}

fn arb_key() -> BoxedStrategy<String> {
    prop_oneof![Just("a".to_owned()), "[a-z]{0,3}", ".{0,6}"].boxed()
}

fn arb_value() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        arb_number().prop_map(Value::Number),
        ".{0,40}".prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| Value::Binary(b.into())),
    ];
    leaf.prop_recursive(5, 64, 20, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
            proptest::collection::vec((arb_key(), inner), 0..20)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
    .boxed()
}

fn arb_nsp() -> impl Strategy<Value = Str> {
    prop_oneof![Just("/".to_owned()), "/[a-zé日]{0,12}", ".{0,40}"].prop_map(Str::from)
}

fn arb_id() -> impl Strategy<Value = u64> {
    prop_oneof![0..300u64, 0..(1u64 << 53)]
}

fn arb_name() -> impl Strategy<Value = EventName> {
    prop_oneof![
        "[a-z]{1,10}".prop_filter_map("reserved", |s| {
            let n = EventName::new(s);
            (!n.is_reserved()).then_some(n)
        }),
        ".{0,40}".prop_filter_map("reserved", |s| {
            let n = EventName::new(s);
            (!n.is_reserved()).then_some(n)
        }),
        (0..1000u32).prop_map(|n| EventName::number(n.to_string())),
    ]
}

fn arb_packet() -> impl Strategy<Value = Packet> {
    let args = proptest::collection::vec(arb_value(), 0..6).boxed();
    let object = proptest::collection::vec((arb_key(), arb_value()), 0..6)
        .prop_map(|entries| Value::Object(entries.into_iter().collect()))
        .boxed();
    let data = prop_oneof![
        proptest::option::of(object.clone()).prop_map(PacketData::Connect),
        Just(PacketData::Disconnect),
        (arb_name(), args.clone(), proptest::option::of(arb_id())).prop_map(|(name, args, id)| {
            PacketData::Event {
                name,
                args: Args::from_values(args),
                id,
            }
        }),
        (args, arb_id()).prop_map(|(args, id)| PacketData::Ack {
            args: Args::from_values(args),
            id,
        }),
        prop_oneof![object, ".{0,20}".prop_map(Value::String)].prop_map(PacketData::ConnectError),
    ];
    (arb_nsp(), data).prop_map(|(nsp, data)| Packet { nsp, data })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(bytes.into());
    }

    #[test]
    fn mutated_packets_never_panic(
        packet in arb_packet(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode(&packet).to_vec();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = decode(Bytes::from(bytes.clone()));
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = decode(bytes.into());
    }

    #[test]
    fn encode_decode_round_trips(packet in arb_packet()) {
        let bytes = encode(&packet);
        let decoded = decode(bytes.clone()).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(&decoded, &packet);
        // Encoding is deterministic: the decoded packet writes the same bytes.
        prop_assert_eq!(encode(&decoded), bytes);
    }
}
