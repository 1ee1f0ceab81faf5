//! Decoding.

/// Placeholder.
#[derive(Debug)]
pub struct Decoder;
/// Placeholder.
#[derive(Debug)]
pub struct DecoderConfig;
/// Placeholder.
#[derive(Debug)]
pub struct DecodeError;
