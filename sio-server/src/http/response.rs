//! The responses the Engine.IO server writes itself.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use sio_protocol::engine::ErrorCode;

/// The body of every response the Engine.IO server writes.
pub type EngineBody = Full<Bytes>;

/// A response with `status`, an optional content type and `body`.
pub(crate) fn with_body(
    status: StatusCode,
    content_type: Option<&'static str>,
    body: impl Into<Bytes>,
) -> Response<EngineBody> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Some(content_type) = content_type {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    response
}

/// A bare response.
pub(crate) fn status(status: StatusCode) -> Response<EngineBody> {
    with_body(status, None, Bytes::new())
}

/// An Engine.IO error: `400 {"code":1,"message":"Session ID unknown"}` (403 for code 4).
pub(crate) fn json_error(code: ErrorCode, message: Option<&str>) -> Response<EngineBody> {
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    with_body(status, Some("application/json"), code.json_body(message))
}

/// An Engine.IO error on a WebSocket upgrade request (engine.io's `abortUpgrade`): always
/// 400, `Connection: close`, the message (or the code's) as `text/html`.
pub(crate) fn upgrade_error(code: ErrorCode, message: Option<&str>) -> Response<EngineBody> {
    let message = message.unwrap_or(code.message()).to_owned();
    let mut response = with_body(StatusCode::BAD_REQUEST, Some("text/html"), message);
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
