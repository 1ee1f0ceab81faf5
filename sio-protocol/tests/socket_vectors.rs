//! Runs the Socket.IO codec vectors of `tests/vectors/socket/`: every valid message decodes to
//! the expected packet (and, unless marked `"encode": false`, the packet encodes back to the
//! same bytes), and every invalid sequence of messages is rejected with the expected error.
//!
//! The vectors were checked against the JavaScript parsers (socket.io-parser 4.2.7 for
//! protocol 5, 3.3.6 for protocol 4): valid ones decode (and encode) identically there; invalid
//! ones are rejected there too unless their `js` field says why we differ.

use base64::Engine as _;
use bytes::Bytes;
use sio_protocol::engine::Frame;
use sio_protocol::socket::{
    Args, DecodeReason, Decoder, DecoderConfig, Encoder, EventName, Packet, PacketData, Parser,
    ProtocolVersion,
};
use sio_protocol::{Map, Str, Value};

fn b64(s: &str) -> Bytes {
    Bytes::from(
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .expect("base64"),
    )
}

/// Vectors are read into our own `Value`, which keeps the key order of objects.
type Json = Value;

fn load(name: &str) -> Vec<Json> {
    let path = format!("{}/tests/vectors/socket/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("vector file");
    serde_json::from_str(&text).expect("vector JSON")
}

/// A vector value: JSON where `{"$binary": "<base64>"}` is binary.
fn value(j: &Json) -> Value {
    match j {
        Json::Object(m) if m.len() == 1 && m.contains_key("$binary") => {
            Value::Binary(b64(m["$binary"].as_str().unwrap()))
        }
        Json::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), value(v)))
                .collect::<Map>(),
        ),
        Json::Array(a) => Value::Array(a.iter().map(value).collect()),
        other => other.clone(),
    }
}

fn args(j: &Json) -> Args {
    Args::from_values(j.as_array().expect("args").iter().map(value).collect())
}

fn packet(j: &Json) -> Packet {
    let nsp = Str::from(j["nsp"].as_str().unwrap().to_owned());
    let id = j.get("id").and_then(Json::as_u64);
    let data = match j["type"].as_str().unwrap() {
        "connect" => PacketData::Connect(j.get("data").map(value)),
        "disconnect" => PacketData::Disconnect,
        "event" => {
            let name = match &j["name"] {
                Json::String(s) => EventName::new(s.clone()),
                Json::Number(n) => EventName::number(n.to_string()),
                other => panic!("bad name {other}"),
            };
            PacketData::Event {
                name,
                args: args(&j["args"]),
                id,
            }
        }
        "ack" => PacketData::Ack {
            args: args(&j["args"]),
            id: id.unwrap(),
        },
        "connect_error" => {
            PacketData::ConnectError(j.get("data").map(value).unwrap_or(Value::Null))
        }
        other => panic!("bad type {other}"),
    };
    Packet { nsp, data }
}

fn config(j: &Json) -> DecoderConfig {
    let protocol = match j["protocol"].as_u64() {
        Some(4) => ProtocolVersion::V4,
        _ => ProtocolVersion::V5,
    };
    DecoderConfig::default().with_protocol(protocol)
}

/// Compares event names by meaning (a numeric name by value).
fn same_packet(a: &Packet, b: &Packet) -> bool {
    let names_equal = |x: &EventName, y: &EventName| {
        if x.is_number() && y.is_number() {
            x.as_str().parse::<f64>().ok() == y.as_str().parse::<f64>().ok()
        } else {
            x == y
        }
    };
    a.nsp == b.nsp
        && match (&a.data, &b.data) {
            (
                PacketData::Event {
                    name: n1,
                    args: a1,
                    id: i1,
                },
                PacketData::Event {
                    name: n2,
                    args: a2,
                    id: i2,
                },
            ) => names_equal(n1, n2) && a1 == a2 && i1 == i2,
            (x, y) => x == y,
        }
}

