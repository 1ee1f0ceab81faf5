//! The arguments of events and acks.

/// Placeholder.
#[derive(Debug, Clone, PartialEq)]
pub struct Args;

impl Args {
    /// Placeholder.
    pub fn has_binary(&self) -> bool {
        false
    }
}

/// Placeholder.
#[derive(Debug)]
pub struct ArgsError;
