//! Ack ids.

/// Placeholder.
pub type AckId = u64;
/// Placeholder.
#[derive(Debug)]
pub struct AckTracker;
