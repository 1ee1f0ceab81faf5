//! permessage-deflate messages from a client (`sio_protocol::websocket::deflate`): arbitrary
//! bytes as a sequence of compressed messages, with and without context takeover, under a size
//! limit.
//! Besides "no panic": the limit holds, an error ends the sequence as it would end the
//! connection, and whatever inflates goes through our deflater and back unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sio_protocol::websocket::deflate::{InflateReason, Negotiated, PerMessageDeflate};

const LIMITS: [usize; 8] = [0, 1, 5, 100, 1000, 65_536, 1 << 20, 16 << 20];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let client_no_context_takeover = selector & 1 == 1;
    let max = LIMITS[usize::from(selector >> 1) % LIMITS.len()];
    let mut pmd = PerMessageDeflate::new(
        Negotiated {
            client_no_context_takeover,
        },
        0,
    );
    // Messages: a length byte, then that many bytes (the last one takes what is left).
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (message, next) = tail.split_at(len);
        rest = next;
        match pmd.inflate(message, max) {
            Ok(plain) => {
                assert!(plain.len() <= max);
                if let Some(compressed) = pmd.deflate(&plain) {
                    assert!(compressed.len() < plain.len());
                    let mut fresh = PerMessageDeflate::new(
                        Negotiated {
                            client_no_context_takeover: true,
                        },
                        0,
                    );
                    assert_eq!(fresh.inflate(&compressed, plain.len()).ok(), Some(plain));
                }
            }
            Err(e) => {
                assert!(matches!(
                    e.inflate_reason(),
                    Some(InflateReason::TooBig | InflateReason::Corrupt)
                ));
                break;
            }
        }
    }
});
