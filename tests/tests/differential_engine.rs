//! Differential tests of the Engine.IO codec against the real JavaScript parsers
//! (engine.io-parser 5 for v4, engine.io's parser-v3 for v3), through `NodePeer`.
//!
//! Every test generates packets (or bodies) with proptest, sends a whole batch of them to the
//! one Node process in a single round trip, and compares both directions:
//!
//! - Rust encodes, JavaScript decodes: the same packets come out;
//! - JavaScript encodes the same logical packets: the bytes are identical to ours, and Rust
//!   decodes them back to the packets we started from;
//! - rejections: random and mutated inputs. Whenever JavaScript rejects, Rust must reject too;
//!   when both accept, they must agree on the result. Rust may reject what JavaScript accepts
//!   (documented on `Packet::decode_text` and `PayloadDecoder`: lenient base64, `Number()`
//!   quirks, an unknown v3 binary type byte, open packets that are not handshake JSON, ...):
//!   those cases are counted and printed, not failed.
//! - bodies with invalid UTF-8 (v4, v3 string, XHR2 text records), as engine.io's polling
//!   transport reads them (`Buffer#toString()`, then the parser): Rust must decode them to
//!   exactly the same packets, pushed whole or in arbitrary chunks.

use std::fmt::Debug;

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use serde_json::{Value as Json, json};
use sio_protocol::Str;
use sio_protocol::engine::{
    Frame, OpenPacket, Packet, PayloadDecoder, PayloadEncoder, PayloadFormat, ProtocolVersion,
};
mod differential_support;

use differential_support::{BATCH_SIZES, Counts, add, run};
use sio_test_support::{NodePeer, as_bin, bin};
use std::cell::Cell;

use ProtocolVersion::{V3, V4};

/// The payload limit used when decoding bodies.
const MAX_PAYLOAD: usize = 1_000_000;

// ---------------------------------------------------------------------------
// The runner

/// A decode result with the error's Engine.IO reason in place of the error, to compare.
fn reasons<T>(r: Result<T, sio_protocol::Error>) -> Result<T, sio_protocol::engine::DecodeReason> {
    r.map_err(|e| e.engine_reason().expect("an engine.io decode error"))
}

/// Asserts equality inside a proptest case, with context.
fn check_eq<A: PartialEq<B> + Debug, B: Debug>(
    actual: &A,
    expected: &B,
    what: impl FnOnce() -> String,
) -> Result<(), TestCaseError> {
    if actual == expected {
        Ok(())
    } else {
        Err(TestCaseError::fail(format!(
            "{}\n  actual:   {actual:?}\n  expected: {expected:?}",
            what()
        )))
    }
}

fn js_ok(
    answer: &Result<Json, String>,
    what: impl FnOnce() -> String,
) -> Result<Json, TestCaseError> {
    answer
        .clone()
        .map_err(|e| TestCaseError::fail(format!("{}: JavaScript rejected it: {e}", what())))
}

// ---------------------------------------------------------------------------
// Packets in the JavaScript shape

/// The packet as the JavaScript parsers represent it: `{type, data?}`, no `data` for an empty
/// string (that is how they decode `4`), binary as `{"$bin"}`.
fn js_packet(p: &Packet) -> Json {
    let text = |ty: &str, s: &str| {
        if s.is_empty() {
            json!({ "type": ty })
        } else {
            json!({ "type": ty, "data": s })
        }
    };
    match p {
        Packet::Open(o) => json!({"type": "open", "data": o.to_json()}),
        Packet::Close => json!({"type": "close"}),
        Packet::Ping(s) => text("ping", s),
        Packet::Pong(s) => text("pong", s),
        Packet::Message(s) => text("message", s),
        Packet::Binary(b) => json!({"type": "message", "data": bin(b)}),
        Packet::Upgrade => json!({"type": "upgrade"}),
        Packet::Noop => json!({"type": "noop"}),
    }
}

/// The Rust packet a JavaScript-decoded packet stands for, or `None` when Rust has no such
/// packet (an unknown v3 binary type, an `open` whose data is not handshake JSON, a binary
/// ping...). Data after `close`, `upgrade` and `noop` is ignored, as engine.io ignores it.
fn rust_packet(j: &Json) -> Option<Packet> {
    let data = j.get("data");
    let text = || match data {
        None => Some(Str::new()),
        Some(Json::String(s)) => Some(Str::from(s.clone())),
        Some(_) => None,
    };
    Some(match j.get("type")?.as_str()? {
        "open" => Packet::Open(OpenPacket::from_json(data?.as_str()?).ok()?),
        "close" => Packet::Close,
        "ping" => Packet::Ping(text()?),
        "pong" => Packet::Pong(text()?),
        "message" => match data.and_then(as_bin) {
            Some(b) => Packet::Binary(Bytes::from(b)),
            None => Packet::Message(text()?),
        },
        "upgrade" => Packet::Upgrade,
        "noop" => Packet::Noop,
        _ => return None,
    })
}

fn rust_packets(j: &Json) -> Option<Vec<Packet>> {
    j.as_array()?.iter().map(rust_packet).collect()
}

fn frame_json(f: &Frame) -> Json {
    match f {
        Frame::Text(s) => Json::String(s.to_string()),
        Frame::Binary(b) => bin(b),
    }
}

fn frame_from_json(j: &Json) -> Option<Frame> {
    match j {
        Json::String(s) => Some(Frame::Text(Str::from(s.clone()))),
        other => as_bin(other).map(|b| Frame::Binary(Bytes::from(b))),
    }
}

