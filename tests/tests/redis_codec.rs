//! Differential tests of sio-redis' codecs against the real notepack.io 3.0.1 (the one
//! `@socket.io/redis-adapter` 8.3 loads) and `JSON`, through `tests/js/redis-codec.js`.
//!
//! - Rust encodes, notepack.io decodes: the same value.
//! - Same input, both encode: the same bytes (numbers in JavaScript's exact range).
//! - notepack.io encodes (with `undefined`, `Date`, NaN and ±Infinity, which Rust cannot
//!   write), Rust decodes: what a Node.js server would pass on.
//! - Hand-made inputs notepack.io reads but does not write (the legacy `d4 00 00`, timestamp
//!   exts, float 32, other exts).
//! - Garbage (random bytes, mutated encodings): whatever notepack.io rejects, Rust rejects;
//!   where both accept, they read the same value.
//! - JSON: the same text as `JSON.stringify`, the same value as `JSON.parse`.
//!
//! Cases come from proptest strategies with a fixed seed (`TestRunner::deterministic`);
//! `SIO_DIFF_CASES` changes how many.

mod redis_support;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use redis_support::NodeProcess;
use serde_json::{Value as Json, json};
use sio_protocol::{Map, Value};
use sio_redis::format::{self, msgpack};

fn cases(default: usize) -> usize {
    std::env::var("SIO_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn generate<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

fn peer() -> NodeProcess {
    let mut node = NodeProcess::spawn("redis-codec.js", &[]);
    assert_eq!(node.call("ping", json!({})).unwrap(), json!("pong"));
    node
}

fn bin(bytes: &[u8]) -> Json {
    json!({"$bin": STANDARD.encode(bytes)})
}

fn as_bin(json: &Json) -> Vec<u8> {
    STANDARD
        .decode(json["$bin"].as_str().expect("$bin"))
        .unwrap()
}

/// A value as the JavaScript side reads it in arguments (`$bin` for binary).
fn to_js(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Number(n) => Json::Number(n.clone()),
        Value::String(s) => json!(s),
        Value::Binary(b) => bin(b),
        Value::Array(items) => Json::Array(items.iter().map(to_js).collect()),
        Value::Object(map) => {
            Json::Object(map.iter().map(|(k, v)| (k.clone(), to_js(v))).collect())
        }
    }
}

/// [`to_js`] as JSON text, object keys in their order.
fn js_text(value: &Value) -> String {
    match value {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(js_text).collect::<Vec<_>>().join(",")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}:{}", json!(k), js_text(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => to_js(other).to_string(),
    }
}

/// Every number as an f64 (JavaScript has no other), for comparisons.
fn norm(json: Json) -> Json {
    match json {
        Json::Number(n) => json!(n.as_f64().unwrap()),
        Json::Array(items) => Json::Array(items.into_iter().map(norm).collect()),
        Json::Object(map) => Json::Object(map.into_iter().map(|(k, v)| (k, norm(v))).collect()),
        other => other,
    }
}

/// Keys JavaScript keeps in insertion order (an integer-like key would be moved first).
fn key() -> impl Strategy<Value = String> {
    "[a-z_A-Z$][a-zA-Z0-9_é😀 ]{0,8}"
}

fn number(exact: bool) -> BoxedStrategy<Value> {
    let safe = 9_007_199_254_740_991i64;
    let mut options = vec![
        (-40i64..200).prop_map(Value::from).boxed(),
        (-safe..=safe).prop_map(Value::from).boxed(),
        prop_oneof![
            Just(255i64),
            Just(256),
            Just(65535),
            Just(65536),
            Just(-32),
            Just(-33),
            Just(-128),
            Just(-129),
            Just(-32768),
            Just(-32769),
            Just(4294967295),
            Just(4294967296),
            Just(-2147483648),
            Just(-2147483649)
        ]
        .prop_map(Value::from)
        .boxed(),
        any::<f64>()
            // notepack.io writes integral floats of magnitude 2^63 or more as a wrong integer
            // (Rust as float 64, on purpose): no byte comparison for those.
            .prop_filter("finite", move |f| {
                f.is_finite() && !(exact && f.fract() == 0.0 && f.abs() >= 2f64.powi(63))
            })
            .prop_map(Value::from)
            .boxed(),
        prop_oneof![
            Just(-0.0f64),
            Just(0.5),
            Just(-1.5),
            Just(1e-7),
            Just(2f64.powi(53)),
            Just(-(2f64.powi(62)))
        ]
        .prop_map(Value::from)
        .boxed(),
    ];
    if !exact {
        options.push(
            prop_oneof![Just(1e21f64), Just(-1e300)]
                .prop_map(Value::from)
                .boxed(),
        );
        options.push(any::<u64>().prop_map(Value::from).boxed());
        options.push(any::<i64>().prop_map(Value::from).boxed());
    }
    proptest::strategy::Union::new(options).boxed()
}

