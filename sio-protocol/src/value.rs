//! The dynamic value.

/// Placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Placeholder.
    Null,
}
/// Placeholder.
pub type Map = ();
/// Placeholder.
pub type Number = ();
