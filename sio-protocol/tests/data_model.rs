//! The payload data model, documented by tests: how Rust values become Socket.IO arguments
//! (and JSON text byte-identical to JavaScript's), how they come back, and where binary goes.

use std::collections::BTreeMap;

use bytes::Bytes;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use sio_protocol::engine::Frame;
use sio_protocol::socket::{
    Args, Decoder, DecoderConfig, Encoder, EventName, Packet, PacketData, Parser, RESERVED_EVENTS,
};
use sio_protocol::{Map, Str, Value};

fn emit<T: Serialize + ?Sized>(args: &T) -> String {
    let encoded = Encoder::new(Parser::Json)
        .encode_event("/", "ev", args, None)
        .unwrap();
    encoded.text().unwrap().to_owned()
}

/// Encodes `packet`, decodes every frame, and returns the decoded packet.
fn round_trip(packet: &Packet) -> Packet {
    let encoded = Encoder::new(Parser::Json).encode(packet).unwrap();
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut out = None;
    for frame in encoded.into_frames() {
        assert!(out.is_none());
        out = decoder.decode(frame).unwrap();
    }
    out.expect("complete packet")
}

fn event_args(packet: Packet) -> Args {
    match packet.data {
        PacketData::Event { args, .. } | PacketData::Ack { args, .. } => args,
        other => panic!("not an event: {other:?}"),
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Pair(i32, String);

#[test]
fn a_tuple_spreads_into_arguments() {
    assert_eq!(emit(&("a", 1, true)), r#"2["ev","a",1,true]"#);
    assert_eq!(
        emit(&[1, 2, 3]),
        r#"2["ev",1,2,3]"#,
        "an array [T; N] is a tuple too"
    );
    assert_eq!(emit(&(Point { x: 1, y: 2 },)), r#"2["ev",{"x":1,"y":2}]"#);
    let args = Args::new(&("a", 1, true)).unwrap();
    assert_eq!(args.len(), 3);
    let (a, n, b): (String, u8, bool) = args.deserialize().unwrap();
    assert_eq!((a.as_str(), n, b), ("a", 1, true));
}

#[test]
fn anything_else_is_one_argument() {
    assert_eq!(emit(&Point { x: 1, y: 2 }), r#"2["ev",{"x":1,"y":2}]"#);
    assert_eq!(
        emit(&vec![1, 2, 3]),
        r#"2["ev",[1,2,3]]"#,
        "a Vec is one array argument"
    );
    assert_eq!(
        emit(&Pair(1, "a".into())),
        r#"2["ev",[1,"a"]]"#,
        "a tuple struct is one argument"
    );
    assert_eq!(emit("hello"), r#"2["ev","hello"]"#);
    assert_eq!(emit(&42), r#"2["ev",42]"#);
    assert_eq!(emit(&None::<i32>), r#"2["ev",null]"#);
    assert_eq!(
        emit(&((1, 2),)),
        r#"2["ev",[1,2]]"#,
        "a nested tuple is one array argument"
    );

    let args = Args::new(&Point { x: 1, y: 2 }).unwrap();
    assert_eq!(args.len(), 1);
    assert_eq!(args.deserialize::<Point>().unwrap(), Point { x: 1, y: 2 });
    let args = Args::new(&Pair(1, "a".into())).unwrap();
    assert_eq!(args.deserialize::<Pair>().unwrap(), Pair(1, "a".into()));
}

#[test]
fn unit_is_no_argument() {
    assert_eq!(emit(&()), r#"2["ev"]"#);
    let args = Args::new(&()).unwrap();
    assert!(args.is_empty());
    // `()` accepts any arguments; Option is None without an argument.
    args.deserialize::<()>().unwrap();
    Args::new(&(1, 2)).unwrap().deserialize::<()>().unwrap();
    assert_eq!(args.deserialize::<Option<Point>>().unwrap(), None);
    assert_eq!(
        Args::new(&Point { x: 0, y: 0 })
            .unwrap()
            .deserialize::<Option<Point>>()
            .unwrap(),
        Some(Point { x: 0, y: 0 })
    );
    // Other types need an argument.
    let err = args.deserialize::<String>().unwrap_err();
    assert!(err.is_args(), "{err:?}");
    assert_eq!(err.to_string(), "cannot deserialize the arguments");
    assert_eq!(serde_cause(&err).to_string(), "missing argument");
}

#[test]
fn tuples_need_enough_arguments_and_ignore_extra_ones() {
    let args = Args::new(&("a", 1)).unwrap();
    assert!(args.deserialize::<(String, i32, bool)>().is_err());
    let (a,): (String,) = args.deserialize().unwrap();
    assert_eq!(a, "a");
    // A non-tuple type reads the first argument.
    assert_eq!(args.deserialize::<String>().unwrap(), "a");
    let err = args.deserialize::<(i32, i32)>().unwrap_err();
    assert_eq!(err.kind(), sio_protocol::ErrorKind::Args);
    let cause = serde_cause(&err);
    assert!(cause.to_string().starts_with("invalid type"), "{cause}");
    assert!(cause.is_data(), "{cause:?}");
}

/// The `serde_json::Error` an args error keeps as its source (and whose text its `Display`
/// does not repeat).
fn serde_cause(err: &sio_protocol::Error) -> &serde_json::Error {
    let source = std::error::Error::source(err).expect("a source");
    assert!(!err.to_string().contains(&source.to_string()), "{err}");
    source.downcast_ref().expect("a serde_json::Error")
}

#[test]
fn serialize_errors_keep_the_serde_error() {
    struct Fails;
    impl Serialize for Fails {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no way"))
        }
    }
    for err in [
        Args::new(&Fails).unwrap_err(),
        Value::from_serialize(&Fails).unwrap_err(),
    ] {
        assert!(err.is_args(), "{err:?}");
        assert_eq!(err.to_string(), "cannot serialize the arguments");
        assert_eq!(serde_cause(&err).to_string(), "no way");
    }
    let err = Value::from(1).deserialize_into::<String>().unwrap_err();
    assert!(err.is_args(), "{err:?}");
    assert!(serde_cause(&err).is_data());
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Upload {
    name: String,
    data: Bytes,
    #[serde(with = "serde_bytes")]
    thumb: Vec<u8>,
    parts: Vec<Bytes>,
    meta: BTreeMap<String, Bytes>,
    nested: Option<Box<Upload>>,
}

fn upload() -> Upload {
    Upload {
        name: "f".into(),
        data: Bytes::from_static(b"\x00"),
        thumb: vec![1],
        parts: vec![Bytes::from_static(b"\x02"), Bytes::from_static(b"\x03")],
        meta: [("k".to_owned(), Bytes::from_static(b"\x04"))].into(),
        nested: Some(Box::new(Upload {
            name: "g".into(),
            data: Bytes::from_static(b"\x05"),
            thumb: vec![6],
            parts: vec![],
            meta: BTreeMap::new(),
            nested: None,
        })),
    }
}

#[test]
fn binary_anywhere_becomes_attachments_numbered_depth_first() {
    let encoded = Encoder::new(Parser::Json)
        .encode_event(
            "/files",
            "up",
            &(upload(), Bytes::from_static(b"\x07")),
            Some(3),
        )
        .unwrap();
    let ph = |n: u8| format!(r#"{{"_placeholder":true,"num":{n}}}"#);
    let expected = format!(
        r#"58-/files,3["up",{{"name":"f","data":{},"thumb":{},"parts":[{},{}],"meta":{{"k":{}}},"nested":{{"name":"g","data":{},"thumb":{},"parts":[],"meta":{{}},"nested":null}}}},{}]"#,
        ph(0),
        ph(1),
        ph(2),
        ph(3),
        ph(4),
        ph(5),
        ph(6),
        ph(7)
    );
    assert_eq!(encoded.text(), Some(expected.as_str()));
    let bytes: Vec<u8> = encoded.attachments.iter().map(|b| b[0]).collect();
    assert_eq!(bytes, [0, 1, 2, 3, 4, 5, 6, 7]);

    // And back.
    let args = Args::new(&(upload(), Bytes::from_static(b"\x07"))).unwrap();
    assert!(args.has_binary());
    assert_eq!(args.attachments(), 8);
    let packet = Packet::event("/files", "up", args.clone(), Some(3));
    assert_eq!(Encoder::new(Parser::Json).encode(&packet).unwrap(), encoded);
    let decoded = round_trip(&packet);
    assert_eq!(
        decoded.packet_type(),
        sio_protocol::socket::PacketType::BinaryEvent
    );
    let received = event_args(decoded);
    assert_eq!(received, args);
    let (u, last): (Upload, Bytes) = received.deserialize().unwrap();
    assert_eq!(u, upload());
    assert_eq!(&last[..], b"\x07");
    // The sending side's form can be read back too.
    let (u, _): (Upload, Bytes) = args.deserialize().unwrap();
    assert_eq!(u, upload());
}

#[test]
fn the_trap_a_plain_vec_u8_is_an_array_of_numbers() {
    assert_eq!(emit(&vec![1u8, 2, 3]), r#"2["ev",[1,2,3]]"#);
    assert_eq!(emit(&(&[1u8, 2][..],)), r#"2["ev",[1,2]]"#);
    assert!(!Args::new(&vec![1u8, 2, 3]).unwrap().has_binary());
    // Binary is sent with Bytes (or serde_bytes)...
    assert_eq!(
        emit(&Bytes::from_static(&[1, 2, 3])),
        r#"51-["ev",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(
        emit(&serde_bytes::ByteBuf::from(vec![1])),
        r#"51-["ev",{"_placeholder":true,"num":0}]"#
    );
    // ...and a Vec<u8> receives either form.
    let args = event_args(round_trip(&Packet::event(
        "/",
        "b",
        Args::new(&Bytes::from_static(&[9, 8])).unwrap(),
        None,
    )));
    assert_eq!(args.deserialize::<Vec<u8>>().unwrap(), [9, 8]);
    assert_eq!(
        args.deserialize::<serde_bytes::ByteBuf>()
            .unwrap()
            .into_vec(),
        [9, 8]
    );
    let args = Args::new(&vec![9u8, 8]).unwrap();
    assert_eq!(args.deserialize::<Vec<u8>>().unwrap(), [9, 8]);
}

#[test]
fn numbers_are_written_like_json_stringify() {
    let cases: [(f64, &str); 12] = [
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (0.1, "0.1"),
        (123456789012345680000.0, "123456789012345680000"),
        (5e-324, "5e-324"),
        (-0.0, "0"),
        (1.5, "1.5"),
        (2.0, "2"),
        (1e-6, "0.000001"),
        (-1.5e-7, "-1.5e-7"),
        (f64::NAN, "null"),
        (f64::INFINITY, "null"),
    ];
    for (n, js) in cases {
        assert_eq!(emit(&(n,)), format!(r#"2["ev",{js}]"#), "{n:e}");
        assert_eq!(Value::from(n).to_string(), js);
    }
    assert_eq!(
        emit(&(0.1f32,)),
        r#"2["ev",0.1]"#,
        "an f32 keeps its own shortest digits"
    );
    assert_eq!(
        emit(&(u64::MAX, i64::MIN)),
        format!(r#"2["ev",{},{}]"#, u64::MAX, i64::MIN)
    );
    let v = Value::from_serialize(&(2.0, 0.5, -0.0)).unwrap();
    assert_eq!(v.to_string(), "[2,0.5,0]");
}

#[test]
fn strings_are_escaped_like_json_stringify() {
    assert_eq!(
        emit("a\"\\\n\u{1}\u{1f}\u{7f}\u{2028}é"),
        "2[\"ev\",\"a\\\"\\\\\\n\\u0001\\u001f\u{7f}\u{2028}é\"]"
    );
    let encoded = Encoder::new(Parser::Json)
        .encode_event("/", "a\"b", &(), None)
        .unwrap();
    assert_eq!(encoded.text(), Some(r#"2["a\"b"]"#));
}

#[test]
fn values_carry_binary_and_convert_to_types() {
    let v = Value::from_serialize(&upload()).unwrap();
    assert!(v.has_binary());
    assert_eq!(v["name"], "f");
    assert_eq!(v["data"], Value::Binary(Bytes::from_static(b"\x00")));
    assert_eq!(v["parts"][1], Value::Binary(Bytes::from_static(b"\x03")));
    assert_eq!(v.deserialize_into::<Upload>().unwrap(), upload());
    assert_eq!(Value::deserialize(v.clone()).unwrap(), v);
    // JSON text (Display) writes binary as JSON.stringify writes a Buffer.
    assert_eq!(
        Value::from(Bytes::from_static(&[1, 2])).to_string(),
        r#"{"type":"Buffer","data":[1,2]}"#
    );
    // Object keys keep their order.
    let v: Value = serde_json::from_str(r#"{"z":1,"a":{"y":2,"b":3}}"#).unwrap();
    assert_eq!(v.to_string(), r#"{"z":1,"a":{"y":2,"b":3}}"#);
    // Numbers compare by value.
    assert_eq!(Value::from(2), Value::from(2.0));
    assert_ne!(Value::from(2), Value::from("2"));
    // Enums, options, maps.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum E {
        A,
        B(i32),
        C { x: Option<i32> },
    }
    for e in [E::A, E::B(1), E::C { x: None }, E::C { x: Some(2) }] {
        let v = Value::from_serialize(&e).unwrap();
        assert_eq!(v.deserialize_into::<E>().unwrap(), e);
        assert_eq!(Args::new(&e).unwrap().deserialize::<E>().unwrap(), e);
    }
    let m: Map = [("k".to_owned(), Value::from(1))].into_iter().collect();
    assert_eq!(
        Value::from(m.clone())
            .deserialize_into::<BTreeMap<String, u8>>()
            .unwrap()["k"],
        1
    );
    let raw = serde_json::value::RawValue::from_string("[1,{\"a\":2}]".into()).unwrap();
    assert_eq!(
        Value::from_serialize(&raw).unwrap().to_string(),
        "[1,{\"a\":2}]"
    );
    assert_eq!(emit(&(raw,)), r#"2["ev",[1,{"a":2}]]"#);
}

#[test]
fn connect_and_errors_payloads() {
    let auth = Value::from_serialize(&serde_json::json!({"token": "x"})).unwrap();
    let packet = Packet::new("/admin", PacketData::Connect(Some(auth)));
    let encoded = Encoder::new(Parser::Json).encode(&packet).unwrap();
    assert_eq!(encoded.text(), Some(r#"0/admin,{"token":"x"}"#));
    assert_eq!(round_trip(&packet), packet);
    let packet = Packet::new("/", PacketData::ConnectError(Value::from("nope")));
    assert_eq!(
        Encoder::new(Parser::Json).encode(&packet).unwrap().text(),
        Some(r#"4"nope""#)
    );
    assert_eq!(round_trip(&packet), packet);
}

#[test]
fn numeric_event_names_are_sent_as_numbers() {
    let packet = Packet::event("/", EventName::number("1"), Args::new(&"x").unwrap(), None);
    assert_eq!(
        Encoder::new(Parser::Json).encode(&packet).unwrap().text(),
        Some(r#"2[1,"x"]"#)
    );
    assert_eq!(round_trip(&packet), packet);
}

// ---- property tests ----

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Any finite float: with serde_json's `float_roundtrip` every one reads back exactly
        // (see `floats_parse_exactly` in socket_vectors.rs).
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(|b| Value::Binary(Bytes::from(b))),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(("[a-z_]{0,6}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn arb_packet() -> impl Strategy<Value = Packet> {
    let nsp = prop_oneof![
        Just("/".to_owned()),
        "/[a-z0-9]{1,8}",
        "/[a-z]{1,4}/[a-zé]{1,4}"
    ];
    let id = proptest::option::of(0u64..=(1 << 53) - 1);
    let name =
        any::<String>().prop_filter("not reserved", |n| !RESERVED_EVENTS.contains(&n.as_str()));
    let args = || proptest::collection::vec(arb_value(), 0..5);
    prop_oneof![
        (nsp.clone(), name, args(), id).prop_map(|(nsp, name, args, id)| Packet::event(
            nsp,
            name,
            Args::from_values(args),
            id
        )),
        (nsp.clone(), args(), 0u64..=(1 << 53) - 1).prop_map(|(nsp, args, id)| Packet::ack(
            nsp,
            Args::from_values(args),
            id
        )),
        nsp.clone()
            .prop_map(|nsp| Packet::new(nsp, PacketData::Disconnect)),
        (
            nsp.clone(),
            proptest::collection::vec(("[a-z]{1,5}", any::<String>()), 0..3)
        )
            .prop_map(|(nsp, kv)| {
                let map: Map = kv.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
                Packet::new(nsp, PacketData::Connect(Some(Value::Object(map))))
            }),
        (nsp, any::<String>())
            .prop_map(|(nsp, m)| Packet::new(nsp, PacketData::ConnectError(Value::String(m)))),
    ]
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        any::<String>().prop_map(|s| Frame::Text(Str::from(s))),
        "[0-6][0-9-]{0,3}(/[a-z,]{0,4})?[0-9]{0,3}[\\[\\]{}\",:a-z0-9_]{0,24}"
            .prop_map(|s| Frame::Text(Str::from(s))),
        "5[0-3]-\\[\"a\",\\{\"_placeholder\":true,\"num\":[-0-9.\"]{1,3}\\}\\]"
            .prop_map(|s| Frame::Text(Str::from(s))),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(|b| Frame::Binary(Bytes::from(b))),
    ]
}

proptest! {
    #[test]
    fn packets_round_trip(packet in arb_packet()) {
        let decoded = round_trip(&packet);
        prop_assert_eq!(&decoded, &packet);
        // Encoding is stable: the decoded packet encodes to the same frames.
        let encoder = Encoder::new(Parser::Json);
        prop_assert_eq!(encoder.encode(&decoded).unwrap(), encoder.encode(&packet).unwrap());
    }

    #[test]
    fn typed_args_round_trip(a in any::<String>(), b in any::<i64>(), c in proptest::collection::vec(any::<u8>(), 0..8)) {
        let args = Args::new(&(a.clone(), b, Bytes::from(c.clone()))).unwrap();
        let packet = Packet::event("/", "t", args, None);
        let (a2, b2, c2): (String, i64, Bytes) = event_args(round_trip(&packet)).deserialize().unwrap();
        prop_assert_eq!((a2, b2, c2.to_vec()), (a, b, c));
    }

    #[test]
    fn the_decoder_never_panics(frames in proptest::collection::vec(arb_frame(), 1..6), v4 in any::<bool>()) {
        let protocol = if v4 { sio_protocol::socket::ProtocolVersion::V4 } else { sio_protocol::socket::ProtocolVersion::V5 };
        let mut decoder = Decoder::new(DecoderConfig::default().with_protocol(protocol));
        for frame in frames {
            if let Ok(Some(packet)) = decoder.decode(frame) {
                // Whatever decodes can be read and re-encoded.
                if let PacketData::Event { args, .. } | PacketData::Ack { args, .. } = &packet.data {
                    let _ = args.to_values();
                    let _ = args.deserialize::<Vec<Value>>();
                }
                Encoder::new(Parser::Json).encode(&packet).unwrap();
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>()) {
        let _ = Decoder::new(DecoderConfig::default()).decode_text(Str::from(s));
    }
}