fn value(exact: bool) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(exact),
        "\\PC{0,40}".prop_map(Value::from),
        "[a-z]{250,300}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| Value::Binary(Bytes::from(b))),
    ];
    leaf.prop_recursive(4, 64, 20, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..20)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map>())),
        ]
    })
}

#[test]
fn rust_encodes_notepack_decodes() {
    let mut node = peer();
    let values = generate(value(false), cases(2000));
    let requests: Vec<_> = values
        .iter()
        .map(|v| ("decode", json!({"data": bin(&msgpack::encode(v).unwrap())})))
        .collect();
    for (v, answer) in values.iter().zip(node.call_batch(&requests)) {
        let js = answer.unwrap_or_else(|e| panic!("notepack.io rejected {v:?}: {e}"));
        assert_eq!(norm(js), norm(to_js(v)), "{v:?}");
    }
    eprintln!("{} values compared", values.len());
}

#[test]
fn same_bytes_as_notepack() {
    let mut node = peer();
    let values = generate(value(true), cases(2000));
    let requests: Vec<_> = values
        .iter()
        .map(|v| ("encode", format!("{{\"value\":{}}}", js_text(v))))
        .collect();
    for (v, answer) in values.iter().zip(node.call_batch_raw(&requests)) {
        let js = as_bin(&answer.unwrap());
        assert_eq!(msgpack::encode(v).unwrap(), js, "{v:?}");
    }
}

/// Values only JavaScript can write: `undefined`, `Date`, non-finite numbers.
fn js_only() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(json!({"$undefined": true})),
        (-8_640_000_000_000_000i64..=8_640_000_000_000_000).prop_map(|ms| json!({"$date": ms})),
        (0i64..4_000_000_000_000).prop_map(|ms| json!({"$date": ms})),
        prop_oneof![Just("NaN"), Just("Infinity"), Just("-Infinity")]
            .prop_map(|f| json!({"$float": f})),
        "\\PC{0,10}".prop_map(Json::from),
        (-1000i64..1000).prop_map(Json::from),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(|b| bin(&b)),
    ];
    leaf.prop_recursive(3, 32, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Json::Array),
            proptest::collection::vec((key(), inner), 0..8)
                .prop_map(|e| Json::Object(e.into_iter().collect())),
        ]
    })
}

fn check_decodes_like_notepack(node: &mut NodeProcess, inputs: &[Vec<u8>]) -> (usize, usize) {
    let requests: Vec<_> = inputs
        .iter()
        .map(|b| ("decode", json!({"data": bin(b)})))
        .collect();
    let (mut both_rejected, mut stricter) = (0, 0);
    for (input, answer) in inputs.iter().zip(node.call_batch(&requests)) {
        let ours = msgpack::decode(&Bytes::copy_from_slice(input));
        match (answer, ours) {
            (Ok(js), Ok(ours)) => assert_eq!(norm(to_js(&ours)), norm(js), "{input:02x?}"),
            (Err(_), Err(_)) => both_rejected += 1,
            (Err(e), Ok(ours)) => {
                panic!("notepack.io rejects ({e}), Rust reads {ours:?}: {input:02x?}")
            }
            (Ok(js), Err(e)) => {
                // Documented: a non-string map key, a timestamp ext 8 not of 12 bytes,
                // nesting past MAX_DEPTH.
                let documented = e.is_decode()
                    && matches!(
                        e.to_string().as_str(),
                        "invalid msgpack: a map key that is not a string"
                            | "invalid msgpack: timestamp 96 of a wrong length"
                            | "invalid msgpack: nested too deeply"
                    );
                assert!(
                    documented,
                    "Rust rejects ({e}) what notepack.io reads as {js}: {input:02x?}"
                );
                stricter += 1;
            }
        }
    }
    (both_rejected, stricter)
}

#[test]
fn notepack_encodes_rust_decodes() {
    let mut node = peer();
    let inputs: Vec<Json> = generate(js_only(), cases(1500));
    let requests: Vec<_> = inputs
        .iter()
        .map(|v| ("encode", json!({"value": v})))
        .collect();
    let encoded: Vec<Vec<u8>> = node
        .call_batch(&requests)
        .into_iter()
        .map(|r| as_bin(&r.unwrap()))
        .collect();
    let (rejected, stricter) = check_decodes_like_notepack(&mut node, &encoded);
    assert_eq!((rejected, stricter), (0, 0));
}

