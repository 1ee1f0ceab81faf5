//! Encoding.

/// Placeholder.
#[derive(Debug)]
pub struct Encoder;
/// Placeholder.
#[derive(Debug)]
pub enum Parser {}
