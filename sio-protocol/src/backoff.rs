//! Backoff.

/// Placeholder.
#[derive(Debug)]
pub struct Backoff;
