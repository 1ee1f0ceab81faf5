//! WebSocket: the handshake checks, and the socket itself ([`WsSocket`]), which the session's
//! task polls directly (no reader or writer task, no channel).

mod socket;

pub(crate) use socket::{WsSettings, WsSocket};

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use sio_protocol::engine::ProtocolVersion;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tungstenite::handshake::derive_accept_key;

use crate::stall::WriteStall;

/// The connection under a WebSocket. When the server's own listener accepted it (a
/// `TcpStream` in a [`WriteStall`]), the upgraded connection is unwrapped down to the socket: hyper's 8 KiB read
/// buffer, which the generic [`Upgraded`] keeps alive for its whole life, is dropped after the
/// handshake (DESIGN example 12: idle connections hold almost nothing).
#[derive(Debug)]
pub(crate) enum WsIo {
    /// A TCP socket, with hyper's buffers gone.
    Tcp(TcpStream),
    /// Any other connection, as hyper hands it over.
    Upgraded(TokioIo<Upgraded>),
}

impl AsyncRead for WsIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            WsIo::Tcp(io) => Pin::new(io).poll_read(cx, buf),
            WsIo::Upgraded(io) => Pin::new(io).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WsIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            WsIo::Tcp(io) => Pin::new(io).poll_write(cx, buf),
            WsIo::Upgraded(io) => Pin::new(io).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            WsIo::Tcp(io) => Pin::new(io).poll_flush(cx),
            WsIo::Upgraded(io) => Pin::new(io).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            WsIo::Tcp(io) => Pin::new(io).poll_shutdown(cx),
            WsIo::Upgraded(io) => Pin::new(io).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            WsIo::Tcp(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            WsIo::Upgraded(io) => Pin::new(io).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            WsIo::Tcp(io) => io.is_write_vectored(),
            WsIo::Upgraded(io) => io.is_write_vectored(),
        }
    }
}

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