/// A body as a JSON string (text formats) or `{"$bin"}` (XHR2).
fn body_json(body: &Bytes, format: PayloadFormat) -> Json {
    match format {
        PayloadFormat::V3Binary => bin(body),
        _ => Json::String(String::from_utf8(body.to_vec()).expect("text bodies are UTF-8")),
    }
}

fn body_from_json(j: &Json) -> Option<Bytes> {
    match j {
        Json::String(s) => Some(Bytes::from(s.clone())),
        other => as_bin(other).map(Bytes::from),
    }
}

/// Decodes `body` in chunks of `chunk` bytes, draining after each push.
fn decode_chunked(
    body: &Bytes,
    format: PayloadFormat,
    chunk: usize,
) -> Result<Vec<Packet>, String> {
    let mut decoder = PayloadDecoder::new(format, MAX_PAYLOAD);
    let mut packets = Vec::new();
    for piece in body.chunks(chunk.max(1)) {
        decoder
            .push(Bytes::copy_from_slice(piece))
            .map_err(|e| e.to_string())?;
        while let Some(p) = decoder.next_packet().map_err(|e| e.to_string())? {
            packets.push(p);
        }
    }
    while let Some(p) = decoder.finish().map_err(|e| e.to_string())? {
        packets.push(p);
    }
    Ok(packets)
}

// ---------------------------------------------------------------------------
// Strategies

/// Characters that matter to the codecs, mixed with arbitrary ones (astral included).
fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => any::<char>(),
        4 => proptest::char::range(' ', '~'),
        1 => proptest::sample::select(vec![
            '\u{1e}', '😀', '€', 'é', '\u{fffd}', '\u{2028}', '\0', '\n', ':', 'b', '4', '0', '=',
            '\\', '"', '\u{10ffff}', '\u{ffff}',
        ]),
    ]
}

/// Text data (any Unicode; `\x1e` only when `allow_rs`).
fn text(allow_rs: bool) -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "[a-z0-9 ]{0,8}",
        1 => Just("probe".to_owned()),
        5 => vec(interesting_char(), 0..24).prop_map(String::from_iter),
    ]
    .prop_map(move |s| if allow_rs { s } else { s.replace('\u{1e}', "") })
}

fn bytes() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        3 => vec(any::<u8>(), 0..40),
        1 => vec(proptest::sample::select(vec![0u8, 4, 0x1e, 0xff, b'b', b':']), 0..8),
    ]
    .prop_map(Bytes::from)
}

fn open_packet(allow_rs: bool) -> impl Strategy<Value = OpenPacket> {
    (
        prop_oneof!["[A-Za-z0-9_-]{20}", text(allow_rs)],
        vec(
            prop_oneof![Just("websocket".to_owned()), text(allow_rs)],
            0..3,
        ),
        any::<u64>(),
        prop_oneof![Just(20000u64), any::<u64>()],
        proptest::option::of(any::<u64>()),
    )
        .prop_map(
            |(sid, upgrades, ping_interval, ping_timeout, max_payload)| OpenPacket {
                sid: sid.into(),
                upgrades: upgrades.into_iter().map(Str::from).collect(),
                ping_interval,
                ping_timeout,
                max_payload,
            },
        )
}

/// Any packet; text without `\x1e` unless `allow_rs` (a v4 payload cannot frame it).
fn packet(allow_rs: bool) -> impl Strategy<Value = Packet> {
    prop_oneof![
        1 => open_packet(allow_rs).prop_map(Packet::Open),
        1 => Just(Packet::Close),
        1 => text(allow_rs).prop_map(|s| Packet::Ping(s.into())),
        1 => text(allow_rs).prop_map(|s| Packet::Pong(s.into())),
        5 => text(allow_rs).prop_map(|s| Packet::Message(s.into())),
        3 => bytes().prop_map(Packet::Binary),
        1 => Just(Packet::Upgrade),
        1 => Just(Packet::Noop),
    ]
}

/// A packet, and data that JavaScript may send after `close` / `upgrade` / `noop` (ignored).
fn packet_with_junk(allow_rs: bool) -> impl Strategy<Value = (Packet, Option<String>)> {
    (
        packet(allow_rs),
        proptest::option::weighted(
            0.2,
            text(allow_rs).prop_filter("non-empty", |s| !s.is_empty()),
        ),
    )
        .prop_map(|(p, junk)| {
            let junk = junk.filter(|_| matches!(p, Packet::Close | Packet::Upgrade | Packet::Noop));
            (p, junk)
        })
}

/// `js_packet(p)` plus the junk data.
fn js_packet_with_junk(p: &Packet, junk: &Option<String>) -> Json {
    let mut j = js_packet(p);
    if let Some(junk) = junk {
        j["data"] = json!(junk);
    }
    j
}

// ---------------------------------------------------------------------------
// Mutations (for the rejection tests)

/// One edit of a sequence.
#[derive(Debug, Clone)]
enum Edit<T> {
    Delete(Index),
    Insert(Index, T),
    Replace(Index, T),
    Truncate(Index),
    Duplicate(Index, Index),
    Swap(Index, Index),
}

fn edit<T: Debug + Clone>(
    item: impl Strategy<Value = T> + Clone,
) -> impl Strategy<Value = Edit<T>> {
    prop_oneof![
        2 => any::<Index>().prop_map(Edit::Delete),
        3 => (any::<Index>(), item.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
        3 => (any::<Index>(), item).prop_map(|(i, c)| Edit::Replace(i, c)),
        1 => any::<Index>().prop_map(Edit::Truncate),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Duplicate(a, b)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Swap(a, b)),
    ]
}

