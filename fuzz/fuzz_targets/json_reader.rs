//! sio-protocol's own JSON reader (`socket/json/de.rs`, behind `scan.rs`'s validation) against
//! serde_json, on any UTF-8 text put as the arguments of an EVENT (`2["e",<text>]`):
//!
//! - the decoder plus `Args::to_values` accepts exactly what serde_json accepts as the array
//!   `["e",<text>]` (numbers beyond the range of an f64 aside: JavaScript reads them as
//!   Infinity, serde_json refuses them), with the same values;
//! - a typed read of all the arguments (`serde_json::Value`s, through the reader's
//!   `deserialize_any`) and of the first one into a struct full of typed fields (integers of
//!   every width, floats, strings, bytes, options, enums, maps with numeric keys, tuples)
//!   succeeds or fails as serde_json's, with the same value.
#![no_main]

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use libfuzzer_sys::fuzz_target;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use sio_protocol::Str;
use sio_protocol::Value;
use sio_protocol::socket::{Decoder, DecoderConfig, PacketData};

/// All the arguments, read as a tuple of any length (each through `deserialize_any`).
#[derive(Debug, PartialEq)]
struct All(Vec<serde_json::Value>);

impl<'de> Deserialize<'de> for All {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = All;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("arguments")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<All, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(All(out))
            }
        }
        d.deserialize_tuple(usize::MAX, V)
    }
}

#[derive(Deserialize, Debug, PartialEq)]
enum Kind {
    A,
    B(i32),
    C { x: Option<u8> },
    D(u8, String),
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(untagged)]
enum Loose {
    U(u64),
    I(i64),
    F(f64),
    S(String),
    L(Vec<Loose>),
    M(BTreeMap<String, Loose>),
    B(bool),
    N(()),
}

#[derive(Deserialize, Debug, PartialEq)]
struct Typed {
    a: Option<u8>,
    b: Option<i16>,
    c: Option<u32>,
    d: Option<i64>,
    e: Option<u128>,
    f: Option<i128>,
    g: Option<f32>,
    h: Option<f64>,
    s: Option<String>,
    ch: Option<char>,
    #[serde(default, with = "serde_bytes")]
    bytes: Option<Vec<u8>>,
    k: Option<Kind>,
    l: Option<Loose>,
    list: Option<Vec<Option<bool>>>,
    t: Option<(u8, String)>,
    num_keys: Option<HashMap<i32, String>>,
    bool_keys: Option<BTreeMap<bool, ()>>,
    unit: Option<()>,
}

/// Same success, and the same value on success.
fn same<T: PartialEq + fmt::Debug, E1: fmt::Display, E2: fmt::Display>(
    what: &str,
    text: &str,
    ours: Result<T, E1>,
    theirs: Result<T, E2>,
) {
    match (ours, theirs) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{what}: {text:?}"),
        (Err(_), Err(_)) => {}
        (a, b) => panic!(
            "{what}: {text:?}: ours {:?}, serde_json {:?}",
            a.map_err(|e| e.to_string()),
            b.map_err(|e| e.to_string())
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let array = format!("[\"e\",{text}]");
    let theirs = serde_json::from_str::<Vec<Value>>(&array);
    if let Err(e) = &theirs {
        if e.to_string().starts_with("number out of range") {
            // Valid JSON that JavaScript reads as Infinity: `lenient.rs`, not the reader.
            return;
        }
    }
    let mut decoder = Decoder::new(DecoderConfig::default());
    let packet = decoder.decode_text(Str::from(format!("2{array}")));
    let args = match packet {
        Ok(Some(packet)) => match packet.data {
            PacketData::Event { args, .. } => args,
            other => panic!("{text:?}: not an event: {other:?}"),
        },
        Ok(None) => panic!("{text:?}: a text EVENT waits for attachments"),
        Err(e) => {
            assert!(theirs.is_err(), "{text:?}: decoder refuses ({e}), serde_json accepts");
            return;
        }
    };
    // Accepted by the scanner: JSON.parse would accept it. Nesting beyond 128 levels and lone
    // surrogates are refused by both readers when values are built.
    same(
        "values",
        text,
        args.to_values(),
        theirs.map(|mut v| v.split_off(1)),
    );
    same(
        "all, typed",
        text,
        args.deserialize::<All>(),
        serde_json::from_str::<All>(&array).map(|All(mut v)| All(v.split_off(1))),
    );
    if let Some(first) = args.raw_json(0) {
        same(
            "struct",
            first,
            args.deserialize::<Typed>(),
            serde_json::from_str::<Typed>(first),
        );
        same(
            "loose",
            first,
            args.deserialize::<Loose>(),
            serde_json::from_str::<Loose>(first),
        );
        same(
            "string",
            first,
            args.deserialize::<String>(),
            serde_json::from_str::<String>(first),
        );
        same(
            "bytes",
            first,
            args.deserialize::<serde_bytes::ByteBuf>(),
            serde_json::from_str::<serde_bytes::ByteBuf>(first),
        );
    }
});
