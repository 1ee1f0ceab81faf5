//! Session ids: 20 characters from a CSPRNG, like engine.io's `base64id`.

use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sio_protocol::Str;

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// A new session id: 11 random bytes and a 32-bit sequence number (so two ids never collide
/// within a process), 15 bytes in base64 with `-` and `_`: always 20 characters.
///
/// Fails only if the operating system's random source fails.
pub(crate) fn generate() -> Result<Str, getrandom::Error> {
    let mut bytes = [0u8; 15];
    getrandom::fill(&mut bytes[..11])?;
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    bytes[11..].copy_from_slice(&seq.to_be_bytes());
    Ok(Str::from(URL_SAFE_NO_PAD.encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_url_safe_chars_and_unique() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