fn apply<T: Clone>(items: &mut Vec<T>, edits: &[Edit<T>]) {
    for e in edits {
        let n = items.len();
        match e {
            Edit::Delete(i) if n > 0 => {
                items.remove(i.index(n));
            }
            Edit::Insert(i, c) => items.insert(i.index(n + 1), c.clone()),
            Edit::Replace(i, c) if n > 0 => items[i.index(n)] = c.clone(),
            Edit::Truncate(i) => items.truncate(i.index(n + 1)),
            Edit::Duplicate(a, b) if n > 0 => {
                let (a, b) = (a.index(n), b.index(n));
                let (lo, hi) = (a.min(b), a.max(b) + 1);
                let copy: Vec<T> = items[lo..hi].to_vec();
                items.splice(hi..hi, copy);
            }
            Edit::Swap(a, b) if n > 0 => items.swap(a.index(n), b.index(n)),
            _ => {}
        }
    }
}

fn mutate_str(s: &str, edits: &[Edit<char>]) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    apply(&mut chars, edits);
    chars.into_iter().collect()
}

fn mutate_bytes(b: &[u8], edits: &[Edit<u8>]) -> Vec<u8> {
    let mut bytes = b.to_vec();
    apply(&mut bytes, edits);
    bytes
}

fn char_edits() -> impl Strategy<Value = Vec<Edit<char>>> {
    let c = prop_oneof![
        3 => proptest::sample::select(vec![
            '0', '1', '2', '3', '4', '5', '6', '7', '9', 'b', ':', '\u{1e}', '=', 'A', '/', '+',
            '-', '😀', 'é', '{', '}', '"', ' ', 'e', 'x',
        ]),
        1 => any::<char>(),
    ];
    vec(edit(c), 1..4)
}

fn byte_edits() -> impl Strategy<Value = Vec<Edit<u8>>> {
    let b = prop_oneof![
        3 => proptest::sample::select(vec![0u8, 1, 2, 3, 4, 5, 9, 10, 12, 0xff, b'4', b'b', 0xc3, 0xe2, 0xf0, 0x80]),
        1 => any::<u8>(),
    ];
    vec(edit(b), 1..4)
}

/// The differential rule for one rejection-test input: `js` is what JavaScript decoded (or
/// its error), `rust` what Rust decoded; `expected` maps JavaScript's result to the Rust
/// value (`None`: Rust cannot represent it, so Rust must reject).
fn check_rejection<T: PartialEq + Debug>(
    counts: &Counts,
    input: &dyn Debug,
    js: &Result<Json, String>,
    rust: &Result<T, String>,
    expected: impl FnOnce(&Json) -> Option<T>,
) -> Result<(), TestCaseError> {
    match (js, rust) {
        (Err(e), _) if e.starts_with("unrepresentable:") => add(&counts.unrepresentable),
        (Err(e), Ok(r)) => {
            return Err(TestCaseError::fail(format!(
                "JavaScript rejects {input:?} ({e}), Rust accepts it as {r:?}"
            )));
        }
        (Err(_), Err(_)) => add(&counts.both_rejected),
        (Ok(j), Ok(r)) => match expected(j) {
            Some(e) => check_eq(r, &e, || format!("both accept {input:?}: JavaScript {j}"))?,
            None => {
                return Err(TestCaseError::fail(format!(
                    "Rust accepts {input:?} as {r:?}, JavaScript decodes {j}, which Rust cannot represent"
                )));
            }
        },
        (Ok(_), Err(_)) => add(&counts.rust_stricter),
    }
    add(&counts.compared);
    Ok(())
}

// ---------------------------------------------------------------------------
// v4 packets

#[test]
fn v4_packets_rust_encode_js_decode() {
    run(
        "v4 packets, Rust -> JS",
        vec(packet(true), BATCH_SIZES),
        |counts, packets| {
            let mut requests = Vec::new();
            for p in &packets {
                requests.push((
                    "eio4.decodePacket",
                    json!({"data": frame_json(&p.to_frame(V4))}),
                ));
                requests.push((
                    "eio4.decodePacket",
                    json!({"data": p.to_text(V4).to_string()}),
                ));
            }
            let answers = NodePeer::call_batch(&requests);
            for (p, answers) in packets.iter().zip(answers.chunks(2)) {
                let expected = js_packet(p);
                let frame = js_ok(&answers[0], || format!("frame of {p:?}"))?;
                check_eq(&frame, &expected, || {
                    format!("JS decoding the frame of {p:?}")
                })?;
                let text = js_ok(&answers[1], || format!("text of {p:?}"))?;
                check_eq(&text, &expected, || {
                    format!("JS decoding the text of {p:?}")
                })?;
                add(&counts.compared);
            }
            Ok(())
        },
    );
}

