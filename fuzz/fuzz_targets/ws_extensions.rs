//! `Sec-WebSocket-Extensions` negotiation (sio-server's `transport/deflate.rs`, included by
//! path): arbitrary header lines. Besides "no panic": an accepted answer, offered again, is
//! accepted with the same answer (our answers are valid offers and a fixed point).
#![no_main]

#[allow(dead_code)]
#[path = "../../sio-server/src/engine/transport/deflate.rs"]
mod deflate;

use deflate::{DeflateConfig, negotiate};
use http::header::{HeaderMap, HeaderValue, SEC_WEBSOCKET_EXTENSIONS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let config = DeflateConfig {
        client_no_context_takeover: selector & 1 == 1,
        ..DeflateConfig::default()
    };
    let mut headers = HeaderMap::new();
    for line in rest.split(|&b| b == b'\n') {
        let Ok(value) = HeaderValue::from_bytes(line) else { return };
        headers.append(SEC_WEBSOCKET_EXTENSIONS, value);
    }
    if let Ok(Some((negotiated, answer))) = negotiate(&headers, &config) {
        let mut again = HeaderMap::new();
        again.insert(SEC_WEBSOCKET_EXTENSIONS, answer.clone());
        let (renegotiated, answer_again) = negotiate(&again, &config)
            .expect("our answer is a valid offer")
            .expect("and an acceptable one");
        assert_eq!(answer, answer_again);
        assert_eq!(negotiated, renegotiated);
    }
});
