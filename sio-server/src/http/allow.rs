//! The `allowRequest` hook: an async decision on each handshake request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::request::Parts;

type BoxedHook =
    dyn Fn(&Parts) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync;

/// The `allowRequest` option: decides whether a handshake request (a request without `sid`,
/// polling or WebSocket) may open a session.
///
/// The hook sees the request head (method, URI, headers; the client's address as a
/// [`SocketAddr`](std::net::SocketAddr) extension when the server knows it) and returns a
/// future, so it can take what it needs from the head and then await anything. `Err(message)`
/// refuses: `403 {"code":4,"message":"<message>"}` (`"Forbidden"` when the message is empty);
/// on a WebSocket handshake, `400` with the message as `text/html`, as engine.io's
/// `abortUpgrade` does.
///
/// ```
/// use sio_server::{AllowRequest, EngineConfig};
///
/// let config = EngineConfig::default().allow_request(AllowRequest::new(|head| {
///     let token = head.headers.get("x-token").cloned();
///     async move {
///         match token {
///             Some(token) if token == "secret" => Ok(()),
///             _ => Err("bad token".to_owned()),
///         }
///     }
/// }));
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct AllowRequest(Arc<BoxedHook>);

impl AllowRequest {
    /// A hook from a function of the request head.
    pub fn new<F, Fut>(hook: F) -> AllowRequest
    where
        F: Fn(&Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        AllowRequest(Arc::new(move |parts: &Parts| {
            Box::pin(hook(parts)) as Pin<Box<dyn Future<Output = _> + Send>>
        }))
    }

    pub(crate) fn check(
        &self,
        parts: &Parts,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> {
        (self.0)(parts)
    }
}

impl fmt::Debug for AllowRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AllowRequest(..)")
    }
}
