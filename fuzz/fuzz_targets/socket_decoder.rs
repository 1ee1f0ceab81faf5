//! The Socket.IO JSON decoder (protocols 5 and 4): an arbitrary sequence of text and binary
//! frames never panics; every packet it yields reads back as dynamic values, re-encodes, and
//! decodes again to the same packet (numbers beyond the range of an f64 as null, as JavaScript
//! re-encodes them).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sio_protocol::Str;
use sio_protocol::engine::Frame;
use sio_protocol::socket::{
    Decoder, DecoderConfig, Encoder, Packet, PacketData, Parser, ProtocolVersion,
};

fn check(packet: &Packet, config: &DecoderConfig) {
    if let PacketData::Event { args, .. } | PacketData::Ack { args, .. } = &packet.data {
        let _ = args.to_values().expect("decoded args read back");
    }
    let encoded = Encoder::new(Parser::Json).encode(packet).expect("decoded packet encodes");
    let mut decoder = Decoder::new(config.clone());
    if let PacketData::Event { name, .. } = &packet.data
        && name.is_infinite()
    {
        // A name beyond the range of an f64 (`1e309`, Infinity in JavaScript) is written as
        // `null`, as JSON.stringify writes it, which no decoder accepts as a name (JavaScript's
        // neither).
        let head = encoded.into_frames().next().expect("a head");
        assert!(decoder.decode(head).is_err(), "a null event name decodes");
        return;
    }
    let mut again = None;
    for frame in encoded.into_frames() {
        assert!(again.is_none(), "packet complete before its last frame");
        again = decoder.decode(frame).expect("own encoding decodes");
    }
    assert_eq!(again.as_ref(), Some(packet));
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let mut config = DecoderConfig::default()
        .with_max_attachments(usize::from(selector >> 4) + 1);
    if selector & 1 == 1 {
        config = config.with_protocol(ProtocolVersion::V4);
    }
    let mut decoder = Decoder::new(config.clone());
    // Frames are separated by 0xFF; a frame starting with 0xFE is binary, else text.
    for piece in rest.split(|&b| b == 0xFF) {
        let frame = match piece.split_first() {
            Some((0xFE, bin)) => Frame::Binary(Bytes::copy_from_slice(bin)),
            _ => match Str::from_utf8(Bytes::copy_from_slice(piece)) {
                Ok(text) => Frame::Text(text),
                Err(_) => continue,
            },
        };
        if let Ok(Some(packet)) = decoder.decode(frame) {
            check(&packet, &config);
        }
    }
});
