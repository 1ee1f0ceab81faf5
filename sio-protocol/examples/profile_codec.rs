//! A fixed number of codec operations, for instruction counts under callgrind (repeatable on a
//! noisy machine, unlike wall time):
//!
//! ```text
//! cargo build --release -p sio-protocol --example profile_codec
//! valgrind --tool=callgrind target/release/examples/profile_codec typed small 20000
//! ```
//!
//! Modes: `header` (decode an EVENT, arguments left as text), `typed` (decode and read the
//! arguments into a struct), `dynamic` (decode and read them as `Value`s), `encode` (encode
//! from a struct). Cases: `small` (the 59-byte event of `benches/cases.json`), `json3k` (its
//! 2.9 KB event), `payload` (its polling payload of 100 small events) and `binary` (its event
//! with a 1 KiB attachment); the last two with modes `typed`, `dynamic` and `encode`.
use serde::{Deserialize, Serialize};
use sio_protocol::Str;
use sio_protocol::engine::{
    Frame, Packet as EioPacket, PayloadDecoder, PayloadEncoder, PayloadFormat,
};
use sio_protocol::socket::{Decoder, DecoderConfig, Encoder, PacketData, Parser};

/// The argument of the small event.
#[derive(Serialize, Deserialize)]
struct Message {
    user: String,
    text: String,
}

/// An item of the 2.9 KB event.
#[derive(Serialize, Deserialize)]
struct Item {
    id: u32,
    name: String,
    price: f64,
    tags: Vec<String>,
    active: bool,
    note: String,
}

/// The argument of the 2.9 KB event.
#[derive(Serialize, Deserialize)]
struct Update {
    room: String,
    items: Vec<Item>,
}

fn update() -> Update {
    Update {
        room: "lobby".into(),
        items: (0..26)
            .map(|i| Item {
                id: i,
                name: format!("item-{i:03}"),
                price: f64::from(i) * 1.25,
                tags: vec!["alpha".into(), "beta".into()],
                active: i % 2 == 0,
                note: "lorem ipsum dolor sit".into(),
            })
            .collect(),
    }
}

fn run<T: Serialize + for<'de> Deserialize<'de>>(mode: &str, name: &str, value: &T, n: usize) {
    let enc = Encoder::new(Parser::Json);
    let encoded = enc.encode_event("/", name, value, None).expect("valid");
    let text = Str::from(encoded.text().expect("text").to_owned());
    let mut dec = Decoder::new(DecoderConfig::default());
    let mut sink = 0usize;
    let t = std::time::Instant::now();
    for _ in 0..n {
        match mode {
            "header" => {
                let p = dec
                    .decode_text(text.clone())
                    .expect("valid")
                    .expect("valid");
                sink += p.nsp.len();
            }
            "typed" => {
                let p = dec
                    .decode_text(text.clone())
                    .expect("valid")
                    .expect("valid");
                let PacketData::Event { args, .. } = &p.data else {
                    panic!()
                };
                let v: T = args.deserialize().expect("valid");
                sink += std::mem::size_of_val(&v);
            }
            "dynamic" => {
                let p = dec
                    .decode_text(text.clone())
                    .expect("valid")
                    .expect("valid");
                let PacketData::Event { args, .. } = &p.data else {
                    panic!()
                };
                sink += args.to_values().expect("valid").len();
            }
            "encode" => {
                let e = enc.encode_event("/", name, value, None).expect("valid");
                sink += e.len();
            }
            _ => panic!("mode: header, typed, dynamic or encode"),
        }
    }
    eprintln!(
        "{mode}: {:.1} ns/op (sink {sink})",
        t.elapsed().as_nanos() as f64 / n as f64
    );
}

/// The `payload_100` case of the benchmark: an Engine.IO v4 polling payload of 100 small
/// events, split and decoded (`typed`, `dynamic`), or encoded (`encode`).
fn payload(mode: &str, n: usize) {
    let enc = Encoder::new(Parser::Json);
    let msg = Message {
        user: "alice".into(),
        text: "hi there, all good?".into(),
    };
    let encode = || {
        let mut payload = PayloadEncoder::new(PayloadFormat::V4);
        for _ in 0..100 {
            let head = enc
                .encode_event("/", "message", &msg, None)
                .expect("valid")
                .head;
            let Frame::Text(text) = head else {
                panic!("text")
            };
            payload.push(&EioPacket::Message(text));
        }
        payload.finish()
    };
    let body = encode();
    let mut dec = Decoder::new(DecoderConfig::default());
    let mut sink = 0usize;
    let t = std::time::Instant::now();
    for _ in 0..n {
        if mode == "encode" {
            sink += encode().len();
            continue;
        }
        let packets =
            PayloadDecoder::decode_all(body.clone(), PayloadFormat::V4, 1_000_000).expect("valid");
        for p in packets {
            let EioPacket::Message(text) = p else {
                panic!("message")
            };
            let p = dec.decode_text(text).expect("valid").expect("whole");
            let PacketData::Event { args, .. } = &p.data else {
                panic!()
            };
            match mode {
                "typed" => sink += args.deserialize::<Message>().expect("valid").text.len(),
                "dynamic" => sink += args.to_values().expect("valid").len(),
                _ => panic!("mode: typed, dynamic or encode"),
            }
        }
    }
    eprintln!(
        "{mode}: {:.1} ns/op (sink {sink})",
        t.elapsed().as_nanos() as f64 / n as f64
    );
}

/// The argument of the binary event.
#[derive(Serialize, Deserialize)]
struct File {
    name: String,
    data: bytes::Bytes,
}

/// The `binary_1k` case of the benchmark: an event with a 1 KiB attachment, decoded (`typed`,
/// `dynamic`) or encoded (`encode`).
fn binary(mode: &str, n: usize) {
    let enc = Encoder::new(Parser::Json);
    let file = File {
        name: "a.bin".into(),
        data: (0..1024u32).map(|i| i as u8).collect::<Vec<u8>>().into(),
    };
    let frames: Vec<Frame> = enc
        .encode_event("/", "file", &file, None)
        .expect("valid")
        .into_frames()
        .collect();
    let mut dec = Decoder::new(DecoderConfig::default());
    let mut sink = 0usize;
    let t = std::time::Instant::now();
    for _ in 0..n {
        if mode == "encode" {
            sink += enc
                .encode_event("/", "file", &file, None)
                .expect("valid")
                .len();
            continue;
        }
        let mut packet = None;
        for f in &frames {
            packet = dec.decode(f.clone()).expect("valid");
        }
        let PacketData::Event { args, .. } = &packet.expect("whole").data else {
            panic!()
        };
        match mode {
            "typed" => sink += args.deserialize::<File>().expect("valid").data.len(),
            "dynamic" => sink += args.to_values().expect("valid").len(),
            _ => panic!("mode: typed, dynamic or encode"),
        }
    }
    eprintln!(
        "{mode}: {:.1} ns/op (sink {sink})",
        t.elapsed().as_nanos() as f64 / n as f64
    );
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let case = std::env::args().nth(2).unwrap_or_default();
    let n: usize = std::env::args()
        .nth(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    match case.as_str() {
        "small" => {
            let m = Message {
                user: "alice".into(),
                text: "hi there, all good?".into(),
            };
            run(&mode, "message", &m, n);
        }
        "json3k" => run(&mode, "update", &update(), n),
        "payload" => payload(&mode, n),
        "binary" => binary(&mode, n),
        _ => panic!("case: small, json3k, payload or binary"),
    }
}
