//! HTTP long-polling payloads.

/// The framing of a polling payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// v4.
    V4,
}

/// Placeholder.
#[derive(Debug)]
pub struct PayloadEncoder;

/// Placeholder.
#[derive(Debug)]
pub struct PayloadDecoder;
