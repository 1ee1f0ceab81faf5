//! WebSocket: the handshake checks, and the socket itself ([`WsSocket`]), which the session's
//! task polls directly (no reader or writer task, no channel).

mod socket;
mod stream;

pub(crate) use socket::{WsSettings, WsSocket};
use stream::WsIo;

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use sio_protocol::engine::ProtocolVersion;
use tungstenite::handshake::derive_accept_key;

use crate::http::stall::WriteStall;

/// Whether the request asks for a WebSocket (an `Upgrade: websocket` header).
pub(crate) fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.get_all(header::UPGRADE).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.eq_ignore_ascii_case("websocket"))
    })
}

/// The `Sec-WebSocket-Accept` value, if the request is a valid WebSocket handshake.
pub(crate) fn accept_key(method: &http::Method, headers: &HeaderMap) -> Option<HeaderValue> {
    let connection_upgrade = headers.get_all(header::CONNECTION).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        })
    });
    let version_13 = headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v == "13");
    let key = headers.get(header::SEC_WEBSOCKET_KEY)?;
    if method != http::Method::GET || !connection_upgrade || !version_13 {
        return None;
    }
    HeaderValue::from_str(&derive_accept_key(key.as_bytes())).ok()
}

/// The `101 Switching Protocols` response, with the negotiated extensions if any.
pub(crate) fn switching_protocols<B: Default>(
    accept: HeaderValue,
    extensions: Option<HeaderValue>,
) -> Response<B> {
    let mut response = Response::new(B::default());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    if let Some(extensions) = extensions {
        headers.insert(header::SEC_WEBSOCKET_EXTENSIONS, extensions);
    }
    response
}

/// Waits for the upgrade and wraps the connection.
pub(crate) async fn upgraded(
    on_upgrade: OnUpgrade,
    version: ProtocolVersion,
    settings: WsSettings,
) -> Option<WsSocket> {
    let upgraded = match on_upgrade.await {
        Ok(upgraded) => upgraded,
        Err(error) => {
            tracing::debug!(%error, "websocket upgrade failed");
            return None;
        }
    };
    Some(match upgraded.downcast::<TokioIo<WriteStall>>() {
        // Bytes the client sent right after its handshake are decoded at once, so that
        // hyper's read buffer they sit in is freed.
        Ok(parts) => {
            let tcp = parts.io.into_inner().into_inner();
            // Small frames go out at once, whoever accepted the connection (`ws` sets it too).
            let _ = tcp.set_nodelay(true);
            WsSocket::new(WsIo::Tcp(tcp), &parts.read_buf, version, settings)
        }
        Err(upgraded) => WsSocket::new(
            WsIo::Upgraded(TokioIo::new(upgraded)),
            &[],
            version,
            settings,
        ),
    })
}
