//! Encode and decode throughput of the codecs, on the cases of `cases.json`, which
//! `tests/js/bench-codec.js` runs through the JavaScript parsers. `scripts/bench-codec.sh` runs
//! both and prints the ratios.
//!
//! "decode" is a full decode: the packet header and the arguments, into the typed structs below
//! (`decode_typed`) and into dynamic [`Value`]s (`decode_dynamic`), which is what `JSON.parse`
//! gives JavaScript.
#![allow(missing_docs)] // criterion's macros generate undocumented items

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::{Deserialize, Serialize};
use sio_protocol::Str;
use sio_protocol::Value;
use sio_protocol::engine::{
    Frame, Packet as EioPacket, PayloadDecoder, PayloadEncoder, PayloadFormat,
};
use sio_protocol::socket::{Decoder, DecoderConfig, Encoder, Packet, PacketData, Parser};

#[derive(Serialize, Deserialize)]
struct Message {
    user: String,
    text: String,
}

#[derive(Serialize, Deserialize)]
struct Item {
    id: u32,
    name: String,
    price: f64,
    tags: Vec<String>,
    active: bool,
    note: String,
}

#[derive(Serialize, Deserialize)]
struct Update {
    room: String,
    items: Vec<Item>,
}

#[derive(Serialize, Deserialize)]
struct File {
    name: String,
    data: Bytes,
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

fn message() -> Message {
    Message {
        user: "alice".into(),
        text: "hi there, all good?".into(),
    }
}

fn file() -> File {
    File {
        name: "a.bin".into(),
        data: (0..1024u32).map(|i| i as u8).collect::<Vec<u8>>().into(),
    }
}

/// Decodes the frames of one packet (text head, then attachments) and returns it.
fn decode(decoder: &mut Decoder, frames: &[Frame]) -> Packet {
    let mut out = None;
    for f in frames {
        out = decoder.decode(f.clone()).expect("valid packet");
    }
    out.expect("complete packet")
}

fn args_of(p: &Packet) -> &sio_protocol::socket::Args {
    match &p.data {
        PacketData::Event { args, .. } => args,
        _ => panic!("not an event"),
    }
}

fn bench_case<T: Serialize + for<'de> Deserialize<'de>>(
    c: &mut Criterion,
    name: &str,
    event: &str,
    value: &T,
    id: Option<u64>,
) {
    let encoder = Encoder::new(Parser::Json);
    let frames: Vec<Frame> = encoder
        .encode_event("/", event, value, id)
        .expect("encodable")
        .into_frames()
        .collect();
    let bytes: usize = frames
        .iter()
        .map(|f| match f {
            Frame::Text(s) => s.len(),
            Frame::Binary(b) => b.len(),
        })
        .sum();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("encode", |b| {
        b.iter(|| {
            encoder
                .encode_event("/", event, black_box(value), id)
                .expect("encodable")
        })
    });
    let mut decoder = Decoder::new(DecoderConfig::default());
    g.bench_function("decode_typed", |b| {
        b.iter(|| {
            let p = decode(&mut decoder, black_box(&frames));
            let v: T = args_of(&p).deserialize().expect("typed");
            v
        })
    });
    g.bench_function("decode_dynamic", |b| {
        b.iter(|| {
            let p = decode(&mut decoder, black_box(&frames));
            let v: Vec<Value> = args_of(&p).to_values().expect("values");
            v
        })
    });
    g.finish();
}

fn bench_payload(c: &mut Criterion) {
    let encoder = Encoder::new(Parser::Json);
    let msg = message();
    let encode = || {
        let mut payload = PayloadEncoder::new(PayloadFormat::V4);
        for _ in 0..100 {
            let head = encoder
                .encode_event("/", "message", &msg, None)
                .expect("encodable")
                .head;
            let Frame::Text(text) = head else {
                panic!("text")
            };
            payload.push(&EioPacket::Message(text));
        }
        payload.finish()
    };
    let body: Bytes = encode();
    let mut g = c.benchmark_group("payload_100");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("encode", |b| b.iter(encode));
    let mut decoder = Decoder::new(DecoderConfig::default());
    g.bench_function("decode_typed", |b| {
        b.iter(|| {
            let packets =
                PayloadDecoder::decode_all(black_box(body.clone()), PayloadFormat::V4, 1_000_000)
                    .expect("payload");
            let mut n = 0;
            for p in packets {
                let EioPacket::Message(text) = p else {
                    panic!("message")
                };
                let p = decoder.decode_text(text).expect("valid").expect("whole");
                let m: Message = args_of(&p).deserialize().expect("typed");
                n += m.text.len();
            }
            n
        })
    });
    g.bench_function("decode_dynamic", |b| {
        b.iter(|| {
            let packets =
                PayloadDecoder::decode_all(black_box(body.clone()), PayloadFormat::V4, 1_000_000)
                    .expect("payload");
            let mut n = 0;
            for p in packets {
                let EioPacket::Message(text) = p else {
                    panic!("message")
                };
                let p = decoder.decode_text(text).expect("valid").expect("whole");
                n += args_of(&p).to_values().expect("values").len();
            }
            n
        })
    });
    g.finish();
    let _ = Str::new();
}

fn codec(c: &mut Criterion) {
    bench_case(c, "small_event", "message", &message(), None);
    bench_case(c, "event_with_ack", "message", &message(), Some(12));
    bench_case(c, "json_3k", "update", &update(), None);
    bench_case(c, "binary_1k", "file", &file(), None);
    bench_payload(c);
}

criterion_group!(benches, codec);
criterion_main!(benches);
