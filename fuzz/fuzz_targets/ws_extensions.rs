//! `Sec-WebSocket-Extensions` negotiation (`sio_protocol::websocket::deflate::negotiate`):
//! arbitrary header lines. Besides "no panic": an accepted answer, offered again, is
//! accepted with the same answer (our answers are valid offers and a fixed point).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sio_protocol::websocket::deflate::{DeflateConfig, negotiate};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let config = DeflateConfig {
        client_no_context_takeover: selector & 1 == 1,
        ..DeflateConfig::default()
    };
    let lines = rest.split(|&b| b == b'\n');
    if let Ok(Some((negotiated, answer))) = negotiate(lines, &config) {
        let (renegotiated, answer_again) = negotiate([answer.as_bytes()], &config)
            .expect("our answer is a valid offer")
            .expect("and an acceptable one");
        assert_eq!(answer, answer_again);
        assert_eq!(negotiated, renegotiated);
    }
});
