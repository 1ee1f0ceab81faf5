//! [`FormatError`].

use std::fmt;

/// An error reading or writing a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// Malformed msgpack: what is wrong with it.
    Msgpack(&'static str),
    /// Malformed JSON (serde_json's message).
    Json(String),
    /// Well-formed, but not the message expected: what is missing or of the wrong type.
    Shape(&'static str),
    /// A string, binary, array or object too long to write (over 4 GiB).
    TooLarge,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Msgpack(what) => write!(f, "invalid msgpack: {what}"),
            FormatError::Json(e) => write!(f, "invalid json: {e}"),
            FormatError::Shape(what) => write!(f, "unexpected message: {what}"),
            FormatError::TooLarge => f.write_str("message too large"),
        }
    }
}

impl std::error::Error for FormatError {}
