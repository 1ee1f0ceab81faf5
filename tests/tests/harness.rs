//! Sanity tests of the Node.js harness against the real JavaScript parsers.
//!
//! They use raw strings and bytes only, so they check `tests/js/parsers.js` and
//! `NodePeer` independently of the Rust codecs.

use serde_json::{Value, json};
use sio_test_support::{Frame, NodePeer, as_bin, bin};

fn ok(op: &str, args: Value) -> Value {
    NodePeer::call(op, args).unwrap_or_else(|e| panic!("{op} failed: {e}"))
}

fn err(op: &str, args: Value) -> String {
    match NodePeer::call(op, args) {
        Ok(v) => panic!("{op} should have failed, got {v}"),
        Err(e) => e,
    }
}

#[test]
fn ping() {
    assert_eq!(ok("ping", json!({})), json!("pong"));
}

#[test]
fn unknown_op_and_bad_args_are_errors_not_crashes() {
    assert!(err("no.such.op", json!({})).contains("unknown op"));
    assert!(err("sio.decode", json!({"frames": 3})).contains("frames"));
    assert!(err("eio4.decodePacket", json!({})).contains("data"));
    // The process is still there.
    assert_eq!(ok("ping", json!({})), json!("pong"));
}

#[test]
fn bin_helpers_round_trip() {
    assert_eq!(bin(&[1, 2, 3]), json!({"$bin": "AQID"}));
    assert_eq!(as_bin(&json!({"$bin": "AQID"})), Some(vec![1, 2, 3]));
    assert_eq!(as_bin(&json!({"$bin": "AQID", "x": 1})), None);
    assert_eq!(as_bin(&json!("AQID")), None);
    let frames = vec![Frame::from("2[\"a\"]"), Frame::from(vec![0u8, 255])];
    let json = Frame::list_to_json(&frames);
    assert_eq!(json, json!(["2[\"a\"]", {"$bin": "AP8="}]));
    assert_eq!(Frame::list_from_json(&json), Ok(frames));
}

#[test]
fn batch_answers_in_order() {
    let answers = NodePeer::call_batch(&[
        ("ping", json!({})),
        ("sio.decode", json!({"frames": ["2[\"x\"]"]})),
        ("sio.decode", json!({"frames": ["2{}"]})),
        ("ping", json!({})),
    ]);
    assert_eq!(answers.len(), 4);
    assert_eq!(answers[0], Ok(json!("pong")));
    assert_eq!(
        answers[1],
        Ok(json!([{"type": 2, "nsp": "/", "data": ["x"]}]))
    );
    assert_eq!(answers[2], Err("invalid payload".to_owned()));
    assert_eq!(answers[3], Ok(json!("pong")));
}

#[test]
fn private_peer() {
    let mut peer = NodePeer::spawn();
    assert_eq!(peer.request("ping", json!({})), Ok(json!("pong")));
}

#[test]
fn many_requests_reuse_one_process() {
    let requests: Vec<(&str, Value)> = (0..2000)
        .map(|i| {
            (
                "sio.encode",
                json!({"packet": {"type": 2, "nsp": "/", "data": ["n", i]}}),
            )
        })
        .collect();
    for (i, answer) in NodePeer::call_batch(&requests).into_iter().enumerate() {
        assert_eq!(answer, Ok(json!([format!("2[\"n\",{i}]")])));
    }
}

// ---------------------------------------------------------------------------
// Engine.IO v4 (engine.io-parser)

#[test]
fn eio4_encode_packet() {
    let text = json!({"packet": {"type": "message", "data": "hello"}, "supportsBinary": true});
    assert_eq!(ok("eio4.encodePacket", text), json!("4hello"));
    let ping = json!({"packet": {"type": "ping"}, "supportsBinary": true});
    assert_eq!(ok("eio4.encodePacket", ping), json!("2"));
    let bytes =
        json!({"packet": {"type": "message", "data": bin(&[1, 2, 3])}, "supportsBinary": true});
    assert_eq!(ok("eio4.encodePacket", bytes), json!({"$bin": "AQID"}));
    let b64 =
        json!({"packet": {"type": "message", "data": bin(&[1, 2, 3])}, "supportsBinary": false});
    assert_eq!(ok("eio4.encodePacket", b64), json!("bAQID"));
}

#[test]
fn eio4_decode_packet() {
    assert_eq!(
        ok("eio4.decodePacket", json!({"data": "4hello"})),
        json!({"type": "message", "data": "hello"})
    );
    assert_eq!(
        ok("eio4.decodePacket", json!({"data": "3"})),
        json!({"type": "pong"})
    );
    assert_eq!(
        ok("eio4.decodePacket", json!({"data": "bAQID"})),
        json!({"type": "message", "data": {"$bin": "AQID"}})
    );
    assert_eq!(
        ok("eio4.decodePacket", json!({"data": bin(&[4, 5])})),
        json!({"type": "message", "data": {"$bin": "BAU="}})
    );
    assert_eq!(
        err("eio4.decodePacket", json!({"data": "9"})),
        "parser error"
    );
    assert_eq!(
        err("eio4.decodePacket", json!({"data": ""})),
        "parser error"
    );
}

