//! permessage-deflate for the server's WebSocket: the sans-IO logic is
//! [`sio_protocol::websocket::deflate`]; this reads the request's header for it.

use http::header::{HeaderMap, HeaderValue, SEC_WEBSOCKET_EXTENSIONS};
pub(crate) use sio_protocol::websocket::deflate::{DeflateConfig, Negotiated, PerMessageDeflate};

/// [`sio_protocol::websocket::deflate::negotiate`] on the request's
/// `Sec-WebSocket-Extensions` lines: `Ok(None)` without the header or an offer to accept,
/// `Ok(Some((negotiated, answer)))` with the header value to answer, `Err` for a header `ws`
/// refuses with `400`.
pub(crate) fn negotiate(
    request: &HeaderMap,
    config: &DeflateConfig,
) -> Result<Option<(Negotiated, HeaderValue)>, sio_protocol::Error> {
    let lines = request
        .get_all(SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .map(HeaderValue::as_bytes);
    let Some((negotiated, answer)) = sio_protocol::websocket::deflate::negotiate(lines, config)?
    else {
        return Ok(None);
    };
    // The answer holds visible ASCII only, always a valid header value; were it not, the
    // connection would go on without compression.
    Ok(HeaderValue::try_from(answer)
        .ok()
        .map(|value| (negotiated, value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_header_lines_are_joined() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            negotiate(&headers, &DeflateConfig::default()).ok(),
            Some(None)
        );
        headers.append(SEC_WEBSOCKET_EXTENSIONS, HeaderValue::from_static("foo"));
        headers.append(
            SEC_WEBSOCKET_EXTENSIONS,
            HeaderValue::from_static("permessage-deflate; client_no_context_takeover"),
        );
        let (n, value) = negotiate(&headers, &DeflateConfig::default())
            .unwrap()
            .unwrap();
        assert!(n.client_no_context_takeover);
        assert_eq!(
            value,
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover"
        );
        let mut headers = HeaderMap::new();
        headers.append(
            SEC_WEBSOCKET_EXTENSIONS,
            HeaderValue::from_bytes(b"permessage-deflate; \xe9").unwrap(),
        );
        let error = negotiate(&headers, &DeflateConfig::default()).unwrap_err();
        assert!(error.is_websocket_extensions(), "{error:?}");
    }
}
