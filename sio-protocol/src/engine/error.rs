//! Engine.IO error codes and decode errors.

/// The error codes of an Engine.IO server's HTTP error responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 0: `Transport unknown`.
    UnknownTransport = 0,
}

/// Why bytes could not be decoded as Engine.IO packets.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// Placeholder.
    Invalid,
}
