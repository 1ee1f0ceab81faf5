//! [`BoxFuture`].

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future (what the [`Adapter`](super::Adapter) methods and stored handlers
/// return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