#[test]
fn eio4_payload() {
    let packets = json!([
        {"type": "message", "data": "hello"},
        {"type": "message", "data": {"$bin": "AQIDBA=="}},
    ]);
    let encoded = ok("eio4.encodePayload", json!({"packets": packets}));
    assert_eq!(encoded, json!("4hello\u{1e}bAQIDBA=="));
    assert_eq!(ok("eio4.decodePayload", json!({"data": encoded})), packets);
    assert_eq!(ok("eio4.encodePayload", json!({"packets": []})), json!(""));
    assert_eq!(
        err("eio4.decodePayload", json!({"data": "4a\u{1e}x"})),
        "parser error"
    );
}

// ---------------------------------------------------------------------------
// Engine.IO v3 (engine.io's parser-v3)

#[test]
fn eio3_packet() {
    let euro = json!({"packet": {"type": "message", "data": "€"}});
    assert_eq!(ok("eio3.encodePacket", euro.clone()), json!("4€"));
    let mut utf8 = euro;
    utf8["utf8encode"] = json!(true);
    // utf8.js output: one char per UTF-8 byte.
    assert_eq!(ok("eio3.encodePacket", utf8), json!("4\u{e2}\u{82}\u{ac}"));
    let bytes =
        json!({"packet": {"type": "message", "data": bin(&[1, 2])}, "supportsBinary": true});
    assert_eq!(ok("eio3.encodePacket", bytes), json!({"$bin": "BAEC"}));
    let b64 = json!({"packet": {"type": "message", "data": bin(&[1, 2])}});
    assert_eq!(ok("eio3.encodePacket", b64), json!("b4AQI="));
    assert_eq!(
        ok("eio3.decodePacket", json!({"data": "b4AQI="})),
        json!({"type": "message", "data": {"$bin": "AQI="}})
    );
    assert_eq!(
        ok("eio3.decodePacket", json!({"data": bin(&[4, 1, 2])})),
        json!({"type": "message", "data": {"$bin": "AQI="}})
    );
    assert_eq!(
        err("eio3.decodePacket", json!({"data": "x"})),
        "parser error"
    );
}

#[test]
fn eio3_string_payload_round_trip() {
    let packets = json!([
        {"type": "message", "data": "hello"},
        {"type": "message", "data": "€"},
        {"type": "message", "data": bin(&[1, 2, 3])},
        {"type": "ping"},
    ]);
    let encoded = ok("eio3.encodePayload", json!({"packets": packets}));
    assert_eq!(encoded, json!("6:4hello2:4€6:b4AQID1:2"));
    assert_eq!(ok("eio3.decodePayload", json!({"data": encoded})), packets);
    assert_eq!(
        ok("eio3.encodePayload", json!({"packets": []})),
        json!("0:")
    );
    assert_eq!(
        err("eio3.decodePayload", json!({"data": "7:4hello"})),
        "parser error"
    );
    assert_eq!(
        err("eio3.decodePayload", json!({"data": ""})),
        "parser error"
    );
}

#[test]
fn eio3_binary_payload_round_trip() {
    let packets = json!([
        {"type": "message", "data": "hello"},
        {"type": "message", "data": "€"},
        {"type": "message", "data": bin(&[1, 2, 3])},
    ]);
    let expected: Vec<u8> = [
        &[0u8, 6, 255][..],
        b"4hello",
        &[0, 4, 255],
        "4€".as_bytes(),
        &[1, 4, 255, 4, 1, 2, 3],
    ]
    .concat();
    let encoded = ok("eio3.encodePayloadAsBinary", json!({"packets": packets}));
    assert_eq!(as_bin(&encoded), Some(expected));
    // encodePayload with supportsBinary picks the binary form when a packet has bytes.
    let chosen = ok(
        "eio3.encodePayload",
        json!({"packets": packets, "supportsBinary": true}),
    );
    assert_eq!(chosen, encoded);
    assert_eq!(
        ok("eio3.decodePayloadAsBinary", json!({"data": encoded})),
        packets
    );
}

// ---------------------------------------------------------------------------
// Socket.IO v5 (socket.io-parser)

#[test]
fn sio_encode() {
    let binary = json!({"packet": {"type": 2, "nsp": "/", "data": ["a", {"$bin": "AQID"}]}});
    assert_eq!(
        ok("sio.encode", binary),
        json!(["51-[\"a\",{\"_placeholder\":true,\"num\":0}]", {"$bin": "AQID"}])
    );
    let ack = json!({"packet": {"type": 3, "nsp": "/admin", "id": 13, "data": ["bar"]}});
    assert_eq!(ok("sio.encode", ack), json!(["3/admin,13[\"bar\"]"]));
    let connect = json!({"packet": {"type": 0, "nsp": "/"}});
    assert_eq!(ok("sio.encode", connect), json!(["0"]));
}

