//! [`WsIo`]: the connection under a WebSocket.

use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The connection under a WebSocket. When the server's own listener accepted it (a
/// `TcpStream` in a [`WriteStall`](crate::http::stall::WriteStall)), the upgraded connection is unwrapped down to the socket: hyper's 8 KiB read
/// buffer, which the generic [`Upgraded`] keeps alive for its whole life, is dropped after the
/// handshake: idle connections hold almost nothing.
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
