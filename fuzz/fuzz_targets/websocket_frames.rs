//! WebSocket frames from a client (`sio_protocol::websocket::FrameDecoder`): arbitrary bytes,
//! whole and in chunks, under a size limit, with or without permessage-deflate allowed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sio_protocol::websocket::{FrameDecoder, FrameDecoderConfig, WsMessage};

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
    let config = FrameDecoderConfig::default()
        .max_message_size(usize::from(selector >> 1) * 37)
        .allow_compressed(selector & 1 == 1);
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
});