#[test]
fn v4_packets_js_encode_rust_decode() {
    run(
        "v4 packets, JS -> Rust",
        vec(packet_with_junk(true), BATCH_SIZES),
        |counts, packets| {
            let mut requests = Vec::new();
            for (p, junk) in &packets {
                let packet = js_packet_with_junk(p, junk);
                requests.push((
                    "eio4.encodePacket",
                    json!({"packet": packet, "supportsBinary": true}),
                ));
                requests.push((
                    "eio4.encodePacket",
                    json!({"packet": packet, "supportsBinary": false}),
                ));
            }
            let answers = NodePeer::call_batch(&requests);
            for ((p, junk), answers) in packets.iter().zip(answers.chunks(2)) {
                let frame = js_ok(&answers[0], || format!("encoding {p:?}"))?;
                let text = js_ok(&answers[1], || format!("encoding {p:?} as text"))?;
                let frame = frame_from_json(&frame).expect("a frame");
                let Some(Json::String(text)) = Some(text) else {
                    return Err(TestCaseError::fail(format!("{p:?}: not a string")));
                };
                if junk.is_none() {
                    // Byte-identical encodings.
                    check_eq(&frame, &p.to_frame(V4), || format!("frame of {p:?}"))?;
                    check_eq(&text.as_str(), &p.to_text(V4).as_str(), || {
                        format!("text of {p:?}")
                    })?;
                }
                check_eq(
                    &reasons(Packet::from_frame(frame.clone(), V4)),
                    &Ok(p.clone()),
                    || format!("Rust decoding JS frame {frame:?} (junk {junk:?})"),
                )?;
                check_eq(
                    &reasons(Packet::decode_text(Str::from(text.clone()), V4)),
                    &Ok(p.clone()),
                    || format!("Rust decoding JS text {text:?}"),
                )?;
                add(&counts.compared);
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// v4 payloads

fn payload_case(
    allow_empty: bool,
) -> impl Strategy<Value = (Vec<(Packet, Option<String>)>, usize)> {
    (
        vec(packet_with_junk(false), usize::from(!allow_empty)..8),
        1usize..40,
    )
}

#[test]
fn v4_payloads_both_ways() {
    run(
        "v4 payloads",
        vec(payload_case(false), BATCH_SIZES),
        |counts, cases| {
            let mut requests = Vec::new();
            for (packets, _) in &cases {
                let rust: Vec<Packet> = packets.iter().map(|(p, _)| p.clone()).collect();
                let body = PayloadEncoder::encode(&rust, PayloadFormat::V4);
                requests.push((
                    "eio4.decodePayload",
                    json!({"data": body_json(&body, PayloadFormat::V4)}),
                ));
                let js: Vec<Json> = packets
                    .iter()
                    .map(|(p, j)| js_packet_with_junk(p, j))
                    .collect();
                requests.push(("eio4.encodePayload", json!({"packets": js})));
            }
            let answers = NodePeer::call_batch(&requests);
            for ((packets, chunk), answers) in cases.iter().zip(answers.chunks(2)) {
                let rust: Vec<Packet> = packets.iter().map(|(p, _)| p.clone()).collect();
                let ours = PayloadEncoder::encode(&rust, PayloadFormat::V4);
                // Rust -> JS.
                let decoded = js_ok(&answers[0], || format!("decoding {ours:?}"))?;
                let expected: Vec<Json> = rust.iter().map(js_packet).collect();
                check_eq(&decoded, &Json::Array(expected), || {
                    format!("JS decoding {ours:?}")
                })?;
                // JS -> Rust.
                let theirs = js_ok(&answers[1], || format!("encoding {packets:?}"))?;
                let theirs = body_from_json(&theirs).expect("a body");
                if packets.iter().all(|(_, junk)| junk.is_none()) {
                    check_eq(&theirs, &ours, || format!("bodies of {rust:?}"))?;
                }
                check_eq(
                    &reasons(PayloadDecoder::decode_all(
                        theirs.clone(),
                        PayloadFormat::V4,
                        MAX_PAYLOAD,
                    )),
                    &Ok(rust.clone()),
                    || format!("Rust decoding JS body {theirs:?}"),
                )?;
                check_eq(
                    &decode_chunked(&theirs, PayloadFormat::V4, *chunk),
                    &Ok(rust.clone()),
                    || format!("Rust decoding JS body {theirs:?} in chunks of {chunk}"),
                )?;
                add(&counts.compared);
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// v3 packets

#[test]
fn v3_packets_both_ways() {
    run(
        "v3 packets",
        vec(packet_with_junk(true), BATCH_SIZES),
        |counts, packets| {
            let mut requests = Vec::new();
            for (p, junk) in &packets {
                requests.push((
                    "eio3.decodePacket",
                    json!({"data": frame_json(&p.to_frame(V3))}),
                ));
                requests.push((
                    "eio3.decodePacket",
                    json!({"data": p.to_text(V3).to_string()}),
                ));
                let packet = js_packet_with_junk(p, junk);
                requests.push((
                    "eio3.encodePacket",
                    json!({"packet": packet, "supportsBinary": true}),
                ));
                requests.push((
                    "eio3.encodePacket",
                    json!({"packet": packet, "supportsBinary": false}),
                ));
            }
            let answers = NodePeer::call_batch(&requests);
            for ((p, junk), answers) in packets.iter().zip(answers.chunks(4)) {
                let expected = js_packet(p);
                let frame = js_ok(&answers[0], || format!("frame of {p:?}"))?;
                check_eq(&frame, &expected, || {
                    format!("JS decoding the v3 frame of {p:?}")
                })?;
                let text = js_ok(&answers[1], || format!("text of {p:?}"))?;
                check_eq(&text, &expected, || {
                    format!("JS decoding the v3 text of {p:?}")
                })?;

                let frame = js_ok(&answers[2], || format!("encoding {p:?}"))?;
                let frame = frame_from_json(&frame).expect("a frame");
                let text = js_ok(&answers[3], || format!("encoding {p:?} as text"))?;
                let text = text.as_str().expect("a string").to_owned();
                if junk.is_none() {
                    check_eq(&frame, &p.to_frame(V3), || format!("v3 frame of {p:?}"))?;
                    check_eq(&text.as_str(), &p.to_text(V3).as_str(), || {
                        format!("v3 text of {p:?}")
                    })?;
                }
                check_eq(
                    &reasons(Packet::from_frame(frame.clone(), V3)),
                    &Ok(p.clone()),
                    || format!("Rust decoding JS v3 frame {frame:?}"),
                )?;
                check_eq(
                    &reasons(Packet::decode_text(Str::from(text.clone()), V3)),
                    &Ok(p.clone()),
                    || format!("Rust decoding JS v3 text {text:?}"),
                )?;
                add(&counts.compared);
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// v3 payloads

#[test]
fn v3_string_payloads_both_ways() {
    run(
        "v3 string payloads",
        vec(payload_case(true), BATCH_SIZES),
        |counts, cases| {
            let mut requests = Vec::new();
            for (packets, _) in &cases {
                let rust: Vec<Packet> = packets.iter().map(|(p, _)| p.clone()).collect();
                let body = PayloadEncoder::encode(&rust, PayloadFormat::V3String);
                requests.push((
                    "eio3.decodePayload",
                    json!({"data": body_json(&body, PayloadFormat::V3String)}),
                ));
                let js: Vec<Json> = packets
                    .iter()
                    .map(|(p, j)| js_packet_with_junk(p, j))
                    .collect();
                requests.push((
                    "eio3.encodePayload",
                    json!({"packets": js, "supportsBinary": false}),
                ));
            }
            let answers = NodePeer::call_batch(&requests);
            for ((packets, chunk), answers) in cases.iter().zip(answers.chunks(2)) {
                let rust: Vec<Packet> = packets.iter().map(|(p, _)| p.clone()).collect();
                let ours = PayloadEncoder::encode(&rust, PayloadFormat::V3String);
                let decoded = js_ok(&answers[0], || format!("decoding {ours:?}"))?;
                let expected: Vec<Json> = rust.iter().map(js_packet).collect();
                check_eq(&decoded, &Json::Array(expected), || {
                    format!("JS decoding {ours:?}")
                })?;
                let theirs = js_ok(&answers[1], || format!("encoding {packets:?}"))?;
                let theirs = body_from_json(&theirs).expect("a body");
                if packets.iter().all(|(_, junk)| junk.is_none()) {
                    check_eq(&theirs, &ours, || format!("v3 string bodies of {rust:?}"))?;
                }
                check_eq(
                    &reasons(PayloadDecoder::decode_all(
                        theirs.clone(),
                        PayloadFormat::V3String,
                        MAX_PAYLOAD,
                    )),
                    &Ok(rust.clone()),
                    || format!("Rust decoding JS v3 body {theirs:?}"),
                )?;
                check_eq(
                    &decode_chunked(&theirs, PayloadFormat::V3String, *chunk),
                    &Ok(rust.clone()),
                    || format!("Rust decoding JS v3 body {theirs:?} in chunks of {chunk}"),
                )?;
                add(&counts.compared);
            }
            Ok(())
        },
    );
}

#[test]
fn v3_binary_payloads_both_ways() {
    run(
        "v3 XHR2 payloads",
        vec(payload_case(true), BATCH_SIZES),
        |counts, cases| {
            let mut requests = Vec::new();
            for (packets, _) in &cases {
                let rust: Vec<Packet> = packets.iter().map(|(p, _)| p.clone()).collect();
                let body = PayloadEncoder::encode(&rust, PayloadFormat::V3Binary);
                requests.push(("eio3.decodePayloadAsBinary", json!({"data": bin(&body)})));
                let js: Vec<Json> = packets
                    .iter()
                    .map(|(p, j)| js_packet_with_junk(p, j))
                    .collect();
                requests.push(("eio3.encodePayloadAsBinary", json!({"packets": js})));
                // What engine.io answers a poll with when the client did not ask for base64.
                requests.push((
                    "eio3.encodePayload",
                    json!({"packets": js, "supportsBinary": true}),
                ));
            }
            let answers = NodePeer::call_batch(&requests);
            for ((packets, chunk), answers) in cases.iter().zip(answers.chunks(3)) {
                let rust: Vec<Packet> = packets.iter().map(|(p, _)| p.clone()).collect();
                let ours = PayloadEncoder::encode(&rust, PayloadFormat::V3Binary);
                let decoded = js_ok(&answers[0], || format!("decoding {ours:?}"))?;
                let expected: Vec<Json> = rust.iter().map(js_packet).collect();
                check_eq(&decoded, &Json::Array(expected), || {
                    format!("JS decoding XHR2 {ours:?}")
                })?;
                let theirs = js_ok(&answers[1], || format!("encoding {packets:?}"))?;
                let theirs = as_bin(&theirs).map(Bytes::from).expect("binary");
                let chosen = js_ok(&answers[2], || format!("encoding {packets:?}"))?;
                let has_binary = rust.iter().any(Packet::is_binary);
                let format = PayloadFormat::for_request(V3, false, has_binary);
                if packets.iter().all(|(_, junk)| junk.is_none()) {
                    check_eq(&theirs, &ours, || format!("XHR2 bodies of {rust:?}"))?;
                    check_eq(
                        &chosen,
                        &body_json(&PayloadEncoder::encode(&rust, format), format),
                        || format!("the body engine.io chooses for {rust:?} ({format:?})"),
                    )?;
                }
                check_eq(
                    &reasons(PayloadDecoder::decode_all(
                        theirs.clone(),
                        PayloadFormat::V3Binary,
                        MAX_PAYLOAD,
                    )),
                    &Ok(rust.clone()),
                    || format!("Rust decoding JS XHR2 body {theirs:?}"),
                )?;
                check_eq(
                    &decode_chunked(&theirs, PayloadFormat::V3Binary, *chunk),
                    &Ok(rust.clone()),
                    || format!("Rust decoding JS XHR2 body {theirs:?} in chunks of {chunk}"),
                )?;
                add(&counts.compared);
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// Rejections

/// A text input: random, or a valid encoding mutated.
fn text_input(valid: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    prop_oneof![
        1 => vec(interesting_char(), 0..16).prop_map(String::from_iter),
        1 => (proptest::sample::select(vec!['0', '1', '2', '3', '4', '5', '6', '7', 'b', 'x', '9']),
              "[A-Za-z0-9+/=_ -]{0,12}")
            .prop_map(|(c, s)| format!("{c}{s}")),
        4 => (valid, char_edits()).prop_map(|(s, e)| mutate_str(&s, &e)),
    ]
}

fn bytes_input(valid: impl Strategy<Value = Bytes>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => vec(any::<u8>(), 0..16),
        4 => (valid, byte_edits()).prop_map(|(b, e)| mutate_bytes(&b, &e)),
    ]
}

fn rust_packet_result(r: Result<Packet, sio_protocol::Error>) -> Result<Packet, String> {
    r.map_err(|e| e.to_string())
}

#[test]
fn packet_rejections() {
    #[derive(Debug, Clone)]
    enum Input {
        V4Text(String),
        V3Text(String),
        V3Binary(Vec<u8>),
    }
    let input = prop_oneof![
        2 => text_input(packet(true).prop_map(|p| p.to_text(V4).to_string())).prop_map(Input::V4Text),
        2 => text_input(packet(true).prop_map(|p| p.to_text(V3).to_string())).prop_map(Input::V3Text),
        1 => bytes_input(packet(true).prop_map(|p| match p.to_frame(V3) {
            Frame::Binary(b) => b,
            Frame::Text(t) => t.into_bytes(),
        }))
        .prop_map(Input::V3Binary),
    ];
    run(
        "packet rejections",
        vec(input, BATCH_SIZES),
        |counts, inputs| {
            let requests: Vec<(&str, Json)> = inputs
                .iter()
                .map(|i| match i {
                    Input::V4Text(s) => ("eio4.decodePacket", json!({"data": s})),
                    Input::V3Text(s) => ("eio3.decodePacket", json!({"data": s})),
                    Input::V3Binary(b) => ("eio3.decodePacket", json!({"data": bin(b)})),
                })
                .collect();
            let answers = NodePeer::call_batch(&requests);
            for (input, js) in inputs.iter().zip(&answers) {
                let rust = match input {
                    Input::V4Text(s) => Packet::decode_text(Str::from(s.clone()), V4),
                    Input::V3Text(s) => Packet::decode_text(Str::from(s.clone()), V3),
                    Input::V3Binary(b) => {
                        Packet::from_frame(Frame::Binary(Bytes::from(b.clone())), V3)
                    }
                };
                check_rejection(counts, input, js, &rust_packet_result(rust), rust_packet)?;
            }
            Ok(())
        },
    );
}

#[test]
fn payload_rejections() {
    #[derive(Debug, Clone)]
    enum Input {
        V4(String),
        V3String(String),
        V3Binary(Vec<u8>),
    }
    let valid =
        |format| vec(packet(false), 0..5).prop_map(move |ps| PayloadEncoder::encode(&ps, format));
    let as_string = |b: Bytes| String::from_utf8(b.to_vec()).expect("UTF-8");
    let input = prop_oneof![
        1 => text_input(valid(PayloadFormat::V4).prop_map(as_string)).prop_map(Input::V4),
        2 => text_input(valid(PayloadFormat::V3String).prop_map(as_string)).prop_map(Input::V3String),
        2 => bytes_input(valid(PayloadFormat::V3Binary)).prop_map(Input::V3Binary),
    ];
    run(
        "payload rejections",
        vec(input, BATCH_SIZES),
        |counts, inputs| {
            let requests: Vec<(&str, Json)> = inputs
                .iter()
                .map(|i| match i {
                    Input::V4(s) => ("eio4.decodePayload", json!({"data": s})),
                    Input::V3String(s) => ("eio3.decodePayload", json!({"data": s})),
                    Input::V3Binary(b) => ("eio3.decodePayloadAsBinary", json!({"data": bin(b)})),
                })
                .collect();
            let answers = NodePeer::call_batch(&requests);
            for (input, js) in inputs.iter().zip(&answers) {
                let (body, format) = match input {
                    Input::V4(s) => (Bytes::from(s.clone()), PayloadFormat::V4),
                    Input::V3String(s) => (Bytes::from(s.clone()), PayloadFormat::V3String),
                    Input::V3Binary(b) => (Bytes::from(b.clone()), PayloadFormat::V3Binary),
                };
                let rust = PayloadDecoder::decode_all(body.clone(), format, MAX_PAYLOAD)
                    .map_err(|e| e.to_string());
                // Pushed in small chunks, the decoder must say the same.
                let chunked = decode_chunked(&body, format, 3);
                check_eq(&chunked.is_ok(), &rust.is_ok(), || {
                    format!("{input:?} decoded whole ({rust:?}) and in chunks ({chunked:?})")
                })?;
                check_rejection(counts, input, js, &rust, rust_packets)?;
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------
// Invalid UTF-8 in polling bodies

/// Bytes that make UTF-8 go wrong: stray continuation bytes, bytes never valid (C0, C1,
/// F5-FF), leads without (enough) continuations, overlongs, encoded surrogates, code points
/// above U+10FFFF, astral sequences cut short; and a few valid ones. Never `\x1e`.
fn utf8_junk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(
            proptest::sample::select(vec![
                0x80u8, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed,
                0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xf8, 0xfe, 0xff, b'a', b':', b'1',
            ]),
            1..6,
        ),
        2 => proptest::sample::select(vec![
            vec![0xed, 0xa0, 0x80],
            vec![0xed, 0xbf, 0xbf],
            vec![0xed, 0xa0, 0x80, 0xed, 0xb0, 0x80],
            vec![0xe2, 0x82],
            vec![0xf0, 0x9f, 0x98],
            vec![0xc0, 0x80],
            vec![0xe0, 0x80, 0x80],
            vec![0xf0, 0x80, 0x80, 0x80],
            vec![0xf4, 0x90, 0x80, 0x80],
            vec![0xef, 0xbf, 0xbd],
            vec![0xf0, 0x9f, 0x98, 0x80],
            vec![0xe2, 0x82, 0xac],
        ]),
        1 => vec(any::<u8>().prop_filter("not the separator", |b| *b != 0x1e), 1..8),
    ]
}

/// A text record (type digit, then text) with junk bytes inserted at arbitrary byte positions
/// after the type digit (inside multi-byte characters too, cutting them).
fn junk_record() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::sample::select(vec![b'2', b'3', b'4']),
        text(false),
        vec((any::<Index>(), utf8_junk()), 0..4),
    )
        .prop_map(|(kind, text, junk)| {
            let mut bytes = text.into_bytes();
            for (at, junk) in junk {
                let at = at.index(bytes.len() + 1);
                bytes.splice(at..at, junk);
            }
            bytes.insert(0, kind);
            bytes
        })
}

/// The UTF-16 length of the text Node reads from `bytes`: what a v3 length must count.
fn node_units(bytes: &[u8]) -> usize {
    String::from_utf8_lossy(bytes).encode_utf16().count()
}

/// A body with invalid UTF-8: records with junk mixed with valid packets, framed for `format`
/// (v3 lengths count the UTF-16 units of the decoded text, XHR2 lengths bytes).
fn junk_body(format: PayloadFormat) -> impl Strategy<Value = Vec<u8>> {
    let record = prop_oneof![
        3 => junk_record(),
        1 => packet(false).prop_map(move |p| match format {
            PayloadFormat::V3Binary => match p.to_frame(V3) {
                Frame::Text(t) => t.into_bytes().to_vec(),
                Frame::Binary(_) => b"6".to_vec(),
            },
            _ => p.to_text(format.version()).as_bytes().to_vec(),
        }),
    ];
    vec(record, 1..5).prop_map(move |records| {
        let mut body = Vec::new();
        for (i, r) in records.iter().enumerate() {
            match format {
                PayloadFormat::V4 => {
                    if i > 0 {
                        body.push(0x1e);
                    }
                    body.extend_from_slice(r);
                }
                PayloadFormat::V3String => {
                    body.extend_from_slice(format!("{}:", node_units(r)).as_bytes());
                    body.extend_from_slice(r);
                }
                PayloadFormat::V3Binary => {
                    body.push(0);
                    body.extend(r.len().to_string().bytes().map(|d| d - b'0'));
                    body.push(0xff);
                    body.extend_from_slice(r);
                }
            }
        }
        body
    })
}

/// Decodes `body` as engine.io does (`eio4.decodeBody` / `eio3.decodeBody`, or
/// `decodePayloadAsBinary` for XHR2) and compares with Rust, whole and in chunks of `chunk`.
/// Returns whether JavaScript accepted it, and whether Rust did.
fn check_body(
    counts: &Counts,
    body: &[u8],
    format: PayloadFormat,
    chunk: usize,
    js: &Result<Json, String>,
) -> Result<(bool, bool), TestCaseError> {
    let bytes = Bytes::copy_from_slice(body);
    let whole =
        PayloadDecoder::decode_all(bytes.clone(), format, MAX_PAYLOAD).map_err(|e| e.to_string());
    check_eq(&decode_chunked(&bytes, format, chunk), &whole, || {
        format!("{format:?} {body:x?} whole and in chunks of {chunk}")
    })?;
    check_rejection(counts, &(format, body), js, &whole, rust_packets)?;
    Ok((js.is_ok(), whole.is_ok()))
}

fn body_request(body: &[u8], format: PayloadFormat) -> (&'static str, Json) {
    match format {
        PayloadFormat::V4 => ("eio4.decodeBody", json!({"data": bin(body)})),
        PayloadFormat::V3String => ("eio3.decodeBody", json!({"data": bin(body)})),
        PayloadFormat::V3Binary => ("eio3.decodePayloadAsBinary", json!({"data": bin(body)})),
    }
}

/// Bodies whose records hold invalid UTF-8, framed right: engine.io reads them (U+FFFD), and
/// so must we, to the same packets (for v4 and v3 string bodies, whatever the junk; XHR2 text
/// records follow parser-v3's own decoder, which refuses most invalid sequences: then both
/// refuse). Rust may refuse only where it is documented stricter (a v3 length ending inside an
/// astral character), which these bodies avoid.
#[test]
fn invalid_utf8_bodies() {
    let format = proptest::sample::select(vec![
        PayloadFormat::V4,
        PayloadFormat::V3String,
        PayloadFormat::V3Binary,
    ]);
    let case = format.prop_flat_map(|f| (Just(f), junk_body(f), 1usize..24));
    let accepted = Cell::new(0usize);
    run(
        "bodies with invalid UTF-8",
        vec(case, BATCH_SIZES),
        |counts, cases| {
            let requests: Vec<(&str, Json)> = cases
                .iter()
                .map(|(format, body, _)| body_request(body, *format))
                .collect();
            let answers = NodePeer::call_batch(&requests);
            for ((format, body, chunk), js) in cases.iter().zip(&answers) {
                let (js_accepts, rust_accepts) = check_body(counts, body, *format, *chunk, js)?;
                if js_accepts && rust_accepts {
                    add(&accepted);
                }
                if *format != PayloadFormat::V3Binary {
                    // Text bodies: JavaScript accepts them all, and so must we.
                    js_ok(js, || format!("{format:?} {body:x?}"))?;
                    check_eq(&rust_accepts, &true, || {
                        format!("Rust refused {format:?} {body:x?}, which JavaScript accepts")
                    })?;
                }
            }
            Ok(())
        },
    );
    eprintln!(
        "bodies with invalid UTF-8: {} accepted by both",
        accepted.get()
    );
}

/// Valid bodies with bytes edited anywhere (lengths, separators, base64, JSON included):
/// whatever engine.io refuses, Rust refuses; what both accept decodes the same, whole and in
/// chunks.
#[test]
fn invalid_utf8_body_rejections() {
    let format = proptest::sample::select(vec![
        PayloadFormat::V4,
        PayloadFormat::V3String,
        PayloadFormat::V3Binary,
    ]);
    let case = format.prop_flat_map(|f| {
        let valid = vec(packet(false), 1..5).prop_map(move |ps| PayloadEncoder::encode(&ps, f));
        let junk = junk_body(f).prop_map(Bytes::from);
        let byte = prop_oneof![
            3 => proptest::sample::select(vec![
                0x80u8, 0xa0, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xf0, 0xf4, 0xf5, 0xff, 0x1e, b':',
                b'1', b'4', 0, 255,
            ]),
            1 => any::<u8>(),
        ];
        let edits = vec(edit(byte), 1..4);
        (
            Just(f),
            (prop_oneof![valid, junk], edits).prop_map(|(b, e)| mutate_bytes(&b, &e)),
            1usize..24,
        )
    });
    run(
        "bodies with invalid UTF-8, edited",
        vec(case, BATCH_SIZES),
        |counts, cases| {
            let requests: Vec<(&str, Json)> = cases
                .iter()
                .map(|(format, body, _)| body_request(body, *format))
                .collect();
            let answers = NodePeer::call_batch(&requests);
            for ((format, body, chunk), js) in cases.iter().zip(&answers) {
                check_body(counts, body, *format, *chunk, js)?;
            }
            Ok(())
        },
    );
}

/// Node's UTF-8 decoding and ours, sequence by sequence: every lead byte (0x80-0xFF) followed
/// by two bytes from a set that covers each boundary of the WHATWG decoder (ASCII, the edges of
/// the continuation ranges, never-valid bytes), and every 4-byte lead (F0-F4) with three. Each
/// is a v4 body (`4<bytes>\x1e6`) and a v3 string body whose length counts the units of the
/// decoded text: Node's `Buffer#toString()` and Rust's `String::from_utf8_lossy` (hence our
/// decoder) must give the same text.
#[test]
fn utf8_replacement_matches_node_everywhere() {
    let tails = [
        0x41u8, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xe0, 0xf0, 0xff,
    ];
    let mut sequences = Vec::new();
    for lead in 0x80u8..=0xff {
        for &a in &tails {
            for &b in &tails {
                sequences.push(vec![lead, a, b]);
                if (0xf0..=0xf4).contains(&lead) {
                    for &c in &tails {
                        sequences.push(vec![lead, a, b, c]);
                    }
                }
            }
        }
    }
    let mut compared = 0;
    for batch in sequences.chunks(2048) {
        let mut requests = Vec::new();
        let mut bodies = Vec::new();
        for seq in batch {
            let mut v4 = vec![b'4'];
            v4.extend_from_slice(seq);
            v4.extend_from_slice(b"\x1e6");
            let mut v3 = format!("{}:4", 1 + node_units(seq)).into_bytes();
            v3.extend_from_slice(seq);
            v3.extend_from_slice(b"1:6");
            requests.push(body_request(&v4, PayloadFormat::V4));
            requests.push(body_request(&v3, PayloadFormat::V3String));
            bodies.push((seq, v4, v3));
        }
        let answers = NodePeer::call_batch(&requests);
        for ((seq, v4, v3), answers) in bodies.iter().zip(answers.chunks(2)) {
            let text = String::from_utf8_lossy(seq);
            let expected = json!([{"type": "message", "data": text}, {"type": "noop"}]);
            let want = rust_packets(&expected).expect("representable");
            for (body, format, js) in [
                (v4, PayloadFormat::V4, &answers[0]),
                (v3, PayloadFormat::V3String, &answers[1]),
            ] {
                assert_eq!(
                    js.as_ref(),
                    Ok(&expected),
                    "Node reading {format:?} {seq:x?}"
                );
                let rust =
                    PayloadDecoder::decode_all(Bytes::from(body.clone()), format, MAX_PAYLOAD);
                assert_eq!(
                    rust.as_ref().ok(),
                    Some(&want),
                    "Rust reading {format:?} {seq:x?}"
                );
                compared += 1;
            }
        }
    }
    eprintln!("UTF-8 replacement: {compared} bodies read the same by Node and Rust");
}
