//! The msgpack parser (socket.io-msgpack-parser): arbitrary binary frames never panic; every
//! packet it yields reads back as dynamic values, re-encodes, and decodes to the same packet.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sio_protocol::engine::Frame;
use sio_protocol::socket::{Decoder, DecoderConfig, Encoder, PacketData, Parser, ProtocolVersion};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let mut config = DecoderConfig::default().with_parser(Parser::MsgPack);
    if selector & 1 == 1 {
        config = config.with_protocol(ProtocolVersion::V4);
    }
    let mut decoder = Decoder::new(config.clone());
    let Ok(Some(packet)) = decoder.decode(Frame::Binary(Bytes::copy_from_slice(rest))) else {
        return;
    };
    if let PacketData::Event { args, .. } | PacketData::Ack { args, .. } = &packet.data {
        let _ = args.to_values().expect("decoded args read back");
    }
    let encoded = Encoder::new(Parser::MsgPack).encode(&packet).expect("decoded packet encodes");
    let mut again = None;
    for frame in encoded.into_frames() {
        assert!(again.is_none(), "packet complete before its last frame");
        again = Decoder::new(config.clone()).decode(frame).expect("own encoding decodes");
    }
    assert_eq!(again.as_ref(), Some(&packet));
});
