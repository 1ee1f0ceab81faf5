//! HTTP long-polling payloads in every format, fed in arbitrary chunks: the result never depends
//! on the chunking, the size limit holds, and what decodes re-encodes to something that decodes
//! to the same packets.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sio_protocol::engine::{PayloadDecoder, PayloadEncoder, PayloadFormat};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let format = match selector % 3 {
        0 => PayloadFormat::V4,
        1 => PayloadFormat::V3String,
        _ => PayloadFormat::V3Binary,
    };
    let chunk = usize::from(selector >> 2) + 1;
    let max = if selector & 2 == 0 { 1_000_000 } else { rest.len() / 2 + 1 };
    let body = Bytes::copy_from_slice(rest);

    let whole = PayloadDecoder::decode_all(body.clone(), format, max);

    let mut decoder = PayloadDecoder::new(format, max);
    let mut packets = Vec::new();
    let mut result = Ok(());
    for piece in body.chunks(chunk) {
        if let Err(e) = decoder.push(body.slice_ref(piece)) {
            result = Err(e);
            break;
        }
        loop {
            match decoder.next_packet() {
                Ok(Some(p)) => packets.push(p),
                Ok(None) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        decoder.end();
        loop {
            match decoder.next_packet() {
                Ok(Some(p)) => packets.push(p),
                Ok(None) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
    }
    match (&whole, &result) {
        (Ok(all), Ok(())) => {
            assert_eq!(all, &packets, "chunking changed the packets");
            assert!(body.len() <= max);
            let again = PayloadEncoder::encode(all.iter(), format);
            let decoded = PayloadDecoder::decode_all(again, format, usize::MAX)
                .expect("own payload decodes");
            assert_eq!(&decoded, all);
        }
        (Err(_), Err(_)) => {}
        _ => panic!("chunked and whole decoding disagree: {whole:?} vs {result:?}"),
    }
});
