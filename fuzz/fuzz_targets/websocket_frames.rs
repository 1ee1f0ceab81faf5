//! WebSocket frames (`sio_protocol::websocket::FrameDecoder`), a client's (masked, the server's
//! role) or a server's (unmasked, the client's role): arbitrary bytes, whole and in chunks,
//! under a size limit, with or without permessage-deflate allowed. What the client's role
//! reads, encoded again as a client's masked frame, reads the same in the server's role.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sio_protocol::websocket::{
    FrameDecoder, FrameDecoderConfig, Opcode, Role, WsMessage, masked_frame,
};

fn size(message: &WsMessage) -> usize {
    match message {
        WsMessage::Text(text) => text.len(),
        WsMessage::Binary(data) | WsMessage::Ping(data) | WsMessage::Pong(data) => data.len(),
        WsMessage::Compressed { data, .. } => data.len(),
        WsMessage::Close(_) => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let role = if selector & 0x80 != 0 {
        Role::Client
    } else {
        Role::Server
    };
    let config = FrameDecoderConfig::default()
        .max_message_size(usize::from((selector >> 1) & 0x3f) * 37)
        .allow_compressed(selector & 1 == 1)
        .role(role);
    let chunk = usize::from(selector % 13) + 1;

    let mut whole = FrameDecoder::new(config);
    let mut expected = Vec::new();
    let whole_result = whole.decode(rest, &mut expected);

    let mut chunked = FrameDecoder::new(config);
    let mut got = Vec::new();
    let mut chunked_result = Ok(());
    for piece in rest.chunks(chunk) {
        chunked_result = chunked.decode(piece, &mut got);
        if chunked_result.is_err() {
            break;
        }
    }
    assert_eq!(
        whole_result.as_ref().map_err(|e| e.frame_reason()),
        chunked_result.as_ref().map_err(|e| e.frame_reason())
    );
    assert_eq!(expected, got);
    for message in &expected {
        let limit = match message {
            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Close(_) => 125,
            _ => config.max_message_size,
        };
        assert!(size(message) <= limit);
    }
    if whole_result.is_ok() {
        assert!(whole.buffered() <= rest.len());
    }
    if role == Role::Client {
        let mask = [selector, 0x5a, !selector, 0xa5];
        let mut server = FrameDecoder::new(FrameDecoderConfig::default());
        for message in &expected {
            let (opcode, payload): (Opcode, &[u8]) = match message {
                WsMessage::Text(text) => (Opcode::Text, &text.as_bytes()[..]),
                WsMessage::Binary(data) => (Opcode::Binary, &data[..]),
                WsMessage::Ping(data) => (Opcode::Ping, &data[..]),
                WsMessage::Pong(data) => (Opcode::Pong, &data[..]),
                WsMessage::Compressed { .. } | WsMessage::Close(_) => continue,
            };
            let mut again = Vec::new();
            server
                .decode(&masked_frame(opcode, payload, mask), &mut again)
                .expect("a client's frame reads in the server's role");
            assert_eq!(again.as_slice(), std::slice::from_ref(message));
        }
    }
});
