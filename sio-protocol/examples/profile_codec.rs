//! A fixed number of codec operations, for instruction counts under callgrind (repeatable on a
//! noisy machine, unlike wall time):
//!
//! ```text
//! cargo build --release -p sio-protocol --example profile_codec
//! valgrind --tool=callgrind target/release/examples/profile_codec typed 20000
//! ```
//!
//! Modes: `header` (decode a 59-byte EVENT, arguments left as text), `typed` (decode and read
//! the arguments into a struct), `dynamic` (decode and read them as `Value`s), `encode`.
use serde::{Deserialize, Serialize};
use sio_protocol::Str;
use sio_protocol::socket::{Decoder, DecoderConfig, Encoder, PacketData, Parser};
/// The argument of the event.
#[derive(Serialize, Deserialize)]
struct Message {
    user: String,
    text: String,
}
fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let text = Str::from(r#"2["message",{"user":"alice","text":"hi there, all good?"}]"#);
    let mut dec = Decoder::new(DecoderConfig::default());
    let enc = Encoder::new(Parser::Json);
    let m = Message {
        user: "alice".into(),
        text: "hi there, all good?".into(),
    };
    let mut sink = 0usize;
    let t = std::time::Instant::now();
    for _ in 0..n {
        match mode.as_str() {
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
                let m: Message = args.deserialize().expect("valid");
                sink += m.text.len();
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
                let e = enc.encode_event("/", "message", &m, None).expect("valid");
                sink += e.len();
            }
            _ => panic!("mode"),
        }
    }
    eprintln!(
        "{mode}: {:.1} ns/op (sink {sink})",
        t.elapsed().as_nanos() as f64 / n as f64
    );
}
