//! Engine.IO packets: text form and WebSocket frames, v3 and v4. Whatever decodes must encode
//! and decode back to the same packet.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sio_protocol::Str;
use sio_protocol::engine::{Frame, OpenPacket, Packet, ProtocolVersion};

fn check(packet: Packet, version: ProtocolVersion) {
    let again = Packet::from_frame(packet.to_frame(version), version).expect("own frame decodes");
    assert_eq!(again, packet);
    let again = Packet::decode_text(packet.to_text(version), version).expect("own text decodes");
    assert_eq!(again, packet);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let version = if selector & 1 == 0 { ProtocolVersion::V4 } else { ProtocolVersion::V3 };
    let bytes = Bytes::copy_from_slice(rest);
    if let Ok(packet) = Packet::from_frame(Frame::Binary(bytes.clone()), version) {
        check(packet, version);
    }
    if let Ok(text) = Str::from_utf8(bytes) {
        if let Ok(packet) = Packet::decode_text(text.clone(), version) {
            check(packet, version);
        }
        if let Ok(open) = OpenPacket::from_json(&text) {
            assert_eq!(OpenPacket::from_json(&open.to_json()).expect("own json"), open);
        }
    }
});