#[test]
fn valid_vectors_decode_and_encode() {
    let vectors = load("valid.json");
    assert!(vectors.len() >= 40);
    for v in &vectors {
        let desc = v["description"].as_str().unwrap();
        let text = v["text"].as_str().unwrap();
        let attachments: Vec<Bytes> = v["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| b64(a.as_str().unwrap()))
            .collect();
        let expected = packet(&v["packet"]);

        let mut decoder = Decoder::new(config(v));
        let mut decoded = decoder
            .decode_text(Str::from(text.to_owned()))
            .unwrap_or_else(|e| panic!("{desc}: {e}"));
        for (i, a) in attachments.iter().enumerate() {
            assert!(decoded.is_none(), "{desc}: complete before its attachments");
            assert!(decoder.is_pending(), "{desc}");
            decoded = decoder
                .decode(Frame::Binary(a.clone()))
                .unwrap_or_else(|e| panic!("{desc}: attachment {i}: {e}"));
        }
        let decoded = decoded.unwrap_or_else(|| panic!("{desc}: incomplete"));
        assert!(!decoder.is_pending(), "{desc}");
        assert!(
            same_packet(&decoded, &expected),
            "{desc}:\n got {decoded:?}\nwant {expected:?}"
        );

        // What we send when the decoded packet is sent again (a relay): the bytes a JavaScript
        // server would send after its own decode and encode, or bytes it reads as the same.
        if let Some(reencoded) = v.get("reencoded") {
            let again = Encoder::new(Parser::Json).encode(&decoded).unwrap();
            assert_eq!(again.text(), reencoded.as_str(), "{desc}: re-encoding");
            assert_eq!(again.attachments, attachments, "{desc}: attachments");
        }
        // The first argument read as an `f64`, as a typed handler reads it.
        if let Some(first) = v.get("first_f64") {
            let want: f64 = first.as_str().unwrap().parse().unwrap();
            let args = match &decoded.data {
                PacketData::Event { args, .. } | PacketData::Ack { args, .. } => args,
                other => panic!("{desc}: no arguments in {other:?}"),
            };
            let (got,): (f64,) = args.deserialize().unwrap_or_else(|e| panic!("{desc}: {e}"));
            assert_eq!(got.to_bits(), want.to_bits(), "{desc}: {got} vs {want}");
        }

        if v.get("encode") != Some(&Json::Bool(false)) {
            let encoded = Encoder::new(Parser::Json).encode(&expected).unwrap();
            assert_eq!(
                encoded.text(),
                Some(text),
                "{desc}: encoding the expected packet"
            );
            assert_eq!(encoded.attachments, attachments, "{desc}: attachments");
            // The decoded form (JSON text ranges) encodes identically too.
            let again = Encoder::new(Parser::Json).encode(&decoded).unwrap();
            assert_eq!(again, encoded, "{desc}: re-encoding the decoded packet");
            assert_eq!(encoded.len(), 1 + attachments.len());
            let frames: Vec<Frame> = encoded.into_frames().collect();
            assert_eq!(frames.len(), 1 + attachments.len());
        }
    }
}

fn expected_error(name: &str) -> DecodeReason {
    let all = [
        DecodeReason::UnknownPacketType,
        DecodeReason::IllegalAttachments,
        DecodeReason::TooManyAttachments,
        DecodeReason::InvalidNamespace,
        DecodeReason::InvalidAckId,
        DecodeReason::InvalidPayload,
        DecodeReason::InvalidPlaceholder,
        DecodeReason::UnexpectedBinary,
        DecodeReason::UnexpectedText,
    ];
    all.into_iter()
        .find(|e| e.to_string() == name)
        .unwrap_or_else(|| panic!("unknown error {name}"))
}

#[test]
fn invalid_vectors_are_rejected() {
    let vectors = load("invalid.json");
    assert!(vectors.len() >= 40);
    for v in &vectors {
        let desc = v["description"].as_str().unwrap();
        let frames = v["frames"].as_array().unwrap();
        let want = expected_error(v["error"].as_str().unwrap());
        let mut decoder = Decoder::new(config(v));
        for (i, f) in frames.iter().enumerate() {
            let frame = match (f.get("text"), f.get("binary")) {
                (Some(t), _) => Frame::Text(Str::from(t.as_str().unwrap().to_owned())),
                (_, Some(b)) => Frame::Binary(b64(b.as_str().unwrap())),
                _ => panic!("{desc}: bad frame"),
            };
            let result = decoder.decode(frame);
            if i + 1 < frames.len() {
                assert!(
                    result.is_ok(),
                    "{desc}: frame {i} rejected early: {result:?}"
                );
            } else {
                assert_eq!(
                    result.err().and_then(|e| e.socket_reason()),
                    Some(want),
                    "{desc}"
                );
                assert!(
                    !decoder.is_pending(),
                    "{desc}: the decoder resets after an error"
                );
            }
        }
    }
}

#[test]
fn a_million_digit_ack_id_is_rejected_in_linear_time() {
    let mut text = String::from("2");
    text.push_str(&"1".repeat(1_000_000));
    text.push_str("[\"a\"]");
    let start = std::time::Instant::now();
    let result = Decoder::new(DecoderConfig::default()).decode_text(Str::from(text));
    assert_eq!(
        result.err().and_then(|e| e.socket_reason()),
        Some(DecodeReason::InvalidAckId)
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(1));

    // Leading zeros do not make an id large (JavaScript's Number() reads `000…01` as 1).
    let mut text = String::from("2");
    text.push_str(&"0".repeat(1_000_000));
    text.push_str("1[\"a\"]");
    let packet = Decoder::new(DecoderConfig::default())
        .decode_text(Str::from(text))
        .unwrap()
        .unwrap();
    assert!(matches!(packet.data, PacketData::Event { id: Some(1), .. }));
}

#[test]
fn max_attachments_is_configurable() {
    let mut decoder = Decoder::new(DecoderConfig::default().with_max_attachments(1));
    assert_eq!(
        decoder
            .decode_text(Str::from("52-[\"a\"]"))
            .err()
            .and_then(|e| e.socket_reason()),
        Some(DecodeReason::TooManyAttachments)
    );
    assert!(
        decoder
            .decode_text(Str::from("51-[\"a\"]"))
            .unwrap()
            .is_none()
    );
    decoder.reset();
    assert!(!decoder.is_pending());
    assert_eq!(
        decoder
            .decode_binary(Bytes::new())
            .err()
            .and_then(|e| e.socket_reason()),
        Some(DecodeReason::UnexpectedBinary)
    );
}

#[test]
fn decoded_text_events_point_into_the_frame() {
    let frame = Str::from(String::from(r#"2/chat,["msg","hello",{"n":1}]"#));
    let packet = Decoder::new(DecoderConfig::default())
        .decode_text(frame.clone())
        .unwrap()
        .unwrap();
    let PacketData::Event { name, args, .. } = &packet.data else {
        panic!()
    };
    let base = frame.as_ptr() as usize;
    assert!((base..base + frame.len()).contains(&(name.as_str().as_ptr() as usize)));
    assert!((base..base + frame.len()).contains(&(packet.nsp.as_ptr() as usize)));
    assert_eq!(args.raw_json(0), Some("\"hello\""));
    assert_eq!(args.raw_json(1), Some("{\"n\":1}"));
    assert_eq!(args.raw_json(2), None);
}

/// JavaScript parses `123456789012345680000` as 1.2345678901234568e20; serde_json's default
/// fast float parser is off by one ulp there, hence its `float_roundtrip` feature in the
/// workspace's Cargo.toml.
#[test]
fn floats_parse_exactly() {
    let packet = Decoder::new(DecoderConfig::default())
        .decode_text(Str::from(r#"2["n",123456789012345680000]"#))
        .unwrap()
        .unwrap();
    let PacketData::Event { args, .. } = packet.data else {
        panic!()
    };
    let (n,): (f64,) = args.deserialize().unwrap();
    assert_eq!(n, 1.2345678901234568e20);
}

#[test]
fn deep_nesting_never_overflows_the_stack() {
    // A text packet is validated without recursion (JavaScript accepts deep nesting too); reading
    // it stops at serde_json's recursion limit with an error.
    let deep = format!("2[\"a\",{}{}]", "[".repeat(100_000), "]".repeat(100_000));
    let packet = Decoder::new(DecoderConfig::default())
        .decode_text(Str::from(deep))
        .unwrap()
        .unwrap();
    let PacketData::Event { args, .. } = packet.data else {
        panic!()
    };
    assert!(args.to_values().is_err());
    assert!(args.deserialize::<(Vec<Value>,)>().is_err());
    // A binary packet is parsed at once: rejected.
    let deep = format!("51-[\"a\",{}{}]", "[".repeat(100_000), "]".repeat(100_000));
    let result = Decoder::new(DecoderConfig::default()).decode_text(Str::from(deep));
    assert_eq!(
        result.err().and_then(|e| e.socket_reason()),
        Some(DecodeReason::InvalidPayload)
    );
}

/// An event named by a number beyond the range of an `f64`: JavaScript reads `Infinity` (a
/// number, so socket.io-parser accepts it) and its listeners are registered under
/// `String(Infinity)`; sent again, the name is `null`, as `JSON.stringify` writes it.
#[test]
fn an_infinite_event_name() {
    for (text, attachment, name, reencoded) in [
        ("2[1e309,1]", None, "Infinity", "2[null,1]"),
        ("2[-1E+400]", None, "-Infinity", "2[null]"),
        (
            r#"51-[1e309,{"_placeholder":true,"num":0}]"#,
            Some(Bytes::from_static(b"\x01")),
            "Infinity",
            r#"51-[null,{"_placeholder":true,"num":0}]"#,
        ),
    ] {
        for protocol in [ProtocolVersion::V5, ProtocolVersion::V4] {
            let mut decoder = Decoder::new(DecoderConfig::default().with_protocol(protocol));
            let mut decoded = decoder.decode_text(Str::from(text)).unwrap();
            if let Some(a) = &attachment {
                decoded = decoder.decode_binary(a.clone()).unwrap();
            }
            let packet = decoded.unwrap();
            let PacketData::Event { name: got, .. } = &packet.data else {
                panic!("{text}: {packet:?}")
            };
            assert!(got.is_number() && got.is_infinite(), "{text}: {got:?}");
            assert_eq!(got.as_str(), name, "{text}");
            let again = Encoder::new(Parser::Json).encode(&packet).unwrap();
            assert_eq!(again.text(), Some(reencoded), "{text}");
        }
    }
    assert!(!EventName::number("1e308").is_infinite());
    assert!(!EventName::new("Infinity").is_infinite());
}

#[test]
fn decode_errors_are_of_the_socket_kind() {
    use std::error::Error as _;

    let mut decoder = Decoder::new(DecoderConfig::default());
    let error = decoder
        .decode_text(Str::from("2/admin,x"))
        .expect_err("not a packet");
    assert!(error.is_socket_decode(), "{error:?}");
    assert_eq!(error.kind(), sio_protocol::ErrorKind::SocketDecode);
    assert_eq!(error.socket_reason(), Some(DecodeReason::InvalidPayload));
    assert_eq!(
        error.to_string(),
        "invalid socket.io packet: invalid payload"
    );
    assert!(error.source().is_none());
    assert_eq!(error.engine_reason(), None);
    assert_eq!(error.close_code(), None);
    // An attachment that nothing waits for.
    let error = decoder
        .decode(Frame::Binary(Bytes::from_static(b"x")))
        .expect_err("unexpected binary");
    assert_eq!(error.socket_reason(), Some(DecodeReason::UnexpectedBinary));
}
