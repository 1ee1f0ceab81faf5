//! The handshake packet.

use crate::Str;

/// The content of the `open` packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenPacket {
    /// The session id.
    pub sid: Str,
}