#[test]
fn sio_decode() {
    let frames = json!(["52-/admin,1[\"b\",{\"_placeholder\":true,\"num\":1},{\"_placeholder\":true,\"num\":0}]",
        {"$bin": "AA=="}, {"$bin": "AQ=="}, "0/x"]);
    assert_eq!(
        ok("sio.decode", json!({"frames": frames})),
        json!([
            {"type": 2, "nsp": "/admin", "id": 1, "data": ["b", {"$bin": "AQ=="}, {"$bin": "AA=="}]},
            {"type": 0, "nsp": "/x"},
        ])
    );
    assert_eq!(
        ok(
            "sio.decode",
            json!({"frames": ["51-[\"a\",{\"_placeholder\":true,\"num\":0}]"], "reportPending": true})
        ),
        json!({"packets": [], "pending": true})
    );
    assert_eq!(
        ok("sio.decode", json!({"frames": ["2[\"big\",1e400]"]})),
        json!([{"type": 2, "nsp": "/", "data": ["big", {"$num": "Infinity"}]}])
    );
}

#[test]
fn sio_decode_errors() {
    // "4" is CONNECT_ERROR, whose payload "2[" is not JSON.
    assert_eq!(
        err("sio.decode", json!({"frames": ["42["]})),
        "invalid payload"
    );
    assert_eq!(
        err("sio.decode", json!({"frames": ["2["]})),
        "invalid payload"
    );
    assert_eq!(
        err("sio.decode", json!({"frames": ["9"]})),
        "unknown packet type 9"
    );
    assert_eq!(
        err("sio.decode", json!({"frames": ["50-[\"a\"]"]})),
        "Illegal attachments"
    );
    assert_eq!(
        err("sio.decode", json!({"frames": ["511-[\"a\"]"]})),
        "too many attachments"
    );
    assert_eq!(
        ok(
            "sio.decode",
            json!({"frames": ["511-[\"a\"]"], "maxAttachments": 11, "reportPending": true})
        ),
        json!({"packets": [], "pending": true})
    );
    assert_eq!(
        err("sio.decode", json!({"frames": [{"$bin": "AQ=="}]})),
        "got binary data when not reconstructing a packet"
    );
    assert_eq!(
        err(
            "sio.decode",
            json!({"frames": ["51-[\"a\",{\"_placeholder\":true,\"num\":1}]", {"$bin": "AQ=="}]})
        ),
        "illegal attachments"
    );
    assert!(
        err("sio.decode", json!({"frames": ["2[\"\\ud800\"]"]})).starts_with("unrepresentable:")
    );
}

// ---------------------------------------------------------------------------
// socket.io-msgpack-parser and the Socket.IO v4 parser

#[test]
fn sio_msgpack_round_trip() {
    let packet = json!({"type": 2, "nsp": "/", "data": ["a", {"$bin": "AQI="}]});
    let frames = ok("sio_msgpack.encode", json!({"packet": packet}));
    // fixmap(3) "type" 2 "nsp" "/" "data" [ "a", bin8(2) 01 02 ]
    let expected: Vec<u8> = [
        &[0x83, 0xa4][..],
        b"type",
        &[0x02, 0xa3],
        b"nsp",
        &[0xa1, b'/', 0xa4],
        b"data",
        &[0x92, 0xa1, b'a', 0xc4, 0x02, 0x01, 0x02],
    ]
    .concat();
    assert_eq!(frames, json!([bin(&expected)]));
    assert_eq!(
        ok("sio_msgpack.decode", json!({"frames": frames})),
        json!([packet])
    );
    // The key order of the map follows `keys`.
    let ordered = ok(
        "sio_msgpack.encode",
        json!({"packet": {"type": 3, "nsp": "/", "data": [], "id": 1}, "keys": ["id", "type", "data", "nsp"]}),
    );
    let bytes = as_bin(&ordered[0]).expect("binary frame");
    assert_eq!(&bytes[..4], &[0x84, 0xa2, b'i', b'd']);
    assert_eq!(
        err(
            "sio_msgpack.decode",
            json!({"frames": [bin(&[0x81, 0xa4, b't', b'y', b'p', b'e', 9])]})
        ),
        "invalid packet type"
    );
    // An ext of type 0 declaring 4 GiB fails at once instead of filling 4 GiB.
    assert!(
        err(
            "sio_msgpack.decode",
            json!({"frames": [bin(&[0xc9, 0xff, 0xff, 0xff, 0xff, 0, 1])]})
        )
        .contains("past the end")
    );
}

#[test]
fn sio_v4_parser() {
    let packet = json!({"type": 5, "nsp": "/a", "id": 7, "data": ["x", bin(&[0])]});
    let frames = ok("sio_v4.encode", json!({"packet": packet}));
    assert_eq!(
        frames,
        json!(["51-/a,7[\"x\",{\"_placeholder\":true,\"num\":0}]", {"$bin": "AA=="}])
    );
    assert_eq!(
        ok("sio_v4.decode", json!({"frames": frames})),
        json!([{"type": 5, "nsp": "/a", "id": 7, "data": ["x", {"$bin": "AA=="}]}])
    );
    // The v4 parser reports an unknown type as a decoded ERROR packet, not an exception.
    assert_eq!(
        ok("sio_v4.decode", json!({"frames": ["9"]})),
        json!([{"type": 4, "data": "parser error: unknown packet type 9"}])
    );
}