#[test]
fn hand_made_inputs_notepack_reads() {
    let mut node = peer();
    let inputs: Vec<Vec<u8>> = vec![
        vec![0xd4, 0x00, 0x00],                                     // legacy undefined
        vec![0x92, 0xd4, 0x00, 0x00, 0xc0],                         // [undefined, null]
        vec![0x82, 0xa1, b'a', 0xd4, 0x00, 0x00, 0xa1, b'b', 0x01], // {a: undefined, b: 1}
        vec![0xd6, 0xff, 0x65, 0x00, 0x00, 0x00],                   // timestamp 32
        vec![0xd7, 0xff, 0x00, 0x00, 0x00, 0x04, 0x65, 0x00, 0x00, 0x00], // timestamp 64
        vec![0xd7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // timestamp 64, max
        vec![
            0xc7, 12, 0xff, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ], // ts 96
        vec![
            0xc7, 12, 0xff, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0,
        ], // invalid date
        vec![0xd7, 0x00, 0x00, 0x00, 0x01, 0x8f, 0x35, 0x6e, 0x7a, 0x00], // legacy date
        vec![0xca, 0x3f, 0xc0, 0x00, 0x00],                         // float 32: 1.5
        vec![0xca, 0x7f, 0x80, 0x00, 0x00],                         // float 32: Infinity
        vec![0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0],                   // NaN
        vec![0xd4, 0x05, 0x07],                                     // fixext 1 type 5
        vec![0xd5, 0xfe, 1, 2],                                     // fixext 2 type -2
        vec![
            0xd8, 0x01, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
        ], // fixext 16
        vec![0xc7, 3, 0x00, 1, 2, 3],                               // ext 8 type 0: ArrayBuffer
        vec![0xc8, 0, 2, 0x00, 1, 2],                               // ext 16 type 0
        vec![0xc9, 0, 0, 0, 1, 0x09, 7],                            // ext 32 type 9
        vec![0xc8, 0, 2, 0xff, 1, 2],                               // ext 16 type -1: no date
        vec![0xd9, 3, 0xff, b'a', 0xc3],                            // invalid UTF-8
        vec![0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // u64 max
        vec![0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0],                      // i64 min
        vec![0x82, 0xa1, b'a', 0x01, 0xa1, b'a', 0x02],             // a repeated key
        vec![0xde, 0, 1, 0xa0, 0xc0],                               // map 16, empty key
    ];
    let (rejected, stricter) = check_decodes_like_notepack(&mut node, &inputs);
    assert_eq!((rejected, stricter), (0, 0));
}

#[test]
fn garbage_is_rejected_where_notepack_rejects_it() {
    let mut node = peer();
    let values = generate(value(false), cases(800));
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    let mut runner = TestRunner::deterministic();
    for v in &values {
        let bytes = msgpack::encode(v).unwrap();
        let cut = (0usize..=bytes.len())
            .new_tree(&mut runner)
            .unwrap()
            .current();
        inputs.push(bytes[..cut].to_vec());
        let mut flipped = bytes.clone();
        let at = (0..flipped.len()).new_tree(&mut runner).unwrap().current();
        flipped[at] = any::<u8>().new_tree(&mut runner).unwrap().current();
        inputs.push(flipped);
        let mut longer = bytes;
        longer.push(0xc0);
        inputs.push(longer);
    }
    inputs.extend(generate(
        proptest::collection::vec(any::<u8>(), 0..40),
        cases(800),
    ));
    // A non-string key: notepack.io reads it, Rust does not (documented).
    inputs.push(vec![0x81, 0x01, 0x02]);
    let total = inputs.len();
    let (rejected, stricter) = check_decodes_like_notepack(&mut node, &inputs);
    assert!(stricter >= 1, "the non-string-key input");
    // Deep nesting: notepack.io reads it, Rust stops at MAX_DEPTH.
    let deep = [vec![0x91; 200], vec![0xc0]].concat();
    assert_eq!(
        node.call("accepts", json!({"data": bin(&deep)})),
        Ok(json!(true))
    );
    assert!(msgpack::decode(&Bytes::from(deep)).is_err());
    eprintln!("{total} garbage inputs: {rejected} rejected by both, {stricter} by Rust only");
}

#[test]
fn json_like_javascript() {
    let mut node = peer();
    let values = generate(value(true), cases(1500));
    let requests: Vec<_> = values
        .iter()
        .map(|v| ("stringify", format!("{{\"value\":{}}}", js_text(v))))
        .collect();
    for (v, answer) in values.iter().zip(node.call_batch_raw(&requests)) {
        let text = answer.unwrap();
        assert_eq!(
            format::encode_json(v),
            text.as_str().unwrap().as_bytes(),
            "{v:?}"
        );
    }
    // And JSON.parse: the same value.
    let texts: Vec<Bytes> = values.iter().map(format::encode_json).collect();
    let requests: Vec<_> = texts
        .iter()
        .map(|t| ("parse", json!({"data": bin(t)})))
        .collect();
    for (text, answer) in texts.iter().zip(node.call_batch(&requests)) {
        let ours = format::decode_json(text).unwrap();
        assert_eq!(norm(to_js(&ours)), norm(answer.unwrap()));
    }
}
